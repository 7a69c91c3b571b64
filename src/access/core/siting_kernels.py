"""Siting kernels (numba): candidate columns, greedy coverage (CELF), p-median with fast interchange, brute force.

Arrays in, arrays out. A set of candidate sites is held *sparse by candidate* (CSR): the cells that reach
candidate ``c`` within the bound are ``cell[ptr[c]:ptr[c+1]]`` with seconds ``time_s[...]`` (int32). A cell not
listed does not reach the candidate within the bound. Population (or any non-negative weight) per cell is
float64. ``base_s`` int32[n_cells] is the time to the nearest *existing* venue (``INF`` none).

* :func:`candidate_lists` -- one bounded reverse Dijkstra per candidate (``prange``), seeded at the nodes from
  which the candidate is reached (the snap's egress nodes and costs), then read at the cells' snapped positions
  through a node -> cells index: only the nodes the search touched are read and only the cells reached are
  written, so the cost is the search's, not the number of cells (:func:`candidate_block` is its dense twin).
* :func:`celf_coverage` -- greedy maximal coverage with lazy evaluation (Minoux / Leskovec's CELF): gains of a
  submodular function only shrink, so a stale gain is an upper bound and only the top of the heap is
  re-evaluated.
* :func:`pmedian_greedy`, :func:`pmedian_swap` -- greedy then Teitz-Bart interchange using best and second-best
  per cell, so the gain of every swap ``(out, in)`` costs one pass over the incoming candidate's cells
  (Whitaker's fast interchange, as in Resende & Werneck's implementation).
* :func:`brute_force_coverage` -- exact optimum over every ``k``-subset (small cases only).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .dijkstra import INF, _bucket_bits, bounded_search, search_scratch


# --------------------------------------------------------------------------------------------- columns
@njit(cache=True)
def node_cell_index(access_node, access_cost_s, n_nodes):
    """Invert the cells' snap: for each node the cells it leads to and the seconds from the node to the cell.

    ``access_node/access_cost_s`` int32[n_cells, s] (node -1 = none). Returns ``(ptr int64[n_nodes+1],
    cell int32[nnz], cost_s int32[nnz])``. Reaching cell ``q`` from a search's labels ``dist`` is
    ``min over (v, c) in index of q: dist[v] + c`` -- the same rule as :func:`access.core.dijkstra.od_matrix`
    uses on its destination side.
    """
    n_cells = access_node.shape[0]
    cnt = np.zeros(n_nodes + 1, np.int64)
    for q in range(n_cells):
        for s in range(access_node.shape[1]):
            v = access_node[q, s]
            if v >= 0 and access_cost_s[q, s] >= 0:
                cnt[v + 1] += 1
    ptr = np.cumsum(cnt)
    pos = ptr[:-1].copy()
    cell = np.empty(ptr[-1], np.int32)
    cost = np.empty(ptr[-1], np.int32)
    for q in range(n_cells):
        for s in range(access_node.shape[1]):
            v = access_node[q, s]
            if v >= 0 and access_cost_s[q, s] >= 0:
                cell[pos[v]] = q
                cost[pos[v]] = access_cost_s[q, s]
                pos[v] += 1
    return ptr, cell, cost


@njit(cache=True, parallel=True)
def _candidate_block_kernel(first_out, head, weight, seed_node, seed_cost, nc_ptr, nc_cell, nc_cost, n_cells,
                            max_time_s,
                    nthreads=0):
    """Seconds from every cell to each candidate: int32[k, n_cells], ``INF`` beyond ``max_time_s``.

    ``first_out/head/weight``: the *reversed* street graph. ``seed_node/seed_cost`` int32[k, s]: per candidate,
    the nodes from which it is reached and the seconds from them to it (``Snap.egress_node/egress_cost_s``).
    ``nc_*``: :func:`node_cell_index` of the cells. ``prange`` over candidates, scratch allocated once per thread.
    """
    n = first_out.shape[0] - 1
    m = head.shape[0]
    k = seed_node.shape[0]
    out = np.empty((k, n_cells), dtype=np.int32)
    if nthreads <= 0:
        nthreads = 2
    nthreads = min(nthreads, max(k, 1))
    bits = _bucket_bits(weight, seed_cost)
    for t in prange(nthreads):
        scratch = search_scratch(n, m, seed_node.shape[1], bits)
        dist, touched = scratch[0], scratch[5]
        for i in range(t, k, nthreads):
            nt = bounded_search(first_out, head, weight, seed_node[i], seed_cost[i], max_time_s, bits, scratch)
            row = out[i]
            row[:] = INF
            for jj in range(nt):
                v = touched[jj]
                dv = dist[v]
                for p in range(nc_ptr[v], nc_ptr[v + 1]):
                    c = dv + nc_cost[p]
                    q = nc_cell[p]
                    if c <= max_time_s and c < row[q]:
                        row[q] = c
                dist[v] = INF
    return out


def candidate_block(first_out, head, weight, seed_node, seed_cost, nc_ptr, nc_cell, nc_cost, n_cells, max_time_s,
                    nthreads=0):
    """Seconds from every cell to each candidate: int32[k, n_cells], ``INF`` beyond ``max_time_s``.

    ``first_out/head/weight``: the *reversed* street graph. ``seed_node/seed_cost`` int32[k, s]: per candidate,
    the nodes from which it is reached and the seconds from them to it (``Snap.egress_node/egress_cost_s``).
    ``nc_*``: :func:`node_cell_index` of the cells. ``prange`` over candidates, scratch allocated once per thread.

    ``nthreads`` <= 0: twice :func:`numba.get_num_threads` at call time (the work split follows the caller's
    thread setting).
    """
    nthreads = nthreads if nthreads > 0 else 2 * numba.get_num_threads()
    return _candidate_block_kernel(first_out, head, weight, seed_node, seed_cost, nc_ptr, nc_cell, nc_cost, n_cells,
                                   max_time_s, nthreads)


@njit(cache=True, parallel=True)
def _candidate_lists_kernel(first_out, head, weight, seed_node, seed_cost, nc_ptr, nc_cell, nc_cost, n_cells,
                            max_time_s,
                    cap, nthreads=0):
    """Sparse twin of :func:`candidate_block`: per candidate only the cells reached within ``max_time_s``.

    Returns ``(cells int32[k, cap], times int32[k, cap], count int64[k])``: row ``i`` holds ``count[i]`` cells
    in the order the search reached them. A candidate reaching more than ``cap`` cells gets ``count = -n``
    (its true count, negated) and must be recomputed with a larger ``cap``. Cost per candidate: its search and
    the cells it reaches -- never ``n_cells`` (no dense row is written or scanned).
    """
    n = first_out.shape[0] - 1
    m = head.shape[0]
    k = seed_node.shape[0]
    out_cell = np.empty((k, cap), dtype=np.int32)
    out_time = np.empty((k, cap), dtype=np.int32)
    count = np.zeros(k, dtype=np.int64)
    if nthreads <= 0:
        nthreads = 2
    nthreads = min(nthreads, max(k, 1))
    bits = _bucket_bits(weight, seed_cost)
    for t in prange(nthreads):
        scratch = search_scratch(n, m, seed_node.shape[1], bits)
        dist, touched = scratch[0], scratch[5]
        best = np.full(n_cells, INF, dtype=np.int32)
        cl = np.empty(n_cells, dtype=np.int32)
        for i in range(t, k, nthreads):
            nt = bounded_search(first_out, head, weight, seed_node[i], seed_cost[i], max_time_s, bits, scratch)
            nc = 0
            for jj in range(nt):
                v = touched[jj]
                dv = dist[v]
                for p in range(nc_ptr[v], nc_ptr[v + 1]):
                    c = dv + nc_cost[p]
                    q = nc_cell[p]
                    if c <= max_time_s and c < best[q]:
                        if best[q] == INF:
                            cl[nc] = q
                            nc += 1
                        best[q] = c
                dist[v] = INF
            if nc <= cap:
                for j in range(nc):
                    q = cl[j]
                    out_cell[i, j] = q
                    out_time[i, j] = best[q]
                count[i] = nc
            else:
                count[i] = -nc
            for j in range(nc):
                best[cl[j]] = INF
    return out_cell, out_time, count

def candidate_lists(first_out, head, weight, seed_node, seed_cost, nc_ptr, nc_cell, nc_cost, n_cells, max_time_s,
                    cap, nthreads=0):
    """Sparse twin of :func:`candidate_block`: per candidate only the cells reached within ``max_time_s``.

    Returns ``(cells int32[k, cap], times int32[k, cap], count int64[k])``: row ``i`` holds ``count[i]`` cells
    in the order the search reached them. A candidate reaching more than ``cap`` cells gets ``count = -n``
    (its true count, negated) and must be recomputed with a larger ``cap``. Cost per candidate: its search and
    the cells it reaches -- never ``n_cells`` (no dense row is written or scanned).

    ``nthreads`` <= 0: twice :func:`numba.get_num_threads` at call time (the work split follows the caller's
    thread setting).
    """
    nthreads = nthreads if nthreads > 0 else 2 * numba.get_num_threads()
    return _candidate_lists_kernel(first_out, head, weight, seed_node, seed_cost, nc_ptr, nc_cell, nc_cost, n_cells,
                                   max_time_s, cap, nthreads)


@njit(cache=True)
def pack_rows(out_cell, out_time, count):
    """Flatten the rows of :func:`candidate_lists` (all counts >= 0) into ``(cell int32[nnz], time_s int32[nnz])``."""
    tot = 0
    for i in range(count.shape[0]):
        tot += count[i]
    cell = np.empty(tot, np.int32)
    time_s = np.empty(tot, np.int32)
    p = 0
    for i in range(count.shape[0]):
        for j in range(count[i]):
            cell[p] = out_cell[i, j]
            time_s[p] = out_time[i, j]
            p += 1
    return cell, time_s


@njit(cache=True)
def transpose_lists(ptr, idx, val, n_cols):
    """Transpose a CSR (rows -> (col, value)) into (cols -> (row, value)); rows come out sorted within each col.

    Used when the cells are searched instead of the candidates (fewer cells than candidates): per-cell lists of
    candidates become per-candidate lists of cells.
    """
    n_rows = ptr.shape[0] - 1
    cnt = np.zeros(n_cols + 1, np.int64)
    for p in range(idx.shape[0]):
        cnt[idx[p] + 1] += 1
    tptr = np.cumsum(cnt)
    pos = tptr[:-1].copy()
    tidx = np.empty(idx.shape[0], np.int32)
    tval = np.empty(idx.shape[0], np.int32)
    for r in range(n_rows):
        for p in range(ptr[r], ptr[r + 1]):
            c = idx[p]
            tidx[pos[c]] = r
            tval[pos[c]] = val[p]
            pos[c] += 1
    return tptr, tidx, tval


@njit(cache=True)
def block_to_csr(block, max_time_s):
    """Rows of an int32[k, n] block (``INF``/over the bound = absent) as CSR ``(counts int64[k], cell, time_s)``."""
    k, n = block.shape
    counts = np.zeros(k, np.int64)
    for i in range(k):
        c = 0
        for q in range(n):
            t = block[i, q]
            if t >= 0 and t <= max_time_s:
                c += 1
        counts[i] = c
    tot = counts.sum()
    cell = np.empty(tot, np.int32)
    time_s = np.empty(tot, np.int32)
    p = 0
    for i in range(k):
        for q in range(n):
            t = block[i, q]
            if t >= 0 and t <= max_time_s:
                cell[p] = q
                time_s[p] = t
                p += 1
    return counts, cell, time_s


@njit(cache=True)
def csr_to_dense(ptr, cell, time_s, n_cells):
    """int32[n_cells, k] seconds (``-1`` absent): the cells x candidates matrix of a CSR candidate set."""
    k = ptr.shape[0] - 1
    out = np.full((n_cells, k), -1, np.int32)
    for c in range(k):
        for p in range(ptr[c], ptr[c + 1]):
            out[cell[p], c] = time_s[p]
    return out


@njit(cache=True)
def nearest_base(ptr, cell, time_s, cols, n_cells):
    """int32[n_cells]: min over the candidates ``cols`` of their time (``INF`` none) -- nearest of a venue set."""
    best = np.full(n_cells, INF, np.int32)
    for j in range(cols.shape[0]):
        c = cols[j]
        for p in range(ptr[c], ptr[c + 1]):
            q = cell[p]
            if time_s[p] < best[q]:
                best[q] = time_s[p]
    return best


# --------------------------------------------------------------------------------------------- coverage
@njit(cache=True)
def _cov_gain(ptr, cell, time_s, c, thr_s, weight, covered):
    g = 0.0
    for p in range(ptr[c], ptr[c + 1]):
        if time_s[p] <= thr_s:
            q = cell[p]
            if not covered[q]:
                g += weight[q]
    return g


@njit(cache=True, parallel=True)
def coverage_gains(ptr, cell, time_s, thr_s, weight, covered):
    """float64[k]: weight of the not-yet-covered cells each candidate covers within ``thr_s``."""
    k = ptr.shape[0] - 1
    out = np.empty(k, np.float64)
    for c in prange(k):
        out[c] = _cov_gain(ptr, cell, time_s, c, thr_s, weight, covered)
    return out


@njit(cache=True, inline="always")
def _better(g1, i1, g2, i2):
    """Order of the lazy heap: larger gain first, then smaller candidate index (deterministic ties)."""
    return g1 > g2 or (g1 == g2 and i1 < i2)


@njit(cache=True)
def _hpush(hg, hi, size, g, i):
    j = size
    while j > 0:
        p = (j - 1) >> 1
        if _better(g, i, hg[p], hi[p]):
            hg[j] = hg[p]
            hi[j] = hi[p]
            j = p
        else:
            break
    hg[j] = g
    hi[j] = i
    return size + 1


@njit(cache=True)
def _hpop(hg, hi, size):
    g0 = hg[0]
    i0 = hi[0]
    size -= 1
    if size > 0:
        g = hg[size]
        i = hi[size]
        j = 0
        while True:
            c = 2 * j + 1
            if c >= size:
                break
            if c + 1 < size and _better(hg[c + 1], hi[c + 1], hg[c], hi[c]):
                c += 1
            if _better(hg[c], hi[c], g, i):
                hg[j] = hg[c]
                hi[j] = hi[c]
                j = c
            else:
                break
        hg[j] = g
        hi[j] = i
    return g0, i0, size


@njit(cache=True)
def celf_coverage(ptr, cell, time_s, thr_s, weight, covered0, k, allowed):
    """Greedy maximal coverage with lazy evaluation.

    Parameters: CSR candidates, threshold ``thr_s``, ``weight`` float64[n_cells], ``covered0`` bool[n_cells]
    (cells already covered by existing venues), ``k`` sites to choose, ``allowed`` bool[n_cand].
    Returns ``(chosen int64[k'], gain float64[k'], n_evaluations)``; ``k' < k`` when fewer candidates are
    allowed. Ties go to the smaller candidate index, as a plain (non-lazy) greedy scan would choose.
    """
    n_cand = ptr.shape[0] - 1
    covered = covered0.copy()
    g0 = coverage_gains(ptr, cell, time_s, thr_s, weight, covered)
    hg = np.empty(n_cand, np.float64)
    hi = np.empty(n_cand, np.int64)
    stamp = np.full(n_cand, 0, np.int64)
    size = 0
    for c in range(n_cand):
        if allowed[c]:
            size = _hpush(hg, hi, size, g0[c], c)
    chosen = np.empty(k, np.int64)
    gains = np.empty(k, np.float64)
    n_eval = n_cand
    it = 0
    while it < k and size > 0:
        g, c, size = _hpop(hg, hi, size)
        if stamp[c] == it:
            chosen[it] = c
            gains[it] = g
            for p in range(ptr[c], ptr[c + 1]):
                if time_s[p] <= thr_s:
                    covered[cell[p]] = True
            it += 1
        else:
            g = _cov_gain(ptr, cell, time_s, c, thr_s, weight, covered)
            n_eval += 1
            stamp[c] = it
            size = _hpush(hg, hi, size, g, c)
    return chosen[:it], gains[:it], n_eval


@njit(cache=True)
def coverage_value(ptr, cell, time_s, thr_s, weight, covered0, sites):
    """Weight of the cells covered by ``covered0`` or by any of ``sites`` within ``thr_s``."""
    covered = covered0.copy()
    for j in range(sites.shape[0]):
        c = sites[j]
        for p in range(ptr[c], ptr[c + 1]):
            if time_s[p] <= thr_s:
                covered[cell[p]] = True
    s = 0.0
    for q in range(covered.shape[0]):
        if covered[q]:
            s += weight[q]
    return s


@njit(cache=True)
def brute_force_coverage(ptr, cell, time_s, thr_s, weight, covered0, k):
    """Exact maximal coverage by enumerating every ``k``-subset of the candidates (lexicographic; first best kept).

    Returns ``(best_sites int64[k], best_value, n_subsets)``. Only for small cases: C(n, k) subsets, each costing
    the length of its candidates' lists of not-yet-covered cells.
    """
    n_cand = ptr.shape[0] - 1
    n_cells = covered0.shape[0]
    k = min(k, n_cand)
    # lists of the cells each candidate would newly cover
    cnt = np.zeros(n_cand + 1, np.int64)
    for c in range(n_cand):
        for p in range(ptr[c], ptr[c + 1]):
            if time_s[p] <= thr_s and not covered0[cell[p]] and weight[cell[p]] > 0:
                cnt[c + 1] += 1
    lp = np.cumsum(cnt)
    lc = np.empty(lp[-1], np.int64)
    for c in range(n_cand):
        j = lp[c]
        for p in range(ptr[c], ptr[c + 1]):
            if time_s[p] <= thr_s and not covered0[cell[p]] and weight[cell[p]] > 0:
                lc[j] = cell[p]
                j += 1
    base = 0.0
    for q in range(n_cells):
        if covered0[q]:
            base += weight[q]
    idx = np.arange(k)
    best = idx.copy()
    best_v = -1.0
    n_sub = 0
    mark = np.zeros(n_cells, np.bool_)
    while True:
        v = base
        for j in range(k):
            c = idx[j]
            for p in range(lp[c], lp[c + 1]):
                q = lc[p]
                if not mark[q]:
                    mark[q] = True
                    v += weight[q]
        for j in range(k):
            c = idx[j]
            for p in range(lp[c], lp[c + 1]):
                mark[lc[p]] = False
        n_sub += 1
        if v > best_v:
            best_v = v
            best[:] = idx
        # next combination
        i = k - 1
        while i >= 0 and idx[i] == n_cand - k + i:
            i -= 1
        if i < 0:
            break
        idx[i] += 1
        for j in range(i + 1, k):
            idx[j] = idx[j - 1] + 1
    return best, best_v, n_sub


# --------------------------------------------------------------------------------------------- equity
@njit(cache=True, parallel=True)
def minimax_step(ptr, cell, time_s, thr_s, weight, covered, cell_area, uncovered_area, pop_area, allowed):
    """For every candidate: the worst area's uncovered share if it were added, and its covered weight.

    ``cell_area`` int32[n_cells] (-1 outside any area), ``uncovered_area``/``pop_area`` float64[n_areas].
    Returns ``(worst float64[k], gain float64[k])`` (``inf`` worst for candidates not allowed).
    """
    k = ptr.shape[0] - 1
    na = pop_area.shape[0]
    worst = np.empty(k, np.float64)
    gain = np.empty(k, np.float64)
    for c in prange(k):
        if not allowed[c]:
            worst[c] = np.inf
            gain[c] = -1.0
            continue
        red = np.zeros(na, np.float64)
        g = 0.0
        for p in range(ptr[c], ptr[c + 1]):
            if time_s[p] <= thr_s:
                q = cell[p]
                if not covered[q]:
                    g += weight[q]
                    a = cell_area[q]
                    if a >= 0:
                        red[a] += weight[q]
        w = 0.0
        for a in range(na):
            if pop_area[a] > 0:
                s = (uncovered_area[a] - red[a]) / pop_area[a]
                if s > w:
                    w = s
        worst[c] = w
        gain[c] = g
    return worst, gain


# --------------------------------------------------------------------------------------------- p-median
@njit(cache=True, parallel=True)
def pmedian_gains(ptr, cell, time_s, weight, cur_s):
    """float64[k]: weighted seconds saved by adding each candidate to a solution whose per-cell cost is ``cur_s``."""
    k = ptr.shape[0] - 1
    out = np.empty(k, np.float64)
    for c in prange(k):
        g = 0.0
        for p in range(ptr[c], ptr[c + 1]):
            q = cell[p]
            d = cur_s[q] - time_s[p]
            if d > 0:
                g += weight[q] * d
        out[c] = g
    return out


@njit(cache=True)
def pmedian_objective(ptr, cell, time_s, weight, base_s, sites):
    """sum_i weight_i * min(base_s[i], min over sites of t_ic) (``base_s`` already capped by the penalty)."""
    cur = base_s.copy()
    for j in range(sites.shape[0]):
        c = sites[j]
        for p in range(ptr[c], ptr[c + 1]):
            q = cell[p]
            if time_s[p] < cur[q]:
                cur[q] = time_s[p]
    s = 0.0
    for q in range(cur.shape[0]):
        s += weight[q] * cur[q]
    return s


@njit(cache=True)
def pmedian_greedy(ptr, cell, time_s, weight, base_s, k, allowed):
    """Greedy p-median: add, k times, the candidate that saves the most weighted seconds.

    ``base_s`` int32[n_cells]: the cost of each cell before any site (nearest existing venue, capped by the
    penalty for unreachable cells). Returns ``(chosen int64[k'], saving float64[k'])``.
    """
    n_cand = ptr.shape[0] - 1
    cur = base_s.copy()
    taken = ~allowed.copy()
    chosen = np.empty(k, np.int64)
    saving = np.empty(k, np.float64)
    it = 0
    while it < k:
        g = pmedian_gains(ptr, cell, time_s, weight, cur)
        best = -1
        bg = -1.0
        for c in range(n_cand):
            if not taken[c] and g[c] > bg:
                bg = g[c]
                best = c
        if best < 0:
            break
        chosen[it] = best
        saving[it] = bg
        taken[best] = True
        for p in range(ptr[best], ptr[best + 1]):
            q = cell[p]
            if time_s[p] < cur[q]:
                cur[q] = time_s[p]
        it += 1
    return chosen[:it], saving[:it]


@njit(cache=True)
def _best_two(ptr, cell, time_s, base_s, sites):
    """Per cell: best cost, its owner (position in ``sites``; -1 = the base), second best."""
    n = base_s.shape[0]
    b1 = base_s.copy()
    own = np.full(n, -1, np.int64)
    b2 = base_s.copy()
    for j in range(sites.shape[0]):
        c = sites[j]
        for p in range(ptr[c], ptr[c + 1]):
            q = cell[p]
            t = time_s[p]
            if t < b1[q]:
                b2[q] = b1[q]
                b1[q] = t
                own[q] = j
            elif t < b2[q]:
                b2[q] = t
    return b1, own, b2


@njit(cache=True, parallel=True)
def _swap_deltas(ptr, cell, time_s, weight, b1, own, b2, loss, candidates):
    """For each candidate ``c`` in ``candidates`` and each open position ``j``: change of the objective when ``c``
    replaces site ``j`` (negative = better). float64[len(candidates), K]."""
    K = loss.shape[0]
    out = np.empty((candidates.shape[0], K), np.float64)
    for r in prange(candidates.shape[0]):
        c = candidates[r]
        corr = np.zeros(K, np.float64)
        g = 0.0
        for p in range(ptr[c], ptr[c + 1]):
            q = cell[p]
            t = time_s[p]
            w = weight[q]
            d1 = t - b1[q] if t < b1[q] else 0
            g += w * d1
            j = own[q]
            if j >= 0:
                d2 = t - b2[q] if t < b2[q] else 0
                corr[j] += w * (d2 - d1)
        for j in range(K):
            out[r, j] = loss[j] + g + corr[j]
    return out


@njit(cache=True)
def pmedian_swap(ptr, cell, time_s, weight, base_s, sites0, allowed, max_rounds):
    """Teitz-Bart interchange: apply the best improving (out, in) swap until none improves.

    Returns ``(sites int64[K], n_swaps, objective)``. The objective never increases.
    """
    sites = sites0.copy()
    K = sites.shape[0]
    n_cand = ptr.shape[0] - 1
    n_swaps = 0
    obj = pmedian_objective(ptr, cell, time_s, weight, base_s, sites)
    if K == 0:
        return sites, 0, obj
    for _ in range(max_rounds):
        b1, own, b2 = _best_two(ptr, cell, time_s, base_s, sites)
        loss = np.zeros(K, np.float64)
        for q in range(b1.shape[0]):
            j = own[q]
            if j >= 0:
                loss[j] += weight[q] * (b2[q] - b1[q])
        open_ = np.zeros(n_cand, np.bool_)
        for j in range(K):
            open_[sites[j]] = True
        cnt = 0
        for c in range(n_cand):
            if allowed[c] and not open_[c]:
                cnt += 1
        cands = np.empty(cnt, np.int64)
        cnt = 0
        for c in range(n_cand):
            if allowed[c] and not open_[c]:
                cands[cnt] = c
                cnt += 1
        if cnt == 0:
            break
        d = _swap_deltas(ptr, cell, time_s, weight, b1, own, b2, loss, cands)
        best = 0.0
        br = -1
        bj = -1
        for r in range(cnt):
            for j in range(K):
                if d[r, j] < best - 1e-9 * (1.0 + abs(obj)):
                    best = d[r, j]
                    br = r
                    bj = j
        if br < 0:
            break
        new_sites = sites.copy()
        new_sites[bj] = cands[br]
        new_obj = pmedian_objective(ptr, cell, time_s, weight, base_s, new_sites)
        if new_obj >= obj:  # guard against rounding: never accept a non-improving swap
            break
        sites = new_sites
        obj = new_obj
        n_swaps += 1
    return sites, n_swaps, obj


# --------------------------------------------------------------------------------------------- per-minute
@njit(cache=True, parallel=True)
def cumulative_per_minute(times_s, opportunities, cutoff_s):
    """float64[n_o, n_m]: opportunities reachable within ``cutoff_s`` from each origin at each departure minute.

    ``times_s`` int32[n_o, n_d, n_m] (``-1`` unreachable), ``opportunities`` float64[n_d].
    """
    n_o, n_d, n_m = times_s.shape
    out = np.zeros((n_o, n_m), np.float64)
    for o in prange(n_o):
        for d in range(n_d):
            w = opportunities[d]
            if w == 0.0:
                continue
            for m in range(n_m):
                t = times_s[o, d, m]
                if t >= 0 and t <= cutoff_s:
                    out[o, m] += w
    return out


@njit(cache=True, parallel=True)
def nearest_per_minute(times_s, mask):
    """int32[n_o, n_m]: seconds to the nearest destination with ``mask[d]`` at each minute (-1 none)."""
    n_o, n_d, n_m = times_s.shape
    out = np.full((n_o, n_m), -1, np.int32)
    for o in prange(n_o):
        for m in range(n_m):
            b = INF
            for d in range(n_d):
                if mask[d]:
                    t = times_s[o, d, m]
                    if t >= 0 and t < b:
                        b = t
            if b != INF:
                out[o, m] = b
    return out
