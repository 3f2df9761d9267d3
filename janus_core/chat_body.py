"""The body of an OpenAI-style Chat Completions request, for backends that speak that shape
(the openai backend directly, litellm for any provider)."""

from __future__ import annotations

from typing import Any

from .errors import BackendError
from .interfaces import CompletionRequest

STRUCTURED = ("json_schema", "json_object", "none")
#: option help shared by those backends
STRUCTURED_HELP = "json_schema (default), json_object or none: how the reply's JSON shape is asked for"


def structured_option(backend: str, options: dict[str, Any]) -> str:
    """The ``structured`` option, checked."""
    value = options.get("structured", "json_schema")
    if value not in STRUCTURED:
        raise BackendError(f"{backend} backend: structured must be {', '.join(STRUCTURED[:-1])} or {STRUCTURED[-1]}")
    return value


def chat_body(model: str, request: CompletionRequest, structured: str) -> dict[str, Any]:
    """model, messages, temperature, and max_tokens, seed and response_format where they apply."""
    body: dict[str, Any] = {"model": model, "messages": request.messages, "temperature": request.temperature}
    if request.max_tokens:
        body["max_tokens"] = request.max_tokens
    if request.seed is not None:
        body["seed"] = request.seed
    if request.schema is not None and structured == "json_schema":
        body["response_format"] = {"type": "json_schema", "json_schema": {
            "name": request.schema_name, "schema": request.schema, "strict": False}}
    elif request.schema is not None and structured == "json_object":
        body["response_format"] = {"type": "json_object"}
    return body
