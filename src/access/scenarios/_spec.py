"""Scenario files: a list of named edits (venues, streets, transit), parsed and checked before anything is applied.

A scenario is a TOML file (or the same structure as a dict)::

    name = "new library and a closed bridge"
    include = ["base_case.toml"]          # optional: other scenarios applied first (paths relative to this file)

    [[venues.add]]
    name = "library Restinga"             # every edit has a name; errors quote it
    id = "lib-restinga"
    lon = -51.14
    lat = -30.15
    category = "library"
    capacity = 1

    [[streets.close]]
    name = "bridge closed"
    way_ids = [123456]                    # or polygon = "POLYGON ((...))" / [[lon, lat], ...]

Edits are applied section by section in a fixed order (streets.close, streets.speed, streets.link,
transit.remove_stops, transit.remove_route, transit.headway, transit.add_route, venues.remove, venues.modify,
venues.add), in file order within a section; included scenarios come first.

The file is checked against a strict schema (pydantic models, one per edit kind, declared in :data:`SCHEMA`) before
anything is applied: unknown keys are refused with the nearest valid name, types are strict (``oneway = "false"`` is
an error, not True; ``route_type = "bus"`` too), then the values are checked (times ``HH:MM`` with ``start`` before
24:00 and ``end`` after ``start``, ranges, polygons). Venue categories are checked against the venue table (and the
embedded taxonomy) when the edits are applied. A file that is not UTF-8 is refused with its line.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as _PydanticError

from .._errors import ScenarioError

if TYPE_CHECKING:
    from ._streets import StreetEdits

#: section -> kind -> allowed keys (besides "name"); order = application order
SECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "streets": {
        "close": ("way_ids", "polygon", "highway", "modes"),
        "speed": ("way_ids", "polygon", "highway", "modes", "speed_kmh", "factor"),
        "link": ("from", "to", "speed_kmh", "modes", "oneway", "max_snap_m", "length_m"),
    },
    "transit": {
        "remove_stops": ("stop_ids",),
        "remove_route": ("route_ids",),
        "headway": ("route_id", "route_ids", "headway_min", "start", "end"),
        "add_route": ("route_id", "stops", "stop_ids", "headway_min", "start", "end", "departures", "speed_kmh",
                      "dwell_s", "both_directions", "max_snap_m", "route_type"),
    },
    "venues": {
        "remove": ("ids", "id"),
        "modify": ("id", "ids", "capacity", "category", "capacity_factor"),
        "add": ("id", "lon", "lat", "category", "capacity"),
    },
}
ORDER = [(s, k) for s, kinds in SECTIONS.items() for k in kinds]
STREET_MODES = ("walk", "bike", "car")

# ---------------------------------------------------------------------------------------------- the schema
_Num = StrictInt | StrictFloat
_Id = StrictStr | StrictInt
_Ids = _Id | list[_Id]
_Strs = StrictStr | list[StrictStr]
_Clock = StrictStr | StrictInt | Annotated[Any, "toml local time"]
_Point = list[_Num]
_TYPES: dict[str, Any] = {
    "way_ids": StrictInt | list[StrictInt], "polygon": StrictStr | list | dict, "highway": _Strs,
    "modes": _Strs, "speed_kmh": _Num, "factor": _Num, "from": _Point, "to": _Point, "oneway": StrictBool,
    "max_snap_m": _Num, "length_m": _Num, "stop_ids": _Ids, "route_ids": _Ids, "route_id": _Id, "headway_min": _Num,
    "start": _Clock, "end": _Clock, "stops": list[_Point], "departures": list[_Clock], "dwell_s": _Num,
    "both_directions": StrictBool, "route_type": StrictInt, "ids": _Ids, "id": _Id, "capacity": _Num,
    "category": StrictStr, "capacity_factor": _Num, "lon": _Num, "lat": _Num,
}


def _model(section: str, kind: str, keys: tuple[str, ...]) -> type[BaseModel]:
    from pydantic import create_model

    fields: dict[str, Any] = {("from_" if k == "from" else k): (_TYPES[k] | None, None) for k in keys}
    return create_model(f"{section}_{kind}", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                        **fields)


#: section -> kind -> pydantic model of one edit's keys (``from`` is spelled ``from_`` inside the model)
SCHEMA: dict[str, dict[str, type[BaseModel]]] = {s: {k: _model(s, k, keys) for k, keys in kinds.items()}
                                                 for s, kinds in SECTIONS.items()}


def _nearest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f"did you mean {close[0]!r}?" if close else f"use one of {sorted(map(str, choices))}"


def _schema_check(e: Edit) -> None:
    """Strict keys and types of one edit (pydantic), as a :class:`ScenarioError` naming the key and the fix."""
    allowed = SECTIONS[e.section][e.kind]
    unknown = [k for k in e.params if k not in allowed]
    if unknown:
        raise e.error(f"unknown key {unknown[0]!r}; {_nearest(unknown[0], allowed)} ({e.label} takes "
                      f"{', '.join(allowed)})")
    data = {("from_" if k == "from" else k): v for k, v in e.params.items()}
    try:
        SCHEMA[e.section][e.kind].model_validate(data)
    except _PydanticError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]).replace("from_", "from") if err["loc"] else "?"
        want = {"bool": "true or false (no quotes)", "int": "a whole number (no quotes)",
                "float": "a number (no quotes)", "string": "a string in quotes"}
        kinds = sorted({w for t, w in want.items() for x in exc.errors() if x["loc"] and
                        str(x["loc"][0]).replace("from_", "from") == key and x["type"].startswith(t)})
        if "a number (no quotes)" in kinds:
            kinds = [k for k in kinds if k != "a whole number (no quotes)"]
        hint = " or ".join(kinds) if kinds else err["msg"]
        extra = "; GTFS route types are numbers, e.g. 3 for a bus, 0 for a tram" if key == "route_type" else ""
        raise e.error(f"`{key}` must be {hint}, got {e.params.get(key)!r}{extra}") from None


def known_categories() -> tuple[str, ...]:
    """The venue categories of the embedded taxonomy (``data/venue_taxonomy.csv``)."""
    import csv

    from .._data import data_path

    with open(data_path("venue_taxonomy.csv"), encoding="utf-8") as f:
        return tuple(sorted({r["category"] for r in csv.DictReader(f) if r.get("category")} - {"excluded"}))


@dataclass(frozen=True)
class Edit:
    """One named edit: ``section`` ("streets"|"transit"|"venues"), ``kind`` (e.g. "close"), checked ``params``."""

    section: str
    kind: str
    name: str
    params: dict = field(default_factory=dict)
    scenario: str = ""

    @property
    def label(self) -> str:
        return f"{self.section}.{self.kind}"

    def error(self, reason: str) -> ScenarioError:
        """A :class:`ScenarioError` naming the scenario, this edit and the reason."""
        where = f"scenario {self.scenario!r}, " if self.scenario else ""
        return ScenarioError(f"{where}edit {self.name!r} ({self.label}): {reason}")


# ---------------------------------------------------------------------------------------------- value checks
def _num(e: Edit, key: str, *, positive: bool = True, allow_zero: bool = False) -> float:
    v = e.params[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise e.error(f"`{key}` must be a number, got {v!r}")
    x = float(v)
    if not math.isfinite(x):
        raise e.error(f"`{key}` must be finite, got {v!r}")
    if positive and (x < 0 or (x == 0 and not allow_zero)):
        raise e.error(f"`{key}` must be {'>= 0' if allow_zero else '> 0'}, got {v!r}")
    return x


def _point(e: Edit, key: str) -> tuple[float, float]:
    v = e.params[key]
    if (not isinstance(v, (list, tuple)) or len(v) != 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in v)):
        raise e.error(f"`{key}` must be [lon, lat] in degrees, got {v!r}")
    lon, lat = float(v[0]), float(v[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise e.error(f"`{key}` = {v!r} is not a lon/lat pair in degrees (EPSG:4326)")
    return lon, lat


def _id_list(e: Edit, *keys: str) -> list:
    vals: list = []
    for k in keys:
        if k in e.params:
            v = e.params[k]
            vals.extend(v if isinstance(v, (list, tuple)) else [v])
    if not vals:
        raise e.error(f"give `{keys[0]}` (a list of ids)")
    return vals


def parse_clock(e: Edit, key: str, v) -> int:
    """'HH:MM' or 'HH:MM:SS' (hours may exceed 23) or seconds -> int seconds after midnight."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v)
    if hasattr(v, "hour") and hasattr(v, "minute"):  # TOML local time
        return v.hour * 3600 + v.minute * 60 + getattr(v, "second", 0)
    if isinstance(v, str):
        parts = v.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
            h, m = int(parts[0]), int(parts[1])
            s = int(parts[2]) if len(parts) == 3 else 0
            if m < 60 and s < 60:
                return h * 3600 + m * 60 + s
    raise e.error(f"`{key}` must be a time 'HH:MM' (or seconds after midnight), got {v!r}")


