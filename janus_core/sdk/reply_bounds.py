"""Bounds on what a provider's server may send back: reply bytes, redirects and the token counts it
reports (the waits it asks for: ``errors.bounded_wait``). A hostile or broken server must not
exhaust memory, send the prompt on elsewhere or make the spending counter run backwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from janus_core.sdk.errors import BackendError

#: default bound on one reply's body, in bytes after decompression (option ``max_reply_bytes``)
MAX_REPLY_BYTES = 8 * 2**20
#: bound on a provider batch's result file (its output or error JSONL), in bytes after decompression
MAX_BATCH_FILE_BYTES = 2**30
#: the most tokens one reply's ``usage`` may report for its prompt or its reply
MAX_USAGE_TOKENS = 10_000_000

_limit: ContextVar[int | None] = ContextVar("janus_reply_limit", default=None)


class ReplyRefused(BackendError):
    """A reply Janus will not take: larger than its bound, a redirect, an unknown encoding.
    Not transient: asking the same server again would pay again for the same answer."""

    def __init__(self, message: str):
        super().__init__(message, reason="bad_reply")


@contextmanager
def reply_limit(max_bytes: int) -> Iterator[None]:
    """Replies read inside the block may hold up to ``max_bytes`` (a batch's result file)."""
    token = _limit.set(max_bytes)
    try:
        yield
    finally:
        _limit.reset(token)


def current_limit(default: int) -> int:
    """The bound for a reply read now: ``reply_limit``'s inside one, else ``default``."""
    return _limit.get() or default


def too_large(max_bytes: int) -> ReplyRefused:
    return ReplyRefused(f"the server's reply is larger than {max_bytes} bytes (option max_reply_bytes); "
                        "it was abandoned")


def refused_redirect(status: int, location: str | None) -> ReplyRefused:
    """The error for a redirect: never followed, since it would send the prompt (and the key) on."""
    where = f" to {origin(location)}" if location else ""
    return ReplyRefused(f"the server answered HTTP {status}, a redirect{where}; Janus does not follow "
                        "redirects (they would send the prompt elsewhere): set base_url to the final address")


def origin(url: str) -> str:
    """scheme://host:port of a URL, without its path, query or credentials."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unreadable address"
    return f"{parts.scheme}://{parts.hostname}{port}" if parts.hostname else "a relative address"


def token_count(value: Any, field: str, owner: str) -> int:
    """A reply's reported token count as an int in [0, MAX_USAGE_TOKENS] (missing: 0); anything
    else makes the reply an error, so a server cannot make the spending counter run backwards."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_USAGE_TOKENS:
        shown = repr(value)[:40]
        raise BackendError(f"{owner}: the reply's usage {field} is {shown}, not a token count between 0 and "
                           f"{MAX_USAGE_TOKENS}; the reply is not used", reason="bad_reply")
    return value


def usage_counts(usage: Any, names: tuple[str, str], owner: str) -> tuple[int, int]:
    """(tokens in, tokens out) from a JSON reply's ``usage`` object and its two field names."""
    if usage is None:
        return 0, 0
    if not isinstance(usage, dict):
        raise BackendError(f"{owner}: the reply's usage is not an object; the reply is not used", reason="bad_reply")
    return token_count(usage.get(names[0]), names[0], owner), token_count(usage.get(names[1]), names[1], owner)
