"""Download the sources of a region recipe: resumable, checked, atomic.

:func:`download` fetches one URL with the standard library only (``urllib``):

- the bytes go to ``<dest>.part``; a later attempt resumes it with an HTTP ``Range`` request guarded by
  ``If-Range`` (the ETag, else the Last-Modified date, of the response that started the part, kept in
  ``<dest>.part.json``): a file that changed upstream comes back whole and restarts the part, a part without a
  validator restarts from zero, so two upstream versions are never spliced (a server that ignores ``Range`` and
  answers 200 restarts the file from zero too);
- a host that cannot be resolved or refuses connections fails at once (:class:`HostUnreachable`, no retries);
- connection errors, cut connections, stalled reads (no byte for ``timeout_s``) and HTTP 408/425/429/5xx are
  retried with exponential backoff (``backoff_s * 2**k``, capped at ``max_backoff_s``), ``retries`` times;
- other HTTP errors (404, 403, ...) fail at once with :class:`~access._errors.FetchError` naming the URL and
  the status;
- the size and sha256 are checked when expected values are given; a mismatch deletes the ``.part`` file;
- the file is renamed to its final name only when complete and checked: nothing partial ever sits under the
  final name.

:func:`fetch_recipe` (the ``access fetch`` command) runs :func:`download` for every enabled source of a
:class:`~access.recipe.Recipe` into a cache folder, records ``url``, ``size_bytes`` and ``sha256`` of each file
in the lock file next to the recipe (``<stem>.lock.json``, written once every source succeeded), and refuses a
download whose checksum differs from the lock (an upstream file that changed) unless ``update=True``.
Archives are unpacked (``extract``), and the OSM extracts are merged and clipped to the region by
:func:`prepare_osm` (pyosmium, or the ``osmium`` program when installed, which is much faster).
"""

from __future__ import annotations

import datetime as _dt
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import FetchError, InputFileError
from .._io_util import atomic_path, disk_full_error, is_disk_full, sha256_file

USER_AGENT = "access-fetch/0.1 (+https://github.com/; accessibility research; python-urllib)"
LOCK_VERSION = 1
_RETRY_STATUS = {408, 425, 429}
#: connect errors that mean "no route to this host" (network unreachable, host unreachable, host down)
_UNREACHABLE_ERRNO = {101, 113, 112}


class ChecksumMismatch(FetchError):
    """A downloaded file's sha256 or size differs from the expected one."""


class _Retryable(Exception):
    pass


