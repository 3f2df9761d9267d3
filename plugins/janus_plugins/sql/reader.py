"""SQL DDL -> Diagram, with sqlglot doing the SQL.

The file is cut into statements the way its client would (``splitting``: GO, DELIMITER, dollar
quotes, PL/SQL ``/``, psql/sqlcmd/SQL*Plus/mysql client commands), in the dialect it names
(``-- dialect: postgres`` before the first statement), or the one the caller gives, or the one its
tool marks show (``dialects``). Each statement is sorted by its first words (``statements``):
CREATE TABLE, ALTER TABLE and COMMENT ON TABLE/COLUMN are read, one by one, with sqlglot in that
dialect (then in others, then once more with clauses sqlglot lacks and the diagram does not need
blanked out); CREATE/ALTER TABLE inside blocks that run as read (``DO $$``, ``BEGIN ... END``,
``IF ... BEGIN``) are read too; everything else is skipped and counted in ``Diagram.reading`` (one
line) and ``Diagram.reading_details`` (one line per statement, FILE:LINE:COL). A CREATE TABLE no
dialect reads is an error at its place, never dropped. Comments directly above a table or column
(no blank line between) or at the end of its line belong to it.

PostgreSQL partitions (PARTITION OF) and inheritance children with no columns of their own are
folded into their parent (noted); children with columns of their own are entities with an
"is a kind of" relationship to their parents. A foreign key to a table the file does not create
keeps that table as an entity noted "defined outside this schema". ``CREATE UNIQUE INDEX`` on columns
(no WHERE) makes them a unique key; ``DROP TABLE`` of a table read above removes it (said in the
summary); ``ALTER TABLE ... DROP CONSTRAINT|COLUMN`` takes away the key or column named. A leading byte order mark is
dropped, control characters are refused, and names are kept in NFC form.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from janus_core.sdk.errors import Problem, SpecError
from janus_core.spec.diagram import Attribute, Diagram, Entity, Relationship, nfc
from janus_core.spec.safe_load import BOM, check_diagram_text

from .statements import ALTER, BLOCKS, COMMENT, TABLE, Skipped, kind

_DIALECT_LINE = re.compile(r"^\s*--\s*dialect\s*:\s*([\w-]*)\s*$", re.I | re.M)
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/|#[^\n]*", re.S)
_PREPOSITIONS = {"by", "to", "for", "from", "with", "of", "in", "on", "at", "as"}
_CREATE_TABLE = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:\w+\s+)*?TABLE\b", re.I)
#: ALTER TABLE commands sqlglot cannot read but that change nothing the diagram shows.
_STRUCTURAL = re.compile(r"\b(FOREIGN\s+KEY|REFERENCES|PRIMARY\s+KEY|ADD\s+COLUMN|UNIQUE|"
                         r"NOT\s+NULL|RENAME|DROP\s+COLUMN)\b", re.I)


# --- comments and positions ------------------------------------------------------------------

@dataclass
class _Comment:
    start: int
    end: int  # exclusive
    line: int
    end_line: int
    text: str


@dataclass
class _Source:
    """The text, its line starts and its comments (found in the gaps between tokens)."""

    text: str
    path: str
    comments: list[_Comment] = field(default_factory=list)
    skip: set[int] = field(default_factory=set)  # starts of comments that are directives

    def __post_init__(self) -> None:
        self._lines = [0] + [m.end() for m in re.finditer(r"\n", self.text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._lines, offset) - 1
        return i + 1, offset - self._lines[i] + 1

    def take_comments(self, cut: Any) -> None:
        """The comments the splitter found; tool markers and MySQL's /*!...*/ code are not descriptions."""
        for c in cut.comments:
            body = self.text[c.start:c.end]
            text = body[2:-2] if body.startswith("/*") else body.lstrip("-#")
            self.comments.append(_Comment(c.start, c.end, self.line_col(c.start)[0],
                                          self.line_col(max(c.start, c.end - 1))[0], " ".join(text.split())))
            if c.directive:
                self.skip.add(c.start)

    def line_end(self, token: Any) -> int:
        """The offset where the line holding the end of ``token`` ends."""
        nl = self.text.find("\n", token.end)
        return len(self.text) if nl < 0 else nl

    def above(self, first_token, floor: int) -> list[str]:
        """Comments in one block directly above ``first_token`` (after offset ``floor``)."""
        line = self.line_col(first_token.start)[0]
        found: list[str] = []
        for c in reversed([c for c in self.comments if floor <= c.start < first_token.start]):
            if c.end_line not in (line, line - 1) or c.start in self.skip:
                break
            found.insert(0, c.text)
            line = c.line
        return [t for t in found if t]

    def trailing(self, last_token, ceiling: int) -> list[str]:
        """Comments on the line of ``last_token`` after it (before offset ``ceiling``)."""
        line = self.line_col(last_token.end)[0]
        return [c.text for c in self.comments
                if last_token.end < c.start < ceiling and c.line == line and c.text and c.start not in self.skip]

    def problem(self, offset: int, message: str, hint: str = "") -> SpecError:
        return SpecError(Problem(self.path, *self.line_col(offset), message, hint))


# --- the schema as read -----------------------------------------------------------------------

@dataclass
class _Column:
    name: str
    type: str
    not_null: bool = False
    unique: bool = False
    comments: list[str] = field(default_factory=list)


@dataclass
class _ForeignKey:
    columns: list[str]
    schema: str | None
    table: str
    offset: int
    comments: list[str] = field(default_factory=list)
    #: the parent's columns it names; none: the parent's primary key
    ref_columns: list[str] = field(default_factory=list)
    name: str = ""  # CONSTRAINT name, when it has one (ALTER TABLE ... DROP CONSTRAINT name)


@dataclass
class _Table:
    schema: str | None
    name: str
    offset: int
    columns: dict[str, _Column] = field(default_factory=dict)  # by lower-case name
    primary: list[str] = field(default_factory=list)
    primary_name: str = ""
    uniques: list[list[str]] = field(default_factory=list)
    fks: list[_ForeignKey] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    entity: str = ""
    #: PostgreSQL: the parents it INHERITS from; the table it is a PARTITION OF
    inherits: list[tuple[str | None, str]] = field(default_factory=list)
    partition_of: tuple[str | None, str] | None = None
    outside: bool = False  # named by a foreign key, created elsewhere
    own_columns: int = 0  # columns of its own (not inherited)
    partitions: list[str] = field(default_factory=list)  # folded into this table
    parents: list[_Table] = field(default_factory=list)  # INHERITS, as read

    def column(self, name: str, src: _Source, offset: int) -> _Column:
        col = self.columns.get(nfc(name).lower())
        if col is None:
            raise src.problem(offset, f"table {self.name} has no column '{name}'",
                              f"its columns: {', '.join(c.name for c in self.columns.values())}")
        return col


def dialects() -> list[str]:
    from sqlglot.dialects.dialect import Dialects

    return sorted(d.value for d in Dialects if d.value)


