"""Transit timetable (RAPTOR arrays), its links to the walk graph, and walk+transit travel-time matrices.

:class:`Timetable` keeps every service of the feeds with the days it runs, so one build answers queries on any
date: :meth:`Timetable.for_date` selects the trips running that day (and the previous day's trips still running
after midnight, and the next day's morning trips), groups them into patterns (same route, same stop sequence, same
pickup/drop-off rules), sorts the trips of each pattern by departure and splits a pattern where a trip would
overtake another, so that every pattern is FIFO at every stop (what RAPTOR's binary search needs).

Stops are linked to the walk graph with :meth:`StreetGraph.snap`; stops farther than ``max_snap_m`` stay unlinked
(reported in one warning). Transfers are walking paths on the street graph between stops within
``max_transfer_walk_min`` (one bounded Dijkstra per stop), plus ``transfers.txt`` (a ``min_transfer_time`` is a
lower bound on the walk; ``transfer_type`` 3 removes the pair; station-level rows apply to all the station's
stops). Without a walk graph (stop-level use), transfers are straight-line walks within the same time.

Times inside are int32 seconds since midnight of the query date in the feed's time zone (a trip of the previous
service day at 25:10 is at 01:10). On the days clocks change, GTFS times count from noon minus 12 h; we use
midnight, a difference of one hour on those two nights only.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from numba import njit, prange

from .._errors import AccessWarning, GTFSError, NetworkError, ValidationError
from ..core import raptor as _rp
from ..core.dijkstra import INF, _search, transpose_csr
from ..core.dijkstra import csr_from_triples as _csr
from ..io import gtfs as _gtfs

__all__ = ["Timetable", "DayTimetable", "transit_travel_times", "transit_columns_to", "transit_access",
           "BOARD_SLACK_S"]

BOARD_SLACK_S = 60
DAY_S = 86400
NEXT_DAY_HORIZON_S = 12 * 3600  # next-day trips starting before 12:00 are included (late-evening queries)
EGRESS_WALK_LIMIT_M = 2000.0  # as R5 (TransitLayer.WALK_DISTANCE_LIMIT_METERS): egress walks are at most 2 km


def _n_chunks():
    import numba

    return 4 * int(numba.get_num_threads())


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
        nt = sub_ntrips[g]
        o = trip_time_off[tr]
        base = sub_time_off[g]
        for i in range(ns):
            t_arr[base + rank * ns + i] = st_arr[o + i] + shift[q]
            t_dep[base + rank * ns + i] = st_dep[o + i] + shift[q]


@njit(cache=True, parallel=True)
def _walk_points(first_out, head, weight, seed_node, seed_cost, tnode_off, tnode_pt, tnode_cost, n_pts, max_s,
                 nthreads):
    """Bounded walks from each source (row of seeds) to points reached from nodes: int32[k, n_pts] (INF)."""
    n = first_out.shape[0] - 1
    m = head.shape[0]
    k = seed_node.shape[0]
    out = np.full((k, n_pts), INF, dtype=np.int32)
    nth = max(1, min(nthreads, k))
    for t in prange(nth):
        dist = np.full(n, INF, dtype=np.int32)
        heap = np.empty(m + seed_node.shape[1] + 1, dtype=np.int64)
        touched = np.empty(n, dtype=np.int32)
        for i in range(t, k, nth):
            nt = _search(first_out, head, weight, seed_node[i], seed_cost[i], max_s, dist, heap, touched)
            for j in range(nt):
                v = touched[j]
                dv = dist[v]
                for e in range(tnode_off[v], tnode_off[v + 1]):
                    c = dv + tnode_cost[e]
                    p = tnode_pt[e]
                    if c <= max_s and c < out[i, p]:
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
        d = _walk_points(first_out, head, weight, sn[a:a + chunk], sc[a:a + chunk], toff, tpt, tcost, j,
                         np.int32(max_s), 2 * int(numba.get_num_threads()))
        r, c = np.nonzero(d != INF)
        rows.append(r + a)
        cols.append(c)
        vals.append(d[r, c])
    if not rows:
        return (np.zeros(0, np.int64),) * 2 + (np.zeros(0, np.int32),)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals).astype(np.int32)




def _haversine_m(lon1, lat1, lon2, lat2):
    r = 6371008.8
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


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

    def __init__(self, arrays: dict, meta: dict):
        missing = [k for k in _ARRAY_KEYS if k not in arrays]
        if missing:
            raise NetworkError(f"transit component lacks arrays {missing}; rebuild the network bundle")
        self.arrays = arrays
        self.meta = dict(meta)
        self._day_cache: dict = {}

    def __getattr__(self, name):
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(name)

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
              walk_speed_kmh: float | None = None, progress: bool = False) -> "Timetable":
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
        if isinstance(feeds, (str, Path, _gtfs.GTFSFeed)):
            feeds = [feeds]
        feeds = _gtfs.read_feeds(list(feeds))
        if not feeds:
            raise ValidationError("`feeds` is empty; give at least one GTFS feed")
        tzs = [f.timezone for f in feeds if f.timezone]
        if len(set(tzs)) > 1:
            warnings.warn(f"GTFS feeds have different time zones {sorted(set(tzs))}; using {tzs[0]!r}",
                          AccessWarning, stacklevel=2)
        stops = pd.concat([f.stops for f in feeds], ignore_index=True)
        routes = pd.concat([f.routes for f in feeds], ignore_index=True)
        trips = pd.concat([f.trips for f in feeds], ignore_index=True)
        st = pd.concat([f.stop_times for f in feeds], ignore_index=True)
        cal = pd.concat([f.calendar for f in feeds], ignore_index=True)
        cd = pd.concat([f.calendar_dates for f in feeds], ignore_index=True)
        xfers = pd.concat([f.transfers for f in feeds], ignore_index=True)

        # internal stop order: first appearance along the trips (stops ridden one after the other get nearby
        # numbers, so RAPTOR's per-stop labels are read from nearby memory); stops no trip serves come last
        seen = pd.unique(st.sort_values(["trip_id", "stop_sequence"], kind="stable")["stop_id"])
        rank = pd.Index(seen).get_indexer(stops["stop_id"])
        rank = np.where(rank < 0, len(seen) + np.arange(len(stops)), rank)
        stops = stops.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
        stop_index = pd.Index(stops["stop_id"])
        n_stops = len(stops)
        parent = stop_index.get_indexer(stops["parent_station"].where(stops["parent_station"] != "", "\0none"))
        route_index = pd.Index(routes["route_id"])

        # trips: keep those with at least 2 stop times
        st = st.sort_values(["trip_id", "stop_sequence"], kind="stable").reset_index(drop=True)
        tcode, trip_uniques = pd.factorize(st["trip_id"], sort=False)
        counts = np.bincount(tcode, minlength=len(trip_uniques))
        keep_t = counts >= 2
        if (~keep_t).any():
            warnings.warn(f"{int((~keep_t).sum())} trip(s) with fewer than 2 stop times dropped, "
                          f"e.g. {trip_uniques[np.flatnonzero(~keep_t)[0]]!r}", AccessWarning, stacklevel=2)
            km = keep_t[tcode]
            st = st[km].reset_index(drop=True)
            tcode, trip_uniques = pd.factorize(st["trip_id"], sort=False)
            counts = np.bincount(tcode, minlength=len(trip_uniques))
        trip_ids = np.asarray(trip_uniques, dtype=object)
        n_trips = len(trip_ids)
        tmeta = trips.set_index("trip_id").loc[trip_ids]
        trip_route = route_index.get_indexer(tmeta["route_id"]).astype(np.int32)
        service_ids = np.array(sorted(set(trips["service_id"]) | set(cal["service_id"]) | set(cd["service_id"])),
                               dtype=object)
        trip_service = pd.Index(service_ids).get_indexer(tmeta["service_id"]).astype(np.int32)
        day0, active = _gtfs.service_date_matrix(cal, cd, service_ids)

        # patterns: (route, stops, pickup, drop-off)
        trip_time_off = np.zeros(n_trips + 1, dtype=np.int64)
        trip_time_off[1:] = np.cumsum(counts)
        sidx = stop_index.get_indexer(st["stop_id"]).astype(np.int32)
        board = (st["pickup_type"].to_numpy() != 1).astype(np.uint8)
        alight = (st["drop_off_type"].to_numpy() != 1).astype(np.uint8)
        keys = {}
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

        used = np.zeros(n_stops, dtype=bool)
        used[sidx] = True
        lon = stops["stop_lon"].to_numpy(np.float64)
        lat = stops["stop_lat"].to_numpy(np.float64)
        nocoord = used & ~(np.isfinite(lon) & np.isfinite(lat))
        if nocoord.any():
            raise GTFSError(f"stops.txt: {int(nocoord.sum())} stop(s) served by trips have no coordinates (nor a "
                            f"parent station with some), e.g. {stops['stop_id'].iloc[np.flatnonzero(nocoord)[0]]!r}")

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
                              f"e.g. {ex}", AccessWarning, stacklevel=2)
            f, h, w = walk_graph.first_out, walk_graph.head, walk_graph.travel_time_s
            r, c, v = walk_points(f, h, w, acc_n[ui], acc_c[ui], eg_n[ui], eg_c[ui], max_xfer_s)
            xr, xc, xv = ui[r], ui[c], v
        else:
            speed = float(walk_speed_kmh or 3.6)
            xr, xc, xv = _crowfly_pairs(lon, lat, ui, max_xfer_s, speed)
        ok = xr != xc
        xr, xc, xv = xr[ok], xc[ok], xv[ok]
        xmin = np.full(len(xr), -1, np.int32)
        # transfers.txt
        if len(xfers):
            fr = stop_index.get_indexer(xfers["from_stop_id"])
            to = stop_index.get_indexer(xfers["to_stop_id"])
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
                drop = np.zeros(len(xr), bool)
                add_r, add_c, add_v, add_m = [], [], [], []
                for (x, y), (ty, mt) in pairs.items():
                    i = cur.get((x, y))
                    if ty == 3:
                        if i is not None:
                            drop[i] = True
                        continue
                    if i is not None:
                        xmin[i] = max(mt, 0)
                    else:
                        add_r.append(x)
                        add_c.append(y)
                        add_v.append(-1)
                        add_m.append(max(mt, 0))
                keepx = ~drop
                xr = np.concatenate([xr[keepx], np.array(add_r, np.int64)])
                xc = np.concatenate([xc[keepx], np.array(add_c, np.int64)])
                xv = np.concatenate([xv[keepx], np.array(add_v, np.int32)])
                xmin = np.concatenate([xmin[keepx], np.array(add_m, np.int32)])
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
        return cls(arrays, meta)

    # -------------------------------------------------------------------------------------------- persistence
    def to_arrays(self) -> tuple[dict, dict]:
        """Arrays and JSON-able meta for the network bundle (no pickle; strings as fixed-width unicode)."""
        return {k: np.asarray(self.arrays[k]) for k in _ARRAY_KEYS}, dict(self.meta)

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> "Timetable":
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
            return self._day_cache[date]
        day = self._build_day(date)
        self._day_cache[date] = day
        return day

    def _build_day(self, date: _dt.date) -> DayTimetable:
        a = self.arrays
        o = date.toordinal()
        trip_service = np.asarray(a["trip_service"])
        tto = np.asarray(a["trip_time_off"])
        arr = np.asarray(a["st_arr_s"])
        dep = np.asarray(a["st_dep_s"])
        first_dep = dep[tto[:-1]]
        last_arr = arr[tto[1:] - 1]
        sel, shifts = [], []
        for off, shift in ((-1, -DAY_S), (0, 0), (1, DAY_S)):
            on = self._active_services(o + off)
            run = on[trip_service] if len(trip_service) else np.zeros(0, bool)
            if off == -1:
                run &= last_arr >= DAY_S
            elif off == 1:
                run &= first_dep < NEXT_DAY_HORIZON_S
            elif not run.any():
                rng = self.service_dates
                span = f"{rng[0]} .. {rng[1]}" if rng else "no dates at all"
                raise GTFSError(f"no transit service runs on {date.isoformat()} (a {date.strftime('%A')}); the "
                                f"feeds' services run on {span}; pick a date in that range")
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
    def transfers_csr(self, walk_speed_kmh: float | None = None):
        """Footpaths (``x_off`` int64[n_stops+1], ``x_to`` int32, ``x_s`` int32) at ``walk_speed_kmh``.

        Walking times computed at build speed are rescaled; a ``transfers.txt`` minimum is a lower bound.
        """
        w = np.asarray(self.arrays["transfer_walk_s"]).astype(np.float64)
        mn = np.asarray(self.arrays["transfer_min_s"])
        if walk_speed_kmh:
            w = np.where(w >= 0, w * float(self.meta["speed_kmh"]) / float(walk_speed_kmh), w)
        x = np.where(w >= 0, np.rint(w), -1).astype(np.int64)
        x = np.maximum(x, mn.astype(np.int64))
        x = np.where(x < 0, 0, x).astype(np.int32)
        return np.asarray(self.arrays["transfer_off"]).astype(np.int64), np.asarray(self.arrays["transfer_to"]), x

    def stop_index(self) -> pd.Index:
        """``pd.Index`` of stop ids (position = internal stop id)."""
        if "_stop_index" not in self.__dict__:
            self.__dict__["_stop_index"] = pd.Index(np.asarray(self.arrays["stop_id"]).astype(object))
        return self.__dict__["_stop_index"]


def _crowfly_pairs(lon, lat, ui, max_s, speed_kmh):
    """Straight-line walking pairs among stops ``ui`` within ``max_s`` seconds."""
    from scipy.spatial import cKDTree

    if len(ui) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.int32)
    lat0 = np.radians(np.nanmean(lat[ui]))
    x = np.radians(lon[ui]) * np.cos(lat0) * 6371008.8
    y = np.radians(lat[ui]) * 6371008.8
    max_m = max_s * speed_kmh / 3.6
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(max_m * 1.01, output_type="ndarray")
    if len(pairs) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.int32)
    a = np.concatenate([pairs[:, 0], pairs[:, 1]])
    b = np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = _haversine_m(lon[ui[a]], lat[ui[a]], lon[ui[b]], lat[ui[b]])
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


def local_departure(timetable: Timetable, departure) -> tuple[_dt.date, int]:
    """(service date, seconds since local midnight) of ``departure`` in the timetable's time zone.

    A naive datetime is taken as local time of the feeds; an aware one is converted.
    """
    if isinstance(departure, str):
        try:
            departure = _dt.datetime.fromisoformat(departure)
        except ValueError:
            raise ValidationError(f"bad `departure` {departure!r}; use YYYY-MM-DDTHH:MM") from None
    if isinstance(departure, pd.Timestamp):
        departure = departure.to_pydatetime()
    if not isinstance(departure, _dt.datetime):
        raise ValidationError(f"`departure` must be a datetime, got {type(departure).__name__}")
    if departure.tzinfo is not None and timetable.timezone:
        from zoneinfo import ZoneInfo

        departure = departure.astimezone(ZoneInfo(timetable.timezone)).replace(tzinfo=None)
    return departure.date(), departure.hour * 3600 + departure.minute * 60 + departure.second


# ------------------------------------------------------------------------------------------------ matrices
def _scaled(a, factor):
    a = np.asarray(a)
    if factor == 1.0:
        return a.astype(np.int32)
    return np.where(a >= 0, np.rint(a * factor), -1).astype(np.int32)


def transit_travel_times(network, origin_snap, dest_snap, *, departure, window_min: int = 60, percentiles=(50,),
                         max_time_s: int = 7200, max_walk_s: int | None = None, max_rides: int = 3,
                         walk_speed_kmh: float = 3.6, per_minute: bool = False, progress: bool = True,
                         batch_size: int | None = None, origin_points=None, dest_points=None):
    """Walk + transit travel times between snapped points over a departure window (range-RAPTOR).

    Parameters
    ----------
    network : TransportNetwork
        With a walk graph and a timetable (``network.street("walk")``, ``network.timetable``).
    origin_snap, dest_snap : Snap
        Points snapped onto the walk graph timed at ``walk_speed_kmh`` (``StreetGraph.snap``; what
        :func:`access.travel_time_matrix` does). Stop links and transfers are rescaled from the build speed.
    departure : datetime
        First departure minute (naive = local time of the feeds).
    window_min : int
        Number of departure minutes ``departure, departure + 1 min, ...``.
    percentiles : sequence of numbers
        Reduced with R5's nearest-rank rule (see :mod:`access.core.raptor`).
    max_time_s : int
        Travel times above are unreachable (``-1``).
    max_walk_s : int, optional
        Longest access walk, egress walk and direct walk (default ``max_time_s``). As in R5, the walk from the
        last stop to the destination is also limited to 2 km (``EGRESS_WALK_LIMIT_M``).
    max_rides : int
        Most vehicles boarded.
    walk_speed_kmh : float
        Walking speed; walking times of the graph and transfers are rescaled from the graph's speed.
    per_minute : bool
        Also return the travel time at every departure minute.
    origin_points, dest_points : access.io.places.Points, optional
        The points themselves: pairs at the very same coordinates then take 0 s. Direct walks between points on
        the same street segment always take the direct time along it, as in the walk matrix
        (:func:`access.matrix.point_pair_times`).

    Returns
    -------
    times_s : int32[n_o, n_d, n_p]
        Seconds, ``-1`` unreachable.
    per_minute : int32[n_o, n_d, window_min] or None

    Examples
    --------
    >>> walk = net.street("walk")  # doctest: +SKIP
    >>> snap = walk.snap(points.lon, points.lat)  # doctest: +SKIP
    >>> times, _ = transit_travel_times(net, snap, snap, departure=datetime(2019, 5, 13, 14), window_min=120,
    ...                                 percentiles=(5, 50, 95), max_time_s=7200)  # doctest: +SKIP
    """
    q = _query(network, origin_snap, dest_snap, departure, window_min, percentiles, max_time_s, max_walk_s,
               max_rides, walk_speed_kmh, origin_points, dest_points)
    n_o, n_d, n_s = q.n_o, q.n_d, q.n_s
    eg_stops = np.unique(q.d_stop)
    eg_slot = np.full(n_s, -1, np.int32)
    eg_slot[eg_stops] = np.arange(len(eg_stops), dtype=np.int32)
    d_slot = eg_slot[q.d_stop].astype(np.int32)
    times = np.empty((n_o, n_d, len(q.pct_idx)), np.int32)
    pm = np.empty((n_o, n_d, int(window_min)), np.int32) if per_minute else None
    if batch_size is None:
        batch_size = max(64, min(512, -(-n_o // 20)))
    from tqdm.auto import tqdm

    bar = tqdm(total=n_o, desc="transit matrix", unit="origin", disable=not progress)
    tgt_n = np.concatenate([q.s_en, q.d_en])
    tgt_c = np.concatenate([q.s_ec, q.d_ec])
    args = q.day.kernel_args()
    p_i, p_j, p_s = q.pairs
    for a in range(0, n_o, batch_size):
        b = min(n_o, a + batch_size)
        r, c, v = walk_points(q.fo, q.he, q.w, q.o_an[a:b], q.o_ac[a:b], tgt_n, tgt_c, q.max_walk_s)
        is_stop = c < n_s
        acc_off, acc_stop, acc_s = _csr(r[is_stop], c[is_stop], v[is_stop], b - a)
        sel = (p_i >= a) & (p_i < b)
        dir_off, dir_dest, dir_s = _csr(np.concatenate([r[~is_stop], p_i[sel] - a]),
                                        np.concatenate([c[~is_stop] - n_s, p_j[sel]]),
                                        np.concatenate([v[~is_stop], p_s[sel]]), b - a)
        ti, pmi = _rp.range_raptor_matrix(acc_off, acc_stop, acc_s, dir_off, dir_dest, dir_s, eg_slot, q.d_off, d_slot,
                                          q.d_s, q.dep_times, int(max_rides), q.max_time_s, BOARD_SLACK_S, q.pct_idx,
                                          *args, q.x_off, q.x_to, q.x_s, _n_chunks(), bool(per_minute))
        times[a:b] = ti
        if per_minute:
            pm[a:b] = pmi
        bar.update(b - a)
    bar.close()
    return times, pm


class _Query(NamedTuple):
    """What a transit matrix query needs, shared by the forward and the backward searches."""

    day: DayTimetable
    dep_times: np.ndarray  # int32[window_min]
    pct_idx: np.ndarray  # int64[n_p]
    max_time_s: int
    max_walk_s: int
    fo: np.ndarray  # walk graph at walk_speed_kmh (CSR)
    he: np.ndarray
    w: np.ndarray
    o_an: np.ndarray
    o_ac: np.ndarray
    d_en: np.ndarray
    d_ec: np.ndarray
    s_en: np.ndarray  # stops as targets of walks (from the graph onto the stop)
    s_ec: np.ndarray
    x_off: np.ndarray  # footpaths
    x_to: np.ndarray
    x_s: np.ndarray
    d_off: np.ndarray  # egress: CSR by destination of (stop, walking seconds), by increasing seconds
    d_stop: np.ndarray
    d_s: np.ndarray
    rev: tuple  # the reversed walk graph (first_out, head, weight)
    pairs: tuple  # (origin, destination, seconds) of access.matrix.point_pair_times
    n_o: int
    n_d: int
    n_s: int


def _walk_at(walk, walk_speed_kmh):
    """The walk graph timed at ``walk_speed_kmh`` (:func:`access.matrix.graph_at_speed`, what the matrices snap
    on) and the factor on times of the build speed (for the stop links and footpaths)."""
    from ..matrix import graph_at_speed

    f = float(walk.meta.get("speed_kmh") or 3.6) / float(walk_speed_kmh)
    return graph_at_speed(walk, walk_speed_kmh), f


def _query(network, origin_snap, dest_snap, departure, window_min, percentiles, max_time_s, max_walk_s, max_rides,
           walk_speed_kmh, origin_points, dest_points) -> _Query:
    """Validate a transit query and prepare its walks: egress walks, footpaths, same-segment pairs, day layout."""
    tt = network.timetable
    if tt is None:
        raise NetworkError("the network has no transit timetable; build it with GTFS feeds (`gtfs=[...]`)")
    walk = network.street("walk")
    if window_min < 1:
        raise ValidationError(f"`window_min` must be >= 1, got {window_min}")
    if max_rides < 0:
        raise ValidationError(f"`max_rides` must be >= 0, got {max_rides}")
    if walk_speed_kmh <= 0:
        raise ValidationError(f"`walk_speed_kmh` must be > 0, got {walk_speed_kmh}")
    pcts = [float(p) for p in percentiles]
    for p in pcts:
        if not 0 <= p <= 100:
            raise ValidationError(f"percentile {p} out of [0, 100]")
    max_time_s = int(max_time_s)
    max_walk_s = int(max_time_s if max_walk_s is None else min(int(max_walk_s), max_time_s))
    date, t0 = local_departure(tt, departure)
    day = tt.for_date(date)
    dep_times = (t0 + 60 * np.arange(int(window_min))).astype(np.int32)

    g, f = _walk_at(walk, walk_speed_kmh)
    fo, he, w = g.first_out, g.head, np.asarray(g.travel_time_s, np.int32)
    # the points were snapped on the walk graph at walk_speed_kmh (what access.matrix does): costs used as given
    o_an, o_ac = np.asarray(origin_snap.access_node), np.asarray(origin_snap.access_cost_s, np.int32)
    d_en, d_ec = np.asarray(dest_snap.egress_node), np.asarray(dest_snap.egress_cost_s, np.int32)
    s_an, s_ac = np.asarray(tt.arrays["stop_access_node"]), _scaled(tt.arrays["stop_access_cost_s"], f)
    s_en, s_ec = np.asarray(tt.arrays["stop_egress_node"]), _scaled(tt.arrays["stop_egress_cost_s"], f)
    n_d = d_en.shape[0]
    x_off, x_to, x_s = tt.transfers_csr(walk_speed_kmh)

    # egress: stop -> destination walks (reverse searches from destinations; the transposed graph is cached on it)
    rf, rh, rw = g.csr(reverse=True)
    max_egress_s = min(max_walk_s, int(round(EGRESS_WALK_LIMIT_M / (walk_speed_kmh / 3.6))))
    dr, sc_, dv = walk_points(rf, rh, rw, d_en, d_ec, s_an, s_ac, max_egress_s)
    o_ = np.lexsort((sc_, dv, dr))  # by destination, then walk seconds
    d_off = np.zeros(n_d + 1, np.int64)
    np.add.at(d_off, dr + 1, 1)
    d_off = np.cumsum(d_off)
    pct_idx = _rp.percentile_index(pcts, int(window_min)) if pcts else np.zeros(0, np.int64)
    # direct walks the node search cannot see: the same street segment, the same place (as the walk matrix)
    from ..matrix import point_pair_times

    pairs = point_pair_times(g, origin_snap, dest_snap, max_walk_s, origin_points, dest_points)
    return _Query(day, dep_times, pct_idx, max_time_s, max_walk_s, fo, he, w, o_an, o_ac, d_en, d_ec, s_en, s_ec,
                  x_off, x_to, x_s, d_off, sc_[o_].astype(np.int32), dv[o_].astype(np.int32), (rf, rh, rw), pairs,
                  o_an.shape[0], n_d, tt.n_stops)


def transit_access(network, origin_snap, *, max_walk_s: int, walk_speed_kmh: float = 3.6):
    """Walks from the origins to the stops within ``max_walk_s``, by stop: ``(off, origin, seconds)`` CSR.

    What :func:`transit_columns_to` needs from the origins; independent of the destinations and the departure, so
    a caller adding destinations one at a time can compute it once and pass it as ``access``.
    """
    tt = network.timetable
    g, f = _walk_at(network.street("walk"), walk_speed_kmh)
    s_en, s_ec = np.asarray(tt.arrays["stop_egress_node"]), _scaled(tt.arrays["stop_egress_cost_s"], f)
    r, c, v = walk_points(g.first_out, g.head, np.asarray(g.travel_time_s, np.int32),
                          np.asarray(origin_snap.access_node), np.asarray(origin_snap.access_cost_s, np.int32), s_en,
                          s_ec, int(max_walk_s))
    return _csr(c, r, v, tt.n_stops)


def transit_columns_to(network, origin_snap, dest_snap, *, departure, window_min: int = 60, percentiles=(50,),
                       max_time_s: int = 7200, max_walk_s: int | None = None, max_rides: int = 3,
                       walk_speed_kmh: float = 3.6, per_minute: bool = False, origin_points=None, dest_points=None,
                       access=None):
    """:func:`transit_travel_times` computed by destination: one backward range-RAPTOR per destination.

    Same arguments and the same ``(times, per_minute)`` arrays, element for element (see
    :func:`access.core.raptor.backward_range_raptor_columns`); the cost grows with the destinations and the service
    around them, not with the origins (beyond their access walks), which suits adding one venue to many cells.
    Destinations are searched in parallel.

    Parameters
    ----------
    access : tuple, optional
        :func:`transit_access` of these origins at this ``max_walk_s`` (as bounded here: at most ``max_time_s``) and
        ``walk_speed_kmh``, when already known; computed otherwise.

    Examples
    --------
    >>> times, _ = transit_columns_to(net, cells_snap, venue_snap, departure=datetime(2019, 5, 13, 14),
    ...                               window_min=10, percentiles=(50,), max_time_s=3600)  # doctest: +SKIP
    """
    import numba

    q = _query(network, origin_snap, dest_snap, departure, window_min, percentiles, max_time_s, max_walk_s,
               max_rides, walk_speed_kmh, origin_points, dest_points)
    if access is None:
        access = transit_access(network, origin_snap, max_walk_s=q.max_walk_s, walk_speed_kmh=walk_speed_kmh)
    sa_off, sa_org, sa_s = access
    # direct walks, by destination: reverse searches from the destinations (the same sums as the forward ones)
    rf, rh, rw = q.rev
    dr, do_, dv = walk_points(rf, rh, rw, q.d_en, q.d_ec, q.o_an, q.o_ac, q.max_walk_s)
    p_i, p_j, p_s = q.pairs
    dd_off, dd_org, dd_s = _csr(np.concatenate([dr, p_j]), np.concatenate([do_, p_i]), np.concatenate([dv, p_s]),
                                q.n_d)
    xt_off, xt_from, xt_s, _ = transpose_csr(q.x_off, q.x_to, q.x_s)
    d = q.day
    times, pm = _rp.backward_range_raptor_columns(
        sa_off, sa_org, sa_s, dd_off, dd_org, dd_s, q.d_off, q.d_stop, q.d_s, q.dep_times, int(max_rides),
        q.max_time_s, BOARD_SLACK_S, q.pct_idx, d.pat_stop_off, d.pat_stops, d.pat_board, d.pat_alight, d.pat_ntrips,
        d.pat_time_off, d.t_arr, d.t_dep, d.stop_pat_off, d.stop_pat, d.stop_pat_pos, xt_off, xt_from, xt_s, q.n_o,
        int(numba.get_num_threads()), bool(per_minute))
    return times, (pm if per_minute else None)
