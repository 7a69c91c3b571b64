"""Incremental accessibility: a base matrix and its per-cell reductions, updated one venue at a time.

:class:`AccessibilityState` holds the travel times from every cell to every venue (one *column* per venue) and the
reductions of the indicators per cell and venue category. Adding or removing a venue costs one search from that
venue (:func:`venue_column`: a bounded Dijkstra on the reversed street graph, seeded at the venue's snapped
position, read at the cells' snapped positions; equal to the forward matrix) plus an update of each indicator:

* nearest (``cost_to_closest`` with n = 1): a min on add; on removal only the cells whose nearest it was are
  recomputed from the stored columns;
* cumulative (``cumulative_cutoff``): +/- the capacity where the cell reaches the venue within each cutoff;
* gravity: +/- capacity x decay;
* 2SFCA: the venue's ratio ``R_j = O_j / sum_i P_i w_ij`` needs only its own column, and only the cells of its
  catchment (``w_ij > 0``) change: ``A_i +/-= R_j w_ij``.

BFCA and spatial availability renormalise over every venue: they are recomputed fully from the stored matrix (with
the :mod:`access.indicators` functions) and :attr:`AccessibilityState.last_update` says so.
For transit, a venue's column is one backward (latest-departure) range-RAPTOR from the venue
(:func:`access.network.transit.transit_columns_to`): the same per-minute times, hence the same percentiles, as the
forward transit matrix; the cells' walks to the stops are computed once per state and reused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import NetworkError, ScenarioError, ValidationError
from .._validate import check_number
from ..core import dijkstra as dj
from ..core import incremental as inc
from ..indicators import columns as ind_cols
from ..io.places import Points, read_points
from ..matrix import travel_time_matrix
from ..network.street import DEFAULT_MAX_SNAP_M
from ..options import STREET_MODES, StreetOptions, TransitOptions
from ..routing.street import apply_point_pairs, graph_at_speed, point_pair_times
from ._sparse import Catchments, sparsify, time_dtype
from ._venues import normalise_venues

if TYPE_CHECKING:
    from ..indicators.decay import DecayFunction
    from ._streets import StreetEdits

INF = int(dj.INF)
STORAGES = ("sparse", "dense")
MEASURES = ind_cols.MEASURES
FULL_MEASURES = ("bfca", "spatial_availability")


# ------------------------------------------------------------------------------------------------ one column
def _venue_numbers(venue_id, lon, lat, capacity) -> tuple[float, float, float]:
    """A venue's position and capacity checked as the scenario files check them (finite, in range)."""
    if venue_id is None or (isinstance(venue_id, float) and np.isnan(venue_id)):
        raise ValidationError(f"`venue_id` must be an id (a string or a whole number), got {venue_id!r}")
    for name, v in (("lon", lon), ("lat", lat), ("capacity", capacity)):
        if isinstance(v, str):  # as in a scenario file: "2" is a string, not a number
            raise ValidationError(f"`{name}` must be a number (not a string), got {v!r}")
    lon = check_number("lon", lon, ge=-180, le=180)
    lat = check_number("lat", lat, ge=-90, le=90)
    return lon, lat, check_number("capacity", capacity, ge=0)


def _check_category(category) -> None:
    if category is not None and not isinstance(category, str):
        raise ValidationError(f"`category` must be a string such as 'library', got {category!r}")


def _street_graph(network, mode, walk_speed_kmh=3.6, bike_speed_kmh=12.0):
    speed = {"walk": walk_speed_kmh, "bike": bike_speed_kmh}.get(mode)
    g = network if hasattr(network, "first_out") else network.street(mode)
    return graph_at_speed(g, speed)


def venue_columns(network, mode: str, cells_snap, lon, lat, max_time_s: int, *, walk_speed_kmh: float = 3.6,
                  bike_speed_kmh: float = 12.0, max_snap_m: float = DEFAULT_MAX_SNAP_M,
                  cells: Points | None = None, transit: dict | None = None,
                  allow_unsnapped: bool = False, cache: dict | None = None) -> np.ndarray:
    """int32[n_cells, k]: seconds from every cell to each of the points ``lon, lat`` (``-1`` unreachable).

    Street modes: one bounded Dijkstra per point on the reversed graph (``prange`` over points), seeded at the
    point's snapped position and read at the cells' snapped positions (``cells_snap``, from ``graph.snap`` on the
    same graph), plus the direct times of points on the same street segment; this equals the forward matrix of
    :func:`access.travel_time_matrix` exactly, given ``cells`` (Points) for the pairs at the very same place (0 s).
    Transit: one backward range-RAPTOR per point (:func:`access.network.transit.transit_columns_to`), equal to the
    transit matrix of :func:`access.travel_time_matrix` with these points as destinations (needs ``cells`` and the
    ``transit`` settings: ``departure``, ``window_min``, ``percentiles`` (the first is returned), ``max_walk_min``,
    ``max_rides``). ``cache``, a dict kept by the caller, holds the cells' snapping and walks to the stops between
    calls.

    Raises
    ------
    NetworkError
        A point farther than ``max_snap_m`` from the network (``allow_unsnapped``: its column is all ``-1``).
    """
    lon = np.atleast_1d(np.asarray(lon, np.float64))
    lat = np.atleast_1d(np.asarray(lat, np.float64))
    if mode == "transit":
        if cells is None:
            raise ValidationError("transit venue columns need `cells` (Points) and the `transit` settings")
        return _transit_columns(network, cells, lon, lat, max_time_s, walk_speed_kmh, max_snap_m, allow_unsnapped,
                                cache, **_transit_kwargs(transit))
    rows = _street_rows(network, mode, cells_snap, lon, lat, max_time_s, walk_speed_kmh, bike_speed_kmh, max_snap_m,
                        cells, allow_unsnapped)
    return np.asfortranarray(dj.to_public(rows).T)


def _street_rows(network, mode, cells_snap, lon, lat, max_time_s, walk_speed_kmh, bike_speed_kmh, max_snap_m, cells,
                 allow_unsnapped) -> np.ndarray:
    """int32[k, n_cells] (one row per point, C order): :func:`venue_columns` for a street mode, ``INF`` where
    unreachable (the reverse searches, lowered to the point-pair times)."""
    g = _street_graph(network, mode, walk_speed_kmh, bike_speed_kmh)
    vs = _snap_points(g, lon, lat, max_snap_m, mode, allow_unsnapped)
    f, h, w = g.csr(reverse=True)
    if len(lon) == 1:  # one venue: a serial search (no thread-pool start-up)
        col = inc.column_to_point(f, h, w, vs.egress_node[0], vs.egress_cost_s[0], cells_snap.access_node,
                                  cells_snap.access_cost_s, np.int32(max_time_s))
        out = col.reshape(1, -1)
        out[out < 0] = dj.INF
    else:
        out = dj.od_matrix(f, h, w, vs.egress_node, vs.egress_cost_s, cells_snap.access_node,
                           cells_snap.access_cost_s, np.int32(max_time_s))
    pts = Points(np.arange(len(lon)), lon, lat, None, "venues")
    i, j, t = point_pair_times(g, cells_snap, vs, max_time_s, cells, pts)  # (cell, point, seconds)
    if len(i):
        np.minimum.at(out, (j, i), t)
    return out


