"""Scenarios: named edits of venues, streets and transit, applied without rebuilding, and before/after comparisons.

* :class:`Scenario` (``from_file``/``from_dict``, ``apply(network)``, ``apply_venues(venues)``): see
  ``docs/scenarios.md`` for the TOML format.
* :class:`AccessibilityState`: a base matrix and its indicators, updated one venue at a time (one search per
  added venue); :func:`venue_column` gives one venue's column of travel times (used for siting too).
* :func:`compare`: per-cell and per-area before/after/delta tables, typology classes that changed, delta maps.
"""

from ._compare import Comparison, compare
from ._spec import Edit, Scenario
from ._state import AccessibilityState, IndicatorSettings, VenueDelta, venue_column, venue_columns

__all__ = ["Scenario", "Edit", "AccessibilityState", "IndicatorSettings", "VenueDelta", "venue_column",
           "venue_columns", "compare", "Comparison"]
