"""Travel-time matrices in bounded memory: origin chunks written as partitioned Parquet, resumable, with indicators.

:func:`chunked_travel_time_matrix` computes a matrix chunk by chunk of origins and writes each chunk to its own
Parquet file, so nothing of size origins x destinations is held at once unless it fits ``memory_budget_mb``::

    out/
      _manifest.json            settings and input hashes; a resume with other settings is refused
      part-00000.parquet        from_id, to_id, travel_time (minutes, NaN unreachable) of chunk 0
      part-00001.parquet        ...
      _indicators/part-00000.parquet   per origin x category: nearest, counts within cutoffs, gravity
      _scratch/                 reverse searches only (see ``direction``); removed when the run completes

``pandas.read_parquet(out)`` (or ``pyarrow.dataset``) reads the whole matrix back (names starting with ``_`` are
skipped by both); :meth:`ChunkedResult.read_indicators` the indicators.

The manifest's ``run_hash`` covers what the partitions hold: the settings (mode, times, speeds, chunk size,
indicators...) and hashes of the inputs (the searched graph's arrays, the timetable's, the points' ids and
coordinates). How the chunks are computed (``plan``: direction, destination blocks, number of workers) is recorded
apart and may change between an interrupted run and its resumption: it changes no byte of the result.

Every file is written atomically (``access._io_util.atomic_path``) and carries the run's hash and its chunk index in
its Parquet metadata. A run interrupted at any point (an exception, a killed process) is resumed by calling the same
function again: finished chunks are skipped, a chunk that was being written is redone, stale temporary files are
removed, and the result is identical, byte for byte, to an uninterrupted run. The same chunk function runs on a Dask
cluster in :mod:`access.distributed`.

Directions (street modes)
-------------------------
``direction="forward"`` runs one bounded search per origin (:func:`access.core.dijkstra.od_matrix`).
``"reverse"`` runs one search per *destination* on the transposed graph, in blocks of destinations; each block's
times to all origins are spilled to ``_scratch/dblock-*.npy`` (int32 ``[n_origins, block]``) and the origin chunks
are then assembled from those files. Both give the same integers (the shortest access + path + egress within the
bound). ``"auto"`` picks reverse when origins outnumber destinations by more than two to one, as for a region's
150,000 cells to its 5,000 venues. The scratch files take ``4 x n_origins x n_destinations`` bytes of disk while the
run lasts (4.3 GB for 219,000 cells x 4,900 venues). Transit always runs forward.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from numba import njit, prange

from .._errors import ValidationError
from .._io_util import atomic_path
from .._validate import check_choice, check_int, check_number
from ..core import dijkstra as dj
from ..indicators import columns as ind_cols
from ..io.places import Points, read_points
from ..options import STREET_MODES, StreetOptions, TransitOptions

if TYPE_CHECKING:
    from ..indicators.decay import DecayFunction

FORMAT_VERSION = 1
MANIFEST_NAME = "_manifest.json"
INDICATOR_DIR = "_indicators"
SCRATCH_DIR = "_scratch"
#: default per-chunk working memory when neither ``chunk_size`` nor ``memory_budget_mb`` is given
DEFAULT_MEMORY_BUDGET_MB = 1024.0
#: rough bytes of working memory per origin-destination pair and percentile (int32 times, float64 minutes,
#: Arrow columns and the Parquet writer's buffers), calibrated on Porto Alegre (see tests/test_chunked.py)
BYTES_PER_PAIR = 48
BYTES_PER_PAIR_ID = 24  # per id column and pair (Arrow take of the ids), added on top


# ----------------------------------------------------------------------------------------------------------------
# indicators computed per chunk
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Indicators:
    """Per-origin indicators reduced from each chunk, by destination category.

    For every origin and category (``"all"`` when ``category`` is None), with opportunities the ``opportunity``
    column of the destinations (1 per destination when None):

    - ``nearest_min``: minutes to the closest destination holding opportunities (``inf`` when none is reached),
      as :func:`access.indicators.cost_to_closest` with ``n=1``;
    - ``within_<c>min``: opportunities reachable within ``c`` minutes (``t <= c``), as
      :func:`access.indicators.cumulative_cutoff`;
    - ``gravity``: sum of opportunities weighted by ``decay_function(minutes)`` when a decay is given, as
      :func:`access.indicators.gravity`.

    For transit with several percentiles, the indicators use the first one.

    Parameters
    ----------
    category : str, optional
        Column of the destinations' table with their category (e.g. ``"type"``: library, cinema...).
    opportunity : str, optional
        Column of the destinations' table with the opportunities each holds.
    cutoffs_min : sequence of float
        Cutoffs of the cumulative counts, minutes.
    decay_function : access.indicators.DecayFunction, optional
        e.g. ``decay_exponential(0.05)``.

    Examples
    --------
    >>> from access.indicators import decay_exponential
    >>> ind = Indicators(category="type", cutoffs_min=(15, 30), decay_function=decay_exponential(0.05))
    """

    category: str | None = None
    opportunity: str | None = None
    cutoffs_min: tuple = (15, 30, 60)
    decay_function: DecayFunction | None = None

    def describe(self) -> dict:
        d = self.decay_function
        return dict(category=self.category, opportunity=self.opportunity,
                    cutoffs_min=[float(c) for c in self.cutoffs_min],
                    decay=None if d is None else dict(kind=d.kind, params={
                        k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in d.params.items()}))

    def columns(self) -> list[str]:
        cols = [ind_cols.NEAREST_MIN] + [ind_cols.within_col(c) for c in self.cutoffs_min]
        if self.decay_function is not None:
            cols.append(ind_cols.GRAVITY)
        return cols


@dataclass(frozen=True)
class _IndArrays:
    cat_code: np.ndarray  # int32[n_d]
    cat_names: np.ndarray  # object[n_cat]
    weight: np.ndarray  # float64[n_d]
    cutoffs_min: np.ndarray  # float64[n_c]
    decay_lut: np.ndarray  # float64[max_time_s + 1] (empty without decay)
    columns: tuple


def _resolve_indicators(ind: Indicators | None, d: Points, max_time_s: int) -> _IndArrays | None:
    if ind is None:
        return None
    if not isinstance(ind, Indicators):
        raise ValidationError(f"`indicators` must be an access.chunked.Indicators, got {type(ind).__name__}")
    import pandas as pd

    frame = d.frame if d.frame is not None else pd.DataFrame(index=range(len(d)))  # (Points built without a table)
    if ind.category is not None:
        if ind.category not in frame.columns:
            raise ValidationError(f"`Indicators(category={ind.category!r})`: the destinations have no such column "
                                  f"(columns: {list(frame.columns)[:12]})")
        vals = frame[ind.category].astype(str).to_numpy()
        names, code = np.unique(vals, return_inverse=True)
    else:
        names, code = np.array(["all"], dtype=object), np.zeros(len(d), np.int64)
    if ind.opportunity is not None:
        if ind.opportunity not in frame.columns:
            raise ValidationError(f"`Indicators(opportunity={ind.opportunity!r})`: the destinations have no such "
                                  f"column (columns: {list(frame.columns)[:12]})")
        import pandas as pd

        w = pd.to_numeric(frame[ind.opportunity], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            raise ValidationError(f"destinations column {ind.opportunity!r} has {int(bad.sum())} missing, infinite or "
                                  f"negative values, e.g. ids {d.ids[bad][:5].tolist()}; opportunities must be >= 0")
    else:
        w = np.ones(len(d), np.float64)
    cuts = np.asarray(ind.cutoffs_min, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(cuts)) or (cuts < 0).any():
        raise ValidationError(f"`Indicators(cutoffs_min=...)` must be finite numbers >= 0, got {ind.cutoffs_min!r}")
    lut = np.zeros(0, np.float64)
    if ind.decay_function is not None:
        from ..indicators.decay import as_decay

        dec = as_decay(ind.decay_function)
        # the decay of every possible travel time, minutes computed exactly as TravelTimeMatrix.minutes does
        lut = np.ascontiguousarray(dec(np.arange(max_time_s + 1, dtype=np.int64).astype(np.float64) / 60.0),
                                   dtype=np.float64)
    return _IndArrays(code.astype(np.int32), names.astype(object), w, cuts, lut, tuple(ind.columns()))


@njit(cache=True, parallel=True)
def reduce_chunk(times_s, cat_code, n_cat, weight, cutoffs_min, decay_lut):
    """Per-origin reductions of a chunk's times.

    ``times_s`` int32[k, n_d] (``-1`` unreachable), ``cat_code`` int32[n_d], ``weight`` float64[n_d],
    ``cutoffs_min`` float64[c], ``decay_lut`` float64[max_time_s + 1] (empty: no gravity).
    Returns ``nearest_min`` float64[k, n_cat] (inf when none with weight > 0 is reached), ``within``
    float64[k, n_cat, c] (weights of destinations with ``minutes <= cutoff``), ``gravity`` float64[k, n_cat].
    Sums run over destinations in order, as :mod:`access.indicators` does on a from-major long table.
    """
    k, nd = times_s.shape
    nc = cutoffs_min.shape[0]
    has_decay = decay_lut.shape[0] > 0
    nearest = np.full((k, n_cat), np.inf)
    within = np.zeros((k, n_cat, nc))
    grav = np.zeros((k, n_cat))
    for i in prange(k):
        for j in range(nd):
            t = times_s[i, j]
            if t < 0:
                continue
            c = cat_code[j]
            m = t / 60.0
            w = weight[j]
            if w > 0 and m < nearest[i, c]:
                nearest[i, c] = m
            for q in range(nc):
                if m <= cutoffs_min[q]:
                    within[i, c, q] += w
            if has_decay:
                grav[i, c] += w * decay_lut[t]
    return nearest, within, grav


def _indicator_table(from_ids, ind: _IndArrays, times_s: np.ndarray, pct_index: int = 0):
    import pyarrow as pa

    k = times_s.shape[0]
    n_cat = len(ind.cat_names)
    nearest, within, grav = reduce_chunk(np.ascontiguousarray(times_s[:, :, pct_index]), ind.cat_code, n_cat,
                                         ind.weight, ind.cutoffs_min, ind.decay_lut)
    cols = {"id": pa.array(from_ids).take(pa.array(np.repeat(np.arange(k), n_cat))),
            "category": pa.array(np.tile(ind.cat_names, k).astype(str)),
            ind_cols.NEAREST_MIN: pa.array(nearest.reshape(-1))}
    for q, name in enumerate(ind.columns[1:1 + len(ind.cutoffs_min)]):
        cols[name] = pa.array(within[:, :, q].reshape(-1))
    if ind.decay_lut.shape[0]:
        cols[ind_cols.GRAVITY] = pa.array(grav.reshape(-1))
    return pa.table(cols)


# ----------------------------------------------------------------------------------------------------------------
# reverse searches (one per destination, on the transposed graph)
# ----------------------------------------------------------------------------------------------------------------
def reverse_od_block(rfirst_out, rhead, rweight, d_node, d_cost, o_node, o_cost, max_time_s, nthreads=0):
    """Seconds from every origin to each destination of a block, by searches from the destinations.

    ``rfirst_out/rhead/rweight``: the transposed CSR graph. ``d_node/d_cost`` int32[b, s]: nodes from which each
    destination is reached and the seconds from them (the search seeds); ``o_node/o_cost`` int32[k, s]: nodes
    reached from each origin and the seconds to them. Returns int32[b, k] (``INF`` over ``max_time_s`` or
    unreached): the same values as :func:`access.core.dijkstra.od_matrix` transposed -- it *is* that kernel, run
    on the transposed graph with the destinations as sources.
    """
    return dj.od_matrix(rfirst_out, rhead, rweight, d_node, d_cost, o_node, o_cost, max_time_s, nthreads)


# ----------------------------------------------------------------------------------------------------------------
# the job: everything a chunk needs, independent of where it runs
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class MatrixJob:
    """Settings and snapped points of a chunked run (built by :func:`prepare_job`; shipped to Dask workers)."""

    mode: str
    settings: dict
    o_ids: np.ndarray
    d_ids: np.ndarray
    o_snap: dict  # access_node, access_cost_s, egress_node, egress_cost_s, snapped... as arrays
    d_snap: dict
    chunk_size: int
    direction: str
    dest_block: int
    percentiles: tuple
    drop_unreachable: bool
    write_matrix: bool
    indicators: _IndArrays | None
    run_hash: str
    manifest: dict = field(default_factory=dict)
    #: the caller gave ``chunk_size`` (else it was derived from the memory budget or the workers: a resumed run
    #: then adopts the chunk size already on disk, so a run started with --workers resumes without, and back)
    chunk_explicit: bool = False

    def replan(self, *, chunk_size: int | None = None, dest_block: int | None = None) -> MatrixJob:
        """The same job with another chunk size (a new run hash) or destination block size (same hash)."""
        import copy

        job = copy.copy(self)
        job.settings = dict(self.settings)
        if chunk_size is not None:
            job.chunk_size = max(1, min(int(chunk_size), self.n_origins))
            job.settings["chunk_size"] = job.chunk_size
        if dest_block is not None and self.direction == "reverse":
            job.dest_block = max(1, min(int(dest_block), self.n_destinations))
        body = {k: self.manifest[k] for k in ("format_version", "inputs")}
        body["settings"] = job.settings
        job.run_hash = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:20]
        job.manifest = dict(body, run_hash=job.run_hash,
                            plan=dict(direction=job.direction, dest_block=job.dest_block if job.direction == "reverse"
                                      else 0))
        return job

    @property
    def n_origins(self) -> int:
        return int(len(self.o_ids))

    @property
    def n_destinations(self) -> int:
        return int(len(self.d_ids))

    @property
    def n_chunks(self) -> int:
        return max(1, -(-self.n_origins // self.chunk_size))

    @property
    def n_blocks(self) -> int:
        return max(1, -(-self.n_destinations // self.dest_block)) if self.direction == "reverse" else 0

    def bounds(self, i: int) -> tuple[int, int]:
        a = i * self.chunk_size
        return a, min(self.n_origins, a + self.chunk_size)

    def block_bounds(self, j: int) -> tuple[int, int]:
        a = j * self.dest_block
        return a, min(self.n_destinations, a + self.dest_block)

    @property
    def time_columns(self) -> list[str]:
        if len(self.percentiles) == 1:
            return ["travel_time"]
        return [f"travel_time_p{p:g}" for p in self.percentiles]

    def part_name(self, i: int) -> str:
        return f"part-{i:0{max(5, len(str(self.n_chunks - 1)))}d}.parquet"

    def block_name(self, j: int) -> str:
        return f"dblock-b{self.dest_block}-{j:0{max(5, len(str(self.n_blocks - 1)))}d}.npy"


def _snap_dict(snap, pts: Points) -> dict:
    d = {f: np.ascontiguousarray(getattr(snap, f)) for f in snap.__dataclass_fields__}
    d["lon"], d["lat"] = np.ascontiguousarray(pts.lon), np.ascontiguousarray(pts.lat)
    return d


def _snap_obj(d: dict, a: int | None = None, b: int | None = None):
    """The :class:`access.network.street.Snap` of points ``a:b`` of a job."""
    from ..network.street import Snap

    sl = slice(a, b)
    return Snap(**{f: np.asarray(d[f][sl]) for f in Snap.__dataclass_fields__})


def _street_rules(graph, job: MatrixJob, a: int, b: int, t: np.ndarray) -> np.ndarray:
    """The rules :func:`access.matrix.travel_time_matrix` applies on top of the node-to-node searches, for origins
    ``a:b`` (``t`` int32[b - a, n_d] with ``INF``): direct times along a shared street segment, zero between
    points at the same coordinates (:func:`access.matrix.point_pair_times`). Returns ``t`` with ``-1`` for
    unreachable."""
    from ..routing.street import apply_point_pairs, point_pair_times

    max_time_s = int(round(job.settings["max_time_min"] * 60))
    o_snap, d_snap = _snap_obj(job.o_snap, a, b), _snap_obj(job.d_snap)
    return apply_point_pairs(t, point_pair_times(graph, o_snap, d_snap, max_time_s, _points_of(job, "o", a, b),
                                                 _points_of(job, "d")))


def _points_of(job: MatrixJob, side: str, a: int | None = None, b: int | None = None) -> Points:
    """The origins (``side="o"``, rows ``a:b``) or destinations of a job as :class:`Points` (ids and lon/lat)."""
    ids, snap = (job.o_ids, job.o_snap) if side == "o" else (job.d_ids, job.d_snap)
    sl = slice(a, b)
    return Points(ids[sl], snap["lon"][sl], snap["lat"][sl], None, "origins" if side == "o" else "destinations")


def _hash_arrays(h, *arrays) -> None:
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        if a.dtype == object:
            h.update("\x1f".join(map(str, a.tolist())).encode())
        else:
            h.update(a.tobytes())


def _network_hash(network, mode: str, graph) -> str:
    h = hashlib.sha256()
    _hash_arrays(h, graph.first_out, graph.head, graph.travel_time_s)
    if mode == "transit":
        arrays, meta = network.timetable.to_arrays()
        for k in sorted(arrays):
            _hash_arrays(h, arrays[k])
        h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()[:20]


def _points_hash(p: Points) -> str:
    h = hashlib.sha256()
    _hash_arrays(h, p.ids, p.lon, p.lat)
    return h.hexdigest()[:20]


def chunk_size_for_budget(memory_budget_mb: float, n_destinations: int, *, n_percentiles: int = 1,
                          n_nodes: int = 0, threads: int | None = None, string_ids: bool = True) -> int:
    """Origins per chunk so that one chunk's working memory stays within ``memory_budget_mb``.

    The estimate counts, per origin-destination pair, the int32 times, float64 minutes, the Arrow columns and the
    Parquet writer's buffers, plus each search thread's scratch (about 16 bytes per street node). The network
    itself is memory-mapped and not counted.
    """
    if not (memory_budget_mb and memory_budget_mb > 0):
        raise ValidationError(f"`memory_budget_mb` must be positive, got {memory_budget_mb!r}")
    threads = threads or numba.get_num_threads()
    budget = memory_budget_mb * 2**20 - 2 * threads * 16 * n_nodes
    per_pair = BYTES_PER_PAIR * max(1, n_percentiles) + 2 * (BYTES_PER_PAIR_ID if string_ids else 8)
    return int(max(1, budget // max(1, per_pair * max(1, n_destinations))))


#: transit settings a chunked run records only where they differ from these defaults (so that the run hash of a
#: plain walk-access run stays what it was), and gives back to every chunk
TRANSIT_EXTRA_DEFAULTS = {"access_mode": "walk", "max_bike_min": None, "max_car_min": None,
                          "park_ride_distance_m": 300.0, "route_types": None, "max_transfer_walk_min": None,
                          "frequencies": "deterministic", "draws_per_minute": 5, "seed": None}


def _transit_extras(to: TransitOptions, so: StreetOptions) -> dict:
    """The job settings of the transit options beyond the classic ones (access mode, route types, ...)."""
    d = to.as_dict()
    out = {k: d[k] for k, v in TRANSIT_EXTRA_DEFAULTS.items() if d[k] != v}
    if to.access_mode == "bike":
        out["bike_speed_kmh"] = float(so.bike_speed_kmh)
        if so.max_lts is not None:
            out["max_lts"] = int(so.max_lts)
    return out


def prepare_job(network, origins, destinations=None, *, mode: str = "walk", max_time_min: float = 120,
                street: StreetOptions | None = None, transit: TransitOptions | None = None,
                departure=None, window_min: int | None = None, percentiles=None, max_walk_min: float | None = None,
                max_rides: int | None = None, walk_speed_kmh: float | None = None, bike_speed_kmh: float | None = None,
                max_snap_m: float | None = None, chunk_size: int | None = None, memory_budget_mb: float | None = None,
                direction: str = "auto", dest_block: int | None = None, drop_unreachable: bool = False,
                write_matrix: bool = True, indicators: Indicators | None = None,
                network_hash: str | None = None, access_mode: str | None = None, arrive_by=None) -> MatrixJob:
    """Validate the inputs, snap the points once and fix the chunking: the plan every chunk follows."""
    from ..matrix import transit_options
    from ..options import ALL_MODES, StreetOptions, check_max_time_min
    from ..routing.street import graph_at_speed, snap_points

    mode = check_choice("mode", mode, ALL_MODES)
    max_time_min = check_max_time_min(max_time_min)
    direction = check_choice("direction", direction, ("auto", "forward", "reverse"))
    so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                               max_snap_m=max_snap_m)
    max_snap_m = so.max_snap_m
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = o if destinations is None else (destinations if isinstance(destinations, Points)
                                        else read_points(destinations, name="destinations"))
    max_time_s = int(round(max_time_min * 60))
    settings = dict(mode=mode, max_time_min=float(max_time_min), max_snap_m=float(max_snap_m))
    ps: tuple = (50,)
    if mode in STREET_MODES:
        speed = so.speed_kmh(mode)
        g = graph_at_speed(network.street(mode), speed)
        settings.update(speed_kmh=speed)
    elif arrive_by is not None:  # arrive-by: the latest departure minute arriving by then (one time column)
        from .._validate import fail, parse_departure

        if departure is not None or window_min is not None or percentiles is not None:
            raise fail("arrive_by", "used without departure/window_min/percentiles", arrive_by,
                       "give either departure=... (leave at) or arrive_by=... (arrive by), not both")
        t_arr = parse_departure(arrive_by, "arrive_by").replace(second=0, microsecond=0)
        to = transit_options(network, transit, departure=t_arr, max_walk_min=max_walk_min, max_rides=max_rides,
                             access_mode=access_mode)
        g = graph_at_speed(network.street("walk"), so.walk_speed_kmh)
        settings.update(max_walk_s=to.max_walk_s(max_time_s), max_rides=to.max_rides,
                        walk_speed_kmh=float(so.walk_speed_kmh), board_slack_s=to.board_slack_s,
                        egress_walk_limit_m=to.egress_walk_limit_m, transfers_txt=to.transfers_txt)
        settings.update(_transit_extras(to, so))
    else:
        to = transit_options(network, transit, departure=departure, window_min=window_min, percentiles=percentiles,
                             max_walk_min=max_walk_min, max_rides=max_rides, access_mode=access_mode)
        ps = to.percentiles
        g = graph_at_speed(network.street("walk"), so.walk_speed_kmh)
        dep = to.require_departure()
        settings.update(departure=dep.isoformat(), window_min=to.window_min, max_walk_s=to.max_walk_s(max_time_s),
                        max_rides=to.max_rides, walk_speed_kmh=float(so.walk_speed_kmh),
                        percentiles=[float(p) for p in ps], board_slack_s=to.board_slack_s,
                        egress_walk_limit_m=to.egress_walk_limit_m, transfers_txt=to.transfers_txt)
        settings.update(_transit_extras(to, so))
    if arrive_by is not None:
        from .._validate import parse_departure

        settings["arrive_by"] = parse_departure(arrive_by, "arrive_by").replace(second=0, microsecond=0).isoformat()
    o_snap, d_snap = snap_points(g, o, d, max_snap_m)
    if direction == "auto":
        direction = "reverse" if (mode in STREET_MODES and len(o) > 2 * len(d)) else "forward"
    if direction == "reverse" and mode not in STREET_MODES:
        raise ValidationError("direction='reverse' is for street modes only; transit runs forward")
    string_ids = o.ids.dtype == object or d.ids.dtype == object
    chunk_explicit = chunk_size is not None
    if memory_budget_mb is not None:  # 0 is an error, not "the default"
        memory_budget_mb = check_number("memory_budget_mb", memory_budget_mb, gt=0)
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, ge=1)
    if chunk_size is None:
        chunk_size = chunk_size_for_budget(memory_budget_mb or DEFAULT_MEMORY_BUDGET_MB, len(d),
                                           n_percentiles=len(ps), n_nodes=g.n_nodes, string_ids=string_ids)
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ValidationError(f"`chunk_size` must be at least 1, got {chunk_size}")
    chunk_size = min(chunk_size, len(o))
    if direction == "reverse" and dest_block is None:
        # a block's [block, n_origins] int32 result and its transposed copy within the budget
        budget = (memory_budget_mb or DEFAULT_MEMORY_BUDGET_MB) * 2**20
        dest_block = int(max(numba.get_num_threads(), min(1024, budget // max(1, 8 * len(o)))))
    dest_block = int(min(dest_block or len(d), len(d)))
    ind = _resolve_indicators(indicators, d, max_time_s)
    settings.update(chunk_size=chunk_size, drop_unreachable=bool(drop_unreachable), write_matrix=bool(write_matrix),
                    indicators=None if indicators is None else indicators.describe())
    inputs = dict(network=network_hash or _network_hash(network, mode, g), origins=_points_hash(o),
                  destinations=_points_hash(d), n_origins=len(o), n_destinations=len(d))
    body = dict(format_version=FORMAT_VERSION, settings=settings, inputs=inputs)
    # the hash covers what the partitions hold; how they are computed (direction, blocks, workers) does not
    # change a byte of them, so it is recorded apart and may differ between an interrupted run and its resumption
    run_hash = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:20]
    manifest = dict(body, run_hash=run_hash,
                    plan=dict(direction=direction, dest_block=dest_block if direction == "reverse" else 0))
    return MatrixJob(mode, settings, o.ids, d.ids, _snap_dict(o_snap, o), _snap_dict(d_snap, d), chunk_size, direction,
                     dest_block, ps, bool(drop_unreachable), bool(write_matrix), ind, run_hash, manifest,
                     chunk_explicit)


# ----------------------------------------------------------------------------------------------------------------
# computing and writing one chunk (the unit of work, here and on Dask workers)
# ----------------------------------------------------------------------------------------------------------------
def street_graph_for(network, job: MatrixJob):
    """The (re-timed) street graph a job searches."""
    from ..routing.street import graph_at_speed

    if job.mode in STREET_MODES:
        return graph_at_speed(network.street(job.mode), job.settings.get("speed_kmh"))
    return graph_at_speed(network.street("walk"), job.settings["walk_speed_kmh"])


def compute_block(graph, job: MatrixJob, j: int) -> np.ndarray:
    """Reverse searches of destination block ``j``: int32[n_origins, block] seconds (``INF`` unreachable)."""
    a, b = job.block_bounds(j)
    f, h, w = graph.csr(reverse=True)
    out = reverse_od_block(f, h, w, job.d_snap["egress_node"][a:b], job.d_snap["egress_cost_s"][a:b],
                           job.o_snap["access_node"], job.o_snap["access_cost_s"],
                           np.int32(int(round(job.settings["max_time_min"] * 60))))
    return np.ascontiguousarray(out.T)


def write_block(graph, job: MatrixJob, out_dir, j: int) -> Path:
    """Compute block ``j`` and write it atomically to ``_scratch/`` (skipped when already there)."""
    path = Path(out_dir) / SCRATCH_DIR / job.block_name(j)
    if _block_ok(path, job, j):
        return path
    arr = compute_block(graph, job, j)
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
    return path


def _block_ok(path: Path, job: MatrixJob, j: int) -> bool:
    if not path.exists():
        return False
    a, b = job.block_bounds(j)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return False
    return arr.shape == (job.n_origins, b - a) and arr.dtype == np.int32


def compute_chunk(network, graph, job: MatrixJob, i: int, out_dir=None) -> np.ndarray:
    """Times of origin chunk ``i``: int32[k, n_destinations, n_percentiles] seconds, ``-1`` unreachable."""
    a, b = job.bounds(i)
    max_time_s = np.int32(int(round(job.settings["max_time_min"] * 60)))
    if job.mode in STREET_MODES and job.direction == "forward":
        t = dj.od_matrix(graph.first_out, graph.head, graph.travel_time_s, job.o_snap["access_node"][a:b],
                         job.o_snap["access_cost_s"][a:b], job.d_snap["egress_node"], job.d_snap["egress_cost_s"],
                         max_time_s)
        return _street_rules(graph, job, a, b, t)[:, :, None]
    if job.mode in STREET_MODES:  # reverse: gather the rows from the spilled blocks
        t = np.empty((b - a, job.n_destinations), np.int32)
        for j in range(job.n_blocks):
            c0, c1 = job.block_bounds(j)
            blk = np.load(Path(out_dir) / SCRATCH_DIR / job.block_name(j), mmap_mode="r", allow_pickle=False)
            t[:, c0:c1] = blk[a:b]
            del blk
        return _street_rules(graph, job, a, b, t)[:, :, None]
    from ..routing.transit import transit_travel_times

    s = job.settings
    extra: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in s.items()
                             if k in TRANSIT_EXTRA_DEFAULTS}
    to = TransitOptions(departure=s["departure"], window_min=s["window_min"], percentiles=job.percentiles,
                        max_rides=s["max_rides"], max_walk_min=s["max_walk_s"] / 60.0,
                        board_slack_s=s.get("board_slack_s", TransitOptions.board_slack_s),
                        transfers_txt=s.get("transfers_txt", True),
                        egress_walk_limit_m=s.get("egress_walk_limit_m", TransitOptions.egress_walk_limit_m), **extra)
    if to.access_mode != "walk":  # bike / car to the first stop: the same call as the in-memory matrix
        from ..routing.transit import transit_travel_times_by

        so = StreetOptions(walk_speed_kmh=s["walk_speed_kmh"], max_snap_m=s["max_snap_m"],
                           **({"bike_speed_kmh": s["bike_speed_kmh"]} if "bike_speed_kmh" in s else {}),
                           **({"max_lts": s["max_lts"]} if s.get("max_lts") else {}))
        times, _ = transit_travel_times_by(network, _points_of(job, "o", a, b), _points_of(job, "d"), options=to,
                                           street=so, max_time_s=int(max_time_s), progress=False)
        return times
    times, _ = transit_travel_times(network, _snap_obj(job.o_snap, a, b), _snap_obj(job.d_snap), options=to,
                                    street=StreetOptions(walk_speed_kmh=s["walk_speed_kmh"]),
                                    max_time_s=int(max_time_s), progress=False,
                                    origin_points=_points_of(job, "o", a, b), dest_points=_points_of(job, "d"))
    return times


def compute_chunk_arrive_by(network, graph, job: MatrixJob, i: int, out_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Arrive-by chunk ``i``: (times int32[k, n_d, 1], departure_time datetime64[s][k, n_d]) as
    ``travel_time_matrix(..., arrive_by=...)`` gives them."""
    import datetime as _dt

    s = job.settings
    t_np = np.datetime64(_dt.datetime.fromisoformat(s["arrive_by"]).replace(tzinfo=None), "s")
    if job.mode in STREET_MODES:
        times = compute_chunk(network, graph, job, i, out_dir)
        t = times[:, :, 0]
        return times, np.where(t >= 0, t_np - t.astype("timedelta64[s]"), np.datetime64("NaT", "s"))
    from ..matrix import travel_time_matrix

    a, b = job.bounds(i)
    extra: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in s.items()
                             if k in TRANSIT_EXTRA_DEFAULTS}
    to = TransitOptions(max_rides=s["max_rides"], max_walk_min=s["max_walk_s"] / 60.0,
                        board_slack_s=s.get("board_slack_s", TransitOptions.board_slack_s),
                        transfers_txt=s.get("transfers_txt", True),
                        egress_walk_limit_m=s.get("egress_walk_limit_m", TransitOptions.egress_walk_limit_m), **extra)
    so = StreetOptions(walk_speed_kmh=s["walk_speed_kmh"], max_snap_m=s["max_snap_m"],
                       **({"bike_speed_kmh": s["bike_speed_kmh"]} if "bike_speed_kmh" in s else {}),
                       **({"max_lts": s["max_lts"]} if s.get("max_lts") else {}))
    m = travel_time_matrix(network, _points_of(job, "o", a, b), _points_of(job, "d"), mode="transit",
                           arrive_by=s["arrive_by"], transit=to, street=so, max_time_min=s["max_time_min"],
                           progress=False)
    assert m.departure_time is not None  # an arrive-by matrix always has them
    return m.times_s, m.departure_time


