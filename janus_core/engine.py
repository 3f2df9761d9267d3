"""The asyncio engine: runs a plan's jobs against a backend with bounded concurrency.

Seeds go first; each finished seed queues its derivations. Every finished record goes to the
sinks at once. A reply that does not parse, or a failed request, is retried with a new sampling
seed up to ``retries`` times, then counted as a failure with its reason.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import BackendError
from .generation import Job, ParseFailure, Plan
from .interfaces import Backend, Sink
from .records import Record


@dataclass
class Summary:
    """What a run did."""

    records: int = 0
    requests: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    failures: Counter = field(default_factory=Counter)
    skipped: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


@dataclass
class Events:
    """Callbacks the CLI uses to show progress; all optional."""

    on_record: Callable[[Record], None] = lambda record: None
    on_failure: Callable[[Job, str, str], None] = lambda job, reason, detail: None
    on_planned: Callable[[int], None] = lambda total: None
    on_skipped: Callable[[int], None] = lambda count: None


def _reason(exc: Exception, truncated: bool) -> str:
    if isinstance(exc, ParseFailure):
        return "truncation" if truncated else "schema"
    return "transport"


class Engine:
    def __init__(self, plan: Plan, backend: Backend, sinks: list[Sink], concurrency: int = 32,
                 retries: int = 2, events: Events | None = None, max_seeds: int | None = None):
        self.plan = plan
        self.backend = backend
        self.sinks = sinks
        limit = backend.max_concurrency or concurrency
        self.concurrency = max(1, min(concurrency, limit))
        self.retries = retries
        self.events = events or Events()
        self.max_seeds = max_seeds
        self.summary = Summary()

    async def _attempt(self, job: Job) -> Record:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            request = self.plan.request(job, attempt)
            truncated = False
            try:
                self.summary.requests += 1
                completion = await self.backend.complete(request)
                self.summary.tokens_in += completion.tokens_in
                self.summary.tokens_out += completion.tokens_out
                truncated = completion.finish_reason == "length"
                return self.plan.record(job, request, completion.text, completion.model)
            except (ParseFailure, BackendError) as exc:
                last = exc
                last_reason = _reason(exc, truncated)
        assert last is not None
        raise _Failed(last_reason, str(last))

    async def _worker(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                record = await self._attempt(job)
            except _Failed as failed:
                self.summary.failures[failed.reason] += 1
                if len(self.summary.errors) < 20:
                    self.summary.errors.append(f"{job.key}: {failed.reason}: {failed.detail}")
                self.events.on_failure(job, failed.reason, failed.detail)
                if job.parent is None:
                    self.summary.skipped += self.plan.derivations_per_seed
                    self.events.on_skipped(self.plan.derivations_per_seed)
            except Exception as exc:  # an unexpected bug must not hang the queue
                self.summary.failures["error"] += 1
                self.summary.errors.append(f"{job.key}: {type(exc).__name__}: {exc}")
                self.events.on_failure(job, "error", str(exc))
            else:
                for sink in self.sinks:
                    sink.write([record])
                self.summary.records += 1
                self.events.on_record(record)
                if job.parent is None:
                    for child in self.plan.derive_jobs(record, job.context):
                        queue.put_nowait(child)
            finally:
                queue.task_done()

    def planned(self) -> int:
        seeds = len(self._seed_jobs())
        return seeds + seeds * self.plan.derivations_per_seed

    def _seed_jobs(self) -> list[Job]:
        jobs = self.plan.seed_jobs()
        return jobs[: self.max_seeds] if self.max_seeds else jobs

    async def run(self) -> Summary:
        started = time.perf_counter()
        queue: asyncio.Queue[Job] = asyncio.Queue()
        for job in self._seed_jobs():
            queue.put_nowait(job)
        self.events.on_planned(self.planned())
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.concurrency)]
        try:
            await queue.join()
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.summary.seconds = time.perf_counter() - started
        return self.summary


class _Failed(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail
