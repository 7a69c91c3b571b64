"""Benchmark of :func:`access.nearest_times` against the matrix it replaces, in the same run, on the same inputs.

Porto Alegre (real OSM + EPTC/TRENSURB): the 1,227 hexagon centroids as cells, 300 of them (seeded draw) as venues
in 6 categories. Baseline: the full ``travel_time_matrix`` (streets: bounded at a day, i.e. no practical cap;
transit: per-minute matrix) then the minimum per cell and category (transit: per minute, then the percentile), which
is what the pipeline's indicators did. Ours: ``nearest_times``. Both are checked equal before timing is reported.
Baseline and candidate alternate (ABAB, ``--repeat`` rounds after one warm-up run each that compiles the kernels),
so that the load of a shared machine weighs on both alike; medians of wall-clock and of process CPU seconds are
reported with the 1-min load average (with ``NUMBA_NUM_THREADS=1`` the CPU seconds are the work itself, which the
load of other processes barely moves).

    cd benchmarks && NUMBA_NUM_THREADS=1 python bench_nearest.py [--repeat 3] [--modes walk,bike,car,transit]

Writes a table to stdout and JSON to ``benchmarks/results/bench_nearest.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
import warnings

import numpy as np
import pandas as pd
from _common import need, write_json

import access
from access.core.raptor import percentile_index

CATEGORIES = ["library", "cinema", "museum", "theatre", "stage", "conservatoire"]
DEPARTURE = dt.datetime(2019, 5, 13, 14, 0)
WINDOW_MIN = 10
TRANSIT_MAX_MIN = 90


def _inputs(n_venues: int):
    hx = pd.read_csv(need("porto_alegre", "poa_hexgrid.csv"))
    rng = np.random.default_rng(14)
    cells = hx[["id", "lon", "lat"]].copy()
    v = hx.iloc[np.sort(rng.choice(len(hx), n_venues, replace=False))][["id", "lon", "lat"]].copy()
    v["id"] = "v" + v["id"].astype(str)
    v["category"] = rng.choice(CATEGORIES, len(v), p=[0.5, 0.15, 0.12, 0.1, 0.08, 0.05])
    return cells, v.reset_index(drop=True)


def _matrix_min(net, cells, venues, mode):
    cat = venues["category"].to_numpy()
    cats = np.unique(cat)
    if mode == "transit":
        ttm = access.travel_time_matrix(net, cells, venues, mode=mode, departure=DEPARTURE, window_min=WINDOW_MIN,
                                        max_time_min=TRANSIT_MAX_MIN, per_minute=True, progress=False)
        pm = ttm.per_minute_s.astype(np.int64)
        pm = np.where(pm < 0, np.iinfo(np.int64).max, pm)
        k = percentile_index([50.0], WINDOW_MIN)[0]
        cols = []
        for c in cats:
            v = np.sort(pm[:, cat == c, :].min(axis=1), axis=1)[:, k]
            cols.append(np.where(v > TRANSIT_MAX_MIN * 60, np.inf, v / 60.0))
        return np.column_stack(cols).reshape(-1)
    ttm = access.travel_time_matrix(net, cells, venues, mode=mode, max_time_min=24 * 60, progress=False)
    t = ttm.minutes(0)
    t = np.where(np.isnan(t), np.inf, t)
    return np.column_stack([t[:, cat == c].min(axis=1) for c in cats]).reshape(-1)


def _nearest(net, cells, venues, mode):
    kw = dict(departure=DEPARTURE, window_min=WINDOW_MIN, max_time_min=TRANSIT_MAX_MIN) if mode == "transit" else {}
    return access.nearest_times(net, cells, venues, mode=mode, **kw)["travel_time"].to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--venues", type=int, default=300)
    ap.add_argument("--modes", default="walk,bike,car,transit")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    modes = a.modes.split(",")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = access.TransportNetwork.from_files(need("porto_alegre", "poa_osm.pbf"),
                                                 gtfs=[need("porto_alegre", "poa_eptc.zip"),
                                                       need("porto_alegre", "poa_trensurb.zip")])
        cells, venues = _inputs(a.venues)
        rows = []
        for mode in modes:
            _matrix_min(net, cells, venues, mode), _nearest(net, cells, venues, mode)  # warm-up (compilation)
            tm, tn, cm, cn, ratios, loads = [], [], [], [], [], []
            equal = True
            for _ in range(a.repeat):  # ABAB: baseline, candidate, baseline, candidate, ...
                t0, c0 = time.perf_counter(), time.process_time()
                ref = _matrix_min(net, cells, venues, mode)
                t1, c1 = time.perf_counter(), time.process_time()
                got = _nearest(net, cells, venues, mode)
                t2, c2 = time.perf_counter(), time.process_time()
                tm.append(t1 - t0)
                tn.append(t2 - t1)
                cm.append(c1 - c0)
                cn.append(c2 - c1)
                ratios.append((t1 - t0) / (t2 - t1))
                loads.append(os.getloadavg()[0])
                equal = equal and bool(np.array_equal(ref, got))
            t_mat, t_near = statistics.median(tm), statistics.median(tn)
            rows.append(dict(mode=mode, cells=len(cells), venues=len(venues), categories=len(CATEGORIES),
                             matrix_min_s=t_mat, nearest_s=t_near, speedup=t_mat / t_near,
                             speedup_per_round=ratios, load_avg_1min=loads,
                             matrix_min_cpu_s=statistics.median(cm), nearest_cpu_s=statistics.median(cn),
                             cpu_speedup=statistics.median(cm) / statistics.median(cn), equal=equal,
                             finite_share=float(np.isfinite(got).mean())))
            print(f"{mode:8s} matrix+min {t_mat:8.3f} s   nearest_times {t_near:8.3f} s   x{t_mat / t_near:7.1f}"
                  f"   per round {' '.join(f'x{r:.1f}' for r in ratios)}   cpu x{rows[-1]['cpu_speedup']:.1f}"
                  f"   load {max(loads):.1f}   equal={equal}")
    write_json("bench_nearest", dict(inputs="Porto Alegre: 1,227 hexagon centroids x 300 venues (6 categories)",
                                     departure=DEPARTURE.isoformat(), window_min=WINDOW_MIN,
                                     transit_max_time_min=TRANSIT_MAX_MIN, repeat=a.repeat, results=rows), a.out)


if __name__ == "__main__":
    main()
