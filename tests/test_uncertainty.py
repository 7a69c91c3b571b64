"""Uncertainty of accessibility on real data (Porto Alegre walk + EPTC buses, 2019-05-13 14:00): per-minute
accessibility against separate single-minute runs and a numpy twin, area distributions against
``indicators.aggregate``, stability of siting choices over departure minutes, and class stability."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from access import siting as st
from access import uncertainty as un
from access._errors import ValidationError

from .conftest import data_file

DEP = dt.datetime(2019, 5, 13, 14, 0)
WINDOW = 4
MAX_MIN = 60.0


@pytest.fixture(scope="module")
def transit_net(tmp_path_factory):
    from access import TransportNetwork

    try:
        return TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                           gtfs=[data_file("porto_alegre", "poa_eptc.zip")], modes=["walk"],
                                           cache_dir=tmp_path_factory.mktemp("poa_transit"))
    except ImportError as e:  # pragma: no cover - transit module not available
        pytest.skip(f"transit routing not available: {e}")


@pytest.fixture(scope="module")
def cells(poa_hexgrid, transit_net):
    g = transit_net.street("walk")
    ok = g.snap(poa_hexgrid.lon, poa_hexgrid.lat, warn=False).snapped
    return poa_hexgrid[ok].reset_index(drop=True)


@pytest.fixture(scope="module")
def origins(cells):
    return cells.sample(40, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def dests(cells):
    return cells[cells["healthcare"] > 0].reset_index(drop=True)


def _ttm(net, o, d, dep, window, per_minute=True):
    from access.matrix import travel_time_matrix

    return travel_time_matrix(net, o[["id", "lon", "lat"]], d[["id", "lon", "lat"]], mode="transit", departure=dep,
                              window_min=window, max_time_min=MAX_MIN, per_minute=per_minute, progress=False)


@pytest.fixture(scope="module")
def ttm(transit_net, origins, dests):
    return _ttm(transit_net, origins, dests, DEP, WINDOW)


def test_per_minute_mean_equals_single_minute_runs(transit_net, origins, dests, ttm):
    opp = dests["healthcare"].to_numpy(float)
    pm = un.per_minute_accessibility(ttm, opp, cutoff_min=30)
    assert pm.values.shape == (len(origins), WINDOW)
    singles = []
    for m in range(WINDOW):
        one = _ttm(transit_net, origins, dests, DEP + dt.timedelta(minutes=m), 1, per_minute=False)
        singles.append(un.accessibility_from_percentile(one, opp, cutoff_min=30))
    singles = np.column_stack(singles)
    assert np.array_equal(pm.values, singles)
    summ = pm.summary()
    assert np.allclose(summ["mean"].to_numpy(), singles.mean(axis=1))
    assert (summ["p5"] <= summ["p50"]).all() and (summ["p50"] <= summ["p95"]).all()
    assert pm.values.std(axis=1).max() > 0  # the departure minute matters on this real feed


def test_cumulative_and_nearest_numpy_twin(ttm, dests):
    opp = dests["healthcare"].to_numpy(float)
    t = ttm.per_minute_s
    within = (t >= 0) & (t <= 30 * 60)
    twin = (within * opp[None, :, None]).sum(axis=1)
    assert np.allclose(un.per_minute_accessibility(ttm, opp, cutoff_min=30).values, twin)
    near = un.per_minute_accessibility(ttm, opp, measure="nearest").values
    tt = np.where(t < 0, np.inf, t / 60.0)
    assert np.array_equal(near, tt.min(axis=1))


def test_area_distribution_matches_aggregate(ttm, origins, dests):
    import geopandas as gpd
    from shapely.geometry import box

    from access.indicators import aggregate

    opp = dests["healthcare"].to_numpy(float)
    pm = un.per_minute_accessibility(ttm, opp, cutoff_min=30)
    cg = gpd.GeoDataFrame(origins[["id", "population"]], geometry=gpd.points_from_xy(origins.lon, origins.lat),
                          crs="EPSG:4326")
    xm = float(origins.lon.median())
    areas = gpd.GeoDataFrame({"id": ["w", "e"]}, geometry=[box(-52, -31, xm, -29), box(xm, -31, -50, -29)],
                             crs="EPSG:4326")
    dist = un.area_distribution(pm, cg, areas, interval=(5, 95))
    per = dist.attrs["per_minute"]
    for m in range(WINDOW):
        vals = pd.DataFrame({"id": origins["id"], "acc": pm.values[:, m]})
        ag = aggregate(vals, cg, areas, count_columns=["acc"], time_columns=[], inequality_columns=[])
        assert np.allclose(per[m].to_numpy(), ag["acc_mean"].to_numpy())
    assert (dist["p5"] <= dist["mean"] + 1e-9).all() and (dist["mean"] <= dist["p95"] + 1e-9).all()
    assert np.allclose(dist["mean"], per.to_numpy().mean(axis=1))
    near = un.per_minute_accessibility(ttm, opp, measure="nearest")
    with pytest.raises(ValidationError, match="threshold_min"):
        un.area_distribution(near, cg, areas)
    d2 = un.area_distribution(near, cg, areas, threshold_min=20)
    assert d2["p95"].between(0, 1).all()


def test_site_stability_over_departure_minutes(transit_net, origins, dests):
    ct = st.candidate_times(transit_net, origins, dests.head(12), mode="transit", departure=DEP, window_min=WINDOW,
                            max_time_min=MAX_MIN, per_minute=True)
    assert ct.n_minutes == WINDOW
    # the percentile columns equal the matrix's
    m0 = ct.at_minute(0)
    assert np.array_equal(m0.dense(), ct.per_minute_s[:, :, 0])
    pop = origins["population"].to_numpy(float)
    res = st.maximal_coverage(ct, pop, 2, threshold_min=30)
    variants = un.siting_variants(lambda t, **kw: st.maximal_coverage(t, pop, 2, **kw), ct, threshold_min=30,
                                  thresholds_min=(25, 35))
    assert len(variants) == WINDOW + 2
    per = un.site_stability(res, variants)
    assert res.table["stability"].between(0, 1).all()
    assert 0 <= res.details["stability"]["mean_jaccard"] <= 1
    # a variant identical to the result is fully stable
    same = st.maximal_coverage(ct, pop, 2, threshold_min=30)
    un.site_stability(same, {"copy": res})
    assert (same.table["stability"] == 1.0).all()
    assert len(per) == WINDOW + 2


def test_class_and_typology_stability():
    classes = pd.DataFrame({"base": ["a", "b", "c"], "v1": ["a", "b", "b"], "v2": ["a", "c", "b"]},
                           index=["x", "y", "z"])
    s = un.class_stability(classes)
    assert s["stability"].tolist() == [1.0, 0.5, 0.0]
    assert s.loc["z", "modal_class"] == "b"
    t = pd.DataFrame({"id": ["a", "b", "c", "d"], "venues_per_10k_cinema": [1., 5., 5., 1.],
                      "time_car_cinema_mean": [40., 10., 10., 40.], "poverty_rate": [.3, .1, .3, .1]})
    t2 = t.assign(time_car_cinema_mean=[40., 10., 10., 12.])
    ts = un.typology_stability({"base": t, "slower": t, "faster": t2})
    assert ts.loc["a", "stability"] == 1.0
    assert ts.loc["d", "stability"] < 1.0
    with pytest.raises(ValidationError, match="empty"):
        un.typology_stability({})


def test_typology_stability_over_departure_minutes(ttm, origins, dests):
    import geopandas as gpd
    from shapely.geometry import box

    opp = dests["healthcare"].to_numpy(float)
    near = un.per_minute_accessibility(ttm, opp, measure="nearest")
    cg = gpd.GeoDataFrame(origins[["id", "population"]], geometry=gpd.points_from_xy(origins.lon, origins.lat),
                          crs="EPSG:4326")
    xm, ym = float(origins.lon.median()), float(origins.lat.median())
    areas = gpd.GeoDataFrame({"id": ["sw", "se", "nw", "ne"]},
                             geometry=[box(-52, -31, xm, ym), box(xm, -31, -50, ym), box(-52, ym, xm, -29),
                                       box(xm, ym, -50, -29)], crs="EPSG:4326")
    dist = un.area_distribution(near, cg, areas, threshold_min=30)
    base = pd.DataFrame({"id": ["sw", "se", "nw", "ne"], "venues_per_10k": [1.0, 2.0, 1.5, 0.5],
                         "poverty_rate": [0.3, 0.1, 0.2, 0.25]})
    tables = un.minute_area_tables(dist, base, column="time_nearest_share_within_30min")
    assert len(tables) == WINDOW
    m0 = tables["minute 0"]["time_nearest_share_within_30min"].to_numpy()
    assert np.allclose(m0, dist.attrs["per_minute"][0].reindex(base["id"]).to_numpy())
    ts = un.typology_stability(tables, baseline="minute 0")
    assert list(ts.index) == ["sw", "se", "nw", "ne"]
    assert ts["stability"].between(0, 1).all()
    assert set(ts["class"]) <= set(__import__("access").indicators.CLASSES)
