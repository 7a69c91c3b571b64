"""Units shared by every layer: great-circle distances and the seconds -> minutes rule of every public table."""

from __future__ import annotations

import numpy as np

__all__ = ["EARTH_RADIUS_M", "haversine_m", "minutes"]

#: mean Earth radius (IUGG), the one used for every straight-line distance
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (vectorised, degrees in)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def minutes(seconds, *, unreachable: float = np.nan) -> np.ndarray:
    """Seconds (int, ``< 0`` unreachable) as float64 minutes, ``unreachable`` (NaN in matrices, ``inf`` for nearest
    times) where negative."""
    s = np.asarray(seconds)
    out = s.astype(np.float64) / 60.0
    out[s < 0] = unreachable
    return out
