"""Naive twin of the transit core: a layered Connection Scan (CSA), written apart from RAPTOR.

It rebuilds the day's trips straight from the GTFS tables (its own calendar logic: weekday + date range, then
``calendar_dates`` additions/removals; previous day's trips past midnight shifted by -24 h, next day's trips before
12:00 by +24 h), turns every trip into elementary connections sorted by departure, and scans them once per ride
count ``k``: a trip can be boarded at a stop if the best arrival there with at most ``k - 1`` rides plus the
boarding slack is no later than the departure; alighting gives ride arrivals, from which one walking footpath is
allowed. The result is the earliest arrival at every stop with at most ``K`` rides, what RAPTOR must give.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from numba import njit

INF = np.int32(2**31 - 1)
_WD = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _services_on(feed, day: dt.date) -> set:
    o = day.toordinal()
    cal = feed.calendar
    wd = _WD[day.weekday()]
    on = set()
    for r in cal.itertuples(index=False):
        if getattr(r, wd) and r.start_date <= o <= r.end_date:
            on.add(r.service_id)
    for r in feed.calendar_dates.itertuples(index=False):
        if r.date == o:
            if r.exception_type == 1:
                on.add(r.service_id)
            elif r.exception_type == 2:
                on.discard(r.service_id)
    return on


def day_connections(feeds, day: dt.date, stop_ids):
    """Connections of the trips running around ``day``: dict of arrays sorted by departure.

    ``stop_ids`` gives the stop numbering (the timetable's, so that footpaths can be shared).
    """
    sidx = pd.Index(stop_ids)
    parts = []
    trip_base = 0
    for feed in feeds:
        st = feed.stop_times.sort_values(["trip_id", "stop_sequence"])
        trips = feed.trips.set_index("trip_id")
        for off, shift in ((-1, -86400), (0, 0), (1, 86400)):
            on = _services_on(feed, day + dt.timedelta(days=off))
            tr_on = set(trips.index[trips["service_id"].isin(on)])
            s = st[st["trip_id"].isin(tr_on)]
            if not len(s):
                continue
            g = s.groupby("trip_id", sort=False)
            if off == -1:
                keep = g["arrival_s"].transform("max") >= 86400
                s = s[keep]
            elif off == 1:
                keep = g["departure_s"].transform("min") < 12 * 3600
                s = s[keep]
            if not len(s):
                continue
            tcode = pd.factorize(s["trip_id"])[0] + trip_base
            trip_base = int(tcode.max()) + 1
            same_next = np.r_[tcode[1:] == tcode[:-1], False]
            i = np.flatnonzero(same_next)
            stop = sidx.get_indexer(s["stop_id"])
            parts.append(pd.DataFrame({
                "dep": s["departure_s"].to_numpy()[i] + shift,
                "arr": s["arrival_s"].to_numpy()[i + 1] + shift,
                "u": stop[i], "v": stop[i + 1], "trip": tcode[i],
                "pick": s["pickup_type"].to_numpy()[i] != 1,
                "drop": s["drop_off_type"].to_numpy()[i + 1] != 1,
                "seq": np.arange(len(i)),
            }))
    c = pd.concat(parts, ignore_index=True)
    c = c.sort_values(["dep", "trip", "seq"], kind="stable")
    return {k: np.ascontiguousarray(c[k].to_numpy()) for k in ("dep", "arr", "u", "v", "trip", "pick", "drop")} | {
        "n_trips": trip_base}


@njit
def _csa(dep, arr, u, v, trip, pick, drop, n_trips, n_stops, src, src_s, t, K, slack, max_time, x_off, x_to, x_s):
    cutoff = t + max_time
    prev = np.full(n_stops, INF, np.int32)
    for j in range(src.shape[0]):
        a = t + src_s[j]
        if a <= cutoff and a < prev[src[j]]:
            prev[src[j]] = a
    # first connection not before t
    lo, hi = 0, dep.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if dep[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    c0 = lo
    ride_best = np.full(n_stops, INF, np.int32)
    for k in range(1, K + 1):
        boarded = np.zeros(n_trips, np.bool_)
        ride = np.full(n_stops, INF, np.int32)
        for c in range(c0, dep.shape[0]):
            if dep[c] > cutoff:
                break
            tr = trip[c]
            if not boarded[tr] and pick[c] and prev[u[c]] < INF and prev[u[c]] + slack <= dep[c]:
                boarded[tr] = True
            if boarded[tr] and drop[c] and arr[c] <= cutoff and arr[c] < ride[v[c]]:
                ride[v[c]] = arr[c]
        cur = prev.copy()
        for s in range(n_stops):
            if ride[s] < cur[s]:
                cur[s] = ride[s]
            if ride[s] < ride_best[s]:
                ride_best[s] = ride[s]
        for s in range(n_stops):
            if ride[s] < INF:
                for e in range(x_off[s], x_off[s + 1]):
                    a = ride[s] + x_s[e]
                    if a <= cutoff and a < cur[x_to[e]]:
                        cur[x_to[e]] = a
        prev = cur
    return prev, ride_best


def earliest_arrival_and_ride(conn, n_stops, src, src_s, t, K, slack, max_time, footpaths):
    """Earliest arrival (clock seconds, INF unreached) at every stop from the sources at ``t``, and the earliest
    arrival getting off a vehicle (where egress walks start)."""
    x_off, x_to, x_s = footpaths
    return _csa(conn["dep"], conn["arr"], conn["u"], conn["v"], conn["trip"], conn["pick"], conn["drop"],
                conn["n_trips"], n_stops, np.asarray(src, np.int32), np.asarray(src_s, np.int32), int(t), int(K),
                int(slack), int(max_time), x_off, x_to, x_s)


def earliest_arrival(conn, n_stops, src, src_s, t, K, slack, max_time, footpaths):
    """Earliest arrival (clock seconds, INF unreached) at every stop from the sources at ``t``."""
    return earliest_arrival_and_ride(conn, n_stops, src, src_s, t, K, slack, max_time, footpaths)[0]
