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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .._errors import InputFileError, ValidationError

#: what a source is; each kind has one loader (``access.io.sources`` / ``access.io.osm_venues``; ``census``: INSEE's
#: census housing base by IRIS and ``iris``: the IRIS contours, both read by ``access.region.census``)
SOURCE_KINDS = ("osm", "gtfs", "filosofi", "basilic", "bpe", "epci", "census", "iris")
#: accepted values of ``format``
SOURCE_FORMATS = ("osm.pbf", "gtfs.zip", "gpkg", "csv", "geojson", "geojson.gz", "parquet", "zip")
#: venue categories of ``data/venue_taxonomy.csv``
VENUE_CATEGORIES = ("cinema", "library", "museum", "performing_arts", "conservatoire", "arts_centre", "heritage")
MODES = ("walk", "bike", "car", "transit")

_EXT = {"osm.pbf": ".osm.pbf", "gtfs.zip": ".gtfs.zip", "gpkg": ".gpkg", "csv": ".csv", "geojson": ".geojson",
        "geojson.gz": ".geojson.gz", "parquet": ".parquet", "zip": ".zip"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_EPCI_RE = re.compile(r"^\d{9}$")


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

    @property
    def is_remote(self) -> bool:
        """True when the file is downloaded from ``url`` (False for a local ``path``)."""
        return self.url is not None

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

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path) -> "Recipe":
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
    def from_dict(cls, data: Mapping[str, Any], *, path=None) -> "Recipe":
        """Validate a recipe given as a dict (the parsed TOML). Relative paths resolve against ``path``'s folder."""
        path = Path(path) if path is not None else None
        where = str(path) if path is not None else "recipe"
        base = path.parent if path is not None else Path.cwd()

        def err(key: str, msg: str, fix: str) -> ValidationError:
            return ValidationError(f"{where}: `{key}` {msg}; {fix}")

        def table(name: str, required: bool = True) -> Mapping[str, Any]:
            t = data.get(name)
            if t is None:
                if required:
                    raise err(f"[{name}]", "is missing", f"add a [{name}] table (see networks/README.md)")
                return {}
            if not isinstance(t, Mapping):
                raise err(f"[{name}]", f"must be a table, got {type(t).__name__}", f"write it as [{name}]")
            return t

        known_top = {"region", "analysis", "venues", "areas", "sources"}
        unknown = sorted(set(data) - known_top)
        if unknown:
            raise err(unknown[0], "is not a recipe table", f"use only {sorted(known_top)} (typo?)")

        region = table("region")
        name = region.get("name")
        if not isinstance(name, str) or not name.strip():
            raise err("region.name", f"must be a non-empty string, got {name!r}", 'e.g. name = "Hauts-de-France"')
        bbox = region.get("bbox")
        if bbox is not None:
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
                raise err("region.bbox", f"must be 4 numbers [lon_min, lat_min, lon_max, lat_max], got {bbox!r}",
                          "e.g. bbox = [1.37, 48.83, 4.26, 51.09]")
            lon0, lat0, lon1, lat1 = (float(v) for v in bbox)
            if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
                raise err("region.bbox", f"is not a lon/lat box with min < max: {bbox!r}",
                          "give [lon_min, lat_min, lon_max, lat_max] in degrees (EPSG:4326)")
            bbox = (lon0, lat0, lon1, lat1)
        buffer_km = region.get("osm_clip_buffer_km", 10.0)
        if isinstance(buffer_km, bool) or not isinstance(buffer_km, (int, float)) or not 0 <= buffer_km <= 200:
            raise err("region.osm_clip_buffer_km", f"must be a number of km in [0, 200], got {buffer_km!r}",
                      "e.g. osm_clip_buffer_km = 10")

        an = table("analysis")
        date = an.get("date")
        if isinstance(date, str):
            try:
                date = _dt.date.fromisoformat(date)
            except ValueError:
                raise err("analysis.date", f"is not a date: {date!r}", 'write it as date = 2026-03-10') from None
        if isinstance(date, _dt.datetime) or not isinstance(date, _dt.date):
            raise err("analysis.date", f"must be a date, got {date!r}", "write it as date = 2026-03-10 (a weekday "
                      "within the GTFS feeds' calendars)")
        departure = an.get("departure")
        if isinstance(departure, _dt.time):
            departure = departure.strftime("%H:%M")
        if not isinstance(departure, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", departure):
            raise err("analysis.departure", f"must be a time HH:MM, got {departure!r}", 'e.g. departure = "08:00"')
        window = an.get("window_min", 60)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 24 * 60:
            raise err("analysis.window_min", f"must be an integer number of minutes in [1, 1440], got {window!r}",
                      "e.g. window_min = 60")
        modes = an.get("modes")
        if not isinstance(modes, list) or not modes or not all(isinstance(m, str) for m in modes):
            raise err("analysis.modes", f"must be a non-empty list of strings, got {modes!r}",
                      f"choose among {list(MODES)}")
        bad = [m for m in modes if m not in MODES]
        if bad:
            raise err("analysis.modes", f"has unknown mode(s) {bad}", f"choose among {list(MODES)}")
        if len(set(modes)) != len(modes):
            raise err("analysis.modes", f"lists a mode twice: {modes}", "list each mode once")
        thr = an.get("thresholds_min")
        if (not isinstance(thr, list) or not thr
                or not all(isinstance(t, int) and not isinstance(t, bool) and t > 0 for t in thr)):
            raise err("analysis.thresholds_min", f"must be a non-empty list of positive integers, got {thr!r}",
                      "e.g. thresholds_min = [10, 20, 30, 45]")
        if any(b <= a for a, b in zip(thr, thr[1:])):
            raise err("analysis.thresholds_min", f"must be strictly increasing, got {thr}", "sort them, no repeats")
        pct = an.get("percentiles", [50])
        if (not isinstance(pct, list) or not pct
                or not all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 99 for p in pct)):
            raise err("analysis.percentiles", f"must be a list of integers in [1, 99], got {pct!r}",
                      "e.g. percentiles = [50]")
        max_time = an.get("max_time_min", max(thr))
        if isinstance(max_time, bool) or not isinstance(max_time, int) or max_time < max(thr):
            raise err("analysis.max_time_min", f"must be an integer >= the largest threshold ({max(thr)}), got "
                      f"{max_time!r}", f"e.g. max_time_min = {max(thr)}")
        unknown = sorted(set(an) - {"date", "departure", "window_min", "modes", "thresholds_min", "percentiles",
                                    "max_time_min"})
        if unknown:
            raise err(f"analysis.{unknown[0]}", "is not a known key", "remove it or fix its spelling")

        ven = table("venues")
        cats = ven.get("categories")
        if not isinstance(cats, list) or not cats or not all(isinstance(c, str) for c in cats):
            raise err("venues.categories", f"must be a non-empty list of category names, got {cats!r}",
                      f"choose among {list(VENUE_CATEGORIES)}")
        bad = [c for c in cats if c not in VENUE_CATEGORIES]
        if bad:
            raise err("venues.categories", f"has unknown categor(ies) {bad}", f"choose among {list(VENUE_CATEGORIES)}")
        taxonomy = ven.get("taxonomy", "venue_taxonomy.csv")
        if not isinstance(taxonomy, str) or not taxonomy:
            raise err("venues.taxonomy", f"must be a file name, got {taxonomy!r}",
                      'e.g. taxonomy = "venue_taxonomy.csv"')

        areas = table("areas", required=False)
        typology = areas.get("typology")
        if typology is not None and (not isinstance(typology, str) or not typology):
            raise err("areas.typology", f"must be a path string, got {typology!r}",
                      'e.g. typology = "embedded:typology.toml" or a path relative to the recipe')
        zones_raw = areas.get("priority_zones", [])
        if not isinstance(zones_raw, list):
            raise err("areas.priority_zones", "must be an array of tables",
                      "write each zone as [[areas.priority_zones]]")
        zones = []
        for i, z in enumerate(zones_raw):
            key = f"areas.priority_zones[{i}]"
            if not isinstance(z, Mapping):
                raise err(key, "must be a table", "write it as [[areas.priority_zones]] with name and epci")
            zname = z.get("name")
            if not isinstance(zname, str) or not zname:
                raise err(f"{key}.name", f"must be a non-empty string, got {zname!r}", 'e.g. name = "Calaisis"')
            codes = z.get("epci")
            if not isinstance(codes, list) or not codes:
                raise err(f"{key}.epci", f"must be a non-empty list of EPCI codes, got {codes!r}",
                          'e.g. epci = ["200090751"]')
            codes = [str(c) for c in codes]
            bad = [c for c in codes if not _EPCI_RE.match(c)]
            if bad:
                raise err(f"{key}.epci", f"has codes that are not 9-digit EPCI SIREN codes: {bad}",
                          'write them as strings, e.g. "200090751"')
            if len(set(codes)) != len(codes):
                raise err(f"{key}.epci", "lists a code twice", "list each EPCI once")
            zones.append(PriorityZone(name=zname, epci=tuple(codes), note=str(z.get("note", ""))))
        if len({z.name for z in zones}) != len(zones):
            raise err("areas.priority_zones", "has two zones with the same name", "give each zone its own name")

        src_t = table("sources")
        if not src_t:
            raise err("[sources]", "has no source", "add one [sources.<name>] table per input file")
        sources: dict[str, Source] = {}
        for sname, s in src_t.items():
            key = f"sources.{sname}"
            if not _NAME_RE.match(sname):
                raise err(key, "has a bad name", "use letters, digits, '_', '-' or '.'")
            if not isinstance(s, Mapping):
                raise err(key, "must be a table", f"write it as [sources.{sname}]")
            allowed = {"kind", "format", "licence", "url", "path", "sha256", "size_bytes", "filename", "extract",
                       "description", "enabled"}
            unknown = sorted(set(s) - allowed)
            if unknown:
                raise err(f"{key}.{unknown[0]}", "is not a known key", f"use only {sorted(allowed)}")
            kind = s.get("kind")
            if kind not in SOURCE_KINDS:
                raise err(f"{key}.kind", f"must be one of {list(SOURCE_KINDS)}, got {kind!r}", 'e.g. kind = "gtfs"')
            fmt = s.get("format")
            if fmt not in SOURCE_FORMATS:
                raise err(f"{key}.format", f"must be one of {list(SOURCE_FORMATS)}, got {fmt!r}",
                          'e.g. format = "gtfs.zip"')
            lic = s.get("licence")
            if not isinstance(lic, str) or not lic.strip():
                raise err(f"{key}.licence", "is missing", 'name the licence, e.g. licence = "ODbL-1.0"')
            url, lpath = s.get("url"), s.get("path")
            if (url is None) == (lpath is None):
                raise err(key, "must have exactly one of `url` and `path`",
                          "give the download URL, or the path of a local file")
            if url is not None and (not isinstance(url, str) or not re.match(r"^https?://\S+$", url)):
                raise err(f"{key}.url", f"must be an http(s) URL, got {url!r}", "give the file's download link")
            if lpath is not None:
                if not isinstance(lpath, str) or not lpath:
                    raise err(f"{key}.path", f"must be a path string, got {lpath!r}",
                              "give a path relative to the recipe")
                lpath = (base / lpath).resolve() if not Path(lpath).is_absolute() else Path(lpath)
            sha = s.get("sha256")
            if sha is not None and (not isinstance(sha, str) or not _SHA_RE.match(sha.lower())):
                raise err(f"{key}.sha256", f"must be 64 hex digits, got {sha!r}",
                          "copy it from the lock file, or remove it")
            size = s.get("size_bytes")
            if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
                raise err(f"{key}.size_bytes", f"must be a non-negative integer, got {size!r}", "or remove it")
            fname = s.get("filename")
            if fname is not None and (not isinstance(fname, str) or "/" in fname or "\\" in fname or not fname):
                raise err(f"{key}.filename", f"must be a plain file name, got {fname!r}", "no folders")
            extract = s.get("extract")
            if extract is not None and not isinstance(extract, str):
                raise err(f"{key}.extract", f"must be a member name, got {extract!r}", "name the file inside the zip")
            enabled = s.get("enabled", True)
            if not isinstance(enabled, bool):
                raise err(f"{key}.enabled", f"must be true or false, got {enabled!r}", "")
            sources[sname] = Source(name=sname, kind=kind, format=fmt, licence=lic.strip(), url=url, path=lpath,
                                    sha256=sha.lower() if sha else None, size_bytes=size, filename=fname,
                                    extract=extract, description=str(s.get("description", "")), enabled=enabled)
        names = [s.cache_name for s in sources.values()]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise err("sources", f"give two sources the same cache file name {dup[0]!r}", "set distinct `filename`s")

        return cls(name=name.strip(), sources=sources, date=date, departure=departure, window_min=window,
                   modes=tuple(modes), thresholds_min=tuple(thr), categories=tuple(cats), percentiles=tuple(pct),
                   max_time_min=max_time, bbox=bbox, osm_clip_buffer_km=float(buffer_km),
                   priority_zones=tuple(zones), typology=typology, taxonomy=taxonomy, path=path, raw=dict(data))

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
