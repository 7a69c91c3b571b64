"""Street queries: travel times between snapped points on one street graph, with the point-pair rules every
street matrix applies (direct time along a shared street segment, 0 s between points at the same place).

Every street matrix path (in memory, chunked, Dask, scenario columns, siting candidates, the transit direct walk)
goes through :func:`street_od_times` or :func:`point_pair_times` + :func:`apply_point_pairs`.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._errors import AccessWarning, NetworkError, ValidationError
from ..core import dijkstra as dj
from ..io.places import Points
from ..network.street import StreetGraph

__all__ = ["graph_at_speed", "point_pair_times", "apply_point_pairs", "street_od_times", "same_edge_times",
           "coincident_pairs", "snap_points"]


def graph_at_speed(graph: StreetGraph, speed_kmh: float | None) -> StreetGraph:
    """Walk/bike graph re-timed for another constant speed (same topology); car graphs are returned as is."""
    if speed_kmh is None or graph.speed_kmh is None or abs(float(speed_kmh) - float(graph.speed_kmh)) < 1e-9:
        return graph
    if speed_kmh <= 0:
        raise ValidationError(f"speed must be positive, got {speed_kmh} km/h")
    if graph.meta.get("elevation"):  # slope-aware times (access.network.elevation): scale them, keep the slopes
        tt = np.maximum(1, np.rint(np.asarray(graph.travel_time_s, np.float64) * (float(graph.speed_kmh)
                                                                                  / float(speed_kmh))))
        tt = tt.astype(np.int32)
    else:
        tt = np.maximum(1, np.rint(graph.length_m.astype(np.float64) / (speed_kmh / 3.6))).astype(np.int32)
    return graph.with_travel_times(tt, speed_kmh=float(speed_kmh), connector_speed_kmh=float(speed_kmh))


def _chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


def coincident_pairs(o: Points, d: Points) -> tuple[np.ndarray, np.ndarray]:
    """(origin idx, destination idx) of pairs at exactly the same coordinates."""
    return _equal_key_pairs(o.lon + 1j * o.lat, d.lon + 1j * d.lat)


def _equal_key_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j) with ``a[i] == b[j]`` (int64 arrays), in O((n_a + n_b) log n_b) without pandas."""
    order = np.argsort(b, kind="stable")
    bs = b[order]
    lo = np.searchsorted(bs, a, "left")
    cnt = np.searchsorted(bs, a, "right") - lo
    i = np.repeat(np.arange(len(a), dtype=np.int64), cnt)
    if not len(i):
        return i, i.copy()
    first = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
    return i, order[first + np.arange(len(i))].astype(np.int64)


