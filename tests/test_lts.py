"""Cycling level of traffic stress on Porto Alegre: Conveyal's rules on hand-made tags (the twin: the rules as
written in R5's labeler), and the law that limiting ``max_lts`` only removes paths (bike times never decrease,
some increase; max_lts=4 changes nothing)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import access
from access.network.lts import edge_lts
from access.network.profiles import way_lts

from .conftest import data_file


@pytest.mark.parametrize("tags,cars,expected", [
    ({"highway": "cycleway"}, (False, False), (1, 1)),
    ({"highway": "residential"}, (True, True), (1, 1)),
    ({"highway": "service"}, (True, True), (0, 0)),
    ({"highway": "primary", "lts": "2"}, (True, True), (2, 2)),
    ({"highway": "primary"}, (True, True), (4, 4)),
    ({"highway": "primary", "cycleway": "lane"}, (True, True), (3, 3)),
    ({"highway": "primary", "cycleway": "lane", "maxspeed": "30", "lanes": "2"}, (True, True), (2, 2)),
    ({"highway": "tertiary"}, (True, True), (3, 3)),
    ({"highway": "tertiary", "lanes": "2"}, (True, True), (2, 2)),
    ({"highway": "tertiary", "cycleway:right": "lane"}, (True, True), (2, 3)),
    ({"highway": "secondary", "maxspeed": "20 mph", "cycleway:left": "lane"}, (True, True), (4, 2)),
])
def test_way_lts_rules(tags, cars, expected):
    assert way_lts(tags, *cars) == expected


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"), modes=("bike",),
                                                  cache_dir=tmp_path_factory.mktemp("poa_lts"))


def test_max_lts_only_removes_paths(net):
    lts = edge_lts(net)
    assert lts.shape == (net.street("bike").n_edges,)
    counts = np.bincount(lts, minlength=5)
    assert counts[1] > 0 and counts[4] > 0 and counts[2] + counts[3] > 0
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    hx = hx.iloc[np.random.default_rng(6).choice(len(hx), 60, replace=False)]
    kw = {"mode": "bike", "max_time_min": 60, "progress": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = access.travel_time_matrix(net, hx, **kw).times_s[:, :, 0].astype(np.int64)
        four = access.travel_time_matrix(net, hx, street=access.StreetOptions(max_lts=4), **kw).times_s[:, :, 0]
        two = access.travel_time_matrix(net, hx, street=access.StreetOptions(max_lts=2), **kw).times_s[:, :, 0]
    assert np.array_equal(full, four)
    big = np.iinfo(np.int64).max
    f = np.where(full < 0, big, full)
    t = np.where(two < 0, big, two.astype(np.int64))
    assert (t >= f).all()
    assert (t > f).mean() > 0.05
