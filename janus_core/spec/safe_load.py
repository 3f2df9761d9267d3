"""Bounded loading of untrusted YAML and JSON: size, depth, aliases and bad bytes checked.

Everything a spec or a user's file holds goes through here: setup.yaml, a diagram's front
matter, rubric files, ``--option`` values, and ``--input``/``--against`` JSON Lines. A bad file
is a ``SpecError`` naming ``file:line:col`` — never a traceback, a RecursionError, a MemoryError
or a hang. PyYAML's safe loader does the parsing; this module only adds the bounds:

- size: at most ``MAX_BYTES`` (1 MB) of YAML;
- depth: collections nested at most ``MAX_DEPTH`` (50) deep, checked while composing, so
  ``[[[[...`` stops at the 51st bracket instead of recursing;
- aliases: at most ``MAX_ALIASES`` references, and the document, with every alias expanded,
  at most ``MAX_NODES`` nodes — an alias bomb (``&a [*a, *a, ...]`` nested) is refused before
  anything is built; an alias that refers to its own collection is refused too;
- bytes: NUL and other control characters are refused at their line and column, in YAML and in
  diagram text (``check_diagram_text``: Mermaid, SQL, a third party's format); a UTF-8 byte order
  mark at the start of a file is dropped (``read_text``), as editors on Windows write one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, SequenceNode

from janus_core.sdk.errors import Problem, SpecError

MAX_BYTES = 1_000_000
MAX_DEPTH = 50
MAX_ALIASES = 100
MAX_NODES = 100_000
#: a JSON Lines row longer than this is refused (a conversation is far shorter)
MAX_JSON_LINE = 16_000_000
#: containers nested deeper than this in a JSON row are refused
MAX_JSON_DEPTH = 64

# the characters YAML forbids (PyYAML's Reader would stop at them with a less helpful message)
_BAD_CHAR = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: what no diagram or schema holds: C0 controls but tab, line feed and carriage return; DEL
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BOM = "\ufeff"


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _problem(path: str, line: int, col: int, message: str, hint: str) -> SpecError:
    return SpecError(Problem(path, line, col, message, hint))


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that stops at deep nesting and too many aliases while composing."""

    def __init__(self, text: str, path: str, first_line: int):
        super().__init__(text)
        self.where, self.first_line = path, first_line
        self.depth = 0
        self.aliases = 0

    def error(self, mark: Any, message: str, hint: str) -> SpecError:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return _problem(self.where, line + self.first_line - 1, col, message, hint)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise self.error(self.peek_event().start_mark, f"more than {MAX_ALIASES} aliases (*name)",
                                 "write the values out; aliases are for a few shared settings")
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(self.peek_event().start_mark, f"nested more than {MAX_DEPTH} levels deep",
                             "a setup file needs only a few levels of lists and mappings")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
            raise self.error(node.start_mark, f"cannot read this value ({exc})", "write a shorter value") from None


def _check_expansion(root: Node, loader: _BoundedLoader) -> None:
    """Refuse a document whose aliases, expanded, make more than MAX_NODES nodes, or that refers to itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_NODES:
                raise loader.error(node.start_mark, f"aliases here expand to more than {MAX_NODES:,} values",
                                   "an alias bomb? write the values out instead of nesting aliases")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise loader.error(node.start_mark, "an alias refers to the collection that holds it",
                               "a value cannot contain itself")
        open_nodes.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in open_nodes:
                raise loader.error(child.start_mark, "an alias refers to the collection that holds it",
                                   "a value cannot contain itself")
            stack.append((child, False))


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_text(text: str, path: str, first_line: int) -> None:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise _problem(path, first_line, 1, f"{size:,} bytes of YAML; the limit is {MAX_BYTES:,}",
                       "a setup file is a few kilobytes; keep long material in documents:")
    bad = _BAD_CHAR.search(text)
    if bad:
        line, col = _position(text, bad.start())
        raise _problem(path, line + first_line - 1, col, f"the control character U+{ord(bad.group()):04X} "
                       "is not allowed in YAML", "remove it (was the file saved as text?)")


def check_diagram_text(text: str, path: str) -> None:
    """Refuse a control character in diagram text (NUL, ESC, backspace ...) at its line and column."""
    bad = _CONTROL.search(text)
    if bad:
        line, col = _position(text, bad.start())
        raise _problem(path, line, col, f"the control character U+{ord(bad.group()):04X} is not allowed in a "
                       "diagram", "remove it (was the file saved as text?)")


def compose_yaml(text: str, path: str, first_line: int = 1) -> tuple[Node | None, Any]:
    """(the root node, its Python value) for one YAML document, within the bounds above.

    The value is built from a second composition: building it resolves merge keys
    (``<<: *base``) by changing the nodes, and the returned node keeps the text's own positions."""
    _check_text(text, path, first_line)
    root = _compose(text, path, first_line)
    if root is None:
        return None, None
    loader = _BoundedLoader(text, path, first_line)
    try:
        value = loader.construct_document(_compose_with(loader))
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc, path, first_line) from None
    finally:
        loader.dispose()
    return root, value


