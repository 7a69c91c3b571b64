"""``access serve``: the JSON API against a real server on 127.0.0.1, and the page in headless Chromium.

The demo region is run once per session (car only) into a run folder; the server is started on a free port in a
thread. Every answer is checked against an independent rebuild (a new base state on the edited venues or network).
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import zipfile

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dash", reason="`access serve` needs dash (pip install -e '.[test]')")


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """A run folder of the demo region (car only: the app serves one mode)."""
    from access.cli import main
    from access.synth.demo import make_demo_region

    out = tmp_path_factory.mktemp("serve") / "demo-out"
    make_demo_region(out / "data", seed=42)
    assert main(["run", str(out / "data" / "region.toml"), "--out", str(out), "--modes", "car", "-q"]) == 0
    return out


@pytest.fixture(scope="session")
def engine(demo_run):
    from access.serve import Engine, load_run

    return Engine(load_run(demo_run, mode="car"))


@pytest.fixture(scope="session")
def server(engine):
    from access.serve import make_server

    srv = make_server(engine, host="127.0.0.1", port=0)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_port}", srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def url(server):
    return server[0]


def call(url: str, path: str, body=None, *, sid: str | None = None, raw: bytes | None = None):
    """(status, headers, parsed JSON or bytes) of a GET (body None) or POST."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method="GET" if data is None else "POST",
                                 headers={"Content-Type": "application/json", **({"X-Session-Id": sid} if sid else {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            payload, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        payload, status, headers = e.read(), e.code, e.headers
    ctype = headers.get("Content-Type", "")
    return status, headers, (json.loads(payload) if "json" in ctype else payload)


def far_cell(engine) -> int:
    """The cell farthest (by car) from any venue: a venue there changes its area."""
    t = engine.base_times["any"]
    return int(np.argmax(np.where(np.isfinite(t), t, -1)))


def areas_of(result) -> dict:
    return {a["id"]: a for a in result["areas"]}


def twin_engine(engine, *, venues=None, network=None):
    """An independent rebuild: a new base state from scratch on other venues or another network."""
    from access.serve import Engine

    data = engine.data
    d = type(data)(**{**data.__dict__, **({"venues": venues} if venues is not None else {}),
                      **({"network": network} if network is not None else {})})
    return Engine(d, warmup=False)


def assert_after_equals(result, twin, keys=("time_any_mean", "time_library_mean", "time_any_share_beyond_15min")):
    by = areas_of(result)
    for i, aid in enumerate(twin.area_ids):
        for k in keys:
            got = by[str(aid)]["indicators"][k]["after"]
            exp = twin.base_areas[k][i]
            if got is None:
                assert not np.isfinite(exp), (aid, k)
            else:
                assert got == pytest.approx(exp, abs=1e-9), (aid, k)


# ---------------------------------------------------------------------------------------------- the API
def test_areas_are_the_runs(url, demo_run):
    status, _, res = call(url, "/api/areas")
    assert status == 200
    run = pd.read_parquet(demo_run / "work" / "epci.parquet").set_index("id")
    assert [a["id"] for a in res["areas"]] == list(run.index.astype(str))
    for a in res["areas"]:
        r = run.loc[a["id"]]
        assert a["class"] == r["class"]
        # the app's aggregation of its own base state equals the pipeline's columns
        assert a["indicators"]["time_any_mean"] == pytest.approx(r["time_car_any_mean"], rel=1e-9)
        assert a["indicators"]["time_library_share_beyond_30min"] == pytest.approx(
            1 - r["time_car_library_share_within_30min"], abs=1e-9)
    assert "library" in res["categories"]


def test_add_venue_is_incremental_and_exact(url, engine):
    i = far_cell(engine)
    lon, lat = float(engine.cell_lon[i]), float(engine.cell_lat[i])
    body = {"add_venues": [{"lon": lon, "lat": lat, "category": "library"}]}
    status, headers, res = call(url, "/api/scenario", body, sid="add-test")
    assert status == 200, res
    assert res["elapsed_ms"] < 1000
    assert res["work"]["searches"] == 1 and res["changed_areas"]
    area = engine.area_ids[engine._area_of(np.array([lon]), np.array([lat]))[0]]
    a = areas_of(res)[area]
    assert a["changed"] and a["indicators"]["time_any_mean"]["delta"] < 0
    assert a["population_affected"] > 0 and res["cells"]["changed"] > 0
    assert all(d is None or d <= 1e-9 for d in res["cells"]["delta_min"].values())  # a new venue never hurts
    # equal to a rebuild from scratch with the venue in the base
    v = engine.data.venues
    extra = pd.DataFrame({"id": ["new-1"], "lon": [lon], "lat": [lat], "category": ["library"], "name": ["new"]})
    assert_after_equals(res, twin_engine(engine, venues=pd.concat([v, extra], ignore_index=True)))
    # the same scenario again in this session: nothing to recompute
    _, _, again = call(url, "/api/scenario", body, sid="add-test")
    assert again["work"] == {"searches": 0, "venues_added": 0, "venues_removed": 0, "closure_recomputed": False}
    assert again["areas"] == res["areas"]
    # another session does not see it
    _, _, other = call(url, "/api/scenario", {}, sid="other-session")
    assert other["changed_areas"] == []
    # undo = the previous scenario: one removal, no search, back to the base
    _, _, undo = call(url, "/api/scenario", {"add_venues": []}, sid="add-test")
    assert undo["work"]["venues_removed"] == 1 and undo["work"]["searches"] == 0
    assert undo["changed_areas"] == []
    # redo reuses the stored column
    _, _, redo = call(url, "/api/scenario", body, sid="add-test")
    assert redo["work"]["searches"] == 0 and redo["areas"] == res["areas"]


def test_session_cookie(url):
    status, headers, res = call(url, "/api/scenario", {})
    assert status == 200
    assert "access_session=" in headers.get("Set-Cookie", "") and res["session"]


def test_remove_venue(url, engine):
    vid = str(engine.data.venues["id"].iloc[0])
    status, _, res = call(url, "/api/scenario", {"remove_venues": [vid]}, sid="remove-test")
    assert status == 200 and res["changed_areas"]
    assert res["work"] == {"searches": 0, "venues_added": 0, "venues_removed": 1, "closure_recomputed": False}
    assert all(d is None or d >= -1e-9 for d in res["cells"]["delta_min"].values())
    v = engine.data.venues
    assert_after_equals(res, twin_engine(engine, venues=v[v["id"] != vid].reset_index(drop=True)))


def test_close_streets_equals_rebuild(url, engine):
    from access.scenarios import Scenario

    i = far_cell(engine)
    # a box around the area's most populated cell
    j = int(np.argmax(engine.population))
    x, y = float(engine.cell_lon[j]), float(engine.cell_lat[j])
    ring = [[x - 0.01, y - 0.006], [x + 0.01, y - 0.006], [x + 0.01, y + 0.006], [x - 0.01, y + 0.006]]
    body = {"close_streets": {"polygon": ring}}
    t0 = time.perf_counter()
    status, _, res = call(url, "/api/scenario", body, sid="close-test")
    wall = time.perf_counter() - t0
    assert status == 200, res
    assert res["work"]["closure_recomputed"] and wall < 10
    assert res["changed_areas"]
    assert any(d is None or d > 0 for d in res["cells"]["delta_min"].values())  # closing streets only hurts
    assert all(d is None or d >= -1e-9 for d in res["cells"]["delta_min"].values())
    scn = Scenario.from_dict({"name": "twin", "streets": {"close": [{"name": "c", "polygon": ring,
                                                                     "modes": ["car"]}]}})
    assert_after_equals(res, twin_engine(engine, network=scn.apply(engine.data.network)))
    # a venue on top of the closure: incremental (one search), the closure is not recomputed
    body2 = {**body, "add_venues": [{"lon": float(engine.cell_lon[i]), "lat": float(engine.cell_lat[i]),
                                     "category": "cinema"}]}
    _, _, res2 = call(url, "/api/scenario", body2, sid="close-test")
    assert res2["work"]["searches"] == 1 and not res2["work"]["closure_recomputed"]
    assert res2["elapsed_ms"] < 1000


BAD = [
    ({"add_venues": [{"lat": 50.0}]}, "add_venues[0].lon"),
    ({"add_venues": [{"lon": 2.9, "lat": 50.1, "category": "opera house"}]}, "add_venues[0].category"),
    ({"add_venues": [{"lon": "east", "lat": 50.1}]}, "add_venues[0].lon"),
    ({"add_venues": [{"lon": 120.0, "lat": 50.1}]}, "add_venues[0].lon"),
    ({"add_venues": [{"lon": 2.9, "lat": 50.1, "colour": "red"}]}, "add_venues[0]"),
    ({"add_venues": {"lon": 2.9}}, "add_venues"),
    ({"remove_venues": ["no-such-venue"]}, "remove_venues[0]"),
    ({"close_streets": {"polygon": [[2.9, 50.1], [2.95, 50.1]]}}, "close_streets.polygon"),
    ({"close_streets": {"polygon": [[2.9, 50.1], [2.95, 50.1], ["a", 50.2]]}}, "close_streets.polygon[2][0]"),
    ({"close_streets": {"bbox": [1, 2, 3, 4]}}, "close_streets"),
    ({"add_venue": []}, "add_venue"),
    ({"add_venues": [{"lon": 2.9, "lat": 50.1}] * 201}, "at most 200"),
    ([1, 2], "JSON object"),
]


@pytest.mark.parametrize("body,field", BAD, ids=[f for _, f in BAD])
def test_bad_request_names_the_field(url, body, field):
    status, _, res = call(url, "/api/scenario", body, sid="bad")
    assert status == 400
    assert field in res["error"]


def test_bad_json_and_size(url, engine):
    status, _, res = call(url, "/api/scenario", raw=b"{not json", sid="bad")
    assert status == 400 and "JSON" in res["error"]
    from access.serve.engine import MAX_BODY_BYTES

    status, _, res = call(url, "/api/scenario", raw=b" " * (MAX_BODY_BYTES + 10), sid="bad")
    assert status == 413
    # a point inside the map's extent but off the street network
    b = engine.bbox
    status, _, res = call(url, "/api/scenario", {"add_venues": [{"lon": b[0] + 1e-4, "lat": b[1] + 1e-4}]}, sid="bad")
    assert status == 400 and "off the car network" in res["error"]
    status, _, res = call(url, "/api/scenario", {}, sid="../../etc/passwd")
    assert status == 400 and "session id" in res["error"]


def test_sessions_are_bounded(engine):
    from access.serve.engine import MAX_SESSIONS

    for k in range(MAX_SESSIONS + 5):
        engine.session(f"bound-{k}")
    assert len(engine._sessions) <= MAX_SESSIONS
    assert "bound-0" not in engine._sessions


def test_exports(url, engine):
    from access.scenarios import AccessibilityState, Scenario

    i = far_cell(engine)
    vid = str(engine.data.venues["id"].iloc[1])
    j = int(np.argmax(engine.population))
    x, y = float(engine.cell_lon[j]), float(engine.cell_lat[j])
    ring = [[x - 0.01, y - 0.006], [x + 0.01, y - 0.006], [x + 0.01, y + 0.006], [x - 0.01, y + 0.006]]
    body = {"add_venues": [{"lon": float(engine.cell_lon[i]), "lat": float(engine.cell_lat[i]),
                            "category": "museum", "id": "museum-x"}],
            "remove_venues": [vid], "close_streets": {"polygon": ring}}
    status, _, toml_bytes = call(url, "/api/scenario.toml", body)
    assert status == 200
    scn = Scenario.from_dict(tomllib.loads(toml_bytes.decode()))
    assert [e.kind for e in scn.edits] == ["close", "remove", "add"]
    # the exported file, applied by the library, gives the app's answer
    after = engine.base.apply(scn)
    assert isinstance(after, AccessibilityState)
    _, _, res = call(url, "/api/scenario", body, sid="export-test")
    times = engine._times(after)
    twin = engine._aggregate(times)
    for k, aid in enumerate(engine.area_ids):
        got = areas_of(res)[str(aid)]["indicators"]["time_any_mean"]["after"]
        assert got == pytest.approx(twin["time_any_mean"][k], abs=1e-9)
    status, headers, zbytes = call(url, "/api/compare", body, sid="export-test")
    assert status == 200
    names = set(zipfile.ZipFile(io.BytesIO(zbytes)).namelist())
    assert {"scenario.toml", "summary.csv", "areas.gpkg", "typology_changes.csv", "cells.parquet"} <= names


def test_load_run_errors(demo_run, tmp_path):
    from access._errors import InputFileError, ValidationError
    from access.serve import load_run

    with pytest.raises(ValidationError, match="choose `--mode` among"):
        load_run(demo_run, mode="transit")
    with pytest.raises(InputFileError, match="does not exist"):
        load_run(tmp_path / "nothing")
    broken = tmp_path / "broken"
    shutil.copytree(demo_run / "work", broken / "work")
    with pytest.raises(InputFileError, match="no network bundle"):
        load_run(broken)


def test_cli_defaults_to_localhost():
    from access.commands.serve import command

    opts = {p.name: p for p in command.params}
    assert opts["host"].default == "127.0.0.1" and opts["port"].default == 8765 and opts["mode"].default == "car"


def test_page_and_assets_are_local(url):
    status, _, html = call(url, "/")
    assert status == 200
    text = html.decode()
    assert "cdn" not in text.lower() and "https://" not in text


# ---------------------------------------------------------------------------------------------- the page
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_browser_click_adds_a_venue(url, engine):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install "
                                   "playwright)")
    i = far_cell(engine)
    lon, lat = float(engine.cell_lon[i]), float(engine.cell_lat[i])
    outside, seen = [], []

    def route(r):
        u = r.request.url
        seen.append(u)
        host = urllib.parse.urlsplit(u).hostname
        if u.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            outside.append(u)
            r.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.route("**/*", route)
            page.goto(url + "/", wait_until="domcontentloaded", timeout=60000)
            page.wait_for_selector("#map .js-plotly-plot .scatterlayer", timeout=60000)
            page.wait_for_selector("#panel #summary", timeout=60000)
            assert "No EPCI changes" in page.inner_text("#panel")
            xy = page.evaluate("""([lon, lat]) => {
                const gd = document.querySelector('#map .js-plotly-plot');
                const fl = gd._fullLayout, r = gd.getBoundingClientRect();
                return [r.left + fl._size.l + fl.xaxis.l2p(lon), r.top + fl._size.t + fl.yaxis.l2p(lat)];
            }""", [lon, lat])
            t0 = time.perf_counter()
            page.mouse.click(xy[0], xy[1])
            page.wait_for_selector("#changes td.delta", timeout=2000)
            dt = time.perf_counter() - t0
            delta = page.inner_text("#changes td.delta")
            assert delta.startswith("-"), delta  # a venue opened: closer
            drawn = page.evaluate("() => document.querySelector('#map .js-plotly-plot').data.map(t => t.name)")
            assert "new venues" in drawn  # the star is drawn
        finally:
            browser.close()
    assert dt < 2.0
    assert outside == [], f"requests left 127.0.0.1: {outside[:5]}"
    assert seen and all(urllib.parse.urlsplit(u).hostname == "127.0.0.1" for u in seen
                        if not u.startswith(("data:", "blob:")))
