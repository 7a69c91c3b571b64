"""Siting on real data (Porto Alegre walk network, poa_hexgrid population): candidate columns against the matrix
and a scipy twin, CELF against plain greedy, greedy against the exact optimum, p-median against random placements
and naive swap deltas, equity variants, tours, bad inputs, results (areas, map) and the CLI."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from access import siting as st
from access._errors import NetworkError, ValidationError
from access.core import siting_kernels as sk

T_MIN = 15.0
MAX_MIN = 30.0


@pytest.fixture(scope="module")
def walk(poa_network):
    return poa_network.street("walk")


@pytest.fixture(scope="module")
def cells(poa_hexgrid, walk):
    ok = walk.snap(poa_hexgrid.lon, poa_hexgrid.lat, warn=False).snapped
    return poa_hexgrid[ok].reset_index(drop=True)


@pytest.fixture(scope="module")
def pop(cells):
    return cells["population"].to_numpy(float)


def _sites(cells, n, seed, prefix="c"):
    s = cells.sample(n, random_state=seed)[["id", "lon", "lat"]].copy()
    s["id"] = prefix + s["id"].astype(str)
    return s.reset_index(drop=True)


@pytest.fixture(scope="module")
def cand_small(cells):
    return _sites(cells, 16, 1)


@pytest.fixture(scope="module")
def ct_small(poa_network, cells, cand_small):
    return st.candidate_times(poa_network, cells, cand_small, max_time_min=MAX_MIN)


@pytest.fixture(scope="module")
def ct_large(poa_network, cells):
    return st.candidate_times(poa_network, cells, _sites(cells, 300, 2), max_time_min=MAX_MIN)


@pytest.fixture(scope="module")
def existing(poa_network, cells):
    """Real venues: the hexagons with healthcare facilities in poa_hexgrid."""
    v = cells[cells["healthcare"] > 0][["id", "lon", "lat"]].assign(id=lambda d: "h" + d["id"].astype(str))
    return st.candidate_times(poa_network, cells, v, max_time_min=MAX_MIN, name="venues")


# ------------------------------------------------------------------------------------------ candidate columns
def test_candidate_columns_equal_matrix(poa_network, cells, cand_small, ct_small):
    from access.matrix import travel_time_matrix

    ttm = travel_time_matrix(poa_network, cells[["id", "lon", "lat"]], cand_small, mode="walk",
                             max_time_min=MAX_MIN, progress=False)
    assert np.array_equal(ct_small.dense(), ttm.times_s[:, :, 0])
    assert (ct_small.dense() >= 0).sum() > 100  # not trivially empty
    assert list(ct_small.site_ids) == list(cand_small["id"])


def test_candidate_columns_equal_scenarios_venue_columns(poa_network, cells, cand_small, ct_small, walk):
    sc = pytest.importorskip("access.scenarios._state")
    from access.io.places import read_points

    snap = walk.snap(cells.lon, cells.lat, warn=False)
    cols = sc.venue_columns(poa_network, "walk", snap, cand_small.lon.to_numpy(), cand_small.lat.to_numpy(),
                            int(MAX_MIN * 60), cells=read_points(cells[["id", "lon", "lat"]], name="cells"))
    assert np.array_equal(np.asarray(cols), ct_small.dense())


def test_candidate_columns_scipy_twin(walk, cells, cand_small, ct_small):
    """Independent twin: scipy Dijkstra from every candidate's egress nodes on the transposed graph."""
    from scipy.sparse.csgraph import dijkstra

    A = walk.to_scipy().T.tocsr()
    cs = walk.snap(cells.lon, cells.lat, warn=False)
    ss = walk.snap(cand_small.lon, cand_small.lat, warn=False)
    dense = ct_small.dense()
    for c in range(0, len(cand_small), 5):
        en, ec = ss.egress_node[c], ss.egress_cost_s[c]
        D = dijkstra(A, indices=en[en >= 0])  # D[s, v] = time from v to egress node s
        best = np.full(len(cells), np.inf)
        for si, (n_, c_) in enumerate(zip(en[en >= 0], ec[en >= 0])):
            for s in range(2):
                an, ac = cs.access_node[:, s], cs.access_cost_s[:, s]
                ok = an >= 0
                v = np.full(len(cells), np.inf)
                v[ok] = D[si, an[ok]] + ac[ok] + c_
                best = np.minimum(best, v)
        expect = np.where(best <= MAX_MIN * 60, best, -1).astype(np.int64)
        # pairs on the candidate's own street segment take the direct time along it (at most the node detour)
        same = cs.snapped & (cs.edge == ss.edge[c])
        assert np.array_equal(dense[~same, c], expect[~same])
        got, via_nodes = dense[same, c], expect[same]
        assert np.all((got >= 0) & ((via_nodes < 0) | (got <= via_nodes)))


