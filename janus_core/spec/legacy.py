"""The original tool's setup.yaml, translated to today's keys with a deprecation note.

Old prompts use positional ``%s``. Which value goes in which slot depended on the release and on
``--type``; three layouts shipped (see ``LAYOUTS``). The layout is read from the ``# what``
comments the original files put after each ``%s`` when they name every slot; otherwise from the
number of ``%s`` in the two prompts. The diagram slot also carries the walked part of the diagram
(``{{ context }}``), so every seed context gets its own prompt. The output format was appended to
both prompts. The original's counting rules come with it (``counting: original``).
"""

from __future__ import annotations

import re
from typing import Any

from janus_core.sdk.errors import Problem

RENAMED = {"seed_evolving_directions": "seed_directions",
           "derivational_evolving_directions": "derivational_directions",
           "initial_prompt": "seed_prompt"}
DROPPED = ("output_format", "delimiter")
LEGACY_KEYS = (*RENAMED, "derivational_prompt", *DROPPED)
PROMPTS = ("initial_prompt", "derivational_prompt")

#: slot orders of the original releases, by the name Janus gives each layout
LAYOUTS: dict[str, dict[str, tuple[str, ...]]] = {
    # the first release: no diagram slot; output format, delimiter and diagram appended after the prompt
    "appended": {"initial_prompt": ("direction", "user_role", "assistant_role"),
                 "derivational_prompt": ("previous", "direction", "user_role", "assistant_role")},
    # later releases, --type conversation
    "conversation": {"initial_prompt": ("diagram", "delimiter", "direction", "user_role", "assistant_role"),
                     "derivational_prompt": ("diagram", "delimiter", "previous", "direction", "user_role",
                                             "assistant_role")},
    # --type instruct
    "instruct": {"initial_prompt": ("diagram", "delimiter", "user_role", "assistant_role", "direction"),
                 "derivational_prompt": ("diagram", "delimiter", "previous", "delimiter", "user_role",
                                         "assistant_role", "direction")},
}
#: kept for callers that know only the conversation layout
SLOTS = LAYOUTS["conversation"]

#: what the diagram slot becomes: the diagram, then the walked part a seed context covers
DIAGRAM_SLOT = "{{ diagram }}\n\nFocus on this part of it:\n{{ context }}"

#: words in a '# ...' comment after a %s, and the slot each names (first match wins)
_COMMENT_WORDS = (("diagram", "diagram"), ("delimiter", "delimiter"), ("direction", "direction"),
                  ("conversation", "previous"), ("example", "previous"), ("previous", "previous"),
                  ("user", "user_role"), ("assistant", "assistant_role"))
_COMMENT = re.compile(r"(%s[^\n]*?)[ \t]+#([^\n]*)")


def is_legacy(data: dict[str, Any]) -> bool:
    return "initial_prompt" in data or "seed_evolving_directions" in data or (
        "derivational_prompt" in data and "%s" in str(data.get("derivational_prompt")))


def _raw(text: str) -> str:
    return "{% raw %}" + text + "{% endraw %}" if text else ""


def _is_jinja(text: str) -> bool:
    """A prompt already written with today's named placeholders (no %s to map)."""
    return "%s" not in text and "{{" in text


def annotated_slots(text: str) -> tuple[str, ...] | None:
    """Slots named by the ``# what`` comments after each %s, or None unless every %s is named."""
    slots: list[str] = []
    for line in text.splitlines():
        count = line.count("%s")
        if not count:
            continue
        found = _COMMENT.search(line)
        if not found:
            return None
        names = []
        for piece in found.group(2).lower().split(","):
            name = next((slot for word, slot in _COMMENT_WORDS if word in piece), None)
            if name is None:
                return None
            names.append(name)
        if len(names) != count:
            return None
        slots += names
    return tuple(slots) if slots else None


