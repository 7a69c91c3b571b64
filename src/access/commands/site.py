"""``access site``: choose where new venues (or the stops of a touring venue) should go, with a map."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import click


def _floats(s: str | None) -> list[float]:
    return [float(x) for x in (s or "").split(",") if x.strip()]


@click.command("site")
@click.option("--network", "network_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="network bundle built by `access network build`")
@click.option("--cells", required=True, type=click.Path(exists=True, dir_okay=False),
              help="population cells: GeoPackage, GeoJSON, Parquet or CSV with id, lon, lat and a population column")
@click.option("--candidates", required=True, type=click.Path(exists=True, dir_okay=False),
              help="candidate sites (id, position)")
@click.option("--venues", type=click.Path(exists=True, dir_okay=False), help="existing venues (counted as open)")
@click.option("--category", default=None, help="keep only the existing venues of this category (column `category`)")
@click.option("--objective", type=click.Choice(["coverage", "p-median", "equity", "minimax", "tour"]),
              default="coverage", show_default=True)
@click.option("-k", "--k", "k", default=3, show_default=True, help="sites (or tour stops) to choose")
@click.option("--threshold", default=15.0, show_default=True, help="coverage threshold, minutes")
@click.option("--max-time", default=None, type=float,
              help="search bound, minutes (default: 2 x threshold: coverage needs no more, and r5r's 120 would "
              "only cost time)")
@click.option("--mode", type=click.Choice(["walk", "bike", "car", "transit"]), default="walk", show_default=True)
@click.option("--population", "pop_col", default="population", show_default=True, help="population column of CELLS")
@click.option("--fragile-column", default=None, help="equity: per-cell weight column of CELLS (e.g. 1 = fragile)")
@click.option("--area-column", default=None, help="minimax: area id column of CELLS")
@click.option("--shares", default=None, help="tour: share of time at each stop, e.g. 0.5,0.25,0.25")
@click.option("--exact", is_flag=True, help="coverage: also solve exactly (brute force or HiGHS) and report the gap")
@click.option("--areas", type=click.Path(exists=True, dir_okay=False),
              help="areas (polygons with `id`) for before/after indicators")
@click.option("--departure", default=None, help="transit: first departure, e.g. 2019-05-13T14:00")
@click.option("--window", default=10, show_default=True, help="transit: departure window, minutes")
@click.option("--walk-speed", default=3.6, show_default=True, help="km/h")
@click.option("--vary-walk-speed", default="auto", show_default=True,
              help="stability: other walking speeds in km/h, e.g. 3.0,4.5; 'auto' = walk speed x 0.8 and x 1.2 "
              "(street modes); 'none' to skip")
@click.option("--vary-threshold", default="auto", show_default=True,
              help="stability: other thresholds in minutes, e.g. 10,20; 'auto' = threshold x 0.8 and x 1.2; 'none'")
@click.option("--max-snap", default=500.0, show_default=True, help="metres")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="output folder: sites.csv, cells.csv, stability.csv, areas.gpkg, typology_changes.csv, map.png, "
              "summary.json")
def command(network_dir, cells, candidates, venues, category, objective, k, threshold, max_time, mode, pop_col,
            fragile_column, area_column, shares, exact, areas, departure, window, walk_speed, vary_walk_speed,
            vary_threshold, max_snap, out_dir):
    """Choose K sites among CANDIDATES for the population of CELLS (existing VENUES counted), with a map."""
    import numpy as np
    import pandas as pd

    from .. import siting as st
    from .. import uncertainty as un
    from .._errors import ValidationError
    from .._io_util import atomic_path
    from ..io.places import read_points
    from ..network.bundle import TransportNetwork

    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    net = TransportNetwork.load(network_dir)
    c = read_points(cells, name="cells")
    if pop_col not in c.frame.columns:
        raise ValidationError(f"cells file has no population column {pop_col!r} (columns: {list(c.frame.columns)}); "
                              "pass --population")
    pop = pd.to_numeric(c.frame[pop_col], errors="coerce").fillna(0.0).to_numpy(float)
    max_time = float(max_time or 2 * threshold)
    kw = dict(mode=mode, max_time_min=max_time, walk_speed_kmh=walk_speed, max_snap_m=max_snap)
    if mode == "transit":
        if not departure:
            raise ValidationError("--mode transit needs --departure (e.g. 2019-05-13T14:00)")
        kw.update(departure=dt.datetime.fromisoformat(departure), window_min=int(window), per_minute=True)
    existing = None  # the existing venues first: an off-network venue is reported before the long candidate search
    if venues:
        v = read_points(venues, name="venues")
        if category:
            if "category" not in v.frame.columns:
                raise ValidationError("--category given but the venues file has no `category` column")
            keep = (v.frame["category"].astype(str) == str(category)).to_numpy()
            if not keep.any():
                raise ValidationError(f"no existing venue has category {category!r}")
            v = type(v)(v.ids[keep], v.lon[keep], v.lat[keep], v.frame[keep], v.name)
        existing = st.candidate_times(net, c, v, name="venues", **kw)
    ct = st.candidate_times(net, c, candidates, progress=True, **kw)

    def solve(times, threshold_min=threshold, ex=existing):
        common = dict(existing=ex)
        if objective == "coverage":
            return st.maximal_coverage(times, pop, k, threshold_min=threshold_min, exact=exact if times is ct else
                                       False, **common)
        if objective == "p-median":
            return st.p_median(times, pop, k, **common)
        if objective == "equity":
            if not fragile_column:
                raise ValidationError("--objective equity needs --fragile-column (a per-cell weight column of CELLS)")
            fw = pd.to_numeric(c.frame[fragile_column], errors="coerce").fillna(0.0).to_numpy(float)
            return st.equity_coverage(times, pop, k, threshold_min=threshold_min, fragile_weight=fw, **common)
        if objective == "minimax":
            if not area_column:
                raise ValidationError("--objective minimax needs --area-column (an area id column of CELLS)")
            return st.minimax_coverage(times, pop, k, threshold_min=threshold_min,
                                       cell_area=c.frame[area_column].to_numpy(), **common)
        sh = _floats(shares) or None
        return st.plan_tour(times, pop, k, threshold_min=threshold_min, shares=sh, **common)

    res = solve(ct)
    if vary_threshold == "auto" and objective == "p-median":
        vary_threshold = ""  # p-median does not use the threshold
    if vary_threshold == "auto":
        vary_threshold = ",".join(f"{threshold * f:g}" for f in (0.8, 1.2) if threshold * f <= max_time)
    if vary_walk_speed == "auto":
        # walking speed matters most on foot; for transit the variation would recompute the whole matrix
        vary_walk_speed = ",".join(f"{walk_speed * f:g}" for f in (0.8, 1.2)) if mode == "walk" else ""
    vary_threshold = "" if vary_threshold == "none" else vary_threshold
    vary_walk_speed = "" if vary_walk_speed == "none" else vary_walk_speed
    variants = {}
    if mode == "transit":
        for m in range(ct.n_minutes):
            variants[f"minute {m}"] = solve(ct.at_minute(m), ex=None if existing is None else existing.at_minute(m))
    for t in _floats(vary_threshold):
        variants[f"threshold {t:g} min"] = solve(ct, threshold_min=t)
    for s in _floats(vary_walk_speed):
        kws = dict(kw, walk_speed_kmh=s, per_minute=False)
        tv = st.candidate_times(net, c, candidates, **kws)
        exv = None if existing is None else st.candidate_times(net, c, v, name="venues", **kws)
        variants[f"walk {s:g} km/h"] = solve(tv, ex=exv)
    if variants:
        per = un.site_stability(res, variants)
        with atomic_path(out / "stability.csv", suffix=".csv") as tmp:
            per.assign(sites=per["sites"].map(lambda x: ";".join(map(str, x)))).to_csv(tmp, index=False)
    with atomic_path(out / "sites.csv", suffix=".csv") as tmp:
        res.table.to_csv(tmp, index=False)
    with atomic_path(out / "cells.csv", suffix=".csv") as tmp:
        res.cell_values().to_csv(tmp, index=False)
    area_gdf = None
    if areas:
        import geopandas as gpd

        area_gdf = gpd.read_file(areas)
        cg = gpd.GeoDataFrame({"id": c.ids}, geometry=gpd.points_from_xy(c.lon, c.lat), crs="EPSG:4326")
        cmp_ = res.compare_areas(cg, area_gdf)
        with atomic_path(out / "areas.gpkg", suffix=".gpkg") as tmp:
            cmp_.to_file(tmp, driver="GPKG", layer="areas")
        try:  # typology classes before/after through the scenarios' comparison
            ty = res.comparison(cells=cg, areas=area_gdf).typology
        except ImportError:
            ty = None
        if ty is not None:
            with atomic_path(out / "typology_changes.csv", suffix=".csv") as tmp:
                ty.to_csv(tmp, index=False)
    res.plot(out / "map.png", areas=area_gdf)
    summary = dict(objective=res.objective, sites=[str(s) for s in res.site_ids], objective_before=res.objective_before,
                   objective_after=res.objective_after, seconds=time.perf_counter() - t0,
                   details={k2: v2 for k2, v2 in res.details.items() if not isinstance(v2, np.ndarray)})
    with atomic_path(out / "summary.json", suffix=".json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str))
    click.echo(res.table.to_string(index=False))
    click.echo(f"{res}\nwritten to {out} in {time.perf_counter() - t0:.1f} s")
