"""Mermaid's reading of erDiagram text, up to the tokens: its preparation and its lexer.

Mermaid prepares the text before its grammar sees it (line endings, YAML front matter,
``%%{...}%%`` directives, whole-line ``%%`` comments) and then splits it with an ordered,
case-insensitive lexer where the first rule that matches wins, in one of a few states
(inside ``{ ... }`` attribute blocks, after ``style``/``classDef``, after ``accTitle:``).
`prepare` does the same preparation but blanks what Mermaid removes, so every offset, line
and column still points into the user's file, and keeps the comments and the front matter
for Janus. `tokenize` follows Mermaid's lexer rules and yields Lark tokens for the grammar in
erdiagram.lark (`MermaidLexer` plugs it into Lark).

Janus reads two things Mermaid does not: a ``title Some words`` line (Mermaid would read the
words as entities) and commas inside an attribute type's parentheses (``decimal(10,2)``,
which Mermaid refuses).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import Lexer

#: JavaScript's \s and . (Mermaid's lexer is JavaScript; Python's differ).
_WS = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_DOT = "[^\\n\\r\\u2028\\u2029]"
#: Characters above U+FFFF: JavaScript sees two surrogates, both inside Mermaid's \u00C0-\uFFFF.
_HIGH = "\\u00C0-\\uFFFF\\U00010000-\\U0010FFFF"
_FLAGS = re.IGNORECASE | re.ASCII

_FRONT_MATTER = re.compile(r"-{3}\s*[\n\r](.*?)[\n\r]-{3}\s*[\n\r]+", re.S)
_DIRECTIVE = re.compile(r"%{2}\{\s*(?:(\w+)\s*:|(\w+))\s*(?:(\w+)|((?:(?!\}%{2}).|\r?\n)*))?\s*(?:\}%{2})?",
                        re.I | re.A)
_COMMENT_LINE = re.compile(r"^\s*(%%(?!\{)[^\n]*)\n?", re.M)
_HTML_TAG = re.compile(r"<(\w+)([^>]*)>")


@dataclass
class Comment:
    """A whole-line ``%%`` comment: its text after the ``%%`` and where it starts."""

    text: str
    offset: int
    line: int
    column: int


@dataclass
class Prepared:
    """The text as Mermaid's grammar sees it, blanked in place of what Mermaid removes."""

    text: str
    front_matter: str | None = None
    comments: list[Comment] = field(default_factory=list)

    def detected(self) -> bool:
        """Mermaid's detector: the first thing left is ``erDiagram`` (case-sensitive)."""
        return self.text.lstrip().startswith("erDiagram")


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def prepare(source: str) -> Prepared:
    """Mermaid's preparation of diagram text, with positions kept (see the module docstring)."""
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    text = _HTML_TAG.sub(lambda m: "<" + m[1] + re.sub(r'="([^"]*)"', r"='\1'", m[2]) + ">", text)
    prepared = Prepared(text)
    front = _FRONT_MATTER.match(text)
    if front:
        prepared.front_matter = front[0]
        text = _blank(text, 0, front.end())
    for m in reversed(list(_DIRECTIVE.finditer(text))):
        text = _blank(text, m.start(), m.end())
    for m in _COMMENT_LINE.finditer(text):
        line, column = _position(text, m.start(1))
        prepared.comments.append(Comment(m[1][2:].strip(), m.start(1), line, column))
    for c in reversed(prepared.comments):
        text = _blank(text, c.offset, text.find("\n", c.offset) if "\n" in text[c.offset:] else len(text))
    prepared.text = text
    return prepared


# --- the lexer -----------------------------------------------------------------------------------

_SKIP = None  # a rule whose match makes no token
_Rule = tuple["re.Pattern[str]", "str | None", "str | None"]  # pattern, token type, state change


def _rules(*specs: tuple[str, str | None] | tuple[str, str | None, str]) -> list[_Rule]:
    out = []
    for spec in specs:
        pattern, kind = spec[0], spec[1]
        action = spec[2] if len(spec) > 2 else None
        pattern = pattern.replace("$DOT", _DOT).replace("$S", f"[{_WS}]").replace("$NS", f"[^{_WS}]")
        out.append((re.compile(pattern, _FLAGS), kind, action))
    return out


