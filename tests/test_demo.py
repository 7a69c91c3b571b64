"""``access demo``: the synthetic region generated in the real formats, run end to end through the real loaders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # one demo run (about 20-40 s on 2 shared cores) shared by the module


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from access.cli import main

    out = tmp_path_factory.mktemp("demo") / "access-demo"
    assert main(["demo", "--out", str(out), "-q"]) == 0
    return out


def test_demo_writes_the_report(demo):
    import pyogrio

    for f in ("summary.md", "epci.gpkg", "region.gpkg", "epci.parquet", "epci.csv", "cells.parquet",
              "venues.parquet", "epci_map.html"):
        assert (demo / f).stat().st_size > 0, f
    pngs = sorted((demo / "maps").glob("*.png"))
    assert len(pngs) >= 8 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert {n for n, _ in pyogrio.list_layers(demo / "region.gpkg")} == {"epci", "cells", "venues"}
    html = (demo / "epci_map.html").read_text()
    assert "<script src=" not in html and "leaflet" not in html.lower()  # self-contained, no tiles
    # the sources were the generated files in the real formats, read by the real loaders
    data = demo / "data"
    assert b"OSMHeader" in (data / "demo.osm.pbf").read_bytes()[:32]
    assert (data / "carreaux_200m_met.gpkg").read_bytes()[:15] == b"SQLite format 3"


def test_demo_every_epci_classified(demo):
    from access.indicators import CLASSES

    manifest = json.loads((demo / "data" / "manifest.json").read_text())
    a = pd.read_parquet(demo / "epci.parquet")
    assert sorted(a["id"]) == sorted(manifest["epci"]["codes"])
    # every EPCI classed, or "no data" exactly where it has no population; the priority zone is a column apart
    assert a["class"].isin(CLASSES).all()
    assert ((a["class"] == "no data") == ~(a["population"] > 0)).all()
    assert "priority_zone" in a.columns and "class_stability" in a.columns
    prio = a.set_index("id").loc[manifest["epci"]["priority"]]
    assert (prio["priority_zone"] != "").all() and prio["class"].isin(CLASSES).all()
    assert (a.set_index("id").drop(index=manifest["epci"]["priority"])["priority_zone"] == "").all()
    assert (a["population"] > 0).all()
    # access after official practice: car time to the nearest venue per category, shares beyond 5/10/15/30 min
    for t in (5, 10, 15, 30):
        assert a.filter(regex=rf"^time_car_\w+_share_beyond_{t}min$").shape[1] >= 2
    assert a.filter(regex=r"^time_car_\w+_mean$").notna().all().all()
    # the cells' population is all attributed (the EPCI tile the territory)
    cells = pd.read_parquet(demo / "cells.parquet")
    assert a["population"].sum() == pytest.approx(cells["population"].sum(), rel=1e-6)
    assert cells["population"].sum() == pytest.approx(manifest["filosofi"]["ind"], rel=1e-6)
    summary = (demo / "summary.md").read_text()
    for name in a["name"]:
        assert name in summary


def test_demo_times_increase_with_distance_from_venues(demo):
    c = pd.read_parquet(demo / "cells.parquet")
    for mode, r_min in (("walk", 0.8), ("bike", 0.8), ("car", 0.5), ("transit", 0.5)):
        t = c[f"time_{mode}_any"].to_numpy(float)
        ok = np.isfinite(t)
        assert ok.mean() > 0.3, mode
        r = np.corrcoef(c["crowfly_km_any"].to_numpy(float)[ok], t[ok])[0, 1]
        assert r > r_min, (mode, r)
    # faster modes: car beats walking wherever both reach a venue (allowing for a little parking-free slack)
    both = np.isfinite(c["time_car_any"]) & np.isfinite(c["time_walk_any"])
    assert (c.loc[both, "time_car_any"] <= c.loc[both, "time_walk_any"] + 1.0).mean() > 0.95


def test_demo_rural_areas_are_farther(demo):
    a = pd.read_parquet(demo / "epci.parquet").sort_values("density")
    # the emptiest intercommunality waits longer by car than the densest, and reaches fewer venues on foot
    assert a["time_car_any_mean"].iloc[0] > a["time_car_any_mean"].iloc[-1]
    assert a["time_walk_any_share_within_30min"].iloc[0] < a["time_walk_any_share_within_30min"].iloc[-1]


def test_demo_rerun_is_cached(demo, tmp_path):
    from access.commands.demo import run_demo

    out = tmp_path / "copy"
    shutil.copytree(demo, out)
    res = run_demo(out, progress=False)
    assert {"inputs", "matrix_walk", "matrix_bike", "matrix_car", "matrix_transit", "indicators", "areas",
            "report"} <= set(res.reused)
    assert res.timings_s["matrix_transit"] < 1.0
    before = pd.read_parquet(demo / "epci.parquet")
    after = pd.DataFrame(res.areas.drop(columns="geometry")).reset_index(drop=True)
    pd.testing.assert_frame_equal(after, before.reset_index(drop=True), check_dtype=False)


def test_demo_social_barriers(demo):
    """Issue 16: the barrier columns per cell and per EPCI, their maps and the summary section."""
    from access.indicators.barriers import BARRIER_SHARES

    c = pd.read_parquet(demo / "cells.parquet")
    a = pd.read_parquet(demo / "epci.parquet")
    for col in (*BARRIER_SHARES, "share_no_car", "households_no_car", "estimated", "time_no_car_cinema",
                "carless_gap_cinema", "evening_round_trip_cinema", "time_transit_saturday_cinema"):
        assert col in c.columns, col
    for col in BARRIER_SHARES + ("share_no_car",):
        assert c[col].between(0, 1).all(), col
    assert c["evening_round_trip_cinema"].any() and not c["evening_round_trip_cinema"].all()
    for col in ("share_no_car", "carless_share_beyond_30min_cinema", "evening_round_trip_share_cinema",
                "evening_round_trip_carless_share_cinema", "barrier_index", "barrier_index_stability"):
        v = a[col].to_numpy(float)
        assert np.isfinite(v).all(), col
    assert a["main_barriers"].str.len().gt(0).all()
    # the carless households are the census households without a car, all allocated to the grid
    import zipfile

    with zipfile.ZipFile(demo / "data" / "base-ic-logement-2021_csv.zip") as z:
        rp = pd.read_csv(z.open("base-ic-logement-2021.CSV"), sep=";")["P21_RP"].sum()
    assert c["census_households"].sum() == pytest.approx(rp, rel=1e-9)
    for m in ("share_no_car", "barrier_index", "evening_round_trip_share_cinema"):
        assert (demo / "maps" / f"{m}.png").read_bytes()[:4] == b"\x89PNG"
    summary = (demo / "summary.md").read_text()
    assert "## Social barriers to culture" in summary
    assert all(f"| {i} |" in summary for i in a["id"])


def test_demo_map_works_offline_in_chromium(demo):
    from .browser import open_map, require_browser

    require_browser()
    r = open_map(demo / "epci_map.html", switch_to=1)
    assert r["left"] == [] and r["errors"] == [], (r["left"], r["errors"])
    a = pd.read_parquet(demo / "epci.parquet")
    assert r["n_areas"] >= len(a) and r["non_white"] > 0.08
    assert "class (areas)" in r["legend"]
    assert "minutes" in r["legend_after"]


def test_demo_summary_counts_everyone(demo):
    from access.report.summary import population_stats

    text = (demo / "summary.md").read_text()
    assert " min " not in text and " min." not in text and "min |" not in text  # "minutes", never "min"
    assert "computed class" in text and "priority zone" in text and "reason" in text
    assert "## Sources" in text and "service 20" in text
    # the region's walking median, over every inhabitant (those beyond the limit counted), as the table says
    c = pd.read_parquet(demo / "cells.parquet")
    s = population_stats(c["time_walk_any"], c["population"], 30)
    row = next(ln for ln in text.splitlines() if ln.startswith("| walk |"))
    assert row.split("|")[2].strip() == f"{s['median_min']:.0f}"
    assert row.split("|")[3].strip() == f"{100 * s['share_within']:.0f} %"


def test_demo_stability_includes_the_other_transit_percentile(demo):
    """Transit feeds the default social dimension (the barrier index, through the no-car times), so the class
    stability includes the variant at the other transit percentile; the car means the typology uses leave nobody
    out (uncapped nearest times), and the transit means say when they do."""
    a = pd.read_parquet(demo / "epci.parquet")
    notes = a["notes"].iloc[0]
    assert "class_stability over" in notes and "transit percentile 75" in notes
    assert "barrier_index_transit_p75" in a.columns and a["barrier_index_transit_p75"].notna().all()
    assert {"time_transit_cinema_mean", "time_transit_cinema_mean_transit_p75"} <= set(a.columns)
    assert (a.filter(regex=r"^time_car_\w+_share_unreachable$").fillna(0) == 0).all().all()
    assert not any(c.startswith("time_car_") and "is a mean over the inhabitants who reach" in notes
                   for c in notes.split("; "))
