"""Decay (impedance) functions, as in the R package ``accessibility`` (ipeaGIT).

Each ``decay_*`` factory returns a :class:`DecayFunction`: a callable that maps a float array of travel costs to
float64 weights. Unlike the R package, a factory takes scalar parameters only (one function, one output column);
call a measure once per parameter value to compare several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._errors import ValidationError


@dataclass(frozen=True)
class DecayFunction:
    """A decay function ``f(travel_cost) -> weight`` with its name and parameters (for reports)."""

    kind: str
    params: dict = field(default_factory=dict)

    def __call__(self, travel_cost) -> np.ndarray:
        t = np.asarray(travel_cost, dtype=np.float64)
        p = self.params
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if self.kind == "binary":
                return (t <= p["cutoff"]).astype(np.float64)
            if self.kind == "linear":
                w = 1.0 - t / p["cutoff"]
                return np.where(t <= p["cutoff"], w, 0.0)
            if self.kind == "exponential":
                return np.exp(-p["decay_value"] * t)
            if self.kind == "power":
                w = t ** (-p["decay_value"])
                w[w > 1] = 1.0
                return w
            if self.kind == "logistic":
                c, sd = p["cutoff"], p["sd"]
                k = np.pi / (sd * np.sqrt(3.0))
                return (1.0 + np.exp((0.0 - c) * k)) / (1.0 + np.exp((t - c) * k))
            if self.kind == "stepped":
                steps = np.concatenate([[0.0], np.asarray(p["steps"], dtype=np.float64)])
                weights = np.concatenate([[1.0], np.asarray(p["weights"], dtype=np.float64)])
                k = np.searchsorted(steps, t, side="right") - 1
                out = weights[np.clip(k, 0, len(weights) - 1)]
                return np.where(np.isnan(t), np.nan, out)
        raise ValidationError(f"unknown decay function kind {self.kind!r}")  # pragma: no cover

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"decay_{self.kind}({args})"


def _number(name: str, v, *, lower: float = 0.0, strict: bool = False) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ValidationError(f"`{name}` must be a number, not {v!r}") from None
    if not np.isfinite(x) or x < lower or (strict and x == lower):
        op = ">" if strict else ">="
        raise ValidationError(f"`{name}` must be a finite number {op} {lower}, got {v!r}")
    return x


def decay_binary(cutoff: float) -> DecayFunction:
    """Binary (step) decay: weight 1 when ``travel_cost <= cutoff``, else 0.

    Examples
    --------
    >>> decay_binary(30)([10, 30, 31]).tolist()
    [1.0, 1.0, 0.0]
    """
    return DecayFunction("binary", {"cutoff": _number("cutoff", cutoff)})


def decay_linear(cutoff: float) -> DecayFunction:
    """Linear decay: ``1 - travel_cost / cutoff`` when ``travel_cost <= cutoff``, else 0.

    Examples
    --------
    >>> decay_linear(40)([0, 20, 50]).tolist()
    [1.0, 0.5, 0.0]
    """
    return DecayFunction("linear", {"cutoff": _number("cutoff", cutoff, strict=True)})


def decay_exponential(decay_value: float) -> DecayFunction:
    """Negative exponential decay: ``exp(-decay_value * travel_cost)``.

    Examples
    --------
    >>> round(float(decay_exponential(0.1)([10])[0]), 6)
    0.367879
    """
    return DecayFunction("exponential", {"decay_value": _number("decay_value", decay_value)})


def decay_power(decay_value: float) -> DecayFunction:
    """Inverse power decay: ``travel_cost ** -decay_value``, capped at 1 (so costs below 1 weigh 1).

    Examples
    --------
    >>> decay_power(1)([0, 0.5, 2]).tolist()
    [1.0, 1.0, 0.5]
    """
    return DecayFunction("power", {"decay_value": _number("decay_value", decay_value)})


def decay_logistic(cutoff: float, sd: float) -> DecayFunction:
    """Adjusted logistic decay (Bauer and Groneberg 2016) with ``f(0) = 1`` and inflection at ``cutoff``.

    ``f(t) = (1 + exp(-cutoff * k)) / (1 + exp((t - cutoff) * k))`` with ``k = pi / (sd * sqrt(3))``.

    Examples
    --------
    >>> float(decay_logistic(30, 5)([0])[0])
    1.0
    """
    return DecayFunction("logistic", {"cutoff": _number("cutoff", cutoff, strict=True),
                                      "sd": _number("sd", sd, strict=True)})


def decay_stepped(steps: Sequence[float], weights: Sequence[float]) -> DecayFunction:
    """Stepped decay: weight 1 below ``steps[0]``, ``weights[i]`` from ``steps[i]`` (inclusive) to the next step.

    Examples
    --------
    >>> decay_stepped([10, 20, 30, 40], [0.75, 0.5, 0.25, 0])([0, 10, 25, 45]).tolist()
    [1.0, 0.75, 0.5, 0.0]
    """
    s = np.asarray(steps, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(s) == 0 or len(s) != len(w):
        raise ValidationError(f"`steps` and `weights` must be non-empty and of equal length, got {len(s)} and {len(w)}")
    if not np.all(np.isfinite(s)) or np.any(s <= 0) or np.any(np.diff(s) <= 0):
        raise ValidationError(f"`steps` must be positive, finite and strictly increasing, got {list(s)}")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or np.any(w > 1):
        raise ValidationError(f"`weights` must lie in [0, 1], got {list(w)}")
    return DecayFunction("stepped", {"steps": tuple(s.tolist()), "weights": tuple(w.tolist())})


def as_decay(f) -> DecayFunction:
    """Accept a :class:`DecayFunction` or any vectorised callable ``f(ndarray) -> ndarray``."""
    if isinstance(f, DecayFunction):
        return f
    if callable(f):
        return _CallableDecay(f)
    raise ValidationError(
        f"`decay_function` must be a decay function such as decay_exponential(0.1), not {type(f).__name__}"
    )


class _CallableDecay(DecayFunction):
    def __init__(self, f):
        object.__setattr__(self, "kind", "custom")
        object.__setattr__(self, "params", {})
        object.__setattr__(self, "_f", f)

    def __call__(self, travel_cost):
        return np.asarray(self._f(np.asarray(travel_cost, dtype=np.float64)), dtype=np.float64)
