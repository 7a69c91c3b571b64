"""Sparse vs dense scenario state (issue 17): build time, memory and venue add/remove latency, in the same run.

Run: ``python benchmarks/bench_state.py [--scale 0.1] [--max-time 45] [--sample-venues 40] [--out FILE.json]``

Parts, each a fresh subprocess (its peak RSS, sampled every 20 ms with psutil, is its own):

1. **Porto Alegre** (real OSM + EPTC GTFS): the 1,227 hexagons x the schools and health centres (walk 30 min,
   car 30 min, transit 45 min with a 10-min window), ``storage="sparse"`` vs ``storage="dense"``;
2. **region-scale synthetic** (``access.synth.region`` at ``--scale``): every populated 200 m cell x every venue
   (all Basilic types), car ``--max-time`` minutes, sparse vs dense;
3. **sample at scale 1.0** (``--full-sample``, optional: generates the scale-1.0 region once): a sparse state of
   ``--sample-venues`` random venues x every populated cell on the whole region-scale network (add/remove latency
   measured there), extrapolated to every venue for the pairs, memory and build time (said so in the JSON).

Each part reports the build seconds, the state's bytes (``AccessibilityState.memory_bytes``: the dense state
allocates room for twice its venues; ``dense_matrix_mb`` is the bare cells x venues int32 matrix), the peak RSS, and the
median latency of adding (one reverse search + the updates) and removing a venue; the sparse/dense ratios are taken
within the run. The load average during the run is recorded (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, ROOT, table, write_json  # noqa: E402

if os.environ.get("ACCESS_BENCH_SRC"):  # a baseline child: import `access` from another checkout's src
    for _m in [m for m in sys.modules if m == "access" or m.startswith("access.")]:
        del sys.modules[_m]
    sys.path.insert(0, os.environ["ACCESS_BENCH_SRC"])

warnings.simplefilter("ignore")
POA_DAY = "2019-05-13T14:00"


# ------------------------------------------------------------------------------------------------ child
def _poa(spec):
    import pandas as pd

    from access import TransportNetwork

    d = DATA / "porto_alegre"
    gtfs = [d / "poa_eptc.zip"] if spec["mode"] == "transit" else []
    net = TransportNetwork.from_files(d / "poa_osm.pbf", gtfs=gtfs, modes=("walk", "car"),
                                      cache_dir=Path(spec["work"]) / "poa_cache")
    h = pd.read_csv(d / "poa_hexgrid.csv")
    s, c = h[h.schools > 0], h[h.healthcare > 0]
    venues = pd.concat([pd.DataFrame({"id": "s" + s.id, "lon": s.lon, "lat": s.lat, "category": "school",
                                      "capacity": s.schools}),
                        pd.DataFrame({"id": "h" + c.id, "lon": c.lon, "lat": c.lat, "category": "health",
                                      "capacity": c.healthcare})], ignore_index=True)
    return net, h[["id", "lon", "lat", "population"]], venues


def _region(spec):
    from access.network.bundle import TransportNetwork
    from access.region.sources import read_basilic, read_filosofi

    region = Path(spec["region"])
    net = TransportNetwork.load(spec["bundle"])
    cells = read_filosofi(region / "carreaux_200m_met.gpkg")
    cells = cells[cells["population"] > 0].reset_index(drop=True)[["id", "population", "geometry"]]
    v = read_basilic(region / "basilic.csv")[["id", "category", "geometry"]].reset_index(drop=True)
    v["capacity"] = 1.0
    return net, cells, v


def child(spec: dict) -> dict:
    import numpy as np
    import psutil

    from access.io.places import read_points
    from access.scenarios import AccessibilityState

    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.02)

    net, cells, venues = (_poa if spec["city"] == "poa" else _region)(spec)
    kw = dict(mode=spec["mode"], max_time_min=spec["max_time_min"])
    if spec["mode"] == "transit":
        kw.update(departure=POA_DAY, window_min=spec.get("window_min", 10))
    cells_pts = read_points(cells, name="cells")
    out = dict(spec, cells=len(cells), venues=len(venues))
    if spec.get("venue_subset"):  # a subset of the venues (to extrapolate the whole state from)
        out["venues_total"] = len(venues)
        venues = venues.sample(spec["venue_subset"], random_state=0).reset_index(drop=True)
        out["venues"] = len(venues)
    if spec.get("warm"):  # load the compiled kernels first (a tiny state), so build_s is the build only
        import access

        out["access_file"] = access.__file__
        AccessibilityState.build(net, cells.iloc[:50], venues.iloc[:2], storage=spec["storage"], **kw)
    pre = proc.memory_info().rss
    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    st = AccessibilityState.build(net, cells_pts, venues, storage=spec["storage"], **kw)
    out["build_s"] = time.perf_counter() - t0
    stop.set()
    out["peak_rss_mb"] = peak[0] / 2**20
    out["build_rss_growth_mb"] = (peak[0] - pre) / 2**20
    out["memory"] = st.memory_bytes()
    # latencies: add venues a few metres from random cells, then remove existing ones (median of n)
    rng = np.random.default_rng(1)
    n = spec.get("edits", 10)
    pick = rng.choice(len(cells_pts), 4 * n, replace=False)
    cat0 = str(st.venues()["category"].iloc[0])
    adds, searches = [], []
    added = 0
    for i in pick:
        lo, la = cells_pts.lon[i] + rng.normal(0, 3e-4), cells_pts.lat[i] + rng.normal(0, 3e-4)
        t0 = time.perf_counter()
        try:
            col = st.column(lo, la)
        except Exception:  # off the network: pick another  # noqa: BLE001
            continue
        t1 = time.perf_counter()
        st.add_venue(f"bench{i}", lo, la, category=cat0, capacity=1.0, column=col)
        adds.append(time.perf_counter() - t0)
        searches.append(t1 - t0)
        added += 1
        if added == n:
            break
    rem = []
    for vid in list(st.venue_ids)[:n]:
        t0 = time.perf_counter()
        st.remove_venue(vid)
        rem.append(time.perf_counter() - t0)
    out.update(add_s=statistics.median(adds), add_search_s=statistics.median(searches),
               remove_s=statistics.median(rem), edits=len(adds))
    return out


# ------------------------------------------------------------------------------------------------ parent
def spawn(spec: dict) -> dict:
    env = dict(os.environ)
    env.pop("ACCESS_BENCH_SRC", None)
    if spec.get("src"):
        env["ACCESS_BENCH_SRC"] = spec["src"]
    la0 = os.getloadavg()
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, __file__, "--_child", json.dumps(spec)], capture_output=True, text=True,
                       env=env, cwd=ROOT)
    if p.returncode != 0:
        print(p.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"part {spec} failed")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["wall_s"] = time.perf_counter() - t0
    r["loadavg_before"] = la0
    r["loadavg_after"] = os.getloadavg()
    return r


def region_bundle(scale: float, work: Path) -> tuple[Path, Path]:
    from access.network.bundle import TransportNetwork
    from access.synth.region import make_region

    region = work / "region"
    if not (region / "manifest.json").exists():
        make_region(region, scale=scale, seed=0)
    net = TransportNetwork.from_files(region / "region.osm.pbf", modes=("walk", "car"), cache_dir=work / "networks")
    return region, work / "networks" / net.manifest["key"]


def full_build(a, work: Path) -> int:
    """--full-build: every venue x every populated cell on the scale-1.0 network (no extrapolation), and the A/B."""
    la_start, t_start = os.getloadavg(), time.perf_counter()
    region, bundle = region_bundle(1.0, work / "region_1")
    base = dict(city="region", scale=1.0, storage="sparse", region=str(region), bundle=str(bundle), warm=True)
    ab = []
    if a.baseline_src:
        for rep in range(2):  # A B A B, same sample, same load
            for name, src in (("baseline", a.baseline_src), ("current", None)):
                r = spawn(dict(base, mode="car", max_time_min=a.max_time, venue_subset=a.ab_venues, src=src,
                               edits=3))
                ab.append(dict(r, variant=name, rep=rep))
                print(f"A/B {name} rep {rep}: build {r['build_s']:.1f} s, load {r['loadavg_before'][0]:.1f}")
    full = []
    for mode in ("car", "walk"):
        r = spawn(dict(base, mode=mode, max_time_min=a.max_time))
        full.append(r)
        print(f"full {mode} {a.max_time:g} min: {r['venues']} venues x {r['cells']} cells, build {r['build_s']:.1f} s, "
              f"state {r['memory']['total'] / 2**20:.0f} MB, peak RSS {r['peak_rss_mb']:.0f} MB, add "
              f"{r['add_s'] * 1e3:.1f} ms, remove {r['remove_s'] * 1e3:.2f} ms, load {r['loadavg_before'][0]:.1f}"
              f"-{r['loadavg_after'][0]:.1f}")
    rows = [dict(part=f"full region {r['mode']} {r['max_time_min']:g} min", cells=r["cells"], venues=r["venues"],
                 pairs=r["memory"]["pairs"], state_mb=r["memory"]["total"] / 2**20,
                 dense_matrix_mb=4 * r["cells"] * r["venues"] / 2**20, build_s=r["build_s"],
                 build_target_s=120, peak_rss_mb=r["peak_rss_mb"], add_ms=r["add_s"] * 1e3,
                 remove_ms=r["remove_s"] * 1e3, load_before=r["loadavg_before"][0], load_after=r["loadavg_after"][0])
            for r in full]
    print(table(rows, list(rows[0])))
    summary = {}
    if ab:
        med = {v: statistics.median(r["build_s"] for r in ab if r["variant"] == v) for v in ("baseline", "current")}
        summary = dict(ab_venues=a.ab_venues, baseline_build_s=med["baseline"], current_build_s=med["current"],
                       speedup=med["baseline"] / med["current"])
        print(f"A/B ({a.ab_venues} venues, car {a.max_time:g} min, medians of 2): baseline {med['baseline']:.1f} s, "
              f"current {med['current']:.1f} s, x{summary['speedup']:.2f}")
    write_json("bench_state_full", dict(benchmark="bench_state --full-build", rows=rows, full=full, ab=ab,
                                        ab_summary=summary, loadavg_start=la_start, loadavg_end=os.getloadavg(),
                                        total_s=time.perf_counter() - t_start,
                                        note="full builds: every venue type, every populated 200 m cell, the "
                                             "scale-1.0 region-scale network, measured (not extrapolated); the "
                                             "machine is shared: see the load averages"), a.out)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--max-time", type=float, default=45.0, help="region car state max time (min)")
    ap.add_argument("--full-sample", action="store_true", help="also sample venue searches at scale 1.0")
    ap.add_argument("--sample-venues", type=int, default=200, help="venues of the scale-1.0 sample state")
    ap.add_argument("--full-build", action="store_true",
                    help="whole region at scale 1.0, every venue: full sparse builds (car and walk, --max-time), "
                         "and an A/B on --ab-venues venues against --baseline-src")
    ap.add_argument("--ab-venues", type=int, default=1000)
    ap.add_argument("--baseline-src", default=None, help="another checkout's src/ (e.g. `git archive` of the "
                    "previous commit) built in the same run, interleaved")
    ap.add_argument("--skip", default="", help="comma-separated: poa,region")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        print(json.dumps(child(json.loads(a._child)), default=float))
        return 0
    work = Path(a.workdir or Path(tempfile.gettempdir()) / "access_bench_state")
    work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, a.skip.split(",")))
    if a.full_build:
        return full_build(a, work)
    rows, t_start, la_start = [], time.perf_counter(), os.getloadavg()
    pairs = []
    if "poa" not in skip:
        for mode, mt in (("walk", 30), ("car", 30), ("transit", 45)):
            pairs.append([spawn(dict(city="poa", mode=mode, max_time_min=mt, storage=s, work=str(work)))
                          for s in ("sparse", "dense")])
    info = {}
    if "region" not in skip:
        wr = work / f"region_{a.scale:g}"
        t0 = time.perf_counter()
        region, bundle = region_bundle(a.scale, wr)
        info["region_network_s"] = time.perf_counter() - t0
        pairs.append([spawn(dict(city="region", scale=a.scale, mode="car", max_time_min=a.max_time, storage=s,
                                 region=str(region), bundle=str(bundle))) for s in ("sparse", "dense")])
    for sp, de in pairs:
        rows.append(dict(part=f"{sp['city']} {sp['mode']} {sp['max_time_min']:g} min", cells=sp["cells"],
                         venues=sp["venues"], pairs=sp["memory"]["pairs"],
                         density=sp["memory"]["pairs"] / (sp["cells"] * sp["venues"]),
                         sparse_mb=sp["memory"]["total"] / 2**20, dense_mb=de["memory"]["total"] / 2**20,
                         dense_matrix_mb=4 * sp["cells"] * sp["venues"] / 2**20,
                         mem_ratio=de["memory"]["total"] / sp["memory"]["total"],
                         sparse_build_s=sp["build_s"], dense_build_s=de["build_s"],
                         build_ratio=de["build_s"] / sp["build_s"],
                         sparse_peak_mb=sp["peak_rss_mb"], dense_peak_mb=de["peak_rss_mb"],
                         add_ms=sp["add_s"] * 1e3, add_search_ms=sp["add_search_s"] * 1e3,
                         remove_ms=sp["remove_s"] * 1e3, dense_add_ms=de["add_s"] * 1e3,
                         dense_remove_ms=de["remove_s"] * 1e3))
    extrap = None
    if a.full_sample:
        wr = work / "region_1"
        region, bundle = region_bundle(1.0, wr)
        s = spawn(dict(city="region", scale=1.0, mode="car", max_time_min=a.max_time, storage="sparse",
                       region=str(region), bundle=str(bundle), venue_subset=a.sample_venues))
        per_venue = s["memory"]["pairs"] / s["venues"]
        nv = s["venues_total"]
        extrap = dict(sample=s, note=(
            f"EXTRAPOLATED from a sparse state of {s['venues']} of the {nv} venues (random sample) on the scale-1.0 "
            "network and every populated cell, not a full build: pairs = mean catchment x venues; bytes = "
            "10 per pair (both views) + pointers; build = its build seconds x venues / sample size (same threads, "
            "same load: see loadavg); the add/remove latencies are measured on that state (a removal's nearest "
            "recomputation reads fewer venues per cell than with every venue)"),
            venues=nv, cells=s["cells"], mean_catchment_cells=per_venue, pairs=per_venue * nv,
            state_mb=(10 * per_venue * nv + 8 * (s["cells"] + nv)) / 2**20,
            dense_matrix_mb=4 * s["cells"] * nv / 2**20,
            build_s=s["build_s"] * nv / s["venues"], add_ms=s["add_s"] * 1e3,
            add_search_ms=s["add_search_s"] * 1e3, remove_ms=s["remove_s"] * 1e3)
        print(f"\nscale 1.0: {json.dumps({k: v for k, v in extrap.items() if k != 'sample'}, default=float)}")
    if rows:
        cols = ["part", "cells", "venues", "density", "sparse_mb", "dense_mb", "dense_matrix_mb", "mem_ratio",
                "sparse_build_s", "dense_build_s", "build_ratio", "sparse_peak_mb", "dense_peak_mb", "add_ms", "add_search_ms",
                "remove_ms", "dense_add_ms", "dense_remove_ms"]
        print(table(rows, cols))
    write_json("bench_state", dict(benchmark="bench_state", rows=rows, parts=[p for pr in pairs for p in pr],
                                   full_scale_extrapolation=extrap, info=info, scale=a.scale,
                                   loadavg_start=la_start, loadavg_end=os.getloadavg(),
                                   total_s=time.perf_counter() - t_start,
                                   note="ratios dense/sparse within this run; the machine is shared (see loadavg)"),
               a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
