"""Gemini backend through Google's maintained ``google-genai`` SDK.

The key comes from ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``. Replies are constrained natively
with ``response_json_schema``. Safety settings are configurable with the ``safety`` option:
``default`` (Google's defaults), a threshold applied to every category (``block_none``,
``block_only_high``, ``block_medium_and_above``, ``block_low_and_above``, ``off``), or a mapping
``{HARM_CATEGORY_HARASSMENT: BLOCK_ONLY_HIGH, ...}`` in setup.yaml's model.options.

Tools are function declarations; an assistant's ``tool_calls`` are ``functionCall`` parts, ``tool``
messages ``functionResponse`` parts and thought parts the reply's reasoning (``parts``).

Batch mode (``janus generate --batch``): ``client.aio.batches`` with inlined requests (each carrying
its custom id in ``metadata.key``) and the Janus local id as the job's display name, so a rerun
after a kill finds a job whose submission reply was lost.

The SDK talks through Janus's bounded httpx transport (``janus_core.sdk.bounded_httpx``): replies
are kept within ``max_reply_bytes`` after decompression, redirects are refused, and each call is
abandoned after ``timeout`` seconds in all.
"""

from __future__ import annotations

from typing import Any

from janus_core import hookimpl
from janus_core.sdk.contracts import Backend, BatchState, Completion, CompletionRequest, Imported
from janus_core.sdk.credentials import PROVIDER_KEYS
from janus_core.sdk.errors import BackendError, classify_status, header_hints
from janus_core.sdk.reply_bounds import MAX_BATCH_FILE_BYTES, reply_limit, token_count
from janus_plugins.gemini.parts import contents, read_parts, tools_config

#: printed without markup: a console would take ``[gemini]`` for a style
INSTALL_HINT = "the gemini backend needs google-genai: pip install 'janus-data[gemini]'"

CATEGORIES = ("HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
              "HARM_CATEGORY_DANGEROUS_CONTENT")
THRESHOLDS = ("BLOCK_NONE", "BLOCK_ONLY_HIGH", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_LOW_AND_ABOVE", "OFF")
FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
REFUSED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}


def safety_settings(value: Any) -> list[dict[str, str]] | None:
    """The ``safety`` option as the API's safety settings (None: Google's defaults)."""
    if value in (None, "", "default"):
        return None
    if isinstance(value, str):
        threshold = value.upper()
        mapping = dict.fromkeys(CATEGORIES, threshold)
    elif isinstance(value, dict):
        mapping = {str(k).upper(): str(v).upper() for k, v in value.items()}
    else:
        raise BackendError("gemini backend: safety must be 'default', a threshold or a mapping")
    for category, threshold in mapping.items():
        if threshold not in THRESHOLDS:
            raise BackendError(f"gemini backend: unknown safety threshold '{threshold}' ({', '.join(THRESHOLDS)})")
        if not category.startswith("HARM_CATEGORY_"):
            raise BackendError(f"gemini backend: unknown safety category '{category}' ({', '.join(CATEGORIES)})")
    return [{"category": c, "threshold": t} for c, t in mapping.items()]


