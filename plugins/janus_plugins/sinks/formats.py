"""Record formats at the edge: what a trainer reads. Inside Janus there is one record format.

Each format maps a record (a dict with ``messages`` and provenance) to one output row, or to
None when the record cannot be expressed (a record without rated answers has no DPO pair); a
``NoForm`` says why when the reason is more than that.

Tool use: a record may hold ``tools`` (OpenAI function definitions) and messages with ``tool_calls``
(arguments as JSON text) and ``tool`` results. ``messages`` keeps them as OpenAI's fine-tuning takes
them (``tools`` beside ``messages``), ``trl`` with each call's arguments as a JSON object (what TRL's
and transformers' chat templates read), ``sharegpt`` as LLaMA-Factory's ``function_call`` and
``observation`` turns with the tools as JSON text. The text-only formats leave such records out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]
SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}
#: LLaMA-Factory's ShareGPT speakers for a tool call and its result
FUNCTION_CALL, OBSERVATION = "function_call", "observation"
#: how parallel calls' results share one observation turn: the join LLaMA-Factory's own OpenAI-format converter uses
OBSERVATION_JOIN = "\n</tool_response>\n<tool_response>\n"
#: the key a record's message holds a model's reasoning under; ``reasoning_content`` is what chat templates read
REASONING, REASONING_FIELD = "reasoning", "reasoning_content"
#: what ``reasoning`` (the sink option, ``--reasoning``) may say; nothing is added to a row unless asked
REASONING_MODES = ("inline", "field", "drop")
_THINK = re.compile(r"\A\s*<think>.*?</think>", re.DOTALL)


class NoForm(ValueError):
    """A record a format cannot express, and why (``reason`` completes "N records ...")."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def has_tool_use(record: Row) -> bool:
    """Whether a record offers tools or holds tool calls or tool results."""
    return bool(record.get("tools")) or any(m.get("tool_calls") or m.get("role") == "tool"
                                            for m in record["messages"])


def with_reasoning(messages: list[Row], mode: str) -> tuple[list[Row], int]:
    """``messages`` with each message's reasoning inline (``<think>...</think>`` before the content, as
    Qwen- and DeepSeek-style templates write it), as ``reasoning_content``, or dropped; and how many
    messages had reasoning. Messages without reasoning are returned as they are."""
    if not any(REASONING in m for m in messages):
        return messages, 0
    out, n = [], 0
    for m in messages:
        if REASONING not in m:
            out.append(m)
            continue
        m = dict(m)
        text = m.pop(REASONING)
        if not isinstance(text, str) or not text.strip():
            out.append(m)
            continue
        n += 1
        if mode == "inline":
            content = m.get("content") or ""
            m["content"] = f"<think>\n{text.strip()}\n</think>" + (f"\n\n{content}" if content else "")
        elif mode == "field":
            m[REASONING_FIELD] = text
        out.append(m)
    return out, n


