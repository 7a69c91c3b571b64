"""INSEE census housing base by IRIS ("Logement", base infracommunale) and the IRIS contours, and their allocation
to the 200 m cells: the share of households without a car.

:func:`read_census_logement` — INSEE "Base infracommunale (IRIS) — Logement", one vintage (2019, 2020, 2021...)
    Distributed as a zip holding a ``;``-separated CSV (``base-ic-logement-2021.CSV``, next to a
    ``meta_base-ic-logement-2021.CSV`` dictionary) or an Excel workbook (``base-ic-logement-2021.xlsx``, sheet
    ``IRIS``, a few title rows, a row of labels and the row of column codes above the data). The CSV, the XLSX or
    a zip of either is accepted (XLSX needs ``openpyxl``). Columns used (codes of the vintage ``yy``):
    ``IRIS`` (9-character IRIS code: commune code + 4 digits), ``COM`` (commune code), ``Pyy_RP`` (main
    residences = households) and ``Pyy_RP_VOIT1P`` (main residences with at least one car). The vintage is read
    from the column names (``P19_``, ``P20_``, ``P21_``...) or checked against ``vintage=``. Values are INSEE's
    weighted estimates (decimals). Output: ``iris, commune, households, households_car, households_no_car,
    share_no_car`` (``attrs["vintage"]``).

:func:`read_iris_contours` — IRIS polygons
    IGN CONTOURS-IRIS (GeoPackage or Shapefile, EPSG:2154, ``CODE_IRIS``, ``INSEE_COM``, ``NOM_IRIS``), the
    Etalab/OpenDataSoft GeoJSON (``code_iris``), or a zip of one. Output ``iris, commune, geometry`` in EPSG:4326.

:func:`allocate_iris_to_cells` — the IRIS counts split over the cells
    Each IRIS's households (with and without a car) are shared among the cells that fall in it, in proportion to
    ``households`` of the cell (Filosofi ``men``) times the cell's share of area in the IRIS (``method="areal"``:
    a cell straddling two IRIS takes from both) or its centre (``method="centre"``). The IRIS totals are conserved
    exactly over the cells; IRIS without a cell keep their households out of the grid (reported in ``attrs``).
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import AccessWarning, InputFileError, ValidationError
from .sources import _check_path, _read_any, _to_number

__all__ = ["CENSUS_COLUMNS", "allocate_iris_to_cells", "read_census_logement", "read_iris_contours"]

#: the census output columns of :func:`read_census_logement`
CENSUS_COLUMNS = ("iris", "commune", "households", "households_car", "households_no_car", "share_no_car")
_VOIT_RE = re.compile(r"^P(\d\d)_RP_VOIT1P$")
#: IRIS code columns of the contour files, in order of preference (normalised lower case)
_IRIS_ID_COLS = ("code_iris", "iris", "dcomiris", "code_iris_2", "iris_code")
_IRIS_COM_COLS = ("insee_com", "code_insee", "com", "depcom", "code_com", "insee_commune")


def _normalise_codes(s: pd.Series, width: int) -> pd.Series:
    """Codes as strings: numbers read from Excel (``10010000.0``) lose leading zeros; pad them back."""
    t = s.astype("string").str.strip()
    t = t.str.replace(r"\.0+$", "", regex=True)
    num = t.str.fullmatch(r"\d+").fillna(False)
    t = t.where(~num, t.str.zfill(width))
    return t


def _xlsx_frame(data: bytes, where: str) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise InputFileError(f"{where} is an Excel workbook and reading it needs openpyxl: `pip install openpyxl` "
                             "(or give the CSV version of the base, base-ic-logement-YYYY_csv.zip)") from None
    book = pd.read_excel(io.BytesIO(data), sheet_name=None, header=None, dtype=str)
    names = list(book)
    sheet = next((n for n in names if n.strip().upper() == "IRIS"), names[0] if names else None)
    if sheet is None:
        raise InputFileError(f"{where} has no sheet")
    raw = book[sheet]
    head = None
    for r in range(min(20, len(raw))):
        vals = [str(v).strip() for v in raw.iloc[r].tolist() if isinstance(v, str)]
        if "IRIS" in vals and any(_VOIT_RE.match(v) for v in vals):
            head = r
            break
    if head is None:
        raise ValidationError(f"{where}, sheet {sheet!r}: no header row with the codes 'IRIS' and 'Pyy_RP_VOIT1P' "
                              "in its first 20 rows; is this INSEE's base-ic-logement workbook?")
    df = raw.iloc[head + 1:].reset_index(drop=True)
    df.columns = [str(v).strip() for v in raw.iloc[head].tolist()]
    return df.dropna(how="all")


def _census_frame(path: Path, where: str) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.namelist() if not m.endswith("/")]
            data = [m for m in members if m.lower().endswith((".csv", ".xlsx", ".txt"))
                    and not Path(m).name.lower().startswith(("meta", "doc"))]
            if not data:
                raise InputFileError(f"{where} holds no data CSV/XLSX (members: {members[:8]}); expected "
                                     "base-ic-logement-YYYY.CSV or .xlsx")
            member = min(data, key=lambda m: (not Path(m).name.lower().startswith("base-ic"), m))
            raw = z.read(member)
        if member.lower().endswith(".xlsx"):
            return _xlsx_frame(raw, f"{where} (member {member!r})")
        for enc in ("utf-8-sig", "cp1252"):
            try:
                txt = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InputFileError(f"{where} (member {member!r}) is neither UTF-8 nor CP1252 text")
        first = txt.split("\n", 1)[0]
        sep = ";" if first.count(";") >= first.count(",") else ","
        return pd.read_csv(io.StringIO(txt), sep=sep, dtype=str, keep_default_na=False, na_values=[""])
    if name.endswith(".xlsx"):
        return _xlsx_frame(path.read_bytes(), where)
    return _read_any(path, "census housing base")


def read_census_logement(path, *, vintage: int | None = None) -> pd.DataFrame:
    """Read INSEE's census housing base by IRIS: households with and without a car per IRIS.

    Parameters
    ----------
    path : path-like
        ``base-ic-logement-YYYY.CSV`` (``;``), ``.xlsx``, or the zip INSEE distributes (see the module docstring).
    vintage : int, optional
        Census year (e.g. 2021): the columns ``P21_RP`` and ``P21_RP_VOIT1P`` must be there. Default: read from
        the ``Pyy_RP_VOIT1P`` column of the file.

    Returns
    -------
    pandas.DataFrame
        :data:`CENSUS_COLUMNS`, one row per IRIS; ``attrs["vintage"]`` holds the year.

    Examples
    --------
    >>> census = read_census_logement("base-ic-logement-2021_csv.zip")  # doctest: +SKIP
    >>> census.attrs["vintage"]  # doctest: +SKIP
    2021
    """
    path = _check_path(path, "census housing base")
    where = f"census housing base {str(path)!r}"
    try:
        df = _census_frame(path, where)
    except (InputFileError, ValidationError):
        raise
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise InputFileError(f"{where} cannot be read: {e}") from None
    cols = {str(c).strip().upper(): c for c in df.columns}
    found = sorted(int(m.group(1)) for c in cols if (m := _VOIT_RE.match(c)))
    if vintage is not None:
        if not isinstance(vintage, (int, np.integer)) or not 1990 <= int(vintage) <= 2099:
            raise ValidationError(f"`vintage` must be a census year such as 2021, got {vintage!r}")
        yy = int(vintage) % 100
    elif len(found) == 1:
        yy = found[0]
    elif not found:
        raise ValidationError(f"{where}: no column 'Pyy_RP_VOIT1P' (main residences with a car); expected INSEE's "
                              "base-ic-logement codes such as P21_RP and P21_RP_VOIT1P. Found: "
                              f"{list(df.columns)[:15]}")
    else:
        raise ValidationError(f"{where}: several vintages {[f'P{y:02d}_' for y in found]}; pass `vintage=`")
    rp, voit = f"P{yy:02d}_RP", f"P{yy:02d}_RP_VOIT1P"
    missing = [c for c in ("IRIS", rp, voit) if c not in cols]
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing} for vintage 20{yy:02d}; the file's vintages: "
                              f"{[f'20{y:02d}' for y in found] or 'none'}. Give the right `vintage` or file")
    iris = _normalise_codes(df[cols["IRIS"]], 9)
    if iris.isna().any():
        i = int(np.flatnonzero(iris.isna().to_numpy())[0])
        raise ValidationError(f"{where}: column 'IRIS' is empty at data row {i + 1}")
    dup = iris[iris.duplicated()]
    if len(dup):
        raise ValidationError(f"{where}: IRIS {dup.iloc[0]!r} appears {int((iris == dup.iloc[0]).sum())} times; "
                              "each IRIS must appear once (two vintages or files concatenated?)")
    hh = _to_number(df[cols[rp]], rp, where).fillna(0.0)
    car = _to_number(df[cols[voit]], voit, where).fillna(0.0)
    for name, v in ((rp, hh), (voit, car)):
        if (v < 0).any():
            i = int(np.flatnonzero((v < 0).to_numpy())[0])
            raise ValidationError(f"{where}: column {name!r} is negative ({v.iloc[i]}) for IRIS {iris.iloc[i]}")
    over = car > hh + 1e-6 * np.maximum(1.0, hh)
    if over.any():
        i = int(np.flatnonzero(over.to_numpy())[0])
        raise ValidationError(f"{where}: IRIS {iris.iloc[i]}: {voit} ({car.iloc[i]}) exceeds {rp} ({hh.iloc[i]}); "
                              "main residences with a car are a subset of the main residences: check the columns")
    car = np.minimum(car, hh)  # type: ignore[assignment]  # a Series (pandas-stubs lacks Series.__array_ufunc__)
    com = (_normalise_codes(df[cols["COM"]], 5) if "COM" in cols else iris.str.slice(0, 5))
    no_car = (hh - car).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(hh.to_numpy() > 0, no_car / hh.to_numpy(), np.nan)
    out = pd.DataFrame({"iris": iris.to_numpy(dtype=object), "commune": com.to_numpy(dtype=object),
                        "households": hh.to_numpy(float), "households_car": car.to_numpy(float),
                        "households_no_car": no_car, "share_no_car": share})
    out.attrs["vintage"] = 2000 + yy
    return out


def read_iris_contours(path, *, layer=None, bbox=None):
    """Read IRIS polygons (IGN CONTOURS-IRIS ``CODE_IRIS`` or Etalab ``code_iris``) into ``iris, commune,
    geometry`` (EPSG:4326).

    Parameters
    ----------
    path : path-like
        GeoPackage, Shapefile (IGN's ``CONTOURS-IRIS.shp`` of the Lambert-93 territory, taken out of the ``.7z``
        by ``access fetch``), GeoJSON or a zip of one.
    layer : str, optional
        GeoPackage layer (default: the first).
    bbox : (lon_min, lat_min, lon_max, lat_max), optional
        Read only the IRIS meeting this box (GeoPackage and Shapefile: the box is taken to the file's CRS, so only
        the region's part of the national file is read).

    Returns
    -------
    geopandas.GeoDataFrame
    """
    import geopandas as gpd

    from .sources import _columns, _pick

    where = f"IRIS contours {str(path)!r}"
    g = _read_any(path, "IRIS contours", layer=layer, geo=True, bbox_4326=bbox)
    if bbox is not None and isinstance(g, gpd.GeoDataFrame) and len(g) == 0:  # no IRIS in the box
        return gpd.GeoDataFrame({"iris": pd.Series([], dtype=object), "commune": pd.Series([], dtype=object)},
                                geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    if not isinstance(g, gpd.GeoDataFrame) or g.geometry.isna().all():
        raise ValidationError(f"{where}: no geometries; expected IGN CONTOURS-IRIS polygons (GeoPackage/Shapefile) "
                              "or the Etalab GeoJSON")
    if g.crs is None:
        raise ValidationError(f"{where}: the geometries have no CRS; IGN CONTOURS-IRIS is in EPSG:2154 (Lambert-93): "
                              "set it or rewrite the file with its CRS")
    cols = _columns(g)
    idc = _pick(cols, _IRIS_ID_COLS)
    if idc is None:
        raise ValidationError(f"{where}: no IRIS code column ({', '.join(c.upper() for c in _IRIS_ID_COLS[:3])}); "
                              f"found {list(g.columns)[:15]}")
    iris = _normalise_codes(g[idc], 9)
    if iris.isna().any():
        i = int(np.flatnonzero(iris.isna().to_numpy())[0])
        raise ValidationError(f"{where}: column {idc!r} is empty at feature {i + 1}")
    comc = _pick(cols, _IRIS_COM_COLS)
    com = _normalise_codes(g[comc], 5) if comc else iris.str.slice(0, 5)
    out = gpd.GeoDataFrame({"iris": iris.to_numpy(dtype=object), "commune": com.to_numpy(dtype=object)},
                           geometry=g.geometry.values, crs=g.crs).to_crs(4326)
    if out["iris"].duplicated().any():  # an IRIS in several parts stored as several features: dissolve
        out = out.dissolve(by="iris", as_index=False, aggfunc="first")[["iris", "commune", "geometry"]]
    return out


def _cell_squares_3035(cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 3035, always_xy=True).transform(cells.geometry.x.to_numpy(float),
                                                                      cells.geometry.y.to_numpy(float))
    size = (cells["cell_size_m"].to_numpy(float) if "cell_size_m" in cells.columns
            else np.full(len(cells), 200.0))
    return np.asarray(x), np.asarray(y), size


def allocate_iris_to_cells(cells, census: pd.DataFrame, contours, *, method: str = "areal") -> pd.DataFrame:
    """Share each IRIS's households with and without a car among the cells in it.

    Parameters
    ----------
    cells : GeoDataFrame
        Cell centres (EPSG:4326 points) with ``id``, ``households`` (weights; Filosofi ``men``) and optionally
        ``cell_size_m`` (default 200).
    census : DataFrame
        :func:`read_census_logement`.
    contours : GeoDataFrame
        :func:`read_iris_contours`.
    method : {"areal", "centre"}
        ``areal``: weight = households x share of the cell's square inside the IRIS; ``centre``: the IRIS holding the
        cell's centre takes the cell whole.

    Returns
    -------
    DataFrame
        ``id, census_households, households_no_car, share_no_car`` (NaN where no IRIS covers the cell), one row per
        cell in the order of ``cells``. ``attrs``: ``households_in_cells``, ``households_outside`` (IRIS with no
        cell), ``iris_without_contour``, ``cells_without_iris``, ``vintage``.
    """
    import shapely

    if method not in ("areal", "centre"):
        raise ValidationError(f"`method` must be 'areal' or 'centre', got {method!r}")
    for c in ("id", "households"):
        if c not in cells.columns:
            raise ValidationError(f"`cells` has no column {c!r}; give the Filosofi cells (read_filosofi)")
    n = len(cells)
    cen = census.set_index("iris")
    known = contours[contours["iris"].isin(cen.index)].reset_index(drop=True)
    no_contour = sorted(set(cen.index) - set(contours["iris"]))
    if no_contour:
        warnings.warn(f"{len(no_contour)} IRIS of the census base have no contour (e.g. {no_contour[:3]}): their "
                      "households are not allocated; are the contours of the same IRIS vintage?", AccessWarning,
                      stacklevel=2)
    x, y, size = _cell_squares_3035(cells)
    poly = known.to_crs(3035).geometry.values
    hh_cell = np.maximum(np.nan_to_num(cells["households"].to_numpy(float)), 0.0)
    if method == "centre":
        tree = shapely.STRtree(poly)
        ci, ki = tree.query(shapely.points(x, y), predicate="intersects")
        order = np.lexsort((ki, ci))
        ci, ki = ci[order], ki[order]
        first = np.ones(len(ci), bool)
        first[1:] = ci[1:] != ci[:-1]  # a centre on a shared border goes to the first IRIS
        ci, ki = ci[first], ki[first]
        frac = np.ones(len(ci))
    else:
        sq = shapely.box(x - size / 2, y - size / 2, x + size / 2, y + size / 2)
        tree = shapely.STRtree(poly)
        ci, ki = tree.query(sq, predicate="intersects")
        frac = shapely.area(shapely.intersection(sq[ci], poly[ki])) / (size[ci] ** 2)
        keep = frac > 1e-9
        ci, ki, frac = ci[keep], ki[keep], frac[keep]
    w = frac * hh_cell[ci]
    nk = len(known)
    wsum = np.bincount(ki, weights=w, minlength=nk)
    fsum = np.bincount(ki, weights=frac, minlength=nk)
    # an IRIS whose cells have no household at all spreads by area alone (its households are still conserved)
    use_frac = (wsum <= 0) & (fsum > 0)
    w = np.where(use_frac[ki], frac, w)
    wsum = np.where(use_frac, fsum, wsum)
    k_iris = known["iris"].to_numpy(dtype=object)
    rp = cen["households"].reindex(k_iris).to_numpy(float)
    nocar = cen["households_no_car"].reindex(k_iris).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(wsum[ki] > 0, w / wsum[ki], 0.0)
    alloc_hh = np.bincount(ci, weights=part * rp[ki], minlength=n)
    alloc_nc = np.bincount(ci, weights=part * nocar[ki], minlength=n)
    covered = np.bincount(ci, minlength=n) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(covered & (alloc_hh > 0), alloc_nc / alloc_hh, np.nan)
    out = pd.DataFrame({"id": cells["id"].astype(str).to_numpy(dtype=object),
                        "census_households": np.where(covered, alloc_hh, np.nan),
                        "households_no_car": np.where(covered, alloc_nc, np.nan), "share_no_car": share})
    used = np.zeros(nk, bool)
    used[np.unique(ki)] = True
    out.attrs.update(households_in_cells=float(rp[used].sum()), households_outside=float(rp[~used].sum()),
                     iris_without_contour=len(no_contour), cells_without_iris=int((~covered).sum()),
                     vintage=census.attrs.get("vintage"))
    if (~covered).any():
        warnings.warn(f"{int((~covered).sum())} of {n} cells lie in no IRIS of the census base: their share without a "
                      "car is NaN", AccessWarning, stacklevel=2)
    return out


def read_filosofi_barrier_counts(path, *, layer=None) -> pd.DataFrame:
    """The Filosofi counts behind the barrier profile (``i_est_200, ind, men, men_pauv, men_1ind, men_fmp,
    men_prop, log_soc`` and the age bands), by cell ``id``, read by name from the grid file: the columns that
    :func:`access.region.sources.read_filosofi` does not keep (yet). Missing columns are simply absent."""
    from ..indicators.barriers import FILOSOFI_BARRIER_COLUMNS
    from .sources import _columns, _pick

    ids = ("idcar_200m", "idcar_1km", "idinspire", "id_carr_1k")
    df = _read_any(path, "Filosofi grid", layer=layer, keep=set(ids) | set(FILOSOFI_BARRIER_COLUMNS))
    cols = _columns(df)
    idc = _pick(cols, list(ids))
    if idc is None:
        raise ValidationError(f"Filosofi grid {str(path)!r}: no cell id column (Idcar_200m or Idcar_1km)")
    out = pd.DataFrame({"id": df[idc].astype("string").str.strip().to_numpy(dtype=object)})
    for c in FILOSOFI_BARRIER_COLUMNS:
        if c in cols:
            out[c] = _to_number(df[cols[c]], cols[c], f"Filosofi grid {str(path)!r}").to_numpy(float)
    return out