@dataclass(frozen=True)
class DownloadResult:
    """Outcome of :func:`download`."""

    path: Path
    url: str
    sha256: str
    size_bytes: int
    attempts: int
    resumed: bool


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` -> (100, 1000); ``bytes */1000`` -> (None, 1000)."""
    if not value:
        return None, None
    m = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value.strip())
    if not m:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


class HostUnreachable(FetchError):
    """The host of a URL cannot be resolved or refuses connections: not retried (offline, a typo, a firewall)."""


def _validator(headers) -> dict:
    """The strong validator of a response (ETag, else Last-Modified) for a later ``If-Range``."""
    etag = headers.get("ETag") if headers else None
    if etag and etag.startswith("W/"):  # weak ETags may not be used with If-Range
        etag = None
    return {"etag": etag, "last_modified": headers.get("Last-Modified") if headers else None}


def _part_meta(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _read_part_meta(part: Path, url: str) -> dict | None:
    mp = _part_meta(part)
    try:
        m = json.loads(mp.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if m.get("url") != url or not (m.get("etag") or m.get("last_modified")):
        return None
    return m


def _attempt(url, part: Path, *, timeout_s, chunk_bytes, progress, desc) -> bool:
    """One HTTP request; appends to/rewrites ``part``. Returns True when ``part`` holds the whole file.

    A partial file is resumed only with ``If-Range`` and the validator (ETag or Last-Modified) of the response that
    started it (kept in ``<part>.json``): a file that changed upstream meanwhile comes back whole (200) and
    replaces the part, so two upstream versions are never spliced. Without a validator the download restarts."""
    from tqdm.auto import tqdm

    offset = part.stat().st_size if part.exists() else 0
    meta = _read_part_meta(part, url) if offset else None
    if offset and meta is None:  # no way to prove the rest belongs to the same file: start again
        part.unlink(missing_ok=True)
        offset = 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset and meta is not None:  # (meta is None -> offset was reset to 0 above)
        headers["Range"] = f"bytes={offset}-"
        headers["If-Range"] = str(meta.get("etag") or meta.get("last_modified"))  # (_read_part_meta: one is set)
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout_s)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            _, total = _parse_content_range(e.headers.get("Content-Range") if e.headers else None)
            if total is not None and total == offset:
                return True  # the part file already holds the whole file
            part.unlink(missing_ok=True)
            raise _Retryable(f"the server refused to resume at byte {offset} (HTTP 416); restarting") from None
        if e.code in _RETRY_STATUS or e.code >= 500:
            raise _Retryable(f"HTTP {e.code} {e.reason}") from None
        raise FetchError(f"download of {url} failed: HTTP {e.code} {e.reason}; check the URL in the recipe "
                         "(the file may have moved: look it up on the publisher's page)") from None
    except TimeoutError as e:
        raise _Retryable(f"no answer within {timeout_s:g} s (stalled server): {e}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, (TimeoutError, socket.timeout)):
            raise _Retryable(f"no answer within {timeout_s:g} s (stalled server)") from None
        if isinstance(e.reason, (socket.gaierror, ConnectionRefusedError)) or (
                isinstance(e.reason, OSError) and getattr(e.reason, "errno", None) in _UNREACHABLE_ERRNO):
            raise HostUnreachable(f"{urllib.parse.urlsplit(url).hostname} cannot be reached: {e.reason}") from None
        raise _Retryable(f"cannot connect: {e.reason}") from None
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        raise _Retryable(f"connection error: {e!r}") from None

    with resp:
        if resp.status == 206:
            start, total = _parse_content_range(resp.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise _Retryable(f"the server resumed at byte {start} instead of {offset}; restarting")
            mode = "ab"
        else:  # a whole file (first request, or the upstream file changed: If-Range did not match)
            offset, mode, total = 0, "wb", None
            v = _validator(resp.headers)
            with atomic_path(_part_meta(part), suffix=".json") as tmp:
                tmp.write_text(json.dumps({"url": url, **v}))
        clen = resp.headers.get("Content-Length")
        body_len = int(clen) if clen and clen.isdigit() else None
        if total is None and body_len is not None:
            total = offset + body_len
        got = 0
        try:
            with open(part, mode) as f, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                             unit_divisor=1024, desc=desc, disable=not progress, leave=False) as bar:
                while True:
                    try:
                        chunk = resp.read1(chunk_bytes)  # what has arrived, so a stall loses nothing received
                    except TimeoutError:
                        raise _Retryable(f"no data for {timeout_s:g} s after byte {offset + got} "
                                         "(stalled server)") from None
                    except (http.client.IncompleteRead, ConnectionError, http.client.HTTPException, OSError) as e:
                        raise _Retryable(f"connection cut after byte {offset + got}: {e!r}") from None
                    if not chunk:
                        break
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        except OSError as e:  # a full disk while writing the part file: say so (no retry), keep what arrived
            if not is_disk_full(e):
                raise
            raise disk_full_error(part.with_name(part.name[:-len(".part")]), e, kept=(
                f"the bytes downloaded so far are kept in {part.name} and the next `access fetch` resumes from "
                "there (checked with If-Range)")) from None
        if body_len is not None and got < body_len:
            raise _Retryable(f"connection closed after {offset + got} of {offset + body_len} bytes")
    return True


def download(url: str, dest, *, expected_sha256: str | None = None, expected_size: int | None = None,
             timeout_s: float = 60.0, retries: int = 5, backoff_s: float = 1.0, max_backoff_s: float = 60.0,
             chunk_bytes: int = 1 << 16, progress: bool = True, desc: str | None = None) -> DownloadResult:
    """Download ``url`` to ``dest`` (resumable, retried, checked, atomic).

    Parameters
    ----------
    url : str
        http(s) URL.
    dest : path-like
        Final file name. The download goes to ``dest + ".part"`` and is renamed when complete and checked.
    expected_sha256, expected_size : optional
        When given, a file with another checksum/size raises :class:`ChecksumMismatch` (and the ``.part`` is
        deleted, so the next attempt starts afresh).
    timeout_s : float
        Socket timeout: seconds without any byte before a read counts as stalled.
    retries : int
        Further attempts after the first on retryable failures; waits ``backoff_s * 2**k`` (at most
        ``max_backoff_s``) between them.

    Returns
    -------
    DownloadResult

    Raises
    ------
    FetchError
        HTTP error (names the URL and status), retries exhausted (names the last failure), checksum mismatch.

    Examples
    --------
    >>> download("https://example.org/f.zip", "cache/f.zip", expected_sha256=None)  # doctest: +SKIP
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    resumed = part.exists() and part.stat().st_size > 0
    attempts = 0
    while True:
        attempts += 1
        if part.exists() and part.stat().st_size > 0 and attempts > 1:
            resumed = True
        try:
            _attempt(url, part, timeout_s=timeout_s, chunk_bytes=chunk_bytes, progress=progress,
                     desc=desc or dest.name)
            break
        except _Retryable as e:
            if attempts > retries:
                kept = (f"; the partial file {part.name} is kept and the next `access fetch` resumes it"
                        if part.exists() and part.stat().st_size > 0 else "")
                raise FetchError(f"download of {url} failed after {attempts} attempt(s): {e}{kept}") from None
            time.sleep(min(backoff_s * 2 ** (attempts - 1), max_backoff_s))
    size = part.stat().st_size
    if expected_size is not None and size != expected_size:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"download of {url} has {size} bytes, expected {expected_size}; the file was "
                               "deleted (it changed upstream or was corrupted)")
    digest = sha256_file(part)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"download of {url} has sha256 {digest}, expected {expected_sha256.lower()}; the "
                               "file was deleted (it changed upstream or was corrupted)")
    os.replace(part, dest)
    _part_meta(part).unlink(missing_ok=True)
    return DownloadResult(path=dest, url=url, sha256=digest, size_bytes=size, attempts=attempts, resumed=resumed)


# ---------------------------------------------------------------------------------------------- lock file
def read_lock(path) -> dict:
    """Read a lock file (``{"lock_version", "recipe", "sources": {name: {url, sha256, size_bytes, ...}}}``).
    A missing file gives an empty lock."""
    path = Path(path)
    if not path.exists():
        return {"lock_version": LOCK_VERSION, "sources": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputFileError(f"lock file {str(path)!r} is not valid JSON ({e}); delete it and run `access fetch` "
                             "again") from None
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise InputFileError(f"lock file {str(path)!r} has no `sources` table; delete it and run `access fetch`")
    return data


def write_lock(path, recipe_name: str, entries: dict) -> None:
    """Write the lock file atomically (sources sorted by name)."""
    data = {"lock_version": LOCK_VERSION, "recipe": recipe_name,
            "sources": {k: entries[k] for k in sorted(entries)}}
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------- archives
#: the files of a shapefile taken out with its ``.shp`` (same folder, same stem)
SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
_7Z_MAGIC = b"7z\xbc\xaf\x27\x1c"


def _member_matches(names, member: str) -> list[str]:
    """Members named by ``member``: its base name, or (with a ``/`` or a wildcard) a glob over the whole path,
    case-insensitive (``*/CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-*/CONTOURS-IRIS.shp``)."""
    import fnmatch

    files = [n for n in names if not n.endswith("/")]
    if "/" in member or any(ch in member for ch in "*?["):
        pat = member.lower()
        return [n for n in files if fnmatch.fnmatchcase(n.lower(), pat)
                or ("/" not in member and fnmatch.fnmatchcase(Path(n).name.lower(), pat))]
    return [n for n in files if Path(n).name == member]


def _with_sidecars(names, hit: str) -> list[tuple[str, str]]:
    """``(member, suffix)`` pairs to write: the member, and for a ``.shp`` its sidecar files."""
    out = [(hit, "")]
    if hit.lower().endswith(".shp"):
        stem = hit[:-4]
        by_lower = {n.lower(): n for n in names}
        for ext in SHAPEFILE_SIDECARS:
            n = by_lower.get((stem + ext).lower())
            if n is not None:
                out.append((n, ext))
    return out


def _one_match(names, member: str, where: str) -> str | None:
    hits = _member_matches(names, member)
    if len(hits) > 1:
        raise InputFileError(f"{where} holds {len(hits)} members matching {member!r} ({hits[:4]}); make `extract` "
                             "name one, e.g. a path pattern such as '*/CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-*/"
                             "CONTOURS-IRIS.shp'")
    return hits[0] if hits else None


def _extract_7z(archive: Path, member: str, out: Path, where: str) -> Path:
    import py7zr

    try:
        with py7zr.SevenZipFile(archive, mode="r") as sz:
            names = sz.getnames()
            hit = _one_match(names, member, where)
            if hit is None:
                raise InputFileError(f"{where} holds no {member!r} (members: {names[:10]}); fix `extract` in the "
                                     "recipe")
            pairs = _with_sidecars(names, hit)
            with tempfile.TemporaryDirectory(dir=out.parent) as td:
                sz.extract(path=td, targets=[m for m, _ in pairs])
                if hit.lower().endswith(".shp"):
                    missing = [e for e in (".shx", ".dbf") if e not in {x for _, x in pairs}]
                    if missing:
                        raise InputFileError(f"{where}: the shapefile {hit!r} has no {missing} next to it; the "
                                             "archive is incomplete: download it again")
                for m, ext in pairs[1:]:  # sidecars first: the .shp appears last, complete
                    os.replace(Path(td) / m, out.with_suffix(ext))
                os.replace(Path(td) / hit, out)
    except py7zr.exceptions.Bad7zFile as e:
        raise InputFileError(f"{where} is not a readable 7-Zip archive ({e}); delete it and run `access fetch` "
                             "again") from None
    except OSError as e:  # a full disk while unpacking: the temp folder is gone, say so
        if not is_disk_full(e):
            raise
        raise disk_full_error(out, e) from None
    return out


def extract_member(archive, member: str, out) -> Path:
    """Take ``member`` out of ``archive`` into ``out``, atomically.

    ``archive`` is a zip or a 7-Zip archive (IGN's CONTOURS-IRIS ``.7z``), read with ``py7zr`` (pure Python: no
    7-Zip program needed). ``member`` is a file's base name or, with a ``/`` or a wildcard, a glob over the
    member's whole path (case-insensitive); it must name one member. A ``.shp`` comes out with its sidecar files
    (``.shx``, ``.dbf``, ``.prj``, ``.cpg``) next to ``out``, with ``out``'s stem. When a zip holds the member
    inside an inner ``.7z`` archive (INSEE's Filosofi 2019 zip holds ``Filosofi2019_carreaux_200m_gpkg.7z`` with
    ``carreaux_200m_met.gpkg``), the inner archive is read the same way; only the asked member is written.
    """
    archive, out = Path(archive), Path(out)
    with open(archive, "rb") as f:
        magic = f.read(6)
    if magic == _7Z_MAGIC:
        return _extract_7z(archive, member, out, f"{str(archive)!r}")
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise InputFileError(f"{str(archive)!r} is neither a zip nor a 7-Zip archive; delete it and run `access "
                             "fetch` again") from None
    with zf:
        names = zf.namelist()
        hit = _one_match(names, member, f"{str(archive)!r}")
        if hit:
            for m, ext in _with_sidecars(names, hit)[1:] + [(hit, "")]:
                with atomic_path(out.with_suffix(ext) if ext else out) as tmp, zf.open(m) as src, \
                        open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            return out
        inner = [n for n in names if n.lower().endswith(".7z")]
        if not inner:
            raise InputFileError(f"{str(archive)!r} holds no member named {member!r} (members: {names[:10]}); fix "
                                 "`extract` in the recipe")
        try:
            with tempfile.TemporaryDirectory(dir=out.parent) as td:
                zf.extract(inner[0], td)
                _extract_7z(Path(td) / inner[0], member, out, f"the 7-Zip archive {inner[0]!r} in {str(archive)!r}")
                (Path(td) / inner[0]).unlink()
        except OSError as e:  # a full disk while unpacking: the temp folder is gone, say so
            if not is_disk_full(e):
                raise
            raise disk_full_error(out, e) from None
    return out


