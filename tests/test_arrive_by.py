"""Arrive-by matrices (r5r's ``arrival_travel_time_matrix``) on Porto Alegre (OSM + EPTC + TRENSURB, 2019-05-13).

Consistency law against independent forward queries (one departure minute each, no window reuse): leaving at the
reported ``departure_time`` arrives by the deadline, and leaving one minute later does not. Tolerance: none.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

import access

from .conftest import data_file

T = dt.datetime(2019, 5, 13, 15, 0)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                  gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                                        data_file("porto_alegre", "poa_trensurb.zip")],
                                                  modes=("walk",), cache_dir=tmp_path_factory.mktemp("poa_ab"))


@pytest.fixture(scope="module")
def pts():
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(11)
    return hx.iloc[rng.choice(len(hx), 24, replace=False)].reset_index(drop=True)


def test_arrive_by_is_latest_departure_arriving_in_time(net, pts):
    o, d = pts.iloc[:3], pts.iloc[3:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = access.travel_time_matrix(net, o, d, mode="transit", arrive_by=T, max_time_min=45, progress=False)
    df = m.to_frame()
    assert {"travel_time", "departure_time"} <= set(df.columns)
    ok = df["travel_time"].notna()
    assert ok.sum() >= 10
    # travel_time = T - departure_time, within max_time_min
    assert np.allclose((pd.Timestamp(T) - df.loc[ok, "departure_time"]).dt.total_seconds() / 60,
                       df.loc[ok, "travel_time"])
    assert (df.loc[ok, "travel_time"] <= 45).all() and df.loc[~ok, "departure_time"].isna().all()
    checked = 0
    for dep, grp in list(df[ok].groupby("departure_time"))[:6]:
        oo = o[o["id"].isin(grp["from_id"])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            now = access.travel_time_matrix(net, oo, d, mode="transit", departure=dep.to_pydatetime(),
                                            window_min=1, max_time_min=60, progress=False).to_frame()
            later = access.travel_time_matrix(net, oo, d, mode="transit",
                                              departure=(dep + pd.Timedelta(minutes=1)).to_pydatetime(),
                                              window_min=1, max_time_min=60, progress=False).to_frame()
        for fr, to_ in zip(grp["from_id"], grp["to_id"]):
            t_now = now.loc[(now.from_id == fr) & (now.to_id == to_), "travel_time"].iloc[0]
            assert dep + pd.Timedelta(minutes=t_now) <= pd.Timestamp(T)  # leaving then arrives by T
            t_later = later.loc[(later.from_id == fr) & (later.to_id == to_), "travel_time"]
            lt = t_later.iloc[0]
            if dep + pd.Timedelta(minutes=1) <= pd.Timestamp(T):
                assert np.isnan(lt) or dep + pd.Timedelta(minutes=1 + lt) > pd.Timestamp(T)  # a minute later: late
            checked += 1
    assert checked >= 5


def test_arrive_by_walk_and_errors(net, pts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fw = access.travel_time_matrix(net, pts.iloc[:3], pts.iloc[3:8], mode="walk", max_time_min=60,
                                       progress=False).to_frame()
        ab = access.travel_time_matrix(net, pts.iloc[:3], pts.iloc[3:8], mode="walk", max_time_min=60,
                                       arrive_by=T, progress=False).to_frame()
    assert np.array_equal(fw["travel_time"].to_numpy(), ab["travel_time"].to_numpy(), equal_nan=True)
    ok = ab["travel_time"].notna()
    assert np.allclose((pd.Timestamp(T) - ab.loc[ok, "departure_time"]).dt.total_seconds() / 60,
                       ab.loc[ok, "travel_time"])
    with pytest.raises(access.ValidationError, match="arrive_by"):
        access.travel_time_matrix(net, pts.iloc[:2], mode="transit", arrive_by=T, departure=T, progress=False)


def test_whole_minutes_truncate_as_r5(net, pts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = access.travel_time_matrix(net, pts.iloc[:3], pts.iloc[3:10], mode="walk", max_time_min=60,
                                      progress=False)
    s = m.times_s[:, :, 0].reshape(-1)
    w = m.to_frame(whole_minutes=True)["travel_time"].to_numpy()
    ok = s >= 0
    assert np.array_equal(w[ok], s[ok] // 60) and np.isnan(w[~ok]).all()
    assert (m.to_frame()["travel_time"].to_numpy()[ok] >= w[ok]).all()


def test_arrive_by_columns_stream_the_same_matrix(net, pts):
    """access.matrix.arrive_by_columns (blocks of destinations, what the evening round trips stream) gives the
    arrive-by matrix element for element, whatever the block size; a wrong setting is refused."""
    from access.matrix import arrive_by_columns

    o, d = pts.iloc[:10], pts.iloc[10:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = access.travel_time_matrix(net, o, d, mode="transit", arrive_by=T, max_time_min=45, progress=False)
        for mb in (0.001, 256):  # one destination per block, then all in one
            got = np.full((len(o), len(d)), -2, np.int32)
            blocks = 0
            for a, b, t in arrive_by_columns(net, o, d, T, max_time_min=45, memory_mb=mb):
                got[:, a:b] = t
                blocks += 1
            assert blocks == (len(d) if mb < 1 else 1)
            np.testing.assert_array_equal(got, m.times_s[:, :, 0])
    assert (m.times_s >= 0).sum() >= 10
    with pytest.raises(access.ValidationError, match="walking access"):
        next(arrive_by_columns(net, o, d, T, max_time_min=45,
                               transit=access.TransitOptions(access_mode="bike")))
