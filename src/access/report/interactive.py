"""Interactive maps as one self-contained HTML file each (Plotly, JavaScript inlined, no tiles, no request out).

The page holds one layer per indicator and a drop-down to switch between them; every layer has a colour bar
titled with its unit (:mod:`access.report.style`: shares in %, times in minutes, incomes in euros per consumption
unit), tooltips with the area's name, rounded values with units, its class and priority zone; priority contract
zones are outlined in black on every layer. Deltas are centred on zero with exact zeros in neutral grey.

The map is drawn with ``go.Choropleth`` on an invisible ``geo`` subplot (``fitbounds="locations"``): no base map,
hence nothing to download; the file opens from a USB stick on a computer without network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._errors import ValidationError
from .._io_util import atomic_path
from .style import CLASS_COLORS, NEUTRAL_GREY, NO_DATA_GREY, beyond_column, describe

__all__ = ["interactive_map", "default_layers", "map_figure"]


def _mpl_scale(name: str, n: int = 11) -> list[list]:
    """A matplotlib colour map as a Plotly colour scale (the same colours in PNG and HTML)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cm = colormaps[name]
    return [[i / (n - 1), to_hex(cm(i / (n - 1)))] for i in range(n)]


def default_layers(columns: Sequence[str]) -> list[str]:
    """The layers worth a switch, in reading order: class, car time per category, other modes' times, shares beyond
    15/30 minutes, supply per 10,000, social indicators, scores, deltas. Shares beyond are derived columns
    (``..._share_beyond_<T>min``, 1 - within) that :func:`interactive_map` adds."""
    cols = list(columns)
    out: list[str] = []

    def add(c: str) -> None:
        if c not in out:
            out.append(c)

    if "class" in cols:
        add("class")
    modes = [m for m in ("car", "walk", "bike", "transit") if any(c.startswith(f"time_{m}_") for c in cols)]
    for m in modes:
        if m == "car":
            for c in cols:
                if re.fullmatch(r"time_car_.+_mean", c) and not c.startswith("time_car_any"):
                    add(c)
        if f"time_{m}_any_mean" in cols:
            add(f"time_{m}_any_mean")
    for m in modes:
        within = [c for c in cols if re.fullmatch(rf"time_{m}_any_share_within_\d+(\.\d+)?min", c)]
        chosen = [c for c in within if re.search(r"_(15|30)min$", c)] or within[-1:]
        for c in chosen:
            add(beyond_column(c))
    for c in ("venues_per_10k", *[c for c in cols if c.startswith("venues_per_10k_")]):
        if c in cols:
            add(c)
    for c in ("poverty_rate", "median_income", "share_elderly", "density", "population"):
        if c in cols:
            add(c)
    for c in ("supply_score", "access_score", "cultural_fragility", "social_fragility"):
        if c in cols:
            add(c)
    for c in cols:
        if c.endswith("_delta"):
            add(c)
    return out


def _with_derived(g: pd.DataFrame, layers: Sequence[str]) -> pd.DataFrame:
    g = g.copy()
    for c in layers:
        if "_share_beyond_" in c and c not in g.columns:
            src = c.replace("_share_beyond_", "_share_within_")
            if src not in g.columns:
                raise ValidationError(f"cannot map {c!r}: neither it nor {src!r} is a column")
            g[c] = 1.0 - g[src].astype(float)
    return g


def _geojson(g: gpd.GeoDataFrame, simplify_m: float) -> dict:
    geo = g[[g.geometry.name]].copy()
    if simplify_m:
        geo = geo.to_crs(3857)
        geo[geo.geometry.name] = geo.geometry.simplify(simplify_m, preserve_topology=True)
    geo = geo.to_crs(4326)
    geo.index = [str(i) for i in range(len(geo))]
    gj = json.loads(geo.to_json(drop_id=False))
    for f in gj["features"]:  # 5 decimals (about 1 m) is plenty and keeps the file small
        f["geometry"] = json.loads(json.dumps(f["geometry"]), parse_float=lambda s: round(float(s), 5))
        f["properties"] = {}
    return gj


