"""JSON-schema helpers: how long a reply that satisfies a bounded schema can be."""

from __future__ import annotations

import json
from typing import Any


def max_json_chars(schema: dict[str, Any]) -> int | None:
    """Upper bound on the characters of compact JSON valid under ``schema``; None if unbounded.

    Strings count two characters per allowed character (room for escapes such as ``\\n``), and
    one optional space is allowed around each separator, as llama.cpp's schema grammar permits.
    """
    kind = schema.get("type")
    if "enum" in schema:
        return max(len(json.dumps(v)) for v in schema["enum"]) + 1
    if kind == "string":
        limit = schema.get("maxLength")
        return None if limit is None else 2 + 2 * limit + 1
    if kind in ("integer", "number"):
        return 24
    if kind == "boolean":
        return 6
    if kind == "null":
        return 5
    if kind == "array":
        item = max_json_chars(schema.get("items", {}))
        count = schema.get("maxItems")
        if item is None or count is None:
            return None
        return 3 + count * (item + 2)
    if kind == "object":
        total = 3
        for key, sub in schema.get("properties", {}).items():
            value = max_json_chars(sub)
            if value is None:
                return None
            total += len(json.dumps(key)) + 3 + value + 2
        return None if schema.get("additionalProperties", True) is not False else total
    return None


#: output tokens for a request whose reply has no bounded schema
DEFAULT_MAX_TOKENS = 4096


def max_reply_tokens(schema: dict[str, Any] | None) -> int:
    """``max_tokens`` that always fits a reply valid under ``schema`` (a token is at least one
    character), or DEFAULT_MAX_TOKENS when the schema does not bound it."""
    bound = max_json_chars(schema) if schema is not None else None
    return bound or DEFAULT_MAX_TOKENS
