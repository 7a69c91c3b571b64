"""``access serve OUT_DIR``: a live scenario map (Dash) over the folder of ``access run`` / ``access demo``."""

from __future__ import annotations

import click


@click.command("serve")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="TCP port")
@click.option("--mode", default="car", show_default=True, type=click.Choice(["walk", "bike", "car", "transit"]),
              help="mode of the accessibility state (one the run computed)")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to bind; anything but 127.0.0.1 exposes the app to the network")
@click.option("--typology", "typology", default=None, type=click.Path(exists=True, dir_okay=False, path_type=str),
              help="typology settings (TOML) if the run used other than data/typology_default.toml")
def command(out_dir, port, mode, host, typology):
    """Open a page where a click opens a venue, a click on a venue removes it and a lasso closes streets; the EPCI
    that change are listed within a second. A JSON API is under /api (see the README)."""
    from ..serve import serve

    if host != "127.0.0.1":
        click.echo(f"warning: binding {host}: the app is reachable from other machines", err=True)
    serve(out_dir, mode=mode, host=host, port=port, typology_config=typology,
          log=lambda m: click.echo(m, err=True))
