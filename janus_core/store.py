"""The run journal: SQLite in WAL mode next to the output.

It holds a content-addressed request cache (so a rerun never pays twice for a request), every
finished record (so a rerun never writes one twice), and a failure ledger with a reason for each
failure. The dataset file is rebuilt from it, so the two always agree.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .credentials import scrub
from .interfaces import Completion
from .records import Record, now

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY, text TEXT NOT NULL, model TEXT, finish_reason TEXT,
    tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_key TEXT UNIQUE NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    job_key TEXT PRIMARY KEY, reason TEXT NOT NULL, detail TEXT NOT NULL, job TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, messages TEXT, updated_at TEXT NOT NULL);
"""

#: A reviewer's decisions on a record; ``edited`` records are kept with the reviewer's messages.
REVIEW_STATES = ("kept", "discarded", "edited")


def journal_path(out: Path) -> Path:
    """``out/data.jsonl`` -> ``out/data.jsonl.journal.sqlite``."""
    return out.with_name(out.name + ".journal.sqlite")


class Journal:
    """One run's durable state. Every write is committed before it returns."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable across a crash of the process
        self.db.executescript(SCHEMA)
        # A journal without records, failures or cached requests needs no look-ups per job.
        self.fresh = not any(self.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                             for table in ("records", "failures", "requests"))
        # what a fresh run has written: its look-ups go to the database only for these keys
        self._written: set[str] = set()

    def close(self) -> None:
        self.db.close()

    # --- meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # --- request cache -------------------------------------------------------------------------

    def cached(self, key: str) -> tuple[Completion, float] | None:
        if self.fresh and f"q|{key}" not in self._written:
            return None
        row = self.db.execute("SELECT text, model, finish_reason, tokens_in, tokens_out, cost FROM requests "
                              "WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return Completion(text=row[0], model=row[1], finish_reason=row[2], tokens_in=row[3],
                          tokens_out=row[4]), row[5]

    def cache(self, key: str, completion: Completion, cost: float) -> None:
        self._written.add(f"q|{key}")
        self.db.execute("INSERT OR REPLACE INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, completion.text, completion.model, completion.finish_reason,
                         completion.tokens_in, completion.tokens_out, cost, now()))

    # --- records -------------------------------------------------------------------------------

    def record_for(self, job_key: str) -> Record | None:
        if self.fresh and f"r|{job_key}" not in self._written:
            return None
        row = self.db.execute("SELECT data FROM records WHERE job_key = ?", (job_key,)).fetchone()
        return Record.from_dict(json.loads(row[0])) if row else None

    def add_record(self, job_key: str, record: Record) -> bool:
        """Store a finished record (and clear any earlier failure of its job); False if already there."""
        data = record.to_json()
        if self.fresh and f"f|{job_key}" not in self._written:
            if f"r|{job_key}" in self._written:
                return False
            self._written.add(f"r|{job_key}")
            cur = self.db.execute("INSERT OR IGNORE INTO records (id, job_key, data) VALUES (?, ?, ?)",
                                  (record.id, job_key, data))
            return cur.rowcount == 1
        self._written.add(f"r|{job_key}")
        with self.db:
            cur = self.db.execute("INSERT OR IGNORE INTO records (id, job_key, data) VALUES (?, ?, ?)",
                                  (record.id, job_key, data))
            self.db.execute("DELETE FROM failures WHERE job_key = ?", (job_key,))
        return cur.rowcount == 1

    def records(self) -> Iterator[dict[str, Any]]:
        for (data,) in self.db.execute("SELECT data FROM records ORDER BY seq"):
            yield json.loads(data)

    def count_records(self) -> int:
        return self.db.execute("SELECT count(*) FROM records").fetchone()[0]

    # --- failure ledger ------------------------------------------------------------------------

    def add_failure(self, job_key: str, reason: str, detail: str, job: dict[str, Any]) -> None:
        self._written.add(f"f|{job_key}")
        self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                        (job_key, reason, scrub(detail)[:2000], json.dumps(job), now()))

    def failure_for(self, job_key: str) -> tuple[str, str] | None:
        if self.fresh and f"f|{job_key}" not in self._written:
            return None
        row = self.db.execute("SELECT reason, detail FROM failures WHERE job_key = ?", (job_key,)).fetchone()
        return (row[0], row[1]) if row else None

    def failures(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT job_key, reason, detail, job, created_at FROM failures ORDER BY created_at")
        return [{"job_key": k, "reason": r, "detail": scrub(d), "job": json.loads(j), "created_at": c}
                for k, r, d, j, c in rows]

    def failure_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT reason, count(*) FROM failures GROUP BY reason").fetchall())

    # --- reviews -------------------------------------------------------------------------------

    def set_review(self, record_id: str, state: str | None, messages: list[dict[str, Any]] | None = None) -> None:
        """Record a decision on a record (None clears it); edited messages only with state 'edited'."""
        if state is None:
            self.db.execute("DELETE FROM reviews WHERE id = ?", (record_id,))
            return
        if state not in REVIEW_STATES:
            raise ValueError(f"review state must be one of {', '.join(REVIEW_STATES)}, not {state!r}")
        if (state == "edited") != (messages is not None):
            raise ValueError("edited messages go with the state 'edited', and only with it")
        blob = None if messages is None else json.dumps(messages, ensure_ascii=False)
        self.db.execute("INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?)", (record_id, state, blob, now()))

    def review_for(self, record_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT state, messages, updated_at FROM reviews WHERE id = ?", (record_id,)).fetchone()
        return None if row is None else _review(*row)

    def reviews(self) -> dict[str, dict[str, Any]]:
        """Every decision by record id."""
        return {rid: _review(state, messages, at)
                for rid, state, messages, at in self.db.execute("SELECT id, state, messages, updated_at FROM reviews")}

    # --- export --------------------------------------------------------------------------------

    def export_jsonl(self, out: Path) -> int:
        """Rewrite ``out`` from the journal atomically; returns the number of records."""
        tmp = out.with_name(out.name + ".tmp")
        count = 0
        with tmp.open("w", encoding="utf-8") as f:
            for (data,) in self.db.execute("SELECT data FROM records ORDER BY seq"):
                f.write(data + "\n")
                count += 1
        tmp.replace(out)
        return count


def _review(state: str, messages: str | None, updated_at: str) -> dict[str, Any]:
    return {"state": state, "messages": None if messages is None else json.loads(messages), "updated_at": updated_at}
