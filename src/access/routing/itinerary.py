"""Itineraries: the legs of the earliest-arrival walk + transit journey between two points.

:func:`route` runs one RAPTOR departure with parent pointers (the same kernel as the matrices, so the
itinerary's duration is the matrix's travel time at that minute) and walks the pointers back from the
destination: access walk, rides (route, trip, boarding and alighting stops and times), walking transfers,
egress walk; or a single direct walk when walking is at least as fast.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._errors import AccessWarning, NetworkError, ValidationError
from ..core import raptor as _rp
from ..options import (
    DEFAULT_MAX_TIME_MIN,
    StreetOptions,
    TransitOptions,
    check_max_time_min,
)

__all__ = ["ITINERARY_COLUMNS", "itineraries", "route"]

LEG_COLUMNS = ["leg", "kind", "mode", "from_stop_id", "from_stop_name", "to_stop_id", "to_stop_name", "route_id",
               "route_short_name", "trip_id", "departure", "arrival", "duration_s", "wait_s", "n_stops"]


def _lonlat(p, name):
    if hasattr(p, "x") and hasattr(p, "y"):
        return float(p.x), float(p.y)
    try:
        lon, lat = p
        return float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValidationError(f"`{name}` must be (lon, lat) in EPSG:4326 or a shapely Point, got {p!r}") from None


def route(network: Any, origin: Any, destination: Any, departure: _dt.datetime | str | None = None, *,
          max_time_min: float = DEFAULT_MAX_TIME_MIN, street: StreetOptions | None = None,
          transit: TransitOptions | None = None, max_walk_min: float | None = None, max_rides: int | None = None,
          walk_speed_kmh: float | None = None, max_snap_m: float | None = None) -> pd.DataFrame:
    """Legs of the earliest-arrival walk + transit journey leaving ``origin`` at ``departure``.

    Parameters
    ----------
    network : TransportNetwork
        With a walk graph and a transit timetable.
    origin, destination : (lon, lat) or shapely Point
        EPSG:4326 coordinates.
    departure : datetime or str
        Departure time (naive = local time of the feeds); or ``transit.departure``.
    max_time_min : float
        As in :func:`access.travel_time_matrix`.
    street, transit : StreetOptions, TransitOptions, optional
        The query's settings (``transit.max_walk_min`` limits access, egress and direct walks; the window and
        percentiles are not used: one departure).
    max_walk_min, max_rides, walk_speed_kmh, max_snap_m : optional
        Shortcuts for the fields of the options of the same names.

    Returns
    -------
    DataFrame
        One row per leg, columns ``leg, kind ("direct"|"access"|"ride"|"transfer"|"egress"), mode ("walk"|
        "transit"), from_stop_id, from_stop_name, to_stop_id, to_stop_name, route_id, route_short_name, trip_id,
        departure, arrival, duration_s, wait_s, n_stops``; ``wait_s`` is the wait at the stop before a ride.
        Empty (with a warning) when the destination cannot be reached within ``max_time_min``.

    Examples
    --------
    >>> import access  # doctest: +SKIP
    >>> legs = access.route(net, (-51.22, -30.03), (-51.18, -30.06), "2019-05-13T14:00")  # doctest: +SKIP
    >>> legs[["kind", "route_short_name", "departure", "arrival"]]  # doctest: +SKIP
    """
    to = TransitOptions.resolve(transit, departure=departure, max_walk_min=max_walk_min, max_rides=max_rides)
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, max_snap_m=max_snap_m)
    departure = to.require_departure()
    ctx = _PairContext(network, [_lonlat(origin, "origin")], [_lonlat(destination, "destination")], to, so,
                       max_time_min, strict=True)
    legs = ctx.legs(0, 0, ctx.t0)
    if legs is None:
        warnings.warn(f"the destination cannot be reached within {ctx.max_time_min:g} min from the origin leaving "
                      f"at {ctx.clock(ctx.t0)}", AccessWarning, stacklevel=2)
        return pd.DataFrame(columns=LEG_COLUMNS)
    df = pd.DataFrame([{k: v for k, v in leg.items() if not k.startswith("_")} for leg in legs])
    df.insert(0, "leg", np.arange(len(df)))
    return df[LEG_COLUMNS]


class _PairContext:
    """The walks of itinerary queries between some origins and destinations (one snap, one day), shared by
    :func:`route` and :func:`itineraries`; :meth:`legs` rebuilds the journey of one pair at one departure."""

    def __init__(self, network: Any, origins: list, destinations: list, to: TransitOptions, so: StreetOptions,
                 max_time_min: float, *, strict: bool = False) -> None:
        from ..core.dijkstra import transpose_csr
        from ..core.walk import walk_points
        from .street import graph_at_speed, point_pair_times
        from .transit import day_for_options, local_departure, transfers_for_options

        tt = network.timetable
        if tt is None:
            raise NetworkError("the network has no transit timetable; build it with GTFS feeds (`gtfs=[...]`)")
        self.tt, self.to, self.so = tt, to, so
        self.max_time_min = check_max_time_min(max_time_min)
        walk = network.street("walk")
        wspeed = so.walk_speed_kmh
        f = float(walk.meta.get("speed_kmh") or 3.6) / float(wspeed)
        g = graph_at_speed(walk, wspeed)
        self.g = g
        w = np.asarray(g.travel_time_s, np.int32)
        olon, olat = np.array([p[0] for p in origins], float), np.array([p[1] for p in origins], float)
        dlon, dlat = np.array([p[0] for p in destinations], float), np.array([p[1] for p in destinations], float)
        self.o_xy, self.d_xy = np.column_stack([olon, olat]), np.column_stack([dlon, dlat])
        osnap = g.snap(olon, olat, max_snap_m=so.max_snap_m, warn=False)
        dsnap = g.snap(dlon, dlat, max_snap_m=so.max_snap_m, warn=False)
        self.osnap, self.dsnap = osnap, dsnap
        if strict:
            for snap, name in ((osnap, "origin"), (dsnap, "destination")):
                if not snap.snapped[0]:
                    raise ValidationError(f"`{name}` is farther than max_snap_m={so.max_snap_m:g} m from the walk "
                                          "network; check its coordinates (lon, lat order) or raise max_snap_m")
        self.max_time_s = round(self.max_time_min * 60)
        max_walk_s = to.max_walk_s(self.max_time_s)
        self.max_walk_s = max_walk_s
        date, t0 = local_departure(tt, to.require_departure())
        self.date, self.t0 = date, t0
        self.day = day_for_options(tt, date, to)
        self.midnight = _dt.datetime.combine(date, _dt.time())

        def scaled(a):
            a = np.asarray(a)
            return np.where(a >= 0, np.rint(a * f), -1).astype(np.int32) if f != 1.0 else a.astype(np.int32)

        self.s_an, self.s_ac = np.asarray(tt.arrays["stop_access_node"]), scaled(tt.arrays["stop_access_cost_s"])
        self.s_en, self.s_ec = np.asarray(tt.arrays["stop_egress_node"]), scaled(tt.arrays["stop_egress_cost_s"])
        n_s = tt.n_stops
        n_o, n_d = len(olon), len(dlon)
        # access walks (to stops and straight to the destinations), as the matrix
        r, c, v = walk_points(g.first_out, g.head, w, osnap.access_node, osnap.access_cost_s,
                              np.concatenate([self.s_en, dsnap.egress_node]),
                              np.concatenate([self.s_ec, dsnap.egress_cost_s]), max_walk_s)
        acc = c < n_s
        self.acc = [(c[acc & (r == i)].astype(np.int32), v[acc & (r == i)].astype(np.int32)) for i in range(n_o)]
        direct = np.full((n_o, n_d), -1, np.int64)
        direct[r[~acc], c[~acc] - n_s] = v[~acc]
        # the matrix's point-pair rules: the same street segment, the same place
        pi, pj, ps = point_pair_times(g, osnap, dsnap, max_walk_s)
        for i_, j_, s_ in zip(pi, pj, ps):
            if direct[i_, j_] < 0 or s_ < direct[i_, j_]:
                direct[i_, j_] = s_
        same = (np.abs(olon[:, None] - dlon[None, :]) == 0) & (np.abs(olat[:, None] - dlat[None, :]) == 0)
        same &= osnap.snapped[:, None] & dsnap.snapped[None, :]
        direct[same] = 0
        self.direct = direct
        # egress walks (stops -> destination)
        rf, rh, rw, _ = transpose_csr(g.first_out, g.head, w)
        max_egress_s = min(max_walk_s, round(to.egress_walk_limit_m / (wspeed / 3.6)))
        er, ec, ev = walk_points(rf, rh, rw, dsnap.egress_node, dsnap.egress_cost_s, self.s_an, self.s_ac,
                                 max_egress_s)
        self.egress = np.full((n_d, n_s), -1, np.int64)
        self.egress[er, ec] = ev
        self.x_off, self.x_to, self.x_s = transfers_for_options(tt, wspeed, to)
        self._runs: dict = {}

    def clock(self, s: int) -> _dt.datetime:
        return self.midnight + _dt.timedelta(seconds=int(s))

    def legs(self, i: int, j: int, t0: int) -> list[dict] | None:
        """The legs (dicts) of the earliest-arrival journey from origin ``i`` to destination ``j`` leaving at
        ``t0`` (seconds since the service day's midnight), or None when not reachable in time."""
        tt, day, to = self.tt, self.day, self.to
        K = int(to.max_rides)
        key = (i, int(t0))
        if key not in self._runs:
            acc_stop, acc_s = self.acc[i]
            self._runs[key] = _rp.single_departure_with_parents(  # type: ignore[call-arg]  # numba Dispatcher stub
                np.int32(t0), np.int32(self.max_time_s), acc_stop, acc_s, K, to.kernel_slack_s, *day.kernel_args(),
                self.x_off, self.x_to, self.x_s)
        tau, tau_ride, p_kind, p_from, r_kind, r_pat, r_trip, r_bpos, r_apos = self._runs[key]
        max_time_s = self.max_time_s
        direct = int(self.direct[i, j]) if self.direct[i, j] >= 0 else None
        egress = self.egress[j]
        best_arr = t0 + direct if direct is not None else None
        best = None
        has_eg = np.flatnonzero(egress >= 0)
        for k in range(1, K + 1):
            ar = tau_ride[k, has_eg].astype(np.int64)
            ok = ar < _rp.INF
            if not ok.any():
                continue
            tot = ar[ok] + egress[has_eg[ok]]
            jj = int(np.argmin(tot))
            if tot[jj] - t0 <= max_time_s and (best_arr is None or tot[jj] < best_arr):
                best_arr = int(tot[jj])
                best = (k, int(has_eg[ok][jj]))
        if best_arr is None or best_arr - t0 > max_time_s:
            return None

        names = np.asarray(tt.arrays["stop_name"])
        ids = np.asarray(tt.arrays["stop_id"])
        routes_id = np.asarray(tt.arrays["route_id"])
        routes_sn = np.asarray(tt.arrays["route_short_name"])
        trip_ids = np.asarray(tt.arrays["trip_id"])
        trip_route = np.asarray(tt.arrays["trip_route"])

        def leg(kind, a, b, dep, arr, **kw):
            row = {"kind": kind, "mode": "transit" if kind == "ride" else "walk",
                   "from_stop_id": None if a is None else str(ids[a]),
                   "from_stop_name": None if a is None else str(names[a]),
                   "to_stop_id": None if b is None else str(ids[b]),
                   "to_stop_name": None if b is None else str(names[b]),
                   "route_id": None, "route_short_name": None, "trip_id": None, "departure": self.clock(dep),
                   "arrival": self.clock(arr),
                   "duration_s": int(arr - dep), "wait_s": 0, "n_stops": None, "_a": a, "_b": b}
            row.update(kw)
            return row

        if best is None:
            assert direct is not None  # (best_arr came from the direct walk)
            legs = [leg("direct", None, None, t0, t0 + direct)]
        else:
            k, s = best
            legs = [leg("egress", s, None, int(tau_ride[k, s]), best_arr)]
            kind = "ride_label"
            while True:
                if kind == "ride_label":
                    while r_kind[k, s] == _rp.KIND_LOWER:
                        k -= 1
                    if r_kind[k, s] != _rp.KIND_RIDE:
                        raise NetworkError("internal error: broken ride pointer while rebuilding the journey")
                    p = int(r_pat[k, s])
                    tr = int(r_trip[k, s])
                    bpos, apos = int(r_bpos[k, s]), int(r_apos[k, s])
                    int(day.pat_ntrips[p])
                    off = int(day.pat_time_off[p])
                    base_ = int(day.pat_stop_off[p])
                    bs = int(day.pat_stops[base_ + bpos])
                    ns_ = int(day.pat_stop_off[p + 1]) - base_
                    dep = int(day.t_dep[off + tr * ns_ + bpos])
                    arr = int(day.t_arr[off + tr * ns_ + apos])
                    gtrip = int(day.pat_trip[int(day.pat_trip_off[p]) + tr])
                    ro = int(trip_route[gtrip])
                    legs.append(leg("ride", bs, s, dep, arr, route_id=str(routes_id[ro]),
                                    route_short_name=str(routes_sn[ro]), trip_id=str(trip_ids[gtrip]),
                                    wait_s=int(dep - tau[k - 1, bs]), n_stops=apos - bpos, _pat=p,
                                    _pos=(base_ + bpos, base_ + apos)))
                    k -= 1
                    s = bs
                    kind = "label"
                else:
                    while p_kind[k, s] == _rp.KIND_LOWER:
                        k -= 1
                    pk = p_kind[k, s]
                    if pk == _rp.KIND_ACCESS:
                        legs.append(leg("access", None, s, t0, int(tau[0, s])))
                        break
                    if pk == _rp.KIND_RIDE:
                        kind = "ride_label"
                    elif pk == _rp.KIND_TRANSFER:
                        s0 = int(p_from[k, s])
                        legs.append(leg("transfer", s0, s, int(tau_ride[k, s0]), int(tau[k, s])))
                        s = s0
                        kind = "ride_label"
                    else:
                        raise NetworkError("internal error: broken pointer while rebuilding the journey")
            legs.reverse()
        return legs


# ------------------------------------------------------------------------------------------------ itineraries
ITINERARY_COLUMNS = ["from_id", "to_id", "option", "departure_time", "total_duration_s", "leg", "kind", "mode",
                     "from_stop_id", "from_stop_name", "to_stop_id", "to_stop_name", "route_id", "route_short_name",
                     "route_long_name", "trip_id", "departure", "arrival", "duration_s", "wait_s", "walk_s",
                     "ride_s", "distance_m", "n_stops", "geometry"]


def _ride_lonlat(tt: Any, day: Any, lg: dict, stop_ll: np.ndarray) -> np.ndarray:
    """The geometry of a ride leg: along the trip's ``shapes.txt`` shape between the boarding and alighting stops
    (:mod:`access.network.shapes`), else stop to stop along the pattern."""
    a, b = lg["_pos"]
    p = lg["_pat"]
    if tt.shapes is not None:
        base = int(day.pat_stop_off[p])
        pstops = day.pat_stops[base:int(day.pat_stop_off[p + 1])]
        xy = tt.shapes.ride_lonlat(lg["trip_id"], pstops, a - base, b - base, stop_ll)
        if xy is not None:
            return xy
    return stop_ll[day.pat_stops[a:b + 1]]


def _haversine_m(lon1, lat1, lon2, lat2):
    r = 6_371_008.8
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(np.minimum(1.0, a)))