def matrix_table(job: MatrixJob, i: int, times_s: np.ndarray, departure_time: np.ndarray | None = None):
    """The long Arrow table ``from_id, to_id, travel_time...`` (minutes, NaN unreachable; arrive-by runs add
    ``departure_time``) of chunk ``i``: the one long-table layout (:func:`access.matrix.long_table`) with the run's
    settings and chunk in the metadata."""
    from ..matrix import long_table

    a, b = job.bounds(i)
    table = long_table(job.o_ids[a:b], job.d_ids, times_s, job.time_columns, drop_unreachable=job.drop_unreachable,
                       departure_time=departure_time)
    info = {k_: v for k_, v in job.settings.items() if k_ != "indicators"}
    info.update(mode=job.mode, percentiles=list(job.percentiles))
    meta = {b"access": json.dumps(info, sort_keys=True, default=str).encode(),
            b"access_run": job.run_hash.encode(), b"access_chunk": str(i).encode()}
    return table.replace_schema_metadata(meta)


def _part_ok(path: Path, job: MatrixJob, i: int) -> bool:
    import pyarrow.parquet as pq

    if not path.exists():
        return False
    try:
        md = pq.read_metadata(path).metadata or {}
    except (OSError, ValueError):
        return False
    return md.get(b"access_run") == job.run_hash.encode() and md.get(b"access_chunk") == str(i).encode()


