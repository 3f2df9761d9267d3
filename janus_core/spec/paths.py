"""Paths a spec names stay inside its folder: the spec is untrusted data and may read nothing else."""

from __future__ import annotations

import re
from pathlib import Path, PureWindowsPath


def refusal(entry: str) -> str | None:
    """Why a path written in a spec may not be used as written (None: it may).

    Refuses empty paths, NUL characters, ``~``, absolute paths and ``..`` parts; symlinks are
    checked once the path is resolved (``outside``).
    """
    if not entry.strip():
        return "an empty path"
    if "\x00" in entry:
        return "a path with a NUL character"
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
    if reason is None and not (folder / entry).resolve().is_relative_to(folder.resolve()):
        reason = "a symlink that leads outside the spec folder"
    return reason
