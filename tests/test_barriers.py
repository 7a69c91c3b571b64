"""Social barriers to culture (issue 16): barrier profile, no-car times, evening round trips, the barrier index.

Everything runs on the embedded demo region (the synthetic territory written in the real file formats), on a
deterministic sixth of its cells, so the module takes a few seconds once numba's kernels are cached.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from access.indicators.barriers import (
    BARRIER_SHARES,
    _nearest_by_category,
    area_barriers,
    barrier_index,
    barrier_index_stability,
    barrier_profile,
    barriers_summary_lines,
    evening_round_trips,
    load_barriers_config,
    no_car_times,
    saturday_access,
    saturday_of,
)

DATE = dt.date(2026, 3, 17)  # the demo recipe's analysis date (a Tuesday)
CATS = ("cinema", "performing_arts")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from access import TransportNetwork
    from access.region.census import read_filosofi_barrier_counts
    from access.region.sources import read_basilic, read_filosofi
    from access.synth.demo import make_demo_region

    d = tmp_path_factory.mktemp("barriers")
    paths = make_demo_region(d / "data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = TransportNetwork.from_files(paths["osm"], [paths["gtfs"]], cache_dir=d / "cache",
                                          modes=["walk", "bike", "car"], progress=False)
    cells = read_filosofi(paths["filosofi"])
    bc = read_filosofi_barrier_counts(paths["filosofi"])  # the counts the cells frame does not carry already
    counts = cells.drop(columns="geometry").merge(bc[["id", *[c for c in bc.columns if c not in cells.columns]]],
                                                  on="id")
    venues = read_basilic(paths["basilic"])
    sub = cells.iloc[::6].reset_index(drop=True)
    return {"paths": paths, "net": net, "cells": cells, "counts": counts, "venues": venues, "sub": sub, "dir": d}


@pytest.fixture(scope="module")
def evening(demo):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evening_round_trips(demo["net"], demo["sub"], demo["venues"], date=DATE, categories=CATS)


def test_profile_shares_in_unit_interval_and_flag_carried(demo):
    prof = barrier_profile(demo["counts"])
    assert list(prof["id"]) == list(demo["counts"]["id"].astype(str))
    assert not prof.attrs["missing"]
    for c in BARRIER_SHARES:
        v = prof[c].to_numpy(float)
        assert np.isfinite(v).all(), c  # every demo cell has people and households
        assert ((v >= 0) & (v <= 1)).all(), c
    # the flag is INSEE's i_est_200, cell by cell
    assert (prof["estimated"].to_numpy() == (demo["counts"]["i_est_200"].to_numpy() == 1)).all()
    assert prof["estimated"].any() and not prof["estimated"].all()
    # the shares are the ratios of the counts (an independent sum of the age bands)
    c = demo["counts"]
    ages = c[["ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17"]].sum(axis=1) / c["ind"]
    np.testing.assert_allclose(prof["share_under_18"], np.clip(ages, 0, 1), rtol=1e-12)
    np.testing.assert_allclose(prof["share_single_parent"], np.clip(c["men_fmp"] / c["men"], 0, 1), rtol=1e-12)


def test_profile_without_columns_is_nan_not_an_error():
    prof = barrier_profile(pd.DataFrame({"id": ["a", "b"], "population": [10.0, 0.0], "households": [4.0, 0.0],
                                         "poor_households": [1.0, 0.0]}))
    assert prof.loc[0, "share_poor_households"] == 0.25 and np.isnan(prof.loc[1, "share_poor_households"])
    assert "share_65_plus" in prof.attrs["missing"] and prof["share_65_plus"].isna().all()
    assert not prof["estimated"].any()


def test_no_car_times_against_the_mode_matrices(demo):
    """time_no_car = min over walk, bike, transit of the nearest venue (checked against the raw matrices), never
    below the time of a household with a car, which is never above the car's."""
    from access import travel_time_matrix
    from access.region.pipeline import cell_indicators

    sub, venues = demo["sub"].iloc[::3].reset_index(drop=True), demo["venues"]
    mats, frames = {}, {}
    for m in ("walk", "bike", "car", "transit"):
        kw = {"departure": dt.datetime.combine(DATE, dt.time(14)), "window_min": 10} if m == "transit" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mats[m] = travel_time_matrix(demo["net"], sub, venues, mode=m, max_time_min=60, progress=False, **kw)
        frames[m] = mats[m].to_frame()
    ind = cell_indicators(frames, sub, venues, thresholds_min=(30,), network=demo["net"],
                          departure=dt.datetime.combine(DATE, dt.time(14)), window_min=10, transit_max_time_min=60)
    cats = sorted(venues["category"].unique())
    nc = no_car_times(_nearest_by_category(ind, ("walk", "bike", "car", "transit"), cats), cats)
    cat = venues["category"].to_numpy()
    for c in cats:
        raw = {}
        for m, ttm in mats.items():  # the twin: minimum over the venue columns of the dense matrix
            t = ttm.times_s[:, cat == c, 0].astype(float)
            raw[m] = np.where(t >= 0, t / 60.0, np.inf).min(axis=1)
        want = np.minimum(np.minimum(raw["walk"], raw["bike"]), raw["transit"])
        got = nc[f"time_no_car_{c}"].to_numpy()
        # the pipeline's nearest times are uncapped on streets: equal within the matrices' 60 min, beyond it outside
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], atol=1e-9)
        assert (got[~fin] > 60).all()
        wc = nc[f"time_with_car_{c}"].to_numpy()
        reach = np.isfinite(raw["car"])
        assert (nc[f"time_no_car_{c}"].to_numpy() >= wc).all()
        assert (wc[reach] <= raw["car"][reach]).all()
        gap = nc[f"carless_gap_{c}"].to_numpy()
        assert (gap[np.isfinite(gap)] >= 0).all()


