"""`access fetch` against a local HTTP server on 127.0.0.1 (Range resume, cut connections, 404, 5xx, stalls)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from pathlib import Path

import pytest

from access._errors import FetchError, InputFileError
from access.region.fetch import (
    ChecksumMismatch,
    download,
    extract_member,
    fetch_recipe,
    prepare_osm,
    read_lock,
)
from access.region.recipe import Recipe
from tests._data import test_data_dir as _test_data_dir


class _State:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, list[str]] = {}  # path -> queue of behaviours for successive requests
        self.ignore_range: set[str] = set()
        self.no_validator: set[str] = set()  # paths served without ETag/Last-Modified
        self.requests: list[tuple[str, str | None]] = []
        self.if_range: list[str | None] = []
        self.release = threading.Event()
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    state: _State = None  # set per server

    def log_message(self, *a):  # silence
        pass

    def do_GET(self):
        st = self.state
        path = self.path
        rng = self.headers.get("Range")
        with st.lock:
            st.requests.append((path, rng))
            st.if_range.append(self.headers.get("If-Range"))
            queue = st.behaviour.get(path) or []
            how = queue.pop(0) if queue else "ok"
        if how == "404" or path not in st.files:
            self.send_error(404, "Not Found")
            return
        if how == "500":
            self.send_error(503, "Service Unavailable")
            return
        data = st.files[path]
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        if rng and self.headers.get("If-Range") not in (etag, None) and path not in st.no_validator:
            rng = None  # RFC 9110: the file changed, send it whole
        start = 0
        if rng and path not in st.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if path not in st.no_validator:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if how == "cut":  # send part of the body, then drop the connection
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        if how == "stall":  # send a little, then nothing until the test ends
            self.wfile.write(body[:100])
            self.wfile.flush()
            st.release.wait(10)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    st = _State()
    handler = type("H", (_Handler,), {"state": st})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    st.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield st
    st.release.set()
    srv.shutdown()
    srv.server_close()


def _blob(n=200_000, seed=1):
    import random

    rnd = random.Random(seed)
    return bytes(rnd.getrandbits(8) for _ in range(n))


def _sha(b):
    return hashlib.sha256(b).hexdigest()


FAST = dict(timeout_s=2.0, retries=3, backoff_s=0.01, progress=False)


def test_plain_download(server, tmp_path):
    data = _blob()
    server.files["/a.bin"] = data
    res = download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data
    assert res.sha256 == _sha(data) and res.size_bytes == len(data) and res.attempts == 1
    assert not (tmp_path / "a.bin.part").exists()


def test_resume_after_cut_connection(server, tmp_path):
    data = _blob()
    server.files["/a.bin"] = data
    server.behaviour["/a.bin"] = ["cut"]
    res = download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data
    assert res.attempts == 2 and res.resumed
    # the second request asked for the rest only, from the byte where the first stopped
    first_len = len(data) // 3
    assert server.requests[0] == ("/a.bin", None)
    assert server.requests[1] == ("/a.bin", f"bytes={first_len}-")
    assert server.if_range[1] == f'"{_sha(data)[:16]}"'  # resumed only for the same upstream version
    assert not (tmp_path / "a.bin.part").exists() and not (tmp_path / "a.bin.part.json").exists()


def test_resume_of_leftover_part_file(server, tmp_path):
    data = _blob()
    server.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(data[:12345])
    (tmp_path / "a.bin.part.json").write_text(json.dumps({"url": server.base + "/a.bin",
                                                          "etag": f'"{_sha(data)[:16]}"'}))
    res = download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data and res.resumed
    assert server.requests == [("/a.bin", "bytes=12345-")]


def test_part_file_without_validator_restarts_from_zero(server, tmp_path):
    data = _blob()
    server.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(b"x" * 12345)  # from who knows which version
    download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data and server.requests == [("/a.bin", None)]


def test_upstream_change_between_cut_and_resume_is_never_spliced(server, tmp_path):
    old, new = _blob(seed=1), _blob(seed=2)
    server.files["/a.bin"] = old
    server.behaviour["/a.bin"] = ["cut"]
    with pytest.raises(FetchError):
        download(server.base + "/a.bin", tmp_path / "a.bin", timeout_s=2.0, retries=0, progress=False)
    assert (tmp_path / "a.bin.part").stat().st_size == len(old) // 3
    server.files["/a.bin"] = new  # a new upstream version before the next `access fetch`
    res = download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == new and res.sha256 == _sha(new)
    assert server.requests[-1] == ("/a.bin", f"bytes={len(old) // 3}-")  # asked to resume, got the whole new file


def test_server_without_validators_is_not_resumed(server, tmp_path):
    data = _blob()
    server.files["/a.bin"] = data
    server.no_validator.add("/a.bin")
    server.behaviour["/a.bin"] = ["cut"]
    download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data
    assert [r for _, r in server.requests] == [None, None]  # no Range without If-Range


def test_complete_part_file_gets_416_and_is_accepted(server, tmp_path):
    data = _blob(5000)
    server.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(data)
    download(server.base + "/a.bin", tmp_path / "a.bin", expected_sha256=_sha(data), **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    data = _blob()
    server.files["/a.bin"] = data
    server.behaviour["/a.bin"] = ["cut"]
    server.ignore_range.add("/a.bin")
    download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data  # not a concatenation of two starts


def test_404_fails_at_once_naming_url_and_status(server, tmp_path):
    url = server.base + "/missing.zip"
    with pytest.raises(FetchError, match=r"missing\.zip.*HTTP 404"):
        download(url, tmp_path / "m.zip", **FAST)
    assert len(server.requests) == 1  # no retry on a client error
    assert not (tmp_path / "m.zip").exists() and not (tmp_path / "m.zip.part").exists()


def test_5xx_is_retried_with_backoff(server, tmp_path):
    data = _blob(3000)
    server.files["/a.bin"] = data
    server.behaviour["/a.bin"] = ["500", "500"]
    res = download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert res.attempts == 3 and (tmp_path / "a.bin").read_bytes() == data


def test_5xx_until_retries_exhausted(server, tmp_path):
    server.files["/a.bin"] = b"x"
    server.behaviour["/a.bin"] = ["500"] * 10
    with pytest.raises(FetchError, match=r"after 2 attempt\(s\): HTTP 503"):
        download(server.base + "/a.bin", tmp_path / "a.bin", timeout_s=2, retries=1, backoff_s=0.01, progress=False)
    assert not (tmp_path / "a.bin").exists()


def test_stalled_server_times_out(server, tmp_path):
    server.files["/a.bin"] = _blob()
    server.behaviour["/a.bin"] = ["stall", "stall"]
    with pytest.raises(FetchError, match="stalled"):
        download(server.base + "/a.bin", tmp_path / "a.bin", timeout_s=0.3, retries=1, backoff_s=0.01,
                 progress=False)
    assert not (tmp_path / "a.bin").exists()  # never a partial file under the final name
    assert (tmp_path / "a.bin.part").stat().st_size == 200  # 100 bytes per attempt, kept for the next run to resume
    assert server.if_range[1] is not None


def test_unreachable_host_fails_fast_with_one_line_per_source(tmp_path):
    import socket
    import time

    with socket.socket() as sk:  # a port nobody listens on: connection refused at once
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    rp = tmp_path / "r.toml"
    rp.write_text(f"""
[region]
name = "Offline"
[analysis]
date = 2026-03-10
departure = "08:00"
modes = ["walk"]
thresholds_min = [10]
[venues]
categories = ["cinema"]
[sources.a]
kind = "osm"
format = "osm.pbf"
licence = "ODbL"
url = "http://127.0.0.1:{port}/a.osm.pbf"
[sources.b]
kind = "basilic"
format = "csv"
licence = "LO"
url = "http://127.0.0.1:{port}/b.csv"
""")
    t0 = time.perf_counter()
    with pytest.raises(FetchError) as ei:
        fetch_recipe(Recipe.from_file(rp), cache_dir=tmp_path / "c", retries=5, backoff_s=1.0, progress=False)
    assert time.perf_counter() - t0 < 3.0  # no retries, no backoff
    msg = str(ei.value)
    lines = [ln for ln in msg.splitlines() if ln.startswith("  - ")]
    assert len(lines) == 2 and "cannot be reached" in lines[0]
    assert str(tmp_path / "c" / "a.osm.pbf") in lines[0] and str(tmp_path / "c" / "b.csv") in lines[1]
    assert "to place the file by hand" in lines[1]


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.files["/a.bin"] = _blob(1000)
    with pytest.raises(ChecksumMismatch, match="sha256"):
        download(server.base + "/a.bin", tmp_path / "a.bin", expected_sha256="0" * 64, **FAST)
    assert not (tmp_path / "a.bin").exists() and not (tmp_path / "a.bin.part").exists()
    with pytest.raises(ChecksumMismatch, match="expected 5"):
        download(server.base + "/a.bin", tmp_path / "a.bin", expected_size=5, **FAST)


# ------------------------------------------------------------------------------------------- recipes
def _write_recipe(tmp_path, base, sources: dict, name="test.toml"):
    lines = ['[region]\nname = "Testland"\n', "[analysis]\ndate = 2026-03-10\ndeparture = \"08:00\"\n"
             'modes = ["walk"]\nthresholds_min = [10, 20]\n', '[venues]\ncategories = ["cinema"]\n']
    for sname, extra in sources.items():
        lines.append(f"[sources.{sname}]\n" + extra + "\n")
    p = tmp_path / name
    p.write_text("\n".join(lines).replace("BASE", base))
    return p


def _src(path, kind="gtfs", fmt="gtfs.zip", more=""):
    return f'kind = "{kind}"\nformat = "{fmt}"\nlicence = "test"\nurl = "BASE{path}"\n{more}'


def test_fetch_recipe_writes_lock_then_uses_cache(server, tmp_path):
    a, b = _blob(4000, 1), _blob(6000, 2)
    server.files.update({"/a.zip": a, "/b.zip": b})
    rp = _write_recipe(tmp_path, server.base, {"a": _src("/a.zip"), "b": _src("/b.zip")})
    cache = tmp_path / "cache"
    rep = fetch_recipe(rp, cache_dir=cache, **FAST)
    assert rep.status == {"a": "downloaded", "b": "downloaded"}
    lock = json.loads((tmp_path / "test.lock.json").read_text())
    assert lock["sources"]["a"]["sha256"] == _sha(a) and lock["sources"]["b"]["size_bytes"] == len(b)
    assert lock["sources"]["a"]["url"] == server.base + "/a.zip"
    n = len(server.requests)
    rep = fetch_recipe(rp, cache_dir=cache, **FAST)
    assert rep.status == {"a": "cached", "b": "cached"} and len(server.requests) == n  # no new request
    assert rep.files["a"].read_bytes() == a


def test_changed_upstream_is_an_error_unless_update(server, tmp_path):
    a = _blob(4000, 1)
    server.files["/a.zip"] = a
    rp = _write_recipe(tmp_path, server.base, {"a": _src("/a.zip")})
    cache = tmp_path / "cache"
    fetch_recipe(rp, cache_dir=cache, **FAST)
    lock_before = (tmp_path / "test.lock.json").read_bytes()
    # upstream publishes a new version; a fresh machine (empty cache) downloads it
    a2 = _blob(4100, 7)
    server.files["/a.zip"] = a2
    (cache / "a.gtfs.zip").unlink()
    with pytest.raises(ChecksumMismatch, match=r"upstream file changed.*--update"):
        fetch_recipe(rp, cache_dir=cache, **FAST)
    assert not (cache / "a.gtfs.zip").exists()  # the new file is not silently used
    assert (tmp_path / "test.lock.json").read_bytes() == lock_before  # lock untouched on failure
    rep = fetch_recipe(rp, cache_dir=cache, update=True, **FAST)
    assert rep.status["a"] == "downloaded" and rep.files["a"].read_bytes() == a2
    assert read_lock(tmp_path / "test.lock.json")["sources"]["a"]["sha256"] == _sha(a2)


def test_recipe_sha_pin_is_enforced(server, tmp_path):
    server.files["/a.zip"] = _blob(100)
    rp = _write_recipe(tmp_path, server.base, {"a": _src("/a.zip", more=f'sha256 = "{"ab" * 32}"\n')})
    with pytest.raises(ChecksumMismatch, match="pins sha256"):
        fetch_recipe(rp, cache_dir=tmp_path / "c", **FAST)
    assert not (tmp_path / "test.lock.json").exists()


def test_lock_written_only_when_every_source_succeeds(server, tmp_path):
    server.files["/a.zip"] = _blob(100)
    rp = _write_recipe(tmp_path, server.base, {"a": _src("/a.zip"), "b": _src("/gone.zip")})
    with pytest.raises(FetchError, match=r"gone\.zip.*HTTP 404"):
        fetch_recipe(rp, cache_dir=tmp_path / "c", **FAST)
    assert not (tmp_path / "test.lock.json").exists()
    assert not (tmp_path / "c" / "b.gtfs.zip").exists()
    # the good file is complete in the cache; once the URL is fixed, it is reused and both are locked
    server.files["/gone.zip"] = _blob(50, 3)
    rep = fetch_recipe(rp, cache_dir=tmp_path / "c", **FAST)
    assert rep.status == {"a": "cached", "b": "downloaded"}
    assert set(read_lock(tmp_path / "test.lock.json")["sources"]) == {"a", "b"}


def test_disabled_and_local_sources(server, tmp_path):
    local = tmp_path / "local.csv"
    local.write_text("x\n1\n")
    rp = _write_recipe(tmp_path, server.base, {
        "off": _src("/never.zip", more="enabled = false\n"),
        "loc": 'kind = "basilic"\nformat = "csv"\nlicence = "test"\npath = "local.csv"\n'})
    rep = fetch_recipe(rp, cache_dir=tmp_path / "c", **FAST)
    assert rep.status == {"off": "disabled", "loc": "local"} and rep.files["loc"] == local.resolve()
    assert server.requests == []
    assert not (tmp_path / "test.lock.json").exists()  # nothing downloaded, nothing to lock


def test_extract_member_from_zip(server, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("folder/BPE25.csv", "TYPEQU;DEPCOM\nF303;59350\n")
        z.writestr("readme.txt", "x")
    server.files["/bpe.zip"] = buf.getvalue()
    rp = _write_recipe(tmp_path, server.base, {"bpe": _src("/bpe.zip", "bpe", "zip", 'extract = "BPE25.csv"\n')})
    rep = fetch_recipe(rp, cache_dir=tmp_path / "c", **FAST)
    assert rep.files["bpe"].read_text().startswith("TYPEQU;DEPCOM")
    with pytest.raises(Exception, match="no member named 'nope.csv'"):
        extract_member(tmp_path / "c" / "bpe.zip", "nope.csv", tmp_path / "x.csv")


def test_cli_fetch(server, tmp_path):
    from click.testing import CliRunner

    from access.commands.fetch import command

    server.files["/a.zip"] = _blob(2000)
    rp = _write_recipe(tmp_path, server.base, {"a": _src("/a.zip")})
    args = [str(rp), "--cache", str(tmp_path / "c"), "--timeout", "2", "--retries", "1", "-q"]
    r = CliRunner().invoke(command, args)
    assert r.exit_code == 0, r.output
    assert "downloaded" in r.output and "lock file" in r.output
    r = CliRunner().invoke(command, args)
    assert r.exit_code == 0 and "cached" in r.output
    server.files["/b.zip"] = b""
    rp2 = _write_recipe(tmp_path, server.base, {"z": _src("/nothing-here.zip")}, name="bad.toml")
    r = CliRunner().invoke(command, [str(rp2), "--cache", str(tmp_path / "c2"), "--retries", "0", "-q"])
    assert r.exit_code != 0 and isinstance(r.exception, FetchError) and "HTTP 404" in str(r.exception)


def test_hauts_de_france_recipe_cache_paths(tmp_path):
    root = Path(__file__).resolve().parents[1]
    r = Recipe.from_file(root / "networks" / "hauts-de-france.toml")
    from access.region.fetch import recipe_osm_path

    assert recipe_osm_path(r, tmp_path) == tmp_path / "hauts-de-france-clipped.osm.pbf"
    assert r.lock_path == root / "networks" / "hauts-de-france.lock.json"


# ------------------------------------------------------------------------------------------- OSM
def _nantes():
    p = _test_data_dir() / "nantes" / "nantes_subset.osm.pbf"
    if not p.exists():
        pytest.skip(f"real data absent: {p}")
    return p


def _read(pbf):
    import osmium

    nodes, ways, ways_nodes, rel_ways = {}, set(), {}, set()
    _read.tagged = set()
    for o in osmium.FileProcessor(str(pbf)):
        if len(o.tags):
            _read.tagged.add((o.type_str(), o.id))
        if o.is_node():
            nodes[o.id] = (o.location.lon, o.location.lat)
        elif o.is_way():
            ways.add(o.id)
            ways_nodes[o.id] = [n.ref for n in o.nodes]
        elif o.is_relation():
            rel_ways.update(m.ref for m in o.members if m.type == "w")
    _read.rel_ways = rel_ways
    return nodes, ways, ways_nodes


def test_prepare_osm_clip_is_reference_complete(tmp_path):
    src = _nantes()
    nodes, ways, ways_nodes = _read(src)
    tagged = _read.tagged
    lons = sorted(v[0] for v in nodes.values())
    lats = sorted(v[1] for v in nodes.values())
    bbox = (lons[len(lons) // 4], lats[len(lats) // 4], lons[len(lons) // 2], lats[len(lats) // 2])
    out = prepare_osm([src], tmp_path / "clip.osm.pbf", bbox=bbox, use_osmium_tool=False)
    cn, cw, cwn = _read(out)

    def inside(nid):
        lon, lat = nodes[nid]
        return bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]

    expected_ways = {w for w, ns in ways_nodes.items()
                     if ("w", w) in tagged and any(n in nodes and inside(n) for n in ns)}
    # naive twin: a tagged way is kept iff one of its nodes lies in the box; other ways only as relation members
    assert expected_ways <= cw
    assert cw - expected_ways <= _read.rel_ways
    assert 0 < len(cw) < len(ways)
    for w in cw:  # every kept way has all its nodes (those the source extract itself holds)
        assert all(n in cn for n in cwn[w] if n in nodes)
    assert {n for n in nodes if inside(n) and ("n", n) in tagged} <= set(cn)
    assert not (tmp_path / "clip.osm.pbf.part").exists()


def test_prepare_osm_merge_removes_duplicates(tmp_path):
    src = _nantes()
    copy = tmp_path / "copy.osm.pbf"
    copy.write_bytes(src.read_bytes())
    out = prepare_osm([src, copy], tmp_path / "merged.osm.pbf", bbox=None, use_osmium_tool=False)
    n0, w0, _ = _read(src)
    n1, w1, _ = _read(out)
    assert set(n1) == set(n0) and w1 == w0


def test_streaming_merge_of_two_overlapping_extracts_equals_osmium_merge(tmp_path):
    import osmium

    from access.region.fetch import merge_sorted_extracts

    src = _nantes()
    nodes, _, _ = _read(src)
    lons = sorted(v[0] for v in nodes.values())
    lat0, lat1 = min(v[1] for v in nodes.values()), max(v[1] for v in nodes.values())
    west = prepare_osm([src], tmp_path / "west.osm.pbf", bbox=(lons[0], lat0, lons[len(lons) * 3 // 5], lat1),
                       use_osmium_tool=False)
    east = prepare_osm([src], tmp_path / "east.osm.pbf", bbox=(lons[len(lons) * 2 // 5], lat0, lons[-1], lat1),
                       use_osmium_tool=False)
    out = merge_sorted_extracts([west, east], tmp_path / "merged.osm.pbf")

    def objects(p):
        return [(o.type_str(), o.id) for o in osmium.FileProcessor(str(p))]

    got, w, e = objects(out), objects(west), objects(east)
    assert len(set(w) & set(e)) > 1000  # the extracts overlap
    assert len(got) == len(set(got)) and set(got) == set(w) | set(e)
    assert got == sorted(got, key=lambda t: ("nwr".index(t[0]), t[1]))
    twin = tmp_path / "twin.osm.pbf"  # the independent twin: libosmium's own merge (in memory)
    reader = osmium.MergeInputReader()
    for p in (west, east):
        reader.add_file(str(p))
    with osmium.SimpleWriter(str(twin)) as wr:
        reader.apply(wr, simplify=True)
    assert got == objects(twin)


def test_member_inside_inner_7z_is_extracted_without_a_7z_program(tmp_path):
    from tests.fixtures_sources import write_filosofi_zip

    z = write_filosofi_zip(tmp_path, n=5)
    with zipfile.ZipFile(z) as zf:
        assert zf.namelist() == ["Filosofi2019_carreaux_200m_gpkg.7z"]
    out = extract_member(z, "carreaux_200m_met.gpkg", tmp_path / "out.gpkg")
    import geopandas as gpd

    g = gpd.read_file(out)
    assert len(g) == 5 and g.crs.to_epsg() == 2154
    with pytest.raises(InputFileError, match=r"holds no 'nope.gpkg'"):
        extract_member(z, "nope.gpkg", tmp_path / "x.gpkg")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("Filosofi2019_carreaux_200m_gpkg.7z", b"7z\xbc\xaf\x27\x1c not really")
    with pytest.raises(InputFileError, match=r"not a readable 7-Zip archive"):
        extract_member(bad, "carreaux_200m_met.gpkg", tmp_path / "out2.gpkg")
    assert not (tmp_path / "out2.gpkg").exists()


def test_fetch_recipe_clips_local_osm_to_bbox(tmp_path):
    from access.region.fetch import recipe_osm_path

    src = _nantes()
    rp = tmp_path / "n.toml"
    rp.write_text(f'''[region]
name = "Nantes"
bbox = [-1.560, 47.205, -1.550, 47.215]
osm_clip_buffer_km = 0.5
[analysis]
date = 2014-06-10
departure = "08:00"
modes = ["walk"]
thresholds_min = [10]
[venues]
categories = ["library"]
[sources.osm]
kind = "osm"
format = "osm.pbf"
licence = "ODbL-1.0"
path = "{src}"
''')
    r = Recipe.from_file(rp)
    rep = fetch_recipe(r, cache_dir=tmp_path / "c", progress=False)
    assert rep.status == {"osm": "local"} and rep.osm_path == recipe_osm_path(r, tmp_path / "c")
    n0, w0, _ = _read(src)
    n1, w1, _ = _read(rep.osm_path)
    assert 0 < len(w1) < len(w0)
    mtime = rep.osm_path.stat().st_mtime_ns
    rep = fetch_recipe(r, cache_dir=tmp_path / "c", progress=False)  # up to date: not rebuilt
    assert rep.osm_path.stat().st_mtime_ns == mtime


def test_clipped_osm_is_rebuilt_when_a_local_extract_changes(tmp_path):
    src = _nantes()
    local = tmp_path / "region.osm.pbf"
    local.write_bytes(src.read_bytes())
    rp = tmp_path / "l.toml"
    rp.write_text('[region]\nname = "L"\nbbox = [-1.56, 47.205, -1.55, 47.215]\nosm_clip_buffer_km = 0\n'
                  '[analysis]\ndate = 2014-06-10\ndeparture = "08:00"\nmodes = ["walk"]\nthresholds_min = [10]\n'
                  '[venues]\ncategories = ["library"]\n'
                  '[sources.osm]\nkind = "osm"\nformat = "osm.pbf"\nlicence = "ODbL-1.0"\npath = "region.osm.pbf"\n')
    rep = fetch_recipe(rp, cache_dir=tmp_path / "c", progress=False)
    n_before = len(_read(rep.osm_path)[1])
    # the extract is replaced by a smaller one (a clip of itself): the cached clip must not be reused
    prepare_osm([src], local, bbox=(-1.556, 47.208, -1.552, 47.211), use_osmium_tool=False)
    rep = fetch_recipe(rp, cache_dir=tmp_path / "c", progress=False)
    assert len(_read(rep.osm_path)[1]) < n_before


def test_transport_data_gouv_resolution_in_the_api_shape(server, tmp_path):
    from access.region.fetch import dataset_of_aom, resolve_dataset

    b = server.base
    res = [  # the fields of transport.data.gouv.fr's /api/datasets/<id> resources
        {"id": 10, "title": "GTFS communautaire", "format": "GTFS", "url": f"{b}/community",
         "community_resource_publisher": "someone", "is_available": True},
        {"id": 11, "title": "NeTEx", "format": "NeTEx", "url": f"{b}/netex"},
        {"id": 12, "title": "GTFS 2025", "format": "GTFS", "url": f"{b}/old", "original_url": f"{b}/old-o",
         "is_available": True, "start_calendar_validity": "2025-01-01", "end_calendar_validity": "2025-12-31"},
        {"id": 13, "title": "GTFS 2026", "format": "GTFS", "url": f"{b}/resources/13/download",
         "original_url": f"{b}/o13", "is_available": True, "start_calendar_validity": "2026-01-01",
         "end_calendar_validity": "2026-12-31"},
    ]
    ds = {"id": "abc", "type": "public-transit", "aom": {"siren": "248000531", "name": "CA Amiens Métropole"},
          "resources": res}
    server.files["/api/datasets/abc"] = json.dumps(ds).encode()
    server.files["/api/datasets"] = json.dumps([ds, {"id": "zzz", "type": "public-transit", "aom": {
        "siren": "200033579", "name": "CU d'Arras"}, "resources": [{"format": "GTFS", "url": f"{b}/arras"}]}]).encode()
    api = f"{b}/api"
    assert resolve_dataset(api, "abc", date="2026-12-09") == f"{b}/resources/13/download"
    assert resolve_dataset(api, "abc", date="2025-06-01") == f"{b}/old"
    assert resolve_dataset(api, "abc", resource="2025") == f"{b}/old"
    assert dataset_of_aom(api, "248000531") == "abc" and dataset_of_aom(api, "arras") == "zzz"
    with pytest.raises(FetchError, match=r"no GTFS resource matching 'bus'.*NeTEx"):
        resolve_dataset(api, "abc", resource="bus")
    with pytest.raises(FetchError, match=r"dataset 'nope'.*HTTP 404"):
        resolve_dataset(api, "nope")
    with pytest.raises(FetchError, match=r"no public-transit dataset .* authority '999999999'"):
        dataset_of_aom(api, "999999999")


def test_fetch_plan_prints_sizes_disk_memory_time(tmp_path):
    from click.testing import CliRunner

    from access.commands.fetch import command

    hdf = Path(__file__).resolve().parents[1] / "networks" / "hauts-de-france.toml"
    r = CliRunner().invoke(command, [str(hdf), "--plan", "--cache", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    out = r.output
    assert "osm_nord_pas_de_calais" in out and "225.0 MB" in out and "transport authority '248000531'" in out
    assert "to download:" in out and "disk:" in out and "memory:" in out and "time:" in out
    assert not list((tmp_path / "c").glob("*"))  # nothing fetched
