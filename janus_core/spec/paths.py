"""Paths a spec names stay inside its folder: the spec is untrusted data and may read nothing else."""

from __future__ import annotations

import re
from pathlib import Path, PureWindowsPath

#: the longest path a spec may write, and the longest name in it (the common file system limits)
MAX_PATH_BYTES = 1024
MAX_NAME_BYTES = 255


def refusal(entry: str) -> str | None:
    """Why a path written in a spec may not be used as written (None: it may).

    Refuses empty paths, NUL characters, over-long paths and names, ``~``, absolute paths and ``..``
    parts; symlinks are checked once the path is resolved (``outside``).
    """
    if not entry.strip():
        return "an empty path"
    if "\x00" in entry:
        return "a path with a NUL character"
    if len(entry.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"a path longer than {MAX_PATH_BYTES:,} bytes"
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in re.split(r"[/\\]", entry)):
        return f"a file or folder name longer than {MAX_NAME_BYTES} bytes"
    if entry.startswith("~"):
        return "'~' (a home folder) is outside the spec folder"
    if Path(entry).is_absolute() or entry.startswith(("/", "\\")) or PureWindowsPath(entry).drive:
        return "an absolute path; files a spec names must be inside the spec folder"
    if ".." in re.split(r"[/\\]", entry):
        return "'..' leads outside the spec folder"
    return None


def outside(folder: Path, entry: str) -> str | None:
    """Why ``entry`` (relative to ``folder``) is not a path inside the folder, symlinks resolved."""
    reason = refusal(entry)
    if reason is None:
        try:
            inside = (folder / entry).resolve().is_relative_to(folder.resolve())
        except (OSError, RuntimeError):  # a symlink loop, say
            return "a path that cannot be followed (a symlink loop?)"
        if not inside:
            reason = "a symlink that leads outside the spec folder"
    return reason
