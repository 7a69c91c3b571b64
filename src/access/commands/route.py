"""``access route``: itineraries with geometry (every leg) between points, to GeoPackage/GeoJSON."""

from __future__ import annotations

import time

import click

from ._types import Departure, check_suffix, check_transit_flags


@click.command("route")
@click.option("--network", "network_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="network bundle built by `access network build` (with GTFS)")
@click.option("--origins", required=True, type=click.Path(exists=True, dir_okay=False),
              help="GeoPackage, GeoJSON, Parquet, or CSV with id, lon, lat")
@click.option("--destinations", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--departure", default=None, type=Departure(), help="first departure, e.g. 2019-05-13T14:00")
@click.option("--arrive-by", default=None, type=Departure(),
              help="instead of --departure: the journey leaving at the latest minute that arrives by then")
@click.option("--window", default=1, show_default=True, help="departure minutes: distinct itineraries are options")
@click.option("--max-time", default=120.0, show_default=True, help="max travel time, minutes")
@click.option("--max-walk", default=None, type=float, help="max walk per leg, minutes")
@click.option("--max-rides", default=3, show_default=True)
@click.option("--all-to-all", is_flag=True, help="every origin with every destination (default: row by row)")
@click.option("--id-column", default="id", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="output .gpkg or .geojson")
@click.pass_context
def command(ctx, network_dir, origins, destinations, departure, arrive_by, window, max_time, max_walk, max_rides,
            all_to_all, id_column, out):
    """Write the legs of the walk + transit itineraries from ORIGINS to DESTINATIONS, one row per leg."""
    from .._io_util import atomic_path
    from ..io.places import read_points
    from ..network.bundle import TransportNetwork
    from ..routing.itinerary import itineraries

    check_suffix(out, "--out", (".gpkg", ".geojson", ".json"))
    check_transit_flags(ctx, "transit", departure, arrive_by, "walk", None, None, percentile_name="window")
    t0 = time.perf_counter()
    net = TransportNetwork.load(network_dir)
    o = read_points(origins, name="origins", id_column=id_column)
    d = read_points(destinations, name="destinations", id_column=id_column)
    kw = {"arrive_by": arrive_by} if arrive_by is not None else {"window_min": window}
    it = itineraries(net, o, d, departure, max_time_min=max_time, max_walk_min=max_walk, max_rides=max_rides,
                     all_to_all=all_to_all, **kw)
    for c in ("from_id", "to_id"):
        it[c] = it[c].astype(str)
    for c in ("departure_time", "departure", "arrival"):
        it[c] = it[c].astype(str)
    driver = "GeoJSON" if out.lower().endswith((".geojson", ".json")) else "GPKG"
    with atomic_path(out, suffix=".geojson" if driver == "GeoJSON" else ".gpkg") as tmp:
        it.to_file(tmp, driver=driver, **({"layer": "legs"} if driver == "GPKG" else {}))
    n = it.groupby(["from_id", "to_id", "option"]).ngroups if len(it) else 0
    click.echo(f"{n} itineraries ({len(it)} legs) written to {out} in {time.perf_counter() - t0:.1f} s")
