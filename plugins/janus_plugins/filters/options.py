"""Options of the built-in filters that live in ``__init__`` (kept apart: pydantic loads on use)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from janus_core.sdk.options import Options

#: a list of strings that setup.yaml may also give as one string
StrList = Annotated[list[str], BeforeValidator(lambda value: [value] if isinstance(value, str) else value)]


def known_rules(value: list[str], rules: tuple[str, ...]) -> list[str]:
    """``value`` if every name in it is one of ``rules`` (a filter's ``skip`` option); else a ValueError
    listing the rules."""
    unknown = [name for name in value if name not in rules]
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}; rules: {', '.join(rules)}")
    return value


class DuplicateOptions(Options):
    threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity at which two texts are near copies")
    ngram: int = Field(5, ge=1, le=20, description="words per shingle")


class LengthOptions(Options):
    min_words: int = Field(1, ge=0, description="fewest words in every user and assistant message")
    max_words: int = Field(4000, ge=1, description="most words in the whole record")
    max_tokens: int = Field(8000, ge=1, description="most tokens in the whole record (about 4 characters each)")
