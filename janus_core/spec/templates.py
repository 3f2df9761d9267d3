"""Prompt templates (Jinja2) and the named placeholders they may use."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

#: Placeholders a template in setup.yaml may use, and what each holds.
PLACEHOLDERS = {
    "diagram": "the diagram's Mermaid text",
    "context": "the walked part of the diagram, in plain words",
    "direction": "the evolving direction's instruction",
    "user_role": "the user's role (setup.yaml user_role)",
    "assistant_role": "the assistant's role (setup.yaml assistant_role)",
    "description": "setup.yaml description (may be empty)",
    "output_format": "what to write and the JSON shape to answer in (from the output type)",
    "previous": "derivational prompts only: the record being evolved, as a transcript",
    "entities": "names of the entities in the walked context (a list)",
    "documents": "chunks of the user's documents (setup.yaml documents:) about the walked context, each "
                 "with its id; empty without documents",
}

#: Added after a template of the user's that has no {{ documents }} when the spec has documents.
DOCUMENTS_BLOCK = """Ground the facts in this material from the user's documents (do not cite the ids):
{{ documents }}"""

_INTRO = """\
You write realistic training data for an AI assistant.
The assistant plays the {{ assistant_role }}; the user plays the {{ user_role }}.
{% if description %}About the situation: {{ description }}
{% endif %}
The situation is described by this entity-relationship diagram (Mermaid):
{{ diagram }}
"""

SEED_PROMPT = _INTRO + """
Focus on this part of it:
{{ context }}
{% if documents %}
Ground the facts in this material from the user's documents (do not cite the ids):
{{ documents }}
{% endif %}
Direction: {{ direction }}

{{ output_format }}"""

DERIVATIONAL_PROMPT = _INTRO + """
The example below is about this part of it; use its facts:
{{ context }}

Here is an existing example:
{{ previous }}
{% if documents %}
Keep the facts true to this material from the user's documents (do not cite the ids):
{{ documents }}
{% endif %}
Evolve it in this direction: {{ direction }}

{{ output_format }}"""


@lru_cache(maxsize=128)
def undeclared(template: str) -> frozenset[str]:
    """Placeholders a template uses; raises jinja2.TemplateSyntaxError on bad syntax, TemplateRefused
    when the sandbox's check refuses it (the tree is walked only once it is known to be bounded)."""
    from jinja2 import meta

    from janus_core.spec.sandbox import checked

    return frozenset(meta.find_undeclared_variables(checked(template)))


def render(template: str, **values: Any) -> str:
    """A spec's template rendered in the sandbox (see janus_core.spec.sandbox); TemplateRefused when it
    uses what the sandbox does not allow or goes over a bound."""
    from janus_core.spec.sandbox import render as sandboxed

    return sandboxed(template, **values)


def transcript(messages: list[dict[str, str]], user_role: str, assistant_role: str) -> str:
    """Messages as a readable transcript, for {{ previous }}."""
    names = {"user": user_role, "assistant": assistant_role, "system": "SYSTEM"}
    return "\n".join(f"[{names.get(m['role'], m['role'])}] {m['content']}" for m in messages)
