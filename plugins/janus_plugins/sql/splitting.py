"""Cut a SQL file into statements the way its client (psql, mysql, sqlcmd/SSMS, SQL*Plus) does.

Hand-written because sqlglot's tokenizer knows SQL, not the clients that run the files: it
stops at psql's ``\\restrict``, sqlcmd's ``:setvar``, MySQL's ``DELIMITER //`` or a SQL*Plus
``/`` line, and a semicolon inside a ``BEGIN ... END`` block or a T-SQL batch ends nothing
for the client. The scanner here only finds where statements, comments, quoted text and
client commands are; sqlglot still reads every statement Janus keeps.

What it knows:
- quotes ``'...'``, ``"..."``, backticks, ``[brackets]`` (T-SQL), dollar quotes ``$tag$...$tag$``,
  backslash escapes (MySQL, PostgreSQL ``E'...'``), ``--``, ``/* */`` and ``#`` comments;
- lines that are client commands, not SQL: ``\\anything`` (psql), ``:setvar``/``:r``/``:on error``
  (sqlcmd), ``DELIMITER x`` and ``source file`` (mysql), ``REM``/``PROMPT``/``SET``/``@file``
  (SQL*Plus, in Oracle files), a ``GO`` line (batch separator) and a ``/`` line (run the block);
- procedural statements (``BEGIN``, ``DECLARE``, ``IF``, ``CREATE PROCEDURE|FUNCTION|TRIGGER``):
  a semicolon inside their ``BEGIN ... END`` ends nothing;
- T-SQL batches without semicolons: a line starting with a new statement's keyword (outside
  parentheses) starts a new statement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class UnclosedText(ValueError):
    """A quote, quoted name or block comment opens at ``offset`` and never closes."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


@dataclass(frozen=True)
class Client:
    """How the client that runs the file reads it."""

    hash_comments: bool = False  # MySQL: '#' starts a comment anywhere
    brackets: bool = False  # T-SQL: [name]
    backslash_escapes: bool = False  # MySQL: 'it\'s'
    sqlplus: bool = False  # Oracle: SQL*Plus line commands
    batches: bool = False  # T-SQL: statements of a batch need no semicolon

    @classmethod
    def of(cls, dialect: str | None) -> Client:
        mysql = dialect in ("mysql", "doris", "starrocks", "singlestore")
        return cls(hash_comments=mysql, brackets=dialect in ("tsql", "fabric"), backslash_escapes=mysql,
                   sqlplus=dialect == "oracle", batches=dialect in ("tsql", "fabric"))


@dataclass
class Piece:
    """One statement: text[start:end], comments above it may start at ``floor``."""

    start: int
    end: int
    floor: int


@dataclass
class Comment:
    start: int
    end: int
    directive: bool = False  # a tool's marker or MySQL's /*!...*/ code, not a description


@dataclass
class Split:
    pieces: list[Piece] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    commands: list[tuple[int, str]] = field(default_factory=list)  # client commands: (offset, name)
    bare: str = ""  # the text with comments, quoted text and quoted names blanked out


_GO = re.compile(r"[ \t]*go(?:[ \t]+\d+)?[ \t]*(?:--[^\n]*)?\r?$", re.I)
_SLASH = re.compile(r"[ \t]*/[ \t]*\r?$")
_PSQL = re.compile(r"[ \t]*(\\[A-Za-z!?.]*)")
_SQLCMD = re.compile(r"[ \t]*(:(?:setvar|on|r|connect|out|error|exit|quit|listvar|reset|ed|serverlist|xml|help|"
                     r"perftrace))\b", re.I)
_DELIMITER = re.compile(r"[ \t]*delimiter[ \t]+(\S+)", re.I)
_SOURCE = re.compile(r"[ \t]*source[ \t]+\S", re.I)
_HASH_LINE = re.compile(r"[ \t]*#")
_SQLPLUS = re.compile(r"[ \t]*(@@?|(?:rem|remark|pro|prompt|set|spo|spool|whenever|exit|quit|conn|connect|def|"
                      r"define|undef|undefine|col|column|show|clear|accept|pause|host|ttitle|btitle|break|compute|"
                      r"var|variable|exec|execute)\b)", re.I)
_PROCEDURAL = re.compile(r"(?:begin\b(?!\s*(?:;|$|tran\b|transaction\b|work\b|isolation\b|deferred\b|immediate\b|"
                         r"exclusive\b|distributed\b))|declare\b|if\b|while\b|create\s+(?:or\s+(?:replace|alter)\s+)?"
                         r"(?:definer\s*=\s*\S+\s+)?(?:editionable\s+|noneditionable\s+)?"
                         r"(?:function|procedure|proc|trigger|package|type\s+body|event)\b)", re.I)
_ORACLE_UNIT = re.compile(r"create\s+(?:or\s+replace\s+)?(?:editionable\s+|noneditionable\s+)?"
                          r"(?:function|procedure|trigger|package|type\s+body)\b", re.I)
