"""Mermaid erDiagram parser (a Lark grammar) and the Diagram it produces.

`parse_erdiagram(text, path)` returns a `Diagram`; `Diagram.to_mermaid()` writes it back in a
canonical form that parses to an equal Diagram. `%%` comments attach to the entity or
relationship before them: ``%% Frequency: Weekly`` becomes ``details["Frequency"] = "Weekly"``,
a comment without a colon becomes a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .errors import Problem, SpecError
from .safe_load import load_yaml

#: Canonical cardinality names, with the marker each takes on the left and right of a line.
CARDINALITIES = {
    "zero-or-one": ("|o", "o|"),
    "exactly-one": ("||", "||"),
    "zero-or-more": ("}o", "o{"),
    "one-or-more": ("}|", "|{"),
}
_SYMBOLS = {"|o": "zero-or-one", "o|": "zero-or-one", "||": "exactly-one", "}o": "zero-or-more",
            "o{": "zero-or-more", "}|": "one-or-more", "|{": "one-or-more"}
_WORDS = {"one or zero": "zero-or-one", "zero or one": "zero-or-one", "one or more": "one-or-more",
          "one or many": "one-or-more", "many(1)": "one-or-more", "1+": "one-or-more",
          "zero or more": "zero-or-more", "zero or many": "zero-or-more", "many(0)": "zero-or-more",
          "0+": "zero-or-more", "only one": "exactly-one", "1": "exactly-one"}
_PHRASES = {"zero-or-one": "zero or one", "exactly-one": "exactly one",
            "zero-or-more": "zero or more", "one-or-more": "one or more"}


def cardinality_phrase(name: str) -> str:
    """'one-or-more' -> 'one or more'."""
    return _PHRASES[name]


@dataclass
class Attribute:
    type: str
    name: str
    keys: tuple[str, ...] = ()
    comment: str | None = None


@dataclass
class Entity:
    name: str
    alias: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)

    @property
    def label(self) -> str:
        return self.alias or self.name


@dataclass
class Relationship:
    left: str
    right: str
    left_cardinality: str
    right_cardinality: str
    identifying: bool = True
    label: str = ""
    details: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass
class Diagram:
    entities: dict[str, Entity] = field(default_factory=dict)
    relationships: list[Relationship] = field(default_factory=list)
    title: str | None = None
    direction: str | None = None
    notes: list[str] = field(default_factory=list)
    source: str = field(default="", compare=False, repr=False)
    path: str = field(default="", compare=False)

    def to_mermaid(self) -> str:
        """Canonical Mermaid text for this diagram (comments carry details and notes)."""
        out: list[str] = []
        if self.title is not None:
            out += ["---", f"title: {_yaml_scalar(self.title)}", "---"]
        out += [f"%% {n}" for n in self.notes]
        out.append("erDiagram")
        if self.direction:
            out.append(f"    direction {self.direction}")
        for e in self.entities.values():
            head = f"    {_name(e.name)}" + (f'["{e.alias}"]' if e.alias else "")
            if e.attributes:
                out.append(head + " {")
                for a in e.attributes:
                    keys = f" {','.join(a.keys)}" if a.keys else ""
                    comment = f' "{a.comment}"' if a.comment is not None else ""
                    out.append(f"        {a.type} {a.name}{keys}{comment}")
                out.append("    }")
            else:
                out.append(head)
            out += _comment_lines(e.details, e.notes)
        for r in self.relationships:
            marker = CARDINALITIES[r.left_cardinality][0] + ("--" if r.identifying else "..")
            marker += CARDINALITIES[r.right_cardinality][1]
            out.append(f'    {_name(r.left)} {marker} {_name(r.right)} : "{r.label}"')
            out += _comment_lines(r.details, r.notes)
        return "\n".join(out) + "\n"


def _yaml_scalar(text: str) -> str:
    return yaml.safe_dump(text, default_style='"').strip()


def _name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][\w\-]*", name) else f'"{name}"'


def _comment_lines(details: dict[str, str], notes: list[str]) -> list[str]:
    return [f"    %% {n}" for n in notes] + [f"    %% {k}: {v}" for k, v in details.items()]


@cache
def _parser() -> Lark:
    grammar = (Path(__file__).with_name("erdiagram.lark")).read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=False)


def _unquote(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] == '"' else token


@v_args(inline=True)
class _Build(Transformer):
    """Turns the parse tree into plain tuples; `_assemble` builds the Diagram from them."""

    def cardinality(self, tok: Token) -> str:
        text = re.sub(r"\s+", " ", str(tok))
        return _SYMBOLS.get(text) or _WORDS[text]

    def rel_type(self, tok: Token) -> bool:
        return str(tok) in ("--", "to")

    def label(self, tok: Token) -> str:
        return _unquote(str(tok)).strip()

    def alias(self, tok: Token) -> str:
        return _unquote(str(tok)).strip()

    def entity_ref(self, name: Token, *rest):
        alias = next((r for r in rest if isinstance(r, str) and not isinstance(r, Token)), None)
        return ("ref", _unquote(str(name)), alias, name.line, name.column)

    def keys(self, *toks: Token) -> tuple[str, ...]:
        return tuple(str(t) for t in toks)

    def attribute(self, type_: Token, name: Token, *rest):
        keys: tuple[str, ...] = ()
        comment = None
        for r in rest:
            if isinstance(r, tuple):
                keys = r
            else:
                comment = _unquote(str(r))
        return ("attr", Attribute(str(type_), str(name), keys, comment))

    def comment(self, tok: Token):
        return ("comment", str(tok)[2:].strip(), tok.line)

    def attr_block(self, *items):
        return ("block", list(items))

    def entity(self, ref, block=None):
        return ("entity", ref, block[1] if block else [])

    def relationship(self, left, lcard, identifying, rcard, right, label=""):
        return ("rel", left, lcard, identifying, rcard, right, label)

    def direction(self, tok: Token):
        return ("direction", str(tok))

    def title(self, tok: Token):
        return ("title", str(tok).strip())

    def ACC(self, tok: Token):
        return ("ignored", str(tok))

    def STYLE_LINE(self, tok: Token):
        return ("ignored", str(tok))

    def FRONT_MATTER(self, tok: Token):
        return ("front", str(tok), tok.line)

    def HEADER(self, tok: Token):
        return ("header",)

    def start(self, *items):
        return [self.comment(i) if isinstance(i, Token) and i.type == "COMMENT" else i for i in items]


def _attach(target: Entity | Relationship | Diagram, text: str) -> None:
    if text.startswith("{") and text.endswith("}%%"):
        return  # a %%{init: ...}%% directive, not a comment
    key, sep, value = text.partition(":")
    if sep and key.strip() and value.strip() and len(key) <= 60:
        target.details[key.strip()] = value.strip()
    elif text:
        target.notes.append(text)


def _assemble(items: list, text: str, path: str) -> Diagram:
    diagram = Diagram(source=text, path=path)
    last: Entity | Relationship | Diagram = diagram

    def ensure(ref) -> Entity:
        _, name, alias, line, column = ref
        entity = diagram.entities.get(name)
        if entity is None:
            entity = diagram.entities[name] = Entity(name, line=line, column=column)
        if alias:
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
            _attach(last, item[1])
        elif kind == "entity":
            entity = ensure(item[1])
            for sub in item[2]:
                if sub[0] == "attr":
                    entity.attributes.append(sub[1])
                else:
                    _attach(entity, sub[1])
            last = entity
        elif kind == "rel":
            _, left, lcard, identifying, rcard, right, label = item
            ensure(left)
            ensure(right)
            last = Relationship(left[1], right[1], lcard, rcard, identifying, label,
                                line=left[3], column=left[4])
            diagram.relationships.append(last)
        elif kind == "direction":
            diagram.direction = item[1]
        elif kind == "title":
            diagram.title = item[1]
    if not diagram.entities:
        raise SpecError(Problem(path, 1, 1, "the erDiagram declares no entities",
                                "add at least one line such as 'CUSTOMER ||--o{ ORDER : places'"))
    return diagram


def parse_erdiagram(text: str, path: str = "diagram.mermaid") -> Diagram:
    """Parse Mermaid erDiagram text; raise SpecError naming path:line:col on bad input."""
    if not text.strip():
        raise SpecError(Problem(path, 1, 1, "the diagram is empty",
                                "start it with a line 'erDiagram', then entities and relationships"))
    try:
        tree = _parser().parse(text if text.endswith("\n") else text + "\n")
    except UnexpectedInput as exc:
        raise SpecError(_diagnose(exc, text, path)) from None
    return _assemble(_Build().transform(tree), text, path)


# --- error diagnosis ---------------------------------------------------------------------------

_TERMINAL_WORDS = {
    "CARD_SYM": "a cardinality (||, |o, o|, }o, o{, }|, |{)",
    "CARD_WORD": "a cardinality word (only one, zero or one, one or more, zero or many ...)",
    "REL_SYM": "'--' (identifying) or '..' (non-identifying)",
    "REL_WORD": "'to' or 'optionally to'",
    "NAME": "an entity name", "QUOTED": "a quoted string", "ATTR_WORD": "an attribute type or name",
    "KEY": "a key (PK, FK, UK)", "RBRACE": "'}'", "LBRACE": "'{'", "COLON": "':'",
    "HEADER": "'erDiagram'", "_NL": "a new line", "$END": "the end of the file",
    "LABEL_TEXT": "a label", "COMMENT": "a %% comment", "LSQB": "'['", "RSQB": "']'",
}
_REL_LINE = re.compile(
    r"^\s*(?P<left>\"[^\"]*\"|[^\s{\[]+)\s+(?P<lc>\S*?)(?P<rel>--|\.\.)(?P<rc>\S*)\s+(?P<right>[^\s:]\S*)")
_BLOCK_OPEN = re.compile(r'^\s*("[^"]*"|[\w\-]+)(\[[^\]]*\])?(:::[\w\-]+)?\s*\{')
_BAD_HEADERS = ("flowchart", "graph", "classDiagram", "sequenceDiagram", "stateDiagram", "gantt",
                "pie", "journey", "mindmap", "gitGraph")


def _expected(names) -> str:
    words = sorted({_TERMINAL_WORDS.get(n, n.lower()) for n in names if not n.startswith("__")})
    return ", ".join(words[:6]) + (" ..." if len(words) > 6 else "")


def _diagnose(exc: UnexpectedInput, text: str, path: str) -> Problem:
    lines = text.splitlines()
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    if not isinstance(line, int) or line < 1:
        line, column = len(lines), len(lines[-1]) + 1 if lines else 1
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    first = next((ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith(("%%", "---"))), "")

    if not first.startswith("erDiagram"):
        word = first.split()[0] if first else ""
        hint = "the first statement of the file must be 'erDiagram'"
        if word in _BAD_HEADERS:
            hint = (f"this is a {word} diagram; Janus reads erDiagram (other diagram kinds need a "
                    "diagram-reader plugin)")
        n = next(i for i, ln in enumerate(lines, 1) if ln.strip() == first) if first else 1
        return Problem(path, n, 1, f"expected 'erDiagram', found {word!r}", hint)

    unclosed = _unclosed_block(lines)
    if unclosed and (isinstance(exc, UnexpectedEOF) or line >= unclosed[0]):
        n, col, name = unclosed
        return Problem(path, n, col, f"the attribute block of {name} is never closed",
                       "add a line with '}' after its last attribute")

    m = _REL_LINE.match(source_line)
    if not m and re.search(r"[|}{]", source_line) and not _BLOCK_OPEN.match(source_line):
        return Problem(path, line, column or 1, f"malformed relationship {source_line.strip()!r}",
                       "write it as 'LEFT ||--o{ RIGHT : \"label\"' (cardinality, '--' or '..', "
                       "cardinality) with an entity on each side")
    if m:
        for side, group, valid in (("left", "lc", ("|o", "||", "}o", "}|")), ("right", "rc", ("o|", "||", "o{", "|{"))):
            marker = m.group(group)
            if marker not in _SYMBOLS:
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
        found = "the end of the file" if tok.type == "$END" else repr(str(tok).strip() or tok.type)
        if tok.type == "_NL":
            found = "the end of the line"
        return Problem(path, line, column, f"unexpected {found} in {source_line.strip()!r}",
                       f"expected {_expected(exc.expected)}")
    return Problem(path, line, column or 1, f"cannot parse {source_line.strip()!r}")


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
