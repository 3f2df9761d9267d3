"""``janus generate --executor ray``: the seeds split between Ray workers, one journal at the driver.

Each worker is a long-lived Ray actor that runs the ordinary engine (async, paced, cached) on its
share of the seeds (``janus_core.plan.shards``: a stable hash of each seed's key, evolutions follow
their seed) into a scratch journal of its own. The driver polls the workers for what they finished
(records, failures and cached replies, in the order their journals hold them) and writes it to the
run's one journal and output, journal first, as a local run does. So a run on Ray makes the record
ids a local run with the same ``--seed`` makes, and a driver killed and rerun resumes like a local
run: each new worker starts from the records and replies the driver's journal already holds.

Budgets and paces are global: one governor actor hands out leases of permits, each permit with the
time it may send at on the run's pace (the local run's own throttle: ``--rpm``, ``--tpm``, and its
slow-down on 429s, which every worker reports to it). A worker sends at those times without asking
again, asks for its next lease while half of the last is left, and gives back what a lease did not use
when it expires (a second past its last send time), when a 429 of its own cuts it, and at its end;
leased permits count as in flight until used or given back, and never more are leased than
``--max-requests`` leaves (exact across workers). The governor adds up what the replies cost
(``--max-cost``), so the run keeps the limits a local run would. The driver takes what a worker
finished in one journal transaction per look.

A worker that dies is replaced by one given everything the driver holds for its share, so its
unfinished seeds are made again and nothing delivered is paid for twice. Duplicates across workers
are checked at the driver (MinHash, the duplicate filter's defaults) before a record is written; a
duplicate and what was evolved from it go to the failure ledger.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from janus_core.run.engine import DEFAULT_CONCURRENCY, SharedBudget
from janus_core.sdk.errors import ConfigurationError, JanusError

#: seconds between the driver's looks at the workers
POLL = 0.25
#: seconds of the run's pace one lease of permits covers at most, and how long past its last send time
#: it holds before its unused permits go back (so a new pace after a 429 reaches every worker soon)
LEASE_SECONDS = 1.0
#: seconds past a lease's end after which the governor counts its permits as sent (a worker that died)
LEASE_GRACE = 10.0


def cached_completion(text: str, model: str, finish: str | None, tokens_in: int, tokens_out: int,
                      extra: str | None) -> Any:
    """A cached reply moved between the driver's and a worker's journals, its tool calls and reasoning
    (``extra``, as the journal keeps them) included."""
    from janus_core.run.tool_requests import restored_extra
    from janus_core.sdk.contracts import Completion

    return Completion(text=text, model=model, finish_reason=finish, tokens_in=tokens_in, tokens_out=tokens_out,
                      **(restored_extra(extra) or {}))


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise JanusError("--executor ray needs Ray: pip install 'janus-data[ray]'") from None
    return ray


def _governor_class(ray: Any) -> Any:
    @ray.remote
    class Governor:
        """The run's budget and pace, shared by every worker: the same throttle a local run uses
        (``janus_core.run.throttle``), so 429s slow the whole run down, not one worker. It hands out
        leases of permits (``lease``) and counts leased permits as in flight until used or returned."""

        def __init__(self, max_requests: int | None, max_cost: float | None, rpm: float | None,
                     tpm: int | None, workers: int = 1) -> None:
            from janus_core.run.throttle import AdaptiveRate, TokenBudget

            self.max_requests, self.max_cost, self.workers = max_requests, max_cost, max(1, workers)
            self.requests, self.cost, self.limited_count = 0, 0.0, 0
            self.rate = AdaptiveRate(rpm)
            self.tokens = TokenBudget(tpm) if tpm else None
            self.open: dict[int, float] = {}  # lease id -> its deadline (governor's clock)
            self.last_lease = 0
            self.counts = {"lease_calls": 0, "leases": 0, "permits": 0, "returned": 0}

        def _no_more(self) -> str | None:
            """Why no request may be sent now or later, or None."""
            if self.max_cost is not None and self.cost >= self.max_cost:
                return f"--max-cost {self.max_cost} reached (spent {self.cost:.4f})"
            return None

        async def lease(self, want: int, estimate: int) -> tuple[str | None, int, float, list[float]]:
            """Up to ``want`` permits, each for a request of about ``estimate`` tokens: (None, lease id,
            the governor's clock now, when each permit may send on that clock), or (why not, 0, 0, []).
            Paced, a lease covers at most ``LEASE_SECONDS`` of the pace; it holds until ``LEASE_SECONDS``
            past its last send time, then its unused permits come back (``give_back``). Under
            ``--max-requests`` it never leases more than remain; when none remain but other leases are
            open it waits for their unused permits rather than refuse."""
            self.counts["lease_calls"] += 1
            clock = self.rate.clock
            while True:
                refused = self._no_more()
                if refused:
                    return refused, 0, 0.0, []
                remain = None if self.max_requests is None else self.max_requests - self.requests
                if remain is None or remain > 0:
                    break
                now = clock()
                self.open = {k: d for k, d in self.open.items() if d + LEASE_GRACE > now}  # dead workers'
                if not self.open:
                    return f"--max-requests {self.max_requests} reached", 0, 0.0, []
                await asyncio.sleep(0.02)
            n = max(1, want)
            if remain is not None:  # a share, so one worker does not hold what another could send
                n = min(n, remain, -(-remain // self.workers))
            now = clock()
            pace, hold = self.rate.pace(now)
            times: list[float] = []
            for _ in range(n):
                at = now if pace is None and self.tokens is None else self.rate.next_start(now)
                at = max(at, hold)
                if self.tokens:
                    at = max(at, self.tokens.reserve(estimate))
                if times and at > times[0] + LEASE_SECONDS:
                    if self.tokens:
                        self.tokens.settle(estimate, 0)
                    break
                self.rate.start(at)
                times.append(at)
            self.requests += len(times)
            self.last_lease += 1
            self.open[self.last_lease] = times[-1] + LEASE_SECONDS
            self.counts["leases"] += 1
            self.counts["permits"] += len(times)
            return None, self.last_lease, now, times

        def give_back(self, lease: int, unused: int, estimate: int) -> None:
            """A lease is closed: ``unused`` of its permits were not sent (each reserved ``estimate``
            tokens); they go back to the budget and leave the pace's count in flight."""
            self.open.pop(lease, None)
            if unused:
                self.requests -= unused
                self.counts["returned"] += unused
                for _ in range(unused):
                    self.rate.dropped()
                if self.tokens:
                    self.tokens.settle(estimate * unused, 0)

        def spent(self, cost: float, answered: int, estimated: int, used: int, rate_limits: Any = None,
                  sent: list[float | None] | None = None) -> None:
            self.cost += cost
            sent = sent or []
            for i in range(answered):  # the latest headers with the last answer of the group
                self.rate.answered(rate_limits if i == answered - 1 else None, used // max(1, answered),
                                   sent[i] if i < len(sent) else None)
            if self.tokens:
                self.tokens.settle(estimated, used)

        def limited(self, retry_after: float | None, sent_at: float | None, rate_limits: Any = None,
                    estimated: int = 0) -> None:
            self.limited_count += 1
            self.rate.limited(retry_after, sent_at, rate_limits)
            if self.tokens:
                self.tokens.settle(estimated, 0)

        def unused(self, estimated: int) -> None:
            self.rate.dropped()
            if self.tokens:
                self.tokens.settle(estimated, 0)

        def report(self) -> dict[str, Any]:
            return {"requests": self.requests, "cost": self.cost, "rate_limited": self.limited_count,
                    "pace_per_second": self.rate.limit, **self.counts}

    return Governor


class GovernedBudget(SharedBudget):
    """A worker's side of the governor (picklable: it travels in the engine settings). It holds leases
    of permits and sends at their times without asking again; it asks for the next lease when half of
    the last is left (so no request waits for a round trip), gives back what a lease did not use when
    it expires, when a 429 cuts it, and at the end (``close``), and reports costs in groups."""

    def __init__(self, governor: Any, per_lease: int = 32):
        self.governor, self.per_lease = governor, max(1, per_lease)
        self._permits: deque[tuple[int, float, int]] = deque()  # (lease, send time (governor's clock), tokens)
        self._leases: dict[int, list[float]] = {}  # lease -> [permits not yet settled, returned, clock offset, tokens]
        self._asking: asyncio.Future | None = None
        self._refused: str | None = None
        self._last_size = 0
        self._cuts = 0
        self._owed = [0.0, 0, 0, 0]  # cost, answers, estimated tokens, used tokens not yet reported
        self._limits: Any = None  # the rate limits the latest of those answers stated
        self._sent: list[float | None] = []  # when each of those answers was let send (governor's clock)

    def __getstate__(self) -> dict[str, Any]:
        return {"governor": self.governor, "per_lease": self.per_lease}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["governor"], state["per_lease"])

    async def take(self, tokens: int) -> tuple[str | None, float | None]:
        while True:
            if self._permits:
                lease, at, reserved = self._permits.popleft()
                if self._asking is None and self._refused is None and 2 * len(self._permits) <= self._last_size:
                    self._ask(tokens)
                wait = at + self._leases[lease][2] - time.monotonic()
                if wait > 0:
                    cuts = self._cuts
                    try:
                        await asyncio.sleep(wait)
                    except BaseException:
                        self._settle(lease, returned=1)
                        raise
                    if cuts != self._cuts:  # a 429 came meanwhile: this permit's time is no longer the pace's
                        self._settle(lease, returned=1)
                        continue
                self._settle(lease)
                self._owed[2] += reserved - tokens  # the governor took ``reserved``: settle against that
                return None, at
            if self._refused is not None:
                return self._refused, None
            if self._asking is None:
                self._ask(tokens)
            await asyncio.shield(self._asking)

    def _ask(self, tokens: int) -> None:
        self._report()
        self._asking = asyncio.ensure_future(self._fetch(tokens))

    async def _fetch(self, tokens: int) -> None:
        try:
            refused, lease, now, times = await self.governor.lease.remote(self.per_lease, tokens)
        finally:
            self._asking = None
        if refused is not None:
            self._refused = refused
            return
        self._leases[lease] = [len(times), 0, time.monotonic() - now, tokens]
        self._last_size = len(times)
        self._permits.extend((lease, at, tokens) for at in times)
        asyncio.get_running_loop().call_later(times[-1] - now + LEASE_SECONDS, self._expire, lease)

    def _settle(self, lease: int, returned: int = 0) -> None:
        """One permit of ``lease`` sent (or ``returned`` permits not); the last one closes it."""
        held = self._leases[lease]
        held[0] -= returned or 1
        held[1] += returned
        if held[0] <= 0:
            del self._leases[lease]
            self.governor.give_back.remote(lease, int(held[1]), int(held[3]))

    def _expire(self, lease: int) -> None:
        """Give back the permits of ``lease`` still waiting to be taken."""
        if lease not in self._leases:
            return
        kept = deque(p for p in self._permits if p[0] != lease)
        unused = len(self._permits) - len(kept)
        self._permits = kept
        if unused:
            self._settle(lease, returned=unused)

    def close(self) -> None:
        """The worker's run ended: report what is owed and give back every permit not taken."""
        self._report()
        for lease in {p[0] for p in self._permits}:
            self._expire(lease)

    def spent(self, cost: float, estimated: int, used: int, rate_limits: Any = None,
              sent_at: float | None = None) -> None:
        self._limits = rate_limits or self._limits
        self._sent.append(sent_at)
        owed = self._owed
        owed[0] += cost
        owed[1] += 1
        owed[2] += estimated
        owed[3] += used
        if owed[1] >= self.per_lease:
            self._report()

    def _report(self) -> None:
        if self._owed[1]:
            self.governor.spent.remote(*self._owed, self._limits, self._sent)
            self._owed, self._limits, self._sent = [0.0, 0, 0, 0], None, []

    def limited(self, retry_after: float | None, sent_at: float | None, rate_limits: Any = None,
                estimated: int = 0) -> None:
        self.governor.limited.remote(retry_after, sent_at, rate_limits, estimated)
        self._cuts += 1  # the pace changes: what this worker holds goes back, the next lease follows the new pace
        for lease in {p[0] for p in self._permits}:
            self._expire(lease)

    def unused(self, estimated: int) -> None:
        self.governor.unused.remote(estimated)


