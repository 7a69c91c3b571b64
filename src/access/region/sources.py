"""Loaders of the real French source files of a region recipe, each validating columns, CRS and ids.

Every loader returns a GeoDataFrame in EPSG:4326 and raises :class:`~access._errors.ValidationError` (a bad
column, CRS or id: the message names the file, the column/row/id and the fix) or
:class:`~access._errors.InputFileError` (a missing or unreadable file). Column names are matched after
normalisation (accents removed, case folded, non-alphanumerics -> ``_``), so ``Type équipement ou lieu`` and
``type_equipement_ou_lieu`` are the same column.

:func:`read_filosofi` — INSEE Filosofi gridded data ("données carroyées"), 200 m or 1 km cells
    Files: GeoPackage (any layer; ``layer=`` picks one), CSV (``,`` or ``;``, ``.`` or ``,`` decimals), Parquet,
    or a zip holding one of these. Columns (2015/2017 capitalised, 2019 lower case; either works):
    cell id ``Idcar_200m`` (200 m files) or ``Idcar_1km`` (1 km files) or ``IdINSPIRE``; ``Ind`` (individuals),
    ``Men`` (households), ``Men_pauv`` (poor households), ``Ind_snv`` (sum of standards of living, EUR/year),
    ``Ind_65_79``, ``Ind_80p``; optional ``Depcom`` (2015/2017) or ``lcog_geo`` (2019/2021: the 5-character
    codes of every commune the cell touches, concatenated, ``"5900959350"``; the first is the cell's commune).
    The columns of :data:`FILOSOFI_KEPT` are kept under their lower-case names. GeoPackages are read with the
    ``bbox`` converted to the file's own CRS (the 2019 squares are in EPSG:2154, their ids in EPSG:3035). Ids are
    INSPIRE ids
    ``CRS3035RES200mN2029800E4252400``: EPSG:3035, cell size, northing and easting of the lower-left corner;
    the cell centre is taken from the id (the geometry, when present, is only used to check the CRS).
    Output: ``id, population, households, poor_households, share_poor_households (Men_pauv/Men: a share of poor
    *households*, not INSEE's poverty rate of persons), income_per_capita (Ind_snv/Ind, EUR/year), share_elderly
    ((Ind_65_79+Ind_80p)/Ind), cell_size_m, commune, communes (comma-separated), <FILOSOFI_KEPT>, geometry``
    (points at cell centres). Ratios are NaN where the denominator is 0.

:func:`read_basilic` — Ministry of Culture's "Base des lieux et équipements culturels" (Basilic)
    ``;``-separated CSV (UTF-8, BOM allowed) as exported by data.culture.gouv.fr / data.gouv.fr. Columns:
    ``Nom``; ``Type équipement ou lieu``; ``code_insee`` (or ``Code Insee``); coordinates as ``Latitude`` and
    ``Longitude`` (decimal degrees) and/or ``coordonnees_GPS`` (``"lat, lon"``; also ``coordonnees_gps_lat_lon``,
    ``coordonnees_geo``, ``geo_point_2d``); optional id ``Identifiant_deps_a_partir_de_2022`` (else
    ``Identifiant``/``id``; rows without one get ``basilic-<row>``); optional ``libelle_geographique``.
    Types map to categories with ``data/venue_taxonomy.csv`` (``source = basilic``).

:func:`read_bpe` — INSEE Base permanente des équipements (BPE), geolocated detail file
    ``;``-separated CSV (``BPE25.csv``, ``bpe21_ensemble_xy.csv``...; UTF-8 or CP1252) or Parquet. Columns:
    ``TYPEQU`` (equipment code; the culture codes F303 cinema, F305 conservatoire, F307 library, F312
    exhibitions, F313 heritage, F315 performing arts are kept, per ``data/venue_taxonomy.csv``), ``DEPCOM``,
    coordinates ``LAMBERT_X``/``LAMBERT_Y`` (EPSG:2154 in metropolitan France; a per-row ``EPSG`` column is
    honoured) or ``LONGITUDE``/``LATITUDE``; optional ``QUALITE_XY``, ``NOMRS`` (name). Rows without
    coordinates are dropped with a warning. Ids are ``bpe-<row>`` (the row number in the file).

:func:`read_epci` — intercommunality (EPCI) polygons
    GeoJSON (also ``.geojson.gz``), GeoPackage, Shapefile or a zip of one. Id column (9-digit SIREN code):
    ``epci_code``, ``code_epci``, ``siren_epci``, ``siren``, ``code_siren``, ``epci`` or ``code``; name column:
    ``epci_nom*``, ``nom_epci``, ``nom``, ``name``, ``libelle``. A CRS is required. Output ``id, name, geometry``.

Venue loaders (Basilic, BPE, and :func:`access.io.osm_venues.read_osm_venues`) all return the venue schema
``id, name, category, type_label, commune, geometry`` (points); ``categories=`` keeps only some categories and
``bbox=(lon_min, lat_min, lon_max, lat_max)`` only the venues in a box (``read_filosofi`` takes ``bbox`` too).
:func:`combine_venues` merges a primary venue set with fallbacks (Basilic, then BPE, then OSM), dropping
fallback venues within ``dedup_m`` of a kept venue of the same category.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import AccessWarning, InputFileError, ValidationError

VENUE_COLUMNS = ["id", "name", "category", "type_label", "commune", "geometry"]
#: Filosofi columns kept in the cells frame under their 2019 lower-case names (the 2015/2017 capitalised ones are
#: matched after normalisation): the 11-household estimate flag, households by kind, social housing, age bands
FILOSOFI_KEPT = ("i_est_200", "ind", "men", "men_pauv", "men_1ind", "men_fmp", "men_prop", "log_soc", "ind_0_3",
                 "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_25_39", "ind_40_54", "ind_55_64", "ind_65_79",
                 "ind_80p")
_FILO_ID_RE = r"^CRS(\d+)RES(\d+)mN(\d+)E(\d+)$"


# ---------------------------------------------------------------------------------------------- helpers
def norm_name(s: str) -> str:
    """Normalise a column name or label: no accents, case folded, runs of non-alphanumerics -> ``_``."""
    s = unicodedata.normalize("NFKD", str(s).replace("\u2019", "'"))
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^0-9a-z]+", "_", s).strip("_")


def _check_path(path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{what} file {str(path)!r} does not exist; run `access fetch` or fix the path")
    if path.is_file() and path.stat().st_size == 0:
        raise InputFileError(f"{what} file {str(path)!r} is empty; download it again")
    return path


def _sniff_sep(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace") as f:
        head = f.readline()
    return ";" if head.count(";") > head.count(",") else ","


def _usecols(keep):
    return None if keep is None else (lambda c: norm_name(c) in keep)


def _read_csv(path: Path, what: str, keep=None) -> pd.DataFrame:
    for enc in ("utf-8-sig", "cp1252"):
        try:
            sep = _sniff_sep(path, enc)
            return pd.read_csv(path, sep=sep, dtype=str, encoding=enc, keep_default_na=False, na_values=[""],
                               low_memory=False, usecols=_usecols(keep))
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise InputFileError(f"{what} file {str(path)!r} is not a readable CSV: {e}") from None
    raise InputFileError(f"{what} file {str(path)!r} is neither UTF-8 nor CP1252 text")


def _read_any(path, what: str, *, layer=None, geo: bool = False, bbox_4326=None, keep=None):
    """DataFrame/GeoDataFrame from CSV, Parquet, GeoPackage, GeoJSON(.gz), Shapefile or a zip of one."""
    import geopandas as gpd

    path = _check_path(path, what)
    name = path.name.lower()
    try:
        if name.endswith((".csv", ".txt")) and not geo:
            return _read_csv(path, what, keep)
        if name.endswith(".parquet"):
            try:
                return gpd.read_parquet(path)
            except (ValueError, KeyError):
                return pd.read_parquet(path)
        if name.endswith(".zip"):
            import zipfile

            with zipfile.ZipFile(path) as z:
                members = [m for m in z.namelist() if not m.endswith("/")]
            data = [m for m in members if m.lower().endswith((".csv", ".gpkg", ".geojson", ".shp", ".parquet"))]
            if not data:
                raise InputFileError(f"{what} zip {str(path)!r} holds no CSV/GeoPackage/GeoJSON/Shapefile "
                                     f"(members: {members[:8]}); extract the data file and give its path")
            member = data[0]
            if member.lower().endswith(".csv") and not geo:
                import io

                with zipfile.ZipFile(path) as z, z.open(member) as f:
                    raw = f.read()
                tmp = io.BytesIO(raw)
                text_head = raw[:4096].decode("utf-8", errors="replace").splitlines()[0] if raw else ""
                sep = ";" if text_head.count(";") > text_head.count(",") else ","
                try:
                    return pd.read_csv(tmp, sep=sep, dtype=str, encoding="utf-8-sig", keep_default_na=False,
                                       na_values=[""], low_memory=False, usecols=_usecols(keep))
                except UnicodeDecodeError:
                    tmp.seek(0)
                    return pd.read_csv(tmp, sep=sep, dtype=str, encoding="cp1252", keep_default_na=False,
                                       na_values=[""], low_memory=False, usecols=_usecols(keep))
            return gpd.read_file(f"/vsizip/{path}/{member}", layer=layer)
        if name.endswith(".gz"):
            return gpd.read_file(f"/vsigzip/{path}", layer=layer)
        if bbox_4326 is not None and name.endswith((".gpkg", ".shp")):
            import pyogrio
            from pyproj import CRS, Transformer

            crs = pyogrio.read_info(path, layer=layer).get("crs")
            if crs:  # the box in the file's own CRS (Filosofi 2019: EPSG:2154 squares), so only the region is read
                x0, y0, x1, y1 = bbox_4326
                b = Transformer.from_crs(4326, CRS.from_user_input(crs), always_xy=True).transform_bounds(
                    x0, y0, x1, y1, densify_pts=21)
                pad = 1000.0 if not CRS.from_user_input(crs).is_geographic else 0.01
                return gpd.read_file(path, layer=layer, bbox=(b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad),
                                     columns=None if keep is None else
                                     [c for c in pyogrio.read_info(path, layer=layer)["fields"]
                                      if norm_name(c) in keep])
        return gpd.read_file(path, layer=layer)
    except (InputFileError, ValidationError):
        raise
    except Exception as e:  # pyogrio/GDAL errors carry the reason
        raise InputFileError(f"{what} file {str(path)!r} cannot be read: {e}") from None


def _columns(df) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in df.columns:
        if c == "geometry":
            continue
        out.setdefault(norm_name(c), c)
    return out


def _pick(cols: dict[str, str], candidates, *, prefix: str | None = None):
    for c in candidates:
        if c in cols:
            return cols[c]
    if prefix is not None:
        for k, v in cols.items():
            if k.startswith(prefix):
                return v
    return None


def _to_number(s: pd.Series, column: str, where: str) -> pd.Series:
    """Numbers from strings with ``.`` or ``,`` decimals (and thin/non-breaking spaces as thousands separators)."""
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    try:  # fast path: plain numbers with '.' decimals
        return pd.Series(pd.to_numeric(s, errors="raise"), index=s.index).astype("float64")
    except (ValueError, TypeError):
        pass
    txt = s.astype("string").str.strip().str.replace(r"[\s\u00a0\u202f]", "", regex=True).str.replace(",", ".")
    num = pd.to_numeric(txt, errors="coerce").astype("float64")
    bad = num.isna() & txt.notna() & (txt != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValidationError(f"{where}: column {column!r} has {int(bad.sum())} non-numeric value(s), e.g. "
                              f"{s.iloc[i]!r} at data row {i + 1}; fix or remove those rows")
    return num


def _objects(s) -> np.ndarray:
    """A Series as an object array with None for missing values (independent of pandas' string backends)."""
    return np.array([None if (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))) else v
                     for v in s.astype(object)], dtype=object)


def _examples(values, k=3):
    return ", ".join(repr(v) for v in list(values)[:k])


def read_taxonomy(source: str, path=None) -> dict[str, tuple[str, str]]:
    """The label -> (category, label) mapping of one source (``basilic``, ``bpe`` or ``osm``) from
    ``data/venue_taxonomy.csv`` (keys normalised with :func:`norm_name`; category ``excluded`` marks labels
    deliberately left out)."""
    from .._data import data_path

    p = Path(path) if path is not None else data_path("venue_taxonomy.csv")
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    missing = {"source", "label", "category"} - set(df.columns)
    if missing:
        raise InputFileError(f"taxonomy {str(p)!r} lacks column(s) {sorted(missing)}; expected source,label,category")
    sub = df[df["source"] == source]
    if sub.empty:
        raise ValidationError(f"taxonomy {str(p)!r} has no row for source {source!r}; add rows source,label,category")
    return {norm_name(lab): (cat, lab) for lab, cat in zip(sub["label"], sub["category"])}


def _venues(ids, names, cats, labels, communes, lon, lat, extra: dict | None = None):
    import geopandas as gpd

    df = pd.DataFrame({"id": pd.array(ids, dtype="string"), "name": pd.array(names, dtype="string"),
                       "category": pd.array(cats, dtype="string"), "type_label": pd.array(labels, dtype="string"),
                       "commune": pd.array(communes, dtype="string")})
    for k, v in (extra or {}).items():
        df[k] = v
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(np.asarray(lon, float), np.asarray(lat, float)),
                            crs="EPSG:4326").reset_index(drop=True)


