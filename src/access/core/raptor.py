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
departures): scanning from the others could only find trips already found. Boarding needs
``dep >= arrival + slack_s`` (R5's 60 s boarding slack, also at the first boarding). A label above
``departure + max_time_s`` is not recorded.

Backward range-RAPTOR (:func:`backward_range_raptor_columns`: every origin to one destination, for adding a venue):
the deadlines are the arrival events at the destination (vehicle arrival at a stop + egress walk), processed
earliest first keeping labels (a journey arriving by a deadline arrives by any later one). ``lride[k, s]`` is the
latest time of getting off a vehicle at ``s`` and still arriving in time with at most ``k`` more rides (egress walk,
or boarding at ``s``, or one walking transfer then boarding: the mirror of ``tau``'s "no walk after walk");
``lboard[k, s]`` the latest time of being at ``s`` to board (the vehicle leaves ``slack_s`` later) with at most ``k``
rides. A pattern is scanned from its latest marked position towards its first, switching only to later trips (FIFO).
An origin's latest departure (best ``lboard[K]`` minus its access walk) only grows with the deadline, so its earliest
arrival for departure minute ``t`` is the first deadline at which that latest departure reaches ``t``: exactly the
forward kernel's per-minute times, since every arrival of a journey is an event.

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


@njit(cache=True, inline="always")
def _mark_patterns(stops, n, mark, stop_pat_off, stop_pat, stop_pat_pos, pat_stop_off, allowed, pat_pos, pat_list,
                   earliest):
    """Collect the patterns through ``stops[:n]`` (clearing their ``mark``) at positions where ``allowed`` (boarding
    for the forward search, alighting for the backward one), each with its earliest (``earliest``) or latest such
    position in ``pat_pos`` (-1 for patterns not listed yet). Returns the number of patterns put in ``pat_list``."""
    npl = 0
    for j in range(n):
        s = stops[j]
        mark[s] = False
        for e in range(stop_pat_off[s], stop_pat_off[s + 1]):
            p = stop_pat[e]
            pos = stop_pat_pos[e]
            if allowed[pat_stop_off[p] + pos] == 0:
                continue
            if pat_pos[p] < 0:
                pat_pos[p] = pos
                pat_list[npl] = p
                npl += 1
            elif (pos < pat_pos[p]) if earliest else (pos > pat_pos[p]):
                pat_pos[p] = pos
    return npl


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
        npl = _mark_patterns(list_a, nm, mark_a, stop_pat_off, stop_pat, stop_pat_pos, pat_stop_off, pat_board,
                             pat_start, pat_list, True)
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


@njit(cache=True, inline="always")
def _select(a, lo, hi, k):
    """Quickselect: put the ``k``-th smallest of ``a[lo:hi]`` at ``a[k]``, nothing larger before it and nothing
    smaller after it (Hoare partitions around a median of three; insertion sort below 16 values)."""
    while hi - lo > 16:
        mid = (lo + hi - 1) // 2
        x, y, z = a[lo], a[mid], a[hi - 1]
        if x > y:
            x, y = y, x
        if y > z:
            y = max(z, x)
        pivot = y
        i, j = lo, hi - 1
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            return
    for p in range(lo + 1, hi):
        v = a[p]
        q = p - 1
        while q >= lo and a[q] > v:
            a[q + 1] = a[q]
            q -= 1
        a[q + 1] = v


@njit(cache=True, inline="always")
def _reduce_minutes(tt, o, d, max_time_s, pct_index, srt, times, per_min, want_per_minute):
    """Per-minute travel times ``tt`` of one pair (BIG or INF unreached) -> ``per_min[o, d]`` and the percentiles
    ``times[o, d]`` (-1 unreachable, over ``max_time_s``); ``tt`` is left with INF where unreachable.

    The nearest-rank elements are *selected*, not sorted for: an index at or past the count of reachable minutes
    is unreachable; when every reachable minute has the same time that is the answer; else quickselect, the
    percentiles taken in increasing index order, each search starting past the previous one (order statistics are
    unique values: the same integers as a full sort)."""
    n_min = tt.shape[0]
    n_ok = 0
    lo_v = INF
    hi_v = 0
    for m in range(n_min):
        v = tt[m]
        if v > max_time_s:
            tt[m] = INF
        else:
            n_ok += 1
            lo_v = min(lo_v, v)
            hi_v = max(hi_v, v)
    if want_per_minute:
        for m in range(n_min):
            per_min[o, d, m] = -1 if tt[m] == INF else tt[m]
    n_p = pct_index.shape[0]
    if n_p == 0:
        return
    if n_ok == 0 or lo_v == hi_v:
        for pi in range(n_p):
            times[o, d, pi] = lo_v if pct_index[pi] < n_ok else -1
        return
    srt[:] = tt
    start = 0
    last = -1
    done = 0
    while done < n_p:  # the percentile indices in increasing order (a handful: a quadratic scan is cheapest)
        k = n_min
        for pi in range(n_p):
            if pct_index[pi] > last and pct_index[pi] < k:
                k = pct_index[pi]
        if k >= n_ok:
            v = INF
        else:
            _select(srt, start, n_min, k)
            v = srt[k]
            start = k + 1
        for pi in range(n_p):
            if pct_index[pi] == k:
                times[o, d, pi] = -1 if v == INF else v
                done += 1
        last = k


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
                _reduce_minutes(tt, o, d, max_time_s, pct_index, srt, times, per_min, want_per_minute)
            for e in range(dir_off[o], dir_off[o + 1]):
                direct[dir_dest[e]] = INF
    return times, per_min


@njit(cache=True, inline="always")
def _last_at_most(arr, lo, hi, stride, base, lim):
    """Last index t in [lo, hi) with arr[base + t*stride] <= lim (lo - 1 when none); arr nondecreasing in t."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr[base + mid * stride] <= lim:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


@njit(cache=True)
def run_deadline(lb, ev_stop, ev_seed, K, slack_s,
                 pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep,
                 stop_pat_off, stop_pat, stop_pat_pos, xt_off, xt_from, xt_s,
                 lride, lboard, mark, list_a, list_b, pat_end, pat_list, imp_flag, imp_list, n_imp):
    """One backward RAPTOR deadline updating ``lride``/``lboard`` in place (range reuse over increasing deadlines).

    ``ev_stop/ev_seed``: the egress stops whose vehicle arrival (``ev_seed``, seconds) plus egress walk equals this
    deadline. Labels below ``lb`` are not recorded. Stops whose ``lboard[K]`` rose are appended to ``imp_list``
    (deduplicated by ``imp_flag``); the new count is returned. ``mark`` must be all False and ``pat_end`` all -1 on
    entry; both are left so.
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
        npl = _mark_patterns(list_a, nm, mark, stop_pat_off, stop_pat, stop_pat_pos, pat_stop_off, pat_alight,
                             pat_end, pat_list, False)
        nb = 0  # stops whose boarding label rose this round (list_b)
        for j in range(npl):
            p = pat_list[j]
            end = pat_end[p]
            pat_end[p] = -1
            base = pat_stop_off[p]
            ns = pat_stop_off[p + 1] - base
            nt = pat_ntrips[p]
            toff = pat_time_off[p]
            tr = -1
            for i in range(end, -1, -1):
                s = pat_stops[base + i]
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


@njit(cache=True)
def _deadline_events(eg_stop, eg_s, lo, hi, pat_stop_off, pat_alight, pat_ntrips, pat_time_off, t_arr,
                     stop_pat_off, stop_pat, stop_pat_pos):
    """Arrival events at one destination: (deadline, egress stop, vehicle arrival) sorted by deadline.

    Every alighting at an egress stop ``eg_stop[j]`` arriving in ``[lo, ...]`` gives the deadline
    ``arrival + eg_s[j]``; deadlines above ``hi`` are dropped.
    """
    n = 0
    for j in range(eg_stop.shape[0]):
        s = eg_stop[j]
        for e in range(stop_pat_off[s], stop_pat_off[s + 1]):
            p = stop_pat[e]
            if pat_alight[pat_stop_off[p] + stop_pat_pos[e]] != 0:
                n += pat_ntrips[p]
    dl = np.empty(n, dtype=np.int64)
    st = np.empty(n, dtype=np.int32)
    sd = np.empty(n, dtype=np.int32)
    n = 0
    for j in range(eg_stop.shape[0]):
        s = eg_stop[j]
        w = eg_s[j]
        for e in range(stop_pat_off[s], stop_pat_off[s + 1]):
            p = stop_pat[e]
            i = stop_pat_pos[e]
            if pat_alight[pat_stop_off[p] + i] == 0:
                continue
            ns = pat_stop_off[p + 1] - pat_stop_off[p]
            toff = pat_time_off[p]
            for tr in range(pat_ntrips[p]):
                a = t_arr[toff + tr * ns + i]
                if a >= lo and a + w <= hi:
                    dl[n] = a + w
                    st[n] = s
                    sd[n] = a
                    n += 1
    order = np.argsort(dl[:n], kind="mergesort")
    return dl[:n][order], st[:n][order], sd[:n][order]


@njit(cache=True, parallel=True)
def backward_range_raptor_columns(sa_off, sa_org, sa_s, dd_off, dd_org, dd_s, d_off, d_stop, d_s,
                                  dep_times, K, max_time_s, slack_s, pct_index,
                                  pat_stop_off, pat_stops, pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr,
                                  t_dep, stop_pat_off, stop_pat, stop_pat_pos, xt_off, xt_from, xt_s, n_o, n_chunks,
                                  want_per_minute):
    """Travel-time columns origins -> destinations, one backward (latest-departure) range-RAPTOR per destination.

    Parameters (CSR by *stop* or *destination*)
    -------------------------------------------
    sa_off/sa_org/sa_s : by stop: the origins within the access limit and their walking seconds to the stop.
    dd_off/dd_org/dd_s : by destination: the origins walking straight to it and the seconds.
    d_off/d_stop/d_s : by destination: egress stops and walking seconds to the destination.
    xt_off/xt_from/xt_s : footpaths transposed (by target stop: source stops and seconds).
    dep_times, pct_index : as :func:`range_raptor_matrix`.

    Per destination, the deadlines are the arrival events ``vehicle arrival + egress walk`` within
    ``[dep_times[0], dep_times[-1] + max_time_s]``, processed in increasing order keeping the labels (a journey that
    arrives by a deadline arrives by any later one): ``lride[k, s]`` is the latest time one can get off a vehicle at
    ``s`` and still arrive in time with at most ``k`` more rides, ``lboard[k, s]`` the latest time one can be at
    ``s`` to board (the vehicle leaves ``slack_s`` later) with at most ``k`` rides. An origin's latest departure
    ``f_o`` (max over its access stops of ``lboard[K] - walk``) only grows with the deadline, so the earliest arrival
    for a departure minute ``t`` is the first deadline with ``f_o >= t``: each minute is settled once, when ``f_o``
    passes it. Labels below ``max(dep_times[0], deadline - max_time_s)`` cannot serve a trip within the time limit and
    are not recorded. Equal to :func:`range_raptor_matrix` (same walks, same rules), element for element.

    Returns
    -------
    times : int32[n_o, n_dest, n_p] seconds, -1 unreachable (over ``max_time_s``).
    per_minute : int32[n_o, n_dest, n_min] (-1 unreachable), or shape (0, 0, 0) unless ``want_per_minute``.
    """
    n_dest = d_off.shape[0] - 1
    n_stops = stop_pat_off.shape[0] - 1
    n_pat = pat_stop_off.shape[0] - 1
    n_min = dep_times.shape[0]
    n_p = pct_index.shape[0]
    t_first = dep_times[0]
    hi = np.int64(dep_times[n_min - 1]) + max_time_s
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
        imp_flag = np.zeros(n_stops, dtype=np.bool_)
        imp_list = np.empty(n_stops, dtype=np.int32)
        f_o = np.empty(n_o, dtype=np.int32)
        nxt = np.empty(n_o, dtype=np.int32)
        tt = np.empty((n_o, n_min), dtype=np.int32)
        srt = np.empty(n_min, dtype=np.int32)
        for d in range(c, n_dest, nch):
            lride[:, :] = -BIG
            lboard[:, :] = -BIG
            f_o[:] = -BIG
            nxt[:] = 0
            tt[:, :] = BIG
            e0 = d_off[d]
            e1 = d_off[d + 1]
            if K > 0 and e1 > e0:
                dl, ev_stop, ev_seed = _deadline_events(d_stop[e0:e1], d_s[e0:e1], t_first, hi, pat_stop_off,
                                                        pat_alight, pat_ntrips, pat_time_off, t_arr, stop_pat_off,
                                                        stop_pat, stop_pat_pos)
                n_ev = dl.shape[0]
                g0 = 0
                while g0 < n_ev:
                    A = dl[g0]
                    g1 = g0 + 1
                    while g1 < n_ev and dl[g1] == A:
                        g1 += 1
                    lb = max(np.int64(t_first), A - max_time_s)
                    ni = run_deadline(lb, ev_stop[g0:g1], ev_seed[g0:g1], K, slack_s, pat_stop_off, pat_stops,
                                      pat_board, pat_alight, pat_ntrips, pat_time_off, t_arr, t_dep, stop_pat_off,
                                      stop_pat, stop_pat_pos, xt_off, xt_from, xt_s, lride, lboard, mark, list_a,
                                      list_b, pat_end, pat_list, imp_flag, imp_list, 0)
                    # origins whose latest departure passed some of their minutes arrive at A at best
                    for j in range(ni):
                        s = imp_list[j]
                        imp_flag[s] = False
                        v = lboard[K, s]
                        for e in range(sa_off[s], sa_off[s + 1]):
                            o = sa_org[e]
                            f = v - sa_s[e]
                            if f > f_o[o]:
                                f_o[o] = f
                                m = nxt[o]
                                while m < n_min and dep_times[m] <= f:
                                    tt[o, m] = A - dep_times[m]
                                    m += 1
                                nxt[o] = m
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
