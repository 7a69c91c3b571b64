"""Access to transit by bike and by car, and the R5 query options (route types, transfer radius), on Porto Alegre
(OSM + EPTC + TRENSURB, 2019-05-13 14:00). Consistency laws, integer seconds:

* bike access is never slower than walk access except where the bike graph lacks a path (< 1 % of pairs), and
  faster for many;
* car access (park-and-ride, plus the direct drive) is never slower than the direct drive alone;
* ``route_types`` and ``max_transfer_walk_min`` only remove options: times never decrease.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

import access
from access.routing.transit import park_ride_stops

from .conftest import data_file

DEP = dt.datetime(2019, 5, 13, 14, 0)
KW = {"departure": DEP, "window_min": 10, "max_time_min": 60, "progress": False}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                  gtfs=[data_file("porto_alegre", "poa_eptc.zip"),
                                                        data_file("porto_alegre", "poa_trensurb.zip")],
                                                  cache_dir=tmp_path_factory.mktemp("poa_modes"))


@pytest.fixture(scope="module")
def pts():
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(8)
    return hx.iloc[rng.choice(len(hx), 90, replace=False)].reset_index(drop=True)


def _tt(net, o, d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = access.travel_time_matrix(net, o, d, mode="transit", **{**KW, **kw}).times_s[:, :, 0].astype(np.int64)
    return np.where(t < 0, np.iinfo(np.int64).max, t)


def test_bike_access_not_slower_than_walk(net, pts):
    o, d = pts.iloc[:30], pts.iloc[30:]
    walk = _tt(net, o, d)
    bike = _tt(net, o, d, access_mode="bike")
    reach = walk < np.iinfo(np.int64).max
    slower = reach & (bike > walk)
    assert reach.sum() > 300
    assert slower.sum() <= 0.01 * reach.sum(), f"{slower.sum()} of {reach.sum()} pairs slower by bike"
    assert (bike < walk).sum() >= 0.3 * reach.sum()  # riding to the stop (or all the way) is faster for many
    # bounded bike leg: a 0-minute bike limit leaves only pairs at the same place
    none = _tt(net, o, d, access_mode="bike", transit=access.TransitOptions(max_bike_min=0))
    assert (none < np.iinfo(np.int64).max).sum() <= len(o)


def test_car_access_park_and_ride(net, pts):
    o, d = pts.iloc[:20], pts.iloc[20:50]
    car = _tt(net, o, d, access_mode="car", transit=access.TransitOptions(max_car_min=30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drive = access.travel_time_matrix(net, o, d, mode="car", max_time_min=30, progress=False).times_s[:, :, 0]
    dr = np.where(drive < 0, np.iinfo(np.int64).max, drive.astype(np.int64))
    assert (car <= dr).all()  # the direct drive counts
    tt = net.timetable
    day = tt.for_date(DEP.date())
    pr = park_ride_stops(net, day, 300.0)
    trensurb = np.char.startswith(np.asarray(tt.arrays["stop_id"]).astype(str), "poa_trensurb")
    assert pr[trensurb & np.asarray(tt.arrays["stop_used"]).astype(bool)].all()  # rail stations
    assert 0 < pr.sum() < tt.n_stops


def test_route_types_and_transfer_radius_only_remove_options(net, pts):
    o, d = pts.iloc[:15], pts.iloc[15:60]
    full = _tt(net, o, d)
    rail = _tt(net, o, d, transit=access.TransitOptions(route_types=(1, 2)))
    bus = _tt(net, o, d, transit=access.TransitOptions(route_types=(3,)))
    short = _tt(net, o, d, transit=access.TransitOptions(max_transfer_walk_min=2))
    for t in (rail, bus, short):
        assert (t >= full).all()
    assert (bus > full).sum() + (rail > full).sum() > 0 and (short > full).sum() > 0
    with pytest.raises(access.ValidationError, match="max_transfer_walk_min"):
        _tt(net, o.iloc[:1], d.iloc[:1], transit=access.TransitOptions(max_transfer_walk_min=30))


def test_chunked_and_dask_bike_access_equal_in_memory(net, pts, tmp_path):
    """access_mode in the chunked run (memory budget, several chunks, one process) and on a 2-worker Dask cluster:
    the same times as the in-memory matrix, and the mode recorded in the partitions' metadata."""
    import json

    import pyarrow.parquet as pq

    from access.scale.chunked import chunked_travel_time_matrix

    o, d = pts.iloc[:24], pts.iloc[60:]
    kw = {**KW, "access_mode": "bike"}
    kw.pop("progress")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = access.travel_time_matrix(net, o, d, mode="transit", progress=False, **kw).to_frame()
        res = chunked_travel_time_matrix(net, o, d, tmp_path / "one", mode="transit", chunk_size=10,
                                         progress=False, **kw)
        walk = access.travel_time_matrix(net, o, d, mode="transit", **KW).to_frame()
    assert (ref["travel_time"] < walk["travel_time"]).sum() > 20  # not walk access under another name
    assert res.n_chunks == 3
    got = pd.read_parquet(tmp_path / "one")
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)
    meta = json.loads(pq.read_metadata(sorted((tmp_path / "one").glob("part-*.parquet"))[0]).metadata[b"access"])
    assert meta["access_mode"] == "bike" and meta["bike_speed_kmh"] == 12.0
    pytest.importorskip("distributed")
    from access.scale.distributed import chunked_matrix

    bundle = net.save(tmp_path / "bundle")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chunked_matrix(bundle, o, d, tmp_path / "two", mode="transit", chunk_size=10, workers=2, progress=False,
                       **kw)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "two"), ref, check_dtype=False)
