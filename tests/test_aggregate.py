"""Aggregation of cells to the 92 EPCI intercommunalities of Hauts-de-France."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from access._errors import AccessWarning, ValidationError
from tests._data import test_data_dir as _data_dir
from access.indicators import aggregate, attach_cells, weighted_gini, weighted_median


@pytest.fixture(scope="module")
def epci():
    p = _data_dir() / "hauts_de_france" / "epci_2026.geojson"
    if not p.exists():
        pytest.skip(f"real data absent: {p}")
    return gpd.read_file(p)


@pytest.fixture(scope="module")
def cells(epci):
    """5 random points inside each EPCI but the last 3 (left empty on purpose), with known membership."""
    rng = np.random.default_rng(11)
    keep = epci.iloc[:-3]
    pts = keep.to_crs(2154).sample_points(5, rng=rng)
    rows = []
    for code, mp in zip(keep.epci_code, pts):
        for p in mp.geoms:
            rows.append((code, p))
    g = gpd.GeoDataFrame({"true_epci": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs=2154)
    g["id"] = np.arange(len(g))
    g["population"] = rng.integers(0, 3000, len(g))
    return g


def _values(cells, seed=3):
    rng = np.random.default_rng(seed)
    t = rng.gamma(3, 10, len(cells))
    t[::17] = np.inf  # some cells reach no cinema
    return pd.DataFrame({"id": cells.id, "time_cinema": t, "cinemas_30min": rng.poisson(3, len(cells)).astype(float)})


def test_points_in_known_epci_and_twin(epci, cells):
    links = attach_cells(cells, epci, area_id="epci_code")
    got = links.set_index("id")["epci_code"].reindex(cells.id)
    assert (got.to_numpy() == cells.true_epci.to_numpy()).all()
    assert (links.weight == 1).all()
    vals = _values(cells)
    with pytest.warns(AccessWarning, match=r"3 area\(s\) received no cell") as rec:
        out = aggregate(vals, cells, epci[["epci_code", "geometry"]], area_id="epci_code", thresholds_min=(20, 45))
    msg = str(rec[0].message)
    assert all(repr(c) in msg for c in epci.epci_code.iloc[-3:])
    assert len(out) == 92 and out.crs == epci.crs
    empty = out[out.epci_code.isin(epci.epci_code.iloc[-3:])]
    assert (empty.n_cells == 0).all() and empty.time_cinema_mean.isna().all() and (empty.population == 0).all()
    assert out.population.sum() == cells.population.sum()
    # pandas twin per EPCI
    d = cells.merge(vals, on="id")
    for code, sub in d.groupby("true_epci"):
        row = out.set_index("epci_code").loc[code]
        w = sub.population.to_numpy(float)
        t = sub.time_cinema.to_numpy()
        fin = np.isfinite(t)
        if w[fin].sum() > 0:
            assert row.time_cinema_mean == pytest.approx(np.sum(w[fin] * t[fin]) / w[fin].sum(), rel=1e-12)
        assert row.time_cinema_share_within_20min == pytest.approx(np.sum(w * (t <= 20)) / w.sum(), rel=1e-12)
        assert row.time_cinema_share_unreachable == pytest.approx(np.sum(w * ~fin) / w.sum(), rel=1e-12)
        assert row.time_cinema_median == pytest.approx(weighted_median(np.where(fin, t, np.nan), w))
        assert row.cinemas_30min_mean == pytest.approx(np.sum(w * sub.cinemas_30min) / w.sum(), rel=1e-12)
        assert row.cinemas_30min_gini == pytest.approx(weighted_gini(sub.cinemas_30min, w), nan_ok=True)


def test_polygon_cells_area_weighted(epci):
    # a 10 km grid over the region: each cell's weights sum to the share of its surface inside the region
    b = epci.to_crs(2154).total_bounds
    xs = np.arange(b[0], b[2], 10_000)
    ys = np.arange(b[1], b[3], 10_000)
    grid = gpd.GeoDataFrame({"id": np.arange(len(xs) * len(ys))},
                            geometry=[box(x, y, x + 10_000, y + 10_000) for x in xs for y in ys], crs=2154)
    region = epci.to_crs(2154).union_all()
    share_in = grid.geometry.intersection(region).area / grid.geometry.area
    links = attach_cells(grid, epci, area_id="epci_code")
    wsum = links.groupby("id").weight.sum().reindex(grid.id, fill_value=0)
    np.testing.assert_allclose(wsum.to_numpy(), share_in.to_numpy(), atol=2e-3)
    assert links.groupby("id").size().max() > 1  # some cells are split between EPCIs
    grid["population"] = 100.0
    vals = pd.DataFrame({"id": grid.id, "time_library": 12.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccessWarning)
        out = aggregate(vals, grid, epci, area_id="epci_code")
    assert out.population.sum() == pytest.approx(100.0 * wsum.sum(), rel=1e-9)
    assert np.allclose(out.time_library_mean.dropna(), 12.0)
    assert (out.n_cells > 0).all()


def test_venue_counts_per_10k(epci, cells):
    rng = np.random.default_rng(5)
    v = cells.sample(40, random_state=1)[["geometry"]].assign(category=rng.choice(["library", "cinema"], 40))
    vals = _values(cells)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccessWarning)
        out = aggregate(vals, cells, epci, area_id="epci_code", venues=v, venue_category="category")
    assert out.venues.sum() == 40
    assert (out.venues_library + out.venues_cinema == out.venues).all()
    ok = out.population > 0
    np.testing.assert_allclose(out.venues_per_10k[ok], out.venues[ok] / out.population[ok] * 1e4)


def test_bad_inputs(epci, cells):
    vals = _values(cells)
    with pytest.raises(ValidationError, match="no CRS"):
        aggregate(vals, cells, epci.set_crs(None, allow_override=True), area_id="epci_code")
    with pytest.raises(ValidationError, match="no CRS"):
        aggregate(vals, cells.set_crs(None, allow_override=True), epci, area_id="epci_code")
    with pytest.raises(ValidationError, match="no id column 'id'"):
        aggregate(vals, cells, epci)
    bad = epci.copy()
    bad.loc[2, "epci_code"] = None
    with pytest.raises(ValidationError, match="missing id"):
        aggregate(vals, cells, bad, area_id="epci_code")
    bad = epci.copy()
    bad.loc[2, "epci_code"] = bad.epci_code.iloc[1]
    with pytest.raises(ValidationError, match="duplicate"):
        aggregate(vals, cells, bad, area_id="epci_code")
    neg = cells.copy()
    neg.loc[4, "population"] = -3
    with pytest.raises(ValidationError, match=r"NaN or negative.*cell 4"):
        aggregate(vals, neg, epci, area_id="epci_code")
    nan = cells.assign(population=cells.population.astype(float))
    nan.loc[6, "population"] = np.nan
    with pytest.raises(ValidationError, match="NaN or negative"):
        aggregate(vals, nan, epci, area_id="epci_code")
    with pytest.raises(ValidationError, match="not in `cells`"):
        aggregate(pd.concat([vals, pd.DataFrame({"id": [10**6]})]), cells, epci, area_id="epci_code")
    with pytest.raises(ValidationError, match="no column 'nope'"):
        aggregate(vals, cells, epci, area_id="epci_code", time_columns=["nope"])
