"""``access serve`` on real data: Porto Alegre (OSM car network, 1,227 hexagons, schools and health centres).

A run folder is written in the layout ``access run`` leaves (network bundle, work/cells|venues|areas.parquet,
work/state.json) with nine districts as areas; the API must answer a venue edit within a second and a street
closure within seconds, equal to a rebuild from scratch.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

from .conftest import data_file

pytest.importorskip("dash", reason="`access serve` needs dash (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def poa_run(tmp_path_factory):
    import geopandas as gpd
    from shapely.geometry import box

    from access import TransportNetwork

    out = tmp_path_factory.mktemp("serve_poa") / "poa-out"
    work = out / "work"
    work.mkdir(parents=True)
    net = TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"), modes=("car",),
                                      cache_dir=out / "cache" / "build")
    net.save(out / "network")
    hexes = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"), dtype={"id": str})
    pts = gpd.points_from_xy(hexes["lon"], hexes["lat"])
    cells = gpd.GeoDataFrame({"id": hexes["id"], "population": hexes["population"].astype(float)}, geometry=pts,
                             crs=4326)
    cells.to_parquet(work / "cells.parquet")
    ven = []
    for col, cat in (("schools", "school"), ("healthcare", "health")):
        sub = hexes[hexes[col] > 0]
        ven.append(gpd.GeoDataFrame({"id": cat + "-" + sub["id"], "name": cat + " " + sub["id"], "category": cat},
                                    geometry=gpd.points_from_xy(sub["lon"], sub["lat"]), crs=4326))
    pd.concat(ven, ignore_index=True).pipe(gpd.GeoDataFrame, crs=4326).to_parquet(work / "venues.parquet")
    x0, y0, x1, y1 = cells.total_bounds
    xs, ys = np.linspace(x0 - 1e-3, x1 + 1e-3, 4), np.linspace(y0 - 1e-3, y1 + 1e-3, 4)
    areas = gpd.GeoDataFrame({"id": [f"D{i}{j}" for i in range(3) for j in range(3)],
                              "name": [f"district {i}{j}" for i in range(3) for j in range(3)]},
                             geometry=[box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(3) for j in range(3)],
                             crs=4326)
    areas.to_parquet(work / "areas.parquet")
    (work / "state.json").write_text(json.dumps({"steps": {"matrix_car": {"settings": {"mode": "car",
                                                                                     "max_time_min": 30}}}}))
    return out


def post(url, body, sid):
    req = urllib.request.Request(url + "/api/scenario", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", "X-Session-Id": sid})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as r:
        res = json.loads(r.read())
    return res, (time.perf_counter() - t0) * 1e3


def test_poa_venue_edit_within_a_second(poa_run):
    from access.scenarios import Scenario
    from access.serve import Engine, load_run, make_server

    engine = Engine(load_run(poa_run, mode="car"))
    assert engine.base.n_cells == 1227 and len(engine.base.venue_ids) == 294
    srv = make_server(engine, port=0)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{srv.server_port}"
    try:
        t = engine.base_times["school"]
        cells = np.argsort(np.where(np.isfinite(t), t, -1))[::-1][:5]  # far from any school
        adds, times = [], {"add": [], "remove": [], "close": []}
        for k, i in enumerate(cells):
            adds.append({"id": f"s{k}", "lon": float(engine.cell_lon[i]), "lat": float(engine.cell_lat[i]),
                         "category": "school"})
            res, wall = post(url, {"add_venues": adds}, "poa")
            assert res["work"]["searches"] == 1
            times["add"].append(wall)
        assert res["changed_areas"]
        rid = str(engine.data.venues["id"].iloc[0])
        res, wall = post(url, {"add_venues": adds, "remove_venues": [rid]}, "poa")
        times["remove"].append(wall)
        x, y = float(engine.cell_lon[cells[0]]), float(engine.cell_lat[cells[0]])
        ring = [[x - 0.01, y - 0.008], [x + 0.01, y - 0.008], [x + 0.01, y + 0.008], [x - 0.01, y + 0.008]]
        res, wall = post(url, {"close_streets": {"polygon": ring}}, "poa")
        times["close"].append(wall)
        assert res["work"]["closure_recomputed"]
        print("\nPorto Alegre (car, 30 min; ms, wall-clock over HTTP):",
              {k: [round(v) for v in vs] for k, vs in times.items()})
        assert np.median(times["add"]) < 1000 and max(times["remove"]) < 1000
        assert max(times["close"]) < 10000
        # the closure equals a rebuild from scratch on the edited network
        scn = Scenario.from_dict({"name": "twin", "streets": {"close": [{"name": "c", "polygon": ring,
                                                                         "modes": ["car"]}]}})
        d = engine.data
        twin = Engine(type(d)(**{**d.__dict__, "network": scn.apply(d.network)}), warmup=False)
        by = {a["id"]: a for a in res["areas"]}
        for k, aid in enumerate(twin.area_ids):
            got = by[aid]["indicators"]["time_school_mean"]["after"]
            exp = twin.base_areas["time_school_mean"][k]
            assert (got is None and not np.isfinite(exp)) or got == pytest.approx(exp, abs=1e-9)
    finally:
        srv.shutdown()
        srv.server_close()
