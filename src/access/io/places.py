"""Origins, destinations and other point sets from GeoDataFrames or files, with id and CRS checks.

Accepted: a ``GeoDataFrame`` (points, or polygons: their centroids are used), a ``DataFrame`` with ``lon``/``lat``
columns, or a path to a GeoPackage, GeoJSON, (Geo)Parquet or CSV (``id, lon, lat``) file.

Ids read from a CSV file are strings (``"01001"`` stays ``"01001"``); the separator (``,`` ``;`` tab ``|``) is
detected from the header. Ids of mixed types (some numbers, some strings) are turned into strings, with a warning.
Where a table has both ``lon``/``lat`` and ``x``/``y`` columns, valid longitude/latitude degrees win.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import AccessWarning, InputFileError, ValidationError

LON_NAMES = ("lon", "longitude", "lng", "long", "x")
LAT_NAMES = ("lat", "latitude", "lat", "lat", "y")


@dataclass(frozen=True)
class Points:
    """Validated points: user ``ids`` (numpy array), ``lon``/``lat`` float64 (EPSG:4326), the source table."""

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    frame: pd.DataFrame | None
    name: str

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def _read_file(path: Path, name: str, id_column: str = "id"):
    import geopandas as gpd

    if not path.exists():
        raise InputFileError(f"`{name}` file {str(path)!r} does not exist")
    suf = path.suffix.lower()
    try:
        if suf == ".csv":
            return _read_csv(path, name, id_column)
        if suf in (".parquet", ".geoparquet", ".pq"):
            try:
                return gpd.read_parquet(path)
            except (ValueError, KeyError):
                return pd.read_parquet(path)
        if suf in (".gpkg", ".geojson", ".json", ".shp", ".fgb"):
            return gpd.read_file(path)
    except InputFileError:
        raise
    except Exception as e:  # corrupt GeoPackage/Parquet: pyogrio, pyarrow and sqlite raise their own classes
        raise InputFileError(f"cannot read `{name}` file {str(path)!r} ({type(e).__name__}: {e}); is it a valid "
                             f"{suf.lstrip('.') or 'data'} file? re-export it") from None
    raise InputFileError(f"`{name}` file {str(path)!r}: unknown format {suf!r}; use .gpkg, .geojson, .parquet or "
                         ".csv with id, lon, lat columns")


def _read_csv(path: Path, name: str, id_column: str = "id") -> pd.DataFrame:
    """A CSV whose id column is read as text (leading zeros kept), the separator sniffed from the header."""
    with open(path, "rb") as f:
        first = f.read(4096)
    encoding = "utf-16" if first[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"  # Excel's "Unicode text"
    if encoding == "utf-8-sig" and b"\x00" in first:
        raise InputFileError(f"`{name}` file {str(path)!r} is not a text CSV file (it holds binary data); export the "
                             "points as CSV (UTF-8) with id, lon, lat columns, or give a .gpkg/.parquet file")
    head = first.decode(encoding, errors="replace").splitlines()[0] if first.strip() else ""
    if not head.strip():
        raise InputFileError(f"`{name}` file {str(path)!r} is empty; it needs a header line such as id,lon,lat")
    counts = {sep: head.count(sep) for sep in (",", ";", "\t", "|")}
    sep = max(counts, key=lambda k: counts[k]) if max(counts.values()) else ","
    try:
        try:
            df = pd.read_csv(path, sep=sep, dtype={id_column: str}, encoding=encoding, skipinitialspace=True)
        except UnicodeDecodeError:
            df = pd.read_csv(path, sep=sep, dtype={id_column: str}, encoding="latin-1", skipinitialspace=True)
    except pd.errors.ParserError as e:
        raise InputFileError(f"`{name}` file {str(path)!r} cannot be parsed as CSV ({e}); check the separator and "
                             "the quoting") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _coordinate_columns(obj: pd.DataFrame):
    """The (lon, lat) columns: the first pair by name priority whose values are valid degrees, else the first."""
    lower = {str(c).lower(): c for c in obj.columns}
    pairs = [(lower[a], lower[b]) for a, b in zip(LON_NAMES, LAT_NAMES) if a in lower and b in lower]
    pairs = list(dict.fromkeys(pairs))
    for lonc, latc in pairs:
        lon = pd.to_numeric(obj[lonc], errors="coerce").to_numpy(np.float64)
        lat = pd.to_numeric(obj[latc], errors="coerce").to_numpy(np.float64)
        if np.isfinite(lon).all() and np.isfinite(lat).all() and (np.abs(lon) <= 180).all() \
                and (np.abs(lat) <= 90).all():
            return lonc, latc
    return pairs[0] if pairs else (None, None)


def _normalise_ids(ids: pd.Series, name: str, src: str) -> pd.Series:
    """Ids of one kind: mixed numbers and strings become strings (with a warning)."""
    if ids.dtype != object:
        return ids
    kinds = {type(v).__name__ for v in ids.iloc[:100_000]}
    kinds = {"str" if k == "str_" else k for k in kinds}
    if len(kinds) > 1:
        import warnings

        warnings.warn(f"`{name}`{src}: ids of mixed types {sorted(kinds)}; all read as strings", AccessWarning,
                      stacklevel=3)
        return ids.map(str)
    return ids


def read_points(obj, *, name: str = "points", id_column: str = "id") -> Points:
    """Validate and convert ``obj`` to :class:`Points`.

    Errors (``ValidationError``) name the argument and the fix: no id column, missing or duplicate ids,
    no geometry, unknown CRS, empty set, non-finite coordinates.
    """
    import geopandas as gpd

    src = ""
    if isinstance(obj, (str, Path)):
        src = f" (file {str(obj)!r})"
        obj = _read_file(Path(obj), name, id_column)
    if not isinstance(obj, pd.DataFrame):
        raise ValidationError(f"`{name}` must be a GeoDataFrame, a DataFrame with lon/lat, or a file path; "
                              f"got {type(obj).__name__}")
    if len(obj) == 0:
        raise ValidationError(f"`{name}`{src} is empty: give at least one point")
    if id_column not in obj.columns:
        raise ValidationError(f"`{name}`{src} has no {id_column!r} column (columns: {list(obj.columns)[:12]}); "
                              f"add one with a unique id per row")
    ids = _normalise_ids(obj[id_column], name, src)
    if ids.isna().any():
        bad = np.flatnonzero(ids.isna().to_numpy())[:5].tolist()
        raise ValidationError(f"`{name}`{src} has {int(ids.isna().sum())} missing ids in column {id_column!r} "
                              f"(rows {bad}); every row needs an id")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValidationError(f"`{name}`{src} has {len(dup)} duplicate ids in column {id_column!r}, "
                              f"e.g. {dup.iloc[:3].tolist()!r}; ids must be unique")
    lonc = latc = None
    if isinstance(obj, gpd.GeoDataFrame) and obj.geometry.name in obj.columns:
        gdf = obj
        if gdf.crs is None:
            raise ValidationError(f"`{name}`{src} has no CRS; set it, e.g. gdf.set_crs('EPSG:4326')")
        if gdf.geometry.isna().any() or gdf.geometry.is_empty.any():
            bad = ids[(gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()].iloc[:5].tolist()
            raise ValidationError(f"`{name}`{src} has rows without geometry, ids {bad!r}")
        geom = gdf.geometry
        if not (geom.geom_type == "Point").all():
            # polygons (grid cells): centroids computed in an equal-area projection
            geom = geom.to_crs("EPSG:3035" if gdf.crs.is_geographic else gdf.crs).centroid.set_crs(
                "EPSG:3035" if gdf.crs.is_geographic else gdf.crs, allow_override=True)
        geom = geom.to_crs("EPSG:4326")
        lon, lat = geom.x.to_numpy(np.float64), geom.y.to_numpy(np.float64)
    else:
        lonc, latc = _coordinate_columns(obj)
        if lonc is None or latc is None:
            raise ValidationError(f"`{name}`{src} has no geometry and no lon/lat columns (columns: "
                                  f"{list(obj.columns)[:12]}); give a GeoDataFrame or columns 'lon' and 'lat' "
                                  "in degrees (EPSG:4326)")
        lon = pd.to_numeric(obj[lonc], errors="coerce").to_numpy(np.float64)
        lat = pd.to_numeric(obj[latc], errors="coerce").to_numpy(np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        ex = ids[bad].iloc[:5].tolist()
        hint = ""
        if lonc is not None and latc is not None:  # decimal commas ('2,35' in a ;-separated file) are text, not numbers
            raw = pd.concat([obj[lonc], obj[latc]]).astype(str)
            comma = raw[raw.str.fullmatch(r"\s*-?\d+,\d+\s*")]
            if len(comma):
                hint = f"; decimal commas such as {comma.iloc[0].strip()!r} are not numbers: write decimal points"
        raise ValidationError(f"`{name}`{src} has {int(bad.sum())} rows with missing or out-of-range coordinates, "
                              f"ids {ex!r}; coordinates must be lon/lat degrees (or give a GeoDataFrame with its CRS)"
                              f"{hint}")
    return Points(ids=ids.to_numpy(), lon=lon, lat=lat, frame=obj, name=name)
