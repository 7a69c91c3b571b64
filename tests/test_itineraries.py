"""Itineraries with geometry on Porto Alegre (2019-05-13) against the transit matrix: every option's total time is
the matrix's per-minute time at its departure minute (integer seconds, no tolerance); legs add up; walks follow
the streets; route() keeps its legs and now applies the same-segment rule."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

import access

from .conftest import data_file

DEP = dt.datetime(2019, 5, 13, 14, 0)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                  gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                                        data_file("porto_alegre", "poa_trensurb.zip")],
                                                  modes=("walk",), cache_dir=tmp_path_factory.mktemp("poa_it"))


@pytest.fixture(scope="module")
def pts():
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(3)
    return hx.iloc[rng.choice(len(hx), 8, replace=False)].reset_index(drop=True)


def test_itineraries_equal_matrix_per_minute(net, pts):
    o, d = pts.iloc[:2], pts.iloc[2:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = access.itineraries(net, o, d, DEP, window_min=10, max_time_min=60, all_to_all=True, progress=False)
        m = access.travel_time_matrix(net, o, d, mode="transit", departure=DEP, window_min=10, max_time_min=60,
                                      per_minute=True, progress=False)
    assert it.crs.to_epsg() == 4326 and len(it)
    assert set(it.kind) >= {"access", "ride", "egress"}
    oi = {v: k for k, v in enumerate(m.from_ids)}
    di = {v: k for k, v in enumerate(m.to_ids)}
    n_opt = 0
    for (fr, to_, opt), g in it.groupby(["from_id", "to_id", "option"]):
        minute = int((g.departure_time.iloc[0] - pd.Timestamp(DEP)).total_seconds() // 60)
        assert g.total_duration_s.iloc[0] == m.per_minute_s[oi[fr], di[to_], minute]
        assert (g.duration_s + g.wait_s).sum() == g.total_duration_s.iloc[0]  # legs add up, waits included
        n_opt += 1
    # every reachable pair has at least one option, unreachable ones none
    reach = {(fr, to_) for fr, to_ in it[["from_id", "to_id"]].itertuples(index=False)}
    for a, fr in enumerate(m.from_ids):
        for b, to_ in enumerate(m.to_ids):
            assert ((fr, to_) in reach) == bool((m.per_minute_s[a, b] >= 0).any())
    assert n_opt >= 6
    rides = it[it.kind == "ride"]
    assert rides.route_short_name.notna().all() and rides.from_stop_name.notna().all()
    assert (rides.ride_s > 0).all() and (rides.walk_s == 0).all()
    walks = it[it.kind != "ride"]
    assert (walks.ride_s == 0).all()
    # walking geometry follows the streets: never shorter than the straight line, at least 1 m/s-ish plausible
    assert (~it.geometry.is_empty).all()
    long_walks = walks[walks.duration_s > 120]
    assert (long_walks.distance_m > 0.5 * long_walks.duration_s).all()  # 3.6 km/h = 1 m/s, minus connectors


def test_route_same_segment_rule(net, pts):
    g = net.street("walk")
    # two points on one long edge: the matrix takes the direct time along it
    e = int(np.argmax(np.where(g.reverse_edge >= 0, g.length_m, 0)))
    xy = g.geom_lonlat[g.geom_offsets[e]:g.geom_offsets[e + 1]]
    a, b = xy[0] * 0.75 + xy[-1] * 0.25, xy[0] * 0.25 + xy[-1] * 0.75
    pp = pd.DataFrame({"id": [1, 2], "lon": [a[0], b[0]], "lat": [a[1], b[1]]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mt = access.travel_time_matrix(net, pp.iloc[:1], pp.iloc[1:], mode="transit", departure=DEP, window_min=1,
                                       max_time_min=60, progress=False).times_s[0, 0, 0]
        legs = access.route(net, tuple(a), tuple(b), DEP, max_time_min=60)
    assert legs.duration_s.sum() + legs.wait_s.sum() == mt


def test_route_cli(net, pts, tmp_path):
    import geopandas as gpd
    from click.testing import CliRunner

    from access.cli import cli

    net.save(tmp_path / "net")
    pts.iloc[:2][["id", "lon", "lat"]].to_csv(tmp_path / "o.csv", index=False)
    pts.iloc[2:4][["id", "lon", "lat"]].to_csv(tmp_path / "d.csv", index=False)
    res = CliRunner().invoke(cli, ["route", "--network", str(tmp_path / "net"), "--origins", str(tmp_path / "o.csv"),
                                   "--destinations", str(tmp_path / "d.csv"), "--departure", "2019-05-13T14:00",
                                   "--window", "3", "--max-time", "90", "--out", str(tmp_path / "r.geojson")])
    assert res.exit_code == 0, res.output
    legs = gpd.read_file(tmp_path / "r.geojson")
    assert len(legs) and {"kind", "distance_m", "route_short_name", "geometry"} <= set(legs.columns)
