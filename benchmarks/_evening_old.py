"""The evening round trips before issue 16 finished (kept for the ABAB comparison of benchmarks/bench_barriers.py):
backward per-minute matrices of cell chunks x venues x minutes, the "quickest in time" outbound leg, a venues x
cells forward matrix for the trip home. Not used by the package."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from access._errors import ValidationError
from access.indicators.barriers import _hhmm


def _cell_chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def evening_round_trips(network, cells, venues: pd.DataFrame, *, date: _dt.date, categories: Sequence[str],
                        arrive_by: str = "20:30", leave_after: str = "22:30", max_wait_min: int = 45,
                        max_trip_min: int = 60, venue: str = "nearest", chunk_cells: int = 4000,
                        progress: bool = False) -> pd.DataFrame:
    """Can one go to the nearest venue of each category by transit (and walking) for an evening show and come back?

    Outbound: the departure minutes ``arrive_by - max_trip_min .. arrive_by`` (per minute, by backward range-RAPTOR
    from the venues: :func:`access.routing.transit.transit_columns_to`); a departure at minute ``m`` arrives in time
    when ``m + t_m <= arrive_by``. The venue is the one reached soonest in time (``venue="nearest"``; ``"any"``:
    any venue of the category with both legs). Return: a forward query from the venue leaving at every minute of
    ``leave_after .. leave_after + max_wait_min``; a round trip needs one departure home within ``max_trip_min``.

    Parameters
    ----------
    network : TransportNetwork
        With a walk graph and a timetable.
    cells : Points or GeoDataFrame
        Origins (the cells' centres, unique ``id``).
    venues : GeoDataFrame
        Venues with ``id``, ``category`` and point geometries.
    date : datetime.date
        Service day (the weekday of the analysis).
    categories : sequence of str
    arrive_by, leave_after : str
        ``HH:MM``.
    max_wait_min, max_trip_min : int
        Longest wait after ``leave_after`` (the last minute one may leave the venue) and longest trip each way.
    venue : {"nearest", "any"}
    chunk_cells : int
        Cells per query (bounds memory: ``chunk_cells x venues x max_trip_min`` int32).

    Returns
    -------
    DataFrame
        ``id`` then per category ``evening_round_trip_<c>`` (bool), ``evening_out_min_<c>`` (minutes of the
        quickest trip arriving in time, inf = none), ``evening_back_min_<c>`` (quickest trip home from that venue
        within the waiting window, inf = none).
    """
    from access.io.places import Points, read_points
    from access.matrix import travel_time_matrix

    if venue not in ("nearest", "any"):
        raise ValidationError(f"`venue` must be 'nearest' or 'any', got {venue!r}")
    a_min, l_min = _hhmm(arrive_by, "evening.arrive_by"), _hhmm(leave_after, "evening.leave_after")
    max_wait_min, max_trip_min = int(max_wait_min), int(max_trip_min)
    if max_wait_min < 0 or max_trip_min <= 0:
        raise ValidationError(f"evening `max_wait_min` must be >= 0 and `max_trip_min` > 0, got {max_wait_min}, "
                              f"{max_trip_min}")
    if a_min - max_trip_min < 0 or l_min + max_wait_min + max_trip_min > 30 * 60:
        raise ValidationError("evening times must leave the outbound window within the day; fix arrive_by")
    o = cells if isinstance(cells, Points) else read_points(cells, name="cells")
    day = _dt.datetime.combine(date, _dt.time())
    out_dep = day + _dt.timedelta(minutes=a_min - max_trip_min)
    back_dep = day + _dt.timedelta(minutes=l_min)
    n = len(o)
    res = pd.DataFrame({"id": o.ids.astype(str)})
    for c in categories:
        sub = venues[venues["category"].astype(str) == c]
        rt = np.zeros(n, bool)
        t_out = np.full(n, np.inf)
        t_back = np.full(n, np.inf)
        if len(sub):
            v = read_points(sub[["id", "geometry"]].reset_index(drop=True), name=f"{c} venues")
            # venues off the walk network (e.g. across the border beyond the street extract) have no round trip
            on = network.street("walk").snap(v.lon, v.lat, warn=False).snapped
            v = Points(v.ids[on], v.lon[on], v.lat[on], None, v.name)
        if len(sub) and len(v):
            for a, b in _cell_chunks(n, int(chunk_cells)):
                oc = Points(o.ids[a:b], o.lon[a:b], o.lat[a:b], None, o.name)
                fwd = travel_time_matrix(network, oc, v, mode="transit", departure=out_dep, window_min=max_trip_min,
                                         percentiles=(50,), max_time_min=max_trip_min, per_minute=True,
                                         search="backward", progress=progress)
                pm = fwd.per_minute_s  # [cells, venues, minutes], seconds, -1 unreachable
                slack = (max_trip_min - np.arange(max_trip_min)) * 60
                ok = (pm >= 0) & (pm <= slack[None, None, :])
                best_out = np.where(ok, pm, np.iinfo(np.int32).max).min(axis=2)  # [cells, venues]
                out_ok = ok.any(axis=2)
                back = travel_time_matrix(network, v, oc, mode="transit", departure=back_dep,
                                          window_min=max_wait_min + 1, percentiles=(50,), max_time_min=max_trip_min,
                                          per_minute=True, search="forward", progress=progress)
                bp = back.per_minute_s  # [venues, cells, minutes]
                best_back = np.where(bp >= 0, bp, np.iinfo(np.int32).max).min(axis=2).T  # [cells, venues]
                back_ok = (bp >= 0).any(axis=2).T
                if venue == "nearest":
                    k = np.argmin(best_out, axis=1)
                    r = np.arange(b - a)
                    has = out_ok[r, k]
                    rt[a:b] = has & back_ok[r, k]
                    t_out[a:b] = np.where(has, best_out[r, k] / 60.0, np.inf)
                    t_back[a:b] = np.where(has & back_ok[r, k], best_back[r, k] / 60.0, np.inf)
                else:
                    both = out_ok & back_ok
                    rt[a:b] = both.any(axis=1)
                    t_out[a:b] = np.where(out_ok.any(axis=1), best_out.min(axis=1) / 60.0, np.inf)
                    t_back[a:b] = np.where(rt[a:b], np.where(both, best_back, np.iinfo(np.int32).max)
                                           .min(axis=1) / 60.0, np.inf)
        res[f"evening_round_trip_{c}"] = rt
        res[f"evening_out_min_{c}"] = t_out
        res[f"evening_back_min_{c}"] = t_back
    res.attrs.update(arrive_by=arrive_by, leave_after=leave_after, max_wait_min=max_wait_min,
                     max_trip_min=max_trip_min, venue=venue, date=date.isoformat())
    return res