def _hover(g: pd.DataFrame, column: str, *, name_column: str | None, id_column: str,
           extra: Sequence[str]) -> list[str]:
    st = describe(column)
    out = []
    for i in range(len(g)):
        r = g.iloc[i]
        head = f"<b>{r[name_column]}</b> ({r[id_column]})" if name_column and name_column in g.columns \
            else f"<b>{r[id_column]}</b>"
        lines = [head, f"{st.title}: <b>{st.fmt(r[column]) if column != 'class' else r[column]}</b>"]
        for c in extra:
            if c == column or c not in g.columns:
                continue
            v = r[c]
            if c == "priority_zone":
                if pd.notna(v):
                    lines.append(f"Priority contract zone: {v}")
                continue
            if c == "class":
                lines.append(f"Class: {v}")
                continue
            s = describe(c)
            lines.append(f"{s.title}: {s.fmt(v)}")
        out.append("<br>".join(lines))
    return out


def map_figure(areas: gpd.GeoDataFrame, *, layers: Sequence[str] | None = None, id_column: str = "id",
               name_column: str | None = "name", priority_column: str | None = "priority_zone",
               hover_columns: Sequence[str] | None = None, title: str | None = None,
               simplify_m: float = 100.0) -> Any:
    """The Plotly figure behind :func:`interactive_map` (one group of traces per layer, a drop-down to switch)."""
    import plotly.graph_objects as go

    if not isinstance(areas, gpd.GeoDataFrame) or areas.crs is None:
        raise ValidationError("cannot map: give a GeoDataFrame with a CRS (set one with .set_crs(...))")
    if id_column not in areas.columns:
        raise ValidationError(f"cannot map: no id column {id_column!r} (columns: {list(areas.columns)})")
    layers = list(layers) if layers is not None else default_layers(areas.columns)
    if not layers:
        raise ValidationError(f"cannot map: no layer to draw among the columns {list(areas.columns)}")
    g = _with_derived(areas, layers)
    missing = [c for c in layers if c not in g.columns]
    if missing:
        raise ValidationError(f"cannot map: layers {missing} are not columns ({list(areas.columns)})")
    name_column = name_column if name_column and name_column in g.columns else None
    gj = _geojson(g, simplify_m)
    locs = np.array([str(i) for i in range(len(g))])
    if hover_columns is None:
        hover_columns = [c for c in ("population", "class", "priority_zone") if c in g.columns]
    fig = go.Figure()
    groups: list[list[int]] = []
    titles: list[str] = []
    base = dict(geojson=gj, featureidkey="id", hovertemplate="%{text}<extra></extra>",
                marker_line_color="white", marker_line_width=0.6)
    for k, col in enumerate(layers):
        st = describe(col)
        hover = np.array(_hover(g, col, name_column=name_column, id_column=id_column, extra=hover_columns))
        idx: list[int] = []
        vis = k == 0
        cb_y = dict(len=0.75, y=0.5, thickness=16, x=1.0)
        if col == "class" or not pd.api.types.is_numeric_dtype(g[col]):
            vals = g[col].astype("string")
            cats = [c for c in CLASS_COLORS if c in set(vals.dropna())] + sorted(
                set(vals.dropna()) - set(CLASS_COLORS))
            code = vals.map({c: i for i, c in enumerate(cats)}).astype(float).to_numpy()
            n = max(len(cats), 1)
            scale = []
            for i, c in enumerate(cats):
                colr = CLASS_COLORS.get(c, "#bbbbbb")
                scale += [[i / n, colr], [(i + 1) / n, colr]]
            ok = np.isfinite(code)
            fig.add_trace(go.Choropleth(
                locations=locs[ok], z=code[ok], text=hover[ok], colorscale=scale or [[0, "#ccc"], [1, "#ccc"]],
                zmin=-0.5, zmax=n - 0.5, visible=vis, name=st.title,
                colorbar=dict(title=dict(text="class (areas)"), tickvals=list(range(len(cats))),
                              ticktext=[f"{c} ({int((vals == c).sum())})" for c in cats], **cb_y), **base))
            idx.append(len(fig.data) - 1)
            no = ~ok
        else:
            raw = g[col].astype(float).replace([np.inf, -np.inf], np.nan).to_numpy() * st.scale
            ok = np.isfinite(raw)
            no = ~ok
            kw: dict[str, Any] = dict(colorscale=_mpl_scale(st.cmap))
            label = st.legend
            fin = raw[ok]
            const = len(fin) > 0 and bool(np.all(fin == fin[0]))
            draw = ok.copy()
            if st.diverging:
                zero = ok & (raw == 0.0)
                draw = ok & ~zero
                m = float(np.max(np.abs(raw[draw]))) if draw.any() else 1.0
                kw.update(zmin=-m, zmax=m, zmid=0.0)
                if zero.any():
                    fig.add_trace(go.Choropleth(
                        locations=locs[zero], z=np.zeros(int(zero.sum())), text=hover[zero],
                        colorscale=[[0, NEUTRAL_GREY], [1, NEUTRAL_GREY]], showscale=False, visible=vis,
                        name="no change", **base))
                    idx.append(len(fig.data) - 1)
                    label += f"<br>grey: no change ({int(zero.sum())})"
            elif st.limits is not None:
                kw.update(zmin=st.limits[0] * st.scale, zmax=st.limits[1] * st.scale)
            if const and not st.diverging:
                kw = dict(colorscale=[[0, NEUTRAL_GREY], [1, NEUTRAL_GREY]], zmin=fin[0] - 1, zmax=fin[0] + 1)
                label = f"the same everywhere:<br>{st.fmt(fin[0] / st.scale)}"
            if draw.any():
                ticks = {"ticksuffix": " %"} if st.unit.startswith("%") and not st.diverging else {}
                fig.add_trace(go.Choropleth(
                    locations=locs[draw], z=raw[draw], text=hover[draw], visible=vis, name=st.title,
                    colorbar=dict(title=dict(text=label.replace(" (", "<br>("), side="right"), **ticks, **cb_y),
                    **kw, **base))
                idx.append(len(fig.data) - 1)
        if no.any():
            fig.add_trace(go.Choropleth(
                locations=locs[no], z=np.zeros(int(no.sum())), text=hover[no], showscale=False, visible=vis,
                colorscale=[[0, NO_DATA_GREY], [1, NO_DATA_GREY]], name="no data", **base))
            idx.append(len(fig.data) - 1)
        groups.append(idx)
        titles.append(st.title)
    always: list[int] = []
    if priority_column and priority_column in g.columns and g[priority_column].notna().any():
        pz = g[priority_column].notna().to_numpy()
        fig.add_trace(go.Choropleth(
            geojson=gj, featureidkey="id", locations=locs[pz], z=np.zeros(int(pz.sum())),
            colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]], showscale=False, hoverinfo="skip",
            marker_line_color="black", marker_line_width=2.5, name="priority contract zones"))
        always.append(len(fig.data) - 1)
    n_tr = len(fig.data)
    buttons = []
    for k, idx in enumerate(groups):
        shown = [False] * n_tr
        for i in (*idx, *always):
            shown[i] = True
        buttons.append(dict(label=titles[k], method="update",
                            args=[{"visible": shown}, {"title.text": _page_title(title, titles[k])}]))
    notes = ["Pick a layer in the list above; hover an area for its figures."]
    if always:
        notes.append("Black outline: priority contract zone.")
    fig.update_layout(
        title=dict(text=_page_title(title, titles[0]), x=0.01, y=0.98, font=dict(size=16)),
        updatemenus=[dict(buttons=buttons, direction="down", x=0.01, xanchor="left", y=1.0, yanchor="top",
                          showactive=True, bgcolor="white")],
        geo=dict(fitbounds="locations", visible=False, projection_type="mercator", bgcolor="white"),
        margin=dict(l=10, r=10, t=90, b=40), height=760, paper_bgcolor="white",
        annotations=[dict(text=" ".join(notes), x=0.01, y=-0.03, xref="paper", yref="paper", showarrow=False,
                          xanchor="left", font=dict(size=11, color="#444"))],
        hoverlabel=dict(bgcolor="white", font_size=12, align="left"))
    fig.layout.meta = {"layers": list(layers), "units": {c: describe(c).unit for c in layers}}
    return fig


