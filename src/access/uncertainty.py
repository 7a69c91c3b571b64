"""How solid is an accessibility number? Per-departure-minute accessibility, its distribution carried to areas,
and the stability of siting choices and typology classes across departure minutes and parameter variations.

Transit travel times change with the departure minute. The usual summary -- accessibility computed from a
travel-time percentile (the median over the window) -- is not the distribution of accessibility: the median of
the per-minute accessibility differs from the accessibility of the median travel times (R5 issue r5#785).
:func:`per_minute_accessibility` computes the measure at *each* departure minute of the window (from the matrix's
``per_minute_s``), then its mean and percentiles over the minutes; :func:`area_distribution` carries the
per-minute values to areas (population-weighted mean per area at each minute) and reports the mean and an
interval (e.g. 5-95%) over the minutes.

For decisions, :func:`site_stability` says how often each chosen site is chosen again across variants (departure
minutes, walking speeds, thresholds) and :func:`class_stability` / :func:`typology_stability` how often an area
keeps its class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._errors import ValidationError
from .core import siting_kernels as sk

__all__ = [
    "PerMinuteAccessibility",
    "per_minute_accessibility",
    "accessibility_from_percentile",
    "area_distribution",
    "site_stability",
    "siting_variants",
    "class_stability",
    "typology_stability",
    "minute_area_tables",
]


def _nearest_rank(values: np.ndarray, p: float, axis: int) -> np.ndarray:
    """R5's nearest-rank percentile (``ceil(p/100*n) - 1`` of the sorted values), as the matrix uses for times."""
    n = values.shape[axis]
    i = min(max(int(np.ceil(float(p) / 100.0 * n)) - 1, 0), n - 1)
    return np.take(np.sort(values, axis=axis), i, axis=axis)


