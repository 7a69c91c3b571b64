"""Origin-destination travel-time matrices: validate, snap, batch origins, call kernels, shape results.

The public entry point is :func:`travel_time_matrix`, which mirrors r5py's ``TravelTimeMatrix``: a long table
``from_id, to_id, travel_time`` (minutes, NaN when unreachable within ``max_time_min``), with one
``travel_time_pNN`` column per percentile for transit over a departure window.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._errors import AccessWarning, NetworkError, ValidationError
from ._io_util import atomic_path
from .core import dijkstra as dj
from .io.places import Points, read_points
from .network.street import DEFAULT_MAX_SNAP_M, StreetGraph

STREET_MODES = ("walk", "bike", "car")
ALL_MODES = STREET_MODES + ("transit",)


@dataclass
class TravelTimeMatrix:
    """Travel times between origins and destinations.

    ``times_s`` is int32[n_origins, n_destinations, n_percentiles] in seconds, ``-1`` where unreachable;
    ``per_minute_s`` (transit, on request) int32[n_origins, n_destinations, n_minutes].
    """

    from_ids: np.ndarray
    to_ids: np.ndarray
    times_s: np.ndarray
    mode: str
    percentiles: tuple = (50,)
    per_minute_s: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.from_ids), len(self.to_ids))

    def __repr__(self) -> str:
        return (f"TravelTimeMatrix(mode={self.mode!r}, {self.shape[0]:,} origins x {self.shape[1]:,} destinations, "
                f"percentiles={list(self.percentiles)})")

    @property
    def time_columns(self) -> list[str]:
        if len(self.percentiles) == 1:
            return ["travel_time"]
        return [f"travel_time_p{p:g}" for p in self.percentiles]

    def minutes(self, k: int = 0) -> np.ndarray:
        """float64[n_o, n_d] minutes for percentile index ``k`` (NaN unreachable)."""
        t = self.times_s[:, :, k].astype(np.float64) / 60.0
        t[self.times_s[:, :, k] < 0] = np.nan
        return t

    def to_frame(self, *, drop_unreachable: bool = False) -> pd.DataFrame:
        """Long table ``from_id, to_id, travel_time`` (or ``travel_time_pNN`` columns), minutes, NaN unreachable."""
        n_o, n_d = self.shape
        df = pd.DataFrame({"from_id": np.repeat(self.from_ids, n_d), "to_id": np.tile(self.to_ids, n_o)})
        for k, col in enumerate(self.time_columns):
            df[col] = self.minutes(k).reshape(-1)
        if drop_unreachable:
            df = df[df[self.time_columns].notna().any(axis=1)].reset_index(drop=True)
        return df

    def to_parquet(self, path, *, drop_unreachable: bool = False, origins_per_row_group: int = 256) -> Path:
        """Write :meth:`to_frame` to Parquet atomically, one row group per block of origins."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        with atomic_path(path, suffix=".parquet") as tmp:
            writer = None
            for a in range(0, max(self.shape[0], 1), origins_per_row_group):
                sub = TravelTimeMatrix(self.from_ids[a:a + origins_per_row_group], self.to_ids,
                                       self.times_s[a:a + origins_per_row_group], self.mode, self.percentiles)
                table = pa.Table.from_pandas(sub.to_frame(drop_unreachable=drop_unreachable), preserve_index=False)
                if writer is None:
                    meta = {b"access": pd.io.json.ujson_dumps(
                        dict(mode=self.mode, percentiles=list(self.percentiles), **self.settings),
                        default_handler=str).encode()}
                    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            if writer is not None:
                writer.close()
        return path


def _check_percentiles(percentiles) -> tuple:
    if isinstance(percentiles, (int, float)):
        percentiles = (percentiles,)
    ps = tuple(percentiles)
    if not ps or any(not (0 <= float(p) <= 100) for p in ps):
        raise ValidationError(f"`percentiles` must be numbers in 0..100, got {percentiles!r}")
    return ps


def graph_at_speed(graph: StreetGraph, speed_kmh: float | None) -> StreetGraph:
    """Walk/bike graph re-timed for another constant speed (same topology); car graphs are returned as is."""
    if speed_kmh is None or graph.speed_kmh is None or abs(float(speed_kmh) - float(graph.speed_kmh)) < 1e-9:
        return graph
    if speed_kmh <= 0:
        raise ValidationError(f"speed must be positive, got {speed_kmh} km/h")
    tt = np.maximum(1, np.rint(graph.length_m.astype(np.float64) / (speed_kmh / 3.6))).astype(np.int32)
    return graph.with_travel_times(tt, speed_kmh=float(speed_kmh), connector_speed_kmh=float(speed_kmh))


