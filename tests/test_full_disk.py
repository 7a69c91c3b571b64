"""Full disks (issue 12): every writer fails with one clear error, keeps the previous output, leaves no temp file,
and a resumable run resumes once space is freed.

A full disk is simulated without privileges: :class:`FullDisk` replaces the low-level writers the code relies on
(``numpy.save``, ``pyarrow.parquet.write_table``, ``ParquetWriter.write_table``, ``DataFrame.to_csv``,
``GeoDataFrame.to_file``, ``Path.write_text``/``write_bytes``, ``Figure.savefig``) by versions that, from the
N-th call on, write a few bytes to their target (a half-written file, as the kernel leaves it) and raise
``OSError(ENOSPC)``. :meth:`FullDisk.free` frees the disk.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from access._errors import AccessError, DiskFullError
from access.cli import main as cli_main

from .test_bad_inputs import tiny_bundle, tiny_osm  # noqa: F401  (module fixtures)
from .test_fetch import FAST, _blob, server  # noqa: F401  (the local HTTP server)

FULL = r"the disk is full \(No space left on device\)"
FIX = r"free some space on that disk or choose another output folder \(--out\)"


class FullDisk:
    """From call number ``after + 1`` on, every patched writer half-writes its target and raises ENOSPC."""

    def __init__(self, monkeypatch, after: int = 0):
        import matplotlib.figure
        import pyarrow.parquet as pq

        self.after, self.calls, self.on, self._depth = after, 0, True, 0
        self._write_bytes = Path.write_bytes
        targets = [
            (np, "save", lambda a, k: a[0] if a else k.get("file")),
            (pq, "write_table", lambda a, k: a[1] if len(a) > 1 else k.get("where")),
            (pq.ParquetWriter, "write_table", lambda a, k: getattr(a[0], "where", None)),
            (pd.DataFrame, "to_csv", lambda a, k: a[1] if len(a) > 1 else k.get("path_or_buf")),
            (Path, "write_text", lambda a, k: a[0]),
            (Path, "write_bytes", lambda a, k: a[0]),
            (matplotlib.figure.Figure, "savefig", lambda a, k: a[1] if len(a) > 1 else k.get("fname")),
        ]
        import geopandas as gpd

        targets.append((gpd.GeoDataFrame, "to_file", lambda a, k: a[1] if len(a) > 1 else k.get("filename")))
        for owner, name, where in targets:
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name), where))

    def _wrap(self, orig, where):
        disk = self

        def write(*a, **k):
            if disk.on and disk._depth == 0:
                disk.calls += 1
                if disk.calls > disk.after:
                    target = where(a, k)
                    disk._half_write(target)
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
            disk._depth += 1  # the writers a writer calls are not counted again
            try:
                return orig(*a, **k)
            finally:
                disk._depth -= 1

        return write

    def _half_write(self, target) -> None:
        if isinstance(target, (str, os.PathLike)) and Path(target).parent.is_dir():
            self._write_bytes(Path(target), b"PAR1 half")
        elif hasattr(target, "write"):
            try:
                target.write(b"PAR1 half")
            except TypeError:
                target.write("half")

    def free(self) -> None:
        self.on = False


def _temps(folder: Path) -> list[str]:
    """Hidden temp files/folders left anywhere under ``folder`` by atomic writers."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*")
                  if re.search(r"\.(tmp|old)-|\.tmp$|\.(parquet|csv|gpkg|json|npy|png|html|md|geojson|zip)$", p.name)
                  and not p.name.endswith(".part"))


def _cli(argv, capsys):
    rc = cli_main([str(a) for a in argv])
    o = capsys.readouterr()
    return rc, o.out + o.err


