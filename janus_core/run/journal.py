"""The run journal: SQLite in WAL mode next to the output.

It holds a content-addressed request cache (so a rerun never pays twice for a request), every
finished record (so a rerun never writes one twice), and a failure ledger with a reason for each
failure. The dataset file is rebuilt from it, so the two always agree.

Durability: WAL mode with ``synchronous=NORMAL``. A commit is in the WAL file (the OS has it) when it
returns, so it survives a crash of the process; SQLite fsyncs the WAL at each checkpoint, not at each
commit, so a power loss may lose the last commits before a checkpoint (never corrupts the file).
The engine commits finished records in groups (``add_records``: one transaction per batch, at most
a few milliseconds apart), with the failures of the same window and the paid replies those failures
came from, and counts, writes and derives from a record or a failure only after its group is
committed; a process killed in between loses at most that window's replies, which a rerun requests
again, and nothing it counted or wrote.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from janus_core.run.record_rows import MAX_ROW_CHARS, bounded_loads, load_record
from janus_core.run.staging import remove_stale, staged_file
from janus_core.run.tool_requests import restored_extra, stored_extra
from janus_core.sdk import codec
from janus_core.sdk.contracts import Completion
from janus_core.sdk.credentials import scrub
from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record, now, record_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY, text TEXT NOT NULL, model TEXT, finish_reason TEXT,
    tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0, created_at TEXT NOT NULL, extra TEXT);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, job_key TEXT UNIQUE NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (
    job_key TEXT PRIMARY KEY, reason TEXT NOT NULL, detail TEXT NOT NULL, job TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reviews (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, messages TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    local_id TEXT PRIMARY KEY, backend TEXT NOT NULL, batch_id TEXT, state TEXT NOT NULL,
    keys TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
"""

#: A reviewer's decisions on a record; ``edited`` records are kept with the reviewer's messages.
REVIEW_STATES = ("kept", "discarded", "edited")

#: The journal layout this version writes. A journal without a ``schema_version`` meta key was
#: written before versions existed (version 1) and is migrated when opened.
SCHEMA_VERSION = 4
#: ``PRAGMA application_id`` of a Janus journal ("JNUS"), so other tools can tell what the file is.
APPLICATION_ID = 0x4A4E5553
#: Tables every Janus journal has had since version 1.
CORE_TABLES = frozenset({"meta", "requests", "records", "failures"})
SQLITE_MAGIC = b"SQLite format 3\x00"


class KeyFilter:
    """The keys a fresh journal has written, as a fixed-size bit set (1 MiB, whatever the run's
    length): ``key in filter`` is never False for an added key; a false positive (about 2 % at
    150,000 keys) costs one database look-up, never a wrong answer, since the journal asks the
    database then."""

    BITS = 1 << 23

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def add(self, key: str) -> None:
        bit = hash(key) & (self.BITS - 1)
        self._bits[bit >> 3] |= 1 << (bit & 7)

    def __contains__(self, key: str) -> bool:
        bit = hash(key) & (self.BITS - 1)
        return bool(self._bits[bit >> 3] & (1 << (bit & 7)))


class JournalError(JanusError):
    """A journal that cannot be used as it is. ``kind``: ``damaged`` (unreadable or failing its
    integrity check), ``foreign`` (not a Janus journal), ``newer`` (from a newer Janus) or
    ``unwritable`` (sound, but the disk is full or read-only)."""

    def __init__(self, message: str, kind: str = "damaged"):  # or "empty": 0 bytes beside records
        super().__init__(message)
        self.kind = kind


class BadRow(JournalError):
    """A row of the journal that is not what its table holds (a record that is not a JSON object of
    the record's shape, too large or too deeply nested): named by journal, table and rowid."""

    def __init__(self, path: Path, table: str, rowid: int, problem: str):
        out = output_of(path)
        super().__init__(f"{path}: row {rowid} of its {table} table is not a record ({problem}); nothing was "
                         f"changed. 'janus doctor {out}' lists such rows, and 'janus doctor {out} --repair' sets "
                         f"them aside (into {bad_rows_path(path).name}) and rewrites the output without them",
                         "bad-row")
        self.path, self.table, self.rowid, self.problem = path, table, rowid, problem


