"""PNG maps read from the figure objects: units, fixed limits for shares, worse = warmer, deltas centred on zero with
exact zeros grey, a constant map that says so, the largest area labelled, a scale bar, no backend switch."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from matplotlib.colors import to_hex, to_rgb
from shapely.geometry import box

from access._errors import ValidationError
from access.report import choropleth_figure, choropleth_png, describe
from access.report.style import NEUTRAL_GREY


def _areas(n: int = 6, **cols) -> gpd.GeoDataFrame:
    # n boxes of 0.2 x 0.2 degrees in northern France (about 15 x 22 km each)
    geoms = [box(2.0 + 0.2 * i, 50.0, 2.2 + 0.2 * i, 50.2) for i in range(n)]
    g = gpd.GeoDataFrame({"id": [f"e{i}" for i in range(n)], "name": [f"Area {i}" for i in range(n)],
                          "population": [1000.0 * (i + 1) for i in range(n)]}, geometry=geoms, crs=4326)
    for k, v in cols.items():
        g[k] = v
    return g


def _face_colors(fig) -> list[str]:
    ax = fig.axes[0]
    return [to_hex(c) for c in ax.collections[0].get_facecolors()]


def _warmth(hex_color: str) -> float:
    r, _, b = to_rgb(hex_color)
    return r - b


def test_share_map_is_in_percent_from_0_to_100_and_low_shares_are_warm():
    g = _areas(time_car_any_share_within_30min=[0.2, 0.4, 0.5, 0.6, 0.8, 0.9])
    fig = choropleth_figure(g, "time_car_any_share_within_30min")
    info = fig.access_info
    assert (info["vmin"], info["vmax"]) == (0.0, 100.0)  # fixed limits, not the data's 20-90
    assert info["legend"] == "% of inhabitants"
    cbar = fig.axes[1]
    assert cbar.get_ylabel() == "% of inhabitants"
    assert cbar.get_ylim() == pytest.approx((0.0, 100.0))
    assert info["title"] == "Car: share of inhabitants within 30 minutes of a venue (any category)"
    cols = _face_colors(fig)
    assert _warmth(cols[0]) > _warmth(cols[-1])  # the lowest share (worst) is the warmest


def test_time_map_in_minutes_and_long_times_are_warm():
    g = _areas(time_walk_library_mean=[5.0, 8.0, 12.0, 20.0, 35.0, 60.0])
    fig = choropleth_figure(g, "time_walk_library_mean")
    assert fig.access_info["legend"] == "minutes" and fig.axes[1].get_ylabel() == "minutes"
    assert (fig.access_info["vmin"], fig.access_info["vmax"]) == (5.0, 60.0)
    cols = _face_colors(fig)
    assert _warmth(cols[-1]) > _warmth(cols[0])  # the longest time (worst) is the warmest
    assert "min " not in fig.access_info["title"] + " " and "minutes" in fig.access_info["title"]


@pytest.mark.parametrize("column, unit", [("poverty_rate", "% of households"),
                                          ("median_income", "euros per consumption unit per year"),
                                          ("venues_per_10k", "venues per 10,000 inhabitants"),
                                          ("time_transit_any_median", "minutes")])
def test_units_table(column, unit):
    g = _areas(**{column: np.linspace(0.1, 0.3, 6) if "rate" in column else np.linspace(10, 30, 6)})
    fig = choropleth_figure(g, column)
    assert fig.axes[1].get_ylabel() == unit == describe(column).unit
    if column == "poverty_rate":
        assert fig.axes[1].get_ylim() == pytest.approx((0.0, 100.0))
        cols = _face_colors(fig)
        assert _warmth(cols[-1]) > _warmth(cols[0])  # more poverty = warmer


def test_delta_is_centred_on_zero_with_exact_zeros_grey():
    d = [-3.0, -1.0, 0.0, 0.0, 0.5, 1.5]
    g = _areas(time_car_any_mean_delta=d)
    fig = choropleth_figure(g, "time_car_any_mean_delta")
    info = fig.access_info
    assert info["vmin"] == -3.0 and info["vmax"] == 3.0 and info["zeros"] == 2
    cols = _face_colors(fig)
    assert cols[2] == cols[3] == NEUTRAL_GREY
    assert _warmth(cols[5]) > 0 > _warmth(cols[0])  # longer times after the scenario: red; shorter: blue
    assert "negative = better" in fig.axes[1].get_ylabel()


def test_constant_map_says_so_and_draws_no_colour_bar():
    g = _areas(venues_per_10k=[1.0] * 6)
    fig = choropleth_figure(g, "venues_per_10k")
    assert fig.access_info["constant"] is True
    assert "the same everywhere: 1.0" in fig.access_info["title"]
    assert len(fig.axes) == 1  # no 0.9-1.1 colour bar
    assert set(_face_colors(fig)) == {NEUTRAL_GREY}


def test_largest_area_labelled_scale_bar_priority_outline():
    g = _areas(time_car_any_mean=np.arange(6.0), priority_zone=[None, "Zone A", None, None, None, None])
    fig = choropleth_figure(g, "time_car_any_mean")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "Area 5" in texts  # the most populated
    km = [t for t in texts if t.endswith(" km")]
    assert len(km) == 1 and float(km[0].split()[0]) > 0
    assert any("priority contract zone" in t for t in texts)


def test_class_map_and_png(tmp_path):
    g = _areas(**{"class": ["cultural fragility", "no particular stake", "priority contract zone",
                            "social fragility", "cultural fragility", None]})
    fig = choropleth_figure(g, "class")
    legend = fig.axes[0].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert "cultural fragility (2)" in labels and "no data" in labels
    assert fig.access_info["title"] == "Typology of the territories (cultural stakes)"
    p = choropleth_png(g, "class", tmp_path / "class.png")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValidationError, match="not a column"):
        choropleth_png(g, "nope", tmp_path / "n.png")


def test_library_never_switches_the_matplotlib_backend(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    choropleth_png(_areas(population_x=np.arange(6.0)), "population", tmp_path / "p.png")
    assert matplotlib.get_backend() == before
    src = Path(__file__).resolve().parents[1] / "src" / "access"
    offenders = [str(p) for p in src.rglob("*.py") if "matplotlib.use(" in p.read_text(encoding="utf-8")]
    assert offenders == []
