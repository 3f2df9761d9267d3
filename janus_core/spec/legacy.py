"""The original tool's setup.yaml, translated to today's keys with a deprecation note.

Old prompts use positional ``%s``: ``initial_prompt`` takes (diagram, delimiter, direction,
user role, assistant role) and ``derivational_prompt`` takes (diagram, delimiter, previous
conversation, direction, user role, assistant role); the output format was appended to both.
"""

from __future__ import annotations

import re
from typing import Any

from janus_core.sdk.errors import Problem

RENAMED = {"seed_evolving_directions": "seed_directions",
           "derivational_evolving_directions": "derivational_directions",
           "initial_prompt": "seed_prompt"}
DROPPED = ("output_format", "delimiter", "category")
LEGACY_KEYS = (*RENAMED, "derivational_prompt", *DROPPED)
SLOTS = {
    "initial_prompt": ("diagram", "delimiter", "direction", "user_role", "assistant_role"),
    "derivational_prompt": ("diagram", "delimiter", "previous", "direction", "user_role", "assistant_role"),
}


def is_legacy(data: dict[str, Any]) -> bool:
    return "initial_prompt" in data or "seed_evolving_directions" in data or (
        "derivational_prompt" in data and "%s" in str(data.get("derivational_prompt")))


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if text else ""


def to_template(text: str, slots: tuple[str, ...], delimiter: str) -> str | None:
    """A Jinja template from a %s template; None when the number of %s does not match."""
    # the original files annotate each %s with a trailing '# what' comment; drop those
    text = re.sub(r"(%s[^\n]*?)[ \t]+#[^\n]*", r"\1", text)
    parts = text.split("%s")
    if len(parts) - 1 != len(slots):
        return None
    out = _raw(parts[0])
    for slot, part in zip(slots, parts[1:], strict=True):
        out += _raw(delimiter) if slot == "delimiter" else "{{ " + slot + " }}"
        out += _raw(part)
    return out.rstrip() + "\n\n{{ output_format }}"


def translate(data: dict[str, Any], path: str, where) -> tuple[dict[str, Any], list[str], list[Problem]]:
    """(new data, notes, problems). ``where(key)`` gives the (line, column) of a key's value."""
    new = {k: v for k, v in data.items() if k not in LEGACY_KEYS}
    notes = ["setup.yaml uses the original tool's keys; Janus translated them (see the README's "
             "setup.yaml section for today's keys)"]
    problems: list[Problem] = []
    delimiter = str(data.get("delimiter") or "")
    for old, new_key in (("initial_prompt", "seed_prompt"), ("derivational_prompt", "derivational_prompt")):
        if old not in data:
            continue
        template = to_template(str(data[old]), SLOTS[old], delimiter)
        if template is None:
            line, col = where(old)
            expected = ", ".join(SLOTS[old])
            problems.append(Problem(path, line, col, f"{old}: expected {len(SLOTS[old])} '%s' placeholders "
                                    f"({expected}), found {str(data[old]).count('%s')}",
                                    "use the original order, or today's named placeholders such as {{ diagram }}"))
        else:
            new[new_key] = template
    for old, new_key in RENAMED.items():
        if old in data and old != "initial_prompt":
            new[new_key] = data[old]
    if "category" in data and not data.get("description"):
        new["description"] = f"Category: {data['category']}"
    if "output_format" in data:
        notes.append("output_format is ignored: the output type sets the JSON shape of replies")
    return new, notes, problems
