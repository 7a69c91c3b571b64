"""Walk + transit matrices and itineraries on Porto Alegre (OSM + EPTC + TRENSURB), against a naive twin.

The twin: street walks by scipy's Dijkstra (per seed node, combined by hand), stop arrivals by the Connection
Scan twin, per departure minute. Tolerance: none (integer seconds).
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from access.core import raptor as rp
from access.routing.transit import BOARD_SLACK_S, EGRESS_WALK_LIMIT_M, transit_travel_times

from .conftest import data_file
from .twins_transit import day_connections, earliest_arrival_and_ride

DEP = dt.datetime(2019, 5, 13, 14, 0)
MAX_TIME = 5400
MAX_WALK = 1500


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from access.network.bundle import TransportNetwork

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        n = TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                        gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                              data_file("porto_alegre", "poa_trensurb.zip")],
                                        modes=("walk",), cache_dir=tmp_path_factory.mktemp("poa_transit"))
    n._build_warnings = [str(x.message) for x in w]
    return n


@pytest.fixture(scope="module")
def points(net):
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(5)
    walk = net.street("walk")
    snap = walk.snap(hx["lon"].to_numpy(), hx["lat"].to_numpy(), max_snap_m=500, warn=False)
    ok = np.flatnonzero(snap.snapped)
    o = rng.choice(ok, 4, replace=False)
    d = rng.choice(ok, 60, replace=False)
    return hx, snap, o, d


def _seeded(csg, mat, nodes, costs):
    """min over seeds of (seed cost + scipy Dijkstra distance from the seed node)."""
    best = np.full(mat.shape[0], np.inf)
    for n_, c_ in zip(nodes, costs):
        if n_ >= 0 and c_ >= 0:
            best = np.minimum(best, c_ + csg.dijkstra(mat, directed=True, indices=int(n_)))
    return best


def _reach(dist, nodes, costs):
    """min over a point's (node, cost) pairs of dist[node] + cost (nodes: [k, 2])."""
    out = np.full(nodes.shape[0], np.inf)
    for j in range(nodes.shape[1]):
        ok = (nodes[:, j] >= 0) & (costs[:, j] >= 0)
        out[ok] = np.minimum(out[ok], dist[nodes[ok, j]] + costs[ok, j])
    return out


def test_unlinked_stops_reported_once(net):
    msgs = [m for m in net._build_warnings if "stay unlinked" in m]
    assert len(msgs) == 1
    n_unl = net.timetable.meta["n_unlinked"]
    assert 1000 < n_unl < 2500 and f"{n_unl} of" in msgs[0]  # ~1,500 EPTC stops lie outside the OSM extract


def test_matrix_equals_naive_twin(net, points):
    import scipy.sparse.csgraph as csg

    hx, snap, o, d = points
    tt = net.timetable
    walk = net.street("walk")
    window = 8
    times, pm = transit_travel_times(net, snap.subset(o), snap.subset(d), departure=DEP, window_min=window,
                                     percentiles=(5, 50, 95), max_time_s=MAX_TIME, max_walk_s=MAX_WALK, max_rides=3,
                                     per_minute=True, progress=False)
    assert times.shape == (4, 60, 3) and pm.shape == (4, 60, window)

    mat = walk.to_scipy()
    rmat = mat.T.tocsr()
    stop_acc_n, stop_acc_c = np.asarray(tt.stop_access_node), np.asarray(tt.stop_access_cost_s)
    stop_eg_n, stop_eg_c = np.asarray(tt.stop_egress_node), np.asarray(tt.stop_egress_cost_s)
    max_egress = min(MAX_WALK, round(EGRESS_WALK_LIMIT_M / 1.0))  # 3.6 km/h = 1 m/s
    # egress: for each destination, seconds from every stop
    eg = np.full((len(d), tt.n_stops), np.inf)
    for j, dj in enumerate(d):
        dist = _seeded(csg, rmat, snap.egress_node[dj], snap.egress_cost_s[dj])
        e = _reach(dist, stop_acc_n, stop_acc_c)
        eg[j] = np.where(e <= max_egress, e, np.inf)
    conn = day_connections(_read_feeds(tt), DEP.date(), tt.stop_index())
    x = tt.transfers_csr()
    t0 = DEP.hour * 3600
    n_transit_better = 0
    for i, oi in enumerate(o):
        dist = _seeded(csg, mat, snap.access_node[oi], snap.access_cost_s[oi])
        acc = _reach(dist, stop_eg_n, stop_eg_c)
        direct = _reach(dist, snap.egress_node[d], snap.egress_cost_s[d])
        # two points on one street segment walk straight along it (connectors and edge at 1 m/s, both ways)
        e = snap.edge[oi]
        same = snap.edge[d] == e
        along = (np.rint(snap.distance_m[oi]) + np.rint(snap.distance_m[d])
                 + np.rint(np.abs(snap.fraction[d] - snap.fraction[oi]) * walk.travel_time_s[e]))
        direct = np.where(same, np.minimum(direct, along), direct)
        direct = np.where(direct <= MAX_WALK, direct, np.inf)
        src = np.flatnonzero(acc <= MAX_WALK)
        for m in range(window):
            t = t0 + 60 * m
            _, ride = earliest_arrival_and_ride(conn, tt.n_stops, src, acc[src].astype(np.int32), t, 3,
                                                BOARD_SLACK_S + 1, MAX_TIME, x)  # R5: dep > arr + 60
            r = np.where(ride < rp.INF, ride.astype(np.float64), np.inf)
            via = (r[None, :] + eg).min(axis=1) - t
            want = np.minimum(via, direct)
            n_transit_better += int((via < direct).sum())
            want = np.where(want <= MAX_TIME, want, -1).astype(np.int64)
            got = pm[i, :, m]
            bad = np.flatnonzero(got != want)
            assert len(bad) == 0, (f"origin {hx['id'][oi]} minute {m}: {len(bad)} destinations differ, e.g. "
                                   f"{got[bad[0]]} vs twin {want[bad[0]]}")
    assert n_transit_better > 20  # transit matters in this comparison
    # percentiles: R5's nearest rank over the per-minute times (unreachable sorted last)
    srt = np.sort(np.where(pm < 0, np.iinfo(np.int32).max, pm), axis=2)
    for k, p in enumerate((5, 50, 95)):
        idx = int(np.ceil(p / 100 * window)) - 1
        want = srt[:, :, idx]
        assert (times[:, :, k] == np.where(want == np.iinfo(np.int32).max, -1, want)).all()


