"""JSON on the hot path (request bodies, replies, records, the journal): orjson, about five times
faster than the standard library, with the standard library behind it for what orjson refuses
(lone surrogates, integers over 64 bits), so every input decodes and encodes as it did before."""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "dumps_bytes", "loads"]


def loads(data: str | bytes) -> Any:
    """Decode JSON text; raises json.JSONDecodeError (a ValueError) like json.loads."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # what orjson refuses but json reads; else json's own error


def dumps_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # a lone surrogate, an integer over 64 bits, a key that is not a string
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def dumps(value: Any) -> str:
    """Compact JSON text (non-ASCII kept as is)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
