"""Kernels of incremental venue updates (numba): one venue's column of travel times in, reductions updated.

A venue's *column* is int32[n_cells] seconds from every cell to it (``-1`` unreachable). The per-cell
reductions live in arrays owned by :class:`access.scenarios.AccessibilityState`, with a category axis ``c``:

* nearest: ``best[i, c]`` int32 seconds (``INF`` none): adding is a min; removing recomputes only the rows whose
  best was the removed column, over the remaining columns;
* cumulative: ``acc[i, c, k]`` += value where ``col[i] / 60 <= cutoffs_min[k]`` (minutes, as the indicator
  measures compare them);
* weighted sums (gravity, 2SFCA): ``acc[i, c]`` += value * ``w[i]`` for the cells where the weight is non-zero
  (a 2SFCA update touches only the cells of the venue's catchment);
* ``weighted_demand``: a venue's served demand ``sum_i P_i w_i``.

Arrays in, arrays out (updated in place); no Python objects.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .dijkstra import INF, _search


@njit(cache=True)
def min_update(best, c, col):
    """``best[i, c] = min(best[i, c], col[i])`` over reachable cells; returns how many rows improved."""
    n = 0
    for i in range(col.shape[0]):
        t = col[i]
        if t >= 0 and t < best[i, c]:
            best[i, c] = t
            n += 1
    return n


@njit(cache=True)
def rows_attaining(best, c, col):
    """Rows whose ``best[i, c]`` equals ``col[i]`` (the removed venue was (one of) their nearest)."""
    out = np.empty(col.shape[0], dtype=np.int64)
    n = 0
    for i in range(col.shape[0]):
        if col[i] >= 0 and best[i, c] == col[i]:
            out[n] = i
            n += 1
    return out[:n]


@njit(cache=True)
def min_recompute_rows(times, cols, rows, best, c):
    """``best[r, c] = min over cols of times[r, col]`` (reachable only, ``INF`` if none) for each r in ``rows``.

    Serial: the rows are the few cells whose nearest venue was removed (no thread-pool start-up per edit).
    """
    for q in range(rows.shape[0]):
        r = rows[q]
        b = INF
        for j in range(cols.shape[0]):
            t = times[r, cols[j]]
            if t >= 0 and t < b:
                b = t
        best[r, c] = b


@njit(cache=True)
def cumulative_add(acc, c, col, cutoffs_min, value):
    """``acc[i, c, k] += value`` where the cell reaches the venue within ``cutoffs_min[k]`` (sorted ascending)."""
    K = cutoffs_min.shape[0]
    n = 0
    for i in range(col.shape[0]):
        t = col[i]
        if t < 0:
            continue
        tm = t / 60.0
        if tm > cutoffs_min[K - 1]:
            continue
        n += 1
        for k in range(K):
            if tm <= cutoffs_min[k]:
                acc[i, c, k] += value
    return n


@njit(cache=True)
def weighted_add(acc, c, w, value):
    """``acc[i, c] += value * w[i]`` where ``w[i]`` is non-zero (NaN products skipped); returns cells touched."""
    n = 0
    for i in range(w.shape[0]):
        wi = w[i]
        if wi != 0.0:
            v = value * wi
            if v == v:
                acc[i, c] += v
                n += 1
    return n


@njit(cache=True)
def weighted_demand(pop, w):
    """``sum_i pop[i] * w[i]`` over non-zero weights (NaN products skipped, as the 2SFCA measure does)."""
    s = 0.0
    for i in range(w.shape[0]):
        if w[i] != 0.0:
            v = pop[i] * w[i]
            if v == v:
                s += v
    return s


@njit(cache=True)
def weighted_rows_sum(times_min_rows, ratio, keep):
    """For recomputation of a few rows: ``sum_j ratio[j] * w[r, j]`` over the columns ``keep[j]`` (NaN skipped)."""
    R = times_min_rows.shape[0]
    out = np.zeros(R)
    for r in range(R):
        s = 0.0
        for j in range(times_min_rows.shape[1]):
            if keep[j]:
                v = ratio[j] * times_min_rows[r, j]
                if v == v:
                    s += v
        out[r] = s
    return out


@njit(cache=True)
def column_to_point(first_out, head, weight, seed_node, seed_cost, cell_node, cell_cost, max_time_s):
    """Seconds from every cell to one point: one bounded search on the **reversed** graph (serial, no thread pool).

    ``seed_node/seed_cost`` int32[s]: nodes from which the point is reached and the seconds from them (the point's
    egress); ``cell_node/cell_cost`` int32[k, s]: nodes each cell reaches and the seconds to them (its access).
    Returns int32[k], ``-1`` where unreached within ``max_time_s`` (the same values as a forward matrix).
    """
    n = first_out.shape[0] - 1
    m = head.shape[0]
    dist = np.full(n, INF, dtype=np.int32)
    heap = np.empty(m + seed_node.shape[0] + 1, dtype=np.int64)
    touched = np.empty(n, dtype=np.int32)
    _search(first_out, head, weight, seed_node, seed_cost, max_time_s, dist, heap, touched)
    k = cell_node.shape[0]
    out = np.empty(k, dtype=np.int32)
    for i in range(k):
        best = INF
        for s in range(cell_node.shape[1]):
            v = cell_node[i, s]
            if v >= 0 and cell_cost[i, s] >= 0 and dist[v] != INF:
                c = dist[v] + cell_cost[i, s]
                if c < best:
                    best = c
        out[i] = best if best <= max_time_s else -1
    return out


# ------------------------------------------------------------------------------------------------ sparse columns
# A venue's *sparse column* is its catchment: ``cells`` int32[q] (ascending cell indices) and ``times`` (uint16 or
# int32 seconds, all reachable) of the cells that reach it within the state's max time. The kernels below do what
# the dense ones above do, entry by entry in the same cell order (hence the same floating-point sums).


@njit(cache=True)
def sparse_min_update(best, c, cells, times):
    """``best[i, c] = min(best[i, c], t)`` over a sparse column; returns how many rows improved."""
    n = 0
    for q in range(cells.shape[0]):
        i = cells[q]
        t = np.int32(times[q])
        if t < best[i, c]:
            best[i, c] = t
            n += 1
    return n


@njit(cache=True)
def sparse_rows_attaining(best, c, cells, times):
    """Cells of a sparse column whose ``best[i, c]`` equals the column's time (it was (one of) their nearest)."""
    out = np.empty(cells.shape[0], dtype=np.int64)
    n = 0
    for q in range(cells.shape[0]):
        i = cells[q]
        if best[i, c] == np.int32(times[q]):
            out[n] = i
            n += 1
    return out[:n]