def test_subset_and_from_dense_roundtrip(ct_small):
    d = ct_small.dense()
    back = st.from_dense(d, ct_small.cell_ids, ct_small.site_ids, ct_small.max_time_s, "walk")
    assert np.array_equal(back.dense(), d)
    sub = ct_small.subset([3, 1])
    assert np.array_equal(sub.dense(), d[:, [3, 1]])


# ------------------------------------------------------------------------------------------ coverage
def test_celf_equals_plain_greedy(ct_large, pop, existing):
    thr = np.int32(T_MIN * 60)
    base, _ = st._base_times(existing, ct_large)
    cov0 = (base != sk.INF) & (base <= thr)
    allowed = np.ones(ct_large.n_sites, bool)
    a, ga, n_eval = sk.celf_coverage(ct_large.ptr, ct_large.cell, ct_large.time_s, thr, pop, cov0, 10, allowed)
    from .twins_siting import plain_greedy_coverage

    b, gb = plain_greedy_coverage(ct_large.ptr, ct_large.cell, ct_large.time_s, thr, pop, cov0, 10, allowed)
    assert a.tolist() == b.tolist()
    assert np.allclose(ga, gb)
    assert n_eval < 10 * ct_large.n_sites  # laziness saved evaluations
    assert np.all(np.diff(ga) <= 1e-9)  # submodular: gains shrink


def test_coverage_value_naive(ct_large, pop, existing):
    res = st.maximal_coverage(ct_large, pop, 5, threshold_min=T_MIN, existing=existing, exact=False)
    dense = ct_large.dense()
    ed = existing.dense()
    thr = T_MIN * 60
    cov = ((ed >= 0) & (ed <= thr)).any(axis=1)
    before = pop[cov].sum()
    cov = cov | ((dense[:, res.sites] >= 0) & (dense[:, res.sites] <= thr)).any(axis=1)
    assert res.objective_before == pytest.approx(before)
    assert res.objective_after == pytest.approx(pop[cov].sum())
    assert res.table["marginal_gain"].sum() == pytest.approx(pop[cov].sum() - before)
    assert (res.cell_values()["covered_after"].to_numpy() == cov).all()


@pytest.mark.parametrize("k", [2, 3, 4])
def test_greedy_vs_exact_optimum(ct_small, pop, existing, k):
    res = st.maximal_coverage(ct_small, pop, k, threshold_min=T_MIN, existing=existing, exact=True)
    d = res.details
    assert d["exact_method"] == "brute force"
    # naive twin of the brute force: itertools over the dense matrix
    dense = ct_small.dense()
    ed = existing.dense()
    thr = T_MIN * 60
    cov0 = ((ed >= 0) & (ed <= thr)).any(axis=1)
    covm = (dense >= 0) & (dense <= thr)
    best = max(pop[cov0 | covm[:, list(s)].any(axis=1)].sum()
               for s in itertools.combinations(range(ct_small.n_sites), k))
    assert d["optimum"] == pytest.approx(best)
    greedy_gain = res.objective_after - res.objective_before
    opt_gain = d["optimum"] - res.objective_before
    assert greedy_gain <= opt_gain + 1e-6
    assert d["bound_ok"] and greedy_gain >= (1 - 1 / math.e) * opt_gain - 1e-6
    assert d["gap"] == pytest.approx((opt_gain - greedy_gain) / opt_gain if opt_gain > 0 else 0.0)


