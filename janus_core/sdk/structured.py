"""How an OpenAI-compatible server is asked for JSON: one mode per run, found without a stall.

Servers that speak the Chat Completions shape differ in what ``response_format`` they accept:
OpenAI and vLLM take ``json_schema``; llama-cpp-python's server answers it with HTTP 500 but takes
``{"type": "json_object", "schema": ...}``; others take only ``json_object``, or nothing. A reply that
refuses the mode (HTTP 400, 422 or 500 whose message names ``response_format``, ``json_schema`` or
``schema``) is neither a failure nor a retry: the request is sent again in a mode the server takes.

Where the run's mode comes from, first that holds: the ``structured`` option (forced); the journal
(a continued run); the user's cache of modes earlier runs found for the same backend, endpoint and
model (``janus_core.sdk.mode_cache``, expiring); else every request goes out at once in the strongest
mode (which OpenAI-compatible servers usually take), and the first one the server takes settles it.
At the first refusal, a probe (one tiny request: ``max_tokens`` 1, the smallest schema) walks down the
ladder from the next mode while requests go on in that mode; only requests the server refused wait
for the probe, then go again once in the mode it found. A probe that cannot tell (its request failed
for another reason) leaves each refused request to step down itself. A mode the server took is
written to the cache.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from janus_core.sdk.contracts import CompletionRequest
from janus_core.sdk.errors import BackendError

if TYPE_CHECKING:  # asyncio is imported on use: loading plugins for `janus --help` stays cheap
    import asyncio

#: strongest first: the schema natively, json_object with the schema (llama.cpp), json_object,
#: and none (the prompt describes the JSON shape; the reply is mended with json-repair)
LADDER = ("json_schema", "json_object_schema", "json_object", "none")
AUTO = "auto"
#: option help shared by the backends that negotiate
STRUCTURED_HELP = ("how the reply's JSON shape is asked for: auto (default: the strongest mode the server "
                   "accepts), or forced: json_schema, json_object_schema, json_object or none (prompt only)")

_REFUSAL_STATUSES = frozenset({400, 422, 500})
_REFUSAL_WORDS = re.compile(r"response_format|json_schema|schema", re.IGNORECASE)

T = TypeVar("T")


def check_structured(value: str) -> str:
    """The ``structured`` option, checked: ``auto`` or one forced mode; ValueError otherwise."""
    if value not in (AUTO, *LADDER):
        raise ValueError(f"structured must be {AUTO}, {', '.join(LADDER[:-1])} or {LADDER[-1]}")
    return value


def structured_option(backend: str, options: dict[str, Any]) -> str:
    """The ``structured`` option of an options dict, checked: ``auto`` or one forced mode."""
    try:
        return check_structured(options.get("structured", AUTO))
    except ValueError as exc:
        raise BackendError(f"{backend} backend: {exc}") from None


def refuses_mode(exc: BackendError) -> bool:
    """Whether an error is a server refusing the request's ``response_format``."""
    return exc.status in _REFUSAL_STATUSES and bool(_REFUSAL_WORDS.search(str(exc)))


#: the probe's request: the smallest schema, one token of reply (its text is never read)
PROBE_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                                "additionalProperties": False}
PROBE = CompletionRequest([{"role": "user", "content": 'Reply with {"ok": true}'}], schema=PROBE_SCHEMA,
                          schema_name="probe", max_tokens=1, temperature=0.0)

Post = Callable[[CompletionRequest, "str | None"], Awaitable[T]]