def bad_rows_path(path: Path) -> Path:
    """Where ``doctor --repair`` keeps the journal rows it set aside: ``...journal.sqlite.bad-rows.jsonl``."""
    return path.with_name(path.name + ".bad-rows.jsonl")


#: Each record row as the readers take it: its rowid, its id, its data unless over the size limit,
#: and its length (what is over the limit is never loaded into Python)
RECORD_ROWS = (f"SELECT seq, job_key, id, CASE WHEN length(CAST(data AS BLOB)) <= {MAX_ROW_CHARS} THEN data END, "
               "length(CAST(data AS BLOB)) FROM records")


def checked_record(rid: Any, data: Any, length: int) -> dict[str, Any]:
    """A record row's data, checked (ValueError says what is wrong)."""
    if data is None:
        raise ValueError(f"it is {length:,} bytes long, over the limit of {MAX_ROW_CHARS:,}")
    if not isinstance(data, str):
        raise ValueError(f"it holds {type(data).__name__}, not JSON text")
    record = load_record(data)
    if record["id"] != rid:
        raise ValueError(f"its data has the id {str(record['id'])[:40]!r}, its row {str(rid)[:40]!r}")
    return record


def journal_path(out: Path) -> Path:
    """``out/data.jsonl`` -> ``out/data.jsonl.journal.sqlite``."""
    return out.with_name(out.name + ".journal.sqlite")


def journal_files(path: Path) -> list[Path]:
    """The journal and the WAL and shared-memory files SQLite keeps beside it."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """Version 1 (before versions): the same tables; mark the file as a Janus journal."""
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _v2_to_v3(db: sqlite3.Connection) -> None:
    """Version 3 adds the ``batches`` table (provider batch jobs, ``--batch``), made by SCHEMA."""


def _v3_to_v4(db: sqlite3.Connection) -> None:
    """Version 4 keeps a cached reply's tool calls and reasoning (JSON) in ``requests.extra``."""
    if "extra" not in {row[1] for row in db.execute("PRAGMA table_info(requests)")}:
        db.execute("ALTER TABLE requests ADD COLUMN extra TEXT")


#: version -> the step that brings a journal of that version to the next one
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


def _doctor_hint(path: Path) -> str:
    return f"nothing was changed; 'janus doctor {output_of(path)}' checks it and '--repair' salvages what it can"


def inspect_journal(db: sqlite3.Connection, path: Path) -> int | None:
    """Check an open journal without writing to it; its schema version, or None for an empty file.

    Raises JournalError if it is damaged (``PRAGMA quick_check``), not a Janus journal, or newer
    than this version of Janus can read.
    """
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check(5)").fetchall()]
        if problems != ["ok"]:
            raise JournalError(f"{path} is damaged ({'; '.join(problems)}); {_doctor_hint(path)}")
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if not tables:
            if app_id not in (0, APPLICATION_ID):
                raise JournalError(f"{path} is not a Janus journal (application id {app_id:#x}); {_doctor_hint(path)}",
                                   "foreign")
            return None
        if app_id not in (0, APPLICATION_ID) or not tables >= CORE_TABLES:
            raise JournalError(f"{path} is not a Janus journal (tables: {', '.join(sorted(tables))}); "
                               f"{_doctor_hint(path)}", "foreign")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path} cannot be read as a journal ({exc}); {_doctor_hint(path)}") from None
    try:
        version = 1 if row is None else int(json.loads(row[0]))
    except (ValueError, TypeError):
        raise JournalError(f"{path} has a schema version that is not a number ({row[0]!r}); "
                           f"{_doctor_hint(path)}") from None
    if version > SCHEMA_VERSION:
        raise JournalError(f"{path} was written by a newer Janus (journal version {version}, this one reads up "
                           f"to {SCHEMA_VERSION}); upgrade Janus to continue it", "newer")
    return version


def output_of(path: Path) -> Path:
    """The output a journal belongs to: ``data.jsonl.journal.sqlite`` -> ``data.jsonl``."""
    return path.with_name(path.name.removesuffix(".journal.sqlite"))