def read_schema(text: str, path: str = "schema.sql", dialect: str | None = None) -> Diagram:
    """Read SQL DDL into a Diagram; raise SpecError naming path:line:col on bad input.

    ``dialect`` (sqlglot's name) is used when the file names none in a ``-- dialect:`` line;
    without either, the dialect is detected from the marks of the tools that wrote the file.
    What was skipped is told in ``Diagram.reading`` (one line) and ``Diagram.reading_details``.
    """
    from .splitting import Client, UnclosedText, split

    text = text.removeprefix(BOM)
    check_diagram_text(text, path)
    src = _Source(text, path)
    if not text.strip():
        raise src.problem(0, "the schema is empty", "write CREATE TABLE statements")
    name = _dialect_name(src, dialect)
    try:
        cut = split(text, Client.of(name))
    except UnclosedText as exc:
        raise src.problem(exc.offset, "SQL that cannot be read: an unclosed quote or comment starts here",
                          "close the string ('...'), quoted name (\"...\") or comment (/* ... */)") from None
    src.take_comments(cut)
    reading = _Reading(src, cut, name)
    for piece in cut.pieces:
        reading.statement(piece.start, piece.end, piece.floor)
    reading.skipped.commands += cut.commands
    reading.skipped.commands += [(c.start, "/*!...*/ (MySQL versioned code)") for c in cut.comments
                                 if text.startswith("/*!", c.start)]
    if not reading.tables:
        raise src.problem(0, "the schema creates no table",
                          "write at least one 'CREATE TABLE name (column type, ...)' statement")
    tables = reading.tables
    _fold_partitions(src, tables, reading.skipped)
    external = _check_references(src, tables)
    reading.skipped.external += [t.name for t in external]
    diagram = _diagram(src, tables, external)
    diagram.reading = [reading.skipped.summary(name or "generic SQL")]
    diagram.reading_details = reading.details()
    return diagram


def _dialect_name(src: _Source, given: str | None) -> str | None:
    """The dialect a ``-- dialect: NAME`` line before the first statement names, else ``given``, else
    the one the file shows signs of (None: generic SQL)."""
    from .dialects import detect

    m = _DIALECT_LINE.search(src.text)
    if m is None or _COMMENT.sub("", src.text[:m.start()]).strip():
        name, at = given, None
    else:
        name, at = m.group(1).lower(), m.start(1)
    if name is None:
        return detect(src.text)
    if name not in dialects():
        if at is None:
            raise SpecError(Problem(src.path, 1, 1, f"unknown SQL dialect '{name}'",
                                    f"dialects: {', '.join(dialects())}"))
        raise src.problem(at, f"unknown SQL dialect '{name}'", f"dialects: {', '.join(dialects())}")
    return name


