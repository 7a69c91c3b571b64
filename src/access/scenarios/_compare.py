"""Before/after comparisons of accessibility: per cell, per area, typology classes that changed, delta maps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import ValidationError


def _cell_table(x, name: str) -> pd.DataFrame:
    from ._state import AccessibilityState

    if isinstance(x, AccessibilityState):
        return x.indicators()
    if isinstance(x, pd.DataFrame):
        if "id" not in x.columns:
            raise ValidationError(f"`{name}` has no 'id' column (columns: {list(x.columns)[:10]})")
        if x["id"].duplicated().any():
            raise ValidationError(f"`{name}` has duplicate ids, e.g. {x['id'][x['id'].duplicated()].iloc[0]!r}")
        return x
    raise ValidationError(f"`{name}` must be an AccessibilityState or a per-cell DataFrame with 'id', "
                          f"not {type(x).__name__}")


def _cell_geometry(x, cells):
    import geopandas as gpd

    from ._state import AccessibilityState

    if cells is not None:
        if not isinstance(cells, gpd.GeoDataFrame):
            from ..io.places import read_points

            p = read_points(cells, name="cells")
            return gpd.GeoDataFrame({"id": p.ids}, geometry=gpd.points_from_xy(p.lon, p.lat), crs=4326)
        return cells
    if isinstance(x, AccessibilityState):
        fr = x.cells.frame
        if isinstance(fr, gpd.GeoDataFrame) and fr.geometry.name in fr.columns:
            return gpd.GeoDataFrame({"id": x.cells.ids}, geometry=fr.geometry.values, crs=fr.crs)
        return gpd.GeoDataFrame({"id": x.cells.ids}, geometry=gpd.points_from_xy(x.cells.lon, x.cells.lat), crs=4326)
    return None


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    cells : DataFrame
        ``id, population`` and per measure ``<m>_before, <m>_after, <m>_delta`` (after minus before; for ``time_*``
        columns, minutes: negative = closer; ``inf`` where a cell gains or loses all access).
    areas : GeoDataFrame or None
        The same per area (``access.indicators.aggregate`` columns: population-weighted means, shares...).
    typology : DataFrame or None
        Per area ``class_before, class_after, changed`` (both computed on one z-scale, see :func:`compare`).
    measures : list of str
    """

    cells: pd.DataFrame
    measures: list
    areas: pd.DataFrame | None = None
    typology: pd.DataFrame | None = None
    cell_geometry: Any = None  # GeoDataFrame (id, geometry) or None
    notes: list = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """Per measure: population-weighted means before/after/delta (over cells finite both times), and the cells
        and people better or worse off (for ``time_*``, lower is better and gaining any access counts as better)."""
        p = self.cells["population"].to_numpy(float) if "population" in self.cells else np.ones(len(self.cells))
        rows = []
        for m in self.measures:
            b, a = self.cells[f"{m}_before"].to_numpy(float), self.cells[f"{m}_after"].to_numpy(float)
            is_time = m.startswith("time")
            ok = np.isfinite(b) & np.isfinite(a)
            w = p[ok]
            sw = w.sum() if w.sum() > 0 else np.nan
            with np.errstate(invalid="ignore"):
                d = a - b
            gain = -d if is_time else d
            better = np.nan_to_num(gain, nan=0.0) > 1e-12
            worse = np.nan_to_num(gain, nan=0.0) < -1e-12
            rows.append(dict(measure=m, mean_before=np.sum(w * b[ok]) / sw, mean_after=np.sum(w * a[ok]) / sw,
                             mean_delta=np.sum(w * d[ok]) / sw, cells_better=int(better.sum()),
                             cells_worse=int(worse.sum()), population_better=float(p[better].sum()),
                             population_worse=float(p[worse].sum())))
        return pd.DataFrame(rows)

    def _map_frame(self, measure: str | None):
        import geopandas as gpd

        m = measure or self.measures[0]
        if m not in self.measures:
            raise ValidationError(f"no measure {m!r}; choose one of {self.measures}")
        if self.areas is not None and f"{m}_delta" in self.areas.columns:
            return self.areas, m
        if self.cell_geometry is None:
            raise ValidationError("no geometry to map: give `cells` (GeoDataFrame or points) or `areas` to compare()")
        g = self.cell_geometry[["id", self.cell_geometry.geometry.name]].merge(self.cells, on="id", how="inner")
        return gpd.GeoDataFrame(g, geometry=self.cell_geometry.geometry.name, crs=self.cell_geometry.crs), m

    def to_png(self, path, measure: str | None = None) -> Path:
        """A PNG map of ``<measure>_delta`` (areas when given, else cells)."""
        from ..report.maps import choropleth_png

        g, m = self._map_frame(measure)
        # title, unit and the diverging scale centred on 0 (exact zeros grey) come from access.report.style
        return choropleth_png(g, f"{m}_delta", path)

    def to_html(self, path, measure: str | None = None) -> Path:
        """A self-contained interactive HTML map of delta/before/after of ``measure`` (layers with a switch)."""
        from ..report.interactive import interactive_map

        g, m = self._map_frame(measure)
        cols = [c for c in (f"{m}_delta", f"{m}_before", f"{m}_after") if c in g.columns]
        return interactive_map(g, path, layers=cols, id_column="id", simplify_m=0)

    def write(self, out_dir, *, maps: bool = True, map_measures=None) -> list[Path]:
        """Write ``cells.(parquet|csv)``, ``summary.csv``, ``areas.gpkg``, ``typology_changes.csv`` and, per
        measure (``map_measures``, default all), ``delta_<measure>.png/.html`` into ``out_dir``."""
        from .._io_util import atomic_path
        from ..report.maps import slug
        from ..report.tables import write_geopackage, write_table

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = list(write_table(self.cells, out / "cells"))
        with atomic_path(out / "summary.csv", suffix=".csv") as tmp:
            self.summary().to_csv(tmp, index=False)
        paths.append(out / "summary.csv")
        if self.areas is not None:
            paths.append(write_geopackage(self.areas, out / "areas.gpkg"))
        if self.typology is not None:
            with atomic_path(out / "typology_changes.csv", suffix=".csv") as tmp:
                self.typology.to_csv(tmp, index=False)
            paths.append(out / "typology_changes.csv")
        if maps and (self.cell_geometry is not None or self.areas is not None):
            for m in (self.measures if map_measures is None else map_measures):
                paths.append(self.to_png(out / f"delta_{slug(m)}.png", m))
                paths.append(self.to_html(out / f"delta_{slug(m)}.html", m))
        return paths


