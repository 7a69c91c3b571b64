"""Slope-aware walk and bike times from r5r's Porto Alegre DEM (poa_elevation.tif, 1 arc-second, uint8 metres).

Laws: with the DEM, uphill edges slow down and gently downhill ones speed up (both directions of a street get
their own factor); a flat DEM changes nothing but R5's own flat-ground factor (1 / (1.2 exp(-0.175)): 0.73 %
faster, so only edges of 69 s and more lose a second); trips climbing from the waterfront are slower than the same
trips downhill. The DEM reader is checked against the raster's own pixels; the edge factors against a scalar
transcription of R5's Java loops (RasterDataSourceSampler.EdgeSampler, ElevationCostField.forEachElevationSegment,
ToblerCalculator) and hand-computed values; r5r's OTP cycling spline against scipy's FITPACK evaluation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import access
from access.network.elevation import (
    DEM,
    R5_METERS_PER_DEGREE_LATITUDE,
    edge_time_factors,
    otp_bike_speed_coefficient,
    r5_elevation_times,
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
    # R5's Tobler (ToblerCalculator.tobler): 1.2 exp(-3.5 |s + 0.05|), by hand
    assert tobler_speed_factor(np.array([0.0]))[0] == pytest.approx(1.2 * 0.8394570207692)
    assert tobler_speed_factor(np.array([-0.05]))[0] == pytest.approx(1.2)
    assert tobler_speed_factor(np.array([0.10]))[0] == pytest.approx(1.2 * 0.5915553717)  # exp(-0.525)
    # nearest pixel (R5 samples without interpolation)
    assert dem.sample_nearest(np.array([lon + 0.45 * dem.dlon]), np.array([lat - 0.45 * dem.dlat]))[0] == raw[r, c]
    assert np.isnan(dem.sample_nearest(np.array([dem.lon0 - 1]), np.array([lat]))[0])


def test_r5_rounding_by_hand():
    # an edge climbing 10 % all along: factor 1 / (1.2 exp(-0.525)) - 1 = 0.408716...; R5 adds Math.round(t * f)
    f = 1 / (1.2 * np.exp(-3.5 * 0.15)) - 1
    assert f == pytest.approx(0.408716, abs=1e-6)
    t = np.array([1, 2, 10, 100])
    assert r5_elevation_times(t, np.full(4, f)).tolist() == [1, 3, 14, 141]
    # a descent: never below 1 s
    assert r5_elevation_times(np.array([1, 3]), np.array([-0.9, -0.2])).tolist() == [1, 2]


def test_otp_bike_spline_against_fitpack():
    from scipy.interpolate import bisplev

    from access.network import elevation as el

    s = np.linspace(-0.34, 0.34, 41)
    for z in (0.0, 35.0, 1200.0):
        want = np.array([bisplev(z, x, (el._OTP_TX, el._OTP_TY, el._OTP_C, 2, 2)) for x in s])
        assert np.allclose(otp_bike_speed_coefficient(s, z), want, rtol=1e-12, atol=1e-12)
    # slower uphill, faster downhill, about 1 on the flat at sea level
    c = otp_bike_speed_coefficient(np.array([-0.05, 0.0, 0.05]), 0.0)
    assert c[0] > 1.5 and abs(c[1] - 1) < 0.01 and c[2] < 0.5


def _java_factor(g, dem, e):
    """R5's factor of edge ``e`` by a scalar transcription of the Java loops (canonical twin = lower edge id)."""
    rev = int(g.reverse_edge[e])
    c, invert = (e, False) if rev < 0 or e < rev else (rev, True)
    xy = np.asarray(g.geom_lonlat[g.geom_offsets[c]:g.geom_offsets[c + 1]], float)

    def z_dm(lon, lat):
        v = dem.sample_nearest(np.array([lon]), np.array([lat]))[0]
        return np.floor(v * 10 + 0.5) / 10

    samples = []
    if g.length_m[c] >= 10:
        cos_lat = np.cos(np.radians(xy[0, 1]))
        to_next = 10.0
        for (lon0, lat0), (lon1, lat1) in zip(xy[:-1], xy[1:]):
            dx, dy = lon1 - lon0, lat1 - lat0
            length = np.hypot(cos_lat * dx, dy) * R5_METERS_PER_DEGREE_LATITUDE
            cur_lon, cur_lat, remaining = lon0, lat0, length
            while remaining >= to_next:
                frac = to_next / length
                cur_lon += dx * frac
                cur_lat += dy * frac
                samples.append(z_dm(cur_lon, cur_lat))
                remaining -= to_next
                to_next = 10.0
            to_next -= remaining
    tail = int(g.tail[c])
    prev = z_dm(g.node_lon[tail], g.node_lat[tail])
    end = z_dm(g.node_lon[g.head[c]], g.node_lat[g.head[c]])
    remaining = float(g.length_m[c])
    wsum = xsum = 0.0
    for z in samples:
        dz = (prev - z) if invert else (z - prev)
        wsum += 10 * 1.2 * np.exp(-3.5 * abs(dz / 10 + 0.05))
        xsum += 10
        remaining -= 10
        prev = z
    if 0 <= remaining <= 10.5 and remaining > 0:
        dz = (prev - end) if invert else (end - prev)
        wsum += remaining * 1.2 * np.exp(-3.5 * abs(dz / remaining + 0.05))
        xsum += remaining
    return float(np.float32(1 / (wsum / xsum) - 1)) if xsum > 0 else 0.0


