"""Templates from a spec, rendered in a sandbox with bounded output, loops and time.

A spec's prompts are untrusted text. They render in Jinja2's ``ImmutableSandboxedEnvironment``
with a loader that reads nothing, ``StrictUndefined``, and only the parts of the language a
prompt needs: ``{{ placeholder }}``, ``{% if %}``, ``{% for %}``, ``{% set x = ... %}``,
``{% with %}``, a list of harmless filters and string methods. ``check`` finds everything else
before anything runs (include/import/extends, macros, names starting with ``_``, unknown
filters, ranges over more than ``MAX_RANGE`` items) with the template line it is on; ``render``
checks the same, then renders under a budget: at most ``MAX_CHARS`` characters of output
(counted while the output is produced) or in any one value, ``MAX_ITERATIONS`` loop turns in
all, and ``MAX_SECONDS`` of time.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from janus_core.sdk.errors import JanusError

MAX_CHARS = 4_000_000
MAX_ITERATIONS = 100_000
MAX_RANGE = 10_000
MAX_SECONDS = 5.0

#: filters a template may use; each has output about as long as its input
FILTERS = frozenset({
    "abs", "capitalize", "count", "d", "default", "first", "float", "indent", "int", "join", "last",
    "length", "list", "lower", "map", "max", "min", "reject", "replace", "reverse", "round", "select",
    "sort", "string", "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper",
    "wordcount"})
#: methods a template may call on a value (``{{ diagram.strip() }}``)
METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "isalpha", "isdigit", "islower", "isupper",
    "lower", "lstrip", "rfind", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper"})
#: names a template may use besides its placeholders
GLOBALS = frozenset({"range", "loop"})

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


@dataclass
class Finding:
    """Something a template may not do, at a 1-based line of the template; ``needle`` finds the column."""

    lineno: int
    message: str
    needle: str = ""


# --- the budget of one render ------------------------------------------------------------------

class _Budget:
    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_SECONDS
        self.iterations = MAX_ITERATIONS

    def tick(self) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise TemplateRefused(f"loops run more than {MAX_ITERATIONS:,} times in one prompt")
        if not self.iterations % 256 and time.monotonic() > self.deadline:
            raise TemplateRefused(f"rendering took more than {MAX_SECONDS:g} seconds")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("janus_template_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    return budget if budget is not None else _Budget()  # outside render(): a fresh budget each time


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _bounded(value: Any, what: str) -> Any:
    if _size(value) > MAX_CHARS:
        raise TemplateRefused(f"{what} makes a value longer than {MAX_CHARS:,}")
    return value


def _loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every loop's iterable passes through here: each turn counts against the budget."""
    budget = _budget()
    for item in iterable:
        budget.tick()
        yield item


def _range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_RANGE:
        raise TemplateRefused(f"range() of {len(items):,} items; at most {MAX_RANGE:,}")
    return items


