"""A crash loses nothing: a bad journal stops a run before it touches anything, write errors stop a
run cleanly, a broken worker ends the run with a message, and one run at a time writes an output."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl

from janus_core.run.journal import Journal, journal_path

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"
SPEC = SAMPLES / "marriage_counsel"  # 9 records with the schema filler

# A backend plugin whose process can be made to fail in chosen ways (through environment variables):
# JANUS_TEST_FULL_AFTER=N  the journal has room for N records, then reports a full disk (sqlite3.OperationalError)
# JANUS_TEST_ENOSPC_AFTER=N  the JSONL file reports ENOSPC after N records
# JANUS_TEST_BROKEN_LEDGER=1  every request fails and recording the failure raises RuntimeError
# JANUS_TEST_DELAY=S  each request takes S seconds
FAULTY = '''
import asyncio, errno, json, os, sqlite3
from janus_core import hookimpl
from janus_core.sdk.errors import BackendError
from janus_core.sdk.contracts import Backend, Completion
from janus_core.run.journal import Journal

def _after(name, original, exc):
    limit = int(os.environ[name])
    calls = [0]
    def patched(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] > limit:
            raise exc
        return original(self, *args, **kwargs)
    return patched

if os.environ.get("JANUS_TEST_FULL_AFTER"):  # room for N records: writing the same one again fits
    _room, _stored, _add_record = int(os.environ["JANUS_TEST_FULL_AFTER"]), set(), Journal.add_record
    def add_record(self, job_key, record):
        if job_key not in _stored and len(_stored) >= _room:
            raise sqlite3.OperationalError("database or disk is full")
        _stored.add(job_key)
        return _add_record(self, job_key, record)
    Journal.add_record = add_record
if os.environ.get("JANUS_TEST_ENOSPC_AFTER"):
    import janus_plugins.sinks
    janus_plugins.sinks.JsonlSink.write = _after("JANUS_TEST_ENOSPC_AFTER", janus_plugins.sinks.JsonlSink.write,
                                         OSError(errno.ENOSPC, "No space left on device"))
if os.environ.get("JANUS_TEST_BROKEN_LEDGER"):
    def add_failure(self, *args, **kwargs):
        raise RuntimeError("the ledger broke")
    Journal.add_failure = add_failure

class Faulty(Backend):
    name = "faulty"
    async def complete(self, request):
        await asyncio.sleep(float(os.environ.get("JANUS_TEST_DELAY", "0")))
        if os.environ.get("JANUS_TEST_BROKEN_LEDGER"):
            raise BackendError("bad request", status=400)
        turn = {"user": "Can we talk?", "assistant": "Yes, tonight."}
        return Completion(text=json.dumps({"turns": [turn]}), model="faulty", tokens_in=10, tokens_out=5)

@hookimpl
def register_backends(register):
    register(Faulty)
'''


def generate(cli, out, *args):
    return cli("--plugin", FILLER, "generate", SPEC, "--backend", "schema-filler", "--out", out, "-q", "--no-filters",
               *args)


def janus(*args, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "janus_core.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def faulty_cmd(plugin: Path, out: Path, *extra: str) -> list[str]:
    return ["--plugin", str(plugin), "generate", str(SPEC), "--backend", "faulty", "--out", str(out), "-q",
            "--no-filters", "--concurrency", "2", *extra]


@pytest.fixture
def faulty(tmp_path) -> Path:
    plugin = tmp_path / "faulty.py"
    plugin.write_text(FAULTY)
    return plugin


def damage(path: Path) -> None:
    """Overwrite the middle pages of a (checkpointed) SQLite file with garbage."""
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) >= 4 * page, len(data)
    for start in range(2 * page, len(data) - page, page):
        data[start + 8:start + page - 8] = bytes((i * 7 + 13) % 256 for i in range(page - 16))
    path.write_bytes(bytes(data))


# --- 4. the journal is checked before anything is touched ----------------------------------------

def test_damaged_journal_stops_the_run_and_keeps_the_output(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, out).exit_code == 0
    before = out.read_bytes()
    assert len(read_jsonl(out)) == 9
    damage(journal_path(out))
    result = generate(cli, out)
    assert result.exit_code == 1
    assert "damaged" in result.stderr or "cannot be read" in result.stderr, result.stderr
    assert "janus doctor" in result.stderr
    assert "continuing" not in result.stderr
    assert out.read_bytes() == before  # the intact dataset was not unlinked or rewritten


def test_doctor_salvages_a_damaged_journal_and_the_rerun_pays_nothing(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, out).exit_code == 0
    ids = {r["id"] for r in read_jsonl(out)}
    damage(journal_path(out))
    damaged_bytes = journal_path(out).read_bytes()
    check = cli("doctor", out)
    assert check.exit_code == 1 and "--repair" in check.output
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 0, fixed.output
    aside = [p for p in tmp_path.glob("o.jsonl.journal.sqlite.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and aside[0].read_bytes() == damaged_bytes  # kept as it was
    assert "moved the damaged journal aside" in fixed.output and "rewrote" in fixed.output
    assert {r["id"] for r in read_jsonl(out)} == ids
    assert cli("doctor", out).exit_code == 0
    rerun = generate(cli, out)
    assert rerun.exit_code == 0, rerun.stderr
    assert "requests 0 " in rerun.stderr and "9 from before" in rerun.stderr
    assert {r["id"] for r in read_jsonl(out)} == ids


def test_emptied_journal_beside_records_is_refused_then_repaired(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, out).exit_code == 0
    before = out.read_bytes()
    journal_path(out).write_bytes(b"")  # truncated to 0 bytes
    result = generate(cli, out)
    assert result.exit_code == 1
    assert "janus doctor" in result.stderr and "pay for every request again" in result.stderr
    assert out.read_bytes() == before
    exported = cli("export", out, "--to", tmp_path / "e.jsonl")  # no silent empty export either
    assert exported.exit_code == 1 and "is empty (0 bytes)" in exported.stderr
    assert journal_path(out).read_bytes() == b""
    check = cli("doctor", out)
    assert check.exit_code == 1 and "empty (0 bytes)" in check.output
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 0 and "brought back 9 records" in fixed.output
    rerun = generate(cli, out)
    assert rerun.exit_code == 0, rerun.stderr
    assert "requests 0 " in rerun.stderr  # nothing paid again
    assert len(read_jsonl(out)) == 9


def test_replaced_journal_is_refused_and_doctor_brings_the_records_back(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, out).exit_code == 0
    for p in tmp_path.glob("o.jsonl.journal.sqlite*"):
        if not p.name.endswith(".lock"):
            p.unlink()
    Journal(journal_path(out)).close()  # a new, empty journal where the run's was
    result = generate(cli, out)
    assert result.exit_code == 1 and "has none" in result.stderr and "janus doctor" in result.stderr
    assert len(read_jsonl(out)) == 9
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 0 and "brought back 9 records" in fixed.output
    rerun = generate(cli, out)
    assert rerun.exit_code == 0 and "requests 0 " in rerun.stderr


def test_salvage_steps_over_damaged_pages(cli, tmp_path):
    from janus_core.sdk.records import Record

    out = tmp_path / "o.jsonl"
    journal = Journal(journal_path(out))
    with journal.transaction():
        for n in range(3000):
            record = Record(messages=[{"role": "user", "content": f"question {n} " + "x" * 200}], id=f"r{n:05d}",
                            seed_id=f"r{n:05d}", parent_id=None, direction="general", walk={}, model="m",
                            prompt_sha256="0" * 64, output_type="instruct")
            journal.add_record(f"job{n}", record)
    journal.close()
    data = bytearray(journal_path(out).read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle:middle + 3 * 4096] = b"\xa5" * (3 * 4096)  # three pages in the middle
    journal_path(out).write_bytes(bytes(data))
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 0, fixed.output
    journal = Journal(journal_path(out))
    kept = [r["id"] for r in journal.records()]
    journal.close()
    assert 2500 < len(kept) < 3000  # rows on both sides of the damage, only the damaged pages lost
    assert kept[0] == "r00000" and kept[-1] == "r02999" and kept == sorted(kept)
    assert len(read_jsonl(out)) == len(kept)


def test_foreign_journal_is_refused_and_left_alone(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text('{"x": 1}\n')
    db = sqlite3.connect(journal_path(out))
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    db.commit()
    db.close()
    before = journal_path(out).read_bytes()
    result = generate(cli, out)
    assert result.exit_code == 1 and "not a Janus journal" in result.stderr
    assert journal_path(out).read_bytes() == before and out.read_text() == '{"x": 1}\n'
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 1 and "move it away yourself" in fixed.stderr
    assert journal_path(out).read_bytes() == before


def test_text_file_as_journal_is_refused(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text("")
    journal_path(out).write_text("not a database at all, just text\n" * 200)
    result = generate(cli, out)
    assert result.exit_code == 1 and "not a SQLite journal" in result.stderr
    assert "Traceback" not in result.stderr


def test_unversioned_journal_is_migrated_and_a_newer_one_refused(cli, tmp_path):
    from janus_core.run.journal import APPLICATION_ID, SCHEMA_VERSION, JournalError

    out = tmp_path / "o.jsonl"
    assert generate(cli, out).exit_code == 0
    path = journal_path(out)
    db = sqlite3.connect(path)  # as the journals written before versions existed look
    db.execute("DELETE FROM meta WHERE key = 'schema_version'")
    db.execute("DROP TABLE reviews")
    db.execute("PRAGMA application_id = 0")
    db.commit()
    db.close()
    journal = Journal(path)
    assert journal.get_meta("schema_version") == SCHEMA_VERSION
    assert journal.db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert journal.count_records() == 9 and journal.reviews() == {}
    journal.set_meta("schema_version", SCHEMA_VERSION + 1)
    journal.close()
    with pytest.raises(JournalError, match="newer Janus") as info:
        Journal(path)
    assert info.value.kind == "newer"
    result = generate(cli, out)
    assert result.exit_code == 1 and "newer Janus" in result.stderr


def test_doctor_rewrites_a_damaged_output_from_a_good_journal(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, out).exit_code == 0
    good = read_jsonl(out)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:4]) + "\n" + lines[4][:30])  # lost records and a torn line
    check = cli("doctor", out)
    assert check.exit_code == 1 and "unreadable lines 5" in check.output
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 0 and "rewrote" in fixed.output and "9 records" in fixed.output
    assert read_jsonl(out) == good


# --- 5. write errors stop the run cleanly; a broken worker ends the run ----------------------------

def test_full_disk_in_the_journal_stops_the_run_and_a_rerun_continues(faulty, tmp_path):
    out = tmp_path / "o.jsonl"
    started = time.monotonic()
    stopped = janus(*faulty_cmd(faulty, out), env={"JANUS_TEST_FULL_AFTER": "4"})
    assert time.monotonic() - started < 30
    assert stopped.returncode != 0
    assert "cannot write the journal" in stopped.stderr and "disk is full" in stopped.stderr
    assert "rerun the same command" in stopped.stderr and "Traceback" not in stopped.stderr
    journal = Journal(journal_path(out))
    kept = journal.count_records()
    journal.close()
    assert kept == 4
    rerun = janus(*faulty_cmd(faulty, out))
    assert rerun.returncode == 0, rerun.stderr
    assert "4 from before" in rerun.stderr
    assert len(read_jsonl(out)) == 9


def test_full_disk_on_the_output_stops_the_run_and_a_rerun_continues(faulty, tmp_path):
    out = tmp_path / "o.jsonl"
    stopped = janus(*faulty_cmd(faulty, out), env={"JANUS_TEST_ENOSPC_AFTER": "3"})
    assert stopped.returncode != 0
    assert f"cannot write {out}" in stopped.stderr and "No space left on device" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    rerun = janus(*faulty_cmd(faulty, out))
    assert rerun.returncode == 0, rerun.stderr
    assert "from before" in rerun.stderr  # what reached the journal was kept
    records = read_jsonl(out)
    assert len(records) == 9 and len({r["id"] for r in records}) == 9


def test_an_exception_in_the_failure_path_ends_the_run_with_a_message(faulty, tmp_path):
    out = tmp_path / "o.jsonl"
    started = time.monotonic()
    result = janus(*faulty_cmd(faulty, out), env={"JANUS_TEST_BROKEN_LEDGER": "1"}, timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode != 0
    assert "RuntimeError" in result.stderr and "the ledger broke" in result.stderr
    assert "Traceback" not in result.stderr


# --- 6. one run per output --------------------------------------------------------------------------

def test_second_run_on_the_same_output_fails_at_once_naming_the_first(faulty, tmp_path):
    out = tmp_path / "o.jsonl"
    lock = journal_path(out).with_name(journal_path(out).name + ".lock")
    first = subprocess.Popen([sys.executable, "-m", "janus_core.cli", *faulty_cmd(faulty, out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "JANUS_TEST_DELAY": "60"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
            time.sleep(0.05)
        assert json.loads(lock.read_text())["pid"] == first.pid
        started = time.monotonic()
        second = janus(*faulty_cmd(faulty, out), timeout=30)
        assert time.monotonic() - started < 15
        assert second.returncode == 1
        assert f"pid {first.pid}" in second.stderr and "generate" in second.stderr
        # reading is fine while the run writes; repairing is not
        assert "journal" in janus("doctor", out).stdout
        refused = janus("doctor", out, "--repair")
        assert refused.returncode == 1 and f"pid {first.pid}" in refused.stderr
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()
        first.wait()
    # the lock died with its process: a rerun continues at once
    rerun = janus(*faulty_cmd(faulty, out))
    assert rerun.returncode == 0, rerun.stderr
    assert len(read_jsonl(out)) == 9


def test_a_group_commit_keeps_the_records_before_one_that_cannot_be_stored(tmp_path):
    """``add_records`` stores a group in one transaction; when a record of it cannot be stored, the
    records before it, the group's failures and replies are committed, and the error is returned."""
    from janus_core.sdk.contracts import Completion
    from janus_core.sdk.records import Record

    def record(n: int) -> Record:
        return Record(messages=[{"role": "user", "content": f"question {n}"}], id=f"r{n}", seed_id=f"r{n}",
                      parent_id=None, direction="general", walk={}, model="m", prompt_sha256="0" * 64,
                      output_type="instruct")

    journal = Journal(journal_path(tmp_path / "o.jsonl"))
    journal.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.job_key = 'job2' "
                       "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    reply = (Completion(text="the and of", model="m", finish_reason="stop", tokens_in=1, tokens_out=1), 0.0)
    added, error = journal.add_records([("job1", record(1)), ("job2", record(2)), ("job3", record(3))],
                                       failures=[("job9", "eliminated:stopwords-only", "only stop words", {})],
                                       replies=[("req9", reply)])
    assert added == [True] and isinstance(error, sqlite3.Error) and "refused" in str(error)
    assert [r["id"] for r in journal.records()] == ["r1"]
    assert journal.failure_counts() == {"eliminated:stopwords-only": 1}
    assert journal.cached("req9")[0].text == "the and of"
    # with nothing refused, the whole group goes in at once
    journal.db.execute("DROP TRIGGER refuse")
    added, error = journal.add_records([("job1", record(1)), ("job2", record(2)), ("job3", record(3))])
    assert added == [False, True, True] and error is None
    assert journal.count_records() == 3
    journal.close()
