"""Reasoning a model returns beside its answer, whatever the provider calls it.

OpenAI-compatible servers put it in the message's ``reasoning_content`` (DeepSeek, vLLM before 0.10,
llama.cpp) or ``reasoning`` (vLLM, OpenRouter); Anthropic in ``thinking`` blocks, Gemini in parts
marked ``thought``; a model served without a reasoning parser writes it into its text as a leading
``<think>...</think>`` (or, when the chat template opened the block, as text ending in ``</think>``).
Janus keeps it in one field, ``Completion.reasoning`` (an assistant message's ``reasoning`` key).
"""

from __future__ import annotations

import re
from typing import Any

_THINK = re.compile(r"\A\s*<think>(.*?)(?:</think>|\Z)\s*", re.DOTALL)
_CLOSED_ONLY = re.compile(r"\A(.*?)</think>\s*", re.DOTALL)


def split_think(text: str) -> tuple[str, str | None]:
    """(the answer, the reasoning) of a text that may start with ``<think>...</think>``.

    An unclosed ``<think>`` (a reply cut short) is reasoning to the end; a ``</think>`` with no
    opening tag in the text (the chat template opened it) closes reasoning that began the reply."""
    match = _THINK.match(text)
    if match is None and "<think>" not in text:
        match = _CLOSED_ONLY.match(text)
    if match is None:
        return text, None
    return text[match.end():], match.group(1).strip() or None


def join_reasoning(*parts: Any) -> str | None:
    """The non-empty string parts joined by blank lines; None when there are none."""
    kept = [part.strip() for part in parts if isinstance(part, str) and part.strip()]
    return "\n\n".join(kept) or None


def message_reasoning(message: dict[str, Any]) -> str | None:
    """An OpenAI-style message's reasoning: ``reasoning_content``, else ``reasoning`` (strings only)."""
    return join_reasoning(message.get("reasoning_content")) or join_reasoning(message.get("reasoning"))


def text_and_reasoning(text: str, *given: Any) -> tuple[str, str | None]:
    """The answer without a leading ``<think>`` block, and all reasoning: ``given`` (fields the
    provider returned) first, then the block's."""
    answer, thought = split_think(text)
    return answer, join_reasoning(*given, thought)
