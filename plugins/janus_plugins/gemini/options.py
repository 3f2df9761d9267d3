"""The gemini backend's options (imported on use: loading the plugin needs no pydantic)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from janus_core.sdk.errors import BackendError
from janus_core.sdk.options import TIMEOUT_HELP, MaxReplyBytes, Options
from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES

from . import safety_settings


class GeminiOptions(Options):
    base_url: str | None = Field(None, description="API endpoint (default: Google's); a local stand-in for tests")
    api_version: str = Field("v1beta", description="API version path")
    safety: str | dict[str, str] | None = Field(
        None, description="default | block_none | block_only_high | block_medium_and_above | block_low_and_above "
        "| off, or a mapping of category to threshold")
    timeout: float = Field(120, gt=0, description=TIMEOUT_HELP)
    max_reply_bytes: MaxReplyBytes = MAX_REPLY_BYTES

    @field_validator("safety")
    @classmethod
    def _known_safety(cls, value: Any) -> Any:
        try:
            safety_settings(value)
        except BackendError as exc:
            raise ValueError(str(exc).removeprefix("gemini backend: ")) from None
        return value
