"""Built-in output types: 'instruct' (one exchange) and 'conversation' (several turns); the others
('follow-up', 'system-message', 'preference', 'text-to-sql') live in the modules beside this one.

Replies are validated with pydantic models (built on first use, to keep plugin loading light);
the validation error is what the engine shows the model when it asks again.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from janus_core import hookimpl
from janus_core.sdk.contracts import Limits, Message, OutputType


def _text(limits: Limits) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limits.message_chars}


@cache
def _models() -> dict[str, Any]:
    from typing import Annotated

    from pydantic import BaseModel, Field, StringConstraints

    Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

    class InstructReply(BaseModel):
        instruction: Text
        response: Text

    class Turn(BaseModel):
        user: Text
        assistant: Text

    class ConversationReply(BaseModel):
        turns: list[Turn]

    class Answer(BaseModel):
        response: Text

    class Rating(BaseModel):
        score: Annotated[int, Field(ge=1, le=5)]
        rationale: Text

    class Ratings(BaseModel):
        ratings: list[Rating]

    return {"instruct": InstructReply, "conversation": ConversationReply, "turn": Turn, "answer": Answer,
            "ratings": Ratings}


def validate(kind: str, data: Any) -> Any:
    """The reply as a pydantic model; ValueError naming what is wrong."""
    from pydantic import ValidationError

    try:
        return _models()[kind].model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()[:5])
        raise ValueError(problems) from None


class Instruct(OutputType):
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
        reply = validate("instruct", data)
        return [{"role": "user", "content": reply.instruction}, {"role": "assistant", "content": reply.response}]

    def role_play_turns(self, limits: Limits, derive: bool) -> int:
        """User turns a record gets with ``generation: turns``: one instruction and its response."""
        return 1

    def derive(self, parent: list[Message], new: list[Message]) -> list[Message]:
        system = [m for m in parent if m["role"] == "system"]
        return system + new


class Conversation(OutputType):
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
        reply = validate("conversation", data)
        if not reply.turns:
            raise ValueError("turns: the list is empty")
        messages: list[Message] = []
        for turn in reply.turns:
            messages += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.assistant}]
        return messages

    def role_play_turns(self, limits: Limits, derive: bool) -> int:
        """User turns a record gets with ``generation: turns``: a seed has ``limits.turns``, a
        derivation continues the conversation by one."""
        return 1 if derive else limits.turns

    def derive(self, parent: list[Message], new: list[Message]) -> list[Message]:
        return parent + new


@hookimpl
def register_output_types(register):
    from .follow_up import FollowUp
    from .preferences import Preference, SystemMessage
    from .text_to_sql import TextToSql
    from .tool_use import ToolUse

    register(Instruct())
    register(Conversation())
    register(FollowUp())
    register(SystemMessage())
    register(Preference())
    register(TextToSql())
    register(ToolUse())


@hookimpl
def register_directions(register):
    from .text_to_sql import SQL_DIRECTIONS

    for direction in SQL_DIRECTIONS:
        register(direction)