def _filter_categories(gdf, categories, where, bbox=None):
    if bbox is not None:
        gdf = gdf[_bbox_mask(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), bbox)].reset_index(drop=True)
    if categories is None:
        return gdf
    from .recipe import VENUE_CATEGORIES

    bad = [c for c in categories if c not in VENUE_CATEGORIES]
    if bad:
        raise ValidationError(f"{where}: unknown categor(ies) {bad}; choose among {list(VENUE_CATEGORIES)}")
    return gdf[gdf["category"].isin(list(categories))].reset_index(drop=True)


def _check_lonlat(lon: np.ndarray, lat: np.ndarray, where: str, lon_col: str, lat_col: str) -> None:
    bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{where}: {int(bad.sum())} row(s) have coordinates outside degrees, e.g. "
                              f"{lat_col}={lat[i]!r}, {lon_col}={lon[i]!r} at data row {i + 1}; the columns must "
                              "hold WGS84 decimal degrees (EPSG:4326), not projected metres")
    if len(lat) >= 5 and np.all(np.abs(lat) < 11) and np.all((np.abs(lon) > 40) & (np.abs(lon) < 52)):
        raise ValidationError(f"{where}: {lat_col} and {lon_col} look swapped (latitudes near {np.median(lat):.1f},"
                              f" longitudes near {np.median(lon):.1f}); swap the two columns")


# ---------------------------------------------------------------------------------------------- Filosofi
def parse_cell_ids(ids, *, where: str = "grid") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """INSPIRE cell ids -> (cell_size_m int32, easting_m, northing_m float64 of the lower-left corner), EPSG:3035.

    Raises ValidationError naming bad ids (and any CRS other than 3035)."""
    s = pd.Series(ids, dtype="string").str.strip()
    parts = s.str.extract(_FILO_ID_RE)
    bad = parts[0].isna()
    if bad.any():
        raise ValidationError(f"{where}: {int(bad.sum())} cell id(s) are not INSPIRE ids like "
                              f"'CRS3035RES200mN2029800E4252400', e.g. {_examples(s[bad])}; use the file's "
                              "Idcar_200m/Idcar_1km column")
    crs = parts[0].astype(int)
    if (crs != 3035).any():
        raise ValidationError(f"{where}: cell ids name CRS {sorted(set(crs))} but Filosofi metropolitan grids are "
                              "EPSG:3035 (ids 'CRS3035RES...'); overseas grids are not supported")
    return (parts[1].astype("int32").to_numpy(), parts[3].astype("float64").to_numpy(),
            parts[2].astype("float64").to_numpy())


def _bbox_mask(lon, lat, bbox):
    if bbox is None:
        return np.ones(len(lon), bool)
    lon0, lat0, lon1, lat1 = bbox
    return (lon >= lon0) & (lon <= lon1) & (lat >= lat0) & (lat <= lat1)


