"""Turn-by-turn role-play generation (setup.yaml ``generation: turns``).

A user simulator writes each user turn (its role, the situation from the walk, the direction and
the conversation so far) and the assistant answers it (its system message and the conversation),
each as plain text, one request per turn. Small models write ordinary sentences this way where
one JSON object holding a whole conversation breaks them. The engine sends the requests, so every
turn is paced, cached and journaled like any other request.
"""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any

from janus_core.sdk.contracts import CompletionRequest, Message
from janus_core.sdk.records import Record, sha256_of
from janus_core.spec.templates import render, transcript

if TYPE_CHECKING:
    from janus_core.plan.jobs import Job, Plan

#: The user simulator's prompt. Short and concrete: small models copy long instructions.
USER_PROMPT = """\
You are a {{ user_role | lower }} talking to a {{ assistant_role | lower }}.
{% if description %}{{ description }}
{% endif %}You want to talk about: {{ topic }}.
{% if earlier %}You asked before: "{{ earlier }}"
Ask something new about it. {{ direction }}
{% elif conversation %}The conversation so far:
{{ conversation }}

{{ direction }}
{% else %}{{ direction }}
{% endif %}
Write only your {{ "next" if conversation else "first" }} message to the {{ assistant_role | lower }}: \
one to three sentences, in your own words."""

#: The assistant's system message when the record has none of its own (not kept in the record).
ASSISTANT_SYSTEM = """\
You are a helpful {{ assistant_role | lower }}.{% if description %} {{ description }}{% endif %}
Answer the {{ user_role | lower }} in two to four clear sentences."""

#: Directions address whoever writes the data; the user simulator gets them as a goal of its own.
_GOAL = re.compile(r"^(write|make|choose|pick|go|explore|give|continue|evolve)\b", re.I)


def _shown_roles(user_role: str, assistant_role: str) -> list[str]:
    return [user_role, assistant_role, "user", "assistant", "system"]


