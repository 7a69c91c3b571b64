"""Inequality and poverty of accessibility, population-weighted, as in the R package ``accessibility``.

Each public function takes ``accessibility_data`` (``id`` + an accessibility column, e.g. the output of
:func:`~access.indicators.cumulative_cutoff`) and ``sociodemographic_data`` (``id`` + population [+ income]),
and returns a DataFrame (one row per ``group_by`` group; one row overall when ``group_by`` is empty).

The array-level functions (``weighted_gini``, ``weighted_theil_t``, ``weighted_median``, ...) take numpy arrays
of values and weights; the aggregation by area uses them directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._errors import ValidationError

__all__ = [
    "gini_index",
    "palma_ratio",
    "theil_t",
    "concentration_index",
    "fgt_poverty",
    "weighted_gini",
    "weighted_theil_t",
    "weighted_median",
    "weighted_quantile_hmisc",
]


# ----------------------------------------------------------------------------------------------------------------
# array level
# ----------------------------------------------------------------------------------------------------------------
def _clean(x, w):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    ok = ~np.isnan(x) & ~np.isnan(w)
    return x[ok], w[ok]


def weighted_gini(x, w) -> float:
    """Population-weighted Gini index: 1 - 2 x area under the Lorenz curve (trapezoids), as in R.

    NaN when there is no positive total (``sum(w * x) == 0``) or no weight. NaN values are ignored.

    Examples
    --------
    >>> weighted_gini([0, 0, 0, 1], [1, 1, 1, 1])
    0.75
    """
    x, w = _clean(x, w)
    tot = np.sum(w * x)
    if len(x) == 0 or np.sum(w) <= 0 or tot == 0:
        return float("nan")
    o = np.argsort(x, kind="stable")
    x, w = x[o], w[o]
    p = w / w.sum()
    cum = np.cumsum(w * x) / tot
    prev = np.r_[0.0, cum[:-1]]
    return float(1.0 - np.sum((prev + cum) * p))


def weighted_theil_t(x, w) -> float:
    """Population-weighted Theil T: ``sum_i (w_i / W) (x_i / mu) ln(x_i / mu)``, with ``0 ln 0 = 0``.

    NaN when the weighted mean is 0 or there is no weight.

    Examples
    --------
    >>> round(weighted_theil_t([1, 1, 1, 1], [1, 2, 3, 4]), 12)
    0.0
    """
    x, w = _clean(x, w)
    W = np.sum(w)
    if len(x) == 0 or W <= 0:
        return float("nan")
    mu = np.sum(w * x) / W
    if not mu > 0:
        return float("nan")
    r = x / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(r > 0, r * np.log(r), 0.0)
    return float(np.sum(w * t) / W)


def weighted_median(x, w) -> float:
    """Lower weighted median: the smallest value whose cumulative weight reaches half of the total.

    Examples
    --------
    >>> weighted_median([10, 20, 30], [1, 1, 5])
    30.0
    """
    x, w = _clean(x, w)
    keep = w > 0
    x, w = x[keep], w[keep]
    if len(x) == 0:
        return float("nan")
    o = np.argsort(x, kind="stable")
    x, w = x[o], w[o]
    cw = np.cumsum(w)
    return float(x[np.searchsorted(cw, 0.5 * cw[-1], side="left")])


def weighted_quantile_hmisc(x, w, probs) -> np.ndarray:
    """Weighted quantiles as ``Hmisc::wtd.quantile(type = "quantile", normwt = FALSE)`` (used by R's Palma ratio).

    Examples
    --------
    >>> weighted_quantile_hmisc([1, 2, 3, 4], [1, 1, 1, 1], [0.5]).tolist()
    [2.5]
    """
    x, w = _clean(x, w)
    probs = np.atleast_1d(np.asarray(probs, dtype=np.float64))
    if len(x) == 0:
        return np.full(len(probs), np.nan)
    xs, inv = np.unique(x, return_inverse=True)
    ws = np.bincount(inv, weights=w)
    n = ws.sum()
    order = 1.0 + (n - 1.0) * probs
    low = np.maximum(np.floor(order), 1.0)
    high = np.minimum(low + 1.0, n)
    frac = order % 1.0
    cum = np.cumsum(ws)

    def step(v):  # approx(cum, xs, v, method = "constant", f = 1, rule = 2)
        return xs[np.clip(np.searchsorted(cum, v, side="left"), 0, len(xs) - 1)]

    return (1.0 - frac) * step(low) + frac * step(high)


# ----------------------------------------------------------------------------------------------------------------
# table level
# ----------------------------------------------------------------------------------------------------------------
def _groups(group_by) -> list[str]:
    if group_by is None:
        return []
    return [group_by] if isinstance(group_by, str) else list(group_by)


def _merge(accessibility_data, sociodemographic_data, opportunity, population, extra=(), group_by=()):
    for name, df in (("accessibility_data", accessibility_data), ("sociodemographic_data", sociodemographic_data)):
        if not isinstance(df, pd.DataFrame):
            raise ValidationError(f"`{name}` must be a pandas DataFrame, not {type(df).__name__}")
        if "id" not in df.columns:
            raise ValidationError(f"`{name}` has no 'id' column (columns: {list(df.columns)})")
    for c in (opportunity, *group_by):
        if c not in accessibility_data.columns:
            raise ValidationError(
                f"`accessibility_data` has no column {c!r} (columns: {list(accessibility_data.columns)})"
            )
    for c in (population, *extra):
        if c not in sociodemographic_data.columns:
            raise ValidationError(
                f"`sociodemographic_data` has no column {c!r} (columns: {list(sociodemographic_data.columns)})"
            )
    sd = sociodemographic_data[["id", population, *[e for e in extra if e != population]]]
    if sd["id"].duplicated().any():
        dup = sd["id"][sd["id"].duplicated()].tolist()
        raise ValidationError(f"`sociodemographic_data['id']` has {len(dup)} duplicate(s), e.g. {dup[0]!r}")
    pop = pd.to_numeric(sd[population], errors="coerce")
    if pop.isna().any() or (pop < 0).any():
        bad = sd["id"][pop.isna() | (pop < 0)]
        raise ValidationError(
            f"`sociodemographic_data[{population!r}]` has {len(bad)} NaN or negative value(s), e.g. at id "
            f"{bad.tolist()[0]!r}; populations must be >= 0"
        )
    cols = ["id", opportunity, *[g for g in group_by if g not in ("id", opportunity)]]
    data = accessibility_data[cols].merge(sd, on="id", how="left", validate="many_to_one", indicator=True)
    miss = data["id"][data["_merge"] != "both"]
    if len(miss):
        raise ValidationError(
            f"{len(miss)} id(s) of `accessibility_data` are absent from `sociodemographic_data`, e.g. "
            f"{miss.tolist()[0]!r}; add them or filter the accessibility table"
        )
    return data.drop(columns="_merge")


def _apply(data: pd.DataFrame, group_by: list[str], fn, name: str) -> pd.DataFrame:
    if not group_by:
        return pd.DataFrame({name: [fn(data)]})
    out = data.groupby(group_by, sort=True, dropna=False).apply(fn, include_groups=False)
    return out.rename(name).reset_index()


def gini_index(accessibility_data, sociodemographic_data, *, opportunity: str, population: str,
               group_by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Population-weighted Gini index of accessibility.

    Returns
    -------
    DataFrame
        [group columns,] ``gini_index``.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"id": [1, 2], "jobs": [0, 10]})
    >>> s = pd.DataFrame({"id": [1, 2], "population": [1, 1]})
    >>> gini_index(a, s, opportunity="jobs", population="population")["gini_index"].tolist()
    [0.5]
    """
    g = _groups(group_by)
    data = _merge(accessibility_data, sociodemographic_data, opportunity, population, group_by=g)
    return _apply(data, g, lambda d: weighted_gini(d[opportunity], d[population]), "gini_index")


def palma_ratio(accessibility_data, sociodemographic_data, *, opportunity: str, population: str, income: str,
                group_by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Palma ratio: mean accessibility of the richest 10% over that of the poorest 40% (population-weighted).

    The income thresholds are the 40% and 90% population-weighted quantiles of ``income`` over the whole
    ``sociodemographic_data`` (``Hmisc::wtd.quantile``, as in R); poorest: income <= q40, richest: income > q90.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"id": list(range(10)), "jobs": [1, 1, 1, 1, 2, 2, 2, 2, 2, 8]})
    >>> s = pd.DataFrame({"id": list(range(10)), "population": [1] * 10, "income": list(range(10))})
    >>> palma_ratio(a, s, opportunity="jobs", population="population", income="income")["palma_ratio"].tolist()
    [8.0]
    """
    g = _groups(group_by)
    data = _merge(accessibility_data, sociodemographic_data, opportunity, population, extra=(income,), group_by=g)
    inc_all = pd.to_numeric(sociodemographic_data[income], errors="coerce").to_numpy(float)
    q40, q90 = weighted_quantile_hmisc(inc_all, sociodemographic_data[population].to_numpy(float), [0.4, 0.9])
    inc = data[income].to_numpy(float)
    data["_grp"] = np.where(inc <= q40, "poorest", np.where(inc > q90, "wealthiest", ""))

    def fn(d):
        def wmean(sel):
            dd = d[d["_grp"] == sel]
            w = dd[population].to_numpy(float)
            return np.sum(w * dd[opportunity].to_numpy(float)) / np.sum(w) if np.sum(w) > 0 else np.nan
        return wmean("wealthiest") / wmean("poorest")

    with np.errstate(divide="ignore", invalid="ignore"):
        return _apply(data, g, fn, "palma_ratio")


def concentration_index(accessibility_data, sociodemographic_data, *, opportunity: str, population: str,
                        income: str, type: str = "standard",
                        group_by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Concentration index of accessibility by income: standard, or corrected (Erreygers 2009).

    With population shares ``p_i`` ordered by increasing income (stable order for ties), fractional ranks
    ``r_i = sum_{k<i} p_k + p_i / 2`` and the weighted mean ``mu``::

        CI = 2 sum_i p_i (r_i - 1/2) (x_i - mu) / mu          corrected: CI * 4 mu / (max(x) - min(x))

    Positive values: accessibility concentrated among the rich.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"id": [1, 2], "jobs": [0, 10]})
    >>> s = pd.DataFrame({"id": [1, 2], "population": [1, 1], "income": [1, 2]})
    >>> ci = concentration_index(a, s, opportunity="jobs", population="population", income="income")
    >>> ci["concentration_index"].tolist()
    [0.5]
    """
    if type not in ("standard", "corrected"):
        raise ValidationError(f"`type` must be 'standard' or 'corrected', got {type!r}")
    g = _groups(group_by)
    data = _merge(accessibility_data, sociodemographic_data, opportunity, population, extra=(income,), group_by=g)
    if data[income].isna().any():
        bad = data["id"][data[income].isna()]
        raise ValidationError(
            f"`sociodemographic_data[{income!r}]` is missing for {len(bad)} id(s) of `accessibility_data`, e.g. "
            f"{bad.tolist()[0]!r}; drop those ids (their rank by income is undefined)"
        )

    def fn(d):
        d = d.sort_values(income, kind="stable")
        w = d[population].to_numpy(float)
        x = d[opportunity].to_numpy(float)
        p = w / w.sum()
        r = np.cumsum(p) - p / 2
        mu = np.sum(p * x)
        ci = 2 * np.sum((r - 0.5) * (x - mu) * p / mu)
        if type == "corrected":
            ci = ci * 4 * mu / (x.max() - x.min())
        return ci

    with np.errstate(divide="ignore", invalid="ignore"):
        return _apply(data, g, fn, "concentration_index")


