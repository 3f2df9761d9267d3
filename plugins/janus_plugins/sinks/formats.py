"""Record formats at the edge: what a trainer reads. Inside Janus there is one record format.

Each format maps a record (a dict with ``messages`` and provenance) to one output row, or to
None when the record cannot be expressed (a record without rated answers has no DPO pair).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def janus(record: Row) -> Row:
    """The whole record: messages plus provenance."""
    return record


def messages(record: Row) -> Row:
    """OpenAI / TRL conversational: just the messages."""
    return {"messages": record["messages"]}


def sharegpt(record: Row) -> Row:
    return {"conversations": [{"from": SHAREGPT_FROM.get(m["role"], m["role"]), "value": m["content"]}
                              for m in record["messages"]]}


def _pairs(msgs: list[dict[str, str]]) -> list[tuple[str, str]]:
    pairs, user = [], None
    for m in msgs:
        if m["role"] == "user":
            user = m["content"]
        elif m["role"] == "assistant" and user is not None:
            pairs.append((user, m["content"]))
            user = None
    return pairs


def alpaca(record: Row) -> Row | None:
    """instruction/input/output for the last exchange; earlier exchanges in ``history``."""
    pairs = _pairs(record["messages"])
    if not pairs:
        return None
    system = next((m["content"] for m in record["messages"] if m["role"] == "system"), "")
    row: Row = {"instruction": pairs[-1][0], "input": "", "output": pairs[-1][1],
                "history": [list(p) for p in pairs[:-1]]}
    if system:
        row["system"] = system
    return row


def janus_legacy(record: Row) -> Row | None:
    """The original tool's outputs.json row: {"conversations": [{"user": ..., "assistant": ...}],
    "type", "category", "model"} (category from the original setup.yaml, else null)."""
    pairs = _pairs(record["messages"])
    if not pairs:
        return None
    return {"conversations": [{"user": u, "assistant": a} for u, a in pairs], "type": record.get("output_type"),
            "category": (record.get("meta") or {}).get("category"), "model": record.get("model")}


def _scores(meta: Row) -> tuple[Any, Any]:
    """The chosen and rejected answers' scores (the highest and lowest rating), or (None, None)."""
    scores = meta.get("scores") or []
    return (max(scores), min(scores)) if scores else (None, None)


def margin(row: Row) -> Any:
    """How much better the chosen answer was rated than the rejected one (None when unrated)."""
    if row.get("score_chosen") is None or row.get("score_rejected") is None:
        return None
    return row["score_chosen"] - row["score_rejected"]


def dpo(record: Row) -> Row | None:
    """TRL's conversational preference format, from records with chosen and rejected answers:
    ``prompt`` a list of messages, ``chosen`` and ``rejected`` each a one-message list."""
    meta = record.get("meta") or {}
    if "chosen" not in meta or "rejected" not in meta or meta["chosen"] == meta["rejected"]:
        return None
    prompt = [m for m in record["messages"][:-1]]
    high, low = _scores(meta)
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": meta["chosen"]}],
            "rejected": [{"role": "assistant", "content": meta["rejected"]}],
            "score_chosen": high, "score_rejected": low}


def dpo_axolotl(record: Row) -> Row | None:
    """axolotl's ``chat_template.default`` DPO shape (LLaMA-Factory reads it too, as a ranking
    dataset): ``messages`` the prompt, ``chosen`` and ``rejected`` each one message dict."""
    row = dpo(record)
    if row is None:
        return None
    return {"messages": row["prompt"], "chosen": row["chosen"][0], "rejected": row["rejected"][0],
            "score_chosen": row["score_chosen"], "score_rejected": row["score_rejected"]}


FORMATS: dict[str, Callable[[Row], Row | None]] = {
    "janus": janus, "messages": messages, "sharegpt": sharegpt, "alpaca": alpaca,
    "janus-legacy": janus_legacy, "dpo": dpo, "dpo-axolotl": dpo_axolotl,
}

#: formats whose rows are preference pairs: ties and small margins are left out (``min_margin``)
PAIR_FORMATS = ("dpo", "dpo-axolotl")


#: LLaMA-Factory ``dataset_info.json`` entries (its data/README.md): how its loader reads each format's columns.
#: OpenAI-style messages are its "sharegpt" formatting with role/content tags; alpaca's ``system`` column is
#: mapped only where rows have one (``llama_factory_entry``): it reads a mapped column that is absent as an error.
LLAMA_FACTORY_INFO: dict[str, Row] = {
    "messages": {"formatting": "sharegpt", "columns": {"messages": "messages"},
                 "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                          "assistant_tag": "assistant", "system_tag": "system"}},
    "sharegpt": {"formatting": "sharegpt", "columns": {"messages": "conversations"},
                 "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                          "system_tag": "system"}},
    "alpaca": {"columns": {"prompt": "instruction", "query": "input", "response": "output", "history": "history"}},
    "dpo-axolotl": {"formatting": "sharegpt", "ranking": True,
                    "columns": {"messages": "messages", "chosen": "chosen", "rejected": "rejected"},
                    "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                             "assistant_tag": "assistant", "system_tag": "system"}},
}


def llama_factory_entry(fmt: str, file_name: str, with_system: bool) -> Row:
    """The ``dataset_info.json`` entry for a file of format ``fmt`` (one of ``LLAMA_FACTORY_INFO``)."""
    entry = {"file_name": file_name, **LLAMA_FACTORY_INFO[fmt]}
    if fmt == "alpaca" and with_system:
        entry["columns"] = {**entry["columns"], "system": "system"}
    return entry
