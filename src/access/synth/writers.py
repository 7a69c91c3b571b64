"""Writers of the real file formats used by the synthetic generators.

- GTFS zip: one CSV per table, fixed member timestamps (the bytes depend only on the contents);
- INSEE Filosofi 2019 gridded data: a GeoPackage of 200 m squares of the EPSG:3035 grid written in EPSG:2154 (as
  INSEE's file) with the official lowercase columns;
- the Ministry of Culture's Basilic base: a ``;``-separated CSV with its column layout;
- intercommunalities: a GeoJSON FeatureCollection in EPSG:4326 (``epci_code``, ``epci_nom``, ``epci_type``);
- a region recipe (TOML) in the schema of :mod:`access.recipe`.

All writes are atomic (:func:`access._io_util.atomic_path`).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .._io_util import atomic_path

#: columns of the Filosofi 2019 200 m GeoPackage (INSEE, lowercase), in file order, before ``geometry``
FILOSOFI_COLUMNS = (
    "idcar_200m", "idcar_1km", "idcar_nat", "i_est_200", "i_est_1km", "lcog_geo",
    "ind", "men", "men_pauv", "men_1ind", "men_5ind", "men_prop", "men_fmp", "ind_snv", "men_surf", "men_coll",
    "men_mais", "log_av45", "log_45_70", "log_70_90", "log_ap90", "log_inc", "log_soc",
    "ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64",
    "ind_65_79", "ind_80p", "ind_inc",
)
FILOSOFI_LAYER = "carreaux_200m_met"
CELL_M = 200

#: columns of the Basilic CSV export, in file order
BASILIC_COLUMNS = ("Nom", "Type équipement ou lieu", "Adresse postale", "Code Postal", "Commune", "code_insee",
                   "Région", "Département", "Latitude", "Longitude", "coordonnees_GPS")

_ZIP_DATE = (2026, 1, 1, 0, 0, 0)

# age shares (0-3, 4-5, 6-10, 11-17, 18-24, 25-39, 40-54, 55-64, 65-79, 80+): a young urban and an old rural profile
_AGE_CLASSES = ("ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64",
                "ind_65_79", "ind_80p")
_AGES_YOUNG = np.array([0.052, 0.026, 0.066, 0.090, 0.110, 0.215, 0.185, 0.105, 0.110, 0.041])
_AGES_OLD = np.array([0.032, 0.018, 0.050, 0.075, 0.055, 0.140, 0.200, 0.150, 0.190, 0.090])


def write_gtfs_zip(tables: dict[str, pd.DataFrame], path) -> None:
    """Write GTFS tables (``{"stops.txt": DataFrame, ...}``) as a zip, members in a fixed order and date."""
    path = Path(path)
    with atomic_path(path, suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name in sorted(tables):
                buf = io.StringIO()
                tables[name].to_csv(buf, index=False, lineterminator="\n")
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, buf.getvalue().encode("utf-8"))


def cell_ids(gx, gy, res_m: int = CELL_M) -> np.ndarray:
    """INSEE grid ids ``CRS3035RES200mN<y>E<x>`` of cells whose lower-left corner is ``(gx, gy) * res_m``."""
    gx = np.asarray(gx, dtype=np.int64) * res_m
    gy = np.asarray(gy, dtype=np.int64) * res_m
    return np.asarray([f"CRS3035RES{res_m}mN{y}E{x}" for x, y in zip(gx.tolist(), gy.tolist())], dtype=object)


def filosofi_table(gx, gy, ind, *, poverty, living_std_eur, old, urban, lcog_geo, rng: np.random.Generator):
    """Filosofi-style attributes of 200 m cells from their population and a local socio-economic profile.

    Parameters
    ----------
    gx, gy : int arrays
        Cell indices (lower-left corner = index x 200 m, EPSG:3035).
    ind : float array
        Inhabitants per cell.
    poverty : float array
        Share of poor households (0..1).
    living_std_eur : float array
        Mean yearly standard of living (euros per person); ``ind_snv`` is its sum over the inhabitants.
    old : float array
        0 (young, urban age profile) .. 1 (old, rural age profile).
    urban : float array
        0 (houses, owners) .. 1 (flats, tenants, small households).
    lcog_geo : str array
        Commune code(s) of the cell.
    rng : numpy Generator

    Returns
    -------
    geopandas.GeoDataFrame in EPSG:3035 with :data:`FILOSOFI_COLUMNS` and square polygons.
    """
    import geopandas as gpd
    import shapely

    gx = np.asarray(gx, dtype=np.int64)
    gy = np.asarray(gy, dtype=np.int64)
    n = gx.shape[0]
    ind = np.asarray(ind, dtype=np.float64)
    poverty = np.clip(np.asarray(poverty, float) * rng.lognormal(0, 0.25, n), 0.0, 0.8)
    urban = np.clip(np.asarray(urban, float), 0, 1)
    old = np.clip(np.asarray(old, float), 0, 1)

    def r1(a):
        return np.round(np.asarray(a, float), 1)

    hh_size = 2.55 - 0.45 * urban + rng.normal(0, 0.08, n) - 0.25 * old
    men = np.maximum(ind / np.clip(hh_size, 1.4, 3.5), np.minimum(ind, 1.0))
    men_pauv = men * poverty
    men_1ind = men * np.clip(0.24 + 0.22 * urban + 0.08 * old + rng.normal(0, 0.03, n), 0.05, 0.8)
    men_5ind = men * np.clip(0.05 + 0.04 * poverty + rng.normal(0, 0.01, n), 0.0, 0.3)
    men_prop = men * np.clip(0.78 - 0.45 * urban - 0.4 * poverty + rng.normal(0, 0.05, n), 0.05, 0.95)
    men_fmp = men * np.clip(0.05 + 0.25 * poverty + rng.normal(0, 0.01, n), 0.0, 0.5)
    snv = np.asarray(living_std_eur, float) * (1.0 - 0.6 * (poverty - np.asarray(poverty).mean())) \
        * rng.lognormal(0, 0.08, n)
    ind_snv = ind * snv
    coll = np.clip(0.05 + 0.8 * urban + rng.normal(0, 0.05, n), 0.0, 1.0)
    men_coll = men * coll
    men_mais = men - men_coll
    men_surf = men_coll * 65.0 + men_mais * 102.0
    age_log = rng.dirichlet(np.array([3.0, 3.0, 2.0, 2.0]), n)  # before 1945, 45-70, 70-90, after 1990
    log_soc = men * np.clip(0.04 + 0.5 * poverty * urban + 0.15 * poverty + rng.normal(0, 0.02, n), 0.0, 0.9)
    shares = (1 - old)[:, None] * _AGES_YOUNG[None, :] + old[:, None] * _AGES_OLD[None, :]
    shares = shares * rng.lognormal(0, 0.1, shares.shape)
    shares /= shares.sum(axis=1, keepdims=True)
    ages = ind[:, None] * shares

    cols = {
        "idcar_200m": cell_ids(gx, gy, 200),
        "idcar_1km": cell_ids(gx // 5, gy // 5, 1000),
        "i_est_200": (men < 11).astype(np.int32),
        "i_est_1km": np.zeros(n, np.int32),
        "lcog_geo": np.asarray(lcog_geo, dtype=object),
        "ind": r1(ind), "men": r1(men), "men_pauv": r1(men_pauv), "men_1ind": r1(men_1ind),
        "men_5ind": r1(men_5ind), "men_prop": r1(men_prop), "men_fmp": r1(men_fmp),
        "ind_snv": r1(ind_snv), "men_surf": r1(men_surf), "men_coll": r1(men_coll), "men_mais": r1(men_mais),
        "log_av45": r1(men * age_log[:, 0]), "log_45_70": r1(men * age_log[:, 1]),
        "log_70_90": r1(men * age_log[:, 2]), "log_ap90": r1(men * age_log[:, 3]), "log_inc": np.zeros(n),
        "log_soc": r1(log_soc),
    }
    for k, name in enumerate(_AGE_CLASSES):
        cols[name] = r1(ages[:, k])
    cols["ind_inc"] = np.zeros(n)
    # natural cells: cells with under 11 households are published with their 2 km neighbourhood's id
    nat = np.where(cols["i_est_200"] == 1, cell_ids(gx // 10, gy // 10, 2000), cols["idcar_200m"])
    cols["idcar_nat"] = nat
    df = pd.DataFrame({c: cols[c] for c in FILOSOFI_COLUMNS})
    geom = shapely.box(gx * CELL_M, gy * CELL_M, (gx + 1) * CELL_M, (gy + 1) * CELL_M)
    return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:3035")


def write_filosofi_gpkg(gdf, path, *, layer: str = FILOSOFI_LAYER, crs: int = 2154) -> None:
    """Write a Filosofi table as a GeoPackage layer; GDAL's timestamps are pinned so the bytes are reproducible.

    The squares are written in ``crs``, EPSG:2154 (Lambert-93) by default as in INSEE's 2019 file, whose ids
    still name the EPSG:3035 grid."""
    import pyogrio

    path = Path(path)
    if gdf.crs is not None and gdf.crs.to_epsg() != crs:
        gdf = gdf.to_crs(crs)
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2026-01-01T00:00:00.000Z"})
    try:
        with atomic_path(path, suffix=".gpkg") as tmp:
            tmp.unlink()  # GDAL creates the file itself
            pyogrio.write_dataframe(gdf, tmp, layer=layer, driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def write_basilic_csv(df: pd.DataFrame, path) -> None:
    """Write venues with :data:`BASILIC_COLUMNS` as a ``;``-separated UTF-8 CSV (coordinates with a dot)."""
    missing = [c for c in BASILIC_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"venue table lacks Basilic columns {missing}")
    with atomic_path(path, suffix=".csv") as tmp:
        df.loc[:, list(BASILIC_COLUMNS)].to_csv(tmp, sep=";", index=False, encoding="utf-8", lineterminator="\n")


def write_geojson(gdf, path, *, decimals: int = 6) -> None:
    """Write a GeoDataFrame as GeoJSON in EPSG:4326 (coordinates rounded), byte-reproducible."""
    import shapely

    g = gdf.to_crs("EPSG:4326") if gdf.crs is not None and gdf.crs.to_epsg() != 4326 else gdf
    geoms = shapely.transform(np.asarray(g.geometry.values), lambda c: np.round(c, decimals))
    props = g.drop(columns=g.geometry.name)
    feats = []
    for rec, geom in zip(props.to_dict("records"), geoms):
        feats.append({"type": "Feature", "properties": {k: (v.item() if hasattr(v, "item") else v)
                                                        for k, v in rec.items()},
                      "geometry": json.loads(shapely.to_geojson(geom))})
    fc = {"type": "FeatureCollection", "name": Path(path).stem,
          "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": feats}
    with atomic_path(path, suffix=".geojson") as tmp:
        tmp.write_text(json.dumps(fc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if hasattr(v, "isoformat") and not isinstance(v, str):
        return v.isoformat()
    return json.dumps(str(v), ensure_ascii=False)


def write_recipe(path, *, name: str, bbox, date: str, departure: str, window_min: int, modes, thresholds_min,
                 max_time_min: int, categories, priority_zones: list[dict], sources: dict[str, dict],
                 comment: str = "") -> None:
    """Write a region recipe (see :mod:`access.recipe`) whose sources are local files (``path`` keys)."""
    import datetime as dt

    lines = []
    for c in comment.strip().splitlines():
        lines.append(f"# {c}".rstrip())
    lines += ["", "[region]", f"name = {_toml_value(name)}",
              f"bbox = {_toml_value([round(float(v), 4) for v in bbox])}", "osm_clip_buffer_km = 0", "",
              "[analysis]", f"date = {dt.date.fromisoformat(date).isoformat()}",
              f"departure = {_toml_value(departure)}", f"window_min = {int(window_min)}", "percentiles = [50]",
              f"modes = {_toml_value(list(modes))}", f"thresholds_min = {_toml_value(list(thresholds_min))}",
              f"max_time_min = {int(max_time_min)}", "", "[venues]", f"categories = {_toml_value(list(categories))}",
              "", "[areas]"]
    for z in priority_zones:
        lines += ["", "[[areas.priority_zones]]", f"name = {_toml_value(z['name'])}",
                  f"epci = {_toml_value(list(z['epci']))}"]
        if z.get("note"):
            lines.append(f"note = {_toml_value(z['note'])}")
    for sname, s in sources.items():
        lines += ["", f"[sources.{sname}]"]
        for k, v in s.items():
            lines.append(f"{k} = {_toml_value(v)}")
    with atomic_path(path, suffix=".toml") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------- census by IRIS
#: leading columns of INSEE's "base infracommunale (IRIS) — Logement" CSV, with ``{yy}`` the vintage's two digits;
#: ``P{yy}_RP`` main residences and ``P{yy}_RP_VOIT1P`` main residences with at least one car
CENSUS_LOGEMENT_COLUMNS = ("IRIS", "REG", "DEP", "UU2020", "COM", "TYP_IRIS", "LAB_IRIS", "P{yy}_LOG", "P{yy}_RP",
                           "P{yy}_RSECOCC", "P{yy}_LOGVAC", "P{yy}_MAISON", "P{yy}_APPART", "P{yy}_RP_PROP",
                           "P{yy}_RP_LOC", "P{yy}_RP_LOCHLMV", "P{yy}_RP_GARL", "P{yy}_RP_VOIT1P", "P{yy}_RP_VOIT1",
                           "P{yy}_RP_VOIT2P")


def census_iris_tables(fil, *, rng: np.random.Generator, tile_m: float = 3000.0, vintage: int = 2021,
                       region: str = "32"):
    """Synthetic IRIS (square tiles whose borders cut through cells 50 m from their side, so that cells straddle two
    IRIS) over a Filosofi table (:func:`filosofi_table`) and their census housing counts in INSEE's layout
    (:data:`CENSUS_LOGEMENT_COLUMNS`).

    Households per IRIS follow the cells' ``men`` (times a small census-vs-Filosofi noise); the share without a car
    grows with flats (``men_coll``) and poverty (``men_pauv``). Each IRIS takes the commune code of most of its
    cells and the code ``<commune><serial:04d>``.

    Returns
    -------
    (pandas.DataFrame, geopandas.GeoDataFrame)
        The census table (column codes of ``vintage``) and the contours (IGN's ``CODE_IRIS``, ``INSEE_COM``,
        ``NOM_COM``, ``IRIS``, ``NOM_IRIS``, ``TYP_IRIS``; EPSG:2154).
    """
    import geopandas as gpd
    import shapely

    b = fil.geometry.bounds
    cx = ((b["minx"] + b["maxx"]) / 2).to_numpy(float)
    cy = ((b["miny"] + b["maxy"]) / 2).to_numpy(float)
    ox, oy = float(np.floor(cx.min() / tile_m) * tile_m) - 50.0, float(np.floor(cy.min() / tile_m) * tile_m) - 50.0
    tx = np.floor((cx - ox) / tile_m).astype(np.int64)
    ty = np.floor((cy - oy) / tile_m).astype(np.int64)
    key = tx * 100_000 + ty
    men = fil["men"].to_numpy(float)
    coll = fil["men_coll"].to_numpy(float)
    pauv = fil["men_pauv"].to_numpy(float)
    com = fil["lcog_geo"].astype(str).to_numpy(dtype=object)
    rows, polys = [], []
    serial: dict[str, int] = {}
    for k in np.unique(key):
        m = key == k
        vals, counts = np.unique(com[m], return_counts=True)
        c = str(vals[np.argmax(counts)])
        serial[c] = serial.get(c, 0) + 1
        hh = float(men[m].sum()) * float(rng.lognormal(0.0, 0.05))
        flats = float(coll[m].sum() / max(men[m].sum(), 1e-9))
        poor = float(pauv[m].sum() / max(men[m].sum(), 1e-9))
        no_car = float(np.clip(0.05 + 0.28 * flats + 0.55 * poor + rng.normal(0.0, 0.02), 0.02, 0.75))
        rows.append({"iris": f"{c}{serial[c]:04d}", "com": c, "hh": hh, "no_car": no_car, "flats": flats,
                     "poor": poor})
        x, y = ox + (k // 100_000) * tile_m, oy + (k % 100_000) * tile_m
        polys.append(shapely.segmentize(shapely.box(x, y, x + tile_m, y + tile_m), 200.0))
    t = pd.DataFrame(rows)
    yy = f"{int(vintage) % 100:02d}"
    rp = np.round(t["hh"].to_numpy(), 6)
    voit1p = np.round(rp * (1.0 - t["no_car"].to_numpy()), 6)
    voit2p = np.round(voit1p * np.clip(0.55 - 0.4 * t["flats"].to_numpy(), 0.05, 0.8), 6)
    log = np.round(rp * 1.09, 6)
    appart = np.round(log * t["flats"].to_numpy(), 6)
    prop = np.round(rp * np.clip(0.75 - 0.5 * t["flats"].to_numpy() - 0.3 * t["poor"].to_numpy(), 0.05, 0.95), 6)
    n = len(t)
    table = {"IRIS": t["iris"], "REG": np.full(n, region), "DEP": t["com"].str.slice(0, 2),
            "UU2020": np.full(n, "62000"),
            "COM": t["com"], "TYP_IRIS": np.where(rp > 1800, "H", "Z"), "LAB_IRIS": np.full(n, "5"),
            "P{yy}_LOG": log, "P{yy}_RP": rp, "P{yy}_RSECOCC": np.round(log * 0.03, 6),
            "P{yy}_LOGVAC": np.round(log - rp - np.round(log * 0.03, 6), 6), "P{yy}_MAISON": np.round(log - appart, 6),
            "P{yy}_APPART": appart, "P{yy}_RP_PROP": prop, "P{yy}_RP_LOC": np.round(rp - prop, 6),
            "P{yy}_RP_LOCHLMV": np.round((rp - prop) * 0.4, 6), "P{yy}_RP_GARL": np.round(rp * 0.6, 6),
            "P{yy}_RP_VOIT1P": voit1p, "P{yy}_RP_VOIT1": np.round(voit1p - voit2p, 6), "P{yy}_RP_VOIT2P": voit2p}
    census = pd.DataFrame({c.format(yy=yy): np.asarray(table[c]) for c in CENSUS_LOGEMENT_COLUMNS})
    contours = gpd.GeoDataFrame({"INSEE_COM": t["com"].to_numpy(), "NOM_COM": t["com"].to_numpy(),
                                 "IRIS": t["iris"].str.slice(5).to_numpy(), "CODE_IRIS": t["iris"].to_numpy(),
                                 "NOM_IRIS": [f"Iris {s}" for s in t["iris"]],
                                 "TYP_IRIS": census["TYP_IRIS"].to_numpy()},
                                geometry=polys, crs="EPSG:3035").to_crs(2154)
    return census, contours


def write_census_logement(census: pd.DataFrame, path, *, vintage: int = 2021, fmt: str = "csv") -> None:
    """Write a census housing table as INSEE distributes it: a zip holding ``base-ic-logement-<vintage>.CSV``
    (``;``-separated, ``.`` decimals) and its ``meta_`` dictionary (``fmt="csv"``), or a zip holding the workbook
    ``base-ic-logement-<vintage>.xlsx`` (sheet ``IRIS``: title rows, a row of labels, the row of codes, the data;
    ``fmt="xlsx"``, needs openpyxl)."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"fmt must be 'csv' or 'xlsx', got {fmt!r}")
    stem = f"base-ic-logement-{int(vintage)}"
    meta = pd.DataFrame({"COD_VAR": list(census.columns), "LIB_VAR": list(census.columns)})
    members: dict[str, bytes] = {}
    if fmt == "csv":
        members[f"{stem}.CSV"] = census.to_csv(sep=";", index=False, lineterminator="\n").encode("utf-8")
        members[f"meta_{stem}.CSV"] = meta.to_csv(sep=";", index=False, lineterminator="\n").encode("utf-8")
    else:
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "IRIS"
        ws.append([f"Logements en {int(vintage)}"])
        ws.append(["Base infracommunale (IRIS) — synthetic"])
        ws.append(["Source : Insee, RP" + str(int(vintage)) + " exploitation principale (layout)"])
        ws.append([])
        ws.append(["Libellé " + c for c in census.columns])
        ws.append(list(census.columns))
        for rec in census.itertuples(index=False):
            ws.append([v.item() if hasattr(v, "item") else v for v in rec])
        import datetime as dt

        wb.properties.created = wb.properties.modified = dt.datetime(2026, 1, 1)
        buf = io.BytesIO()
        wb.save(buf)
        members[f"{stem}.xlsx"] = buf.getvalue()
    with atomic_path(path, suffix=".zip") as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)


