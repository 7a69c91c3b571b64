"""access.scale.distributed on a 2-worker local Dask cluster (Porto Alegre): the same partitions, byte for byte, as one
process, for walk and transit; a worker killed mid-run still gives the complete identical result; the CLI's
``--workers`` path."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import data_file

pytest.importorskip("distributed")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    from access.scale.distributed import local_cluster

    cluster = local_cluster(2)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def bundle(poa_network, tmp_path_factory):
    return poa_network.save(tmp_path_factory.mktemp("poa_bundle") / "bundle")


@pytest.fixture(scope="module")
def points(poa_hexgrid):
    from access.io.places import read_points

    hx = poa_hexgrid.copy()
    hx["kind"] = np.where(np.arange(len(hx)) % 2 == 0, "a", "b")
    return (read_points(hx.iloc[:300].reset_index(drop=True), name="origins"),
            read_points(hx.iloc[::7].reset_index(drop=True), name="destinations"))


def _chunked(*args, **kw):
    from access.scale.distributed import chunked_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few hexagons lie off the OSM extract
        return chunked_matrix(*args, progress=False, **kw)


def test_two_workers_equal_one_process_walk(client, bundle, points, tmp_path):
    from access.scale.chunked import Indicators
    from access.indicators import decay_exponential

    o, d = points
    kw = dict(mode="walk", max_time_min=40, chunk_size=45,
              indicators=Indicators(category="kind", decay_function=decay_exponential(0.1)))
    one = _chunked(bundle, o, d, tmp_path / "one", **kw)
    two = _chunked(bundle, o, d, tmp_path / "two", client=client, **kw)
    assert one.n_chunks == two.n_chunks == 7
    f1, f2 = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert len(f1) == 14 and f1 == f2
    # and the partitions are the in-memory matrix
    from access import TransportNetwork
    from access.matrix import travel_time_matrix

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = travel_time_matrix(TransportNetwork.load(bundle), o, d, mode="walk", max_time_min=40, progress=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "two"), ref.to_frame(), check_dtype=False)
    # both workers took part
    pids = client.run(lambda: __import__("os").getpid())
    assert len(pids) == 2


def _kill_on_chunk(index, marker):
    """A function for ``client.run``: wrap the workers' chunk step so that the first time chunk ``index`` runs, the
    worker process is killed (marker file ``marker``), leaving a half-written temporary partition behind, as a
    machine failure would."""

    def install():
        import functools
        import os
        import signal
        from pathlib import Path

        import access.scale.distributed as dist

        real = dist.run_chunk

        @functools.wraps(real)
        def run_chunk(network, graph, job, out_dir, i, *args, **kwargs):
            m = Path(marker)
            if i == index and not m.exists():
                m.write_text(f"killed pid {os.getpid()} on chunk {i}\n")
                (Path(out_dir) / f".{job.part_name(i)}.crash.parquet").write_bytes(b"PAR1 half-written")
                os.kill(os.getpid(), signal.SIGKILL)
            return real(network, graph, job, out_dir, i, *args, **kwargs)

        dist.run_chunk = run_chunk

    return install


def _restore_run_chunk():
    def restore():
        import access.scale.distributed as dist

        dist.run_chunk = getattr(dist.run_chunk, "__wrapped__", dist.run_chunk)

    return restore


def test_killed_worker_still_complete_and_identical(client, bundle, points, tmp_path):
    o, d = points
    kw = dict(mode="walk", max_time_min=40, chunk_size=45, direction="reverse", dest_block=16)
    ref = _chunked(bundle, o, d, tmp_path / "ref", **kw)
    marker = tmp_path / "killed-once"
    pids_before = set(client.run(lambda: __import__("os").getpid()).values())
    client.run(_kill_on_chunk(3, str(marker)))  # in every worker process: a machine failure on chunk 3
    try:
        res = _chunked(bundle, o, d, tmp_path / "run", client=client, **kw)
    finally:
        client.run(_restore_run_chunk())
    assert marker.exists(), "the fault was not injected"
    killed_pid = int(marker.read_text().split()[2])
    assert killed_pid in pids_before
    assert res.n_chunks == ref.n_chunks == 7
    assert _files(tmp_path / "run") == _files(tmp_path / "ref")  # nothing lost, nothing duplicated
    assert not list((tmp_path / "run").rglob(".part-*"))  # the half-written temp file is gone
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


@pytest.fixture(scope="module")
def transit_bundle(tmp_path_factory):
    from access import TransportNetwork

    try:
        from access.routing.transit import transit_travel_times  # noqa: F401
    except ImportError:  # pragma: no cover
        pytest.skip("access.network.transit.transit_travel_times is not available yet")
    net = TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                      gtfs=[data_file("porto_alegre", "poa_eptc.zip")], modes=("walk",))
    return net.save(tmp_path_factory.mktemp("poa_transit") / "bundle")


def test_two_workers_equal_one_process_transit(client, transit_bundle, points, tmp_path):
    from access import TransportNetwork
    from access.matrix import travel_time_matrix

    from access.io.places import read_points

    o, d = points
    o = read_points(o.frame.iloc[:150].reset_index(drop=True), name="origins")
    kw = dict(mode="transit", max_time_min=60, departure=dt.datetime(2019, 5, 13, 14, 0), window_min=6,
              percentiles=(25, 50))
    one = _chunked(transit_bundle, o, d, tmp_path / "one", chunk_size=50, **kw)
    _chunked(transit_bundle, o, d, tmp_path / "two", chunk_size=50, client=client, **kw)
    assert one.n_chunks == 3
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = travel_time_matrix(TransportNetwork.load(transit_bundle), o, d, progress=False, **kw).to_frame()
    got = pd.read_parquet(tmp_path / "two")
    assert list(got.columns) == ["from_id", "to_id", "travel_time_p25", "travel_time_p50"]
    assert got["travel_time_p50"].notna().mean() > 0.2
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)


def test_cli_workers(bundle, poa_hexgrid, tmp_path):
    from click.testing import CliRunner

    from access.commands.matrix import command

    csv = tmp_path / "pts.csv"
    poa_hexgrid.iloc[:120][["id", "lon", "lat"]].to_csv(csv, index=False)
    r = CliRunner().invoke(command, ["--network", str(bundle), "--origins", str(csv), "--mode", "walk",
                                     "--max-time", "30", "--out", str(tmp_path / "cli"), "--chunk-size", "50",
                                     "--workers", "2"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "3 chunks" in r.output
    m = pd.read_parquet(tmp_path / "cli")
    assert len(m) == 120 * 120


def test_scheduler_address_and_resume_across_backends(client, bundle, points, tmp_path):
    """An interrupted one-process run is finished on the cluster (by address): same files as a clean run."""
    from access.scale.chunked import chunked_travel_time_matrix
    from access.io.places import read_points

    o, d = points
    o = read_points(o.frame.iloc[:120].reset_index(drop=True), name="origins")
    kw = dict(mode="walk", max_time_min=30, chunk_size=30, drop_unreachable=True)
    ref = _chunked(bundle, o, d, tmp_path / "ref", **kw)
    seen = []

    import access.scale.chunked as chunked

    write = chunked._write_chunk

    def stop(job, out_dir, i, times, *rest):
        seen.append(i)
        if len(seen) == 3:
            raise KeyboardInterrupt
        return write(job, out_dir, i, times, *rest)

    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("ignore")
        mp.setattr(chunked, "_write_chunk", stop)
        chunked_travel_time_matrix(bundle, o, d, tmp_path / "run", progress=False, **kw)
    res = _chunked(bundle, o, d, tmp_path / "run", scheduler=client.scheduler.address, direction="reverse", **kw)
    assert res.chunks_computed == ref.n_chunks - 2 == 2
    assert _files(tmp_path / "run") == _files(tmp_path / "ref")


def test_cli_memory_budget_one_process(bundle, poa_hexgrid, tmp_path):
    """`--memory-budget` alone: a partitioned, resumable folder whose chunk size comes from the budget; the same
    table as the in-memory CLI run."""
    from click.testing import CliRunner

    from access.scale.chunked import chunk_size_for_budget
    from access.commands.matrix import command

    csv = tmp_path / "pts.csv"
    poa_hexgrid.iloc[:300][["id", "lon", "lat"]].to_csv(csv, index=False)
    base = ["--network", str(bundle), "--origins", str(csv), "--mode", "walk", "--max-time", "30"]
    r = CliRunner().invoke(command, base + ["--out", str(tmp_path / "budget"), "--memory-budget", "1"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    parts = sorted((tmp_path / "budget").rglob("*.parquet"))
    assert len(parts) > 1  # 1 MB of working memory does not hold 300 origins at once
    r = CliRunner().invoke(command, base + ["--out", str(tmp_path / "one.parquet")], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(tmp_path / "budget").sort_values(["from_id", "to_id"]).reset_index(drop=True)
    ref = pd.read_parquet(tmp_path / "one.parquet").sort_values(["from_id", "to_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)
    assert chunk_size_for_budget(1, 300, n_nodes=0) < 300
