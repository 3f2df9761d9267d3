"""Mermaid erDiagram reader: Mermaid's own lexer rules and a Lark grammar, producing a Diagram.

Text is read as Mermaid reads it (see ``lexer``), so every diagram Mermaid accepts is accepted
with Mermaid's meaning and what Mermaid refuses is refused with path:line:col. ``%%`` comments
attach to the entity or relationship before them as details and notes. A leading byte order mark is
dropped, control characters are refused, and entity, alias and attribute names are kept in NFC form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from janus_core.sdk.errors import Problem, SpecError
from janus_core.spec.diagram import SYMBOLS, Attribute, Diagram, Entity, Relationship, nfc
from janus_core.spec.safe_load import BOM, check_diagram_text, load_yaml
from janus_plugins.erdiagram.lexer import MermaidLexer, prepare, tokenize


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("erdiagram.lark")).read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer=MermaidLexer, transformer=_Build(), maybe_placeholders=False)


@v_args(inline=True)
class _Build(Transformer):
    """Turns each rule, as the parser reduces it, into plain tuples; `_assemble` builds the Diagram."""

    def cardinality(self, tok: Token) -> str:
        return _TOKEN_CARDINALITY[tok.type]

    def rel_type(self, tok: Token) -> bool:
        return tok.type == "IDENTIFYING"

    def role(self, tok: Token) -> str:
        return str(tok).replace('"', "").strip()

    def entity_name(self, tok: Token):
        return ("ref", nfc(str(tok).replace('"', "")), tok.line, tok.column, tok.start_pos)

    def alias(self, _open: Token, ref, _close: Token) -> str:
        return nfc(ref[1].strip())

    def classes(self, *_):
        return ("classes",)

    def keys(self, *toks: Token) -> tuple[str, ...]:
        return tuple(str(t).upper() for t in toks if t.type == "ATTRIBUTE_KEY")

    def attribute(self, type_: Token, name: Token, *rest):
        keys: tuple[str, ...] = ()
        comment = None
        for r in rest:
            if isinstance(r, tuple):
                keys = r
            else:
                comment = str(r).replace('"', "")
        return Attribute(str(type_), nfc(str(name)), keys, comment)

    def attr_block(self, _open: Token, *items):
        return ("block", [i for i in items if isinstance(i, Attribute)])

    def entity(self, ref, *rest):
        alias = next((r for r in rest if isinstance(r, str)), None)
        block = next((r[1] for r in rest if isinstance(r, tuple) and r[0] == "block"), [])
        return ("entity", ref[4], ref, alias, block)

    def relationship(self, left, *rest):
        lcard, identifying, rcard, right = [r for r in rest if not (isinstance(r, tuple) and r[0] == "classes")][:4]
        return ("rel", left[4], left, lcard, identifying, rcard, right, rest[-1])

    def direction(self, tok: Token):
        return ("direction", tok.start_pos, str(tok).upper())

    def title(self, tok: Token):
        return ("title", tok.start_pos, str(tok)[len("title"):].strip())

    def acc(self, *toks: Token):
        return ("ignored", toks[0].start_pos)

    def class_def(self, tok: Token, *_):
        return ("ignored", tok.start_pos)

    class_statement = style_statement = class_def

    def start(self, *items):
        return [i for i in items if isinstance(i, tuple)]


_TOKEN_CARDINALITY = {"ZERO_OR_ONE": "zero-or-one", "ZERO_OR_MORE": "zero-or-more", "ONE_OR_MORE": "one-or-more",
                      "ONLY_ONE": "exactly-one", "MD_PARENT": "md-parent"}


def _attach(target: Entity | Relationship | Diagram, text: str) -> None:
    key, sep, value = text.partition(":")
    if sep and key.strip() and value.strip() and len(key) <= 60:
        target.details[key.strip()] = value.strip()
    elif text:
        target.notes.append(text)


def _assemble(items: list, text: str, path: str) -> Diagram:
    diagram = Diagram(source=text, path=path)
    last: Entity | Relationship | Diagram = diagram

    def ensure(ref, alias: str | None = None) -> Entity:
        _, name, line, column, _offset = ref
        entity = diagram.entities.get(name)
        if entity is None:
            entity = diagram.entities[name] = Entity(name, line=line, column=column)
        if alias and not entity.alias:  # as in Mermaid, the first alias given stays
            entity.alias = alias
        return entity

    for item in items:
        kind = item[0]
        if kind == "front":
            body = item[1].strip().strip("-").strip()
            try:
                meta = load_yaml(body, path, first_line=item[2] + 1) or {}
            except SpecError as exc:
                p = exc.problems[0]
                raise SpecError(Problem(path, p.line, p.column, f"front matter: {p.message}",
                                        "front matter holds YAML such as 'title: My diagram'")) from None
            if isinstance(meta, dict) and meta.get("title") is not None:
                diagram.title = str(meta["title"])
        elif kind == "comment":
            _attach(last, item[2])
        elif kind == "entity":
            entity = ensure(item[2], item[3])
            entity.attributes.extend(item[4])
            last = entity
        elif kind == "rel":
            _, _offset, left, lcard, identifying, rcard, right, label = item
            ensure(left)
            ensure(right)
            last = Relationship(left[1], right[1], lcard, rcard, identifying, label,
                                line=left[2], column=left[3])
            diagram.relationships.append(last)
        elif kind == "direction":
            diagram.direction = item[2]
        elif kind == "title":
            diagram.title = item[2]
    return diagram


def parse_erdiagram(text: str, path: str = "diagram.mermaid") -> Diagram:
    """Parse Mermaid erDiagram text as Mermaid reads it; raise SpecError naming path:line:col on bad input.

    A diagram may declare no entity (Mermaid draws it empty); `janus validate` says so.
    """
    text = text.removeprefix(BOM)
    check_diagram_text(text, path)
    if not text.strip():
        raise SpecError(Problem(path, 1, 1, "the diagram is empty",
                                "start it with a line 'erDiagram', then entities and relationships"))
    prepared = prepare(text)
    if not prepared.detected():
        raise SpecError(_not_an_erdiagram(prepared.text, path))
    try:
        items = _parser().parse(prepared.text)  # the parser builds with _Build as it goes
    except UnexpectedInput as exc:
        raise SpecError(_diagnose(exc, prepared.text, path)) from None
    items += [("comment", c.offset, c.text) for c in prepared.comments]
    items.sort(key=lambda item: item[1])
    if prepared.front_matter is not None:
        items.insert(0, ("front", prepared.front_matter, 1))
    return _assemble(items, text, path)


# --- error diagnosis ---------------------------------------------------------------------------

_CARD = "a cardinality (||, |o, o|, }o, o{, }|, |{ or words such as 'one or more')"
_NAME = "an entity name"
_TERMINAL_WORDS = {
    "ZERO_OR_ONE": _CARD, "ZERO_OR_MORE": _CARD, "ONE_OR_MORE": _CARD, "ONLY_ONE": _CARD, "MD_PARENT": _CARD,
    "IDENTIFYING": "'--' or 'to' (identifying)", "NON_IDENTIFYING": "'..' or 'optionally to' (non-identifying)",
    "ENTITY_NAME": _NAME, "UNICODE_TEXT": _NAME, "NUM": _NAME, "DECIMAL_NUM": _NAME, "ENTITY_ONE": _NAME,
    "WORD": "a quoted label", "ATTRIBUTE_WORD": "an attribute type or name", "ATTRIBUTE_KEY": "a key (PK, FK, UK)",
    "ATTRIBUTE_COMMENT": "a quoted comment", "KEY_COMMA": "','", "BLOCK_STOP": "'}'", "BLOCK_START": "'{'",
    "COLON": "':'", "STYLE_SEPARATOR": "':::'", "ER_DIAGRAM": "'erDiagram'", "_NEWLINE": "a new line",
    "$END": "the end of the file", "SQS": "'['", "SQE": "']'", "STYLE_TEXT": "a style", "SEMI": "';'",
    "BRKT": "'#'", "COMMA": "','", "CHAR": "a character", "ACC_TITLE": "accTitle", "ACC_DESCR": "accDescr",
    "ACC_DESCR_MULTILINE_VALUE": "accDescr {...}", "ACC_TITLE_VALUE": "a title", "ACC_DESCR_VALUE": "a description",
    "CLASS": "class", "CLASSDEF": "classDef", "STYLE": "style", "DIRECTION": "direction", "TITLE": "title",
}
#: Tokens made of words that Mermaid will not take as an entity name.
_KEYWORDS = {"CLASS", "CLASSDEF", "STYLE", "ER_DIAGRAM", "ZERO_OR_ONE", "ZERO_OR_MORE", "ONE_OR_MORE", "ONLY_ONE",
             "MD_PARENT", "IDENTIFYING", "NON_IDENTIFYING"}
_REL_LINE = re.compile(
    r"^\s*(?P<left>\"[^\"]*\"|[^\s{\[]+)\s+(?P<lc>\S*?)(?P<rel>--|\.\.|\.-|-\.)(?P<rc>\S*)\s+(?P<right>[^\s:]\S*)")
_BLOCK_OPEN = re.compile(r'^\s*("[^"]*"|[\w\-]+)(\[[^\]]*\])?(:::[\w\-]+)?\s*\{')
_BAD_HEADERS = ("flowchart", "graph", "classDiagram", "sequenceDiagram", "stateDiagram", "gantt",
                "pie", "journey", "mindmap", "gitGraph")


def _expected(names) -> str:
    if "UNICODE_TEXT" in names and "CLASS" in names:  # where any statement may start
        extra = sorted(_TERMINAL_WORDS.get(n, n.lower()) for n in names if n in ("COLON", "SQS", "BLOCK_START",
                                                                                  "STYLE_SEPARATOR", "ZERO_OR_ONE"))
        return ", ".join([*extra, "a new entity or relationship"])
    words = sorted({_TERMINAL_WORDS.get(n, n.lower()) for n in names if not n.startswith("__")})
    return ", ".join(words[:6]) + (" ..." if len(words) > 6 else "")


def _not_an_erdiagram(text: str, path: str) -> Problem:
    """The problem for text whose first statement is not 'erDiagram' (text as `prepare` leaves it)."""
    lines = text.splitlines()
    n, first = next(((i, ln.strip()) for i, ln in enumerate(lines, 1) if ln.strip()), (1, ""))
    word = first.split()[0] if first else ""
    hint = "the first statement of the file must be 'erDiagram'"
    if word in _BAD_HEADERS:
        hint = (f"this is a {word} diagram; Janus reads erDiagram (other diagram kinds need a "
                "diagram-reader plugin)")
    column = len(lines[n - 1]) - len(lines[n - 1].lstrip()) + 1 if first else 1
    return Problem(path, n, column, f"expected 'erDiagram', found {word!r}", hint)


def _diagnose(exc: UnexpectedInput, text: str, path: str) -> Problem:
    """A located, explained problem for a parse error (text as `prepare` leaves it)."""
    lines = text.splitlines()
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    offset = _error_offset(exc, text)
    blocks = _blocks_before(text, offset)
    stop_line = text.count("\n", 0, offset) + 1
    stray = isinstance(exc, UnexpectedToken) and exc.token.type == "CHAR" and str(exc.token) == "}"
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        before = _token_before(text, exc.token.start_pos)
        if before is not None and before.end_line < exc.token.line and exc.token.type != "_NEWLINE":
            # the statement stopped at a line break (inside a block, where breaks are not tokens)
            exc.token = Token("_NEWLINE", "\n", before.end_pos, before.end_line, before.end_column)
            line, column = before.end_line, before.end_column
    if not isinstance(line, int) or line < 1:
        line, column = len(lines), len(lines[-1]) + 1 if lines else 1
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    unclosed = _unclosed_block(lines)
    if unclosed and (isinstance(exc, UnexpectedEOF) or line >= unclosed[0]):
        n, col, name = unclosed
        return Problem(path, n, col, f"the attribute block of {name} opened at line {n} is never closed",
                       "add a line with '}' after its last attribute")
    if blocks.open is not None:
        return _attribute_problem(exc, blocks, lines, line, column, stop_line, path)
    if stray and not _REL_LINE.match(source_line):
        return _stray_close(lines, line, column, blocks, path)

    m = _REL_LINE.match(source_line)
    if not m and re.search(r"[|}{]", source_line) and not _BLOCK_OPEN.match(source_line):
        return Problem(path, line, column or 1, f"malformed relationship {source_line.strip()!r}",
                       "write it as 'LEFT ||--o{ RIGHT : \"label\"' (cardinality, '--' or '..', "
                       "cardinality) with an entity on each side")
    if m:
        for side, group, valid in (("left", "lc", ("|o", "||", "}o", "}|")), ("right", "rc", ("o|", "||", "o{", "|{"))):
            marker = m.group(group)
            if marker not in SYMBOLS and not (side == "left" and marker.lower() == "u"):
                col = m.start(group) + 1
                return Problem(path, line, col, f"bad {side} cardinality {marker!r} in {source_line.strip()!r}",
                               f"on the {side} use one of {', '.join(valid)} (or words such as 'one or more')")

    rest = source_line[column - 1:] if column else ""
    if rest.startswith('"') and rest.count('"') % 2 == 1:
        return Problem(path, line, column, f"unterminated quoted string {rest.strip()!r}",
                       'close it with a " on the same line')
    if isinstance(exc, UnexpectedCharacters):
        char = source_line[column - 1] if column and 0 < column <= len(source_line) else exc.char
        return Problem(path, line, column, f"unexpected {char!r} in {source_line.strip()!r}",
                       f"expected {_expected(exc.allowed or [])}")
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if rest.startswith("%%"):
            return Problem(path, line, column, f"a %% comment after a statement in {source_line.strip()!r}",
                           "Mermaid reads %% comments only on lines of their own: move it to the next line")
        if tok.type in _KEYWORDS and re.fullmatch(r"[A-Za-z ]+", str(tok)) and "UNICODE_TEXT" in exc.expected:
            return Problem(path, line, column, f"{str(tok)!r} is a Mermaid keyword, not an entity name",
                           f'quote the name: "{tok}"')
        if tok.type == "COLON" and not m:
            return Problem(path, line, column or 1, f"malformed relationship {source_line.strip()!r}",
                           "write it as 'LEFT ||--o{ RIGHT : label' (cardinality, '--' or '..', "
                           "cardinality) with an entity on each side")
        return Problem(path, line, column, f"unexpected {_found(tok)} in {source_line.strip()!r}",
                       f"expected {_expected(exc.expected)}")
    return Problem(path, line, column or 1, f"cannot parse {source_line.strip()!r}")


def _token_before(text: str, offset: int) -> Token | None:
    """The last token that ends at or before offset."""
    last = None
    try:
        for tok in tokenize(text):
            if tok.end_pos > offset:
                break
            last = tok
    except UnexpectedCharacters:
        pass
    return last


def _unclosed_block(lines: list[str]) -> tuple[int, int, str] | None:
    """Where an attribute block opens and the next '}' never comes before another block or EOF."""
    open_at: tuple[int, int, str] | None = None
    for n, raw in enumerate(lines, 1):
        stripped = re.sub(r'"[^"]*"', '""', raw.split("%%")[0])
        if _BLOCK_OPEN.match(stripped):
            if open_at:
                return open_at
            if "}" not in stripped[stripped.index("{"):]:
                name = stripped[: stripped.index("{")].strip() or "an entity"
                open_at = (n, raw.index("{") + 1, name)
        elif "}" in stripped and open_at:
            open_at = None
        elif open_at and _REL_LINE.match(raw):
            return open_at
    return open_at


def _found(tok: Token) -> str:
    """A token as an error message names it: its text, or 'end of line' / 'end of file'."""
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_NEWLINE":
        return "end of line"
    return repr(str(tok).strip() or tok.type)


def _error_offset(exc: UnexpectedInput, text: str) -> int:
    """Where in the text the parser stopped."""
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        return exc.token.start_pos
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream
    return len(text)


_NAME_TOKENS = {"ENTITY_NAME", "UNICODE_TEXT", "NUM", "DECIMAL_NUM", "ENTITY_ONE"}


@dataclass
class _Blocks:
    """The attribute blocks before an error: the one still open (if any) and the last one closed."""

    open: tuple[str, int, int] | None = None  # entity name, line and column of its '{'
    tokens: list[Token] = field(default_factory=list)  # the open block's tokens so far
    closed: tuple[str, int, Token] | None = None  # entity name, line of its '{', its '}'


def _blocks_before(text: str, offset: int) -> _Blocks:
    """Follow Mermaid's lexer up to offset, noting which attribute block is open there."""
    found = _Blocks()
    name, in_alias = "an entity", False
    try:
        for tok in tokenize(text):
            if tok.start_pos >= offset:
                break
            if found.open is not None:
                if tok.type == "BLOCK_STOP":
                    found.closed = (found.open[0], found.open[1], tok)
                    found.open, found.tokens = None, []
                else:
                    found.tokens.append(tok)
            elif tok.type == "BLOCK_START":
                found.open = (name, tok.line, tok.column)
            elif tok.type in ("SQS", "SQE"):
                in_alias = tok.type == "SQS"
            elif tok.type in _NAME_TOKENS and not in_alias:
                name = str(tok).replace('"', "")
    except UnexpectedCharacters:
        pass
    return found


