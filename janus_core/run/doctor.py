"""``janus doctor OUT``: check a run's journal and output; ``--repair`` mends what it can.

A good journal is the truth: repair rewrites the JSONL from it. A damaged (or emptied) journal is
moved aside as ``OUT.journal.sqlite.damaged-TIMESTAMP`` (never deleted); its readable rows go into
a new journal, and records the output file holds that the salvage lacks are brought back too, so a
rerun continues without paying for them again.

A sound journal may still hold rows of its records table that are not records (invalid JSON, a
list, nesting over the limit, a row too large: see ``record_rows``): doctor lists them, and repair
appends them to ``OUT.journal.sqlite.bad-rows.jsonl`` (fsynced) before deleting them from the
journal, then brings back any good copy the output holds and rewrites the output. A bad row never
reaches the output.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_core.run.journal import (
    RECORD_ROWS,
    Journal,
    JournalError,
    bad_rows_path,
    check_file,
    checked_record,
    inspect_journal,
    journal_files,
    journal_path,
)
from janus_core.run.lock import RunLock
from janus_core.run.record_rows import bounded_loads, load_record, read_lines
from janus_core.run.staging import fsync_folder, remove_stale
from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record

#: Tables salvaged from a damaged journal, with the columns copied (records get new ``seq`` values).
SALVAGED = {"meta": ("key", "value"),
            "requests": ("key", "text", "model", "finish_reason", "tokens_in", "tokens_out", "cost", "created_at"),
            "records": ("id", "job_key", "data"),
            "failures": ("job_key", "reason", "detail", "job", "created_at"),
            "reviews": ("id", "state", "messages", "updated_at")}
_BATCH = 256
_ROWID_MAX = 2**63 - 1


@dataclass
class Diagnosis:
    """What ``janus doctor`` found."""

    out: Path
    journal: str = "missing"  # ok, missing, empty, damaged, foreign, newer
    problem: str | None = None
    version: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    output_records: int = 0
    output_bad_lines: list[int] = field(default_factory=list)
    output_ids: set[str] = field(default_factory=set)
    journal_ids: set[str] = field(default_factory=set)
    #: (rowid, what is wrong) per row of the journal's records table that is not a record
    bad_rows: list[tuple[int, str]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return (self.journal in ("ok", "missing") and not self.output_bad_lines and not self.mismatch
                and not self.bad_rows)

    @property
    def mismatch(self) -> bool:
        return self.journal == "ok" and self.out.suffix == ".jsonl" and self.output_ids != self.journal_ids

    def lines(self) -> list[str]:
        path = journal_path(self.out)
        shown = {"ok": f"ok (version {self.version}): " + ", ".join(f"{n} {t}" for t, n in self.counts.items()),
                 "missing": "none (the output cannot be continued by 'janus generate')",
                 "empty": "empty (0 bytes)"}
        lines = [f"journal {path}: {shown.get(self.journal, self.journal)}"]
        if self.problem:
            lines.append(f"  {self.problem}")
        if self.bad_rows:
            shown = "; ".join(f"row {rowid} ({why})" for rowid, why in self.bad_rows[:5])
            more = f" and {len(self.bad_rows) - 5} more" if len(self.bad_rows) > 5 else ""
            lines.append(f"  {len(self.bad_rows)} rows of its records table are not records: {shown}{more}")
        if self.out.exists() and self.out.suffix != ".jsonl":
            lines.append(f"output {self.out}: not JSONL, not checked (a run rebuilds it from the journal)")
        elif self.out.exists():
            lines.append(f"output {self.out}: {self.output_records} records"
                         + (f", unreadable lines {_ranges(self.output_bad_lines)}" if self.output_bad_lines else ""))
        else:
            lines.append(f"output {self.out}: missing")
        if self.mismatch:
            lines.append(f"  {len(self.journal_ids - self.output_ids)} journal records are not in the output, "
                         f"{len(self.output_ids - self.journal_ids)} output records are not in the journal")
        if self.bad_rows:
            lines.append(f"repair: 'janus doctor {self.out} --repair' sets those rows aside (into "
                         f"{bad_rows_path(path).name}, never into the output) and rewrites the output from the rest")
        elif self.journal in ("empty", "damaged") or (self.journal == "ok" and self.output_ids - self.journal_ids):
            lines.append(f"repair: 'janus doctor {self.out} --repair' keeps the journal aside, salvages its readable "
                         "rows and the output's records into a new one, and rewrites the output")
        elif self.journal == "ok" and (self.mismatch or self.output_bad_lines):
            lines.append(f"repair: 'janus doctor {self.out} --repair' rewrites the output from the journal (a rerun "
                         "of the same 'janus generate' does too)")
        elif self.journal == "foreign":
            lines.append("repair: none; doctor does not touch a file Janus did not write (move it away yourself)")
        elif self.journal == "newer":
            lines.append("repair: none needed; use the newer Janus that wrote it")
        else:
            lines.append("healthy")
        return lines


def _ranges(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10]))
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _read_output(out: Path, d: Diagnosis) -> list[dict[str, Any]]:
    """The output's readable records; unreadable line numbers go to ``d.output_bad_lines``."""
    rows: list[dict[str, Any]] = []
    if not out.exists():
        return rows
    with out.open("rb") as f:
        for n, raw in read_lines(f):
            if raw is not None and not raw.strip():
                continue
            try:
                if raw is None:
                    raise ValueError("too long")
                data = load_record(raw)
            except ValueError:
                d.output_bad_lines.append(n)
                continue
            rows.append(data)
    d.output_records = len(rows)
    d.output_ids = {r["id"] for r in rows}
    return rows


