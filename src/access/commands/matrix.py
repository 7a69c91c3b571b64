"""``access matrix``: an origin-destination travel-time matrix to Parquet."""

from __future__ import annotations

import time

import click

from ..options import MAX_RIDES_CAP
from ._types import (
    BIKE_SPEED,
    MAX_SNAP,
    MAX_TIME,
    WALK_SPEED,
    WINDOW,
    Departure,
    Number,
    Percentiles,
    check_suffix,
    check_transit_flags,
    check_writable,
)


@click.command("matrix")
@click.option("--network", "network_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="network bundle built by `access network build`")
@click.option("--origins", required=True, type=click.Path(exists=True, dir_okay=False),
              help="GeoPackage, GeoJSON, Parquet, or CSV with id, lon, lat")
@click.option("--destinations", type=click.Path(exists=True, dir_okay=False), help="default: the origins")
@click.option("--mode", type=click.Choice(["walk", "bike", "car", "transit"]), default="walk", show_default=True)
@click.option("--out", required=True, type=click.Path(),
              help="output Parquet file (or folder with --chunk-size/--memory-budget/--workers: re-run to resume)")
@click.option("--max-time", default=120.0, show_default=True, type=MAX_TIME,
              help="max travel time, minutes (r5r's default)")
@click.option("--departure", default=None, type=Departure(), help="transit: first departure, e.g. 2019-05-13T14:00")
@click.option("--window", default=10, show_default=True, type=WINDOW,
              help="transit: departure window, minutes (r5r's default)")
@click.option("--percentiles", default="50", show_default=True, type=Percentiles(),
              help="transit: e.g. 5,25,50,75,95")
@click.option("--max-walk", default=None, type=Number("max_walk_min", ge=0, le=24 * 60),
              help="transit: max walk per leg, minutes")
@click.option("--max-rides", default=3, show_default=True,
              type=Number("max_rides", integer=True, ge=0, le=MAX_RIDES_CAP),
              help="transit: max vehicles boarded")
@click.option("--walk-speed", default=3.6, show_default=True, type=WALK_SPEED, help="km/h")
@click.option("--bike-speed", default=12.0, show_default=True, type=BIKE_SPEED, help="km/h")
@click.option("--max-snap", default=500.0, show_default=True, type=MAX_SNAP,
              help="points farther from the network are unreachable, m")
@click.option("--id-column", default="id", show_default=True)
@click.option("--drop-unreachable", is_flag=True, help="leave unreachable pairs out of the table")
@click.option("--chunk-size", default=None, type=Number("chunk_size", integer=True, ge=1),
              help="origins per chunk: write a partitioned Parquet folder (resumable)")
@click.option("--memory-budget", "memory_budget_mb", default=None, type=Number("memory_budget_mb", gt=0),
              help="working memory of one chunk, MB: sets the chunk size (partitioned Parquet folder, resumable)")
@click.option("--workers", default=None, type=Number("workers", integer=True, ge=1, le=1024),
              help="run chunks on a local Dask cluster of N workers")
@click.option("--scheduler", default=None, help="address of an existing dask.distributed scheduler")
@click.option("--arrive-by", default=None, type=Departure(),
              help="arrive-by matrix (instead of --departure): latest departure arriving by this time, e.g. "
                   "2019-05-13T20:30; the table gets a departure_time column")
@click.option("--access-mode", type=click.Choice(["walk", "bike", "car"]), default="walk", show_default=True,
              help="transit: how the first stop is reached (bike: any stop; car: park-and-ride stops)")
@click.option("--max-bike", default=None, type=Number("max_bike_min", ge=0, le=24 * 60),
              help="transit with --access-mode bike: max bike leg, minutes")
@click.option("--max-car", default=None, type=Number("max_car_min", ge=0, le=24 * 60),
              help="transit with --access-mode car: max drive to the park-and-ride stop, minutes")
@click.pass_context
def command(ctx, network_dir, origins, destinations, mode, out, max_time, departure, window, percentiles, max_walk,
            max_rides, walk_speed, bike_speed, max_snap, id_column, drop_unreachable, chunk_size, memory_budget_mb,
            workers, scheduler, arrive_by, access_mode, max_bike, max_car):
    """Compute travel times from ORIGINS to DESTINATIONS and write a long Parquet table."""
    from pathlib import Path

    from ..io.places import read_points
    from ..matrix import travel_time_matrix
    from ..network.bundle import TransportNetwork

    chunked = any(x is not None for x in (chunk_size, memory_budget_mb, workers, scheduler))  # 0 is not "absent"
    if chunked and Path(out).is_file():
        raise click.BadParameter(f"{out!r} is a file; a chunked run writes a folder of Parquet partitions: give a "
                                 "folder path", param_hint="'--out'")
    if not chunked and Path(out).is_dir():
        raise click.BadParameter(f"{out!r} is a folder; without --chunk-size/--memory-budget/--workers the matrix is "
                                 "one Parquet file: give a file path, or add --memory-budget to write (or resume) a "
                                 "partitioned folder", param_hint="'--out'")
    if not chunked and not Path(out).is_dir():
        check_suffix(out, "--out", (".parquet",))
    check_writable(out, "--out")
    transit_flags = check_transit_flags(ctx, mode, departure, arrive_by, access_mode, max_bike, max_car)
    t0 = time.perf_counter()
    net = TransportNetwork.load(network_dir)
    o = read_points(origins, name="origins", id_column=id_column)
    d = read_points(destinations, name="destinations", id_column=id_column) if destinations else o
    opts = dict(mode=mode, max_time_min=max_time, departure=departure, window_min=window, percentiles=percentiles,
                max_walk_min=max_walk, max_rides=max_rides, walk_speed_kmh=walk_speed, bike_speed_kmh=bike_speed,
                max_snap_m=max_snap, **transit_flags)
    if arrive_by is not None:
        for k in ("departure", "window_min", "percentiles"):
            opts.pop(k)
        opts["arrive_by"] = arrive_by
    if chunked:
        from ..scale.distributed import chunked_matrix

        res = chunked_matrix(network_dir, o, d, out, chunk_size=chunk_size, memory_budget_mb=memory_budget_mb,
                             workers=workers, scheduler=scheduler, drop_unreachable=drop_unreachable, progress=True,
                             **opts)
        if res.chunks_computed == 0:
            click.echo(f"{res}\n{out} was already complete (all {res.n_chunks} chunks written); nothing to compute")
        else:
            click.echo(f"{res}\nwritten to {out} in {time.perf_counter() - t0:.1f} s")
        return
    ttm = travel_time_matrix(net, o, d, progress=True, **opts)
    ttm.to_parquet(out, drop_unreachable=drop_unreachable)
    click.echo(f"{ttm}\nwritten to {out} in {time.perf_counter() - t0:.1f} s")

