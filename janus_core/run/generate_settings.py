"""What ``janus generate`` and ``janus_core.generate`` are asked for, by the CLI flags' names, and the
one function that turns it into a run's settings: both front doors build their session through it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from janus_core.plan.shards import Shard
from janus_core.plugins import Plugins
from janus_core.run.engine import EngineSettings
from janus_core.run.session import RunSettings
from janus_core.sdk.errors import JanusError, did_you_mean
from janus_core.spec.model import Spec


@dataclass
class GenerateSettings:
    """One field per ``janus generate`` flag (``--max-cost`` is ``max_cost``), with the CLI's defaults."""

    backend: str | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    output_type: str | None = None
    generation: str | None = None
    s_factor: int | None = None
    d_factor: int | None = None
    #: setup.yaml's ``filter_options`` as the run uses them (None: setup.yaml's as they are)
    filter_options: dict[str, dict[str, Any]] | None = None
    no_filters: bool = False
    input: str | None = None
    turns: int = 4
    rounds: int | None = None
    sink: str | None = None
    overwrite: bool = False
    retry_failed: bool = False
    seed: int = 0
    temperature: float | None = None
    concurrency: int | None = None
    rpm: float | None = None
    tpm: int | None = None
    retries: int = 4
    max_requests: int | None = None
    rate_limit_wait: float = 900.0
    max_cost: float | None = None
    max_seeds: int | None = None
    target: int | None = None
    extend_limit: int = 10
    batch: bool = False
    batch_poll: float = 30.0
    executor: str = "local"
    ray_address: str | None = None
    workers: int = 2
    shard: Shard | None = None
    against: tuple[str, ...] = ()

    @classmethod
    def from_keywords(cls, values: dict[str, Any]) -> GenerateSettings:
        """The settings from keyword arguments; an unknown name is a JanusError with a did-you-mean."""
        known = [f.name for f in dataclasses.fields(cls)]
        for name in values:
            if name not in known:
                raise JanusError(f"generate() takes no setting {name!r}.{did_you_mean(name, known)} "
                                 f"Settings: {', '.join(known)}")
        if isinstance(values.get("shard"), str):  # "I/N", as --shard takes it
            values = {**values, "shard": Shard.parse(values["shard"])}
        return cls(**values)


def run_settings(spec: Spec, plugins: Plugins, given: GenerateSettings, notes: list[str]) -> RunSettings:
    """The run's settings from what was asked; what the flags change in setup.yaml (output type,
    factors, filters) is set on ``spec``, and what the user should know is added to ``notes``."""
    updates: dict[str, Any] = {}
    if given.output_type:
        updates["output_type"] = given.output_type
    if given.generation:
        updates["generation"] = given.generation
    if given.s_factor:
        updates["s_factor"] = given.s_factor
    if given.d_factor is not None:
        updates["d_factor"] = given.d_factor
    if given.filter_options is not None and given.filter_options != spec.setup.filter_options:
        updates["filter_options"] = given.filter_options
    if given.no_filters:
        updates["filters"], updates["filter_options"] = [], {}
    if updates:
        spec.setup = spec.setup.model_copy(update=updates)
        plugins.registry.get("output_types", spec.setup.output_type)
    if given.s_factor and given.s_factor > 1 and spec.setup.counting == "original" \
            and spec.setup.output_type == "conversation":
        notes.append("--s-factor is not used: the original tool's conversation mode makes one seed per seed "
                     "direction (Janus: per seed context and direction); --type instruct uses it")
    model_options = spec.setup.model
    engine = EngineSettings(concurrency=given.concurrency, retries=given.retries,
                            requests_per_minute=given.rpm or model_options.requests_per_minute,
                            tokens_per_minute=given.tpm or model_options.tokens_per_minute, max_cost=given.max_cost,
                            max_requests=given.max_requests, retry_failed=given.retry_failed,
                            max_seeds=given.max_seeds, rate_limit_patience=given.rate_limit_wait,
                            target=given.target, extend_limit=given.extend_limit, batch=given.batch,
                            batch_poll=given.batch_poll)
    if given.batch:  # every job in hand waits for its batch: hold as many as one batch takes
        engine.concurrency = max(engine.concurrency or 0, 50_000)
    return RunSettings(backend=given.backend, model=given.model, options=dict(given.options), out=given.out,
                       sink=given.sink, overwrite=given.overwrite, seed=given.seed, temperature=given.temperature,
                       engine=engine, rounds=given.rounds, input=given.input, turns=given.turns,
                       against=tuple(given.against), shard=given.shard, executor=given.executor,
                       ray_address=given.ray_address, workers=given.workers)
