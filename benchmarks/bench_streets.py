"""Street routing benchmark (issue 2): one-to-all searches vs peers, the hexgrid matrix, network build.

Run: ``python benchmarks/bench_streets.py [--sources 200] [--out FILE.json]``

Peers run in the same process on the same CSR graph: scipy.sparse.csgraph.dijkstra, igraph (distances),
networkx (a sample of sources, scaled), pandana where installed. Our kernel is timed with all numba threads
and with one thread (scipy and igraph are single-threaded). Compile time (first call) is reported apart.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np

from _common import need, table, timeit, write_json, peak_rss_mb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=200)
    ap.add_argument("--nx-sources", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    import numba
    import pandas as pd
    import scipy.sparse.csgraph as csg

    import access

    pbf = need("porto_alegre", "poa_osm.pbf")
    hexgrid = pd.read_csv(need("porto_alegre", "poa_hexgrid.csv"))

    # compile / cache-load time in a fresh interpreter (first call minus a second call)
    code = ("import time,numpy as np,access;n=access.TransportNetwork.from_files(%r,modes=['walk']);g=n.street('walk');"
            "t=time.perf_counter();g.shortest_times([0]);a=time.perf_counter()-t;"
            "t=time.perf_counter();g.shortest_times([0]);b=time.perf_counter()-t;print(a-b)") % str(pbf)
    first_call_s = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() or "nan")

    t = time.perf_counter()
    net = access.TransportNetwork.from_files(pbf)
    build_s = time.perf_counter() - t

    rows = []
    rng = np.random.default_rng(0)
    results = {"build_network_s": build_s, "first_call_overhead_s": first_call_s}
    for mode in ("walk", "car"):
        g = net.street(mode)
        src = rng.choice(g.n_nodes, size=min(args.sources, g.n_nodes), replace=False)
        A = g.to_scipy()
        g.shortest_times(src[:2])  # warm
        nthreads = numba.get_num_threads()
        t_ours, ours = timeit(lambda: g.shortest_times(src))
        numba.set_num_threads(1)
        t_ours1, _ = timeit(lambda: g.shortest_times(src))
        numba.set_num_threads(nthreads)
        t_scipy, ref = timeit(lambda: csg.dijkstra(A, indices=src))
        ref[~np.isfinite(ref)] = -1
        assert np.array_equal(ours, ref.astype(np.int64)), "kernel differs from scipy"
        entry = {"mode": mode, "nodes": g.n_nodes, "edges": g.n_edges, "sources": len(src),
                 "ours_s": t_ours, "ours_1thread_s": t_ours1, "scipy_s": t_scipy,
                 "speedup_vs_scipy": t_scipy / t_ours, "speedup_vs_scipy_1thread": t_scipy / t_ours1}
        try:
            import igraph as ig

            tail = g.tail
            G = ig.Graph(n=g.n_nodes, edges=list(zip(tail.tolist(), g.head.tolist())), directed=True)
            w = g.travel_time_s.astype(float).tolist()
            t_ig, _ = timeit(lambda: G.distances(source=src.tolist(), weights=w, mode="out"), repeat=1)
            entry["igraph_s"] = t_ig
            entry["speedup_vs_igraph"] = t_ig / t_ours
        except ImportError:
            entry["igraph_s"] = None
        import networkx as nx

        Gx = nx.DiGraph()
        Gx.add_weighted_edges_from(zip(*map(np.ndarray.tolist, [g.tail, g.head, g.travel_time_s])))
        k = args.nx_sources
        t_nx, _ = timeit(lambda: [nx.single_source_dijkstra_path_length(Gx, int(s)) for s in src[:k]], repeat=1)
        entry["networkx_s_scaled"] = t_nx / k * len(src)
        entry["speedup_vs_networkx"] = entry["networkx_s_scaled"] / t_ours
        try:
            import pandana  # noqa: F401

            entry["pandana"] = "installed but not run (contraction hierarchy build differs)"
        except ImportError:
            entry["pandana"] = "not installed"
        rows.append(entry)

    # the hexgrid matrix end to end (snapping + kernel + frame)
    import warnings

    warnings.simplefilter("ignore")
    mat = {}
    for mode in ("walk", "car"):
        access.travel_time_matrix(net, hexgrid.head(10), mode=mode, progress=False)
        t_m, ttm = timeit(lambda: access.travel_time_matrix(net, hexgrid, mode=mode, progress=False))
        t_f, _ = timeit(lambda: ttm.to_frame(), repeat=1)
        mat[mode] = {"matrix_s": t_m, "to_frame_s": t_f, "pairs": int(ttm.shape[0] * ttm.shape[1])}

    results.update(one_to_all=rows, hexgrid_matrix=mat, peak_rss_mb=peak_rss_mb())
    print(table(rows, ["mode", "nodes", "sources", "ours_s", "ours_1thread_s", "scipy_s", "igraph_s",
                       "networkx_s_scaled", "speedup_vs_scipy", "speedup_vs_scipy_1thread"]))
    print(f"\nnetwork build (read OSM + walk/bike/car graphs): {build_s:.2f} s (target < 10 s)")
    print(f"first-call overhead (compile or cache load) in a fresh process: {first_call_s:.2f} s")
    for m, v in mat.items():
        print(f"1,227 x 1,227 hexgrid {m} matrix: {v['matrix_s']:.2f} s (+ to_frame {v['to_frame_s']:.2f} s)")
    write_json("bench_streets", results, args.out)


if __name__ == "__main__":
    main()
