"""The page of ``access serve``: a Dash app (its JS/CSS served from the Python package, no CDN, no map tiles).

The map is a plain Plotly figure in lon/lat (aspect kept), so it needs no tiles and no network: the EPCI as filled
polygons coloured by class or by an indicator (after the scenario), the cells as square markers coloured by their
delta (minutes, blue = closer), the venues as points. Click a cell to open a venue there (category from the list),
click a venue to remove it (click a removed venue, a grey cross, to restore it), lasso- or box-select an area to
close its streets. Every edit re-posts the whole scenario to the engine, which answers incrementally; undo/redo
walk the history of scenarios.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np

from .._errors import AccessError
from .api import COOKIE, comparison_zip, register_api
from .engine import MAX_BODY_BYTES, Engine

CLASS_COLOURS = {
    "priority contract zone": "#6a3d9a",
    "cumulates cultural and social fragility": "#e31a1c",
    "cultural fragility": "#fd8d3c",
    "social fragility": "#fecc5c",
    "no particular stake": "#c7e9c0",
    "insufficient data": "#bdbdbd",
}
CATEGORY_COLOURS = ["#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3", "#b2df8a"]
#: above this many cells the cell layer is drawn with WebGL (Scattergl)
GL_CELLS = 20000


def _lerp(scale: list[tuple[float, str]], x: float) -> str:
    """Colour at ``x`` in [0, 1] of a list of (position, '#rrggbb') stops."""
    x = min(1.0, max(0.0, x))
    for (p0, c0), (p1, c1) in zip(scale, scale[1:]):
        if x <= p1:
            t = 0.0 if p1 == p0 else (x - p0) / (p1 - p0)
            a = [int(c0[i:i + 2], 16) for i in (1, 3, 5)]
            b = [int(c1[i:i + 2], 16) for i in (1, 3, 5)]
            return "#" + "".join(f"{round(u + (v - u) * t):02x}" for u, v in zip(a, b))
    return scale[-1][1]


VALUE_SCALE = [(0.0, "#ffffcc"), (0.5, "#fd8d3c"), (1.0, "#800026")]  # higher = worse (minutes, shares beyond)
DELTA_SCALE = [(0.0, "#2166ac"), (0.5, "#f7f7f7"), (1.0, "#b2182b")]  # negative (closer) blue, positive red


def _rings(geom, tol: float) -> tuple[list, list]:
    """x, y of a (multi)polygon's exterior rings, simplified, separated by None."""
    g = geom.simplify(tol, preserve_topology=True)
    polys = list(getattr(g, "geoms", [g]))
    xs: list = []
    ys: list = []
    for p in polys:
        if p.is_empty or not hasattr(p, "exterior"):
            continue
        x, y = p.exterior.xy
        xs += list(x) + [None]
        ys += list(y) + [None]
    return xs, ys


class MapData:
    """What the figure reuses between updates: simplified area outlines, cell and venue coordinates."""

    def __init__(self, engine: Engine):
        self.engine = engine
        areas = engine.data.areas
        b = areas.total_bounds
        tol = max(b[2] - b[0], b[3] - b[1]) / 1500.0
        self.rings = [_rings(g, tol) for g in areas.geometry.values]
        self.lat0 = float((b[1] + b[3]) / 2)


def indicator_options(engine: Engine) -> list[dict]:
    mode = engine.data.mode
    opts = [{"label": "typology class", "value": "class"}]
    for c in engine.cats:
        what = "any venue" if c == "any" else c.replace("_", " ")
        opts += [{"label": f"{mode}: minutes to the nearest {what}", "value": f"time_{c}_mean"},
                 {"label": f"{mode}: share beyond 15 min of a {what}", "value": f"time_{c}_share_beyond_15min"},
                 {"label": f"{mode}: share beyond 30 min of a {what}", "value": f"time_{c}_share_beyond_30min"}]
    return opts


def _category_of(indicator: str, engine: Engine) -> str:
    for c in sorted(engine.cats, key=len, reverse=True):
        if indicator.startswith(f"time_{c}_"):
            return c
    return "any"