def test_ilp_equals_brute_force(ct_small, pop, existing):
    pytest.importorskip("highspy", reason="highspy (HiGHS) not installed: integer program not checked")
    for k in (2, 3):
        _, vb, _ = st.exact_coverage(ct_small, pop, k, threshold_min=T_MIN, existing=existing, method="brute")
        _, vi, m = st.exact_coverage(ct_small, pop, k, threshold_min=T_MIN, existing=existing, method="ilp")
        assert m.startswith("integer program")
        assert vi == pytest.approx(vb)


def test_existing_sites_gain_nothing(poa_network, cells, pop, existing):
    # candidates placed exactly at existing venues add nothing beyond them
    v = cells[cells["healthcare"] > 0][["id", "lon", "lat"]].head(5).assign(id=lambda d: "dup" + d["id"].astype(str))
    ct = st.candidate_times(poa_network, cells, v, max_time_min=MAX_MIN)
    res = st.maximal_coverage(ct, pop, 2, threshold_min=T_MIN, existing=existing, exact=False)
    assert res.table["marginal_gain"].sum() == pytest.approx(0.0)


# ------------------------------------------------------------------------------------------ p-median
def _pmedian_naive(dense, pop, base, sites, pen):
    t = np.where(dense[:, sites] < 0, pen, np.minimum(dense[:, sites], pen))
    b = np.minimum(np.where(base < 0, pen, np.minimum(base, pen)), t.min(axis=1) if len(sites) else pen)
    return float((pop * b).sum()) / 60.0


def test_pmedian_beats_random_and_swaps_never_worsen(ct_large, pop, existing):
    res = st.p_median(ct_large, pop, 6, existing=existing)
    d = res.details
    assert res.objective_after <= d["greedy_objective"] + 1e-6
    assert res.objective_after < res.objective_before
    dense = ct_large.dense()
    ex = existing.dense()
    base = np.where(ex < 0, 10**9, ex).min(axis=1)
    base = np.where(base == 10**9, -1, base)
    pen = ct_large.max_time_s
    assert res.objective_after == pytest.approx(_pmedian_naive(dense, pop, base, res.sites, pen), rel=1e-9)
    rng = np.random.default_rng(0)
    rand = [_pmedian_naive(dense, pop, base, rng.choice(ct_large.n_sites, 6, replace=False), pen) for _ in range(30)]
    assert res.objective_after < min(rand)
    # marginal gains add up
    assert res.table["marginal_gain"].sum() == pytest.approx(res.objective_before - res.objective_after)


def test_swap_deltas_naive_twin(ct_small, pop):
    pen = ct_small.max_time_s
    base = np.full(ct_small.n_cells, pen, np.int32)
    sites = np.array([0, 5, 9], np.int64)
    b1, own, b2 = sk._best_two(ct_small.ptr, ct_small.cell, ct_small.time_s, base, sites)
    loss = np.zeros(3)
    for q in range(len(b1)):
        if own[q] >= 0:
            loss[own[q]] += pop[q] * (b2[q] - b1[q])
    cands = np.array([c for c in range(ct_small.n_sites) if c not in sites], np.int64)
    d = sk._swap_deltas(ct_small.ptr, ct_small.cell, ct_small.time_s, pop, b1, own, b2, loss, cands)
    obj = sk.pmedian_objective(ct_small.ptr, ct_small.cell, ct_small.time_s, pop, base, sites)
    for r, c in enumerate(cands):
        for j in range(3):
            s2 = sites.copy()
            s2[j] = c
            o2 = sk.pmedian_objective(ct_small.ptr, ct_small.cell, ct_small.time_s, pop, base, s2)
            assert d[r, j] == pytest.approx(o2 - obj, abs=1e-6)


