"""The end-to-end pipeline (``access.pipeline.run`` / ``access run``).

- Real data: central Nantes (OSM extract with its cultural venues read from OSM tags, SEMITAN GTFS 2014). What is
  *not* real there: the population grid (a regular 200 m INSEE-style grid over the extract, populations drawn from a
  seeded generator, written in Filosofi's CSV format) and the areas (four quadrants of the extract, written as an
  EPCI GeoJSON). The per-cell reductions of the pipeline are checked against naive twins computed here from the
  matrices it wrote.
- ``networks/hauts-de-france.toml``: its sources are served from a local HTTP server on 127.0.0.1 (tiny files in
  the real formats, placed inside the region), and ``access run`` goes through fetch -> lock file -> network.
  Offline (nothing listening), it fails with a clear FetchError naming the source's URL.
"""

from __future__ import annotations

import datetime as dt
import gzip
import http.server
import io
import json
import math
import shutil
import threading
import tomllib
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from access.indicators import CLASSES
from tests._data import test_data_dir as _test_data_dir

ROOT = Path(__file__).resolve().parents[1]
NANTES = _test_data_dir() / "nantes"


# ------------------------------------------------------------------------------------------------ Nantes region
def _osm_bbox(pbf) -> tuple[float, float, float, float]:
    import osmium

    r = osmium.io.Reader(str(pbf))
    try:
        box = r.header().box()
    finally:
        r.close()
    if box.valid():
        return box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat
    lon, lat = [], []
    for n in osmium.FileProcessor(str(pbf), osmium.osm.NODE):
        lon.append(n.location.lon)
        lat.append(n.location.lat)
    return min(lon), min(lat), max(lon), max(lat)


