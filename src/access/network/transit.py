"""Transit timetable (RAPTOR arrays) and its links to the walk graph (the data; queries are in
:mod:`access.routing.transit`).

:class:`Timetable` keeps every service of the feeds with the days it runs, so one build answers queries on any
date: :meth:`Timetable.for_date` selects the trips running that day (and the previous day's trips still running
after midnight, and the next day's morning trips), groups them into patterns (same route, same stop sequence, same
pickup/drop-off rules), sorts the trips of each pattern by departure and splits a pattern where a trip would
overtake another, so that every pattern is FIFO at every stop (what RAPTOR's binary search needs).

Stops are linked to the walk graph with :meth:`StreetGraph.snap`; stops farther than ``max_snap_m`` stay unlinked
(reported in one warning). Transfers are walking paths on the street graph between stops within
``max_transfer_walk_min`` (one bounded Dijkstra per stop), plus ``transfers.txt`` (a ``min_transfer_time`` is a
lower bound on the walk; ``transfer_type`` 3 removes the pair; a row linking stops the walk search did not link
walks at least the straight line, never 0 s; station-level rows apply to all the station's stops; queries with
``TransitOptions(transfers_txt=False)`` ignore the file, as R5). Without a walk graph (stop-level use), transfers are
straight-line walks within the same time.

Times inside are int32 seconds since midnight of the query date in the feed's time zone (a trip of the previous
service day at 25:10 is at 01:10). On the days clocks change, GTFS times count from noon minus 12 h; we use
midnight, a difference of one hour on those two nights only.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from .._errors import AccessWarning, GTFSError, NetworkError, ValidationError
from .._units import EARTH_RADIUS_M, haversine_m
from ..core.walk import walk_points
from ..io import gtfs as _gtfs
from .shapes import TripShapes

__all__ = ["Timetable", "DayTimetable"]

DAY_S = 86400
#: dates whose RAPTOR layout a timetable keeps (least recently used first out)
DAY_CACHE_SIZE = 4
NEXT_DAY_HORIZON_S = 12 * 3600  # next-day trips starting before 12:00 are included (late-evening queries)


class DayTimetable(NamedTuple):
    """The trips running on one date, in RAPTOR layout (see :mod:`access.core.raptor`)."""

    date: _dt.date
    pat_stop_off: np.ndarray  # int32[n_pat+1]
    pat_stops: np.ndarray  # int32
    pat_board: np.ndarray  # uint8
    pat_alight: np.ndarray  # uint8
    pat_ntrips: np.ndarray  # int32[n_pat]
    pat_time_off: np.ndarray  # int64[n_pat]
    t_arr: np.ndarray  # int32, trip-major per pattern
    t_dep: np.ndarray  # int32
    pat_trip_off: np.ndarray  # int64[n_pat+1]
    pat_trip: np.ndarray  # int32: global trip index of each (pattern, rank)
    pat_trip_shift: np.ndarray  # int32: day shift (s) of each (pattern, rank): -86400, 0, 86400
    pat_base: np.ndarray  # int32[n_pat]: base pattern
    stop_pat_off: np.ndarray  # int32[n_stops+1]
    stop_pat: np.ndarray  # int32
    stop_pat_pos: np.ndarray  # int32
    sdep_off: np.ndarray  # int64[n_stops+1]
    sdep: np.ndarray  # int32: sorted departure times (boarding allowed) at each stop, all patterns

    @property
    def n_patterns(self) -> int:
        return int(self.pat_ntrips.shape[0])

    @property
    def n_trips(self) -> int:
        return int(self.pat_trip.shape[0])

    def kernel_args(self):
        return (self.pat_stop_off, self.pat_stops, self.pat_board, self.pat_alight, self.pat_ntrips,
                self.pat_time_off, self.t_arr, self.t_dep, self.stop_pat_off, self.stop_pat, self.stop_pat_pos,
                self.sdep_off, self.sdep)


# ------------------------------------------------------------------------------------------------ kernels
@njit(cache=True)
def _fifo_split(order, trip_pattern, trip_time_off, st_arr, st_dep, shift, pat_nstops):
    """Greedy split of each pattern's trips (``order``: sorted by pattern then departure) into FIFO sub-patterns.

    Returns int32[len(order)]: sub-pattern id of each entry (global numbering, increasing with the base pattern).
    """
    n = order.shape[0]
    sub = np.empty(n, dtype=np.int32)
    last = np.empty(n, dtype=np.int64)  # last entry of each open sub-pattern of the current base pattern
    sub_ids = np.empty(n, dtype=np.int32)
    next_id = 0
    i = 0
    while i < n:
        p = trip_pattern[order[i]]
        j = i
        while j < n and trip_pattern[order[j]] == p:
            j += 1
        ns = pat_nstops[p]
        nopen = 0
        for q in range(i, j):
            tq = order[q]
            oq = trip_time_off[tq]
            placed = -1
            for g in range(nopen):
                tl = order[last[g]]
                ol = trip_time_off[tl]
                ok = True
                for s in range(ns):
                    if st_arr[oq + s] + shift[q] < st_arr[ol + s] + shift[last[g]] or \
                            st_dep[oq + s] + shift[q] < st_dep[ol + s] + shift[last[g]]:
                        ok = False
                        break
                if ok:
                    placed = g
                    break
            if placed < 0:
                placed = nopen
                sub_ids[nopen] = next_id
                next_id += 1
                nopen += 1
            last[placed] = q
            sub[q] = sub_ids[placed]
        i = j
    return sub


@njit(cache=True)
def _fill_times(order, sub_of, sub_first, sub_ntrips, sub_time_off, trip_pattern, trip_time_off, pat_nstops,
                st_arr, st_dep, shift, t_arr, t_dep):
    n = order.shape[0]
    for q in range(n):
        g = sub_of[q]
        rank = q - sub_first[g]
        tr = order[q]
        ns = pat_nstops[trip_pattern[tr]]
        o = trip_time_off[tr]
        base = sub_time_off[g]
        for i in range(ns):
            t_arr[base + rank * ns + i] = st_arr[o + i] + shift[q]
            t_dep[base + rank * ns + i] = st_dep[o + i] + shift[q]


def _ustr(values) -> np.ndarray:
    v = np.asarray([str(x) for x in values], dtype=str)
    if v.dtype.itemsize == 0:
        v = v.astype("U1")
    return v


# ------------------------------------------------------------------------------------------------ Timetable
_ARRAY_KEYS = (
    "stop_id", "stop_name", "stop_lon", "stop_lat", "stop_parent", "stop_used",
    "stop_access_node", "stop_access_cost_s", "stop_egress_node", "stop_egress_cost_s",
    "route_id", "route_short_name", "route_long_name", "route_type",
    "trip_id", "trip_route", "trip_service", "trip_pattern", "trip_time_off", "st_arr_s", "st_dep_s",
    "pattern_route", "pattern_stop_off", "pattern_stops", "pattern_board", "pattern_alight",
    "service_id", "service_active",
    "transfer_off", "transfer_to", "transfer_walk_s", "transfer_min_s",
)
#: ``transfer_min_s`` codes (they travel with the pair through scenario edits): ``>= 0`` a walking footpath whose
#: minimum time comes from transfers.txt; ``-1`` a plain walking footpath; ``-2`` a footpath transfers.txt forbids
#: (type 3: kept, so that ``transfers_txt=False`` restores it); ``<= -3`` a pair only transfers.txt links, minimum
#: ``-code - 3`` (walked at least the straight line)
XFER_NONE, XFER_FORBIDDEN, XFER_ADDED = -1, -2, -3


class Timetable:
    """Every trip of one or several GTFS feeds, with service days, stop links and transfers (all arrays).

    Build with :meth:`build`; save with :meth:`to_arrays` / load with :meth:`from_arrays` (no pickle);
    query-day layout with :meth:`for_date` (cached per date).

    Attributes
    ----------
    n_stops, n_trips, n_patterns, n_routes : int
    timezone : str or None
    meta : dict
        ``timezone``, ``day0`` (ordinal of the first day of ``service_active``), ``speed_kmh`` (walking speed of
        the transfer times), ``max_transfer_walk_min``, ``max_snap_m``, ``feeds``, counts.
    """

    def __init__(self, arrays: dict, meta: dict, shapes: TripShapes | None = None):
        missing = [k for k in _ARRAY_KEYS if k not in arrays]
        if missing:
            raise NetworkError(f"transit component lacks arrays {missing}; rebuild the network bundle")
        self.arrays = arrays
        self.meta = dict(meta)
        #: the feeds' shapes.txt (:class:`access.network.shapes.TripShapes`), None without
        self.shapes = shapes
        self._day_cache: OrderedDict[_dt.date, DayTimetable] = OrderedDict()
        self._stop_index: pd.Index | None = None

    # the arrays, one property each (no __getattr__: typed and discoverable)
    @property
    def stop_id(self) -> np.ndarray:
        """Array ``stop_id`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_id"]

    @property
    def stop_name(self) -> np.ndarray:
        """Array ``stop_name`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_name"]

    @property
    def stop_lon(self) -> np.ndarray:
        """Array ``stop_lon`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_lon"]

    @property
    def stop_lat(self) -> np.ndarray:
        """Array ``stop_lat`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_lat"]

    @property
    def stop_parent(self) -> np.ndarray:
        """Array ``stop_parent`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_parent"]

    @property
    def stop_used(self) -> np.ndarray:
        """Array ``stop_used`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_used"]

    @property
    def stop_access_node(self) -> np.ndarray:
        """Array ``stop_access_node`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_access_node"]

    @property
    def stop_access_cost_s(self) -> np.ndarray:
        """Array ``stop_access_cost_s`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_access_cost_s"]

    @property
    def stop_egress_node(self) -> np.ndarray:
        """Array ``stop_egress_node`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_egress_node"]

    @property
    def stop_egress_cost_s(self) -> np.ndarray:
        """Array ``stop_egress_cost_s`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["stop_egress_cost_s"]

    @property
    def route_id(self) -> np.ndarray:
        """Array ``route_id`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["route_id"]

    @property
    def route_short_name(self) -> np.ndarray:
        """Array ``route_short_name`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["route_short_name"]

    @property
    def route_long_name(self) -> np.ndarray:
        """Array ``route_long_name`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["route_long_name"]

    @property
    def route_type(self) -> np.ndarray:
        """Array ``route_type`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["route_type"]

    @property
    def trip_id(self) -> np.ndarray:
        """Array ``trip_id`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["trip_id"]

    @property
    def trip_route(self) -> np.ndarray:
        """Array ``trip_route`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["trip_route"]

    @property
    def trip_service(self) -> np.ndarray:
        """Array ``trip_service`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["trip_service"]

    @property
    def trip_pattern(self) -> np.ndarray:
        """Array ``trip_pattern`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["trip_pattern"]

    @property
    def trip_time_off(self) -> np.ndarray:
        """Array ``trip_time_off`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["trip_time_off"]

    @property
    def st_arr_s(self) -> np.ndarray:
        """Array ``st_arr_s`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["st_arr_s"]

    @property
    def st_dep_s(self) -> np.ndarray:
        """Array ``st_dep_s`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["st_dep_s"]

    @property
    def pattern_route(self) -> np.ndarray:
        """Array ``pattern_route`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["pattern_route"]

    @property
    def pattern_stop_off(self) -> np.ndarray:
        """Array ``pattern_stop_off`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["pattern_stop_off"]

    @property
    def pattern_stops(self) -> np.ndarray:
        """Array ``pattern_stops`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["pattern_stops"]

    @property
    def pattern_board(self) -> np.ndarray:
        """Array ``pattern_board`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["pattern_board"]

    @property
    def pattern_alight(self) -> np.ndarray:
        """Array ``pattern_alight`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["pattern_alight"]

    @property
    def service_id(self) -> np.ndarray:
        """Array ``service_id`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["service_id"]

    @property
    def service_active(self) -> np.ndarray:
        """Array ``service_active`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["service_active"]

    @property
    def transfer_off(self) -> np.ndarray:
        """Array ``transfer_off`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["transfer_off"]

    @property
    def transfer_to(self) -> np.ndarray:
        """Array ``transfer_to`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["transfer_to"]

    @property
    def transfer_walk_s(self) -> np.ndarray:
        """Array ``transfer_walk_s`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["transfer_walk_s"]

    @property
    def transfer_min_s(self) -> np.ndarray:
        """Array ``transfer_min_s`` (see :data:`_ARRAY_KEYS`)."""
        return self.arrays["transfer_min_s"]

    @property
    def n_stops(self) -> int:
        return int(self.arrays["stop_id"].shape[0])

    @property
    def n_trips(self) -> int:
        return int(self.arrays["trip_id"].shape[0])

    @property
    def n_patterns(self) -> int:
        return int(self.arrays["pattern_route"].shape[0])

    @property
    def n_routes(self) -> int:
        return int(self.arrays["route_id"].shape[0])

    @property
    def timezone(self) -> str | None:
        return self.meta.get("timezone")

    def __repr__(self) -> str:
        return (f"Timetable({self.n_stops:,} stops, {self.n_routes:,} routes, {self.n_patterns:,} patterns, "
                f"{self.n_trips:,} trips, tz={self.timezone})")

    # -------------------------------------------------------------------------------------------- build
    @classmethod
    def build(cls, feeds, walk_graph=None, *, max_transfer_walk_min: float = 10.0, max_snap_m: float = 500.0,
              walk_speed_kmh: float | None = None, progress: bool = False) -> Timetable:
        """Build a timetable from GTFS feeds, linked to a walk graph.

        Parameters
        ----------
        feeds : path, GTFSFeed or sequence of them
            Several feeds are merged; their ids are prefixed ``"{feed_id}:"`` to stay unique.
        walk_graph : StreetGraph, optional
            The walk graph. Stops are snapped to it (``max_snap_m``) and transfers are walks on it. Without it,
            stops stay unlinked and transfers are straight-line walks (stop-level use and tests).
        max_transfer_walk_min : float, default 10
            Longest walking transfer between stops.
        max_snap_m : float, default 500
            Stops farther from the walk graph stay unlinked (one warning with the count and examples).
        walk_speed_kmh : float, optional
            Speed of the straight-line transfers without a walk graph (default 3.6 km/h); with a walk graph its
            own speed is used.

        Returns
        -------
        Timetable

        Examples
        --------
        >>> tt = Timetable.build(["poa_eptc.zip", "poa_trensurb.zip"], net.street("walk"))  # doctest: +SKIP
        >>> day = tt.for_date("2019-05-13")  # doctest: +SKIP
        """
        feeds, tzs, stops, routes, trips, st, cal, cd, xfers = _merged_feeds(feeds)
        stops, stop_index, parent = _ordered_stops(stops, st)
        n_stops = len(stops)
        st, counts, trip_ids, trip_route, service_ids, trip_service, day0, active = _kept_trips(st, trips, routes,
                                                                                                 cal, cd)
        (trip_time_off, sidx, trip_pattern, pat_route, pat_stops_l, pat_board_l, pat_alight_l,
         pattern_stop_off) = _patterns(st, stop_index, trip_route, counts)
        used, lon, lat = _served_stops(stops, sidx, n_stops)
        acc_n, acc_c, eg_n, eg_c, speed, xr, xc, xv = _walk_links(walk_graph, stops, used, lon, lat,
                                                                  max_transfer_walk_min, max_snap_m, walk_speed_kmh)
        xr, xc, xv, xmin = _transfers_txt(xfers, stop_index, parent, used, n_stops, lon, lat, speed, xr, xc, xv)
        order = np.lexsort((xc, xr))
        xr, xc, xv, xmin = xr[order], xc[order], xv[order], xmin[order]
        transfer_off = np.zeros(n_stops + 1, dtype=np.int64)
        np.add.at(transfer_off, xr + 1, 1)
        transfer_off = np.cumsum(transfer_off)

        arrays = dict(
            stop_id=_ustr(stops["stop_id"]), stop_name=_ustr(stops["stop_name"]), stop_lon=lon, stop_lat=lat,
            stop_parent=parent.astype(np.int32), stop_used=used,
            stop_access_node=acc_n, stop_access_cost_s=acc_c, stop_egress_node=eg_n, stop_egress_cost_s=eg_c,
            route_id=_ustr(routes["route_id"]), route_short_name=_ustr(routes["route_short_name"]),
            route_long_name=_ustr(routes["route_long_name"]), route_type=routes["route_type"].to_numpy(np.int16),
            trip_id=_ustr(trip_ids), trip_route=trip_route, trip_service=trip_service, trip_pattern=trip_pattern,
            trip_time_off=trip_time_off, st_arr_s=st["arrival_s"].to_numpy(np.int32),
            st_dep_s=st["departure_s"].to_numpy(np.int32),
            pattern_route=np.asarray(pat_route, np.int32), pattern_stop_off=pattern_stop_off,
            pattern_stops=np.concatenate(pat_stops_l).astype(np.int32) if pat_stops_l else np.zeros(0, np.int32),
            pattern_board=np.concatenate(pat_board_l) if pat_board_l else np.zeros(0, np.uint8),
            pattern_alight=np.concatenate(pat_alight_l) if pat_alight_l else np.zeros(0, np.uint8),
            service_id=_ustr(service_ids), service_active=active,
            transfer_off=transfer_off, transfer_to=xc.astype(np.int32), transfer_walk_s=xv.astype(np.int32),
            transfer_min_s=xmin.astype(np.int32),
        )
        meta = dict(
            timezone=tzs[0] if tzs else None, day0=int(day0), speed_kmh=speed,
            max_transfer_walk_min=float(max_transfer_walk_min), max_snap_m=float(max_snap_m),
            feeds=[dict(feed_id=f.feed_id, path=f.path, timezone=f.timezone, n_frequency_trips=f.n_frequency_trips)
                   for f in feeds],
            linked=walk_graph is not None,
            n_unlinked=int((used & (acc_n[:, 0] < 0) & (acc_n[:, 1] < 0)).sum()) if walk_graph is not None else None,
        )
        trip_shape = trips.set_index("trip_id").loc[trip_ids].get("shape_id")
        return cls(arrays, meta, shapes=TripShapes.build(feeds, trip_ids, trip_shape, trip_time_off, sidx,
                                                         st.get("shape_dist_traveled")))

    # -------------------------------------------------------------------------------------------- persistence
    def to_arrays(self) -> tuple[dict, dict]:
        """Arrays and JSON-able meta for the network bundle (no pickle; strings as fixed-width unicode)."""
        return {k: np.asarray(self.arrays[k]) for k in _ARRAY_KEYS}, dict(self.meta)

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> Timetable:
        """Inverse of :meth:`to_arrays` (arrays may be memory-mapped)."""
        return cls(dict(arrays), meta)

    # -------------------------------------------------------------------------------------------- dates
    @property
    def service_dates(self) -> tuple[_dt.date, _dt.date] | None:
        """First and last date with any service."""
        act = np.asarray(self.arrays["service_active"])
        if act.size == 0 or not act.any():
            return None
        days = np.flatnonzero(act.any(axis=0))
        d0 = int(self.meta["day0"])
        return _dt.date.fromordinal(d0 + int(days[0])), _dt.date.fromordinal(d0 + int(days[-1]))

    def _active_services(self, ordinal: int) -> np.ndarray:
        act = np.asarray(self.arrays["service_active"])
        j = ordinal - int(self.meta["day0"])
        if act.size == 0 or j < 0 or j >= act.shape[1]:
            return np.zeros(act.shape[0], dtype=bool)
        return act[:, j].astype(bool)

    def for_date(self, date) -> DayTimetable:
        """RAPTOR arrays of the trips running on ``date`` (cached per date).

        Includes the previous service day's trips that run past midnight (times shifted by -24 h) and the next
        day's trips leaving before 12:00 (+24 h).

        Raises
        ------
        GTFSError
            When no trip runs on ``date``, naming the feed's service range.
        """
        date = _as_date(date)
        if date in self._day_cache:
            self._day_cache.move_to_end(date)
            return self._day_cache[date]
        day = self._build_day(date)
        self._day_cache[date] = day
        while len(self._day_cache) > DAY_CACHE_SIZE:  # bounded: the least recently used date goes
            self._day_cache.popitem(last=False)
        return day

    def _no_service_message(self, date: _dt.date) -> str:
        if self.n_trips == 0:
            return ("the feeds have no trip with at least two timed stops, so no date can work; check stop_times.txt "
                    "(rows, times) and trips.txt")
        rng = self.service_dates
        if rng is None:
            return ("no service of the feeds runs on any date (calendar.txt/calendar_dates.txt give no active day to "
                    "any service their trips use), so no date can work; fix the calendars or the trips' service_id")
        return (f"no transit service runs on {date.isoformat()} (a {date.strftime('%A')}); the feeds' services run "
                f"on {rng[0]} .. {rng[1]}; pick a date in that range")

    def _build_day(self, date: _dt.date) -> DayTimetable:
        a = self.arrays
        o = date.toordinal()
        trip_service = np.asarray(a["trip_service"])
        tto = np.asarray(a["trip_time_off"])
        arr = np.asarray(a["st_arr_s"])
        dep = np.asarray(a["st_dep_s"])
        first_dep = dep[tto[:-1]]
        last_arr = arr[tto[1:] - 1]
        sel: list[np.ndarray] = []
        shifts: list[np.ndarray] = []
        for off, shift in ((-1, -DAY_S), (0, 0), (1, DAY_S)):
            on = self._active_services(o + off)
            run = on[trip_service] if len(trip_service) else np.zeros(0, bool)
            if off == -1:
                run &= last_arr >= DAY_S
            elif off == 1:
                run &= first_dep < NEXT_DAY_HORIZON_S
            elif not run.any() and not sel[0].size:  # the previous day's after-midnight trips are a service too
                raise GTFSError(self._no_service_message(date))
            idx = np.flatnonzero(run)
            sel.append(idx)
            shifts.append(np.full(len(idx), shift, np.int64))
        tr = np.concatenate(sel).astype(np.int64)
        sh = np.concatenate(shifts)
        tpat = np.asarray(a["trip_pattern"])
        order_key = np.lexsort((last_arr[tr] + sh, first_dep[tr] + sh, tpat[tr]))
        tr, sh = tr[order_key], sh[order_key]
        pso = np.asarray(a["pattern_stop_off"])
        pat_nstops = np.diff(pso).astype(np.int64)
        sub = _fifo_split(tr, tpat, tto, arr, dep, sh, pat_nstops)
        n_sub = int(sub.max()) + 1 if len(sub) else 0
        # sub ids increase with base pattern and, within it, are in order of creation; entries stay departure-sorted
        order = np.argsort(sub, kind="stable")
        tr, sh, sub = tr[order], sh[order], sub[order]
        sub_ntrips = np.bincount(sub, minlength=n_sub).astype(np.int32)
        sub_first = np.zeros(n_sub + 1, np.int64)
        sub_first[1:] = np.cumsum(sub_ntrips)
        base_pat = tpat[tr[sub_first[:-1]]].astype(np.int32)
        sub_ns = pat_nstops[base_pat]
        sub_time_off = np.zeros(n_sub + 1, np.int64)
        sub_time_off[1:] = np.cumsum(sub_ns * sub_ntrips)
        t_arr = np.empty(int(sub_time_off[-1]), np.int32)
        t_dep = np.empty(int(sub_time_off[-1]), np.int32)
        _fill_times(tr, sub.astype(np.int32), sub_first, sub_ntrips, sub_time_off, tpat, tto, pat_nstops, arr, dep,
                    sh, t_arr, t_dep)
        # pattern stops of sub-patterns
        pat_stop_off = np.zeros(n_sub + 1, np.int32)
        pat_stop_off[1:] = np.cumsum(sub_ns)
        src = np.concatenate([np.arange(pso[p], pso[p + 1]) for p in base_pat]) if n_sub else np.zeros(0, np.int64)
        pat_stops = np.asarray(a["pattern_stops"])[src].astype(np.int32)
        pat_board = np.asarray(a["pattern_board"])[src].astype(np.uint8)
        pat_alight = np.asarray(a["pattern_alight"])[src].astype(np.uint8)
        # stop -> patterns
        n_stops = self.n_stops
        pos = np.arange(len(pat_stops), dtype=np.int64) - np.repeat(pat_stop_off[:-1], sub_ns)
        pid = np.repeat(np.arange(n_sub, dtype=np.int32), sub_ns)
        o2 = np.lexsort((pos, pid, pat_stops))
        stop_pat_off = np.zeros(n_stops + 1, np.int32)
        np.add.at(stop_pat_off, pat_stops + 1, 1)
        stop_pat_off = np.cumsum(stop_pat_off).astype(np.int32)
        # sorted boardable departures per stop
        # t_dep is trip-major per pattern: the pattern's stops repeated once per trip
        ent_idx = np.concatenate([np.tile(np.arange(pat_stop_off[g], pat_stop_off[g + 1]), sub_ntrips[g])
                                  for g in range(n_sub)]) if n_sub else np.zeros(0, np.int64)
        ent_stop = pat_stops[ent_idx]
        ent_board = pat_board[ent_idx].astype(bool)
        ent_stop, ent_dep = ent_stop[ent_board], t_dep[ent_board]
        o3 = np.lexsort((ent_dep, ent_stop))
        sdep = ent_dep[o3].astype(np.int32)
        sdep_off = np.zeros(n_stops + 1, np.int64)
        np.add.at(sdep_off, ent_stop + 1, 1)
        sdep_off = np.cumsum(sdep_off)
        return DayTimetable(
            date=date, pat_stop_off=pat_stop_off, pat_stops=pat_stops, pat_board=pat_board, pat_alight=pat_alight,
            pat_ntrips=sub_ntrips, pat_time_off=sub_time_off[:-1].copy(), t_arr=t_arr, t_dep=t_dep,
            pat_trip_off=sub_first, pat_trip=tr.astype(np.int32), pat_trip_shift=sh.astype(np.int32),
            pat_base=base_pat, stop_pat_off=stop_pat_off, stop_pat=pid[o2].astype(np.int32),
            stop_pat_pos=pos[o2].astype(np.int32), sdep_off=sdep_off, sdep=sdep,
        )

    # -------------------------------------------------------------------------------------------- transfers
    def transfers_csr(self, walk_speed_kmh: float | None = None, *, transfers_txt: bool = True):
        """Footpaths (``x_off`` int64[n_stops+1], ``x_to`` int32, ``x_s`` int32) at ``walk_speed_kmh``.

        Walking times computed at build speed are rescaled; a ``transfers.txt`` minimum is a lower bound. With
        ``transfers_txt=False`` the file is ignored (walking footpaths only, as R5).
        """
        w = np.asarray(self.arrays["transfer_walk_s"]).astype(np.float64)
        mn = np.asarray(self.arrays["transfer_min_s"]).astype(np.int64)
        off = np.asarray(self.arrays["transfer_off"]).astype(np.int64)
        to = np.asarray(self.arrays["transfer_to"])
        if walk_speed_kmh:
            w = np.where(w >= 0, w * float(self.meta["speed_kmh"]) / float(walk_speed_kmh), w)
        x = np.where(w >= 0, np.rint(w), -1).astype(np.int64)
        if transfers_txt:
            x = np.maximum(x, np.where(mn <= XFER_ADDED, XFER_ADDED - mn, mn))
            keep = mn != XFER_FORBIDDEN
        else:
            keep = mn > XFER_ADDED
        x = np.where(x < 0, 0, x).astype(np.int32)
        if not keep.all():
            row = np.repeat(np.arange(len(off) - 1), np.diff(off))[keep]
            off = np.r_[0, np.cumsum(np.bincount(row, minlength=len(off) - 1))].astype(np.int64)
            to, x = np.ascontiguousarray(to[keep]), np.ascontiguousarray(x[keep])
        return off, to, x

    def stop_index(self) -> pd.Index:
        """``pd.Index`` of stop ids (position = internal stop id)."""
        if self._stop_index is None:
            self._stop_index = pd.Index(np.asarray(self.arrays["stop_id"]).astype(object))
        return self._stop_index


# ------------------------------------------------------------------------------------ build steps (Timetable.build)
def _merged_feeds(feeds):
    """The feeds read and their tables concatenated (ids already prefixed per feed), with their time zones."""
    if isinstance(feeds, (str, Path, _gtfs.GTFSFeed)):
        feeds = [feeds]
    feeds = _gtfs.read_feeds(list(feeds))
    if not feeds:
        raise ValidationError("`feeds` is empty; give at least one GTFS feed")
    tzs = [f.timezone for f in feeds if f.timezone]
    if len(set(tzs)) > 1:
        warnings.warn(f"GTFS feeds have different time zones {sorted(set(tzs))}; using {tzs[0]!r}",
                      AccessWarning, stacklevel=3)
    stops = pd.concat([f.stops for f in feeds], ignore_index=True)
    routes = pd.concat([f.routes for f in feeds], ignore_index=True)
    trips = pd.concat([f.trips for f in feeds], ignore_index=True)
    st = pd.concat([f.stop_times for f in feeds], ignore_index=True)
    cal = pd.concat([f.calendar for f in feeds], ignore_index=True)
    cd = pd.concat([f.calendar_dates for f in feeds], ignore_index=True)
    xfers = pd.concat([f.transfers for f in feeds], ignore_index=True)
    return feeds, tzs, stops, routes, trips, st, cal, cd, xfers


def _ordered_stops(stops: pd.DataFrame, st: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    """Stops in the internal order, their index and each one's parent station (-1: none)."""
    # internal stop order: first appearance along the trips (stops ridden one after the other get nearby
    # numbers, so RAPTOR's per-stop labels are read from nearby memory); stops no trip serves come last
    seen = pd.unique(st.sort_values(["trip_id", "stop_sequence"], kind="stable")["stop_id"])
    rank = pd.Index(seen).get_indexer(pd.Index(stops["stop_id"]))
    rank = np.where(rank < 0, len(seen) + np.arange(len(stops)), rank)
    stops = stops.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    stop_index = pd.Index(stops["stop_id"])
    parent = stop_index.get_indexer(stops["parent_station"].where(stops["parent_station"] != "", "\0none"))
    return stops, stop_index, parent


def _kept_trips(st: pd.DataFrame, trips: pd.DataFrame, routes: pd.DataFrame, cal: pd.DataFrame,
                cd: pd.DataFrame):
    """Stop times of the trips with at least 2 of them, the trips' routes and services, the service days."""
    route_index = pd.Index(routes["route_id"])

    # trips: keep those with at least 2 stop times
    st = st.sort_values(["trip_id", "stop_sequence"], kind="stable").reset_index(drop=True)
    tcode, trip_uniques = pd.factorize(st["trip_id"], sort=False)
    counts = np.bincount(tcode, minlength=len(trip_uniques))
    keep_t = counts >= 2
    if (~keep_t).any():
        warnings.warn(f"{int((~keep_t).sum())} trip(s) with fewer than 2 stop times dropped, "
                      f"e.g. {trip_uniques[np.flatnonzero(~keep_t)[0]]!r}", AccessWarning, stacklevel=3)
        km = keep_t[tcode]
        st = st[km].reset_index(drop=True)
        tcode, trip_uniques = pd.factorize(st["trip_id"], sort=False)
        counts = np.bincount(tcode, minlength=len(trip_uniques))
    trip_ids = np.asarray(trip_uniques, dtype=object)
    tmeta = trips.set_index("trip_id").loc[trip_ids]
    trip_route = route_index.get_indexer(tmeta["route_id"]).astype(np.int32)
    service_ids = np.array(sorted(set(trips["service_id"]) | set(cal["service_id"]) | set(cd["service_id"])),
                           dtype=object)
    trip_service = pd.Index(service_ids).get_indexer(tmeta["service_id"]).astype(np.int32)
    day0, active = _gtfs.service_date_matrix(cal, cd, service_ids)
    return st, counts, trip_ids, trip_route, service_ids, trip_service, day0, active


def _patterns(st: pd.DataFrame, stop_index: pd.Index, trip_route: np.ndarray, counts: np.ndarray):
    """Trips grouped into patterns (same route, stops, pickup and drop-off): each trip's pattern and the patterns."""
    n_trips = len(trip_route)
    # patterns: (route, stops, pickup, drop-off)
    trip_time_off = np.zeros(n_trips + 1, dtype=np.int64)
    trip_time_off[1:] = np.cumsum(counts)
    sidx = stop_index.get_indexer(pd.Index(st["stop_id"])).astype(np.int32)
    board = (st["pickup_type"].to_numpy() != 1).astype(np.uint8)
    alight = (st["drop_off_type"].to_numpy() != 1).astype(np.uint8)
    keys: dict[tuple[int, bytes, bytes, bytes], int] = {}
    trip_pattern = np.empty(n_trips, dtype=np.int32)
    pat_route, pat_stops_l, pat_board_l, pat_alight_l = [], [], [], []
    for t in range(n_trips):
        a, b = trip_time_off[t], trip_time_off[t + 1]
        key = (int(trip_route[t]), sidx[a:b].tobytes(), board[a:b].tobytes(), alight[a:b].tobytes())
        p = keys.get(key)
        if p is None:
            p = len(keys)
            keys[key] = p
            pat_route.append(trip_route[t])
            pat_stops_l.append(sidx[a:b])
            pat_board_l.append(board[a:b])
            pat_alight_l.append(alight[a:b])
        trip_pattern[t] = p
    pattern_stop_off = np.zeros(len(keys) + 1, dtype=np.int32)
    pattern_stop_off[1:] = np.cumsum([len(x) for x in pat_stops_l])
    return (trip_time_off, sidx, trip_pattern, pat_route, pat_stops_l, pat_board_l, pat_alight_l,
            pattern_stop_off)


def _served_stops(stops: pd.DataFrame, sidx: np.ndarray, n_stops: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which stops the trips serve, and every stop's coordinates (a served stop must have some)."""
    used = np.zeros(n_stops, dtype=bool)
    used[sidx] = True
    lon = stops["stop_lon"].to_numpy(np.float64)
    lat = stops["stop_lat"].to_numpy(np.float64)
    nocoord = used & ~(np.isfinite(lon) & np.isfinite(lat))
    if nocoord.any():
        raise GTFSError(f"stops.txt: {int(nocoord.sum())} stop(s) served by trips have no coordinates (nor a "
                        f"parent station with some), e.g. {stops['stop_id'].iloc[np.flatnonzero(nocoord)[0]]!r}")
    return used, lon, lat


def _walk_links(walk_graph, stops: pd.DataFrame, used: np.ndarray, lon: np.ndarray, lat: np.ndarray,
                max_transfer_walk_min: float, max_snap_m: float, walk_speed_kmh: float | None):
    """Stops snapped to the walk graph and the walking transfers between them (straight lines without a graph)."""
    n_stops = len(stops)
    # links to the walk graph
    acc_n = np.full((n_stops, 2), -1, np.int32)
    acc_c = np.full((n_stops, 2), -1, np.int32)
    eg_n = np.full((n_stops, 2), -1, np.int32)
    eg_c = np.full((n_stops, 2), -1, np.int32)
    max_xfer_s = int(round(max_transfer_walk_min * 60))
    ui = np.flatnonzero(used)
    if walk_graph is not None:
        speed = float(walk_graph.meta.get("speed_kmh") or 3.6)
        snap = walk_graph.snap(lon[ui], lat[ui], max_snap_m=max_snap_m, warn=False)
        acc_n[ui], acc_c[ui], eg_n[ui], eg_c[ui] = (snap.access_node, snap.access_cost_s, snap.egress_node,
                                                    snap.egress_cost_s)
        unl = ui[~snap.snapped]
        if len(unl):
            ex = [str(stops["stop_id"].iloc[i]) for i in unl[:5]]
            warnings.warn(f"{len(unl)} of {len(ui)} served stops are farther than max_snap_m={max_snap_m:g} m "
                          f"from the walk network and stay unlinked (no access, egress or walking transfer), "
                          f"e.g. {ex}", AccessWarning, stacklevel=3)
        f, h, w = walk_graph.first_out, walk_graph.head, walk_graph.travel_time_s
        r, c, v = walk_points(f, h, w, acc_n[ui], acc_c[ui], eg_n[ui], eg_c[ui], max_xfer_s)
        xr, xc, xv = ui[r], ui[c], v
    else:
        speed = float(walk_speed_kmh or 3.6)
        xr, xc, xv = _crowfly_pairs(lon, lat, ui, max_xfer_s, speed)
    ok = xr != xc
    xr, xc, xv = xr[ok], xc[ok], xv[ok]
    return acc_n, acc_c, eg_n, eg_c, speed, xr, xc, xv


def _transfers_txt(xfers: pd.DataFrame, stop_index: pd.Index, parent: np.ndarray, used: np.ndarray, n_stops: int,
                   lon: np.ndarray, lat: np.ndarray, speed: float, xr: np.ndarray, xc: np.ndarray, xv: np.ndarray):
    """The walking transfers with the rules of transfers.txt: minimum times, forbidden and added pairs."""
    xmin = np.full(len(xr), -1, np.int32)
    # transfers.txt
    if len(xfers):
        fr = stop_index.get_indexer(pd.Index(xfers["from_stop_id"]))
        to = stop_index.get_indexer(pd.Index(xfers["to_stop_id"]))
        children = pd.Series(np.arange(n_stops)).groupby(parent).apply(list).to_dict() if (parent >= 0).any() \
            else {}
        pairs = {}
        for a, b, ty, mt in zip(fr, to, xfers["transfer_type"].to_numpy(), xfers["min_transfer_time_s"]):
            aa = children.get(a, [a]) if not used[a] else [a]
            bb = children.get(b, [b]) if not used[b] else [b]
            for x in aa:
                for y in bb:
                    if x != y and used[x] and used[y]:
                        pairs[(x, y)] = (int(ty), int(mt))
        if pairs:
            cur = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(xr, xc))}
            add_r, add_c, add_m = [], [], []
            for (x, y), (ty, mt) in pairs.items():
                i = cur.get((int(x), int(y)))
                if ty == 3:
                    if i is not None:
                        xmin[i] = XFER_FORBIDDEN  # kept, so that transfers_txt=False can restore it
                    continue
                if i is not None:
                    xmin[i] = max(mt, 0)
                else:
                    add_r.append(x)
                    add_c.append(y)
                    add_m.append(mt)
            ar, ac = np.array(add_r, np.int64), np.array(add_c, np.int64)
            # a pair the walk search did not link (farther than the transfer walk) walks at least the straight
            # line: a row without min_transfer_time is not a 0 s link between distant stops
            crow = np.rint(haversine_m(lon[ar], lat[ar], lon[ac], lat[ac]) / (speed / 3.6)) if len(ar) \
                else np.zeros(0)
            crow = np.where(np.isfinite(crow), crow, 0)
            xr = np.concatenate([xr, ar])
            xc = np.concatenate([xc, ac])
            xv = np.concatenate([xv, crow.astype(np.int32)])
            xmin = np.concatenate([xmin, XFER_ADDED - np.maximum(np.array(add_m, np.int32), 0)])
    return xr, xc, xv, xmin

def _crowfly_pairs(lon, lat, ui, max_s, speed_kmh):
    """Straight-line walking pairs among stops ``ui`` within ``max_s`` seconds."""
    from scipy.spatial import cKDTree

    if len(ui) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.int32)
    # 3-D points on the sphere: the chord is never longer than the great-circle distance, so no pair within
    # reach is missed whatever the feed's extent (a flat projection at the mean latitude misses pairs far from it)
    r = EARTH_RADIUS_M
    la, lo = np.radians(lat[ui]), np.radians(lon[ui])
    xyz = np.column_stack([r * np.cos(la) * np.cos(lo), r * np.cos(la) * np.sin(lo), r * np.sin(la)])
    max_m = max_s * speed_kmh / 3.6
    tree = cKDTree(xyz)
    pairs = tree.query_pairs(max_m * 1.001 + 1.0, output_type="ndarray")
    if len(pairs) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.int32)
    a = np.concatenate([pairs[:, 0], pairs[:, 1]])
    b = np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = haversine_m(lon[ui[a]], lat[ui[a]], lon[ui[b]], lat[ui[b]])
    t = np.rint(d / (speed_kmh / 3.6))
    ok = t <= max_s
    return ui[a[ok]].astype(np.int64), ui[b[ok]].astype(np.int64), t[ok].astype(np.int32)


def _as_date(date) -> _dt.date:
    if isinstance(date, _dt.datetime):
        return date.date()
    if isinstance(date, _dt.date):
        return date
    if isinstance(date, str):
        try:
            return _dt.date.fromisoformat(date[:10])
        except ValueError:
            raise ValidationError(f"bad date {date!r}; use YYYY-MM-DD") from None
    if isinstance(date, np.datetime64):
        return pd.Timestamp(date).date()
    raise ValidationError(f"bad date {date!r}; give a datetime.date or 'YYYY-MM-DD'")
