"""The limiter shapes providers use, and the rate-limit headers they send, for stand-in servers.

Used by ``bench/stub_server.py`` (in real time) and by the pace tests (on a simulated clock). Each
limiter counts units (requests, or tokens) over time: ``wait(now, cost)`` is 0 when ``cost`` units may
pass now (then ``add`` counts them), else the seconds until they may; ``state(now)`` is
(limit, remaining, seconds until whole again) as a provider's headers state it.
"""

from __future__ import annotations

import collections
import math
from datetime import UTC, datetime


class SlidingLog:
    """At most ``limit`` units in any ``window`` seconds, counted over an exact log of what passed."""

    def __init__(self, limit: float, window: float):
        self.limit, self.window = limit, window
        self.log: collections.deque[tuple[float, float]] = collections.deque()
        self.used = 0.0

    def _prune(self, now: float) -> None:
        while self.log and self.log[0][0] <= now - self.window:
            self.used -= self.log.popleft()[1]

    def wait(self, now: float, cost: float = 1.0) -> float:
        self._prune(now)
        over = self.used + cost - self.limit
        if over <= 1e-9:
            return 0.0
        freed = 0.0
        for at, units in self.log:  # the time enough of the log has left the window
            freed += units
            if freed >= over - 1e-9:
                return max(1e-3, at + self.window - now)
        return self.window

    def add(self, now: float, cost: float = 1.0) -> None:
        self.log.append((now, cost))
        self.used += cost

    def state(self, now: float) -> tuple[float, float, float]:
        self._prune(now)
        reset = self.log[-1][0] + self.window - now if self.log else 0.0
        return self.limit, max(0.0, self.limit - self.used), reset


class FixedWindow:
    """At most ``limit`` units per window of ``window`` seconds, the count reset at each window's start
    (on the minute, for a 60-second window on wall-clock time)."""

    def __init__(self, limit: float, window: float):
        self.limit, self.window = limit, window
        self.index, self.used = None, 0.0

    def _roll(self, now: float) -> None:
        index = math.floor(now / self.window)
        if index != self.index:
            self.index, self.used = index, 0.0

    def wait(self, now: float, cost: float = 1.0) -> float:
        self._roll(now)
        if self.used + cost <= self.limit + 1e-9:
            return 0.0
        return max(1e-3, (self.index + 1) * self.window - now)

    def add(self, now: float, cost: float = 1.0) -> None:
        self.used += cost

    def state(self, now: float) -> tuple[float, float, float]:
        self._roll(now)
        return self.limit, max(0.0, self.limit - self.used), (self.index + 1) * self.window - now


class Bucket:
    """A token bucket: ``limit`` units per ``window`` seconds refill continuously, up to ``burst`` held."""

    def __init__(self, limit: float, window: float, burst: float | None = None):
        self.limit, self.window = limit, window
        self.per_second = limit / window
        self.capacity = burst if burst is not None else max(1.0, self.per_second)
        self.tokens, self.updated = self.capacity, None

    def _refill(self, now: float) -> None:
        if self.updated is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now

    def wait(self, now: float, cost: float = 1.0) -> float:
        self._refill(now)
        if self.tokens >= cost - 1e-9:
            return 0.0
        return max(1e-3, (cost - self.tokens) / self.per_second)

    def add(self, now: float, cost: float = 1.0) -> None:
        self.tokens -= cost

    def state(self, now: float) -> tuple[float, float, float]:
        self._refill(now)
        return self.limit, max(0.0, self.tokens), (self.capacity - self.tokens) / self.per_second


SHAPES = {"sliding-60": lambda limit: SlidingLog(limit, 60.0), "fixed-60": lambda limit: FixedWindow(limit, 60.0),
          "bucket": lambda limit: Bucket(limit, 60.0), "window-10": lambda limit: SlidingLog(limit / 6, 10.0)}
"""Limiters for a limit stated per minute: a sliding 60-second log, a window reset on the minute, a
token bucket holding one second of the limit, and a sliding 10-second window (a sixth of the limit)."""


def rate_headers(style: str, requests: tuple[float, float, float] | None, tokens: tuple[float, float, float] | None,
                 wall: float, window: float = 60.0, per_minute: tuple[float, float | None] | None = None
                 ) -> dict[str, str]:
    """The headers a provider of ``style`` (openai, anthropic, ietf) sends for these limiter states.

    OpenAI and Anthropic state their limits per minute whatever window enforces them: pass the
    per-minute (requests, tokens) limits as ``per_minute``; the IETF policy states the window's own.
    """
    out: dict[str, str] = {}
    for i, (kind, state) in enumerate((("requests", requests), ("tokens", tokens))):
        if state is None:
            continue
        limit, remaining, reset = state
        if per_minute is not None and style != "ietf" and per_minute[i]:
            limit = per_minute[i]
        if style == "openai":
            out[f"x-ratelimit-limit-{kind}"] = str(int(limit))
            out[f"x-ratelimit-remaining-{kind}"] = str(int(remaining))
            out[f"x-ratelimit-reset-{kind}"] = f"{reset:.3f}s"
        elif style == "anthropic":
            out[f"anthropic-ratelimit-{kind}-limit"] = str(int(limit))
            out[f"anthropic-ratelimit-{kind}-remaining"] = str(int(remaining))
            out[f"anthropic-ratelimit-{kind}-reset"] = datetime.fromtimestamp(wall + reset, UTC).isoformat()
        elif style == "ietf":
            unit = "" if kind == "requests" else ';qu="tokens"'
            policy, now = out.get("RateLimit-Policy"), out.get("RateLimit")
            out["RateLimit-Policy"] = (policy + ", " if policy else "") + f'"{kind}";q={int(limit)};w={window:g}{unit}'
            out["RateLimit"] = (now + ", " if now else "") + f'"{kind}";r={int(remaining)};t={math.ceil(reset)}'
        else:
            raise ValueError(f"unknown header style {style!r}")
    return out
