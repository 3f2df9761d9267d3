"""One run per output: an exclusive advisory lock (``flock``) on ``OUT.journal.sqlite.lock``.

The lock file holds the pid and the (redacted) command of the process that holds it, so a second
run can name it. The lock goes with the process (the kernel drops it when the process ends, kill -9
included), so a stale lock file never blocks a later run; the file itself is left in place, since
removing it could let two runs lock two different files.

The file is opened without following a symlink (a cloned spec repository could plant one at the
default output to make Janus overwrite a file of the user's), must be a regular file with one link,
and is only rewritten when Janus created it or it holds a lock record of Janus's own. It is readable
by its owner only (0600).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from janus_core.run.journal import journal_path
from janus_core.sdk.credentials import redact_command
from janus_core.sdk.errors import JanusError

#: A lock file longer than this is none of Janus's (it writes a few hundred bytes).
MAX_LOCK_BYTES = 64 * 1024
_MODE = 0o600


class RunLocked(JanusError):
    """Another process holds the output's lock."""


class UnsafeLockFile(JanusError):
    """The lock file's path is a symlink, not a regular file, or a file Janus did not write."""


def lock_path(out: Path) -> Path:
    """``data.jsonl`` -> ``data.jsonl.journal.sqlite.lock``."""
    journal = journal_path(out)
    return journal.with_name(journal.name + ".lock")


def _read(fd: int) -> bytes:
    """The start of an open file, at most MAX_LOCK_BYTES + 1 bytes."""
    return os.pread(fd, MAX_LOCK_BYTES + 1, 0)


def _holder_of(data: bytes) -> dict[str, Any] | None:
    """The lock record in a lock file's bytes, or None if they are not one Janus wrote."""
    if len(data) > MAX_LOCK_BYTES:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) and "pid" in value else None


def _printable(value: Any) -> str:
    """A lock file's field fit for a message (no control characters, bounded)."""
    return "".join(c for c in str(value)[:500] if c.isprintable())


def holder(out: Path) -> dict | None:
    """What the lock file says about the process holding (or last holding) the lock."""
    try:
        fd = os.open(lock_path(out), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _holder_of(_read(fd))
    finally:
        os.close(fd)


class RunLock:
    """Held while a run (or ``janus doctor --repair``) may write ``out`` and its journal."""

    def __init__(self, out: Path, what: str = "run"):
        self.out = Path(out)
        self.path = lock_path(self.out)
        self.what = what
        self._fd: int | None = None

    def _refuse(self, why: str) -> UnsafeLockFile:
        return UnsafeLockFile(f"{self.path} {why}, so Janus will not use it as the lock of {self.out} (it would "
                              "overwrite whatever it points to); remove it, or write elsewhere with --out")

    def _open(self) -> tuple[int, bool]:
        """The lock file, opened without following a symlink: (fd, whether this call created it)."""
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a planted FIFO must not hang
        for _ in range(10):  # the file may come and go between the two opens
            try:
                return os.open(self.path, flags | os.O_CREAT | os.O_EXCL, _MODE), True
            except FileExistsError:
                pass
            try:
                return os.open(self.path, flags), False
            except FileNotFoundError:
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise self._refuse("is a symbolic link") from None
                if exc.errno in (errno.ENXIO, errno.EISDIR, errno.EOPNOTSUPP):
                    raise self._refuse("is not a regular file") from None
                raise
        raise self._refuse("keeps appearing and disappearing")

    def _check(self, fd: int, created: bool) -> None:
        """Refuse a lock file that is not a regular file of one link, or (when it was there before)
        one that does not hold a lock record of Janus's."""
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise self._refuse("is not a regular file")
        if info.st_nlink != 1:
            raise self._refuse(f"has {info.st_nlink} hard links")
        if not created:
            data = _read(fd)
            if data and _holder_of(data) is None:
                raise self._refuse("is not a lock file Janus wrote")

    def acquire(self) -> RunLock:
        """Take the lock at once, or raise RunLocked naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, created = self._open()
        try:
            self._check(fd, created)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = holder(self.out) or {}
            who = f"pid {_printable(other['pid'])}" if other.get("pid") else "another process"
            command = f" ({_printable(other['command'])})" if other.get("command") else ""
            raise RunLocked(f"{self.out} is in use by {who}{command}, which holds {self.path}; wait for it to "
                            "finish (or stop it), or write elsewhere with --out") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:  # who holds it, for the message a second run prints; the lock holds without it (disk full)
            if not created:
                self._check(fd, created)  # again, now that no other run can write it
            os.fchmod(fd, _MODE)  # an older Janus made it 0644
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "what": self.what,
                                      "command": redact_command(["janus", *sys.argv[1:]])[:500]}).encode("utf-8"), 0)
        except OSError:
            pass
        except UnsafeLockFile:
            self.release()
            raise
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
