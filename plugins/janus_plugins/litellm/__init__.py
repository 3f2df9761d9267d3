"""Any provider litellm supports (Anthropic, Mistral, Bedrock, vLLM, Ollama ...), through litellm.

Model names carry the provider, as litellm expects: ``anthropic/claude-sonnet-4-5``,
``ollama/llama3.1``, ``hosted_vllm/my-model``. Keys come from the provider's usual environment
variable, chosen by the model's prefix (``anthropic/`` -> ``ANTHROPIC_API_KEY`` ...; see
``janus_core.sdk.credentials.PROVIDER_KEYS``), or from the variable named by the ``api_key_env`` option,
and are masked in every message. litellm's own retries are off: the engine retries, paces and counts.

Tools go to litellm as ``tools=`` (it translates them for each provider); the reply's
``tool_calls`` and reasoning (``reasoning_content``, a provider's ``reasoning``, ``<think>``) come
back in the Completion.

litellm reads its price table from the copy it ships (``LITELLM_LOCAL_MODEL_COST_MAP``), set before
it is first imported, so no request leaves the machine except to the model.

Bounds on what a server sends back: every request is abandoned after ``timeout`` seconds in all
(reading the reply included), and usage counts must be non-negative and bounded. ``openai/`` models
go through an OpenAI client on Janus's bounded transport (``janus_core.sdk.bounded_httpx``): their
replies are also kept within ``max_reply_bytes`` and redirects are refused. Other providers use
litellm's own HTTP clients, which Janus cannot bound: their reply size is limited by the timeout
only, and litellm follows their redirects.
"""

from __future__ import annotations

import os
from typing import Any

# before any import of litellm: its price table from the installed package, not the internet
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from janus_core import hookimpl
from janus_core.sdk.chat_body import chat_body
from janus_core.sdk.contracts import Backend, Completion, CompletionRequest, Imported
from janus_core.sdk.credentials import PROVIDER_KEYS, provider_key_names, provider_of
from janus_core.sdk.errors import BackendError, classify_status, header_hints
from janus_core.sdk.rate_headers import RateHeaders, parse_rate_headers
from janus_core.sdk.reasoning import message_reasoning, text_and_reasoning
from janus_core.sdk.reply_bounds import token_count
from janus_core.sdk.structured import Negotiation
from janus_core.sdk.tool_calls import openai_tool_calls


