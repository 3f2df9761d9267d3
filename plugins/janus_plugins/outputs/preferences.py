"""Output types built on preferences: 'system-message' and 'preference'.

- system-message: each prompt gets a preference set, one preference per dimension (style,
  background knowledge, informativeness, harmlessness), drawn from subdimensions; the set
  becomes the record's system message (after the spec's system_prompt, if it has one) and the
  answer follows it. Records keep the set.
- preference: each prompt gets two answers at different temperatures (the run's, and the one of
  0.3 and 1.0 farthest from it), rated 1 to 5 by the judge against a rubric, shown to it in an order
  drawn per record; records hold the chosen answer and, in ``meta``, the rejected one, the
  temperatures used, every score and the rationale (ready for DPO-style training). A cut answer
  (finished by length, or not at a sentence's end) is asked for once more with twice the room; one
  still cut, or a judge that cannot tell the answers apart (the same score for both, no rationale
  with a word in it), makes no pair: the job is eliminated (``eliminated:preference``).
"""

from __future__ import annotations

import random
import re
from typing import Any

from janus_core.sdk.contracts import Limits, Message, NoRecord
from janus_plugins.rubrics import Rubric

from . import Instruct, validate

#: dimension -> subdimension -> preferences (one is drawn per dimension)
PREFERENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "style": {
        "tone": ("warm and encouraging", "calm and matter-of-fact", "gently humorous"),
        "format": ("short paragraphs", "a numbered list of steps", "one clear recommendation first, then reasons"),
        "length": ("brief: a few sentences", "thorough, with examples"),
    },
    "background knowledge": {
        "expertise": ("a newcomer who needs plain words", "someone with some experience",
                      "an expert who wants precise terms"),
        "context": ("knows nothing of the situation beforehand", "has been through this before"),
    },
    "informativeness": {
        "practicality": ("concrete next steps they can take today", "the reasons behind the advice"),
        "scope": ("only the question asked", "related points worth knowing too"),
    },
    "harmlessness": {
        "sensitivity": ("care with emotional topics", "respect for privacy: no personal details asked for"),
        "safety": ("pointing to professional help when risk appears", "no judgement of anyone's choices"),
    },
}


def draw_preference_set(rng: random.Random) -> list[dict[str, str]]:
    chosen = []
    for dimension, subdimensions in PREFERENCES.items():
        sub = rng.choice(sorted(subdimensions))
        chosen.append({"dimension": dimension, "subdimension": sub, "preference": rng.choice(subdimensions[sub])})
    return chosen


#: the system message's opening when the spec has no system_prompt of its own
OPENING = "You are a helpful assistant."


def system_message(preference_set: list[dict[str, str]]) -> str:
    lines = [f"{OPENING} The person you are helping prefers:"]
    lines += [f"- {p['dimension']} ({p['subdimension']}): {p['preference']}" for p in preference_set]
    lines.append("Follow these preferences in every answer.")
    return "\n".join(lines)


class SystemMessage(Instruct):
    name = "system-message"
    description = "an answer that follows a system message drawn from a multifaceted preference set"

    def sample(self, rng: random.Random, parent_meta: dict[str, Any] | None) -> dict[str, Any]:
        preference_set = (parent_meta or {}).get("preference_set") or draw_preference_set(rng)
        # the spec's system_prompt, when it has one, takes the place of the opening
        return {"system": system_message(preference_set), "opening": OPENING,
                "meta": {"preference_set": preference_set}}


#: what the judge rates each answer against (the rubric model the judge filter grades with)
RUBRIC = Rubric(
    name="helpfulness",
    criteria="Does the response help the user with exactly what they asked, in the assistant's role and "
             "true to the situation?",
    scores={
        1: "Unhelpful, off-topic, or wrong for the role.",
        2: "Touches the request but misses its main point or contains clear mistakes.",
        3: "Answers the request adequately but generically.",
        4: "A good, specific answer with minor gaps.",
        5: "Excellent: specific, correct, well judged for the role and the situation.",
    },
)


def _answer_schema(limits_chars: int) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["response"],
            "properties": {"response": {"type": "string", "minLength": 1, "maxLength": limits_chars}}}


def _ratings_schema(count: int) -> dict[str, Any]:
    rating = {"type": "object", "additionalProperties": False, "required": ["score", "rationale"],
              "properties": {"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
                             "rationale": {"type": "string", "minLength": 1, "maxLength": 300}}}
    return {"type": "object", "additionalProperties": False, "required": ["ratings"],
            "properties": {"ratings": {"type": "array", "minItems": count, "maxItems": count, "items": rating}}}


def judge_prompt(instruction: str, answers: list[str], rubric: Rubric = RUBRIC) -> str:
    shown = "\n\n".join(f"Response {i + 1}:\n{a}" for i, a in enumerate(answers))
    return (f"Rate each response to the request below from 1 to 5 with this rubric.\n"
            f"{rubric.prompt()}\n\nRequest:\n{instruction}\n\n{shown}\n\n"
            f'Answer with JSON only: {{"ratings": [{{"score": 1-5, "rationale": "..."}}, ...]}}, one rating per '
            f"response, in order.")


#: what may follow an answer's last sentence mark: closing quotes and brackets
_CLOSING = "\"'”’»)]"
_WORD = re.compile(r"[^\W_]")
_WORDS = re.compile(r"[^\W_]+")