def choose_layout(data: dict[str, Any]) -> str:
    """The original release whose slot order the prompts follow.

    From the comments when they name every slot, else from the number of %s in each prompt; with
    only a five-slot initial_prompt, an output_format asking for one "conversation" means instruct.
    """
    texts = {k: str(data[k]) for k in PROMPTS if k in data and not _is_jinja(str(data[k]))}
    for name, layout in LAYOUTS.items():
        if texts and all(annotated_slots(t) == layout[k] for k, t in texts.items()):
            return name
    counts = {k: t.count("%s") for k, t in texts.items()}
    matching = [name for name, layout in LAYOUTS.items()
                if all(len(layout[k]) == n for k, n in counts.items())]
    if len(matching) == 1:
        return matching[0]
    if {"conversation", "instruct"} <= set(matching):
        return "instruct" if '"conversation":' in str(data.get("output_format", "")) else "conversation"
    # no layout fits both prompts: keep one that fits either, so the problem names the other
    for key, n in counts.items():
        fits = [name for name, layout in LAYOUTS.items() if len(layout[key]) == n]
        if fits:
            return fits[0]
    return "conversation"


def to_template(text: str, slots: tuple[str, ...], delimiter: str, appended: bool = False) -> str | None:
    """A Jinja template from a %s template; None when the number of %s does not match.

    ``appended``: the first release's layout, which put the output format, the delimiter and the
    diagram after the prompt."""
    # the original files annotate each %s with a trailing '# what' comment; drop those
    text = _COMMENT.sub(r"\1", text)
    parts = text.split("%s")
    if len(parts) - 1 != len(slots):
        return None
    out = _raw(parts[0])
    for slot, part in zip(slots, parts[1:], strict=True):
        if slot == "delimiter":
            out += _raw(delimiter)
        elif slot == "diagram":
            out += DIAGRAM_SLOT
        else:
            out += "{{ " + slot + " }}"
        out += _raw(part)
    out = out.rstrip() + "\n\n{{ output_format }}"
    if appended:
        out += "\n" + _raw(delimiter + "\n") + DIAGRAM_SLOT
    return out


def translate(data: dict[str, Any], path: str, where) -> tuple[dict[str, Any], list[str], list[Problem]]:
    """(new data, notes, problems). ``where(key)`` gives the (line, column) of a key's value."""
    new = {k: v for k, v in data.items() if k not in LEGACY_KEYS}
    notes = ["setup.yaml uses the original tool's keys; Janus translated them (see "
             "docs/how-to/original-tool.md for today's keys and the counting rules)"]
    problems: list[Problem] = []
    delimiter = str(data.get("delimiter") or "")
    layout = choose_layout(data)
    for old, new_key in (("initial_prompt", "seed_prompt"), ("derivational_prompt", "derivational_prompt")):
        if old not in data:
            continue
        text = str(data[old])
        if _is_jinja(text):
            new[new_key] = text
            continue
        slots = LAYOUTS[layout][old]
        template = to_template(text, slots, delimiter, appended=layout == "appended")
        if template is None:
            line, col = where(old)
            expected = "; ".join(f"{len(lay[old])} ({', '.join(lay[old])})" for lay in LAYOUTS.values())
            problems.append(Problem(path, line, col, f"{old}: expected {len(slots)} '%s' placeholders "
                                    f"({', '.join(slots)}), found {text.count('%s')}",
                                    f"the original tool's layouts take {expected}; or write today's named "
                                    "placeholders such as {{ diagram }}"))
        else:
            new[new_key] = template
    for old, new_key in RENAMED.items():
        if old in data and old != "initial_prompt":
            new[new_key] = data[old]
    if "category" in data:
        new["category"] = "" if data["category"] is None else str(data["category"])
        if not data.get("description"):
            new["description"] = f"Category: {data['category']}"
    if layout == "instruct" and "output_type" not in data:
        new["output_type"] = "instruct"
    new.setdefault("counting", "original")
    if layout != "conversation":
        notes.append(f"the prompts follow the original tool's {layout!r} slot order")
    if "output_format" in data:
        notes.append("output_format is ignored: the output type sets the JSON shape of replies")
    return new, notes, problems
