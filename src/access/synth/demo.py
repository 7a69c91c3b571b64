"""The embedded demo region: a small synthetic territory in northern France, in the real file formats.

:func:`make_demo_region` writes, deterministically from a seed:

- ``demo.osm.pbf``: streets of seven towns and about twenty-five villages (grids with residential, tertiary and
  secondary streets, one-way streets, footways), trunk/primary/secondary roads between them, a motorway with
  one-way carriageways and link roads, tracks, a river crossed by few bridges, two railway lines; a few
  ``highway=construction`` and ``access=private`` ways that the mode filters must drop;
- ``demo.gtfs.zip``: two rail lines (every 30 and 60 minutes), town buses every 10 to 20 minutes (one line given
  by ``frequencies.txt``), three rural coach lines; weekday and weekend services with one removed date;
- ``carreaux_200m_met.gpkg``: an INSEE Filosofi 2019-style 200 m population grid (EPSG:3035, official columns),
  dense in towns, sparse in the countryside, poorer in two former industrial towns, older in rural areas;
- ``basilic.csv``: cultural venues in the Basilic CSV layout, mostly in towns;
- ``epci.geojson``: eight intercommunalities covering the territory (``epci_code``, ``epci_nom``, ``epci_type``);
- ``base-ic-logement-2021_csv.zip`` and ``contours_iris.gpkg``: INSEE's census housing base by IRIS (households,
  households with a car) and IGN-style IRIS contours, over 3 km synthetic IRIS;
- ``region.toml``: a recipe (:mod:`access.recipe`) naming these files, with one priority contract zone;
- ``manifest.json``: counts of what was generated.

Every name is invented; the territory sits around (2.95 E, 50.1 N), between Arras, Cambrai and Péronne.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import _build as B
from .writers import filosofi_table, write_basilic_csv, write_filosofi_gpkg, write_geojson, write_recipe

#: centre of the demo territory (lon, lat) and its size (km)
CENTER_LONLAT = (2.95, 50.10)
SIZE_KM = (64.0, 44.0)
#: the analysis date of the demo recipe (a Tuesday in the feed's weekday service)
ANALYSIS_DATE = "2026-03-17"
#: the weekday removed from the weekday service in calendar_dates.txt (Ascension Thursday)
REMOVED_DATE = "20260514"

# name, population, x_km, y_km, poverty share, standard of living (EUR/yr), old (0..1), urban (0..1)
_TOWNS = [
    ("Bercaville", 58000, 30.0, 22.0, 0.20, 20500, 0.20, 0.90),
    ("Hautmesnil", 21000, 12.0, 30.0, 0.30, 17300, 0.30, 0.75),
    ("Saint-Aubert-sur-Selle", 14000, 50.0, 12.0, 0.10, 23800, 0.35, 0.65),
    ("Ronchin-le-Haut", 5200, 48.0, 34.0, 0.12, 22500, 0.40, 0.45),
    ("Vaudricourt", 4300, 16.0, 9.0, 0.26, 17800, 0.40, 0.45),
    ("Marcoing-la-Vallée", 3600, 58.5, 25.0, 0.14, 21000, 0.45, 0.40),
    ("Esquelmont", 3000, 23.0, 38.0, 0.18, 19800, 0.45, 0.40),
]
_VILLAGE_STEMS = ("Aubigny", "Beaumetz", "Boiry", "Cagnicourt", "Croisilles", "Écoust", "Fontaine", "Graincourt",
                  "Hénin", "Inchy", "Lagnicourt", "Mory", "Noreuil", "Quéant", "Riencourt", "Sapignies", "Tilloy",
                  "Vaulx", "Villers", "Wancourt", "Ervillers", "Hamelincourt", "Morchies", "Pronville", "Bullecourt",
                  "Chérisy", "Dury", "Haucourt")
_VILLAGE_SUFFIX = ("-en-Artois", "-le-Petit", "-sur-Sensée", "-lès-Bois", "-Saint-Martin", "", "", "", "-au-Mont",
                   "-la-Motte")
_EPCI = [  # name, type; the first seven are centred on the towns above, the last one on the emptiest area
    ("CU de Bercaville Métropole", "CU"), ("CA du Hautmesnilois", "CA"), ("CA de la Vallée de la Selle", "CA"),
    ("CC du Haut-Pays de Ronchin", "CC"), ("CC du Vaudricourtois", "CC"), ("CC du Cambrésis Oriental", "CC"),
    ("CC des Collines d'Esquelmont", "CC"), ("CC des Plateaux de l'Artois", "CC"),
]
_DEPT = ("62", "Pas-de-Calais")
#: late weekday service (seconds after midnight): trains and the buses of the first lines of the three largest towns
_LATE_TRAINS_S = np.array([22 * 3600 + 40 * 60, 23 * 3600 + 20 * 60])
_LATE_BUS_ROUTES = ("B1", "B2", "B5", "B7")
_LATE_BUS_S = np.arange(21 * 3600 + 40 * 60, 23 * 3600 + 41 * 60, 30 * 60)


def _frame():
    """Metric (EPSG:3035) origin of the territory's south-west corner."""
    cx, cy = B.to_metric([CENTER_LONLAT[0]], [CENTER_LONLAT[1]])
    return float(cx[0]) - SIZE_KM[0] * 500.0, float(cy[0]) - SIZE_KM[1] * 500.0


