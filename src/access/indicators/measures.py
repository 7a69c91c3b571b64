"""Accessibility measures on a long travel matrix, mirroring the R package ``accessibility`` (ipeaGIT).

Every measure reads the matrix chunk by chunk (Parquet batches or DataFrame slices), maps ids to contiguous int32
codes, and adds each chunk into per-id accumulators with numba kernels, so the whole matrix never has to be in
memory. Measures that need totals first (floating catchment areas, spatial availability) read it again.

Conventions shared with the R package
-------------------------------------
* ``travel_matrix``: ``from_id, to_id`` and a travel cost column (``travel_cost=``, default ``"travel_time"``,
  minutes). With several percentile columns (``travel_time_p25, travel_time_p50, ...``) name the one to use. Pairs
  with a NaN cost are treated as absent (unreachable), but their ids still appear in the output.
* ``land_use_data``: ``id`` plus the opportunity / demand columns.
* The result has ``id``, the ``group_by`` columns, and a column named after the opportunity (after the travel cost
  for :func:`cost_to_closest` and :func:`balancing_cost`, as in R). Every id of the output side of the matrix is
  present (R's ``fill_missing_ids = TRUE``), crossed with every group seen; rows are sorted by id then group.

``group_by``
------------
As in R, ``group_by`` names columns of the travel matrix (e.g. ``departure_time``, ``mode``): the measure is
computed separately for each group of matrix rows. In addition, a ``group_by`` column found not in the matrix but
in ``land_use_data`` is read on the side that carries the opportunities (``to_id`` for active measures and for the
FCA family, ``from_id`` for passive ones). With a land use table of venues (one row per venue, a ``category``
column), ``group_by="category"`` thus gives per-category access, exactly as if the measure were run on the
sub-matrix of each category's destinations.

With several ``group_by`` columns the groups are the combinations of values present in the matrix; R crosses the
unique values of each column (``data.table::CJ``), which also reports combinations that never occur (e.g. a mode
at a departure time it never runs) with 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import ValidationError
from . import _kernels as K
from ._input import (
    DEFAULT_CHUNK_ROWS,
    Chunk,
    DynamicSpace,
    GroupSpace,
    LandUseSpace,
    MatrixSource,
    _cost_array,
    _ids_to_numpy,
    check_land_use,
)
from .decay import as_decay

__all__ = [
    "cumulative_cutoff",
    "cumulative_interval",
    "gravity",
    "floating_catchment_area",
    "spatial_availability",
    "cost_to_closest",
    "balancing_cost",
]


# ----------------------------------------------------------------------------------------------------------------
# the chunked driver
# ----------------------------------------------------------------------------------------------------------------
class _Grid:
    """A growable float64 accumulator of shape (rows, groups, bins), C-contiguous."""

    def __init__(self, fill: float, n_bins: int = 1):
        self.fill = fill
        self.n_bins = n_bins
        self.a = np.full((0, 1, n_bins), fill, dtype=np.float64)

    def ensure(self, n_rows: int, n_groups: int) -> None:
        r, g, _ = self.a.shape
        if n_rows <= r and n_groups <= g:
            return
        nr = max(n_rows, r * 2 if n_rows > r else r)
        ng = max(n_groups, g)
        new = np.full((nr, ng, self.n_bins), self.fill, dtype=np.float64)
        new[:r, :g] = self.a
        self.a = new

    @property
    def n_groups(self) -> int:
        return self.a.shape[1]

    def flat(self) -> np.ndarray:
        return self.a.reshape(-1)


class _Run:
    """Reads a matrix in chunks and yields :class:`Chunk` codes for a given role of each side."""

    def __init__(self, travel_matrix, land_use_data, *, travel_cost, group_by, from_cols, to_cols,
                 opp_side: str, chunk_rows=DEFAULT_CHUNK_ROWS):
        self.src = MatrixSource(travel_matrix, chunk_rows=chunk_rows)
        self.cost_col = self.src.resolve_cost(travel_cost)
        gb = [] if group_by is None else ([group_by] if isinstance(group_by, str) else list(group_by))
        for c in gb:
            if c in ("from_id", "to_id"):
                raise ValidationError(f"`group_by` cannot contain {c!r}: it is already the id of the matrix")
        self.group_names = gb
        self.matrix_groups = [c for c in gb if c in self.src.columns]
        self.lu_groups = [c for c in gb if c not in self.src.columns]
        need = list(dict.fromkeys([*from_cols, *to_cols, *self.lu_groups]))
        if not isinstance(land_use_data, pd.DataFrame):
            raise ValidationError(f"`land_use_data` must be a pandas DataFrame, not {type(land_use_data).__name__}")
        missing_g = [c for c in self.lu_groups if c not in land_use_data.columns]
        if missing_g:
            raise ValidationError(
                f"`group_by` column(s) {missing_g} are neither in `travel_matrix` (columns {self.src.columns}) nor "
                f"in `land_use_data` (columns {list(land_use_data.columns)})"
            )
        nonneg = [c for c in (*from_cols, *to_cols) if c not in self.lu_groups]
        self.lu = check_land_use(land_use_data, need, nonnegative=nonneg)
        ids = self.lu["id"].to_numpy()
        self.opp_side = opp_side
        self.from_space = LandUseSpace(ids, what="from_id", column=",".join(from_cols)) if from_cols else DynamicSpace()
        self.to_space = LandUseSpace(ids, what="to_id", column=",".join(to_cols)) if to_cols else DynamicSpace()
        self.groups = GroupSpace(gb)
        self._lu_group_vals = [self.lu[c].to_numpy() for c in self.lu_groups]
        self.seen_from = np.zeros(0, dtype=bool)
        self.seen_to = np.zeros(0, dtype=bool)
        self._passes = 0

    def column(self, name: str) -> np.ndarray:
        return pd.to_numeric(self.lu[name], errors="coerce").to_numpy(dtype=np.float64)

    @staticmethod
    def _mark(seen: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
        if len(seen) < n:
            seen = np.concatenate([seen, np.zeros(max(n, 2 * len(seen)) - len(seen), dtype=bool)])
        K.mark(seen, codes)
        return seen

    def chunks(self):
        cols = ["from_id", "to_id", self.cost_col, *self.matrix_groups]
        for raw in self.src.iter_columns(cols):
            fi = self.from_space.encode(raw["from_id"])
            ti = self.to_space.encode(raw["to_id"])
            cost = _cost_array(raw[self.cost_col])
            if self._passes == 0:  # the ids seen are the same on every pass
                self.seen_from = self._mark(self.seen_from, fi, self.from_space.n)
                self.seen_to = self._mark(self.seen_to, ti, self.to_space.n)
            if self.group_names:
                side = fi if self.opp_side == "from" else ti
                vals = []
                for c in self.group_names:
                    if c in self.matrix_groups:
                        vals.append(_ids_to_numpy(raw[c]))
                    else:
                        vals.append(self._lu_group_vals[self.lu_groups.index(c)][side])
                g = self.groups.encode_columns(vals).astype(np.int64)
            else:
                g = np.zeros(len(fi), dtype=np.int64)
            ok = ~np.isnan(cost)
            if not ok.all():
                fi, ti, cost, g = fi[ok], ti[ok], cost[ok], g[ok]
            if len(cost) and cost.min() < 0:
                raise ValidationError(
                    f"`travel_matrix` ({self.src.describe()}) column {self.cost_col!r} has negative costs "
                    f"(min {cost.min()}); travel costs must be >= 0"
                )
            yield Chunk(fi, ti, cost, g)
        self._passes += 1

    def n_groups(self) -> int:
        return self.groups.n_or_one()

    def output(self, grid: np.ndarray, side: str, value_name: str, *, extra: dict | None = None) -> pd.DataFrame:
        """Frame of the values ``grid[(row, group)]`` for every seen id of ``side`` crossed with every group."""
        space = self.from_space if side == "from" else self.to_space
        seen = (self.seen_from if side == "from" else self.seen_to)[: space.n]
        rows = np.flatnonzero(seen)
        ids = space.values()[rows]
        try:
            order = np.argsort(ids, kind="stable")
        except TypeError:  # pragma: no cover - unorderable ids
            order = np.arange(len(ids))
        rows, ids = rows[order], ids[order]
        if self.group_names and self.groups.n == 0:
            return pd.DataFrame({"id": ids[:0], **{c: [] for c in self.group_names}, value_name: []})
        G = self.n_groups()
        vals = grid[rows][:, :G] if grid.ndim == 2 else grid[rows][:, None]
        out = {"id": np.repeat(ids, G)}
        if self.group_names:
            keys = self.groups._values
            order_g = _group_order(keys)
            vals = vals[:, order_g]
            for j, name in enumerate(self.group_names):
                col = [keys[k][j] for k in order_g]
                out[name] = np.tile(np.asarray(col, dtype=object if isinstance(col[0], str) else None), len(rows))
        for k, v in (extra or {}).items():
            out[k] = v
        out[value_name] = vals.reshape(-1)
        return pd.DataFrame(out)


def _group_order(keys: list) -> np.ndarray:
    try:
        return np.array(sorted(range(len(keys)), key=lambda i: keys[i]), dtype=np.int64)
    except TypeError:  # pragma: no cover
        return np.arange(len(keys))


def _rows(run: _Run, side_codes: np.ndarray, g: np.ndarray, n_groups: int) -> np.ndarray:
    if n_groups == 1:
        return side_codes
    return side_codes.astype(np.int64) * n_groups + g


def _check_opportunity(opportunity) -> str:
    if not isinstance(opportunity, str):
        raise ValidationError(f"`opportunity` must be a column name (str), not {type(opportunity).__name__}")
    return opportunity


def _cutoffs(cutoff, name="cutoff") -> np.ndarray:
    c = np.atleast_1d(np.asarray(cutoff, dtype=np.float64)).ravel()
    if len(c) == 0 or not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValidationError(f"`{name}` must be one or more finite numbers >= 0, got {cutoff!r}")
    if len(np.unique(c)) != len(c):
        raise ValidationError(f"`{name}` values must be unique, got {list(c)}")
    return c


# ----------------------------------------------------------------------------------------------------------------
# cumulative measures
# ----------------------------------------------------------------------------------------------------------------
def _cumulative_hist(run: _Run, opp: np.ndarray, active: bool, cutoffs_sorted: np.ndarray) -> np.ndarray:
    """Per (output id, group): the sum of opportunities with cost <= each cutoff; returns (n, G, K)."""
    Kb = len(cutoffs_sorted)
    grid = _Grid(0.0, Kb)
    for ch in run.chunks():
        out_codes, opp_codes = (ch.fi, ch.ti) if active else (ch.ti, ch.fi)
        G = run.n_groups()
        n = (run.from_space if active else run.to_space).n
        grid.ensure(n, G)
        rows = _rows(run, out_codes, ch.g, grid.n_groups)
        K.cum_hist(grid.flat(), rows, Kb, ch.cost, opp[opp_codes], cutoffs_sorted)
    n = (run.from_space if active else run.to_space).n
    grid.ensure(n, run.n_groups())
    return np.cumsum(grid.a, axis=2)


def cumulative_cutoff(travel_matrix, land_use_data, *, opportunity: str, travel_cost: str = "travel_time",
                      cutoff, group_by: str | Sequence[str] | None = None, active: bool = True,
                      chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Cumulative opportunities reachable within a travel cost cutoff (Ingram 1971).

    Active: per origin, the sum of ``opportunity`` over destinations with ``travel_cost <= cutoff``.
    Passive (``active=False``): per destination, the sum over origins (e.g. people who can reach it).

    Parameters
    ----------
    travel_matrix : DataFrame, TravelTimeMatrix or path to a Parquet file
        Long matrix ``from_id, to_id, <travel_cost>``.
    land_use_data : DataFrame
        ``id`` plus the ``opportunity`` column.
    opportunity : str
        Column of ``land_use_data`` with the number of opportunities.
    travel_cost : str, default "travel_time"
        Cost column of the matrix (e.g. ``"travel_time_p50"``).
    cutoff : float or sequence of float
        Cutoff(s); several give an extra ``cutoff`` column, as in R.
    group_by : str or list of str, optional
        Matrix columns (or a land-use column of the opportunity side) to compute separately by.
    active : bool, default True
    chunk_rows : int
        Rows per chunk read from the matrix.

    Returns
    -------
    DataFrame
        ``id`` [, group columns] [, ``cutoff``], ``<opportunity>``.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"from_id": ["a", "a", "b"], "to_id": ["a", "b", "b"], "travel_time": [5., 20., 3.]})
    >>> lu = pd.DataFrame({"id": ["a", "b"], "jobs": [1, 10]})
    >>> cumulative_cutoff(m, lu, opportunity="jobs", cutoff=10)["jobs"].tolist()
    [1.0, 10.0]
    """
    opportunity = _check_opportunity(opportunity)
    cut = _cutoffs(cutoff)
    side = "to" if active else "from"
    run = _Run(travel_matrix, land_use_data, travel_cost=travel_cost, group_by=group_by,
               from_cols=() if active else (opportunity,), to_cols=(opportunity,) if active else (),
               opp_side=side, chunk_rows=chunk_rows)
    order = np.argsort(cut)
    cs = cut[order]
    acc = _cumulative_hist(run, run.column(opportunity), active, cs)
    out_side = "from" if active else "to"
    if len(cut) == 1:
        return run.output(acc[:, :, 0], out_side, opportunity)
    frames = []
    for j, c in enumerate(cs):
        f = run.output(acc[:, :, j], out_side, opportunity)
        f.insert(len(f.columns) - 1, "cutoff", c)
        frames.append(f)
    res = pd.concat(frames, ignore_index=True)
    return res.sort_values(["id", *run.group_names, "cutoff"], kind="stable", ignore_index=True)