def _check_span(e: Edit, out: dict, p: dict) -> None:
    """A time window of the service day: ``start`` before 24:00, ``end`` after ``start`` (up to 48:00)."""
    if "start_s" in out and not 0 <= out["start_s"] < 24 * 3600:
        raise e.error(f"`start` must be a time of the day before 24:00 (e.g. '06:00'), got {p['start']!r}")
    if "end_s" in out and not 0 < out["end_s"] <= 48 * 3600:
        raise e.error(f"`end` must be a time up to 48:00 (after-midnight service is 24:00-48:00), got {p['end']!r}")
    if "start_s" in out and "end_s" in out and out["end_s"] <= out["start_s"]:
        raise e.error(f"`end` ({p['end']}) must be after `start` ({p['start']}); for service past midnight write "
                      "e.g. end = '25:30'")


def parse_polygon(e: Edit, v):
    """WKT string, GeoJSON geometry dict, or GeoJSON coordinates (a ring, or a list of rings) -> shapely geometry."""
    import shapely
    from shapely.geometry import Polygon, shape

    try:
        if isinstance(v, str):
            g = shapely.from_wkt(v)
        elif isinstance(v, dict):
            g = shape(v)
        elif isinstance(v, (list, tuple)) and v:
            if isinstance(v[0][0], (int, float)):  # one ring of [lon, lat]
                g = Polygon(v)
            else:  # rings: exterior then holes
                g = Polygon(v[0], v[1:])
        else:
            raise ValueError("empty")
    except Exception as exc:  # shapely raises many types for bad input
        raise e.error(f"`polygon` is neither WKT nor GeoJSON coordinates ({exc}); e.g. "
                      "polygon = \"POLYGON ((lon lat, lon lat, lon lat, lon lat))\"") from None
    if g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon") or not g.is_valid or g.area == 0:
        raise e.error(f"`polygon` must be a valid, non-empty polygon in lon/lat degrees, got {g.geom_type} "
                      f"(valid: {g.is_valid})")
    return g


