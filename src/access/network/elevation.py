"""Slope-aware walking and cycling times from a digital elevation model (DEM), edge by edge, both directions.

Exactly as R5 (``conveyal/r5``, ``src/main/java/com/conveyal/r5/rastercost/``, read at commit 6f35542):

* each edge pair is sampled along its geometry every :data:`SAMPLE_SPACING_M` m (``RasterDataSourceSampler``
  lines 180-272: a flat metric at the first point's latitude, 111,111.111 m per degree, no samples on edges under
  10 m, the pixel holding each point without interpolation, ``ElevationLoader`` line 41), elevations kept in whole
  decimetres (``ElevationLoader`` lines 94-111);
* the segments are 10 m from the start vertex through the samples, then the remainder to the end vertex
  (``ElevationCostField.forEachElevationSegment``, lines 112-146); the reverse edge of a pair walks the same
  segments with the elevation changes negated;
* walking *and cycling* use Tobler's function as R5 writes it, ``1.2 exp(-3.5 |dz/dx + 0.05|)``
  (``ToblerCalculator`` lines 21-44): the edge's factor is ``1 / (length-weighted mean) - 1``, stored as float32,
  and the traversal time becomes ``t + Math.round(t * factor)``, at least 1 s (``ElevationCostField`` lines 63-65,
  ``streets/MultistageTraversalTimeCalculator`` lines 34-47; R5's cost fields are not mode-aware, ``CostField``
  lines 10-16, and never apply to cars). On flat ground the factor is ``1 / (1.2 exp(-0.175)) - 1 = -0.73 %``:
  R5 makes flat walks 0.73 % faster than the nominal speed, and so do we (edges under 69 s keep their time);
* ``bike_model="otp"`` instead uses r5r's cycling coefficient, OpenTripPlanner's quadratic B-spline of slope and
  altitude (r5r ``java-r5rcore/src/org/ipea/r5r/Utils/ElevationUtils.java``, ``bikeSpeedCoefficientOTP``, which
  r5r's R code inverted into a bike time multiplier), per 10 m segment with the same averaging.

One deliberate difference: R5 reads 0 m outside the raster (false cliffs at its border); segments with a point
outside the raster or on no-data are left out here (an edge wholly outside keeps its time). And the "forward" edge
of a pair, whose geometry the samples follow, is the lower edge id here, the OSM way's direction in R5 (the
sample positions shift by the remainder; the factors differ at the decimetre level only).

The DEM is a GeoTIFF in EPSG:4326 (north-up, no rotation), read with rasterio when installed, else with Pillow.

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
    "BIKE_SLOPE_MODELS",
    "DEM",
    "SAMPLE_SPACING_M",
    "apply_elevation",
    "edge_time_factors",
    "otp_bike_speed_coefficient",
    "r5_elevation_times",
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

    def sample_nearest(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The value of the pixel holding each point (no interpolation, as R5's elevation sampler); NaN outside
        the raster or on no-data."""
        h, w = self.z.shape
        col = np.floor((np.asarray(lon, float) - self.lon0) / self.dlon)
        row = np.floor((self.lat0 - np.asarray(lat, float)) / self.dlat)
        inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        ci = np.clip(np.nan_to_num(col), 0, w - 1).astype(np.int64)
        ri = np.clip(np.nan_to_num(row), 0, h - 1).astype(np.int64)
        return np.where(inside, self.z[ri, ci], np.nan)


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


# --------------------------------------------------------------------------------------------- R5's functions
#: R5's ``com.conveyal.gtfs.util.Util.METERS_PER_DEGREE_LATITUDE`` (the flat metric of its edge sampler)
R5_METERS_PER_DEGREE_LATITUDE = 111111.111
#: R5's ``ElevationCostField.DECIMETERS_PER_METER``: elevations are stored as whole decimetres
R5_DECIMETERS_PER_METER = 10.0
#: how far past the last 10 m sample the end vertex may lie (R5 skips the remainder segment beyond this)
R5_REMAINDER_TOLERANCE_M = 0.5


def tobler_speed_factor(slope: np.ndarray) -> np.ndarray:
    """R5's walking speed factor of a slope ``s = dz / dx``: ``1.2 exp(-3.5 |s + 0.05|)``.

    R5 ``src/main/java/com/conveyal/r5/rastercost/ToblerCalculator.java`` lines 21-23 (``tobler``): Tobler's
    hiking function divided by 5 km/h and multiplied by 1.2 (so 1.007 on flat ground, 1.2 on a 5 % descent).
    """
    s = np.asarray(slope, float)
    return 1.2 * np.exp(-3.5 * np.abs(s + 0.05))


