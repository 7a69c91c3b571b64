"""Transit legs along ``shapes.txt`` (issue 19), on real feeds, against an independent computation.

Twin: the raw ``shapes.txt``, ``trips.txt``, ``stop_times.txt`` and ``stops.txt`` read with the csv module, the shape as
a shapely LineString in the UTM zone of the feed (pyproj), each stop projected with ``LineString.project`` and the ride
cut with ``shapely.ops.substring``. Where the twin's projections run in order along the shape (then the engine's
ordered projection and the global nearest point agree), the ride geometries coincide within a metre or two and
their lengths within 0.3 %.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections import defaultdict

import numpy as np
import pytest

import access
from access.io.gtfs import read_gtfs
from access.network.transit import Timetable

from .conftest import data_file


def _raw(zpath, name):
    with zipfile.ZipFile(zpath) as z:
        return list(csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8-sig")))


class _Twin:
    def __init__(self, zpath):
        from pyproj import CRS, Transformer

        pts = defaultdict(list)
        for r in _raw(zpath, "shapes.txt"):
            pts[r["shape_id"].strip()].append((float(r["shape_pt_sequence"]), float(r["shape_pt_lon"]),
                                               float(r["shape_pt_lat"])))
        self.shapes = {k: np.array([(x, y) for _, x, y in sorted(v)]) for k, v in pts.items()}
        self.trip_shape = {r["trip_id"].strip(): r.get("shape_id", "").strip() for r in _raw(zpath, "trips.txt")}
        st = defaultdict(list)
        for r in _raw(zpath, "stop_times.txt"):
            st[r["trip_id"].strip()].append((int(r["stop_sequence"]), r["stop_id"].strip()))
        self.trip_stops = {k: [s for _, s in sorted(v)] for k, v in st.items()}
        self.stop_ll = {r["stop_id"].strip(): (float(r["stop_lon"]), float(r["stop_lat"]))
                        for r in _raw(zpath, "stops.txt") if r.get("stop_lon")}
        lon0 = np.mean([p[0] for p in self.stop_ll.values()])
        lat0 = np.mean([p[1] for p in self.stop_ll.values()])
        utm = CRS.from_dict({"proj": "utm", "zone": int((lon0 + 180) // 6) + 1, "south": bool(lat0 < 0)})
        self.fwd = Transformer.from_crs("EPSG:4326", utm, always_xy=True)

    def ride(self, trip_id, b, a):
        """(metric LineString of the ride, whether the trip's stops project in order) or None without shape."""
        from shapely import LineString, Point
        from shapely.ops import substring

        tid = trip_id.split("@")[0]  # frequency-expanded trips keep their template's shape
        sid = self.trip_shape.get(tid, "")
        if sid not in self.shapes:
            return None
        line = LineString(np.column_stack(self.fwd.transform(*self.shapes[sid].T)))
        stops = self.trip_stops[tid]
        pos = [line.project(Point(*self.fwd.transform(*self.stop_ll[s]))) for s in stops]
        ordered = bool(np.all(np.diff(pos) >= -1e-6))
        return substring(line, pos[b], pos[a]), ordered


def _rides(tt, n, seed):
    """``n`` random (trip id, pattern stops, board, alight) of trips with a shape."""
    a = tt.arrays
    rng = np.random.default_rng(seed)
    trips = np.flatnonzero([tt.shapes.trip_profile(t) >= 0 for t in np.asarray(a["trip_id"])])
    out = []
    for t in rng.choice(trips, min(n, len(trips)), replace=False):
        p = int(a["trip_pattern"][t])
        ps = np.asarray(a["pattern_stops"][a["pattern_stop_off"][p]:a["pattern_stop_off"][p + 1]])
        b, e = sorted(rng.choice(len(ps), 2, replace=False))
        out.append((str(a["trip_id"][t]), ps, int(b), int(e)))
    return out


@pytest.mark.parametrize("feed", [("clermont_ferrand", "t2c_gtfs_2024.zip"), ("sao_paulo", "spo.zip"),
                                  ("porto_alegre", "poa_trensurb.zip")])
def test_rides_along_shapes_equal_shapely_twin(feed):
    import shapely

    path = data_file(*feed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = Timetable.build(path)
    assert tt.shapes is not None and tt.shapes.n_trips > 0
    twin = _Twin(path)
    stop_ll = np.column_stack([tt.arrays["stop_lon"], tt.arrays["stop_lat"]])
    n_ordered = n_checked = 0
    for trip, ps, b, e in _rides(tt, 60, 3):
        xy = tt.shapes.ride_lonlat(trip, ps, b, e, stop_ll)
        want = twin.ride(trip, b, e)
        assert want is not None
        line, ordered = want
        n_checked += 1
        if xy is None:  # drawn stop to stop: only where the stops are out of order along the shape
            assert not ordered, trip
            continue
        if not ordered:
            continue
        n_ordered += 1
        mine = shapely.LineString(np.column_stack(twin.fwd.transform(xy[:, 0], xy[:, 1])))
        if line.length < 1:
            assert mine.length < 2
            continue
        assert shapely.hausdorff_distance(mine, line) < 2.0, trip
        assert mine.length == pytest.approx(line.length, rel=3e-3, abs=1.0), trip
    assert n_ordered >= 0.7 * n_checked


def test_read_shapes_equal_raw_csv():
    feeds = [("porto_alegre", "poa_eptc.zip"), ("cairns", "cairns_gtfs.zip"), ("nyc_subway", "nyc_subway_gtfs.zip")]
    for feed in feeds:
        path = data_file(*feed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sh = read_gtfs(path).shapes
        twin = _Twin.__new__(_Twin)
        pts = defaultdict(list)
        for r in _raw(path, "shapes.txt"):
            pts[r["shape_id"].strip()].append((float(r["shape_pt_sequence"]), float(r["shape_pt_lon"]),
                                               float(r["shape_pt_lat"])))
        twin.shapes = {k: np.array([(x, y) for _, x, y in sorted(v)]) for k, v in pts.items()}
        assert sh["shape_id"].nunique() == len(twin.shapes)
        for sid, g in list(sh.groupby("shape_id", sort=False))[:50]:
            assert np.array_equal(g[["lon", "lat"]].to_numpy(), twin.shapes[sid])


def test_feed_without_shapes_and_unknown_trip():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = Timetable.build(data_file("nantes", "semitan_gtfs_2014_subset.zip"))
    assert tt.shapes is None  # shape_id in trips.txt but no shapes.txt: rides are drawn stop to stop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = Timetable.build(data_file("porto_alegre", "poa_trensurb.zip"))
    assert tt.shapes.ride_lonlat("no-such-trip", np.arange(3), 0, 2, np.zeros((3, 2))) is None


def test_itinerary_rides_along_shapes_and_bundle(tmp_path):
    """POA (EPTC + TRENSURB, both with shapes.txt): ride legs follow the shape (their length at least the straight
    line between their stops, ends near the stops), the bundle keeps the shapes (.npy, checksummed)."""
    import shapely

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = access.TransportNetwork.from_files(
            data_file("porto_alegre", "poa_osm.pbf"),
            gtfs=[data_file("porto_alegre", "poa_eptc.zip"), data_file("porto_alegre", "poa_trensurb.zip")],
            modes=("walk",), cache_dir=tmp_path / "cache")
    tt = net.timetable
    assert tt.shapes is not None and tt.shapes.n_shapes > 100
    bundle = next((tmp_path / "cache").iterdir())
    assert "transit_shapes" in access.network.bundle._read_manifest(bundle)["components"]
    assert access.network.bundle.verify_bundle(bundle) == []
    saved = sorted(p.name for p in (bundle / "transit_shapes").iterdir())
    assert "shape_lon.npy" in saved and "trip_profile.npy" in saved
    o = [(-51.2287, -30.0277), (-51.2197, -30.0330), (-51.1793, -30.0346)]
    d = [(-51.1793, -30.0346), (-51.1900, -30.0600), (-51.2287, -30.0277)]
    import pandas as pd

    op = pd.DataFrame({"id": [0, 1, 2], "lon": [p[0] for p in o], "lat": [p[1] for p in o]})
    dp = pd.DataFrame({"id": [0, 1, 2], "lon": [p[0] for p in d], "lat": [p[1] for p in d]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = access.itineraries(net, op, dp, "2019-05-13T14:00", window_min=10, progress=False)
    rides = it[it["kind"] == "ride"]
    assert len(rides) >= 3
    sid = pd.Index(np.asarray(tt.arrays["stop_id"]).astype(str))
    slon, slat = np.asarray(tt.arrays["stop_lon"]), np.asarray(tt.arrays["stop_lat"])
    from access.routing.itinerary import _haversine_m

    n_curved = 0
    for r in rides.itertuples():
        a, b = sid.get_loc(r.from_stop_id), sid.get_loc(r.to_stop_id)
        xy = np.asarray(r.geometry.coords)
        straight = float(_haversine_m(slon[a], slat[a], slon[b], slat[b]))
        assert r.distance_m >= straight * 0.98 - 5
        assert _haversine_m(xy[0, 0], xy[0, 1], slon[a], slat[a]) < 150
        assert _haversine_m(xy[-1, 0], xy[-1, 1], slon[b], slat[b]) < 150
        stop_to_stop = shapely.LineString(np.column_stack([slon, slat])[[a, b]])
        n_curved += len(xy) > r.n_stops + 1 or r.geometry.hausdorff_distance(stop_to_stop) > 1e-4
    assert n_curved >= 1


def test_shape_dist_traveled_path(tmp_path):
    """Where shapes.txt and stop_times.txt both give shape_dist_traveled, stops are placed by it. TRENSURB with both
    columns filled from the twin (metres along the shape in UTM, each stop's shapely projection): the rides equal the
    twin's substrings."""
    import shapely

    src = data_file("porto_alegre", "poa_trensurb.zip")
    twin = _Twin(src)
    folder = tmp_path / "feed"
    folder.mkdir()
    with zipfile.ZipFile(src) as z:
        for name in z.namelist():
            if name not in ("shapes.txt", "stop_times.txt"):
                (folder / name).write_bytes(z.read(name))
    lines = {}
    with open(folder / "shapes.txt", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence", "shape_dist_traveled"])
        for sid, ll in twin.shapes.items():
            xy = np.column_stack(twin.fwd.transform(*ll.T))
            lines[sid] = shapely.LineString(xy)
            cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
            for k, ((lon, lat), dist) in enumerate(zip(ll, cum)):
                w.writerow([sid, f"{lat:.7f}", f"{lon:.7f}", k, f"{dist:.3f}"])
    rows = _raw(src, "stop_times.txt")
    ordered_trips = set()
    with open(folder / "stop_times.txt", "w", newline="") as f:
        cols = [c for c in rows[0] if c != "shape_dist_traveled"] + ["shape_dist_traveled"]
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        pos = {}
        for tid, stops in twin.trip_stops.items():
            line = lines.get(twin.trip_shape.get(tid, ""))
            if line is None:
                continue
            p = [line.project(shapely.Point(*twin.fwd.transform(*twin.stop_ll[s]))) for s in stops]
            if np.all(np.diff(p) >= 0):
                ordered_trips.add(tid)
            pos[tid] = dict(zip(range(len(stops)), p))
        seq = defaultdict(list)
        for r in rows:
            seq[r["trip_id"].strip()].append(int(r["stop_sequence"]))
        rank = {t: {s: i for i, s in enumerate(sorted(v))} for t, v in seq.items()}
        for r in rows:
            t = r["trip_id"].strip()
            r = {k: r[k] for k in cols if k != "shape_dist_traveled"}
            i = rank[t][int(r["stop_sequence"])]
            r["shape_dist_traveled"] = f"{pos[t][i]:.3f}" if t in pos else ""
            w.writerow(r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = Timetable.build(folder)
    a = tt.shapes.arrays
    assert np.isfinite(a["profile_dist"]).mean() > 0.9 and np.isfinite(a["shape_dist"]).all()
    stop_ll = np.column_stack([tt.arrays["stop_lon"], tt.arrays["stop_lat"]])
    n = 0
    for trip, ps, b, e in _rides(tt, 40, 4):
        if trip not in ordered_trips:
            continue
        xy = tt.shapes.ride_lonlat(trip, ps, b, e, stop_ll)
        line, _ = twin.ride(trip, b, e)
        if xy is None:
            continue
        mine = shapely.LineString(np.column_stack(twin.fwd.transform(xy[:, 0], xy[:, 1])))
        if line.length >= 1:
            assert shapely.hausdorff_distance(mine, line) < 2.0, trip
            n += 1
    assert n >= 20