def chunk_done(job: MatrixJob, out_dir, i: int) -> bool:
    """Whether chunk ``i`` has all its files, complete and from this run."""
    out_dir = Path(out_dir)
    if job.write_matrix and not _part_ok(out_dir / job.part_name(i), job, i):
        return False
    if job.indicators is not None and not _part_ok(out_dir / INDICATOR_DIR / job.part_name(i), job, i):
        return False
    return True


def run_chunk(network, graph, job: MatrixJob, out_dir, i: int) -> dict:
    """Compute chunk ``i`` and write its partitions atomically (matrix, then indicators). Idempotent."""
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    if chunk_done(job, out_dir, i):
        return dict(chunk=i, skipped=True, rows=None, seconds=0.0)
    dep = None
    if "arrive_by" in job.settings:
        times, dep = compute_chunk_arrive_by(network, graph, job, i, out_dir)
    else:
        times = compute_chunk(network, graph, job, i, out_dir)
    rows = _write_chunk(job, out_dir, i, times, dep)
    return dict(chunk=i, skipped=False, rows=rows, seconds=round(time.perf_counter() - t0, 4))


def _write_chunk(job: MatrixJob, out_dir: Path, i: int, times: np.ndarray, dep: np.ndarray | None = None) -> int:
    """Write chunk ``i``'s partitions atomically (matrix, then indicators); the number of matrix rows written."""
    import pyarrow.parquet as pq

    rows = 0
    if job.write_matrix:
        table = matrix_table(job, i, times, dep)
        rows = table.num_rows
        with atomic_path(out_dir / job.part_name(i), suffix=".parquet") as tmp:
            pq.write_table(table, tmp)
        del table
    if job.indicators is not None:
        a, b = job.bounds(i)
        it = _indicator_table(job.o_ids[a:b], job.indicators, times)
        it = it.replace_schema_metadata({b"access_run": job.run_hash.encode(), b"access_chunk": str(i).encode()})
        with atomic_path(out_dir / INDICATOR_DIR / job.part_name(i), suffix=".parquet") as tmp:
            pq.write_table(it, tmp)
    return rows


