"""Mode profiles: which ways walk, bike and car may use, in which direction, at what speed.

Pure functions of way tags (strings, '' when absent). The rules:

- **walk**: footways, paths, pedestrian streets, steps, tracks and every road but motorways (and
  ``motorroad=yes`` trunks); ``foot=no|private`` (or ``access=no|private`` without a ``foot`` permission)
  excludes; oneway is ignored. Constant speed (default 3.6 km/h as r5r).
- **bike**: cycleways, paths, tracks, roads (not motorways nor ``motorroad=yes``); footways and pedestrian
  streets only with ``bicycle=yes|designated|permissive``; ``bicycle=no`` excludes; ``oneway`` applies unless
  ``oneway:bicycle=no`` or ``cycleway=opposite*``. Constant speed (default 12 km/h).
- **car**: motorways to service roads. The class comes first: tracks, footways, pedestrian streets, paths,
  bridleways and cycleways only with ``motor_vehicle``/``motorcar`` explicitly allowed (a generic ``access=yes``
  does not open them), steps never; on roads ``access|vehicle|motor_vehicle|motorcar=no|private`` excludes unless
  a more specific key allows;
  ``oneway=yes|true|1|-1|reverse``, ``junction=roundabout|circular`` and motorways are one way.
  Speed from ``maxspeed`` (km/h numbers, ``mph``, implicit values like ``FR:urban`` from
  ``data/maxspeed_implicit.csv``, ``none``), else the per-class default of ``data/car_speeds.csv``.
- every mode: ``area=yes`` and ``highway=construction|proposed|abandoned|razed|platform|raceway|bus_guideway|
  elevator|corridor`` excluded.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import pandas as pd

from .._data import data_path

MODES = ("walk", "bike", "car")
DEFAULT_SPEED_KMH = {"walk": 3.6, "bike": 12.0}

EXCLUDED = {"construction", "proposed", "abandoned", "razed", "platform", "raceway", "bus_guideway",
            "elevator", "corridor", "rest_area", "services", "bus_stop", "escape", "no", "disused"}
ROADS = {"trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link", "tertiary",
         "tertiary_link", "unclassified", "residential", "living_street", "service", "road"}
MOTORWAY = {"motorway", "motorway_link"}
WALK_ONLY = {"footway", "pedestrian", "steps", "path", "track", "bridleway", "cycleway", "crossing"}
BIKE_OK = {"cycleway", "path", "track"} | ROADS
NO = {"no", "private"}
#: non-road classes that only ``motor_vehicle``/``motorcar`` may open to cars (never steps)
CAR_OPENABLE = {"track", "footway", "pedestrian", "path", "bridleway", "cycleway"}
YES = {"yes", "designated", "permissive", "destination", "permit", "customers", "delivery"}

#: highway classes in a fixed order; edges store the index (int8)
HIGHWAY_CLASSES = sorted(MOTORWAY | ROADS | WALK_ONLY) + ["other"]
_CLASS_CODE = {h: i for i, h in enumerate(HIGHWAY_CLASSES)}


def highway_code(highway: str) -> int:
    return _CLASS_CODE.get(highway, _CLASS_CODE["other"])


@functools.lru_cache(maxsize=1)
def car_speed_table() -> dict[str, float]:
    t = pd.read_csv(data_path("car_speeds.csv"))
    return dict(zip(t["highway"], t["speed_kmh"].astype(float)))


@functools.lru_cache(maxsize=1)
def implicit_maxspeeds() -> dict[str, float]:
    t = pd.read_csv(data_path("maxspeed_implicit.csv"))
    return {k.lower(): float(v) for k, v in zip(t["value"], t["speed_kmh"])}


_NUM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")


def parse_maxspeed(value: str) -> float | None:
    """Parse an OSM ``maxspeed`` value into km/h; ``None`` when it says nothing usable.

    >>> parse_maxspeed("50"), parse_maxspeed("30 mph"), parse_maxspeed("FR:urban"), parse_maxspeed("none")
    (50.0, 48.28032, 50.0, 130.0)
    """
    if not value:
        return None
    speeds = []
    for part in str(value).split(";"):
        part = part.strip()
        m = _NUM.match(part)
        if m:
            v = float(m.group(1))
            unit = m.group(2)
            if unit == "mph":
                v *= 1.609344
            elif unit == "knots":
                v *= 1.852
            if v > 0:
                speeds.append(v)
            continue
        imp = implicit_maxspeeds().get(part.lower())
        if imp is not None:
            speeds.append(imp)
    return min(speeds) if speeds else None


def _allowed(tags: dict, keys: tuple[str, ...], default: bool) -> bool:
    """Most specific key wins: ``keys`` go from generic (access) to specific (motorcar)."""
    verdict = default
    for k in keys:
        v = tags.get(k, "")
        if not v:
            continue
        v = v.split(";")[0].strip().lower()
        if v in NO:
            verdict = False
        elif v in YES:
            verdict = True
    return verdict


def way_rule(tags: dict, mode: str) -> tuple[bool, bool, float]:
    """Return ``(forward, backward, speed_kmh)`` for a way's tags and a mode; speed 0 when unusable."""
    hw = tags.get("highway", "")
    if not hw or hw in EXCLUDED or tags.get("area", "") == "yes":
        return False, False, 0.0
    motorroad = tags.get("motorroad", "") == "yes"
    if mode == "walk":
        ok = (hw in ROADS or hw in WALK_ONLY) and not motorroad
        ok = _allowed(tags, ("access", "foot"), ok)
        if hw in MOTORWAY:
            ok = tags.get("foot", "") in YES
        return ok, ok, 0.0
    oneway = tags.get("oneway", "").lower()
    fwd_only = oneway in ("yes", "true", "1") or tags.get("junction", "") in ("roundabout", "circular")
    rev_only = oneway in ("-1", "reverse")
    if mode == "bike":
        ok = hw in BIKE_OK and not motorroad
        if hw in ("footway", "pedestrian", "bridleway", "steps"):
            ok = tags.get("bicycle", "") in YES
        ok = _allowed(tags, ("access", "vehicle", "bicycle"), ok)
        if hw in MOTORWAY:
            ok = False
        if not ok:
            return False, False, 0.0
        if tags.get("oneway:bicycle", "") == "no" or tags.get("cycleway", "").startswith("opposite"):
            return True, True, 0.0
        if tags.get("oneway:bicycle", "") == "yes":
            return True, False, 0.0
        return (not rev_only), (not fwd_only), 0.0
    if mode == "car":
        if hw in ROADS or hw in MOTORWAY:
            ok = _allowed(tags, ("access", "vehicle", "motor_vehicle", "motorcar"), True)
        elif hw in CAR_OPENABLE:
            # the class excludes cars; a generic access=yes|destination|... says nothing about cars, only the
            # mode-specific keys may open the way (and a later motorcar=no still closes it)
            ok = _allowed(tags, ("motor_vehicle", "motorcar"), False)
        else:
            ok = False
        if not ok:
            return False, False, 0.0
        if hw in MOTORWAY and oneway not in ("no", "-1", "reverse"):
            fwd_only = True
        speed = parse_maxspeed(tags.get("maxspeed", ""))
        if speed is None:
            speed = car_speed_table().get(hw, car_speed_table().get("road", 30.0))
        return (not rev_only), (not fwd_only), float(speed)
    raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")


