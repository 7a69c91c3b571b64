"""A built transport network (streets per mode + transit timetable), saved and loaded as a bundle.

On disk: ``manifest.json`` (format version, the content hash of the inputs and settings, components, and a
checksum of every file) and one folder per component holding ``*.npy`` arrays and a ``meta.json``. Arrays are
memory-mapped on load; nothing is pickled. ``TransportNetwork.from_files(..., cache_dir=...)`` reuses a bundle whose
hash matches.

Safety: :meth:`TransportNetwork.save` writes into a hidden temporary folder and swaps it in at once (never a moment
without a bundle); it refuses a non-empty folder that is not a bundle unless ``overwrite=True``. :meth:`load` checks
each file's size and a hash of its first and last blocks (cheap); :func:`verify_bundle` (``access network verify``)
checks the full hashes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._errors import InputFileError, NetworkError, ValidationError
from .._io_util import atomic_dir, sha256_file
from .._validate import check_choice, check_number
from ..options import StreetOptions
from . import profiles
from .street import StreetGraph, build_street_graph

#: the cheap load-time check hashes this many bytes at each end of a file
CHECK_BLOCK_BYTES = 1 << 16

FORMAT_VERSION = 1
STREET_MODES = profiles.MODES


def _save_component(folder: Path, arrays: dict, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, a in arrays.items():
        np.save(folder / f"{k}.npy", np.ascontiguousarray(a), allow_pickle=False)
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))


def _load_component(folder: Path, mmap: bool = True) -> tuple[dict, dict]:
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise NetworkError(f"bundle file {str(folder / 'meta.json')!r} is missing or corrupt ({e}); rebuild the "
                           "network (`access network build`)") from None
    arrays = {}
    for p in sorted(folder.glob("*.npy")):
        try:
            arrays[p.stem] = np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise NetworkError(f"bundle file {str(p)!r} is corrupt or truncated ({e}); rebuild the network "
                               "(`access network build`)") from None
    return arrays, meta


def _ends_hash(path: Path, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(CHECK_BLOCK_BYTES))
        if size > CHECK_BLOCK_BYTES:
            f.seek(max(CHECK_BLOCK_BYTES, size - CHECK_BLOCK_BYTES))
            h.update(f.read(CHECK_BLOCK_BYTES))
    return h.hexdigest()


def _checksums(root: Path) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            size = p.stat().st_size
            out[p.relative_to(root).as_posix()] = dict(size=size, ends_sha256=_ends_hash(p, size),
                                                       sha256=sha256_file(p))
    return out


def _check_files(root: Path, manifest: dict, *, full: bool) -> list[str]:
    """The problems found in the bundle's files (empty when all match the manifest)."""
    problems = []
    for rel, c in (manifest.get("checksums") or {}).items():
        p = root / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
            continue
        size = p.stat().st_size
        if size != c.get("size"):
            problems.append(f"{rel}: {size} bytes, the manifest says {c.get('size')}")
        elif _ends_hash(p, size) != c.get("ends_sha256"):
            problems.append(f"{rel}: content differs from the manifest (first/last blocks)")
        elif full and sha256_file(p) != c.get("sha256"):
            problems.append(f"{rel}: content differs from the manifest (full hash)")
    return problems


def _read_manifest(path: Path) -> dict:
    mf = path / "manifest.json"
    if not mf.exists():
        raise InputFileError(f"{str(path)!r} is not a network bundle (no manifest.json); build one with "
                             "`access network build`")
    try:
        manifest = json.loads(mf.read_text())
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise NetworkError(f"bundle manifest {str(mf)!r} is corrupt ({e}); rebuild the network "
                           "(`access network build`)") from None
    return manifest


def verify_bundle(path) -> list[str]:
    """Check every file of bundle ``path`` against the full hashes of its manifest.

    Returns
    -------
    list of str
        The problems found (empty when the bundle is intact).

    Examples
    --------
    >>> verify_bundle("poa-net")  # doctest: +SKIP
    []
    """
    path = Path(path)
    manifest = _read_manifest(path)
    if "checksums" not in manifest:
        return ["the manifest has no checksums (a bundle written by an older version); rebuild it to verify"]
    return _check_files(path, manifest, full=True)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


