"""The structured-output modes earlier runs found, so a new run against the same server and model
starts in the mode that server takes without asking it again.

One small JSON file, ``structured-modes.json``, in the user's cache directory
(``platformdirs.user_cache_dir("janus")``, or the folder ``JANUS_CACHE_DIR`` names). An entry is
keyed by a hash of (backend, endpoint root URL, model), so no URL, key or prompt is stored, and holds
the mode, the modes refused before it, and when it was found. Entries expire after
``JANUS_MODE_CACHE_DAYS`` days (default 7; 0 turns the cache off); at most ``MAX_ENTRIES`` are kept,
newest first. The file is replaced whole (written beside it, then renamed), so a reader never sees
half of it. A file that is unreadable, too large, not a regular file or not of the expected shape is
ignored with a note, never an error: the run then finds the mode itself and writes a good file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

FILE_NAME = "structured-modes.json"
DEFAULT_DAYS = 7.0
MAX_ENTRIES = 256
#: a larger file is not read (MAX_ENTRIES entries take about 30 KB)
MAX_BYTES = 256 * 1024
_VERSION = 1
_DAY = 86_400.0


def cache_dir() -> Path:
    """Where the cache lives: ``JANUS_CACHE_DIR`` or the user's cache directory for janus."""
    chosen = os.environ.get("JANUS_CACHE_DIR")
    if chosen:
        return Path(chosen)
    import platformdirs

    return Path(platformdirs.user_cache_dir("janus", appauthor=False))


def lifetime() -> tuple[float, str | None]:
    """How long an entry holds, in seconds (0: the cache is off), and a note if the setting is bad."""
    raw = os.environ.get("JANUS_MODE_CACHE_DAYS")
    if raw is None or not raw.strip():
        return DEFAULT_DAYS * _DAY, None
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not 0 <= days < 100_000:  # NaN fails both comparisons
        return DEFAULT_DAYS * _DAY, (f"JANUS_MODE_CACHE_DAYS must be a number of days (0 turns the cache off), "
                                     f"not {raw[:40]!r}; using {DEFAULT_DAYS:g}")
    return days * _DAY, None


def entry_key(backend: str, endpoint: str, model: str) -> str:
    """The entry's name: a hash of where the mode holds (the URL may carry a key in its query)."""
    return hashlib.sha256(json.dumps([backend, endpoint, model]).encode()).hexdigest()[:32]


def _read(path: Path, ladder: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The well-formed entries of the file, and a note if it was not read whole."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not hang the run
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"ignored the structured-mode cache {path}: cannot read it ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return {}, f"ignored the structured-mode cache {path}: not a regular file"
        if info.st_size > MAX_BYTES:
            return {}, f"ignored the structured-mode cache {path}: larger than {MAX_BYTES // 1024} KiB"
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        return {}, f"ignored the structured-mode cache {path}: cannot read it ({exc.strerror or exc})"
    finally:
        os.close(fd)
    bad = f"ignored the structured-mode cache {path}: it is not a file Janus wrote (it is rewritten)"
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return {}, bad
    entries = document.get("entries") if isinstance(document, dict) and document.get("version") == _VERSION \
        else None
    if not isinstance(entries, dict):
        return {}, bad
    kept = {key: entry for key, entry in entries.items() if _well_formed(key, entry, ladder)}
    return kept, (bad if len(kept) != len(entries) else None)


def _well_formed(key: Any, entry: Any, ladder: tuple[str, ...]) -> bool:
    return (isinstance(key, str) and len(key) == 32 and isinstance(entry, dict)
            and entry.get("mode") in ladder
            and isinstance(entry.get("refused"), list) and len(entry["refused"]) < len(ladder)
            and all(m in ladder for m in entry["refused"])
            and isinstance(entry.get("at"), (int, float)) and not isinstance(entry["at"], bool)
            and entry["at"] == entry["at"])  # not NaN


def _fresh(entry: dict[str, Any], now: float, life: float) -> bool:
    # a time ahead of the clock (by more than a day) is not trusted
    return now - life < entry["at"] <= now + _DAY


def recall(backend: str, endpoint: str, model: str,
           ladder: tuple[str, ...]) -> tuple[dict[str, Any] | None, str | None]:
    """The fresh entry for (backend, endpoint, model) as ``{"mode", "refused"}``, or None; and a note
    for the user when the cache or its setting was ignored."""
    life, note = lifetime()
    if life <= 0:
        return None, note
    path = cache_dir() / FILE_NAME
    entries, problem = _read(path, ladder)
    entry = entries.get(entry_key(backend, endpoint, model))
    found = {"mode": entry["mode"], "refused": list(entry["refused"])} \
        if entry is not None and _fresh(entry, time.time(), life) else None
    return found, problem or note


def remember(backend: str, endpoint: str, model: str, mode: str, refused: list[str],
             ladder: tuple[str, ...]) -> None:
    """Keep ``mode`` for (backend, endpoint, model), dropping expired entries and the oldest beyond
    MAX_ENTRIES. Best effort: a cache that cannot be written is left as it is."""
    life, _ = lifetime()
    if life <= 0 or mode not in ladder:
        return
    folder = cache_dir()
    path = folder / FILE_NAME
    now = time.time()
    entries, _ = _read(path, ladder)
    entries[entry_key(backend, endpoint, model)] = {"mode": mode, "refused": [m for m in refused if m in ladder],
                                                    "at": now}
    newest = sorted(((k, e) for k, e in entries.items() if _fresh(e, now, life)),
                    key=lambda item: item[1]["at"], reverse=True)[:MAX_ENTRIES]
    data = json.dumps({"version": _VERSION, "entries": dict(newest)}, separators=(",", ":")).encode()
    staged: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile("wb", dir=folder, prefix=".structured-modes.", suffix=".tmp",
                                         delete=False) as handle:
            staged = handle.name
            handle.write(data)
        os.replace(staged, path)
    except OSError:
        if staged is not None:
            with contextlib.suppress(OSError):
                os.unlink(staged)