def _snap_points(g, lon, lat, max_snap_m, mode, allow_unsnapped):
    vs = g.snap(lon, lat, max_snap_m=max_snap_m, warn=False)
    if not vs.snapped.all() and not allow_unsnapped:
        bad = np.flatnonzero(~vs.snapped)
        raise NetworkError(f"point(s) {[(float(lon[i]), float(lat[i])) for i in bad[:3]]} are farther than "
                           f"max_snap_m={max_snap_m:g} m from the {mode} network")
    return vs


def _transit_kwargs(transit: TransitOptions | dict | None) -> dict:
    """A state's transit settings as keywords: a :class:`TransitOptions`, or a dict of its fields (shortcuts)."""
    if transit is None:
        return {}
    if isinstance(transit, TransitOptions):
        return {"transit": transit}
    return dict(transit)


def _transit_columns(network, cells: Points, lon, lat, max_time_s, walk_speed_kmh, max_snap_m, allow_unsnapped,
                     cache, *, transit: TransitOptions | None = None, departure=None, window_min: int | None = None,
                     percentiles=None, max_walk_min=None, max_rides: int | None = None, per_minute: bool = False,
                     chunk_size=None, search=None) -> np.ndarray:
    """:func:`venue_columns` for transit: the settings and defaults of :func:`access.travel_time_matrix`, the cells
    and points snapped as it does, then one backward range-RAPTOR per point (first percentile). ``per_minute`` and
    ``chunk_size`` (matrix settings) do not change a column."""
    from ..matrix import transit_options
    from ..routing.transit import transit_access, transit_columns_to

    to = transit_options(network, transit, departure=departure, window_min=window_min, percentiles=percentiles,
                         max_walk_min=max_walk_min, max_rides=max_rides)
    to = to.replace(percentiles=to.percentiles[:1])
    max_time_s = int(max_time_s)
    max_walk_s = to.max_walk_s(max_time_s)
    walk = network.street("walk")
    g = graph_at_speed(walk, walk_speed_kmh)
    key = ("transit_access", max_walk_s, float(walk_speed_kmh), float(max_snap_m))
    hit = cache.get(key) if cache is not None else None
    if hit is not None and hit[0] is network.timetable and hit[1] is walk and hit[2] is cells:
        c_snap, acc = hit[3], hit[4]
    else:
        c_snap = g.snap(cells.lon, cells.lat, max_snap_m=max_snap_m, ids=cells.ids, warn=False)
        acc = transit_access(network, c_snap, max_walk_s=max_walk_s, walk_speed_kmh=walk_speed_kmh)
        if cache is not None:
            cache[key] = (network.timetable, walk, cells, c_snap, acc)
    vs = _snap_points(g, lon, lat, max_snap_m, "walk", allow_unsnapped)
    pts = Points(np.arange(len(lon)), lon, lat, None, "venues")
    times, _ = transit_columns_to(network, c_snap, vs, options=to, street=StreetOptions(walk_speed_kmh=walk_speed_kmh),
                                  max_time_s=max_time_s, origin_points=cells, dest_points=pts, access=acc)
    return np.asfortranarray(times[:, :, 0])


def _point_pairs(g, out, o_snap, d_snap, o_pts, d_pts, max_time_s) -> np.ndarray:
    """:func:`access.matrix.apply_point_pairs` for these points: ``out`` (INF for unreached) lowered to the
    same-segment and same-place times, in public form (-1 unreachable)."""
    return apply_point_pairs(out, point_pair_times(g, o_snap, d_snap, max_time_s, o_pts, d_pts))


def venue_column(network, mode: str, cells_snap, lon: float, lat: float, max_time_s: int, **kw) -> np.ndarray:
    """int32[n_cells]: seconds from every cell to one point (``-1`` unreachable); see :func:`venue_columns`.

    Examples
    --------
    >>> col = venue_column(net, "walk", state.cells_snap, -51.22, -30.03, 3600)  # doctest: +SKIP
    >>> state.gain_if_added(col, capacity=1, category="library")  # doctest: +SKIP
    """
    return np.ascontiguousarray(venue_columns(network, mode, cells_snap, [lon], [lat], max_time_s, **kw)[:, 0])


