"""A candidate range-RAPTOR matrix kernel tried for issue 17 (not used by the package; kept for the record).

Against `access.core.raptor.range_raptor_matrix`: per-minute egress arrivals recorded only for the stops whose
ride label changed (filled row-wise afterwards instead of one strided column write per minute), and the
propagation to destinations pruned per 16-minute block by the block minimum of each stop. Output identical
(Porto Alegre 1,227 x 1,227, 120-min window, 5 percentiles: first 325 origins, arrays equal); time 0.99x
(cur 37.2 / 40.4 s, candidate 47.4 / 37.4 s, alternated in one process, load average ~10.5): the RAPTOR rounds,
not the recording or the propagation, hold the time."""

import numpy as np
from numba import njit, prange

from access.core.raptor import BIG, INF, _reduce_minutes, _scratch, run_departure

BLOCK = 16  # minutes per propagation block


@njit(cache=True, parallel=True)
def range_raptor_matrix(acc_off, acc_stop, acc_s, dir_off, dir_dest, dir_s, eg_slot, d_off, d_slot, d_s,
                        dep_times, K, max_time_s, slack_s, pct_index,
                        pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                        stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep, x_off, x_to, x_s, n_chunks,
                        want_per_minute):
    n_o = acc_off.shape[0] - 1
    n_dest = d_off.shape[0] - 1
    n_stops = stop_pat_off.shape[0] - 1
    n_pat = pat_stop_off.shape[0] - 1
    n_min = dep_times.shape[0]
    n_p = pct_index.shape[0]
    n_blk = (n_min + BLOCK - 1) // BLOCK
    n_slots = 0
    for s in range(n_stops):
        if eg_slot[s] >= 0:
            n_slots += 1
    times = np.empty((n_o, n_dest, n_p), dtype=np.int32)
    if want_per_minute:
        per_min = np.empty((n_o, n_dest, n_min), dtype=np.int32)
    else:
        per_min = np.empty((0, 0, 0), dtype=np.int32)
    dummy8 = np.zeros((1, 1), dtype=np.int8)
    dummy32 = np.zeros((1, 1), dtype=np.int32)
    nch = max(1, min(n_chunks, n_o))
    for c in prange(nch):
        tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list, snap_buf, improved_flag, improved_list, acc_ptr = \
            _scratch(n_stops, n_pat, K)
        direct = np.full(n_dest, INF, dtype=np.int32)
        arr_slot = np.empty((n_slots, n_min), dtype=np.int32)
        blk_min = np.empty((n_slots, n_blk), dtype=np.int32)
        best_slot = np.empty(n_slots, dtype=np.int32)
        cur = np.empty(n_slots, dtype=np.int32)     # the slot's tau_ride[K] since minute since[q]
        since = np.empty(n_slots, dtype=np.int32)
        tt = np.empty(n_min, dtype=np.int32)
        srt = np.empty(n_min, dtype=np.int32)
        bworst = np.empty(n_blk, dtype=np.int32)
        for o in range(c, n_o, nch):
            tau[:, :] = INF
            tau_ride[:, :] = INF
            for e in range(dir_off[o], dir_off[o + 1]):
                direct[dir_dest[e]] = dir_s[e]
            a0 = acc_off[o]
            a1 = acc_off[o + 1]
            if a1 > a0:
                for q in range(n_slots):
                    cur[q] = INF
                    since[q] = n_min
                for m in range(n_min - 1, -1, -1):
                    t = dep_times[m]
                    t_prev = INF if m == n_min - 1 else dep_times[m + 1]
                    ni = run_departure(t, t_prev, t + max_time_s, acc_stop[a0:a1], acc_s[a0:a1], K, slack_s,
                                       pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off,
                                       t_arr, t_dep, stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep,
                                       x_off, x_to, x_s, tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list,
                                       snap_buf, improved_flag, improved_list, 0, acc_ptr,
                                       False, dummy8, dummy32, dummy8, dummy32, dummy32, dummy32, dummy32)
                    # record per-minute arrivals only at the egress stops whose ride label changed: the minutes
                    # since[q]-1 .. m+1 keep the previous value (labels only fall as departures get earlier)
                    for j in range(ni):
                        s = improved_list[j]
                        improved_flag[s] = False
                        q = eg_slot[s]
                        if q < 0:
                            continue
                        v = tau_ride[K, s]
                        if v == cur[q]:
                            continue
                        old = cur[q]
                        for mm in range(m + 1, since[q]):
                            arr_slot[q, mm] = old
                        cur[q] = v
                        since[q] = m + 1
                for q in range(n_slots):
                    old = cur[q]
                    for mm in range(0, since[q]):
                        arr_slot[q, mm] = old
                    # travel time to the stop per minute (BIG when unreached), its minimum per block and overall
                    b = BIG
                    row = arr_slot[q]
                    for bk in range(n_blk):
                        bb = BIG
                        for m in range(bk * BLOCK, min(n_min, (bk + 1) * BLOCK)):
                            a = row[m]
                            v = BIG if a == INF else a - dep_times[m]
                            row[m] = v
                            if v < bb:
                                bb = v
                        blk_min[q, bk] = bb
                        if bb < b:
                            b = bb
                    best_slot[q] = b
            else:
                for q in range(n_slots):
                    best_slot[q] = BIG
            for d in range(n_dest):
                dw = direct[d]
                if dw == INF:
                    dw = BIG
                for m in range(n_min):
                    tt[m] = dw
                worst = min(dw, max_time_s + 1)
                for bk in range(n_blk):
                    bworst[bk] = worst
                for e in range(d_off[d], d_off[d + 1]):
                    w = d_s[e]
                    if w >= worst:
                        break
                    q = d_slot[e]
                    if best_slot[q] + w >= worst:
                        continue
                    row = arr_slot[q]
                    worst = 0
                    for bk in range(n_blk):
                        bw = bworst[bk]
                        if blk_min[q, bk] + w < bw:
                            mx = 0
                            for m in range(bk * BLOCK, min(n_min, (bk + 1) * BLOCK)):
                                v = min(tt[m], row[m] + w)
                                tt[m] = v
                                mx = max(mx, v)
                            bw = min(mx, max_time_s + 1)
                            bworst[bk] = bw
                        worst = max(worst, bw)
                _reduce_minutes(tt, o, d, max_time_s, pct_index, srt, times, per_min, want_per_minute)
            for e in range(dir_off[o], dir_off[o + 1]):
                direct[dir_dest[e]] = INF
    return times, per_min
