"""A PDF's text through pypdf, read page by page within bounds.

A small PDF can expand enormously: pages may share one compressed content stream that inflates to
megabytes, and pypdf's extraction time grows faster than the text it yields. So every stream's
decompressed size and parsing work are capped (pypdf's own limits, lowered while Janus reads), the
content each page draws and the whole document draws are counted before a page is read, and the
text and the time are watched while a page is read, operator by operator; the first bound passed
stops the reading and names the file and page.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from janus_core.sdk.errors import JanusError

if TYPE_CHECKING:
    from janus_core.plan.documents import DocumentLimits

#: the operators that show text, and where their strings are among the operands
_SHOWS = frozenset({b"Tj", b"TJ", b"'", b'"'})


class _Passed(Exception):
    """A bound passed while pypdf reads a page (raised from its operator callback)."""


def _shown_length(operands: list[Any]) -> int:
    """About how many characters a text operator shows (a string's length in its bytes or letters)."""
    total = 0
    for operand in operands:
        if isinstance(operand, str | bytes):
            total += len(operand)
        elif isinstance(operand, list):  # TJ: strings and kerning numbers
            total += sum(len(item) for item in operand if isinstance(item, str | bytes))
    return total


class _Watch:
    """pypdf's operator callback: stops the page once it shows more text than ``room`` or the
    deadline passes."""

    def __init__(self, room: int, deadline: float):
        self.room, self.deadline, self.shown = room, deadline, 0

    def __call__(self, operator: bytes, operands: Any, _cm: Any, _tm: Any) -> None:
        if operator in _SHOWS:
            self.shown += _shown_length(operands)
            if self.shown > self.room:
                raise _Passed("text")
        if time.monotonic() > self.deadline:
            raise _Passed("time")


def _content_bytes(page: Any) -> int:
    """How many bytes of (decompressed) content a page draws: its /Contents streams."""
    from pypdf.generic import ArrayObject, StreamObject

    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    parts = [c.get_object() for c in contents] if isinstance(contents, ArrayObject) else [contents]
    return sum(len(part.get_data()) for part in parts if isinstance(part, StreamObject))


def read_pdf(path: Path, limits: DocumentLimits) -> str:
    """The text of every page, blank-line separated; JanusError naming the file (and the page) when
    it is no readable PDF or passes one of ``limits``."""
    try:
        from pypdf import PdfReader, apply_configuration
        from pypdf.errors import LimitReachedError
    except ImportError as exc:  # pragma: no cover - pypdf is a dependency
        raise JanusError("reading PDF documents needs pypdf: pip install pypdf") from exc
    streams = limits.stream_bytes
    bounded = apply_configuration(
        maximum_declared_stream_length=streams, array_based_stream_maximum_output_length=streams,
        zlib_maximum_output_length=streams, lzw_maximum_output_length=streams,
        run_length_maximum_output_length=streams, brotli_maximum_output_length=streams,
        jbig2_maximum_output_length=streams, stream_decoding_work_maximum_length=3 * streams,
        stream_parsing_work_maximum_count=limits.stream_tokens)
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)  # pypdf's warnings quote the file; the refusal below says what matters
    deadline = time.monotonic() + limits.seconds
    texts: list[str] = []
    number, drawn, length = 0, 0, 0
    try:
        with bounded:
            reader = PdfReader(str(path))
            for number, page in enumerate(reader.pages, 1):
                content = _content_bytes(page)
                if content > limits.page_content_bytes:
                    raise JanusError(f"{path}: page {number} draws {content:,} bytes of content, over the "
                                     f"{limits.page_content_bytes:,} one page may draw; a PDF that expands this "
                                     "far is refused (split the document, or save it as text)")
                drawn += content
                if drawn > limits.pdf_content_bytes:
                    raise JanusError(f"{path}: pages 1 to {number} draw {drawn:,} bytes of content, over the "
                                     f"{limits.pdf_content_bytes:,} one document may draw (pages that share one "
                                     "content stream count it each time); split the document, or save it as text")
                room = limits.characters - length
                text = page.extract_text(visitor_operand_before=_Watch(2 * room + 1000, deadline)) or ""
                length += len(text) + 2
                if length > limits.characters:
                    raise _Passed("text")
                texts.append(text)
                if time.monotonic() > deadline:
                    raise _Passed("time")
    except _Passed as passed:
        if passed.args[0] == "time":
            raise JanusError(f"{path}: page {number}: reading the document took over {limits.seconds:g} s, the "
                             "most one document may take; split it, or save it as text") from None
        raise JanusError(f"{path}: page {number}: the text passes {limits.characters:,} characters, the most "
                         "Janus reads from one document; split it into smaller files") from None
    except JanusError:
        raise
    except LimitReachedError as exc:
        raise JanusError(f"{path}: page {number}: a stream expands past {streams:,} bytes or takes more work to "
                         f"parse than Janus allows ({exc}); a PDF that expands this far is refused (split the "
                         "document, or save it as text)") from None
    except Exception as exc:  # pypdf meets a malformed or hostile file in many ways; none is a crash
        where = f"page {number}: " if number else ""
        raise JanusError(f"{path}: {where}not a readable PDF ({type(exc).__name__}: {exc})") from None
    finally:
        logger.setLevel(level)
    return "\n\n".join(texts)
