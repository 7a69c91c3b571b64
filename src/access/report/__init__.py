"""Outputs: tables (Parquet/CSV), GeoPackage, choropleth PNGs and an interactive HTML map, all written atomically."""

from .maps import choropleth_png, folium_map, slug, units_of
from .report import write_area_report
from .tables import write_geopackage, write_table

__all__ = ["choropleth_png", "folium_map", "slug", "units_of", "write_area_report", "write_geopackage",
           "write_table"]
