"""How large a template's values can grow, worked out from its syntax tree before it renders.

Every value a template builds is bounded from its parts: a placeholder (``{{ diagram }}``) counts
as one copy of the spec's values, the template's own literals and numbers count by their
characters. ``~`` and ``+`` add the sizes of their sides, a list literal the sizes of its items,
and each allowed filter grows a value by at most a known factor (``join`` by its separator,
``replace`` by its new text, ``indent`` by its width, ``tojson`` and ``list`` by escaping).
``{% set %}`` remembers the size of what it stores, so a chain of sets that doubles a value
doubles the bound too. A template whose values could hold more than ``MAX_COPIES`` copies of the
spec's values, more than ``MAX_LITERAL_CHARS`` characters of its own, or lists nested more than
``MAX_NESTING`` deep is refused before anything renders.

``argument_findings`` checks the size arguments of filters (indent's width, tojson's indent,
truncate's end, join's separator, replace's new text, sum's start): each must be written out
in the template, within a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from janus_core.spec.template_shape import MAX_NESTING, Finding

#: copies of the spec's values one value may hold (each placeholder is one copy)
MAX_COPIES = 100
#: characters one value may build from the template's own literals and numbers
MAX_LITERAL_CHARS = 1_000_000
#: the longest string literal a template may hold
MAX_LITERAL = 10_000
#: caps on filters' size arguments
MAX_INDENT = 16
MAX_SEPARATOR = 16
MAX_REPLACEMENT = 64
MAX_TRUNCATE_END = 16
MAX_LEEWAY = 100
#: how much escaping (repr, JSON) or splitting into items can grow text
ESCAPE = 6
#: the most characters a number prints as (Python refuses to print longer integers)
NUMBER_CHARS = 4_400
#: the most items range() gives, and the characters each prints as (its arguments fit 64 bits)
RANGE_ITEMS = 10_000
RANGE_ITEM_CHARS = 22

_NUMBER_FILTERS = frozenset({"abs", "count", "float", "int", "length", "round", "sum", "wordcount"})
_TEXT_FILTERS = frozenset({"capitalize", "lower", "string", "striptags", "title", "trim", "upper"})
_ITEM_FILTERS = frozenset({"first", "last", "max", "min"})
_LIST_FILTERS = frozenset({"list", "sort", "unique"})
#: filters map() may apply (none has a size argument)
MAPPABLE = frozenset({"abs", "capitalize", "count", "first", "float", "int", "last", "length", "list", "lower",
                      "reverse", "round", "sort", "string", "striptags", "title", "trim", "unique", "upper",
                      "wordcount"})
#: loop attributes that are numbers or booleans (the rest, previtem/nextitem/cycle, are items)
_LOOP_NUMBERS = frozenset({"index", "index0", "revindex", "revindex0", "length", "depth", "depth0", "first",
                           "last", "changed"})


@dataclass(frozen=True)
class Size:
    """An upper bound on a value: copies of the spec's values, characters of the template's own,
    how deeply lists nest in it, and whether it may be text or a list (not only a number)."""

    copies: float = 0
    chars: int = 0
    depth: int = 0
    text: bool = True

    def __add__(self, other: Size) -> Size:
        return Size(self.copies + other.copies, self.chars + other.chars, max(self.depth, other.depth),
                    self.text or other.text)

    def __or__(self, other: Size) -> Size:
        """Either of two values."""
        return Size(max(self.copies, other.copies), max(self.chars, other.chars), max(self.depth, other.depth),
                    self.text or other.text)

    def times(self, factor: float, extra: int = 0, depth: int | None = None) -> Size:
        return Size(self.copies * factor, int(self.chars * factor) + extra,
                    self.depth if depth is None else depth, self.text)

    def item(self) -> Size:
        return Size(self.copies, self.chars, max(self.depth - 1, 0), self.text)


NUMBER = Size(0, NUMBER_CHARS, 0, False)
BOOL = Size(0, 5, 0, False)
PLACEHOLDER = Size(1, 0, 0)
LIST_PLACEHOLDERS = frozenset({"entities"})


class _TooLarge(Exception):
    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


# --- filters' size arguments -------------------------------------------------------------------

def _arg(node: Any, position: int, key: str) -> Any:
    """A filter's argument by position (after the value) or keyword; None when not given."""
    if len(node.args) > position:
        return node.args[position]
    return next((kw.value for kw in node.kwargs if kw.key == key), None)


