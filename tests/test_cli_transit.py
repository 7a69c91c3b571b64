"""The transit options of the CLI (issue 19) through click's runner, on Porto Alegre (OSM + EPTC + TRENSURB):
``access matrix --arrive-by`` (a ``departure_time`` column) and ``--access-mode bike|car`` with ``--max-bike``/
``--max-car`` (one file and the chunked folder), ``access isochrones`` and ``access route`` with the same options;
each output equals the library call it stands for; wrong combinations stop with exit code 2 before any work."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import access
from access.cli import cli

from .conftest import data_file

T = dt.datetime(2019, 5, 13, 15, 0)
DEP = dt.datetime(2019, 5, 13, 14, 0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_transit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                 gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                                       data_file("porto_alegre", "poa_trensurb.zip")],
                                                 modes=("walk", "bike"))
    net.save(tmp / "net")
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(5)
    pts = hx.iloc[rng.choice(len(hx), 30, replace=False)].reset_index(drop=True)
    pts.iloc[:12][["id", "lon", "lat"]].to_csv(tmp / "o.csv", index=False)
    pts.iloc[12:][["id", "lon", "lat"]].to_csv(tmp / "d.csv", index=False)
    return net, tmp, pts.iloc[:12].reset_index(drop=True), pts.iloc[12:].reset_index(drop=True)


def _run(args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CliRunner().invoke(cli, [str(a) for a in args])


def _base(tmp):
    return ["matrix", "--network", tmp / "net", "--origins", tmp / "o.csv", "--destinations", tmp / "d.csv",
            "--mode", "transit", "--max-time", 45]


def _lib(net, o, d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.travel_time_matrix(net, o, d, mode="transit", max_time_min=45, progress=False, **kw)


def _ids(df):
    return df.assign(from_id=df["from_id"].astype(str), to_id=df["to_id"].astype(str))


def test_matrix_arrive_by_writes_departure_time(setup):
    net, tmp, o, d = setup
    res = _run(_base(tmp) + ["--arrive-by", "2019-05-13T15:00", "--out", tmp / "ab.parquet"])
    assert res.exit_code == 0, res.output
    got = pd.read_parquet(tmp / "ab.parquet")
    assert list(got.columns) == ["from_id", "to_id", "travel_time", "departure_time"]
    ref = _ids(_lib(net, o, d, arrive_by=T).to_frame())
    ns = {"departure_time": "datetime64[ns]"}
    pd.testing.assert_frame_equal(got.astype(ns), ref.astype(ns), check_dtype=False)
    ok = got["travel_time"].notna()
    assert ok.mean() > 0.2 and got.loc[~ok, "departure_time"].isna().all()
    # the deadline minus the travel time is the departure (the arrive-by law)
    assert (got.loc[ok, "departure_time"] + pd.to_timedelta(got.loc[ok, "travel_time"], unit="min")
            == pd.Timestamp(T)).all()


def test_matrix_arrive_by_chunked_equals_one_file(setup):
    net, tmp, o, d = setup
    if not (tmp / "ab.parquet").exists():
        assert _run(_base(tmp) + ["--arrive-by", "2019-05-13T15:00", "--out", tmp / "ab.parquet"]).exit_code == 0
    res = _run(_base(tmp) + ["--arrive-by", "2019-05-13T15:00", "--access-mode", "walk", "--chunk-size", 5,
                             "--out", tmp / "ab_parts"])
    assert res.exit_code == 0, res.output
    ns = {"departure_time": "datetime64[ns]"}
    one = pd.read_parquet(tmp / "ab.parquet").astype(ns)
    parts = _ids(pd.read_parquet(tmp / "ab_parts")).astype(ns)
    pd.testing.assert_frame_equal(parts, one, check_dtype=False)


def test_matrix_bike_access_one_file_and_chunked(setup):
    net, tmp, o, d = setup
    args = _base(tmp) + ["--departure", "2019-05-13T14:00", "--window", 5, "--access-mode", "bike", "--max-bike", 15]
    res = _run(args + ["--out", tmp / "bike.parquet"])
    assert res.exit_code == 0, res.output
    ref = _ids(_lib(net, o, d, departure=DEP, window_min=5, access_mode="bike",
                    transit=access.TransitOptions(max_bike_min=15)).to_frame())
    pd.testing.assert_frame_equal(pd.read_parquet(tmp / "bike.parquet"), ref, check_dtype=False)
    walk = _lib(net, o, d, departure=DEP, window_min=5).to_frame()
    assert (ref["travel_time"] < walk["travel_time"]).sum() > 5
    res = _run(args + ["--chunk-size", 5, "--out", tmp / "bike_parts"])
    assert res.exit_code == 0, res.output
    pd.testing.assert_frame_equal(_ids(pd.read_parquet(tmp / "bike_parts")), ref, check_dtype=False)


def test_matrix_car_access_needs_a_car_graph(setup):
    _, tmp, _, _ = setup  # this bundle has walk and bike only: one clear error naming the missing graph
    res = _run(_base(tmp) + ["--departure", "2019-05-13T14:00", "--access-mode", "car", "--max-car", 10,
                             "--out", tmp / "car.parquet"])
    assert res.exit_code == 1 and "'car' street graph" in res.output + str(res.exception), res.output


@pytest.mark.parametrize("extra, needle", [
    (["--departure", "2019-05-13T14:00", "--arrive-by", "2019-05-13T15:00"], "not both"),
    (["--arrive-by", "2019-05-13T15:00", "--window", 20], "--window"),
    (["--departure", "2019-05-13T14:00", "--max-bike", 10], "--access-mode bike"),
    ([], "--departure"),
])
def test_matrix_bad_combinations(setup, extra, needle):
    _, tmp, _, _ = setup
    res = _run(_base(tmp) + extra + ["--out", tmp / "bad.parquet"])
    assert res.exit_code == 2 and needle in res.output, res.output
    assert not (tmp / "bad.parquet").exists()


def test_matrix_access_mode_needs_transit(setup):
    _, tmp, _, _ = setup
    res = _run(["matrix", "--network", tmp / "net", "--origins", tmp / "o.csv", "--mode", "walk",
                "--access-mode", "bike", "--out", tmp / "w.parquet"])
    assert res.exit_code == 2 and "--mode transit" in res.output


def test_isochrones_cli_bike_access_and_arrive_by(setup):
    import geopandas as gpd

    net, tmp, o, _ = setup
    o.iloc[:1][["id", "lon", "lat"]].to_csv(tmp / "o1.csv", index=False)
    common = ["isochrones", "--network", tmp / "net", "--origins", tmp / "o1.csv", "--mode", "transit",
              "--cutoffs", "20", "--cell-size", 250]
    res = _run(common + ["--departure", "2019-05-13T14:00", "--window", 3, "--access-mode", "bike",
                         "--out", tmp / "iso_bike.gpkg"])
    assert res.exit_code == 0, res.output
    res = _run(common + ["--departure", "2019-05-13T14:00", "--window", 3, "--out", tmp / "iso_walk.gpkg"])
    assert res.exit_code == 0, res.output
    bike, walk = gpd.read_file(tmp / "iso_bike.gpkg"), gpd.read_file(tmp / "iso_walk.gpkg")
    area = lambda g: g.to_crs(32722).area.iloc[0]  # noqa: E731
    assert area(bike) > area(walk)  # riding to the stops reaches farther in 20 minutes
    res = _run(common + ["--arrive-by", "2019-05-13T15:00", "--out", tmp / "iso_ab.gpkg"])
    assert res.exit_code == 0, res.output
    assert (~gpd.read_file(tmp / "iso_ab.gpkg").geometry.is_empty).all()


def test_route_cli_arrive_by(setup):
    import geopandas as gpd

    net, tmp, o, d = setup
    o.iloc[:3][["id", "lon", "lat"]].to_csv(tmp / "ro.csv", index=False)
    d.iloc[:3][["id", "lon", "lat"]].to_csv(tmp / "rd.csv", index=False)
    res = _run(["route", "--network", tmp / "net", "--origins", tmp / "ro.csv", "--destinations", tmp / "rd.csv",
                "--arrive-by", "2019-05-13T15:00", "--max-time", 45, "--out", tmp / "r.geojson"])
    assert res.exit_code == 0, res.output
    legs = gpd.read_file(tmp / "r.geojson")
    assert len(legs)
    m = _lib(net, o.iloc[:3], d.iloc[:3], arrive_by=T)
    for (fi, ti), g in legs.groupby(["from_id", "to_id"]):
        assert g["option"].nunique() == 1
        i, j = list(o["id"].astype(str)).index(str(fi)), list(d["id"].astype(str)).index(str(ti))
        assert pd.Timestamp(g["departure_time"].iloc[0]) == pd.Timestamp(m.departure_time[i, j])
        assert pd.to_datetime(g["arrival"]).max() <= pd.Timestamp(T)
    res = _run(["route", "--network", tmp / "net", "--origins", tmp / "ro.csv", "--destinations", tmp / "rd.csv",
                "--out", tmp / "r2.geojson"])
    assert res.exit_code == 2 and "--departure" in res.output
