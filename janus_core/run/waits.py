"""How long the engine waits on a server's word: a Retry-After within bounds, never past
``--rate-limit-wait``."""

from __future__ import annotations

from janus_core.sdk.errors import MAX_RETRY_AFTER, bounded_wait


def longest_pause(patience: float) -> float:
    """The longest one server-requested wait may last: MAX_RETRY_AFTER, or ``--rate-limit-wait``
    (``patience``) when that is shorter, so a run told to give up after N seconds does."""
    return min(MAX_RETRY_AFTER, patience)


def hinted_wait(retry_after: float | None, patience: float) -> float:
    """Seconds a server asked to wait before a retry (0.0 if it asked nothing), within ``longest_pause``."""
    return min(bounded_wait(retry_after) or 0.0, longest_pause(patience))
