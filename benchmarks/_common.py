"""Shared helpers for the benchmarks: timing, peak memory, JSON output, data location."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from access._io_util import atomic_path  # noqa: E402
from tests._data import test_data_dir  # noqa: E402

DATA = test_data_dir()


def need(*parts) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        sys.exit(f"benchmark needs {p} (set ACCESS_TEST_DATA); skipping")
    return p


def timeit(fn, repeat: int = 3):
    """Run ``fn`` ``repeat`` times; return (median seconds, last result)."""
    times = []
    res = None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), res


def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 1024.0 / 1024.0


def machine() -> dict:
    import numba

    return dict(python=platform.python_version(), machine=platform.machine(), cpus=os.cpu_count(),
                numba_threads=numba.config.NUMBA_NUM_THREADS, processor=platform.processor())


def write_json(name: str, payload: dict, out: str | None = None) -> Path:
    path = Path(out) if out else ROOT / "benchmarks" / "results" / f"{name}.json"
    payload = dict(payload, machine=machine(), when=time.strftime("%Y-%m-%dT%H:%M:%S"))
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(payload, indent=2, default=str))
    print(f"\nwrote {path}")
    return path


def table(rows: list[dict], cols: list[str]) -> str:
    w = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    out = ["  ".join(c.ljust(w[c]) for c in cols), "  ".join("-" * w[c] for c in cols)]
    for r in rows:
        out.append("  ".join(_fmt(r.get(c)).ljust(w[c]) for c in cols))
    return "\n".join(out)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
