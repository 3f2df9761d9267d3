"""Templates from a spec, bounded before they render and rendered in a sandbox.

A spec's prompts are untrusted text. They render in Jinja2's ``ImmutableSandboxedEnvironment``
with a loader that reads nothing, ``StrictUndefined``, and only the parts of the language a
prompt needs: ``{{ placeholder }}``, ``{% if %}``, ``{% for %}``, ``{% set x = ... %}``,
``{% with %}``, a list of harmless filters, tests and string methods.

``check`` is the one check ``janus validate`` and ``render`` both run, before anything renders:
the template's tokens and syntax tree stay within nesting and size bounds (template_shape), use
only what the allow-lists name, give filters' size arguments as capped literals, and cannot build
a large value from its literals or placeholders (template_sizes). Each refusal names the
template line.

``render`` then renders under a budget, a second line of defence: every operation that builds a
value (``~``, ``+``, filters, calls, printing) measures what it would build before building it
(at most ``MAX_CHARS`` characters), loops and the items filters go over count against
``MAX_ITERATIONS`` in all, the output is counted while it is produced, and rendering stops after
``MAX_SECONDS``.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from janus_core.sdk.errors import JanusError
from janus_core.spec.template_shape import BOUNDS_HINT, Finding, token_findings, tree_findings
from janus_core.spec.template_sizes import MAPPABLE, MAX_INDENT, MAX_LITERAL, argument_findings, size_findings

__all__ = ["FILTERS", "GLOBALS", "MAX_CHARS", "METHODS", "TESTS", "Finding", "TemplateRefused", "check", "checked",
           "compiled", "environment", "render"]

MAX_CHARS = 4_000_000
MAX_ITERATIONS = 100_000
MAX_RANGE = 10_000
MAX_SECONDS = 5.0

#: filters a template may use; each has output about as long as its input, or a capped size argument
FILTERS = frozenset({
    "abs", "capitalize", "count", "d", "default", "first", "float", "indent", "int", "join", "last",
    "length", "list", "lower", "map", "max", "min", "reject", "replace", "reverse", "round", "select",
    "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper",
    "wordcount"})
#: tests a template may use (``{% if x is defined %}``, ``select('odd')``)
TESTS = frozenset({
    "boolean", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge", "greaterthan", "gt", "in",
    "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas",
    "sequence", "string", "true", "undefined", "upper", "==", "!=", ">", ">=", "<", "<="})
#: methods a template may call on a value (``{{ diagram.strip() }}``)
METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "isalpha", "isdigit", "islower", "isupper",
    "lower", "lstrip", "rfind", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper"})
#: names a template may use besides its placeholders
GLOBALS = frozenset({"range", "loop"})
#: filters that go over their input item by item (each item counts against MAX_ITERATIONS)
_ITERATING = frozenset({"join", "list", "map", "max", "min", "reject", "select", "sort", "sum", "unique"})

_ALLOWED_NODES = frozenset({
    "Template", "Output", "TemplateData", "If", "For", "Assign", "With", "Const", "Name", "Getattr", "Getitem",
    "Slice", "Filter", "Test", "Call", "Compare", "Operand", "And", "Or", "Not", "CondExpr", "Concat", "List",
    "Tuple", "Dict", "Pair", "Keyword", "Add", "Sub", "Mul", "Div", "FloorDiv", "Mod", "Pow", "Neg", "Pos"})
_REFUSED_WORDS = {
    "Include": "{% include %} is not allowed: a template cannot read files",
    "Import": "{% import %} is not allowed: a template cannot read files",
    "FromImport": "{% from ... import %} is not allowed: a template cannot read files",
    "Extends": "{% extends %} is not allowed: a template cannot read files",
    "Block": "{% block %} is not allowed (there is no template inheritance)",
    "Macro": "{% macro %} is not allowed",
    "CallBlock": "{% call %} is not allowed",
    "FilterBlock": "{% filter %} blocks are not allowed; use a filter on a value: {{ x | upper }}",
    "AssignBlock": "{% set %}...{% endset %} blocks are not allowed; use {% set x = ... %}",
    "NSRef": "namespace assignment is not allowed",
}


class TemplateRefused(JanusError):
    """A template uses something the sandbox does not allow, or went over a bound while rendering."""

    def __init__(self, message: str, lineno: int = 1, needle: str = ""):
        super().__init__(message)
        self.message, self.lineno, self.needle = message, lineno, needle


# --- the budget of one render ------------------------------------------------------------------

class _Budget:
    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_SECONDS
        self.iterations = MAX_ITERATIONS

    def tick(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise TemplateRefused(f"loops run more than {MAX_ITERATIONS:,} times in one prompt")
        if not self.iterations % 256:
            self.in_time()

    def spend(self, items: int, what: str) -> None:
        """A filter or method about to go over ``items`` items: refused before it starts if that
        would pass the loop budget."""
        self.iterations -= items
        if self.iterations < 0:
            raise TemplateRefused(f"{what} would go over more than {MAX_ITERATIONS:,} items in one prompt "
                                  "(loops included)")
        self.in_time()

    def in_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateRefused(f"rendering took more than {MAX_SECONDS:g} seconds")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("janus_template_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    return budget if budget is not None else _Budget()  # outside render(): a fresh budget each time


# --- measuring values before they are built ----------------------------------------------------

@dataclass
class _Measure:
    chars: int = 0  # about how many characters the value prints as (str, repr or JSON, unescaped)
    items: int = 0  # strings, numbers and containers in it
    depth: int = 0  # how deeply containers nest in it


def _measure(value: Any, limit: int = MAX_CHARS) -> _Measure:
    """A value's printed size, counted without printing it and no further than ``limit`` (a list of
    a million references to one long list is not walked to its end)."""
    found = _Measure()
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        found.items += 1
        found.depth = max(found.depth, depth)
        if isinstance(item, str):
            found.chars += len(item) + 2
        elif isinstance(item, bool | float) or item is None:
            found.chars += 24
        elif isinstance(item, int):
            found.chars += item.bit_length() // 3 + 2
        elif isinstance(item, dict | list | tuple | set | frozenset | range):
            found.chars += 2 + 4 * len(item)
            if found.chars > limit:
                break
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        else:  # a loop context, an undefined value: short
            found.chars += 64
        if found.chars > limit:
            break
    return found


def _refuse_over(size: int, what: str) -> None:
    if size > MAX_CHARS:
        raise TemplateRefused(f"{what} would make a value longer than {MAX_CHARS:,} characters")


def _bounded(value: Any, what: str) -> Any:
    if isinstance(value, str | list | tuple | dict):
        _refuse_over(len(value), what)
    return value


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every loop's iterable passes through here: each turn counts against the budget."""
    budget = _budget()
    for item in iterable:
        budget.tick()
        yield item


