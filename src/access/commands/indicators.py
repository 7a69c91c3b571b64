"""``access indicators``: per-cell access to venues by category, aggregation to areas, typology, maps.

From a travel matrix (a Parquet file, or the folder of partitions written by ``access matrix --chunk-size`` /
``--memory-budget``; street or transit: a transit matrix's ``travel_time_p50`` is used by default; origins =
population cells, destinations = venues), computes per origin and per venue category the minutes to the nearest
venue and the venues reachable within a cutoff, aggregates them to the areas (population-weighted), classifies the
areas with the typology, and writes tables, a GeoPackage, PNG maps and a self-contained HTML map into ``--out``.

Config (TOML, all keys optional)::

    [indicators]
    category_column = "category"      # venue category column of --destinations
    population_column = "population"  # population column of --origins
    area_id = "id"                    # id column of --areas
    travel_cost = "travel_time"       # or "travel_time_p50" ... (also --travel-cost; default: travel_time, else
                                      # the p50 column of a transit matrix, else its only percentile column)
    cutoff_min = 30                   # venues reachable within this many minutes
    thresholds_min = [10, 20, 30, 45] # share of population within
    [typology]                        # sections of data/typology_default.toml: supply, access, social, combine,
                                      # classes (priority_areas = [...])
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import click
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as PydanticError

from .._errors import InputFileError, ValidationError

DEFAULTS = {
    "category_column": "category",
    "population_column": "population",
    "area_id": "id",
    "travel_cost": None,
    "cutoff_min": 30,
    "thresholds_min": [10, 20, 30, 45],
    "opportunity_column": None,
}


class IndicatorsSection(BaseModel):
    """The ``[indicators]`` table of the config: strict keys and types, checked before any work."""

    model_config = ConfigDict(extra="forbid")
    category_column: StrictStr = "category"
    population_column: StrictStr = "population"
    area_id: StrictStr = "id"
    travel_cost: StrictStr | None = None
    cutoff_min: Annotated[StrictInt | StrictFloat, Field(gt=0, le=24 * 60)] = 30
    thresholds_min: Annotated[list[Annotated[StrictInt | StrictFloat, Field(gt=0, le=24 * 60)]],
                              Field(min_length=1)] = [10, 20, 30, 45]
    opportunity_column: StrictStr | None = None


_TOP_KEYS = ("indicators", "typology")


def _config_error(path, exc: PydanticError) -> ValidationError:
    import difflib

    err = exc.errors()[0]
    loc = [str(x) for x in err["loc"]]
    key = loc[0] if loc else "?"
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, list(IndicatorsSection.model_fields), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of {sorted(IndicatorsSection.model_fields)}"
        return ValidationError(f"config {str(path)!r}: unknown key [indicators] {key!r}; {hint}")
    where = key + "".join(f"[{x}]" for x in err["loc"][1:] if isinstance(x, int))  # not pydantic's union tags
    val = err.get("input")
    msg = "should be a number" if any(t in err["type"] for t in ("int", "float")) else err["msg"].lower()
    return ValidationError(f"config {str(path)!r}: [indicators] `{where}` {msg}, got {val!r}; "
                           "numbers are written without quotes, e.g. cutoff_min = 30, thresholds_min = [10, 20, 30]")


def _read_config(path) -> tuple[dict, dict | None]:
    """The ``[indicators]`` settings (defaults filled) and the ``[typology]`` table of a TOML config."""
    if path is None:
        return dict(DEFAULTS), None
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"config file {str(path)!r} does not exist") from None
    except OSError as e:
        raise InputFileError(f"config file {str(path)!r} cannot be read ({e})") from None
    try:
        cfg = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InputFileError(f"config file {str(path)!r} is not UTF-8 (line {line}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise InputFileError(f"config file {str(path)!r} is not valid TOML: {e}; fix that line") from None
    unknown = [k for k in cfg if k not in _TOP_KEYS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], _TOP_KEYS, n=1, cutoff=0.5)
        raise ValidationError(f"config {str(path)!r}: unknown table [{unknown[0]}]; "
                              f"{f'did you mean [{close[0]}]?' if close else 'use [indicators] and [typology]'}")
    sec = cfg.get("indicators", {})
    if not isinstance(sec, dict):
        raise ValidationError(f"config {str(path)!r}: `indicators` must be a table [indicators], got {sec!r}")
    try:
        ind = IndicatorsSection.model_validate(sec).model_dump()
    except PydanticError as e:
        raise _config_error(path, e) from None
    typ = cfg.get("typology")
    if typ is not None and not isinstance(typ, dict):
        raise ValidationError(f"config {str(path)!r}: `typology` must be a table [typology], got {typ!r}")
    return ind, typ


def resolve_travel_cost(matrix, travel_cost: str | None) -> str:
    """The cost column of ``matrix`` (a Parquet file or partition folder): ``travel_cost`` when given (an error
    naming the columns and ``--travel-cost`` when absent), else ``travel_time``, else ``travel_time_p50``, else the
    only ``travel_time_p*`` column."""
    from ..indicators._input import MatrixSource

    src = MatrixSource(matrix)
    cols = src.columns
    pct = [c for c in cols if c.startswith("travel_time_p")]
    numeric = _numeric_columns(src)
    if travel_cost is not None:
        if travel_cost not in cols:
            raise ValidationError(f"`--matrix` {str(matrix)!r} has no column {travel_cost!r} (columns: {cols}); "
                                  f"pass --travel-cost with one of {numeric}")
        return _numeric_cost(matrix, travel_cost, numeric)
    for c in ("travel_time", "travel_time_p50"):
        if c in cols:
            return _numeric_cost(matrix, c, numeric)
    if len(pct) == 1:
        return _numeric_cost(matrix, pct[0], numeric)
    raise ValidationError(f"`--matrix` {str(matrix)!r} has no travel_time nor travel_time_p50 column (columns: "
                          f"{cols}); pass --travel-cost with one of {numeric} (minutes)")


def _numeric_columns(src) -> list[str]:
    """The matrix columns that hold numbers (bools excluded), from the Parquet schema or the frame's dtypes."""
    import pyarrow as pa

    schema = getattr(src, "_pf_schema", None)
    if schema is not None:
        return [f.name for f in schema if f.name not in ("from_id", "to_id")
                and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))]
    if src.frame is not None:
        return [str(c) for c, t in src.frame.dtypes.items() if c not in ("from_id", "to_id") and t.kind in "iuf"]
    return [c for c in src.columns if c not in ("from_id", "to_id")]