def _modes(e: Edit, default) -> tuple[str, ...]:
    m = e.params.get("modes", default)
    m = [m] if isinstance(m, str) else list(m)
    bad = [x for x in m if x not in STREET_MODES]
    if bad or not m:
        raise e.error(f"`modes` must be some of {STREET_MODES}, got {e.params.get('modes')!r}")
    return tuple(dict.fromkeys(m))


# ---------------------------------------------------------------------------------------------- one check per kind
def _check_street_selection(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """streets.close and streets.speed: a selection of streets, the modes, the new speed."""
    if "way_ids" not in p and "polygon" not in p and "highway" not in p:
        raise e.error("select streets with `way_ids`, `polygon` and/or `highway`")
    if "way_ids" in p:
        ids = _id_list(e, "way_ids")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in ids):
            raise e.error(f"`way_ids` must be integer OSM way ids, got {ids[:5]!r}")
        out["way_ids"] = [int(x) for x in ids]
    if "polygon" in p:
        out["polygon"] = parse_polygon(e, p["polygon"])
    if "highway" in p:
        from ..network.profiles import HIGHWAY_CLASSES

        hw = [p["highway"]] if isinstance(p["highway"], str) else list(p["highway"])
        bad = [h for h in hw if h not in HIGHWAY_CLASSES]
        if bad or not hw:
            raise e.error(f"unknown highway class(es) {bad}; use some of {HIGHWAY_CLASSES}")
        out["highway"] = hw
    out["modes"] = _modes(e, STREET_MODES if e.kind == "close" else ("car",))
    if e.kind == "speed":
        if ("speed_kmh" in p) == ("factor" in p):
            raise e.error("give exactly one of `speed_kmh` (absolute) or `factor` (multiplies the speed)")
        if "speed_kmh" in p:
            out["speed_kmh"] = _num(e, "speed_kmh")
        else:
            out["factor"] = _num(e, "factor")


