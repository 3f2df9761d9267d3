"""The dialogue: a simulated user with a goal, an assistant with tools, every call run on the world.

``converse`` continues a conversation that holds the user's opening message: the assistant
(``role="assistant"``, the tools offered, native tool calling or the JSON call format the engine
uses for backends without it) answers; each call it makes is run on the conversation's
``ToolSession`` and its result appended as a ``tool`` message, at most ``calls_per_turn`` calls a
turn (the rest of a reply's calls are not run and not kept; once the allowance is spent the
assistant is asked for its answer with ``tool_choice="none"``). Then the simulated user
(``role="user"``, told the goal and what it knows) answers in plain text, or says ``DONE`` when its
goal is met; at most ``user_turns`` user messages in all.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from janus_core.sdk.contracts import Ask, Message, ToolCall, assistant_message, tool_message
from janus_plugins.world.session import ToolSession

from .checks import error_type

DONE = "[DONE]"
_DONE = re.compile(r"\[?\s*DONE\s*\]?", re.I)


@dataclass
class Dialogue:
    """What a conversation did: its messages, every call (name, arguments, error type) and how it ended."""

    messages: list[Message]
    calls: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    user_turns: int = 1
    done: bool = False


def user_brief(goal: str, known: list[str], user_role: str, assistant_role: str) -> str:
    """The simulated user's instructions."""
    knows = "; ".join(known) if known else "nothing more"
    return (f"You are the {user_role}, talking to the {assistant_role}, who can look up and change the records. "
            f"Your goal: {goal}\nWhat you know: {knows}.\n"
            "Write only your next message to the assistant: plain text, short, in your own words, in the first "
            "person. Give what you know when asked; never make up ids or values you were not given. When the "
            f"assistant has done everything you asked and told you what you wanted to know, reply with only {DONE}.")


def _user_view(messages: list[Message], user_role: str, assistant_role: str) -> str:
    lines = [f"{'You' if m['role'] == 'user' else assistant_role}: {m['content']}" for m in messages
             if m["role"] in ("user", "assistant") and m.get("content")]
    return "The conversation so far:\n" + "\n".join(lines) + "\n\nYour next message:"


def done_said(text: str) -> tuple[bool, str]:
    """Whether the user's reply says the done marker, and the reply without it."""
    if DONE.lower() in text.lower() or _DONE.fullmatch(text.strip()):
        return True, _DONE.sub("", text).strip()
    return False, text.strip()


async def _assistant_turn(ask: Ask, session: ToolSession, messages: list[Message], dialogue: Dialogue,
                          calls_per_turn: int, temperature: float, rng: random.Random) -> bool:
    """One assistant turn, calls and all, appended to ``messages``; False when it gave no answer."""
    made = 0
    definitions = session.definitions()
    while True:
        spent = made >= calls_per_turn
        completion = await ask(messages, None, role="assistant", tools=definitions,
                               tool_choice="none" if spent else "auto", temperature=temperature,
                               seed=rng.randrange(2**31))
        calls: list[ToolCall] = [] if spent else list(completion.tool_calls[: calls_per_turn - made])
        dialogue.dropped += len(completion.tool_calls) - len(calls)
        completion.tool_calls = calls
        message = assistant_message(completion)
        if not calls and not (completion.text or "").strip():
            return False
        messages.append(message)
        if not calls:
            return True
        for call in calls:
            result = session.call(call.name, call.arguments)
            kind = error_type(result)
            tool = session.tools.get(call.name)
            dialogue.calls.append({"name": call.name, "arguments": call.arguments, "error": kind,
                                   "message": _message(result) if kind else "",
                                   "writes": bool(tool is not None and tool.writes and not kind)})
            messages.append(tool_message(call.id, result))
        made += len(calls)


def _message(result: str) -> str:
    import json

    try:
        return str(json.loads(result)["error"].get("message", ""))[:300]
    except (ValueError, KeyError, TypeError, AttributeError):
        return ""


async def converse(ask: Ask, session: ToolSession, messages: list[Message], *, goal: str, known: list[str],
                   user_role: str, assistant_role: str, user_turns: int, calls_per_turn: int,
                   temperatures: dict[str, float], rng: random.Random) -> Dialogue:
    """The dialogue that follows ``messages`` (a system message, the user's opening), bounded as the
    module docstring says."""
    dialogue = Dialogue(list(messages))
    brief = user_brief(goal, known, user_role, assistant_role)
    while True:
        answered = await _assistant_turn(ask, session, dialogue.messages, dialogue, calls_per_turn,
                                         temperatures.get("assistant", 0.7), rng)
        if not answered or dialogue.user_turns >= user_turns:
            return dialogue
        shown = [m for m in dialogue.messages if m["role"] != "system"]
        text = await ask([{"role": "system", "content": brief},
                          {"role": "user", "content": _user_view(shown, user_role, assistant_role)}],
                         None, raw=True, role="user", temperature=temperatures.get("user", 0.7),
                         seed=rng.randrange(2**31))
        finished, said = done_said(str(text or ""))
        if finished or not said:
            dialogue.done = finished
            return dialogue
        dialogue.messages.append({"role": "user", "content": said})
        dialogue.user_turns += 1
