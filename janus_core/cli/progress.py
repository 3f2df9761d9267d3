"""How ``janus generate`` shows a run: a rich progress bar and summary on a terminal, a plain
progress line every few seconds elsewhere (CI logs, ``nohup``, a notebook's shell), or JSON lines
for scripts.

The session (``janus_core.run.session``) reports what happens; these views draw it on stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from janus_core.run.session import RunView, summary_dict, target_summary
from janus_core.sdk.credentials import scrub
from janus_core.sdk.terminal import printable

if TYPE_CHECKING:
    from janus_core.run.engine import Stats
    from janus_core.run.session import Session


def shown(text: Any) -> str:
    """Text from outside (a server's error, a name, a reason) as rich prints it literally: secrets masked,
    control characters as escapes (``printable``), and square brackets that would read as markup escaped."""
    from rich.markup import escape

    return escape(printable(scrub(str(text))))


def choose_view(log_json: bool, quiet: bool = False, verbose: bool = False) -> RichView:
    """JSON lines with ``log_json``; else a progress bar on a terminal, plain progress lines elsewhere."""
    if log_json:
        return JsonView(quiet, verbose)
    view = RichView(quiet, verbose)
    return view if view.console.is_terminal else PlainView(quiet, verbose)


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 45s, 3m05s, 2h10m."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class Pace:
    """Records done per second since the view started watching, and the time left at that pace."""

    def __init__(self, stats: Stats):
        self.started, self.first = time.perf_counter(), stats.progress

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def eta(self, stats: Stats) -> float | None:
        """Seconds left, or None while nothing is done yet (or nothing is planned)."""
        done, left = stats.progress - self.first, stats.planned - stats.progress
        if not stats.planned or left <= 0:
            return 0.0 if stats.planned else None
        return left * self.elapsed() / done if done > 0 else None


class RichView(RunView):
    """A progress bar while the run goes (none with ``quiet``), then the summary; ``verbose`` lists
    every failure's reason, not only the first five."""

    def __init__(self, quiet: bool = False, verbose: bool = False):
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.quiet, self.verbose = quiet, verbose

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]note[/]: {shown(text)}")

    def started(self, session: Session, resumed: int) -> None:
        spec, backend, engine = session.spec, session.backend, session.engine
        self.console.print(f"[bold]janus[/]: {shown(spec.name)}, {shown(spec.setup.output_type)}, backend "
                           f"{shown(backend.name)} ({shown(backend.model)}), {engine.concurrency} in flight -> "
                           f"{shown(session.out)}"
                           + (f" (continuing: {resumed} records done)" if resumed else ""))

    async def watch(self, stats: Stats) -> None:
        if self.quiet:
            return
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
                            console=self.console, transient=False)
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

    def interrupted(self, session: Session) -> None:
        self.console.print(f"[yellow]interrupted[/]: finished records are in {shown(session.out)}; rerun the same "
                           "command to continue")

    def finished(self, session: Session, stats: Stats) -> None:
        console, out = self.console, session.out
        s = summary_dict(stats, out)
        failures = ", ".join(f"{shown(k)} {v}" for k, v in sorted(stats.failures.items())) or "none"
        console.print(f"[green]{stats.records} new records[/]" + (f" + {stats.resumed} from before" if stats.resumed
                                                                    else "") + f" -> {shown(out)}")
        console.print(f"  requests {stats.requests} ({s['requests_per_second']}/s), cached {stats.cached}, "
                      f"429s {stats.rate_limited}, failures: {failures}"
                      + (f", earlier failures {stats.earlier_failures} (--retry-failed reruns them)"
                         if stats.earlier_failures else "")
                      + (f", skipped derivations {stats.skipped}" if stats.skipped else ""))
        console.print(f"  tokens in {stats.tokens_in}, out {stats.tokens_out}, cost ${stats.cost:.4f}, "
                      f"wall {stats.seconds:.1f} s")
        if stats.already_at_turns:
            n, turns = stats.already_at_turns, session.settings.turns
            which = "1 input conversation already had" if n == 1 else f"{n} input conversations already had"
            left = "was left as it was" if n == 1 else "were left as they were"
            console.print(f"  {which} {turns} user turn{'s' if turns > 1 else ''} or more (--turns {turns}) "
                          f"and {left}")
        if stats.batches.get("submitted"):
            console.print(f"  batches: {stats.batches['submitted']} ({stats.batches['requests']} requests) at the "
                          "batch price")
        if len(stats.by_model) > 1:
            for name, used in stats.by_model.items():
                console.print(f"  {shown(name)}: {used['requests']} requests, tokens in {used['tokens_in']}, out "
                              f"{used['tokens_out']}, cost ${used['cost']:.4f}")
        if stats.target is not None:
            t = target_summary(stats)
            grown = f", {stats.extended} seeds beyond the plan" if stats.extended else ""
            if t["shortfall"]:
                console.print(f"[yellow]target[/]: made {stats.made} of {stats.target}{grown}: "
                              f"{shown(t['shortfall'])}")
            else:
                console.print(f"[green]target[/]: {stats.made} of {stats.target} records{grown}")
        if stats.stopped:
            console.print(f"[yellow]stopped[/]: {shown(stats.stopped)}; rerun the same command to continue")
        for line in stats.errors if self.verbose else stats.errors[:5]:
            console.print(f"  [dim]{shown(line)}[/]")
        if len(stats.errors) > 5 and not self.verbose:
            console.print(f"  [dim]... {len(stats.errors) - 5} more (-v lists them all)[/]")
        negotiated = session.backend.negotiated
        if negotiated and negotiated.get("refused"):
            console.print(f"  structured output: {shown(negotiated.get('mode'))} (the server refused "
                          f"{shown(', '.join(map(str, negotiated['refused'])))})")


