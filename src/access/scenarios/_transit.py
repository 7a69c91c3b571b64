"""Transit edits on a :class:`~access.network.transit.Timetable`, through its arrays (no GTFS re-read).

Only what an edit touches is rebuilt:

* ``remove_route``: the route's trips and patterns are dropped (the arrays are filtered and renumbered);
* ``headway``: per pattern of the route and per service, the trips departing in ``[start, end)`` (default: from
  the first to the last departure) are replaced by trips every ``headway_min`` minutes that keep the run and dwell
  times of the first replaced trip;
* ``remove_stops``: the stops leave every pattern and trip that served them (a pattern left with fewer than two
  stops loses its trips); the stops are unlinked from the street and lose their transfers;
* ``add_route``: a new route (and its reverse with ``both_directions``), on new stops at coordinates (snapped to the
  walk graph; an error when farther than ``max_snap_m``) or on existing stop ids; run times from the straight
  distance between stops at ``speed_kmh`` plus ``dwell_s`` at each intermediate stop; departures from a timetable
  or a headway over ``[start, end)``; it runs every day of the timetable's calendar (a new service). Walking
  transfers are computed for the new stops only (both ways, on the walk graph, within the timetable's
  ``max_transfer_walk_min``).

When a scenario changes the walk graph, every served stop is re-snapped and the walking transfers are recomputed
on the new graph (:func:`relink`); ``transfers.txt`` minimum times are kept for pairs that are still walkable.
"""

from __future__ import annotations

import numpy as np

from ..core.walk import walk_points
from ..network.street import haversine_m
from ..network.transit import Timetable

NEW_SERVICE = "scenario:every_day"


