"""One generation run: pick the plugins a spec asks for, resume from the journal, drive the engine,
show progress and print the summary."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import re
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_core.plan.graph import build_graph, plan
from janus_core.plan.jobs import Plan
from janus_core.plugins import Plugins
from janus_core.run.cost import prices
from janus_core.run.engine import Engine, EngineSettings, Stats
from janus_core.run.journal import Journal, has_content, journal_files, journal_path
from janus_core.run.lock import RunLock
from janus_core.sdk.contracts import refuse_key_options
from janus_core.sdk.credentials import scrub
from janus_core.sdk.errors import JanusError
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
    dry_run: bool = False
    quiet: bool = False
    log_json: bool = False


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
    model_options = spec.setup.model
    name = settings.backend or model_options.backend or DEFAULT_BACKEND
    backend_cls = plugins.registry.get("backends", name)
    refuse_key_options(backend_cls, settings.model or model_options.name, settings.options, "--option")
    return backend_cls, settings.model or model_options.name, {**model_options.options, **settings.options}


def make_plan(spec: Spec, plugins: Plugins, settings: RunSettings, backend_cls: Any) -> Plan:
    output_type = plugins.registry.get("output_types", spec.setup.output_type)
    directions = {name: reg.obj for name, reg in plugins.registry.directions.items()}
    graph = build_graph(spec.diagram)
    w = spec.setup.walk
    contexts = plan(graph, w.strategies, w.max_path_length, w.random_walks, settings.seed, w.cover)
    limits = spec.setup.limits_for(getattr(backend_cls, "suggested_limits", None))
    given = None
    if settings.input:
        if not getattr(output_type, "grows", False):
            raise JanusError(f"--input is for output types that grow conversations (follow-up), not "
                             f"'{output_type.name}'")
        from janus_core.data.inputs import load_conversations

        given = load_conversations(settings.input)
    return Plan(spec, contexts, output_type, directions, limits, seed=settings.seed,
                temperature=settings.temperature, rounds=settings.rounds, given=given, turns=settings.turns,
                documents=load_documents(spec))


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
        names = [name for name, reg in table.items() if getattr(reg.obj, "default", True)]
    else:
        names = list(spec.setup.filters)
    names += [name for name in spec.setup.filter_options if name not in names]
    # the registry's order, which puts duplicate last: it remembers what it passes
    chosen = [reg.obj for name, reg in table.items() if name in names]
    for f in chosen:
        configure = getattr(f, "configure", None)
        if configure is None:
            continue
        if len(inspect.signature(configure).parameters) >= 2:
            configure(spec, options.get(f.name))
        else:  # a plugin written before filters took options
            configure(spec)
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
    return sha256_of(key)


def earlier_fingerprint(spec: Spec, backend: str, model: str, settings: RunSettings) -> str | None:
    """The key a run started before filters took options (0.1 journals) has for this same spec."""
    if spec.setup.documents or spec.setup.filter_options:
        return None
    setup = spec.setup.model_dump(exclude={"s_factor", "d_factor", "rounds", "filter_options", "documents",
                                           "chunking"})
    for name in ("seed_prompt", "derivational_prompt"):  # the default templates had no documents block
        setup[name] = re.sub(r"\{% if documents %\}.*?\{% endif %\}", "", setup[name], flags=re.S)
    return sha256_of({"setup": setup, "diagram": spec.diagram.source, "backend": backend, "model": model,
                      "seed": settings.seed, "temperature": settings.temperature, "input": settings.input})


def open_journal(out: Path, key: str, overwrite: bool, also: str | None = None) -> Journal:
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
    earlier = journal.get_meta("fingerprint")
    if earlier is None or (also is not None and earlier == also):
        journal.set_meta("fingerprint", key)
    elif earlier != key:
        journal.close()
        raise JanusError(f"{out} was generated from a different spec, backend, model, seed or temperature; "
                         "pass --overwrite to start over or --out to write elsewhere")
    return journal


def load_against(plugins: Plugins, value: str) -> list[Any]:
    """Records of an --against dataset: a local file or folder, else what a plugin opens (a Hub id)."""
    from janus_core.data.inputs import load_conversations

    if Path(value).exists():
        return load_conversations(value)
    records = plugins.pm.hook.open_dataset(location=value)
    if records is None:
        raise JanusError(f"--against {value}: no such file or folder, and no plugin opens it "
                         "(a Hugging Face Hub dataset is written owner/name)")
    return records


def record_run(journal: Journal, spec: Spec, settings: RunSettings, backend: Any, the_plan: Plan,
               filters: list[Any]) -> None:
    """Keep the spec's files and the run's configuration in the journal, for dataset cards."""
    from janus_core import __version__
    from janus_core.spec.model import spec_files

    def shown(value: str | None) -> str | None:  # a local file by its name only: cards may be public
        return Path(value).name if value and Path(value).exists() else value

    setup = spec.setup
    journal.set_meta("spec", {"name": spec.name, "folder": str(spec.folder.resolve()), "files": spec_files(spec)})
    journal.set_meta("run", {
        "janus": __version__, "spec": spec.name, "output_type": setup.output_type, "backend": backend.name,
        "model": backend.model, "backend_options": sorted(backend.options),  # names only: values may be private
        "seed": settings.seed, "temperature": the_plan.temperature, "s_factor": setup.s_factor,
        "d_factor": setup.d_factor, "rounds": the_plan.rounds, "seed_directions": list(setup.seed_directions),
        "derivational_directions": list(setup.derivational_directions), "filters": [f.name for f in filters],
        "walk": setup.walk.model_dump(), "max_seeds": settings.engine.max_seeds,
        "max_requests": settings.engine.max_requests, "max_cost": settings.engine.max_cost,
        "target": settings.engine.target,
        "input": shown(settings.input), "turns": settings.turns if settings.input else None,
        "against": [shown(value) for value in settings.against]})


# --- dry run -----------------------------------------------------------------------------------

def dry_run(spec: Spec, plugins: Plugins, settings: RunSettings) -> dict[str, Any]:
    """Planned requests and an estimated cost, without calling anything."""
    backend_cls, model, _options = backend_choice(plugins, spec, settings)
    model = model or backend_cls.default_model
    the_plan = make_plan(spec, plugins, settings, backend_cls)
    seeds = [job for job in the_plan.seed_jobs() if job.given is None]
    if settings.engine.max_seeds:
        seeds = seeds[: settings.engine.max_seeds]
    derivations = the_plan.planned(settings.engine.max_seeds or the_plan.seed_count) - len(seeds)
    seed_in = sum(len(the_plan.request(job).messages[0]["content"]) for job in seeds) / 4
    reply = (max_json_chars(the_plan.schema) or 4000) / 2 / 4  # half the largest reply, 4 chars a token
    derive_in = derivations * (seed_in / max(len(seeds), 1) + reply)
    tokens_in = int(seed_in + derive_in)
    tokens_out = int(reply * (len(seeds) + derivations))
    price = prices(model)
    done = 0
    out = output_path(spec, settings)
    if journal_path(out).exists():
        journal = Journal(journal_path(out))
        done = journal.count_records()
        journal.close()
    estimate = {"backend": backend_cls.name, "model": model, "seed_requests": len(seeds),
                "derivation_requests": derivations, "requests": len(seeds) + derivations,
                "already_done": done, "estimated_tokens_in": tokens_in, "estimated_tokens_out": tokens_out,
                "estimated_cost": None if price is None else round(tokens_in * price[0] + tokens_out * price[1], 4)}
    if settings.engine.target is not None:
        estimate["target"] = plan_target(the_plan, settings.engine, estimate)
    return estimate


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


# --- the run -----------------------------------------------------------------------------------

def run_generation(spec: Spec, plugins: Plugins, settings: RunSettings) -> Stats:
    """Run (or continue) the plan, writing records as they finish; print a summary to stderr."""
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)
    out = output_path(spec, settings)
    sink_cls = choose_sink(plugins, out, settings.sink)
    if sink_cls.remote:
        raise JanusError(f"the {sink_cls.name} sink uploads a finished run: generate to a file, then "
                         f"'janus push OUT REPO_ID' or 'janus export OUT --sink {sink_cls.name} --to REPO_ID'")
    backend_cls, model, options = backend_choice(plugins, spec, settings)
    the_plan = make_plan(spec, plugins, settings, backend_cls)
    backend = backend_cls(model=model, options=options)
    filters = choose_filters(plugins, spec)  # before the journal: a filter's bad option leaves no file behind
    # datasets new records must not duplicate, read before any file of the run is touched
    against = [r for value in settings.against for r in load_against(plugins, value)]
    # one run per output: taken before the journal or the output is read or written
    with RunLock(out, "generate"):
        return _locked_run(spec, settings, console, out, sink_cls, backend, the_plan, filters, against)


def _locked_run(spec: Spec, settings: RunSettings, console: Any, out: Path, sink_cls: Any, backend: Any,
                the_plan: Plan, filters: list[Any], against: list[Any]) -> Stats:
    journal = None
    try:
        journal = open_journal(out, fingerprint(spec, backend.name, backend.model, settings, the_plan.documents),
                               settings.overwrite, earlier_fingerprint(spec, backend.name, backend.model, settings))
        stats = _drive_run(spec, settings, console, out, sink_cls, backend, the_plan, filters, against, journal)
    except sqlite3.Error as exc:
        raise JanusError(f"stopped: cannot write the journal {journal_path(out)} ({type(exc).__name__}: {exc}); "
                         "records already finished are kept. Fix the cause (free disk space, ...) and rerun the "
                         "same command to continue") from None
    finally:
        if journal is not None:
            journal.close()
    if settings.log_json:
        print(scrub(json.dumps({"event": "summary", **summary_dict(stats, out)})), file=sys.stderr, flush=True)
    else:
        _print_summary(console, stats, out)
        negotiated = backend.negotiated
        if negotiated and negotiated.get("refused"):
            console.print(f"  structured output: {negotiated.get('mode')} (the server refused "
                          f"{', '.join(negotiated['refused'])})")
    return stats


def _drive_run(spec: Spec, settings: RunSettings, console: Any, out: Path, sink_cls: Any, backend: Any,
               the_plan: Plan, filters: list[Any], against: list[Any], journal: Journal) -> Stats:
    record_run(journal, spec, settings, backend, the_plan, filters)
    sink = sink_cls(out, {})
    engine = Engine(the_plan, backend, journal, [sink], settings.engine, filters=filters)
    engine.prime_filters(against if settings.against else None)
    resumed = journal.count_records()
    if not settings.log_json:
        console.print(f"[bold]janus[/]: {spec.name}, {spec.setup.output_type}, backend {backend.name} "
                      f"({backend.model}), {engine.concurrency} in flight -> {out}"
                      + (f" (continuing: {resumed} records done)" if resumed else ""))
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
        stats = asyncio.run(_drive(engine, backend, console, settings))
        failed = False
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: finished records are in {out}; rerun the same command to continue")
        raise SystemExit(130) from None
    finally:
        try:
            sink.close()
        except OSError as exc:
            if not failed:  # else the first error is the one to report
                raise _cannot_write(out, exc) from None
        negotiated = backend.negotiated
        if negotiated:  # what the backend settled on with its server (the structured-output mode)
            journal.set_meta("structured", negotiated)
    return stats


def _cannot_write(out: Path, exc: OSError) -> JanusError:
    return JanusError(f"stopped: cannot write {out} ({exc.strerror or exc}); records already finished are kept in "
                      "its journal. Fix the cause (free disk space, ...) and rerun the same command to continue")


def _stored_batches(journal: Journal, size: int = 1000):
    from janus_core.sdk.records import Record

    batch = []
    for data in journal.records():
        batch.append(Record.from_dict(data))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _drive(engine: Engine, backend: Any, console: Any, settings: RunSettings) -> Stats:
    show = _json_progress if settings.log_json else _rich_progress
    ticker = None if settings.quiet else asyncio.create_task(show(engine.stats, console))
    try:
        return await engine.run()
    finally:
        if ticker:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        await backend.aclose()


async def _json_progress(stats: Stats, console: Any) -> None:
    started = time.perf_counter()
    while True:
        await asyncio.sleep(1.0)
        print(json.dumps({"event": "progress", "elapsed": round(time.perf_counter() - started, 1),
                          "done": stats.progress, "planned": stats.planned, "records": stats.records,
                          "failed": stats.failed, "in_flight": stats.in_flight, "requests": stats.requests,
                          "tokens_in": stats.tokens_in, "tokens_out": stats.tokens_out,
                          "cost": round(stats.cost, 6)}), file=sys.stderr, flush=True)


async def _rich_progress(stats: Stats, console: Any) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("records"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[failed]} failed  {task.fields[flight]} in flight  "
                                   "{task.fields[tokens]} tokens  ${task.fields[cost]}"),
                        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                        console=console, transient=False)
    task = progress.add_task("records", total=None, failed=0, flight=0, tokens=0, cost="0.00")
    with progress:
        try:
            while True:
                progress.update(task, total=stats.planned or None, completed=stats.progress,
                                failed=stats.failed + stats.earlier_failures, flight=stats.in_flight,
                                tokens=stats.tokens_in + stats.tokens_out, cost=f"{stats.cost:.2f}")
                await asyncio.sleep(0.25)
        finally:
            progress.update(task, total=stats.planned or None, completed=stats.progress,
                            failed=stats.failed + stats.earlier_failures, flight=0,
                            tokens=stats.tokens_in + stats.tokens_out, cost=f"{stats.cost:.2f}")


def summary_dict(stats: Stats, out: Path) -> dict[str, Any]:
    return {"out": str(out), "records": stats.records, "resumed": stats.resumed, "requests": stats.requests,
            "cached": stats.cached, "failures": dict(stats.failures), "earlier_failures": stats.earlier_failures,
            "skipped": stats.skipped, "rate_limited": stats.rate_limited, "tokens_in": stats.tokens_in,
            "tokens_out": stats.tokens_out, "cost": round(stats.cost, 6), "seconds": round(stats.seconds, 3),
            "cpu_seconds": round(stats.cpu_seconds, 3),
            "requests_per_second": round(stats.requests / stats.seconds, 2) if stats.seconds else 0.0,
            "stopped": stats.stopped, **target_summary(stats)}


def target_summary(stats: Stats) -> dict[str, Any]:
    """--target in the summary: the records made toward it, the seeds added, why it fell short."""
    if stats.target is None:
        return {}
    short = stats.made < stats.target
    return {"target": stats.target, "made": stats.made, "extended_seeds": stats.extended,
            "shortfall": (stats.shortfall or stats.stopped or "the run ended early") if short else None}


def _print_summary(console: Any, stats: Stats, out: Path) -> None:
    s = summary_dict(stats, out)
    failures = ", ".join(f"{k} {v}" for k, v in sorted(stats.failures.items())) or "none"
    console.print(f"[green]{stats.records} new records[/]" + (f" + {stats.resumed} from before" if stats.resumed
                                                                else "") + f" -> {out}")
    console.print(f"  requests {stats.requests} ({s['requests_per_second']}/s), cached {stats.cached}, "
                  f"429s {stats.rate_limited}, failures: {failures}"
                  + (f", earlier failures {stats.earlier_failures} (--retry-failed reruns them)"
                     if stats.earlier_failures else "")
                  + (f", skipped derivations {stats.skipped}" if stats.skipped else ""))
    console.print(f"  tokens in {stats.tokens_in}, out {stats.tokens_out}, cost ${stats.cost:.4f}, "
                  f"wall {stats.seconds:.1f} s")
    if stats.target is not None:
        t = target_summary(stats)
        grown = f", {stats.extended} seeds beyond the plan" if stats.extended else ""
        if t["shortfall"]:
            console.print(f"[yellow]target[/]: made {stats.made} of {stats.target}{grown}: {t['shortfall']}")
        else:
            console.print(f"[green]target[/]: {stats.made} of {stats.target} records{grown}")
    if stats.stopped:
        console.print(f"[yellow]stopped[/]: {stats.stopped}; rerun the same command to continue")
    for line in stats.errors[:5]:
        console.print(f"  [dim]{scrub(line)}[/]")
