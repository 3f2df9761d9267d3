"""Errors that point at a place in a user's file and say how to fix it."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: the longest wait a server's ``Retry-After`` or ``retry-after-ms`` may ask for, in seconds
MAX_RETRY_AFTER = 60.0


@dataclass
class Problem:
    """One thing wrong with an input file, at a 1-based line and column."""

    path: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column}: {self.message}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class JanusError(Exception):
    """Base class for errors Janus reports to users without a traceback."""


class SpecError(JanusError):
    """A spec folder (setup.yaml, diagram.mermaid) is wrong; holds one or more problems."""

    def __init__(self, problems: Problem | Iterable[Problem]):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigurationError(JanusError):
    """A run stopped at the first sign that its configuration is wrong (a refused key, a missing
    package, a model the server does not know), before spending more; nothing was put in the
    failure ledger, so the same command continues once the cause is fixed."""


class PluginError(JanusError):
    """A plugin could not be loaded, or a name asked for is not registered."""


class BackendError(JanusError):
    """A backend could not be set up, or a request failed.

    ``transient`` errors (rate limits, 5xx, timeouts, dropped connections) are retried with
    backoff; others (400, 401, 403, refusals) are not. ``retry_after`` is the provider's hint in
    seconds, kept within [0, MAX_RETRY_AFTER] (``bounded_wait``); ``rate_limited`` marks a 429 so
    the engine slows down; ``refusal`` marks content the provider would not produce; ``rate_limits``
    holds what the reply's rate-limit headers stated (``parse_rate_headers``), where it had any.
    ``config`` marks a fault of the run's configuration, not of the request (a refused key, a
    missing package, a model the server does not know): every request would fail alike, so the
    run stops at once and nothing goes to the failure ledger.
    """

    def __init__(self, message: str, *, transient: bool = False, retry_after: float | None = None,
                 status: int | None = None, rate_limited: bool = False, refusal: bool = False,
                 reason: str | None = None, rate_limits: object = None, config: bool = False):
        super().__init__(message)
        self.config = config
        #: a ``janus_core.sdk.rate_headers.RateHeaders``, or None
        self.rate_limits = rate_limits
        #: the failure ledger's reason, where the backend knows better than the engine
        #: (``batch_expired``, ``batch_error``)
        self.reason = reason
        self.transient = transient or rate_limited
        self.retry_after = bounded_wait(retry_after)
        self.status = status
        self.rate_limited = rate_limited
        self.refusal = refusal


#: Statuses that say the run's configuration is wrong, whatever the request: a refused key (401),
#: a key without access (403), a model or endpoint the server does not have (404).
CONFIG_STATUSES = (401, 403, 404)


def classify_status(status: int) -> dict:
    """BackendError keyword arguments for an HTTP status: 429 and 5xx are transient; 401, 403 and
    404 are the configuration's fault (``CONFIG_STATUSES``)."""
    return {"status": status, "rate_limited": status == 429,
            "transient": status in (408, 409, 425, 429) or status >= 500, "config": status in CONFIG_STATUSES}


def bounded_wait(seconds: float | None) -> float | None:
    """A server's requested wait within [0, MAX_RETRY_AFTER]: infinite, NaN or huge values become
    the bound, negative ones zero, so no header can hold a run for longer."""
    if seconds is None:
        return None
    if not math.isfinite(seconds) or seconds > MAX_RETRY_AFTER:
        return MAX_RETRY_AFTER
    return max(0.0, seconds)


def retry_after_seconds(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds) headers, if present, within
    [0, MAX_RETRY_AFTER]."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return bounded_wait(float(value) * scale)
            except (TypeError, ValueError):
                continue
    return None


def header_hints(headers) -> dict:
    """BackendError keyword arguments from an error reply's headers: ``retry_after`` and ``rate_limits``."""
    from janus_core.sdk.rate_headers import parse_rate_headers

    return {"retry_after": retry_after_seconds(headers), "rate_limits": parse_rate_headers(headers)}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def display_path(path: str | Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def error_message(data: bytes) -> str:
    """The message of a JSON error body (``{"error": {"message": ...}}``, the shape OpenAI, Anthropic
    and compatible servers answer with), or the body's start."""
    import json

    try:
        error = json.loads(data).get("error")
        return str(error.get("message") if isinstance(error, dict) else error)[:500]
    except (ValueError, AttributeError):
        return data[:200].decode("utf-8", "replace")