def same_edge_times(graph: StreetGraph, o_snap, d_snap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct times between origins and destinations snapped onto the same street segment.

    The graph search only goes through nodes, so two points on one edge would otherwise be joined by a detour
    through an end node (a point to itself would take a round trip). Returns (origin idx, destination idx,
    seconds) for every such pair whose direction of travel along the edge is allowed.
    """
    oi = np.flatnonzero(o_snap.snapped)
    di = np.flatnonzero(d_snap.snapped)
    ii, jj = _equal_key_pairs(o_snap.edge[oi], d_snap.edge[di])
    i, j = oi[ii], di[jj]
    e = o_snap.edge[i]
    fo, fd = o_snap.fraction[i], d_snap.fraction[j]
    conn_speed = float(graph.meta.get("connector_speed_kmh") or graph.meta.get("speed_kmh") or 3.6) / 3.6
    conn = np.rint(o_snap.distance_m[i] / conn_speed) + np.rint(d_snap.distance_m[j] / conn_speed)
    er = graph.reverse_edge[e]
    forward = fd >= fo
    t_edge = np.where(forward, graph.travel_time_s[e], np.where(er >= 0, graph.travel_time_s[np.maximum(er, 0)], -1))
    ok = t_edge >= 0
    t = conn + np.rint(np.abs(fd - fo) * t_edge)
    return i[ok], j[ok], t[ok].astype(np.int64)


def point_pair_times(graph: StreetGraph, o_snap, d_snap, max_time_s: int, o: Points | None = None,
                     d: Points | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs a street matrix takes from the geometry rather than from the node-to-node search.

    (origin idx, destination idx, int32 seconds) of: pairs snapped onto the same street segment, at their direct
    time along it when within ``max_time_s`` (:func:`same_edge_times`); and, given the points ``o`` and ``d``,
    snapped pairs at exactly the same coordinates, at 0 s. Every street matrix (:func:`travel_time_matrix`, the
    chunked and Dask runs, scenario columns, siting candidates) applies these with :func:`apply_point_pairs`, so
    they all give the same integers.
    """
    i, j, t = same_edge_times(graph, o_snap, d_snap)
    keep = t <= max_time_s
    i, j, t = i[keep], j[keep], t[keep]
    if o is not None and d is not None:
        ci, cj = coincident_pairs(o, d)
        ok = o_snap.snapped[ci] & d_snap.snapped[cj]
        i, j = np.concatenate([i, ci[ok]]), np.concatenate([j, cj[ok]])
        t = np.concatenate([t, np.zeros(int(ok.sum()), np.int64)])
    return i, j, t.astype(np.int32)


def apply_point_pairs(times: np.ndarray, pairs) -> np.ndarray:
    """Lower ``times`` (int32[n_o, n_d], unreachable as :data:`access.core.dijkstra.INF`) to the pair times of
    :func:`point_pair_times`, in place, and return it in public form (-1 unreachable)."""
    i, j, t = pairs
    if len(i):
        np.minimum.at(times, (i, j), t)
    return dj.to_public(times)


def street_od_times(graph: StreetGraph, o_snap, d_snap, max_time_s: int, *, progress: bool = False,
                    chunk_size: int | None = None, desc: str = "origins", o: Points | None = None,
                    d: Points | None = None) -> np.ndarray:
    """int32[n_o, n_d] seconds on one street graph between snapped points (-1 unreachable); with the points
    ``o``/``d``, pairs at the same coordinates take 0 s."""
    from tqdm.auto import tqdm

    n_o, n_d = len(o_snap), len(d_snap)
    out = np.empty((n_o, n_d), np.int32)
    size = chunk_size or max(64, min(4096, n_o // 20 + 1))
    bar = tqdm(total=n_o, desc=f"{graph.mode} {desc}", unit="orig", disable=not progress)
    for a, b in _chunks(n_o, size):
        out[a:b] = dj.od_matrix(graph.first_out, graph.head, graph.travel_time_s,
                                o_snap.access_node[a:b], o_snap.access_cost_s[a:b],
                                d_snap.egress_node, d_snap.egress_cost_s, np.int32(max_time_s))
        bar.update(b - a)
    bar.close()
    return apply_point_pairs(out, point_pair_times(graph, o_snap, d_snap, max_time_s, o, d))


def snap_points(g: StreetGraph, o: Points, d: Points, max_snap_m: float):
    o_snap = g.snap(o.lon, o.lat, max_snap_m=max_snap_m, ids=o.ids, warn=False)
    d_snap = o_snap if d is o else g.snap(d.lon, d.lat, max_snap_m=max_snap_m, ids=d.ids, warn=False)
    for snap, pts in ((o_snap, o), (d_snap, d)) if d is not o else ((o_snap, o),):
        if not snap.snapped.any():
            if g.on_dropped_street(pts.lon, pts.lat, max_snap_m=max_snap_m).all():
                raise NetworkError(
                    f"all {len(pts)} {pts.name} are on streets dropped as disconnected from the rest of the {g.mode} "
                    "network (not in its largest strongly connected part); check the OSM extract's connectivity there")
            raise NetworkError(
                f"all {len(pts)} {pts.name} are farther than max_snap_m={max_snap_m:g} m from the {g.mode} network; "
                "check that they lie in the network's area and that their CRS is right")
        if not snap.snapped.all():
            warnings.warn(g.unsnapped_message(pts.lon, pts.lat, snap.snapped, max_snap_m=max_snap_m,
                                              ids=pts.ids.tolist(), what=pts.name), AccessWarning, stacklevel=4)
    return o_snap, d_snap