def _snapshot(path: Path) -> dict:
    if path.is_file():
        return {"": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture()
def files(tmp_path, tiny_osm, tiny_bundle):  # noqa: F811
    import geopandas as gpd
    from shapely.geometry import box

    pts = tmp_path / "pts.csv"
    pts.write_text("id,lon,lat,population,category\n01,2.0001,50.0001,10,library\n02,2.0009,50.0009,20,museum\n"
                   "03,2.0005,50.0002,5,library\n")
    areas = tmp_path / "areas.geojson"
    gpd.GeoDataFrame({"id": ["A"]}, geometry=[box(1.99, 49.99, 2.01, 50.01)], crs=4326).to_file(areas)
    (tmp_path / "scn.toml").write_text('name = "s"\n[[venues.add]]\nname = "new"\nid = "v9"\nlon = 2.0004\n'
                                       'lat = 50.0004\ncategory = "library"\n')
    return {"osm": tiny_osm, "net": tiny_bundle, "pts": pts, "areas": areas, "scn": tmp_path / "scn.toml",
            "tmp": tmp_path}


def _matrix_file(f):
    return ["matrix", "--network", f["net"], "--origins", f["pts"], "--out", f["tmp"] / "out" / "m.parquet"]


# (name, argv maker, output path under tmp, writes before the disk fills)
CLI_WRITERS = [
    ("network-build", lambda f: ["network", "build", "--osm", f["osm"], "--modes", "walk", "--out",
                                 f["tmp"] / "out" / "net"], "out/net", 2),
    ("network-export", lambda f: ["network", "export", f["net"], "--out", f["tmp"] / "out" / "n.gpkg"],
     "out/n.gpkg", 0),
    ("scenario-apply", lambda f: ["scenario", "apply", f["scn"], "--network", f["net"], "--out",
                                  f["tmp"] / "out" / "net2"], "out/net2", 1),
    ("scenario-apply-venues", lambda f: ["scenario", "apply", f["scn"], "--network", f["net"], "--out",
                                         f["tmp"] / "out" / "net3", "--venues", f["pts"], "--venues-out",
                                         f["tmp"] / "out" / "v.csv"], "out/v.csv", 10_000),
    ("matrix-parquet", _matrix_file, "out/m.parquet", 0),
    ("snap-csv", lambda f: ["snap", "--network", f["net"], "--points", f["pts"], "--out", f["tmp"] / "out" / "s.csv"],
     "out/s.csv", 0),
    ("snap-parquet", lambda f: ["snap", "--network", f["net"], "--points", f["pts"], "--out",
                                f["tmp"] / "out" / "s.parquet"], "out/s.parquet", 0),
    ("snap-gpkg", lambda f: ["snap", "--network", f["net"], "--points", f["pts"], "--out",
                             f["tmp"] / "out" / "s.gpkg"], "out/s.gpkg", 0),
    ("isochrones-gpkg", lambda f: ["isochrones", "--network", f["net"], "--origins", f["pts"], "--cutoffs", "5",
                                   "--out", f["tmp"] / "out" / "i.gpkg"], "out/i.gpkg", 0),
    ("isochrones-geojson", lambda f: ["isochrones", "--network", f["net"], "--origins", f["pts"], "--cutoffs", "5",
                                      "--out", f["tmp"] / "out" / "i.geojson"], "out/i.geojson", 0),
    ("site", lambda f: ["site", "--network", f["net"], "--cells", f["pts"], "--candidates", f["pts"], "--out",
                        f["tmp"] / "out" / "site"], "out/site", 1),
    ("scenario-compare", lambda f: ["scenario", "compare", f["scn"], "--network", f["net"], "--cells", f["pts"],
                                    "--venues", f["pts"], "--out", f["tmp"] / "out" / "cmp"], "out/cmp", 0),
]


@pytest.mark.parametrize("make, out, after", [c[1:] for c in CLI_WRITERS], ids=[c[0] for c in CLI_WRITERS])
def test_cli_full_disk(files, capsys, monkeypatch, make, out, after):
    argv = make(files)
    target = files["tmp"] / out
    rc, text = _cli(argv, capsys)  # a first, successful run: its output must survive the failed one
    assert rc == 0, text
    before = _snapshot(target)
    disk = FullDisk(monkeypatch, after=after)
    rc, text = _cli(argv + (["--overwrite"] if "apply" in argv else []), capsys)
    flat = text.replace("\n", " ")
    if disk.calls <= after:  # the command wrote less than that: fill the disk from its first write instead
        disk.after, disk.calls = 0, 0
        rc, text = _cli(argv + (["--overwrite"] if "apply" in argv else []), capsys)
        flat = text.replace("\n", " ")
    assert rc == 2, text
    assert flat.count("error:") == 1 and "Traceback" not in flat, text
    assert re.search(FULL, flat) and re.search(FIX, flat), text
    assert str(files["tmp"] / "out") in flat, text  # names the path
    assert _temps(files["tmp"]) == []  # nothing half-written left behind
    assert _snapshot(target) == before  # the previous output is intact
    disk.free()
    rc, text = _cli(argv + (["--overwrite"] if "apply" in argv else []), capsys)
    assert rc == 0, text


def test_cli_indicators_full_disk_keeps_previous_outputs(files, capsys, monkeypatch):
    f = files
    m = f["tmp"] / "m.parquet"
    assert _cli(["matrix", "--network", f["net"], "--origins", f["pts"], "--out", m], capsys)[0] == 0
    argv = ["indicators", "--matrix", m, "--origins", f["pts"], "--destinations", f["pts"], "--areas", f["areas"],
            "--out", f["tmp"] / "ind", "--no-progress"]
    rc, text = _cli(argv, capsys)
    assert rc == 0, text
    before = _snapshot(f["tmp"] / "ind")
    for after in (0, 3):
        disk = FullDisk(monkeypatch, after=after)
        rc, text = _cli(argv, capsys)
        flat = text.replace("\n", " ")
        assert rc == 2 and re.search(FULL, flat) and re.search(FIX, flat) and str(f["tmp"] / "ind") in flat, text
        assert _temps(f["tmp"]) == []
        now = _snapshot(f["tmp"] / "ind")
        assert set(now) == set(before)
        changed = [k for k in now if now[k] != before[k]]
        assert all(k.endswith((".png", ".html", ".md", ".gpkg")) for k in changed), changed
        disk.free()
        monkeypatch.undo()
    assert _cli(argv, capsys)[0] == 0


@pytest.mark.parametrize("after, fails_on", [(0, "_manifest.json"), (1, "part-00000"), (2, "part-00001"),
                                             (3, "part-00002")], ids=["manifest", "part0", "part1", "part2"])
def test_chunked_matrix_full_disk_midway_then_resumes(files, monkeypatch, tiny_bundle, after, fails_on):  # noqa: F811
    from access import TransportNetwork
    from access.scale.chunked import chunked_travel_time_matrix

    net = TransportNetwork.load(tiny_bundle)
    pts = pd.read_csv(files["pts"], dtype={"id": str})
    clean = chunked_travel_time_matrix(net, pts, out_dir=files["tmp"] / "clean", chunk_size=1, progress=False)
    out = files["tmp"] / "run"
    disk = FullDisk(monkeypatch, after=after)  # the manifest and `after - 1` partitions fit, the next does not
    with pytest.raises(DiskFullError, match=FULL + r".*" + FIX) as ei:
        chunked_travel_time_matrix(net, pts, out_dir=out, chunk_size=1, progress=False)
    assert fails_on in str(ei.value) and isinstance(ei.value, (OSError, AccessError))
    assert ei.value.errno == errno.ENOSPC
    assert len(list(out.glob("part-*.parquet"))) == max(after - 1, 0)
    assert _temps(out) == []
    disk.free()
    again = chunked_travel_time_matrix(net, pts, out_dir=out, chunk_size=1, progress=False)
    assert again.chunks_computed == clean.n_chunks - max(after - 1, 0)  # resumed: finished partitions were kept
    a = pd.read_parquet(out).sort_values(["from_id", "to_id"]).reset_index(drop=True)
    b = pd.read_parquet(files["tmp"] / "clean").sort_values(["from_id", "to_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_cli_chunked_matrix_full_disk_resumes_from_the_command_line(files, capsys, monkeypatch):
    f = files
    argv = ["matrix", "--network", f["net"], "--origins", f["pts"], "--chunk-size", "1", "--out", f["tmp"] / "md"]
    FullDisk(monkeypatch, after=2)
    rc, text = _cli(argv, capsys)
    assert rc == 2 and re.search(FULL, text.replace("\n", " ")) and "part-00001" in text, text
    monkeypatch.undo()
    rc, text = _cli(argv, capsys)
    assert rc == 0 and len(list((f["tmp"] / "md").glob("part-*.parquet"))) == 3, text


def test_matrix_to_parquet_full_disk_on_close_publishes_nothing(files, monkeypatch, tiny_bundle):  # noqa: F811
    """ParquetWriter.close() failing (the footer hits the full disk) must not rename the broken temp file."""
    import pyarrow.parquet as pq

    from access import TransportNetwork, travel_time_matrix

    net = TransportNetwork.load(tiny_bundle)
    ttm = travel_time_matrix(net, pd.read_csv(files["pts"], dtype={"id": str}), progress=False)
    out = files["tmp"] / "m.parquet"
    out.write_bytes(b"previous")
    orig = pq.ParquetWriter.close

    def close(self):
        orig(self)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "close", close)
    with pytest.raises(DiskFullError, match=r"m.parquet': the disk is full"):
        ttm.to_parquet(out)
    assert out.read_bytes() == b"previous" and _temps(files["tmp"]) == []


def test_bundle_save_full_disk_midway_keeps_the_old_bundle(files, monkeypatch, tiny_bundle):  # noqa: F811
    from access import TransportNetwork

    net = TransportNetwork.load(tiny_bundle)
    target = files["tmp"] / "net"
    net.save(target)
    before = _snapshot(target)
    for after in (0, 3, 7):
        FullDisk(monkeypatch, after=after)
        with pytest.raises(DiskFullError, match=r"net': the disk is full.*" + FIX):
            net.save(target)
        monkeypatch.undo()
        assert _snapshot(target) == before and [p.name for p in files["tmp"].glob(".net*")] == []
    TransportNetwork.load(target)


def test_library_messages_of_a_full_disk_are_recognised():
    from access._io_util import is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert is_disk_full(OSError("[Errno 28] Error writing bytes to file. Detail: [errno 28] No space left on device"))
    assert is_disk_full(RuntimeError("sqlite3_exec(COMMIT) failed: database or disk is full"))  # GDAL GeoPackage
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as e:
            raise ValueError("wrapped") from e
    except ValueError as w:
        assert is_disk_full(w)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied")) and not is_disk_full(ValueError("x"))


@pytest.mark.parametrize("writer", ["table-csv", "table-parquet", "table-gpkg", "map-png", "map-html"])
def test_report_writers_full_disk(tmp_path, monkeypatch, writer):
    import geopandas as gpd
    from shapely.geometry import box

    from access.report.interactive import interactive_map
    from access.report.maps import choropleth_png
    from access.report.tables import write_geopackage, write_table

    gdf = gpd.GeoDataFrame({"id": ["a", "b"], "v": [1.0, 2.0]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
                           crs=4326)
    ext = {"table-csv": "csv", "table-parquet": "parquet", "table-gpkg": "gpkg", "map-png": "png",
           "map-html": "html"}[writer]
    path = tmp_path / f"out.{ext}"

    def write():
        if writer == "table-gpkg":
            write_geopackage(gdf, path)
        elif writer.startswith("table"):
            write_table(pd.DataFrame(gdf.drop(columns="geometry")), path, formats=(ext,))
        elif writer == "map-png":
            choropleth_png(gdf, "v", path)
        else:
            interactive_map(gdf, path, layers=["v"])

    write()
    before = {p: p.read_bytes() for p in sorted(tmp_path.iterdir())}
    FullDisk(monkeypatch)
    with pytest.raises(DiskFullError, match=f"out.{ext}': " + FULL + ".*" + FIX):
        write()
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in sorted(tmp_path.iterdir())} == before  # old file intact, no temp files


def test_download_full_disk_keeps_the_part_and_resumes(server, tmp_path, monkeypatch):  # noqa: F811
    import builtins

    from access.region import fetch as fetch_mod

    data = _blob(150_000)
    srv = server
    srv.files["/big.bin"] = data
    room = [40_000]  # bytes the disk can still take

    class _Full:
        def __init__(self, f):
            self.f = f

        def write(self, b):
            if len(b) > room[0]:
                self.f.write(b[:room[0]])
                room[0] = 0
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            room[0] -= len(b)
            return self.f.write(b)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    def full_open(path, mode="r", *a, **k):
        f = builtins.open(path, mode, *a, **k)
        return _Full(f) if "a" in mode or "w" in mode else f

    monkeypatch.setattr(fetch_mod, "open", full_open, raising=False)
    dest = tmp_path / "big.bin"
    with pytest.raises(DiskFullError, match=r"big.bin': the disk is full \(No space left on device\); the bytes "
                                            r"downloaded so far are kept in big.bin.part and the next `access fetch` "
                                            r"resumes from there.*" + FIX):
        fetch_mod.download(srv.base + "/big.bin", dest, **FAST)
    assert not dest.exists() and (tmp_path / "big.bin.part").stat().st_size == 40_000
    assert len(srv.requests) == 1  # a full disk is not retried
    monkeypatch.undo()  # space freed
    res = fetch_mod.download(srv.base + "/big.bin", dest, **FAST)
    assert dest.read_bytes() == data and res.resumed and srv.requests[-1] == ("/big.bin", "bytes=40000-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]