# r5r's bike speed coefficient (java-r5rcore/src/org/ipea/r5r/Utils/ElevationUtils.java, bikeSpeedCoefficientOTP:
# OpenTripPlanner's ZunZun quadratic B-spline of (altitude, slope) fitted to analyticcycling.com speeds): knots and
# coefficients, FITPACK layout (coefficient (i, j) at i * (ny - ky - 1) + j)
_OTP_TX = np.array([0.0, 0.0, 0.0, 2.7987785324442748e03, 5.0e03, 5.0e03, 5.0e03])
_OTP_TY = np.array([-3.4999999999999998e-01, -3.4999999999999998e-01, -3.4999999999999998e-01,
                    -7.2695627831828688e-02, -2.4945814335295903e-03, 5.3500304527448035e-02,
                    1.2191105175593375e-01, 3.4999999999999998e-01, 3.4999999999999998e-01, 3.4999999999999998e-01])
_OTP_C = np.array([
    4.3843513168660255e00, 3.6904323727375652e00, 1.6791850199667697e00, 5.5077866957024113e-01,
    1.7977766419113900e-01, 8.0906832222762959e-02, 6.0239305785343762e-02, 4.6782343053423814e00,
    3.9250580214736304e00, 1.7924585866601270e00, 5.3426170441723031e-01, 1.8787442260720733e-01,
    7.4706427576152687e-02, 6.2201805553147201e-02, 5.3131908923568787e00, 4.4703901299120750e00,
    2.0085381385545351e00, 5.4611063530784010e-01, 1.8034042959223889e-01, 8.1456939988273691e-02,
    5.9806795955995307e-02, 5.6384893192212662e00, 4.7732222200176633e00, 2.1021485412233019e00,
    5.7862890496126462e-01, 1.6358571778476885e-01, 9.4846184210137130e-02, 5.5464612133430242e-02])


def _bspline_basis(t: np.ndarray, k: int, x: float) -> tuple[int, np.ndarray]:
    """The interval ``l`` (0-based, as the Java ``l - k - 1``) and the ``k + 1`` non-zero B-spline values at ``x``,
    following the de Boor recursion of ``bikeSpeedCoefficientOTP`` step by step (no clamping of ``x``: outside the
    knots the end polynomials extrapolate, as the Java does)."""
    n = len(t)
    k1 = k + 1
    nk1 = n - k1
    l_ = k1
    while x >= t[l_] and l_ != nk1:
        l_ += 1
    h = np.zeros(k1 + 1)
    h[0] = 1.0
    for j in range(1, k + 1):
        hh = h[:j].copy()
        h[0] = 0.0
        for i in range(j):
            li, lj = l_ + i, l_ + i - j
            if t[li] != t[lj]:
                f = hh[i] / (t[li] - t[lj])
                h[i] += f * (t[li] - x)
                h[i + 1] = f * (x - t[lj])
            else:
                h[i] = 0.0
    return l_ - k1, h[:k1]


def otp_bike_speed_coefficient(slope: np.ndarray, altitude_m: np.ndarray | float = 0.0) -> np.ndarray:
    """r5r's cycling speed coefficient of a slope at an altitude (the OTP spline r5r applies to bike edges:
    ``java-r5rcore/src/org/ipea/r5r/Utils/ElevationUtils.java`` ``bikeSpeedCoefficientOTP``; r5r's R code uses
    ``1 / coefficient`` as the bike time multiplier). About 1 on flat ground at sea level, < 1 uphill, > 1 downhill."""
    s, z = np.broadcast_arrays(np.atleast_1d(np.asarray(slope, float)), np.atleast_1d(np.asarray(altitude_m, float)))
    out = np.empty(s.shape)
    nky1 = len(_OTP_TY) - 3
    for idx in np.ndindex(s.shape):
        lx, wx = _bspline_basis(_OTP_TX, 2, float(z[idx]))
        ly, wy = _bspline_basis(_OTP_TY, 2, float(s[idx]))
        c = _OTP_C[(lx + np.arange(3))[:, None] * nky1 + ly + np.arange(3)[None, :]]
        out[idx] = float(wx @ c @ wy)
    return out.reshape(np.broadcast_shapes(np.shape(slope), np.shape(altitude_m)))


BIKE_SLOPE_MODELS = ("tobler", "otp")


