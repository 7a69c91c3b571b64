"""Small fixture files shaped exactly like the real French source files (no real data copied).

Each writer puts one file in the given folder and returns its path. Values are invented but plausible
(cells and venues around Lille and Amiens); the headers, separators, id formats and CRSs are those of the
published files:

- Filosofi (INSEE carroyage): 2015/2017 capitalised columns or 2019 lower case, INSPIRE ids
  ``CRS3035RES200mN...E...`` (lower-left corner, EPSG:3035), CSV or GeoPackage with square cells.
- Basilic (Ministry of Culture): ``;``-separated UTF-8 CSV with its column names and ``coordonnees_GPS``
  ("lat, lon").
- BPE (INSEE): ``;``-separated CSV, ``TYPEQU`` codes, ``LAMBERT_X/LAMBERT_Y`` in EPSG:2154, ``QUALITE_XY``.
- EPCI: GeoJSON polygons with ``epci_code`` / ``epci_nom_2026`` (as ``../shared/data/hauts_de_france``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from access.region.sources import norm_name

FILOSOFI_2015_COLUMNS = [
    "Idcar_200m", "I_est_200", "Idcar_1km", "I_est_1km", "Idcar_nat", "Groupe", "Depcom", "Ind", "Men", "Men_pauv",
    "Men_1ind", "Men_5ind", "Men_prop", "Men_fmp", "Ind_snv", "Men_surf", "Men_coll", "Men_mais", "Log_av45",
    "Log_45_70", "Log_70_90", "Log_ap90", "Log_inc", "Log_soc", "Ind_0_3", "Ind_4_5", "Ind_6_10", "Ind_11_17",
    "Ind_18_24", "Ind_25_39", "Ind_40_54", "Ind_55_64", "Ind_65_79", "Ind_80p", "Ind_inc",
]
FILOSOFI_2019_COLUMNS = [
    "idcar_200m", "idcar_1km", "idcar_nat", "i_est_200", "i_est_1km", "lcog_geo", "ind", "men", "men_pauv",
    "men_1ind", "men_5ind", "men_prop", "men_fmp", "ind_snv", "men_surf", "men_coll", "men_mais", "log_av45",
    "log_45_70", "log_70_90", "log_ap90", "log_inc", "log_soc", "ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17",
    "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64", "ind_65_79", "ind_80p", "ind_inc",
]
AGE_COLUMNS = ["ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64",
               "ind_65_79", "ind_80p", "ind_inc"]
# lower-left corner (EPSG:3035) of a 200 m cell in central Lille
LILLE_E, LILLE_N = 3_830_600, 3_080_800


def filosofi_rows(n: int = 12, *, seed: int = 0, size_m: int = 200):
    """Plausible Filosofi cells on a row of ``n`` cells; returns a list of dicts keyed by 2019 names."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        e, nn = LILLE_E + i * size_m, LILLE_N + (i % 3) * size_m
        ind = float(rng.integers(5, 400))
        men = round(ind / rng.uniform(1.8, 2.6), 1)
        ages = rng.dirichlet(np.ones(len(AGE_COLUMNS))) * ind
        r = {"idcar_200m": f"CRS3035RES{size_m}mN{nn}E{e}",
             "idcar_1km": f"CRS3035RES1000mN{nn // 1000 * 1000}E{e // 1000 * 1000}",
             "idcar_nat": f"CRS3035RES{size_m}mN{nn}E{e}", "i_est_200": 1, "i_est_1km": 1, "groupe": 1,
             "lcog_geo": "59350", "ind": ind, "men": men, "men_pauv": round(men * rng.uniform(0.05, 0.4), 1),
             "men_1ind": round(men * 0.4, 1), "men_5ind": round(men * 0.05, 1), "men_prop": round(men * 0.5, 1),
             "men_fmp": round(men * 0.1, 1), "ind_snv": round(ind * rng.uniform(14000, 30000), 1),
             "men_surf": round(men * 70, 1), "men_coll": round(men * 0.6, 1), "men_mais": round(men * 0.4, 1),
             "log_av45": 1.0, "log_45_70": 1.0, "log_70_90": 1.0, "log_ap90": 1.0, "log_inc": 0.0,
             "log_soc": round(men * 0.2, 1)}
        for c, v in zip(AGE_COLUMNS, ages):
            r[c] = round(float(v), 1)
        rows.append(r)
    return rows


