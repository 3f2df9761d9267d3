"""One generation run: a ``Session`` picks the plugins a spec asks for, resumes from the journal and
drives the engine; whoever shows the run (the CLI's ``janus_core.cli.progress``) gets its events."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import itertools
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_core.plan.graph import seed_contexts
from janus_core.plan.jobs import Plan, PlanCounts
from janus_core.plan.shards import Shard
from janus_core.plugins import Plugins
from janus_core.run.cost import check_max_cost, price_table, prices
from janus_core.run.engine import Engine, EngineSettings, Stats
from janus_core.run.journal import Journal, has_content, journal_files, journal_path
from janus_core.run.lock import RunLock
from janus_core.sdk.contracts import refuse_key_options
from janus_core.sdk.errors import JanusError
from janus_core.sdk.model_names import backend_for_model
from janus_core.sdk.records import sha256_of
from janus_core.sdk.schema import max_json_chars
from janus_core.spec.model import Spec

DEFAULT_BACKEND = "local"


@dataclass
class RunSettings:
    backend: str | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    sink: str | None = None
    overwrite: bool = False
    seed: int = 0
    temperature: float | None = None
    engine: EngineSettings = field(default_factory=EngineSettings)
    rounds: int | None = None
    input: str | None = None
    turns: int = 4
    against: tuple[str, ...] = ()
    #: ``--shard I/N``: plan only this share of the seeds
    shard: Shard | None = None
    #: "local" (this process) or "ray" (the seeds split between ``workers`` Ray actors)
    executor: str = "local"
    ray_address: str | None = None
    workers: int = 2


def output_path(spec: Spec, settings: RunSettings) -> Path:
    if settings.out:
        return Path(settings.out)
    return Path("out") / f"{spec.name}-{spec.setup.output_type}.jsonl"


def choose_sink(plugins: Plugins, path: Path, name: str | None) -> Any:
    sinks = plugins.registry.sinks
    if name:
        return plugins.registry.get("sinks", name)
    for reg in sinks.values():
        if path.suffix in reg.obj.suffixes:
            return reg.obj
    raise JanusError(f"no sink writes '{path.suffix or path.name}' files; choose one with --sink "
                     f"({', '.join(sorted(sinks))})")


def backend_choice(plugins: Plugins, spec: Spec, settings: RunSettings) -> tuple[Any, str | None, dict]:
    """The backend class, model name and options of the run. Without ``--backend`` and setup.yaml's
    ``model.backend``, the model name picks the backend (``janus_core.sdk.model_names``): ``gpt-4o-mini``
    runs on openai, ``claude-...`` on anthropic, ``ollama/llama3.1`` on litellm; else the default."""
    model_options = spec.setup.model
    model = settings.model or model_options.name
    name = settings.backend or model_options.backend
    if name is None:
        picked = model_backend(model, plugins)
        name, model = picked if picked is not None else (DEFAULT_BACKEND, model)
    backend_cls = plugins.registry.get("backends", name)
    options = {**model_options.options, **settings.options}
    refuse_key_options(backend_cls, model, settings.options, "--option")
    backend_cls.check_model(model, options)
    return backend_cls, model, options


def model_backend(model: str | None, plugins: Plugins) -> tuple[str, str] | None:
    """The registered backend a model name picks, and the name as it takes it; None when the name
    picks none (or picks a backend turned off)."""
    if not model:
        return None
    picked = backend_for_model(model)
    if picked is None:  # a bare name the prefixes miss: litellm's model table may know its provider
        picked = backend_for_model(model, price_table())
    return picked if picked is not None and picked[0] in plugins.registry.backends else None


def role_choices(plugins: Plugins, spec: Spec, settings: RunSettings) -> dict[str, tuple[Any, str | None, dict]]:
    """The backend class, model and options of each role setup.yaml ``model.roles`` names (user,
    assistant, judge); a role's backend defaults to the main one, and on the same backend its model
    and options too. Roles not named use the main model."""
    main_cls, main_model, main_options = backend_choice(plugins, spec, settings)
    chosen = {}
    for role, given in spec.setup.model.roles.items():
        cls = plugins.registry.get("backends", given.backend) if given.backend else main_cls
        same = cls is main_cls
        model = given.name or (main_model if same else None)
        options = {**(main_options if same else {}), **given.options}
        refuse_key_options(cls, model, given.options, f"setup.yaml model.roles.{role}.options:")
        cls.check_model(model, options)
        chosen[role] = (cls, model, options)
    return chosen


def generation_for(spec: Spec, backend_cls: Any) -> str:
    """setup.yaml's ``generation``, else the backend's default (turns for the embedded model)."""
    return spec.setup.generation or backend_cls.default_generation


def build_backend(spec: Spec, settings: RunSettings, backend_cls: Any, model: str | None,
                  options: dict[str, Any]) -> Any:
    """The backend, its options validated once: a bad setup.yaml value is named at its line and
    column, a bad ``--option`` by its flag."""
    from janus_core.sdk.options import OptionsError
    from janus_core.spec.model import option_errors

    try:
        return backend_cls(model=model, options=options)
    except OptionsError as exc:
        raise option_errors(spec, exc, settings.options) from None


def check_backend_options(spec: Spec, settings: RunSettings, backend_cls: Any, options: dict[str, Any]) -> None:
    """What ``build_backend`` checks of the options, without building the backend (``--dry-run``)."""
    from janus_core.sdk.options import OptionsError
    from janus_core.spec.model import option_errors

    try:
        backend_cls.check_options(options)
    except OptionsError as exc:
        raise option_errors(spec, exc, settings.options) from None


def make_plan(spec: Spec, plugins: Plugins, settings: RunSettings, backend_cls: Any,
              notes: list[str] | None = None) -> Plan:
    """The run's plan; what reading --input left out is added to ``notes``."""
    output_type = plugins.registry.get("output_types", spec.setup.output_type)
    directions = {name: reg.obj for name, reg in plugins.registry.directions.items()}
    contexts = seed_contexts(spec, settings.seed)
    limits = spec.setup.limits_for(backend_cls.suggested_limits)
    given = None
    if settings.input:
        if not output_type.grows:
            raise JanusError(f"--input is for output types that grow conversations (follow-up), not "
                             f"'{output_type.name}'")
        from janus_core.plan.inputs import load_conversations, skipped_note

        left_out: Counter[str] = Counter()
        given = load_conversations(settings.input, left_out)
        if notes is not None and (note := skipped_note(f"--input {settings.input}", left_out)):
            notes.append(note)
    roles = {role: r.temperature for role, r in spec.setup.model.roles.items() if r.temperature is not None}
    if settings.temperature is None and "temperature" not in spec.setup.model.model_fields_set:
        roles = {**backend_cls.suggested_temperatures, **roles}
    return Plan(spec, contexts, output_type, directions, limits, seed=settings.seed, shard=settings.shard,
                temperature=settings.temperature, rounds=settings.rounds, given=given, turns=settings.turns,
                documents=load_documents(spec), generation=generation_for(spec, backend_cls),
                role_temperatures=roles)


