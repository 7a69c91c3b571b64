"""``access network build``: build a network bundle from OSM (+ GTFS)."""

from __future__ import annotations

import time

import click


@click.group("network")
def command():
    """Build and inspect transport networks."""


@command.command("build")
@click.option("--osm", "osm", required=True, type=click.Path(dir_okay=False), help="OpenStreetMap .pbf extract")
@click.option("--gtfs", multiple=True, type=click.Path(), help="GTFS feed (zip or folder); repeat for several")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="output bundle folder")
@click.option("--modes", default="walk,bike,car", show_default=True, help="street modes, comma-separated")
@click.option("--walk-speed", default=3.6, show_default=True, help="walking speed, km/h")
@click.option("--bike-speed", default=12.0, show_default=True, help="cycling speed, km/h")
@click.option("--max-transfer-walk", default=10.0, show_default=True, help="transit transfers: max walk, minutes")
def build(osm, gtfs, out, modes, walk_speed, bike_speed, max_transfer_walk):
    """Build the street graphs (and the transit timetable) and save them as a bundle in OUT."""
    from ..network.bundle import TransportNetwork

    t0 = time.perf_counter()
    net = TransportNetwork.from_files(osm, list(gtfs), modes=[m.strip() for m in modes.split(",") if m.strip()],
                                      walk_speed_kmh=walk_speed, bike_speed_kmh=bike_speed,
                                      max_transfer_walk_min=max_transfer_walk, progress=True)
    net.save(out)
    click.echo(f"{net}\nsaved to {out} in {time.perf_counter() - t0:.1f} s")


@command.command("info")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
def info(bundle):
    """Describe a network bundle."""
    from ..network.bundle import TransportNetwork

    net = TransportNetwork.load(bundle)
    click.echo(repr(net))
    for k, v in net.manifest.items():
        click.echo(f"  {k}: {v}")


@command.command("export")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="output GeoPackage (.gpkg)")
@click.option("--modes", default=None, help="street modes to export, comma-separated (default: all)")
def export(bundle, out, modes):
    """Write a network bundle to a GeoPackage: layers streets (edges with way ids, modes, speeds), stops, routes."""
    from .._io_util import atomic_path
    from ..network.bundle import TransportNetwork

    t0 = time.perf_counter()
    net = TransportNetwork.load(bundle)
    layers = net.to_geodataframes([m.strip() for m in modes.split(",")] if modes else None)
    with atomic_path(out, suffix=".gpkg") as tmp:
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG")
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in layers.items())
    click.echo(f"{sizes} written to {out} in {time.perf_counter() - t0:.1f} s")