# ---------------------------------------------------------------------------------------------- OSM
def _bbox_str(b):
    return ",".join(f"{v:.6f}" for v in b)


def _osm_key(o) -> tuple[int, int]:
    return (0 if o.is_node() else 1 if o.is_way() else 2, o.id)


def merge_sorted_extracts(inputs, out) -> Path:
    """Merge OSM extracts sorted by type then id (as Geofabrik's are) in one streaming pass: a k-way merge that
    writes each object once (the highest version where several files hold it), so memory holds one object per
    input whatever the files' sizes (no osmium-tool, no in-memory buffer of whole files).

    Raises
    ------
    InputFileError
        An input is not sorted by type then id (sort it with ``osmium sort`` first).
    """
    import osmium

    inputs = [Path(p) for p in inputs]
    its = [iter(osmium.FileProcessor(str(p))) for p in inputs]
    heads = [next(it, None) for it in its]
    last = [(-1, -(1 << 62))] * len(its)
    with atomic_path(Path(out), suffix=".osm.pbf") as tmp, osmium.SimpleWriter(str(tmp), overwrite=True) as w:
        while True:
            keys = [_osm_key(h) if h is not None else None for h in heads]
            live = [k for k in keys if k is not None]
            if not live:
                break
            k = min(live)
            same = [i for i, x in enumerate(keys) if x == k]
            # pyosmium's stubs type the items as Node | Way | ... | None; these heads are live OSM objects
            best = max(same, key=lambda i: heads[i].version)  # type: ignore[union-attr]
            w.add(heads[best])
            for i in same:
                if k < last[i]:
                    raise InputFileError(f"OSM file {str(inputs[i])!r} is not sorted by type then id (object {k} "
                                         f"after {last[i]}); sort it (osmium sort) before merging")
                last[i] = k
                heads[i] = next(its[i], None)
    return Path(out)


