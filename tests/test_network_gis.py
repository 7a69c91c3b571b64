"""Networks to GIS and find_snap on Porto Alegre: the exported layers carry the graph (every edge, its way, its
speed) and the snaps agree with the snapping the matrices use (distance from the point to the snapped point)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import access
from access.routing.snap import find_snap

from .conftest import data_file


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                                  gtfs=[data_file("porto_alegre", "poa_trensurb.zip")],
                                                  modes=("walk", "car"), cache_dir=tmp_path_factory.mktemp("poa_gis"))


def test_to_geodataframes(net):
    layers = net.to_geodataframes()
    assert set(layers) == {"streets", "stops", "routes"}
    st = layers["streets"]
    for m in ("walk", "car"):
        g = net.street(m)
        sub = st[st["mode"] == m]
        assert len(sub) == g.n_edges
        assert np.array_equal(sub.way_id.to_numpy(), np.asarray(g.way_id))
        assert np.array_equal(sub.travel_time_s.to_numpy(), np.asarray(g.travel_time_s))
    walk = st[st["mode"] == "walk"]
    assert np.allclose(walk.speed_kmh.median(), 3.6, atol=0.1)
    # geometry lengths agree with the graph's lengths (metric CRS), 1 % tolerance
    lm = walk.to_crs(walk.estimate_utm_crs()).length.to_numpy()
    assert np.median(np.abs(lm - walk.length_m.to_numpy()) / np.maximum(walk.length_m.to_numpy(), 1)) < 0.01
    stops, routes = layers["stops"], layers["routes"]
    assert len(stops) == net.timetable.n_stops and stops.linked.any()
    assert len(routes) and routes.geometry.notna().all() and (routes.n_stops >= 2).all()
    # TRENSURB has shapes.txt: the routes follow it (longer than stop to stop, no shorter than the straight line)
    # (a pattern whose stops come out of order along its shape is drawn stop to stop)
    assert (routes.geometry_source == "shape").mean() > 0.9
    routes = routes[routes.geometry_source == "shape"]
    utm = routes.estimate_utm_crs()
    along = routes.to_crs(utm).length.to_numpy()
    slon, slat = np.asarray(net.timetable.stop_lon), np.asarray(net.timetable.stop_lat)
    pso, ps = np.asarray(net.timetable.pattern_stop_off), np.asarray(net.timetable.pattern_stops)
    import geopandas as gpd
    import shapely

    s2s = gpd.GeoSeries([shapely.LineString(np.column_stack([slon, slat])[ps[pso[p]:pso[p + 1]]])
                         for p in routes.pattern], crs=4326).to_crs(utm).length.to_numpy()
    # (a few TRENSURB patterns run past the end of their trips' shape: those are shorter along it)
    assert np.mean(along >= 0.98 * s2s - 50) > 0.8 and np.median(along / s2s) > 1.0


def test_export_and_snap_cli(net, tmp_path):
    import geopandas as gpd
    from click.testing import CliRunner

    from access.cli import cli

    net.save(tmp_path / "net")
    res = CliRunner().invoke(cli, ["network", "export", str(tmp_path / "net"), "--out", str(tmp_path / "n.gpkg")])
    assert res.exit_code == 0, res.output
    assert len(gpd.read_file(tmp_path / "n.gpkg", layer="stops")) == net.timetable.n_stops
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv")).iloc[:50]
    far = pd.DataFrame({"id": ["far"], "lon": [-50.0], "lat": [-29.0]})
    pd.concat([hx[["id", "lon", "lat"]], far]).to_csv(tmp_path / "p.csv", index=False)
    res = CliRunner().invoke(cli, ["snap", "--network", str(tmp_path / "net"), "--points", str(tmp_path / "p.csv"),
                                   "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    s = pd.read_csv(tmp_path / "s.csv")
    assert not s.loc[s.id == "far", "snapped"].iloc[0] and s.snapped.sum() >= 45
    # the distance reported is the distance to the snapped point
    ok = s[s.snapped]
    gs = gpd.GeoSeries(gpd.points_from_xy(ok.lon, ok.lat), crs=4326)
    gt = gpd.GeoSeries(gpd.points_from_xy(ok.snap_lon, ok.snap_lat), crs=4326)
    crs = gs.estimate_utm_crs()
    d = gs.to_crs(crs).distance(gt.to_crs(crs)).to_numpy()
    assert np.allclose(d, ok.distance_m.to_numpy(), atol=1.0)
    snaps = find_snap(net, hx, mode="car")
    assert (snaps.way_id[snaps.snapped] > 0).all()
