"""Twins of the siting kernels that only the tests use: greedy coverage re-evaluating every candidate at every step
(the lazy-greedy `celf_coverage` must choose the same sites)."""

from __future__ import annotations

import numpy as np
from numba import njit

from access.core.siting_kernels import coverage_gains


@njit(cache=True)
def plain_greedy_coverage(ptr, cell, time_s, thr_s, weight, covered0, k, allowed):
    """Greedy maximal coverage re-evaluating every candidate at every step (the twin of :func:`celf_coverage`)."""
    n_cand = ptr.shape[0] - 1
    covered = covered0.copy()
    taken = ~allowed.copy()
    chosen = np.empty(k, np.int64)
    gains = np.empty(k, np.float64)
    it = 0
    while it < k:
        g = coverage_gains(ptr, cell, time_s, thr_s, weight, covered)
        best = -1
        bg = -1.0
        for c in range(n_cand):
            if not taken[c] and g[c] > bg:
                bg = g[c]
                best = c
        if best < 0:
            break
        chosen[it] = best
        gains[it] = bg
        taken[best] = True
        for p in range(ptr[best], ptr[best + 1]):
            if time_s[p] <= thr_s:
                covered[cell[p]] = True
        it += 1
    return chosen[:it], gains[:it]