def build_figure(md: MapData, result: dict, scenario: dict, indicator: str) -> dict:
    """The Plotly figure (as a dict) of a scenario result."""
    eng = md.engine
    traces: list[dict] = []
    areas = result["areas"]
    is_class = indicator == "class"
    if not is_class:
        vals = np.array([np.nan if a["indicators"][indicator]["after"] is None else a["indicators"][indicator]["after"]
                         for a in areas], float)
        ok = np.isfinite(vals)
        lo, hi = (float(np.nanmin(vals)), float(np.nanmax(vals))) if ok.any() else (0.0, 1.0)
        if indicator.endswith("min") and "share" in indicator:
            lo, hi = 0.0, max(hi, 1e-9)
    for i, a in enumerate(areas):
        if is_class:
            col = CLASS_COLOURS.get(a["class_after"], "#dddddd")
        else:
            v = vals[i]
            col = "#eeeeee" if not np.isfinite(v) else _lerp(VALUE_SCALE, 0.5 if hi == lo else (v - lo) / (hi - lo))
        xs, ys = md.rings[i]
        traces.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "fill": "toself", "fillcolor": col,
                       "line": {"color": "#444444", "width": 1.5 if a["changed"] else 0.7},
                       "opacity": 0.55, "hoverinfo": "skip", "showlegend": False, "name": a["name"]})
    if is_class:
        for name, col in CLASS_COLOURS.items():
            traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                           "marker": {"size": 12, "color": col, "symbol": "square"}, "name": name,
                           "showlegend": True, "hoverinfo": "skip"})
    else:
        traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "hoverinfo": "skip",
                       "showlegend": False,
                       "marker": {"color": [lo, hi], "cmin": lo, "cmax": hi, "showscale": True,
                                  "colorscale": [[p, c] for p, c in VALUE_SCALE],
                                  "colorbar": {"title": {"text": "EPCI<br>" + ("share" if "share" in indicator
                                                                               else "minutes")},
                                               "x": 1.0, "len": 0.45, "y": 0.78}}})
    # cells, coloured by their delta of the chosen category's time
    cat = _category_of(indicator, eng) if not is_class else "any"
    delta = np.zeros(len(eng.cell_ids))
    dmap = result["cells"]["delta_min"]
    if dmap:
        pos = {cid: i for i, cid in enumerate(eng.cell_ids)}
        for cid, d in dmap.items():
            delta[pos[cid]] = -60.0 if d is None else d  # None: access gained or lost (inf delta); clip
    m = float(np.max(np.abs(delta))) if dmap else 0.0
    m = max(m, 1.0)
    text = [f"cell {cid}<br>Δ {d:+.1f} min" for cid, d in zip(eng.cell_ids, delta)]
    traces.append({"type": "scattergl" if len(delta) > GL_CELLS else "scatter", "x": eng.cell_lon.tolist(),
                   "y": eng.cell_lat.tolist(), "mode": "markers", "name": "cells (click: open a venue)",
                   "customdata": [["cell"]] * len(delta), "text": text, "hoverinfo": "text", "showlegend": False,
                   "marker": {"symbol": "square", "size": 5, "color": delta.tolist(), "cmin": -m, "cmax": m,
                              "colorscale": [[p, c] for p, c in DELTA_SCALE], "showscale": True,
                              "colorbar": {"title": {"text": f"cells Δ {cat}<br>min"}, "x": 1.0, "len": 0.45,
                                           "y": 0.22}, "opacity": 0.8}})
    # venues
    removed = set(scenario.get("removes", []))
    v = eng.data.venues
    cats = eng.categories
    for k, c in enumerate(cats):
        sub = v[(v["category"] == c) & ~v["id"].isin(removed)]
        traces.append({"type": "scatter", "x": sub["lon"].tolist(), "y": sub["lat"].tolist(), "mode": "markers",
                       "name": c, "customdata": [["venue", i] for i in sub["id"]],
                       "text": [f"{n} ({c})<br>click: remove" for n in sub["name"]], "hoverinfo": "text",
                       "marker": {"size": 10, "color": CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)],
                                  "line": {"color": "white", "width": 1}}})
    rem = v[v["id"].isin(removed)]
    if len(rem):
        traces.append({"type": "scatter", "x": rem["lon"].tolist(), "y": rem["lat"].tolist(), "mode": "markers",
                       "name": "removed", "customdata": [["removed", i] for i in rem["id"]],
                       "text": [f"{n} (removed)<br>click: restore" for n in rem["name"]], "hoverinfo": "text",
                       "marker": {"size": 10, "symbol": "x", "color": "#555555"}})
    adds = scenario.get("adds", [])
    if adds:
        traces.append({"type": "scatter", "x": [a["lon"] for a in adds], "y": [a["lat"] for a in adds],
                       "mode": "markers", "name": "new venues", "customdata": [["new", a["id"]] for a in adds],
                       "text": [f"new {a['category']} {a['id']}<br>click: remove" for a in adds], "hoverinfo": "text",
                       "marker": {"size": 15, "symbol": "star", "color": "#000000",
                                  "line": {"color": "white", "width": 1}}})
    poly = scenario.get("polygon")
    if poly:
        traces.append({"type": "scatter", "x": [p[0] for p in poly] + [poly[0][0]],
                       "y": [p[1] for p in poly] + [poly[0][1]], "mode": "lines", "name": "streets closed",
                       "line": {"color": "#d7301f", "width": 2, "dash": "dash"}, "hoverinfo": "skip"})
    layout = {"uirevision": "map", "dragmode": "zoom", "clickmode": "event", "hovermode": "closest",
              "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "plot_bgcolor": "white",
              "xaxis": {"visible": False, "showgrid": False},
              "yaxis": {"visible": False, "showgrid": False, "scaleanchor": "x",
                        "scaleratio": 1.0 / max(0.1, math.cos(math.radians(md.lat0)))},
              "legend": {"x": 0.0, "y": 0.0, "bgcolor": "rgba(255,255,255,0.7)"}}
    return {"data": traces, "layout": layout}


