"""Generate the region-scale synthetic network (access.synth.region) and report counts, time and peak memory.

    python benchmarks/gen_region.py --scale 1.0
    python benchmarks/gen_region.py --scale 0.01,0.1,1.0 --out benchmarks/results/gen_region.json

Each scale runs in a fresh subprocess (so that its peak RSS is its own); the table compares the scales of the same
run. The generated files go to --dir (default: a temporary folder, removed afterwards) and can be kept with --keep.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(scale: float, seed: int, out_dir: str) -> None:
    from access.synth.region import make_region

    t0 = time.perf_counter()
    res = make_region(out_dir, scale=scale, seed=seed)
    secs = time.perf_counter() - t0
    sizes = {k: Path(res[k]).stat().st_size for k in ("osm", "gtfs", "filosofi", "basilic", "epci")}
    counts = dict(res["counts"])
    counts.pop("highway", None)
    print(json.dumps({"scale": scale, "seed": seed, "seconds": round(secs, 2), "stages_s": res["stages_s"],
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "counts": counts, "file_bytes": sizes}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="1.0", help="scale(s), comma-separated (default 1.0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", default=None, help="where to write the generated files (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gen_region.json"),
                    help="JSON result path")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    scales = [float(s) for s in a.scale.split(",") if s.strip()]
    if a.child:
        _child(scales[0], a.seed, a.dir)
        return 0
    rows = []
    base = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="gen_region_"))
    try:
        for s in scales:
            d = base / f"scale_{s:g}"
            p = subprocess.run([sys.executable, __file__, "--child", "--scale", str(s), "--seed", str(a.seed),
                                "--dir", str(d)], capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stderr, file=sys.stderr)
                return p.returncode
            rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    finally:
        if not a.keep and not a.dir:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    hdr = f"{'scale':>6} {'time s':>7} {'RSS MB':>7} {'nodes':>9} {'ways':>8} {'stops':>7} {'stop_times':>10} " \
          f"{'cells':>8} {'venues':>6} {'EPCI':>4} {'pbf MB':>7} {'gtfs MB':>7} {'gpkg MB':>7}"
    print(hdr)
    for r in rows:
        c, fb = r["counts"], r["file_bytes"]
        print(f"{r['scale']:>6g} {r['seconds']:>7.1f} {r['peak_rss_mb']:>7.0f} {c['street_nodes']:>9} {c['ways']:>8} "
              f"{c['stops']:>7} {c['stop_times']:>10} {c['cells']:>8} {c['venues']:>6} {c['epci']:>4} "
              f"{fb['osm'] / 1e6:>7.1f} {fb['gtfs'] / 1e6:>7.1f} {fb['filosofi'] / 1e6:>7.1f}")
    for r in rows:
        print(f"stages at scale {r['scale']:g}: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["stages_s"].items()))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "gen_region", "machine": platform.platform(),
                               "python": platform.python_version(), "results": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
