"""The command line chains: ``access matrix`` -> ``access indicators`` -> maps, for walk, car (a partitioned matrix
folder) and transit (percentile columns), on Porto Alegre's real OSM and GTFS; ``network info``; one-line warnings.

Small subsets of points keep each chain to a few seconds once the network is built (once per module)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from access.cli import main

from .conftest import data_file


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture(scope="module")
def poa(tmp_path_factory):
    osm = data_file("porto_alegre", "poa_osm.pbf")
    gtfs = data_file("porto_alegre", "poa_eptc.zip")
    hexes = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    d = tmp_path_factory.mktemp("poa_chain")
    net = d / "net"
    assert main(["network", "build", "--osm", str(osm), "--gtfs", str(gtfs), "--modes", "walk,car",
                 "--out", str(net)]) == 0
    # 48 populated hexagons around the centre, and 12 destinations of two categories among them and nearby
    c = hexes[hexes.population > 0].copy()
    c["d"] = np.hypot(c.lon + 51.20, c.lat + 30.04)
    origins = c.nsmallest(48, "d")[["id", "lon", "lat", "population"]]
    pool = hexes[(hexes.schools > 0) | (hexes.healthcare > 0)].copy()
    pool["d"] = np.hypot(pool.lon + 51.20, pool.lat + 30.04)
    dest = pool.nsmallest(12, "d").copy()
    dest["category"] = np.where(dest.schools > 0, "school", "health")
    dest = dest[["id", "lon", "lat", "category"]].assign(id=lambda x: "d" + x["id"].astype(str))
    origins.to_csv(d / "origins.csv", index=False)
    dest.to_csv(d / "destinations.csv", index=False)
    x0, y0 = origins.lon.min() - 0.01, origins.lat.min() - 0.01
    x1, y1 = origins.lon.max() + 0.01, origins.lat.max() + 0.01
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    areas = gpd.GeoDataFrame({"id": ["NW", "NE", "SW", "SE"], "name": ["Norte-Oeste", "Norte-Leste", "Sul-Oeste",
                                                                      "Sul-Leste"]},
                             geometry=[box(x0, ym, xm, y1), box(xm, ym, x1, y1), box(x0, y0, xm, ym),
                                       box(xm, y0, x1, ym)], crs=4326)
    areas.to_file(d / "areas.geojson")
    return dict(dir=d, net=net, origins=d / "origins.csv", destinations=d / "destinations.csv",
                areas=d / "areas.geojson", o=origins, dest=dest)


def _indicators(capsys, poa, matrix, out, *extra):
    rc, so, se = _run(capsys, "indicators", "--matrix", matrix, "--origins", poa["origins"], "--destinations",
                      poa["destinations"], "--areas", poa["areas"], "--out", out, "--no-progress", *extra)
    assert rc == 0, se
    return so, se


def _check_outputs(out, n_origins: int):
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == n_origins
    areas = pd.read_csv(out / "areas.csv")
    assert len(areas) == 4 and areas["class"].notna().all()
    html = (out / "areas_map.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and "Norte-Oeste" in html
    assert (out / "maps" / "class.png").read_bytes()[:4] == b"\x89PNG"
    return cells


def _nearest(m: pd.DataFrame, dest: pd.DataFrame, cost: str, category: str) -> pd.Series:
    ids = set(dest.loc[dest.category == category, "id"])
    return m[m.to_id.astype(str).isin(ids)].groupby(m.from_id.astype(str))[cost].min()


def test_walk_chain(poa, capsys):
    mat = poa["dir"] / "walk.parquet"
    rc, so, se = _run(capsys, "matrix", "--network", poa["net"], "--origins", poa["origins"], "--destinations",
                      poa["destinations"], "--mode", "walk", "--max-time", 60, "--out", mat)
    assert rc == 0, se
    out = poa["dir"] / "walk-ind"
    _indicators(capsys, poa, mat, out)
    cells = _check_outputs(out, len(poa["o"]))
    m = pd.read_parquet(mat)
    exp = _nearest(m, poa["dest"], "travel_time", "school")
    got = cells.assign(id=cells["id"].astype(str)).set_index("id")["time_school"].reindex(exp.index)
    np.testing.assert_allclose(got.to_numpy(), exp.to_numpy())


def test_car_chain_reads_a_partitioned_folder(poa, capsys):
    folder = poa["dir"] / "car-matrix"
    rc, so, se = _run(capsys, "matrix", "--network", poa["net"], "--origins", poa["origins"], "--destinations",
                      poa["destinations"], "--mode", "car", "--chunk-size", 20, "--out", folder)
    assert rc == 0, se
    parts = sorted(folder.glob("part-*.parquet"))
    assert len(parts) == 3  # 48 origins in chunks of 20
    out = poa["dir"] / "car-ind"
    _indicators(capsys, poa, folder, out)
    cells = _check_outputs(out, len(poa["o"]))
    m = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    exp = _nearest(m, poa["dest"], "travel_time", "health")
    got = cells.assign(id=cells["id"].astype(str)).set_index("id")["time_health"].reindex(exp.index)
    np.testing.assert_allclose(got.to_numpy(), exp.to_numpy())
    # an interrupted run (a partition missing) is refused with the fix
    parts[-1].rename(parts[-1].with_suffix(".bak"))
    rc, so, se = _run(capsys, "indicators", "--matrix", folder, "--origins", poa["origins"], "--destinations",
                      poa["destinations"], "--areas", poa["areas"], "--out", poa["dir"] / "x", "--no-progress")
    assert rc == 2 and "2 of its 3 partitions" in se and "again" in se


def test_transit_chain_defaults_to_p50(poa, capsys):
    mat = poa["dir"] / "transit.parquet"
    rc, so, se = _run(capsys, "matrix", "--network", poa["net"], "--origins", poa["origins"], "--destinations",
                      poa["destinations"], "--mode", "transit", "--departure", "2019-05-13T14:00",
                      "--percentiles", "25,50,75", "--max-time", 90, "--out", mat)
    assert rc == 0, se
    # warnings are one line each, once each, with no Python source line
    warn = [ln for ln in se.splitlines() if ln.startswith("warning:")]
    assert len(warn) == len(set(warn))
    assert "warnings.warn" not in se and "max_snap_m" not in se
    m = pd.read_parquet(mat)
    assert {"travel_time_p25", "travel_time_p50", "travel_time_p75"} <= set(m.columns)
    out = poa["dir"] / "transit-ind"
    _indicators(capsys, poa, mat, out)
    cells = _check_outputs(out, len(poa["o"]))
    exp = _nearest(m, poa["dest"], "travel_time_p50", "school")
    got = cells.assign(id=cells["id"].astype(str)).set_index("id")["time_school"].reindex(exp.index)
    np.testing.assert_allclose(got.to_numpy(), exp.to_numpy())
    # another percentile on request; a wrong name is an error naming the columns and the option
    out75 = poa["dir"] / "transit-ind-p75"
    _indicators(capsys, poa, mat, out75, "--travel-cost", "travel_time_p75")
    c75 = pd.read_parquet(out75 / "cells.parquet").set_index("id")["time_school"]
    assert (c75.to_numpy() >= cells.set_index("id")["time_school"].reindex(c75.index).to_numpy() - 1e-9).all()
    rc, so, se = _run(capsys, "indicators", "--matrix", mat, "--travel-cost", "travel_time_p99", "--origins",
                      poa["origins"], "--destinations", poa["destinations"], "--areas", poa["areas"], "--out",
                      poa["dir"] / "y", "--no-progress")
    assert rc == 2 and "--travel-cost" in se and "travel_time_p50" in se


def test_network_info_shows_service_dates_bbox_counts(poa, capsys):
    rc, so, se = _run(capsys, "network", "info", poa["net"])
    assert rc == 0, se
    assert "2019-04-15 .. 2019-07-15" in so or "service 2019-" in so
    assert "bbox lon -51." in so and "stops" in so and "trips" in so and "nodes" in so


def test_defaults_are_r5rs():
    import click

    from access.commands.matrix import command as matrix
    from access.commands.scenario import compare_cmd

    def default(cmd: click.Command, name: str):
        return next(p.default for p in cmd.params if p.name == name)

    for cmd in (matrix, compare_cmd):
        assert default(cmd, "window") == 10 and default(cmd, "max_time") == 120.0


def test_help_is_fast_and_imports_nothing_heavy():
    import subprocess
    import sys
    import time

    code = ("import sys; from access.cli import main; main(['--help']); "
            "heavy = [m for m in ('numba', 'pandas', 'geopandas', 'plotly', 'matplotlib', 'dask') if m in sys.modules];"
            "print('HEAVY', heavy)")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    dt = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stdout
    assert dt < 5.0  # about 0.3 s alone; the bound leaves room for a loaded machine


def test_scenario_compare_writes_areas_csv_scenario_json_and_material_effects(poa, capsys):
    import json

    o = poa["o"]
    far = o.iloc[-1]
    scn = poa["dir"] / "new_school.toml"
    scn.write_text(f'name = "new school"\n[[venues.add]]\nname = "school A"\nid = "A"\nlon = {far.lon}\n'
                   f'lat = {far.lat}\ncategory = "school"\ncapacity = 1\n')
    out = poa["dir"] / "cmp"
    rc, so, se = _run(capsys, "scenario", "compare", scn, "--network", poa["net"], "--cells", poa["origins"],
                      "--venues", poa["destinations"], "--areas", poa["areas"], "--max-time", 60, "--out", out,
                      "--no-maps")
    assert rc == 0, se
    areas = pd.read_csv(out / "areas.csv")
    assert len(areas) == 4 and "time_school_mean_delta" in areas.columns
    doc = json.loads((out / "scenario.json").read_text())
    assert doc["scenario"] == "new school" and doc["edits"][0]["kind"] == "add"
    assert doc["edits"][0]["params"]["id"] == "A" and doc["tolerance"]["time_minutes"] == 0.5
    eff = pd.read_csv(out / "effects.csv").set_index("measure")
    cells = pd.read_parquet(out / "cells.parquet")
    d = cells["time_school_delta"].to_numpy(float)
    material = (d <= -0.5) | np.isneginf(d) | (np.isfinite(cells["time_school_after"]) &
                                                ~np.isfinite(cells["time_school_before"]))
    assert eff.loc["time_school", "population_better"] == pytest.approx(cells["population"][material].sum())
    assert eff.loc["time_school", "population_worse"] == 0
    assert bool(eff.loc["time_school", "material"]) == (
        eff.loc["time_school", "population_affected"] >= 0.01 * cells["population"].sum())