def diagnose(out: Path) -> Diagnosis:
    """Check ``out`` and its journal without changing either."""
    out = Path(out)
    d = Diagnosis(out)
    path = journal_path(out)
    if not out.exists() and not path.exists():
        raise JanusError(f"neither {out} nor its journal {path.name} exists")
    if out.exists() and out.suffix == ".jsonl":
        _read_output(out, d)
    if not path.exists():
        return d
    if path.stat().st_size == 0:
        d.journal = "empty"
        return d
    db = None
    try:
        check_file(path)
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        d.version = inspect_journal(db, path)
        for table in ("records", "failures", "requests", "reviews"):
            try:
                d.counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.OperationalError:  # reviews: a version 1 journal made before reviews existed
                continue
        for rowid, _, rid, data, length in db.execute(RECORD_ROWS + " ORDER BY seq"):
            try:
                checked_record(rid, data, length)
            except ValueError as exc:
                d.bad_rows.append((rowid, str(exc)))
                continue
            d.journal_ids.add(rid)
        d.journal = "ok"
    except JournalError as exc:
        d.journal, d.problem = exc.kind, str(exc)
    except sqlite3.DatabaseError as exc:
        d.journal, d.problem = "damaged", f"{type(exc).__name__}: {exc}"
    finally:
        if db is not None:
            db.close()
    return d


