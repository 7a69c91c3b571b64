"""Where should the next venue go? Siting (maximal coverage, p-median, equity variants) and itinerant tours.

The inputs are *candidate columns*: for each candidate site, the travel times from every population cell to it.
:func:`candidate_times` computes them with one bounded search per candidate (a reverse Dijkstra from the
candidate's snapped position, :func:`access.core.siting_kernels.candidate_lists`), kept sparse: only the cells
that reach the candidate within ``max_time_min``. The existing venues of the category are columns of the same
kind; they count as already open.

Solvers (kernels in :mod:`access.core.siting_kernels`):

* :func:`maximal_coverage` -- choose ``k`` sites maximising the population within ``threshold_min`` of a venue,
  greedy with lazy evaluation (CELF); ``exact=True`` also solves the case exactly (brute force over every subset,
  or an integer program with ``highspy`` when installed) and reports the greedy's gap, which the theory bounds by
  ``1 - 1/e`` of the optimum's gain;
* :func:`p_median` -- minimise the population-weighted time to the nearest venue (unreachable cells count as
  ``penalty_min``), greedy then Teitz-Bart swaps (never worse than the greedy);
* :func:`equity_coverage` -- coverage of the population of the most fragile cells or areas only (a weight per
  cell, or the typology's classes), and :func:`minimax_coverage` -- minimise the worst area's share of population
  beyond ``threshold_min``;
* :func:`itinerant_tour` / :func:`plan_tour` -- a mobile venue stopping at ``k`` places in turn, each for a share
  of the time: the population reached at least once, and the time-weighted coverage.

Results are :class:`SitingResult` objects: a table of chosen sites with the marginal gain of each, the per-cell
times before/after (:meth:`SitingResult.cell_values`), the per-area indicators before/after
(:meth:`SitingResult.compare_areas`, through :func:`access.indicators.aggregate`) and a map
(:meth:`SitingResult.plot`). How stable a choice is across departure minutes and parameter variations is
measured by :mod:`access.uncertainty`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._errors import AccessWarning, NetworkError, ValidationError
from ._units import minutes
from ._validate import check_choice
from .core import dijkstra as dj
from .core import siting_kernels as sk
from .io.places import Points, read_points
from .options import StreetOptions, TransitOptions

INF = int(dj.INF)

__all__ = [
    "CandidateTimes",
    "SitingResult",
    "candidate_times",
    "maximal_coverage",
    "exact_coverage",
    "p_median",
    "equity_coverage",
    "minimax_coverage",
    "itinerant_tour",
    "plan_tour",
]


# =============================================================================================== candidate columns
@dataclass
class CandidateTimes:
    """Travel times from every cell to each candidate site, sparse by candidate.

    The cells reaching candidate ``c`` within ``max_time_s`` are ``cell[ptr[c]:ptr[c+1]]`` (int32 cell indices)
    with seconds ``time_s[ptr[c]:ptr[c+1]]``; the others do not reach it within the bound. ``per_minute_s``
    (transit, on request) is the dense int32[n_cells, n_sites, n_minutes] per departure minute (-1 unreachable).
    """

    cell_ids: np.ndarray
    site_ids: np.ndarray
    ptr: np.ndarray
    cell: np.ndarray
    time_s: np.ndarray
    max_time_s: int
    mode: str
    cell_lon: np.ndarray | None = None
    cell_lat: np.ndarray | None = None
    site_lon: np.ndarray | None = None
    site_lat: np.ndarray | None = None
    per_minute_s: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        return int(self.ptr.shape[0] - 1)

    @property
    def n_cells(self) -> int:
        return int(self.cell_ids.shape[0])

    def __len__(self) -> int:
        return self.n_sites

    def __repr__(self) -> str:
        return (f"CandidateTimes(mode={self.mode!r}, {self.n_sites:,} sites x {self.n_cells:,} cells, "
                f"{int(self.ptr[-1]):,} pairs within {self.max_time_s / 60:g} min)")

    def dense(self) -> np.ndarray:
        """int32[n_cells, n_sites] seconds, ``-1`` unreachable within the bound (the matrix's layout)."""
        return sk.csr_to_dense(self.ptr, self.cell, self.time_s, self.n_cells)

    def index_of(self, site_ids) -> np.ndarray:
        """Positions of user site ids (error naming the unknown ones)."""
        pos = pd.Index(self.site_ids).get_indexer(list(site_ids))
        if (pos < 0).any():
            bad = [s for s, p in zip(site_ids, pos) if p < 0][:5]
            raise ValidationError(f"site id(s) {bad!r} are not among the candidates (ids like "
                                  f"{self.site_ids[:3].tolist()!r})")
        return pos.astype(np.int64)

    def subset(self, idx) -> CandidateTimes:
        """The candidates at positions ``idx`` (same cells)."""
        idx = np.asarray(idx, np.int64)
        counts = (self.ptr[idx + 1] - self.ptr[idx]).astype(np.int64)
        ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
        pos = (np.repeat(self.ptr[idx] - ptr[:-1], counts) + np.arange(ptr[-1])).astype(np.int64)

        def sel(a):
            return None if a is None else a[idx]
        return CandidateTimes(self.cell_ids, self.site_ids[idx], ptr, self.cell[pos], self.time_s[pos],
                              self.max_time_s, self.mode, self.cell_lon, self.cell_lat, sel(self.site_lon),
                              sel(self.site_lat),
                              None if self.per_minute_s is None else self.per_minute_s[:, idx],
                              dict(self.settings))

    def at_minute(self, m: int) -> CandidateTimes:
        """The candidate columns at departure minute ``m`` of the window (transit with ``per_minute=True``)."""
        if self.per_minute_s is None:
            raise ValidationError("these candidate times have no per-minute distribution; compute them with "
                                  "mode='transit' and per_minute=True")
        n_m = self.per_minute_s.shape[2]
        if not 0 <= m < n_m:
            raise ValidationError(f"minute {m} out of the window 0..{n_m - 1}")
        out = from_dense(np.ascontiguousarray(self.per_minute_s[:, :, m]), self.cell_ids, self.site_ids,
                         self.max_time_s, self.mode, settings=dict(self.settings, minute=int(m)))
        out.cell_lon, out.cell_lat, out.site_lon, out.site_lat = (self.cell_lon, self.cell_lat, self.site_lon,
                                                                  self.site_lat)
        return out

    @property
    def n_minutes(self) -> int:
        return 0 if self.per_minute_s is None else int(self.per_minute_s.shape[2])

    @classmethod
    def from_matrix(cls, ttm, *, max_time_min: float | None = None, percentile_index: int = 0) -> CandidateTimes:
        """From a :class:`~access.matrix.TravelTimeMatrix` with cells as origins and candidates as destinations."""
        max_s = int(round(max_time_min * 60)) if max_time_min is not None else int(
            round(float(ttm.settings.get("max_time_min", 120)) * 60))
        out = from_dense(np.ascontiguousarray(ttm.times_s[:, :, percentile_index]), ttm.from_ids, ttm.to_ids, max_s,
                         ttm.mode, settings=dict(ttm.settings))
        out.per_minute_s = ttm.per_minute_s
        return out


def from_dense(times_s: np.ndarray, cell_ids, site_ids, max_time_s: int, mode: str, *,
               settings: dict | None = None) -> CandidateTimes:
    """:class:`CandidateTimes` from a dense int32[n_cells, n_sites] array (-1 unreachable)."""
    t = np.asarray(times_s)
    if t.ndim != 2 or t.shape != (len(cell_ids), len(site_ids)):
        raise ValidationError(f"`times_s` must be [n_cells, n_sites] = [{len(cell_ids)}, {len(site_ids)}], "
                              f"got {t.shape}")
    block = np.where(t < 0, INF, t).astype(np.int32).T.copy()
    counts, cell, ts = sk.block_to_csr(block, np.int32(max_time_s))
    ptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
    return CandidateTimes(np.asarray(cell_ids), np.asarray(site_ids), ptr, cell, ts, int(max_time_s), mode,
                          settings=dict(settings or {}))


def _points(obj, name: str) -> Points:
    return obj if isinstance(obj, Points) else read_points(obj, name=name)


def candidate_times(network, cells, sites, *, mode: str = "walk", max_time_min: float = 60.0,
                    street: StreetOptions | None = None, transit: TransitOptions | None = None,
                    walk_speed_kmh: float | None = None, bike_speed_kmh: float | None = None,
                    max_snap_m: float | None = None, departure=None, window_min: int | None = None,
                    percentile: float | None = None, max_walk_min: float | None = None, max_rides: int | None = None,
                    per_minute: bool = False, chunk_size: int = 2048, progress: bool = False,
                    name: str = "candidates", row_capacity: int = 4096, strategy: str = "auto") -> CandidateTimes:
    """Travel times from every cell to every candidate site: one bounded search per candidate (or per cell).

    Street modes: a reverse Dijkstra from each candidate's snapped position (seeded with its egress nodes and
    costs) read at the cells' access nodes (:func:`access.core.siting_kernels.candidate_lists`, ``prange`` over
    candidates; only the cells reached are written, so memory and time do not grow with cells x candidates);
    equal to the columns of :func:`access.travel_time_matrix` from the cells to the candidates.
    Transit: the columns come from :func:`access.travel_time_matrix` (cells x candidates), by one backward
    range-RAPTOR per candidate ("reverse") or a forward one per cell ("forward"), with the per-minute times when
    ``per_minute``; the same times either way.

    Parameters
    ----------
    network : TransportNetwork or StreetGraph
        A street graph is used as is for street modes.
    cells : GeoDataFrame, DataFrame with lon/lat, Points or path
        Population cells with a unique ``id``. Cells off the network are unreachable (one warning).
    sites : same kinds
        Candidate sites (or existing venues) with unique ``id``.
    mode : {"walk", "bike", "car", "transit"}
    max_time_min : float
        Search bound: cells farther than this from a candidate are not listed.
    street, transit : StreetOptions, TransitOptions, optional
        The query's settings, as in :func:`access.travel_time_matrix`; the first of ``transit.percentiles`` is the
        travel-time percentile over the window used as the candidate's column.
    walk_speed_kmh, bike_speed_kmh, max_snap_m, departure, window_min, percentile, max_walk_min, max_rides
        Shortcuts for the options' fields (``percentile``: ``percentiles=(percentile,)``).
    per_minute : bool
        Transit: keep the per-minute columns.
    chunk_size, row_capacity : int
        Candidates per kernel call, and the cells per candidate a call has room for (candidates reaching more
        are recomputed with room for all: results never depend on these).
    name : str
        What the sites are called in error messages ("candidates", "venues").
    strategy : {"auto", "reverse", "forward"}
        "reverse" searches once per candidate (its column: the incremental, one-search-per-site evaluation;
        transit: a backward range-RAPTOR); "forward" once per cell, read at every candidate (then transposed);
        "auto" picks the cheaper side (streets: fewer searches; transit: backward when the candidates are fewer
        than the cells by `TransitOptions.backward_factor`). Both give the same times.

    Returns
    -------
    CandidateTimes

    Raises
    ------
    ValidationError
        Duplicate or missing site ids, bad coordinates, unknown mode.
    NetworkError
        A candidate farther than ``max_snap_m`` from the network (named in the message).

    Examples
    --------
    >>> ct = candidate_times(net, cells, candidates, mode="walk", max_time_min=30)  # doctest: +SKIP
    >>> res = maximal_coverage(ct, cells["population"], 5, threshold_min=15)  # doctest: +SKIP
    """
    from .matrix import travel_time_matrix
    from .options import ALL_MODES, STREET_MODES, check_max_time_min
    from .routing.street import graph_at_speed, point_pair_times

    mode = check_choice("mode", mode, ALL_MODES)
    max_time_min = check_max_time_min(max_time_min)
    strategy = check_choice("strategy", strategy, ("auto", "reverse", "forward"))
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                               max_snap_m=max_snap_m)
    walk_speed_kmh, max_snap_m = so.walk_speed_kmh, so.max_snap_m
    c = _points(cells, "cells")
    s = _points(sites, name)
    max_time_s = int(round(max_time_min * 60))
    is_graph = hasattr(network, "first_out")
    gmode = mode if mode in STREET_MODES else "walk"
    base = network if is_graph else network.street(gmode)
    speed = so.speed_kmh(gmode)
    g = graph_at_speed(base, speed)
    s_snap = g.snap(s.lon, s.lat, max_snap_m=max_snap_m, warn=False)
    if not s_snap.snapped.all():
        bad = s.ids[~s_snap.snapped]
        raise NetworkError(f"{len(bad)} of {len(s)} {name} are farther than max_snap_m={max_snap_m:g} m from the "
                           f"{gmode} network, e.g. ids {bad[:8].tolist()!r}; move them onto the network, drop them, "
                           "or raise max_snap_m")
    settings = dict(max_time_min=float(max_time_min), walk_speed_kmh=walk_speed_kmh, max_snap_m=max_snap_m)
    if mode == "transit":
        if is_graph:
            raise ValidationError("mode='transit' needs a TransportNetwork with a timetable, not a StreetGraph")
        to = TransitOptions.resolve(transit, departure=departure, window_min=window_min, max_walk_min=max_walk_min,
                                    max_rides=max_rides, percentiles=None if percentile is None else (percentile,),
                                    search={"reverse": "backward"}.get(strategy, strategy))
        to = to.replace(percentiles=to.percentiles[:1])
        ttm = travel_time_matrix(network, c, s, mode="transit", max_time_min=max_time_min, street=so, transit=to,
                                 per_minute=per_minute, progress=progress)
        out = CandidateTimes.from_matrix(ttm, max_time_min=max_time_min)
        out.settings.update(settings, percentile=to.percentiles[0], per_minute=per_minute)
    else:
        c_snap = g.snap(c.lon, c.lat, max_snap_m=max_snap_m, warn=False)
        if not c_snap.snapped.any():
            raise NetworkError(f"all {len(c)} cells are farther than max_snap_m={max_snap_m:g} m from the {gmode} "
                               "network; check that they lie in the network's area and their CRS")
        if not c_snap.snapped.all():
            warnings.warn(f"{int((~c_snap.snapped).sum())} of {len(c)} cells are farther than max_snap_m="
                          f"{max_snap_m:g} m from the {gmode} network and reach no site, e.g. ids "
                          f"{c.ids[~c_snap.snapped][:8].tolist()}", AccessWarning, stacklevel=2)
        forward = strategy == "forward" or (strategy == "auto" and len(c) < len(s))
        if forward:
            # one forward search per cell, read at the candidates: fewer searches when cells < candidates
            ptr_c, idx_c, val_c = _sparse_searches(g, c_snap.access_node, c_snap.access_cost_s, s_snap.egress_node,
                                                   s_snap.egress_cost_s, len(s), max_time_s, reverse=False,
                                                   chunk_size=chunk_size, row_capacity=row_capacity,
                                                   progress=progress, desc=f"{gmode} cells")
            ptr, cell, ts = sk.transpose_lists(ptr_c, idx_c, val_c, len(s))
        else:
            # one reverse search per candidate (its column), read at the cells
            ptr, cell, ts = _sparse_searches(g, s_snap.egress_node, s_snap.egress_cost_s, c_snap.access_node,
                                             c_snap.access_cost_s, len(c), max_time_s, reverse=True,
                                             chunk_size=chunk_size, row_capacity=row_capacity, progress=progress,
                                             desc=f"{gmode} candidates")
            # canonical order (cells sorted within each candidate), the same as the forward strategy gives
            ptr_t, idx_t, val_t = sk.transpose_lists(ptr, cell, ts, len(c))
            ptr, cell, ts = sk.transpose_lists(ptr_t, idx_t, val_t, len(s))
        # the pairs the matrix takes from the geometry (same street segment, same place), as every street matrix
        ptr, cell, ts = _merge_pairs(ptr, cell, ts, point_pair_times(g, s_snap, c_snap, max_time_s, s, c), len(s))
        out = CandidateTimes(c.ids, s.ids, ptr, cell, ts, max_time_s, mode,
                             settings=dict(settings, speed_kmh=speed, strategy="forward" if forward else "reverse"))
    out.cell_lon, out.cell_lat, out.site_lon, out.site_lat = c.lon, c.lat, s.lon, s.lat
    return out


