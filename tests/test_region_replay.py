"""Replay of the real Hauts-de-France job: `access fetch` + `access run` on files in the exact real formats, served
from 127.0.0.1, with no 7-Zip program and no network.

What is served (every file built here, nothing real copied but the region's EPCI polygons and commune list of
``../shared/data/hauts_de_france``):

- the national EPCI file in Etalab's shape (``code``, ``nom``, gzipped GeoJSON): the region's 92 EPCI plus made-up
  EPCI of Nantes and Strasbourg;
- geo.api.gouv.fr's communes JSON (``code, nom, codeDepartement, codeEpci, population``), with the Normandie
  communes of the two straddling EPCI and communes of other regions;
- Filosofi 2019: a zip holding ``Filosofi2019_carreaux_200m_gpkg.7z`` holding ``carreaux_200m_met.gpkg`` (the 34
  official columns, squares in EPSG:2154, ids in EPSG:3035), made with py7zr; cells in every EPCI of the region,
  in Nantes and Strasbourg, cells touching two communes;
- Basilic: ``;``, UTF-8 with BOM, rows across France, a site listed twice, a company, an orchestra, a bad
  coordinate, a venue in Belgium within the border buffer;
- BPE 2025: a zip of one ``BPE25.csv`` in the 2024+ layout;
- two overlapping ``.pbf`` extracts of a street grid in central Lille;
- a TER-like GTFS (train and coach stop ids of one station) resolved through a transport.data.gouv.fr-shaped API
  (``/api/datasets`` list with ``aom.siren``, ``/api/datasets/<id>`` with ``resources``);
- INSEE's census housing base by IRIS, ``base-ic-logement-2021_csv.zip`` (``;`` CSV ``base-ic-logement-2021.CSV``
  with ``IRIS, REG, DEP, UU2020, COM, TYP_IRIS, LAB_IRIS, P21_LOG, P21_RP, ..., P21_RP_VOIT1P, ...`` and its
  ``meta_`` dictionary), with IRIS of other regions and of Guadeloupe;
- IGN's CONTOURS-IRIS 3.0 France ``.7z`` (``CONTOURS-IRIS_3-0__SHP__FRA_2023-01-01/CONTOURS-IRIS/
  1_DONNEES_LIVRAISON_.../CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-ED2023-01-01/CONTOURS-IRIS.shp`` in EPSG:2154 next to
  an overseas territory's ``CONTOURS-IRIS.shp``), made with py7zr.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests import fixtures_sources as fx
from tests._data import test_data_dir

HDF = test_data_dir() / "hauts_de_france"
pytestmark = pytest.mark.skipif(not (HDF / "epci_2026.geojson").exists(),
                                reason=f"real data absent: {HDF / 'epci_2026.geojson'}")
OTHERS = {  # made-up EPCI of other regions, as boxes: (code, name, department, commune, box)
    "244400404": ("Nantes Métropole", "44", "44109", (-1.65, 47.15, -1.45, 47.30)),
    "246700488": ("Eurométropole de Strasbourg", "67", "67482", (7.65, 48.50, 7.85, 48.65)),
}
STRADDLING = {"247600588": "76255", "200069722": "76035"}  # EPCI -> a Normandie commune of theirs
LILLE = (3.040, 50.620, 3.080, 50.645)  # the street grid


# ------------------------------------------------------------------------------------------------ the server
class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    files: dict = {}

    def log_message(self, *a):
        pass

    def do_GET(self):
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()[:16]}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    files: dict[str, bytes] = {}
    handler = type("H", (_Handler,), {"files": files})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    d = tmp_path_factory.mktemp("upstream")
    _build_upstream(d, files, base)
    yield base, files
    srv.shutdown()
    srv.server_close()


_TR: dict = {}


def _epsg3035_cell(lon, lat):
    from pyproj import Transformer

    if "t" not in _TR:  # one transformer for every cell (building one costs ~0.2 s)
        _TR["t"] = Transformer.from_crs(4326, 3035, always_xy=True)
    x, y = _TR["t"].transform(lon, lat)
    e, n = int(x // 200 * 200), int(y // 200 * 200)
    return f"CRS3035RES200mN{n}E{e}"


def _build_upstream(d: Path, files: dict, base: str) -> None:
    import geopandas as gpd
    import shapely

    # EPCI, the national file: code, nom (Etalab), gzipped
    hdf = gpd.read_file(HDF / "epci_2026.geojson")
    ep = gpd.GeoDataFrame({"code": hdf["epci_code"].astype(str), "nom": hdf["epci_nom_2026"]},
                          geometry=hdf.geometry, crs=hdf.crs)
    other = gpd.GeoDataFrame({"code": list(OTHERS), "nom": [v[0] for v in OTHERS.values()]},
                             geometry=[shapely.box(*v[3]) for v in OTHERS.values()], crs=4326)
    ep = pd.concat([ep, other], ignore_index=True)
    files["/etalab/2025/epci-100m.geojson.gz"] = gzip.compress(ep.to_json().encode(), mtime=0)
    # communes, geo.api.gouv.fr's JSON
    com = pd.read_csv(HDF / "communes_epci_2026.csv", dtype=str)
    recs = [{"code": r.code_commune, "nom": r.nom_commune, "codeDepartement": r.dep, "codeEpci": r.epci_code,
             "population": int(r.population)} for r in com.itertuples()]
    recs += [{"code": c, "nom": f"Normandie {c}", "codeDepartement": "76", "codeEpci": e, "population": 1000}
             for e, c in STRADDLING.items()]
    recs += [{"code": v[2], "nom": v[0], "codeDepartement": v[1], "codeEpci": k, "population": 300000}
             for k, v in OTHERS.items()]
    files["/geo/communes"] = json.dumps(recs).encode()
    # Filosofi: cells at a point of every EPCI of the region, in the Lille grid, and in Nantes and Strasbourg
    first_commune = com.groupby("epci_code")["code_commune"].agg(list).to_dict()
    rows, rng = [], np.random.default_rng(7)
    pts = [(r.epci_code, g.representative_point()) for r, g in zip(hdf.itertuples(), hdf.geometry)]
    for code, p in pts:
        rows.append((p.x, p.y, "".join(first_commune[code][:2])))  # a cell on two communes: 10 characters
    for lon in np.linspace(LILLE[0] + 0.004, LILLE[2] - 0.004, 6):
        for lat in np.linspace(LILLE[1] + 0.003, LILLE[3] - 0.003, 4):
            rows.append((lon, lat, "59350"))
    for v in OTHERS.values():
        b = v[3]
        rows.append(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, v[2]))
    frows, seen = [], set()
    for lon, lat, lcog in rows:
        cid = _epsg3035_cell(lon, lat)
        if cid in seen:
            continue
        seen.add(cid)
        r = fx.filosofi_rows(1, seed=int(rng.integers(1 << 30)))[0]
        r.update(idcar_200m=cid, idcar_nat=cid, lcog_geo=lcog)
        frows.append(r)
    files["/insee/Filosofi2019_carreaux_200m_gpkg.zip"] = fx.write_filosofi_zip(d, rows=frows).read_bytes()
    # Basilic across France
    B = [("Médiathèque Jean Lévy", "59350", "BIB_1", "Bibliothèque", 50.6336, 3.0586),
         ("Le Majestic", "59350", "CIN_1", "Cinéma", 50.6372, 3.0633),
         ("Palais des Beaux-Arts", "59350", "MUS_1", "Musée", 50.6306, 3.0624),
         ("Opéra de Lille", "59350", "OPE_1", "Opéra", 50.6393, 3.0665),
         ("Opéra de Lille", "59350", "OPE_1b", "Opéra", 50.6393, 3.0665, "", "Théâtre lyrique d'intérêt national"),
         ("Conservatoire de Lille", "59350", "CON_1", "Conservatoire", 50.6357, 3.0708),
         ("Maison de la Culture d'Amiens", "80021", "SCE_1", "Scène", 49.8840, 2.3000),
         ("Compagnie du Tire-Laine", "59350", "CIE_1", "Théâtre", 50.6300, 3.0500, "Compagnie", ""),
         ("Orchestre national de Lille", "59350", "ORC_1", "Scène", 50.6400, 3.0700, "", "Orchestre national"),
         ("Cinéma mal placé", "59350", "CIN_BAD", "Cinéma", "50,63x", "3.06"),
         ("Centre culturel de Mouscron", "BE001", "BEL_1", "Centre d'art", 50.7433, 3.2167),  # Belgium, buffer
         ("Bibliothèque de Nantes", "44109", "BIB_NAN", "Bibliothèque", 47.2184, -1.5536),
         ("Cinéma de Strasbourg", "67482", "CIN_STR", "Cinéma", 48.5839, 7.7455),
         ("Musée de Paris", "75056", "MUS_PAR", "Musée", 48.8606, 2.3376)]
    files["/basilic.csv"] = fx.write_basilic_csv(d, rows=B, coords="columns").read_bytes()
    files["/insee/BPE25.zip"] = fx.write_bpe25_zip(d).read_bytes()
    # two overlapping OSM extracts of a street grid in Lille
    a, b = _grid_pbfs(d)
    files["/geofabrik/west.osm.pbf"] = a.read_bytes()
    files["/geofabrik/east.osm.pbf"] = b.read_bytes()
    # the TER-like feed behind transport.data.gouv.fr's API
    files["/resources/1/download"] = fx.write_ter_gtfs(d).read_bytes()
    res = [{"id": 1, "title": "TER Hauts-de-France GTFS", "format": "GTFS", "url": f"{base}/resources/1/download",
            "original_url": f"{base}/resources/1/download", "is_available": True,
            "start_calendar_validity": "2026-01-01", "end_calendar_validity": "2027-12-31", "type": "main",
            "community_resource_publisher": None, "metadata": {}, "filesize": len(files["/resources/1/download"])},
           {"id": 2, "title": "TER NeTEx", "format": "NeTEx", "url": f"{base}/resources/2/download"}]
    ds = {"id": "5b1f", "slug": "ter-hauts-de-france", "title": "TER", "type": "public-transit",
          "aom": {"siren": "200053742", "name": "Région Hauts-de-France"}, "resources": res}
    other = {"id": "9a9a", "slug": "tan", "type": "public-transit", "aom": {"siren": "244400404", "name": "Nantes"},
             "resources": [{"format": "GTFS", "url": f"{base}/nope"}]}
    files["/api/datasets"] = json.dumps([other, ds]).encode()
    files["/api/datasets/5b1f"] = json.dumps(ds).encode()
    # census 2021 by IRIS and the IGN contours: one IRIS around each cell of the region (commune code + 0000), the
    # Lille grid cut into two IRIS (59350 0101 / 0102), IRIS of Nantes and Strasbourg outside the region
    census, contours = _census_and_iris(rows, rng)
    from access.synth.writers import write_census_logement, write_contours_iris_7z

    write_census_logement(census, d / "base-ic-logement-2021_csv.zip", vintage=2021)
    files["/insee/base-ic-logement-2021_csv.zip"] = (d / "base-ic-logement-2021_csv.zip").read_bytes()
    write_contours_iris_7z(contours, d / "contours.7z")
    files["/ign/CONTOURS-IRIS_3-0__SHP__FRA_2023-01-01.7z"] = (d / "contours.7z").read_bytes()


def _census_and_iris(rows, rng):
    """The census table in INSEE's column layout (:data:`access.synth.writers.CENSUS_LOGEMENT_COLUMNS`, 2021) and
    the IRIS contours (IGN columns, EPSG:2154) around the cells' centres."""
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    from access.synth.writers import CENSUS_LOGEMENT_COLUMNS

    tr = Transformer.from_crs(4326, 2154, always_xy=True)
    polys: dict[str, list] = {}
    mid = (LILLE[0] + LILLE[2]) / 2
    for lon, lat, lcog in rows:
        com = lcog[:5]
        code = f"{com}{'0101' if lon < mid else '0102'}" if com == "59350" else f"{com}0000"
        x, y = tr.transform(lon, lat)
        polys.setdefault(code, []).append(shapely.box(x - 400, y - 400, x + 400, y + 400))
    codes = sorted(polys)
    geoms = [shapely.union_all(polys[c]) for c in codes]
    n = len(codes)
    rp = np.round(rng.uniform(200, 2000, n), 7)
    no_car = rng.uniform(0.08, 0.45, n)
    voit = np.round(rp * (1 - no_car), 7)
    vals = {"IRIS": codes, "REG": ["32"] * n, "DEP": [c[:2] for c in codes], "UU2020": ["59702"] * n,
            "COM": [c[:5] for c in codes], "TYP_IRIS": ["H"] * n, "LAB_IRIS": ["1"] * n}
    census = pd.DataFrame({c.format(yy="21"): vals.get(c, np.round(rp * 1.1, 7)) for c in CENSUS_LOGEMENT_COLUMNS})
    census["P21_RP"], census["P21_RP_VOIT1P"] = rp, voit
    glp = {**{c: 0 for c in census.columns}, "IRIS": "971010101", "REG": "01", "DEP": "971", "COM": "97101",
           "P21_RP": 900.5, "P21_RP_VOIT1P": 700.2}  # an overseas IRIS: not in the Lambert-93 contours
    census = pd.concat([census, pd.DataFrame([glp])], ignore_index=True)
    contours = gpd.GeoDataFrame({"INSEE_COM": [c[:5] for c in codes], "NOM_COM": [c[:5] for c in codes],
                                 "IRIS": [c[5:] for c in codes], "CODE_IRIS": codes,
                                 "NOM_IRIS": [f"Iris {c}" for c in codes], "TYP_IRIS": ["H"] * n},
                                geometry=geoms, crs=2154)
    return census, contours