def _literal(node: Any, kinds: tuple[type, ...]) -> Any:
    """The value of a literal of one of ``kinds`` (booleans are not numbers); ``...`` otherwise."""
    from jinja2 import nodes

    if isinstance(node, nodes.Const) and isinstance(node.value, kinds) and not (
            isinstance(node.value, bool) and bool not in kinds):
        return node.value
    return ...


def argument_findings(node: Any) -> list[Finding]:
    """Size arguments of one filter node that are computed or over their cap."""
    line, name = node.lineno or 1, node.name
    found: list[Finding] = []

    def need(position: int, key: str, kinds: tuple[type, ...], ok: Any, what: str) -> Any:
        arg = _arg(node, position, key)
        if arg is None:
            return None
        value = _literal(arg, kinds)
        if value is ... or not ok(value):
            found.append(Finding(line, f"{name}(): {key} must be {what}, written out in the template", name))
            return None
        return value

    if name == "indent":
        need(0, "width", (int, str), lambda v: (len(v) if isinstance(v, str) else v) in range(MAX_INDENT + 1),
             f"a number from 0 to {MAX_INDENT} or a string of at most {MAX_INDENT} characters")
    elif name == "tojson":
        need(0, "indent", (int, type(None)), lambda v: v is None or 0 <= v <= MAX_INDENT,
             f"a number from 0 to {MAX_INDENT}")
    elif name == "join":
        need(0, "d", (str,), lambda v: len(v) <= MAX_SEPARATOR, f"a string of at most {MAX_SEPARATOR} characters")
    elif name == "replace":
        need(1, "new", (str,), lambda v: len(v) <= MAX_REPLACEMENT,
             f"a string of at most {MAX_REPLACEMENT} characters")
    elif name == "sum":
        need(1, "start", (int, float), lambda v: True, "a number")
    elif name == "truncate":
        end = need(2, "end", (str,), lambda v: len(v) <= MAX_TRUNCATE_END,
                   f"a string of at most {MAX_TRUNCATE_END} characters")
        shortest = len(end if end is not None else "...")
        need(0, "length", (int,), lambda v: v >= shortest, f"a number no smaller than the end's length ({shortest})")
        need(3, "leeway", (int,), lambda v: 0 <= v <= MAX_LEEWAY, f"a number from 0 to {MAX_LEEWAY}")
    elif name == "round":
        need(0, "precision", (int,), lambda v: 0 <= v <= 20, "a number from 0 to 20")
    return found


# --- sizes of values ---------------------------------------------------------------------------

def size_findings(tree: Any) -> list[Finding]:
    """The first value in a (checked) template that can grow past the bounds, if any."""
    try:
        _Sizes().block(tree.body, {})
    except _TooLarge as exc:
        return [exc.finding]
    return []


