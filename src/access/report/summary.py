"""``summary.md``: what a reader of a run needs, with statistics over everyone.

Every figure counts every inhabitant: a median time counts those who reach no venue within the trip limit as
"beyond T minutes" (it is not a mean over those who reach one), shares within and beyond a threshold are shares of
all inhabitants. The computed class and the priority contract zone are shown side by side with the reason; the
sources are listed with their dates; a warning says where transit covers part of the region only.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._io_util import atomic_path

__all__ = ["population_stats", "write_run_summary", "computed_class", "transit_coverage"]


def _weighted_median(t: np.ndarray, w: np.ndarray) -> float:
    """Weighted median of times with ``inf`` (none reachable) counted as the largest values."""
    ok = ~np.isnan(t) & (w > 0)
    t, w = t[ok], w[ok]
    if not len(t):
        return float("nan")
    o = np.argsort(t, kind="stable")
    cw = np.cumsum(w[o])
    return float(t[o][np.searchsorted(cw, 0.5 * cw[-1])])


def population_stats(times, population, threshold_min: float) -> dict:
    """Over every inhabitant: ``median_min`` (inf when over half reach none within the trip limit),
    ``share_within`` (time <= T), ``share_beyond`` (1 - within, counting those who reach none) and
    ``share_none`` (no venue within the trip limit).

    >>> population_stats([5.0, 20.0, float("inf")], [1, 1, 2], 30)["median_min"]
    20.0
    """
    t = np.asarray(times, float)
    w = np.asarray(population, float)
    tot = w[~np.isnan(t)].sum()
    if tot <= 0:
        return dict(median_min=np.nan, share_within=np.nan, share_beyond=np.nan, share_none=np.nan)
    within = w[t <= threshold_min].sum() / tot
    return dict(median_min=_weighted_median(t, w), share_within=within, share_beyond=1.0 - within,
                share_none=w[np.isinf(t)].sum() / tot)


def computed_class(cultural: float, social: float, *, cultural_threshold: float = 0.5,
                   social_threshold: float = 0.5) -> str:
    """The class the typology's scores give, before a priority contract overrides it."""
    from ..indicators.typology import CLASSES, NO_DATA

    cn, sn = pd.isna(cultural), pd.isna(social)
    if cn and sn:
        return NO_DATA
    cf = not cn and cultural >= cultural_threshold
    sf = not sn and social >= social_threshold
    return CLASSES[1] if cf and sf else CLASSES[2] if cf else CLASSES[3] if sf else CLASSES[4]


def _minutes(v: float, max_time_min: float) -> str:
    if v is None or np.isnan(v):
        return "–"
    if np.isinf(v):
        return f"beyond {max_time_min:g}"
    return f"{v:.0f}"


def _pct(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{100 * float(v):.0f} %"


def transit_coverage(cells: pd.DataFrame, area_of_cell: pd.Series) -> pd.DataFrame | None:
    """Per area, the share of inhabitants for whom transit is faster than walking (``time_transit_any`` <
    ``time_walk_any``); None without both columns. An area at 0 is not served by the feeds at that time."""
    if not {"time_transit_any", "time_walk_any"} <= set(cells.columns):
        return None
    tr = cells["time_transit_any"].to_numpy(float)
    wk = cells["time_walk_any"].to_numpy(float)
    pop = cells["population"].to_numpy(float)
    faster = (tr < wk - 1e-9)
    d = pd.DataFrame({"area": area_of_cell.to_numpy(), "pop": pop, "served": np.where(faster, pop, 0.0)})
    g = d.groupby("area").sum()
    return pd.DataFrame({"population": g["pop"], "share_served": g["served"] / g["pop"].where(g["pop"] > 0)})


def _file_date(p) -> str:
    try:
        ts = Path(p).stat().st_mtime
    except OSError:
        return "–"
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).date().isoformat()


