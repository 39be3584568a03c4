"""Atomic files: written under a temporary name, fsync'ed and renamed; temporaries of killed writers cleaned up.

A temporary is named `.<final name>.<host>.<pid>.<8 hex>.tmp` (`.trash` for a directory being deleted), as the
feature cache names its own, so a later run can tell which ones a dead writer left: those of a dead process on this
host, or of this very process (a container restarts with the same pid), are removed; others may belong to a writer
that still runs and are left.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

_TEMP = re.compile(r"^\..+\.(?P<host>[^.]+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.(?:tmp|trash)$")


def _host() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def temporary_path(path: str | Path, kind: str = "tmp") -> Path:
    """A hidden sibling of `path` named for this host and process ('tmp' or 'trash')."""
    path = Path(path)
    return path.with_name(f".{path.name}.{_host()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{kind}")


def fsync(path: str | Path) -> None:
    """Flush a file or a directory (its entries) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it (no rename: for files inside a temporary directory)."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write one file so that `path` is either its old content or the complete new one, never half of it.

    Args:
        path: the destination.
        write: writes the content to the temporary path it is given.

    Returns:
        `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        write(tmp)
        fsync(tmp)
        os.replace(tmp, path)
        fsync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """`atomic_write` of a byte string."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def remove_tree(directory: Path) -> None:
    """Delete a directory: renamed out of the way first, so no half-deleted one keeps its valid name."""
    trash = temporary_path(directory, "trash")
    os.replace(directory, trash)
    shutil.rmtree(trash, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host still runs (a temporary it writes must be left alone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(directory: str | Path) -> tuple[list[Path], list[Path]]:
    """Delete the temporaries (files or directories) that killed writers left in `directory`.

    Returns:
        (removed, kept): kept are those of a live process on this host or of another host, which may still write.
    """
    directory = Path(directory)
    removed: list[Path] = []
    kept: list[Path] = []
    if not directory.is_dir():
        return removed, kept
    host, me = _host(), os.getpid()
    for path in sorted(directory.iterdir()):
        match = _TEMP.match(path.name)
        if not match:
            continue
        pid = int(match["pid"])
        if match["host"] != host or (pid != me and pid_alive(pid)):
            kept.append(path)
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed, kept
