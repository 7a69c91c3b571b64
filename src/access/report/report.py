"""One call that writes every output of an area table: tables, GeoPackage, PNG per indicator, HTML map."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np

from .maps import choropleth_png, folium_map, slug, units_of
from .tables import write_geopackage, write_table

__all__ = ["write_area_report"]


def write_area_report(areas: gpd.GeoDataFrame, out_dir, *, id_column: str = "id", name: str = "areas",
                      map_columns: Sequence[str] | None = None, tooltip_columns: Sequence[str] | None = None,
                      progress: bool = False) -> dict[str, list[Path]]:
    """Write ``<name>.parquet``, ``<name>.csv``, ``<name>.gpkg``, ``maps/<column>.png`` and ``<name>_map.html``.

    ``map_columns`` defaults to every numeric indicator column (z-scores excluded) plus ``class`` when present.
    Returns the paths written, by kind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {"tables": [], "gpkg": [], "png": [], "html": []}
    written["tables"] += write_table(areas, out / name)
    written["gpkg"].append(write_geopackage(areas, out / f"{name}.gpkg", layer=name))
    if map_columns is None:
        map_columns = [c for c in areas.columns if c not in (id_column, areas.geometry.name)
                       and not c.startswith("z_") and np.issubdtype(np.asarray(areas[c]).dtype, np.number)]
        if "class" in areas.columns:
            map_columns.append("class")
    cols = list(map_columns)
    it = cols
    if progress:
        from tqdm import tqdm

        it = tqdm(cols, desc="maps", unit="map")
    for c in it:
        title = c.replace("_", " ")
        written["png"].append(choropleth_png(areas, c, out / "maps" / f"{slug(c)}.png", title=title,
                                             units=None if c == "class" else units_of(c)))
    tips = list(tooltip_columns) if tooltip_columns is not None else cols[:12]
    color = "class" if "class" in areas.columns else (cols[0] if cols else None)
    written["html"].append(folium_map(areas, out / f"{name}_map.html", columns=tips, color_column=color,
                                      id_column=id_column))
    return written