def prepare_osm(inputs, out, *, bbox=None, use_osmium_tool: bool | None = None) -> Path:
    """Merge OSM extracts (duplicates at shared borders removed, :func:`merge_sorted_extracts`) and clip them to
    ``bbox``, reference-complete, in bounded memory (streaming merge, file-backed node locations).

    The border buffer of a recipe grows the clip box, but the result holds only what the inputs hold: streets of
    neighbouring regions come only from their own extracts, added to the recipe as more ``osm`` sources.

    Parameters
    ----------
    inputs : list of path-like
        ``.osm.pbf`` files (sorted by type then id, as Geofabrik's are).
    out : path-like
        Output ``.osm.pbf``, written atomically.
    bbox : (lon_min, lat_min, lon_max, lat_max), optional
        Keep the tagged nodes inside, every tagged way with a node inside (whole, with all its nodes), and the
        multipolygon/restriction relations with a kept member (with all their members). None: merge only.
    use_osmium_tool : bool, optional
        Use the ``osmium`` program (osmium-tool) when on PATH (default), else pyosmium.
    """
    import osmium

    inputs = [Path(p) for p in inputs]
    out = Path(out)
    if not inputs:
        raise InputFileError("prepare_osm needs at least one OSM file")
    for p in inputs:
        if not p.is_file() or p.stat().st_size == 0:
            raise InputFileError(f"OSM file {str(p)!r} is missing or empty; run `access fetch` again")
    out.parent.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("osmium") if use_osmium_tool in (None, True) else None
    if exe and bbox is not None:
        with tempfile.TemporaryDirectory(dir=out.parent) as td, atomic_path(out, suffix=".osm.pbf") as tmp:
            src = inputs[0]
            if len(inputs) > 1:
                src = Path(td) / "merged.osm.pbf"
                subprocess.run([exe, "merge", *map(str, inputs), "-o", str(src), "--overwrite"], check=True,
                               capture_output=True)
            subprocess.run([exe, "extract", "-b", _bbox_str(bbox), "-s", "complete_ways", str(src), "-o", str(tmp),
                            "--overwrite"], check=True, capture_output=True)
        return out

    with tempfile.TemporaryDirectory(dir=out.parent) as td:
        merged = inputs[0]
        if len(inputs) > 1:
            merged = Path(td) / "merged.osm.pbf"
            merge_sorted_extracts(inputs, merged)
        with atomic_path(out, suffix=".osm.pbf") as tmp:
            if bbox is None:
                shutil.copyfile(merged, tmp)
                return out
            lon0, lat0, lon1, lat1 = bbox
            tracker = osmium.IdTracker()
            with osmium.BackReferenceWriter(str(tmp), ref_src=str(merged), overwrite=True) as w:
                # untagged objects are only kept as references of kept ways/relations (added by the writer)
                # node locations in a file-backed index: memory stays bounded whatever the extract's size
                fp = osmium.FileProcessor(str(merged)).with_locations(
                    f"sparse_file_array,{Path(td) / 'locations.idx'}").with_filter(osmium.filter.EmptyTagFilter())
                o: Any  # pyosmium's stubs type the items as a union without a common is_node()/location
                for o in fp:
                    if o.is_node():
                        loc = o.location
                        if loc.valid() and lon0 <= loc.lon <= lon1 and lat0 <= loc.lat <= lat1:
                            w.add_node(o)
                            tracker.add_node(o.id)
                    elif o.is_way():
                        for n in o.nodes:
                            loc = n.location
                            if loc.valid() and lon0 <= loc.lon <= lon1 and lat0 <= loc.lat <= lat1:
                                w.add_way(o)
                                tracker.add_way(o.id)
                                break
                    elif o.is_relation():
                        if o.tags.get("type") in ("multipolygon", "restriction") and tracker.contains_any_references(o):
                            w.add_relation(o)
    return out


