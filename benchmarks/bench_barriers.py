"""The social-barrier computations (issue 16) at region scale: time and peak memory of each, on the synthetic
Hauts-de-France of :func:`access.synth.region.make_region`.

Run: ``python benchmarks/bench_barriers.py [--scale 0.25] [--compare-cells 3000] [--out FILE.json]``

Stages (one process; the peak RSS of each stage is sampled every 20 ms with psutil, and reported with the RSS
before it):

1. ``nearest_<mode>``: :func:`access.nearest_times` by category for walk, bike and transit (the inputs of
   ``time_no_car_<category>``; the pipeline computes them in its indicators step) and :func:`no_car_times`;
2. ``evening``: :func:`evening_round_trips` (arrive-by outbound streamed venue by venue, one forward query home per
   venue) on the evening categories;
3. ``saturday``: :func:`saturday_access` (nearest_times on the Saturday service);
4. ``allocation``: synthetic census IRIS over the cells (the demo's writer) allocated by areal weights;
5. ``areas``: :func:`area_barriers` and :func:`barrier_index` over the EPCI.

With ``--compare-cells N`` the evening round trips of the first N cells are also computed by the code before this
change (``benchmarks/_evening_old.py``: cells x venues x minutes blocks), alternated with the new one (ABAB, same
process), with the load average; the two agree on the round trips where the outbound rule is the same (see the
JSON: the old "quickest arriving in time" venue differs from the arrive-by nearest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
import time
import warnings
from pathlib import Path

from _common import ROOT, write_json

EVENING = ("cinema", "performing_arts", "arts_centre")


class _Peak:
    """Peak RSS (MB) of this process while the block runs, sampled every 20 ms."""

    def __enter__(self):
        import psutil

        self.p = psutil.Process()
        self.before = self.p.memory_info().rss / 2**20
        self.peak = self.before
        self._stop = threading.Event()

        def run():
            while not self._stop.is_set():
                self.peak = max(self.peak, self.p.memory_info().rss / 2**20)
                time.sleep(0.02)

        self.t = threading.Thread(target=run, daemon=True)
        self.t.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self.t.join()
        self.peak = max(self.peak, self.p.memory_info().rss / 2**20)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default=None, help="where the region and network are generated/cached")
    ap.add_argument("--compare-cells", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-nearest", action="store_true", help="no nearest_times stages (evening, Saturday, "
                    "allocation and areas only; the no-car times are then left out of the area table)")
    a = ap.parse_args(argv)

    import numpy as np
    import pandas as pd

    from access import TransportNetwork, nearest_times
    from access.indicators import attach_cells
    from access.indicators.barriers import (
        area_barriers,
        barrier_index,
        barrier_profile,
        evening_round_trips,
        no_car_times,
        saturday_access,
    )
    from access.region.census import allocate_iris_to_cells, read_filosofi_barrier_counts
    from access.region.recipe import Recipe
    from access.region.sources import read_basilic, read_epci, read_filosofi
    from access.synth.region import make_region
    from access.synth.writers import census_iris_tables

    work = Path(a.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_barriers_{a.scale:g}")
    stages: dict = {}
    t = time.perf_counter()
    paths = make_region(work / "region", scale=a.scale, seed=a.seed)
    stages["generate_s"] = round(time.perf_counter() - t, 2)
    rec = Recipe.from_file(paths["recipe"])
    date = rec.date
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _Peak() as pk:
            net = TransportNetwork.from_files(paths["osm"], [paths["gtfs"]], cache_dir=work / "cache",
                                              modes=["walk", "bike"], progress=False)
    stages["network"] = {"seconds": round(pk.seconds, 2), "rss_peak_mb": round(pk.peak)}
    cells = read_filosofi(paths["filosofi"])
    cells = cells[cells["population"] > 0].reset_index(drop=True)
    venues = read_basilic(paths["basilic"])
    cats = sorted(venues["category"].unique())
    n_ev = int(venues["category"].isin(EVENING).sum())
    print(f"scale {a.scale:g}: {len(cells):,} cells, {len(venues):,} venues ({n_ev} of the evening categories), "
          f"{net.timetable.n_stops:,} stops")
    res: dict = {"scale": a.scale, "cells": len(cells), "venues": len(venues), "evening_venues": n_ev,
                 "stops": int(net.timetable.n_stops), "stages": stages,
                 "cells_x_evening_venues_x_61min_int32_mb": round(len(cells) * n_ev * 61 * 4 / 2**20)}

    def stage(name, fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _Peak() as pk:
                out = fn()
        stages[name] = {"seconds": round(pk.seconds, 2), "rss_before_mb": round(pk.before),
                        "rss_peak_mb": round(pk.peak), "rss_added_mb": round(pk.peak - pk.before)}
        print(f"{name:>12}: {pk.seconds:8.1f} s, RSS {pk.before:,.0f} -> peak {pk.peak:,.0f} MB")
        return out

    pts = cells[["id", "geometry"]]
    ven = venues[["id", "category", "geometry"]]
    dep = dt.datetime.combine(date, dt.time(14))
    nearest = {}
    for m in (() if a.skip_nearest else ("walk", "bike", "transit")):
        kw = {"departure": dep, "window_min": 60, "percentiles": (50,), "max_time_min": 120} if m == "transit" else {}
        near = stage(f"nearest_{m}", lambda m=m, kw=kw: nearest_times(net, pts, ven, mode=m, by="category", **kw))
        nearest[m] = near.pivot(index="id", columns="category", values="travel_time").reindex(cells["id"])
    nc = (stage("no_car_times", lambda: no_car_times(nearest, cats)) if nearest
          else pd.DataFrame({"id": cells["id"].astype(str)}))
    ev = stage("evening", lambda: evening_round_trips(net, pts, venues, date=date, categories=EVENING))
    sat = stage("saturday", lambda: saturday_access(net, pts, venues, date=date, categories=cats))
    counts = cells.drop(columns="geometry")
    extra = read_filosofi_barrier_counts(paths["filosofi"])
    counts = counts.merge(extra[["id", *[c for c in extra.columns if c not in counts.columns]]], on="id", how="left")
    prof = barrier_profile(counts)

    def alloc():
        import geopandas as gpd

        fil = gpd.read_file(paths["filosofi"])
        fil = fil[fil["men"] > 0].reset_index(drop=True) if "men" in fil.columns else fil
        census, iris = census_iris_tables(fil, rng=np.random.default_rng(16))
        c = census.rename(columns={"IRIS": "iris", "COM": "commune", "P21_RP": "households"})
        c["households_no_car"] = c["households"] - census["P21_RP_VOIT1P"]
        ir = iris.rename(columns={"CODE_IRIS": "iris", "INSEE_COM": "commune"}).to_crs(4326)
        return allocate_iris_to_cells(cells, c, ir[["iris", "commune", "geometry"]])

    al = stage("allocation", alloc)
    res["allocation_conserved"] = bool(np.isclose(al["census_households"].sum(), al.attrs["households_in_cells"]))
    epci = read_epci(paths["epci"])
    per_cell = cells.drop(columns="geometry").merge(prof, on="id").merge(al, on="id").merge(nc, on="id") \
        .merge(ev, on="id").merge(sat, on="id")

    def areas():
        links = attach_cells(cells[["id", "geometry"]], epci[["id", "geometry"]])
        ab = area_barriers(per_cell, links, categories=cats, counts=counts)
        return ab.merge(barrier_index(ab), on="id")

    ab = stage("areas", areas)
    res["evening_round_trip_share"] = {c: float((per_cell[f"evening_round_trip_{c}"] * per_cell["population"]).sum()
                                                / per_cell["population"].sum()) for c in EVENING}
    res["epci"] = len(ab)
    if a.compare_cells:
        import sys

        sys.path.insert(0, str(ROOT / "benchmarks"))
        from _evening_old import evening_round_trips as old_evening

        # half cells with a round trip to a cinema, half cells from the start of the table
        with_rt = np.flatnonzero(ev["evening_round_trip_cinema"].to_numpy())[: a.compare_cells // 2]
        rest = np.setdiff1d(np.arange(len(pts)), with_rt)[: a.compare_cells - len(with_rt)]
        sub = pts.iloc[np.sort(np.concatenate([with_rt, rest]))].reset_index(drop=True)
        rows = []
        for k in range(4):  # ABAB
            for name, fn in (("new", evening_round_trips), ("old", old_evening)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with _Peak() as pk:
                        out = fn(net, sub, venues, date=date, categories=EVENING)
                rows.append({"round": k, "code": name, "seconds": round(pk.seconds, 2),
                             "rss_added_mb": round(pk.peak - pk.before), "load": os.getloadavg()[0],
                             "round_trips": int(out[[f"evening_round_trip_{c}" for c in EVENING]].to_numpy().sum())})
                print(rows[-1])
        med = {n: float(np.median([r["seconds"] for r in rows if r["code"] == n])) for n in ("new", "old")}
        res["compare"] = {"cells": a.compare_cells, "runs": rows, "median_s": med,
                          "new_over_old": round(med["new"] / med["old"], 3)}
    res["load_average"] = os.getloadavg()
    write_json("bench_barriers", {"benchmark": "bench_barriers", **res}, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
