"""GTFS reading and the timetable's calendar logic, on real feeds and on small broken feeds."""

from __future__ import annotations

import datetime as dt
import math
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from access._errors import AccessWarning, GTFSError
from access.io.gtfs import active_service_ids, parse_times, read_feeds, read_gtfs
from access.network.transit import Timetable

from .conftest import data_file


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@pytest.fixture(scope="module")
def clermont_feed():
    return read_gtfs(data_file("clermont_ferrand", "t2c_gtfs_2024.zip"))


@pytest.fixture(scope="module")
def clermont_tt(clermont_feed):
    return _quiet(Timetable.build, clermont_feed)


# --------------------------------------------------------------------------------------------- parsing
def test_parse_times_over_24h_and_empty():
    assert list(parse_times(["00:00:00", "7:05:09", "25:26:00", "", " 12:00:01 "])) == [0, 25509, 91560, -1, 43201]
    with pytest.raises(GTFSError, match=r"line 3 .*'12:6x:00'"):
        parse_times(["10:00:00", "12:6x:00"], ids=np.array(["a", "b"]))


def test_eptc_interpolation_by_distance():
    feed = read_gtfs(data_file("porto_alegre", "poa_eptc.zip"))
    st = feed.stop_times
    raw = pd.read_csv(zipfile.ZipFile(data_file("porto_alegre", "poa_eptc.zip")).open("stop_times.txt"), dtype=str,
                      keep_default_na=False)
    assert (raw["arrival_time"] == "").mean() > 0.9  # the quirk: most rows untimed
    assert (st["arrival_s"] >= 0).all() and (st["departure_s"] >= st["arrival_s"]).all()
    same = st["trip_id"].to_numpy()[1:] == st["trip_id"].to_numpy()[:-1]
    assert (np.diff(st["arrival_s"].to_numpy())[same] >= 0).all()
    # one trip by hand: time proportional to cumulative straight-line distance between the two timepoints
    trip = st["trip_id"].iloc[0]
    t = st[st["trip_id"] == trip].merge(feed.stops, on="stop_id", how="left")
    lat, lon = np.radians(t["stop_lat"].to_numpy()), np.radians(t["stop_lon"].to_numpy())
    a = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    cum = np.r_[0, np.cumsum(2 * 6371008.8 * np.arcsin(np.sqrt(a)))]
    t0, t1 = t["arrival_s"].iloc[0], t["arrival_s"].iloc[-1]
    want = np.rint(t0 + (t1 - t0) * cum / cum[-1])
    assert np.abs(t["arrival_s"].to_numpy() - want).max() <= 1
    assert len(np.unique(t["arrival_s"])) > 5


# --------------------------------------------------------------------------------------------- calendar
def test_calendar_weekday_and_removal(clermont_feed, clermont_tt):
    # service "1" runs Mon-Fri from 2024-01-17 but calendar_dates removes it on Monday 2024-01-29
    assert "1" in set(active_service_ids(clermont_feed, dt.date(2024, 1, 22)))
    assert "1" not in set(active_service_ids(clermont_feed, dt.date(2024, 1, 29)))
    assert "1" not in set(active_service_ids(clermont_feed, dt.date(2024, 1, 27)))  # a Saturday
    # an addition: service "12" added on 2024-04-01
    assert "12" in set(active_service_ids(clermont_feed, dt.date(2024, 4, 1)))
    # the timetable agrees: trips of service "1" are in the Monday 22nd, not in Monday 29th
    sid = list(clermont_tt.service_id).index("1")
    trips_1 = set(np.flatnonzero(clermont_tt.trip_service == sid))
    assert trips_1
    on22 = set(clermont_tt.for_date("2024-01-22").pat_trip)
    on29 = set(clermont_tt.for_date("2024-01-29").pat_trip)
    assert trips_1 <= on22
    assert not (trips_1 & on29)


def test_after_midnight_trips_run_into_next_day(clermont_feed, clermont_tt):
    st = clermont_feed.stop_times
    late_trip = st.loc[st["arrival_s"] >= 86400, "trip_id"].iloc[0]
    g = list(clermont_tt.trip_id).index(late_trip)
    day = clermont_tt.for_date("2024-03-13")  # a Wednesday: the trip of Tuesday's service runs past 00:00
    idx = np.flatnonzero((day.pat_trip == g) & (day.pat_trip_shift == -86400))
    assert len(idx) == 1
    # its times on Wednesday are the feed's times minus 24 h, some of them after midnight (>= 0)
    p = int(np.searchsorted(day.pat_trip_off, idx[0], side="right") - 1)
    rank = idx[0] - day.pat_trip_off[p]
    nt, off = day.pat_ntrips[p], day.pat_time_off[p]
    ns = day.pat_stop_off[p + 1] - day.pat_stop_off[p]
    arr = day.t_arr[off + rank * ns + np.arange(ns)]
    want = st.loc[st["trip_id"] == late_trip, "arrival_s"].to_numpy() - 86400
    assert (arr == want).all() and (arr >= 0).any()