def _r5_edge_segments(graph, dem: DEM):
    """R5's elevation profile of every edge pair, sampled along the canonical edge's geometry (the lower edge id of
    a twin pair): R5 ``rastercost/RasterDataSourceSampler.java`` lines 180-187 and 245-272 (a sample every
    :data:`SAMPLE_SPACING_M` m of a flat metric at the first point's latitude, none on edges shorter than that,
    nearest pixel: the sampler is built with ``interpolate=false``, ElevationLoader.java line 41) and
    ``rastercost/ElevationCostField.java`` lines 112-146 (segments of 10 m from the start vertex through the samples,
    then the remainder to the end vertex when within 10.5 m; elevations in whole decimetres,
    ElevationLoader.java lines 94-111).

    Returns (canonical edge of each segment, dx m, dz m in the canonical direction, segment valid); invalid where
    a point falls outside the raster or on no-data (R5 reads 0 m there; we leave the segment out)."""
    e_all = np.arange(graph.n_edges)
    rev = np.asarray(graph.reverse_edge)
    canon = e_all[(rev < 0) | (e_all < rev)]
    off = np.asarray(graph.geom_offsets, np.int64)
    xy = np.asarray(graph.geom_lonlat, np.float64)
    length = np.asarray(graph.length_m, np.float64)
    cnt = np.diff(off)[canon]
    # pieces (consecutive vertices) of the canonical edges
    first = off[canon]
    pid = np.repeat(np.arange(len(canon)), np.maximum(cnt - 1, 0))
    k = np.arange(len(pid)) - np.repeat(np.r_[0, np.cumsum(np.maximum(cnt - 1, 0))[:-1]], np.maximum(cnt - 1, 0))
    a = first[pid] + k
    cos_lat = np.cos(np.radians(xy[first, 1]))
    dlon, dlat = xy[a + 1, 0] - xy[a, 0], xy[a + 1, 1] - xy[a, 1]
    plen = np.hypot(cos_lat[pid] * dlon, dlat) * R5_METERS_PER_DEGREE_LATITUDE
    cum_end = np.bincount(pid, weights=plen, minlength=len(canon))
    glob = np.r_[0.0, np.cumsum(plen)][:-1]  # where each piece starts, all edges end to end
    base = np.r_[0.0, np.cumsum(cum_end)][:-1]  # where each canonical edge starts
    # samples every 10 m: the j-th at 10 j m (j >= 1) while within the geometry; none on edges under 10 m
    n_s = np.where(length[canon] < SAMPLE_SPACING_M, 0, np.floor(cum_end / SAMPLE_SPACING_M + 1e-9)).astype(np.int64)
    sid = np.repeat(np.arange(len(canon)), n_s)
    j = np.arange(len(sid)) - np.repeat(np.r_[0, np.cumsum(n_s)[:-1]], n_s) + 1
    dist = j * SAMPLE_SPACING_M
    # the piece holding each sample
    pstart = np.r_[0, np.cumsum(np.maximum(cnt - 1, 0))]
    gdist = dist + base[sid]
    pi = np.clip(np.searchsorted(glob, gdist, side="right") - 1, pstart[sid], np.maximum(pstart[sid + 1] - 1, 0))
    frac = np.where(plen[pi] > 0, (gdist - glob[pi]) / np.where(plen[pi] > 0, plen[pi], 1.0), 0.0)
    slon = xy[a[pi], 0] + dlon[pi] * frac
    slat = xy[a[pi], 1] + dlat[pi] * frac
    zs = _dm(dem.sample_nearest(slon, slat))
    tail = graph.tail
    z0 = _dm(dem.sample_nearest(graph.node_lon[tail[canon]], graph.node_lat[tail[canon]]))
    z1 = _dm(dem.sample_nearest(graph.node_lon[graph.head[canon]], graph.node_lat[graph.head[canon]]))
    # segments: start -> s1 -> ... -> s_n (10 m each), then s_n -> end over the remainder
    n_seg = n_s + 1
    seg_c = np.repeat(np.arange(len(canon)), n_seg)
    q = np.arange(len(seg_c)) - np.repeat(np.r_[0, np.cumsum(n_seg)[:-1]], n_seg)
    s_first = np.r_[0, np.cumsum(n_s)[:-1]]
    is_last = q == n_s[seg_c]
    prev = np.where(q == 0, z0[seg_c], zs[np.clip(s_first[seg_c] + q - 1, 0, max(len(zs) - 1, 0))]
                    if len(zs) else z0[seg_c])
    cur = np.where(is_last, z1[seg_c], zs[np.clip(s_first[seg_c] + q, 0, max(len(zs) - 1, 0))]
                   if len(zs) else z1[seg_c])
    rem = length[canon] - SAMPLE_SPACING_M * n_s
    dx = np.where(is_last, rem[seg_c], SAMPLE_SPACING_M)
    valid = np.isfinite(prev) & np.isfinite(cur)
    valid &= ~is_last | ((rem[seg_c] >= 0) & (rem[seg_c] <= SAMPLE_SPACING_M + R5_REMAINDER_TOLERANCE_M))
    return canon, canon[seg_c], dx, cur - prev, valid, prev


