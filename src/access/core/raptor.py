"""Range-RAPTOR kernels (numba): arrays in, arrays out.

The day timetable (see :meth:`access.network.transit.Timetable.for_date`) is laid out for RAPTOR:

* patterns ``p``: stops ``pat_stops[pat_stop_off[p]:pat_stop_off[p+1]]`` with per-position ``pat_board`` /
  ``pat_alight`` flags (GTFS pickup/drop-off types), ``pat_ntrips[p]`` trips that never overtake each other,
  sorted by departure;
* times trip-major per pattern: trip ``t`` at position ``i`` arrives at ``t_arr[pat_time_off[p] + t*ns + i]`` and
  departs at ``t_dep[...]`` (int32 seconds since the query day's midnight; ``ns`` stops in the pattern), so
  riding a trip along the pattern reads contiguous memory; the earliest trip catchable at a stop is a binary
  search with stride ``ns``;
* ``stop_pat_off/stop_pat/stop_pat_pos``: the patterns through each stop and the stop's position in them;
* footpaths (transfers) in CSR ``x_off/x_to/x_s``.

Labels, for ``k`` rides (rounds ``0..K``):

* ``tau[k, s]``: earliest arrival at ``s`` with at most ``k`` rides, by any means (used to board round ``k+1``);
* ``tau_ride[k, s]``: earliest arrival at ``s`` *getting off a vehicle* with at most ``k`` rides (walking
  transfers and egress walks start from these only, so there is never walk after walk, as in R5).

Range-RAPTOR: departure minutes are processed latest first and labels are kept between them (an arrival reachable
leaving later is reachable leaving earlier, by waiting). Labels are "at most k rides", so reusing them keeps the
ride limit exact. Only the access stops where a vehicle leaves between this minute's boarding time and the
previous (later) minute's are marked for round 1 (one moving pointer per access stop into the stop's sorted
departures): scanning from the others could only find trips already found. Boarding needs ``dep >= arrival + slack_s`` (R5's 60 s boarding slack, also at the first
boarding). A label above ``departure + max_time_s`` is not recorded.

Percentiles use R5's nearest-rank rule: with the ``n`` per-minute travel times sorted ascending (unreachable last),
percentile ``p`` is element ``ceil(p / 100 * n) - 1`` (index 0 for p = 0); unreachable when that element is.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

INF = np.int32(2**31 - 1)
BIG = np.int32(2**30)  # "unreached" that can take an addition of a walk without overflow
KIND_NONE = 0
KIND_ACCESS = 1
KIND_RIDE = 2
KIND_TRANSFER = 3
KIND_LOWER = 4


@njit(cache=True, inline="always")
def _lower_bound(arr, lo, hi, stride, base, need):
    """First index t in [lo, hi) with arr[base + t*stride] >= need (hi when none)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr[base + mid * stride] < need:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def run_departure(t, t_prev, cutoff, acc_stop, acc_s, K, slack_s,
                  pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                  stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep, x_off, x_to, x_s,
                  tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list, snap_buf,
                  improved_flag, improved_list, n_improved, acc_ptr,
                  record, p_kind, p_from, r_kind, r_pat, r_trip, r_bpos, r_apos):
    """One RAPTOR departure at ``t`` updating ``tau``/``tau_ride`` in place (range reuse when not reset).

    Stops whose ride label improved are appended to ``improved_list`` (deduplicated by ``improved_flag``); the new
    count is returned. ``mark_a`` must be all False and ``pat_start`` all -1 on entry; both are left so.
    When ``record``, parent pointers are written (``p_*`` for ``tau``, ``r_*`` for ``tau_ride``).
    """
    nm = 0
    for j in range(acc_stop.shape[0]):
        s = acc_stop[j]
        a = t + acc_s[j]
        if a > cutoff:
            continue
        if a < tau[0, s]:
            for r in range(K + 1):
                if a < tau[r, s]:
                    tau[r, s] = a
                    if record:
                        p_kind[r, s] = KIND_ACCESS if r == 0 else KIND_LOWER
            # range reuse: scanning from s can only give something new if a vehicle leaves s between the boarding
            # time of this departure and that of the previous (later) one. acc_ptr[j] is the first departure at
            # s not before the previous boarding time; it only moves back as departures get earlier.
            need = a + slack_s
            if t_prev == INF:
                acc_ptr[j] = _lower_bound(sdep, sdep_off[s], sdep_off[s + 1], 1, 0, need)
            else:
                ptr = acc_ptr[j]
                lo = sdep_off[s]
                moved = False
                while ptr > lo and sdep[ptr - 1] >= need:
                    ptr -= 1
                    moved = True
                acc_ptr[j] = ptr
                if not moved:
                    continue
            if not mark_a[s]:
                mark_a[s] = True
                list_a[nm] = s
                nm += 1
    for k in range(1, K + 1):
        if nm == 0:
            break
        # patterns through the stops improved in the previous round, from the earliest such position
        npl = 0
        for j in range(nm):
            s = list_a[j]
            mark_a[s] = False
            for e in range(stop_pat_off[s], stop_pat_off[s + 1]):
                p = stop_pat[e]
                pos = stop_pat_pos[e]
                if pat_board[pat_stop_off[p] + pos] == 0:
                    continue
                if pat_start[p] < 0:
                    pat_start[p] = pos
                    pat_list[npl] = p
                    npl += 1
                elif pos < pat_start[p]:
                    pat_start[p] = pos
        nb = 0  # stops whose ride label improved this round (list_b)
        for j in range(npl):
            p = pat_list[j]
            start = pat_start[p]
            pat_start[p] = -1
            base = pat_stop_off[p]
            ns = pat_stop_off[p + 1] - base
            nt = pat_ntrips[p]
            toff = pat_time_off[p]
            tr = -1
            bpos = -1
            for i in range(start, ns):
                s = pat_stops[base + i]
                if tr >= 0 and pat_alight[base + i] != 0:
                    a = t_arr[toff + tr * ns + i]
                    if a <= cutoff and a < tau_ride[k, s]:
                        for r in range(k, K + 1):
                            if a < tau_ride[r, s]:
                                tau_ride[r, s] = a
                                if record:
                                    if r == k:
                                        r_kind[r, s] = KIND_RIDE
                                        r_pat[r, s] = p
                                        r_trip[r, s] = tr
                                        r_bpos[r, s] = bpos
                                        r_apos[r, s] = i
                                    else:
                                        r_kind[r, s] = KIND_LOWER
                        if not improved_flag[s]:
                            improved_flag[s] = True
                            improved_list[n_improved] = s
                            n_improved += 1
                        if not mark_a[s]:
                            mark_a[s] = True
                            list_b[nb] = s
                            nb += 1
                if pat_board[base + i] != 0:
                    prev = tau[k - 1, s]
                    if prev < INF:
                        need = prev + slack_s
                        if need <= cutoff:
                            hi = nt
                            if tr >= 0:
                                hi = tr
                                if tr == 0 or t_dep[toff + (tr - 1) * ns + i] < need:
                                    hi = 0
                            if hi > 0:
                                c = _lower_bound(t_dep, 0, hi, ns, toff + i, need)
                                if c < hi:
                                    tr = c
                                    bpos = i
        # ride labels -> tau; then one walking transfer from each improved ride label
        for j in range(nb):
            s = list_b[j]
            mark_a[s] = False
            snap_buf[j] = tau_ride[k, s]
        nm = 0
        for j in range(nb):
            s = list_b[j]
            a = snap_buf[j]
            if a < tau[k, s]:
                for r in range(k, K + 1):
                    if a < tau[r, s]:
                        tau[r, s] = a
                        if record:
                            if r == k:
                                p_kind[r, s] = KIND_RIDE
                                p_from[r, s] = s
                            else:
                                p_kind[r, s] = KIND_LOWER
                if not mark_a[s]:
                    mark_a[s] = True
                    list_a[nm] = s
                    nm += 1
        for j in range(nb):
            s = list_b[j]
            a0 = snap_buf[j]
            for e in range(x_off[s], x_off[s + 1]):
                s2 = x_to[e]
                a = a0 + x_s[e]
                if a <= cutoff and a < tau[k, s2]:
                    for r in range(k, K + 1):
                        if a < tau[r, s2]:
                            tau[r, s2] = a
                            if record:
                                if r == k:
                                    p_kind[r, s2] = KIND_TRANSFER
                                    p_from[r, s2] = s
                                else:
                                    p_kind[r, s2] = KIND_LOWER
                    if not mark_a[s2]:
                        mark_a[s2] = True
                        list_a[nm] = s2
                        nm += 1
    for j in range(nm):
        mark_a[list_a[j]] = False
    return n_improved


