"""The body of an OpenAI-style Chat Completions request, for backends that speak that shape
(the openai backend directly, litellm for any provider)."""

from __future__ import annotations

import json
from typing import Any

from janus_core.sdk.contracts import CompletionRequest
from janus_core.sdk.schema import max_reply_tokens
from janus_core.sdk.structured import STRUCTURED_HELP, structured_option
from janus_core.sdk.tool_calls import sent_messages

__all__ = ["STRUCTURED_HELP", "chat_body", "structured_option"]

#: appended to the prompt when the server is asked for no structured output at all
PROMPT_ONLY = ("Answer with one JSON value only: no text before or after it, no code fence. "
               "It must match this JSON schema: {schema}")


def chat_body(model: str, request: CompletionRequest, structured: str | None) -> dict[str, Any]:
    """model, messages, temperature, max_tokens (always: a small server must not run away), seed,
    the tools and tool choice where the request has them, and the reply's JSON shape in the
    ``structured`` mode (see janus_core.sdk.structured)."""
    messages = sent_messages(request.messages)
    schema = request.schema
    if schema is not None and structured == "none":
        hint = PROMPT_ONLY.format(schema=json.dumps(schema, separators=(",", ":")))
        last = messages[-1]
        messages = [*messages[:-1], {**last, "content": f"{last['content']}\n\n{hint}"}] \
            if last.get("role") == "user" else [*messages, {"role": "user", "content": hint}]
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": request.temperature,
                            "max_tokens": request.max_tokens or max_reply_tokens(schema)}
    if request.seed is not None:
        body["seed"] = request.seed
    if request.tools:
        body["tools"] = request.tools
        if request.tool_choice:
            body["tool_choice"] = tool_choice(request.tool_choice)
    if schema is None:
        return body
    if structured == "json_schema":
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": request.schema_name, "schema": schema, "strict": False}}
    elif structured == "json_object_schema":  # llama-cpp-python's server: a grammar from the schema
        body["response_format"] = {"type": "json_object", "schema": schema}
    elif structured == "json_object":
        body["response_format"] = {"type": "json_object"}
    return body


def tool_choice(choice: str) -> str | dict[str, Any]:
    """A request's ``tool_choice`` in the Chat Completions shape: "auto", "required" and "none" as
    they are, a tool's name as ``{"type": "function", "function": {"name": ...}}``."""
    if choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}
