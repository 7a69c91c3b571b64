"""The schema of a region recipe (``networks/*.toml``), declared once with pydantic.

Every table forbids unknown keys (refused with the nearest valid name), every value is type- and range-checked
(strict types: ``"10"`` is not a number), and the cross-field rules (increasing thresholds, ``url`` xor ``path``,
...) live in validators next to their fields. :func:`parse_recipe` turns pydantic's errors into one
:class:`~access._errors.ValidationError` in the project's style: "`key` must be ..., got ...; fix".
"""

from __future__ import annotations

import datetime as _dt
import difflib
import itertools
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as _PydanticError

from .._errors import ValidationError

MODES = ("walk", "bike", "car", "transit")
VENUE_CATEGORIES = ("cinema", "library", "museum", "performing_arts", "conservatoire", "arts_centre", "heritage")
SOURCE_KINDS = ("osm", "gtfs", "filosofi", "basilic", "bpe", "epci", "communes", "census", "iris")
SOURCE_FORMATS = ("osm.pbf", "gtfs.zip", "gpkg", "csv", "geojson", "geojson.gz", "parquet", "zip", "json", "7z",
                  "xlsx")
#: the formats a kind accepts, where the kind is strict about it (the census base and the IRIS contours)
KIND_FORMATS = {
    "census": ("zip", "csv", "xlsx"),  # INSEE's base-ic-logement-YYYY_csv.zip (or its CSV / XLSX)
    "iris": ("7z", "gpkg", "zip", "geojson", "geojson.gz"),  # IGN CONTOURS-IRIS .7z, or a GeoPackage / GeoJSON
}
#: formats that are archives of several files: the member to read must be named by `extract`
_NEEDS_EXTRACT = {"7z"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DEP_RE = re.compile(r"^(\d{2}|2[AB]|97\d)$")
_EPCI_RE = re.compile(r"^\d{9}$")
_Number = StrictInt | float

#: what each value must be, and an example that fixes it, for type errors pydantic reports itself
#: (keys: ``table.key``; ``*`` stands for a source name or a list index)
HINTS: dict[str, tuple[str, str]] = {
    "region.name": ("a non-empty string", 'e.g. name = "Hauts-de-France"'),
    "region.bbox": ("4 numbers [lon_min, lat_min, lon_max, lat_max]", "e.g. bbox = [1.37, 48.83, 4.26, 51.09]"),
    "region.osm_clip_buffer_km": ("a number of km in [0, 200]", "e.g. osm_clip_buffer_km = 10"),
    "region.venue_buffer_km": ("a number of km in [0, 200]", "e.g. venue_buffer_km = 15"),
    "region.departments": ("a list of department codes (strings)", 'e.g. departments = ["02", "59", "60"]'),
    "region.epci": ("a list of 9-digit EPCI SIREN codes (strings)", 'e.g. epci = ["200090751"]'),
    "analysis.date": ("a date", "write it as date = 2026-03-10 (a weekday within the GTFS feeds' calendars)"),
    "analysis.departure": ("a time HH:MM", 'e.g. departure = "08:00"'),
    "analysis.window_min": ("an integer number of minutes in [1, 1440]", "e.g. window_min = 60"),
    "analysis.modes": ("a non-empty list of strings", f"choose among {list(MODES)}"),
    "analysis.thresholds_min": ("a non-empty list of positive integers", "e.g. thresholds_min = [10, 20, 30, 45]"),
    "analysis.percentiles": ("a list of integers in [1, 99]", "e.g. percentiles = [50]"),
    "analysis.max_time_min": ("an integer >= the largest threshold", "e.g. max_time_min = 60"),
    "analysis.access_mode": ("one of 'walk', 'bike', 'car'", 'how transit trips reach the first stop, e.g. '
                             'access_mode = "bike"'),
    "analysis.max_bike_min": ("a number of minutes in [0, 1440]", "e.g. max_bike_min = 20"),
    "analysis.max_car_min": ("a number of minutes in [0, 1440]", "e.g. max_car_min = 15"),
    "network.elevation": ("a path to a GeoTIFF DEM (.tif)", 'e.g. elevation = "dem/hdf_srtm.tif" (relative to the '
                          "recipe)"),
    "venues.categories": ("a non-empty list of category names", f"choose among {list(VENUE_CATEGORIES)}"),
    "venues.taxonomy": ("a file name", 'e.g. taxonomy = "venue_taxonomy.csv"'),
    "areas.typology": ("a path string", 'e.g. typology = "embedded:typology.toml" or a path relative to the recipe'),
    "areas.priority_zones": ("an array of tables", "write each zone as [[areas.priority_zones]]"),
    "areas.priority_zones.*.name": ("a non-empty string", 'e.g. name = "Calaisis"'),
    "areas.priority_zones.*.epci": ("a non-empty list of EPCI codes", 'e.g. epci = ["200090751"]'),
    "sources.*": ("a table", "write it as [sources.<name>]"),
    "sources.*.kind": (f"one of {list(SOURCE_KINDS)}", 'e.g. kind = "gtfs"'),
    "sources.*.format": (f"one of {list(SOURCE_FORMATS)}", 'e.g. format = "gtfs.zip"'),
    "sources.*.licence": ("a non-empty string", 'name the licence, e.g. licence = "ODbL-1.0"'),
    "sources.*.url": ("an http(s) URL", "give the file's download link"),
    "sources.*.path": ("a path string", "give a path relative to the recipe"),
    "sources.*.sha256": ("64 hex digits", "copy it from the lock file, or remove it"),
    "sources.*.size_bytes": ("a non-negative integer", "or remove it"),
    "sources.*.expected_size_mb": ("a non-negative number of MB", "or remove it"),
    "sources.*.expected_unpacked_mb": ("a non-negative number of MB", "or remove it"),
    "sources.*.filename": ("a plain file name", "no folders"),
    "sources.*.extract": ("a member name", "name the file inside the archive"),
    "sources.*.enabled": ("true or false", "e.g. enabled = false"),
    "sources.*.dataset": ("a transport.data.gouv.fr dataset id or slug", 'e.g. dataset = "5e1f1e1b0d..."'),
    "sources.*.aom": ("the SIREN code or a name fragment of a transport authority", 'e.g. aom = "248000531"'),
    "fetch.transport_api": ("an http(s) URL", 'e.g. transport_api = "https://transport.data.gouv.fr/api"'),
}


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionSchema(_Table):
    """``[region]``."""

    name: StrictStr = Field(min_length=1)
    departments: list[StrictStr] = Field(default_factory=list)
    epci: list[StrictStr] = Field(default_factory=list)
    bbox: list[_Number] | None = None
    osm_clip_buffer_km: _Number = Field(default=10.0, ge=0, le=200)
    venue_buffer_km: _Number = Field(default=15.0, ge=0, le=200)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not v.strip():
            raise ValueError(f"must be a non-empty string, got {v!r}; e.g. name = \"Hauts-de-France\"")
        return v

    @field_validator("departments")
    @classmethod
    def _deps(cls, v):
        bad = [d for d in v if not _DEP_RE.match(d)]
        if bad:
            raise ValueError(f"has codes that are not INSEE department codes: {bad}; write them as strings, e.g. "
                             '"02", "2A"')
        if len(set(v)) != len(v):
            raise ValueError("lists a department twice; list each once")
        return v

    @field_validator("epci")
    @classmethod
    def _epci(cls, v):
        bad = [c for c in v if not _EPCI_RE.match(c)]
        if bad:
            raise ValueError(f"has codes that are not 9-digit EPCI SIREN codes: {bad}; write them as strings, e.g. "
                             '"200090751"')
        if len(set(v)) != len(v):
            raise ValueError("lists a code twice; list each EPCI once")
        return v

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v):
        if v is None:
            return v
        if len(v) != 4:
            raise ValueError(f"must be 4 numbers [lon_min, lat_min, lon_max, lat_max], got {v!r}; e.g. "
                             "bbox = [1.37, 48.83, 4.26, 51.09]")
        lon0, lat0, lon1, lat1 = (float(x) for x in v)
        if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
            raise ValueError(f"is not a lon/lat box with min < max: {v!r}; give [lon_min, lat_min, lon_max, "
                             "lat_max] in degrees (EPSG:4326)")
        return [lon0, lat0, lon1, lat1]


