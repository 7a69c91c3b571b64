"""Territorial typology ("territoires à enjeux culturels"): supply, access and socio-economic fragility per area.

The method follows the official practice of INSEE and the Ministry of Culture (DEPS): access is the **car** time to
the **nearest** venue of each type for the **whole** population (mean minutes and shares beyond 5/10/15/30 min);
supply is counted per category (venues per 10,000 inhabitants; labelled venues apart), never as one all-category
total. Scores are z-scores over the areas *of the region* (areas flagged in-region when the table says so), areas
without population are classed "no data", the priority contract zone is a separate column (``priority_zone``) and
never replaces the computed ``class``, and ``class_stability`` says how often the class survives moves of the
weights and thresholds (and column swaps such as another transit percentile). See ``docs/typology.md``.

Every setting is in a TOML file whose schema is declared once (:class:`TypologyConfig`, pydantic: unknown keys are
refused with the nearest valid name); the documented defaults are ``data/typology_default.toml``.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import os
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as _PydanticError

from .._data import data_path
from .._errors import InputFileError, ValidationError

__all__ = ["typology", "load_typology_config", "TypologyConfig", "CLASSES", "NO_DATA"]

#: the area classes (``class`` column); "no data" for areas without population or without any usable input
CLASSES = (
    "cumulates cultural and social fragility",
    "cultural fragility",
    "social fragility",
    "no particular stake",
    "no data",
)
NO_DATA = CLASSES[4]


# ---------------------------------------------------------------------------------------------------- schema
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionSection(_Section):
    """Which areas make the reference of the z-scores, and which are "no data"."""

    in_region_column: str = "in_region"
    population_column: str = "population"
    min_population: float = Field(0.0, ge=0)


class ScoreSection(_Section):
    """A sub-score: glob patterns over the area table's columns -> weights (sign = direction)."""

    weights: dict[str, float] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)


class AccessSection(ScoreSection):
    beyond_min: list[float] = Field(default_factory=lambda: [5.0, 10.0, 15.0, 30.0])
    worst_when_missing: bool = True

    @field_validator("beyond_min")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(not (x > 0) for x in v):
            raise ValueError(f"thresholds must be positive minutes, got {v}")
        return sorted(set(float(x) for x in v))


class CombineSection(_Section):
    supply_weight: float = Field(0.5, ge=0)
    access_weight: float = Field(0.5, ge=0)


class ClassesSection(_Section):
    cultural_threshold: float = 0.5
    social_threshold: float = 0.5
    priority_areas: list[str] = Field(default_factory=list)
    priority_zone_name: str = "priority contract zone"


class StabilitySection(_Section):
    relative_change: float = Field(0.2, ge=0, lt=1)
    swaps: list[tuple[str, str]] = Field(default_factory=list)
    transit_percentile: float | None = Field(75.0, ge=0, le=100)


def twin_suffix(percentile: float | None) -> str | None:
    """The suffix of the columns recomputed at the other transit percentile (``_transit_p75``): the region pipeline
    writes ``<column><suffix>`` next to every column the transit times feed (transit times to the nearest venue, the
    barrier index); ``None`` when there is no such variant (``None`` or 0)."""
    return None if not percentile else f"_transit_p{float(percentile):g}"


class TypologyConfig(_Section):
    """The typology's settings (the sections of ``data/typology_default.toml``)."""

    region: RegionSection = Field(default_factory=RegionSection)
    supply: ScoreSection = Field(default_factory=ScoreSection)
    access: AccessSection = Field(default_factory=AccessSection)
    social: ScoreSection = Field(default_factory=ScoreSection)
    combine: CombineSection = Field(default_factory=CombineSection)
    classes: ClassesSection = Field(default_factory=ClassesSection)
    stability: StabilitySection = Field(default_factory=StabilitySection)


def _model_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    """The valid key names at ``loc`` (a path of field names) in ``model``."""
    for part in loc[:-1]:
        f = model.model_fields.get(str(part))
        ann = getattr(f, "annotation", None) if f else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return sorted(model.model_fields)