class Negotiation:
    """The run's structured-output mode: found once, then used by every request.

    ``endpoint`` and ``model`` name where the mode holds, for the user's cache of modes; without a
    model nothing is cached."""

    def __init__(self, backend: str, option: str = AUTO, endpoint: str = "", model: str | None = None):
        self.backend = backend
        self.forced = None if option == AUTO else option
        self._modes = [self.forced] if self.forced else list(LADDER)
        self._index = 0
        #: modes the server refused, in the order tried
        self.refused: list[str] = []
        self._settled = self.forced is not None
        self._used = False
        self._where = (endpoint, model) if model is not None else None
        self._recalled = False
        #: where the mode came from: forced, journal, cache, probe or requests (None: not known yet)
        self.source: str | None = "forced" if self.forced else None
        self._probe: asyncio.Task[None] | None = None
        #: the mode was stepped down to and not yet written to the cache
        self._unsaved = False

    @property
    def mode(self) -> str:
        """The mode requests are sent with now."""
        return self._modes[self._index]

    @property
    def report(self) -> dict[str, Any] | None:
        """What to keep in the journal: the mode in use, what was refused, whether it was forced
        (None before any request carried a schema)."""
        if not self._used:
            return None
        return {"mode": self.mode, "refused": list(self.refused), "forced": self.forced is not None}

    def resume(self, earlier: dict[str, Any]) -> None:
        """Start settled on the mode an earlier run of the same journal agreed (its ``report``): a
        continued run's requests need not wait for a probe. A refusal still steps down from it."""
        mode = earlier.get("mode")
        if self.forced or earlier.get("forced") or mode not in LADDER:
            return
        self._settle_on(mode, earlier.get("refused", []), "journal")

    def recall(self) -> str | None:
        """Start settled on the mode the user's cache holds for this endpoint and model, if one is
        fresh and nothing settled the mode yet; a note for the user if the cache was ignored."""
        if self._settled or self._recalled or self._where is None:
            return None
        self._recalled = True
        from janus_core.sdk import mode_cache

        found, note = mode_cache.recall(self.backend, *self._where, LADDER)
        if found is not None:
            self._settle_on(found["mode"], found["refused"], "cache")
        return note

    def _settle_on(self, mode: str, refused: list[Any], source: str) -> None:
        self._index = LADDER.index(mode)
        self.refused = [m for m in refused if m in LADDER]
        self._settled, self.source = True, source

    def _remember(self) -> None:
        """Write the mode in use to the user's cache (a mode the server took)."""
        self._unsaved = False
        if self._where is not None and not self.forced:
            from janus_core.sdk import mode_cache

            mode_cache.remember(self.backend, *self._where, self.mode, self.refused, LADDER)

    async def send(self, request: CompletionRequest, post: Post[T]) -> T:
        """``post(request, mode)``'s result in the run's mode (mode None for a request without a
        schema), sent again in a mode the server takes while it refuses the mode."""
        if request.schema is None:
            return await post(request, None)
        self._used = True
        if not self._settled:
            self.recall()
        while True:
            mode = self.mode
            try:
                result = await post(request, mode)
            except BackendError as exc:
                if self.forced or mode == "none" or not refuses_mode(exc):
                    self._step_down(mode, exc)  # raises
                if not self._settled:
                    self._start_probe(post, mode)
                await self._probe_done()
                if self.mode == mode:  # nothing moved below it: this request steps down
                    self._step_down(mode, exc)
                continue  # again, in the mode now in use
            if mode == self.mode and (not self._settled or self._unsaved):  # the server took the mode
                if not self._settled:
                    self._settled, self.source = True, "requests"
                self._stop_probe()
                self._remember()
            return result

    def _start_probe(self, post: Post[Any], refused: str) -> None:
        """The first refusal of a run whose mode is not known: requests go on one mode down, and a
        probe finds the mode from there (one probe a run; one that could not tell leaves the refused
        requests to step down themselves)."""
        import asyncio

        probe = self._probe
        if probe is not None and probe.get_loop() is asyncio.get_running_loop():
            return
        if self.mode == refused:
            self.refused.append(refused)
            self._index += 1
        self._probe = asyncio.get_running_loop().create_task(self._run_probe(post))

    async def _probe_done(self) -> None:
        """Wait for the probe if one is under way (a refused request waits for its finding)."""
        import asyncio

        probe = self._probe
        if probe is not None and not probe.done() and probe.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([probe])  # not cancelled with the waiter; never raises the probe's end

    async def _run_probe(self, post: Post[Any]) -> None:
        """Send the tiny request down the ladder until the server takes one; settle on that mode."""
        index, refused = self._index, []
        while True:
            mode = LADDER[index]
            try:
                await post(PROBE, mode)
            except BackendError as exc:
                if mode == "none" or not refuses_mode(exc):
                    return  # it cannot tell: refused requests step down themselves
                refused.append(mode)
                index += 1
                continue
            except Exception:  # the probe is advice: whatever breaks it, the requests go on
                return
            break
        if self._settled or index < self._index:  # a real request settled it meanwhile
            return
        self._index = index
        self.refused.extend(refused)
        self._settled, self.source = True, "probe"
        self._remember()

    def _stop_probe(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()

    async def aclose(self) -> None:
        """Stop a probe still under way (the backend is closing)."""
        import asyncio

        probe = self._probe
        if probe is not None and not probe.done() and probe.get_loop() is asyncio.get_running_loop():
            probe.cancel()
            await asyncio.wait([probe])

    def _step_down(self, mode: str, exc: BackendError) -> None:
        """Go below ``mode`` if ``exc`` refuses it; otherwise (or with nothing below) raise."""
        if mode == "none" or not refuses_mode(exc):
            raise exc
        if self.forced:
            raise BackendError(f"{self.backend} backend: the server refuses structured={mode}; leave the structured "
                               f"option unset to let Janus use a mode it accepts ({exc})", status=exc.status) from None
        if self.mode == mode:  # not already stepped down by a concurrent request
            self.refused.append(mode)
            self._index += 1
            self._unsaved = True
