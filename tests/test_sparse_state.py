"""The sparse scenario state (catchments by venue and by cell) against its dense twin and full recomputations.

The dense state (``storage="dense"``: the cells x venues matrix of ``access.travel_time_matrix``) is the twin: the
sparse one must hold the same pairs and give the same indicators, bit for bit, before and after edits, on real
networks (Porto Alegre, Nantes) for walk, car and transit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access.indicators.decay import decay_binary, decay_exponential
from access.io.places import Points
from access.scenarios import AccessibilityState, IndicatorSettings, Scenario
from access.scenarios._sparse import Catchments, time_dtype

from .test_scenarios import POA_DAY, nantes_network, poa_bridges, poa_transit, poa_venues  # noqa: F401  fixtures


def _assert_identical(a: AccessibilityState, b: AccessibilityState, exact: bool = True):
    """Same venues, same pairs, same indicators: every column bit-identical (``exact``: the same sums in the same
    order, sparse vs dense twin), else times and cumulative counts exact and float sums to 1e-9 (an incremental
    ``(x + a) - a`` vs a recomputation)."""
    assert a.venue_ids == b.venue_ids
    np.testing.assert_array_equal(a.times_s, b.times_s)
    x, y = a.indicators(), b.indicators()
    y = y[list(x.columns)]
    for c in x.columns[1:]:
        if exact or c.startswith(("time", "cum")):
            np.testing.assert_array_equal(x[c].to_numpy(float), y[c].to_numpy(float), err_msg=c)
        else:
            np.testing.assert_allclose(x[c].to_numpy(float), y[c].to_numpy(float), rtol=1e-9, atol=1e-12,
                                       err_msg=c)
    pd.testing.assert_frame_equal(a.long_matrix(), b.long_matrix())


# ------------------------------------------------------------------------------------------------ no network
def _random_times(rng, n, k, p_unreach=0.4):
    t = rng.integers(0, 3600, size=(n, k)).astype(np.int32)
    t[rng.random((n, k)) < p_unreach] = -1
    return t


def _bare(T, cap, cat, pop, storage, settings_=None):
    n, k = T.shape
    cells = Points(np.array([f"c{i}" for i in range(n)], dtype=object), np.zeros(n), np.zeros(n),
                   pd.DataFrame({"id": [f"c{i}" for i in range(n)]}), "cells")
    ven = pd.DataFrame({"id": [f"v{j}" for j in range(k)], "lon": 0.0, "lat": 0.0, "category": cat,
                        "capacity": cap})
    return AccessibilityState(network=None, mode="walk", cells=cells, cells_snap=None, population=pop, venues=ven,
                              times_s=T, max_time_s=3600, settings=settings_ or IndicatorSettings(),
                              matrix_kwargs={}, storage=storage)


def test_catchments_views_equal_the_dense_matrix():
    rng = np.random.default_rng(3)
    T = _random_times(rng, 500, 70)
    cm = Catchments.from_dense(T, time_dtype(3600))
    assert cm.dtype == np.uint16 and cm.nnz == int((T >= 0).sum())
    np.testing.assert_array_equal(cm.dense(np.arange(70)), T)
    ptr, ven, tim = cm.by_cell
    for i in (0, 17, 499):  # by cell: the row's reachable venues, ascending, with their times
        j = np.flatnonzero(T[i] >= 0)
        np.testing.assert_array_equal(ven[ptr[i]:ptr[i + 1]], j)
        np.testing.assert_array_equal(tim[ptr[i]:ptr[i + 1]], T[i, j])
    assert time_dtype(70_000) == np.int32
    # 4 + 2 bytes a pair by venue (int32 cell, uint16 seconds), 2 + 2 by cell (uint16 venue slot, uint16
    # seconds), + the two int64 pointer arrays
    assert ven.dtype == np.uint16 and cm.nbytes == 10 * cm.nnz + 8 * (500 + 1 + 70 + 1)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), ops=st.lists(st.sampled_from(["add", "remove", "cap", "cat", "empty"]),
                                                 min_size=1, max_size=90))
def test_random_edit_sequences_sparse_equal_dense(seed, ops):
    """Up to 90 edits: past the by-cell CSR's rebuild threshold (64 added venues), zero capacities, catchments
    with no demand (infinite 2SFCA ratios), empty catchments; every step equal to the dense twin."""
    rng = np.random.default_rng(seed)
    n, k = 80, 6
    T = _random_times(rng, n, k)
    pop = rng.integers(0, 50, n).astype(float) * (rng.random(n) < 0.7)
    cap, cat = rng.integers(0, 3, k).astype(float), rng.choice(["a", "b"], k)
    s = IndicatorSettings((10, 30, 60), decay_exponential(0.05), decay_binary(30), ("bfca",))
    sp, de = _bare(T, cap, cat, pop, "sparse", s), _bare(T, cap, cat, pop, "dense", s)
    nxt = k
    for op in ops:
        ids = sp.venue_ids
        if op in ("add", "empty") or not ids:
            col = _random_times(rng, n, 1, 0.99 if op == "empty" else 0.5)[:, 0]
            kw = dict(category=str(rng.choice(["a", "b", "c"])), capacity=float(rng.integers(0, 3)), column=col)
            for x in (sp, de):
                x.add_venue(f"v{nxt}", 0.0, 0.0, **kw)
            nxt += 1
        else:
            vid = ids[rng.integers(len(ids))]
            for x in (sp, de):
                if op == "remove":
                    x.remove_venue(vid)
                elif op == "cap":
                    x.modify_venue(vid, capacity=float(len(ids) % 4))
                else:
                    x.modify_venue(vid, category="c")
    _assert_identical(sp, de)
    full = sp.copy()
    full.recompute()
    _assert_identical(sp, full, exact=False)
    for vid in sp.venue_ids[:3]:
        np.testing.assert_array_equal(sp.catchment(vid)[0], de.catchment(vid)[0])
        np.testing.assert_array_equal(sp.catchment(vid)[1], de.catchment(vid)[1])


# ------------------------------------------------------------------------------------------------ real networks
def _edits(venues, lon, lat, cat):
    ids = list(venues["id"])
    return {"add": [{"name": f"n{i}", "id": f"N{i}", "lon": float(x), "lat": float(y), "category": c,
                     "capacity": 2} for i, (x, y, c) in enumerate(zip(lon, lat, cat))],
            "remove": [{"name": "rm", "ids": [ids[0], ids[5]]}],
            "modify": [{"name": "big", "id": ids[2], "capacity": 5}, {"name": "shut", "id": ids[3], "capacity": 0},
                       {"name": "recat", "id": ids[4], "category": cat[0]}]}


def _check(net, cells, venues, edits, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = AccessibilityState.build(net, cells, venues, storage="sparse", **kw)
        de = AccessibilityState.build(net, cells, venues, storage="dense", **kw)
        assert sp.storage == "sparse" and de.storage == "dense"
        _assert_identical(sp, de)
        scn = Scenario.from_dict({"name": "v", "venues": edits})
        a, b = sp.apply(scn), de.apply(scn)
        _assert_identical(a, b)
        full = AccessibilityState.build(net, cells, scn.apply_venues(venues), storage="sparse", **kw)
    _assert_identical(a, full, exact=False)
    m = a.memory_bytes()
    assert m["pairs"] >= int((a.times_s >= 0).sum()) > 0  # removed venues keep their catchments
    return a, full


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_sparse_equals_dense_and_rebuild_poa(mode, poa_network, poa_hexgrid, poa_venues):  # noqa: F811
    cells = poa_hexgrid.iloc[::2]
    v = poa_venues.iloc[::2].reset_index(drop=True)
    _check(poa_network, cells, v, _edits(v, [-51.17, -51.225], [-30.08, -30.03], ["school", "library"]),
           mode=mode, max_time_min=25 if mode == "walk" else 10, cutoffs_min=(10, 20),
           full_measures=("bfca",))


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_sparse_equals_dense_and_rebuild_nantes(mode, nantes_network):  # noqa: F811
    g = nantes_network.street("walk")
    rng = np.random.default_rng(11)
    lo, la = g.node_lon, g.node_lat
    cells = pd.DataFrame({"id": [f"c{i}" for i in range(400)], "lon": rng.uniform(lo.min(), lo.max(), 400),
                          "lat": rng.uniform(la.min(), la.max(), 400), "population": rng.integers(0, 300, 400)})
    v = pd.DataFrame({"id": [f"v{i}" for i in range(40)], "lon": rng.uniform(lo.min(), lo.max(), 40),
                      "lat": rng.uniform(la.min(), la.max(), 40),
                      "category": rng.choice(["library", "theatre", "cinema"], 40), "capacity": rng.integers(1, 4, 40)})
    v = pd.concat([v, cells.iloc[:5][["id", "lon", "lat"]].assign(id=lambda d: "at" + d.id, category="cinema",
                                                                  capacity=1)], ignore_index=True)  # 0 s pairs
    _check(nantes_network, cells, v, _edits(v, rng.uniform(lo.min(), lo.max(), 2), rng.uniform(la.min(), la.max(), 2),
                                            ["library", "museum"]),
           mode=mode, max_time_min=20 if mode == "walk" else 5, cutoffs_min=(5, 15))


def test_sparse_equals_dense_transit_poa(poa_transit, poa_hexgrid, poa_venues):  # noqa: F811
    cells = poa_hexgrid[(poa_hexgrid.lon.between(-51.24, -51.18)) & (poa_hexgrid.lat.between(-30.07, -30.02))]
    cells = cells.iloc[::3]
    v = poa_venues.iloc[::6].reset_index(drop=True)
    a, _ = _check(poa_transit, cells, v, _edits(v, [-51.21], [-30.045], ["school"]), mode="transit",
                  max_time_min=45, departure=POA_DAY, window_min=3)
    assert (a.times_s >= 0).mean() > 0.05


def test_sparse_street_edits_equal_dense(poa_network, poa_hexgrid, poa_venues, poa_bridges):  # noqa: F811
    cells = poa_hexgrid.iloc[::4]
    scn = Scenario.from_dict({"name": "s", "streets": {"close": [{"name": "b", "way_ids": poa_bridges}],
                                                       "link": [{"name": "fb", "from": [-51.2337, -30.0453],
                                                                 "to": [-51.2170, -30.0575], "max_snap_m": 300,
                                                                 "speed_kmh": 30}]},
                              "venues": {"remove": [{"name": "r", "ids": [poa_venues.id[4]]}]}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = AccessibilityState.build(poa_network, cells, poa_venues, mode="walk", max_time_min=30)
        de = AccessibilityState.build(poa_network, cells, poa_venues, mode="walk", max_time_min=30,
                                      storage="dense")
        a, b = sp.apply(scn), de.apply(scn)
    assert a.last_update["streets"]["columns_recomputed"] == b.last_update["streets"]["columns_recomputed"] > 0
    _assert_identical(a, b)
    _assert_identical(sp, de)  # the originals are unchanged


def test_bad_storage_is_refused(poa_network, poa_hexgrid, poa_venues):  # noqa: F811
    from access._errors import ValidationError

    with pytest.raises(ValidationError, match="storage"):
        AccessibilityState.build(poa_network, poa_hexgrid.head(5), poa_venues.head(2), storage="csr")
