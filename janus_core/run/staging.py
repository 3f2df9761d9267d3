"""Writing a file (or folder) beside its target under a temporary ``.partial`` name, then moving it
into place in one rename, so a target is only ever replaced by something complete.

A staged file is fsynced before the rename and the folder after it. While it is written its
process holds a ``flock`` on it; a ``.partial`` left behind by a killed process (kill -9) has no
holder, and ``remove_stale`` (called when the command that writes the target starts again) deletes it.
Only Janus's own names are touched: ``.TARGET.XXXXXXXX.partial`` beside the target, as ``tempfile``
makes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

SUFFIX = ".partial"


def _prefix(target: Path) -> str:
    return f".{target.name}."


def _is_ours(target: Path, name: str) -> bool:
    return re.fullmatch(re.escape(_prefix(target)) + r"[a-z0-9_]{8}" + re.escape(SUFFIX), name) is not None


def _lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None if another process holds one."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def remove_stale(target: Path) -> list[Path]:
    """Delete the ``.partial`` files and folders of ``target`` that no live process is writing; the
    ones removed."""
    target = Path(target)
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not _is_ours(target, entry.name) or entry.is_symlink():
            continue
        try:
            fd = _lock(entry)
        except OSError:
            continue
        if fd is None:  # being written now
            continue
        try:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A new ``.partial`` folder beside ``target`` (same file system: moving out of it is a rename),
    held by this process and deleted on leaving."""
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=SUFFIX, dir=target.parent))
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


@contextlib.contextmanager
def staged_file(target: Path) -> Iterator[IO[str]]:
    """A text file to write ``target``'s new content to: on a normal exit it is flushed, fsynced and
    renamed over ``target`` (the folder fsynced too); on an error it is deleted and ``target`` is
    left as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=SUFFIX, dir=target.parent)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.replace(name, target)
            done = True
        fsync_folder(target.parent)
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(name)


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
