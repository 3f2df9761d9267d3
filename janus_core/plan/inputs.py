"""Conversations from outside, for output types that grow them (follow-up) and ``--against``.

Reads JSONL or a JSON array in alpaca format or OpenAI ``messages`` format (Janus output included; content as text or
as a list of text parts, OpenAI's ``text`` or LLaMA-Factory's ``value``), ShareGPT (``conversations``
of ``from``/``value``, a ``system`` column) or the original tool's schema (``conversations`` of
``user``/``assistant`` pairs), a Parquet file, or a Hugging Face dataset saved with ``save_to_disk``.
A file that is one JSON array is also read as the original tool's ``outputs.json`` (what ``janus
export --format janus-legacy`` writes), including its earlier shapes: a bare list of pairs per
conversation, and ``conversation`` holding one pair or a list of them.

Janus's records hold system, user and assistant text only: a conversation with tool calls or tool
results (ShareGPT ``function_call``/``observation``, OpenAI ``tool_calls``/``tool``) or with images,
audio or video is left out and counted, never read as text and never a reason to refuse the file."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record, record_id, sha256_of
from janus_core.spec.safe_load import MAX_JSON_LINE, json_lines, load_json

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "model": "assistant", "chatgpt": "assistant", "bot": "assistant"}
#: ShareGPT speakers of tool use (glaive, LLaMA-Factory) and OpenAI roles of tool results
TOOL_SPEAKERS = {"function_call", "observation", "tool", "function", "tool_call", "tool_calls", "tool_response",
                 "ipython"}
#: columns of media a conversation refers to (LLaMA-Factory's multimodal data): its text alone is no example
MEDIA_COLUMNS = ("images", "videos", "audios")
#: why a conversation is left out, as counted: "N conversations that ..."
TOOLS_SKIPPED = "have tool calls or tool results (Janus's records hold system, user and assistant text only)"
MEDIA_SKIPPED = "have images, audio or video (Janus's records hold text only)"


class Unsupported(ValueError):
    """A well-formed conversation that Janus's records cannot carry (tool calls, images): a reader
    leaves it out and counts it under ``reason`` rather than refusing the file."""

    def __init__(self, reason: str):
        super().__init__(f"a conversation that {reason.replace('have ', 'has ', 1)}")
        self.reason = reason


def content_text(content: Any) -> str:
    """A message's text: a string, or a list of parts (OpenAI ``{"type": "text", "text": ...}``,
    LLaMA-Factory's ``{"type": "text", "value": ...}``) joined by newlines; Unsupported for any other part
    (images, audio, reasoning, tool calls)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        raise ValueError(f"a message's content is text or a list of parts, not {type(content).__name__}")
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise ValueError(f"a content part is an object, not {type(part).__name__}")
        kind = str(part.get("type", "text"))
        if kind in TOOL_SPEAKERS or kind in ("tool_use", "tool_result", "function_call"):
            raise Unsupported(TOOLS_SKIPPED)
        if kind != "text":  # images, audio, reasoning, ...: the text alone would be another example
            raise Unsupported(f"have {kind[:40]!r} content parts (Janus's records hold text only)")
        text = part.get("text", part.get("value"))
        if not isinstance(text, str):
            raise ValueError("a text part has no 'text' (OpenAI) or 'value' (LLaMA-Factory) string")
        texts.append(text)
    return "\n".join(texts)


def openai_message(m: Any) -> dict[str, str]:
    """One OpenAI-style message as role and text; Unsupported for tool calls and tool results."""
    if not isinstance(m, dict):
        raise ValueError(f"a message is an object, not {type(m).__name__}")
    role = str(m["role"])
    if role in TOOL_SPEAKERS or m.get("tool_calls") or m.get("function_call"):
        raise Unsupported(TOOLS_SKIPPED)
    return {"role": role, "content": content_text(m["content"])}


def sharegpt_message(m: Any) -> dict[str, str]:
    """One ShareGPT turn (``from``/``value``) as role and text; Unsupported for tool turns."""
    if not isinstance(m, dict):
        raise ValueError(f"a turn is an object, not {type(m).__name__}")
    speaker = str(m["from"]).lower()
    if speaker in TOOL_SPEAKERS:
        raise Unsupported(TOOLS_SKIPPED)
    if speaker not in SHAREGPT_ROLES:
        raise ValueError(f"a turn from {str(m['from'])[:40]!r}: ShareGPT speakers are "
                         + ", ".join(sorted(SHAREGPT_ROLES)))
    return {"role": SHAREGPT_ROLES[speaker], "content": content_text(m["value"])}


def alpaca_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """An alpaca row (instruction, input, output; system and history if any) as messages."""
    messages = [{"role": "system", "content": str(row["system"])}] if row.get("system") else []
    for user, assistant in row.get("history") or []:
        messages += [{"role": "user", "content": str(user)}, {"role": "assistant", "content": str(assistant)}]
    instruction = str(row["instruction"])
    if row.get("input"):
        instruction += "\n\n" + str(row["input"])
    return [*messages, {"role": "user", "content": instruction}, {"role": "assistant", "content": str(row["output"])}]


