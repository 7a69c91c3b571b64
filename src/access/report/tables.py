"""Tables and GeoPackage output, written atomically."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from .._errors import ValidationError
from .._io_util import atomic_path

__all__ = ["write_table", "write_geopackage"]


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    if isinstance(df, gpd.GeoDataFrame):
        df = pd.DataFrame(df.drop(columns=df.geometry.name))
    return df


def write_table(df: pd.DataFrame, path, *, formats=("parquet", "csv")) -> list[Path]:
    """Write ``df`` (geometry dropped) as ``<path>.parquet`` and/or ``<path>.csv``; returns the paths written.

    ``path`` is given without suffix (a ``.parquet``/``.csv`` suffix is stripped).
    """
    path = Path(path)
    if path.suffix in (".parquet", ".csv"):
        path = path.with_suffix("")
    df = _plain(df)
    out = []
    for fmt in formats:
        target = path.with_name(path.name + "." + fmt)
        with atomic_path(target, suffix="." + fmt) as tmp:
            if fmt == "parquet":
                df.to_parquet(tmp, index=False)
            elif fmt == "csv":
                df.to_csv(tmp, index=False)
            else:
                raise ValidationError(f"unknown table format {fmt!r}; use 'parquet' or 'csv'")
        out.append(target)
    return out


def write_geopackage(gdf: gpd.GeoDataFrame, path, *, layer: str = "areas") -> Path:
    """Write a GeoDataFrame to a GeoPackage layer (the file is replaced atomically)."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(f"expected a GeoDataFrame, got {type(gdf).__name__}")
    path = Path(path)
    with atomic_path(path, suffix=".gpkg") as tmp:
        tmp.unlink()  # the GPKG driver wants to create the file itself
        gdf.to_file(tmp, layer=layer, driver="GPKG")
    return path