def test_swap_improves_a_bad_start(ct_large, pop):
    pen = ct_large.max_time_s
    base = np.full(ct_large.n_cells, pen, np.int32)
    allowed = np.ones(ct_large.n_sites, bool)
    # worst possible start: the candidates covering the fewest people
    gains = sk.pmedian_gains(ct_large.ptr, ct_large.cell, ct_large.time_s, pop, base)
    start = np.argsort(gains, kind="stable")[:5].astype(np.int64)
    o0 = sk.pmedian_objective(ct_large.ptr, ct_large.cell, ct_large.time_s, pop, base, start)
    s, n_sw, o1 = sk.pmedian_swap(ct_large.ptr, ct_large.cell, ct_large.time_s, pop, base, start, allowed, 100)
    assert n_sw > 0 and o1 < o0


# ------------------------------------------------------------------------------------------ equity, tours
def test_equity_coverage_counts_fragile_population_only(ct_large, pop, cells):
    fragile = (cells["schools"].to_numpy() == 0).astype(float)  # a per-cell flag from the real grid
    res = st.equity_coverage(ct_large, pop, 3, threshold_min=T_MIN, fragile_weight=fragile)
    cov = res.cell_values()["covered_after"].to_numpy()
    assert res.objective_after == pytest.approx(float((pop * fragile)[cov].sum()))
    plain = st.maximal_coverage(ct_large, pop * fragile, 3, threshold_min=T_MIN, exact=False)
    assert res.site_ids.tolist() == plain.site_ids.tolist()
    # through typology classes of areas
    area = np.where(cells["lon"].to_numpy() < cells["lon"].median(), "west", "east")
    classes = pd.Series({"west": "cultural fragility", "east": "no particular stake"})
    r2 = st.equity_coverage(ct_large, pop, 3, threshold_min=T_MIN, cell_area=area, area_classes=classes)
    assert r2.details["covered_after"] <= float(pop[area == "west"].sum()) + 1e-6
    assert set(r2.cell_values()["covered_after"][area == "east"]) <= {True, False}


def test_minimax_reduces_worst_share(ct_large, pop, cells):
    area = pd.cut(cells["lat"], 4, labels=["s", "ms", "mn", "n"]).astype(str).to_numpy()
    res = st.minimax_coverage(ct_large, pop, 4, threshold_min=T_MIN, cell_area=area)
    assert res.objective_after <= res.objective_before
    cov = res.cell_values()["covered_after"].to_numpy()
    shares = [pop[(area == a) & ~cov].sum() / pop[area == a].sum() for a in np.unique(area)]
    assert res.objective_after == pytest.approx(max(shares))
    # first step is the naive best: the candidate minimising the worst share
    dense = ct_large.dense()
    covm = (dense >= 0) & (dense <= T_MIN * 60)
    worst = [max(pop[(area == a) & ~covm[:, c]].sum() / pop[area == a].sum() for a in np.unique(area))
             for c in range(ct_large.n_sites)]
    assert res.table["objective_after"].iloc[0] == pytest.approx(min(worst))


def test_itinerant_tour(ct_large, pop, existing):
    res = st.plan_tour(ct_large, pop, 4, threshold_min=T_MIN, shares=[0.4, 0.3, 0.2, 0.1], existing=existing)
    d = res.details
    cov = st.maximal_coverage(ct_large, pop, 4, threshold_min=T_MIN, existing=existing, exact=False)
    assert d["reached_at_least_once"] == pytest.approx(cov.objective_after - cov.objective_before)
    assert 0 < d["time_weighted_coverage"] <= d["reached_at_least_once"]
    assert res.table["marginal_gain"].sum() == pytest.approx(d["reached_at_least_once"])
    one = st.itinerant_tour(ct_large, pop, [res.site_ids[0]], threshold_min=T_MIN, shares=[1.0])
    assert one.details["time_weighted_coverage"] == pytest.approx(one.details["reached_at_least_once"])


