"""Small I/O helpers: atomic writes, hashing."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from ._errors import DiskFullError

#: how full disks show in the messages of the libraries that write for us (pyarrow, GDAL/SQLite, numpy, Python)
_FULL_TEXTS = ("no space left on device", "disk is full", "disk quota exceeded", "[errno 28]", "[errno 122]")
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", -1)}


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk is full or over quota."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if any(t in str(exc).lower() for t in _FULL_TEXTS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_error(path, exc: BaseException, *, kept: str | None = None) -> DiskFullError:
    """The one message for a full disk: the path, what was kept, and the fix."""
    detail = next((str(e.strerror) for e in _chain(exc) if isinstance(e, OSError) and e.strerror), None)
    if detail is None:
        text = str(exc).strip()
        detail = text.splitlines()[0][:200] if text else "No space left on device"
    kept = kept or "nothing was written under that name (any previous version is unchanged)"
    err = DiskFullError(f"cannot write {str(path)!r}: the disk is full ({detail}); {kept}; free some space on that "
                        "disk or choose another output folder (--out), then run again (a resumable run picks up "
                        "where it stopped)")
    err.errno = errno.ENOSPC
    return err


def _chain(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _reraise_disk_full(path, exc: BaseException) -> None:
    """Raise the clear :class:`DiskFullError` for ``path`` when ``exc`` is a full disk (else return)."""
    if isinstance(exc, Exception) and not isinstance(exc, DiskFullError) and is_disk_full(exc):
        raise disk_full_error(path, exc) from exc


@contextlib.contextmanager
def atomic_path(path, *, suffix: str | None = None):
    """Yield a temporary path next to ``path``; rename it to ``path`` only if the block succeeds.

    Nothing is ever left half-written under the final name.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    except OSError as e:
        _reraise_disk_full(path, e)
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except Exception as e:  # a full disk, whichever library was writing, becomes one clear error naming ``path``
        _reraise_disk_full(path, e)
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary directory next to ``path``; move it to ``path`` on success (replacing it).

    An existing ``path`` is swapped with the new folder in one step (``renameat2(RENAME_EXCHANGE)`` on Linux), so
    there is no moment where neither exists; elsewhere the old folder is renamed aside just before. Hidden temporary
    folders left next to ``path`` by killed earlier writes (their process is gone) are removed first.
    """
    import shutil

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
    except OSError as e:
        _reraise_disk_full(path, e)
        raise
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            if _exchange(tmp, path):  # tmp now holds the old folder
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-{os.getpid()}-", dir=path.parent))
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                os.replace(tmp, path)
            except OSError as e:  # a concurrent writer created ``path`` meanwhile: swap with it (last one wins)
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not _exchange(tmp, path):
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
    except Exception as e:  # a full disk becomes one clear error naming ``path``; the old folder is untouched
        _reraise_disk_full(path, e)
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where the system cannot."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    r = fn(AT_FDCWD, os.fsencode(str(a)), AT_FDCWD, os.fsencode(str(b)), RENAME_EXCHANGE)
    return r == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(path) -> list[Path]:
    """Remove the hidden ``.{name}.tmp-PID-*``/``.{name}.old-PID-*`` folders of dead processes next to ``path``."""
    import shutil

    path = Path(path)
    gone: list[Path] = []
    if not path.parent.is_dir():
        return gone
    for p in path.parent.glob(f".{path.name}.*"):
        rest = p.name[len(path.name) + 2:]
        kind, _, tail = rest.partition("-")
        pid = tail.split("-", 1)[0]
        if kind in ("tmp", "old") and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sha256_file(path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()
