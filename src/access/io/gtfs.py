"""GTFS feeds -> typed tables (times as int32 seconds since the start of the service day; over 24:00 allowed).

This module decodes; it makes no routing decisions. :func:`read_gtfs` reads one feed (a ``.zip`` or a folder),
:func:`read_feeds` several at once with ids made unique per feed. The result is a :class:`GTFSFeed` of pandas
tables whose ids are strings and whose times are integer seconds since the start of the service day.

What is checked (errors stop the build, because routing would be wrong):

* required files (``stops.txt``, ``trips.txt``, ``stop_times.txt``, and ``calendar.txt`` or ``calendar_dates.txt``)
  and their required columns;
* time strings (``H:MM:SS``, hours may exceed 23);
* stop ids used in ``stop_times.txt`` that ``stops.txt`` does not define;
* times that decrease along a trip (``arrival_time > departure_time`` at a stop, or a departure after the next
  arrival), and duplicate ``stop_sequence`` values in a trip.

Each error names the file, the line (1 = header) and the id. Rows that can be dropped without making the rest of
the feed wrong are dropped with one counted :class:`~access._errors.AccessWarning` per kind (``stop_times`` of trips
absent from ``trips.txt``, trips whose first or last stop has no time, frequency rows with a non-positive headway,
``transfers.txt`` rows naming unknown stops).

Interpolation
-------------
Stop times without arrival and departure times between two timed stops are interpolated linearly by distance along
the stop sequence: ``shape_dist_traveled`` when every row of the trip has it, otherwise the straight-line (haversine)
distance between consecutive stops. Where two timepoints are at the same distance the position in the sequence is
used. Interpolated times are truncated to the whole second (floor), as R5's GTFS library does.

Frequencies
-----------
A trip listed in ``frequencies.txt`` is a template: its stop times are taken relative to its first departure and the
trip is replaced by one trip per departure ``start_time, start_time + headway_secs, ...`` strictly before
``end_time``. Both ``exact_times`` values are expanded this way (no randomness, so nothing to seed). For
``exact_times=0`` GTFS only promises the headway, and R5 instead samples random offsets (Monte Carlo); the
deterministic schedule gives the same mean waits and makes results reproducible. Expanded trips get the id
``"{trip_id}@{HH:MM:SS}"``.
"""

from __future__ import annotations

import datetime as _dt
import io
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from access._errors import AccessWarning, GTFSError
from access._units import haversine_m

__all__ = [
    "GTFSFeed",
    "read_shapes",
    "read_gtfs",
    "read_feeds",
    "parse_times",
    "active_service_ids",
    "service_date_matrix",
]

_REQUIRED = {
    "stops.txt": ["stop_id"],
    "trips.txt": ["route_id", "service_id", "trip_id"],
    "stop_times.txt": ["trip_id", "stop_id", "stop_sequence"],
}
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MISSING_TIME = np.int32(-1)
#: ``frequencies.txt`` may not expand into more stop times than this (a 1 s headway over 999 h would exhaust memory)
MAX_FREQUENCY_STOP_TIMES = 20_000_000
#: ... nor into more trips than this
MAX_FREQUENCY_TRIPS = 1_000_000


@dataclass(frozen=True)
class GTFSFeed:
    """One decoded GTFS feed.

    Attributes
    ----------
    feed_id : str
        Short name of the feed (file stem unless given); used as id prefix when several feeds are combined.
    path : str
        Where the feed was read from.
    timezone : str or None
        ``agency_timezone`` of the first agency (all agencies of a feed must share it).
    stops : DataFrame
        ``stop_id, stop_name, stop_lat, stop_lon, location_type, parent_station`` (coordinates of stops without
        their own are taken from their parent station).
    routes : DataFrame
        ``route_id, agency_id, route_short_name, route_long_name, route_type``.
    trips : DataFrame
        ``trip_id, route_id, service_id`` (after frequency expansion).
    stop_times : DataFrame
        ``trip_id, stop_id, stop_sequence, arrival_s, departure_s, pickup_type, drop_off_type`` sorted by trip and
        sequence; ``arrival_s``/``departure_s`` int32 seconds since the start of the service day, interpolated.
    calendar, calendar_dates, frequencies, transfers : DataFrame
        The optional tables (empty with the right columns when absent). ``frequencies`` has ``start_s, end_s,
        headway_s, exact_times``; ``transfers`` has ``from_stop_id, to_stop_id, transfer_type, min_transfer_time_s``.
    n_frequency_trips : int
        Trips created by expanding ``frequencies.txt``.
    warnings : tuple of str
        The warnings issued while reading.
    id_prefix : str
        The prefix added to every id (empty unless combined with other feeds).
    shapes : DataFrame
        ``shapes.txt`` as ``shape_id, lon, lat, dist`` (``dist``: its ``shape_dist_traveled``, NaN when absent),
        sorted by shape and point sequence (see :func:`read_shapes`); ``trips`` then has a ``shape_id`` column and
        ``stop_times`` a ``shape_dist_traveled`` one (NaN when absent).
    """

    feed_id: str
    path: str
    timezone: str | None
    stops: pd.DataFrame
    routes: pd.DataFrame
    trips: pd.DataFrame
    stop_times: pd.DataFrame
    calendar: pd.DataFrame
    calendar_dates: pd.DataFrame
    frequencies: pd.DataFrame
    transfers: pd.DataFrame
    n_frequency_trips: int = 0
    warnings: tuple = field(default_factory=tuple)
    id_prefix: str = ""
    shapes: pd.DataFrame = field(default_factory=lambda: empty_shapes())

    def with_prefix(self, prefix: str) -> GTFSFeed:
        """A copy with every id (stop, parent station, route, trip, service) prefixed by ``prefix``."""
        if not prefix:
            return self

        def p(s):
            s = s.astype(str)
            return (prefix + s).where(s != "", "")

        stops = self.stops.assign(stop_id=p(self.stops["stop_id"]), parent_station=p(self.stops["parent_station"]))
        routes = self.routes.assign(route_id=p(self.routes["route_id"]))
        trips = self.trips.assign(
            trip_id=p(self.trips["trip_id"]),
            route_id=p(self.trips["route_id"]),
            service_id=p(self.trips["service_id"]),
        )
        if "shape_id" in trips.columns:
            trips["shape_id"] = p(trips["shape_id"])
        st = self.stop_times.assign(trip_id=p(self.stop_times["trip_id"]), stop_id=p(self.stop_times["stop_id"]))
        cal = self.calendar.assign(service_id=p(self.calendar["service_id"]))
        cd = self.calendar_dates.assign(service_id=p(self.calendar_dates["service_id"]))
        fr = self.frequencies.assign(trip_id=p(self.frequencies["trip_id"]))
        tr = self.transfers.assign(
            from_stop_id=p(self.transfers["from_stop_id"]), to_stop_id=p(self.transfers["to_stop_id"])
        )
        return replace(
            self, stops=stops, routes=routes, trips=trips, stop_times=st, calendar=cal, calendar_dates=cd,
            frequencies=fr, transfers=tr, id_prefix=prefix + self.id_prefix,
            shapes=self.shapes.assign(shape_id=p(self.shapes["shape_id"])),
        )


