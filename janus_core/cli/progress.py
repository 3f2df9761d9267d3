"""How ``janus generate`` shows a run: a rich progress bar and summary, or JSON lines for scripts.

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


class RichView(RunView):
    """A progress bar while the run goes (none with ``quiet``), then the summary."""

    def __init__(self, quiet: bool = False):
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.quiet = quiet

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
        for line in stats.errors[:5]:
            console.print(f"  [dim]{shown(line)}[/]")
        negotiated = session.backend.negotiated
        if negotiated and negotiated.get("refused"):
            console.print(f"  structured output: {shown(negotiated.get('mode'))} (the server refused "
                          f"{shown(', '.join(map(str, negotiated['refused'])))})")


class JsonView(RichView):
    """Progress each second (none with ``quiet``) and the summary as JSON lines on stderr."""

    def note(self, text: str) -> None:
        _emit({"event": "note", "note": text})

    def started(self, session: Session, resumed: int) -> None:
        pass

    async def watch(self, stats: Stats) -> None:
        if self.quiet:
            return
        started = time.perf_counter()
        while True:
            await asyncio.sleep(1.0)
            _emit({"event": "progress", "elapsed": round(time.perf_counter() - started, 1),
                   "done": stats.progress, "planned": stats.planned, "records": stats.records,
                   "failed": stats.failed, "in_flight": stats.in_flight, "requests": stats.requests,
                   "tokens_in": stats.tokens_in, "tokens_out": stats.tokens_out, "cost": round(stats.cost, 6)})

    def finished(self, session: Session, stats: Stats) -> None:
        _emit({"event": "summary", **summary_dict(stats, session.out)})


def _emit(event: dict[str, Any]) -> None:
    print(scrub(json.dumps(event)), file=sys.stderr, flush=True)
