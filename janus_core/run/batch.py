"""Provider batch APIs (``janus generate --batch``): requests gathered into batches at half price.

The engine sends every request as usual; in a batch run its lane hands them to a ``BatchCollector``
instead of the backend. The collector waits until no new request has come for a moment (every job in
hand is waiting for a reply), then submits what it holds as batches within the provider's limits,
polls them, and answers each request from the results by its custom id, the engine's request key.
So parsing, filters, the journal and resume are the online path's own, and each evolution round
becomes the next batch by itself.

A batch is written to the journal before the provider is asked for it, with a local id that travels
in the batch's metadata: a run killed between submission and results finds its batches again on the
rerun (``batch_find``), polls them and never submits a request twice. A batch that expires or fails
answers its requests with errors the failure ledger keeps (``batch_expired``, ``batch_error``);
``--retry-failed`` submits only those again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from janus_core.sdk.contracts import Backend, Completion, CompletionRequest
from janus_core.sdk.errors import BackendError, JanusError

#: Seconds without a new request before what is held is submitted, and the longest a request waits.
SETTLE = 0.5
LONGEST_WAIT = 10.0


class BatchCollector:
    """Gathers one backend's requests into provider batches and answers them from the results."""

    def __init__(self, backend: Backend, journal: Any, poll_every: float = 30.0,
                 on_progress: Callable[[dict[str, int]], None] | None = None):
        if not backend.batches:
            raise JanusError(f"--batch: the {backend.name} backend has no batch API (openai has one, for "
                             "OpenAI and the servers that offer its batches endpoints; anthropic has one)")
        self.backend, self.journal, self.poll_every = backend, journal, poll_every
        self.on_progress = on_progress or (lambda counts: None)
        self.counts = {"submitted": 0, "running": 0, "finished": 0, "requests": 0}
        self._held: dict[str, tuple[CompletionRequest, asyncio.Future]] = {}
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._first_held_at: float | None = None
        #: request key -> the batch (from an earlier run) that holds it
        self._open: dict[str, dict[str, Any]] = {}
        for batch in journal.open_batches(backend.name):
            for key in batch["keys"]:
                self._open[key] = batch
        self._tracked: set[str] = set()

    # --- the engine's side ---------------------------------------------------------------------

    async def complete(self, request: CompletionRequest, key: str) -> Completion:
        """The reply to ``request`` (whose cache key is ``key``), from a batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        earlier = self._open.get(key)
        if earlier is not None:  # submitted by a run that was stopped: wait for that batch
            self._waiters.setdefault(key, []).append(future)
            if earlier["local_id"] not in self._tracked:
                self._tracked.add(earlier["local_id"])
                self._spawn(self._resume(earlier))
            return await future
        if key in self._held or key in self._waiters:  # the same request twice: one answer
            self._waiters.setdefault(key, []).append(future)
            return await future
        self._held[key] = (request, future)
        self._arm(loop)
        return await future

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        if self._first_held_at is None:
            self._first_held_at = now
        if self._timer is not None:
            self._timer.cancel()
        if len(self._held) >= self.backend.batch_limits[0]:
            self._timer = loop.call_soon(self._flush)
            return
        delay = min(SETTLE, max(0.0, self._first_held_at + LONGEST_WAIT - now))
        self._timer = loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._timer, self._first_held_at = None, None
        held, self._held = self._held, {}
        max_requests, max_bytes = self.backend.batch_limits
        chunk: list[tuple[str, CompletionRequest, asyncio.Future]] = []
        size = 0
        for key, (request, future) in held.items():
            weight = len(json.dumps(request.messages)) + len(json.dumps(request.schema or {})) + 300
            if chunk and (len(chunk) >= max_requests or size + weight > max_bytes):
                self._spawn(self._submit(chunk))
                chunk, size = [], 0
            chunk.append((key, request, future))
            size += weight
        if chunk:
            self._spawn(self._submit(chunk))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop polling (a rerun picks the batches up again) and fail what still waits."""
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- the provider's side -------------------------------------------------------------------

    async def _submit(self, chunk: list[tuple[str, CompletionRequest, asyncio.Future]]) -> None:
        local_id = uuid.uuid4().hex
        keys = [key for key, _, _ in chunk]
        for key, _, future in chunk:
            self._waiters.setdefault(key, []).append(future)
        self.journal.add_batch(local_id, self.backend.name, keys)  # before the provider hears of it
        try:
            batch_id = await self.backend.batch_submit([(key, request) for key, request, _ in chunk], local_id)
        except BackendError as exc:
            self.journal.set_batch(local_id, "failed")
            self._answer(keys, {}, BackendError(f"{exc} (batch not submitted)", reason="batch_error",
                                                status=exc.status, config=exc.config))
            return
        self.journal.set_batch(local_id, "submitted", batch_id)
        self.counts["submitted"] += 1
        self.counts["requests"] += len(keys)
        await self._follow(local_id, batch_id, keys)

    async def _resume(self, batch: dict[str, Any]) -> None:
        batch_id = batch["batch_id"] or await self.backend.batch_find(batch["local_id"])
        if batch_id is None:  # the submission never reached the provider: submit those requests now
            self.journal.set_batch(batch["local_id"], "lost")
            for key in batch["keys"]:
                self._open.pop(key, None)
            return self._requeue(batch["keys"])
        if batch["batch_id"] is None:
            self.journal.set_batch(batch["local_id"], "submitted", batch_id)
        self.counts["submitted"] += 1
        await self._follow(batch["local_id"], batch_id, batch["keys"])

    def _requeue(self, keys: list[str]) -> None:
        """Requests whose batch never arrived: they are asked again by their jobs (an error each now,
        transient, so the engine's retry sends them into a new batch)."""
        self._answer(keys, {}, BackendError("the batch holding this request never reached the provider; "
                                            "sending it again", transient=True))

    async def _follow(self, local_id: str, batch_id: str, keys: list[str]) -> None:
        self.counts["running"] += 1
        self.on_progress(self.counts)
        try:
            while True:
                try:
                    state = await self.backend.batch_poll(batch_id)
                except BackendError as exc:
                    if exc.transient:
                        await asyncio.sleep(self.poll_every)
                        continue
                    raise
                if state.state == "running":
                    await asyncio.sleep(self.poll_every)
                    continue
                break
            if state.state == "failed":
                self.journal.set_batch(local_id, "failed")
                self._answer(keys, {}, BackendError(f"batch {batch_id} failed: {state.detail or 'no reason given'}",
                                                    reason="batch_error"))
                return
            results = await self.backend.batch_results(batch_id)
            self.journal.set_batch(local_id, state.state)
            self._answer(keys, results, BackendError(f"batch {batch_id} expired before this request was answered",
                                                     reason="batch_expired"))
        except BackendError as exc:
            self.journal.set_batch(local_id, "failed")
            self._answer(keys, {}, BackendError(str(exc), reason="batch_error"))
        finally:
            self.counts["running"] -= 1
            self.counts["finished"] += 1
            self.on_progress(self.counts)

    def _keep(self, key: str, completion: Completion) -> None:
        """Cache a reply no job of this run waits for, so the run that asks for it pays nothing (one that
        holds a secret is not kept: the run that asks again is refused it as the engine refuses any)."""
        from janus_core.run.cost import cost_of
        from janus_core.run.reply_secrets import secret_in_reply

        if secret_in_reply(completion):
            return

        cost = cost_of(completion.model or self.backend.model, completion.tokens_in, completion.tokens_out,
                       fallback=self.backend.model)
        self.journal.cache(key, completion, cost * self.backend.batch_discount)

    def _answer(self, keys: list[str], results: dict[str, Completion | BackendError], missing: BackendError) -> None:
        for key in keys:
            self._open.pop(key, None)
            outcome = results.get(key, missing)
            waiting = self._waiters.pop(key, [])
            if not waiting and isinstance(outcome, Completion):  # asked by a job this run does not hold
                self._keep(key, outcome)
            for future in waiting:
                if future.done():
                    continue
                if isinstance(outcome, Completion):
                    future.set_result(outcome)
                else:
                    future.set_exception(outcome)
