"""Backward (latest-departure) range-RAPTOR columns against the forward transit matrix, on Porto Alegre (OSM + EPTC +
TRENSURB): the same per-minute travel times and percentiles, integer for integer.

(No Clermont-Ferrand street extract is in the shared data, so the second setting is another Porto Alegre one: a
late window where the feed thins out, another walking speed, shorter walks.)
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from access.io.places import Points
from access.routing.street import graph_at_speed
from access.routing.transit import transit_access, transit_columns_to, transit_travel_times

from .conftest import data_file


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    from access.network.bundle import TransportNetwork

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                           gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                                 data_file("porto_alegre", "poa_trensurb.zip")],
                                           modes=("walk",), cache_dir=tmp_path_factory.mktemp("poa_backward"))


@pytest.fixture(scope="module")
def hexgrid():
    return pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))


def _points(hx, idx, name):
    return Points(hx["id"].to_numpy()[idx], hx["lon"].to_numpy()[idx], hx["lat"].to_numpy()[idx], None, name)


def _both(net, hx, o, d, speed, **kw):
    """(forward, backward) results for origins ``o`` and destinations ``d`` (hexgrid rows) at walking ``speed``."""
    g = graph_at_speed(net.street("walk"), speed)
    snap = g.snap(hx["lon"].to_numpy(), hx["lat"].to_numpy(), max_snap_m=500, warn=False)
    kw.update(walk_speed_kmh=speed, origin_points=_points(hx, o, "origins"), dest_points=_points(hx, d, "dests"))
    fwd = transit_travel_times(net, snap.subset(o), snap.subset(d), progress=False, **kw)
    bwd = transit_columns_to(net, snap.subset(o), snap.subset(d), **kw)
    return fwd, bwd, snap


def _pick(hx, seed, n_o=150, n_d=10):
    """Origins and destinations; a few destinations are origins too (0 s in place) and the unsnapped cells of the
    grid are among the origins (unreachable rows)."""
    rng = np.random.default_rng(seed)
    o = np.sort(rng.choice(len(hx), n_o, replace=False))
    d = np.sort(np.concatenate([o[rng.choice(n_o, 3, replace=False)],
                                rng.choice(np.setdiff1d(np.arange(len(hx)), o), n_d - 3, replace=False)]))
    return o, d


@pytest.mark.parametrize("max_rides", [3, 2, 1])
def test_backward_columns_equal_the_forward_matrix(net, hexgrid, max_rides):
    o, d = _pick(hexgrid, 7 + max_rides)
    kw = dict(departure=dt.datetime(2019, 5, 13, 14, 0), window_min=15, percentiles=(5, 50, 95), max_time_s=5400,
              max_walk_s=1500, max_rides=max_rides, per_minute=True)
    (ft, fpm), (bt, bpm), snap = _both(net, hexgrid, o, d, 3.6, **kw)
    assert bt.shape == ft.shape == (150, 10, 3) and bpm.shape == fpm.shape == (150, 10, 15)
    assert bt.dtype == np.int32 and bpm.dtype == np.int32
    np.testing.assert_array_equal(bpm, fpm)
    np.testing.assert_array_equal(bt, ft)
    # not trivial: most pairs reached by transit, some not, some in place
    assert 0.3 < (fpm >= 0).mean() < 1.0 and (fpm == 0).sum() >= 3 * 15
    assert not snap.snapped[o].all() and (fpm[~snap.snapped[o]] == -1).all()
    # the origins' walks to the stops given once (what a scenario state reuses) change nothing
    acc = transit_access(net, snap.subset(o), max_walk_s=1500)
    bt2, _ = transit_columns_to(net, snap.subset(o), snap.subset(d), access=acc, origin_points=_points(hexgrid, o, "o"),
                                dest_points=_points(hexgrid, d, "d"), **{**kw, "per_minute": False})
    np.testing.assert_array_equal(bt2, ft)


@pytest.mark.parametrize("max_rides", [2, 1, 0])
def test_backward_columns_equal_the_forward_matrix_late_window_other_speed(net, hexgrid, max_rides):
    """A 20-min window at 15:50, when the trimmed EPTC feed's last trips start (many minutes unreachable); walking at
    4.5 km/h (rescaled graph, stop links and footpaths); walks bounded by the time limit only; without rides only
    direct walks remain."""
    o, d = _pick(hexgrid, 30 + max_rides)
    kw = dict(departure=dt.datetime(2019, 5, 13, 15, 50), window_min=20, percentiles=(0, 50, 95, 100),
              max_time_s=3600, max_rides=max_rides, per_minute=True)
    (ft, fpm), (bt, bpm), _ = _both(net, hexgrid, o, d, 4.5, **kw)
    np.testing.assert_array_equal(bpm, fpm)
    np.testing.assert_array_equal(bt, ft)
    assert 0.05 < (fpm >= 0).mean() < 1.0
    if max_rides:
        # over the window some trips get longer (or impossible) as the service thins out
        assert (np.diff(np.where(fpm < 0, 10**6, fpm), axis=2) > 0).any()


def test_backward_columns_no_percentiles_and_unsnapped_destination(net, hexgrid):
    """No percentiles asked (per-minute only), and a destination off the street extract (unreachable)."""
    snap = net.street("walk").snap(hexgrid["lon"].to_numpy(), hexgrid["lat"].to_numpy(), max_snap_m=500, warn=False)
    o, d = _pick(hexgrid, 99, n_o=60, n_d=4)
    d = np.sort(np.append(d, np.flatnonzero(~snap.snapped)[0]))
    kw = dict(departure=dt.datetime(2019, 5, 13, 12, 0), window_min=10, percentiles=(), max_time_s=4500,
              max_walk_s=1200, max_rides=3, per_minute=True)
    (ft, fpm), (bt, bpm), _ = _both(net, hexgrid, o, d, 3.6, **kw)
    assert bt.shape == ft.shape == (60, 5, 0)
    np.testing.assert_array_equal(bpm, fpm)
    assert (bpm[:, ~snap.snapped[d]] == -1).all() and (bpm >= 0).any()


def test_scenario_venue_columns_use_the_backward_search_and_equal_the_matrix(net, hexgrid):
    import access
    from access.scenarios import venue_columns

    o, d = _pick(hexgrid, 5, n_o=120, n_d=4)
    cells = _points(hexgrid, o, "cells")
    lon, lat = hexgrid["lon"].to_numpy()[d], hexgrid["lat"].to_numpy()[d]
    transit = dict(departure=dt.datetime(2019, 5, 13, 14, 30), window_min=12, percentiles=(50, 95), max_walk_min=20,
                   max_rides=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ttm = access.travel_time_matrix(net, cells, pd.DataFrame({"id": np.arange(4), "lon": lon, "lat": lat}),
                                        mode="transit", max_time_min=50, progress=False, **transit)
    cache = {}
    cols = venue_columns(net, "transit", None, lon, lat, 3000, cells=cells, transit=transit, cache=cache)
    np.testing.assert_array_equal(cols, ttm.times_s[:, :, 0])
    assert len(cache) == 1  # the cells' walks to the stops, reused by the next column
    one = venue_columns(net, "transit", None, lon[2:3], lat[2:3], 3000, cells=cells, transit=transit, cache=cache)
    np.testing.assert_array_equal(one[:, 0], ttm.times_s[:, 2, 0])
    assert (one >= 0).sum() > 10


def test_travel_time_matrix_search_backward_equals_forward(net, hexgrid):
    """The public matrix: `search="backward"` (destinations in chunks, access walks once) == `search="forward"`,
    percentiles and per-minute times; "auto" picks backward for few destinations and says so in the settings."""
    import access

    o, d = _pick(hexgrid, 21, n_o=200, n_d=12)
    orig = hexgrid.iloc[o][["id", "lon", "lat"]].reset_index(drop=True)
    dest = hexgrid.iloc[d][["id", "lon", "lat"]].reset_index(drop=True)
    kw = dict(mode="transit", departure=dt.datetime(2019, 5, 13, 14, 0), window_min=8, percentiles=(5, 50, 95),
              max_time_min=75, per_minute=True, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = access.travel_time_matrix(net, orig, dest, search="forward", **kw)
        b = access.travel_time_matrix(net, orig, dest, search="backward", chunk_size=5, **kw)
        a = access.travel_time_matrix(net, orig, dest, **kw)
    assert np.array_equal(f.times_s, b.times_s) and np.array_equal(f.per_minute_s, b.per_minute_s)
    assert (f.times_s >= 0).mean() > 0.3
    assert a.settings["search"] == "backward" and f.settings["search"] == "forward"
    pd.testing.assert_frame_equal(f.to_frame(), b.to_frame())
    with pytest.raises(access.ValidationError, match="`search` must be one of"):
        access.travel_time_matrix(net, orig, dest, search="sideways", **kw)


def test_siting_transit_candidates_one_backward_search_each(net, hexgrid):
    from access import siting

    o, d = _pick(hexgrid, 22, n_o=200, n_d=10)
    cells = hexgrid.iloc[o][["id", "lon", "lat"]].reset_index(drop=True)
    cand = hexgrid.iloc[d][["id", "lon", "lat"]].reset_index(drop=True)
    kw = dict(mode="transit", departure=dt.datetime(2019, 5, 13, 14, 0), window_min=6, max_time_min=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rev = siting.candidate_times(net, cells, cand, strategy="reverse", **kw)
        fwd = siting.candidate_times(net, cells, cand, strategy="forward", **kw)
    for f in ("ptr", "cell", "time_s"):
        assert np.array_equal(getattr(rev, f), getattr(fwd, f)), f
    assert rev.settings["search"] == "backward" and fwd.settings["search"] == "forward"
    assert len(rev.cell) > 50
