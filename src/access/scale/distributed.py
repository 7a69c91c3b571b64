"""The chunked matrix of :mod:`access.chunked` on a Dask cluster (``dask.distributed``).

:func:`chunked_matrix` plans the run in the calling process (validation, snapping, the chunking, the manifest),
then maps the chunks onto the cluster:

- **The network is shipped once, as a path.** Workers load the bundle folder memory-mapped
  (``TransportNetwork.load``) the first time a task of the run reaches them and keep it for the next tasks; nothing
  of the network travels through the scheduler. With a multi-machine cluster the bundle folder and the output folder
  must be on storage every worker sees (NFS, a shared volume). A ``TransportNetwork`` object given instead of a
  path is saved once to ``<out>/_network`` first.
- **The plan is scattered once** (``client.scatter(job, broadcast=True)``): the snapped origins and destinations,
  ids, settings, indicator arrays (a few bytes per point).
- **Tasks are origin chunks** (plus, for reverse street searches, destination blocks first). Each task writes its
  own partition atomically under a name fixed by its chunk index and returns a few numbers; a task whose partition
  is already there (same run hash, same chunk) does nothing. A worker that dies loses no partition: the scheduler
  retries its tasks elsewhere (``retries``, and Dask's ``allowed-failures``), a half-written temporary file is never
  renamed into place and is removed at the end, and a re-run of a chunk writes the identical file. After the tasks,
  the client checks every partition and resubmits any that is missing.

Local clusters (``workers=N``) use N worker *processes* with one Dask thread each (the kernels hold the GIL
only between chunks, so processes avoid contention and let a killed worker be restarted by its nanny), and each
worker runs numba with ``cpu_count // N`` threads so that the cores are shared without oversubscription.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from .._errors import AccessError, ValidationError
from .chunked import (
    ChunkedResult,
    Indicators,
    MatrixJob,
    chunk_done,
    chunked_travel_time_matrix,
    clean_stale_temps,
    finish,
    prepare_job,
    prepare_out_dir,
    resume_plan,
    run_chunk,
    street_graph_for,
    write_block,
)

__all__ = ["chunked_matrix", "local_cluster"]

#: per worker process: bundle path -> (network, {graph key: graph})
_WORKER_STATE: dict[str, tuple[Any, dict[tuple, Any]]] = {}


def _worker_graph(bundle_path: str, job: MatrixJob):
    from ..network.bundle import TransportNetwork

    st = _WORKER_STATE.get(bundle_path)
    if st is None:
        st = (TransportNetwork.load(bundle_path), {})
        _WORKER_STATE.clear()  # one network at a time per worker
        _WORKER_STATE[bundle_path] = st
    net, graphs = st
    key = (job.mode, job.settings.get("speed_kmh"), job.settings.get("walk_speed_kmh"))
    if key not in graphs:
        graphs[key] = street_graph_for(net, job)
    return net, graphs[key]


def _set_threads(nthreads: int | None) -> None:
    if nthreads:
        import numba

        numba.set_num_threads(max(1, min(int(nthreads), numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]  # numba.config sets its attributes at import


def _chunk_task(bundle_path: str, job: MatrixJob, out_dir: str, i: int, nthreads: int | None) -> dict:
    _set_threads(nthreads)
    net, graph = _worker_graph(bundle_path, job)
    r = run_chunk(net, graph, job, out_dir, i)
    r["pid"] = os.getpid()
    return r


def _block_task(bundle_path: str, job: MatrixJob, out_dir: str, j: int, nthreads: int | None) -> int:
    _set_threads(nthreads)
    _, graph = _worker_graph(bundle_path, job)
    write_block(graph, job, out_dir, j)
    return j


def local_cluster(workers: int, *, memory_limit: str | None = "auto", **kwargs):
    """A ``LocalCluster`` of ``workers`` processes with one thread each (no dashboard)."""
    from distributed import LocalCluster

    if int(workers) < 1:
        raise ValidationError(f"`workers` must be at least 1, got {workers}")
    kw = dict(n_workers=int(workers), threads_per_worker=1, processes=True, dashboard_address=":0",
              memory_limit=memory_limit, silence_logs=40)
    kw.update(kwargs)
    return LocalCluster(**kw)


def _run_tasks(client, fn, args_list: list, keys: list[str], *, desc: str, total: int, progress: bool,
               retries: int) -> list:
    from distributed import as_completed
    from tqdm.auto import tqdm

    futs = [client.submit(fn, *a, key=k, retries=retries, pure=False) for a, k in zip(args_list, keys)]
    bar = tqdm(total=total, desc=desc, disable=not progress)
    results, errors = [], []
    for fut in as_completed(futs):
        try:
            results.append(fut.result())
        except Exception as e:
            errors.append(e)
        bar.update()
    bar.close()
    for f in futs:
        f.release()
    return results + [("error", e) for e in errors]


def chunked_matrix(network, origins, destinations, out, *, chunk_size: int | None = None,
                   memory_budget_mb: float | None = None, workers: int | None = None, scheduler: str | None = None,
                   client=None, numba_threads: int | None = None, drop_unreachable: bool = False,
                   write_matrix: bool = True, indicators: Indicators | None = None, direction: str = "auto",
                   dest_block: int | None = None, overwrite: bool = False, retries: int = 3, progress: bool = True,
                   **opts) -> ChunkedResult:
    """A chunked, resumable travel-time matrix, on one machine or on a Dask cluster.

    With none of ``workers``, ``scheduler`` or ``client`` this is
    :func:`access.chunked.chunked_travel_time_matrix` in this process. Otherwise the chunks run as Dask tasks (see the
    module docstring); the partitions written are identical, file for file, to a single-process run's.

    Parameters
    ----------
    network : path or TransportNetwork
        A network bundle folder (``access network build``), readable by every worker at the same path.
    origins, destinations : Points, GeoDataFrame, DataFrame or path
        As in :func:`access.travel_time_matrix` (``destinations=None``: the origins).
    out : path
        Output folder of the partitions (must be shared storage for a multi-machine cluster).
    chunk_size, memory_budget_mb : optional
        Origins per task, or the per-task working memory that sets it (see
        :func:`access.chunked.chunk_size_for_budget`).
    workers : int, optional
        Start a local cluster of this many worker processes for the run (closed afterwards).
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler, e.g. ``tcp://10.0.0.5:8786``.
    client : distributed.Client, optional
        Use this client (its cluster is left running).
    numba_threads : int, optional
        Numba threads in each task. Default: ``cpu_count // workers`` on a local cluster, the worker's own
        setting otherwise.
    indicators : access.chunked.Indicators, optional
        Per-origin indicators computed on each chunk (``_indicators/`` partitions).
    retries : int
        Retries of a failed task (on top of Dask's rescheduling of tasks of a lost worker), and rounds of
        resubmission of partitions still missing at the end.
    **opts
        ``mode``, ``max_time_min``, ``departure``, ``window_min``, ``percentiles``, ``max_walk_min``,
        ``max_rides``, ``walk_speed_kmh``, ``bike_speed_kmh``, ``max_snap_m`` as in :func:`access.travel_time_matrix`.

    Returns
    -------
    ChunkedResult

    Examples
    --------
    >>> res = chunked_matrix("bundle/", cells, venues, "out/car", mode="car", workers=4,
    ...                      indicators=Indicators(category="type"))  # doctest: +SKIP
    >>> from distributed import Client
    >>> res = chunked_matrix("bundle/", cells, venues, "out/car", mode="car",
    ...                      client=Client("tcp://scheduler:8786"))  # doctest: +SKIP
    """
    common: dict[str, Any] = dict(chunk_size=chunk_size, memory_budget_mb=memory_budget_mb,
                                  drop_unreachable=drop_unreachable,
                  write_matrix=write_matrix, indicators=indicators, direction=direction, dest_block=dest_block,
                  overwrite=overwrite)
    if workers is not None:  # 0 is an error, not "no cluster"
        from .._validate import check_int

        workers = check_int("workers", workers, ge=1)
    if workers is None and scheduler is None and client is None:
        return chunked_travel_time_matrix(network, origins, destinations, out, progress=progress, **common, **opts)
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ValidationError("give only one of `workers` (a local cluster), `scheduler` (an address) or `client`")
    from ..network.bundle import TransportNetwork

    t0 = time.perf_counter()
    out = Path(out)
    if isinstance(network, TransportNetwork):
        bundle = out / "_network"
        if not (bundle / "manifest.json").exists():
            network.save(bundle)
        network = bundle
    bundle_path = str(Path(network).resolve())
    net = TransportNetwork.load(bundle_path)
    job = prepare_job(net, origins, destinations, **{k: v for k, v in common.items() if k != "overwrite"}, **opts)

    own_cluster = own_client = None
    try:
        from distributed import Client

        if workers is not None:
            own_cluster = local_cluster(workers)
            client = own_client = Client(own_cluster)
            if numba_threads is None:
                numba_threads = max(1, (os.cpu_count() or 1) // int(workers))
        elif scheduler is not None:
            client = own_client = Client(scheduler)
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        if n_workers > 1:
            # enough tasks for every worker: by default at least 4 chunks (and destination blocks) per worker
            job = job.replan(
                chunk_size=None if chunk_size is not None
                else min(job.chunk_size, -(-job.n_origins // (4 * n_workers))),
                dest_block=None if dest_block is not None or job.direction != "reverse"
                else min(job.dest_block, -(-job.n_destinations // (4 * n_workers))))
        if not overwrite:
            job = resume_plan(out, job)
        out = prepare_out_dir(out, job, overwrite=overwrite)
        out_s = str(out.resolve())
        token = uuid.uuid4().hex[:8]
        computed = 0
        errors: list = []
        for rnd in range(retries + 1):
            todo = [i for i in range(job.n_chunks) if not chunk_done(job, out, i)]
            if not todo:
                break
            # scattered again each round: a killed worker may have held its last copy (the scheduler's memory
            # manager keeps one replica), which would cancel every later task of the round
            job_f = client.scatter(job, broadcast=True, hash=False)
            if job.direction == "reverse":
                blocks = list(range(job.n_blocks))
                _run_tasks(client, _block_task, [(bundle_path, job_f, out_s, j, numba_threads) for j in blocks],
                           [f"access-block-{job.run_hash}-{token}-{rnd}-{j}" for j in blocks],
                           desc=f"{job.mode} destination blocks", total=len(blocks), progress=progress,
                           retries=retries)
            res = _run_tasks(client, _chunk_task,
                             [(bundle_path, job_f, out_s, i, numba_threads) for i in todo],
                             [f"access-chunk-{job.run_hash}-{token}-{rnd}-{i}" for i in todo],
                             desc=f"{job.mode} origin chunks", total=len(todo), progress=progress, retries=retries)
            computed += sum(1 for r in res if isinstance(r, dict) and not r.get("skipped"))
            errors += [r[1] for r in res if isinstance(r, tuple)]
        missing = [i for i in range(job.n_chunks) if not chunk_done(job, out, i)]
        if missing:
            raise AccessError(f"{len(missing)} chunks of {str(out)!r} are still missing after {retries + 1} rounds, "
                              f"e.g. {missing[:5]} (last error: {errors[-1]!r}); check the workers' logs, then run "
                              "the same command again to resume" if errors else
                              f"{len(missing)} chunks of {str(out)!r} are still missing, e.g. {missing[:5]}; run the "
                              "same command again to resume")
        del job_f
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    finish(out, job)
    clean_stale_temps(out)
    return ChunkedResult(out, job.mode, job.n_origins, job.n_destinations, job.n_chunks, job.chunk_size,
                         job.direction, computed, time.perf_counter() - t0, job.write_matrix,
                         job.indicators is not None)
