"""Which backend serves a model name, when no backend is named (``janus generate -m gpt-4o-mini``).

Two sources, in this order:

1. The name's form. ``provider/model`` is litellm's form: a provider that is one of Janus's own
   backends (``openai/``, ``anthropic/``, ``gemini/``) goes to that backend with the prefix taken
   off; any other provider (``ollama/``, ``groq/``, ``hosted_vllm/`` ...) goes to the litellm
   backend, name unchanged. A bare name goes by a small prefix table: ``gpt-``, ``chatgpt-``,
   ``o1``/``o3``/``o4`` and fine-tuned ``ft:gpt-`` names to openai, ``claude-`` to anthropic,
   ``gemini-`` to gemini.
2. litellm's model table, for bare names the prefixes miss (``deepseek-chat``): its provider, when
   it is one of ours, picks that backend; a provider with known key variables picks litellm, the
   name given its provider prefix (``deepseek/deepseek-chat``) so that litellm reads that
   provider's key and no other.

A prefix table comes first, not litellm's table alone: the table lags new releases (it has no
``chatgpt-4o-latest`` nor some ``claude-3-5`` names), and ``import litellm`` costs about a second.
The table is read as plain JSON (``janus_core.run.cost.price_table``) and handed in by the caller,
so this module stays free of imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from janus_core.sdk.credentials import PROVIDER_KEYS

#: Providers that are Janus backends of the same name.
OWN_PROVIDERS = ("openai", "anthropic", "gemini")

#: Bare model names by their start, and the backend that serves them.
BARE_PREFIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:gpt-|chatgpt-|ft:gpt-|o[134](?:$|-))", re.I), "openai"),
    (re.compile(r"claude-", re.I), "anthropic"),
    (re.compile(r"gemini-", re.I), "gemini"),
)

#: litellm's table names Google AI Studio models ``gemini`` and Vertex's ``vertex_ai-*``.
_TABLE_OWN = {"openai": "openai", "text-completion-openai": "openai", "anthropic": "anthropic", "gemini": "gemini"}


def backend_for_model(model: str | None, table: Mapping[str, Any] | None = None) -> tuple[str, str] | None:
    """``(backend name, model name as that backend takes it)`` for a model name, or None when its
    form says nothing (then the default backend runs). ``table`` is litellm's model table (name ->
    entry with ``litellm_provider``), consulted for bare names the prefixes miss."""
    if not model or not model.strip():
        return None
    name = model.strip()
    if "/" in name:
        provider, rest = name.split("/", 1)
        if provider.lower() in OWN_PROVIDERS and rest:
            return provider.lower(), rest
        return "litellm", name
    for pattern, backend in BARE_PREFIXES:
        if pattern.match(name):
            return backend, name
    entry = (table or {}).get(name)
    provider = entry.get("litellm_provider") if isinstance(entry, dict) else None
    if not isinstance(provider, str):
        return None
    if provider in _TABLE_OWN:
        return _TABLE_OWN[provider], name
    if provider in PROVIDER_KEYS:
        return "litellm", f"{provider}/{name}"
    return None


def backends_taking(model: str) -> str:
    """The backend a model name suggests and how to choose it ('the openai backend (--backend
    openai)'), or '' when the name suggests none."""
    found = backend_for_model(model)
    if found is None:
        return ""
    backend, name = found
    return f"the {backend} backend (--backend {backend}" + ("" if name == model else f" --model {name}") + ")"
