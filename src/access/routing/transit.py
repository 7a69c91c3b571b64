"""Transit queries: walk + transit travel-time matrices by forward range-RAPTOR (per origin) and backward
range-RAPTOR (per destination), and the walks they need (access, egress, footpaths, direct walks).

The data (:class:`access.network.transit.Timetable`) is built once; these functions validate a query, prepare its
walks and call the kernels of :mod:`access.core.raptor`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._errors import NetworkError
from .._validate import parse_departure
from ..core import raptor as _rp
from ..core.dijkstra import csr_from_triples as _csr
from ..core.dijkstra import transpose_csr
from ..core.walk import walk_points
from ..io.places import Points
from ..network.street import Snap
from ..network.transit import DayTimetable, Timetable
from ..options import DEFAULT_BOARD_SLACK_S as BOARD_SLACK_S
from ..options import DEFAULT_EGRESS_WALK_LIMIT_M as EGRESS_WALK_LIMIT_M
from ..options import StreetOptions, TransitOptions
from .street import graph_at_speed, point_pair_times

__all__ = ["transit_travel_times", "transit_columns_to", "transit_access", "local_departure", "BOARD_SLACK_S",
           "EGRESS_WALK_LIMIT_M", "walk_points", "transit_travel_times_by", "day_for_options",
           "transfers_for_options", "park_ride_stops", "RAIL_ROUTE_TYPES"]


def _n_chunks():
    import numba

    return 4 * int(numba.get_num_threads())


def local_departure(timetable: Timetable, departure: _dt.datetime | str) -> tuple[_dt.date, int]:
    """(service date, seconds since local midnight) of ``departure`` in the timetable's time zone.

    A naive datetime is taken as local time of the feeds; an aware one is converted.
    """
    departure = parse_departure(departure)
    if departure.tzinfo is not None and timetable.timezone:
        from zoneinfo import ZoneInfo

        departure = departure.astimezone(ZoneInfo(timetable.timezone)).replace(tzinfo=None)
    return departure.date(), departure.hour * 3600 + departure.minute * 60 + departure.second


def resolve_options(options: TransitOptions | None, street: StreetOptions | None, *,
                    departure: _dt.datetime | str | None = None, window_min: int | None = None,
                    percentiles: Sequence[float] | None = None, max_walk_s: int | None = None,
                    max_rides: int | None = None, walk_speed_kmh: float | None = None
                    ) -> tuple[TransitOptions, StreetOptions]:
    """The option objects of a transit query, with the legacy keyword shortcuts applied on top."""
    to = TransitOptions.resolve(options, departure=departure, window_min=window_min, percentiles=percentiles,
                                max_rides=max_rides,
                                max_walk_min=None if max_walk_s is None else int(max_walk_s) / 60.0)
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh)
    to.require_departure()
    return to, so


# ------------------------------------------------------------------------------------------------ matrices
def _scaled(a, factor):
    a = np.asarray(a)
    if factor == 1.0:
        return a.astype(np.int32)
    return np.where(a >= 0, np.rint(a * factor), -1).astype(np.int32)


def transit_travel_times(network: Any, origin_snap: Snap, dest_snap: Snap, *, options: TransitOptions | None = None,
                         street: StreetOptions | None = None, max_time_s: int = 7200, per_minute: bool = False,
                         progress: bool = True, batch_size: int | None = None, origin_points: Points | None = None,
                         dest_points: Points | None = None, departure: _dt.datetime | str | None = None,
                         window_min: int | None = None, percentiles: Sequence[float] | None = None,
                         max_walk_s: int | None = None, max_rides: int | None = None,
                         walk_speed_kmh: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
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
    to, so = resolve_options(options, street, departure=departure, window_min=window_min, percentiles=percentiles,
                             max_walk_s=max_walk_s, max_rides=max_rides, walk_speed_kmh=walk_speed_kmh)
    q = _query(network, origin_snap, dest_snap, to, so, max_time_s, origin_points, dest_points)
    if to.frequencies == "monte_carlo":
        return _monte_carlo(network, q, to, per_minute, progress, batch_size)
    return _forward(q, to, per_minute, progress, batch_size)


def _forward(q: _Query, to: TransitOptions, per_minute: bool, progress: bool, batch_size: int | None,
             desc: str = "transit matrix") -> tuple[np.ndarray, np.ndarray | None]:
    """The forward range-RAPTOR matrix of a prepared query, origins in batches."""
    window_min = to.window_min
    n_o, n_d, n_s = q.n_o, q.n_d, q.n_s
    eg_stops = np.unique(q.d_stop)
    eg_slot = np.full(n_s, -1, np.int32)
    eg_slot[eg_stops] = np.arange(len(eg_stops), dtype=np.int32)
    d_slot = eg_slot[q.d_stop].astype(np.int32)
    times = np.empty((n_o, n_d, len(q.pct_idx)), np.int32)
    pm: np.ndarray | None = np.empty((n_o, n_d, int(window_min)), np.int32) if per_minute else None
    if batch_size is None:
        batch_size = max(64, min(512, -(-n_o // 20)))
    from tqdm.auto import tqdm

    bar = tqdm(total=n_o, desc=desc, unit="origin", disable=not progress)
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
        # (numba's Dispatcher stub declares no signature for the @njit kernel: the call is checked by numba)
        ti, pmi = _rp.range_raptor_matrix(  # type: ignore[call-arg]
            acc_off, acc_stop, acc_s, dir_off, dir_dest, dir_s, eg_slot, q.d_off, d_slot,
                                          q.d_s, q.dep_times, to.max_rides, q.max_time_s, to.kernel_slack_s, q.pct_idx,
                                          *args, q.x_off, q.x_to, q.x_s, _n_chunks(), bool(per_minute))
        times[a:b] = ti
        if pm is not None:  # (per_minute)
            pm[a:b] = pmi
        bar.update(b - a)
    bar.close()
    return times, pm


def _monte_carlo(network: Any, q: _Query, to: TransitOptions, per_minute: bool, progress: bool,
                 batch_size: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Monte-Carlo frequency schedules (:mod:`access.routing.frequencies`): ``draws_per_minute`` random days,
    each searched over the window; the ``window_min x draws`` times per pair reduced by R5's nearest-rank rule.
    ``per_minute`` then holds minute-major samples ``[m * draws + r]``."""
    from .frequencies import draw_day

    tt = network.timetable
    date, _ = local_departure(tt, to.require_departure())
    raw = tt.for_date(date)
    n_r = int(to.draws_per_minute)
    one = to.replace(frequencies="deterministic")
    samples: np.ndarray = np.empty((q.n_o, q.n_d, to.window_min, n_r), np.int32)
    for r in range(n_r):
        day = _mask_route_types(tt, draw_day(tt, raw, to.seed, r), to)
        _, pm = _forward(q._replace(day=day), one, True, progress, batch_size, desc=f"transit draw {r + 1}/{n_r}")
        assert pm is not None  # (asked with per_minute=True)
        samples[:, :, :, r] = pm
    samples = samples.reshape(q.n_o, q.n_d, -1)
    n = samples.shape[2]
    big = np.where(samples < 0, np.iinfo(np.int32).max, samples)
    big.sort(axis=2)
    idx = _rp.percentile_index([float(p) for p in to.percentiles], n) if to.percentiles else np.zeros(0, np.int64)
    times = big[:, :, idx]
    times = np.where((times == np.iinfo(np.int32).max) | (times > q.max_time_s), -1, times).astype(np.int32)
    return times, (samples if per_minute else None)


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
    f = float(walk.meta.get("speed_kmh") or 3.6) / float(walk_speed_kmh)
    return graph_at_speed(walk, walk_speed_kmh), f


