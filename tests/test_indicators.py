"""Accessibility measures on the real Belo Horizonte matrix, each against an independent pandas formula.

The pandas twins below follow the R package ``accessibility`` step by step (merge, filter, group, sum) on the full
in-memory matrix; the measures under test read it in small chunks (``chunk_rows``) through numba kernels.
Tolerance: relative 1e-9 (absolute 1e-9 near zero).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from access._errors import InputFileError, ValidationError
from tests._data import test_data_dir as _data_dir
from access.indicators import (
    balancing_cost,
    cost_to_closest,
    cumulative_cutoff,
    cumulative_interval,
    decay_binary,
    decay_exponential,
    decay_linear,
    decay_logistic,
    decay_power,
    decay_stepped,
    floating_catchment_area,
    gravity,
    spatial_availability,
)

RTOL = 1e-9
CHUNK = 100_000  # several chunks per run: exercises the per-chunk reductions


@pytest.fixture(scope="module")
def bh():
    d = _data_dir() / "belo_horizonte"
    if not (d / "travel_matrix.parquet").exists():
        pytest.skip(f"real data absent: {d} (set ACCESS_TEST_DATA)")
    m = pd.read_parquet(d / "travel_matrix.parquet")
    lu = pd.read_csv(d / "land_use_data.csv")
    return m, lu, d / "travel_matrix.parquet"


def _close(result: pd.DataFrame, expected: pd.Series, col: str):
    got = result.set_index("id")[col]
    exp = expected.reindex(got.index)
    assert len(got) == len(expected), (len(got), len(expected))
    assert set(got.index) == set(expected.index)
    np.testing.assert_allclose(got.to_numpy(float), exp.to_numpy(float), rtol=RTOL, atol=1e-9)


def _join(m, lu, cols, side="to_id"):
    return m.merge(lu[["id", *cols]].rename(columns={"id": side}), on=side, how="left")


# --------------------------------------------------------------------------------------------------------------
# decay functions against their closed forms
# --------------------------------------------------------------------------------------------------------------
def test_decay_functions_closed_forms():
    t = np.array([0.0, 0.5, 1.0, 10.0, 30.0, 45.0, 60.0])
    np.testing.assert_array_equal(decay_binary(30)(t), (t <= 30).astype(float))
    np.testing.assert_allclose(decay_linear(40)(t), np.where(t <= 40, 1 - t / 40, 0))
    np.testing.assert_allclose(decay_exponential(0.1)(t), np.exp(-0.1 * t))
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(decay_power(0.5)(t), np.minimum(1, t ** -0.5))
    k = np.pi / (5 * np.sqrt(3))
    np.testing.assert_allclose(decay_logistic(30, 5)(t), (1 + np.exp(-30 * k)) / (1 + np.exp((t - 30) * k)))
    assert decay_logistic(30, 5)(np.array([0.0]))[0] == 1.0
    st = decay_stepped([10, 20, 30, 40], [0.75, 0.5, 0.25, 0.0])
    assert st(np.array([5, 10, 25, 35, 45, 0])).tolist() == [1, 0.75, 0.5, 0.25, 0, 1]


@pytest.mark.parametrize("bad", [lambda: decay_binary(-1), lambda: decay_linear(0), lambda: decay_logistic(30, 0),
                                 lambda: decay_stepped([10, 5], [0.5, 0.2]), lambda: decay_stepped([10], [1.5])])
def test_decay_bad_parameters(bad):
    with pytest.raises(ValidationError):
        bad()


# --------------------------------------------------------------------------------------------------------------
# measures vs pandas twins
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("active", [True, False])
def test_cumulative_cutoff(bh, active):
    m, lu, path = bh
    opp = "jobs" if active else "population"
    side, grp = ("to_id", "from_id") if active else ("from_id", "to_id")
    d = _join(m, lu, [opp], side)
    exp = d[d.travel_time <= 30].groupby(grp)[opp].sum().reindex(m[grp].unique(), fill_value=0)
    res = cumulative_cutoff(path, lu, opportunity=opp, travel_cost="travel_time", cutoff=30, active=active,
                            chunk_rows=CHUNK)
    assert list(res.columns) == ["id", opp]
    _close(res, exp, opp)
    # several cutoffs -> a cutoff column, as in R
    res2 = cumulative_cutoff(m, lu, opportunity=opp, cutoff=[60, 30], active=active, chunk_rows=CHUNK)
    assert list(res2.columns) == ["id", "cutoff", opp]
    _close(res2[res2.cutoff == 30], exp, opp)


def test_cumulative_interval(bh):
    m, lu, path = bh
    d = _join(m, lu, ["jobs"])
    per_cut = []
    for c in range(20, 31):
        per_cut.append(d[d.travel_time <= c].groupby("from_id")["jobs"].sum().reindex(m.from_id.unique(),
                                                                                       fill_value=0))
    med = np.floor(pd.concat(per_cut, axis=1).median(axis=1))
    res = cumulative_interval(path, lu, opportunity="jobs", interval=(20, 30), chunk_rows=CHUNK)
    _close(res, med, "jobs")
    mean = np.floor(pd.concat(per_cut, axis=1).mean(axis=1))
    _close(cumulative_interval(m, lu, opportunity="jobs", interval=(20, 30), summary_function="mean"), mean, "jobs")


@pytest.mark.parametrize("decay", [decay_exponential(0.1), decay_linear(50), decay_power(0.5),
                                   decay_logistic(40, 10), decay_stepped([15, 30, 45], [0.7, 0.4, 0.1]),
                                   decay_binary(45)], ids=str)
def test_gravity(bh, decay):
    m, lu, path = bh
    d = _join(m, lu, ["jobs"])
    t = d.travel_time.to_numpy()
    if decay.kind == "exponential":
        w = np.exp(-0.1 * t)
    elif decay.kind == "linear":
        w = np.where(t <= 50, 1 - t / 50, 0)
    elif decay.kind == "power":
        with np.errstate(divide="ignore"):
            w = np.minimum(1, t ** -0.5)
    elif decay.kind == "logistic":
        w = (1 + np.exp(-40 * np.pi / (10 * np.sqrt(3)))) / (1 + np.exp((t - 40) * np.pi / (10 * np.sqrt(3))))
    elif decay.kind == "stepped":
        w = np.select([t < 15, t < 30, t < 45], [1.0, 0.7, 0.4], 0.1)
    else:
        w = (t <= 45).astype(float)
    exp = (d.jobs * w).groupby(d.from_id).sum()
    _close(gravity(path, lu, opportunity="jobs", decay_function=decay, chunk_rows=CHUNK), exp, "jobs")


def _fca_twin(m, lu, w_fn, method):
    d = _join(m, lu, ["jobs"])
    d = d.merge(lu[["id", "population"]].rename(columns={"id": "from_id"}), on="from_id")
    d["w"] = w_fn(d.travel_time.to_numpy())
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "2sfca":
            served = (d.population * d.w).groupby(d.to_id).transform("sum")
            d["x"] = d.jobs / served * d.w
        else:
            bi = d.w / d.w.groupby(d.from_id).transform("sum")
            bj = d.w / d.w.groupby(d.to_id).transform("sum")
            served = (d.population * bi).groupby(d.to_id).transform(lambda s: s.sum(skipna=True))
            d["x"] = d.jobs / served * bj
    return d.x.groupby(d.from_id).sum()  # pandas sum skips NaN, like na.rm = TRUE


@pytest.mark.parametrize("method,decay,w_fn", [
    ("2sfca", decay_binary(50), lambda t: (t <= 50).astype(float)),
    ("2sfca", decay_exponential(0.1), lambda t: np.exp(-0.1 * t)),
    ("bfca", decay_exponential(0.5), lambda t: np.exp(-0.5 * t)),
    ("bfca", decay_binary(30), lambda t: (t <= 30).astype(float)),
])
def test_floating_catchment_area(bh, method, decay, w_fn):
    m, lu, path = bh
    exp = _fca_twin(m, lu, w_fn, method)
    res = floating_catchment_area(path, lu, opportunity="jobs", travel_cost="travel_time", demand="population",
                                  method=method, decay_function=decay, chunk_rows=CHUNK)
    _close(res, exp, "jobs")


@pytest.mark.parametrize("alpha", [1.0, 0.7])
def test_spatial_availability(bh, alpha):
    m, lu, path = bh
    d = _join(m, lu, ["jobs"]).merge(lu[["id", "population"]].rename(columns={"id": "from_id"}), on="from_id")
    d["w"] = np.exp(-0.1 * d.travel_time)
    total = (lu.population.astype(float) ** alpha).sum()
    d["dbf"] = d.population.astype(float) ** alpha / total
    d["ibf"] = d.w / d.w.groupby(d.to_id).transform("sum")
    d["comb"] = d.dbf * d.ibf / (d.dbf * d.ibf).groupby(d.to_id).transform("sum")
    # R sums without na.rm: a destination reached only from unpopulated origins (0/0) makes its origins NaN
    exp = (d.comb * d.jobs).groupby(d.from_id).agg(lambda s: s.sum(skipna=False))
    assert exp.isna().any()
    res = spatial_availability(path, lu, opportunity="jobs", demand="population", alpha=alpha,
                               decay_function=decay_exponential(0.1), chunk_rows=CHUNK)
    _close(res, exp, "jobs")
    # availability is conserved: all origins together get the opportunities of every destination reached
    fine = d.groupby("to_id").comb.apply(lambda s: s.notna().all())
    reached = lu.set_index("id").loc[fine.index[fine], "jobs"].sum()
    assert res.jobs.sum(skipna=True) <= lu.jobs.sum() and reached > 0


@pytest.mark.parametrize("n", [1, 2, 5])
def test_cost_to_closest(bh, n):
    m, lu, path = bh
    d = _join(m, lu, ["schools"])
    d = d[d.schools > 0].sort_values(["from_id", "travel_time"])
    d["cum"] = d.groupby("from_id").schools.cumsum()
    exp = d[d.cum >= n].groupby("from_id").travel_time.min().reindex(m.from_id.unique(), fill_value=np.inf)
    res = cost_to_closest(path, lu, opportunity="schools", n=n, chunk_rows=CHUNK)
    assert list(res.columns) == ["id", "travel_time"]
    got = res.set_index("id").travel_time.reindex(exp.index)
    np.testing.assert_array_equal(got.to_numpy(), exp.to_numpy())
    assert np.isinf(got).sum() > 0  # some origins never reach n schools within the matrix


def test_balancing_cost(bh):
    m, lu, path = bh
    d = _join(m, lu, ["jobs"])
    pop = lu.set_index("id").population
    # independent route: the smallest matrix cost t* with opportunities(cost <= t*) > population, then rounded up
    # to the increment grid (R scans 0, 1, 2, ... and stops at the first grid cost that balances)
    per = d.groupby(["from_id", "travel_time"]).jobs.sum().reset_index().sort_values(["from_id", "travel_time"])
    per["cum"] = per.groupby("from_id").jobs.cumsum()
    per = per[per.cum > pop.reindex(per.from_id).to_numpy()]
    tstar = per.groupby("from_id").travel_time.min()
    exp = np.ceil(tstar).reindex(m.from_id.unique())
    exp[pop.reindex(exp.index).to_numpy() == 0] = 0.0
    res = balancing_cost(path, lu, opportunity="jobs", demand="population", chunk_rows=CHUNK)
    got = res.set_index("id").travel_time.reindex(exp.index)
    np.testing.assert_array_equal(got.to_numpy(), exp.to_numpy())


def test_group_by_matrix_column_and_land_use_category(bh):
    m, lu, path = bh
    # a matrix column (as R's group_by): two "departure times", the second one 10 minutes slower
    m2 = pd.concat([m.assign(departure="08:00"), m.assign(departure="09:00", travel_time=m.travel_time + 10)])
    res = cumulative_cutoff(m2, lu, opportunity="jobs", cutoff=30, group_by="departure", chunk_rows=CHUNK)
    assert list(res.columns) == ["id", "departure", "jobs"]
    assert len(res) == 2 * m.from_id.nunique()
    base = cumulative_cutoff(m, lu, opportunity="jobs", cutoff=30)
    slow = cumulative_cutoff(m.assign(travel_time=m.travel_time + 10), lu, opportunity="jobs", cutoff=30)
    _close(res[res.departure == "08:00"], base.set_index("id").jobs, "jobs")
    _close(res[res.departure == "09:00"], slow.set_index("id").jobs, "jobs")
    # a land-use category of destinations: same as running on each category's sub-matrix
    lu2 = lu.assign(kind=np.where(lu.income_decile.fillna(0) >= 6, "rich", "poor"))
    res = cost_to_closest(path, lu2, opportunity="jobs", group_by="kind", chunk_rows=CHUNK)
    for kind in ("rich", "poor"):
        sub = m[m.to_id.isin(lu2.id[lu2.kind == kind])]
        exp = cost_to_closest(sub, lu2, opportunity="jobs").set_index("id").travel_time
        exp = exp.reindex(m.from_id.unique(), fill_value=np.inf)
        got = res[res.kind == kind].set_index("id").travel_time.reindex(exp.index)
        np.testing.assert_array_equal(got.to_numpy(), exp.to_numpy())
    fca = floating_catchment_area(m, lu2, opportunity="jobs", demand="population", group_by="kind",
                                  decay_function=decay_binary(40))
    sub = m[m.to_id.isin(lu2.id[lu2.kind == "rich"])]
    exp = _fca_twin(sub, lu2, lambda t: (t <= 40).astype(float), "2sfca").reindex(m.from_id.unique(), fill_value=0)
    _close(fca[fca.kind == "rich"], exp, "jobs")


def test_percentile_columns_and_travel_time_matrix_object(bh):
    m, lu, _ = bh
    mp = m.rename(columns={"travel_time": "travel_time_p50"}).assign(travel_time_p80=m.travel_time + 5)
    with pytest.raises(ValidationError, match="travel_time_p50"):
        cumulative_cutoff(mp, lu, opportunity="jobs", cutoff=30)
    a = cumulative_cutoff(mp, lu, opportunity="jobs", cutoff=30, travel_cost="travel_time_p50")
    b = cumulative_cutoff(m, lu, opportunity="jobs", cutoff=30)
    pd.testing.assert_frame_equal(a, b)

    class Framed:  # anything with .to_frame()
        def to_frame(self):
            return m

    pd.testing.assert_frame_equal(cumulative_cutoff(Framed(), lu, opportunity="jobs", cutoff=30), b)


def test_travel_time_matrix_streamed_by_origin_batches(bh):
    """An object shaped like access.matrix.TravelTimeMatrix (int32 seconds, -1 unreachable, two percentiles)."""
    m, lu, _ = bh
    ids = lu.id.to_numpy()
    pos = pd.Index(ids)
    sec = np.full((len(ids), len(ids), 2), -1, dtype=np.int32)
    fi, ti = pos.get_indexer(m.from_id), pos.get_indexer(m.to_id)
    sec[fi, ti, 0] = np.round(m.travel_time.to_numpy() * 60).astype(np.int32)
    sec[fi, ti, 1] = sec[fi, ti, 0] + 300

    class TTM:
        from_ids = ids
        to_ids = ids
        times_s = sec
        percentiles = (50, 80)

    long = pd.DataFrame({"from_id": np.repeat(ids, len(ids)), "to_id": np.tile(ids, len(ids)),
                         "travel_time_p80": sec[:, :, 1].reshape(-1) / 60.0})
    long = long[long.travel_time_p80 > 0]
    for f, kw in ((cumulative_cutoff, {"cutoff": 40}), (gravity, {"decay_function": decay_exponential(0.05)}),
                  (floating_catchment_area, {"demand": "population", "decay_function": decay_binary(40)})):
        a = f(TTM(), lu, opportunity="jobs", travel_cost="travel_time_p80", chunk_rows=50_000, **kw)
        b = f(long, lu, opportunity="jobs", travel_cost="travel_time_p80", **kw)
        assert len(a) == len(ids)  # every origin of the matrix object, reachable or not
        _close(a, b.set_index("id").jobs.reindex(a.id, fill_value=0.0), "jobs")


def test_nan_costs_are_unreachable_but_ids_kept():
    m = pd.DataFrame({"from_id": [1, 1, 2], "to_id": [1, 2, 2], "travel_time": [5.0, 10.0, np.nan]})
    lu = pd.DataFrame({"id": [1, 2], "jobs": [3, 4], "population": [10, 0]})
    r = cumulative_cutoff(m, lu, opportunity="jobs", cutoff=30)
    assert r.id.tolist() == [1, 2] and r.jobs.tolist() == [7.0, 0.0]
    assert cost_to_closest(m, lu, opportunity="jobs").travel_time.tolist() == [5.0, np.inf]


# --------------------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------------------
def test_bad_inputs(bh, tmp_path):
    m, lu, _ = bh
    small = m.iloc[:1000]
    with pytest.raises(ValidationError, match=r"to_id.*absent from `land_use_data\['id'\]`.*e.g."):
        cumulative_cutoff(small, lu[lu.id != small.to_id.iloc[0]], opportunity="jobs", cutoff=30)
    with pytest.raises(ValidationError, match="from_id.*absent"):
        floating_catchment_area(small, lu[lu.id != small.from_id.iloc[0]], opportunity="jobs",
                                demand="population", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match=r"no column 'cinemas'"):
        cumulative_cutoff(small, lu, opportunity="cinemas", cutoff=30)
    bad = lu.copy()
    bad.loc[3, "population"] = -5
    with pytest.raises(ValidationError, match=r"population.*negative.*id"):
        floating_catchment_area(small, bad, opportunity="jobs", demand="population", decay_function=decay_binary(30))
    bad.loc[3, "population"] = np.nan
    with pytest.raises(ValidationError, match=r"population.*NaN"):
        spatial_availability(small, bad, opportunity="jobs", demand="population", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match="duplicate"):
        gravity(small, pd.concat([lu, lu.iloc[:1]]), opportunity="jobs", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match="no travel cost column 'tt'"):
        gravity(small, lu, opportunity="jobs", travel_cost="tt", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match="from_id"):
        gravity(small.drop(columns="from_id"), lu, opportunity="jobs", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match="cutoff"):
        cumulative_cutoff(small, lu, opportunity="jobs", cutoff=-1)
    with pytest.raises(ValidationError, match="method"):
        floating_catchment_area(small, lu, opportunity="jobs", method="3sfca", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match="decay_function"):
        gravity(small, lu, opportunity="jobs", decay_function=30)
    with pytest.raises(InputFileError, match="does not exist"):
        gravity(tmp_path / "nope.parquet", lu, opportunity="jobs", decay_function=decay_binary(30))
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(InputFileError, match="not a readable Parquet"):
        gravity(tmp_path / "junk.parquet", lu, opportunity="jobs", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match="negative costs"):
        gravity(small.assign(travel_time=-1.0), lu, opportunity="jobs", decay_function=decay_binary(30))
    with pytest.raises(ValidationError, match="group_by"):
        gravity(small, lu, opportunity="jobs", decay_function=decay_binary(30), group_by="nope")


def test_passive_measures_and_two_group_columns(bh):
    m, lu, path = bh
    d = _join(m, lu, ["population"], "from_id")
    exp = (d.population * np.exp(-0.05 * d.travel_time)).groupby(d.to_id).sum()
    res = gravity(path, lu, opportunity="population", decay_function=decay_exponential(0.05), active=False,
                  chunk_rows=CHUNK)
    _close(res, exp, "population")
    # passive cost to the closest population: min cost over origins with people
    dd = d[d.population > 0]
    exp = dd.groupby("to_id").travel_time.min().reindex(m.to_id.unique(), fill_value=np.inf)
    got = cost_to_closest(m, lu, opportunity="population", active=False).set_index("id").travel_time
    np.testing.assert_array_equal(got.reindex(exp.index).to_numpy(), exp.to_numpy())
    # two matrix columns as groups: every (id, mode, departure) combination, each equal to its sub-matrix
    m = m[m.from_id.isin(m.from_id.unique()[:150])]
    m4 = pd.concat([m.assign(mode=md, departure=dp, travel_time=m.travel_time + k)
                    for k, (md, dp) in enumerate([("bus", "08"), ("bus", "09"), ("car", "08")])])
    res = cumulative_cutoff(m4, lu, opportunity="jobs", cutoff=35, group_by=["mode", "departure"], chunk_rows=CHUNK)
    assert list(res.columns) == ["id", "mode", "departure", "jobs"]
    # every origin crossed with the 3 group combinations present (R would also invent ("car", "09") with 0)
    assert len(res) == m.from_id.nunique() * 3
    for k, (md, dp) in enumerate([("bus", "08"), ("bus", "09"), ("car", "08")]):
        exp = cumulative_cutoff(m.assign(travel_time=m.travel_time + k), lu, opportunity="jobs", cutoff=35)
        sub = res[(res["mode"] == md) & (res.departure == dp)]
        _close(sub, exp.set_index("id").jobs, "jobs")
