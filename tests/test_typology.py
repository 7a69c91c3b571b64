"""Territorial typology: scores by hand, the strict config schema, region-only z-scores, "no data", the priority zone
apart from the class, class stability; on real data: the Hauts-de-France EPCI with their real Basilic supply, and
the access score from nearest_times on Porto Alegre."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from access._data import data_path
from access._errors import InputFileError, ValidationError
from access.indicators import CLASSES, load_typology_config, typology

from .conftest import data_file


def _table():
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f"],
        "population": [1000.0, 5000.0, 4000.0, 800.0, 2000.0, 3000.0],
        "venues_per_10k_library": [1.0, 5.0, 5.0, 1.0, 3.0, 3.0],
        "venues_per_10k_cinema": [0.1, 0.5, 0.5, 0.1, 0.3, 0.3],
        "venues_per_10k": [1.1, 5.5, 5.5, 1.1, 3.3, 3.3],  # the all-category total: not used
        "time_car_library_mean": [40.0, 10.0, 10.0, 40.0, 25.0, 25.0],
        "time_car_library_share_within_15min": [0.2, 0.9, 0.9, 0.2, 0.5, 0.5],
        "time_walk_library_mean": [90.0, 20.0, 25.0, 80.0, 50.0, 50.0],  # reported apart, not in the access score
        "poverty_rate": [0.30, 0.10, 0.30, 0.10, 0.20, np.nan],
        "median_income": [18e3, 25e3, 18e3, 25e3, 21e3, 21e3],
    })


def z(s):
    return (s - s.mean()) / s.std(ddof=0)


def test_defaults_are_documented_and_loaded():
    text = data_path("typology_default.toml").read_text()
    cfg = load_typology_config()
    for sec in ("region", "supply", "access", "social", "combine", "classes", "stability"):
        assert f"[{sec}]" in text and sec in cfg
    assert cfg["access"]["beyond_min"] == [5, 10, 15, 30]
    assert set(cfg["access"]["weights"]) == {"time_car_*_mean", "time_car_*_share_beyond_*min"}
    assert "INSEE" in text and "DEPS" in text
    assert set(CLASSES) == {"cumulates cultural and social fragility", "cultural fragility", "social fragility",
                            "no particular stake", "no data"}


def test_scores_by_hand_car_only_per_category():
    t = _table()
    res = typology(t, stability=False)
    supply = (z(t.venues_per_10k_library) + z(t.venues_per_10k_cinema)) / 2
    beyond = 1 - t.time_car_library_share_within_15min
    access = (-z(t.time_car_library_mean) - z(beyond)) / 2
    np.testing.assert_allclose(res.supply_score, supply, rtol=1e-12)
    np.testing.assert_allclose(res.access_score, access, rtol=1e-12)
    np.testing.assert_allclose(res.cultural_fragility, -(0.5 * supply + 0.5 * access), rtol=1e-12)
    zp, zi = z(t.poverty_rate), z(t.median_income)
    np.testing.assert_allclose(res.social_fragility, np.where(t.poverty_rate.notna(), (zp - zi) / 2, -zi), rtol=1e-12)
    assert "z_venues_per_10k" not in res.columns and "z_time_walk_library_mean" not in res.columns
    assert res["class"].tolist() == ["cumulates cultural and social fragility", "no particular stake",
                                     "social fragility", "cultural fragility", "no particular stake",
                                     "no particular stake"]
    assert "share_elderly" in res.notes[0]  # inputs the table lacks are named


def test_no_data_priority_zone_apart_and_worst_when_unreachable():
    t = _table()
    t.loc[4, "population"] = 0.0
    t.loc[2, "time_car_library_mean"] = np.nan  # populated, nobody reaches a library: the worst, not dropped
    res = typology(t, priority_areas={"b": "Bassin minier"}, stability=False)
    assert res["class"][4] == "no data" and "no population" in res.reason[4]
    assert res["priority_zone"].tolist() == ["", "Bassin minier", "", "", "", ""]
    assert res["class"][1] == "no particular stake"  # the computed class, whatever the zone
    assert "priority contract zone Bassin minier" in res.reason[1]
    zt = res["z_time_car_library_mean"]
    assert zt[2] == zt[[0, 1, 3, 5]].max()
    # the empty area is outside the reference: the others' z-scores are those of the five populated areas
    ref = t.drop(index=4)
    np.testing.assert_allclose(res["z_venues_per_10k_library"].drop(index=4), z(ref.venues_per_10k_library))
    # plain ids get the configured zone name; an existing priority_zone column is kept
    r2 = typology(t.assign(priority_zone=["", "", "Calaisis", "", "", ""]), priority_areas=["a"], stability=False)
    assert r2["priority_zone"].tolist() == ["priority contract zone", "", "Calaisis", "", "", ""]


def test_config_schema_refuses_unknown_keys_with_nearest_name(tmp_path):
    with pytest.raises(ValidationError, match=r"unknown key `acces`; did you mean 'access'"):
        typology(_table(), config={"acces": {}})
    with pytest.raises(ValidationError, match=r"unknown key `classes.cultural_treshold`; did you mean "
                                              r"'cultural_threshold'"):
        typology(_table(), config={"classes": {"cultural_treshold": 1}})
    with pytest.raises(ValidationError, match=r"combine.supply_weight"):
        typology(_table(), config={"combine": {"supply_weight": -1}})
    with pytest.raises(InputFileError, match="does not exist"):
        typology(_table(), config=tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[combine\n")
    with pytest.raises(InputFileError, match="not valid TOML"):
        typology(_table(), config=tmp_path / "bad.toml")
    with pytest.raises(ValidationError, match="id column"):
        typology(_table(), area_id="code")
    cfg = tmp_path / "t.toml"
    cfg.write_text('[combine]\nsupply_weight = 1.0\naccess_weight = 0.0\n[classes]\ncultural_threshold = 5\n'
                   '[social]\nweights = { poverty_rate = 1.0 }\n')
    res = typology(_table(), config=cfg, stability=False)
    assert not res["class"].str.contains("cultural").any()
    np.testing.assert_allclose(res.cultural_fragility, -res.supply_score)
    np.testing.assert_allclose(res.social_fragility, z(_table().poverty_rate))


def test_class_stability():
    t = _table()
    res = typology(t)
    s = res["class_stability"]
    assert ((s >= 0) & (s <= 1)).all()
    # "b" is far from every threshold: stable; moving everything by 0 gives no variant -> stable by definition
    assert s[1] == 1.0
    near = typology(t, config={"classes": {"cultural_threshold": float(res.cultural_fragility[0]) - 1e-3}})
    assert near["class_stability"][0] < 1.0
    # a column swap (another transit percentile) is a variant when the twin column exists
    t2 = t.assign(time_car_library_p50_mean=t.time_car_library_mean,
                  time_car_library_p75_mean=t.time_car_library_mean[::-1].to_numpy())
    cfg = {"access": {"weights": {"time_car_*_p50_mean": -1.0}}, "stability": {"relative_change": 0.0}}
    r3 = typology(t2, config=cfg)
    base = r3["class"]
    swapped = typology(t2.assign(time_car_library_p50_mean=t2.time_car_library_p75_mean), config=cfg)["class"]
    np.testing.assert_array_equal(r3["class_stability"], (base == swapped).astype(float))


# ------------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def hdf_table():
    """The 92 Hauts-de-France EPCI: real population (COG 2026), real area, real Basilic venues per 10,000
    inhabitants per category; a car time that grows as density falls (seeded noise) and a poverty rate (seeded)."""
    import geopandas as gpd

    com = pd.read_csv(data_file("hauts_de_france", "communes_epci_2026.csv"), dtype={"code_commune": str,
                                                                                    "epci_code": str})
    bas = pd.read_csv(data_file("hauts_de_france", "culture_counts_by_commune_basilic.csv"), dtype={"code_insee": str})
    ep = gpd.read_file(data_file("hauts_de_france", "epci_2026.geojson"))
    cat = {"Bibliothèque": "library", "Cinéma": "cinema", "Musée": "museum", "Théâtre": "theatre",
           "Scène": "stage", "Conservatoire": "conservatoire"}
    b = bas[bas["Type équipement ou lieu"].isin(cat)].assign(category=lambda d: d["Type équipement ou lieu"].map(cat))
    b = b.merge(com[["code_commune", "epci_code"]], left_on="code_insee", right_on="code_commune", how="inner")
    counts = b.pivot_table(index="epci_code", columns="category", values="count", aggfunc="sum", fill_value=0)
    pop = com.groupby("epci_code")["population"].sum()
    km2 = ep.set_index("epci_code").geometry.to_crs(3035).area / 1e6
    t = pd.DataFrame({"id": ep["epci_code"].astype(str)})
    t["population"] = t["id"].map(pop).astype(float)
    for c in cat.values():
        t[f"venues_per_10k_{c}"] = t["id"].map(counts[c] if c in counts else {}).fillna(0).to_numpy() \
            / t["population"] * 1e4
    t["density"] = t["population"] / t["id"].map(km2)
    rng = np.random.default_rng(92)
    for c in cat.values():
        t[f"time_car_{c}_mean"] = 40 / np.sqrt(t["density"] / 50) + rng.uniform(0, 8, len(t))
    t["poverty_rate"] = rng.uniform(0.08, 0.3, len(t))
    t["in_region"] = True
    return t


def test_an_epci_of_another_region_changes_no_class_of_the_region(hdf_table):
    t = hdf_table
    assert len(t) == 92 and t["population"].sum() == pytest.approx(5_992_194)
    base = typology(t)
    assert set(base["class"]) <= set(CLASSES) and (base["class"] != "no data").all()
    assert base["class"].nunique() >= 3
    # an EPCI of Normandie (extreme values: a big city with every venue) added to the areas
    other = t.iloc[[0]].assign(id="200023414", population=500_000.0, density=5000.0, in_region=False,
                               poverty_rate=0.05, **{c: 60.0 for c in t.columns if c.startswith("venues_per_10k")},
                               **{c: 1.0 for c in t.columns if c.startswith("time_car_")})
    both = typology(pd.concat([t, other], ignore_index=True))
    pd.testing.assert_series_equal(both["class"].iloc[:92].reset_index(drop=True), base["class"],
                                   check_names=False)
    np.testing.assert_allclose(both["cultural_fragility"].iloc[:92], base["cultural_fragility"])
    assert np.isnan(both["class_stability"].iloc[92]) and "outside the region" in both["reason"].iloc[92]
    # not trivial: without the flag the newcomer would shift the z-scores and move some classes
    loose = typology(pd.concat([t, other], ignore_index=True).drop(columns="in_region"))
    assert (loose["class"].iloc[:92].to_numpy() != base["class"].to_numpy()).any()


def test_removing_every_venue_of_a_category_from_an_area_worsens_its_access(tmp_path):
    """Porto Alegre: the 1,227 hexagons (real population) in four quadrant areas, 120 venues in three categories;
    car times to the nearest venue per category from nearest_times, aggregated (population-weighted, shares beyond
    the official bands), then the typology; then every cinema of one quadrant is removed."""
    import geopandas as gpd
    import shapely

    import access
    from access.indicators import aggregate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = access.TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"), modes=("car",),
                                                 cache_dir=tmp_path / "cache")
    hx = pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
    cells = gpd.GeoDataFrame(hx[["id", "population"]].astype({"population": float}),
                             geometry=gpd.points_from_xy(hx.lon, hx.lat), crs=4326)
    x0, y0, x1, y1 = cells.total_bounds
    mx, my = np.median(hx.lon), np.median(hx.lat)
    boxes = [shapely.box(x0 - 1, y0 - 1, mx, my), shapely.box(mx, y0 - 1, x1 + 1, my),
             shapely.box(x0 - 1, my, mx, y1 + 1), shapely.box(mx, my, x1 + 1, y1 + 1)]
    areas = gpd.GeoDataFrame({"id": ["SW", "SE", "NW", "NE"]}, geometry=boxes, crs=4326)
    rng = np.random.default_rng(5)
    v = hx.iloc[np.sort(rng.choice(len(hx), 120, replace=False))][["id", "lon", "lat"]].copy()
    v["id"] = "v" + v["id"].astype(str)
    v["category"] = rng.choice(["library", "cinema", "museum"], len(v), p=[0.5, 0.3, 0.2])
    venues = gpd.GeoDataFrame(v, geometry=gpd.points_from_xy(v.lon, v.lat), crs=4326)

    def access_scores(ven):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            near = access.nearest_times(net, cells, ven, mode="car")
        wide = near.pivot(index="id", columns="category", values="travel_time")
        wide.columns = [f"time_car_{c}" for c in wide.columns]
        vals = wide.reset_index()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agg = aggregate(vals, cells, areas, time_columns=list(wide.columns), count_columns=[],
                            thresholds_min=(5, 10, 15, 30), venues=ven, venue_category="category")
        return typology(agg, stability=False).set_index("id")["access_score"]

    before = access_scores(venues)
    inside = shapely.contains_xy(boxes[3], venues.geometry.x.to_numpy(), venues.geometry.y.to_numpy())
    drop = inside & (venues["category"] == "cinema").to_numpy()
    assert drop.sum() >= 3
    after = access_scores(venues[~drop])
    assert after["NE"] < before["NE"] - 0.05, (before["NE"], after["NE"])


def test_stability_runs_the_variants_that_apply():
    """Only moves that can change something are variants (a weight whose pattern matches no column is not one);
    the variants run are reported."""
    t = _table()
    res = typology(t)
    names = res.attrs["stability_variants"]
    # defaults: supply (2 patterns, one matches), access (2 patterns; the beyond shares come from the within
    # share), social (4 patterns, 2 match), 2 combine weights, 2 thresholds; each x0.8 and x1.2
    assert not any("venues_labelled" in n for n in names)
    assert not any("share_elderly" in n or "density" in n for n in names)
    assert sum("venues_per_10k_*" in n for n in names) == 2
    assert len(names) == 2 * (1 + 2 + 2 + 2 + 2)
    assert not any("transit percentile" in n for n in names)  # no transit-dependent column here
    assert f"class_stability over {len(names)} variants (weights and thresholds)" in res["notes"].iloc[0]


def test_stability_other_transit_percentile():
    """When a used column has a twin at the other transit percentile (``<column>_transit_p75``, what the region
    pipeline writes for the barrier index and the transit times), that twin is one more variant; the twin is never
    an input of the patterns."""
    t = _table().assign(barrier_index=[1.0, -1.0, 0.8, -0.5, 0.1, 0.2])
    t["barrier_index_transit_p75"] = [1.0, -1.0, 0.2, 0.9, 0.1, 0.2]  # c and d change side of the threshold
    cfg = {"social": {"weights": {"barrier_index*": 1.0}}, "stability": {"relative_change": 0.0}}
    res = typology(t, config=cfg)
    assert res.attrs["stability_variants"] == ["transit percentile 75"]
    np.testing.assert_allclose(res["social_fragility"], z(t["barrier_index"]))  # the twin is not matched
    alt = typology(t.assign(barrier_index=t["barrier_index_transit_p75"]).drop(columns="barrier_index_transit_p75"),
                   config=cfg, stability=False)
    same = (res["class"] == alt["class"]).astype(float)
    assert (same == 0).any() and (same == 1).any()
    np.testing.assert_array_equal(res["class_stability"], same)
    assert "barrier_index_transit_p75" in res.columns  # reported as given
    # another percentile configured: the p75 twin is an ordinary column again, no variant
    other = typology(t, config={**cfg, "stability": {"relative_change": 0.0, "transit_percentile": 90}})
    assert other.attrs["stability_variants"] == [] and (other["class_stability"] == 1.0).all()
    # with the default moves too: one more variant than the weights and thresholds alone
    full = typology(t, config={"social": {"weights": {"barrier_index": 1.0}}})
    assert len(full.attrs["stability_variants"]) == 2 * (1 + 2 + 1 + 2 + 2) + 1
