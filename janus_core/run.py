"""One generation run: pick the plugins a spec asks for, drive the engine, show progress, summarise."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine import Engine, Events, Summary
from .errors import JanusError
from .generation import Plan
from .graph import build_graph, plan
from .plugins import Plugins
from .spec import Spec

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
    concurrency: int = 32
    retries: int = 2
    max_seeds: int | None = None
    quiet: bool = False


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


def make_backend(plugins: Plugins, spec: Spec, settings: RunSettings) -> Any:
    model_options = spec.setup.model
    name = settings.backend or model_options.backend or DEFAULT_BACKEND
    backend_cls = plugins.registry.get("backends", name)
    options = {**model_options.options, **settings.options}
    return backend_cls(model=settings.model or model_options.name, options=options)


def build_engine(spec: Spec, plugins: Plugins, settings: RunSettings, sinks: list[Any],
                 events: Events | None = None) -> tuple[Engine, Any]:
    backend = make_backend(plugins, spec, settings)
    output_type = plugins.registry.get("output_types", spec.setup.output_type)
    directions = {name: reg.obj for name, reg in plugins.registry.directions.items()}
    graph = build_graph(spec.diagram)
    w = spec.setup.walk
    contexts = plan(graph, w.strategies, w.max_path_length, w.random_walks, settings.seed, w.cover)
    limits = spec.setup.limits_for(getattr(backend, "suggested_limits", None))
    the_plan = Plan(spec, contexts, output_type, directions, limits, seed=settings.seed,
                    temperature=settings.temperature)
    engine = Engine(the_plan, backend, sinks, concurrency=settings.concurrency, retries=settings.retries,
                    events=events, max_seeds=settings.max_seeds)
    return engine, backend


async def _drive(engine: Engine, backend: Any) -> Summary:
    try:
        return await engine.run()
    finally:
        await backend.aclose()


def run_generation(spec: Spec, plugins: Plugins, settings: RunSettings) -> Summary:
    """Run the whole plan, writing records as they finish; print a summary to stderr."""
    from rich.console import Console

    console = Console(stderr=True)
    out = output_path(spec, settings)
    if out.exists() and not settings.overwrite:
        raise JanusError(f"{out} exists; pass --overwrite to replace it or --out to write elsewhere")
    sink_cls = choose_sink(plugins, out, settings.sink)
    if out.exists():
        out.unlink()
    sink = sink_cls(out, {})
    progress = _progress(console, settings.quiet)
    events = _events(progress)
    engine, backend = build_engine(spec, plugins, settings, [sink], events)
    console.print(f"[bold]janus[/]: {spec.name}, {spec.setup.output_type}, backend {backend.name} "
                  f"({backend.model}), {engine.concurrency} in flight -> {out}")
    sink.open()
    try:
        with progress:
            summary = asyncio.run(_drive(engine, backend))
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: the records finished so far are in {out}")
        raise SystemExit(130) from None
    finally:
        sink.close()
    _print_summary(console, summary, out)
    return summary


def _progress(console: Any, quiet: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, disable=quiet, transient=False)


def _events(progress: Any) -> Events:
    task = progress.add_task("records", total=None, failed=0)
    state = {"failed": 0}

    def on_failure(job: Any, reason: str, detail: str) -> None:
        state["failed"] += 1
        progress.update(task, advance=1, failed=state["failed"])

    def on_skipped(count: int) -> None:
        current = progress.tasks[0].total or 0
        progress.update(task, total=max(0, current - count))

    return Events(on_record=lambda record: progress.update(task, advance=1),
                    on_failure=on_failure,
                    on_planned=lambda total: progress.update(task, total=total),
                    on_skipped=on_skipped)


def _print_summary(console: Any, summary: Summary, out: Path) -> None:
    rate = summary.requests / summary.seconds if summary.seconds else 0.0
    failures = ", ".join(f"{k} {v}" for k, v in sorted(summary.failures.items())) or "none"
    console.print(f"[green]{summary.records} records[/] -> {out}")
    console.print(f"  requests {summary.requests} ({rate:.1f}/s), failures: {failures}"
                  + (f", skipped derivations {summary.skipped}" if summary.skipped else ""))
    console.print(f"  tokens in {summary.tokens_in}, out {summary.tokens_out}, wall {summary.seconds:.1f} s")
    for line in summary.errors[:5]:
        console.print(f"  [dim]{line}[/]")
