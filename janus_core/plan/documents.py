"""Document grounding: the user's documents, cut into overlapping chunks attached to entities.

``documents:`` in setup.yaml lists files or globs (relative to the spec folder) of Markdown, text
or PDF (read with pypdf). Each document is cut into windows of ``chunking.words`` words that
overlap by ``chunking.overlap`` words, keeping the original text. A chunk attaches to every
entity it mentions (by name, alias, or the name in words: ``MARRIAGE_COUNSELOR`` matches
"marriage counselor(s)"); a seed context carries the ``chunking.per_context`` chunks that mention
the most of its entities, and its records name those chunks in ``walk.chunks``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from janus_core.sdk.errors import JanusError
from janus_core.spec.diagram import Diagram
from janus_core.spec.documents import SUFFIXES, find_documents

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    """One window of a document, and the entities it mentions (with how often)."""

    id: str
    source: str
    text: str
    mentions: tuple[tuple[str, int], ...]

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.mentions)


def read_document(path: Path) -> str:
    """A document's text: Markdown and text as they are, PDF through pypdf."""
    if path.suffix.lower() == ".pdf":
        try:
            from pypdf import PdfReader
            from pypdf.errors import PdfReadError
        except ImportError as exc:  # pragma: no cover - pypdf is a dependency
            raise JanusError("reading PDF documents needs pypdf: pip install pypdf") from exc
        try:
            reader = PdfReader(str(path))
            return "\n\n".join(page.extract_text() or "" for page in reader.pages)
        except (PdfReadError, OSError, ValueError) as exc:
            raise JanusError(f"{path}: not a readable PDF ({exc})") from None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise JanusError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None


def chunk_text(text: str, words: int = 200, overlap: int = 40) -> list[str]:
    """Windows of ``words`` words, each starting ``words - overlap`` words after the last, with the
    text between the first and last word kept as written."""
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return []
    step = max(words - overlap, 1)
    chunks = []
    for start in range(0, len(spans), step):
        window = spans[start:start + words]
        chunks.append(text[window[0][0]:window[-1][1]])
        if start + words >= len(spans):
            break
    return chunks


def entity_patterns(diagram: Diagram) -> dict[str, re.Pattern[str]]:
    """For every entity, a pattern of the ways a document may name it."""
    patterns = {}
    for entity in diagram.entities.values():
        names = {entity.name, entity.name.replace("_", " ").replace("-", " ")}
        if entity.alias:
            names.add(entity.alias)
        alternatives = "|".join(sorted((re.escape(n).replace(r"\ ", r"[\s_-]+") for n in names), key=len, reverse=True))
        patterns[entity.name] = re.compile(rf"(?<![\w])(?:{alternatives})(?:e?s)?(?![\w])", re.I)
    return patterns


class Documents:
    """Every chunk of a spec's documents, and which chunks each entity has."""

    def __init__(self, chunks: list[Chunk]):
        self.chunks = chunks
        self.by_entity: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            for name in chunk.entities:
                self.by_entity.setdefault(name, []).append(chunk)

    @classmethod
    def load(cls, folder: Path, patterns: list[str], diagram: Diagram, words: int = 200,
             overlap: int = 40) -> Documents:
        if overlap >= words:
            raise JanusError(f"chunking.overlap ({overlap}) must be smaller than chunking.words ({words})")
        find = entity_patterns(diagram)
        chunks = []
        seen: set[Path] = set()
        for i, paths in find_documents(folder, patterns):
            if not paths:
                raise JanusError(f"documents[{i}]: '{patterns[i]}' names no file in {folder}")
            for path in paths:
                if path.resolve() in seen:
                    continue
                seen.add(path.resolve())
                if path.suffix.lower() not in SUFFIXES:
                    raise JanusError(f"{path}: documents must be {', '.join(SUFFIXES)} files")
                try:
                    source = str(path.resolve().relative_to(folder.resolve()))
                except ValueError:
                    source = str(path)
                for n, text in enumerate(chunk_text(read_document(path), words, overlap)):
                    counts = Counter({name: len(p.findall(text)) for name, p in find.items()})
                    mentions = tuple((name, c) for name, c in counts.most_common() if c)
                    chunks.append(Chunk(f"{source}#{n}", source, text, mentions))
        return cls(chunks)

    def for_context(self, entities: tuple[str, ...] | list[str], k: int = 2) -> list[Chunk]:
        """The ``k`` chunks that mention the most of these entities (then the most often), in order."""
        wanted = set(entities)
        scored = []
        for order, chunk in enumerate(self.chunks):
            counts = dict(chunk.mentions)
            hit = wanted & counts.keys()
            if hit:
                scored.append((-len(hit), -sum(counts[name] for name in hit), order, chunk))
        return [chunk for *_, chunk in sorted(scored, key=lambda row: row[:3])[:k]]

    def summary(self) -> dict[str, object]:
        return {"chunks": len(self.chunks), "sources": len({c.source for c in self.chunks}),
                "unattached": sum(1 for c in self.chunks if not c.mentions),
                "by_entity": {name: len(chunks) for name, chunks in sorted(self.by_entity.items())}}


def render_chunks(chunks: list[Chunk]) -> str:
    """Chunks as they appear in a prompt: each with its id."""
    return "\n\n".join(f"[{c.id}]\n{c.text}" for c in chunks)