def to_messages(row: dict[str, Any]) -> list[dict[str, str]]:
    """OpenAI-style messages from one row in any of the supported shapes; ValueError if none fits,
    Unsupported (a ValueError) for a conversation with tool calls or images."""
    if isinstance(row, list):  # the original tool's early outputs.json: a conversation is a list of pairs
        row = {"conversations": row}
    if not isinstance(row, dict):
        raise ValueError(f"a row is a JSON object, not {type(row).__name__}")
    if any(row.get(column) for column in MEDIA_COLUMNS):
        raise Unsupported(MEDIA_SKIPPED)
    if "conversations" not in row and isinstance(row.get("conversation"), dict | list):  # its instruct mode
        one = row["conversation"]
        row = {**row, "conversations": [one] if isinstance(one, dict) else one}
    if isinstance(row.get("messages"), list):
        messages = [openai_message(m) for m in row["messages"]]
    elif "instruction" in row and "output" in row:
        messages = alpaca_messages(row)
    elif isinstance(row.get("conversations"), list) and row["conversations"]:
        first = row["conversations"][0]
        if isinstance(first, dict) and "from" in first:
            messages = [sharegpt_message(t) for t in row["conversations"]]
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
        raise ValueError("no 'messages' or 'conversations' list, nor alpaca's 'instruction' and 'output'")
    system = row.get("system")  # LLaMA-Factory's sharegpt keeps the system prompt in its own column
    if isinstance(system, str) and system and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system})
    if not any(m["role"] == "user" for m in messages) or messages[-1]["role"] != "assistant":
        raise ValueError("a conversation needs a user turn and must end with the assistant")
    return messages


def _is_json_array(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def json_array(path: Path) -> list[tuple[str, Any]]:
    """(``path:line``, value) for every item of a file holding one JSON array (bounded in size), the
    line being where the item starts."""
    if path.stat().st_size > MAX_JSON_LINE:
        raise ValueError(f"{path}: a JSON array file larger than {MAX_JSON_LINE:,} bytes")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    items = load_json(text, str(path))
    if not isinstance(items, list):
        raise ValueError(f"{path}: not one JSON array")
    return [(f"{path}:{line}", item) for line, item in zip(item_lines(text), items, strict=True)]


def item_lines(text: str) -> list[int]:
    """The line each item of a JSON array starts on (``text`` is known to be one bounded, valid array)."""
    decoder = json.JSONDecoder()
    lines, at, line = [], text.index("[") + 1, 1 + text.count("\n", 0, text.index("["))
    while True:
        start = len(text) - len(text[at:].lstrip(" \t\r\n,"))
        if start >= len(text) or text[start] == "]":
            return lines
        line += text.count("\n", at, start)
        lines.append(line)
        _, at = decoder.raw_decode(text, start)
        line += text.count("\n", start, at)


def _rows(path: Path) -> list[tuple[str, Any]]:
    from janus_core.plan.columnar import columnar_rows, is_columnar

    if is_columnar(path):
        return list(columnar_rows(path))
    try:
        return json_array(path) if _is_json_array(path) else json_lines(path)
    except ValueError as exc:
        raise JanusError(str(exc)) from None
    except OSError as exc:
        raise JanusError(f"{path}: cannot read it ({exc.strerror})") from None


def conversation_records(rows: Iterable[tuple[str, Any]], skipped: Counter[str] | None = None) -> list[Record]:
    """Records (depth 0) for ``(where, row)`` pairs; errors name where the row came from. A conversation
    Janus's records cannot carry (tool calls, images) is counted in ``skipped`` by reason and left out
    (without ``skipped`` it is an error naming it)."""
    records = []
    for where, row in rows:
        try:
            messages = to_messages(row)
        except Unsupported as exc:
            if skipped is None:
                raise JanusError(f"{where}: {exc}") from None
            skipped[exc.reason] += 1
            continue
        except (ValueError, KeyError, TypeError) as exc:
            problem = f"no {exc} in a message or turn" if isinstance(exc, KeyError) else str(exc)
            raise JanusError(f"{where}: not a conversation: {problem}") from None
        rid = record_id(f"input|{sha256_of(messages)}")
        records.append(Record(messages=messages, id=rid, seed_id=rid, parent_id=None, direction="input",
                              walk={"id": f"input:{where}", "strategy": "input", "entities": [], "relationships": []},
                              model=str((row.get("model") if isinstance(row, dict) else None) or "input"),
                              prompt_sha256="", output_type="input",
                              meta={"source": where}))
    return records


def skipped_note(label: str, skipped: Counter[str]) -> str | None:
    """One line saying what a reader left out of ``label`` and why (None when nothing was)."""
    if not skipped:
        return None
    return f"{label}: left out " + "; ".join(f"{n} conversations that {why}" for why, n in skipped.items())


def load_conversations(path: str | Path, skipped: Counter[str] | None = None) -> list[Record]:
    """Records (depth 0) for every conversation in the input; errors name the file and line (a row of
    a Parquet file or saved dataset by its number). Conversations with tool calls or images are left
    out and counted in ``skipped`` (an error without it)."""
    path = Path(path)
    if not path.exists():
        raise JanusError(f"--input {path}: no such file or folder")
    records = conversation_records(_rows(path), skipped)
    if not records:
        why = "; ".join(f"{n} conversations {reason}" for reason, n in (skipped or {}).items())
        raise JanusError(f"--input {path}: no conversations Janus can use in it" + (f" ({why})" if why else ""))
    return records