def _range(*args: int) -> range:
    if any(not isinstance(a, int) or abs(a) > 2**63 for a in args):
        raise TemplateRefused("range() takes whole numbers of at most 19 digits")
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise TemplateRefused(f"range() of {len(items):,} items; at most {MAX_RANGE:,}")
    return items


def _concat(parts: tuple[Any, ...]) -> str:
    """``a ~ b``: refused before joining when the pieces would print longer than MAX_CHARS."""
    total = 0
    for part in parts:
        total += len(part) if isinstance(part, str) else _measure(part, MAX_CHARS - total).chars
        _refuse_over(total, "'~'")
    return "".join(map(str, parts))


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` passes through here before it is printed."""
    if not isinstance(value, str):
        _refuse_over(_measure(value).chars, "printing this")
    return value


def _guard_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that measures its input and what it would build before it runs."""
    passes = getattr(fn, "jinja_pass_arg", None)

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        first = 1 if passes is not None else 0
        args = list(args)
        budget = _budget()
        budget.tick()
        if len(args) <= first:
            return fn(*args, **kwargs)
        value = args[first]
        measured = _measure(value)
        if measured.chars > MAX_CHARS:
            raise TemplateRefused(f"the filter '{name}' is given a value longer than {MAX_CHARS:,} characters")
        if name in _ITERATING and isinstance(value, Sized):
            budget.spend(len(value), f"the filter '{name}'")
        if name == "join":
            items = args[first] = value if isinstance(value, str) else list(value)
            sep = str(args[first + 1]) if len(args) > first + 1 else str(kwargs.get("d", ""))
            _refuse_over(_measure(items).chars + len(sep) * max(len(items) - 1, 0), f"the filter '{name}'")
        elif name == "replace" and len(args) > first + 2:
            s, old, new = (str(a) for a in args[first:first + 3])
            _refuse_over(len(s) + (s.count(old) if old else len(s) + 1) * len(new), f"the filter '{name}'")
        elif name == "indent":
            width = args[first + 1] if len(args) > first + 1 else kwargs.get("width", 4)
            per_line = len(width) if isinstance(width, str) else int(width)
            if not 0 <= per_line <= MAX_INDENT:
                raise TemplateRefused(f"indent(): width must be from 0 to {MAX_INDENT}")
            s = str(value)
            _refuse_over(len(s) + (s.count("\n") + 1) * per_line, f"the filter '{name}'")
        elif name == "tojson":
            indent = args[first + 1] if len(args) > first + 1 else kwargs.get("indent")
            if indent is not None and not (isinstance(indent, int) and 0 <= indent <= MAX_INDENT):
                raise TemplateRefused(f"tojson(): indent must be from 0 to {MAX_INDENT}")
            _refuse_over(measured.chars + measured.items * ((indent or 0) * measured.depth + 2), "the filter 'tojson'")
        elif name == "sum":
            start = args[first + 2] if len(args) > first + 2 else kwargs.get("start", 0)
            if not isinstance(start, int | float):
                raise TemplateRefused("sum(): start must be a number")
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):  # map, select, reject: each item counts as it is made
            return _loop(result)
        return _bounded(result, f"the filter '{name}'")

    return guarded


@cache
def environment() -> Any:
    """The one sandboxed environment every spec template renders in."""
    import jinja2
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class JanusCode(CodeGenerator):
        def visit_Concat(self, node: Any, frame: Any) -> None:
            """``~`` calls the environment's janus_concat, which measures before it joins."""
            self.write("environment.janus_concat((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class JanusSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%", "+", "//", "/"})
        code_generator_class = JanusCode
        janus_concat = staticmethod(_concat)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _budget().tick()
            sized = (str, list, tuple)
            if operator == "%" and isinstance(left, str):
                raise TemplateRefused("'%' string formatting is not allowed; use ~ to join text")
            if operator == "*":
                if isinstance(left, sized) or isinstance(right, sized):
                    raise TemplateRefused("'*' would repeat text or a list; in a template '*' multiplies numbers only")
                if isinstance(left, int) and isinstance(right, int) and \
                        left.bit_length() + right.bit_length() > 4096:
                    raise TemplateRefused("'*' makes a number too large")
            if operator == "+" and isinstance(left, sized) and isinstance(right, sized):
                _refuse_over(len(left) + len(right), "'+'")
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and \
                    abs(left) > 1 and (right > 4096 or left.bit_length() * right > 4096):
                raise TemplateRefused("'**' makes a number too large")
            try:
                result = super().call_binop(context, operator, left, right)
            except (ArithmeticError, TypeError, ValueError) as exc:
                raise TemplateRefused(f"'{operator}' failed: {exc}") from None
            return _bounded(result, f"'{operator}'")

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            budget = _budget()
            budget.tick()
            result = super().call(__context, __obj, *args, **kwargs)
            if isinstance(result, list):
                budget.spend(len(result), "a call")
            return _bounded(result, "a call")

    env = JanusSandbox(loader=jinja2.DictLoader({}), undefined=jinja2.StrictUndefined, autoescape=False,
                       keep_trailing_newline=False, finalize=_finalize)
    env.globals.clear()
    env.globals["range"] = _range
    env.filters = {name: _guard_filter(name, fn) for name, fn in env.filters.items() if name in FILTERS}
    env.filters["_janus_loop"] = _loop
    env.tests = {name: fn for name, fn in env.tests.items() if name in TESTS}
    return env


# --- checking ----------------------------------------------------------------------------------

def parse(template: str) -> Any:
    """The template's syntax tree, unchecked; raises jinja2.TemplateSyntaxError. Use ``checked``
    for a template from a spec: a hostile one can make the parser recurse too deeply."""
    return environment().parse(template)


def check(template: str) -> list[Finding]:
    """Everything in a template the sandbox refuses, in order; raises jinja2.TemplateSyntaxError.

    ``janus validate`` and ``render`` both run this, before anything renders."""
    from jinja2 import TemplateSyntaxError

    env = environment()
    try:
        findings = token_findings(env.lexer.wrap(env.lexer.tokeniter(template, None)))
        if findings:
            return _hinted(findings)
        tree = env.parse(template)
    except TemplateSyntaxError:
        raise
    except (RecursionError, ValueError, OverflowError, AssertionError) as exc:  # the bounds above should prevent it
        return _hinted([Finding(1, f"the template cannot be read: {exc}")])
    findings = tree_findings(tree)
    if findings:
        return _hinted(findings)
    return _allowed_findings(tree) or _hinted(size_findings(tree))


def _hinted(findings: list[Finding]) -> list[Finding]:
    for finding in findings:
        finding.hint = finding.hint or BOUNDS_HINT
    return findings


def _allowed_findings(tree: Any) -> list[Finding]:
    """Nodes, names, filters, tests and calls the allow-lists do not name (the tree's depth is bounded)."""
    from jinja2 import nodes

    findings: list[Finding] = []

    def refuse(node: Any, message: str, needle: str = "", hint: str = "") -> None:
        findings.append(Finding(getattr(node, "lineno", 1) or 1, message, needle, hint))

    def visit(node: Any) -> None:
        kind = type(node).__name__
        if kind not in _ALLOWED_NODES:
            refuse(node, _REFUSED_WORDS.get(kind, f"'{kind}' is not allowed in a prompt template"),
                   kind.lower() if kind in _REFUSED_WORDS else "")
            return
        if isinstance(node, nodes.For) and node.recursive:
            refuse(node, "recursive loops are not allowed", "recursive")
        elif isinstance(node, nodes.Getattr):
            if node.attr.startswith("_"):
                refuse(node, f"the attribute '{node.attr}' is not allowed (names starting with '_' are "
                       "internal)", node.attr)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and \
                isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            refuse(node, f"the key '{node.arg.value}' is not allowed (names starting with '_' are internal)",
                   node.arg.value)
        elif isinstance(node, nodes.Name) and node.name.startswith("_"):
            refuse(node, f"the name '{node.name}' is not allowed", node.name)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str) and len(node.value) > MAX_LITERAL:
            refuse(node, f"a string literal longer than {MAX_LITERAL:,} characters; put long text in the "
                   "template itself")
        elif isinstance(node, nodes.Filter):
            _check_filter(node, refuse)
        elif isinstance(node, nodes.Test) and node.name not in TESTS:
            refuse(node, f"the test '{node.name}' is not allowed; allowed: {', '.join(sorted(TESTS))}", node.name)
        elif isinstance(node, nodes.Call):
            _check_call(node, refuse)
        for child in node.iter_child_nodes():
            visit(child)

    visit(tree)
    return findings


def _check_filter(node: Any, refuse: Callable[..., None]) -> None:
    from jinja2 import nodes

    if node.name not in FILTERS:
        refuse(node, f"the filter '{node.name}' is not allowed; allowed: {', '.join(sorted(FILTERS))}", node.name)
        return
    first = node.args[0] if node.args else None
    if node.name == "map" and not any(kw.key == "attribute" for kw in node.kwargs) and \
            not (isinstance(first, nodes.Const) and first.value in MAPPABLE):
        refuse(node, f"map() takes the name of one of these filters: {', '.join(sorted(MAPPABLE))}", "map")
    if node.name in ("select", "reject") and first is not None and \
            not (isinstance(first, nodes.Const) and first.value in TESTS):
        refuse(node, f"{node.name}() takes the name of an allowed test: {', '.join(sorted(TESTS))}", node.name)
    for kw in node.kwargs:
        if isinstance(kw.value, nodes.Const) and isinstance(kw.value.value, str) and kw.value.value.startswith("_"):
            refuse(node, f"the name '{kw.value.value}' is not allowed", kw.value.value)
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        refuse(node, "*args and **kwargs are not allowed", "*")
    for finding in _hinted(argument_findings(node)):
        refuse(node, finding.message, finding.needle, finding.hint)


def _check_call(node: Any, refuse: Callable[..., None]) -> None:
    from jinja2 import nodes

    target = node.node
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        refuse(node, "*args and **kwargs are not allowed", "*")
    if isinstance(target, nodes.Name) and target.name == "range":
        if node.args and all(isinstance(a, nodes.Const) and isinstance(a.value, int) for a in node.args):
            try:
                items = len(range(*(a.value for a in node.args)))
            except (TypeError, ValueError, OverflowError):
                items = MAX_RANGE + 1
            if items > MAX_RANGE:
                refuse(node, f"range() of {items:,} items; at most {MAX_RANGE:,}", "range")
        return
    if isinstance(target, nodes.Getattr) and isinstance(target.node, nodes.Name) and target.node.name == "loop" \
            and target.attr == "cycle":
        return
    if isinstance(target, nodes.Getattr) and target.attr in METHODS:
        return
    shown = target.attr if isinstance(target, nodes.Getattr) else getattr(target, "name", "")
    refuse(node, f"calling '{shown or 'this'}' is not allowed; a template may call range(), loop.cycle() and the "
           f"methods {', '.join(sorted(METHODS))}", shown)


def checked(template: str) -> Any:
    """The template's syntax tree once ``check`` finds nothing; raises TemplateRefused (the first
    finding) or jinja2.TemplateSyntaxError."""
    findings = check(template)
    if findings:
        first = findings[0]
        raise TemplateRefused(first.message, first.lineno, first.needle)
    return parse(template)


# --- rendering ---------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def compiled(template: str) -> Any:
    """The checked template, with every loop counted; raises TemplateRefused or TemplateSyntaxError."""
    from jinja2 import nodes

    tree = checked(template)
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, "_janus_loop", [], [], None, None, lineno=loop.lineno)
    try:
        return environment().from_string(tree)
    except (RecursionError, SyntaxError, ValueError, OverflowError, AssertionError):  # the bounds should prevent it
        raise TemplateRefused("the template nests too deeply to compile; make it simpler") from None


def _template_line(exc: BaseException) -> int | None:
    """The template line an error was raised on (Jinja puts template lines into the traceback)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _paused_line(tree: Any, stream: Any) -> int:
    """The template line a paused render is at."""
    inner = stream
    while getattr(inner, "gi_yieldfrom", None) is not None:
        inner = inner.gi_yieldfrom
    frame = getattr(inner, "gi_frame", None)
    return tree.get_corresponding_lineno(frame.f_lineno) if frame is not None else 1


def render(template: str, **values: Any) -> str:
    """The rendered template, stripped; TemplateRefused when it breaks a rule or a bound."""
    import jinja2

    token = _BUDGET.set(_Budget())
    try:
        pieces, size = [], 0
        tree = compiled(template)
        stream = tree.generate(**values)
        for piece in stream:
            size += len(piece)
            if size > MAX_CHARS:
                raise TemplateRefused(f"the prompt grows past {MAX_CHARS:,} characters", _paused_line(tree, stream))
            pieces.append(piece)
        return "".join(pieces).strip()
    except TemplateRefused as exc:
        exc.lineno = _template_line(exc) or exc.lineno
        raise
    except jinja2.TemplateError as exc:
        raise TemplateRefused(f"the template failed: {exc}", _template_line(exc) or 1) from None
    except RecursionError:
        raise TemplateRefused("the template nests too deeply") from None
    except Exception as exc:  # a filter or test given a value it cannot take (truncate's end, divisibleby(0))
        raise TemplateRefused(f"the template failed: {exc}", _template_line(exc) or 1) from None
    finally:
        _BUDGET.reset(token)