def panel(result: dict, indicator: str) -> list:
    """The list of areas that change: before, after, delta of the indicator, class change, people affected."""
    from dash import html

    key = "time_any_mean" if indicator == "class" else indicator
    share = "share" in key
    rows = []
    for a in result["areas"]:
        if not a["changed"]:
            continue
        v = a["indicators"][key]

        def fmt(x, signed=False):
            if x is None:
                return "–"
            return (f"{x:+.1%}" if signed else f"{x:.1%}") if share else (f"{x:+.2f}" if signed else f"{x:.2f}")

        cls = a["class_before"] if not a["class_changed"] else f"{a['class_before']} → {a['class_after']}"
        rows.append(html.Tr([html.Td(a["name"]), html.Td(fmt(v["before"])), html.Td(fmt(v["after"])),
                             html.Td(fmt(v["delta"], True), className="delta"),
                             html.Td(cls, className="class-changed" if a["class_changed"] else ""),
                             html.Td(f"{a['population_affected'] or 0:,.0f}")]))
    unit = "share" if share else "min"
    head = html.Tr([html.Th(h) for h in ("EPCI", f"before ({unit})", "after", "delta", "class", "people affected")])
    c = result["cells"]
    summary = html.P(f"{len(rows)} EPCI change; {c['changed']:,} cells, {c['population_affected'] or 0:,.0f} "
                     f"people affected; answered in {result['elapsed_ms']:.0f} ms", id="summary")
    if not rows:
        return [summary, html.P("No EPCI changes: click a cell to open a venue, a venue to remove it, or lasso an "
                                "area to close its streets.")]
    return [summary, html.Table([html.Thead(head), html.Tbody(rows)], id="changes")]


def _to_body(scenario: dict) -> dict:
    return {"add_venues": [{k: a[k] for k in ("id", "lon", "lat", "category")} for a in scenario.get("adds", [])],
            "remove_venues": list(scenario.get("removes", [])),
            "close_streets": {"polygon": scenario["polygon"]} if scenario.get("polygon") else None}


