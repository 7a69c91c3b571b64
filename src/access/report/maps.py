"""PNG choropleths: one per indicator, labelled from :mod:`access.report.style` (units, direction, fixed limits).

Drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas (no ``matplotlib.use``, no pyplot state), so a
library call never changes the caller's backend. :func:`choropleth_figure` returns the figure (tests read its colour
limits and labels); :func:`choropleth_png` writes it atomically.

Conventions: worse is warmer on every map; shares run from 0 to 100 %; deltas use a diverging scale centred on 0
with exact zeros (nothing changed) in neutral grey; a map whose values are all equal says so in its title and draws
no colour bar; the most populated area is labelled; a scale bar in kilometres.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from .._errors import ValidationError
from .._io_util import atomic_path
from .style import CLASS_COLORS, NEUTRAL_GREY, NO_DATA_GREY, IndicatorStyle, describe

__all__ = ["choropleth_png", "choropleth_figure", "units_of", "slug", "CLASS_COLORS"]

_PALETTE = ["#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3"]


def _category_colors(values) -> dict:
    cats = [c for c in CLASS_COLORS if c in set(values)]
    rest = sorted(set(map(str, values)) - set(cats))
    out = {c: CLASS_COLORS[c] for c in cats}
    out.update({c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(rest)})
    return out


def units_of(column: str) -> str:
    """The unit of an indicator column, from :func:`access.report.style.describe`."""
    return describe(column).unit


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("_") or "map"


def _nice_length_km(span_km: float) -> float:
    target = max(span_km / 5.0, 1e-3)
    e = 10 ** math.floor(math.log10(target))
    return max(f * e for f in (1, 2, 5) if f * e <= target) if target >= e else e


def _scale_bar(ax, g: gpd.GeoDataFrame) -> None:
    """A scale bar in km at the lower left (the map is drawn in a metric CRS)."""
    x0, y0, x1, y1 = g.total_bounds
    if not np.all(np.isfinite([x0, y0, x1, y1])) or x1 <= x0:
        return
    # Web Mercator stretches lengths by 1/cos(latitude): measure the bar at the map's centre
    k = 1.0
    if g.crs is not None and g.crs.to_epsg() == 3857:
        lat = math.degrees(math.atan(math.sinh((y0 + y1) / 2 / 6378137.0)))
        k = 1.0 / math.cos(math.radians(lat))
    span_km = (x1 - x0) / k / 1000.0
    length = _nice_length_km(span_km)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.03 * (y1 - y0)
    w = length * 1000.0 * k
    ax.plot([bx, bx + w], [by, by], color="black", linewidth=3, solid_capstyle="butt", zorder=5)
    ax.text(bx + w / 2, by + 0.015 * (y1 - y0), f"{length:g} km", ha="center", va="bottom", fontsize=8, zorder=5)


def _label_largest(ax, g: gpd.GeoDataFrame, name_column: str | None) -> None:
    if name_column is None or name_column not in g.columns or len(g) == 0:
        return
    if not g.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        return
    weight = g["population"].astype(float) if "population" in g.columns else g.geometry.area
    i = int(np.nanargmax(weight.fillna(-1).to_numpy()))
    p = g.geometry.iloc[i].representative_point()
    ax.annotate(str(g[name_column].iloc[i]), (p.x, p.y), ha="center", va="center", fontsize=7, zorder=6,
                bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="#555555", lw=0.5, alpha=0.85))


def _plot(g: gpd.GeoDataFrame, ax, colors, *, edge: str = "#ffffff") -> None:
    if len(g) == 0:
        return
    if g.geom_type.isin(["Point", "MultiPoint"]).all():
        g.plot(ax=ax, color=colors, markersize=6, linewidth=0)
    else:
        g.plot(ax=ax, color=colors, edgecolor=edge, linewidth=0.4)


def choropleth_figure(gdf: gpd.GeoDataFrame, column: str, *, title: str | None = None, units: str | None = None,
                      cmap: str | None = None, name_column: str | None = "name",
                      priority_column: str | None = "priority_zone") -> Any:
    """A :class:`matplotlib.figure.Figure` of ``column`` (see the module docstring for the conventions).

    The figure's attribute ``access_info`` records what was drawn: ``style`` (the :class:`IndicatorStyle`),
    ``vmin``/``vmax`` (colour limits, in shown units: % for shares), ``constant`` (bool), ``legend`` (title of the
    colour bar or legend) and ``title``.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, TwoSlopeNorm, to_hex
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if column not in gdf.columns:
        raise ValidationError(f"cannot map {column!r}: not a column ({list(gdf.columns)})")
    if gdf.crs is None:
        raise ValidationError(f"cannot map {column!r}: the table has no CRS; set one with .set_crs(...)")
    st: IndicatorStyle = describe(column)
    g = gdf.to_crs(3857) if gdf.crs.is_geographic else gdf
    fig = Figure(figsize=(7.5, 7.5))
    ax = fig.add_subplot(1, 1, 1)
    info: dict[str, Any] = {"style": st, "vmin": None, "vmax": None, "constant": False}
    the_title = title or st.title
    categorical = not np.issubdtype(np.asarray(g[column]).dtype, np.number)
    if categorical:
        vals = g[column].astype("string")
        colors = _category_colors(vals.dropna().unique())
        handles = []
        for cat, col in colors.items():
            sub = g[(vals == cat).fillna(False).to_numpy()]
            _plot(sub, ax, col, edge="#555555")
            handles.append(Patch(facecolor=col, edgecolor="#555555", label=f"{cat} ({len(sub)})"))
        if vals.isna().any():
            _plot(g[vals.isna().to_numpy()], ax, NO_DATA_GREY, edge="#555555")
            handles.append(Patch(facecolor=NO_DATA_GREY, edgecolor="#555555", label="no data"))
        info["legend"] = units or ("typology class (number of areas)" if column == "class" else column)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8,
                  title=info["legend"], frameon=False)
    else:
        raw = g[column].astype(float).replace([np.inf, -np.inf], np.nan).to_numpy()
        shown = raw * st.scale
        ok = np.isfinite(shown)
        cm = colormaps[cmap or st.cmap]
        legend = units or st.legend
        if st.diverging:
            zero = ok & (shown == 0.0)
            nz = ok & ~zero
            m = float(np.nanmax(np.abs(shown[nz]))) if nz.any() else 1.0
            norm: Normalize = TwoSlopeNorm(vcenter=0.0, vmin=-m, vmax=m)
            info.update(vmin=-m, vmax=m, zeros=int(zero.sum()))
            if not nz.any():
                info["constant"] = True
                the_title += " — no change anywhere"
        elif st.limits is not None:
            lo, hi = st.limits[0] * st.scale, st.limits[1] * st.scale
            norm = Normalize(lo, hi)
            info.update(vmin=lo, vmax=hi)
            zero = np.zeros(len(shown), bool)
        else:
            lo = float(np.nanmin(shown)) if ok.any() else 0.0
            hi = float(np.nanmax(shown)) if ok.any() else 1.0
            norm = Normalize(lo, hi if hi > lo else lo + 1.0)
            info.update(vmin=lo, vmax=hi)
            zero = np.zeros(len(shown), bool)
        finite = shown[ok]
        const = bool(len(finite)) and bool(np.all(finite == finite[0]))
        cols = np.array([NO_DATA_GREY] * len(g), dtype=object)
        if const and not st.diverging:
            info["constant"] = True
            the_title += f" — the same everywhere: {st.fmt(finite[0] / st.scale)}"
            cols[ok] = NEUTRAL_GREY
        else:
            cols[ok] = [to_hex(cm(norm(v))) for v in shown[ok]]
        cols[zero] = NEUTRAL_GREY
        _plot(g, ax, list(cols))
        handles = []
        if not info["constant"]:
            sm = ScalarMappable(norm=norm, cmap=cm)
            cb = fig.colorbar(sm, ax=ax, shrink=0.6, label=legend)
            cb.ax.tick_params(labelsize=8)
        else:
            handles.append(Patch(facecolor=NEUTRAL_GREY, label=f"all areas: {st.fmt(finite[0] / st.scale)}"
                                 if len(finite) and not st.diverging else "no change (0)"))
        if st.diverging and zero.any() and not info["constant"]:
            handles.append(Patch(facecolor=NEUTRAL_GREY, label=f"no change (0): {int(zero.sum())}"))
        if (~ok).any():
            handles.append(Patch(facecolor=NO_DATA_GREY, edgecolor="#999999", label=f"no data: {int((~ok).sum())}"))
        if handles:
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8,
                      frameon=False)
        info["legend"] = legend
    if priority_column and priority_column in g.columns:
        pz = g[g[priority_column].notna().to_numpy()]
        if len(pz) and pz.geom_type.isin(["Polygon", "MultiPolygon"]).all():
            pz.boundary.plot(ax=ax, color="black", linewidth=1.6, zorder=4)
            ax.text(0.99, 0.01, "black outline: priority contract zone", transform=ax.transAxes, ha="right",
                    va="bottom", fontsize=7)
    _label_largest(ax, g, name_column)
    _scale_bar(ax, g)
    ax.set_title(the_title, fontsize=11, wrap=True)
    ax.set_axis_off()
    info["title"] = the_title
    fig.access_info = info  # type: ignore[attr-defined]
    return fig


def choropleth_png(gdf: gpd.GeoDataFrame, column: str, path, *, title: str | None = None,
                   units: str | None = None, cmap: str | None = None, dpi: int = 110,
                   name_column: str | None = "name") -> Path:
    """Write :func:`choropleth_figure` of ``column`` as a PNG, atomically; returns the path.

    Categorical columns (e.g. the typology ``class``) get a categorical legend. Areas with NaN are light grey.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = choropleth_figure(gdf, column, title=title, units=units, cmap=cmap, name_column=name_column)
    FigureCanvasAgg(fig)
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return path