def _strs(values, like) -> np.ndarray:
    v = np.asarray([str(x) for x in values])
    width = max(like.dtype.itemsize // 4 if like.dtype.kind == "U" else 1, v.dtype.itemsize // 4 if v.size else 1, 1)
    return v.astype(f"<U{width}")


def _cat_str(a, b) -> np.ndarray:
    b = _strs(b, a)
    w = max(a.dtype.itemsize, b.dtype.itemsize) // 4
    return np.concatenate([a.astype(f"<U{max(w, 1)}"), b.astype(f"<U{max(w, 1)}")])


def _resolve(e, ids, table: np.ndarray, what: str) -> np.ndarray:
    """Internal indices of user ids; a merged feed's ``feed:`` prefix may be left out when unambiguous."""
    out = []
    tab = table.astype(str)
    for x in ids:
        hit = np.flatnonzero(tab == x)
        if not len(hit):
            hit = np.flatnonzero(np.char.endswith(tab, ":" + x))
            if len(hit) > 1:
                raise e.error(f"{what} id {x!r} is ambiguous ({tab[hit[:3]].tolist()}); give the full id")
        if not len(hit):
            raise e.error(f"{what} id {x!r} does not exist in the timetable (ids like {tab[:3].tolist()!r})")
        out.append(int(hit[0]))
    return np.asarray(out, np.int64)


class _Editable:
    """Copy-on-write view of a timetable's arrays with helpers to rebuild trips, patterns and transfers."""

    def __init__(self, tt: Timetable):
        self.a = {k: np.asarray(v) for k, v in tt.arrays.items()}
        self.meta = dict(tt.meta)
        self.shapes = tt.shapes  # keyed by trip id: edited trips keep theirs, new ones have none

    # ---------------------------------------------------------------- trips & patterns
    def trip_rows(self) -> np.ndarray:
        """Trip index of every stop-time row."""
        tto = self.a["trip_time_off"]
        return np.repeat(np.arange(len(tto) - 1), np.diff(tto))

    def row_stop(self) -> np.ndarray:
        """Stop index of every stop-time row (through the trip's pattern)."""
        a = self.a
        tto, pso = a["trip_time_off"], a["pattern_stop_off"]
        tr = self.trip_rows()
        pos = np.arange(len(a["st_arr_s"])) - tto[tr]
        return a["pattern_stops"][pso[a["trip_pattern"][tr]] + pos]

    def keep_trips(self, keep: np.ndarray) -> None:
        a = self.a
        tto = a["trip_time_off"]
        rows = np.repeat(keep, np.diff(tto))
        counts = np.diff(tto)[keep]
        for k in ("trip_id", "trip_route", "trip_service", "trip_pattern"):
            a[k] = a[k][keep]
        a["trip_time_off"] = np.r_[0, np.cumsum(counts)].astype(np.int64)
        a["st_arr_s"], a["st_dep_s"] = a["st_arr_s"][rows], a["st_dep_s"][rows]

    def keep_patterns(self, keep: np.ndarray) -> None:
        """Drop patterns (and their trips), renumbering the rest."""
        a = self.a
        self.keep_trips(keep[a["trip_pattern"]])
        pso = a["pattern_stop_off"]
        rows = np.repeat(keep, np.diff(pso))
        new_id = np.cumsum(keep) - 1
        a["trip_pattern"] = new_id[a["trip_pattern"]].astype(np.int32)
        a["pattern_route"] = a["pattern_route"][keep]
        a["pattern_stop_off"] = np.r_[0, np.cumsum(np.diff(pso)[keep])].astype(np.int32)
        for k in ("pattern_stops", "pattern_board", "pattern_alight"):
            a[k] = a[k][rows]

    def drop_unused_patterns(self) -> None:
        used = np.zeros(len(self.a["pattern_route"]), bool)
        used[self.a["trip_pattern"]] = True
        if not used.all():
            self.keep_patterns(used)

    def add_pattern(self, route: int, stops, board=None, alight=None) -> int:
        a = self.a
        n = len(stops)
        p = len(a["pattern_route"])
        a["pattern_route"] = np.r_[a["pattern_route"], route].astype(np.int32)
        a["pattern_stop_off"] = np.r_[a["pattern_stop_off"], a["pattern_stop_off"][-1] + n].astype(np.int32)
        a["pattern_stops"] = np.r_[a["pattern_stops"], np.asarray(stops, np.int32)].astype(np.int32)
        board = np.ones(n, np.uint8) if board is None else board
        a["pattern_board"] = np.r_[a["pattern_board"], board].astype(np.uint8)
        a["pattern_alight"] = np.r_[a["pattern_alight"],
                                    np.ones(n, np.uint8) if alight is None else alight].astype(np.uint8)
        return p

    def add_trips(self, ids, route: int, service: int, pattern: int, arr: np.ndarray, dep: np.ndarray) -> None:
        """Append trips (``arr``/``dep`` int[k, n_stops_of_pattern])."""
        a = self.a
        k, n = arr.shape
        a["trip_id"] = _cat_str(a["trip_id"], ids)
        a["trip_route"] = np.r_[a["trip_route"], np.full(k, route)].astype(np.int32)
        a["trip_service"] = np.r_[a["trip_service"], np.full(k, service)].astype(np.int32)
        a["trip_pattern"] = np.r_[a["trip_pattern"], np.full(k, pattern)].astype(np.int32)
        last = a["trip_time_off"][-1]
        a["trip_time_off"] = np.r_[a["trip_time_off"], last + n * np.arange(1, k + 1)].astype(np.int64)
        a["st_arr_s"] = np.r_[a["st_arr_s"], arr.reshape(-1)].astype(np.int32)
        a["st_dep_s"] = np.r_[a["st_dep_s"], dep.reshape(-1)].astype(np.int32)

    def every_day_service(self) -> int:
        a = self.a
        sid = a["service_id"].astype(str)
        hit = np.flatnonzero(sid == NEW_SERVICE)
        if len(hit):
            return int(hit[0])
        a["service_id"] = _cat_str(a["service_id"], [NEW_SERVICE])
        act = a["service_active"]
        a["service_active"] = np.vstack([act, np.ones((1, act.shape[1]), act.dtype)])
        return len(sid)

    # ---------------------------------------------------------------- stops & transfers
    def transfers_coo(self):
        a = self.a
        off = a["transfer_off"]
        fr = np.repeat(np.arange(len(off) - 1), np.diff(off))
        return fr, a["transfer_to"].astype(np.int64), a["transfer_walk_s"], a["transfer_min_s"]

    def set_transfers(self, fr, to, walk, mn) -> None:
        order = np.lexsort((to, fr))
        fr, to, walk, mn = fr[order], to[order], walk[order], mn[order]
        off = np.zeros(len(self.a["stop_id"]) + 1, np.int64)
        np.add.at(off, fr + 1, 1)
        a = self.a
        a["transfer_off"] = np.cumsum(off)
        a["transfer_to"] = to.astype(np.int32)
        a["transfer_walk_s"] = np.asarray(walk, np.int32)
        a["transfer_min_s"] = np.asarray(mn, np.int32)

    def walk_pairs(self, walk_graph, src: np.ndarray, tgt: np.ndarray):
        """Walking transfers src -> tgt and tgt -> src within the timetable's bound (fr, to, seconds)."""
        a = self.a
        max_s = int(round(float(self.meta.get("max_transfer_walk_min", 10.0)) * 60))
        an, ac, en, ec = (a["stop_access_node"], a["stop_access_cost_s"], a["stop_egress_node"],
                          a["stop_egress_cost_s"])
        f, h, w = walk_graph.first_out, walk_graph.head, walk_graph.travel_time_s
        r1, c1, v1 = walk_points(f, h, w, an[src], ac[src], en[tgt], ec[tgt], max_s)
        rf, rh, rw = walk_graph.csr(reverse=True)
        r2, c2, v2 = walk_points(rf, rh, rw, en[src], ec[src], an[tgt], ac[tgt], max_s)  # tgt -> src
        fr = np.r_[src[r1], tgt[c2]].astype(np.int64)
        to = np.r_[tgt[c1], src[r2]].astype(np.int64)
        v = np.r_[v1, v2].astype(np.int32)
        ok = fr != to
        fr, to, v = fr[ok], to[ok], v[ok]
        if len(fr):  # the same pair found from both sides: keep one
            key = fr * (len(a["stop_id"]) + 1) + to
            _, first = np.unique(key, return_index=True)
            fr, to, v = fr[first], to[first], v[first]
        return fr, to, v

    def build(self) -> Timetable:
        a = self.a
        meta = dict(self.meta, n_stops=len(a["stop_id"]))
        return Timetable({k: np.ascontiguousarray(v) for k, v in a.items()}, meta, shapes=self.shapes)


# ------------------------------------------------------------------------------------------------ edits
def _remove_route(T: _Editable, e) -> None:
    r = _resolve(e, e.params["route_ids"], T.a["route_id"], "route")
    T.keep_patterns(~np.isin(T.a["pattern_route"], r))


def _headway(T: _Editable, e) -> None:
    a = T.a
    p = e.params
    h = int(round(p["headway_min"] * 60))
    if h < 1:
        raise e.error(f"`headway_min` = {p['headway_min']} is below one second")
    for r in _resolve(e, p["route_ids"], a["route_id"], "route"):
        pats = np.flatnonzero(a["pattern_route"] == r)
        trips = np.flatnonzero(np.isin(a["trip_pattern"], pats))
        if not len(trips):
            raise e.error(f"route {a['route_id'][r]!r} has no trips to re-time")
        tto = a["trip_time_off"]
        first_dep = a["st_dep_s"][tto[trips]]
        drop = np.zeros(len(a["trip_id"]), bool)
        new = []
        for pat in pats:
            for svc in np.unique(a["trip_service"][trips]):
                sel = trips[(a["trip_pattern"][trips] == pat) & (a["trip_service"][trips] == svc)]
                if not len(sel):
                    continue
                fd = a["st_dep_s"][tto[sel]]
                start = p.get("start_s", int(fd.min()))
                end = p.get("end_s", int(fd.max()) + 1)
                inwin = sel[(fd >= start) & (fd < end)]
                if not len(inwin):
                    continue
                rep = inwin[np.argmin(a["st_dep_s"][tto[inwin]])]
                s0 = a["st_dep_s"][tto[rep]]
                off_arr = a["st_arr_s"][tto[rep]:tto[rep + 1]] - s0
                off_dep = a["st_dep_s"][tto[rep]:tto[rep + 1]] - s0
                deps = np.arange(start, end, h, dtype=np.int64)
                drop[inwin] = True
                ids = [f"{a['trip_id'][rep]}~h{k}" for k in range(len(deps))]
                new.append((ids, int(r), int(svc), int(pat), deps[:, None] + off_arr[None, :],
                            deps[:, None] + off_dep[None, :]))
        del first_dep
        T.keep_trips(~drop)
        for args in new:
            T.add_trips(*args)


def _remove_stops(T: _Editable, e) -> None:
    a = T.a
    s = _resolve(e, e.params["stop_ids"], a["stop_id"], "stop")
    removed = np.zeros(len(a["stop_id"]), bool)
    removed[s] = True
    row_keep = ~removed[T.row_stop()]
    tr = T.trip_rows()
    counts = np.bincount(tr[row_keep], minlength=len(a["trip_id"]))
    a["st_arr_s"], a["st_dep_s"] = a["st_arr_s"][row_keep], a["st_dep_s"][row_keep]
    a["trip_time_off"] = np.r_[0, np.cumsum(counts)].astype(np.int64)
    pk = ~removed[a["pattern_stops"]]
    pat_of_row = np.repeat(np.arange(len(a["pattern_route"])), np.diff(a["pattern_stop_off"]))
    pcounts = np.bincount(pat_of_row[pk], minlength=len(a["pattern_route"]))
    for k in ("pattern_stops", "pattern_board", "pattern_alight"):
        a[k] = a[k][pk]
    a["pattern_stop_off"] = np.r_[0, np.cumsum(pcounts)].astype(np.int32)
    T.keep_patterns(pcounts >= 2)
    # unlink the stops and drop their transfers
    for k in ("stop_access_node", "stop_access_cost_s", "stop_egress_node", "stop_egress_cost_s"):
        a[k] = a[k].copy()
        a[k][s] = -1
    a["stop_used"] = a["stop_used"].copy()
    a["stop_used"][s] = False
    fr, to, w, mn = T.transfers_coo()
    ok = ~removed[fr] & ~removed[to]
    T.set_transfers(fr[ok], to[ok], w[ok], mn[ok])


def _add_route(T: _Editable, e, walk_graph) -> None:
    a = T.a
    p = e.params
    if (a["route_id"].astype(str) == p["route_id"]).any():
        raise e.error(f"route id {p['route_id']!r} already exists; give the new route a unique `route_id`")
    link_new = np.zeros(0, np.int64)
    if "stops" in p:
        lon = np.array([q[0] for q in p["stops"]])
        lat = np.array([q[1] for q in p["stops"]])
        snap = walk_graph.snap(lon, lat, max_snap_m=p["max_snap_m"], warn=False)
        if not snap.snapped.all():
            i = int(np.flatnonzero(~snap.snapped)[0])
            raise e.error(f"stop {i} at {list(p['stops'][i])} is off the walk network (farther than "
                          f"max_snap_m = {p['max_snap_m']:g} m); move it or raise max_snap_m")
        n0 = len(a["stop_id"])
        k = len(lon)
        stops = np.arange(n0, n0 + k)
        a["stop_id"] = _cat_str(a["stop_id"], [f"{p['route_id']}:{i}" for i in range(k)])
        a["stop_name"] = _cat_str(a["stop_name"], [f"{e.name} stop {i}" for i in range(k)])
        a["stop_lon"], a["stop_lat"] = np.r_[a["stop_lon"], lon], np.r_[a["stop_lat"], lat]
        a["stop_parent"] = np.r_[a["stop_parent"], np.full(k, -1)].astype(np.int32)
        a["stop_used"] = np.r_[a["stop_used"], np.ones(k, bool)]
        for key, val in (("stop_access_node", snap.access_node), ("stop_access_cost_s", snap.access_cost_s),
                         ("stop_egress_node", snap.egress_node), ("stop_egress_cost_s", snap.egress_cost_s)):
            a[key] = np.vstack([a[key], val]).astype(np.int32)
        a["transfer_off"] = np.r_[a["transfer_off"], np.full(k, a["transfer_off"][-1])].astype(np.int64)
        link_new = stops
    else:
        stops = _resolve(e, p["stop_ids"], a["stop_id"], "stop")
        unused = stops[~a["stop_used"][stops]]
        if len(unused):
            a["stop_used"] = a["stop_used"].copy()
            a["stop_used"][unused] = True
            link_new = np.unique(unused)
        lon, lat = a["stop_lon"][stops], a["stop_lat"][stops]
        if not np.all(np.isfinite(lon) & np.isfinite(lat)):
            raise e.error("some of `stop_ids` have no coordinates")
    if len(np.unique(stops)) < 2:
        raise e.error("the route needs at least two distinct stops")
    r = len(a["route_id"])
    a["route_id"] = _cat_str(a["route_id"], [p["route_id"]])
    a["route_short_name"] = _cat_str(a["route_short_name"], [p["route_id"]])
    a["route_long_name"] = _cat_str(a["route_long_name"], [e.name])
    a["route_type"] = np.r_[a["route_type"], p["route_type"]].astype(a["route_type"].dtype)
    svc = T.every_day_service()
    if "departures_s" in p:
        deps = np.asarray(p["departures_s"], np.int64)
    else:
        h = int(round(p["headway_min"] * 60))
        if h < 1:
            raise e.error(f"`headway_min` = {p['headway_min']} is below one second")
        deps = np.arange(p["start_s"], p["end_s"], h, dtype=np.int64)
    speed = p["speed_kmh"] / 3.6
    dwell = int(p["dwell_s"])
    dirs = [stops, stops[::-1]] if p["both_directions"] else [stops]
    for d, seq in enumerate(dirs):
        slon, slat = a["stop_lon"][seq], a["stop_lat"][seq]
        run = np.maximum(1, np.rint(haversine_m(slon[:-1], slat[:-1], slon[1:], slat[1:]) / speed)).astype(np.int64)
        n = len(seq)
        arr_off = np.r_[0, np.cumsum(run) + dwell * np.arange(n - 1)]
        dep_off = arr_off + np.r_[0, np.full(n - 2, dwell), 0]
        pat = T.add_pattern(r, seq)
        ids = [f"{p['route_id']}:{d}:{k}" for k in range(len(deps))]
        T.add_trips(ids, r, svc, pat, deps[:, None] + arr_off[None, :], deps[:, None] + dep_off[None, :])
    if len(link_new):
        others = np.flatnonzero(a["stop_used"])
        fr, to, v = T.walk_pairs(walk_graph, link_new, others)
        f0, t0, w0, m0 = T.transfers_coo()
        T.set_transfers(np.r_[f0, fr], np.r_[t0, to], np.r_[w0, v], np.r_[m0, np.full(len(fr), -1, np.int32)])


def apply_transit_edits(tt: Timetable, edits, walk_graph, *, relinked: bool = False) -> Timetable:
    """A new timetable with the ``transit.*`` edits applied in order (``tt`` is untouched)."""
    T = _Editable(relink(tt, walk_graph) if relinked else tt)
    for e in edits:
        if e.kind == "remove_stops":
            _remove_stops(T, e)
        elif e.kind == "remove_route":
            _remove_route(T, e)
        elif e.kind == "headway":
            _headway(T, e)
        else:
            _add_route(T, e, walk_graph)
    T.drop_unused_patterns()
    return T.build()


def relink(tt: Timetable, walk_graph) -> Timetable:
    """The timetable re-linked to a changed walk graph: served stops re-snapped, walking transfers recomputed."""
    T = _Editable(tt)
    a = T.a
    used = np.flatnonzero(a["stop_used"])
    snap = walk_graph.snap(a["stop_lon"][used], a["stop_lat"][used], max_snap_m=float(T.meta.get("max_snap_m", 500)),
                           warn=False)
    for key, val in (("stop_access_node", snap.access_node), ("stop_access_cost_s", snap.access_cost_s),
                     ("stop_egress_node", snap.egress_node), ("stop_egress_cost_s", snap.egress_cost_s)):
        a[key] = a[key].copy()
        a[key][used] = val
    max_s = int(round(float(T.meta.get("max_transfer_walk_min", 10.0)) * 60))
    f, h, w = walk_graph.first_out, walk_graph.head, walk_graph.travel_time_s
    r, c, v = walk_points(f, h, w, a["stop_access_node"][used], a["stop_access_cost_s"][used],
                          a["stop_egress_node"][used], a["stop_egress_cost_s"][used], max_s)
    fr, to = used[r].astype(np.int64), used[c].astype(np.int64)
    ok = fr != to
    fr, to, v = fr[ok], to[ok], v[ok]
    f0, t0, w0, m0 = T.transfers_coo()
    n = len(a["stop_id"]) + 1
    keep_min = m0 >= 0  # transfers.txt minimum times: kept where still walkable (or given without a walk)
    old_key = f0 * n + t0
    new_key = fr * n + to
    mn = np.full(len(fr), -1, np.int32)
    idx = np.searchsorted(np.sort(old_key), new_key)
    srt = np.argsort(old_key)
    hit = (idx < len(old_key)) & (np.sort(old_key)[np.minimum(idx, len(old_key) - 1)] == new_key)
    mn[hit] = m0[srt[idx[hit]]]
    extra = keep_min & (w0 < 0) & ~np.isin(old_key, new_key)
    T.set_transfers(np.r_[fr, f0[extra]], np.r_[to, t0[extra]], np.r_[v, w0[extra]], np.r_[mn, m0[extra]])
    return T.build()
