"""Every argument check, with one message style: "`x` must be ..., got ...".

Public functions validate their arguments here (or through the option objects of :mod:`access.options`, which
call these checks once, when built) and pass plain values to the kernels.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

from ._errors import ValidationError

__all__ = ["check_number", "check_int", "check_choice", "check_percentiles", "parse_departure", "fail"]


def fail(name: str, expected: str, value: Any, fix: str | None = None) -> ValidationError:
    """The error for argument ``name``: "`name` must be <expected>, got <value>[; fix]"."""
    msg = f"`{name}` must be {expected}, got {value!r}"
    if fix:
        msg += f"; {fix}"
    return ValidationError(msg)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise fail(name, "a number", value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise fail(name, "a number", value) from None
    return x


def check_number(name: str, value: Any, *, gt: float | None = None, ge: float | None = None,
                 lt: float | None = None, le: float | None = None, finite: bool = True) -> float:
    """``value`` as a float, checked against the bounds (and finite unless ``finite=False``)."""
    x = _as_float(name, value)
    if math.isnan(x) or (finite and math.isinf(x)):
        raise fail(name, "a finite number", value)
    bounds = []
    if gt is not None:
        bounds.append(f"> {gt:g}")
    if ge is not None:
        bounds.append(f">= {ge:g}")
    if lt is not None:
        bounds.append(f"< {lt:g}")
    if le is not None:
        bounds.append(f"<= {le:g}")
    if ((gt is not None and not x > gt) or (ge is not None and not x >= ge) or (lt is not None and not x < lt)
            or (le is not None and not x <= le)):
        raise fail(name, "a number " + " and ".join(bounds), value)
    return x


def check_int(name: str, value: Any, *, ge: int | None = None, le: int | None = None) -> int:
    """``value`` as an int (an integral float is accepted), checked against the bounds."""
    x = _as_float(name, value)
    if not math.isfinite(x) or x != int(x):
        raise fail(name, "a whole number", value)
    i = int(x)
    if (ge is not None and i < ge) or (le is not None and i > le):
        rng = (f"between {ge} and {le}" if ge is not None and le is not None
               else f">= {ge}" if ge is not None else f"<= {le}")
        raise fail(name, f"a whole number {rng}", value)
    return i


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (the message names the closest one)."""
    choices = tuple(choices)
    if value in choices:
        return str(value)
    import difflib

    close = difflib.get_close_matches(str(value), choices, n=1)
    hint = f"did you mean {close[0]!r}?" if close else None
    raise fail(name, "one of " + ", ".join(repr(c) for c in choices), value, hint)


def check_percentiles(value: Any, name: str = "percentiles", *, allow_empty: bool = False) -> tuple[float, ...]:
    """A tuple of numbers in 0..100, non-empty unless ``allow_empty`` (one number is accepted); ints stay ints."""
    seq: Sequence[Any] = (value,) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if isinstance(seq, str):
        seq = [s.strip() for s in seq.split(",") if s.strip()]
    try:
        items = list(seq)
    except TypeError:
        raise fail(name, "numbers in 0..100", value) from None
    if not items and not allow_empty:
        raise fail(name, "at least one number in 0..100", value)
    out = []
    for p in items:
        x = _as_float(name, p)
        if not 0 <= x <= 100:
            raise fail(name, "numbers in 0..100", value)
        out.append(int(x) if x == int(x) else x)
    return tuple(out)


def parse_departure(value: Any, name: str = "departure") -> _dt.datetime:
    """A departure as a datetime: a ``datetime``, a ``pandas.Timestamp`` or an ISO string ``YYYY-MM-DDTHH:MM``."""
    if isinstance(value, _dt.datetime):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, _dt.date):
        raise fail(name, "a date and a time such as 2019-05-13T14:00", value)
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise fail(name, "an ISO date and time such as 2019-05-13T14:00", value) from None
    raise fail(name, "a datetime or an ISO string such as 2019-05-13T14:00", value)
