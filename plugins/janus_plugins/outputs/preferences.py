"""Output types built on preferences: 'system-message' and 'preference'.

- system-message: each prompt gets a preference set, one preference per dimension (style,
  background knowledge, informativeness, harmlessness), drawn from subdimensions; the set
  becomes the record's system message (after the spec's system_prompt, if it has one) and the
  answer follows it. Records keep the set.
- preference: each prompt gets two or more answers at different temperatures, rated 1 to 5 by
  the model against a rubric; records hold the chosen answer and, in ``meta``, the rejected one,
  every score and the rationale (ready for DPO-style training).
"""

from __future__ import annotations

import random
from typing import Any

from janus_core.sdk.contracts import Limits
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


class Preference(Instruct):
    name = "preference"
    description = "two or more answers at different temperatures, rated by a judge: chosen and rejected"
    temperatures = (0.3, 1.0)
    limits = Limits()

    def schema(self, limits: Limits) -> dict[str, Any]:
        self.limits = limits
        return super().schema(limits)

    async def finish(self, record: Any, ask: Any, rng: random.Random) -> Any:
        prompt = [m for m in record.messages if m["role"] != "assistant"]
        instruction = prompt[-1]["content"]
        answers = [record.messages[-1]["content"]]
        for temperature in self.temperatures[1:]:
            if self.generation == "turns":
                text = await ask(prompt, None, temperature=temperature, seed=rng.randrange(2**31), raw=True,
                                 role="assistant")
                answers.append(validate("answer", {"response": (text or "")[: self.limits.message_chars]}).response)
                continue
            reply = await ask(prompt, _answer_schema(self.limits.message_chars), temperature=temperature,
                              seed=rng.randrange(2**31), role="assistant")
            answers.append(validate("answer", reply).response)
        reply = await ask([{"role": "user", "content": judge_prompt(instruction, answers)}],
                          _ratings_schema(len(answers)), role="judge")
        ratings = validate("ratings", reply).ratings
        if len(ratings) != len(answers):
            raise ValueError(f"the judge rated {len(ratings)} of {len(answers)} responses")
        order = sorted(range(len(answers)), key=lambda i: -ratings[i].score)
        chosen, rejected = order[0], order[-1]
        record.messages = [*prompt, {"role": "assistant", "content": answers[chosen]}]
        record.meta = {**record.meta, "responses": answers, "temperatures": list(self.temperatures),
                       "scores": [r.score for r in ratings], "rationales": [r.rationale for r in ratings],
                       "chosen": answers[chosen], "rejected": answers[rejected],
                       "margin": ratings[chosen].score - ratings[rejected].score,
                       "rubric": RUBRIC.model_dump(exclude={"name"})}
        return record
