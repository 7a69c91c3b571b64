"""Isochrones: polygons of the area reached from each origin within travel-time cutoffs (r5r's ``isochrone()``).

As r5r since 2.4: a travel-time surface on a regular grid around each origin (the grid points are destinations of
an ordinary :func:`access.travel_time_matrix`, so every street rule and transit setting applies), contoured by
marching squares (``contourpy``) at each cutoff. Unreachable grid points (off the network, beyond ``max_snap_m``,
or beyond the time limit) count as "not reached". Polygons are nested: the 30-minute one contains the 15-minute one.

Examples
--------
>>> import access  # doctest: +SKIP
>>> iso = access.isochrones(net, origins, mode="walk", cutoffs_min=(10, 20))  # doctest: +SKIP
>>> iso.to_file("iso.gpkg")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validate import check_choice, check_number, fail
from .io.places import Points, read_points
from .options import ALL_MODES, StreetOptions, TransitOptions

if TYPE_CHECKING:
    import geopandas as gpd

    from .network.bundle import TransportNetwork

__all__ = ["MAX_GRID_POINTS", "isochrones", "travel_time_surface"]

#: the most grid points of one origin's surface (a coarser grid is used beyond)
MAX_GRID_POINTS = 250_000
#: fastest plausible speed of each mode, km/h: bounds the grid around an origin
_MAX_SPEED_KMH = {"car": 110.0, "transit": 60.0}


def _grid_around(lon0: float, lat0: float, radius_m: float, cell_m: float, bbox: tuple[float, float, float, float]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The x (lon) and y (lat) axes of a regular grid of ``cell_m`` around a point, clipped to ``bbox``."""
    m_lat = 110_574.0
    m_lon = 111_320.0 * math.cos(math.radians(lat0))
    x0, x1 = max(lon0 - radius_m / m_lon, bbox[0]), min(lon0 + radius_m / m_lon, bbox[2])
    y0, y1 = max(lat0 - radius_m / m_lat, bbox[1]), min(lat0 + radius_m / m_lat, bbox[3])
    nx = max(2, math.ceil((x1 - x0) * m_lon / cell_m) + 1)
    ny = max(2, math.ceil((y1 - y0) * m_lat / cell_m) + 1)
    if nx * ny > MAX_GRID_POINTS:
        f = math.sqrt(nx * ny / MAX_GRID_POINTS)
        nx, ny = max(2, int(nx / f)), max(2, int(ny / f))
    return np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)