def _query(network: Any, origin_snap: Snap, dest_snap: Snap, to: TransitOptions, so: StreetOptions, max_time_s: int,
           origin_points: Points | None, dest_points: Points | None, egress: bool = True) -> _Query:
    """Prepare a transit query's walks: egress walks, footpaths, same-segment pairs, day layout (``egress=False``:
    no egress walks, for a caller that computes its own; ``d_off`` is then all zeros)."""
    tt = network.timetable
    if tt is None:
        raise NetworkError("the network has no transit timetable; build it with GTFS feeds (`gtfs=[...]`)")
    walk = network.street("walk")
    walk_speed_kmh = so.walk_speed_kmh
    window_min = to.window_min
    pcts = [float(p) for p in to.percentiles]
    max_time_s = int(max_time_s)
    max_walk_s = to.max_walk_s(max_time_s)
    departure = to.require_departure()
    date, t0 = local_departure(tt, departure)
    day = day_for_options(tt, date, to)
    dep_times = (t0 + 60 * np.arange(int(window_min))).astype(np.int32)

    g, f = _walk_at(walk, walk_speed_kmh)
    fo, he, w = g.first_out, g.head, np.asarray(g.travel_time_s, np.int32)
    # the points were snapped on the walk graph at walk_speed_kmh (what access.matrix does): costs used as given
    o_an, o_ac = np.asarray(origin_snap.access_node), np.asarray(origin_snap.access_cost_s, np.int32)
    d_en, d_ec = np.asarray(dest_snap.egress_node), np.asarray(dest_snap.egress_cost_s, np.int32)
    s_an, s_ac = np.asarray(tt.arrays["stop_access_node"]), _scaled(tt.arrays["stop_access_cost_s"], f)
    s_en, s_ec = np.asarray(tt.arrays["stop_egress_node"]), _scaled(tt.arrays["stop_egress_cost_s"], f)
    n_d = d_en.shape[0]
    x_off, x_to, x_s = transfers_for_options(tt, walk_speed_kmh, to)

    # egress: stop -> destination walks (reverse searches from destinations; the transposed graph is cached on it)
    rf, rh, rw = g.csr(reverse=True)
    max_egress_s = min(max_walk_s, int(round(to.egress_walk_limit_m / (walk_speed_kmh / 3.6))))
    dr, sc_, dv = (walk_points(rf, rh, rw, d_en, d_ec, s_an, s_ac, max_egress_s) if egress
                   else (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32)))
    o_ = np.lexsort((sc_, dv, dr))  # by destination, then walk seconds
    d_off = np.zeros(n_d + 1, np.int64)
    np.add.at(d_off, dr + 1, 1)
    d_off = np.cumsum(d_off)
    pct_idx = _rp.percentile_index(pcts, int(window_min)) if pcts else np.zeros(0, np.int64)
    # direct walks the node search cannot see: the same street segment, the same place (as the walk matrix)
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


