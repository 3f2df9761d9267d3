"""Turn-by-turn role-play generation (setup.yaml ``generation: turns``).

Each conversation has a brief drawn from its walk and direction (``janus_core.plan.brief``). A user
simulator writes each user turn from its part of the brief (who they are, the situation, what they
want to find out this turn, what the assistant last said), and the assistant answers it from its
system message, the conversation and the walk's facts, the one just asked about first. Each side
sees worked examples rather than a description of the task, each writes plain text, one request per
turn: small models write ordinary sentences this way where one JSON object holding a whole
conversation breaks them. The engine sends the requests, so every turn is paced, cached and journaled
like any other request.
"""

from __future__ import annotations

import random
import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from janus_core.plan.brief import Brief, make_brief
from janus_core.plan.graph import plain as _plain
from janus_core.plan.voice import voice_problem
from janus_core.sdk.contracts import CompletionRequest, Message
from janus_core.sdk.records import Record, sha256_of
from janus_core.spec.templates import render

if TYPE_CHECKING:
    from janus_core.plan.jobs import Job, Plan

#: The user simulator's instructions and two worked examples: a small model writes a person's message
#: far better from examples than from a description of the task.
USER_SYSTEM = ("You write the message a person sends, in their own words: one or two sentences that end with "
               "their question. Write only the message.")
USER_SHOTS = (
    ("Situation: A small hotel by the sea. You are a guest (room: double). You want to find out about "
     "breakfast times.\nMessage:",
     "Hi, I'm staying in one of your double rooms for two nights. What time is breakfast served?"),
    ("Situation: A gym with a pool. You are a member (plan: monthly). The receptionist said: \"Your plan "
     "renews on the first of each month.\" You want to find out about cancelling.\nMessage:",
     "Thanks. If I want to stop my monthly plan before it renews, how do I cancel?"),
)

#: The assistant's system message when the record has none of its own (not kept in the record).
ASSISTANT_SYSTEM = """\
You are a helpful {{ assistant_role | lower }}.{% if description %} {{ description }}{% endif %}"""
#: Added to the assistant's system message in its requests (not kept in the record).
ANSWER_RULE = "Answer the {user} in two to four sentences. Use the facts you are given; do not invent others."
ASSISTANT_SHOT = (
    "Facts:\n- Breakfast: 7:00 to 10:30 in the garden room.\n- Room service costs 5 pounds extra.\n"
    "Guest: Hi, what time is breakfast served?",
    "Breakfast is served from 7:00 to 10:30 in the garden room. If you would rather eat in your room, room "
    "service is 5 pounds extra.",
)

