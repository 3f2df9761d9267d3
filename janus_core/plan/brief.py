"""What each side of a role-played conversation knows (``generation: turns``).

The user simulator gets a person, a situation and, turn by turn, one thing to find out, drawn from
the walk and the direction; the assistant gets the walk's facts, the one just asked about first.
Every draw is seeded by the job, so a rerun asks the same requests.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

from janus_core.plan.graph import Fact, SeedContext, plain
from janus_core.sdk.contracts import Direction
from janus_core.spec.diagram import Diagram

#: facts the assistant is given with each question (a small model's context is short)
MAX_FACTS = 5
#: words of a topic that say nothing of what it is about
_FILLER = frozenset("the your and how work works matters".split())
#: an attribute note that lists choices: "adult, junior or concession", "day or night"
_CHOICES = re.compile(r"^[\w'-]+(?: [\w'-]+){0,2}(?:, [\w'-]+(?: [\w'-]+){0,2})*,? or [\w'-]+(?: [\w'-]+){0,2}$")


def choices(note: str) -> list[str]:
    """The options an attribute note lists ("adult, junior or concession"), or none."""
    note = note.strip().rstrip(".")
    if not _CHOICES.match(note):
        return []
    head, _, last = note.rpartition(" or ")
    return [c.strip() for c in head.split(",") if c.strip()] + [last.strip()]


@dataclass(frozen=True)
class Brief:
    """One conversation's brief: who the user is, their situation, what they ask turn by turn, and
    the facts the assistant answers from."""

    persona: str
    situation: str
    needs: tuple[Fact, ...]
    facts: tuple[Fact, ...]
    #: drawn values of the user's own attributes: (("category", "junior"),)
    traits: tuple[tuple[str, str], ...] = ()
    #: what happened, in the user's words (a free-text direction): "The pet is due for surgery tomorrow."
    event: str = ""

    def need(self, turn: int) -> Fact | None:
        """What the user asks about in their ``turn``-th message (0-based, counting the whole record)."""
        return self.needs[turn % len(self.needs)] if self.needs else None

    def question(self, turn: int, rng: random.Random) -> str:
        """The user's ``turn``-th message written from the brief alone: what a user simulator's
        message is replaced by when it does not ask about its need (a small model often cannot)."""
        need = self.need(turn)
        topic = need.topic if need else "this"
        if need is not None and need.kind == "attribute":
            topic = topic.replace("your ", "my ")
            forms = ("Could you tell me about {t}?", "What should I know about {t}?",
                     "I have a question about {t}. How does it work?")
        elif need is not None and need.kind == "note":
            forms = ("How do {t} work here?", "What should I know about {t}?", "Can you explain how {t} work?")
        else:
            forms = ("What are the rules on {t}?", "Can you explain {t} to me?", "What should I know about {t}?")
        opening = ("Hi.", "Hello.", "Hi there.", "Good morning.")[rng.randrange(4)] if turn == 0 else "Thanks."
        parts = [opening]
        if turn == 0 and self.traits:
            parts.append(" ".join(f"My {name} is {value}." for name, value in self.traits))
        if turn == 0 and self.event:
            parts.append(self.event)
        parts.append(forms[rng.randrange(len(forms))].format(t=topic))
        return " ".join(parts)

    def asks(self, text: str, turn: int) -> bool:
        """Whether a user's message asks something about its need: a question holding a word of the
        need's topic (or any question when the brief has no need)."""
        if "?" not in text:
            return False
        need = self.need(turn)
        if need is None:
            return True
        words = {w for w in re.findall(r"[a-z]{3,}", need.topic.lower()) if w not in _FILLER}
        said = set(re.findall(r"[a-z]{3,}", text.lower()))
        return not words or bool(words & said) or bool({w.rstrip("s") for w in words} & {w.rstrip("s") for w in said})

    def facts_for(self, turn: int) -> list[str]:
        """The facts given to the assistant answering the ``turn``-th user message: the one asked
        about first, then the others, at most ``MAX_FACTS``."""
        first = self.need(turn)
        ordered = ([first] if first else []) + [f for f in self.facts if f is not first]
        return [f.text for f in ordered[:MAX_FACTS]]


def traits(diagram: Diagram, user_role: str, rng: random.Random) -> tuple[tuple[str, str], ...]:
    """One drawn value for each attribute of the user's entity whose note lists choices (at most two):
    (("category", "junior"),)."""
    entity = diagram.entities.get(user_role)
    found = []
    for a in entity.attributes if entity else []:
        options = choices(a.comment or "")
        if options:
            found.append((plain(a.name), options[rng.randrange(len(options))]))
    return tuple(found[:2])


def persona(user_role: str, drawn: tuple[tuple[str, str], ...]) -> str:
    """The user in a few words: "a member (category: junior)"."""
    who = f"a {plain(user_role)}"
    return f"{who} ({'; '.join(f'{n}: {v}' for n, v in drawn)})" if drawn else who


def direction_situation(direction: Direction) -> str:
    """What a direction adds to the user's situation: a free-text direction is the situation itself
    ("the nurse is on a night shift and a dose is overdue"); a registered one gives its ``situation``."""
    if direction.pack == "free-text":
        text = direction.name.strip()
    else:
        text = (direction.description if direction.situation is None else direction.situation).strip()
    return text[:1].upper() + text[1:] if text else ""


def _for_user(fact: Fact, user_role: str) -> Fact:
    """The fact's topic as the user would put it: "your category", "the renewals of your loan"."""
    prefix = f"the {fact.topic.split(' of a ', 1)[0].removeprefix('the ')}"
    if fact.kind != "attribute" or " of a " not in fact.topic:
        return fact
    if fact.owner == user_role:
        return replace(fact, topic=prefix.replace("the ", "your ", 1))
    return replace(fact, topic=f"{prefix} of your {plain(fact.owner)}")


def make_brief(context: SeedContext, diagram: Diagram, description: str, user_role: str, direction: Direction,
               rng: random.Random) -> Brief:
    """The brief of one conversation, drawn with ``rng``: the strong facts (notes, details) asked
    about in a shuffled order, then the relationships, then attributes that have only a name."""
    strong = [_for_user(f, user_role) for f in context.facts if f.strong]
    rng.shuffle(strong)
    links = [f for f in context.facts if f.kind == "relationship"]
    names = [f for f in context.facts if f.kind == "name"]
    needs = tuple(strong or links or names)
    facts = tuple([f for f in context.facts if f.strong] + links + names)
    situation = " ".join(t for t in (description.strip(), direction_situation(direction)) if t)
    drawn = traits(diagram, user_role, rng)
    event = direction_situation(direction) if direction.pack == "free-text" else ""
    event = event if not event or event.endswith((".", "!", "?")) else event + "."
    return Brief(persona(user_role, drawn), situation, needs, facts, drawn, event)