def make_nantes_region(folder, *, seed: int = 7, modes=("walk", "bike", "car", "transit"), margin_m: float = 150.0):
    """Write a recipe for central Nantes into ``folder``: the real OSM extract and SEMITAN feed (by path), a synthetic
    Filosofi-format 200 m grid over the extract (seeded populations, incomes, poverty), and four synthetic
    intercommunalities (the extract's quadrants). Returns the recipe path. Skips when the real data is absent."""
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    osm = NANTES / "nantes_subset.osm.pbf"
    gtfs = NANTES / "semitan_gtfs_2014_subset.zip"
    for p in (osm, gtfs):
        if not p.exists():
            pytest.skip(f"real data file {p} is absent (set ACCESS_TEST_DATA to the shared data folder)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lon0, lat0, lon1, lat1 = _osm_bbox(osm)
    to3035 = Transformer.from_crs(4326, 3035, always_xy=True)
    xs, ys = to3035.transform([lon0, lon1, lon0, lon1], [lat0, lat0, lat1, lat1])
    e0 = math.ceil((max(xs[0], xs[2]) + margin_m) / 200) * 200
    e1 = math.floor((min(xs[1], xs[3]) - margin_m) / 200) * 200
    n0 = math.ceil((max(ys[0], ys[1]) + margin_m) / 200) * 200
    n1 = math.floor((min(ys[2], ys[3]) - margin_m) / 200) * 200
    E, N = np.meshgrid(np.arange(e0, e1, 200), np.arange(n0, n1, 200))
    E, N = E.ravel(), N.ravel()
    rng = np.random.default_rng(seed)
    ind = np.round(rng.gamma(2.0, 60.0, len(E)) + 1, 1)
    men = np.round(ind / rng.uniform(1.7, 2.6, len(E)), 1)
    grid = pd.DataFrame({
        "idcar_200m": [f"CRS3035RES200mN{n}E{e}" for e, n in zip(E, N)],
        "lcog_geo": "44109", "ind": ind, "men": men,
        "men_pauv": np.round(men * rng.uniform(0.03, 0.45, len(E)), 1),
        "ind_snv": np.round(ind * rng.uniform(13000, 32000, len(E)), 1),
        "ind_65_79": np.round(ind * rng.uniform(0.05, 0.2, len(E)), 1),
        "ind_80p": np.round(ind * rng.uniform(0.0, 0.08, len(E)), 1),
    })
    grid.to_csv(folder / "filosofi_nantes_synthetic.csv", index=False)
    # four intercommunalities: the quadrants of the extract's box (synthetic codes)
    mx, my = (lon0 + lon1) / 2, (lat0 + lat1) / 2
    boxes = [shapely.box(lon0, lat0, mx, my), shapely.box(mx, lat0, lon1, my), shapely.box(lon0, my, mx, lat1),
             shapely.box(mx, my, lon1, lat1)]
    epci = gpd.GeoDataFrame({"epci_code": ["200000001", "200000002", "200000003", "200000004"],
                             "epci_nom": ["Quadrant sud-ouest", "Quadrant sud-est", "Quadrant nord-ouest",
                                          "Quadrant nord-est"]}, geometry=boxes, crs=4326)
    epci.to_file(folder / "epci_quadrants.geojson", driver="GeoJSON")
    recipe = folder / "nantes.toml"
    recipe.write_text(f"""[region]
name = "Nantes centre (real OSM + SEMITAN; synthetic grid and areas)"

[analysis]
date = 2014-06-10
departure = "08:00"
window_min = 20
percentiles = [50]
modes = {json.dumps(list(modes))}
thresholds_min = [10, 20, 30]
max_time_min = 45

[venues]
categories = ["cinema", "library", "museum", "performing_arts", "arts_centre"]

[[areas.priority_zones]]
name = "Zone test"
epci = ["200000004"]

[sources.osm]
kind = "osm"
format = "osm.pbf"
path = "{osm}"
licence = "ODbL-1.0"

[sources.semitan]
kind = "gtfs"
format = "gtfs.zip"
path = "{gtfs}"
licence = "ODbL-1.0"

[sources.grid]
kind = "filosofi"
format = "csv"
path = "filosofi_nantes_synthetic.csv"
licence = "synthetic"

[sources.epci]
kind = "epci"
format = "geojson"
path = "epci_quadrants.geojson"
licence = "synthetic"
""", encoding="utf-8")
    return recipe


@pytest.fixture(scope="module")
def nantes_run(tmp_path_factory):
    from access.region.pipeline import run

    folder = tmp_path_factory.mktemp("nantes")
    recipe = make_nantes_region(folder / "data")
    with warnings.catch_warnings():
        # the data's known quirks (README of the data folder): ways cut by the extract's box, trimmed trips,
        # stops far beyond the OSM extract
        warnings.filterwarnings("ignore", message=r".*(reference nodes missing|fewer than 2 stop times|farther than "
                                                  r"max_snap_m).*")
        res = run(recipe, folder / "out", progress=False, log=lambda m: None)
    return res, folder / "out", recipe


def _matrix(out: Path, mode: str) -> pd.DataFrame:
    return pd.read_parquet(out / "work" / f"matrix_{mode}.parquet")


@pytest.mark.slow
def test_nantes_venues_come_from_osm_tags(nantes_run):
    res, out, _ = nantes_run
    v = pd.read_parquet(out / "venues.parquet")
    assert set(v["source"]) == {"osm"}
    counts = v["category"].value_counts()
    # the README of the data folder counts 14 libraries, 3 cinemas, 6 museums, 4 arts centres, 7 theatres
    assert counts["library"] >= 10 and counts["cinema"] >= 2 and counts["museum"] >= 4
    assert counts["performing_arts"] >= 5 and counts["arts_centre"] >= 3


@pytest.mark.slow
def test_nantes_cell_indicators_match_naive_twins(nantes_run):
    """time to nearest, venues within T, gravity and 2SFCA recomputed naively from the matrices (tol 1e-9)."""
    from access.region.pipeline import FCA_CUTOFF_MIN, GRAVITY_HALF_LIFE_MIN

    res, out, _ = nantes_run
    cells = pd.DataFrame(res.cells.drop(columns="geometry")).set_index("id")
    venues = pd.read_parquet(out / "venues.parquet").set_index("id")
    beta = math.log(2) / GRAVITY_HALF_LIFE_MIN
    for mode in ("walk", "bike", "car", "transit"):
        m = _matrix(out, mode)
        assert m["travel_time"].notna().all() and (m["travel_time"] <= 45).all()
        m = m.join(venues["category"], on="to_id")
        g = m.groupby("from_id")
        t_any = g["travel_time"].min().reindex(cells.index).fillna(np.inf)
        lib = m[m["category"] == "library"].groupby("from_id")["travel_time"].min().reindex(cells.index)
        lib = lib.fillna(np.inf)
        # the times to the nearest venue come from nearest_times, uncapped (tests/test_nearest.py checks them
        # against full matrices); against the matrix capped at 45 min: equal within the cap, beyond it otherwise
        for got, ref in ((cells[f"time_{mode}_any"], t_any), (cells[f"time_{mode}_library"], lib)):
            fin = np.isfinite(ref)
            if mode == "transit":  # the percentile of the per-minute nearest is at most the nearest percentile
                assert (got[fin] <= ref[fin] + 1e-9).all()
            else:
                np.testing.assert_allclose(got[fin], ref[fin], rtol=0, atol=1e-9)
                assert (got[~fin] > 45).all()
            assert np.isfinite(got).mean() >= fin.mean()
        for t in (10, 20, 30):
            n = m[m["travel_time"] <= t].groupby("from_id").size().reindex(cells.index).fillna(0)
            np.testing.assert_allclose(cells[f"reach_{mode}_{t}min"], n, atol=1e-9)
        grav = m.assign(w=np.exp(-beta * m["travel_time"])).groupby("from_id")["w"].sum()
        np.testing.assert_allclose(cells[f"gravity_{mode}"], grav.reindex(cells.index).fillna(0), rtol=1e-9)
        # 2SFCA, binary catchment: R_j = 1 / sum_{i: t_ij <= c} P_i ; A_i = sum_{j: t_ij <= c} R_j
        w = m[m["travel_time"] <= FCA_CUTOFF_MIN].join(cells["population"], on="from_id")
        demand = w.groupby("to_id")["population"].sum()
        w = w.assign(r=1.0 / w["to_id"].map(demand))
        fca = w.groupby("from_id")["r"].sum().reindex(cells.index).fillna(0) * 1e4
        np.testing.assert_allclose(cells[f"fca_{mode}"], fca, rtol=1e-9)


@pytest.mark.slow
def test_nantes_chunked_matrix_equals_one_block(nantes_run, tmp_path):
    """Streaming the matrix by chunks of 37 origins gives the pairs of a single block, and the indicators read the
    several row groups (each with its own id dictionary) the same way."""
    import geopandas as gpd

    from access.region.pipeline import _points, cell_indicators, matrix_to_parquet

    res, out, _ = nantes_run
    cells = gpd.read_parquet(out / "work" / "cells.parquet")
    venues = gpd.read_parquet(out / "work" / "venues.parquet")
    o, d = _points(cells, "cells"), _points(venues, "venues")
    for mode in ("car", "transit"):
        p = tmp_path / f"{mode}.parquet"
        n = matrix_to_parquet(res.network, o, d, p, mode=mode, max_time_min=45, departure="2014-06-10T08:00",
                              window_min=20, chunk_origins=37, progress=False)
        import pyarrow.parquet as pq

        assert pq.ParquetFile(p).num_row_groups == -(-len(cells) // 37)
        key = ["from_id", "to_id"]
        a = pd.read_parquet(p).astype({"from_id": str, "to_id": str}).sort_values(key).reset_index(drop=True)
        b = _matrix(out, mode).astype({"from_id": str, "to_id": str}).sort_values(key).reset_index(drop=True)
        assert n == len(b)
        pd.testing.assert_frame_equal(a, b)
        got = cell_indicators({mode: p}, cells, venues, thresholds_min=(10, 20, 30), network=res.network,
                              departure=dt.datetime(2014, 6, 10, 8, 0), window_min=20).set_index("id")
        ref = res.cells.set_index("id")
        for c in got.columns:
            np.testing.assert_allclose(got[c], ref.loc[got.index, c], rtol=1e-12, err_msg=c)


@pytest.mark.slow
def test_nantes_times_plausible(nantes_run):
    res, out, _ = nantes_run
    c = res.cells
    ok = np.isfinite(c["time_walk_any"])
    assert ok.mean() > 0.95
    r = np.corrcoef(c.loc[ok, "crowfly_km_any"], c.loc[ok, "time_walk_any"])[0, 1]
    assert r > 0.5, r
    # walking at 3.6 km/h cannot beat the straight line: minutes >= km / 3.6 * 60 (less the snapping slack)
    assert (c.loc[ok, "time_walk_any"] >= c.loc[ok, "crowfly_km_any"] / 3.6 * 60 - 6).all()
    # bike and car are faster than walking, and transit (which may walk all the way) never slower than walking
    for m in ("bike", "car", "transit"):
        both = ok & np.isfinite(c[f"time_{m}_any"])
        assert (c.loc[both, f"time_{m}_any"] <= c.loc[both, "time_walk_any"] + 1e-9).mean() > 0.9, m


@pytest.mark.slow
def test_nantes_areas_and_report(nantes_run):
    import geopandas as gpd
    import shapely

    res, out, recipe = nantes_run
    a = res.areas.set_index("id")
    assert len(a) == 4 and a["class"].notna().all()
    assert a.loc["200000004", "priority_zone"] == "Zone test" and a["class"].isin(CLASSES).all()
    assert (a.drop(index="200000004")["priority_zone"] == "").all()
    # population per area: independent point-in-polygon sum of the grid written in the test
    grid = pd.read_csv(recipe.parent / "filosofi_nantes_synthetic.csv")
    cells = res.cells
    areas = gpd.read_file(recipe.parent / "epci_quadrants.geojson").set_index("epci_code")
    for code, poly in areas.geometry.items():
        inside = shapely.contains_xy(poly, cells.geometry.x.to_numpy(), cells.geometry.y.to_numpy())
        assert a.loc[code, "population"] == pytest.approx(cells["population"].to_numpy()[inside].sum(), rel=1e-9)
        # socio-economic profile from the raw grid columns (Filosofi names), not from the loader's output
        g = grid.set_index("idcar_200m").loc[cells["id"].to_numpy()[inside]]
        assert a.loc[code, "poverty_rate"] == pytest.approx(g["men_pauv"].sum() / g["men"].sum(), rel=1e-9)
        old = (g["ind_65_79"] + g["ind_80p"]).sum() / g["ind"].sum()
        assert a.loc[code, "share_elderly"] == pytest.approx(old, rel=1e-9)
        km2 = gpd.GeoSeries([poly], crs=4326).to_crs(3035).area.iloc[0] / 1e6
        assert a.loc[code, "density"] == pytest.approx(g["ind"].sum() / km2, rel=1e-9)
    assert a["population"].sum() == pytest.approx(grid["ind"].sum(), rel=1e-9)
    for f in ("summary.md", "epci.gpkg", "nantes.gpkg", "epci.parquet", "cells.parquet", "epci_map.html"):
        assert (out / f).stat().st_size > 0, f
    assert len(list((out / "maps").glob("*.png"))) >= 5
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(out / "nantes.gpkg")}
    assert layers == {"epci", "cells", "venues"}
    text = (out / "summary.md").read_text()
    assert "Quadrant nord-est" in text and "| Zone test |" in text  # the priority zone beside the computed class


@pytest.mark.slow
def test_nantes_rerun_reuses_and_recomputes_downstream_only(nantes_run, tmp_path):
    from access.region.pipeline import run

    _, out, recipe = nantes_run
    again = run(recipe, out, progress=False, log=lambda m: None)
    assert set(again.reused) >= {"inputs", "matrix_walk", "matrix_transit", "indicators", "areas", "report"}
    # a copy of the run with other thresholds: the matrices are reused, the indicators and what follows are not
    data2 = tmp_path / "data"
    shutil.copytree(recipe.parent, data2)
    out2 = tmp_path / "out"
    shutil.copytree(out, out2)
    r2 = data2 / recipe.name
    r2.write_text(r2.read_text().replace("thresholds_min = [10, 20, 30]", "thresholds_min = [15, 30]"))
    lines = []
    res = run(r2, out2, progress=False, log=lines.append)
    assert {"inputs", "matrix_walk", "matrix_bike", "matrix_car", "matrix_transit"} <= set(res.reused)
    assert not {"indicators", "areas", "report"} & set(res.reused)
    assert any("[indicators] running (changed since the last run: thresholds)" in ln for ln in lines)
    assert "reach_walk_15min" in res.cells.columns and "reach_walk_10min" not in res.cells.columns


# ------------------------------------------------------------------------------------------------ Hauts-de-France
class _Files(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    hits: list = []

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        name = self.path.lstrip("/")
        self.hits.append(name)
        data = self.files.get(name)
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _hdf_fixture_files(tmp: Path) -> dict[str, bytes]:
    """Tiny files in the real formats, placed in Lille (inside the recipe's bbox), by source name."""
    import geopandas as gpd
    import shapely

    from access.synth import _build as B
    from access.synth.writers import write_gtfs_zip

    from .fixtures_sources import write_basilic_csv, write_bpe_csv, write_filosofi_gpkg

    files = {}
    # OSM: a 6 x 6 street grid, 150 m apart, around Lille's centre (written by the synthetic OSM writer)
    b = B.OsmBuilder()
    x0, y0 = B.to_metric([3.0632], [50.6292])
    gx, gy = np.meshgrid(np.arange(6) * 150.0, np.arange(6) * 150.0)
    ids = b.add_nodes(x0[0] + gx.ravel(), y0[0] + gy.ravel()).reshape(6, 6)
    for i in range(6):
        b.add_way(ids[i, :].tolist(), {"highway": "residential"})
        b.add_way(ids[:, i].tolist(), {"highway": "residential"})
    b.write(tmp / "grid.osm.pbf")
    files["osm_nord_pas_de_calais"] = (tmp / "grid.osm.pbf").read_bytes()
    # the neighbouring extract overlaps it (same grid, same ids, as Geofabrik extracts share border objects) and
    # adds a road leaving the grid's north-east corner eastwards: the merge must keep one copy of each object
    b2 = B.OsmBuilder()
    ids2 = b2.add_nodes(x0[0] + gx.ravel(), y0[0] + gy.ravel()).reshape(6, 6)
    for i in range(6):
        b2.add_way(ids2[i, :].tolist(), {"highway": "residential"})
        b2.add_way(ids2[:, i].tolist(), {"highway": "residential"})
    extra = b2.add_nodes(x0[0] + np.array([900.0, 1050.0]), y0[0] + np.array([750.0, 750.0]))
    b2.add_way([int(ids2[5, 5]), *extra.tolist()], {"highway": "tertiary"})
    b2.write(tmp / "pic.osm.pbf")
    files["osm_picardie"] = (tmp / "pic.osm.pbf").read_bytes()
    # GTFS: one bus line along the grid's first street
    lon, lat = B.to_lonlat(x0[0] + np.array([0.0, 300.0, 600.0]), np.full(3, y0[0]))
    tables = {
        "agency.txt": pd.DataFrame({"agency_id": ["A"], "agency_name": ["Test"], "agency_url": ["http://x"],
                                    "agency_timezone": ["Europe/Paris"]}),
        "stops.txt": pd.DataFrame({"stop_id": ["s0", "s1", "s2"], "stop_name": ["a", "b", "c"], "stop_lat": lat,
                                   "stop_lon": lon}),
        "routes.txt": pd.DataFrame({"route_id": ["r"], "agency_id": ["A"], "route_short_name": ["1"],
                                    "route_long_name": ["ligne 1"], "route_type": [3]}),
        "trips.txt": pd.DataFrame({"route_id": ["r"], "service_id": ["wk"], "trip_id": ["t1"]}),
        "stop_times.txt": pd.DataFrame({"trip_id": ["t1"] * 3, "arrival_time": ["14:05:00", "14:07:00", "14:09:00"],
                                        "departure_time": ["14:05:00", "14:07:00", "14:09:00"],
                                        "stop_id": ["s0", "s1", "s2"], "stop_sequence": [1, 2, 3]}),
        "calendar.txt": pd.DataFrame({"service_id": ["wk"], "monday": [1], "tuesday": [1], "wednesday": [1],
                                      "thursday": [1], "friday": [1], "saturday": [0], "sunday": [0],
                                      "start_date": ["20260101"], "end_date": ["20271231"]}),
    }
    write_gtfs_zip(tables, tmp / "feed.zip")
    feed = (tmp / "feed.zip").read_bytes()
    files["gtfs_ter_hdf"] = feed
    files["gtfs_ilevia"] = feed
    # Filosofi: a zip holding the GeoPackage under its official name; BPE: a zip holding BPE25.csv
    gp = write_filosofi_gpkg(tmp, n=12)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(gp, "carreaux_200m_met.gpkg")
    files["filosofi_200m"] = buf.getvalue()
    bpe = write_bpe_csv(tmp)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(bpe, "BPE25.csv")
    files["bpe"] = buf.getvalue()
    files["basilic"] = write_basilic_csv(tmp).read_bytes()
    epci = gpd.GeoDataFrame({"code": ["200093201"], "nom": ["Métropole Européenne de Lille"]},
                            geometry=[shapely.box(2.8, 50.5, 3.3, 50.8)], crs=4326)
    epci.to_file(tmp / "epci.geojson", driver="GeoJSON")
    files["epci"] = gzip.compress(
        (tmp / "epci.geojson").read_bytes())
    files["communes"] = json.dumps([{"code": "59350", "nom": "Lille", "codeDepartement": "59",
                                     "codeEpci": "200093201", "population": 236710}]).encode()
    # the census housing base by IRIS (INSEE's zip) and IGN's CONTOURS-IRIS .7z (issue 16)
    from access.synth.writers import CENSUS_LOGEMENT_COLUMNS, write_census_logement, write_contours_iris_7z

    codes = ["593500101", "593500102"]
    census = pd.DataFrame({c.format(yy="21"): [10.0, 20.0] for c in CENSUS_LOGEMENT_COLUMNS})
    census["IRIS"], census["COM"], census["DEP"], census["REG"] = codes, ["59350"] * 2, ["59"] * 2, ["32"] * 2
    census["P21_RP"], census["P21_RP_VOIT1P"] = [900.0, 1100.0], [600.0, 700.0]
    write_census_logement(census, tmp / "census.zip")
    files["census_logement"] = (tmp / "census.zip").read_bytes()
    iris = gpd.GeoDataFrame({"INSEE_COM": ["59350"] * 2, "NOM_COM": ["Lille"] * 2, "IRIS": ["0101", "0102"],
                             "CODE_IRIS": codes, "NOM_IRIS": ["a", "b"], "TYP_IRIS": ["H", "H"]},
                            geometry=[shapely.box(2.9, 50.5, 3.06, 50.8), shapely.box(3.06, 50.5, 3.2, 50.8)],
                            crs=4326)
    write_contours_iris_7z(iris, tmp / "iris.7z")
    files["iris"] = (tmp / "iris.7z").read_bytes()
    return files


def _local_recipe(tmp: Path, base: str) -> tuple[Path, dict[str, str]]:
    """networks/hauts-de-france.toml with every URL pointed at ``base`` (same path), written into ``tmp``.
    Returns the recipe and the URL path of each source."""
    from urllib.parse import urlsplit

    src = (ROOT / "networks" / "hauts-de-france.toml").read_text(encoding="utf-8")
    data = tomllib.loads(src)
    paths = {}
    for name, s in data["sources"].items():
        if "url" in s:
            paths[name] = urlsplit(s["url"]).path.lstrip("/")
            src = src.replace(f'url = "{s["url"]}"', f'url = "{base}/{paths[name]}"')
        if "aom" in s:  # the networks resolved through transport.data.gouv.fr are left out here
            src = src.replace(f'aom = "{s["aom"]}"', f'aom = "{s["aom"]}"\nenabled = false')
    out = tmp / "hauts-de-france.toml"
    out.write_text(src, encoding="utf-8")
    return out, paths


@pytest.fixture
def file_server():
    handler = type("H", (_Files,), {"files": {}, "hits": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield handler, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_hauts_de_france_run_up_to_network_from_local_server(file_server, tmp_path):
    from access.cli import main
    from access.network.bundle import TransportNetwork
    from access.region.recipe import Recipe

    handler, base = file_server
    recipe, url_paths = _local_recipe(tmp_path, base)
    handler.files.update({url_paths[name]: data for name, data in _hdf_fixture_files(tmp_path).items()})
    r = Recipe.from_file(recipe)
    assert [s.name for s in r.enabled_sources() if s.url and not s.url.startswith(base)] == []
    cache, out = tmp_path / "cache", tmp_path / "out"
    rc = main(["run", str(recipe), "--out", str(out), "--cache", str(cache), "--until", "network", "-q"])
    assert rc == 0
    # every enabled source was downloaded once, the disabled ones never
    enabled = {s.name for s in r.enabled_sources()}
    assert len(handler.hits) == len(enabled) == 10
    lock = json.loads((tmp_path / "hauts-de-france.lock.json").read_text())
    assert set(lock["sources"]) == enabled
    for name, e in lock["sources"].items():
        assert (cache / e["file"]).stat().st_size == e["size_bytes"]
    # the two OSM extracts were merged and clipped, and the network built from the clip with the GTFS feeds
    import osmium

    clipped = cache / "hauts-de-france-clipped.osm.pbf"
    assert sum(1 for _ in osmium.FileProcessor(str(clipped), osmium.osm.WAY)) == 12 + 1
    bundles = list((out / "cache" / "network").glob("*/manifest.json"))
    assert len(bundles) == 1
    net = TransportNetwork.load(bundles[0].parent)
    assert set(net.modes) == {"walk", "bike", "car"}
    assert net.street("walk").n_nodes == 36 + 1  # the new road: its end node (the middle one is geometry)
    assert net.timetable is not None and net.timetable.n_stops == 2 * 3  # two feeds, ids kept apart
    # a second run downloads nothing (files present and matching the lock)
    handler.hits.clear()
    rc = main(["run", str(recipe), "--out", str(out), "--cache", str(cache), "--until", "network", "-q"])
    assert rc == 0 and handler.hits == []


def test_run_offline_fails_clearly(tmp_path, capsys):
    from access._errors import FetchError
    from access.region.pipeline import run

    # a port nobody listens on
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    recipe, _ = _local_recipe(tmp_path, f"http://127.0.0.1:{port}")
    with pytest.raises(FetchError, match=r"osm_nord_pas_de_calais: 127\.0\.0\.1 cannot be reached.*copy it to"):
        run(recipe, tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, log=lambda m: None,
            fetch_options=dict(retries=0, timeout_s=2))
    assert not list((tmp_path / "cache").glob("*.osm.pbf"))  # nothing under a final name
    assert not (tmp_path / "hauts-de-france.lock.json").exists()


def test_no_fetch_names_the_missing_source(tmp_path):
    from access._errors import FetchError
    from access.region.pipeline import run

    recipe, _ = _local_recipe(tmp_path, "http://127.0.0.1:9")
    with pytest.raises(FetchError, match=r"osm_nord_pas_de_calais.*access fetch"):
        run(recipe, tmp_path / "out", cache_dir=tmp_path / "cache", fetch=False, progress=False, log=lambda m: None)


def test_bad_modes_and_until(tmp_path):
    from access._errors import ValidationError
    from access.region.pipeline import run

    with pytest.raises(ValidationError, match="subset of the recipe's modes"):
        run(ROOT / "networks" / "hauts-de-france.toml", tmp_path, modes=["plane"])
    with pytest.raises(ValidationError, match="`until` must be one of"):
        run(ROOT / "networks" / "hauts-de-france.toml", tmp_path, until="nowhere")


def test_venues_fall_back_per_category_basilic_then_bpe_then_osm(tmp_path):
    """Basilic with libraries only, BPE without arts centres: each category comes from the first source having it."""
    from access.region.pipeline import load_venues
    from access.region.recipe import Recipe

    from .fixtures_sources import write_basilic_csv, write_bpe_csv

    osm = NANTES / "nantes_subset.osm.pbf"
    if not osm.exists():
        pytest.skip(f"real data file {osm} is absent")
    full = write_basilic_csv(tmp_path)
    lines = full.read_text(encoding="utf-8").splitlines()
    bas = tmp_path / "basilic_libraries.csv"
    bas.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if "Bibliothèque" in ln]) + "\n", encoding="utf-8")
    bpe = write_bpe_csv(tmp_path)
    r = Recipe.from_dict({
        "region": {"name": "t"},
        "analysis": {"date": "2014-06-10", "departure": "08:00", "modes": ["walk"], "thresholds_min": [10]},
        "venues": {"categories": ["library", "cinema", "museum", "arts_centre"]},
        "sources": {"osm": {"kind": "osm", "format": "osm.pbf", "path": str(osm), "licence": "ODbL"},
                    "bas": {"kind": "basilic", "format": "csv", "path": str(bas), "licence": "LO"},
                    "bpe": {"kind": "bpe", "format": "csv", "path": str(bpe), "licence": "LO"}}})
    files = {"osm": osm, "bas": bas, "bpe": bpe}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = load_venues(r, files, osm, log=lambda m: None)
    src = v.groupby("category")["source"].agg(lambda s: sorted(set(s)))
    assert src.to_dict() == {"arts_centre": ["osm"], "cinema": ["bpe"], "library": ["bas"], "museum": ["bpe"]}
    assert v["id"].is_unique


@pytest.mark.slow
def test_nantes_full_disk_mid_report_then_resumes(nantes_run, tmp_path, monkeypatch):
    """A disk that fills while the run writes its outputs: one clear error naming the file, every output whole (the
    previous run's or the new one), no temp file; once space is freed the same run resumes (the steps before are
    reused)."""
    import re

    from access._errors import DiskFullError
    from access.region.pipeline import run

    from .test_full_disk import FullDisk, _temps

    _, out, recipe = nantes_run
    data2, out2 = tmp_path / "data", tmp_path / "out"
    shutil.copytree(recipe.parent, data2)
    shutil.copytree(out, out2)
    r2 = data2 / recipe.name
    r2.write_text(r2.read_text().replace("thresholds_min = [10, 20, 30]", "thresholds_min = [15, 30]"))
    before = {p: p.stat().st_size for p in out2.rglob("*") if p.is_file()}
    disk = FullDisk(monkeypatch, after=3)
    with pytest.raises(DiskFullError) as ei:
        run(r2, out2, progress=False, log=lambda m: None)
    msg = str(ei.value)
    assert re.search(r"cannot write '.*': the disk is full \(No space left on device\)", msg) and str(out2) in msg
    assert "free some space on that disk or choose another output folder (--out)" in msg
    assert _temps(out2) == []
    assert {p for p in out2.rglob("*") if p.is_file()} == set(before)  # nothing half-written added
    disk.free()
    res = run(r2, out2, progress=False, log=lambda m: None)
    assert {"inputs", "matrix_walk", "matrix_transit"} <= set(res.reused)
    assert "reach_walk_15min" in res.cells.columns


def _flat_dem(path: Path, bbox, z: int = 30) -> None:
    """A flat GeoTIFF DEM (EPSG:4326, uint8 metres, ~30 m pixels) covering ``bbox`` (lon0, lat0, lon1, lat1)."""
    from PIL import Image
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    lon0, lat0, lon1, lat1 = bbox
    d = 1 / 3600
    w, h = int((lon1 - lon0) / d) + 4, int((lat1 - lat0) / d) + 4
    info = ImageFileDirectory_v2()
    info[33550] = (d, d, 0.0)
    info[33922] = (0.0, 0.0, 0.0, lon0 - 2 * d, lat1 + 2 * d, 0.0)
    info[34735] = (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326)
    Image.fromarray(np.full((h, w), z, np.uint8), mode="L").save(path, tiffinfo=info)


def test_pipeline_bike_access_and_elevation_keys(tmp_path):
    """``[analysis] access_mode = "bike"`` (+ ``max_bike_min``) and ``[network] elevation``: the pipeline builds the
    bike graph and the slope-aware network from the DEM, and its transit matrix equals the library's bike-access
    matrix on that network."""
    import access
    from access.region.pipeline import _points, _read_geoparquet, run

    recipe = make_nantes_region(tmp_path / "data", modes=("transit",))
    _flat_dem(tmp_path / "data" / "flat.tif", _osm_bbox(NANTES / "nantes_subset.osm.pbf"))
    text = recipe.read_text(encoding="utf-8")
    text = text.replace("max_time_min = 45\n", 'max_time_min = 45\naccess_mode = "bike"\nmax_bike_min = 15\n')
    text = text.replace("[venues]", '[network]\nelevation = "flat.tif"\n\n[venues]')
    recipe.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run(recipe, tmp_path / "out", progress=False, log=lambda m: None, until="matrix")
    net = res.network
    assert "bike" in net.modes and net.street("walk").meta.get("elevation") and net.street("bike").meta.get(
        "elevation")
    assert net.manifest["settings"]["elevation"].endswith("flat.tif")
    work = tmp_path / "out" / "work"
    got = pd.read_parquet(work / "matrix_transit.parquet")
    cells = _points(_read_geoparquet(work / "cells.parquet"), "cells")
    venues = _points(_read_geoparquet(work / "venues.parquet"), "venues")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(mode="transit", departure=dt.datetime(2014, 6, 10, 8, 0), window_min=20, max_time_min=45,
                  progress=False)
        ref = access.travel_time_matrix(net, cells, venues, access_mode="bike",
                                        transit=access.TransitOptions(max_bike_min=15), **kw).to_frame(
            drop_unreachable=True)
        walk = access.travel_time_matrix(net, cells, venues, **kw).to_frame(drop_unreachable=True)
    key = ["from_id", "to_id"]
    ref = ref.assign(from_id=ref.from_id.astype(str), to_id=ref.to_id.astype(str)).sort_values(key)
    got = got.assign(from_id=got.from_id.astype(str), to_id=got.to_id.astype(str)).sort_values(key)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False)
    both = ref.merge(walk.assign(from_id=walk.from_id.astype(str), to_id=walk.to_id.astype(str)), on=key,
                     suffixes=("_bike", "_walk"))
    assert (both.travel_time_bike < both.travel_time_walk).mean() > 0.2  # riding to the stops is faster for many
    # a bad key is refused before any work
    recipe.write_text(text.replace('elevation = "flat.tif"', 'elevation = "flat.png"'), encoding="utf-8")
    with pytest.raises(access.ValidationError, match=r"`network.elevation` must be the path of a GeoTIFF"):
        run(recipe, tmp_path / "out2", progress=False, log=lambda m: None, until="matrix")