def compare(baseline, scenario, *, cells=None, areas=None, area_id: str = "id", population: str = "population",
            measures=None, venues_before=None, venues_after=None, typology_config=None) -> Comparison:
    """Compare accessibility before and after a scenario.

    Parameters
    ----------
    baseline, scenario : AccessibilityState or DataFrame
        Per-cell indicators (``id`` + numeric columns), e.g. ``state.indicators()`` before and after
        ``state.apply(scenario)``.
    cells : GeoDataFrame or points, optional
        Cell geometries for maps and areas (default: the states' cell points).
    areas : GeoDataFrame, optional
        Polygons with ``area_id``: adds per-area tables (:func:`access.indicators.aggregate`, population-weighted)
        and the typology classes before/after (:func:`access.indicators.typology`, with any socio-economic
        columns ``areas`` carries). Both typologies are computed on one table holding the before and the after
        rows, so that z-scores share one scale and a class changes only because accessibility did.
    measures : list of str, optional
        Columns to compare (default: every numeric column both have, except ``population``).
    venues_before, venues_after : GeoDataFrame or table, optional
        Venues, to count them per area (supply score); default: from the states.

    Returns
    -------
    Comparison
        ``.cells``, ``.areas``, ``.typology``, ``.summary()``, ``.to_png()``, ``.to_html()``, ``.write(dir)``.

    Examples
    --------
    >>> after = state.apply(Scenario.from_file("new_library.toml"))  # doctest: +SKIP
    >>> cmp = access.compare(state, after, areas=districts)  # doctest: +SKIP
    >>> cmp.summary()  # doctest: +SKIP
    """
    before_t = _cell_table(baseline, "baseline")
    after_t = _cell_table(scenario, "scenario")
    if measures is None:
        measures = [c for c in before_t.columns if c in after_t.columns and c not in ("id", population)
                    and pd.api.types.is_numeric_dtype(before_t[c])]
    else:
        missing = [m for m in measures if m not in before_t.columns or m not in after_t.columns]
        if missing:
            raise ValidationError(f"measures {missing} are not in both tables")
    if not measures:
        raise ValidationError("the two tables have no numeric indicator column in common")
    b = before_t.set_index("id")
    a = after_t.set_index("id")
    only = b.index.symmetric_difference(a.index)
    if len(only):
        raise ValidationError(f"baseline and scenario cover different cells, e.g. {list(only[:3])!r}; compare "
                              "results computed on the same cells")
    a = a.reindex(b.index)
    out = {"id": b.index.to_numpy()}
    if population in b.columns:
        out["population"] = b[population].to_numpy(float)
    with np.errstate(invalid="ignore"):
        for m in measures:
            bv, av = b[m].to_numpy(float), a[m].to_numpy(float)
            out[f"{m}_before"], out[f"{m}_after"] = bv, av
            d = av - bv
            d[(bv == av)] = 0.0  # inf - inf
            out[f"{m}_delta"] = d
    cells_df = pd.DataFrame(out)
    geom = _cell_geometry(baseline, cells)
    cmp = Comparison(cells_df, list(measures), cell_geometry=geom)
    if areas is not None:
        _compare_areas(cmp, baseline, scenario, before_t, after_t, areas, area_id, population, measures,
                       venues_before, venues_after, typology_config)
    return cmp