def read_filosofi(path, *, layer=None, bbox=None):
    """Read an INSEE Filosofi grid (200 m or 1 km) into cell-centre points with population and income.

    Parameters
    ----------
    path : path-like
        ``.gpkg``, ``.csv``, ``.parquet`` or a zip of one (see the module docstring for the columns).
    layer : str, optional
        GeoPackage layer (default: the first).
    bbox : (lon_min, lat_min, lon_max, lat_max), optional
        Keep only the cells whose centre lies in this box (read from disk only where needed for GeoPackages).

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, population, households, poor_households, share_poor_households, income_per_capita,
        share_elderly, cell_size_m, commune, communes``, the columns of :data:`FILOSOFI_KEPT` present in the file,
        ``geometry``; EPSG:4326.

    Examples
    --------
    >>> cells = read_filosofi("carreaux_200m_met.gpkg")  # doctest: +SKIP
    """
    import geopandas as gpd
    from pyproj import Transformer

    where = f"Filosofi grid {str(path)!r}"
    df = _read_any(path, "Filosofi grid", layer=layer, bbox_4326=bbox,
                   keep={"idcar_200m", "idcar_1km", "idinspire", "id_carr_1k", "idcar_nat", "ind", "men", "men_pauv",
                         "ind_snv", "depcom", "lcog_geo", "code_insee", "com", *FILOSOFI_KEPT})
    if len(df) == 0 and bbox is None:
        raise ValidationError(f"{where} has no rows; check the file (and `layer`)")
    cols = _columns(df)
    id_col = _pick(cols, ["idcar_200m", "idcar_1km", "idinspire", "id_carr_1k", "idcar_nat"])
    need = {"ind": "Ind", "men": "Men", "men_pauv": "Men_pauv", "ind_snv": "Ind_snv", "ind_65_79": "Ind_65_79",
            "ind_80p": "Ind_80p"}
    missing = [v for k, v in need.items() if k not in cols]
    if id_col is None:
        missing.insert(0, "Idcar_200m (or Idcar_1km)")
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing}; expected INSEE's carroyage names (2015/2017 "
                              f"'Idcar_200m, Ind, Men, Men_pauv, Ind_snv, ...' or 2019 lower case). Found: "
                              f"{list(df.columns)[:20]}")
    ids = df[id_col].astype("string").str.strip()
    if ids.isna().any():
        raise ValidationError(f"{where}: column {id_col!r} has {int(ids.isna().sum())} empty id(s) "
                              f"(first at data row {int(np.flatnonzero(ids.isna().to_numpy())[0]) + 1})")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValidationError(f"{where}: column {id_col!r} has {len(dup)} duplicate id(s), e.g. "
                              f"{_examples(dup.unique())}; each cell must appear once (did you concatenate a file "
                              "twice?)")
    size_m, east, north = parse_cell_ids(ids, where=where)
    x = east + size_m / 2.0
    y = north + size_m / 2.0
    lon, lat = Transformer.from_crs(3035, 4326, always_xy=True).transform(x, y)
    if bbox is not None:
        m = _bbox_mask(np.asarray(lon), np.asarray(lat), bbox)
        df, ids = df[m].reset_index(drop=True), ids[m].reset_index(drop=True)
        size_m, x, y, lon, lat = size_m[m], x[m], y[m], np.asarray(lon)[m], np.asarray(lat)[m]
    num = {k: _to_number(df[cols[k]], cols[k], where) for k in need}
    for k, v in num.items():
        if v.isna().any():
            i = int(np.flatnonzero(v.isna().to_numpy())[0])
            raise ValidationError(f"{where}: column {cols[k]!r} is empty at data row {i + 1} (cell {ids.iloc[i]}); "
                                  "Filosofi columns have no missing values: check the file")
        if (v < 0).any():
            i = int(np.flatnonzero((v < 0).to_numpy())[0])
            raise ValidationError(f"{where}: column {cols[k]!r} is negative ({v.iloc[i]}) for cell {ids.iloc[i]}")

    if isinstance(df, gpd.GeoDataFrame) and df.geometry.notna().any():
        if df.crs is None:
            raise ValidationError(f"{where}: the geometries have no CRS; INSEE grids are in EPSG:3035 (ETRS89-LAEA): "
                                  "set it (gdf.set_crs(3035)) or rewrite the file with its CRS")
        k = min(len(df), 200)
        geom = df.geometry.iloc[:k]
        ok = geom.notna().to_numpy() & ~geom.is_empty.to_numpy()
        if ok.any():
            cen = gpd.GeoSeries(geom[ok].centroid if not df.crs.is_geographic else geom[ok].to_crs(3035).centroid,
                                crs=df.crs if not df.crs.is_geographic else 3035).to_crs(3035)
            d = np.hypot(cen.x.to_numpy() - x[:k][ok], cen.y.to_numpy() - y[:k][ok])
            if np.median(d) > size_m[:k][ok].max():
                raise ValidationError(
                    f"{where}: the geometries lie a median {np.median(d) / 1000:.1f} km from the cells their ids "
                    f"name: the file's CRS ({df.crs.to_string()}) is probably wrong; Filosofi geometries are "
                    "EPSG:3035")

    ind, men = num["ind"].to_numpy(), num["men"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        poverty = np.where(men > 0, num["men_pauv"].to_numpy() / men, np.nan)
        income = np.where(ind > 0, num["ind_snv"].to_numpy() / ind, np.nan)
        elderly = np.where(ind > 0, (num["ind_65_79"].to_numpy() + num["ind_80p"].to_numpy()) / ind, np.nan)
    com_col = _pick(cols, ["lcog_geo", "depcom", "code_insee", "com"])
    if com_col is not None:  # lcog_geo: the 5-character codes of every commune the cell touches, concatenated
        raw = df[com_col].astype("string").str.strip()
        raw = raw.where(~raw.str.fullmatch(r"\d{4}").fillna(False), "0" + raw)
        communes = raw.map(lambda v: ",".join(v[i:i + 5] for i in range(0, len(v), 5)) if isinstance(v, str)
                           and v else pd.NA, na_action="ignore").astype("string")
        commune = communes.str.slice(0, 5)
    else:
        commune = communes = pd.array([pd.NA] * len(df), dtype="string")
    out = pd.DataFrame({"id": ids.to_numpy(), "population": ind, "households": men,
                        "poor_households": num["men_pauv"].to_numpy(), "share_poor_households": poverty,
                        "income_per_capita": income, "share_elderly": elderly, "cell_size_m": size_m,
                        "commune": pd.array(commune, dtype="string"), "communes": pd.array(communes, dtype="string")})
    for k in FILOSOFI_KEPT:  # the official columns the social-barrier indicators read (lower-case names)
        if k in cols and k not in out.columns:
            out[k] = _to_number(df[cols[k]], cols[k], where).to_numpy()
    out["id"] = out["id"].astype("string")
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


# ---------------------------------------------------------------------------------------------- Basilic
def read_basilic(path, *, categories=None, taxonomy=None, bbox=None):
    """Read the Basilic export (cultural venues of the Ministry of Culture) into the venue schema.

    Parameters
    ----------
    path : path-like
        The ``;``-separated CSV (see the module docstring for the columns).
    categories : list of str, optional
        Keep only these categories (default: every mapped category, ``excluded`` types dropped).
    taxonomy : path-like, optional
        Another mapping table than ``data/venue_taxonomy.csv``.
    bbox : (lon_min, lat_min, lon_max, lat_max), optional
        Keep only the venues inside this box.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, category, type_label, commune, geometry`` (EPSG:4326 points).
    """
    where = f"Basilic file {str(path)!r}"
    df = _read_any(path, "Basilic")
    cols = _columns(df)
    type_col = _pick(cols, ["type_equipement_ou_lieu", "type_equipement", "type"])
    name_col = _pick(cols, ["nom", "nom_du_lieu", "name"])
    insee_col = _pick(cols, ["code_insee", "code_insee_commune", "codgeo", "depcom"])
    lat_col, lon_col = _pick(cols, ["latitude", "lat"]), _pick(cols, ["longitude", "lon", "lng"])
    gps_col = _pick(cols, ["coordonnees_gps", "coordonnees_gps_lat_lon", "coordonnees_geo", "geo_point_2d",
                           "coordonnees"])
    missing = [n for n, c in (("Nom", name_col), ("Type équipement ou lieu", type_col), ("code_insee", insee_col))
               if c is None]
    if lat_col is None or lon_col is None:
        if gps_col is None:
            missing.append("Latitude/Longitude (or coordonnees_GPS)")
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing}; expected the Basilic export "
                              f"('Nom;...;Type équipement ou lieu;...;code_insee;...;Latitude;Longitude'). Found: "
                              f"{list(df.columns)[:20]}")
    n = len(df)
    id_col = _pick(cols, ["identifiant_deps_a_partir_de_2022", "identifiant", "id", "identifiant_origine"])
    gen = pd.Series([f"basilic-{i + 1}" for i in range(n)], dtype="string")
    ids = df[id_col].astype("string").str.strip().fillna(gen) if id_col else gen
    ids = ids.mask(ids == "", gen)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    badc = np.zeros(n, bool)  # a coordinate that is there but is not a number / not in degrees
    if lat_col is not None and lon_col is not None:
        lat, b1 = _lenient_number(df[lat_col])
        lon, b2 = _lenient_number(df[lon_col])
        badc |= b1 | b2
    if gps_col is not None:
        parts = df[gps_col].astype("string").str.extract(r"^\s*([-+]?\d+(?:\.\d+)?)\s*[,;]\s*([-+]?\d+(?:\.\d+)?)\s*$")
        glat = np.array(pd.to_numeric(parts[0], errors="coerce"), dtype="float64")
        glon = np.array(pd.to_numeric(parts[1], errors="coerce"), dtype="float64")
        fill = np.isnan(lat) | np.isnan(lon)
        badg = df[gps_col].notna().to_numpy() & (df[gps_col].astype("string").str.strip() != "").fillna(False) \
            .to_numpy() & np.isnan(glat)
        badc |= fill & badg
        lat[fill], lon[fill] = glat[fill], glon[fill]
    out_of_range = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if out_of_range.sum() > 0.5 * max(int((~np.isnan(lat)).sum()), 1):  # the columns hold metres, not a few typos
        _check_lonlat(lon, lat, where, lon_col or gps_col, lat_col or "Latitude")
    badc |= out_of_range
    lat[badc], lon[badc] = np.nan, np.nan
    has = ~(np.isnan(lat) | np.isnan(lon))
    lab_col = "Latitude" if lat_col is None else lat_col
    _check_lonlat(lon[has], lat[has], where, lon_col or gps_col, lab_col)

    tax = read_taxonomy("basilic", taxonomy)
    labels = df[type_col].astype("string").str.strip()
    keyed = labels.fillna("").map(norm_name)
    cat = keyed.map(lambda k: tax.get(k, (None, None))[0])
    unknown = labels[cat.isna() & labels.notna()]
    if len(unknown):
        counts = unknown.value_counts()
        warnings.warn(f"{where}: {len(unknown)} venue(s) of type(s) not in the taxonomy dropped: "
                      f"{dict(counts.head(8))}; add them to data/venue_taxonomy.csv (source basilic) to keep them",
                      AccessWarning, stacklevel=2)
    catv = _objects(cat)
    valid = np.array([c is not None and c != "excluded" for c in catv], dtype=bool)
    # entries that are not places: touring companies and orchestras (listed for their label, at their office)
    prec_col = _pick(cols, ["precision_equipement", "precision_type_equipement"])
    label_col = _pick(cols, ["label_et_appellation", "label", "appellation"])
    lab_txt = (df[label_col].astype("string").str.strip() if label_col else pd.Series(pd.NA, index=df.index,
                                                                                      dtype="string"))
    company = lab_txt.fillna("").map(norm_name).str.match(r"^(compagnie|orchestre)").to_numpy(bool)
    if prec_col is not None:
        company |= df[prec_col].astype("string").fillna("").map(norm_name).str.match(r"^compagnie").to_numpy(bool)
    company &= valid
    if company.any():
        warnings.warn(f"{where}: {int(company.sum())} row(s) that are not venues (companies, orchestras: "
                      f"'Précision équipement' = Compagnie or label Compagnie.../Orchestre...) dropped, e.g. "
                      f"{_examples(ids[company].unique())}", AccessWarning, stacklevel=2)
    valid &= ~company
    dropped = valid & ~has
    if dropped.any():
        bad_ids = list(ids[dropped & badc])
        none_ids = list(ids[dropped & ~badc])
        warnings.warn(f"{where}: {int(dropped.sum())} venue row(s) dropped for a bad or missing coordinate "
                      f"({len(bad_ids)} unreadable/out of range: {bad_ids[:20]}{' ...' if len(bad_ids) > 20 else ''};"
                      f" {len(none_ids)} empty: {none_ids[:20]}{' ...' if len(none_ids) > 20 else ''}); fix them in "
                      "the file or rely on the BPE/OSM venues for them", AccessWarning, stacklevel=2)
    sel = has & valid
    commune = _objects(df[insee_col].astype("string").str.strip())
    commune = np.array([("0" + c) if isinstance(c, str) and re.fullmatch(r"\d{4}", c) else c for c in commune],
                       dtype=object)
    names = _objects(df[name_col].astype("string").str.strip())
    # one row per (site, type/label) in the file: merge the rows of one site (same coordinates) per category
    d = pd.DataFrame({"id": _objects(ids)[sel], "name": names[sel], "category": catv[sel],
                      "type_label": _objects(labels)[sel], "label": _objects(lab_txt)[sel],
                      "commune": commune[sel], "lon": lon[sel], "lat": lat[sel]})
    d["_k"] = d["lat"].round(6).astype(str) + "/" + d["lon"].round(6).astype(str) + "/" + d["category"]

    def _join(v):
        u = [x for x in dict.fromkeys(v) if isinstance(x, str) and x]
        return " | ".join(u) if u else None

    g = d.groupby("_k", sort=False)
    m = g.agg(id=("id", "first"), name=("name", "first"), category=("category", "first"),
              type_label=("type_label", _join), label=("label", _join), commune=("commune", "first"),
              lon=("lon", "first"), lat=("lat", "first"), n_rows=("id", "size")).reset_index(drop=True)
    merged = int(len(d) - len(m))
    if merged:
        _log_info(f"{where}: {merged} row(s) merged into the {int((m['n_rows'] > 1).sum())} sites they repeat "
                  "(one row per site and type/label in the file)")
    dup = m["id"].duplicated(keep=False)
    if dup.any():  # one id for several categories (or sites): suffix the category, then a counter
        m.loc[dup, "id"] = m.loc[dup, "id"] + ":" + m.loc[dup, "category"]
        again = m["id"].duplicated(keep=False)
        if again.any():
            m.loc[again, "id"] = m.loc[again, "id"] + "#" + (m[again].groupby("id").cumcount() + 1).astype(str)
    out = _venues(m["id"].to_numpy(object), m["name"].to_numpy(object), m["category"].to_numpy(object),
                  m["type_label"].to_numpy(object), m["commune"].to_numpy(object), m["lon"], m["lat"],
                  {"label": pd.array(m["label"].to_numpy(object), dtype="string"),
                   "n_rows": m["n_rows"].to_numpy(np.int32)})
    return _filter_categories(out, categories, where, bbox)


