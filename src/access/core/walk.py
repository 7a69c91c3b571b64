"""The one seeded, bounded walk search (each source within its own bound, on the shared Dial/heap search of
:mod:`access.core.dijkstra`): sparse walking seconds from many sources to many targets.

Used by every query that needs walks between points and stops (transit access, egress, footpaths, direct walks) and
by scenario edits. Arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .dijkstra import INF, _bucket_bits, bounded_search, search_scratch

__all__ = ["walk_points"]


@njit(cache=True, parallel=True)
def _walk_points(first_out, head, weight, seed_node, seed_cost, bound_s, tnode_off, tnode_pt, tnode_cost, n_pts,
                 nthreads):
    """Walks from each source (row of seeds) to points reached from nodes, source ``i`` bounded at ``bound_s[i]``
    (inclusive): int32[k, n_pts] seconds, INF beyond."""
    n = first_out.shape[0] - 1
    m = head.shape[0]
    k = seed_node.shape[0]
    out = np.full((k, n_pts), INF, dtype=np.int32)
    nth = max(1, min(nthreads, k))
    bits = _bucket_bits(weight, seed_cost)
    for t in prange(nth):
        scratch = search_scratch(n, m, seed_node.shape[1], bits)
        dist, touched = scratch[0], scratch[5]
        for i in range(t, k, nth):
            b = bound_s[i]
            if b < 0:
                continue
            nt = bounded_search(first_out, head, weight, seed_node[i], seed_cost[i], b, bits, scratch)
            for j in range(nt):
                v = touched[j]
                dv = dist[v]
                for e in range(tnode_off[v], tnode_off[v + 1]):
                    c = dv + tnode_cost[e]
                    p = tnode_pt[e]
                    if c <= b and c < out[i, p]:
                        out[i, p] = c
                dist[v] = INF
    return out


def _node_to_points(n_nodes, node, cost):
    """CSR node -> (point, seconds) from per-point (node[k, 2], cost[k, 2]) with -1 for absent."""
    k, s = node.shape
    pt = np.repeat(np.arange(k, dtype=np.int32), s)
    nd = node.reshape(-1)
    cs = cost.reshape(-1)
    ok = (nd >= 0) & (cs >= 0)
    pt, nd, cs = pt[ok], nd[ok], cs[ok]
    order = np.argsort(nd, kind="stable")
    off = np.zeros(n_nodes + 1, dtype=np.int64)
    np.add.at(off, nd + 1, 1)
    return np.cumsum(off), pt[order].astype(np.int32), cs[order].astype(np.int32)


def walk_points(first_out, head, weight, src_node, src_cost, tgt_node, tgt_cost, max_s, *, max_cells=2**25):
    """Sparse walking seconds from sources to targets within ``max_s``: (src, tgt, seconds) int arrays.

    ``src_node/src_cost`` [k, 2]: seeds of the sources (node reachable from the source, seconds);
    ``tgt_node/tgt_cost`` [j, 2]: nodes from which each target is reached and the seconds from them.
    Sources are processed in chunks so that at most ``max_cells`` dense cells exist at once.
    """
    import numba

    n_nodes = first_out.shape[0] - 1
    toff, tpt, tcost = _node_to_points(n_nodes, np.asarray(tgt_node), np.asarray(tgt_cost))
    k = src_node.shape[0]
    j = tgt_node.shape[0]
    rows, cols, vals = [], [], []
    chunk = max(1, min(k, max_cells // max(j, 1)))
    sn = np.ascontiguousarray(src_node, dtype=np.int32)
    sc = np.ascontiguousarray(src_cost, dtype=np.int32)
    for a in range(0, k, chunk):
        bound = np.full(min(chunk, k - a), max_s, dtype=np.int32)
        d = _walk_points(first_out, head, weight, sn[a:a + chunk], sc[a:a + chunk], bound, toff, tpt, tcost, j,
                         2 * int(numba.get_num_threads()))
        r, c = np.nonzero(d != INF)
        rows.append(r + a)
        cols.append(c)
        vals.append(d[r, c])
    if not rows:
        return (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.int32),)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals).astype(np.int32)
