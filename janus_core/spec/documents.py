"""Which files a spec's ``documents:`` names: inside the spec folder, of a kind Janus reads, bounded."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from janus_core.sdk.errors import JanusError
from janus_core.spec.paths import refusal

#: the kinds of document Janus reads (PDF through pypdf)
SUFFIXES = (".md", ".markdown", ".txt", ".pdf")

#: at most this many document files, and this many bytes in all (what the files expand to once read,
#: a PDF's text above all, is bounded where they are read: ``janus_core.plan.documents.DocumentLimits``)
MAX_FILES = 1000
MAX_TOTAL_BYTES = 50_000_000


class DocumentError(JanusError):
    """A ``documents:`` entry (by its index) names something Janus will not read."""

    def __init__(self, index: int, entry: str, message: str, hint: str = ""):
        super().__init__(f"documents[{index}]: '{entry}': {message}")
        self.index, self.entry, self.message, self.hint = index, entry, message, hint


_CONFINED = "entries are paths or globs inside the spec folder, such as 'docs/' or 'notes/*.md'"


def _walk(top: Path) -> Iterator[Path]:
    """Files under a folder, sorted, never following a symlinked folder."""
    for root, dirs, files in os.walk(top, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            yield Path(root, name)


def find_documents(folder: Path, patterns: list[str]) -> list[tuple[int, list[Path]]]:
    """For each pattern (by its index in ``documents:``), the files it names, sorted; every file
    inside the spec folder once symlinks are resolved, and at most MAX_FILES files and
    MAX_TOTAL_BYTES bytes in all. DocumentError names the entry that breaks a rule."""
    root = folder.resolve()
    found, count, total = [], 0, 0
    for i, pattern in enumerate(patterns):
        why = refusal(pattern)
        if why:
            raise DocumentError(i, pattern, why, _CONFINED)
        path = folder / pattern
        if path.is_dir():  # a folder: the documents in it and below
            if not path.resolve().is_relative_to(root):
                raise DocumentError(i, pattern, "a symlink that leads outside the spec folder", _CONFINED)
            matches: Iterable[Path] = (p for p in _walk(path) if p.suffix.lower() in SUFFIXES)
        elif path.exists() or path.is_symlink():
            matches = [path]
        else:
            try:  # the pattern is read when the first match is asked for
                next(folder.glob(pattern), None)
            except ValueError as exc:  # '**' inside a name, say
                raise DocumentError(i, pattern, f"not a pattern Janus can read ({exc})", _CONFINED) from None
            matches = folder.glob(pattern)
        kept = []
        for p in matches:
            # hidden files (.DS_Store, .gitkeep) are never documents
            if p.name.startswith(".") or not p.is_file():
                continue
            if not p.resolve().is_relative_to(root):
                raise DocumentError(i, pattern, f"{p.name} is a symlink that leads outside the spec folder",
                                    _CONFINED)
            count += 1
            total += p.stat().st_size
            if count > MAX_FILES:
                raise DocumentError(i, pattern, f"more than {MAX_FILES:,} document files", "name fewer files")
            if total > MAX_TOTAL_BYTES:
                raise DocumentError(i, pattern, f"documents larger than {MAX_TOTAL_BYTES:,} bytes in all",
                                    "name fewer or smaller files")
            kept.append(p)
        found.append((i, sorted(kept)))
    return found
