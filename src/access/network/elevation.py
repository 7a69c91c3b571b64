"""Slope-aware walking and cycling times from a digital elevation model (DEM), edge by edge, both directions.

As R5 (``rastercost.ElevationCostField``): every edge's geometry is resampled every
:data:`SAMPLE_SPACING_M` metres, the DEM is read at each sample (bilinear, pixel centres), and the edge's time is
divided by the length-weighted mean of a per-segment speed factor of the slope ``s = dz / dx``:

* walking, Tobler's hiking function ``exp(-3.5 |s + 0.05|)``, normalised here to 1 on flat ground
  (``exp(-3.5 (|s + 0.05| - 0.05))``) so that a flat DEM changes nothing (R5 scales by 1.2 instead, which makes
  flat ground 0.7 % faster than the nominal speed); fastest on a 5 % descent (+19 %), 2x slower near +25 %;
* cycling, a climbing factor on the time ``1 + 11 s`` uphill (r5r's ``bike_climbing``), and on descents a speed
  gain ``1 / (1 + 5 |s|)`` capped at 1.5x faster (no free-wheeling beyond): times rise quickly with climbs and
  fall moderately on descents.

Both directions of a street get their own factors (an uphill edge's reverse is downhill). The DEM is a GeoTIFF
in EPSG:4326 (north-up, no rotation), read with rasterio when installed, else with Pillow.

Examples
--------
>>> net = TransportNetwork.from_files("poa_osm.pbf", elevation="poa_elevation.tif")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import InputFileError

__all__ = [
    "DEM",
    "SAMPLE_SPACING_M",
    "apply_elevation",
    "bike_speed_factor",
    "edge_time_factors",
    "read_dem",
    "tobler_speed_factor",
]

#: R5's ELEVATION_SAMPLE_SPACING_METERS
SAMPLE_SPACING_M = 10.0


@dataclass(frozen=True)
class DEM:
    """A north-up elevation raster: ``z`` float64[rows, cols] metres (NaN = no data); pixel (0, 0)'s outer corner
    at (``lon0``, ``lat0``), pixel size ``dlon`` x ``dlat`` degrees (``dlat`` positive, rows go south)."""

    z: np.ndarray
    lon0: float
    lat0: float
    dlon: float
    dlat: float

    def sample(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Bilinear elevation at points (pixel centres; edge pixels extended); NaN outside the raster."""
        h, w = self.z.shape
        fx = (np.asarray(lon, float) - self.lon0) / self.dlon - 0.5
        fy = (self.lat0 - np.asarray(lat, float)) / self.dlat - 0.5
        inside = (fx >= -0.5) & (fx <= w - 0.5) & (fy >= -0.5) & (fy <= h - 0.5)
        fx = np.clip(fx, 0, w - 1)
        fy = np.clip(fy, 0, h - 1)
        x0 = np.minimum(np.floor(fx).astype(np.int64), max(w - 2, 0))
        y0 = np.minimum(np.floor(fy).astype(np.int64), max(h - 2, 0))
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        tx, ty = fx - x0, fy - y0
        z = self.z
        v = ((1 - tx) * (1 - ty) * z[y0, x0] + tx * (1 - ty) * z[y0, x1] + (1 - tx) * ty * z[y1, x0]
             + tx * ty * z[y1, x1])
        return np.where(inside, v, np.nan)


