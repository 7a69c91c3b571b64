"""Outputs: tables (Parquet/CSV), GeoPackage, choropleth PNGs and self-contained interactive HTML maps, all written
atomically; :mod:`access.report.style` names every indicator's title, unit and colours."""

from .interactive import default_layers, interactive_map
from .maps import choropleth_figure, choropleth_png, slug, units_of
from .report import write_area_report
from .style import describe
from .tables import write_geopackage, write_table

__all__ = ["choropleth_figure", "choropleth_png", "default_layers", "describe", "interactive_map", "slug",
           "units_of", "write_area_report", "write_geopackage", "write_table"]