_WORD_CHARS = "(?:[^\\x00-\\x7F]|[A-Za-z0-9_]|-|\\*|\\.)+"
_DIRECTIONS = [(f"$DOT*direction$S+{d}[^\\n]*", "DIRECTION_" + d) for d in ("TB", "BT", "RL", "LR")]

_INITIAL = _rules(
    ("accTitle$S*:$S*", "ACC_TITLE", "push:acc_title"),
    ("accDescr$S*:$S*", "ACC_DESCR", "push:acc_descr"),
    ("accDescr$S*\\{$S*", _SKIP, "push:acc_descr_multiline"),
    *_DIRECTIONS,
    (f"title[ \\t]+[^\\n:{{}}\\[\\]|\"]*[^{_WS}:{{}}\\[\\]|\"](?=[ \\t]*(?:\\n|$))", "TITLE", "line-start"),
    ("\\n+", "_NEWLINE"),
    ("$S+", _SKIP),
    ('"[^"%\\r\\n\\v\\x08\\\\]+"', "ENTITY_NAME"),
    ('"[^"]*"', "WORD"),
    ("erDiagram\\b", "ER_DIAGRAM"),
    ("\\{", "BLOCK_START", "push:block"),
    ("#", "BRKT"),
    (",", "COMMA"),
    (":::", "STYLE_SEPARATOR"),
    (":", "COLON"),
    ("\\[", "SQS"),
    ("\\]", "SQE"),
    ("style\\b", "STYLE", "push:style"),
    ("classDef\\b", "CLASSDEF", "push:style"),
    ("class\\b", "CLASS"),
    ("one or zero\\b", "ZERO_OR_ONE"),
    ("one or more\\b", "ONE_OR_MORE"),
    ("one or many\\b", "ONE_OR_MORE"),
    ("1\\+", "ONE_OR_MORE"),
    ("\\|o", "ZERO_OR_ONE"),
    ("zero or one\\b", "ZERO_OR_ONE"),
    ("zero or more\\b", "ZERO_OR_MORE"),
    ("zero or many\\b", "ZERO_OR_MORE"),
    ("0\\+", "ZERO_OR_MORE"),
    ("\\}o", "ZERO_OR_MORE"),
    ("many\\(0\\)", "ZERO_OR_MORE"),
    ("many\\(1\\)", "ONE_OR_MORE"),
    ("many\\b", "ZERO_OR_MORE"),
    ("\\}\\|", "ONE_OR_MORE"),
    ("one\\b", "ONLY_ONE"),
    ("only one\\b", "ONLY_ONE"),
    ("[0-9]+\\.[0-9]+", "DECIMAL_NUM"),
    ("1(?=$S+[A-Za-z_\"'])", "ONLY_ONE"),
    ("1(?=$S+[0-9])", "ONLY_ONE"),
    ("1(?=--|\\.\\.|\\.-|-\\.)", "ONLY_ONE"),
    ("1\\b", "ENTITY_ONE"),
    ("[0-9]+", "NUM"),
    ("\\|\\|", "ONLY_ONE"),
    ("o\\|", "ZERO_OR_ONE"),
    ("o\\{", "ZERO_OR_MORE"),
    ("\\|\\{", "ONE_OR_MORE"),
    ("u(?=[.\\-|])", "MD_PARENT"),
    ("\\.\\.", "NON_IDENTIFYING"),
    ("--", "IDENTIFYING"),
    ("to\\b", "IDENTIFYING"),
    ("optionally to\\b", "NON_IDENTIFYING"),
    ("\\.-", "NON_IDENTIFYING"),
    ("-\\.", "NON_IDENTIFYING"),
    (_WORD_CHARS, "UNICODE_TEXT"),
    ("$DOT", "CHAR"),
)