def test_patterns_are_fifo(clermont_tt):
    day = clermont_tt.for_date("2024-03-12")
    for p in range(day.n_patterns):
        ns = day.pat_stop_off[p + 1] - day.pat_stop_off[p]
        nt, off = day.pat_ntrips[p], day.pat_time_off[p]
        a = day.t_arr[off:off + ns * nt].reshape(nt, ns).T  # trip-major -> [stop, trip]
        d = day.t_dep[off:off + ns * nt].reshape(nt, ns).T
        assert (np.diff(a, axis=1) >= 0).all() and (np.diff(d, axis=1) >= 0).all()
        assert (a[1:] >= d[:-1]).all() and (d >= a).all()
    assert day.n_patterns >= len(np.unique(day.pat_base))


def test_empty_service_day_fails_clearly(clermont_tt):
    with pytest.raises(GTFSError, match=r"no transit service runs on 2030-01-01.*2024-01-"):
        clermont_tt.for_date("2030-01-01")


# --------------------------------------------------------------------------------------------- frequencies
def test_frequencies_expanded_deterministically():
    feed = read_gtfs(data_file("sao_paulo", "spo.zip"))
    raw = zipfile.ZipFile(data_file("sao_paulo", "spo.zip"))
    fr = pd.read_csv(raw.open("frequencies.txt"), dtype=str)
    assert feed.n_frequency_trips > len(fr)
    l7 = feed.trips[feed.trips["trip_id"].str.startswith("CPTM L07-0@")]
    starts = sorted(l7["trip_id"].str.split("@").str[1])
    # 04:00-04:59 every 720 s, then 05:00-05:59 every 360 s, ...
    assert starts[:7] == ["04:00:00", "04:12:00", "04:24:00", "04:36:00", "04:48:00", "05:00:00", "05:06:00"]
    st = feed.stop_times[feed.stop_times["trip_id"] == "CPTM L07-0@04:12:00"]
    st0 = pd.read_csv(raw.open("stop_times.txt"), dtype=str)
    st0 = st0[st0["trip_id"] == "CPTM L07-0"]
    assert len(st) == len(st0)
    assert st["departure_s"].iloc[0] == 4 * 3600 + 12 * 60
    assert st["arrival_s"].iloc[1] == 4 * 3600 + 12 * 60 + 8 * 60  # 04:08 in the template, +12 min
    assert "CPTM L07-0" not in set(feed.trips["trip_id"])  # the template itself is not a trip
    again = read_gtfs(data_file("sao_paulo", "spo.zip"))
    assert again.stop_times.equals(feed.stop_times)


# --------------------------------------------------------------------------------------------- transfers
def test_transfers_txt_station_level_nyc():
    tt = _quiet(Timetable.build, data_file("nyc_subway", "nyc_subway_gtfs.zip"), max_transfer_walk_min=0)
    ids = list(tt.stop_id)
    a, b = ids.index("101N"), ids.index("101S")
    off, to, secs = tt.transfers_csr()
    row = dict(zip(to[off[a]:off[a + 1]], secs[off[a]:off[a + 1]]))
    assert row.get(b) == 180  # from transfers.txt row "101,101,2,180" applied to the station's platforms
    assert len(to) > 0


def test_transfers_txt_nantes_min_time_is_lower_bound():
    feed = _quiet(read_gtfs, data_file("nantes", "semitan_gtfs_2014_subset.zip"))
    tt = _quiet(Timetable.build, feed, max_transfer_walk_min=10)
    ids = tt.stop_index()
    off, to, secs = tt.transfers_csr()
    walk = np.asarray(tt.transfer_walk_s)
    checked = 0
    for r in feed.transfers.itertuples(index=False):
        a, b = ids.get_indexer([r.from_stop_id, r.to_stop_id])
        if a < 0 or b < 0 or not (tt.stop_used[a] and tt.stop_used[b]):
            continue
        j = np.flatnonzero(to[off[a]:off[a + 1]] == b)
        assert len(j) == 1
        e = off[a] + j[0]
        assert secs[e] == max(r.min_transfer_time_s, walk[e])
        checked += 1
    assert checked >= 1


# --------------------------------------------------------------------------------------------- multi-feed
def test_multi_feed_ids_unique_porto_alegre():
    feeds = read_feeds([data_file("porto_alegre", "poa_eptc.zip"), data_file("porto_alegre", "poa_trensurb.zip")])
    assert [f.feed_id for f in feeds] == ["poa_eptc", "poa_trensurb"]
    assert feeds[1].stops["stop_id"].str.startswith("poa_trensurb:").all()
    tt = _quiet(Timetable.build, feeds)
    assert tt.n_stops == sum(len(f.stops) for f in feeds)
    assert len(set(tt.stop_id)) == tt.n_stops and len(set(tt.trip_id)) == tt.n_trips
    assert all(s.count(":") == 1 for s in tt.stop_id)  # prefixed once, not again when the feeds are passed back
    assert tt.timezone == "America/Sao_Paulo"
    day = tt.for_date("2019-05-13")
    rail = {i for i, t in enumerate(tt.trip_id) if t.startswith("poa_trensurb:")}
    assert rail & set(day.pat_trip) and (set(day.pat_trip) - rail)
    # arrays round trip (the bundle's format: no object arrays)
    arrays, meta = tt.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    back = Timetable.from_arrays(arrays, meta)
    d2 = back.for_date("2019-05-13")
    assert all(np.array_equal(x, y) for x, y in zip(day[1:], d2[1:]))


