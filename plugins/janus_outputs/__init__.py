"""Built-in output types: 'instruct' (one exchange) and 'conversation' (several turns)."""

from __future__ import annotations

from typing import Any

from janus_core import hookimpl
from janus_core.interfaces import Limits, Message


def _text(limits: Limits) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limits.message_chars}


def _require_text(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"reply lacks a non-empty string '{key}'")
    return value.strip()


class Instruct:
    name = "instruct"
    description = "one user instruction and the assistant's response"

    def schema(self, limits: Limits) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "required": ["instruction", "response"],
                "properties": {"instruction": _text(limits), "response": _text(limits)}}

    def output_format(self, limits: Limits, derive: bool) -> str:
        task = ("Write a new instruction that evolves the existing one as directed, and the assistant's "
                "response to it." if derive else
                "Write one instruction the user gives and the assistant's response to it.")
        return (f"{task} Each is at most {limits.message_chars} characters. Answer with JSON only, "
                'in the form {"instruction": "...", "response": "..."}.')

    def parse(self, data: Any) -> list[Message]:
        return [{"role": "user", "content": _require_text(data, "instruction")},
                {"role": "assistant", "content": _require_text(data, "response")}]

    def derive(self, parent: list[Message], new: list[Message]) -> list[Message]:
        system = [m for m in parent if m["role"] == "system"]
        return system + new


class Conversation:
    name = "conversation"
    description = "a multi-turn conversation; derivations continue it with new turns"

    def schema(self, limits: Limits) -> dict[str, Any]:
        turn = {"type": "object", "additionalProperties": False, "required": ["user", "assistant"],
                "properties": {"user": _text(limits), "assistant": _text(limits)}}
        return {"type": "object", "additionalProperties": False, "required": ["turns"],
                "properties": {"turns": {"type": "array", "minItems": 1, "maxItems": limits.turns,
                                         "items": turn}}}

    def output_format(self, limits: Limits, derive: bool) -> str:
        task = (f"Continue the conversation with 1 to {limits.turns} new turns that follow on from its "
                "last message, as directed; give only the new turns." if derive else
                f"Write a conversation of 1 to {limits.turns} turns; each turn is the user's message "
                "and the assistant's reply.")
        return (f"{task} Each message is at most {limits.message_chars} characters. Answer with JSON "
                'only, in the form {"turns": [{"user": "...", "assistant": "..."}]}.')

    def parse(self, data: Any) -> list[Message]:
        turns = data.get("turns") if isinstance(data, dict) else None
        if not isinstance(turns, list) or not turns:
            raise ValueError("reply lacks a non-empty list 'turns'")
        messages: list[Message] = []
        for turn in turns:
            messages += [{"role": "user", "content": _require_text(turn, "user")},
                         {"role": "assistant", "content": _require_text(turn, "assistant")}]
        return messages

    def derive(self, parent: list[Message], new: list[Message]) -> list[Message]:
        return parent + new


@hookimpl
def register_output_types(register):
    register(Instruct())
    register(Conversation())