def _schema_error(e: _PydanticError, source: str) -> ValidationError:
    msgs = []
    for err in e.errors():
        loc = tuple(err["loc"])
        where = ".".join(map(str, loc))
        if err["type"] == "extra_forbidden":
            valid = _model_fields(TypologyConfig, loc)
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {valid}"
            msgs.append(f"unknown key `{where}`; {hint}")
        else:
            msgs.append(f"`{where}` {err['msg'].lower()}, got {err.get('input')!r}")
    return ValidationError(f"typology config {source}: " + "; ".join(msgs) + "; fix the file (see "
                           "data/typology_default.toml for every key)")


def _read_toml(path) -> dict:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InputFileError(f"typology config {str(path)!r} does not exist; give an existing TOML file (a copy "
                             "of data/typology_default.toml) or no config for the defaults") from None
    except tomllib.TOMLDecodeError as e:
        raise InputFileError(f"typology config {str(path)!r} is not valid TOML: {e}") from None
    return data.get("typology", data)


def _validate(raw: Mapping, source: str) -> TypologyConfig:
    try:
        return TypologyConfig.model_validate(dict(raw))
    except _PydanticError as e:
        raise _schema_error(e, source) from None


def _default_raw() -> dict:
    return _read_toml(data_path("typology_default.toml"))


def load_typology_config(config: str | os.PathLike | Mapping | TypologyConfig | None = None) -> dict:
    """The typology settings as a plain dict: the defaults of ``data/typology_default.toml`` updated by ``config``.

    ``config`` is a path to a TOML file, a mapping with the same sections, or a :class:`TypologyConfig`. A section
    given updates the default section's keys it names; its ``weights`` (and ``exclude``) replace the default ones as
    a whole. Unknown sections and keys are refused with the nearest valid name.
    """
    return _resolve(config).model_dump()


def _resolve(config) -> TypologyConfig:
    base = _default_raw()
    if config is None:
        return _validate(base, "data/typology_default.toml")
    if isinstance(config, TypologyConfig):
        return config
    if isinstance(config, (str, os.PathLike)):
        user, source = _read_toml(config), repr(str(config))
    elif isinstance(config, Mapping):
        user, source = dict(config), "(mapping)"
    else:
        raise ValidationError(f"`config` must be a TOML path, a mapping or a TypologyConfig, got "
                              f"{type(config).__name__}; pass e.g. config='my_typology.toml'")
    out = copy.deepcopy(base)
    for sec, val in user.items():
        if isinstance(val, Mapping) and sec in out and isinstance(out[sec], Mapping):
            out[sec] = {**out[sec], **dict(val)}
        else:
            out[sec] = val
    return _validate(out, source)


# ---------------------------------------------------------------------------------------------------- scores
def _zscores(x: pd.Series, ref: np.ndarray) -> pd.Series:
    """(x - mean) / std with the mean and std of the reference rows only (population-unweighted, NaN ignored)."""
    v = pd.to_numeric(x, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    r = v[ref]
    sd = r.std(ddof=0)
    if not np.isfinite(sd) or sd == 0:
        return v * 0.0
    return (v - r.mean()) / sd


def _matching(table: pd.DataFrame, section: ScoreSection, pattern: str) -> list[str]:
    return [c for c in table.columns if fnmatch.fnmatchcase(str(c), pattern)
            and not any(fnmatch.fnmatchcase(str(c), ex) for ex in section.exclude)
            and pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])]


