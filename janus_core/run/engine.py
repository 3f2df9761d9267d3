"""The asyncio engine: runs a plan's jobs against a backend, fast and without losing anything.

- Up to ``concurrency`` requests in flight, paced by requests and tokens per minute; a 429 slows
  the pace (AIMD) and holds new requests until its Retry-After has passed.
- A 429 is never final: the request waits for the pace and tries again, without counting against
  ``retries``; only when no request has got past the rate limit for ``rate_limit_patience``
  seconds does the run stop, as at a budget, and a rerun continues.
- Other transient errors (5xx, timeouts, dropped connections) are retried ``retries`` times with
  exponential backoff and jitter, without slowing the pace; permanent ones (400, refusals) are not
  retried.
- A configuration error (a refused key: 401 or 403; a model the server does not know: 404; a
  package that is not installed) stops the run at the first one, with a message that says what to
  fix (``janus_core.run.config_stops``); it is no job's failure, so nothing goes to the ledger and
  the same command continues once it is fixed.
- A reply that does not parse is re-asked once with the error shown to the model; a truncated
  one (finish_reason "length") is re-asked once with twice the room.
- Every response is cached in the journal before it is used, every record is in the journal
  before it is counted or written, and every failure lands in the ledger with its reason. A
  rerun skips what is done, pays for no request twice and writes no record twice.
- With a target (``--target``), no more jobs are in hand than records still wanted, so the run
  ends with exactly that many; when the plan's seeds run out, further ones come from
  ``plan.extend`` in batches sized by the records per seed so far.
- Finished records and failures are committed in groups (one transaction per ``COMMIT_INTERVAL``
  seconds or ``COMMIT_BATCH`` of them, whichever comes first), a failure with the paid reply it came
  from; only then are records written to the sinks, and records and failures counted, evolved
  further or retried.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import itertools
import json
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, wait_exponential_jitter

from janus_core.plan.jobs import Job, ParseFailure, Plan, decode
from janus_core.run.config_stops import backend_stop, missing_package
from janus_core.run.cost import cost_of, price_table
from janus_core.run.journal import Journal
from janus_core.run.reply_secrets import SECRET_IN_REPLY, secret_in_reply
from janus_core.run.throttle import AdaptiveRate, TokenBudget
from janus_core.run.tool_requests import completion_for, request_for, tools_key
from janus_core.run.waits import hinted_wait, longest_pause
from janus_core.sdk.contracts import (
    Backend,
    Completion,
    CompletionRequest,
    Filter,
    Message,
    NoRecord,
    OutputType,
    RememberingFilter,
    Sink,
)
from janus_core.sdk.credentials import scrub
from janus_core.sdk.errors import BackendError, ConfigurationError, JanusError
from janus_core.sdk.rate_headers import RateHeaders
from janus_core.sdk.records import Record


@dataclass
class EngineSettings:
    #: requests in flight; None: the backend's default (``Backend.default_concurrency``), else 32
    concurrency: int | None = None
    retries: int = 4
    requests_per_minute: float | None = None
    tokens_per_minute: int | None = None
    max_cost: float | None = None
    max_requests: int | None = None
    retry_failed: bool = False
    max_seeds: int | None = None
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    rate_limit_patience: float = 900.0  # seconds of nothing but 429s before the run stops
    #: (requests_per_minute, tokens_per_minute) of a role whose backend is not the main one
    role_limits: dict[str, tuple[float | None, int | None]] = field(default_factory=dict)
    #: --target: generate until this many records are in the journal (after every filter)
    target: int | None = None
    #: with a target, seed jobs may grow to this many times the plan's own
    extend_limit: int = 10
    #: --batch: the main backend's requests go through its provider's batch API
    batch: bool = False
    #: seconds between polls of a running batch
    batch_poll: float = 30.0
    #: a budget shared with other processes (the Ray executor's governor): asked before each request
    shared_budget: SharedBudget | None = None


@dataclass
class Stats:
    """What a run did; read by progress displays while it runs."""

    planned: int = 0
    records: int = 0
    resumed: int = 0
    requests: int = 0
    cached: int = 0
    in_flight: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0
    failures: Counter = field(default_factory=Counter)
    #: per model: requests, tokens in and out, cost
    by_model: dict[str, dict[str, float]] = field(default_factory=dict)
    #: --batch: provider batches submitted, running and finished, and the requests they held
    batches: dict[str, int] = field(default_factory=dict)
    #: --executor ray: workers started again after they died
    restarts: int = 0
    #: --executor ray: the governor's leases (asked for, granted, permits leased and given back unused)
    leases: dict[str, int] = field(default_factory=dict)
    earlier_failures: int = 0
    skipped: int = 0
    #: --input conversations that already had --turns user turns (or more) and were left as they were
    already_at_turns: int = 0
    rate_limited: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)
    #: --target, the records the journal held when the run began, seeds added beyond the plan,
    #: and why the target was not reached (None when it was, or without a target)
    target: int | None = None
    before: int = 0
    extended: int = 0
    shortfall: str | None = None

    @property
    def made(self) -> int:
        """Records in the journal now (toward a target)."""
        return self.before + self.records

    @property
    def progress(self) -> int:
        return self.made if self.target is not None else self.done

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def done(self) -> int:
        return self.records + self.resumed + self.failed + self.earlier_failures + self.skipped


#: Group commit: finished records wait at most this long (seconds) or until this many are waiting.
#: requests in flight when neither the run nor the backend says
DEFAULT_CONCURRENCY = 32
COMMIT_INTERVAL = 0.005
COMMIT_BATCH = 256

_USAGE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("janus_usage", default=None)


@dataclass
class _Lane:
    """One backend of the run and its own pace: each model's limits are kept apart."""

    backend: Backend
    rate: AdaptiveRate
    tokens: TokenBudget | None


