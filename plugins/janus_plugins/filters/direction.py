"""The ``direction`` filter: an evolved record shows the free-text direction it was evolved along.

A free-text direction ("the nurse is on a night shift and a dose is overdue") names what the
evolution is about; a record evolved along it whose new turns use none of its words (night, shift,
dose, overdue, or words sharing their first five letters) did not follow it. Registered directions
(general, in-depth, ...) describe a manner, not a subject, and are left to the judge.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from janus_core.data.grounding import setup_terms, terms
from janus_core.sdk.contracts import Ask, Filter
from janus_core.sdk.options import Options


class DirectionOptions(Options):
    min_words: int = Field(1, ge=0, description="fewest of the direction's own words the new turns must use "
                                                 "(0: off)")


def _stems(words: set[str]) -> set[str]:
    return {w[:5] for w in words if len(w) >= 4}


class DirectionShown(Filter):
    name = "direction"
    description = "an evolved record whose new turns use none of its free-text direction's words"
    evolution_only = True
    Options: ClassVar[Any] = DirectionOptions

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.registered: set[str] = set()

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self.known = setup_terms(spec.setup) if spec is not None else set()
        self.registered = {d.name for d in spec.setup.directions} if spec is not None else set()

    def words(self, direction: str) -> set[str]:
        """The direction's own words: what it is about, less the setup's words and short ones."""
        return {w for w in terms(direction) - self.known if len(w) >= 4}

    async def check(self, record, parent, ask: Ask) -> str | None:
        from janus_core.sdk.records import new_messages

        if parent is None or self.options.min_words == 0 or " " not in record.direction.strip() \
                or record.direction in self.registered:
            return None  # a registered direction names a manner; only free text names a subject
        wanted = self.words(record.direction)
        if not wanted:
            return None
        said = terms(" ".join(m["content"] for m in new_messages(record, parent)))
        used = {w for w in wanted if w in said} | {w for w in wanted if w[:5] in _stems(said)}
        if len(used) >= min(self.options.min_words, len(wanted)):
            return None
        return f"the new turns use none of the direction's words ({', '.join(sorted(wanted)[:6])})"
