"""How much of its situation a record carries, read off its text: the measures ``bench/quality.py``
reports (and a reader of the data would check by eye).

- ``facts_used``: facts of the record's walk whose own words (an attribute's note, a ``%%`` detail's
  value, a note) the record repeats, leaving out words the spec's setup text already holds (a
  record that only repeats the description is not grounded);
- ``asks``: a user turn that asks something;
- ``cut``: a turn that stops mid-sentence;
- ``placeholder``: a template slot left in a turn (``[Name]``, ``<date>``, ``{{ x }}``);
- ``near_copy``: what an evolution adds is mostly words its parent already had.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from janus_core.plan.graph import Fact

#: words too common to show that a fact was used
STOP = frozenset("""
a about after all also an and any are as at be been before but by can each every for from has have if in into
is it its may more most must no not of on one or other our per same so such than that the their them then
there these they this to under up was were what when which who will with without you your yours e.g etc
""".split())
_TOKEN = re.compile(r"[a-z0-9][a-z0-9:.'%-]*[a-z0-9%]|[a-z0-9]")
_QUESTION = re.compile(r"\?|^\s*(?:can|could|would|will|do|does|did|is|are|how|what|when|where|why|which|who|"
                       r"should|may)\b|\b(?:i(?:'d| would) like to know|tell me|i wonder|i was wondering)\b", re.I)
_PLACEHOLDER = re.compile(r"\[(?:[A-Z][\w'’]*(?: [\w'’]+){0,4})\](?!\()"
                          r"|<(?:[a-z]+(?: [a-z]+){0,3})>|\{\{?\s*\w+\s*\}?\}")


def terms(text: str) -> set[str]:
    """The distinctive words of a text: lower-cased, numbers kept ("20p", "8:00"), stop words out."""
    found = set()
    for token in _TOKEN.findall(text.lower()):
        token = token.rstrip(".:")
        short = len(token) < 3 and not any(c.isdigit() for c in token)
        if token in STOP or short or (token.isdigit() and len(token) < 2):
            continue
        found.add(token)
    return found


def value_terms(fact: Fact, known: set[str]) -> set[str]:
    """The words of what a fact says (after the name it is about), less the ``known`` ones."""
    if fact.kind not in ("attribute", "detail", "note"):
        return set()
    said = fact.text.split(": ", 1)[1] if fact.kind in ("attribute", "detail") and ": " in fact.text else fact.text
    return terms(said) - known


def facts_used(text: str, facts: Iterable[Fact], known: set[str]) -> int:
    """How many ``facts`` a record's ``text`` repeats a distinctive word of."""
    said = terms(text)
    stems = {w[:5] for w in said if len(w) >= 5}
    used = 0
    for fact in facts:
        words = value_terms(fact, known)
        if words & said or {w[:5] for w in words if len(w) >= 5} & stems:
            used += 1
    return used


def asks(text: str) -> bool:
    """A message that asks something: a question mark, a question word opening a sentence, or a
    request to be told."""
    return any(_QUESTION.search(sentence) for sentence in re.split(r"(?<=[.!])\s+", text))


def cut(text: str) -> bool:
    """A turn that stops mid-sentence: an ellipsis at its end, or no closing punctuation."""
    stripped = text.rstrip().rstrip("\"')]*")
    return stripped.endswith("...") or not stripped.endswith((".", "!", "?", ":"))


def placeholder(text: str) -> bool:
    return bool(_PLACEHOLDER.search(text))


def near_copy(added: str, earlier: str, n: int = 3, share: float = 0.5) -> bool:
    """Whether at least ``share`` of the word ``n``-grams an evolution ``added`` are in ``earlier``."""
    words, old = added.lower().split(), earlier.lower().split()
    grams = {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    if not grams:
        return False
    before = {tuple(old[i:i + n]) for i in range(len(old) - n + 1)}
    return len(grams & before) / len(grams) >= share


def setup_terms(setup: Any) -> set[str]:
    """What the spec's own setup text says: a record repeating it is not grounded by that."""
    return terms(" ".join(str(t or "") for t in (setup.description, setup.system_prompt, setup.user_role,
                                                  setup.assistant_role)))
