"""Region-scale benchmark (issue 7): chunked matrices with indicators in bounded memory, one process and Dask.

Run: ``python benchmarks/region_scale.py [--scale 1.0] [--workers 2] [--out FILE.json]``
(quick check: ``--scale 0.02 --curve-venues 100``).

On the synthetic Hauts-de-France of :func:`access.synth.region.make_region` (real commune geography, synthetic
streets, transit, Filosofi-style 200 m cells and Basilic-style venues; generated once into ``--workdir``):

1. **car**: every populated 200 m cell to every venue, ``max_time`` 60 min, written as partitioned Parquet
   (unreachable pairs dropped) with the per-cell indicators by venue category (nearest, counts within
   10/20/30/45 min, exponential gravity), in one process within ``--memory-budget-mb``;
2. **transit**: the cells aggregated to 1 km squares (population summed) to every venue, departures every
   minute of 14:00-14:30 on the recipe's date, median, with the same indicators;
3. **scaling curve** (car, all cells to the first ``--curve-venues`` venues): chunk sizes in one process, and
   1..``--workers`` Dask workers (processes, ``cpu_count // workers`` numba threads each).

Every run is a fresh subprocess; its peak memory is the largest RSS of the process plus its children (Dask workers
included), sampled every 50 ms with psutil (``ru_maxrss`` is not used: Linux carries it over from the parent across
fork and exec). Network build and region generation are timed apart; ``run_s`` includes snapping the points.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import ROOT, table, write_json

CUTOFFS = (10, 20, 30, 45)


# ---------------------------------------------------------------------------------------------------- one part
def _points(kind: str, region: Path):
    import numpy as np
    import pandas as pd

    from access.region.sources import read_basilic, read_filosofi

    if kind == "venues":
        v = read_basilic(region / "basilic.csv")
        return v[["id", "category", "geometry"]].reset_index(drop=True)
    cells = read_filosofi(region / "carreaux_200m_met.gpkg")
    cells = cells[cells["population"] > 0].reset_index(drop=True)
    if kind == "cells":
        return cells[["id", "population", "geometry"]]
    # 1 km squares: the 200 m cell ids carry their EPSG:3035 corner (CRS3035RES200mN<y>E<x>)
    ids = cells["id"].astype(str)
    y = ids.str.extract(r"N(\d+)")[0].astype(np.int64)
    x = ids.str.extract(r"E(\d+)")[0].astype(np.int64)
    ky, kx = (y // 1000) * 1000, (x // 1000) * 1000
    df = pd.DataFrame({"id": "CRS3035RES1000mN" + ky.astype(str) + "E" + kx.astype(str),
                       "x": kx + 500.0, "y": ky + 500.0, "population": cells["population"].to_numpy()})
    agg = df.groupby("id", sort=True).agg(x=("x", "first"), y=("y", "first"), population=("population", "sum"))
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(3035, 4326, always_xy=True).transform(agg["x"].to_numpy(), agg["y"].to_numpy())
    return pd.DataFrame({"id": agg.index.to_numpy(), "lon": lon, "lat": lat,
                         "population": agg["population"].to_numpy()})


def run_part(spec: dict) -> dict:
    """One measured run (in its own process): prints a JSON line."""
    import psutil

    from access.scale.chunked import Indicators
    from access.scale.distributed import chunked_matrix
    from access.indicators import decay_exponential
    from access.io.places import read_points

    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            except psutil.Error:
                rss = 0
            peak[0] = max(peak[0], rss)
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    region = Path(spec["region"])
    t0 = time.perf_counter()
    o = read_points(_points(spec["origins"], region), name="origins")
    d = read_points(_points("venues", region), name="destinations")
    if spec.get("sample"):  # every k-th origin
        k = max(1, len(o) // int(spec["sample"]))
        o = read_points(o.frame.iloc[::k].iloc[:int(spec["sample"])].reset_index(drop=True), name="origins")
    n_venues = spec.get("n_venues")
    if n_venues:
        d = read_points(d.frame.iloc[:n_venues].reset_index(drop=True), name="destinations")
    t_read = time.perf_counter() - t0
    ind = Indicators(category="category", cutoffs_min=CUTOFFS, decay_function=decay_exponential(0.05))
    opts = dict(mode=spec["mode"], max_time_min=spec["max_time_min"])
    if spec["mode"] == "transit":
        import datetime as dt

        opts.update(departure=dt.datetime.fromisoformat(spec["departure"]), window_min=spec["window_min"],
                    percentiles=(50,))
    out = Path(spec["out"])
    if out.exists():
        import shutil

        shutil.rmtree(out)
    import warnings

    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = chunked_matrix(spec["bundle"], o, d, out, chunk_size=spec.get("chunk_size"),
                             memory_budget_mb=spec.get("memory_budget_mb"), workers=spec.get("workers"),
                             indicators=ind, drop_unreachable=True, write_matrix=spec.get("write_matrix", True),
                             progress=False, **opts)
    t_run = time.perf_counter() - t1
    stop.set()
    th.join()
    import pyarrow.parquet as pq

    rows = sum(pq.read_metadata(p).num_rows for p in res.partitions) if res.has_matrix else 0
    size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    return dict(mode=spec["mode"], origins=res.n_origins, destinations=res.n_destinations, chunks=res.n_chunks,
                chunk_size=res.chunk_size, direction=res.direction, workers=spec.get("workers") or 0,
                read_s=round(t_read, 2), run_s=round(t_run, 2), pairs_written=rows,
                parquet_mb=round(size / 2**20, 1), peak_rss_mb=round(peak[0] / 2**20, 1))


def _spawn(spec: dict) -> dict:
    r = subprocess.run([sys.executable, __file__, "--_part", json.dumps(spec)], capture_output=True, text=True,
                       cwd=str(ROOT / "benchmarks"))
    if r.returncode != 0:
        raise SystemExit(f"part {spec} failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------- driver
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="region scale (1.0: the whole region)")
    ap.add_argument("--workdir", default=None, help="where the region and its network are generated (kept)")
    ap.add_argument("--workers", type=int, default=2, help="largest Dask worker count of the curve")
    ap.add_argument("--memory-budget-mb", type=float, default=1024.0)
    ap.add_argument("--car-max-time", type=float, default=60.0)
    ap.add_argument("--transit-max-time", type=float, default=60.0)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--transit-sample", type=int, default=0, help="transit: every k-th 1 km square, this many (0: all)")
    ap.add_argument("--curve-venues", type=int, default=2000, help="venues of the scaling-curve runs")
    ap.add_argument("--chunk-sizes", default="512,2048,8192")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: car,transit,curve")
    ap.add_argument("--out", default=None)
    ap.add_argument("--_part", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._part:
        print(json.dumps(run_part(json.loads(args._part))))
        return

    from access.network.bundle import TransportNetwork
    from access.synth.region import ANALYSIS_DATE, make_region

    work = Path(args.workdir or Path(tempfile.gettempdir()) / f"access_region_{args.scale:g}")
    region = work / "region"
    skip = set(filter(None, args.skip.split(",")))
    info: dict = dict(scale=args.scale, workdir=str(work))
    t0 = time.perf_counter()
    if not (region / "manifest.json").exists():
        make_region(region, scale=args.scale, seed=0)
        info["make_region_s"] = round(time.perf_counter() - t0, 1)
    counts = json.loads((region / "manifest.json").read_text())["counts"]
    info["region_counts"] = {k: counts[k] for k in ("street_nodes", "stops", "cells", "venues") if k in counts}
    t0 = time.perf_counter()
    net = TransportNetwork.from_files(region / "region.osm.pbf", gtfs=[region / "region.gtfs.zip"],
                                      modes=("walk", "car"), cache_dir=work / "networks")
    info["network_load_or_build_s"] = round(time.perf_counter() - t0, 1)
    bundle = work / "networks" / net.manifest["key"]
    info["network"] = repr(net)
    del net
    print(f"region scale {args.scale}: {info['region_counts']}\n{info['network']}", flush=True)
    base = dict(region=str(region), bundle=str(bundle))
    runs = []
    if "car" not in skip:
        r = _spawn(dict(base, mode="car", origins="cells", max_time_min=args.car_max_time,
                        memory_budget_mb=args.memory_budget_mb, out=str(work / "out_car")))
        r["part"] = "car: cells x venues + indicators"
        runs.append(r)
        print(r, flush=True)
    if "transit" not in skip:
        r = _spawn(dict(base, mode="transit", origins="cells_1km", max_time_min=args.transit_max_time,
                        departure=f"{ANALYSIS_DATE}T14:00", window_min=args.window, sample=args.transit_sample,
                        memory_budget_mb=args.memory_budget_mb, out=str(work / "out_transit")))
        r["part"] = (f"transit: 1 km squares{' (sample)' if args.transit_sample else ''} x venues, "
                     f"{args.window} min window")
        runs.append(r)
        print(r, flush=True)
    if "curve" not in skip:
        for cs in [int(c) for c in args.chunk_sizes.split(",") if c]:
            r = _spawn(dict(base, mode="car", origins="cells", max_time_min=args.car_max_time, chunk_size=cs,
                            n_venues=args.curve_venues, out=str(work / "out_curve")))
            r["part"] = f"curve: chunk {cs}, 1 process"
            runs.append(r)
            print(r, flush=True)
        r = _spawn(dict(base, mode="car", origins="cells", max_time_min=args.car_max_time,
                        memory_budget_mb=args.memory_budget_mb, n_venues=args.curve_venues,
                        out=str(work / "out_curve")))
        r["part"] = "curve: memory budget, 1 process"
        runs.append(r)
        print(r, flush=True)
        for w in range(1, args.workers + 1):
            r = _spawn(dict(base, mode="car", origins="cells", max_time_min=args.car_max_time,
                            memory_budget_mb=args.memory_budget_mb, n_venues=args.curve_venues, workers=w,
                            out=str(work / "out_curve")))
            r["part"] = f"curve: {w} Dask workers"
            runs.append(r)
            print(r, flush=True)
    cols = ["part", "origins", "destinations", "chunks", "chunk_size", "direction", "workers", "run_s",
            "pairs_written", "parquet_mb", "peak_rss_mb"]
    print("\nRegion-scale chunked matrices (seconds exclude reading the points; peak RSS includes Dask workers)")
    print(table(runs, cols))
    targets = {}
    car = next((r for r in runs if r["part"].startswith("car")), None)
    if car:
        targets = dict(car_under_10_min=car["run_s"] < 600, car_peak_under_8_gb=car["peak_rss_mb"] < 8192)
        print(f"\ntargets (2 cores): car {car['run_s']:.0f} s < 600 s: {targets['car_under_10_min']}; "
              f"peak {car['peak_rss_mb']:.0f} MB < 8192 MB: {targets['car_peak_under_8_gb']}")
    write_json("region_scale", dict(info, settings=vars(args) | {"_part": None}, runs=runs, targets=targets),
               args.out)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
