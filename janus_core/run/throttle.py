"""Request pacing: a pace that finds a provider's limit whatever shape its limiter has, read from its
rate-limit headers where it sends them; and a tokens-per-minute budget for ``--tpm``.

With headers (``janus_core.sdk.rate_headers``), the pace is what they say: the requests (and tokens)
left, spread until their reset, never below ``margin`` of the stated limit over its window. Without,
the pace is measured: a 429 says the provider's window is full, so at the first 429 of a burst the
pace becomes the rate the provider *let through* over the last minute, Retry-After included as time
in which nothing more gets through (300 let through in 10 s, then "retry after 50 s", is 5 a second,
not 30). That holds for a sliding 60-second log, a window reset on the minute, a 10-second window
and a token bucket alike, and it never collapses: the next estimate is measured again, not cut from
the last. While requests succeed the pace grows back: multiplicatively while no reliable estimate
exists, and as a cube of the time since the last 429 around one (flat at first, then probing past
it), so a raised limit is found. Retry-After holds every start until it has passed; it is the time to
try again, never a penalty on the pace. Written by hand: aiolimiter's rate is fixed when it is built,
and no kept library paces from 429s and these headers.
"""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_left
from collections import deque
from itertools import takewhile

from janus_core.sdk.errors import MAX_RETRY_AFTER, bounded_wait
from janus_core.sdk.rate_headers import Quota, RateHeaders

#: how long (seconds) a reply's rate-limit headers steer the pace after they came
HEADERS_FRESH = 60.0
#: a Retry-After at least this long (seconds) says a window is full and resets when it has passed
LONG_HOLD = 5.0


