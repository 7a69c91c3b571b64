"""``access isochrones``: isochrone polygons from origins to GeoPackage/GeoJSON (r5r's ``isochrone()``)."""

from __future__ import annotations

import time

import click

from ._types import Departure, Number, check_suffix, check_transit_flags


@click.command("isochrones")
@click.option("--network", "network_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="network bundle built by `access network build`")
@click.option("--origins", required=True, type=click.Path(exists=True, dir_okay=False),
              help="GeoPackage, GeoJSON, Parquet, or CSV with id, lon, lat")
@click.option("--mode", type=click.Choice(["walk", "bike", "car", "transit"]), default="walk", show_default=True)
@click.option("--cutoffs", default="15,30,45", show_default=True, help="minutes, comma-separated")
@click.option("--cell-size", default=100.0, show_default=True, help="travel-time grid spacing, m")
@click.option("--departure", default=None, type=Departure(), help="transit: first departure, e.g. 2019-05-13T14:00")
@click.option("--window", default=10, show_default=True, help="transit: departure window, minutes")
@click.option("--percentile", default=50.0, show_default=True, help="transit: percentile contoured")
@click.option("--max-walk", default=None, type=float, help="transit: max walk per leg, minutes")
@click.option("--id-column", default="id", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="output .gpkg or .geojson")
@click.option("--arrive-by", default=None, type=Departure(),
              help="transit: contour the times of the latest departures arriving by then (instead of --departure)")
@click.option("--access-mode", type=click.Choice(["walk", "bike", "car"]), default="walk", show_default=True,
              help="transit: how the first stop is reached")
@click.option("--max-bike", default=None, type=Number("max_bike_min", ge=0, le=24 * 60),
              help="transit with --access-mode bike: max bike leg, minutes")
@click.option("--max-car", default=None, type=Number("max_car_min", ge=0, le=24 * 60),
              help="transit with --access-mode car: max drive to the park-and-ride stop, minutes")
@click.pass_context
def command(ctx, network_dir, origins, mode, cutoffs, cell_size, departure, window, percentile, max_walk, id_column,
            out, arrive_by, access_mode, max_bike, max_car):
    """Write isochrone polygons (id, cutoff, geometry) around each of ORIGINS."""
    from .._io_util import atomic_path
    from ..io.places import read_points
    from ..isochrones import isochrones
    from ..network.bundle import TransportNetwork

    check_suffix(out, "--out", (".gpkg", ".geojson", ".json"))
    flags = check_transit_flags(ctx, mode, departure, arrive_by, access_mode, max_bike, max_car,
                                percentile_name="percentile")
    t0 = time.perf_counter()
    net = TransportNetwork.load(network_dir)
    o = read_points(origins, name="origins", id_column=id_column)
    cuts = tuple(float(c) for c in cutoffs.split(",") if c.strip())
    kw = {"departure": departure, "window_min": window} if mode == "transit" else {}
    if arrive_by is not None:
        kw = {"arrive_by": arrive_by}
    kw.update(flags)
    if max_walk is not None and mode == "transit":
        kw["max_walk_min"] = max_walk
    iso = isochrones(net, o, mode=mode, cutoffs_min=cuts, cell_size_m=cell_size, percentile=percentile, **kw)
    iso["id"] = iso["id"].astype(str)
    driver = "GeoJSON" if out.lower().endswith((".geojson", ".json")) else "GPKG"
    suffix = ".geojson" if driver == "GeoJSON" else ".gpkg"
    with atomic_path(out, suffix=suffix) as tmp:
        iso.to_file(tmp, driver=driver, **({"layer": "isochrones"} if driver == "GPKG" else {}))
    click.echo(f"{len(iso)} isochrones written to {out} in {time.perf_counter() - t0:.1f} s")
