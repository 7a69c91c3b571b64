"""Locate the small embedded data files (`data/` at the repository's top level).

In a wheel they are shipped as ``access/_embedded_data``; in an editable install or a
checkout they are read from the repository's ``data/`` folder.
"""

from __future__ import annotations

from pathlib import Path


def data_path(name: str) -> Path:
    """Return the path of an embedded data file, e.g. ``data_path("car_speeds.csv")``."""
    here = Path(__file__).resolve().parent
    for base in (here / "_embedded_data", here.parent.parent / "data"):
        p = base / name
        if p.exists():
            return p
    raise FileNotFoundError(
        f"embedded data file {name!r} not found in {here / '_embedded_data'} nor in the repository's data/ folder; "
        "reinstall the package (pip install .)"
    )
