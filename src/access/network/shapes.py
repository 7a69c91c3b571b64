"""The feeds' ``shapes.txt``, kept with the timetable to draw transit legs along the vehicle's path.

:class:`TripShapes` holds every shape's points (lon, lat and ``shape_dist_traveled``), the shape of each trip (by
trip id, so that timetable edits that drop or add trips keep it right) and, per distinct (shape, stop sequence)
"profile", the stops with their ``stop_times.shape_dist_traveled``. A ride from the ``a``-th to the ``b``-th stop of a
trip is the part of its shape between the two stops' positions along it:

* where both ``shapes.txt`` and ``stop_times.txt`` give ``shape_dist_traveled`` (the whole shape and the whole trip,
  non-decreasing), the stop's position is its distance interpolated along the shape's points;
* otherwise the stops are projected onto the shape in order: among each stop's candidate points (the local minima
  of its distance to the shape), the sequence of non-decreasing positions of least total distance (where the stops'
  nearest points are in order, they are those; a loop or an out-and-back route puts each stop on the pass it is
  served from), in a local metric plane (equirectangular at the
  shape's mean latitude: affine in lon/lat, so points interpolated there are the same in lon/lat).

A trip without a shape (none in the feed, an unknown ``shape_id``, trips created by scenario edits) returns ``None``
and is drawn stop to stop by the caller; so does a ride whose stops come out of order along the shape (the part of
the shape between them is shorter than half the straight line between the stops, less 50 m: a feed listing two stops
in the other order than its shape passes them). Arrays only (``.npy`` in the bundle, no pickle).

Examples
--------
>>> legs = access.itineraries(net, o, d, "2019-05-13T14:00")  # doctest: +SKIP
>>> legs[legs.kind == "ride"].geometry  # along shapes.txt  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._errors import AccessWarning

__all__ = ["SHAPE_ARRAY_KEYS", "TripShapes"]

SHAPE_ARRAY_KEYS = ("shape_id", "shape_off", "shape_lon", "shape_lat", "shape_dist", "trip_id", "trip_profile",
                    "profile_shape", "profile_off", "profile_stop", "profile_dist")
#: metres per degree of latitude of the local plane (and per degree of longitude at the equator)
_M_PER_DEG = 111_319.49


def _ustr(values: Any) -> np.ndarray:
    v = np.asarray([str(x) for x in values], dtype=str)
    return v.astype("U1") if v.dtype.itemsize == 0 else v


class TripShapes:
    """Shapes of the trips of a timetable (see the module docstring). Build with :meth:`build`."""

    def __init__(self, arrays: dict, meta: dict | None = None) -> None:
        missing = [k for k in SHAPE_ARRAY_KEYS if k not in arrays]
        if missing:
            from .._errors import NetworkError

            raise NetworkError(f"transit shapes lack arrays {missing}; rebuild the network bundle")
        self.arrays = arrays
        self.meta = dict(meta or {})
        self._pos_cache: dict[int, np.ndarray | None] = {}
        self._trip_index: pd.Index | None = None

    def __repr__(self) -> str:
        return f"TripShapes({self.n_shapes:,} shapes, {self.n_trips:,} trips)"

    @property
    def n_shapes(self) -> int:
        return int(len(self.arrays["shape_id"]))

    @property
    def n_trips(self) -> int:
        return int(len(self.arrays["trip_id"]))

    # ------------------------------------------------------------------------------------------ build / persist
    @classmethod
    def build(cls, feeds: list, trip_ids: np.ndarray, trip_shape_ids: Any, trip_time_off: np.ndarray,
              stop_index: np.ndarray, st_dist: Any) -> TripShapes | None:
        """The shapes of trips ``trip_ids`` (timetable order) from the feeds' ``shapes`` tables.

        ``trip_shape_ids``: each trip's ``shape_id`` ("" none); ``trip_time_off``: int64[n_trips + 1] offsets of the
        trips' stop-time rows in ``stop_index`` (the timetable's stop of each row) and ``st_dist`` (their
        ``shape_dist_traveled``, NaN absent). None when no feed has shapes.
        """
        tabs = [f.shapes for f in feeds if getattr(f, "shapes", None) is not None and len(f.shapes)]
        if not tabs:
            return None
        sh = pd.concat(tabs, ignore_index=True)
        code, uniq = pd.factorize(sh["shape_id"], sort=False)
        order = np.argsort(code, kind="stable")  # rows of one shape together, points in sequence
        code = code[order]
        lon = sh["lon"].to_numpy(np.float64)[order]
        lat = sh["lat"].to_numpy(np.float64)[order]
        sdist = sh["dist"].to_numpy(np.float64)[order]
        shape_off = np.r_[0, np.cumsum(np.bincount(code, minlength=len(uniq)))].astype(np.int64)
        tsid = np.asarray(trip_shape_ids, dtype=object).astype(str)
        tshape = pd.Index(uniq).get_indexer(pd.Index(tsid))
        named = tsid != ""
        unknown = named & (tshape < 0)
        if unknown.any():
            warnings.warn(f"trips.txt: {int(unknown.sum())} trip(s) name a shape_id absent from shapes.txt, e.g. "
                          f"{tsid[unknown][0]!r}; their rides are drawn stop to stop", AccessWarning, stacklevel=3)
        dist = np.asarray(st_dist, np.float64) if st_dist is not None else np.full(len(stop_index), np.nan)
        sidx = np.asarray(stop_index, np.int32)
        keys: dict = {}
        p_shape: list[int] = []
        p_stops: list[np.ndarray] = []
        p_dist: list[np.ndarray] = []
        t_keep = np.flatnonzero(tshape >= 0)
        t_prof = np.empty(len(t_keep), np.int32)
        for n, t in enumerate(t_keep):
            a, b = int(trip_time_off[t]), int(trip_time_off[t + 1])
            st, d = sidx[a:b], dist[a:b]
            if not np.isfinite(d).all():
                d = np.full(len(st), np.nan)
            key = (int(tshape[t]), st.tobytes(), d.tobytes())
            p = keys.get(key)
            if p is None:
                p = keys[key] = len(keys)
                p_shape.append(int(tshape[t]))
                p_stops.append(st)
                p_dist.append(d)
            t_prof[n] = p
        tid = _ustr(np.asarray(trip_ids, dtype=object)[t_keep])
        o = np.argsort(tid, kind="stable")
        arrays = dict(
            shape_id=_ustr(uniq), shape_off=shape_off, shape_lon=lon, shape_lat=lat, shape_dist=sdist,
            trip_id=tid[o], trip_profile=t_prof[o],
            profile_shape=np.asarray(p_shape, np.int32),
            profile_off=np.r_[0, np.cumsum([len(x) for x in p_stops])].astype(np.int64),
            profile_stop=np.concatenate(p_stops).astype(np.int32) if p_stops else np.zeros(0, np.int32),
            profile_dist=np.concatenate(p_dist).astype(np.float64) if p_dist else np.zeros(0),
        )
        return cls(arrays, dict(n_shapes=len(uniq), n_trips=len(t_keep), n_profiles=len(p_shape)))

    def to_arrays(self) -> tuple[dict, dict]:
        """Arrays and JSON-able meta for the network bundle (no pickle)."""
        return {k: np.asarray(self.arrays[k]) for k in SHAPE_ARRAY_KEYS}, dict(self.meta)

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> TripShapes:
        """Inverse of :meth:`to_arrays` (arrays may be memory-mapped)."""
        return cls(dict(arrays), meta)

    # ------------------------------------------------------------------------------------------ queries
    def _plane(self, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Shape ``s``'s points (lon/lat) and in the local metric plane, and the cumulative length (m) there."""
        a, b = int(self.arrays["shape_off"][s]), int(self.arrays["shape_off"][s + 1])
        ll = np.column_stack([np.asarray(self.arrays["shape_lon"][a:b], float),
                              np.asarray(self.arrays["shape_lat"][a:b], float)])
        k = np.cos(np.radians(float(np.mean(ll[:, 1]))))
        xy = np.column_stack([ll[:, 0] * k * _M_PER_DEG, ll[:, 1] * _M_PER_DEG])
        cum = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
        return ll, xy, cum

    def profile_positions(self, p: int, stop_lonlat: np.ndarray) -> np.ndarray | None:
        """Metres along its shape (local plane) of each stop of profile ``p`` (``stop_lonlat``: the timetable's
        stop coordinates, float64[n_stops, 2]); None when the stops cannot be placed in order."""
        if p in self._pos_cache:
            return self._pos_cache[p]
        a = self.arrays
        s = int(a["profile_shape"][p])
        o0, o1 = int(a["profile_off"][p]), int(a["profile_off"][p + 1])
        stops = np.asarray(a["profile_stop"][o0:o1])
        sd = np.asarray(a["profile_dist"][o0:o1], float)
        ll, xy, cum = self._plane(s)
        b0, b1 = int(a["shape_off"][s]), int(a["shape_off"][s + 1])
        shd = np.asarray(a["shape_dist"][b0:b1], float)
        pos: np.ndarray | None
        if np.isfinite(sd).all() and np.isfinite(shd).all() and np.all(np.diff(shd) >= 0) and \
                np.all(np.diff(sd) >= 0) and shd[-1] > shd[0]:
            # shape_dist_traveled on both sides: interpolate (distinct points only, for np.interp)
            keep = np.r_[True, np.diff(shd) > 0]
            pos = np.interp(sd, shd[keep], cum[keep])
        else:
            pos = _ordered_projection(xy, cum, stop_lonlat[stops], float(np.cos(np.radians(np.mean(ll[:, 1])))))
        self._pos_cache[p] = pos
        return pos

    def trip_profile(self, trip_id: str) -> int:
        """The profile of a trip, -1 when it has no shape."""
        if self._trip_index is None:
            self._trip_index = pd.Index(np.asarray(self.arrays["trip_id"]).astype(object))
        i = self._trip_index.get_indexer(pd.Index([str(trip_id)]))[0]
        return int(self.arrays["trip_profile"][i]) if i >= 0 else -1

    def ride_lonlat(self, trip_id: str, pattern_stops: np.ndarray, board_pos: int, alight_pos: int,
                    stop_lonlat: np.ndarray) -> np.ndarray | None:
        """Lon/lat of the ride of ``trip_id`` from its ``board_pos``-th to its ``alight_pos``-th stop along the
        trip's pattern ``pattern_stops``, along the shape; None when the trip has no (usable) shape."""
        p = self.trip_profile(trip_id)
        if p < 0:
            return None
        a = self.arrays
        o0, o1 = int(a["profile_off"][p]), int(a["profile_off"][p + 1])
        prof = np.asarray(a["profile_stop"][o0:o1])
        ps = np.asarray(pattern_stops)
        if len(prof) == len(ps) and np.array_equal(prof, ps):
            ib, ia = int(board_pos), int(alight_pos)
        else:  # the pattern lost stops (a scenario edit): match them in order
            j, idx = 0, []
            for x in ps:
                while j < len(prof) and prof[j] != x:
                    j += 1
                if j == len(prof):
                    return None
                idx.append(j)
                j += 1
            ib, ia = idx[int(board_pos)], idx[int(alight_pos)]
        pos = self.profile_positions(p, stop_lonlat)
        if pos is None or not (pos[ia] >= pos[ib]):
            return None
        ll, _, cum = self._plane(int(a["profile_shape"][p]))
        (x0, y0), (x1, y1) = stop_lonlat[prof[ib]], stop_lonlat[prof[ia]]
        straight_m = float(np.hypot((x1 - x0) * np.cos(np.radians(y0)), y1 - y0)) * _M_PER_DEG
        if pos[ia] - pos[ib] < 0.5 * straight_m - MISMATCH_SLACK_M:
            return None  # the stops are out of order along the shape (a feed quirk): stop to stop is closer
        return _substring(ll, cum, float(pos[ib]), float(pos[ia]))