def _chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def coincident_pairs(o: Points, d: Points) -> tuple[np.ndarray, np.ndarray]:
    """(origin idx, destination idx) of pairs at exactly the same coordinates."""
    return _equal_key_pairs(o.lon + 1j * o.lat, d.lon + 1j * d.lat)


def _equal_key_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with ``a[i] == b[j]`` (int64 arrays), in O((n_a + n_b) log n_b) without pandas."""
    order = np.argsort(b, kind="stable")
    bs = b[order]
    lo = np.searchsorted(bs, a, "left")
    cnt = np.searchsorted(bs, a, "right") - lo
    i = np.repeat(np.arange(len(a), dtype=np.int64), cnt)
    if not len(i):
        return i, i.copy()
    first = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
    return i, order[first + np.arange(len(i))].astype(np.int64)


def same_edge_times(graph: StreetGraph, o_snap, d_snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct times between origins and destinations snapped onto the same street segment.

    The graph search only goes through nodes, so two points on one edge would otherwise be joined by a detour
    through an end node (a point to itself would take a round trip). Returns (origin idx, destination idx,
    seconds) for every such pair whose direction of travel along the edge is allowed.
    """
    oi = np.flatnonzero(o_snap.snapped)
    di = np.flatnonzero(d_snap.snapped)
    ii, jj = _equal_key_pairs(o_snap.edge[oi], d_snap.edge[di])
    i, j = oi[ii], di[jj]
    e = o_snap.edge[i]
    fo, fd = o_snap.fraction[i], d_snap.fraction[j]
    conn_speed = float(graph.meta.get("connector_speed_kmh") or graph.meta.get("speed_kmh") or 3.6) / 3.6
    conn = np.rint(o_snap.distance_m[i] / conn_speed) + np.rint(d_snap.distance_m[j] / conn_speed)
    er = graph.reverse_edge[e]
    forward = fd >= fo
    t_edge = np.where(forward, graph.travel_time_s[e], np.where(er >= 0, graph.travel_time_s[np.maximum(er, 0)], -1))
    ok = t_edge >= 0
    t = conn + np.rint(np.abs(fd - fo) * t_edge)
    return i[ok], j[ok], t[ok].astype(np.int64)