# --------------------------------------------------------------------------------------------- bad feeds
def _write_feed(path, files: dict):
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


GOOD = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nA,A,http://a,Europe/Paris\n",
    "stops.txt": "stop_id,stop_name,stop_lat,stop_lon\nS1,one,45.0,3.0\nS2,two,45.01,3.0\nS3,three,45.02,3.0\n",
    "routes.txt": "route_id,route_short_name,route_type\nR,R,3\n",
    "trips.txt": "route_id,service_id,trip_id\nR,WK,T1\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                    "WK,1,1,1,1,1,0,0,20240101,20241231\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                      "T1,08:00:00,08:00:00,S1,1\nT1,,,S2,2\nT1,08:10:00,08:10:00,S3,3\n",
}


def _hav(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


def test_small_good_feed(tmp_path):
    feed = read_gtfs(_write_feed(tmp_path / "ok", GOOD))
    # S2 halfway by distance; interpolated times are truncated as R5's GTFS library does (float distances put S2 a
    # hair before the middle, so 08:04:59.99.. -> 08:04:59)
    d12, d23 = (_hav(45.0, 3.0, 45.01, 3.0), _hav(45.01, 3.0, 45.02, 3.0))
    assert list(feed.stop_times["arrival_s"]) == [28800, math.floor(28800 + 600 * d12 / (d12 + d23)), 29400]
    tt = Timetable.build(feed)
    with pytest.raises(GTFSError, match="no transit service runs on 2024-01-06 .a Saturday"):
        tt.for_date("2024-01-06")
    day = tt.for_date("2024-01-08")
    assert list(day.pat_trip_shift) == [0, 86400]  # Monday's trip, and Tuesday's morning trip for late queries


def test_missing_stops_file(tmp_path):
    files = {k: v for k, v in GOOD.items() if k != "stops.txt"}
    with pytest.raises(GTFSError, match="required file stops.txt is missing"):
        read_gtfs(_write_feed(tmp_path / "f", files))


def test_missing_required_column(tmp_path):
    files = dict(GOOD, **{"trips.txt": "route_id,trip_id\nR,T1\n"})
    with pytest.raises(GTFSError, match=r"trips.txt: required column\(s\) \['service_id'\]"):
        read_gtfs(_write_feed(tmp_path / "f", files))


def test_bad_time_string(tmp_path):
    files = dict(GOOD, **{"stop_times.txt": GOOD["stop_times.txt"].replace("08:10:00,08:10:00", "8h10,8h10")})
    with pytest.raises(GTFSError, match=r"stop_times.txt: line 4 \(id 'T1'\): bad time '8h10'"):
        read_gtfs(_write_feed(tmp_path / "f", files))


def test_unknown_stop_id(tmp_path):
    files = dict(GOOD, **{"stop_times.txt": GOOD["stop_times.txt"].replace(",S2,", ",S9,")})
    with pytest.raises(GTFSError, match=r"line 3 \(trip 'T1'\): unknown stop_id 'S9'"):
        read_gtfs(_write_feed(tmp_path / "f", files))


def test_decreasing_times(tmp_path):
    files = dict(GOOD, **{"stop_times.txt": GOOD["stop_times.txt"].replace("08:10:00,08:10:00", "07:50:00,07:50:00")})
    with pytest.raises(GTFSError, match=r"line 4 \(trip 'T1', stop 'S3'\): times decrease"):
        read_gtfs(_write_feed(tmp_path / "f", files))


def test_empty_service_calendar(tmp_path):
    files = dict(GOOD, **{"calendar.txt": GOOD["calendar.txt"].replace("WK,1,1,1,1,1,0,0", "WK,0,0,0,0,0,0,0")})
    tt = Timetable.build(read_gtfs(_write_feed(tmp_path / "f", files)))
    with pytest.raises(GTFSError, match="no service of the feeds runs on any date.*no date can work; fix the calendars"):
        tt.for_date("2024-01-08")


def test_droppable_rows_warn_with_counts(tmp_path):
    files = dict(GOOD, **{"stop_times.txt": GOOD["stop_times.txt"] + "GHOST,09:00:00,09:00:00,S1,1\n"
                                                                      "GHOST,09:05:00,09:05:00,S2,2\n"})
    with pytest.warns(AccessWarning, match=r"2 row\(s\) of 1 trip id\(s\) absent from trips.txt dropped"):
        feed = read_gtfs(_write_feed(tmp_path / "f", files))
    assert set(feed.stop_times["trip_id"]) == {"T1"}
