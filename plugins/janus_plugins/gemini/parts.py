"""Gemini's contents and parts <-> Janus's OpenAI-form messages: function declarations from the
tools, ``functionCall`` parts for an assistant's ``tool_calls``, ``functionResponse`` parts (in a
user turn) for its ``tool`` messages, ``thought`` parts for its reasoning."""

from __future__ import annotations

from typing import Any

from janus_core.sdk.contracts import Message, ToolCall
from janus_core.sdk.reasoning import join_reasoning, text_and_reasoning
from janus_core.sdk.tool_calls import (
    arguments_object,
    arguments_text,
    call_id,
    call_names,
    checked_calls,
    tool_name,
)


def tools_config(tools: list[dict[str, Any]], choice: str | None) -> dict[str, Any]:
    """The ``tools`` and ``tool_config`` of a generate-content config for OpenAI function definitions
    and a ``tool_choice`` ("auto", "required", "none" or a tool's name)."""
    declarations = []
    for tool in tools:
        function = tool.get("function") or tool
        entry: dict[str, Any] = {"name": tool_name(tool)}
        if function.get("description"):
            entry["description"] = function["description"]
        if function.get("parameters"):
            entry["parameters_json_schema"] = function["parameters"]
        declarations.append(entry)
    config: dict[str, Any] = {"tools": [{"function_declarations": declarations}],
                              # declarations, not Python functions: the SDK must call nothing itself
                              "automatic_function_calling": {"disable": True}}
    if choice:
        modes = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
        calling: dict[str, Any] = {"mode": modes.get(choice, "ANY")}
        if choice not in modes:
            calling["allowed_function_names"] = [choice]
        config["tool_config"] = {"function_calling_config": calling}
    return config


def contents(messages: list[Message]) -> list[dict[str, Any]]:
    """The non-system messages as Gemini contents; a run of tool results is one user turn."""
    names = call_names(messages)
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "system":
            continue
        content = str(message.get("content") or "")
        if role == "tool":
            ident = str(message.get("tool_call_id") or "")
            part = {"function_response": {"id": ident, "name": names.get(ident, ""), "response": {"output": content}}}
            last = turns[-1] if turns else None
            if last is not None and last["role"] == "user" and "function_response" in last["parts"][-1]:
                last["parts"].append(part)
            else:
                turns.append({"role": "user", "parts": [part]})
            continue
        calls = [ToolCall.from_dict(entry) for entry in message.get("tool_calls") or ()]
        parts: list[dict[str, Any]] = [{"text": content}] if content or not calls else []
        parts += [{"function_call": {"id": call.id, "name": call.name, "args": arguments_object(call.arguments)}}
                  for call in calls]
        turns.append({"role": "model" if role == "assistant" else "user", "parts": parts})
    return turns


def read_parts(parts: list[Any], owner: str) -> tuple[str, list[ToolCall], str | None]:
    """(text, tool calls, reasoning) of a candidate's parts (google-genai ``Part`` objects)."""
    texts, thoughts, calls = [], [], []
    for part in parts:
        function = getattr(part, "function_call", None)
        if function is not None and isinstance(function.name, str) and function.name:
            arguments = arguments_text(function.args)
            calls.append(ToolCall(id=function.id or call_id(len(calls), function.name, arguments),
                                  name=function.name, arguments=arguments))
        elif getattr(part, "thought", None):
            thoughts.append(part.text)
        elif isinstance(part.text, str):
            texts.append(part.text)
    text, reasoning = text_and_reasoning("".join(texts), join_reasoning(*thoughts))
    return text, checked_calls(calls, owner), reasoning
