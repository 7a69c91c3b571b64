"""The whole-region scenario of the README: "a new cinema here", every EPCI's delta (issue 17).

    python benchmarks/region_cinema.py --scale 1.0 [--max-time 45] [--workdir DIR] [--out FILE.json]

On the region-scale synthetic region (``access.synth.region``, generated once in ``--workdir``): a sparse car state
(every venue type x every populated 200 m cell, ``--max-time`` minutes), one cinema added at the centre of the most
populated cell that has no cinema within 20 minutes, and :func:`access.scenarios.compare` per EPCI. Times the
build, the add (one reverse search + the incremental updates), and the comparison; records the peak RSS and the
load average; checks the incremental state against a state rebuilt with the cinema (the same indicators).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import peak_rss_mb, write_json


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--max-time", type=float, default=45.0)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--no-check", action="store_true", help="skip the rebuild check")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import numpy as np

    from access import TransportNetwork
    from access.region.sources import read_basilic, read_epci, read_filosofi
    from access.scenarios import AccessibilityState, compare
    from access.synth.region import make_region

    la0 = os.getloadavg()
    work = Path(a.workdir or Path(tempfile.gettempdir()) / "access_region_cinema") / f"scale_{a.scale:g}"
    region = work / "region"
    if not (region / "manifest.json").exists():
        make_region(region, scale=a.scale, seed=0)
    net = TransportNetwork.from_files(region / "region.osm.pbf", modes=("car",), cache_dir=work / "networks")
    cells = read_filosofi(region / "carreaux_200m_met.gpkg")
    cells = cells[cells["population"] > 0].reset_index(drop=True)[["id", "population", "geometry"]]
    venues = read_basilic(region / "basilic.csv")[["id", "category", "geometry"]]
    epci = read_epci(region / "epci.geojson")

    t = time.perf_counter()
    state = AccessibilityState.build(net, cells, venues, mode="car", max_time_min=a.max_time, cutoffs_min=(15, 30))
    build_s = time.perf_counter() - t
    before = state.indicators()
    # where: the most populated cell with no cinema within 20 minutes by car
    far = before[(before["time_cinema"] > 20) & np.isfinite(before["population"])]
    site = cells.set_index("id").loc[far.sort_values("population").iloc[-1]["id"]]
    lon, lat = float(site.geometry.x), float(site.geometry.y)
    t = time.perf_counter()
    delta = state.add_venue("new_cinema", lon, lat, category="cinema")
    add_s = time.perf_counter() - t
    t = time.perf_counter()
    cmp = compare(before, state, cells=cells, areas=epci)
    compare_s = time.perf_counter() - t
    areas = cmp.areas
    cols = [f"{m}_{w}" for m in ("time_cinema_mean", "time_cinema_share_within_20min", "cum30_cinema_mean")
            for w in ("before", "after", "delta")]
    d = areas[[c for c in cols if c.endswith("_delta")]].to_numpy(np.float64)
    changed = areas[(np.nan_to_num(d, nan=0.0) != 0).any(axis=1)]
    print(f"{len(cells):,} cells x {len(venues):,} venues, car {a.max_time:g} min: build {build_s:.1f} s; "
          f"new cinema at ({lon:.4f}, {lat:.4f}): add {add_s * 1e3:.0f} ms; compare per EPCI {compare_s:.1f} s; "
          f"{len(changed)} of {len(areas)} EPCI change")
    print(changed[["id", *cols]].head(10).to_string(index=False))
    check = None
    if not a.no_check:
        v2 = venues.copy()
        import geopandas as gpd
        import pandas as pd

        v2 = pd.concat([v2, gpd.GeoDataFrame({"id": ["new_cinema"], "category": ["cinema"]},
                                             geometry=gpd.points_from_xy([lon], [lat]), crs=v2.crs)],
                       ignore_index=True)
        rebuilt = AccessibilityState.build(net, cells, v2, mode="car", max_time_min=a.max_time, cutoffs_min=(15, 30))
        r, s = rebuilt.indicators(), state.indicators()
        check = bool(all(np.array_equal(r[c].to_numpy(), s[c].to_numpy()) for c in r.columns if c != "id"))
        print(f"incremental state equal to a rebuild with the cinema: {check}")
    write_json("region_cinema", dict(benchmark="region_cinema", scale=a.scale, max_time_min=a.max_time,
                                     cells=len(cells), venues=len(venues), epci=len(areas), build_s=build_s,
                                     add_ms=add_s * 1e3, add_cells_touched=delta.cells_touched,
                                     compare_s=compare_s, epci_changed=int(len(changed)), site=[lon, lat],
                                     equal_to_rebuild=check, peak_rss_mb=peak_rss_mb(),
                                     state_mb=state.memory_bytes()["total"] / 2**20,
                                     loadavg_start=la0, loadavg_end=os.getloadavg(),
                                     epci_deltas=changed[["id", *cols]].to_dict("records")), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
