"""``janus merge``: the shares of a run made with ``--shard I/N`` as one dataset and one journal.

Each share's journal says which share it is and the key of the whole run (its fingerprint without
the shard). The merged journal holds every share's records, failures and cached replies under that
key, so ``stats``, ``export``, ``review`` and ``doctor`` read it like any run's, and ``janus
generate`` without ``--shard`` continues it (with ``--target``, say). Records keep their ids: ids come
from a record's place in the plan and ``--seed``, the same in every share.

Cross-share duplicates: each share's duplicate filter saw only its own records, so the merge runs the
same near-duplicate check (MinHash, Jaccard >= 0.8 on word 5-grams, the filter's defaults) over all
of them, by depth then id, and moves a duplicate and what was evolved from it to the failure ledger
(``eliminated:duplicate``), as a single run would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_core.run.journal import Journal, journal_files, journal_path
from janus_core.run.lock import RunLock
from janus_core.run.session import what_changed
from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record, added_text


@dataclass
class Share:
    """One part: its file, its journal's shard meta and run meta."""

    path: Path
    index: int
    count: int
    fingerprint: str
    parts: dict[str, Any]
    run: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.index + 1}/{self.count}"


@dataclass
class MergeReport:
    out: Path
    shares: list[Share]
    records: int = 0
    duplicates: int = 0
    failures: int = 0
    cached: int = 0
    missing: list[str] = field(default_factory=list)
    per_share: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        by_share = ", ".join(f"{name} {n}" for name, n in self.per_share.items())
        shown = [f"merged {len(self.shares)} shares ({by_share}) -> {self.out}: {self.records} records",
                 f"  {self.duplicates} cross-share duplicates (and what was evolved from them) moved to the "
                 f"failure ledger; {self.failures} failures in all; {self.cached} cached replies"]
        if self.missing:
            shown.append(f"  missing: shard {', '.join(self.missing)}; the merge holds only the shares given "
                         "(merge again with them to complete it)")
        return shown


def read_share(path: Path) -> Share:
    """A part's shard meta, or a JanusError naming the file and what is wrong with it."""
    if not path.is_file():
        raise JanusError(f"{path}: no such file")
    with Journal.beside(path) as journal:
        if journal is None:
            raise JanusError(f"{path}: no journal beside it ({journal_path(path).name}); only a run's output "
                             "with its journal can be merged")
        shard, run = journal.get_meta("shard"), journal.get_meta("run") or {}
    if not shard:
        raise JanusError(f"{path} was not made with --shard; merge the outputs of 'janus generate --shard I/N'")
    return Share(path, shard["index"], shard["count"], shard["fingerprint"], shard["fingerprint_parts"], run)


def check_shares(shares: list[Share]) -> list[str]:
    """Refuse shares of different runs or the same share twice; return the missing shares' names."""
    first = shares[0]
    seen: dict[int, Path] = {}
    for share in shares:
        if share.count != first.count:
            raise JanusError(f"{share.path} is share {share.name} and {first.path} share {first.name}: "
                             "the parts of one merge are split the same way")
        if share.fingerprint != first.fingerprint:
            changed = what_changed(first.parts, share.parts)
            raise JanusError(f"{share.path} and {first.path} are shares of different runs"
                             + (f" ({changed})" if changed else " (spec, backend, model, seed or temperature)"))
        if share.index in seen:
            raise JanusError(f"{share.path} and {seen[share.index]} are both share {share.name}")
        seen[share.index] = share.path
    return [f"{i + 1}/{first.count}" for i in range(first.count) if i not in seen]


def merge(paths: list[Path], out: Path, overwrite: bool = False) -> MergeReport:
    """Merge the shares at ``paths`` into ``out`` (JSON Lines) and its journal."""
    if not paths:
        raise JanusError("name the parts to merge")
    out = Path(out)
    if out.suffix != ".jsonl":
        raise JanusError(f"{out}: merge writes JSON Lines (.jsonl); 'janus export' turns it into other formats")
    if any(p.resolve() == out.resolve() for p in paths):
        raise JanusError(f"{out} is one of the parts; merge into a new file")
    shares = sorted((read_share(p) for p in paths), key=lambda s: s.index)
    report = MergeReport(out, shares, missing=check_shares(shares))
    with RunLock(out, "merge"):
        target = journal_path(out)
        if (out.exists() or target.exists()) and not overwrite:
            raise JanusError(f"{out} exists; pass --overwrite to replace it")
        building = target.with_name(target.name + ".merging")
        for stale in journal_files(building):
            stale.unlink(missing_ok=True)
        try:
            with Journal(building) as journal:
                _fill(journal, shares, report)
            for old in journal_files(target):
                old.unlink(missing_ok=True)
            building.replace(target)
        finally:
            for stale in journal_files(building):
                stale.unlink(missing_ok=True)
        with Journal(target) as journal:
            report.records = journal.export_jsonl(out)
    return report


def _fill(journal: Journal, shares: list[Share], report: MergeReport) -> None:
    first = shares[0]
    entries: list[tuple[str, dict[str, Any], Share]] = []
    with journal.transaction():
        for share in shares:
            with Journal.beside(share.path) as part:
                assert part is not None
                if share is first:
                    journal.set_meta("spec", part.get_meta("spec"))
                    structured = part.get_meta("structured")
                    if structured:
                        journal.set_meta("structured", structured)
                for failure in part.failures():
                    journal.add_failure(failure["job_key"], failure["reason"], failure["detail"], failure["job"])
                    report.failures += 1
                for key, completion, cost in part.cached_requests():
                    journal.cache(key, completion, cost)
                    report.cached += 1
                shown = list(part.entries())
                report.per_share[share.name] = len(shown)
                entries += [(job_key, data, share) for job_key, data in shown]
        journal.set_meta("run", {**first.run, "shard": None, "merged_from": [
            {"share": s.name, "file": s.path.name} for s in shares]})
        journal.set_meta("fingerprint", first.fingerprint)
        journal.set_meta("fingerprint_parts", first.parts)
        dropped = _cross_share_duplicates(entries, "duplicate" in (first.run.get("filters") or []))
        for job_key, data, share in entries:
            why = dropped.get(data["id"])
            if why is None:
                journal.add_record(job_key, Record.from_dict(data))
                continue
            report.duplicates += 1
            report.failures += 1
            journal.add_failure(job_key, "eliminated:duplicate", f"{why} (found when merging share {share.name})",
                                {"key": job_key, "kind": "seed" if not data.get("parent_id") else "derive"})


def _cross_share_duplicates(entries: list[tuple[str, dict[str, Any], Share]], on: bool) -> dict[str, str]:
    """Record id -> why it goes: a near copy of a record of another share, or evolved from one."""
    if not on:
        return {}
    from janus_core.data.dedup import Deduper

    by_id = {data["id"]: data for _, data, _ in entries}
    deduper = Deduper()
    dropped: dict[str, str] = {}
    for _, data, _ in sorted(entries, key=lambda e: (e[1].get("depth", 0), e[1]["id"])):
        parent_id = data.get("parent_id")
        if parent_id in dropped:
            dropped[data["id"]] = f"evolved from record {parent_id}, a duplicate"
            continue
        found = deduper.check_and_add(data["id"], added_text(data, by_id.get(parent_id)))
        if found is not None:
            kind, other = found
            dropped[data["id"]] = f"{'an exact' if kind == 'exact' else 'a near'} duplicate of record {other}"
    return dropped


__all__ = ["MergeReport", "Share", "check_shares", "merge", "read_share"]
