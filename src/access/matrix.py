"""Origin-destination travel-time matrices: validate, snap, batch origins, call kernels, shape results.

The public entry point is :func:`travel_time_matrix`, which mirrors r5py's ``TravelTimeMatrix``: a long table
``from_id, to_id, travel_time`` (minutes, NaN when unreachable within ``max_time_min``), with one
``travel_time_pNN`` column per percentile for transit over a departure window.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ._errors import NetworkError, ValidationError
from ._io_util import atomic_path
from ._units import minutes
from ._validate import check_choice
from .io.places import Points, read_points
from .network.street import Snap
from .options import ALL_MODES, DEFAULT_MAX_TIME_MIN, STREET_MODES, StreetOptions, TransitOptions, check_max_time_min
from .routing.street import _chunks, graph_at_speed, snap_points, street_od_times
from .routing.transit import transit_access, transit_columns_to, transit_travel_times

if TYPE_CHECKING:
    from .network.bundle import TransportNetwork

__all__ = ["TravelTimeMatrix", "travel_time_matrix", "nearest_times", "arrive_by_columns",
           "latest_departure_offsets", "long_table", "LongTableWriter",
           "transit_options", "use_backward", "STREET_MODES", "ALL_MODES"]


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
    #: arrive-by queries only: datetime64[s] [n_o, n_d] latest departure arriving by the deadline (NaT unreachable)
    departure_time: np.ndarray | None = None

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

    def minutes(self, k: int = 0, *, whole_minutes: bool = False) -> np.ndarray:
        """float64[n_o, n_d] minutes for percentile index ``k`` (NaN unreachable); ``whole_minutes`` truncates
        the seconds to whole minutes as R5 reports them (59 s -> 0 min)."""
        t = minutes(self.times_s[:, :, k])
        return np.floor(t) if whole_minutes else t

    def to_frame(self, *, drop_unreachable: bool = False, whole_minutes: bool = False) -> pd.DataFrame:
        """Long table ``from_id, to_id, travel_time`` (or ``travel_time_pNN`` columns), minutes, NaN unreachable;
        ``whole_minutes=True`` truncates to whole minutes as R5/r5r output (compare with their tables)."""
        n_o, n_d = self.shape
        df = pd.DataFrame({"from_id": np.repeat(self.from_ids, n_d), "to_id": np.tile(self.to_ids, n_o)})
        for k, col in enumerate(self.time_columns):
            df[col] = self.minutes(k, whole_minutes=whole_minutes).reshape(-1)
        if self.departure_time is not None:
            df["departure_time"] = pd.to_datetime(np.asarray(self.departure_time).reshape(-1))
        if drop_unreachable:
            df = df[df[self.time_columns].notna().any(axis=1)].reset_index(drop=True)
        return df

    def to_arrow(self, *, drop_unreachable: bool = True) -> pa.Table:
        """The long table as Arrow: ``from_id, to_id`` (strings, the one id encoding of every matrix file), one
        float64 minutes column per percentile (NaN unreachable)."""
        return long_table(self.from_ids, self.to_ids, self.times_s, self.time_columns,
                          drop_unreachable=drop_unreachable, departure_time=self.departure_time)

    def to_parquet(self, path: str | Path, *, drop_unreachable: bool = False, origins_per_row_group: int = 256
                   ) -> Path:
        """Write the long table to Parquet atomically, one row group per block of origins
        (:class:`LongTableWriter`: the one matrix writer)."""
        path = Path(path)
        with LongTableWriter(path, settings=dict(mode=self.mode, percentiles=list(self.percentiles),
                                                 **self.settings)) as w:
            for a in range(0, max(self.shape[0], 1), origins_per_row_group):
                b = a + origins_per_row_group
                w.write(long_table(self.from_ids[a:b], self.to_ids, self.times_s[a:b], self.time_columns,
                                   drop_unreachable=drop_unreachable,
                                   departure_time=None if self.departure_time is None else self.departure_time[a:b]))
        return path


def long_table(from_ids: np.ndarray, to_ids: np.ndarray, times_s: np.ndarray, columns: Sequence[str], *,
               drop_unreachable: bool = True, departure_time: np.ndarray | None = None) -> pa.Table:
    """Pairs of a block of a matrix (``times_s`` int32[n_o, n_d, n_p], -1 unreachable) as the long Arrow table every
    matrix file holds: ids as strings (Parquet dictionary-encodes them on disk), minutes float64 (NaN for a
    percentile that is unreachable while another is not); unreachable pairs left out with ``drop_unreachable``;
    arrive-by matrices add ``departure_time`` (``departure_time``: datetime64[n_o, n_d], NaT unreachable)."""
    t = np.asarray(times_s)
    if drop_unreachable:
        i, j = np.nonzero((t >= 0).any(axis=2))
    else:
        i = np.repeat(np.arange(t.shape[0]), t.shape[1])
        j = np.tile(np.arange(t.shape[1]), t.shape[0])
    cols = {"from_id": _str_ids(from_ids).take(pa.array(i.astype(np.int64))),
            "to_id": _str_ids(to_ids).take(pa.array(j.astype(np.int64)))}
    for k, c in enumerate(columns):
        cols[c] = pa.array(minutes(t[i, j, k]), pa.float64())
    if departure_time is not None:  # arrive-by matrices: the latest departure (local time), null unreachable
        dep = np.asarray(departure_time).astype("datetime64[s]")[i, j]
        cols["departure_time"] = pa.array(dep, pa.timestamp("s"), mask=np.isnat(dep))
    return pa.table(cols)


def _str_ids(ids: np.ndarray) -> pa.Array:
    """User ids as an Arrow string array (ids are strings in every matrix file: ``"01001"`` stays ``"01001"``)."""
    ids = np.asarray(ids)
    return pa.array([str(x) for x in ids] if ids.dtype == object else ids.astype(str), pa.string())


class LongTableWriter:
    """The one writer of long matrix tables: atomic (a temp file renamed on success), one row group per
    :meth:`write`, the settings as JSON in the schema metadata under ``access``.

    Examples
    --------
    >>> with LongTableWriter("walk.parquet", settings={"mode": "walk"}) as w:  # doctest: +SKIP
    ...     w.write(ttm.to_arrow())
    """

    def __init__(self, path: str | Path, *, settings: dict | None = None):
        self.path = Path(path)
        self.settings = dict(settings or {})
        self.n_rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._ctx: Any = None
        self._tmp: Path | None = None

    def __enter__(self) -> LongTableWriter:
        self._ctx = atomic_path(self.path, suffix=".parquet")
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            meta = {b"access": json.dumps(self.settings, default=str, sort_keys=True).encode()}
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
            self._writer = pq.ParquetWriter(self._tmp, table.schema)
        self._writer.write_table(table.cast(self._writer.schema))
        self.n_rows += table.num_rows

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._writer is None and exc[0] is None:  # an empty matrix still gets its schema
                self._writer = pq.ParquetWriter(self._tmp, long_table(np.zeros(0, str), np.zeros(0, str),
                                                                      np.zeros((0, 0, 1), np.int32),
                                                                      ["travel_time"]).schema)
            if self._writer is not None:
                self._writer.close()
        except BaseException as e:  # closing failed (e.g. a full disk): the temp file must not be published
            if exc[0] is None:
                exc = (type(e), e, e.__traceback__)
            self._ctx.__exit__(*exc)
            raise
        self._ctx.__exit__(*exc)


def travel_time_matrix(network: TransportNetwork, origins: Any, destinations: Any = None, *, mode: str = "walk",
                       max_time_min: float = DEFAULT_MAX_TIME_MIN, street: StreetOptions | None = None,
                       transit: TransitOptions | None = None, departure: _dt.datetime | str | None = None,
                       window_min: int | None = None, percentiles: Sequence[float] | None = None,
                       max_walk_min: float | None = None, max_rides: int | None = None,
                       walk_speed_kmh: float | None = None, bike_speed_kmh: float | None = None,
                       max_snap_m: float | None = None, per_minute: bool = False, progress: bool = True,
                       chunk_size: int | None = None, search: str | None = None,
                       arrive_by: _dt.datetime | str | None = None, access_mode: str | None = None
                       ) -> TravelTimeMatrix:
    """Travel times from every origin to every destination.

    Parameters
    ----------
    network : TransportNetwork
        Built with :meth:`access.TransportNetwork.from_files`.
    origins, destinations : GeoDataFrame, DataFrame with lon/lat, or path
        Points with a unique ``id`` column (polygons: centroids). ``destinations`` defaults to ``origins``.
    mode : {"walk", "bike", "car", "transit"}
    max_time_min : float
        Trips longer than this are unreachable (NaN); r5r's 120 by default.
    street : StreetOptions, optional
        Speeds and snapping (:class:`access.StreetOptions`).
    transit : TransitOptions, optional
        Transit only: departure, window, percentiles, rides, walking limits, search direction
        (:class:`access.TransitOptions`).
    departure, window_min, percentiles, max_walk_min, max_rides, search, access_mode : optional
        Shortcuts for the fields of ``transit`` of the same names (applied on top of it); ``access_mode="bike"``
        or ``"car"`` reaches the first stop by bike or by car (park-and-ride), see :class:`access.TransitOptions`.
    walk_speed_kmh, bike_speed_kmh, max_snap_m : float, optional
        Shortcuts for the fields of ``street``.
    per_minute : bool
        Transit only: also keep the full per-minute distribution (``per_minute_s``).
    progress : bool
        Show a progress bar.
    arrive_by : datetime or str, optional
        Arrive-by query (r5r's ``arrival_travel_time_matrix``): for each pair, the latest departure minute that
        arrives by this time (searched over the ``max_time_min`` before it; naive = local time of the feeds).
        ``travel_time`` is then ``arrive_by - departure_time`` (waiting at the destination included) and the
        table gets a ``departure_time`` column. Replaces ``departure``/``window_min``/``percentiles`` for transit;
        street modes report ``departure_time = arrive_by - travel_time``.

    Returns
    -------
    TravelTimeMatrix
        ``.to_frame()`` gives ``from_id, to_id, travel_time`` in minutes.

    Examples
    --------
    >>> ttm = travel_time_matrix(net, cells, venues, mode="walk", max_time_min=60)  # doctest: +SKIP
    >>> ttm.to_frame().head()  # doctest: +SKIP
    """
    mode = check_choice("mode", mode, ALL_MODES)
    if arrive_by is not None:
        return _arrive_by_matrix(network, origins, destinations, arrive_by, mode=mode, max_time_min=max_time_min,
                                 street=street, transit=transit, max_walk_min=max_walk_min, max_rides=max_rides,
                                 walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                                 max_snap_m=max_snap_m, progress=progress, chunk_size=chunk_size,
                                 departure=departure, window_min=window_min, percentiles=percentiles,
                                 access_mode=access_mode)
    max_time_s = int(round(check_max_time_min(max_time_min) * 60))
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                               max_snap_m=max_snap_m)
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = o if destinations is None else (destinations if isinstance(destinations, Points)
                                        else read_points(destinations, name="destinations"))
    settings: dict[str, Any] = dict(max_time_min=max_time_min, max_snap_m=so.max_snap_m)
    if mode in STREET_MODES:
        speed = so.speed_kmh(mode)
        g = graph_at_speed(network.street(mode), speed)
        if mode == "bike" and so.max_lts is not None:
            from .network.lts import limit_lts

            g = limit_lts(network, g, so.max_lts)
        o_snap, d_snap = snap_points(g, o, d, so.max_snap_m)
        # a point to itself (or to a destination at the very same place) takes no time
        times = street_od_times(g, o_snap, d_snap, max_time_s, progress=progress, chunk_size=chunk_size, o=o, d=d)
        settings.update(speed_kmh=speed, **({"max_lts": so.max_lts} if mode == "bike" and so.max_lts else {}))
        return TravelTimeMatrix(o.ids, d.ids, times[:, :, None], mode, (50,), settings=settings)
    to = transit_options(network, transit, departure=departure, window_min=window_min, percentiles=percentiles,
                         max_walk_min=max_walk_min, max_rides=max_rides, search=search, access_mode=access_mode)
    backward = use_backward(to, len(o), len(d)) and to.access_mode == "walk" and to.frequencies == "deterministic"
    g = graph_at_speed(network.street("walk"), so.walk_speed_kmh)
    o_snap, d_snap = snap_points(g, o, d, so.max_snap_m)
    if to.access_mode != "walk" and to.frequencies != "deterministic":
        from ._validate import fail

        raise fail("frequencies", "'deterministic' with access_mode='bike'/'car'", to.frequencies,
                   "Monte-Carlo schedules are available with walking access only")
    if to.access_mode != "walk":  # bike / car to the first stop (forward search only)
        from .routing.transit import transit_travel_times_by

        times, pm = transit_travel_times_by(network, o, d, options=to, street=so, max_time_s=max_time_s,
                                            per_minute=per_minute, progress=progress)
    elif backward:
        times, pm = _transit_by_destination(network, o, d, o_snap, d_snap, to, so, max_time_s, per_minute,
                                            progress=progress, chunk_size=chunk_size)
    else:
        times, pm = transit_travel_times(network, o_snap, d_snap, options=to, street=so, max_time_s=max_time_s,
                                         per_minute=per_minute, progress=progress, origin_points=o, dest_points=d)
    dep = to.require_departure()
    settings.update(departure=dep.isoformat(), window_min=to.window_min, max_walk_min=to.max_walk_min,
                    max_rides=to.max_rides, walk_speed_kmh=so.walk_speed_kmh, board_slack_s=to.board_slack_s,
                    search="backward" if backward else "forward", access_mode=to.access_mode,
                    frequencies=to.frequencies, draws_per_minute=to.draws_per_minute, seed=to.seed)
    return TravelTimeMatrix(o.ids, d.ids, times, "transit", to.percentiles, per_minute_s=pm, settings=settings)


def transit_options(network: TransportNetwork, transit: TransitOptions | None = None, **shortcuts: Any
                    ) -> TransitOptions:
    """The transit options of a query (``transit`` with the shortcuts applied), checked against the network: it
    must have a timetable and the options a departure. Every transit entry point calls this."""
    if getattr(network, "timetable", None) is None:
        raise NetworkError("mode='transit' needs a network built with GTFS feeds "
                           "(TransportNetwork.from_files(osm, gtfs=[...]) or `access network build --gtfs FEED`)")
    to = TransitOptions.resolve(transit, **shortcuts)
    to.require_departure()
    if not to.percentiles:
        raise ValidationError("`percentiles` must be at least one number in 0..100, got ()")
    return to


def use_backward(options: TransitOptions, n_origins: int, n_destinations: int) -> bool:
    """The one "auto" rule of the search direction: backward when destinations x ``backward_factor`` < origins."""
    return options.search == "backward" or (options.search == "auto"
                                            and n_destinations * options.backward_factor < n_origins)


def _transit_by_destination(network: TransportNetwork, o: Points, d: Points, o_snap: Snap, d_snap: Snap,
                            to: TransitOptions, so: StreetOptions, max_time_s: int, per_minute: bool, *,
                            progress: bool, chunk_size: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The transit matrix by backward range-RAPTOR, destinations in chunks (one progress step per chunk); the
    origins' walks to the stops are computed once."""
    from tqdm.auto import tqdm

    n_o, n_d = len(o), len(d)
    acc = transit_access(network, o_snap, max_walk_s=to.max_walk_s(max_time_s), walk_speed_kmh=so.walk_speed_kmh)
    times = np.empty((n_o, n_d, len(to.percentiles)), np.int32)
    pm = np.empty((n_o, n_d, to.window_min), np.int32) if per_minute else None
    size = chunk_size or max(8, min(256, n_d // 20 + 1))
    bar = tqdm(total=n_d, desc="transit destinations", unit="dest", disable=not progress)
    for a, b in _chunks(n_d, size):
        sub = Points(d.ids[a:b], d.lon[a:b], d.lat[a:b], None, d.name)
        t, p = transit_columns_to(network, o_snap, d_snap.subset(np.arange(a, b)), options=to, street=so,
                                  max_time_s=max_time_s, per_minute=per_minute, origin_points=o, dest_points=sub,
                                  access=acc)
        times[:, a:b] = t
        if pm is not None and p is not None:
            pm[:, a:b] = p
        bar.update(b - a)
    bar.close()
    return times, pm


def nearest_times(network: TransportNetwork, origins: Any, destinations: Any, *, mode: str = "car",
                  by: str | None = "category", max_time_min: float | None = None,
                  street: StreetOptions | None = None, transit: TransitOptions | None = None,
                  departure: _dt.datetime | str | None = None, window_min: int | None = None,
                  percentiles: Sequence[float] | None = None, max_walk_min: float | None = None,
                  max_rides: int | None = None, walk_speed_kmh: float | None = None,
                  bike_speed_kmh: float | None = None, max_snap_m: float | None = None) -> pd.DataFrame:
    """Minutes from every origin to the nearest destination of each category, without a full matrix.

    Streets: one multi-source search per category on the reversed graph (every destination of the category a
    source, with its snap cost), so the cost is a few searches, not origins x destinations; the result is exactly
    the minimum over the category's columns of :func:`travel_time_matrix` (same snapping, same point-pair rules).
    Transit: one backward range-RAPTOR per category from all its destinations at once: at each departure minute the
    earliest arrival at *any* destination of the category (the traveller goes to whichever is nearest for that
    minute), then the percentiles over the minutes (R5's nearest-rank rule); exactly the percentile of the
    per-minute minimum over the category's columns of ``travel_time_matrix(..., per_minute=True)``.

    Parameters
    ----------
    network : TransportNetwork
    origins : GeoDataFrame, DataFrame with lon/lat, or path
        Points with a unique ``id`` column (e.g. population cells).
    destinations : GeoDataFrame, DataFrame with lon/lat, or path
        Points with a unique ``id`` column and the column ``by`` (e.g. venues with their ``category``).
    mode : {"walk", "bike", "car", "transit"}
    by : str or None
        Column of ``destinations`` grouping them; ``None`` = all in one group named ``"any"``.
    max_time_min : float, optional
        Streets: no bound unless given (``inf`` then means that no destination of the category can be reached at
        all, e.g. off the network). Transit: per-minute trips longer than this are unreachable at that minute
        (default r5r's 120 min; the range-RAPTOR needs a horizon), so ``inf`` means beyond it at the percentile.
    street, transit : StreetOptions, TransitOptions, optional
        As :func:`travel_time_matrix`; the keyword shortcuts below are applied on top.
    departure, window_min, percentiles, max_walk_min, max_rides, walk_speed_kmh, bike_speed_kmh, max_snap_m
        Shortcuts, as :func:`travel_time_matrix`.

    Returns
    -------
    DataFrame
        ``id, category, travel_time`` (one ``travel_time_pNN`` column per percentile when transit asks several),
        one row per origin and category (categories sorted), minutes as float64, ``inf`` where unreachable.

    Examples
    --------
    >>> near = nearest_times(net, cells, venues, mode="car")  # doctest: +SKIP
    >>> near.pivot(index="id", columns="category", values="travel_time").head()  # doctest: +SKIP
    """
    mode = check_choice("mode", mode, ALL_MODES)
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                               max_snap_m=max_snap_m)
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = destinations if isinstance(destinations, Points) else read_points(destinations, name="destinations")
    if by is None:
        cats, groups = np.array(["any"], dtype=object), np.zeros(len(d), np.int64)
    else:
        frame = d.frame
        if frame is None or by not in frame.columns:
            raise ValidationError(f"`by` must name a column of the destinations, got {by!r} (columns: "
                                  f"{[] if frame is None else list(frame.columns)}); pass by=None for one group")
        col = frame[by]
        if col.isna().any():
            bad = d.ids[col.isna().to_numpy()][:5].tolist()
            raise ValidationError(f"destinations column {by!r} has {int(col.isna().sum())} missing value(s), e.g. "
                                  f"ids {bad}; give every destination a {by}")
        cats, groups = np.unique(col.astype(str).to_numpy(dtype=object), return_inverse=True)
        groups = groups.astype(np.int64)
    from .routing.nearest import NO_CAP_S, street_nearest_s, transit_nearest_s

    if mode in STREET_MODES:
        cap_s = NO_CAP_S if max_time_min is None else int(round(check_max_time_min(max_time_min) * 60))
        g = graph_at_speed(network.street(mode), so.speed_kmh(mode))
        o_snap, d_snap = snap_points(g, o, d, so.max_snap_m)
        times = street_nearest_s(g, o_snap, d_snap, groups, len(cats), cap_s, o, d)[:, :, None]
        cols = ["travel_time"]
    else:
        cap_s = int(round(check_max_time_min(DEFAULT_MAX_TIME_MIN if max_time_min is None else max_time_min) * 60))
        to = transit_options(network, transit, departure=departure, window_min=window_min, percentiles=percentiles,
                             max_walk_min=max_walk_min, max_rides=max_rides)
        g = graph_at_speed(network.street("walk"), so.walk_speed_kmh)
        o_snap, d_snap = snap_points(g, o, d, so.max_snap_m)
        times, _ = transit_nearest_s(network, o_snap, d_snap, groups, len(cats), options=to, street=so,
                                     max_time_s=cap_s, o=o, d=d)
        cols = (["travel_time"] if len(to.percentiles) == 1
                else [f"travel_time_p{p:g}" for p in to.percentiles])
    n_o, n_c = len(o), len(cats)
    out = pd.DataFrame({"id": np.repeat(o.ids, n_c), "category": np.tile(cats, n_o)})
    for k, c in enumerate(cols):
        t = times[:, :, k].reshape(-1)
        out[c] = np.where(t >= 0, t / 60.0, np.inf)
    return out


def _arrive_by_matrix(network: TransportNetwork, origins: Any, destinations: Any, arrive_by: Any, *, mode: str,
                      max_time_min: float, street: StreetOptions | None, transit: TransitOptions | None,
                      max_walk_min: float | None, max_rides: int | None, walk_speed_kmh: float | None,
                      bike_speed_kmh: float | None, max_snap_m: float | None, progress: bool,
                      chunk_size: int | None, departure: Any, window_min: Any, percentiles: Any,
                      access_mode: str | None = None) -> TravelTimeMatrix:
    """Arrive-by matrix: the latest departure minute in ``[T - max_time_min, T]`` whose per-minute forward
    range-RAPTOR trip arrives by ``T`` (the same labels as the forward matrices, so leaving at the reported minute
    arrives by ``T``); ``travel_time = T - departure``."""
    from ._validate import fail, parse_departure

    if departure is not None or window_min is not None or percentiles is not None:
        raise fail("arrive_by", "used without departure/window_min/percentiles", arrive_by,
                   "give either departure=... (leave at) or arrive_by=... (arrive by), not both")
    t_arr = parse_departure(arrive_by, "arrive_by").replace(second=0, microsecond=0)
    kw: dict[str, Any] = {"max_time_min": max_time_min, "street": street, "walk_speed_kmh": walk_speed_kmh,
                          "bike_speed_kmh": bike_speed_kmh, "max_snap_m": max_snap_m, "progress": progress,
                          "chunk_size": chunk_size}
    t_np = np.datetime64(t_arr.replace(tzinfo=None), "s")
    if mode in STREET_MODES:
        m = travel_time_matrix(network, origins, destinations, mode=mode, **kw)
        t = m.times_s[:, :, 0]
        m.departure_time = np.where(t >= 0, t_np - t.astype("timedelta64[s]"), np.datetime64("NaT", "s"))
        m.settings.update(arrive_by=t_arr.isoformat())
        return m
    max_time_s = round(check_max_time_min(max_time_min) * 60)
    n_win = max_time_s // 60  # departure minutes T - n_win min, ..., T
    base = transit if transit is not None else TransitOptions()
    if not isinstance(base, TransitOptions):
        raise fail("transit", "a TransitOptions", base)
    to = TransitOptions.resolve(base.replace(departure=t_arr - _dt.timedelta(minutes=n_win), window_min=n_win + 1,
                                             percentiles=(50,)), max_walk_min=max_walk_min, max_rides=max_rides,
                            access_mode=access_mode)
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = o if destinations is None else (destinations if isinstance(destinations, Points)
                                        else read_points(destinations, name="destinations"))
    # per-minute arrays are n_o x n_d x (n_win + 1): bound them by origin chunks (~64 MB each)
    size = max(1, int(16e6 // max(1, len(d) * (n_win + 1))))
    tt_s = np.full((len(o), len(d)), -1, np.int32)
    dep_off = np.full((len(o), len(d)), -1, np.int32)  # minutes after the first departure
    settings: dict[str, Any] = {}
    for a in range(0, len(o), size):
        sub = Points(o.ids[a:a + size], o.lon[a:a + size], o.lat[a:a + size], None, o.name)
        m = travel_time_matrix(network, sub, d, mode="transit", transit=to, per_minute=True, **kw)
        settings = m.settings
        assert m.per_minute_s is not None  # asked with per_minute=True
        last = latest_departure_offsets(m.per_minute_s)
        dep_off[a:a + size] = last
        tt_s[a:a + size] = np.where(last >= 0, 60 * (n_win - last), -1)
    dep_np = np.where(dep_off >= 0, t_np - (60 * (n_win - dep_off)).astype("timedelta64[s]"),
                      np.datetime64("NaT", "s"))
    settings = dict(settings, arrive_by=t_arr.isoformat(), window_min=n_win + 1)
    settings.pop("departure", None)
    return TravelTimeMatrix(o.ids, d.ids, tt_s[:, :, None], "transit", (50,), settings=settings,
                            departure_time=dep_np)


def latest_departure_offsets(per_minute_s: np.ndarray) -> np.ndarray:
    """The arrive-by rule on per-minute times ``int32[n_o, n_d, n_win + 1]`` (departure minutes ``T - n_win, ...,
    T``; ``-1`` unreachable): ``int32[n_o, n_d]`` index of the latest departure minute whose trip arrives by ``T``
    (the last minute), ``-1`` where none does. What :func:`travel_time_matrix` with ``arrive_by`` reports."""
    pm = np.asarray(per_minute_s)
    n_win = pm.shape[2] - 1
    # int32 is enough (a day of minutes plus a trip is far below 2**31) and keeps the block small
    offsets = 60 * np.arange(n_win + 1, dtype=np.int32)
    # arrival (seconds after the first departure) of each departure minute, leaving the origin then
    arr = np.where(pm >= 0, offsets[None, None, :] + pm.astype(np.int32, copy=False), np.iinfo(np.int32).max)
    ok = arr <= offsets[-1]  # arrives by T
    return np.where(ok.any(axis=2), n_win - np.argmax(ok[:, :, ::-1], axis=2), -1).astype(np.int32)


def arrive_by_columns(network: TransportNetwork, origins: Any, destinations: Any, arrive_by: _dt.datetime | str, *,
                      max_time_min: float = DEFAULT_MAX_TIME_MIN, street: StreetOptions | None = None,
                      transit: TransitOptions | None = None, max_walk_min: float | None = None,
                      max_rides: int | None = None, walk_speed_kmh: float | None = None,
                      max_snap_m: float | None = None, memory_mb: float = 256.0):
    """The transit arrive-by matrix streamed by blocks of destinations: yields ``(a, b, times_s)`` with
    ``times_s`` int32[n_origins, b - a] equal, element for element, to ``travel_time_matrix(network, origins,
    destinations, mode="transit", arrive_by=arrive_by, ...).times_s[:, a:b, 0]`` (seconds from the latest departure
    minute that arrives by ``arrive_by`` to ``arrive_by``; ``-1`` none within ``max_time_min``).

    One backward range-RAPTOR per destination over the departure minutes ``arrive_by - max_time_min .. arrive_by``,
    the origins' walks to the stops computed once; only one block of ``origins x block x minutes`` per-minute times
    is held (``memory_mb`` bounds it), so a caller can reduce over destinations (the nearest venue of a category,
    say) without an origins x destinations table.

    Examples
    --------
    >>> for a, b, t in arrive_by_columns(net, cells, venues, "2026-03-17 20:30", max_time_min=60):  # doctest: +SKIP
    ...     best = np.maximum(best, t.max(axis=1))
    """
    from ._validate import fail, parse_departure

    t_arr = parse_departure(arrive_by, "arrive_by").replace(second=0, microsecond=0)
    max_time_s = round(check_max_time_min(max_time_min) * 60)
    n_win = max_time_s // 60
    base = transit if transit is not None else TransitOptions()
    if not isinstance(base, TransitOptions):
        raise fail("transit", "a TransitOptions", base)
    to = transit_options(network, base.replace(departure=t_arr - _dt.timedelta(minutes=n_win), window_min=n_win + 1,
                                               percentiles=(50,)), max_walk_min=max_walk_min, max_rides=max_rides)
    if to.access_mode != "walk" or to.frequencies != "deterministic":
        raise fail("transit", "walking access and deterministic frequencies for arrive_by_columns", base,
                   "use travel_time_matrix(..., arrive_by=...) for bike/car access or Monte-Carlo schedules")
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, max_snap_m=max_snap_m)
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = destinations if isinstance(destinations, Points) else read_points(destinations, name="destinations")
    g = graph_at_speed(network.street("walk"), so.walk_speed_kmh)
    o_snap, d_snap = snap_points(g, o, d, so.max_snap_m)
    acc = transit_access(network, o_snap, max_walk_s=to.max_walk_s(max_time_s), walk_speed_kmh=so.walk_speed_kmh)
    # per block: the kernel's per-minute int32, the rule's int32 arrivals and two boolean masks (~12 bytes per
    # origin, destination and minute; measured peak about twice the budget with the kernel's own arrays)
    size = max(1, int(float(memory_mb) * 2**20 // (12 * max(1, len(o)) * (n_win + 1))))
    for a, b in _chunks(len(d), size):
        sub = Points(d.ids[a:b], d.lon[a:b], d.lat[a:b], None, d.name)
        _, pm = transit_columns_to(network, o_snap, d_snap.subset(np.arange(a, b)), options=to, street=so,
                                   max_time_s=max_time_s, per_minute=True, origin_points=o, dest_points=sub,
                                   access=acc)
        assert pm is not None  # asked with per_minute=True
        last = latest_departure_offsets(pm)
        yield a, b, np.where(last >= 0, 60 * (n_win - last), -1).astype(np.int32)
