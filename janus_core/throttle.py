"""Request pacing: requests per minute with adaptive (AIMD) throttling, and tokens per minute.

On a 429 the pace drops multiplicatively and nothing is sent until the provider's Retry-After
has passed; after a run of successes it grows back additively, up to the configured ceiling.
So the engine settles just under the provider's real limit. Written by hand because aiolimiter's
rate is fixed when it is built.
"""

from __future__ import annotations

import asyncio
import time


class AdaptiveRate:
    """Paces request starts. ``per_minute=None`` starts unpaced until the first 429.

    A 429 for a request sent after the last cut is a new congestion event: the pace drops to
    ``decrease`` times the pace at that moment and that becomes the known-safe pace. 429s for
    requests sent before the cut only extend the pause. Without 429s the pace grows: quickly
    (``fast`` per second) while no safe pace is known, as after an unpaced start, then slowly
    (``slow`` per second), probing the limit, up to the configured ceiling.
    """

    def __init__(self, per_minute: float | None = None, decrease: float = 0.9, fast: float = 0.25,
                 slow: float = 0.01, clock=time.monotonic):
        self.ceiling = per_minute / 60 if per_minute else None
        self.rate: float | None = self.ceiling  # per second; None: no pacing
        self.safe: float | None = self.ceiling
        self.decrease, self.fast, self.slow = decrease, fast, slow
        self.clock = clock
        self.next_at = 0.0
        self.blocked_until = 0.0
        self.last_cut = float("-inf")
        self._lock = asyncio.Lock()

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
        if self.rate is None:
            return
        growth = self.fast if self.safe is None else self.slow
        # `rate` successes make one second: grow by about `growth` of the pace per second
        self.rate *= 1 + growth / self.rate
        if self.ceiling:
            self.rate = min(self.rate, self.ceiling)

    def limited(self, retry_after: float | None, sent_at: float | None = None) -> None:
        """A 429: hold every start until Retry-After has passed; slow down once per event."""
        now = self.clock()
        if sent_at is None or sent_at >= self.last_cut:
            if self.rate is None:
                self.rate = 1.0  # unpaced until now: start low and grow fast to find the limit
            else:
                self.rate = max(0.05, self.rate * self.decrease)
                self.safe = self.rate
            self.last_cut = now
        pause = retry_after if retry_after is not None else 1 / self.rate
        self.blocked_until = max(self.blocked_until, now + pause)


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