# ----------------------------------------------------------------------------------------------------------------
# reading files


class _Source:
    """A zip or folder holding the ``*.txt`` tables (possibly one folder deep inside the zip)."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise GTFSError(f"GTFS feed {str(self.path)!r} does not exist; give a .zip file or a folder of .txt files")
        self._zip = None
        self._names = {}
        if self.path.is_dir():
            names = sorted(str(f.relative_to(self.path)).replace("\\", "/") for f in self.path.rglob("*.txt"))
        else:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as e:
                raise GTFSError(f"GTFS feed {str(self.path)!r} is not a readable zip file ({e}); give a GTFS .zip or "
                                "a folder of .txt files") from None
            names = self._zip.namelist()
        # the tables are in the shallowest folder holding stops.txt (a feed zipped inside one or more folders)
        names = [n for n in names if n.endswith(".txt") and not n.rsplit("/", 1)[-1].startswith("._")
                 and "__MACOSX" not in n]
        homes = sorted({n.rsplit("/", 1)[0] if "/" in n else "" for n in names
                        if n.rsplit("/", 1)[-1] == "stops.txt"}, key=lambda d: (d.count("/") + (d != ""), d))
        if homes:
            depth = (homes[0].count("/") + (homes[0] != ""))
            same = [d for d in homes if (d.count("/") + (d != "")) == depth]
            if len(same) > 1:
                raise GTFSError(f"GTFS feed {str(self.path)!r} holds several feeds (stops.txt in folders {same}); "
                                "give one feed per path")
            home = homes[0]
            for n in names:
                folder, _, base = n.rpartition("/")
                if folder == home:
                    self._names[base] = (self.path / n) if self._zip is None else n
        else:
            for n in names:
                if "/" not in n:
                    self._names[n] = (self.path / n) if self._zip is None else n

    def has(self, name):
        return name in self._names

    def read(self, name) -> pd.DataFrame:
        src = self._names[name]
        try:
            raw = self._zip.read(src) if self._zip is not None else Path(src).read_bytes()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise GTFSError(f"{self.path.name}/{name}: cannot be read ({e}); the feed is truncated or corrupt, "
                            "download it again") from None
        if not raw.strip():
            return pd.DataFrame()
        try:
            df = pd.read_csv(
                io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig",
                skipinitialspace=True,
            )
        except (pd.errors.ParserError, UnicodeDecodeError) as e:
            raise GTFSError(f"{self.path.name}/{name}: cannot be parsed as CSV ({e}); GTFS tables are "
                            "comma-separated UTF-8") from None
        if not isinstance(df.index, pd.RangeIndex):  # rows with more fields than the header: pandas shifted them
            raise GTFSError(f"{self.path.name}/{name}: line 2 has more comma-separated fields than the header "
                            f"({len(df.columns)} columns: {[str(c) for c in df.columns]}); fix the extra commas or "
                            "quote the values that contain one")
        df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
        return df


def _need_cols(df: pd.DataFrame, name: str, cols, feed: str):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise GTFSError(
            f"{feed}/{name}: required column(s) {missing} missing (found {list(df.columns)}); fix the feed header"
        )


def _col(df, name, default=""):
    if name in df.columns:
        return df[name].astype(str).str.strip()
    return pd.Series([default] * len(df), index=df.index, dtype=object)


def parse_times(values, *, file: str = "stop_times.txt", column: str = "arrival_time", ids=None,
                rows=None) -> np.ndarray:
    """Parse GTFS ``H:MM:SS`` strings into int32 seconds (hours over 23 allowed); empty strings give ``-1``.

    Raises
    ------
    GTFSError
        Naming the file, line, id and value of the first malformed string.
    """
    s = pd.Series(values, dtype=object).astype(str).str.strip()
    out = np.full(len(s), MISSING_TIME, dtype=np.int32)
    present = (s != "").to_numpy()
    if not present.any():
        return out
    sp = s[present]
    parts = sp.str.extract(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")
    bad = parts[0].isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(present)[np.flatnonzero(bad)[0]])
        line = int(rows[i]) if rows is not None else i + 2
        ident = f" (id {ids[i]!r})" if ids is not None else ""
        raise GTFSError(
            f"{file}: line {line}{ident}: bad time {s.iloc[i]!r} in column {column!r}; expected H:MM:SS "
            f"(hours may exceed 23); {int(bad.sum())} bad value(s) in all"
        )
    v = parts.astype(np.int64)
    out[present] = (v[0] * 3600 + v[1] * 60 + v[2]).to_numpy().astype(np.int32)
    return out


def _warn(msg, collected):
    collected.append(msg)
    warnings.warn(msg, AccessWarning, stacklevel=3)


def read_gtfs(path, *, feed_id: str | None = None, prefix: str = "") -> GTFSFeed:
    """Read one GTFS feed from a ``.zip`` or a folder.

    Parameters
    ----------
    path : str or Path
        The feed.
    feed_id : str, optional
        Short name of the feed; defaults to the file stem.
    prefix : str, default ""
        Prefix added to every id (used by :func:`read_feeds` to keep ids unique across feeds).

    Returns
    -------
    GTFSFeed

    Raises
    ------
    GTFSError
        Missing required file or column, malformed times, unknown stop ids in ``stop_times.txt``, times decreasing
        along a trip (see the module docstring).

    Examples
    --------
    >>> feed = read_gtfs("poa_eptc.zip")  # doctest: +SKIP
    >>> feed.stop_times[["trip_id", "stop_id", "arrival_s"]].head()  # doctest: +SKIP
    """
    src = _Source(path)
    fname = Path(path).name
    feed_id = feed_id or Path(path).stem
    warn_list: list[str] = []
    for name in _REQUIRED:
        if not src.has(name):
            raise GTFSError(f"{fname}: required file {name} is missing; a GTFS feed needs stops, trips and stop_times")
    if not (src.has("calendar.txt") or src.has("calendar_dates.txt")):
        raise GTFSError(f"{fname}: neither calendar.txt nor calendar_dates.txt is present; no service dates known")

    timezone = _read_agency(src, fname, warn_list)
    stops = _read_stops(src, fname)
    routes = _read_routes(src, fname)
    trips, routes = _read_trips(src, fname, routes, warn_list)
    calendar = _read_calendar(src, fname)
    calendar_dates = _read_calendar_dates(src, fname, warn_list)
    st = _read_stop_times_txt(src, fname, stops, trips, warn_list)
    _check_services(fname, trips, st, calendar, calendar_dates, warn_list)
    freq, trips, st, n_freq = _read_frequencies(src, fname, trips, st, warn_list)
    tr = _read_transfers(src, fname, stops, warn_list)

    feed = GTFSFeed(
        feed_id=feed_id, path=str(path), timezone=timezone, stops=stops, routes=routes, trips=trips,
        stop_times=st, calendar=calendar, calendar_dates=calendar_dates, frequencies=freq, transfers=tr,
        n_frequency_trips=n_freq, warnings=tuple(warn_list), shapes=read_shapes(src, fname, warn_list),
    )
    return feed.with_prefix(prefix) if prefix else feed


# ---------------------------------------------------------------------------------------- read_gtfs: one file each
def _read_agency(src: _Source, fname: str, warn_list: list[str]) -> str | None:
    """The feed's time zone from agency.txt (None when unknown)."""
    # agency / timezone
    timezone = None
    if src.has("agency.txt"):
        ag = src.read("agency.txt")
        if "agency_timezone" in ag.columns and len(ag):
            tzs = sorted(set(ag["agency_timezone"].str.strip()) - {""})
            if len(tzs) > 1:
                _warn(f"{fname}/agency.txt: several time zones {tzs}; using {tzs[0]!r} for the whole feed", warn_list)
            timezone = tzs[0] if tzs else None
    else:
        _warn(f"{fname}: agency.txt missing; the feed's time zone is unknown (times read as local)", warn_list)
    return timezone


