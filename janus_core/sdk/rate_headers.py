"""A provider's own rate-limit headers, read into one shape the pace can use.

Three families are read: OpenAI's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``
(resets as durations such as ``6m0s`` or ``20ms``), Anthropic's
``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`` (resets
as RFC 3339 times), and the IETF draft's fields: ``RateLimit`` with ``RateLimit-Policy`` as
structured-field lists (``"p";r=50;t=30`` and ``"p";q=100;w=60``, drafts 07 to 10), ``RateLimit:
limit=100, remaining=50, reset=30`` (draft 06) and ``RateLimit-Limit/-Remaining/-Reset`` (earlier
drafts, still widely sent). Written by hand: the forms are small, and no kept library reads all three.

Every value is a server's claim: numbers that are not finite or are negative are ignored, a reset
is held within ``MAX_RESET`` seconds and ``remaining`` within the limit, so no header can stall a run
past reason; a long window only makes the steady pace small.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

#: the longest reset a header may claim, in seconds (daily quotas are held to an hour)
MAX_RESET = 3600.0
#: the window a limit is taken to count over when the server does not say (providers state theirs per minute)
DEFAULT_WINDOW = 60.0


@dataclass(frozen=True)
class Quota:
    """One limit as the server reported it: how many (requests or tokens) its window allows, how many
    are left now, the seconds until the count is whole again, and the window when it said one."""

    remaining: float
    reset: float
    limit: float | None = None
    window: float | None = None

    @property
    def steady(self) -> float | None:
        """The sustained rate the limit allows, per second (``limit / window``), or None when unknown."""
        if not self.limit:
            return None
        return self.limit / (self.window or DEFAULT_WINDOW)


@dataclass(frozen=True)
class RateHeaders:
    """What a reply's headers said of the request and token limits (either may be missing)."""

    requests: Quota | None = None
    tokens: Quota | None = None


def _number(value: object) -> float | None:
    try:
        number = float(str(value).strip().strip('"'))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration(text: str) -> float | None:
    """Seconds from OpenAI's reset form (``1s``, ``6m0s``, ``20ms``, ``1h2m3.5s``) or a bare number."""
    text = str(text).strip()
    bare = _number(text)
    if bare is not None:
        return bare
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _until(text: str, now: float) -> float | None:
    """Seconds from ``now`` (unix time) to an RFC 3339 time, or a bare number of seconds."""
    bare = _number(text)
    if bare is not None:
        return bare
    try:
        moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def _quota(limit: object, remaining: object, reset: float | None, window: float | None = None) -> Quota | None:
    left = _number(remaining)
    if left is None or reset is None or not math.isfinite(reset):
        return None
    most = _number(limit)
    if most is not None:
        left = min(left, most)
    return Quota(remaining=left, reset=min(max(0.0, reset), MAX_RESET), limit=most or None, window=window or None)


def _tighter(a: Quota | None, b: Quota | None) -> Quota | None:
    """The quota that leaves less per second until its reset."""
    if a is None or b is None:
        return a or b
    return a if a.remaining / max(a.reset, 1.0) <= b.remaining / max(b.reset, 1.0) else b


def _openai(h: Mapping[str, str]) -> RateHeaders:
    found = {}
    for kind in ("requests", "tokens"):
        reset = h.get(f"x-ratelimit-reset-{kind}")
        found[kind] = _quota(h.get(f"x-ratelimit-limit-{kind}"), h.get(f"x-ratelimit-remaining-{kind}"),
                             duration(reset) if reset is not None else None)
    return RateHeaders(**found)


def _anthropic(h: Mapping[str, str], now: float) -> RateHeaders:
    def one(kind: str) -> Quota | None:
        reset = h.get(f"anthropic-ratelimit-{kind}-reset")
        return _quota(h.get(f"anthropic-ratelimit-{kind}-limit"), h.get(f"anthropic-ratelimit-{kind}-remaining"),
                      _until(reset, now) if reset is not None else None)

    tokens = one("tokens") or _tighter(one("input-tokens"), one("output-tokens"))
    return RateHeaders(requests=one("requests"), tokens=tokens)


def _sf_items(text: str) -> list[tuple[str, dict[str, str]]]:
    """A structured-field list (``"a";q=1;w=2, "b";q=3``) as (item, parameters) pairs; loose on purpose."""
    items = []
    for member in text.split(","):
        item, *params = (p.strip() for p in member.split(";"))
        values = {}
        for param in params:
            key, _, value = param.partition("=")
            values[key.strip().lower()] = value.strip().strip('"')
        items.append((item.strip().strip('"'), values))
    return items


def _ietf(h: Mapping[str, str]) -> RateHeaders:
    field, policy = h.get("ratelimit"), h.get("ratelimit-policy")
    if field is not None and "r=" in field:  # drafts 07-10: "name";r=R;t=T, policies "name";q=Q;w=W
        policies = {name: values for name, values in _sf_items(policy or "")}
        found: dict[str, Quota | None] = {"requests": None, "tokens": None}
        for name, values in _sf_items(field):
            rule = policies.get(name, {})
            unit = rule.get("qu", "requests")
            kind = "requests" if unit == "requests" else "tokens" if "token" in unit else None
            if kind is None:  # content-bytes, concurrent-requests: nothing the pace counts
                continue
            quota = _quota(rule.get("q"), values.get("r"), _number(values.get("t", "")), _number(rule.get("w", "")))
            found[kind] = _tighter(found[kind], quota)
        return RateHeaders(**found)
    if field is not None and "remaining=" in field:  # draft 06: limit=L, remaining=R, reset=T
        values = {k.strip().lower(): v for k, _, v in (p.partition("=") for p in field.split(","))}
        window = _sf_items(policy)[0][1].get("w") if policy else None
        return RateHeaders(requests=_quota(values.get("limit"), values.get("remaining"),
                                           _number(values.get("reset", "")), _number(window or "")))
    remaining = h.get("ratelimit-remaining")
    if remaining is not None:  # earlier drafts: one field each; the limit may carry ;w=W
        limit, *rest = str(h.get("ratelimit-limit", "")).split(",")[0].split(";")
        window = next((p.split("=", 1)[1] for p in rest if p.strip().startswith("w=")), None)
        return RateHeaders(requests=_quota(limit, remaining, _number(h.get("ratelimit-reset", "")),
                                           _number(window or "")))
    return RateHeaders()


def parse_rate_headers(headers: Mapping[str, str] | None, now: float | None = None) -> RateHeaders | None:
    """The rate limits a reply's headers state (any of the three families), or None when they state none.

    ``headers`` is any mapping of names to values (aiohttp's, httpx's, a dict); names are matched without case.
    """
    if not headers:
        return None
    headers = {str(k).lower(): str(v) for k, v in headers.items()}
    now = time.time() if now is None else now
    found = RateHeaders()
    for read in (_openai, lambda h: _anthropic(h, now), _ietf):
        got = read(headers)
        found = RateHeaders(requests=found.requests or got.requests, tokens=found.tokens or got.tokens)
    return found if found.requests or found.tokens else None