def _log_info(msg: str) -> None:
    import logging

    logging.getLogger("access.region.sources").info(msg)


def _lenient_number(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from text with '.' or ',' decimals; returns (values with NaN for unreadable, mask of unreadable)."""
    if pd.api.types.is_numeric_dtype(s):
        v = s.to_numpy(dtype="float64", copy=True)
        return v, np.zeros(len(v), bool)
    txt = s.astype("string").str.strip().str.replace(r"[\s\u00a0\u202f]", "", regex=True).str.replace(",", ".")
    num = pd.to_numeric(txt, errors="coerce").astype("float64").to_numpy(copy=True)
    bad = np.isnan(num) & txt.notna().to_numpy() & (txt != "").fillna(False).to_numpy()
    return num, bad


# ---------------------------------------------------------------------------------------------- BPE
def read_bpe(path, *, categories=None, taxonomy=None, bbox=None):
    """Read the culture equipment of INSEE's BPE (geolocated detail file) into the venue schema.

    Parameters
    ----------
    path : path-like
        ``;``-separated CSV or Parquet (see the module docstring for the columns).
    categories : list of str, optional
        Keep only these categories.
    taxonomy : path-like, optional
        Another mapping table than ``data/venue_taxonomy.csv``.
    bbox : (lon_min, lat_min, lon_max, lat_max), optional
        Keep only the venues inside this box.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, category, type_label, commune, xy_quality, geometry`` (EPSG:4326 points).
    """
    from pyproj import Transformer

    where = f"BPE file {str(path)!r}"
    df = _read_any(path, "BPE", keep={"typequ", "depcom", "codgeo", "code_commune", "lambert_x", "lambert_y",
                                      "x_l93", "y_l93", "x", "y", "longitude", "latitude", "x_longitude",
                                      "y_latitude", "lon", "lat", "epsg", "qualite_xy", "qualite_geoloc", "nomrs",
                                      "nom",
                                      "name"})
    cols = _columns(df)
    typ, com = _pick(cols, ["typequ"]), _pick(cols, ["depcom", "codgeo", "code_commune"])
    xc, yc = _pick(cols, ["lambert_x", "x_l93", "x"]), _pick(cols, ["lambert_y", "y_l93", "y"])
    lonc, latc = _pick(cols, ["longitude", "x_longitude", "lon"]), _pick(cols, ["latitude", "y_latitude", "lat"])
    missing = [n for n, c in (("TYPEQU", typ), ("DEPCOM", com)) if c is None]
    if (xc is None or yc is None) and (lonc is None or latc is None):
        missing.append("LAMBERT_X/LAMBERT_Y (or LONGITUDE/LATITUDE)")
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing}; expected INSEE's BPE detail file "
                              f"('...;DEPCOM;...;TYPEQU;...;LAMBERT_X;LAMBERT_Y;QUALITE_XY'). Found: "
                              f"{list(df.columns)[:20]}")
    tax = read_taxonomy("bpe", taxonomy)
    codes = df[typ].astype("string").str.strip().str.upper()
    catv = np.array([tax.get(norm_name(c), (None, None))[0] if isinstance(c, str) else None
                     for c in _objects(codes)], dtype=object)
    sel = np.array([c is not None and c != "excluded" for c in catv], dtype=bool)
    sub = df[sel]
    n = len(sub)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if lonc is not None and latc is not None:  # BPE 2024+: WGS84 LONGITUDE/LATITUDE, read first
        lon, _ = _lenient_number(sub[lonc])
        lat, _ = _lenient_number(sub[latc])
    if xc is not None and yc is not None:  # projected coordinates where the degrees are missing
        x, _ = _lenient_number(sub[xc])
        y, _ = _lenient_number(sub[yc])
        epsg_col = _pick(cols, ["epsg"])
        if epsg_col:  # '2154' or 'EPSG:2154'
            code_txt = sub[epsg_col].astype("string").str.upper().str.replace("EPSG:", "", regex=False)
            epsg = pd.to_numeric(code_txt, errors="coerce").fillna(2154).astype(int).to_numpy()
        else:
            epsg = np.full(n, 2154)
        need = np.isnan(lon) | np.isnan(lat)
        for code in np.unique(epsg):
            m = need & (epsg == code) & ~np.isnan(x) & ~np.isnan(y)
            if not m.any():
                continue
            if code == 2154:
                outside = ~((x[m] > 0) & (x[m] < 1_400_000) & (y[m] > 6_000_000) & (y[m] < 7_200_000))
                if outside.any():
                    i = int(np.flatnonzero(m)[np.flatnonzero(outside)[0]])
                    raise ValidationError(
                        f"{where}: {int(outside.sum())} row(s) have {xc}/{yc} outside metropolitan Lambert-93 "
                        f"(EPSG:2154), e.g. ({x[i]}, {y[i]}) for {codes[sel].iloc[i]} in {sub[com].iloc[i]}; "
                        "overseas rows need an EPSG column giving their projection")
            try:
                tr = Transformer.from_crs(int(code), 4326, always_xy=True)
            except Exception:
                raise ValidationError(f"{where}: EPSG code {code} in column 'EPSG' is not a known CRS") from None
            lon[m], lat[m] = tr.transform(x[m], y[m])
    bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    lon[bad], lat[bad] = np.nan, np.nan
    gq_col = _pick(cols, ["qualite_geoloc"])
    geoloc = (_objects(sub[gq_col].astype("string").str.strip()) if gq_col else np.array([None] * n, dtype=object))
    random_pos = np.array([g == "33" for g in geoloc], dtype=bool)  # 33: a random position inside the commune
    if random_pos.any():
        warnings.warn(f"{where}: {int(random_pos.sum())} culture equipment row(s) with QUALITE_GEOLOC = 33 (a random "
                      "position inside the commune) dropped", AccessWarning, stacklevel=2)
        lon[random_pos], lat[random_pos] = np.nan, np.nan
    has = ~(np.isnan(lon) | np.isnan(lat))
    _check_lonlat(lon[has], lat[has], where, lonc or "lon", latc or "lat")
    if (~has & ~random_pos).any():
        warnings.warn(f"{where}: {int((~has & ~random_pos).sum())} culture equipment row(s) without coordinates "
                      "(or with unreadable ones) dropped", AccessWarning, stacklevel=2)
    rows = np.flatnonzero(sel)[has]
    ids = [f"bpe-{r + 1}" for r in rows]
    name_col = _pick(cols, ["nomrs", "nom", "name"])
    labels = _objects(codes)[sel][has]
    notes = {k: v[1] for k, v in tax.items()}
    names = (_objects(sub[name_col].astype("string").str.strip())[has] if name_col
             else np.array([notes.get(norm_name(c), c) for c in labels], dtype=object))
    q_col = _pick(cols, ["qualite_xy"])
    extra = {"xy_quality": pd.array(_objects(sub[q_col])[has] if q_col else [pd.NA] * int(has.sum()), dtype="string"),
             "geoloc_quality": pd.array(geoloc[has], dtype="string")}
    out = _venues(ids, names, catv[sel][has], labels, _objects(sub[com].astype("string"))[has], lon[has], lat[has],
                  extra)
    out = out[VENUE_COLUMNS[:-1] + ["xy_quality", "geoloc_quality", "geometry"]]
    return _filter_categories(out, categories, where, bbox)


# ---------------------------------------------------------------------------------------------- EPCI
def read_epci(path, *, layer=None):
    """Read intercommunality (EPCI) polygons.

    Parameters
    ----------
    path : path-like
        GeoJSON (``.geojson.gz`` too), GeoPackage, Shapefile, or a zip of one.
    layer : str, optional
        GeoPackage layer.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id`` (EPCI code, str), ``name``, ``geometry`` (polygons, EPSG:4326).
    """
    import geopandas as gpd
    import shapely

    where = f"EPCI file {str(path)!r}"
    gdf = _read_any(path, "EPCI", layer=layer, geo=True)
    if not isinstance(gdf, gpd.GeoDataFrame) or "geometry" not in gdf:
        raise ValidationError(f"{where} has no geometry; give a GeoJSON/GeoPackage/Shapefile of EPCI polygons")
    cols = _columns(gdf)
    id_col = _pick(cols, ["epci_code", "code_epci", "siren_epci", "siren", "code_siren", "epci", "code", "id"])
    name_col = _pick(cols, ["epci_nom", "nom_epci", "nom", "name", "libelle", "lib_epci", "raison_sociale"],
                     prefix="epci_nom")
    missing = [n for n, c in (("epci_code (or code/siren)", id_col), ("name (nom/epci_nom)", name_col)) if c is None]
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing}. Found: {list(gdf.columns)[:20]}")
    if gdf.crs is None:
        raise ValidationError(f"{where}: the file has no CRS; set it (e.g. gdf.set_crs(2154) for Lambert-93 or 4326) "
                              "or rewrite the file with its CRS")
    if len(gdf) == 0:
        raise ValidationError(f"{where} has no rows")
    b = gdf.total_bounds
    if gdf.crs.is_geographic and (np.abs(b[[0, 2]]).max() > 180 or np.abs(b[[1, 3]]).max() > 90):
        raise ValidationError(f"{where}: declares {gdf.crs.to_string()} but its coordinates ({b.round(1).tolist()}) "
                              "are not degrees: the CRS is wrong (projected data labelled as lon/lat); fix the file")
    ids = gdf[id_col]
    if pd.api.types.is_float_dtype(ids):
        ids = ids.astype("Int64")
    ids = ids.astype("string").str.strip()
    if ids.isna().any() or (ids == "").any():
        raise ValidationError(f"{where}: column {id_col!r} has empty id(s) (rows "
                              f"{(np.flatnonzero((ids.isna() | (ids == '')).to_numpy()) + 1)[:5].tolist()})")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValidationError(f"{where}: column {id_col!r} has duplicate id(s) {_examples(dup.unique())}; dissolve "
                              "the polygons by EPCI first (one row per EPCI)")
    bad = ids[~ids.str.fullmatch(r"\d{9}")]
    if len(bad):
        warnings.warn(f"{where}: {len(bad)} id(s) are not 9-digit EPCI SIREN codes, e.g. {_examples(bad)}",
                      AccessWarning, stacklevel=2)
    geom = gdf.geometry
    empty = geom.isna().to_numpy() | geom.is_empty.to_numpy()
    if empty.any():
        raise ValidationError(f"{where}: EPCI {_examples(ids[empty])} have no geometry; fix or drop them")
    gt = set(geom.geom_type)
    if not gt <= {"Polygon", "MultiPolygon"}:
        raise ValidationError(f"{where}: geometries must be polygons, found {sorted(gt)}")
    invalid = ~geom.is_valid.to_numpy()
    if invalid.any():
        geom = gpd.GeoSeries(shapely.make_valid(geom.to_numpy()), crs=gdf.crs, index=gdf.index)
    out = gpd.GeoDataFrame({"id": ids.to_numpy(), "name": gdf[name_col].astype("string").to_numpy()},
                           geometry=geom.to_numpy(), crs=gdf.crs).to_crs(4326)
    out["id"] = out["id"].astype("string")
    return out


#: loader of each recipe source kind (``osm`` venues: :func:`access.io.osm_venues.read_osm_venues`)
LOADERS = {"filosofi": read_filosofi, "basilic": read_basilic, "bpe": read_bpe, "epci": read_epci}


def combine_venues(primary, *fallbacks, dedup_m: float = 150.0, names=None):
    """Venues of ``primary`` plus those of each fallback that have no venue of the same category within ``dedup_m``
    metres among the venues kept so far (Basilic first, then BPE, then OSM, say).

    Parameters
    ----------
    primary, *fallbacks : GeoDataFrame
        Frames in the venue schema (``id, name, category, type_label, commune, geometry``), EPSG:4326.
    dedup_m : float
        Distance under which a fallback venue of the same category is taken as a duplicate.
    names : list of str, optional
        Source name of each frame (default ``source0, source1, ...``), written in a ``source`` column; ids are
        prefixed ``<source>:`` so that they stay unique across sources.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id, name, category, type_label, commune, source, geometry``.
    """
    import geopandas as gpd
    from scipy.spatial import cKDTree

    frames = [primary, *fallbacks]
    names = list(names) if names is not None else [f"source{i}" for i in range(len(frames))]
    if len(names) != len(frames):
        raise ValidationError(f"combine_venues: {len(frames)} frames but {len(names)} names")
    for nm, f in zip(names, frames):
        missing = [c for c in VENUE_COLUMNS if c not in f.columns]
        if missing:
            raise ValidationError(f"combine_venues: venues {nm!r} lack column(s) {missing}; use the loaders of "
                                  "access.region.sources / access.region.osm_venues")
        if f.crs is None or f.crs.to_epsg() != 4326:
            raise ValidationError(f"combine_venues: venues {nm!r} must be in EPSG:4326, got {f.crs}")
    allpts = pd.concat([f.geometry for f in frames if len(f)]) if any(len(f) for f in frames) else None
    if allpts is None:
        out = primary[VENUE_COLUMNS[:-1]].copy()
        out["source"] = pd.array([], dtype="string")
        return gpd.GeoDataFrame(out, geometry=primary.geometry, crs=4326)
    utm = gpd.GeoSeries(allpts, crs=4326).estimate_utm_crs()
    kept = []
    kept_xy: dict[str, list[np.ndarray]] = {}
    for nm, f in zip(names, frames):
        f = f[VENUE_COLUMNS].copy()
        xy = np.column_stack([f.geometry.to_crs(utm).x.to_numpy(), f.geometry.to_crs(utm).y.to_numpy()]) \
            if len(f) else np.zeros((0, 2))
        keep = np.ones(len(f), bool)
        cats = _objects(f["category"])
        for cat in set(cats):
            m = cats == cat
            prev = kept_xy.get(cat)
            if prev:
                tree = cKDTree(np.vstack(prev))
                d, _ = tree.query(xy[m], k=1)
                keep[np.flatnonzero(m)[d <= dedup_m]] = False
        for cat in set(cats):
            m = (cats == cat) & keep
            kept_xy.setdefault(cat, []).append(xy[m])
        f = f[keep]
        f["id"] = (nm + ":" + f["id"].astype("string")).astype("string")
        f["source"] = pd.array([nm] * len(f), dtype="string")
        kept.append(f)
    out = pd.concat(kept, ignore_index=True)
    out = gpd.GeoDataFrame(out[VENUE_COLUMNS[:-1] + ["source", "geometry"]], geometry="geometry", crs=4326)
    return out