class AdaptiveRate:
    """Paces request starts. ``per_minute=None`` starts unpaced until the first 429 or rate headers.

    Each start (``acquire``) ends in one report: ``answered`` (any answer but a 429: a 5xx too, since
    it used a slot of the provider's limit), ``limited`` (a 429) or ``dropped`` (no answer at all).
    """

    def __init__(self, per_minute: float | None = None, *, grow: float = 0.2, probe: float = 240.0,
                 margin: float = 0.97, horizon: float = 60.0, min_rate: float = 1 / 60,
                 max_pause: float = MAX_RETRY_AFTER, clock=time.monotonic, wall=time.time):
        self.ceiling = per_minute / 60 if per_minute else None
        #: the measured pace, per second (None: unpaced)
        self.rate: float | None = self.ceiling
        #: the rate the provider let through at the last burst of 429s, and whether it rests on enough answers
        self.estimate: float | None = None
        self.reliable = False
        self.grow, self.probe, self.margin, self.horizon = grow, probe, margin, horizon
        self.min_rate, self.max_pause = min_rate, max_pause
        self.clock, self.wall = clock, wall
        self.started: float | None = None
        self.admitted: deque[float] = deque()  # when answers that were not 429s came, the last `horizon` s
        self.window_start = float("-inf")  # when the provider's window last reset, as far as is known
        self._per_answer = 0.0  # what one more answer adds to the estimate of the last burst
        self.in_flight = 0
        self.last_start = float("-inf")
        self.blocked_until = 0.0
        self.last_cut = float("-inf")
        self.probe_from = float("-inf")
        self.grown_at = clock()
        self.last_answer = clock()  # the last answer that was not a 429 (or the start)
        self.headers: RateHeaders | None = None
        self.headers_at = float("-inf")
        self.tokens_per_request: float | None = None
        self._lock = asyncio.Lock()

    # --- the pace -----------------------------------------------------------------------------------

    def _from_quota(self, quota: Quota, in_flight: float, age: float) -> tuple[float | None, float]:
        """(pace in the quota's units per second or None, hold until) from one quota ``age`` s old."""
        reset = quota.reset - age
        steady = quota.steady * self.margin if quota.steady else None
        if reset <= 0:  # whole again since: the stated limit is all that is known
            return steady, 0.0
        left = quota.remaining - in_flight
        if left >= 1:
            return max(steady or 0.0, left / max(reset, 0.05)), 0.0
        if steady:
            return steady, 0.0
        # nothing left and no limit stated: wait for the reset (at most as long as a Retry-After may hold)
        return None, self.headers_at + min(quota.reset, self.max_pause)

    def _header_pace(self, now: float) -> tuple[float | None, float]:
        """(requests per second the headers allow, or None; hold until) while headers are fresh."""
        age = now - self.headers_at
        if self.headers is None or age > HEADERS_FRESH:
            return None, 0.0
        paces, hold = [], 0.0
        if self.headers.requests:
            pace, until = self._from_quota(self.headers.requests, self.in_flight, age)
            paces.append(pace)
            hold = max(hold, until)
        if self.headers.tokens and self.tokens_per_request:
            per = self.tokens_per_request
            pace, until = self._from_quota(self.headers.tokens, self.in_flight * per, age)
            paces.append(pace / per if pace is not None else None)
            hold = max(hold, until)
        known = [p for p in paces if p is not None]
        return (min(known) if known else None), hold

    def pace(self, now: float | None = None) -> tuple[float | None, float]:
        """(requests per second allowed now, or None for no pacing; the time every start is held until)."""
        now = self.clock() if now is None else now
        pace, hold = self._header_pace(now)
        if pace is None:
            pace = self.rate
        if self.ceiling is not None:
            pace = min(pace, self.ceiling) if pace is not None else self.ceiling
        return pace, max(hold, self.blocked_until)

    @property
    def limit(self) -> float | None:
        """The pace now (per second), or None when unpaced."""
        return self.pace()[0]

    def next_start(self, now: float) -> float:
        """The earliest time the next request may start."""
        pace, hold = self.pace(now)
        return max(now, hold, self.last_start + 1 / pace if pace else now)

    def start(self, now: float) -> float:
        """Record a start at ``now`` (the caller waited for ``next_start``); returns ``now``."""
        if self.started is None:
            self.started = now
        self.last_start = now
        self.in_flight += 1
        return now

    async def acquire(self) -> float:
        """Wait for a start slot; returns the time the request is sent (for ``limited``).

        Waiters queue on a lock and only the first sleeps, re-reading the pace when it wakes,
        so a pace that changes while requests wait applies to them at once.
        """
        now = self.clock()
        if (self.rate is None and self.ceiling is None and self.headers is None and now >= self.blocked_until
                and not self._lock.locked()):
            return self.start(now)
        async with self._lock:
            while (wait := self.next_start(now := self.clock()) - now) > 0:
                await asyncio.sleep(wait)
            return self.start(self.clock())

    # --- what came back -----------------------------------------------------------------------------

    def _capped(self, rate: float) -> float:
        """``rate`` held to ``--rpm``, where one was given."""
        return rate if self.ceiling is None else min(rate, self.ceiling)

    def _prune(self, now: float) -> None:
        """Forget answers older than ``horizon``."""
        admitted = self.admitted
        while admitted and admitted[0] < now - self.horizon:
            admitted.popleft()

    def _ended(self, headers: RateHeaders | None, now: float) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if headers is not None:
            self.headers, self.headers_at = headers, now

    def answered(self, headers: RateHeaders | None = None, tokens: int = 0, sent_at: float | None = None) -> None:
        """An answer that was not a 429 (a 5xx too: only 429s mean the pace is too high); ``tokens``
        it used, where known; ``sent_at``, the time ``acquire`` returned for it."""
        now = self.clock()
        self._ended(headers, now)
        if sent_at is not None and sent_at < self.last_cut and self.estimate is not None:
            # let through before the burst of 429s, answered after it: part of what the window held
            self.estimate += self._per_answer
            self.rate = self._capped(max(self.rate or 0.0, self.estimate))
        self.last_answer = now
        if tokens > 0:
            per = self.tokens_per_request
            self.tokens_per_request = float(tokens) if per is None else 0.9 * per + 0.1 * tokens
        admitted = self.admitted
        admitted.append(now)
        self._prune(now)
        if self.rate is not None and self.rate != self.ceiling:
            dt = min(1.0, now - self.grown_at)
            if self.reliable and self.estimate:
                since = max(0.0, now - self.probe_from)
                self.rate = max(self.rate, self.estimate * (1 + (since / self.probe) ** 3))
            else:  # no reliable estimate: grow multiplicatively, at most to twice what got through lately
                lately = sum(1 for _ in takewhile(lambda t: t >= now - 5.0, reversed(admitted)))
                recent = lately / min(5.0, max(now - (self.started or now), 1.0))
                self.rate = min(self.rate * math.exp(self.grow * dt), max(self.rate, 2 * recent, 1.0))
            self.rate = self._capped(self.rate)
        self.grown_at = now

    def dropped(self) -> None:
        """A request that got no answer at all (a dropped connection, a timeout)."""
        self._ended(None, self.clock())

    def _measure(self, now: float, retry_after: float) -> tuple[float, int]:
        """The rate the provider let through since its window last reset, per second, with
        ``retry_after`` counted as time in which nothing more will. The window is taken to have reset
        when the last long hold ended (a full window waiting out its Retry-After), and at most
        ``horizon`` seconds ago; a long hold that ends on the wall clock's minute says the window resets
        on the minute, so it is a minute long even when the run began part-way into it. Returns the
        rate and how many answers it rests on."""
        since = max(now - self.horizon, self.started if self.started is not None else now, self.window_start)
        self._prune(now)
        n = len(self.admitted) - bisect_left(self.admitted, since)
        span = max(1e-3, now - since) + retry_after
        if retry_after >= LONG_HOLD:
            end = self.wall() + retry_after
            if abs(end - 60 * round(end / 60)) <= 1.0:  # the hold ends on the minute: a window reset
                span = max(span, 60.0)  # on the minute, a whole minute long, however late the run began
        self._per_answer = 1 / span
        return n * self._per_answer, n

    def limited(self, retry_after: float | None, sent_at: float | None = None,
                headers: RateHeaders | None = None) -> None:
        """A 429: hold every start until Retry-After has passed (at most ``max_pause``); at the first
        429 of a burst (a request sent after the last one), measure the pace again."""
        now = self.clock()
        self._ended(headers, now)
        retry_after = bounded_wait(retry_after)
        new_burst = sent_at is None or sent_at >= self.last_cut
        if new_burst:
            estimate, n = self._measure(now, retry_after or 0.0)
            self.estimate, self.reliable = estimate, n >= 8
            # nothing got through lately: a second apart (Retry-After, where said, holds longer), then grow
            self.rate = self._capped(max(self.min_rate, estimate if n else min(1.0, self.rate or 1.0)))
            self.last_cut = self.grown_at = now
        pause = min(self.max_pause, retry_after if retry_after is not None else 1 / self.rate)
        self.blocked_until = max(self.blocked_until, now + pause)
        if new_burst:
            self.probe_from = self.blocked_until  # the pace grows past the estimate from the hold's end
        if pause >= LONG_HOLD:  # a full window: it resets when the hold ends
            self.window_start = max(self.window_start, now + pause)

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

    def reserve(self, tokens: int) -> float:
        """Take ``tokens`` now, into debt if need be; returns when the bucket will have held them (a
        lease of permits sends at these times, without waiting here)."""
        tokens = min(float(tokens), self.capacity)
        self._refill()
        self.tokens -= tokens
        return self.updated + max(0.0, -self.tokens) / self.per_second

    def settle(self, estimated: int, actual: int) -> None:
        """Give back (or charge) the difference once the real token count is known."""
        self._refill()
        self.tokens = min(self.capacity, self.tokens + estimated - actual)