def load_documents(spec: Spec) -> Any:
    """The spec's documents, chunked and attached to entities (None without ``documents:``)."""
    if not spec.setup.documents:
        return None
    from janus_core.plan.documents import Documents

    c = spec.setup.chunking
    return Documents.load(spec.folder, spec.setup.documents, spec.diagram, c.words, c.overlap)


def choose_filters(plugins: Plugins, spec: Spec) -> list[Any]:
    """setup.yaml's ``filters:`` by name (else every filter that is on by default), plus every
    filter that ``filter_options:`` configures, each given its spec and options."""
    from janus_core.spec.model import filter_options

    table = plugins.registry.filters
    options = filter_options(spec.setup.filter_options, table)
    if spec.setup.filters is None:
        names = [name for name, reg in table.items() if reg.obj.default]
    else:
        names = list(spec.setup.filters)
    names += [name for name in spec.setup.filter_options if name not in names]
    # the registry's order, which puts duplicate last: it remembers what it passes
    chosen = [reg.obj for name, reg in table.items() if name in names]
    for f in chosen:
        if len(inspect.signature(f.configure).parameters) >= 2:
            f.configure(spec, options.get(f.name))
        else:  # a plugin written before filters took options
            f.configure(spec)
    return chosen


def fingerprint(spec: Spec, backend: str, model: str, settings: RunSettings, documents: Any = None) -> str:
    """What must match for a rerun to continue a journal (s/d factors and rounds may grow a run)."""
    # filters may change between runs: records already made stay, new ones meet the new filters
    setup = spec.setup.model_dump(exclude={"s_factor", "d_factor", "rounds", "filters", "filter_options",
                                           *(() if spec.setup.documents else ("documents", "chunking"))})
    key = {"setup": setup, "diagram": spec.diagram.source, "backend": backend, "model": model,
           "seed": settings.seed, "temperature": settings.temperature, "input": settings.input}
    if documents is not None:  # what the documents say, not only where they are
        key["documents"] = sha256_of([[c.id, c.text] for c in documents.chunks])
    if sharded(settings):  # a share continues only as the same share; unsharded keys stay as they were
        key["shard"] = str(settings.shard)
    return sha256_of(key)


