"""One run per output: an exclusive advisory lock (``flock``) on ``OUT.journal.sqlite.lock``.

The lock file holds the pid and command of the process that holds it, so a second run can name
it. The lock goes with the process (the kernel drops it when the process ends, kill -9 included),
so a stale lock file never blocks a later run; the file itself is left in place, since removing
it could let two runs lock two different files.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path
from types import TracebackType

from janus_core.run.journal import journal_path
from janus_core.sdk.errors import JanusError


class RunLocked(JanusError):
    """Another process holds the output's lock."""


def lock_path(out: Path) -> Path:
    """``data.jsonl`` -> ``data.jsonl.journal.sqlite.lock``."""
    journal = journal_path(out)
    return journal.with_name(journal.name + ".lock")


def holder(out: Path) -> dict | None:
    """What the lock file says about the process holding (or last holding) the lock."""
    try:
        return json.loads(lock_path(out).read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None


class RunLock:
    """Held while a run (or ``janus doctor --repair``) may write ``out`` and its journal."""

    def __init__(self, out: Path, what: str = "run"):
        self.out = Path(out)
        self.path = lock_path(self.out)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock at once, or raise RunLocked naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # no O_TRUNC: the holder's details stay
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = holder(self.out) or {}
            who = f"pid {other['pid']}" if other.get("pid") else "another process"
            command = f" ({other['command']})" if other.get("command") else ""
            raise RunLocked(f"{self.out} is in use by {who}{command}, which holds {self.path}; wait for it to "
                            "finish (or stop it), or write elsewhere with --out") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:  # who holds it, for the message a second run prints; the lock holds without it (disk full)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "what": self.what,
                                     "command": " ".join(["janus", *sys.argv[1:]])[:500]}).encode("utf-8"))
        except OSError:
            pass
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
