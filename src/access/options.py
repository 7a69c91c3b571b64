"""The settings of a query, as two frozen, validated objects (r5py's ``RegionalTask`` idea, split by layer).

:class:`StreetOptions` holds what every street search needs (speeds, snapping); :class:`TransitOptions` what a
transit query adds (departure window, percentiles, rides, walking limits, R5's boarding slack). Every entry point
(:func:`access.travel_time_matrix`, :func:`access.route`, the scaled runs, scenarios, siting, uncertainty, the
region pipeline) takes them; plain keywords remain as shortcuts and are turned into these objects at the edge, so
each setting is validated once, by one rule.

Defaults follow r5r/R5: walk 3.6 km/h, bike 12 km/h, a 10-minute departure window, at most 3 rides, a boarding
slack of 60 s (board when the vehicle departs *more than* 60 s after the rider reaches the stop), egress walks of
at most 2 km.

Examples
--------
>>> from access.options import StreetOptions, TransitOptions
>>> StreetOptions(walk_speed_kmh=4.5).walk_speed_kmh
4.5
>>> TransitOptions(departure="2019-05-13T14:00", window_min=60).window_min
60
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from typing import Any

from ._validate import check_choice, check_int, check_number, check_percentiles, fail, parse_departure

__all__ = ["StreetOptions", "TransitOptions", "DEFAULT_MAX_SNAP_M", "DEFAULT_BOARD_SLACK_S",
           "DEFAULT_EGRESS_WALK_LIMIT_M", "DEFAULT_WINDOW_MIN", "DEFAULT_MAX_TIME_MIN", "MAX_RIDES_CAP",
           "SEARCH_DIRECTIONS", "STREET_MODES", "ALL_MODES"]

STREET_MODES = ("walk", "bike", "car")
ALL_MODES = STREET_MODES + ("transit",)
#: points farther than this from the network are unreachable (reported in one warning)
DEFAULT_MAX_SNAP_M = 500.0
#: R5's boarding slack: a vehicle is boarded when it departs more than this after the rider reaches the stop
DEFAULT_BOARD_SLACK_S = 60
#: as R5 (TransitLayer.WALK_DISTANCE_LIMIT_METERS): the walk from the last stop is at most 2 km
DEFAULT_EGRESS_WALK_LIMIT_M = 2000.0
#: r5r's defaults
DEFAULT_WINDOW_MIN = 10
DEFAULT_MAX_TIME_MIN = 120.0
#: more rides than this is never useful and the kernels' memory grows with it
MAX_RIDES_CAP = 20
#: the longest departure window (one day)
MAX_WINDOW_MIN = 24 * 60
#: a backward search (one destination) costs about as much as this many forward ones (one origin)
DEFAULT_BACKWARD_FACTOR = 16
SEARCH_DIRECTIONS = ("auto", "forward", "backward")
#: how ``frequencies.txt`` trips are scheduled (TransitOptions.frequencies)
FREQUENCY_MODES = ("deterministic", "monte_carlo")


def _replace(obj: Any, changes: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(obj)}
    unknown = sorted(set(changes) - names)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(names), n=1)
        raise fail(unknown[0], f"one of the {type(obj).__name__} fields", unknown[0],
                   f"did you mean {close[0]!r}?" if close else f"use one of {sorted(names)}")
    return dataclasses.replace(obj, **changes)


@dataclass(frozen=True)
class StreetOptions:
    """Settings of street searches (walk, bike, car, and the walks of transit trips).

    Parameters
    ----------
    walk_speed_kmh : float
        Walking speed (also for transit access, egress and transfers); r5r's 3.6 km/h by default.
    bike_speed_kmh : float
        Cycling speed; r5r's 12 km/h.
    max_snap_m : float
        Points farther than this from the mode's network are unreachable (one warning lists them).
    max_lts : int, optional
        Cycling: the highest level of traffic stress (1..4) a bike may ride (r5r's ``max_lts``; Conveyal's
        labels from OSM tags, :func:`access.network.profiles.way_lts`); all streets by default.
    """

    walk_speed_kmh: float = 3.6
    bike_speed_kmh: float = 12.0
    max_snap_m: float = DEFAULT_MAX_SNAP_M
    max_lts: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "walk_speed_kmh", check_number("walk_speed_kmh", self.walk_speed_kmh, gt=0,
                                                                le=50))
        object.__setattr__(self, "bike_speed_kmh", check_number("bike_speed_kmh", self.bike_speed_kmh, gt=0,
                                                                le=80))
        object.__setattr__(self, "max_snap_m", check_number("max_snap_m", self.max_snap_m, gt=0, le=1e5))
        if self.max_lts is not None:
            object.__setattr__(self, "max_lts", check_int("max_lts", self.max_lts, ge=1, le=4))

    def speed_kmh(self, mode: str) -> float | None:
        """The constant speed of ``mode`` (None for car, timed by road class and ``maxspeed``)."""
        check_choice("mode", mode, STREET_MODES)
        return {"walk": self.walk_speed_kmh, "bike": self.bike_speed_kmh}.get(mode)

    def replace(self, **changes: Any) -> StreetOptions:
        """A copy with some fields changed (validated again)."""
        return _replace(self, changes)

    @classmethod
    def resolve(cls, options: StreetOptions | None = None, **shortcuts: Any) -> StreetOptions:
        """``options`` (or the defaults) with the keyword shortcuts that are not ``None`` applied."""
        base = options if options is not None else cls()
        if not isinstance(base, StreetOptions):
            raise fail("street", "a StreetOptions", base)
        changes = {k: v for k, v in shortcuts.items() if v is not None}
        return base.replace(**changes) if changes else base


@dataclass(frozen=True)
class TransitOptions:
    """Settings of a transit query (walk + transit over a departure window, as R5's range-RAPTOR).

    Parameters
    ----------
    departure : datetime or str, optional
        First departure minute, local time of the feeds (an aware datetime is converted); required to query.
    window_min : int
        Departures every minute in ``[departure, departure + window_min)`` (r5r's 10 by default, up to a day).
    percentiles : sequence of numbers
        Percentiles of the per-minute travel times (R5's nearest-rank rule).
    max_rides : int
        Most vehicles boarded (0 = walking only; at most :data:`MAX_RIDES_CAP`).
    max_walk_min : float, optional
        Bound on each walking leg (access, egress, direct); default the trip's ``max_time_min``.
    board_slack_s : int
        A vehicle is boarded when it departs *more than* this many seconds after the rider reaches the stop (R5's
        rule ``dep > arrival + 60``, 60 by default). The kernels test ``dep >= arrival + slack``, so the query
        layer passes :attr:`kernel_slack_s` (``board_slack_s + 1``) to them.
    egress_walk_limit_m : float
        Longest walk from the last stop (R5: 2 km).
    search : {"auto", "forward", "backward"}
        Forward range-RAPTOR per origin (as R5), or backward per destination (latest departures); both give the same
        integers. "auto" searches backward when destinations x ``backward_factor`` < origins.
    backward_factor : int
        The cost of one backward search in forward searches, for ``search="auto"``.
    access_mode : {"walk", "bike", "car"}
        How the first stop is reached (r5r's ``mode_egress`` stays walking): "bike" rides to any stop (no bike
        parking needed), "car" drives to a park-and-ride stop (within ``park_ride_distance_m`` of an OSM
        ``amenity=parking``/``park_ride=*`` or a rail station). The direct trip by the access mode counts too.
    max_bike_min, max_car_min : float, optional
        Bound on the bike / car access (and direct) leg, minutes (default: the trip's ``max_time_min``).
    park_ride_distance_m : float
        Car access: stops this close to a parking are park-and-ride stops.
    route_types : sequence of int, optional
        Only ride routes of these GTFS ``route_type`` s (e.g. ``(1, 2)``: metro and rail); all by default.
    max_transfer_walk_min : float, optional
        Bound on walking transfers of this query, up to the network's build radius (default: the build radius).
    frequencies : {"deterministic", "monte_carlo"}
        ``frequencies.txt`` trips: the deterministic expansion (start, start + headway, ...; default), or random
        schedules as R5/r5r: each draw offsets every frequency entry's first departure uniformly in
        ``[0, headway)``; ``draws_per_minute`` draws per departure minute, reproducible with ``seed``.
    draws_per_minute : int
        Monte-Carlo draws per departure minute (r5r's ``draws_per_minute``, 5 by default).
    seed : int, optional
        Seed of the Monte-Carlo draws (the same seed gives the same times).
    transfers_txt : bool
        Apply the feeds' ``transfers.txt`` (minimum times, forbidden pairs, extra links); ``False`` uses walking
        footpaths only, as R5 (which ignores the file).
    """

    departure: _dt.datetime | None = None
    window_min: int = DEFAULT_WINDOW_MIN
    percentiles: tuple[float, ...] = (50,)
    max_rides: int = 3
    max_walk_min: float | None = None
    board_slack_s: int = DEFAULT_BOARD_SLACK_S
    egress_walk_limit_m: float = DEFAULT_EGRESS_WALK_LIMIT_M
    search: str = "auto"
    backward_factor: int = DEFAULT_BACKWARD_FACTOR
    access_mode: str = "walk"
    max_bike_min: float | None = None
    max_car_min: float | None = None
    park_ride_distance_m: float = 300.0
    route_types: tuple[int, ...] | None = None
    max_transfer_walk_min: float | None = None
    frequencies: str = "deterministic"
    draws_per_minute: int = 5
    seed: int | None = None
    transfers_txt: bool = True

    def __post_init__(self) -> None:
        s = object.__setattr__
        if self.departure is not None:
            s(self, "departure", parse_departure(self.departure))
        s(self, "window_min", check_int("window_min", self.window_min, ge=1, le=MAX_WINDOW_MIN))
        s(self, "percentiles", check_percentiles(self.percentiles, allow_empty=True))  # () = per-minute only
        s(self, "max_rides", check_int("max_rides", self.max_rides, ge=0, le=MAX_RIDES_CAP))
        if self.max_walk_min is not None:
            s(self, "max_walk_min", check_number("max_walk_min", self.max_walk_min, ge=0, le=24 * 60))
        s(self, "board_slack_s", check_int("board_slack_s", self.board_slack_s, ge=0, le=3600))
        s(self, "egress_walk_limit_m", check_number("egress_walk_limit_m", self.egress_walk_limit_m, gt=0))
        s(self, "search", check_choice("search", self.search, SEARCH_DIRECTIONS))
        s(self, "backward_factor", check_int("backward_factor", self.backward_factor, ge=1))
        s(self, "access_mode", check_choice("access_mode", self.access_mode, STREET_MODES))
        for name in ("max_bike_min", "max_car_min", "max_transfer_walk_min"):
            if getattr(self, name) is not None:
                s(self, name, check_number(name, getattr(self, name), ge=0, le=24 * 60))
        s(self, "park_ride_distance_m", check_number("park_ride_distance_m", self.park_ride_distance_m, ge=0,
                                                     le=5000))
        if self.route_types is not None:
            rt = (self.route_types,) if isinstance(self.route_types, int) else self.route_types
            try:
                s(self, "route_types", tuple(sorted({check_int("route_types", r, ge=0, le=1700) for r in rt})))
            except TypeError:
                raise fail("route_types", "GTFS route_type integers such as (1, 2)", self.route_types) from None
            if not self.route_types:
                raise fail("route_types", "one or more GTFS route_type integers", (), "or None for all routes")
        s(self, "frequencies", check_choice("frequencies", self.frequencies, FREQUENCY_MODES))
        s(self, "draws_per_minute", check_int("draws_per_minute", self.draws_per_minute, ge=1, le=1000))
        if self.seed is not None:
            s(self, "seed", check_int("seed", self.seed, ge=0))
        if not isinstance(self.transfers_txt, bool):
            raise fail("transfers_txt", "True or False", self.transfers_txt)

    @property
    def kernel_slack_s(self) -> int:
        """The slack given to the RAPTOR kernels (``dep >= arrival + slack``): ``board_slack_s + 1``, R5's strict
        rule."""
        return int(self.board_slack_s) + 1

    def replace(self, **changes: Any) -> TransitOptions:
        """A copy with some fields changed (validated again)."""
        return _replace(self, changes)

    @classmethod
    def resolve(cls, options: TransitOptions | None = None, **shortcuts: Any) -> TransitOptions:
        """``options`` (or the defaults) with the keyword shortcuts that are not ``None`` applied."""
        base = options if options is not None else cls()
        if not isinstance(base, TransitOptions):
            raise fail("transit", "a TransitOptions", base)
        changes = {k: v for k, v in shortcuts.items() if v is not None}
        return base.replace(**changes) if changes else base

    def require_departure(self) -> _dt.datetime:
        """The departure, or the error that says how to give one."""
        if self.departure is None:
            raise fail("departure", "a datetime for mode='transit' (the first departure minute)", None,
                       "e.g. departure=datetime(2019, 5, 13, 14, 0) or --departure 2019-05-13T14:00")
        return self.departure

    def max_walk_s(self, max_time_s: int) -> int:
        """The bound on each walking leg in seconds (at most the trip's ``max_time_s``)."""
        if self.max_walk_min is None:
            return int(max_time_s)
        return int(min(round(self.max_walk_min * 60), max_time_s))

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values (for manifests and Parquet metadata)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}
        out["departure"] = self.departure.isoformat() if self.departure else None
        out["percentiles"] = list(self.percentiles)
        if self.route_types is not None:
            out["route_types"] = list(self.route_types)
        return out


def check_max_time_min(value: Any, name: str = "max_time_min") -> float:
    """A trip-duration bound: positive, finite, at most a day."""
    return check_number(name, value, gt=0, le=24 * 60)