def has_content(path: Path) -> bool:
    """Whether a file exists and holds more than blank space."""
    try:
        with open(path, "rb") as f:
            return any(chunk.strip() for chunk in iter(lambda: f.read(1 << 16), b""))
    except (FileNotFoundError, IsADirectoryError):
        return False


def _refuse_empty_beside_records(path: Path) -> None:
    """A 0-byte journal beside an output that holds records lost them: opening it would make it a new,
    empty journal (and a run would pay for every request again)."""
    try:
        empty = path.stat().st_size == 0
    except FileNotFoundError:
        return
    out = output_of(path)
    if empty and out != path and has_content(out):
        raise JournalError(f"{out} holds records but its journal {path.name} is empty (0 bytes); continuing would "
                           f"pay for every request again, so nothing was changed. 'janus doctor {out}' checks "
                           "both, '--repair' brings the records back into the journal; --overwrite starts over",
                           "empty")


def check_file(path: Path) -> None:
    """Refuse a non-empty file that does not even start like a SQLite database."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise JournalError(f"{path} cannot be read ({exc.strerror}); {_doctor_hint(path)}") from None
    if head and head != SQLITE_MAGIC:
        raise JournalError(f"{path} is not a SQLite journal (it starts with {head[:8]!r}); {_doctor_hint(path)}")


class Journal:
    """One run's durable state. Every write is committed before it returns."""

    def __init__(self, path: Path):
        """Open (or create) the journal at ``path``, checked first: a damaged, foreign or newer
        journal raises JournalError before anything is written to it. Older versions are migrated."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_file(self.path)
        _refuse_empty_beside_records(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._depth = 0  # open transaction() blocks; inner ones are savepoints
        try:
            version = inspect_journal(self.db, self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # durable across a crash of the process
            self._upgrade(version)
        except JournalError:
            self.db.close()
            raise
        except sqlite3.OperationalError as exc:  # checked and sound, but cannot be written (disk full, read-only)
            self.db.close()
            raise JournalError(f"{self.path} cannot be written ({exc}); nothing was changed", "unwritable") from None
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise JournalError(f"{self.path} cannot be opened ({exc}); {_doctor_hint(self.path)}") from None
        # A journal without records, failures or cached requests needs no look-ups per job.
        self.fresh = not any(self.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                             for table in ("records", "failures", "requests"))
        # what a fresh run has written: its look-ups go to the database only for these keys
        self._written = KeyFilter()

    def _upgrade(self, version: int | None) -> None:
        """Create the tables of a new journal, or migrate an older one, in one transaction."""
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    self.db.execute(stmt)
            if version is None:
                self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            else:
                for step in range(version, SCHEMA_VERSION):
                    MIGRATIONS[step](self.db)
            self.set_meta("schema_version", SCHEMA_VERSION)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any error): all of it is written, or none.
        Inside another transaction it is a savepoint: an error undoes this block's writes only."""
        outer = self._depth == 0
        name = f"sp{self._depth}"
        self.db.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self.db.execute("ROLLBACK" if outer else f"ROLLBACK TO {name}")
            if not outer:
                self.db.execute(f"RELEASE {name}")
            raise
        self._depth -= 1
        self.db.execute("COMMIT" if outer else f"RELEASE {name}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    @contextmanager
    def beside(cls, out: Path) -> Iterator[Journal | None]:
        """``with Journal.beside(out) as journal``: the journal of the output ``out``, checked as
        ``Journal`` checks it and closed on leaving, or None when ``out`` has none (nothing is created)."""
        path = journal_path(Path(out))
        if not path.exists():
            yield None
            return
        with cls(path) as journal:
            yield journal

    # --- meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return bounded_loads(row[0])
        except ValueError as exc:
            raise JournalError(f"{self.path}: its meta value {key!r} is unreadable ({exc}); "
                               f"{_doctor_hint(self.path)}") from None

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # --- request cache -------------------------------------------------------------------------

    def cached(self, key: str) -> tuple[Completion, float] | None:
        if self.fresh and f"q|{key}" not in self._written:
            return None
        row = self.db.execute("SELECT text, model, finish_reason, tokens_in, tokens_out, cost, extra FROM requests "
                              "WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        extra = restored_extra(row[6])
        if extra is None:  # damaged: asked for again
            return None
        return Completion(text=row[0], model=row[1], finish_reason=row[2], tokens_in=row[3],
                          tokens_out=row[4], **extra), row[5]

    def cache(self, key: str, completion: Completion, cost: float) -> None:
        """Keep a paid reply (its tool calls and reasoning too) under its request key."""
        self._written.add(f"q|{key}")
        self.db.execute("INSERT OR REPLACE INTO requests (key, text, model, finish_reason, tokens_in, tokens_out, "
                        "cost, created_at, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (key, completion.text, completion.model, completion.finish_reason,
                         completion.tokens_in, completion.tokens_out, cost, now(), stored_extra(completion)))

    def cached_requests(self) -> Iterator[tuple[str, Completion, float]]:
        """Every cached reply: (request key, completion, cost)."""
        rows = self.db.execute("SELECT key, text, model, finish_reason, tokens_in, tokens_out, cost, extra "
                               "FROM requests")
        for key, text, model, finish, tokens_in, tokens_out, cost, extra in rows:
            restored = restored_extra(extra)
            if restored is None:
                continue
            yield key, Completion(text=text, model=model, finish_reason=finish, tokens_in=tokens_in,
                                  tokens_out=tokens_out, **restored), cost

    # --- records -------------------------------------------------------------------------------

    def record_for(self, job_key: str, seed: int = 0) -> Record | None:
        """The record a job made (``seed``: the run's, which its record's id depends on), or None."""
        if self.fresh and f"r|{job_key}" not in self._written:
            return None
        row = self.db.execute(f"{RECORD_ROWS} WHERE job_key = ?", (job_key,)).fetchone()
        if row is None:  # a record brought back from the output file by 'janus doctor --repair'
            row = self.db.execute(f"{RECORD_ROWS} WHERE id = ? AND job_key LIKE 'import|%'",
                                  (record_id(job_key, seed),)).fetchone()
        return None if row is None else Record.from_dict(self._checked(row))

    def add_record(self, job_key: str, record: Record) -> bool:
        """Store a finished record (and clear any earlier failure of its job); False if already there."""
        data = record.to_json()
        if self.fresh and f"f|{job_key}" not in self._written:
            self._written.add(f"r|{job_key}")
            cur = self.db.execute("INSERT OR IGNORE INTO records (id, job_key, data) VALUES (?, ?, ?)",
                                  (record.id, job_key, data))
            return cur.rowcount == 1
        self._written.add(f"r|{job_key}")
        with self.transaction():
            cur = self.db.execute("INSERT OR IGNORE INTO records (id, job_key, data) VALUES (?, ?, ?)",
                                  (record.id, job_key, data))
            self.db.execute("DELETE FROM failures WHERE job_key = ?", (job_key,))
        return cur.rowcount == 1

    def add_records(self, items: list[tuple[str, Record]],
                    failures: Iterable[tuple[str, str, str, dict[str, Any]]] = (),
                    replies: Iterable[tuple[str, tuple[Completion, float]]] = (),
                    ) -> tuple[list[bool], sqlite3.Error | None]:
        """Store finished records in one transaction (group commit), with ``failures`` (job key,
        reason, detail, job: ``add_failure``) and the ``replies`` those failures came from (request
        key, (completion, cost): ``cache``): for each record, whether it was new (``add_record``).
        It stops at the first record that cannot be stored and commits what came before it; that
        error is returned (the flags then cover only the committed records). An error at the commit
        itself, or in storing a failure or a reply, raises, and nothing of the group is stored."""
        replies, failures = list(replies), list(failures)
        try:  # the whole group at once; a savepoint per record only if some record cannot be stored
            with self.transaction():
                self._add_failures_and_replies(failures, replies)
                return [self.add_record(job_key, record) for job_key, record in items], None
        except sqlite3.Error:
            pass
        added: list[bool] = []
        error: sqlite3.Error | None = None
        with self.transaction():
            self._add_failures_and_replies(failures, replies)
            for job_key, record in items:
                try:
                    with self.transaction():
                        added.append(self.add_record(job_key, record))
                except sqlite3.Error as exc:
                    error = exc
                    break
        return added, error

    def _add_failures_and_replies(self, failures: list[tuple[str, str, str, dict[str, Any]]],
                                  replies: list[tuple[str, tuple[Completion, float]]]) -> None:
        for key, (completion, cost) in replies:
            self.cache(key, completion, cost)
        for job_key, reason, detail, job in failures:
            self.add_failure(job_key, reason, detail, job)

    def _checked(self, row: tuple) -> dict[str, Any]:
        rowid, _, rid, data, length = row
        try:
            return checked_record(rid, data, length)
        except ValueError as exc:
            raise BadRow(self.path, "records", rowid, str(exc)) from None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record's data in the order they were stored, each checked: a bad row raises BadRow."""
        for _, data in self.entries():
            yield data

    def entries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(job key, record data) per record, in the order they were stored, each checked: a bad row
        raises BadRow, naming the journal and the row."""
        for row in self.db.execute(RECORD_ROWS + " ORDER BY seq"):
            yield row[1], self._checked(row)

    def check_records(self) -> None:
        """Read every record row and check it: BadRow for the first that is not a record."""
        for _ in self.entries():
            pass

    def bad_records(self) -> Iterator[tuple[int, str]]:
        """(rowid, what is wrong) per record row that is not a record."""
        yield from bad_record_rows(self.db)

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
        return [{"job_key": k, "reason": r, "detail": scrub(d), "job": _job(j), "created_at": c}
                for k, r, d, j, c in rows]

    def failure_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT reason, count(*) FROM failures GROUP BY reason").fetchall())

    # --- provider batches (--batch) ---------------------------------------------------------------

    def add_batch(self, local_id: str, backend: str, keys: list[str]) -> None:
        """A batch about to be submitted: kept before the provider is asked, so a rerun never submits
        its requests again (it finds the batch by ``local_id``, which travels in the batch's metadata)."""
        self.db.execute("INSERT INTO batches VALUES (?, ?, NULL, 'submitting', ?, ?, ?)",
                        (local_id, backend, json.dumps(keys), now(), now()))

    def set_batch(self, local_id: str, state: str, batch_id: str | None = None) -> None:
        self.db.execute("UPDATE batches SET state = ?, batch_id = coalesce(?, batch_id), updated_at = ? "
                        "WHERE local_id = ?", (state, batch_id, now(), local_id))

    def open_batches(self, backend: str) -> list[dict[str, Any]]:
        """Batches of ``backend`` submitted (or being submitted) and not yet read back."""
        rows = self.db.execute("SELECT local_id, batch_id, state, keys FROM batches WHERE backend = ? AND state "
                               "IN ('submitting', 'submitted') ORDER BY created_at", (backend,))
        return [{"local_id": lid, "batch_id": bid, "state": state, "keys": json.loads(keys)}
                for lid, bid, state, keys in rows]

    def batch_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM batches GROUP BY state").fetchall())

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
        """Rewrite ``out`` from the journal; returns the number of records. Every row is checked first
        and written to a ``.partial`` file beside ``out`` (fsynced, then renamed over it): a bad row
        raises BadRow and leaves ``out`` as it was. Stale ``.partial`` files of ``out`` go first."""
        remove_stale(out)
        count = 0
        with staged_file(out) as f:
            for row in self.db.execute(RECORD_ROWS + " ORDER BY seq"):
                record, text = self._checked(row), row[3]
                f.write((text if "\n" not in text and "\r" not in text else codec.dumps(record)) + "\n")
                count += 1
        return count


def _job(text: Any) -> dict[str, Any]:
    """A failure's job (what the ledger shows of it); {} for one that is not a JSON object."""
    try:
        job = bounded_loads(text)
    except ValueError:
        return {}
    return job if isinstance(job, dict) else {}


def bad_record_rows(db: sqlite3.Connection) -> Iterator[tuple[int, str]]:
    """(rowid, what is wrong) per row of a journal's records table that is not a record."""
    for row in db.execute(RECORD_ROWS + " ORDER BY seq"):
        try:
            checked_record(*row[2:])
        except ValueError as exc:
            yield row[0], str(exc)


def _review(state: str, messages: str | None, updated_at: str) -> dict[str, Any]:
    return {"state": state, "messages": None if messages is None else json.loads(messages), "updated_at": updated_at}