_ATTRIBUTE_FORM = ("write an attribute as 'type name', then optionally keys (PK, FK, UK, separated by "
                   "commas) and a quoted comment, one attribute to a line")


def _misread_type(tokens: list[Token], stop_line: int) -> Token | None:
    """The first attribute type whose name is not on its line: Mermaid takes the next word, on a
    later line, as the name, and the parser fails lines below the cause."""
    i = 0
    while i < len(tokens) and tokens[i].type == "ATTRIBUTE_WORD":
        kind = tokens[i]
        name = tokens[i + 1] if i + 1 < len(tokens) else None
        if (name is None and stop_line > kind.line) or (name is not None and name.line != kind.line):
            return kind
        if name is None or name.type != "ATTRIBUTE_WORD":
            return None
        i += 2
        while i < len(tokens) and tokens[i].type in ("ATTRIBUTE_KEY", "KEY_COMMA", "ATTRIBUTE_COMMENT"):
            i += 1
    return None


def _attribute_problem(exc: UnexpectedInput, blocks: _Blocks, lines: list[str], line: int, column: int | None,
                       stop_line: int, path: str) -> Problem:
    """A parse error inside an attribute block, said of the attribute line that causes it."""
    name, open_line, _ = blocks.open  # type: ignore[misc]
    where = f"in the block of {name} (opened at line {open_line})"
    kind = _misread_type(blocks.tokens, stop_line)
    if kind is not None:
        first = not any(t.line == kind.line and t.start_pos < kind.start_pos for t in blocks.tokens)
        if first:
            return Problem(path, kind.line, kind.column,
                           f"attribute {str(kind)!r} of {name} has a type but no name", _ATTRIBUTE_FORM)
        line, column, what = kind.line, kind.column, f"unexpected {str(kind)!r}"
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    stripped = source_line.strip()
    rest = source_line[column - 1:] if column else ""
    if kind is not None:
        pass
    elif _REL_LINE.match(source_line):
        return Problem(path, line, column or 1, f"a relationship {stripped!r} inside the attribute block of {name} "
                       f"(opened at line {open_line})",
                       "close the block with '}' before the relationship, or move it out of the block")
    elif rest.startswith('"') and rest.count('"') % 2 == 1:
        return Problem(path, line, column or 1, f"unterminated quoted comment {rest.strip()!r} {where}",
                       'close it with a " on the same line')
    elif isinstance(exc, UnexpectedCharacters):
        char = source_line[column - 1] if column and 0 < column <= len(source_line) else exc.char
        what = f"unexpected {char!r}"
    elif isinstance(exc, UnexpectedToken):
        what = f"unexpected {_found(exc.token)}"
    else:
        what = "the file ends inside the block"
    return Problem(path, line, column or 1, f"bad attribute line {stripped!r} {where}: {what}", _ATTRIBUTE_FORM)


