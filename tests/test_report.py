"""Report outputs (tables, GeoPackage, PNG, HTML) and the `access indicators` command, on the 92 EPCI polygons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from access._errors import ValidationError
from tests._data import test_data_dir as _data_dir
from access.commands.indicators import command
from access.report import choropleth_png, interactive_map, write_geopackage, write_table


@pytest.fixture(scope="module")
def epci():
    p = _data_dir() / "hauts_de_france" / "epci_2026.geojson"
    if not p.exists():
        pytest.skip(f"real data absent: {p}")
    return gpd.read_file(p)


def _synthetic_inputs(epci, tmp_path, n_cells_per_area=4, n_venues=60, seed=7):
    """Origins inside the EPCIs, venues of 3 categories, and a crow-fly travel matrix at 30 km/h (+ 5 min)."""
    rng = np.random.default_rng(seed)
    pts = epci.to_crs(2154).sample_points(n_cells_per_area, rng=rng).explode(index_parts=False)
    cells = gpd.GeoDataFrame({"id": [f"c{i}" for i in range(len(pts))],
                              "population": rng.integers(50, 5000, len(pts))}, geometry=pts.to_numpy(), crs=2154)
    vx = rng.uniform(*cells.total_bounds[[0, 2]], n_venues * 3)
    vy = rng.uniform(*cells.total_bounds[[1, 3]], n_venues * 3)
    inside = gpd.points_from_xy(vx, vy, crs=2154)
    inside = inside[gpd.GeoSeries(inside).within(epci.to_crs(2154).union_all()).to_numpy()][:n_venues]
    assert len(inside) == n_venues
    venues = gpd.GeoDataFrame({"id": [f"v{i}" for i in range(n_venues)],
                               "category": rng.choice(["library", "cinema", "museum"], n_venues)},
                              geometry=inside, crs=2154)
    dx = cells.geometry.x.to_numpy()[:, None] - venues.geometry.x.to_numpy()[None, :]
    dy = cells.geometry.y.to_numpy()[:, None] - venues.geometry.y.to_numpy()[None, :]
    minutes = 5 + np.hypot(dx, dy) / 1000 / 30 * 60
    m = pd.DataFrame({"from_id": np.repeat(cells.id.to_numpy(), n_venues),
                      "to_id": np.tile(venues.id.to_numpy(), len(cells)), "travel_time": minutes.ravel()})
    m = m[m.travel_time <= 120]
    paths = {"matrix": tmp_path / "m.parquet", "origins": tmp_path / "cells.gpkg",
             "destinations": tmp_path / "venues.geojson", "areas": tmp_path / "epci.gpkg"}
    m.to_parquet(paths["matrix"], index=False)
    cells.to_crs(4326).to_file(paths["origins"])
    venues.to_crs(4326).to_file(paths["destinations"])
    epci.rename(columns={"epci_code": "id"})[["id", "epci_nom_2026", "geometry"]].to_file(paths["areas"])
    return paths, cells, venues, m


def test_cli_end_to_end(epci, tmp_path):
    paths, cells, venues, m = _synthetic_inputs(epci, tmp_path)
    cfg = tmp_path / "cfg.toml"
    prio = str(epci.epci_code.iloc[0])
    cfg.write_text(f'[indicators]\ncutoff_min = 45\n[typology.classes]\npriority_areas = ["{prio}"]\n')
    out = tmp_path / "out"
    res = CliRunner().invoke(command, ["--matrix", str(paths["matrix"]), "--origins", str(paths["origins"]),
                                       "--destinations", str(paths["destinations"]), "--areas",
                                       str(paths["areas"]), "--out", str(out), "--config", str(cfg),
                                       "--no-progress"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    areas = gpd.read_file(out / "areas.gpkg")
    assert len(areas) == 92 and areas.crs is not None
    assert areas["population"].sum() == pytest.approx(cells.population.sum())
    assert (areas.loc[areas["id"] == prio, "class"] == "priority contract zone").all()
    assert set(areas["class"]) <= {"priority contract zone", "cumulates cultural and social fragility",
                                   "cultural fragility", "social fragility", "no particular stake",
                                   "insufficient data"}
    # venue counts per area add up to the venues (all inside the region)
    assert areas["venues"].sum() == len(venues)
    # time to the nearest library of a cell, recomputed from the matrix
    cell_tab = pd.read_parquet(out / "cells.parquet")
    lib = venues.id[venues.category == "library"]
    exp = m[m.to_id.isin(lib)].groupby("from_id").travel_time.min()
    got = cell_tab.set_index("id")["time_library"].reindex(exp.index)
    np.testing.assert_allclose(got.to_numpy(), exp.to_numpy(), rtol=1e-12)
    reach = m[m.to_id.isin(lib) & (m.travel_time <= 45)].groupby("from_id").size()
    got_r = cell_tab.set_index("id")["reachable_library_45min"].reindex(reach.index)
    np.testing.assert_array_equal(got_r.to_numpy(), reach.to_numpy())
    assert (out / "areas.csv").exists() and (out / "areas_map.html").stat().st_size > 10_000
    pngs = sorted((out / "maps").glob("*.png"))
    assert any(p.name == "class.png" for p in pngs) and len(pngs) >= 5
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    html = (out / "areas_map.html").read_text()
    assert "Supply score" in html and "<script src=" not in html  # human titles, everything inlined


def test_cli_bad_inputs(epci, tmp_path):
    paths, *_ = _synthetic_inputs(epci, tmp_path, n_cells_per_area=1, n_venues=5)
    args = ["--matrix", str(paths["matrix"]), "--origins", str(paths["origins"]), "--destinations",
            str(paths["destinations"]), "--areas", str(tmp_path / "nope.gpkg"), "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(command, args)
    assert res.exit_code != 0 and "does not exist" in str(res.exception)
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[indicators]\ncategory_column = "kind"\n')
    args[args.index("--areas") + 1] = str(paths["areas"])
    res = CliRunner().invoke(command, [*args, "--config", str(cfg)])
    assert isinstance(res.exception, ValidationError) and "category column 'kind'" in str(res.exception)


def test_writers(epci, tmp_path):
    g = epci[["epci_code", "geometry"]].assign(x=np.arange(92, dtype=float), label=["a", "b"] * 46)
    paths = write_table(g, tmp_path / "t.parquet")
    assert [p.name for p in paths] == ["t.parquet", "t.csv"]
    pd.testing.assert_frame_equal(pd.read_parquet(paths[0]), pd.DataFrame(g.drop(columns="geometry")))
    gp = write_geopackage(g, tmp_path / "g.gpkg")
    assert len(gpd.read_file(gp)) == 92
    write_geopackage(g.iloc[:3], tmp_path / "g.gpkg")  # replaced atomically
    assert len(gpd.read_file(gp)) == 3
    png = choropleth_png(g, "x", tmp_path / "x.png", title="x", units="minutes")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert choropleth_png(g, "label", tmp_path / "l.png").exists()
    with pytest.raises(ValidationError, match="not a column"):
        choropleth_png(g, "nope", tmp_path / "n.png")
    h = interactive_map(g, tmp_path / "m.html", layers=["x", "label"], id_column="epci_code")
    assert "<script src=" not in h.read_text()
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