#: an answer that copies the prompt's form: the facts list ("- The dose of ...", "Facts:") or "Message:"
_ECHOED = re.compile(r"^\s*-\s|\bFacts:|\bMessage:|\bSituation:")
def _grams(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


#: word 4-grams of each side's worked examples: a turn holding one copies the example, not the brief
_EXAMPLE_GRAMS = {"user": set().union(*(_grams(answer) for _, answer in USER_SHOTS)),
                  "assistant": _grams(ASSISTANT_SHOT[1])}
#: the brief of this many jobs is remembered (a conversation's turns share one)
BRIEFS_REMEMBERED = 1024


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
        self._briefs: OrderedDict[str, Brief] = OrderedDict()
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

    def brief(self, job: Job) -> Brief:
        """The job's brief (the same for each of its turns and on every rerun)."""
        found = self._briefs.get(job.key)
        if found is None:
            setup = self.plan.setup
            rng = random.Random(f"{self.plan.seed}|{job.key}|brief")
            found = make_brief(job.context, self.plan.spec.diagram, setup.description, setup.user_role,
                               job.direction, rng)
            self._briefs[job.key] = found
            if len(self._briefs) > BRIEFS_REMEMBERED:
                self._briefs.popitem(last=False)
        return found

    def request(self, job: Job, role: str, messages: list[Message], turn: int, attempt: int = 0,
                after: str | None = None) -> CompletionRequest:
        """The request for the next ``role`` turn after ``messages`` (``turn`` counts the job's new
        user turns from 0; ``attempt`` > 0 when the turn is asked for again, with twice the room each
        time, as a cut reply may have been; ``after`` the last attempt's problem: after any other
        than a cut the request is warmer, since a small model at a low temperature gives the same
        wrong reply again)."""
        rng = random.Random(f"{self.plan.seed}|{job.key}|turn{turn}|{role}|{attempt}")
        asked = _asked(messages) - (1 if role == "assistant" else 0)
        prompt = self._user_prompt(job, messages, asked) if role == "user" \
            else self._assistant_prompt(job, messages, asked)
        chars = self.plan.limits.message_chars
        # about four characters a token, and room to end the sentence the cut falls in; a user's
        # message is one or two sentences
        max_tokens = (self.plan.max_tokens or max(32, chars // (4 if role == "user" else 3))) * 2 ** attempt
        temperature = self.plan.role_temperature(role)
        if after and not after.startswith("cut"):
            temperature = round(min(max(temperature, 0.6) + 0.2 * attempt, 1.2), 2)
        return CompletionRequest(messages=prompt, schema=None, schema_name=f"{role}-turn", max_tokens=max_tokens,
                                 temperature=temperature, seed=rng.randrange(2**31))

    def _user_prompt(self, job: Job, messages: list[Message], asked: int) -> list[Message]:
        setup = self.plan.setup
        brief = self.brief(job)
        shown = [m for m in messages if m["role"] != "system"]
        parts = [f"Situation: {brief.situation}".rstrip() if brief.situation else "Situation:",
                 f"You are {brief.persona}."]
        if job.parent is not None and not shown:  # a rewrite (instruct): the parent's request, to vary
            earlier = [m["content"] for m in job.parent.messages if m["role"] == "user"]
            if earlier:
                parts.append(f'You asked before: "{_clip(earlier[-1])}" Ask something new.')
        said = [m["content"] for m in shown if m["role"] == "assistant"]
        if said:
            parts.append(f'The {_plain(setup.assistant_role)} said: "{_clip(said[-1])}"')
        need = brief.need(asked)
        parts.append(f"You want to find out about {need.topic if need else self.topic(job)}.")
        prompt: list[Message] = [{"role": "system", "content": USER_SYSTEM}]
        for question, answer in USER_SHOTS:
            prompt += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        return [*prompt, {"role": "user", "content": " ".join(parts) + "\nMessage:"}]

    def _assistant_prompt(self, job: Job, messages: list[Message], asked: int) -> list[Message]:
        setup = self.plan.setup
        system = next((m["content"] for m in messages if m["role"] == "system"), None)
        if system is None:
            system = render(ASSISTANT_SYSTEM, user_role=setup.user_role, assistant_role=setup.assistant_role,
                            description=setup.description.strip())
        user = _plain(setup.user_role)
        system = f"{system.rstrip()}\n{ANSWER_RULE.format(user=user)}"
        shown = [dict(m) for m in messages if m["role"] != "system"]
        facts = self.brief(job).facts_for(asked)
        if facts and shown and shown[-1]["role"] == "user":
            lines = "\n".join(f"- {f}" for f in facts)
            shown[-1]["content"] = f"Facts:\n{lines}\n{user.capitalize()}: {shown[-1]['content']}"
        shot = [{"role": "user", "content": ASSISTANT_SHOT[0]}, {"role": "assistant", "content": ASSISTANT_SHOT[1]}]
        return [{"role": "system", "content": system}, *(shot if facts else []), *shown]

    def topic(self, job: Job) -> str:
        """The walked part of the diagram in a few plain words: its entities and relationships."""
        ctx = job.context
        words = [_plain(e) for e in ctx.entities]
        if not words:
            return ctx.description.splitlines()[0] if ctx.description else self.plan.setup.description
        return ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]

    # --- replies -------------------------------------------------------------------------------

    def attempts(self, role: str) -> int:
        """How often a turn is asked for before the user's is written from the brief (``fallback``)
        or the record fails (the assistant's)."""
        return 2 if role == "user" else 3

    def accept(self, job: Job, role: str, messages: list[Message], text: str, truncated: bool,
               prompt: list[Message]) -> tuple[str, str | None]:
        """A reply as the turn's text (``check``); a user's turn must also ask about its need."""
        text, problem = self.check(text, truncated, role, prompt)
        if problem:
            return text, problem
        if role == "user" and not self.brief(job).asks(text, _asked(messages)):
            return "", "no-question: the user turn does not ask about its need"
        said = {_squashed(m["content"]) for m in messages if m["role"] != "system"}
        if _squashed(text) in said:
            return "", "repeated: the turn repeats an earlier message of the conversation"
        return text, None

    def fallback(self, job: Job, role: str, messages: list[Message]) -> str | None:
        """The user's turn written from the brief, after the simulator's attempts failed; None for
        the assistant (whose turn cannot be made up)."""
        if role != "user":
            return None
        asked = _asked(messages)
        return self.brief(job).question(asked, random.Random(f"{self.plan.seed}|{job.key}|question{asked}"))

    def clean(self, text: str, truncated: bool, role: str | None = None,
              prompt: list[Message] | None = None) -> str:
        """A turn's text, or "" when it must be asked for again (see ``check``)."""
        return self.check(text, truncated, role, prompt)[0]

    def check(self, text: str, truncated: bool, role: str | None = None,
              prompt: list[Message] | None = None) -> tuple[str, str | None]:
        """A turn's text without role labels, wrapping quotes, lines written for the other side or
        opening sentences copied from its ``prompt``, ending at its last full sentence when the reply
        was cut or is over the message limit; and what is wrong with it, if anything: ("", "empty"),
        ("", "wrong voice: ...") for a turn in the other side's voice, ("", "cut: ...") for a cut reply
        with no full sentence. A turn with a problem is asked for again."""
        text = text.strip()
        if role in self._voice and self._voice[role].match(text):
            return "", f"wrong voice: the {role} turn opens with the other side's label"
        text = self._label.sub("", text, count=1)
        cut = self._other.search("\n" + text)  # the model going on with the other side's lines: cut them
        if cut:
            text = text[: max(0, cut.start() - 1)]
        if role is not None:
            problem = voice_problem(text, role, self.plan.setup.user_role, self.plan.setup.assistant_role)
            if problem:
                return "", problem
        text = text.strip().strip('"').strip()
        text = re.sub(r"\s+", " ", text)
        if prompt:
            text = _without_copied_opening(text, " ".join(m["content"] for m in prompt))
        if role == "assistant" and _ECHOED.search(text):
            return "", "echoed-facts: the answer repeats the facts list or a prompt's label"
        if role in _EXAMPLE_GRAMS and _grams(text) & _EXAMPLE_GRAMS[role]:
            return "", "echoed-example: the turn copies the worked example's words"
        limit = self.plan.limits.message_chars
        if truncated or len(text) > limit:
            text = _sentences(text[:limit])
            if not text:
                return "", "cut: no full sentence within the message limit"
        return (text, None) if text else ("", "empty")

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


def _asked(messages: list[Message]) -> int:
    """User turns in ``messages``."""
    return sum(1 for m in messages if m["role"] == "user")


def _clip(text: str, chars: int = 300) -> str:
    """A message shown inside a prompt, cut at a word when long."""
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + "..."


def _sentences(text: str) -> str:
    """``text`` up to its last full sentence; "" when it holds none."""
    if text.endswith((".", "!", "?", '."', '?"', '!"')):
        return text
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return text[: end + 1] if end > 0 else ""