def test_factors_equal_r5_java_loops(flat, dem_path):
    dem = read_dem(dem_path)
    g = flat.street("walk")
    f = edge_time_factors(g, dem)
    rng = np.random.default_rng(7)
    edges = rng.choice(g.n_edges, 400, replace=False)
    want = np.array([_java_factor(g, dem, int(e)) for e in edges])
    # edges reaching beyond the raster: R5 reads 0 m there (false cliffs), we leave those segments out (the twin
    # gives NaN); every other edge matches
    inside = np.isfinite(want)
    assert inside.mean() > 0.9
    assert np.allclose(f[edges][inside], want[inside], rtol=1e-5, atol=1e-6)


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
        # gentle descents are much faster than the same street climbed. (Not faster than flat here: this DEM is
        # whole metres on 30 m pixels and R5 samples it without interpolation every 10 m, so a gentle descent is
        # flat steps and steep drops at pixel edges, which Tobler slows; the smooth DEM test below shows descents
        # speeding up.)
        rd = g0.reverse_edge[down]
        okd = rd >= 0
        assert np.mean(t1[down][okd] <= t1[rd[okd]]) > 0.85 and np.median(t1[down][okd] / t1[rd[okd]]) < 0.97, mode
        # both directions: the reverse of an uphill edge is faster than the edge itself
        r = g0.reverse_edge[up]
        ok = r >= 0
        assert np.mean(t1[r[ok]] <= t1[up][ok]) > 0.85


def test_smooth_slope_descents_faster(flat):
    """A plane tilted 3 % eastward, 10 m pixels in float metres: streets running east slow down (R5's Tobler at
    +3 % is 0.84 x the flat speed), those running west speed up (near Tobler's -5 % optimum)."""
    g = flat.street("walk")
    lon0, lat0, d = -51.27, -29.98, 1e-4
    w, h = int(0.15 / d), int(0.14 / d)
    x_m = (np.arange(w) + 0.5) * d * 111_320 * np.cos(np.radians(-30.05))
    dem = DEM(np.tile(0.03 * x_m, (h, 1)), lon0, lat0, d, d)
    t0 = g.travel_time_s.astype(float)
    t1 = r5_elevation_times(g.travel_time_s, edge_time_factors(g, dem)).astype(float)
    dx = g.node_lon[g.head] - g.node_lon[g.tail]
    dy = g.node_lat[g.head] - g.node_lat[g.tail]
    east = (g.length_m > 60) & (dx > 3 * np.abs(dy))
    west = (g.length_m > 60) & (-dx > 3 * np.abs(dy))
    assert east.sum() > 200 and west.sum() > 200
    assert np.mean(t1[east] > t0[east]) > 0.95
    assert np.mean(t1[west] < t0[west]) > 0.9
    assert np.median(t1[west] / t0[west]) < 0.95 < 1.1 < np.median(t1[east] / t0[east])


def test_flat_dem_changes_nothing(flat, dem_path, tmp_path):
    from PIL import Image

    src = Image.open(dem_path)
    img = Image.fromarray(np.full((src.size[1], src.size[0]), 42, np.uint8), mode="L")
    info = {k: src.tag_v2[k] for k in (33550, 33922, 34735, 34736, 34737)}
    img.save(tmp_path / "flat.tif", tiffinfo=info)
    dem = read_dem(tmp_path / "flat.tif")
    assert np.all(dem.z == 42)
    net = _build(tmp_path / "cache", elevation=tmp_path / "flat.tif")
    flat_f = float(np.float32(1 / (1.2 * np.exp(-0.175)) - 1))  # R5's flat-ground factor, -0.73 %
    for mode in ("walk", "bike"):
        t0, t1 = flat.street(mode).travel_time_s, net.street(mode).travel_time_s
        # no slope effect: every edge gets R5's flat-ground factor (those wholly beyond the raster none), so edges
        # under 69 s keep their time
        f = edge_time_factors(flat.street(mode), dem)
        assert set(np.unique(f)) <= {flat_f, 0.0} and np.mean(f == flat_f) > 0.9
        assert np.array_equal(t1, r5_elevation_times(t0, f))
        assert np.array_equal(t1[t0 < 69], t0[t0 < 69]) and np.all(t1 <= t0)
        # outside the raster: no change at all
        assert np.all(edge_time_factors(flat.street(mode), DEM(np.zeros((3, 3)), 10, 50, 1, 1)) == 0.0)


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
    # by Tobler too, and on this whole-metre DEM sampled without interpolation R5 sees steps at pixel edges)
    print(f"median hilly/flat ratio: up {np.median(ratio[up]):.3f}, down {np.median(ratio[down]):.3f}")
    assert np.median(ratio[up]) > 1.03
    assert np.median(ratio[up]) > np.median(ratio[down]) + 0.01
    assert np.median((h45 / np.where(h > 0, h, 1))[ok]) == pytest.approx(3.6 / 4.5, rel=0.02)


def test_network_build_cli_elevation(hilly, dem_path, tmp_path):
    from click.testing import CliRunner

    from access.cli import cli

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CliRunner().invoke(cli, ["network", "build", "--osm", str(data_file("porto_alegre", "poa_osm.pbf")),
                                       "--modes", "walk", "--elevation", str(dem_path), "--out", str(tmp_path / "n")])
    assert res.exit_code == 0, res.output
    net = access.TransportNetwork.load(tmp_path / "n")
    assert net.manifest["settings"]["elevation"] == str(dem_path)
    assert np.array_equal(net.street("walk").travel_time_s, hilly.street("walk").travel_time_s)
