"""What ``access serve`` reads from the folder of an ``access run`` / ``access demo``, and the base state it builds.

The app changes nothing in the run folder and needs nothing the pipeline does not already keep:

============================== ======================================================================================
``work/state.json``            the run's settings: per mode ``max_time_min`` (and the transit departure, window and
                               percentiles), the thresholds, the key of the network bundle (optional: defaults below)
``cache/network/<key>/``       the network bundle the matrices were computed on (or ``network/``, or the only bundle
                               under ``cache/network/``)
``work/cells.parquet``         population cells (``id``, ``population``, point geometry, EPSG:4326)
``work/venues.parquet``        venues (``id``, ``category``, ``name``, point geometry)
``work/epci.parquet``          the area table of the run (indicators, profile, typology ``class``); without it,
                               ``work/areas.parquet`` (``id``, ``name``, polygons)
============================== ======================================================================================

The base :class:`~access.scenarios.AccessibilityState` is rebuilt from these at start-up (one matrix cells x venues
for the served mode: about a second on the demo), rather than stored by the pipeline: the run folder stays as it
is and the state always matches the code that serves it.
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputFileError, ValidationError

#: thresholds (minutes) of the "share of the population beyond T" indicators shown by the app
SHARE_THRESHOLDS_MIN = (15.0, 30.0)
#: socio-economic columns of the area table kept for the typology
PROFILE_COLUMNS = ("poverty_rate", "median_income", "share_elderly", "density", "area_km2")


@dataclass
class RunData:
    """The inputs of the app: network, cells, venues, areas and the run's settings for one mode."""

    out_dir: Path
    mode: str
    network: Any
    cells: Any  # GeoDataFrame: id (str), population, point geometry
    venues: pd.DataFrame  # id (str), lon, lat, category, name
    areas: Any  # GeoDataFrame: id (str), name, polygons + the run's area columns (class, ...)
    max_time_min: float
    thresholds_min: tuple = (10.0, 20.0, 30.0, 45.0)
    transit: dict = field(default_factory=dict)
    modes_available: tuple = ()

    @property
    def categories(self) -> list[str]:
        """The venue categories of the run (those a new venue may take)."""
        return sorted(self.venues["category"].astype(str).unique().tolist())

    def build_state(self, *, progress: bool = False):
        """The base :class:`~access.scenarios.AccessibilityState` (one matrix cells x venues for :attr:`mode`)."""
        from ..scenarios import AccessibilityState

        venues = self.venues[["id", "lon", "lat", "category"]].assign(capacity=1.0)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*farther than.*")
            return AccessibilityState.build(self.network, self.cells[["id", "population", "geometry"]], venues,
                                            mode=self.mode, max_time_min=self.max_time_min,
                                            cutoffs_min=SHARE_THRESHOLDS_MIN, progress=progress, **self.transit)


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"{str(path)!r} is not valid JSON ({e}); re-run `access run` on this folder") from None


def _network_dir(out: Path, key: str | None) -> Path:
    cands = []
    if key:
        cands.append(out / "cache" / "network" / key)
    cands.append(out / "network")
    for c in cands:
        if (c / "manifest.json").exists():
            return c
    root = out / "cache" / "network"
    found = sorted(p.parent for p in root.glob("*/manifest.json")) if root.exists() else []
    if len(found) == 1:
        return found[0]
    raise InputFileError(f"no network bundle in {str(out)!r} (looked for cache/network/<key>/manifest.json and "
                         f"network/manifest.json{'; found several: ' + str([p.name for p in found]) if found else ''}"
                         "); serve the folder of a finished `access run` or `access demo`")


