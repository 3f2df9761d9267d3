"""The openai backend's options (imported on use: loading the plugin needs no pydantic)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from janus_core.sdk.options import TIMEOUT_HELP, MaxReplyBytes, Options, Structured
from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES
from janus_core.sdk.structured import AUTO


class OpenAIOptions(Options):
    base_url: str | None = Field(None, description="server URL such as http://127.0.0.1:8000/v1 "
                                 "(default: OPENAI_BASE_URL or OpenAI); a query string is kept on every request")
    api_key_env: str | None = Field(None, description="environment variable that holds the key "
                                    "(default OPENAI_API_KEY)")
    structured: Structured = AUTO
    timeout: float = Field(120, gt=0, description=TIMEOUT_HELP)
    max_reply_bytes: MaxReplyBytes = MAX_REPLY_BYTES
    max_retries: int = Field(0, ge=0, description="retries the SDK itself makes (the engine retries)")
    transport: Literal["aiohttp", "sdk", "sdk-httpx"] = Field(
        "aiohttp", description="aiohttp (direct and fastest), sdk (the openai SDK over aiohttp) or sdk-httpx")