def evaluate_ways(tags: pd.DataFrame, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vector form of :func:`way_rule` over a tag table: (forward bool[w], backward bool[w], speed_kmh float64[w]).

    Rules are evaluated once per distinct tag combination, so this is fast on large extracts.
    """
    cols = list(tags.columns)
    codes = tags.groupby(cols, sort=True, dropna=False).ngroup().to_numpy()
    n = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n, -1, np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    fw = np.zeros(n, bool)
    bw = np.zeros(n, bool)
    sp = np.zeros(n, np.float64)
    records = tags.iloc[first].to_dict("records") if n else []
    for i, d in enumerate(records):
        fw[i], bw[i], sp[i] = way_rule({k: ("" if v is None else str(v)) for k, v in d.items()}, mode)
    return fw[codes], bw[codes], sp[codes]


# ------------------------------------------------------------------------------------------------ cycling stress
_LTS_SPEED = re.compile(r"^([0-9][.0-9]*?) ?(km/h|kmh|kph|mph|knots)?$")


def _lts_speed_kmh(value: str) -> float:
    m = _LTS_SPEED.match(value.strip()) if value else None
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v * 1.609 if m.group(2) == "mph" else v * 1.852 if m.group(2) == "knots" else v


def way_lts(tags: dict, cars_forward: bool, cars_backward: bool) -> tuple[int, int]:
    """Level of traffic stress (1..4) of a way for cycling ``(forward, backward)``, Conveyal's R5 rules
    (``LevelOfTrafficStressLabeler``), without the intersection step: an explicit ``lts`` tag wins; ways without
    cars are 1; service roads stay unlabelled (0: never filtered); residential and living streets are 1; else 3 by
    default, 2 when at most 3 lanes and ``maxspeed`` <= 25 mph (or lanes unknown and slow); unclassified and
    tertiary roads are 2 with a bike lane in that direction (or at most 3 lanes and no speed), other roads keep the
    default only with a lane; 4 otherwise."""
    explicit = tags.get("lts", "")
    if explicit:
        try:
            v = int(float(explicit))
            if 1 <= v <= 4:
                return v, v
        except ValueError:
            pass
    if not cars_forward and not cars_backward:
        return 1, 1
    hw = tags.get("highway", "")
    if hw == "service":
        return 0, 0
    if hw in ("residential", "living_street"):
        return 1, 1
    cw, cl, cr = tags.get("cycleway", ""), tags.get("cycleway:left", ""), tags.get("cycleway:right", "")
    fwd_lane = bwd_lane = cw == "lane"
    if cl == "lane" or cw == "opposite" or cr == "opposite":
        bwd_lane = True
    if cl == "opposite" or cr == "lane":
        fwd_lane = True
    speed = _lts_speed_kmh(tags.get("maxspeed", ""))
    try:
        lanes = int(tags.get("lanes", "")) if tags.get("lanes", "") else None
    except ValueError:
        lanes = None
    slow = speed <= 25 * 1.61  # False for NaN, as in Java
    default = 2 if ((lanes is not None and lanes <= 3 and slow) or (lanes is None and slow)) else 3
    if hw in ("unclassified", "tertiary", "tertiary_link"):
        if lanes is not None and lanes <= 3 and math.isnan(speed):
            default = 2
        return (2 if fwd_lane else default), (2 if bwd_lane else default)
    return (default if fwd_lane else 4), (default if bwd_lane else 4)


def evaluate_lts(tags: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Vector form of :func:`way_lts` over a tag table: (forward int8[w], backward int8[w]); 0 = unlabelled."""
    cf, cb, _ = evaluate_ways(tags, "car")
    cols = list(tags.columns)
    key = tags.assign(_cf=cf, _cb=cb)
    codes = key.groupby(cols + ["_cf", "_cb"], sort=True, dropna=False).ngroup().to_numpy()
    n = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n, -1, np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    fw = np.zeros(n, np.int8)
    bw = np.zeros(n, np.int8)
    for i, j in enumerate(first):
        d = {k: ("" if v is None else str(v)) for k, v in tags.iloc[j].to_dict().items()}
        fw[i], bw[i] = way_lts(d, bool(cf[j]), bool(cb[j]))
    return fw[codes], bw[codes]
