"""CLI subcommands, one module each (see access.cli)."""