class _Failed(Exception):
    def __init__(self, reason: str, detail: str, meta: dict[str, Any] | None = None):
        super().__init__(detail)
        #: meta: an eliminated record's meta (a judge's grades), kept in the failure ledger
        self.reason, self.detail, self.meta = reason, detail, meta


class SharedBudget:
    """A budget and a pace several engines draw on (a run on Ray workers: ``--max-requests``,
    ``--max-cost``, ``--rpm``, ``--tpm``, and the slow-down after 429s, all for the whole run)."""

    async def take(self, tokens: int) -> tuple[str | None, float | None]:
        """Leave to send one request of about ``tokens`` tokens, when the run's pace allows: (None,
        when it was granted, on the budget's clock), or (why not, None): the run then stops as at its
        own budget."""
        return None, None

    def spent(self, cost: float, estimated: int, used: int, rate_limits: RateHeaders | None = None,
              sent_at: float | None = None) -> None:
        """An answer that was not a 429 came back (a 5xx too, costing nothing): it cost this much and
        used ``used`` tokens (``estimated`` were taken); ``rate_limits``: what its headers stated;
        ``sent_at``: when ``take`` granted it, on the budget's clock."""

    def limited(self, retry_after: float | None, sent_at: float | None, rate_limits: RateHeaders | None = None,
                estimated: int = 0) -> None:
        """The provider answered 429 to a request granted at ``sent_at``: the whole run holds and paces
        again (``janus_core.run.throttle``); its ``estimated`` tokens were not used."""

    def unused(self, estimated: int) -> None:
        """A request got no answer at all: its ``estimated`` tokens were not used."""


class _ConfigStop(Exception):
    """A backend's configuration error (``BackendError.config``): the whole run stops, no job fails."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Budget(Exception):
    """The run reached --max-requests or --max-cost, or the provider let nothing through for too long."""


class RunAborted(JanusError):
    """The run stopped early because it could not go on safely (a write failed, a worker broke)."""


class _WriteFailed(Exception):
    """Writing the output failed (disk full, read-only, ...): the run stops, it is no job's failure."""


def _describe_stop(exc: BaseException) -> str:
    if isinstance(exc, sqlite3.Error):
        return f"cannot write the journal ({type(exc).__name__}: {exc})"
    if isinstance(exc, _WriteFailed):
        return str(exc)
    return f"an unexpected {type(exc).__name__} in a worker: {exc}"


def request_key(backend: Backend, request: CompletionRequest, schema_json: str) -> str:
    """Content address of a request: backend, model, parameters, messages, schema and tools."""
    head = f"{backend.name}\x1f{backend.model}\x1f{request.temperature}\x1f{request.max_tokens}\x1f{request.seed}"
    body = "\x1f".join(f"{m['role']}\x1e{m['content']}" for m in request.messages)
    blob = f"{head}\x1d{body}\x1d{schema_json}{tools_key(request)}"
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _backend_reason(exc: BackendError) -> str:
    return exc.reason or ("rate_limit" if exc.rate_limited else "refusal" if exc.refusal else "transport")


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, BackendError) and exc.transient


