"""Street network build time and peak memory against the .pbf size (issue 17, the real-size build).

    python benchmarks/bench_network_build.py --scales 0.1,0.3,1.0 [--workdir DIR] [--out FILE.json]

For each scale, the region-scale synthetic region (``access.synth.region``, generated once in ``--workdir``) is
built from its ``.pbf`` (walk and car) in a fresh subprocess with a fresh cache, so that the time and the peak RSS
are the build's own. The table gives the marginal cost per MB of ``.pbf`` between the smallest and the largest
scale and a **linear extrapolation** to the real extracts' ~350 MB, labelled as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, table, write_json

REAL_PBF_MB = 350.0


def _child(pbf: str) -> None:
    import resource
    import time
    import warnings

    warnings.simplefilter("ignore")
    from access import TransportNetwork

    cache = tempfile.mkdtemp(prefix="netbuild_")
    t = time.perf_counter()
    net = TransportNetwork.from_files(pbf, modes=("walk", "car"), cache_dir=cache)
    secs = time.perf_counter() - t
    print(json.dumps(dict(pbf_mb=os.path.getsize(pbf) / 1e6, build_s=secs,
                          peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          walk_nodes=net.street("walk").n_nodes, car_nodes=net.street("car").n_nodes)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="0.1,0.3,1.0")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._child:
        _child(a._child)
        return 0
    from access.synth.region import make_region

    work = Path(a.workdir or Path(tempfile.gettempdir()) / "access_bench_network_build")
    rows = []
    for s in [float(x) for x in a.scales.split(",")]:
        region = work / f"scale_{s:g}" / "region"
        if not (region / "manifest.json").exists():
            make_region(region, scale=s, seed=0)
        la = os.getloadavg()
        p = subprocess.run([sys.executable, __file__, "--_child", str(region / "region.osm.pbf")], capture_output=True,
                           text=True, cwd=ROOT)
        if p.returncode:
            print(p.stderr[-3000:], file=sys.stderr)
            return 1
        r = json.loads(p.stdout.strip().splitlines()[-1])
        rows.append(dict(scale=s, **r, load_before=la[0], load_after=os.getloadavg()[0]))
    print(table(rows, list(rows[0])))
    lo, hi = rows[0], rows[-1]
    dmb = hi["pbf_mb"] - lo["pbf_mb"]
    per_mb_s = (hi["build_s"] - lo["build_s"]) / dmb
    per_mb_rss = (hi["peak_rss_mb"] - lo["peak_rss_mb"]) / dmb
    extrap = dict(note=f"EXTRAPOLATED linearly from the marginal cost between scales {lo['scale']:g} and "
                       f"{hi['scale']:g}, not measured", pbf_mb=REAL_PBF_MB, s_per_pbf_mb=per_mb_s,
                  rss_mb_per_pbf_mb=per_mb_rss, build_s=hi["build_s"] + per_mb_s * (REAL_PBF_MB - hi["pbf_mb"]),
                  peak_rss_mb=hi["peak_rss_mb"] + per_mb_rss * (REAL_PBF_MB - hi["pbf_mb"]))
    gb = extrap["peak_rss_mb"] / 1024
    print(f"extrapolated to {REAL_PBF_MB:g} MB of .pbf: {extrap['build_s']:.0f} s, {gb:.1f} GB peak RSS (linear)")
    write_json("bench_network_build", dict(benchmark="bench_network_build", rows=rows, extrapolation=extrap), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
