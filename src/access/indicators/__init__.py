"""Accessibility indicators: measures (as in the R package ``accessibility``), inequality, aggregation by area,
and the territorial typology.

Measures take a long travel matrix (DataFrame, ``TravelTimeMatrix`` or Parquet path) and a land use table, and
read the matrix in chunks so that its size is not bounded by memory.
"""

from .aggregate import aggregate, attach_cells
from .decay import (
    DecayFunction,
    decay_binary,
    decay_exponential,
    decay_linear,
    decay_logistic,
    decay_power,
    decay_stepped,
)
from .inequality import (
    concentration_index,
    fgt_poverty,
    gini_index,
    palma_ratio,
    theil_t,
    weighted_gini,
    weighted_median,
    weighted_quantile_hmisc,
    weighted_theil_t,
)
from .measures import (
    balancing_cost,
    cost_to_closest,
    cumulative_cutoff,
    cumulative_interval,
    floating_catchment_area,
    gravity,
    spatial_availability,
)
from .typology import CLASSES, load_typology_config, typology

__all__ = [
    "aggregate",
    "attach_cells",
    "typology",
    "load_typology_config",
    "CLASSES",
    "DecayFunction",
    "decay_binary",
    "decay_exponential",
    "decay_linear",
    "decay_logistic",
    "decay_power",
    "decay_stepped",
    "balancing_cost",
    "cost_to_closest",
    "cumulative_cutoff",
    "cumulative_interval",
    "floating_catchment_area",
    "gravity",
    "spatial_availability",
    "concentration_index",
    "fgt_poverty",
    "gini_index",
    "palma_ratio",
    "theil_t",
    "weighted_gini",
    "weighted_median",
    "weighted_quantile_hmisc",
    "weighted_theil_t",
]