_BATCH_START = re.compile(r"[ \t]*(?:create|alter|drop|insert|update|delete|truncate|grant|revoke|deny|exec|execute|"
                          r"print|use|set|declare|if|select|with|merge|dbcc|raiserror|begin|commit|rollback)\b", re.I)
_COPY_STDIN = re.compile(r"copy\b[^;]*\bfrom\s+stdin\b", re.I)
_BLOCK_WORD = re.compile(r"(begin|end|case)\b(?:\s+(\w+))?", re.I)
_NOT_BLOCK = {"tran", "transaction", "work", "isolation", "deferred", "immediate", "exclusive", "distributed"}
_END_STATEMENT = {"if", "loop", "while", "repeat"}
_MARKER = re.compile(r"-->|--\s*(?:Create|Add|Drop|Alter|Rename)[A-Z]\w*\s*$|--\s*dialect\s*:", re.I)


def split(text: str, client: Client, base: int = 0, end: int | None = None) -> Split:
    """The statements, comments and client commands of ``text[base:end]`` (offsets into ``text``)."""
    return _Scanner(text, client, base, len(text) if end is None else end).run()


class _Scanner:
    def __init__(self, text: str, client: Client, base: int, end: int) -> None:
        self.text, self.client, self.base, self.n = text, client, base, end
        self.out = Split()
        self.blanks: list[tuple[int, int]] = []
        self.delim = ";"
        self.start: int | None = None  # the current statement's first character
        self.floor = base
        self.depth = 0
        self.procedural = False
        self.oracle_unit = False  # an Oracle CREATE PROCEDURE ...: its ';' end nothing before BEGIN
        self.seen_begin = False
        self._compile()

    def _compile(self) -> None:
        parts = [r"--", r"/\*", r"'", r'"', r"`", r"\$(?:[A-Za-z_]\w*)?\$", r"\n", r"\b(?:begin|end|case)\b"]
        if self.client.brackets:
            parts.append(r"\[")
        if self.client.hash_comments:
            parts.append(r"#")
        parts.insert(0, re.escape(self.delim))
        self.pattern = re.compile("|".join(parts), re.I)

    # --- the scan ---------------------------------------------------------------------------

    def run(self) -> Split:
        text, pos = self.text, self.base
        while pos < self.n:
            if pos == 0 or text[pos - 1] == "\n":
                moved = self._line(pos)
                if moved is not None:
                    pos = moved
                    continue
            m = self.pattern.search(text, pos, self.n)
            stop = m.start() if m else self.n
            self._significant(pos, stop)
            if m is None:
                break
            pos = self._token(m)
        self._finish(self.n, self.n)
        out = self.out
        out.bare = self._bare()
        if self.client.batches:
            out.pieces = [p for piece in out.pieces for p in self._batch_statements(piece)]
        return out

    def _line_end(self, pos: int) -> int:
        eol = self.text.find("\n", pos, self.n)
        return self.n if eol < 0 else eol

    def _line(self, pos: int) -> int | None:
        """Client commands that take a whole line; the position after the line, or None."""
        text, eol = self.text, self._line_end(pos)
        nxt = min(eol + 1, self.n)
        if _GO.match(text, pos, eol) and (self.client.batches or self.start is None or not self.procedural):
            self._finish(pos, eol)
            self.out.commands.append((pos, "GO"))
            return nxt
        if _SLASH.match(text, pos, eol):
            self._finish(pos, eol)
            if self.start is None:
                self.out.commands.append((pos, "/"))
            return nxt
        if self.start is not None:
            return None
        m = _DELIMITER.match(text, pos, eol)
        if m:
            self.delim = m.group(1)
            self._compile()
            return self._command(pos, eol, "DELIMITER")
        for pattern in (_PSQL, _SQLCMD):
            m = pattern.match(text, pos, eol)
            if m and (pattern is _SQLCMD or len(m.group(1)) > 1):
                return self._command(pos, eol, m.group(1))
        if _SOURCE.match(text, pos, eol):
            return self._command(pos, eol, "source")
        if _HASH_LINE.match(text, pos, eol):
            self.out.comments.append(Comment(pos + text[pos:eol].index("#"), eol))
            self.blanks.append((pos, eol))
            return nxt
        if self.client.sqlplus:
            m = _SQLPLUS.match(text, pos, eol)
            if m:
                return self._command(pos, eol, m.group(1).upper())
        return None

    def _command(self, pos: int, eol: int, name: str) -> int:
        self.out.commands.append((pos, name))
        self.blanks.append((pos, eol))
        self.floor = eol
        return min(eol + 1, self.n)

    def _significant(self, pos: int, stop: int) -> None:
        if self.start is None:
            chunk = self.text[pos:stop]
            stripped = len(chunk) - len(chunk.lstrip())
            if stripped < len(chunk):
                self._begin(pos + stripped)

    def _begin(self, at: int) -> None:
        self.start = at
        head = self.text[at:min(at + 200, self.n)]
        self.procedural = bool(_PROCEDURAL.match(head))
        self.oracle_unit = self.client.sqlplus and bool(_ORACLE_UNIT.match(head))
        self.depth, self.seen_begin = 0, False

    def _token(self, m: re.Match) -> int:
        text, tok, at = self.text, m.group(), m.start()
        if tok == self.delim:
            if self.start is not None and self.procedural and (self.depth > 0 or
                                                                (self.oracle_unit and not self.seen_begin)):
                return m.end()
            copy = self.start is not None and _COPY_STDIN.match(self.text, self.start, at)
            self._finish(at, m.end())
            if copy:  # psql: the data follows, up to a line '\.'
                stop = re.compile(r"^\\\.[ \t]*\r?$", re.M).search(self.text, m.end(), self.n)
                data_end = self.n if stop is None else stop.end()
                self.blanks.append((m.end(), data_end))
                self.floor = data_end
                return data_end
            return m.end()
        if tok == "\n":
            return m.end()
        if tok == "--":
            eol = self._line_end(at)
            self._comment(at, eol, bool(_MARKER.match(text, at, eol)))
            return eol
        if tok == "#":
            eol = self._line_end(at)
            self._comment(at, eol, False)
            return eol
        if tok == "/*":
            close = text.find("*/", at + 2, self.n)
            if close < 0:
                raise UnclosedText(at)
            self._comment(at, close + 2, text.startswith("/*!", at))
            return close + 2
        if self.start is None:
            self._begin(at)
        if tok in ("'", '"', "`", "["):
            return self._quoted(at, "]" if tok == "[" else tok)
        if tok.startswith("$"):
            if at > 0 and (text[at - 1].isalnum() or text[at - 1] == "_"):
                return at + 1  # part of a name such as a$b
            close = text.find(tok, m.end(), self.n)
            if close < 0:
                raise UnclosedText(at)
            self.blanks.append((at, close + len(tok)))
            return close + len(tok)
        if self.procedural:
            self._block_word(at)
        return m.end()

    def _block_word(self, at: int) -> None:
        m = _BLOCK_WORD.match(self.text, at, self.n)
        word, after = m.group(1).lower(), (m.group(2) or "").lower()
        if word == "begin" and after not in _NOT_BLOCK:
            self.depth += 1
            self.seen_begin = True
        elif word == "case":
            self.depth += 1
        elif word == "end" and after not in _END_STATEMENT:
            self.depth = max(0, self.depth - 1)

    def _quoted(self, at: int, close: str) -> int:
        text = self.text
        escapes = close != "]" and (self.client.backslash_escapes or (
            close == "'" and at > 0 and text[at - 1] in "eE" and (at < 2 or not text[at - 2].isalnum())))
        j = at + 1
        while True:
            k = text.find(close, j, self.n)
            if escapes:
                b = text.find("\\", j, self.n)
                if 0 <= b < (k if k >= 0 else self.n):
                    j = b + 2
                    continue
            if k < 0:
                raise UnclosedText(at)
            if text.startswith(close * 2, k) and k + 1 < self.n:
                j = k + 2
                continue
            self.blanks.append((at, k + 1))
            return k + 1

    def _comment(self, start: int, end: int, directive: bool) -> None:
        self.out.comments.append(Comment(start, end, directive))
        self.blanks.append((start, end))

    def _finish(self, stop: int, after: int) -> None:
        """End the current statement before ``stop``; comments of the next start after its line."""
        if self.start is not None:
            end = stop
            while end > self.start and self.text[end - 1].isspace():
                end -= 1
            self.out.pieces.append(Piece(self.start, end, self.floor))
        self.start = None
        self.procedural = self.oracle_unit = False
        self.floor = self._line_end(after)

    def _bare(self) -> str:
        out, pos = [], self.base
        for a, b in self.blanks:
            if a < pos:
                continue
            out.append(self.text[pos:a])
            out.append("".join(c if c == "\n" else " " for c in self.text[a:b]))
            pos = b
        out.append(self.text[pos:self.n])
        return " " * self.base + "".join(out)

    def _batch_statements(self, piece: Piece) -> list[Piece]:
        """A T-SQL batch's statements: a line that starts a statement, outside parentheses and blocks."""
        if _PROCEDURAL.match(self.out.bare, piece.start):
            return [piece]
        bare, cuts, depth, pos = self.out.bare, [], 0, piece.start
        for m in re.finditer(r"[()]|\n", bare[piece.start:piece.end]):
            at = piece.start + m.start()
            if m.group() == "(":
                depth += 1
            elif m.group() == ")":
                depth = max(0, depth - 1)
            elif depth == 0 and _BATCH_START.match(bare, at + 1, piece.end):
                cuts.append(at + 1)
        pieces = []
        for cut in [*cuts, piece.end]:
            chunk = bare[pos:cut]
            if chunk.strip():
                first = pos + len(chunk) - len(chunk.lstrip())
                last = cut
                while last > first and self.text[last - 1].isspace():
                    last -= 1
                pieces.append(Piece(first, last, piece.floor if not pieces else pos))
            pos = cut
        return pieces or [piece]
