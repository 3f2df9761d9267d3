"""How an OpenAI-compatible server is asked for JSON: negotiated once per run.

Servers that speak the Chat Completions shape differ in what ``response_format`` they accept:
OpenAI and vLLM take ``json_schema``; llama-cpp-python's server answers it with HTTP 500 but takes
``{"type": "json_object", "schema": ...}``; others take only ``json_object``, or nothing. The run
starts with the strongest mode; a reply that refuses the mode (HTTP 400, 422 or 500 whose message
names ``response_format``, ``json_schema`` or ``schema``) moves it one step down the ladder, within
the same request, so a refusal is neither a failure nor a retry. The first request that succeeds
settles the mode; requests that arrive meanwhile wait for it (one round trip) instead of negotiating
themselves. A continued run starts from the mode its journal recorded, without that wait.
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


class Negotiation:
    """The run's structured-output mode: found once, then used by every request."""

    def __init__(self, backend: str, option: str = AUTO):
        self.backend = backend
        self.forced = None if option == AUTO else option
        self._modes = [self.forced] if self.forced else list(LADDER)
        self._index = 0
        #: modes the server refused, in the order tried
        self.refused: list[str] = []
        self._settled = self.forced is not None
        self._used = False
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

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
        self._index = LADDER.index(mode)
        self.refused = [m for m in earlier.get("refused", []) if m in LADDER]
        self._settled = True

    def _mutex(self) -> asyncio.Lock:
        import asyncio

        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a lock belongs to one event loop
            self._lock, self._loop = asyncio.Lock(), loop
        return self._lock

    async def send(self, request: CompletionRequest, post: Callable[[str | None], Awaitable[T]]) -> T:
        """``post(mode)``'s result in the run's mode (``post(None)`` for a request without a schema),
        stepping down the ladder while the server refuses the mode."""
        if request.schema is None:
            return await post(None)
        self._used = True
        while True:
            if not self._settled:
                async with self._mutex():
                    if not self._settled:  # this request negotiates; the others wait for it
                        return await self._probe(post)
            mode = self.mode
            try:
                return await post(mode)
            except BackendError as exc:
                # refused after the run settled (a request with another schema): step down, resend
                self._step_down(mode, exc)

    async def _probe(self, post: Callable[[str | None], Awaitable[T]]) -> T:
        while True:
            mode = self.mode
            try:
                result = await post(mode)
            except BackendError as exc:
                self._step_down(mode, exc)
                continue
            self._settled = True
            return result

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
