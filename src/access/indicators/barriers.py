"""Social barriers to culture: who cannot go, and why — age, isolation, precariousness, no car, no way home.

Per 200 m cell (see ``docs/barriers.md`` for the definitions, sources and limits):

- :func:`barrier_profile`: ``share_65_plus``, ``share_80_plus``, ``share_under_18``, ``share_single_person``,
  ``share_single_parent``, ``share_poor_households``, ``share_social_housing`` (in [0, 1]) from the Filosofi
  counts, and ``estimated`` (INSEE's ``i_est_200`` flag: the cell's values are imputed);
- :func:`no_car_times`: ``time_no_car_<category>`` = the best of walk, bike and transit (minutes to the nearest
  venue, from :func:`_nearest_by_category`), ``time_with_car_<category>`` = the best of that and the car (a
  household with a car can walk too) and ``carless_gap_<category>`` = their difference (>= 0);
- :func:`evening_round_trips`: ``evening_round_trip_<category>``: one can arrive at the nearest venue of the
  category by transit (and walking) by ``arrive_by`` and leave it between ``leave_after`` and ``leave_after +
  max_wait_min`` for a trip home of at most ``max_trip_min``; with ``evening_out_min_<category>`` and
  ``evening_back_min_<category>``;
- :func:`saturday_access`: ``time_transit_saturday_<category>``, transit on the Saturday of the analysis week;

and per area (EPCI) :func:`area_barriers` (shares, carless households beyond the threshold, the carless gap, the
evening round-trip shares) and :func:`barrier_index` (weighted mean of z-scores over the region's EPCI, with the
two main barriers of each EPCI and a stability check, :func:`barrier_index_stability`). The settings are those of
``data/barriers_default.toml`` (:func:`load_barriers_config`).
"""

from __future__ import annotations

import copy
import datetime as _dt
import fnmatch
import os
import tomllib
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._data import data_path
from .._errors import AccessWarning, GTFSError, InputFileError, ValidationError

__all__ = ["BARRIER_SHARES", "NO_CAR_MODES", "area_barriers", "barrier_index", "barrier_index_stability",
           "barrier_profile", "barriers_summary_lines", "evening_round_trips", "load_barriers_config",
           "no_car_times", "saturday_access", "saturday_of"]

#: the per-cell barrier shares of :func:`barrier_profile`: name -> (numerator columns, denominator column)
_SHARES = {
    "share_65_plus": (("ind_65_79", "ind_80p"), "ind"),
    "share_80_plus": (("ind_80p",), "ind"),
    "share_under_18": (("ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17"), "ind"),
    "share_single_person": (("men_1ind",), "men"),
    "share_single_parent": (("men_fmp",), "men"),
    "share_poor_households": (("men_pauv",), "men"),
    "share_social_housing": (("log_soc",), "men"),
}
BARRIER_SHARES = tuple(_SHARES)
#: the modes of a household without a car
NO_CAR_MODES = ("walk", "bike", "transit")
#: Filosofi columns the profile reads (by name, lower case; issue 13's cells frame carries them)
FILOSOFI_BARRIER_COLUMNS = ("i_est_200", "ind", "men", "men_pauv", "men_1ind", "men_fmp", "men_prop", "log_soc",
                            "ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54",
                            "ind_55_64", "ind_65_79", "ind_80p")
#: what the cells frame of the pipeline calls some Filosofi counts
_ALIASES = {"ind": "population", "men": "households", "men_pauv": "poor_households"}
#: labels of the index components, for the summary
_LABELS = {"share_65_plus": "older people (65+)", "share_80_plus": "very old people (80+)",
           "share_under_18": "children and teenagers", "share_single_person": "people living alone",
           "share_single_parent": "single-parent families", "share_poor_households": "poverty",
           "share_social_housing": "social housing", "share_no_car": "no car",
           "carless_share_beyond": "carless households far from venues",
           "evening_round_trip_share": "no evening return by transit", "carless_gap": "carless travel-time gap",
           "saturday": "weak Saturday transit"}


