"""Slope-aware walk and bike times from r5r's Porto Alegre DEM (poa_elevation.tif, 1 arc-second, uint8 metres).

Laws: with the DEM, uphill edges slow down and gently downhill ones speed up (both directions of a street get
their own factor); a flat DEM changes nothing (integer seconds, exactly); trips climbing from the waterfront are
slower than the same trips downhill. The DEM reader is checked against the raster's own pixels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import access
from access.network.elevation import (
    DEM,
    edge_time_factors,
    read_dem,
    tobler_speed_factor,
)

from .conftest import data_file


def _build(tmp, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"), modes=("walk", "bike"),
                                                  cache_dir=tmp, **kw)


@pytest.fixture(scope="module")
def dem_path():
    return data_file("porto_alegre", "poa_elevation.tif")


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("poa_flat"))


@pytest.fixture(scope="module")
def hilly(tmp_path_factory, dem_path):
    return _build(tmp_path_factory.mktemp("poa_dem"), elevation=dem_path)


def test_read_dem(dem_path):
    from PIL import Image

    dem = read_dem(dem_path)
    raw = np.asarray(Image.open(dem_path), dtype=float)
    assert dem.z.shape == raw.shape and np.array_equal(dem.z, raw)
    # a pixel centre reads its own value
    r, c = 200, 150
    lon = dem.lon0 + (c + 0.5) * dem.dlon
    lat = dem.lat0 - (r + 0.5) * dem.dlat
    assert dem.sample(np.array([lon]), np.array([lat]))[0] == pytest.approx(raw[r, c])
    assert -51.26 < dem.lon0 < -51.25 and dem.dlat > 0
    assert tobler_speed_factor(np.array([0.0]))[0] == 1.0


def test_uphill_slower_downhill_faster(flat, hilly, dem_path):
    dem = read_dem(dem_path)
    for mode in ("walk", "bike"):
        g0, g1 = flat.street(mode), hilly.street(mode)
        assert np.array_equal(g0.head, g1.head)
        t0, t1 = g0.travel_time_s.astype(float), g1.travel_time_s.astype(float)
        tail, head = g0.tail, g0.head
        dz = dem.sample(g0.node_lon[head], g0.node_lat[head]) - dem.sample(g0.node_lon[tail], g0.node_lat[tail])
        grade = dz / np.maximum(g0.length_m, 1.0)
        long_ = g0.length_m > 60
        up = long_ & (grade > 0.04)
        down = long_ & (grade < -0.02) & (grade > -0.08)
        assert up.sum() > 100 and down.sum() > 100
        assert np.mean(t1[up] > t0[up]) > 0.95, mode
        # end-to-end grades hide bumps along the way (uint8 DEM): most gentle descents are faster, the median clearly
        assert np.mean(t1[down] < t0[down]) > 0.8, mode
        assert np.median(t1[down] / t0[down]) < 0.95, mode
        # both directions: the reverse of an uphill edge is faster than the edge itself
        r = g0.reverse_edge[up]
        ok = r >= 0
        assert np.mean(t1[r[ok]] < t1[up][ok]) > 0.95


def test_flat_dem_changes_nothing(flat, dem_path, tmp_path):
    from PIL import Image

    src = Image.open(dem_path)
    img = Image.fromarray(np.full((src.size[1], src.size[0]), 42, np.uint8), mode="L")
    info = {k: src.tag_v2[k] for k in (33550, 33922, 34735, 34736, 34737)}
    img.save(tmp_path / "flat.tif", tiffinfo=info)
    dem = read_dem(tmp_path / "flat.tif")
    assert np.all(dem.z == 42)
    net = _build(tmp_path / "cache", elevation=tmp_path / "flat.tif")
    for mode in ("walk", "bike"):
        assert np.array_equal(net.street(mode).travel_time_s, flat.street(mode).travel_time_s)
        assert np.all(edge_time_factors(flat.street(mode), DEM(np.zeros((3, 3)), -52, -29, 1, 1)) == 1.0)


def test_trips_uphill_slower_than_downhill(flat, hilly, dem_path):
    dem = read_dem(dem_path)
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    hx = hx.iloc[np.random.default_rng(1).choice(len(hx), 80, replace=False)].reset_index(drop=True)
    z = dem.sample(hx.lon.to_numpy(), hx.lat.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"mode": "walk", "max_time_min": 90, "progress": False}
        f = access.travel_time_matrix(flat, hx, **kw).times_s[:, :, 0].astype(float)
        h = access.travel_time_matrix(hilly, hx, **kw).times_s[:, :, 0].astype(float)
        # another walking speed keeps the slopes (times scaled, not recomputed from lengths)
        h45 = access.travel_time_matrix(hilly, hx, walk_speed_kmh=4.5, **kw).times_s[:, :, 0].astype(float)
    ok = (f > 600) & (h > 0)
    climb = z[None, :] - z[:, None]  # destination above origin
    up, down = ok & (climb > 25), ok & (climb < -25)
    assert up.sum() > 30 and down.sum() > 30
    ratio = h / np.where(f > 0, f, 1)
    # trips climbing 25+ m are slowed down; the same trips the other way are less so (descents beyond 5 % are slowed
    # by Tobler too, and real trips go over bumps)
    print(f"median hilly/flat ratio: up {np.median(ratio[up]):.3f}, down {np.median(ratio[down]):.3f}")
    assert np.median(ratio[up]) > 1.03
    assert np.median(ratio[up]) > np.median(ratio[down]) + 0.02
    assert np.median((h45 / np.where(h > 0, h, 1))[ok]) == pytest.approx(3.6 / 4.5, rel=0.02)