class RolePlay:
    """Requests for each turn of a job, and the record the turns make."""

    def __init__(self, plan: Plan):
        self.plan = plan
        setup = plan.setup
        labels = "|".join(re.escape(r) for r in _shown_roles(setup.user_role, setup.assistant_role))
        #: a role label the model wrote in front of its message ("COUNSELOR: ...")
        self._label = re.compile(rf"^\s*(?:\*\*)?\[?(?:{labels})\]?(?:\*\*)?\s*[:\-]\s*(?:\*\*)?\s*", re.I)
        #: the model going on to write the other side's lines
        self._other = re.compile(rf"\n\s*\[?(?:{labels})\]?\s*:", re.I)
        #: a turn that opens with the other side's label ("[COUNSELOR] ..." from the user simulator):
        #: written in the wrong voice
        self._voice = {role: re.compile(rf"^\s*(?:\*\*)?(?:\[(?:{other})\]|(?:{other})\s*:)", re.I)
                       for role, other in (("user", f"{re.escape(setup.assistant_role)}|assistant"),
                                           ("assistant", f"{re.escape(setup.user_role)}|user"))}

    # --- shape ---------------------------------------------------------------------------------

    def turns(self, job: Job) -> int:
        """How many user turns (each with its answer) the job adds."""
        count = self.plan.output_type.role_play_turns(self.plan.limits, job.parent is not None)
        return max(1, count or 1)

    def base(self, job: Job) -> list[Message]:
        """The messages the new turns follow: the system message, and for output types that continue
        a conversation (conversation, follow-up), the parent's messages."""
        if job.parent is not None:
            return list(self.plan.output_type.derive(job.parent.messages, []))
        drawn = self.plan.sample(job) or {}
        if drawn.get("system"):
            return [{"role": "system", "content": drawn["system"]}]
        return list(self.plan.system_messages)

    # --- requests ------------------------------------------------------------------------------

    def request(self, job: Job, role: str, messages: list[Message], turn: int, attempt: int = 0) -> CompletionRequest:
        """The request for the next ``role`` turn after ``messages`` (``turn`` counts the job's new
        user turns from 0; ``attempt`` > 0 after an empty reply)."""
        rng = random.Random(f"{self.plan.seed}|{job.key}|turn{turn}|{role}|{attempt}")
        prompt = self._user_prompt(job, messages, rng) if role == "user" else self._assistant_prompt(messages)
        chars = self.plan.limits.message_chars
        # about four characters a token, and room to end the sentence the cut falls in
        max_tokens = self.plan.max_tokens or max(32, chars // 3)
        return CompletionRequest(messages=prompt, schema=None, schema_name=f"{role}-turn", max_tokens=max_tokens,
                                 temperature=self.plan.role_temperature(role), seed=rng.randrange(2**31))

    def _user_prompt(self, job: Job, messages: list[Message], rng: random.Random) -> list[Message]:
        setup = self.plan.setup
        shown = [m for m in messages if m["role"] != "system"]
        earlier = ""
        if job.parent is not None and not shown:  # a rewrite (instruct): the parent's request, to vary
            asked = [m["content"] for m in job.parent.messages if m["role"] == "user"]
            earlier = asked[-1] if asked else ""
        instruction = job.direction.instruction(rng)
        if "{" in instruction:
            instruction = render(instruction, user_role=setup.user_role, assistant_role=setup.assistant_role,
                                 description=setup.description, context=job.context.description)
        if _GOAL.match(instruction):
            instruction = f"Your aim: {instruction[0].lower()}{instruction[1:]}"
        direction = instruction
        text = render(USER_PROMPT, user_role=setup.user_role, assistant_role=setup.assistant_role,
                      description=setup.description.strip(), topic=self.topic(job), earlier=earlier,
                      conversation=transcript(shown, setup.user_role, setup.assistant_role) if shown else "",
                      direction=direction)
        return [{"role": "user", "content": text}]

    def _assistant_prompt(self, messages: list[Message]) -> list[Message]:
        setup = self.plan.setup
        system = [m for m in messages if m["role"] == "system"]
        if not system:
            system = [{"role": "system", "content": render(ASSISTANT_SYSTEM, user_role=setup.user_role,
                                                           assistant_role=setup.assistant_role,
                                                           description=setup.description.strip())}]
        return [*system[:1], *(m for m in messages if m["role"] != "system")]

    def topic(self, job: Job) -> str:
        """The walked part of the diagram in a few plain words: its entities and relationships."""
        ctx = job.context
        words = [_plain(e) for e in ctx.entities]
        if not words:
            return ctx.description.splitlines()[0] if ctx.description else self.plan.setup.description
        return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]

    # --- replies -------------------------------------------------------------------------------

    def clean(self, text: str, truncated: bool, role: str | None = None,
              prompt: list[Message] | None = None) -> str:
        """A turn's text without role labels, wrapping quotes, lines written for the other side or
        opening sentences copied from its ``prompt``, cut to the message limit at a sentence's end
        where one is near. Empty (to be asked again) when the ``role``'s turn is written in the other
        side's voice."""
        text = text.strip()
        if role in self._voice and self._voice[role].match(text):
            return ""
        text = self._label.sub("", text, count=1)
        cut = self._other.search("\n" + text)
        if cut:
            text = text[: max(0, cut.start() - 1)]
        text = text.strip().strip('"').strip()
        text = re.sub(r"\s+", " ", text)
        if prompt:
            text = _without_copied_opening(text, " ".join(m["content"] for m in prompt))
        limit = self.plan.limits.message_chars
        if truncated or len(text) > limit:
            text = _sentences(text[:limit])
        return text

    def record(self, job: Job, messages: list[Message], prompts: list[list[Message]], model: str,
               usage: dict[str, Any]) -> Record:
        """The record the turns make (the same provenance as a one-shot record)."""
        return self.plan.make_record(job, messages, sha256_of(prompts), model)


def _squashed(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _without_copied_opening(text: str, prompt: str) -> str:
    """``text`` without the sentences it opens with that are copied from ``prompt`` (a small model
    often repeats its instruction, "Your aim: go deeper ...", before its own words)."""
    source = _squashed(prompt)
    sentences = re.split(r"(?<=[.!?])\s+", text)
    while len(sentences) > 1:
        first = _squashed(sentences[0])
        if len(first.split()) < 4 or first not in source:
            break
        sentences.pop(0)
    return " ".join(sentences)


def _plain(name: str) -> str:
    """An entity name in plain words: MARRIAGE_COUNSELING -> marriage counseling, HomeVisit -> home visit."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.replace("_", " ").replace("-", " "))
    return spaced.lower().strip()


def _sentences(text: str) -> str:
    """``text`` up to its last full sentence, if that keeps more than half of it; else up to its last
    whole word, with an ellipsis."""
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    if text.endswith((".", "!", "?")):
        return text
    if end >= len(text) // 2:
        return text[: end + 1]
    space = text.rfind(" ")
    if space >= len(text) // 2:  # no word cut in half
        text = text[:space]
    return text.rstrip(" ,;:-") + "..."