def travel_time_surface(network: TransportNetwork, origin: tuple[float, float], *, mode: str = "walk",
                        max_time_min: float = 60.0, cell_size_m: float = 100.0, percentile: float = 50,
                        street: StreetOptions | None = None, transit: TransitOptions | None = None,
                        departure: Any = None, window_min: int | None = None, max_snap_m: float | None = None,
                        **kwargs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Travel times (minutes, NaN unreached) from one origin to a regular grid around it.

    Returns ``(x, y, z)``: longitudes float64[nx], latitudes float64[ny], minutes float64[ny, nx]. The grid spans
    the distance the mode can cover in ``max_time_min`` (walk/bike at their speed, car 110 km/h, transit 60 km/h),
    clipped to the network's extent, with ``cell_size_m`` spacing (coarser when it would exceed
    :data:`MAX_GRID_POINTS`). Other keywords go to :func:`access.travel_time_matrix`.
    """
    from .matrix import travel_time_matrix

    mode = check_choice("mode", mode, ALL_MODES)
    cell_size_m = check_number("cell_size_m", cell_size_m, gt=0, le=10_000)
    so = StreetOptions.resolve(street, max_snap_m=max_snap_m)
    g = network.street("walk" if mode == "transit" else mode)
    bbox = (float(np.min(g.node_lon)), float(np.min(g.node_lat)), float(np.max(g.node_lon)),
            float(np.max(g.node_lat)))
    speed = _MAX_SPEED_KMH.get(mode) or so.speed_kmh(mode)
    assert speed is not None  # (walk and bike speeds come from the options, car and transit from the table)
    radius_m = speed / 3.6 * max_time_min * 60 + cell_size_m
    lon0, lat0 = float(origin[0]), float(origin[1])
    x, y = _grid_around(lon0, lat0, radius_m, cell_size_m, bbox)
    gx, gy = np.meshgrid(x, y)
    pts = Points(np.arange(gx.size), gx.ravel(), gy.ravel(), None, "grid points")
    o = Points(np.array([0]), np.array([lon0]), np.array([lat0]), None, "origins")
    import warnings

    extra: dict[str, Any] = dict(kwargs)
    if mode == "transit" and extra.get("arrive_by") is not None:  # the latest departure arriving by then
        extra.update(transit=transit)
    elif mode == "transit":
        extra.update(transit=transit, departure=departure, window_min=window_min, percentiles=(percentile,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # grid points off the network are expected
        m = travel_time_matrix(network, o, pts, mode=mode, max_time_min=max_time_min, street=so, progress=False,
                               **extra)
    return x, y, m.minutes(0)[0].reshape(gx.shape)


def _polygons(x: np.ndarray, y: np.ndarray, z: np.ndarray, cutoff: float):
    """The area where ``z < cutoff`` (NaN = not reached) as a shapely (Multi)Polygon, by marching squares."""
    import contourpy
    from shapely.geometry import MultiPolygon, Polygon

    big = np.where(np.isnan(z), 1e9, z)
    # pad with "not reached" so every polygon closes inside the grid
    zz = np.pad(big, 1, constant_values=1e9)
    dx, dy = (x[1] - x[0]), (y[1] - y[0])
    xx = np.concatenate([[x[0] - dx], x, [x[-1] + dx]])
    yy = np.concatenate([[y[0] - dy], y, [y[-1] + dy]])
    gen = contourpy.contour_generator(xx, yy, zz, fill_type=contourpy.FillType.OuterOffset)
    # FillType.OuterOffset gives (points, offsets); contourpy's stub types filled() for every fill type at once
    points, offsets = gen.filled(-1.0, float(cutoff))  # type: ignore[misc]
    polys = []
    for pts, off in zip(points, offsets):
        rings = [pts[off[i]:off[i + 1]] for i in range(len(off) - 1)]
        rings = [r for r in rings if len(r) >= 4]
        if rings:
            p = Polygon(rings[0], rings[1:])
            if not p.is_valid:
                p = p.buffer(0)
            if not p.is_empty:
                polys.append(p)
    parts: list[Polygon] = []
    for p in polys:
        parts.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(parts)


def isochrones(network: TransportNetwork, origins: Any, *, mode: str = "walk",
               cutoffs_min: Sequence[float] = (15, 30, 45), cell_size_m: float = 100.0, percentile: float = 50,
               street: StreetOptions | None = None, transit: TransitOptions | None = None, departure: Any = None,
               window_min: int | None = None, max_snap_m: float | None = None, progress: bool = True,
               **kwargs: Any) -> gpd.GeoDataFrame:
    """Isochrone polygons from each origin (r5r's ``isochrone()``, grid + marching squares).

    Parameters
    ----------
    network : TransportNetwork
    origins : GeoDataFrame, DataFrame with lon/lat, or path
        Points with an ``id`` column (as :func:`access.travel_time_matrix`).
    mode : {"walk", "bike", "car", "transit"}
    cutoffs_min : sequence of float
        Travel-time cutoffs in minutes; one (Multi)Polygon per origin and cutoff: the area reached in less.
    cell_size_m : float
        Spacing of the travel-time grid (100 m by default; finer is slower and sharper).
    percentile : float
        Transit: the percentile of the per-minute travel times over the departure window that is contoured.
    street, transit, departure, window_min, max_snap_m :
        As in :func:`access.travel_time_matrix`; other keywords go to it too (e.g. ``max_walk_min``,
        ``access_mode="bike"``, or ``arrive_by=T``: the area reached when leaving at the latest departure that
        arrives by ``T``, i.e. ``T`` minus the time, instead of a departure window).
    progress : bool
        A progress bar over the origins.

    Returns
    -------
    GeoDataFrame
        ``id, cutoff, geometry`` (EPSG:4326), one row per origin and cutoff, largest cutoff first (as r5r).

    Examples
    --------
    >>> iso = isochrones(net, "poa_hexgrid.csv", mode="transit", departure="2019-05-13T14:00",
    ...                  window_min=30, cutoffs_min=(20, 40))  # doctest: +SKIP
    """
    import geopandas as gpd
    from tqdm.auto import tqdm

    cuts = sorted({float(check_number("cutoffs_min", c, gt=0, le=24 * 60)) for c in np.atleast_1d(cutoffs_min)},
                  reverse=True)
    if not cuts:
        raise fail("cutoffs_min", "one or more positive minutes", cutoffs_min, "e.g. cutoffs_min=(15, 30, 45)")
    o = origins if isinstance(origins, Points) else read_points(origins, name="origins")
    rows = []
    for i in tqdm(range(len(o)), desc=f"{mode} isochrones", unit="origin", disable=not progress):
        x, y, z = travel_time_surface(network, (o.lon[i], o.lat[i]), mode=mode, max_time_min=max(cuts),
                                      cell_size_m=cell_size_m, percentile=percentile, street=street,
                                      transit=transit, departure=departure, window_min=window_min,
                                      max_snap_m=max_snap_m, **kwargs)
        for c in cuts:
            rows.append((o.ids[i], c, _polygons(x, y, z, c)))
    ids, cs, geoms = zip(*rows) if rows else ((), (), ())
    return gpd.GeoDataFrame({"id": list(ids), "cutoff": list(cs)}, geometry=list(geoms), crs="EPSG:4326")


class _CallableModule(types.ModuleType):
    """``access.isochrones`` is this module once imported (e.g. by the CLI) and the function before: both call it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return isochrones(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