def _venue_points(v, state):
    import geopandas as gpd

    from ._state import AccessibilityState

    if v is None and isinstance(state, AccessibilityState):
        v = state.venues()
    if v is None:
        return None
    if isinstance(v, gpd.GeoDataFrame):
        return v
    return gpd.GeoDataFrame(v, geometry=gpd.points_from_xy(v["lon"], v["lat"]), crs=4326)


def _compare_areas(cmp, baseline, scenario, before_t, after_t, areas, area_id, population, measures, vb, va, cfg):
    import geopandas as gpd

    from ..indicators.aggregate import aggregate
    from ..indicators.typology import typology

    if cmp.cell_geometry is None:
        raise ValidationError("per-area comparison needs cell geometries: give `cells`")
    time_cols = [m for m in measures if m.startswith("time")]
    count_cols = [m for m in measures if not m.startswith("time")]
    kw = dict(population=population, area_id=area_id, time_columns=time_cols, count_columns=count_cols)
    vbp, vap = _venue_points(vb, baseline), _venue_points(va, scenario)
    cat = "category" if vbp is not None and "category" in vbp.columns else None
    cols_b = ["id", population, *measures] if population in before_t.columns else ["id", *measures]
    ab = aggregate(before_t[cols_b], cmp.cell_geometry, areas, venues=vbp, venue_category=cat, **kw)
    aa = aggregate(after_t[[c for c in cols_b if c in after_t.columns]], cmp.cell_geometry, areas, venues=vap,
                   venue_category=cat, **kw)
    num = [c for c in ab.columns if c != area_id and c in aa.columns and pd.api.types.is_numeric_dtype(ab[c])]
    ag = ab[[area_id, ab.geometry.name]].copy()
    aa_i = aa.set_index(area_id).reindex(ab[area_id])
    for c in num:
        bv, av = ab[c].to_numpy(float), aa_i[c].to_numpy(float)
        ag[f"{c}_before"], ag[f"{c}_after"] = bv, av
        with np.errstate(invalid="ignore"):
            d = av - bv
        d[bv == av] = 0.0
        ag[f"{c}_delta"] = d
    cmp.areas = gpd.GeoDataFrame(ag, geometry=ab.geometry.name, crs=ab.crs)
    # typology on one z-scale: the before and after rows in one table
    socio = [c for c in areas.columns if c not in (area_id, areas.geometry.name) and c not in ab.columns
             and pd.api.types.is_numeric_dtype(areas[c])]
    extra = areas[[area_id, *socio]].set_index(area_id)
    tb = pd.DataFrame(ab.drop(columns=ab.geometry.name)).join(extra, on=area_id)
    ta = pd.DataFrame(aa.drop(columns=aa.geometry.name)).join(extra, on=area_id)
    key = "__typology_id"
    both = pd.concat([tb.assign(**{key: tb[area_id].astype(str) + "\x00before"}),
                      ta.assign(**{key: ta[area_id].astype(str) + "\x00after"})], ignore_index=True)
    ty = typology(both.drop(columns=[area_id]), config=cfg, area_id=key)
    n = len(tb)
    t = pd.DataFrame({area_id: tb[area_id].to_numpy(), "class_before": ty["class"].to_numpy()[:n],
                      "class_after": ty.set_index(key)["class"].reindex(ta[area_id].astype(str) + "\x00after")
                      .to_numpy()})
    t["changed"] = t["class_before"] != t["class_after"]
    cmp.typology = t
    cmp.notes.append("typology classes computed on the before and after areas together (one z-scale)")
