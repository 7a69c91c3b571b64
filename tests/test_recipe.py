"""Region recipes: the Hauts-de-France recipe parses and names every source with url/format/licence; bad recipes
fail with messages naming the key and the fix."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from tests._data import test_data_dir as _test_data_dir
from access._errors import InputFileError, ValidationError
from access.region.recipe import SOURCE_FORMATS, SOURCE_KINDS, VENUE_CATEGORIES, Recipe

ROOT = Path(__file__).resolve().parents[1]
HDF = ROOT / "networks" / "hauts-de-france.toml"


def test_hauts_de_france_recipe_parses():
    r = Recipe.from_file(HDF)
    assert r.name == "Hauts-de-France"
    assert r.modes == ("walk", "bike", "car", "transit") and r.thresholds_min == (10, 20, 30, 45)
    assert isinstance(r.date, dt.date) and r.date.weekday() < 5 and r.departure_s == 14 * 3600
    assert r.window_min > 0 and r.max_time_min >= 45
    assert set(r.categories) <= set(VENUE_CATEGORIES) and "cinema" in r.categories
    assert r.bbox is not None and r.osm_clip_buffer_km > 0
    lon0, lat0, lon1, lat1 = r.clip_bbox()
    assert lon0 < r.bbox[0] and lat1 > r.bbox[3]  # the buffer grows the box
    assert (r.bbox[2] - r.bbox[0]) > 2.5 and (r.bbox[3] - r.bbox[1]) > 2.0  # the five departments


def test_every_source_has_url_format_licence():
    r = Recipe.from_file(HDF)
    for s in r.sources.values():
        assert (s.url and s.url.startswith("https://")) or s.aom or s.dataset, s.name
        assert s.format in SOURCE_FORMATS and s.kind in SOURCE_KINDS, s.name
        assert s.licence.strip(), s.name
    kinds = {s.kind for s in r.enabled_sources()}
    # BPE is out of the default recipe (documented there); every other kind is there, the census housing base and
    # the IRIS contours (issue 16) included
    assert kinds == set(SOURCE_KINDS) - {"bpe"}
    assert "insee.fr" in r.sources["census_logement"].url and r.sources["census_logement"].url.endswith("_csv.zip")
    assert "data.geopf.fr" in r.sources["iris"].url and "LAMB93_FXX" in r.sources["iris"].extract
    assert r.departments == ("02", "59", "60", "62", "80") and r.has_region and r.venue_buffer_km == 15
    osm = [s.url for s in r.enabled_sources("osm")]
    assert any("nord-pas-de-calais" in u for u in osm) and any("picardie" in u for u in osm)
    assert all("geofabrik.de" in u for u in osm)
    gtfs = r.enabled_sources("gtfs")
    assert len(gtfs) >= 14 and all((s.url and ("transport.data.gouv.fr" in s.url or "ilevia" in s.url)) or s.aom
                                   for s in gtfs)
    assert "insee.fr" in r.sources["filosofi_200m"].url and r.sources["filosofi_200m"].extract
    assert "/latest/" not in r.sources["epci"].url  # a dated, pinned path
    # the raw TOML has a licence written for every source (not a default)
    raw = tomllib.loads(HDF.read_text())
    assert all("licence" in v and ("url" in v or "aom" in v) and "format" in v for v in raw["sources"].values())


def test_priority_zones_are_real_hauts_de_france_epci():
    r = Recipe.from_file(HDF)
    names = {z.name for z in r.priority_zones}
    assert names == {"Sambre-Avesnois-Thiérache", "Bassin minier", "Calaisis"}
    p = _test_data_dir() / "hauts_de_france" / "communes_epci_2026.csv"
    if not p.exists():
        pytest.skip(f"real data absent: {p}")
    com = pd.read_csv(p, dtype=str)
    epci = dict(zip(com["epci_code"], com["epci_nom"]))
    deps = com.groupby("epci_code")["dep"].agg(set).to_dict()
    all_codes = [c for z in r.priority_zones for c in z.epci]
    assert len(all_codes) == len(set(all_codes))  # zones do not overlap
    for z in r.priority_zones:
        for c in z.epci:
            assert c in epci, (z.name, c)
    zone = {z.name: z for z in r.priority_zones}
    assert {d for c in zone["Calaisis"].epci for d in deps[c]} == {"62"}
    assert {d for c in zone["Bassin minier"].epci for d in deps[c]} == {"59", "62"}
    assert {d for c in zone["Sambre-Avesnois-Thiérache"].epci for d in deps[c]} == {"59", "02"}
    assert epci["200090751"] == "CA Grand Calais Terres et Mers" and "200090751" in zone["Calaisis"].epci
    assert any("Lens" in epci[c] for c in zone["Bassin minier"].epci)
    assert any("Maubeuge" in epci[c] for c in zone["Sambre-Avesnois-Thiérache"].epci)


def _base():
    return {"region": {"name": "X"},
            "analysis": {"date": "2026-03-10", "departure": "08:00", "modes": ["walk"], "thresholds_min": [10, 20]},
            "venues": {"categories": ["cinema"]},
            "sources": {"osm": {"kind": "osm", "format": "osm.pbf", "licence": "ODbL", "url": "https://e.org/x.pbf"}}}


def _with(path, value):
    d = _base()
    if len(path) == 1 and path[0] not in d:  # a new table
        d[path[0]] = value
        return d
    cur = d
    for k in path[:-1]:
        cur = cur[k]
    if value is None:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return d


@pytest.mark.parametrize("path,value,match", [
    (("analysis", "modes"), ["walk", "plane"], r"`analysis.modes` has unknown mode\(s\) \['plane'\]; choose among"),
    (("analysis", "thresholds_min"), [20, 10], r"`analysis.thresholds_min` must be strictly increasing"),
    (("analysis", "thresholds_min"), [10, -5], r"`analysis.thresholds_min` must be a non-empty list of positive"),
    (("analysis", "departure"), "8h", r"`analysis.departure` must be a time HH:MM.*e.g. departure = \"08:00\""),
    (("analysis", "date"), "2026-13-01", r"`analysis.date` is not a date"),
    (("analysis", "window"), 10, r"`analysis.window` is not a known key"),
    (("analysis", "max_time_min"), 5, r"`analysis.max_time_min` must be an integer >= the largest threshold"),
    (("venues", "categories"), ["opera"], r"`venues.categories` has unknown categor"),
    (("region", "bbox"), [3, 50, 2, 51], r"`region.bbox` is not a lon/lat box"),
    (("sources", "osm", "licence"), None, r"`sources.osm.licence` is missing; name the licence"),
    (("sources", "osm", "format"), "pbf", r"`sources.osm.format` must be one of"),
    (("sources", "osm", "kind"), "roads", r"`sources.osm.kind` must be one of"),
    (("sources", "osm", "url"), "ftp://x", r"`sources.osm.url` must be an http\(s\) URL"),
    (("sources", "osm", "url"), None, r"`sources.osm` must have exactly one of `url` and `path`"),
    (("sources", "osm", "sha256"), "abc", r"`sources.osm.sha256` must be 64 hex digits"),
    (("sources", "osm", "colour"), "red", r"`sources.osm.colour` is not a known key"),
    (("region",), None, r"`\[region\]` is missing"),
    (("analysis", "window_mni"), 3, r"`analysis.window_mni` is not a known key; did you mean `window_min`\?"),
    (("region", "departmnts"), ["59"], r"`region.departmnts` is not a known key; did you mean `departments`\?"),
    (("analysis", "window_min"), "10", r"`analysis.window_min` must be an integer number of minutes"),
    (("region", "venue_buffer_km"), 500, r"`region.venue_buffer_km` must be a number of km in \[0, 200\], got 500"),
    (("region", "departments"), ["59", "5"], r"`region.departments` has codes that are not INSEE department codes"),
    (("region", "departments"), ["59"], r"`region.departments` needs the commune -> EPCI membership"),
    (("region", "epci"), ["1234"], r"`region.epci` has codes that are not 9-digit EPCI SIREN codes"),
    (("sources", "osm", "dataset"), "abc", r"`sources.osm` must have exactly one of `url` and `path`"),
    (("analysis", "access_mode"), "train", r"`analysis.access_mode` must be one of 'walk', 'bike', 'car'"),
    (("analysis", "max_bike_min"), -3, r"`analysis.max_bike_min` must be a number of minutes in \[0, 1440\]"),
    (("analysis", "max_car_min"), "10", r"`analysis.max_car_min` must be a number of minutes"),
    (("network",), {"elevation": "dem.png"}, r"`network.elevation` must be the path of a GeoTIFF DEM"),
    (("network",), {"elevation": 3}, r"`network.elevation` must be a path to a GeoTIFF DEM"),
    (("network",), {"elevaton": "dem.tif"}, r"`network.elevaton` is not a known key; did you mean `elevation`\?"),
])
def test_validation_errors_name_key_and_fix(path, value, match):
    with pytest.raises(ValidationError, match=match):
        Recipe.from_dict(_with(path, value))


def test_priority_zone_errors():
    d = _base()
    d["areas"] = {"priority_zones": [{"name": "Z", "epci": ["12345"]}]}
    with pytest.raises(ValidationError, match=r"`areas.priority_zones\[0\].epci` has codes that are not 9-digit"):
        Recipe.from_dict(d)
    d["areas"] = {"priority_zones": [{"name": "Z", "epci": ["200090751"]}, {"name": "Z", "epci": ["200072478"]}]}
    with pytest.raises(ValidationError, match="two zones with the same name"):
        Recipe.from_dict(d)


def test_local_paths_resolve_against_the_recipe(tmp_path):
    d = _with(("sources", "osm", "url"), None)
    d["sources"]["osm"]["path"] = "demo/region.osm.pbf"
    d["areas"] = {"typology": "typo.toml"}
    (tmp_path / "r.toml").write_text("")
    r = Recipe.from_dict(d, path=tmp_path / "r.toml")
    assert r.sources["osm"].path == (tmp_path / "demo" / "region.osm.pbf").resolve()
    assert r.source_file("osm") == r.sources["osm"].path and not r.sources["osm"].is_remote
    assert r.typology_path() == tmp_path / "typo.toml"
    assert r.lock_path == tmp_path / "r.lock.json"


def test_access_mode_and_elevation_keys(tmp_path):
    d = _base()
    d["analysis"].update(access_mode="bike", max_bike_min=20)
    d["network"] = {"elevation": "dem/poa.tif"}
    (tmp_path / "r.toml").write_text("")
    r = Recipe.from_dict(d, path=tmp_path / "r.toml")
    assert r.elevation == (tmp_path / "dem" / "poa.tif").resolve()
    to = r.transit_options()
    assert (to.access_mode, to.max_bike_min, to.max_car_min) == ("bike", 20.0, None)
    r0 = Recipe.from_dict(_base())
    assert r0.elevation is None and r0.access_mode == "walk"


def test_file_errors(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        Recipe.from_file(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[region\nname = 1")
    with pytest.raises(InputFileError, match="not valid TOML"):
        Recipe.from_file(tmp_path / "bad.toml")