def write_run_summary(path, *, title: str, settings: str, cells, areas, venues, modes: Sequence[str],
                      threshold_min: float, max_time_min: float, timings: Mapping[str, float],
                      typology_thresholds: tuple[float, float] = (0.5, 0.5),
                      sources: Sequence[Mapping[str, str]] = (), files: str = "") -> Path:
    """Write ``summary.md`` (see the module docstring). ``cells`` carry ``population``, ``area`` (the area id of
    each cell) and ``time_<mode>_any`` (minutes, inf = none within ``max_time_min``); ``areas`` the typology
    table (``id``, ``name``, ``class``, ``priority_zone``, ``reason``, ``cultural_fragility``,
    ``social_fragility``, ...)."""
    T = float(threshold_min)
    pop_total = float(cells["population"].sum())
    lines = [f"# Access to culture — {title}", "", settings, "",
             f"- {len(cells):,} populated 200 m cells, {pop_total:,.0f} inhabitants",
             f"- {len(venues):,} venues: " + ", ".join(f"{k} {v}" for k, v in
                                                    venues["category"].value_counts().sort_index().items()),
             f"- {len(areas)} areas (EPCI)", ""]
    cover = transit_coverage(cells, cells["area"]) if "transit" in modes else None
    if cover is not None:
        unserved = cover[(cover["share_served"].fillna(0) == 0) & (cover["population"] > 0)]
        if len(unserved):
            names = areas.set_index("id")["name"] if "name" in areas.columns else pd.Series(dtype=str)
            who = ", ".join(str(names.get(i, i)) for i in unserved.index[:12])
            more = f" and {len(unserved) - 12} more" if len(unserved) > 12 else ""
            lines += [f"> **Warning: transit covers part of the region only.** In {len(unserved)} of {len(cover)} "
                      f"EPCIs ({unserved['population'].sum():,.0f} inhabitants, "
                      f"{unserved['population'].sum() / pop_total:.0%} of the region) transit is nowhere faster "
                      f"than walking at the departure time: the GTFS feeds do not serve them, and their transit "
                      f"figures are walking times ({who}{more}).", ""]
    lines += ["## How to read the figures", "",
              "Every figure counts every inhabitant. *Median minutes*: half the inhabitants reach a venue of any "
              f"category within this many minutes; those who reach none within {max_time_min:g} minutes count as "
              f"the slowest, so the median reads \"beyond {max_time_min:g}\" when they are more than half. *Within "
              f"{T:g} minutes* and *beyond {T:g} minutes* are shares of all inhabitants (beyond includes those who "
              "reach none).", ""]
    lines += ["## Region, all inhabitants", "",
              f"| mode | median minutes | within {T:g} minutes | beyond {T:g} minutes | no venue within "
              f"{max_time_min:g} minutes |", "|---|---|---|---|---|"]
    for m in modes:
        c = f"time_{m}_any"
        if c not in cells.columns:
            continue
        s = population_stats(cells[c], cells["population"], T)
        lines.append(f"| {m} | {_minutes(s['median_min'], max_time_min)} | {_pct(s['share_within'])} | "
                     f"{_pct(s['share_beyond'])} | {_pct(s['share_none'])} |")
    lines += [""]
    counts = areas["class"].value_counts()
    lines += ["## Typology", ""] + [f"- {k}: {v}" for k, v in counts.items()] + [""]
    head = ["EPCI", "name", "population", "venues per 10,000"]
    for m in modes:
        head += [f"{m}: median minutes", f"{m}: within {T:g} minutes", f"{m}: beyond {T:g} minutes"]
    head += ["poverty rate", "computed class", "priority zone", "reason"]
    lines += ["## Per EPCI", "",
              "The computed class is the one the scores give; an EPCI of a priority contract zone is classified "
              "*priority contract zone* in the tables and maps whatever its scores.", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_area = {k: g for k, g in cells.groupby("area")}
    tc, ts = typology_thresholds
    for _, r in areas.sort_values("population", ascending=False).iterrows():
        cg = by_area.get(r["id"])
        row = [str(r["id"]), str(r.get("name", "")), f"{float(r['population']):,.0f}",
               "–" if pd.isna(r.get("venues_per_10k")) else f"{float(r['venues_per_10k']):.1f}"]
        for m in modes:
            c = f"time_{m}_any"
            if cg is None or c not in cells.columns:
                row += ["–", "–", "–"]
                continue
            s = population_stats(cg[c], cg["population"], T)
            row += [_minutes(s["median_min"], max_time_min), _pct(s["share_within"]), _pct(s["share_beyond"])]
        reason = str(r.get("reason", "")).replace("in the priority contract list; ", "")
        pz = r.get("priority_zone")
        row += [_pct(r.get("poverty_rate")),
                computed_class(r.get("cultural_fragility", np.nan), r.get("social_fragility", np.nan),
                               cultural_threshold=tc, social_threshold=ts),
                "–" if pz is None or pd.isna(pz) else str(pz), reason]
        lines.append("| " + " | ".join(row) + " |")
    if sources:
        lines += ["", "## Sources", "", "| source | kind | file | date | licence | origin |",
                  "|---|---|---|---|---|---|"]
        for src in sources:
            s = dict(src)
            lines.append(f"| {s.get('name', '')} | {s.get('kind', '')} | {s.get('file', '')} | {s.get('date', '')} | "
                         f"{s.get('licence', '')} | {s.get('origin', '')} |")
    lines += ["", "## Run", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
    if files:
        lines += ["", files]
    lines += [""]
    path = Path(path)
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return path


def source_rows(recipe, files: Mapping[str, object] | None, service_dates=None) -> list[dict]:
    """One row per enabled source of a recipe: name, kind, file, date (the file's date; for GTFS the service
    dates of the network), licence, origin (URL or local path)."""
    rows = []
    for s in recipe.enabled_sources():
        f = (files or {}).get(s.name)
        date = _file_date(f) if f is not None else "–"
        if s.kind == "gtfs" and service_dates:
            date = f"file {date}; service {service_dates[0]} .. {service_dates[1]}"
        rows.append(dict(name=s.name, kind=s.kind, file=Path(str(f)).name if f is not None else "–", date=date,
                         licence=s.licence, origin=s.url or str(s.path or "")))
    return rows
