"""Chunked, resumable matrices (access.scale.chunked) on Porto Alegre: identical to the in-memory matrix, reverse searches
checked against scipy, per-chunk indicators against access.indicators, resume after interruption byte for byte,
settings changes refused, the memory budget respected (peak RSS measured in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from access._errors import ValidationError

from .conftest import data_file

MAX_MIN = 40


@pytest.fixture(scope="module")
def points(poa_hexgrid):
    from access.io.places import read_points

    hx = poa_hexgrid.copy()
    hx["kind"] = np.where(np.arange(len(hx)) % 2 == 0, "a", "b")
    o = read_points(hx.iloc[:240].reset_index(drop=True), name="origins")
    d = read_points(hx.iloc[::9].reset_index(drop=True), name="destinations")
    return o, d


def _run(net, o, d, out, **kw):
    from access.scale.chunked import chunked_travel_time_matrix

    kw.setdefault("mode", "walk")
    kw.setdefault("max_time_min", MAX_MIN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few hexagons are off the extract (reported by the snapping)
        return chunked_travel_time_matrix(net, o, d, out, progress=False, **kw)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


def test_partitions_equal_in_memory_matrix_both_directions(poa_network, points, tmp_path):
    from access.matrix import travel_time_matrix

    o, d = points
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = travel_time_matrix(poa_network, o, d, mode="walk", max_time_min=MAX_MIN, progress=False).to_frame()
    for direction in ("forward", "reverse"):
        res = _run(poa_network, o, d, tmp_path / direction, chunk_size=70, direction=direction, dest_block=9)
        assert res.n_chunks == 4 and res.direction == direction
        assert [p.name for p in res.partitions] == [f"part-0000{i}.parquet" for i in range(4)]
        got = pd.read_parquet(tmp_path / direction)  # the folder reads as one table (_ files skipped)
        pd.testing.assert_frame_equal(got, ref, check_dtype=False)
        assert not (tmp_path / direction / "_scratch").exists()  # reverse scratch removed when done
    # how the chunks are computed is not part of what they hold: both directions write the same bytes
    assert _files(tmp_path / "forward") == _files(tmp_path / "reverse")


def test_reverse_kernel_against_scipy(poa_network, points):
    """reverse_od_block (searches from destinations on the transposed graph) vs scipy Dijkstra from the origins."""
    import scipy.sparse.csgraph as csg

    from access.scale.chunked import reverse_od_block
    from access.core.dijkstra import INF

    o, d = points
    g = poa_network.street("walk")
    # the hexagons nearest one of them: origins the closest 25, destinations 12 among the next ones
    near = np.argsort(np.hypot(o.lon - o.lon[7], o.lat - o.lat[7]))
    oi, di = near[:25], near[20:32]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os_, ds = g.snap(o.lon[oi], o.lat[oi]), g.snap(o.lon[di], o.lat[di])
    max_s = MAX_MIN * 60
    f, h, w = g.csr(reverse=True)
    got = reverse_od_block(f, h, w, ds.egress_node, ds.egress_cost_s, os_.access_node, os_.access_cost_s,
                           np.int32(max_s)).T
    A = g.to_scipy()
    nodes = np.unique(os_.access_node[os_.access_node >= 0])
    D = csg.dijkstra(A, indices=nodes)
    row = {v: k for k, v in enumerate(nodes)}
    exp = np.full((25, 12), INF, np.int64)
    for i in range(25):
        for j in range(12):
            best = np.inf
            for s in range(2):
                a, ca = os_.access_node[i, s], os_.access_cost_s[i, s]
                if a < 0:
                    continue
                for t in range(2):
                    e, ce = ds.egress_node[j, t], ds.egress_cost_s[j, t]
                    if e >= 0 and np.isfinite(D[row[a], e]):
                        best = min(best, ca + D[row[a], e] + ce)
            if best <= max_s:
                exp[i, j] = int(best)
    assert (exp < INF).sum() > 80
    np.testing.assert_array_equal(got, exp)  # integers: exact


def test_indicators_match_access_indicators(poa_network, points, tmp_path):
    from access.indicators import cost_to_closest, cumulative_cutoff, decay_exponential, gravity
    from access.scale.chunked import Indicators

    o, d = points
    ind = Indicators(category="kind", opportunity="schools", cutoffs_min=(10, 25), decay_function=decay_exponential(0.1))
    res = _run(poa_network, o, d, tmp_path / "ind", chunk_size=64, indicators=ind)
    got = res.read_indicators().set_index(["id", "category"]).sort_index()
    assert len(got) == len(o) * 2
    m = pd.read_parquet(tmp_path / "ind")
    lu = d.frame[["id", "kind", "schools"]].rename(columns={"kind": "category"})
    near = cost_to_closest(m, lu, opportunity="schools", group_by="category").set_index(["id", "category"])
    np.testing.assert_array_equal(got["nearest_min"], near["travel_time"].reindex(got.index))
    for c in (10, 25):
        cum = cumulative_cutoff(m, lu, opportunity="schools", cutoff=c, group_by="category").set_index(
            ["id", "category"])
        np.testing.assert_array_equal(got[f"within_{c}min"], cum["schools"].reindex(got.index))
    grav = gravity(m, lu, opportunity="schools", decay_function=decay_exponential(0.1),
                   group_by="category").set_index(["id", "category"])
    np.testing.assert_allclose(got["gravity"], grav["schools"].reindex(got.index), rtol=1e-12, atol=0)
    # and a brute-force twin of one origin
    oid = o.ids[5]
    row = m[m.from_id == oid].merge(lu, left_on="to_id", right_on="id")
    for cat, grp in row.groupby("category"):
        tt = grp.travel_time.to_numpy()
        ok = np.isfinite(tt) & (grp.schools.to_numpy() > 0)
        exp = tt[ok].min() if ok.any() else np.inf
        assert got.loc[(oid, cat), "nearest_min"] == exp
        assert got.loc[(oid, cat), "within_25min"] == grp.schools[tt <= 25].sum()


def test_interrupted_run_resumes_to_identical_files(poa_network, points, tmp_path):
    o, d = points
    kw = dict(chunk_size=50, indicators=__import__("access.scale.chunked", fromlist=["Indicators"]).Indicators(),
              drop_unreachable=True)
    ref = _run(poa_network, o, d, tmp_path / "ref", **kw)
    assert ref.n_chunks == 5
    out = tmp_path / "run"
    calls = []

    import access.scale.chunked as chunked

    write = chunked._write_chunk

    def boom(job, out_dir, i, times, *rest):
        calls.append(i)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated interruption before chunk 2 is written")
        return write(job, out_dir, i, times, *rest)

    with pytest.raises(KeyboardInterrupt), pytest.MonkeyPatch.context() as mp:
        mp.setattr(chunked, "_write_chunk", boom)
        _run(poa_network, o, d, out, **kw)
    assert sorted(p.name for p in out.glob("part-*.parquet")) == ["part-00000.parquet", "part-00001.parquet"]
    # what a killed process leaves: a half-written temporary file, and (on a file system without atomic renames)
    # a truncated partition under its final name
    (out / ".part-00002.parquet.abcd1234.parquet").write_bytes(b"PAR1\x00half")
    (out / "part-00003.parquet").write_bytes(_files(tmp_path / "ref")["part-00003.parquet"][:100])
    res = _run(poa_network, o, d, out, **kw)
    assert res.chunks_computed == 3  # 0 and 1 skipped; 2, 3 (truncated) and 4 computed
    assert _files(out) == _files(tmp_path / "ref")  # byte for byte, matrix and indicators
    assert not list(out.rglob(".part-*"))
    again = _run(poa_network, o, d, out, **kw)
    assert again.chunks_computed == 0


def test_resume_with_other_settings_is_refused(poa_network, points, tmp_path):
    o, d = points
    _run(poa_network, o, d, tmp_path / "r", chunk_size=120)
    with pytest.raises(ValidationError, match="max_time_min"):
        _run(poa_network, o, d, tmp_path / "r", chunk_size=120, max_time_min=MAX_MIN + 5)
    with pytest.raises(ValidationError, match="destinations"):
        _run(poa_network, o, o, tmp_path / "r", chunk_size=120)
    res = _run(poa_network, o, d, tmp_path / "r", chunk_size=60, overwrite=True)
    assert res.n_chunks == 4 and res.chunks_computed == 4
    manifest = json.loads((tmp_path / "r" / "_manifest.json").read_text())
    assert manifest["settings"]["chunk_size"] == 60


def test_chunk_size_from_memory_budget():
    from access.scale.chunked import chunk_size_for_budget

    a = chunk_size_for_budget(64, 5000, n_nodes=0)
    b = chunk_size_for_budget(128, 5000, n_nodes=0)
    assert 1 <= a < b and abs(b / a - 2) < 0.01
    assert chunk_size_for_budget(64, 5000, n_percentiles=3, n_nodes=0) < a
    with pytest.raises(ValidationError):
        chunk_size_for_budget(0, 10)


_MEM_SCRIPT = textwrap.dedent(r"""
    import json, sys, threading, time, warnings
    import pandas as pd, psutil
    from access import TransportNetwork
    from access.scale.chunked import chunked_travel_time_matrix
    from access.io.places import read_points
    warnings.simplefilter("ignore")
    bundle, csv, out = sys.argv[1], sys.argv[2], sys.argv[3]
    net = TransportNetwork.load(bundle)
    pts = read_points(pd.read_csv(csv), name="origins")
    proc = psutil.Process()

    def measure(name, **kw):
        base = proc.memory_info().rss
        peak = [base]
        stop = threading.Event()
        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], proc.memory_info().rss)
                time.sleep(0.002)
        th = threading.Thread(target=sample); th.start()
        res = chunked_travel_time_matrix(net, pts, pts, out + name, mode="walk", max_time_min=45, progress=False,
                                         **kw)
        stop.set(); th.join()
        return dict(delta_mb=(peak[0] - base) / 2**20, chunk_size=res.chunk_size, n_chunks=res.n_chunks)

    measure("_warm", chunk_size=8)  # compile/load the kernels and touch the network first
    small = measure("_small", memory_budget_mb=8)
    large = measure("_large", memory_budget_mb=4096)
    print(json.dumps(dict(small=small, large=large)))
""")


@pytest.mark.slow
def test_memory_budget_respected(poa_network, tmp_path):
    csv = data_file("porto_alegre", "poa_hexgrid.csv")
    bundle = poa_network.save(tmp_path / "bundle")
    r = subprocess.run([sys.executable, "-c", _MEM_SCRIPT, str(bundle), str(csv), str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, NUMBA_NUM_THREADS="2"))
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(r.stdout.strip().splitlines()[-1])
    small, large = m["small"], m["large"]
    print(m)
    assert large["n_chunks"] == 1 and small["n_chunks"] > 10
    # loose: within three times the budget plus allocator slack, and far below the one-chunk run
    assert small["delta_mb"] < 3 * 8 + 16, m
    assert large["delta_mb"] > 3 * small["delta_mb"], m