def sharded(settings: RunSettings) -> bool:
    return settings.shard is not None and settings.shard.count > 1


def fingerprint_parts(spec: Spec, backend: str, model: str, settings: RunSettings,
                      documents: Any = None) -> dict[str, Any]:
    """What the fingerprint is made of, part by part (setup.yaml fields hashed), so a refusal can
    name what changed."""
    setup = spec.setup.model_dump(exclude={"s_factor", "d_factor", "rounds", "filters", "filter_options",
                                           *(() if spec.setup.documents else ("documents", "chunking"))})
    parts: dict[str, Any] = {f"setup.yaml {name}": sha256_of(value) for name, value in setup.items()}
    parts.update({"diagram": sha256_of(spec.diagram.source), "backend": backend, "model": model,
                  "seed": settings.seed, "temperature": settings.temperature, "input": settings.input})
    if documents is not None:
        parts["documents"] = sha256_of([[c.id, c.text] for c in documents.chunks])
    if sharded(settings):
        parts["shard"] = str(settings.shard)
    return parts


def what_changed(earlier: dict[str, Any] | None, now: dict[str, Any]) -> str:
    """The parts of a run's fingerprint that differ, in words ('backend openai -> litellm'); empty
    when the journal does not say (one written before the parts were kept)."""
    if not earlier:
        return ""
    changed = []
    for name in dict.fromkeys([*earlier, *now]):
        before, after = earlier.get(name), now.get(name)
        if before == after:
            continue
        hashed = name.startswith("setup.yaml") or name in ("diagram", "documents")
        changed.append(f"{name} changed" if hashed else f"{name} {before!r} -> {after!r}")
    return "; ".join(changed)


def continuation_refused(journal: Journal, key: str, also: str | None, parts: dict[str, Any]) -> str | None:
    """Why a run with fingerprint ``key`` cannot continue ``journal`` (None when it can)."""
    earlier = journal.get_meta("fingerprint")
    if earlier is None or earlier == key or (also is not None and earlier == also):
        return None
    changed = what_changed(journal.get_meta("fingerprint_parts"), parts)
    return "it was generated from a different spec, backend, model, seed or temperature" + \
        (f" ({changed})" if changed else "")


def earlier_fingerprint(spec: Spec, backend: str, model: str, settings: RunSettings) -> str | None:
    """The key a run started before filters took options (0.1 journals) has for this same spec."""
    if spec.setup.documents or spec.setup.filter_options or sharded(settings):
        return None
    setup = spec.setup.model_dump(exclude={"s_factor", "d_factor", "rounds", "filter_options", "documents",
                                           "chunking"})
    for name in ("seed_prompt", "derivational_prompt"):  # the default templates had no documents block
        setup[name] = re.sub(r"\{% if documents %\}.*?\{% endif %\}", "", setup[name], flags=re.S)
    return sha256_of({"setup": setup, "diagram": spec.diagram.source, "backend": backend, "model": model,
                      "seed": settings.seed, "temperature": settings.temperature, "input": settings.input})