class AnalysisSchema(_Table):
    """``[analysis]``."""

    date: _dt.date | StrictStr
    departure: _dt.time | StrictStr
    window_min: StrictInt = Field(default=60, ge=1, le=24 * 60)
    modes: list[StrictStr] = Field(min_length=1)
    thresholds_min: list[StrictInt] = Field(min_length=1)
    percentiles: list[StrictInt] = Field(default_factory=lambda: [50], min_length=1)
    max_time_min: StrictInt | None = None
    #: how transit trips reach their first stop (TransitOptions.access_mode), and the bounds of that leg
    access_mode: StrictStr = "walk"
    max_bike_min: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=24 * 60)
    max_car_min: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=24 * 60)

    @field_validator("access_mode")
    @classmethod
    def _access_mode(cls, v):
        if v not in ("walk", "bike", "car"):
            raise ValueError(f"must be one of 'walk', 'bike', 'car', got {v!r}; e.g. access_mode = \"bike\"")
        return v

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, v):
        if isinstance(v, _dt.datetime):
            raise ValueError(f"must be a date, got {v!r}; write it as date = 2026-03-10")
        if isinstance(v, str):
            try:
                return _dt.date.fromisoformat(v)
            except ValueError:
                raise ValueError(f"is not a date: {v!r}; write it as date = 2026-03-10") from None
        return v

    @field_validator("departure", mode="before")
    @classmethod
    def _departure(cls, v):
        if isinstance(v, _dt.time):
            v = v.strftime("%H:%M")
        if not isinstance(v, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError(f'must be a time HH:MM, got {v!r}; e.g. departure = "08:00"')
        return v

    @field_validator("modes")
    @classmethod
    def _modes(cls, v):
        bad = [m for m in v if m not in MODES]
        if bad:
            raise ValueError(f"has unknown mode(s) {bad}; choose among {list(MODES)}")
        if len(set(v)) != len(v):
            raise ValueError(f"lists a mode twice: {v}; list each mode once")
        return v

    @field_validator("thresholds_min")
    @classmethod
    def _thr(cls, v):
        if not all(t > 0 for t in v):
            raise ValueError(f"must be a non-empty list of positive integers, got {v!r}; e.g. "
                             "thresholds_min = [10, 20, 30, 45]")
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError(f"must be strictly increasing, got {v}; sort them, no repeats")
        return v

    @field_validator("percentiles")
    @classmethod
    def _pct(cls, v):
        if not all(1 <= p <= 99 for p in v):
            raise ValueError(f"must be a list of integers in [1, 99], got {v!r}; e.g. percentiles = [50]")
        return v

    @model_validator(mode="after")
    def _max_time(self):
        if self.max_time_min is not None and self.max_time_min < max(self.thresholds_min):
            raise ValueError(f"max_time_min: must be an integer >= the largest threshold ({max(self.thresholds_min)}),"
                             f" got {self.max_time_min!r}; e.g. max_time_min = {max(self.thresholds_min)}")
        return self


class VenuesSchema(_Table):
    """``[venues]``."""

    categories: list[StrictStr] = Field(min_length=1)
    taxonomy: StrictStr = Field(default="venue_taxonomy.csv", min_length=1)

    @field_validator("categories")
    @classmethod
    def _cats(cls, v):
        bad = [c for c in v if c not in VENUE_CATEGORIES]
        if bad:
            raise ValueError(f"has unknown categor(ies) {bad}; choose among {list(VENUE_CATEGORIES)}")
        return v


class ZoneSchema(_Table):
    """One ``[[areas.priority_zones]]``."""

    name: StrictStr = Field(min_length=1)
    epci: list[StrictStr | StrictInt] = Field(min_length=1)
    note: StrictStr = ""

    @field_validator("epci")
    @classmethod
    def _codes(cls, v):
        v = [str(c) for c in v]
        bad = [c for c in v if not _EPCI_RE.match(c)]
        if bad:
            raise ValueError(f"has codes that are not 9-digit EPCI SIREN codes: {bad}; write them as strings, e.g. "
                             '"200090751"')
        if len(set(v)) != len(v):
            raise ValueError("lists a code twice; list each EPCI once")
        return v


class AreasSchema(_Table):
    """``[areas]``."""

    typology: StrictStr | None = Field(default=None, min_length=1)
    priority_zones: list[ZoneSchema] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self):
        names = [z.name for z in self.priority_zones]
        if len(set(names)) != len(names):
            raise ValueError("priority_zones: has two zones with the same name; give each zone its own name")
        return self


