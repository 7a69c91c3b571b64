"""Scenario outputs a reader can trust: the edits applied (``scenario.json``), the per-area table as CSV next to
the GeoPackage, and which changes are material (a tolerance per kind of measure) with the population affected."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .._io_util import atomic_path
from .tables import write_table

__all__ = ["TOLERANCE", "material_effects", "write_scenario_outputs"]

#: smallest change that counts as material: 0.5 minutes for times, 1 percentage point for shares, else 1 %
#: of the baseline value (counts of venues reachable, gravity, 2SFCA)
TOLERANCE = {"time_min": 0.5, "share": 0.01, "relative": 0.01}
#: a scenario is material when the people materially better or worse off are at least this share of everyone
MATERIAL_POPULATION_SHARE = 0.01


def _tolerance(measure: str, before: np.ndarray) -> np.ndarray:
    if measure.startswith("time"):
        return np.full(len(before), TOLERANCE["time_min"])
    if "share" in measure or "rate" in measure:
        return np.full(len(before), TOLERANCE["share"])
    return np.maximum(np.abs(np.nan_to_num(before, posinf=0.0, neginf=0.0)) * TOLERANCE["relative"], 1e-9)


def material_effects(cells: pd.DataFrame, measures, *, population: str = "population") -> pd.DataFrame:
    """Per measure: the tolerance, the people materially better / worse off (|delta| at least the tolerance;
    gaining or losing all access always counts), their share of everyone, and ``material`` (that share >= 1 %).

    ``cells`` is :attr:`access.scenarios.Comparison.cells` (``<m>_before``, ``<m>_after``, ``<m>_delta``).
    """
    pop = cells[population].to_numpy(float) if population in cells.columns else np.ones(len(cells))
    total = pop.sum()
    rows = []
    for m in measures:
        b = cells[f"{m}_before"].to_numpy(float)
        a = cells[f"{m}_after"].to_numpy(float)
        with np.errstate(invalid="ignore"):
            d = a - b
        d = np.where(b == a, 0.0, d)
        tol = _tolerance(m, b)
        gain = -d if m.startswith("time") else d
        better = (np.nan_to_num(gain, nan=0.0, posinf=np.inf, neginf=-np.inf) >= tol)
        worse = (np.nan_to_num(gain, nan=0.0, posinf=np.inf, neginf=-np.inf) <= -tol)
        pb, pw = float(pop[better].sum()), float(pop[worse].sum())
        share = (pb + pw) / total if total > 0 else np.nan
        unit = ("minutes" if m.startswith("time") else "share (0-1)" if ("share" in m or "rate" in m)
                else "relative (of the baseline value)")
        rows.append(dict(measure=m, tolerance=float(tol[0]) if m.startswith("time") or "share" in m or "rate" in m
                         else TOLERANCE["relative"], tolerance_unit=unit, cells_better=int(better.sum()),
                         cells_worse=int(worse.sum()), population_better=pb, population_worse=pw,
                         population_affected=pb + pw, share_of_population_affected=share,
                         material=bool(share >= MATERIAL_POPULATION_SHARE) if np.isfinite(share) else False))
    return pd.DataFrame(rows)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if hasattr(x, "wkt"):
        return x.wkt
    return str(x)


def write_scenario_outputs(cmp, scenario, out_dir, *, settings: dict | None = None) -> list[Path]:
    """Write ``areas.csv`` (when the comparison has areas), ``effects.csv`` (:func:`material_effects`) and
    ``scenario.json`` (the scenario's name, source file and every edit applied with its checked parameters, the
    run's settings, the tolerances and the effects). Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    if getattr(cmp, "areas", None) is not None:
        a = cmp.areas.copy()
        for c in a.columns:
            if c != a.geometry.name and pd.api.types.is_float_dtype(a[c]):
                a[c] = a[c].replace([np.inf, -np.inf], np.nan)
        paths += write_table(a, out / "areas", formats=("csv",))
    eff = material_effects(cmp.cells, cmp.measures)
    with atomic_path(out / "effects.csv", suffix=".csv") as tmp:
        eff.to_csv(tmp, index=False)
    paths.append(out / "effects.csv")
    doc = {
        "scenario": scenario.name, "source": scenario.source,
        "edits": [dict(name=e.name, section=e.section, kind=e.kind, params=_jsonable(e.params))
                  for e in scenario.edits],
        "settings": _jsonable(settings or {}),
        "tolerance": {"time_minutes": TOLERANCE["time_min"], "share_points": TOLERANCE["share"],
                      "other_relative": TOLERANCE["relative"], "material_population_share": MATERIAL_POPULATION_SHARE},
        "effects": _jsonable(eff.to_dict(orient="records")),
        "notes": list(getattr(cmp, "notes", [])),
    }
    with atomic_path(out / "scenario.json", suffix=".json") as tmp:
        tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    paths.append(out / "scenario.json")
    return paths
