"""Write a dataset in another format or store, optionally split into train and eval by seed.

Splitting by seed keeps every evolution of a seed on the same side, so no near-copy of a training
example leaks into the evaluation set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import JanusError
from .records import Record
from .stats import load_records
from .store import Journal, journal_path


def read_records(out: Path) -> Iterator[Record]:
    """A run's records: from its journal when there is one, else from the file."""
    if journal_path(out).exists():
        journal = Journal(journal_path(out))
        try:
            for data in journal.records():
                yield Record.from_dict(data)
        finally:
            journal.close()
    else:
        for data in load_records(out):
            yield Record.from_dict(data)


def is_eval(seed_id: str, fraction: float, seed: int = 0) -> bool:
    """Whether a seed's family goes to the eval split (stable for a given seed)."""
    digest = hashlib.sha256(f"{seed}|{seed_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_paths(to: Path) -> tuple[Path, Path]:
    if to.suffix:
        return to.with_name(f"{to.stem}-train{to.suffix}"), to.with_name(f"{to.stem}-eval{to.suffix}")
    return to / "train", to / "eval"


def export_remote(out: Path, to: str, sink_cls: Any, fmt: str, eval_fraction: float = 0.0, seed: int = 0,
                  options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Hand ``out``'s records to a sink that uploads them (hf-hub) and splits them itself.

    The sink uploads when it closes, so it is closed only after every record was read: a run that
    cannot be read is not half pushed.
    """
    sink = sink_cls(to, {"format": fmt, "eval_fraction": eval_fraction, "seed": seed, "source": str(out),
                         **(options or {})})
    sink.open()
    for record in read_records(out):
        sink.write([record])
    sink.close()
    return {"all": {"path": str(to), "written": sink.written, "skipped": sink.skipped,
                    "result": getattr(sink, "result", None)}}


def export(out: Path, to: Path, sink_cls: Any, fmt: str, eval_fraction: float = 0.0, seed: int = 0,
           overwrite: bool = False) -> dict[str, Any]:
    """Write ``out``'s records to ``to`` (and its eval split); returns counts per split."""
    if getattr(sink_cls, "remote", False):
        return export_remote(out, str(to), sink_cls, fmt, eval_fraction, seed,
                             {"replace": overwrite, "flag": "--overwrite"})
    targets = {"all": to} if eval_fraction <= 0 else dict(zip(("train", "eval"), split_paths(to), strict=True))
    for path in targets.values():
        if path.exists() and not overwrite:
            raise JanusError(f"{path} exists; pass --overwrite to replace it")
    sinks = {name: sink_cls(path, {"format": fmt}) for name, path in targets.items()}
    for name, path in targets.items():
        if path.exists() and path.is_file():
            path.unlink()
        sinks[name].open()
    try:
        for record in read_records(out):
            name = "all" if eval_fraction <= 0 else ("eval" if is_eval(record.seed_id, eval_fraction, seed)
                                                     else "train")
            sinks[name].write([record])
    finally:
        for sink in sinks.values():
            sink.close()
    return {name: {"path": str(targets[name]), "written": sink.written, "skipped": sink.skipped}
            for name, sink in sinks.items()}