class SourceSchema(_Table):
    """One ``[sources.<name>]``."""

    kind: Literal[SOURCE_KINDS]  # type: ignore[valid-type]
    format: Literal[SOURCE_FORMATS]  # type: ignore[valid-type]
    licence: StrictStr
    url: StrictStr | None = None
    path: StrictStr | None = Field(default=None, min_length=1)
    dataset: StrictStr | None = Field(default=None, min_length=1)
    aom: StrictStr | None = Field(default=None, min_length=2)
    resource: StrictStr | None = None
    sha256: StrictStr | None = None
    size_bytes: StrictInt | None = Field(default=None, ge=0)
    expected_size_mb: _Number | None = Field(default=None, ge=0)
    expected_unpacked_mb: _Number | None = Field(default=None, ge=0)
    filename: StrictStr | None = None
    extract: StrictStr | None = None
    description: StrictStr = ""
    enabled: StrictBool = True

    @field_validator("licence")
    @classmethod
    def _lic(cls, v):
        if not v.strip():
            raise ValueError('is missing; name the licence, e.g. licence = "ODbL-1.0"')
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v):
        if v is not None and not re.match(r"^https?://\S+$", v):
            raise ValueError(f"must be an http(s) URL, got {v!r}; give the file's download link")
        return v

    @field_validator("sha256")
    @classmethod
    def _sha(cls, v):
        if v is not None and not re.fullmatch(r"[0-9a-f]{64}", v.lower()):
            raise ValueError(f"must be 64 hex digits, got {v!r}; copy it from the lock file, or remove it")
        return v

    @field_validator("filename")
    @classmethod
    def _fname(cls, v):
        if v is not None and (not v or "/" in v or "\\" in v):
            raise ValueError(f"must be a plain file name, got {v!r}; no folders")
        return v

    @model_validator(mode="after")
    def _where(self):
        given = [k for k in ("url", "path", "dataset", "aom") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("@must have exactly one of `url` and `path` (or `dataset`/`aom`, a transport.data.gouv.fr "
                             f"dataset resolved at fetch time), got {given or 'none'}; give the download URL, or the "
                             "path of a local file")
        if (self.dataset is not None or self.aom is not None) and self.kind != "gtfs":
            raise ValueError(f"@`dataset`/`aom` are for GTFS feeds of transport.data.gouv.fr, not kind {self.kind!r}; "
                             "give `url` instead")
        if self.resource is not None and self.dataset is None and self.aom is None:
            raise ValueError("@`resource` only applies with `dataset` or `aom`; remove it or add one")
        allowed = KIND_FORMATS.get(self.kind)
        if allowed is not None and self.format not in allowed:
            eg = ('e.g. format = "zip" for INSEE\'s base-ic-logement-2021_csv.zip' if self.kind == "census"
                  else 'e.g. format = "7z" for IGN\'s CONTOURS-IRIS archive')
            raise ValueError(f"format: must be one of {list(allowed)} for kind {self.kind!r}, got {self.format!r}; "
                             + eg)
        if self.format == "7z" and self.kind not in ("iris", "filosofi"):
            raise ValueError(f"format: '7z' archives are read for kinds 'iris' and 'filosofi' only, got kind "
                             f"{self.kind!r}; extract the file and give its own format")
        if self.format in _NEEDS_EXTRACT and self.extract is None:
            raise ValueError(f"extract: is missing; a {self.format} archive holds several files: name the member to "
                             "read, e.g. extract = \"*/CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-*/CONTOURS-IRIS.shp\"")
        if self.extract is not None:
            last = self.extract.rsplit("/", 1)[-1]
            if not last or any(ch in last for ch in "*?[]\\"):
                raise ValueError(f"extract: must end with the member's file name (wildcards only in the folders), got "
                                 f"{self.extract!r}; e.g. extract = \"*/LAMB93_FXX*/CONTOURS-IRIS.shp\"")
            if self.path is not None:
                raise ValueError("extract: applies to downloaded archives (`url`); for a local `path`, extract the "
                                 "file and give its path")
        return self


class FetchSchema(_Table):
    """``[fetch]`` (optional)."""

    transport_api: StrictStr = "https://transport.data.gouv.fr/api"

    @field_validator("transport_api")
    @classmethod
    def _api(cls, v):
        if not re.match(r"^https?://\S+$", v):
            raise ValueError(f"must be an http(s) URL, got {v!r}; e.g. transport_api = "
                             '"https://transport.data.gouv.fr/api"')
        return v.rstrip("/")


class BarriersSchema(_Table):
    """``[barriers]``: the social-barriers settings (``docs/barriers.md``)."""

    config: StrictStr | None = None


class NetworkSchema(_Table):
    """``[network]``: how the transport network is built."""

    #: a GeoTIFF DEM (EPSG:4326): slope-aware walk and bike times, as R5 (access.network.elevation)
    elevation: StrictStr | None = Field(default=None, min_length=1)

    @field_validator("elevation")
    @classmethod
    def _tif(cls, v):
        if v is not None and not v.lower().endswith((".tif", ".tiff")):
            raise ValueError(f"must be the path of a GeoTIFF DEM (.tif or .tiff), got {v!r}; e.g. elevation = "
                             '"dem/hdf_srtm.tif"')
        return v


class RecipeSchema(_Table):
    """A whole recipe."""

    region: RegionSchema
    analysis: AnalysisSchema
    venues: VenuesSchema
    areas: AreasSchema = Field(default_factory=AreasSchema)
    sources: dict[StrictStr, SourceSchema]
    fetch: FetchSchema = Field(default_factory=FetchSchema)
    barriers: BarriersSchema = Field(default_factory=BarriersSchema)
    network: NetworkSchema = Field(default_factory=NetworkSchema)

    @field_validator("sources")
    @classmethod
    def _names(cls, v):
        if not v:
            raise ValueError("has no source; add one [sources.<name>] table per input file")
        for n in v:
            if not _NAME_RE.match(n):
                raise ValueError(f"has a bad name {n!r}; use letters, digits, '_', '-' or '.'")
        return v


def _valid_keys(loc: tuple) -> list[str]:
    tables = {(): RecipeSchema, ("region",): RegionSchema, ("analysis",): AnalysisSchema,
              ("venues",): VenuesSchema, ("areas",): AreasSchema, ("fetch",): FetchSchema,
              ("network",): NetworkSchema}
    if loc in tables:
        return list(tables[loc].model_fields)  # type: ignore[attr-defined]  # pydantic's metaclass stub lacks it
    if len(loc) == 2 and loc[0] == "sources":
        return list(SourceSchema.model_fields)
    if len(loc) == 3 and loc[:2] == ("areas", "priority_zones"):
        return list(ZoneSchema.model_fields)
    return []


def _key(loc: tuple) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out


def _hint(loc: tuple) -> tuple[str, str] | None:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts and parts[0] == "sources" and len(parts) >= 2:
        parts[1] = "*"
    if len(loc) >= 3 and loc[:2] == ("areas", "priority_zones"):
        parts = ["areas", "priority_zones", "*", *[str(p) for p in loc[3:] if not isinstance(p, int)]]
    for n in range(len(parts), 0, -1):
        h = HINTS.get(".".join(parts[:n]))
        if h is not None:
            return h
    return None


def _clean_loc(loc: tuple, keep_last: bool = False) -> tuple:
    """Drop the member tags pydantic appends for unions (``int``, ``float``, ``function-after[...]``)."""
    kept: list = []
    for i, p in enumerate(loc):
        if (i == 0 or isinstance(p, int) or tuple(kept) == ("sources",) or p in _valid_keys(tuple(kept))
                or (keep_last and i == len(loc) - 1)):
            kept.append(p)
    return tuple(kept)


def _message(err: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    loc = _clean_loc(tuple(err["loc"]), keep_last=err["type"] == "extra_forbidden")
    typ = err["type"]
    if typ == "extra_forbidden":
        valid = _valid_keys(loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        sugg = f"did you mean `{near[0]}`? " if near else ""
        return f"`{_key(loc)}` is not a known key; {sugg}valid keys here: {valid}"
    if typ == "missing":
        if len(loc) == 1:
            return f"`[{loc[0]}]` is missing; add a [{loc[0]}] table (see networks/README.md)"
        h = _hint(loc)
        return f"`{_key(loc)}` is missing; " + (h[1] if h else "add it (see networks/README.md)")
    if typ == "value_error":
        msg = str(err["msg"]).removeprefix("Value error, ")
        if msg.startswith("@"):  # a table-level rule: name the table
            return f"`{_key(loc)}` {msg[1:]}"
        m = re.match(r"^(\w+): (.*)$", msg, re.DOTALL)
        if m and m.group(1) in _valid_keys(loc):  # a model-level rule naming one field
            return f"`{_key((*loc, m.group(1)))}` {m.group(2)}"
        return f"`{_key(loc)}` {msg}"
    h = _hint(loc)
    got = err.get("input")
    if h is not None:
        return f"`{_key(loc)}` must be {h[0]}, got {got!r}; {h[1]}"
    return f"`{_key(loc)}` {err['msg'].lower()}, got {got!r}; fix it (see networks/README.md)"


def parse_recipe(data: Mapping[str, Any], where: str = "recipe") -> RecipeSchema:
    """Validate a parsed recipe; raise one :class:`~access._errors.ValidationError` listing its first problem
    (and how many more there are)."""
    try:
        return RecipeSchema.model_validate(dict(data))
    except _PydanticError as e:
        errs = e.errors(include_url=False)
        # a union (date | str) reports one error per member: keep the first error of each location
        seen, uniq = set(), []
        for x in errs:
            k = _clean_loc(tuple(x["loc"]), keep_last=x["type"] == "extra_forbidden")
            if k in seen:
                continue
            seen.add(k)
            uniq.append(x)
        first = _message(uniq[0], data)
        more = f" (and {len(uniq) - 1} more problem(s))" if len(uniq) > 1 else ""
        raise ValidationError(f"{where}: {first}{more}") from None