def write_iris_contours(contours, path, *, layer: str = "CONTOURS_IRIS") -> None:
    """Write IRIS contours as IGN distributes them (a GeoPackage layer in EPSG:2154 with ``CODE_IRIS``...)."""
    write_filosofi_gpkg(contours.to_crs(2154), path, layer=layer)


def write_contours_iris_7z(contours, path, *, edition: str = "2023-01-01", delivery: str = "2024-02-00238") -> None:
    """Write IRIS contours as IGN distributes CONTOURS-IRIS 3.0 for France: one 7-Zip archive (made with py7zr)
    ``CONTOURS-IRIS_3-0__SHP__FRA_<edition>.7z`` holding ``CONTOURS-IRIS_3-0__SHP__FRA_<edition>/CONTOURS-IRIS/
    1_DONNEES_LIVRAISON_<delivery>/CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-ED<edition>/CONTOURS-IRIS.shp`` (with its
    ``.shx``, ``.dbf``, ``.prj``, ``.cpg``; EPSG:2154; ``INSEE_COM, NOM_COM, IRIS, CODE_IRIS, NOM_IRIS,
    TYP_IRIS``), the same file name for an overseas territory in its own CRS (Guadeloupe, EPSG:5490, one IRIS) and
    the delivery's documentation folder, as in the real archive."""
    import tempfile

    import geopandas as gpd
    import py7zr
    import shapely

    top = f"CONTOURS-IRIS_3-0__SHP__FRA_{edition}"
    liv = f"{top}/CONTOURS-IRIS/1_DONNEES_LIVRAISON_{delivery}"
    cols = ["INSEE_COM", "NOM_COM", "IRIS", "CODE_IRIS", "NOM_IRIS", "TYP_IRIS"]
    fxx = contours.to_crs(2154)[cols + ["geometry"]]
    glp = gpd.GeoDataFrame({"INSEE_COM": ["97101"], "NOM_COM": ["Les Abymes"], "IRIS": ["0101"],
                            "CODE_IRIS": ["971010101"], "NOM_IRIS": ["Iris 0101"], "TYP_IRIS": ["H"]},
                           geometry=[shapely.box(-61.51, 16.26, -61.49, 16.28)], crs=4326).to_crs(5490)
    with tempfile.TemporaryDirectory() as td:
        members = []
        for gdf, folder in ((fxx, f"{liv}/CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-ED{edition}"),
                            (glp, f"{liv}/CONTOURS-IRIS_3-0_SHP_RGAF09UTM20_GLP-ED{edition}")):
            d = Path(td) / folder
            d.mkdir(parents=True)
            gdf.to_file(d / "CONTOURS-IRIS.shp", driver="ESRI Shapefile", encoding="UTF-8")
            members += sorted(p for p in d.iterdir())
        doc = Path(td) / f"{top}/CONTOURS-IRIS/2_METADONNEES_LIVRAISON_{delivery}"
        doc.mkdir(parents=True)
        (doc / "CONTOURS-IRIS_3-0_SHP_LAMB93_FXX.md5").write_text("synthetic\n")
        members.append(doc / "CONTOURS-IRIS_3-0_SHP_LAMB93_FXX.md5")
        with atomic_path(Path(path), suffix=".7z") as tmp, py7zr.SevenZipFile(tmp, "w") as z:
            for m in members:
                z.write(m, arcname=str(m.relative_to(td)))
