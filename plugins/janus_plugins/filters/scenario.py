"""The ``scenario-consistency`` filter: a conversation stays in its roles and agrees with the diagram.

Cheap checks run on every record (on by default), each a named rule (``skip`` turns one off):

- ``wrong-voice``: a turn in the other side's voice: a user who offers help or greets as the host
  ("How can I assist you today?", "Welcome to ..."), either side introducing itself with the
  other's role ("As the patient, I ...", "I'm Emily, the librarian" from the user), the assistant
  calling the user's things its own ("my pet"), or both sides taking the same name;
- ``narration``: third-person stage directions ("The librarian smiled and said, ...", "(smirking)");
- ``speaker-label``: a line opening with a speaker's label ("A: ...", "Librarian: ..."), or a
  script: lines labelled with both roles in one message.

The turn checks are ``janus_core.plan.voice.voice_problem``, which the turn generator shares. With
``model_check: true`` the model also judges each record against the facts of its walk: the walked
entities with their attributes and ``%%`` details and the walked relationships, looked up in the
spec's diagram by name (``situation``, which the judge's faithfulness rubric uses too).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from pydantic import Field, field_validator

from janus_core.plan.voice import VOICE_RULES, introduced_names, user_things, voice_problem
from janus_core.sdk.contracts import Ask, Filter
from janus_core.sdk.options import Options

from .options import StrList, known_rules

RULES = VOICE_RULES

REPLY_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["in_role", "consistent", "problem"],
                "properties": {"in_role": {"type": "boolean"}, "consistent": {"type": "boolean"},
                               "problem": {"type": "string", "maxLength": 200}}}

PROMPT = """\
You check training conversations for an AI assistant.
The assistant plays the {assistant_role}; the user plays the {user_role}.
Facts about the situation (from an entity-relationship diagram):
{situation}

The conversation:
{transcript}

Answer two questions.
in_role: does every user turn speak as the {user_role} and every assistant turn as the {assistant_role}
(no swapped roles, no turn written in the other side's voice)?
consistent: does nothing in the conversation contradict the facts above (attributes, details,
relationships)?
If either answer is false, name the first problem in a sentence.
Answer with JSON only: {{"in_role": true, "consistent": true, "problem": ""}}"""


class ScenarioOptions(Options):
    prechecks: bool = Field(True, description="cheap checks: a turn in the other side's voice, narration, "
                                              "speaker labels")
    skip: StrList = Field(default_factory=list, description=f"cheap checks not to apply: {', '.join(RULES)}")
    model_check: bool = Field(False, description="the model judges roles and facts (one request per record)")

    @field_validator("skip")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        return known_rules(value, RULES)


def situation(spec: Any, graph: Any, walk: dict[str, Any] | None) -> str:
    """The facts of a record's walk in plain words: its entities (attributes, details, notes) and
    relationships, looked up in the diagram by name; the whole diagram if the walk names none."""
    from janus_core.plan.graph import describe, edge_label

    walk = walk or {}
    entities = tuple(e for e in walk.get("entities", []) if e in graph)
    if not entities:
        return spec.diagram.source.strip()
    by_label = {edge_label(e): e for e in graph.edges(keys=True)}
    edges = tuple(by_label[r] for r in walk.get("relationships", []) if r in by_label)
    return describe(graph, entities, edges)


class ScenarioConsistency(Filter):
    name = "scenario-consistency"
    description = ("a turn out of its role (cheap checks); with model_check, a conversation the model judges out "
                   "of role or against the diagram's facts")
    Options: ClassVar[Any] = ScenarioOptions

    def __init__(self) -> None:
        self.spec: Any = None
        self.roles: dict[str, Any] = {}

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self.spec = spec
        self.__dict__.pop("graph", None)
        self.roles = {}
        if spec is None:
            return
        setup = spec.setup
        aliases = {e.name: e.alias for e in spec.diagram.entities.values() if e.alias}
        self.roles = {"user_role": setup.user_role, "assistant_role": setup.assistant_role,
                      "user_aliases": tuple(a for n, a in aliases.items() if n == setup.user_role),
                      "assistant_aliases": tuple(a for n, a in aliases.items() if n == setup.assistant_role),
                      "user_things": user_things(spec.diagram, setup.user_role, setup.assistant_role)}

    @cached_property
    def graph(self) -> Any:
        from janus_core.plan.graph import build_graph

        return build_graph(self.spec.diagram)

    def precheck(self, messages: Sequence[dict[str, str]], earlier: Sequence[dict[str, str]] = ()) -> str | None:
        """The first rule a new message breaks, as "RULE: the ROLE message ...", or None; ``earlier``
        are the record's messages before them (for names taken)."""
        if not self.roles:
            return None
        skip = self.options.skip
        for message in messages:
            found = voice_problem(message["content"], message["role"], **self.roles, skip=skip)
            if found:
                rule, reason = found.split(": ", 1)
                return f"{rule}: the {message['role']} message {reason}"
        if "wrong-voice" not in skip:
            return _same_name([*earlier, *messages], {id(m) for m in messages})
        return None

    def prompt(self, record: Any) -> str:
        from janus_core.spec.templates import transcript

        setup = self.spec.setup
        shown = [m for m in record.messages if m["role"] != "system"]
        return PROMPT.format(assistant_role=setup.assistant_role, user_role=setup.user_role,
                             situation=situation(self.spec, self.graph, record.walk),
                             transcript=transcript(shown, setup.user_role, setup.assistant_role))

    async def check(self, record, parent, ask: Ask) -> str | None:
        from janus_core.sdk.records import new_messages

        if self.spec is None:
            return None
        if self.options.prechecks:
            new = new_messages(record, parent)
            fresh = {id(m) for m in new}
            found = self.precheck(new, [m for m in record.messages if id(m) not in fresh])
            if found:
                return found
        if not self.options.model_check:
            return None
        reply = await ask([{"role": "user", "content": self.prompt(record)}], REPLY_SCHEMA)
        if not isinstance(reply, dict):
            return None  # an unreadable verdict keeps the record: the cheap checks passed
        problem = str(reply.get("problem") or "")[:200]
        if reply.get("in_role") is False:
            return f"model check: out of role: {problem or 'no reason given'}"
        if reply.get("consistent") is False:
            return f"model check: contradicts the diagram: {problem or 'no reason given'}"
        return None


def _same_name(messages: list[dict[str, str]], new: set[int]) -> str | None:
    """A new message giving itself the name the other side took ("I'm Emily" from both)."""
    names: dict[str, set[str]] = {"user": set(), "assistant": set()}
    for message in messages:
        role = message["role"]
        if role not in names:
            continue
        mine = introduced_names(message["content"])
        other = names["assistant" if role == "user" else "user"]
        taken = next((n for n in mine if n in other), None)
        if taken and id(message) in new:
            return f"wrong-voice: the {role} message takes the other side's name {taken!r}"
        names[role].update(mine)
    return None
