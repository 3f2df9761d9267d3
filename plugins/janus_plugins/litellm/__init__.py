"""Any provider litellm supports (Anthropic, Mistral, Bedrock, vLLM, Ollama ...), through litellm.

Model names carry the provider, as litellm expects: ``anthropic/claude-sonnet-4-5``,
``ollama/llama3.1``, ``hosted_vllm/my-model``. Keys come from the provider's usual environment
variable, chosen by the model's prefix (``anthropic/`` -> ``ANTHROPIC_API_KEY`` ...; see
``janus_core.sdk.credentials.PROVIDER_KEYS``), or from the variable named by the ``api_key_env`` option,
and are masked in every message. litellm's own retries are off: the engine retries, paces and counts.

litellm reads its price table from the copy it ships (``LITELLM_LOCAL_MODEL_COST_MAP``), set before
it is first imported, so no request leaves the machine except to the model.
"""

from __future__ import annotations

import os
from typing import Any

# before any import of litellm: its price table from the installed package, not the internet
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from janus_core import hookimpl
from janus_core.sdk.chat_body import chat_body
from janus_core.sdk.contracts import Backend, Completion, CompletionRequest, Imported
from janus_core.sdk.credentials import provider_key_names
from janus_core.sdk.errors import BackendError, classify_status, retry_after_seconds
from janus_core.sdk.structured import Negotiation


class LiteLLMBackend(Backend):
    name = "litellm"
    description = "any provider litellm supports (model names like anthropic/..., ollama/..., hosted_vllm/...)"
    default_model = "openai/gpt-4o-mini"
    Options = Imported("janus_plugins.litellm.options:LiteLLMOptions")

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        # a named variable must be set; the provider's usual one may be unset (local servers need none)
        self.get_key(required=bool(self.options.api_key_env))
        self.structured = self.options.structured
        self.negotiation = Negotiation(self.name, self.structured)

    @property
    def negotiated(self) -> dict[str, Any] | None:
        return self.negotiation.report

    def resume_negotiated(self, earlier: dict[str, Any]) -> None:
        self.negotiation.resume(earlier)

    @classmethod
    def key_env_names(cls, model: str | None, options: dict[str, Any] | None = None) -> tuple[str, ...]:
        """``api_key_env`` if given, else the usual variables of the model's provider prefix."""
        return super().key_env_names(model, options) if (options or {}).get("api_key_env") \
            else provider_key_names(model or cls.default_model)

    async def complete(self, request: CompletionRequest) -> Completion:
        return await self.negotiation.send(request, lambda mode: self._complete(request, mode))

    async def _complete(self, request: CompletionRequest, structured: str | None) -> Completion:
        litellm = _litellm()
        kwargs = chat_body(self.model, request, structured)
        kwargs.update(num_retries=0, timeout=self.options.timeout)
        if self.options.api_base:
            kwargs["api_base"] = self.options.api_base
        if self.secret:
            kwargs["api_key"] = self.secret
        try:
            reply = await litellm.acompletion(**kwargs)
        except litellm.exceptions.ContentPolicyViolationError as exc:
            raise BackendError(self.redact(f"litellm backend: the model refused: {exc}"), refusal=True) from None
        except litellm.exceptions.APIConnectionError as exc:
            raise BackendError(self.redact(f"litellm backend: cannot connect: {exc}"), transient=True) from None
        except litellm.exceptions.Timeout as exc:
            raise BackendError(self.redact(f"litellm backend: timed out: {exc}"), transient=True) from None
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if not isinstance(status, int):
                raise
            response = getattr(exc, "response", None)
            raise BackendError(self.redact(f"litellm backend: HTTP {status}: {exc}"),
                               retry_after=retry_after_seconds(getattr(response, "headers", None)),
                               **classify_status(status)) from None
        choice = reply.choices[0]
        usage = getattr(reply, "usage", None)
        if choice.finish_reason == "content_filter":
            raise BackendError("litellm backend: the model refused (content filter)", refusal=True)
        return Completion(text=choice.message.content or "", model=reply.model or self.model,
                          finish_reason=choice.finish_reason,
                          tokens_in=getattr(usage, "prompt_tokens", 0) or 0,
                          tokens_out=getattr(usage, "completion_tokens", 0) or 0)


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