def transit_columns_to(network: Any, origin_snap: Snap, dest_snap: Snap, *, options: TransitOptions | None = None,
                       street: StreetOptions | None = None, max_time_s: int = 7200, per_minute: bool = False,
                       origin_points: Points | None = None, dest_points: Points | None = None,
                       access: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                       departure: _dt.datetime | str | None = None, window_min: int | None = None,
                       percentiles: Sequence[float] | None = None, max_walk_s: int | None = None,
                       max_rides: int | None = None, walk_speed_kmh: float | None = None,
                       dest_groups: tuple[np.ndarray, int] | None = None
                       ) -> tuple[np.ndarray, np.ndarray | None]:
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
    dest_groups : (int array, int), optional
        ``(group of each destination, number of groups)``: the destinations of a group are merged into one (its
        egress walk from each stop and its direct walk from each origin are the shortest to any of them), so column
        ``g`` holds, per departure minute, the earliest arrival at *any* destination of group ``g`` (one backward
        search per group; what :func:`access.nearest_times` uses).

    Examples
    --------
    >>> times, _ = transit_columns_to(net, cells_snap, venue_snap, departure=datetime(2019, 5, 13, 14),
    ...                               window_min=10, percentiles=(50,), max_time_s=3600)  # doctest: +SKIP
    """
    import numba

    to, so = resolve_options(options, street, departure=departure, window_min=window_min, percentiles=percentiles,
                             max_walk_s=max_walk_s, max_rides=max_rides, walk_speed_kmh=walk_speed_kmh)
    q = _query(network, origin_snap, dest_snap, to, so, max_time_s, origin_points, dest_points)
    if access is None:
        access = transit_access(network, origin_snap, max_walk_s=q.max_walk_s, walk_speed_kmh=so.walk_speed_kmh)
    sa_off, sa_org, sa_s = access
    # direct walks, by destination: reverse searches from the destinations (the same sums as the forward ones)
    rf, rh, rw = q.rev
    dr, do_, dv = walk_points(rf, rh, rw, q.d_en, q.d_ec, q.o_an, q.o_ac, q.max_walk_s)
    p_i, p_j, p_s = q.pairs
    dd_rows, n_cols = np.concatenate([dr, p_j]), q.n_d
    d_off, d_stop, d_s = q.d_off, q.d_stop, q.d_s
    if dest_groups is not None:
        grp, n_cols = np.asarray(dest_groups[0], np.int64), int(dest_groups[1])
        dd_rows = grp[dd_rows]
        eg_rows = np.repeat(np.arange(q.n_d, dtype=np.int64), np.diff(q.d_off))
        # per group and stop the shortest egress walk (csr keeps the smallest), then by increasing seconds
        d_off, st_, sv_ = _csr(grp[eg_rows], q.d_stop.astype(np.int64), q.d_s.astype(np.int64), n_cols)
        rows_ = np.repeat(np.arange(n_cols, dtype=np.int64), np.diff(d_off))
        o_ = np.lexsort((st_, sv_, rows_))
        d_stop, d_s = st_[o_], sv_[o_]
    dd_off, dd_org, dd_s = _csr(dd_rows, np.concatenate([do_, p_i]), np.concatenate([dv, p_s]), n_cols)
    xt_off, xt_from, xt_s, _ = transpose_csr(q.x_off, q.x_to, q.x_s)
    d = q.day
    times, pm = _rp.backward_range_raptor_columns(
        sa_off, sa_org, sa_s, dd_off, dd_org, dd_s, d_off, d_stop, d_s, q.dep_times, to.max_rides,
        q.max_time_s, to.kernel_slack_s, q.pct_idx, d.pat_stop_off, d.pat_stops, d.pat_board, d.pat_alight,
        d.pat_ntrips, d.pat_time_off, d.t_arr, d.t_dep, d.stop_pat_off, d.stop_pat, d.stop_pat_pos, xt_off, xt_from,
        xt_s, q.n_o, int(numba.get_num_threads()), bool(per_minute))
    return times, (pm if per_minute else None)


# ------------------------------------------------------------------------------------------------ R5 options
#: GTFS route types counted as rail stations for park-and-ride (metro, rail, and the extended rail types)
RAIL_ROUTE_TYPES = (1, 2, *range(100, 200), *range(400, 405))


def _pattern_route_types(tt: Timetable, day: DayTimetable) -> np.ndarray:
    """int16[n_patterns] GTFS route_type of each pattern of ``day``."""
    first = np.asarray(day.pat_trip)[np.asarray(day.pat_trip_off)[:-1]]
    return np.asarray(tt.arrays["route_type"])[np.asarray(tt.arrays["trip_route"])[first]]


def day_for_options(tt: Timetable, date: _dt.date, to: TransitOptions) -> DayTimetable:
    """The day's RAPTOR arrays for a query: with ``to.route_types``, the other patterns keep no trip (the kernels
    never board them; the layout is shared with the cached day)."""
    return _mask_route_types(tt, tt.for_date(date), to)


def _mask_route_types(tt: Timetable, day: DayTimetable, to: TransitOptions) -> DayTimetable:
    if to.route_types is None:
        return day
    keep = np.isin(_pattern_route_types(tt, day), np.asarray(to.route_types))
    return day._replace(pat_ntrips=np.where(keep, np.asarray(day.pat_ntrips), 0).astype(np.int32))


def transfers_for_options(tt: Timetable, walk_speed_kmh: float, to: TransitOptions):
    """Footpaths at ``walk_speed_kmh``, limited to ``to.max_transfer_walk_min`` (at most the build radius)."""
    x_off, x_to, x_s = tt.transfers_csr(walk_speed_kmh, transfers_txt=to.transfers_txt)
    lim = to.max_transfer_walk_min
    if lim is None:
        return x_off, x_to, x_s
    built = float(tt.meta.get("max_transfer_walk_min", 10.0))
    if lim > built + 1e-9:
        from .._validate import fail

        raise fail("max_transfer_walk_min", f"at most the network's build radius ({built:g} min)", lim,
                   f"rebuild with TransportNetwork.from_files(..., max_transfer_walk_min={lim:g})")
    # the build radius is in minutes at the build speed: a transfer is kept when walked within `lim` at this speed
    keep = np.asarray(x_s) <= round(lim * 60)
    rows = np.repeat(np.arange(len(x_off) - 1), np.diff(np.asarray(x_off)))
    return _csr(rows[keep], np.asarray(x_to)[keep], np.asarray(x_s)[keep], len(x_off) - 1)


def _parking_lonlat(network: Any) -> np.ndarray:
    """float64[k, 2] lon/lat of the OSM ``amenity=parking`` / ``park_ride=*`` nodes and areas (way centroids) of
    the network's OSM extract (read once, cached on the network); empty when the extract is unknown."""
    cached = network.__dict__.get("_parking_lonlat")
    if cached is not None:
        return cached
    from pathlib import Path

    inputs = [Path(p) for p in (getattr(network, "manifest", {}) or {}).get("inputs", [])]
    osm = next((p for p in inputs if p.suffix == ".pbf" and p.exists()), None)
    pts: list[tuple[float, float]] = []
    if osm is not None:
        import osmium

        def wanted(tags) -> bool:
            pr = tags.get("park_ride")
            return tags.get("amenity") == "parking" or (pr is not None and pr != "no")

        class _H(osmium.SimpleHandler):
            def node(self, n):
                if wanted(n.tags) and n.location.valid():
                    pts.append((n.location.lon, n.location.lat))

            def way(self, w):
                if wanted(w.tags):
                    xy = [(nd.lon, nd.lat) for nd in w.nodes if nd.location.valid()]
                    if xy:
                        a = np.asarray(xy)
                        pts.append((float(a[:, 0].mean()), float(a[:, 1].mean())))

        _H().apply_file(str(osm), locations=True)
    out = np.asarray(pts, np.float64).reshape(-1, 2)
    network.__dict__["_parking_lonlat"] = out
    return out


