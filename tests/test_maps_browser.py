"""Interactive maps in a real browser with the network blocked: the page loads, areas are drawn (the screenshot is
not blank), a legend with units is there, the layer switch works, and no request leaves 127.0.0.1."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from access.report import interactive_map
from access.report.interactive import map_figure

from .browser import open_map, require_browser
from .conftest import data_file


@pytest.fixture(scope="module")
def epci_table():
    e = gpd.read_file(data_file("hauts_de_france", "epci_2026.geojson"))
    rng = np.random.default_rng(3)
    g = e.rename(columns={"epci_code": "id", "epci_nom_2026": "name"})[["id", "name", "geometry"]]
    n = len(g)
    g["population"] = rng.integers(5_000, 600_000, n).astype(float)
    g["class"] = rng.choice(["cultural fragility", "no particular stake", "social fragility",
                             "cumulates cultural and social fragility"], n)
    g["priority_zone"] = None
    g.loc[g.index[:4], "priority_zone"] = "Zone test"
    g.loc[g.index[:4], "class"] = "priority contract zone"
    g["time_car_library_mean"] = rng.uniform(2, 25, n)
    g["time_car_cinema_mean"] = rng.uniform(5, 40, n)
    g["time_car_any_mean"] = rng.uniform(2, 15, n)
    g["time_car_any_share_within_15min"] = rng.uniform(0.4, 1.0, n)
    g["time_car_any_share_within_30min"] = rng.uniform(0.7, 1.0, n)
    g["venues_per_10k"] = rng.uniform(0.5, 6, n)
    g["poverty_rate"] = rng.uniform(0.06, 0.3, n)
    g["median_income"] = rng.uniform(17_000, 27_000, n)
    d = rng.normal(0, 1, n)
    d[::3] = 0.0
    g["time_car_any_mean_delta"] = d
    return g


def test_layers_units_and_tooltips(epci_table):
    fig = map_figure(epci_table, title="Test")
    layers = fig.layout.meta["layers"]
    assert layers[0] == "class"
    assert {"time_car_library_mean", "time_car_cinema_mean", "time_car_any_share_beyond_15min",
            "time_car_any_share_beyond_30min", "venues_per_10k", "poverty_rate", "median_income",
            "time_car_any_mean_delta"} <= set(layers)
    assert fig.layout.meta["units"]["median_income"] == "euros per consumption unit per year"
    buttons = fig.layout.updatemenus[0].buttons
    assert len(buttons) == len(layers)
    # every numeric layer's colour bar names its unit; shares run 0-100 %
    by_name = {t.name: t for t in fig.data if t.showscale is not False and t.colorbar.title.text}
    share = by_name["Car: share of inhabitants beyond 15 minutes of a venue (any category)"]
    assert (share.zmin, share.zmax) == (0, 100) and "% of inhabitants" in share.colorbar.title.text
    # beyond = 1 - within, in percent
    i = epci_table.index[0]
    assert share.z[0] == pytest.approx(100 * (1 - epci_table.loc[i, "time_car_any_share_within_15min"]))
    # the delta is centred on 0 and its exact zeros are drawn apart, in grey
    delta = [t for t in fig.data if t.name.startswith("Change in car")][0]
    assert delta.zmid == 0 and delta.zmin == -delta.zmax
    assert 0 not in list(delta.z)
    grey = [t for t in fig.data if t.name == "no change"]
    assert len(grey) == 1 and len(grey[0].z) == int((epci_table["time_car_any_mean_delta"] == 0).sum())
    # tooltips: the EPCI's name, rounded values with units
    tip = share.text[0]
    assert epci_table.loc[i, "name"] in tip and " %" in tip and "0." not in tip.split("beyond 15")[1][:12]
    # priority zones outlined in black on every layer
    outline = [t for t in fig.data if t.name == "priority contract zones"]
    assert len(outline) == 1 and outline[0].marker.line.color == "black" and len(outline[0].locations) == 4
    for b in buttons:
        assert b.args[0]["visible"][list(fig.data).index(outline[0])] is True


def test_map_works_offline_in_chromium(epci_table, tmp_path):
    require_browser()
    p = interactive_map(epci_table, tmp_path / "epci_map.html", title="Test")
    html = p.read_text(encoding="utf-8")
    assert "cdn.plot.ly/plotly" not in html and "<script src=" not in html  # everything inlined
    r = open_map(p, switch_to=3)
    assert r["left"] == [], f"requests left 127.0.0.1: {r['left']}"
    assert r["errors"] == [], r["errors"]
    assert r["n_areas"] >= len(epci_table)  # every EPCI drawn (+ the outlines of the priority zones)
    assert r["non_white"] > 0.08  # the screenshot is a map, not a blank page
    assert "class (areas)" in r["legend"] and any("priority contract zone (4)" in t for t in r["legend"])
    assert "minutes" in r["legend_after"]  # the fourth layer: a time, with its unit on the colour bar
    assert r["screenshot_after"] != r["screenshot"]
