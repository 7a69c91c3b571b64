"""The scenario engine behind ``access serve``: requests, per-session incremental states, per-area results.

A request describes the *whole* scenario relative to the base (the venues added, the base venues removed, one
polygon of closed streets), so it is idempotent and an undo is just the previous request. Each browser session
keeps the state of its last request and the next one is reached incrementally:

* same closure: only the venue edits that differ are applied (``remove_venue`` costs no search, ``add_venue`` one
  search, and a venue added before reuses its stored column);
* another closure: the state is recomputed from the base with ``AccessibilityState.apply`` (only the matrix
  columns and rows the closed streets can reach), then every venue edit is applied; the last few closure states
  are kept for undo/redo.

Per area (the EPCI of the run), the engine aggregates the per-cell minutes to the nearest venue of each category
(and of any category) as :func:`access.indicators.aggregate` does (population-weighted, links from
:func:`access.indicators.attach_cells` computed once): the mean over the population that reaches one, and the
shares of the population beyond 15 and 30 minutes; the typology classes before/after are computed on one table of
the before and after rows (one z-scale), as :func:`access.compare` does.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import ValidationError
from .data import PROFILE_COLUMNS, SHARE_THRESHOLDS_MIN, RunData, area_links

#: bounds on what one request may ask (security: a local app, but requests are untrusted input)
MAX_EDITS = 200
MAX_POLYGON_POINTS = 1000
MAX_SESSIONS = 32
MAX_BODY_BYTES = 256 * 1024
#: closure states kept (shared by sessions) for undo/redo of a closure
CLOSURE_CACHE = 4
#: a change smaller than this (minutes or share) is no change
EPS = 1e-9


class RequestError(ValidationError):
    """A bad request: the message names the field (answered with HTTP 400)."""


# ------------------------------------------------------------------------------------------------ requests
@dataclass(frozen=True)
class AddedVenue:
    id: str
    lon: float
    lat: float
    category: str
    capacity: float = 1.0


@dataclass(frozen=True)
class ScenarioRequest:
    """A whole scenario relative to the base: venues added, base venues removed, a polygon of closed streets."""

    add_venues: tuple[AddedVenue, ...] = ()
    remove_venues: tuple[str, ...] = ()
    polygon: tuple[tuple[float, float], ...] | None = None

    @property
    def n_edits(self) -> int:
        return len(self.add_venues) + len(self.remove_venues) + (self.polygon is not None)

    def to_dict(self) -> dict:
        return {"add_venues": [{"id": v.id, "lon": v.lon, "lat": v.lat, "category": v.category,
                                "capacity": v.capacity} for v in self.add_venues],
                "remove_venues": list(self.remove_venues),
                "close_streets": None if self.polygon is None else {"polygon": [list(p) for p in self.polygon]}}


def _number(v: Any, field_name: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise RequestError(f"`{field_name}` must be a finite number, got {v!r}")
    x = float(v)
    if not lo <= x <= hi:
        raise RequestError(f"`{field_name}` = {x:g} is outside [{lo:g}, {hi:g}]")
    return x


def _lonlat(v: Any, field_name: str, bbox: tuple[float, float, float, float]) -> tuple[float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        raise RequestError(f"`{field_name}` must be [lon, lat], got {v!r}")
    return (_number(v[0], f"{field_name}[0] (lon)", bbox[0], bbox[2]),
            _number(v[1], f"{field_name}[1] (lat)", bbox[1], bbox[3]))


def parse_request(body: Any, *, categories: list[str], base_ids: set[str],
                  bbox: tuple[float, float, float, float]) -> ScenarioRequest:
    """Check a request body (the JSON of ``POST /api/scenario``) and return the scenario it describes.

    ``bbox`` (lon_min, lat_min, lon_max, lat_max) bounds every point. Raises :class:`RequestError` naming the
    field at fault (unknown keys, wrong types, unknown categories or venue ids, too many edits).
    """
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object with `add_venues`, `remove_venues`, "
                           "`close_streets`")
    unknown = sorted(set(body) - {"add_venues", "remove_venues", "close_streets"})
    if unknown:
        raise RequestError(f"unknown field(s) {unknown}; use `add_venues`, `remove_venues`, `close_streets`")
    adds_in = body.get("add_venues") or []
    if not isinstance(adds_in, list):
        raise RequestError("`add_venues` must be a list of {lon, lat, category} objects")
    rem_in = body.get("remove_venues") or []
    if not isinstance(rem_in, list):
        raise RequestError("`remove_venues` must be a list of venue ids")
    if len(adds_in) + len(rem_in) > MAX_EDITS:
        raise RequestError(f"`add_venues` + `remove_venues` hold {len(adds_in) + len(rem_in)} edits; at most "
                           f"{MAX_EDITS} per scenario")
    adds: list[AddedVenue] = []
    seen: set[str] = set()
    for i, a in enumerate(adds_in):
        f = f"add_venues[{i}]"
        if not isinstance(a, dict):
            raise RequestError(f"`{f}` must be an object {{lon, lat, category}}, got {a!r}")
        bad = sorted(set(a) - {"lon", "lat", "category", "id", "capacity"})
        if bad:
            raise RequestError(f"`{f}` has unknown key(s) {bad}; use lon, lat, category (and id, capacity)")
        for k in ("lon", "lat"):
            if k not in a:
                raise RequestError(f"`{f}.{k}` is missing")
        lon = _number(a["lon"], f"{f}.lon", bbox[0], bbox[2])
        lat = _number(a["lat"], f"{f}.lat", bbox[1], bbox[3])
        cat = a.get("category", categories[0] if categories else "all")
        if not isinstance(cat, str) or cat not in categories:
            raise RequestError(f"`{f}.category` = {cat!r} is not a venue category of this run; use one of "
                               f"{categories}")
        vid = a.get("id", f"new-{i + 1}")
        if not isinstance(vid, (str, int)) or isinstance(vid, bool) or len(str(vid)) > 64:
            raise RequestError(f"`{f}.id` must be a string of at most 64 characters, got {vid!r}")
        vid = str(vid)
        if vid in base_ids or vid in seen:
            raise RequestError(f"`{f}.id` = {vid!r} is already taken; give each new venue a unique id")
        seen.add(vid)
        cap = _number(a.get("capacity", 1.0), f"{f}.capacity", 0.0, 1e6)
        adds.append(AddedVenue(vid, lon, lat, cat, cap))
    removes: list[str] = []
    for i, r in enumerate(rem_in):
        if not isinstance(r, (str, int)) or isinstance(r, bool) or str(r) not in base_ids:
            raise RequestError(f"`remove_venues[{i}]` = {r!r} is not a venue of the base (GET /api/venues lists "
                               "them; a venue added by the scenario is removed by leaving it out of `add_venues`)")
        if str(r) not in removes:
            removes.append(str(r))
    poly = None
    cs = body.get("close_streets")
    if cs is not None:
        if not isinstance(cs, dict) or set(cs) - {"polygon"}:
            raise RequestError("`close_streets` must be {\"polygon\": [[lon, lat], ...]} or null")
        ring = cs.get("polygon")
        if ring is not None:
            if not isinstance(ring, list) or not 3 <= len(ring) <= MAX_POLYGON_POINTS:
                raise RequestError(f"`close_streets.polygon` must be a list of 3 to {MAX_POLYGON_POINTS} "
                                   "[lon, lat] points")
            pts = [_lonlat(p, f"close_streets.polygon[{i}]", bbox) for i, p in enumerate(ring)]
            from shapely.geometry import Polygon

            if Polygon(pts).area <= 0:
                raise RequestError("`close_streets.polygon` encloses no area (points on a line)")
            poly = tuple(pts)
    return ScenarioRequest(tuple(adds), tuple(removes), poly)


# ------------------------------------------------------------------------------------------------ sessions
@dataclass
class Session:
    """One browser session: the state of its last scenario, and the columns of the venues it added."""

    id: str
    state: Any
    polygon: tuple | None = None
    adds: dict = field(default_factory=dict)  # id -> AddedVenue
    removes: set = field(default_factory=set)
    columns: dict = field(default_factory=dict)  # (polygon, lon, lat) -> int32 column
    slots_used: int = 0
    request: ScenarioRequest = field(default_factory=ScenarioRequest)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)


class Engine:
    """Base state, area links and sessions of the app (thread-safe; computations are serialised)."""

    def __init__(self, data: RunData, *, typology_config=None, progress: bool = False, warmup: bool = True):
        import scipy.sparse as sp

        self.data = data
        if typology_config is None:  # the settings the run classified its areas with (barrier index included)
            used = Path(data.out_dir) / "work" / "typology_config.json"
            if used.exists():
                import json

                typology_config = json.loads(used.read_text(encoding="utf-8"))
        self.typology_config = typology_config
        t0 = time.perf_counter()
        self.base = data.build_state(progress=progress)
        self.build_seconds = time.perf_counter() - t0
        self.categories = data.categories
        self.cats = ["any", *self.categories]
        self.cell_ids = np.asarray(self.base.cells.ids, dtype=object)
        cells = data.cells.set_index("id").reindex(self.cell_ids).reset_index()
        self.cell_lon = cells.geometry.x.to_numpy(float)
        self.cell_lat = cells.geometry.y.to_numpy(float)
        self.population = self.base.population.copy()
        areas = data.areas
        self.area_ids = areas["id"].to_numpy(dtype=object)
        self.area_names = areas["name"].astype(str).to_numpy(dtype=object)
        ai, ci, w = area_links(cells, areas)
        n_a, n_c = len(areas), len(cells)
        self._W = sp.csr_matrix((w * self.population[ci], (ai, ci)), shape=(n_a, n_c))
        self._L = sp.csr_matrix((w, (ai, ci)), shape=(n_a, n_c))  # population-free links (people affected)
        self.area_population = np.asarray(self._W.sum(axis=1)).ravel()
        self.base_ids = set(data.venues["id"].astype(str))
        self.venue_area = self._area_of(data.venues["lon"].to_numpy(float), data.venues["lat"].to_numpy(float))
        lo, la = np.r_[self.cell_lon, data.venues["lon"]], np.r_[self.cell_lat, data.venues["lat"]]
        b = areas.total_bounds
        pad = 0.05
        self.bbox = (float(min(b[0], lo.min()) - pad), float(min(b[1], la.min()) - pad),
                     float(max(b[2], lo.max()) + pad), float(max(b[3], la.max()) + pad))
        self.base_times = self._times(self.base)
        self.base_areas = self._aggregate(self.base_times)
        self.priority_areas = ([str(x) for x in areas.loc[areas["priority_zone"].notna(), "id"]]
                               if "priority_zone" in areas.columns else [])
        self.base_class = self._classes({})[0]
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._sessions_lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._closures: OrderedDict[tuple, Any] = OrderedDict()
        if warmup:
            self.warmup()

    def warmup(self) -> float:
        """Compile the kernels of a venue edit and a street closure once (numba), on a throwaway session, so that
        the first click answers as fast as the next ones. Returns the seconds spent."""
        t0 = time.perf_counter()
        fin = np.flatnonzero(np.isfinite(self.base_times["any"]))
        if not len(fin) or not self.categories:
            return 0.0
        i = int(fin[0])
        lon, lat = float(self.cell_lon[i]), float(self.cell_lat[i])
        d = 0.002
        ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
        sid = "warmup-" + self.new_session_id()
        body = {"add_venues": [{"lon": lon, "lat": lat, "category": self.categories[0]}],
                "remove_venues": sorted(self.base_ids)[:1]}
        for b in (body, {}, {"close_streets": {"polygon": ring}}, {}):
            try:
                self.evaluate(sid, self.parse(b))
            except ValidationError:
                pass  # a point off the network: the kernels are compiled anyway
        with self._sessions_lock:
            self._sessions.pop(sid, None)
        self._closures.clear()
        return time.perf_counter() - t0

    # ------------------------------------------------------------------ per-cell and per-area values
    def _area_of(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the area containing each point (-1 outside every area)."""
        import shapely

        tree = self.__dict__.get("_tree")
        if tree is None:
            tree = self._tree = shapely.STRtree(self.data.areas.geometry.values)
        pts = shapely.points(np.asarray(lon, float), np.asarray(lat, float))
        pi, ai = tree.query(pts, predicate="within")
        out = np.full(len(pts), -1, np.int64)
        first = np.unique(pi, return_index=True)
        out[first[0]] = ai[first[1]]
        return out

    def _times(self, state) -> dict[str, np.ndarray]:
        """Minutes from each cell to the nearest venue of each category (and of any), ``inf`` when none."""
        ind = state.indicators()
        n = len(ind)
        out = {c: (ind[f"time_{c}"].to_numpy(float) if f"time_{c}" in ind.columns else np.full(n, np.inf))
               for c in self.categories}
        out["any"] = np.min(np.vstack([out[c] for c in self.categories]), axis=0) if self.categories else \
            np.full(n, np.inf)
        return out

    def indicator_names(self) -> list[str]:
        """Per-area indicators: ``time_<cat>_mean`` and ``time_<cat>_share_beyond_<T>min`` (``cat``: any + each)."""
        return [f"time_{c}_{k}" for c in self.cats for k in
                ("mean", *(f"share_beyond_{t:g}min" for t in SHARE_THRESHOLDS_MIN))]

    def _aggregate(self, times: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per area, as :func:`access.indicators.aggregate` (population-weighted), and the pipeline's columns."""
        W = self._W
        wk = self.area_population
        out: dict[str, np.ndarray] = {}
        thr = sorted(set(self.data.thresholds_min) | set(SHARE_THRESHOLDS_MIN))
        with np.errstate(divide="ignore", invalid="ignore"):
            for c, t in times.items():
                fin = np.isfinite(t)
                wf = W @ fin.astype(float)
                out[f"time_{c}_mean"] = (W @ np.where(fin, t, 0.0)) / wf
                out[f"time_{c}_share_unreachable"] = (wk - wf) / wk
                for T in thr:
                    out[f"time_{c}_share_within_{T:g}min"] = (W @ (t <= T).astype(float)) / wk
                    if T in SHARE_THRESHOLDS_MIN:
                        out[f"time_{c}_share_beyond_{T:g}min"] = (W @ (t > T).astype(float)) / wk
        return out

    def _typology_table(self) -> pd.DataFrame:
        """The run's area table reduced to the columns the typology reads (its glob patterns), and the columns the
        app replaces; computed once."""
        if "_ty_table" not in self.__dict__:
            import fnmatch

            from ..indicators.typology import load_typology_config

            cfg = load_typology_config(self.typology_config)
            pats = [k for sec in ("supply", "access", "social") for k in cfg.get(sec, {}).get("weights", {})]
            # the typology derives a share beyond T from the share within T: keep those too
            pats += [p.replace("_share_beyond_", "_share_within_") for p in pats if "_share_beyond_" in p]
            region = [cfg["region"]["population_column"], cfg["region"]["in_region_column"]]
            areas = pd.DataFrame(self.data.areas.drop(columns=self.data.areas.geometry.name))
            keep = ["id", *[c for c in areas.columns if c != "id" and (c in region or (
                pd.api.types.is_numeric_dtype(areas[c]) and any(fnmatch.fnmatchcase(c, p) for p in pats)))]]
            self._ty_table = areas[keep].copy()
            self._ty_patterns = pats
        return self._ty_table

    def _classes(self, after: dict | None, venue_counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Typology classes before and after, on one table of both (one z-scale, as :func:`access.compare`).

        The area table of the run is the base; the served mode's time columns and the venue counts are replaced by
        the values of the base state and of the scenario."""
        import fnmatch

        from ..indicators import typology

        base = self._typology_table()
        mode = self.data.mode
        n = len(base)

        def table(vals: dict, counts: np.ndarray | None) -> pd.DataFrame:
            cols = {}
            for k, v in vals.items():
                name = k.replace("time_", f"time_{mode}_", 1)
                if "_share_beyond_" not in k and (name in base.columns
                                                  or any(fnmatch.fnmatchcase(name, p) for p in self._ty_patterns)):
                    cols[name] = v
            if counts is not None:
                cols.update(self._counts_columns(counts))
            t = base.drop(columns=[c for c in cols if c in base.columns])
            return pd.concat([t.reset_index(drop=True), pd.DataFrame(cols)], axis=1)

        before = table(self.base_areas, None)
        after_t = table(after if after is not None else self.base_areas, venue_counts)
        key = "__typology_id"
        both = pd.concat([before.assign(**{key: before["id"].astype(str) + "\x00before"}),
                          after_t.assign(**{key: after_t["id"].astype(str) + "\x00after"})], ignore_index=True)
        ty = typology(both.drop(columns=["id"]), config=self.typology_config,
                      priority_areas=[f"{a}\x00{s}" for a in self.priority_areas for s in ("before", "after")],
                      area_id=key, stability=False)  # the classes only: a click needs no stability check
        cls = ty["class"].astype(str).to_numpy(dtype=object)
        return cls[:n], cls[n:]

    def _counts_columns(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        """The venue counts as area columns (``venues``, ``venues_<cat>`` and per 10,000 inhabitants)."""
        pop = (self.data.areas["population"].to_numpy(float) if "population" in self.data.areas.columns
               else self.area_population)
        out = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            for j, c in enumerate(["", *self.categories]):
                name = f"venues_{c}" if c else "venues"
                out[name] = counts[:, j]
                out[name.replace("venues", "venues_per_10k", 1)] = np.where(pop > 0, counts[:, j] / pop * 1e4, np.nan)
        return out

    def _venue_counts(self, req: ScenarioRequest) -> np.ndarray:
        """Venues per area (column 0: all, then per category) after the scenario's venue edits."""
        n = len(self.area_ids)
        cats = {c: j + 1 for j, c in enumerate(self.categories)}
        counts = np.zeros((n, 1 + len(self.categories)))
        v = self.data.venues
        keep = ~v["id"].astype(str).isin(set(req.remove_venues)).to_numpy()
        a = self.venue_area[keep]
        cc = v["category"].astype(str).to_numpy()[keep]
        for ai, c in zip(a, cc):
            if ai >= 0:
                counts[ai, 0] += 1
                counts[ai, cats[c]] += 1
        if req.add_venues:
            aa = self._area_of(np.array([x.lon for x in req.add_venues]), np.array([x.lat for x in req.add_venues]))
            for ai, x in zip(aa, req.add_venues):
                if ai >= 0:
                    counts[ai, 0] += 1
                    counts[ai, cats[x.category]] += 1
        return counts

    # ------------------------------------------------------------------ sessions
    def new_session_id(self) -> str:
        return uuid.uuid4().hex

    def session(self, sid: str | None) -> Session:
        """The session ``sid`` (created when new; the least recently used is dropped beyond MAX_SESSIONS)."""
        if not sid or not isinstance(sid, str) or len(sid) > 64 or not sid.replace("-", "").isalnum():
            raise RequestError("the session id (cookie `access_session` or header `X-Session-Id`) must be 1-64 "
                               "letters, digits or dashes")
        with self._sessions_lock:
            s = self._sessions.get(sid)
            if s is None:
                s = Session(sid, self.base.copy())
                self._sessions[sid] = s
                while len(self._sessions) > MAX_SESSIONS:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(sid)
            s.last_used = time.monotonic()
            return s

    def parse(self, body: Any) -> ScenarioRequest:
        return parse_request(body, categories=self.categories, base_ids=self.base_ids, bbox=self.bbox)

    def _closure_scenario(self, polygon, name: str = "streets closed in access serve"):
        from ..scenarios import Scenario

        graph_mode = "walk" if self.data.mode == "transit" else self.data.mode
        return Scenario.from_dict({"name": name, "streets": {"close": [
            {"name": "closed by polygon", "polygon": [list(p) for p in polygon], "modes": [graph_mode]}]}})

    def _closure_state(self, polygon):
        st = self._closures.get(polygon)
        if st is None:
            st = self.base.apply(self._closure_scenario(polygon))
            self._closures[polygon] = st
            while len(self._closures) > CLOSURE_CACHE:
                self._closures.popitem(last=False)
        self._closures.move_to_end(polygon)
        return st

    def _reach(self, s: Session, req: ScenarioRequest) -> dict:
        """Bring the session's state to ``req`` with as little work as possible; returns what was done."""
        done = {"searches": 0, "venues_added": 0, "venues_removed": 0, "closure_recomputed": False}
        if req.polygon != s.polygon or s.slots_used > 4 * MAX_EDITS:
            s.state = (self._closure_state(req.polygon) if req.polygon is not None else self.base).copy()
            done["closure_recomputed"] = req.polygon != s.polygon
            s.polygon, s.adds, s.removes, s.slots_used = req.polygon, {}, set(), 0
        st = s.state
        want_adds = {a.id: a for a in req.add_venues}
        want_rem = set(req.remove_venues)
        vt = self.data.venues.set_index(self.data.venues["id"].astype(str))
        for vid, a in list(s.adds.items()):  # added venues no longer wanted (or moved)
            if want_adds.get(vid) != a:
                st.remove_venue(vid)
                del s.adds[vid]
                done["venues_removed"] += 1
        for vid in sorted(s.removes - want_rem):  # base venues back
            r = vt.loc[vid]
            self._add(s, vid, float(r["lon"]), float(r["lat"]), str(r["category"]), 1.0, done)
            s.removes.discard(vid)
        for vid in sorted(want_rem - s.removes):
            st.remove_venue(vid)
            s.removes.add(vid)
            done["venues_removed"] += 1
        for a in req.add_venues:
            if a.id not in s.adds:
                self._add(s, a.id, a.lon, a.lat, a.category, a.capacity, done)
                s.adds[a.id] = a
        s.request = req
        return done

    def _add(self, s: Session, vid: str, lon: float, lat: float, cat: str, cap: float, done: dict) -> None:
        key = (s.polygon, lon, lat)
        col = s.columns.get(key)
        if col is None:
            from .._errors import NetworkError

            try:
                col = s.state.column(lon, lat)
            except NetworkError as e:
                raise RequestError(f"venue {vid!r} at ({lon:.5f}, {lat:.5f}) is off the {self.data.mode} network: "
                                   f"{e}") from None
            done["searches"] += 1
            if len(s.columns) > 4 * MAX_EDITS:
                s.columns.clear()
            s.columns[key] = col
        s.state.add_venue(vid, lon, lat, category=cat, capacity=cap, column=col)
        s.slots_used += 1
        done["venues_added"] += 1

    # ------------------------------------------------------------------ the answer
    def evaluate(self, sid: str, req: ScenarioRequest, *, indicator_category: str = "any") -> dict:
        """Apply ``req`` to session ``sid`` and return per-area before/after/delta (the API's JSON answer).

        ``cells`` holds the changed cells' delta of ``time_<indicator_category>`` (minutes; negative = closer; null
        where the cell gains or loses all access within the maximum time: ids in ``access_gained``/``access_lost``).
        """
        if indicator_category not in self.cats:
            raise RequestError(f"`category` = {indicator_category!r} is not one of {self.cats}")
        t0 = time.perf_counter()
        s = self.session(sid)
        with s.lock, self._compute_lock:
            done = self._reach(s, req)
            t_state = time.perf_counter() - t0
            times = self._times(s.state)
        after = self._aggregate(times)
        changed_cell = np.zeros(len(self.cell_ids), bool)
        for c in self.cats:
            b, a = self.base_times[c], times[c]
            with np.errstate(invalid="ignore"):
                changed_cell |= ~((a == b) | (np.abs(a - b) <= EPS))
        pop_aff = self._W @ changed_cell.astype(float)
        counts = self._venue_counts(req)
        cls_b, cls_a = self._classes(after, counts)
        names = self.indicator_names()
        areas = []
        for i, aid in enumerate(self.area_ids):
            ind = {}
            for k in names:
                bv, av = float(self.base_areas[k][i]), float(after[k][i])
                d = 0.0 if (bv == av or (math.isnan(bv) and math.isnan(av))) else av - bv
                ind[k] = {"before": _f(bv), "after": _f(av), "delta": _f(d)}
            ch = any(abs(v["delta"] or 0) > EPS for v in ind.values()) or cls_b[i] != cls_a[i] or pop_aff[i] > 0
            areas.append({"id": str(aid), "name": str(self.area_names[i]), "population": _f(self.area_population[i]),
                          "changed": bool(ch), "class_before": str(cls_b[i]), "class_after": str(cls_a[i]),
                          "class_changed": bool(cls_b[i] != cls_a[i]), "population_affected": _f(pop_aff[i]),
                          "indicators": ind})
        tc = times[indicator_category]
        bc = self.base_times[indicator_category]
        with np.errstate(invalid="ignore"):
            dc = np.where(tc == bc, 0.0, tc - bc)
        idx = np.flatnonzero(changed_cell)
        return {"session": s.id, "mode": self.data.mode, "scenario": req.to_dict(),
                "areas": areas,
                "changed_areas": [a["id"] for a in areas if a["changed"]],
                "cells": {"changed": len(idx), "population_affected": _f(self.population[idx].sum()),
                          "indicator": f"time_{indicator_category}",
                          "delta_min": {str(self.cell_ids[i]): _f(dc[i]) for i in idx},
                          "access_lost": [str(self.cell_ids[i]) for i in idx if dc[i] == np.inf],
                          "access_gained": [str(self.cell_ids[i]) for i in idx if dc[i] == -np.inf]},
                "work": done, "state_ms": round(t_state * 1e3, 2),
                "elapsed_ms": round((time.perf_counter() - t0) * 1e3, 2)}

    def base_areas_json(self) -> dict:
        """``GET /api/areas``: the base indicators per area."""
        names = self.indicator_names()
        return {"mode": self.data.mode, "max_time_min": self.data.max_time_min, "categories": self.categories,
                "indicators": names,
                "areas": [{"id": str(aid), "name": str(self.area_names[i]),
                           "population": _f(self.area_population[i]), "class": str(self.base_class[i]),
                           "indicators": {k: _f(self.base_areas[k][i]) for k in names}}
                          for i, aid in enumerate(self.area_ids)]}

    def venues_json(self) -> list[dict]:
        v = self.data.venues
        return [{"id": str(r.id), "name": str(r.name), "category": str(r.category), "lon": float(lon),
                 "lat": float(lat)} for r, lon, lat in zip(v.itertuples(index=False), v["lon"].to_numpy(float),
                                                           v["lat"].to_numpy(float))]

    # ------------------------------------------------------------------ exports
    def scenario_toml(self, req: ScenarioRequest, name: str = "access serve scenario") -> str:
        """The scenario in the TOML format of ``docs/scenarios.md`` (read back by ``Scenario.from_file``)."""
        lines = [f"name = {_q(name)}", f"description = {_q('exported by access serve (mode ' + self.data.mode + ')')}",
                 ""]
        if req.polygon is not None:
            graph_mode = "walk" if self.data.mode == "transit" else self.data.mode
            ring = ", ".join(f"[{lon!r}, {lat!r}]" for lon, lat in req.polygon)
            lines += ["[[streets.close]]", f"name = {_q('closed by polygon')}", f"polygon = [{ring}]",
                      f"modes = [{_q(graph_mode)}]", ""]
        if req.remove_venues:
            lines += ["[[venues.remove]]", f"name = {_q('removed venues')}",
                      "ids = [" + ", ".join(_q(v) for v in req.remove_venues) + "]", ""]
        for a in req.add_venues:
            lines += ["[[venues.add]]", f"name = {_q('new ' + a.category + ' ' + a.id)}", f"id = {_q(a.id)}",
                      f"lon = {a.lon!r}", f"lat = {a.lat!r}", f"category = {_q(a.category)}",
                      f"capacity = {a.capacity!r}", ""]
        return "\n".join(lines)

    def write_comparison(self, sid: str, req: ScenarioRequest, out_dir) -> list:
        """The comparison as ``access scenario compare --no-maps`` writes it (cells, summary, areas.gpkg, typology
        changes) for the scenario ``req`` of session ``sid``."""
        from ..scenarios import compare

        s = self.session(sid)
        with s.lock, self._compute_lock:
            self._reach(s, req)
            after = s.state.copy()
        ar = self.data.areas
        keep = ["id", *[c for c in PROFILE_COLUMNS if c in ar.columns], ar.geometry.name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
            cmp = compare(self.base, after, areas=ar[keep], area_id="id", population="population")
            return cmp.write(out_dir, maps=False)


def _f(x) -> float | None:
    """JSON number: None for NaN, and +-inf kept as None too (JSON has no inf)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _q(s: str) -> str:
    """A TOML basic string."""
    import json

    return json.dumps(str(s), ensure_ascii=False)