def fgt_poverty(accessibility_data, sociodemographic_data, *, opportunity: str, population: str,
                poverty_line: float, group_by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Foster-Greer-Thorbecke accessibility poverty: FGT0 (headcount), FGT1 (gap), FGT2 (severity).

    ``FGTa = sum_i w_i [x_i < z] ((z - x_i) / z)**a / sum_i w_i`` with poverty line ``z``.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"id": [1, 2], "jobs": [5, 20]})
    >>> s = pd.DataFrame({"id": [1, 2], "population": [1, 3]})
    >>> fgt_poverty(a, s, opportunity="jobs", population="population", poverty_line=10).iloc[0].tolist()
    [0.25, 0.125, 0.0625]
    """
    z = float(poverty_line)
    if not (np.isfinite(z) and z > 0):
        raise ValidationError(f"`poverty_line` must be a finite number > 0, got {poverty_line!r}")
    g = _groups(group_by)
    data = _merge(accessibility_data, sociodemographic_data, opportunity, population, group_by=g)

    def fn(d):
        x = d[opportunity].to_numpy(float)
        w = d[population].to_numpy(float)
        s = np.where(x < z, (z - x) / z, 0.0)
        poor = (x < z).astype(float)
        W = w.sum()
        return pd.Series({"FGT0": np.sum(w * poor) / W, "FGT1": np.sum(w * s) / W, "FGT2": np.sum(w * s * s) / W})

    if not g:
        return fn(data).to_frame().T.reset_index(drop=True)
    return data.groupby(g, sort=True, dropna=False).apply(fn, include_groups=False).reset_index()


def theil_t(accessibility_data, sociodemographic_data, *, opportunity: str, population: str,
            socioeconomic_groups: str | None = None, group_by: str | Sequence[str] | None = None):
    """Population-weighted Theil T index, optionally decomposed into between- and within-group components.

    ``T = sum_i (w_i / W) (x_i / mu) ln(x_i / mu)`` with ``0 ln 0 = 0``. With ``socioeconomic_groups`` (a column
    of ``sociodemographic_data``, e.g. the income decile or the EPCI of each cell), ``T = T_between + T_within``
    where ``T_between = sum_g s_g ln(s_g / p_g)`` (access share ``s_g``, population share ``p_g``) and
    ``T_within = sum_g s_g T_g``.

    Differences from R: cells with zero accessibility count as ``0 ln 0 = 0`` with their full population weight
    (R drops them from the weights without groups, and returns NaN with groups); this keeps the decomposition
    exact.

    Returns
    -------
    DataFrame (``theil_t``) without ``socioeconomic_groups``; otherwise a dict with ``summary`` (component,
    value, share_of_total), ``within_group_component`` (value, share_of_component) and
    ``between_group_component`` (value), as in R.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"id": [1, 2], "jobs": [1, 3]})
    >>> s = pd.DataFrame({"id": [1, 2], "population": [1, 1]})
    >>> round(float(theil_t(a, s, opportunity="jobs", population="population")["theil_t"][0]), 6)
    0.130812
    """
    g = _groups(group_by)
    if socioeconomic_groups is None:
        data = _merge(accessibility_data, sociodemographic_data, opportunity, population, group_by=g)
        return _apply(data, g, lambda d: weighted_theil_t(d[opportunity], d[population]), "theil_t")
    data = _merge(accessibility_data, sociodemographic_data, opportunity, population,
                  extra=(socioeconomic_groups,), group_by=g)
    if data[socioeconomic_groups].isna().any():
        raise ValidationError(
            f"`sociodemographic_data[{socioeconomic_groups!r}]` is missing for "
            f"{int(data[socioeconomic_groups].isna().sum())} id(s); drop them or give them a group"
        )
    data["_wx"] = data[population].astype(float) * data[opportunity].astype(float)
    keys = [*g, socioeconomic_groups]
    rows = []
    for key, d in data.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        rows.append((*key, d["_wx"].sum(), d[population].astype(float).sum(),
                     weighted_theil_t(d[opportunity], d[population])))
    summ = pd.DataFrame(rows, columns=[*keys, "tot_access", "tot_pop", "group_theil_t"])
    tot_a: pd.Series | float
    tot_p: pd.Series | float
    if g:
        tot_a = summ.groupby(g)["tot_access"].transform("sum")
        tot_p = summ.groupby(g)["tot_pop"].transform("sum")
    else:
        tot_a, tot_p = summ["tot_access"].sum(), summ["tot_pop"].sum()
    summ["access_share"] = summ["tot_access"] / tot_a
    summ["pop_share"] = summ["tot_pop"] / tot_p
    with np.errstate(divide="ignore", invalid="ignore"):
        summ["within"] = np.where(summ["access_share"] > 0, summ["access_share"] * summ["group_theil_t"], 0.0)
        summ["between"] = np.where(summ["access_share"] > 0,
                                   summ["access_share"] * np.log(summ["access_share"] / summ["pop_share"]), 0.0)
    agg = summ.groupby(g, sort=True)[["between", "within"]].sum().reset_index() if g else \
        pd.DataFrame({"between": [summ["between"].sum()], "within": [summ["within"].sum()]})
    agg["total"] = agg["between"] + agg["within"]
    summary = agg.melt(id_vars=g, value_vars=["between", "within", "total"], var_name="component",
                       value_name="value")
    summary["component"] = summary["component"].map({"between": "between_group", "within": "within_group",
                                                     "total": "total"})
    if g:
        summary = summary.sort_values([*g], kind="stable", ignore_index=True)
        summary["share_of_total"] = 2 * summary["value"] / summary.groupby(g)["value"].transform("sum")
    else:
        summary["share_of_total"] = 2 * summary["value"] / summary["value"].sum()
    within = summ[keys].copy()
    within["value"] = summ["within"]
    denom = within.groupby(g)["value"].transform("sum") if g else within["value"].sum()
    within["share_of_component"] = within["value"] / denom
    between = summ[keys].copy()
    between["value"] = summ["between"]
    return {"summary": summary, "within_group_component": within, "between_group_component": between}