def _merge_pairs(ptr, cell, ts, pairs, n_sites):
    """Per-site lists ``(ptr, cell, ts)`` lowered to the ``pairs`` (site idx, cell idx, seconds) of
    :func:`access.matrix.point_pair_times`, inserting those absent; cells stay sorted within each site."""
    pj, pi, pt = pairs
    if not len(pj):
        return ptr, cell, ts
    site = np.repeat(np.arange(n_sites, dtype=np.int64), np.diff(ptr))
    return dj.csr_from_triples(np.concatenate([site, pj.astype(np.int64)]),
                               np.concatenate([cell.astype(np.int64), pi.astype(np.int64)]),
                               np.concatenate([ts, pt.astype(ts.dtype)]), n_sites)


def _sparse_searches(g, seed_node, seed_cost, tgt_node, tgt_cost, n_targets, max_time_s, *, reverse, chunk_size,
                     row_capacity, progress, desc):
    """One bounded search per seed row (reverse graph when ``reverse``), read at the targets; CSR by seed row."""
    from tqdm.auto import tqdm

    t_ptr, t_idx, t_cost = sk.node_cell_index(tgt_node, tgt_cost, g.n_nodes)
    f, h, w = g.csr(reverse=reverse)
    n = seed_node.shape[0]
    cap = int(max(1, min(n_targets, row_capacity)))
    size = max(1, min(int(chunk_size), (1 << 23) // cap))
    counts_all, idx_all, val_all = [], [], []
    bar = tqdm(total=n, desc=desc, unit="search", disable=not progress)
    for a in range(0, n, size):
        b = min(n, a + size)
        sn, sc = seed_node[a:b], seed_cost[a:b]
        oc, ot, cnt = sk.candidate_lists(f, h, w, sn, sc, t_ptr, t_idx, t_cost, n_targets, np.int32(max_time_s), cap)
        over = np.flatnonzero(cnt < 0)
        if len(over):  # rows too long for the buffer: redo them with room for all
            cap2 = int(min(n_targets, -cnt[over].min()))
            oc2, ot2, cnt2 = sk.candidate_lists(f, h, w, sn[over], sc[over], t_ptr, t_idx, t_cost, n_targets,
                                                np.int32(max_time_s), cap2)
            where = {int(i): j for j, i in enumerate(over)}
            ip, vp = [], []
            for i in range(b - a):
                j = where.get(i)
                if j is None:
                    ip.append(oc[i, :cnt[i]])
                    vp.append(ot[i, :cnt[i]])
                else:
                    ip.append(oc2[j, :cnt2[j]])
                    vp.append(ot2[j, :cnt2[j]])
                    cnt[i] = cnt2[j]
            ix, vx = np.concatenate(ip).astype(np.int32), np.concatenate(vp).astype(np.int32)
        else:
            ix, vx = sk.pack_rows(oc, ot, cnt)
        counts_all.append(cnt)
        idx_all.append(ix)
        val_all.append(vx)
        bar.update(b - a)
    bar.close()
    ptr = np.r_[0, np.cumsum(np.concatenate(counts_all))].astype(np.int64)
    return ptr, np.concatenate(idx_all), np.concatenate(val_all)


# =============================================================================================== inputs
def _population(population, times: CandidateTimes, name: str = "population") -> np.ndarray:
    if isinstance(population, pd.Series) and not isinstance(population.index, pd.RangeIndex):
        p_s = population.reindex(times.cell_ids)
        if p_s.isna().any():
            raise ValidationError(f"`{name}` (a Series indexed by cell id) lacks cells, e.g. "
                                  f"{times.cell_ids[p_s.isna().to_numpy()][:3].tolist()!r}")
        p = p_s.to_numpy(np.float64)
    else:
        p = np.asarray(population, dtype=np.float64).reshape(-1)
    if p.shape[0] != times.n_cells:
        raise ValidationError(f"`{name}` has {p.shape[0]} values for {times.n_cells} cells; give one per cell "
                              "(in the cells' order) or a Series indexed by cell id")
    bad = ~np.isfinite(p) | (p < 0)
    if bad.any():
        raise ValidationError(f"`{name}` must be finite and >= 0; bad for cells "
                              f"{times.cell_ids[bad][:5].tolist()!r}")
    return np.ascontiguousarray(p)


def _base_times(existing, times: CandidateTimes) -> tuple[np.ndarray, dict]:
    """int32[n_cells] seconds to the nearest existing venue (INF none) and a description."""
    n = times.n_cells
    if existing is None:
        return np.full(n, INF, np.int32), {"n_existing": 0}
    if isinstance(existing, CandidateTimes):
        if existing.n_cells != n or not np.array_equal(existing.cell_ids, times.cell_ids):
            raise ValidationError("`existing` must be computed on the same cells as the candidates (same ids, "
                                  "same order)")
        cols = np.arange(existing.n_sites, dtype=np.int64)
        b = sk.nearest_base(existing.ptr, existing.cell, existing.time_s, cols, n)
        return b, {"n_existing": existing.n_sites, "existing_ids": existing.site_ids,
                   "existing_lon": existing.site_lon, "existing_lat": existing.site_lat}
    b = np.asarray(existing)
    if b.shape != (n,):
        raise ValidationError(f"`existing` must be CandidateTimes of the existing venues or int seconds per cell "
                              f"(shape ({n},)), got shape {b.shape}")
    b = np.where(b < 0, INF, b).astype(np.int32)
    return b, {"n_existing": None}


def _allowed(times: CandidateTimes, exclude) -> np.ndarray:
    allowed = np.ones(times.n_sites, bool)
    if exclude is not None and len(exclude):
        allowed[times.index_of(exclude)] = False
    return allowed


def _check_k(k, times: CandidateTimes) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValidationError(f"`k` must be a positive integer, got {k!r}")
    if k > times.n_sites:
        raise ValidationError(f"`k`={k} exceeds the {times.n_sites} candidate sites")
    return int(k)


def _threshold_s(threshold_min, times: CandidateTimes) -> int:
    if not (threshold_min > 0):
        raise ValidationError(f"`threshold_min` must be positive, got {threshold_min}")
    t = int(round(threshold_min * 60))
    if t > times.max_time_s:
        raise ValidationError(f"`threshold_min`={threshold_min:g} exceeds the candidates' search bound "
                              f"max_time_min={times.max_time_s / 60:g}; recompute candidate_times with a larger "
                              "max_time_min")
    return t


# =============================================================================================== results
@dataclass
class SitingResult:
    """Chosen sites and what they change.

    ``table``: one row per chosen site in order of choice -- ``rank``, ``site_id``, ``lon``, ``lat``,
    ``marginal_gain`` (what adding it gained at its turn, in the objective's unit: people for coverage, people x
    minutes for p-median) and ``objective_after``; ``stability`` once :func:`access.uncertainty.site_stability`
    has been run. ``before_s``/``after_s``: int32 seconds from each cell to its nearest venue (-1 none within the
    bound) before and after.
    """

    objective: str
    table: pd.DataFrame
    sites: np.ndarray
    times: CandidateTimes
    population: np.ndarray
    before_s: np.ndarray
    after_s: np.ndarray
    objective_before: float
    objective_after: float
    threshold_min: float | None = None
    details: dict = field(default_factory=dict)

    @property
    def site_ids(self) -> np.ndarray:
        return self.times.site_ids[self.sites]

    def __repr__(self) -> str:
        return (f"SitingResult({self.objective}, {len(self.sites)} sites {self.site_ids.tolist()[:10]}, "
                f"objective {self.objective_before:,.6g} -> {self.objective_after:,.6g})")

    def cell_values(self) -> pd.DataFrame:
        """Per cell: ``id``, ``population``, ``time_nearest_before``/``_after`` (minutes, ``inf`` none within the
        search bound) and, with a threshold, ``covered_before``/``covered_after``."""
        def mins(a):
            return minutes(a, unreachable=np.inf)

        df = pd.DataFrame({"id": self.times.cell_ids, "population": self.population,
                           "time_nearest_before": mins(self.before_s), "time_nearest_after": mins(self.after_s)})
        if self.threshold_min is not None:
            thr = int(round(self.threshold_min * 60))
            df["covered_before"] = (self.before_s >= 0) & (self.before_s <= thr)
            df["covered_after"] = (self.after_s >= 0) & (self.after_s <= thr)
        return df

    def compare_areas(self, cells, areas, *, cell_id: str = "id", area_id: str = "id",
                      thresholds_min=None):
        """Per-area indicators before and after, through :func:`access.indicators.aggregate`.

        ``cells``: GeoDataFrame of the cells (same ids), ``areas``: GeoDataFrame of areas. Returns one row per
        area with ``time_nearest_before_*`` and ``time_nearest_after_*`` (mean, median, share unreachable, share
        within each threshold), and ``delta_share_within_<T>min`` for each threshold.
        """
        from .indicators import aggregate

        thr = tuple(thresholds_min) if thresholds_min is not None else (
            (self.threshold_min,) if self.threshold_min is not None else (15.0, 30.0))
        vals = self.cell_values()[["id", "time_nearest_before", "time_nearest_after"]].rename(columns={"id": cell_id})
        if cell_id not in cells.columns:
            raise ValidationError(f"`cells` has no id column {cell_id!r}")
        missing = set(self.times.cell_ids.tolist()) - set(cells[cell_id].tolist())
        if missing:
            raise ValidationError(f"`cells` lacks {len(missing)} of the siting's cells, e.g. {sorted(missing)[:3]!r}")
        pop = pd.Series(self.population, index=self.times.cell_ids)
        geo = cells[[cell_id, cells.geometry.name]]
        geo = geo[geo[cell_id].isin(pop.index)].assign(population=lambda d: pop.reindex(d[cell_id]).to_numpy())
        out = aggregate(vals, geo, areas, population="population", cell_id=cell_id, area_id=area_id,
                        time_columns=["time_nearest_before", "time_nearest_after"], count_columns=[],
                        inequality_columns=[], thresholds_min=thr)
        for t in thr:
            out[f"delta_share_within_{t:g}min"] = (out[f"time_nearest_after_share_within_{t:g}min"]
                                                   - out[f"time_nearest_before_share_within_{t:g}min"])
        return out

    def comparison(self, *, cells=None, areas=None, area_id: str = "id", **kw):
        """Before/after through the scenarios' comparison (:func:`access.scenarios.compare`): per cell
        ``time_nearest_before/_after/_delta`` (minutes), and with ``areas`` the per-area tables and typology
        classes before/after. ``cells``: the cells' geometry (GeoDataFrame with ``id``; default their points)."""
        import geopandas as gpd

        from .scenarios import compare

        cv = self.cell_values()
        before = cv[["id", "population", "time_nearest_before"]].rename(columns={"time_nearest_before":
                                                                                 "time_nearest"})
        after = cv[["id", "population", "time_nearest_after"]].rename(columns={"time_nearest_after": "time_nearest"})
        if cells is None and self.times.cell_lon is not None:
            cells = gpd.GeoDataFrame({"id": self.times.cell_ids},
                                     geometry=gpd.points_from_xy(self.times.cell_lon, self.times.cell_lat),
                                     crs="EPSG:4326")
        return compare(before, after, cells=cells, areas=areas, area_id=area_id, measures=["time_nearest"], **kw)

    def plot(self, path, *, areas=None, title: str | None = None, max_minutes: float | None = None):
        """A PNG map: cells coloured by minutes to the nearest venue after siting (grey: none within the bound),
        existing venues (black squares), chosen sites (red stars numbered by rank), area outlines if given."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from ._io_util import atomic_path

        t = self.times
        if t.cell_lon is None or t.cell_lat is None or t.site_lon is None or t.site_lat is None:
            raise ValidationError("the candidate times carry no coordinates; compute them with candidate_times")
        cell_lon, cell_lat, site_lon, site_lat = t.cell_lon, t.cell_lat, t.site_lon, t.site_lat
        fig = Figure(figsize=(8, 8))  # no pyplot, no backend switch: the caller's matplotlib state is untouched
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        if areas is not None:
            areas.to_crs("EPSG:4326").boundary.plot(ax=ax, color="0.4", linewidth=0.6)
        after = minutes(self.after_s)
        vmax = max_minutes or (self.threshold_min * 2 if self.threshold_min else np.nanmax(after) if
                               np.isfinite(after).any() else 1.0)
        none = np.isnan(after)
        ax.scatter(cell_lon[none], cell_lat[none], s=6, c="0.8", label="no venue within bound")
        sc = ax.scatter(cell_lon[~none], cell_lat[~none], s=8, c=after[~none], cmap="YlOrRd", vmin=0,
                        vmax=vmax)
        fig.colorbar(sc, ax=ax, shrink=0.7, label="minutes to the nearest venue (after)")
        ex_lon, ex_lat = self.details.get("existing_lon"), self.details.get("existing_lat")
        if ex_lon is not None and ex_lat is not None and len(ex_lon):
            ax.scatter(ex_lon, ex_lat, marker="s", s=30, c="black", label="existing venues")
        lon, lat = site_lon[self.sites], site_lat[self.sites]
        ax.scatter(lon, lat, marker="*", s=220, c="red", edgecolors="black", linewidths=0.5, label="chosen sites")
        for r, (x, y) in enumerate(zip(lon, lat), start=1):
            ax.annotate(str(r), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=9, weight="bold")
        ax.set_title(title or f"{self.objective}: {len(self.sites)} sites")
        ax.set_xlabel("lon")
        ax.set_ylabel("lat")
        ax.legend(loc="lower left", fontsize=8)
        ax.set_aspect(1.0 / max(math.cos(math.radians(float(np.nanmean(cell_lat)))), 1e-6))
        path = Path(path)
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
        return path


def _nearest_after(times: CandidateTimes, base: np.ndarray, sites: np.ndarray) -> np.ndarray:
    b = sk.nearest_base(times.ptr, times.cell, times.time_s, np.asarray(sites, np.int64), times.n_cells)
    out = np.minimum(b, base)
    return np.where(out == INF, -1, out).astype(np.int32)


def _table(times: CandidateTimes, sites, gains, cumulative, extra: dict | None = None) -> pd.DataFrame:
    sites = np.asarray(sites, np.int64)
    df = pd.DataFrame({"rank": np.arange(1, len(sites) + 1), "site_id": times.site_ids[sites],
                       "lon": times.site_lon[sites] if times.site_lon is not None else np.nan,
                       "lat": times.site_lat[sites] if times.site_lat is not None else np.nan,
                       "marginal_gain": np.asarray(gains, np.float64),
                       "objective_after": np.asarray(cumulative, np.float64)})
    for k, v in (extra or {}).items():
        df[k] = v
    return df


# =============================================================================================== coverage
def _covered0(base: np.ndarray, thr_s: int) -> np.ndarray:
    return (base != INF) & (base <= thr_s)


def maximal_coverage(times: CandidateTimes, population, k: int, *, threshold_min: float, existing=None,
                     weights=None, exclude=None, exact: bool | str = "auto", max_subsets: int = 200_000,
                     objective_name: str = "maximal coverage") -> SitingResult:
    """Choose ``k`` sites maximising the population within ``threshold_min`` of a venue (greedy, lazy).

    Parameters
    ----------
    times : CandidateTimes
        Candidate columns (:func:`candidate_times`).
    population : array-like or Series
        People per cell (in the cells' order, or a Series indexed by cell id).
    k : int
        Sites to choose.
    threshold_min : float
        A cell is covered when some venue is within this many minutes.
    existing : CandidateTimes or int array, optional
        The existing venues (their columns on the same cells, or seconds to the nearest per cell): the cells
        they cover count as covered already.
    weights : array-like, optional
        Multiplies the population (e.g. 1 for the cells of fragile areas, 0 elsewhere: see
        :func:`equity_coverage`).
    exclude : sequence of site ids, optional
        Candidates not to choose.
    exact : bool or "auto"
        Also compute the exact optimum (brute force over the C(n, k) subsets when at most ``max_subsets``, else
        an integer program with ``highspy`` when installed) and report the greedy's gap in ``details``;
        "auto" does so only when brute force is cheap (at most ``max_subsets`` subsets and about 2e8 cell visits).

    Returns
    -------
    SitingResult
        ``marginal_gain``: people newly covered by each site; ``details``: ``covered_before``, ``covered_after``,
        ``n_evaluations`` (lazy gain evaluations), and with ``exact``: ``optimum``, ``gap`` (relative to the
        optimum's gain over the existing venues) and ``bound_ok`` (greedy gain >= (1 - 1/e) x optimal gain).

    Examples
    --------
    >>> res = maximal_coverage(ct, pop, 3, threshold_min=15, existing=ex)  # doctest: +SKIP
    >>> res.table  # doctest: +SKIP
    """
    k = _check_k(k, times)
    thr = _threshold_s(threshold_min, times)
    pop = _population(population, times)
    w = pop if weights is None else pop * _population(weights, times, "weights")
    base, info = _base_times(existing, times)
    cov0 = _covered0(base, thr)
    allowed = _allowed(times, exclude)
    chosen, gains, n_eval = sk.celf_coverage(times.ptr, times.cell, times.time_s, np.int32(thr), w, cov0, k, allowed)
    before = float(w[cov0].sum())
    cum = before + np.cumsum(gains)
    after_s = _nearest_after(times, base, chosen)
    details = dict(info, n_evaluations=int(n_eval), n_candidates=times.n_sites, covered_before=before,
                   covered_after=float(cum[-1]) if len(cum) else before, total_weight=float(w.sum()))
    if len(chosen) < k:
        details["note"] = f"only {len(chosen)} candidates could be chosen"
    if exact:
        n_sub = math.comb(int(allowed.sum()), k)
        mean_len = float(np.count_nonzero(times.time_s <= thr)) / max(times.n_sites, 1)
        if exact is True or (n_sub <= max_subsets and n_sub * k * mean_len <= 2e8):
            ex_sites, ex_val, method = exact_coverage(times, population, k, threshold_min=threshold_min,
                                                      existing=existing, weights=weights, exclude=exclude,
                                                      max_subsets=max_subsets)
            greedy_gain = details["covered_after"] - before
            opt_gain = ex_val - before
            details.update(optimum=ex_val, optimum_sites=times.site_ids[ex_sites].tolist(), exact_method=method,
                           gap=(opt_gain - greedy_gain) / opt_gain if opt_gain > 0 else 0.0,
                           bound_ok=bool(greedy_gain >= (1 - 1 / math.e) * opt_gain - 1e-9))
    table = _table(times, chosen, gains, cum, {"share_covered": cum / w.sum() if w.sum() > 0 else np.nan})
    return SitingResult(objective_name, table, chosen, times, pop, np.where(base == INF, -1, base).astype(np.int32),
                        after_s, before, details["covered_after"], float(threshold_min), details)


def exact_coverage(times: CandidateTimes, population, k: int, *, threshold_min: float, existing=None, weights=None,
                   exclude=None, method: str = "auto", max_subsets: int = 200_000):
    """The exact maximal-coverage optimum: ``(site positions int64[k], covered weight, method)``.

    ``method``: "brute" (every k-subset, numba), "ilp" (``highspy`` integer program: maximise
    ``sum_i w_i y_i`` with ``y_i <= sum_{c covers i} x_c``, ``sum x_c = k``), or "auto" (brute force when there
    are at most ``max_subsets`` subsets, else ILP).
    """
    k = _check_k(k, times)
    thr = _threshold_s(threshold_min, times)
    pop = _population(population, times)
    w = pop if weights is None else pop * _population(weights, times, "weights")
    base, _ = _base_times(existing, times)
    cov0 = _covered0(base, thr)
    allowed = _allowed(times, exclude)
    idx = np.flatnonzero(allowed)
    sub = times.subset(idx)
    n_sub = math.comb(len(idx), k)
    if method == "auto":
        method = "brute" if n_sub <= max_subsets else "ilp"
    if method == "brute":
        if n_sub > 50 * max_subsets:
            raise ValidationError(f"brute force over C({len(idx)}, {k}) = {n_sub:,} subsets is too many; "
                                  "use method='ilp' (needs highspy) or fewer candidates")
        best, val, _ = sk.brute_force_coverage(sub.ptr, sub.cell, sub.time_s, np.int32(thr), w, cov0, k)
        return idx[best], float(val), "brute force"
    if method == "ilp":
        best = _ilp_coverage(sub, thr, w, cov0, k)
        val = sk.coverage_value(sub.ptr, sub.cell, sub.time_s, np.int32(thr), w, cov0, best)
        return idx[best], float(val), "integer program (HiGHS)"
    raise ValidationError(f"unknown method {method!r}; use 'auto', 'brute' or 'ilp'")


def _ilp_coverage(sub: CandidateTimes, thr: int, w: np.ndarray, cov0: np.ndarray, k: int) -> np.ndarray:
    try:
        import highspy
    except ImportError:
        raise ValidationError("the integer program needs the `highspy` package (pip install highspy); "
                              "or use method='brute' on a smaller case") from None
    import scipy.sparse as sp

    n_c = sub.n_sites
    keep = sub.time_s <= thr
    rows = sub.cell[keep]
    cols = np.repeat(np.arange(n_c), np.diff(sub.ptr))[keep]
    ok = ~cov0[rows] & (w[rows] > 0)
    rows, cols = rows[ok], cols[ok]
    cells = np.unique(rows)
    n_y = len(cells)
    r_of = np.full(len(w), -1, np.int64)
    r_of[cells] = np.arange(n_y)
    # variables: x_0..x_{n_c-1}, y_0..y_{n_y-1}; maximise sum w y  <=> minimise -sum w y
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = n_c + n_y
    lp.num_row_ = n_y + 1
    lp.col_cost_ = np.r_[np.zeros(n_c), -w[cells]].astype(np.float64)
    lp.col_lower_ = np.zeros(n_c + n_y)
    lp.col_upper_ = np.ones(n_c + n_y)
    # rows 0..n_y-1: y_i - sum x_c <= 0 ; row n_y: sum x = k
    A = sp.coo_matrix((np.r_[np.ones(n_y), -np.ones(len(rows)), np.ones(n_c)],
                       (np.r_[np.arange(n_y), r_of[rows], np.full(n_c, n_y)],
                        np.r_[n_c + np.arange(n_y), cols, np.arange(n_c)])), shape=(n_y + 1, n_c + n_y)).tocsc()
    lp.row_lower_ = np.r_[np.full(n_y, -inf), float(k)]
    lp.row_upper_ = np.r_[np.zeros(n_y), float(k)]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_c + [highspy.HighsVarType.kContinuous] * n_y
    h.passModel(lp)
    h.run()
    x = np.asarray(h.getSolution().col_value[:n_c])
    return np.sort(np.argsort(-x, kind="stable")[:k]).astype(np.int64)


def equity_coverage(times: CandidateTimes, population, k: int, *, threshold_min: float, fragile_weight=None,
                    cell_area=None, area_classes=None, fragile_classes=None, existing=None, exclude=None,
                    exact: bool | str = False) -> SitingResult:
    """Maximal coverage of the population of the most fragile cells or areas only.

    Give either ``fragile_weight`` (per cell, e.g. 1 fragile / 0 not, or a fragility score >= 0) or
    ``cell_area`` (area id per cell) with ``area_classes`` (a Series: area id -> typology class, e.g.
    ``typology(...).set_index("id")["class"]``) and ``fragile_classes`` (default: the typology's classes
    "cumulates cultural and social fragility" and "cultural fragility"; the priority contract zones are a separate
    column of the typology, pass their areas' cells through ``fragile_weight`` to include them).
    """
    if fragile_weight is None:
        if cell_area is None or area_classes is None:
            raise ValidationError("give `fragile_weight` per cell, or `cell_area` with `area_classes`")
        from .indicators.typology import CLASSES

        fr = set(fragile_classes or CLASSES[:2])
        cls = pd.Series(area_classes)
        ca = pd.Series(np.asarray(cell_area, dtype=object))
        unknown = set(ca.dropna()) - set(cls.index)
        if unknown:
            raise ValidationError(f"`cell_area` names areas without a class in `area_classes`, e.g. "
                                  f"{sorted(map(str, unknown))[:3]}")
        fragile_weight = ca.map(lambda a: 1.0 if (a is not None and a == a and cls.get(a) in fr) else 0.0).to_numpy()
    res = maximal_coverage(times, population, k, threshold_min=threshold_min, existing=existing,
                           weights=fragile_weight, exclude=exclude, exact=exact,
                           objective_name="equity coverage (fragile population)")
    # also report the coverage of the whole population
    pop = res.population
    thr = int(round(threshold_min * 60))
    cov_after = (res.after_s >= 0) & (res.after_s <= thr)
    res.details["all_population_covered_after"] = float(pop[cov_after].sum())
    return res


def minimax_coverage(times: CandidateTimes, population, k: int, *, threshold_min: float, cell_area,
                     existing=None, exclude=None) -> SitingResult:
    """Choose ``k`` sites (greedily) to minimise the worst area's share of population beyond ``threshold_min``.

    ``cell_area``: area id per cell (None/NaN: in no area). At each step the site giving the smallest worst share
    is chosen, ties broken by the most people newly covered. ``marginal_gain`` is the decrease of the worst
    share; ``objective_after`` the worst share after the site.
    """
    k = _check_k(k, times)
    thr = _threshold_s(threshold_min, times)
    pop = _population(population, times)
    ca = pd.Series(np.asarray(cell_area, dtype=object).reshape(-1))
    if len(ca) != times.n_cells:
        raise ValidationError(f"`cell_area` has {len(ca)} values for {times.n_cells} cells")
    codes, uniq = pd.factorize(ca, use_na_sentinel=True)
    codes = codes.astype(np.int32)
    na = len(uniq)
    base, info = _base_times(existing, times)
    covered = _covered0(base, thr)
    allowed = _allowed(times, exclude)
    in_area = codes >= 0
    pop_area = np.bincount(codes[in_area], weights=pop[in_area], minlength=na)
    unc = np.bincount(codes[in_area], weights=(pop * ~covered)[in_area], minlength=na)

    def worst_of(u):
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(pop_area > 0, u / pop_area, 0.0)
        return float(s.max()) if len(s) else 0.0, int(np.argmax(s)) if len(s) else -1

    w0, a0 = worst_of(unc)
    chosen, dec, cur = [], [], []
    worst = w0
    for _ in range(k):
        wv, g = sk.minimax_step(times.ptr, times.cell, times.time_s, np.int32(thr), pop, covered, codes, unc,
                                pop_area, allowed)
        order = np.lexsort((np.arange(len(wv)), -g, wv))
        c = int(order[0])
        if not allowed[c]:
            break
        allowed[c] = False
        sl = slice(times.ptr[c], times.ptr[c + 1])
        cs = times.cell[sl][times.time_s[sl] <= thr]
        new = cs[~covered[cs]]
        covered[new] = True
        ok = codes[new] >= 0
        unc -= np.bincount(codes[new][ok], weights=pop[new][ok], minlength=na)
        nw, _ = worst_of(unc)
        chosen.append(c)
        dec.append(worst - nw)
        cur.append(nw)
        worst = nw
    chosen_a = np.asarray(chosen, np.int64)
    w_end, a_end = worst_of(unc)
    after_s = _nearest_after(times, base, chosen_a)
    details = dict(info, worst_area_before=uniq[a0] if a0 >= 0 else None,
                   worst_area_after=uniq[a_end] if a_end >= 0 else None,
                   covered_after=float(pop[covered].sum()))
    table = _table(times, chosen_a, dec, cur)
    return SitingResult("minimax share beyond threshold", table, chosen_a, times, pop,
                        np.where(base == INF, -1, base).astype(np.int32), after_s, w0, w_end, float(threshold_min),
                        details)


# =============================================================================================== p-median
def p_median(times: CandidateTimes, population, k: int, *, existing=None, penalty_min: float | None = None,
             swap: bool = True, max_rounds: int = 100, exclude=None) -> SitingResult:
    """Choose ``k`` sites minimising the population-weighted time to the nearest venue (greedy + swaps).

    Parameters
    ----------
    penalty_min : float, optional
        Time counted for a cell with no venue within it (and the cap of every time); default the candidates'
        search bound ``max_time_min``.
    swap : bool
        After the greedy, apply Teitz-Bart interchange (best improving swap out/in until none improves).

    Returns
    -------
    SitingResult
        ``objective_*`` in person-minutes; ``marginal_gain``: person-minutes saved by each site at its greedy turn
        (after swaps, recomputed in the final order); ``details``: ``greedy_objective``, ``n_swaps``,
        ``mean_minutes_before``/``_after``.
    """
    k = _check_k(k, times)
    pop = _population(population, times)
    pen = times.max_time_s if penalty_min is None else int(round(penalty_min * 60))
    if pen <= 0:
        raise ValidationError(f"`penalty_min` must be positive, got {penalty_min}")
    base, info = _base_times(existing, times)
    base_c = np.minimum(base, pen).astype(np.int32)
    # cap candidate times by the penalty as well (times above it are worth the penalty)
    allowed = _allowed(times, exclude)
    chosen, saving = sk.pmedian_greedy(times.ptr, times.cell, times.time_s, pop, base_c, k, allowed)
    before = float((pop * base_c).sum()) / 60.0
    greedy_obj = sk.pmedian_objective(times.ptr, times.cell, times.time_s, pop, base_c, chosen) / 60.0
    n_swaps = 0
    final = chosen
    if swap and len(chosen):
        final, n_swaps, obj = sk.pmedian_swap(times.ptr, times.cell, times.time_s, pop, base_c, chosen, allowed,
                                              int(max_rounds))
        final = np.asarray(final, np.int64)
    # marginal gains of the final set, in greedy order over that set
    order, gains, cum = _greedy_order_pmedian(times, pop, base_c, final)
    after_obj = float(cum[-1]) if len(cum) else before
    after_s = _nearest_after(times, base, order)
    tot = float(pop.sum())
    details = dict(info, greedy_objective=float(greedy_obj), greedy_sites=times.site_ids[chosen].tolist(),
                   n_swaps=int(n_swaps), penalty_min=pen / 60.0,
                   mean_minutes_before=before / tot if tot else np.nan,
                   mean_minutes_after=after_obj / tot if tot else np.nan)
    table = _table(times, order, gains, cum)
    return SitingResult("p-median", table, order, times, pop, np.where(base == INF, -1, base).astype(np.int32),
                        after_s, before, after_obj, None, details)


def _greedy_order_pmedian(times, pop, base_c, sites):
    sub = times.subset(sites)
    order, saving = sk.pmedian_greedy(sub.ptr, sub.cell, sub.time_s, pop, base_c, len(sites),
                                      np.ones(len(sites), bool))
    before = float((pop * base_c).sum()) / 60.0
    gains = saving / 60.0
    return np.asarray(sites, np.int64)[order], gains, before - np.cumsum(gains)


# =============================================================================================== tours
def itinerant_tour(times: CandidateTimes, population, stops, *, threshold_min: float, shares=None,
                   existing=None) -> SitingResult:
    """Evaluate a tour: a mobile venue stops at ``stops`` (site ids) in turn, each for a share of the time.

    A cell is *reached* by a stop within ``threshold_min``; the population reached at least once is the tour's
    reach; the *time-weighted coverage* of a cell is the share of the time a reaching stop is in place
    (``min(1, sum of the shares of the stops reaching it)``). With ``existing`` venues, reach counts only the
    people they do not already cover.

    Returns
    -------
    SitingResult
        ``table``: per stop (in tour order) ``share``, ``reached`` (people within ``threshold_min``),
        ``marginal_gain`` (people first reached at that stop), ``time_weighted`` (people x share);
        ``details``: ``reached_at_least_once``, ``time_weighted_coverage`` (people), ``mean_share_of_time``
        (over the reached population).
    """
    thr = _threshold_s(threshold_min, times)
    pop = _population(population, times)
    stops = list(stops)
    if not stops:
        raise ValidationError("`stops` is empty: give the site ids of the tour's stops")
    if len(set(map(str, stops))) != len(stops):
        raise ValidationError(f"`stops` repeats a site: {stops!r}; give each stop once and its share of time")
    idx = times.index_of(stops)
    if shares is None:
        shares = np.full(len(idx), 1.0 / len(idx))
    shares = np.asarray(shares, np.float64)
    if shares.shape != (len(idx),) or (shares < 0).any() or not np.isfinite(shares).all():
        raise ValidationError(f"`shares` must be {len(idx)} numbers >= 0 (one per stop), got {shares.tolist()!r}")
    if shares.sum() > 1 + 1e-9:
        raise ValidationError(f"`shares` add up to {shares.sum():g} > 1: they are shares of the time")
    base, info = _base_times(existing, times)
    cov0 = _covered0(base, thr)
    dense = np.zeros((times.n_cells, len(idx)), bool)
    for j, c in enumerate(idx):
        sl = slice(times.ptr[c], times.ptr[c + 1])
        dense[times.cell[sl][times.time_s[sl] <= thr], j] = True
    target = ~cov0
    reached_any = dense.any(axis=1) & target
    tw = np.minimum(1.0, dense.astype(np.float64) @ shares)
    first = np.zeros(len(idx))
    seen = np.zeros(times.n_cells, bool)
    for j in range(len(idx)):
        new = dense[:, j] & target & ~seen
        first[j] = pop[new].sum()
        seen |= new
    reach = float(pop[reached_any].sum())
    twc = float((pop * tw)[target].sum())
    table = _table(times, idx, first, np.cumsum(first),
                   {"share": shares, "reached": [float(pop[dense[:, j] & target].sum()) for j in range(len(idx))],
                    "time_weighted": [float(pop[dense[:, j] & target].sum() * shares[j]) for j in range(len(idx))]})
    details = dict(info, reached_at_least_once=reach, time_weighted_coverage=twc,
                   mean_share_of_time=twc / reach if reach > 0 else np.nan, covered_by_existing=float(pop[cov0].sum()))
    after_s = _nearest_after(times, base, idx)
    return SitingResult("itinerant tour", table, idx, times, pop, np.where(base == INF, -1, base).astype(np.int32),
                        after_s, 0.0, reach, float(threshold_min), details)


def plan_tour(times: CandidateTimes, population, k: int, *, threshold_min: float, shares=None, existing=None,
              exclude=None) -> SitingResult:
    """Choose ``k`` stops for a mobile venue maximising the people reached at least once (greedy coverage of the
    people the existing venues do not cover), then evaluate the tour with :func:`itinerant_tour`."""
    res = maximal_coverage(times, population, k, threshold_min=threshold_min, existing=existing, exclude=exclude,
                           exact=False)
    return itinerant_tour(times, population, res.site_ids.tolist(), threshold_min=threshold_min, shares=shares,
                          existing=existing)
