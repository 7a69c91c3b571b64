"""Frozen, array-backed street graphs (one per mode), their construction from OSM ways, and snapping.

A :class:`StreetGraph` is a directed graph in CSR form: the edges leaving node ``u`` are
``first_out[u]:first_out[u+1]`` with heads ``head``, travel times ``travel_time_s`` (int32 seconds, at least 1),
lengths ``length_m`` and the OSM ``way_id`` each edge comes from. Graph nodes are OSM nodes where usable
ways meet or end (no node per vertex of a straight road); edge geometries keep the vertices in between,
so points snap onto the nearest point of the nearest edge. Nodes are numbered along a Hilbert curve so that
nearby nodes are near in memory (this makes searches cache-friendly), and only the largest strongly
connected component is kept: what it drops is counted in ``meta["disconnected"]`` (nodes, ways, edges, parts;
``access network build`` prints it per mode) and its vertices are kept in ``dropped_lonlat``, so that a point on a
dropped street is reported as such rather than as "farther than 500 m".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from .._errors import AccessWarning, NetworkError, ValidationError
from .._units import haversine_m
from ..core import dijkstra as dj
from . import profiles

DEFAULT_MAX_SNAP_M = 500.0
ARRAY_FIELDS = ("first_out", "head", "travel_time_s", "length_m", "way_id", "highway", "reverse_edge",
                "node_lon", "node_lat", "osm_node_id", "geom_offsets", "geom_lonlat")


def hilbert_order(lon: np.ndarray, lat: np.ndarray, bits: int = 16) -> np.ndarray:
    """Permutation sorting points along a Hilbert curve over their bounding box."""
    n = 1 << bits
    def q(a):
        lo, hi = float(np.min(a)), float(np.max(a))
        span = hi - lo if hi > lo else 1.0
        return np.minimum(((a - lo) / span * (n - 1)).astype(np.int64), n - 1)
    x, y = q(lon), q(lat)
    d = np.zeros(len(x), dtype=np.int64)
    s = n >> 1
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        # rotate
        flip = ry == 0
        swap_x = flip & (rx == 1)
        x = np.where(swap_x, n - 1 - x, x)
        y = np.where(swap_x, n - 1 - y, y)
        x2 = np.where(flip, y, x)
        y2 = np.where(flip, x, y)
        x, y = x2, y2
        s >>= 1
    return np.argsort(d, kind="stable")


@dataclass(frozen=True)
class Snap:
    """Points snapped onto a street graph (see docs/CONTRACTS.md).

    ``access_node/access_cost_s`` int32[k, 2]: nodes reachable from the point and the seconds to reach them;
    ``egress_node/egress_cost_s`` int32[k, 2]: nodes from which the point is reached and the seconds from them.
    Unsnapped points have -1 everywhere. ``edge`` is the edge the point lies on, ``fraction`` its position
    along it (0 at the tail), ``distance_m`` the straight distance from the point to the street.
    """

    access_node: np.ndarray
    access_cost_s: np.ndarray
    egress_node: np.ndarray
    egress_cost_s: np.ndarray
    snapped: np.ndarray
    distance_m: np.ndarray
    edge: np.ndarray
    fraction: np.ndarray

    def __len__(self) -> int:
        return int(self.snapped.shape[0])

    def subset(self, idx) -> Snap:
        return Snap(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


@dataclass(frozen=True, eq=False)
class StreetGraph:
    """A directed street graph for one mode, in CSR arrays (see the module docstring)."""

    mode: str
    first_out: np.ndarray
    head: np.ndarray
    travel_time_s: np.ndarray
    length_m: np.ndarray
    way_id: np.ndarray
    highway: np.ndarray
    reverse_edge: np.ndarray
    node_lon: np.ndarray
    node_lat: np.ndarray
    osm_node_id: np.ndarray
    geom_offsets: np.ndarray
    geom_lonlat: np.ndarray
    meta: dict = field(default_factory=dict)
    #: float64[k, 2] vertices of the streets dropped as disconnected (largest-SCC rule); empty when none
    dropped_lonlat: np.ndarray | None = None

    # ---------------------------------------------------------------- basics
    @property
    def n_nodes(self) -> int:
        return int(self.first_out.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        return int(self.head.shape[0])

    @property
    def speed_kmh(self) -> float | None:
        return self.meta.get("speed_kmh")

    @cached_property
    def tail(self) -> np.ndarray:
        """int32[m]: the node each edge leaves."""
        return np.repeat(np.arange(self.n_nodes, dtype=np.int32), np.diff(self.first_out)).astype(np.int32)

    def __repr__(self) -> str:
        return f"StreetGraph(mode={self.mode!r}, n_nodes={self.n_nodes:,}, n_edges={self.n_edges:,})"

    @cached_property
    def _reverse_csr(self):
        return dj.transpose_csr(self.first_out, self.head, self.travel_time_s)

    def csr(self, reverse: bool = False):
        """(first_out, head, travel_time_s) arrays, of the transposed graph when ``reverse``."""
        if reverse:
            f, h, w, _ = self._reverse_csr
            return f, h, w
        return self.first_out, self.head, self.travel_time_s

    # ---------------------------------------------------------------- searches
    def shortest_times(self, sources, *, max_time_s: int | None = None, reverse: bool = False) -> np.ndarray:
        """Travel seconds from each source node to every node (``reverse``: from every node to the source).

        Parameters
        ----------
        sources : array-like of int
            Internal node ids ``0..n_nodes-1``.
        max_time_s : int, optional
            Labels above this bound are not settled (reported unreachable).
        reverse : bool
            Search the transposed graph: times *to* each source.

        Returns
        -------
        ndarray of int32, shape (len(sources), n_nodes); ``-1`` (``access.core.dijkstra.UNREACHABLE``)
        where unreachable within ``max_time_s``.

        Examples
        --------
        >>> times = graph.shortest_times([0, 10], max_time_s=1800)  # doctest: +SKIP
        """
        src = np.asarray(sources, dtype=np.int64).reshape(-1)
        if src.size and (src.min() < 0 or src.max() >= self.n_nodes):
            raise ValidationError(f"`sources` must be node ids in 0..{self.n_nodes - 1}; got {src.min()}..{src.max()}")
        seeds = src.astype(np.int32).reshape(-1, 1)
        cost = np.zeros_like(seeds)
        bound = np.int32(dj.INF - 1 if max_time_s is None else int(max_time_s))
        f, h, w = self.csr(reverse)
        return dj.to_public(dj.sssp_many(f, h, w, seeds, cost, bound))

    # ---------------------------------------------------------------- conversions
    def to_scipy(self):
        """``scipy.sparse.csr_matrix`` of travel seconds (parallel edges reduced to their minimum, closed edges
        left out): the same graph the kernels search."""
        import scipy.sparse as sp

        open_ = (self.travel_time_s >= 0) & (self.travel_time_s != dj.INF)  # closed edges left out
        tail = np.where(open_, self.tail, -1).astype(np.int64)
        key = tail * self.n_nodes + self.head
        order = np.lexsort((self.travel_time_s, key))
        order = order[tail[order] >= 0]
        key_s = key[order]
        first = np.r_[True, key_s[1:] != key_s[:-1]]
        sel = order[first]
        return sp.csr_matrix(
            (self.travel_time_s[sel].astype(np.float64), (tail[sel], self.head[sel])),
            shape=(self.n_nodes, self.n_nodes),
        )

    def to_networkx(self):
        """``networkx.MultiDiGraph`` with node ``x``/``y`` (lon/lat) and edge ``travel_time`` (s), ``length``,
        ``osmid``."""
        import networkx as nx

        G = nx.MultiDiGraph(crs="EPSG:4326", mode=self.mode)
        for i in range(self.n_nodes):
            G.add_node(i, x=float(self.node_lon[i]), y=float(self.node_lat[i]), osmid=int(self.osm_node_id[i]))
        tail = self.tail
        for e in range(self.n_edges):
            G.add_edge(int(tail[e]), int(self.head[e]), travel_time=int(self.travel_time_s[e]),
                       length=float(self.length_m[e]), osmid=int(self.way_id[e]))
        return G

    @classmethod
    def from_osmnx(cls, G, *, mode: str = "car", speed_kmh: float | None = None) -> StreetGraph:
        """Build from a graph people already have (osmnx ``MultiDiGraph``; nodes with ``x``/``y`` in lon/lat).

        Edge times come from the ``travel_time`` attribute (seconds, rounded to int, at least 1) or from
        ``length`` at ``speed_kmh`` (default: the mode's default speed). All nodes are kept.
        """
        nodes = list(G.nodes)
        if not nodes:
            raise NetworkError("the osmnx graph has no nodes")
        idx = {n: i for i, n in enumerate(nodes)}
        lon = np.array([G.nodes[n]["x"] for n in nodes], dtype=np.float64)
        lat = np.array([G.nodes[n]["y"] for n in nodes], dtype=np.float64)
        speed = speed_kmh or profiles.DEFAULT_SPEED_KMH.get(mode, 30.0)
        tails, heads, tt, ln, ways, geoms = [], [], [], [], [], []
        for u, v, d in G.edges(data=True):
            length = float(d.get("length", haversine_m(lon[idx[u]], lat[idx[u]], lon[idx[v]], lat[idx[v]])))
            t = d.get("travel_time")
            t = length / (speed / 3.6) if t is None else float(t)
            osmid = d.get("osmid", -1)
            if isinstance(osmid, (list, tuple)):
                osmid = osmid[0]
            g = d.get("geometry")
            coords = np.asarray(g.coords) if g is not None else np.array([[lon[idx[u]], lat[idx[u]]],
                                                                          [lon[idx[v]], lat[idx[v]]]])
            tails.append(idx[u])
            heads.append(idx[v])
            tt.append(max(1, int(round(t))))
            ln.append(length)
            ways.append(int(osmid))
            geoms.append(coords)
        osm_ids = np.array([n if isinstance(n, (int, np.integer)) else -1 for n in nodes], dtype=np.int64)
        return _assemble(mode, np.array(tails), np.array(heads), np.array(tt), np.array(ln), np.array(ways),
                         np.full(len(tails), profiles.highway_code("other")), np.full(len(tails), -1),
                         lon, lat, osm_ids, geoms, {"mode": mode, "speed_kmh": speed, "source": "osmnx"},
                         reorder=False)

    def to_arrays(self) -> tuple[dict, dict]:
        arrays = {k: getattr(self, k) for k in ARRAY_FIELDS}
        if self.dropped_lonlat is not None and len(self.dropped_lonlat):
            arrays["dropped_lonlat"] = self.dropped_lonlat
        return arrays, dict(self.meta, mode=self.mode)

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> StreetGraph:
        missing = [k for k in ARRAY_FIELDS if k not in arrays]
        if missing:
            raise NetworkError(f"street graph bundle lacks arrays {missing}; rebuild the network")
        return cls(mode=meta["mode"], meta=dict(meta), dropped_lonlat=arrays.get("dropped_lonlat"),
                   **{k: arrays[k] for k in ARRAY_FIELDS})

    def with_travel_times(self, travel_time_s: np.ndarray, **meta) -> StreetGraph:
        """A copy with new edge travel times (same topology); used by scenarios."""
        tt = np.ascontiguousarray(travel_time_s, dtype=np.int32)
        if tt.shape != self.travel_time_s.shape:
            raise ValidationError(f"travel_time_s must have {self.n_edges} entries, got {tt.shape}")
        g = replace(self, travel_time_s=tt, meta=dict(self.meta, **meta))
        return g

    # ---------------------------------------------------------------- geometry / snapping
    @cached_property
    def _projection(self):
        from pyproj import Transformer

        lon0 = float(np.mean(self.node_lon))
        lat0 = float(np.mean(self.node_lat))
        crs = f"+proj=aeqd +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m +no_defs"
        return Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    def project(self, lon, lat):
        """Project lon/lat to the graph's local metric plane (azimuthal equidistant at its centre)."""
        return self._projection.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))

    @cached_property
    def _edge_index(self):
        """(canonical edge ids, their metric LineStrings, STRtree) — one entry per street segment."""
        import shapely

        m = self.n_edges
        e = np.arange(m)
        canon = e[(self.reverse_edge < 0) | (e < self.reverse_edge)]
        x, y = self.project(self.geom_lonlat[:, 0], self.geom_lonlat[:, 1])
        counts = np.diff(self.geom_offsets)[canon]
        starts = self.geom_offsets[:-1][canon]
        pos = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
        ids = np.repeat(np.arange(len(canon)), counts)
        lines = shapely.linestrings(np.column_stack([x[pos], y[pos]]), indices=ids)
        return canon, lines, shapely.STRtree(lines)

    @cached_property
    def _edge_lines_lonlat(self):
        """shapely LineStrings (lon/lat) of every edge (scenario polygon selections)."""
        import shapely

        counts = np.diff(self.geom_offsets)
        return shapely.linestrings(self.geom_lonlat, indices=np.repeat(np.arange(self.n_edges), counts))

    @cached_property
    def _edge_boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-edge (min lon, min lat) and (max lon, max lat) of the geometry (scenario polygon selections)."""
        off = self.geom_offsets[:-1]
        ll = self.geom_lonlat
        if not len(ll):
            return np.zeros((0, 2)), np.zeros((0, 2))
        return np.minimum.reduceat(ll, off, axis=0), np.maximum.reduceat(ll, off, axis=0)

    @cached_property
    def _node_kdtree(self):
        """KD-tree (scipy ``cKDTree``) on the projected nodes (scenario links snap to the nearest node)."""
        from scipy.spatial import cKDTree

        x, y = self.project(self.node_lon, self.node_lat)
        return cKDTree(np.column_stack([x, y]))

    def snap(self, lon, lat, *, max_snap_m: float = DEFAULT_MAX_SNAP_M, ids=None, warn: bool = True) -> Snap:
        """Snap points to the nearest point of the nearest usable edge.

        The time of the partial edge is counted, and the straight connector from the point to the street
        at the mode's speed (walking speed for cars). Points farther than ``max_snap_m`` stay unsnapped
        (all -1) and are reported in one warning naming their ids (``ids``) — no error, work goes on.
        """
        import shapely

        lon = np.asarray(lon, dtype=np.float64).reshape(-1)
        lat = np.asarray(lat, dtype=np.float64).reshape(-1)
        k = lon.shape[0]
        canon, lines, tree = self._edge_index
        px, py = self.project(lon, lat)
        pts = shapely.points(px, py)
        (qi, ti), dist = tree.query_nearest(pts, max_distance=max_snap_m, return_distance=True, all_matches=True)
        # deterministic tie-break: smallest edge id per point
        order = np.lexsort((canon[ti], qi))
        qi, ti, dist = qi[order], ti[order], dist[order]
        first = np.r_[True, qi[1:] != qi[:-1]] if len(qi) else np.zeros(0, bool)
        qi, ti, dist = qi[first], ti[first], dist[first]

        access_node = np.full((k, 2), -1, np.int32)
        access_cost = np.full((k, 2), -1, np.int32)
        egress_node = np.full((k, 2), -1, np.int32)
        egress_cost = np.full((k, 2), -1, np.int32)
        snapped = np.zeros(k, bool)
        distance = np.full(k, np.nan)
        edge = np.full(k, -1, np.int32)
        frac = np.full(k, np.nan)
        if len(qi):
            e = canon[ti]
            f = shapely.line_locate_point(lines[ti], pts[qi], normalized=True)
            f = np.where(np.isfinite(f), f, 0.0)
            conn_speed = float(self.meta.get("connector_speed_kmh") or self.meta.get("speed_kmh") or 3.6) / 3.6
            conn = np.rint(dist / conn_speed).astype(np.int64)
            u = self.tail[e]
            v = self.head[e]
            t = self.travel_time_s[e].astype(np.float64)
            er = self.reverse_edge[e]
            has_r = er >= 0
            tr = np.where(has_r, self.travel_time_s[np.maximum(er, 0)], 0).astype(np.float64)
            access_node[qi, 0] = v
            access_cost[qi, 0] = conn + np.rint((1 - f) * t)
            access_node[qi, 1] = np.where(has_r, u, -1)
            access_cost[qi, 1] = np.where(has_r, conn + np.rint(f * tr), -1)
            egress_node[qi, 0] = u
            egress_cost[qi, 0] = conn + np.rint(f * t)
            egress_node[qi, 1] = np.where(has_r, v, -1)
            egress_cost[qi, 1] = np.where(has_r, conn + np.rint((1 - f) * tr), -1)
            snapped[qi] = True
            distance[qi] = dist
            edge[qi] = e
            frac[qi] = f
        if warn and not snapped.all():
            warnings.warn(self.unsnapped_message(lon, lat, snapped, max_snap_m=max_snap_m, ids=ids), AccessWarning,
                          stacklevel=2)
        return Snap(access_node, access_cost, egress_node, egress_cost, snapped, distance, edge, frac)

    def unsnapped_message(self, lon, lat, snapped, *, max_snap_m: float, ids=None, what: str = "points") -> str:
        """Why the points not ``snapped`` are unreachable: on a street dropped as disconnected, or too far."""
        lon = np.asarray(lon, dtype=np.float64).reshape(-1)
        lat = np.asarray(lat, dtype=np.float64).reshape(-1)
        k = len(lon)
        bad = np.flatnonzero(~np.asarray(snapped, bool))
        on_dropped = self.on_dropped_street(lon[bad], lat[bad], max_snap_m=max_snap_m)
        msgs = []
        for sel, why, fix in (
                (bad[on_dropped], f"are on a street dropped as disconnected from the rest of the {self.mode} network "
                                  "(not in its largest strongly connected part)",
                 "check the OSM extract's connectivity there (oneways, access tags, a clipped boundary)"),
                (bad[~on_dropped], f"are farther than max_snap_m={max_snap_m:g} m from the {self.mode} network",
                 "raise max_snap_m or check their coordinates/CRS")):
            if len(sel):
                names = [ids[i] for i in sel[:10]] if ids is not None else sel[:10].tolist()
                msgs.append(f"{len(sel)} of {k} {what} {why} and are unreachable, e.g. ids {names}; {fix}")
        return "; ".join(msgs)

    def on_dropped_street(self, lon, lat, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> np.ndarray:
        """bool[k]: the points within ``max_snap_m`` of a street dropped as disconnected (but not snapped here)."""
        lon = np.asarray(lon, dtype=np.float64).reshape(-1)
        lat = np.asarray(lat, dtype=np.float64).reshape(-1)
        dl = self.dropped_lonlat
        if dl is None or not len(dl) or not len(lon):
            return np.zeros(len(lon), bool)
        from scipy.spatial import cKDTree

        x, y = self.project(dl[:, 0], dl[:, 1])
        px, py = self.project(lon, lat)
        d, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([px, py]), distance_upper_bound=max_snap_m)
        return np.isfinite(d)

    def nearest_nodes(self, lon, lat) -> np.ndarray:
        """Nearest graph node of each point (int32)."""
        from scipy.spatial import cKDTree

        x, y = self.project(self.node_lon, self.node_lat)
        px, py = self.project(lon, lat)
        return cKDTree(np.column_stack([x, y])).query(np.column_stack([px, py]))[1].astype(np.int32)


# --------------------------------------------------------------------------------------------- building
def _assemble(mode, tail, head, tt, length, way, hwy, seg, lon, lat, osm_ids, geoms, meta, *, reorder=True,
              geom_index=None):
    """Turn edge lists into a CSR StreetGraph (optionally Hilbert-reordered nodes).

    ``geoms``: list of coordinate arrays per edge, or None with ``geom_index=(offsets, lonlat)`` already built.
    ``seg``: segment id per edge (twin edges of a two-way segment share it; -1 none).
    """
    n = len(lon)
    if reorder and n:
        perm = hilbert_order(lon, lat)  # new -> old
        inv = np.empty(n, np.int64)
        inv[perm] = np.arange(n)
        lon, lat, osm_ids = lon[perm], lat[perm], osm_ids[perm]
        tail, head = inv[tail], inv[head]
    order = np.lexsort((head, tail))
    tail, head, tt, length, way, hwy, seg = (a[order] for a in (tail, head, tt, length, way, hwy, seg))
    if geom_index is None:
        geoms = [geoms[i] for i in order]
        counts = np.array([len(g) for g in geoms], dtype=np.int64)
        geom_offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        geom_lonlat = np.concatenate(geoms).astype(np.float64) if geoms else np.zeros((0, 2))
    else:
        offs, coords = geom_index
        counts = np.diff(offs)[order]
        starts = offs[:-1][order]
        pos = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
        geom_lonlat = coords[pos]
        geom_offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    first_out = np.zeros(n + 1, np.int64)
    np.add.at(first_out, tail + 1, 1)
    first_out = np.cumsum(first_out)
    m = len(head)
    rev = np.full(m, -1, np.int32)
    has = seg >= 0
    if has.any():
        idx = np.flatnonzero(has)
        o = idx[np.argsort(seg[idx], kind="stable")]
        s = seg[o]
        pair = np.flatnonzero(s[1:] == s[:-1])
        rev[o[pair]] = o[pair + 1]
        rev[o[pair + 1]] = o[pair]
    return StreetGraph(
        mode=mode,
        first_out=first_out.astype(np.int32),
        head=np.ascontiguousarray(head, np.int32),
        travel_time_s=np.ascontiguousarray(tt, np.int32),
        length_m=np.ascontiguousarray(length, np.float32),
        way_id=np.ascontiguousarray(way, np.int64),
        highway=np.ascontiguousarray(hwy, np.int8),
        reverse_edge=rev,
        node_lon=np.ascontiguousarray(lon, np.float64),
        node_lat=np.ascontiguousarray(lat, np.float64),
        osm_node_id=np.ascontiguousarray(osm_ids, np.int64),
        geom_offsets=geom_offsets,
        geom_lonlat=np.ascontiguousarray(geom_lonlat, np.float64),
        meta=meta,
    )


def build_street_graph(ways, mode: str, *, speed_kmh: float | None = None,
                       connector_speed_kmh: float | None = None, largest_component: bool = True) -> StreetGraph:
    """Build the street graph of ``mode`` from decoded OSM ways (:func:`access.io.osm.read_highways`).

    Raises :class:`~access._errors.NetworkError` when the extract has no usable way for the mode.
    """
    if mode not in profiles.MODES:
        raise ValidationError(f"unknown mode {mode!r}; use one of {profiles.MODES}")
    from .._validate import check_number

    if speed_kmh is not None:  # 0 is an error, not "the default"
        speed_kmh = check_number(f"{mode}_speed_kmh", speed_kmh, gt=0, le=200)
    if connector_speed_kmh is not None:
        connector_speed_kmh = check_number("connector_speed_kmh", connector_speed_kmh, gt=0, le=200)
    fw, bw, speed = profiles.evaluate_ways(ways.tags, mode)
    usable = fw | bw
    if not usable.any():
        raise NetworkError(
            f"{ways.source!r} has no way usable by mode {mode!r} ({ways.n_ways} highway ways read); "
            "is the extract the right area, or should this mode be left out?"
        )
    if mode in profiles.DEFAULT_SPEED_KMH:
        speed = np.full(len(speed), float(speed_kmh or profiles.DEFAULT_SPEED_KMH[mode]))
    off = ways.node_offsets
    wsel = np.flatnonzero(usable)
    counts = off[wsel + 1] - off[wsel]
    pos = np.repeat(off[wsel] - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    way_of = np.repeat(np.arange(len(wsel)), counts)  # local way index per position
    refs = ways.node_id[pos]
    lon = ways.lon[pos]
    lat = ways.lat[pos]
    # graph nodes: refs used more than once (intersections) and way ends
    uniq, inv, cnt = np.unique(refs, return_inverse=True, return_counts=True)
    local_start = np.r_[0, np.cumsum(counts)[:-1]]
    is_end = np.zeros(len(refs), bool)
    is_end[local_start] = True
    is_end[local_start + counts - 1] = True
    is_node = is_end | (cnt[inv] >= 2)
    # cumulative length along each way
    seg_len = np.zeros(len(refs))
    seg_len[1:] = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    seg_len[local_start] = 0.0
    cum = np.cumsum(seg_len)
    P = np.flatnonzero(is_node)
    same = way_of[P[1:]] == way_of[P[:-1]]
    p0, p1 = P[:-1][same], P[1:][same]
    u_ref, v_ref = refs[p0], refs[p1]
    keep = u_ref != v_ref  # drop self-loops
    p0, p1 = p0[keep], p1[keep]
    wl = way_of[p0]
    length = cum[p1] - cum[p0]
    w_global = wsel[wl]
    spd = speed[w_global] / 3.6
    tt = np.maximum(1, np.rint(length / spd)).astype(np.int64)
    hw = np.array([profiles.highway_code(h) for h in ways.tags["highway"].to_numpy()], np.int8)[w_global]
    fwd = fw[w_global]
    bwd = bw[w_global]
    nseg = len(p0)
    segid = np.arange(nseg)
    # directed edges: forward copies then backward copies
    e_seg = np.r_[segid[fwd], segid[bwd]]
    e_dir_fwd = np.r_[np.ones(fwd.sum(), bool), np.zeros(bwd.sum(), bool)]
    node_refs, node_inv = np.unique(np.r_[u_ref[keep], v_ref[keep]], return_inverse=True)
    u_node = node_inv[:nseg]
    v_node = node_inv[nseg:]
    tail = np.where(e_dir_fwd, u_node[e_seg], v_node[e_seg])
    head = np.where(e_dir_fwd, v_node[e_seg], u_node[e_seg])
    # node coordinates
    first_pos = np.empty(len(node_refs), np.int64)
    first_pos[u_node] = p0
    first_pos[v_node] = p1
    nlon, nlat = lon[first_pos], lat[first_pos]
    # geometry index: positions p0..p1 (reversed for backward edges)
    gcount = (p1 - p0 + 1)[e_seg]
    gstart = p0[e_seg]
    k = np.arange(gcount.sum()) - np.repeat(np.r_[0, np.cumsum(gcount)[:-1]], gcount)
    gpos = np.where(np.repeat(e_dir_fwd, gcount), np.repeat(gstart, gcount) + k,
                    np.repeat(gstart + gcount - 1, gcount) - k)
    geom_offsets = np.r_[0, np.cumsum(gcount)].astype(np.int64)
    coords = np.column_stack([lon[gpos], lat[gpos]])
    seg_for_rev = np.where(fwd[e_seg] & bwd[e_seg], e_seg, -1)
    # largest strongly connected component
    n = len(node_refs)
    dropped_lonlat = np.zeros((0, 2))
    disconnected = {"nodes": 0, "ways": 0, "edges": 0, "parts": 0}
    if largest_component and n:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        A = sp.csr_matrix((np.ones(len(tail)), (tail, head)), shape=(n, n))
        ncomp, lab = connected_components(A, directed=True, connection="strong")
        if ncomp > 1:
            big = np.argmax(np.bincount(lab))
            keep_node = lab == big
            ke = keep_node[tail] & keep_node[head]
            way_all = ways.way_id[w_global][e_seg]
            kept_ways = np.unique(way_all[ke])
            gone = np.flatnonzero(~ke)
            gcg = np.diff(geom_offsets)[gone]
            ggs = geom_offsets[:-1][gone]
            gpp = np.repeat(ggs - np.r_[0, np.cumsum(gcg)[:-1]], gcg) + np.arange(gcg.sum())
            dropped_lonlat = np.unique(np.round(coords[gpp], 7), axis=0) if len(gpp) else dropped_lonlat
            disconnected = {"nodes": int((~keep_node).sum()),
                            "ways": int(len(np.setdiff1d(np.unique(way_all), kept_ways))),
                            "edges": int((~ke).sum()), "parts": int(ncomp - 1)}
            new_id = np.cumsum(keep_node) - 1
            # keep edges and their geometry
            sel = np.flatnonzero(ke)
            gc = np.diff(geom_offsets)[sel]
            gs = geom_offsets[:-1][sel]
            gp = np.repeat(gs - np.r_[0, np.cumsum(gc)[:-1]], gc) + np.arange(gc.sum())
            coords = coords[gp]
            geom_offsets = np.r_[0, np.cumsum(gc)].astype(np.int64)
            tail, head = new_id[tail[sel]], new_id[head[sel]]
            e_seg, seg_for_rev = e_seg[sel], seg_for_rev[sel]
            nlon, nlat, node_refs = nlon[keep_node], nlat[keep_node], node_refs[keep_node]
            tt_e, len_e, way_e, hw_e = tt[e_seg], length[e_seg], ways.way_id[w_global][e_seg], hw[e_seg]
        else:
            tt_e, len_e, way_e, hw_e = tt[e_seg], length[e_seg], ways.way_id[w_global][e_seg], hw[e_seg]
    else:
        tt_e, len_e, way_e, hw_e = tt[e_seg], length[e_seg], ways.way_id[w_global][e_seg], hw[e_seg]
    meta = {
        "mode": mode,
        "speed_kmh": float(speed_kmh or profiles.DEFAULT_SPEED_KMH[mode]) if mode != "car" else None,
        "connector_speed_kmh": float(connector_speed_kmh or (profiles.DEFAULT_SPEED_KMH["bike"] if mode == "bike"
                                                             else profiles.DEFAULT_SPEED_KMH["walk"])),
        "source": ways.source,
        "disconnected": disconnected,
    }
    g = _assemble(mode, tail, head, tt_e, len_e, way_e, hw_e, seg_for_rev, nlon, nlat, node_refs, None, meta,
                  geom_index=(geom_offsets, coords))
    return replace(g, dropped_lonlat=np.ascontiguousarray(dropped_lonlat, np.float64))