def open_journal(out: Path, key: str, overwrite: bool, also: str | None = None,
                 parts: dict[str, Any] | None = None) -> Journal:
    """The journal beside ``out``, checked to belong to this run (``key``, or ``also``: the same
    run's key as an earlier version wrote it, which is then brought up to date)."""
    path = journal_path(out)
    if overwrite:
        for p in (out, *journal_files(path)):
            p.unlink(missing_ok=True)
    elif out.exists() and not path.exists():
        raise JanusError(f"{out} exists and has no journal, so Janus cannot continue it; pass --overwrite to "
                         "replace it or --out to write elsewhere")
    journal = Journal(path)  # checked before the output is touched: a bad journal stops the run here
    if not overwrite and journal.count_records() == 0 and has_content(out):
        journal.close()
        raise JanusError(f"{out} holds records but its journal {path.name} has none (emptied or replaced?); "
                         f"continuing would pay for every request again, so nothing was changed. 'janus doctor "
                         f"{out}' checks both, '--repair' brings the records back into the journal; --overwrite "
                         "starts over")
    refused = continuation_refused(journal, key, also, parts or {})
    if refused:
        journal.close()
        raise JanusError(f"{out} cannot be continued: {refused}; pass --overwrite to start over or --out to "
                         "write elsewhere")
    if journal.get_meta("fingerprint") != key:
        journal.set_meta("fingerprint", key)
    if parts is not None and journal.get_meta("fingerprint_parts") != parts:
        journal.set_meta("fingerprint_parts", parts)
    return journal


def load_against(plugins: Plugins, value: str, notes: list[str] | None = None) -> list[Any]:
    """Records of an --against dataset: a local file or folder, else what a plugin opens (a Hub id).
    What reading a local one left out (tool calls, images) is added to ``notes``."""
    from janus_core.plan.inputs import load_conversations, skipped_note

    if Path(value).exists():
        left_out: Counter[str] = Counter()
        records = load_conversations(value, left_out)
        if notes is not None and (note := skipped_note(f"--against {value}", left_out)):
            notes.append(note)
        return records
    records = plugins.pm.hook.open_dataset(location=value)
    if records is None:
        raise JanusError(f"--against {value}: no such file or folder, and no plugin opens it "
                         "(a Hugging Face Hub dataset is written owner/name)")
    return records


def record_run(journal: Journal, spec: Spec, settings: RunSettings, backend: Any, the_plan: Plan,
               filters: list[Any], roles: dict[str, Any] | None = None) -> None:
    """Keep the spec's files and the run's configuration in the journal, for dataset cards."""
    from janus_core import __version__
    from janus_core.spec.model import spec_files

    def shown(value: str | None) -> str | None:  # a local file by its name only: cards may be public
        return Path(value).name if value and Path(value).exists() else value

    setup = spec.setup
    journal.set_meta("spec", {"name": spec.name, "folder": str(spec.folder.resolve()), "files": spec_files(spec)})
    if sharded(settings):  # what 'janus merge' checks the shares against, and the whole run's key it gives
        whole = dataclasses.replace(settings, shard=None)
        journal.set_meta("shard", {
            "index": settings.shard.index, "count": settings.shard.count,
            "fingerprint": fingerprint(spec, backend.name, backend.model, whole, the_plan.documents),
            "fingerprint_parts": fingerprint_parts(spec, backend.name, backend.model, whole, the_plan.documents)})
    journal.set_meta("run", {
        "janus": __version__, "spec": spec.name, "output_type": setup.output_type, "backend": backend.name,
        # the options' names only: their values may be private
        "model": backend.model, "backend_options": sorted(backend.options.model_fields_set),
        "generation": the_plan.generation,
        "roles": {role: {"backend": b.name, "model": b.model} for role, b in (roles or {}).items()},
        "seed": settings.seed, "temperature": the_plan.temperature, "s_factor": setup.s_factor,
        "d_factor": setup.d_factor, "rounds": the_plan.rounds, "seed_directions": list(setup.seed_directions),
        "derivational_directions": list(setup.derivational_directions), "filters": [f.name for f in filters],
        "walk": setup.walk.model_dump(), "max_seeds": settings.engine.max_seeds,
        "max_requests": settings.engine.max_requests, "max_cost": settings.engine.max_cost,
        "target": settings.engine.target,
        "input": shown(settings.input), "turns": settings.turns if settings.input else None,
        "shard": str(settings.shard) if sharded(settings) else None,
        "against": [shown(value) for value in settings.against]})