#: a ride shorter along its shape than half the straight line between its stops, less this, is drawn stop to stop
MISMATCH_SLACK_M = 50.0
#: ordered projection: the candidate points of a stop are the local minima of its distance to the shape within this
#: many metres of its nearest distance (at most :data:`MAX_CANDIDATES` of them)
CANDIDATE_SLACK_M = 200.0
MAX_CANDIDATES = 24


def _ordered_projection(xy: np.ndarray, cum: np.ndarray, stop_ll: np.ndarray, k: float) -> np.ndarray | None:
    """Positions (metres along the polyline ``xy``) of the stops, in order along it, as close to the stops as
    possible: among each stop's candidate points (the local minima of its distance to the shape), the sequence with
    non-decreasing positions of least total distance (dynamic programming). Where every stop's nearest point is
    already in order this is each stop's nearest point; a loop or an out-and-back route puts each stop on the pass
    it is served from. Stops that cannot be put in order keep the previous position."""
    if len(xy) < 2:
        return None
    q = np.column_stack([stop_ll[:, 0] * k * _M_PER_DEG, stop_ll[:, 1] * _M_PER_DEG])
    p0, d = xy[:-1], np.diff(xy, axis=0)
    l2 = np.einsum("ij,ij->i", d, d)
    seg_len = np.sqrt(l2)
    cand_pos: list[np.ndarray] = []
    cand_dist: list[np.ndarray] = []
    for pt in q:
        rel = pt[None, :] - p0
        t = np.clip(np.where(l2 > 0, np.einsum("ij,ij->i", rel, d) / np.where(l2 > 0, l2, 1.0), 0.0), 0.0, 1.0)
        diff = rel - d * t[:, None]
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        loc = np.ones(len(dist), bool)
        loc[1:] &= dist[1:] <= dist[:-1]
        loc[:-1] &= dist[:-1] <= dist[1:]
        loc &= dist <= dist.min() + CANDIDATE_SLACK_M
        loc[int(np.argmin(dist))] = True
        j = np.flatnonzero(loc)
        if len(j) > MAX_CANDIDATES:
            j = np.sort(j[np.argsort(dist[j], kind="stable")[:MAX_CANDIDATES]])
        cand_pos.append(cum[j] + t[j] * seg_len[j])
        cand_dist.append(dist[j])
    n = len(q)
    best = [cand_dist[0].copy()]
    back: list[np.ndarray] = [np.full(len(cand_dist[0]), -1)]
    for i in range(1, n):
        pp, bp = cand_pos[i - 1], best[i - 1]
        ok = pp[None, :] <= cand_pos[i][:, None] + 1e-9  # [cur, prev]
        cost = np.where(ok, bp[None, :], np.inf)
        arg = np.argmin(cost, axis=1)
        c = cost[np.arange(len(arg)), arg]
        # no predecessor in order: the cheapest one, heavily penalised (this stop is then clamped below)
        stuck = ~np.isfinite(c)
        if stuck.any():
            arg = np.where(stuck, int(np.argmin(bp)), arg)
            c = np.where(stuck, float(bp.min()) + 1e9, c)
        best.append(c + cand_dist[i])
        back.append(arg)
    out = np.empty(n)
    c_at = int(np.argmin(best[-1]))
    for i in range(n - 1, -1, -1):
        out[i] = cand_pos[i][c_at]
        c_at = int(back[i][c_at])
    return np.maximum.accumulate(out)


def _substring(ll: np.ndarray, cum: np.ndarray, a_m: float, b_m: float) -> np.ndarray:
    """Lon/lat of the polyline from ``a_m`` to ``b_m`` metres along it (interpolated ends, vertices between)."""

    def at(m: float) -> np.ndarray:
        i = int(np.clip(np.searchsorted(cum, m, side="right") - 1, 0, len(cum) - 2))
        seg = cum[i + 1] - cum[i]
        f = (m - cum[i]) / seg if seg > 0 else 0.0
        return ll[i] + (ll[i + 1] - ll[i]) * min(max(f, 0.0), 1.0)

    inner = ll[(cum > a_m) & (cum < b_m)]
    xy = np.vstack([at(a_m)[None, :], inner, at(b_m)[None, :]])
    keep = np.r_[True, np.any(np.diff(xy, axis=0) != 0, axis=1)]
    xy = xy[keep]
    return xy if len(xy) >= 2 else np.vstack([xy, xy])
