"""Inequality measures against hand-computed small cases, and on real Belo Horizonte accessibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from access._errors import ValidationError
from tests._data import test_data_dir as _data_dir
from access.indicators import (
    concentration_index,
    cumulative_cutoff,
    fgt_poverty,
    gini_index,
    palma_ratio,
    theil_t,
    weighted_gini,
    weighted_median,
    weighted_quantile_hmisc,
    weighted_theil_t,
)


def _tables(x, pop, income=None, group=None):
    n = len(x)
    a = pd.DataFrame({"id": np.arange(n), "acc": x})
    s = pd.DataFrame({"id": np.arange(n), "pop": pop})
    if income is not None:
        s["inc"] = income
    if group is not None:
        s["grp"] = group
    return a, s


def test_gini_hand_cases():
    # equal access: 0; all access on one of 4 equal people: 1 - 2 * (0 + 0 + 0 + 1/2) / 4 = 0.75
    assert weighted_gini([5, 5, 5], [1, 2, 3]) == pytest.approx(0.0, abs=1e-15)
    assert weighted_gini([0, 0, 0, 1], [1, 1, 1, 1]) == pytest.approx(0.75)
    # weights = replication: (x=1, w=2), (x=3, w=1) equals the unweighted 3-person case [1, 1, 3]
    # Lorenz: p=(1/3, 2/3, 1), L=(1/5, 2/5, 1): area = (0+.2)/6 + (.2+.4)/6 + (.4+1)/6 = 2.2/6 -> G = 1 - 4.4/6
    assert weighted_gini([1, 3], [2, 1]) == pytest.approx(1 - 4.4 / 6)
    assert weighted_gini([3, 1, 1], [1, 1, 1]) == pytest.approx(1 - 4.4 / 6)
    a, s = _tables([3, 1], [1, 2])
    assert gini_index(a, s, opportunity="acc", population="pop")["gini_index"][0] == pytest.approx(1 - 4.4 / 6)
    assert np.isnan(weighted_gini([0, 0], [1, 1]))


def test_theil_hand_cases_and_decomposition():
    # x = (1, 3), equal weights: mu = 2 -> T = 1/2 (0.5 ln 0.5 + 1.5 ln 1.5)
    exp = 0.5 * (0.5 * np.log(0.5) + 1.5 * np.log(1.5))
    assert weighted_theil_t([1, 3], [1, 1]) == pytest.approx(exp, rel=1e-12)
    # zero access counts as 0 ln 0 = 0: x = (0, 2): mu = 1 -> T = 1/2 * 2 ln 2 = ln 2
    assert weighted_theil_t([0, 2], [1, 1]) == pytest.approx(np.log(2), rel=1e-12)
    # decomposition: groups A = {1, 3} (pop 1, 1), B = {4} (pop 2)
    a, s = _tables([1, 3, 4], [1, 1, 2], group=["A", "A", "B"])
    res = theil_t(a, s, opportunity="acc", population="pop", socioeconomic_groups="grp")
    summ = res["summary"].set_index("component")["value"]
    total = weighted_theil_t([1, 3, 4], [1, 1, 2])
    # by hand: mu = 3, s_A = 4/12, s_B = 8/12, p_A = p_B = 1/2
    between = (1 / 3) * np.log((1 / 3) / 0.5) + (2 / 3) * np.log((2 / 3) / 0.5)
    within = (1 / 3) * exp + (2 / 3) * 0.0
    assert summ["between_group"] == pytest.approx(between, rel=1e-12)
    assert summ["within_group"] == pytest.approx(within, rel=1e-12)
    assert summ["total"] == pytest.approx(total, rel=1e-12)
    assert res["summary"]["share_of_total"].sum() == pytest.approx(2.0)
    assert res["within_group_component"]["share_of_component"].sum() == pytest.approx(1.0)
    assert res["between_group_component"].set_index("grp")["value"]["B"] == pytest.approx(
        (2 / 3) * np.log(4 / 3), rel=1e-12)


def test_concentration_index_hand_cases():
    # two equal people, the richer has all access: CI = 0.5 (see docstring); the poorer: -0.5
    a, s = _tables([0, 10], [1, 1], income=[1, 2])
    ci = concentration_index(a, s, opportunity="acc", population="pop", income="inc")
    assert ci["concentration_index"][0] == pytest.approx(0.5)
    a2, s2 = _tables([10, 0], [1, 1], income=[1, 2])
    assert concentration_index(a2, s2, opportunity="acc", population="pop", income="inc")[
        "concentration_index"][0] == pytest.approx(-0.5)
    # corrected (Erreygers): CI * 4 mu / (max - min) = 0.5 * 4 * 5 / 10 = 1
    cc = concentration_index(a, s, opportunity="acc", population="pop", income="inc", type="corrected")
    assert cc["concentration_index"][0] == pytest.approx(1.0)
    # three people, weights: p = (.25, .25, .5) ordered by income; r = (.125, .375, .75); x = (1, 2, 4)
    a3, s3 = _tables([4, 1, 2], [2, 1, 1], income=[30, 10, 20])
    mu = 0.25 * 1 + 0.25 * 2 + 0.5 * 4
    exp = 2 * ((0.125 - .5) * (1 - mu) * .25 + (.375 - .5) * (2 - mu) * .25 + (.75 - .5) * (4 - mu) * .5) / mu
    got = concentration_index(a3, s3, opportunity="acc", population="pop", income="inc")["concentration_index"][0]
    assert got == pytest.approx(exp, rel=1e-12)
    with pytest.raises(ValidationError, match="type"):
        concentration_index(a, s, opportunity="acc", population="pop", income="inc", type="x")


def test_palma_and_quantiles_hand_cases():
    # Hmisc wtd.quantile with unit weights, x = 0..9: q40 at order 4.6 -> 3 + 0.6 * (4 - 3) = 3.6
    q = weighted_quantile_hmisc(np.arange(10), np.ones(10), [0.4, 0.9])
    assert q.tolist() == pytest.approx([3.6, 8.1])
    a, s = _tables([1, 1, 1, 1, 2, 2, 2, 2, 2, 8], [1] * 10, income=list(range(10)))
    assert palma_ratio(a, s, opportunity="acc", population="pop", income="inc")["palma_ratio"][0] == 8.0
    assert weighted_median([10, 20, 30], [1, 1, 5]) == 30
    assert weighted_median([10, 20, 30], [1, 1, 1]) == 20
    assert weighted_median([10, 20], [1, 1]) == 10  # lower median


def test_fgt_hand_cases():
    a, s = _tables([5, 20, 0], [1, 3, 4])
    r = fgt_poverty(a, s, opportunity="acc", population="pop", poverty_line=10).iloc[0]
    # shortfalls: 0.5 (w 1), 0 (w 3), 1 (w 4); W = 8
    assert r["FGT0"] == pytest.approx(5 / 8)
    assert r["FGT1"] == pytest.approx((0.5 + 4) / 8)
    assert r["FGT2"] == pytest.approx((0.25 + 4) / 8)


def test_group_by_and_bad_inputs():
    a, s = _tables([1, 3, 4, 4], [1, 1, 2, 2])
    a["epci"] = ["x", "x", "y", "y"]
    g = gini_index(a, s, opportunity="acc", population="pop", group_by="epci")
    assert g["epci"].tolist() == ["x", "y"]
    assert g["gini_index"].tolist() == pytest.approx([weighted_gini([1, 3], [1, 1]), 0.0])
    bad = s.copy()
    bad.loc[0, "pop"] = -1
    with pytest.raises(ValidationError, match="negative"):
        gini_index(a, bad, opportunity="acc", population="pop")
    bad.loc[0, "pop"] = np.nan
    with pytest.raises(ValidationError, match="NaN"):
        theil_t(a, bad, opportunity="acc", population="pop")
    with pytest.raises(ValidationError, match="absent from `sociodemographic_data`"):
        gini_index(a, s.iloc[1:], opportunity="acc", population="pop")
    with pytest.raises(ValidationError, match="no column 'nope'"):
        gini_index(a, s, opportunity="nope", population="pop")


@pytest.fixture(scope="module")
def bh_access():
    d = _data_dir() / "belo_horizonte"
    if not (d / "travel_matrix.parquet").exists():
        pytest.skip(f"real data absent: {d}")
    lu = pd.read_csv(d / "land_use_data.csv")
    acc = cumulative_cutoff(d / "travel_matrix.parquet", lu, opportunity="jobs", cutoff=30)
    return acc, lu


def test_real_data_twins(bh_access):
    acc, lu = bh_access
    m = acc.merge(lu, on="id", suffixes=("", "_lu"))
    # Gini as a pandas twin: sort, Lorenz by trapezoids
    d = m.sort_values("jobs", kind="stable")
    p = d.population / d.population.sum()
    L = (d.population * d.jobs).cumsum() / (d.population * d.jobs).sum()
    exp = 1 - ((L.shift(fill_value=0) + L) * p).sum()
    got = gini_index(acc, lu, opportunity="jobs", population="population")["gini_index"][0]
    assert got == pytest.approx(exp, rel=1e-9)
    assert 0 < got < 1
    # concentration index needs an income for every id
    lu_inc = lu.dropna(subset=["income_per_capita"])
    acc_inc = acc[acc.id.isin(lu_inc.id)]
    ci = concentration_index(acc_inc, lu_inc, opportunity="jobs", population="population",
                             income="income_per_capita", type="corrected")["concentration_index"][0]
    assert 0 < ci < 1  # richer areas of Belo Horizonte reach more jobs
    with pytest.raises(ValidationError, match="income_per_capita.*missing"):
        concentration_index(acc, lu, opportunity="jobs", population="population", income="income_per_capita")
    pr = palma_ratio(acc_inc, lu_inc, opportunity="jobs", population="population", income="income_per_capita")
    assert pr["palma_ratio"][0] > 1
    th = theil_t(acc_inc, lu_inc, opportunity="jobs", population="population", socioeconomic_groups="income_decile")
    summ = th["summary"].set_index("component")["value"]
    total = theil_t(acc_inc, lu_inc, opportunity="jobs", population="population")["theil_t"][0]
    assert summ["total"] == pytest.approx(total, rel=1e-9)
    assert summ["between_group"] > 0 and summ["within_group"] > 0
    f = fgt_poverty(acc, lu, opportunity="jobs", population="population", poverty_line=95368).iloc[0]
    w = lu.set_index("id").population.reindex(acc.id).to_numpy(float)
    x = acc.jobs.to_numpy()
    assert f["FGT0"] == pytest.approx(np.sum(w * (x < 95368)) / w.sum(), rel=1e-12)
    assert 0 <= f["FGT2"] <= f["FGT1"] <= f["FGT0"] <= 1
