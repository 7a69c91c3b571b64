"""Monte-Carlo schedules of ``frequencies.txt`` (R5/r5r's randomized offsets) on São Paulo (r5r's sample: most
service is frequency-based). Laws: a seed reproduces the times; on an exact-times feed (the same feed with
``exact_times=1``) the draws are the deterministic schedule exactly; on the frequency feed the mean over draws and
minutes approaches the deterministic schedule's mean (tolerance stated below)."""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

import access

from .conftest import data_file

DEP = dt.datetime(2019, 5, 13, 7, 0)  # a Monday within spo.zip's calendar


def _net(gtfs, cache):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("sao_paulo", "spo_osm.pbf"), gtfs=[gtfs],
                                                  modes=("walk",), cache_dir=cache)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    return _net(data_file("sao_paulo", "spo.zip"), tmp_path_factory.mktemp("spo_mc"))


@pytest.fixture(scope="module")
def exact_net(tmp_path_factory):
    src = zipfile.ZipFile(data_file("sao_paulo", "spo.zip"))
    out = tmp_path_factory.mktemp("spo_exact") / "spo_exact.zip"
    with zipfile.ZipFile(out, "w") as z:
        for n in src.namelist():
            data = src.read(n)
            if n == "frequencies.txt":
                fr = pd.read_csv(io.BytesIO(data), dtype=str)
                fr["exact_times"] = "1"
                data = fr.to_csv(index=False).encode()
            z.writestr(n, data)
    return _net(out, tmp_path_factory.mktemp("spo_exact_cache"))


@pytest.fixture(scope="module")
def pts():
    hx = pd.read_csv(data_file("sao_paulo", "spo_hexgrid.csv"))
    return hx.iloc[np.random.default_rng(4).choice(len(hx), 40, replace=False)].reset_index(drop=True)


def _m(net, pts, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.travel_time_matrix(net, pts.iloc[:8], pts.iloc[8:], mode="transit", departure=DEP,
                                         max_time_min=90, progress=False, search="forward", **kw)


def test_monte_carlo_reproducible(net, pts):
    mc = access.TransitOptions(frequencies="monte_carlo", seed=7, draws_per_minute=3, window_min=20,
                               percentiles=(5, 50, 95))
    a, b = _m(net, pts, transit=mc, per_minute=True), _m(net, pts, transit=mc, per_minute=True)
    c = _m(net, pts, transit=mc.replace(seed=8), per_minute=True)
    assert np.array_equal(a.times_s, b.times_s) and np.array_equal(a.per_minute_s, b.per_minute_s)
    assert a.per_minute_s.shape[2] == 20 * 3
    assert not np.array_equal(a.per_minute_s, c.per_minute_s)
    assert (a.times_s >= 0).mean() > 0.3


def test_monte_carlo_exact_times_is_deterministic(exact_net, pts):
    det = _m(exact_net, pts, window_min=15, per_minute=True)
    mc = _m(exact_net, pts, transit=access.TransitOptions(frequencies="monte_carlo", seed=1, draws_per_minute=2,
                                                          window_min=15), per_minute=True)
    pm = mc.per_minute_s.reshape(*mc.per_minute_s.shape[:2], 15, 2)
    for r in range(2):
        assert np.array_equal(pm[:, :, :, r], det.per_minute_s)
    assert np.array_equal(mc.times_s, det.times_s)


def test_monte_carlo_mean_approaches_deterministic(net, pts):
    w = 60
    det = _m(net, pts, window_min=w, per_minute=True).per_minute_s.astype(float)
    mc = _m(net, pts, transit=access.TransitOptions(frequencies="monte_carlo", seed=3, draws_per_minute=8,
                                                    window_min=w), per_minute=True).per_minute_s.astype(float)
    ok = (det >= 0).all(axis=2) & (mc >= 0).all(axis=2)
    assert ok.sum() >= 50
    diff = mc.mean(axis=2)[ok] - det.mean(axis=2)[ok]
    # random phases vs the expansion from each entry's start: the means agree to well under a headway
    assert abs(diff.mean()) < 60 and np.median(np.abs(diff)) < 120
