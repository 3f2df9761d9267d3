"""Request pacing: requests per minute with adaptive (AIMD) throttling, and tokens per minute.

Only a 429 is a congestion signal: it holds every start until the provider's Retry-After has
passed and, once per burst of 429s, cuts the pace. Other answers (successes and 5xx alike) let the
pace grow back additively, up to a ceiling a little above the pace at which 429s last began, so
the engine settles just under the provider's real limit instead of probing past it again and
again. Written by hand: aiolimiter's rate is fixed when it is built, and no kept library paces by
429s with Retry-After.
"""

from __future__ import annotations

import asyncio
import time

from janus_core.sdk.errors import MAX_RETRY_AFTER, bounded_wait


class AdaptiveRate:
    """Paces request starts. ``per_minute=None`` starts unpaced until the first 429.

    A 429 for a request sent after the last cut starts a new burst: the pace at that moment is
    the *observed limit*; the pace drops to ``decrease`` times it (the known-safe pace) and may
    grow back only to ``observed * headroom``. 429s for requests sent before the cut only extend
    the pause. Without 429s the pace grows: quickly (``fast`` per answer, about ``fast`` of the pace
    per second) while no limit is known, as after an unpaced start, then additively, ``step`` of
    the observed limit per second of answers. At the ceiling it creeps up ``creep`` of the limit
    per second, so a provider that raises its limit is found. Never above ``per_minute``.
    """

    def __init__(self, per_minute: float | None = None, decrease: float = 0.9, fast: float = 0.25,
                 step: float = 0.005, headroom: float = 1.0, creep: float = 0.001, min_rate: float = 1 / 60,
                 max_pause: float = MAX_RETRY_AFTER, clock=time.monotonic):
        self.ceiling = per_minute / 60 if per_minute else None
        self.rate: float | None = self.ceiling  # per second; None: no pacing
        self.safe: float | None = self.ceiling  # the pace after the last cut
        self.observed: float | None = None  # the pace at which the last burst of 429s began
        self.decrease, self.fast, self.step, self.headroom, self.creep = decrease, fast, step, headroom, creep
        self.min_rate, self.max_pause = min_rate, max_pause
        self.clock = clock
        self.next_at = 0.0
        self.blocked_until = 0.0
        self.last_cut = float("-inf")
        self.last_answer = clock()  # the last answer that was not a 429 (or the start)
        self._lock = asyncio.Lock()

    @property
    def limit(self) -> float | None:
        """The most the pace may grow to now (per second), or None when unbounded."""
        soft = self.observed * self.headroom if self.observed else None
        if soft is None or self.ceiling is None:
            return soft if soft is not None else self.ceiling
        return min(soft, self.ceiling)

    def _wait(self, now: float) -> float:
        start = max(now, self.blocked_until, self.next_at if self.rate else now)
        return start - now

    async def acquire(self) -> float:
        """Wait for a start slot; returns the time the request is sent (for ``limited``).

        Waiters queue on a lock and only the first sleeps, re-reading the pace when it wakes,
        so a pace that changes while requests wait applies to them at once.
        """
        now = self.clock()
        if self.rate is None and now >= self.blocked_until and not self._lock.locked():
            return now
        async with self._lock:
            while (wait := self._wait(self.clock())) > 0:
                await asyncio.sleep(wait)
            now = self.clock()
            if self.rate:
                self.next_at = now + 1 / self.rate
            return now

    def success(self) -> None:
        """An answer that was not a 429 (a 5xx too: only 429s mean the pace is too high)."""
        self.last_answer = self.clock()
        if self.rate is None:
            return
        if self.safe is None:  # no limit known yet: grow by about `fast` of the pace per second
            self.rate += self.fast
        else:  # `rate` answers make about one second: grow by `step` of the limit per second
            scale = self.observed or self.safe
            self.rate += self.step * scale / self.rate
            if self.observed and self.rate >= self.observed * self.headroom:
                self.observed += self.creep * self.observed / self.rate
        limit = self.limit
        if limit is not None:
            self.rate = min(self.rate, limit)

    def limited(self, retry_after: float | None, sent_at: float | None = None) -> None:
        """A 429: hold every start until Retry-After has passed (at most ``max_pause``); slow down
        once per burst."""
        now = self.clock()
        if sent_at is None or sent_at >= self.last_cut:
            if self.rate is None:
                self.rate = 1.0  # unpaced until now: start low and grow fast to find the limit
            else:
                self.observed = self.rate
                self.rate = max(self.min_rate, self.rate * self.decrease)
                self.safe = self.rate
            self.last_cut = now
        retry_after = bounded_wait(retry_after)
        pause = min(self.max_pause, retry_after if retry_after is not None else 1 / self.rate)
        self.blocked_until = max(self.blocked_until, now + pause)

    def stalled_for(self) -> float:
        """Seconds since the last answer that was not a 429 (or since the start)."""
        return self.clock() - self.last_answer


class TokenBudget:
    """Tokens per minute: a bucket refilled continuously; requests take their estimated tokens."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.capacity = float(per_minute)
        self.tokens = float(per_minute)
        self.per_second = per_minute / 60
        self.clock = clock
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now

    async def take(self, tokens: int) -> None:
        tokens = min(float(tokens), self.capacity)
        while True:
            self._refill()
            if self.tokens >= tokens:
                self.tokens -= tokens
                return
            await asyncio.sleep((tokens - self.tokens) / self.per_second)

    def settle(self, estimated: int, actual: int) -> None:
        """Give back (or charge) the difference once the real token count is known."""
        self._refill()
        self.tokens = min(self.capacity, self.tokens + estimated - actual)
