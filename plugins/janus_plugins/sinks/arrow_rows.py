"""Rows as an Arrow table for the columnar sinks (Parquet, Hugging Face datasets).

Arrow gives every row of a column one type, so tool definitions (each with its own JSON Schema) and
tool calls (arguments whose keys and types differ from call to call, objects in the ``trl`` format)
cannot be inferred as structs: a key that is a number in one row and text in another is refused, and
keys missing from a row come back as nulls. Those values are stored as Arrow's JSON type instead (JSON
text with a JSON logical type in Parquet): ``datasets`` reads such a column back as its ``Json``
feature (the objects, exactly as written), pyarrow as JSON text. Rows without tools are inferred as
they always were.
"""

from __future__ import annotations

import json
from typing import Any

#: the column of function definitions, and the message key of an assistant's calls
TOOLS, TOOL_CALLS = "tools", "tool_calls"
#: columns that hold lists of messages
MESSAGE_COLUMNS = ("messages",)


def has_tool_columns(rows: list[dict[str, Any]]) -> bool:
    """Whether any row has tools or a message with tool calls."""
    return any(row.get(TOOLS) or any(isinstance(m, dict) and m.get(TOOL_CALLS)
                                     for column in MESSAGE_COLUMNS for m in row.get(column) or ())
               for row in rows)


def arrow_table(rows: list[dict[str, Any]]) -> Any:
    """A pyarrow Table of ``rows``; tools and tool calls typed as JSON where any row has them."""
    import pyarrow as pa

    if not has_tool_columns(rows):
        return pa.Table.from_pylist(rows)
    table = pa.Table.from_pylist([_encoded(row) for row in rows])
    return table.cast(pa.schema([_json_typed(f) for f in table.schema], metadata=table.schema.metadata))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _encoded(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with each tool definition and each tool call as JSON text."""
    row = dict(row)
    if isinstance(row.get(TOOLS), list):
        row[TOOLS] = [_dumps(tool) for tool in row[TOOLS]]
    for column in MESSAGE_COLUMNS:
        if isinstance(row.get(column), list):
            row[column] = [{**m, TOOL_CALLS: [_dumps(call) for call in m[TOOL_CALLS]]}
                           if isinstance(m, dict) and isinstance(m.get(TOOL_CALLS), list) else m
                           for m in row[column]]
    return row


def _json_typed(field: Any) -> Any:
    """``field`` with the JSON text of tools and tool calls typed as JSON."""
    import pyarrow as pa

    if field.name == TOOLS and pa.types.is_list(field.type):
        return field.with_type(pa.list_(pa.json_()))
    if field.name in MESSAGE_COLUMNS and pa.types.is_list(field.type) and pa.types.is_struct(field.type.value_type):
        struct = field.type.value_type
        members = [pa.field(m.name, pa.list_(pa.json_()), m.nullable)
                   if m.name == TOOL_CALLS and pa.types.is_list(m.type) else m for m in struct]
        return field.with_type(pa.list_(pa.struct(members)))
    return field