def test_evening_round_trip_implies_transit_access(demo, evening):
    """The outbound leg is the arrive-by matrix (twin: the minimum over the category's columns of
    travel_time_matrix(..., arrive_by=20:30), the full cells x venues table built here only); leaving at the
    reported departure arrives by 20:30 (a forward query at that minute); a round trip implies that access."""
    from access import travel_time_matrix

    sub, v = demo["sub"], demo["venues"]
    t_arr = dt.datetime(2026, 3, 17, 20, 30)
    assert evening[[f"evening_round_trip_{c}" for c in CATS]].to_numpy().any()
    for c in CATS:
        rt = evening[f"evening_round_trip_{c}"].to_numpy()
        out = evening[f"evening_out_min_{c}"].to_numpy()
        assert (out[rt] <= 60).all() and np.isfinite(evening[f"evening_back_min_{c}"].to_numpy()[rt]).all()
        vc = v[v["category"] == c].reset_index(drop=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ab = travel_time_matrix(demo["net"], sub, vc, mode="transit", arrive_by=t_arr, max_time_min=60,
                                    progress=False)
        t = ab.times_s[:, :, 0].astype(float)
        want = np.where(t >= 0, t, np.inf).min(axis=1)
        reach = np.isfinite(want)
        assert reach.any() and not reach.all()
        assert (reach[rt]).all()  # a round trip implies transit access to the venue by 20:30
        np.testing.assert_array_equal(np.isfinite(out), reach)
        np.testing.assert_allclose(out[reach], want[reach] / 60.0)
        # the venue reported is one with that arrive-by time, and its departure is the matrix's
        col = {str(i): k for k, i in enumerate(ab.to_ids)}
        ven = evening[f"evening_venue_{c}"].to_numpy()
        dep = evening[f"evening_departure_{c}"].to_numpy()
        rows = np.flatnonzero(reach)
        ks = np.array([col[ven[i]] for i in rows])
        np.testing.assert_array_equal(t[rows, ks], want[rows])
        np.testing.assert_array_equal(dep[rows].astype("datetime64[s]"), ab.departure_time[rows, ks])
        assert pd.isna(dep[~reach]).all() and all(x is None for x in ven[~reach])
        # leaving home at the reported minute, one arrives by 20:30 (forward query at that minute)
        for i in rows[:: max(1, len(rows) // 12)]:
            d0 = pd.Timestamp(dep[i]).to_pydatetime()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                f = travel_time_matrix(demo["net"], sub.iloc[[i]], vc.iloc[[ks[list(rows).index(i)]]],
                                       mode="transit", departure=d0, window_min=1, max_time_min=60, progress=False)
            tf = int(f.times_s[0, 0, 0])
            assert 0 <= tf and d0 + dt.timedelta(seconds=tf) <= t_arr


def test_removing_evening_trips_of_a_route_removes_round_trips_and_nothing_else(demo, evening):
    from access import TransportNetwork, travel_time_matrix
    from access.synth.writers import write_gtfs_zip

    z = zipfile.ZipFile(demo["paths"]["gtfs"])
    tabs = {n: pd.read_csv(io.BytesIO(z.read(n)), dtype=str) for n in z.namelist()}
    trips = tabs["trips.txt"]
    late = trips["trip_id"].str.contains("_WKN_") & (trips["route_id"] == "K1")  # the late trains of line K1
    assert late.sum() == 4
    tabs["trips.txt"] = trips[~late]
    tabs["stop_times.txt"] = tabs["stop_times.txt"][~tabs["stop_times.txt"]["trip_id"].isin(trips["trip_id"][late])]
    g2 = demo["dir"] / "no_late_k1.gtfs.zip"
    write_gtfs_zip(tabs, g2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net2 = TransportNetwork.from_files(demo["paths"]["osm"], [g2], cache_dir=demo["dir"] / "cache2",
                                           modes=["walk"], progress=False)
        after = evening_round_trips(net2, demo["sub"], demo["venues"], date=DATE, categories=CATS)
    lost = 0
    for c in CATS:
        b, a = evening[f"evening_round_trip_{c}"].to_numpy(), after[f"evening_round_trip_{c}"].to_numpy()
        assert not (a & ~b).any()  # nothing gained
        lost += int((b & ~a).sum())
        # the outbound legs (before the show) do not change; the trips home only get longer or vanish
        np.testing.assert_array_equal(evening[f"evening_out_min_{c}"], after[f"evening_out_min_{c}"])
        bb, ba = evening[f"evening_back_min_{c}"].to_numpy(), after[f"evening_back_min_{c}"].to_numpy()
        assert (ba[a] >= bb[a]).all()
    assert lost > 0
    # daytime and Saturday access are untouched
    sub = demo["sub"].iloc[::4].reset_index(drop=True)
    for net_a, net_b in ((demo["net"], net2),):
        for when in (dt.datetime(2026, 3, 17, 14), dt.datetime(2026, 3, 21, 14)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ta = travel_time_matrix(net_a, sub, demo["venues"], mode="transit", departure=when, window_min=10,
                                        max_time_min=60, progress=False).times_s
                tb = travel_time_matrix(net_b, sub, demo["venues"], mode="transit", departure=when, window_min=10,
                                        max_time_min=60, progress=False).times_s
            np.testing.assert_array_equal(ta, tb)


def test_evening_settings_and_venue_any(demo, evening):
    sub = demo["sub"].iloc[::5].reset_index(drop=True)
    ev = evening.set_index("id").loc[sub["id"].astype(str)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anyv = evening_round_trips(demo["net"], sub, demo["venues"], date=DATE, categories=CATS, venue="any")
        # leaving the venue at 01:30, before the first bus: only those who can walk home keep a round trip
        night = evening_round_trips(demo["net"], sub, demo["venues"], date=DATE, categories=("cinema",),
                                    leave_after="01:30", max_wait_min=10)
    for c in CATS:  # "any venue" finds at least the round trips of "the nearest venue"
        assert (anyv[f"evening_round_trip_{c}"].to_numpy() >= ev[f"evening_round_trip_{c}"].to_numpy()).all()
    n_rt, e_rt = night["evening_round_trip_cinema"].to_numpy(), ev["evening_round_trip_cinema"].to_numpy()
    assert not (n_rt & ~e_rt).any() and n_rt.sum() < e_rt.sum()
    from access._errors import ValidationError

    with pytest.raises(ValidationError, match="venue"):
        evening_round_trips(demo["net"], sub, demo["venues"], date=DATE, categories=CATS, venue="best")
    with pytest.raises(ValidationError, match="HH:MM"):
        evening_round_trips(demo["net"], sub, demo["venues"], date=DATE, categories=CATS, arrive_by="8pm")


def test_saturday_access_uses_the_weekend_service(demo):
    assert saturday_of(DATE) == dt.date(2026, 3, 21) and saturday_of(dt.date(2026, 3, 21)) == dt.date(2026, 3, 21)
    sub = demo["sub"].iloc[::4].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sat = saturday_access(demo["net"], sub, demo["venues"], date=DATE, categories=CATS, window_min=20)
    assert sat.attrs["date"] == "2026-03-21"
    for c in CATS:
        t = sat[f"time_transit_saturday_{c}"].to_numpy()
        assert np.isfinite(t).any() and (t[np.isfinite(t)] >= 0).all()


def _area_table(demo, evening):
    from access.indicators import attach_cells
    from access.region.census import (
        allocate_iris_to_cells,
        read_census_logement,
        read_iris_contours,
    )
    from access.region.sources import read_epci

    sub = demo["sub"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alloc = allocate_iris_to_cells(sub, read_census_logement(demo["paths"]["census"]),
                                       read_iris_contours(demo["paths"]["iris"]))
    # no-car times from the crow-fly distance at walking pace (enough for the area arithmetic)
    cells = pd.DataFrame(sub.drop(columns="geometry")).merge(barrier_profile(demo["counts"]), on="id")
    cells = cells.merge(alloc, on="id").merge(evening, on="id")
    rng = np.random.default_rng(0)
    for c in CATS:
        cells[f"time_no_car_{c}"] = rng.uniform(5, 60, len(cells))
        cells[f"carless_gap_{c}"] = rng.uniform(0, 20, len(cells))
    areas = read_epci(demo["paths"]["epci"])
    links = attach_cells(sub[["id", "geometry"]], areas[["id", "geometry"]])
    return cells, area_barriers(cells, links, categories=CATS, counts=demo["counts"]), areas


def test_area_barriers_and_index(demo, evening):
    cells, ab, areas = _area_table(demo, evening)
    share_cols = [c for c in ab.columns if "share" in c]
    assert {"share_no_car", "carless_share_beyond_30min_cinema", "evening_round_trip_share_cinema",
            "evening_round_trip_carless_share_performing_arts"} <= set(share_cols)
    for c in share_cols:
        v = ab[c].to_numpy(float)
        assert ((v[np.isfinite(v)] >= 0) & (v[np.isfinite(v)] <= 1)).all(), c
    # the carless share beyond 30 min by hand for one area
    from access.indicators import attach_cells

    links = attach_cells(demo["sub"][["id", "geometry"]], areas[["id", "geometry"]])
    a0 = ab["id"].iloc[0]
    ids = set(links.loc[links.iloc[:, 1] == a0, "id"])
    m = cells[cells["id"].isin(ids)]
    want = (m["households_no_car"] * (m["time_no_car_cinema"] > 30)).sum() / m["households_no_car"].sum()
    assert ab.loc[0, "carless_share_beyond_30min_cinema"] == pytest.approx(want, rel=1e-12)
    idx = barrier_index(ab)
    assert np.isfinite(idx["barrier_index"]).all()
    # z-scores over the areas given: the index of the region's EPCI has mean 0 when every component is present
    assert abs(idx["barrier_index"].mean()) < 1e-9
    assert set(idx["barrier_class"]) <= {"high barriers", "no high barrier"}
    assert ((idx["barrier_index_stability"] >= 0) & (idx["barrier_index_stability"] <= 1)).all()
    assert idx["main_barriers"].str.len().gt(0).all()
    # weights from the config: doubling one pattern changes the index, its direction counts
    w = dict(load_barriers_config()["index"]["weights"])
    only = barrier_index(ab, {"index": {"weights": {"share_no_car": 1.0}}})
    z = (ab["share_no_car"] - ab["share_no_car"].mean()) / ab["share_no_car"].std(ddof=0)
    np.testing.assert_allclose(only["barrier_index"], z, atol=1e-12)
    neg = barrier_index(ab, {"index": {"weights": {"share_no_car": -1.0}}})
    np.testing.assert_allclose(neg["barrier_index"], -z, atol=1e-12)
    assert len(w) >= 8
    st = barrier_index_stability(ab)
    assert (st["n_classes"] >= 1).all() and len(st) == len(ab)
    lines = barriers_summary_lines(ab.merge(idx, on="id").assign(name="x"), categories=list(CATS))
    assert lines[0] == "## Social barriers to culture" and sum(ln.startswith("| 2000") for ln in lines) == len(ab)
    # the style table describes every barrier column (cells and EPCI): unit, direction, limits, legend
    from access.report.style import describe

    styled = barriers_summary_lines(ab.merge(idx, on="id").assign(name="x"), categories=list(CATS), style=describe)
    assert any(" %" in ln for ln in styled[5:])  # shares as the maps show them ("40.0 %")
    cols = [c for c in (*ab.columns, *idx.columns, *cells.columns) if c != "id" and (
        c.startswith(("share_", "carless_", "evening_", "time_no_car", "barrier_", "census_", "households_no_car"))
        or c in ("estimated", "main_barriers")) and not c.endswith(("_x", "_y"))]
    assert len(cols) > 30
    for c in cols:
        st = describe(c)
        assert st.title != c.replace("_", " ").capitalize(), c  # not the generic fallback
        if c.startswith("share_") and c != "share_population_estimated_cells":
            assert st.direction == -1 and st.limits == (0.0, 1.0) and st.scale == 100.0, c  # a barrier: worse up
    for c in ("share_no_car", "share_single_parent", "share_poor_households"):
        assert describe(c).unit == "% of households"
    assert describe("share_65_plus").unit == "% of inhabitants"
    st = describe("carless_share_beyond_30min_cinema")
    assert st.unit == "% of households without a car" and st.direction == -1 and "30 minutes" in st.title
    st = describe("evening_round_trip_share_cinema")
    assert st.direction == +1 and st.limits == (0.0, 1.0) and st.cmap == "YlOrRd_r" and st.fmt(0.741) == "74.1 %"
    assert describe("evening_round_trip_carless_share_cinema").unit == "% of households without a car"
    st = describe("barrier_index")
    assert st.direction == -1 and st.kind == "index" and "more barriers" in st.legend
    for c in ("time_no_car_cinema", "carless_gap_cinema_mean", "evening_out_min_cinema",
              "time_transit_saturday_cinema"):
        assert describe(c).unit == "minutes" and describe(c).direction == -1, c
    assert describe("time_transit_saturday_cinema_share_within_30min").direction == +1
    assert "Saturday" in describe("time_transit_saturday_cinema").title


def test_typology_takes_the_barrier_index_as_social_dimension(demo):
    from access.indicators import typology
    from access.region.pipeline import _typology_config_with_barriers
    from access.region.recipe import Recipe

    rec = Recipe.from_file(demo["paths"]["recipe"])
    cfg = load_barriers_config()
    t = _typology_config_with_barriers(rec, cfg)
    assert t["social"]["weights"] == {"barrier_index": 1.0}
    both = _typology_config_with_barriers(rec, load_barriers_config({"typology": {"social_dimension": "both"}}))
    assert both["social"]["weights"]["barrier_index"] == 1.0 and "poverty_rate" in both["social"]["weights"]
    table = pd.DataFrame({"id": list("abcd"), "venues_per_10k": [1.0, 1.0, 1.0, 1.0],
                          "time_any_mean": [20.0, 20.0, 20.0, 20.0], "barrier_index": [1.5, -0.5, -0.5, -0.5],
                          "poverty_rate": [0.1, 0.3, 0.1, 0.1]})
    res = typology(table, config=t)
    assert res.loc[0, "class"] == "social fragility" and (res["class"][1:] == "no particular stake").all()


def test_config_errors(tmp_path):
    from access._errors import InputFileError, ValidationError

    with pytest.raises(InputFileError, match="does not exist"):
        load_barriers_config(tmp_path / "nope.toml")
    with pytest.raises(ValidationError, match="must be one of the tables"):
        load_barriers_config({"evening_": {"arrive_by": "20:00"}})
    p = tmp_path / "b.toml"
    p.write_text('[evening]\narrive_by = "20:00"\n[index.weights]\nshare_no_car = 2.0\n')
    cfg = load_barriers_config(p)
    assert cfg["evening"]["arrive_by"] == "20:00" and cfg["evening"]["leave_after"] == "22:30"
    assert cfg["index"]["weights"] == {"share_no_car": 2.0} and cfg["index"]["high_threshold"] == 0.5
