"""Run a model's SQL on a world, read-only and bounded.

``run_query(world, sql)`` takes one SELECT (or WITH ... SELECT) statement and returns a
``QueryResult``: the columns, the first rows and how many rows the query gave. Everything else is
refused (``QueryRefused``): more than one statement, another SQLite statement (INSERT, PRAGMA...),
or one the authorizer stops (``WITH ... DELETE``); text that is no SQL statement at all fails.
Three locks keep the world as it is whatever the text says: the file is opened read-only (SQLite's
``mode=ro`` URI), ``PRAGMA query_only`` is on, and an authorizer denies every action but reading
tables and calling functions (no writes, ATTACH, PRAGMA or temporary tables; nor reading the
world's own ``__janus_world__`` table). A query that fails, runs past its time budget (a progress
handler interrupts it) or gives more than ``max_rows`` rows raises ``QueryFailed``. Both are
ValueErrors with a plain-English message.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_plugins.world.schema import META_TABLE

#: seconds a query may run, the most rows it may give, and the rows a result keeps
TIME_BUDGET = 2.0
MAX_ROWS = 10_000
KEPT_ROWS = 10

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(\*/|$)", re.S)
#: the first words of SQLite's other statements (a text that begins otherwise is no SQL at all)
_STATEMENTS = {"INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH",
               "PRAGMA", "VACUUM", "REINDEX", "ANALYZE", "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE",
               "EXPLAIN", "VALUES"}
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


class QueryRefused(ValueError):
    """The text is not one read-only SELECT/WITH statement."""


class QueryFailed(ValueError):
    """The statement did not run (an SQL error, the time budget, too many rows)."""


@dataclass
class QueryResult:
    columns: list[str]
    #: the first ``KEPT_ROWS`` rows (bytes as hex text)
    rows: list[list[Any]] = field(default_factory=list)
    row_count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "row_count": self.row_count}


def strip_sql(text: str) -> str:
    """The statement without a code fence around it, leading comments or a trailing semicolon."""
    text = text.strip()
    fenced = re.fullmatch(r"```[a-zA-Z]*\s*\n?(.*?)\n?```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    return text.rstrip().rstrip(";").strip()


def check_statement(sql: str) -> str:
    """``sql`` as one statement (see ``strip_sql``); QueryRefused unless it is a single SELECT/WITH,
    QueryFailed for text that is no SQL statement."""
    text = strip_sql(sql)
    bare = _COMMENTS.sub(" ", text).strip()
    if not bare:
        raise QueryRefused("the SQL is empty")
    first = bare.split(None, 1)[0].upper()
    if first not in ("SELECT", "WITH"):
        if first.rstrip("(") in _STATEMENTS:
            raise QueryRefused(f"only a SELECT (or WITH ... SELECT) statement is run, not {first}")
        raise QueryFailed(f"not an SQL statement (it begins {bare[:30]!r})")
    if not sqlite3.complete_statement(text + "\n;") or _more_than_one(text):
        raise QueryRefused("the SQL holds more than one statement (or an unfinished one)")
    return text


def _more_than_one(text: str) -> bool:
    """Whether a semicolon outside strings, identifiers and comments ends a statement before the end."""
    for i, ch in enumerate(text):
        if ch == ";" and sqlite3.complete_statement(text[: i + 1]) and text[i + 1:].strip():
            return True
    return False


def _authorize(action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
    if action == sqlite3.SQLITE_READ and arg1 == META_TABLE:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _cell(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def run_query(world: str | Path | sqlite3.Connection, sql: str, *, max_rows: int = MAX_ROWS,
              time_budget: float = TIME_BUDGET, keep: int = KEPT_ROWS) -> QueryResult:
    """Run one read-only statement on a world file, or on an open connection to one (a
    ``ToolSession``'s private copy: its authorizer and progress handler are set for the query and
    cleared after); see the module docstring."""
    text = check_statement(sql)
    if isinstance(world, sqlite3.Connection):
        return _execute(world, text, max_rows, time_budget, keep)
    path = Path(world)
    if not path.is_file():
        raise QueryFailed(f"{path}: no such world file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA query_only = ON")
        return _execute(conn, text, max_rows, time_budget, keep)
    finally:
        conn.close()


def _execute(conn: sqlite3.Connection, text: str, max_rows: int, time_budget: float, keep: int) -> QueryResult:
    deadline = time.monotonic() + time_budget
    conn.set_authorizer(_authorize)
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        cursor = conn.execute(text)
        columns = [d[0] for d in cursor.description or ()]
        kept: list[list[Any]] = []
        count = 0
        while batch := cursor.fetchmany(500):
            count += len(batch)
            if count > max_rows:
                raise QueryFailed(f"the query gives more than {max_rows} rows")
            kept += [[_cell(v) for v in row] for row in batch[: max(0, keep - len(kept))]]
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise QueryFailed(f"the query ran past its {time_budget:g} s budget") from None
        raise QueryFailed(f"SQLite: {exc}") from None
    except (sqlite3.DatabaseError, sqlite3.Warning, sqlite3.ProgrammingError) as exc:
        if "not authorized" in str(exc):  # the authorizer denied a write, ATTACH, PRAGMA...
            raise QueryRefused("only reading is allowed: the statement would change the database") from None
        raise QueryFailed(f"SQLite: {exc}") from None
    finally:
        conn.set_authorizer(None)
        conn.set_progress_handler(None, 0)
    if not columns:
        raise QueryRefused("the statement gives no result columns")
    return QueryResult(columns, kept, count)
