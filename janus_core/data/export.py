"""Write a dataset in another format or store, optionally split into train and eval by seed.

Splitting by seed keeps every evolution of a seed on the same side, so no near-copy of a training
example leaks into the evaluation set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from janus_core.data.stats import load_records
from janus_core.run.journal import Journal
from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record


def read_records(out: Path) -> Iterator[Record]:
    """A run's records: from its journal when there is one, else from the file."""
    with Journal.beside(out) as journal:
        if journal is not None:
            for data in journal.records():
                yield Record.from_dict(data)
            return
    for data in load_records(out):
        yield Record.from_dict(data)


def reviewed_records(out: Path) -> Iterator[Record]:
    """The records a reviewer kept or edited (``janus review``), edited ones with the edited messages.

    Refuses at once (not when first iterated) if ``out`` has no journal or nothing is kept.
    """
    with Journal.beside(out) as journal:
        if journal is None:
            raise JanusError(f"{out} has no journal, so it has no review; review it first with: janus review {out}")
        reviews = journal.reviews()
    if not any(r["state"] in ("kept", "edited") for r in reviews.values()):
        raise JanusError(f"no record of {out} is kept or edited yet; review it with: janus review {out}")
    return _apply_reviews(read_records(out), reviews)


def _apply_reviews(records: Iterator[Record], reviews: dict[str, dict[str, Any]]) -> Iterator[Record]:
    for record in records:
        review = reviews.get(record.id)
        if review is None or review["state"] == "discarded":
            continue
        if review["state"] == "edited":
            record.messages = review["messages"]
            record.meta = {**record.meta, "review": "edited"}
        yield record


def is_eval(seed_id: str, fraction: float, seed: int = 0) -> bool:
    """Whether a seed's family goes to the eval split (stable for a given seed)."""
    digest = hashlib.sha256(f"{seed}|{seed_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_paths(to: Path) -> tuple[Path, Path]:
    if to.suffix:
        return to.with_name(f"{to.stem}-train{to.suffix}"), to.with_name(f"{to.stem}-eval{to.suffix}")
    return to / "train", to / "eval"


def export_remote(out: Path, to: str, sink_cls: Any, fmt: str, eval_fraction: float = 0.0, seed: int = 0,
                  options: dict[str, Any] | None = None, reviewed: bool = False) -> dict[str, Any]:
    """Hand ``out``'s records to a sink that uploads them (hf-hub) and splits them itself.

    The sink uploads when it closes, so it is closed only after every record was read: a run that
    cannot be read is not half pushed.
    """
    sink = sink_cls(to, {"format": fmt, "eval_fraction": eval_fraction, "seed": seed, "source": str(out),
                         **(options or {})})
    records = reviewed_records(out) if reviewed else read_records(out)
    sink.open()
    for record in records:
        sink.write([record])
    sink.close()
    return {"all": {"path": str(to), "written": sink.written, "skipped": sink.skipped, "report": sink.report()}}


def export(out: Path, to: Path, sink_cls: Any, fmt: str, eval_fraction: float = 0.0, seed: int = 0,
           overwrite: bool = False, reviewed: bool = False) -> dict[str, Any]:
    """Write ``out``'s records to ``to`` (and its eval split); returns counts per split.

    ``reviewed`` writes only the records kept or edited in ``janus review``.
    """
    if sink_cls.remote:
        return export_remote(out, str(to), sink_cls, fmt, eval_fraction, seed,
                             {"replace": overwrite, "flag": "--overwrite"}, reviewed)
    targets = {"all": to} if eval_fraction <= 0 else dict(zip(("train", "eval"), split_paths(to), strict=True))
    for path in targets.values():
        if path.exists() and not overwrite:
            raise JanusError(f"{path} exists; pass --overwrite to replace it")
    records = reviewed_records(out) if reviewed else read_records(out)
    sinks = {name: sink_cls(path, {"format": fmt}) for name, path in targets.items()}
    for name, path in targets.items():
        if path.exists() and path.is_file():
            path.unlink()
        sinks[name].open()
    try:
        for record in records:
            name = "all" if eval_fraction <= 0 else ("eval" if is_eval(record.seed_id, eval_fraction, seed)
                                                     else "train")
            sinks[name].write([record])
    finally:
        for sink in sinks.values():
            sink.close()
    return {name: {"path": str(targets[name]), "written": sink.written, "skipped": sink.skipped}
            for name, sink in sinks.items()}
