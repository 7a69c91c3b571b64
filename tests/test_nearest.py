"""`access.nearest_times` against the minimum over the full matrix, on real data, integer for integer.

Streets (walk, bike, car) on Porto Alegre (hexagon centroids, venues drawn among them, some venues at the very
place of a cell) and on central Nantes (a grid of cells, the extract's real cultural venues read from OSM tags);
transit (walk + EPTC/TRENSURB, walk + SEMITAN) against the percentile of the per-minute minimum over a full
per-minute matrix.
"""

from __future__ import annotations

import datetime as dt
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import access
from access.core.raptor import percentile_index

from .conftest import data_file


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


@pytest.fixture(scope="module")
def poa_net(tmp_path_factory):
    return _quiet(access.TransportNetwork.from_files, data_file("porto_alegre", "poa_osm.pbf"),
                  gtfs=[data_file("porto_alegre", "poa_eptc.zip"), data_file("porto_alegre", "poa_trensurb.zip")],
                  cache_dir=tmp_path_factory.mktemp("poa_nearest"))


@pytest.fixture(scope="module")
def poa_points():
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(3)
    cells = hx.iloc[np.sort(rng.choice(len(hx), 400, replace=False))][["id", "lon", "lat"]].reset_index(drop=True)
    v = hx.iloc[np.sort(rng.choice(len(hx), 40, replace=False))][["id", "lon", "lat"]].reset_index(drop=True)
    v["id"] = "v" + v["id"].astype(str)
    # a category with one venue only, one with venues everywhere, one tiny one far out
    v["category"] = rng.choice(["library", "cinema", "museum"], len(v), p=[0.6, 0.3, 0.1])
    v.loc[0, "category"] = "theatre"
    v = pd.concat([v, cells.iloc[[5, 17]].assign(id=["vx", "vy"], category="library")], ignore_index=True)
    return cells, v


@pytest.fixture(scope="module")
def nantes(tmp_path_factory):
    from access.region.osm_venues import read_osm_venues

    pbf = data_file("nantes", "nantes_subset.osm.pbf")
    net = _quiet(access.TransportNetwork.from_files, pbf, gtfs=[data_file("nantes", "semitan_gtfs_2014_subset.zip")],
                 cache_dir=tmp_path_factory.mktemp("nantes_nearest"))
    venues = _quiet(read_osm_venues, pbf)
    w = net.street("walk")
    lon0, lon1 = np.quantile(w.node_lon, [0.05, 0.95])
    lat0, lat1 = np.quantile(w.node_lat, [0.05, 0.95])
    lo, la = np.meshgrid(np.linspace(lon0, lon1, 18), np.linspace(lat0, lat1, 14))
    cells = pd.DataFrame({"id": [f"c{i}" for i in range(lo.size)], "lon": lo.ravel(), "lat": la.ravel()})
    return net, cells, venues


def _venues_frame(v):
    if isinstance(v, gpd.GeoDataFrame):
        return v[["id", "category"]].assign(id=v["id"].astype(str))
    return v[["id", "category"]].assign(id=v["id"].astype(str))


def _min_over_matrix(ttm, venues, col="travel_time"):
    df = ttm.to_frame()
    cat = _venues_frame(venues).set_index("id")["category"]
    df["category"] = df["to_id"].astype(str).map(cat)
    m = df.groupby(["from_id", "category"])[col].min().fillna(np.inf)
    return m


def _check_street(net, cells, venues, mode):
    near = _quiet(access.nearest_times, net, cells, venues, mode=mode)
    ttm = _quiet(access.travel_time_matrix, net, cells, venues, mode=mode, max_time_min=24 * 60, progress=False)
    ref = _min_over_matrix(ttm, venues)
    got = near.set_index(["id", "category"])["travel_time"]
    assert len(near) == len(cells) * venues["category"].nunique()
    assert list(near.columns) == ["id", "category", "travel_time"]
    ref = ref.reindex(got.index)
    np.testing.assert_array_equal(got.to_numpy(), ref.to_numpy())  # exact (integer seconds / 60 on both sides)
    return near


@pytest.mark.parametrize("mode", ["walk", "bike", "car"])
def test_streets_equal_min_over_full_matrix_porto_alegre(poa_net, poa_points, mode):
    cells, venues = poa_points
    near = _check_street(poa_net, cells, venues, mode)
    t = near["travel_time"].to_numpy()
    # not trivial: cells in place of a venue (0 min), far cells, unsnapped cells (inf)
    assert (t == 0).sum() >= 2 and np.isfinite(t).mean() > 0.9 and np.isinf(t).any()
    assert t[np.isfinite(t)].max() > 20


@pytest.mark.parametrize("mode", ["walk", "bike", "car"])
def test_streets_equal_min_over_full_matrix_nantes(nantes, mode):
    net, cells, venues = nantes
    assert venues["category"].nunique() >= 4 and len(venues) >= 20
    near = _check_street(net, cells, venues, mode)
    assert np.isfinite(near["travel_time"]).mean() > 0.9


