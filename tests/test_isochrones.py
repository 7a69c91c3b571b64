"""Isochrones on Porto Alegre against the travel-time matrix (the independent check: point-in-polygon of the
hexagon centroids vs their matrix times). Tolerance: the grid's resolution, taken as a margin of 3 min walking /
2 min by car / 5 min by transit (a 100 m cell is 1.7 min on foot)."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
import shapely

import access

from .conftest import data_file


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                  gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                                        data_file("porto_alegre", "poa_trensurb.zip")],
                                                  modes=("walk", "car"), cache_dir=tmp_path_factory.mktemp("poa_iso"))


@pytest.fixture(scope="module")
def hx():
    return pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))


def _check(iso, hx, origin, times, cutoffs, margin):
    n_in = n_out = 0
    for c in cutoffs:
        geom = iso.loc[iso.cutoff == c, "geometry"].iloc[0]
        inside = shapely.contains_xy(geom, hx["lon"].to_numpy(), hx["lat"].to_numpy())
        well_in = times < c - margin
        well_out = (times > c + margin)
        assert inside[well_in].all(), f"cutoff {c}: {np.sum(~inside[well_in])} points reached well within are out"
        assert not inside[well_out].any(), f"cutoff {c}: {np.sum(inside[well_out])} points well beyond are in"
        n_in += well_in.sum()
        n_out += well_out.sum()
    assert n_in >= 10 and n_out >= 10


@pytest.mark.parametrize("mode,cutoffs,margin", [("walk", (10, 20), 3.0), ("car", (5, 10), 2.0)])
def test_isochrones_match_matrix_streets(net, hx, mode, cutoffs, margin):
    origin = hx.iloc[[int(np.argmin((hx.lon + 51.2177) ** 2 + (hx.lat + 30.0346) ** 2))]]
    iso = access.isochrones(net, origin, mode=mode, cutoffs_min=cutoffs, progress=False)
    assert list(iso.columns) == ["id", "cutoff", "geometry"] and iso.crs.to_epsg() == 4326
    assert list(iso.cutoff) == sorted(cutoffs, reverse=True)
    assert iso.geometry.iloc[0].contains(iso.geometry.iloc[1])  # nested
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = access.travel_time_matrix(net, origin, hx, mode=mode, max_time_min=max(cutoffs) + 10,
                                      progress=False).minutes(0)[0]
    _check(iso, hx, origin, t, cutoffs, margin)


def test_isochrones_match_matrix_transit(net, hx):
    origin = hx.iloc[[int(np.argmin((hx.lon + 51.2177) ** 2 + (hx.lat + 30.0346) ** 2))]]
    kw = {"departure": dt.datetime(2019, 5, 13, 14, 0), "window_min": 10, "percentiles": (50,)}
    iso = access.isochrones(net, origin, mode="transit", cutoffs_min=(30,), departure=kw["departure"],
                            window_min=10, cell_size_m=150, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = access.travel_time_matrix(net, origin, hx, mode="transit", max_time_min=40, progress=False,
                                      **kw).minutes(0)[0]
    _check(iso, hx, origin, t, (30,), 5.0)


def test_isochrones_cli(net, hx, tmp_path):
    from click.testing import CliRunner

    from access.cli import cli

    net.save(tmp_path / "net")
    hx.iloc[:2][["id", "lon", "lat"]].to_csv(tmp_path / "o.csv", index=False)
    res = CliRunner().invoke(cli, ["isochrones", "--network", str(tmp_path / "net"), "--origins",
                                   str(tmp_path / "o.csv"), "--mode", "walk", "--cutoffs", "5,10",
                                   "--out", str(tmp_path / "iso.gpkg")])
    assert res.exit_code == 0, res.output
    import geopandas as gpd

    iso = gpd.read_file(tmp_path / "iso.gpkg")
    assert len(iso) == 4 and set(iso.cutoff) == {5.0, 10.0}
    assert (~iso.geometry.is_empty).all()
