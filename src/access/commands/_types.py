"""Click parameter types that check command-line values with the library's own rules (:mod:`access._validate`).

A bad value stops the command before any work, with click's usage error (exit code 2) naming the option, the value
and the fix, e.g. ``Invalid value for '--walk-speed': `walk_speed_kmh` must be a number > 0 and <= 50, got 0``.
Zero is a value like any other (never "not given"), so ``--chunk-size 0`` is refused, not ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from .._errors import AccessError
from .._validate import check_choice, check_int, check_number, check_percentiles, parse_departure


class Number(click.ParamType):
    """A float (or an int with ``integer=True``) checked by :func:`check_number` / :func:`check_int`."""

    name = "number"

    def __init__(self, key: str, *, integer: bool = False, **bounds: Any) -> None:
        self.key, self.integer, self.bounds = key, integer, bounds
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None:
            return value
        try:
            if self.integer:
                return check_int(self.key, value, **self.bounds)
            return check_number(self.key, value, **self.bounds)
        except AccessError as e:
            self.fail(str(e), param, ctx)


class Percentiles(click.ParamType):
    """Comma-separated percentiles in 0..100 (e.g. ``5,25,50,75,95``)."""

    name = "percentiles"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            return check_percentiles(str(value))
        except AccessError as e:
            self.fail(f"{e}; give comma-separated numbers such as 5,25,50,75,95", param, ctx)


class Floats(click.ParamType):
    """Comma-separated numbers, each checked by :func:`check_number` (``--cutoffs``, ``--shares``)."""

    name = "numbers"

    def __init__(self, key: str, *, allow_words: tuple[str, ...] = (), **bounds: Any) -> None:
        self.key, self.words, self.bounds = key, allow_words, bounds

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, tuple) or value in self.words:
            return value
        items = [s.strip() for s in str(value).split(",") if s.strip()]
        if not items:
            self.fail(f"`{self.key}` must be comma-separated numbers, got {value!r}", param, ctx)
        try:
            return tuple(check_number(self.key, s, **self.bounds) for s in items)
        except AccessError as e:
            self.fail(f"{e}; give comma-separated numbers such as 0.5,0.25,0.25", param, ctx)


class Departure(click.ParamType):
    """An ISO date and time, ``YYYY-MM-DDTHH:MM`` (local time of the feeds)."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or not isinstance(value, str):
            return value
        try:
            return parse_departure(value)
        except AccessError as e:
            self.fail(str(e), param, ctx)


class Modes(click.ParamType):
    """A non-empty comma-separated list of modes among ``choices``."""

    name = "modes"

    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        items = [m.strip() for m in str(value).split(",") if m.strip()]
        if not items:
            self.fail(f"`modes` must name at least one of {', '.join(self.choices)}, got {value!r}; e.g. "
                      f"--modes walk,car", param, ctx)
        try:
            return tuple(dict.fromkeys(check_choice("modes", m, self.choices) for m in items))
        except AccessError as e:
            self.fail(str(e), param, ctx)


def check_writable(path: str | os.PathLike, option: str) -> None:
    """Fail before any work when output ``path`` (file or folder) cannot be created or written."""
    p = Path(path)
    probe = p if p.is_dir() else p.parent if str(p.parent) else Path(".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise click.BadParameter(f"{str(probe)!r} is a file, so {str(p)!r} cannot be created; choose another path",
                                 param_hint=f"'{option}'")
    if not os.access(probe, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise click.BadParameter(f"{str(p)!r} cannot be written (folder {str(probe)!r} is not writable); choose "
                                 "another path or fix its permissions", param_hint=f"'{option}'")


def check_suffix(path: str | os.PathLike, option: str, suffixes: tuple[str, ...]) -> None:
    """Fail before any work when output file ``path`` does not end with one of ``suffixes`` (a Parquet file named
    ``.csv`` would be written silently otherwise)."""
    if not str(path).lower().endswith(suffixes):
        raise click.BadParameter(f"{str(path)!r} must end with {' or '.join(suffixes)} (the format is taken from the "
                                 f"name); e.g. {Path(path).with_suffix(suffixes[0]).name}", param_hint=f"'{option}'")


# the ranges the library enforces, for the options shared by several commands
WALK_SPEED = Number("walk_speed_kmh", gt=0, le=50)
BIKE_SPEED = Number("bike_speed_kmh", gt=0, le=80)
MAX_SNAP = Number("max_snap_m", gt=0, le=1e5)
MAX_TIME = Number("max_time_min", gt=0, le=24 * 60)
WINDOW = Number("window_min", integer=True, ge=1, le=24 * 60)


def check_transit_flags(ctx: click.Context, mode: str, departure, arrive_by, access_mode: str, max_bike, max_car,
                  *, window_name: str = "window", percentile_name: str = "percentiles") -> dict:
    """The checks every command with --departure/--arrive-by/--access-mode makes, and the keywords it passes on:
    ``access_mode`` and a ``transit`` TransitOptions holding the access bounds (only for transit)."""
    from click.core import ParameterSource

    from ..options import TransitOptions

    if departure is not None and arrive_by is not None:
        raise click.BadParameter("give either --departure (leave at) or --arrive-by (arrive by), not both",
                                 param_hint="'--arrive-by'")
    if arrive_by is not None:
        for name in (window_name, percentile_name):
            if name in ctx.params and ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
                raise click.BadParameter(f"--{name} does not apply to an arrive-by query (it searches every minute "
                                         "of the max travel time before the deadline); drop it",
                                         param_hint=f"'--{name}'")
    if mode == "transit" and departure is None and arrive_by is None:
        raise click.BadParameter("--mode transit needs a first departure, e.g. --departure 2019-05-13T14:00 (or "
                                 "--arrive-by 2019-05-13T20:30)", param_hint="'--departure'")
    if mode != "transit":
        for flag, v, default in (("--access-mode", access_mode, "walk"), ("--max-bike", max_bike, None),
                                 ("--max-car", max_car, None)):
            if v != default:
                raise click.BadParameter(f"{flag} applies to --mode transit (the first leg to the stop); with "
                                         f"--mode {mode} drop it", param_hint=f"'{flag}'")
        return {}
    if max_bike is not None and access_mode != "bike":
        raise click.BadParameter("--max-bike needs --access-mode bike", param_hint="'--max-bike'")
    if max_car is not None and access_mode != "car":
        raise click.BadParameter("--max-car needs --access-mode car", param_hint="'--max-car'")
    return {"access_mode": access_mode, "transit": TransitOptions(max_bike_min=max_bike, max_car_min=max_car)}