@contextmanager
def _quiet() -> Iterator[None]:
    """sqlglot logs a warning for each statement it falls back to reading as a command."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


#: dialects tried, in this order after the file's own, on a table statement its dialect cannot read
_FALLBACKS = ("postgres", "mysql", "tsql", "oracle", "sqlite", "snowflake", "bigquery", "")
_EXPECTED = {TABLE: "Create", ALTER: "Alter", COMMENT: "Comment"}


class _Reading:
    """Reads the statements one by one into ``tables``; keeps account of what it skips."""

    def __init__(self, src: _Source, cut: Any, dialect: str | None) -> None:
        self.src, self.cut, self.dialect = src, cut, dialect
        self.tables: dict[tuple[str | None, str], _Table] = {}
        self.skipped = Skipped()

    def statement(self, start: int, end: int, floor: int, bare: str | None = None) -> None:
        bare = self.cut.bare if bare is None else bare
        what = kind(bare[start:min(end, start + 400)])
        if what in (TABLE, ALTER, COMMENT):
            self._read(start, end, floor, what, bare)
            return
        if not what:
            self._unknown(start, end, bare)
            return
        if (what == "DROP" and self._drop(start, end, bare)) or \
                (what == "CREATE INDEX" and self._unique_index(start, end, bare)):
            return
        self.skipped.statements.append((start, what))
        if what in BLOCKS:
            self._inner(start, end)

    def _unknown(self, start: int, end: int, bare: str) -> None:
        """A statement whose first word Janus does not know: skipped if sqlglot reads it, else an error."""
        errors = []
        for dialect in self._dialects():
            try:
                self._parse(dialect, start, end)
            except SpecError as exc:
                errors.append(exc)
                continue
            self.skipped.statements.append((start, bare[start:end].split()[0].upper()))
            return
        raise errors[0]

    def _parsed(self, start: int, end: int) -> Any:
        """The statement as the first dialect that reads it reads it, or None."""
        for dialect in self._dialects():
            try:
                return self._parse(dialect, start, end)[1]
            except SpecError:
                continue
        return None

    def _drop(self, start: int, end: int, bare: str) -> bool:
        """``DROP TABLE`` of tables read above it (phpMyAdmin's stand-in tables for views): they are
        gone from the schema, and said so. A DROP of a table not read yet (mysqldump's ``DROP TABLE IF
        EXISTS`` before each CREATE) is skipped as before."""
        from sqlglot import exp

        if not re.match(r"\s*DROP\s+TABLE\b", bare[start:end], re.I):
            return False
        stmt = self._parsed(start, end)
        if not isinstance(stmt, exp.Drop) or str(stmt.args.get("kind") or "").upper() != "TABLE":
            return False
        named = [t for t in (stmt.args.get("tables") or [stmt.this]) if isinstance(t, exp.Table)]
        found = [t for t in (_lookup(self.tables, *_table_ref(t)) for t in named) if t is not None]
        for table in found:
            del self.tables[next(k for k, t in self.tables.items() if t is table)]
            self.skipped.dropped.append(table.name)
        return bool(found)

    def _unique_index(self, start: int, end: int, bare: str) -> bool:
        """``CREATE UNIQUE INDEX name ON table (columns)`` (no WHERE, columns only) makes the columns a
        unique key of a table read above it, as a UNIQUE constraint would (Prisma, Rails, pg_dump)."""
        from sqlglot import exp

        if not re.match(r"\s*CREATE\s+UNIQUE\s+(?:(?:NON)?CLUSTERED\s+)?INDEX\b", bare[start:end], re.I):
            return False
        stmt = self._parsed(start, end)
        index = stmt.this if isinstance(stmt, exp.Create) else None
        if not isinstance(index, exp.Index) or not isinstance(index.args.get("table"), exp.Table):
            return False
        params = index.args.get("params")
        if params is None or params.args.get("where") is not None:
            return False
        columns = [c.this if isinstance(c, exp.Ordered) else c for c in params.args.get("columns") or []]
        table = _lookup(self.tables, *_table_ref(index.args["table"]))
        if table is None or not columns or not all(isinstance(c, exp.Column) and nfc(c.name).lower() in table.columns
                                                    for c in columns):
            return False
        names = [table.columns[nfc(c.name).lower()].name for c in columns]
        if len(names) == 1:
            table.columns[names[0].lower()].unique = True
        elif names not in table.uniques:
            table.uniques.append(names)
        return True

    def _inner(self, start: int, end: int) -> None:
        """CREATE/ALTER TABLE statements inside a block that runs as it is read (DO $$ ... $$, BEGIN ...
        END, IF ... BEGIN ... END); DDL built in strings (EXECUTE IMMEDIATE) is only counted."""
        from .splitting import Client, split

        text, bare = self.src.text, self.cut.bare
        regions = [(start, end, bare)]
        for m in re.finditer(r"\$(?:[A-Za-z_]\w*)?\$", text[start:end]):
            if re.match(r"\s*DO\b", bare[start:start + m.start()], re.I) and m.start() > 0:
                tag = m.group()
                close = text.find(tag, start + m.end(), end)
                if close > 0:
                    inner = split(text, Client.of(self.dialect), start + m.end(), close)
                    regions = [(start + m.end(), close, inner.bare)]
                break
        if re.search(r"EXECUTE\s+IMMEDIATE|\bEXEC(?:UTE)?\s*\(", bare[start:end], re.I) and \
                re.search(r"CREATE\s+TABLE|ALTER\s+TABLE", text[start:end], re.I):
            self.skipped.blocks_with_text_ddl += 1
        for a, b, region in regions:
            for m in re.finditer(r"\b(?:CREATE\s+(?:\w+\s+){0,3}?TABLE|ALTER\s+TABLE)\b", region[a:b], re.I):
                at = a + m.start()
                stop = _inner_end(region, at, b)
                self.statement(at, stop, at, region)

    def _dialects(self) -> list[Any]:
        from sqlglot.dialects.dialect import Dialect

        names = [self.dialect or ""] + [d for d in _FALLBACKS if d != (self.dialect or "")]
        return [Dialect.get_or_raise(n or None) for n in names]

    def _read(self, start: int, end: int, floor: int, what: str, bare: str) -> None:
        first: SpecError | None = None
        rescued = _rescue(self.src.text, bare, start, end)
        texts = (self.src.text, rescued) if rescued != self.src.text else (self.src.text,)
        own, *others = self._dialects()
        # the file's own dialect with the rescue before another dialect (whose types would be shown)
        tries = [(text, own) for text in texts] + [(text, d) for text in texts for d in others]
        for text, dialect in tries:
            try:
                tokens, stmt = self._parse(dialect, start, end, text)
            except SpecError as exc:
                first = first or exc
                continue
            if type(stmt).__name__ != _EXPECTED[what] and not (what == ALTER and
                                                                isinstance(stmt, _alter_class())):
                continue
            if what == TABLE and _misread(stmt):
                continue
            if what == COMMENT and not _comment_target_known(stmt, self.tables):
                self.skipped.statements.append((start, "COMMENT ON (a view or outside table)"))
                return
            _apply(self.src, stmt, tokens, self.tables, floor, dialect)
            return
        if what == ALTER and self._oracle_modify(start, end):
            return
        if what == ALTER:
            words = " ".join(bare[start:end].split()).upper()
            if not _STRUCTURAL.search(words):  # OWNER TO, ENABLE TRIGGER, CHECK CONSTRAINT, SET DEFAULT ...
                self.skipped.statements.append((start, "ALTER TABLE (other)"))
                return
            raise self.src.problem(start, "unsupported ALTER TABLE statement: Janus reads ADD COLUMN, ADD "
                                   "CONSTRAINT (PRIMARY KEY, FOREIGN KEY, UNIQUE) and ALTER COLUMN SET/DROP NOT NULL",
                                   "give the schema as it ends up: CREATE TABLE statements with their keys")
        if what == COMMENT:
            self.skipped.statements.append((start, "COMMENT ON"))
            return
        if first is not None and first.problems[0].message != _INSIDE:
            raise first
        raise self.src.problem(start, "cannot read this CREATE TABLE statement",
                               _dialect_hint(self.dialect, "simplify the statement to columns, types and keys"))

    def _oracle_modify(self, start: int, end: int) -> bool:
        """Oracle's ``ALTER TABLE t MODIFY (c NOT NULL ENABLE)`` (SQL Developer), which sqlglot does not read."""
        m = _ORACLE_MODIFY.match(self.src.text, start, end)
        if m is None:
            return False
        parts = [_unquote(p) for p in re.findall(_NAME, m.group("table"))]
        table = _lookup(self.tables, parts[-2] if len(parts) > 1 else None, parts[-1])
        if table is None:
            raise self.src.problem(start, f"table '{parts[-1]}' is not created in this schema",
                                   "create it with CREATE TABLE before this statement")
        table.column(_unquote(m.group("column")), self.src, start).not_null = m.group("null").upper() != "NULL"
        return True

    def _parse(self, dialect: Any, start: int, end: int, text: str | None = None) -> tuple[list, Any]:
        tokens = _tokenize(self.src, dialect, start, end, text)
        stmt = _parse(self.src, dialect, tokens) if tokens else None
        if stmt is None:
            raise self.src.problem(start, "an empty statement")
        return tokens, stmt

    def details(self) -> list[str]:
        rows = [(o, f"skipped {k}") for o, k in self.skipped.statements]
        rows += [(o, f"skipped client command {k}") for o, k in self.skipped.commands]
        out = []
        for offset, text in sorted(rows):
            line, col = self.src.line_col(offset)
            out.append(f"{self.src.path}:{line}:{col}: {text}")
        return out


#: clauses sqlglot cannot read that tell nothing the diagram shows: blanked out (same length, so every
#: position stays) for a second try at a table statement
_RESCUE = re.compile(r"\b(?:TEXTIMAGE_ON|FILESTREAM_ON)\s+(?:\[[^\]\n]*\]|\w+)"
                     r"|(?<=\bKEY)\s+(?:NON)?CLUSTERED\b|(?<=\bUNIQUE)\s+(?:NON)?CLUSTERED\b"
                     r"|\bROWGUIDCOL\b|\bSPARSE\b|\bNOT\s+FOR\s+REPLICATION\b|(?<=\bWITH)\s+NOCHECK\b"
                     r"|\bWITH\s+NOCHECK\b", re.I)


#: more such clauses, kept where their first character is outside quotes and comments: CockroachDB's
#: index and column-family items (``UNIQUE INDEX name (c)`` becomes ``UNIQUE (c)``), ``NOT VISIBLE`` and
#: ``:::`` type annotations; Oracle's ENABLE/DISABLE after a constraint
_NAME = r'(?:"[^"\n]*"|\w+)'
_RESCUE_ITEMS = re.compile(rf",\s*(?:INVERTED\s+|VECTOR\s+)?INDEX\s+{_NAME}\s*\([^()]*\)(?:\s*STORING\s*\([^()]*\))?"
                           rf"|,\s*FAMILY\s+(?:{_NAME}\s*)?\([^()]*\)"
                           rf"|(?<=UNIQUE)\s+INDEX\s+{_NAME}(?=\s*\()"
                           r"|\bNOT\s+VISIBLE\b|:::\s*\w+|(?<=[\w\"])\s+(?:ASC|DESC)\b(?=\s*[,)])"
                           r"|\b(?:ENABLE|DISABLE)(?:\s+(?:NO)?VALIDATE)?(?=\s*(?:[,)]|$))", re.I)
#: Oracle: ALTER TABLE t MODIFY (c NOT NULL ENABLE)
_ORACLE_MODIFY = re.compile(rf"\s*ALTER\s+TABLE\s+(?P<table>{_NAME}(?:\.{_NAME})?)\s+MODIFY\s*\(?\s*"
                            rf"(?P<column>{_NAME})\s+(?P<null>NOT\s+NULL|NULL)"
                            r"(?:\s+(?:ENABLE|DISABLE)(?:\s+(?:NO)?VALIDATE)?)?\s*\)?\s*$", re.I)


def _unquote(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name


_TABLE_OPTIONS = re.compile(r"\s*(?:ORGANIZATION|TABLESPACE|PCTFREE|PCTUSED|INITRANS|MAXTRANS|STORAGE|LOGGING|"
                            r"NOLOGGING|COMPRESS|NOCOMPRESS|CACHE|NOCACHE|PARALLEL|NOPARALLEL|MONITORING|SEGMENT|"
                            r"LOB|ON|WITH|TEXTIMAGE_ON|FILESTREAM_ON|ENGINE|TYPE|DEFAULT|CHARSET|CHARACTER|COLLATE|"
                            r"AUTO_INCREMENT|ROW_FORMAT|STRICT|WITHOUT|CLUSTER|CLUSTERED|DISTRIBUTED|DISTKEY|"
                            r"SORTKEY|DISTSTYLE|USING|SERVER|OPTIONS|PARTITION\s+BY|ENABLE|DISABLE|ROW|RESULT_CACHE|"
                            r"INMEMORY|NO\s+INMEMORY|FLASHBACK|DATA_RETENTION_TIME_IN_DAYS|CHANGE_TRACKING|"
                            r"LOCK|PAGE|DATA_COMPRESSION|MEMORY_OPTIMIZED|DURABILITY)\b", re.I)


def _rescue(text: str, bare: str, start: int, end: int) -> str:
    """The text with what _RESCUE matches in text[start:end] blanked (found outside quotes and comments)."""
    spans = [(m.start(), m.end()) for m in _RESCUE.finditer(text, start, end) if bare[m.end() - 1] != " "
             or m.group().endswith("]")]
    for m in _RESCUE_ITEMS.finditer(text, start, end):
        first = m.start() + len(m.group()) - len(m.group().lstrip())
        if bare[first] == text[first]:
            spans.append((m.start(), m.end()))
    spans += _using_index(bare, start, end)
    head = re.match(r"\s*CREATE\b[^(]*?\bTABLE\b[^(]*\(", bare[start:end], re.I)
    if head:  # a table's options after its column list (storage, tablespace, organization ...)
        depth, close = 0, None
        for m in re.finditer(r"[()]", bare[start + head.end() - 1:end]):
            depth += 1 if m.group() == "(" else -1
            if depth == 0:
                close = start + head.end() - 1 + m.end()
                break
        if close is not None and _TABLE_OPTIONS.match(bare, close, end) and \
                not re.search(r"\b(?:INHERITS|COMMENT|PARTITION\s+OF)\b", bare[close:end], re.I):
            spans.append((close, end))
    spans.sort()
    if not spans:
        return text
    out, pos = [], 0
    for a, b in spans:
        a = max(a, pos)
        out += [text[pos:a], " " * max(0, b - a)]
        pos = max(b, pos)
    return "".join(out) + text[pos:]


def _using_index(bare: str, start: int, end: int) -> list[tuple[int, int]]:
    """Oracle's ``USING INDEX ...`` after a key (storage of its index), up to the next item or the end."""
    spans = []
    for m in re.finditer(r"\bUSING\s+INDEX\b", bare[start:end], re.I):
        depth, stop = 0, end
        for c in re.finditer(r"[(),]", bare[start + m.end():end]):
            depth += {"(": 1, ")": -1, ",": 0}[c.group()]
            if depth < 0 or (depth == 0 and c.group() == ","):
                stop = start + m.end() + c.start()
                break
        spans.append((start + m.start(), stop))
    return spans


_NOT_COLUMNS = {"INDEX", "KEY", "FAMILY", "UNIQUE", "CONSTRAINT", "PRIMARY", "FOREIGN", "CHECK", "FULLTEXT",
                "SPATIAL", "INVERTED", "PERIOD", "EXCLUDE", "LIKE"}


def _misread(stmt: Any) -> bool:
    """A table item read as a column named INDEX, FAMILY, KEY ...: an index or column family the
    dialect does not know (CockroachDB's in PostgreSQL), for the next dialect or the rescue to read."""
    from sqlglot import exp

    def index_like(e: Any) -> bool:  # INDEX name (a ASC, b): a "column" of a made-up type with parameters
        kind = e.args.get("kind")
        return kind is None or (kind.this == exp.DataType.Type.USERDEFINED and bool(kind.expressions))

    items = stmt.this.expressions if isinstance(stmt.this, exp.Schema) else []
    return any(isinstance(e, exp.ColumnDef) and not e.this.args.get("quoted") and e.name.upper() in _NOT_COLUMNS
               and index_like(e) for e in items)


def _comment_target_known(stmt: Any, tables: dict) -> bool:
    """Whether a COMMENT ON TABLE/COLUMN names a table the file creates (not a view)."""
    from sqlglot import exp

    target = stmt.this
    if isinstance(target, exp.Column):
        return _lookup(tables, target.db or None, target.table) is not None
    return _lookup(tables, *_table_ref(target)) is not None


def _inner_end(bare: str, at: int, stop: int) -> int:
    """Where a statement inside a block ends: its ';', or END/ELSE/GO outside parentheses, or the block's end."""
    depth = 0
    for m in re.finditer(r"[();]|\b(?:END|ELSE|GO)\b", bare[at:stop], re.I):
        tok = m.group()
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth <= 0:
            return at + m.start()
    return stop


def _tokenize(src: _Source, dialect: Any, start: int, end: int, text: str | None = None) -> list:
    """sqlglot's tokens of text[start:end] (the source's own text by default), placed in the whole
    text (offsets, lines, columns)."""
    from sqlglot.errors import TokenError

    try:
        with _quiet():
            tokens = dialect.tokenize((src.text if text is None else text)[start:end])
    except (TokenError, ValueError, IndexError, KeyError, AttributeError, TypeError):
        raise src.problem(start, "SQL that cannot be read in this statement",
                          _dialect_hint(dialect, "check the quotes and special characters")) from None
    line, col = src.line_col(start)
    for tok in tokens:
        if tok.line == 1:
            tok.col += col - 1
        tok.line += line - 1
        tok.start += start
        tok.end += start
    return tokens


_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+, col: \d+, start: \d+, end: \d+, "
                         r"comments: \[.*?\]>")


def _plain(description: str) -> str:
    """sqlglot's message without its class names and token reprs."""
    text = _TOKEN_REPR.sub(lambda m: f"'{m.group(1)}'", description)
    text = re.sub(r"\s*for <class '[\w.]+'>", "", text)
    text = re.sub(r"<class '(?:[\w]+\.)*(\w+)'>", lambda m: _words(m.group(1)).lower(), text)
    text = re.sub(r"Required keyword: '(\w+)' missing", "a part of an expression is missing", text)
    text = text.replace("Invalid expression / Unexpected token", "unexpected word or symbol")
    text = re.sub(r"TokenType\.(\w+)", lambda m: m.group(1).lower().replace("_", " "), text)
    return text


_INSIDE = "this statement cannot be read"


def _parse(src: _Source, dialect: Any, tokens: list) -> Any:
    from sqlglot.errors import ErrorLevel, ParseError

    try:
        with _quiet():
            parsed = dialect.parser(error_level=ErrorLevel.RAISE).parse(tokens, src.text)
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        line, col = err.get("line") or 0, err.get("col") or 0
        if line:
            col = max(1, col - len(err.get("highlight") or "x") + 1)
        else:
            line, col = src.line_col(tokens[0].start)
        description = _plain(err.get("description") or str(exc).splitlines()[0])
        raise SpecError(Problem(src.path, line, col, f"SQL syntax error: {description}",
                                _dialect_hint(dialect, "check the statement's syntax"))) from None
    except RecursionError:  # sqlglot's parser recurses once per level of parentheses
        raise src.problem(tokens[0].start, "this statement is nested too deeply to read",
                          "a schema needs only a few levels of parentheses") from None
    except Exception:
        raise src.problem(tokens[0].start, _INSIDE,
                          _dialect_hint(dialect, "simplify the statement")) from None
    return parsed[0] if parsed else None


# --- statements -------------------------------------------------------------------------------

def _lookup(tables: dict, schema: str | None, name: str) -> _Table | None:
    key = (schema.lower() if schema else None, name.lower())
    if key in tables:
        return tables[key]
    same = [t for (s, n), t in tables.items() if n == key[1] and (schema is None or s is None)]
    return same[0] if len(same) == 1 else None


def _table_ref(table: Any) -> tuple[str | None, str]:
    return (nfc(table.db) if table.db else None), nfc(table.name)


def _key(table: Any) -> tuple[str | None, str]:
    schema, name = _table_ref(table)
    return (schema.lower() if schema else None, name.lower())


def _partition(src: _Source, stmt: Any, chunk: list, tables: dict, parent: Any) -> None:
    """``CREATE TABLE child PARTITION OF parent ...``: kept aside, folded into its parent later."""
    from sqlglot import exp

    schema, name = _table_ref(stmt.this.this if isinstance(stmt.this, exp.Schema) else stmt.this)
    key = (schema.lower() if schema else None, name.lower())
    if key in tables:
        raise src.problem(chunk[0].start, f"table '{name}' is created twice", "keep one CREATE TABLE for it")
    table = tables[key] = _Table(schema, name, chunk[0].start)
    table.partition_of = _table_ref(parent)
    _inherit_columns(table, tables)


def _inherit_columns(child: _Table, tables: dict) -> None:
    """A child gets its parents' columns (those created before it), as PostgreSQL gives them."""
    inherited: dict[str, _Column] = {}
    for schema, name in [child.partition_of] if child.partition_of else child.inherits:
        parent = _lookup(tables, schema, name)
        if parent is not None and parent is not child:
            inherited.update({k: _Column(c.name, c.type, c.not_null, c.unique) for k, c in parent.columns.items()
                              if k not in child.columns})
    child.columns = {**inherited, **child.columns}


def _apply(src: _Source, stmt: Any, chunk: list, tables: dict, floor: int, dialect: Any) -> None:
    from sqlglot import exp

    start = chunk[0].start
    if isinstance(stmt, exp.Create) and str(stmt.args.get("kind") or "").upper() == "TABLE":
        props = (stmt.args.get("properties") or exp.Properties(expressions=[])).expressions
        part_of = next((p.this for p in props if isinstance(p, exp.PartitionedOfProperty)), None)
        inherits = [t for p in props if isinstance(p, exp.InheritsProperty) for t in p.expressions]
        if part_of is not None:
            _partition(src, stmt, chunk, tables, part_of)
            return
        if not isinstance(stmt.this, exp.Schema) or not (inherits or any(isinstance(e, exp.ColumnDef)
                                                                          for e in stmt.this.expressions)):
            raise src.problem(start, "this CREATE TABLE lists no columns (AS SELECT or LIKE)",
                              "write the table's columns out: CREATE TABLE name (column type, ...)")
        _create(src, stmt, chunk, tables, floor, dialect)
        child = tables[_key(stmt.this.this)]
        child.own_columns = len(child.columns)
        child.inherits = [_table_ref(t) for t in inherits]
        _inherit_columns(child, tables)
    elif isinstance(stmt, _alter_class()) and str(stmt.args.get("kind") or "TABLE").upper() == "TABLE":
        table = _known(src, tables, stmt.this, start)
        actions = stmt.args.get("actions") or []
        offsets = _action_offsets(chunk)
        if len(offsets) != len(actions):
            offsets = [start] * len(actions)
        notes = _comments_of_statement(src, chunk, floor)
        for action, offset in zip(actions, offsets, strict=True):
            _alter(src, table, action, offset, dialect, notes)
    elif isinstance(stmt, exp.Comment) and str(stmt.args.get("kind") or "").upper() in ("TABLE", "COLUMN"):
        text = stmt.expression.name if stmt.expression is not None else ""
        if str(stmt.args["kind"]).upper() == "TABLE":
            _known(src, tables, stmt.this, start).comments.append(text)
        else:
            column = stmt.this
            table = _known(src, tables, exp.Table(this=exp.to_identifier(column.table),
                                                  db=exp.to_identifier(column.db) if column.db else None),
                           start)
            table.column(column.name, src, start).comments.append(text)
def _dialect_hint(dialect: Any, text: str) -> str:
    if dialect is None or dialect.__class__.__name__ == "Dialect":
        return text + ("; or name the database's dialect: a first line such as '-- dialect: postgres', "
                       "'sql_dialect: postgres' in setup.yaml, or --sql-dialect postgres")
    return text


def _alter_class() -> type:
    from sqlglot import exp

    return getattr(exp, "Alter", None) or exp.AlterTable


def _known(src: _Source, tables: dict, table: Any, offset: int) -> _Table:
    schema, name = _table_ref(table)
    found = _lookup(tables, schema, name)
    if found is None:
        raise src.problem(offset, f"table '{name}' is not created in this schema",
                          "create it with CREATE TABLE before this statement"
                          + (f" (tables: {', '.join(t.name for t in tables.values())})" if tables else ""))
    return found


def _action_offsets(chunk: list) -> list[int]:
    """Where each comma-separated action of an ALTER TABLE starts (after ALTER TABLE [ONLY] name)."""
    from sqlglot.tokens import TokenType

    i = 2  # after ALTER TABLE
    while i < len(chunk) and chunk[i].text.upper() in ("IF", "EXISTS", "ONLY"):
        i += 1
    i += 1  # the table's name, then .name parts
    while i + 1 < len(chunk) and chunk[i].token_type == TokenType.DOT:
        i += 2
    offsets, depth, begin = [], 0, i
    for j in range(i, len(chunk)):
        kind = chunk[j].token_type
        depth += (kind == TokenType.L_PAREN) - (kind == TokenType.R_PAREN)
        if kind == TokenType.COMMA and depth == 0:
            offsets.append(chunk[begin].start)
            begin = j + 1
    if begin < len(chunk):
        offsets.append(chunk[begin].start)
    return offsets


def _comments_of_statement(src: _Source, chunk: list, floor: int) -> list[str]:
    return src.above(chunk[0], floor) + src.trailing(chunk[-1], src.line_end(chunk[-1]))


def _items(chunk: list) -> tuple[Any, list[tuple[Any, Any, int]]]:
    """The table-name token and each item of the column list: (first token, last token, ceiling)."""
    from sqlglot.tokens import TokenType

    opening = next(i for i, t in enumerate(chunk) if t.token_type == TokenType.L_PAREN)
    name_token = chunk[opening - 1]
    items, depth, first = [], 0, opening + 1
    for i in range(opening, len(chunk)):
        kind = chunk[i].token_type
        if kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                if first < i:
                    items.append((chunk[first], chunk[i - 1], chunk[i].start))
                break
        elif kind == TokenType.COMMA and depth == 1:
            if first < i:
                ceiling = chunk[i + 1].start if i + 1 < len(chunk) else chunk[i].end + 1
                items.append((chunk[first], chunk[i], ceiling))
            first = i + 1
    return name_token, items


def _create(src: _Source, stmt: Any, chunk: list, tables: dict, floor: int, dialect: Any) -> None:
    from sqlglot import exp

    schema, name = _table_ref(stmt.this.this)
    key = (schema.lower() if schema else None, name.lower())
    name_token, items = _items(chunk)
    if key in tables:
        raise src.problem(name_token.start, f"table '{name}' is created twice", "keep one CREATE TABLE for it")
    table = tables[key] = _Table(schema, name, name_token.start)
    table.comments += src.above(chunk[0], floor)
    opening = next(t for t in chunk if t.start > name_token.end)
    table.comments += src.trailing(opening, items[0][0].start if items else len(src.text))
    defs = stmt.this.expressions
    spans = items if len(items) == len(defs) else [(chunk[0], chunk[0], chunk[0].end + 1)] * len(defs)
    item_floor = src.line_end(opening)
    for definition, (first, last, ceiling) in zip(defs, spans, strict=True):
        notes = src.above(first, item_floor) + src.trailing(last, ceiling) if spans is items else []
        item_floor = src.line_end(last)
        if isinstance(definition, exp.ColumnDef):
            _add_column(src, table, definition, first.start, dialect, notes)
        else:
            _constraint(src, table, definition, first.start, notes)
    for prop in (stmt.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.SchemaCommentProperty):
            table.comments.append(prop.this.name)


def _add_column(src: _Source, table: _Table, cd: Any, offset: int, dialect: Any, notes: list[str]) -> None:
    from sqlglot import exp

    name = nfc(cd.name)
    if name.lower() in table.columns:
        raise src.problem(offset, f"column '{name}' appears twice in table {table.name}")
    kind = cd.args.get("kind")
    col = table.columns[name.lower()] = _Column(name, _type_text(kind, dialect) if kind else "any")
    col.comments += notes
    for c in cd.constraints:
        k = c.args.get("kind")
        if isinstance(k, exp.NotNullColumnConstraint):
            col.not_null = not k.args.get("allow_null")
        elif isinstance(k, exp.PrimaryKeyColumnConstraint):
            table.primary = [name]
            col.not_null = True
        elif isinstance(k, exp.UniqueColumnConstraint):
            col.unique = True
        elif isinstance(k, exp.Reference):
            schema, ref, ref_columns = _reference(k)
            table.fks.append(_ForeignKey([name], schema, ref, offset, _take_labels(col.comments), ref_columns))
        elif isinstance(k, exp.CommentColumnConstraint):
            col.comments.append(k.this.name)


def _take_labels(comments: list[str]) -> list[str]:
    """Move ``label: ...`` comments out of a column's comments: they name its relationship."""
    labels = [c for c in comments if re.match(r"label\s*:", c, re.I)]
    for c in labels:
        comments.remove(c)
    return labels


def _reference(ref: Any) -> tuple[str | None, str, list[str]]:
    """The schema, table and columns a REFERENCES clause names."""
    from sqlglot import exp

    target = ref.this
    if isinstance(target, exp.Schema):
        return (*_table_ref(target.this), [nfc(c.name) for c in target.expressions])
    return (*_table_ref(target), [])


def _names(items: list) -> list[str]:
    return [i.name for i in items]


def _constraint(src: _Source, table: _Table, item: Any, offset: int, notes: list[str]) -> None:
    """A table constraint: PRIMARY KEY, FOREIGN KEY, UNIQUE (CHECK and others say nothing here)."""
    from sqlglot import exp

    parts = item.expressions if isinstance(item, exp.Constraint) else [item]
    name = item.name if isinstance(item, exp.Constraint) else ""
    clustering = exp.ClusteredColumnConstraint | exp.NonClusteredColumnConstraint
    listed = [part for part in parts if isinstance(part, clustering)]
    if listed and isinstance(listed[0].this, list):  # T-SQL: PRIMARY KEY / UNIQUE [NON]CLUSTERED (a ASC, b)
        names = [o.this.name if isinstance(o, exp.Ordered) else o.name for o in listed[0].this]
        cols = [table.column(n, src, offset).name for n in names]
        if any(isinstance(part, exp.PrimaryKeyColumnConstraint) for part in parts):
            table.primary, table.primary_name = cols, name
        elif any(isinstance(part, exp.UniqueColumnConstraint) for part in parts) and cols:
            if len(cols) == 1:
                table.columns[cols[0].lower()].unique = True
            else:
                table.uniques.append(cols)
    for part in parts:
        if isinstance(part, exp.PrimaryKey):
            table.primary = [table.column(n, src, offset).name for n in _names(part.expressions)]
            table.primary_name = name
        elif isinstance(part, exp.ForeignKey):
            cols = [table.column(n, src, offset).name for n in _names(part.expressions)]
            schema, ref, ref_columns = _reference(part.args["reference"])
            table.fks.append(_ForeignKey(cols, schema, ref, offset, list(notes), ref_columns, name))
        elif isinstance(part, exp.UniqueColumnConstraint) and isinstance(part.this, exp.Schema):
            cols = [table.column(n, src, offset).name for n in _names(part.this.expressions)]
            if len(cols) == 1:
                table.columns[cols[0].lower()].unique = True
            elif cols:
                table.uniques.append(cols)


def _alter(src: _Source, table: _Table, action: Any, offset: int, dialect: Any, notes: list[str]) -> None:
    from sqlglot import exp

    if isinstance(action, exp.ColumnDef):
        _add_column(src, table, action, offset, dialect, notes)
    elif isinstance(action, exp.AlterColumn):
        col = table.column(action.name, src, offset)
        if action.args.get("allow_null") is not None:
            col.not_null = not action.args["allow_null"]
        if action.args.get("dtype") is not None:
            col.type = _type_text(action.args["dtype"], dialect)
    elif type(action).__name__ == "ModifyColumn" and isinstance(action.this, exp.ColumnDef):
        _modify_column(src, table, action.this, offset, dialect, notes)
    elif isinstance(action, exp.Drop):
        _drop(src, table, action, offset)
    elif type(action).__name__ == "AddConstraint":
        for part in action.expressions:
            _constraint(src, table, part, offset, notes)
    elif isinstance(action, exp.Constraint | exp.ForeignKey | exp.PrimaryKey):
        _constraint(src, table, action, offset, notes)
    elif isinstance(action, exp.Schema) and action.this is None:  # Oracle: ADD (CONSTRAINT ..., column ...)
        for part in action.expressions:
            _alter(src, table, part, offset, dialect, notes)
    else:
        raise src.problem(offset, f"unsupported ALTER TABLE action '{_words(type(action).__name__)}': Janus "
                          "reads ADD COLUMN, ADD CONSTRAINT (PRIMARY KEY, FOREIGN KEY, UNIQUE) and ALTER COLUMN",
                          "give the schema as it ends up: CREATE TABLE statements with their keys")


def _modify_column(src: _Source, table: _Table, cd: Any, offset: int, dialect: Any, notes: list[str]) -> None:
    """MySQL's ``MODIFY c type ...`` (phpMyAdmin's AUTO_INCREMENT step): the column anew, in its place."""
    old = table.column(cd.name, src, offset)
    order = list(table.columns)
    del table.columns[old.name.lower()]
    _add_column(src, table, cd, offset, dialect, notes)
    new = table.columns[old.name.lower()]
    new.comments[:0] = old.comments
    new.unique = new.unique or old.unique
    table.columns = {k: table.columns[k] for k in order}


def _drop(src: _Source, table: _Table, action: Any, offset: int) -> None:
    """``DROP CONSTRAINT|FOREIGN KEY name`` (a key read above goes; Hibernate drops before it adds),
    ``DROP PRIMARY KEY``, ``DROP COLUMN c`` (the column and the keys on it go); others change no key."""
    kind = str(action.args.get("kind") or "").upper()
    names = {nfc(t.name).lower() for t in action.args.get("tables") or [] if t.name}
    if action.this is not None and action.this.name:
        names.add(nfc(action.this.name).lower())
    if kind in ("CONSTRAINT", "FOREIGN KEY"):
        table.fks = [fk for fk in table.fks if fk.name.lower() not in names]
        if table.primary_name.lower() in names:
            table.primary, table.primary_name = [], ""
    elif kind == "PRIMARY KEY":
        table.primary, table.primary_name = [], ""
    elif kind == "COLUMN":
        for name in names:
            table.column(name, src, offset)
            del table.columns[name]
        table.fks = [fk for fk in table.fks if not names & {c.lower() for c in fk.columns}]
        table.uniques = [u for u in table.uniques if not names & {c.lower() for c in u}]
        if names & {c.lower() for c in table.primary}:
            table.primary, table.primary_name = [], ""


def _words(class_name: str) -> str:
    """'RenameColumn' -> 'RENAME COLUMN'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name).upper()


def _type_text(kind: Any, dialect: Any) -> str:
    """A type as one Mermaid word: 'NUMERIC(10, 2)' -> 'numeric(10,2)', 'DOUBLE PRECISION' -> 'double_precision'."""
    text = kind.sql(dialect=dialect).lower()
    text = re.sub(r"\s*([(),])\s*", r"\1", text)
    return re.sub(r"[^\w\-\[\]().,]+", "_", text).strip("_") or "any"


# --- the diagram ------------------------------------------------------------------------------

def _attach(details: dict[str, str], notes: list[str], text: str) -> None:
    """As in Mermaid's %% comments: 'Key: value' is a detail, other text a note."""
    key, sep, value = text.partition(":")
    if sep and key.strip() and value.strip() and len(key) <= 60:
        details[key.strip()] = value.strip()
    elif text.strip():
        notes.append(text.strip())


def _mermaid_word(name: str) -> str:
    word = re.sub(r"[^\w\-]", "_", name)
    return word if re.match(r"[A-Za-z_]", word) else f"_{word}"


def _label(fk: _ForeignKey, parent: str) -> str:
    stem = re.sub(r"(_?id|_fk|_key|_ref|_no|_num)$", "", fk.columns[0], flags=re.I).strip("_")
    words = stem.replace("_", " ").strip().lower()
    if not words or words.replace(" ", "_") in (parent.lower(), parent.lower().rstrip("s")) \
            or parent.lower() in (words + "s", words + "es"):
        return "belongs to"
    if words.split()[-1] in _PREPOSITIONS:
        return words
    return f"has as {words}"


def _is_join_table(table: _Table) -> bool:
    """Primary key = exactly two foreign keys' columns, and no other columns."""
    if len(table.fks) != 2 or not table.primary:
        return False
    a, b = ({c.lower() for c in fk.columns} for fk in table.fks)
    pk = {c.lower() for c in table.primary}
    return not a & b and a | b == pk and set(table.columns) == pk


def _fold_partitions(src: _Source, tables: dict, skipped: Skipped) -> None:
    """PostgreSQL partitions (``PARTITION OF``) and inheritance children that add no column of their
    own (pg_dump's way to partition: ``CREATE TABLE p_1 (CHECK (...)) INHERITS (p)``) are storage, not
    entities: each is folded into its parent, which notes their names; their foreign keys become the
    parent's where it lacks them. A child with columns of its own stays an entity: it gets its
    parents' columns (as PostgreSQL gives them) and an "is a kind of" relationship to each parent."""
    for key, table in list(tables.items()):
        parents = [table.partition_of] if table.partition_of else table.inherits
        found = []
        for schema, name in parents:
            parent = _lookup(tables, schema, name)
            if parent is None or parent is table:
                role = "partition" if table.partition_of else "child"
                raise src.problem(table.offset, f"table {table.name} is a {role} of table '{name}', which this "
                                  "schema does not create",
                                  "create the parent table in the same file")
            found.append(parent)
        if not found:
            continue
        if table.partition_of or not table.own_columns:
            top = found[0]
            while top.partition_of is not None or (top.inherits and not top.columns):
                schema, name = top.partition_of or top.inherits[0]
                top = _lookup(tables, schema, name) or top
                if top is found[0]:
                    break
            have = {(tuple(c.lower() for c in fk.columns), fk.table.lower()) for fk in top.fks}
            top.fks += [fk for fk in table.fks if (tuple(c.lower() for c in fk.columns), fk.table.lower()) not in have]
            top.partitions.append(table.name)
            skipped.folded.append(table.name)
            del tables[key]
        else:
            table.parents = list(found)


def _check_references(src: _Source, tables: dict) -> list[_Table]:
    """Every foreign key names as many of its parent's columns as it has columns itself (the
    parent's primary key's, when it names none). A parent the file does not create is kept as an
    entity of its own, noted "defined outside this schema", with the columns the keys name."""
    outside: dict[tuple[str | None, str], _Table] = {}
    for table in list(tables.values()):
        for fk in table.fks:
            parent = _lookup(tables, fk.schema, fk.table)
            what = f"the foreign key ({', '.join(fk.columns)}) of table {table.name}"
            if parent is None:
                shared = [t for t in tables.values() if t.name.lower() == fk.table.lower() and not t.outside]
                if len(shared) > 1:
                    raise src.problem(fk.offset, f"{what} references table '{fk.table}', which "
                                      f"{len(shared)} schemas create", "name the schema: REFERENCES schema.table")
                key = (fk.schema.lower() if fk.schema else None, fk.table.lower())
                parent = outside.get(key)
                if parent is None:
                    parent = outside[key] = _Table(fk.schema, fk.table, fk.offset, outside=True)
                for name in fk.ref_columns:
                    parent.columns.setdefault(name.lower(), _Column(name, "any"))
                continue
            for name in fk.ref_columns:
                parent.column(name, src, fk.offset)
            width = len(fk.ref_columns) if fk.ref_columns else len(parent.primary)
            if not width:
                raise src.problem(fk.offset, f"{what} names no column of table {parent.name}, which has no "
                                  "primary key", f"name the columns it references: REFERENCES {parent.name} (column)")
            if width != len(fk.columns):
                raise src.problem(fk.offset, f"{what} has {len(fk.columns)} column(s) but references {width} of "
                                  f"table {parent.name}", "give as many referenced columns as referencing ones")
    return list(outside.values())


def _diagram(src: _Source, tables: dict, external: list[_Table]) -> Diagram:
    everyone = [*tables.values(), *external]
    counts: dict[str, int] = {}
    for t in everyone:
        counts[t.name.lower()] = counts.get(t.name.lower(), 0) + 1
    for t in everyone:
        t.entity = t.name if counts[t.name.lower()] == 1 else f"{t.schema or 'default'}.{t.name}"
    outside = {(t.schema.lower() if t.schema else None, t.name.lower()): t for t in external}
    diagram = Diagram(path=src.path)

    def parent_of(fk: _ForeignKey) -> str:  # _check_references has found or made every parent
        found = _lookup(tables, fk.schema, fk.table)
        if found is None:
            found = outside[(fk.schema.lower() if fk.schema else None, fk.table.lower())]
        return found.entity

    joins = [t for t in tables.values() if _is_join_table(t)]
    referenced = {parent_of(fk) for t in tables.values() for fk in t.fks}
    joins = [t for t in joins if t.entity not in referenced]
    for t in everyone:
        if t in joins:
            continue
        line, col = src.line_col(t.offset)
        entity = Entity(t.entity, line=line, column=col)
        for text in t.comments:
            _attach(entity.details, entity.notes, text)
        for u in t.uniques:
            entity.notes.append(f"unique together ({', '.join(u)})")
        if t.outside:
            entity.notes.append("defined outside this schema")
        if t.partitions:
            entity.notes.append(f"partitions: {', '.join(t.partitions)}")
        pk = {c.lower() for c in t.primary}
        fk_cols = {c.lower() for fk in t.fks for c in fk.columns}
        for key, c in t.columns.items():
            keys = [k for k, on in (("PK", key in pk), ("FK", key in fk_cols), ("UK", c.unique and key not in pk))
                    if on]
            comment = " ".join(" ".join(c.comments).split()).replace('"', "'") or None
            entity.attributes.append(Attribute(c.type, _mermaid_word(c.name), tuple(keys), comment))
        diagram.entities[t.entity] = entity
    for t in tables.values():
        if t in joins:
            continue
        pk = {c.lower() for c in t.primary}
        unique_sets = [pk] if pk else []
        unique_sets += [{c.lower()} for c in t.columns if t.columns[c].unique]
        unique_sets += [{c.lower() for c in u} for u in t.uniques]
        for fk in t.fks:
            cols = {c.lower() for c in fk.columns}
            nullable = any(not t.columns[c].not_null and c not in pk for c in cols)
            parent = parent_of(fk)
            line, col = src.line_col(fk.offset)
            rel = Relationship(t.entity, parent, "zero-or-one" if cols in unique_sets else "zero-or-more",
                               "zero-or-one" if nullable else "exactly-one", identifying=cols <= pk,
                               label=_label(fk, fk.table), line=line, column=col,
                               columns=_fk_columns(t, fk, tables, outside))
            _relationship_comments(rel, fk.comments)
            diagram.relationships.append(rel)
    for t in tables.values():
        for parent in t.parents:
            line, col = src.line_col(t.offset)
            diagram.relationships.append(Relationship(t.entity, parent.entity, "zero-or-one", "exactly-one",
                                                      identifying=True, label="is a kind of",
                                                      details={"Inherits": parent.name}, line=line, column=col))
    for t in joins:
        a, b = (parent_of(fk) for fk in t.fks)
        line, col = src.line_col(t.offset)
        rel = Relationship(a, b, "zero-or-more", "zero-or-more", identifying=True, label="is linked to",
                           details={"Join table": t.name}, line=line, column=col)
        _relationship_comments(rel, t.comments)
        diagram.relationships.append(rel)
    diagram.source = diagram.to_mermaid()
    return diagram


def _fk_columns(table: _Table, fk: _ForeignKey, tables: dict, outside: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The attribute names (as the diagram writes them) a foreign key joins: its own, the parent's."""
    parent = _lookup(tables, fk.schema, fk.table) or outside[(fk.schema.lower() if fk.schema else None,
                                                               fk.table.lower())]
    refs = fk.ref_columns or parent.primary
    mine = tuple(_mermaid_word(table.columns[c.lower()].name) for c in fk.columns)
    theirs = tuple(_mermaid_word(parent.columns[c.lower()].name) if c.lower() in parent.columns else _mermaid_word(c)
                   for c in refs)
    return mine, theirs


def _relationship_comments(rel: Relationship, comments: list[str]) -> None:
    for text in comments:
        key, sep, value = text.partition(":")
        if sep and key.strip().lower() == "label" and value.strip():
            rel.label = value.strip().replace('"', "'")
        else:
            _attach(rel.details, rel.notes, text)
