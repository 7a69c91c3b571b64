"""The typology's "other percentile of transit" variant in the region pipeline: the barrier index (the default
social dimension, fed by transit through the no-car times) recomputed with the cells' transit times at the other
percentile, checked against the carless share beyond 30 min computed by hand; and the aggregated twin columns
named as the typology looks for them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from access.indicators.barriers import _nearest_by_category, load_barriers_config
from access.indicators.typology import twin_suffix
from access.region.pipeline import _barrier_index_other_percentile


def test_barrier_index_at_the_other_transit_percentile():
    rng = np.random.default_rng(7)
    n, cats = 60, ["cinema", "library"]
    cells = pd.DataFrame({"id": [f"c{i}" for i in range(n)], "population": rng.uniform(10, 100, n),
                          "households_no_car": rng.uniform(1, 20, n), "census_households": rng.uniform(20, 40, n)})
    suf = twin_suffix(75)
    for c in cats:
        cells[f"time_walk_{c}"] = rng.uniform(20, 90, n)
        cells[f"time_transit_{c}"] = rng.uniform(10, 50, n)
        # the other percentile: later, sometimes unreachable within the trip limit
        slower = cells[f"time_transit_{c}"] + rng.uniform(0, 25, n)
        cells[f"time_transit_{c}{suf}"] = np.where(rng.random(n) < 0.1, np.inf, slower)
    areas = pd.DataFrame({"id": [f"a{k}" for k in range(6)]})
    links = pd.DataFrame({"id": cells["id"], "area": [f"a{i % 6}" for i in range(n)], "weight": 1.0})
    cfg = load_barriers_config({"index": {"weights": {"carless_share_beyond_30min_cinema": 1.0}},
                                "no_car": {"modes": ["walk", "transit"], "threshold_min": 30}})
    nearest = _nearest_by_category(cells, ["walk", "transit"], cats)
    got = _barrier_index_other_percentile(cells, nearest, links, areas, cats, cfg, None)
    assert list(got.columns) == ["id", f"barrier_index{suf}"]
    # by hand: households without a car whose best no-car time (walk or transit at p75) exceeds 30 min
    best = np.minimum(cells["time_walk_cinema"], cells[f"time_transit_cinema{suf}"])
    hh = cells["households_no_car"]
    share = (hh * (best > 30)).groupby(links["area"]).sum() / hh.groupby(links["area"]).sum()
    want = ((share - share.mean()) / share.std(ddof=0)).reindex(areas["id"]).to_numpy()
    np.testing.assert_allclose(got[f"barrier_index{suf}"].to_numpy(float), want, atol=1e-12)
    # the median times give another index: the variant is not a copy
    base = np.minimum(cells["time_walk_cinema"], cells["time_transit_cinema"])
    share0 = (hh * (base > 30)).groupby(links["area"]).sum() / hh.groupby(links["area"]).sum()
    assert not np.allclose(share0.to_numpy(), share.to_numpy())
    # nothing to do without twin columns, or when transit is no no-car mode
    plain = cells.drop(columns=[c for c in cells.columns if c.endswith(suf)])
    assert _barrier_index_other_percentile(plain, nearest, links, areas, cats, cfg, None) is None
    walk_only = load_barriers_config({"no_car": {"modes": ["walk"]}})
    assert _barrier_index_other_percentile(cells, nearest, links, areas, cats, walk_only, None) is None
