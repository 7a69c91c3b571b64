"""One call that writes every output of an area table: tables, GeoPackage, PNG per indicator, HTML map."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np

from .interactive import default_layers, interactive_map
from .maps import choropleth_png, slug
from .tables import write_geopackage, write_table

__all__ = ["write_area_report"]


def write_area_report(areas: gpd.GeoDataFrame, out_dir, *, id_column: str = "id", name: str = "areas",
                      map_columns: Sequence[str] | None = None, tooltip_columns: Sequence[str] | None = None,
                      layers: Sequence[str] | None = None, title: str | None = None,
                      progress: bool = False) -> dict[str, list[Path]]:
    """Write ``<name>.parquet``, ``<name>.csv``, ``<name>.gpkg``, ``maps/<column>.png`` and ``<name>_map.html``.

    ``map_columns`` (the PNGs) defaults to every numeric indicator column (z-scores excluded) plus ``class`` when
    present. The HTML map switches between ``layers`` (default :func:`~access.report.interactive.default_layers`
    of the table's columns, else the map columns); its tooltips add ``tooltip_columns`` (default population, class
    and priority zone). Returns the paths written, by kind.
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
        written["png"].append(choropleth_png(areas, c, out / "maps" / f"{slug(c)}.png"))
    lay = list(layers) if layers is not None else (default_layers(areas.columns) or cols)
    hover = None
    if tooltip_columns is not None:
        hover = [c for c in tooltip_columns if c in areas.columns and c not in (id_column, "name")][:8]
        hover = list(dict.fromkeys([*(c for c in ("population", "class", "priority_zone") if c in areas.columns),
                                    *hover]))
    written["html"].append(interactive_map(areas, out / f"{name}_map.html", layers=lay, id_column=id_column,
                                           hover_columns=hover, title=title))
    return written
