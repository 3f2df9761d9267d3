"""The Messages API's content blocks <-> Janus's OpenAI-form messages: ``tool_use`` blocks are an
assistant's ``tool_calls``, ``tool_result`` blocks (in the next user turn) its ``tool`` messages,
``thinking`` blocks its ``reasoning``."""

from __future__ import annotations

from typing import Any

from janus_core.sdk.contracts import Message, ToolCall
from janus_core.sdk.reasoning import join_reasoning, text_and_reasoning
from janus_core.sdk.tool_calls import arguments_object, arguments_text, call_id, checked_calls, tool_name


def tools_body(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function definitions as Anthropic tools (``name``, ``description``, ``input_schema``)."""
    body = []
    for tool in tools:
        function = tool.get("function") or tool
        entry = {"name": tool_name(tool),
                 "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
        if function.get("description"):
            entry["description"] = function["description"]
        body.append(entry)
    return body


def tool_choice_body(choice: str) -> dict[str, Any]:
    """A request's ``tool_choice`` ("auto", "required", "none" or a tool's name) in Anthropic's shape."""
    named = {"auto": "auto", "required": "any", "none": "none"}
    return {"type": named[choice]} if choice in named else {"type": "tool", "name": choice}


def messages_body(messages: list[Message]) -> list[dict[str, Any]]:
    """The non-system messages as Messages API turns. Plain text stays a string; an assistant's
    calls become ``tool_use`` blocks after its text, tool results ``tool_result`` blocks of one user
    turn (with the user's text that follows them, since turns must alternate)."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            continue
        content = str(message.get("content") or "")
        if role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(message.get("tool_call_id") or ""),
                                     "content": content}
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
            continue
        calls = [ToolCall.from_dict(entry) for entry in message.get("tool_calls") or ()]
        if calls:
            blocks = [{"type": "text", "text": content}] if content.strip() else []
            blocks += [{"type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(call.arguments)}
                       for call in calls]
            turns.append({"role": "assistant", "content": blocks})
        elif role == "user" and turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
            turns[-1]["content"].append({"type": "text", "text": content})  # after tool results
        else:
            turns.append({"role": role, "content": content})
    return turns


def read_content(blocks: list[Any], owner: str) -> tuple[str, list[ToolCall], str | None]:
    """(text, tool calls, reasoning) of a reply's content blocks."""
    texts, calls, thoughts = [], [], []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking":
            thoughts.append(block.get("thinking"))
        elif kind == "tool_use":
            name = block.get("name")
            if not isinstance(name, str) or not name:
                continue
            arguments = arguments_text(block.get("input"))
            given = block.get("id")
            ident = given if isinstance(given, str) and given else call_id(len(calls), name, arguments)
            calls.append(ToolCall(id=ident, name=name, arguments=arguments))
    text, reasoning = text_and_reasoning("".join(texts), join_reasoning(*thoughts))
    return text, checked_calls(calls, owner), reasoning
