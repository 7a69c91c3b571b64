"""Scenarios on real data: street edits vs independent rebuilds (scipy), incremental venue updates vs full
recomputation (Porto Alegre, Nantes), transit edits, bad files, comparisons and the CLI."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

import access
from access import ScenarioError
from access.scenarios import AccessibilityState, Scenario, venue_column, venue_columns

from .conftest import data_file

POA_DAY = dt.datetime(2019, 5, 13, 14, 0)


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def poa_venues(poa_hexgrid):
    h = poa_hexgrid
    s, c = h[h.schools > 0], h[h.healthcare > 0]
    return pd.concat([pd.DataFrame({"id": "s" + s.id, "lon": s.lon, "lat": s.lat, "category": "school",
                                    "capacity": s.schools}),
                      pd.DataFrame({"id": "h" + c.id, "lon": c.lon, "lat": c.lat, "category": "health",
                                    "capacity": c.healthcare})], ignore_index=True)


@pytest.fixture(scope="module")
def poa_bridges(poa_network):
    """OSM way ids tagged bridge=yes with a highway tag (read with pyosmium, independently of access.io), kept
    where some street graph holds them (others are not usable ways or lie off the largest component)."""
    import osmium

    out = []
    for o in osmium.FileProcessor(str(data_file("porto_alegre", "poa_osm.pbf")), osmium.osm.WAY):
        if o.tags.get("bridge") == "yes" and "highway" in o.tags:
            out.append(o.id)
    held = np.concatenate([poa_network.street(m).way_id for m in poa_network.modes])
    return [w for w in out if np.isin(w, held)]


@pytest.fixture(scope="module")
def nantes_network(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("nantes", "nantes_subset.osm.pbf"), modes=("walk", "car"),
                                                  cache_dir=tmp_path_factory.mktemp("nantes_cache"))


@pytest.fixture(scope="module")
def poa_transit(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                  gtfs=[data_file("porto_alegre", "poa_eptc.zip")], modes=("walk",),
                                                  cache_dir=tmp_path_factory.mktemp("poa_transit"))


def _inf(t):
    t = t.astype(np.float64)
    t[t < 0] = np.inf
    return t


def _scipy_times(first_out, head, weight, n, src):
    tail = np.repeat(np.arange(n), np.diff(first_out))
    key = tail.astype(np.int64) * n + head
    best = pd.Series(weight, index=key).groupby(level=0).min()
    A = sp.csr_matrix((best.to_numpy().astype(float), (best.index // n, best.index % n)), shape=(n, n))
    return csg.dijkstra(A, indices=src)


# ------------------------------------------------------------------------------------------------ parsing
def test_duplicate_edit_names_in_one_file():
    with pytest.raises(ScenarioError, match="edit name 'x' is used twice"):
        Scenario.from_dict({"venues": {"remove": [{"name": "x", "ids": ["a"]}, {"name": "x", "ids": ["b"]}]}})


def test_parse_compose_include(tmp_path):
    (tmp_path / "base.toml").write_text('name = "base"\n[[venues.add]]\nname = "lib A"\nid = "A"\nlon = -51.2\n'
                                        'lat = -30.03\ncategory = "library"\ncapacity = 2\n')
    (tmp_path / "s.toml").write_text(
        'name = "main"\ninclude = ["base.toml"]\n'
        '[[streets.speed]]\nname = "zone 30"\nhighway = ["residential"]\nspeed_kmh = 30\n'
        '[[streets.close]]\nname = "bridge"\nway_ids = [1, 2]\n'
        '[[streets.close]]\nname = "centre"\npolygon = "POLYGON ((-51.23 -30.03, -51.22 -30.03, -51.22 -30.02, '
        '-51.23 -30.02, -51.23 -30.03))"\nmodes = ["car"]\n')
    s = Scenario.from_file(tmp_path / "s.toml")
    assert [e.name for e in s.edits] == ["lib A", "bridge", "centre", "zone 30"]  # included first, then fixed order
    assert s.of("streets")[0].params["modes"] == ("walk", "bike", "car")
    assert s.of("streets")[2].params["modes"] == ("car",)  # speed edits default to cars
    assert s.changes_network
    assert not Scenario.from_file(tmp_path / "base.toml").changes_network
    both = Scenario.from_file(tmp_path / "base.toml") + Scenario.from_dict({"name": "x", "venues": {"remove": [
        {"name": "rm", "ids": ["A"]}]}})
    assert [e.label for e in both.edits] == ["venues.add", "venues.remove"]
    with pytest.raises(ScenarioError, match="edit name 'lib A' is used twice"):
        Scenario.from_file(tmp_path / "base.toml") + Scenario.from_file(tmp_path / "base.toml")
    # GeoJSON coordinates give the same polygon as WKT
    g = Scenario.from_dict({"streets": {"close": [{"name": "p", "polygon": [[-51.23, -30.03], [-51.22, -30.03],
                                                                            [-51.22, -30.02], [-51.23, -30.02]]}]}})
    assert g.edits[0].params["polygon"].equals(s.of("streets")[1].params["polygon"])


@pytest.mark.parametrize("d, match", [
    ({"streets": {"speed": [{"name": "fast", "way_ids": [1], "speed_kmh": 0}]}},
     r"edit 'fast' .*`speed_kmh` must be > 0"),
    ({"streets": {"speed": [{"name": "both", "way_ids": [1], "speed_kmh": 3, "factor": 2}]}}, "exactly one of"),
    ({"streets": {"close": [{"name": "nothing"}]}}, r"edit 'nothing' \(streets.close\): select streets"),
    ({"streets": {"close": [{"name": "poly", "polygon": "POLYGON ((0 0, 1"}]}}, "edit 'poly'.*neither WKT"),
    ({"streets": {"close": [{"name": "hw", "highway": ["autobahn"]}]}}, "edit 'hw'.*unknown highway class"),
    ({"transit": {"headway": [{"name": "every 0", "route_id": "R4", "headway_min": 0}]}},
     r"edit 'every 0' \(transit.headway\): `headway_min` must be > 0"),
    ({"transit": {"add_route": [{"name": "L", "route_id": "L", "stop_ids": ["1", "2"], "headway_min": 0,
                                 "start": "07:00", "end": "09:00"}]}}, "edit 'L'.*`headway_min` must be > 0"),
    ({"transit": {"add_route": [{"name": "L2", "route_id": "L", "stop_ids": ["1", "2"], "headway_min": 5,
                                 "start": "9:00", "end": "7:00"}]}}, "edit 'L2'.*must be after"),
    ({"venues": {"add": [{"name": "v", "id": "x", "lon": 500, "lat": 0}]}}, "edit 'v'.*not a lon/lat"),
    ({"venues": {"modify": [{"name": "m", "id": "x"}]}}, "edit 'm'.*give `capacity`"),
    ({"streets": {"fly": [{"name": "m"}]}}, r"unknown edit kind\(s\) \['streets.fly'\]"),
    ({"streets": {"close": [{"name": "typo", "way_id": [1]}]}}, r"edit 'typo'.*unknown key\(s\) \['way_id'\]"),
])
def test_bad_values_name_the_edit(d, match):
    with pytest.raises(ScenarioError, match=match):
        Scenario.from_dict(dict(name="bad", **d))


def test_bad_files_fail_on_the_network(tmp_path, poa_network, poa_transit, poa_hexgrid, poa_venues):
    def run(toml, net=poa_network):
        p = tmp_path / "bad.toml"
        p.write_text(toml)
        return Scenario.from_file(p).apply(net)

    with pytest.raises(ScenarioError, match=r"scenario 'bad', edit 'ghost bridge' \(streets.close\): way id\(s\) "
                                            r"\[999999999999\] are not in the walk/bike/car"):
        run('[[streets.close]]\nname = "ghost bridge"\nway_ids = [999999999999]\n')
    with pytest.raises(ScenarioError, match="edit 'to Paris'.*point `to` .* is off the walk network"):
        run('[[streets.link]]\nname = "to Paris"\nfrom = [-51.22, -30.03]\nto = [2.35, 48.85]\nmodes = ["walk"]\n')
    with pytest.raises(ScenarioError, match="edit 'empty'.*matches no street"):
        run('[[streets.close]]\nname = "empty"\npolygon = [[0, 0], [0.01, 0], [0.01, 0.01]]\n')
    with pytest.raises(ScenarioError, match=r"edit 'gone' \(transit.remove_stops\): stop id 'NOPE' does not exist"):
        run('[[transit.remove_stops]]\nname = "gone"\nstop_ids = ["NOPE"]\n', poa_transit)
    with pytest.raises(ScenarioError, match=r"edit 'rt' \(transit.add_route\): stop id 'NOPE' does not exist"):
        run('[[transit.add_route]]\nname = "rt"\nroute_id = "X"\nstop_ids = ["1028", "NOPE"]\nheadway_min = 10\n'
            'start = "12:00"\nend = "13:00"\n', poa_transit)
    with pytest.raises(ScenarioError, match="edit 'far line'.*stop 1 .* is off the walk network"):
        run('[[transit.add_route]]\nname = "far line"\nroute_id = "X"\nstops = [[-51.22, -30.03], [2.35, 48.85]]\n'
            'headway_min = 10\nstart = "12:00"\nend = "13:00"\n', poa_transit)
    with pytest.raises(ScenarioError, match="edit 'no route'.*route id 'ZZZ' does not exist"):
        run('[[transit.remove_route]]\nname = "no route"\nroute_ids = ["ZZZ"]\n', poa_transit)
    with pytest.raises(ScenarioError, match=r"edit 'car link'.*none of its modes \['car'\] is in this network"):
        run('[[streets.link]]\nname = "car link"\nfrom = [-51.2337, -30.0453]\nto = [-51.2170, -30.0575]\n'
            'modes = ["car"]\nspeed_kmh = 50\n', poa_transit)
    with pytest.raises(ScenarioError, match="edit 'bus'.*no transit timetable"):
        run('[[transit.remove_route]]\nname = "bus"\nroute_ids = ["R4"]\n')
    with pytest.raises(ScenarioError, match="does not exist"):
        Scenario.from_file(tmp_path / "nope.toml")
    (tmp_path / "broken.toml").write_text("[[venues.add]\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        Scenario.from_file(tmp_path / "broken.toml")
    # venue edits: unknown id, duplicate id, point off the network
    st = AccessibilityState.build(poa_network, poa_hexgrid.head(100), poa_venues.head(20), mode="walk",
                                  max_time_min=20)
    for d, match in [({"remove": [{"name": "rm", "ids": ["nope"]}]}, "edit 'rm'.*venue id 'nope'"),
                     ({"add": [{"name": "dup", "id": poa_venues.id[0], "lon": -51.2, "lat": -30.03}]},
                      "edit 'dup'.*already exists"),
                     ({"add": [{"name": "Paris", "id": "P", "lon": 2.35, "lat": 48.85}]},
                      "edit 'Paris'.*off the walk network")]:
        with pytest.raises(ScenarioError, match=match):
            st.apply(Scenario.from_dict({"name": "v", "venues": d}))
        with pytest.raises(ScenarioError, match=match.split(".*")[0]):
            if "Paris" not in match:
                Scenario.from_dict({"name": "v", "venues": d}).apply_venues(poa_venues.head(20))
            else:
                raise ScenarioError("edit 'Paris'")


# ------------------------------------------------------------------------------------------------ streets
def test_closed_bridges_only_lengthen_trips(poa_network, poa_bridges, poa_hexgrid):
    assert len(poa_bridges) > 20
    s = Scenario.from_dict({"name": "bridges", "streets": {"close": [{"name": "bridges", "way_ids": poa_bridges}]}})
    new = s.apply(poa_network)
    cells = poa_hexgrid.iloc[::6]
    for mode in ("walk", "car"):
        g0, g1 = poa_network.street(mode), new.street(mode)
        assert g1.n_edges < g0.n_edges and not np.isin(poa_bridges, g1.way_id).any()
        a = access.travel_time_matrix(poa_network, cells, mode=mode, max_time_min=90, progress=False).times_s
        b = access.travel_time_matrix(new, cells, mode=mode, max_time_min=90, progress=False).times_s
        assert not (_inf(b) < _inf(a)).any(), "closing a street made a trip shorter"
        assert (_inf(b) > _inf(a)).sum() > 0
        # the closed graph equals scipy on the original arrays without those edges
        keep = ~np.isin(g0.way_id, poa_bridges)
        src = np.arange(0, g0.n_nodes, 1500)
        fo = np.r_[0, np.cumsum(np.bincount(g0.tail[keep], minlength=g0.n_nodes))]
        ref = _scipy_times(fo, g0.head[keep], g0.travel_time_s[keep], g0.n_nodes, src)
        np.testing.assert_array_equal(_inf(g1.shortest_times(src)), ref)
    # the original network is untouched
    assert np.isin(poa_bridges, poa_network.street("walk").way_id).any()


def test_speed_change_equals_scipy_on_retimed_graph(poa_network):
    g = poa_network.street("car")
    from access.network.profiles import highway_code

    prim = np.isin(g.highway, [highway_code("primary"), highway_code("secondary")])
    ways = np.unique(g.way_id[g.highway == highway_code("tertiary")])[:50].tolist()
    tt_before = g.travel_time_s.copy()
    s = Scenario.from_dict({"name": "speeds", "streets": {"speed": [
        {"name": "slow arterials", "highway": ["primary", "secondary"], "factor": 0.5},
        {"name": "fast tertiary", "way_ids": ways, "speed_kmh": 80, "modes": ["car"]}]}})
    g1 = s.apply(poa_network).street("car")
    np.testing.assert_array_equal(g.travel_time_s, tt_before)  # original untouched
    # independent re-timing: the same rules written out here
    w = g.travel_time_s.astype(np.float64).copy()
    w[prim] = np.maximum(1, np.rint(w[prim] / 0.5))
    sel = np.isin(g.way_id, ways)
    w[sel] = np.maximum(1, np.rint(g.length_m[sel].astype(np.float64) / (80 / 3.6)))
    np.testing.assert_array_equal(g1.travel_time_s, w.astype(np.int32))
    src = np.arange(0, g.n_nodes, 700)
    ref = _scipy_times(g.first_out, g.head, w, g.n_nodes, src)
    np.testing.assert_array_equal(_inf(g1.shortest_times(src)), ref)
    # a polygon selection only touches edges that cross it
    poly = "POLYGON ((-51.235 -30.04, -51.215 -30.04, -51.215 -30.025, -51.235 -30.025, -51.235 -30.04))"
    g2 = Scenario.from_dict({"streets": {"speed": [{"name": "centre", "polygon": poly, "speed_kmh": 10}]}}).apply(
        poa_network).street("car")
    changed = g2.travel_time_s != g.travel_time_s
    import shapely

    from access.scenarios._streets import edge_lines

    inside = shapely.intersects(edge_lines(g), shapely.from_wkt(poly))
    assert changed.any() and not (changed & ~inside).any()
    assert changed[inside].mean() > 0.95  # the bounding-box prefilter misses none


def test_new_link_only_shortens_trips(poa_network, poa_hexgrid):
    # a footbridge across two far apart points of the walk graph
    s = Scenario.from_dict({"name": "link", "streets": {"link": [
        {"name": "footbridge", "from": [-51.2337, -30.0453], "to": [-51.2170, -30.0575], "modes": ["walk", "bike"],
         "max_snap_m": 300}]}})
    new = s.apply(poa_network)
    g0, g1 = poa_network.street("walk"), new.street("walk")
    assert g1.n_edges == g0.n_edges + 2 and (g1.way_id == -1).sum() == 2
    r = np.flatnonzero(g1.way_id == -1)
    assert g1.reverse_edge[r[0]] == r[1]
    cells = poa_hexgrid.iloc[::5]
    a = access.travel_time_matrix(poa_network, cells, mode="walk", max_time_min=90, progress=False).times_s
    b = access.travel_time_matrix(new, cells, mode="walk", max_time_min=90, progress=False).times_s
    assert not (_inf(b) > _inf(a)).any(), "a new link made a trip longer"
    assert (_inf(b) < _inf(a)).sum() > 0
    src = np.arange(0, g1.n_nodes, 1500)
    np.testing.assert_array_equal(_inf(g1.shortest_times(src)),
                                  _scipy_times(g1.first_out, g1.head, g1.travel_time_s, g1.n_nodes, src))
    assert "car" not in [m for m in new.modes if new.street(m) is not poa_network.street(m)]


# ------------------------------------------------------------------------------------------------ venues
@pytest.mark.parametrize("mode", ["walk", "car"])
def test_venue_columns_equal_forward_matrix(mode, poa_network, nantes_network, poa_hexgrid):
    rng = np.random.default_rng(0)
    for net, cells in ((poa_network, poa_hexgrid.iloc[::3]), (nantes_network, None)):
        g = net.street(mode)
        if cells is None:  # Nantes: random cells and points inside the extract
            lo, la = g.node_lon, g.node_lat
            cells = pd.DataFrame({"id": np.arange(300), "lon": rng.uniform(lo.min(), lo.max(), 300),
                                  "lat": rng.uniform(la.min(), la.max(), 300)})
        pts = cells.sample(25, random_state=1)
        pts = pd.DataFrame({"id": [f"p{i}" for i in range(len(pts))], "lon": pts.lon.to_numpy() + 0.001,
                            "lat": pts.lat.to_numpy() - 0.001})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fwd = access.travel_time_matrix(net, cells, pts, mode=mode, max_time_min=40,
                                            progress=False).times_s[:, :, 0]
            snap = g.snap(cells.lon.to_numpy(), cells.lat.to_numpy(), warn=False)
        col = venue_columns(net, mode, snap, pts.lon, pts.lat, 40 * 60)
        np.testing.assert_array_equal(col, fwd)
        for i in range(3):  # one venue at a time: the serial kernel
            one = venue_column(net, mode, snap, float(pts.lon.iloc[i]), float(pts.lat.iloc[i]), 40 * 60)
            np.testing.assert_array_equal(one, fwd[:, i])
        # venues exactly at cell centroids: same-segment direct times and 0 s at the same place, as the matrix
        from access.io.places import read_points

        at = cells.sample(15, random_state=2)[["id", "lon", "lat"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fwd = access.travel_time_matrix(net, cells, at, mode=mode, max_time_min=40,
                                            progress=False).times_s[:, :, 0]
        cp = read_points(cells, name="cells")
        np.testing.assert_array_equal(venue_columns(net, mode, snap, at.lon, at.lat, 40 * 60, cells=cp), fwd)
        one = venue_column(net, mode, snap, float(at.lon.iloc[0]), float(at.lat.iloc[0]), 40 * 60, cells=cp)
        np.testing.assert_array_equal(one, fwd[:, 0])
        assert (fwd == 0).sum() >= 10
        # venues a few metres from cells, often on the same street segment (the direct along-edge time counts)
        near = at.assign(lon=at.lon + rng.normal(0, 2e-4, len(at)), lat=at.lat + rng.normal(0, 2e-4, len(at)))
        vs = g.snap(near.lon.to_numpy(), near.lat.to_numpy(), warn=False)
        near = near[vs.snapped]
        assert np.isin(g.snap(near.lon.to_numpy(), near.lat.to_numpy(), warn=False).edge, snap.edge).sum() >= 3
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fwd = access.travel_time_matrix(net, cells, near, mode=mode, max_time_min=40,
                                            progress=False).times_s[:, :, 0]
        ones = np.column_stack([venue_column(net, mode, snap, float(x), float(y), 40 * 60, cells=cp)
                                for x, y in zip(near.lon, near.lat)])
        np.testing.assert_array_equal(ones, fwd)
        assert (col >= 0).mean() > 0.05  # the comparison is not vacuous


def _check_incremental(net, cells, venues, edits, mode="walk"):
    st = AccessibilityState.build(net, cells, venues, mode=mode, max_time_min=40, cutoffs_min=(10, 20, 40),
                                  full_measures=("bfca",))
    after = st.apply(Scenario.from_dict({"name": "venues", "venues": edits}))
    assert after.last_update["incremental"] == ["nearest", "cumulative", "gravity", "2sfca"]
    assert after.last_update["recomputed_fully"] == ["bfca"]
    full = AccessibilityState.build(net, cells, Scenario.from_dict({"venues": edits}).apply_venues(venues),
                                    mode=mode, max_time_min=40, cutoffs_min=(10, 20, 40), full_measures=("bfca",))
    assert after.venue_ids == full.venue_ids
    np.testing.assert_array_equal(after.times_s, full.times_s)  # one search per venue == the forward matrix
    a, b = after.indicators(), full.indicators()
    b = b[list(a.columns)]
    for c in a.columns[1:]:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        if c.startswith(("time", "cum")):
            np.testing.assert_array_equal(x, y, err_msg=c)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-15, err_msg=c)
    # the original state is unchanged by apply()
    assert st.venue_ids == list(venues["id"])
    return st, after


def test_incremental_venues_equal_full_recomputation_poa(poa_network, poa_hexgrid, poa_venues):
    v = poa_venues
    edits = {"add": [{"name": "school Restinga", "id": "new1", "lon": -51.17, "lat": -30.08, "category": "school",
                      "capacity": 2},
                     {"name": "library centre", "id": "new2", "lon": -51.225, "lat": -30.03, "category": "library",
                      "capacity": 1},
                     {"name": "health", "id": "new3", "lon": -51.20, "lat": -30.05, "category": "health"}],
             "remove": [{"name": "close 2 schools", "ids": [v.id[0], v.id[5]]}],
             "modify": [{"name": "bigger", "id": v.id[10], "capacity": 7},
                        {"name": "recat", "id": v.id[200], "category": "school"},
                        {"name": "shut", "id": v.id[3], "capacity": 0}]}
    st, after = _check_incremental(poa_network, poa_hexgrid, v, edits)
    d = after.last_update["deltas"]
    assert d[0].edit == "remove" and d[-1].edit == "add"
    assert 0 < d[-1].cells_touched["2sfca"] < len(poa_hexgrid)  # only the catchment


def test_incremental_venues_equal_full_recomputation_nantes(nantes_network):
    g = nantes_network.street("walk")
    rng = np.random.default_rng(5)
    lo, la = g.node_lon, g.node_lat
    cells = pd.DataFrame({"id": [f"c{i}" for i in range(400)], "lon": rng.uniform(lo.min(), lo.max(), 400),
                          "lat": rng.uniform(la.min(), la.max(), 400), "population": rng.integers(0, 300, 400)})
    venues = pd.DataFrame({"id": [f"v{i}" for i in range(40)], "lon": rng.uniform(lo.min(), lo.max(), 40),
                           "lat": rng.uniform(la.min(), la.max(), 40),
                           "category": rng.choice(["library", "theatre", "cinema"], 40),
                           "capacity": rng.integers(1, 4, 40)})
    edits = {"add": [{"name": f"new {i}", "id": f"n{i}", "lon": float(rng.uniform(lo.min(), lo.max())),
                      "lat": float(rng.uniform(la.min(), la.max())), "category": "library", "capacity": 2}
                     for i in range(3)],
             "remove": [{"name": "rm", "ids": ["v1", "v2", "v7"]}],
             "modify": [{"name": "half", "ids": ["v3", "v4"], "capacity_factor": 0.5}]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_incremental(nantes_network, cells, venues, edits)


# ------------------------------------------------------------------------------------------------ transit
def test_relink_on_the_same_walk_graph_reproduces_the_build(poa_transit):
    from access.scenarios._transit import relink

    tt = poa_transit.timetable
    again = relink(tt, poa_transit.street("walk"))
    for k in ("stop_access_node", "stop_access_cost_s", "stop_egress_node", "stop_egress_cost_s", "transfer_off",
              "transfer_to", "transfer_walk_s", "transfer_min_s"):
        np.testing.assert_array_equal(np.asarray(again.arrays[k]), np.asarray(tt.arrays[k]), err_msg=k)
    # a walk-graph edit relinks the stops of the edited network (the timetable object is new)
    s = Scenario.from_dict({"streets": {"close": [{"name": "c", "polygon": [[-51.235, -30.04], [-51.215, -30.04],
                                                                           [-51.215, -30.025], [-51.235, -30.025]],
                                                   "modes": ["walk"]}]}})
    new = s.apply(poa_transit)
    assert new.timetable is not tt
    a = new.timetable.arrays
    assert len(a["transfer_to"]) < len(tt.arrays["transfer_to"])


def test_transit_edits(poa_transit):
    tt = poa_transit.timetable
    a0 = {k: np.asarray(v).copy() for k, v in tt.arrays.items()}
    route_ids = tt.arrays["route_id"].astype(str)
    r_hw = route_ids[tt.arrays["trip_route"][0]]
    s = Scenario.from_dict({"name": "bus", "transit": {
        "remove_route": [{"name": "no R4", "route_ids": ["R4"]}],
        "headway": [{"name": "every 7", "route_id": r_hw, "headway_min": 7, "start": "12:00", "end": "15:00"}],
        "remove_stops": [{"name": "stop gone", "stop_ids": ["1028"]}],
        "add_route": [{"name": "new line", "route_id": "NEW", "stops": [[-51.23, -30.03], [-51.21, -30.04],
                                                                       [-51.19, -30.05]],
                       "headway_min": 10, "start": "11:00", "end": "18:00", "speed_kmh": 25, "dwell_s": 20}]}})
    new = s.apply(poa_transit).timetable
    for k, v in a0.items():  # original untouched
        np.testing.assert_array_equal(np.asarray(tt.arrays[k]), v)
    a = new.arrays
    rid = a["route_id"].astype(str)
    # a removed route leaves no trips, in the arrays and in a day's RAPTOR layout
    assert not (rid[a["trip_route"]] == "R4").any() and not (rid[a["pattern_route"]] == "R4").any()
    day = new.for_date(POA_DAY.date())
    assert not (rid[a["pattern_route"][day.pat_base]] == "R4").any()
    # the headway edit: departures every 7 minutes in [12:00, 15:00) on that route's patterns
    tto = a["trip_time_off"]
    r = np.flatnonzero(rid == r_hw)[0]
    tr = np.flatnonzero(a["trip_route"] == r)
    fd = a["st_dep_s"][tto[tr]]
    for p in np.unique(a["trip_pattern"][tr]):
        for svc in np.unique(a["trip_service"][tr]):
            d = np.sort(fd[(a["trip_pattern"][tr] == p) & (a["trip_service"][tr] == svc)])
            inw = d[(d >= 12 * 3600) & (d < 15 * 3600)]
            if len(inw):
                assert inw[0] == 12 * 3600 and (np.diff(inw) == 420).all()
    # removed stop: in no pattern, unlinked, no transfer
    s1028 = np.flatnonzero(a["stop_id"].astype(str) == "1028")[0]
    assert not (a["pattern_stops"] == s1028).any() and (a["stop_access_node"][s1028] == -1).all()
    assert not (a["transfer_to"] == s1028).any() and a["transfer_off"][s1028 + 1] == a["transfer_off"][s1028]
    # new route: both directions every 10 min from 11:00, run times at 25 km/h + dwell, new stops linked
    rn = np.flatnonzero(rid == "NEW")[0]
    trn = np.flatnonzero(a["trip_route"] == rn)
    assert len(trn) == 2 * 42
    t0 = trn[0]
    times = a["st_arr_s"][tto[t0]:tto[t0 + 1]]
    deps = a["st_dep_s"][tto[t0]:tto[t0 + 1]]
    from access.network.street import haversine_m

    lon, lat = np.array([-51.23, -51.21, -51.19]), np.array([-30.03, -30.04, -30.05])
    run = np.rint(haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:]) / (25 / 3.6))
    assert times[0] == 11 * 3600 and times[1] - deps[0] == run[0] and deps[1] - times[1] == 20
    new_stops = np.flatnonzero(np.char.startswith(a["stop_id"].astype(str), "NEW:"))
    assert len(new_stops) == 3 and (a["stop_access_node"][new_stops, 0] >= 0).all()
    assert (np.diff(a["transfer_off"])[new_stops] > 0).all() and np.isin(new_stops, a["transfer_to"]).all()
    # every pattern stays FIFO-consistent: stop times non-decreasing along each trip
    for t in range(len(a["trip_id"])):
        seg_a, seg_d = a["st_arr_s"][tto[t]:tto[t + 1]], a["st_dep_s"][tto[t]:tto[t + 1]]
        assert (seg_d >= seg_a).all() and (seg_a[1:] >= seg_d[:-1]).all()


@pytest.mark.slow
def test_transit_route_removal_and_addition_change_times_the_right_way(poa_transit, poa_hexgrid):
    cells = poa_hexgrid[(poa_hexgrid.lon.between(-51.24, -51.16)) & (poa_hexgrid.lat.between(-30.09, -30.01))]
    cells = cells.iloc[::4]
    kw = dict(mode="transit", departure=POA_DAY, window_min=5, max_time_min=60, progress=False)
    tt = poa_transit.timetable
    busiest = np.bincount(tt.arrays["trip_route"]).argsort()[::-1][:10]
    rids = tt.arrays["route_id"].astype(str)[busiest].tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = access.travel_time_matrix(poa_transit, cells, **kw).times_s
        less = Scenario.from_dict({"transit": {"remove_route": [{"name": "cut", "route_ids": rids}]}})
        worse = access.travel_time_matrix(less.apply(poa_transit), cells, **kw).times_s
        more = Scenario.from_dict({"transit": {"add_route": [
            {"name": "express", "route_id": "EXP", "stops": [[-51.23, -30.03], [-51.20, -30.06], [-51.17, -30.08]],
             "headway_min": 3, "start": "13:00", "end": "16:00", "speed_kmh": 60}]}})
        better = access.travel_time_matrix(more.apply(poa_transit), cells, **kw).times_s
    # percentiles of a window are monotone in each per-minute time, which only lengthen (shorten) with fewer (more)
    # vehicles
    assert not (_inf(worse) < _inf(base)).any() and (_inf(worse) > _inf(base)).any()
    assert not (_inf(better) > _inf(base)).any() and (_inf(better) < _inf(base)).any()


# ------------------------------------------------------------------------------------------------ compare & CLI
def test_compare_tables_typology_and_maps(tmp_path, poa_network, poa_hexgrid, poa_venues):
    import geopandas as gpd
    from shapely.geometry import box

    st = AccessibilityState.build(poa_network, poa_hexgrid, poa_venues, mode="walk", max_time_min=30)
    ind = st.indicators()
    far = ind[np.isfinite(ind.time_school) & (ind.population > 0)].sort_values("time_school").iloc[-2:]["id"]
    far = poa_hexgrid.set_index("id").loc[far]
    scn = Scenario.from_dict({"name": "two schools", "venues": {"add": [
        {"name": n, "id": n, "lon": float(r.lon), "lat": float(r.lat), "category": "school", "capacity": 3}
        for n, r in zip("AB", far.itertuples())]}})
    after = st.apply(scn)
    x0, y0, x1, y1 = poa_hexgrid.lon.min(), poa_hexgrid.lat.min(), poa_hexgrid.lon.max(), poa_hexgrid.lat.max()
    xs, ys = np.linspace(x0 - 1e-3, x1 + 1e-3, 5), np.linspace(y0 - 1e-3, y1 + 1e-3, 5)
    boxes = [box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(4) for j in range(4)]
    areas = gpd.GeoDataFrame({"id": [f"A{i}" for i in range(16)],
                              "poverty_rate": np.random.default_rng(0).random(16)}, geometry=boxes, crs=4326)
    cmp = access.compare(st, after, areas=areas)
    c = cmp.cells
    assert {"time_school_before", "time_school_after", "time_school_delta"} <= set(c.columns)
    assert (c["time_school_delta"].fillna(0) <= 0).all() and (c["time_school_delta"] < 0).any()
    assert (c["cum30_school_delta"] >= 0).all() and (c["time_health_delta"] == 0).all()
    summ = cmp.summary().set_index("measure")
    assert summ.loc["time_school", "cells_better"] > 0 and summ.loc["time_health", "cells_better"] == 0
    assert {"time_school_mean_before", "time_school_mean_delta"} <= set(cmp.areas.columns)
    t = cmp.typology
    assert list(t.columns) == ["id", "class_before", "class_after", "changed"] and len(t) == 16
    paths = cmp.write(tmp_path / "out", map_measures=["time_school"])
    names = {p.name for p in paths}
    assert {"cells.parquet", "summary.csv", "areas.gpkg", "typology_changes.csv", "delta_time_school.png",
            "delta_time_school.html"} <= names
    assert (tmp_path / "out" / "delta_time_school.png").read_bytes()[:4] == b"\x89PNG"
    html = (tmp_path / "out" / "delta_time_school.html").read_text()
    assert "Plotly.newPlot" in html and "<script src=" not in html  # self-contained (offline) interactive map
    # DataFrames work too, and mismatched cells are refused
    cmp2 = access.compare(st.indicators(), after.indicators())
    assert np.array_equal(cmp2.cells["time_school_delta"].to_numpy(), c["time_school_delta"].to_numpy(),
                          equal_nan=True)
    with pytest.raises(access.ValidationError, match="different cells"):
        access.compare(st.indicators(), after.indicators().iloc[1:])


def _fresh(net):
    """The same network with new graph objects (no cached snapping index, nothing carried over)."""
    from access.network.street import StreetGraph

    return access.TransportNetwork({m: StreetGraph.from_arrays(*net.street(m).to_arrays()) for m in net.modes},
                                   net.timetable)


@pytest.mark.parametrize("mode, max_min", [("walk", 30), ("car", 15)])
def test_street_scenarios_recompute_only_reached_columns(mode, max_min, poa_network, poa_hexgrid, poa_venues,
                                                         poa_bridges):
    cells = poa_hexgrid.iloc[::3]
    st = AccessibilityState.build(poa_network, cells, poa_venues, mode=mode, max_time_min=max_min)
    poly = "POLYGON ((-51.235 -30.04, -51.215 -30.04, -51.215 -30.025, -51.235 -30.025, -51.235 -30.04))"
    for d in ({"streets": {"close": [{"name": "b", "way_ids": poa_bridges}]}},
              {"streets": {"close": [{"name": "centre", "polygon": poly}]}},
              {"streets": {"speed": [{"name": "slow", "highway": ["primary", "secondary"], "factor": 0.5,
                                      "modes": ["walk", "car"]}]}},
              {"streets": {"link": [{"name": "fb", "from": [-51.2337, -30.0453], "to": [-51.2170, -30.0575],
                                     "max_snap_m": 300, "speed_kmh": 30}]},
               "venues": {"add": [{"name": "n", "id": "N", "lon": -51.2, "lat": -30.05, "category": "school"}],
                          "remove": [{"name": "r", "ids": [poa_venues.id[4]]}]}}):
        scn = Scenario.from_dict(dict(name="s", **d))
        after = st.apply(scn)
        info = after.last_update["streets"]
        assert info["recomputed_fully"][:4] == ["nearest", "cumulative", "gravity", "2sfca"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = AccessibilityState.build(_fresh(scn.apply(poa_network)), cells, scn.apply_venues(poa_venues),
                                            mode=mode, max_time_min=max_min)
        assert after.venue_ids == full.venue_ids
        np.testing.assert_array_equal(after.times_s, full.times_s)
        a, b = after.indicators(), full.indicators()[list(after.indicators().columns)]
        for c in a.columns[1:]:
            np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-9, err_msg=c)
        if mode == "walk" and "link" in d["streets"]:
            assert 0 < info["columns_recomputed"] < info["venues"] / 2  # a local edit reaches few venues
    # venue-only scenarios stay incremental
    assert st.apply(Scenario.from_dict({"venues": {"remove": [{"name": "r", "ids": [poa_venues.id[0]]}]}})
                    ).last_update["incremental"] == ["nearest", "cumulative", "gravity", "2sfca"]


def test_transit_scenario_rebuilds_the_state_and_says_so(poa_transit, poa_hexgrid, poa_venues):
    st = AccessibilityState.build(poa_transit, poa_hexgrid.iloc[::8], poa_venues.iloc[::4], mode="walk",
                                  max_time_min=20)
    after = st.apply(Scenario.from_dict({"transit": {"remove_route": [{"name": "cut", "route_ids": ["R4"]}]}}))
    assert after.last_update["incremental"] == [] and after.last_update["recomputed_fully"][0] == "matrix"
    np.testing.assert_array_equal(after.times_s, st.times_s)  # walking does not use buses


def test_derived_snapping_index_equals_a_fresh_one(poa_network, poa_hexgrid, poa_bridges):
    scn = Scenario.from_dict({"streets": {"close": [{"name": "b", "way_ids": poa_bridges}],
                                          "link": [{"name": "fb", "from": [-51.2337, -30.0453],
                                                    "to": [-51.2170, -30.0575], "max_snap_m": 300,
                                                    "speed_kmh": 30}]}})
    poa_network.street("walk").snap(poa_hexgrid.lon, poa_hexgrid.lat, warn=False)  # the old index exists
    new = scn.apply(poa_network)
    fresh = _fresh(new)
    for m in new.modes:
        a = new.street(m).snap(poa_hexgrid.lon, poa_hexgrid.lat, warn=False)
        b = fresh.street(m).snap(poa_hexgrid.lon, poa_hexgrid.lat, warn=False)
        for f in ("access_node", "access_cost_s", "egress_node", "egress_cost_s", "edge"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f"{m} {f}")


def test_cli_apply_and_compare(tmp_path, poa_network, poa_hexgrid, poa_venues, poa_bridges):
    from access.cli import main

    bundle = tmp_path / "net"
    poa_network.save(bundle)
    (tmp_path / "s.toml").write_text(
        'name = "cli"\n[[streets.close]]\nname = "bridges"\nway_ids = [' + ", ".join(map(str, poa_bridges)) + ']\n'
        '[[venues.add]]\nname = "new school"\nid = "NEW"\nlon = -51.17\nlat = -30.08\ncategory = "school"\n')
    poa_hexgrid.iloc[::5].to_csv(tmp_path / "cells.csv", index=False)
    poa_venues.to_csv(tmp_path / "venues.csv", index=False)
    assert main(["scenario", "apply", str(tmp_path / "s.toml"), "--network", str(bundle), "--out",
                 str(tmp_path / "net2"), "--venues", str(tmp_path / "venues.csv")]) == 0
    net2 = access.TransportNetwork.load(tmp_path / "net2")
    assert not np.isin(poa_bridges, net2.street("car").way_id).any()
    assert "NEW" in pd.read_csv(tmp_path / "net2" / "venues.csv")["id"].tolist()
    (tmp_path / "v.toml").write_text('[[venues.add]]\nname = "new school"\nid = "NEW"\nlon = -51.17\nlat = -30.08\n'
                                     'category = "school"\n')
    assert main(["scenario", "compare", str(tmp_path / "v.toml"), "--network", str(bundle), "--cells",
                 str(tmp_path / "cells.csv"), "--venues", str(tmp_path / "venues.csv"), "--max-time", "30",
                 "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "delta_time_school.png").exists()
    assert (tmp_path / "cmp" / "cells.parquet").exists()
    (tmp_path / "bad.toml").write_text('[[streets.close]]\nname = "ghost"\nway_ids = [1]\n')
    assert main(["scenario", "apply", str(tmp_path / "bad.toml"), "--network", str(bundle), "--out",
                 str(tmp_path / "net3")]) == 2
    assert not (tmp_path / "net3").exists()


def test_transit_state_venue_column_equals_a_rebuild(poa_transit, poa_hexgrid, poa_venues):
    """A transit venue's column comes from one backward range-RAPTOR from the venue: the state equals a rebuild."""
    cells = poa_hexgrid[(poa_hexgrid.lon.between(-51.24, -51.18)) & (poa_hexgrid.lat.between(-30.07, -30.02))]
    cells = cells.iloc[::3]
    kw = dict(mode="transit", max_time_min=45, departure=POA_DAY, window_min=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st = AccessibilityState.build(poa_transit, cells, poa_venues.iloc[::6], **kw)
        scn = Scenario.from_dict({"venues": {"add": [{"name": "n", "id": "N", "lon": -51.21, "lat": -30.045,
                                                      "category": "school", "capacity": 2}]}})
        after = st.apply(scn)
        full = AccessibilityState.build(poa_transit, cells, scn.apply_venues(poa_venues.iloc[::6]), **kw)
    np.testing.assert_array_equal(after.times_s, full.times_s)
    assert (after.times_s[:, -1] >= 0).sum() > 5
    a, b = after.indicators(), full.indicators()
    for c in a.columns[1:]:
        np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-9, err_msg=c)
