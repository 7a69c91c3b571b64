"""Where the tests and benchmarks read the real data: ``ACCESS_TEST_DATA``, default ``../shared/data`` next to the
repository (see the shared data's README)."""

from __future__ import annotations

import os
from pathlib import Path


def test_data_dir() -> Path:
    """The real-data folder (``ACCESS_TEST_DATA``, default ``../shared/data``)."""
    env = os.environ.get("ACCESS_TEST_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


test_data_dir.__test__ = False  # type: ignore[attr-defined]  # not a test
