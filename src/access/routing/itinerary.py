"""Itineraries: the legs of the earliest-arrival walk + transit journey between two points.

:func:`route` runs one RAPTOR departure with parent pointers (the same kernel as the matrices, so the
itinerary's duration is the matrix's travel time at that minute) and walks the pointers back from the
destination: access walk, rides (route, trip, boarding and alighting stops and times), walking transfers,
egress walk; or a single direct walk when walking is at least as fast.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._errors import AccessWarning, NetworkError, ValidationError
from ..core import raptor as _rp
from ..options import DEFAULT_MAX_TIME_MIN, StreetOptions, TransitOptions, check_max_time_min

__all__ = ["route"]

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
    from ..core.dijkstra import transpose_csr
    from ..core.walk import walk_points
    from .transit import local_departure

    tt = network.timetable
    if tt is None:
        raise NetworkError("the network has no transit timetable; build it with GTFS feeds (`gtfs=[...]`)")
    to = TransitOptions.resolve(transit, departure=departure, max_walk_min=max_walk_min, max_rides=max_rides)
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, max_snap_m=max_snap_m)
    departure = to.require_departure()
    walk_speed_kmh, max_snap_m, max_rides = so.walk_speed_kmh, so.max_snap_m, to.max_rides
    max_time_min = check_max_time_min(max_time_min)
    walk = network.street("walk")
    base = float(walk.meta.get("speed_kmh") or 3.6)
    f = base / float(walk_speed_kmh)
    if f == 1.0:
        g = walk
    else:
        w_ = np.maximum(1, np.rint(np.asarray(walk.length_m, np.float64) / (walk_speed_kmh / 3.6))).astype(np.int32)
        g = walk.with_travel_times(w_, speed_kmh=float(walk_speed_kmh), connector_speed_kmh=float(walk_speed_kmh))
    w = np.asarray(g.travel_time_s, np.int32)
    olon, olat = _lonlat(origin, "origin")
    dlon, dlat = _lonlat(destination, "destination")
    snap = g.snap(np.array([olon, dlon]), np.array([olat, dlat]), max_snap_m=max_snap_m, warn=False)
    for i, name in enumerate(("origin", "destination")):
        if not snap.snapped[i]:
            raise ValidationError(f"`{name}` is farther than max_snap_m={max_snap_m:g} m from the walk network; "
                                  "check its coordinates (lon, lat order) or raise max_snap_m")
    max_time_s = int(round(max_time_min * 60))
    max_walk_s = to.max_walk_s(max_time_s)
    date, t0 = local_departure(tt, departure)
    day = tt.for_date(date)

    def scaled(a):
        a = np.asarray(a)
        return np.where(a >= 0, np.rint(a * f), -1).astype(np.int32) if f != 1.0 else a.astype(np.int32)

    s_an, s_ac = np.asarray(tt.arrays["stop_access_node"]), scaled(tt.arrays["stop_access_cost_s"])
    s_en, s_ec = np.asarray(tt.arrays["stop_egress_node"]), scaled(tt.arrays["stop_egress_cost_s"])
    n_s = tt.n_stops
    # access walk (to stops and straight to the destination)
    r, c, v = walk_points(g.first_out, g.head, w, snap.access_node[:1], snap.access_cost_s[:1],
                          np.concatenate([s_en, snap.egress_node[1:]]), np.concatenate([s_ec, snap.egress_cost_s[1:]]),
                          max_walk_s)
    acc = c < n_s
    acc_stop, acc_s = c[acc].astype(np.int32), v[acc].astype(np.int32)
    direct = int(v[~acc][0]) if (~acc).any() else None
    # egress walk (stops -> destination)
    rf, rh, rw, _ = transpose_csr(g.first_out, g.head, w)
    max_egress_s = min(max_walk_s, int(round(to.egress_walk_limit_m / (walk_speed_kmh / 3.6))))
    _, ec, ev = walk_points(rf, rh, rw, snap.egress_node[1:], snap.egress_cost_s[1:], s_an, s_ac, max_egress_s)
    egress = np.full(n_s, -1, np.int64)
    egress[ec] = ev
    x_off, x_to, x_s = tt.transfers_csr(walk_speed_kmh, transfers_txt=to.transfers_txt)
    K = int(max_rides)
    tau, tau_ride, p_kind, p_from, r_kind, r_pat, r_trip, r_bpos, r_apos = _rp.single_departure_with_parents(
        np.int32(t0), np.int32(max_time_s), acc_stop, acc_s, K, to.kernel_slack_s, *day.kernel_args(), x_off, x_to, x_s)

    best_arr = t0 + direct if direct is not None else None
    best = None
    has_eg = np.flatnonzero(egress >= 0)
    for k in range(1, K + 1):
        ar = tau_ride[k, has_eg].astype(np.int64)
        ok = ar < _rp.INF
        if not ok.any():
            continue
        tot = ar[ok] + egress[has_eg[ok]]
        j = int(np.argmin(tot))
        if tot[j] - t0 <= max_time_s and (best_arr is None or tot[j] < best_arr):
            best_arr = int(tot[j])
            best = (k, int(has_eg[ok][j]))
    midnight = _dt.datetime.combine(date, _dt.time())

    def clock(s):
        return midnight + _dt.timedelta(seconds=int(s))

    names = np.asarray(tt.arrays["stop_name"])
    ids = np.asarray(tt.arrays["stop_id"])
    routes_id = np.asarray(tt.arrays["route_id"])
    routes_sn = np.asarray(tt.arrays["route_short_name"])
    trip_ids = np.asarray(tt.arrays["trip_id"])
    trip_route = np.asarray(tt.arrays["trip_route"])

    def leg(kind, a, b, dep, arr, **kw):
        row = dict(kind=kind, mode="transit" if kind == "ride" else "walk",
                   from_stop_id=None if a is None else str(ids[a]), from_stop_name=None if a is None else str(names[a]),
                   to_stop_id=None if b is None else str(ids[b]), to_stop_name=None if b is None else str(names[b]),
                   route_id=None, route_short_name=None, trip_id=None, departure=clock(dep), arrival=clock(arr),
                   duration_s=int(arr - dep), wait_s=0, n_stops=None)
        row.update(kw)
        return row

    if best_arr is None or best_arr - t0 > max_time_s:
        warnings.warn(f"the destination cannot be reached within {max_time_min:g} min from the origin leaving at "
                      f"{clock(t0)}", AccessWarning, stacklevel=2)
        return pd.DataFrame(columns=LEG_COLUMNS)
    if best is None:
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
                nt = int(day.pat_ntrips[p])
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
                                wait_s=int(dep - tau[k - 1, bs]), n_stops=apos - bpos))
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
    df = pd.DataFrame(legs)
    df.insert(0, "leg", np.arange(len(df)))
    return df[LEG_COLUMNS]
