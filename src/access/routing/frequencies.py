"""Monte-Carlo schedules for ``frequencies.txt`` trips (R5's / r5r's randomized frequency offsets).

The timetable holds frequency-based trips in their deterministic expansion (start, start + headway, ... < end; the
trip ids end in ``@HH:MM:SS``). A Monte-Carlo draw gives each ``frequencies.txt`` entry (not ``exact_times=1``
ones, which are schedules) a random phase ``u`` uniform in ``[0, headway)`` seconds: its trips leave at
``start + u, start + u + headway, ... < end`` (the last one is dropped when it would leave at or after ``end``).
Trips are re-sorted within each pattern and the stops' sorted departures rebuilt, so the kernels see an ordinary
day. Each draw is one random schedule for the whole departure window; ``draws_per_minute`` draws give
``window_min x draws_per_minute`` travel times per pair, reduced by R5's nearest-rank percentiles.

Reproducible: draw ``r`` of seed ``s`` uses ``numpy.random.default_rng([s, r])``. Shifted trips of different
templates sharing a pattern may overtake each other after a draw; the search then boards the first departure,
as R5 does with frequency trips.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import GTFSError
from ..network.transit import DayTimetable, Timetable

__all__ = ["draw_day", "frequency_entries"]

#: departures of dropped trips: never catchable, and far from overflow when a walk is added
_NEVER = np.int32(10**9)


def _read_frequencies(path: str) -> pd.DataFrame:
    p = Path(path)
    try:
        if p.is_dir():
            f = p / "frequencies.txt"
            if not f.exists():
                return pd.DataFrame()
            return pd.read_csv(f, dtype=str, keep_default_na=False)
        with zipfile.ZipFile(p) as z:
            names = [n for n in z.namelist() if n.rsplit("/", 1)[-1] == "frequencies.txt"]
            if not names:
                return pd.DataFrame()
            return pd.read_csv(io.BytesIO(z.read(names[0])), dtype=str, keep_default_na=False)
    except (OSError, zipfile.BadZipFile) as e:
        raise GTFSError(f"{path}: cannot read frequencies.txt for Monte-Carlo schedules ({e}); keep the feed file "
                        "where the network was built, or use frequencies='deterministic'") from None


def frequency_entries(tt: Timetable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every trip of the timetable: its ``frequencies.txt`` entry (-1 when scheduled or ``exact_times=1``)
    and, per entry, ``(end_s, headway_s)``; also each trip's deterministic start. Cached on the timetable.

    Returns ``(trip_entry int32[n_trips], trip_start_s int64[n_trips], entry_end_s int64[n_e],
    entry_headway_s int64[n_e])``.
    """
    cached = tt.__dict__.get("_frequency_entries")
    if cached is not None:
        return cached
    from ..io.gtfs import parse_times

    trip_ids = np.asarray(tt.arrays["trip_id"]).astype(str)
    n = len(trip_ids)
    entry = np.full(n, -1, np.int32)
    start = np.zeros(n, np.int64)
    feeds = tt.meta.get("feeds", [])
    multi = len(feeds) > 1
    rows = []
    for f in feeds:
        fr = _read_frequencies(f["path"])
        if fr.empty:
            continue
        prefix = f"{f['feed_id']}:" if multi else ""
        exact = pd.to_numeric(fr.get("exact_times", pd.Series(["0"] * len(fr))).replace("", "0"),
                              errors="coerce").fillna(0).astype(int).to_numpy()
        rows.append(pd.DataFrame({
            "template": prefix + fr["trip_id"].astype(str),
            "start_s": parse_times(fr["start_time"], file=f"{f['path']}/frequencies.txt", column="start_time"),
            "end_s": parse_times(fr["end_time"], file=f"{f['path']}/frequencies.txt", column="end_time"),
            "headway_s": pd.to_numeric(fr["headway_secs"], errors="coerce").fillna(0).astype(np.int64).to_numpy(),
            "exact": exact}))
    ent = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["template", "start_s", "end_s", "headway_s", "exact"])
    ent = ent[(ent.headway_s > 0) & (ent.exact != 1)].reset_index(drop=True)
    has_at = np.char.find(trip_ids, "@") >= 0
    idx = np.flatnonzero(has_at)
    if len(idx) and len(ent):
        split = [s.rsplit("@", 1) for s in trip_ids[idx]]
        tmpl = np.array([a for a, _ in split])
        st = parse_times(pd.Series([b for _, b in split]), file="trip ids", column="start")
        start[idx] = st
        trips = pd.DataFrame({"i": idx, "template": tmpl, "s": st})
        m = trips.merge(ent.reset_index().rename(columns={"index": "e"}), on="template")
        m = m[(m.s >= m.start_s) & (m.s < m.end_s)]
        entry[m.i.to_numpy()] = m.e.to_numpy()
    out = (entry, start, ent.end_s.to_numpy(np.int64), ent.headway_s.to_numpy(np.int64))
    tt.__dict__["_frequency_entries"] = out
    return out