# ----------------------------------------------------------------------------------------------------------------
# the run: manifest, resume, progress
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class ChunkedResult:
    """A partitioned matrix on disk (see the module docstring)."""

    out_dir: Path
    mode: str
    n_origins: int
    n_destinations: int
    n_chunks: int
    chunk_size: int
    direction: str
    chunks_computed: int
    seconds: float
    has_matrix: bool = True
    has_indicators: bool = False
    stats: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"ChunkedResult(mode={self.mode!r}, {self.n_origins:,} origins x {self.n_destinations:,} destinations, "
                f"{self.n_chunks} chunks of {self.chunk_size} ({self.direction}), "
                f"{self.chunks_computed} computed now, {self.seconds:.1f} s, in {str(self.out_dir)!r})")

    @property
    def partitions(self) -> list[Path]:
        return sorted(self.out_dir.glob("part-*.parquet"))

    def read_matrix(self, columns=None):
        """The whole long matrix as a DataFrame (it must fit in memory; else read the partitions one by one)."""
        import pyarrow.parquet as pq

        return pq.read_table(self.out_dir, columns=columns).to_pandas()

    def read_indicators(self):
        """Per origin x category indicators of every chunk, as one DataFrame."""
        import pyarrow.parquet as pq

        if not self.has_indicators:
            raise ValidationError("this run computed no indicators (pass `indicators=Indicators(...)`)")
        return pq.read_table(self.out_dir / INDICATOR_DIR).to_pandas()


