"""The litellm backend's options (imported on use: loading the plugin needs no pydantic)."""

from __future__ import annotations

from pydantic import Field

from janus_core.sdk.options import TIMEOUT_HELP, Options, Structured
from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES
from janus_core.sdk.structured import AUTO


class LiteLLMOptions(Options):
    api_base: str | None = Field(None, description="server URL, e.g. http://127.0.0.1:11434 for Ollama or "
                                 "http://127.0.0.1:8000/v1 for vLLM")
    api_key_env: str | None = Field(None, description="environment variable holding the key "
                                    "(default: the provider's usual one)")
    structured: Structured = AUTO
    timeout: float = Field(120, gt=0, description=TIMEOUT_HELP)
    max_reply_bytes: int = Field(MAX_REPLY_BYTES, gt=0, description=(
        "largest reply body taken, in bytes after decompression, for openai/ models (whose requests go "
        "through Janus's bounded client; other providers' replies are bounded by the timeout only) "
        f"(default {MAX_REPLY_BYTES}, 8 MiB)"))