def _numeric_cost(matrix, column: str, numeric: list[str]) -> str:
    if column not in numeric:
        other = f", or pass --travel-cost with one of {numeric}" if numeric else ""
        raise ValidationError(f"`--matrix` {str(matrix)!r}: column {column!r} does not hold numbers (minutes); write "
                              f"the travel times as numbers (e.g. 12.5, NaN where unreachable){other}")
    return column


def _points_gdf(path, name: str):
    import geopandas as gpd

    from ..io.places import read_points

    pts = read_points(str(path), name=name)
    frame = pts.frame
    assert frame is not None  # (read_points keeps the table)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        return frame.to_crs(4326)
    return gpd.GeoDataFrame(frame.copy(), geometry=gpd.points_from_xy(pts.lon, pts.lat), crs=4326)


def _read_areas(path, area_id: str):
    import geopandas as gpd

    p = Path(path)
    if not p.exists():
        raise InputFileError(f"`--areas` file {str(p)!r} does not exist")
    try:
        areas = gpd.read_file(p)
    except Exception as e:  # pyogrio raises several types
        raise InputFileError(f"cannot read `--areas` file {str(p)!r}: {e}") from e
    if area_id not in areas.columns:
        raise ValidationError(f"`--areas` file {str(p)!r} has no id column {area_id!r} (columns: "
                              f"{list(areas.columns)}); set [indicators] area_id in the config")
    return areas


