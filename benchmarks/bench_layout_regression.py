"""Before/after benchmark of the layout step (issue 11): the same workloads on two source trees, interleaved.

Run: ``python benchmarks/bench_layout_regression.py --before /work/wt/lint-before [--after .] [--rounds 2]
[--cases streets,transit,indicators,demo] [--transit-origins 300] [--out FILE.json]``

"before" is a checkout of the code before the layout step (commit 5f3bcef, e.g. ``git worktree add
/work/wt/lint-before 5f3bcef``), "after" this tree. Every case runs in a fresh interpreter with ``PYTHONPATH``
pointing at one tree's ``src``; the trees alternate (before, after, before, after...) so that both see the same
load on a shared machine, after one untimed warm-up run per tree and case (numba caches and network bundles filled).
Each run prints the seconds of the timed part only; the JSON holds every run, the medians, ``after / before`` per
case and the load average (``os.getloadavg()``) before each run.

Cases (public API only, so both trees run the same code path):

* ``streets``: Porto Alegre walk and car graphs, one-to-all searches from 200 random nodes each (``shortest_times``);
* ``transit``: the r5r Porto Alegre workload reduced to ``--transit-origins`` origins x the 1,227 hexagons
  (EPTC + TRENSURB, 2019-05-13 14:00, 120-minute window, percentiles 5/25/50/75/95, 120 min, 3 rides, 3.6 km/h);
* ``indicators``: the eight measures of ``bench_indicators.py`` on the Belo Horizonte matrix (748,437 pairs), once
  each after an untimed pass over all eight (so numba cache loads are not timed);
* ``demo``: what ``access demo`` does (generate the synthetic region, run its recipe) into a fresh folder, numba
  cache filled (warm), up to the ``indicators`` step: the steps both trees have (the report step of the old tree
  needs ``branca``, absent here; the barriers step is new). The synthetic region and the steps also changed with
  the issues merged since, so this ratio is not the layout's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ACCESS_TEST_DATA", ROOT.parent / "shared" / "data"))
if not DATA.exists():
    DATA = Path("/work/shared/data")

_PRELUDE = """
import os, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
import access
DATA = {data!r}
WORK = {work!r}
"""

CASES = {
    "streets": """
net = access.TransportNetwork.from_files(os.path.join(DATA, "porto_alegre", "poa_osm.pbf"), modes=["walk", "car"],
                                         cache_dir=os.path.join(WORK, "net_streets"))
rng = np.random.default_rng(0)
gs = [net.street(m) for m in ("walk", "car")]
srcs = [rng.choice(g.n_nodes, size=200, replace=False) for g in gs]
gs[0].shortest_times(srcs[0][:2])
t = time.perf_counter()
for g, s in zip(gs, srcs):
    g.shortest_times(s)
print("RESULT", time.perf_counter() - t)
""",
    "transit": """
d = os.path.join(DATA, "porto_alegre")
net = access.TransportNetwork.from_files(os.path.join(d, "poa_osm.pbf"),
                                         gtfs=[os.path.join(d, "poa_eptc.zip"), os.path.join(d, "poa_trensurb.zip")],
                                         modes=["walk"], cache_dir=os.path.join(WORK, "net_transit"))
hexes = pd.read_csv(os.path.join(d, "poa_hexgrid.csv"))
pts = hexes.rename(columns={{c: c.lower() for c in hexes.columns}})
kw = dict(mode="transit", departure="2019-05-13T14:00:00", window_min=120, percentiles=(5, 25, 50, 75, 95),
          max_time_min=120, max_rides=3, walk_speed_kmh=3.6, progress=False)
t = time.perf_counter()
m = access.travel_time_matrix(net, pts.iloc[:{transit_origins}].reset_index(drop=True), pts, **kw)
print("RESULT", time.perf_counter() - t, len(m.to_frame()))
""",
    "indicators": """
from access.indicators import (balancing_cost, cost_to_closest, cumulative_cutoff, cumulative_interval,
                               decay_binary, decay_exponential, floating_catchment_area, gravity, spatial_availability)
