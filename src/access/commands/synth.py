"""``access synth``: generate deterministic synthetic regions in the real file formats."""

from __future__ import annotations

import json
import time

import click


@click.group("synth")
def command():
    """Generate synthetic regions (OSM .pbf, GTFS zip, Filosofi grid, Basilic venues, EPCI polygons, recipe)."""


@command.command("demo")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--seed", default=42, show_default=True, type=int, help="random seed (same seed, same files)")
def demo(out, seed):
    """Write the small demo territory (seven towns, villages, rail, buses) into OUT."""
    from ..synth.demo import make_demo_region

    t0 = time.perf_counter()
    paths = make_demo_region(out, seed=seed)
    man = json.loads(paths["manifest"].read_text(encoding="utf-8"))
    click.echo(f"demo region (seed {seed}) written to {out} in {time.perf_counter() - t0:.1f} s: "
               f"{man['osm']['nodes']} OSM nodes, {man['gtfs']['stops.txt']} stops, "
               f"{man['filosofi']['cells']} populated cells, {man['basilic']['venues']} venues, "
               f"{man['epci']['count']} EPCI")
    click.echo(f"recipe: {paths['recipe']}")


@command.command("region")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="1.0 = the whole region (~1 M street nodes); smaller keeps the EPCIs around Arras")
@click.option("--seed", default=0, show_default=True, type=int, help="random seed")
@click.option("--data-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="the hauts_de_france geography folder (default: the shared test data)")
def region(out, scale, seed, data_dir):
    """Write a region-scale synthetic network on the real geography of Hauts-de-France into OUT."""
    from ..synth.region import make_region

    t0 = time.perf_counter()
    res = make_region(out, scale=scale, seed=seed, data_dir=data_dir, progress=True)
    c = res["counts"]
    click.echo(f"region (scale {scale:g}, seed {seed}) written to {out} in {time.perf_counter() - t0:.1f} s: "
               f"{c['street_nodes']} street nodes, {c['stops']} stops, {c['stop_times']} stop times, "
               f"{c['cells']} populated cells, {c['venues']} venues, {c['epci']} EPCI")
    click.echo(f"recipe: {res['recipe']}")