class LiteLLMBackend(Backend):
    name = "litellm"
    description = "any provider litellm supports (model names like anthropic/..., ollama/..., hosted_vllm/...)"
    default_model = "openai/gpt-4o-mini"
    Options = Imported("janus_plugins.litellm.options:LiteLLMOptions")
    tools_native = True

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        if provider_of(self.model) not in PROVIDER_KEYS:  # a prefix Janus does not know: ask litellm now
            check_provider(self.model, self.options.api_base)
        # a named variable must be set; the provider's usual one may be unset (local servers need none)
        self.get_key(required=bool(self.options.api_key_env))
        self.structured = self.options.structured
        # the endpoint: api_base, or the provider's own (the model's prefix names it)
        self.negotiation = Negotiation(self.name, self.structured, self.options.api_base or "", self.model)
        self._client: Any = None

    def bounded_client(self) -> Any:
        """For ``openai/`` models: an OpenAI client on the bounded transport, given to litellm."""
        if self._client is None and self.model.startswith("openai/"):
            import openai

            from janus_core.sdk.bounded_httpx import bounded_client
            from janus_core.sdk.urls import split_query

            base_url, query = split_query(self.options.api_base) if self.options.api_base else (None, {})
            self._client = openai.AsyncOpenAI(
                api_key=self.secret or "not-needed", base_url=base_url, default_query=query or None,
                timeout=self.options.timeout, max_retries=0,
                http_client=bounded_client(timeout=self.options.timeout, max_bytes=self.options.max_reply_bytes))
        return self._client

    async def aclose(self) -> None:
        await self.negotiation.aclose()
        if self._client is not None:
            await self._client.close()
            self._client = None

    @property
    def negotiated(self) -> dict[str, Any] | None:
        return self.negotiation.report

    def resume_negotiated(self, earlier: dict[str, Any]) -> None:
        self.negotiation.resume(earlier)

    def recall_negotiated(self) -> str | None:
        return self.negotiation.recall()

    @classmethod
    def key_env_names(cls, model: str | None, options: dict[str, Any] | None = None) -> tuple[str, ...]:
        """``api_key_env`` if given, else the usual variables of the model's provider prefix."""
        return super().key_env_names(model, options) if (options or {}).get("api_key_env") \
            else provider_key_names(model or cls.default_model)

    async def complete(self, request: CompletionRequest) -> Completion:
        return await self.negotiation.send(request, self._complete)

    async def _complete(self, request: CompletionRequest, structured: str | None) -> Completion:
        litellm = _litellm()
        kwargs = chat_body(self.model, request, structured)
        kwargs.update(num_retries=0, timeout=self.options.timeout)
        if request.tools:
            # plain function tools: litellm's MCP bridge (which imports the optional mcp package for
            # any request with tools) has nothing to do
            kwargs["_skip_mcp_handler"] = True
        if self.options.api_base:
            kwargs["api_base"] = self.options.api_base
        if self.secret:
            kwargs["api_key"] = self.secret
        client = self.bounded_client()
        if client is not None:
            kwargs["client"] = client
        try:
            import asyncio  # not at import: `janus --help` loads this plugin

            async with asyncio.timeout(self.options.timeout):  # litellm's timeout bounds each read only
                reply = await litellm.acompletion(**kwargs)
        except TimeoutError:
            raise BackendError(f"litellm backend: no whole reply within {self.options.timeout:g} s (option timeout)",
                               transient=True) from None
        except litellm.exceptions.ContentPolicyViolationError as exc:
            raise BackendError(self.redact(f"litellm backend: the model refused: {exc}"), refusal=True) from None
        except litellm.exceptions.APIConnectionError as exc:
            refused = _refused(exc)
            if refused is not None:  # a reply the bounded transport refused
                raise BackendError(self.redact(f"litellm backend: {refused}"), reason=refused.reason) from None
            raise BackendError(self.redact(f"litellm backend: cannot connect: {exc}"), transient=True) from None
        except litellm.exceptions.Timeout as exc:
            raise BackendError(self.redact(f"litellm backend: timed out: {exc}"), transient=True) from None
        except Exception as exc:
            refused = _refused(exc)
            if refused is not None:  # litellm reports the client's failure as a 500 of its own
                raise BackendError(self.redact(f"litellm backend: {refused}"), reason=refused.reason) from None
            status = getattr(exc, "status_code", None)
            if not isinstance(status, int):
                raise
            response = getattr(exc, "response", None)
            raise BackendError(self.redact(f"litellm backend: HTTP {status}: {exc}"),
                               **header_hints(getattr(response, "headers", None)),
                               **classify_status(status)) from None
        choice = reply.choices[0]
        usage = getattr(reply, "usage", None)
        if choice.finish_reason == "content_filter":
            raise BackendError("litellm backend: the model refused (content filter)", refusal=True)
        message = reply_message(choice.message)
        content = message.get("content")
        text, reasoning = text_and_reasoning(content if isinstance(content, str) else "", message_reasoning(message))
        return Completion(text=text, model=reply.model or self.model, finish_reason=choice.finish_reason,
                          tool_calls=openai_tool_calls(message.get("tool_calls"), "litellm backend"),
                          reasoning=reasoning,
                          tokens_in=token_count(getattr(usage, "prompt_tokens", None), "prompt_tokens",
                                                "litellm backend"),
                          tokens_out=token_count(getattr(usage, "completion_tokens", None), "completion_tokens",
                                                 "litellm backend"),
                          rate_limits=_provider_limits(reply))


def reply_message(message: Any) -> dict[str, Any]:
    """litellm's reply message as a plain OpenAI-style dict (with the fields a provider added)."""
    data = message.model_dump() if hasattr(message, "model_dump") else dict(message or {})
    extra = data.get("provider_specific_fields")
    if isinstance(extra, dict):  # fields litellm does not know, such as vLLM's ``reasoning``
        data = {**extra, **{k: v for k, v in data.items() if v is not None}}
    return data


def _refused(exc: BaseException) -> BackendError | None:
    """The BackendError (a refused reply) somewhere in an exception's chain of causes, if any."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, BackendError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def check_provider(model: str, api_base: str | None) -> None:
    """Refuse, before any request, a model name whose provider litellm cannot tell (every request
    would fail alike): ``meta-llama/Llama-3.1-8B`` names no provider, ``hosted_vllm/...`` does."""
    litellm = _litellm()
    try:
        litellm.get_llm_provider(model, api_base=api_base)
    except litellm.exceptions.BadRequestError:
        raise BackendError(f"litellm backend: litellm does not know which provider serves '{model}': write it "
                           "provider/model, such as ollama/llama3.1, hosted_vllm/NAME (a vLLM server) or openai/NAME "
                           "(any OpenAI-compatible server, with the api_base option)", config=True) from None


def _litellm() -> Any:
    """litellm, imported with its local price table and without its debug hints on stdout."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as exc:
        raise BackendError("the litellm backend needs litellm: pip install 'litellm<1.107'") from exc
    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


@hookimpl
def register_backends(register):
    register(LiteLLMBackend)


def _provider_limits(reply: Any) -> RateHeaders | None:
    """The rate limits in the provider's headers, which litellm forwards as ``llm_provider-NAME``."""
    hidden = getattr(reply, "_hidden_params", None)
    headers = hidden.get("additional_headers") if isinstance(hidden, dict) else None
    if not isinstance(headers, dict):
        return None
    prefix = "llm_provider-"
    return parse_rate_headers({k[len(prefix):]: v for k, v in headers.items() if str(k).startswith(prefix)})