# ---------------------------------------------------------------------------------------------- configuration
def load_barriers_config(config: str | os.PathLike | Mapping | None = None) -> dict:
    """The barrier settings: ``data/barriers_default.toml`` updated by ``config`` (a TOML path or a mapping with
    the same sections; a section given updates the default's keys, ``[index.weights]`` is replaced whole)."""
    with open(data_path("barriers_default.toml"), "rb") as f:
        cfg = tomllib.load(f)
    if config is None:
        return cfg
    if isinstance(config, (str, os.PathLike)):
        try:
            with open(config, "rb") as f:
                user = tomllib.load(f)
        except FileNotFoundError:
            raise InputFileError(f"barriers config {str(config)!r} does not exist; fix the path") from None
        except tomllib.TOMLDecodeError as e:
            raise InputFileError(f"barriers config {str(config)!r} is not valid TOML: {e}") from None
        user = user.get("barriers", user)
    elif isinstance(config, Mapping):
        user = dict(config)
    else:
        raise ValidationError(f"`config` must be a TOML path or a mapping, got {type(config).__name__}")
    out = copy.deepcopy(cfg)
    for sec, val in user.items():
        if sec not in out or not isinstance(val, Mapping):
            raise ValidationError(f"barriers config: `[{sec}]` must be one of the tables {sorted(out)}, got "
                                  f"{type(val).__name__}; fix the section name")
        if sec == "index" and "weights" in val:
            out["index"]["weights"] = dict(val["weights"])
            val = {k: v for k, v in val.items() if k != "weights"}
        out[sec].update(val)
    _check_barriers_config(out, repr(str(config)) if isinstance(config, (str, os.PathLike)) else "(mapping)")
    return out


def _barriers_schema():
    """The strict schema of the barrier settings (pydantic; unknown keys refused, types strict, ranges checked)."""
    from typing import Annotated, Literal

    from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, create_model

    num = StrictInt | StrictFloat
    strict = ConfigDict(extra="forbid")
    hhmm = StrictStr  # checked below as a time of day

    def model(name, **fields):
        return create_model(name, __config__=strict, **fields)

    stability = model("stability", weight_factors=(list[Annotated[num, Field(gt=0)]], ...))
    return model(
        "barriers",
        allocation=(model("allocation", method=(Literal["areal", "centre"], ...),
                          vintage=(Annotated[StrictInt, Field(ge=0)], ...)), ...),
        no_car=(model("no_car", modes=(Annotated[list[Literal["walk", "bike", "transit"]], Field(min_length=1)], ...),
                      threshold_min=(Annotated[num, Field(gt=0, le=1440)], ...)), ...),
        evening=(model("evening", arrive_by=(hhmm, ...), leave_after=(hhmm, ...),
                       max_wait_min=(Annotated[num, Field(ge=0, le=1440)], ...),
                       max_trip_min=(Annotated[num, Field(gt=0, le=1440)], ...),
                       venue=(Literal["nearest", "any"], ...), categories=(list[StrictStr], ...),
                       memory_mb=(Annotated[num, Field(gt=0)], ...)), ...),
        saturday=(model("saturday", enabled=(StrictBool, ...), departure=(hhmm, ...),
                        window_min=(Annotated[StrictInt, Field(ge=1, le=1440)], ...),
                        categories=(list[StrictStr], ...)), ...),
        index=(model("index", high_threshold=(Annotated[num, Field(ge=0, le=1)], ...),
                     weights=(dict[str, num], ...), stability=(stability, ...)), ...),
        typology=(model("typology", social_dimension=(Literal["barrier_index", "typology", "both"], ...),
                        index_weight=(Annotated[num, Field(ge=0)], ...)), ...),
    ), BaseModel


def _check_barriers_config(cfg: dict, source: str) -> None:
    """Refuse unknown keys (with the nearest valid one), wrong types and out-of-range values, naming the key."""
    import difflib

    from pydantic import ValidationError as _PydanticError

    schema, base = _barriers_schema()
    try:
        schema.model_validate(cfg)
    except _PydanticError as e:
        err = e.errors()[0]
        loc = tuple(str(x) for x in err["loc"])
        text = err["msg"].lower()
        if loc and loc[-1] in ("int", "float"):  # a number (int or float) given as something else
            loc, text = loc[:-1], "should be a number (no quotes)"
        where = ".".join(loc)
        if err["type"] == "extra_forbidden":
            m = schema
            for k in loc[:-1]:
                ann = m.model_fields[k].annotation
                m = ann if isinstance(ann, type) and issubclass(ann, base) else m
            valid = list(m.model_fields)
            close = difflib.get_close_matches(loc[-1], valid, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {valid}"
            msg = f"unknown key `{where}`; {hint}"
        else:
            msg = f"`{where}` {text}, got {err.get('input')!r}"
        raise ValidationError(f"barriers config {source}: {msg}; fix the file (see data/barriers_default.toml for "
                              "every key)") from None
    for sec, key in (("evening", "arrive_by"), ("evening", "leave_after"), ("saturday", "departure")):
        _hhmm(cfg[sec][key], f"[{sec}] {key}")


def _hhmm(value, key: str) -> int:
    try:
        t = _dt.time.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"barriers config `{key}` must be a time 'HH:MM', got {value!r}") from None
    return t.hour * 60 + t.minute


def saturday_of(date: _dt.date) -> _dt.date:
    """The Saturday of the week of ``date`` (the same date when it is a Saturday, else the next one)."""
    return date + _dt.timedelta(days=(5 - date.weekday()) % 7)