@njit(cache=True)
def _scratch(n_stops, n_pat, K):
    tau = np.full((K + 1, n_stops), INF, dtype=np.int32)
    tau_ride = np.full((K + 1, n_stops), INF, dtype=np.int32)
    mark_a = np.zeros(n_stops, dtype=np.bool_)
    list_a = np.empty(n_stops, dtype=np.int32)
    list_b = np.empty(n_stops, dtype=np.int32)
    pat_start = np.full(max(n_pat, 1), -1, dtype=np.int32)
    pat_list = np.empty(max(n_pat, 1), dtype=np.int32)
    snap_buf = np.empty(n_stops, dtype=np.int32)
    improved_flag = np.zeros(n_stops, dtype=np.bool_)
    improved_list = np.empty(n_stops, dtype=np.int32)
    acc_ptr = np.empty(n_stops, dtype=np.int64)
    return tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list, snap_buf, improved_flag, improved_list, acc_ptr


@njit(cache=True, parallel=True)
def stop_profiles(src_off, src_stop, src_s, dep_times, K, max_time_s, slack_s,
                  pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                  stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep, x_off, x_to, x_s, n_chunks, range_mode):
    """Stop-level range-RAPTOR, one query per row of the source CSR (``src_off``: sources -> access stops).

    ``dep_times`` int32[n_min] must be increasing. Returns int32[n_q, n_min, n_stops]: earliest arrival (clock
    seconds) at every stop with at most ``K`` rides for each departure (``INF`` unreached). With ``range_mode``
    False every departure starts from fresh labels (plain RAPTOR, for checking the range reuse).
    """
    n_q = src_off.shape[0] - 1
    n_stops = stop_pat_off.shape[0] - 1
    n_pat = pat_stop_off.shape[0] - 1
    n_min = dep_times.shape[0]
    out = np.empty((n_q, n_min, n_stops), dtype=np.int32)
    dummy8 = np.zeros((1, 1), dtype=np.int8)
    dummy32 = np.zeros((1, 1), dtype=np.int32)
    nch = max(1, min(n_chunks, n_q))
    for c in prange(nch):
        tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list, snap_buf, improved_flag, improved_list, acc_ptr = \
            _scratch(n_stops, n_pat, K)
        for q in range(c, n_q, nch):
            tau[:, :] = INF
            tau_ride[:, :] = INF
            a0 = src_off[q]
            a1 = src_off[q + 1]
            for m in range(n_min - 1, -1, -1):
                t = dep_times[m]
                t_prev = INF
                if not range_mode:
                    tau[:, :] = INF
                    tau_ride[:, :] = INF
                elif m < n_min - 1:
                    t_prev = dep_times[m + 1]
                ni = run_departure(t, t_prev, t + max_time_s, src_stop[a0:a1], src_s[a0:a1], K, slack_s,
                                   pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off,
                                   t_arr, t_dep, stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep,
                                   x_off, x_to, x_s, tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list,
                                   snap_buf, improved_flag, improved_list, 0, acc_ptr,
                                   False, dummy8, dummy32, dummy8, dummy32, dummy32, dummy32, dummy32)
                for j in range(ni):
                    improved_flag[improved_list[j]] = False
                for s in range(n_stops):
                    out[q, m, s] = tau[K, s]
    return out


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
                for m in range(n_min):
                    if tt[m] > max_time_s:
                        tt[m] = INF
                if want_per_minute:
                    for m in range(n_min):
                        per_min[o, d, m] = -1 if tt[m] == INF else tt[m]
                if n_p > 0:
                    srt[:] = tt
                    srt.sort()
                    for pi in range(n_p):
                        v = srt[pct_index[pi]]
                        times[o, d, pi] = -1 if v == INF else v
            for e in range(dir_off[o], dir_off[o + 1]):
                direct[dir_dest[e]] = INF
    return times, per_min


