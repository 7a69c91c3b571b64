"""numba kernels of the indicators: scatter reductions over one chunk of a travel matrix.

Arrays in, arrays out (or updated in place); no pandas, no settings. Each kernel adds one chunk into an
accumulator owned by the caller, so a matrix of any size is reduced chunk by chunk.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def lut_lookup(values, lut):
    """``lut[values]`` as int32, -1 where a value falls outside the table."""
    n = lut.shape[0]
    out = np.empty(values.shape[0], dtype=np.int32)
    for i in range(values.shape[0]):
        v = values[i]
        out[i] = lut[v] if v >= 0 and v < n else -1
    return out


@njit(cache=True)
def mark(seen, codes):
    """``seen[codes] = True``."""
    for i in range(codes.shape[0]):
        seen[codes[i]] = True


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


@njit(cache=True, error_model="numpy")
def add_ratio(out, oi, a, ai, den, di, w, keepnan):
    """``out[oi] += a[ai] * w / den[di]`` per pair; NaN terms skipped unless ``keepnan`` (R's ``na.rm``).

    Division by zero follows IEEE (inf or NaN), as in R.
    """
    for i in range(oi.shape[0]):
        v = a[ai[i]] * w[i] / den[di[i]]
        if keepnan or v == v:
            out[oi[i]] += v


@njit(cache=True, error_model="numpy")
def add_ratio2(out, oi, a, ai, c, ci, den, di, w, keepnan):
    """``out[oi] += a[ai] * c[ci] * w / den[di]`` per pair; NaN terms skipped unless ``keepnan``."""
    for i in range(oi.shape[0]):
        v = a[ai[i]] * c[ci[i]] * w[i] / den[di[i]]
        if keepnan or v == v:
            out[oi[i]] += v


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
def _kth_smallest(a, k):
    """k-th smallest value (0-based) of ``a`` by quickselect (Hoare partition); ``a`` is reordered."""
    lo = 0
    hi = a.shape[0] - 1
    while lo < hi:
        pivot = a[(lo + hi) >> 1]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@njit(cache=True)
def prune_candidates(rows, cost, vals, n, n_rows):
    """Indices of the pairs that can still decide the cost to reach ``n`` opportunities, sorted by (row, cost).

    Counting sort by row, then per row (origin) a partial sort by cost (quickselect of the cheapest pairs, widened
    until enough) and the prefix up to and including the pair whose running sum of ``vals`` reaches ``n``.
    Serial: the parallel version took 20 s to compile for a gain of a few percent on a 2-core machine.
    """
    m = rows.shape[0]
    start = np.zeros(n_rows + 1, dtype=np.int64)
    for i in range(m):
        start[rows[i] + 1] += 1
    for r in range(n_rows):
        start[r + 1] += start[r]
    pos = start[:-1].copy()
    perm = np.empty(m, dtype=np.int64)
    for i in range(m):
        r = rows[i]
        perm[pos[r]] = i
        pos[r] += 1
    keep = np.zeros(n_rows, dtype=np.int64)
    sorted_idx = np.empty(m, dtype=np.int64)
    for r in range(n_rows):
        a = start[r]
        b = start[r + 1]
        if b == a:
            continue
        seg = perm[a:b]
        c = cost[seg]
        size = b - a
        guess = 8
        while True:
            # only the cheapest pairs can matter: select those up to the guess-th smallest cost, sort them, and
            # widen the selection until the running sum reaches n (or everything is sorted)
            if guess >= size:
                sel = seg
            else:
                thr = _kth_smallest(c.copy(), guess - 1)
                sel = seg[c <= thr]
            o = np.argsort(cost[sel])
            run = 0.0
            k = 0
            for j in range(sel.shape[0]):
                idx = sel[o[j]]
                sorted_idx[a + j] = idx
                if run < n:
                    k += 1
                run += vals[idx]
            if run >= n or sel.shape[0] == size:
                break
            guess *= 4
        keep[r] = k
    total = 0
    for r in range(n_rows):
        total += keep[r]
    out = np.empty(total, dtype=np.int64)
    w = 0
    for r in range(n_rows):
        a = start[r]
        for j in range(keep[r]):
            out[w] = sorted_idx[a + j]
            w += 1
    return out


@njit(cache=True)
def first_reaching(rows, costs_sorted, cum_sorted, n, out):
    """For rows sorted by (row, cost) with running sums ``cum_sorted``: ``out[row] = min cost with cum >= n``."""
    for i in range(rows.shape[0]):
        r = rows[i]
        if cum_sorted[i] >= n and costs_sorted[i] < out[r]:
            out[r] = costs_sorted[i]
