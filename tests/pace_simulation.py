"""Janus's pace against a provider's limiter on a simulated clock: every request start the pace allows,
each answered after ``latency`` (a 429 at once), with the limiter's headers when asked for.

Deterministic and fast: minutes of traffic in a fraction of a second, so the tests can hold the pace
to a share of the limit without timing anything real.
"""

from __future__ import annotations

import heapq
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from limiters import SHAPES, rate_headers

__all__ = ["SHAPES", "Clock", "Outcome", "simulate"]

from janus_core.run.throttle import AdaptiveRate
from janus_core.sdk.rate_headers import parse_rate_headers


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Outcome:
    """What the limiter saw: (time, status) of every request, 200, 500 or 429."""

    log: list[tuple[float, int]] = field(default_factory=list)
    tokens_limit: float | None = None

    def share(self, limit_per_minute: float, start: float, end: float) -> float:
        """Requests let through (200 and 500) per minute between start and end, as a share of the limit."""
        passed = sum(1 for t, s in self.log if start <= t < end and s != 429)
        return passed / (end - start) * 60 / limit_per_minute

    def share_429(self, start: float, end: float) -> float:
        sent = [s for t, s in self.log if start <= t < end]
        return sum(1 for s in sent if s == 429) / max(1, len(sent))


def simulate(shape: str, per_minute: float, seconds: float, *, tokens_per_minute: float | None = None,
             cost: int = 130, headers: str | None = None, fail: float = 0.0, concurrency: int = 64,
             latency: float = 0.2, pace: AdaptiveRate | None = None, seed: int = 0) -> Outcome:
    """Run the pace against ``shape`` (see ``limiters.SHAPES``) allowing ``per_minute`` requests (and,
    with ``tokens_per_minute``, that many tokens at ``cost`` a request) for ``seconds``."""
    clock = Clock(1000.0)
    rate = pace or AdaptiveRate(clock=clock)
    rate.clock = rate.wall = clock
    rate.grown_at = rate.last_answer = clock.now
    requests = SHAPES[shape](per_minute)
    tokens = SHAPES[shape](tokens_per_minute) if tokens_per_minute else None
    limiters = [lim for lim in (requests, tokens) if lim is not None]
    costs = [1.0, float(cost)][: len(limiters)]
    rng = random.Random(seed)
    outcome = Outcome(tokens_limit=tokens_per_minute)
    events: list[tuple[float, int, int, float, float, dict[str, str]]] = []
    in_flight, n = 0, 0
    end = clock.now + seconds
    start = clock.now
    while clock.now < end:
        now = clock.now
        while in_flight < concurrency and rate.next_start(now) <= now + 1e-12:
            sent = rate.start(now)
            in_flight += 1
            n += 1
            wait = max(lim.wait(now, c) for lim, c in zip(limiters, costs, strict=True))
            said = {}
            if wait == 0:
                for lim, c in zip(limiters, costs, strict=True):
                    lim.add(now, c)
            if headers:
                said = rate_headers(headers, requests.state(now), tokens.state(now) if tokens else None,
                                    wall=now, window=10.0 if shape == "window-10" else 60.0,
                                    per_minute=(per_minute, tokens_per_minute))
            status = 429 if wait else 500 if rng.random() < fail else 200
            outcome.log.append((now - start, status))
            heapq.heappush(events, (now + (0.01 if status == 429 else latency), n, status, sent, wait, said))
        following = events[0][0] if events else end
        if in_flight < concurrency:
            following = min(following, rate.next_start(now))
        clock.now = max(following, now + 1e-6)
        while events and events[0][0] <= clock.now:
            _at, _n, status, sent, wait, said = heapq.heappop(events)
            in_flight -= 1
            limits = parse_rate_headers(said, now=clock.now) if said else None
            if status == 429:
                rate.limited(wait, sent, limits)
            else:
                rate.answered(limits, cost if status == 200 else 0, sent)
    return outcome
