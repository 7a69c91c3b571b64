"""Queries: validate options once, snap, call the kernels of :mod:`access.core`, shape the results.

- :mod:`access.routing.street`: street searches between snapped points, with the point-pair rules;
- :mod:`access.routing.transit`: walk + transit by forward and backward range-RAPTOR;
- :mod:`access.routing.itinerary`: the legs of one journey.
"""
