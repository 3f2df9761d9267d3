"""Document grounding: the user's documents, cut into overlapping chunks attached to entities.

``documents:`` in setup.yaml lists files or globs (relative to the spec folder) of Markdown, text
or PDF (read with pypdf). Each document is cut into windows of ``chunking.words`` words that
overlap by ``chunking.overlap`` words, keeping the original text. A chunk attaches to every
entity it mentions (by name, alias, or the name in words: ``MARRIAGE_COUNSELOR`` matches
"marriage counselor(s)"); a seed context carries the ``chunking.per_context`` chunks that mention
the most of its entities, and its records name those chunks in ``walk.chunks``.

What documents expand to is bounded (``DocumentLimits``): the text of one document and of all of
them, the chunks they make, and the time one document takes to read; a PDF is read page by page
within further bounds (``pdf_text``), and the first bound passed refuses it, naming file and page.
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
class DocumentLimits:
    """How far documents may expand once read (their files are bounded in ``spec.documents``)."""

    #: characters of text one document may give, and all documents together
    characters: int = 2_000_000
    total_characters: int = 10_000_000
    #: chunks all documents together may make
    chunks: int = 20_000
    #: seconds one document may take to read
    seconds: float = 60.0
    #: PDF: bytes of decompressed content one page may draw, and all pages of one document
    #: (a stream that pages share counted for each)
    page_content_bytes: int = 2_000_000
    pdf_content_bytes: int = 20_000_000
    #: PDF: bytes one stream may decompress to, and tokens pypdf may parse in one content stream
    stream_bytes: int = 10_000_000
    stream_tokens: int = 500_000


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


def read_document(path: Path, limits: DocumentLimits = DocumentLimits()) -> str:
    """A document's text: Markdown and text as they are, PDF through pypdf, each within ``limits``."""
    if path.suffix.lower() == ".pdf":
        from janus_core.plan.pdf_text import read_pdf

        return read_pdf(path, limits)
    try:
        with path.open(encoding="utf-8") as f:
            text = f.read(limits.characters + 1)
    except UnicodeDecodeError as exc:
        raise JanusError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except OSError as exc:
        raise JanusError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(text) > limits.characters:
        raise JanusError(f"{path}: more than {limits.characters:,} characters, the most Janus reads from one "
                         "document; split it into smaller files")
    return text


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
             overlap: int = 40, limits: DocumentLimits = DocumentLimits()) -> Documents:
        """Read, chunk and attach every document ``patterns`` names, within ``limits``."""
        if overlap >= words:
            raise JanusError(f"chunking.overlap ({overlap}) must be smaller than chunking.words ({words})")
        find = entity_patterns(diagram)
        chunks = []
        seen: set[Path] = set()
        characters = 0
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
                text = read_document(path, limits)
                characters += len(text)
                if characters > limits.total_characters:
                    raise JanusError(f"{path}: the documents' text passes {limits.total_characters:,} characters "
                                     "in all, the most Janus reads; name fewer documents")
                pieces = chunk_text(text, words, overlap)
                if len(chunks) + len(pieces) > limits.chunks:
                    raise JanusError(f"{path}: the documents make more than {limits.chunks:,} chunks in all; name "
                                     "fewer documents, or raise chunking.words")
                for n, piece in enumerate(pieces):
                    counts = Counter({name: len(p.findall(piece)) for name, p in find.items()})
                    mentions = tuple((name, c) for name, c in counts.most_common() if c)
                    chunks.append(Chunk(f"{source}#{n}", source, piece, mentions))
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
