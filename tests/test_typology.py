"""Territorial typology: scores, classes, config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from access._data import data_path
from access._errors import InputFileError, ValidationError
from access.indicators import CLASSES, load_typology_config, typology


def _table():
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f"],
        "venues_per_10k_library": [1.0, 5.0, 5.0, 1.0, 3.0, 3.0],
        "venues_per_10k_cinema": [0.1, 0.5, 0.5, 0.1, 0.3, 0.3],
        "time_library_mean": [40.0, 10.0, 10.0, 40.0, 25.0, 25.0],
        "time_library_share_within_30min": [0.2, 0.9, 0.9, 0.2, 0.5, 0.5],
        "poverty_rate": [0.30, 0.10, 0.30, 0.10, 0.20, np.nan],
        "median_income": [18e3, 25e3, 18e3, 25e3, 21e3, 21e3],
    })


def test_defaults_are_documented_and_loaded():
    text = data_path("typology_default.toml").read_text()
    cfg = load_typology_config()
    for sec in ("supply", "access", "social", "combine", "classes"):
        assert f"[{sec}]" in text and sec in cfg
    assert cfg["classes"]["priority_areas"] == []


def test_scores_by_hand_and_classes():
    t = _table()
    res = typology(t, priority_areas=["d"])
    z = lambda s: (s - s.mean()) / s.std(ddof=0)  # noqa: E731
    supply = (z(t.venues_per_10k_library) + z(t.venues_per_10k_cinema)) / 2
    access = (-z(t.time_library_mean) + z(t.time_library_share_within_30min)) / 2
    np.testing.assert_allclose(res.supply_score, supply, rtol=1e-12)
    np.testing.assert_allclose(res.access_score, access, rtol=1e-12)
    np.testing.assert_allclose(res.cultural_fragility, -(0.5 * supply + 0.5 * access) / 1.0, rtol=1e-12)
    # social: poverty (+1) and income (-1); area f has no poverty rate -> income only
    zp, zi = z(t.poverty_rate), z(t.median_income)
    exp_social = np.where(t.poverty_rate.notna(), (zp - zi) / 2, -zi)
    np.testing.assert_allclose(res.social_fragility, exp_social, rtol=1e-12)
    assert res["class"].tolist() == ["cumulates cultural and social fragility", "no particular stake",
                                     "social fragility", "priority contract zone", "no particular stake",
                                     "no particular stake"]
    assert set(res["class"]) <= set(CLASSES)
    assert "in the priority contract list" in res.reason[3] and "cultural fragility +" in res.reason[0]
    assert {"z_poverty_rate", "z_time_library_mean"} <= set(res.columns)
    assert "share_elderly" in res.notes[0]  # inputs the table lacks are named


def test_config_file_overrides(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text('[combine]\nsupply_weight = 1.0\naccess_weight = 0.0\n[classes]\ncultural_threshold = 5\n'
                   'priority_areas = ["b"]\n')
    res = typology(_table(), config=cfg)
    assert res["class"][1] == "priority contract zone"
    assert not res["class"].str.contains("cultural").any()
    np.testing.assert_allclose(res.cultural_fragility, -res.supply_score)
    (tmp_path / "bad.toml").write_text("[combine\n")
    with pytest.raises(InputFileError, match="not valid TOML"):
        typology(_table(), config=tmp_path / "bad.toml")
    with pytest.raises(ValidationError, match="unknown typology config section"):
        typology(_table(), config={"nope": {}})
    with pytest.raises(ValidationError, match="no id column"):
        typology(_table(), area_id="code")
    nodata = _table()
    nodata.loc[:, nodata.columns[1:]] = np.nan
    assert (typology(nodata)["class"] == "insufficient data").all()
