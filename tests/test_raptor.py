"""RAPTOR core against the naive Connection Scan twin, on real feeds (Clermont-Ferrand T2C, Porto Alegre EPTC).

Tolerance: none. Arrival times are integer seconds and must be equal at every stop.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest

from access.core import raptor as rp
from access.network.transit import Timetable
from access.routing.transit import BOARD_SLACK_S

from .conftest import data_file
from .twins_transit import day_connections, earliest_arrival

MAX_TIME = 3 * 3600


def _build(*parts_list):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Timetable.build([data_file(*p) for p in parts_list], max_transfer_walk_min=5)


@pytest.fixture(scope="module")
def clermont():
    return _build(("clermont_ferrand", "t2c_gtfs_2024.zip"))


@pytest.fixture(scope="module")
def eptc():
    return _build(("porto_alegre", "poa_eptc.zip"))


def _feeds(tt):
    from access.io.gtfs import read_feeds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_feeds([f["path"] for f in tt.meta["feeds"]])


def _profiles(tt, day, sources, deps, K, range_mode=True):
    x = tt.transfers_csr()
    src_off = np.arange(len(sources) + 1, dtype=np.int64)
    return rp.stop_profiles(src_off, np.asarray(sources, np.int32), np.zeros(len(sources), np.int32),
                            np.asarray(deps, np.int32), K, MAX_TIME, BOARD_SLACK_S, *day.kernel_args(), *x, 4,
                            range_mode)


def _check_twin(tt, date, hours, n, seed, K):
    day = tt.for_date(date)
    conn = day_connections(_feeds(tt), date, tt.stop_index())
    rng = np.random.default_rng(seed)
    x = tt.transfers_csr()
    n_reached = 0
    # sources: stops where some vehicle leaves within the hours (random connection), leaving up to 10 min before
    in_win = np.flatnonzero((conn["dep"] >= hours[0] * 3600) & (conn["dep"] < hours[1] * 3600) & conn["pick"])
    assert len(in_win) > 0
    for _ in range(n):
        c = int(rng.choice(in_win))
        s = int(conn["u"][c])
        t = int(conn["dep"][c]) - int(rng.integers(0, 600))
        got = _profiles(tt, day, [s], [t], K)[0, 0]
        want = earliest_arrival(conn, tt.n_stops, [s], [0], t, K, BOARD_SLACK_S, MAX_TIME, x)
        bad = np.flatnonzero(got != want)
        assert len(bad) == 0, (f"source {tt.stop_id[s]} at {t}s: {len(bad)} stops differ, e.g. stop "
                               f"{tt.stop_id[bad[0]]}: raptor {got[bad[0]]} twin {want[bad[0]]}")
        n_reached += int((got < rp.INF).sum())
    assert n_reached > n * 10  # the queries reach many stops, the comparison is not vacuous


@pytest.mark.parametrize("K", [1, 3])
def test_clermont_equals_connection_scan(clermont, K):
    _check_twin(clermont, dt.date(2024, 3, 12), (6, 21), 25, seed=K, K=K)


def test_clermont_after_midnight_equals_connection_scan(clermont):
    # departures between 23:00 and 00:59: previous-day trips (times over 24:00) and next-day trips involved
    _check_twin(clermont, dt.date(2024, 3, 13), (0, 1), 10, seed=7, K=3)
    _check_twin(clermont, dt.date(2024, 3, 12), (23, 24), 10, seed=8, K=3)


def test_eptc_equals_connection_scan(eptc):
    _check_twin(eptc, dt.date(2019, 5, 13), (11, 16), 25, seed=3, K=3)


def test_range_equals_single_departures(clermont):
    day = clermont.for_date(dt.date(2024, 3, 12))
    rng = np.random.default_rng(11)
    src = rng.choice(np.flatnonzero(clermont.stop_used), 6)
    deps = 8 * 3600 + 60 * np.arange(30)
    r = _profiles(clermont, day, src, deps, 3, range_mode=True)
    s = _profiles(clermont, day, src, deps, 3, range_mode=False)
    # range labels may hold arrivals beyond this minute's cutoff (they came from later departures): compare within it
    lim = deps[None, :, None] + MAX_TIME
    r = np.where(r <= lim, r, rp.INF)
    assert (r == s).all()
    # later departures never arrive earlier
    both = (s[:, 1:] < rp.INF) & (s[:, :-1] < rp.INF)
    assert (np.diff(s.astype(np.int64), axis=1)[both] >= 0).all()


def test_more_rides_never_worse(clermont):
    day = clermont.for_date(dt.date(2024, 3, 12))
    src = np.flatnonzero(clermont.stop_used)[:5]
    a = [_profiles(clermont, day, src, [9 * 3600], k).astype(np.int64) for k in (0, 1, 2, 4)]
    for lo, hi in zip(a, a[1:]):
        assert (hi <= lo).all()
    assert (a[0][a[0] < rp.INF] == 9 * 3600).all()  # no ride: only the sources
    assert (a[2] < a[1]).sum() > 0


def test_percentile_index_nearest_rank():
    # R5: ceil(p/100*n) - 1 on the sorted list
    assert list(rp.percentile_index([5, 25, 50, 75, 95], 120)) == [5, 29, 59, 89, 113]
    assert list(rp.percentile_index([0, 100], 10)) == [0, 9]
    assert list(rp.percentile_index([50], 1)) == [0]
    assert list(rp.percentile_index([50], 9)) == [4]


def test_percentile_selection_equals_a_full_sort():
    """The matrix kernels select the nearest-rank elements (quickselect, fast paths) instead of sorting: the same
    integers as R5's rule on the sorted per-minute times, on random windows with ties and unreachable minutes."""
    from access.core.raptor import BIG, INF, _reduce_minutes, percentile_index

    rng = np.random.default_rng(4)
    for trial in range(3000):
        n = int(rng.integers(1, 150))
        kind = trial % 4
        tt = rng.integers(0, 7200 if kind else 30, n).astype(np.int32)  # kind 0: many ties
        tt[rng.random(n) < (0.0, 0.3, 0.9, 1.0)[kind]] = BIG
        if trial % 7 == 0:
            tt[:] = tt[0]
        pcts = rng.choice([0, 1, 5, 25, 50, 75, 95, 99, 100], int(rng.integers(1, 7)))
        pidx = percentile_index(pcts, n)
        max_s = 5400
        ref = np.sort(np.where(tt > max_s, INF, tt))[pidx]
        ref = np.where(ref == INF, -1, ref)
        times = np.full((1, 1, len(pidx)), -7, np.int32)
        pm = np.empty((1, 1, n), np.int32)
        _reduce_minutes(tt.copy(), 0, 0, max_s, pidx, np.empty(n, np.int32), times, pm, True)
        np.testing.assert_array_equal(times[0, 0], ref)
