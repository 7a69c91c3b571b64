"""Building blocks shared by the synthetic generators (:mod:`access.synth.demo`, :mod:`access.synth.region`).

Everything is laid out in metres in EPSG:3035 (the CRS of INSEE's population grid) and converted to lon/lat only
when written. Nothing here draws a random number without the generator it is given, so that a seed fixes every
output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the metric CRS the generators work in (INSEE's grid CRS)
METRIC_CRS = "EPSG:3035"


_TRANSFORMERS: dict = {}


def _transformer(src: str, dst: str):
    from pyproj import Transformer

    key = (src, dst)
    if key not in _TRANSFORMERS:
        _TRANSFORMERS[key] = Transformer.from_crs(src, dst, always_xy=True)
    return _TRANSFORMERS[key]


def to_lonlat(x, y) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:3035 metres -> (lon, lat) degrees, vectorised."""
    lon, lat = _transformer(METRIC_CRS, "EPSG:4326").transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def to_metric(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) degrees -> EPSG:3035 metres, vectorised."""
    x, y = _transformer("EPSG:4326", METRIC_CRS).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


# ------------------------------------------------------------------------------------------------------- OSM
class OsmBuilder:
    """Collects nodes (EPSG:3035 metres) and ways (node refs + a tag set), then writes an OSM ``.pbf``.

    Node ids are ``1..n_nodes`` in creation order and way ids ``1..n_ways``; the file holds all nodes (sorted by id)
    before all ways, as readers that keep node locations expect. Tag sets are deduplicated, so ways cost a small
    int64 array each.
    """

    def __init__(self) -> None:
        self._xs: list[np.ndarray] = []
        self._ys: list[np.ndarray] = []
        self.n_nodes = 0
        self._node_tags: dict[int, dict] = {}
        self._refs: list[np.ndarray] = []
        self._way_tagset: list[int] = []
        self._tagsets: list[dict] = []
        self._tagset_index: dict[tuple, int] = {}

    # nodes
    def add_nodes(self, x, y) -> np.ndarray:
        """Add nodes at metric coordinates; return their ids (int64, consecutive)."""
        x = np.ascontiguousarray(x, dtype=np.float64).ravel()
        y = np.ascontiguousarray(y, dtype=np.float64).ravel()
        ids = np.arange(self.n_nodes + 1, self.n_nodes + 1 + x.shape[0], dtype=np.int64)
        if x.shape[0]:
            self._xs.append(x.copy())
            self._ys.append(y.copy())
            self.n_nodes += x.shape[0]
        return ids

    def tag_node(self, node_id: int, tags: dict) -> None:
        self._node_tags.setdefault(int(node_id), {}).update(tags)

    def node_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """All node coordinates so far (index ``id - 1``)."""
        if len(self._xs) > 1:
            self._xs = [np.concatenate(self._xs)]
            self._ys = [np.concatenate(self._ys)]
        if not self._xs:
            return np.zeros(0), np.zeros(0)
        return self._xs[0], self._ys[0]

    # ways
    def _tagset(self, tags: dict) -> int:
        key = tuple(sorted(tags.items()))
        i = self._tagset_index.get(key)
        if i is None:
            i = len(self._tagsets)
            self._tagsets.append(dict(key))
            self._tagset_index[key] = i
        return i

    def add_way(self, refs, tags: dict) -> None:
        """Add one way (at least 2 node refs; shorter ones are ignored)."""
        refs = np.asarray(refs, dtype=np.int64)
        if refs.shape[0] < 2:
            return
        self._refs.append(refs)
        self._way_tagset.append(self._tagset(tags))

    def add_polyline(self, refs, tags: dict, *, max_nodes: int = 40) -> None:
        """Add a long polyline as several ways of at most ``max_nodes`` nodes sharing their end nodes."""
        refs = np.asarray(refs, dtype=np.int64)
        step = max(1, max_nodes - 1)
        for s in range(0, max(1, refs.shape[0] - 1), step):
            self.add_way(refs[s:s + step + 1], tags)

    @property
    def n_ways(self) -> int:
        return len(self._refs)

    def tag_counts(self, key: str = "highway") -> dict[str, int]:
        """Number of ways per value of ``key`` (ways without it are left out)."""
        counts = np.bincount(np.asarray(self._way_tagset, dtype=np.int64), minlength=len(self._tagsets))
        out: dict[str, int] = {}
        for ts, c in zip(self._tagsets, counts):
            v = ts.get(key)
            if v is not None and c:
                out[v] = out.get(v, 0) + int(c)
        return dict(sorted(out.items()))

    def write(self, path) -> None:
        """Write the ``.pbf`` (nodes first, then ways), atomically."""
        import osmium
        from osmium.osm.mutable import Node, Way

        from .._io_util import atomic_path

        x, y = self.node_xy()
        lon, lat = to_lonlat(x, y)
        lon = np.round(lon, 7).tolist()
        lat = np.round(lat, 7).tolist()
        empty: dict = {}
        node_tags = self._node_tags
        with atomic_path(path, suffix=".osm.pbf") as tmp:
            w = osmium.SimpleWriter(str(tmp), overwrite=True)
            try:
                for i in range(self.n_nodes):
                    nid = i + 1
                    w.add_node(Node(id=nid, location=(lon[i], lat[i]), tags=node_tags.get(nid, empty),
                                    version=1))
                tagsets = self._tagsets
                for j, (refs, ts) in enumerate(zip(self._refs, self._way_tagset)):
                    w.add_way(Way(id=j + 1, nodes=refs.tolist(), tags=tagsets[ts], version=1))
            finally:
                w.close()


# ---------------------------------------------------------------------------------------------------- towns
@dataclass
class Town:
    """A settlement laid out as a street grid (metric coordinates)."""

    name: str
    code: str  # commune code (5 characters)
    pop: float
    cx: float
    cy: float
    radius_m: float
    spacing_m: float
    node_id: np.ndarray  # int64 ids of the grid's nodes
    node_x: np.ndarray
    node_y: np.ndarray
    axis_h: np.ndarray  # node ids along the main east-west-ish axis, in order
    axis_v: np.ndarray  # node ids along the main north-south-ish axis, in order
    center_id: int
    grid: np.ndarray | None = field(repr=False, default=None)  # id grid (0 = absent)
    extra: dict = field(default_factory=dict)

    def node_toward(self, x: float, y: float) -> tuple[int, float, float]:
        """The grid node furthest in the direction of point (x, y): where a road to it leaves the town."""
        dx, dy = x - self.cx, y - self.cy
        n = np.hypot(dx, dy) or 1.0
        proj = (self.node_x - self.cx) * dx / n + (self.node_y - self.cy) * dy / n
        # among the nodes furthest along, prefer the one closest to the line towards the target
        perp = np.abs((self.node_x - self.cx) * dy / n - (self.node_y - self.cy) * dx / n)
        score = proj - 0.5 * perp
        k = int(np.argmax(score))
        return int(self.node_id[k]), float(self.node_x[k]), float(self.node_y[k])

    def nearest_node(self, x: float, y: float) -> tuple[int, float, float]:
        k = int(np.argmin((self.node_x - x) ** 2 + (self.node_y - y) ** 2))
        return int(self.node_id[k]), float(self.node_x[k]), float(self.node_y[k])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D boolean array (stop exclusive)."""
    if not mask.any():
        return []
    m = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(m)
    starts = np.flatnonzero(d == 1)
    stops = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), stops.tolist()))


