"""The ``access`` command line.

Each subcommand lives in its own module ``access.commands.<name>`` exposing a click command
named ``command``; they are imported lazily so that ``access --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import click

from ._errors import AccessError

#: subcommand name -> module defining ``command``
SUBCOMMANDS = {
    "network": "access.commands.network",
    "matrix": "access.commands.matrix",
    "indicators": "access.commands.indicators",
    "fetch": "access.commands.fetch",
    "run": "access.commands.run",
    "demo": "access.commands.demo",
    "scenario": "access.commands.scenario",
    "site": "access.commands.site",
    "synth": "access.commands.synth",
    "isochrones": "access.commands.isochrones",
    "route": "access.commands.route",
    "snap": "access.commands.snap",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        names = []
        for name, mod in SUBCOMMANDS.items():
            if importlib.util.find_spec(mod) is not None:
                names.append(name)
        return sorted(names)

    def get_command(self, ctx, name):
        mod = SUBCOMMANDS.get(name)
        if mod is None or importlib.util.find_spec(mod) is None:
            return None
        return importlib.import_module(mod).command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="access")
def cli():
    """access: routing-based accessibility to culture (streets, transit, indicators, scenarios)."""


def main(argv=None):
    """Entry point: run the CLI, turning AccessError into a one-line message and exit code 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except AccessError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
