"""The one record format inside Janus: OpenAI-style ``messages`` plus provenance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from janus_core.sdk import codec
from janus_core.sdk.contracts import Message

#: Fields every written record carries besides ``messages``.
PROVENANCE = ("id", "seed_id", "parent_id", "direction", "walk", "model", "prompt_sha256", "created_at")

#: What each provenance field (and the other fields of a whole record) means, for dataset cards.
FIELD_HELP = {
    "messages": "the training example: OpenAI-style chat messages (role and content; an assistant message may "
                "hold tool_calls, whose arguments are JSON text, and its reasoning; a tool message answers one call "
                "by its tool_call_id)",
    "tools": "the functions the assistant could call: OpenAI function definitions (name, description, parameters "
             "as JSON Schema); absent when the record has none",
    "id": "the record's id: a hash of its place in the plan (walk, direction, repeat, and for an evolution its "
          "parent's id) and --seed, so a rerun of the same command gives the same ids and another seed other ids",
    "seed_id": "the id of the seed record this one descends from (its own id for a seed); splits keep a seed's "
               "family on one side",
    "parent_id": "the id of the record this one was evolved from; empty for a seed",
    "direction": "the evolving direction that wrote it (a seed direction for a seed, a derivational one for "
                 "an evolution)",
    "walk": "the walk over the diagram that gave the seed its context: walk id, strategy, entities and "
            "relationships (JSON text in columnar files)",
    "model": "the model that wrote the reply",
    "prompt_sha256": "SHA-256 of the exact prompt messages sent, to tell which prompt produced the record",
    "created_at": "when the record was finished (UTC, ISO 8601)",
    "output_type": "the output type that shaped the reply (instruct, conversation, preference, ...)",
    "depth": "rounds of evolution from the seed: 0 for a seed",
    "usage": "tokens in and out and dollars spent on the request(s) behind the record (JSON text in columnar "
             "files)",
    "meta": "what the output type adds: a preference's chosen and rejected answers and scores, the source of a "
            "grown conversation (JSON text in columnar files)",
}


def sha256_of(value: Any) -> str:
    """Stable hash of JSON-serialisable data (keys sorted, compact, UTF-8). orjson writes strings,
    lists, dicts, integers, booleans and null byte for byte as the standard library does; what it
    refuses (a lone surrogate, an integer over 64 bits) goes through the standard library."""
    try:
        blob = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        blob = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def record_id(key: str, seed: int = 0) -> str:
    """A short id from a record's job key (its place in the plan) and the run's ``--seed``: a rerun of
    the same command gives the same ids, a run with another seed other ids. Seed 0 (the default)
    hashes the key alone, which keeps the ids runs made before ids depended on the seed."""
    text = key if seed == 0 else f"{key}|seed:{seed}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Record:
    """One training example and where it came from."""

    messages: list[Message]
    id: str
    seed_id: str
    parent_id: str | None
    direction: str
    walk: dict[str, Any]
    model: str
    prompt_sha256: str
    output_type: str
    depth: int = 0
    #: Tokens and dollars spent on the request(s) that produced this record.
    usage: dict[str, Any] = field(default_factory=dict)
    #: What the output type adds: a preference set, rated answers, the source of a grown conversation.
    meta: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=now)
    #: The functions the assistant could call (OpenAI function definitions); left out of the record when empty,
    #: so a record without tools is written as it was before records could hold them.
    tools: list[dict[str, Any]] = field(default_factory=list)
    _json: str | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        # explicit rather than dataclasses.asdict, which deep-copies and is slow per record
        head: dict[str, Any] = {"messages": self.messages, "tools": self.tools} if self.tools else \
            {"messages": self.messages}
        return {**head, "id": self.id, "seed_id": self.seed_id, "parent_id": self.parent_id,
                "direction": self.direction, "walk": self.walk, "model": self.model,
                "prompt_sha256": self.prompt_sha256, "output_type": self.output_type, "depth": self.depth,
                "usage": self.usage, "meta": self.meta, "created_at": self.created_at}

    def to_json(self) -> str:
        """The record as one line of JSON, encoded once and shared by the journal and the sinks."""
        if self._json is None:
            self._json = codec.dumps(self.to_dict())
        return self._json

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _messages_of(record: Record | dict[str, Any]) -> list[Message]:
    return record.get("messages", []) if isinstance(record, dict) else record.messages


def spoken(messages: list[Message]) -> list[Message]:
    """The messages that hold words people say: no ``tool`` results, no assistant message that only
    calls tools (its content empty). Text checks read these."""
    return [m for m in messages if m.get("role") != "tool"
            and not (m.get("tool_calls") and not str(m.get("content") or "").strip())]


def new_messages(record: Record | dict[str, Any], parent: Record | dict[str, Any] | None) -> list[Message]:
    """What a record adds to its parent: the messages after the parent's when it continues the
    parent's conversation; otherwise (a seed, a rewritten instruction) every message but the system one.
    Only ``spoken`` messages: tool results and bare tool calls are no text to check.

    ``record`` and ``parent`` may be Records or their dicts (a dataset file's lines)."""
    messages = _messages_of(record)
    if parent is not None:
        before = _messages_of(parent)
        if messages[: len(before)] == before:
            return spoken(messages[len(before):])
    return spoken([m for m in messages if m.get("role") != "system"])


def added_text(record: Record | dict[str, Any], parent: Record | dict[str, Any] | None) -> str:
    """The text a record adds to its parent (its new messages, no system message): what two records
    must not share to be no duplicates."""
    return "\n".join(m["content"] for m in new_messages(record, parent) if m.get("role") != "system")