@njit(cache=True)
def sparse_cumulative_add(acc, c, cells, times, cutoffs_min, value):
    """:func:`cumulative_add` on a sparse column."""
    K = cutoffs_min.shape[0]
    n = 0
    for q in range(cells.shape[0]):
        tm = np.int32(times[q]) / 60.0
        if tm > cutoffs_min[K - 1]:
            continue
        i = cells[q]
        n += 1
        for k in range(K):
            if tm <= cutoffs_min[k]:
                acc[i, c, k] += value
    return n


@njit(cache=True)
def sparse_weighted_add(acc, c, cells, w, value):
    """:func:`weighted_add` on a sparse column (``w[q]`` the weight of the entry ``cells[q]``)."""
    n = 0
    for q in range(cells.shape[0]):
        wi = w[q]
        if wi != 0.0:
            v = value * wi
            if not np.isnan(v):
                acc[cells[q], c] += v
                n += 1
    return n


@njit(cache=True)
def sparse_weighted_demand(pop, cells, w):
    """:func:`weighted_demand` on a sparse column."""
    s = 0.0
    for q in range(cells.shape[0]):
        if w[q] != 0.0:
            v = pop[cells[q]] * w[q]
            if not np.isnan(v):
                s += v
    return s


@njit(cache=True)
def csr_rows_min(ptr, venue, times, rows, keep, best, c):
    """``best[r, c] = min`` of the by-cell entries of row ``r`` whose venue is kept (``INF`` if none), per row.

    ``ptr`` int64[n_cells + 1], ``venue`` int32[nnz], ``times`` [nnz]: the by-cell CSR of the catchments;
    ``keep`` bool[n_venue_slots] (active, of the category, capacity > 0). Serial (a few rows per edit).
    """
    for q in range(rows.shape[0]):
        r = rows[q]
        b = INF
        for e in range(ptr[r], ptr[r + 1]):
            if keep[venue[e]]:
                b = min(b, np.int32(times[e]))
        best[r, c] = b