class Engine:
    def __init__(self, plan: Plan, backend: Backend, journal: Journal, sinks: list[Sink],
                 settings: EngineSettings | None = None, filters: list[Filter] | None = None,
                 roles: dict[str, Backend] | None = None):
        self.plan = plan
        self.filters = list(filters or [])
        #: whether the output type has a finish of its own (the base's returns the record as it is)
        self._finishes = type(plan.output_type).finish is not OutputType.finish
        self.backend = backend
        self.journal = journal
        self.sinks = sinks
        self.settings = settings or EngineSettings()
        wanted = self.settings.concurrency or backend.default_concurrency or DEFAULT_CONCURRENCY
        self.concurrency = max(1, min(wanted, backend.max_concurrency or wanted))
        backend.set_concurrency(self.concurrency)
        pause = longest_pause(self.settings.rate_limit_patience)
        self.rate = AdaptiveRate(self.settings.requests_per_minute, max_pause=pause)
        self.tokens = TokenBudget(self.settings.tokens_per_minute) if self.settings.tokens_per_minute else None
        # a lane per role (user simulator, assistant, judge); roles on the main backend share its lane
        main = _Lane(backend, self.rate, self.tokens)
        self._lanes: dict[str, _Lane] = {"assistant": main}
        by_backend = {id(backend): main}
        for role, other in (roles or {}).items():
            lane = by_backend.get(id(other))
            if lane is None:
                rpm, tpm = self.settings.role_limits.get(role, (None, None))
                lane = by_backend[id(other)] = _Lane(other, AdaptiveRate(rpm, max_pause=pause),
                                                     TokenBudget(tpm) if tpm else None)
            self._lanes[role] = lane
        self.stats = Stats()
        #: --batch: the main backend's requests go through its provider's batch API
        self._batcher = None
        if self.settings.batch:
            from janus_core.run.batch import BatchCollector

            self._batcher = BatchCollector(backend, journal, self.settings.batch_poll)
            self.stats.batches = self._batcher.counts
        self._schema_json = json.dumps(plan.schema, sort_keys=True)
        # Derivations wait here and go before new seeds; seeds are drawn lazily from the plan, so
        # memory does not grow with the size of the plan.
        self._derived: asyncio.Queue[Job] = asyncio.Queue()
        self._seeds: Iterator[Job] = iter(())
        self._seeds_left = True
        self._active = 0
        self._done = asyncio.Event()
        # --target: workers wait here for room under the target or for a batch of seeds to finish
        self._wake = asyncio.Event()
        self._ext: Any = None  # the plan's Extension, made when the plan first runs out
        self._extension: Iterator[Job] | None = None
        self._seeds_taken = 0
        self._batch_yield, self._batch_seeds, self._extension_started = -1, 0, False
        # Responses not yet journaled. One that becomes a record is journaled as that record, in
        # the same synchronous step (no await in between), so it cannot be lost and paid again;
        # one that does not (a reply to re-ask) goes to the request cache.
        self._pending: dict[str, tuple[Completion, float]] = {}
        # set when the run must stop at once (a write failed, the failure path broke)
        self._fatal: BaseException | None = None
        # set when a configuration error stops the run (a refused key, a missing package): its message
        self._config_stop: str | None = None
        # finished records waiting for their group commit (see _commit)
        self._uncommitted: list[tuple[Job, Record]] = []
        # failures waiting for the same group commit, and the paid replies they came from
        self._uncommitted_failures: list[tuple[Job, str, str, dict[str, Any]]] = []
        self._uncommitted_replies: dict[str, tuple[Completion, float]] = {}
        self._commit_timer: asyncio.TimerHandle | None = None

    # --- one request ---------------------------------------------------------------------------

    def _check_budget(self) -> None:
        s = self.settings
        if s.max_requests is not None and self.stats.requests + self.stats.in_flight >= s.max_requests:
            raise _Budget(f"--max-requests {s.max_requests} reached")
        if s.max_cost is not None and self.stats.cost >= s.max_cost:
            raise _Budget(f"--max-cost {s.max_cost} reached (spent {self.stats.cost:.4f})")

    def _estimate_tokens(self, request: CompletionRequest) -> int:
        chars = sum(len(m["content"] or "") for m in request.messages)
        return chars // 4 + (request.max_tokens or 512)

    def lane(self, role: str) -> _Lane:
        """The backend (and pace) a role's requests go to; the assistant's for a role without one."""
        return self._lanes.get(role) or self._lanes["assistant"]

    def backend_for(self, role: str) -> Backend:
        return self.lane(role).backend

    def _price(self, completion: Completion, lane: _Lane) -> float:
        """What a reply cost: litellm's price for its model, the batch price for a batched lane; $0 on
        a backend that charges nothing (``Backend.priced``), whatever its model is called."""
        if not lane.backend.priced:
            return 0.0
        cost = cost_of(completion.model or lane.backend.model, completion.tokens_in, completion.tokens_out,
                       fallback=lane.backend.model)
        if self._batcher is not None and lane.backend is self._batcher.backend:
            cost *= lane.backend.batch_discount
        return cost

    async def _send(self, request: CompletionRequest, key: str, lane: _Lane | None = None) -> Completion:
        lane = lane or self._lanes["assistant"]
        self._check_budget()
        sent_at = await lane.rate.acquire()
        estimate = self._estimate_tokens(request) if lane.tokens else 0
        shared = self.settings.shared_budget
        try:
            if lane.tokens:
                await lane.tokens.take(estimate)
            self._check_budget()  # again: other requests may have spent the budget while this one waited
            if shared is not None:
                refused, shared_at = await shared.take(self._estimate_tokens(request))
                if refused:
                    raise _Budget(refused)
        except BaseException:  # not sent after all
            lane.rate.dropped()
            raise
        self.stats.in_flight += 1
        batched = self._batcher is not None and lane.backend is self._batcher.backend
        try:  # every start ends in one report to the pace, whatever happens
            sent = request_for(lane.backend, request)  # tools in the JSON call format where not native
            if batched:
                completion = await self._batcher.complete(sent, key)
            else:
                completion = await lane.backend.complete(sent)
            completion = completion_for(lane.backend, request, completion)
        except BackendError as exc:
            if shared is not None:
                if exc.rate_limited:
                    shared.limited(exc.retry_after, shared_at, exc.rate_limits, self._estimate_tokens(request))
                elif exc.status is not None:  # answered: the request used a slot of the provider's limit
                    shared.spent(0.0, self._estimate_tokens(request), 0, exc.rate_limits, shared_at)
                else:
                    shared.unused(self._estimate_tokens(request))
            if exc.rate_limited:
                self.stats.rate_limited += 1
                lane.rate.limited(exc.retry_after, sent_at, exc.rate_limits)
            elif exc.status is not None:
                lane.rate.answered(exc.rate_limits, sent_at=sent_at)  # a 5xx is no sign that the pace is too high
            else:
                lane.rate.dropped()
            if lane.tokens:
                lane.tokens.settle(estimate, 0)  # nothing was used
            if exc.config:
                raise _ConfigStop(backend_stop(lane.backend, exc)) from None
            raise
        except BaseException:  # cancelled, or a bug: the start still ends
            lane.rate.dropped()
            raise
        finally:
            self.stats.in_flight -= 1
        used = completion.tokens_in + completion.tokens_out
        lane.rate.answered(completion.rate_limits, used, sent_at)
        if lane.tokens:
            lane.tokens.settle(estimate, used)
        model = completion.model or lane.backend.model
        cost = self._price(completion, lane)
        if shared is not None:
            shared.spent(cost, self._estimate_tokens(request), used, completion.rate_limits, shared_at)
        self.stats.requests += 1
        self.stats.tokens_in += completion.tokens_in
        self.stats.tokens_out += completion.tokens_out
        self.stats.cost += cost
        if len(self._lanes) > 1 or self.plan.generation == "turns":
            used = self.stats.by_model.setdefault(f"{lane.backend.name}/{model}", dict.fromkeys(
                ("requests", "tokens_in", "tokens_out", "cost"), 0))
            used["requests"] += 1
            used["tokens_in"] += completion.tokens_in
            used["tokens_out"] += completion.tokens_out
            used["cost"] += cost
        refused = secret_in_reply(completion)
        if refused:  # paid for, but nothing of it is kept, not even in the request cache
            raise _Failed(SECRET_IN_REPLY, refused)
        self._pending[key] = (completion, cost)
        return completion

    async def complete(self, request: CompletionRequest, role: str = "assistant") -> tuple[str, Completion]:
        """A completion (and its request key) from the journal's cache, or from the role's backend
        with transient retries."""
        lane = self.lane(role)
        schema_json = self._schema_json if request.schema is self.plan.schema else \
            json.dumps(request.schema, sort_keys=True)
        key = request_key(lane.backend, request, schema_json)
        hit = self._uncommitted_replies.get(key) or self.journal.cached(key)
        if hit is not None:
            self.stats.cached += 1
            return key, hit[0]

        # the first attempt without tenacity: building its retry loop costs more CPU than the request's
        # own work (it inspects every callback per attempt); a transient failure goes through the loop
        # below as its first attempt, so retries, waits and stops are decided exactly as before
        first: BackendError | None = None
        try:
            return key, await self._send(request, key, lane)
        except BackendError as exc:
            if not _transient(exc):
                raise
            first = exc

        errors = 0  # transient errors other than 429s: these count against --retries
        backoff = wait_exponential_jitter(initial=self.settings.backoff_initial, max=self.settings.backoff_max)

        def retry(state: RetryCallState) -> bool:  # tenacity asks this first, once per failed attempt
            nonlocal errors
            exc = state.outcome.exception() if state.outcome else None
            if not _transient(exc):
                return False
            if not exc.rate_limited:
                errors += 1
            return True

        def stop(state: RetryCallState) -> bool:
            if state.outcome.exception().rate_limited:
                return lane.rate.stalled_for() >= self.settings.rate_limit_patience
            return errors > self.settings.retries

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception()
            if exc.rate_limited:
                return 0.0  # the pace holds every start until Retry-After has passed, and slows down
            counted = RetryCallState(state.retry_object, state.fn, state.args, state.kwargs)
            counted.attempt_number = errors  # the backoff grows with the errors that count, not with 429s
            return max(backoff(counted), hinted_wait(exc.retry_after, self.settings.rate_limit_patience))

        retrying = AsyncRetrying(stop=stop, wait=wait, retry=retry, reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    if first is not None:
                        failed, first = first, None
                        raise failed
                    return key, await self._send(request, key, lane)
        except BackendError as exc:
            if exc.rate_limited:  # only after rate_limit_patience: stop the run; the request is not failed
                raise _Budget(f"the provider answered only 429 (rate limit) for "
                              f"{self.settings.rate_limit_patience:g} s") from None
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def produce(self, job: Job) -> Record:
        """A record for a job: the request, then at most one re-ask for a bad or truncated reply
        (or, with ``generation: turns``, one request per turn)."""
        if self.plan.role_play is not None:
            return await self._produce_turns(job)
        request = self.plan.request(job)
        reasked = False
        usage = {"tokens_in": 0, "tokens_out": 0, "cost": 0.0}
        while True:
            try:
                key, completion = await self.complete(request)
            except BackendError as exc:
                raise _Failed(_backend_reason(exc), str(exc)) from None
            truncated = completion.finish_reason == "length"
            model = completion.model or self.backend.model
            usage["tokens_in"] += completion.tokens_in
            usage["tokens_out"] += completion.tokens_out
            usage["cost"] += self._price(completion, self.lane("assistant"))
            try:
                record = self.plan.record(job, request, completion.text, model)
                record = await self._complete_record(job, record, usage, key)
                self._pending.pop(key, None)  # journaled by the caller, with no await in between
                return record
            except ParseFailure as exc:
                pending = self._pending.pop(key, None)
                if pending is not None:
                    self.journal.cache(key, *pending)
                if reasked:
                    raise _Failed("truncation" if truncated else "schema", str(exc)) from None
                reasked = True
                request = (self.plan.more_room(request, completion) if truncated
                           else self.plan.reask(request, completion.text, str(exc)))

    async def _produce_turns(self, job: Job) -> Record:
        """A record written turn by turn: the user simulator, then the assistant, for each new user
        turn. Every reply is journaled as it comes, so a rerun after a kill pays for no turn twice."""
        play = self.plan.role_play
        assert play is not None
        messages = play.base(job)
        usage: dict[str, Any] = {"tokens_in": 0, "tokens_out": 0, "cost": 0.0, "turns": []}
        prompts: list[list[Message]] = []
        for turn in range(play.turns(job)):
            for role in ("user", "assistant"):
                text = await self._turn(job, role, messages, turn, usage, prompts)
                messages = [*messages, {"role": role, "content": text}]
        record = play.record(job, messages, prompts, self.backend_for("assistant").model, usage)
        return await self._complete_record(job, record, usage, "")

    async def _turn(self, job: Job, role: str, messages: list[Message], turn: int, usage: dict[str, Any],
                    prompts: list[list[Message]]) -> str:
        """One turn's text. A turn that comes back empty, cut with no full sentence, in the other
        side's voice or (the user's) asking nothing is asked for again with another seed
        (``RolePlay.attempts``); then the user's turn is written from the brief, and the assistant's
        last problem names the failure (``wrong-voice``, ``cut``, ``empty``)."""
        play = self.plan.role_play
        assert play is not None
        problem = None
        attempts = play.attempts(role)
        for attempt in range(attempts):
            request = play.request(job, role, messages, turn, attempt, after=problem)
            try:
                key, completion = await self.complete(request, role)
            except BackendError as exc:
                raise _Failed(_backend_reason(exc), str(exc)) from None
            pending = self._pending.pop(key, None)
            if pending is not None:
                self.journal.cache(key, *pending)
            lane = self.lane(role)
            model = completion.model or lane.backend.model
            cost = self._price(completion, lane)
            usage["tokens_in"] += completion.tokens_in
            usage["tokens_out"] += completion.tokens_out
            usage["cost"] += cost
            usage["turns"].append({"role": role, "backend": lane.backend.name, "model": model,
                                   "tokens_in": completion.tokens_in, "tokens_out": completion.tokens_out,
                                   "cost": cost})
            prompts.append(request.messages)
            text, problem = play.accept(job, role, messages, completion.text, completion.finish_reason == "length",
                                        request.messages)
            if not problem:
                return text
        composed = play.fallback(job, role, messages)
        if composed:
            usage["turns"][-1]["composed"] = problem
            return composed
        assert problem is not None
        reason = problem.split(":", 1)[0].replace(" ", "-")
        raise _Failed(reason, f"the {role} turn {turn + 1}, asked {attempts} times: {problem}")

    async def _complete_record(self, job: Job, record: Record, usage: dict[str, Any], key: str) -> Record:
        """The output type's extra requests and the filters. If anything stops the record here
        (an elimination, a budget stop, a failure, a cancellation), the reply it came from is
        kept in the request cache, so a rerun does not pay for it again."""
        token = _USAGE.set(usage)  # per task: ask() adds the extra requests' tokens here
        try:
            output_type = self.plan.output_type
            try:
                if self._finishes:  # the default finish needs no random state, which costs to seed
                    rng = random.Random(f"{self.plan.seed}|{job.key}|finish")
                    record = await output_type.finish(record, self.ask, rng)
            except NoRecord as exc:  # the output type's own elimination (a pair the judge cannot tell apart)
                raise _Failed(f"eliminated:{exc.rule or output_type.name}", str(exc), record.meta) from None
            except (ValueError, TypeError) as exc:
                raise _Failed("schema", f"{output_type.name}: {exc}") from None
            record.usage = usage
            await self._screen(record, job.parent)
            return record
        except BaseException as exc:
            pending = self._pending.pop(key, None)
            if pending is not None:  # the reply was paid for: a rerun must not pay again
                if isinstance(exc, _Failed):  # journaled with its failure, in the same group commit
                    self._uncommitted_replies[key] = pending
                else:
                    self.journal.cache(key, *pending)
            if isinstance(exc, BackendError):
                raise _Failed(_backend_reason(exc), str(exc)) from None
            raise
        finally:
            _USAGE.reset(token)

    async def ask(self, messages: list[Message], schema: dict[str, Any] | None, temperature: float = 0.0,
                  seed: int = 0, raw: bool = False, role: str = "judge", max_tokens: int | None = None,
                  completion: bool = False, tools: list[dict[str, Any]] | None = None,
                  tool_choice: str | None = None) -> Any:
        """A filter's or output type's extra request: cached, paced and counted like every request,
        sent to the ``role``'s model (the judge's unless said otherwise). Returns the decoded JSON
        reply (None if it is not JSON), its text with ``raw``, or the Completion itself (text,
        finish_reason, tool_calls, reasoning) with ``completion`` or with ``tools`` (OpenAI function
        definitions the model may call; ``tool_choice`` "auto", "required", "none" or a tool's name)."""
        if tools:
            if schema is not None:
                raise TypeError("ask(): a request with tools takes no schema (give schema None)")
            completion = True  # a tool request's answer is the Completion: its text, calls and reasoning
        request = CompletionRequest(messages=messages, schema=schema, schema_name="judge", max_tokens=max_tokens,
                                    temperature=temperature, seed=seed, tools=tools or None,
                                    tool_choice=tool_choice if tools else None)
        key, reply = await self.complete(request, role)
        pending = self._pending.pop(key, None)
        if pending is not None:
            self.journal.cache(key, *pending)
        usage = _USAGE.get()
        if usage is not None:
            usage["tokens_in"] += reply.tokens_in
            usage["tokens_out"] += reply.tokens_out
            usage["cost"] += self._price(reply, self.lane(role))
        if completion:
            return reply
        if raw:
            return reply.text
        try:
            return decode(reply.text)
        except ParseFailure:
            return None

    async def _screen(self, record: Record, parent: Record | None) -> None:
        """Run the filters; raise _Failed('eliminated:NAME') for the first that eliminates."""
        active = [f for f in self.filters if parent is not None or not f.evolution_only]
        for f in active:
            reason = await f.check(record, parent, self.ask)
            if reason:
                raise _Failed(f"eliminated:{f.name}", reason, record.meta)
        # the last word, with no await in between: every filter that remembers records checks again
        # (a record checked alongside may have been kept meanwhile), then all of them remember it
        remembering = [f for f in active if isinstance(f, RememberingFilter)]
        for f in remembering:
            reason = f.recheck(record, parent)
            if reason:
                raise _Failed(f"eliminated:{f.name}", reason, record.meta)
        for f in remembering:
            f.remember(record, parent)

    # --- the queue -----------------------------------------------------------------------------

    def _finish(self, job: Job, record: Record, *, fresh: bool) -> None:
        if fresh:  # counted, written and evolved once its group is committed
            self._uncommitted.append((job, record))
            self._group()
            return
        self.stats.resumed += 1
        self._grow(job, record)

    def _group(self) -> None:
        """Commit now if the group is full, else within ``COMMIT_INTERVAL``."""
        if len(self._uncommitted) + len(self._uncommitted_failures) >= COMMIT_BATCH:
            self._commit()
        elif self._commit_timer is None:
            self._commit_timer = asyncio.get_running_loop().call_later(COMMIT_INTERVAL, self._commit)

    def _grow(self, job: Job, record: Record) -> None:
        """Queue the jobs that evolve or grow a record further."""
        children = self.plan.derive_jobs(record, job.context)
        self.stats.planned += self.plan.unplanned(record, len(children))
        for child in children:
            self._derived.put_nowait(child)

    def _commit(self) -> None:
        """Commit the waiting records, failures and the replies of those failures in one transaction,
        then write the records to the sinks, count records and failures, and queue what grows from
        them (or retries them). A write that fails stops the run (what was committed is kept)."""
        if self._commit_timer is not None:
            self._commit_timer.cancel()
            self._commit_timer = None
        batch, self._uncommitted = self._uncommitted, []
        failures, self._uncommitted_failures = self._uncommitted_failures, []
        replies, self._uncommitted_replies = self._uncommitted_replies, {}
        if not (batch or failures or replies):
            return
        try:
            added, error = self.journal.add_records(
                [(job.key, record) for job, record in batch],
                failures=[(job.key, reason, detail, entry) for job, reason, detail, entry in failures],
                replies=list(replies.items()))
            for job, reason, detail, _ in failures:
                self._counted_failure(job, reason, detail)
            kept = [pair for pair, new in zip(batch, added, strict=False) if new]  # a job twice in one plan: once
            for job, record in kept:
                for sink in self.sinks:
                    try:
                        sink.write([record])
                    except OSError as exc:  # the record is in the journal: a rerun writes it
                        raise _WriteFailed(f"cannot write {sink.path} ({exc.strerror or exc})") from exc
                self.stats.records += 1
                self._grow(job, record)
            if error is not None:
                raise error
        except (sqlite3.Error, _WriteFailed) as exc:
            self._abort(exc)
        except Exception as exc:  # a sink's or a plugin's bug must not hang the run
            self._abort(exc)
        finally:
            self._check_done()

    def _fail(self, job: Job, reason: str, detail: str, *, fresh: bool, meta: dict[str, Any] | None = None) -> None:
        """A job that made no record: a new failure goes to the ledger in the next group commit and
        is counted then; one from an earlier run is counted now."""
        detail = scrub(detail)  # a server may echo the key back in its error
        if fresh:
            entry = {"key": job.key, "kind": job.kind, **({"meta": meta} if meta else {})}
            self._uncommitted_failures.append((job, reason, detail, entry))
            self._group()
            return
        self.stats.earlier_failures += 1
        self._after_failure(job, reason)

    def _counted_failure(self, job: Job, reason: str, detail: str) -> None:
        self.stats.failures[reason] += 1
        if len(self.stats.errors) < 20:
            self.stats.errors.append(f"{job.kind} {job.key[:60]}: {reason}: {detail[:200]}")
        self._after_failure(job, reason)

    def _after_failure(self, job: Job, reason: str) -> None:
        """An eliminated record's job is retried where the plan allows; else what it would have grown
        into is skipped."""
        retry = self.plan.retry_job(job) if reason.startswith("eliminated:") else None
        if retry is not None:
            self.stats.planned += 1  # the parent returns to the pool: one more request
            self._derived.put_nowait(retry)
        else:
            self.stats.skipped += self.plan.below(job)

    async def _handle(self, job: Job) -> None:
        if job.given is not None:  # a record from --input: only what grows from it is new
            children = self.plan.derive_jobs(job.given, job.context)
            if not children:
                self.stats.already_at_turns += 1
            for child in children:
                self._derived.put_nowait(child)
            return
        stored = self.journal.record_for(job.key, self.plan.seed)
        if stored is not None:
            self._finish(job, stored, fresh=False)
            return
        if not self.settings.retry_failed:
            earlier = self.journal.failure_for(job.key)
            if earlier is not None:
                self._fail(job, *earlier, fresh=False)
                return
        if self.stats.stopped:
            return
        try:
            record = await self.produce(job)
        except _Failed as failed:
            self._fail(job, failed.reason, failed.detail, fresh=True, meta=failed.meta)
        except _Budget as budget:
            self.stats.stopped = str(budget)
        else:
            self._finish(job, record, fresh=True)

    async def _next_job(self) -> Job:
        if self.settings.target is not None:
            return await self._next_target_job()
        try:
            return self._derived.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if self._seeds_left:
            job = self._pull_seed()
            if job is not None:
                return job
            self._seeds_left = False
            self._check_done()
        return await self._derived.get()

    def _pull_seed(self) -> Job | None:
        """The plan's next seed job; None when it has no more (a broken plan ends the seeds, not a worker)."""
        try:
            return next(self._seeds, None)
        except Exception as exc:
            self.stats.errors.append(f"planning stopped: {type(exc).__name__}: {exc}")
            self._seeds_left = False
            return None

    def _check_done(self) -> None:
        if self.settings.target is not None:
            self._wake.set()
            if self._active == 0 and not self._committing and (
                    self.stats.made >= self.settings.target or (not self._seeds_left and self._derived.empty())):
                self._done.set()
        elif not self._seeds_left and self._active == 0 and self._derived.empty() and not self._committing:
            self._done.set()

    @property
    def _committing(self) -> bool:
        """Whether records or failures wait for their group commit (what they grow into is not queued yet)."""
        return bool(self._uncommitted or self._uncommitted_failures)

    # --- toward a target ---------------------------------------------------------------------

    async def _next_target_job(self) -> Job:
        """The next job while records (made, plus one per job in hand) stay under the target: no
        record beyond it is paid for. When the seeds run out, more come from the extension."""
        while True:
            job = self._take_toward_target()
            if job is not None:
                return job
            self._check_done()
            self._wake.clear()
            await self._wake.wait()

    def _take_toward_target(self) -> Job | None:
        # records waiting for their group commit count as made: no job beyond the target is taken
        if self.stats.made + len(self._uncommitted) + self._active >= self.settings.target:
            return None
        try:
            return self._derived.get_nowait()
        except asyncio.QueueEmpty:
            pass
        while self._seeds_left:
            job = self._pull_seed()
            if not self._seeds_left:  # the plan broke
                return None
            if job is not None:
                if job.parent is None and job.given is None:
                    self._seeds_taken += 1
                    self.stats.extended += self._extension_started
                return job
            if self._active or not self._derived.empty() or self._committing:
                return None  # the batch is still running: what it yields sizes the next one
            if not self._extend():
                self._seeds_left = False
        return None

    def _extend(self) -> bool:
        """Queue the next batch of further seeds, sized by the records per seed so far; False,
        with the reason in ``stats.shortfall``, when the plan may not or cannot grow."""
        s, target = self.stats, self.settings.target
        if s.stopped:
            s.shortfall = s.stopped
            return False
        from janus_core.plan.extend import Extension

        if self._extension is None:
            self._ext = Extension(self.plan)
            self._extension = self._ext.jobs()
            if not self._ext.possible:
                s.shortfall = "the plan cannot grow (it only grows given conversations)" if self.plan.given \
                    else "the plan cannot grow (no seed directions or s_factor 0)"
                return False
        yielded = s.records + s.resumed
        if yielded == 0 or yielded == self._batch_yield:
            taken = self._seeds_taken - self._batch_seeds if self._extension_started else self._seeds_taken
            where = "further seeds" if self._extension_started else "seeds of the plan"
            s.shortfall = (f"the last {taken} {where} brought no record that passed the filters, so more "
                           "would likely bring none either" + self._walks_note())
            return False
        limit = self.settings.extend_limit * self.plan.seed_count
        if self.settings.max_seeds:
            limit = min(limit, self.settings.max_seeds)
        room = limit - self._seeds_taken
        if room <= 0:
            s.shortfall = (f"the plan may grow to {limit} seeds (--max-seeds {self.settings.max_seeds})"
                           if self.settings.max_seeds and limit == self.settings.max_seeds else
                           f"the plan may grow to {limit} seeds, {self.settings.extend_limit} times its own "
                           "(--extend-limit)" + self._walks_note())
            return False
        per_seed = yielded / self._seeds_taken
        need = target - s.made
        size = min(room, max(-(-need // per_seed), self.plan.seed_count, 8))
        self._batch_yield, self._batch_seeds = yielded, self._seeds_taken
        self._extension_started = True
        self._seeds = itertools.islice(self._extension, int(size))
        return True

    def _walks_note(self) -> str:
        ext = self._ext
        if ext is None or not self._extension_started:
            return ""
        note = f"; further walks found {ext.walked} new parts of the diagram"
        return note + (", none in the last round (the diagram's walks are exhausted)"
                       if ext.rounds and not ext.last_round_walks else "")

    def _stop_for_config(self, message: str) -> None:
        """Stop the run on a configuration error (the first one is reported); no job is failed."""
        if self._config_stop is None:
            self._config_stop = message
        self._done.set()

    def _abort(self, exc: BaseException) -> None:
        """Stop the whole run now (the first cause is the one reported)."""
        if self._fatal is None:
            self._fatal = exc
        self._done.set()

    async def _worker(self) -> None:
        """Take jobs until the run is done. A job's own error is recorded as its failure; a write
        that fails, or anything that escapes (the failure path included), stops the whole run."""
        try:
            while True:
                job = await self._next_job()
                self._active += 1
                try:
                    await self._handle(job)
                except (sqlite3.Error, _WriteFailed) as exc:
                    self._abort(exc)
                    return
                except _ConfigStop as stop:
                    self._stop_for_config(stop.message)
                    return
                except ImportError as exc:  # a plugin's package is not installed: every job would fail alike
                    self._stop_for_config(missing_package(exc))
                    return
                except Exception as exc:  # a bug (or a plugin's) must not hang the run; it is still recorded
                    self._fail(job, "error", f"{type(exc).__name__}: {exc}", fresh=True)
                finally:
                    self._active -= 1
                    self._check_done()
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._abort(exc)

    def seed_jobs(self) -> Iterator[Job]:
        jobs = self.plan.seed_jobs()
        return itertools.islice(jobs, self.settings.max_seeds) if self.settings.max_seeds else jobs

    def seed_count(self) -> int:
        return self.plan.seeds_planned(self.settings.max_seeds)

    def prime_filters(self, extra: list[Record] | None = None) -> None:
        """Show the filters what exists: this run's earlier records, then --against datasets."""
        if not self.filters:
            return
        existing = [Record.from_dict(data) for data in self.journal.records()] + list(extra or [])
        for f in self.filters:
            f.prime(existing)

    async def run(self) -> Stats:
        for backend in dict.fromkeys(lane.backend for lane in self._lanes.values()):
            try:
                await backend.start()
            except ImportError as exc:
                raise ConfigurationError(missing_package(exc)) from None
        price_table()  # load litellm's price file now, not inside the first request
        started, cpu = time.perf_counter(), time.process_time()
        self._seeds = self.seed_jobs()
        self.stats.planned = self.plan.planned(self.seed_count())
        if self.settings.target is not None:
            self.stats.target, self.stats.planned = self.settings.target, self.settings.target
            self.stats.before = self.journal.count_records()
            self._check_done()  # the journal may hold the target already
        count = self.concurrency
        if self._batcher is not None:  # every job in hand waits for its batch: as many as a batch holds
            count = min(count, max(1, self.stats.planned))
        workers = [asyncio.create_task(self._worker()) for _ in range(count)]
        try:
            await self._done.wait()
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if self._batcher is not None:
                await self._batcher.aclose()
            if self._fatal is None:
                self._commit()  # what finished before a stop or an interrupt is kept
            elif self._commit_timer is not None:
                self._commit_timer.cancel()
                self._commit_timer = None
            self.stats.seconds = time.perf_counter() - started
            self.stats.cpu_seconds = time.process_time() - cpu
        if self._fatal is not None:
            self._keep_pending()
            self.stats.stopped = _describe_stop(self._fatal)
            raise RunAborted(f"stopped: {self.stats.stopped}. Records already finished are kept in the journal; "
                             "fix the cause (free disk space, ...) and rerun the same command to continue"
                             ) from self._fatal
        if self._config_stop is not None:
            self.stats.stopped = self._config_stop
            raise ConfigurationError(self._config_stop)
        return self.stats

    def _keep_pending(self) -> None:
        """Try to keep replies paid for but not yet journaled (it may fail again: the disk may be full)."""
        batch, self._uncommitted = self._uncommitted, []
        failures, self._uncommitted_failures = self._uncommitted_failures, []
        replies, self._uncommitted_replies = self._uncommitted_replies, {}
        if batch or failures or replies:  # the last group: into the journal (a rerun writes the output from it)
            try:
                self.journal.add_records([(job.key, record) for job, record in batch],
                                         failures=[(job.key, reason, detail, entry)
                                                   for job, reason, detail, entry in failures],
                                         replies=list(replies.items()))
            except sqlite3.Error:
                return
        for key, pending in list(self._pending.items()):
            try:
                self.journal.cache(key, *pending)
            except sqlite3.Error:
                return
            self._pending.pop(key, None)
