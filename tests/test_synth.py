"""Synthetic regions in the real file formats: the demo territory and the region-scale generator.

Checks: determinism (same seed, same bytes), the .pbf read back with pyosmium (tag mixes, ids, locations), the
GTFS zip (required files, consistent ids, headways, stops near streets), the Filosofi grid (official columns,
EPSG:3035, cell ids = lower-left corners), Basilic and EPCI files, the recipe, the project's own loaders, and the
region generator at scale 0.01 on the real geography of Hauts-de-France (skipped where the data is absent).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests._data import test_data_dir as _test_data_dir
from access.synth import make_demo_region, make_region
from access.synth.writers import BASILIC_COLUMNS

HDF = _test_data_dir() / "hauts_de_france"

OFFICIAL_FILOSOFI = ["idcar_200m", "i_est_200", "idcar_1km", "idcar_nat", "ind", "men", "men_pauv", "men_1ind",
                     "men_5ind", "men_prop", "men_fmp", "ind_snv", "men_surf", "men_coll", "men_mais", "log_av45",
                     "log_45_70", "log_70_90", "log_ap90", "log_inc", "log_soc", "ind_0_3", "ind_4_5", "ind_6_10",
                     "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64", "ind_65_79", "ind_80p",
                     "ind_inc", "lcog_geo"]
BASILIC_TYPES = {"Bibliothèque", "Cinéma", "Musée", "Théâtre", "Scène", "Conservatoire", "Centre d'art", "Monument",
                 "Opéra", "Centre culturel", "Librairie"}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    paths = make_demo_region(out, seed=42)
    return paths


def _read_osm(path):
    import osmium

    class H(osmium.SimpleHandler):
        def __init__(self):
            super().__init__()
            self.nodes = {}
            self.node_tags = []
            self.ways = []

        def node(self, n):
            self.nodes[n.id] = (n.location.lon, n.location.lat)
            if len(n.tags):
                self.node_tags.append(dict(n.tags))

        def way(self, w):
            self.ways.append((w.id, [r.ref for r in w.nodes], dict(w.tags)))

    h = H()
    h.apply_file(str(path))
    return h


# ------------------------------------------------------------------------------------------------ demo
def test_demo_is_deterministic(demo, tmp_path):
    again = make_demo_region(tmp_path / "again", seed=42)
    for role in ("osm", "gtfs", "filosofi", "basilic", "epci", "recipe", "manifest"):
        assert _sha(demo[role]) == _sha(again[role]), f"{role} differs between two runs with the same seed"
    other = make_demo_region(tmp_path / "other", seed=7)
    assert _sha(other["osm"]) != _sha(demo["osm"])
    assert _sha(other["filosofi"]) != _sha(demo["filosofi"])


def test_demo_pbf_reads_back_with_expected_tags(demo):
    h = _read_osm(demo["osm"])
    ids = np.array(list(h.nodes))
    assert (ids > 0).all() and len(np.unique(ids)) == len(ids)
    wids = [w[0] for w in h.ways]
    assert min(wids) > 0 and len(set(wids)) == len(wids)
    assert 5_000 <= len(h.nodes) <= 15_000
    lonlat = np.array(list(h.nodes.values()))
    assert lonlat[:, 0].min() >= 2.5 and lonlat[:, 0].max() <= 3.5
    assert lonlat[:, 1].min() >= 49.8 and lonlat[:, 1].max() <= 50.4
    for _, refs, _ in h.ways:  # every way references existing nodes
        assert all(r in h.nodes for r in refs)
    hw: dict[str, int] = {}
    for _, _, t in h.ways:
        if "highway" in t:
            hw[t["highway"]] = hw.get(t["highway"], 0) + 1
    for cls in ("residential", "tertiary", "secondary", "primary", "trunk", "motorway", "motorway_link",
                "footway", "track", "unclassified", "construction", "service"):
        assert hw.get(cls, 0) > 0, f"no highway={cls} way"
    assert hw["residential"] > hw["tertiary"] > hw["secondary"]
    motorway = [t for _, _, t in h.ways if t.get("highway") == "motorway"]
    assert all(t.get("oneway") == "yes" for t in motorway)
    links = [t for _, _, t in h.ways if t.get("highway") == "motorway_link"]
    assert all(t.get("oneway") == "yes" for t in links)
    oneway_res = [t for _, _, t in h.ways if t.get("highway") == "residential" and t.get("oneway") == "yes"]
    assert 0.03 < len(oneway_res) / hw["residential"] < 0.4
    assert any(t.get("access") == "private" for _, _, t in h.ways)
    assert any(t.get("railway") == "rail" for _, _, t in h.ways)
    assert any(t.get("waterway") == "river" for _, _, t in h.ways)
    places = [t for t in h.node_tags if "place" in t]
    assert {"city", "town", "village"} <= {t["place"] for t in places}
    assert any(t.get("railway") == "station" for t in h.node_tags)


def test_demo_street_graphs_are_connected_and_filtered(demo):
    from access.io.osm import read_highways
    from access.network.street import build_street_graph

    ways = read_highways(demo["osm"])
    excluded = set(ways.way_id[(ways.tags["highway"] == "construction") | (ways.tags["access"] == "private")])
    footways = set(ways.way_id[ways.tags["highway"] == "footway"])
    motorways = set(ways.way_id[ways.tags["highway"] == "motorway"])
    for mode in ("walk", "bike", "car"):
        full = build_street_graph(ways, mode, largest_component=False)
        main = build_street_graph(ways, mode)
        assert main.n_nodes >= 0.97 * full.n_nodes, f"{mode}: the street network falls apart"
        used = set(np.unique(np.asarray(main.way_id)).tolist())
        assert not (used & excluded), f"{mode} uses construction/private ways"
        if mode == "car":
            assert not (used & footways) and (used & motorways)
        if mode == "walk":
            assert (used & footways) and not (used & motorways)


def test_demo_gtfs_is_complete_and_consistent(demo):
    z = zipfile.ZipFile(demo["gtfs"])
    names = set(z.namelist())
    for req in ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt", "calendar.txt",
                "calendar_dates.txt", "frequencies.txt"):
        assert req in names
    t = {n: pd.read_csv(io.BytesIO(z.read(n)), dtype=str) for n in names}
    assert set(t["agency.txt"]["agency_timezone"]) == {"Europe/Paris"}
    assert t["stops.txt"]["stop_id"].is_unique and t["trips.txt"]["trip_id"].is_unique
    assert 150 <= len(t["stops.txt"]) <= 800
    assert set(t["stop_times.txt"]["stop_id"]) <= set(t["stops.txt"]["stop_id"])
    assert set(t["stop_times.txt"]["trip_id"]) == set(t["trips.txt"]["trip_id"])
    assert set(t["trips.txt"]["route_id"]) == set(t["routes.txt"]["route_id"])
    assert set(t["routes.txt"]["agency_id"]) <= set(t["agency.txt"]["agency_id"])
    assert set(t["trips.txt"]["service_id"]) <= set(t["calendar.txt"]["service_id"])
    assert set(t["frequencies.txt"]["trip_id"]) <= set(t["trips.txt"]["trip_id"])
    assert (t["calendar_dates.txt"]["exception_type"] == "2").sum() == 1
    assert {"2", "3"} <= set(t["routes.txt"]["route_type"])
    st = t["stop_times.txt"].copy()
    st["dep_s"] = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in st["departure_time"].str.split(":")]
    st["arr_s"] = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in st["arrival_time"].str.split(":")]
    st["seq"] = st["stop_sequence"].astype(int)
    st = st.sort_values(["trip_id", "seq"])
    assert (st["dep_s"] >= st["arr_s"]).all()
    nxt = st.groupby("trip_id")["arr_s"].shift(-1)
    assert (nxt.dropna() > st.loc[nxt.notna(), "dep_s"]).all(), "times must increase along each trip"
    # headways around 14:00 on weekdays: rail every 30-60 min, town buses every 10-20 min
    first = st[st["seq"] == 1].merge(t["trips.txt"], on="trip_id").merge(t["routes.txt"], on="route_id")
    first = first[(first["service_id"] == "WK") & first["dep_s"].between(12 * 3600, 16 * 3600)]
    for rid, grp in first.groupby(["route_id", "direction_id"]):
        hw = np.diff(np.sort(grp["dep_s"].to_numpy())) / 60
        if not len(hw):
            continue
        if grp["route_type"].iloc[0] == "2":
            assert 30 <= np.median(hw) <= 60, rid
        elif rid[0].startswith("B"):
            assert 10 <= np.median(hw) <= 20, rid
    # every stop lies near a street node
    from scipy.spatial import cKDTree

    h = _read_osm(demo["osm"])
    street = {r for _, refs, tg in h.ways if "highway" in tg for r in refs}
    ll = np.array([h.nodes[r] for r in sorted(street)])
    k = np.cos(np.radians(50.1))
    tree = cKDTree(np.column_stack([ll[:, 0] * 111_320 * k, ll[:, 1] * 110_540]))
    s = t["stops.txt"]
    d, _ = tree.query(np.column_stack([s["stop_lon"].astype(float) * 111_320 * k,
                                       s["stop_lat"].astype(float) * 110_540]))
    assert d.max() < 250, f"a stop is {d.max():.0f} m from the nearest street node"


def test_demo_gtfs_reads_with_project_loader(demo):
    import warnings

    from access.io.gtfs import read_gtfs

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed = read_gtfs(demo["gtfs"])
    assert feed.n_frequency_trips > 0


def test_demo_filosofi_grid_has_official_format(demo):
    import geopandas as gpd
    import pyogrio

    layers = pyogrio.list_layers(demo["filosofi"])
    assert layers[0][0] == "carreaux_200m_met"
    g = gpd.read_file(demo["filosofi"])
    assert g.crs.to_epsg() == 2154  # INSEE's 2019 file: squares in Lambert-93, ids naming the EPSG:3035 grid
    assert set(OFFICIAL_FILOSOFI) <= set(g.columns)
    assert 2000 <= len(g) <= 4000 and g["idcar_200m"].is_unique
    m = g["idcar_200m"].str.extract(r"^CRS3035RES200mN(\d+)E(\d+)$").astype(float)
    b = g.geometry.to_crs(3035).bounds
    assert np.allclose(m[0], b["miny"], atol=0.01) and np.allclose(m[1], b["minx"], atol=0.01)  # lower-left corner
    assert np.allclose(b["maxx"] - b["minx"], 200, atol=0.01) and np.allclose(b["maxy"] - b["miny"], 200, atol=0.01)
    assert g["idcar_1km"].str.match(r"^CRS3035RES1000mN\d+E\d+$").all()
    ages = g[[c for c in OFFICIAL_FILOSOFI if c.startswith("ind_") and c[4].isdigit()]].sum(axis=1)
    assert np.allclose(ages, g["ind"], atol=1.0)
    assert (g["men_pauv"] <= g["men"] + 0.1).all() and (g["ind"] > 0).all()
    assert set(g["i_est_200"].unique()) <= {0, 1}
    # dense towns and sparse countryside; poorer in some towns; older where sparse
    assert g["ind"].max() > 150 and g["ind"].median() < 40
    by_commune = g.groupby("lcog_geo")[["men_pauv", "men", "ind", "ind_65_79", "ind_80p", "ind_snv"]].sum()
    pov = by_commune["men_pauv"] / by_commune["men"]
    assert pov.max() > 1.8 * pov.min()
    income = by_commune["ind_snv"] / by_commune["ind"]
    assert income.max() > 1.15 * income.min()
    dense = g["ind"] > 100
    old = (g["ind_65_79"] + g["ind_80p"]) / g["ind"]
    assert old[~dense].mean() > old[dense].mean() + 0.03


def test_demo_venues_epci_recipe(demo):
    import geopandas as gpd
    import shapely

    from access.region.recipe import Recipe

    raw = demo["basilic"].read_text(encoding="utf-8").splitlines()
    assert raw[0] == ";".join(BASILIC_COLUMNS)
    v = pd.read_csv(demo["basilic"], sep=";", dtype={"code_insee": str, "Code Postal": str})
    assert 40 <= len(v) <= 80
    assert set(v["Type équipement ou lieu"]) <= BASILIC_TYPES
    assert {"Bibliothèque", "Cinéma", "Musée", "Théâtre", "Conservatoire"} <= set(v["Type équipement ou lieu"])
    gps = v["coordonnees_GPS"].str.split(",", expand=True).astype(float)
    assert np.allclose(gps[0], v["Latitude"]) and np.allclose(gps[1], v["Longitude"])
    assert v["code_insee"].str.fullmatch(r"\d{5}").all()
    # mostly in towns: the main town has several of them
    assert v["Commune"].value_counts().iloc[0] >= 8

    e = gpd.read_file(demo["epci"])
    assert e.crs.to_epsg() == 4326 and 6 <= len(e) <= 10
    assert e["epci_code"].str.fullmatch(r"\d{9}").all() and e["epci_code"].is_unique
    assert {"epci_nom", "epci_type"} <= set(e.columns)
    cells = gpd.read_file(demo["filosofi"])
    c = cells.geometry.centroid.to_crs(4326)
    inside = np.zeros(len(cells), int)
    for geom in e.geometry:
        cnt = shapely.contains_xy(geom, c.x.to_numpy(), c.y.to_numpy())
        assert cnt.sum() > 50, "an EPCI without populated cells"
        inside += cnt
    assert (inside == 1).mean() > 0.99  # the EPCIs cover the territory without overlaps

    r = Recipe.from_file(demo["recipe"])
    for s in r.sources.values():
        assert s.path is not None and s.path.is_file()
    assert {s.kind for s in r.sources.values()} == {"osm", "gtfs", "filosofi", "basilic", "epci", "census", "iris"}
    zone_codes = {c for z in r.priority_zones for c in z.epci}
    assert 1 <= len(zone_codes) <= 2 and zone_codes <= set(e["epci_code"])
    man = json.loads(demo["manifest"].read_text(encoding="utf-8"))
    assert sorted(man["epci"]["priority"]) == sorted(zone_codes)


def test_demo_project_loaders_read_the_files(demo):
    sources = pytest.importorskip("access.region.sources")
    for fn in ("read_filosofi", "read_basilic", "read_epci"):
        if not hasattr(sources, fn):
            pytest.skip(f"access.io.sources.{fn} is not written yet")
    cells = sources.read_filosofi(demo["filosofi"])
    import geopandas as gpd

    assert len(cells) == len(gpd.read_file(demo["filosofi"]))
    venues = sources.read_basilic(demo["basilic"])
    assert len(venues) >= 35  # heritage types may be left out by the taxonomy
    epci = sources.read_epci(demo["epci"])
    assert len(epci) == len(json.loads(demo["epci"].read_text(encoding="utf-8"))["features"])


# ---------------------------------------------------------------------------------------------- region
@pytest.fixture(scope="module")
def region_small(tmp_path_factory):
    if not (HDF / "communes_2018.geojson").exists():
        pytest.skip(f"real geography {HDF} is absent (set ACCESS_TEST_DATA to the shared data folder)")
    out = tmp_path_factory.mktemp("region")
    return make_region(out, scale=0.01, seed=0)


def test_region_small_scale_counts_and_formats(region_small, tmp_path):
    import geopandas as gpd

    c = region_small["counts"]
    man = json.loads(region_small["manifest"].read_text(encoding="utf-8"))
    tgt = man["targets"]
    # whole EPCIs are kept, so the targets follow the population kept (about 1-3% of the region)
    share = c["population"] / man["region_population"]
    assert 0.01 <= share <= 0.05
    assert abs(c["street_nodes"] - tgt["street_nodes"]) <= 0.25 * tgt["street_nodes"]
    assert abs(c["stops"] - tgt["stops"]) <= 0.25 * tgt["stops"]
    assert abs(c["cells"] - tgt["cells"]) <= 0.25 * tgt["cells"]
    assert abs(c["venues"] - tgt["venues"]) <= 0.3 * tgt["venues"] + 3
    assert abs(tgt["cells"] - 150_000 * share) <= 2
    # real EPCI codes and commune codes
    epci_real = gpd.read_file(HDF / "epci_2026.geojson")
    e = gpd.read_file(region_small["epci"])
    assert set(e["epci_code"]) <= set(epci_real["epci_code"])
    g = gpd.read_file(region_small["filosofi"])
    communes = pd.read_csv(HDF / "communes_epci_2026.csv", dtype={"code_commune": str, "epci_code": str})
    assert g["lcog_geo"].isin(set(communes["code_commune"])).mean() > 0.95
    assert abs(g["ind"].sum() - communes[communes["epci_code"].isin(e["epci_code"])]["population"].sum()) \
        < 0.02 * g["ind"].sum()
    # cells per EPCI: every kept EPCI has populated cells
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=g.geometry.centroid.to_crs(4326)), e, predicate="within")
    assert set(joined["epci_code"]) == set(e["epci_code"])
    # the pbf and the GTFS read back
    h = _read_osm(region_small["osm"])
    assert len(h.nodes) == c["street_nodes"]
    kinds = {t.get("highway") for _, _, t in h.ways}
    assert {"residential", "tertiary", "secondary", "footway"} <= kinds
    z = zipfile.ZipFile(region_small["gtfs"])
    stops = pd.read_csv(io.BytesIO(z.read("stops.txt")), dtype=str)
    st = pd.read_csv(io.BytesIO(z.read("stop_times.txt")), dtype=str)
    assert set(st["stop_id"]) <= set(stops["stop_id"])
    routes = pd.read_csv(io.BytesIO(z.read("routes.txt")), dtype=str)
    assert {"2", "3"} <= set(routes["route_type"])
    # venues follow the real counts: libraries dominate
    v = pd.read_csv(region_small["basilic"], sep=";", dtype=str)
    assert v["Type équipement ou lieu"].value_counts().index[0] in ("Bibliothèque", "Monument")
    # determinism of the street file
    again = make_region(tmp_path / "again", scale=0.01, seed=0)
    assert _sha(again["osm"]) == _sha(region_small["osm"])
    assert _sha(again["filosofi"]) == _sha(region_small["filosofi"])
    assert _sha(again["gtfs"]) == _sha(region_small["gtfs"])


def test_region_small_reads_with_project_loaders(region_small):
    from access.io.osm import read_highways
    from access.network.street import build_street_graph

    ways = read_highways(region_small["osm"])
    walk = build_street_graph(ways, "walk", largest_component=False)
    main = build_street_graph(ways, "walk")
    assert main.n_nodes >= 0.95 * walk.n_nodes
    sources = pytest.importorskip("access.region.sources")
    cells = sources.read_filosofi(region_small["filosofi"])
    assert len(cells) == region_small["counts"]["cells"]
    epci = sources.read_epci(region_small["epci"])
    assert len(epci) == region_small["counts"]["epci"]
    venues = sources.read_basilic(region_small["basilic"])
    assert len(venues) > 0


def test_region_rejects_bad_scale(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        make_region(tmp_path, scale=0.0)


def test_filosofi_cell_id_format():
    from access.synth.writers import cell_ids

    assert cell_ids([21262], [10149])[0] == "CRS3035RES200mN2029800E4252400"
    assert re.fullmatch(r"CRS3035RES1000mN\d+E\d+", cell_ids([4252], [2029], 1000)[0])


def test_cli_synth_demo(tmp_path):
    from click.testing import CliRunner

    from access.cli import cli

    res = CliRunner().invoke(cli, ["synth", "demo", "--out", str(tmp_path / "d"), "--seed", "5"])
    assert res.exit_code == 0, res.output
    assert "populated cells" in res.output
    for name in ("demo.osm.pbf", "demo.gtfs.zip", "carreaux_200m_met.gpkg", "basilic.csv", "epci.geojson",
                 "region.toml", "manifest.json"):
        assert (tmp_path / "d" / name).is_file()
    bad = CliRunner().invoke(cli, ["synth", "region", "--out", str(tmp_path / "r"), "--scale", "0"])
    assert bad.exit_code != 0 and "scale" in bad.output
