"""A built transport network (streets per mode + transit timetable), saved and loaded as a bundle.

On disk: ``manifest.json`` (format version, the content hash of the inputs and settings, components) and one
folder per component holding ``*.npy`` arrays and a ``meta.json``. Arrays are memory-mapped on load; nothing
is pickled. ``TransportNetwork.from_files(..., cache_dir=...)`` reuses a bundle whose hash matches.
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

FORMAT_VERSION = 1
STREET_MODES = profiles.MODES


def _save_component(folder: Path, arrays: dict, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, a in arrays.items():
        np.save(folder / f"{k}.npy", np.ascontiguousarray(a), allow_pickle=False)
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))


def _load_component(folder: Path, mmap: bool = True) -> tuple[dict, dict]:
    meta = json.loads((folder / "meta.json").read_text())
    arrays = {p.stem: np.load(p, mmap_mode="r" if mmap else None, allow_pickle=False) for p in sorted(folder.glob("*.npy"))}
    return arrays, meta


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

    def replace(self, *, streets: dict | None = None, timetable=..., **manifest) -> "TransportNetwork":
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
                   max_snap_m: float | None = None, progress: bool = False) -> TransportNetwork:
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
        modes = tuple(dict.fromkeys(list(modes) + (["walk"] if gtfs else [])))
        if not modes:
            raise ValidationError("`modes` must name at least one of 'walk', 'bike', 'car', got none")
        for m in modes:
            check_choice("modes", m, STREET_MODES)
        for p in [osm_pbf, *gtfs]:
            if not p.exists():
                raise InputFileError(f"input file {str(p)!r} does not exist")
        settings = dict(modes=list(modes), walk_speed_kmh=walk_speed_kmh, bike_speed_kmh=bike_speed_kmh,
                        max_transfer_walk_min=max_transfer_walk_min, max_snap_m=max_snap_m,
                        format_version=FORMAT_VERSION, code_version=_code_version())
        key = content_key([osm_pbf, *gtfs], settings)
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
    def save(self, path) -> Path:
        """Write the bundle atomically to folder ``path`` (replacing it)."""
        path = Path(path)
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
            man = dict(self.manifest, format_version=FORMAT_VERSION, components=comps)
            (tmp / "manifest.json").write_text(json.dumps(man, indent=1, default=_json_default))
        return path

    @classmethod
    def load(cls, path, *, mmap: bool = True) -> "TransportNetwork":
        """Load a bundle written by :meth:`save` (arrays memory-mapped)."""
        path = Path(path)
        mf = path / "manifest.json"
        if not mf.exists():
            raise InputFileError(f"{str(path)!r} is not a network bundle (no manifest.json); build one with "
                                 "`access network build`")
        manifest = json.loads(mf.read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise NetworkError(f"bundle {str(path)!r} has format {manifest.get('format_version')}, this version of "
                               f"access reads {FORMAT_VERSION}; rebuild it")
        streets = {}
        timetable = None
        for comp in manifest.get("components", []):
            arrays, meta = _load_component(path / comp, mmap=mmap)
            if comp.startswith("street_"):
                streets[comp[len("street_"):]] = StreetGraph.from_arrays(arrays, meta)
            elif comp == "transit":
                from .transit import Timetable

                timetable = Timetable.from_arrays(arrays, meta)
        return cls(streets, timetable, manifest=manifest)


def _code_version() -> str:
    """The package version plus a hash of the code that builds networks and of the embedded data files it reads
    (speed tables), so an edit of either invalidates cached bundles."""
    from .._version import __version__
    from .._fingerprint import code_fingerprint

    return f"{__version__}+{code_fingerprint(('network', 'io/osm.py', 'io/gtfs.py', '_data.py'))[:12]}"


def content_key(paths, settings: dict) -> str:
    """A short hash of the input files' contents and the build settings (and this code's bundle format)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(sha256_file(p).encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:16]