def _read_stops(src: _Source, fname: str) -> pd.DataFrame:
    """stops.txt, with the parent station's coordinates where a stop has none."""
    # stops
    stops = src.read("stops.txt")
    _need_cols(stops, "stops.txt", _REQUIRED["stops.txt"], fname)
    stops = pd.DataFrame(
        {
            "stop_id": _col(stops, "stop_id"),
            "stop_name": _col(stops, "stop_name"),
            "stop_lat": pd.to_numeric(_col(stops, "stop_lat"), errors="coerce"),
            "stop_lon": pd.to_numeric(_col(stops, "stop_lon"), errors="coerce"),
            "location_type": pd.to_numeric(_col(stops, "location_type", "0").replace("", "0"), errors="coerce")
            .fillna(0).astype(np.int8),
            "parent_station": _col(stops, "parent_station"),
        }
    )
    _no_empty_ids(stops["stop_id"], f"{fname}/stops.txt", "stop_id")
    dup = stops["stop_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise GTFSError(f"{fname}/stops.txt: line {i + 2}: duplicate stop_id {stops['stop_id'].iloc[i]!r}")
    # inherit coordinates from parent station where missing
    nocoord = stops["stop_lat"].isna() | stops["stop_lon"].isna()
    if nocoord.any():
        par = stops.set_index("stop_id")[["stop_lat", "stop_lon"]]
        pp = stops.loc[nocoord, "parent_station"]
        ok = pp.isin(par.index)
        stops.loc[pp[ok].index, "stop_lat"] = par.loc[pp[ok], "stop_lat"].to_numpy()
        stops.loc[pp[ok].index, "stop_lon"] = par.loc[pp[ok], "stop_lon"].to_numpy()
    return stops


def _read_routes(src: _Source, fname: str) -> pd.DataFrame:
    """routes.txt (an empty table when absent)."""
    # routes
    if src.has("routes.txt"):
        r = src.read("routes.txt")
        _need_cols(r, "routes.txt", ["route_id"], fname)
        routes = pd.DataFrame(
            {
                "route_id": _col(r, "route_id"),
                "agency_id": _col(r, "agency_id"),
                "route_short_name": _col(r, "route_short_name"),
                "route_long_name": _col(r, "route_long_name"),
                "route_type": _whole_numbers(r, "route_type", 3, f"{fname}/routes.txt", "route_id",
                                             "GTFS route types are whole numbers, e.g. 3 for a bus").astype(np.int16),
            }
        )
        _no_empty_ids(routes["route_id"], f"{fname}/routes.txt", "route_id")
        dup = routes["route_id"].duplicated()
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise GTFSError(f"{fname}/routes.txt: line {i + 2}: duplicate route_id {routes['route_id'].iloc[i]!r}; "
                            "every route needs its own id")
    else:
        routes = pd.DataFrame(columns=["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"])
    return routes


def _read_trips(src: _Source, fname: str, routes: pd.DataFrame,
                warn_list: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """trips.txt, and the routes with those the trips name but routes.txt lacks."""
    # trips
    t = src.read("trips.txt")
    _need_cols(t, "trips.txt", _REQUIRED["trips.txt"], fname)
    if not len(t):
        raise GTFSError(f"{fname}/trips.txt: no rows (only a header); the feed has no trips to route, so no date "
                        "can work; use a feed with trips")
    trips = pd.DataFrame({"trip_id": _col(t, "trip_id"), "route_id": _col(t, "route_id"),
                          "service_id": _col(t, "service_id"), "shape_id": _col(t, "shape_id")})
    _no_empty_ids(trips["trip_id"], f"{fname}/trips.txt", "trip_id")
    dup = trips["trip_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise GTFSError(f"{fname}/trips.txt: line {i + 2}: duplicate trip_id {trips['trip_id'].iloc[i]!r}")
    missing_routes = set(trips["route_id"]) - set(routes["route_id"])
    if missing_routes:
        add = sorted(missing_routes)
        if len(routes):
            _warn(f"{fname}/trips.txt: {len(add)} route id(s) not in routes.txt, e.g. {add[:3]}; kept with no name",
                  warn_list)
        routes = pd.concat(
            [routes, pd.DataFrame({"route_id": add, "agency_id": "", "route_short_name": "", "route_long_name": "",
                                   "route_type": np.int16(3)})],
            ignore_index=True,
        )
    return trips, routes


def _read_calendar(src: _Source, fname: str) -> pd.DataFrame:
    """calendar.txt (an empty table when absent)."""
    # calendars
    if src.has("calendar.txt"):
        c = src.read("calendar.txt")
    else:
        c = pd.DataFrame()
    if len(c.columns):
        _need_cols(c, "calendar.txt", ["service_id", *_WEEKDAYS, "start_date", "end_date"], fname)
        calendar = pd.DataFrame({"service_id": _col(c, "service_id")})
        for d in _WEEKDAYS:
            v = _col(c, d)
            bad = ~v.isin(["0", "1"])
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise GTFSError(f"{fname}/calendar.txt: line {i + 2} (service {calendar['service_id'].iloc[i]!r}): "
                                f"bad value {v.iloc[i]!r} in column {d!r}; weekday flags must be 0 or 1 "
                                f"({int(bad.sum())} bad value(s) in that column)")
            calendar[d] = v == "1"
        for col in ("start_date", "end_date"):
            calendar[col] = _parse_dates(_col(c, col), f"{fname}/calendar.txt", col)
        rev = calendar["start_date"] > calendar["end_date"]
        if rev.any():
            i = int(np.flatnonzero(rev.to_numpy())[0])
            raise GTFSError(f"{fname}/calendar.txt: line {i + 2} (service {calendar['service_id'].iloc[i]!r}): "
                            f"start_date {c['start_date'].iloc[i]!r} is after end_date {c['end_date'].iloc[i]!r}; "
                            "swap them or fix the dates")
    else:
        calendar = pd.DataFrame({"service_id": pd.Series(dtype=object), **{d: pd.Series(dtype=bool) for d in _WEEKDAYS},
                                 "start_date": pd.Series(dtype="int64"), "end_date": pd.Series(dtype="int64")})
    return calendar


def _read_calendar_dates(src: _Source, fname: str, warn_list: list[str]) -> pd.DataFrame:
    """calendar_dates.txt (an empty table when absent)."""
    if src.has("calendar_dates.txt"):
        cd = src.read("calendar_dates.txt")
    else:
        cd = pd.DataFrame()
    if len(cd.columns):
        _need_cols(cd, "calendar_dates.txt", ["service_id", "date", "exception_type"], fname)
        calendar_dates = pd.DataFrame(
            {
                "service_id": _col(cd, "service_id"),
                "date": _parse_dates(_col(cd, "date"), f"{fname}/calendar_dates.txt", "date"),
                "exception_type": pd.to_numeric(_col(cd, "exception_type"), errors="coerce").fillna(0).astype(np.int8),
            }
        )
        bad = ~calendar_dates["exception_type"].isin([1, 2])
        if bad.any():
            _warn(f"{fname}/calendar_dates.txt: {int(bad.sum())} row(s) with exception_type not 1 or 2 dropped "
                  f"(first at line {int(np.flatnonzero(bad.to_numpy())[0]) + 2})", warn_list)
            calendar_dates = calendar_dates[~bad].reset_index(drop=True)
    else:
        calendar_dates = pd.DataFrame({"service_id": pd.Series(dtype=object), "date": pd.Series(dtype="int64"),
                                       "exception_type": pd.Series(dtype=np.int8)})
    return calendar_dates


def _read_stop_times_txt(src: _Source, fname: str, stops: pd.DataFrame, trips: pd.DataFrame,
                         warn_list: list[str]) -> pd.DataFrame:
    """stop_times.txt, checked and decoded (:func:`_read_stop_times`)."""
    # stop_times
    st = src.read("stop_times.txt")
    _need_cols(st, "stop_times.txt", _REQUIRED["stop_times.txt"], fname)
    for col in ("arrival_time", "departure_time"):
        if col not in st.columns:
            raise GTFSError(f"{fname}/stop_times.txt: required column {col!r} missing")
    st = _read_stop_times(st, stops, trips, fname, warn_list)
    return st


def _check_services(fname: str, trips: pd.DataFrame, st: pd.DataFrame, calendar: pd.DataFrame,
                    calendar_dates: pd.DataFrame, warn_list: list[str]) -> None:
    """Warn about trips whose service no calendar defines; refuse a feed where no trip can run."""
    # services: a trip whose service_id no calendar defines never runs
    known_sv = set(calendar["service_id"]) | set(calendar_dates["service_id"])
    used_tr = trips[trips["trip_id"].isin(pd.unique(st["trip_id"]))]
    unknown_sv = sorted(set(used_tr["service_id"]) - known_sv)
    if unknown_sv:
        n_bad = int(used_tr["service_id"].isin(unknown_sv).sum())
        msg = (f"{fname}/trips.txt: service_id {unknown_sv[0]!r} ({len(unknown_sv)} id(s), {n_bad} of "
               f"{len(used_tr)} trip(s)) is in neither calendar.txt nor calendar_dates.txt, so those trips never run")
        if n_bad == len(used_tr):
            raise GTFSError(msg + "; no trip of the feed can run on any date: fix the service ids")
        _warn(msg, warn_list)


def _read_frequencies(src: _Source, fname: str, trips: pd.DataFrame, st: pd.DataFrame,
                      warn_list: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """frequencies.txt, and the trips and stop times with the frequency trips expanded."""
    # frequencies
    freq = pd.DataFrame({"trip_id": pd.Series(dtype=object), "start_s": pd.Series(dtype=np.int32),
                         "end_s": pd.Series(dtype=np.int32), "headway_s": pd.Series(dtype=np.int32),
                         "exact_times": pd.Series(dtype=np.int8)})
    n_freq = 0
    if src.has("frequencies.txt"):
        f = src.read("frequencies.txt")
        if len(f):
            _need_cols(f, "frequencies.txt", ["trip_id", "start_time", "end_time", "headway_secs"], fname)
            rows = np.arange(len(f)) + 2
            ids = _col(f, "trip_id").to_numpy()
            freq = pd.DataFrame(
                {
                    "trip_id": ids,
                    "start_s": parse_times(_col(f, "start_time"), file=f"{fname}/frequencies.txt",
                                           column="start_time", ids=ids, rows=rows),
                    "end_s": parse_times(_col(f, "end_time"), file=f"{fname}/frequencies.txt", column="end_time",
                                         ids=ids, rows=rows),
                    "headway_s": pd.to_numeric(_col(f, "headway_secs"), errors="coerce").fillna(0).astype(np.int32),
                    "exact_times": pd.to_numeric(_col(f, "exact_times", "0").replace("", "0"), errors="coerce")
                    .fillna(0).astype(np.int8),
                }
            )
            bad = (freq["headway_s"] <= 0) | (freq["start_s"] < 0) | (freq["end_s"] < 0) | \
                (freq["end_s"] < freq["start_s"]) | ~freq["trip_id"].isin(st["trip_id"].unique())
            if bad.any():
                _warn(f"{fname}/frequencies.txt: {int(bad.sum())} row(s) dropped (non-positive headway, missing or "
                      f"reversed times, or trip without stop_times), first at line "
                      f"{int(np.flatnonzero(bad.to_numpy())[0]) + 2}", warn_list)
                freq = freq[~bad].reset_index(drop=True)
            if len(freq):
                n_st = st.groupby("trip_id", sort=False).size()
                n_dep = -(-(freq["end_s"].to_numpy(np.int64) - freq["start_s"].to_numpy(np.int64))
                          // freq["headway_s"].to_numpy(np.int64))
                rows_each = n_dep * n_st.reindex(freq["trip_id"]).fillna(0).to_numpy(np.int64)
                if rows_each.sum() > MAX_FREQUENCY_STOP_TIMES or n_dep.sum() > MAX_FREQUENCY_TRIPS:
                    i = int(np.argmax(rows_each))
                    raise GTFSError(
                        f"{fname}/frequencies.txt: the rows expand into {int(n_dep.sum()):,} trips and "
                        f"{int(rows_each.sum()):,} stop times (at most {MAX_FREQUENCY_TRIPS:,} trips and "
                        f"{MAX_FREQUENCY_STOP_TIMES:,} stop times); the largest is trip {freq['trip_id'].iloc[i]!r} "
                        f"(line {i + 2}) with headway "
                        f"{int(freq['headway_s'].iloc[i])} s from {_fmt(freq['start_s'].iloc[i])} to "
                        f"{_fmt(freq['end_s'].iloc[i])} ({int(n_dep[i]):,} departures); fix headway_secs or the "
                        "start/end times")
                trips, st, n_freq = _expand_frequencies(trips, st, freq)
    return freq, trips, st, n_freq


def _read_transfers(src: _Source, fname: str, stops: pd.DataFrame, warn_list: list[str]) -> pd.DataFrame:
    """transfers.txt (rows naming unknown stops dropped)."""
    # transfers
    tr = pd.DataFrame({"from_stop_id": pd.Series(dtype=object), "to_stop_id": pd.Series(dtype=object),
                       "transfer_type": pd.Series(dtype=np.int8), "min_transfer_time_s": pd.Series(dtype=np.int32)})
    if src.has("transfers.txt"):
        x = src.read("transfers.txt")
        if len(x):
            _need_cols(x, "transfers.txt", ["from_stop_id", "to_stop_id", "transfer_type"], fname)
            tr = pd.DataFrame(
                {
                    "from_stop_id": _col(x, "from_stop_id"),
                    "to_stop_id": _col(x, "to_stop_id"),
                    "transfer_type": _whole_numbers(x, "transfer_type", 0, f"{fname}/transfers.txt", "from_stop_id",
                                                    "transfer types are 0 to 5").astype(np.int8),
                    "min_transfer_time_s": _whole_numbers(x, "min_transfer_time", -1, f"{fname}/transfers.txt",
                                                          "from_stop_id", "it is a number of seconds, e.g. 120")
                    .astype(np.int32),
                }
            )
            known = set(stops["stop_id"])
            bad = ~(tr["from_stop_id"].isin(known) & tr["to_stop_id"].isin(known))
            if bad.any():
                _warn(f"{fname}/transfers.txt: {int(bad.sum())} row(s) naming unknown stops dropped, first at line "
                      f"{int(np.flatnonzero(bad.to_numpy())[0]) + 2}", warn_list)
                tr = tr[~bad].reset_index(drop=True)
    return tr


def _no_empty_ids(ids: pd.Series, file: str, column: str) -> None:
    empty = (ids.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise GTFSError(f"{file}: line {i + 2}: empty {column} ({int(empty.sum())} row(s)); every row needs an id: "
                        "fill it or delete the row")


def _whole_numbers(df: pd.DataFrame, column: str, default: int, file: str, id_column: str, hint: str) -> pd.Series:
    """An optional whole-number column: empty cells take ``default``; anything else that is not a whole number is an
    error naming the line, the id and the value (``route_type = bus`` was silently read as 3)."""
    raw = _col(df, column, "").astype(str).str.strip()
    v = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
    bad = (raw != "") & (v.isna() | (v != np.floor(v)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise GTFSError(f"{file}: line {i + 2} ({id_column.removesuffix('_id')} {_col(df, id_column).iloc[i]!r}): bad "
                        f"{column} {raw.iloc[i]!r}; {hint} ({int(bad.sum())} bad value(s))")
    return v.fillna(default)


def empty_shapes() -> pd.DataFrame:
    """The ``shapes`` table of a feed without ``shapes.txt``."""
    return pd.DataFrame({"shape_id": pd.Series(dtype=object), "lon": pd.Series(dtype=np.float64),
                         "lat": pd.Series(dtype=np.float64), "dist": pd.Series(dtype=np.float64)})


def read_shapes(src: _Source, fname: str, warn_list: list[str]) -> pd.DataFrame:
    """``shapes.txt`` as ``shape_id, lon, lat, dist`` sorted by shape and ``shape_pt_sequence`` (empty without the
    file). ``dist`` is ``shape_dist_traveled`` (the feed's unit; NaN where absent).

    Raises
    ------
    GTFSError
        A missing required column, or a non-numeric or out-of-range coordinate or sequence (naming the line and
        shape), or a repeated ``shape_pt_sequence`` within a shape.
    """
    if not src.has("shapes.txt"):
        return empty_shapes()
    sh = src.read("shapes.txt")
    if not len(sh):
        return empty_shapes()
    file = f"{fname}/shapes.txt"
    _need_cols(sh, "shapes.txt", ["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"], fname)
    ids = _col(sh, "shape_id").to_numpy()
    lat = pd.to_numeric(_col(sh, "shape_pt_lat"), errors="coerce").to_numpy(np.float64)
    lon = pd.to_numeric(_col(sh, "shape_pt_lon"), errors="coerce").to_numpy(np.float64)
    seq = pd.to_numeric(_col(sh, "shape_pt_sequence"), errors="coerce").to_numpy(np.float64)
    dist = (pd.to_numeric(_col(sh, "shape_dist_traveled"), errors="coerce").to_numpy(np.float64)
            if "shape_dist_traveled" in sh.columns else np.full(len(sh), np.nan))
    for name, v, lo, hi in (("shape_pt_lat", lat, -90, 90), ("shape_pt_lon", lon, -180, 180),
                            ("shape_pt_sequence", seq, 0, np.inf)):
        bad = ~np.isfinite(v) | (v < lo) | (v > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise GTFSError(f"{file}: line {i + 2} (shape {ids[i]!r}): bad {name} {sh[name].iloc[i]!r}; it must be "
                            f"a number in {lo}..{hi} ({int(bad.sum())} bad value(s)); fix the shape points")
    df = pd.DataFrame({"shape_id": ids, "lon": lon, "lat": lat, "dist": dist, "_seq": seq,
                       "_line": np.arange(len(sh)) + 2})
    df = df.sort_values(["shape_id", "_seq"], kind="stable").reset_index(drop=True)
    dup = (df["shape_id"].to_numpy()[1:] == df["shape_id"].to_numpy()[:-1]) & \
        (df["_seq"].to_numpy()[1:] == df["_seq"].to_numpy()[:-1])
    if dup.any():
        i = int(np.flatnonzero(dup)[0]) + 1
        raise GTFSError(f"{file}: line {df['_line'].iloc[i]} (shape {df['shape_id'].iloc[i]!r}): duplicate "
                        f"shape_pt_sequence {df['_seq'].iloc[i]:g}; each point of a shape needs its own sequence")
    n_pts = df.groupby("shape_id", sort=False)["lon"].transform("size").to_numpy()
    if (n_pts < 2).any():
        short = pd.unique(df["shape_id"].to_numpy()[n_pts < 2])
        _warn(f"{file}: {len(short)} shape(s) with a single point dropped, e.g. {short[0]!r} (their trips are drawn "
              "stop to stop)", warn_list)
        df = df[n_pts >= 2].reset_index(drop=True)
    return df[["shape_id", "lon", "lat", "dist"]]


def _parse_dates(s: pd.Series, file: str, column: str) -> pd.Series:
    """YYYYMMDD strings -> proleptic ordinal day numbers (int64)."""
    v = pd.to_datetime(s, format="%Y%m%d", errors="coerce")
    if v.isna().any():
        i = int(np.flatnonzero(v.isna().to_numpy())[0])
        raise GTFSError(f"{file}: line {i + 2}: bad date {s.iloc[i]!r} in column {column!r}; expected YYYYMMDD")
    return pd.Series(
        (v.to_numpy().astype("datetime64[D]").astype(np.int64) + _dt.date(1970, 1, 1).toordinal()),
        index=s.index,
    )


def _read_stop_times(st: pd.DataFrame, stops: pd.DataFrame, trips: pd.DataFrame, fname: str, warn_list):
    file = f"{fname}/stop_times.txt"
    n = len(st)
    line = np.arange(n, dtype=np.int64) + 2
    trip = _col(st, "trip_id").to_numpy()
    stop = _col(st, "stop_id").to_numpy()
    if n == 0:
        raise GTFSError(f"{file}: no rows (only a header); the feed has no trips to route, so no date can work; "
                        "use a feed with stop times")
    seq = pd.to_numeric(_col(st, "stop_sequence"), errors="coerce")
    badseq = (seq.isna() | (seq != np.floor(seq)) | (seq < 0) | (seq > 2**31 - 1)).to_numpy()
    if badseq.any():
        i = int(np.flatnonzero(badseq)[0])
        raise GTFSError(f"{file}: line {i + 2} (trip {trip[i]!r}): bad stop_sequence {st['stop_sequence'].iloc[i]!r}; "
                        "it must be a non-negative whole number (at most 2147483647) "
                        f"({int(badseq.sum())} bad value(s))")
    arr = parse_times(_col(st, "arrival_time"), file=file, column="arrival_time", ids=trip, rows=line)
    dep = parse_times(_col(st, "departure_time"), file=file, column="departure_time", ids=trip, rows=line)
    dist = pd.to_numeric(_col(st, "shape_dist_traveled"), errors="coerce").to_numpy(np.float64) \
        if "shape_dist_traveled" in st.columns else np.full(n, np.nan)
    pick = pd.to_numeric(_col(st, "pickup_type", "0").replace("", "0"), errors="coerce").fillna(0).to_numpy(np.int8)
    drop = pd.to_numeric(_col(st, "drop_off_type", "0").replace("", "0"), errors="coerce").fillna(0).to_numpy(np.int8)

    # unknown stops: an error (a trip with a hole in it would route wrongly)
    known_stop = pd.Index(stops["stop_id"])
    sidx = known_stop.get_indexer(stop)
    if (sidx < 0).any():
        bad = np.flatnonzero(sidx < 0)
        i = int(bad[0])
        raise GTFSError(
            f"{file}: line {line[i]} (trip {trip[i]!r}): unknown stop_id {stop[i]!r} not in stops.txt "
            f"({len(bad)} row(s), {len(set(stop[bad]))} distinct unknown id(s)); fix stops.txt or stop_times.txt"
        )
    # stops that trips use need coordinates (their walks and transfers are computed from them)
    lat_s, lon_s = stops["stop_lat"].to_numpy(np.float64), stops["stop_lon"].to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        badxy = ~(np.isfinite(lat_s) & np.isfinite(lon_s) & (np.abs(lat_s) <= 90) & (np.abs(lon_s) <= 180))
    used_bad = np.flatnonzero(badxy[np.unique(sidx)]) if badxy.any() else np.zeros(0, np.int64)
    if len(used_bad):
        j = int(np.unique(sidx)[used_bad[0]])
        raise GTFSError(f"{fname}/stops.txt: line {j + 2} (stop {stops['stop_id'].iloc[j]!r}): no valid coordinates "
                        f"(stop_lat {float(lat_s[j])!r}, stop_lon {float(lon_s[j])!r}) for a stop that trips use "
                        f"({len(used_bad)} "
                        "such stop(s)); give stop_lat/stop_lon in degrees (WGS84), or a parent_station that has them")
    # rows of unknown trips: dropped with a warning
    tidx = pd.Index(trips["trip_id"]).get_indexer(trip)
    if (tidx < 0).any():
        nb = int((tidx < 0).sum())
        _warn(f"{file}: {nb} row(s) of {len(set(trip[tidx < 0]))} trip id(s) absent from trips.txt dropped, "
              f"e.g. {trip[tidx < 0][0]!r}", warn_list)
    keep = tidx >= 0
    if not keep.any():
        raise GTFSError(f"{file}: none of its {n} row(s) names a trip of trips.txt (e.g. trip {trip[0]!r}); the feed "
                        "has no trips to route, so no date can work; fix the trip ids")
    df = pd.DataFrame(
        {"trip_id": trip, "stop_id": stop, "stop_sequence": seq.to_numpy(np.int64), "arrival_s": arr,
         "departure_s": dep, "pickup_type": pick, "drop_off_type": drop, "_line": line, "_dist": dist,
         "_lat": stops["stop_lat"].to_numpy()[sidx], "_lon": stops["stop_lon"].to_numpy()[sidx], "_t": tidx}
    )[keep]
    df = df.sort_values(["_t", "stop_sequence"], kind="stable").reset_index(drop=True)
    tcode = df["_t"].to_numpy()
    seqv = df["stop_sequence"].to_numpy()
    same = np.zeros(len(df), dtype=bool)
    same[1:] = tcode[1:] == tcode[:-1]
    dupseq = same & np.r_[False, seqv[1:] == seqv[:-1]]
    if dupseq.any():
        i = int(np.flatnonzero(dupseq)[0])
        raise GTFSError(f"{file}: line {df['_line'].iloc[i]} (trip {df['trip_id'].iloc[i]!r}): duplicate "
                        f"stop_sequence {seqv[i]}")
    arr = df["arrival_s"].to_numpy().copy()
    dep = df["departure_s"].to_numpy().copy()
    # a row with one of the two times: use it for both
    arr = np.where(arr < 0, dep, arr)
    dep = np.where(dep < 0, arr, dep)
    timed = arr >= 0
    first = ~same
    last = np.r_[~same[1:], True]
    badtrip_rows = (first | last) & ~timed
    if badtrip_rows.any():
        bad_t = np.unique(tcode[badtrip_rows])
        drop_rows = np.isin(tcode, bad_t)
        _warn(f"{file}: {len(bad_t)} trip(s) whose first or last stop has no time dropped "
              f"({int(drop_rows.sum())} rows), e.g. trip {df['trip_id'].to_numpy()[drop_rows][0]!r}", warn_list)
        keep = ~drop_rows
        df = df[keep].reset_index(drop=True)
        arr, dep, timed, same, tcode = arr[keep], dep[keep], timed[keep], same[keep], tcode[keep]
        if not len(df):
            raise GTFSError(f"{file}: every trip's first or last stop has no arrival_time/departure_time "
                            f"({len(bad_t)} trip(s)); the feed has no timed trips, so no date can work; fill the "
                            "times of at least the first and last stop of each trip")
    # decreasing timepoints: checked before interpolation so that the error names the row really at fault
    ti = np.flatnonzero(timed)
    if len(ti) > 1:
        dec = (tcode[ti[1:]] == tcode[ti[:-1]]) & (arr[ti[1:]] < dep[ti[:-1]])
        if dec.any():
            j = int(np.flatnonzero(dec)[0])
            i, h = ti[j + 1], ti[j]
            raise GTFSError(
                f"{file}: line {df['_line'].iloc[i]} (trip {df['trip_id'].iloc[i]!r}, stop {df['stop_id'].iloc[i]!r}): "
                f"times decrease along the trip (arrival {_fmt(arr[i])} before the previous departure {_fmt(dep[h])}); "
                f"{int(dec.sum())} such row(s); fix the times or the stop_sequence"
            )
    if len(df) and not timed.all():
        arr, dep = _interpolate(df, arr, dep, timed, same, tcode)
    # checks: arrival <= departure at a stop; departure <= next arrival
    bad = arr > dep
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise GTFSError(f"{file}: line {df['_line'].iloc[i]} (trip {df['trip_id'].iloc[i]!r}, stop "
                        f"{df['stop_id'].iloc[i]!r}): arrival_time after departure_time")
    dec = np.zeros(len(df), dtype=bool)
    dec[1:] = same[1:] & (arr[1:] < dep[:-1])
    if dec.any():
        i = int(np.flatnonzero(dec)[0])
        raise GTFSError(
            f"{file}: line {df['_line'].iloc[i]} (trip {df['trip_id'].iloc[i]!r}, stop {df['stop_id'].iloc[i]!r}): "
            f"times decrease along the trip (arrival {_fmt(arr[i])} before the previous departure {_fmt(dep[i - 1])}); "
            f"{int(dec.sum())} such row(s); fix the times or the stop_sequence"
        )
    out = pd.DataFrame(
        {
            "trip_id": df["trip_id"].to_numpy(),
            "stop_id": df["stop_id"].to_numpy(),
            "stop_sequence": df["stop_sequence"].to_numpy(),
            "arrival_s": arr.astype(np.int32),
            "departure_s": dep.astype(np.int32),
            "pickup_type": df["pickup_type"].to_numpy(),
            "drop_off_type": df["drop_off_type"].to_numpy(),
            "shape_dist_traveled": df["_dist"].to_numpy(np.float64),
        }
    )
    return out


def _fmt(s):
    s = int(s)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _interpolate(df, arr, dep, timed, same, tcode):
    n = len(df)
    # distance along the trip: shape_dist_traveled where the whole trip has it, else cumulative haversine
    d_shape = df["_dist"].to_numpy()
    lat = df["_lat"].to_numpy()
    lon = df["_lon"].to_numpy()
    step = np.zeros(n)
    step[1:] = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    step[~same] = 0.0
    step = np.nan_to_num(step)
    gstart = np.flatnonzero(~same)
    cum = np.cumsum(step)
    cum = cum - np.repeat(cum[gstart], np.diff(np.r_[gstart, n]))
    has_shape = pd.Series(~np.isnan(d_shape)).groupby(tcode).transform("all").to_numpy()
    d = np.where(has_shape, d_shape, cum)
    idx = np.arange(n)
    prev_i = np.where(timed, idx, -1)
    prev_i = np.maximum.accumulate(prev_i)  # first row of each trip is timed
    next_i = np.where(timed, idx, n)
    next_i = np.minimum.accumulate(next_i[::-1])[::-1]
    m = ~timed
    p, q = prev_i[m], next_i[m]
    span = d[q] - d[p]
    frac = np.where(span > 0, (d[m] - d[p]) / np.where(span > 0, span, 1.0), (idx[m] - p) / (q - p))
    frac = np.clip(frac, 0.0, 1.0)
    t0 = dep[p].astype(np.float64)
    t1 = arr[q].astype(np.float64)
    t = np.floor(t0 + frac * (t1 - t0)).astype(np.int64)  # truncated, as R5
    arr = arr.copy()
    dep = dep.copy()
    arr[m] = t
    dep[m] = t
    return arr, dep


def _expand_frequencies(trips: pd.DataFrame, st: pd.DataFrame, freq: pd.DataFrame):
    """Replace template trips by one trip per headway departure (see the module docstring)."""
    first_dep = st.groupby("trip_id", sort=False)["departure_s"].first()
    templates = freq["trip_id"].unique()
    rows = []
    for tid, s0, s1, hw in zip(freq["trip_id"], freq["start_s"].to_numpy(np.int64), freq["end_s"].to_numpy(np.int64),
                               freq["headway_s"].to_numpy(np.int64)):
        starts = np.arange(int(s0), int(s1), int(hw), dtype=np.int64)
        rows.append(pd.DataFrame({"trip_id": tid, "start": starts}))
    dep_tab = pd.concat(rows, ignore_index=True).drop_duplicates()
    dep_tab["new_id"] = dep_tab["trip_id"] + "@" + [_fmt(s) for s in dep_tab["start"]]
    tst = st[st["trip_id"].isin(templates)]
    merged = tst.merge(dep_tab, on="trip_id", how="inner")
    shift = merged["start"].to_numpy() - first_dep.loc[merged["trip_id"]].to_numpy()
    new_st = pd.DataFrame(
        {
            "trip_id": merged["new_id"].to_numpy(),
            "stop_id": merged["stop_id"].to_numpy(),
            "stop_sequence": merged["stop_sequence"].to_numpy(),
            "arrival_s": (merged["arrival_s"].to_numpy() + shift).astype(np.int32),
            "departure_s": (merged["departure_s"].to_numpy() + shift).astype(np.int32),
            "pickup_type": merged["pickup_type"].to_numpy(),
            "drop_off_type": merged["drop_off_type"].to_numpy(),
            **({"shape_dist_traveled": merged["shape_dist_traveled"].to_numpy()}
               if "shape_dist_traveled" in merged.columns else {}),
        }
    ).sort_values(["trip_id", "stop_sequence"], kind="stable")
    tmeta = trips.set_index("trip_id").loc[dep_tab["trip_id"]]
    new_trips = pd.DataFrame({"trip_id": dep_tab["new_id"].to_numpy(), "route_id": tmeta["route_id"].to_numpy(),
                              "service_id": tmeta["service_id"].to_numpy(),
                              **({"shape_id": tmeta["shape_id"].to_numpy()} if "shape_id" in tmeta.columns else {})})
    trips = pd.concat([trips[~trips["trip_id"].isin(templates)], new_trips], ignore_index=True)
    st = pd.concat([st[~st["trip_id"].isin(templates)], new_st], ignore_index=True)
    return trips, st, len(new_trips)


def read_feeds(paths, *, feed_ids=None) -> list[GTFSFeed]:
    """Read several feeds; when there are more than one, every id is prefixed with ``"{feed_id}:"``.

    Parameters
    ----------
    paths : path or list of paths (or :class:`GTFSFeed` objects, passed through)
    feed_ids : list of str, optional
        Names of the feeds (default: file stems, made unique with ``_2``, ``_3`` ...).

    Returns
    -------
    list of GTFSFeed

    Examples
    --------
    >>> eptc, trensurb = read_feeds(["poa_eptc.zip", "poa_trensurb.zip"])  # doctest: +SKIP
    >>> trensurb.stops["stop_id"].iloc[0]  # doctest: +SKIP
    'poa_trensurb:MR'
    """
    if isinstance(paths, (str, Path, GTFSFeed)):
        paths = [paths]
    paths = list(paths)
    names = []
    for i, p in enumerate(paths):
        base = feed_ids[i] if feed_ids else (p.feed_id if isinstance(p, GTFSFeed) else Path(p).stem)
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    multi = len(paths) > 1
    out = []
    for p, name in zip(paths, names):
        if isinstance(p, GTFSFeed):
            f = p
            if f.id_prefix:  # already made unique (e.g. the output of an earlier read_feeds)
                out.append(f)
                continue
        else:
            f = read_gtfs(p, feed_id=name)
        out.append(replace(f.with_prefix(f"{name}:"), feed_id=name) if multi else f)
    return out


def _to_ordinal(date) -> int:
    if isinstance(date, str):
        date = _dt.date.fromisoformat(date)
    if isinstance(date, _dt.datetime):
        date = date.date()
    if isinstance(date, np.datetime64):
        return int(date.astype("datetime64[D]").astype(np.int64)) + _dt.date(1970, 1, 1).toordinal()
    return date.toordinal()


def active_service_ids(feed: GTFSFeed, date) -> np.ndarray:
    """Service ids running on ``date`` (``calendar`` weekday and range, then ``calendar_dates`` additions/removals)."""
    d = _to_ordinal(date)
    wd = _WEEKDAYS[_dt.date.fromordinal(d).weekday()]
    cal = feed.calendar
    on = set(cal.loc[(cal["start_date"] <= d) & (cal["end_date"] >= d) & cal[wd], "service_id"])
    cd = feed.calendar_dates[feed.calendar_dates["date"] == d]
    on |= set(cd.loc[cd["exception_type"] == 1, "service_id"])
    on -= set(cd.loc[cd["exception_type"] == 2, "service_id"])
    return np.array(sorted(on), dtype=object)


def service_date_matrix(calendar: pd.DataFrame, calendar_dates: pd.DataFrame, service_ids):
    """Bitmap of the days each service runs.

    Returns
    -------
    day0 : int
        Proleptic ordinal of column 0.
    active : ndarray of uint8, shape (n_services, n_days)
        1 where service ``service_ids[i]`` runs on day ``day0 + j``.
    """
    service_ids = pd.Index(service_ids)
    lo = []
    hi = []
    if len(calendar):
        lo.append(int(calendar["start_date"].min()))
        hi.append(int(calendar["end_date"].max()))
    if len(calendar_dates):
        lo.append(int(calendar_dates["date"].min()))
        hi.append(int(calendar_dates["date"].max()))
    if not lo:
        return 0, np.zeros((len(service_ids), 0), dtype=np.uint8)
    day0, day1 = min(lo), max(hi)
    n_days = day1 - day0 + 1
    active = np.zeros((len(service_ids), n_days), dtype=np.uint8)
    wd0 = _dt.date.fromordinal(day0).weekday()
    days = np.arange(n_days)
    weekday = (wd0 + days) % 7
    for r in calendar.itertuples(index=False):
        i = service_ids.get_indexer([r.service_id])[0]
        if i < 0:
            continue
        mask = np.array([getattr(r, w) for w in _WEEKDAYS], dtype=bool)[weekday]
        # (itertuples fields are typed as any pandas scalar: these are the int64 day numbers of _parse_dates)
        mask &= (days + day0 >= int(r.start_date)) & (days + day0 <= int(r.end_date))  # type: ignore[arg-type]
        active[i, mask] = 1
    if len(calendar_dates):
        si = service_ids.get_indexer(calendar_dates["service_id"])
        dj = calendar_dates["date"].to_numpy() - day0
        et = calendar_dates["exception_type"].to_numpy()
        ok = si >= 0
        active[si[ok & (et == 1)], dj[ok & (et == 1)]] = 1
        active[si[ok & (et == 2)], dj[ok & (et == 2)]] = 0
    return day0, active
