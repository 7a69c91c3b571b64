"""One-call accessibility on Porto Alegre against the indicators package on the full matrix (the independent twin:
the matrix to a long table, then ``cumulative_cutoff`` / ``gravity``). Tolerance: 1e-9 relative (float sums)."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

import access
from access.indicators import (
    cumulative_cutoff,
    decay_exponential,
    decay_linear,
    gravity,
)

from .conftest import data_file


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                  gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                                        data_file("porto_alegre", "poa_trensurb.zip")],
                                                  modes=("walk",), cache_dir=tmp_path_factory.mktemp("poa_acc"))


@pytest.fixture(scope="module")
def hx():
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    return hx.iloc[np.random.default_rng(2).choice(len(hx), 150, replace=False)].reset_index(drop=True)


def _cmp(ours, ref, col):
    got = ours.set_index("id")["accessibility"]
    exp = ref.set_index("id")[col].reindex(got.index).fillna(0.0)
    assert np.allclose(got.to_numpy(), exp.to_numpy(), rtol=1e-9, atol=1e-9)
    assert (got > 0).sum() >= 10


def test_accessibility_step_equals_cumulative_cutoff(net, hx):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = access.accessibility(net, hx.iloc[:40], hx, opportunity_columns=["jobs", "schools"], mode="walk",
                                   cutoffs_min=(15, 30), chunk_size=7, progress=False)
        m = access.travel_time_matrix(net, hx.iloc[:40], hx, mode="walk", max_time_min=30, progress=False)
    assert list(acc.columns) == ["id", "opportunity", "percentile", "cutoff", "accessibility"]
    assert len(acc) == 40 * 2 * 2
    df = m.to_frame()
    for c in (15, 30):
        for col in ("jobs", "schools"):
            ref = cumulative_cutoff(df, hx[["id", col]], opportunity=col, cutoff=c)
            _cmp(acc[(acc.cutoff == c) & (acc.opportunity == col)], ref, col)


def test_accessibility_decays_and_transit(net, hx):
    kw = {"departure": dt.datetime(2019, 5, 13, 14, 0), "window_min": 10, "percentiles": (25, 75)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = access.accessibility(net, hx.iloc[:20], hx, opportunity_columns="jobs", mode="transit",
                                   decay=decay_exponential(0.05), max_time_min=60, chunk_size=6, progress=False,
                                   **kw)
        lin = access.accessibility(net, hx.iloc[:20], hx, opportunity_columns="jobs", mode="transit",
                                   decay="linear", cutoffs_min=(45,), progress=False, **kw)
        m = access.travel_time_matrix(net, hx.iloc[:20], hx, mode="transit", max_time_min=60, progress=False, **kw)
        m45 = access.travel_time_matrix(net, hx.iloc[:20], hx, mode="transit", max_time_min=45, progress=False, **kw)
    df, df45 = m.to_frame(), m45.to_frame()
    for p in (25, 75):
        ref = gravity(df, hx[["id", "jobs"]], opportunity="jobs", travel_cost=f"travel_time_p{p}",
                      decay_function=decay_exponential(0.05))
        _cmp(acc[acc.percentile == p], ref, "jobs")
        ref = gravity(df45, hx[["id", "jobs"]], opportunity="jobs", travel_cost=f"travel_time_p{p}",
                      decay_function=decay_linear(45))
        _cmp(lin[lin.percentile == p], ref, "jobs")
    with pytest.raises(access.ValidationError, match="opportunity_columns"):
        access.accessibility(net, hx.iloc[:2], hx, opportunity_columns="seats", progress=False)
