"""OpenAI-compatible backend: the ``openai`` SDK against OpenAI or any server with its REST shape.

The key comes from ``OPENAI_API_KEY`` (or the variable named by the ``api_key_env`` option) and
never leaves the process except in the request's Authorization header.

Transports (option ``transport``): ``aiohttp`` (default) posts the Chat Completions JSON with one
shared aiohttp session: a small hand-written path, because the SDK spends about a millisecond of
CPU per request building typed requests, which caps a two-core machine near 600 requests/s.
``sdk`` uses the ``openai`` SDK over its aiohttp transport, ``sdk-httpx`` the SDK's default httpx
one. The SDK's own retries are off in every case: the engine retries, paces and counts. Every
transport keeps replies within ``max_reply_bytes``, follows no redirect and abandons a request
after ``timeout`` seconds in all (``janus_core.sdk.reply_bounds``).

Tools: a request's ``tools`` and ``tool_choice`` go out as Chat Completions has them; a reply's
``tool_calls`` and its reasoning (``reasoning_content`` or ``reasoning``, as DeepSeek, vLLM and
llama.cpp send it, or a leading ``<think>`` block in the text) come back in the Completion, on every
transport.

Batches (``janus generate --batch``): the Batch API's files and batches endpoints (upload the
requests as JSONL, create the batch with Janus's local id in its metadata, poll it, read its output
and error files), against OpenAI or any server that offers them. Batch bodies use the structured
mode the run has settled on (``json_schema`` until a server refused it, or the ``structured`` option).
"""

from __future__ import annotations

import os
from typing import Any

from janus_core import hookimpl
from janus_core.sdk import codec
from janus_core.sdk.chat_body import chat_body
from janus_core.sdk.contracts import Backend, BatchState, Completion, CompletionRequest, Imported
from janus_core.sdk.credentials import PROVIDER_KEYS
from janus_core.sdk.errors import BackendError, classify_status, error_message, header_hints
from janus_core.sdk.rate_headers import RateHeaders, parse_rate_headers
from janus_core.sdk.reasoning import message_reasoning, text_and_reasoning
from janus_core.sdk.reply_bounds import MAX_BATCH_FILE_BYTES, ReplyRefused, reply_limit, usage_counts
from janus_core.sdk.structured import Negotiation
from janus_core.sdk.tool_calls import openai_tool_calls
from janus_core.sdk.urls import join_url, split_query

DEFAULT_ROOT = "https://api.openai.com/v1"


