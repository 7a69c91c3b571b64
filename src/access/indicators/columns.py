"""The per-origin indicator vocabulary: one definition of the measure names and the columns that carry them.

Three tables hold per-origin indicators, in two shapes, and all name their columns here:

* **long** (one row per origin x category, ``id, category, <measure columns>``): the ``_indicators/`` partitions of
  the chunked runs (:class:`access.scale.chunked.Indicators`) and the before/after deltas of a scenario state
  (:meth:`access.scenarios.AccessibilityState.delta`):
  :data:`NEAREST_MIN`, :func:`within_col` (``within_<c>min``), :data:`GRAVITY`, :data:`FCA`;
* **wide** (one row per cell, a column per mode and measure): the regional study's ``cells_indicators.parquet``
  (:func:`access.region.pipeline.cell_indicators`): :func:`time_col` (``time_<mode>_<category>``), :func:`reach_col`
  (``reach_<mode>_<T>min``), :func:`gravity_col` (``gravity_<mode>``), :func:`fca_col` (``fca_<mode>``);
* **per category** (one row per cell, a column per venue category and measure): a scenario state's
  :meth:`~access.scenarios.AccessibilityState.indicators`: :func:`state_col` (``time_<c>``, ``cum<cutoff>_<c>``,
  ``gravity_<c>``, ``fca2_<c>``, and ``bfca_<c>``, ``sa_<c>`` for the measures recomputed fully).

A new per-origin measure gets its names here, then is written by each table that computes it.
"""

from __future__ import annotations

#: minutes to the nearest destination holding opportunities (``inf`` when none is reached)
NEAREST = "nearest"
#: opportunities reachable within a cutoff (``t <= cutoff``)
CUMULATIVE = "cumulative"
#: opportunities weighted by a decay of the travel time
GRAVITY = "gravity"
#: two-step floating catchment area (opportunities per inhabitant of their catchments)
FCA = "2sfca"
#: the measures a scenario state keeps up to date one venue at a time, in this order
MEASURES = (NEAREST, CUMULATIVE, GRAVITY, FCA)

#: long tables: the column of :data:`NEAREST`, in minutes
NEAREST_MIN = f"{NEAREST}_min"

#: wide tables: prefixes of the per-mode indicator columns (``time_`` = minutes to the nearest venue)
TIME_PREFIX = "time_"
REACH_PREFIX = "reach_"
GRAVITY_PREFIX = f"{GRAVITY}_"
FCA_PREFIX = "fca_"
WIDE_PREFIXES = (TIME_PREFIX, REACH_PREFIX, GRAVITY_PREFIX, FCA_PREFIX)


def within_col(cutoff_min: float) -> str:
    """Long tables: the :data:`CUMULATIVE` column for one cutoff, ``within_<c>min``."""
    return f"within_{cutoff_min:g}min"


def time_col(mode: str, category: str) -> str:
    """Wide tables: minutes to the nearest venue of ``category`` (``"any"``: of any), ``time_<mode>_<category>``."""
    return f"{TIME_PREFIX}{mode}_{category}"


def reach_col(mode: str, threshold_min: float) -> str:
    """Wide tables: venues within ``threshold_min`` minutes, ``reach_<mode>_<T>min``."""
    return f"{REACH_PREFIX}{mode}_{threshold_min:g}min"


def gravity_col(mode: str) -> str:
    """Wide tables: the :data:`GRAVITY` measure of one mode, ``gravity_<mode>``."""
    return f"{GRAVITY_PREFIX}{mode}"


def fca_col(mode: str) -> str:
    """Wide tables: the :data:`FCA` measure of one mode (venues per 10,000 inhabitants), ``fca_<mode>``."""
    return f"{FCA_PREFIX}{mode}"


#: per-category tables (scenario states): the prefix of each measure's columns
STATE_PREFIXES = {NEAREST: "time", GRAVITY: GRAVITY, FCA: "fca2", "bfca": "bfca", "spatial_availability": "sa"}


def state_col(measure: str, category: str, cutoff_min: float | None = None) -> str:
    """Per-category tables: the column of ``measure`` for venues of ``category`` (:data:`CUMULATIVE` needs the
    cutoff: ``cum<cutoff>_<c>``)."""
    if measure == CUMULATIVE:
        if cutoff_min is None:
            raise ValueError("the cumulative column needs its cutoff")
        return f"cum{cutoff_min:g}_{category}"
    return f"{STATE_PREFIXES[measure]}_{category}"
