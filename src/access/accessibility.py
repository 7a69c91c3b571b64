"""One-call accessibility (r5r's ``accessibility()``): travel times and opportunity sums in one pass, by origin
chunks, so the full matrix is never held.

Each chunk of origins gets an ordinary :func:`access.travel_time_matrix` to the opportunity points (so every
street rule and transit setting applies), and is reduced at once with the decay functions of
:mod:`access.indicators.decay`: the result equals :func:`access.indicators.cumulative_cutoff` /
:func:`access.indicators.gravity` on the whole matrix.

Examples
--------
>>> import access  # doctest: +SKIP
>>> acc = access.accessibility(net, cells, venues, opportunities="seats", mode="walk", cutoffs_min=(15, 30))
...     # doctest: +SKIP
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._validate import check_int, check_number, fail
from .io.places import Points, read_points

if TYPE_CHECKING:
    from .indicators.decay import DecayFunction
    from .network.bundle import TransportNetwork

__all__ = ["CUTOFF_DECAYS", "accessibility"]

#: decay names that take their parameter from each cutoff (as r5r's ``decay_function``)
CUTOFF_DECAYS = ("step", "linear", "logistic")


def _opportunity_table(opportunities: Any, columns: Sequence[str] | str | None, d: Points) -> pd.DataFrame:
    frame = d.frame if d.frame is not None else (opportunities if isinstance(opportunities, pd.DataFrame) else None)
    if columns is None:
        return pd.DataFrame({"opportunities": np.ones(len(d))})
    cols = [columns] if isinstance(columns, str) else list(columns)
    if frame is None:
        raise fail("opportunity_columns", "columns of a table of destinations", cols,
                   "pass the destinations as a DataFrame/GeoDataFrame or a file with these columns")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise fail("opportunity_columns", f"columns of the destinations (have {list(frame.columns)})", missing,
                   "name the columns holding the number of opportunities")
    out = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64) for c in cols})
    bad = [c for c in cols if out[c].isna().any() or (out[c] < 0).any()]
    if bad:
        raise fail("opportunity_columns", "non-negative numbers without gaps", bad,
                   f"fill or drop the rows with missing or negative {bad[0]!r}")
    return out


def accessibility(network: TransportNetwork, origins: Any, destinations: Any, *, opportunity_columns:
                  Sequence[str] | str | None = None, mode: str = "walk", cutoffs_min: Sequence[float] = (30,),
                  decay: str | DecayFunction = "step", logistic_sd: float = 5.0, max_time_min: float | None = None,
                  chunk_size: int | None = None, progress: bool = True, **matrix_kwargs: Any) -> pd.DataFrame:
    """Opportunities reachable from each origin, weighted by a decay of travel time (r5r's ``accessibility()``).

    Parameters
    ----------
    network : TransportNetwork
    origins, destinations : GeoDataFrame, DataFrame with lon/lat, or path
        Points with an ``id`` column; the destinations carry the ``opportunity_columns``.
    opportunity_columns : str or list of str, optional
        Columns of ``destinations`` with the number of opportunities (default: each destination counts 1).
    mode : {"walk", "bike", "car", "transit"}
    cutoffs_min : sequence of float
        Cutoffs (minutes) of the cutoff-based decays (``"step"``: r5r's and :func:`~access.indicators.decay_binary`;
        ``"linear"``; ``"logistic"`` with ``logistic_sd``); one result row group per cutoff.
    decay : {"step", "linear", "logistic"} or DecayFunction
        A name (parameter = each cutoff) or any :mod:`access.indicators.decay` function (e.g.
        ``decay_exponential(0.1)``), applied to the times within ``max_time_min``; ``cutoff`` is then NaN.
    max_time_min : float, optional
        Bound of the searches: default the largest cutoff (step, linear), 120 otherwise.
    chunk_size : int, optional
        Origins per chunk (default: about 4 million pairs per chunk).
    **matrix_kwargs :
        Passed to :func:`access.travel_time_matrix` (``departure``, ``window_min``, ``percentiles``, ``street``,
        ``transit``, ...). Several ``percentiles`` give one row group each.

    Returns
    -------
    DataFrame
        ``id, opportunity, percentile, cutoff, accessibility`` (r5r's columns), one row per origin, opportunity
        column, percentile and cutoff; unreachable or unsnapped origins have 0.

    Examples
    --------
    >>> acc = accessibility(net, "poa_hexgrid.csv", "poa_hexgrid.csv", opportunity_columns=["schools", "jobs"],
    ...                     mode="transit", departure="2019-05-13T14:00", window_min=60,
    ...                     cutoffs_min=(30, 60))  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from .indicators.decay import (
        DecayFunction,
        decay_binary,
        decay_linear,
        decay_logistic,
    )
    from .matrix import travel_time_matrix

    cuts = [float(check_number("cutoffs_min", c, gt=0, le=24 * 60)) for c in np.atleast_1d(cutoffs_min)]
    if isinstance(decay, str):
        if decay not in CUTOFF_DECAYS:
            raise fail("decay", f"one of {list(CUTOFF_DECAYS)} or a DecayFunction", decay,
                       "e.g. decay='step' or decay=access.indicators.decay_exponential(0.1)")
        if not cuts:
            raise fail("cutoffs_min", "one or more minutes", cutoffs_min)
        make = {"step": decay_binary, "linear": decay_linear,
                "logistic": lambda c: decay_logistic(c, logistic_sd)}[decay]
        fns = [(c, make(c)) for c in cuts]
        default_max = max(cuts) if decay in ("step", "linear") else 120.0
    elif isinstance(decay, DecayFunction):
        fns = [(np.nan, decay)]
        default_max = 120.0
    else:
        raise fail("decay", "a name or a DecayFunction", decay)
    max_time = default_max if max_time_min is None else max_time_min
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    d = destinations if isinstance(destinations, Points) else read_points(destinations, name="destinations")
    opp = _opportunity_table(destinations, opportunity_columns, d)
    w = opp.to_numpy(np.float64)  # [n_d, n_opp]
    size = check_int("chunk_size", chunk_size, ge=1) if chunk_size else max(1, int(4e6 // max(1, len(d))))
    parts: list[np.ndarray] = []  # [chunk, n_p, n_fn, n_opp]
    pcts: tuple = (50,)
    bar = tqdm(total=len(o), desc=f"{mode} accessibility", unit="origin", disable=not progress)
    for a in range(0, len(o), size):
        sub = Points(o.ids[a:a + size], o.lon[a:a + size], o.lat[a:a + size], None, o.name)
        m = travel_time_matrix(network, sub, d, mode=mode, max_time_min=max_time, progress=False, **matrix_kwargs)
        pcts = m.percentiles
        res = np.zeros((len(sub), len(pcts), len(fns), w.shape[1]))
        for k in range(len(pcts)):
            t = m.minutes(k)
            reach = ~np.isnan(t)
            for f, (_, fn) in enumerate(fns):
                wt = np.where(reach, fn(np.where(reach, t, 0.0)), 0.0)
                res[:, k, f, :] = wt @ w
        parts.append(res)
        bar.update(len(sub))
    bar.close()
    acc = np.concatenate(parts) if parts else np.zeros((0, len(pcts), len(fns), w.shape[1]))
    n_o, n_p, n_f, n_w = acc.shape
    ii, kk, ff, ww = np.meshgrid(np.arange(n_o), np.arange(n_p), np.arange(n_f), np.arange(n_w), indexing="ij")
    return pd.DataFrame({"id": o.ids[ii.ravel()], "opportunity": np.asarray(opp.columns)[ww.ravel()],
                         "percentile": np.asarray(pcts, float)[kk.ravel()],
                         "cutoff": np.asarray([c for c, _ in fns], float)[ff.ravel()],
                         "accessibility": acc.ravel()})


class _CallableModule(types.ModuleType):
    """``access.accessibility`` is this module once imported (e.g. by the CLI) and the function before: both call it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return accessibility(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
