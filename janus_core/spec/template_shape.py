"""How deep and how large a template's syntax is, checked before Jinja parses or compiles it.

Jinja's parser and compiler recurse once per level of nesting, and Python refuses compiled code
nested too deeply, so a hostile template could end in RecursionError, SyntaxError or
IndentationError. ``token_findings`` reads the template's tokens (Jinja's lexer does not
recurse) and refuses deep brackets, long runs of ``not``/``-``, chained inline ``if``s, deeply
nested blocks and too many tokens; ``tree_findings`` walks the parsed tree without recursing and
refuses a tree too deep (a long chain of ``+``, ``and`` or filters) or too large.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: brackets ( [ { nested in one expression; also the longest run of ``not``/``-``/``+`` and of inline ifs
MAX_NESTING = 20
#: {% for %}, {% if %} and {% with %} blocks nested in each other
MAX_BLOCKS = 10
#: tokens of template syntax in one template (text between the tags counts once)
MAX_TOKENS = 10_000
#: nodes in a template's syntax tree, and how deep the tree may be
MAX_NODES = 10_000
MAX_TREE_DEPTH = 48

_OPENERS = frozenset({"lparen", "lbracket", "lbrace"})
_CLOSERS = frozenset({"rparen", "rbracket", "rbrace"})
_BLOCKS = frozenset({"for", "if", "with", "macro", "call", "filter", "block", "autoescape"})
_UNARY = frozenset({"sub", "add"})


#: what a user reads under a finding about a template's size or nesting
BOUNDS_HINT = "keep prompt templates small and flat; docs/security.md lists the bounds"


@dataclass
class Finding:
    """Something a template may not do, at a 1-based line of the template; ``needle`` finds the
    column; ``hint`` (when set) says what to do instead."""

    lineno: int
    message: str
    needle: str = ""
    hint: str = ""


def token_findings(tokens: Iterator[Any]) -> list[Finding]:
    """The first nesting or size bound a template's tokens break (Jinja's ``lexer.wrap`` of
    ``lexer.tokeniter``: one token at a time), if any; raises jinja2.TemplateSyntaxError where the
    lexer does."""
    brackets = blocks = unary = inline_ifs = count = 0
    keyword: str | None = None  # the statement a {% ... %} tag starts with
    assigns, line, stream = False, 1, iter(tokens)
    while True:
        try:
            token = next(stream, None)
        except ValueError:  # the lexer reads integers with int(), which refuses more than 4,300 digits
            return [Finding(line, "a number here has too many digits")]
        if token is None:
            return []
        count, line = count + 1, token.lineno
        if count > MAX_TOKENS:
            return [Finding(token.lineno, f"the template has more than {MAX_TOKENS:,} tokens of template syntax")]
        kind, value = token.type, token.value
        if kind in ("block_begin", "variable_begin"):
            brackets = unary = inline_ifs = 0
            keyword, assigns = ("" if kind == "block_begin" else None), False
            continue
        if kind == "block_end":
            if keyword in _BLOCKS or (keyword == "set" and not assigns):
                blocks += 1
                if blocks > MAX_BLOCKS:
                    return [Finding(token.lineno, f"blocks ({{% for %}}, {{% if %}}, {{% with %}}) nest more "
                                    f"than {MAX_BLOCKS} deep", keyword or "")]
            elif keyword is not None and keyword.startswith("end"):
                blocks = max(blocks - 1, 0)
            keyword = None
            continue
        if keyword == "" and kind == "name":
            keyword = value
            continue
        assigns = assigns or kind == "assign"
        if kind in _OPENERS:
            brackets += 1
            if brackets > MAX_NESTING:
                return [Finding(token.lineno, f"brackets nest more than {MAX_NESTING} deep", value)]
        elif kind in _CLOSERS:
            brackets = max(brackets - 1, 0)
        if kind in _UNARY or (kind == "name" and value == "not"):
            unary += 1
            if unary > MAX_NESTING:
                return [Finding(token.lineno, f"more than {MAX_NESTING} 'not', '-' or '+' in a row", value)]
        elif kind != "name" or value not in ("is", "in"):
            unary = 0
        if kind == "name" and value == "if":
            inline_ifs += 1
            if inline_ifs > MAX_NESTING:
                return [Finding(token.lineno, f"more than {MAX_NESTING} inline 'if ... else' in one expression",
                                "if")]


def tree_findings(tree: Any) -> list[Finding]:
    """The first bound a parsed template breaks: more than MAX_NODES nodes, or nested deeper than
    MAX_TREE_DEPTH (a long chain of operators or filters); walked without recursion."""
    stack = [(tree, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        line = getattr(node, "lineno", 1) or 1
        if count > MAX_NODES:
            return [Finding(line, f"the template has more than {MAX_NODES:,} parts; write a shorter one")]
        if depth > MAX_TREE_DEPTH:
            return [Finding(line, f"an expression here nests more than {MAX_TREE_DEPTH} levels deep (a long chain "
                            "of operators, filters or attributes); split it with {% set %}")]
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return []
