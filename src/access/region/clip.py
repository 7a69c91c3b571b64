"""The region of a recipe and the clipping of every input to it, before any matrix.

A recipe's ``[region]`` names ``departments`` (INSEE codes) and/or ``epci`` (SIREN codes). The region's areas are
the EPCI listed, plus every EPCI with at least one commune in one of the departments (from a ``communes`` source:
geo.api.gouv.fr's JSON or a COG-style CSV). An EPCI that also has communes outside those departments (two of
Hauts-de-France's straddle Normandie) keeps its whole polygon and is flagged ``straddles_region``.

:func:`clip_to_region` then keeps

- the areas of the region only (so every standardisation of the typology runs over them),
- the population cells whose centre lies inside one of those areas,
- the venues inside the region grown by ``venue_buffer_km``, with ``in_region`` False beyond the border (they count
  for access, not for the region's supply).

With no region (neither departments nor EPCI) nothing is clipped: the whole of the files (France) is used.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import InputFileError, ValidationError

__all__ = ["RegionSelection", "clip_to_region", "read_communes", "region_epci"]

#: metric CRS for buffers and areas in metropolitan France (Lambert-93)
METRIC_CRS = 2154


def read_communes(path) -> pd.DataFrame:
    """Commune -> department, EPCI (and population) membership.

    Parameters
    ----------
    path : path-like
        geo.api.gouv.fr's JSON (a list of ``{"code", "nom", "codeDepartement", "codeEpci", "population"}``) or a
        CSV with ``code_commune``/``code``, ``dep``/``codeDepartement`` and ``epci_code``/``codeEpci`` columns
        (the COG 2026 table of ``../shared/data/hauts_de_france/communes_epci_2026.csv`` has this shape).

    Returns
    -------
    pandas.DataFrame
        ``commune, department, epci, population`` (strings; population float, NaN when absent).
    """
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        raise InputFileError(f"communes file {str(p)!r} is missing or empty; run `access fetch` or fix the path")
    where = f"communes file {str(p)!r}"
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputFileError(f"{where} is not JSON ({e}); download it again") from None
        if not isinstance(data, list):
            raise ValidationError(f"{where}: expected a JSON list of communes (geo.api.gouv.fr /communes), got "
                                  f"{type(data).__name__}")
        df = pd.DataFrame(data)
    else:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    low = {re.sub(r"[^a-z]", "", c.lower()): c for c in df.columns}

    def col(*names):
        for n in names:
            if n in low:
                return low[n]
        return None

    c_com, c_dep, c_epci = col("codecommune", "code", "codgeo"), col("dep", "codedepartement", "departement"), \
        col("epcicode", "codeepci", "epci", "sirenepci")
    c_pop = col("population", "pmun", "pop")
    missing = [n for n, c in (("code_commune (or code)", c_com), ("dep (or codeDepartement)", c_dep),
                              ("epci_code (or codeEpci)", c_epci)) if c is None]
    if missing:
        raise ValidationError(f"{where}: missing column(s) {missing}; expected geo.api.gouv.fr's /communes JSON "
                              f"(fields code,codeDepartement,codeEpci,population) or a COG CSV. Found: "
                              f"{list(df.columns)[:12]}")
    out = pd.DataFrame({"commune": df[c_com].astype("string").str.strip(),
                        "department": df[c_dep].astype("string").str.strip(),
                        "epci": df[c_epci].astype("string").str.strip(),
                        "population": pd.to_numeric(df[c_pop], errors="coerce") if c_pop else np.nan})
    return out


class RegionSelection:
    """The region's EPCI codes and the ones that straddle its border (see :func:`region_epci`)."""

    def __init__(self, codes: list[str], straddling: list[str], departments: tuple[str, ...]):
        self.codes = sorted(codes)
        self.straddling = sorted(straddling)
        self.departments = departments

    def __repr__(self) -> str:
        return f"RegionSelection({len(self.codes)} EPCI, straddling {self.straddling})"


