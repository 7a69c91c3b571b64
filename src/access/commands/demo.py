"""``access demo [--out DIR]``: generate the embedded synthetic region and run the whole pipeline on it."""

from __future__ import annotations

import time
from pathlib import Path

import click


def run_demo(out="access-demo", *, seed: int = 42, progress: bool = True, log=None):
    """Write the synthetic region's source files to ``out/data`` (:func:`access.synth.demo.make_demo_region`) and
    run :func:`access.pipeline.run` on its recipe into ``out``, through the same loaders as real data.

    Returns the :class:`~access.pipeline.RunResult`; ``timings_s["generate"]`` is the generation time.
    """
    from ..region.pipeline import run
    from ..synth.demo import make_demo_region

    out = Path(out)
    log = log or (lambda m: None)
    t0 = time.perf_counter()
    data = out / "data"
    # generated again every time (2-3 s, byte-identical for a seed): the steps downstream see the same file
    # contents and are reused from the previous run's cache
    log(f"[generate] synthetic region (seed {seed}) -> {data}")
    recipe = make_demo_region(data, seed=seed)["recipe"]
    t_gen = time.perf_counter() - t0
    res = run(recipe, out, fetch=True, progress=progress, cache_dir=out / "cache" / "sources", log=log)
    res.timings_s = {"generate": t_gen, **res.timings_s}
    res.timings_s["total"] = time.perf_counter() - t0
    return res


@click.command("demo")
@click.option("--out", "out", default="access-demo", show_default=True,
              type=click.Path(file_okay=False, path_type=str), help="folder for the generated data and the report")
@click.option("--seed", default=42, show_default=True, help="seed of the synthetic region")
@click.option("-q", "--quiet", is_flag=True, help="no progress bars nor step log")
def command(out, seed, quiet):
    """Run the whole pipeline on an embedded synthetic region (no download): OSM .pbf, GTFS, Filosofi grid,
    Basilic venues and EPCI polygons are generated in the real formats, then read by the same loaders as real
    data. Open OUT/summary.md and OUT/epci_map.html afterwards."""
    from .run import echo_result

    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    res = run_demo(out, seed=seed, progress=not quiet, log=log)
    echo_result(res)
