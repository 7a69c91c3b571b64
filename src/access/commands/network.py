"""``access network build``: build a network bundle from OSM (+ GTFS)."""

from __future__ import annotations

import time

import click

from ._types import BIKE_SPEED, WALK_SPEED, Modes, Number, check_suffix, check_writable


@click.group("network")
def command():
    """Build and inspect transport networks."""


@command.command("build")
@click.option("--osm", "osm", required=True, type=click.Path(exists=True, dir_okay=False),
              help="OpenStreetMap .pbf extract")
@click.option("--gtfs", multiple=True, type=click.Path(exists=True),
              help="GTFS feed (zip or folder); repeat for several")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="output bundle folder")
@click.option("--modes", default="walk,bike,car", show_default=True, type=Modes(("walk", "bike", "car")),
              help="street modes, comma-separated")
@click.option("--walk-speed", default=3.6, show_default=True, type=WALK_SPEED, help="walking speed, km/h")
@click.option("--bike-speed", default=12.0, show_default=True, type=BIKE_SPEED, help="cycling speed, km/h")
@click.option("--max-transfer-walk", default=10.0, show_default=True,
              type=Number("max_transfer_walk_min", ge=0, le=120), help="transit transfers: max walk, minutes")
@click.option("--overwrite", is_flag=True, help="replace OUT even if it is a non-empty folder that is not a bundle")
@click.option("--elevation", default=None, type=click.Path(exists=True, dir_okay=False),
              help="GeoTIFF DEM (EPSG:4326): walk and bike times follow the slopes as R5 (Tobler, edge by edge)")
def build(osm, gtfs, out, modes, walk_speed, bike_speed, max_transfer_walk, overwrite, elevation):
    """Build the street graphs (and the transit timetable) and save them as a bundle in OUT."""
    from ..network.bundle import TransportNetwork, check_save_target

    check_writable(out, "--out")
    check_save_target(out, overwrite=overwrite)  # before the build, not after it
    t0 = time.perf_counter()
    net = TransportNetwork.from_files(osm, list(gtfs), modes=list(modes), walk_speed_kmh=walk_speed,
                                      bike_speed_kmh=bike_speed, max_transfer_walk_min=max_transfer_walk,
                                      progress=True, elevation=elevation)
    net.save(out, overwrite=overwrite)
    click.echo(f"{net}\nsaved to {out} in {time.perf_counter() - t0:.1f} s")
    for m in net.modes:
        d = net.street(m).meta.get("disconnected") or {}
        if d.get("nodes"):
            click.echo(f"  {m}: {d['nodes']:,} nodes, {d['ways']:,} ways ({d['edges']:,} edges) in {d['parts']:,} "
                       "part(s) disconnected from the largest strongly connected network were dropped")


@command.command("verify")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
def verify(bundle):
    """Check every file of BUNDLE against the full hashes recorded in its manifest."""
    from .._errors import NetworkError
    from ..network.bundle import verify_bundle

    problems = verify_bundle(bundle)
    if problems:
        raise NetworkError(f"bundle {bundle!r} is damaged: " + "; ".join(problems) + "; rebuild it "
                           "(`access network build`)")
    click.echo(f"{bundle}: every file matches its recorded sha256")


@command.command("info")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
def info(bundle):
    """Describe a network bundle: street graphs (nodes, edges, bbox), transit feeds (service dates, stops, routes,
    trips, bbox of the stops) and the build settings."""
    click.echo("\n".join(network_info_lines(bundle)))


def _bbox(lon, lat) -> str:
    import numpy as np

    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return "none"
    return (f"lon {lon[ok].min():.4f}..{lon[ok].max():.4f}, lat {lat[ok].min():.4f}..{lat[ok].max():.4f}")


def network_info_lines(bundle) -> list[str]:
    """The lines ``access network info`` prints (also used by tests)."""
    import datetime as dt

    import numpy as np

    from ..network.bundle import TransportNetwork

    net = TransportNetwork.load(bundle)
    lines = [f"network bundle {bundle}"]
    for m in net.modes:
        g = net.street(m)
        lines.append(f"  {m:<8} {g.n_nodes:>10,} nodes {g.n_edges:>11,} edges   bbox {_bbox(g.node_lon, g.node_lat)}")
        d = g.meta.get("disconnected") or {}
        if d.get("nodes"):
            lines.append(f"           dropped as disconnected: {d['nodes']:,} nodes, {d['ways']:,} ways in "
                         f"{d['parts']:,} part(s)")
    tt = net.timetable
    if tt is None:
        lines.append("  transit  none (built without GTFS)")
    else:
        a = tt.arrays
        span = tt.service_dates
        lines.append(f"  transit  {tt.n_stops:,} stops, {tt.n_routes:,} routes, {tt.n_trips:,} trips; service "
                     + (f"{span[0].isoformat()} .. {span[1].isoformat()}" if span else "on no date") +
                     f"; stops bbox {_bbox(a['stop_lon'], a['stop_lat'])}")
        feeds = tt.meta.get("feeds") or []
        act = np.asarray(a["service_active"])
        sids = np.asarray(a["service_id"]).astype(str)
        d0 = int(tt.meta["day0"])
        stop_ids = np.asarray(a["stop_id"]).astype(str)
        for f in feeds:
            fid = str(f.get("feed_id"))
            pre = f"{fid}:" if len(feeds) > 1 else ""
            mine = np.char.startswith(sids, pre) if pre else np.ones(len(sids), bool)
            days = np.flatnonzero(act[mine].any(axis=0)) if act.size and mine.any() else np.array([], int)
            dates = (f"{dt.date.fromordinal(d0 + int(days[0]))} .. {dt.date.fromordinal(d0 + int(days[-1]))}"
                     if len(days) else "no service date")
            n_st = int(np.char.startswith(stop_ids, pre).sum()) if pre else len(stop_ids)
            lines.append(f"    feed {fid}: service {dates}, {n_st:,} stops, timezone {f.get('timezone')}, "
                         f"{f.get('n_frequency_trips', 0)} trips from frequencies.txt ({f.get('path')})")
        if tt.meta.get("n_unlinked"):
            lines.append(f"    {tt.meta['n_unlinked']:,} used stops are farther than {tt.meta.get('max_snap_m')} m "
                         "from the walk network (not linked)")
    st = net.manifest.get("settings")
    if st:
        lines.append("  settings " + ", ".join(f"{k}={v}" for k, v in st.items()))
    if net.manifest.get("inputs"):
        lines.append("  inputs   " + ", ".join(map(str, net.manifest["inputs"])))
    return lines


@command.command("export")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="output GeoPackage (.gpkg)")
@click.option("--modes", default=None, help="street modes to export, comma-separated (default: all)")
def export(bundle, out, modes):
    """Write a network bundle to a GeoPackage: layers streets (edges with way ids, modes, speeds), stops, routes."""
    from .._io_util import atomic_path
    from ..network.bundle import TransportNetwork

    check_suffix(out, "--out", (".gpkg",))
    t0 = time.perf_counter()
    net = TransportNetwork.load(bundle)
    layers = net.to_geodataframes([m.strip() for m in modes.split(",")] if modes else None)
    with atomic_path(out, suffix=".gpkg") as tmp:
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG")
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in layers.items())
    click.echo(f"{sizes} written to {out} in {time.perf_counter() - t0:.1f} s")