def _dm(z: np.ndarray) -> np.ndarray:
    """Elevations rounded to whole decimetres as R5 stores them (``Math.round(z * 10) / 10``)."""
    return np.floor(np.asarray(z, float) * R5_DECIMETERS_PER_METER + 0.5) / R5_DECIMETERS_PER_METER


def edge_time_factors(graph, dem: DEM, *, mode: str | None = None, bike_model: str = "tobler") -> np.ndarray:
    """float64[n_edges] R5 elevation factors of a graph's edges: the traversal time becomes
    ``t + round(t * factor)`` (R5 ``rastercost/ElevationCostField.java`` lines 63-65 and 191-195,
    ``streets/MultistageTraversalTimeCalculator.java`` lines 34-47, at least 1 s).

    ``factor = 1 / (length-weighted mean speed factor of the edge's segments) - 1`` (R5
    ``ToblerCalculator.java`` lines 31-44), stored as float32 as R5 does; the reverse edge of a pair gets the
    same segments with the elevation changes negated (ElevationCostField.java lines 112-146). R5 applies the
    same Tobler factor to walking and cycling (its cost fields are not mode-aware, CostField.java lines 10-16);
    ``bike_model="otp"`` uses r5r's OTP cycling spline instead (:func:`otp_bike_speed_coefficient`). Edges
    whose samples all fall outside the DEM get 0 (no change)."""
    from .._validate import check_choice

    mode = mode or graph.mode
    bike_model = check_choice("bike_model", bike_model, BIKE_SLOPE_MODELS)
    m = graph.n_edges
    if m == 0:
        return np.zeros(m)
    canon, ce, dx, dz, valid, z_prev = _r5_edge_segments(graph, dem)
    rev = np.asarray(graph.reverse_edge)
    out = np.zeros(m)
    for sign, edges in ((1.0, canon), (-1.0, rev[canon])):
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = sign * dz / dx
            if mode == "bike" and bike_model == "otp":
                z_start = np.where(sign > 0, z_prev, z_prev + dz)
                speed = otp_bike_speed_coefficient(np.where(valid, slope, 0.0), np.where(valid, z_start, 0.0))
            else:
                speed = tobler_speed_factor(slope)
            # a zero-length flat segment gives NaN in R5 (0/0), which makes the whole edge's factor NaN and
            # Math.round(t * NaN) = 0: that edge is left unchanged
            num = np.bincount(np.searchsorted(canon, ce[valid]), weights=dx[valid] * speed[valid],
                              minlength=len(canon))
            den = np.bincount(np.searchsorted(canon, ce[valid]), weights=dx[valid], minlength=len(canon))
            f = np.where(den > 0, 1.0 / (num / np.where(den > 0, den, 1.0)) - 1.0, 0.0)
        f = np.where(np.isfinite(f), f, 0.0).astype(np.float32).astype(np.float64)
        ok = edges >= 0
        out[edges[ok]] = f[ok]
    return out


def r5_elevation_times(travel_time_s: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """int32 edge times with R5's elevation cost added: ``t + Math.round(t * factor)``, at least 1 s
    (MultistageTraversalTimeCalculator.java lines 35-45; Java's ``Math.round`` is ``floor(x + 0.5)``)."""
    t = np.asarray(travel_time_s, np.float64)
    add = np.floor(t * np.asarray(factors, np.float64) + 0.5)
    return np.maximum(1, t + add).astype(np.int32)


def apply_elevation(graph, dem: DEM | str | Path, *, bike_model: str = "tobler"):
    """A copy of a walk or bike graph with R5's slope-aware edge times (car graphs are returned as is, as in R5)."""
    if graph.mode not in ("walk", "bike"):
        return graph
    if not isinstance(dem, DEM):
        dem = read_dem(dem)
    f = edge_time_factors(graph, dem, bike_model=bike_model)
    tt = r5_elevation_times(graph.travel_time_s, f)
    return graph.with_travel_times(tt, elevation=True, elevation_model="r5-tobler" if graph.mode == "walk"
                                   or bike_model == "tobler" else "r5r-otp-spline")
