"""Diagram reader for SQL DDL (``schema.sql``), parsed with sqlglot.

Tables become entities, columns attributes (PK/FK/UK keys), foreign keys relationships with
cardinalities, and comments details, as ``%%`` comments do in a Mermaid erDiagram. The mapping is
in docs/concepts/sql-schemas.md; ``reader.read_schema`` does the work.
"""

from __future__ import annotations

import re

from janus_core import hookimpl
from janus_core.sdk.contracts import DiagramReader

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_CREATE_TABLE = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL|TEMP|TEMPORARY|UNLOGGED)\s+)*"
                           r"TABLE\b", re.I)
_FIRST_WORDS = re.compile(r"\s*(?:(?:CREATE|ALTER|COMMENT|SET|BEGIN|START|DROP|USE|PRAGMA|GRANT|INSERT|DELIMITER|GO|"
                          r"PRINT|IF|DO|DECLARE|REM|PROMPT|LOCK|SELECT|COPY|INSTALL|LOAD|SOURCE)\b|\\[a-z]|:[a-z]|#|/)",
                          re.I)


def _detect(text: str) -> bool:
    """SQL whose first statement is DDL-like and that creates at least one table."""
    body = _COMMENTS.sub(" ", text.removeprefix("\ufeff"))
    return bool(_FIRST_WORDS.match(body)) and bool(_CREATE_TABLE.search(body))


def _read(text: str, path: str, dialect: str | None = None):
    from .reader import read_schema

    return read_schema(text, path, dialect)


def _dialects() -> tuple[str, ...]:
    from .reader import dialects

    return tuple(dialects())


@hookimpl
def register_diagram_readers(register):
    register(DiagramReader(name="sql", suffixes=(".sql", ".ddl"), detect=_detect, read=_read,
                           description="SQL DDL: CREATE TABLE columns and keys, foreign keys as "
                                       "relationships, comments as details", dialects=_dialects))
