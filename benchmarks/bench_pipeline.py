"""End-to-end pipeline benchmark (issue 5): ``access demo`` cold / warm / cached, and the Nantes real-data run.

Run: ``python benchmarks/bench_pipeline.py [--out FILE.json] [--skip-cold]``

- demo, cold: ``access demo`` in a fresh interpreter with an empty numba cache (``NUMBA_CACHE_DIR`` pointed at a
  new folder), i.e. what a new user waits for after ``pip install``: every kernel compiled, the region generated,
  the network built, four modes routed, indicators, typology and maps written. NUMBA_NUM_THREADS=2 (the 2-core
  target of the issue).
- demo, warm: the same in a fresh interpreter and a fresh output folder, numba cache filled.
- demo, cached: the same command again on the same folder (every step up to date).
- Nantes: real OSM + SEMITAN GTFS (central Nantes), a synthetic 200 m population grid and four synthetic areas
  (see ``tests/test_pipeline.py``), walk/bike/car/transit; per-step times of a fresh run, then a cached re-run.

There is no peer tool for a whole pipeline in this environment (r5py/R5 need Java), so the rows compare the same
work cold, warm and cached, measured in the same script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, peak_rss_mb, table, write_json

DEMO = ("import sys, time; t = time.perf_counter(); from access.cli import main; rc = main(sys.argv[1:]); "
        "print(f'__WALL__ {time.perf_counter() - t:.3f}'); sys.exit(rc)")


def _demo(out: Path, env: dict) -> dict:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", DEMO, "demo", "--out", str(out), "-q"], env=env, capture_output=True,
                       text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"access demo failed:\n{p.stderr[-3000:]}")
    steps = next((ln for ln in p.stderr.splitlines() if ln.startswith("steps:")), "")
    return {"wall_s": wall, "steps": steps.removeprefix("steps: ")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-cold", action="store_true", help="do not measure the cold (empty numba cache) demo")
    args = ap.parse_args()

    rows, payload = [], {}
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        env = dict(os.environ, NUMBA_NUM_THREADS="2", PYTHONPATH=str(ROOT / "src"))
        if not args.skip_cold:
            cold_env = dict(env, NUMBA_CACHE_DIR=str(td / "numba_cold"))
            r = _demo(td / "demo_cold", cold_env)
            rows.append({"run": "demo cold (empty numba cache)", **r})
        r = _demo(td / "demo_warm", env)
        rows.append({"run": "demo warm (numba cache filled)", **r})
        r = _demo(td / "demo_warm", env)
        rows.append({"run": "demo cached re-run (same --out)", **r})
        payload["demo"] = rows[:]

        # Nantes, in this process (kernels already compiled by the demo runs above, via the shared cache)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("NUMBA_NUM_THREADS", "2")
        import pandas as pd

        from access.region.pipeline import run

        try:
            from tests.test_pipeline import make_nantes_region
        except Exception as e:  # pytest.skip raised outside pytest when the data is absent
            print(f"Nantes run skipped: {e}")
            make_nantes_region = None
        if make_nantes_region is not None:
            try:
                recipe = make_nantes_region(td / "nantes_data")
            except BaseException as e:  # noqa: BLE001 - pytest's Skipped derives from BaseException
                print(f"Nantes run skipped: {e}")
                recipe = None
            if recipe is not None:
                for label in ("Nantes fresh run", "Nantes cached re-run"):
                    t = time.perf_counter()
                    res = run(recipe, td / "nantes_out", progress=False, log=lambda m: None)
                    wall = time.perf_counter() - t
                    steps = ", ".join(f"{k} {v:.1f}s" for k, v in res.timings_s.items() if k != "total")
                    rows.append({"run": label, "wall_s": wall, "steps": steps})
                    payload.setdefault("nantes", []).append(
                        {"run": label, "wall_s": wall, "timings_s": res.timings_s, "cells": len(res.cells),
                         "venues": len(pd.read_parquet(td / "nantes_out" / "venues.parquet")),
                         "reused": res.reused})
    print(table(rows, ["run", "wall_s", "steps"]))
    payload["peak_rss_mb_this_process"] = peak_rss_mb()
    write_json("bench_pipeline", payload, args.out)


if __name__ == "__main__":
    main()