@njit(cache=True)
def single_departure_with_parents(t, max_time_s, acc_stop, acc_s, K, slack_s,
                                  pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off,
                                  t_arr, t_dep, stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep, x_off, x_to, x_s):
    """One departure with parent pointers, for journey reconstruction.

    Returns ``tau, tau_ride, p_kind, p_from, r_kind, r_pat, r_trip, r_bpos, r_apos`` (each [K+1, n_stops]).
    """
    n_stops = stop_pat_off.shape[0] - 1
    n_pat = pat_stop_off.shape[0] - 1
    tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list, snap_buf, improved_flag, improved_list, acc_ptr = \
        _scratch(n_stops, n_pat, K)
    p_kind = np.zeros((K + 1, n_stops), dtype=np.int8)
    p_from = np.full((K + 1, n_stops), -1, dtype=np.int32)
    r_kind = np.zeros((K + 1, n_stops), dtype=np.int8)
    r_pat = np.full((K + 1, n_stops), -1, dtype=np.int32)
    r_trip = np.full((K + 1, n_stops), -1, dtype=np.int32)
    r_bpos = np.full((K + 1, n_stops), -1, dtype=np.int32)
    r_apos = np.full((K + 1, n_stops), -1, dtype=np.int32)
    run_departure(t, INF, t + max_time_s, acc_stop, acc_s, K, slack_s,
                  pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                  stop_pat_off, stop_pat, stop_pat_pos, sdep_off, sdep, x_off, x_to, x_s,
                  tau, tau_ride, mark_a, list_a, list_b, pat_start, pat_list, snap_buf,
                  improved_flag, improved_list, 0, acc_ptr,
                  True, p_kind, p_from, r_kind, r_pat, r_trip, r_bpos, r_apos)
    return tau, tau_ride, p_kind, p_from, r_kind, r_pat, r_trip, r_bpos, r_apos


def percentile_index(percentiles, n: int) -> np.ndarray:
    """R5's nearest-rank index of each percentile in a sorted list of ``n`` values: ``ceil(p/100*n) - 1``."""
    out = np.empty(len(percentiles), dtype=np.int64)
    for i, p in enumerate(percentiles):
        out[i] = min(max(int(math.ceil(float(p) / 100.0 * n)) - 1, 0), n - 1)
    return out
