"""Transit benchmark (issue 3): the r5r paper's Porto Alegre walk + transit matrix, and profile queries per second.

Run: ``python benchmarks/bench_transit.py [--threads 2] [--origins 1227] [--out FILE.json]``

1. Porto Alegre, EPTC + TRENSURB, 1,227 x 1,227 H3 hexagons, 2019-05-13 14:00, 120-minute window, percentiles
   5/25/50/75/95, max trip 120 min, walking unlimited within the trip (r5r's default), 3 rides, 3.6 km/h: total
   wall time of ``access.travel_time_matrix`` (network already built), CPU time, time per origin, peak memory.
   Compile time is measured apart, in a fresh interpreter with an empty numba cache.
   Anchor: the r5r paper reports "less than two minutes" for this matrix with R5 on a 1.9 GHz i7.
2. Clermont-Ferrand T2C: one-to-all range-RAPTOR profiles (stop to every stop, 60-minute window, 3 rides) per
   second, and single-departure one-to-all queries per second.
3. r5py on the same inputs where it can run (it needs its R5 jar, downloaded at import: offline it cannot).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from _common import ROOT, need, peak_rss_mb, table, write_json

DEPARTURE = "2019-05-13T14:00:00"
PCTS = (5, 25, 50, 75, 95)


def _compile_time(pbf, gtfs, threads) -> dict:
    """First-call time (compile) with an empty numba cache, in a fresh interpreter, minus a second call."""
    code = f"""