d = os.path.join(DATA, "belo_horizonte")
path = os.path.join(d, "travel_matrix.parquet")
lu = pd.read_csv(os.path.join(d, "land_use_data.csv"))
fns = [lambda: cumulative_cutoff(path, lu, opportunity="jobs", cutoff=30),
       lambda: cumulative_interval(path, lu, opportunity="jobs", interval=(20, 30)),
       lambda: gravity(path, lu, opportunity="jobs", decay_function=decay_exponential(0.1)),
       lambda: floating_catchment_area(path, lu, opportunity="jobs", demand="population",
                                       decay_function=decay_binary(50)),
       lambda: floating_catchment_area(path, lu, opportunity="jobs", demand="population", method="bfca",
                                       decay_function=decay_exponential(0.5)),
       lambda: spatial_availability(path, lu, opportunity="jobs", demand="population",
                                    decay_function=decay_exponential(0.1)),
       lambda: cost_to_closest(path, lu, opportunity="schools", n=2),
       lambda: balancing_cost(path, lu, opportunity="jobs", demand="population")]
for f in fns:  # every measure once first: numba cache loads and imports are not timed
    f()
t = time.perf_counter()
for f in fns:
    f()
print("RESULT", time.perf_counter() - t)
""",
    "demo": """
import tempfile
try:
    from access.region.pipeline import run
except ImportError:  # before the layout step
    from access.pipeline import run
from access.synth.demo import make_demo_region
out = tempfile.mkdtemp(prefix="demo_", dir=WORK)
t = time.perf_counter()
recipe = make_demo_region(os.path.join(out, "data"), seed=42)["recipe"]
run(recipe, out, fetch=True, progress=False, cache_dir=os.path.join(out, "cache", "sources"), until="indicators")
print("RESULT", time.perf_counter() - t)
""",
}


def _run(tree: Path, case: str, work: Path, transit_origins: int, threads: int) -> float:
    code = _PRELUDE.format(data=str(DATA), work=str(work)) + CASES[case].format(transit_origins=transit_origins)
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), NUMBA_NUM_THREADS=str(threads), MPLBACKEND="Agg")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(work))
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")]
    if p.returncode != 0 or not line:
        raise SystemExit(f"{case} on {tree} failed (rc {p.returncode}):\n{p.stderr[-3000:]}")
    return float(line[-1].split()[1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, type=Path)
    ap.add_argument("--after", default=ROOT, type=Path)
    ap.add_argument("--cases", default="streets,transit,indicators,demo")
    ap.add_argument("--rounds", type=int, default=2, help="timed runs per tree and case (ABAB...)")
    ap.add_argument("--transit-origins", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_layout_regression.json"))
    ap.add_argument("--merge", action="store_true", help="keep the other cases already in --out")
    args = ap.parse_args(argv)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    commits = {k: subprocess.run(["git", "-C", str(v), "rev-parse", "HEAD"], capture_output=True,
                                 text=True).stdout.strip() for k, v in trees.items()}
    works = {k: Path(tempfile.mkdtemp(prefix=f"layout_{k}_")) for k in trees}
    out: dict = {"trees": {k: str(v) for k, v in trees.items()}, "commits": commits, "threads": args.threads,
                 "transit_origins": args.transit_origins, "rounds": args.rounds, "cases": {},
                 "when": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if args.merge and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        out["cases"] = {k: {"rounds": old.get("rounds"), **v} for k, v in old.get("cases", {}).items()}
    for case in args.cases.split(","):
        for k in trees:  # warm-up: numba caches and network bundles
            _run(trees[k], case, works[k], args.transit_origins, args.threads)
        runs: dict = {"before_s": [], "after_s": [], "loadavg": []}
        for _ in range(args.rounds):
            for k in ("before", "after"):
                runs["loadavg"].append([round(x, 2) for x in os.getloadavg()])
                runs[f"{k}_s"].append(round(_run(trees[k], case, works[k], args.transit_origins, args.threads), 3))
        b, a = statistics.median(runs["before_s"]), statistics.median(runs["after_s"])
        runs.update(before_median_s=b, after_median_s=a, ratio_after_over_before=round(a / b, 3),
                    rounds=args.rounds, when=time.strftime("%Y-%m-%dT%H:%M:%S"))
        out["cases"][case] = runs
        print(f"{case:>10}: before {b:8.3f} s  after {a:8.3f} s  ratio {a / b:.3f}  load {runs['loadavg']}",
              flush=True)
        Path(args.out).write_text(json.dumps(out, indent=1))
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
