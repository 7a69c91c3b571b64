"""Deterministic synthetic regions written in the real file formats (OSM .pbf, GTFS zip, INSEE Filosofi grid,
Basilic venues, EPCI polygons).

- :func:`make_demo_region`: the small embedded demo territory (seconds to generate, used by ``access demo``);
- :func:`make_region`: a region-scale network laid on the real geography of Hauts-de-France (benchmarks of scale).
"""

from .demo import make_demo_region
from .region import make_region

__all__ = ["make_demo_region", "make_region"]
