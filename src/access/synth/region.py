"""A region-scale synthetic network laid on the real geography of Hauts-de-France.

:func:`make_region` reads the commune polygons, populations, venue counts and intercommunalities of
``<test data>/hauts_de_france`` and writes, in the real formats (the same loaders as real data read them):

- ``region.osm.pbf``: one street grid per commune, inside its polygon around a point on its surface, sized by its
  population (residential/tertiary/secondary streets, one-way streets, footways, a few excluded ways), and roads
  between neighbouring communes (trunk/primary/secondary/tertiary/unclassified by the populations they link);
- ``region.gtfs.zip``: rail lines between the towns with a station (every 30 to 60 minutes), town buses (every 10
  to 30 minutes by town size), coaches through the villages (every two hours);
- ``carreaux_200m_met.gpkg``: a Filosofi 2019-style population grid (200 m, EPSG:3035) summing to each commune's
  population, with poverty and income varying by intercommunality and town size;
- ``basilic.csv``: venues drawn from the real counts per commune and type (Basilic), placed in town centres;
- ``epci.geojson``: the real intercommunalities covered (``epci_code``, ``epci_nom``, ``epci_type``);
- ``region.toml`` and ``manifest.json``.

At ``scale=1.0`` the whole region is generated with about 1,000,000 street nodes, 30,000 stops, 150,000
populated cells and 5,000 venues; a smaller ``scale`` keeps whole intercommunalities around Arras (nearest first)
until their population reaches ``scale`` x the region's, and shrinks every target count in proportion to the
population kept (so densities stay those of the full region).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import InputFileError
from . import _build as B
from .writers import filosofi_table, write_basilic_csv, write_filosofi_gpkg, write_geojson, write_recipe

#: target counts at scale 1.0
TARGETS = {"street_nodes": 1_000_000, "stops": 30_000, "cells": 150_000, "venues": 5_000}
#: where a partial region starts growing from (Arras)
DEFAULT_CENTER_LONLAT = (2.78, 50.29)
ANALYSIS_DATE = "2026-03-17"
#: the priority contract zone of networks/hauts-de-france.toml kept when its EPCI are covered (Bassin minier)
BASSIN_MINIER = ("200072460", "246200364", "246200299", "200044618", "245901152", "200042190", "245901160",
                 "200044048")
_FILES = ("communes_2018.geojson", "communes_epci_2026.csv", "culture_counts_by_commune_basilic.csv",
          "epci_2026.geojson")



def _shared_data_dir() -> Path:
    """The shared real-data folder the generator reads the region's geography from (``ACCESS_TEST_DATA``, default
    ``../shared/data`` next to the repository)."""
    env = os.environ.get("ACCESS_TEST_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared" / "data"

def _geo_dir(data_dir) -> Path:

    d = Path(data_dir) if data_dir is not None else _shared_data_dir() / "hauts_de_france"
    missing = [f for f in _FILES if not (d / f).is_file()]
    if missing:
        raise InputFileError(f"region geography folder {str(d)!r} lacks {missing}; give data_dir= the folder "
                             "hauts_de_france of the shared test data (or set ACCESS_TEST_DATA)")
    return d


def _load_geography(d: Path, scale: float, center_lonlat) -> tuple:
    import geopandas as gpd

    com = gpd.read_file(d / "communes_2018.geojson")[["code", "nom", "geometry"]]
    pop = pd.read_csv(d / "communes_epci_2026.csv", dtype={"code_commune": str, "epci_code": str, "dep": str})
    epci = gpd.read_file(d / "epci_2026.geojson")
    epci = epci.rename(columns={"epci_nom_2026": "epci_nom", "epci_type_2026": "epci_type"})
    epci = epci[["epci_code", "epci_nom", "epci_type", "geometry"]].sort_values("epci_code").reset_index(drop=True)
    com = com.merge(pop[["code_commune", "population", "dep"]], left_on="code", right_on="code_commune",
                    how="left").drop(columns="code_commune")
    # communes of 2018 merged since: small villages
    com["population"] = com["population"].fillna(150).astype(float)
    com["dep"] = com["dep"].fillna(com["code"].str[:2])
    com = com.sort_values("code").reset_index(drop=True)
    com_m = com.to_crs(B.METRIC_CRS)
    epci_m = epci.to_crs(B.METRIC_CRS)
    rep = com_m.geometry.representative_point()
    # commune -> EPCI by where its representative point falls (robust to code changes since 2018)
    j = gpd.sjoin(gpd.GeoDataFrame(geometry=rep, crs=B.METRIC_CRS), epci_m[["epci_code", "geometry"]],
                  how="left", predicate="within")
    j = j[~j.index.duplicated(keep="first")]
    com_m["epci_code"] = j["epci_code"].reindex(com_m.index).to_numpy()
    if com_m["epci_code"].isna().any():  # on a border: nearest EPCI
        miss = com_m["epci_code"].isna().to_numpy()
        nn = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=rep[miss], crs=B.METRIC_CRS), epci_m[["epci_code",
                                                                                                  "geometry"]])
        nn = nn[~nn.index.duplicated(keep="first")]
        com_m.loc[miss, "epci_code"] = nn["epci_code"].to_numpy()
    total_pop = float(com_m["population"].sum())
    # keep whole EPCIs nearest the centre until their population reaches scale x the region's
    cx, cy = B.to_metric([center_lonlat[0]], [center_lonlat[1]])
    ec = epci_m.geometry.representative_point()
    order = np.argsort(np.hypot(ec.x.to_numpy() - cx[0], ec.y.to_numpy() - cy[0]), kind="stable")
    epop = com_m.groupby("epci_code")["population"].sum()
    chosen, acc = [], 0.0
    for k in order:
        code = epci_m["epci_code"].iloc[k]
        chosen.append(code)
        acc += float(epop.get(code, 0.0))
        if acc >= scale * total_pop * 0.999:
            break
    chosen = sorted(chosen)
    com_m = com_m[com_m["epci_code"].isin(chosen)].reset_index(drop=True)
    epci_m = epci_m[epci_m["epci_code"].isin(chosen)].reset_index(drop=True)
    counts = pd.read_csv(d / "culture_counts_by_commune_basilic.csv", dtype={"code_insee": str})
    return com_m, epci_m, counts, total_pop


def make_region(out_dir, *, scale: float = 1.0, seed: int = 0, data_dir=None, center_lonlat=DEFAULT_CENTER_LONLAT,
                progress: bool = False) -> dict:
    """Generate a region-scale synthetic network on Hauts-de-France's real geography.

    Parameters
    ----------
    out_dir : path-like
        Folder to write into (created if needed).
    scale : float
        1.0: the whole region (about 1 M street nodes, 30,000 stops, 150,000 cells, 5,000 venues). Smaller values
        keep whole intercommunalities nearest ``center_lonlat`` until they hold ``scale`` x the population, and
        scale every target count by the population share kept (0.01 runs in a few seconds).
    seed : int
        Seed of every random choice (same seed, same files).
    data_dir : path-like, optional
        The ``hauts_de_france`` folder of the shared test data (default: ``$ACCESS_TEST_DATA/hauts_de_france``,
        else ``../shared/data/hauts_de_france`` next to the repository).
    center_lonlat : (float, float)
        Where a partial region grows from.
    progress : bool
        Print the stages and their times.

    Returns
    -------
    dict
        Paths by role (``osm``, ``gtfs``, ``filosofi``, ``basilic``, ``epci``, ``recipe``, ``manifest``) and
        ``counts`` (a dict of what was generated).

    Raises
    ------
    InputFileError
        The geography files are missing.

    Examples
    --------
    >>> from access.synth.region import make_region
    >>> out = make_region("region_001", scale=0.01)  # doctest: +SKIP
    >>> out["counts"]["street_nodes"]  # doctest: +SKIP
    """
    import geopandas as gpd
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Delaunay, cKDTree

    if not (0 < scale <= 1.0):
        raise ValueError(f"scale must be in (0, 1], got {scale!r}")
    t_start = time.perf_counter()
    stages: dict[str, float] = {}

    def stage(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        stages[name] = round(t1 - t0, 3)
        if progress:
            print(f"  {name}: {t1 - t0:.1f} s", flush=True)
        return t1

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    d = _geo_dir(data_dir)
    t0 = time.perf_counter()
    com, epci, counts, total_pop = _load_geography(d, scale, center_lonlat)
    t0 = stage("geography", t0)
    n_com = len(com)
    pop = com["population"].to_numpy(float)
    area = com.geometry.area.to_numpy()
    rep = com.geometry.representative_point()
    px, py = rep.x.to_numpy(), rep.y.to_numpy()
    # targets in proportion to the population kept (whole EPCIs), so that densities match the full region's
    share = float(pop.sum()) / total_pop
    target = {k: max(1, int(round(v * share))) for k, v in TARGETS.items()}

    # socio-economic profile: an EPCI effect plus town size
    e_codes = sorted(epci["epci_code"])
    e_pov = dict(zip(e_codes, np.clip(rng.lognormal(np.log(0.14), 0.35, len(e_codes)), 0.05, 0.35)))
    for code in BASSIN_MINIER:
        if code in e_pov:
            e_pov[code] = min(0.35, e_pov[code] * 1.5)
    com_pov = np.array([e_pov[code] for code in com["epci_code"]]) * (1 + 0.15 * np.log10(np.maximum(pop, 100) / 2000))
    com_nv = 21500 * (1 - 1.6 * (com_pov - 0.14)) * rng.lognormal(0, 0.04, n_com)
    com_old = np.clip(0.85 - 0.14 * np.log10(np.maximum(pop, 50) / 50), 0.05, 0.9)
    com_urban = np.clip(0.12 * np.log10(np.maximum(pop, 50) / 200), 0.0, 0.95)

    # ------------------------------------------------------------------ street grids
    b = B.OsmBuilder()
    grid_budget = 0.85 * target["street_nodes"]
    w = np.power(pop, 0.85)  # grids by population
    n_nodes_c = np.maximum(9.0, grid_budget * w / w.sum())
    spacing = np.clip(np.sqrt(0.35 * area / n_nodes_c), 45.0, 150.0)
    radius = spacing * np.sqrt(n_nodes_c / np.pi)
    towns: list[B.Town] = []
    prepared = list(com.geometry)
    for geom in prepared:
        shapely.prepare(geom)
    for k in range(n_com):
        geom = prepared[k]

        def clip(x, y, geom=geom):
            return shapely.contains_xy(geom, x, y)

        t = B.grid_town(b, rng, name=str(com["nom"].iat[k]), code=str(com["code"].iat[k]), pop=pop[k],
                        cx=px[k], cy=py[k], radius_m=float(radius[k]), spacing_m=float(spacing[k]), clip=clip,
                        detail=pop[k] >= 3000)
        b.tag_node(t.center_id, {"place": "city" if pop[k] > 50000 else "town" if pop[k] > 3000 else "village",
                                 "name": t.name, "ref:INSEE": t.code, "population": str(int(pop[k]))})
        towns.append(t)
    n_grid_nodes = b.n_nodes
    t0 = stage("town grids", t0)

    # ------------------------------------------------------------------ roads between neighbouring communes
    pts = np.column_stack([px, py])
    edges: list[tuple[int, int]] = []
    if n_com >= 3:
        tri = Delaunay(pts)
        s = np.sort(np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]]),
                    axis=1)
        s = np.unique(s, axis=0)
        dist = np.hypot(*(pts[s[:, 0]] - pts[s[:, 1]]).T)
        mst = minimum_spanning_tree(coo_matrix((dist + 1e-9, (s[:, 0], s[:, 1])), shape=(n_com, n_com))).tocoo()
        in_mst = set(zip(np.minimum(mst.row, mst.col).tolist(), np.maximum(mst.row, mst.col).tolist()))
        keep = np.array([(int(a), int(c)) in in_mst or dd < 9000 for (a, c), dd in zip(s.tolist(), dist)])
        edges = [tuple(e) for e in s[keep].tolist()]
    elif n_com == 2:
        edges = [(0, 1)]
    road_len = sum(float(np.hypot(*(pts[a] - pts[c]))) for a, c in edges)
    road_budget = max(1.0, target["street_nodes"] - b.n_nodes)
    step_m = float(np.clip(0.6 * road_len / road_budget, 40.0, 800.0))  # roads run edge to edge
    road_x, road_y = [], []
    for a, c in edges:
        lo, hi = sorted((pop[a], pop[c]))
        if lo >= 20000:
            tags = {"highway": "trunk", "maxspeed": "110"}
        elif lo >= 5000 or hi >= 50000:
            tags = {"highway": "primary", "maxspeed": "80"}
        elif lo >= 1500 or hi >= 10000:
            tags = {"highway": "secondary", "maxspeed": "80"}
        elif hi >= 1000:
            tags = {"highway": "tertiary"}
        else:
            tags = {"highway": "unclassified"}
        ta, tc = towns[a], towns[c]
        _, xs, ys = B.road(b, rng, ta.node_toward(tc.cx, tc.cy), tc.node_toward(ta.cx, ta.cy), tags, step_m=step_m)
        road_x.append(xs)
        road_y.append(ys)
    t0 = stage("roads", t0)

    # ------------------------------------------------------------------ transit
    g = B.GtfsBuilder(
        agencies=[{"agency_id": "TER", "agency_name": "TER Synthétique Hauts-de-France",
                   "agency_url": "https://example.org/ter", "agency_timezone": "Europe/Paris", "agency_lang": "fr"},
                  {"agency_id": "URB", "agency_name": "Réseaux urbains synthétiques",
                   "agency_url": "https://example.org/bus", "agency_timezone": "Europe/Paris", "agency_lang": "fr"},
                  {"agency_id": "CAR", "agency_name": "Cars interurbains synthétiques",
                   "agency_url": "https://example.org/car", "agency_timezone": "Europe/Paris", "agency_lang": "fr"}],
        calendar=[{"service_id": "WK", "monday": 1, "tuesday": 1, "wednesday": 1, "thursday": 1, "friday": 1,
                   "saturday": 0, "sunday": 0, "start_date": "20260105", "end_date": "20261231"}],
        calendar_dates=[{"service_id": "WK", "date": "20260514", "exception_type": 2}],
        feed_info={"feed_publisher_name": "access synthetic region", "feed_publisher_url": "https://example.org",
                   "feed_lang": "fr", "feed_start_date": "20260105", "feed_end_date": "20261231",
                   "feed_version": f"region-scale-{scale}-seed-{seed}"},
    )
    # rail: a spanning tree over the towns with a station, cut into lines (chains)
    n_st = int(np.clip(round(0.01 * target["stops"]), 2, 400))
    st_idx = np.sort(np.argsort(-pop, kind="stable")[:min(n_st, n_com)])
    station_stop = {}
    for k in st_idx.tolist():
        t = towns[k]
        nid, sx, sy = t.nearest_node(t.cx + 120.0, t.cy + 80.0)
        station_stop[k] = g.add_stop(f"RAIL_{t.code}", f"Gare de {t.name}", sx + 15.0, sy + 15.0)
        b.tag_node(nid, {"railway": "halt" if pop[k] < 5000 else "station", "name": t.name})
    rail_lines = []
    if len(st_idx) >= 2:
        sp = pts[st_idx]
        if len(st_idx) >= 3:
            tri = Delaunay(sp)
            s = np.unique(np.sort(np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]],
                                                  tri.simplices[:, [0, 2]]]), axis=1), axis=0)
        else:
            s = np.array([[0, 1]])
        dist = np.hypot(*(sp[s[:, 0]] - sp[s[:, 1]]).T)
        mst = minimum_spanning_tree(coo_matrix((dist + 1e-9, (s[:, 0], s[:, 1])),
                                               shape=(len(st_idx), len(st_idx)))).tocoo()
        adj: dict[int, list[int]] = {i: [] for i in range(len(st_idx))}
        for a, c in zip(mst.row.tolist(), mst.col.tolist()):
            adj[a].append(c)
            adj[c].append(a)
        for v in adj:
            adj[v].sort()
        seen = set()
        for v in range(len(st_idx)):  # chains between nodes of degree != 2
            if len(adj[v]) == 2:
                continue
            for nb in adj[v]:
                if (v, nb) in seen:
                    continue
                chain = [v, nb]
                seen.add((v, nb))
                seen.add((nb, v))
                while len(adj[chain[-1]]) == 2 and len(chain) < 12:
                    nxt = [u for u in adj[chain[-1]] if u != chain[-2]][0]
                    seen.add((chain[-1], nxt))
                    seen.add((nxt, chain[-1]))
                    chain.append(nxt)
                rail_lines.append([int(st_idx[u]) for u in chain])
    for li, line in enumerate(rail_lines):
        rid = f"TER{li + 1:03d}"
        g.add_route(rid, "TER", f"K{li + 1}", f"{towns[line[0]].name} - {towns[line[-1]].name}", 2, "1E5AA8")
        stops = np.array([station_stop[k] for k in line])
        big = pop[line].max() > 50000
        deps = np.concatenate([B.headway_departures(6 * 3600, 9 * 3600, 1800 if big else 3600, rng),
                               B.headway_departures(9 * 3600 + 1800, 16 * 3600, 3600, rng),
                               B.headway_departures(16 * 3600 + 900, 20 * 3600, 1800 if big else 3600, rng)])
        for dd, st in ((0, stops), (1, stops[::-1])):
            g.add_pattern(rid, st, speed_kmh=90.0, dwell_s=60, departures_s=deps, service_id="WK", direction_id=dd,
                          headsign=g.stop_name[int(st[-1])], prefix=rid, min_leg_s=120)
        for a, c in zip(line[:-1], line[1:]):
            ia, ic = towns[a].nearest_node(towns[a].cx + 120.0, towns[a].cy + 80.0), \
                towns[c].nearest_node(towns[c].cx + 120.0, towns[c].cy + 80.0)
            B.road(b, rng, ia, ic, {"railway": "rail", "usage": "main"}, step_m=max(400.0, 2 * step_m),
                   wiggle=0.02, max_nodes=60)
    # coaches: chains of the communes' spanning tree, stopping at each commune centre, every two hours
    coach_stops = 0
    coach_budget = int(0.3 * target["stops"])
    if n_com >= 2 and edges:
        e = np.asarray(edges)
        dist = np.hypot(*(pts[e[:, 0]] - pts[e[:, 1]]).T)
        mst = minimum_spanning_tree(coo_matrix((dist + 1e-9, (e[:, 0], e[:, 1])), shape=(n_com, n_com))).tocoo()
        order = np.argsort(np.minimum(mst.row, mst.col) * n_com + np.maximum(mst.row, mst.col), kind="stable")
        adj = {i: [] for i in range(n_com)}
        for a, c in zip(mst.row[order].tolist(), mst.col[order].tolist()):
            adj[a].append(c)
            adj[c].append(a)
        used: set[tuple[int, int]] = set()
        li = 0
        for v in np.argsort(-pop, kind="stable").tolist():  # grow lines out of the bigger towns
            for nb in adj[v]:
                if coach_stops >= coach_budget:
                    break
                if (v, nb) in used:
                    continue
                chain = [v, nb]
                used.update({(v, nb), (nb, v)})
                while len(chain) < 14:
                    nexts = [u for u in adj[chain[-1]] if (chain[-1], u) not in used]
                    if not nexts:
                        break
                    u = nexts[0]
                    used.update({(chain[-1], u), (u, chain[-1])})
                    chain.append(u)
                if len(chain) < 3:
                    continue
                li += 1
                xs = np.array([towns[i].cx + 25.0 for i in chain])
                ys = np.array([towns[i].cy + 25.0 for i in chain])
                nb_before = g.n_stops
                B.add_bus_line(g, rng, route_id=f"CAR{li:04d}", agency_id="CAR", short=f"{100 + li}",
                               long=f"{towns[chain[0]].name} - {towns[chain[-1]].name}", xs=xs, ys=ys, place="Car",
                               headway_s=7200, weekend_headway_s=None, first_s=6 * 3600 + 1800,
                               last_s=19 * 3600 + 1800, speed_kmh=45.0, dwell_s=30, color="2A9D3F")
                for p, i in enumerate(chain):
                    g.stop_name[nb_before + 2 * p] = g.stop_name[nb_before + 2 * p + 1] = f"{towns[i].name} - Mairie"
                coach_stops += 2 * len(chain)
    # town buses, biggest towns first, until the stop budget is spent
    bus_budget = target["stops"] - g.n_stops
    n_lines = 0
    for k in np.argsort(-pop, kind="stable").tolist():
        if g.n_stops >= target["stops"] or pop[k] < 1000:
            break
        t = towns[k]
        lines = int(np.clip(pop[k] / 3500, 1, 40))
        hw = 600 if pop[k] > 80000 else 900 if pop[k] > 30000 else 1200 if pop[k] > 10000 else 1800
        offsets = [0, 0] + [o for m in range(1, 20) for o in (4 * m, -4 * m)]
        for q in range(lines):
            if g.n_stops >= target["stops"]:
                break
            horiz = q % 2 == 0
            ids = B.town_line_nodes(t, horizontal=horiz, offset_k=offsets[q] if q >= 2 else 0)
            every = max(1, int(round(350.0 / t.spacing_m)))
            ids = ids[::every]
            if ids.shape[0] < 3:
                continue
            xs, ys = B.town_node_xy(t, ids)
            n_lines += 1
            B.add_bus_line(g, rng, route_id=f"BUS{n_lines:05d}", agency_id="URB", short=f"{q + 1}",
                           long=f"{t.name} - ligne {q + 1}", xs=xs, ys=ys, place=t.name, headway_s=hw,
                           weekend_headway_s=None, color="E4007C")
    del bus_budget
    t0 = stage("transit", t0)

    # ------------------------------------------------------------------ population cells
    gx_l: list[np.ndarray] = []
    gy_l: list[np.ndarray] = []
    ind_l: list[np.ndarray] = []
    com_l: list[np.ndarray] = []
    urban_share = np.clip(0.55 + 0.1 * np.log10(np.maximum(pop, 100) / 1000), 0.4, 0.97)
    for k, t in enumerate(towns):
        gx, gy, wt = B.town_cells(t)
        gx_l.append(gx)
        gy_l.append(gy)
        ind_l.append(pop[k] * urban_share[k] * wt)
        com_l.append(np.full(gx.shape[0], k, np.int64))
    gx_u = np.concatenate(gx_l)
    gy_u = np.concatenate(gy_l)
    ind_u = np.concatenate(ind_l)
    com_u = np.concatenate(com_l)
    key_u = B.cell_key(gx_u, gy_u)
    n_urban = np.unique(key_u).shape[0]
    cap = int(0.85 * target["cells"])
    if n_urban > cap:
        # too many town cells for the target: drop the least populated (outskirts), keeping each commune's
        # densest cell, and give their people to the commune's remaining town cells
        rank = np.argsort(-ind_u, kind="stable")
        keep_u = np.zeros(ind_u.shape[0], bool)
        keep_u[rank[:cap]] = True
        top = np.full(n_com, -1, np.int64)
        top[com_u[rank[::-1]]] = rank[::-1]  # last write wins: the densest cell of each commune
        keep_u[top[top >= 0]] = True
        before = np.bincount(com_u, weights=ind_u, minlength=n_com)
        gx_u, gy_u, ind_u, com_u = gx_u[keep_u], gy_u[keep_u], ind_u[keep_u], com_u[keep_u]
        after = np.bincount(com_u, weights=ind_u, minlength=n_com)
        ind_u = ind_u * (before / np.maximum(after, 1e-9))[com_u]
        key_u = B.cell_key(gx_u, gy_u)
        n_urban = np.unique(key_u).shape[0]
    n_rural = max(0, target["cells"] - n_urban)
    rx = np.concatenate(road_x) if road_x else np.zeros(0)
    ry = np.concatenate(road_y) if road_y else np.zeros(0)
    if n_rural and rx.shape[0]:
        m = int(n_rural * 1.35)
        pick = rng.integers(0, rx.shape[0], m)
        rr = np.abs(rng.normal(0, 160.0, m)).clip(0, 340)
        ra = rng.uniform(0, 2 * np.pi, m)
        fx, fy = rx[pick] + rr * np.cos(ra), ry[pick] + rr * np.sin(ra)
        gxr = np.floor(fx / 200).astype(np.int64)
        gyr = np.floor(fy / 200).astype(np.int64)
        kr, first = np.unique(B.cell_key(gxr, gyr), return_index=True)
        first = np.sort(first[~np.isin(kr, key_u)])[:n_rural]
        gxr, gyr = gxr[first], gyr[first]
        # the commune of each rural cell: nearest commune point (KD-tree), then real containment where it differs
        tree = cKDTree(pts)
        _, near = tree.query(np.column_stack([(gxr + 0.5) * 200, (gyr + 0.5) * 200]))
        rural_w = rng.lognormal(0, 0.7, gxr.shape[0])
        per_com = np.bincount(near, weights=rural_w, minlength=n_com)
        rural_pop = pop * (1 - urban_share)
        ind_r = rural_pop[near] * rural_w / np.maximum(per_com[near], 1e-9)
        # communes with no rural cell keep their whole population in town
        none = per_com == 0
        ind_u = ind_u * np.where(none[com_u], 1.0 / urban_share[com_u], 1.0)
        gx_all = np.concatenate([gx_u, gxr])
        gy_all = np.concatenate([gy_u, gyr])
        ind_all = np.concatenate([ind_u, ind_r])
        com_all = np.concatenate([com_u, near])
        urb_flag = np.concatenate([np.ones(gx_u.shape[0], bool), np.zeros(gxr.shape[0], bool)])
    else:
        ind_u = ind_u / urban_share[com_u]
        gx_all, gy_all, ind_all, com_all = gx_u, gy_u, ind_u, com_u
        urb_flag = np.ones(gx_u.shape[0], bool)
    key_all = B.cell_key(gx_all, gy_all)
    uk, first, inv = np.unique(key_all, return_index=True, return_inverse=True)
    ind_c = np.bincount(inv, weights=ind_all)
    gx_c, gy_c = gx_all[first], gy_all[first]
    com_c = com_all[first]
    urb_c = urb_flag[first]
    keep = ind_c >= 0.5
    gx_c, gy_c, ind_c, com_c, urb_c = gx_c[keep], gy_c[keep], ind_c[keep], com_c[keep], urb_c[keep]
    dcen = np.hypot((gx_c + 0.5) * 200 - px[com_c], (gy_c + 0.5) * 200 - py[com_c])
    fil = filosofi_table(gx_c, gy_c, np.round(ind_c, 1), poverty=com_pov[com_c], living_std_eur=com_nv[com_c],
                         old=np.where(urb_c, com_old[com_c], np.maximum(com_old[com_c], 0.7)),
                         urban=np.where(urb_c, com_urban[com_c] * np.exp(-dcen / 4000.0), 0.03),
                         lcog_geo=com["code"].to_numpy()[com_c], rng=rng)
    t0 = stage("population", t0)

    # ------------------------------------------------------------------ venues
    codes = com["code"].to_numpy()
    code_idx = {c: i for i, c in enumerate(codes)}
    cnt = counts[counts["code_insee"].isin(code_idx)].sort_values(["code_insee", "Type équipement ou lieu"])
    # the real counts of the kept communes, scaled to the target (stochastic rounding keeps rare types)
    exp_n = cnt["count"].to_numpy(float) * target["venues"] / max(1.0, float(cnt["count"].sum()))
    n_v = np.floor(exp_n + rng.random(exp_n.shape[0])).astype(np.int64)
    rows = []
    for (code, typ), nv in zip(cnt[["code_insee", "Type équipement ou lieu"]].itertuples(index=False), n_v):
        t = towns[code_idx[code]]
        dcent = np.hypot(t.node_x - t.cx, t.node_y - t.cy)
        central = np.flatnonzero(dcent <= max(t.spacing_m * 1.5, 0.5 * t.radius_m))
        for q in range(int(nv)):
            j = int(rng.choice(central))
            rows.append((f"{typ} {t.name}" + (f" {q + 1}" if nv > 1 else ""), typ, t,
                         t.node_x[j] + rng.uniform(-20, 20), t.node_y[j] + rng.uniform(-20, 20)))
    venues = _venue_frame(rows, com, code_idx, rng)
    t0 = stage("venues", t0)

    # ------------------------------------------------------------------ write
    paths = {"osm": out / "region.osm.pbf", "gtfs": out / "region.gtfs.zip",
             "filosofi": out / "carreaux_200m_met.gpkg", "basilic": out / "basilic.csv",
             "epci": out / "epci.geojson", "recipe": out / "region.toml", "manifest": out / "manifest.json"}
    b.write(paths["osm"])
    t0 = stage("write osm", t0)
    gtfs_counts = g.write(paths["gtfs"])
    t0 = stage("write gtfs", t0)
    write_filosofi_gpkg(fil, paths["filosofi"])
    write_basilic_csv(venues, paths["basilic"])
    write_geojson(epci, paths["epci"])
    bounds = gpd.GeoSeries(list(epci.geometry), crs=B.METRIC_CRS).to_crs("EPSG:4326").total_bounds
    priority = [c for c in BASSIN_MINIER if c in set(e_codes)]
    write_recipe(paths["recipe"], name=f"Hauts-de-France synthetic (scale {scale:g})",
                 bbox=[float(v) for v in bounds], date=ANALYSIS_DATE, departure="14:00", window_min=30,
                 modes=["walk", "bike", "car", "transit"], thresholds_min=[10, 20, 30, 45], max_time_min=60,
                 categories=["cinema", "library", "museum", "performing_arts", "conservatoire", "arts_centre"],
                 priority_zones=[{"name": "Bassin minier", "epci": priority}] if priority else [],
                 sources={
                     "osm": {"kind": "osm", "format": "osm.pbf", "path": paths["osm"].name,
                             "licence": "synthetic (access)"},
                     "gtfs": {"kind": "gtfs", "format": "gtfs.zip", "path": paths["gtfs"].name,
                              "licence": "synthetic (access)"},
                     "filosofi_200m": {"kind": "filosofi", "format": "gpkg", "path": paths["filosofi"].name,
                                       "licence": "synthetic (access)"},
                     "basilic": {"kind": "basilic", "format": "csv", "path": paths["basilic"].name,
                                 "licence": "synthetic (access); counts per commune from Basilic"},
                     "epci": {"kind": "epci", "format": "geojson", "path": paths["epci"].name,
                              "licence": "Licence Ouverte 2.0 (geometry of the shared test data)"},
                 },
                 comment=f"Region-scale synthetic network: access.synth.region.make_region(scale={scale}, "
                         f"seed={seed}).\nStreets, transit, population and venue positions are invented; "
                         "communes, intercommunalities and venue counts are real.")
    stage("write others", t0)
    cnts = {"street_nodes": int(b.n_nodes), "grid_nodes": int(n_grid_nodes), "ways": int(b.n_ways),
            "communes": int(n_com), "epci": int(len(epci)), "stops": int(g.n_stops),
            "routes": int(gtfs_counts.get("routes.txt", 0)), "trips": int(gtfs_counts.get("trips.txt", 0)),
            "stop_times": int(gtfs_counts.get("stop_times.txt", 0)), "cells": int(len(fil)),
            "population": float(fil["ind"].sum()), "venues": int(len(venues)), "road_step_m": round(step_m, 1),
            "highway": b.tag_counts("highway")}
    manifest = {"generator": "access.synth.region.make_region", "scale": scale, "seed": seed,
                "targets": target, "counts": cnts, "epci_codes": e_codes, "priority": priority,
                "region_population": total_pop, "stages_s": stages,
                "seconds": round(time.perf_counter() - t_start, 3), "files": {k: p.name for k, p in paths.items()}}
    from .._io_util import atomic_path

    with atomic_path(paths["manifest"], suffix=".json") as tmp:
        # timings vary from run to run: keep them out of the file so that it is reproducible
        tmp.write_text(json.dumps({k: v for k, v in manifest.items() if k not in ("stages_s", "seconds")},
                                  indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    res: dict = dict(paths)
    res["counts"] = cnts
    res["stages_s"] = stages
    return res


def _venue_frame(rows, com, code_idx, rng) -> pd.DataFrame:
    cols = ["Nom", "Type équipement ou lieu", "Adresse postale", "Code Postal", "Commune", "code_insee", "Région",
            "Département", "Latitude", "Longitude", "coordonnees_GPS"]
    if not rows:
        return pd.DataFrame(columns=cols)
    lon, lat = B.to_lonlat(np.array([r[3] for r in rows]), np.array([r[4] for r in rows]))
    deps = {"02": "Aisne", "59": "Nord", "60": "Oise", "62": "Pas-de-Calais", "80": "Somme"}
    out = []
    for (nm, typ, t, _, _), lo, la in zip(rows, lon, lat):
        out.append({"Nom": nm, "Type équipement ou lieu": typ,
                    "Adresse postale": f"{int(rng.integers(1, 150))} rue de la République",
                    "Code Postal": f"{t.code[:2]}{int(t.code[2:]) % 900 + 100:03d}", "Commune": t.name,
                    "code_insee": t.code, "Région": "Hauts-de-France", "Département": deps.get(t.code[:2], ""),
                    "Latitude": round(float(la), 6), "Longitude": round(float(lo), 6),
                    "coordonnees_GPS": f"{la:.6f}, {lo:.6f}"})
    return pd.DataFrame(out, columns=cols)
