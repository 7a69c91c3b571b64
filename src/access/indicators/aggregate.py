"""Aggregation of per-cell accessibility to areas (e.g. the EPCI intercommunalities), population-weighted.

Cells are attached to areas by point-in-polygon (point cells) or by area-weighted overlay (polygon cells: a cell
split between two areas gives each the share of its population that lies in it, in an equal-area projection).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from .._errors import AccessWarning, ValidationError
from .inequality import weighted_gini, weighted_median, weighted_theil_t

__all__ = ["aggregate", "attach_cells"]

#: equal-area projection used to measure overlaps of polygon cells and areas
EQUAL_AREA_CRS = "EPSG:6933"


def _check_geo(gdf, name: str, id_col: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(f"`{name}` must be a GeoDataFrame with a geometry and an {id_col!r} column, "
                              f"not {type(gdf).__name__}")
    if gdf.crs is None:
        raise ValidationError(f"`{name}` has no CRS; set it (e.g. `{name}.set_crs('EPSG:4326')`) before aggregating")
    if id_col not in gdf.columns:
        raise ValidationError(f"`{name}` has no id column {id_col!r} (columns: {list(gdf.columns)}); pass "
                              f"`{'area_id' if name == 'areas' else 'cell_id'}=` with the right column")
    ids = gdf[id_col]
    if ids.isna().any():
        raise ValidationError(f"`{name}[{id_col!r}]` has {int(ids.isna().sum())} missing id(s); give every "
                              f"feature an id")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValidationError(f"`{name}[{id_col!r}]` has {len(dup)} duplicate id(s), e.g. {_py(dup.iloc[0])!r}")
    if gdf.geometry.isna().any() or gdf.geometry.is_empty.any():
        bad = ids[gdf.geometry.isna() | gdf.geometry.is_empty]
        raise ValidationError(f"`{name}` has {len(bad)} empty geometries, e.g. id {_py(bad.iloc[0])!r}")
    return gdf


def attach_cells(cells: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *, cell_id: str = "id",
                 area_id: str = "id") -> pd.DataFrame:
    """Link cells to areas: a table ``cell_id, area_id, weight`` (weight = share of the cell in the area).

    Point cells get weight 1 in the area that contains them (a point on a shared border goes to the first area).
    Polygon cells are intersected with the areas in an equal-area projection; the weights of a cell add up to the
    share of its surface covered by areas (1 when fully inside).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> areas = gpd.GeoDataFrame({"id": ["A", "B"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)
    >>> cells = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[Point(0.5, 0.5), Point(1.5, 0.5)], crs=4326)
    >>> attach_cells(cells, areas).values.tolist()
    [[1, 'A', 1.0], [2, 'B', 1.0]]
    """
    _check_geo(cells, "cells", cell_id)
    _check_geo(areas, "areas", area_id)
    c = cells[[cell_id, cells.geometry.name]].rename(columns={cell_id: "_cell"}).to_crs(areas.crs)
    a = areas[[area_id, areas.geometry.name]].rename(columns={area_id: "_area"})
    geom_types = set(c.geom_type.unique())
    if geom_types <= {"Point"}:
        j = gpd.sjoin(c, a, how="inner", predicate="intersects")
        j = j.drop_duplicates("_cell", keep="first")
        out = pd.DataFrame({"_cell": j["_cell"].to_numpy(), "_area": j["_area"].to_numpy(), "weight": 1.0})
    elif geom_types <= {"Polygon", "MultiPolygon"}:
        ce = c.to_crs(EQUAL_AREA_CRS)
        ae = a.to_crs(EQUAL_AREA_CRS)
        ce["_cell_area"] = ce.geometry.area
        inter = gpd.overlay(ce, ae, how="intersection", keep_geom_type=True)
        inter["weight"] = inter.geometry.area / inter["_cell_area"]
        inter = inter[inter["weight"] > 0]
        out = pd.DataFrame({"_cell": inter["_cell"].to_numpy(), "_area": inter["_area"].to_numpy(),
                            "weight": inter["weight"].to_numpy(float)})
    else:
        raise ValidationError(f"`cells` must be all points or all polygons, found {sorted(geom_types)}")
    out = out.rename(columns={"_cell": cell_id, "_area": area_id if area_id != cell_id else "area_id"})
    return out.sort_values([out.columns[0], out.columns[1]], kind="stable", ignore_index=True)


def _py(x):
    return x.item() if hasattr(x, "item") else x


def _fmt_ids(ids, k=10) -> str:
    ids = [_py(x) for x in ids]
    s = ", ".join(repr(x) for x in ids[:k])
    return s + (f" and {len(ids) - k} more" if len(ids) > k else "")


def aggregate(cell_values: pd.DataFrame, cells: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *,
              population: str = "population", cell_id: str = "id", area_id: str = "id",
              time_columns: Sequence[str] | None = None, count_columns: Sequence[str] | None = None,
              thresholds_min: Sequence[float] = (10, 20, 30, 45), venues: gpd.GeoDataFrame | None = None,
              venue_category: str | None = None, inequality_columns: Sequence[str] | None = None,
              ) -> gpd.GeoDataFrame:
    """Aggregate per-cell accessibility to areas, weighting by population.

    Parameters
    ----------
    cell_values : DataFrame
        ``cell_id`` + indicator columns (one row per cell), e.g. minutes to the nearest venue of each category
        (from :func:`cost_to_closest`, pivoted) and venues reachable (from :func:`cumulative_cutoff`).
        The population may be here or in ``cells``.
    cells : GeoDataFrame
        ``cell_id`` + geometry (points, or polygons for an area-weighted overlay); a CRS is required.
    areas : GeoDataFrame
        ``area_id`` + polygons; a CRS is required. Areas that receive no cell are kept (NaN indicators,
        population 0) and named in an :class:`~access._errors.AccessWarning`.
    population : str
        Population column (in ``cells`` or ``cell_values``); must be >= 0 and not NaN.
    time_columns : list of str, optional
        Travel times in minutes (``inf`` = not reachable). Default: columns starting with ``time`` or
        ``travel_time``. Per column: ``<col>_mean`` and ``<col>_median`` (population-weighted, over the population
        that reaches one), ``<col>_share_unreachable`` and ``<col>_share_within_<T>min`` for each threshold.
    count_columns : list of str, optional
        Opportunities reachable; per column ``<col>_mean`` (population-weighted). Default: the other numeric
        columns.
    thresholds_min : sequence of float
        Thresholds of the "share of population within" indicators.
    venues : GeoDataFrame, optional
        Venue points; counted per area (``venues``, ``venues_per_10k``), per ``venue_category`` value when given
        (``venues_<cat>``, ``venues_per_10k_<cat>``).
    inequality_columns : list of str, optional
        Columns whose inequality within each area is reported (``<col>_gini``, ``<col>_theil``); default the
        count columns (times with ``inf`` are skipped).

    Returns
    -------
    GeoDataFrame
        One row per area: ``area_id``, ``n_cells``, ``population`` and the indicators, with the areas' geometry.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import Point, box
    >>> areas = gpd.GeoDataFrame({"id": ["A", "B"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)
    >>> cells = gpd.GeoDataFrame({"id": [1, 2, 3], "population": [100, 300, 50]},
    ...                          geometry=[Point(.2, .5), Point(.7, .5), Point(1.5, .5)], crs=4326)
    >>> vals = pd.DataFrame({"id": [1, 2, 3], "time_cinema": [10.0, 30.0, 50.0]})
    >>> out = aggregate(vals, cells, areas, thresholds_min=(20,))
    >>> out[["id", "population", "time_cinema_mean", "time_cinema_share_within_20min"]].values.tolist()
    [['A', 400.0, 25.0, 0.25], ['B', 50.0, 50.0, 0.0]]
    """
    _check_geo(areas, "areas", area_id)
    _check_geo(cells, "cells", cell_id)
    if not isinstance(cell_values, pd.DataFrame) or cell_id not in cell_values.columns:
        raise ValidationError(f"`cell_values` must be a DataFrame with a {cell_id!r} column")
    if cell_values[cell_id].duplicated().any():
        raise ValidationError(f"`cell_values[{cell_id!r}]` has duplicate ids, e.g. "
                              f"{cell_values[cell_id][cell_values[cell_id].duplicated()].tolist()[0]!r}")
    extra = set(cell_values[cell_id]) - set(cells[cell_id])
    if extra:
        raise ValidationError(f"{len(extra)} id(s) of `cell_values` are not in `cells`, e.g. {_fmt_ids(extra, 3)}; "
                              "give the geometry of every cell")
    if population in cells.columns:
        pop_src = cells[[cell_id, population]]
    elif population in cell_values.columns:
        pop_src = cell_values[[cell_id, population]]
    else:
        raise ValidationError(f"population column {population!r} is neither in `cells` nor in `cell_values`")
    pop = pd.to_numeric(pop_src[population], errors="coerce")
    bad = pop.isna() | (pop < 0)
    if bad.any():
        raise ValidationError(
            f"population column {population!r} has {int(bad.sum())} NaN or negative value(s), e.g. cell "
            f"{_py(pop_src[cell_id][bad].iloc[0])!r} ({_py(pop_src[population][bad].iloc[0])!r}); populations "
            "must be >= 0"
        )
    thresholds = [float(t) for t in thresholds_min]
    numeric = [c for c in cell_values.columns if c not in (cell_id, population)
               and pd.api.types.is_numeric_dtype(cell_values[c])]
    if time_columns is None:
        time_columns = [c for c in numeric if c.startswith("time") or c.startswith("travel_time")]
    if count_columns is None:
        count_columns = [c for c in numeric if c not in time_columns]
    for c in (*time_columns, *count_columns):
        if c not in cell_values.columns:
            raise ValidationError(f"`cell_values` has no column {c!r} (columns: {list(cell_values.columns)})")
    if inequality_columns is None:
        inequality_columns = list(count_columns)

    links = attach_cells(cells, areas, cell_id=cell_id, area_id=area_id)
    a_col = links.columns[1]
    outside = set(cells[cell_id]) - set(links[cell_id])
    if outside and len(outside) == cells[cell_id].nunique():
        raise ValidationError(f"none of the {len(outside)} cell(s) lies inside an area (e.g. cell "
                              f"{next(iter(sorted(map(str, outside))))!r}); give areas that cover the cells (same "
                              "region, and a correct CRS on both)")
    if outside:
        warnings.warn(f"{len(outside)} cell(s) lie outside every area and are left out: {_fmt_ids(outside)}",
                      AccessWarning, stacklevel=2)
    d = links.merge(pop_src.assign(**{population: pop.to_numpy(float)}), on=cell_id, how="left")
    d = d.merge(cell_values.drop(columns=[population], errors="ignore"), on=cell_id, how="left")
    d["_w"] = d[population].to_numpy(float) * d["weight"].to_numpy(float)

    area_ids = areas[area_id].to_numpy()
    res = pd.DataFrame({area_id: area_ids})
    grp = d.groupby(a_col, sort=False)
    res["n_cells"] = res[area_id].map(grp[cell_id].nunique()).fillna(0).astype(int)
    res["population"] = res[area_id].map(grp["_w"].sum()).fillna(0.0)
    empty = res.loc[res["n_cells"] == 0, area_id].tolist()
    if empty:
        warnings.warn(f"{len(empty)} area(s) received no cell and are kept with NaN indicators: {_fmt_ids(empty)}",
                      AccessWarning, stacklevel=2)

    cols: dict[str, pd.Series] = {}
    for c in time_columns:
        t = d[c].to_numpy(float)
        w = d["_w"].to_numpy(float)
        known = ~np.isnan(t)
        fin = known & np.isfinite(t)
        g = d[a_col]
        wk = pd.Series(np.where(known, w, 0.0)).groupby(g.to_numpy()).sum()
        wf = pd.Series(np.where(fin, w, 0.0)).groupby(g.to_numpy()).sum()
        wt = pd.Series(np.where(fin, w * np.where(fin, t, 0.0), 0.0)).groupby(g.to_numpy()).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            cols[f"{c}_mean"] = wt / wf
            cols[f"{c}_median"] = pd.Series({k: weighted_median(np.where(fin[idx], t[idx], np.nan), w[idx])
                                             for k, idx in grp.indices.items()})
            cols[f"{c}_share_unreachable"] = (wk - wf) / wk
            for thr in thresholds:
                within = pd.Series(np.where(known & (t <= thr), w, 0.0)).groupby(g.to_numpy()).sum()
                cols[f"{c}_share_within_{thr:g}min"] = within / wk
    for c in count_columns:
        x = d[c].to_numpy(float)
        w = d["_w"].to_numpy(float)
        ok = ~np.isnan(x)
        keys = d[a_col].to_numpy()
        s = pd.Series(np.where(ok, w * np.where(ok, x, 0.0), 0.0)).groupby(keys).sum()
        sw = pd.Series(np.where(ok, w, 0.0)).groupby(keys).sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            cols[f"{c}_mean"] = s / sw
    for c in inequality_columns:
        x = d[c].to_numpy(float)
        w = d["_w"].to_numpy(float)
        if np.isinf(x).any():
            x = np.where(np.isinf(x), np.nan, x)
        cols[f"{c}_gini"] = pd.Series({k: weighted_gini(x[idx], w[idx]) for k, idx in grp.indices.items()})
        cols[f"{c}_theil"] = pd.Series({k: weighted_theil_t(x[idx], w[idx]) for k, idx in grp.indices.items()})
    for name, s in cols.items():
        res[name] = res[area_id].map(s).astype(float)

    if venues is not None:
        vcount = _count_venues(venues, areas, area_id, venue_category)
        for name, s in vcount.items():
            res[name] = res[area_id].map(s).fillna(0).astype(int)
            with np.errstate(divide="ignore", invalid="ignore"):
                per = np.where(res["population"] > 0, res[name] / res["population"] * 1e4, np.nan)
            res[name.replace("venues", "venues_per_10k", 1)] = per
    res.loc[res["n_cells"] == 0, [c for c in res.columns if c not in (area_id, "n_cells", "population")
                                  and not c.startswith("venues")]] = np.nan
    geom = areas.set_index(area_id).geometry.reindex(res[area_id]).to_numpy()
    return gpd.GeoDataFrame(res, geometry=geom, crs=areas.crs)


def _count_venues(venues, areas, area_id, category) -> dict[str, pd.Series]:
    if not isinstance(venues, gpd.GeoDataFrame) or venues.crs is None:
        raise ValidationError("`venues` must be a GeoDataFrame of points with a CRS")
    if category is not None and category not in venues.columns:
        raise ValidationError(f"`venues` has no column {category!r} (columns: {list(venues.columns)})")
    v = venues[[venues.geometry.name] + ([category] if category else [])].to_crs(areas.crs)
    v = v.assign(_vid=np.arange(len(v)))
    a = areas[[area_id, areas.geometry.name]].rename(columns={area_id: "_area"})
    j = gpd.sjoin(v, a, how="inner", predicate="intersects").drop_duplicates("_vid")
    out = {"venues": j.groupby("_area").size()}
    if category:
        for cat, sub in j.groupby(category):
            out[f"venues_{cat}"] = sub.groupby("_area").size()
    return out
