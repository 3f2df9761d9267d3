"""The ``scenario-consistency`` filter: a conversation stays in its roles and agrees with the diagram.

Cheap checks run on every record (on by default): a turn that speaks as the other side ("As the
patient, I ...", "I am your counselor" from the user) and a turn that holds a script, lines
labelled with two speakers (``COUNSELEE: ...`` and ``COUNSELOR: ...`` in one message: both voices
written as one). With ``model_check:
true`` the model also judges each record against the facts of its walk: the walked entities
with their attributes and ``%%`` details and the walked relationships, looked up in the spec's
diagram by name (``situation``, which the judge's faithfulness rubric uses too).
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, ClassVar

from pydantic import Field

from janus_core.sdk.contracts import Ask, Filter
from janus_core.sdk.options import Options

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
    prechecks: bool = Field(True, description="cheap checks: a turn speaking as the other role, a script in a turn")
    model_check: bool = Field(False, description="the model judges roles and facts (one request per record)")


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


def _words(name: str) -> str:
    return r"[ _]".join(re.escape(w) for w in name.replace("_", " ").split())


def _alternatives(names: list[str]) -> str:
    return "|".join(_words(n) for n in dict.fromkeys(n for n in names if n.strip()))


class ScenarioConsistency(Filter):
    name = "scenario-consistency"
    description = ("a turn out of its role (cheap checks); with model_check, a conversation the model judges out "
                   "of role or against the diagram's facts")
    Options: ClassVar[Any] = ScenarioOptions

    def __init__(self) -> None:
        self.spec: Any = None
        self.patterns: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        self.script: re.Pattern[str] | None = None

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self.spec = spec
        self.__dict__.pop("graph", None)
        self.patterns = {}
        if spec is None:
            return
        setup = spec.setup
        aliases = {e.name: e.alias or "" for e in spec.diagram.entities.values()}
        user = [setup.user_role, aliases.get(setup.user_role, "")]
        assistant = [setup.assistant_role, aliases.get(setup.assistant_role, "")]
        labels = _alternatives([*user, *assistant, "user", "assistant"])
        self.script = re.compile(rf"(?mi)^\W{{0,3}}({labels})\W{{0,3}}:")
        self.patterns = {
            "user": [self._voice(_alternatives([*assistant, "AI assistant", "AI language model"]))],
            "assistant": [self._voice(_alternatives(user))],
        }

    @staticmethod
    def _voice(other: str) -> tuple[re.Pattern[str], str]:
        return (re.compile(rf"\b(?:as (?:a|an|the|your) (?:{other})\b,?\s+I\b|I(?:'m| am) (?:the|your) (?:{other})\b)",
                           re.I), "speaks as the other role")

    @cached_property
    def graph(self) -> Any:
        from janus_core.plan.graph import build_graph

        return build_graph(self.spec.diagram)

    def precheck(self, messages: list[dict[str, str]]) -> str | None:
        for message in messages:
            for pattern, what in self.patterns.get(message["role"], []):
                found = pattern.search(message["content"])
                if found:
                    return f"the {message['role']} message {what}: {found.group(0).strip()!r}"
            labels = {m.group(1).lower().replace("_", " ") for m in self.script.finditer(message["content"])} \
                if self.script else set()
            if len(labels) >= 2:  # lines labelled with two speakers: a dialogue written as one turn
                return f"the {message['role']} message holds a script of {' and '.join(sorted(labels))} lines"
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
            found = self.precheck(new_messages(record, parent))
            if found:
                return f"role precheck: {found}"
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