# ---------------------------------------------------------------------------------------------- recipes
@dataclass
class FetchReport:
    """What :func:`fetch_recipe` did: ``files`` (source name -> file the loaders read), ``status`` (source name ->
    'downloaded' | 'cached' | 'local' | 'disabled' | 'failed'), ``osm_path`` (merged and clipped extract, or None)."""

    files: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)
    entries: dict = field(default_factory=dict)
    lock_path: Path | None = None
    osm_path: Path | None = None


def fetch_recipe(recipe, *, cache_dir=None, update: bool = False, verify: bool = False, only=None,
                 timeout_s: float = 60.0, retries: int = 5, backoff_s: float = 1.0, progress: bool = True,
                 clip_osm: bool = True, log=None) -> FetchReport:
    """Download every enabled source of ``recipe`` into ``cache_dir`` and update the lock file.

    Parameters
    ----------
    recipe : Recipe or path-like
    cache_dir : path-like, optional
        Default ``recipe.default_cache_dir()``.
    update : bool
        Download again and accept checksums that differ from the lock (an upstream file that changed).
        Without it, a download whose sha256 differs from the lock raises :class:`ChecksumMismatch`.
    verify : bool
        Hash cached files and compare them with the lock (otherwise only their size is compared).
    only : list of str, optional
        Fetch only these sources (the lock keeps the other entries).
    clip_osm : bool
        Merge and clip the OSM sources to the recipe's bbox + buffer (``<stem>-clipped.osm.pbf``).

    Returns
    -------
    FetchReport
    """
    from .recipe import Recipe

    if not isinstance(recipe, Recipe):
        recipe = Recipe.from_file(recipe)
    say = log or (lambda msg: None)
    cache_dir = Path(cache_dir) if cache_dir is not None else recipe.default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    lock_path = recipe.lock_path if recipe.path is not None else None
    lock = read_lock(lock_path) if lock_path is not None else {"sources": {}}
    old = dict(lock["sources"])
    entries = dict(old)
    report = FetchReport(lock_path=lock_path)
    errors: list[FetchError] = []
    down: dict[str, str] = {}  # host -> why it cannot be reached
    listing: dict = {}  # transport.data.gouv.fr's datasets list, read once
    if only:
        unknown = [n for n in only if n not in recipe.sources]
        if unknown:
            from .._errors import ValidationError

            raise ValidationError(f"unknown source(s) {unknown}; the recipe has {list(recipe.sources)}")
    for s in recipe.sources.values():
        if only and s.name not in only:
            continue
        if not s.enabled:
            report.status[s.name] = "disabled"
            continue
        if s.path is not None:
            if not s.path.exists():
                raise InputFileError(f"source {s.name!r}: local file {str(s.path)!r} does not exist; fix `path` in "
                                     f"{recipe.path or 'the recipe'}")
            report.files[s.name] = s.path
            report.status[s.name] = "local"
            continue
        dest = cache_dir / s.cache_name
        locked = old.get(s.name)
        if locked is not None and s.url is not None and locked.get("url") != s.url:
            say(f"{s.name}: the URL changed since the lock; the lock entry is replaced")
            locked = None
        expected = s.sha256 or (None if update or locked is None else locked.get("sha256"))
        entry = None
        if dest.exists() and not update:
            size = dest.stat().st_size
            if locked is not None and locked.get("size_bytes") == size and not verify and not s.sha256:
                entry = locked
            else:
                digest = sha256_file(dest)
                if expected is None or digest == expected:
                    entry = {"url": s.url or (locked or {}).get("url"), "sha256": digest, "size_bytes": size,
                             "file": s.cache_name,
                             "fetched_at": (locked or {}).get("fetched_at")
                             or _dt.datetime.fromtimestamp(dest.stat().st_mtime, _dt.UTC).isoformat()}
                else:
                    say(f"{s.name}: cached file differs from the lock/recipe checksum; downloading again")
            if entry is not None:
                report.status[s.name] = "cached"
        if entry is None:
            url = s.url
            host = urllib.parse.urlsplit(url or recipe.transport_api).hostname
            if host in down:  # one unreachable host: the other sources on it fail at once
                errors.append(HostUnreachable(_by_hand(s, dest, down[host])))
                report.status[s.name] = "failed"
                continue
            try:
                if s.dataset is not None or s.aom is not None:
                    ds = s.dataset
                    if ds is None:
                        ds = dataset_of_aom(recipe.transport_api, s.aom, timeout_s=timeout_s, memo=listing)
                        say(f"{s.name}: transport authority {s.aom!r} -> transport.data.gouv.fr dataset {ds}")
                    url = resolve_dataset(recipe.transport_api, ds, resource=s.resource,
                                          date=recipe.date.isoformat(), timeout_s=timeout_s)
                    say(f"{s.name}: transport.data.gouv.fr dataset {ds} -> {url}")
                    if locked is not None and locked.get("url") != url:
                        say(f"{s.name}: the dataset now points to another resource; the lock entry is replaced")
                        locked = None
                        expected = s.sha256
                host = urllib.parse.urlsplit(url).hostname
                if host in down:
                    raise HostUnreachable(down[host])
                say(f"{s.name}: downloading {url}")
                res = download(url, dest, expected_sha256=expected, expected_size=s.size_bytes,
                               timeout_s=timeout_s, retries=retries, backoff_s=backoff_s, progress=progress,
                               desc=s.name)
            except ChecksumMismatch as e:
                if s.sha256 is None and locked is not None and lock_path is not None and not update:
                    errors.append(ChecksumMismatch(
                        f"source {s.name!r}: the upstream file changed since {lock_path.name} was written ({e}); "
                        "nothing was replaced. Run `access fetch --update` to accept the new file (results will "
                        "differ from earlier runs)"))
                else:
                    errors.append(ChecksumMismatch(
                        f"source {s.name!r}: {e}; the recipe pins sha256 = {s.sha256!r}: update or remove the pin "
                        "if the new file is wanted" if s.sha256 else f"source {s.name!r}: {e}"))
                report.status[s.name] = "failed"
                continue
            except HostUnreachable as e:
                down[host] = str(e)
                errors.append(HostUnreachable(_by_hand(s, dest, str(e))))
                report.status[s.name] = "failed"
                continue
            except FetchError as e:
                errors.append(FetchError(f"source {s.name!r}: {e}"))
                report.status[s.name] = "failed"
                continue
            entry = {"url": url, "sha256": res.sha256, "size_bytes": res.size_bytes, "file": s.cache_name,
                     "fetched_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
            if locked is not None and locked.get("sha256") != res.sha256:
                say(f"{s.name}: accepted a new upstream version (sha256 {res.sha256[:12]}, was "
                    f"{locked.get('sha256', '')[:12]})")
            report.status[s.name] = "downloaded"
        entries[s.name] = entry
        path = dest
        if s.extract:
            out = cache_dir / s.extracted_name
            if not out.exists() or out.stat().st_mtime < dest.stat().st_mtime or report.status[s.name] == "downloaded":
                say(f"{s.name}: extracting {s.extract}")
                extract_member(dest, s.extract, out)
            path = out
        report.files[s.name] = path
    report.entries = entries
    if errors:
        cls = ChecksumMismatch if any(isinstance(e, ChecksumMismatch) for e in errors) else (
            HostUnreachable if all(isinstance(e, HostUnreachable) for e in errors) else FetchError)
        msg = "\n".join(f"  - {e}" for e in errors)
        raise cls(f"{len(errors)} source(s) failed, the lock file was not updated:\n{msg}")
    osm = [s.name for s in recipe.enabled_sources("osm") if s.name in report.files]
    if clip_osm and osm and (recipe.bbox is not None or len(osm) > 1):
        if not only or set(osm) & set(only):
            keys = []
            for n in osm:
                f = Path(report.files[n])
                st = f.stat()  # local files: identity by path, size and modification time
                keys.append(entries[n]["sha256"] if n in entries and report.status.get(n) != "local"
                            else f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}")
            report.osm_path = _clipped_osm(recipe, [report.files[n] for n in osm], keys, cache_dir, say)
    if lock_path is not None and (entries != old or (entries and not lock_path.exists())):  # no lock for local-only
        write_lock(lock_path, recipe.name, {k: v for k, v in entries.items() if k in recipe.sources})
    return report


def _by_hand(s, dest: Path, why: str) -> str:
    where = s.url or (f"the GTFS resource of transport.data.gouv.fr dataset {s.dataset!r}" if s.dataset else
                      f"the GTFS of transport authority {s.aom!r} on transport.data.gouv.fr")
    return (f"{s.name}: {why}; to place the file by hand, download {where} on a connected machine and copy it to "
            f"{dest}")


def _get_json(url: str, timeout_s: float, what: str):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        raise FetchError(f"{what}: {url} answered HTTP {e.code}; check the dataset id or slug on "
                         "https://transport.data.gouv.fr/datasets") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, (socket.gaierror, ConnectionRefusedError)) or (
                isinstance(e.reason, OSError) and getattr(e.reason, "errno", None) in _UNREACHABLE_ERRNO):
            raise HostUnreachable(f"{urllib.parse.urlsplit(url).hostname} cannot be reached: {e.reason}") from None
        raise FetchError(f"{what}: {url} failed: {e.reason}") from None
    except (TimeoutError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FetchError(f"{what}: no usable answer from {url} ({e})") from None


def dataset_of_aom(api: str, aom: str, *, timeout_s: float = 60.0, memo: dict | None = None) -> str:
    """The id of the public-transit dataset of a transport authority on transport.data.gouv.fr: ``GET
    {api}/datasets`` (the list, read once per fetch through ``memo``), datasets of ``type`` public-transit whose
    ``aom.siren`` equals ``aom`` (9 digits) or whose ``aom.name`` contains it (case-insensitive), holding a GTFS
    resource. Several matches: the one with the most GTFS resources, then the smallest id (a stable choice)."""
    memo = memo if memo is not None else {}
    if "datasets" not in memo:
        data = _get_json(f"{api.rstrip('/')}/datasets", timeout_s, "transport.data.gouv.fr datasets list")
        if not isinstance(data, list):
            raise FetchError(f"transport.data.gouv.fr datasets list: expected a JSON list, got {type(data).__name__}")
        memo["datasets"] = data
    key = aom.strip().lower()

    def match(d) -> bool:
        a = d.get("aom") or {}
        if re.fullmatch(r"\d{9}", key):
            return str(a.get("siren") or "") == key
        return key in str(a.get("name") or "").lower()

    hits = [d for d in memo["datasets"] if isinstance(d, dict) and d.get("type", "public-transit") == "public-transit"
            and match(d) and any(str(r.get("format", "")).upper() == "GTFS" for r in d.get("resources") or [])]
    if not hits:
        raise FetchError(f"transport.data.gouv.fr has no public-transit dataset with a GTFS resource for transport "
                         f"authority {aom!r}; look the network up on https://transport.data.gouv.fr/datasets and give "
                         "its `dataset` id instead")
    hits.sort(key=lambda d: (-sum(str(r.get("format", "")).upper() == "GTFS" for r in d.get("resources") or []),
                             str(d.get("id"))))
    return str(hits[0].get("id") or hits[0].get("slug"))


def resolve_dataset(api: str, dataset: str, *, resource: str | None = None, date: str | None = None,
                    timeout_s: float = 30.0) -> str:
    """The download URL of a GTFS feed of transport.data.gouv.fr: ``GET {api}/datasets/{dataset}``, then the
    resources whose ``format`` is GTFS (``resource`` keeps those whose title or URL contains that text), the
    producer's own (no ``community_resource_publisher``), available (``is_available``), whose calendar
    (``start_calendar_validity``..``end_calendar_validity``) covers ``date`` (ISO, the analysis date), the one valid
    longest first; then its ``url`` (the stable download link; ``original_url`` as a fallback).

    Raises
    ------
    HostUnreachable
        The API host cannot be reached.
    FetchError
        The dataset does not exist (404) or holds no GTFS resource; the message lists what it holds.
    """
    url = f"{api.rstrip('/')}/datasets/{urllib.parse.quote(dataset, safe='')}"
    data = _get_json(url, timeout_s, f"transport.data.gouv.fr dataset {dataset!r}")
    res = data.get("resources") if isinstance(data, dict) else None
    if not isinstance(res, list):
        raise FetchError(f"transport.data.gouv.fr dataset {dataset!r}: the answer of {url} has no `resources` list")
    gtfs = [r for r in res if isinstance(r, dict) and str(r.get("format", "")).upper() == "GTFS"
            and (r.get("url") or r.get("original_url"))]
    if resource is not None:
        gtfs = [r for r in gtfs if resource.lower() in (str(r.get("title", "")) + " " + str(r.get("url", "")) + " "
                                                        + str(r.get("original_url", ""))).lower()]
    if not gtfs:
        held = [(r.get("title"), r.get("format")) for r in res if isinstance(r, dict)][:8]
        raise FetchError(f"transport.data.gouv.fr dataset {dataset!r} has no GTFS resource"
                         + (f" matching {resource!r}" if resource else "") + f" (it holds {held}); pick another "
                         "dataset or set `resource`")
    official = [r for r in gtfs if not r.get("community_resource_publisher")] or gtfs
    available = [r for r in official if r.get("is_available", True) is not False] or official

    def covers(r) -> bool:
        a, b = r.get("start_calendar_validity"), r.get("end_calendar_validity")
        return date is None or not (a and b) or str(a)[:10] <= date <= str(b)[:10]

    ok = [r for r in available if covers(r)] or available
    ok.sort(key=lambda r: str(r.get("end_calendar_validity") or ""), reverse=True)  # the longest-lived first
    r = ok[0]
    return str(r.get("url") or r.get("original_url"))


def _clipped_osm(recipe, files, keys, cache_dir: Path, say) -> Path:
    out = cache_dir / f"{recipe.stem}-clipped.osm.pbf"
    meta_path = out.with_name(out.name + ".json")
    bbox = recipe.clip_bbox()
    meta = {"inputs": keys, "bbox": [round(v, 6) for v in bbox] if bbox is not None else None}
    if out.exists() and meta_path.exists():
        try:
            if json.loads(meta_path.read_text()) == meta:
                return out
        except json.JSONDecodeError:
            pass
    say(f"merging {len(files)} OSM extract(s)" + (f" and clipping to {_bbox_str(bbox)}" if bbox else ""))
    prepare_osm(files, out, bbox=bbox)
    with atomic_path(meta_path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(meta))
    return out


def recipe_osm_path(recipe, cache_dir=None) -> Path:
    """The OSM file a run should read: the clipped extract when the recipe has a bbox, else its only OSM source."""
    cache_dir = Path(cache_dir) if cache_dir is not None else recipe.default_cache_dir()
    osm = recipe.enabled_sources("osm")
    if not osm:
        raise InputFileError(f"recipe {recipe.name!r} has no enabled OSM source; add a [sources.<name>] with "
                             'kind = "osm"')
    if recipe.bbox is not None or len(osm) > 1:
        return cache_dir / f"{recipe.stem}-clipped.osm.pbf"
    return recipe.source_file(osm[0], cache_dir)


# ---------------------------------------------------------------------------------------------- plan
#: pyosmium throughput of :func:`merge_sorted_extracts` and of the clip in :func:`prepare_osm`, MB of .pbf per
#: second, measured on ``nantes_subset.osm.pbf`` on a shared 2-core machine (an order of magnitude, not a promise)
OSM_MERGE_MB_S = 0.5
OSM_CLIP_MB_S = 0.2
#: unpacked size / download size where a source does not say (``expected_unpacked_mb``): Filosofi 2019 (zip of a
#: 7z, ~1.1 GB GeoPackage) and BPE 2025 (143 MB zip of a 1.5 GB CSV), from the publishers' figures
UNPACK_FACTOR = {"filosofi": 1.6, "bpe": 10.6}


@dataclass
class PlanRow:
    """One source in :func:`plan_recipe`."""

    name: str
    kind: str
    where: str
    size_mb: float | None
    size_from: str
    cached: bool
    unpacked_mb: float | None = None


def plan_recipe(recipe, *, cache_dir=None, bandwidth_mb_s: float = 10.0) -> tuple[list[PlanRow], dict]:
    """What ``access fetch`` would download, and the disk, memory and time to expect (nothing is downloaded).

    Sizes come from the lock file, else the recipe (``size_bytes`` / ``expected_size_mb``), else they are unknown.
    Times: downloads at ``bandwidth_mb_s``; the OSM merge and clip at :data:`OSM_MERGE_MB_S` /
    :data:`OSM_CLIP_MB_S`. Memory: the merge and clip are streaming (one object per input, node locations in a file)
    and the run's peak is the street graph of the clipped extract, about 3 x its ``.pbf`` size per mode (rule of
    thumb of this project's builder).

    Returns
    -------
    rows : list of PlanRow
    totals : dict
        ``download_mb``, ``disk_mb``, ``memory_mb``, ``time_s``, ``unknown`` (sources without a size).
    """
    from .recipe import Recipe

    if not isinstance(recipe, Recipe):
        recipe = Recipe.from_file(recipe)
    cache_dir = Path(cache_dir) if cache_dir is not None else recipe.default_cache_dir()
    lock = read_lock(recipe.lock_path)["sources"] if recipe.path is not None else {}
    rows = []
    for s in recipe.enabled_sources():
        where = s.url or (f"transport.data.gouv.fr dataset {s.dataset}" if s.dataset else
                          f"transport.data.gouv.fr, transport authority {s.aom!r}" if s.aom else str(s.path))
        size, frm = None, "unknown"
        if s.name in lock and lock[s.name].get("size_bytes") is not None:
            size, frm = lock[s.name]["size_bytes"] / 1e6, "lock"
        elif s.size_bytes is not None:
            size, frm = s.size_bytes / 1e6, "recipe"
        elif s.expected_size_mb is not None:
            size, frm = float(s.expected_size_mb), "recipe (approx.)"
        elif s.path is not None and Path(s.path).exists():
            size, frm = Path(s.path).stat().st_size / 1e6, "local file"
        cached = s.path is not None or (cache_dir / s.cache_name).exists()
        unpacked = s.expected_unpacked_mb
        if unpacked is None and s.extract and size is not None:
            unpacked = size * UNPACK_FACTOR.get(s.kind, 3.0)
        rows.append(PlanRow(s.name, s.kind, where, size, frm, cached, unpacked))
    known = [(r, r.size_mb) for r in rows if r.size_mb is not None]
    dl = sum(mb for r, mb in known if not r.cached)
    osm_mb = sum(mb for r, mb in known if r.kind == "osm")
    disk = sum(mb for _, mb in known) + sum(r.unpacked_mb or 0 for r in rows) + osm_mb * 1.0 + osm_mb * 2.0
    n_modes = len([m for m in recipe.modes if m != "transit"]) + ("transit" in recipe.modes)
    mem = max(osm_mb * 3.0 * max(n_modes, 1), 500.0)
    time_s = dl / bandwidth_mb_s + (osm_mb / OSM_MERGE_MB_S if len(recipe.enabled_sources("osm")) > 1 else 0) \
        + osm_mb / OSM_CLIP_MB_S
    totals = {"download_mb": dl, "disk_mb": disk, "memory_mb": mem, "time_s": time_s,
              "unknown": [r.name for r in rows if r.size_mb is None], "osm_mb": osm_mb}
    return rows, totals


def format_plan(rows, totals) -> str:
    """The text ``access fetch --plan`` prints."""
    w = max((len(r.name) for r in rows), default=6)
    out = [f"{'source':<{w}}  {'kind':<9} {'size':>10}  {'from':<16} {'cached':<6}  where"]
    for r in rows:
        size = f"{r.size_mb:,.1f} MB" if r.size_mb is not None else "?"
        out.append(f"{r.name:<{w}}  {r.kind:<9} {size:>10}  {r.size_from:<16} {'yes' if r.cached else 'no':<6}  "
                   f"{r.where}" + (f"  (unpacked ~{r.unpacked_mb:,.0f} MB)" if r.unpacked_mb else ""))
    t = totals
    out += ["", f"to download: {t['download_mb']:,.0f} MB" + (f" + {len(t['unknown'])} source(s) of unknown size "
                                                              f"({', '.join(t['unknown'])}: sizes are known after a "
                                                              "first fetch, in the lock file)" if t["unknown"] else ""),
            f"disk: ~{t['disk_mb']:,.0f} MB (downloads, unpacked members, merged+clipped OSM, network bundle)",
            f"memory: ~{t['memory_mb']:,.0f} MB at the run's peak (street graphs; the OSM merge and clip stream)",
            (f"time: ~{t['time_s'] / 60:,.0f} min for downloads and the OSM merge/clip (at the rates of "
             "access.region.fetch.OSM_MERGE_MB_S/OSM_CLIP_MB_S and the given bandwidth); the run's matrices come "
             "after")]
    return "\n".join(out)