# --- the session --------------------------------------------------------------------------------

@dataclass
class Estimate:
    """What a dry run prints: the plan's requests, an estimate of tokens and cost, and what is done."""

    backend: str
    model: str
    counts: PlanCounts
    already_done: int
    estimated_tokens_in: int
    estimated_tokens_out: int
    estimated_cost: float | None
    out: str = ""
    seed_requests_by_direction: dict[str, int] = field(default_factory=dict)
    seed_contexts: int = 0
    #: why the real run would refuse to continue the output's journal (None: it would not)
    refused: str | None = None
    #: what --target plans (None without it)
    target: dict[str, Any] | None = None
    #: --batch: the share of the online price the estimate uses (None: online)
    batch_price: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "model": self.model, "seed_requests": self.counts.seeds,
                "derivation_requests": self.counts.derivations, "requests": self.counts.requests,
                "rounds": self.counts.rounds, "already_done": self.already_done,
                "estimated_tokens_in": self.estimated_tokens_in, "estimated_tokens_out": self.estimated_tokens_out,
                "estimated_cost": self.estimated_cost, "out": self.out,
                "seed_requests_by_direction": self.seed_requests_by_direction, "seed_contexts": self.seed_contexts,
                "refused": self.refused, "batch_price": self.batch_price,
                **({"target": self.target} if self.target is not None else {})}