def _score(table: pd.DataFrame, section: ScoreSection, weights: Mapping[str, float], ref: np.ndarray,
           populated: np.ndarray, notes: list, label: str, zcols: dict, worst_when_missing: bool = False
           ) -> pd.Series:
    terms = []
    for pattern, wt in weights.items():
        cols = _matching(table, section, pattern)
        if not cols:
            notes.append(f"{label}: no column matches {pattern!r}")
            continue
        for c in cols:
            if c not in zcols:
                z = _zscores(table[c], ref)
                if worst_when_missing:
                    # a populated area where nobody reaches the category gets the region's worst value, so the
                    # worst-served areas stay in the very term meant to flag them
                    zr = z[ref]
                    worst = (zr.min() if wt > 0 else zr.max()) if zr.notna().any() else 0.0
                    z = z.where(z.notna() | ~populated, worst)
                zcols[c] = z
            terms.append((zcols[c], float(wt) / len(cols)))
    if not terms:
        notes.append(f"{label}: no input column, score is NaN")
        return pd.Series(np.nan, index=table.index)
    num = sum(np.where(z.notna(), z * w, 0.0) for z, w in terms)
    den = sum(np.where(z.notna(), abs(w), 0.0) for z, w in terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(np.where(den > 0, num / den, np.nan), index=table.index)


def _classify(table: pd.DataFrame, cfg: TypologyConfig, ref: np.ndarray, populated: np.ndarray,
              notes: list, zcols: dict) -> dict[str, Any]:
    supply = _score(table, cfg.supply, cfg.supply.weights, ref, populated, notes, "supply", zcols)
    access = _score(table, cfg.access, cfg.access.weights, ref, populated, notes, "access", zcols,
                    worst_when_missing=cfg.access.worst_when_missing)
    social = _score(table, cfg.social, cfg.social.weights, ref, populated, notes, "social", zcols)
    ws, wa = cfg.combine.supply_weight, cfg.combine.access_weight
    if ws + wa == 0:
        raise ValidationError("typology config `combine.supply_weight` and `combine.access_weight` are both 0; "
                              "give at least one a positive weight")
    parts = np.vstack([np.where(supply.notna(), ws * supply, 0.0), np.where(access.notna(), wa * access, 0.0)])
    den = np.where(supply.notna(), ws, 0.0) + np.where(access.notna(), wa, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cultural = pd.Series(np.where(den > 0, -parts.sum(axis=0) / den, np.nan), index=table.index)
    tc, ts = cfg.classes.cultural_threshold, cfg.classes.social_threshold
    cf = (cultural >= tc).to_numpy()
    sf = (social >= ts).to_numpy()
    nodata = ~populated | (cultural.isna() & social.isna()).to_numpy()
    klass = np.select([nodata, cf & sf, cf, sf], [NO_DATA, CLASSES[0], CLASSES[1], CLASSES[2]], CLASSES[3])
    return dict(supply=supply, access=access, social=social, cultural=cultural, klass=klass)


def _variants(cfg: TypologyConfig, table: pd.DataFrame, used: set, twins: pd.DataFrame
              ) -> list[tuple[str, TypologyConfig, pd.DataFrame]]:
    """The one-at-a-time moves of the stability check that apply to this table and configuration (a move that
    cannot change anything is not a variant, so it does not inflate the share):

    - every weight whose pattern matches a column, and each of the combine weights and class thresholds, times
      ``1 -/+ relative_change``;
    - each column swap (e.g. ``("_p50", "_p75")``: every *used* column with ``_p50`` in its name takes the values of
      its ``_p75`` twin), when some used column has a twin;
    - the other transit percentile: every used column with a ``<column>_transit_p<P>`` twin (``twins``: the columns
      the pipeline recomputed at percentile ``P``) takes its values, when some used column has one.
    """
    r = cfg.stability.relative_change
    out = []
    if r > 0:
        for f in (1 - r, 1 + r):
            for sec in ("supply", "access", "social"):
                s = getattr(cfg, sec)
                for pat in s.weights:
                    if not _matching(table, s, pat):
                        continue
                    w = {**s.weights, pat: s.weights[pat] * f}
                    out.append((f"{sec}.{pat} x{f:g}", cfg.model_copy(update={sec: s.model_copy(
                        update={"weights": w})}), table))
            for key in ("supply_weight", "access_weight"):
                c = cfg.combine.model_copy(update={key: getattr(cfg.combine, key) * f})
                out.append((f"combine.{key} x{f:g}", cfg.model_copy(update={"combine": c}), table))
            for key in ("cultural_threshold", "social_threshold"):
                cl = cfg.classes.model_copy(update={key: getattr(cfg.classes, key) * f})
                out.append((f"classes.{key} x{f:g}", cfg.model_copy(update={"classes": cl}), table))
    for a, b in cfg.stability.swaps:
        t = table.copy()
        n = 0
        for c in used:
            if a in str(c) and str(c).replace(a, b) in table.columns:
                t[c] = table[str(c).replace(a, b)]
                n += 1
        if n:
            out.append((f"columns {a} -> {b}", cfg, t))
    suf = twin_suffix(cfg.stability.transit_percentile)
    if suf is not None:
        t = table.copy()
        n = 0
        for c in used:
            if f"{c}{suf}" in twins.columns:
                t[c] = twins[f"{c}{suf}"].to_numpy()
                n += 1
        if n:
            out.append((f"transit percentile {cfg.stability.transit_percentile:g}", cfg, t))
    return out


def _with_beyond_columns(table: pd.DataFrame, beyond_min: list[float]) -> pd.DataFrame:
    """Add ``<col>_share_beyond_<T>min = 1 - <col>_share_within_<T>min`` for each threshold of ``beyond_min``
    whose within-share the table has (the within-share counts the unreachable population as beyond)."""
    new = {}
    for T in beyond_min:
        suf = f"_share_within_{T:g}min"
        for c in table.columns:
            name = str(c)
            if name.endswith(suf):
                b = name[: -len(suf)] + f"_share_beyond_{T:g}min"
                if b not in table.columns:
                    new[b] = 1.0 - pd.to_numeric(table[c], errors="coerce")
    return table.assign(**new) if new else table


def _priority(table: pd.DataFrame, area_id: str, cfg: TypologyConfig, priority_areas) -> tuple[pd.Series, list]:
    zone = (table["priority_zone"].astype("string").fillna("") if "priority_zone" in table.columns
            else pd.Series("", index=table.index, dtype="string"))
    given: dict = {a: cfg.classes.priority_zone_name for a in cfg.classes.priority_areas}
    if isinstance(priority_areas, Mapping):
        given.update({k: str(v) for k, v in priority_areas.items()})
    elif priority_areas is not None:
        given.update({a: cfg.classes.priority_zone_name for a in priority_areas})
    ids = table[area_id]
    m = ids.map(lambda x: given.get(x, given.get(str(x), ""))).astype("string").fillna("")
    zone = zone.where(zone != "", m)
    unknown = sorted(map(str, set(map(str, given)) - set(map(str, ids))))
    return zone, unknown


def typology(area_table: pd.DataFrame, *, config: Any = None, priority_areas: Iterable | Mapping | None = None,
             area_id: str = "id", stability: bool = True) -> pd.DataFrame:
    """Classify areas into the territorial typology.

    Parameters
    ----------
    area_table : DataFrame or GeoDataFrame
        One row per area with its indicators (e.g. :func:`~access.indicators.aggregate` of the car times to the
        nearest venue per category, with ``_share_beyond_<T>min`` columns, joined with the socio-economic profile
        ``poverty_rate``, ``median_income``, ``share_elderly``, ``density``). Optional columns: ``population``
        (areas at or below ``region.min_population`` are "no data"), ``in_region`` (bool: only these areas make the
        reference of the z-scores; all areas when absent), ``priority_zone`` (zone name or empty).
    config : path, mapping, TypologyConfig or None
        Settings; see ``data/typology_default.toml`` for every key and its default.
    priority_areas : iterable of ids or mapping id -> zone name, optional
        Areas under a priority contract: their ``priority_zone`` is the zone's name (``classes.priority_zone_name``
        for plain ids). The ``class`` is always the computed one.
    area_id : str
        Id column of ``area_table``.
    stability : bool
        Also compute ``class_stability`` (share of the variants of :data:`TypologyConfig.stability` giving the same
        class; NaN for "no data" areas and areas outside the region).

    Returns
    -------
    DataFrame (GeoDataFrame when given one)
        The input columns plus ``z_<column>`` for every column used, ``supply_score``, ``access_score``,
        ``social_fragility``, ``cultural_fragility``, ``class``, ``priority_zone``, ``in_region``,
        ``class_stability``, ``reason`` (the sub-scores behind the class, in words) and ``notes`` (inputs skipped).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"id": ["a", "b", "c", "d"], "population": [10., 10., 10., 0.],
    ...                   "venues_per_10k_cinema": [1., 5., 5., 1.], "time_car_cinema_mean": [40., 10., 10., 40.],
    ...                   "poverty_rate": [.3, .1, .3, .1]})
    >>> r = typology(t, priority_areas={"a": "Bassin minier"})
    >>> r["class"].tolist(), r["priority_zone"].tolist()
    (['cumulates cultural and social fragility', 'no particular stake', 'social fragility', 'no data'], \
['Bassin minier', '', '', ''])
    """
    if not isinstance(area_table, pd.DataFrame):
        raise ValidationError(f"`area_table` must be a DataFrame, got {type(area_table).__name__}; pass one row "
                              "per area")
    if area_id not in area_table.columns:
        raise ValidationError(f"`area_table` must have the id column {area_id!r}, got columns "
                              f"{list(area_table.columns)}; pass area_id= with the right column")
    if area_table[area_id].isna().any() or area_table[area_id].duplicated().any():
        raise ValidationError(f"`area_table[{area_id!r}]` must hold unique, non-missing ids; fix the duplicates")
    cfg = _resolve(config)
    area_table = _with_beyond_columns(area_table, cfg.access.beyond_min)
    # the columns recomputed at the other transit percentile are variants only, never inputs of the patterns
    suf = twin_suffix(cfg.stability.transit_percentile)
    twin_cols = [c for c in area_table.columns if suf is not None and str(c).endswith(suf)]
    twins = area_table[twin_cols]
    area_table = area_table.drop(columns=twin_cols)
    table = area_table.copy()
    notes: list[str] = []
    n = len(table)
    pc = cfg.region.population_column
    if pc in table.columns:
        pop = pd.to_numeric(table[pc], errors="coerce").to_numpy(float)
        populated = np.nan_to_num(pop, nan=0.0) > cfg.region.min_population
    else:
        populated = np.ones(n, bool)
        notes.append(f"no population column {pc!r}: every area counted as populated")
    rc = cfg.region.in_region_column
    in_region = (table[rc].fillna(False).astype(bool).to_numpy() if rc in table.columns else np.ones(n, bool))
    ref = in_region & populated
    if not ref.any():
        raise ValidationError("no populated area in the region to make the reference of the z-scores; check the "
                              f"{pc!r} and {rc!r} columns")
    zcols: dict = {}
    res = _classify(table, cfg, ref, populated, notes, zcols)
    for c, z in zcols.items():
        table[f"z_{c}"] = z
    for c in zcols:  # a mean over only those who reach a venue (e.g. within a transit trip limit) is named as such
        su = f"{c[:-len('_mean')]}_share_unreachable" if str(c).endswith("_mean") else None
        if su is not None and su in table.columns:
            left = pd.to_numeric(table[su], errors="coerce").to_numpy(float)[ref]
            if np.nanmax(left, initial=0.0) > 0:
                notes.append(f"{c} is a mean over the inhabitants who reach a venue: up to {np.nanmax(left):.0%} "
                             f"of an area's population reaches none ({su}) and is left out of it")
    table["supply_score"] = res["supply"]
    table["access_score"] = res["access"]
    table["social_fragility"] = res["social"]
    table["cultural_fragility"] = res["cultural"]
    table["class"] = res["klass"]
    zone, unknown = _priority(table, area_id, cfg, priority_areas)
    if unknown:
        notes.append(f"priority areas not in the table: {unknown[:10]}")
    table["priority_zone"] = zone.astype(str).to_numpy()
    table["in_region"] = in_region
    if stability:
        same = np.zeros(n)
        variants = _variants(cfg, area_table, set(zcols), twins)
        for _, vcfg, vtab in variants:
            same += _classify(vtab, vcfg, ref, populated, [], {})["klass"] == res["klass"]
        stab = same / len(variants) if variants else np.ones(n)
        table["class_stability"] = np.where(ref, stab, np.nan)
        table.attrs["stability_variants"] = [name for name, _, _ in variants]
        kinds = sorted({"weights and thresholds" if " x" in name else name for name, _, _ in variants})
        notes.append(f"class_stability over {len(variants)} variants ({', '.join(kinds) or 'none'})")
    tc, ts = cfg.classes.cultural_threshold, cfg.classes.social_threshold
    sup, acc, soc, cul = res["supply"], res["access"], res["social"], res["cultural"]

    def reason(i: int) -> str:
        if res["klass"][i] == NO_DATA:
            s = "no population" if not populated[i] else "no usable indicator"
        else:
            s = (f"cultural fragility {cul.iloc[i]:+.2f} (threshold {tc:g}; supply {sup.iloc[i]:+.2f}, "
                 f"access {acc.iloc[i]:+.2f}), social fragility {soc.iloc[i]:+.2f} (threshold {ts:g})")
        if zone.iloc[i]:
            s += f"; in the priority contract zone {zone.iloc[i]}"
        if not in_region[i]:
            s += "; outside the region (not in the z-score reference)"
        return s

    table["reason"] = [reason(i) for i in range(n)]
    for c in twin_cols:  # reported as given
        table[c] = twins[c].to_numpy()
    table["notes"] = "; ".join(notes)
    return table