def make_demo_region(out_dir, *, seed: int = 42) -> dict[str, Path]:
    """Generate the demo region's files in ``out_dir`` (created if needed).

    Parameters
    ----------
    out_dir : path-like
        Folder to write into; existing files of the same names are replaced (atomically).
    seed : int
        Seed of every random choice: the same seed gives byte-identical files.

    Returns
    -------
    dict
        Paths by role: ``osm``, ``gtfs``, ``filosofi``, ``basilic``, ``epci``, ``recipe``, ``manifest``.

    Examples
    --------
    >>> from access.synth.demo import make_demo_region
    >>> paths = make_demo_region("demo_data")  # doctest: +SKIP
    >>> sorted(paths)  # doctest: +SKIP
    ['basilic', 'epci', 'filosofi', 'gtfs', 'manifest', 'osm', 'recipe']
    """
    import geopandas as gpd
    import shapely
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Delaunay

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x0, y0 = _frame()
    W, H = SIZE_KM[0] * 1000.0, SIZE_KM[1] * 1000.0

    # ------------------------------------------------------------------ settlements
    settle = []  # dicts: name, pop, x, y, poverty, nv, old, urban, kind
    for name, t_pop, xk, yk, pov, t_nv, t_old, urb in _TOWNS:
        settle.append(dict(name=name, pop=t_pop, x=x0 + xk * 1000 + rng.normal(0, 300),
                           y=y0 + yk * 1000 + rng.normal(0, 300), poverty=pov, nv=t_nv, old=t_old, urban=urb,
                           kind="town"))
    stems = list(rng.permutation(len(_VILLAGE_STEMS)))
    n_vill = 26
    tries = 0
    while sum(s["kind"] == "village" for s in settle) < n_vill and tries < 5000:
        tries += 1
        x = x0 + rng.uniform(2000, W - 2000)
        y = y0 + rng.uniform(2000, H - 2000)
        dmin = min(np.hypot(x - s["x"], y - s["y"]) - 11 * np.sqrt(s["pop"]) for s in settle)
        if dmin < 2500:
            continue
        k = len(settle) - len(_TOWNS)
        name = _VILLAGE_STEMS[stems[k % len(stems)]] + _VILLAGE_SUFFIX[int(rng.integers(len(_VILLAGE_SUFFIX)))]
        v_pop = float(np.clip(rng.lognormal(np.log(450), 0.6), 120, 1800))
        settle.append(dict(name=name, pop=round(v_pop), x=x, y=y, poverty=float(rng.uniform(0.08, 0.22)),
                           nv=float(rng.uniform(19000, 23000)), old=float(rng.uniform(0.6, 0.85)),
                           urban=float(rng.uniform(0.0, 0.15)), kind="village"))
    for k, s in enumerate(settle):
        s["code"] = f"{_DEPT[0]}{901 + k:03d}"
        s["postcode"] = f"{_DEPT[0]}{(k * 37) % 900 + 100:03d}"
    pts = np.array([[s["x"], s["y"]] for s in settle])

    # river: a meander across the territory, through the main town
    city = settle[0]
    r_amp, r_len, r_phase = 1500.0, 9000.0, float(rng.uniform(0, 2 * np.pi))
    r_base = city["y"] + 250.0 - r_amp * np.sin((city["x"] - x0) / r_len + r_phase)

    def river_y(x):
        return r_base + r_amp * np.sin((np.asarray(x) - x0) / r_len + r_phase)

    def river_side(x, y):
        return np.asarray(y) > river_y(x)

    # ------------------------------------------------------------------ streets
    b = B.OsmBuilder()
    towns: list[B.Town] = []
    for s in settle:
        pop = s["pop"]
        spacing = 85.0 if pop > 40000 else 95.0 if pop > 10000 else 105.0 if pop > 2500 else 120.0
        t = B.grid_town(b, rng, name=s["name"], code=s["code"], pop=pop, cx=s["x"], cy=s["y"],
                        radius_m=11.0 * np.sqrt(pop), spacing_m=spacing, river=river_side,
                        detail=s["kind"] == "town")
        t.extra.update(s)
        b.tag_node(t.center_id, {"place": "city" if pop > 40000 else "town" if pop > 2500 else "village",
                                 "name": s["name"], "ref:INSEE": s["code"], "population": str(int(pop))})
        towns.append(t)

    # roads between settlements: minimum spanning tree + short Delaunay edges
    tri = Delaunay(pts)
    edge_set: set[tuple[int, int]] = set()
    for simplex in tri.simplices:
        for u, u2 in ((0, 1), (1, 2), (0, 2)):
            i, j = sorted((int(simplex[u]), int(simplex[u2])))
            edge_set.add((i, j))
    edges = sorted(edge_set | {(0, 1), (0, 2)})  # trunk roads from the main town to the two other big towns
    dist = {e: float(np.hypot(*(pts[e[0]] - pts[e[1]]))) for e in edges}
    from scipy.sparse import coo_matrix

    m = coo_matrix(([dist[e] for e in edges], ([e[0] for e in edges], [e[1] for e in edges])),
                   shape=(len(settle), len(settle)))
    mst = minimum_spanning_tree(m).tocoo()
    mst_edges = {tuple(sorted((int(i), int(j)))) for i, j in zip(mst.row, mst.col)}
    road_pts_x, road_pts_y = [], []
    n_roads = 0
    for (i, j) in edges:
        ti, tj = towns[i], towns[j]
        crosses = river_side(ti.cx, ti.cy) != river_side(tj.cx, tj.cy)
        short = dist[(i, j)] < 13000 and not (crosses and min(ti.pop, tj.pop) < 10000)  # few bridges
        keep = (i, j) in mst_edges or (i, j) in ((0, 1), (0, 2)) or short
        if not keep:
            continue
        lo, hi = min(ti.pop, tj.pop), max(ti.pop, tj.pop)
        if lo >= 10000:
            tags = {"highway": "trunk" if hi > 40000 else "primary", "maxspeed": "80"}
        elif lo >= 2500 or hi > 40000:
            tags = {"highway": "primary" if hi > 10000 else "secondary"}
        elif hi >= 2500:
            tags = {"highway": "tertiary"}
        else:
            tags = {"highway": "unclassified"}
        end_a = ti.node_toward(tj.cx, tj.cy)
        end_z = tj.node_toward(ti.cx, ti.cy)
        _, xs, ys = B.road(b, rng, end_a, end_z, tags, step_m=250.0)
        road_pts_x.append(xs)
        road_pts_y.append(ys)
        n_roads += 1

    # farm tracks out of the villages (walk and bike only)
    for t in towns:
        if t.extra["kind"] != "village":
            continue
        for _ in range(int(rng.integers(1, 3))):
            ang = rng.uniform(0, 2 * np.pi)
            ln = rng.uniform(800, 2000)
            start = t.node_toward(t.cx + np.cos(ang), t.cy + np.sin(ang))
            end = b.add_nodes([start[1] + ln * np.cos(ang)], [start[2] + ln * np.sin(ang)])
            _, xs, ys = B.road(b, rng, start, (int(end[0]), start[1] + ln * np.cos(ang), start[2] + ln * np.sin(ang)),
                               {"highway": "track", "tracktype": "grade2"}, step_m=200.0)
            road_pts_x.append(xs)
            road_pts_y.append(ys)

    # motorway: two one-way carriageways west -> east, south of the main town, with three junctions
    mx = np.arange(0.0, W + 1.0, 400.0)
    my_c = y0 + 14000.0 + (24000.0 - 14000.0) * mx / W
    ang = np.arctan2(10000.0, W)
    nx, ny = -np.sin(ang), np.cos(ang)  # left of the eastward direction
    east = b.add_nodes(x0 + mx - 15 * nx, my_c - 15 * ny)  # eastbound keeps right (south side)
    west = b.add_nodes(x0 + mx + 15 * nx, my_c + 15 * ny)
    mtags = {"highway": "motorway", "oneway": "yes", "maxspeed": "130", "ref": "A 126", "lanes": "2"}
    b.add_polyline(east, mtags)
    b.add_polyline(west[::-1], mtags)
    for target in (towns[0], towns[4], towns[2]):
        k = int(np.argmin(np.hypot(x0 + mx - target.cx, my_c - target.cy)))
        k = int(np.clip(k, 2, mx.shape[0] - 3))
        jx, jy = x0 + mx[k] + 250 * nx * np.sign(target.cy - my_c[k]), my_c[k] + 250 * ny * np.sign(
            target.cy - my_c[k])
        jid = int(b.add_nodes([jx], [jy])[0])
        lt = {"highway": "motorway_link", "oneway": "yes"}
        b.add_way([east[k - 1], jid], lt)
        b.add_way([jid, east[k + 1]], lt)
        b.add_way([west[k + 1], jid], lt)
        b.add_way([jid, west[k - 1]], lt)
        b.tag_node(jid, {"highway": "motorway_junction", "ref": str(len(road_pts_x) % 9 + 1)})
        B.road(b, rng, (jid, jx, jy), target.node_toward(jx, jy), {"highway": "primary"}, step_m=250.0)

    # river (not routable, for the map) and railways
    rx = np.arange(x0, x0 + W + 1.0, 300.0)
    rids = b.add_nodes(rx, river_y(rx))
    b.add_polyline(rids, {"waterway": "river", "name": "La Selle"}, max_nodes=60)

    # ------------------------------------------------------------------ transit
    g = B.GtfsBuilder(
        agencies=[{"agency_id": "TERX", "agency_name": "TER Synthétique", "agency_url": "https://example.org/ter",
                   "agency_timezone": "Europe/Paris", "agency_lang": "fr"},
                  {"agency_id": "BUS", "agency_name": "Réseau Bercabus", "agency_url": "https://example.org/bus",
                   "agency_timezone": "Europe/Paris", "agency_lang": "fr"},
                  {"agency_id": "CAR", "agency_name": "Cars du Plateau", "agency_url": "https://example.org/car",
                   "agency_timezone": "Europe/Paris", "agency_lang": "fr"}],
        calendar=[{"service_id": "WK", "monday": 1, "tuesday": 1, "wednesday": 1, "thursday": 1, "friday": 1,
                   "saturday": 0, "sunday": 0, "start_date": "20260105", "end_date": "20261231"},
                  {"service_id": "WE", "monday": 0, "tuesday": 0, "wednesday": 0, "thursday": 0, "friday": 0,
                   "saturday": 1, "sunday": 1, "start_date": "20260105", "end_date": "20261231"}],
        calendar_dates=[{"service_id": "WK", "date": REMOVED_DATE, "exception_type": 2},
                        {"service_id": "WE", "date": REMOVED_DATE, "exception_type": 1}],
        feed_info={"feed_publisher_name": "access synthetic demo", "feed_publisher_url": "https://example.org",
                   "feed_lang": "fr", "feed_start_date": "20260105", "feed_end_date": "20261231",
                   "feed_version": f"demo-seed-{seed}"},
    )
    # rail: stations ~150 m off each served town's centre, tracks between them
    rail_lines: list[tuple[str, list[int | None], int, int, str]] = [
                  ("K1", [1, None, 0, 2], 1800, 3600, "Hautmesnil - Bercaville - Saint-Aubert-sur-Selle"),
                  ("K2", [4, 0, 3], 3600, 3600, "Vaudricourt - Bercaville - Ronchin-le-Haut")]
    stations: dict[int, int] = {}
    station_node: dict[int, tuple] = {}

    def station_for(ti: int) -> int:
        if ti not in stations:
            t = towns[ti]
            sx, sy = t.cx + 140.0, t.cy + 90.0
            nid = int(b.add_nodes([sx], [sy])[0])
            b.tag_node(nid, {"railway": "station", "public_transport": "station", "name": f"{t.name}"})
            station_node[ti] = (nid, sx, sy)
            stations[ti] = g.add_stop(f"RAIL_{t.code}", f"Gare de {t.name}", sx, sy)
        return stations[ti]

    for route_id, spec, hw_peak, hw_off, long in rail_lines:
        # an intermediate halt in the village nearest the middle of the first leg
        seq: list[int] = []
        for p, served in enumerate(spec):
            if served is None:
                nxt = spec[p + 1]
                assert nxt is not None  # (a halt sits between two towns)
                a, c = towns[seq[p - 1]], towns[nxt]
                mxm, mym = (a.cx + c.cx) / 2, (a.cy + c.cy) / 2
                vil = [k for k, t in enumerate(towns) if t.extra["kind"] == "village"]
                served = min(vil, key=lambda k: np.hypot(towns[k].cx - mxm, towns[k].cy - mym))
            seq.append(served)
        stops = np.array([station_for(s) for s in seq])
        for p in range(len(seq) - 1):
            B.road(b, rng, station_node[seq[p]], station_node[seq[p + 1]], {"railway": "rail", "usage": "main"},
                   step_m=400.0, wiggle=0.02)
        g.add_route(route_id, "TERX", route_id, long, 2, "1E5AA8")
        deps = np.concatenate([B.headway_departures(5 * 3600 + 1800, 9 * 3600, hw_peak),
                               B.headway_departures(9 * 3600 + hw_off // 2, 16 * 3600, hw_off),
                               B.headway_departures(16 * 3600 + 600, 20 * 3600, hw_peak),
                               B.headway_departures(20 * 3600 + hw_off // 2, 22 * 3600, hw_off)])
        for d, st in ((0, stops), (1, stops[::-1])):
            head = g.stop_name[int(st[-1])]
            g.add_pattern(route_id, st, speed_kmh=95.0, dwell_s=60, departures_s=deps + 300 * d, service_id="WK",
                          direction_id=d, headsign=head, prefix=f"{route_id}_WK", min_leg_s=120)
            g.add_pattern(route_id, st, speed_kmh=95.0, dwell_s=60,
                          departures_s=B.headway_departures(7 * 3600, 21 * 3600, 2 * hw_off), service_id="WE",
                          direction_id=d, headsign=head, prefix=f"{route_id}_WE", min_leg_s=120)
            # late weekday trains, home after an evening show (no random draw: the rest of the region is unchanged)
            g.add_pattern(route_id, st, speed_kmh=95.0, dwell_s=60, departures_s=_LATE_TRAINS_S + 300 * d,
                          service_id="WK", direction_id=d, headsign=head, prefix=f"{route_id}_WKN", min_leg_s=120)

    # town buses: (town index, horizontal, line offset, headway min, weekend headway min, frequency-based)
    bus = [(0, True, 0, 10, 20, False), (0, False, 0, 12, 24, False), (0, True, 5, 15, 30, True),
           (0, False, -5, 20, 40, False), (1, True, 0, 12, 30, False), (1, False, 0, 15, 30, False),
           (2, True, 0, 15, 30, False), (2, False, 0, 20, 40, False), (3, True, 0, 20, 60, False),
           (4, False, 0, 20, 60, False)]
    for k, (bus_town, horiz, off, hw, whw, freq) in enumerate(bus):
        t = towns[bus_town]
        ids = B.town_line_nodes(t, horizontal=horiz, offset_k=off)
        every = max(1, int(round(350.0 / t.spacing_m)))
        ids = ids[::every]
        xs, ys = B.town_node_xy(t, ids)
        B.add_bus_line(g, rng, route_id=f"B{k + 1}", agency_id="BUS", short=f"{k + 1}",
                       long=f"{t.name} - ligne {k + 1}", xs=xs, ys=ys, place=t.name, headway_s=hw * 60,
                       weekend_headway_s=whw * 60, frequency=freq, color="E4007C")
    # late weekday buses on the first lines of the three largest towns (same stops, no random draw)
    for route_id in _LATE_BUS_ROUTES:
        for trip_ids, _arr, _dep, stops in list(g._st_chunks):
            if trip_ids[0].startswith(f"{route_id}_WK_"):
                d = int(trip_ids[0].split("_")[2])
                g.add_pattern(route_id, stops, speed_kmh=18.0, dwell_s=20, departures_s=_LATE_BUS_S,
                              service_id="WK", direction_id=d, headsign=g.stop_name[int(stops[-1])],
                              prefix=f"{route_id}_WKN")
    # rural coaches: villages between two towns, every two hours
    for k, (ta, tb) in enumerate(((1, 0), (2, 5), (6, 3))):
        town_a, town_c = towns[ta], towns[tb]
        vec = np.array([town_c.cx - town_a.cx, town_c.cy - town_a.cy])
        L = float(np.hypot(*vec))
        cand = []
        for vi, t in enumerate(towns):
            if t.extra["kind"] != "village":
                continue
            rel = np.array([t.cx - town_a.cx, t.cy - town_a.cy])
            along = float(rel @ vec) / L
            across = abs(float(rel[0] * vec[1] - rel[1] * vec[0])) / L
            if 0 < along < L and across < 6000:
                cand.append((along, vi))
        seq = [ta] + [vi for _, vi in sorted(cand)] + [tb]
        xs = np.array([towns[i].cx + 30.0 for i in seq])
        ys = np.array([towns[i].cy + 30.0 for i in seq])
        B.add_bus_line(g, rng, route_id=f"C{k + 1}", agency_id="CAR", short=f"{60 + k}",
                       long=f"{towns[ta].name} - {towns[tb].name}", xs=xs, ys=ys, place="Car", headway_s=7200,
                       weekend_headway_s=None, first_s=6 * 3600 + 1800, last_s=19 * 3600 + 1800, speed_kmh=45.0,
                       dwell_s=30, color="2A9D3F")
        # the stops are named after the place they serve
        base = g.n_stops - 2 * len(seq)
        for p, i in enumerate(seq):
            g.stop_name[base + 2 * p] = g.stop_name[base + 2 * p + 1] = f"{towns[i].name} - Place"

    # ------------------------------------------------------------------ population
    cells: dict[int, list] = {}  # key -> [gx, gy, ind, settlement index]
    for si, t in enumerate(towns):
        gx, gy, w = B.town_cells(t)
        ind = t.pop * w
        for a, c, v in zip(gx.tolist(), gy.tolist(), ind.tolist()):
            key = a * 1_000_000 + c
            if key in cells:
                cells[key][2] += v
            else:
                cells[key] = [a, c, v, si]
    # scattered rural cells along roads and tracks
    # (along the roads between settlements only, not the farm tracks: every cell reachable by car)
    rpx = np.concatenate(road_pts_x[:n_roads])
    rpy = np.concatenate(road_pts_y[:n_roads])
    n_rural = 2300
    pick = rng.integers(0, rpx.shape[0], n_rural)
    rr = np.abs(rng.normal(0, 160.0, n_rural)).clip(0, 330)
    ra = rng.uniform(0, 2 * np.pi, n_rural)
    fx, fy = rpx[pick] + rr * np.cos(ra), rpy[pick] + rr * np.sin(ra)
    inside = (fx > x0) & (fx < x0 + W) & (fy > y0) & (fy < y0 + H)
    fx, fy = fx[inside], fy[inside]
    near = np.argmin((fx[:, None] - pts[None, :, 0]) ** 2 + (fy[:, None] - pts[None, :, 1]) ** 2, axis=1)
    pops = np.round(rng.lognormal(np.log(9.0), 0.7, fx.shape[0]), 1).clip(1.0, 80.0)
    for xx, yy, v, si in zip(fx.tolist(), fy.tolist(), pops.tolist(), near.tolist()):
        kx, ky = int(np.floor(xx / 200.0)), int(np.floor(yy / 200.0))
        key = kx * 1_000_000 + ky
        if key in cells:
            continue  # an urban cell already
        cells[key] = [kx, ky, v, si]
    keys = sorted(cells)
    arr = np.array([cells[k][:3] for k in keys], dtype=np.float64)
    sidx = np.array([cells[k][3] for k in keys], dtype=np.int64)
    gx, gy, ind = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), np.round(arr[:, 2], 1)
    ind = np.maximum(ind, 1.0)
    urban_cell = np.array([towns[s].extra["kind"] == "town" for s in sidx])
    d_center = np.hypot((gx + 0.5) * 200 - pts[sidx, 0], (gy + 0.5) * 200 - pts[sidx, 1])
    in_town = d_center < np.array([towns[s].radius_m * 1.1 for s in sidx])
    prof = lambda key: np.array([towns[s].extra[key] for s in sidx], dtype=float)  # noqa: E731
    poverty = np.where(in_town, prof("poverty"), 0.6 * prof("poverty") + 0.4 * 0.11)
    cell_nv = np.where(in_town, prof("nv"), 0.5 * prof("nv") + 0.5 * 21500.0)
    cell_old = np.where(in_town, prof("old"), 0.75)
    urban = np.where(in_town & urban_cell, prof("urban") * np.exp(-d_center / 3000.0), 0.05)
    lcog = np.array([towns[s].code for s in sidx], dtype=object)
    fil = filosofi_table(gx, gy, ind, poverty=poverty, living_std_eur=cell_nv, old=cell_old, urban=urban, lcog_geo=lcog,
                         rng=rng)

    # ------------------------------------------------------------------ intercommunalities
    seeds = [[t.cx, t.cy] for t in towns[:7]]
    gxs = np.linspace(x0 + 4000, x0 + W - 4000, 30)
    gys = np.linspace(y0 + 4000, y0 + H - 4000, 20)
    GX, GY = np.meshgrid(gxs, gys)
    dd = np.min(np.hypot(GX.ravel()[:, None] - np.array(seeds)[None, :, 0],
                         GY.ravel()[:, None] - np.array(seeds)[None, :, 1]), axis=1)
    kbest = int(np.argmax(dd))
    seeds.append([GX.ravel()[kbest], GY.ravel()[kbest]])
    frame = shapely.box(x0, y0, x0 + W, y0 + H)
    vor = shapely.voronoi_polygons(shapely.multipoints(np.array(seeds)), extend_to=frame, ordered=True)
    polys = [shapely.intersection(p, frame) for p in shapely.get_parts(vor)]
    polys = [shapely.segmentize(p, 1500.0) for p in polys]  # dense enough to stay straight-ish in lon/lat
    codes = [f"2000{7010 + 17 * k:05d}" for k in range(len(polys))]
    epci = gpd.GeoDataFrame({"epci_code": codes, "epci_nom": [e[0] for e in _EPCI],
                             "epci_type": [e[1] for e in _EPCI]}, geometry=polys, crs="EPSG:3035")
    epci["geometry"] = epci.geometry.buffer(0)
    # priority contract zone: the EPCI of the two poorest towns
    poorest = sorted(range(7), key=lambda k: -_TOWNS[k][4])[:2]
    priority = sorted(codes[k] for k in poorest)
    # cells per EPCI (for the manifest) and the commune's EPCI of each settlement
    cx_c, cy_c = (gx + 0.5) * 200.0, (gy + 0.5) * 200.0
    cells_per_epci = {}
    for code, poly in zip(codes, epci.geometry):
        cells_per_epci[code] = int(shapely.contains_xy(poly, cx_c, cy_c).sum())

    # ------------------------------------------------------------------ venues (Basilic layout)
    venues = _demo_venues(towns, rng)

    # ------------------------------------------------------------------ write
    paths = {
        "osm": out / "demo.osm.pbf",
        "gtfs": out / "demo.gtfs.zip",
        "filosofi": out / "carreaux_200m_met.gpkg",
        "basilic": out / "basilic.csv",
        "epci": out / "epci.geojson",
        "census": out / "base-ic-logement-2021_csv.zip",
        "iris": out / "contours_iris.gpkg",
        "recipe": out / "region.toml",
        "manifest": out / "manifest.json",
    }
    b.write(paths["osm"])
    gtfs_counts = g.write(paths["gtfs"])
    write_filosofi_gpkg(fil, paths["filosofi"])
    write_basilic_csv(venues, paths["basilic"])
    write_geojson(epci, paths["epci"])
    from .writers import census_iris_tables, write_census_logement, write_iris_contours

    census, iris = census_iris_tables(fil, rng=np.random.default_rng([seed, 16]))  # own stream: nothing else moves
    write_census_logement(census, paths["census"], vintage=2021)
    write_iris_contours(iris, paths["iris"])
    lon0, lat0 = B.to_lonlat([x0, x0 + W, x0, x0 + W], [y0, y0, y0 + H, y0 + H])
    bbox = [float(lon0.min()), float(lat0.min()), float(lon0.max()), float(lat0.max())]
    write_recipe(
        paths["recipe"], name="Demo (synthetic)", bbox=bbox, date=ANALYSIS_DATE, departure="14:00", window_min=30,
        modes=["walk", "bike", "car", "transit"], thresholds_min=[10, 20, 30, 45], max_time_min=60,
        categories=["cinema", "library", "museum", "performing_arts", "conservatoire", "arts_centre"],
        priority_zones=[{"name": "Bassin fictif", "epci": priority,
                         "note": "the intercommunalities of the two poorest towns of the synthetic territory"}],
        sources=_demo_sources(paths),
        comment=f"Synthetic demo region generated by access.synth.demo.make_demo_region(seed={seed}).\n"
                "Every place, network and figure in these files is invented; the formats are the real ones.",
    )
    manifest = {
        "generator": "access.synth.demo.make_demo_region", "seed": seed, "crs_metric": B.METRIC_CRS,
        "bbox_lonlat": bbox, "analysis_date": ANALYSIS_DATE, "removed_date": REMOVED_DATE,
        "osm": {"nodes": b.n_nodes, "ways": b.n_ways, "highway": b.tag_counts("highway"), "roads": n_roads},
        "gtfs": gtfs_counts,
        "filosofi": {"cells": int(len(fil)), "ind": float(fil["ind"].sum()), "cells_per_epci": cells_per_epci},
        "basilic": {"venues": int(len(venues)),
                    "by_type": venues["Type équipement ou lieu"].value_counts().sort_index().to_dict()},
        "epci": {"count": len(codes), "codes": codes, "priority": priority},
        "census": {"iris": len(census), "households": float(census["P21_RP"].sum())},
        "towns": [{"name": t.name, "code": t.code, "pop": t.pop, "kind": t.extra["kind"]} for t in towns],
        "files": {k: p.name for k, p in paths.items()},
    }
    from .._io_util import atomic_path

    with atomic_path(paths["manifest"], suffix=".json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    return paths


def _demo_sources(paths: dict[str, Path]) -> dict[str, dict]:
    lic = "synthetic data generated by access (no licence restriction)"
    return {
        "osm": {"kind": "osm", "format": "osm.pbf", "path": paths["osm"].name, "licence": lic,
                "description": "synthetic streets, roads, motorway, railways"},
        "gtfs": {"kind": "gtfs", "format": "gtfs.zip", "path": paths["gtfs"].name, "licence": lic,
                 "description": "synthetic rail, town buses and rural coaches"},
        "filosofi_200m": {"kind": "filosofi", "format": "gpkg", "path": paths["filosofi"].name, "licence": lic,
                          "description": "synthetic population grid in INSEE Filosofi 2019 format (200 m, EPSG:3035)"},
        "basilic": {"kind": "basilic", "format": "csv", "path": paths["basilic"].name, "licence": lic,
                    "description": "synthetic cultural venues in the Basilic CSV layout"},
        "epci": {"kind": "epci", "format": "geojson", "path": paths["epci"].name, "licence": lic,
                 "description": "synthetic intercommunalities (epci_code, epci_nom, epci_type)"},
        "census_logement": {"kind": "census", "format": "zip", "path": paths["census"].name, "licence": lic,
                            "description": "synthetic INSEE census housing base by IRIS, 2021 layout (P21_RP, "
                                           "P21_RP_VOIT1P)"},
        "iris": {"kind": "iris", "format": "gpkg", "path": paths["iris"].name, "licence": lic,
                 "description": "synthetic IRIS contours in the IGN CONTOURS-IRIS layout (CODE_IRIS, EPSG:2154)"},
    }


_STREETS = ("rue de la République", "place du Général de Gaulle", "rue Victor Hugo", "avenue Jean Jaurès",
            "rue du Château", "place de l'Hôtel de Ville", "rue de l'Église", "boulevard Gambetta", "rue Pasteur",
            "rue des Écoles", "grand'place", "rue du Marché")


def _demo_venues(towns: list[B.Town], rng: np.random.Generator) -> pd.DataFrame:
    """Venues by town size: a full set in the main town, fewer in smaller towns, libraries in some villages."""
    plan = {0: [("Bibliothèque", "Médiathèque centrale {t}"), ("Bibliothèque", "Bibliothèque du quartier Nord"),
                ("Bibliothèque", "Bibliothèque du quartier Sud"), ("Bibliothèque", "Bibliothèque des Prés"),
                ("Cinéma", "Cinéma Le Palace"), ("Cinéma", "Ciné-Bercaville Multiplexe"),
                ("Musée", "Musée des Beaux-Arts de {t}"), ("Musée", "Musée de la Mine et du Textile"),
                ("Théâtre", "Théâtre municipal de {t}"), ("Scène", "Le Phénix, scène nationale"),
                ("Conservatoire", "Conservatoire à rayonnement départemental de {t}"),
                ("Centre d'art", "Centre d'art contemporain La Filature"), ("Monument", "Beffroi de {t}")],
            1: [("Bibliothèque", "Médiathèque de {t}"), ("Bibliothèque", "Bibliothèque de la Cité"),
                ("Cinéma", "Cinéma L'Étoile"), ("Théâtre", "Théâtre de {t}"),
                ("Monument", "Chevalement de la fosse 4")],
            2: [("Bibliothèque", "Médiathèque de {t}"), ("Cinéma", "Cinéma Le Rex"),
                ("Musée", "Musée de la Vallée de la Selle"),
                ("Conservatoire", "Conservatoire de musique et de danse de {t}"),
                ("Monument", "Abbaye de {t}")],
            3: [("Bibliothèque", "Bibliothèque de {t}"), ("Cinéma", "Cinéma associatif Le Familia")],
            4: [("Bibliothèque", "Bibliothèque de {t}"), ("Scène", "Espace culturel de {t}")],
            5: [("Bibliothèque", "Médiathèque de {t}"), ("Cinéma", "Cinéma Le Vox")],
            6: [("Bibliothèque", "Bibliothèque de {t}"), ("Centre d'art", "Maison des arts de {t}")]}
    villages = [k for k, t in enumerate(towns) if t.extra["kind"] == "village"]
    with_lib = sorted(rng.choice(villages, size=min(len(villages), 14), replace=False).tolist())
    for k in with_lib:
        plan.setdefault(k, []).append(("Bibliothèque", "Bibliothèque municipale de {t}"))
    museum_v = int(rng.choice(villages))
    plan.setdefault(museum_v, []).append(("Musée", "Musée rural de {t}"))
    for k in rng.choice(villages, size=3, replace=False).tolist():
        plan.setdefault(int(k), []).append(("Monument", "Église Saint-Martin de {t}"))
    rows = []
    for k in sorted(plan):
        t = towns[k]
        # venues sit on street nodes near the centre (within 45% of the radius)
        d = np.hypot(t.node_x - t.cx, t.node_y - t.cy)
        central = np.flatnonzero(d <= max(t.spacing_m * 1.5, 0.45 * t.radius_m))
        for typ, nm in plan[k]:
            j = int(rng.choice(central))
            vx = t.node_x[j] + rng.uniform(-20, 20)
            vy = t.node_y[j] + rng.uniform(-20, 20)
            rows.append((nm.format(t=t.name), typ, t, vx, vy))
    xs = np.array([r[3] for r in rows])
    ys = np.array([r[4] for r in rows])
    lon, lat = B.to_lonlat(xs, ys)
    out = []
    for (nm, typ, t, _, _), lo, la in zip(rows, lon, lat):
        num = int(rng.integers(1, 120))
        street = _STREETS[int(rng.integers(len(_STREETS)))]
        out.append({"Nom": nm, "Type équipement ou lieu": typ, "Adresse postale": f"{num} {street}",
                    "Code Postal": t.extra["postcode"], "Commune": t.name, "code_insee": t.code,
                    "Région": "Hauts-de-France", "Département": _DEPT[1], "Latitude": round(float(la), 6),
                    "Longitude": round(float(lo), 6), "coordonnees_GPS": f"{la:.6f}, {lo:.6f}"})
    return pd.DataFrame(out)