def _page_title(title: str | None, layer: str) -> str:
    return f"{title} — {layer}" if title else layer


def interactive_map(areas: gpd.GeoDataFrame, path, *, layers: Sequence[str] | None = None, id_column: str = "id",
                    name_column: str | None = "name", priority_column: str | None = "priority_zone",
                    hover_columns: Sequence[str] | None = None, title: str | None = None,
                    simplify_m: float = 100.0) -> Path:
    """Write one self-contained interactive HTML map of ``areas`` (Plotly inlined; works offline).

    Parameters
    ----------
    areas : GeoDataFrame
        Polygons (or points) with a CRS and ``id_column``; ``name_column`` (shown in tooltips) and
        ``priority_column`` (non-null = outlined as a priority contract zone) when present.
    path : path-like
        The HTML file (written atomically).
    layers : list of str, optional
        Columns to switch between (default :func:`default_layers`); ``..._share_beyond_<T>min`` columns are
        derived from ``..._share_within_<T>min`` when absent.
    hover_columns : list of str, optional
        Columns shown in every tooltip besides the layer's (default population, class, priority zone).
    simplify_m : float
        Simplification tolerance of the outlines in metres (0 keeps them as they are).

    Examples
    --------
    >>> interactive_map(epci, "epci_map.html", layers=["class", "time_car_any_mean"])  # doctest: +SKIP
    """
    fig = map_figure(areas, layers=layers, id_column=id_column, name_column=name_column,
                     priority_column=priority_column, hover_columns=hover_columns, title=title, simplify_m=simplify_m)
    path = Path(path)
    with atomic_path(path, suffix=".html") as tmp:
        tmp.write_text(_html(fig, title or "access map"), encoding="utf-8")
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{margin:0;font-family:sans-serif;background:#fff}} #access-map{{width:100%;height:96vh}}</style>
<script type="text/javascript">
// Plotly's geo subplot fetches a world topojson from cdn.plot.ly even when no base layer is drawn: give it an
// empty one here, so that the page never asks the network for anything.
window.PlotlyGeoAssets = {{topojson: {{"world_110m": {empty_topojson}, "world_50m": {empty_topojson}}}}};
</script>
<script type="text/javascript">{plotlyjs}</script>
</head><body>
<div id="access-map"></div>
<script type="application/json" id="access-geojson">{geojson}</script>
<script type="application/json" id="access-figure">{figure}</script>
<script type="text/javascript">
(function () {{
  var gj = JSON.parse(document.getElementById("access-geojson").textContent);
  var fig = JSON.parse(document.getElementById("access-figure").textContent);
  fig.data.forEach(function (t) {{ if (t.type === "choropleth") {{ t.geojson = gj; }} }});
  Plotly.newPlot("access-map", fig.data, fig.layout, {{displaylogo: false, responsive: true}});
}})();
</script>
</body></html>
"""


def _html(fig, title: str) -> str:
    """One page: plotly.js inlined, the outlines once (each trace points at them when the page opens: the file
    does not hold one copy of the outlines per layer), the figure as JSON. No URL is loaded."""
    import html as _h

    import plotly.io as pio
    import plotly.offline as po

    d = json.loads(pio.to_json(fig, validate=False))
    gj = None
    for t in d["data"]:
        if t.get("type") == "choropleth":
            gj = t.pop("geojson", gj)

    def safe(x) -> str:  # JSON inside <script>: no "</" may close the element early
        return json.dumps(x, separators=(",", ":")).replace("</", "<\\/")

    empty = {"type": "Topology", "arcs": [], "transform": {"scale": [1, 1], "translate": [0, 0]},
             "objects": {k: {"type": "GeometryCollection", "geometries": []}
                         for k in ("coastlines", "land", "ocean", "lakes", "rivers", "countries", "subunits")}}
    return _PAGE.format(title=_h.escape(title), plotlyjs=po.get_plotlyjs(), geojson=safe(gj), figure=safe(d),
                        empty_topojson=safe(empty))
