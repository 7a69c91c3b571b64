"""access: a routing-based accessibility engine (streets, transit, indicators, scenarios).

>>> import access
>>> net = access.TransportNetwork.from_files("region.osm.pbf", gtfs=["feed.zip"])  # doctest: +SKIP
>>> ttm = access.travel_time_matrix(net, cells, venues, mode="walk")              # doctest: +SKIP
"""

from __future__ import annotations

from ._errors import (
    AccessError,
    AccessWarning,
    FetchError,
    GTFSError,
    InputFileError,
    NetworkError,
    ScenarioError,
    ValidationError,
)
from ._version import __version__ as __version__
from .options import StreetOptions, TransitOptions

#: public names imported on first use (``import access`` and ``access --help`` stay fast: no numba, no pandas)
_LAZY = {"TravelTimeMatrix": ".matrix", "travel_time_matrix": ".matrix", "nearest_times": ".matrix",
         "TransportNetwork": ".network.bundle", "StreetGraph": ".network.street", "isochrones": ".isochrones",
         "accessibility": ".accessibility", "itineraries": ".routing.itinerary", "find_snap": ".routing.snap"}
#: functions named as their modules: once imported, the package attribute is the function, not the module
_SAME_NAME = ("isochrones", "accessibility")

__all__ = [
    "AccessError", "AccessWarning", "FetchError", "GTFSError", "InputFileError", "NetworkError", "ScenarioError",
    "ValidationError", "StreetOptions", "TransitOptions", "TransportNetwork", "StreetGraph", "TravelTimeMatrix",
    "travel_time_matrix", "nearest_times", "route", "aggregate", "compare", "isochrones", "itineraries",
    "accessibility", "find_snap",
]


def __getattr__(name):  # lazy access to heavier parts
    if name in _LAZY:
        import importlib

        obj = getattr(importlib.import_module(_LAZY[name], __name__), name)
        if name in _SAME_NAME:
            globals()[name] = obj
        return obj
    if name == "route":
        from .routing.itinerary import route

        return route
    if name == "aggregate":
        from .indicators import aggregate

        return aggregate
    if name == "compare":
        from .scenarios import compare

        return compare
    raise AttributeError(f"module 'access' has no attribute {name!r}")