class TransportNetwork:
    """Street graphs for walk/bike/car and, when GTFS feeds were given, a transit :class:`Timetable`.

    Build with :meth:`from_files`; get a mode's graph with :meth:`street`.

    Examples
    --------
    >>> net = TransportNetwork.from_files("poa_osm.pbf", gtfs=["poa_eptc.zip"], cache_dir="cache")  # doctest: +SKIP
    >>> net.street("walk").n_nodes  # doctest: +SKIP
    """

    def __init__(self, streets: dict[str, StreetGraph], timetable=None, *, manifest: dict | None = None):
        self._streets = dict(streets)
        self.timetable = timetable
        self.manifest = dict(manifest or {})

    def __repr__(self) -> str:
        parts = [f"{m}: {g.n_nodes:,} nodes" for m, g in self._streets.items()]
        if self.timetable is not None:
            parts.append(f"transit: {self.timetable!r}")
        return f"TransportNetwork({'; '.join(parts)})"

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self._streets)

    def street(self, mode: str) -> StreetGraph:
        """The street graph of ``mode`` ("walk", "bike" or "car")."""
        if mode not in self._streets:
            raise ValidationError(f"this network has no {mode!r} street graph (it has {list(self._streets)}); "
                                  f"build it with modes including {mode!r}")
        return self._streets[mode]

    def replace(self, *, streets: dict | None = None, timetable=..., **manifest) -> TransportNetwork:
        """A new network with some components swapped (the original is untouched)."""
        s = dict(self._streets)
        s.update(streets or {})
        return TransportNetwork(s, self.timetable if timetable is ... else timetable,
                                manifest=dict(self.manifest, **manifest))

    # ------------------------------------------------------------------ building
    @classmethod
    def from_files(cls, osm_pbf: str | Path, gtfs: str | Path | Sequence[str | Path] = (), *,
                   cache_dir: str | Path | None = None, modes: Sequence[str] = STREET_MODES,
                   street: StreetOptions | None = None, walk_speed_kmh: float | None = None,
                   bike_speed_kmh: float | None = None, max_transfer_walk_min: float = 10.0,
                   max_snap_m: float | None = None, progress: bool = False,
                   elevation: str | Path | None = None) -> TransportNetwork:
        """Build (or load from ``cache_dir``) the network of an OSM extract and zero or more GTFS feeds.

        Parameters
        ----------
        osm_pbf : path
            OpenStreetMap extract (``.pbf``).
        gtfs : path or sequence of paths
            GTFS feeds (zip or folder); several feeds are merged with ids kept unique.
        cache_dir : path, optional
            Where built bundles are kept, keyed by a content hash of the inputs and the settings.
        modes : sequence of str
            Street modes to build. "walk" is always built when GTFS feeds are given.
        street : StreetOptions, optional
            Build speeds of walk and bike and the snapping radius of the stops (queries may re-time the graphs at
            other speeds); ``walk_speed_kmh``, ``bike_speed_kmh``, ``max_snap_m`` are shortcuts for its fields.
        max_transfer_walk_min : float
            Walking transfers between stops are searched up to this many minutes.
        progress : bool
            Show progress bars.
        elevation : path, optional
            A GeoTIFF DEM (EPSG:4326): walk and bike edge times follow the slopes, edge by edge in both
            directions, as R5 (:mod:`access.network.elevation`); transfers are then walked on those times.

        Examples
        --------
        >>> net = TransportNetwork.from_files("poa_osm.pbf", gtfs=["poa_eptc.zip"], cache_dir="cache")  # doctest: +SKIP
        """
        so = StreetOptions.resolve(street, walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                                   max_snap_m=max_snap_m)
        walk_speed_kmh, bike_speed_kmh, max_snap_m = so.walk_speed_kmh, so.bike_speed_kmh, so.max_snap_m
        max_transfer_walk_min = check_number("max_transfer_walk_min", max_transfer_walk_min, ge=0, le=120)
        osm_pbf = Path(osm_pbf)
        if isinstance(gtfs, (str, Path)):
            gtfs = [gtfs]
        gtfs = [Path(g) for g in gtfs]
        if isinstance(modes, str):
            modes = [m.strip() for m in modes.split(",") if m.strip()]
        if not list(modes):
            raise ValidationError("`modes` must name at least one of 'walk', 'bike', 'car', got an empty list; "
                                  "e.g. modes=('walk', 'car') or --modes walk,car")
        modes = tuple(dict.fromkeys(list(modes) + (["walk"] if gtfs else [])))
        if not modes:
            raise ValidationError("`modes` must name at least one of 'walk', 'bike', 'car', got none")
        for m in modes:
            check_choice("modes", m, STREET_MODES)
        extra = [Path(elevation)] if elevation is not None else []
        for p in [Path(osm_pbf), *(Path(g) for g in gtfs), *extra]:
            if not p.exists():
                raise InputFileError(f"input file {str(p)!r} does not exist; check the path")
        if osm_pbf.is_dir():
            raise InputFileError(f"OSM input {str(osm_pbf)!r} is a folder; give the .pbf file")
        settings = dict(modes=list(modes), walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                        max_transfer_walk_min=max_transfer_walk_min, max_snap_m=max_snap_m,
                        format_version=FORMAT_VERSION, code_version=_code_version())
        if extra:
            settings["elevation"] = str(extra[0])
        key = content_key([osm_pbf, *gtfs, *extra], settings)
        if cache_dir is not None:
            target = Path(cache_dir) / key
            if (target / "manifest.json").exists():
                return cls.load(target)
        net = cls._build(osm_pbf, gtfs, modes, settings, key, progress=progress)
        if cache_dir is not None:
            net.save(Path(cache_dir) / key)
            return cls.load(Path(cache_dir) / key)
        return net

    @classmethod
    def _build(cls, osm_pbf, gtfs, modes, settings, key, *, progress=False):
        from tqdm.auto import tqdm

        from ..io.osm import read_highways

        t0 = time.perf_counter()
        steps = 1 + len(modes) + (1 if gtfs else 0)
        bar = tqdm(total=steps, desc="building network", disable=not progress, unit="step")
        bar.set_postfix_str("reading OSM")
        ways = read_highways(osm_pbf)
        bar.update()
        streets = {}
        for m in modes:
            bar.set_postfix_str(f"{m} graph")
            speed = {"walk": settings["walk_speed_kmh"], "bike": settings["bike_speed_kmh"]}.get(m)
            streets[m] = build_street_graph(ways, m, speed_kmh=speed,
                                            connector_speed_kmh=settings["bike_speed_kmh"] if m == "bike"
                                            else settings["walk_speed_kmh"])
            bar.update()
        if settings.get("elevation"):
            from .elevation import apply_elevation, read_dem

            dem = read_dem(settings["elevation"])
            streets = {m: apply_elevation(g, dem) for m, g in streets.items()}
        timetable = None
        if gtfs:
            bar.set_postfix_str("transit timetable")
            from .transit import Timetable

            timetable = Timetable.build(gtfs, streets["walk"], max_transfer_walk_min=settings["max_transfer_walk_min"],
                                        max_snap_m=settings["max_snap_m"])
            bar.update()
        bar.close()
        manifest = dict(key=key, settings=settings, inputs=[str(p) for p in [osm_pbf, *gtfs]],
                        build_seconds=round(time.perf_counter() - t0, 3))
        return cls(streets, timetable, manifest=manifest)

    # ------------------------------------------------------------------ persistence
    def save(self, path, *, overwrite: bool = False) -> Path:
        """Write the bundle atomically to folder ``path``, replacing a bundle there in one step.

        A non-empty folder that is not a bundle is refused (nothing is deleted) unless ``overwrite=True``.
        """
        path = Path(path)
        check_save_target(path, overwrite=overwrite)
        with atomic_dir(path) as tmp:
            comps = []
            for m, g in self._streets.items():
                arrays, meta = g.to_arrays()
                _save_component(tmp / f"street_{m}", arrays, meta)
                comps.append(f"street_{m}")
            if self.timetable is not None:
                arrays, meta = self.timetable.to_arrays()
                _save_component(tmp / "transit", arrays, meta)
                comps.append("transit")
                if self.timetable.shapes is not None:  # shapes.txt: its own component (bundles without still load)
                    _save_component(tmp / "transit_shapes", *self.timetable.shapes.to_arrays())
                    comps.append("transit_shapes")
            man = dict(self.manifest, format_version=FORMAT_VERSION, components=comps)
            man["checksums"] = _checksums(tmp)
            (tmp / "manifest.json").write_text(json.dumps(man, indent=1, default=_json_default))
        return path

    @classmethod
    def load(cls, path, *, mmap: bool = True) -> TransportNetwork:
        """Load a bundle written by :meth:`save` (arrays memory-mapped).

        Each file's size and the hash of its first and last blocks are checked against the manifest (a truncated
        or altered bundle raises :class:`~access._errors.NetworkError`); :func:`verify_bundle` checks full hashes.
        """
        path = Path(path)
        if not path.is_dir():
            raise InputFileError(f"network bundle {str(path)!r} does not exist or is not a folder; build one with "
                                 "`access network build --out FOLDER`")
        manifest = _read_manifest(path)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise NetworkError(f"bundle {str(path)!r} has format {manifest.get('format_version')}, this version of "
                               f"access reads {FORMAT_VERSION}; rebuild it")
        problems = _check_files(path, manifest, full=False)
        if problems:
            raise NetworkError(f"bundle {str(path)!r} is damaged: {'; '.join(problems[:5])}"
                               f"{f' (and {len(problems) - 5} more)' if len(problems) > 5 else ''}; rebuild it "
                               "(`access network build`)")
        streets = {}
        timetable = None
        shapes = None
        for comp in manifest.get("components", []):
            arrays, meta = _load_component(path / comp, mmap=mmap)
            if comp.startswith("street_"):
                streets[comp[len("street_"):]] = StreetGraph.from_arrays(arrays, meta)
            elif comp == "transit":
                from .transit import Timetable

                timetable = Timetable.from_arrays(arrays, meta)
            elif comp == "transit_shapes":
                from .shapes import TripShapes

                shapes = TripShapes.from_arrays(arrays, meta)
        if timetable is not None:
            timetable.shapes = shapes
        return cls(streets, timetable, manifest=manifest)

    # ------------------------------------------------------------------ GIS export (issue 19)
    def to_geodataframes(self, modes=None) -> dict:
        """The network as GeoDataFrames (EPSG:4326), for GIS (r5r's ``street_network_to_sf`` /
        ``transit_network_to_sf``).

        Parameters
        ----------
        modes : sequence of str, optional
            Street modes to export (default: all built).

        Returns
        -------
        dict of GeoDataFrame
            ``"streets"``: one row per directed edge and mode: ``mode, edge, from_osm_node, to_osm_node, way_id,
            highway, length_m, travel_time_s, speed_kmh, geometry``; with a timetable, ``"stops"``: ``stop_id,
            stop_name, used, linked, geometry`` (linked: snapped onto the walk graph) and ``"routes"``: one row per
            stop pattern, ``route_id, route_short_name, route_long_name, route_type, pattern, n_stops,
            geometry_source, geometry``: along ``shapes.txt`` (the shape of the pattern's first trip, from its first to
            its last stop; ``geometry_source="shape"``), else stop to stop (``"stops"``).

        Examples
        --------
        >>> layers = net.to_geodataframes()  # doctest: +SKIP
        >>> for name, gdf in layers.items(): gdf.to_file("network.gpkg", layer=name)  # doctest: +SKIP
        """
        import geopandas as gpd
        import pandas as pd
        import shapely

        out = {}
        frames = []
        for m in (modes or self.modes):
            g = self.street(m)
            n_e = g.n_edges
            tail = np.repeat(np.arange(g.n_nodes), np.diff(np.asarray(g.first_out)))
            counts = np.diff(np.asarray(g.geom_offsets))
            geoms = shapely.linestrings(np.asarray(g.geom_lonlat), indices=np.repeat(np.arange(n_e), counts))
            length = np.asarray(g.length_m, np.float64)
            tts = np.asarray(g.travel_time_s, np.float64)
            frames.append(gpd.GeoDataFrame({
                "mode": m, "edge": np.arange(n_e), "from_osm_node": np.asarray(g.osm_node_id)[tail],
                "to_osm_node": np.asarray(g.osm_node_id)[np.asarray(g.head)], "way_id": np.asarray(g.way_id),
                "highway": np.asarray(profiles.HIGHWAY_CLASSES, dtype=object)[np.asarray(g.highway)],
                "length_m": length, "travel_time_s": np.asarray(g.travel_time_s),
                "speed_kmh": np.round(np.where(tts > 0, length / np.maximum(tts, 1e-9) * 3.6, np.nan), 2)},
                geometry=geoms, crs="EPSG:4326"))
        if frames:
            out["streets"] = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
        tt = self.timetable
        if tt is not None:
            a = tt.arrays
            lon, lat = np.asarray(a["stop_lon"], np.float64), np.asarray(a["stop_lat"], np.float64)
            out["stops"] = gpd.GeoDataFrame({
                "stop_id": np.asarray(a["stop_id"]).astype(str), "stop_name": np.asarray(a["stop_name"]).astype(str),
                "used": np.asarray(a["stop_used"]).astype(bool),
                "linked": (np.asarray(a["stop_access_node"])[:, 0] >= 0)},
                geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
            pso = np.asarray(a["pattern_stop_off"]).astype(np.int64)
            ps = np.asarray(a["pattern_stops"])
            pr = np.asarray(a["pattern_route"])
            n_p = len(pr)
            counts = np.diff(pso)
            ok = counts >= 2
            idx = np.repeat(np.arange(n_p), counts)
            sel = ok[idx]
            okp = np.flatnonzero(ok)
            rank = np.full(n_p, -1, np.int64)
            rank[okp] = np.arange(len(okp))
            geoms = np.full(n_p, None, dtype=object)
            if len(okp):
                lines = shapely.linestrings(np.column_stack([lon[ps], lat[ps]])[sel], indices=rank[idx[sel]])
                geoms[okp] = list(lines)
            source = np.full(len(ok), None, dtype=object)
            source[ok] = "stops"
            if tt.shapes is not None:  # along shapes.txt: the shape of the pattern's first trip, first to last stop
                tp = np.asarray(a["trip_pattern"])
                pats, first_trip = np.unique(tp, return_index=True)
                tids = np.asarray(a["trip_id"])
                stop_ll = np.column_stack([lon, lat])
                for p_, t_ in zip(pats, first_trip):
                    if not ok[p_]:
                        continue
                    xy = tt.shapes.ride_lonlat(str(tids[t_]), ps[pso[p_]:pso[p_ + 1]], 0, int(counts[p_]) - 1,
                                               stop_ll)
                    if xy is not None:
                        geoms[p_] = shapely.linestrings(xy)
                        source[p_] = "shape"
            out["routes"] = gpd.GeoDataFrame({
                "route_id": np.asarray(a["route_id"]).astype(str)[pr],
                "route_short_name": np.asarray(a["route_short_name"]).astype(str)[pr],
                "route_long_name": np.asarray(a["route_long_name"]).astype(str)[pr],
                "route_type": np.asarray(a["route_type"])[pr], "pattern": np.arange(n_p), "n_stops": counts,
                "geometry_source": source},
                geometry=list(geoms), crs="EPSG:4326")
        return out


def _code_version() -> str:
    """The package version plus a hash of the code that builds networks and of the embedded data files it reads
    (speed tables), so an edit of either invalidates cached bundles."""
    from .._fingerprint import code_fingerprint
    from .._version import __version__

    return f"{__version__}+{code_fingerprint(('network', 'io/osm.py', 'io/gtfs.py', '_data.py'))[:12]}"


def check_save_target(path, *, overwrite: bool = False) -> None:
    """Refuse to write a bundle over a file, or over a non-empty folder that is not a bundle (unless ``overwrite``)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputFileError(f"cannot write a network bundle to {str(path)!r}: it is a file; choose a folder path")
    if path.is_dir() and not (path / "manifest.json").exists() and any(path.iterdir()) and not overwrite:
        raise InputFileError(f"{str(path)!r} is a non-empty folder that is not a network bundle; nothing was "
                             "written; choose another output folder or pass --overwrite (overwrite=True) to "
                             "replace it")
    parent = path.parent if str(path.parent) else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    import os

    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputFileError(f"cannot write a network bundle to {str(path)!r}: folder {str(probe)!r} is not "
                             "writable; choose another output folder or fix its permissions")


def _hash_input(p: Path) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in sorted order)."""
    if not p.is_dir():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(p.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(p).as_posix().encode() + b"\0" + sha256_file(f).encode())
    return h.hexdigest()


def content_key(paths, settings: dict) -> str:
    """A short hash of the input files' contents (a folder: its files) and the build settings."""
    h = hashlib.sha256()
    for p in paths:
        h.update(_hash_input(Path(p)).encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:16]
