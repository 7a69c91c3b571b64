"""Kernels of :func:`access.nearest_times` (transit): bounded access walks and a backward range-RAPTOR that stops
as soon as no origin can still improve.

Both rest on one fact: a trip is never shorter than its access walk, and an origin that can walk straight to the
nearest destination of a group in ``w`` seconds takes at most ``w`` at every departure minute. So

- the access walks are bounded per origin by its longest direct walk over the groups (a stop farther than that never
  helps), not by the query's access limit;
- per group, the backward search (:func:`access.core.raptor.backward_range_raptor_columns`'s deadlines in
  increasing order) needs no trip longer than ``H``, the longest ``min(direct walk, max_time_s)`` over the origins
  that reach a stop, and stops at the first deadline after which no origin can improve: each one is settled at every
  minute, or its direct walk already beats any later arrival.

The result is, integer for integer, that of :func:`~access.core.raptor.backward_range_raptor_columns` on the same
walks. Arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .dijkstra import INF
from .raptor import BIG, _deadline_events, _last_at_most, _reduce_minutes
from .walk import _node_to_points, _walk_points

__all__ = ["access_walks_bounded", "backward_nearest_columns", "useful_access"]


@njit(cache=True)
def _by_target(dense, a0):
    """The finite cells of ``dense[k, j]`` as (target, a0 + source, seconds) int32 triples by target, sources
    increasing within a target."""
    k, j = dense.shape
    cnt = np.zeros(j + 1, dtype=np.int64)
    for i in range(k):
        for p in range(j):
            if dense[i, p] != INF:
                cnt[p + 1] += 1
    for p in range(j):
        cnt[p + 1] += cnt[p]
    n = cnt[j]
    tgt = np.empty(n, dtype=np.int32)
    src = np.empty(n, dtype=np.int32)
    val = np.empty(n, dtype=np.int32)
    for i in range(k):
        for p in range(j):
            v = dense[i, p]
            if v != INF:
                q = cnt[p]
                tgt[q] = p
                src[q] = a0 + i
                val[q] = v
                cnt[p] = q + 1
    return tgt, src, val


@njit(cache=True)
def _useful(sa_off, sa_org, sa_s, direct_s):
    """Numba body of :func:`useful_access`."""
    n_o, n_cols = direct_s.shape
    n_stops = sa_off.shape[0] - 1
    off = np.zeros((n_cols, n_stops + 1), dtype=np.int64)
    n = 0
    for g in range(n_cols):
        for st in range(n_stops):
            off[g, st] = n
            for e in range(sa_off[st], sa_off[st + 1]):
                w = direct_s[sa_org[e], g]
                if w < 0 or sa_s[e] < w:
                    n += 1
        off[g, n_stops] = n
    org = np.empty(n, dtype=np.int32)
    sec = np.empty(n, dtype=np.int32)
    q = 0
    for g in range(n_cols):
        for e in range(sa_off[0], sa_off[n_stops]):
            w = direct_s[sa_org[e], g]
            if w < 0 or sa_s[e] < w:
                org[q] = sa_org[e]
                sec[q] = sa_s[e]
                q += 1
    return off, org, sec


def access_walks_bounded(first_out: np.ndarray, head: np.ndarray, weight: np.ndarray, src_node: np.ndarray,
                         src_cost: np.ndarray, bound_s: np.ndarray, tgt_node: np.ndarray, tgt_cost: np.ndarray,
                         nthreads: int, *, max_cells: int = 2**24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walks from the sources to the targets (stops), source ``i`` within ``bound_s[i]`` seconds (``-1``: none),
    as a CSR *by target*: ``(off int64[n_tgt + 1], source int32, seconds int32)``, sources increasing within a
    target (what :func:`access.core.raptor.backward_range_raptor_columns` takes as the access walks).

    ``src_node/src_cost`` [k, s]: seeds of each source; ``tgt_node/tgt_cost`` [j, s]: nodes from which each target
    is reached and the seconds from them. Sources go in chunks of at most ``max_cells`` dense cells.
    """
    n_nodes = first_out.shape[0] - 1
    toff, tpt, tcost = _node_to_points(n_nodes, np.asarray(tgt_node), np.asarray(tgt_cost))
    k, j = src_node.shape[0], tgt_node.shape[0]
    sn = np.ascontiguousarray(src_node, dtype=np.int32)
    sc = np.ascontiguousarray(src_cost, dtype=np.int32)
    bd = np.ascontiguousarray(bound_s, dtype=np.int32)
    chunk = max(1, min(max(k, 1), max_cells // max(j, 1)))
    tg, sr, sv = [], [], []
    for a in range(0, k, chunk):
        dense = _walk_points(first_out, head, weight, sn[a:a + chunk], sc[a:a + chunk], bd[a:a + chunk], toff, tpt,
                             tcost, j, max(1, int(nthreads)))
        t_, s_, v_ = _by_target(dense, a)
        tg.append(t_)
        sr.append(s_)
        sv.append(v_)
    if not tg:
        return np.zeros(j + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32)
    tgt, src, val = np.concatenate(tg), np.concatenate(sr), np.concatenate(sv).astype(np.int32)
    if len(tg) > 1:  # chunks hold increasing sources: a stable sort by target keeps them increasing
        order = np.argsort(tgt, kind="stable")
        tgt, src, val = tgt[order], src[order], val[order]
    off = np.zeros(j + 1, np.int64)
    off[1:] = np.cumsum(np.bincount(tgt, minlength=j))
    return off, src, val


@njit(cache=True, inline="always")
def _mark_patterns_both(stops, n, mark, stop_pat_off, stop_pat, stop_pat_pos, pat_stop_off, allowed, pat_end,
                        pat_start, pat_list):
    """The patterns through ``stops[:n]`` (clearing their ``mark``) at alighting positions, each with its latest
    (``pat_end``, -1 for patterns not listed yet) and earliest (``pat_start``) such position."""
    npl = 0
    for j in range(n):
        s = stops[j]
        mark[s] = False
        for e in range(stop_pat_off[s], stop_pat_off[s + 1]):
            p = stop_pat[e]
            pos = stop_pat_pos[e]
            if allowed[pat_stop_off[p] + pos] == 0:
                continue
            if pat_end[p] < 0:
                pat_end[p] = pos
                pat_start[p] = pos
                pat_list[npl] = p
                npl += 1
            elif pos > pat_end[p]:
                pat_end[p] = pos
            elif pos < pat_start[p]:
                pat_start[p] = pos
    return npl


@njit(cache=True)
def _run_deadline_memo(lb, ev_stop, ev_seed, K, slack_s,
                       pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                       stop_pat_off, stop_pat, stop_pat_pos, xt_off, xt_from, xt_s,
                       lride, lboard, mark, list_a, list_b, pat_end, pat_start, pat_list, imp_flag, imp_list, n_imp,
                       rec):
    """:func:`access.core.raptor.run_deadline` with a memory of the pattern scans: the same labels, element for
    element, without the scans that cannot raise any.

    ``rec[k, q]`` (int32[K + 1, n_pattern_stops], -1 at the start of a search) is the latest trip with which
    pattern position ``q`` was scanned (the trip used to board there) in a round ``<= k`` of this search, so
    ``lboard[k]`` at that stop already holds that trip's departure (or it was below the label bound, which only
    rises). Below ``pat_start[p]``, the earliest position of ``p`` whose alighting label rose in this round, the trip
    changes only on labels that some earlier scan of a round ``<= k`` already met (a label rises only with its stop
    marked for the next round), so once the trip at a position is no later than ``rec[k]`` there, every position
    below is too: the scan stops.
    """
    nm = 0
    for j in range(ev_stop.shape[0]):
        s = ev_stop[j]
        v = ev_seed[j]
        if v < lb or v <= lride[0, s]:
            continue
        for r in range(K):
            if v > lride[r, s]:
                lride[r, s] = v
        if not mark[s]:
            mark[s] = True
            list_a[nm] = s
            nm += 1
    for k in range(1, K + 1):
        if nm == 0:
            break
        # patterns through the stops whose alighting label rose in the previous round, from the latest position
        npl = _mark_patterns_both(list_a, nm, mark, stop_pat_off, stop_pat, stop_pat_pos, pat_stop_off,
                                  pat_alight, pat_end, pat_start, pat_list)
        nb = 0  # stops whose boarding label rose this round (list_b)
        for j in range(npl):
            p = pat_list[j]
            end = pat_end[p]
            start = pat_start[p]
            pat_end[p] = -1
            base = pat_stop_off[p]
            ns = pat_stop_off[p + 1] - base
            nt = pat_ntrips[p]
            toff = pat_time_off[p]
            tr = -1
            for i in range(end, -1, -1):
                q = base + i
                if tr <= rec[k, q]:
                    if i < start:
                        break
                else:
                    for r in range(k, K + 1):
                        if tr > rec[r, q]:
                            rec[r, q] = tr
                s = pat_stops[q]
                if tr >= 0 and pat_board[base + i] != 0:
                    c = t_dep[toff + tr * ns + i] - slack_s
                    if c >= lb and c > lboard[k, s]:
                        for r in range(k, K + 1):
                            if c > lboard[r, s]:
                                lboard[r, s] = c
                        if lboard[K, s] == c and not imp_flag[s]:
                            imp_flag[s] = True
                            imp_list[n_imp] = s
                            n_imp += 1
                        if not mark[s]:
                            mark[s] = True
                            list_b[nb] = s
                            nb += 1
                if pat_alight[base + i] != 0:
                    lim = lride[k - 1, s]
                    lo = tr + 1
                    if lo < nt and t_arr[toff + lo * ns + i] <= lim:
                        tr = _last_at_most(t_arr, lo + 1, nt, ns, toff + i, lim)
        for j in range(nb):
            mark[list_b[j]] = False
        nm = 0
        if k == K:
            break
        # boarding labels -> alighting labels: board where one got off, or after one walking transfer
        for j in range(nb):
            s = list_b[j]
            v0 = lboard[k, s]
            if v0 > lride[k, s]:
                for r in range(k, K):
                    if v0 > lride[r, s]:
                        lride[r, s] = v0
                if not mark[s]:
                    mark[s] = True
                    list_a[nm] = s
                    nm += 1
            for e in range(xt_off[s], xt_off[s + 1]):
                s2 = xt_from[e]
                v = v0 - xt_s[e]
                if v >= lb and v > lride[k, s2]:
                    for r in range(k, K):
                        if v > lride[r, s2]:
                            lride[r, s2] = v
                    if not mark[s2]:
                        mark[s2] = True
                        list_a[nm] = s2
                        nm += 1
    for j in range(nm):
        mark[list_a[j]] = False
    return n_imp



@njit(cache=True, parallel=True)
def backward_nearest_columns(sa_off, sa_org, sa_s, dd_off, dd_org, dd_s, d_off, d_stop, d_s, dep_times, K, max_time_s,
                             slack_s, pct_index, pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips,
                             pat_time_off, t_arr, t_dep, stop_pat_off, stop_pat, stop_pat_pos, xt_off, xt_from, xt_s,
                             n_o, n_chunks, want_per_minute):
    """:func:`access.core.raptor.backward_range_raptor_columns` (same arrays back, element for element) for columns
    whose direct walks ``dd`` are known, with the cuts of this module.

    ``sa_off`` is int64[n_dest, n_stops + 1]: each column's own access CSR by stop into ``sa_org``/``sa_s`` (the
    walks shorter than the origin's direct walk to that column: see :func:`useful_access`). Per column, an origin
    is *done* once no later deadline can improve it: all its minutes settled, or its direct walk ``w`` no longer
    than ``A - last minute`` (the shortest trip any deadline from ``A`` on gives), or no access walk at all. The
    *horizon* ``H`` is the longest ``min(w, max_time_s)`` over the origins not done: no trip longer than ``H`` can
    still serve one, so labels below ``A - H`` are not recorded (``H`` only shrinks: what is cut now is useless
    later too), and the deadlines stop at ``last minute + H`` or when every origin is done."""
    n_dest = d_off.shape[0] - 1
    n_stops = stop_pat_off.shape[0] - 1
    n_pat = pat_stop_off.shape[0] - 1
    n_min = dep_times.shape[0]
    n_p = pct_index.shape[0]
    t_first = dep_times[0]
    t_last = np.int64(dep_times[n_min - 1])
    times = np.empty((n_o, n_dest, n_p), dtype=np.int32)
    if want_per_minute:
        per_min = np.empty((n_o, n_dest, n_min), dtype=np.int32)
    else:
        per_min = np.empty((0, 0, 0), dtype=np.int32)
    nch = max(1, min(n_chunks, n_dest))
    for c in prange(nch):
        lride = np.empty((max(K, 1), n_stops), dtype=np.int32)
        lboard = np.empty((K + 1, n_stops), dtype=np.int32)
        mark = np.zeros(n_stops, dtype=np.bool_)
        list_a = np.empty(n_stops, dtype=np.int32)
        list_b = np.empty(n_stops, dtype=np.int32)
        pat_end = np.full(max(n_pat, 1), -1, dtype=np.int32)
        pat_list = np.empty(max(n_pat, 1), dtype=np.int32)
        pat_start = np.full(max(n_pat, 1), -1, dtype=np.int32)
        rec = np.empty((K + 1, pat_stops.shape[0]), dtype=np.int32)
        imp_flag = np.zeros(n_stops, dtype=np.bool_)
        imp_list = np.empty(n_stops, dtype=np.int32)
        f_o = np.empty(n_o, dtype=np.int32)
        nxt = np.empty(n_o, dtype=np.int32)
        tt = np.empty((n_o, n_min), dtype=np.int32)
        srt = np.empty(n_min, dtype=np.int32)
        wd = np.empty(n_o, dtype=np.int64)  # direct walk of each origin to this column (max_time_s + 1: none)
        done = np.empty(n_o, dtype=np.bool_)
        for d in range(c, n_dest, nch):
            lride[:, :] = -BIG
            lboard[:, :] = -BIG
            rec[:, :] = -1
            f_o[:] = -BIG
            nxt[:] = 0
            tt[:, :] = BIG
            wd[:] = max_time_s + 1
            for e in range(dd_off[d], dd_off[d + 1]):
                o = dd_org[e]
                if dd_s[e] < wd[o]:
                    wd[o] = dd_s[e]
            done[:] = True
            for e in range(sa_off[d, 0], sa_off[d, n_stops]):
                done[sa_org[e]] = False
            n_left = 0
            for o in range(n_o):
                if not done[o]:
                    n_left += 1
            order = np.argsort(wd)  # origins by direct walk: done by it in increasing order of deadlines
            ptr = 0
            hptr = n_o - 1  # the not-done origin with the longest direct walk: the horizon
            while hptr >= 0 and done[order[hptr]]:
                hptr -= 1
            horizon = min(wd[order[hptr]], np.int64(max_time_s)) if hptr >= 0 else np.int64(-1)
            e0 = d_off[d]
            e1 = d_off[d + 1]
            if K > 0 and e1 > e0 and n_left > 0:
                dl, ev_stop, ev_seed = _deadline_events(d_stop[e0:e1], d_s[e0:e1], t_first, t_last + horizon,
                                                        pat_stop_off, pat_alight, pat_ntrips, pat_time_off, t_arr,
                                                        stop_pat_off, stop_pat, stop_pat_pos)
                n_ev = dl.shape[0]
                g0 = 0
                while g0 < n_ev:
                    A = dl[g0]
                    # origins whose direct walk is no longer than A - t_last: no deadline from A on helps them
                    while ptr < n_o and wd[order[ptr]] <= A - t_last:
                        o = order[ptr]
                        if not done[o]:
                            done[o] = True
                            n_left -= 1
                        ptr += 1
                    if n_left == 0:
                        break
                    while hptr >= 0 and done[order[hptr]]:
                        hptr -= 1
                    horizon = min(wd[order[hptr]], np.int64(max_time_s))
                    if A > t_last + horizon:
                        break
                    g1 = g0 + 1
                    while g1 < n_ev and dl[g1] == A:
                        g1 += 1
                    lb = max(np.int64(t_first), A - horizon)
                    ni = _run_deadline_memo(lb, ev_stop[g0:g1], ev_seed[g0:g1], K, slack_s, pat_stop_off,
                                            pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                                            stop_pat_off, stop_pat, stop_pat_pos, xt_off, xt_from, xt_s, lride,
                                            lboard, mark, list_a, list_b, pat_end, pat_start, pat_list, imp_flag,
                                            imp_list, 0, rec)
                    # origins whose latest departure passed some of their minutes arrive at A at best
                    for j in range(ni):
                        s = imp_list[j]
                        imp_flag[s] = False
                        v = lboard[K, s]
                        for e in range(sa_off[d, s], sa_off[d, s + 1]):
                            o = sa_org[e]
                            if done[o]:
                                continue
                            f = v - sa_s[e]
                            if f > f_o[o]:
                                f_o[o] = f
                                m = nxt[o]
                                while m < n_min and dep_times[m] <= f:
                                    tt[o, m] = A - dep_times[m]
                                    m += 1
                                nxt[o] = m
                                if m == n_min:
                                    done[o] = True
                                    n_left -= 1
                    g0 = g1
            for e in range(dd_off[d], dd_off[d + 1]):
                o = dd_org[e]
                w = dd_s[e]
                for m in range(n_min):
                    if w < tt[o, m]:
                        tt[o, m] = w
            for o in range(n_o):
                _reduce_minutes(tt[o], o, d, max_time_s, pct_index, srt, times, per_min, want_per_minute)
    return times, per_min


def useful_access(sa_off: np.ndarray, sa_org: np.ndarray, sa_s: np.ndarray, direct_s: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column's access walks (CSR by stop, as :func:`access_walks_bounded`) kept where shorter than the
    origin's direct walk to the column (``direct_s`` int[n_o, n_cols], -1 none: all kept): a trip through a stop
    at least as far as the direct walk never beats it. Returns ``(off int64[n_cols, n_stops + 1], origin, seconds)``
    for :func:`backward_nearest_columns`."""
    return _useful(np.asarray(sa_off, np.int64), np.asarray(sa_org, np.int32), np.asarray(sa_s, np.int32),
                   np.ascontiguousarray(direct_s, dtype=np.int32))
