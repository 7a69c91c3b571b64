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

INF = np.int32(2**31 - 1)


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


@njit(cache=True, parallel=True)
def min_recompute_rows(times, cols, rows, best, c):
    """``best[r, c] = min over cols of times[r, col]`` (reachable only, ``INF`` if none) for each r in ``rows``."""
    for q in prange(rows.shape[0]):
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
