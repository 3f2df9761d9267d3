"""A test backend plugin (loaded with --plugin): answers any schema with made-up valid JSON.

Replies name the request's direction line, so tests can see which direction was used; with
option ``voice=plain`` they are instead ordinary sentences picked by the direction line (the same
line gives the same sentences), for runs whose quality filters would drop an echoed prompt. Options
``fail_first`` and ``fail_always`` answer with truncated JSON (finish_reason "length").
"""

from __future__ import annotations

import hashlib
import re

from pydantic import Field

from janus_core import Backend, Completion, Options, hookimpl

_seen: set[str] = set()


PLAIN = {
    "user": ["My partner and I keep arguing about money at the end of every month. Where do we start?",
             "We have stopped talking at dinner and I miss how close we used to be. What can I try?",
             "My wife thinks I spend too much time at work, and she may be right. How do we fix this?",
             "Every holiday turns into a fight about whose family we visit. Is there a fair way to decide?",
             "He never tells me how he feels until he is angry. How can I help him open up sooner?",
             "We both want children but disagree about when. How should we talk about it calmly?"],
    "other": ["Set aside twenty quiet minutes each week to go through the numbers together, and agree on "
              "one shared rule before you look at who spent what.",
              "Start small: ask one open question at dinner and listen to the whole answer before you reply.",
              "Name one evening a week that belongs to the two of you, and protect it the way you protect "
              "a meeting with your manager.",
              "Write down what each visit means to each of you, then alternate years and keep the list for "
              "next time.",
              "Tell him what you notice without blame, for example that he seems tense, and give him time "
              "to answer in his own words.",
              "Each of you can describe the life you picture in five years; compare the two pictures before "
              "you talk about dates."],
}


def _plain(hint, key):
    choices = PLAIN["user" if key.endswith("user") or key.endswith("instruction") else "other"]
    return choices[int(hashlib.sha256(hint.encode()).hexdigest(), 16) % len(choices)]


def _fill(schema, hint, plain=False, key="", index=None):
    kind = schema.get("type")
    if kind == "object":
        return {k: _fill(sub, f"{hint} {k}", plain, k, index) for k, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_fill(schema["items"], hint, plain, key, i) for i in range(schema.get("minItems", 1) or 1)]
    if kind == "string":
        return (_plain(hint, key) if plain else hint)[: schema.get("maxLength", 200)]
    if index is not None and schema.get("enum"):  # items of a list (ratings) get different values
        return schema["enum"][-1 - index % len(schema["enum"])]
    return 1


class FillerOptions(Options):
    fail_first: bool = Field(False, description="answer each job's first request with truncated JSON")
    fail_always: bool = Field(False, description="answer every request with truncated JSON")
    voice: str = Field("echo", description="echo: replies name the direction line; plain: ordinary sentences "
                       "picked by it")


class SchemaFiller(Backend):
    name = "schema-filler"
    description = "test double: valid JSON for any schema"
    default_model = "filler-1"
    Options = FillerOptions

    async def complete(self, request):
        import json

        prompt = request.messages[-1]["content"]
        direction = re.search(r"(?:Direction|direction): (.*)", prompt)
        hint = direction.group(1).strip() if direction else "none"
        seen_key = f"{request.seed}|{prompt}"
        if self.options.fail_always or (self.options.fail_first and seen_key not in _seen):
            _seen.add(seen_key)
            return Completion(text='{"turns": [', model=self.model, finish_reason="length")
        plain = self.options.voice == "plain"
        if plain and not direction:  # an extra request (a second answer): its own words, by its seed
            hint = f"none {request.seed}"
        return Completion(text=json.dumps(_fill(request.schema, hint, plain)), model=self.model,
                          finish_reason="stop", tokens_in=len(prompt) // 4, tokens_out=10)


@hookimpl
def register_backends(register):
    register(SchemaFiller)
