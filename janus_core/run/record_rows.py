"""Reading a stored record safely: JSON of bounded size and nesting, and the shape of a record.

Every reader of the journal and of dataset files goes through here, so a damaged or hostile row
(invalid JSON, a list, JSON nested 100,000 deep, a gigabyte line) is a ``ValueError`` saying what is
wrong with it, never a crash or a recursion blowup. orjson parses (it refuses nesting over 1024
without recursing); the standard library reads only what orjson refuses for other reasons (a lone
surrogate, an integer over 64 bits), and its RecursionError is caught. The nesting is then checked
without recursion against ``MAX_DEPTH``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import orjson

#: The longest row read (characters of JSON): a model's record is far smaller; a longer row is refused.
MAX_ROW_CHARS = 64 * 2**20
#: The deepest nesting of objects and lists a row may have (a record needs under 10).
MAX_DEPTH = 64

#: Record fields without a default (``Record.from_dict`` needs them) and the type each must have.
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "messages": list, "id": str, "seed_id": str, "parent_id": (str, type(None)), "direction": str,
    "walk": dict, "model": (str, type(None)), "prompt_sha256": str, "output_type": str}
_OPTIONAL: dict[str, type | tuple[type, ...]] = {"depth": int, "usage": dict, "meta": dict,
                                                  "created_at": (str, type(None)), "tools": list}


def bounded_loads(data: str | bytes, max_chars: int = MAX_ROW_CHARS, max_depth: int = MAX_DEPTH) -> Any:
    """Decode one JSON value of at most ``max_chars`` characters nested at most ``max_depth`` deep;
    ValueError says what is wrong."""
    if not isinstance(data, (str, bytes)):
        raise ValueError(f"it holds {type(data).__name__}, not JSON text")
    if len(data) > max_chars:
        raise ValueError(f"it is {len(data):,} characters long, over the limit of {max_chars:,}")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc).lower() or "recursion" in str(exc).lower():
            raise ValueError(f"it is nested deeper than {max_depth} levels") from None
        try:  # what orjson refuses but the standard library reads (lone surrogates, big integers)
            value = json.loads(data)
        except json.JSONDecodeError as err:
            raise ValueError(f"it is not valid JSON ({err.msg} at column {err.colno})") from None
        except RecursionError:
            raise ValueError(f"it is nested deeper than {max_depth} levels") from None
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"it is not valid JSON ({err})") from None
    if too_deep(value, max_depth):
        raise ValueError(f"it is nested deeper than {max_depth} levels")
    return value


def too_deep(value: Any, limit: int) -> bool:
    """Whether objects and lists nest more than ``limit`` deep (checked level by level, no recursion)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (dict, list)):
                    below.append(child)
        level = below
    return False


def record_problem(value: Any) -> str | None:
    """What keeps ``value`` from being a whole Janus record (None when it is one)."""
    if not isinstance(value, dict):
        return f"it is a JSON {_kind(value)}, not an object"
    for key, kind in _REQUIRED.items():
        if key not in value:
            return f"it has no '{key}'"
        if not isinstance(value[key], kind):
            return f"its '{key}' is a JSON {_kind(value[key])}"
    for key, kind in _OPTIONAL.items():
        if key in value and not isinstance(value[key], kind):
            return f"its '{key}' is a JSON {_kind(value[key])}"
    for n, message in enumerate(value["messages"], 1):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) \
                or not isinstance(message.get("content"), str):
            return f"its message {n} is not a role and a text content"
    return None


def load_record(data: str | bytes) -> dict[str, Any]:
    """A whole record from one stored row; ValueError says what is wrong with the row."""
    value = bounded_loads(data)
    problem = record_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def read_lines(f: IO[bytes], max_chars: int = MAX_ROW_CHARS) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) per line of a binary file, holding at most ``max_chars`` of a line: a
    longer line comes as None (its rest is read past in pieces, never held)."""
    n = 0
    while True:
        line = f.readline(max_chars + 1)
        if not line:
            return
        n += 1
        if len(line) <= max_chars or line.endswith(b"\n"):
            yield n, line
            continue
        while line and not line.endswith(b"\n"):  # too long: skip to the end of the line
            line = f.readline(1 << 20)
        yield n, None