def plan_target(the_plan: Plan, engine: EngineSettings, estimate: dict[str, Any]) -> dict[str, Any]:
    """What --target plans: the records still to make, the further seeds that takes (before any
    filter eliminates a record), how far the plan may grow, and the requests and cost at the plan's
    average per record."""
    from janus_core.plan.extend import Extension

    target, done = engine.target, estimate["already_done"]
    base_seeds = estimate["seed_requests"]
    base_records = base_seeds + estimate["derivation_requests"]
    per_seed = base_records / base_seeds if base_seeds else 0
    limit = engine.extend_limit * the_plan.seed_count
    if engine.max_seeds:
        limit = min(limit, engine.max_seeds)
    ext = Extension(the_plan)
    seeds = -(-target // per_seed) if per_seed else 0
    further = int(max(0, seeds - base_seeds)) if ext.possible else 0
    if further:  # the further walks the first rounds find
        for _ in itertools.islice(ext.jobs(), max(0, min(further, limit - base_seeds))):
            pass
    to_make = max(0, target - done)
    within = seeds <= base_seeds or (ext.possible and seeds <= limit)
    reachable = to_make == 0 or (bool(per_seed) and within)
    share = to_make / base_records if base_records else 0
    cost = estimate["estimated_cost"]
    return {"records": target, "to_make": to_make, "plan_records": base_records, "further_seeds": further,
            "further_walks": ext.walked, "seed_limit": limit,
            "reachable": reachable,
            "requests": to_make, "estimated_tokens_in": int(estimate["estimated_tokens_in"] * share),
            "estimated_tokens_out": int(estimate["estimated_tokens_out"] * share),
            "estimated_cost": None if cost is None else round(cost * share, 4)}


class RunView:
    """What a session tells whoever shows the run; this one shows nothing (the CLI draws progress and
    the summary with its own, ``janus_core.cli.progress``)."""

    def note(self, text: str) -> None:
        """Something to know before the run goes (what reading --against left out)."""

    def started(self, session: Session, resumed: int) -> None:
        """The run is about to send requests; ``resumed`` records were done by earlier runs."""

    async def watch(self, stats: Stats) -> None:
        """Show progress from ``stats`` (updated as the run goes) until cancelled."""

    def interrupted(self, session: Session) -> None:
        """Ctrl-C: the run stops; what is finished is kept."""

    def finished(self, session: Session, stats: Stats) -> None:
        """The run is over (done, or stopped by a budget or a rate limit)."""


class Session:
    """One generation run, built once: the spec, the plugins and the settings, and from them the
    output path, the backend, the plan, the filters, the journal and the sink."""

    def __init__(self, spec: Spec, plugins: Plugins, settings: RunSettings):
        self.spec, self.plugins, self.settings = spec, plugins, settings
        if settings.executor == "ray" and (settings.shard is not None or settings.engine.target is not None
                                           or settings.engine.batch):
            raise JanusError("--executor ray splits the seeds itself: it does not go with --shard, --target or "
                             "--batch")
        if sharded(settings) and settings.engine.target is not None:
            raise JanusError("--target counts the records of the whole run, and a --shard run makes only its "
                             "share: give the shares no --target (merge them, then 'janus generate --target' "
                             "continues the merged output), or run without --shard")
        self.out = output_path(spec, settings)
        self.backend_cls, self.model, self.options = backend_choice(plugins, spec, settings)
        #: the backends of setup.yaml's ``model.roles`` (the assistant's replaces the main one)
        self.role_choices = role_choices(plugins, spec, settings)
        if "assistant" in self.role_choices:
            self.backend_cls, self.model, self.options = self.role_choices.pop("assistant")
        if settings.engine.batch and not self.backend_cls.batches:
            raise JanusError(f"--batch: the {self.backend_cls.name} backend has no batch API (the openai backend "
                             "has one, for OpenAI and the servers that offer its batches endpoints)")
        check_max_cost(settings.engine.max_cost, [
            (cls.name, model or cls.default_model)
            for cls, model, _ in [(self.backend_cls, self.model, None), *self.role_choices.values()] if cls.priced])
        #: what the user should know about the run's inputs (conversations --input or --against left out)
        self.notes: list[str] = []
        self.plan = make_plan(spec, plugins, settings, self.backend_cls, self.notes)
        # made by run(): nothing is called, opened or written before it
        self.backend: Any = None
        self.roles: dict[str, Any] = {}
        self.filters: list[Any] = []
        self.journal: Journal | None = None
        self.sink: Any = None
        self.engine: Engine | None = None
        #: the event loop and task of a run going (``interrupt``), and whether one was asked to stop
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task] | None = None
        self.interrupted = False

    # --- dry run -------------------------------------------------------------------------------

    def estimate(self) -> Estimate:
        """Planned requests and an estimated cost, without calling anything."""
        for cls, options in [(self.backend_cls, self.options), *((c, o) for c, _, o in self.role_choices.values())]:
            check_backend_options(self.spec, self.settings, cls, options)
        the_plan = self.plan
        model = self.model or self.backend_cls.default_model
        counts = the_plan.counts(self.settings.engine.max_seeds)
        seeds = list(itertools.islice((job for job in the_plan.seed_jobs() if job.given is None), counts.seeds))
        seed_in = sum(len(the_plan.request(job).messages[0]["content"]) for job in seeds) / 4
        reply = (max_json_chars(the_plan.schema) or 4000) / 2 / 4  # half the largest reply, 4 chars a token
        derive_in = counts.derivations * (seed_in / max(len(seeds), 1) + reply)
        tokens_in = int(seed_in + derive_in)
        tokens_out = int(reply * (len(seeds) + counts.derivations))
        price = prices(model) if self.backend_cls.priced else (0.0, 0.0)
        discount = self.backend_cls.batch_discount if self.settings.engine.batch else 1.0
        done, refused = 0, None
        if not self.settings.overwrite:
            with Journal.beside(self.out) as journal:
                if journal is not None:  # the same check the real run makes: promise no continuation it would refuse
                    spec, settings, documents = self.spec, self.settings, the_plan.documents
                    refused = continuation_refused(
                        journal, fingerprint(spec, self.backend_cls.name, model, settings, documents),
                        earlier_fingerprint(spec, self.backend_cls.name, model, settings),
                        fingerprint_parts(spec, self.backend_cls.name, model, settings, documents))
                    done = 0 if refused else journal.count_records()
        estimate = Estimate(backend=self.backend_cls.name, model=model, counts=counts, already_done=done,
                        estimated_tokens_in=tokens_in, estimated_tokens_out=tokens_out,
                        estimated_cost=None if price is None
                        else round((tokens_in * price[0] + tokens_out * price[1]) * discount, 4),
                        out=str(self.out),
                        seed_requests_by_direction=dict(Counter(job.direction.name for job in seeds)),
                        seed_contexts=len({job.context.id for job in seeds}),
                        refused=None if refused is None else f"{self.out} cannot be continued: {refused}",
                        batch_price=discount if self.settings.engine.batch else None)
        if self.settings.engine.target is not None:
            estimate.target = plan_target(the_plan, self.settings.engine, estimate.as_dict())
        return estimate

    # --- the run -------------------------------------------------------------------------------

    def run(self, view: RunView | None = None) -> Stats:
        """Run (or continue) the plan, writing records as they finish; ``view`` shows it."""
        view = view or RunView()
        settings, out = self.settings, self.out
        sink_cls = choose_sink(self.plugins, out, settings.sink)
        if sink_cls.remote:
            raise JanusError(f"the {sink_cls.name} sink uploads a finished run: generate to a file, then "
                             f"'janus push OUT REPO_ID' or 'janus export OUT --sink {sink_cls.name} --to REPO_ID'")
        self.backend = build_backend(self.spec, settings, self.backend_cls, self.model, self.options)
        self.roles = {role: build_backend(self.spec, settings, cls, name, opts)
                      for role, (cls, name, opts) in self.role_choices.items()}
        settings.engine.role_limits = {role: (r.requests_per_minute, r.tokens_per_minute)
                                       for role, r in self.spec.setup.model.roles.items()}
        # before the journal: a filter's bad option leaves no file behind
        self.filters = choose_filters(self.plugins, self.spec)
        # datasets new records must not duplicate, read before any file of the run is touched
        before = len(self.notes)
        against = [r for value in settings.against for r in load_against(self.plugins, value, self.notes)]
        for note in self.notes[before:]:
            view.note(note)
        # one run per output: taken before the journal or the output is read or written
        with RunLock(out, "generate"):
            try:
                with self._open_journal() as journal:
                    self.journal = journal
                    stats = self._write(sink_cls, against, view)
            except sqlite3.Error as exc:
                raise JanusError(f"stopped: cannot write the journal {journal_path(out)} ({type(exc).__name__}: "
                                 f"{exc}); records already finished are kept. Fix the cause (free disk space, ...) "
                                 "and rerun the same command to continue") from None
            finally:
                self.journal = None
            view.finished(self, stats)
        return stats

    def _open_journal(self) -> Journal:
        backend, settings, spec = self.backend, self.settings, self.spec
        key = fingerprint(spec, backend.name, backend.model, settings, self.plan.documents)
        return open_journal(self.out, key, settings.overwrite,
                            earlier_fingerprint(spec, backend.name, backend.model, settings),
                            fingerprint_parts(spec, backend.name, backend.model, settings, self.plan.documents))

    def _write(self, sink_cls: Any, against: list[Any], view: RunView) -> Stats:
        journal, out = self.journal, self.out
        assert journal is not None
        # every stored record is read and checked before the output is touched: a bad row (BadRow) stops
        # the run here with the row named, and the output stays as it was ('janus doctor --repair' sets it aside)
        journal.check_records()
        earlier = journal.get_meta("structured")
        if earlier:  # a continued run: the backend starts from the mode its server took before
            self.backend.resume_negotiated(earlier)
        for backend in (self.backend, *self.roles.values()):  # else the mode an earlier run found, if cached
            note = backend.recall_negotiated()
            if note:
                view.note(note)
        record_run(journal, self.spec, self.settings, self.backend, self.plan, self.filters, self.roles)
        self.sink = sink = sink_cls(out, {})
        self.engine = Engine(self.plan, self.backend, journal, [sink], self.settings.engine, filters=self.filters,
                             roles=self.roles)
        self.engine.prime_filters(against if self.settings.against else None)
        view.started(self, journal.count_records())
        # the dataset file is rebuilt from the journal (known good by now), so a torn last line from a
        # crash disappears
        out.unlink(missing_ok=True)
        failed = True
        try:
            try:
                sink.open()
                for batch in _stored_batches(journal):
                    sink.write(batch)
            except OSError as exc:
                raise _cannot_write(out, exc) from None
            if self.settings.executor == "ray":
                from janus_core.run.ray_executor import RayRun

                stats = RayRun(self, self.settings.ray_address, self.settings.workers).run(journal, [sink], Stats())
            else:
                with quiet_collector(), asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                    stats = runner.run(self._drive(view))
            failed = False
        except KeyboardInterrupt:
            view.interrupted(self)
            raise SystemExit(130) from None
        finally:
            try:
                sink.close()
            except OSError as exc:
                if not failed:  # else the first error is the one to report
                    raise _cannot_write(out, exc) from None
            negotiated = self.backend.negotiated
            if negotiated:  # what the backend settled on with its server (the structured-output mode)
                journal.set_meta("structured", negotiated)
        return stats

    def interrupt(self) -> None:
        """Stop the run from another thread as Ctrl-C stops the CLI's: what finished is kept, and
        ``run`` raises CancelledError (the local executor; ``janus_core.generate`` in a notebook)."""
        self.interrupted = True
        running = self._running
        if running is not None:
            running[0].call_soon_threadsafe(running[1].cancel)

    async def _drive(self, view: RunView) -> Stats:
        assert self.engine is not None
        self._running = (asyncio.get_running_loop(), asyncio.current_task())  # type: ignore[assignment]
        if self.interrupted:
            raise asyncio.CancelledError
        ticker = asyncio.create_task(view.watch(self.engine.stats))
        try:
            return await self.engine.run()
        finally:
            self._running = None
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            for backend in dict.fromkeys([self.backend, *self.roles.values()]):
                await backend.aclose()