# ------------------------------------------------------------------------------------------ bad inputs
def test_bad_candidates_fail_clearly(poa_network, cells, cand_small, ct_small, pop):
    off = cand_small.copy()
    off.loc[0, ["lon", "lat"]] = [-51.0, -29.5]  # tens of km away from the extract
    with pytest.raises(NetworkError, match=r"farther than max_snap_m=500 m .* ids \['c"):
        st.candidate_times(poa_network, cells, off)
    dup = pd.concat([cand_small, cand_small.iloc[:1]], ignore_index=True)
    with pytest.raises(ValidationError, match="duplicate ids"):
        st.candidate_times(poa_network, cells, dup)
    with pytest.raises(ValidationError, match="exceeds the 16 candidate sites"):
        st.maximal_coverage(ct_small, pop, 17, threshold_min=T_MIN)
    with pytest.raises(ValidationError, match="exceeds the candidates' search bound"):
        st.maximal_coverage(ct_small, pop, 2, threshold_min=45)
    with pytest.raises(ValidationError, match="not among the candidates"):
        st.itinerant_tour(ct_small, pop, ["nope"], threshold_min=T_MIN)
    with pytest.raises(ValidationError, match="has 3 values for"):
        st.p_median(ct_small, [1, 2, 3], 2)


# ------------------------------------------------------------------------------------------ results, CLI
def _areas(cells):
    import geopandas as gpd
    from shapely.geometry import box

    x0, x1 = cells.lon.min() - .01, cells.lon.max() + .01
    y0, y1 = cells.lat.min() - .01, cells.lat.max() + .01
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return gpd.GeoDataFrame({"id": ["sw", "se", "nw", "ne"]},
                            geometry=[box(x0, y0, xm, ym), box(xm, y0, x1, ym), box(x0, ym, xm, y1),
                                      box(xm, ym, x1, y1)], crs="EPSG:4326")


def test_compare_areas_and_map(ct_large, pop, existing, cells, tmp_path):
    import geopandas as gpd

    res = st.maximal_coverage(ct_large, pop, 3, threshold_min=T_MIN, existing=existing, exact=False)
    cg = gpd.GeoDataFrame(cells[["id"]], geometry=gpd.points_from_xy(cells.lon, cells.lat), crs="EPSG:4326")
    areas = _areas(cells)
    cmp_ = res.compare_areas(cg, areas)
    col_a, col_b = "time_nearest_after_share_within_15min", "time_nearest_before_share_within_15min"
    assert (cmp_[col_a] >= cmp_[col_b] - 1e-12).all()
    # population-weighted area shares give back the total gain
    gained = ((cmp_[col_a] - cmp_[col_b]) * cmp_["population"]).sum()
    assert gained == pytest.approx(res.objective_after - res.objective_before, rel=1e-9)
    p = res.plot(tmp_path / "map.png", areas=areas)
    assert p.stat().st_size > 10_000


