"""Maps: a choropleth PNG per indicator (matplotlib, Agg backend) and an interactive folium HTML map."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np

from .._errors import ValidationError
from .._io_util import atomic_path

__all__ = ["choropleth_png", "folium_map", "units_of", "slug", "CLASS_COLORS"]

#: fixed colours of the typology classes, so that every map reads the same
CLASS_COLORS = {
    "priority contract zone": "#7b3294",
    "cumulates cultural and social fragility": "#d7191c",
    "cultural fragility": "#fdae61",
    "social fragility": "#abd9e9",
    "no particular stake": "#e0e0e0",
    "insufficient data": "#ffffff",
}
_PALETTE = ["#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3"]


def _category_colors(values) -> dict:
    cats = [c for c in CLASS_COLORS if c in set(values)]
    rest = sorted(set(map(str, values)) - set(cats))
    out = {c: CLASS_COLORS[c] for c in cats}
    out.update({c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(rest)})
    return out

_UNITS = [
    (r"share", "share of population (0-1)"),
    (r"per_10k", "per 10,000 inhabitants"),
    (r"(^|_)time|travel_time|_min$|_mean$|_median$", "minutes"),
    (r"gini|theil|index|ratio|score|fragility", "index (unitless)"),
    (r"population", "inhabitants"),
]


def units_of(column: str) -> str:
    """A unit label guessed from an indicator's name (share, per 10k, minutes, index...)."""
    for pat, unit in _UNITS:
        if re.search(pat, column):
            if unit == "minutes" and not re.search(r"time", column):
                continue
            return unit
    return "count"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "map"


def choropleth_png(gdf: gpd.GeoDataFrame, column: str, path, *, title: str | None = None,
                   units: str | None = None, cmap: str | None = None, dpi: int = 110) -> Path:
    """Draw a choropleth of ``column`` with a legend (colour bar with units), a title; write a PNG atomically.

    Categorical columns (e.g. the typology ``class``) get a categorical legend. Areas with NaN are grey.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if column not in gdf.columns:
        raise ValidationError(f"cannot map {column!r}: not a column ({list(gdf.columns)})")
    path = Path(path)
    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    try:
        g = gdf.to_crs(3857) if gdf.crs is not None and gdf.crs.is_geographic else gdf
        categorical = not np.issubdtype(np.asarray(g[column]).dtype, np.number)
        if categorical:
            from matplotlib.patches import Patch

            vals = g[column].dropna().astype(str)
            colors = _category_colors(vals.unique())
            handles = []
            for cat, col in colors.items():
                sub = g[g[column].astype(str) == cat]
                sub.plot(ax=ax, color=col, edgecolor="#555555", linewidth=0.3)
                handles.append(Patch(facecolor=col, edgecolor="#555555", label=f"{cat} ({len(sub)})"))
            if g[column].isna().any():
                g[g[column].isna()].plot(ax=ax, color="lightgrey", edgecolor="white", linewidth=0.3)
                handles.append(Patch(facecolor="lightgrey", label="no data"))
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8,
                      title=units or column, frameon=False)
        else:
            vals = g[column].astype(float).replace([np.inf, -np.inf], np.nan)
            g = g.assign(**{column: vals})
            g.plot(column=column, ax=ax, legend=True, cmap=cmap or "viridis", edgecolor="white", linewidth=0.3,
                   missing_kwds={"color": "lightgrey", "label": "no data"},
                   legend_kwds={"label": units or units_of(column), "shrink": 0.6})
        ax.set_title(title or column.replace("_", " "), fontsize=12)
        ax.set_axis_off()
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)
    return path


def folium_map(gdf: gpd.GeoDataFrame, path, *, columns: Sequence[str], color_column: str | None = None,
               id_column: str = "id", titles: Mapping[str, str] | None = None, simplify_m: float = 50.0) -> Path:
    """One interactive HTML map: areas coloured by ``color_column`` with a tooltip of ``columns``."""
    import branca.colormap as bcm
    import folium

    if gdf.crs is None:
        raise ValidationError("cannot map areas without a CRS")
    missing = [c for c in [*columns, id_column] if c not in gdf.columns]
    if missing:
        raise ValidationError(f"cannot map: columns {missing} absent ({list(gdf.columns)})")
    g = gdf[[id_column, *[c for c in columns if c != id_column], gdf.geometry.name]].copy()
    if simplify_m:
        g = g.to_crs(3857)
        g["geometry"] = g.geometry.simplify(simplify_m)
    g = g.to_crs(4326)
    for c in columns:
        if np.issubdtype(np.asarray(g[c]).dtype, np.floating):
            g[c] = g[c].astype(float).round(3).replace([np.inf, -np.inf], np.nan)
    minx, miny, maxx, maxy = g.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8, tiles="OpenStreetMap")
    color_column = color_column or next((c for c in columns if np.issubdtype(np.asarray(g[c]).dtype, np.number)),
                                        None)
    style = None
    if color_column is not None and np.issubdtype(np.asarray(g[color_column]).dtype, np.number):
        v = g[color_column].astype(float)
        lo, hi = np.nanmin(v) if v.notna().any() else 0.0, np.nanmax(v) if v.notna().any() else 1.0
        cmap = bcm.linear.viridis.scale(lo, hi if hi > lo else lo + 1)
        cmap.caption = f"{color_column} ({units_of(color_column)})"
        cmap.add_to(m)

        def style(feat, _c=color_column, _m=cmap):
            x = feat["properties"].get(_c)
            col = _m(x) if x is not None and x == x else "#cccccc"
            return {"fillColor": col, "color": "white", "weight": 0.5, "fillOpacity": 0.7}
    elif color_column is not None:
        lut = _category_colors(g[color_column].dropna().astype(str).unique())

        def style(feat, _c=color_column, _l=lut):
            return {"fillColor": _l.get(str(feat["properties"].get(_c)), "#cccccc"), "color": "white",
                    "weight": 0.5, "fillOpacity": 0.7}
    aliases = [html.escape((titles or {}).get(c, c)) for c in [id_column, *columns] if c in g.columns]
    fields = [c for c in [id_column, *columns] if c in g.columns]
    folium.GeoJson(
        g.to_json(na="null"),
        name="areas",
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=list(dict.fromkeys(fields)),
                                      aliases=list(dict.fromkeys(aliases))[:len(dict.fromkeys(fields))],
                                      localize=True, sticky=True),
    ).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    path = Path(path)
    with atomic_path(path, suffix=".html") as tmp:
        m.save(str(tmp))
    return path