def _cannot_write(out: Path, exc: OSError) -> JanusError:
    return JanusError(f"stopped: cannot write {out} ({exc.strerror or exc}); records already finished are kept in "
                      "its journal. Fix the cause (free disk space, ...) and rerun the same command to continue")


def _stored_batches(journal: Journal, size: int = 1000) -> Iterator[list[Any]]:
    from janus_core.sdk.records import Record

    batch = []
    for data in journal.records():
        batch.append(Record.from_dict(data))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def summary_dict(stats: Stats, out: Path) -> dict[str, Any]:
    """The run's summary as plain data (``--log-json`` prints it)."""
    return {"out": str(out), "records": stats.records, "resumed": stats.resumed, "requests": stats.requests,
            "cached": stats.cached, "failures": dict(stats.failures), "earlier_failures": stats.earlier_failures,
            "skipped": stats.skipped, "already_at_turns": stats.already_at_turns,
            "rate_limited": stats.rate_limited, "tokens_in": stats.tokens_in,
            "tokens_out": stats.tokens_out, "cost": round(stats.cost, 6), "seconds": round(stats.seconds, 3),
            "cpu_seconds": round(stats.cpu_seconds, 3), "by_model": stats.by_model, "batches": dict(stats.batches),
            "restarts": stats.restarts,
            "requests_per_second": round(stats.requests / stats.seconds, 2) if stats.seconds else 0.0,
            "stopped": stats.stopped, **({"leases": stats.leases} if stats.leases else {}), **target_summary(stats)}