import time, warnings, datetime as dt, numpy as np, pandas as pd, numba
numba.set_num_threads({threads})
warnings.simplefilter('ignore')
import access
from access.routing.transit import transit_travel_times
net = access.TransportNetwork.from_files({str(pbf)!r}, gtfs={[str(g) for g in gtfs]!r}, modes=['walk'])
g = net.street('walk')
s = g.snap(np.array([-51.22, -51.20]), np.array([-30.03, -30.05]), warn=False)
kw = dict(departure=dt.datetime(2019, 5, 13, 14), window_min=3, percentiles=(50,), max_time_s=3600, progress=False)
t = time.perf_counter(); transit_travel_times(net, s, s, **kw); a = time.perf_counter() - t
t = time.perf_counter(); transit_travel_times(net, s, s, **kw); b = time.perf_counter() - t
print('RESULT', a, b)
"""
    env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp(prefix="numba_cold_"),
               PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")]
    if not line:
        return {"error": out.stderr[-500:]}
    a, b = map(float, line[0].split()[1:])
    return {"first_call_s": round(a, 2), "second_call_s": round(b, 3), "compile_s": round(a - b, 2)}


def _try_r5py() -> dict:
    try:
        import r5py  # noqa: F401
    except Exception as e:  # r5py downloads its R5 jar at import; offline (or not installed) it fails
        return {"ran": False, "reason": f"r5py unavailable: {type(e).__name__}: {str(e)[:200]}"}
    return {"ran": False, "reason": "r5py imported, but running it needs a JVM >= 21 and the R5 jar; not attempted"}


def _old_vs_new(net, origins, pts, window, new_times) -> dict:
    """The same matrix with the kernel as it was before issue 17 and with the current one, alternated (old, new,
    old, new); results must be identical."""
    import access
    from access.core import raptor as rp

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import _raptor_old

    new_kernel = rp.range_raptor_matrix
    kw = dict(mode="transit", departure=DEPARTURE, window_min=window, percentiles=PCTS, max_time_min=120,
              max_rides=3, walk_speed_kmh=3.6, progress=False)
    out = {"old_s": [], "new_s": [], "loadavg": []}
    try:
        for kernel, key in ((_raptor_old.range_raptor_matrix, "old_s"), (new_kernel, "new_s")) * 2:
            rp.range_raptor_matrix = kernel
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                access.travel_time_matrix(net, origins.iloc[:2], pts.iloc[:2], **dict(kw, window_min=2))
                t = time.perf_counter()
                m = access.travel_time_matrix(net, origins, pts, **kw)
                out[key].append(round(time.perf_counter() - t, 2))
            out["loadavg"].append(os.getloadavg())
            if not np.array_equal(m.times_s, new_times):
                raise SystemExit(f"{key}: the kernel's matrix differs from the main run")
    finally:
        rp.range_raptor_matrix = new_kernel
    out["identical"] = True
    out["ratio_old_over_new"] = round(min(out["old_s"]) / min(out["new_s"]), 3)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--origins", type=int, default=None, help="subset of origins (default: all 1,227)")
    ap.add_argument("--window", type=int, default=120)
    ap.add_argument("--profile-sources", type=int, default=200)
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--compare-old", action="store_true",
                    help="also run the pre-issue-17 matrix kernel (benchmarks/_raptor_old.py) on the same inputs")
    ap.add_argument("--skip-clermont", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import numba
    import pandas as pd

    import access
    from access.core import raptor as rp
    from access.network.transit import Timetable
    from access.routing.transit import BOARD_SLACK_S

    threads = min(args.threads, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    pbf = need("porto_alegre", "poa_osm.pbf")
    gtfs = [need("porto_alegre", "poa_eptc.zip"), need("porto_alegre", "poa_trensurb.zip")]
    hexgrid = pd.read_csv(need("porto_alegre", "poa_hexgrid.csv"))
    results: dict = {"threads": threads, "departure": DEPARTURE, "window_min": args.window, "percentiles": PCTS}

    r5 = _try_r5py()
    print(f"r5py: {r5['reason']}")
    results["r5py"] = r5

    if not args.skip_compile:
        comp = _compile_time(pbf, gtfs, threads)
        results["compile"] = comp
        print(f"compile (cold numba cache, fresh interpreter): {comp}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        net = access.TransportNetwork.from_files(pbf, gtfs=gtfs, modes=("walk",))
        build_s = time.perf_counter() - t
    tt = net.timetable
    print(f"network build (OSM walk + 2 feeds): {build_s:.2f} s; {tt!r}; unlinked stops: {tt.meta['n_unlinked']}")
    pts = hexgrid.rename(columns={"id": "id"})[["id", "lon", "lat"]]
    origins = pts if args.origins is None else pts.iloc[: args.origins]

    # warm call (compiled code loaded from the cache), then the timed run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        access.travel_time_matrix(net, origins.iloc[:2], pts.iloc[:2], mode="transit", departure=DEPARTURE,
                                  window_min=2, percentiles=PCTS, max_time_min=120, progress=False)
        rss0 = peak_rss_mb()
        t = time.perf_counter()
        c = time.process_time()
        m = access.travel_time_matrix(net, origins, pts, mode="transit", departure=DEPARTURE, window_min=args.window,
                                      percentiles=PCTS, max_time_min=120, max_rides=3, walk_speed_kmh=3.6,
                                      progress=False)
        wall = time.perf_counter() - t
        cpu = time.process_time() - c
    times = m.times_s
    n_o = times.shape[0]
    reach = (times >= 0).mean(axis=(0, 1))
    med = [float(np.median(times[..., k][times[..., k] >= 0]) / 60) for k in range(times.shape[2])]
    mat = dict(n_origins=n_o, n_destinations=times.shape[1], wall_s=round(wall, 2), cpu_s=round(cpu, 2),
               per_origin_ms=round(1000 * wall / n_o, 2), cpu_per_origin_ms=round(1000 * cpu / n_o, 2),
               peak_rss_mb=round(peak_rss_mb(), 1), peak_rss_before_matrix_mb=round(rss0, 1),
               reachable_share={f"p{p}": round(float(r), 4) for p, r in zip(PCTS, reach)},
               median_minutes={f"p{p}": round(v, 2) for p, v in zip(PCTS, med)},
               load_average=os.getloadavg())
    results["poa_matrix"] = mat
    results["network_build_s"] = round(build_s, 2)
    if args.compare_old:
        results["kernel_old_vs_new"] = _old_vs_new(net, origins, pts, args.window, m.times_s)
        print(f"old vs new kernel, same run: {results['kernel_old_vs_new']}")
    if args.skip_clermont:
        write_json("bench_transit", results, args.out)
        return

    # Clermont one-to-all profiles
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ct = Timetable.build(need("clermont_ferrand", "t2c_gtfs_2024.zip"))
    day = ct.for_date("2024-03-12")
    x = ct.transfers_csr()
    rng = np.random.default_rng(0)
    src = rng.choice(np.flatnonzero(ct.stop_used), args.profile_sources).astype(np.int32)
    off = np.arange(len(src) + 1, dtype=np.int64)
    zero = np.zeros(len(src), np.int32)
    prof = {}
    for name, deps in (("profile_60min", 8 * 3600 + 60 * np.arange(60)), ("single_departure", [8 * 3600])):
        deps = np.asarray(deps, np.int32)
        rp.stop_profiles(off[:2], src[:1], zero[:1], deps, 3, 7200, BOARD_SLACK_S, *day.kernel_args(), *x,
                         4 * threads, True)
        t = time.perf_counter()
        rp.stop_profiles(off, src, zero, deps, 3, 7200, BOARD_SLACK_S, *day.kernel_args(), *x, 4 * threads, True)
        dtm = time.perf_counter() - t
        prof[name] = dict(queries=len(src), seconds=round(dtm, 3), queries_per_s=round(len(src) / dtm, 1))
    results["clermont"] = prof

    rows = [
        dict(what="PoA matrix total (s)", value=mat["wall_s"]),
        dict(what="PoA matrix CPU (s)", value=mat["cpu_s"]),
        dict(what="per origin (ms)", value=mat["per_origin_ms"]),
        dict(what="compile, cold cache (s)", value=results.get("compile", {}).get("compile_s")),
        dict(what="peak RSS (MB)", value=mat["peak_rss_mb"]),
        dict(what="Clermont 60-min profiles / s", value=prof["profile_60min"]["queries_per_s"]),
        dict(what="Clermont one-to-all departures / s", value=prof["single_departure"]["queries_per_s"]),
        dict(what="r5py", value="not run"),
    ]
    print(f"\n{n_o} x {times.shape[1]} matrix, {args.window} min window, {threads} threads, "
          f"load average {os.getloadavg()}")
    print(table(rows, ["what", "value"]))
    print(f"reachable share by percentile: {mat['reachable_share']}; median minutes: {mat['median_minutes']}")
    write_json("bench_transit", results, args.out)


if __name__ == "__main__":
    main()