def point_pair_times(graph: StreetGraph, o_snap, d_snap, max_time_s: int, o: Points | None = None,
                     d: Points | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs a street matrix takes from the geometry rather than from the node-to-node search.

    (origin idx, destination idx, int32 seconds) of: pairs snapped onto the same street segment, at their direct
    time along it when within ``max_time_s`` (:func:`same_edge_times`); and, given the points ``o`` and ``d``,
    snapped pairs at exactly the same coordinates, at 0 s. Every street matrix (:func:`travel_time_matrix`, the
    chunked and Dask runs, scenario columns, siting candidates) applies these with :func:`apply_point_pairs`, so
    they all give the same integers.
    """
    i, j, t = same_edge_times(graph, o_snap, d_snap)
    keep = t <= max_time_s
    i, j, t = i[keep], j[keep], t[keep]
    if o is not None and d is not None:
        ci, cj = coincident_pairs(o, d)
        ok = o_snap.snapped[ci] & d_snap.snapped[cj]
        i, j = np.concatenate([i, ci[ok]]), np.concatenate([j, cj[ok]])
        t = np.concatenate([t, np.zeros(int(ok.sum()), np.int64)])
    return i, j, t.astype(np.int32)


def apply_point_pairs(times: np.ndarray, pairs) -> np.ndarray:
    """Lower ``times`` (int32[n_o, n_d], unreachable as :data:`access.core.dijkstra.INF`) to the pair times of
    :func:`point_pair_times`, in place, and return it in public form (-1 unreachable)."""
    i, j, t = pairs
    if len(i):
        np.minimum.at(times, (i, j), t)
    return dj.to_public(times)


def street_od_times(graph: StreetGraph, o_snap, d_snap, max_time_s: int, *, progress: bool = False,
                    chunk_size: int | None = None, desc: str = "origins", o: Points | None = None,
                    d: Points | None = None) -> np.ndarray:
    """int32[n_o, n_d] seconds on one street graph between snapped points (-1 unreachable); with the points
    ``o``/``d``, pairs at the same coordinates take 0 s."""
    from tqdm.auto import tqdm

    n_o, n_d = len(o_snap), len(d_snap)
    out = np.empty((n_o, n_d), np.int32)
    size = chunk_size or max(64, min(4096, n_o // 20 + 1))
    bar = tqdm(total=n_o, desc=f"{graph.mode} {desc}", unit="orig", disable=not progress)
    for a, b in _chunks(n_o, size):
        out[a:b] = dj.od_matrix(graph.first_out, graph.head, graph.travel_time_s,
                                o_snap.access_node[a:b], o_snap.access_cost_s[a:b],
                                d_snap.egress_node, d_snap.egress_cost_s, np.int32(max_time_s))
        bar.update(b - a)
    bar.close()
    return apply_point_pairs(out, point_pair_times(graph, o_snap, d_snap, max_time_s, o, d))


def travel_time_matrix(network, origins, destinations=None, *, mode: str = "walk", max_time_min: float = 120,
                       departure: _dt.datetime | None = None, window_min: int = 60, percentiles=(50,),
                       max_walk_min: float | None = None, max_rides: int = 3, walk_speed_kmh: float = 3.6,
                       bike_speed_kmh: float = 12.0, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                       per_minute: bool = False, progress: bool = True,
                       chunk_size: int | None = None, search: str = "auto") -> TravelTimeMatrix:
    """Travel times from every origin to every destination.

    Parameters
    ----------
    network : TransportNetwork
        Built with :meth:`access.TransportNetwork.from_files`.
    origins, destinations : GeoDataFrame, DataFrame with lon/lat, or path
        Points with a unique ``id`` column (polygons: centroids). ``destinations`` defaults to ``origins``.
    mode : {"walk", "bike", "car", "transit"}
    max_time_min : float
        Trips longer than this are unreachable (NaN).
    departure : datetime
        Transit only: the first departure minute of the window (local time of the feed).
    window_min : int
        Transit only: departures every minute in ``[departure, departure + window_min)``.
    percentiles : sequence of numbers
        Transit only: percentiles of the per-minute travel times (R5's nearest-rank rule).
    max_walk_min : float, optional
        Transit only: bound on each walking leg (access, egress); default ``max_time_min``.
    max_rides : int
        Transit only: most vehicles boarded.
    walk_speed_kmh, bike_speed_kmh : float
        Speeds of the constant-speed modes (walk also for transit access/egress/transfers).
    max_snap_m : float
        Points farther than this from the network are unreachable (reported in one warning).
    per_minute : bool
        Transit only: also keep the full per-minute distribution (``per_minute_s``).
    search : {"auto", "forward", "backward"}
        Transit only: range-RAPTOR from each origin ("forward", as R5), or backward from each destination (latest
        departures); both give the same integers. "auto" searches backward when the destinations are fewer than
        the origins by a factor :data:`BACKWARD_FACTOR` (a few venues for many cells).

    Returns
    -------
    TravelTimeMatrix
        ``.to_frame()`` gives ``from_id, to_id, travel_time`` in minutes.

    Examples
    --------
    >>> ttm = travel_time_matrix(net, cells, venues, mode="walk", max_time_min=60)  # doctest: +SKIP
    >>> ttm.to_frame().head()  # doctest: +SKIP
    """
    if mode not in ALL_MODES:
        raise ValidationError(f"unknown mode {mode!r}; use one of {ALL_MODES}")
    if not (max_time_min > 0):
        raise ValidationError(f"`max_time_min` must be positive, got {max_time_min}")
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = o if destinations is None else (destinations if isinstance(destinations, Points)
                                        else read_points(destinations, name="destinations"))
    max_time_s = int(round(max_time_min * 60))
    settings = dict(max_time_min=max_time_min, max_snap_m=max_snap_m)
    if mode in STREET_MODES:
        speed = {"walk": walk_speed_kmh, "bike": bike_speed_kmh}.get(mode)
        g = graph_at_speed(network.street(mode), speed)
        o_snap, d_snap = _snap_both(g, o, d, max_snap_m)
        # a point to itself (or to a destination at the very same place) takes no time
        times = street_od_times(g, o_snap, d_snap, max_time_s, progress=progress, chunk_size=chunk_size, o=o, d=d)
        settings.update(speed_kmh=speed)
        return TravelTimeMatrix(o.ids, d.ids, times[:, :, None], mode, (50,), settings=settings)
    # transit
    departure, ps = transit_settings(network, departure, window_min, max_rides, percentiles)
    if search not in ("auto", "forward", "backward"):
        raise ValidationError(f"unknown search {search!r}; use 'auto', 'forward' or 'backward'")
    backward = search == "backward" or (search == "auto" and len(d) * BACKWARD_FACTOR < len(o))
    g = graph_at_speed(network.street("walk"), walk_speed_kmh)
    o_snap, d_snap = _snap_both(g, o, d, max_snap_m)
    max_walk_s = max_time_s if max_walk_min is None else int(round(max_walk_min * 60))
    kw = dict(departure=departure, window_min=int(window_min), percentiles=ps, max_time_s=max_time_s,
              max_walk_s=max_walk_s, max_rides=int(max_rides), walk_speed_kmh=walk_speed_kmh, per_minute=per_minute)
    if backward:
        times, pm = _transit_by_destination(network, o, d, o_snap, d_snap, progress=progress, chunk_size=chunk_size,
                                            **kw)
    else:
        from .network.transit import transit_travel_times

        times, pm = transit_travel_times(network, o_snap, d_snap, progress=progress, origin_points=o, dest_points=d,
                                         **kw)
    settings.update(departure=departure.isoformat(), window_min=int(window_min), max_walk_min=max_walk_min,
                    max_rides=int(max_rides), walk_speed_kmh=walk_speed_kmh,
                    search="backward" if backward else "forward")
    return TravelTimeMatrix(o.ids, d.ids, times, "transit", ps, per_minute_s=pm, settings=settings)


# a backward search (one destination) costs about as much as this many forward ones (one origin, all destinations)
BACKWARD_FACTOR = 16


def transit_settings(network, departure, window_min, max_rides, percentiles):
    """Checks of the transit settings shared by every transit matrix; returns ``(departure datetime, percentiles)``."""
    if getattr(network, "timetable", None) is None:
        raise ValidationError("mode='transit' needs a network built with GTFS feeds "
                              "(TransportNetwork.from_files(osm, gtfs=[...]))")
    if departure is None:
        raise ValidationError("mode='transit' needs `departure` (a datetime such as 2019-05-13 14:00)")
    if isinstance(departure, str):
        departure = _dt.datetime.fromisoformat(departure)
    if int(window_min) < 1:
        raise ValidationError(f"`window_min` must be at least 1, got {window_min}")
    if int(max_rides) < 1:
        raise ValidationError(f"`max_rides` must be at least 1, got {max_rides}")
    return departure, _check_percentiles(percentiles)


def _transit_by_destination(network, o: Points, d: Points, o_snap, d_snap, *, progress: bool, chunk_size, **kw):
    """The transit matrix by backward range-RAPTOR, destinations in chunks (one progress step per chunk); the
    origins' walks to the stops are computed once."""
    from tqdm.auto import tqdm

    from .network.transit import transit_access, transit_columns_to

    n_o, n_d = len(o), len(d)
    acc = transit_access(network, o_snap, max_walk_s=min(kw["max_walk_s"], kw["max_time_s"]),
                         walk_speed_kmh=kw["walk_speed_kmh"])
    times = np.empty((n_o, n_d, len(kw["percentiles"])), np.int32)
    pm = np.empty((n_o, n_d, kw["window_min"]), np.int32) if kw["per_minute"] else None
    size = chunk_size or max(8, min(256, n_d // 20 + 1))
    bar = tqdm(total=n_d, desc="transit destinations", unit="dest", disable=not progress)
    for a, b in _chunks(n_d, size):
        sub = Points(d.ids[a:b], d.lon[a:b], d.lat[a:b], None, d.name)
        t, p = transit_columns_to(network, o_snap, d_snap.subset(np.arange(a, b)), origin_points=o, dest_points=sub,
                                  access=acc, **kw)
        times[:, a:b] = t
        if pm is not None:
            pm[:, a:b] = p
        bar.update(b - a)
    bar.close()
    return times, pm


def _snap_both(g: StreetGraph, o: Points, d: Points, max_snap_m: float):
    o_snap = g.snap(o.lon, o.lat, max_snap_m=max_snap_m, ids=o.ids, warn=False)
    d_snap = o_snap if d is o else g.snap(d.lon, d.lat, max_snap_m=max_snap_m, ids=d.ids, warn=False)
    for snap, pts in ((o_snap, o), (d_snap, d)) if d is not o else ((o_snap, o),):
        if not snap.snapped.any():
            raise NetworkError(
                f"all {len(pts)} {pts.name} are farther than max_snap_m={max_snap_m:g} m from the {g.mode} network; "
                "check that they lie in the network's area and that their CRS is right")
        if not snap.snapped.all():
            bad = pts.ids[~snap.snapped]
            warnings.warn(f"{len(bad)} of {len(pts)} {pts.name} are farther than max_snap_m={max_snap_m:g} m from the "
                          f"{g.mode} network and are unreachable, e.g. ids {bad[:8].tolist()}; raise max_snap_m or "
                          "check their coordinates", AccessWarning, stacklevel=3)
    return o_snap, d_snap
