"""Which share of a plan a shard or a worker takes: each seed job by a stable hash of its key.

Derivations follow their seed (they are planned from its record), so a seed's whole lineage stays
in one share, and the same ``--seed`` gives the same record ids however the plan is split.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from janus_core.sdk.errors import JanusError


def shard_of(key: str, count: int) -> int:
    """The share (0 .. count-1) a seed job's ``key`` belongs to; stable across runs and machines."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Share ``index`` of ``count`` (0-based inside; ``I/N`` on the command line is 1-based)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N`` with 1 <= I <= N, e.g. ``2/8``."""
        found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not found:
            raise JanusError(f"--shard {text!r}: give it as I/N, e.g. 2/8 (the second of eight shares)")
        i, n = int(found.group(1)), int(found.group(2))
        if n < 1 or not 1 <= i <= n:
            raise JanusError(f"--shard {text!r}: I must be between 1 and N (and N at least 1)")
        return cls(i - 1, n)

    def owns(self, key: str) -> bool:
        """Whether the seed job with this key is this share's."""
        return self.count == 1 or shard_of(key, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index + 1}/{self.count}"
