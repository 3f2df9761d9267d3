"""Gemini backend through Google's maintained ``google-genai`` SDK.

The key comes from ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``. Replies are constrained natively
with ``response_json_schema``. Safety settings are configurable with the ``safety`` option:
``default`` (Google's defaults), a threshold applied to every category (``block_none``,
``block_only_high``, ``block_medium_and_above``, ``block_low_and_above``, ``off``), or a mapping
``{HARM_CATEGORY_HARASSMENT: BLOCK_ONLY_HIGH, ...}`` in setup.yaml's model.options.
"""

from __future__ import annotations

from typing import Any

from janus_core import hookimpl
from janus_core.sdk.contracts import Backend, Completion, CompletionRequest, Imported
from janus_core.sdk.credentials import PROVIDER_KEYS
from janus_core.sdk.errors import BackendError, classify_status, retry_after_seconds

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

    def __init__(self, model: str | None = None, options: dict[str, Any] | None = None):
        super().__init__(model, options)
        self.get_key()
        self.safety = safety_settings(self.options.safety)
        self._client: Any = None


    def client(self) -> Any:
        if self._client is None:
            try:
                from google import genai
                from google.genai import types
            except ImportError as exc:
                raise BackendError("the gemini backend needs: pip install 'janus-data[gemini]'") from exc
            http = types.HttpOptions(base_url=self.options.base_url, api_version=self.options.api_version,
                                     timeout=int(self.options.timeout * 1000),
                                     retry_options=types.HttpRetryOptions(attempts=1))
            self._client = genai.Client(api_key=self.secret, http_options=http)
        return self._client

    async def complete(self, request: CompletionRequest) -> Completion:
        from google.genai import errors

        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        contents = [{"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
                    for m in request.messages if m["role"] != "system"]
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
        try:
            reply = await self.client().aio.models.generate_content(model=self.model, contents=contents,
                                                                    config=config)
        except errors.APIError as exc:
            headers = getattr(exc.response, "headers", None)
            raise BackendError(self.redact(f"gemini backend: HTTP {exc.code}: {exc.message}"),
                               retry_after=retry_after_seconds(headers), **classify_status(exc.code or 500)) from None
        except Exception as exc:  # connection errors and timeouts from the SDK's transport
            if type(exc).__name__ in ("ConnectError", "ReadTimeout", "ConnectTimeout", "ClientConnectorError",
                                      "ServerDisconnectedError", "TimeoutError", "RemoteProtocolError",
                                      "ReadError", "ClientOSError"):
                raise BackendError(self.redact(f"gemini backend: {type(exc).__name__}: {exc}"),
                                   transient=True) from None
            raise
        return self._completion(reply)

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
        text = "".join(p.text or "" for p in parts)
        usage = reply.usage_metadata
        return Completion(text=text, model=getattr(reply, "model_version", None) or self.model,
                          finish_reason=FINISH.get(reason, reason.lower()),
                          tokens_in=(usage.prompt_token_count or 0) if usage else 0,
                          tokens_out=(usage.candidates_token_count or 0) if usage else 0)

    async def aclose(self) -> None:
        if self._client is not None:
            close = getattr(self._client.aio, "aclose", None)
            if close is not None:
                await close()
            self._client = None


@hookimpl
def register_backends(register):
    register(GeminiBackend)
