"""The anthropic backend's options (imported on use: loading the plugin needs no pydantic)."""

from __future__ import annotations

from pydantic import Field

from janus_core.sdk.options import TIMEOUT_HELP, MaxReplyBytes, Options
from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES


class AnthropicOptions(Options):
    base_url: str | None = Field(None, description="API root (default: https://api.anthropic.com/v1); "
                                 "a local stand-in for tests; a query string is kept on every request")
    api_key_env: str | None = Field(None, description="environment variable holding the key "
                                    "(default ANTHROPIC_API_KEY)")
    version: str = Field("2023-06-01", description="the anthropic-version header")
    max_tokens: int = Field(4096, gt=0, description="reply bound when the spec sets none (the API requires one)")
    timeout: float = Field(120, gt=0, description=TIMEOUT_HELP)
    max_reply_bytes: MaxReplyBytes = MAX_REPLY_BYTES