def cumulative_interval(travel_matrix, land_use_data, *, opportunity: str, travel_cost: str = "travel_time",
                        interval: Sequence[float], interval_increment: float = 1,
                        summary_function: Callable | str = "median",
                        group_by: str | Sequence[str] | None = None, active: bool = True,
                        chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Cumulative access summarised over a range of cutoffs (Tomasiello et al. 2023).

    Computes the cumulative cutoff measure at every cutoff ``interval[0], interval[0] + interval_increment, ...,
    interval[1]`` and summarises them per id with ``summary_function`` (median by default), truncated to an
    integer as in R (one cannot reach 2.8 opportunities).

    Parameters
    ----------
    interval : (start, end)
        Travel cost interval, ``start < end``.
    interval_increment : float, default 1
    summary_function : "median", "mean" or callable
        A callable is given a 2-D array (ids x cutoffs) and ``axis=1``.

    Returns
    -------
    DataFrame
        ``id`` [, group columns], ``<opportunity>`` (float64 holding whole numbers).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"from_id": ["a", "a"], "to_id": ["a", "b"], "travel_time": [5., 25.]})
    >>> lu = pd.DataFrame({"id": ["a", "b"], "jobs": [1, 10]})
    >>> cumulative_interval(m, lu, opportunity="jobs", interval=(20, 30))["jobs"].tolist()
    [11.0]
    """
    opportunity = _check_opportunity(opportunity)
    iv = np.asarray(interval, dtype=np.float64).ravel()
    if len(iv) != 2 or not np.all(np.isfinite(iv)) or iv[0] < 0 or iv[0] >= iv[1]:
        raise ValidationError(f"`interval` must be two increasing finite numbers >= 0, got {interval!r}")
    inc = float(interval_increment)
    if not (inc > 0 and np.isfinite(inc)):
        raise ValidationError(f"`interval_increment` must be > 0, got {interval_increment!r}")
    # R: seq.int(start, end, by = increment)
    n_steps = int(np.floor((iv[1] - iv[0]) / inc + 1e-10))
    cuts = iv[0] + np.arange(n_steps + 1) * inc
    fn: Callable[..., Any] | None
    if isinstance(summary_function, str):
        fn = {"median": np.median, "mean": np.mean}.get(summary_function)  # type: ignore[assignment]  # numpy's stubs type these as overloaded functions
        if fn is None:
            raise ValidationError(
                f"`summary_function` must be 'median', 'mean' or a callable, got {summary_function!r}")
    elif callable(summary_function):
        fn = summary_function
    else:
        raise ValidationError("`summary_function` must be 'median', 'mean' or a callable")
    side = "to" if active else "from"
    run = _Run(travel_matrix, land_use_data, travel_cost=travel_cost, group_by=group_by,
               from_cols=() if active else (opportunity,), to_cols=(opportunity,) if active else (),
               opp_side=side, chunk_rows=chunk_rows)
    acc = _cumulative_hist(run, run.column(opportunity), active, cuts)
    n, G, Kb = acc.shape
    summ = np.asarray(fn(acc.reshape(n * G, Kb), axis=1), dtype=np.float64).reshape(n, G)
    summ = np.trunc(summ)
    return run.output(summ, "from" if active else "to", opportunity)


# ----------------------------------------------------------------------------------------------------------------
# gravity
# ----------------------------------------------------------------------------------------------------------------
def gravity(travel_matrix, land_use_data, *, opportunity: str, travel_cost: str = "travel_time",
            decay_function, group_by: str | Sequence[str] | None = None, active: bool = True,
            chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Gravity (potential) accessibility: per origin, the sum of opportunities weighted by ``decay_function(cost)``.

    Parameters
    ----------
    decay_function : DecayFunction
        e.g. ``decay_exponential(0.1)``, ``decay_binary(45)``, ``decay_logistic(30, 5)``.

    Returns
    -------
    DataFrame
        ``id`` [, group columns], ``<opportunity>``.

    Examples
    --------
    >>> import pandas as pd
    >>> from access.indicators import decay_binary
    >>> m = pd.DataFrame({"from_id": ["a", "a"], "to_id": ["a", "b"], "travel_time": [5., 25.]})
    >>> lu = pd.DataFrame({"id": ["a", "b"], "jobs": [1, 10]})
    >>> gravity(m, lu, opportunity="jobs", decay_function=decay_binary(10))["jobs"].tolist()
    [1.0]
    """
    opportunity = _check_opportunity(opportunity)
    decay = as_decay(decay_function)
    side = "to" if active else "from"
    run = _Run(travel_matrix, land_use_data, travel_cost=travel_cost, group_by=group_by,
               from_cols=() if active else (opportunity,), to_cols=(opportunity,) if active else (),
               opp_side=side, chunk_rows=chunk_rows)
    opp = run.column(opportunity)
    grid = _Grid(0.0)
    for ch in run.chunks():
        out_codes, opp_codes = (ch.fi, ch.ti) if active else (ch.ti, ch.fi)
        grid.ensure((run.from_space if active else run.to_space).n, run.n_groups())
        rows = _rows(run, out_codes, ch.g, grid.n_groups)
        K.add_at_keepnan(grid.flat(), rows, opp[opp_codes] * decay(ch.cost))
    grid.ensure((run.from_space if active else run.to_space).n, run.n_groups())
    return run.output(grid.a[:, :, 0], "from" if active else "to", opportunity)