def test_cli_site(poa_network, cells, cand_small, tmp_path):
    import json

    from click.testing import CliRunner

    from access.commands.site import command

    net_dir = poa_network.save(tmp_path / "net") if not hasattr(poa_network, "path") else poa_network.path
    cells[["id", "lon", "lat", "population"]].to_csv(tmp_path / "cells.csv", index=False)
    cand_small.to_csv(tmp_path / "cand.csv", index=False)
    v = cells[cells["healthcare"] > 0][["id", "lon", "lat"]].assign(id=lambda d: "h" + d["id"].astype(str))
    v.to_csv(tmp_path / "venues.csv", index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(command, ["--network", str(net_dir), "--cells", str(tmp_path / "cells.csv"),
                                     "--candidates", str(tmp_path / "cand.csv"), "--venues",
                                     str(tmp_path / "venues.csv"), "-k", "2", "--threshold", "15", "--exact",
                                     "--vary-threshold", "10,20", "--out", str(out)])
    assert r.exit_code == 0, r.output + repr(r.exception)
    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == 2 and {"marginal_gain", "stability"} <= set(sites.columns)
    assert sites["stability"].between(0, 1).all()
    s = json.loads((out / "summary.json").read_text())
    assert s["details"]["gap"] >= 0
    assert (out / "map.png").stat().st_size > 10_000


def test_sparse_lists_equal_dense_block_and_overflow_path(poa_network, cells, cand_small, ct_small, walk):
    cs = walk.snap(cells.lon, cells.lat, warn=False)
    ss = walk.snap(cand_small.lon, cand_small.lat, warn=False)
    f, h, w = walk.csr(reverse=True)
    idx = sk.node_cell_index(cs.access_node, cs.access_cost_s, walk.n_nodes)
    block = sk.candidate_block(f, h, w, ss.egress_node, ss.egress_cost_s, *idx, len(cells), np.int32(MAX_MIN * 60))
    from access.io.places import read_points
    from access.routing.street import apply_point_pairs, point_pair_times

    pairs = point_pair_times(walk, cs, ss, int(MAX_MIN * 60), read_points(cells[["id", "lon", "lat"]], name="c"),
                             read_points(cand_small, name="s"))
    assert np.array_equal(apply_point_pairs(np.ascontiguousarray(block.T), pairs), ct_small.dense())
    # rows too long for the buffer are recomputed with room for all
    small = st.candidate_times(poa_network, cells, cand_small, max_time_min=MAX_MIN, row_capacity=5, chunk_size=7)
    assert np.array_equal(small.dense(), ct_small.dense())


def test_forward_and_reverse_strategies_identical(poa_network, cells, ct_small):
    # more candidates than cells (the cells' centres, each twice): "auto" searches from the cells
    many = pd.concat([_sites(cells, len(cells), 5, "a"), _sites(cells, 200, 6, "b")], ignore_index=True)
    sub = many.head(40)
    a = st.candidate_times(poa_network, cells, sub, max_time_min=MAX_MIN, strategy="reverse")
    b = st.candidate_times(poa_network, cells, sub, max_time_min=MAX_MIN, strategy="forward", row_capacity=7)
    for f in ("ptr", "cell", "time_s"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    c = st.candidate_times(poa_network, cells, many, max_time_min=MAX_MIN)
    assert c.settings["strategy"] == "forward"
    assert np.array_equal(c.subset(np.arange(40)).dense(), a.dense())
    with pytest.raises(ValidationError, match="`strategy` must be one of"):
        st.candidate_times(poa_network, cells, sub, strategy="sideways")


def test_comparison_through_scenarios(ct_large, pop, existing, cells):
    pytest.importorskip("access.scenarios")
    res = st.maximal_coverage(ct_large, pop, 3, threshold_min=T_MIN, existing=existing, exact=False)
    cmp_ = res.comparison(areas=_areas(cells))
    cv = res.cell_values()
    c = cmp_.cells.set_index("id").reindex(cv["id"])
    assert np.array_equal(c["time_nearest_after"].to_numpy(), cv["time_nearest_after"].to_numpy())
    d = c["time_nearest_delta"].to_numpy()
    assert (d[np.isfinite(d)] <= 0).all()  # new sites never make anyone farther
    assert cmp_.areas is not None and len(cmp_.areas) == 4


@pytest.mark.parametrize("objective,extra", [("p-median", []), ("tour", ["--shares", "0.5,0.5"]),
                                             ("minimax", ["--area-column", "zone"]),
                                             ("equity", ["--fragile-column", "fragile"])])
def test_cli_objectives(poa_network, cells, cand_small, tmp_path, objective, extra):
    from click.testing import CliRunner

    from access.commands.site import command

    net_dir = poa_network.save(tmp_path / "net")
    c = cells[["id", "lon", "lat", "population"]].assign(
        zone=np.where(cells.lat < cells.lat.median(), "s", "n"), fragile=(cells["schools"] == 0).astype(int))
    c.to_csv(tmp_path / "cells.csv", index=False)
    cand_small.to_csv(tmp_path / "cand.csv", index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(command, ["--network", str(net_dir), "--cells", str(tmp_path / "cells.csv"),
                                     "--candidates", str(tmp_path / "cand.csv"), "--objective", objective, "-k", "2",
                                     "--vary-walk-speed", "none", "--vary-threshold", "none", "--out", str(out),
                                     *extra])
    assert r.exit_code == 0, r.output + repr(r.exception)
    sites = pd.read_csv(out / "sites.csv")
    assert len(sites) == 2 and "marginal_gain" in sites.columns
    assert (out / "map.png").exists()