def _read_geo(path: Path, what: str):
    import geopandas as gpd

    if not path.exists():
        raise InputFileError(f"{what} {str(path)!r} is missing; serve the folder of a finished `access run` or "
                             "`access demo` (it writes work/cells.parquet, work/venues.parquet, work/epci.parquet)")
    g = gpd.read_parquet(path)
    if "id" not in g.columns:
        raise InputFileError(f"{what} {str(path)!r} has no 'id' column")
    g = g.to_crs(4326) if g.crs is not None and g.crs.to_epsg() != 4326 else g
    g["id"] = g["id"].astype(str).to_numpy(dtype=object)
    return g


def load_run(out_dir, *, mode: str = "car") -> RunData:
    """Read what the app needs from a run folder (see the module docstring).

    Raises
    ------
    InputFileError
        A file the app needs is missing or unreadable.
    ValidationError
        ``mode`` was not computed by the run.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise InputFileError(f"run folder {str(out)!r} does not exist; run `access demo --out {out}` or "
                             f"`access run RECIPE --out {out}` first")
    work = out / "work"
    steps = _read_json(work / "state.json").get("steps", {})
    modes = tuple(k.removeprefix("matrix_") for k in steps if k.startswith("matrix_"))
    if mode not in ("walk", "bike", "car", "transit"):
        raise ValidationError(f"`--mode` must be one of walk, bike, car, transit, got {mode!r}")
    if modes and mode not in modes:
        raise ValidationError(f"the run in {str(out)!r} has no {mode} matrix; choose `--mode` among {list(modes)}")
    mat = steps.get(f"matrix_{mode}", {})
    settings = mat.get("settings", {})
    net_dir = _network_dir(out, mat.get("parts", {}).get("network"))
    from ..network.bundle import TransportNetwork

    network = TransportNetwork.load(net_dir)
    if mode == "transit" and network.timetable is None:
        raise ValidationError(f"the network bundle {str(net_dir)!r} has no timetable; serve another `--mode`")
    cells = _read_geo(work / "cells.parquet", "cells")
    if "population" not in cells.columns:
        cells["population"] = 1.0
    cells["population"] = pd.to_numeric(cells["population"], errors="coerce").fillna(0.0).astype(float)
    v = _read_geo(work / "venues.parquet", "venues")
    venues = pd.DataFrame({"id": v["id"].to_numpy(dtype=object), "lon": v.geometry.x.to_numpy(float),
                           "lat": v.geometry.y.to_numpy(float),
                           "category": (v["category"].astype(str) if "category" in v else "all").to_numpy(
                               dtype=object),
                           "name": (v["name"].astype(str) if "name" in v else v["id"]).to_numpy(dtype=object)})
    areas_path = work / "epci.parquet"
    areas = _read_geo(areas_path if areas_path.exists() else work / "areas.parquet", "areas")
    if "name" not in areas.columns:
        areas["name"] = areas["id"]
    transit: dict = {}
    if mode == "transit":
        if "departure" in settings:
            transit["departure"] = _dt.datetime.fromisoformat(settings["departure"])
        for k in ("window_min", "percentiles"):
            if k in settings:
                transit[k] = tuple(settings[k]) if k == "percentiles" else settings[k]
    thr = steps.get("indicators", {}).get("parts", {}).get("thresholds") or (10, 20, 30, 45)
    return RunData(out_dir=out, mode=mode, network=network, cells=cells, venues=venues, areas=areas,
                   max_time_min=float(settings.get("max_time_min", 60)),
                   thresholds_min=tuple(float(t) for t in thr), transit=transit,
                   modes_available=modes or (mode,))


def area_links(cells, areas) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(area index, cell index, weight) of every cell-area link (:func:`access.indicators.attach_cells`)."""
    from ..indicators import attach_cells

    links = attach_cells(cells[["id", "geometry"]], areas[["id", "geometry"]])
    ci = pd.Index(cells["id"]).get_indexer(links.iloc[:, 0])
    ai = pd.Index(areas["id"]).get_indexer(links.iloc[:, 1])
    ok = (ci >= 0) & (ai >= 0)
    return ai[ok], ci[ok], links["weight"].to_numpy(float)[ok]
