"""OpenAI-compatible backend: the ``openai`` SDK against OpenAI or any server with its REST shape.

The key comes from ``OPENAI_API_KEY`` (or the variable named by the ``api_key_env`` option) and
never leaves the process except in the request's Authorization header. Requests go through the
SDK's aiohttp transport (much faster than its default httpx one under many requests in flight);
the SDK's own retries are off because the engine retries, paces and counts.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from janus_core import hookimpl
from janus_core.errors import BackendError, classify_status, retry_after_seconds
from janus_core.interfaces import Backend, Completion, CompletionRequest


class OpenAIBackend(Backend):
    name = "openai"
    description = "OpenAI Chat Completions, or any OpenAI-compatible server (base_url option)"
    default_model = "gpt-4o-mini"
    option_help: ClassVar[dict[str, str]] = {
        "base_url": "server URL such as http://127.0.0.1:8000/v1 (default: OPENAI_BASE_URL or OpenAI)",
        "api_key_env": "environment variable that holds the key (default OPENAI_API_KEY)",
        "structured": "json_schema (default), json_object or none: how the reply's JSON shape is asked for",
        "timeout": "seconds before a request is abandoned (default 120)",
        "max_retries": "retries the SDK itself makes (default 0: the engine retries)",
        "transport": "aiohttp (default, faster) or httpx",
    }

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        unknown = set(self.options) - set(self.option_help)
        if unknown:
            raise BackendError(f"openai backend: unknown option(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(self.option_help)}")
        self.base_url = self.options.get("base_url") or os.environ.get("OPENAI_BASE_URL")
        key_env = self.options.get("api_key_env", "OPENAI_API_KEY")
        self._key = os.environ.get(key_env)
        if not self._key:
            if not self.base_url:
                raise BackendError(f"openai backend: set the environment variable {key_env} to your API key "
                                   "(or give base_url for a local server that needs none)")
            self._key = "not-needed"
        self.structured = self.options.get("structured", "json_schema")
        if self.structured not in ("json_schema", "json_object", "none"):
            raise BackendError("openai backend: structured must be json_schema, json_object or none")
        self.transport = self.options.get("transport", "aiohttp")
        if self.transport not in ("aiohttp", "httpx"):
            raise BackendError("openai backend: transport must be aiohttp or httpx")
        self._client: Any = None

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key and len(self._key) > 8 else text

    def client(self) -> Any:
        if self._client is None:
            import openai

            timeout = float(self.options.get("timeout", 120))
            extra = {"http_client": openai.DefaultAioHttpClient(timeout=timeout)} if self.transport == "aiohttp" else {}
            self._client = openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url, timeout=timeout,
                                              max_retries=int(self.options.get("max_retries", 0)), **extra)
        return self._client

    def _response_format(self, request: CompletionRequest) -> dict[str, Any] | None:
        if request.schema is None or self.structured == "none":
            return None
        if self.structured == "json_object":
            return {"type": "json_object"}
        return {"type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": False}}

    async def complete(self, request: CompletionRequest) -> Completion:
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "messages": request.messages,
                                  "temperature": request.temperature}
        if request.max_tokens:
            kwargs["max_tokens"] = request.max_tokens
        if request.seed is not None:
            kwargs["seed"] = request.seed
        response_format = self._response_format(request)
        if response_format:
            kwargs["response_format"] = response_format
        try:
            reply = await self.client().chat.completions.create(**kwargs)
        except openai.APIStatusError as exc:
            raise BackendError(self._redact(f"openai backend: HTTP {exc.status_code}: {exc.message}"),
                               retry_after=retry_after_seconds(exc.response.headers),
                               **classify_status(exc.status_code)) from None
        except openai.APIConnectionError as exc:  # timeouts too
            where = self.base_url or "the OpenAI API"
            raise BackendError(self._redact(f"openai backend: cannot reach {where}: {exc}"), transient=True) from None
        if not reply.choices:
            raise BackendError("openai backend: the reply has no choices", transient=True)
        choice = reply.choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            raise BackendError(f"openai backend: the model refused: {refusal or 'content filter'}", refusal=True)
        usage = reply.usage
        return Completion(text=choice.message.content or "", model=reply.model or self.model,
                          finish_reason=choice.finish_reason,
                          tokens_in=usage.prompt_tokens if usage else 0,
                          tokens_out=usage.completion_tokens if usage else 0)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


@hookimpl
def register_backends(register):
    register(OpenAIBackend)
