"""The ``access`` command line.

Each subcommand lives in its own module ``access.commands.<name>`` exposing a click command
named ``command``; they are imported lazily so that ``access --help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import warnings

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
    "serve": "access.commands.serve",
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


#: library keyword -> the command-line option a user types (warnings and errors name the option, not the keyword)
OPTION_NAMES = {
    "max_snap_m": "--max-snap", "window_min": "--window", "max_time_min": "--max-time",
    "walk_speed_kmh": "--walk-speed", "bike_speed_kmh": "--bike-speed", "max_walk_min": "--max-walk",
    "max_rides": "--max-rides", "travel_cost": "--travel-cost", "memory_budget_mb": "--memory-budget",
    "chunk_size": "--chunk-size", "percentiles": "--percentiles", "departure": "--departure",
}
_NAMES_RE = re.compile(r"`?\b(" + "|".join(k for k in OPTION_NAMES if "_" in k) + r")\b`?|`(" +
                       "|".join(k for k in OPTION_NAMES if "_" not in k) + r")`")
#: warning classes that say nothing a user of the command line can act on
_QUIET_WARNINGS = ("PerformanceWarning", "NumbaPerformanceWarning", "FutureWarning", "DeprecationWarning")


def cli_text(message: str) -> str:
    """A library message as the command line shows it: one line, keywords replaced by their options."""
    text = " ".join(str(message).split())
    return _NAMES_RE.sub(lambda m: OPTION_NAMES[m.group(1) or m.group(2)], text)


class _OneLineWarnings:
    """``warnings.showwarning`` while a command runs: one line per warning (no source line), each text once."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        if category.__name__ in _QUIET_WARNINGS:
            return
        text = cli_text(str(message))
        key = (category.__name__, text)
        if key in self.seen:
            return
        self.seen.add(key)
        click.echo(f"warning: {text}", err=True)


def main(argv=None):
    """Entry point: run the CLI, turning AccessError into a one-line message and exit code 2.

    While the command runs, warnings print as one deduplicated line each, naming command-line options
    (:func:`cli_text`); the previous ``warnings.showwarning`` is restored afterwards.
    """
    previous = warnings.showwarning
    warnings.showwarning = _OneLineWarnings()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # every text reaches the deduplication above, once per text
            cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except AccessError as e:
        click.echo(f"error: {cli_text(str(e))}", err=True)
        return 2
    finally:
        warnings.showwarning = previous
    return 0


if __name__ == "__main__":
    sys.exit(main())