@njit(cache=True, parallel=True)
def csr_by_cell(n_cells, ptr_v, cells, times, venue_like):
    """The by-cell CSR (``ptr`` int64[n_cells + 1], ``venue`` of ``venue_like``'s dtype, ``times``) of by-venue CSR
    catchments (``ptr_v`` int64[n_venues + 1], ``cells`` int32 ascending within a venue, ``times``): a counting
    sort, venues ascending in each row. ``prange`` over ranges of cells: each range's thread finds, in every
    venue's (sorted) cells, the part inside its range (two binary searches) and scatters only that."""
    nnz = cells.shape[0]
    nv = ptr_v.shape[0] - 1
    ptr = np.zeros(n_cells + 1, dtype=np.int64)
    for e in range(nnz):
        ptr[cells[e] + 1] += 1
    for i in range(n_cells):
        ptr[i + 1] += ptr[i]
    venue = np.empty(nnz, dtype=venue_like.dtype)
    out_t = np.empty(nnz, dtype=times.dtype)
    n_parts = 64
    # cell ranges of about equal pair counts
    bounds = np.zeros(n_parts + 1, dtype=np.int64)
    bounds[n_parts] = n_cells
    for q in range(1, n_parts):
        bounds[q] = min(np.searchsorted(ptr, nnz * q // n_parts), n_cells)
        if bounds[q] < bounds[q - 1]:
            bounds[q] = bounds[q - 1]
    for q in prange(n_parts):
        lo = bounds[q]
        hi = bounds[q + 1]
        if hi <= lo:
            continue
        cur = ptr[lo:hi].copy()
        for j in range(nv):
            a = ptr_v[j]
            b = ptr_v[j + 1]
            if a == b or cells[a] >= hi or cells[b - 1] < lo:
                continue
            s = a + np.searchsorted(cells[a:b], lo)
            for e in range(s, b):
                i = cells[e]
                if i >= hi:
                    break
                p = cur[i - lo]
                venue[p] = j
                out_t[p] = times[e]
                cur[i - lo] = p + 1
    return ptr, venue, out_t


@njit(cache=True, parallel=True)
def rows_to_csr(block, time_like):
    """The reached entries (``!= INF``) of ``block`` int32[k, n] (one row per venue, INF-form), as by-venue CSR
    parts: ``counts`` int64[k], ``cells`` int32[nnz] (ascending within a row) and ``times`` (``time_like``'s
    dtype). Two passes over the rows (count, then fill), ``prange`` over rows."""
    k, n = block.shape
    counts = np.zeros(k, dtype=np.int64)
    for r in prange(k):
        c = 0
        for i in range(n):
            if block[r, i] != INF:
                c += 1
        counts[r] = c
    ptr = np.zeros(k + 1, dtype=np.int64)
    for r in range(k):
        ptr[r + 1] = ptr[r] + counts[r]
    cells = np.empty(ptr[k], dtype=np.int32)
    times = np.empty(ptr[k], dtype=time_like.dtype)
    for r in prange(k):
        p = ptr[r]
        for i in range(n):
            t = block[r, i]
            if t != INF:
                cells[p] = i
                times[p] = t
                p += 1
    return counts, cells, times


@njit(cache=True, parallel=True)
def padded_to_csr(counts, cells, times, time_like):
    """By-venue CSR parts ``(counts, cells int32, times of time_like's dtype)`` of padded rows (the first
    ``counts[r]`` entries of ``cells[r]``/``times[r]``; :func:`access.core.dijkstra.catchment_rows`)."""
    k = counts.shape[0]
    ptr = np.zeros(k + 1, dtype=np.int64)
    for r in range(k):
        ptr[r + 1] = ptr[r] + counts[r]
    out_c = np.empty(ptr[k], dtype=np.int32)
    out_t = np.empty(ptr[k], dtype=time_like.dtype)
    for r in prange(k):
        p = ptr[r]
        for q in range(counts[r]):
            out_c[p + q] = cells[r, q]
            out_t[p + q] = times[r, q]
    return counts.copy(), out_c, out_t
