"""The local backend's options (imported on use: loading the plugin needs no pydantic)."""

from __future__ import annotations

from pydantic import Field

from janus_core.sdk.options import Options


class LocalOptions(Options):
    model_path: str | None = Field(None, description="path to another GGUF file (default: the bundled "
                                   "SmolLM2-135M-Instruct)")
    threads: int | None = Field(None, ge=1, description="CPU threads for llama.cpp (default: all cores)")
    n_ctx: int = Field(4096, ge=256, description="context window in tokens")
    sequence_ctx: int = Field(2048, ge=256, description="context in tokens of each conversation decoded "
                              "together (--concurrency of them share one llama.cpp context; a longer "
                              "prompt runs alone on a context of n_ctx)")
    top_p: float = Field(0.9, gt=0, le=1, description="nucleus sampling for plain-text turns")
    top_k: int = Field(40, ge=0, description="top-k sampling for plain-text turns (0: off)")
    repeat_penalty: float = Field(1.2, ge=1, description="repetition penalty for plain-text turns")
