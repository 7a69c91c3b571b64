"""``access fetch RECIPE``: download a region recipe's sources into a cache and record them in the lock file."""

from __future__ import annotations

import click


@click.command("fetch")
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=str))
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="cache folder (default: $ACCESS_CACHE/<recipe> or ~/.cache/access/<recipe>)")
@click.option("--update", is_flag=True, help="download again and accept upstream files that changed since the lock")
@click.option("--verify", is_flag=True, help="hash cached files and compare them with the lock")
@click.option("--only", multiple=True, help="fetch only this source (repeatable)")
@click.option("--timeout", "timeout_s", type=float, default=60.0, show_default=True,
              help="seconds without data before a download counts as stalled")
@click.option("--retries", type=int, default=5, show_default=True, help="retries per file, with exponential backoff")
@click.option("--no-osm-clip", is_flag=True, help="do not merge/clip the OSM extracts to the region")
@click.option("-q", "--quiet", is_flag=True, help="no progress bars")
@click.option("--plan", is_flag=True, help="print the downloads (sizes), disk, memory and time to expect; fetch nothing")  # noqa: E501
@click.option("--bandwidth", "bandwidth_mb_s", type=float, default=10.0, show_default=True,
              help="with --plan: download speed to assume, MB/s")
def command(recipe, cache_dir, update, verify, only, timeout_s, retries, no_osm_clip, quiet, plan, bandwidth_mb_s):
    """Download every source of RECIPE (resumable, checked) and write RECIPE's lock file.

    A file whose sha256 differs from the lock file is an error (the upstream data changed) unless --update.
    """
    from ..region.fetch import fetch_recipe
    from ..region.recipe import Recipe

    r = Recipe.from_file(recipe)
    if plan:
        from ..region.fetch import format_plan, plan_recipe

        click.echo(format_plan(*plan_recipe(r, cache_dir=cache_dir, bandwidth_mb_s=bandwidth_mb_s)))
        return
    log = (lambda m: None) if quiet else (lambda m: click.echo(m, err=True))
    rep = fetch_recipe(r, cache_dir=cache_dir, update=update, verify=verify, only=list(only) or None,
                       timeout_s=timeout_s, retries=retries, progress=not quiet, clip_osm=not no_osm_clip, log=log)
    width = max((len(n) for n in rep.status), default=4)
    for name, status in rep.status.items():
        e = rep.entries.get(name) if status in ("downloaded", "cached") else None
        extra = f"{e['size_bytes'] / 1e6:9.1f} MB  sha256 {e['sha256'][:12]}" if e else ""
        path = rep.files.get(name, "")
        click.echo(f"{name:<{width}}  {status:<10}  {extra}  {path}".rstrip())
    if rep.osm_path is not None:
        click.echo(f"{'osm':<{width}}  {'clipped':<10}  {rep.osm_path}")
    if rep.lock_path is not None:
        click.echo(f"lock file: {rep.lock_path}")