def ends_a_sentence(text: str) -> bool:
    """Whether ``text`` ends as a finished answer does: with sentence-final punctuation (. ! ?; an
    ellipsis is a cut's mark, not an ending), or with a closed code block."""
    text = text.rstrip()
    if text.endswith("```") and text.count("```") % 2 == 0:
        return True
    text = text.rstrip(_CLOSING)
    return text.endswith((".", "!", "?", "。", "！", "？")) and not text.endswith(("...", "…"))


def within(text: str, limit: int) -> str | None:
    """``text`` if it fits ``limit`` characters; else up to its last sentence end within the limit, if
    that keeps more than half; None if it cannot be shortened without cutting a sentence."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "), head.rfind(".\n"))
    return head[: end + 1] if end >= limit // 2 else None


def indistinct(ratings: list[Any]) -> str | None:
    """Why a judge's ratings cannot rank the answers (every score the same, or no rationale with a
    word in it), or None when they can."""
    if len({r.score for r in ratings}) == 1:
        return f"every answer scored {ratings[0].score}"
    if not any(_WORD.search(r.rationale) for r in ratings):
        return "the rationales are empty (" + ", ".join(repr(r.rationale[:20]) for r in ratings) + ")"
    return None


class Preference(Instruct):
    name = "preference"
    description = "two answers at different temperatures, rated by a judge: chosen and rejected"
    #: the second answer's temperature: whichever of these is farthest from the first answer's (the
    #: run's reply temperature)
    temperatures = (0.3, 1.0)
    #: output tokens an extra answer may use, per character of ``limits.message_chars`` (about three
    #: characters a token, with room to finish the sentence); doubled for the one re-ask of a cut answer
    tokens_per_char = 1 / 3
    limits = Limits()

    def schema(self, limits: Limits) -> dict[str, Any]:
        self.limits = limits
        return super().schema(limits)

    def second_temperature(self) -> float:
        return max(self.temperatures, key=lambda t: abs(t - self.reply_temperature))

    async def _answer(self, ask: Any, prompt: list[Message], temperature: float, rng: random.Random,
                      rooms: tuple[int, ...]) -> str | None:
        """One more answer to ``prompt``, asked once per entry of ``rooms`` (times the output tokens an
        answer may use) until one comes back whole; None when each came back cut (finished by length,
        or not at a sentence's end)."""
        from janus_core.plan.jobs import decode

        tokens = max(64, round(self.limits.message_chars * self.tokens_per_char))
        for room in rooms:
            seed = rng.randrange(2**31)
            schema = None if self.generation == "turns" else _answer_schema(self.limits.message_chars)
            reply = await ask(prompt, schema, temperature=temperature, seed=seed, role="assistant",
                              max_tokens=tokens * room, completion=True)
            if reply.finish_reason != "length":
                text = reply.text if schema is None else validate("answer", decode(reply.text)).response
                text = within(text.strip(), self.limits.message_chars)
                if text and ends_a_sentence(text):
                    return text
        return None

    async def finish(self, record: Any, ask: Any, rng: random.Random) -> Any:
        prompt = [m for m in record.messages if m["role"] != "assistant"]
        instruction = prompt[-1]["content"]
        temperatures = [self.reply_temperature, self.second_temperature()]
        first = record.messages[-1]["content"]
        # a cut answer is asked for once more, with twice the room
        answers: list[str | None] = [first if ends_a_sentence(first) else
                                     await self._answer(ask, prompt, temperatures[0], rng, rooms=(2,))]
        answers.append(await self._answer(ask, prompt, temperatures[1], rng, rooms=(1, 2)))
        cut = [f"{t:g}" for t, a in zip(temperatures, answers, strict=True) if a is None]
        if cut:
            raise NoRecord(f"the answer at temperature {' and '.join(cut)} was cut off (it finished by length or "
                           "mid-sentence) even with more room: no pair")
        kept = [a for a in answers if a is not None]
        if len({" ".join(_WORDS.findall(a.lower())) for a in kept}) < len(kept):
            raise NoRecord("judge could not tell the answers apart: the answers are the same text")
        # the judge sees the answers in an order drawn per record: a judge that favours a position
        # favours no temperature
        shown = list(range(len(kept)))
        rng.shuffle(shown)
        reply = await ask([{"role": "user", "content": judge_prompt(instruction, [kept[i] for i in shown])}],
                          _ratings_schema(len(kept)), role="judge")
        ratings = validate("ratings", reply).ratings
        if len(ratings) != len(kept):
            raise ValueError(f"the judge rated {len(ratings)} of {len(kept)} responses")
        by_answer = [ratings[shown.index(i)] for i in range(len(kept))]
        why = indistinct(by_answer)
        if why:
            raise NoRecord(f"judge could not tell the answers apart: {why}")
        order = sorted(range(len(kept)), key=lambda i: -by_answer[i].score)
        chosen, rejected = order[0], order[-1]
        record.messages = [*prompt, {"role": "assistant", "content": kept[chosen]}]
        record.meta = {**record.meta, "responses": kept, "temperatures": temperatures,
                       "scores": [r.score for r in by_answer], "rationales": [r.rationale for r in by_answer],
                       "chosen": kept[chosen], "rejected": kept[rejected],
                       "margin": by_answer[chosen].score - by_answer[rejected].score,
                       "shown_order": shown, "rubric": RUBRIC.model_dump(exclude={"name"})}
        return record