class _Sizes:
    """Walks a template's statements in order, keeping the size of every name {% set %} stores."""

    def block(self, body: list[Any], names: dict[str, Size]) -> None:
        for node in body:
            self.statement(node, names)

    def statement(self, node: Any, names: dict[str, Size]) -> None:
        kind = type(node).__name__
        if kind == "Output":
            for child in node.nodes:
                if type(child).__name__ != "TemplateData":
                    self.value(child, names)
        elif kind == "Assign":
            self.bind(node.target, self.value(node.node, names), names)
        elif kind == "For":
            found = self.value(node.iter, names)
            item = NUMBER if self._is_range(node.iter) else found.item()
            inner = dict(names)
            self.bind(node.target, item, inner)
            inner["loop"] = item
            if node.test is not None:
                self.value(node.test, inner)
            self.block(node.body, inner)
            self.merge(names, inner)
            self.branches([node.else_], names)
        elif kind == "If":
            self.value(node.test, names)
            self.branches([node.body, *([elif_] for elif_ in node.elif_), node.else_], names)
        elif kind == "With":
            inner = dict(names)
            for target, value in zip(node.targets, node.values, strict=False):
                self.bind(target, self.value(value, names), inner)
            self.block(node.body, inner)
            self.merge(names, inner)

    def branches(self, bodies: list[list[Any]], names: dict[str, Size]) -> None:
        """Branches of which at most one runs: afterwards a name may hold what any branch stored."""
        results = []
        for body in bodies:
            inner = dict(names)
            self.block(body, inner)
            results.append(inner)
        for inner in results:
            self.merge(names, inner)

    @staticmethod
    def merge(names: dict[str, Size], inner: dict[str, Size]) -> None:
        for name, size in inner.items():
            names[name] = size | names.get(name, PLACEHOLDER)

    def bind(self, target: Any, size: Size, names: dict[str, Size]) -> None:
        if type(target).__name__ == "Name":
            names[target.name] = size
        else:  # a tuple of names unpacks an item
            for item in getattr(target, "items", []):
                self.bind(item, size.item(), names)

    @staticmethod
    def _is_range(node: Any) -> bool:
        return type(node).__name__ == "Call" and type(node.node).__name__ == "Name" and node.node.name == "range"

    # --- expressions ---------------------------------------------------------------------------

    def value(self, node: Any, names: dict[str, Size]) -> Size:
        size = self._value(node, names)
        line = getattr(node, "lineno", 1) or 1
        if size.copies > MAX_COPIES:
            raise _TooLarge(Finding(line, f"this can build a value from more than {MAX_COPIES} copies of the "
                                    "prompt's values (by repeating them with ~, +, join, replace or {% set %}); "
                                    "a template may not grow text that way"))
        if size.chars > MAX_LITERAL_CHARS:
            raise _TooLarge(Finding(line, f"this can build a value of more than {MAX_LITERAL_CHARS:,} characters "
                                    "from the template's own text"))
        if size.depth > MAX_NESTING:
            raise _TooLarge(Finding(line, f"lists nest more than {MAX_NESTING} deep here"))
        return size

    def _value(self, node: Any, names: dict[str, Size]) -> Size:
        kind = type(node).__name__
        if kind == "Const":
            value = node.value
            return Size(0, len(value)) if isinstance(value, str) else NUMBER if isinstance(value, int | float) \
                and not isinstance(value, bool) else BOOL
        if kind == "Name":
            if node.name in names:
                return names[node.name]
            return Size(1, 0, 1) if node.name in LIST_PLACEHOLDERS else PLACEHOLDER
        if kind in ("List", "Tuple", "Dict"):
            parts = [self.value(item, names) for item in node.items]
            total = sum(parts, Size(0, 2 + 4 * len(parts), 0, True))
            return Size(total.copies, total.chars, 1 + max((p.depth for p in parts), default=0))
        if kind == "Pair":
            return self.value(node.key, names) + self.value(node.value, names)
        if kind == "Keyword":
            return self.value(node.value, names)
        if kind == "Concat":
            total = sum((self.value(part, names) for part in node.nodes), Size(0, 0, 0, True))
            return Size(total.copies, total.chars, 0)
        if kind == "Add":
            return self.value(node.left, names) + self.value(node.right, names)
        if kind in ("Mul", "Mod", "Sub", "Div", "FloorDiv", "Pow"):
            left, right = self.value(node.left, names), self.value(node.right, names)
            if kind == "Mul" and (left.text or right.text):
                raise _TooLarge(Finding(node.lineno or 1, "'*' may repeat text or a list here; in a template '*' "
                                        "multiplies numbers only", "*"))
            if kind == "Mod" and left.text:
                raise _TooLarge(Finding(node.lineno or 1, "'%' may format text here; in a template '%' is for "
                                        "numbers only; use ~ to join text", "%"))
            return NUMBER
        if kind in ("Neg", "Pos"):
            self.value(node.node, names)
            return NUMBER
        if kind in ("Not", "Compare", "Test"):
            for child in node.iter_child_nodes():
                self.value(child, names)
            return BOOL
        if kind == "Operand":
            return self.value(node.expr, names)
        if kind in ("And", "Or"):
            return self.value(node.left, names) | self.value(node.right, names)
        if kind == "CondExpr":
            self.value(node.test, names)
            otherwise = self.value(node.expr2, names) if node.expr2 is not None else Size()
            return self.value(node.expr1, names) | otherwise
        if kind == "Getattr":
            if type(node.node).__name__ == "Name" and node.node.name == "loop" and node.attr in _LOOP_NUMBERS:
                return NUMBER
            return self.value(node.node, names)
        if kind == "Getitem":
            base = self.value(node.node, names)
            self.value(node.arg, names)
            return base if type(node.arg).__name__ == "Slice" else base.item()
        if kind == "Slice":
            for child in node.iter_child_nodes():
                self.value(child, names)
            return NUMBER
        if kind == "Filter":
            return self.filter(node, names)
        if kind == "Call":
            return self.call(node, names)
        return Size()

    def filter(self, node: Any, names: dict[str, Size]) -> Size:
        value = self.value(node.node, names) if node.node is not None else Size()
        args = [self.value(arg, names) for arg in node.args]
        for kw in node.kwargs:
            self.value(kw, names)
        name = node.name
        if name in _NUMBER_FILTERS:
            return NUMBER
        if name in _TEXT_FILTERS:
            return Size(value.copies, value.chars, 0, True)
        if name in _ITEM_FILTERS:
            return value.item()
        if name in _LIST_FILTERS or name == "map":
            return value.times(ESCAPE, depth=max(value.depth, 1))
        if name in ("default", "d"):
            return value | (args[0] if args else Size())
        if name == "join":
            separator = _literal(_arg(node, 0, "d"), (str,))
            width = len(separator) if isinstance(separator, str) else MAX_SEPARATOR
            return value.times(1 + width, width, depth=0)
        if name == "replace":
            old, new = _literal(_arg(node, 0, "old"), (str,)), _literal(_arg(node, 1, "new"), (str,))
            width = len(new) if isinstance(new, str) else MAX_REPLACEMENT
            factor = 1 + width / len(old) if isinstance(old, str) and old else 1 + width
            return value.times(factor, width, depth=0)
        if name == "indent":
            width = _literal(_arg(node, 0, "width"), (int, str))
            width = len(width) if isinstance(width, str) else width if isinstance(width, int) else 4
            return value.times(1 + width, width, depth=0)
        if name == "truncate":
            end = _literal(_arg(node, 2, "end"), (str,))
            return Size(value.copies, value.chars + len(end if isinstance(end, str) else "..."), 0)
        if name == "tojson":
            indent = _literal(_arg(node, 0, "indent"), (int,))
            indent = indent if isinstance(indent, int) else 0
            return value.times(ESCAPE + indent * (value.depth + 1), depth=0)
        return value

    def call(self, node: Any, names: dict[str, Size]) -> Size:
        for arg in (*node.args, *node.kwargs):
            self.value(arg, names)
        target = node.node
        if type(target).__name__ == "Name" and target.name == "range":
            given = [_literal(arg, (int,)) for arg in node.args]
            if node.args and ... not in given:  # range(3): its real size
                try:
                    return Size(0, 2 + len(range(*given)) * RANGE_ITEM_CHARS, 1)
                except (TypeError, ValueError, OverflowError):
                    pass
            return Size(0, 2 + RANGE_ITEMS * RANGE_ITEM_CHARS, 1)
        if type(target).__name__ != "Getattr":
            return Size()
        if type(target.node).__name__ == "Name" and target.node.name == "loop":  # loop.cycle(...)
            return sum((self.value(arg, names) for arg in node.args), Size())
        base = self.value(target.node, names)
        method = target.attr
        if method in ("split", "splitlines"):
            return base.times(ESCAPE, depth=1)
        if method in ("count", "find", "rfind"):
            return NUMBER
        if method.startswith(("is", "endswith", "startswith")):
            return BOOL
        return Size(base.copies, base.chars, 0)