def arguments_object(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as a JSON object (they are JSON text in a record); NoForm when they are not one."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise NoForm("have a tool call whose arguments are not a JSON object")
    return value


def janus(record: Row) -> Row:
    """The whole record: messages plus provenance."""
    return record


def messages(record: Row) -> Row:
    """OpenAI / TRL conversational: just the messages; with tools, as OpenAI's chat fine-tuning takes
    them: ``tools`` beside ``messages``, calls with their arguments as JSON text, and no empty
    ``content`` on a message that only calls (OpenAI's own examples leave it out)."""
    if not has_tool_use(record):
        return {"messages": record["messages"]}
    msgs = [{k: v for k, v in m.items() if k != "content"} if m.get("tool_calls") and not m.get("content") else m
            for m in record["messages"]]
    return {"messages": msgs, **({"tools": record["tools"]} if record.get("tools") else {})}


def trl(record: Row) -> Row:
    """TRL's conversational language-modeling format: ``messages``, and with tools a ``tools`` column of
    function definitions; each call's ``arguments`` a JSON object (as TRL's and transformers' chat
    templates read them) and each tool result named by the function it answers (``name``)."""
    if not has_tool_use(record):
        return {"messages": record["messages"]}
    names: dict[Any, str] = {}
    msgs = []
    for m in record["messages"]:
        if m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                function = call["function"]
                names[call.get("id")] = function["name"]
                calls.append({**call, "function": {**function, "arguments": arguments_object(function["arguments"])}})
            m = {**m, "tool_calls": calls}
        elif m.get("role") == "tool" and "name" not in m and m.get("tool_call_id") in names:
            m = {**m, "name": names[m["tool_call_id"]]}
        msgs.append(m)
    return {"messages": msgs, **({"tools": record["tools"]} if record.get("tools") else {})}


def sharegpt(record: Row) -> Row:
    """ShareGPT ``conversations``; with tools, LLaMA-Factory's: a call is a ``function_call`` turn holding
    ``{"name", "arguments"}`` as JSON (a list for parallel calls), results an ``observation`` turn, and
    ``tools`` the function definitions as JSON text. Text an assistant wrote beside a call has no place
    there and is left out, bar reasoning written inline (LLaMA-Factory reads a leading ``<think>`` block)."""
    if not has_tool_use(record):
        return {"conversations": [{"from": SHAREGPT_FROM.get(m["role"], m["role"]), "value": m["content"]}
                                  for m in record["messages"]]}
    turns: list[Row] = []
    results: list[str] = []
    for m in record["messages"]:
        if m.get("role") == "tool":
            results.append(m["content"])
            continue
        if results:
            turns.append({"from": OBSERVATION, "value": OBSERVATION_JOIN.join(results)})
            results = []
        if m.get("tool_calls"):
            calls = [{"name": c["function"]["name"], "arguments": arguments_object(c["function"]["arguments"])}
                     for c in m["tool_calls"]]
            think = _THINK.match(m.get("content") or "")
            value = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
            turns.append({"from": FUNCTION_CALL, "value": (think.group(0).strip() + "\n" if think else "") + value})
        else:
            turns.append({"from": SHAREGPT_FROM.get(m["role"], m["role"]), "value": m["content"]})
    if results:
        turns.append({"from": OBSERVATION, "value": OBSERVATION_JOIN.join(results)})
    row: Row = {"conversations": turns}
    if record.get("tools"):
        row["tools"] = json.dumps(record["tools"], ensure_ascii=False)
    return row


def _pairs(msgs: list[dict[str, str]]) -> list[tuple[str, str]]:
    pairs, user = [], None
    for m in msgs:
        if m["role"] == "user":
            user = m["content"]
        elif m["role"] == "assistant" and user is not None:
            pairs.append((user, m["content"]))
            user = None
    return pairs


def _text_only(record: Row, fmt: str) -> None:
    if has_tool_use(record):
        raise NoForm(f"have tools or tool calls, which {fmt} rows cannot hold")


def alpaca(record: Row) -> Row | None:
    """instruction/input/output for the last exchange; earlier exchanges in ``history``."""
    _text_only(record, "alpaca")
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
    _text_only(record, "janus-legacy")
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
    _text_only(record, "preference-pair")
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
    "janus": janus, "messages": messages, "trl": trl, "sharegpt": sharegpt, "alpaca": alpaca,
    "janus-legacy": janus_legacy, "dpo": dpo, "dpo-axolotl": dpo_axolotl,
}

#: formats whose rows are preference pairs: ties and small margins are left out (``min_margin``)
PAIR_FORMATS = ("dpo", "dpo-axolotl")
#: formats that hold tool calls and tool results (the others leave a record with tools out)
TOOL_FORMATS = ("janus", "messages", "trl", "sharegpt")
#: formats whose messages are objects, which can hold reasoning as a field (the others hold text)
FIELD_FORMATS = ("messages", "trl", "dpo", "dpo-axolotl")


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


def llama_factory_entry(fmt: str, file_name: str, with_system: bool, with_tools: bool = False) -> Row:
    """The ``dataset_info.json`` entry for a file of format ``fmt`` (one of ``LLAMA_FACTORY_INFO``); a ShareGPT
    file with tools maps its ``tools`` column and names the tool turns' speakers."""
    entry = {"file_name": file_name, **LLAMA_FACTORY_INFO[fmt]}
    if fmt == "alpaca" and with_system:
        entry["columns"] = {**entry["columns"], "system": "system"}
    if fmt == "sharegpt" and with_tools:
        entry["columns"] = {**entry["columns"], "tools": "tools"}
        entry["tags"] = {**entry["tags"], "function_tag": FUNCTION_CALL, "observation_tag": OBSERVATION}
    return entry
