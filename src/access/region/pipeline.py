"""A region from sources to report: the end-to-end pipeline behind ``access run RECIPE`` and ``access demo``.

:func:`run` chains these steps, each a plain function of the previous steps' outputs:

========== ===================================================================================================
sources    :func:`access.io.fetch.fetch_recipe` downloads what is missing (files already present and matching
           the lock are skipped), unpacks archives, merges/clips the OSM extracts; local ``path`` sources are
           used as they are.
network    :meth:`access.TransportNetwork.from_files` (street graphs of the recipe's modes + the transit
           timetable of every enabled GTFS feed), cached as a bundle keyed by a content hash.
inputs     population cells (:func:`~access.io.sources.read_filosofi`), venues (per category, the first
           source that has some: Basilic, then BPE, then OSM tags), areas (:func:`~access.io.sources.read_epci`).
matrix_*   one travel-time matrix per mode, cells -> venues, computed in chunks of origins and streamed to a
           long Parquet file (pairs beyond ``max_time_min`` dropped); transit over the recipe's departure window
           and percentiles.
indicators per cell and mode: minutes to the nearest venue of each category and of any category, venues
           reachable within each threshold, gravity (negative exponential, half-life :data:`GRAVITY_HALF_LIFE_MIN`)
           and 2SFCA (venues per 10,000 inhabitants within :data:`FCA_CUTOFF_MIN`).
barriers   social barriers per cell (Filosofi profile, households without a car from the census by IRIS, best
           time without a car, evening round trips and Saturday access by transit) and the barrier index per area
           (:mod:`access.indicators.barriers`, ``data/barriers_default.toml``, ``docs/barriers.md``).
areas      population-weighted aggregation to the areas (EPCI), their socio-economic profile from the cells
           (poverty rate, median standard of living, share of elderly, density), the barrier columns, the
           typology with the recipe's priority contract zones (its social dimension: the barrier index by default).
report     ``<stem>.gpkg`` (layers epci, cells, venues), ``epci.parquet/csv``, ``cells.parquet``,
           ``maps/*.png``, ``epci_map.html``, ``summary.md``.
========== ===================================================================================================

Caching: every step's outputs live in ``<out>/work`` and ``<out>/work/state.json`` records the hash of each
step's inputs and settings (input files by sha256, upstream steps by their own keys, this module's
:data:`PIPELINE_VERSION` and a fingerprint of the code behind the step, :data:`STEP_CODE`, so an upgrade
recomputes). A step whose key is unchanged and whose outputs exist is skipped; a changed input therefore
recomputes only the steps downstream of it. The network bundle has its own content-hash cache
(``<out>/cache/network``), and downloads are skipped by
:func:`~access.io.fetch.fetch_recipe` when the cached file matches the lock file.

Scale: matrices keep every pair within ``max_time_min`` (Parquet, ids dictionary-encoded) and the indicators
stream them by row groups, so memory is bounded by one chunk of origins; disk grows with cells x venues reached.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import FetchError, InputFileError, ValidationError
from .._io_util import atomic_path, sha256_file
from ..indicators import columns as ind_cols

if TYPE_CHECKING:
    from ..io.places import Points

__all__ = ["PIPELINE_VERSION", "STEPS", "RunResult", "run"]

#: bump when a step's outputs change meaning (invalidates every cached step)
PIPELINE_VERSION = 1
#: the steps, in order (``matrix`` stands for one ``matrix_<mode>`` step per mode)
STEPS = ("sources", "network", "inputs", "matrix", "indicators", "barriers", "areas", "report")
#: gravity: negative exponential decay exp(-beta t) with beta = ln 2 / half-life
GRAVITY_HALF_LIFE_MIN = 15.0
#: 2SFCA catchment (binary decay), minutes
FCA_CUTOFF_MIN = 30.0
#: transit horizon of the times to the nearest venue (at least the recipe's max_time_min); streets are uncapped
TRANSIT_NEAREST_MAX_MIN = 120.0
#: origins per matrix chunk (street modes / transit)
CHUNK_ORIGINS = {"walk": 4000, "bike": 4000, "car": 4000, "transit": 1000}
#: venue sources, in order of preference for each category
VENUE_SOURCE_ORDER = ("basilic", "bpe", "osm")

_log = logging.getLogger("access.region.pipeline")


@dataclass
class RunResult:
    """What :func:`run` did and wrote.

    Attributes
    ----------
    out_dir : Path
    files : dict
        Report files by kind (``gpkg``, ``tables``, ``png``, ``html``, ``summary``) and ``sources`` (the input
        file of each source).
    timings_s : dict
        Seconds per step (as run this time; a reused step takes only its check).
    reused : list of str
        Steps whose cached outputs were up to date.
    areas : GeoDataFrame
        The per-area table (indicators, socio-economic profile, typology).
    cells : GeoDataFrame
        The per-cell table (population and indicators).
    network : TransportNetwork
        The network the matrices were computed on.
    """

    out_dir: Path
    files: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    reused: list = field(default_factory=list)
    areas: object = None
    cells: object = None
    network: object = None


# ---------------------------------------------------------------------------------------------- small helpers
def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: the package's modules each step's result depends on (besides this module), for the code fingerprint
STEP_CODE = {
    "inputs": ("io", "region", "_data.py", "_io_util.py"),
    "matrix": ("core", "network", "routing", "scale", "matrix.py", "options.py", "_validate.py", "io"),
    "indicators": ("indicators",),
    "barriers": ("indicators", "region/census.py", "core", "network", "routing", "matrix.py", "options.py", "io"),
    "areas": ("indicators",),
    "report": ("report",),
}


def code_fingerprint(step: str | None = None) -> str:
    """Hash of the package version, of the Python sources a step depends on (:data:`STEP_CODE`; the whole
    package for ``None``) and of the embedded data files, so that a cached step is recomputed after a change of the
    code or tables behind it (:func:`access._fingerprint.code_fingerprint`)."""
    from .._fingerprint import code_fingerprint as _fp

    group = step.split("_")[0] if step else None
    parts = STEP_CODE.get(group, ("",)) if group is not None else ("",)
    return _fp(("region/pipeline.py", *parts))


class _State:
    """``work/state.json``: per-step keys and outputs, and a sha256 memo of input files (by size + mtime)."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, Any] = {"pipeline_version": PIPELINE_VERSION, "steps": {}, "files": {}}
        if path.exists():
            try:
                d = json.loads(path.read_text())
                if d.get("pipeline_version") == PIPELINE_VERSION:
                    self.data = d
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass  # a damaged state only costs a recomputation

    def save(self) -> None:
        with atomic_path(self.path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))

    def file_sha(self, path) -> str:
        p = Path(path).resolve()
        st = p.stat()
        memo = self.data["files"].get(str(p))
        if memo and memo["size"] == st.st_size and memo["mtime_ns"] == st.st_mtime_ns:
            return memo["sha256"]
        digest = sha256_file(p)
        self.data["files"][str(p)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        return digest


class _Runner:
    def __init__(self, out_dir: Path, log: Callable[[str], None], progress: bool):
        self.out = out_dir
        self.work = out_dir / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.state = _State(self.work / "state.json")
        self.log = log
        self.progress = progress
        self.result = RunResult(out_dir=out_dir)

    def step(self, name: str, key_parts, outputs: list[Path], fn: Callable[[], None]) -> str:
        """Run ``fn`` unless the step's key is unchanged and its outputs exist; returns the key."""
        key = _hash({"step": name, "parts": key_parts, "code": code_fingerprint(name), "pipeline": PIPELINE_VERSION})
        t0 = time.perf_counter()
        prev = self.state.data["steps"].get(name)
        if prev and prev.get("key") == key and all(p.exists() for p in outputs):
            dt = time.perf_counter() - t0
            self.result.reused.append(name)
            self.result.timings_s[name] = dt
            self.log(f"[{name}] up to date (cached {prev.get('seconds', 0):.1f} s of work), skipped")
            return key
        if prev and prev.get("key") != key and isinstance(prev.get("parts"), dict) and isinstance(key_parts, dict):
            changed = sorted(k for k in set(key_parts) | set(prev["parts"])
                             if _hash(prev["parts"].get(k)) != _hash(json.loads(json.dumps(key_parts.get(k),
                                                                                           default=str))))
            self.log(f"[{name}] running (changed since the last run: {', '.join(changed) or 'code version'})")
        else:
            self.log(f"[{name}] running")
        fn()
        dt = time.perf_counter() - t0
        self.state.data["steps"][name] = {"key": key, "seconds": round(dt, 3),
                                          "parts": json.loads(json.dumps(key_parts, default=str)),
                                          "outputs": [str(p.relative_to(self.out)) for p in outputs],
                                          "at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
        self.state.save()
        self.result.timings_s[name] = dt
        self.log(f"[{name}] done in {dt:.1f} s")
        return key


def _write_geoparquet(gdf, path: Path) -> None:
    with atomic_path(path, suffix=".parquet") as tmp:
        gdf.to_parquet(tmp, index=False)


def _read_geoparquet(path: Path):
    import geopandas as gpd

    return gpd.read_parquet(path)


# ---------------------------------------------------------------------------------------------- step: sources
@dataclass
class _Sources:
    osm: Path
    gtfs: list
    files: dict  # source name -> path
    shas: dict  # source name -> sha256 (content identity of each input)


def _resolve_sources(recipe, cache_dir: Path, *, fetch: bool, progress: bool, log, state: _State,
                     fetch_options: dict | None = None) -> _Sources:
    from .fetch import fetch_recipe, recipe_osm_path

    enabled = recipe.enabled_sources()
    if not recipe.enabled_sources("osm"):
        raise ValidationError(f"recipe {recipe.name!r} has no enabled OSM source; add a [sources.<name>] table with "
                              'kind = "osm"')
    remote = any(s.is_remote for s in enabled)
    if fetch or not remote:  # a recipe of local files never touches the network: only unpacking and OSM clipping
        rep = fetch_recipe(recipe, cache_dir=cache_dir, progress=progress, log=log, **(fetch_options or {}))
        files = dict(rep.files)
        osm = rep.osm_path or recipe_osm_path(recipe, cache_dir)
    else:
        files = {}
        for s in enabled:
            p = recipe.source_file(s, cache_dir)
            if s.extract:
                p = Path(cache_dir) / s.extracted_name
            if not p.exists():
                raise FetchError(f"source {s.name!r}: {str(p)!r} is not there and fetching is off; run "
                                 f"`access fetch {recipe.path or 'RECIPE'}` first or drop --no-fetch")
            files[s.name] = p
        osm = recipe_osm_path(recipe, cache_dir)
        if not osm.exists():
            raise FetchError(f"the merged/clipped OSM extract {str(osm)!r} is not there and fetching is off; run "
                             f"`access fetch {recipe.path or 'RECIPE'}` first or drop --no-fetch")
    missing = [s.name for s in enabled if s.name not in files]
    if missing:
        raise FetchError(f"sources {missing} were not fetched; run `access fetch` and check its messages")
    gtfs = [_linked_feed(files[s.name], Path(cache_dir), s.name, log) for s in recipe.enabled_sources("gtfs")]
    shas = {name: state.file_sha(p) for name, p in files.items()}
    shas["__osm__"] = state.file_sha(osm)
    return _Sources(osm=Path(osm), gtfs=[Path(g) for g in gtfs], files=files, shas=shas)


def _linked_feed(path: Path, cache_dir: Path, name: str, log) -> Path:
    """The feed with TER's train/coach stop ids of one station linked (:func:`access.region.feeds.
    link_ter_stations`), or the feed itself when it has no such pair."""
    from .feeds import gtfs_stops, link_ter_stations, ter_station_links

    path = Path(path)
    out = cache_dir / f"{name}.linked.gtfs.zip"
    if out.exists() and out.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        return out
    if ter_station_links(gtfs_stops(path)).empty:
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    _, n = link_ter_stations(path, out)
    log(f"[sources] {name}: {n} transfer(s) added between the train and coach stop ids of the same TER stations")
    return out


# ---------------------------------------------------------------------------------------------- step: inputs
def _taxonomy_path(recipe):
    if recipe.taxonomy == "venue_taxonomy.csv":
        return None
    p = Path(recipe.taxonomy)
    if not p.is_absolute():
        p = (recipe.path.parent if recipe.path is not None else Path.cwd()) / p
    if not p.exists():
        from .._data import data_path

        try:
            p = data_path(recipe.taxonomy)
        except FileNotFoundError:
            raise InputFileError(f"venue taxonomy {recipe.taxonomy!r} is neither next to the recipe nor an "
                                 "embedded data file; fix [venues] taxonomy") from None
    return p


def load_venues(recipe, files: dict, osm_path: Path, *, log=_log.info, bbox=None):
    """Venues of the recipe's categories: for each category, those of the first source kind (Basilic, BPE, OSM
    tags) that has at least one venue of that category. Adds a ``source`` column. ``bbox`` (lon/lat) keeps only
    the venues inside it (the region grown by its venue buffer)."""
    import geopandas as gpd

    from .osm_venues import read_osm_venues
    from .sources import read_basilic, read_bpe

    tax = _taxonomy_path(recipe)
    cats = list(recipe.categories)
    by_kind = {}
    for kind, reader in (("basilic", read_basilic), ("bpe", read_bpe)):
        parts = [reader(files[s.name], categories=cats, taxonomy=tax, bbox=bbox).assign(source=s.name)
                 for s in recipe.enabled_sources(kind)]
        if parts:
            by_kind[kind] = pd.concat(parts, ignore_index=True)
    need_osm = [c for c in cats if not any((v["category"] == c).any() for v in by_kind.values())]
    if need_osm:
        by_kind["osm"] = read_osm_venues(osm_path, categories=cats, taxonomy=tax, bbox=bbox).assign(source="osm")
    chosen = []
    for c in cats:
        for kind in VENUE_SOURCE_ORDER:
            v = by_kind.get(kind)
            if v is not None and (v["category"] == c).any():
                chosen.append(v[v["category"] == c])
                if kind != VENUE_SOURCE_ORDER[0]:
                    log(f"venues: category {c!r} taken from {kind} ({int((v['category'] == c).sum())} venues)")
                break
        else:
            warnings.warn(f"no venue of category {c!r} in any source (Basilic, BPE, OSM tags); its indicators are "
                          "left out", stacklevel=2)
    if not chosen:
        raise ValidationError(f"recipe {recipe.name!r}: no venue of categories {cats} in any source; check the venue "
                              "sources and [venues] categories")
    v = pd.concat(chosen, ignore_index=True)
    v = gpd.GeoDataFrame(v, geometry="geometry", crs="EPSG:4326")
    dup = v["id"].duplicated()
    if dup.any():  # the same id in two sources of one kind: make ids unique, deterministically
        v.loc[dup, "id"] = v.loc[dup, "source"] + ":" + v.loc[dup, "id"]
    return v.reset_index(drop=True)


def _grow_bbox(b, km: float):
    dlat = km / 111.0
    dlon = km / (111.320 * max(math.cos(math.radians(max(abs(b[1]), abs(b[3])))), 0.01))
    return (b[0] - dlon, b[1] - dlat, b[2] + dlon, b[3] + dlat)


def _load_inputs(recipe, src: _Sources, work: Path, log) -> None:
    """Areas first, then the region they define, then only the cells and venues of that region (plus the venue
    buffer): every input is clipped before any matrix (:mod:`access.region.clip`)."""
    import geopandas as gpd

    from .clip import clip_to_region, read_communes, region_epci
    from .sources import read_epci, read_filosofi

    fil = recipe.enabled_sources("filosofi")
    if not fil:
        raise ValidationError(f"recipe {recipe.name!r} has no enabled population source (kind = \"filosofi\")")
    ep = recipe.enabled_sources("epci")
    if not ep:
        raise ValidationError(f"recipe {recipe.name!r} has no enabled area source (kind = \"epci\")")
    areas = pd.concat([read_epci(src.files[s.name]) for s in ep], ignore_index=True)
    areas = gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:4326")
    com = recipe.enabled_sources("communes")
    communes = pd.concat([read_communes(src.files[s.name]) for s in com], ignore_index=True) if com else None
    sel = region_epci(recipe, communes)
    cell_box = venue_box = None
    if sel is not None:
        mine = areas[areas["id"].astype(str).isin(sel.codes)]
        if len(mine):
            cell_box = tuple(float(v) for v in mine.total_bounds)
            venue_box = _grow_bbox(cell_box, recipe.venue_buffer_km + 1.0)
    cells = pd.concat([read_filosofi(src.files[s.name], bbox=cell_box) for s in fil], ignore_index=True)
    if cells["id"].duplicated().any():
        raise ValidationError(f"the population sources {[s.name for s in fil]} overlap: cell "
                              f"{cells['id'][cells['id'].duplicated()].iloc[0]!r} appears twice; keep one grid")
    cells = gpd.GeoDataFrame(cells, geometry="geometry", crs="EPSG:4326")
    venues = load_venues(recipe, src.files, src.osm, log=log, bbox=venue_box)
    cells, venues, areas = clip_to_region(cells, venues, areas, sel, venue_buffer_km=recipe.venue_buffer_km,
                                          log=log)
    clash = set(cells["id"]) & set(venues["id"])
    if clash:
        raise ValidationError(f"cell and venue ids overlap (e.g. {sorted(clash)[0]!r}); venue ids must differ from the "
                              "grid's cell ids")
    _write_geoparquet(cells, work / "cells.parquet")
    _write_geoparquet(venues, work / "venues.parquet")
    _write_geoparquet(areas, work / "areas.parquet")
    region = {"name": recipe.name, "departments": list(recipe.departments),
              "epci": sel.codes if sel is not None else None,
              "straddling": sel.straddling if sel is not None else [], "clipped": sel is not None,
              "venue_buffer_km": recipe.venue_buffer_km,
              "osm_note": ("the street network holds only what the recipe's OSM extracts hold: the venue buffer "
                           "beyond the border brings no neighbouring streets unless the recipe adds the neighbours' "
                           "extracts")}
    from .feeds import areas_without_stops, gtfs_stops

    if src.gtfs:
        region["epci_without_stop"] = areas_without_stops(areas, [gtfs_stops(g) for g in src.gtfs])
        if region["epci_without_stop"]:
            names = areas.set_index(areas["id"].astype(str))["name"]
            log(f"inputs: {len(region['epci_without_stop'])} EPCI have no stop of any GTFS feed (transit there is "
                "walking only): " + ", ".join(f"{c} {names.get(c, '')}" for c in region["epci_without_stop"][:12])
                + (" ..." if len(region["epci_without_stop"]) > 12 else ""))
    with atomic_path(work / "region.json", suffix=".json") as tmp:
        tmp.write_text(json.dumps(region, indent=1, ensure_ascii=False))
    log(f"inputs: {len(cells):,} cells (population {cells['population'].sum():,.0f}), {len(venues):,} venues "
        f"{venues['category'].value_counts().to_dict()} ({int(venues['in_region'].sum()):,} in the region), "
        f"{len(areas)} areas")


# ---------------------------------------------------------------------------------------------- step: matrices
def _points(gdf, name: str):
    from ..io.places import Points

    return Points(ids=gdf["id"].astype(str).to_numpy(dtype=object), lon=gdf.geometry.x.to_numpy(np.float64),
                  lat=gdf.geometry.y.to_numpy(np.float64), frame=gdf, name=name)


def _slice(p, a: int, b: int):
    from ..io.places import Points

    return Points(ids=p.ids[a:b], lon=p.lon[a:b], lat=p.lat[a:b], frame=p.frame.iloc[a:b], name=p.name)


def matrix_to_parquet(network, origins, destinations, path: Path, *, mode: str, max_time_min: float,
                      departure=None, window_min: int = 60, percentiles=(50,), chunk_origins: int | None = None,
                      progress: bool = True, transit=None) -> int:
    """Compute ``origins x destinations`` travel times by chunks of origins and stream the reachable pairs to a long
    Parquet file (``from_id, to_id, travel_time...`` minutes). Returns the number of pairs written."""
    from tqdm.auto import tqdm

    from ..matrix import LongTableWriter, travel_time_matrix
    from ..options import TransitOptions

    n_o = len(origins)
    size = int(chunk_origins or CHUNK_ORIGINS.get(mode, 2000))
    kw: dict[str, Any] = {}
    to = None
    if mode == "transit":
        kw = dict(departure=departure, window_min=window_min, percentiles=tuple(percentiles))
    meta = dict(kw)
    if mode == "transit":  # the recipe's transit settings, validated once (+ the first leg's mode and bounds)
        to = TransitOptions.resolve(transit, **kw)
        if transit is not None:
            meta.update({k: v for k, v in transit.as_dict().items()
                         if k in ("access_mode", "max_bike_min", "max_car_min") and v not in (None, "walk")})
    bar = tqdm(total=n_o, desc=f"{mode} matrix", unit="cell", disable=not progress)
    try:
        with LongTableWriter(path, settings=dict(mode=mode, max_time_min=max_time_min, **meta)) as w:
            for a in range(0, n_o, size):
                b = min(n_o, a + size)
                with warnings.catch_warnings():
                    if a > 0:  # the off-network warnings were given with the first chunk
                        warnings.simplefilter("ignore")
                    ttm = travel_time_matrix(network, _slice(origins, a, b), destinations, mode=mode,
                                             max_time_min=max_time_min, transit=to, progress=False)
                w.write(ttm.to_arrow())
                bar.update(b - a)
    finally:
        bar.close()
    return w.n_rows


def _cost_column(mode: str, percentiles) -> str:
    if mode != "transit" or len(percentiles) == 1:
        return "travel_time"
    return f"travel_time_p{50 if 50 in percentiles else percentiles[0]:g}"


def _other_transit_percentile(recipe, modes) -> float | None:
    """The typology's other transit percentile (``[stability] transit_percentile``) when transit is a mode: the
    indicators step then also writes the transit times at it, the barriers step the barrier index, for the
    stability variant; ``None`` otherwise."""
    from ..indicators.typology import load_typology_config

    if "transit" not in modes:
        return None
    p = load_typology_config(recipe.typology_path())["stability"].get("transit_percentile")
    return float(p) if p else None


# ---------------------------------------------------------------------------------------------- step: indicators
def cell_indicators(matrices: dict, cells, venues, *, thresholds_min, percentiles=(50,), network=None,
                    departure=None, window_min: int = 60, transit_max_time_min: float | None = None,
                    other_transit_percentile: float | None = None) -> pd.DataFrame:
    """Per-cell indicators of each mode (see the module docstring for the columns).

    ``matrices`` maps mode -> long matrix (Parquet path or DataFrame). Returns one row per cell: ``id`` then, per
    mode, ``time_<mode>_<category>`` and ``time_<mode>_any`` (minutes to the nearest venue, from
    :func:`access.nearest_times` on ``network``: streets uncapped, ``inf`` only where no venue can be reached at
    all; transit the percentile (50, else the first) over the departure window of the per-minute time to whichever
    venue is nearest that minute, ``inf`` beyond ``transit_max_time_min``, default ``max(120, the matrix's)``),
    ``reach_<mode>_<T>min`` (venues within T minutes), ``gravity_<mode>``, ``fca_<mode>`` (venues per 10,000
    inhabitants within :data:`FCA_CUTOFF_MIN`, 2SFCA); these three from the matrices. With
    ``other_transit_percentile`` ``P`` (the typology's stability variant), also ``time_transit_<category>_transit_pP``
    (the same nearest times at percentile ``P``, from the same backward search).
    """
    from ..indicators import cumulative_cutoff, decay_binary, decay_exponential, floating_catchment_area, gravity
    from ..matrix import nearest_times
    from ..options import DEFAULT_MAX_TIME_MIN, TransitOptions

    if network is None:
        raise ValidationError("`network` must be the TransportNetwork of the matrices (the times to the nearest "
                              "venue come from access.nearest_times, uncapped), got None; pass network=")
    ids = cells["id"].astype(str).to_numpy(dtype=object)
    out = pd.DataFrame({"id": ids})
    vlu = pd.DataFrame({"id": venues["id"].astype(str).to_numpy(dtype=object),
                        "category": venues["category"].astype(str).to_numpy(dtype=object), "venues": 1.0})
    lu_fca = pd.concat([pd.DataFrame({"id": ids, "population": cells["population"].to_numpy(float),
                                      "venues": 0.0}),
                        vlu.drop(columns="category").assign(population=0.0)], ignore_index=True)
    o = _points(cells, "cells")
    d = _points(venues.assign(category=vlu["category"].to_numpy()), "venues")
    beta = math.log(2.0) / GRAVITY_HALF_LIFE_MIN
    for mode, m in matrices.items():
        tc = _cost_column(mode, tuple(percentiles))
        cols = {}
        kw: dict = {}
        near_col, twins = tc, dict[str, str]()
        if mode == "transit":
            pcts = tuple(percentiles)
            if other_transit_percentile is not None:
                from ..indicators.typology import twin_suffix

                main = 50 if 50 in pcts else pcts[0]
                pcts = pcts + ((other_transit_percentile,) if other_transit_percentile not in pcts else ())
                near_col = f"travel_time_p{main:g}" if len(pcts) > 1 else "travel_time"
                twins = {f"travel_time_p{float(other_transit_percentile):g}" if len(pcts) > 1 else "travel_time":
                         twin_suffix(other_transit_percentile) or ""}
            kw = dict(transit=TransitOptions(departure=departure, window_min=window_min, percentiles=pcts),
                      max_time_min=transit_max_time_min or DEFAULT_MAX_TIME_MIN)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the off-network points were reported with the matrices
            for by in ("category", None):
                near = nearest_times(network, o, d, mode=mode, by=by, **kw)
                wide = near.pivot(index="id", columns="category", values=near_col)
                for c in wide.columns:
                    cols[ind_cols.time_col(mode, c)] = wide[c]
                for col, suf in twins.items():
                    wide = near.pivot(index="id", columns="category", values=col)
                    for c in wide.columns:
                        cols[ind_cols.time_col(mode, c) + suf] = wide[c]
        reach = cumulative_cutoff(m, vlu, opportunity="venues", travel_cost=tc, cutoff=list(thresholds_min))
        if "cutoff" not in reach.columns:
            reach = reach.assign(cutoff=float(thresholds_min[0]))
        for t, sub in reach.groupby("cutoff"):
            cols[ind_cols.reach_col(mode, float(t))] = sub.set_index("id")["venues"]  # type: ignore[arg-type]
        gr = gravity(m, vlu, opportunity="venues", travel_cost=tc, decay_function=decay_exponential(beta))
        cols[ind_cols.gravity_col(mode)] = gr.set_index("id")["venues"]
        fca = floating_catchment_area(m, lu_fca, opportunity="venues", travel_cost=tc, demand="population",
                                      decay_function=decay_binary(FCA_CUTOFF_MIN))
        cols[ind_cols.fca_col(mode)] = fca.set_index("id")["venues"] * 1e4
        for name, s in cols.items():
            v = pd.Series(s).reindex(ids).to_numpy(float)
            fill = np.inf if name.startswith(ind_cols.TIME_PREFIX) else 0.0
            out[name] = np.where(np.isnan(v), fill, v)
    return out


def _crowfly_nearest_km(cells, venues) -> np.ndarray:
    from scipy.spatial import cKDTree

    c = cells.geometry.to_crs(3035)
    v = venues.geometry.to_crs(3035)
    tree = cKDTree(np.column_stack([v.x.to_numpy(), v.y.to_numpy()]))
    d, _ = tree.query(np.column_stack([c.x.to_numpy(), c.y.to_numpy()]))
    return d / 1000.0


# ---------------------------------------------------------------------------------------------- step: barriers
def _barriers_config(recipe) -> tuple[dict, Path | None]:
    """The barrier settings (``data/barriers_default.toml``) updated by the file named in the recipe's optional
    ``[barriers] config`` (relative to the recipe)."""
    from ..indicators.barriers import load_barriers_config

    sec = recipe.raw.get("barriers") or {}
    path = sec.get("config") if isinstance(sec, dict) else None
    if path is None:
        return load_barriers_config(), None
    p = Path(path)
    if not p.is_absolute():
        p = (recipe.path.parent if recipe.path is not None else Path.cwd()) / p
    return load_barriers_config(p), p


def _barriers_step(recipe, src: _Sources, net, work: Path, modes, cfg: dict, progress: bool, log) -> None:
    """Barrier profile, households without a car, no-car times, evening round trips and Saturday access per cell
    (``work/cells_barriers.parquet``: the indicators' cells plus these columns) and per area with the barrier index
    (``work/barriers_epci.parquet``); see :mod:`access.indicators.barriers`."""
    import geopandas as gpd

    from ..indicators import attach_cells
    from ..indicators.barriers import (
        _ALIASES,
        FILOSOFI_BARRIER_COLUMNS,
        _nearest_by_category,
        area_barriers,
        barrier_index,
        barrier_profile,
        evening_round_trips,
        no_car_times,
        saturday_access,
    )
    from .census import (
        allocate_iris_to_cells,
        read_census_logement,
        read_filosofi_barrier_counts,
        read_iris_contours,
    )

    cells = _read_geoparquet(work / "cells_indicators.parquet")
    venues = _read_geoparquet(work / "venues.parquet")
    areas = _read_geoparquet(work / "areas.parquet")
    cats = [c for c in recipe.categories if (venues["category"] == c).any()]
    counts = pd.DataFrame(cells.drop(columns="geometry"))
    need = [c for c in FILOSOFI_BARRIER_COLUMNS if c not in counts.columns and _ALIASES.get(c) not in counts.columns]
    if need:  # the cells frame does not carry every Filosofi count yet: read them from the grid files by name
        extra = pd.concat([read_filosofi_barrier_counts(src.files[s.name]) for s in recipe.enabled_sources("filosofi")],
                          ignore_index=True).drop_duplicates("id")
        counts = counts.merge(extra[["id", *[c for c in need if c in extra.columns]]], on="id", how="left")
    prof = barrier_profile(counts)
    if prof.attrs.get("missing"):
        log(f"barriers: no Filosofi columns for {prof.attrs['missing']} (left NaN)")
    parts = [prof]
    cen, iri = recipe.enabled_sources("census"), recipe.enabled_sources("iris")
    if cen and iri:
        vint = int(cfg["allocation"].get("vintage", 0)) or None
        tabs = [read_census_logement(src.files[s.name], vintage=vint) for s in cen]
        census = pd.concat(tabs, ignore_index=True)
        box = tuple(float(x) for x in cells.total_bounds)  # only the region's IRIS of the national files
        contours = gpd.GeoDataFrame(pd.concat([read_iris_contours(src.files[s.name], bbox=box) for s in iri],
                                              ignore_index=True), geometry="geometry", crs="EPSG:4326")
        census = census[census["commune"].isin(set(contours["commune"]))].reset_index(drop=True)
        alloc = allocate_iris_to_cells(cells, census, contours, method=cfg["allocation"].get("method", "areal"))
        parts.append(alloc)
        log(f"barriers: census {tabs[0].attrs.get('vintage')} ({len(census):,} IRIS, {census['households'].sum():,.0f} "
            f"households, {alloc.attrs['households_in_cells']:,.0f} allocated to cells, "
            f"{alloc.attrs['households_outside']:,.0f} in IRIS without a cell)")
    elif cen or iri:
        warnings.warn("the households without a car need both a `census` and an `iris` source; share_no_car is not "
                      "computed", stacklevel=2)
    nearest = _nearest_by_category(cells, modes, cats)
    if any(m in nearest for m in cfg["no_car"]["modes"]):
        parts.append(no_car_times(nearest, cats, no_car_modes=cfg["no_car"]["modes"]))
    if "transit" in modes and getattr(net, "timetable", None) is not None:
        pts = _points(cells, "cells")
        with warnings.catch_warnings():  # the cells and venues off the network were reported with the matrices
            warnings.filterwarnings("ignore", message=".*farther than max_snap_m.*")
            ev = cfg["evening"]
            evc = cats if "*" in ev["categories"] else [c for c in ev["categories"] if c in cats]
            if evc:
                parts.append(evening_round_trips(
                    net, pts, venues, date=recipe.date, categories=evc, arrive_by=ev["arrive_by"],
                    leave_after=ev["leave_after"], max_wait_min=ev["max_wait_min"], max_trip_min=ev["max_trip_min"],
                    venue=ev.get("venue", "nearest"), memory_mb=float(ev.get("memory_mb", 256))))
            sat = cfg["saturday"]
            if sat.get("enabled", True):
                sc = cats if "*" in sat["categories"] else [c for c in sat["categories"] if c in cats]
                parts.append(saturday_access(net, pts, venues, date=recipe.date, categories=sc,
                                             departure=sat["departure"], window_min=sat["window_min"],
                                             max_time_min=recipe.max_time_min))
    per_cell = parts[0]
    for p in parts[1:]:
        per_cell = per_cell.merge(p, on="id", how="left")
    res = cells.merge(per_cell.drop(columns=[c for c in per_cell.columns if c != "id" and c in cells.columns]),
                      on="id", how="left")
    _write_geoparquet(gpd.GeoDataFrame(res, geometry="geometry", crs=cells.crs), work / "cells_barriers.parquet")
    links = attach_cells(cells[["id", "geometry"]], areas[["id", "geometry"]])
    ab = area_barriers(pd.DataFrame(res.drop(columns="geometry")), links, categories=cats,
                       threshold_min=float(cfg["no_car"]["threshold_min"]), counts=counts)
    ab = pd.DataFrame({"id": areas["id"].astype(str).to_numpy()}).merge(ab, on="id", how="left")
    ab = ab.merge(barrier_index(ab, cfg), on="id", how="left")
    twin = _barrier_index_other_percentile(res, nearest, links, areas, cats, cfg, counts)
    if twin is not None:
        ab = ab.merge(twin, on="id", how="left")
    with atomic_path(work / "barriers_epci.parquet", suffix=".parquet") as tmp:
        ab.to_parquet(tmp, index=False)
    log(f"barriers: {len(res):,} cells, {len(ab)} areas, index over {len(ab['barrier_index'].dropna())} areas")


def _barrier_index_other_percentile(res: pd.DataFrame, nearest: dict, links, areas, cats, cfg: dict, counts):
    """``id, barrier_index<suffix>``: the barrier index with the transit times at the typology's other percentile
    (the cells' ``time_transit_<category><suffix>`` columns of the indicators step) in the no-car times, for the
    typology's stability variant; ``None`` when the cells have no such columns or transit is no no-car mode."""
    from ..indicators.barriers import area_barriers, barrier_index, no_car_times

    twin_cols = [c for c in res.columns if c.startswith("time_transit_") and "_transit_p" in c[len("time_transit_"):]]
    if not twin_cols or "transit" not in nearest or "transit" not in cfg["no_car"]["modes"]:
        return None
    suf = "_transit_p" + twin_cols[0].rsplit("_transit_p", 1)[1]
    ids = res["id"].astype(str).to_numpy(dtype=object)
    alt = {c: (pd.to_numeric(res[f"time_transit_{c}{suf}"], errors="coerce").fillna(np.inf).to_numpy(float)
               if f"time_transit_{c}{suf}" in res.columns else nearest["transit"][c].to_numpy(float)) for c in cats}
    near2 = {**nearest, "transit": pd.DataFrame(alt, index=ids)}
    nc = no_car_times(near2, cats, no_car_modes=cfg["no_car"]["modes"])
    res2 = res.drop(columns=[c for c in nc.columns if c != "id" and c in res.columns]).merge(nc, on="id", how="left")
    ab2 = area_barriers(pd.DataFrame(res2.drop(columns="geometry", errors="ignore")), links, categories=cats,
                        threshold_min=float(cfg["no_car"]["threshold_min"]), counts=counts)
    ab2 = pd.DataFrame({"id": areas["id"].astype(str).to_numpy()}).merge(ab2, on="id", how="left")
    bi = barrier_index(ab2, cfg)
    return bi[["id", "barrier_index"]].rename(columns={"barrier_index": f"barrier_index{suf}"})


def _typology_config_with_barriers(recipe, cfg: dict):
    """The typology settings with the barrier index as (or in) the social dimension, per ``[typology]
    social_dimension`` of the barrier settings."""
    from ..indicators.typology import load_typology_config

    how = cfg.get("typology", {}).get("social_dimension", "barrier_index")
    if how not in ("barrier_index", "typology", "both"):
        raise ValidationError(f"barriers config `[typology] social_dimension` must be 'barrier_index', 'typology' or "
                              f"'both', got {how!r}")
    tcfg = load_typology_config(recipe.typology_path())
    if how == "barrier_index":
        tcfg["social"] = {**tcfg["social"], "weights": {"barrier_index": 1.0}}
    elif how == "both":
        tcfg["social"] = {**tcfg["social"], "weights": {**tcfg["social"]["weights"],
                                                        "barrier_index": float(cfg["typology"].get("index_weight",
                                                                                                   1.0))}}
    return tcfg


# ---------------------------------------------------------------------------------------------- step: areas
def area_profile(cells, areas) -> pd.DataFrame:
    """Socio-economic profile of each area from the Filosofi cells inside it: ``poverty_rate`` (poor households /
    households), ``median_income`` (population-weighted median of the cells' mean standard of living, EUR/year),
    ``share_elderly`` (65+), ``density`` (inhabitants per km2 of the area)."""
    from ..indicators import attach_cells, weighted_median

    links = attach_cells(cells[["id", "geometry"]], areas[["id", "geometry"]])
    acol = links.columns[1]
    d = links.merge(pd.DataFrame(cells.drop(columns="geometry")), on="id", how="left")
    pop = d["population"].to_numpy(float)
    d["_old"] = np.nan_to_num(d["share_elderly"].to_numpy(float)) * pop
    g = d.groupby(acol)
    hh, poor, old, ptot = g["households"].sum(), g["poor_households"].sum(), g["_old"].sum(), g["population"].sum()
    med = pd.Series({k: weighted_median(d["income_per_capita"].to_numpy(float)[idx], pop[idx])
                     for k, idx in g.indices.items()}, dtype=float)
    km2 = areas.set_index("id").geometry.to_crs(3035).area / 1e6
    res = pd.DataFrame({"id": areas["id"].to_numpy()})
    with np.errstate(divide="ignore", invalid="ignore"):
        res["poverty_rate"] = res["id"].map(poor / hh.where(hh > 0)).astype(float)
        res["median_income"] = res["id"].map(med).astype(float)
        res["share_elderly"] = res["id"].map(old / ptot.where(ptot > 0)).astype(float)
        res["density"] = res["id"].map(ptot).fillna(0.0).to_numpy(float) / km2.reindex(res["id"]).to_numpy(float)
    res["area_km2"] = km2.reindex(res["id"]).to_numpy(float)
    return res


def _areas_step(recipe, work: Path, modes) -> None:
    from ..indicators import aggregate, load_typology_config, typology

    cells = _read_geoparquet(work / "cells_indicators.parquet")
    venues = _read_geoparquet(work / "venues.parquet")
    areas = _read_geoparquet(work / "areas.parquet")
    ind = [c for c in cells.columns if c.startswith(ind_cols.WIDE_PREFIXES)]
    vals = pd.DataFrame(cells[["id", *ind]])
    time_cols = [c for c in ind if c.startswith(ind_cols.TIME_PREFIX)]
    count_cols = [c for c in ind if not c.startswith(ind_cols.TIME_PREFIX)]
    cfg = load_typology_config(recipe.typology_path())
    # the shares beyond the official bands (5/10/15/30 min) come from the shares within them
    thresholds = sorted(set(map(float, recipe.thresholds_min)) | set(cfg["access"]["beyond_min"]))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*lie outside every area.*")
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        agg = aggregate(vals, cells[["id", "population", "geometry"]], areas[["id", "geometry"]],
                        time_columns=time_cols, count_columns=count_cols, thresholds_min=thresholds,
                        venues=venues[venues["in_region"]] if "in_region" in venues else venues,
                        venue_category="category",
                        inequality_columns=[c for c in count_cols if c.startswith("gravity_")])
    # the transit times at the other percentile (time_transit_<c>_transit_pP): their aggregates end with the suffix
    # (time_transit_<c>_mean_transit_pP), the name the typology's stability variant looks for
    agg = agg.rename(columns={c: c.replace(m.group(0), "") + m.group(0) for c in agg.columns
                              if c.startswith("time_transit_")
                              and (m := re.search(r"_transit_p\d+(?:\.\d+)?(?=_)", c[len("time_transit"):]))})
    agg = agg.assign(**_labelled_supply(venues, areas, agg))
    prof = area_profile(cells, areas)
    agg = agg.merge(prof, on="id", how="left")
    agg.insert(1, "name", agg["id"].map(areas.set_index("id")["name"]))
    if "in_region" in areas.columns:
        agg["in_region"] = agg["id"].map(areas.set_index("id")["in_region"]).fillna(False).astype(bool)
    zone_of = {code: z.name for z in recipe.priority_zones for code in z.epci}
    agg.insert(2, "priority_zone", agg["id"].map(zone_of).fillna("").astype(str))
    if "straddles_region" in areas:  # an EPCI across the region's border: whole polygon for access, flagged
        agg.insert(3, "straddles_region", agg["id"].map(areas.set_index("id")["straddles_region"]).fillna(False)
                   .astype(bool))
    typ_config = recipe.typology_path()
    if (work / "barriers_epci.parquet").exists():  # the barriers step: its EPCI columns and the typology's social side
        agg = agg.merge(pd.read_parquet(work / "barriers_epci.parquet"), on="id", how="left")
        typ_config = _typology_config_with_barriers(recipe, _barriers_config(recipe)[0])
    typ = typology(agg, config=typ_config, priority_areas=zone_of)
    with atomic_path(work / "typology_config.json", suffix=".json") as tmp:  # what `access serve` re-applies
        tmp.write_text(json.dumps(load_typology_config(typ_config), indent=1, default=str), encoding="utf-8")
    typ = typ.drop(columns=[c for c in typ.columns if c.startswith("z_")])
    _write_geoparquet(typ, work / "epci.parquet")


def _labelled_supply(venues, areas, agg) -> dict:
    """``venues_labelled_per_10k_<category>`` per area when the venues carry a ``label`` column (a non-empty value
    or True = labelled, e.g. "Scène nationale", "Musée de France"); nothing otherwise."""
    import geopandas as gpd

    if "label" not in venues.columns:
        return {}
    lab = venues["label"]
    if pd.api.types.is_bool_dtype(lab):
        is_lab = lab.fillna(False).to_numpy(bool)
    else:
        is_lab = ~lab.astype("string").fillna("").str.strip().str.lower().isin(["", "false", "0", "no"]).to_numpy()
    v = venues.loc[is_lab, ["category", "geometry"]]
    j = gpd.sjoin(v.to_crs(areas.crs), areas[["id", "geometry"]], how="inner", predicate="within")
    counts = j.groupby(["id", "category"]).size().unstack(fill_value=0)
    pop = agg.set_index("id")["population"]
    out = {}
    for c in sorted(venues["category"].astype(str).unique()):
        n = counts[c] if c in counts.columns else pd.Series(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"venues_labelled_per_10k_{c}"] = (agg["id"].map(n).fillna(0).to_numpy(float)
                                                   / pop.reindex(agg["id"]).to_numpy(float) * 1e4)
    return out


# ---------------------------------------------------------------------------------------------- step: report
def _cells_table_path(work: Path) -> Path:
    """The per-cell table of the report: the indicators' cells with the barrier columns when the step ran."""
    p = work / "cells_barriers.parquet"
    return p if p.exists() else work / "cells_indicators.parquet"


def _barrier_maps(epci, maps_dir: Path) -> list:
    """EPCI maps of the share of households without a car, the evening round-trip share by category and the
    barrier index (PNG, :func:`access.report.maps.choropleth_png`)."""
    from ..report.maps import choropleth_png, slug

    cols = [c for c in epci.columns if c in ("share_no_car", "barrier_index")
            or c.startswith("evening_round_trip_share_")]
    # titles, legends, colour limits and directions from the style table (access.report.style.describe)
    return [choropleth_png(epci, c, maps_dir / f"{slug(c)}.png") for c in cols]


def _append_barriers_summary(path: Path, recipe, epci) -> None:
    """Add the social barriers section (:func:`access.indicators.barriers.barriers_summary_lines`) to
    ``summary.md``."""
    from ..indicators.barriers import barriers_summary_lines
    from ..report.style import describe

    cfg, _ = _barriers_config(recipe)
    text = path.read_text(encoding="utf-8").rstrip("\n") + "\n\n"
    text += "\n".join(barriers_summary_lines(epci, categories=list(recipe.categories),
                                              threshold_min=float(cfg["no_car"]["threshold_min"]), style=describe))
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text(text, encoding="utf-8")


def _headline_columns(modes, thresholds) -> list[str]:
    t = 30 if 30 in thresholds else thresholds[len(thresholds) // 2]
    cols = ["population", "venues_per_10k"]
    for m in modes:
        cols += [f"time_{m}_any_mean", f"time_{m}_any_share_within_{t:g}min"]
    cols += ["poverty_rate", "median_income", "supply_score", "access_score", "social_fragility",
             "cultural_fragility", "class"]
    return cols


def _fmt(v, spec: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def write_summary(path: Path, recipe, epci, cells, venues, *, timings: dict, modes, files: dict | None = None,
                  service_dates=None) -> Path:
    """``summary.md``: settings, counts, statistics over every inhabitant per mode and per EPCI (medians counting
    those beyond the trip limit, shares within/beyond), computed class beside the priority zone with the reason,
    the sources with their dates, and a warning where transit serves part of the region only
    (:func:`access.report.summary.write_run_summary`)."""
    from ..indicators import attach_cells
    from ..indicators.typology import load_typology_config
    from ..report.summary import source_rows, write_run_summary

    thr = list(recipe.thresholds_min)
    t = 30 if 30 in thr else thr[len(thr) // 2]
    links = attach_cells(cells[["id", "geometry"]], epci[["id", "geometry"]])
    area = links.drop_duplicates("id").set_index("id")[links.columns[1]]
    c = pd.DataFrame(cells.drop(columns="geometry"))
    c["area"] = c["id"].map(area)
    cls = load_typology_config(recipe.typology_path())["classes"]
    pct = ", ".join(f"p{p}" for p in recipe.percentiles)
    settings = (f"Analysis date {recipe.date.isoformat()}; modes {', '.join(modes)}; trips up to "
                f"{recipe.max_time_min:g} minutes" + (f"; transit departures from {recipe.departure} over a "
                                                      f"{recipe.window_min}-minute window ({pct} of the window's "
                                                      "departure minutes)" if "transit" in modes else "") + ".")
    return write_run_summary(
        path, title=recipe.name, settings=settings, cells=c[c["area"].notna()], areas=epci, venues=venues,
        modes=modes, threshold_min=t, max_time_min=float(recipe.max_time_min), timings=timings,
        typology_thresholds=(float(cls.get("cultural_threshold", 0.5)), float(cls.get("social_threshold", 0.5))),
        sources=source_rows(recipe, files, service_dates),
        files=("Files: `epci.gpkg`/`epci.parquet`/`epci.csv` (one row per EPCI), "
               f"`{recipe.stem}.gpkg` (layers epci, cells, venues), `cells.parquet`, `maps/*.png`, "
               "`epci_map.html` (interactive, works offline)."))


def _report_step(recipe, out: Path, work: Path, modes, progress: bool, timings: dict, files: dict | None = None,
                 service_dates=None) -> dict:
    from ..report import write_area_report, write_table

    epci = _read_geoparquet(work / "epci.parquet")
    cells = _read_geoparquet(_cells_table_path(work))
    venues = _read_geoparquet(work / "venues.parquet")
    heads = [c for c in _headline_columns(modes, list(recipe.thresholds_min)) if c in epci.columns]
    written = write_area_report(epci, out, name="epci", map_columns=heads, tooltip_columns=["name", *heads],
                                title=f"Access to culture — {recipe.name}", progress=progress)
    written["tables"] += write_table(pd.DataFrame(cells.drop(columns="geometry")).assign(
        lon=cells.geometry.x, lat=cells.geometry.y), out / "cells", formats=("parquet",))
    written["tables"] += write_table(pd.DataFrame(venues.drop(columns="geometry")).assign(
        lon=venues.geometry.x, lat=venues.geometry.y), out / "venues", formats=("parquet",))
    gpkg = out / f"{recipe.stem}.gpkg"
    with atomic_path(gpkg, suffix=".gpkg") as tmp:
        tmp.unlink()
        for layer, g in (("epci", epci), ("cells", cells), ("venues", venues)):
            g = g.copy()
            for c in g.columns:  # GeoPackage has no inf
                if c != "geometry" and pd.api.types.is_float_dtype(g[c]):
                    g[c] = g[c].replace([np.inf, -np.inf], np.nan)
            g.to_file(tmp, layer=layer, driver="GPKG", mode="a" if tmp.exists() else "w")
    written["gpkg"].append(gpkg)
    written["summary"] = [write_summary(out / "summary.md", recipe, epci, cells, venues, timings=timings,
                                        modes=modes, files=files, service_dates=service_dates)]
    if "barrier_index" in epci.columns:  # the barriers section and maps
        written["png"] += _barrier_maps(epci, out / "maps")
        _append_barriers_summary(out / "summary.md", recipe, epci)
    return {k: [str(p) for p in v] for k, v in written.items()}


# ---------------------------------------------------------------------------------------------- run
def run(recipe, out_dir, *, fetch: bool = True, progress: bool = True, cache_dir=None, modes=None,
        until: str | None = None, fetch_options: dict | None = None,
        log: Callable[[str], None] | None = None) -> RunResult:
    """Run a region recipe from its sources to the report folder.

    Parameters
    ----------
    recipe : Recipe or path-like
        A region recipe (``networks/<region>.toml``; see :mod:`access.recipe`).
    out_dir : path-like
        Report folder (created). Intermediate results and the step state go to ``out_dir/work``, the network
        bundle to ``out_dir/cache/network``.
    fetch : bool
        Download the remote sources that are missing or differ from the lock file (:func:`access.io.fetch.
        fetch_recipe`). With False the files must already be in the cache, else :class:`~access.FetchError`.
    progress : bool
        Progress bars on the long steps.
    cache_dir : path-like, optional
        Download cache (default ``recipe.default_cache_dir()``).
    modes : sequence of str, optional
        A subset of the recipe's modes.
    until : str, optional
        Stop after this step (one of :data:`STEPS`); ``areas`` and ``cells`` of the result are then None
        unless reached.
    fetch_options : dict, optional
        More keywords for :func:`access.io.fetch.fetch_recipe` (``timeout_s``, ``retries``, ``backoff_s``,
        ``update``, ``verify``).
    log : callable, optional
        Receives one line per step (default: the ``access.pipeline`` logger at INFO level).

    Returns
    -------
    RunResult

    Examples
    --------
    >>> from access.pipeline import run
    >>> res = run("networks/hauts-de-france.toml", "out/hdf")  # doctest: +SKIP
    >>> res.areas[["id", "name", "class"]].head()  # doctest: +SKIP
    """
    from .recipe import Recipe

    if not isinstance(recipe, Recipe):
        recipe = Recipe.from_file(recipe)
    modes = tuple(recipe.modes if modes is None else modes)
    bad = [m for m in modes if m not in recipe.modes]
    if bad or not modes:
        raise ValidationError(f"`modes` {list(modes)} must be a non-empty subset of the recipe's modes "
                              f"{list(recipe.modes)}")
    if until is not None and until not in STEPS:
        raise ValidationError(f"`until` must be one of {list(STEPS)}, got {until!r}")

    def stop_after(step: str) -> bool:
        if until == step:
            R.result.timings_s["total"] = time.perf_counter() - t_all
            R.log(f"stopped after step {step!r} as asked ({R.result.timings_s['total']:.1f} s)")
            return True
        return False
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say: Callable[[str], None] = log or _log.info
    R = _Runner(out, say, progress)
    work = R.work
    if cache_dir is None:  # downloads are shared between runs; a recipe of local files keeps its clip in out_dir
        remote = any(s.is_remote for s in recipe.enabled_sources())
        cache_dir = recipe.default_cache_dir() if remote else out / "cache" / "sources"
    cache_dir = Path(cache_dir)
    t_all = time.perf_counter()

    src = _step_sources(R, recipe, cache_dir, fetch, progress, say, fetch_options)
    if stop_after("sources"):
        return R.result
    net, net_key = _step_network(R, recipe, src, modes, out, progress, say)
    if stop_after("network"):
        return R.result
    in_key = _step_inputs(R, recipe, src, work, say)
    if stop_after("inputs"):
        return R.result
    departure, mat_keys, mat_paths = _step_matrices(R, recipe, net, net_key, in_key, work, modes, progress, say)
    if stop_after("matrix"):
        return R.result
    ind_key = _step_indicators(R, recipe, net, departure, mat_keys, mat_paths, work, modes)
    if stop_after("indicators"):
        R.result.cells = _read_geoparquet(work / "cells_indicators.parquet")
        return R.result
    bar_key = _step_barriers(R, recipe, src, net, net_key, in_key, ind_key, work, modes, progress, say)
    if stop_after("barriers"):
        R.result.cells = _read_geoparquet(work / "cells_barriers.parquet")
        return R.result
    area_key = _step_areas(R, recipe, in_key, ind_key, bar_key, work, modes)
    if stop_after("areas"):
        R.result.cells = _read_geoparquet(work / "cells_indicators.parquet")
        R.result.areas = _read_geoparquet(work / "epci.parquet")
        return R.result
    listing = _step_report(R, recipe, src, net, area_key, out, work, modes, progress)
    R.result.files.update(json.loads(listing.read_text()))
    R.result.areas = _read_geoparquet(work / "epci.parquet")
    R.result.cells = _read_geoparquet(_cells_table_path(work))
    R.result.timings_s["total"] = time.perf_counter() - t_all
    say(f"done in {R.result.timings_s['total']:.1f} s; report in {out}")
    return R.result


# ------------------------------------------------------------------------------------------ run(): one call per step
def _step_sources(R: _Runner, recipe, cache_dir: Path, fetch: bool, progress: bool, log: Callable[[str], None],
                  fetch_options: dict | None):
    """1. sources: resolved (fetched where missing) and hashed."""
    # 1. sources
    t0 = time.perf_counter()
    log("[sources] resolving" + (" (fetching what is missing)" if fetch else " (no fetch)"))
    src = _resolve_sources(recipe, cache_dir, fetch=fetch, progress=progress, log=log, state=R.state,
                           fetch_options=fetch_options)
    R.state.save()
    R.result.timings_s["sources"] = time.perf_counter() - t0
    log(f"[sources] done in {R.result.timings_s['sources']:.1f} s: osm {src.osm.name}, "
        f"{len(src.gtfs)} GTFS feed(s)")
    R.result.files["sources"] = {k: str(v) for k, v in src.files.items()}
    return src


def _step_network(R: _Runner, recipe, src, modes: tuple[str, ...], out: Path, progress: bool,
                  log: Callable[[str], None]):
    """2. network: built, or loaded from its cache keyed by the content of the OSM/GTFS files and the settings."""
    # 2. network (the bundle cache is keyed by the content of the OSM/GTFS files and the settings)
    from ..network.bundle import TransportNetwork

    if "transit" in modes and not src.gtfs:
        raise ValidationError(f"recipe {recipe.name!r} asks for transit but has no enabled GTFS source")
    street_modes = [m for m in ("walk", "bike", "car") if m in modes]
    if "transit" in modes and "walk" not in street_modes:
        street_modes.insert(0, "walk")
    if "transit" in modes and recipe.access_mode != "walk" and recipe.access_mode not in street_modes:
        street_modes.append(recipe.access_mode)  # bike / car access to transit needs that graph
    t0 = time.perf_counter()
    log("[network] building or loading" + (f" (elevation {recipe.elevation.name})" if recipe.elevation else ""))
    net = TransportNetwork.from_files(src.osm, src.gtfs if "transit" in modes else [],
                                      cache_dir=out / "cache" / "network", modes=street_modes, progress=progress,
                                      elevation=recipe.elevation)
    net_key = net.manifest.get("key", "")
    R.result.timings_s["network"] = time.perf_counter() - t0
    log(f"[network] done in {R.result.timings_s['network']:.1f} s: {net!r}")
    R.result.network = net
    return net, net_key


def _step_inputs(R: _Runner, recipe, src, work: Path, log: Callable[[str], None]) -> str:
    """3. inputs: cells, venues and areas."""
    # 3. inputs
    input_names = [s.name for s in recipe.enabled_sources()
                   if s.kind in ("filosofi", "basilic", "bpe", "epci", "communes")]
    in_key = R.step("inputs", {"files": {n: src.shas[n] for n in input_names}, "osm": src.shas["__osm__"],
                               "categories": list(recipe.categories), "taxonomy": recipe.taxonomy,
                               "region": {"departments": list(recipe.departments), "epci": list(recipe.epci),
                                          "venue_buffer_km": recipe.venue_buffer_km}},
                    [work / "cells.parquet", work / "venues.parquet", work / "areas.parquet"],
                    lambda: _load_inputs(recipe, src, work, log))
    return in_key


def _step_matrices(R: _Runner, recipe, net, net_key: str, in_key: str, work: Path, modes: tuple[str, ...],
                   progress: bool, log: Callable[[str], None]):
    """4. matrices: one long Parquet matrix per mode, cells to venues."""
    # 4. matrices
    departure = _dt.datetime.combine(recipe.date, _dt.time.fromisoformat(recipe.departure))
    mat_keys: dict[str, str] = {}
    mat_paths: dict[str, Path] = {}
    loaded: dict[str, Points] = {}

    def pts():
        if not loaded:
            loaded["cells"] = _points(_read_geoparquet(work / "cells.parquet"), "cells")
            loaded["venues"] = _points(_read_geoparquet(work / "venues.parquet"), "venues")
        return loaded["cells"], loaded["venues"]

    for m in modes:
        path = work / f"matrix_{m}.parquet"
        settings = {"mode": m, "max_time_min": recipe.max_time_min}
        if m == "transit":
            settings.update(departure=departure.isoformat(), window_min=recipe.window_min,
                            percentiles=list(recipe.percentiles))
            if recipe.access_mode != "walk":  # (walk: the cache keys of earlier runs stay valid)
                settings.update(access_mode=recipe.access_mode, max_bike_min=recipe.max_bike_min,
                                max_car_min=recipe.max_car_min)

        def compute(m=m, path=path):
            o, d = pts()
            n = matrix_to_parquet(net, o, d, path, mode=m, max_time_min=recipe.max_time_min, departure=departure,
                                  window_min=recipe.window_min, percentiles=recipe.percentiles, progress=progress,
                                  transit=recipe.transit_options() if m == "transit" else None)
            log(f"matrix {m}: {len(o):,} cells x {len(d):,} venues, {n:,} pairs within {recipe.max_time_min} min")

        mat_keys[m] = R.step(f"matrix_{m}", {"network": net_key, "inputs": in_key, "settings": settings},
                             [path], compute)
        mat_paths[m] = path
    return departure, mat_keys, mat_paths


def _step_indicators(R: _Runner, recipe, net, departure, mat_keys: dict, mat_paths: dict, work: Path,
                     modes: tuple[str, ...]) -> str:
    """5. per-cell indicators."""
    # 5. per-cell indicators
    other_pct = _other_transit_percentile(recipe, modes)

    def indicators():
        import geopandas as gpd

        cells = _read_geoparquet(work / "cells.parquet")
        venues = _read_geoparquet(work / "venues.parquet")
        vals = cell_indicators(mat_paths, cells, venues, thresholds_min=recipe.thresholds_min,
                               percentiles=recipe.percentiles, network=net, departure=departure,
                               window_min=recipe.window_min,
                               transit_max_time_min=max(TRANSIT_NEAREST_MAX_MIN, recipe.max_time_min),
                               other_transit_percentile=other_pct)
        res = cells.merge(vals, on="id", how="left")
        res["crowfly_km_any"] = _crowfly_nearest_km(cells, venues)
        _write_geoparquet(gpd.GeoDataFrame(res, geometry="geometry", crs=cells.crs), work / "cells_indicators.parquet")

    ind_key = R.step("indicators", {"matrices": mat_keys, "thresholds": list(recipe.thresholds_min),
                                    "gravity_half_life_min": GRAVITY_HALF_LIFE_MIN, "fca_cutoff_min": FCA_CUTOFF_MIN,
                                    "nearest": {"transit_max_time_min": TRANSIT_NEAREST_MAX_MIN,
                                                "other_transit_percentile": other_pct}},
                     [work / "cells_indicators.parquet"], indicators)
    return ind_key


def _step_barriers(R: _Runner, recipe, src, net, net_key: str, in_key: str, ind_key: str, work: Path,
                   modes: tuple[str, ...], progress: bool, log: Callable[[str], None]) -> str:
    """5b. social barriers."""
    # 5b. social barriers (profile, no car, evening round trips, Saturday, barrier index)
    bar_cfg, _ = _barriers_config(recipe)
    bar_names = [s.name for s in recipe.enabled_sources() if s.kind in ("census", "iris", "filosofi")]
    bar_key = R.step("barriers", {"indicators": ind_key, "inputs": in_key, "network": net_key, "config": bar_cfg,
                                  "files": {n: src.shas[n] for n in bar_names}, "date": recipe.date.isoformat(),
                                  "modes": list(modes)},
                     [work / "cells_barriers.parquet", work / "barriers_epci.parquet"],
                     lambda: _barriers_step(recipe, src, net, work, modes, bar_cfg, progress, log))
    return bar_key


def _step_areas(R: _Runner, recipe, in_key: str, ind_key: str, bar_key: str, work: Path,
                modes: tuple[str, ...]) -> str:
    """6. areas: aggregation, profile, typology."""
    # 6. areas: aggregation, profile, typology
    typ_path = recipe.typology_path()
    typ_sha = R.state.file_sha(typ_path) if typ_path is not None else None
    zones = [[z.name, list(z.epci)] for z in recipe.priority_zones]
    area_key = R.step("areas", {"indicators": ind_key, "barriers": bar_key, "inputs": in_key, "typology": typ_sha,
                                "zones": zones,
                                "thresholds": list(recipe.thresholds_min)},
                      [work / "epci.parquet"], lambda: _areas_step(recipe, work, modes))
    return area_key


def _step_report(R: _Runner, recipe, src, net, area_key: str, out: Path, work: Path, modes: tuple[str, ...],
                 progress: bool) -> Path:
    """7. report: the files of the report folder; returns the listing of what was written."""
    # 7. report
    report_files = [out / "summary.md", out / "epci.gpkg", out / "epci.parquet", out / "epci_map.html",
                    out / "cells.parquet", out / f"{recipe.stem}.gpkg"]
    listing = work / "report_files.json"

    def report():
        written = _report_step(recipe, out, work, modes, progress, dict(R.result.timings_s), files=src.files,
                               service_dates=net.timetable.service_dates if net.timetable is not None else None)
        with atomic_path(listing, suffix=".json") as tmp:
            tmp.write_text(json.dumps(written, indent=1))

    R.step("report", {"areas": area_key, "modes": list(modes), "stem": recipe.stem}, report_files + [listing], report)
    return listing