# ----------------------------------------------------------------------------------------------------------------
# floating catchment areas and spatial availability
# ----------------------------------------------------------------------------------------------------------------
def floating_catchment_area(travel_matrix, land_use_data, *, opportunity: str, travel_cost: str = "travel_time",
                            demand: str = "population", method: str = "2sfca", decay_function,
                            group_by: str | Sequence[str] | None = None, fca_metric: str | None = None,
                            chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Floating catchment area accessibility: 2SFCA (Luo and Wang 2003) or BFCA (Paez et al. 2019).

    2SFCA, with weights ``w_ij = decay_function(t_ij)``, demand ``P_i`` and opportunities ``O_j``::

        R_j = O_j / sum_i P_i w_ij            A_i = sum_j R_j w_ij

    BFCA balances the weights by origin and by destination (``w_ij / sum_j w_ij`` and ``w_ij / sum_i w_ij``)::

        R_j = O_j / sum_i P_i w_ij / sum_k w_ik      A_i = sum_j R_j w_ij / sum_k w_kj

    As in R, terms that are undefined (0/0) are dropped from the sums. The matrix is read twice (2SFCA) or three
    times (BFCA).

    Parameters
    ----------
    demand : str, default "population"
        Column of ``land_use_data`` with the people competing for the opportunities (R's ``competition_col``).
    method : {"2sfca", "bfca"}
        R's ``fca_metric`` (accepted as an alias).

    Returns
    -------
    DataFrame
        ``id`` [, group columns], ``<opportunity>`` (opportunities per person).

    Examples
    --------
    >>> import pandas as pd
    >>> from access.indicators import decay_binary
    >>> m = pd.DataFrame({"from_id": ["a", "b"], "to_id": ["c", "c"], "travel_time": [5., 5.]})
    >>> lu = pd.DataFrame({"id": ["a", "b", "c"], "population": [10, 30, 0], "jobs": [0, 0, 8]})
    >>> floating_catchment_area(m, lu, opportunity="jobs", demand="population",
    ...                         decay_function=decay_binary(10))["jobs"].tolist()
    [0.2, 0.2]
    """
    opportunity = _check_opportunity(opportunity)
    method = (fca_metric or method or "").lower()
    if method not in ("2sfca", "bfca"):
        raise ValidationError(f"`method` must be '2sfca' or 'bfca', got {method!r}")
    decay = as_decay(decay_function)
    run = _Run(travel_matrix, land_use_data, travel_cost=travel_cost, group_by=group_by,
               from_cols=(demand,), to_cols=(opportunity,), opp_side="to", chunk_rows=chunk_rows)
    n = run.lu.shape[0]
    opp, pop = run.column(opportunity), run.column(demand)
    if method == "2sfca":
        served = _Grid(0.0)
        for ch in run.chunks():
            served.ensure(n, run.n_groups())
            K.add_at(served.flat(), _rows(run, ch.ti, ch.g, served.n_groups), pop[ch.fi] * decay(ch.cost))
        served.ensure(n, run.n_groups())
        G = served.n_groups
        s = served.flat()
        acc = _Grid(0.0)
        acc.ensure(n, G)
        for ch in run.chunks():
            K.add_ratio(acc.flat(), _rows(run, ch.fi, ch.g, G), opp, ch.ti, s, _rows(run, ch.ti, ch.g, G),
                        decay(ch.cost), False)
        return run.output(acc.a[:, :, 0], "from", opportunity)
    # BFCA: pass 1, weight totals by origin and by destination
    wo, wd = _Grid(0.0), _Grid(0.0)
    for ch in run.chunks():
        w = decay(ch.cost)
        wo.ensure(n, run.n_groups())
        wd.ensure(n, run.n_groups())
        K.add_at_keepnan(wo.flat(), _rows(run, ch.fi, ch.g, wo.n_groups), w)
        K.add_at_keepnan(wd.flat(), _rows(run, ch.ti, ch.g, wd.n_groups), w)
    wo.ensure(n, run.n_groups())
    wd.ensure(n, run.n_groups())
    G = wo.n_groups
    served = _Grid(0.0)
    served.ensure(n, G)
    for ch in run.chunks():  # pass 2, balanced demand at destinations: sum_i P_i w_ij / sum_k w_ik
        rf = _rows(run, ch.fi, ch.g, G)
        K.add_ratio(served.flat(), _rows(run, ch.ti, ch.g, G), pop, ch.fi, wo.flat(), rf, decay(ch.cost), False)
    den = served.flat() * wd.flat()  # O_j / served_j * w_ij / sum_k w_kj
    acc = _Grid(0.0)
    acc.ensure(n, G)
    for ch in run.chunks():  # pass 3
        rt = _rows(run, ch.ti, ch.g, G)
        K.add_ratio(acc.flat(), _rows(run, ch.fi, ch.g, G), opp, ch.ti, den, rt, decay(ch.cost), False)
    return run.output(acc.a[:, :, 0], "from", opportunity)


def spatial_availability(travel_matrix, land_use_data, *, opportunity: str, travel_cost: str = "travel_time",
                         demand: str = "population", decay_function, alpha: float = 1.0,
                         group_by: str | Sequence[str] | None = None,
                         chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Spatial availability (Soukhov et al. 2023): opportunities shared among origins by demand and impedance.

    With ``f_i = P_i**alpha / sum_k P_k**alpha`` (over all of ``land_use_data``) and ``b_ij = w_ij / sum_i w_ij``::

        SA_i = sum_j O_j * f_i b_ij / sum_k f_k b_kj

    so that the availabilities of all origins add up to the opportunities they reach. As in R, undefined terms
    (a destination reached only with weight 0) propagate as NaN.

    Returns
    -------
    DataFrame
        ``id`` [, group columns], ``<opportunity>``.

    Examples
    --------
    >>> import pandas as pd
    >>> from access.indicators import decay_binary
    >>> m = pd.DataFrame({"from_id": ["a", "b"], "to_id": ["c", "c"], "travel_time": [5., 5.]})
    >>> lu = pd.DataFrame({"id": ["a", "b", "c"], "population": [10, 30, 0], "jobs": [0, 0, 8]})
    >>> spatial_availability(m, lu, opportunity="jobs", decay_function=decay_binary(10))["jobs"].tolist()
    [2.0, 6.0]
    """
    opportunity = _check_opportunity(opportunity)
    decay = as_decay(decay_function)
    a = float(alpha)
    if not (np.isfinite(a) and a >= 0):
        raise ValidationError(f"`alpha` must be a finite number >= 0, got {alpha!r}")
    run = _Run(travel_matrix, land_use_data, travel_cost=travel_cost, group_by=group_by,
               from_cols=(demand,), to_cols=(opportunity,), opp_side="to", chunk_rows=chunk_rows)
    n = run.lu.shape[0]
    opp, pop = run.column(opportunity), run.column(demand)
    f = pop ** a / np.sum(pop ** a)
    sw, sfb = _Grid(0.0), _Grid(0.0)
    for ch in run.chunks():  # pass 1: sum_i w_ij
        sw.ensure(n, run.n_groups())
        K.add_at_keepnan(sw.flat(), _rows(run, ch.ti, ch.g, sw.n_groups), decay(ch.cost))
    sw.ensure(n, run.n_groups())
    G = sw.n_groups
    sfb.ensure(n, G)
    for ch in run.chunks():  # pass 2: sum_i f_i b_ij
        rt = _rows(run, ch.ti, ch.g, G)
        K.add_ratio(sfb.flat(), rt, f, ch.fi, sw.flat(), rt, decay(ch.cost), True)
    den = sw.flat() * sfb.flat()  # f_i b_ij / sum_k f_k b_kj = f_i w_ij / (sum_i w_ij * sum_k f_k b_kj)
    acc = _Grid(0.0)
    acc.ensure(n, G)
    for ch in run.chunks():  # pass 3
        rt = _rows(run, ch.ti, ch.g, G)
        K.add_ratio2(acc.flat(), _rows(run, ch.fi, ch.g, G), f, ch.fi, opp, ch.ti, den, rt, decay(ch.cost), True)
    return run.output(acc.a[:, :, 0], "from", opportunity)


# ----------------------------------------------------------------------------------------------------------------
# costs
# ----------------------------------------------------------------------------------------------------------------
def cost_to_closest(travel_matrix, land_use_data, *, opportunity: str, travel_cost: str = "travel_time",
                    n: int | float = 1, group_by: str | Sequence[str] | None = None, active: bool = True,
                    chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Minimum travel cost to reach at least ``n`` opportunities (the n-th closest), ``inf`` when never reached.

    Only destinations with ``opportunity > 0`` count. With ``n > 1`` destinations are taken by increasing cost and
    their opportunities summed until ``n`` is reached (a destination holding 3 schools counts 3). Chunked: per
    origin only the candidates that can still matter are kept between chunks.

    Returns
    -------
    DataFrame
        ``id`` [, group columns], ``<travel_cost>`` (named after the cost column, as in R).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"from_id": ["a", "a", "a"], "to_id": ["a", "b", "c"], "travel_time": [5., 25., 15.]})
    >>> lu = pd.DataFrame({"id": ["a", "b", "c"], "museums": [0, 2, 1]})
    >>> cost_to_closest(m, lu, opportunity="museums", n=2)["travel_time"].tolist()
    [25.0]
    """
    opportunity = _check_opportunity(opportunity)
    try:
        nn = float(n)
    except (TypeError, ValueError):
        raise ValidationError(f"`n` must be a number >= 1, got {n!r}") from None
    if not (np.isfinite(nn) and nn >= 1):
        raise ValidationError(f"`n` must be a finite number >= 1, got {n!r}")
    side = "to" if active else "from"
    run = _Run(travel_matrix, land_use_data, travel_cost=travel_cost, group_by=group_by,
               from_cols=() if active else (opportunity,), to_cols=(opportunity,) if active else (),
               opp_side=side, chunk_rows=chunk_rows)
    opp = run.column(opportunity)
    out_space = run.from_space if active else run.to_space
    best = _Grid(np.inf)
    cand_rows = np.zeros(0, np.int64)
    cand_cost = np.zeros(0, np.float64)
    cand_val = np.zeros(0, np.float64)
    G_at = None
    for ch in run.chunks():
        out_codes, opp_codes = (ch.fi, ch.ti) if active else (ch.ti, ch.fi)
        best.ensure(out_space.n, run.n_groups())
        v = opp[opp_codes]
        pos = v > 0
        if nn == 1:
            K.min_at(best.flat(), _rows(run, out_codes[pos], ch.g[pos], best.n_groups), ch.cost[pos])
            continue
        G = best.n_groups
        if G_at is not None and G != G_at and len(cand_rows):  # group count grew: re-index candidates
            cand_rows = (cand_rows // G_at) * G + cand_rows % G_at
        G_at = G
        rows = np.concatenate([cand_rows, _rows(run, out_codes[pos], ch.g[pos], G)])
        cost = np.concatenate([cand_cost, ch.cost[pos]])
        val = np.concatenate([cand_val, v[pos]])
        idx = K.prune_candidates(rows, cost, val, nn, int(rows.max()) + 1 if len(rows) else 0)
        cand_rows, cand_cost, cand_val = rows[idx], cost[idx], val[idx]
    best.ensure(out_space.n, run.n_groups())
    if nn != 1 and len(cand_rows):
        G = best.n_groups
        if G_at is not None and G != G_at:
            cand_rows = (cand_rows // G_at) * G + cand_rows % G_at
        cum = _segment_cumsum(cand_rows, cand_val)
        K.first_reaching(cand_rows, cand_cost, cum, nn, best.flat())
    return run.output(best.a[:, :, 0], "from" if active else "to", run.cost_col)


def _segment_cumsum(rows_sorted: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Running sum of ``vals`` restarting at each new value of ``rows_sorted``."""
    if len(vals) == 0:
        return vals.copy()
    start = np.r_[True, rows_sorted[1:] != rows_sorted[:-1]]
    seg = np.cumsum(start) - 1
    cs = np.cumsum(vals)
    first = np.flatnonzero(start)
    return cs - (cs[first] - vals[first])[seg]


def balancing_cost(travel_matrix, land_use_data, *, opportunity: str, travel_cost: str = "travel_time",
                   demand: str = "population", cost_increment: float = 1,
                   group_by: str | Sequence[str] | None = None,
                   chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """Balancing cost (Barboza et al. 2021): the cost needed to reach more opportunities than people at the origin.

    Candidate costs are ``0, cost_increment, 2 * cost_increment, ...`` up to the largest cost of the matrix; the
    result is the first candidate ``c`` with ``sum(opportunity where cost <= c) > demand`` (strictly, as in R).
    Origins with zero demand get 0; origins that never balance get NaN.

    Returns
    -------
    DataFrame
        ``id`` [, group columns], ``<travel_cost>``.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"from_id": ["a", "a"], "to_id": ["a", "b"], "travel_time": [5., 25.]})
    >>> lu = pd.DataFrame({"id": ["a", "b"], "population": [5, 0], "jobs": [3, 10]})
    >>> balancing_cost(m, lu, opportunity="jobs", demand="population")["travel_time"].tolist()
    [25.0]
    """
    opportunity = _check_opportunity(opportunity)
    inc = float(cost_increment)
    if not (np.isfinite(inc) and inc > 0):
        raise ValidationError(f"`cost_increment` must be a finite number > 0, got {cost_increment!r}")
    run = _Run(travel_matrix, land_use_data, travel_cost=travel_cost, group_by=group_by,
               from_cols=(demand,), to_cols=(opportunity,), opp_side="to", chunk_rows=chunk_rows)
    n = run.lu.shape[0]
    opp, pop = run.column(opportunity), run.column(demand)
    max_cost = run.src.max_of(run.cost_col)
    n_bins = int(np.floor(max_cost / inc + 1e-9)) + 1 if np.isfinite(max_cost) else 1
    if n_bins > 100_000:
        raise ValidationError(
            f"`cost_increment` {inc} gives {n_bins} candidate costs up to {max_cost}; use a larger increment"
        )
    hist = _Grid(0.0, n_bins)
    for ch in run.chunks():
        hist.ensure(n, run.n_groups())
        k = np.ceil(ch.cost / inc)
        k = np.where((k - 1) * inc >= ch.cost, k - 1, k)
        k = np.where(k * inc < ch.cost, k + 1, k).astype(np.int64)
        K.bin_add(hist.flat(), _rows(run, ch.fi, ch.g, hist.n_groups), n_bins, k, opp[ch.ti])
    hist.ensure(n, run.n_groups())
    cum = np.cumsum(hist.a, axis=2)
    over = cum > pop[:, None, None]
    first = np.argmax(over, axis=2).astype(np.float64)
    res = np.where(over.any(axis=2), first * inc, np.nan)
    res[pop == 0] = 0.0
    return run.output(res, "from", run.cost_col)