def run_indicators(matrix, origins, destinations, areas, out, config=None, *, progress=True,
                   travel_cost: str | None = None) -> dict:
    """The work of ``access indicators`` (callable from Python); returns the paths written, by kind.

    Every input is read and checked before any computation: the matrix's cost column, the origins' population
    column, the destinations' category column and the areas' id column.
    """
    import pandas as pd

    from ..indicators import aggregate, cost_to_closest, cumulative_cutoff, typology
    from ..report import write_area_report, write_table

    ind, typ_cfg = _read_config(config)
    tc = resolve_travel_cost(matrix, travel_cost or ind["travel_cost"])
    cat, popc, aid = ind["category_column"], ind["population_column"], ind["area_id"]
    cells = _points_gdf(origins, "origins")
    venues = _points_gdf(destinations, "destinations")
    if cat not in venues.columns:
        raise ValidationError(f"`--destinations` has no category column {cat!r} (columns: {list(venues.columns)}); "
                              "set [indicators] category_column in the config")
    if popc not in cells.columns:
        raise ValidationError(f"`--origins` has no population column {popc!r} (columns: {list(cells.columns)}); "
                              "set [indicators] population_column in the config")
    area_gdf = _read_areas(areas, aid)
    from ..indicators._input import check_matrix_ids

    check_matrix_ids(matrix, cells["id"].to_numpy(), venues["id"].to_numpy(), matrix_name="`--matrix`",
                     origins_name="--origins", destinations_name="--destinations")
    opp_col = ind["opportunity_column"]
    lu = pd.DataFrame({"id": venues["id"].to_numpy(), cat: venues[cat].astype(str).to_numpy(),
                       "venues": venues[opp_col].to_numpy(float) if opp_col else 1.0})
    steps = ["time to nearest", "venues reachable", "aggregate", "typology", "write"]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(steps), desc="indicators", unit="step")
    near = cost_to_closest(matrix, lu, opportunity="venues", travel_cost=tc, group_by=cat)
    tcol = near.columns[-1]
    t_wide = near.pivot(index="id", columns=cat, values=tcol)
    t_wide.columns = [f"time_{c}" for c in t_wide.columns]
    bar and bar.update()
    cutoff = float(ind["cutoff_min"])
    reach = cumulative_cutoff(matrix, lu, opportunity="venues", travel_cost=tc, cutoff=cutoff, group_by=cat)
    r_wide = reach.pivot(index="id", columns=cat, values="venues")
    r_wide.columns = [f"reachable_{c}_{cutoff:g}min" for c in r_wide.columns]
    bar and bar.update()
    vals = cells[["id"]].merge(t_wide.join(r_wide).reset_index(), on="id", how="left")
    out = Path(out)
    agg = aggregate(vals, cells[["id", popc, cells.geometry.name]], area_gdf[[aid, area_gdf.geometry.name]],
                    population=popc, area_id=aid, time_columns=list(t_wide.columns),
                    count_columns=list(r_wide.columns), thresholds_min=ind["thresholds_min"],
                    venues=venues, venue_category=cat)
    extra = [c for c in area_gdf.columns if c not in (aid, area_gdf.geometry.name) and c not in agg.columns]
    if extra:
        agg = agg.merge(pd.DataFrame(area_gdf[[aid, *extra]]), on=aid, how="left")
    bar and bar.update()
    typ = typology(agg, config=typ_cfg, area_id=aid)
    bar and bar.update()
    main_cols = ["population", *[f"{c}_mean" for c in t_wide.columns],
                 *[f"{c}_share_within_{float(ind['thresholds_min'][-1]):g}min" for c in t_wide.columns],
                 "venues_per_10k", "supply_score", "access_score", "social_fragility", "cultural_fragility", "class"]
    main_cols = [c for c in main_cols if c in typ.columns]
    # written only once everything is computed: a bad input found on the way leaves no mix of old and new files
    written = {"cells": write_table(cells[["id", popc]].merge(vals, on="id"), out / "cells")}
    written.update(write_area_report(typ, out, id_column=aid, name="areas", map_columns=main_cols,
                                     tooltip_columns=main_cols))
    bar and bar.update()
    bar and bar.close()
    return written


@click.command(name="indicators")
@click.option("--matrix", "matrix", required=True, type=click.Path(exists=True),
              help="Travel matrix from `access matrix`: a Parquet file or a folder of partitions (from_id, to_id, "
              "travel_time or travel_time_pNN, minutes).")
@click.option("--travel-cost", default=None,
              help="Cost column of the matrix [default: travel_time, else travel_time_p50 (transit)].")
@click.option("--origins", required=True, type=click.Path(dir_okay=False),
              help="Origin cells with id and population (GeoPackage, GeoJSON, Parquet, CSV id/lon/lat).")
@click.option("--destinations", required=True, type=click.Path(dir_okay=False),
              help="Venues with id and category (same formats).")
@click.option("--areas", required=True, type=click.Path(dir_okay=False),
              help="Area polygons (e.g. EPCI) with an id column.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="TOML config ([indicators] and [typology] sections).")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def command(matrix, travel_cost, origins, destinations, areas, out, config, no_progress):
    """Accessibility indicators per cell and per area, typology, tables and maps."""
    written = run_indicators(matrix, origins, destinations, areas, out, config, progress=not no_progress,
                             travel_cost=travel_cost)
    n = sum(len(v) for v in written.values())
    click.echo(f"wrote {n} files to {out} (areas.gpkg, areas.parquet/csv, cells.parquet/csv, "
               f"{len(written.get('png', []))} maps, areas_map.html)")
