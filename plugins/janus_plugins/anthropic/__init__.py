"""Anthropic backend: the Messages API over plain aiohttp, and Message Batches for ``--batch``.

The key comes from ``ANTHROPIC_API_KEY`` (or the variable named by the ``api_key_env`` option) and
travels only in the ``x-api-key`` header. System messages become the request's ``system`` text; tools
become Anthropic tools, an assistant's ``tool_calls`` ``tool_use`` blocks and ``tool`` messages
``tool_result`` blocks (``blocks``), and a reply's ``thinking`` blocks its reasoning; a
JSON schema is asked for in the system text (the Messages API has no schema-constrained mode here),
and the engine's parse and re-ask handle what comes back.

Batches (``janus generate --batch``): ``POST /messages/batches`` with the requests inline, polled at
``GET /messages/batches/ID``, results read as JSONL from the batch's ``results_url``. Message
Batches carry no metadata, so ``batch_find`` cannot recognise a batch whose submission reply was
lost (a kill in that instant): such requests are submitted again on the rerun.

Replies are kept within ``max_reply_bytes``, redirects are not followed and a request is abandoned
after ``timeout`` seconds in all (``janus_core.sdk.bounded_aiohttp``).
"""

from __future__ import annotations

import json
from typing import Any

from janus_core import hookimpl
from janus_core.sdk import codec
from janus_core.sdk.contracts import Backend, BatchState, Completion, CompletionRequest, Imported
from janus_core.sdk.credentials import PROVIDER_KEYS
from janus_core.sdk.errors import BackendError, classify_status, error_message, header_hints
from janus_core.sdk.rate_headers import RateHeaders, parse_rate_headers
from janus_core.sdk.reply_bounds import MAX_BATCH_FILE_BYTES, ReplyRefused, origin, reply_limit, usage_counts
from janus_core.sdk.urls import join_url
from janus_plugins.anthropic.blocks import messages_body, read_content, tool_choice_body, tools_body

FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


