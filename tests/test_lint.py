"""ruff and mypy on ``src/`` (configured in pyproject.toml): both must report nothing.

They run as subprocesses of the interpreter running the tests (``python -m ruff``, ``python -m mypy``), so the
README's test command runs them; mypy keeps its cache in the repository's ignored ``.mypy_cache`` (a warm run takes
seconds). Where the tools are not installed (not the ``test`` extra), the tests are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str, timeout_s: float) -> subprocess.CompletedProcess:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install -e '.[test]')")
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout_s)


def test_ruff_is_clean_on_src():
    p = _run("ruff", "check", "--no-cache", "src", timeout_s=120)
    assert p.returncode == 0, f"ruff check src found problems:\n{p.stdout}\n{p.stderr}"


def test_mypy_is_clean_on_src():
    p = _run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"), "src/access", timeout_s=900)
    assert p.returncode == 0, f"mypy src/access found problems:\n{p.stdout[-20000:]}\n{p.stderr[-2000:]}"