def region_epci(recipe, communes: pd.DataFrame | None) -> RegionSelection | None:
    """The EPCI of a recipe's region, or None when the recipe names no region (no clipping).

    EPCI named in ``region.epci`` plus every EPCI with a commune in ``region.departments``; those of them with a
    commune in another department are the straddling ones (only knowable from a national communes file)."""
    if not recipe.has_region:
        return None
    codes = set(recipe.epci)
    straddling: set[str] = set()
    if recipe.departments:
        if communes is None:
            raise ValidationError("`region.departments` needs a communes source (kind = \"communes\") to know which "
                                  "EPCI lie in those departments")
        deps = set(recipe.departments)
        c = communes.dropna(subset=["epci"])
        inside = c["department"].isin(deps)
        codes |= set(c.loc[inside, "epci"])
        if not inside.any():
            raise ValidationError(f"the communes file has no commune in departments {sorted(deps)}; check "
                                  "`region.departments` (INSEE codes such as \"59\") and the communes source")
        ours = c[c["epci"].isin(codes)]
        straddling = set(ours.loc[~ours["department"].isin(deps), "epci"])
    return RegionSelection(sorted(codes), sorted(straddling), tuple(recipe.departments))


def clip_to_region(cells, venues, areas, selection: RegionSelection | None, *, venue_buffer_km: float, log=None):
    """Clip cells, venues and areas to the region (see the module docstring).

    Parameters
    ----------
    cells, venues, areas : GeoDataFrame
        EPSG:4326 (cells and venues as points, areas as polygons with an ``id``).
    selection : RegionSelection or None
        None: no clipping; every venue gets ``in_region`` True and every area ``straddles_region`` False.
    venue_buffer_km : float
        Venues up to this distance outside the region are kept with ``in_region`` False.

    Returns
    -------
    (cells, venues, areas) : tuple of GeoDataFrame
    """
    import geopandas as gpd

    say = log or (lambda m: None)
    if selection is None:
        venues = venues.assign(in_region=True)
        areas = areas.assign(straddles_region=False)
        return cells, venues, areas
    have = set(areas["id"].astype(str))
    absent = [c for c in selection.codes if c not in have]
    if absent:
        raise ValidationError(f"the region's EPCI {absent[:8]}{' ...' if len(absent) > 8 else ''} ({len(absent)} of "
                              f"{len(selection.codes)}) are not in the EPCI polygons file; use an EPCI file of the "
                              "same COG year as the communes file, or fix `region.epci`")
    n_all = len(areas)
    areas = areas[areas["id"].astype(str).isin(selection.codes)].copy().reset_index(drop=True)
    areas["straddles_region"] = areas["id"].astype(str).isin(selection.straddling)
    region = areas.to_crs(METRIC_CRS).geometry.union_all()
    # cells: centre inside one of the region's EPCI
    cpts = gpd.GeoSeries(cells.geometry, crs=cells.crs).to_crs(METRIC_CRS)
    keep_c = _within(cpts, region)
    # venues: inside the region grown by the buffer; in_region flags those inside
    vpts = gpd.GeoSeries(venues.geometry, crs=venues.crs).to_crs(METRIC_CRS)
    inside = _within(vpts, region)
    near = inside | _within(vpts, region.buffer(venue_buffer_km * 1000.0)) if venue_buffer_km > 0 else inside
    out_c = cells[keep_c].reset_index(drop=True)
    out_v = venues[near].copy().reset_index(drop=True)
    out_v["in_region"] = inside[near]
    say(f"region: {len(areas)} of {n_all} EPCI ({len(selection.straddling)} straddling the border: "
        f"{selection.straddling}); {len(out_c):,} of {len(cells):,} cells inside; {int(inside.sum()):,} venues inside "
        f"and {int((near & ~inside).sum()):,} within {venue_buffer_km:g} km beyond the border (access only), "
        f"{int((~near).sum()):,} farther dropped")
    return out_c, out_v, areas


def _within(points, polygon) -> np.ndarray:
    import shapely

    shapely.prepare(polygon)
    return np.asarray(shapely.intersects_xy(polygon, points.x.to_numpy(), points.y.to_numpy()), dtype=bool)