class AnthropicBackend(Backend):
    name = "anthropic"
    description = "Anthropic Messages API, and Message Batches with --batch (key from ANTHROPIC_API_KEY)"
    default_model = "claude-sonnet-4-5"
    key_env = PROVIDER_KEYS["anthropic"]
    Options = Imported("janus_plugins.anthropic.options:AnthropicOptions")
    batches = True
    batch_limits = (100_000, 256 * 2**20)
    tools_native = True

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        self.get_key()
        self.root = self.options.base_url or "https://api.anthropic.com/v1"
        self._session: Any = None

    async def start(self) -> None:
        from janus_core.sdk.bounded_aiohttp import bounded_session

        if self._session is None:
            self._session = bounded_session(
                timeout=self.options.timeout, max_bytes=self.options.max_reply_bytes,
                headers={"x-api-key": self.secret or "", "anthropic-version": self.options.version})

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def params(self, request: CompletionRequest) -> dict[str, Any]:
        """The Messages API body of a request."""
        system = [m["content"] for m in request.messages if m["role"] == "system"]
        if request.schema is not None:
            system.append("Reply with one JSON object only, no prose, matching this JSON schema:\n"
                          + json.dumps(request.schema, sort_keys=True))
        body: dict[str, Any] = {
            "model": self.model, "max_tokens": request.max_tokens or self.options.max_tokens,
            "temperature": min(1.0, max(0.0, request.temperature)),
            "messages": messages_body(request.messages)}
        if system:
            body["system"] = "\n\n".join(system)
        if request.tools:
            body["tools"] = tools_body(request.tools)
            if request.tool_choice:
                body["tool_choice"] = tool_choice_body(request.tool_choice)
        return body

    async def _call(self, method: str, url: str, body: Any = None, raw: bool = False,
                    limits: list[RateHeaders | None] | None = None) -> Any:
        """One call: decoded JSON (or bytes with ``raw``); the rate limits its headers stated are
        appended to ``limits`` when given. BackendError on failure."""
        import aiohttp

        await self.start()
        if not url.startswith("http"):
            url = join_url(self.root, url)
        try:
            data = codec.dumps_bytes(body) if body is not None else None
            headers = {"Content-Type": "application/json"} if body is not None else {}
            async with self._session.request(method, url, data=data, headers=headers) as response:
                payload = await response.read()
                if limits is not None:
                    limits.append(parse_rate_headers(response.headers))
                if response.status >= 400:
                    raise BackendError(self.redact(f"anthropic backend: HTTP {response.status}: "
                                                   f"{error_message(payload)}"),
                                       **header_hints(response.headers),
                                       **classify_status(response.status))
        except ReplyRefused as exc:
            raise BackendError(self.redact(f"anthropic backend: {exc}"), reason=exc.reason) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise BackendError(self.redact(f"anthropic backend: cannot reach {self.root}: {type(exc).__name__} {exc}"),
                               transient=True) from None
        if raw:
            return payload
        try:
            return codec.loads(payload)
        except ValueError:
            raise BackendError("anthropic backend: the server's reply is not JSON", transient=True) from None

    async def complete(self, request: CompletionRequest) -> Completion:
        limits: list[RateHeaders | None] = []
        return self._completion(await self._call("POST", "/messages", self.params(request), limits=limits),
                                limits[0] if limits else None)

    def _completion(self, reply: Any, rate_limits: RateHeaders | None = None) -> Completion:
        if not isinstance(reply, dict) or not isinstance(reply.get("content"), list):
            raise BackendError("anthropic backend: the reply has no content", transient=True)
        stop = reply.get("stop_reason")
        text, calls, reasoning = read_content(reply["content"], "anthropic backend")
        if stop == "refusal":
            raise BackendError(f"anthropic backend: the model refused: {text[:200]}", refusal=True)
        tokens_in, tokens_out = usage_counts(reply.get("usage"), ("input_tokens", "output_tokens"),
                                             "anthropic backend")
        return Completion(text=text, model=reply.get("model") or self.model, finish_reason=FINISH.get(stop, stop),
                          tokens_in=tokens_in, tokens_out=tokens_out, rate_limits=rate_limits, tool_calls=calls,
                          reasoning=reasoning)

    # --- Message Batches ---------------------------------------------------------------------------

    async def batch_submit(self, requests: list[tuple[str, CompletionRequest]], local_id: str) -> str:
        created = await self._call("POST", "/messages/batches", {
            "requests": [{"custom_id": custom_id, "params": self.params(request)} for custom_id, request in requests]})
        return str(created["id"])

    async def batch_poll(self, batch_id: str) -> BatchState:
        batch = await self._call("GET", f"/messages/batches/{batch_id}")
        counts = batch.get("request_counts") or {}
        total = sum(int(v or 0) for v in counts.values())
        failed = sum(int(counts.get(k) or 0) for k in ("errored", "expired", "canceled"))
        if batch.get("processing_status") != "ended":
            return BatchState("running", done=counts.get("succeeded", 0), failed=failed, total=total)
        expired = bool(counts.get("expired") or counts.get("canceled"))
        return BatchState("expired" if expired else "done", done=counts.get("succeeded", 0), failed=failed,
                          total=total, detail=str(batch.get("processing_status")))

    async def batch_results(self, batch_id: str) -> dict[str, Completion | BackendError]:
        batch = await self._call("GET", f"/messages/batches/{batch_id}")
        url = batch.get("results_url")
        if not url:
            return {}
        if origin(url) != origin(self.root):  # the key goes with the request: only to the API's own host
            raise BackendError(self.redact(f"anthropic backend: the batch's results_url points to {origin(url)}, not "
                                           f"{origin(self.root)}; it was not fetched"), reason="batch_error")
        results: dict[str, Completion | BackendError] = {}
        with reply_limit(MAX_BATCH_FILE_BYTES):  # the results file holds every reply of the batch
            content = await self._call("GET", url, raw=True)
        for line in content.splitlines():
            if not line.strip():
                continue
            row = codec.loads(line)
            custom_id, result = row.get("custom_id"), row.get("result") or {}
            kind = result.get("type")
            if kind == "succeeded":
                try:
                    results[custom_id] = self._completion(result.get("message"))
                except BackendError as exc:
                    exc.reason = exc.reason or ("refusal" if exc.refusal else "batch_error")
                    results[custom_id] = exc
            elif kind == "errored":
                error = (result.get("error") or {}).get("error") or result.get("error") or {}
                results[custom_id] = BackendError(self.redact(
                    f"anthropic backend: batch request failed: {error.get('type')}: {error.get('message')}"),
                    reason="batch_error")
            # expired and canceled requests are left out: the collector fails them as batch_expired
        return results



@hookimpl
def register_backends(register):
    register(AnthropicBackend)