def grid_town(b: OsmBuilder, rng: np.random.Generator, *, name: str, code: str, pop: float, cx: float, cy: float,
              radius_m: float, spacing_m: float, clip=None, river=None, detail: bool = True,
              main_class: str | None = None, max_way_edges: int = 8) -> Town:
    """Lay out a town as a jittered, rotated street grid inside an irregular disc (and ``clip``), add it to ``b``.

    Streets: the two main axes (``main_class``: secondary for towns, tertiary for villages), every fifth line
    tertiary, the rest residential (about 15% of those one way, alternating direction). With ``detail``: footway
    diagonals across some central blocks, one ``highway=construction`` diagonal and one ``access=private`` service
    diagonal (shortcuts that the mode filters must drop). ``river(x, y) -> bool`` gives the side of a river: grid
    edges crossing it are removed except on the main axes and every sixth line (the bridges).
    """
    s = float(spacing_m)
    n = max(1, int(np.ceil(radius_m / s)))
    idx = np.arange(-n, n + 1)
    ii, jj = np.meshgrid(idx, idx, indexing="ij")
    theta = rng.uniform(0.0, np.pi / 2)
    jit = rng.normal(0.0, 0.08 * s, size=(2,) + ii.shape)
    u = ii * s + jit[0]
    v = jj * s + jit[1]
    c, sn = np.cos(theta), np.sin(theta)
    x = cx + u * c - v * sn
    y = cy + u * sn + v * c
    x[n, n], y[n, n] = cx, cy
    ang = np.arctan2(jj, ii)
    rmax = radius_m * (1.0 + 0.18 * np.sin(3.0 * ang + rng.uniform(0, 2 * np.pi)))
    present = np.hypot(ii, jj) * s <= np.maximum(rmax, s)
    if clip is not None:
        present &= clip(x, y)
    present[n, n] = True
    from scipy import ndimage

    lab, _ = ndimage.label(present)
    present = lab == lab[n, n]

    he = present[:-1, :] & present[1:, :]  # edge (i,j)-(i+1,j)
    ve = present[:, :-1] & present[:, 1:]  # edge (i,j)-(i,j+1)
    if river is not None:
        side = river(x, y)
        bridge_h = np.zeros_like(he)
        bridge_h[:, (idx % 6 == 0)] = True
        bridge_v = np.zeros_like(ve)
        bridge_v[(idx % 6 == 0), :] = True
        he &= (side[:-1, :] == side[1:, :]) | bridge_h
        ve &= (side[:, :-1] == side[:, 1:]) | bridge_v

    grid = np.zeros(ii.shape, dtype=np.int64)
    grid[present] = b.add_nodes(x[present], y[present])

    if main_class is None:
        main_class = "secondary" if pop >= 8000 else ("tertiary" if pop >= 1500 else "residential")
    second_class = "tertiary" if pop >= 3000 else "residential"

    def line_class(k: int) -> str:
        if k == 0:
            return main_class
        if k % 5 == 0:
            return second_class
        return "residential"

    for horizontal in (True, False):
        emask = he if horizontal else ve
        for k_line in range(2 * n + 1):
            if horizontal:
                ids_line = grid[:, k_line]
                e = emask[:, k_line]
            else:
                ids_line = grid[k_line, :]
                e = emask[k_line, :]
            runs = _runs(e)
            if not runs:
                continue
            k = int(idx[k_line])
            cls = line_class(k)
            tags = {"highway": cls}
            if cls in ("secondary", "tertiary"):
                tags["maxspeed"] = "50"
            oneway = cls == "residential" and detail and rng.random() < 0.15
            if oneway:
                tags["oneway"] = "yes"
            for a, z in runs:  # edges a..z-1 -> nodes a..z
                for s0 in range(a, z, max_way_edges):
                    refs = ids_line[s0:min(z, s0 + max_way_edges) + 1]
                    if oneway and k % 2:
                        refs = refs[::-1]
                    b.add_way(refs, tags)

    if detail and n >= 4:
        # footways across some central blocks (walk-only shortcuts)
        inner = max(1, n // 2)
        for i in range(n - inner, n + inner):
            for j in range(n - inner, n + inner):
                if present[i, j] and present[i + 1, j] and present[i, j + 1] and present[i + 1, j + 1] \
                        and rng.random() < 0.3:
                    if rng.random() < 0.5:
                        b.add_way([grid[i, j], grid[i + 1, j + 1]], {"highway": "footway"})
                    else:
                        b.add_way([grid[i + 1, j], grid[i, j + 1]], {"highway": "footway"})
        # excluded shortcuts through block interiors: a road under construction and a private service road
        for sign, tags in ((1, {"highway": "construction", "construction": "secondary"}),
                           (-1, {"highway": "service", "access": "private"})):
            pa = (n - 2, n - 2 * sign)
            pz = (n + 2, n + 2 * sign)
            if not (present[pa] and present[pz]):
                continue
            t = np.array([0.125, 0.375, 0.625, 0.875])
            ux = (pa[0] - n + t * 4) * s
            vy = (pa[1] - n + t * 4 * sign) * s
            mids = b.add_nodes(cx + ux * c - vy * sn, cy + ux * sn + vy * c)
            b.add_way(np.concatenate(([grid[pa]], mids, [grid[pz]])), tags)

    ids = grid[present]
    axis_h = grid[:, n][present[:, n]]
    axis_v = grid[n, :][present[n, :]]
    return Town(name=name, code=code, pop=float(pop), cx=float(cx), cy=float(cy), radius_m=float(radius_m),
                spacing_m=s, node_id=ids, node_x=x[present], node_y=y[present], axis_h=axis_h, axis_v=axis_v,
                center_id=int(grid[n, n]), grid=grid)


def road(b: OsmBuilder, rng: np.random.Generator, a: tuple[int, float, float], z: tuple[int, float, float],
         tags: dict, *, step_m: float = 250.0, wiggle: float = 0.04, max_nodes: int = 40) -> tuple[np.ndarray,
                                                                                                   np.ndarray,
                                                                                                   np.ndarray]:
    """A gently curving road between two existing nodes ``(id, x, y)``, with shape nodes every ``step_m``.

    Returns the node ids along it (both ends included) and their coordinates.
    """
    aid, ax, ay = a
    zid, zx, zy = z
    dx, dy = zx - ax, zy - ay
    length = float(np.hypot(dx, dy))
    k = max(1, int(length / step_m))
    t = np.linspace(0.0, 1.0, k + 1)[1:-1]
    amp = wiggle * length * rng.uniform(-1.0, 1.0)
    off = amp * np.sin(np.pi * t) + rng.normal(0.0, 5.0, size=t.shape)
    if length > 0:
        px = ax + t * dx - off * dy / length
        py = ay + t * dy + off * dx / length
    else:
        px = py = np.zeros(0)
    mids = b.add_nodes(px, py)
    ids = np.concatenate(([aid], mids, [zid])).astype(np.int64)
    xs = np.concatenate(([ax], px, [zx]))
    ys = np.concatenate(([ay], py, [zy]))
    b.add_polyline(ids, tags, max_nodes=max_nodes)
    return ids, xs, ys


# ---------------------------------------------------------------------------------------------------- GTFS
_SECONDS_STR: list[str] | None = None


def hms(seconds) -> np.ndarray:
    """Seconds after midnight -> 'HH:MM:SS' strings (past 24:00 allowed), vectorised through a lookup table."""
    global _SECONDS_STR
    if _SECONDS_STR is None:
        _SECONDS_STR = [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in range(36 * 3600)]
    table = np.asarray(_SECONDS_STR, dtype=object)
    return table[np.asarray(seconds, dtype=np.int64)]


class GtfsBuilder:
    """Collects GTFS tables; trips of a line are stored as arrays, so hundreds of thousands of trips stay cheap."""

    def __init__(self, agencies: list[dict], *, calendar: list[dict], calendar_dates: list[dict],
                 feed_info: dict | None = None) -> None:
        self.agencies = agencies
        self.calendar = calendar
        self.calendar_dates = calendar_dates
        self.feed_info = feed_info
        self.stop_id: list[str] = []
        self.stop_name: list[str] = []
        self.stop_x: list[float] = []
        self.stop_y: list[float] = []
        self.routes: list[dict] = []
        self.trips: list[dict] = []
        self._st_chunks: list[tuple] = []  # (trip_ids list, arrival[t, k], departure[t, k], stop_index[k])
        self.frequencies: list[dict] = []
        self.n_stop_times = 0

    @property
    def n_stops(self) -> int:
        return len(self.stop_id)

    def add_stop(self, stop_id: str, name: str, x: float, y: float) -> int:
        self.stop_id.append(stop_id)
        self.stop_name.append(name)
        self.stop_x.append(float(x))
        self.stop_y.append(float(y))
        return len(self.stop_id) - 1

    def add_route(self, route_id: str, agency_id: str, short: str, long: str, route_type: int,
                  color: str = "") -> None:
        self.routes.append({"route_id": route_id, "agency_id": agency_id, "route_short_name": short,
                            "route_long_name": long, "route_type": route_type, "route_color": color,
                            "route_text_color": "FFFFFF" if color else ""})

    def add_pattern(self, route_id: str, stops: np.ndarray, *, speed_kmh: float, dwell_s: int,
                    departures_s, service_id: str, direction_id: int, headsign: str, prefix: str,
                    frequency: tuple[int, int, int] | None = None, min_leg_s: int = 30) -> int:
        """Add the trips of one direction of a line through stop indices ``stops`` (straight-line times at
        ``speed_kmh`` x 1.3 detour, at least ``min_leg_s`` per leg, ``dwell_s`` at each stop).

        With ``frequency=(start_s, end_s, headway_s)`` a single template trip is written plus a ``frequencies.txt``
        row (``exact_times=0``). Returns the number of trips added.
        """
        stops = np.asarray(stops, dtype=np.int64)
        if stops.shape[0] < 2:
            return 0
        xs = np.asarray(self.stop_x)[stops]
        ys = np.asarray(self.stop_y)[stops]
        leg_m = np.hypot(np.diff(xs), np.diff(ys)) * 1.3
        leg_s = np.maximum(min_leg_s, np.round(leg_m / (speed_kmh / 3.6))).astype(np.int64)
        # arrival at stop k = sum of legs before k + dwell at the stops before k (not the first)
        arr_off = np.concatenate(([0], np.cumsum(leg_s) + dwell_s * np.arange(0, stops.shape[0] - 1)))
        dep_off = arr_off + dwell_s
        dep_off[0] = 0
        if frequency is not None:
            departures = np.asarray([frequency[0]], dtype=np.int64)
        else:
            departures = np.asarray(departures_s, dtype=np.int64)
        if departures.shape[0] == 0:
            return 0
        trip_ids = [f"{prefix}_{direction_id}_{k:03d}" for k in range(departures.shape[0])]
        for t in trip_ids:
            self.trips.append({"route_id": route_id, "service_id": service_id, "trip_id": t,
                               "trip_headsign": headsign, "direction_id": direction_id})
        arr = departures[:, None] + arr_off[None, :]
        dep = departures[:, None] + dep_off[None, :]
        dep[:, -1] = arr[:, -1]
        self._st_chunks.append((trip_ids, arr, dep, stops))
        self.n_stop_times += arr.size
        if frequency is not None:
            self.frequencies.append({"trip_id": trip_ids[0], "start_time": hms([frequency[0]])[0],
                                     "end_time": hms([frequency[1]])[0], "headway_secs": int(frequency[2]),
                                     "exact_times": 0})
        return len(trip_ids)

    def tables(self) -> dict:
        """The feed as ``{file name: DataFrame}``."""
        import pandas as pd

        lon, lat = to_lonlat(np.asarray(self.stop_x), np.asarray(self.stop_y))
        stops = pd.DataFrame({"stop_id": self.stop_id, "stop_name": self.stop_name,
                              "stop_lat": np.round(lat, 6), "stop_lon": np.round(lon, 6),
                              "location_type": 0, "wheelchair_boarding": 0})
        parts_trip, parts_arr, parts_dep, parts_stop, parts_seq = [], [], [], [], []
        stop_ids = np.asarray(self.stop_id, dtype=object)
        for trip_ids, arr, dep, st in self._st_chunks:
            t, k = arr.shape
            parts_trip.append(np.repeat(np.asarray(trip_ids, dtype=object), k))
            parts_arr.append(arr.ravel())
            parts_dep.append(dep.ravel())
            parts_stop.append(np.tile(stop_ids[st], t))
            parts_seq.append(np.tile(np.arange(1, k + 1), t))
        if parts_trip:
            st_df = pd.DataFrame({"trip_id": np.concatenate(parts_trip),
                                  "arrival_time": hms(np.concatenate(parts_arr)),
                                  "departure_time": hms(np.concatenate(parts_dep)),
                                  "stop_id": np.concatenate(parts_stop),
                                  "stop_sequence": np.concatenate(parts_seq)})
        else:
            st_df = pd.DataFrame(columns=["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence"])
        out = {
            "agency.txt": pd.DataFrame(self.agencies),
            "stops.txt": stops,
            "routes.txt": pd.DataFrame(self.routes),
            "trips.txt": pd.DataFrame(self.trips),
            "stop_times.txt": st_df,
            "calendar.txt": pd.DataFrame(self.calendar),
            "calendar_dates.txt": pd.DataFrame(self.calendar_dates),
        }
        if self.frequencies:
            out["frequencies.txt"] = pd.DataFrame(self.frequencies)
        if self.feed_info:
            out["feed_info.txt"] = pd.DataFrame([self.feed_info])
        return out

    def write(self, path) -> dict[str, int]:
        """Write the zip (fixed timestamps inside, so the bytes depend only on the contents); return row counts."""
        from .writers import write_gtfs_zip

        tables = self.tables()
        write_gtfs_zip(tables, path)
        return {k: len(v) for k, v in tables.items()}


def headway_departures(first_s: int, last_s: int, headway_s: int, rng: np.random.Generator | None = None,
                       ) -> np.ndarray:
    """Departure times from ``first_s`` to ``last_s`` every ``headway_s`` (a random phase under a headway)."""
    phase = int(rng.integers(0, max(1, headway_s // 60))) * 60 if rng is not None else 0
    return np.arange(first_s + phase, last_s + 1, headway_s, dtype=np.int64)


# ------------------------------------------------------------------------------------------- transit in towns
_STOP_WORDS = ("Mairie", "Église", "Place du Marché", "Gare", "Collège", "Lycée", "Hôpital", "Poste", "Stade",
               "Cimetière", "Rue Jean Jaurès", "Rue Victor Hugo", "Avenue de la République", "Rue Pasteur",
               "Rue Gambetta", "Place de la Libération", "Les Tilleuls", "Le Moulin", "La Fontaine", "Les Prés",
               "Centre Social", "Piscine", "Médiathèque", "Salle des Fêtes", "Résidence des Fleurs", "Les Acacias",
               "Rue du Général de Gaulle", "Rue de la Gare", "Cité Jardin", "Zone Artisanale")


def town_line_nodes(town: Town, *, horizontal: bool, offset_k: int = 0) -> np.ndarray:
    """Node ids of the grid line ``offset_k`` lines away from a main axis, in order (gaps skipped)."""
    g = town.grid
    assert g is not None  # (grid_town gives every town its grid)
    n = (g.shape[0] - 1) // 2
    k = int(np.clip(n + offset_k, 0, g.shape[0] - 1))
    line = g[:, k] if horizontal else g[k, :]
    return line[line > 0]


def town_node_xy(town: Town, ids) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of grid nodes of ``town`` (their ids are consecutive)."""
    loc = np.asarray(ids, dtype=np.int64) - int(town.node_id[0])
    return town.node_x[loc], town.node_y[loc]


def add_stops_along(g: GtfsBuilder, xs: np.ndarray, ys: np.ndarray, *, prefix: str, place: str,
                    rng: np.random.Generator, offset_m: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Two stops (one per side of the street) at each point of a path; returns stop indices per direction."""
    xs = np.asarray(xs, float)
    ys = np.asarray(ys, float)
    dx = np.gradient(xs) if xs.shape[0] > 1 else np.ones(1)
    dy = np.gradient(ys) if ys.shape[0] > 1 else np.zeros(1)
    norm = np.hypot(dx, dy)
    norm[norm == 0] = 1.0
    px, py = dy / norm, -dx / norm  # right-hand side of the direction of travel
    fwd, bwd = [], []
    words = rng.permutation(len(_STOP_WORDS))
    for k in range(xs.shape[0]):
        name = f"{place} - {_STOP_WORDS[words[k % len(words)]]}"
        if k >= len(words):
            name += f" {k // len(words) + 1}"
        fwd.append(g.add_stop(f"{prefix}_{k:02d}_A", name, xs[k] + offset_m * px[k], ys[k] + offset_m * py[k]))
        bwd.append(g.add_stop(f"{prefix}_{k:02d}_B", name, xs[k] - offset_m * px[k], ys[k] - offset_m * py[k]))
    return np.asarray(fwd), np.asarray(bwd)[::-1]


def add_bus_line(g: GtfsBuilder, rng: np.random.Generator, *, route_id: str, agency_id: str, short: str,
                 long: str, xs, ys, place: str, headway_s: int, weekend_headway_s: int | None,
                 first_s: int = 6 * 3600, last_s: int = 21 * 3600, speed_kmh: float = 18.0, dwell_s: int = 20,
                 frequency: bool = False, color: str = "", route_type: int = 3) -> int:
    """A bus line both ways along the path ``(xs, ys)`` (stops at each point), weekday ("WK") and weekend ("WE")
    services; with ``frequency`` the weekday trips are written as ``frequencies.txt`` headways."""
    if len(xs) < 2:
        return 0
    g.add_route(route_id, agency_id, short, long, route_type, color)
    fwd, bwd = add_stops_along(g, xs, ys, prefix=route_id, place=place, rng=rng)
    n = 0
    for d, stops in ((0, fwd), (1, bwd)):
        head = g.stop_name[int(stops[-1])]
        if frequency:
            n += g.add_pattern(route_id, stops, speed_kmh=speed_kmh, dwell_s=dwell_s, departures_s=None,
                               service_id="WK", direction_id=d, headsign=head, prefix=f"{route_id}_WK",
                               frequency=(first_s, last_s, headway_s))
        else:
            n += g.add_pattern(route_id, stops, speed_kmh=speed_kmh, dwell_s=dwell_s,
                               departures_s=headway_departures(first_s, last_s, headway_s, rng), service_id="WK",
                               direction_id=d, headsign=head, prefix=f"{route_id}_WK")
        if weekend_headway_s:
            n += g.add_pattern(route_id, stops, speed_kmh=speed_kmh, dwell_s=dwell_s,
                               departures_s=headway_departures(first_s + 3600, last_s - 3600, weekend_headway_s,
                                                               rng),
                               service_id="WE", direction_id=d, headsign=head, prefix=f"{route_id}_WE")
    return 2 * len(fwd)


# ------------------------------------------------------------------------------------------------ population
def town_cells(town: Town, *, core_share: float = 0.45) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """200 m cells covered by a town's grid and the share of its population in each (denser at the centre)."""
    gx = np.floor(town.node_x / 200.0).astype(np.int64)
    gy = np.floor(town.node_y / 200.0).astype(np.int64)
    key = np.unique(gx * 1_000_000 + gy)
    gx, gy = key // 1_000_000, key % 1_000_000
    d = np.hypot((gx + 0.5) * 200.0 - town.cx, (gy + 0.5) * 200.0 - town.cy)
    w = np.exp(-d / max(200.0, core_share * town.radius_m)) + 0.08
    return gx, gy, w / w.sum()


def cell_key(gx, gy) -> np.ndarray:
    return np.asarray(gx, np.int64) * 1_000_000 + np.asarray(gy, np.int64)
