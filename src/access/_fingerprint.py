"""One cache fingerprint for every cached result: the package version, the Python sources a result depends on and
the embedded data files those sources read (``data/*.csv``, ``data/*.toml``), so that editing a speed table or a
module invalidates what was built with it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

__all__ = ["code_fingerprint"]

_ROOT = Path(__file__).resolve().parent


def _embedded_data_files() -> list[Path]:
    out: list[Path] = []
    for base in (_ROOT / "_embedded_data", _ROOT.parent.parent / "data"):
        if base.is_dir():
            out.extend(p for p in base.iterdir() if p.suffix in (".csv", ".toml", ".json"))
            break
    return out


@lru_cache(maxsize=64)
def _fingerprint(parts: tuple[str, ...], with_data: bool) -> str:
    from ._version import __version__

    files: set[Path] = set()
    for part in parts:
        p = _ROOT / part
        files |= set(p.rglob("*.py")) if p.is_dir() else ({p} if p.exists() else set())
    h = hashlib.sha256(__version__.encode())
    for p in sorted(files):
        h.update(str(p.relative_to(_ROOT)).encode())
        h.update(p.read_bytes())
    if with_data:
        for p in sorted(_embedded_data_files()):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def code_fingerprint(parts: Iterable[str] = ("",), *, with_data: bool = True) -> str:
    """Hash of the package version, of the sources under ``parts`` (paths relative to the package, files or
    folders; ``""`` is the whole package) and, by default, of the embedded data files."""
    return _fingerprint(tuple(parts), with_data)
