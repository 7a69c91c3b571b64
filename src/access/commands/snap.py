"""``access snap``: where each point snaps onto a mode's street network and how far (r5r's ``find_snap``)."""

from __future__ import annotations

import click

from ._types import check_suffix


@click.command("snap")
@click.option("--network", "network_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="network bundle built by `access network build`")
@click.option("--points", required=True, type=click.Path(exists=True, dir_okay=False),
              help="GeoPackage, GeoJSON, Parquet, or CSV with id, lon, lat")
@click.option("--mode", type=click.Choice(["walk", "bike", "car"]), default="walk", show_default=True)
@click.option("--max-snap", default=500.0, show_default=True, help="points farther are reported unsnapped, m")
@click.option("--id-column", default="id", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="output .csv, .parquet, .gpkg")
def command(network_dir, points, mode, max_snap, id_column, out):
    """Snap POINTS onto the MODE network: snapped point, distance, the street's way id."""
    from .._io_util import atomic_path
    from ..io.places import read_points
    from ..network.bundle import TransportNetwork
    from ..routing.snap import find_snap

    check_suffix(out, "--out", (".csv", ".parquet", ".gpkg"))
    net = TransportNetwork.load(network_dir)
    pts = read_points(points, name="points", id_column=id_column)
    res = find_snap(net, pts, mode=mode, max_snap_m=max_snap)
    low = out.lower()
    suffix = ".csv" if low.endswith(".csv") else ".parquet" if low.endswith(".parquet") else ".gpkg"
    with atomic_path(out, suffix=suffix) as tmp:
        if suffix == ".csv":
            res.drop(columns="geometry").to_csv(tmp, index=False)
        elif suffix == ".parquet":
            res.to_parquet(tmp)
        else:
            res.to_file(tmp, layer="snaps", driver="GPKG")
    n_ok = int(res["snapped"].sum())
    click.echo(f"{n_ok} of {len(res)} points snapped onto the {mode} network (median "
               f"{res['distance_m'].median():.1f} m); written to {out}")