def _line_length_m(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    return float(np.sum(_haversine_m(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])))


class _Paths:
    """Shortest walking paths on a street graph (scipy's Dijkstra with predecessors), drawn along the edges'
    geometry: the geometry of the walking legs of itineraries."""

    def __init__(self, g) -> None:
        import scipy.sparse as sp

        self.g = g
        n = g.n_nodes
        rows = np.repeat(np.arange(n), np.diff(g.first_out))
        w = np.asarray(g.travel_time_s, np.float64)
        # parallel edges: keep the fastest of each (u, v); scipy sums duplicates, so reduce first
        key = rows.astype(np.int64) * n + g.head
        order = np.lexsort((w, key))
        first = np.r_[True, key[order][1:] != key[order][:-1]]
        keep = order[first]
        self.edge_of = dict(zip(key[keep].tolist(), keep.tolist()))
        self.m = sp.csr_matrix((w[keep] + 1e-9, (rows[keep], g.head[keep])), shape=(n, n))
        self._cache: dict = {}

    def _from(self, node: int, limit: float):
        import scipy.sparse.csgraph as csg

        k = (int(node), float(limit))
        if k not in self._cache:
            self._cache[k] = csg.dijkstra(self.m, indices=int(node), limit=limit, return_predecessors=True)
        return self._cache[k]

    def path(self, seeds_n, seeds_c, targets_n, targets_c, start_xy, end_xy, limit_s: float) -> np.ndarray:
        """Lon/lat of the best walk from seeds (node, cost) to targets (node, cost), start and end points added."""
        best = (np.inf, -1, -1)
        for sn, sc in zip(seeds_n, seeds_c):
            if sn < 0 or sc < 0:
                continue
            dist, _ = self._from(sn, limit_s + 1)
            for tn, tc in zip(targets_n, targets_c):
                if tn < 0 or tc < 0 or not np.isfinite(dist[tn]):
                    continue
                tot = sc + dist[tn] + tc
                if tot < best[0]:
                    best = (tot, int(sn), int(tn))
        pts = [np.asarray(start_xy, float)[None, :]]
        if best[1] >= 0:
            _, pred = self._from(best[1], limit_s + 1)
            nodes = [best[2]]
            while nodes[-1] != best[1] and pred[nodes[-1]] >= 0:
                nodes.append(int(pred[nodes[-1]]))
            nodes.reverse()
            g = self.g
            n = g.n_nodes
            if len(nodes) == 1:
                pts.append(np.array([[g.node_lon[nodes[0]], g.node_lat[nodes[0]]]]))
            for u, v in itertools.pairwise(nodes):
                e = self.edge_of[u * n + v]
                pts.append(np.asarray(g.geom_lonlat[g.geom_offsets[e]:g.geom_offsets[e + 1]], float))
        pts.append(np.asarray(end_xy, float)[None, :])
        xy = np.concatenate(pts)
        keep = np.r_[True, np.any(np.diff(xy, axis=0) != 0, axis=1)]
        xy = xy[keep]
        return xy if len(xy) >= 2 else np.vstack([xy, xy])