class PlainView(RichView):
    """For a stderr that is no terminal: a plain progress line every ``every`` seconds and one when the
    run ends (none with ``quiet``), then the summary."""

    #: seconds between progress lines
    every: float = 5.0

    async def watch(self, stats: Stats) -> None:
        if self.quiet:
            return
        pace = Pace(stats)
        try:
            while True:
                await asyncio.sleep(self.every)
                self.line(stats, pace)
        finally:
            self.line(stats, pace)

    def line(self, stats: Stats, pace: Pace) -> None:
        eta = pace.eta(stats)
        of = f"/{stats.planned}" if stats.planned else ""
        self.console.print(f"progress: {stats.progress}{of} done ({stats.records} new records, "
                           f"{stats.failed + stats.earlier_failures} failed), {stats.in_flight} in flight, "
                           f"${stats.cost:.4f}, {duration(pace.elapsed())} elapsed, eta "
                           + ("unknown" if eta is None else duration(eta)), markup=False, highlight=False)


class JsonView(RichView):
    """Progress each second (none with ``quiet``), notes, and the summary as JSON lines on stderr:
    nothing else is printed there."""

    def note(self, text: str) -> None:
        emit({"event": "note", "note": text})

    def started(self, session: Session, resumed: int) -> None:
        emit({"event": "started", "spec": session.spec.name, "output_type": session.spec.setup.output_type,
              "backend": session.backend.name, "model": session.backend.model, "out": str(session.out),
              "concurrency": session.engine.concurrency, "resumed": resumed})

    async def watch(self, stats: Stats) -> None:
        if self.quiet:
            return
        pace = Pace(stats)
        while True:
            await asyncio.sleep(1.0)
            eta = pace.eta(stats)
            emit({"event": "progress", "elapsed": round(pace.elapsed(), 1),
                  "done": stats.progress, "planned": stats.planned, "records": stats.records,
                  "failed": stats.failed, "in_flight": stats.in_flight, "requests": stats.requests,
                  "tokens_in": stats.tokens_in, "tokens_out": stats.tokens_out, "cost": round(stats.cost, 6),
                  "eta_seconds": None if eta is None else round(eta, 1)})

    def interrupted(self, session: Session) -> None:
        emit({"event": "interrupted", "out": str(session.out)})

    def finished(self, session: Session, stats: Stats) -> None:
        emit({"event": "summary", **summary_dict(stats, session.out)})


def emit(event: dict[str, Any]) -> None:
    """One JSON line on stderr, secrets masked."""
    print(scrub(json.dumps(event)), file=sys.stderr, flush=True)