def _grid_pbfs(d: Path) -> tuple[Path, Path]:
    """A 10 x 8 street grid over ``LILLE`` as two sorted .pbf extracts that overlap in the middle columns."""
    import osmium

    lons = np.linspace(LILLE[0], LILLE[2], 10)
    lats = np.linspace(LILLE[1], LILLE[3], 8)
    nid = {(i, j): 1000 + i * 100 + j for i in range(len(lons)) for j in range(len(lats))}
    ways = []
    wid = 5000
    for j in range(len(lats)):
        for i in range(len(lons) - 1):
            ways.append((wid, [nid[(i, j)], nid[(i + 1, j)]], (i, i + 1)))
            wid += 1
    for i in range(len(lons)):
        for j in range(len(lats) - 1):
            ways.append((wid, [nid[(i, j)], nid[(i, j + 1)]], (i, i)))
            wid += 1
    out = []
    for name, cols in (("west", range(6)), ("east", range(4, 10))):
        p = d / f"{name}.osm.pbf"
        cols = set(cols)
        with osmium.SimpleWriter(str(p)) as w:
            for (i, j), n in sorted(nid.items(), key=lambda t: t[1]):
                if i in cols:
                    w.add_node(osmium.osm.mutable.Node(id=n, version=1, location=(lons[i], lats[j]), tags={}))
            for k, refs, (i0, i1) in ways:
                if i0 in cols and i1 in cols:
                    w.add_way(osmium.osm.mutable.Way(id=k, version=1, nodes=refs,
                                                     tags={"highway": "residential", "name": f"rue {k}"}))
        out.append(p)
    return out[0], out[1]


