"""The range-RAPTOR matrix kernel as it was before issue 17 (percentiles by a full sort of the per-minute times),
kept verbatim for bench_transit.py's old-vs-new comparison in the same run. Not part of the package."""

import numpy as np
from numba import njit, prange

from access.core.raptor import BIG, INF, _scratch, run_departure


@njit(cache=True, inline="always")
def _reduce_minutes_sort(tt, o, d, max_time_s, pct_index, srt, times, per_min, want_per_minute):
    """Per-minute travel times ``tt`` of one pair (BIG or INF unreached) -> ``per_min[o, d]`` and the percentiles
    ``times[o, d]`` (-1 unreachable, over ``max_time_s``); ``tt`` is left with INF where unreachable."""
    n_min = tt.shape[0]
    for m in range(n_min):
        if tt[m] > max_time_s:
            tt[m] = INF
    if want_per_minute:
        for m in range(n_min):
            per_min[o, d, m] = -1 if tt[m] == INF else tt[m]
    if pct_index.shape[0] > 0:
        srt[:] = tt
        srt.sort()
        for pi in range(pct_index.shape[0]):
            v = srt[pct_index[pi]]
            times[o, d, pi] = -1 if v == INF else v


@njit(cache=True, parallel=True)
def range_raptor_matrix(acc_off, acc_stop, acc_s, dir_off, dir_dest, dir_s, eg_slot, d_off, d_slot, d_s,
                        dep_times, K, max_time_s, slack_s, pct_index,
                        pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                        stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep, x_off, x_to, x_s, n_chunks,
                        want_per_minute):
    """Origins x destinations travel-time percentiles over a departure window (range-RAPTOR).

    Parameters (CSR by origin unless said)
    --------------------------------------
    acc_off/acc_stop/acc_s : walking seconds from each origin to the stops within the access limit.
    dir_off/dir_dest/dir_s : walking seconds from each origin straight to destinations.
    eg_slot : int32[n_stops], slot of each stop having egress walks (-1 if none).
    d_off/d_slot/d_s : CSR by *destination*: egress stops (slots) and walking seconds to the destination,
        sorted by increasing seconds.
    dep_times : int32[n_min] increasing departure times (seconds since midnight of the service day).
    pct_index : int64[n_p] index into the sorted per-minute times of each percentile.

    Per origin, the departures are run latest first keeping labels; the ride arrival at every egress stop is kept
    per minute; then each destination takes the best over its egress stops in increasing walk order, stopping
    when the walk alone is no shorter than the worst per-minute time found so far (R5's per-target propagation).

    Returns
    -------
    times : int32[n_o, n_dest, n_p] seconds, -1 unreachable (over ``max_time_s``).
    per_minute : int32[n_o, n_dest, n_min] (-1 unreachable), or shape (0, 0, 0) unless ``want_per_minute``.
    """
    n_o = acc_off.shape[0] - 1
    n_dest = d_off.shape[0] - 1
    n_stops = stop_pat_off.shape[0] - 1
    n_pat = pat_stop_off.shape[0] - 1
    n_min = dep_times.shape[0]
    n_p = pct_index.shape[0]
    n_slots = 0
    for s in range(n_stops):
        if eg_slot[s] >= 0:
            n_slots += 1
    slot_stop = np.empty(n_slots, dtype=np.int32)
    for s in range(n_stops):
        if eg_slot[s] >= 0:
            slot_stop[eg_slot[s]] = s
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
        best_slot = np.empty(n_slots, dtype=np.int32)
        tt = np.empty(n_min, dtype=np.int32)
        srt = np.empty(n_min, dtype=np.int32)
        for o in range(c, n_o, nch):
            tau[:, :] = INF
            tau_ride[:, :] = INF
            for e in range(dir_off[o], dir_off[o + 1]):
                direct[dir_dest[e]] = dir_s[e]
            a0 = acc_off[o]
            a1 = acc_off[o + 1]
            if a1 > a0:
                for m in range(n_min - 1, -1, -1):
                    t = dep_times[m]
                    t_prev = INF if m == n_min - 1 else dep_times[m + 1]
                    ni = run_departure(t, t_prev, t + max_time_s, acc_stop[a0:a1], acc_s[a0:a1], K, slack_s,
                                       pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off,
                                       t_arr, t_dep, stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep,
                                       x_off, x_to, x_s, tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list,
                                       snap_buf, improved_flag, improved_list, 0, acc_ptr,
                                       False, dummy8, dummy32, dummy8, dummy32, dummy32, dummy32, dummy32)
                    for j in range(ni):
                        improved_flag[improved_list[j]] = False
                    for q in range(n_slots):
                        arr_slot[q, m] = tau_ride[K, slot_stop[q]]
                for q in range(n_slots):
                    # travel time to the stop per minute (BIG when unreached) and its lower bound over the window
                    b = BIG
                    for m in range(n_min):
                        a = arr_slot[q, m]
                        v = BIG if a == INF else a - dep_times[m]
                        arr_slot[q, m] = v
                        if v < b:
                            b = v
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
                for e in range(d_off[d], d_off[d + 1]):
                    w = d_s[e]
                    if w >= worst:
                        break
                    q = d_slot[e]
                    if best_slot[q] + w >= worst:
                        continue
                    row = arr_slot[q]
                    mx = 0
                    for m in range(n_min):
                        v = min(tt[m], row[m] + w)
                        tt[m] = v
                        mx = max(mx, v)
                    worst = min(mx, max_time_s + 1)
                _reduce_minutes_sort(tt, o, d, max_time_s, pct_index, srt, times, per_min, want_per_minute)
            for e in range(dir_off[o], dir_off[o + 1]):
                direct[dir_dest[e]] = INF
    return times, per_min
