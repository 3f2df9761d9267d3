"""Conversations from outside, for output types that grow them (follow-up).

Reads JSONL in OpenAI ``messages`` format (Janus output included), ShareGPT
(``conversations`` of ``from``/``value``) or the original tool's schema (``conversations`` of
``user``/``assistant`` pairs), or a Hugging Face dataset saved with ``save_to_disk``. A file that
is one JSON array is read as the original tool's ``outputs.json`` (what ``janus export --format
janus-legacy`` writes), including its earlier shapes: a bare list of pairs per conversation, and
``conversation`` holding one pair or a list of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record, record_id, sha256_of
from janus_core.spec.safe_load import MAX_JSON_LINE, json_lines, load_json

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "model": "assistant"}


def to_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """OpenAI-style messages from one row in any of the supported shapes; ValueError if none fits."""
    if isinstance(row, list):  # the original tool's early outputs.json: a conversation is a list of pairs
        row = {"conversations": row}
    if not isinstance(row, dict):
        raise ValueError(f"a row is a JSON object, not {type(row).__name__}")
    if "conversations" not in row and isinstance(row.get("conversation"), dict | list):  # its instruct mode
        one = row["conversation"]
        row = {**row, "conversations": [one] if isinstance(one, dict) else one}
    if isinstance(row.get("messages"), list):
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in row["messages"]]
    elif isinstance(row.get("conversations"), list) and row["conversations"]:
        first = row["conversations"][0]
        if "from" in first:
            messages = [{"role": SHAREGPT_ROLES[str(t["from"]).lower()], "content": str(t["value"])}
                        for t in row["conversations"]]
        else:
            messages, unanswered = [], []
            for pair in row["conversations"]:
                if "assistant" not in pair:  # the original's replies were not checked: join it to the next
                    unanswered.append(str(pair["user"]))
                    continue
                messages += [{"role": "user", "content": "\n\n".join([*unanswered, str(pair["user"])])},
                             {"role": "assistant", "content": str(pair["assistant"])}]
                unanswered = []
    else:
        raise ValueError("no 'messages' or 'conversations' list")
    if not any(m["role"] == "user" for m in messages) or messages[-1]["role"] != "assistant":
        raise ValueError("a conversation needs a user turn and must end with the assistant")
    return messages


def _is_json_array(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def json_array(path: Path) -> list[tuple[str, Any]]:
    """(``path#index``, value) for every item of a file holding one JSON array (bounded in size)."""
    if path.stat().st_size > MAX_JSON_LINE:
        raise ValueError(f"{path}: a JSON array file larger than {MAX_JSON_LINE:,} bytes")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    items = load_json(text, str(path))
    if not isinstance(items, list):
        raise ValueError(f"{path}: not one JSON array")
    return [(f"{path}#{i}", item) for i, item in enumerate(items)]


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
        return json_array(path) if _is_json_array(path) else json_lines(path)
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
                              model=str((row.get("model") if isinstance(row, dict) else None) or "input"),
                              prompt_sha256="", output_type="input",
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
