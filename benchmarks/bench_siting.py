"""Siting benchmark (issue 8): candidate evaluation speed and region-scale site choice.

Run: ``python benchmarks/bench_siting.py [--candidates 10000] [--scale 1.0] [--transit-window 5] [--out FILE]``
(``--region-dir`` reuses a generated region; ``--skip-poa`` / ``--skip-region`` run one half.)

1. Porto Alegre (real OSM + poa_hexgrid population, 1,227 cells): evaluate ``--candidates`` random candidate sites
   for one category (walk, 30 min bound) and report candidates per second for
   - ours: one bounded reverse search per candidate, read through a node -> cells index, kept sparse
     (:func:`access.siting.candidate_times`);
   - peer 1, the scenarios engineer's ``venue_columns`` (one reverse ``od_matrix`` search per candidate, dense);
   - peer 2, the full matrix cells x candidates (:func:`access.travel_time_matrix`, one forward search per cell);
   then the time to choose 10 sites among them (CELF coverage, p-median with swaps).
   Transit (``--transit-window`` minute window): forward range-RAPTOR from every cell on ``--transit-candidates``
   candidates, and one backward range-RAPTOR per candidate on ``--transit-backward-candidates`` of them (checked
   equal).
2. The region-scale synthetic network (:func:`access.synth.make_region` at ``--scale``): all populated cells as
   candidates, the generated libraries as existing venues; choose 10 sites (coverage and p-median), total wall time
   (candidate columns + both solvers; and end to end from the files, network build included) against the
   5-minute budget, on the numba threads available (``NUMBA_NUM_THREADS``, 2 here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _common import need, peak_rss_mb, table, timeit, write_json


def _random_sites(g, n, rng, prefix="s"):
    import pandas as pd

    i = rng.integers(0, g.n_nodes, n)
    # jitter around nodes (<= ~40 m) so candidates fall on edges, not only on nodes
    lon = g.node_lon[i] + rng.uniform(-3e-4, 3e-4, n)
    lat = g.node_lat[i] + rng.uniform(-3e-4, 3e-4, n)
    return pd.DataFrame({"id": [f"{prefix}{k}" for k in range(n)], "lon": lon, "lat": lat})


def bench_porto_alegre(args, rows, results):
    import pandas as pd

    import access
    from access import siting as st
    from access.matrix import travel_time_matrix

    pbf = need("porto_alegre", "poa_osm.pbf")
    gtfs = need("porto_alegre", "poa_eptc.zip")
    cache = Path(tempfile.gettempdir()) / "access_bench_cache"
    net = access.TransportNetwork.from_files(pbf, gtfs=[gtfs], modes=["walk"], cache_dir=cache)
    g = net.street("walk")
    hx = pd.read_csv(need("porto_alegre", "poa_hexgrid.csv"))
    ok = g.snap(hx.lon, hx.lat, warn=False).snapped
    cells = hx[ok].reset_index(drop=True)
    pop = cells["population"].to_numpy(float)
    rng = np.random.default_rng(0)
    cand = _random_sites(g, args.candidates, rng)
    max_min = 30.0
    # warm-up (compilation / cache load)
    st.candidate_times(net, cells, cand.head(20), max_time_min=max_min)
    st.candidate_times(net, cells, cand.head(20), max_time_min=max_min, strategy="forward")
    t_ours, ct = timeit(lambda: st.candidate_times(net, cells, cand, max_time_min=max_min, strategy="reverse"),
                        repeat=3)
    rows.append(dict(case="POA walk", method="ours: sparse reverse search per candidate", n=args.candidates,
                     seconds=t_ours, per_s=args.candidates / t_ours))
    t_fw, ctf = timeit(lambda: st.candidate_times(net, cells, cand, max_time_min=max_min, strategy="auto"), repeat=3)
    rows.append(dict(case="POA walk", method=f"ours: strategy=auto ({ctf.settings['strategy']})", n=args.candidates,
                     seconds=t_fw, per_s=args.candidates / t_fw,
                     equal=bool(np.array_equal(ctf.cell, ct.cell) and np.array_equal(ctf.time_s, ct.time_s))))
    try:
        from access.scenarios._state import venue_columns

        snap = g.snap(cells.lon, cells.lat, warn=False)
        venue_columns(net, "walk", snap, cand.lon[:20], cand.lat[:20], int(max_min * 60))
        t_vc, vc = timeit(lambda: venue_columns(net, "walk", snap, cand.lon.to_numpy(), cand.lat.to_numpy(),
                                                int(max_min * 60)), repeat=3)
        same = bool(np.array_equal(np.asarray(vc), ct.dense()))
        rows.append(dict(case="POA walk", method="peer: scenarios.venue_columns (dense od_matrix)",
                         n=args.candidates, seconds=t_vc, per_s=args.candidates / t_vc, equal=same))
    except ImportError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_mx, ttm = timeit(lambda: travel_time_matrix(net, cells[["id", "lon", "lat"]], cand, mode="walk",
                                                      max_time_min=max_min, progress=False), repeat=1)
    same = bool(np.array_equal(ttm.times_s[:, :, 0], ct.dense()))
    rows.append(dict(case="POA walk", method="peer: travel_time_matrix cells x candidates", n=args.candidates,
                     seconds=t_mx, per_s=args.candidates / t_mx, equal=same))
    results["poa_walk"] = dict(candidates=args.candidates, cells=len(cells), pairs_within_bound=int(ct.ptr[-1]),
                               ours_s=t_ours, ours_auto_s=t_fw, matrix_s=t_mx, equal_to_matrix=same)
    # choosing 10 sites among the 10,000
    t_cov, res = timeit(lambda: st.maximal_coverage(ct, pop, 10, threshold_min=15, exact=False), repeat=3)
    rows.append(dict(case="POA walk", method="choose 10: CELF coverage (15 min)", n=args.candidates, seconds=t_cov,
                     per_s=None))
    t_pm, pm = timeit(lambda: st.p_median(ct, pop, 10), repeat=1)
    rows.append(dict(case="POA walk", method="choose 10: p-median greedy + swaps", n=args.candidates, seconds=t_pm,
                     per_s=None))
    results["poa_walk"].update(coverage_s=t_cov, coverage_evaluations=res.details["n_evaluations"],
                               covered_share=float(res.table["share_covered"].iloc[-1]), pmedian_s=t_pm,
                               pmedian_swaps=pm.details["n_swaps"])
    # transit: columns from the transit matrix (cells x candidates)
    if args.transit_candidates > 0:
        tc = cand.head(args.transit_candidates)
        dep = dt.datetime(2019, 5, 13, 14, 0)
        st.candidate_times(net, cells.head(5), tc.head(5), mode="transit", departure=dep, window_min=1,
                           max_time_min=60)
        t_tr, ctt = timeit(lambda: st.candidate_times(net, cells, tc, mode="transit", departure=dep,
                                                      window_min=args.transit_window, max_time_min=60,
                                                      per_minute=True, strategy="forward"), repeat=1)
        rows.append(dict(case=f"POA transit ({args.transit_window}-min window)",
                         method="forward range-RAPTOR per cell (matrix cells x candidates)", n=len(tc), seconds=t_tr,
                         per_s=len(tc) / t_tr))
        results["poa_transit"] = dict(candidates=len(tc), window_min=args.transit_window, seconds=t_tr,
                                      per_s=len(tc) / t_tr)
        nb = min(args.transit_backward_candidates, len(tc))
        if nb > 0:  # one backward range-RAPTOR per candidate (the incremental, one-search-per-site evaluation)
            st.candidate_times(net, cells, tc.head(2), mode="transit", departure=dep, window_min=1, max_time_min=60,
                               strategy="reverse")
            t_b, ctb = timeit(lambda: st.candidate_times(net, cells, tc.head(nb), mode="transit", departure=dep,
                                                         window_min=args.transit_window, max_time_min=60,
                                                         strategy="reverse"), repeat=1)
            ref = ctt.subset(np.arange(nb))
            equal = all(np.array_equal(getattr(ctb, f), getattr(ref, f)) for f in ("ptr", "cell", "time_s"))
            rows.append(dict(case=f"POA transit ({args.transit_window}-min window)",
                             method="backward range-RAPTOR per candidate", n=nb, seconds=t_b, per_s=nb / t_b,
                             equal=equal))
            results["poa_transit"].update(backward_candidates=nb, backward_seconds=t_b, backward_per_s=nb / t_b,
                                          backward_equal_forward=equal)


def bench_region(args, rows, results):
    import geopandas as gpd
    import pandas as pd

    import access
    from access import siting as st
    from access.synth import make_region

    out_dir = Path(args.region_dir or Path(tempfile.gettempdir()) / f"access_region_{args.scale:g}")
    t0 = time.perf_counter()
    if not (out_dir / "manifest.json").exists():
        make_region(out_dir, scale=args.scale, seed=0)
    t_gen = time.perf_counter() - t0
    paths = {p.name: p for p in out_dir.iterdir()}
    t_start = time.perf_counter()
    t0 = time.perf_counter()
    net = access.TransportNetwork.from_files(paths["region.osm.pbf"], modes=["walk"],
                                             cache_dir=Path(tempfile.gettempdir()) / "access_bench_cache")
    t_net = time.perf_counter() - t0
    g = net.street("walk")
    grid = gpd.read_file(next(p for n, p in paths.items() if n.endswith(".gpkg")))
    popcol = next(c for c in ("ind", "population", "Ind") if c in grid.columns)
    idcol = next(c for c in ("idcar_200m", "id", "Idcar_200m") if c in grid.columns)
    cen = grid.to_crs(grid.crs).centroid.to_crs("EPSG:4326")
    cells = pd.DataFrame({"id": grid[idcol].astype(str).to_numpy(), "lon": cen.x.to_numpy(), "lat": cen.y.to_numpy(),
                          "population": pd.to_numeric(grid[popcol], errors="coerce").fillna(0).to_numpy()})
    ok = g.snap(cells.lon, cells.lat, warn=False).snapped
    cells = cells[ok].reset_index(drop=True)
    ven = pd.read_csv(next(p for n, p in paths.items() if n.startswith("basilic")), sep=None, engine="python")
    lonc = next(c for c in ven.columns if c.lower() in ("lon", "longitude", "x"))
    latc = next(c for c in ven.columns if c.lower() in ("lat", "latitude", "y"))
    typc = next((c for c in ven.columns if "type" in c.lower()), None)
    libs = ven if typc is None else ven[ven[typc].astype(str).str.contains("ibl|Bibl", regex=True)]
    libs = libs[g.snap(libs[lonc], libs[latc], warn=False).snapped]
    existing_pts = pd.DataFrame({"id": [f"v{i}" for i in range(len(libs))], "lon": libs[lonc].to_numpy(),
                                 "lat": libs[latc].to_numpy()})
    cand = cells[["id", "lon", "lat"]].assign(id=lambda d: "c" + d["id"])
    if args.region_candidates and len(cand) > args.region_candidates:
        cand = cand.sample(args.region_candidates, random_state=0).reset_index(drop=True)
    pop = cells["population"].to_numpy(float)
    max_min, thr = 30.0, 15.0
    # warm-up on a few candidates (numba compilation / cache load is not part of the timed choice)
    w_ct = st.candidate_times(net, cells, cand.head(50), max_time_min=max_min)
    st.maximal_coverage(w_ct, pop, 2, threshold_min=thr, existing=w_ct.subset([0]), exact=False)
    st.p_median(w_ct, pop, 2, existing=w_ct.subset([0]))
    t0 = time.perf_counter()
    ct = st.candidate_times(net, cells, cand, max_time_min=max_min)
    ex = st.candidate_times(net, cells, existing_pts, max_time_min=max_min, name="venues") if len(existing_pts) else None
    t_cols = time.perf_counter() - t0
    t0 = time.perf_counter()
    cov = st.maximal_coverage(ct, pop, 10, threshold_min=thr, existing=ex, exact=False)
    t_cov = time.perf_counter() - t0
    t0 = time.perf_counter()
    pm = st.p_median(ct, pop, 10, existing=ex)
    t_pm = time.perf_counter() - t0
    total = t_cols + t_cov + t_pm
    end_to_end = time.perf_counter() - t_start
    rows.append(dict(case=f"region scale {args.scale:g}", method="candidate columns", n=len(cand), seconds=t_cols,
                     per_s=len(cand) / t_cols))
    rows.append(dict(case=f"region scale {args.scale:g}", method="choose 10: CELF coverage", n=len(cand),
                     seconds=t_cov, per_s=None))
    rows.append(dict(case=f"region scale {args.scale:g}", method="choose 10: p-median + swaps", n=len(cand),
                     seconds=t_pm, per_s=None))
    results["region"] = dict(scale=args.scale, street_nodes=g.n_nodes, cells=len(cells), candidates=len(cand),
                             existing_venues=len(existing_pts), generate_s=t_gen, network_s=t_net,
                             columns_s=t_cols, coverage_s=t_cov, pmedian_s=t_pm, total_choose_10_s=total,
                             within_5_min=bool(total < 300),
                             end_to_end_from_files_s=end_to_end, covered_before=cov.objective_before,
                             covered_after=cov.objective_after, pmedian_swaps=pm.details["n_swaps"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--transit-candidates", type=int, default=10_000)
    ap.add_argument("--transit-window", type=int, default=5)
    ap.add_argument("--transit-backward-candidates", type=int, default=1000)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--region-dir", default=None)
    ap.add_argument("--region-candidates", type=int, default=0, help="sample this many candidates (0: all cells)")
    ap.add_argument("--skip-region", action="store_true")
    ap.add_argument("--skip-poa", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import numba

    rows: list[dict] = []
    results: dict = {"numba_threads": numba.get_num_threads()}
    if not args.skip_poa:
        bench_porto_alegre(args, rows, results)
    if not args.skip_region:
        bench_region(args, rows, results)
    results["rows"] = rows
    results["peak_rss_mb"] = peak_rss_mb()
    print(table(rows, ["case", "method", "n", "seconds", "per_s", "equal"]))
    write_json("bench_siting", results, args.out)


if __name__ == "__main__":
    main()