def _guard_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that refuses to build an over-long value (checked before for join, replace, indent)."""
    passes = getattr(fn, "jinja_pass_arg", None)

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        first = 1 if passes is not None else 0
        args = list(args)
        if name == "join" and len(args) > first:
            items = args[first] = [x for x in args[first]] if not isinstance(args[first], str) else args[first]
            sep = str(args[first + 1]) if len(args) > first + 1 else str(kwargs.get("d", ""))
            _bounded_estimate(sum(len(str(x)) for x in items) + len(sep) * max(len(items) - 1, 0), name)
        elif name == "replace" and len(args) > first + 2:
            s, old, new = (str(a) for a in args[first:first + 3])
            _bounded_estimate(len(s) + (s.count(old) if old else len(s) + 1) * len(new), name)
        elif name == "indent" and args:
            s = str(args[first])
            width = args[first + 1] if len(args) > first + 1 else kwargs.get("width", 4)
            per_line = len(width) if isinstance(width, str) else int(width)
            _bounded_estimate(len(s) + (s.count("\n") + 1) * per_line, name)
        _budget().tick()
        return _bounded(fn(*args, **kwargs), f"the filter '{name}'")

    return guarded


def _bounded_estimate(size: int, name: str) -> None:
    if size > MAX_CHARS:
        raise TemplateRefused(f"the filter '{name}' would make a value longer than {MAX_CHARS:,}")


@cache
def environment() -> Any:
    """The one sandboxed environment every spec template renders in."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class JanusSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%", "+", "//", "/"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _budget().tick()
            if operator == "%" and isinstance(left, str):
                raise TemplateRefused("'%' string formatting is not allowed; use ~ to join text")
            if operator == "*":
                for a, b in ((left, right), (right, left)):
                    if isinstance(a, str | list | tuple) and isinstance(b, int) and len(a) * b > MAX_CHARS:
                        raise TemplateRefused(f"'*' would make a value longer than {MAX_CHARS:,}")
                if isinstance(left, int) and isinstance(right, int) and \
                        left.bit_length() + right.bit_length() > 4096:
                    raise TemplateRefused("'*' makes a number too large")
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and \
                    abs(left) > 1 and (right > 4096 or left.bit_length() * right > 4096):
                raise TemplateRefused("'**' makes a number too large")
            try:
                result = super().call_binop(context, operator, left, right)
            except (ArithmeticError, TypeError, ValueError) as exc:
                raise TemplateRefused(f"'{operator}' failed: {exc}") from None
            return _bounded(result, f"'{operator}'")

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _budget().tick()
            return _bounded(super().call(__context, __obj, *args, **kwargs), "a call")

    env = JanusSandbox(loader=jinja2.DictLoader({}), undefined=jinja2.StrictUndefined, autoescape=False,
                       keep_trailing_newline=False)
    env.globals.clear()
    env.globals["range"] = _range
    env.filters = {name: _guard_filter(name, fn) for name, fn in env.filters.items() if name in FILTERS}
    env.filters["_janus_loop"] = _loop
    env.tests = dict(env.tests)
    return env


# --- checking ----------------------------------------------------------------------------------

def parse(template: str) -> Any:
    """The template's syntax tree; raises jinja2.TemplateSyntaxError."""
    return environment().parse(template)


def check(template: str) -> list[Finding]:
    """Everything in a template the sandbox refuses, in order; raises jinja2.TemplateSyntaxError."""
    from jinja2 import nodes

    findings: list[Finding] = []

    def refuse(node: Any, message: str, needle: str = "") -> None:
        findings.append(Finding(getattr(node, "lineno", 1) or 1, message, needle))

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
        elif isinstance(node, nodes.Filter):
            _check_filter(node, refuse)
        elif isinstance(node, nodes.Call):
            _check_call(node, refuse)
        for child in node.iter_child_nodes():
            visit(child)

    visit(parse(template))
    return findings


def _check_filter(node: Any, refuse: Callable[..., None]) -> None:
    from jinja2 import nodes

    if node.name not in FILTERS:
        refuse(node, f"the filter '{node.name}' is not allowed; allowed: {', '.join(sorted(FILTERS))}", node.name)
    if node.name == "map":
        first = node.args[0] if node.args else None
        if first is not None and not (isinstance(first, nodes.Const) and first.value in FILTERS):
            refuse(node, f"map() takes the name of an allowed filter: {', '.join(sorted(FILTERS))}", "map")
    for kw in node.kwargs:
        if isinstance(kw.value, nodes.Const) and isinstance(kw.value.value, str) and kw.value.value.startswith("_"):
            refuse(node, f"the name '{kw.value.value}' is not allowed", kw.value.value)
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        refuse(node, "*args and **kwargs are not allowed", "*")


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


# --- rendering ---------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def compiled(template: str) -> Any:
    """The checked template, with every loop counted; raises TemplateRefused or TemplateSyntaxError."""
    from jinja2 import nodes

    findings = check(template)
    if findings:
        first = findings[0]
        raise TemplateRefused(first.message, first.lineno, first.needle)
    env = environment()
    tree = parse(template)
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, "_janus_loop", [], [], None, None, lineno=loop.lineno)
    return env.from_string(tree)


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
    finally:
        _BUDGET.reset(token)
