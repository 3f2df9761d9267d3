"""Rows of any format Janus writes, read back as records (``janus export`` and ``janus stats`` of an export).

A whole record (format ``janus``) is kept as it is. A row of another format (messages, sharegpt,
alpaca, janus-legacy, dpo) lost its provenance when it was exported: it becomes a seed record whose
id is a hash of its messages, with ``meta.format`` naming the shape it was read from. A DPO row keeps
its pair (``meta.chosen``, ``meta.rejected``, ``meta.scores``) so it exports to DPO again.
"""

from __future__ import annotations

from typing import Any

from janus_core.plan.inputs import Unsupported, alpaca_messages, openai_message, sharegpt_message, to_messages
from janus_core.sdk.records import PROVENANCE, record_id, sha256_of

#: what each shape is recognised by, for messages that say what a row needs
SHAPES = ("a whole Janus record (messages and id)", "messages", "sharegpt or janus-legacy (conversations)",
          "alpaca (instruction and output)", "dpo (prompt, chosen and rejected)")


def _text(value: Any) -> str:
    """A DPO side: a string, a message dict, or a list of messages (the assistant's content)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _message(value)["content"]
    if isinstance(value, list) and value:
        return _message(value[-1])["content"]
    raise ValueError("a chosen or rejected answer is a string, a message or a list of messages")


def _message(m: dict[str, Any]) -> dict[str, str]:
    return sharegpt_message(m) if isinstance(m, dict) and "from" in m else openai_message(m)


def _dpo(row: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """TRL's prompt/chosen/rejected, axolotl's messages/chosen/rejected or LLaMA-Factory's
    conversations/chosen/rejected (answers as strings, message dicts or message lists)."""
    prompt = row.get("prompt", row.get("messages", row.get("conversations")))
    prompt = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [_message(m) for m in prompt]
    chosen, rejected = _text(row["chosen"]), _text(row["rejected"])
    meta: dict[str, Any] = {"chosen": chosen, "rejected": rejected}
    if row.get("score_chosen") is not None and row.get("score_rejected") is not None:
        meta["scores"] = [row["score_chosen"], row["score_rejected"]]
        meta["margin"] = row["score_chosen"] - row["score_rejected"]
    return [*prompt, {"role": "assistant", "content": chosen}], meta


def record_dict(row: Any) -> dict[str, Any]:
    """A whole record (as a dict) from a row of any of Janus's formats; ValueError names what fits."""
    if not isinstance(row, dict):
        raise ValueError(f"a row is a JSON object, not {type(row).__name__}")
    if "id" in row and isinstance(row.get("messages"), list):
        return row
    meta: dict[str, Any] = {}
    try:
        if "chosen" in row and "rejected" in row and any(k in row for k in ("prompt", "messages", "conversations")):
            shape = "dpo"
            messages, meta = _dpo(row)
        elif "instruction" in row and "output" in row:
            shape, messages = "alpaca", alpaca_messages(row)
        elif "messages" in row:
            shape, messages = "messages", to_messages(row)
        elif "conversations" in row:
            first = (row["conversations"] or [{}])[0]
            shape, messages = ("sharegpt" if "from" in first else "janus-legacy"), to_messages(row)
        else:
            raise ValueError(f"it is none of Janus's formats ({'; '.join(SHAPES)}); its keys: "
                             + ", ".join(sorted(map(str, row))[:8]))
    except Unsupported:
        raise
    except KeyError as exc:
        raise ValueError(f"a malformed row: a message or turn has no {exc}") from None
    except TypeError as exc:
        raise ValueError(f"a malformed row ({exc})") from None
    rid = record_id(f"row|{sha256_of(messages)}")
    return {"messages": messages, **dict.fromkeys(PROVENANCE, None), "id": rid, "seed_id": rid,
            "direction": "?", "walk": {}, "model": str(row.get("model") or "?"), "prompt_sha256": "",
            "output_type": str(row.get("type") or "?"), "depth": 0, "usage": {},
            "meta": {**meta, "format": shape}, "created_at": ""}
