"""A test backend plugin (loaded with --plugin): answers any schema with made-up valid JSON.

Replies name the request's direction line, so tests can see which direction was used. Options
``fail_first`` and ``fail_always`` answer with truncated JSON (finish_reason "length").
"""

from __future__ import annotations

import re

from pydantic import Field

from janus_core import Backend, Completion, Options, hookimpl

_seen: set[str] = set()


def _fill(schema, hint):
    kind = schema.get("type")
    if kind == "object":
        return {key: _fill(sub, f"{hint} {key}") for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_fill(schema["items"], hint) for _ in range(schema.get("minItems", 1) or 1)]
    if kind == "string":
        return hint[: schema.get("maxLength", 200)]
    return 1


class FillerOptions(Options):
    fail_first: bool = Field(False, description="answer each job's first request with truncated JSON")
    fail_always: bool = Field(False, description="answer every request with truncated JSON")


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
        return Completion(text=json.dumps(_fill(request.schema, hint)), model=self.model,
                          finish_reason="stop", tokens_in=len(prompt) // 4, tokens_out=10)


@hookimpl
def register_backends(register):
    register(SchemaFiller)