EMPTY: dict = {"adds": [], "removes": [], "polygon": None, "counter": 0}
MAX_HISTORY = 100


def create_app(engine: Engine):
    """The Dash app (``app.server`` is the Flask server, with the JSON API of :mod:`access.serve.api`)."""
    import dash
    from dash import Input, Output, State, ctx, dcc, html, no_update
    from flask import request

    app = dash.Dash(__name__, serve_locally=True, title="access — live scenarios", update_title=None,
                    compress=False)
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = 4 * MAX_BODY_BYTES
    register_api(server, engine)

    @server.after_request
    def _cookie(resp):
        if COOKIE not in request.cookies and request.path == "/":
            resp.set_cookie(COOKIE, engine.new_session_id(), httponly=True, samesite="Strict")
        return resp

    md = MapData(engine)
    cats = engine.categories
    eng_mode = engine.data.mode

    def layout():
        return html.Div([
            dcc.Store(id="sid", data=uuid.uuid4().hex),
            dcc.Store(id="scenario", data=dict(EMPTY)),
            dcc.Store(id="history", data={"undo": [], "redo": []}),
            html.Div([
                html.H3(f"access — live scenarios ({eng_mode}, trips up to {engine.data.max_time_min:g} min)",
                        style={"margin": "4px 0"}),
                html.Div([
                    html.Label("colour the EPCI by "),
                    dcc.Dropdown(id="indicator", options=indicator_options(engine), value="class", clearable=False,
                                 style={"width": "380px", "display": "inline-block", "verticalAlign": "middle"}),
                    html.Label(" new venue: ", style={"marginLeft": "12px"}),
                    dcc.Dropdown(id="category", options=[{"label": c, "value": c} for c in cats],
                                 value="library" if "library" in cats else cats[0], clearable=False,
                                 style={"width": "200px", "display": "inline-block", "verticalAlign": "middle"}),
                    html.Button("undo", id="undo", style={"marginLeft": "12px"}),
                    html.Button("redo", id="redo"),
                    html.Button("reopen streets", id="reopen"),
                    html.Button("reset", id="reset"),
                    html.Button("export scenario (TOML)", id="export-toml", style={"marginLeft": "12px"}),
                    html.Button("export comparison (zip)", id="export-cmp"),
                    dcc.Download(id="dl-toml"), dcc.Download(id="dl-cmp"),
                ]),
                html.P("Click a cell to open a venue there; click a venue to remove it (a grey cross restores it); "
                       "lasso or box select (toolbar) an area to close its streets.",
                       style={"fontSize": "small", "margin": "4px 0"}),
            ]),
            html.Div([
                html.Div(dcc.Loading(dcc.Graph(id="map", style={"height": "80vh"},
                                               config={"scrollZoom": True, "displaylogo": False,
                                                       "doubleClick": "reset"}),
                                     type="circle", delay_show=300),
                         style={"flex": "3", "minWidth": "0"}),
                html.Div(dcc.Loading(html.Div(id="panel"), type="dot", delay_show=300),
                         style={"flex": "2", "overflowY": "auto", "maxHeight": "82vh", "fontSize": "small",
                                "paddingLeft": "8px"}),
            ], style={"display": "flex"}),
            html.Div(id="status", style={"color": "#b30000"}),
        ], style={"fontFamily": "sans-serif", "margin": "6px"})

    app.layout = layout

    @app.callback(Output("scenario", "data"), Output("history", "data"),
                  Input("map", "clickData"), Input("map", "selectedData"), Input("undo", "n_clicks"),
                  Input("redo", "n_clicks"), Input("reset", "n_clicks"), Input("reopen", "n_clicks"),
                  State("scenario", "data"), State("history", "data"), State("category", "value"),
                  prevent_initial_call=True)
    def edit(click, selected, _u, _r, _reset, _reopen, scn, hist, category):
        scn = dict(scn or EMPTY)
        hist = hist or {"undo": [], "redo": []}
        trig = ctx.triggered_id
        new = _edited(scn, trig, click, selected, category)
        if trig == "undo":
            if not hist["undo"]:
                return no_update, no_update
            return hist["undo"][-1], {"undo": hist["undo"][:-1], "redo": (hist["redo"] + [scn])[-MAX_HISTORY:]}
        if trig == "redo":
            if not hist["redo"]:
                return no_update, no_update
            return hist["redo"][-1], {"undo": (hist["undo"] + [scn])[-MAX_HISTORY:], "redo": hist["redo"][:-1]}
        if new is None:
            return no_update, no_update
        return new, {"undo": (hist["undo"] + [scn])[-MAX_HISTORY:], "redo": []}

    def _edited(scn: dict, trig: Any, click, selected, category) -> dict | None:
        s = {k: (list(v) if isinstance(v, list) else v) for k, v in scn.items()}
        if trig == "reset":
            return dict(EMPTY) if (scn.get("adds") or scn.get("removes") or scn.get("polygon")) else None
        if trig == "reopen":
            if not s.get("polygon"):
                return None
            s["polygon"] = None
            return s
        if trig == "map" and ctx.triggered and ctx.triggered[0]["prop_id"] == "map.clickData" and click:
            p = click["points"][0]
            cd = p.get("customdata") or []
            kind = cd[0] if cd else None
            if kind == "venue":
                s["removes"] = s["removes"] + [cd[1]]
            elif kind == "removed":
                s["removes"] = [r for r in s["removes"] if r != cd[1]]
            elif kind == "new":
                s["adds"] = [a for a in s["adds"] if a["id"] != cd[1]]
            elif kind == "cell" and "x" in p and "y" in p:
                s["counter"] = int(s.get("counter", 0)) + 1
                s["adds"] = s["adds"] + [{"id": f"new-{s['counter']}", "lon": float(p["x"]), "lat": float(p["y"]),
                                          "category": category}]
            else:
                return None
            return s
        if trig == "map" and selected:
            ring = None
            if selected.get("lassoPoints"):
                lp = selected["lassoPoints"]
                ring = [[float(x), float(y)] for x, y in zip(lp["x"], lp["y"])]
            elif selected.get("range"):
                (x0, x1), (y0, y1) = selected["range"]["x"], selected["range"]["y"]
                ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
            if not ring or len(ring) < 3:
                return None
            if len(ring) > 500:  # a long lasso: keep every k-th point
                ring = ring[:: math.ceil(len(ring) / 500)]
            s["polygon"] = ring
            return s
        return None

    @app.callback(Output("map", "figure"), Output("panel", "children"), Output("status", "children"),
                  Input("scenario", "data"), Input("indicator", "value"), State("sid", "data"))
    def compute(scn, indicator, sid_store):
        scn = scn or dict(EMPTY)
        sid = request.cookies.get(COOKIE) or sid_store
        try:
            req = engine.parse(_to_body(scn))
            res = engine.evaluate(sid, req, indicator_category=_category_of(indicator, engine)
                                  if indicator != "class" else "any")
        except AccessError as e:
            return no_update, no_update, f"not applied: {e}"
        return build_figure(md, res, scn, indicator), panel(res, indicator), ""

    @app.callback(Output("dl-toml", "data"), Input("export-toml", "n_clicks"), State("scenario", "data"),
                  prevent_initial_call=True)
    def export_toml(_n, scn):
        req = engine.parse(_to_body(scn or EMPTY))
        return {"content": engine.scenario_toml(req), "filename": "scenario.toml"}

    @app.callback(Output("dl-cmp", "data"), Input("export-cmp", "n_clicks"), State("scenario", "data"),
                  State("sid", "data"), prevent_initial_call=True)
    def export_cmp(_n, scn, sid_store):
        sid = request.cookies.get(COOKIE) or sid_store
        req = engine.parse(_to_body(scn or EMPTY))
        return dcc.send_bytes(comparison_zip(engine, sid, req), "comparison.zip")

    return app
