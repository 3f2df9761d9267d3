"""The local backend's options (imported on use: loading the plugin needs no pydantic)."""

from __future__ import annotations

from pydantic import Field

from janus_core.sdk.options import Options


class LocalOptions(Options):
    model_path: str | None = Field(None, description="path to another GGUF file (default: the bundled "
                                   "SmolLM2-135M-Instruct)")
    threads: int | None = Field(None, ge=1, description="CPU threads for llama.cpp (default: all cores)")
    n_ctx: int = Field(4096, ge=256, description="context window in tokens")