def test_street_cap_and_single_group(poa_net, poa_points):
    cells, venues = poa_points
    near = _quiet(access.nearest_times, poa_net, cells, venues, mode="walk", by=None)
    assert set(near["category"]) == {"any"} and len(near) == len(cells)
    per_cat = _quiet(access.nearest_times, poa_net, cells, venues, mode="walk")
    np.testing.assert_array_equal(near["travel_time"].to_numpy(),
                                  per_cat.groupby("id", sort=False)["travel_time"].min().to_numpy())
    capped = _quiet(access.nearest_times, poa_net, cells, venues, mode="walk", by=None, max_time_min=10)
    t, c = near["travel_time"].to_numpy(), capped["travel_time"].to_numpy()
    np.testing.assert_array_equal(c, np.where(t <= 10, t, np.inf))
    with pytest.raises(access.ValidationError, match="`by` must name a column"):
        access.nearest_times(poa_net, cells, venues, mode="walk", by="kind")


def _check_transit(net, cells, venues, departure, window_min, percentiles, max_time_min):
    kw = dict(mode="transit", departure=departure, window_min=window_min, max_time_min=max_time_min)
    near = _quiet(access.nearest_times, net, cells, venues, percentiles=percentiles, **kw)
    ttm = _quiet(access.travel_time_matrix, net, cells, venues, percentiles=(50,), per_minute=True,
                 progress=False, **kw)
    pm = ttm.per_minute_s.astype(np.int64)  # [n_o, n_d, n_min], -1 unreachable
    pm = np.where(pm < 0, np.iinfo(np.int64).max, pm)
    cat = _venues_frame(venues)["category"].to_numpy()
    cats = np.unique(cat)
    idx = percentile_index([float(p) for p in percentiles], window_min)
    cols = ["travel_time"] if len(percentiles) == 1 else [f"travel_time_p{p:g}" for p in percentiles]
    for c in cats:
        per_min = np.sort(pm[:, cat == c, :].min(axis=1), axis=1)  # earliest arrival at any venue, per minute
        for k, col in enumerate(cols):
            v = per_min[:, idx[k]]
            ref = np.where(v > max_time_min * 60, np.inf, v / 60.0)
            got = near.loc[near["category"] == c, col].to_numpy()
            np.testing.assert_array_equal(got, ref)
    return near, pm


def test_transit_equals_percentile_of_per_minute_min_porto_alegre(poa_net, poa_points):
    cells, venues = poa_points
    near, pm = _check_transit(poa_net, cells.iloc[:200], venues, dt.datetime(2019, 5, 13, 14, 0), 20,
                              (5, 50, 95), 60)
    finite = np.isfinite(near["travel_time_p50"])
    assert 0.5 < finite.mean() < 1.0
    # the nearest venue differs between minutes for some cells (the per-minute argmin moves)
    arg = pm.argmin(axis=1)
    assert (arg.min(axis=1) != arg.max(axis=1)).any()


def test_transit_equals_percentile_of_per_minute_min_nantes(nantes):
    net, cells, venues = nantes
    near, _ = _check_transit(net, cells, venues, dt.datetime(2014, 6, 10, 8, 0), 15, (50,), 45)
    assert np.isfinite(near["travel_time"]).mean() > 0.5


@pytest.mark.parametrize("max_walk_min,max_time_min", [(None, 90), (15, 45)])
def test_transit_cuts_keep_every_minute(poa_net, poa_points, max_walk_min, max_time_min):
    """The bounded access walks, the per-category access filter, the shrinking horizon and the early stop of
    `transit_nearest_s` leave every per-minute time as the plain backward range-RAPTOR over the merged venues gives
    it (walk limits long enough for every cell and short enough that many cells walk to no venue at all)."""
    from access.matrix import transit_options
    from access.options import StreetOptions
    from access.routing.nearest import transit_nearest_s
    from access.routing.street import graph_at_speed, snap_points
    from access.routing.transit import transit_columns_to

    cells, venues = poa_points
    o, d = access.io.places.read_points(cells), access.io.places.read_points(venues)
    so = StreetOptions()
    to = transit_options(poa_net, None, departure=dt.datetime(2019, 5, 13, 7, 30), window_min=12,
                         percentiles=(10, 50, 90), max_walk_min=max_walk_min, max_rides=None)
    g = graph_at_speed(poa_net.street("walk"), so.walk_speed_kmh)
    o_snap, d_snap = _quiet(snap_points, g, o, d, so.max_snap_m)
    cats, groups = np.unique(venues["category"].to_numpy(dtype=object), return_inverse=True)
    kw = dict(options=to, street=so, max_time_s=max_time_min * 60, per_minute=True)
    got, got_pm = transit_nearest_s(poa_net, o_snap, d_snap, groups, len(cats), o=o, d=d, **kw)
    ref, ref_pm = transit_columns_to(poa_net, o_snap, d_snap, origin_points=o, dest_points=d,
                                     dest_groups=(groups, len(cats)), **kw)
    np.testing.assert_array_equal(got_pm, ref_pm)
    np.testing.assert_array_equal(got, ref)
    reach = got_pm >= 0
    assert 0.05 < reach.mean() < 1.0 and (got_pm[reach] > 20 * 60).any()


def test_transit_refuses_what_it_does_not_model(poa_net, poa_points):
    cells, venues = poa_points
    for opt, name in [(dict(access_mode="bike"), "access_mode"), (dict(frequencies="monte_carlo"), "frequencies")]:
        with pytest.raises(access.ValidationError, match=f"transit.{name}"):
            _quiet(access.nearest_times, poa_net, cells.iloc[:5], venues, mode="transit",
                   transit=access.TransitOptions(**opt), departure=dt.datetime(2019, 5, 13, 14, 0), window_min=5)