def resume_plan(out_dir, job: MatrixJob) -> MatrixJob:
    """``job``, or the same job with the chunk size of the run already in ``out_dir`` when only that differs.

    A chunk size derived from a memory budget or a worker count is not part of what the user asked: a resumed run
    takes the one on disk. An explicit ``chunk_size`` that differs is left to :func:`prepare_out_dir` to refuse.
    """
    mf = Path(out_dir) / MANIFEST_NAME
    if job.chunk_explicit or not mf.is_file():
        return job
    try:
        old = json.loads(mf.read_text())
        old_chunk = int(old["settings"]["chunk_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return job
    if old.get("run_hash") == job.run_hash or old_chunk == job.chunk_size:
        return job
    again = job.replan(chunk_size=old_chunk)
    return again if again.run_hash == old.get("run_hash") else job


def run_complete(job: MatrixJob, out_dir) -> bool:
    """True when every chunk of ``job`` is already written in ``out_dir``."""
    return all(chunk_done(job, out_dir, i) for i in range(job.n_chunks))


def prepare_out_dir(out_dir, job: MatrixJob, *, overwrite: bool = False) -> Path:
    """Create ``out_dir``, write the run's manifest or check that an existing one matches; remove stale temp files.

    Raises
    ------
    ValidationError
        The folder holds a run with other settings or inputs (and ``overwrite`` is False).
    """
    import shutil

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValidationError(f"output {str(out_dir)!r} exists and is a file; a chunked run writes a folder of "
                              "Parquet partitions: give a folder path")
    mf = out_dir / MANIFEST_NAME
    if mf.exists():
        try:
            old = json.loads(mf.read_text())
        except (OSError, ValueError) as e:
            raise ValidationError(f"{str(mf)!r} is corrupt ({e}); remove the folder {str(out_dir)!r} (or pass "
                                  "overwrite=True) to start over") from None
        if old.get("run_hash") == job.run_hash and old.get("plan") != job.manifest.get("plan"):
            with atomic_path(mf, suffix=".json") as tmp:  # resumed with another direction or block size
                tmp.write_text(json.dumps(job.manifest, indent=1, sort_keys=True, default=str))
        if old.get("run_hash") != job.run_hash:
            if not overwrite:
                diff = _diff({k: v for k, v in old.items() if k != "plan"},
                         {k: v for k, v in job.manifest.items() if k != "plan"})
                raise ValidationError(
                    f"{str(out_dir)!r} holds a chunked run with other settings or inputs ({'; '.join(diff[:6])}); "
                    "resume it with the same settings, give another output folder, or pass overwrite=True "
                    "(CLI: remove the folder) to start over")
            shutil.rmtree(out_dir)
    elif out_dir.exists() and any(out_dir.glob("part-*.parquet")):
        if not overwrite:
            raise ValidationError(f"{str(out_dir)!r} holds Parquet partitions but no {MANIFEST_NAME}; remove them or "
                                  "give another output folder")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not mf.exists():
        with atomic_path(mf, suffix=".json") as tmp:
            tmp.write_text(json.dumps(job.manifest, indent=1, sort_keys=True, default=str))
    clean_stale_temps(out_dir)
    return out_dir


def clean_stale_temps(out_dir) -> int:
    """Remove temporary files left by interrupted writes (``.part-*``, ``.dblock-*``). Returns how many."""
    out_dir = Path(out_dir)
    n = 0
    for d in (out_dir, out_dir / INDICATOR_DIR, out_dir / SCRATCH_DIR):
        if d.is_dir():
            for p in list(d.glob(".part-*")) + list(d.glob(".dblock-*")):
                p.unlink(missing_ok=True)
                n += 1
    return n


def _diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        if k == "run_hash":
            continue
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


def finish(out_dir, job: MatrixJob, *, keep_scratch: bool = False) -> None:
    """After every chunk is done: drop the reverse-search scratch files and stale temporary files."""
    import shutil

    sc = Path(out_dir) / SCRATCH_DIR
    if sc.exists() and not keep_scratch:
        shutil.rmtree(sc, ignore_errors=True)
    clean_stale_temps(out_dir)


def chunked_travel_time_matrix(network, origins, destinations=None, out_dir=None, *, mode: str = "walk",
                               chunk_size: int | None = None, memory_budget_mb: float | None = None,
                               indicators: Indicators | None = None, drop_unreachable: bool = False,
                               write_matrix: bool = True, direction: str = "auto", dest_block: int | None = None,
                               overwrite: bool = False, keep_scratch: bool = False, progress: bool = True,
                               **opts) -> ChunkedResult:
    """Travel-time matrix in origin chunks, one Parquet partition per chunk, resumable, with per-chunk indicators.

    Parameters
    ----------
    network : TransportNetwork or path
        A network, or the folder of a saved bundle (loaded memory-mapped).
    origins, destinations : GeoDataFrame, DataFrame with lon/lat, path, or ``access.io.places.Points``
        As in :func:`access.travel_time_matrix`; destinations default to the origins.
    out_dir : path
        Folder of the partitions (created). If it holds an unfinished run with the same settings and inputs, that run
        is resumed; with other settings a ``ValidationError`` is raised (or the folder is replaced if ``overwrite``).
    mode : {"walk", "bike", "car", "transit"}
    chunk_size : int, optional
        Origins per chunk. Default: as many as ``memory_budget_mb`` allows.
    memory_budget_mb : float, optional
        Working memory of one chunk (default 1024 MB when ``chunk_size`` is not given either), see
        :func:`chunk_size_for_budget`.
    indicators : Indicators, optional
        Per-origin indicators reduced from each chunk and written to ``_indicators/``.
    drop_unreachable : bool
        Leave unreachable pairs out of the partitions.
    write_matrix : bool
        Write the matrix partitions (False: indicators only, for region-sized matrices nobody needs pair by pair).
    direction : {"auto", "forward", "reverse"}
        Street modes: search from the origins, or from the destinations (see the module docstring).
    dest_block : int, optional
        Reverse direction: destinations per search block (default: from the memory budget).
    **opts
        ``max_time_min``, ``departure``, ``window_min``, ``percentiles``, ``max_walk_min``, ``max_rides``,
        ``walk_speed_kmh``, ``bike_speed_kmh``, ``max_snap_m`` as in :func:`access.travel_time_matrix`.

    Returns
    -------
    ChunkedResult

    Examples
    --------
    >>> res = chunked_travel_time_matrix(net, cells, venues, "out/car", mode="car", memory_budget_mb=512,
    ...                                  indicators=Indicators(category="type"))  # doctest: +SKIP
    >>> res.read_indicators().head()  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    if out_dir is None:
        raise ValidationError("`out_dir` is required: the folder the Parquet partitions are written to")
    t0 = time.perf_counter()
    if isinstance(network, (str, Path)):
        from ..network.bundle import TransportNetwork

        network = TransportNetwork.load(network)
    job = prepare_job(network, origins, destinations, mode=mode, chunk_size=chunk_size,
                      memory_budget_mb=memory_budget_mb, direction=direction, dest_block=dest_block,
                      drop_unreachable=drop_unreachable, write_matrix=write_matrix, indicators=indicators, **opts)
    if not overwrite:
        job = resume_plan(out_dir, job)
    out_dir = prepare_out_dir(out_dir, job, overwrite=overwrite)
    graph = street_graph_for(network, job)
    todo = [i for i in range(job.n_chunks) if not chunk_done(job, out_dir, i)]
    computed = 0
    if todo and job.direction == "reverse":
        bar = tqdm(total=job.n_blocks, desc=f"{job.mode} destination blocks", unit="block", disable=not progress)
        for j in range(job.n_blocks):
            write_block(graph, job, out_dir, j)
            bar.update()
        bar.close()
    bar = tqdm(total=job.n_origins, desc=f"{job.mode} origin chunks", unit="orig", disable=not progress)
    bar.update(job.n_origins - sum(job.bounds(i)[1] - job.bounds(i)[0] for i in todo))
    for i in todo:
        r = run_chunk(network, graph, job, out_dir, i)
        computed += not r["skipped"]
        a, b = job.bounds(i)
        bar.update(b - a)
    bar.close()
    finish(out_dir, job, keep_scratch=keep_scratch)
    return ChunkedResult(out_dir, job.mode, job.n_origins, job.n_destinations, job.n_chunks, job.chunk_size,
                         job.direction, computed, time.perf_counter() - t0, job.write_matrix,
                         job.indicators is not None)

