"""Direction packs 'janus' (the original tool's general, diverse and in-depth) and
'evol-instruct' (add-constraints, deepening, concretizing, increase-reasoning, complicate-input,
in-breadth)."""

from __future__ import annotations

from janus_core import hookimpl
from janus_core.sdk.contracts import Direction

from .evol_instruct import EVOL_INSTRUCT

JANUS_PACK = (
    Direction(
        name="general",
        pack="janus",
        description="Typical and representative of the situation.",
        instructions=(
            "Write something typical of this situation: the kind of exchange that happens most often.",
            "Write a representative, everyday case of this situation, natural and plausible.",
        ),
        situation="",
    ),
    Direction(
        name="diverse",
        pack="janus",
        description="Clearly different from the usual case: another topic, circumstance or kind of person.",
        instructions=(
            "Make it clearly different from the usual case: pick a less common topic or circumstance, "
            "still true to the situation.",
            "Choose a different kind of person, background or mood than the obvious one, still true to "
            "the situation.",
        ),
        situation="Your case is not the usual one: a less common problem, circumstance or mood.",
    ),
    Direction(
        name="in-depth",
        pack="janus",
        description="Deeper: more specific details, harder questions, more thorough answers.",
        instructions=(
            "Go deeper: add specific details, ask harder and more precise questions, and give thorough, "
            "careful answers.",
            "Explore one point in depth: the user pushes for specifics and the assistant reasons it through.",
        ),
        situation="You want specifics: ask a precise, harder question about the details.",
    ),
)


@hookimpl
def register_directions(register):
    for direction in (*JANUS_PACK, *EVOL_INSTRUCT):
        register(direction)
