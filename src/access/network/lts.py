"""Cycling level of traffic stress (LTS) per edge of a bike graph, and the graph limited to a ``max_lts``
(r5r's ``max_lts``): see :func:`access.network.profiles.way_lts` for the rules (Conveyal's R5 labeler, without its
intersection step).

Examples
--------
>>> lts = edge_lts(net)  # doctest: +SKIP
>>> g2 = limit_lts(net, net.street("bike"), 2)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import NetworkError
from .._validate import check_int

__all__ = ["UNREACHABLE_EDGE_S", "edge_lts", "limit_lts"]

#: the time given to edges above ``max_lts``: beyond any search bound (one day) yet far from int32 overflow
UNREACHABLE_EDGE_S = 10**8


def edge_lts(network: Any) -> np.ndarray:
    """int8[n_edges] LTS (1..4; 0 unlabelled, i.e. service roads) of the network's bike edges, in their
    direction of travel; read from the network's OSM extract once and cached on the network."""
    cached = network.__dict__.get("_bike_lts")
    if cached is not None:
        return cached
    from ..io.osm import read_highways
    from .profiles import evaluate_lts

    g = network.street("bike")
    inputs = [Path(p) for p in (getattr(network, "manifest", {}) or {}).get("inputs", [])]
    osm = next((p for p in inputs if p.suffix == ".pbf" and p.exists()), None)
    if osm is None:
        raise NetworkError("the level of traffic stress needs the network's OSM extract (not found next to the "
                           "bundle's recorded inputs); rebuild the network from its .pbf")
    ways = read_highways(osm)
    fw, bw = evaluate_lts(ways.tags)
    # the direction of each edge along its way: positions of its end nodes in the way's node list
    cnt = np.diff(ways.node_offsets)
    ref = pd.DataFrame({"way_id": np.repeat(ways.way_id, cnt), "node": ways.node_id,
                        "pos": np.arange(len(ways.node_id)) - np.repeat(ways.node_offsets[:-1], cnt)})
    ref = ref.drop_duplicates(["way_id", "node"])
    e = pd.DataFrame({"way_id": np.asarray(g.way_id), "t": np.asarray(g.osm_node_id)[g.tail],
                      "h": np.asarray(g.osm_node_id)[np.asarray(g.head)]})
    e = e.merge(ref.rename(columns={"node": "t", "pos": "pt"}), on=["way_id", "t"], how="left")
    e = e.merge(ref.rename(columns={"node": "h", "pos": "ph"}), on=["way_id", "h"], how="left")
    widx = pd.Index(ways.way_id).get_indexer(e["way_id"])
    forward = ~(e["ph"].to_numpy() < e["pt"].to_numpy())
    lts = np.where(widx >= 0, np.where(forward, fw[np.maximum(widx, 0)], bw[np.maximum(widx, 0)]), 0)
    lts = lts.astype(np.int8)
    network.__dict__["_bike_lts"] = lts
    return lts


def limit_lts(network: Any, graph: Any, max_lts: int | None) -> Any:
    """The bike ``graph`` (same topology as ``network.street("bike")``) where edges above ``max_lts`` cannot be
    used (their time is :data:`UNREACHABLE_EDGE_S`); unchanged for ``None`` or 4."""
    if max_lts is None:
        return graph
    max_lts = check_int("max_lts", max_lts, ge=1, le=4)
    if max_lts == 4:
        return graph
    lts = edge_lts(network)
    bad = lts > max_lts
    tt = np.where(bad, UNREACHABLE_EDGE_S, np.asarray(graph.travel_time_s)).astype(np.int32)
    return graph.with_travel_times(tt, max_lts=max_lts)