def repair(out: Path) -> list[str]:
    """Mend ``out`` and its journal as far as possible; lines saying what was done."""
    out = Path(out)
    with RunLock(out, "doctor --repair"):
        remove_stale(out)  # what a repair killed before (kill -9) left beside the output
        d = diagnose(out)
        if d.journal == "foreign":
            raise JanusError(f"{d.problem}\ndoctor leaves a file Janus did not write alone: move it away yourself")
        if d.journal == "newer":
            raise JanusError(str(d.problem))
        if out.exists() and out.suffix != ".jsonl":
            raise JanusError(f"{out} is not a JSONL file: doctor repairs JSONL outputs (rerun 'janus generate' to "
                             "rebuild other formats from a good journal)")
        done: list[str] = []
        if d.journal == "missing":
            return ["no journal: nothing to repair (the output stays as it is)"]
        if d.bad_rows:
            kept = set_bad_rows_aside(journal_path(out), [rowid for rowid, _ in d.bad_rows])
            done.append(f"set {len(d.bad_rows)} rows of the journal's records table that are not records aside "
                        f"into {kept.name} (kept, not deleted; not written to the output)")
            d = diagnose(out)
        if d.journal == "ok" and not (d.output_ids - d.journal_ids):
            if not d.mismatch and not d.output_bad_lines:
                return done or ["journal and output agree: nothing to repair"]
            with Journal(journal_path(out)) as journal:
                count = journal.export_jsonl(out)
            return [*done, f"rewrote {out} from the journal: {count} records"]
        rows = _read_output(out, Diagnosis(out))
        aside = None
        if d.journal != "ok":  # else a good journal that lacks records the output has (emptied or replaced)
            aside = _set_aside(journal_path(out))
            done.append(f"moved the {d.journal} journal aside to {aside.name} (kept, not deleted)")
        with Journal(journal_path(out)) as journal:
            if aside is not None and d.journal == "damaged":
                counts = salvage(aside, journal)
                done.append("salvaged from it: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
            brought, skipped = _import_output(rows, journal)
            if brought:
                done.append(f"brought back {brought} records from {out} that the journal lacked"
                            + (f" ({skipped} unreadable lines left out)" if skipped else ""))
            if journal.get_meta("fingerprint") is None:
                done.append("the journal no longer says which spec made it: the next 'janus generate' on this "
                            "output continues it with the spec it is given")
            count = journal.export_jsonl(out)
            done.append(f"rewrote {out} from the new journal: {count} records")
        return done


def set_bad_rows_aside(path: Path, rowids: list[int]) -> Path:
    """Move the given rows of the journal's records table into its side file (``bad_rows_path``):
    each is appended there as a line (rowid, id, job key and its data as text) and fsynced before it
    is deleted from the journal. The side file is returned."""
    side = bad_rows_path(path)
    with Journal(path) as journal, side.open("a", encoding="utf-8") as f:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        for rowid in rowids:
            row = journal.db.execute("SELECT id, job_key, data FROM records WHERE seq = ?", (rowid,)).fetchone()
            if row is None:
                continue
            rid, job_key, data = row
            text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else str(data)
            f.write(json.dumps({"set_aside": stamp, "table": "records", "rowid": rowid, "id": rid,
                                "job_key": job_key, "data": text}, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
        fsync_folder(side.parent)
        with journal.transaction():
            journal.db.executemany("DELETE FROM records WHERE seq = ?", [(rowid,) for rowid in rowids])
    return side


def _set_aside(path: Path) -> Path:
    """Move the journal (and its WAL and shared-memory files) to ``*.damaged-TIMESTAMP``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for src, dst in zip(journal_files(path), journal_files(aside), strict=True):
        if src.exists():
            src.replace(dst)
    return aside


def _import_output(rows: list[dict[str, Any]], journal: Journal) -> tuple[int, int]:
    """Records of the output the journal lacks, stored so that a rerun resumes them (not pays again)."""
    have = {rid for (rid,) in journal.db.execute("SELECT id FROM records")}
    added = skipped = 0
    with journal.transaction():
        for data in rows:
            if data["id"] in have:
                continue
            try:
                record = Record.from_dict(data)
            except (ValueError, TypeError, KeyError):
                skipped += 1
                continue
            journal.db.execute("INSERT OR IGNORE INTO records (id, job_key, data) VALUES (?, ?, ?)",
                               (record.id, f"import|{record.id}", record.to_json()))
            have.add(record.id)
            added += 1
    return added, skipped


def salvage(damaged: Path, journal: Journal) -> dict[str, int]:
    """Copy the readable rows of a damaged journal into ``journal``; rows copied per table."""
    counts = {table: 0 for table in SALVAGED}
    try:
        db = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.DatabaseError:
        return counts
    try:
        try:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError:
            return counts  # the schema itself is unreadable
        with journal.transaction():
            for table, columns in SALVAGED.items():
                if table not in tables:
                    continue
                marks = ", ".join("?" * len(columns))
                insert = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                for row in _readable_rows(db, table, columns):
                    if _usable(table, row):
                        journal.db.execute(insert, row)
                        counts[table] += 1
    finally:
        db.close()
    return counts


def _usable(table: str, row: tuple) -> bool:
    """Whether a salvaged row makes sense (JSON where JSON belongs, a record that loads)."""
    try:
        if table == "meta":
            bounded_loads(row[1])
            return row[0] != "schema_version"  # the new journal has its own
        if table == "records":
            return load_record(row[2])["id"] == row[0]
        elif table == "failures":
            bounded_loads(row[3])
        elif table == "reviews" and row[2] is not None:
            bounded_loads(row[2])
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    return True


def _readable_rows(db: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> Iterator[tuple]:
    """Rows in rowid order, stepping over damaged pages: batches while they read, then one row at a
    time, and past a row that cannot be read by a search for the next readable rowid."""
    select = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
    last, size = -_ROWID_MAX - 1, _BATCH
    while True:
        try:
            batch = db.execute(select, (last, size)).fetchall()
        except sqlite3.DatabaseError:
            if size > 1:
                size = 1
                continue
            nxt = _next_readable(db, table, last)
            if nxt is None:
                return
            last, size = nxt, 1
            continue
        if not batch:
            return
        for row in batch:
            yield tuple(row[1:])
        last, size = batch[-1][0], _BATCH


def _readable(db: sqlite3.Connection, table: str, after: int) -> bool:
    try:
        db.execute(f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1", (after,)).fetchall()
        return True
    except sqlite3.DatabaseError:
        return False


def _next_readable(db: sqlite3.Connection, table: str, bad: int) -> int | None:
    """The smallest ``after`` > ``bad`` from which rows read again (doubling steps, then bisection)."""
    step, good = 1, None
    while bad + step < _ROWID_MAX:
        if _readable(db, table, bad + step):
            good = bad + step
            break
        bad, step = bad + step, step * 2
    if good is None:
        return None
    while good - bad > 1:
        mid = (bad + good) // 2
        if _readable(db, table, mid):
            good = mid
        else:
            bad = mid
    return good