def _worker_class(ray: Any) -> Any:
    @ray.remote(max_concurrency=2)  # run() in one thread, drain() answered from another
    class ShardWorker:
        """Runs the engine on one share of the seeds into a scratch journal."""

        def __init__(self, spec: Any, recipe: tuple, settings: Any, index: int, count: int) -> None:
            from janus_core.plan.shards import Shard

            self.folder = Path(tempfile.mkdtemp(prefix=f"janus-ray-{index}-"))
            self.out = self.folder / f"share-{index + 1}-of-{count}.jsonl"
            self.spec, self.recipe = spec, recipe
            self.settings = dataclasses.replace(settings, shard=Shard(index, count), out=str(self.out),
                                                executor="local", overwrite=False)

        def prime(self, records: list[tuple[str, dict]], cached: list[tuple]) -> None:
            """What the driver already holds for this share: nothing of it is asked for again."""
            from janus_core.plugins import load_plugins
            from janus_core.run.journal import Journal
            from janus_core.run.session import Session, fingerprint, record_run
            from janus_core.sdk.records import Record

            plugins = load_plugins(*self.recipe)
            session = self.session = Session(self.spec, plugins, self.settings)
            backend = session.backend_cls(model=session.model, options=session.options)
            with Journal(Path(str(self.out) + ".journal.sqlite")) as journal, journal.transaction():
                journal.set_meta("fingerprint", fingerprint(self.spec, backend.name, backend.model, self.settings,
                                                            session.plan.documents))
                record_run(journal, self.spec, self.settings, backend, session.plan, [])
                for key, text, model, finish, tokens_in, tokens_out, cost, extra in cached:
                    journal.cache(key, cached_completion(text, model, finish, tokens_in, tokens_out, extra), cost)
                for job_key, data in records:
                    journal.add_record(job_key, Record.from_dict(data))

        def run(self) -> dict[str, Any]:
            from janus_core.run.session import summary_dict

            try:
                stats = self.session.run()  # the one ``prime`` built
            finally:
                budget = self.settings.engine.shared_budget
                budget.close()
                ray.get(budget.governor.report.remote())  # the governor has what close gave back first
            return summary_dict(stats, self.out)

        def drain(self, cursor: tuple[int, int, int]) -> tuple[tuple[int, int, int], list, list, list]:
            """What the scratch journal holds past ``cursor`` (record seq, cache rowid, failure rowid)."""
            import sqlite3

            path = Path(str(self.out) + ".journal.sqlite")
            if not path.exists():
                return cursor, [], [], []
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                seq, rowid, seen = cursor
                try:
                    records = db.execute("SELECT seq, job_key, data FROM records WHERE seq > ? ORDER BY seq",
                                         (seq,)).fetchall()
                    cached = db.execute("SELECT rowid, key, text, model, finish_reason, tokens_in, tokens_out, cost, "
                                        "extra FROM requests WHERE rowid > ? ORDER BY rowid", (rowid,)).fetchall()
                    failures = db.execute("SELECT rowid, job_key, reason, detail, job FROM failures WHERE rowid > ? "
                                          "ORDER BY rowid", (seen,)).fetchall()
                except sqlite3.OperationalError:  # the tables are being made
                    return cursor, [], [], []
            finally:
                db.close()
            cursor = (records[-1][0] if records else seq, cached[-1][0] if cached else rowid,
                      failures[-1][0] if failures else seen)
            return cursor, [(k, d) for _, k, d in records], [row[1:] for row in cached], [f[1:] for f in failures]

    return ShardWorker


