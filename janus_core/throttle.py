"""Request pacing: requests per minute with adaptive (AIMD) throttling, and tokens per minute.

On a 429 the pace drops multiplicatively and nothing is sent until the provider's Retry-After
has passed; after a run of successes it grows back additively, up to the configured ceiling.
So the engine settles just under the provider's real limit. Written by hand because aiolimiter's
rate is fixed when it is built.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class AdaptiveRate:
    """Paces request starts. ``per_minute=None`` starts unpaced until the first 429."""

    def __init__(self, per_minute: float | None = None, decrease: float = 0.85, increase_every: int = 20,
                 clock=time.monotonic):
        self.ceiling = per_minute / 60 if per_minute else None
        self.rate: float | None = self.ceiling  # starts per second; None: no pacing
        self.decrease = decrease
        self.increase_every = increase_every
        self.clock = clock
        self.next_at = 0.0
        self.blocked_until = 0.0
        self.streak = 0
        self.started: deque[float] = deque()
        self.rate_limited = 0

    def _recent_rate(self, window: float = 5.0) -> float:
        now = self.clock()
        while self.started and self.started[0] < now - window:
            self.started.popleft()
        return len(self.started) / window

    def delay(self) -> float:
        """Reserve the next start slot; returns how long to wait for it."""
        now = self.clock()
        start = max(now, self.blocked_until)
        if self.rate:
            start = max(start, self.next_at)
            self.next_at = start + 1 / self.rate
        self.started.append(start)
        while self.started[0] < now - 10.0:
            self.started.popleft()
        return start - now

    async def acquire(self) -> None:
        wait = self.delay()
        if wait > 0:
            await asyncio.sleep(wait)

    def success(self) -> None:
        self.streak += 1
        if self.rate and self.streak >= self.increase_every:
            self.streak = 0
            step = max(self.rate * 0.02, 0.05)
            self.rate = min(self.ceiling, self.rate + step) if self.ceiling else self.rate + step

    def limited(self, retry_after: float | None) -> None:
        """A 429: slow down and hold every start until Retry-After has passed."""
        self.rate_limited += 1
        self.streak = 0
        now = self.clock()
        observed = self._recent_rate()
        base = self.rate or observed or 1.0
        if self.rate is None:
            base = observed or 1.0
        # several in-flight requests may hit the same limit: cut once per pause
        if now >= self.blocked_until:
            self.rate = max(0.05, base * self.decrease)
        pause = retry_after if retry_after is not None else 1 / (self.rate or 1.0)
        self.blocked_until = max(self.blocked_until, now + pause)
        self.next_at = max(self.next_at, self.blocked_until)


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