def _read_feeds(tt):
    from access.io.gtfs import read_feeds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_feeds([f["path"] for f in tt.meta["feeds"]])


def test_window_percentiles_monotone_and_range(net, points):
    hx, snap, o, d = points
    times, pm = transit_travel_times(net, snap.subset(o[:2]), snap.subset(d), departure=DEP, window_min=30,
                                     percentiles=(5, 25, 50, 75, 95), max_time_s=MAX_TIME, max_walk_s=MAX_WALK,
                                     per_minute=True, progress=False)
    ok = (times >= 0).all(axis=2)
    assert ok.mean() > 0.5
    assert (np.diff(times[ok], axis=1) >= 0).all()  # p5 <= p25 <= ... <= p95
    # travel time + departure minute never decreases when leaving later (one can always wait)
    reach = (pm[:, :, :-1] >= 0) & (pm[:, :, 1:] >= 0)
    assert ((pm[:, :, 1:] + 60 - pm[:, :, :-1])[reach] >= 0).all()


def test_bundle_round_trip_same_times(net, points, tmp_path):
    from access.network.bundle import TransportNetwork

    hx, snap, o, d = points
    kw = dict(departure=DEP, window_min=5, percentiles=(50,), max_time_s=MAX_TIME, max_walk_s=MAX_WALK,
              progress=False)
    a, _ = transit_travel_times(net, snap.subset(o), snap.subset(d), **kw)
    net.save(tmp_path / "b")
    back = TransportNetwork.load(tmp_path / "b")
    b, _ = transit_travel_times(back, snap.subset(o), snap.subset(d), **kw)
    assert np.array_equal(a, b)


def test_route_legs_match_matrix(net, points):
    from access.routing.itinerary import route

    hx, snap, o, d = points
    _, pm = transit_travel_times(net, snap.subset(o), snap.subset(d), departure=DEP, window_min=1, percentiles=(),
                                 max_time_s=MAX_TIME, max_walk_s=MAX_WALK, per_minute=True, progress=False)
    n_rides = 0
    for i, oi in enumerate(o):
        for j in range(0, len(d), 6):
            dj = d[j]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                legs = route(net, (hx["lon"][oi], hx["lat"][oi]), (hx["lon"][dj], hx["lat"][dj]), DEP,
                             max_time_min=MAX_TIME / 60, max_walk_min=MAX_WALK / 60)
            if pm[i, j, 0] < 0:
                assert legs.empty
                continue
            total = (legs["arrival"].iloc[-1] - DEP).total_seconds()
            assert total == pm[i, j, 0]
            # chronological, each leg starting when (or after) the previous one ended
            assert (legs["departure"].iloc[1:].to_numpy() >= legs["arrival"].iloc[:-1].to_numpy()).all()
            assert (legs["duration_s"] >= 0).all()
            rides = legs[legs["kind"] == "ride"]
            n_rides += len(rides)
            assert len(rides) <= 3
            for r in rides.itertuples():
                assert r.trip_id and r.route_id and r.n_stops >= 1 and r.wait_s >= BOARD_SLACK_S
            if len(rides):
                assert legs["kind"].iloc[0] == "access" and legs["kind"].iloc[-1] == "egress"
            else:
                assert list(legs["kind"]) == ["direct"]
    assert n_rides > 0


def test_range_window_equals_separate_departures(net, points):
    hx, snap, o, d = points
    kw = dict(percentiles=(50,), max_time_s=MAX_TIME, max_walk_s=MAX_WALK, per_minute=True, progress=False)
    _, pm = transit_travel_times(net, snap.subset(o[:2]), snap.subset(d), departure=DEP, window_min=6, **kw)
    for m in range(6):
        _, one = transit_travel_times(net, snap.subset(o[:2]), snap.subset(d), window_min=1,
                                      departure=DEP + dt.timedelta(minutes=m), **kw)
        assert np.array_equal(pm[:, :, m], one[:, :, 0])


def test_transit_never_slower_than_walking_and_zero_in_place(net):
    """Direct walking is part of every transit trip: with walks allowed up to the time bound, the transit matrix is
    at most the walk matrix (same street rules: same segment, same place), and a point to itself takes 0 s."""
    import access

    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(11)
    pts = hx.iloc[np.sort(rng.choice(len(hx), 80, replace=False))][["id", "lon", "lat"]].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = access.travel_time_matrix(net, pts, mode="walk", max_time_min=45, progress=False).times_s[:, :, 0]
        t = access.travel_time_matrix(net, pts, mode="transit", departure=DEP, window_min=5, percentiles=(5, 95),
                                      max_time_min=45, progress=False).times_s
    for k in range(t.shape[2]):
        tk = t[:, :, k]
        reach_w = w >= 0
        assert np.all(tk[reach_w] >= 0)
        assert np.all(tk[reach_w] <= w[reach_w])
    snapped = w.diagonal() >= 0
    assert snapped.sum() > 60 and np.all(t[snapped, snapped, :] == 0)
