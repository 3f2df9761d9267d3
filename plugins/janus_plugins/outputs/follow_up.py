"""Output type 'follow-up': grow conversations turn by turn.

Each step adds the user's next message (direct, concise, logically following on, sometimes
challenging; no thanks or praise) and the assistant's answer, until the conversation has the
wanted number of user turns. The conversations come from ``--input`` (Janus output or any JSONL
in OpenAI messages format) or, without it, from one-turn seeds written from the diagram.
"""

from __future__ import annotations

from typing import Any

from janus_core.sdk.contracts import Direction, Limits, Message

from . import Conversation, _text, validate

FOLLOW_UP = Direction(
    name="follow-up",
    pack="janus",
    description="the user's next message (direct, sometimes challenging) and the assistant's answer",
    template="""\
You write realistic training data for an AI assistant that plays the {{ assistant_role }}; the user is the \
{{ user_role }}.
{% if context %}The situation, in plain words:
{{ context }}

{% endif %}Read this conversation:
{{ previous }}

Write the user's next message. It must follow on from the conversation, be direct, concise and logically \
sound, and sometimes challenge the assistant's last answer. Users do not waste words on thanks or praise.
Then write the assistant's answer to it.

{{ output_format }}""",
)


class FollowUp(Conversation):
    name = "follow-up"
    description = "grows conversations (from --input or one-turn seeds) by one user turn and answer at a time"
    grows = True
    grow_direction = FOLLOW_UP

    def schema(self, limits: Limits) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "required": ["user", "assistant"],
                "properties": {"user": _text(limits), "assistant": _text(limits)}}

    def output_format(self, limits: Limits, derive: bool) -> str:
        task = ("Give only the new turn." if derive else
                "Write the first exchange of a conversation: the user's opening message and the assistant's reply.")
        return (f"{task} Each message is at most {limits.message_chars} characters. Answer with JSON only, "
                'in the form {"user": "...", "assistant": "..."}.')

    def role_play_turns(self, limits: Limits, derive: bool) -> int:
        return 1  # one exchange per step, seed or growth

    def parse(self, data: Any) -> list[Message]:
        turn = validate("turn", data)
        return [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.assistant}]