def park_ride_stops(network: Any, day: DayTimetable, distance_m: float) -> np.ndarray:
    """bool[n_stops]: stops where a car can be left: within ``distance_m`` of an OSM parking, or served by rail
    (:data:`RAIL_ROUTE_TYPES`)."""
    tt = network.timetable
    n_s = tt.n_stops
    ok = np.zeros(n_s, bool)
    rail = np.isin(_pattern_route_types(tt, day), np.asarray(RAIL_ROUTE_TYPES))
    off = np.asarray(day.pat_stop_off)
    for p in np.flatnonzero(rail):
        ok[np.asarray(day.pat_stops)[off[p]:off[p + 1]]] = True
    park = _parking_lonlat(network)
    if len(park) and distance_m > 0:
        from scipy.spatial import cKDTree

        lon, lat = np.asarray(tt.arrays["stop_lon"], float), np.asarray(tt.arrays["stop_lat"], float)
        lat0 = float(np.nanmean(lat)) if n_s else 0.0
        k = np.cos(np.radians(lat0))
        tree = cKDTree(np.column_stack([park[:, 0] * k, park[:, 1]]) * 111_320.0)
        good = np.isfinite(lon) & np.isfinite(lat)
        dist, _ = tree.query(np.column_stack([lon[good] * k, lat[good]]) * 111_320.0,
                             distance_upper_bound=distance_m)
        ok[np.flatnonzero(good)[np.isfinite(dist)]] = True
    return ok