# ---------------------------------------------------------------------------------------------- per cell
def _count(cells: pd.DataFrame, name: str) -> np.ndarray | None:
    for c in (name, name.capitalize(), _ALIASES.get(name)):
        if c is not None and c in cells.columns:
            return pd.to_numeric(cells[c], errors="coerce").to_numpy(float)
    return None


def barrier_profile(cells: pd.DataFrame) -> pd.DataFrame:
    """The barrier shares of each cell from its Filosofi counts (columns read by name; a share whose columns are
    missing is NaN and listed in ``attrs["missing"]``).

    Parameters
    ----------
    cells : DataFrame
        One row per cell with ``id`` and the Filosofi counts (:data:`FILOSOFI_BARRIER_COLUMNS`; ``population`` /
        ``households`` / ``poor_households`` stand for ``ind`` / ``men`` / ``men_pauv``).

    Returns
    -------
    DataFrame
        ``id``, :data:`BARRIER_SHARES` (clipped to [0, 1]; NaN where the denominator is 0) and ``estimated``
        (bool: INSEE imputed the cell's values, ``i_est_200 = 1``; False where the flag is absent).

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"id": ["a"], "ind": [10.0], "men": [4.0], "men_pauv": [1.0], "ind_65_79": [2.0],
    ...                   "ind_80p": [1.0]})
    >>> barrier_profile(c)[["share_65_plus", "share_poor_households"]].round(2).values.tolist()
    [[0.3, 0.25]]
    """
    if "id" not in cells.columns:
        raise ValidationError("`cells` has no `id` column; give the cells table of read_filosofi")
    out = pd.DataFrame({"id": cells["id"].astype(str).to_numpy(dtype=object)})
    missing = []
    for name, (nums, den) in _SHARES.items():
        d = _count(cells, den)
        counted = [_count(cells, c) for c in nums]
        parts = [p for p in counted if p is not None]
        if d is None or len(parts) < len(counted):
            out[name] = np.nan
            missing.append(name)
            continue
        num = np.sum(parts, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.clip(np.where(d > 0, num / d, np.nan), 0.0, 1.0)
    est = _count(cells, "i_est_200")
    out["estimated"] = (np.nan_to_num(est) > 0) if est is not None else False
    out.attrs["missing"] = missing
    return out


def _nearest_by_category(cells: pd.DataFrame, modes: Sequence[str], categories: Sequence[str]) -> dict:
    """Minutes from each cell to the nearest venue of each category, by mode: ``{mode: DataFrame[cells x
    categories]}`` (``inf`` = none within the matrices' ``max_time_min``).

    Today: the per-cell minimum over the travel-time matrices the pipeline already computes (the
    ``time_<mode>_<category>`` columns of the indicators step, capped at the recipe's ``max_time_min``). The one
    place to switch to ``access.nearest_times`` (uncapped nearest, issue 14) when it lands.
    """
    out = {}
    for m in modes:
        cols = {c: f"time_{m}_{c}" for c in categories}
        if not any(v in cells.columns for v in cols.values()):
            continue
        out[m] = pd.DataFrame({c: (pd.to_numeric(cells[v], errors="coerce").fillna(np.inf).to_numpy(float)
                                   if v in cells.columns else np.full(len(cells), np.inf))
                               for c, v in cols.items()}, index=cells["id"].astype(str).to_numpy(dtype=object))
    return out


def no_car_times(nearest: Mapping[str, pd.DataFrame], categories: Sequence[str], *,
                 no_car_modes: Sequence[str] = NO_CAR_MODES) -> pd.DataFrame:
    """Per cell and category: ``time_no_car_<c>`` (best of the no-car modes present), ``time_with_car_<c>`` (best
    of that and ``car``) and ``carless_gap_<c>`` (minutes, >= 0; NaN where the no-car time is infinite).

    Parameters
    ----------
    nearest : mapping
        :func:`_nearest_by_category` (mode -> cells x categories, minutes).
    categories : sequence of str
    no_car_modes : sequence of str
        Modes open to a household without a car (default walk, bike, transit).
    """
    modes = [m for m in no_car_modes if m in nearest]
    if not modes:
        raise ValidationError(f"no travel times for any of the no-car modes {list(no_car_modes)}; add walk, bike or "
                              "transit to the recipe's modes")
    index = nearest[modes[0]].index
    out = pd.DataFrame({"id": index.to_numpy(dtype=object)})
    for c in categories:
        nc = np.min(np.vstack([nearest[m][c].to_numpy(float) for m in modes]), axis=0)
        car = nearest["car"][c].to_numpy(float) if "car" in nearest else np.full(len(index), np.inf)
        wc = np.minimum(nc, car)
        out[f"time_no_car_{c}"] = nc
        out[f"time_with_car_{c}"] = wc
        with np.errstate(invalid="ignore"):
            out[f"carless_gap_{c}"] = np.where(np.isfinite(nc), nc - wc, np.nan)
    out.attrs["no_car_modes"] = modes
    return out


def _points_subset(p, idx):
    from ..io.places import Points

    idx = np.asarray(idx, np.int64)
    return Points(p.ids[idx], p.lon[idx], p.lat[idx], None, p.name)


def _trip_home_s(network, v, j: int, o, idx: np.ndarray, *, leave: _dt.datetime, max_wait_min: int,
                 max_trip_min: int) -> np.ndarray:
    """Seconds of the quickest trip from venue ``j`` to each origin ``idx`` leaving at one of the minutes ``leave ..
    leave + max_wait_min`` (forward per-minute range-RAPTOR from the one venue; ``-1`` none within
    ``max_trip_min``)."""
    from ..matrix import travel_time_matrix

    if len(idx) == 0:
        return np.zeros(0, np.int32)
    back = travel_time_matrix(network, _points_subset(v, [j]), _points_subset(o, idx), mode="transit",
                              departure=leave, window_min=max_wait_min + 1, percentiles=(50,),
                              max_time_min=max_trip_min, per_minute=True, search="forward", progress=False)
    assert back.per_minute_s is not None  # asked with per_minute=True
    pm = back.per_minute_s[0]  # [origins, minutes]
    best = np.where(pm >= 0, pm, np.iinfo(np.int32).max).min(axis=1)
    return np.where((pm >= 0).any(axis=1), best, -1).astype(np.int32)


def evening_round_trips(network, cells, venues: pd.DataFrame, *, date: _dt.date, categories: Sequence[str],
                        arrive_by: str = "20:30", leave_after: str = "22:30", max_wait_min: int = 45,
                        max_trip_min: int = 60, venue: str = "nearest", memory_mb: float = 256.0,
                        progress: bool = False) -> pd.DataFrame:
    """Can one go to the nearest venue of each category by transit (and walking) for an evening show and come back?

    Outbound: the transit **arrive-by** matrix (:func:`access.arrive_by_columns`, the same numbers as
    ``travel_time_matrix(..., arrive_by=...)``): for each cell and venue, the latest departure minute (searched over
    the ``max_trip_min`` before ``arrive_by``) whose trip arrives by ``arrive_by``; streamed venue by venue, so no
    cells x venues table is held. The venue is the one of the category with the latest such departure
    (``venue="nearest"``: the arrive-by nearest; ties to the first venue). Return: a forward per-minute query from
    that venue leaving at each minute of ``leave_after .. leave_after + max_wait_min``; a round trip needs one of
    these departures to get home within ``max_trip_min`` (its wait at the stop included). ``venue="any"``: any
    venue of the category with both legs (one forward query per venue reached: an upper bound, and dearer).

    Parameters
    ----------
    network : TransportNetwork
        With a walk graph and a timetable.
    cells : Points or GeoDataFrame
        Origins (the cells' centres, unique ``id``).
    venues : GeoDataFrame
        Venues with ``id``, ``category`` and point geometries.
    date : datetime.date
        Service day (the weekday of the analysis).
    categories : sequence of str
    arrive_by, leave_after : str
        ``HH:MM``.
    max_wait_min, max_trip_min : int
        Longest wait after ``leave_after`` (the last minute one may leave the venue) and longest trip each way.
    venue : {"nearest", "any"}
    memory_mb : float
        Bound of the per-minute block of the outbound search (cells x a few venues x ``max_trip_min + 1``).

    Returns
    -------
    DataFrame
        ``id`` then per category ``evening_round_trip_<c>`` (bool), ``evening_out_min_<c>`` (the arrive-by travel
        time: ``arrive_by`` minus the latest departure, minutes; inf = none), ``evening_departure_<c>`` (that
        departure, a timestamp; NaT = none), ``evening_venue_<c>`` (the venue's id; None = none) and
        ``evening_back_min_<c>`` (the quickest trip home from that venue within the waiting window; inf = none).
    """
    from ..io.places import Points, read_points
    from ..matrix import arrive_by_columns

    if venue not in ("nearest", "any"):
        raise ValidationError(f"`venue` must be 'nearest' or 'any', got {venue!r}")
    a_min, l_min = _hhmm(arrive_by, "evening.arrive_by"), _hhmm(leave_after, "evening.leave_after")
    max_wait_min, max_trip_min = int(max_wait_min), int(max_trip_min)
    if max_wait_min < 0 or max_trip_min <= 0:
        raise ValidationError(f"evening `max_wait_min` must be >= 0 and `max_trip_min` > 0, got {max_wait_min}, "
                              f"{max_trip_min}")
    if a_min - max_trip_min < 0 or l_min + max_wait_min + max_trip_min > 30 * 60:
        raise ValidationError("evening times must leave the outbound window within the day; fix arrive_by")
    o = cells if isinstance(cells, Points) else read_points(cells, name="cells")
    day = _dt.datetime.combine(date, _dt.time())
    t_arr = day + _dt.timedelta(minutes=a_min)
    leave = day + _dt.timedelta(minutes=l_min)
    n = len(o)
    big = np.iinfo(np.int32).max
    res = pd.DataFrame({"id": o.ids.astype(str)})
    home = {"network": network, "o": o, "leave": leave, "max_wait_min": max_wait_min, "max_trip_min": max_trip_min}
    for c in categories:
        sub = venues[venues["category"].astype(str) == c]
        out_s = np.full(n, big, np.int64)  # arrive-by seconds to the chosen venue
        out_j = np.full(n, -1, np.int64)
        back_s = np.full(n, -1, np.int64)
        rt = np.zeros(n, bool)
        v = None
        if len(sub):
            v = read_points(sub[["id", "geometry"]].reset_index(drop=True), name=f"{c} venues")
            # venues off the walk network (e.g. across the border beyond the street extract) have no round trip
            on = network.street("walk").snap(v.lon, v.lat, warn=False).snapped
            v = Points(v.ids[on], v.lon[on], v.lat[on], None, v.name)
        any_s = np.full(n, big, np.int64)  # venue="any": arrive-by seconds and venue of the round trip
        any_j = np.full(n, -1, np.int64)
        if v is not None and len(v):
            for a, b, t in arrive_by_columns(network, o, v, t_arr, max_time_min=max_trip_min, memory_mb=memory_mb):
                for k in range(b - a):
                    tk = t[:, k].astype(np.int64)
                    ok = tk >= 0
                    if venue == "nearest":
                        better = ok & (tk < out_s)
                        out_s[better], out_j[better] = tk[better], a + k
                        continue
                    idx = np.flatnonzero(ok)
                    bk = _trip_home_s(v=v, j=a + k, idx=idx, **home).astype(np.int64)
                    both = np.zeros(n, bool)
                    both[idx] = bk >= 0
                    bks = np.full(n, -1, np.int64)
                    bks[idx] = bk
                    better = both & (tk < any_s)  # the round trip leaving home the latest
                    any_s[better], any_j[better], back_s[better] = tk[better], a + k, bks[better]
                    rt |= both
                    near = ok & (tk < out_s)
                    out_s[near], out_j[near] = tk[near], a + k
            if venue == "nearest":
                for j in np.unique(out_j[out_j >= 0]):
                    idx = np.flatnonzero(out_j == j)
                    back_s[idx] = _trip_home_s(v=v, j=int(j), idx=idx, **home)
                rt = back_s >= 0
            else:  # the outbound time, departure and venue of the round trip where there is one
                out_s, out_j = np.where(rt, any_s, out_s), np.where(rt, any_j, out_j)
        has = out_s < big
        res[f"evening_round_trip_{c}"] = rt
        res[f"evening_out_min_{c}"] = np.where(has, out_s / 60.0, np.inf)
        dep = np.datetime64(t_arr, "s") - np.where(has, out_s, 0).astype("timedelta64[s]")
        res[f"evening_departure_{c}"] = pd.Series(np.where(has, dep, np.datetime64("NaT", "s")))
        ids = v.ids if v is not None and len(v) else np.array([], dtype=object)
        res[f"evening_venue_{c}"] = pd.Series([str(ids[j]) if j >= 0 else None for j in out_j], dtype=object)
        res[f"evening_back_min_{c}"] = np.where(rt, back_s / 60.0, np.inf)
    res.attrs.update(arrive_by=arrive_by, leave_after=leave_after, max_wait_min=max_wait_min,
                     max_trip_min=max_trip_min, venue=venue, date=date.isoformat())
    return res


def saturday_access(network, cells, venues: pd.DataFrame, *, date: _dt.date, categories: Sequence[str],
                    departure: str = "14:00", window_min: int = 60, max_time_min: int = 60,
                    progress: bool = False) -> pd.DataFrame:
    """``time_transit_saturday_<c>``: median minutes by transit (and walking) to the nearest venue of each category
    over ``window_min`` departure minutes from ``departure`` on the Saturday of ``date``'s week (``inf`` = none
    within ``max_time_min``), by :func:`access.nearest_times` (one backward search per category: at each minute the
    nearest venue of the category, then the median over the minutes; no cells x venues table)."""
    from ..io.places import Points, read_points
    from ..matrix import nearest_times

    o = cells if isinstance(cells, Points) else read_points(cells, name="cells")
    sat = saturday_of(date)
    dep = _dt.datetime.combine(sat, _dt.time()) + _dt.timedelta(minutes=_hhmm(departure, "saturday.departure"))
    res = pd.DataFrame({"id": o.ids.astype(str)})
    sub = venues[venues["category"].astype(str).isin(list(categories))]
    wide = pd.DataFrame(index=res["id"])
    if len(sub):
        v = read_points(pd.DataFrame({"id": sub["id"].astype(str).to_numpy(),
                                      "category": sub["category"].astype(str).to_numpy(),
                                      "lon": sub.geometry.x.to_numpy(float), "lat": sub.geometry.y.to_numpy(float)}),
                        name="venues")
        try:
            near = nearest_times(network, o, v, mode="transit", by="category", departure=dep,
                                 window_min=int(window_min), percentiles=(50,), max_time_min=max_time_min)
            wide = near.pivot(index="id", columns="category", values="travel_time").reindex(res["id"])
        except GTFSError as e:  # no service at all on that Saturday: nobody gets there by transit
            warnings.warn(f"Saturday access: {e}; time_transit_saturday_* are inf (no transit)", AccessWarning,
                          stacklevel=2)
            res.attrs["no_service"] = True
    for c in categories:
        res[f"time_transit_saturday_{c}"] = (wide[c].to_numpy(float) if c in wide.columns
                                             else np.full(len(res), np.inf))
    res.attrs.update(date=sat.isoformat(), departure=departure, window_min=int(window_min))
    return res


# ---------------------------------------------------------------------------------------------- per area
def area_barriers(cells: pd.DataFrame, links: pd.DataFrame, *, categories: Sequence[str],
                  threshold_min: float = 30.0, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per area: the barrier shares (ratios of sums over the area's cells), ``share_no_car``,
    ``carless_share_beyond_<T>min_<c>`` (households without a car beyond ``threshold_min`` of the nearest venue of
    the category, without a car), ``carless_gap_<c>_mean`` (population-weighted, over the cells whose no-car time
    is finite), ``evening_round_trip_share_<c>`` (population) and ``evening_round_trip_carless_share_<c>``
    (households without a car), ``time_transit_saturday_<c>_share_within_<T>min`` (population).

    Parameters
    ----------
    cells : DataFrame
        One row per cell: ``id``, ``population`` and the per-cell barrier columns (:func:`barrier_profile`,
        :func:`no_car_times`, :func:`evening_round_trips`, :func:`saturday_access`, and ``households_no_car`` from
        :func:`access.region.census.allocate_iris_to_cells` when a census base was given).
    links : DataFrame
        ``cell id, area id, weight`` (:func:`access.indicators.attach_cells`).
    counts : DataFrame, optional
        The Filosofi counts by cell (``id`` and the columns of :data:`FILOSOFI_BARRIER_COLUMNS`) for exact ratios
        of sums; without it the shares are population-weighted means of the cell shares.
    """
    cid, aid = links.columns[0], links.columns[1]
    d = links.rename(columns={cid: "id", aid: "_area"}).merge(cells, on="id", how="left")
    w = d[links.columns[2]].to_numpy(float) if links.shape[1] > 2 else np.ones(len(d))
    pop = np.nan_to_num(pd.to_numeric(d["population"], errors="coerce").to_numpy(float)) * w
    nc = (np.nan_to_num(d["households_no_car"].to_numpy(float)) * w if "households_no_car" in d.columns
          else np.full(len(d), np.nan))
    hh_c = (np.nan_to_num(d["census_households"].to_numpy(float)) * w if "census_households" in d.columns
            else np.full(len(d), np.nan))
    codes, area = np.unique(d["_area"].astype(str).to_numpy(), return_inverse=True)
    k = len(codes)

    def tot(x):
        return np.bincount(area, weights=np.nan_to_num(x), minlength=k)

    def ratio(num, den):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / den, np.nan)

    out = pd.DataFrame({"id": codes})
    if counts is not None:
        cc = d[["id"]].merge(counts, on="id", how="left")
        for name, (nums, den) in _SHARES.items():
            dd = _count(cc, den)
            counted = [_count(cc, c) for c in nums]
            parts = [p for p in counted if p is not None]
            if dd is None or len(parts) < len(counted):
                out[name] = np.nan
                continue
            out[name] = np.clip(ratio(tot(np.sum(parts, axis=0) * w), tot(dd * w)), 0, 1)
    else:
        for name in BARRIER_SHARES:
            if name in d.columns:
                s = d[name].to_numpy(float)
                out[name] = ratio(tot(np.where(np.isnan(s), 0, s) * pop), tot(np.where(np.isnan(s), 0, pop)))
    if "estimated" in d.columns:
        out["share_population_estimated_cells"] = ratio(tot(pop * d["estimated"].fillna(False).to_numpy(bool)),
                                                        tot(pop))
    out["share_no_car"] = ratio(tot(nc), tot(hh_c))
    t = float(threshold_min)
    for c in categories:
        col = f"time_no_car_{c}"
        if col in d.columns:
            far = d[col].to_numpy(float) > t
            out[f"carless_share_beyond_{t:g}min_{c}"] = ratio(tot(nc * far), tot(nc))
            g = d[f"carless_gap_{c}"].to_numpy(float)
            ok = np.isfinite(g)
            out[f"carless_gap_{c}_mean"] = ratio(tot(np.where(ok, g, 0) * pop), tot(np.where(ok, pop, 0)))
        col = f"evening_round_trip_{c}"
        if col in d.columns:
            rt = d[col].fillna(False).to_numpy(bool)
            out[f"evening_round_trip_share_{c}"] = ratio(tot(pop * rt), tot(pop))
            out[f"evening_round_trip_carless_share_{c}"] = ratio(tot(nc * rt), tot(nc))
        col = f"time_transit_saturday_{c}"
        if col in d.columns:
            out[f"time_transit_saturday_{c}_share_within_{t:g}min"] = ratio(tot(pop * (d[col].to_numpy(float) <= t)),
                                                                            tot(pop))
    return out


def _components(table: pd.DataFrame, weights: Mapping) -> list[tuple[str, str, float]]:
    """(pattern, column, weight) for every column matched by a weight pattern (weight shared among its columns)."""
    comps = []
    for pattern, wt in weights.items():
        try:
            wt = float(wt)
        except (TypeError, ValueError):
            raise ValidationError(f"barrier index weight {pattern!r} must be a number, got {wt!r}") from None
        cols = [c for c in table.columns if fnmatch.fnmatchcase(str(c), pattern)
                and pd.api.types.is_numeric_dtype(table[c])]
        comps += [(pattern, c, wt / len(cols)) for c in cols]
    return comps


def _z(x: pd.Series) -> pd.Series:
    v = pd.to_numeric(x, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    sd = v.std(ddof=0)
    return v * 0.0 if not np.isfinite(sd) or sd == 0 else (v - v.mean()) / sd


def _index(table: pd.DataFrame, comps) -> tuple[pd.Series, pd.DataFrame]:
    if not comps:
        return pd.Series(np.nan, index=table.index), pd.DataFrame(index=table.index)
    contrib = pd.DataFrame({c: _z(table[c]) * w for _, c, w in comps}, index=table.index)
    den = pd.DataFrame({c: _z(table[c]).notna() * abs(w) for _, c, w in comps}, index=table.index).sum(axis=1)
    idx = contrib.sum(axis=1, min_count=1) / den.where(den > 0)
    return idx, contrib


def _label(col: str) -> str:
    import re

    for k, v in _LABELS.items():
        if col.startswith(k):
            rest = re.sub(r"^_?\d+(\.\d+)?min_", "", col[len(k):]).strip("_")
            return f"{v} ({rest.replace('_', ' ')})" if rest and not col.startswith("share_") else v
    return col.replace("_", " ")


def barrier_index(areas: pd.DataFrame, config=None, *, area_id: str = "id") -> pd.DataFrame:
    """The barrier index of each area: the weighted mean of z-scores (over the areas of ``areas``: the region's
    EPCI) of the columns named in ``[index.weights]`` (glob patterns; a pattern matching several columns shares its
    weight; the sign gives the direction), its class, its two main barriers and its stability.

    Returns
    -------
    DataFrame
        ``id, barrier_index, barrier_class`` ("high barriers" when the index >= ``[index] high_threshold``, else
        "no high barrier"; "insufficient data" where NaN), ``main_barriers`` (the two components that push the
        index up most, in words), ``barrier_index_stability`` (:func:`barrier_index_stability`) and
        ``barrier_index_rank``. ``attrs["components"]``: the columns used and their weights.
    """
    cfg = load_barriers_config(config)
    icfg = cfg["index"]
    comps = _components(areas, icfg["weights"])
    idx, contrib = _index(areas, comps)
    thr = float(icfg.get("high_threshold", 0.5))
    out = pd.DataFrame({"id": areas[area_id].to_numpy()})
    out["barrier_index"] = idx.to_numpy(float)
    out["barrier_class"] = np.where(idx.isna(), "insufficient data",
                                    np.where(idx >= thr, "high barriers", "no high barrier"))
    mains = []
    for i in range(len(areas)):
        row = contrib.iloc[i].dropna().sort_values(ascending=False) if contrib.shape[1] else pd.Series(dtype=float)
        row = row[row > 0]
        names = []
        for c in row.index:
            lab = _label(c)
            if lab not in names:
                names.append(lab)
            if len(names) == 2:
                break
        mains.append("; ".join(names) if names else "none above the regional mean")
    out["main_barriers"] = mains
    out["barrier_index_rank"] = out["barrier_index"].rank(ascending=False, method="min")
    stab = barrier_index_stability(areas, cfg, area_id=area_id)
    out["barrier_index_stability"] = stab["stability"].to_numpy(float)
    out.attrs["components"] = {c: w for _, c, w in comps}
    return out


def barrier_index_stability(areas: pd.DataFrame, config=None, *, area_id: str = "id") -> pd.DataFrame:
    """How stable each area's barrier class is when the index's weights change: variants drop one weight pattern at
    a time and scale each by ``[index.stability] weight_factors``; ``stability`` = the share of the variants giving
    the baseline class (the rule of :func:`access.uncertainty.class_stability`), ``n_classes`` the distinct classes.
    """
    icfg = load_barriers_config(config)["index"]
    weights = dict(icfg["weights"])
    thr = float(icfg.get("high_threshold", 0.5))
    factors = [float(f) for f in icfg.get("stability", {}).get("weight_factors", [0.5, 2.0])]

    def klass(ws):
        idx, _ = _index(areas, _components(areas, ws))
        return np.where(idx.isna(), "insufficient data", np.where(idx >= thr, "high barriers", "no high barrier"))

    base = klass(weights)
    variants = {}
    for p in weights:
        variants[f"without {p}"] = klass({k: v for k, v in weights.items() if k != p})
        for f in factors:
            variants[f"{p} x{f:g}"] = klass({k: (v * f if k == p else v) for k, v in weights.items()})
    if not variants:
        return pd.DataFrame({"id": areas[area_id].to_numpy(), "stability": np.nan, "n_classes": 1})
    var = pd.DataFrame(variants)
    stab = var.eq(pd.Series(base), axis=0).mean(axis=1)
    n_cls = pd.concat([pd.Series(base, name="base"), var], axis=1).nunique(axis=1)
    return pd.DataFrame({"id": areas[area_id].to_numpy(), "class": base, "stability": stab.to_numpy(float),
                         "n_classes": n_cls.to_numpy(int)})


def barriers_summary_lines(areas: pd.DataFrame, *, categories: Sequence[str], threshold_min: float = 30.0,
                           name_column: str = "name", style=None) -> list[str]:
    """The ``summary.md`` section on social barriers: per EPCI the barrier index, its stability, the share of
    households without a car, the carless share beyond the threshold and the evening round-trip share of the main
    evening category, and its two main barriers (Markdown lines).

    ``style``: a function column -> style with ``fmt(value)`` and ``unit`` (the report's
    :func:`access.report.style.describe`, which the region run passes), so that the figures read as on the maps;
    without it, plain percentages and two decimals.
    """
    plain = {"barrier_index": "+.2f", "barrier_index_stability": ".0%"}

    def f(col, v):
        if style is not None:
            return style(col).fmt(v)
        return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, plain.get(col, ".0%"))

    t = float(threshold_min)
    evc = [c for c in categories if f"evening_round_trip_share_{c}" in areas.columns]
    ev = evc[0] if evc else None
    far_c = "cinema" if f"carless_share_beyond_{t:g}min_cinema" in areas.columns else (categories[0] if categories
                                                                                      else None)
    intro = ("Barrier index: weighted mean of z-scores over the region's EPCI (`data/barriers_default.toml`; > 0: "
             "more barriers than the regional mean); stability: share of the weight variants that keep the EPCI's "
             f"barrier class. 'no car': share of households without a car (census by IRIS); 'carless beyond {t:g} "
             f"minutes': share of the households without a car beyond {t:g} minutes of the nearest {far_c} by "
             "walk, bike or transit; 'evening': share of the population with an evening round trip by transit to "
             f"the nearest {ev} (see docs/barriers.md).")
    lines = ["## Social barriers to culture", "", intro, "",
             "| EPCI | name | barrier index | stability | no car | carless beyond " + f"{t:g} minutes | evening | "
             "two main barriers |", "|---|---|---|---|---|---|---|---|"]
    order = areas.sort_values("barrier_index", ascending=False) if "barrier_index" in areas.columns else areas
    for _, r in order.iterrows():
        far, eve = f"carless_share_beyond_{t:g}min_{far_c}", f"evening_round_trip_share_{ev}"
        lines.append("| " + " | ".join([
            str(r["id"]), str(r.get(name_column, "")), f("barrier_index", r.get("barrier_index")),
            f("barrier_index_stability", r.get("barrier_index_stability")), f("share_no_car", r.get("share_no_car")),
            f(far, r.get(far)), f(eve, r.get(eve)) if ev else "–",
            str(r.get("main_barriers", ""))]) + " |")
    return lines + [""]