_LONE_ENTITY = re.compile(r'^\s*("[^"]*"|[^\s{}\[\]"|]+)(\[[^\]]*\])?\s*$')
_ATTRIBUTE_LIKE = re.compile(r'^\s*[^\s{}|"]+\s+[^\s{}|"]+(\s+[^{}|]*)?$')


def _stray_close(lines: list[str], line: int, column: int | None, blocks: _Blocks, path: str) -> Problem:
    """A '}' that closes no block: an entity line above that lost its '{', or a '}' too many."""
    n = line - 1
    while n > 0 and (_ATTRIBUTE_LIKE.match(lines[n - 1]) or not lines[n - 1].strip()) \
            and not _REL_LINE.match(lines[n - 1]):
        n -= 1
    lone = _LONE_ENTITY.match(lines[n - 1]) if 0 < n < line - 1 else None
    if lone and any(_ATTRIBUTE_LIKE.match(x) for x in lines[n:line - 1]):
        entity = lone.group(1).replace('"', "")
        return Problem(path, n, len(lines[n - 1].rstrip()) + 1,
                       f"the attribute block of {entity} has no '{{' (its '}}' is at line {line})",
                       f"write '{lines[n - 1].strip()} {{' to open the block")
    hint = "remove it, or open a block with 'NAME {' on an earlier line"
    if blocks.closed is not None:
        name, opened, stop = blocks.closed
        hint = (f"the block of {name} (opened at line {opened}) was already closed at line {stop.line}, "
                f"column {stop.column}: remove one of the two")
    return Problem(path, line, column or 1, "a '}' that closes no attribute block", hint)