def transit_travel_times_by(network: Any, origin_points: Points, dest_points: Points, *, options: TransitOptions,
                            street: StreetOptions, max_time_s: int, per_minute: bool = False,
                            progress: bool = True, batch_size: int | None = None
                            ) -> tuple[np.ndarray, np.ndarray | None]:
    """Transit travel times with the first leg by bike or car (``options.access_mode``), forward range-RAPTOR.

    Bike: ride from the origin to any stop (snapped on the bike graph), transit, walk to the destination; car:
    drive to a park-and-ride stop (:func:`park_ride_stops`), transit, walk. The access leg is bounded by
    ``max_bike_min`` / ``max_car_min`` (default the trip's limit); the direct trip by the access mode counts too
    (with the point-pair rules of the street matrices), bounded the same way. Egress walks, transfers, the
    boarding slack and the percentiles are those of :func:`transit_travel_times`.

    Returns
    -------
    times_s : int32[n_o, n_d, n_p]; per_minute : int32[n_o, n_d, n_min] or None
    """
    from .street import snap_points, street_od_times

    to, so = options, street
    mode = to.access_mode
    walk_g = graph_at_speed(network.street("walk"), so.walk_speed_kmh)
    o_w, d_w = snap_points(walk_g, origin_points, dest_points, so.max_snap_m)
    q = _query(network, o_w, d_w, to, so, max_time_s, origin_points, dest_points)
    lim_min = to.max_bike_min if mode == "bike" else to.max_car_min
    max_acc_s = int(min(max_time_s, round(lim_min * 60))) if lim_min is not None else int(max_time_s)
    ga = graph_at_speed(network.street(mode), so.speed_kmh(mode))
    if mode == "bike" and so.max_lts is not None:
        from ..network.lts import limit_lts

        ga = limit_lts(network, ga, so.max_lts)
    o_a = ga.snap(origin_points.lon, origin_points.lat, max_snap_m=so.max_snap_m, ids=origin_points.ids,
                  warn=False)
    d_a = ga.snap(dest_points.lon, dest_points.lat, max_snap_m=so.max_snap_m, ids=dest_points.ids, warn=False)
    tt = network.timetable
    slon, slat = np.asarray(tt.arrays["stop_lon"], float), np.asarray(tt.arrays["stop_lat"], float)
    usable = np.asarray(tt.arrays["stop_used"]).astype(bool) & np.isfinite(slon) & np.isfinite(slat)
    if mode == "car":
        usable &= park_ride_stops(network, q.day, to.park_ride_distance_m)
    su = np.flatnonzero(usable)
    s_snap = ga.snap(slon[su], slat[su], max_snap_m=so.max_snap_m, warn=False)
    n_s = q.n_s
    s_en = np.full((n_s, 2), -1, np.int32)
    s_ec = np.full((n_s, 2), -1, np.int32)
    s_en[su], s_ec[su] = s_snap.egress_node, s_snap.egress_cost_s
    # the direct trip by the access mode (street matrix rules), within the access bound
    direct = street_od_times(ga, o_a, d_a, max_acc_s, o=origin_points, d=dest_points)
    n_o, n_d = q.n_o, q.n_d
    eg_stops = np.unique(q.d_stop)
    eg_slot = np.full(n_s, -1, np.int32)
    eg_slot[eg_stops] = np.arange(len(eg_stops), dtype=np.int32)
    d_slot = eg_slot[q.d_stop].astype(np.int32)
    times = np.empty((n_o, n_d, len(q.pct_idx)), np.int32)
    pm: np.ndarray | None = np.empty((n_o, n_d, int(to.window_min)), np.int32) if per_minute else None
    if batch_size is None:
        batch_size = max(64, min(512, -(-n_o // 20)))
    from tqdm.auto import tqdm

    bar = tqdm(total=n_o, desc=f"transit ({mode} access)", unit="origin", disable=not progress)
    args = q.day.kernel_args()
    for a in range(0, n_o, batch_size):
        b = min(n_o, a + batch_size)
        r, c, v = walk_points(ga.first_out, ga.head, np.asarray(ga.travel_time_s, np.int32), o_a.access_node[a:b],
                              np.asarray(o_a.access_cost_s[a:b], np.int32), s_en, s_ec, max_acc_s)
        acc_off, acc_stop, acc_s = _csr(r, c, v, b - a)
        di, dj = np.nonzero(direct[a:b] >= 0)
        dir_off, dir_dest, dir_s = _csr(di, dj, direct[a:b][di, dj], b - a)
        # (numba's Dispatcher stub declares no signature for the @njit kernel: the call is checked by numba)
        ti, pmi = _rp.range_raptor_matrix(  # type: ignore[call-arg]
            acc_off, acc_stop, acc_s, dir_off, dir_dest, dir_s, eg_slot, q.d_off,
                                          d_slot, q.d_s, q.dep_times, to.max_rides, q.max_time_s, to.kernel_slack_s,
                                          q.pct_idx, *args, q.x_off, q.x_to, q.x_s, _n_chunks(), bool(per_minute))
        times[a:b] = ti
        if pm is not None:  # (per_minute)
            pm[a:b] = pmi
        bar.update(b - a)
    bar.close()
    return times, pm