@dataclass
class PerMinuteAccessibility:
    """Accessibility of each origin at each departure minute: ``values`` float64[n_origins, n_minutes].

    ``measure`` is "cumulative" (opportunities within ``cutoff_min``) or "nearest" (minutes to the nearest
    destination with opportunities; ``inf`` none within the matrix's bound).
    """

    from_ids: np.ndarray
    values: np.ndarray
    measure: str
    cutoff_min: float | None
    departure_minutes: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def n_minutes(self) -> int:
        return int(self.values.shape[1])

    def summary(self, percentiles: Sequence[float] = (5, 25, 50, 75, 95)) -> pd.DataFrame:
        """Per origin: ``mean``, ``sd`` and ``p<NN>`` over the departure minutes (nearest-rank percentiles).

        For "nearest" the mean is over the minutes with a finite value and ``share_minutes_unreachable`` is
        added.
        """
        v = self.values
        df = pd.DataFrame({"id": self.from_ids})
        if self.measure == "nearest":
            fin = np.isfinite(v)
            with np.errstate(invalid="ignore", divide="ignore"):
                df["mean"] = np.where(fin.any(axis=1), np.where(fin, v, 0).sum(axis=1) / fin.sum(axis=1), np.inf)
            df["share_minutes_unreachable"] = 1.0 - fin.mean(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"), __import__("warnings").catch_warnings():
                __import__("warnings").simplefilter("ignore", RuntimeWarning)
                df["sd"] = np.nanstd(np.where(fin, v, np.nan), axis=1)
        else:
            df["mean"] = v.mean(axis=1)
            df["sd"] = v.std(axis=1)
        for p in percentiles:
            df[f"p{p:g}"] = _nearest_rank(v, p, axis=1)
        return df


def _opportunities(ttm, opportunities) -> np.ndarray:
    if isinstance(opportunities, pd.Series) and not isinstance(opportunities.index, pd.RangeIndex):
        o_s = opportunities.reindex(ttm.to_ids)
        if o_s.isna().any():
            raise ValidationError("`opportunities` (a Series indexed by destination id) lacks destinations, e.g. "
                                  f"{ttm.to_ids[o_s.isna().to_numpy()][:3].tolist()!r}")
        o = o_s.to_numpy(np.float64)
    else:
        o = np.asarray(opportunities, np.float64).reshape(-1)
    if o.shape[0] != len(ttm.to_ids):
        raise ValidationError(f"`opportunities` has {o.shape[0]} values for {len(ttm.to_ids)} destinations")
    if (~np.isfinite(o) | (o < 0)).any():
        raise ValidationError("`opportunities` must be finite and >= 0")
    return np.ascontiguousarray(o)


def per_minute_accessibility(ttm, opportunities, *, cutoff_min: float | None = None,
                             measure: str = "cumulative") -> PerMinuteAccessibility:
    """Accessibility at every departure minute of a transit matrix's window.

    Parameters
    ----------
    ttm : TravelTimeMatrix
        Computed with ``mode="transit", per_minute=True`` (``ttm.per_minute_s`` int32[n_o, n_d, n_minutes]).
        A street matrix (no per-minute times) is accepted as a one-minute window.
    opportunities : array-like or Series
        Opportunities per destination (in the matrix's destination order, or a Series indexed by id).
    cutoff_min : float
        "cumulative": count the opportunities reachable within this many minutes.
    measure : {"cumulative", "nearest"}
        "nearest": minutes to the nearest destination with opportunities > 0.

    Returns
    -------
    PerMinuteAccessibility
        ``.summary()`` gives the mean and percentiles over the minutes per origin.

    Examples
    --------
    >>> ttm = travel_time_matrix(net, cells, venues, mode="transit", departure=dep, window_min=30,
    ...                          per_minute=True)  # doctest: +SKIP
    >>> pm = per_minute_accessibility(ttm, venues["capacity"], cutoff_min=30)  # doctest: +SKIP
    >>> pm.summary().head()  # doctest: +SKIP
    """
    opp = _opportunities(ttm, opportunities)
    t = ttm.per_minute_s if getattr(ttm, "per_minute_s", None) is not None else ttm.times_s[:, :, :1]
    t = np.ascontiguousarray(t, np.int32)
    n_m = t.shape[2]
    dep = np.arange(n_m)
    if measure == "cumulative":
        if cutoff_min is None or not (cutoff_min > 0):
            raise ValidationError(f"measure='cumulative' needs a positive `cutoff_min`, got {cutoff_min!r}")
        vals = sk.cumulative_per_minute(t, opp, np.int32(round(cutoff_min * 60)))
    elif measure == "nearest":
        near = sk.nearest_per_minute(t, opp > 0)
        vals = np.where(near < 0, np.inf, near / 60.0)
    else:
        raise ValidationError(f"unknown measure {measure!r}; use 'cumulative' or 'nearest'")
    return PerMinuteAccessibility(np.asarray(ttm.from_ids), vals, measure, cutoff_min, dep,
                                  dict(getattr(ttm, "settings", {}) or {}))


def accessibility_from_percentile(ttm, opportunities, *, cutoff_min: float, percentile_index: int = 0) -> np.ndarray:
    """float64[n_o]: cumulative accessibility from one travel-time percentile (what most tools report), to
    compare with :func:`per_minute_accessibility`'s distribution."""
    opp = _opportunities(ttm, opportunities)
    t = np.ascontiguousarray(ttm.times_s[:, :, percentile_index:percentile_index + 1], np.int32)
    return sk.cumulative_per_minute(t, opp, np.int32(round(cutoff_min * 60)))[:, 0]


def area_distribution(pm: PerMinuteAccessibility, cells, areas, *, population: str = "population",
                      cell_id: str = "id", area_id: str = "id", interval: tuple[float, float] = (5, 95),
                      threshold_min: float | None = None):
    """Per-area accessibility over the departure minutes: mean and an interval.

    At each minute the area's value is the population-weighted mean of its cells' values (the same weighting as
    :func:`access.indicators.aggregate`; cells split between areas by overlay weights); over the minutes the
    table gives ``mean``, ``sd``, ``p<lo>``, ``p50``, ``p<hi>`` (nearest rank) and ``interval_width``.
    For ``measure="nearest"`` the area value is the share of population within ``threshold_min`` of a
    destination (required).

    Returns a GeoDataFrame (areas' geometry) with ``area_id, population`` and those columns, and the per-minute
    area values as the ``per_minute`` attribute (DataFrame areas x minutes) in ``.attrs``.
    """
    import geopandas as gpd

    from .indicators.aggregate import attach_cells

    if pm.measure == "nearest" and threshold_min is None:
        raise ValidationError("for measure='nearest' give `threshold_min`: the area value is the share of "
                              "population within it")
    if population not in cells.columns:
        raise ValidationError(f"`cells` has no population column {population!r} (columns: {list(cells.columns)})")
    links = attach_cells(cells, areas, cell_id=cell_id, area_id=area_id)
    a_col = links.columns[1]
    pos = pd.Index(pm.from_ids).get_indexer(links[cell_id].to_numpy())
    if (pos < 0).any():
        raise ValidationError(f"cells {links[cell_id][pos < 0].tolist()[:5]!r} are not origins of the accessibility")
    pop = pd.to_numeric(cells.set_index(cell_id)[population], errors="coerce").reindex(links[cell_id]).to_numpy(float)
    if np.isnan(pop).any() or (pop < 0).any():
        raise ValidationError(f"population column {population!r} must be numbers >= 0")
    w = pop * links["weight"].to_numpy(float)
    v = pm.values[pos]
    if pm.measure == "nearest":
        assert threshold_min is not None  # (checked above)
        v = (v <= float(threshold_min)).astype(np.float64)
    codes, uniq = pd.factorize(links[a_col])
    na = len(uniq)
    import scipy.sparse as sp

    W = sp.csr_matrix((w, (codes, np.arange(len(w)))), shape=(na, len(w)))
    ok = np.isfinite(v)
    num = W @ np.where(ok, v, 0.0)
    den = W @ ok.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_min = num / den  # [na, n_minutes]
    lo, hi = interval
    res = pd.DataFrame({area_id: areas[area_id].to_numpy()})
    per = pd.DataFrame(per_min, index=uniq)
    per = per.reindex(res[area_id].to_numpy())
    pm_arr = per.to_numpy()
    res["population"] = pd.Series(np.asarray(W.sum(axis=1)).ravel(), index=uniq).reindex(res[area_id]).fillna(0.0) \
        .to_numpy()
    with np.errstate(invalid="ignore"):
        res["mean"] = pm_arr.mean(axis=1)
        res["sd"] = pm_arr.std(axis=1)
    for p in (lo, 50, hi):
        res[f"p{p:g}"] = _nearest_rank(pm_arr, p, axis=1)
    res["interval_width"] = res[f"p{hi:g}"] - res[f"p{lo:g}"]
    geom = areas.set_index(area_id).geometry.reindex(res[area_id]).to_numpy()
    out = gpd.GeoDataFrame(res, geometry=geom, crs=areas.crs)
    out.attrs["per_minute"] = per
    return out


# ============================================================================================ stability
def site_stability(result, variants: Mapping[str, Any]) -> pd.DataFrame:
    """How often each chosen site is chosen again across variants; adds a ``stability`` column to
    ``result.table`` (share of the variants that choose the site) and ``details["stability"]``.

    ``variants``: label -> a :class:`~access.siting.SitingResult` (or a sequence of chosen site ids) computed
    under a variation (a departure minute, a walking speed, a threshold). Also reported: the mean Jaccard
    similarity of the variant choices with the result's, and the share of variants choosing exactly the same set.
    Returns the per-variant table (``variant, sites, jaccard``).
    """
    if not variants:
        raise ValidationError("`variants` is empty: give at least one variant result")
    base = set(map(str, result.site_ids.tolist()))
    rows = []
    counts = {s: 0 for s in base}
    for label, v in variants.items():
        ids = list(v.site_ids.tolist()) if hasattr(v, "site_ids") else list(v)
        sv = set(map(str, ids))
        for s in base & sv:
            counts[s] += 1
        jac = len(base & sv) / len(base | sv) if base | sv else 1.0
        rows.append({"variant": label, "sites": ids, "jaccard": jac, "same_set": sv == base})
    n = len(variants)
    result.table["stability"] = [counts[str(s)] / n for s in result.site_ids.tolist()]
    per = pd.DataFrame(rows)
    result.details["stability"] = dict(n_variants=n, mean_jaccard=float(per["jaccard"].mean()),
                                       share_same_set=float(per["same_set"].mean()),
                                       variants=[str(x) for x in per["variant"]])
    return per


def siting_variants(solve: Callable, times, *, minutes: bool = True, thresholds_min: Sequence[float] = (),
                    times_variants: Mapping[str, object] | None = None, **kw) -> dict:
    """Run ``solve(times, **kw)`` under variations and return ``label -> SitingResult``.

    * ``minutes``: one run per departure minute (``times.at_minute(m)``, transit with per-minute times);
    * ``thresholds_min``: one run per threshold (``threshold_min=`` replaced);
    * ``times_variants``: label -> other :class:`~access.siting.CandidateTimes` (e.g. other walking speeds).
    """
    out = {}
    if minutes and getattr(times, "per_minute_s", None) is not None:
        for m in range(times.n_minutes):
            out[f"minute {m}"] = solve(times.at_minute(m), **kw)
    for t in thresholds_min:
        out[f"threshold {t:g} min"] = solve(times, **dict(kw, threshold_min=t))
    for label, tv in (times_variants or {}).items():
        out[str(label)] = solve(tv, **kw)
    return out


def class_stability(classes: pd.DataFrame, *, baseline: str | None = None) -> pd.DataFrame:
    """Per area (rows) over variants (columns of class labels): the baseline class, the modal class, the share of
    variants giving the baseline class (``stability``) and the number of distinct classes."""
    if not isinstance(classes, pd.DataFrame) or classes.shape[1] == 0:
        raise ValidationError("`classes` must be a DataFrame: one row per area, one column of classes per variant")
    base_col = baseline if baseline is not None else classes.columns[0]
    if base_col not in classes.columns:
        raise ValidationError(f"baseline {base_col!r} is not a column of `classes` ({list(classes.columns)})")
    others = classes.drop(columns=[base_col]) if classes.shape[1] > 1 else classes
    b = classes[base_col]
    stab = others.eq(b, axis=0).mean(axis=1)
    modal = classes.mode(axis=1)[0]
    return pd.DataFrame({"class": b, "modal_class": modal, "stability": stab,
                         "n_classes": classes.nunique(axis=1)}, index=classes.index)


def minute_area_tables(dist, base_table: pd.DataFrame, *, column: str, area_id: str = "id") -> dict:
    """One area table per departure minute: ``base_table`` with ``column`` replaced by the area values of that
    minute (from :func:`area_distribution`'s ``attrs["per_minute"]``), ready for :func:`typology_stability`."""
    per = dist.attrs.get("per_minute") if hasattr(dist, "attrs") else None
    if per is None:
        raise ValidationError("`dist` must be the output of area_distribution (it carries attrs['per_minute'])")
    if area_id not in base_table.columns:
        raise ValidationError(f"`base_table` has no id column {area_id!r}")
    out = {}
    for m in per.columns:
        t = base_table.copy()
        t[column] = t[area_id].map(per[m]).to_numpy(float)
        out[f"minute {m}"] = t
    return out


def typology_stability(area_tables: Mapping[str, pd.DataFrame], *, baseline: str | None = None, config=None,
                       area_id: str = "id", priority_areas=None) -> pd.DataFrame:
    """Classify each variant's area table with :func:`access.indicators.typology` and report
    :func:`class_stability` (e.g. variants = per-departure-minute area tables, or tables at other walking speeds
    or thresholds). Returns one row per area."""
    from .indicators.typology import typology

    if not area_tables:
        raise ValidationError("`area_tables` is empty")
    cols = {}
    for label, t in area_tables.items():
        ty = typology(t, config=config, priority_areas=priority_areas, area_id=area_id)
        cols[label] = ty.set_index(area_id)["class"]
    df = pd.DataFrame(cols)
    return class_stability(df, baseline=baseline)