def _compose(text: str, path: str, first_line: int) -> Node | None:
    loader = _BoundedLoader(text, path, first_line)
    try:
        return _compose_with(loader)
    finally:
        loader.dispose()


def _compose_with(loader: _BoundedLoader) -> Node | None:
    try:
        root = loader.get_single_node()
    except ComposerError as exc:
        raise _marked(exc, loader.where, loader.first_line) from None
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc, loader.where, loader.first_line) from None
    except yaml.YAMLError as exc:  # a ReaderError: bad bytes _check_text did not catch
        raise _problem(loader.where, loader.first_line, 1, f"invalid YAML: {exc}", "save the file as UTF-8 text") \
            from None
    if root is not None:
        _check_expansion(root, loader)
    return root


def _marked(exc: yaml.MarkedYAMLError, path: str, first_line: int) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return _problem(path, line + first_line - 1, col, f"invalid YAML: {exc.problem or exc}",
                    "check indentation and quoting around this place")


def load_yaml(text: str, path: str, first_line: int = 1) -> Any:
    """The Python value of one YAML document, within the bounds above; SpecError names the place."""
    return compose_yaml(text, path, first_line)[1]


def read_text(path: Path, shown: str, limit: int = MAX_BYTES) -> str:
    """A UTF-8 text file of at most ``limit`` bytes (read no further), without a leading byte order
    mark; SpecError otherwise."""
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise _problem(shown, 1, 1, f"cannot read the file ({exc.strerror})", "check the path") from None
    if len(data) > limit:
        raise _problem(shown, 1, 1, f"the file is larger than {limit:,} bytes", "use a smaller file")
    try:
        return data.decode("utf-8").removeprefix(BOM)
    except UnicodeDecodeError as exc:
        line, col = _position(data[:exc.start].decode("utf-8", "replace"), exc.start)
        raise _problem(shown, line, col, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8") from None


# --- JSON --------------------------------------------------------------------------------------

def _json_depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack += [(v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest


def load_json(text: str, where: str) -> Any:
    """One JSON value (a JSON Lines row, say) nested at most MAX_JSON_DEPTH deep; ValueError names ``where``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}:{exc.colno}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise ValueError(f"{where}: JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"{where}: JSON nested too deeply (at most {MAX_JSON_DEPTH} levels)")
    return value


def json_lines(path: Path) -> list[tuple[str, Any]]:
    """(``path:line``, value) for every non-blank line of a JSON Lines file; lines are bounded in size."""
    rows = []
    with path.open(encoding="utf-8") as f:
        n = 0
        while True:
            try:
                line = f.readline(MAX_JSON_LINE + 1)
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}:{n + 1}: not UTF-8 text ({exc.reason})") from None
            if not line:
                break
            n += 1
            if len(line) > MAX_JSON_LINE:
                raise ValueError(f"{path}:{n}: a line longer than {MAX_JSON_LINE:,} characters")
            if line.strip():
                rows.append((f"{path}:{n}", load_json(line, f"{path}:{n}")))
    return rows
