"""Street edits on a :class:`~access.network.street.StreetGraph`, without rebuilding it from the ``.pbf``.

* **close**: the selected edges are removed from the CSR arrays (an O(m) filter that keeps the edge order, the
  twin pairs ``reverse_edge`` and the geometries), so every kernel sees them as absent. Closing both directions of
  a two-way street is what a selection by way id, highway class or polygon does.
* **speed**: the selected edges are re-timed in place of a copy of ``travel_time_s`` (absolute ``speed_kmh``:
  ``length_m / speed``; ``factor``: the speed is multiplied, so the time is divided), at least 1 s as when built.
* **link**: a new street between two points. Each end is connected to the **nearest graph node** (within
  ``max_snap_m``, default 100 m) rather than splitting the edge under the point: no node is added, no existing edge
  changes, and the link's length is the straight distance between those two nodes (or ``length_m``). Its edges get
  the way id ``-1 - k`` (k = 0, 1, ... in the order links are added) and the highway class ``"other"``.

Selections: ``way_ids`` (OSM way ids), ``highway`` (class names of :data:`access.network.profiles.HIGHWAY_CLASSES`)
and ``polygon`` (edges whose geometry intersects it) are combined with AND.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..network import profiles
from ..network.street import StreetGraph, haversine_m

# cached properties of StreetGraph whose values stay valid while the node set is the same, or the topology
_CARRY = ("_projection", "_node_kdtree")
_CARRY_SAME_TOPOLOGY = _CARRY + ("_edge_index", "tail", "_edge_boxes")


@dataclass(frozen=True)
class StreetEdits:
    """What street edits did to one mode's graph: the edited graph and the nodes the edits touched.

    ``changed_nodes`` (sorted int32) holds the nodes at either end of every edge the edits removed, re-timed or
    added; :class:`~access.scenarios.AccessibilityState` recomputes only the venue columns a change can reach
    from them. ``graph is`` the input graph (and ``changed_nodes`` is empty) when no edit matched.
    """

    graph: StreetGraph
    changed_nodes: np.ndarray

    @property
    def changed(self) -> bool:
        return len(self.changed_nodes) > 0


def _seed_cache(new: StreetGraph, name: str, value: object) -> None:
    """Give ``new`` the value of one of its cached properties, known equal to what it would compute."""
    if not isinstance(getattr(StreetGraph, name, None), cached_property):  # pragma: no cover - internal misuse
        raise AttributeError(f"StreetGraph has no cached property {name!r}")
    new.__dict__[name] = value


def _carry(old: StreetGraph, new: StreetGraph, names: Iterable[str]) -> StreetGraph:
    for n in names:
        if n in old.__dict__:  # computed on the old graph: reuse it rather than recompute
            _seed_cache(new, n, old.__dict__[n])
    return new


def edge_lines(g: StreetGraph) -> Any:
    """shapely LineStrings (lon/lat) of every edge (a cached property of the graph)."""
    return g._edge_lines_lonlat


def _lines_of(g: StreetGraph, edges: np.ndarray):
    """shapely LineStrings (lon/lat) of some edges."""
    import shapely

    counts = np.diff(g.geom_offsets)[edges]
    starts = g.geom_offsets[:-1][edges]
    pos = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    return shapely.linestrings(g.geom_lonlat[pos], indices=np.repeat(np.arange(len(edges)), counts))


def select_edges(g: StreetGraph, params: dict) -> tuple[np.ndarray, set]:
    """Boolean mask of the edges an edit selects, and the requested way ids absent from this graph."""
    import shapely

    mask = np.ones(g.n_edges, dtype=bool)
    missing: set = set()
    if "way_ids" in params:
        ids = np.asarray(params["way_ids"], dtype=np.int64)
        mask &= np.isin(g.way_id, ids)
        missing = set(ids[~np.isin(ids, g.way_id)].tolist())
    if "highway" in params:
        codes = [profiles.highway_code(h) for h in params["highway"]]
        mask &= np.isin(g.highway, np.asarray(codes, dtype=g.highway.dtype))
    if "polygon" in params:
        poly = params["polygon"]
        cand = np.flatnonzero(mask)
        sel = np.zeros(g.n_edges, dtype=bool)
        if len(cand):
            # per-edge bounding boxes (numpy over the vertices), then exact intersection on the few that overlap
            minx, miny, maxx, maxy = poly.bounds
            emin, emax = g._edge_boxes
            over = ~((emax[cand, 0] < minx) | (emin[cand, 0] > maxx) | (emax[cand, 1] < miny) | (emin[cand, 1] > maxy))
            c2 = cand[over]
            if len(c2):
                shapely.prepare(poly)
                sel[c2[shapely.intersects(_lines_of(g, c2), poly)]] = True
        mask &= sel
    return mask, missing


def _derive_edge_index(old: StreetGraph, new: StreetGraph, old_of_new: np.ndarray) -> StreetGraph:
    """Give ``new`` the snapping index of ``old`` (projected lines, STRtree) for the edges they share.

    ``old_of_new[e]``: the old id of new edge ``e`` (-1 for an added edge). Lines are reused for edges that were
    canonical in ``old`` and built for the others, so snapping on ``new`` equals snapping on a freshly indexed
    graph (same lines, same tie-break by edge id) without re-projecting every vertex.
    """
    import shapely

    if "_edge_index" not in old.__dict__:  # never computed on the old graph: leave it lazy on the new one
        return new
    canon_old, lines_old, _ = old.__dict__["_edge_index"]
    e = np.arange(new.n_edges)
    canon = e[(new.reverse_edge < 0) | (e < new.reverse_edge)]
    pos_old = np.full(old.n_edges, -1, np.int64)
    pos_old[canon_old] = np.arange(len(canon_old))
    src = old_of_new[canon]
    reuse = np.where(src >= 0, pos_old[np.maximum(src, 0)], -1)
    lines = np.empty(len(canon), dtype=object)
    ok = reuse >= 0
    lines[ok] = lines_old[reuse[ok]]
    build = canon[~ok]
    if len(build):
        counts = np.diff(new.geom_offsets)[build]
        starts = new.geom_offsets[:-1][build]
        pos = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
        x, y = new.project(new.geom_lonlat[pos, 0], new.geom_lonlat[pos, 1])
        lines[~ok] = shapely.linestrings(np.column_stack([x, y]), indices=np.repeat(np.arange(len(build)), counts))
    _seed_cache(new, "_edge_index", (canon, lines, shapely.STRtree(lines)))
    return new


def drop_edges(g: StreetGraph, drop: np.ndarray) -> StreetGraph:
    """A copy of ``g`` without the edges where ``drop`` is True (node ids unchanged)."""
    keep = ~drop
    m_new = int(keep.sum())
    new_id = np.cumsum(keep) - 1
    tail = g.tail[keep]
    first_out = np.zeros(g.n_nodes + 1, np.int64)
    np.add.at(first_out, tail.astype(np.int64) + 1, 1)
    first_out = np.cumsum(first_out).astype(np.int32)
    rev_old = g.reverse_edge[keep]
    ok = rev_old >= 0
    ok[ok] = keep[rev_old[ok]]
    rev = np.where(ok, new_id[np.maximum(rev_old, 0)], -1).astype(np.int32)
    counts = np.diff(g.geom_offsets)[keep]
    starts = g.geom_offsets[:-1][keep]
    pos = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    new = StreetGraph(
        mode=g.mode, first_out=first_out, head=np.ascontiguousarray(g.head[keep]),
        travel_time_s=np.ascontiguousarray(g.travel_time_s[keep]), length_m=np.ascontiguousarray(g.length_m[keep]),
        way_id=np.ascontiguousarray(g.way_id[keep]), highway=np.ascontiguousarray(g.highway[keep]),
        reverse_edge=rev, node_lon=g.node_lon, node_lat=g.node_lat, osm_node_id=g.osm_node_id,
        geom_offsets=np.r_[0, np.cumsum(counts)].astype(np.int64),
        geom_lonlat=np.ascontiguousarray(g.geom_lonlat[pos]), meta=dict(g.meta))
    if new.n_edges != m_new:  # pragma: no cover - internal consistency
        raise RuntimeError("edge filter lost edges")
    _derive_edge_index(g, new, np.flatnonzero(keep))
    return _carry(g, new, _CARRY)


def add_edges(g: StreetGraph, tail, head, tt, length_m, way_id, highway, geoms, twin_pairs=()) -> StreetGraph:
    """A copy of ``g`` with new edges (existing nodes only); ``twin_pairs`` index pairs of the new edges."""
    tail = np.asarray(tail, np.int64)
    k = len(tail)
    m = g.n_edges
    all_tail = np.r_[g.tail.astype(np.int64), tail]
    order = np.argsort(all_tail, kind="stable")           # new position -> old (combined) id
    inv = np.empty(m + k, np.int64)
    inv[order] = np.arange(m + k)
    rev_all = np.r_[g.reverse_edge.astype(np.int64), np.full(k, -1, np.int64)]
    for a, b in twin_pairs:
        rev_all[m + a], rev_all[m + b] = m + b, m + a
    rev = np.where(rev_all >= 0, inv[np.maximum(rev_all, 0)], -1)[order].astype(np.int32)
    first_out = np.zeros(g.n_nodes + 1, np.int64)
    np.add.at(first_out, all_tail + 1, 1)
    cat = lambda a, b, dt: np.ascontiguousarray(np.r_[a, np.asarray(b, dtype=dt)][order].astype(dt))  # noqa: E731
    old_counts = np.diff(g.geom_offsets)
    new_counts = np.array([len(x) for x in geoms], np.int64)
    counts = np.r_[old_counts, new_counts]
    coords = np.concatenate([g.geom_lonlat, *[np.asarray(x, np.float64).reshape(-1, 2) for x in geoms]])
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    c_o, s_o = counts[order], starts[order]
    pos = np.repeat(s_o - np.r_[0, np.cumsum(c_o)[:-1]], c_o) + np.arange(c_o.sum())
    new = StreetGraph(
        mode=g.mode, first_out=np.cumsum(first_out).astype(np.int32),
        head=cat(g.head, head, np.int32), travel_time_s=cat(g.travel_time_s, tt, np.int32),
        length_m=cat(g.length_m, length_m, np.float32), way_id=cat(g.way_id, way_id, np.int64),
        highway=cat(g.highway, highway, np.int8), reverse_edge=rev, node_lon=g.node_lon, node_lat=g.node_lat,
        osm_node_id=g.osm_node_id, geom_offsets=np.r_[0, np.cumsum(c_o)].astype(np.int64),
        geom_lonlat=np.ascontiguousarray(coords[pos]), meta=dict(g.meta))
    _carry(g, new, _CARRY)
    _derive_edge_index(g, new, np.where(order < m, order, -1))
    return new


def retime(g: StreetGraph, mask: np.ndarray, *, speed_kmh: float | None = None, factor: float | None = None):
    """A copy of ``g`` whose selected edges are re-timed (same topology, cached geometry index kept)."""
    tt = g.travel_time_s.copy()
    if speed_kmh is not None:
        new = np.rint(g.length_m[mask].astype(np.float64) / (speed_kmh / 3.6))
    else:
        new = np.rint(g.travel_time_s[mask].astype(np.float64) / factor)
    tt[mask] = np.maximum(1, np.minimum(new, 2**30)).astype(np.int32)
    out = g.with_travel_times(tt)
    return _carry(g, out, _CARRY_SAME_TOPOLOGY)


def nearest_nodes(g: StreetGraph, lon, lat) -> np.ndarray:
    """Nearest graph node of each point (a KD-tree on the projected nodes, cached on the graph)."""
    tree = g._node_kdtree
    px, py = g.project(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    return tree.query(np.column_stack([px, py]))[1].astype(np.int32)


def _link_ends(g: StreetGraph, e) -> tuple[int, int, float, float]:
    p = e.params
    lon = np.array([p["from"][0], p["to"][0]])
    lat = np.array([p["from"][1], p["to"][1]])
    nodes = nearest_nodes(g, lon, lat)
    d = haversine_m(lon, lat, g.node_lon[nodes], g.node_lat[nodes])
    for which, dist, pt in (("from", d[0], p["from"]), ("to", d[1], p["to"])):
        if dist > p["max_snap_m"]:
            raise e.error(f"point `{which}` = {list(pt)} is off the {g.mode} network: its nearest node is "
                          f"{dist:.0f} m away (max_snap_m = {p['max_snap_m']:g}); move the point or raise max_snap_m")
    return int(nodes[0]), int(nodes[1]), float(d[0]), float(d[1])


def apply_street_edits(g: StreetGraph, edits: Sequence[Any], *, report: dict | None = None,
                       link_counter: list[int] | None = None) -> StreetEdits:
    """Apply street edits (in order) to one mode's graph; ``report[edit.name]`` collects (edges, missing ids).

    Returns the edited graph with the nodes at either end of every edge the edits removed, re-timed or added
    (:class:`StreetEdits`).
    """
    counter = link_counter if link_counter is not None else [0]
    touched: list[np.ndarray] = []
    g_in = g
    for e in edits:
        p = e.params
        if e.kind in ("close", "speed"):
            mask, missing = select_edges(g, p)
            if report is not None:
                report.setdefault(e.name, []).append((g.mode, int(mask.sum()), missing))
            if not mask.any():
                continue
            touched += [g.tail[mask], g.head[mask]]
            g = drop_edges(g, mask) if e.kind == "close" else retime(g, mask, speed_kmh=p.get("speed_kmh"),
                                                                      factor=p.get("factor"))
        else:
            u, v, _, _ = _link_ends(g, e)
            if u == v:
                raise e.error(f"both ends of the link snap to the same {g.mode} node {u}; the points are too close "
                              "together (or max_snap_m too large)")
            speed = p.get("speed_kmh") or g.speed_kmh
            if not speed:
                raise e.error(f"give `speed_kmh` for a link on the {g.mode} network (no default speed)")
            length = p.get("length_m") or float(haversine_m(g.node_lon[u], g.node_lat[u], g.node_lon[v], g.node_lat[v]))
            t = max(1, int(round(length / (speed / 3.6))))
            wid = -1 - counter[0]
            counter[0] += 1
            pu = [g.node_lon[u], g.node_lat[u]]
            pv = [g.node_lon[v], g.node_lat[v]]
            hw = profiles.highway_code("other")
            if p["oneway"]:
                g = add_edges(g, [u], [v], [t], [length], [wid], [hw], [[pu, pv]])
            else:
                g = add_edges(g, [u, v], [v, u], [t, t], [length, length], [wid, wid], [hw, hw],
                              [[pu, pv], [pv, pu]], twin_pairs=[(0, 1)])
            touched.append(np.array([u, v], np.int32))
            if report is not None:
                report.setdefault(e.name, []).append((g.mode, 2 - int(p["oneway"]), set()))
    if g is g_in:  # nothing matched in this graph: it is returned as is
        return StreetEdits(g, np.zeros(0, np.int32))
    return StreetEdits(g, np.unique(np.concatenate(touched)).astype(np.int32) if touched else np.zeros(0, np.int32))


def check_report(edits, report: dict, modes_present) -> None:
    """Raise for a close/speed edit that matched nothing, or named way ids that no edited graph holds."""
    for e in edits:
        rows = report.get(e.name, [])
        if e.kind == "link" and rows:
            continue
        if not rows:
            raise e.error(f"none of its modes {list(e.params['modes'])} is in this network (it has "
                          f"{list(modes_present)})")
        missing = set.intersection(*[r[2] for r in rows]) if rows else set()
        if missing:
            ex = sorted(missing)[:5]
            raise e.error(f"way id(s) {ex} are not in the {'/'.join(r[0] for r in rows)} street graph(s); check the "
                          "OSM way ids (ways not usable by these modes are not in their graphs)")
        if sum(r[1] for r in rows) == 0:
            raise e.error(f"its selection matches no street of the {'/'.join(r[0] for r in rows)} graph(s)")