def write_filosofi_csv(folder, *, style: str = "2019", n: int = 12, sep: str = ",", decimal: str = ".",
                       size_m: int = 200, name: str | None = None, rows=None) -> Path:
    """A Filosofi CSV (``style`` '2015' capitalised names, '2019' lower case)."""
    folder = Path(folder)
    rows = rows if rows is not None else filosofi_rows(n, size_m=size_m)
    cols = FILOSOFI_2015_COLUMNS if style == "2015" else FILOSOFI_2019_COLUMNS
    if size_m == 1000:  # 1 km files: the 1 km id is the cell id
        cols = [c for c in cols if c.lower() not in ("idcar_200m", "i_est_200")]
    p = folder / (name or f"Filosofi{style}_carreaux_{size_m}m_metropole.csv")
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=sep)
        w.writerow(cols)
        for r in rows:
            out = []
            for c in cols:
                key = c.lower()
                v = r["idcar_200m"] if (size_m == 1000 and key == "idcar_1km") else r.get(key, r.get("lcog_geo"))
                if isinstance(v, float):
                    v = repr(v).replace(".", decimal)
                out.append(v)
            w.writerow(out)
    return p


def write_filosofi_zip(folder, *, n: int = 12, rows=None, name: str = "Filosofi2019_carreaux_200m_gpkg.zip") -> Path:
    """INSEE's Filosofi 2019 download: a zip holding one ``Filosofi2019_carreaux_200m_gpkg.7z`` that holds
    ``carreaux_200m_met.gpkg`` (the 34 official columns, squares in EPSG:2154, ids in EPSG:3035), made with py7zr."""
    import tempfile
    import zipfile

    import py7zr

    folder = Path(folder)
    with tempfile.TemporaryDirectory(dir=folder) as td:
        g = write_filosofi_gpkg(td, n=n, rows=rows, squares_crs=2154)
        seven = Path(td) / "Filosofi2019_carreaux_200m_gpkg.7z"
        with py7zr.SevenZipFile(seven, "w") as sz:
            sz.write(g, "carreaux_200m_met.gpkg")
        p = folder / name
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.write(seven, seven.name)
    return p