def read_dem(path) -> DEM:
    """Read a GeoTIFF DEM in EPSG:4326 (rasterio if installed, else Pillow with the GeoTIFF tags)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"elevation file {str(path)!r} does not exist; give a GeoTIFF DEM (e.g. SRTM)")
    try:
        import rasterio  # type: ignore[import-not-found]

        with rasterio.open(path) as src:
            if src.crs is not None and src.crs.to_epsg() not in (4326, None):
                raise InputFileError(f"{path}: the DEM is in {src.crs}, expected EPSG:4326; reproject it "
                                     "(gdalwarp -t_srs EPSG:4326)")
            z = src.read(1).astype(np.float64)
            if src.nodata is not None:
                z[z == src.nodata] = np.nan
            t = src.transform
            return DEM(z, float(t.c), float(t.f), float(t.a), float(-t.e))
    except ImportError:
        pass
    from PIL import Image

    try:
        im = Image.open(path)
        tags = im.tag_v2  # type: ignore[attr-defined]  # a TIFF's tags: Pillow's stub types open() as ImageFile
        z = np.asarray(im, dtype=np.float64)
    except Exception as e:
        raise InputFileError(f"{path}: cannot read the DEM ({e}); give a single-band GeoTIFF, or install "
                             "rasterio") from None
    scale, tie = tags.get(33550), tags.get(33922)
    if scale is None or tie is None:
        raise InputFileError(f"{path}: no GeoTIFF georeferencing (ModelPixelScale/ModelTiepoint tags); "
                             "give a georeferenced GeoTIFF in EPSG:4326")
    geokeys = tags.get(34735)
    if geokeys is not None:
        keys = {geokeys[i]: geokeys[i + 3] for i in range(4, len(geokeys) - 3, 4)}
        epsg = keys.get(2048) or keys.get(3072)
        if epsg not in (None, 4326, 32767):
            raise InputFileError(f"{path}: the DEM is in EPSG:{epsg}, expected EPSG:4326; reproject it "
                                 "(gdalwarp -t_srs EPSG:4326)")
    nodata = tags.get(42113)
    if nodata is not None:
        try:
            z[z == float(str(nodata).strip("\x00 "))] = np.nan
        except ValueError:
            pass
    i, j, _, x, y, _ = (float(v) for v in tie[:6])
    dlon, dlat = float(scale[0]), float(scale[1])
    return DEM(z, x - i * dlon, y + j * dlat, dlon, dlat)


def tobler_speed_factor(slope: np.ndarray) -> np.ndarray:
    """Walking speed multiplier of a slope (Tobler, normalised to 1 on flat ground)."""
    s = np.asarray(slope, float)
    return np.exp(-3.5 * (np.abs(s + 0.05) - 0.05))


def bike_speed_factor(slope: np.ndarray) -> np.ndarray:
    """Cycling speed multiplier of a slope: ``1 / (1 + 11 s)`` uphill, ``min(1.5, 1 + 5 |s|)`` downhill."""
    s = np.asarray(slope, float)
    return np.where(s >= 0, 1.0 / (1.0 + 11.0 * s), np.minimum(1.5, 1.0 + 5.0 * np.abs(s)))


def edge_time_factors(graph, dem: DEM, *, mode: str | None = None) -> np.ndarray:
    """float64[n_edges] time multipliers of a graph's edges (1 where the DEM has no data), along each edge's
    geometry in its direction of travel, sampled every :data:`SAMPLE_SPACING_M` m."""
    mode = mode or graph.mode
    fn = tobler_speed_factor if mode == "walk" else bike_speed_factor
    off = np.asarray(graph.geom_offsets, np.int64)
    xy = np.asarray(graph.geom_lonlat, np.float64)
    m = graph.n_edges
    if m == 0 or len(xy) < 2:
        return np.ones(m)
    # consecutive vertices of one edge form a piece; split pieces into <= SAMPLE_SPACING_M sub-segments
    a = np.arange(len(xy) - 1)
    edge_of = np.repeat(np.arange(m), np.diff(off))
    same = edge_of[a] == edge_of[a + 1]
    a = a[same]
    lat0 = float(np.mean(xy[:, 1]))
    kx, ky = 111_320.0 * np.cos(np.radians(lat0)), 110_574.0
    seg_len = np.hypot((xy[a + 1, 0] - xy[a, 0]) * kx, (xy[a + 1, 1] - xy[a, 1]) * ky)
    n_sub = np.maximum(1, np.ceil(seg_len / SAMPLE_SPACING_M)).astype(np.int64)
    rep = np.repeat(np.arange(len(a)), n_sub)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_sub) - n_sub, n_sub)
    t0, t1 = k / n_sub[rep], (k + 1) / n_sub[rep]
    p, q = xy[a[rep]], xy[a[rep] + 1]
    s0, s1 = p + (q - p) * t0[:, None], p + (q - p) * t1[:, None]
    z0, z1 = dem.sample(s0[:, 0], s0[:, 1]), dem.sample(s1[:, 0], s1[:, 1])
    dx = seg_len[rep] / n_sub[rep]
    ok = np.isfinite(z0) & np.isfinite(z1) & (dx > 0)
    slope = np.where(ok, (z1 - z0) / np.where(dx > 0, dx, 1.0), 0.0)
    slope = np.where(np.abs(slope) > 1.0, 0.0, slope)  # as R5/r5r: slopes beyond 100 % are DEM artefacts
    speed = np.where(ok, fn(slope), 1.0)
    e = edge_of[a[rep]]
    num = np.bincount(e, weights=dx * speed, minlength=m)
    den = np.bincount(e, weights=dx, minlength=m)
    mean_speed = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
    return 1.0 / mean_speed


def apply_elevation(graph, dem: DEM | str | Path):
    """A copy of a walk or bike graph with slope-aware edge times (car graphs are returned as is)."""
    if graph.mode not in ("walk", "bike"):
        return graph
    if not isinstance(dem, DEM):
        dem = read_dem(dem)
    f = edge_time_factors(graph, dem)
    tt = np.maximum(1, np.rint(np.asarray(graph.travel_time_s, np.float64) * f)).astype(np.int32)
    return graph.with_travel_times(tt, elevation=True)
