"""Any provider litellm supports (Anthropic, Mistral, Bedrock, vLLM, Ollama ...), through litellm.

Model names carry the provider, as litellm expects: ``anthropic/claude-sonnet-4-5``,
``ollama/llama3.1``, ``hosted_vllm/my-model``. Keys come from the provider's usual environment
variable (``ANTHROPIC_API_KEY`` ...), read by litellm itself, or from the variable named by the
``api_key_env`` option. litellm's own retries are off: the engine retries, paces and counts.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from janus_core import hookimpl
from janus_core.chat_body import STRUCTURED_HELP, chat_body, structured_option
from janus_core.errors import BackendError, classify_status, retry_after_seconds
from janus_core.interfaces import Backend, Completion, CompletionRequest
from janus_core.structured import Negotiation


class LiteLLMBackend(Backend):
    name = "litellm"
    description = "any provider litellm supports (model names like anthropic/..., ollama/..., hosted_vllm/...)"
    default_model = "openai/gpt-4o-mini"
    option_help: ClassVar[dict[str, str]] = {
        "api_base": "server URL, e.g. http://127.0.0.1:11434 for Ollama or http://127.0.0.1:8000/v1 for vLLM",
        "api_key_env": "environment variable holding the key (default: the provider's usual one)",
        "structured": STRUCTURED_HELP,
        "timeout": "seconds before a request is abandoned (default 120)",
    }

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        key_env = self.options.get("api_key_env")
        self.secret = os.environ.get(key_env) if key_env else None
        if key_env and not self.secret:
            raise BackendError(f"litellm backend: the environment variable {key_env} is not set")
        self.structured = structured_option("litellm", self.options)
        self.negotiation = Negotiation(self.name, self.structured)

    @property
    def negotiated(self) -> dict[str, Any] | None:
        return self.negotiation.report

    async def complete(self, request: CompletionRequest) -> Completion:
        return await self.negotiation.send(request, lambda mode: self._complete(request, mode))

    async def _complete(self, request: CompletionRequest, structured: str | None) -> Completion:
        try:
            import litellm
        except ImportError as exc:
            raise BackendError("the litellm backend needs litellm: pip install 'litellm<1.107'") from exc
        kwargs = chat_body(self.model, request, structured)
        kwargs.update(num_retries=0, timeout=float(self.options.get("timeout", 120)))
        if self.options.get("api_base"):
            kwargs["api_base"] = self.options["api_base"]
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


@hookimpl
def register_backends(register):
    register(LiteLLMBackend)
