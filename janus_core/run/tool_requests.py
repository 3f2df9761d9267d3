"""Requests with tools, as the engine sends, keys and stores them.

A backend with native tool calling (``Backend.tools_native``) gets a request with tools as it is;
any other gets it in the JSON call format (``janus_core.sdk.tool_calls``), and its reply is read back into
``tool_calls``, before the reply is cached, so a resumed run replays the calls as they were read.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from janus_core.sdk import codec
from janus_core.sdk.contracts import Backend, Completion, CompletionRequest, ToolCall
from janus_core.sdk.tool_calls import (
    SENT_KEYS,
    has_tool_turns,
    json_call_completion,
    json_call_request,
    plain_messages,
)

#: the keys of a message that belong in its request key besides role and content
_KEYED = tuple(k for k in SENT_KEYS if k not in ("role", "content"))


def uses_json_calls(backend: Backend, request: CompletionRequest) -> bool:
    """Whether ``request`` goes to ``backend`` in the JSON call format: it has tools and the backend
    has no native tool calling."""
    return bool(request.tools) and not backend.tools_native


def request_for(backend: Backend, request: CompletionRequest) -> CompletionRequest:
    """``request`` as ``backend`` is sent it: in the JSON call format where the backend needs it; a
    request without tools whose history holds calls and results (a judge reading a dialogue) with
    that history as plain text, which every provider takes (Anthropic refuses tool blocks without
    tools)."""
    if uses_json_calls(backend, request):
        return json_call_request(request)
    if not request.tools and has_tool_turns(request.messages):
        return replace(request, messages=plain_messages(request.messages))
    return request


def completion_for(backend: Backend, request: CompletionRequest, completion: Completion) -> Completion:
    """``backend``'s reply to ``request_for(backend, request)`` in Janus's form (calls read from JSON)."""
    return json_call_completion(completion) if uses_json_calls(backend, request) else completion


def tools_key(request: CompletionRequest) -> str:
    """What a request key adds for tools, tool choice and the history's calls and results: "" for a
    request with none of them, so the keys of requests without tools are what they always were."""
    turns = [[i, {k: m[k] for k in _KEYED if m.get(k)}] for i, m in enumerate(request.messages)
             if any(m.get(k) for k in _KEYED)]
    if not request.tools and not request.tool_choice and not turns:
        return ""
    return "\x1d" + json.dumps([request.tools, request.tool_choice, turns], sort_keys=True, ensure_ascii=False)


def stored_extra(completion: Completion) -> str | None:
    """A completion's tool calls and reasoning as the JSON the request cache keeps (None: neither)."""
    if not completion.tool_calls and completion.reasoning is None:
        return None
    data: dict[str, Any] = {}
    if completion.tool_calls:
        data["tool_calls"] = [call.to_dict() for call in completion.tool_calls]
    if completion.reasoning is not None:
        data["reasoning"] = completion.reasoning
    return codec.dumps(data)


def restored_extra(extra: str | None) -> dict[str, Any] | None:
    """``Completion`` fields from what ``stored_extra`` wrote (``tool_calls``, ``reasoning``); None
    for text that is not what it writes (the cached reply is then asked for again)."""
    if not extra:
        return {}
    try:
        data = codec.loads(extra)
        calls = [ToolCall.from_dict(entry) for entry in data.get("tool_calls") or ()]
    except (ValueError, TypeError, AttributeError):
        return None
    reasoning = data.get("reasoning")
    return {"tool_calls": calls, "reasoning": reasoning if isinstance(reasoning, str) else None}
