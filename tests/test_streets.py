"""Street networks: kernel vs scipy on real graphs, mode rules, snapping, osmnx interop, bundle, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse.csgraph as csg
from hypothesis import given, settings
from hypothesis import strategies as st

import access
from access import InputFileError, NetworkError, ValidationError
from access.core import dijkstra as dj
from access.io.osm import read_highways
from access.network.profiles import parse_maxspeed, way_rule
from access.network.street import build_street_graph

from .conftest import data_file
from .osm_snippets import grid_osm, write_osm


def _scipy_times(g, sources, limit=None, reverse=False):
    A = g.to_scipy()
    if reverse:
        A = A.T.tocsr()
    D = csg.dijkstra(A, indices=np.asarray(sources), limit=np.inf if limit is None else limit)
    D[~np.isfinite(D)] = -1
    return D.astype(np.int64)


@pytest.mark.parametrize("mode", ["walk", "bike", "car"])
@pytest.mark.parametrize("city", ["poa", "nantes"])
def test_kernel_equals_scipy(city, mode, poa_ways, nantes_ways):
    ways = poa_ways if city == "poa" else nantes_ways
    g = build_street_graph(ways, mode)
    rng = np.random.default_rng(7)
    src = rng.choice(g.n_nodes, size=40, replace=False)
    ours = g.shortest_times(src)
    assert ours.dtype == np.int32
    np.testing.assert_array_equal(ours, _scipy_times(g, src))
    # bounded: 10 minutes
    np.testing.assert_array_equal(g.shortest_times(src, max_time_s=600), _scipy_times(g, src, limit=600))
    # reverse search == forward search on the transposed graph
    np.testing.assert_array_equal(g.shortest_times(src, reverse=True), _scipy_times(g, src, reverse=True))
    # one strongly connected component: everything reachable unbounded
    assert (ours >= 0).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(1, 50)), min_size=1, max_size=150),
    st.integers(0, n - 1), st.integers(1, 200))))
def test_kernel_random_graphs(case):
    import scipy.sparse as sp

    n, edges, src, bound = case
    e = np.array(edges)
    e = e[e[:, 0] != e[:, 1]]
    if len(e) == 0:
        return
    order = np.lexsort((e[:, 1], e[:, 0]))
    e = e[order]
    first_out = np.searchsorted(e[:, 0], np.arange(n + 1)).astype(np.int32)
    head = e[:, 1].astype(np.int32)
    w = e[:, 2].astype(np.int32)
    seeds = np.array([[src]], np.int32)
    ours = dj.to_public(dj.sssp_many(first_out, head, w, seeds, np.zeros_like(seeds), np.int32(bound)))[0]
    # scipy sums duplicate entries: reduce to the min first
    key = e[:, 0] * n + e[:, 1]
    best = pd.Series(w, index=key).groupby(level=0).min()
    A = sp.csr_matrix((best.to_numpy().astype(float), (best.index // n, best.index % n)), shape=(n, n))
    ref = csg.dijkstra(A, indices=src, limit=bound)
    ref[~np.isfinite(ref)] = -1
    np.testing.assert_array_equal(ours, ref.astype(int))


def test_mode_rules_on_snippets(tmp_path):
    p = grid_osm(tmp_path / "a.osm", {
        1: {"highway": "residential", "oneway": "yes"},
        2: {"highway": "motorway"},
        3: {"highway": "residential", "access": "no"},
        4: {"highway": "residential", "oneway": "-1", "maxspeed": "30 mph"},
    })
    ways = read_highways(p)
    walk = build_street_graph(ways, "walk", largest_component=False)
    car = build_street_graph(ways, "car", largest_component=False)
    bike = build_street_graph(ways, "bike", largest_component=False)

    def edges(g):
        return {(int(g.osm_node_id[t]), int(g.osm_node_id[h]), int(w))
                for t, h, w in zip(g.tail, g.head, g.way_id)}

    # walking ignores oneway, not the motorway, not access=no
    assert edges(walk) == {(1, 2, 1), (2, 1, 1), (4, 1, 4), (1, 4, 4)}
    # car: oneway yes 1->2, motorway implied oneway 2->3, access=no excluded, oneway=-1 reversed (1 -> 4)
    assert edges(car) == {(1, 2, 1), (2, 3, 2), (1, 4, 4)}
    e4 = [i for i in range(car.n_edges) if car.way_id[i] == 4][0]
    # 30 mph = 48.28 km/h over ~111 m -> about 8 s
    assert abs(car.travel_time_s[e4] - car.length_m[e4] / (48.28032 / 3.6)) <= 0.5
    assert edges(bike) == {(1, 2, 1), (1, 4, 4)}
    # walking at 3.6 km/h = 1 m/s: seconds ~ metres
    assert np.all(np.abs(walk.travel_time_s - walk.length_m) <= 0.5)


def test_profiles_pure_rules():
    assert parse_maxspeed("50") == 50.0
    assert parse_maxspeed("FR:urban") == 50.0 and parse_maxspeed("FR:rural") == 80.0
    assert parse_maxspeed("none") == 130.0 and parse_maxspeed("signals") is None
    assert parse_maxspeed("50;30") == 30.0
    assert way_rule({"highway": "footway"}, "car")[:2] == (False, False)
    assert way_rule({"highway": "footway", "bicycle": "yes"}, "bike")[:2] == (True, True)
    assert way_rule({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, "bike")[:2] == (True, True)
    assert way_rule({"highway": "residential", "junction": "roundabout"}, "car")[:2] == (True, False)
    assert way_rule({"highway": "primary", "motor_vehicle": "no"}, "car")[:2] == (False, False)
    assert way_rule({"highway": "primary", "access": "no", "motorcar": "yes"}, "car")[:2] == (True, True)
    assert way_rule({"highway": "pedestrian", "area": "yes"}, "walk")[:2] == (False, False)
    assert way_rule({"highway": "construction"}, "walk")[:2] == (False, False)
    assert way_rule({"highway": "trunk", "motorroad": "yes"}, "bike")[:2] == (False, False)


def test_intersections_only_as_nodes(tmp_path):
    # one straight way of 5 vertices crossed by another way at its 3rd vertex: 4 graph nodes + the crossing's ends
    nodes = {i: (2.0 + 0.001 * i, 50.0) for i in range(1, 6)}
    nodes.update({10: (2.003, 49.999), 11: (2.003, 50.001)})
    p = write_osm(tmp_path / "b.osm", nodes, [(1, [1, 2, 3, 4, 5], {"highway": "residential"}),
                                              (2, [10, 3, 11], {"highway": "residential"})])
    g = build_street_graph(read_highways(p), "walk")
    assert set(g.osm_node_id.tolist()) == {1, 3, 5, 10, 11}
    assert g.n_edges == 8
    # geometry of the edge 1 -> 3 keeps vertex 2
    e = [i for i in range(g.n_edges) if g.osm_node_id[g.tail[i]] == 1][0]
    geom = g.geom_lonlat[g.geom_offsets[e]:g.geom_offsets[e + 1]]
    assert len(geom) == 3 and np.allclose(geom[1], [2.002, 50.0])


def test_snap_counts_partial_edges(poa_network):
    g = poa_network.street("walk")
    e = int(np.argmax(g.length_m))  # a long edge
    geom = g.geom_lonlat[g.geom_offsets[e]:g.geom_offsets[e + 1]]
    # a point on the edge's geometry (midpoint of its first segment)
    lon, lat = (geom[0] + geom[1]) / 2
    s = g.snap([lon], [lat])
    assert s.snapped[0] and s.distance_m[0] < 1.0
    se = s.edge[0]
    assert se in (e, g.reverse_edge[e])
    t = g.travel_time_s[se]
    # costs to the two ends add up to the edge's time (within rounding)
    assert abs(int(s.access_cost_s[0, 0]) + int(s.access_cost_s[0, 1]) - t) <= 2
    assert abs(int(s.egress_cost_s[0, 0]) + int(s.egress_cost_s[0, 1]) - t) <= 2


def test_matrix_equals_scipy_composition(poa_network, poa_hexgrid):
    """The matrix kernel == min over (origin seed, destination egress) of scipy distances."""
    g = poa_network.street("walk")
    pts = poa_hexgrid.sample(60, random_state=1).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", access.AccessWarning)  # one hexagon lies off the extract
        ttm = access.travel_time_matrix(poa_network, pts, mode="walk", max_time_min=60, progress=False)
    s = g.snap(pts.lon, pts.lat, warn=False)
    speed = 3.6 / 3.6  # walk connector, m/s
    nodes = np.unique(s.access_node[s.access_node >= 0])
    Dn = csg.dijkstra(g.to_scipy(), indices=nodes)
    row = {n: i for i, n in enumerate(nodes)}
    ref = np.full((len(pts), len(pts)), -1)
    for i in range(len(pts)):
        for j in range(len(pts)):
            best = np.inf
            for a in range(2):
                if s.access_node[i, a] < 0:
                    continue
                for b in range(2):
                    if s.egress_node[j, b] < 0:
                        continue
                    best = min(best, s.access_cost_s[i, a] + Dn[row[s.access_node[i, a]], s.egress_node[j, b]]
                               + s.egress_cost_s[j, b])
            if s.snapped[i] and s.snapped[j] and s.edge[i] == s.edge[j]:
                # both on one segment: straight along it, if the direction is allowed
                e = s.edge[i]
                fi, fj = s.fraction[i], s.fraction[j]
                te = g.travel_time_s[e] if fj >= fi else (g.travel_time_s[g.reverse_edge[e]] if g.reverse_edge[e] >= 0 else None)
                if te is not None:
                    direct = (round(s.distance_m[i] / speed) + round(s.distance_m[j] / speed)
                              + round(abs(fj - fi) * te))
                    best = min(best, direct)
            if i == j and s.snapped[i]:
                best = 0  # a point to itself
            if best <= 3600:
                ref[i, j] = best
    np.testing.assert_array_equal(ttm.times_s[:, :, 0], ref)
    df = ttm.to_frame()
    assert list(df.columns) == ["from_id", "to_id", "travel_time"] and len(df) == 3600
    assert np.allclose(df.travel_time.to_numpy(), np.where(ref.reshape(-1) < 0, np.nan, ref.reshape(-1) / 60),
                       equal_nan=True)


def test_osmnx_interop(tmp_path, poa_ways):
    import networkx as nx
    import osmnx as ox

    nodes = {i: (2.0 + 0.001 * (i % 4), 50.0 + 0.001 * (i // 4)) for i in range(16)}
    ways = []
    for r in range(4):
        ways.append((100 + r, [4 * r + c for c in range(4)], {"highway": "residential", "maxspeed": str(20 + 10 * r)}))
    for c in range(4):
        ways.append((200 + c, [4 * r + c for r in range(4)], {"highway": "tertiary", "oneway": "yes" if c == 1 else "no"}))
    p = write_osm(tmp_path / "grid.osm", nodes, ways)
    G = ox.graph_from_xml(p, simplify=True, retain_all=True)
    G = ox.add_edge_speeds(G)
    G = ox.add_edge_travel_times(G)
    g = access.StreetGraph.from_osmnx(G, mode="car")
    assert g.n_nodes == G.number_of_nodes()
    H = nx.MultiDiGraph()
    for u, v, d in G.edges(data=True):
        H.add_edge(u, v, w=max(1, int(round(d["travel_time"]))))
    nodes_list = list(G.nodes)
    for s in range(len(nodes_list)):
        ref = nx.single_source_dijkstra_path_length(H, nodes_list[s], weight="w")
        ours = g.shortest_times([s])[0]
        for t, n in enumerate(nodes_list):
            assert ours[t] == ref.get(n, -1)
    # and back to networkx
    G2 = g.to_networkx()
    assert G2.number_of_edges() == g.n_edges


def test_bundle_roundtrip_and_determinism(tmp_path):
    pbf = data_file("porto_alegre", "poa_osm.pbf")
    a = access.TransportNetwork.from_files(pbf, modes=["car"])
    b = access.TransportNetwork.from_files(pbf, modes=["car"])
    for k, v in a.street("car").to_arrays()[0].items():
        np.testing.assert_array_equal(v, b.street("car").to_arrays()[0][k])
    a.save(tmp_path / "bundle")
    c = access.TransportNetwork.load(tmp_path / "bundle")
    assert isinstance(c.street("car").head, np.memmap)
    for k, v in a.street("car").to_arrays()[0].items():
        np.testing.assert_array_equal(v, c.street("car").to_arrays()[0][k])
    # cache: second call is a load
    n1 = access.TransportNetwork.from_files(pbf, modes=["car"], cache_dir=tmp_path / "cache")
    n2 = access.TransportNetwork.from_files(pbf, modes=["car"], cache_dir=tmp_path / "cache")
    assert n1.manifest["key"] == n2.manifest["key"]
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert not list(tmp_path.glob(".*"))  # no temp leftovers


# ------------------------------------------------------------------------------------------- bad input
def test_missing_truncated_and_non_osm_files(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_highways(tmp_path / "nope.osm.pbf")
    src = data_file("porto_alegre", "poa_osm.pbf").read_bytes()
    (tmp_path / "cut.osm.pbf").write_bytes(src[: len(src) // 2])
    with pytest.raises(InputFileError, match="truncated|cannot read"):
        read_highways(tmp_path / "cut.osm.pbf")
    (tmp_path / "notosm.pbf").write_text("id,lon,lat\n1,2,3\n")
    with pytest.raises(InputFileError, match="cannot read"):
        read_highways(tmp_path / "notosm.pbf")
    (tmp_path / "empty.pbf").write_bytes(b"")
    with pytest.raises(InputFileError, match="empty"):
        read_highways(tmp_path / "empty.pbf")


def test_no_usable_ways_for_a_mode(tmp_path):
    p = grid_osm(tmp_path / "foot.osm", {i: {"highway": "footway"} for i in range(1, 5)})
    with pytest.raises(NetworkError, match="no way usable by mode 'car'"):
        build_street_graph(read_highways(p), "car")


def test_bad_points(poa_network, poa_hexgrid):
    import geopandas as gpd

    net = poa_network
    dup = poa_hexgrid.head(5).copy()
    dup.loc[1, "id"] = dup.loc[0, "id"]
    with pytest.raises(ValidationError, match="duplicate ids"):
        access.travel_time_matrix(net, dup, mode="walk", progress=False)
    miss = poa_hexgrid.head(5).copy()
    miss.loc[2, "id"] = None
    with pytest.raises(ValidationError, match="missing ids"):
        access.travel_time_matrix(net, miss, mode="walk", progress=False)
    with pytest.raises(ValidationError, match="no 'id' column"):
        access.travel_time_matrix(net, poa_hexgrid.drop(columns="id").head(3), mode="walk", progress=False)
    with pytest.raises(ValidationError, match="no geometry and no lon/lat"):
        access.travel_time_matrix(net, poa_hexgrid[["id", "population"]].head(3), mode="walk", progress=False)
    g = gpd.GeoDataFrame(poa_hexgrid.head(3), geometry=gpd.points_from_xy(poa_hexgrid.head(3).lon, poa_hexgrid.head(3).lat))
    with pytest.raises(ValidationError, match="no CRS"):
        access.travel_time_matrix(net, g, mode="walk", progress=False)
    with pytest.raises(ValidationError, match="empty"):
        access.travel_time_matrix(net, poa_hexgrid.head(0), mode="walk", progress=False)
    far = pd.DataFrame({"id": ["a", "b"], "lon": [2.35, 2.36], "lat": [48.85, 48.86]})
    with pytest.raises(NetworkError, match="farther than max_snap_m"):
        access.travel_time_matrix(net, far, mode="walk", progress=False)
    some = pd.concat([poa_hexgrid.head(3)[["id", "lon", "lat"]], far])
    with pytest.warns(access.AccessWarning, match=r"2 of 5 origins .* e.g. ids \['a', 'b'\]"):
        ttm = access.travel_time_matrix(net, some, mode="walk", progress=False)
    assert (ttm.times_s[3:, :, 0] == -1).all()
    with pytest.raises(ValidationError, match="`mode` must be one of"):
        access.travel_time_matrix(net, some, mode="plane", progress=False)


def test_cli_build_and_matrix(tmp_path, poa_hexgrid):
    from access.cli import main

    pbf = data_file("porto_alegre", "poa_osm.pbf")
    assert main(["network", "build", "--osm", str(pbf), "--out", str(tmp_path / "net"), "--modes", "walk"]) == 0
    poa_hexgrid.head(50).to_csv(tmp_path / "pts.csv", index=False)
    out = tmp_path / "m.parquet"
    assert main(["matrix", "--network", str(tmp_path / "net"), "--origins", str(tmp_path / "pts.csv"),
                 "--mode", "walk", "--out", str(out), "--max-time", "30"]) == 0
    df = pd.read_parquet(out)
    assert list(df.columns) == ["from_id", "to_id", "travel_time"] and len(df) == 2500
    assert (df.travel_time.dropna() <= 30).all()
    # a bad file gives a one-line error and exit code 2, no output
    (tmp_path / "bad.csv").write_text("id,lon,lat\n1,x,y\n")
    assert main(["matrix", "--network", str(tmp_path / "net"), "--origins", str(tmp_path / "bad.csv"),
                 "--mode", "walk", "--out", str(tmp_path / "bad.parquet")]) == 2
    assert not (tmp_path / "bad.parquet").exists()


def test_closed_edges_and_heap_fallback(poa_network):
    """Edges with weight INF are skipped; huge weights use the heap path; both == scipy on the same graph."""
    g = poa_network.street("car")
    rng = np.random.default_rng(3)
    w = g.travel_time_s.copy()
    closed = rng.choice(g.n_edges, size=500, replace=False)
    w[closed] = dj.INF
    g2 = g.with_travel_times(w)
    src = rng.choice(g.n_nodes, size=20, replace=False)
    keep = w != dj.INF
    import scipy.sparse as sp

    ours = g2.shortest_times(src)
    key = g.tail[keep].astype(np.int64) * g.n_nodes + g.head[keep]
    best = pd.Series(w[keep], index=key).groupby(level=0).min()
    A = sp.csr_matrix((best.to_numpy().astype(float), (best.index // g.n_nodes, best.index % g.n_nodes)),
                      shape=(g.n_nodes, g.n_nodes))
    ref = csg.dijkstra(A, indices=src)
    ref[~np.isfinite(ref)] = -1
    np.testing.assert_array_equal(ours, ref.astype(np.int64))
    # a very long edge forces the heap fallback
    w3 = g.travel_time_s.copy()
    w3[0] = 2**22
    g3 = g.with_travel_times(w3)
    np.testing.assert_array_equal(g3.shortest_times(src), _scipy_times(g3, src))
