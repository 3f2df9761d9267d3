"""The generation plan: which requests to make, and how replies become records.

Pure functions of the spec, the walk plan and the chosen plugins; the engine does the I/O.
Seeds: every seed context x every seed direction x ``s_factor``. Derivations: every seed x every
derivational direction x ``d_factor``; a derivation continues (conversation) or rewrites
(instruct) the record it evolves and keeps its lineage. With ``counting: original`` (the original
tool's setup.yaml) a conversation seed is made once per seed context and direction, whatever
``s_factor``, and every turn of it is evolved: its first turn, its first two turns, and so on.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from janus_core.plan.documents import Chunk, Documents, render_chunks
from janus_core.plan.graph import SeedContext
from janus_core.plan.shards import Shard
from janus_core.sdk import codec
from janus_core.sdk.contracts import Completion, CompletionRequest, Direction, Limits, Message, OutputType
from janus_core.sdk.records import Record, record_id, sha256_of
from janus_core.spec.model import Spec
from janus_core.spec.templates import DOCUMENTS_BLOCK, render, transcript, undeclared

#: how many jobs' draws (``Plan.sample``) are remembered: more than the requests in flight
DRAWS_REMEMBERED = 4096


@dataclass(frozen=True)
class Job:
    """One planned request."""

    key: str
    context: SeedContext
    direction: Direction
    parent: Record | None = None
    #: 0 for a planned job; n for the n-th evolution of a parent whose earlier child was eliminated
    attempt: int = 0
    #: a record given from outside (--input), not generated: its job only starts what follows it
    given: Record | None = None

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.parent.depth + 1

    @property
    def kind(self) -> str:
        return "seed" if self.parent is None else "derive"


@dataclass(frozen=True)
class PlanCounts:
    """What a plan will ask for: seed requests and derivation requests (every round included)."""

    seeds: int
    derivations: int
    rounds: int

    @property
    def requests(self) -> int:
        return self.seeds + self.derivations


class ParseFailure(ValueError):
    """A reply that is not usable JSON for the output type."""


def decode(text: str) -> Any:
    """JSON from a reply: strict first, then mended with json-repair (code fences, trailing text)."""
    try:
        return codec.loads(text)
    except json.JSONDecodeError:
        pass
    import json_repair

    data = json_repair.loads(text)
    if data in ("", None, [], {}):
        raise ParseFailure("reply is not JSON")
    return data


class Plan:
    """Builds requests for jobs and records from replies."""

    #: how often a parent whose evolved child was eliminated is evolved again
    max_attempts = 2

    def __init__(self, spec: Spec, contexts: list[SeedContext], output_type: OutputType,
                 directions: dict[str, Direction], limits: Limits, seed: int = 0,
                 temperature: float | None = None, max_tokens: int | None = None, rounds: int | None = None,
                 given: list[Record] | None = None, turns: int = 4, documents: Documents | None = None,
                 generation: str = "one-shot", role_temperatures: dict[str, float] | None = None,
                 shard: Shard | None = None):
        self.spec = spec
        #: this run's share of the seeds (``--shard I/N``); None: every seed
        self.shard = shard if shard is not None and shard.count > 1 else None
        #: the user's documents, whose chunks ground each seed context (documents: in setup.yaml)
        self.documents = documents
        self._chunks: dict[str, list[Chunk]] = {}
        self._drawn: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self.setup = spec.setup
        self.rounds = rounds or self.setup.rounds
        #: output types that grow conversations (follow-up) go on until this many user turns
        self.grows = output_type.grows
        self.turns = turns
        self.given = list({r.id: r for r in given or []}.values())  # a conversation given twice grows once
        if self.shard is not None:
            self.given = [r for r in self.given if self.shard.owns(f"given|{r.id}")]
        self.contexts = contexts
        self.output_type = output_type
        self.limits = limits
        self.seed = seed
        self.temperature = self.setup.model.temperature if temperature is None else temperature
        self.max_tokens = max_tokens or self.setup.model.max_tokens
        directions = {**directions, **{d.name: d.to_direction() for d in self.setup.directions}}
        # a direction named twice would plan the same jobs twice
        self.seed_directions = [self._direction(d, directions) for d in dict.fromkeys(self.setup.seed_directions)]
        self.derive_directions = [self._direction(d, directions)
                                  for d in dict.fromkeys(self.setup.derivational_directions)]
        if self.grows:
            self.derive_directions = [output_type.grow_direction]
        elif not output_type.derives:
            self.derive_directions = []
        #: the original tool's conversation counting: one seed per direction, every turn evolved
        self.per_turn = self.setup.counting == "original" and output_type.name == "conversation" \
            and not self.grows
        self.s_factor = 1 if self.per_turn else self.setup.s_factor
        self.schema = output_type.schema(limits)
        #: "turns": one plain-text request per turn, where the output type can (role_play_turns);
        #: else one JSON reply per record
        can_play = output_type.role_play_turns(limits, False) is not None
        self.generation = generation if can_play else "one-shot"
        self._role_temperatures = dict(role_temperatures or {})
        output_type.prepare(spec, seed)
        output_type.generation = self.generation  # output types with extra requests (preference) follow it
        output_type.reply_temperature = (self.role_temperature("assistant") if self.generation == "turns"
                                         else self.temperature)
        from janus_core.plan.turns import RolePlay

        self.role_play: RolePlay | None = RolePlay(self) if self.generation == "turns" else None

    def role_temperature(self, role: str) -> float:
        """The temperature a role's requests use (setup.yaml model.roles.ROLE.temperature, else the run's)."""
        return self._role_temperatures.get(role, self.temperature)

    @staticmethod
    def _direction(name: str, directions: dict[str, Direction]) -> Direction:
        return directions[name] if name in directions else Direction.free_text(name)

    # --- jobs ----------------------------------------------------------------------------------

    def seed_jobs(self) -> Iterator[Job]:
        """Seed jobs in plan order, made as they are taken (a plan may hold millions)."""
        if self.given:
            context = SeedContext("input", "input", (), (), "")
            for record in self.given:
                yield Job(f"given|{record.id}", context, self.derive_directions[0], given=record)
            return
        for ctx in self.contexts:
            for d in self.seed_directions:
                for i in range(self.s_factor):
                    key = f"seed|{ctx.id}|{d.name}|{i}"
                    if self.shard is None or self.shard.owns(key):
                        yield Job(key, ctx, d)

    @cached_property
    def seed_count(self) -> int:
        if self.given:
            return len(self.given)
        if self.shard is not None:  # this share's seeds (derivations follow their seed)
            return sum(1 for _ in self.seed_jobs())
        return len(self.contexts) * len(self.seed_directions) * self.s_factor

    def _user_turns(self, record: Record) -> int:
        return sum(1 for m in record.messages if m["role"] == "user")

    def derive_jobs(self, record: Record, context: SeedContext) -> list[Job]:
        """What follows a finished record: a seed's first round (every derivational direction x
        d_factor), then one evolution per record and round, along a direction drawn by seed."""
        if self.grows:
            if self._user_turns(record) >= self.turns:
                return []
            return [Job(f"grow|{record.id}", context, self.derive_directions[0], record)]
        if record.depth >= self.rounds or not self.derive_directions:
            return []
        if record.depth == 0 and self.per_turn:
            return [Job(f"derive|{record.id}|turn{k}|{d.name}|{i}", context, d, prefix)
                    for k, prefix in enumerate(self._prefixes(record), 1)
                    for d in self.derive_directions for i in range(self.setup.d_factor)]
        if record.depth == 0:
            return [Job(f"derive|{record.id}|{d.name}|{i}", context, d, record)
                    for d in self.derive_directions for i in range(self.setup.d_factor)]
        direction = self._pick(f"{self.seed}|evolve|{record.id}")
        return [Job(f"evolve|{record.id}|{direction.name}", context, direction, record)]

    def _prefixes(self, record: Record) -> list[Record]:
        """The record cut after its first user turn's answer, its second, ... up to the whole record."""
        cuts = [i + 1 for i, m in enumerate(record.messages) if m["role"] == "assistant"
                and any(p["role"] == "user" for p in record.messages[:i])]
        return [replace(record, messages=record.messages[:cut]) for cut in cuts] or [record]

    def unplanned(self, record: Record, children: int) -> int:
        """Jobs that follow ``record`` beyond what ``planned`` counted: with per-turn evolution a
        seed is planned as one turn, and its other turns are found when it is made."""
        if not self.per_turn or record.depth != 0 or not self.derive_directions:
            return 0
        turns = children // max(1, len(self.derive_directions) * self.setup.d_factor)
        return max(0, turns - 1) * self.derivations_per_seed

    def retry_job(self, job: Job) -> Job | None:
        """After an evolved record was eliminated: its parent, evolved again along another direction."""
        if job.parent is None or job.attempt >= self.max_attempts:
            return None
        direction = self._pick(f"{self.seed}|{job.key}|retry", avoid=job.direction.name)
        return Job(f"{job.key}|retry:{direction.name}", job.context, direction, job.parent, job.attempt + 1)

    def _pick(self, key: str, avoid: str | None = None) -> Direction:
        choices = [d for d in self.derive_directions if d.name != avoid] or self.derive_directions
        return choices[random.Random(key).randrange(len(choices))]

    @property
    def derivations_per_seed(self) -> int:
        """Records planned below each seed: the first round, then one more per record per round."""
        if self.grows:
            return max(0, self.turns - 1)
        return len(self.derive_directions) * self.setup.d_factor * self.rounds

    def planned(self, seeds: int) -> int:
        """Records a run of ``seeds`` seed jobs plans (given records are not new ones)."""
        if self.given:
            return sum(max(0, self.turns - self._user_turns(r)) for r in self.given[:seeds])
        return seeds * (1 + self.derivations_per_seed)

    def seeds_planned(self, max_seeds: int | None = None) -> int:
        """Seed jobs a run takes: every one, or the first ``max_seeds``."""
        return min(self.seed_count, max_seeds) if max_seeds else self.seed_count

    def counts(self, max_seeds: int | None = None) -> PlanCounts:
        """The requests a run plans, counted once for ``validate``, ``--dry-run`` and the engine's
        progress (given records are not requests; the judge's and an output type's extra asks are not
        counted)."""
        jobs = self.seeds_planned(max_seeds)
        seeds = 0 if self.given else jobs
        return PlanCounts(seeds=seeds, derivations=self.planned(jobs) - seeds, rounds=self.rounds)

    def below(self, job: Job) -> int:
        """Records planned below a job's record (skipped when the job fails for good)."""
        if self.grows:
            start = self._user_turns(job.parent) + 1 if job.parent is not None else 1
            return max(0, self.turns - start)
        return self.derivations_per_seed if job.parent is None else self.rounds - job.depth

    # --- prompts -------------------------------------------------------------------------------

    def _rng(self, job: Job, attempt: int) -> random.Random:
        return random.Random(f"{self.seed}|{job.key}|{attempt}")

    def sample(self, job: Job) -> dict[str, Any] | None:
        """What the output type draws for this job (the same every time for the same job), its
        "system" message already opening with the spec's system_prompt (``drawn_system``). A job's
        request and its record both need it: the last few thousand draws are remembered, since
        seeding a random state by a string costs more than the rest of the draw."""
        if job.key in self._drawn:
            return self._drawn[job.key]
        parent_meta = job.parent.meta if job.parent is not None else None
        drawn = self.output_type.sample_for(job.context, random.Random(f"{self.seed}|{job.key}|sample"), parent_meta)
        if drawn and drawn.get("system"):
            drawn = {**drawn, "system": self.drawn_system(drawn)}
        self._drawn[job.key] = drawn
        if len(self._drawn) > DRAWS_REMEMBERED:
            self._drawn.popitem(last=False)
        return drawn

    def _values(self, job: Job, rng: random.Random) -> dict[str, Any]:
        s = self.setup
        values = {"diagram": self.spec.diagram.source.strip(), "context": job.context.description,
                  "user_role": s.user_role, "assistant_role": s.assistant_role, "description": s.description,
                  "entities": list(job.context.entities),
                  "output_format": self.output_type.output_format(self.limits, derive=job.parent is not None),
                  "previous": ""}
        chunks = self.chunks(job)
        values["documents"] = render_chunks(chunks) if chunks else ""
        instruction = job.direction.instruction(rng)
        values["direction"] = render(instruction, **values) if "{" in instruction else instruction
        drawn = self.sample(job)
        if drawn and drawn.get("system"):
            values["output_format"] += "\n\nThe assistant follows this system message:\n" + drawn["system"]
        if drawn and drawn.get("brief"):
            values["output_format"] += "\n\n" + drawn["brief"]
        if job.parent is not None:
            shown = [m for m in job.parent.messages if m["role"] != "system"]
            values["previous"] = transcript(shown, s.user_role, s.assistant_role)
        return values

    def chunks(self, job: Job) -> list[Chunk]:
        """The document chunks that ground this job's seed context (none without documents)."""
        if self.documents is None:
            return []
        found = self._chunks.get(job.context.id)
        if found is None:
            found = self._chunks[job.context.id] = self.documents.for_context(job.context.entities,
                                                                               self.setup.chunking.per_context)
        return found

    def request(self, job: Job, attempt: int = 0) -> CompletionRequest:
        rng = self._rng(job, attempt)
        values = self._values(job, rng)
        if job.parent is None:
            template = self.setup.seed_prompt
        else:
            template = job.direction.template or self.setup.derivational_prompt
        text = render(template, **values)
        if values["documents"] and "documents" not in undeclared(template):
            text += "\n\n" + render(DOCUMENTS_BLOCK, **values)
        messages: list[Message] = [{"role": "user", "content": text}]
        return CompletionRequest(messages=messages, schema=self.schema, schema_name=self.output_type.name,
                                 max_tokens=self.max_tokens, temperature=self.temperature,
                                 seed=rng.randrange(2**31))

    def reask(self, request: CompletionRequest, reply: str, error: str) -> CompletionRequest:
        """The same request once more, showing the model its unusable reply and why."""
        messages = [*request.messages, {"role": "assistant", "content": reply[:4000]},
                    {"role": "user", "content": f"That reply is not usable: {error}. Answer again with JSON "
                                                "only, in exactly the shape asked for."}]
        return replace(request, messages=messages)

    @staticmethod
    def more_room(request: CompletionRequest, completion: Completion) -> CompletionRequest:
        """The same request with twice the output tokens, after a truncated reply."""
        current = request.max_tokens or max(completion.tokens_out, 256)
        return replace(request, max_tokens=current * 2)

    @cached_property
    def system_messages(self) -> list[Message]:
        """The system message every seed record starts with (none without setup.yaml system_prompt)."""
        if not self.setup.system_prompt:
            return []
        text = render(self.setup.system_prompt, user_role=self.setup.user_role,
                      assistant_role=self.setup.assistant_role, description=self.setup.description)
        return [{"role": "system", "content": text}]

    def drawn_system(self, drawn: dict[str, Any]) -> str:
        """The system message an output type drew; the spec's system_prompt, when it has one, takes
        the place of the drawn message's ``opening`` (or comes first). A message that opens with the
        spec's system_prompt already (what ``sample`` returns) is kept as it is."""
        system = drawn["system"]
        if not self.system_messages:
            return system
        spec_text = self.system_messages[0]["content"].strip()
        if system.startswith(spec_text):
            return system
        opening = drawn.get("opening") or ""
        if opening and system.startswith(opening):
            return spec_text + system[len(opening):]
        return f"{spec_text}\n{system}"

    # --- records -------------------------------------------------------------------------------

    def record(self, job: Job, request: CompletionRequest, text: str, model: str) -> Record:
        """A record from a reply; raises ParseFailure when the reply does not fit the output type."""
        try:
            new = self.output_type.parse(decode(text))
        except ParseFailure:
            raise
        except (ValueError, TypeError) as exc:
            raise ParseFailure(str(exc)) from None
        parent = job.parent
        if parent is not None:
            messages = self.output_type.derive(parent.messages, new)
        else:
            messages = self.seed_messages(job) + new
        return self.make_record(job, messages, sha256_of(request.messages), model)

    def seed_messages(self, job: Job) -> list[Message]:
        """The system message a seed record starts with: the one the output type drew (opening with
        the spec's system_prompt), else the spec's system_prompt; none without either."""
        drawn = self.sample(job) or {}
        if drawn.get("system"):
            return [{"role": "system", "content": drawn["system"]}]
        return list(self.system_messages)

    def record_id(self, job: Job) -> str:
        """The id of the record a job makes: its key and this run's seed."""
        return record_id(job.key, self.seed)

    def make_record(self, job: Job, messages: list[Message], prompt_sha256: str, model: str) -> Record:
        """A job's record holding ``messages``, with its provenance."""
        parent = job.parent
        drawn = self.sample(job) or {}
        rid = self.record_id(job)
        walk = job.context.provenance()
        chunks = self.chunks(job)
        if chunks:
            walk["chunks"] = [c.id for c in chunks]
        return Record(messages=messages, id=rid, seed_id=parent.seed_id if parent else rid,
                      parent_id=parent.id if parent else None, direction=job.direction.name,
                      walk=walk, model=model,
                      prompt_sha256=prompt_sha256, output_type=self.output_type.name,
                      depth=parent.depth + 1 if parent else 0, meta=self._meta(drawn))

    def _meta(self, drawn: dict[str, Any]) -> dict[str, Any]:
        meta = dict(drawn.get("meta") or {})
        if self.setup.category:  # the original tool's category, for its outputs.json shape
            meta["category"] = self.setup.category
        return meta