class RayRun:
    """The driver's side: start the workers, gather what they make into the run's journal and sinks."""

    def __init__(self, session: Any, address: str | None, workers: int):
        self.session, self.address, self.count = session, address, max(1, workers)
        self.ray = _ray()

    def run(self, journal: Any, sinks: list[Any], stats: Any) -> Any:
        import json

        from janus_core.run.tool_requests import stored_extra
        from janus_core.sdk.contracts import RememberingFilter
        from janus_core.sdk.records import Record

        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True, **({} if self.address else {"num_cpus": max(2, self.count)}))
        session = self.session
        engine = session.settings.engine
        governor = _governor_class(ray).remote(engine.max_requests, engine.max_cost, engine.requests_per_minute,
                                               engine.tokens_per_minute, self.count)
        settings = dataclasses.replace(session.settings, engine=self._share_of(engine, governor))
        worker_cls = _worker_class(ray)
        by_id: dict[str, dict] = {}
        shard_of_seed = self._shard_of_seed()
        held: dict[int, list[tuple[str, dict]]] = {i: [] for i in range(self.count)}
        for job_key, data in journal.entries():
            by_id[data["id"]] = data
            held[shard_of_seed.get(data.get("seed_id"), 0)].append((job_key, data))
        # the run's own duplicate filters, over every worker's records (each worker's saw only its own)
        remembering = [f for f in session.filters if isinstance(f, RememberingFilter)]
        for f in remembering:
            f.prime([Record.from_dict(data) for data in by_id.values()])
        dropped: set[str] = set()
        started = time.perf_counter()

        generation = {i: 0 for i in range(self.count)}

        def start(*indexes: int) -> dict[int, tuple[Any, Any]]:
            """Start the workers of these shares, together (each Ray actor takes a while to start)."""
            cached = [(k, c.text, c.model, c.finish_reason, c.tokens_in, c.tokens_out, cost, stored_extra(c))
                      for k, c, cost in journal.cached_requests()]
            workers = {}
            for index in indexes:
                name = f"janus-worker-{index}-{generation[index]}"  # the n-th worker of share ``index``
                generation[index] += 1
                workers[index] = worker_cls.options(name=name).remote(
                    session.spec, session.plugins.recipe, settings, index, self.count)
            ray.get([worker.prime.remote(held[index], cached) for index, worker in workers.items()])
            return {index: (worker, worker.run.remote()) for index, worker in workers.items()}

        live = start(*range(self.count))
        cursors = {i: (0, 0, 0) for i in range(self.count)}
        summaries: dict[int, dict] = {}
        restarts = 0
        while live:
            ray.wait([ref for _, ref in live.values()], num_returns=1, timeout=POLL)  # a worker that ends: at once
            for index, (worker, done_ref) in list(live.items()):
                finished, _ = ray.wait([done_ref], timeout=0)
                try:
                    cursor, records, cached, failures = ray.get(worker.drain.remote(cursors[index]))
                except ray.exceptions.RayActorError:
                    records, cached, failures, cursor = [], [], [], None
                if cursor is not None:
                    cursors[index] = cursor
                written: list[Any] = []
                with journal.transaction():  # one commit for all a look brought, journal before the output
                    for key, text, model, finish, tokens_in, tokens_out, cost, extra in cached:
                        journal.cache(key, cached_completion(text, model, finish, tokens_in, tokens_out, extra), cost)
                    for job_key, reason, detail, job in failures:
                        if (journal.failure_for(job_key) is None
                                and journal.record_for(job_key, session.plan.seed) is None):
                            journal.add_failure(job_key, reason, detail, json.loads(job))
                            stats.failures[reason] += 1
                    for job_key, text in records:
                        data = text if isinstance(text, dict) else json.loads(text)
                        record = Record.from_dict(data)
                        parent_id = data.get("parent_id")
                        why = None
                        if parent_id in dropped:
                            why = ("duplicate", f"evolved from record {parent_id}, a duplicate")
                        elif remembering and data["id"] not in by_id:
                            why = self._duplicate(remembering, record, by_id.get(parent_id))
                        if why is not None:
                            dropped.add(data["id"])
                            journal.add_failure(job_key, f"eliminated:{why[0]}", why[1], {"key": job_key})
                            stats.failures[f"eliminated:{why[0]}"] += 1
                            continue
                        by_id[data["id"]] = data
                        if journal.add_record(job_key, record):
                            held[index].append((job_key, data))
                            written.append(record)
                for record in written:
                    stats.records += 1
                    stats.requests += 1
                    stats.tokens_in += record.usage.get("tokens_in", 0)
                    stats.tokens_out += record.usage.get("tokens_out", 0)
                    stats.cost += record.usage.get("cost", 0.0)
                if written:
                    for sink in sinks:
                        sink.write(written)
                if finished:
                    try:
                        summaries[index] = ray.get(done_ref)
                        if cursor is not None and not records and not cached:
                            del live[index]
                    except ray.exceptions.RayTaskError as exc:  # a refused key: every share would stop alike
                        if isinstance(exc.cause, ConfigurationError):
                            for other, _ in live.values():  # the other shares would only hear the same
                                ray.kill(other)
                            raise ConfigurationError(str(exc.cause)) from None
                        raise
                    except ray.exceptions.RayActorError:  # the worker died: its share starts again
                        restarts += 1
                        if restarts > 3 * self.count:
                            raise JanusError("Ray workers keep dying; records already finished are kept, rerun "
                                             "to continue") from None
                        live.update(start(index))
                        cursors[index] = (0, 0, 0)
        stats.seconds = time.perf_counter() - started
        stats.requests = sum(s.get("requests", 0) for s in summaries.values()) or stats.requests
        stats.restarts = restarts
        stats.already_at_turns = sum(s.get("already_at_turns", 0) for s in summaries.values())
        report = ray.get(governor.report.remote())
        stats.rate_limited = report["rate_limited"]
        stats.leases = {k: report[k] for k in ("lease_calls", "leases", "permits", "returned")}
        stats.stopped = next((s["stopped"] for s in summaries.values() if s.get("stopped")), None)
        return stats

    @staticmethod
    def _duplicate(filters: list[Any], record: Any, parent: dict | None) -> tuple[str, str] | None:
        """(filter, why) ``record`` repeats one another worker made (None: it does not; it is remembered)."""
        from janus_core.sdk.records import Record

        parent_record = Record.from_dict(parent) if parent is not None else None
        for f in filters:
            reason = f.recheck(record, parent_record)
            if reason:
                return f.name, f"{reason} (made by another worker)"
        for f in filters:
            f.remember(record, parent_record)
        return None

    @staticmethod
    def _share_of(engine: Any, governor: Any) -> Any:
        """A worker's engine settings: budget and pace through the governor, none of its own."""
        return dataclasses.replace(engine, max_requests=None, max_cost=None, requests_per_minute=None,
                                   tokens_per_minute=None,
                                   shared_budget=GovernedBudget(governor, engine.concurrency or DEFAULT_CONCURRENCY))

    def _shard_of_seed(self) -> dict[str, int]:
        """Seed record id -> the worker whose share it is (to hand a new worker what is done)."""
        from janus_core.plan.shards import shard_of

        plan = self.session.plan
        return {plan.record_id(job): shard_of(job.key, self.count) for job in plan.seed_jobs()}
