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

from access._errors import FetchError
from tests._data import test_data_dir as _test_data_dir
from access.region.fetch import ChecksumMismatch, download, extract_member, fetch_recipe, prepare_osm, read_lock
from access.region.recipe import Recipe


class _State:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.behaviour: dict[str, list[str]] = {}  # path -> queue of behaviours for successive requests
        self.ignore_range: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
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
            queue = st.behaviour.get(path) or []
            how = queue.pop(0) if queue else "ok"
        if how == "404" or path not in st.files:
            self.send_error(404, "Not Found")
            return
        if how == "500":
            self.send_error(503, "Service Unavailable")
            return
        data = st.files[path]
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
    assert not (tmp_path / "a.bin.part").exists()


def test_resume_of_leftover_part_file(server, tmp_path):
    data = _blob()
    server.files["/a.bin"] = data
    (tmp_path / "a.bin.part").write_bytes(data[:12345])
    res = download(server.base + "/a.bin", tmp_path / "a.bin", **FAST)
    assert (tmp_path / "a.bin").read_bytes() == data and res.resumed
    assert server.requests == [("/a.bin", "bytes=12345-")]


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


def test_member_inside_inner_7z_needs_the_7z_program(tmp_path):
    import shutil

    if shutil.which("7z") or shutil.which("7za") or shutil.which("7zz"):
        pytest.skip("a 7z program is installed; this test covers its absence")
    z = tmp_path / "Filosofi2019_carreaux_200m_gpkg.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("Filosofi2019_carreaux_200m_gpkg.7z", b"7z\xbc\xaf\x27\x1c not really")
    with pytest.raises(FetchError, match=r"inside the 7-Zip archive .*install the `7z` program"):
        extract_member(z, "carreaux_200m_met.gpkg", tmp_path / "out.gpkg")
    assert not (tmp_path / "out.gpkg").exists()


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