class OpenAIBackend(Backend):
    name = "openai"
    description = "OpenAI Chat Completions, or any OpenAI-compatible server (base_url option)"
    default_model = "gpt-4o-mini"
    key_env = PROVIDER_KEYS["openai"]
    Options = Imported("janus_plugins.openai.options:OpenAIOptions")
    batches = True
    batch_limits = (50_000, 200 * 2**20)
    tools_native = True

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        self.base_url = self.options.base_url or os.environ.get("OPENAI_BASE_URL")
        if not self.get_key(required=False):
            if not self.base_url:
                raise BackendError(f"openai backend: set the environment variable "
                                   f"{self.key_env_names(self.model, {'api_key_env': self.options.api_key_env})[0]} "
                                   "to your API key "
                                   "(or give base_url for a local server that needs none)")
            self.secret = "not-needed"
        self.structured = self.options.structured
        self.negotiation = Negotiation(self.name, self.structured, self._root, self.model)
        self.transport = self.options.transport
        self.timeout = self.options.timeout
        self._client: Any = None
        self._session: Any = None

    def client(self) -> Any:
        if self._client is None:
            import openai

            from janus_core.sdk.bounded_httpx import bounded_client

            # sdk: aiohttp under httpx (the bounded client's default); sdk-httpx: httpx's own
            inner = None
            if self.transport == "sdk-httpx":
                import httpx

                inner = httpx.AsyncHTTPTransport()
            base_url, query = split_query(self.base_url) if self.base_url else (None, {})
            self._client = openai.AsyncOpenAI(
                api_key=self.secret, base_url=base_url, default_query=query or None, timeout=self.timeout,
                max_retries=self.options.max_retries,
                http_client=bounded_client(inner, timeout=self.timeout, max_bytes=self.options.max_reply_bytes))
        return self._client

    @property
    def negotiated(self) -> dict[str, Any] | None:
        return self.negotiation.report

    def resume_negotiated(self, earlier: dict[str, Any]) -> None:
        self.negotiation.resume(earlier)

    def recall_negotiated(self) -> str | None:
        return self.negotiation.recall()

    async def complete(self, request: CompletionRequest) -> Completion:
        return await self.negotiation.send(request, self._complete)

    async def _complete(self, request: CompletionRequest, structured: str | None) -> Completion:
        kwargs = chat_body(self.model, request, structured)
        if self.transport == "aiohttp":
            return self._completion(*await self._post(kwargs))
        import openai

        try:
            # the SDK's low-level post: its transport, auth and errors, without the typed transforms
            # and response models of chat.completions.create; one deadline over the whole request
            # (httpx's timeout bounds each read, not a reply that trickles in forever)
            import asyncio  # not at import: `janus --help` loads this plugin

            import httpx

            async with asyncio.timeout(self.timeout):
                raw = await self.client().post("/chat/completions", body=kwargs, cast_to=httpx.Response)
                data = await raw.aread()
        except openai.APIStatusError as exc:
            raise BackendError(self.redact(f"openai backend: HTTP {exc.status_code}: {exc.message}"),
                               **header_hints(exc.response.headers),
                               **classify_status(exc.status_code)) from None
        except openai.APIConnectionError as exc:  # timeouts too
            if isinstance(exc.__cause__, BackendError):  # a reply refused by the bounded transport
                raise self._refused(exc.__cause__) from None
            where = self.base_url or "the OpenAI API"
            raise BackendError(self.redact(f"openai backend: cannot reach {where}: {exc}"), transient=True) from None
        except TimeoutError:
            raise BackendError(f"openai backend: no whole reply within {self.timeout:g} s (option timeout)",
                               transient=True) from None
        try:
            reply = codec.loads(data)
        except ValueError:
            raise BackendError("openai backend: the server's reply is not JSON", transient=True) from None
        return self._completion(reply, parse_rate_headers(raw.headers))

    def _refused(self, exc: BackendError) -> BackendError:
        """A reply the bounds refused, named as this backend's (the key masked)."""
        return BackendError(self.redact(f"openai backend: {exc}"), reason=exc.reason)

    async def start(self) -> None:
        if self.transport == "aiohttp":
            await self._ensure_session()
        else:
            self.client()

    async def _post(self, body: dict[str, Any]) -> tuple[Any, RateHeaders | None]:
        """The decoded reply to a chat completion, and the rate limits its headers stated."""
        import aiohttp

        if self._session is None:
            await self.start()
        try:
            async with self._session.post(join_url(self._root, "/chat/completions"), data=codec.dumps_bytes(body),
                                          headers={"Content-Type": "application/json"}) as response:
                data = await response.read()
                limits = parse_rate_headers(response.headers)
                if response.status >= 400:
                    raise BackendError(self.redact(f"openai backend: HTTP {response.status}: {error_message(data)}"),
                                       **header_hints(response.headers),
                                       **classify_status(response.status))
        except ReplyRefused as exc:
            raise self._refused(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            where = self.base_url or "the OpenAI API"
            raise BackendError(self.redact(f"openai backend: cannot reach {where}: {type(exc).__name__} {exc}"),
                               transient=True) from None
        try:
            return codec.loads(data), limits
        except ValueError:
            raise BackendError("openai backend: the server's reply is not JSON", transient=True) from None

    # --- the Batch API -----------------------------------------------------------------------------

    @property
    def _root(self) -> str:
        return self.base_url or DEFAULT_ROOT

    async def _call(self, method: str, path: str, *, body: Any = None, form: Any = None, raw: bool = False) -> Any:
        """One Batch API call: decoded JSON (or bytes with ``raw``); BackendError on failure."""
        import aiohttp

        if self._session is None or self.transport != "aiohttp":
            await self._ensure_session()
        try:
            data = codec.dumps_bytes(body) if body is not None else form
            headers = {"Content-Type": "application/json"} if body is not None else {}
            async with self._session.request(method, join_url(self._root, path), data=data,
                                             headers=headers) as response:
                payload = await response.read()
                if response.status >= 400:
                    raise BackendError(self.redact(f"openai backend: {method} {path}: HTTP {response.status}: "
                                                   f"{error_message(payload)}"),
                                       **header_hints(response.headers),
                                       **classify_status(response.status))
        except ReplyRefused as exc:
            raise self._refused(exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BackendError(self.redact(f"openai backend: cannot reach {self._root}: {type(exc).__name__} {exc}"),
                               transient=True) from None
        return payload if raw else codec.loads(payload)

    async def _ensure_session(self) -> None:
        from janus_core.sdk.bounded_aiohttp import bounded_session

        if self._session is None:
            self._session = bounded_session(timeout=self.timeout, max_bytes=self.options.max_reply_bytes,
                                            headers={"Authorization": f"Bearer {self.secret}"})

    async def batch_submit(self, requests: list[tuple[str, CompletionRequest]], local_id: str) -> str:
        import aiohttp

        mode = self.negotiation.mode
        lines = [codec.dumps_bytes({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                                    "body": chat_body(self.model, request,
                                                      mode if request.schema is not None else None)})
                 for custom_id, request in requests]
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", b"\n".join(lines) + b"\n", filename=f"janus-{local_id}.jsonl",
                       content_type="application/jsonl")
        uploaded = await self._call("POST", "/files", form=form)
        created = await self._call("POST", "/batches", body={
            "input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h",
            "metadata": {"janus_local_id": local_id}})
        return str(created["id"])

    async def batch_find(self, local_id: str) -> str | None:
        after = None
        while True:
            page = await self._call("GET", "/batches?limit=100" + (f"&after={after}" if after else ""))
            for batch in page.get("data") or []:
                if (batch.get("metadata") or {}).get("janus_local_id") == local_id:
                    return str(batch["id"])
            if not page.get("has_more") or not page.get("data"):
                return None
            after = page["data"][-1]["id"]

    async def batch_poll(self, batch_id: str) -> BatchState:
        batch = await self._call("GET", f"/batches/{batch_id}")
        status = batch.get("status")
        counts = batch.get("request_counts") or {}
        state = {"completed": "done", "expired": "expired", "failed": "failed", "cancelled": "expired"}.get(
            status, "running")
        errors = (batch.get("errors") or {}).get("data") or []
        return BatchState(state, done=counts.get("completed", 0), failed=counts.get("failed", 0),
                          total=counts.get("total", 0),
                          detail="; ".join(str(e.get("message")) for e in errors[:3]) or str(status))

    async def batch_results(self, batch_id: str) -> dict[str, Completion | BackendError]:
        batch = await self._call("GET", f"/batches/{batch_id}")
        results: dict[str, Completion | BackendError] = {}
        for field in ("output_file_id", "error_file_id"):
            if not batch.get(field):
                continue
            with reply_limit(MAX_BATCH_FILE_BYTES):  # a result file holds every reply of the batch
                content = await self._call("GET", f"/files/{batch[field]}/content", raw=True)
            for line in content.splitlines():
                if not line.strip():
                    continue
                row = codec.loads(line)
                custom_id, response = row.get("custom_id"), row.get("response") or {}
                status = response.get("status_code") or 0
                if row.get("error") or status >= 400:
                    error = row.get("error") or (response.get("body") or {}).get("error") or {}
                    message = error.get("message") if isinstance(error, dict) else error
                    results[custom_id] = BackendError(self.redact(f"openai backend: batch request failed: HTTP "
                                                                  f"{status}: {message}"), reason="batch_error")
                    continue
                try:
                    results[custom_id] = self._completion(response.get("body") or {})
                except BackendError as exc:
                    exc.reason = exc.reason or ("refusal" if exc.refusal else "batch_error")
                    results[custom_id] = exc
        return results

    def _completion(self, reply: Any, rate_limits: RateHeaders | None = None) -> Completion:
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not choices:
            raise BackendError("openai backend: the reply has no choices", transient=True)
        choice = choices[0]
        message = choice.get("message") or {}
        refusal = message.get("refusal")
        if refusal or choice.get("finish_reason") == "content_filter":
            raise BackendError(f"openai backend: the model refused: {refusal or 'content filter'}", refusal=True)
        tokens_in, tokens_out = usage_counts(reply.get("usage"), ("prompt_tokens", "completion_tokens"),
                                             "openai backend")
        content = message.get("content")
        text, reasoning = text_and_reasoning(content if isinstance(content, str) else "", message_reasoning(message))
        return Completion(text=text, model=reply.get("model") or self.model,
                          finish_reason=choice.get("finish_reason"), tokens_in=tokens_in, tokens_out=tokens_out,
                          rate_limits=rate_limits, tool_calls=openai_tool_calls(message.get("tool_calls"),
                                                                                "openai backend"),
                          reasoning=reasoning)

    async def aclose(self) -> None:
        await self.negotiation.aclose()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._session is not None:
            await self._session.close()
            self._session = None



@hookimpl
def register_backends(register):
    register(OpenAIBackend)
