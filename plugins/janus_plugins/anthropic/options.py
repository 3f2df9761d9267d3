"""The anthropic backend's options (imported on use: loading the plugin needs no pydantic)."""

from __future__ import annotations

from pydantic import Field

from janus_core.sdk.options import Options


class AnthropicOptions(Options):
    base_url: str | None = Field(None, description="API root (default: https://api.anthropic.com/v1); "
                                 "a local stand-in for tests")
    api_key_env: str | None = Field(None, description="environment variable holding the key "
                                    "(default ANTHROPIC_API_KEY)")
    version: str = Field("2023-06-01", description="the anthropic-version header")
    max_tokens: int = Field(4096, gt=0, description="reply bound when the spec sets none (the API requires one)")
    timeout: float = Field(120, gt=0, description="seconds before a request is abandoned")