def _recipe(path: Path, base: str) -> Path:
    path.write_text(f"""
[region]
name = "Hauts-de-France"
departments = ["02", "59", "60", "62", "80"]
venue_buffer_km = 15
bbox = [1.380, 48.839, 4.256, 51.089]
osm_clip_buffer_km = 15

[analysis]
date = 2026-12-09
departure = "14:00"
window_min = 10
modes = ["walk", "transit"]
thresholds_min = [10, 20]
max_time_min = 20

[venues]
categories = ["cinema", "library", "museum", "performing_arts", "conservatoire", "arts_centre"]

[fetch]
transport_api = "{base}/api"

[sources.osm_west]
kind = "osm"
format = "osm.pbf"
url = "{base}/geofabrik/west.osm.pbf"
licence = "ODbL-1.0"

[sources.osm_east]
kind = "osm"
format = "osm.pbf"
url = "{base}/geofabrik/east.osm.pbf"
licence = "ODbL-1.0"

[sources.gtfs_ter]
kind = "gtfs"
format = "gtfs.zip"
aom = "200053742"
licence = "LO 2.0"

[sources.filosofi_200m]
kind = "filosofi"
format = "zip"
url = "{base}/insee/Filosofi2019_carreaux_200m_gpkg.zip"
extract = "carreaux_200m_met.gpkg"
licence = "LO 2.0"

[sources.basilic]
kind = "basilic"
format = "csv"
url = "{base}/basilic.csv"
licence = "LO 2.0"

[sources.bpe]
kind = "bpe"
format = "zip"
url = "{base}/insee/BPE25.zip"
extract = "BPE25.csv"
licence = "LO 2.0"

[sources.communes]
kind = "communes"
format = "json"
url = "{base}/geo/communes"
licence = "LO 2.0"

[sources.epci]
kind = "epci"
format = "geojson.gz"
url = "{base}/etalab/2025/epci-100m.geojson.gz"
licence = "LO 2.0"

[sources.census_logement]
kind = "census"
format = "zip"
url = "{base}/insee/base-ic-logement-2021_csv.zip"
licence = "LO 2.0"

[sources.iris]
kind = "iris"
format = "7z"
url = "{base}/ign/CONTOURS-IRIS_3-0__SHP__FRA_2023-01-01.7z"
extract = "*/CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-*/CONTOURS-IRIS.shp"
licence = "LO 2.0"
""")
    return path