def target_summary(stats: Stats) -> dict[str, Any]:
    """--target in the summary: the records made toward it, the seeds added, why it fell short."""
    if stats.target is None:
        return {}
    short = stats.made < stats.target
    return {"target": stats.target, "made": stats.made, "extended_seeds": stats.extended,
            "shortfall": (stats.shortfall or stats.stopped or "the run ended early") if short else None}


@contextmanager
def quiet_collector(threshold: int = 50_000) -> Iterator[None]:
    """While the engine runs, the cyclic garbage collector leaves start-up's objects alone and runs
    less often. What start-up built (modules, litellm's tables, the spec, the plan) is frozen out of
    it (``gc.freeze``), and its youngest generation is collected every ``threshold`` allocations
    rather than 700. A run's own objects are freed by reference counting; the collector's passes
    over everything else (a full one took 50-110 ms, with every request in flight waiting) cost 5 %
    of a run's wall time at 256 requests in flight. The settings are put back afterwards."""
    import gc

    thresholds = gc.get_threshold()
    gc.collect()  # start-up's garbage goes now, not into the frozen generation
    gc.freeze()
    gc.set_threshold(threshold, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def event_loop_factory() -> Any:
    """uvloop's event loop where it is installed (it halves the loop's own CPU per request), else
    asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
