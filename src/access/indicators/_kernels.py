"""numba kernels of the indicators: scatter reductions over one chunk of a travel matrix.

Arrays in, arrays out (or updated in place); no pandas, no settings. Each kernel adds one chunk into an
accumulator owned by the caller, so a matrix of any size is reduced chunk by chunk.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def add_at(out, idx, vals):
    """``out[idx[i]] += vals[i]`` for every i (NaN values skipped)."""
    for i in range(idx.shape[0]):
        v = vals[i]
        if v == v:
            out[idx[i]] += v


@njit(cache=True)
def add_at_keepnan(out, idx, vals):
    """``out[idx[i]] += vals[i]`` for every i; NaN propagates (R's ``sum`` without ``na.rm``)."""
    for i in range(idx.shape[0]):
        out[idx[i]] += vals[i]


@njit(cache=True)
def min_at(out, idx, vals):
    """``out[idx[i]] = min(out[idx[i]], vals[i])`` for every i."""
    for i in range(idx.shape[0]):
        v = vals[i]
        if v < out[idx[i]]:
            out[idx[i]] = v


@njit(cache=True)
def cum_hist(out, row, n_bins, cost, vals, cutoffs):
    """Histogram of ``vals`` by the first cutoff >= cost: ``out[row*n_bins + k] += vals`` (cost > last cutoff skipped).

    A cumulative sum along the bins then gives, per row, the sum of ``vals`` with ``cost <= cutoffs[k]``.
    """
    last = cutoffs[n_bins - 1]
    for i in range(row.shape[0]):
        c = cost[i]
        if not (c <= last):
            continue
        lo = 0
        hi = n_bins - 1
        while lo < hi:  # first k with cutoffs[k] >= c
            mid = (lo + hi) >> 1
            if cutoffs[mid] >= c:
                hi = mid
            else:
                lo = mid + 1
        out[row[i] * n_bins + lo] += vals[i]


@njit(cache=True)
def bin_add(out, row, n_bins, k, vals):
    """``out[row*n_bins + k] += vals`` where ``0 <= k < n_bins``."""
    for i in range(row.shape[0]):
        kk = k[i]
        if kk >= 0 and kk < n_bins:
            out[row[i] * n_bins + kk] += vals[i]


@njit(cache=True)
def prefix_until(row_sorted, vals_sorted, n):
    """Keep mask of the rows (sorted by row then cost) up to and including the one whose running sum reaches n."""
    m = row_sorted.shape[0]
    keep = np.zeros(m, dtype=np.bool_)
    cur = -1
    run = 0.0
    for i in range(m):
        r = row_sorted[i]
        if r != cur:
            cur = r
            run = 0.0
        if run < n:
            keep[i] = True
        run += vals_sorted[i]
    return keep


@njit(cache=True)
def first_reaching(rows, costs_sorted, cum_sorted, n, out):
    """For rows sorted by (row, cost) with running sums ``cum_sorted``: ``out[row] = min cost with cum >= n``."""
    for i in range(rows.shape[0]):
        r = rows[i]
        if cum_sorted[i] >= n and costs_sorted[i] < out[r]:
            out[r] = costs_sorted[i]
