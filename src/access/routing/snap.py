"""Where points snap onto a street network (r5r's ``find_snap``): the point on the street, the distance, the way."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import check_choice
from ..io.places import Points, read_points
from ..options import DEFAULT_MAX_SNAP_M, STREET_MODES

__all__ = ["find_snap"]


def find_snap(network: Any, points: Any, *, mode: str = "walk", max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Any:
    """Snap points onto the ``mode`` street graph as every matrix does, and say where and how far.

    Parameters
    ----------
    network : TransportNetwork
    points : GeoDataFrame, DataFrame with lon/lat, or path
        Points with an ``id`` column.
    mode : {"walk", "bike", "car"}
    max_snap_m : float
        Points farther are unsnapped (unreachable in matrices).

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        ``id, lon, lat, snapped, distance_m, snap_lon, snap_lat, way_id, edge, geometry`` (the snapped point; the
        original point where unsnapped).

    Examples
    --------
    >>> find_snap(net, "poa_hexgrid.csv", mode="walk").distance_m.describe()  # doctest: +SKIP
    """
    import geopandas as gpd
    import shapely

    mode = check_choice("mode", mode, STREET_MODES)
    p = points if isinstance(points, Points) else read_points(points, name="points")
    g = network.street(mode)
    s = g.snap(p.lon, p.lat, max_snap_m=max_snap_m, ids=p.ids, warn=False)
    ok = np.asarray(s.snapped, bool)
    e = np.where(ok, np.asarray(s.edge), 0).astype(np.int64)
    slon, slat = np.array(p.lon, float), np.array(p.lat, float)
    if ok.any():
        # the snapped point on the metric line the snap used (StreetGraph._edge_index), back to lon/lat
        canon, lines, _ = g._edge_index
        li = np.searchsorted(canon, e[ok])
        pt = shapely.line_interpolate_point(lines[li], np.clip(np.asarray(s.fraction)[ok], 0, 1), normalized=True)
        slon[ok], slat[ok] = g._projection.transform(shapely.get_x(pt), shapely.get_y(pt), direction="INVERSE")
    return gpd.GeoDataFrame({
        "id": p.ids, "lon": p.lon, "lat": p.lat, "snapped": ok,
        "distance_m": np.where(ok, np.round(np.asarray(s.distance_m, float), 2), np.nan),
        "snap_lon": np.where(ok, slon, np.nan), "snap_lat": np.where(ok, slat, np.nan),
        "way_id": np.where(ok, np.asarray(g.way_id)[e], -1), "edge": np.where(ok, e, -1)},
        geometry=gpd.points_from_xy(slon, slat), crs="EPSG:4326")