def draw_day(tt: Timetable, day: DayTimetable, seed: int | None, draw: int) -> DayTimetable:
    """``day`` with the frequency-based trips of one Monte-Carlo draw (see the module docstring)."""
    entry, start, end_s, head_s = frequency_entries(tt)
    if not len(end_s):
        return day
    rng = np.random.default_rng([0 if seed is None else int(seed), int(draw)])
    phase = np.floor(rng.random(len(end_s)) * head_s).astype(np.int64)
    pat_trip = np.asarray(day.pat_trip)
    t_off = np.asarray(day.pat_trip_off)
    n_pat = len(day.pat_ntrips)
    t_arr = np.array(day.t_arr, dtype=np.int64)
    t_dep = np.array(day.t_dep, dtype=np.int64)
    new_trip = pat_trip.copy()
    new_shift = np.asarray(day.pat_trip_shift).copy()
    pso = np.asarray(day.pat_stop_off)
    ptoff = np.asarray(day.pat_time_off)
    changed = False
    ntr = np.diff(t_off).astype(np.int64)  # the layout's trips (route_types masks only pat_ntrips)
    for p in range(n_pat):
        nt = int(ntr[p])
        if nt == 0:
            continue
        g = pat_trip[t_off[p]:t_off[p] + nt]
        e = entry[g]
        if not (e >= 0).any():
            continue
        changed = True
        ns = int(pso[p + 1] - pso[p])
        a = t_arr[ptoff[p]:ptoff[p] + nt * ns].reshape(nt, ns)
        d = t_dep[ptoff[p]:ptoff[p] + nt * ns].reshape(nt, ns)
        u = np.where(e >= 0, phase[np.maximum(e, 0)], 0)
        drop = (e >= 0) & (start[g] + u >= end_s[np.maximum(e, 0)])
        a = np.where(drop[:, None], _NEVER, a + u[:, None])
        d = np.where(drop[:, None], _NEVER, d + u[:, None])
        order = np.lexsort((a[:, -1], d[:, 0]))
        t_arr[ptoff[p]:ptoff[p] + nt * ns] = a[order].ravel()
        t_dep[ptoff[p]:ptoff[p] + nt * ns] = d[order].ravel()
        new_trip[t_off[p]:t_off[p] + nt] = g[order]
        new_shift[t_off[p]:t_off[p] + nt] = new_shift[t_off[p]:t_off[p] + nt][order]
    if not changed:
        return day
    # sorted boardable departures per stop, rebuilt as Timetable.for_date does
    # t_dep is laid out pattern after pattern in pat_time_off order
    order_p = np.argsort(ptoff, kind="stable")
    ent_idx = np.concatenate([np.tile(np.arange(pso[p], pso[p + 1]), ntr[p]) for p in order_p]
                             ) if n_pat else np.zeros(0, np.int64)
    ent_stop = np.asarray(day.pat_stops)[ent_idx]
    board = np.asarray(day.pat_board)[ent_idx].astype(bool)
    dep_all = t_dep[:len(ent_idx)]
    s_, dv = ent_stop[board], dep_all[board]
    keep = dv < _NEVER
    s_, dv = s_[keep], dv[keep]
    o3 = np.lexsort((dv, s_))
    n_stops = len(day.sdep_off) - 1
    sdep_off = np.zeros(n_stops + 1, np.int64)
    np.add.at(sdep_off, s_ + 1, 1)
    return day._replace(t_arr=t_arr.astype(np.int32), t_dep=t_dep.astype(np.int32), pat_trip=new_trip,
                        pat_trip_shift=new_shift, sdep=dv[o3].astype(np.int32), sdep_off=np.cumsum(sdep_off))


def monte_carlo_days(network: Any, day: DayTimetable, seed: int | None, n_draws: int) -> list[DayTimetable]:
    """The ``n_draws`` random days of a query."""
    return [draw_day(network.timetable, day, seed, r) for r in range(int(n_draws))]
