"""Venue edits on a venue table (``id, lon, lat[, category][, capacity]``): add, remove, modify."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._errors import ValidationError


def normalise_venues(venues, *, capacity: str = "capacity", category: str = "category") -> pd.DataFrame:
    """A plain DataFrame ``id, lon, lat, category, capacity`` (category "all", capacity 1 where absent)."""
    from ..io.places import read_points

    pts = read_points(venues, name="venues")  # ids unique and present, coordinates valid, CRS converted
    fr = pts.frame
    assert fr is not None  # (read_points keeps the table)
    df = pd.DataFrame({"id": pts.ids, "lon": pts.lon, "lat": pts.lat})
    df["category"] = fr[category].to_numpy() if category in fr.columns else "all"
    df["capacity"] = fr[capacity].to_numpy() if capacity in fr.columns else 1.0
    df["capacity"] = pd.to_numeric(df["capacity"], errors="coerce").astype(np.float64)
    bad = ~np.isfinite(df["capacity"].to_numpy()) | (df["capacity"].to_numpy() < 0)
    if bad.any():
        raise ValidationError(f"`venues` column {capacity!r} must be numbers >= 0; bad rows ids "
                              f"{df['id'][bad].tolist()[:5]!r}")
    df["category"] = df["category"].fillna("all").astype(str)
    return df.reset_index(drop=True)


def apply_venue_edits(venues, edits) -> pd.DataFrame:
    """Apply ``venues.*`` edits to a venue table; errors name the edit and the unknown/duplicate id."""
    df = normalise_venues(venues)
    for e in edits:
        p = e.params
        ids = df["id"].to_numpy()
        if e.kind == "add":
            if (ids == p["id"]).any() or (ids.astype(str) == str(p["id"])).any():
                raise e.error(f"venue id {p['id']!r} already exists; give the new venue a unique `id`")
            row = {"id": p["id"], "lon": p["lon"], "lat": p["lat"],
                   "category": str(p["category"]) if p.get("category") is not None else "all",
                   "capacity": 1.0 if p.get("capacity") is None else float(p["capacity"])}
            df = pd.concat([df, pd.DataFrame([row])], ignore_index=True)
            continue
        rows = []
        for vid in p["ids"]:
            hit = np.flatnonzero((ids == vid) | (ids.astype(str) == str(vid)))
            if not len(hit):
                raise e.error(f"venue id {vid!r} does not exist (venues have ids like {ids[:3].tolist()!r})")
            rows.append(int(hit[0]))
        if e.kind == "remove":
            df = df.drop(index=df.index[rows]).reset_index(drop=True)
        else:
            if "capacity" in p:
                df.loc[df.index[rows], "capacity"] = float(p["capacity"])
            if "capacity_factor" in p:
                df.loc[df.index[rows], "capacity"] = df.loc[df.index[rows], "capacity"] * float(p["capacity_factor"])
            if "category" in p:
                df.loc[df.index[rows], "category"] = str(p["category"])
    return df