class GeminiBackend(Backend):
    name = "gemini"
    description = "Google Gemini through the google-genai SDK (key from GEMINI_API_KEY or GOOGLE_API_KEY)"
    default_model = "gemini-2.5-flash"
    key_env = PROVIDER_KEYS["gemini"]
    Options = Imported("janus_plugins.gemini.options:GeminiOptions")
    batches = True
    tools_native = True
    #: inlined requests: the whole batch request stays under 20 MB
    batch_limits = (50_000, 20 * 2**20)

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        self.get_key()
        self.safety = safety_settings(self.options.safety)
        _genai()  # a missing SDK is named before the run starts, not once per request
        self._client: Any = None


    def client(self) -> Any:
        if self._client is None:
            from janus_core.sdk.bounded_httpx import BoundedTransport, default_transport

            genai = _genai()
            # a transport of our own (aiohttp under httpx, through the bounds): the SDK then sends
            # through httpx rather than its own aiohttp session
            transport = BoundedTransport(default_transport(), self.options.max_reply_bytes)
            http = genai.types.HttpOptions(base_url=self.options.base_url, api_version=self.options.api_version,
                                           timeout=int(self.options.timeout * 1000),
                                           retry_options=genai.types.HttpRetryOptions(attempts=1),
                                           async_client_args={"transport": transport, "follow_redirects": False})
            self._client = genai.Client(api_key=self.secret, http_options=http)
        return self._client

    def _contents(self, request: CompletionRequest) -> list[dict[str, Any]]:
        return contents(request.messages)

    def _config(self, request: CompletionRequest) -> dict[str, Any]:
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        config: dict[str, Any] = {"temperature": request.temperature}
        if system:
            config["system_instruction"] = system
        if request.max_tokens:
            config["max_output_tokens"] = request.max_tokens
        if request.seed is not None:
            config["seed"] = request.seed
        if request.schema is not None:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = request.schema
        if self.safety:
            config["safety_settings"] = self.safety
        if request.tools:
            config.update(tools_config(request.tools, request.tool_choice))
        return config

    async def _sdk(self, call: Any) -> Any:
        """Await an SDK call within ``timeout`` seconds in all, its errors as BackendError."""
        from google.genai import errors

        try:
            import asyncio  # not at import: `janus --help` loads this plugin

            async with asyncio.timeout(self.options.timeout):
                return await call
        except BackendError as exc:  # a reply the bounded transport refused
            raise BackendError(self.redact(f"gemini backend: {exc}"), reason=exc.reason) from None
        except TimeoutError:
            raise BackendError(f"gemini backend: no whole reply within {self.options.timeout:g} s (option timeout)",
                               transient=True) from None
        except errors.APIError as exc:
            headers = getattr(exc.response, "headers", None)
            status = classify_status(exc.code or 500)
            if exc.code == 400 and "API key not valid" in str(exc.message):  # Google answers a bad key with 400
                status["config"] = True
            raise BackendError(self.redact(f"gemini backend: HTTP {exc.code}: {exc.message}"),
                               **header_hints(headers), **status) from None
        except Exception as exc:  # connection errors and timeouts from the SDK's transport
            if type(exc).__name__ in ("ConnectError", "ReadTimeout", "ConnectTimeout", "ClientConnectorError",
                                      "ServerDisconnectedError", "TimeoutError", "RemoteProtocolError",
                                      "ReadError", "ClientOSError"):
                raise BackendError(self.redact(f"gemini backend: {type(exc).__name__}: {exc}"),
                                   transient=True) from None
            raise

    async def complete(self, request: CompletionRequest) -> Completion:
        reply = await self._sdk(self.client().aio.models.generate_content(
            model=self.model, contents=self._contents(request), config=self._config(request)))
        return self._completion(reply)

    # --- batch mode (client.aio.batches, inlined requests) --------------------------------------------

    async def batch_submit(self, requests: list[tuple[str, CompletionRequest]], local_id: str) -> str:
        inlined = [{"contents": self._contents(request), "config": self._config(request),
                    "metadata": {"key": custom_id}} for custom_id, request in requests]
        job = await self._sdk(self.client().aio.batches.create(
            model=self.model, src={"inlined_requests": inlined}, config={"display_name": f"janus-{local_id}"}))
        return str(job.name)

    async def batch_find(self, local_id: str) -> str | None:
        pager = await self._sdk(self.client().aio.batches.list(config={"page_size": 100}))
        async for job in pager:
            if job.display_name == f"janus-{local_id}":
                return str(job.name)
        return None

    async def batch_poll(self, batch_id: str) -> BatchState:
        job = await self._sdk(self.client().aio.batches.get(name=batch_id))
        state = str(getattr(job.state, "value", job.state) or "")
        mapped = {"JOB_STATE_SUCCEEDED": "done", "JOB_STATE_EXPIRED": "expired", "JOB_STATE_CANCELLED": "expired",
                  "JOB_STATE_FAILED": "failed"}.get(state, "running")
        detail = str(job.error.message) if getattr(job, "error", None) is not None else state
        return BatchState(mapped, detail=detail)

    async def batch_results(self, batch_id: str) -> dict[str, Completion | BackendError]:
        with reply_limit(MAX_BATCH_FILE_BYTES):  # the job holds every reply of the batch inline
            job = await self._sdk(self.client().aio.batches.get(name=batch_id))
        responses = (job.dest.inlined_responses if job.dest is not None else None) or []
        results: dict[str, Completion | BackendError] = {}
        for answer in responses:
            custom_id = (answer.metadata or {}).get("key")
            if custom_id is None:
                continue
            if answer.error is not None or answer.response is None:
                message = answer.error.message if answer.error is not None else "no response"
                results[custom_id] = BackendError(self.redact(f"gemini backend: batch request failed: {message}"),
                                                  reason="batch_error")
                continue
            try:
                results[custom_id] = self._completion(answer.response)
            except BackendError as exc:
                exc.reason = exc.reason or ("refusal" if exc.refusal else "batch_error")
                results[custom_id] = exc
        return results

    def _completion(self, reply: Any) -> Completion:
        feedback = getattr(reply, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise BackendError(f"gemini backend: the prompt was blocked ({feedback.block_reason})", refusal=True)
        if not reply.candidates:
            raise BackendError("gemini backend: the reply has no candidates", transient=True)
        candidate = reply.candidates[0]
        reason = str(getattr(candidate.finish_reason, "value", candidate.finish_reason) or "STOP")
        if reason in REFUSED:
            raise BackendError(f"gemini backend: the model refused ({reason})", refusal=True)
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text, calls, reasoning = read_parts(parts, "gemini backend")
        usage = reply.usage_metadata
        counts = (usage.prompt_token_count, usage.candidates_token_count) if usage else (None, None)
        finish = "tool_calls" if calls and reason == "STOP" else FINISH.get(reason, reason.lower())
        return Completion(text=text, model=getattr(reply, "model_version", None) or self.model, finish_reason=finish,
                          tool_calls=calls, reasoning=reasoning,
                          tokens_in=token_count(counts[0], "promptTokenCount", "gemini backend"),
                          tokens_out=token_count(counts[1], "candidatesTokenCount", "gemini backend"))

    async def aclose(self) -> None:
        if self._client is not None:
            close = getattr(self._client.aio, "aclose", None)
            if close is not None:
                await close()
            self._client = None


def _genai() -> Any:
    """The google-genai SDK, or the install hint as a BackendError."""
    try:
        from google import genai
        from google.genai import types  # noqa: F401 (genai.types below)
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    return genai


@hookimpl
def register_backends(register):
    register(GeminiBackend)
