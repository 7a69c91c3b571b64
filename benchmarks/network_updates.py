"""Scenario updates vs full rebuilds: time to apply an edit and recompute the affected indicators, against a full
rebuild (from the .pbf / GTFS) and a full recomputation, on Porto Alegre and (``--scale``) on the region-scale
synthetic network of ``access.synth.region``.

Peers, in the same process on the same inputs:

* venue edits: ``AccessibilityState.add_venue / remove_venue / modify_venue`` (one search + incremental updates)
  against (a) the regular path a user would take, ``travel_time_matrix`` + the ``access.indicators`` measures
  (nearest, cumulative 15/30 min, gravity, 2SFCA by category) and (b) our own dense rebuild
  (``AccessibilityState.build``);
* street edits: ``Scenario.apply`` (re-weighting / filtering / extending the CSR arrays) against rebuilding the
  network from the ``.pbf`` (all modes, and the edited mode alone), then the same indicator recomputation on both
  sides (``apply + recompute`` vs ``rebuild + recompute``);
* transit edits: ``Scenario.apply`` (only the touched patterns and transfers) against rebuilding the network from
  the ``.pbf`` and the GTFS feed.

Run: ``python benchmarks/network_updates.py [--scale 0.01] [--repeat 5] [--out results.json]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, write_json  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

warnings.simplefilter("ignore")


def med(fn, repeat):
    ts, res = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), res


def full_recompute(net, cells, venues, mode, max_time_min, **kw):
    """The regular path: matrix + the access.indicators measures the state keeps up to date."""
    import access
    from access.indicators import (cost_to_closest, cumulative_cutoff, decay_binary, decay_exponential,
                                   floating_catchment_area, gravity)

    ttm = access.travel_time_matrix(net, cells, venues, mode=mode, max_time_min=max_time_min, progress=False, **kw)
    m = ttm.to_frame(drop_unreachable=True)
    lu = pd.concat([pd.DataFrame({"id": cells["id"], "population": cells["population"], "capacity": 0.0,
                                  "category": ""}),
                    pd.DataFrame({"id": venues["id"], "population": 0.0, "capacity": venues["capacity"],
                                  "category": venues["category"]})], ignore_index=True)
    out = [cost_to_closest(m, lu, opportunity="capacity", group_by="category"),
           cumulative_cutoff(m, lu, opportunity="capacity", cutoff=[15, 30], group_by="category"),
           gravity(m, lu, opportunity="capacity", decay_function=decay_exponential(0.1), group_by="category"),
           floating_catchment_area(m, lu, opportunity="capacity", demand="population",
                                   decay_function=decay_binary(30), group_by="category")]
    return out


def centre_box(g, half_m=250.0):
    lon0, lat0 = float(np.median(g.node_lon)), float(np.median(g.node_lat))
    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * np.cos(np.radians(lat0)))
    return (f"POLYGON (({lon0 - dlon} {lat0 - dlat}, {lon0 + dlon} {lat0 - dlat}, {lon0 + dlon} {lat0 + dlat}, "
            f"{lon0 - dlon} {lat0 + dlat}, {lon0 - dlon} {lat0 - dlat}))"), lon0, lat0


def run_city(label, pbf, gtfs, cells, venues, *, repeat, max_time_min, extra_close_ways=None, transit_cells=200,
             departure=None, recompute_modes=("walk", "car")):
    import access
    from access import TransportNetwork
    from access.io.osm import read_highways
    from access.network.street import build_street_graph
    from access.scenarios import AccessibilityState, Scenario

    rows = []
    modes = ("walk", "bike", "car")
    print(f"\n== {label}: {len(cells):,} cells, {len(venues):,} venues", flush=True)
    t_build_all, net = med(lambda: TransportNetwork.from_files(pbf, modes=modes), repeat)

    def rebuild_mode(m):
        ways = read_highways(pbf)
        return build_street_graph(ways, m)

    print(f"network from .pbf: {t_build_all:.2f} s ({net})", flush=True)
    # ---------------------------------------------------------------- venue edits (walk)
    mode = "walk"
    t_state, st = med(lambda: AccessibilityState.build(net, cells, venues, mode=mode, max_time_min=max_time_min),
                      1)
    t_full, _ = med(lambda: full_recompute(net, cells, venues, mode, max_time_min), repeat)
    rng = np.random.default_rng(0)
    g = net.street(mode)
    anchors = cells.sample(4 * repeat, random_state=1)
    pts = [(float(r.lon) + rng.normal(0, 5e-4), float(r.lat) + rng.normal(0, 5e-4)) for r in anchors.itertuples()]
    snap = g.snap(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]), warn=False)
    pts = [p for p, ok in zip(pts, snap.snapped) if ok][:repeat]
    cat0 = str(venues["category"].iloc[0])
    times_add, times_col = [], []
    for i, (lo, la) in enumerate(pts):
        s2 = st.copy()
        t0 = time.perf_counter()
        col = s2.column(lo, la)
        t1 = time.perf_counter()
        s2.add_venue(f"bench{i}", lo, la, category=cat0, capacity=1.0, column=col)
        t2 = time.perf_counter()
        times_add.append(t2 - t0)
        times_col.append(t1 - t0)
    t_add = statistics.median(times_add)
    v_add = pd.concat([venues, pd.DataFrame([{"id": "bench", "lon": pts[0][0], "lat": pts[0][1], "category": cat0,
                                              "capacity": 1.0}])], ignore_index=True)
    t_full_add, _ = med(lambda: full_recompute(net, cells, v_add, mode, max_time_min), repeat)
    rows.append(dict(city=label, edit="venue add (walk)", incremental_s=t_add, full_s=t_full_add,
                     ratio=t_full_add / t_add, dense_rebuild_s=t_state,
                     note=f"one reverse search {statistics.median(times_col) * 1e3:.2f} ms + updates; full = "
                          "travel_time_matrix + 4 indicator measures"))
    ids = list(venues["id"].iloc[:repeat])
    trm = []
    for vid in ids:
        s2 = st.copy()
        t0 = time.perf_counter()
        s2.remove_venue(vid)
        trm.append(time.perf_counter() - t0)
    t_full_rm, _ = med(lambda: full_recompute(net, cells, venues.iloc[1:], mode, max_time_min), repeat)
    rows.append(dict(city=label, edit="venue remove (walk)", incremental_s=statistics.median(trm), full_s=t_full_rm,
                     ratio=t_full_rm / statistics.median(trm), dense_rebuild_s=t_state,
                     note="no search: stored column subtracted; nearest recomputed on affected rows only"))
    tmod = []
    for vid in ids:
        s2 = st.copy()
        t0 = time.perf_counter()
        s2.modify_venue(vid, capacity=5.0)
        tmod.append(time.perf_counter() - t0)
    rows.append(dict(city=label, edit="venue capacity (walk)", incremental_s=statistics.median(tmod), full_s=t_full,
                     ratio=t_full / statistics.median(tmod), dense_rebuild_s=t_state, note="no search"))
    # BFCA-style measures are recomputed fully: report what that costs on the stored matrix
    from access.indicators import decay_binary, floating_catchment_area

    m_long, lu = st.long_matrix(), st.land_use()
    t_bfca, _ = med(lambda: floating_catchment_area(m_long, lu, opportunity="capacity", demand="population",
                                                    method="bfca", decay_function=decay_binary(30),
                                                    group_by="category"), repeat)
    rows.append(dict(city=label, edit="BFCA after a venue edit", incremental_s=t_bfca, full_s=t_bfca + t_full,
                     ratio=(t_bfca + t_full) / t_bfca, dense_rebuild_s=None,
                     note="recomputed fully from the stored matrix (no incremental form)"))
    # ---------------------------------------------------------------- street edits
    poly, lon0, lat0 = centre_box(net.street("car"))
    gw = net.street("walk")
    d = np.hypot((gw.node_lon - lon0) * np.cos(np.radians(lat0)), gw.node_lat - lat0) * 111_320
    far = np.flatnonzero((d > 1200) & (d < 1800))
    a_node, b_node = int(np.argmin(d)), int(far[0]) if len(far) else int(np.argmax(d))
    street_edits = [
        ("street speed x0.5 (car)", "car",
         {"speed": [{"name": "slow", "highway": ["primary", "secondary", "tertiary"], "factor": 0.5}]}),
        ("street close polygon (all modes)", "car", {"close": [{"name": "closed centre", "polygon": poly}]}),
        ("street new link (walk, bike)", "walk",
         {"link": [{"name": "bridge", "from": [float(gw.node_lon[a_node]), float(gw.node_lat[a_node])],
                    "to": [float(gw.node_lon[b_node]), float(gw.node_lat[b_node])], "modes": ["walk", "bike"]}]}),
    ]
    if extra_close_ways:
        held = np.concatenate([net.street(m).way_id for m in net.modes])
        extra_close_ways = [w for w in extra_close_ways if np.isin(w, held)]
    if extra_close_ways:
        street_edits.insert(2, ("street close bridges by way id", "car",
                                {"close": [{"name": "bridges", "way_ids": extra_close_ways}]}))
    t_rebuild = {}
    for m in ("car", "walk"):
        t_rebuild[m], _ = med(lambda m=m: rebuild_mode(m), repeat)
    states = {"walk": st}
    for name, m, sec in street_edits:
        scn = Scenario.from_dict({"name": name, "streets": sec})
        scn.apply(net)  # warm (pyproj, shapely)
        t_apply, new = med(lambda: scn.apply(net), repeat)
        rows.append(dict(city=label, edit=name, incremental_s=t_apply, full_s=t_build_all,
                         ratio=t_build_all / t_apply, dense_rebuild_s=None,
                         note=f"apply vs rebuild of all modes from .pbf; vs {m} graph alone: "
                              f"{t_rebuild[m] / t_apply:.0f}x ({t_rebuild[m]:.2f} s)"))
        if m not in recompute_modes:  # e.g. a 45-min car matrix over a whole region: the baseline alone takes long
            continue
        if m not in states:
            states[m] = AccessibilityState.build(net, cells, venues, mode=m, max_time_min=max_time_min)
        base = states[m]
        base.apply(scn)  # warm
        t_inc, after = med(lambda: base.apply(scn), max(1, repeat // 2))
        info = after.last_update.get("streets", {})
        t_rec, _ = med(lambda: full_recompute(new, cells, venues, m, max_time_min), max(1, repeat // 2))
        rows.append(dict(city=label, edit=name + " + recompute", incremental_s=t_inc,
                         full_s=t_build_all + t_rec, ratio=(t_build_all + t_rec) / t_inc, dense_rebuild_s=None,
                         note=f"state.apply ({m}): {info.get('columns_recomputed')}/{info.get('venues')} venue "
                              f"columns and {info.get('rows_recomputed')} cell rows recomputed; full = rebuild + "
                              f"matrix + measures ({t_rec:.2f} s)"))
    # ---------------------------------------------------------------- transit edits
    if gtfs is not None:
        t_build_tt, tnet = med(lambda: TransportNetwork.from_files(pbf, gtfs=[gtfs], modes=("walk",)), repeat)
        tt = tnet.timetable
        counts = np.bincount(tt.arrays["trip_route"], minlength=tt.n_routes)
        order = np.argsort(counts)[::-1]
        rid = tt.arrays["route_id"].astype(str)
        stops = [[lon0 - 0.01, lat0 - 0.005], [lon0, lat0], [lon0 + 0.01, lat0 + 0.005], [lon0 + 0.02, lat0 + 0.01]]
        t_edits = [
            ("transit remove route", {"remove_route": [{"name": "rm", "route_ids": [rid[order[0]]]}]}),
            ("transit headway 5 min", {"headway": [{"name": "hw", "route_id": rid[order[1]], "headway_min": 5}]}),
            ("transit remove stops", {"remove_stops": [{"name": "rs", "stop_ids": [
                str(tt.arrays["stop_id"][tt.arrays["pattern_stops"][3]])]}]}),
            ("transit add route", {"add_route": [{"name": "new", "route_id": "BENCH", "stops": stops,
                                                  "headway_min": 10, "start": "06:00", "end": "22:00",
                                                  "speed_kmh": 25, "max_snap_m": 2000}]}),
        ]
        # a transit venue: its column is one backward range-RAPTOR from the venue (the cells' walks to the stops are
        # computed by the state's first column and reused), against the full recomputation; the forward column
        # (the transit matrix with the venue as the only destination) is timed for comparison
        import datetime as _dt

        dep = departure or _dt.datetime.combine(tt.service_dates[0], _dt.time(8, 0))
        sub = cells.sample(min(transit_cells, len(cells)), random_state=2)
        tkw = dict(departure=dep, window_min=10)
        try:
            st_t = AccessibilityState.build(tnet, sub, venues, mode="transit", max_time_min=max_time_min, **tkw)
            lo, la = pts[0]
            st_t.copy().add_venue("tb", lo, la, category=cat0)  # compiled kernels loaded
            t_cold = med(lambda: st_t.copy().add_venue("tb", lo, la, category=cat0), 1)[0]
            st_t.column(lo, la)  # fills the state's cache of walks to the stops; copies share it
            t_tadd, _ = med(lambda: st_t.copy().add_venue("tb", lo, la, category=cat0), repeat)
            t_bcol, bcol = med(lambda: st_t.column(lo, la), repeat)
            one = pd.DataFrame({"id": ["tb"], "lon": [lo], "lat": [la]})
            t_fcol, fcol = med(lambda: access.travel_time_matrix(tnet, sub, one, mode="transit", progress=False,
                                                                  max_time_min=max_time_min, **tkw).times_s[:, 0, 0],
                               max(1, repeat // 2))
            assert np.array_equal(bcol, fcol), "backward and forward transit columns differ"
            v_t = pd.concat([venues, pd.DataFrame([{"id": "tb", "lon": lo, "lat": la, "category": cat0,
                                                    "capacity": 1.0}])], ignore_index=True)
            t_tfull, _ = med(lambda: full_recompute(tnet, sub, v_t, "transit", max_time_min, **tkw),
                             max(1, repeat // 2))
            rows.append(dict(city=label, edit="venue add (transit)", incremental_s=t_tadd, full_s=t_tfull,
                             ratio=t_tfull / t_tadd, dense_rebuild_s=None,
                             note=f"{len(sub)} cells, 10-min window: backward range-RAPTOR column "
                                  f"{t_bcol * 1e3:.1f} ms vs forward one-destination matrix {t_fcol * 1e3:.0f} ms "
                                  f"(equal); first add of a state (walks to the stops) {t_cold * 1e3:.0f} ms"))
        except Exception as exc:  # report and go on
            rows.append(dict(city=label, edit="venue add (transit)", incremental_s=None, full_s=None, ratio=None,
                             dense_rebuild_s=None, note=f"not run: {exc}"))
        for name, sec in t_edits:
            scn = Scenario.from_dict({"name": name, "transit": sec})
            try:
                scn.apply(tnet)
            except Exception as exc:  # e.g. a synthetic stop off the network: report and go on
                rows.append(dict(city=label, edit=name, incremental_s=None, full_s=t_build_tt, ratio=None,
                                 dense_rebuild_s=None, note=f"not run: {exc}"))
                continue
            t_apply, _ = med(lambda: scn.apply(tnet), repeat)
            rows.append(dict(city=label, edit=name, incremental_s=t_apply, full_s=t_build_tt,
                             ratio=t_build_tt / t_apply, dense_rebuild_s=None,
                             note="apply vs rebuild from .pbf + GTFS (transit matrices not included)"))
    return rows


def poa_inputs():
    h = pd.read_csv(DATA / "porto_alegre" / "poa_hexgrid.csv")
    s, c = h[h.schools > 0], h[h.healthcare > 0]
    v = pd.concat([pd.DataFrame({"id": "s" + s.id, "lon": s.lon, "lat": s.lat, "category": "school",
                                 "capacity": s.schools.astype(float)}),
                   pd.DataFrame({"id": "h" + c.id, "lon": c.lon, "lat": c.lat, "category": "health",
                                 "capacity": c.healthcare.astype(float)})], ignore_index=True)
    return h[["id", "lon", "lat", "population"]], v


def poa_bridges(pbf, net=None):
    import osmium

    return [o.id for o in osmium.FileProcessor(str(pbf), osmium.osm.WAY)
            if o.tags.get("bridge") == "yes" and o.tags.get("highway") in ("primary", "secondary", "tertiary",
                                                                            "trunk", "residential")]


def region_inputs(scale, out_dir):
    import geopandas as gpd

    from access.synth.region import make_region

    r = make_region(out_dir, scale=scale)
    f = gpd.read_file(r["filosofi"]).to_crs(4326)
    c = f.geometry.representative_point()
    cells = pd.DataFrame({"id": f["idcar_200m"], "lon": c.x, "lat": c.y, "population": f["ind"].astype(float)})
    v = pd.read_csv(r["basilic"], sep=";")
    venues = pd.DataFrame({"id": [f"v{i}" for i in range(len(v))], "lon": v["Longitude"], "lat": v["Latitude"],
                           "category": v["Type équipement ou lieu"].astype(str), "capacity": 1.0})
    return r["osm"], r["gtfs"], cells, venues, r["counts"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-time", type=float, default=45.0, help="minutes")
    ap.add_argument("--scale", type=float, default=None, help="also run on access.synth.region at this scale")
    ap.add_argument("--region-dir", default=None, help="where to generate the synthetic region (default: a temp dir)")
    ap.add_argument("--no-transit", action="store_true")
    ap.add_argument("--region-repeat", type=int, default=None, help="repetitions on the region (default: --repeat)")
    ap.add_argument("--region-recompute-modes", default="walk,car",
                    help="street edits followed by a matrix recomputation on the region for these modes only")
    ap.add_argument("--skip-poa", action="store_true", help="only the synthetic region")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    pbf = DATA / "porto_alegre" / "poa_osm.pbf"
    if not pbf.exists():
        sys.exit(f"benchmark needs {pbf} (set ACCESS_TEST_DATA); skipping")
    gtfs = None if a.no_transit else DATA / "porto_alegre" / "poa_eptc.zip"
    cells, venues = poa_inputs()
    import datetime as _dt

    rows = [] if a.skip_poa else run_city("Porto Alegre", pbf, gtfs, cells, venues, repeat=a.repeat,
                                          max_time_min=a.max_time, extra_close_ways=poa_bridges(pbf),
                                          departure=_dt.datetime(2019, 5, 13, 14, 0))
    extra = {}
    if a.scale:
        with tempfile.TemporaryDirectory() as tmp:
            osm, gt, rc, rv, counts = region_inputs(a.scale, a.region_dir or tmp)
            extra["region_counts"] = counts
            rows += run_city(f"synthetic region x{a.scale:g}", Path(osm), None if a.no_transit else Path(gt), rc, rv,
                             repeat=a.region_repeat or a.repeat, max_time_min=a.max_time,
                             recompute_modes=tuple(a.region_recompute_modes.split(",")))
    df = pd.DataFrame(rows)
    with pd.option_context("display.max_colwidth", 90, "display.width", 250):
        print()
        print(df[["city", "edit", "incremental_s", "full_s", "ratio", "note"]].to_string(
            index=False, float_format=lambda x: f"{x:.4g}"))
    targets = {}
    for city in df.city.unique():
        d = df[df.city == city].set_index("edit")
        targets[city] = dict(
            venue_add_ratio=float(d.loc["venue add (walk)", "ratio"]), venue_add_target=100.0,
            speed_change_ratio=float(d.loc["street speed x0.5 (car)", "ratio"]), speed_change_target=10.0)
    print("\ntargets:", targets)
    import os

    write_json("network_updates", dict(rows=rows, targets=targets, repeat=a.repeat, max_time_min=a.max_time,
                                       load_average=os.getloadavg(), **extra), a.out)


if __name__ == "__main__":
    main()
