"""``access run RECIPE --out DIR``: a region recipe from its sources to the report folder."""

from __future__ import annotations

import click


def echo_result(res) -> None:
    """Print where the report is and the per-step timings."""
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in res.timings_s.items() if k != "total")
    click.echo(f"steps: {steps}", err=True)
    if res.reused:
        click.echo(f"reused (up to date): {', '.join(res.reused)}", err=True)
    n = sum(len(v) for v in res.files.values())
    counts = res.areas["class"].value_counts().to_dict()
    click.echo(f"{len(res.areas)} areas classified: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    click.echo(f"report ({n} files) in {res.out_dir}: summary.md, epci.gpkg, epci_map.html, maps/ "
               f"- {res.timings_s['total']:.1f} s")


@click.command("run")
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=str))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=str),
              help="report folder (created); re-running reuses its up-to-date steps")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="download cache (default: $ACCESS_CACHE/<recipe> or ~/.cache/access/<recipe>)")
@click.option("--no-fetch", is_flag=True, help="do not download: every source must already be in the cache")
@click.option("--retries", type=int, default=5, show_default=True,
              help="download retries per file, with exponential backoff")
@click.option("--timeout", "timeout_s", type=float, default=60.0, show_default=True,
              help="seconds without data before a download counts as stalled")
@click.option("--modes", default=None, help="comma-separated subset of the recipe's modes")
@click.option("--until", type=click.Choice(["sources", "network", "inputs", "matrix", "indicators", "barriers",
                                           "areas"]),
              default=None, help="stop after this step")
@click.option("-q", "--quiet", is_flag=True, help="no progress bars nor step log")
def command(recipe, out, cache_dir, no_fetch, retries, timeout_s, modes, until, quiet):
    """Fetch RECIPE's sources if needed, build the network, compute travel times, indicators and the typology,
    and write the report (GeoPackage, Parquet, PNG maps, HTML map, summary.md) into --out."""
    from ..region.pipeline import run

    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    ms = [m.strip() for m in modes.split(",") if m.strip()] if modes else None
    res = run(recipe, out, fetch=not no_fetch, progress=not quiet, cache_dir=cache_dir, modes=ms, until=until,
              fetch_options=dict(retries=retries, timeout_s=timeout_s), log=log)
    if res.areas is None:
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in res.timings_s.items())
        click.echo(f"stopped after {until}: {steps}")
        return
    echo_result(res)