def test_fetch_and_run_the_region_end_to_end(served, tmp_path):
    import shutil

    from click.testing import CliRunner

    from access.cli import cli as main

    if shutil.which("7z") or shutil.which("7za") or shutil.which("7zz"):  # py7zr must do it alone
        import os

        os.environ["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                             if not any(Path(p, x).exists() for x in ("7z", "7za", "7zz")))
    base, _ = served
    rp = _recipe(tmp_path / "hdf.toml", base)
    cache, out = tmp_path / "cache", tmp_path / "out"
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, ["fetch", str(rp), "--cache", str(cache), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    lock = json.loads((tmp_path / "hdf.lock.json").read_text())
    assert lock["sources"]["gtfs_ter"]["url"] == f"{base}/resources/1/download"  # resolved through the API
    assert (cache / "filosofi_200m__carreaux_200m_met.gpkg").exists()
    r = CliRunner().invoke(main, ["run", str(rp), "--out", str(out), "--cache", str(cache), "-q"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    elapsed = time.perf_counter() - t0
    import geopandas as gpd

    areas = gpd.read_parquet(out / "work" / "epci.parquet")
    cells = gpd.read_parquet(out / "work" / "cells.parquet")
    venues = gpd.read_parquet(out / "work" / "venues.parquet")
    hdf = gpd.read_file(HDF / "epci_2026.geojson")
    # the region's 92 EPCI, nothing else; the two that straddle Normandie flagged
    assert len(areas) == 92 and set(areas["id"]) == set(hdf["epci_code"].astype(str))
    assert set(areas.loc[areas["straddles_region"], "id"]) == set(STRADDLING)
    # nothing outside the region: no cell of Nantes or Strasbourg, cells inside the region's EPCI only
    inside = gpd.sjoin(cells[["id", "geometry"]], hdf[["epci_code", "geometry"]], predicate="within")
    assert set(inside["id"]) == set(cells["id"]) and len(cells) >= 92
    assert not set(cells["commune"]) & {v[2] for v in OTHERS.values()}
    # single commune codes, the list kept
    assert cells["commune"].str.fullmatch(r"\d{5}|2[AB]\d{3}").all()
    assert (cells["communes"].str.len() > 5).any() and cells["communes"].str.split(",").map(len).max() == 2
    assert {"share_poor_households", "i_est_200", "ind_0_3", "log_soc"} <= set(cells.columns)
    # venues: merged sites, no companies, none far away, the Belgian one for access only
    ids = set(venues["id"])
    assert not {"CIE_1", "ORC_1", "CIN_BAD", "BIB_NAN", "CIN_STR", "MUS_PAR", "OPE_1b"} & ids
    op = venues[venues["id"] == "OPE_1"].iloc[0]
    assert op["n_rows"] == 2 and "Théâtre lyrique" in op["label"]
    bel = venues[venues["id"] == "BEL_1"]
    assert len(bel) == 1 and not bel["in_region"].iloc[0] and venues.loc[venues["id"] != "BEL_1", "in_region"].all()
    assert "excluded" not in set(venues["category"])
    region = json.loads((out / "work" / "region.json").read_text())
    assert region["clipped"] and sorted(region["straddling"]) == sorted(STRADDLING)
    assert len(region["epci_without_stop"]) == 91  # one feed, in Lille only
    assert "200093201" not in region["epci_without_stop"]
    summary = (out / "summary.md").read_text()
    assert "Nantes" not in summary and "Strasbourg" not in summary
    # the social barriers through the census and IRIS sources: the Lambert-93 shapefile taken out of the .7z
    assert {p.suffix for p in cache.glob("iris__CONTOURS-IRIS.*")} == {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    cb = gpd.read_parquet(out / "work" / "cells_barriers.parquet")
    assert set(cb["id"]) == set(cells["id"])
    for col in ("share_no_car", "census_households", "households_no_car", "share_65_plus", "share_poor_households",
                "time_no_car_cinema", "evening_round_trip_cinema", "time_transit_saturday_cinema"):
        assert col in cb.columns, col
    s_nc = cb["share_no_car"].to_numpy(float)
    assert np.isfinite(s_nc).all() and ((s_nc >= 0) & (s_nc <= 1)).all()  # every cell in an IRIS of the census
    import zipfile

    with zipfile.ZipFile(cache / "census_logement.zip") as z:
        served_census = pd.read_csv(z.open("base-ic-logement-2021.CSV"), sep=";", dtype={"IRIS": str, "COM": str})
    region_iris = served_census[~served_census["COM"].str.startswith(("44", "67", "97"))]
    assert cb["census_households"].sum() == pytest.approx(region_iris["P21_RP"].sum(), rel=1e-9)  # conserved
    ep = pd.read_parquet(out / "work" / "epci.parquet")
    for col in ("share_no_car", "carless_share_beyond_30min_cinema", "evening_round_trip_share_cinema",
                "barrier_index", "barrier_class", "main_barriers", "barrier_index_stability"):
        assert col in ep.columns, col
    assert ep["share_no_car"].notna().all() and ep["barrier_index"].notna().sum() >= 90
    assert "Social barriers to culture" in summary
    assert elapsed < 90, elapsed
