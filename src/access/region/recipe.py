"""Region recipes: one TOML file naming every source of a regional run and its analysis settings.

A recipe (``networks/<region>.toml``) holds:

``[region]``
    ``name`` (str), optional ``bbox = [lon_min, lat_min, lon_max, lat_max]`` (EPSG:4326) and
    ``osm_clip_buffer_km`` (float, default 10): the OSM extracts are merged and clipped to the bbox grown by
    this buffer so that trips crossing the border still find their streets.
``[analysis]``
    ``date`` (``YYYY-MM-DD``), ``departure`` (``HH:MM``), ``window_min`` (int > 0), ``modes`` (subset of
    walk/bike/car/transit), ``thresholds_min`` (increasing positive ints), optional ``percentiles``
    (default ``[50]``) and ``max_time_min`` (default: the largest threshold).
``[venues]``
    ``categories`` (subset of :data:`VENUE_CATEGORIES`), optional ``taxonomy`` (default
    ``venue_taxonomy.csv``, the embedded mapping in ``data/``).
``[areas]``
    optional ``typology`` (path relative to the recipe, or ``embedded:NAME`` for a file of ``data/``) and
    ``[[areas.priority_zones]]`` tables with ``name`` and ``epci`` (list of 9-digit EPCI SIREN codes).
``[sources.<name>]``
    one table per source: ``kind`` (see :data:`SOURCE_KINDS`), ``format`` (see :data:`SOURCE_FORMATS`),
    ``licence``, and either ``url`` (http/https, downloaded by ``access fetch``) or ``path`` (a local file,
    relative to the recipe). Optional: ``sha256`` (pins the file: a download with another checksum is an
    error), ``size_bytes``, ``filename`` (name in the cache), ``extract`` (member to take out of a zip
    archive), ``description``, ``enabled`` (default true; a disabled source is kept for the record and
    skipped).

Example
-------
>>> from access.recipe import Recipe
>>> r = Recipe.from_file("networks/hauts-de-france.toml")  # doctest: +SKIP
>>> r.modes, r.thresholds_min  # doctest: +SKIP
(('walk', 'bike', 'car', 'transit'), (10, 20, 30, 45))
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import InputFileError, ValidationError
from ._recipe_schema import MODES, SOURCE_FORMATS, SOURCE_KINDS, VENUE_CATEGORIES

__all__ = ["MODES", "SOURCE_FORMATS", "SOURCE_KINDS", "VENUE_CATEGORIES", "PriorityZone", "Recipe", "Source"]

_EXT = {"osm.pbf": ".osm.pbf", "gtfs.zip": ".gtfs.zip", "gpkg": ".gpkg", "csv": ".csv", "geojson": ".geojson",
        "geojson.gz": ".geojson.gz", "parquet": ".parquet", "zip": ".zip", "json": ".json", "7z": ".7z",
        "xlsx": ".xlsx"}


@dataclass(frozen=True)
class Source:
    """One input file of a recipe (see the module docstring for the keys)."""

    name: str
    kind: str
    format: str
    licence: str
    url: str | None = None
    path: Path | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    filename: str | None = None
    extract: str | None = None
    description: str = ""
    enabled: bool = True
    #: transport.data.gouv.fr dataset id or slug: the GTFS download URL is resolved at fetch time
    dataset: str | None = None
    #: transport.data.gouv.fr: the public-transit dataset of this transport authority (``aom.siren`` or a fragment
    #: of ``aom.name``), resolved at fetch time through the datasets list
    aom: str | None = None
    #: with ``dataset``: pick the GTFS resource whose title/url contains this text (default: the only/first GTFS)
    resource: str | None = None
    #: expected download size (MB), for ``access fetch --plan``
    expected_size_mb: float | None = None
    #: expected size (MB) of the member taken out of an archive (``extract``), for ``access fetch --plan``
    expected_unpacked_mb: float | None = None

    @property
    def is_remote(self) -> bool:
        """True when the file is downloaded from ``url`` (False for a local ``path``)."""
        return self.url is not None or self.dataset is not None or self.aom is not None

    @property
    def extracted_name(self) -> str:
        """File name in the cache of the member taken out of the archive (``extract``): ``<name>__<base name>``
        (a path pattern keeps its last part: ``*/LAMB93_FXX*/CONTOURS-IRIS.shp`` -> ``iris__CONTOURS-IRIS.shp``)."""
        if self.extract is None:
            raise ValueError(f"source {self.name!r} has no `extract`")
        return f"{self.name}__{self.extract.rsplit('/', 1)[-1]}"

    @property
    def cache_name(self) -> str:
        """File name of the downloaded file in the cache directory."""
        return self.filename or f"{self.name}{_EXT[self.format]}"


@dataclass(frozen=True)
class PriorityZone:
    """A named group of EPCI (e.g. a regional contract zone)."""

    name: str
    epci: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Recipe:
    """A parsed, validated region recipe. Build it with :meth:`from_file` or :meth:`from_dict`."""

    name: str
    sources: Mapping[str, Source]
    date: _dt.date
    departure: str
    window_min: int
    modes: tuple[str, ...]
    thresholds_min: tuple[int, ...]
    categories: tuple[str, ...]
    percentiles: tuple[int, ...] = (50,)
    max_time_min: int = 60
    bbox: tuple[float, float, float, float] | None = None
    osm_clip_buffer_km: float = 10.0
    priority_zones: tuple[PriorityZone, ...] = ()
    typology: str | None = None
    taxonomy: str = "venue_taxonomy.csv"
    path: Path | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: the region's departments (INSEE codes) and/or EPCI (SIREN codes); both empty = no clipping (all of the data)
    departments: tuple[str, ...] = ()
    epci: tuple[str, ...] = ()
    #: venues up to this distance beyond the region's border count for access (``in_region`` False), not supply
    venue_buffer_km: float = 15.0
    #: base URL of transport.data.gouv.fr's API (``dataset`` sources are resolved through it)
    transport_api: str = "https://transport.data.gouv.fr/api"
    #: transit trips reach their first stop this way (``[analysis] access_mode``), within these bounds
    access_mode: str = "walk"
    max_bike_min: float | None = None
    max_car_min: float | None = None
    #: ``[network] elevation``: a GeoTIFF DEM giving slope-aware walk and bike times (resolved against the recipe)
    elevation: Path | None = None

    def transit_options(self) -> Any:
        """The :class:`access.TransitOptions` of the recipe's transit matrices beyond departure and window (the
        first leg's mode and bounds)."""
        from ..options import TransitOptions

        return TransitOptions(access_mode=self.access_mode, max_bike_min=self.max_bike_min,
                              max_car_min=self.max_car_min)

    @property
    def has_region(self) -> bool:
        """True when the recipe names the region's departments or EPCI (inputs are then clipped to it)."""
        return bool(self.departments or self.epci)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path) -> Recipe:
        """Read and validate a TOML recipe.

        Raises
        ------
        InputFileError
            The file is missing or is not valid TOML (the message gives the line).
        ValidationError
            A key is missing or has a bad value; the message names the key and the fix.
        """
        path = Path(path)
        if not path.is_file():
            raise InputFileError(f"recipe {str(path)!r} does not exist; give the path of a TOML recipe such as "
                                 "networks/hauts-de-france.toml")
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise InputFileError(f"recipe {str(path)!r} is not valid TOML: {e}") from None
        return cls.from_dict(data, path=path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path=None) -> Recipe:
        """Validate a recipe given as a dict (the parsed TOML) against :class:`RecipeSchema`; relative paths resolve
        against ``path``'s folder. Every check runs here, before any download."""
        from ._recipe_schema import parse_recipe

        path = Path(path) if path is not None else None
        where = str(path) if path is not None else "recipe"
        base = path.parent if path is not None else Path.cwd()
        m = parse_recipe(data, where)
        sources: dict[str, Source] = {}
        for sname, s in m.sources.items():
            lpath = None
            if s.path is not None:
                lpath = (base / s.path).resolve() if not Path(s.path).is_absolute() else Path(s.path)
            sources[sname] = Source(name=sname, kind=s.kind, format=s.format, licence=s.licence.strip(), url=s.url,
                                    path=lpath, sha256=s.sha256.lower() if s.sha256 else None,
                                    size_bytes=s.size_bytes, filename=s.filename, extract=s.extract,
                                    description=s.description, enabled=s.enabled, dataset=s.dataset, aom=s.aom,
                                    resource=s.resource, expected_size_mb=s.expected_size_mb,
                                    expected_unpacked_mb=s.expected_unpacked_mb)
        names = [s.cache_name for s in sources.values()]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValidationError(f"{where}: `sources` give two sources the same cache file name {dup[0]!r}; set "
                                  "distinct `filename`s")
        reg, an, ven, areas = m.region, m.analysis, m.venues, m.areas
        if reg.departments and not any(s.enabled and s.kind == "communes" for s in sources.values()):
            raise ValidationError(f"{where}: `region.departments` needs the commune -> EPCI membership: add a "
                                  '[sources.<name>] with kind = "communes" (geo.api.gouv.fr JSON or a COG CSV), or '
                                  "list the EPCI in `region.epci`")
        zones = tuple(PriorityZone(name=z.name, epci=tuple(str(c) for c in z.epci), note=z.note)
                      for z in areas.priority_zones)  # (the schema's validator already made the codes strings)
        date, departure = an.date, an.departure
        assert isinstance(date, _dt.date) and isinstance(departure, str)  # (the schema's validators convert them)
        bbox = None if reg.bbox is None else (reg.bbox[0], reg.bbox[1], reg.bbox[2], reg.bbox[3])  # (4: validated)
        return cls(name=reg.name.strip(), sources=sources, date=date, departure=departure,
                   window_min=an.window_min, modes=tuple(an.modes), thresholds_min=tuple(an.thresholds_min),
                   categories=tuple(ven.categories), percentiles=tuple(an.percentiles),
                   max_time_min=an.max_time_min if an.max_time_min is not None else max(an.thresholds_min),
                   bbox=bbox,
                   osm_clip_buffer_km=float(reg.osm_clip_buffer_km), priority_zones=zones, typology=areas.typology,
                   taxonomy=ven.taxonomy, path=path, raw=dict(data), departments=tuple(reg.departments),
                   epci=tuple(reg.epci), venue_buffer_km=float(reg.venue_buffer_km),
                   transport_api=m.fetch.transport_api, access_mode=an.access_mode,
                   max_bike_min=None if an.max_bike_min is None else float(an.max_bike_min),
                   max_car_min=None if an.max_car_min is None else float(an.max_car_min),
                   elevation=None if m.network.elevation is None else
                   (base / m.network.elevation).resolve() if not Path(m.network.elevation).is_absolute()
                   else Path(m.network.elevation))

    # ------------------------------------------------------------------ helpers
    @property
    def departure_s(self) -> int:
        """Departure time in seconds after midnight."""
        h, m = self.departure.split(":")
        return int(h) * 3600 + int(m) * 60

    @property
    def stem(self) -> str:
        """Short name of the recipe (file stem, or a slug of its name)."""
        if self.path is not None:
            return self.path.name.removesuffix(".toml")
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "recipe"

    @property
    def lock_path(self) -> Path:
        """``<stem>.lock.json`` next to the recipe file (``networks/hauts-de-france.lock.json``)."""
        if self.path is None:
            raise ValidationError("this recipe was not read from a file, so it has no lock file; use Recipe.from_file")
        return self.path.with_name(self.stem + ".lock.json")

    def default_cache_dir(self) -> Path:
        """``$ACCESS_CACHE/<stem>`` (default ``~/.cache/access/<stem>``)."""
        root = os.environ.get("ACCESS_CACHE") or Path.home() / ".cache" / "access"
        return Path(root) / self.stem

    def enabled_sources(self, kind: str | None = None) -> list[Source]:
        """Enabled sources, optionally of one ``kind``, in recipe order."""
        if kind is not None and kind not in SOURCE_KINDS:
            raise ValidationError(f"unknown source kind {kind!r}; choose among {list(SOURCE_KINDS)}")
        return [s for s in self.sources.values() if s.enabled and (kind is None or s.kind == kind)]

    def source_file(self, source: str | Source, cache_dir=None) -> Path:
        """Where the file of a source lives: its ``path`` if local, else ``cache_dir / cache_name``."""
        s = self.sources[source] if isinstance(source, str) else source
        if s.path is not None:
            return s.path
        return Path(cache_dir if cache_dir is not None else self.default_cache_dir()) / s.cache_name

    def typology_path(self) -> Path | None:
        """Resolved path of the typology config (``embedded:NAME`` -> ``data/NAME``), or None when not set."""
        if self.typology is None:
            return None
        if self.typology.startswith("embedded:"):
            from .._data import data_path

            return data_path(self.typology.removeprefix("embedded:"))
        p = Path(self.typology)
        if not p.is_absolute():
            p = (self.path.parent if self.path is not None else Path.cwd()) / p
        return p

    def clip_bbox(self) -> tuple[float, float, float, float] | None:
        """``bbox`` grown by ``osm_clip_buffer_km`` (degrees, a little generous), or None without a bbox."""
        if self.bbox is None:
            return None
        import math

        lon0, lat0, lon1, lat1 = self.bbox
        dlat = self.osm_clip_buffer_km / 111.0
        dlon = self.osm_clip_buffer_km / (111.320 * max(math.cos(math.radians(max(abs(lat0), abs(lat1)))), 0.01))
        return (max(lon0 - dlon, -180.0), max(lat0 - dlat, -90.0), min(lon1 + dlon, 180.0), min(lat1 + dlat, 90.0))
