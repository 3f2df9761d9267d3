"""The world a generation run acts in: built once per spec, seed and size, kept in the user's cache.

A run's world is a function of the diagram, ``--seed`` and the row count, so it is built into the
cache directory under a name hashed from those and reused by a resumed run (and by every shard or
Ray worker on the same machine) instead of being stored beside the output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from janus_core.sdk.mode_cache import cache_dir
from janus_plugins.world.build import DEFAULT_ROWS, build_world


def run_world(spec: Any, seed: int, rows: int = DEFAULT_ROWS) -> Path:
    """The path of the world for ``spec`` (a loaded Spec), ``seed`` and ``rows``, built if missing."""
    source = spec.diagram.source
    digest = hashlib.sha256(f"{rows}|{seed}|{source}".encode()).hexdigest()[:24]
    path = cache_dir() / "worlds" / f"{digest}.sqlite"
    if not path.is_file():
        build_world(spec, rows=rows, seed=seed, out=path)
    return path
