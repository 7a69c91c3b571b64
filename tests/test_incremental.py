"""Incremental venue-update kernels and AccessibilityState bookkeeping vs naive twins (no network needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from access.core import incremental as inc
from access.indicators import cost_to_closest, cumulative_cutoff, floating_catchment_area, gravity
from access.indicators.decay import decay_binary, decay_exponential
from access.io.places import Points
from access.scenarios import AccessibilityState, IndicatorSettings

INF = int(inc.INF)


def _random_times(rng, n, k, p_unreach=0.3):
    t = rng.integers(0, 3600, size=(n, k)).astype(np.int32)
    t[rng.random((n, k)) < p_unreach] = -1
    return t


def test_kernels_equal_naive_twins():
    rng = np.random.default_rng(1)
    n, k, C = 300, 40, 3
    T = _random_times(rng, n, k)
    cat = rng.integers(0, C, k)
    cap = rng.integers(0, 4, k).astype(float)
    cut = np.array([10.0, 20.0, 45.0])
    best = np.full((n, C), INF, np.int32)
    cum = np.zeros((n, C, 3))
    acc = np.zeros((n, C))
    for j in range(k):
        inc.min_update(best, cat[j], np.ascontiguousarray(T[:, j]))
        inc.cumulative_add(cum, cat[j], np.ascontiguousarray(T[:, j]), cut, cap[j])
        w = np.where(T[:, j] >= 0, np.exp(-0.05 * T[:, j] / 60.0), 0.0)
        inc.weighted_add(acc, cat[j], w, cap[j])
    for c in range(C):
        Tc = T[:, cat == c].astype(float)
        Tc[Tc < 0] = np.inf
        naive = Tc.min(axis=1) if Tc.shape[1] else np.full(n, np.inf)
        got = np.where(best[:, c] == INF, np.inf, best[:, c])
        assert np.array_equal(got, naive)
        m = T[:, cat == c] / 60.0
        ok = T[:, cat == c] >= 0
        for q, cu in enumerate(cut):
            assert np.array_equal(cum[:, c, q], ((m <= cu) & ok) @ cap[cat == c])
        w = np.where(ok, np.exp(-0.05 * m), 0.0)
        np.testing.assert_allclose(acc[:, c], w @ cap[cat == c], rtol=1e-12)
    # removal: rows whose best was column 0, recomputed over the rest
    j0 = 0
    c0 = cat[j0]
    rows = inc.rows_attaining(best, c0, np.ascontiguousarray(T[:, j0]))
    cols = np.flatnonzero((cat == c0) & (np.arange(k) != j0)).astype(np.int64)
    inc.min_recompute_rows(np.asfortranarray(T), cols, rows, best, c0)
    Tc = T[:, cols].astype(float)
    Tc[Tc < 0] = np.inf
    assert np.array_equal(np.where(best[:, c0] == INF, np.inf, best[:, c0]), Tc.min(axis=1))
    pop = rng.random(n) * 100
    w = rng.random(n) * (rng.random(n) < 0.5)
    assert inc.weighted_demand(pop, w) == pytest.approx(float(pop @ w), rel=1e-12)


def _bare_state(T, cap, cat, pop, settings=None):
    n, k = T.shape
    cells = Points(np.array([f"c{i}" for i in range(n)], dtype=object), np.zeros(n), np.zeros(n),
                   pd.DataFrame({"id": [f"c{i}" for i in range(n)]}), "cells")
    ven = pd.DataFrame({"id": [f"v{j}" for j in range(k)], "lon": 0.0, "lat": 0.0, "category": cat,
                        "capacity": cap})
    return AccessibilityState(network=None, mode="walk", cells=cells, cells_snap=None, population=pop, venues=ven,
                              times_s=T, max_time_s=3600, settings=settings or IndicatorSettings(),
                              matrix_kwargs={})


def _assert_same(a: pd.DataFrame, b: pd.DataFrame):
    assert list(a.columns) == list(b.columns)
    for c in a.columns[1:]:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        if c.startswith(("time", "cum")):
            assert np.array_equal(x, y), c  # integer seconds and integer capacities: exact
        else:
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=c)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), ops=st.lists(st.sampled_from(["add", "remove", "cap", "cat"]), min_size=1,
                                                 max_size=12))
def test_random_edit_sequences_equal_full_recomputation(seed, ops):
    rng = np.random.default_rng(seed)
    n, k = 60, 8
    T = _random_times(rng, n, k)
    pop = rng.integers(0, 50, n).astype(float)
    st_ = _bare_state(T, rng.integers(0, 3, k).astype(float), rng.choice(["a", "b"], k), pop)
    nxt = k
    for op in ops:
        ids = st_.venue_ids
        if op == "add" or not ids:
            col = _random_times(rng, n, 1)[:, 0]
            st_.add_venue(f"v{nxt}", 0.0, 0.0, category=str(rng.choice(["a", "b", "c"])),
                          capacity=float(rng.integers(0, 3)), column=col)
            nxt += 1
        elif op == "remove":
            st_.remove_venue(ids[rng.integers(len(ids))])
        elif op == "cap":
            st_.modify_venue(ids[rng.integers(len(ids))], capacity=float(rng.integers(0, 4)))
        else:
            st_.modify_venue(ids[rng.integers(len(ids))], category=str(rng.choice(["a", "b", "c"])))
    inc_table = st_.indicators()
    full = st_.copy()
    full.recompute()
    _assert_same(inc_table, full.indicators())
    # and against a state built from scratch on the final venues and matrix
    v = st_.venues()
    fresh = _bare_state(st_.times_s, v["capacity"].to_numpy(), v["category"].to_numpy(), pop)
    fresh.categories = list(st_.categories)  # same column order
    fresh._cat[: len(v)] = [fresh.categories.index(c) for c in v["category"]]
    fresh.recompute()
    _assert_same(inc_table, fresh.indicators())


def test_state_matches_indicator_module_on_a_real_shaped_matrix():
    """The reductions equal access.indicators (an independent chunked implementation) on the long matrix."""
    rng = np.random.default_rng(7)
    n, k = 200, 30
    T = _random_times(rng, n, k, 0.2)
    pop = rng.integers(0, 500, n).astype(float)
    cap = rng.integers(1, 5, k).astype(float)
    cat = rng.choice(["lib", "museum"], k)
    s = IndicatorSettings((15, 30), decay_exponential(0.08), decay_binary(30), ("bfca", "spatial_availability"))
    st_ = _bare_state(T, cap, cat, pop, s)
    st_.add_venue("new", 0, 0, category="lib", capacity=3, column=_random_times(rng, n, 1, 0.2)[:, 0])
    st_.remove_venue("v3")
    st_.modify_venue("v5", capacity=0)
    ind = st_.indicators()
    m, lu = st_.long_matrix(), st_.land_use()
    assert st_.last_update["recomputed_fully"] == ["bfca", "spatial_availability"]
    near = cost_to_closest(m, lu, opportunity="capacity", group_by="category")
    cum = cumulative_cutoff(m, lu, opportunity="capacity", cutoff=[15, 30], group_by="category")
    grav = gravity(m, lu, opportunity="capacity", decay_function=decay_exponential(0.08), group_by="category")
    fca = floating_catchment_area(m, lu, opportunity="capacity", demand="population",
                                  decay_function=decay_binary(30), group_by="category")
    for cat_ in ("lib", "museum"):
        def col(df, value="capacity", extra=None):
            d = df[df["category"] == cat_]
            if extra is not None:
                d = d[d["cutoff"] == extra]
            return d.set_index("id")[value].reindex(ind["id"]).to_numpy(float)

        assert np.array_equal(ind[f"time_{cat_}"].to_numpy(), np.nan_to_num(col(near, "travel_time"), nan=np.inf))
        assert np.array_equal(ind[f"cum15_{cat_}"].to_numpy(), np.nan_to_num(col(cum, extra=15.0)))
        assert np.array_equal(ind[f"cum30_{cat_}"].to_numpy(), np.nan_to_num(col(cum, extra=30.0)))
        np.testing.assert_allclose(ind[f"gravity_{cat_}"], np.nan_to_num(col(grav)), rtol=1e-9)
        np.testing.assert_allclose(ind[f"fca2_{cat_}"], np.nan_to_num(col(fca)), rtol=1e-9)


def test_gain_if_added_equals_the_add_it_predicts():
    rng = np.random.default_rng(3)
    n, k = 150, 12
    T = _random_times(rng, n, k)
    pop = rng.integers(0, 100, n).astype(float)
    st_ = _bare_state(T, np.ones(k), np.array(["x"] * k), pop)
    before = st_.indicators()
    col = _random_times(rng, n, 1)[:, 0]
    g = st_.gain_if_added(col, capacity=2.0, category="x")
    st_.add_venue("cand", 0, 0, category="x", capacity=2.0, column=col)
    after = st_.indicators()
    with np.errstate(invalid="ignore"):
        d_time = (after["time_x"] - before["time_x"]).to_numpy().copy()
    d_time[np.isnan(d_time)] = 0.0  # inf - inf: still unreachable
    assert np.array_equal(np.isinf(d_time), np.isinf(g["nearest_min"]))
    fin = np.isfinite(d_time)
    assert fin.sum() > 50 and (d_time[fin] < 0).any()
    np.testing.assert_allclose(g["nearest_min"][fin], d_time[fin], atol=1e-9)
    np.testing.assert_allclose(g["cumulative"][:, 1], after["cum30_x"] - before["cum30_x"], atol=1e-12)
    np.testing.assert_allclose(g["gravity"], after["gravity_x"] - before["gravity_x"], atol=1e-12)
    np.testing.assert_allclose(g["2sfca"], after["fca2_x"] - before["fca2_x"], atol=1e-12)
    assert g["population_reaching"] == pytest.approx(pop[col >= 0].sum())


def test_catchment_rows_equal_od_matrix_and_overflow():
    """catchment_rows (sparse, read at the touched nodes, extra pairs) equals od_matrix's dense rows lowered to the
    same pairs; a row longer than `cap` is reported, not written, and fits again with a larger cap."""
    from access.core import dijkstra as dj

    rng = np.random.default_rng(3)
    n, m, n_cells, k = 300, 1500, 120, 9
    tail = rng.integers(0, n, m)
    head = rng.integers(0, n, m).astype(np.int32)
    o = np.argsort(tail, kind="stable")
    tail, head = tail[o], head[o]
    w = rng.integers(1, 60, m).astype(np.int32)
    first_out = np.searchsorted(tail, np.arange(n + 1)).astype(np.int32)
    o_node = rng.integers(-1, n, (k, 2)).astype(np.int32)
    o_cost = rng.integers(0, 30, (k, 2)).astype(np.int32)
    c_node = rng.integers(-1, n, (n_cells, 2)).astype(np.int32)
    c_cost = rng.integers(0, 30, (n_cells, 2)).astype(np.int32)
    max_t = np.int32(150)
    dense = dj.od_matrix(first_out, head, w, o_node, o_cost, c_node, c_cost, max_t)
    pv, pc, ps = rng.integers(0, k, 40), rng.integers(0, n_cells, 40), rng.integers(0, 150, 40).astype(np.int32)
    np.minimum.at(dense, (pv, pc), ps)
    ok = c_node >= 0
    ci = np.broadcast_to(np.arange(n_cells, dtype=np.int32)[:, None], c_node.shape)[ok]
    nn, cc = c_node[ok].astype(np.int64), c_cost[ok]
    so = np.argsort(nn, kind="stable")
    cptr = np.cumsum(np.r_[0, np.bincount(nn, minlength=n)]).astype(np.int64)
    po = np.argsort(pv, kind="stable")
    pv_off = np.cumsum(np.r_[0, np.bincount(pv, minlength=k)]).astype(np.int64)
    args = (first_out, head, w, o_node, o_cost, cptr, ci[so].astype(np.int32), cc[so].astype(np.int32), n_cells,
            pv_off, pc[po].astype(np.int32), ps[po], max_t)
    counts, cells, times = dj.catchment_rows(*args, 8, 2)
    assert (counts > 8).any()
    counts2, cells2, times2 = dj.catchment_rows(*args, n_cells, 2)
    assert np.array_equal(counts, counts2)
    for i in range(k):
        want = np.flatnonzero(dense[i] != dj.INF)
        assert np.array_equal(cells2[i, :counts2[i]], want)
        assert np.array_equal(times2[i, :counts2[i]], dense[i, want])
        if counts[i] <= 8:
            assert np.array_equal(cells[i, :counts[i]], want)