def write_filosofi_gpkg(folder, *, n: int = 12, crs: int | None = 3035, squares_crs: int = 3035, layer: str = "carreaux_200m_met",
                        name: str = "carreaux_200m_met.gpkg", rows=None) -> Path:
    """A Filosofi 2019 GeoPackage with square cell polygons in EPSG:3035 (``crs`` overrides the declared CRS)."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    rows = rows if rows is not None else filosofi_rows(n)
    df = pd.DataFrame(rows)[[c for c in FILOSOFI_2019_COLUMNS]]
    geoms = []
    for cid in df["idcar_200m"]:
        nn, e = (int(v) for v in re.fullmatch(r"CRS3035RES200mN(\d+)E(\d+)", cid).groups())
        geoms.append(shapely.box(e, nn, e + 200, nn + 200))
    gdf = gpd.GeoDataFrame(df, geometry=geoms, crs=3035)
    if squares_crs != 3035:  # the 2019 file: squares in Lambert-93, ids still naming the EPSG:3035 grid
        gdf = gdf.to_crs(squares_crs)
    elif crs is None:
        gdf = gdf.set_crs(None, allow_override=True)
    elif crs != 3035:
        gdf = gdf.set_crs(crs, allow_override=True)  # deliberately mislabelled
    p = Path(folder) / name
    gdf.to_file(p, layer=layer, driver="GPKG")
    return p


BASILIC_COLUMNS = [
    "Nom", "Adresse", "Code Postal", "libelle_geographique", "code_insee", "Identifiant_deps_a_partir_de_2022",
    "Rang", "Type équipement ou lieu", "Précision équipement", "Label et appellation", "Domaine", "Sous_domaine", "Région", "Département",
    "N_Département", "Latitude", "Longitude", "coordonnees_GPS", "Demographie_detail_sortie",
]

BASILIC_ROWS = [
    # Nom, code_insee, id, type, lat, lon
    ("Médiathèque Jean Lévy", "59350", "BIB_59350_1", "Bibliothèque", 50.6336, 3.0586),
    ("Le Majestic", "59350", "CIN_59350_2", "Cinéma", 50.6372, 3.0633),
    ("Palais des Beaux-Arts", "59350", "MUS_59350_3", "Musée", 50.6306, 3.0624),
    ("Théâtre du Nord", "59350", "THE_59350_4", "Théâtre", 50.6371, 3.0651),
    ("Opéra de Lille", "59350", "OPE_59350_5", "Opéra", 50.6393, 3.0665),
    ("Conservatoire à rayonnement régional", "59350", "CON_59350_6", "Conservatoire", 50.6357, 3.0708),
    ("Le Channel", "62193", "SCE_62193_7", "Scène", 50.9479, 1.8640),
    ("Maison de la Culture d'Amiens", "80021", "SCE_80021_8", "Scène", 49.8840, 2.3000),
    ("Centre d'art Le Fresnoy", "59599", "CDA_59599_9", "Centre d'art", 50.7085, 3.1697),
    ("Beffroi de Douai", "59178", "MON_59178_10", "Monument", 50.3706, 3.0786),
    ("Archives départementales du Nord", "59350", "ARC_59350_11", "Service d'archives", 50.6414, 3.0723),
    ("Librairie du Furet", "59350", "LIB_59350_12", "Librairie", 50.6370, 3.0620),
]


def write_basilic_csv(folder, *, rows=None, columns=None, name: str = "base-des-lieux-et-des-equipements-culturels.csv",
                      coords: str = "both", sep: str = ";") -> Path:
    """A Basilic export: ``;``-separated UTF-8 (with BOM), ``coords`` 'both' | 'columns' | 'gps'."""
    rows = rows if rows is not None else BASILIC_ROWS
    cols = list(columns or BASILIC_COLUMNS)
    if coords == "gps":
        cols = [c for c in cols if c not in ("Latitude", "Longitude")]
    elif coords == "columns":
        cols = [c for c in cols if c != "coordonnees_GPS"]
    p = Path(folder) / name
    with open(p, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f, delimiter=sep)
        w.writerow(cols)
        for i, row in enumerate(rows):
            nom, insee, rid, typ, lat, lon = row[:6]
            prec, label = (row[6], row[7]) if len(row) > 6 else ("", "")
            rec = {"Nom": nom, "Adresse": "1 rue de la Paix", "Code Postal": insee[:2] + "000",
                   "libelle_geographique": "Commune", "code_insee": insee,
                   "Identifiant_deps_a_partir_de_2022": rid, "Rang": str(70000 + i), "Type équipement ou lieu": typ,
                   "Précision équipement": prec, "Label et appellation": label, "Domaine": "Arts du spectacle", "Sous_domaine": typ,
                   "Région": "Hauts-de-France", "Département": "Nord", "N_Département": insee[:2],
                   "Latitude": "" if lat is None else str(lat), "Longitude": "" if lon is None else str(lon),
                   "coordonnees_GPS": "" if lat is None or isinstance(lat, str) else f"{lat}, {lon}", "Demographie_detail_sortie": ""}
            rec = {norm_name(k): v for k, v in rec.items()}
            w.writerow([rec.get(norm_name(c), "") for c in cols])
    return p


BPE_COLUMNS = ["AN", "NOMRS", "CNOMRS", "DEPCOM", "DOM", "SDOM", "TYPEQU", "LAMBERT_X", "LAMBERT_Y", "QUALITE_XY",
               "EPSG"]
BPE_ROWS = [
    # NOMRS, DEPCOM, TYPEQU, lon, lat, qualite
    ("CINEMA LE MAJESTIC", "59350", "F303", 3.0633, 50.6372, "Bonne"),
    ("MEDIATHEQUE", "59350", "F307", 3.0586, 50.6336, "Bonne"),
    ("CONSERVATOIRE", "80021", "F305", 2.3020, 49.8930, "Acceptable"),
    ("MUSEE DE PICARDIE", "80021", "F312", 2.2920, 49.8890, "Bonne"),
    ("SALLE DE SPECTACLE", "62041", "F315", 2.7770, 50.2910, "Bonne"),
    ("BOULANGERIE", "59350", "B207", 3.0600, 50.6300, "Bonne"),  # not culture: ignored
    ("ECOLE", "59350", "C108", 3.0610, 50.6310, "Bonne"),  # not culture: ignored
    ("ARCHIVES", "59350", "F314", 3.0723, 50.6414, "Bonne"),  # culture but excluded by the taxonomy
    ("BIBLIOTHEQUE SANS XY", "02691", "F307", None, None, "Non géolocalisé"),
]


def write_bpe_csv(folder, *, rows=None, name: str = "BPE25.csv", epsg_column: bool = True) -> Path:
    """A BPE detail file: ``;``-separated, Lambert-93 coordinates rounded to the metre, as INSEE publishes."""
    from pyproj import Transformer

    tr = Transformer.from_crs(4326, 2154, always_xy=True)
    rows = rows if rows is not None else BPE_ROWS
    cols = BPE_COLUMNS if epsg_column else [c for c in BPE_COLUMNS if c != "EPSG"]
    p = Path(folder) / name
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(cols)
        for nom, depcom, typ, lon, lat, q in rows:
            if lon is None:
                x = y = ""
            else:
                x, y = tr.transform(lon, lat)
                x, y = f"{x:.0f}", f"{y:.0f}"
            rec = {"AN": "2025", "NOMRS": nom, "CNOMRS": "", "DEPCOM": depcom, "DOM": typ[0], "SDOM": typ[:2],
                   "TYPEQU": typ, "LAMBERT_X": x, "LAMBERT_Y": y, "QUALITE_XY": q, "EPSG": "2154" if x else ""}
            w.writerow([rec[c] for c in cols])
    return p


EPCI_ROWS = [
    ("200093201", "Métropole Européenne de Lille", (2.80, 50.50, 3.30, 50.80)),
    ("248000531", "CA Amiens Métropole", (2.15, 49.80, 2.45, 49.98)),
    ("200090751", "CA Grand Calais Terres et Mers", (1.75, 50.88, 2.05, 51.01)),
]


def write_epci_geojson(folder, *, rows=None, name: str = "epci.geojson", crs: int = 4326, id_col: str = "epci_code",
                       name_col: str = "epci_nom_2026") -> Path:
    """EPCI polygons as GeoJSON (boxes), in ``crs`` (reprojected from lon/lat)."""
    import geopandas as gpd
    import shapely

    rows = rows if rows is not None else EPCI_ROWS
    gdf = gpd.GeoDataFrame({id_col: [r[0] for r in rows], name_col: [r[1] for r in rows],
                            "epci_type_2026": ["METRO", "CA", "CA"][: len(rows)] + ["CC"] * max(0, len(rows) - 3)},
                           geometry=[shapely.box(*r[2]) for r in rows], crs=4326)
    if crs != 4326:
        gdf = gdf.to_crs(crs)
    p = Path(folder) / name
    gdf.to_file(p, driver="GeoJSON")
    return p


#: the BPE 2024/2025 header as read by public code of the BPE24 parquet (89 names; INSEE announces 95 columns for
#: BPE25: the 6 others could not be checked offline, and the reader needs none of them)
BPE25_COLUMNS = ["AN", "NOMRS", "CNOMRS", "NUMVOIE", "INDREP", "TYPVOIE", "LIBVOIE", "CADR", "CODPOS", "DEPCOM", "DEP", "REG", "LIBCOM", "DOM", "SDOM", "TYPEQU", "SIRET", "STATUT_DIFFUSION", "CANTINE", "INTERNAT", "RPI", "EP", "CL_PGE", "SECT", "ACCES_AIRE_PRATIQUE", "ACCES_LIBRE", "ACCES_SANITAIRE", "ACCES_VESTIAIRE", "CAPACITE_D_ACCUEIL", "PRES_DOUCHE", "PRES_SANITAIRE", "SAISONNIER", "COUVERT", "ECLAIRE", "CATEGORIE", "MULTIPLEXE", "STRUCTURE_EXERCICE", "SPECIALITE", "ACCUEIL", "ITINERANCE", "MODE_GESTION", "SSTYPHEB", "TYPE", "IMPLANTATION_STATION", "CAPACITE", "INDIC_CAPA", "NBEQUIDENT", "INDIC_NBEQUIDENT", "NBSALLES", "INDIC_NBSALLES", "NBLIEUX", "INDIC_NBLIEUX", "NB_PDC", "INDIC_NB_PDC", "NB_PDC_PA", "INDIC_NB_PDC_PA", "NB_PDC_ACCELEREE", "INDIC_NB_PDC_ACCELEREE", "NB_PDC_LENTE", "INDIC_NB_PDC_LENTE", "NB_PDC_RAPIDE", "INDIC_NB_PDC_RAPIDE", "NB_PDC_ULTRARAPIDE", "INDIC_NB_PDC_ULTRARAPIDE", "NB_JOURS_OUVERT", "INDIC_NB_JOURS_OUVERT", "LAMBERT_X", "LAMBERT_Y", "LONGITUDE", "LATITUDE", "QUALITE_XY", "EPSG", "QUALITE_GEOLOC", "TR_DIST_PRECISION", "DCIRIS", "QUALI_IRIS", "IRISEE", "QP2024", "QUALI_QP2024", "QVA", "QUALI_QVA", "ZUS", "QUALI_ZUS", "EPCI", "UU2020", "BV2022", "AAV2020", "DENS3", "DENS7"]

BPE25_ROWS = [
    # NOMRS, DEPCOM, TYPEQU, lon, lat, QUALITE_GEOLOC, EPSG
    ("CINEMA LE MAJESTIC", "59350", "F303", 3.0633, 50.6372, "11", "EPSG:2154"),
    ("MEDIATHEQUE", "80021", "F307", 2.2950, 49.8940, "12", "EPSG:2154"),
    ("BIBLIOTHEQUE AU HASARD", "02691", "F307", 3.6200, 49.5600, "33", "EPSG:2154"),  # random position: dropped
    ("SALLE DE SPECTACLE", "62041", "F315", 2.7770, 50.2910, "21", "EPSG:2154"),
    ("CINEMA DE NANTES", "44109", "F303", -1.5536, 47.2184, "11", "EPSG:2154"),  # another region
    ("MEDIATHEQUE DE MAYOTTE", "97611", "F307", None, None, "", "EPSG:4471"),  # no coordinate at all
    ("ARCHIVES", "59350", "F314", 3.0723, 50.6414, "11", "EPSG:2154"),
    ("BOULANGERIE", "59350", "B207", 3.0600, 50.6300, "11", "EPSG:2154"),
]


def write_bpe25_zip(folder, *, rows=None, name: str = "BPE25.zip") -> Path:
    """INSEE's BPE 2025 download: a zip of one ``BPE25.csv`` (``;``, WGS84 LONGITUDE/LATITUDE and Lambert-93,
    ``EPSG:``-prefixed codes, QUALITE_GEOLOC)."""
    import io
    import zipfile

    from pyproj import Transformer

    tr = Transformer.from_crs(4326, 2154, always_xy=True)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(BPE25_COLUMNS)
    for nom, depcom, typ, lon, lat, q, epsg in (rows or BPE25_ROWS):
        rec = dict.fromkeys(BPE25_COLUMNS, "")
        rec.update(AN="2025", NOMRS=nom, DEPCOM=depcom, DEP=depcom[:2], TYPEQU=typ, DOM=typ[0], SDOM=typ[:2],
                   EPSG=epsg, QUALITE_GEOLOC=q, QUALITE_XY="Bonne" if lon is not None else "_Z")
        if lon is not None:
            x, y = tr.transform(lon, lat)
            rec.update(LAMBERT_X=f"{x:.1f}", LAMBERT_Y=f"{y:.1f}", LONGITUDE=f"{lon:.6f}", LATITUDE=f"{lat:.6f}")
        w.writerow([rec[c] for c in BPE25_COLUMNS])
    p = Path(folder) / name
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("BPE25.csv", buf.getvalue())
    return p


#: a TER-like feed: SNCF's stop ids, one per service kind at each station (train and coach), UIC codes
TER_STOPS = [
    # stop_id, name, lat, lon, location_type, parent
    ("StopArea:OCE87286005", "Lille Flandres", 50.63650, 3.07020, "1", ""),
    ("StopPoint:OCETrain TER-87286005", "Lille Flandres", 50.63650, 3.07020, "0", "StopArea:OCE87286005"),
    ("StopPoint:OCECar TER-87286005", "Lille Flandres", 50.63580, 3.06900, "0", "StopArea:OCE87286005"),
    ("StopArea:OCE87286542", "Lille Europe", 50.63920, 3.07550, "1", ""),
    ("StopPoint:OCETrain TER-87286542", "Lille Europe", 50.63920, 3.07550, "0", "StopArea:OCE87286542"),
]


def write_ter_gtfs(folder, *, name: str = "ter.gtfs.zip", date: str = "20261209") -> Path:
    """A small feed in SNCF TER's layout: trains and coaches between Lille Flandres and Lille Europe."""
    import io
    import zipfile

    tables = {
        "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nTER,TER Hauts-de-France,https://ter.sncf.com,"
                      "Europe/Paris\n",
        "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type\nR1,TER,K10,Lille shuttle,2\n"
                      "R2,TER,C1,Lille coach,3\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                        "S1,1,1,1,1,1,1,1,20260101,20271231\n",
    }
    buf = io.StringIO()
    buf.write("stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station\n")
    for r in TER_STOPS:
        buf.write(",".join(str(v) for v in r) + "\n")
    tables["stops.txt"] = buf.getvalue()
    trips, st = ["route_id,service_id,trip_id"], ["trip_id,arrival_time,departure_time,stop_id,stop_sequence"]
    for k in range(12):
        h, m = 13 + (k * 10) // 60, (k * 10) % 60
        t0, t1 = f"{h:02d}:{m:02d}:00", f"{h:02d}:{m + 4:02d}:00"
        trips.append(f"R1,S1,T{k}")
        st += [f"T{k},{t0},{t0},StopPoint:OCETrain TER-87286005,1",
               f"T{k},{t1},{t1},StopPoint:OCETrain TER-87286542,2"]
        trips.append(f"R2,S1,C{k}")
        st += [f"C{k},{t0},{t0},StopPoint:OCECar TER-87286005,1",
               f"C{k},{t1},{t1},StopPoint:OCETrain TER-87286542,2"]
    tables["trips.txt"] = "\n".join(trips) + "\n"
    tables["stop_times.txt"] = "\n".join(st) + "\n"
    p = Path(folder) / name
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in tables.items():
            z.writestr(k, v)
    return p
