"""Territorial typology: cultural supply, access and socio-economic fragility scores per area, and classes.

The settings (columns, weights, thresholds, priority areas) come from a TOML file; the documented defaults are in
the repository's ``data/typology_default.toml``. Every class comes with the sub-scores and z-scores behind it.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import tomllib
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .._data import data_path
from .._errors import InputFileError, ValidationError

__all__ = ["typology", "load_typology_config", "CLASSES"]

#: the classes, in order of precedence
CLASSES = (
    "priority contract zone",
    "cumulates cultural and social fragility",
    "cultural fragility",
    "social fragility",
    "no particular stake",
    "insufficient data",
)


def load_typology_config(config: str | os.PathLike | Mapping | None = None) -> dict:
    """The typology settings: the defaults of ``data/typology_default.toml`` updated by ``config``.

    ``config`` is a path to a TOML file or a mapping with the same sections (``supply``, ``access``, ``social``,
    ``combine``, ``classes``); a section given replaces the default section's keys it names (the weights of
    ``supply``/``access``/``social`` are replaced as a whole when given).
    """
    with open(data_path("typology_default.toml"), "rb") as f:
        cfg = tomllib.load(f)
    if config is None:
        return cfg
    if isinstance(config, (str, os.PathLike)):
        try:
            with open(config, "rb") as f:
                user = tomllib.load(f)
        except FileNotFoundError:
            raise InputFileError(f"typology config {str(config)!r} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise InputFileError(f"typology config {str(config)!r} is not valid TOML: {e}") from None
        user = user.get("typology", user)
    elif isinstance(config, Mapping):
        user = dict(config)
    else:
        raise ValidationError(f"`config` must be a TOML path or a mapping, not {type(config).__name__}")
    out = copy.deepcopy(cfg)
    for sec, val in user.items():
        if sec not in out:
            raise ValidationError(f"unknown typology config section [{sec}]; expected one of {sorted(out)}")
        if not isinstance(val, Mapping):
            raise ValidationError(f"typology config section [{sec}] must be a table")
        if sec in ("supply", "access", "social"):
            out[sec] = dict(val)
        else:
            out[sec].update(val)
    return out


def _zscores(x: pd.Series) -> pd.Series:
    v = pd.to_numeric(x, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    sd = v.std(ddof=0)
    if not np.isfinite(sd) or sd == 0:
        return v * 0.0
    return (v - v.mean()) / sd


def _score(table: pd.DataFrame, weights: Mapping, notes: list, label: str, zcols: dict) -> pd.Series:
    terms = []
    for pattern, wt in weights.items():
        try:
            wt = float(wt)
        except (TypeError, ValueError):
            raise ValidationError(f"typology weight [{label}] {pattern!r} must be a number, got {wt!r}") from None
        cols = [c for c in table.columns if fnmatch.fnmatchcase(str(c), pattern)
                and pd.api.types.is_numeric_dtype(table[c])]
        if not cols:
            notes.append(f"{label}: no column matches {pattern!r}")
            continue
        for c in cols:
            if c not in zcols:
                zcols[c] = _zscores(table[c])
            terms.append((zcols[c], wt / len(cols)))
    if not terms:
        notes.append(f"{label}: no input column, score is NaN")
        return pd.Series(np.nan, index=table.index)
    num = sum(np.where(z.notna(), z * w, 0.0) for z, w in terms)
    den = sum(np.where(z.notna(), abs(w), 0.0) for z, w in terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(np.where(den > 0, num / den, np.nan), index=table.index)


def typology(area_table: pd.DataFrame, *, config=None, priority_areas: Iterable | None = None,
             area_id: str = "id") -> pd.DataFrame:
    """Classify areas into the territorial typology.

    Parameters
    ----------
    area_table : DataFrame or GeoDataFrame
        One row per area with its indicators (e.g. the output of :func:`~access.indicators.aggregate` joined with
        socio-economic columns such as ``poverty_rate``, ``median_income``, ``share_elderly``, ``density``).
    config : path, mapping or None
        Settings; see ``data/typology_default.toml`` for every key and its default.
    priority_areas : iterable of ids, optional
        Areas under a priority contract (added to ``[classes] priority_areas`` of the config).
    area_id : str
        Id column of ``area_table``.

    Returns
    -------
    DataFrame (GeoDataFrame when given one)
        The input columns plus ``z_<column>`` for every column used, ``supply_score``, ``access_score``,
        ``social_fragility``, ``cultural_fragility``, ``class``, ``reason`` (the sub-scores behind the class, in
        words) and ``notes`` (inputs skipped).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"id": ["a", "b", "c", "d"], "venues_per_10k": [1., 5., 5., 1.],
    ...                   "time_mean": [40., 10., 10., 40.], "poverty_rate": [.3, .1, .3, .1]})
    >>> typology(t, priority_areas=["d"])["class"].tolist()
    ['cumulates cultural and social fragility', 'no particular stake', 'social fragility', 'priority contract zone']
    """
    if not isinstance(area_table, pd.DataFrame):
        raise ValidationError(f"`area_table` must be a DataFrame, not {type(area_table).__name__}")
    if area_id not in area_table.columns:
        raise ValidationError(f"`area_table` has no id column {area_id!r} (columns: {list(area_table.columns)})")
    if area_table[area_id].isna().any() or area_table[area_id].duplicated().any():
        raise ValidationError(f"`area_table[{area_id!r}]` must hold unique, non-missing ids")
    cfg = load_typology_config(config)
    comb, cls = cfg["combine"], cfg["classes"]
    prio = set(cls.get("priority_areas", [])) | set(priority_areas or [])
    unknown = prio - set(area_table[area_id])
    notes: list[str] = []
    if unknown:
        notes.append(f"priority areas not in the table: {sorted(map(str, unknown))[:10]}")
    zcols: dict = {}
    table = area_table.copy()
    supply = _score(area_table, cfg["supply"], notes, "supply", zcols)
    access = _score(area_table, cfg["access"], notes, "access", zcols)
    social = _score(area_table, cfg["social"], notes, "social", zcols)
    ws, wa = float(comb.get("supply_weight", 0.5)), float(comb.get("access_weight", 0.5))
    if ws < 0 or wa < 0 or ws + wa == 0:
        raise ValidationError(f"[combine] supply_weight and access_weight must be >= 0 and not both 0, got {ws}, {wa}")
    parts = np.vstack([np.where(supply.notna(), ws * supply, 0.0), np.where(access.notna(), wa * access, 0.0)])
    den = np.where(supply.notna(), ws, 0.0) + np.where(access.notna(), wa, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cultural = pd.Series(np.where(den > 0, -parts.sum(axis=0) / den, np.nan), index=table.index)
    for c, z in zcols.items():
        table[f"z_{c}"] = z
    table["supply_score"] = supply
    table["access_score"] = access
    table["social_fragility"] = social
    table["cultural_fragility"] = cultural
    tc, tsoc = float(cls.get("cultural_threshold", 0.5)), float(cls.get("social_threshold", 0.5))
    cf = (cultural >= tc).to_numpy()
    sf = (social >= tsoc).to_numpy()
    pr = table[area_id].isin(prio).to_numpy()
    nodata = (cultural.isna() & social.isna()).to_numpy()
    klass = np.select([pr, nodata, cf & sf, cf, sf],
                      [CLASSES[0], CLASSES[5], CLASSES[1], CLASSES[2], CLASSES[3]], CLASSES[4])
    table["class"] = klass

    def reason(i):
        s = (f"cultural fragility {cultural.iloc[i]:+.2f} (threshold {tc:g}; supply {supply.iloc[i]:+.2f}, "
             f"access {access.iloc[i]:+.2f}), social fragility {social.iloc[i]:+.2f} (threshold {tsoc:g})")
        return ("in the priority contract list; " + s) if pr[i] else s

    table["reason"] = [reason(i) for i in range(len(table))]
    table["notes"] = "; ".join(notes)
    return table
