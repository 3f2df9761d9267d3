"""Conversations from outside, for output types that grow them (follow-up).

Reads JSONL in OpenAI ``messages`` format (Janus output included), ShareGPT
(``conversations`` of ``from``/``value``) or the original tool's schema (``conversations`` of
``user``/``assistant`` pairs), or a Hugging Face dataset saved with ``save_to_disk``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record, record_id, sha256_of
from janus_core.spec.safe_load import json_lines

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "model": "assistant"}


def to_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """OpenAI-style messages from one row in any of the supported shapes; ValueError if none fits."""
    if not isinstance(row, dict):
        raise ValueError(f"a row is a JSON object, not {type(row).__name__}")
    if isinstance(row.get("messages"), list):
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in row["messages"]]
    elif isinstance(row.get("conversations"), list) and row["conversations"]:
        first = row["conversations"][0]
        if "from" in first:
            messages = [{"role": SHAREGPT_ROLES[str(t["from"]).lower()], "content": str(t["value"])}
                        for t in row["conversations"]]
        else:
            messages = []
            for pair in row["conversations"]:
                messages += [{"role": "user", "content": str(pair["user"])},
                             {"role": "assistant", "content": str(pair["assistant"])}]
    else:
        raise ValueError("no 'messages' or 'conversations' list")
    if not any(m["role"] == "user" for m in messages) or messages[-1]["role"] != "assistant":
        raise ValueError("a conversation needs a user turn and must end with the assistant")
    return messages


def _rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    if path.is_dir():
        try:
            from datasets import load_from_disk
        except ImportError as exc:
            raise JanusError(f"{path} is a folder: reading a saved Hugging Face dataset needs "
                             "pip install 'janus-data[hub]'") from exc
        dataset = load_from_disk(str(path))
        if hasattr(dataset, "keys"):  # a DatasetDict: use its 'train' split or its first
            dataset = dataset["train"] if "train" in dataset else dataset[next(iter(dataset.keys()))]
        return [(f"{path}#{i}", dict(row)) for i, row in enumerate(dataset)]
    try:
        return json_lines(path)
    except ValueError as exc:
        raise JanusError(str(exc)) from None
    except OSError as exc:
        raise JanusError(f"{path}: cannot read it ({exc.strerror})") from None


def conversation_records(rows: Iterable[tuple[str, dict[str, Any]]]) -> list[Record]:
    """Records (depth 0) for ``(where, row)`` pairs; errors name where the row came from."""
    records = []
    for where, row in rows:
        try:
            messages = to_messages(row)
        except (ValueError, KeyError, TypeError) as exc:
            raise JanusError(f"{where}: not a conversation: {exc}") from None
        rid = record_id(f"input|{sha256_of(messages)}")
        records.append(Record(messages=messages, id=rid, seed_id=rid, parent_id=None, direction="input",
                              walk={"id": f"input:{where}", "strategy": "input", "entities": [], "relationships": []},
                              model=str(row.get("model", "input")), prompt_sha256="", output_type="input",
                              meta={"source": where}))
    return records


def load_conversations(path: str | Path) -> list[Record]:
    """Records (depth 0) for every conversation in the input; errors name the file and line."""
    path = Path(path)
    if not path.exists():
        raise JanusError(f"--input {path}: no such file or folder")
    records = conversation_records(_rows(path))
    if not records:
        raise JanusError(f"--input {path}: no conversations in it")
    return records