def _column_blocks(network, mode, cells_snap, cells: Points, vdf: pd.DataFrame, max_time_s: int, kw: dict,
                   transit: dict, progress: bool):
    """By-venue CSR parts ``(counts, cells, times)`` of blocks of venues (one reverse search each,
    :func:`venue_columns`; :func:`access.core.incremental.rows_to_csr`), a block's dense times holding at most
    2**24 entries; venues off the network get empty catchments and one warning (as the matrix gives them
    ``-1``)."""
    import warnings

    from tqdm.auto import tqdm

    from .._errors import AccessWarning

    n, k = len(cells), len(vdf)
    b = int(min(512, max(16, (1 << 24) // max(n, 1))))
    lon, lat = vdf["lon"].to_numpy(np.float64), vdf["lat"].to_numpy(np.float64)
    snap_kw = {x: kw[x] for x in ("walk_speed_kmh", "bike_speed_kmh", "max_snap_m")}
    if mode == "transit":
        snap_kw.pop("bike_speed_kmh")
        snap_kw["transit"] = dict(transit)
    g = _street_graph(network, "walk" if mode == "transit" else mode, kw["walk_speed_kmh"], kw["bike_speed_kmh"])
    ok = g.snap(lon, lat, max_snap_m=kw["max_snap_m"], warn=False).snapped
    if not ok.all():
        bad = vdf["id"].to_numpy()[~ok]
        warnings.warn(f"{len(bad)} of {k} venues are farther than max_snap_m={kw['max_snap_m']:g} m from the "
                      f"{g.mode} network and are unreachable, e.g. ids {bad[:8].tolist()}; raise max_snap_m or check "
                      "their coordinates", AccessWarning, stacklevel=3)
    cache: dict = {}
    bar = tqdm(total=k, desc=f"{mode} venues", unit="venue", disable=not progress)
    if mode != "transit":
        yield from _street_catchments(g, cells_snap, cells, lon, lat, max_time_s, kw["max_snap_m"], bar)
        bar.close()
        return
    for a in range(0, k, b):
        z = min(k, a + b)
        if mode == "transit":
            rows = np.ascontiguousarray(venue_columns(network, mode, cells_snap, lon[a:z], lat[a:z], max_time_s,
                                                      cells=cells, allow_unsnapped=True, cache=cache, **snap_kw).T)
            rows[rows < 0] = dj.INF
        else:
            rows = _street_rows(network, mode, cells_snap, lon[a:z], lat[a:z], max_time_s, kw["walk_speed_kmh"],
                                kw["bike_speed_kmh"], kw["max_snap_m"], cells, True)
        yield inc.rows_to_csr(rows, np.empty(0, time_dtype(max_time_s)))
        bar.update(z - a)
    bar.close()


def _street_catchments(g, cells_snap, cells: Points, lon, lat, max_time_s: int, max_snap_m: float, bar):
    """By-venue CSR parts of the venues' catchments on a street graph (:func:`access.core.dijkstra.catchment_rows`:
    one reverse search per venue read only at the nodes it touched, lowered to the point-pair times), in blocks
    whose padded rows hold at most 2**23 entries; equal, pair for pair, to the dense columns of
    :func:`venue_columns`."""
    import numba

    n, k = len(cells), len(lon)
    dtype = time_dtype(max_time_s)
    an, ac = cells_snap.access_node, cells_snap.access_cost_s
    ok = (an >= 0) & (ac >= 0)
    ci = np.broadcast_to(np.arange(n, dtype=np.int32)[:, None], an.shape)[ok]
    nn, cc = an[ok].astype(np.int64), ac[ok]
    o = np.argsort(nn, kind="stable")
    cptr = np.zeros(g.n_nodes + 1, np.int64)
    np.add.at(cptr, nn + 1, 1)
    cptr = np.cumsum(cptr)
    ccell, ccost = np.ascontiguousarray(ci[o], np.int32), np.ascontiguousarray(cc[o], np.int32)
    vs = g.snap(lon, lat, max_snap_m=max_snap_m, warn=False)
    pts = Points(np.arange(k), lon, lat, None, "venues")
    pi, pj, pt = point_pair_times(g, cells_snap, vs, max_time_s, cells, pts)  # (cell, venue, seconds)
    po = np.argsort(pj, kind="stable")
    p_cell, p_s = np.ascontiguousarray(pi[po], np.int32), np.ascontiguousarray(pt[po], np.int32)
    pv_off = np.zeros(k + 1, np.int64)
    np.add.at(pv_off, pj.astype(np.int64) + 1, 1)
    pv_off = np.cumsum(pv_off)
    f, h, w = g.csr(reverse=True)
    threads = 2 * numba.get_num_threads()
    like = np.empty(0, dtype)
    cap, a, budget = n, 0, 1 << 23
    while a < k:
        z = min(k, a + max(16, budget // max(cap, 1)))
        args = (f, h, w, vs.egress_node[a:z], vs.egress_cost_s[a:z], cptr, ccell, ccost, n, pv_off[a:z + 1] - pv_off[a],
                p_cell[pv_off[a]:pv_off[z]], p_s[pv_off[a]:pv_off[z]], np.int32(max_time_s))
        counts, oc, ot = dj.catchment_rows(*args, cap, threads)
        if counts.max(initial=0) > cap:  # a catchment larger than the rows: this block again, wide enough
            counts, oc, ot = dj.catchment_rows(*args, int(counts.max()), threads)
        yield inc.padded_to_csr(counts, oc, ot, like)
        bar.update(z - a)
        a = z
        cap = int(min(n, max(256, 2 * counts.max(initial=0))))


# ------------------------------------------------------------------------------------------------ the state
@dataclass
class IndicatorSettings:
    """What the state keeps up to date: cutoffs (minutes), decay functions (of minutes), full measures."""

    cutoffs_min: tuple = (15.0, 30.0)
    gravity_decay: DecayFunction | None = None  # (None: exponential 0.1, set in __post_init__)
    fca_decay: DecayFunction | None = None  # (None: binary at the last cutoff)
    full_measures: tuple = ()

    def __post_init__(self):
        from ..indicators.decay import decay_binary, decay_exponential

        c = np.sort(np.atleast_1d(np.asarray(self.cutoffs_min, np.float64)))
        if len(c) == 0 or not np.all(np.isfinite(c)) or np.any(c < 0) or len(np.unique(c)) != len(c):
            raise ValidationError(f"`cutoffs_min` must be distinct numbers >= 0, got {self.cutoffs_min!r}")
        self.cutoffs_min = tuple(float(x) for x in c)
        if self.gravity_decay is None:
            self.gravity_decay = decay_exponential(0.1)
        if self.fca_decay is None:
            self.fca_decay = decay_binary(self.cutoffs_min[-1])
        bad = [m for m in self.full_measures if m not in FULL_MEASURES]
        if bad:
            raise ValidationError(f"unknown `full_measures` {bad}; use some of {FULL_MEASURES}")
        self.full_measures = tuple(self.full_measures)


def _sparse_weights(decay, times: np.ndarray) -> np.ndarray:
    """decay(minutes) of a sparse column's times (all reachable; float64[q])."""
    if not len(times):
        return np.zeros(0, np.float64)
    return np.ascontiguousarray(decay(times.astype(np.float64) / 60.0), np.float64)


def _weights(decay, col: np.ndarray) -> np.ndarray:
    """decay(minutes) where reachable, 0 elsewhere (float64[n])."""
    w = np.zeros(col.shape[0], np.float64)
    ok = col >= 0
    if ok.any():
        w[ok] = decay(col[ok].astype(np.float64) / 60.0)
    return w


@dataclass
class VenueDelta:
    """What one incremental update changed: the measures updated, the cells touched, and the seconds it took."""

    edit: str
    venue_id: object
    cells_touched: dict = field(default_factory=dict)
    recomputed_fully: tuple = ()
    seconds: float = 0.0


class AccessibilityState:
    """Travel times cells x venues and their per-cell indicator reductions, updated incrementally.

    Build with :meth:`build`; change venues with :meth:`add_venue`, :meth:`remove_venue`, :meth:`modify_venue`
    or a whole :class:`~access.scenarios.Scenario` with :meth:`apply`; read :meth:`indicators`.
    For siting, :meth:`gain_if_added` evaluates a candidate column without changing the state.

    Examples
    --------
    >>> st = AccessibilityState.build(net, cells, venues, mode="walk", max_time_min=45)  # doctest: +SKIP
    >>> st.add_venue("new", -51.22, -30.03, category="library", capacity=1)  # doctest: +SKIP
    >>> st.indicators().head()  # doctest: +SKIP
    """

    # per-cell reductions (recompute): int32[n, C] nearest seconds, float64[n, C, K] counts, [n, C] gravity, 2SFCA
    _nearest: np.ndarray
    _cum: np.ndarray
    _grav: np.ndarray
    _fca: np.ndarray

    def __init__(self, *, network, mode, cells: Points, cells_snap, population, venues: pd.DataFrame,
                 times_s: np.ndarray | None, max_time_s: int, settings: IndicatorSettings, matrix_kwargs: dict,
                 storage: str = "dense", catchments: Catchments | None = None):
        self.network = network
        self.mode = mode
        self.cells = cells
        self.cells_snap = cells_snap
        self.population = np.ascontiguousarray(population, np.float64)
        self.max_time_s = int(max_time_s)
        self.settings = settings
        self.matrix_kwargs = dict(matrix_kwargs)
        self.last_update: dict = {}
        self._cache: dict = {}  # what venue columns reuse between calls (transit: the cells' walks to the stops)
        n = len(cells)
        k = len(venues)
        cap = max(16, 2 * k)
        if storage not in STORAGES:
            raise ValidationError(f"`storage` must be one of {STORAGES}, got {storage!r}; use 'sparse' (pairs "
                                  "within the max time, by venue and by cell) or 'dense' (a cells x venues matrix)")
        self.storage = storage
        self._times: np.ndarray | None
        self._sparse: Catchments | None
        if storage == "sparse":
            self._times = None
            self._sparse = (catchments if catchments is not None
                            else Catchments.from_dense(np.asarray(times_s), time_dtype(self.max_time_s)))
            if self._sparse.n_slots != k or self._sparse.n_cells != n:
                raise ValidationError(f"the catchments hold {self._sparse.n_slots} venues x {self._sparse.n_cells} "
                                      f"cells, the state {k} x {n}")
        else:
            self._sparse = None
            self._times = np.full((n, cap), -1, np.int32, order="F")
            self._times[:, :k] = np.asarray(times_s)
        self._n = k
        self._ids = list(venues["id"].to_numpy())
        self._where = {str(v): j for j, v in enumerate(self._ids)}
        if len(self._where) != len(self._ids):
            raise ValidationError("`venues` has duplicate ids")
        self._lon = np.zeros(cap)
        self._lat = np.zeros(cap)
        self._lon[:k] = venues["lon"].to_numpy(np.float64)
        self._lat[:k] = venues["lat"].to_numpy(np.float64)
        self._capacity = np.zeros(cap)
        self._capacity[:k] = venues["capacity"].to_numpy(np.float64)
        self._active = np.zeros(cap, bool)
        self._active[:k] = True
        self.categories: list[str] = []
        self._cat = np.zeros(cap, np.int32)
        for j, c in enumerate(venues["category"].astype(str)):
            self._cat[j] = self._category_code(c, grow=False)
        self._served = np.zeros(cap)
        self._ratio = np.zeros(cap)
        self.recompute()

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, network, cells, venues, *, mode: str = "walk", max_time_min: float = 60,
              cutoffs_min=(15, 30), gravity_decay=None, fca_decay=None, full_measures=(),
              demand: str = "population", capacity: str = "capacity", category: str = "category",
              walk_speed_kmh: float | None = None, bike_speed_kmh: float | None = None,
              max_snap_m: float | None = None, progress: bool = False, storage: str = "sparse",
              street: StreetOptions | None = None, **transit) -> AccessibilityState:
        """Compute the travel times cells -> venues and every reduction.

        ``storage="sparse"`` (default) keeps only the pairs within ``max_time_min``, by venue and by cell
        (:class:`access.scenarios._sparse.Catchments`), computed by one reverse search per venue (blocks of venues,
        one dense block of at most ~64 MB in memory at a time): equal, pair for pair, to ``storage="dense"``, which
        holds the full cells x venues matrix of :func:`access.travel_time_matrix`.

        Parameters
        ----------
        network : TransportNetwork
        cells : GeoDataFrame, DataFrame or path
            Origins with ``id`` and (optional) ``demand`` column (people; 1 per cell where absent).
        venues : GeoDataFrame, DataFrame or path
            ``id``, position, optional ``category`` and ``capacity`` (1 where absent).
        mode : {"walk", "bike", "car", "transit"}
        max_time_min : float
            Trips longer than this are unreachable.
        cutoffs_min : sequence of float
            Cumulative measures' cutoffs (minutes).
        gravity_decay, fca_decay : DecayFunction
            Default ``decay_exponential(0.1)`` and ``decay_binary(max(cutoffs_min))``.
        full_measures : sequence of {"bfca", "spatial_availability"}
            Also report these (recomputed fully after every change).
        storage : {"sparse", "dense"}
            How the travel times are held (same results; sparse memory grows with the pairs within the max time).
        street : StreetOptions, optional
            Walk/bike speeds and ``max_snap_m`` (``walk_speed_kmh``, ``bike_speed_kmh``, ``max_snap_m``: shortcuts
            that override it; defaults 3.6 km/h, 12 km/h, 500 m).
        **transit
            ``transit=TransitOptions(...)``, or ``departure``, ``window_min``, ``percentiles`` ... for
            ``mode="transit"`` (first percentile used).
        """
        settings = IndicatorSettings(cutoffs_min, gravity_decay, fca_decay, tuple(full_measures))
        pts = cells if isinstance(cells, Points) else read_points(cells, name="cells")
        pop = (pd.to_numeric(pts.frame[demand], errors="coerce").fillna(0).to_numpy(np.float64)
               if pts.frame is not None and demand in pts.frame.columns else np.ones(len(pts)))
        vdf = normalise_venues(venues, capacity=capacity, category=category)
        so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                                   max_snap_m=max_snap_m)
        walk_speed_kmh, bike_speed_kmh, max_snap_m = so.walk_speed_kmh, so.bike_speed_kmh, so.max_snap_m
        kw: dict[str, Any] = dict(walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                                  max_snap_m=max_snap_m)
        max_time_s = int(round(max_time_min * 60))
        vpts = Points(vdf["id"].to_numpy(), vdf["lon"].to_numpy(np.float64), vdf["lat"].to_numpy(np.float64),
                      vdf, "venues")
        if storage not in STORAGES:
            raise ValidationError(f"`storage` must be one of {STORAGES}, got {storage!r}")
        snap = None
        if mode in STREET_MODES:
            g = _street_graph(network, mode, walk_speed_kmh, bike_speed_kmh)
            snap = g.snap(pts.lon, pts.lat, max_snap_m=max_snap_m, warn=False)
        common = {"network": network, "mode": mode, "cells": pts, "cells_snap": snap, "population": pop,
                  "venues": vdf, "max_time_s": max_time_s, "settings": settings,
                  "matrix_kwargs": {**kw, **transit}, "storage": storage}
        if storage == "dense":
            ttm = travel_time_matrix(network, pts, vpts, mode=mode, max_time_min=max_time_min, progress=progress,
                                     **kw, **transit)
            return cls(times_s=ttm.times_s[:, :, 0], **common)
        cat = Catchments.from_parts(len(pts), time_dtype(max_time_s),
                                     _column_blocks(network, mode, snap, pts, vdf, max_time_s, kw, transit, progress))
        return cls(times_s=None, catchments=cat, **common)

    @property
    def _dense(self) -> np.ndarray:
        """int32[n_cells, capacity] seconds of the dense storage (-1 unreachable)."""
        assert self._times is not None, "the dense matrix of a state with storage='sparse'"
        return self._times

    @property
    def _catchments(self) -> Catchments:
        """The sparse storage's catchments."""
        assert self._sparse is not None, "the catchments of a state with storage='dense'"
        return self._sparse

    def copy(self) -> AccessibilityState:
        """An independent copy (the network and the cells are shared, they are never modified)."""
        new = object.__new__(AccessibilityState)
        new.__dict__.update(self.__dict__)
        for k, v in self.__dict__.items():
            if isinstance(v, Catchments):
                new.__dict__[k] = v.copy()
            elif isinstance(v, np.ndarray):
                new.__dict__[k] = v.copy(order="K")
            elif isinstance(v, (list, dict)):
                new.__dict__[k] = type(v)(v)
        return new

    # ------------------------------------------------------------------ bookkeeping
    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def venue_ids(self) -> list:
        return [self._ids[j] for j in range(self._n) if self._active[j]]

    @property
    def times_s(self) -> np.ndarray:
        """int32[n_cells, n_active_venues] seconds (-1 unreachable), venues in :attr:`venue_ids` order."""
        if self._sparse is not None:
            return self._sparse.dense(np.flatnonzero(self._active[: self._n]))
        return np.ascontiguousarray(self._dense[:, : self._n][:, self._active[: self._n]])

    def catchment(self, venue_id) -> tuple[np.ndarray, np.ndarray]:
        """(cell indices int64 ascending, int32 seconds) of the cells that reach this venue within the max time."""
        j = self._index(venue_id)
        if self._sparse is not None:
            return self._sparse.cells[j].astype(np.int64), self._sparse.times[j].astype(np.int32)
        col = self._dense[:, j]
        i = np.flatnonzero(col >= 0)
        return i, col[i].astype(np.int32)

    def memory_bytes(self) -> dict:
        """Bytes held: ``times`` (the travel times: dense matrix, or both sparse views) and ``reductions``."""
        t = self._sparse.nbytes if self._sparse is not None else int(self._dense.nbytes)
        r = sum(int(getattr(self, a).nbytes) for a in ("_nearest", "_cum", "_grav", "_fca"))
        return {"times": t, "reductions": r, "total": t + r,
                "pairs": self._sparse.nnz if self._sparse is not None else int(np.count_nonzero(self._dense >= 0))}

    def venues(self) -> pd.DataFrame:
        """The current venue table ``id, lon, lat, category, capacity``."""
        a = np.flatnonzero(self._active[: self._n])
        return pd.DataFrame({"id": [self._ids[j] for j in a], "lon": self._lon[a], "lat": self._lat[a],
                             "category": [self.categories[c] for c in self._cat[a]], "capacity": self._capacity[a]})

    def _category_code(self, c: str, grow: bool = True) -> int:
        c = str(c)
        if c not in self.categories:
            self.categories.append(c)
            if grow:
                n, C = self.n_cells, len(self.categories)
                K = len(self.settings.cutoffs_min)
                self._nearest = np.concatenate([self._nearest, np.full((n, 1), INF, np.int32)], axis=1)
                self._cum = np.concatenate([self._cum, np.zeros((n, 1, K))], axis=1)
                self._grav = np.concatenate([self._grav, np.zeros((n, 1))], axis=1)
                self._fca = np.concatenate([self._fca, np.zeros((n, 1))], axis=1)
                assert self._nearest.shape[1] == C
        return self.categories.index(c)

    def _index(self, venue_id) -> int:
        j = self._where.get(str(venue_id))
        if j is not None and self._active[j]:
            return j
        raise ValidationError(f"venue id {venue_id!r} is not in the state (ids like {self.venue_ids[:3]!r})")

    def _grow(self):
        cap = len(self._lon)
        if self._n < cap:
            return
        if self._times is not None:
            new = np.full((self.n_cells, 2 * cap), -1, np.int32, order="F")
            new[:, :cap] = self._times
            self._times = new
        for name in ("_lon", "_lat", "_capacity", "_served", "_ratio"):
            a = getattr(self, name)
            setattr(self, name, np.r_[a, np.zeros(cap)])
        self._active = np.r_[self._active, np.zeros(cap, bool)]
        self._cat = np.r_[self._cat, np.zeros(cap, np.int32)]

    # ------------------------------------------------------------------ full recomputation
    def recompute(self) -> None:
        """Recompute every reduction from the stored columns (what the incremental updates must equal)."""
        n, C = self.n_cells, len(self.categories)
        K = len(self.settings.cutoffs_min)
        self._nearest = np.full((n, C), INF, np.int32)
        self._cum = np.zeros((n, C, K))
        self._grav = np.zeros((n, C))
        self._fca = np.zeros((n, C))
        for j in range(self._n):
            if self._active[j]:
                self._add_column(j)

    def _add_column(self, j: int) -> dict:
        if self._sparse is not None:
            return self._add_sparse(j)
        col = self._dense[:, j]
        c = int(self._cat[j])
        cap = float(self._capacity[j])
        touched = {}
        if cap > 0:
            touched["nearest"] = inc.min_update(self._nearest, c, col)
        cut = np.asarray(self.settings.cutoffs_min, np.float64)
        touched["cumulative"] = inc.cumulative_add(self._cum, c, col, cut, cap)
        touched["gravity"] = inc.weighted_add(self._grav, c, _weights(self.settings.gravity_decay, col), cap)
        w = _weights(self.settings.fca_decay, col)
        s = inc.weighted_demand(self.population, w)
        self._served[j] = s
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.float64(cap) / np.float64(s)
        self._ratio[j] = r
        touched["2sfca"] = inc.weighted_add(self._fca, c, w, float(r))
        return touched

    def _remove_column(self, j: int) -> dict:
        if self._sparse is not None:
            return self._remove_sparse(j)
        col = self._dense[:, j]
        c = int(self._cat[j])
        cap = float(self._capacity[j])
        self._active[j] = False
        touched = {}
        if cap > 0:
            rows = inc.rows_attaining(self._nearest, c, col)
            cols = np.flatnonzero(self._active[: self._n] & (self._cat[: self._n] == c)
                                  & (self._capacity[: self._n] > 0)).astype(np.int64)
            inc.min_recompute_rows(self._times, cols, rows, self._nearest, c)
            touched["nearest"] = int(len(rows))
        cut = np.asarray(self.settings.cutoffs_min, np.float64)
        touched["cumulative"] = inc.cumulative_add(self._cum, c, col, cut, -cap)
        touched["gravity"] = inc.weighted_add(self._grav, c, _weights(self.settings.gravity_decay, col), -cap)
        w = _weights(self.settings.fca_decay, col)
        r = float(self._ratio[j])
        if np.isfinite(r):
            touched["2sfca"] = inc.weighted_add(self._fca, c, w, -r)
        else:  # an infinite ratio (no demand in the catchment) cannot be subtracted: recompute those rows
            rows = np.flatnonzero(w != 0)
            self._recompute_fca_rows(rows, c)
            touched["2sfca"] = int(len(rows))
        return touched

    # the same reductions on the sparse catchments (entries in cell order: the dense path's floating-point sums)
    def _add_sparse(self, j: int) -> dict:
        cells, times = self._catchments.cells[j], self._catchments.times[j]
        c = int(self._cat[j])
        cap = float(self._capacity[j])
        touched = {}
        if cap > 0:
            touched["nearest"] = inc.sparse_min_update(self._nearest, c, cells, times)
        cut = np.asarray(self.settings.cutoffs_min, np.float64)
        touched["cumulative"] = inc.sparse_cumulative_add(self._cum, c, cells, times, cut, cap)
        touched["gravity"] = inc.sparse_weighted_add(self._grav, c, cells,
                                                     _sparse_weights(self.settings.gravity_decay, times), cap)
        w = _sparse_weights(self.settings.fca_decay, times)
        s = inc.sparse_weighted_demand(self.population, cells, w)
        self._served[j] = s
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.float64(cap) / np.float64(s)
        self._ratio[j] = r
        touched["2sfca"] = inc.sparse_weighted_add(self._fca, c, cells, w, float(r))
        return touched

    def _remove_sparse(self, j: int) -> dict:
        cells, times = self._catchments.cells[j], self._catchments.times[j]
        c = int(self._cat[j])
        cap = float(self._capacity[j])
        self._active[j] = False
        touched = {}
        if cap > 0:
            rows = inc.sparse_rows_attaining(self._nearest, c, cells, times)
            if len(rows):
                self._catchments.rows_min(rows, self._keep(c, positive=True), self._nearest, c)
            touched["nearest"] = len(rows)
        cut = np.asarray(self.settings.cutoffs_min, np.float64)
        touched["cumulative"] = inc.sparse_cumulative_add(self._cum, c, cells, times, cut, -cap)
        touched["gravity"] = inc.sparse_weighted_add(self._grav, c, cells,
                                                     _sparse_weights(self.settings.gravity_decay, times), -cap)
        w = _sparse_weights(self.settings.fca_decay, times)
        r = float(self._ratio[j])
        if np.isfinite(r):
            touched["2sfca"] = inc.sparse_weighted_add(self._fca, c, cells, w, -r)
        else:
            rows = cells[w != 0].astype(np.int64)
            self._recompute_fca_rows(rows, c)
            touched["2sfca"] = len(rows)
        return touched

    def _keep(self, c: int, positive: bool = False) -> np.ndarray:
        """bool[n_slots]: active venues of category ``c`` (and capacity > 0 with ``positive``)."""
        n = self._sparse.n_slots if self._sparse is not None else self._n
        keep = np.zeros(n, bool)
        keep[: self._n] = self._active[: self._n] & (self._cat[: self._n] == c)
        if positive:
            keep[: self._n] &= self._capacity[: self._n] > 0
        return keep

    def _recompute_fca_rows(self, rows: np.ndarray, c: int) -> None:
        if self._sparse is not None:
            keep = self._keep(c)
            for r in rows:
                v, t = self._sparse.row_entries(int(r), keep)
                w = _sparse_weights(self.settings.fca_decay, t).reshape(1, -1)
                self._fca[r, c] = inc.weighted_rows_sum(w, self._ratio[v], np.ones(len(v), bool))[0]
            return
        keep = self._active[: self._n] & (self._cat[: self._n] == c)
        cols = np.flatnonzero(keep)
        sub = self._dense[np.ix_(rows, cols)]
        w = np.zeros(sub.shape)
        ok = sub >= 0
        fca_decay = self.settings.fca_decay
        assert fca_decay is not None  # (IndicatorSettings.__post_init__ sets the default)
        w[ok] = fca_decay(sub[ok].astype(np.float64) / 60.0)
        self._fca[rows, c] = inc.weighted_rows_sum(w, self._ratio[cols], np.ones(len(cols), bool))

    # ------------------------------------------------------------------ incremental edits
    def _finish(self, edit, vid, touched, t0) -> VenueDelta:
        d = VenueDelta(edit, vid, touched, self.settings.full_measures, time.perf_counter() - t0)
        self.last_update = {"edit": edit, "venue_id": vid, "incremental": list(touched),
                            "recomputed_fully": list(self.settings.full_measures), "cells_touched": touched}
        return d

    def column(self, lon: float, lat: float) -> np.ndarray:
        """int32[n_cells]: seconds from every cell to a point (one search; see :func:`venue_column`)."""
        return venue_column(self.network, self.mode, self.cells_snap, lon, lat, self.max_time_s,
                            cells=self.cells, cache=self.__dict__.setdefault("_cache", {}),
                            **self._column_kw())

    def _column_kw(self) -> dict:
        kw = dict(self.matrix_kwargs)
        out = {k: kw.pop(k) for k in ("walk_speed_kmh", "bike_speed_kmh", "max_snap_m") if k in kw}
        if self.mode == "transit":
            out["transit"] = kw
            out.pop("bike_speed_kmh", None)
        return out

    def add_venue(self, venue_id, lon: float, lat: float, *, category: str = "all", capacity: float = 1.0,
                  column: np.ndarray | None = None) -> VenueDelta:
        """Add a venue: one search (or the given ``column``), then an update of every indicator."""
        t0 = time.perf_counter()
        lon, lat, capacity = _venue_numbers(venue_id, lon, lat, capacity)
        _check_category(category)
        if str(venue_id) in self._where and self._active[self._where[str(venue_id)]]:
            raise ValidationError(f"venue id {venue_id!r} already exists; give the new venue a unique id")
        col = self.column(lon, lat) if column is None else np.asarray(column, np.int32)
        if col.shape != (self.n_cells,):
            raise ValidationError(f"`column` must have {self.n_cells} entries (one per cell), got {col.shape}")
        self._grow()
        j = self._n
        self._n += 1
        if self._sparse is not None:
            if self._sparse.append(*sparsify(col, self._sparse.dtype)) != j:
                raise AssertionError("sparse slots out of step with the state's venues")  # internal invariant
        else:
            self._dense[:, j] = col
        self._ids.append(venue_id)
        self._where[str(venue_id)] = j
        self._lon[j], self._lat[j], self._capacity[j] = lon, lat, float(capacity)
        self._cat[j] = self._category_code(category if category is not None else "all")
        self._active[j] = True
        return self._finish("add", venue_id, self._add_column(j), t0)

    def remove_venue(self, venue_id) -> VenueDelta:
        """Remove a venue (no search: its stored column is subtracted)."""
        t0 = time.perf_counter()
        j = self._index(venue_id)
        return self._finish("remove", venue_id, self._remove_column(j), t0)

    def modify_venue(self, venue_id, *, capacity: float | None = None, category: str | None = None) -> VenueDelta:
        """Change a venue's capacity and/or category (no search: its column is kept)."""
        t0 = time.perf_counter()
        j = self._index(venue_id)
        if capacity is not None:
            capacity = _venue_numbers(venue_id, 0.0, 0.0, capacity)[2]
        _check_category(category)
        t1 = self._remove_column(j)
        if capacity is not None:
            self._capacity[j] = float(capacity)
        if category is not None:
            self._cat[j] = self._category_code(category)
        self._active[j] = True
        t2 = self._add_column(j)
        return self._finish("modify", venue_id, {k: t1.get(k, 0) + t2.get(k, 0) for k in set(t1) | set(t2)}, t0)

    def gain_if_added(self, column: np.ndarray, *, capacity: float = 1.0, category: str | None = None) -> dict:
        """Per-cell changes if a venue with this column were added (the state is not changed).

        Returns a dict of float64[n_cells] arrays: ``nearest_min`` (new minus old; negative = closer, 0 where
        unchanged), ``cumulative`` (n_cells x n_cutoffs), ``gravity``, ``2sfca``, and the population-weighted
        totals ``{measure}_total``. For siting: ``column`` from :func:`venue_column` or :meth:`column`.
        """
        col = np.asarray(column, np.int32)
        cat = str(category) if category is not None else (self.categories[0] if self.categories else "all")
        c = self.categories.index(cat) if cat in self.categories else -1
        old = self._nearest[:, c] if c >= 0 else np.full(self.n_cells, INF, np.int32)
        ok = (col >= 0) & (col < old) & (capacity > 0)
        oldm = np.where(old == INF, np.inf, old / 60.0)
        dn = np.zeros(self.n_cells)
        dn[ok] = col[ok] / 60.0 - oldm[ok]
        cut = np.asarray(self.settings.cutoffs_min, np.float64)
        cum = np.zeros((self.n_cells, 1, len(cut)))
        inc.cumulative_add(cum, 0, col, cut, float(capacity))
        grav = np.zeros((self.n_cells, 1))
        inc.weighted_add(grav, 0, _weights(self.settings.gravity_decay, col), float(capacity))
        w = _weights(self.settings.fca_decay, col)
        s = inc.weighted_demand(self.population, w)
        fca = np.zeros((self.n_cells, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            inc.weighted_add(fca, 0, w, float(np.float64(capacity) / np.float64(s)))
        p = self.population
        out: dict[str, Any] = {ind_cols.NEAREST_MIN: dn, ind_cols.CUMULATIVE: cum[:, 0, :],
                               ind_cols.GRAVITY: grav[:, 0], ind_cols.FCA: fca[:, 0]}
        with np.errstate(invalid="ignore"):
            out.update({f"{ind_cols.NEAREST_MIN}_total": float(np.sum(p * np.where(np.isfinite(dn), dn, 0.0))),
                        f"{ind_cols.CUMULATIVE}_total": (p[:, None] * out[ind_cols.CUMULATIVE]).sum(axis=0),
                        f"{ind_cols.GRAVITY}_total": float(np.sum(p * out[ind_cols.GRAVITY])),
                        "population_reaching": float(p[col >= 0].sum()),
                        f"{ind_cols.FCA}_total": float(np.nansum(p * out[ind_cols.FCA]))})
        return out

    def apply(self, scenario, *, inplace: bool = False) -> AccessibilityState:
        """The state after a :class:`~access.scenarios.Scenario`.

        Venue edits are applied incrementally (one search per added venue). Street edits (street modes) recompute
        only the matrix columns of the venues within ``max_time`` of an edited edge and the rows of the cells whose
        snapping changed, then the reductions (:meth:`_street_update`). Transit edits, or a transit state, rebuild
        the state on ``scenario.apply(network)``. :attr:`last_update` says what was recomputed. With a network
        edit a new state is always returned (``inplace`` applies to venue-only scenarios).
        """
        from ._spec import Scenario

        if not isinstance(scenario, Scenario):
            raise ValidationError(f"`scenario` must be an access.scenarios.Scenario (Scenario.from_file or "
                                  f"Scenario.from_dict), got {type(scenario).__name__}")
        if any(e.params.get("category") is not None for e in scenario.venue_edits):
            cats = {str(c) for c in self.categories}
            if cats != {"all"}:  # as Scenario.apply_venues: an edit's category must be the state's or the taxonomy's
                scenario.check_categories(cats)
        st = None
        if scenario.changes_network:
            applied = scenario.applied(self.network)
            net = applied.network
            st = self._street_update(net, scenario, applied.street_edits) if not scenario.of("transit") else None
            if st is None:
                return self._rebuilt(net, scenario)
        else:
            st = self if inplace else self.copy()
        street_info = st.last_update if scenario.changes_network else None
        deltas = []
        for e in scenario.venue_edits:
            p = e.params
            try:
                if e.kind == "add":
                    try:
                        col = st.column(p["lon"], p["lat"])
                    except NetworkError as exc:
                        raise e.error(f"point ({p['lon']}, {p['lat']}) is off the {st.mode} network: {exc}") from None
                    deltas.append(st.add_venue(p["id"], p["lon"], p["lat"], category=p.get("category") or "all",
                                               capacity=1.0 if p.get("capacity") is None else p["capacity"],
                                               column=col))
                elif e.kind == "remove":
                    for vid in p["ids"]:
                        deltas.append(st.remove_venue(vid))
                else:
                    for vid in p["ids"]:
                        cap = p.get("capacity")
                        if "capacity_factor" in p:
                            cap = (cap if cap is not None else st._capacity[st._index(vid)]) * p["capacity_factor"]
                        deltas.append(st.modify_venue(vid, capacity=cap, category=p.get("category")))
            except ValidationError as exc:
                if isinstance(exc, ScenarioError):
                    raise
                raise e.error(str(exc)) from None
        st.last_update = {"edit": scenario.name, "incremental": list(MEASURES),
                          "recomputed_fully": list(self.settings.full_measures),
                          "deltas": deltas, "seconds": float(sum(d.seconds for d in deltas))}
        if street_info is not None:
            st.last_update["streets"] = street_info
            st.last_update["incremental"] = ["matrix columns and rows reached by the street edits", *MEASURES]
        return st

    def _rebuilt(self, net, scenario) -> AccessibilityState:
        st = AccessibilityState.build(net, self.cells, scenario.apply_venues(self.venues()), mode=self.mode,
                                      max_time_min=self.max_time_s / 60.0, cutoffs_min=self.settings.cutoffs_min,
                                      gravity_decay=self.settings.gravity_decay, fca_decay=self.settings.fca_decay,
                                      full_measures=self.settings.full_measures, storage=self.storage,
                                      **self.matrix_kwargs)
        st.population = self.population.copy()
        st.recompute()
        st.last_update = {"edit": scenario.name, "incremental": [],
                          "recomputed_fully": ["matrix", *MEASURES, *self.settings.full_measures]}
        return st

    def _street_update(self, net, scenario, street_edits: dict[str, StreetEdits]) -> AccessibilityState | None:
        """State on an edited street network, recomputing only the matrix entries the edits can change.

        A venue's column can change only if some edited edge lies within ``max_time`` of the venue (on the old or
        the new graph): one forward search from the edited edges' end nodes (on both graphs) bounds that for every
        venue at once. Those columns are recomputed (one reverse search each), as are the rows of cells and the
        columns of venues whose snapping changed; the reductions are then recomputed from the matrix (cheap).
        Returns None (caller rebuilds) when the edits' footprint is unknown.
        """
        if self.mode not in STREET_MODES:
            return None
        kw = self._column_kw()
        g0 = _street_graph(self.network, self.mode, kw.get("walk_speed_kmh", 3.6), kw.get("bike_speed_kmh", 12.0))
        g1 = _street_graph(net, self.mode, kw.get("walk_speed_kmh", 3.6), kw.get("bike_speed_kmh", 12.0))
        st = self.copy()
        st.network = net
        t0 = time.perf_counter()
        if g1 is g0:
            st.last_update = {"streets": "this mode's graph is unchanged", "columns_recomputed": 0}
            return st
        edits = street_edits.get(self.mode)
        if edits is None or g1.n_nodes != g0.n_nodes:
            return None
        snap_m = kw.get("max_snap_m", DEFAULT_MAX_SNAP_M)
        s0 = self.cells_snap
        s1 = g1.snap(self.cells.lon, self.cells.lat, max_snap_m=snap_m, warn=False)
        cell_changed = np.flatnonzero((s0.access_node != s1.access_node).any(axis=1)
                                      | (s0.access_cost_s != s1.access_cost_s).any(axis=1))
        act = np.flatnonzero(self._active[: self._n])
        vl, vb = self._lon[act], self._lat[act]
        v0 = g0.snap(vl, vb, max_snap_m=snap_m, warn=False)
        v1 = g1.snap(vl, vb, max_snap_m=snap_m, warn=False)
        ven_changed = ((v0.egress_node != v1.egress_node).any(axis=1)
                       | (v0.egress_cost_s != v1.egress_cost_s).any(axis=1)
                       | (v0.access_node != v1.access_node).any(axis=1)
                       | (v0.access_cost_s != v1.access_cost_s).any(axis=1))
        # distance from any edited node to every node, on both graphs
        reach = np.full(len(act), INF, np.int64)
        changed = edits.changed_nodes
        if len(changed):
            seeds = changed.reshape(1, -1)
            zero = np.zeros_like(seeds)
            for g, vs in ((g0, v0), (g1, v1)):
                d = dj.sssp_many(g.first_out, g.head, g.travel_time_s, seeds, zero, np.int32(self.max_time_s))[0]
                for s in range(vs.egress_node.shape[1]):
                    nd, nc = vs.egress_node[:, s], vs.egress_cost_s[:, s]
                    ok = (nd >= 0) & (nc >= 0)
                    val = np.where(ok, d[np.maximum(nd, 0)].astype(np.int64) + nc, INF)
                    val[ok & (d[np.maximum(nd, 0)] == INF)] = INF
                    reach = np.minimum(reach, val)
        affected = act[(reach <= self.max_time_s) | ven_changed]
        if len(affected):
            speeds = {k: kw[k] for k in ("walk_speed_kmh", "bike_speed_kmh") if k in kw}
            cols = venue_columns(g1, self.mode, s1, self._lon[affected], self._lat[affected], self.max_time_s,
                                 max_snap_m=snap_m, allow_unsnapped=True, cells=self.cells, **speeds)
            if st._sparse is not None:
                for q, j in enumerate(affected):
                    st._sparse.set_column(int(j), cols[:, q])
            else:
                st._dense[:, affected] = cols
        if len(cell_changed) and len(act):
            sub = s1.subset(cell_changed)
            rows = dj.od_matrix(g1.first_out, g1.head, g1.travel_time_s, sub.access_node, sub.access_cost_s,
                                v1.egress_node, v1.egress_cost_s, np.int32(self.max_time_s))
            o_pts = Points(self.cells.ids[cell_changed], self.cells.lon[cell_changed], self.cells.lat[cell_changed],
                           None, "cells")
            v_pts = Points(np.arange(len(act)), vl, vb, None, "venues")
            block = _point_pairs(g1, rows, sub, v1, o_pts, v_pts, self.max_time_s)
            if st._sparse is not None:
                st._sparse.set_block(cell_changed, act, block)
            else:
                st._dense[np.ix_(cell_changed, act)] = block
        st.cells_snap = s1
        st.recompute()
        st.last_update = {"edit": scenario.name, "columns_recomputed": int(len(affected)), "venues": int(len(act)),
                          "rows_recomputed": int(len(cell_changed)), "seconds": time.perf_counter() - t0,
                          "recomputed_fully": [*MEASURES, *self.settings.full_measures]}
        return st

    # ------------------------------------------------------------------ outputs
    def long_matrix(self) -> pd.DataFrame:
        """The stored matrix as a long table ``from_id, to_id, travel_time`` (minutes; unreachable pairs left out)."""
        vids = np.asarray(self.venue_ids, dtype=object)
        if self._sparse is not None:  # no dense matrix: the pairs, in the dense order (cell, then venue)
            act = np.flatnonzero(self._active[: self._n])
            i = np.concatenate([self._sparse.cells[j] for j in act]) if len(act) else np.zeros(0, np.int32)
            t = np.concatenate([self._sparse.times[j] for j in act]) if len(act) else np.zeros(0, np.int32)
            j = np.repeat(np.arange(len(act)), [len(self._sparse.cells[a]) for a in act])
            o = np.lexsort((j, i))
            i, j, t = i[o], j[o], t[o].astype(np.int32)
            return pd.DataFrame({"from_id": self.cells.ids[i], "to_id": vids[j], "travel_time": t / 60.0})
        T = self.times_s
        i, j = np.nonzero(T >= 0)
        return pd.DataFrame({"from_id": self.cells.ids[i], "to_id": vids[j], "travel_time": T[i, j] / 60.0})

    def land_use(self) -> pd.DataFrame:
        """Cells and venues in one land-use table (``id, population, capacity, category``) for access.indicators."""
        v = self.venues()
        cells = pd.DataFrame({"id": self.cells.ids, "population": self.population, "capacity": 0.0,
                              "category": ""})
        return pd.concat([cells, pd.DataFrame({"id": v["id"], "population": 0.0, "capacity": v["capacity"],
                                               "category": v["category"]})], ignore_index=True)

    def indicators(self) -> pd.DataFrame:
        """Per cell: ``id, population`` and, per venue category ``c``: ``time_c`` (minutes to the nearest venue,
        inf when none), ``cum{cutoff}_c`` (capacity reachable within the cutoff), ``gravity_c``, ``fca2_c``
        (+ ``bfca_c``, ``sa_c`` when asked: recomputed fully); names from :mod:`access.indicators.columns`."""
        out = {"id": self.cells.ids, "population": self.population}
        for c, name in enumerate(self.categories):
            nr = self._nearest[:, c]
            out[ind_cols.state_col(ind_cols.NEAREST, name)] = np.where(nr == INF, np.inf, nr / 60.0)
            for k, cut in enumerate(self.settings.cutoffs_min):
                out[ind_cols.state_col(ind_cols.CUMULATIVE, name, cut)] = self._cum[:, c, k].copy()
            out[ind_cols.state_col(ind_cols.GRAVITY, name)] = self._grav[:, c].copy()
            out[ind_cols.state_col(ind_cols.FCA, name)] = self._fca[:, c].copy()
        df = pd.DataFrame(out)
        if self.settings.full_measures:
            df = self._full_measures(df)
        df.attrs["recomputed_fully"] = list(self.settings.full_measures)
        return df

    def _full_measures(self, df: pd.DataFrame) -> pd.DataFrame:
        from ..indicators import floating_catchment_area, spatial_availability

        m, lu = self.long_matrix(), self.land_use()
        for meas in self.settings.full_measures:
            if meas == "bfca":
                r = floating_catchment_area(m, lu, opportunity="capacity", demand="population", method="bfca",
                                            decay_function=self.settings.fca_decay, group_by="category")
            else:
                r = spatial_availability(m, lu, opportunity="capacity", demand="population",
                                         decay_function=self.settings.fca_decay, group_by="category")
            for cat in self.categories:
                sub = r[r["category"] == cat].set_index("id")["capacity"]
                df[ind_cols.state_col(meas, cat)] = sub.reindex(df["id"]).fillna(0.0).to_numpy()
        return df
