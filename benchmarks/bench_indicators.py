"""Benchmark of the accessibility measures.

1. Every measure on the real Belo Horizonte matrix (748,437 pairs), against the naive pandas formulation of the R
   package ``accessibility`` (merge the land use into the whole matrix, filter, group, sum) run in the same process
   on the same inputs. Medians of ``--repeat`` runs; the ratio is peer / ours. Target: < 1 s per measure.
2. A synthetic matrix of ``--pairs`` pairs (default 10^8), generated chunk by chunk to Parquet in a temporary
   folder (seeded), on which cumulative_cutoff, gravity and 2SFCA run chunked. Target: < 60 s, peak memory < 4 GB
   (RSS sampled every 10 ms with psutil during each call, and the process's ru_maxrss).

    python benchmarks/bench_indicators.py                 # full run
    python benchmarks/bench_indicators.py --pairs 1e7     # quick run

Writes a table to stdout and JSON to ``--out`` (default ``benchmarks/results/bench_indicators.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from _common import DATA
from access.indicators import (
    balancing_cost,
    cost_to_closest,
    cumulative_cutoff,
    cumulative_interval,
    decay_binary,
    decay_exponential,
    floating_catchment_area,
    gravity,
    spatial_availability,
)


# ----------------------------------------------------------------------------------------------------------------
# the peer: naive pandas, as the R package does it with data.table
# ----------------------------------------------------------------------------------------------------------------
def _j(m, lu, cols, side="to_id"):
    return m.merge(lu[["id", *cols]].rename(columns={"id": side}), on=side, how="left")


def peer_cumulative_cutoff(m, lu):
    d = _j(m, lu, ["jobs"])
    return d[d.travel_time <= 30].groupby("from_id").jobs.sum()


def peer_cumulative_interval(m, lu):
    d = _j(m, lu, ["jobs"])
    per = [d[d.travel_time <= c].groupby("from_id").jobs.sum().reindex(m.from_id.unique(), fill_value=0)
           for c in range(20, 31)]
    return np.floor(pd.concat(per, axis=1).median(axis=1))


def peer_gravity(m, lu):
    d = _j(m, lu, ["jobs"])
    return (d.jobs * np.exp(-0.1 * d.travel_time)).groupby(d.from_id).sum()


def peer_2sfca(m, lu):
    d = _j(m, lu, ["jobs"]).merge(lu[["id", "population"]].rename(columns={"id": "from_id"}), on="from_id")
    d["w"] = (d.travel_time <= 50).astype(float)
    served = (d.population * d.w).groupby(d.to_id).transform("sum")
    return (d.jobs / served * d.w).groupby(d.from_id).sum()


def peer_bfca(m, lu):
    d = _j(m, lu, ["jobs"]).merge(lu[["id", "population"]].rename(columns={"id": "from_id"}), on="from_id")
    d["w"] = np.exp(-0.5 * d.travel_time)
    bi = d.w / d.w.groupby(d.from_id).transform("sum")
    bj = d.w / d.w.groupby(d.to_id).transform("sum")
    served = (d.population * bi).groupby(d.to_id).transform("sum")
    return (d.jobs / served * bj).groupby(d.from_id).sum()


def peer_spatial_availability(m, lu):
    d = _j(m, lu, ["jobs"]).merge(lu[["id", "population"]].rename(columns={"id": "from_id"}), on="from_id")
    d["w"] = np.exp(-0.1 * d.travel_time)
    d["dbf"] = d.population / lu.population.sum()
    d["ibf"] = d.w / d.w.groupby(d.to_id).transform("sum")
    d["comb"] = d.dbf * d.ibf / (d.dbf * d.ibf).groupby(d.to_id).transform("sum")
    x = d.comb * d.jobs
    s = x.groupby(d.from_id).sum()
    s[x.isna().groupby(d.from_id).any()] = np.nan  # R's sum() without na.rm
    return s


def peer_cost_to_closest(m, lu):
    d = _j(m, lu, ["schools"])
    d = d[d.schools > 0].sort_values(["from_id", "travel_time"])
    d["cum"] = d.groupby("from_id").schools.cumsum()
    return d[d.cum >= 2].groupby("from_id").travel_time.min()


def peer_balancing_cost(m, lu):
    # R's loop: for each candidate cost 0, 1, 2, ... the cumulative opportunities of the origins not yet balanced
    d = _j(m, lu, ["jobs"])
    pop = lu.set_index("id").population
    done = {i: 0.0 for i in pop.index[pop == 0]}
    d = d[~d.from_id.isin(list(done))]
    for c in np.arange(0, d.travel_time.max() + 1):
        cum = d[d.travel_time <= c].groupby("from_id").jobs.sum()
        bal = cum[cum > pop.reindex(cum.index).to_numpy()]
        for i in bal.index:
            done[i] = float(c)
        d = d[~d.from_id.isin(bal.index)]
        if len(d) == 0:
            break
    return pd.Series(done)


def _cases(path, m):
    return [
        ("cumulative_cutoff(30)", lambda lu: cumulative_cutoff(path, lu, opportunity="jobs", cutoff=30),
         peer_cumulative_cutoff),
        ("cumulative_interval(20-30)", lambda lu: cumulative_interval(path, lu, opportunity="jobs",
                                                                      interval=(20, 30)), peer_cumulative_interval),
        ("gravity(exp 0.1)", lambda lu: gravity(path, lu, opportunity="jobs", decay_function=decay_exponential(0.1)),
         peer_gravity),
        ("fca 2sfca(binary 50)", lambda lu: floating_catchment_area(path, lu, opportunity="jobs", demand="population",
                                                                    decay_function=decay_binary(50)), peer_2sfca),
        ("fca bfca(exp 0.5)", lambda lu: floating_catchment_area(path, lu, opportunity="jobs", demand="population",
                                                                 method="bfca",
                                                                 decay_function=decay_exponential(0.5)), peer_bfca),
        ("spatial_availability(exp 0.1)", lambda lu: spatial_availability(
            path, lu, opportunity="jobs", demand="population", decay_function=decay_exponential(0.1)),
         peer_spatial_availability),
        ("cost_to_closest(n=2)", lambda lu: cost_to_closest(path, lu, opportunity="schools", n=2),
         peer_cost_to_closest),
        ("balancing_cost", lambda lu: balancing_cost(path, lu, opportunity="jobs", demand="population"),
         peer_balancing_cost),
    ]


def _median_time(fn, repeat):
    ts = []
    res = None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), res


def bench_bh(repeat: int) -> list[dict]:
    d = DATA / "belo_horizonte"
    path = d / "travel_matrix.parquet"
    if not path.exists():
        print(f"skip Belo Horizonte: {path} absent", file=sys.stderr)
        return []
    lu = pd.read_csv(d / "land_use_data.csv")
    m = pd.read_parquet(path)
    rows = []
    cases = _cases(path, m)
    for name, ours, _ in cases:  # warm-up (numba cache load)
        ours(lu)
        break
    for name, ours, peer in cases:
        t_ours, r = _median_time(lambda: ours(lu), repeat)
        # the peer gets the matrix already in memory (its reading time is not counted)
        t_peer, p = _median_time(lambda: peer(m, lu), 1 if name == "balancing_cost" else repeat)
        a = r.set_index("id").iloc[:, -1]
        b = p.reindex(a.index)
        agree = bool(np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=1e-9, equal_nan=True)
                     | np.all((np.isinf(a) & b.isna()) | np.isclose(a, b, rtol=1e-9, equal_nan=True)))
        rows.append({"measure": name, "pairs": len(m), "ours_s": t_ours, "peer_pandas_s": t_peer,
                     "speedup": t_peer / t_ours, "agree_1e-9": agree})
    return rows


# ----------------------------------------------------------------------------------------------------------------
# synthetic large matrix
# ----------------------------------------------------------------------------------------------------------------
def write_synthetic(path: Path, pairs: int, *, seed: int = 42, n_dest: int = 10_000, chunk: int = 4_000_000):
    """Origins x destinations (int32 ids, float32 minutes), written row group by row group; returns land use."""
    n_dest = min(n_dest, max(1, int(np.sqrt(pairs))))
    n_orig = max(1, pairs // n_dest)
    rng = np.random.default_rng(seed)
    schema = pa.schema([("from_id", pa.int32()), ("to_id", pa.int32()), ("travel_time", pa.float32())])
    per_chunk_orig = max(1, chunk // n_dest)
    dest_ids = np.arange(n_dest, dtype=np.int32)
    with pq.ParquetWriter(path, schema, compression="snappy") as w:
        for o0 in range(0, n_orig, per_chunk_orig):
            o1 = min(n_orig, o0 + per_chunk_orig)
            k = o1 - o0
            f = np.repeat(np.arange(o0, o1, dtype=np.int32), n_dest)
            t = np.tile(dest_ids, k)
            tt = rng.gamma(4.0, 12.0, k * n_dest).astype(np.float32)
            w.write_table(pa.table({"from_id": f, "to_id": t, "travel_time": tt}, schema=schema))
    n_ids = max(n_orig, n_dest)
    lu = pd.DataFrame({"id": np.arange(n_ids, dtype=np.int64),
                       "population": rng.integers(0, 2000, n_ids),
                       "jobs": rng.integers(0, 500, n_ids)})
    return lu, n_orig * n_dest


class _PeakRSS:
    def __init__(self, every_s=0.01):
        self.p = psutil.Process()
        self.every = every_s
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.peak = self.p.memory_info().rss
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.p.memory_info().rss)
            time.sleep(self.every)

    def __exit__(self, *a):
        self._stop.set()
        self.t.join()
        self.peak = max(self.peak, self.p.memory_info().rss)


def bench_synthetic(pairs: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_ind_") as tmp:
        path = Path(tmp) / "synthetic.parquet"
        t = time.perf_counter()
        lu, n = write_synthetic(path, pairs)
        gen_s = time.perf_counter() - t
        print(f"synthetic matrix: {n:,} pairs, {path.stat().st_size / 2**20:.0f} MiB, generated in {gen_s:.1f} s",
              file=sys.stderr)
        cases = [
            ("cumulative_cutoff(30)", lambda: cumulative_cutoff(path, lu, opportunity="jobs", cutoff=30)),
            ("gravity(exp 0.05)", lambda: gravity(path, lu, opportunity="jobs",
                                                  decay_function=decay_exponential(0.05))),
            ("cumulative_interval(20-30)", lambda: cumulative_interval(path, lu, opportunity="jobs",
                                                                       interval=(20, 30))),
            ("cost_to_closest(n=1)", lambda: cost_to_closest(path, lu, opportunity="jobs")),
            ("cost_to_closest(n=1000)", lambda: cost_to_closest(path, lu, opportunity="jobs", n=1000)),
            ("fca 2sfca(binary 45)", lambda: floating_catchment_area(path, lu, opportunity="jobs",
                                                                     demand="population",
                                                                     decay_function=decay_binary(45))),
            ("fca bfca(exp 0.05)", lambda: floating_catchment_area(path, lu, opportunity="jobs",
                                                                   demand="population", method="bfca",
                                                                   decay_function=decay_exponential(0.05))),
            ("spatial_availability(exp 0.05)", lambda: spatial_availability(
                path, lu, opportunity="jobs", demand="population", decay_function=decay_exponential(0.05))),
            ("balancing_cost", lambda: balancing_cost(path, lu, opportunity="jobs", demand="population")),
        ]
        for name, fn in cases:
            with _PeakRSS() as pk:
                t = time.perf_counter()
                res = fn()
                dt = time.perf_counter() - t
            rows.append({"measure": name, "pairs": n, "seconds": dt, "peak_rss_gib": pk.peak / 2**30,
                         "ids_out": len(res), "under_60s": dt < 60, "under_4gb": pk.peak < 4 * 2**30})
            print(f"  {name}: {dt:.1f} s, peak RSS {pk.peak / 2**30:.2f} GiB", file=sys.stderr)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=float, default=1e8, help="pairs of the synthetic matrix (default 1e8)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measure on Belo Horizonte (median)")
    ap.add_argument("--skip-bh", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_indicators.json"))
    args = ap.parse_args(argv)
    bh = [] if args.skip_bh else bench_bh(args.repeat)
    if bh:
        print(f"\nBelo Horizonte ({bh[0]['pairs']:,} pairs), median of {args.repeat} runs")
        print(f"{'measure':32s} {'ours s':>8s} {'pandas s':>9s} {'speedup':>8s}  agree")
        for r in bh:
            print(f"{r['measure']:32s} {r['ours_s']:8.3f} {r['peer_pandas_s']:9.3f} {r['speedup']:8.1f}  "
                  f"{r['agree_1e-9']}")
    syn = bench_synthetic(int(args.pairs)) if args.pairs > 0 else []
    if syn:
        print(f"\nSynthetic matrix, {syn[0]['pairs']:,} pairs, chunked from Parquet")
        print(f"{'measure':32s} {'seconds':>8s} {'peak GiB':>9s}")
        for r in syn:
            print(f"{r['measure']:32s} {r['seconds']:8.1f} {r['peak_rss_gib']:9.2f}")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB on Linux
    print(f"\nprocess ru_maxrss: {maxrss:.2f} GiB")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "bench_indicators", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                       "platform": platform.platform()},
           "belo_horizonte": bh, "synthetic": syn, "ru_maxrss_gib": maxrss}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