def _check_street_link(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """streets.link: a new street between two points."""
    for k in ("from", "to"):
        if k not in p:
            raise e.error(f"give `{k}` = [lon, lat]")
        out[k] = _point(e, k)
    out["modes"] = _modes(e, STREET_MODES)
    if "speed_kmh" in p:
        out["speed_kmh"] = _num(e, "speed_kmh")
    if "length_m" in p:
        out["length_m"] = _num(e, "length_m")
    out["oneway"] = p.get("oneway", False)
    out["max_snap_m"] = _num(e, "max_snap_m") if "max_snap_m" in p else 100.0


def _check_venue_add(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """venues.add: a new venue."""
    for k in ("id", "lon", "lat"):
        if k not in p:
            raise e.error(f"give `{k}`")
    out["id"] = p["id"]
    out["lon"], out["lat"] = _point(Edit(e.section, e.kind, e.name, {"lon/lat": [p["lon"], p["lat"]]},
                                         e.scenario), "lon/lat")
    out["category"] = p.get("category")
    out["capacity"] = _num(e, "capacity", allow_zero=True) if "capacity" in p else None


def _check_venue_remove(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """venues.remove: venue ids."""
    out["ids"] = _id_list(e, "ids", "id")


def _check_venue_modify(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """venues.modify: venue ids and their new capacity and/or category."""
    out["ids"] = _id_list(e, "id", "ids")
    if not any(k in p for k in ("capacity", "category", "capacity_factor")):
        raise e.error("give `capacity`, `capacity_factor` and/or `category`")
    if "capacity" in p:
        out["capacity"] = _num(e, "capacity", allow_zero=True)
    if "capacity_factor" in p:
        out["capacity_factor"] = _num(e, "capacity_factor", allow_zero=True)
    if "category" in p:
        out["category"] = p["category"]


def _check_transit_remove_stops(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """transit.remove_stops: stop ids."""
    out["stop_ids"] = [str(x) for x in _id_list(e, "stop_ids")]


def _check_transit_remove_route(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """transit.remove_route: route ids."""
    out["route_ids"] = [str(x) for x in _id_list(e, "route_ids")]


def _check_transit_headway(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """transit.headway: routes, the new headway and its time span."""
    out["route_ids"] = [str(x) for x in _id_list(e, "route_ids", "route_id")]
    if "headway_min" not in p:
        raise e.error("give `headway_min`")
    out["headway_min"] = _num(e, "headway_min")
    for k in ("start", "end"):
        if k in p:
            out[k + "_s"] = parse_clock(e, k, p[k])
    _check_span(e, out, p)


def _check_transit_add_route(e: Edit, p: dict[str, Any], out: dict[str, Any]) -> None:
    """transit.add_route: a new route, its stops and its timetable."""
    if "route_id" not in p:
        raise e.error("give `route_id` (a new, unique route id)")
    out["route_id"] = str(p["route_id"])
    if ("stops" in p) == ("stop_ids" in p):
        raise e.error("give exactly one of `stops` (a list of [lon, lat]) or `stop_ids` (existing stops)")
    if "stops" in p:
        pts = p["stops"]
        if not isinstance(pts, (list, tuple)) or len(pts) < 2:
            raise e.error("`stops` must list at least two [lon, lat] points")
        out["stops"] = [_point(Edit(e.section, e.kind, e.name, {f"stops[{i}]": q}, e.scenario), f"stops[{i}]")
                        for i, q in enumerate(pts)]
    else:
        ids = p["stop_ids"]
        if not isinstance(ids, (list, tuple)) or len(ids) < 2:
            raise e.error("`stop_ids` must list at least two stop ids")
        out["stop_ids"] = [str(x) for x in ids]
    if ("departures" in p) == ("headway_min" in p):
        raise e.error("give exactly one of `departures` (a timetable: list of 'HH:MM') or `headway_min` "
                      "with `start` and `end`")
    if "departures" in p:
        deps = p["departures"]
        if not isinstance(deps, (list, tuple)) or not deps:
            raise e.error("`departures` must be a non-empty list of times 'HH:MM'")
        out["departures_s"] = sorted(parse_clock(e, "departures", d) for d in deps)
    else:
        out["headway_min"] = _num(e, "headway_min")
        for k in ("start", "end"):
            if k not in p:
                raise e.error(f"a headway needs `{k}` ('HH:MM')")
            out[k + "_s"] = parse_clock(e, k, p[k])
        _check_span(e, out, p)
    out["speed_kmh"] = _num(e, "speed_kmh") if "speed_kmh" in p else 20.0
    out["dwell_s"] = int(_num(e, "dwell_s", allow_zero=True)) if "dwell_s" in p else 0
    out["both_directions"] = bool(p.get("both_directions", True))
    out["max_snap_m"] = _num(e, "max_snap_m") if "max_snap_m" in p else 300.0
    out["route_type"] = int(p.get("route_type", 3))
    if not (0 <= out["route_type"] <= 12 or 100 <= out["route_type"] <= 1702):
        raise e.error(f"`route_type` must be a GTFS route type (0..12, or an extended type 100..1702), got "
                      f"{out['route_type']!r}; e.g. 3 for a bus")


#: (section, kind) -> the check of that edit kind's values; every kind of :data:`SECTIONS` has one
_CHECKS: dict[tuple[str, str], Callable[[Edit, dict[str, Any], dict[str, Any]], None]] = {
    ("streets", "close"): _check_street_selection,
    ("streets", "speed"): _check_street_selection,
    ("streets", "link"): _check_street_link,
    ("venues", "add"): _check_venue_add,
    ("venues", "remove"): _check_venue_remove,
    ("venues", "modify"): _check_venue_modify,
    ("transit", "remove_stops"): _check_transit_remove_stops,
    ("transit", "remove_route"): _check_transit_remove_route,
    ("transit", "headway"): _check_transit_headway,
    ("transit", "add_route"): _check_transit_add_route,
}


def check_edit(e: Edit) -> Edit:
    """Validate the values of one edit (what can be checked without a network) and normalise them."""
    p = dict(e.params)
    _schema_check(e)
    out: dict[str, Any] = {}
    _CHECKS[(e.section, e.kind)](e, p, out)
    return Edit(e.section, e.kind, e.name, out, e.scenario)


# ---------------------------------------------------------------------------------------------- the scenario
@dataclass(frozen=True)
class AppliedScenario:
    """A scenario applied to a network: the edited network and, per edited street mode, what the edits changed."""

    network: Any
    #: mode -> :class:`~access.scenarios._streets.StreetEdits` (graph and touched nodes), for the modes edited
    street_edits: dict[str, StreetEdits] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """An ordered list of named, checked edits.

    Build with :meth:`from_file` (TOML) or :meth:`from_dict`; combine with ``a + b`` (or
    :meth:`compose`); apply with :meth:`apply` (networks) and :meth:`apply_venues` (venue tables).

    Examples
    --------
    >>> s = Scenario.from_dict({"name": "x", "venues": {"add": [
    ...     {"name": "new lib", "id": "L1", "lon": -51.2, "lat": -30.03, "category": "library", "capacity": 1}]}})
    >>> [e.name for e in s.edits]
    ['new lib']
    """

    name: str
    edits: tuple[Edit, ...] = ()
    source: str | None = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, d: dict, *, name: str | None = None, base_dir=None, _seen=()) -> Scenario:
        """Build from the dict structure of a scenario file (see the module docstring)."""
        if not isinstance(d, dict):
            raise ScenarioError(f"a scenario must be a table/dict, got {type(d).__name__}")
        sname = str(d.get("name", name or "scenario"))
        top = ("name", "description", "include", *SECTIONS)
        unknown = [k for k in d if k not in top]
        if unknown:
            raise ScenarioError(f"scenario {sname!r}: unknown top-level key {unknown[0]!r}; "
                                f"{_nearest(unknown[0], top)} (a scenario takes {', '.join(top)})")
        for k in ("name", "description"):
            if k in d and not isinstance(d[k], str):
                raise ScenarioError(f"scenario {sname!r}: `{k}` must be a string in quotes, got {d[k]!r}")
        parts: list[Scenario] = []
        inc = d.get("include", [])
        for path in [inc] if isinstance(inc, str) else inc:
            p = Path(path)
            if not p.is_absolute() and base_dir is not None:
                p = Path(base_dir) / p
            parts.append(cls.from_file(p, _seen=_seen))
        edits: list[Edit] = []
        for section, kinds in SECTIONS.items():
            sec = d.get(section, {})
            if not isinstance(sec, dict):
                raise ScenarioError(f"scenario {sname!r}: [{section}] must be a table with {list(kinds)}")
            bad = [k for k in sec if k not in kinds]
            if bad:
                raise ScenarioError(f"scenario {sname!r}: unknown edit kind {section}.{bad[0]}; "
                                    f"{_nearest(bad[0], kinds)} ({section} takes {', '.join(kinds)})")
        for section, kind in ORDER:
            items = d.get(section, {}).get(kind, [])
            if isinstance(items, dict):
                items = [items]
            for i, it in enumerate(items):
                if not isinstance(it, dict):
                    raise ScenarioError(f"scenario {sname!r}: {section}.{kind}[{i}] must be a table")
                params = {k: v for k, v in it.items() if k != "name"}
                ename = str(it.get("name", f"{section}.{kind}[{i}]"))
                edits.append(check_edit(Edit(section, kind, ename, params, sname)))
        return cls.compose(*parts, cls(sname, tuple(edits), None), name=sname)  # checks that names are unique

    @classmethod
    def from_file(cls, path, *, _seen=()) -> Scenario:
        """Read a TOML scenario file (``include`` paths are relative to it)."""
        path = Path(path)
        if not path.exists():
            raise ScenarioError(f"scenario file {str(path)!r} does not exist")
        rp = path.resolve()
        if rp in _seen:
            raise ScenarioError(f"scenario file {str(path)!r} includes itself (through {[str(s) for s in _seen]})")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise ScenarioError(f"scenario file {str(path)!r} is not UTF-8 (byte {raw[exc.start]:#x} on line {line}); "
                                "save it as UTF-8 (TOML files are UTF-8)") from None
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"scenario file {str(path)!r} is not valid TOML: {exc}; fix that line") from None
        s = cls.from_dict(d, name=path.stem, base_dir=path.parent, _seen=(*_seen, rp))
        return cls(s.name, s.edits, str(path))

    @classmethod
    def compose(cls, *scenarios: Scenario, name: str | None = None) -> Scenario:
        """One scenario with the edits of ``scenarios`` in turn; edit names must stay unique."""
        edits = tuple(e for s in scenarios for e in s.edits)
        seen: dict[str, Edit] = {}
        for e in edits:
            if e.name in seen:
                raise ScenarioError(f"edit name {e.name!r} is used twice (scenarios {seen[e.name].scenario!r} and "
                                    f"{e.scenario!r}); give every edit a unique `name`")
            seen[e.name] = e
        return cls(name or " + ".join(s.name for s in scenarios), edits)

    def __add__(self, other: Scenario) -> Scenario:
        return Scenario.compose(self, other)

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for e in self.edits:
            kinds[e.label] = kinds.get(e.label, 0) + 1
        return f"Scenario({self.name!r}, {len(self.edits)} edits: {kinds})"

    # ---------------------------------------------------------------- parts
    def of(self, section: str) -> list[Edit]:
        return [e for e in self.edits if e.section == section]

    @property
    def venue_edits(self) -> list[Edit]:
        return self.of("venues")

    @property
    def changes_network(self) -> bool:
        return any(e.section in ("streets", "transit") for e in self.edits)

    # ---------------------------------------------------------------- applying
    def apply(self, network: Any) -> Any:
        """A new :class:`~access.TransportNetwork` with the street and transit edits applied.

        The original network is untouched (arrays are copied only where an edit changes them); nothing is rebuilt
        from the ``.pbf`` or the GTFS feeds. Venue edits are applied by :meth:`apply_venues`.
        """
        return self.applied(network).network

    def applied(self, network: Any) -> AppliedScenario:
        """:meth:`apply`, with what the street edits changed per mode (:class:`AppliedScenario`)."""
        from ._streets import apply_street_edits, check_report

        street_edits = {}
        report: dict = {}
        counter = [0]
        for mode in network.modes:
            eds = [e for e in self.of("streets") if mode in e.params["modes"]]
            if eds:
                street_edits[mode] = apply_street_edits(network.street(mode), eds, report=report,
                                                        link_counter=counter)
        streets = {m: r.graph for m, r in street_edits.items()}
        check_report(self.of("streets"), report, network.modes)
        tt = network.timetable
        if self.of("transit"):
            if tt is None:
                e = self.of("transit")[0]
                raise e.error("the network has no transit timetable (build it with GTFS feeds)")
            from ._transit import apply_transit_edits

            walk = streets.get("walk", network.street("walk"))
            tt = apply_transit_edits(tt, self.of("transit"), walk, relinked="walk" in streets)
        elif "walk" in streets and tt is not None:
            from ._transit import relink

            tt = relink(tt, streets["walk"])
        net = network.replace(streets=streets, timetable=tt,
                              scenario=[*network.manifest.get("scenario", []), self.name])
        return AppliedScenario(net, street_edits)

    def check_categories(self, known: Any) -> None:
        """Refuse venue edits whose ``category`` is neither in ``known`` nor in the embedded taxonomy.

        Raises
        ------
        ScenarioError
            Naming the edit, the category and the nearest known one (``"librery"``: did you mean 'library'?).
        """
        ok = {str(c) for c in known} | set(known_categories())
        for e in self.venue_edits:
            c = e.params.get("category")
            if c is not None and str(c) not in ok:
                raise e.error(f"unknown category {c!r}; {_nearest(c, ok)}")

    def apply_venues(self, venues):
        """A new venue table (``id, lon, lat[, category][, capacity]``) with the venue edits applied.

        Venue categories are checked first (:meth:`check_categories`, against the table's and the taxonomy's).
        """
        from ._venues import apply_venue_edits

        if any(e.params.get("category") is not None for e in self.venue_edits):
            from ._venues import normalise_venues

            cats = set(normalise_venues(venues)["category"].dropna().astype(str))
            if cats != {"all"}:  # the table has categories: an edit's must be one of them (or the taxonomy's)
                self.check_categories(cats)
        return apply_venue_edits(venues, self.venue_edits)
