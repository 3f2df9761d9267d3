"""ACME's Janus plugin: one of each kind, written only against ``janus_core``'s front door.

- backend ``acme-echo``: answers every request offline with JSON that fits the request's schema;
- output type ``acme-qa``: a question and an answer, with a house style drawn per job (``sample``)
  and a self-rating asked for after the first reply (``finish``);
- filter ``acme-marker``: eliminates records that contain a marker word and notes their length in
  ``record.meta``;
- sink ``acme-csv``: one CSV row per record;
- direction pack ``acme``: one direction, ``acme-terse``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from typing import Any

from pydantic import Field

from janus_core import (
    Ask,
    Backend,
    Completion,
    CompletionRequest,
    Direction,
    Filter,
    Limits,
    Message,
    Options,
    OutputType,
    Record,
    Sink,
    hookimpl,
)

# --- a backend -------------------------------------------------------------------------------


class EchoOptions(Options):
    prefix: str = Field("acme", description="word every answer starts with")
    marker_every: int = Field(0, ge=0, description="put the word REJECT-ME into about one answer in N (0: never)")


class EchoBackend(Backend):
    """Fills the request's JSON schema with text derived from the prompt: no network, no key."""

    name = "acme-echo"
    description = "ACME's offline echo backend"
    default_model = "echo-1"
    Options = EchoOptions

    async def complete(self, request: CompletionRequest) -> Completion:
        prompt = request.messages[-1]["content"]
        digest = hashlib.sha256(f"{request.seed}|{prompt}".encode()).hexdigest()[:8]
        text = f"{self.options.prefix} {digest}"
        if self.options.marker_every and int(digest, 16) % self.options.marker_every == 0:
            text += " REJECT-ME"
        reply = _fill(request.schema or {"type": "string"}, text)
        return Completion(text=json.dumps(reply), model=self.model, finish_reason="stop",
                          tokens_in=len(prompt) // 4, tokens_out=len(text) // 4)


def _fill(schema: dict[str, Any], text: str) -> Any:
    kind = schema.get("type")
    if kind == "object":
        return {key: _fill(sub, f"{text} {key}") for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_fill(schema["items"], text) for _ in range(schema.get("minItems", 1) or 1)]
    if kind == "integer":
        return 4
    return text[: schema.get("maxLength", 400)]


# --- an output type --------------------------------------------------------------------------

STYLES = ("formal", "plain")
RATING = {"type": "object", "required": ["score"], "properties": {"score": {"type": "integer"}}}


class QuestionAnswer(OutputType):
    name = "acme-qa"
    description = "a question and its answer, in a house style, rated by the model"

    def schema(self, limits: Limits) -> dict[str, Any]:
        text = {"type": "string", "minLength": 1, "maxLength": limits.message_chars}
        return {"type": "object", "required": ["question", "answer"],
                "properties": {"question": text, "answer": text}}

    def output_format(self, limits: Limits, derive: bool) -> str:
        return 'Answer with JSON only: {"question": "...", "answer": "..."}.'

    def parse(self, data: Any) -> list[Message]:
        if not isinstance(data, dict) or not data.get("question") or not data.get("answer"):
            raise ValueError("a reply needs a question and an answer")
        return [{"role": "user", "content": data["question"]}, {"role": "assistant", "content": data["answer"]}]

    def derive(self, parent: list[Message], new: list[Message]) -> list[Message]:
        return [m for m in parent if m["role"] == "system"] + new  # a new question replaces the old

    def sample(self, rng: random.Random, parent_meta: dict[str, Any] | None) -> dict[str, Any] | None:
        style = (parent_meta or {}).get("acme_style") or STYLES[rng.randrange(len(STYLES))]
        return {"system": f"You are ACME's assistant. Write in a {style} style.", "meta": {"acme_style": style}}

    async def finish(self, record: Record, ask: Ask, rng: random.Random) -> Record:
        rating = await ask([{"role": "user", "content": f"Rate this answer 1-5: {record.messages[-1]['content']}"}],
                           RATING)
        record.meta["acme_rating"] = rating["score"] if isinstance(rating, dict) else None
        return record


# --- a filter --------------------------------------------------------------------------------


class MarkerOptions(Options):
    marker: str = Field("REJECT-ME", min_length=1, description="records containing this word are eliminated")


class Marker(Filter):
    name = "acme-marker"
    description = "eliminates records that contain a marker word; notes each record's length in its meta"
    default = False  # on when setup.yaml names it (filters: or filter_options:)
    Options = MarkerOptions

    async def check(self, record: Record, parent: Record | None, ask: Ask) -> str | None:
        text = " ".join(m["content"] for m in record.messages)
        record.meta["acme_chars"] = len(text)
        return f"contains {self.options.marker}" if self.options.marker in text else None


# --- a sink ----------------------------------------------------------------------------------


class CsvSink(Sink):
    """One row per record: id, parent id, direction, the last question and answer."""

    name = "acme-csv"
    description = "CSV: one row per record"
    suffixes = (".csv",)

    def open(self) -> None:
        self._file = self.path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(["id", "parent_id", "direction", "question", "answer"])

    def write(self, records: list[Record]) -> None:
        for record in records:
            users = [m["content"] for m in record.messages if m["role"] == "user"]
            answers = [m["content"] for m in record.messages if m["role"] == "assistant"]
            if not users or not answers:
                self.skipped += 1
                continue
            self._writer.writerow([record.id, record.parent_id or "", record.direction, users[-1], answers[-1]])
            self.written += 1
        self._file.flush()

    def close(self) -> None:
        self._file.close()


# --- a direction pack ------------------------------------------------------------------------

TERSE = Direction(name="acme-terse", pack="acme", description="the same question, asked more tersely",
                  instructions=("Ask the same thing in half the words, as the {{ user_role }} would.",))


# --- the hooks -------------------------------------------------------------------------------


@hookimpl
def register_backends(register):
    register(EchoBackend)


@hookimpl
def register_output_types(register):
    register(QuestionAnswer())


@hookimpl
def register_filters(register):
    register(Marker())


@hookimpl
def register_sinks(register):
    register(CsvSink)


@hookimpl
def register_directions(register):
    register(TERSE)