def itineraries(network: Any, origins: Any, destinations: Any, departure: _dt.datetime | str | None = None, *,
                window_min: int | None = None, max_time_min: float = DEFAULT_MAX_TIME_MIN,
                street: StreetOptions | None = None, transit: TransitOptions | None = None,
                max_walk_min: float | None = None, max_rides: int | None = None,
                walk_speed_kmh: float | None = None, max_snap_m: float | None = None, all_to_all: bool = False,
                progress: bool = True, arrive_by: _dt.datetime | str | None = None) -> Any:
    """Itineraries with geometry between points (r5r's ``detailed_itineraries``), walk + transit.

    For every departure minute of the window, the earliest-arrival journey (the same RAPTOR labels, walks and
    point-pair rules as :func:`access.travel_time_matrix`, so a journey's ``total_duration_s`` is the matrix's
    per-minute time at its ``departure_time``); the distinct journeys over the window (by their sequence of legs,
    trips and stops) are the ``option`` s, each reported at the first minute it is the fastest.

    Parameters
    ----------
    network : TransportNetwork
        With a walk graph and a timetable.
    origins, destinations : GeoDataFrame, DataFrame with lon/lat, or path
        Points with an ``id`` column; paired row by row (same length), or every origin with every destination
        with ``all_to_all=True``.
    departure, window_min : datetime or str, int
        First departure minute (naive = local time of the feeds) and number of minutes (default 1, or the
        ``transit`` options').
    max_time_min, street, transit, max_walk_min, max_rides, walk_speed_kmh, max_snap_m :
        As :func:`access.travel_time_matrix`.
    progress : bool
        A progress bar over the pairs.
    arrive_by : datetime or str, optional
        Instead of ``departure``/``window_min``: for each pair, the journey leaving at the latest departure minute
        that arrives by this time (the ``departure_time`` of ``travel_time_matrix(..., arrive_by=...)``), one
        option per pair.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        One row per leg: ``from_id, to_id, option, departure_time, total_duration_s, leg, kind
        ("direct"|"access"|"ride"|"transfer"|"egress"), mode ("walk"|"transit"), from/to stop id and name,
        route_id, route_short_name, route_long_name, trip_id, departure, arrival, duration_s, wait_s (before a
        ride), walk_s, ride_s (in vehicle), distance_m (along the geometry), n_stops, geometry`` (walks along the
        streets; rides along the trip's ``shapes.txt`` shape between the boarding and alighting stops, or stop to
        stop when the trip has no shape). Unreachable pairs have no rows.

    Examples
    --------
    >>> it = itineraries(net, o, d, "2019-05-13T14:00", window_min=30)  # doctest: +SKIP
    >>> it.to_file("itineraries.gpkg")  # doctest: +SKIP
    """
    import geopandas as gpd
    from shapely import linestrings
    from tqdm.auto import tqdm

    from ..io.places import Points, read_points

    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = destinations if isinstance(destinations, Points) else read_points(destinations, name="destinations")
    if not all_to_all and len(o) != len(d):
        raise ValidationError(f"`origins` and `destinations` must have the same length to be paired row by row, got "
                              f"{len(o)} and {len(d)}; fix: pass all_to_all=True for every pair")
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, max_snap_m=max_snap_m)
    dep_minutes = None  # arrive-by: the departure minute (after the first) of each (origin, destination)
    if arrive_by is not None:
        from .._validate import fail, parse_departure
        from ..matrix import travel_time_matrix

        if departure is not None or window_min is not None:
            raise fail("arrive_by", "used without departure/window_min", arrive_by,
                       "give either departure=... (leave at) or arrive_by=... (arrive by), not both")
        t_arr = parse_departure(arrive_by, "arrive_by").replace(second=0, microsecond=0)
        abm = travel_time_matrix(network, o, d, mode="transit", arrive_by=t_arr, max_time_min=max_time_min,
                               street=so, transit=transit, max_walk_min=max_walk_min, max_rides=max_rides,
                               progress=False)
        n_win = round(check_max_time_min(max_time_min) * 60) // 60
        first = t_arr - _dt.timedelta(minutes=n_win)
        off = (np.asarray(abm.departure_time) - np.datetime64(first.replace(tzinfo=None), "s")).astype(
            "timedelta64[m]").astype(np.int64)
        dep_minutes = np.where(np.isnat(np.asarray(abm.departure_time)), -1, off)
        to = TransitOptions.resolve(transit, max_walk_min=max_walk_min, max_rides=max_rides).replace(
            departure=first, window_min=1)
    else:
        to = TransitOptions.resolve(transit, departure=departure, window_min=window_min, max_walk_min=max_walk_min,
                                    max_rides=max_rides)
        if window_min is None and transit is None:
            to = to.replace(window_min=1)
    ctx = _PairContext(network, list(zip(o.lon, o.lat)), list(zip(d.lon, d.lat)), to, so, max_time_min)
    paths = _Paths(ctx.g)
    tt, day = ctx.tt, ctx.day
    slon, slat = np.asarray(tt.arrays["stop_lon"], float), np.asarray(tt.arrays["stop_lat"], float)
    stop_ll = np.column_stack([slon, slat])
    rl = np.asarray(tt.arrays["route_long_name"])
    rid_index = {str(r): i for i, r in enumerate(np.asarray(tt.arrays["route_id"]))}
    pairs = ([(i, j) for i in range(len(o)) for j in range(len(d))] if all_to_all
             else [(i, i) for i in range(len(o))])
    rows = []
    for i, j in tqdm(pairs, desc="itineraries", unit="pair", disable=not progress):
        seen: dict = {}
        minutes_ = range(to.window_min) if dep_minutes is None else \
            ([int(dep_minutes[i, j])] if dep_minutes[i, j] >= 0 else [])
        for m in minutes_:
            t0 = ctx.t0 + 60 * m
            legs = ctx.legs(i, j, t0)
            if legs is None:
                continue
            sig = tuple((lg["kind"], lg["trip_id"], lg["from_stop_id"], lg["to_stop_id"]) for lg in legs
                        if lg["kind"] != "direct") or ("direct",)
            if sig in seen:
                continue
            seen[sig] = len(seen)
            total = int((legs[-1]["arrival"] - legs[0]["departure"]).total_seconds())
            for n_leg, lg in enumerate(legs):
                kind = lg["kind"]
                if kind == "ride":
                    xy = _ride_lonlat(tt, day, lg, stop_ll)
                else:
                    a_, b_ = lg["_a"], lg["_b"]
                    start = ctx.o_xy[i] if a_ is None else (slon[a_], slat[a_])
                    end = ctx.d_xy[j] if b_ is None else (slon[b_], slat[b_])
                    sn, sc = ((ctx.osnap.access_node[i], ctx.osnap.access_cost_s[i]) if a_ is None
                              else (ctx.s_an[a_], ctx.s_ac[a_]))
                    tn, tc = ((ctx.dsnap.egress_node[j], ctx.dsnap.egress_cost_s[j]) if b_ is None
                              else (ctx.s_en[b_], ctx.s_ec[b_]))
                    xy = paths.path(sn, sc, tn, tc, start, end, lg["duration_s"])
                row = {k: v for k, v in lg.items() if not k.startswith("_")}
                ri = rid_index.get(row["route_id"]) if row["route_id"] is not None else None
                row.update(from_id=o.ids[i], to_id=d.ids[j], option=seen[sig], departure_time=ctx.clock(t0),
                           total_duration_s=total, leg=n_leg,
                           route_long_name=None if ri is None else str(rl[ri]),
                           walk_s=0 if kind == "ride" else int(lg["duration_s"]),
                           ride_s=int(lg["duration_s"]) if kind == "ride" else 0,
                           distance_m=round(_line_length_m(xy), 1), geometry=linestrings(xy))
                rows.append(row)
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in ITINERARY_COLUMNS[:-1]}, geometry=[], crs="EPSG:4326")
    df = pd.DataFrame(rows)
    return gpd.GeoDataFrame(df[ITINERARY_COLUMNS], geometry="geometry", crs="EPSG:4326")
