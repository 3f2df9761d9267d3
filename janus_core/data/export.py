"""Write a dataset in another format or store, optionally split into train and test by seed.

Splitting by seed keeps every evolution of a seed on the same side, so no near-copy of a training
example leaks into the evaluation set.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from janus_core.data.stats import located_file_records
from janus_core.run.journal import Journal
from janus_core.run.record_rows import record_problem
from janus_core.run.staging import remove_stale, staged_folder
from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record

#: the held-out split's name: ``test``, as ``datasets`` names it (``--test-fraction``, alias ``--eval-fraction``)
HELD_OUT = "test"


def read_records(out: Path, left_out: Counter[str] | None = None) -> Iterator[Record]:
    """A run's records, one at a time: from its journal when there is one (a bad row is a JanusError
    naming it), else from the file or folder (a row that is not a record is a JanusError naming its
    line; a conversation Janus cannot carry, with tool calls or images, is counted in ``left_out``)."""
    with Journal.beside(out) as journal:
        if journal is not None:
            for data in journal.records():
                yield Record.from_dict(data)
            return
    for where, data in located_file_records(out, left_out):
        problem = record_problem(data)
        if problem:
            raise JanusError(f"{where}: not a record Janus can read: {problem}")
        yield Record.from_dict(data)


def left_out_note(out: Path, left_out: Counter[str]) -> list[str]:
    """What reading ``out`` left out, as a note (none when nothing was)."""
    return [f"{out}: left out " + "; ".join(f"{n} rows that {why}" for why, n in left_out.items())] \
        if left_out else []


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
    """Whether a seed's family goes to the held-out (test) split (stable for a given seed)."""
    digest = hashlib.sha256(f"{seed}|{seed_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_paths(to: Path) -> tuple[Path, Path]:
    if to.suffix:
        return to.with_name(f"{to.stem}-train{to.suffix}"), to.with_name(f"{to.stem}-{HELD_OUT}{to.suffix}")
    return to / "train", to / HELD_OUT


def export_remote(out: Path, to: str, sink_cls: Any, fmt: str, eval_fraction: float = 0.0, seed: int = 0,
                  options: dict[str, Any] | None = None, reviewed: bool = False) -> dict[str, Any]:
    """Hand ``out``'s records to a sink that uploads them (hf-hub) and splits them itself.

    The sink uploads when it closes, so it is closed only after every record was read: a run that
    cannot be read is not half pushed.
    """
    sink = sink_cls(to, {"format": fmt, "eval_fraction": eval_fraction, "seed": seed, "source": str(out),
                         **(options or {})})
    left_out: Counter[str] = Counter()
    records = reviewed_records(out) if reviewed else read_records(out, left_out)
    sink.open()
    handed = 0
    for record in records:
        sink.write([record])
        handed += 1
    sink.close()
    return {"all": {"path": str(to), "written": handed - sink.skipped, "skipped": sink.skipped,
                    "report": sink.report() + left_out_note(out, left_out)}}


def export(out: Path, to: Path, sink_cls: Any, fmt: str, eval_fraction: float = 0.0, seed: int = 0,
           overwrite: bool = False, reviewed: bool = False,
           options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``out``'s records to ``to`` (and its test split); returns per split the path, rows written,
    records skipped (and why), and the seed families it holds.

    ``reviewed`` writes only the records kept or edited in ``janus review``. Everything is written
    beside the target under a temporary name and moved into place only when the export succeeded:
    a failed export leaves nothing behind. An export (or a split) with no rows is an error.
    A sink with ``splits = True`` (hf-disk) writes both splits itself (a ``DatasetDict``).
    """
    if sink_cls.remote:
        return export_remote(out, str(to), sink_cls, fmt, eval_fraction, seed,
                             {"replace": overwrite, "flag": "--overwrite"}, reviewed)
    splits_itself = bool(getattr(sink_cls, "splits", False)) and eval_fraction > 0
    split_names = ("all",) if eval_fraction <= 0 else ("train", HELD_OUT)
    targets = {"all": to} if eval_fraction <= 0 or splits_itself else \
        dict(zip(("train", HELD_OUT), split_paths(to), strict=True))
    for path in targets.values():
        remove_stale(path)  # what an export killed before (kill -9) left beside it
        if path.exists() and not overwrite:
            raise JanusError(f"{path} exists; pass --overwrite to replace it")
    left_out: Counter[str] = Counter()
    records = reviewed_records(out) if reviewed else read_records(out, left_out)
    options = {"format": fmt, **(options or {})}
    if splits_itself:
        options.update(eval_fraction=eval_fraction, seed=seed)
    seeds: dict[str, set[str]] = {name: set() for name in split_names}
    written: dict[str, int] = dict.fromkeys(split_names, 0)
    skipped: dict[str, Counter[str]] = {name: Counter() for name in split_names}
    staging: dict[str, Path] = {}
    sinks: dict[str, Any] = {}
    folders = contextlib.ExitStack()
    try:
        for name, path in targets.items():
            staging[name] = folders.enter_context(staged_folder(path)) / path.name
            sinks[name] = sink_cls(staging[name], options)
        for sink in sinks.values():
            sink.open()
        for record in records:
            name = "all" if eval_fraction <= 0 else (HELD_OUT if is_eval(record.seed_id, eval_fraction, seed)
                                                     else "train")
            sink = sinks["all" if splits_itself else name]
            skipped_before = sink.skipped
            sink.write([record])  # one record: a row, or counted in the sink's skipped
            if sink.skipped > skipped_before:  # skipped: say why, per split
                why = sink.last_skip_reason or f"have no {fmt} form"
                skipped[name][why] += sink.skipped - skipped_before
            else:
                seeds[name].add(record.seed_id)
                written[name] += 1
        _check_rows(written, seeds, skipped, fmt, eval_fraction, seed, left_out)
        for sink in sinks.values():
            sink.close()
        for name, path in targets.items():
            _move_into_place(staging[name], path)
    except BaseException as exc:
        for sink in sinks.values():
            with contextlib.suppress(Exception):
                sink.close()
        if isinstance(exc, OSError):
            raise JanusError(f"cannot write {to} ({exc.strerror or exc}); nothing was written") from None
        raise
    finally:
        folders.close()
    notes = left_out_note(out, left_out)
    notes += [note for name, sink in sinks.items() for note in _trainer_notes(sink, targets[name])]
    result = {name: {"path": str(targets["all" if splits_itself else name]), "written": written[name],
                     "seeds": len(seeds[name]), "skipped": sum(skipped[name].values()),
                     "skip_reasons": dict(skipped[name])}
              for name in split_names}
    if eval_fraction > 0:
        result["train"]["notes"] = notes + split_notes(len(seeds["train"]), len(seeds[HELD_OUT]), eval_fraction)
    elif notes:
        result["all"]["notes"] = notes
    return result


def split_notes(train_seeds: int, eval_seeds: int, fraction: float) -> list[str]:
    """What the split did when it is far from the share asked for (few seeds give a coarse split)."""
    total = train_seeds + eval_seeds
    share = eval_seeds / total if total else 0.0
    if total >= 20 and abs(share - fraction) <= 0.05:
        return []
    return [f"--test-fraction {fraction:g} asked for {fraction:.0%} of the seeds; {eval_seeds} of {total} seed "
            f"families ({share:.0%}) went to {HELD_OUT}. The split draws whole seed families, so with few seeds the "
            "share is coarse: --seed N draws again."]


def _check_rows(written: dict[str, int], seeds: dict[str, set[str]], skipped: dict[str, Counter[str]], fmt: str,
                eval_fraction: float, seed: int, left_out: Counter[str] | None = None) -> None:
    """Refuse an export with no rows, or a split left empty, saying why."""
    reasons: Counter[str] = sum(skipped.values(), Counter())
    why = "; ".join([f"{n} records {reason}" for reason, n in reasons.items()]
                    + [f"{n} rows {reason}" for reason, n in (left_out or {}).items()])
    if not sum(written.values()):
        raise JanusError(f"no {fmt} rows to write" + (f": {why}" if why else ": the run has no records")
                         + "; nothing was written")
    empty = [name for name in ("train", HELD_OUT) if name in written and not written[name]]
    if empty:
        total = sum(len(s) for s in seeds.values())
        raise JanusError(f"the {empty[0]} split would be empty: {len(seeds[HELD_OUT])} of {total} seed families fell "
                         f"in {HELD_OUT} at --test-fraction {eval_fraction:g} (--seed {seed}); change the fraction or "
                         "the seed. Nothing was written")


def _move_into_place(staged: Path, path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    os.replace(staged, path)


def _trainer_notes(sink: Any, path: Path) -> list[str]:
    """What a trainer needs to know about the written file (a format's companion files, its caveats)."""
    finish = getattr(sink, "finish_export", None)
    return list(finish(path)) if finish is not None else []
