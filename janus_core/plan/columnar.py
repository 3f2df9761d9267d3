"""Rows of columnar datasets: Parquet files and Hugging Face ``save_to_disk`` folders.

Janus's own Parquet and hf-disk exports keep a whole record's nested provenance (walk, usage,
meta) as JSON text, since its keys vary; those columns are decoded back into objects here. Tools
and tool calls are stored with Arrow's JSON type (pyarrow reads them as JSON text, ``datasets`` as
objects), and a column of messages gives every message every key any message has (null where it had
none): a whole record's messages get back their own keys only.
Rows are read in batches, never the whole table at once.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from janus_core.sdk.errors import JanusError

#: a whole record's columns that columnar exports hold as JSON text
JSON_TEXT_COLUMNS = ("walk", "usage", "meta")
#: a record's function definitions, and a message's calls: stored with Arrow's JSON type
TOOLS, TOOL_CALLS = "tools", "tool_calls"
PARQUET_MAGIC = b"PAR1"
BATCH_ROWS = 1024


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is a Parquet file (by its suffix or its first bytes)."""
    if path.suffix.lower() == ".parquet":
        return True
    try:
        with path.open("rb") as f:
            return f.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def is_columnar(path: Path) -> bool:
    """A folder (a saved Hugging Face dataset) or a Parquet file."""
    return path.is_dir() or (path.is_file() and is_parquet(path))


def columnar_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``PATH row N`` or ``PATH split S row N``, row) for every row of a Parquet file or a saved dataset."""
    rows = _folder_rows(path) if path.is_dir() else _parquet_rows(path)
    for where, row in rows:
        yield where, unpack_record(row)


def unpack_record(row: dict[str, Any]) -> dict[str, Any]:
    """A whole record's JSON-text columns (walk, usage, meta) as objects again; other rows as they are."""
    if "id" not in row or not isinstance(row.get("messages"), list):
        return row
    row = dict(row)
    for key in JSON_TEXT_COLUMNS:
        if isinstance(row.get(key), str):
            with contextlib.suppress(ValueError):  # text that is no JSON stays text; the record check names it
                row[key] = json.loads(row[key])
    if TOOLS in row:
        if isinstance(row[TOOLS], list):
            row[TOOLS] = [_decoded(tool) for tool in row[TOOLS]]
        elif row[TOOLS] is None:  # a record without tools beside records with them
            del row[TOOLS]
    row["messages"] = [_own_keys(m) for m in row["messages"]]
    return row


def _decoded(value: Any) -> Any:
    """JSON text as the value it holds; anything else (an object ``datasets`` decoded already) as it is."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _own_keys(message: Any) -> Any:
    """A message without the null keys a column of messages gave it, and its tool calls decoded."""
    if not isinstance(message, dict):
        return message
    own = {k: v for k, v in message.items() if v is not None or k in ("role", "content")}
    if isinstance(own.get(TOOL_CALLS), list):
        own[TOOL_CALLS] = [_decoded(call) for call in own[TOOL_CALLS]]
    return own


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise JanusError(f"{path} is a Parquet file: reading it needs pyarrow: pip install 'janus-data[hub]'") \
            from exc
    try:
        table = pq.ParquetFile(path)
        n = 0
        for batch in table.iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                n += 1
                yield f"{path} row {n}", row
    except (OSError, ValueError) as exc:  # pyarrow's ArrowIOError and ArrowInvalid
        raise JanusError(f"{path}: not a Parquet file Janus can read ({exc})") from None


def _folder_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        from datasets import load_from_disk
    except ImportError as exc:
        raise JanusError(f"{path} is a folder: reading a saved Hugging Face dataset needs "
                         "pip install 'janus-data[hub]'") from exc
    try:
        dataset = load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        if not any(path.iterdir()):
            raise JanusError(f"{path}: an empty folder, not a saved Hugging Face dataset") from None
        raise JanusError(f"{path}: a folder that is not a dataset saved with save_to_disk (hf-disk), nor a "
                         f"dataset file ({type(exc).__name__})") from None
    if hasattr(dataset, "keys"):  # a DatasetDict (train and eval splits): every split, train first
        names = sorted(dataset.keys(), key=lambda name: (name != "train", name))
        for name in names:
            for n, row in enumerate(dataset[name], 1):
                yield f"{path} split {name} row {n}", dict(row)
        return
    for n, row in enumerate(dataset, 1):
        yield f"{path} row {n}", dict(row)