_BLOCK = _rules(
    ("$S+", _SKIP),
    ("(?:PK|FK|UK)\\b", "ATTRIBUTE_KEY"),
    ("$NS*[~]$DOT*[~]$NS*", "ATTRIBUTE_WORD"),
    # Janus also reads commas inside parentheses, as in decimal(10,2)
    (f"[\\*A-Za-z_{_HIGH}][A-Za-z0-9\\-_\\[\\]\\(\\){_HIGH}\\*]*\\([0-9 ]*(?:,[0-9 ]*)+\\)"
     f"[A-Za-z0-9\\-_\\[\\]\\(\\){_HIGH}\\*]*", "ATTRIBUTE_WORD"),
    (f"[\\*A-Za-z_{_HIGH}][A-Za-z0-9\\-_\\[\\]\\(\\){_HIGH}\\*]*", "ATTRIBUTE_WORD"),
    ('"[^"]*"', "ATTRIBUTE_COMMENT"),
    ("\\}", "BLOCK_STOP", "pop"),
    (",", "KEY_COMMA"),
    ("$DOT", "CHAR"),
)

_STYLE = _rules(
    ("\\n+", "_NEWLINE", "pop"),
    ("$S+", _SKIP),
    (":", "COLON"),
    (",", "COMMA"),
    ("#", "BRKT"),
    ("(?:[^\\x00-\\x7F]|[A-Za-z0-9_]|-|\\*)+", "STYLE_TEXT"),
    (";", "SEMI"),
)

_RULES: dict[str, list[_Rule]] = {
    "initial": _INITIAL,
    "block": _BLOCK,
    "style": _STYLE,
    "acc_title": _rules(("[^\\n]*", "ACC_TITLE_VALUE", "pop")),
    "acc_descr": _rules(("[^\\n]*", "ACC_DESCR_VALUE", "pop")),
    "acc_descr_multiline": _rules(("\\}", _SKIP, "pop"), ("[^}]*", "ACC_DESCR_MULTILINE_VALUE")),
}



@dataclass(frozen=True)
class _State:
    """One lexer state: its rules, tried in order as one regex (Python's alternation also takes
    the first alternative that matches), with and without the rules kept for line starts."""

    rules: list[_Rule]
    anywhere: re.Pattern[str]
    at_line_start: re.Pattern[str]

    @classmethod
    def of(cls, rules: list[_Rule]) -> _State:
        def combined(line_start: bool) -> re.Pattern[str]:
            return re.compile("|".join(f"(?P<r{i}>{pattern.pattern})" for i, (pattern, _, action) in enumerate(rules)
                                       if line_start or action != "line-start"), _FLAGS)
        return cls(rules, combined(False), combined(True))


_STATES = {name: _State.of(rules) for name, rules in _RULES.items()}

#: Every token type the lexer makes (the grammar declares them).
TOKEN_TYPES = sorted({kind for rules in _RULES.values() for _, kind, _ in rules if kind}
                     - {d for _, d in _DIRECTIONS} | {"DIRECTION"})


def tokenize(text: str) -> Iterator[Token]:
    """Mermaid's erDiagram tokens for prepared text; UnexpectedCharacters where no rule matches."""
    stack = ["initial"]
    pos, line, line_start, n = 0, 1, 0, len(text)
    while pos < n or (pos == n and stack[-1] in ("acc_title", "acc_descr")):
        state = _STATES[stack[-1]]
        at_line_start = not text[line_start:pos].strip()
        m = (state.at_line_start if at_line_start else state.anywhere).match(text, pos)
        if m is None:
            raise UnexpectedCharacters(text, pos, line, pos - line_start + 1, state=stack[-1],
                                       allowed={kind for _, kind, _ in state.rules if kind})
        _, kind, action = state.rules[int(m.lastgroup[1:])]
        value, end = m.group(), m.end()
        if action == "pop":
            stack.pop()
        elif action and action.startswith("push:"):
            stack.append(action[5:])
        end_line, end_start = line + value.count("\n"), line_start
        if "\n" in value:
            end_start = pos + value.rfind("\n") + 1
        if kind:
            if kind.startswith("DIRECTION_"):
                kind, value = "DIRECTION", kind[len("DIRECTION_"):]
            yield Token(kind, value, pos, line, pos - line_start + 1, end_line, end - end_start + 1, end)
        line, line_start = end_line, end_start
        if end == pos and pos == n:  # an empty value at the end of the file (accTitle:)
            break
        pos = end


class MermaidLexer(Lexer):
    """Lark's hook for `tokenize` (the parser is given prepared text)."""

    def __init__(self, lexer_conf) -> None:
        pass

    def lex(self, data: str) -> Iterator[Token]:  # type: ignore[override]
        return tokenize(data)
