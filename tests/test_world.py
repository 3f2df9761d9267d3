"""janus world: a valid, deterministic SQLite world for every bundled sample and corpus schema."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES
from janus_plugins.world import build_world, state_hash
from janus_plugins.world.schema import build_schema, choices_of

CORPUS = ROOT.parent / "shared" / "corpora" / "sql-corpus"
SPECS = sorted(p.parent for p in SAMPLES.glob("*/setup.yaml"))


def check_world(path: Path) -> dict[str, int]:
    """Every key holds, the file is sound, every table has rows; the rows per table."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name != '__janus_world__'")]
        counts = {n: conn.execute(f'SELECT count(*) FROM "{n.replace(chr(34), chr(34) * 2)}"').fetchone()[0]
                  for n in names}
        assert all(counts.values()), counts
        return counts
    finally:
        conn.close()


@pytest.mark.parametrize("spec", SPECS, ids=[p.name for p in SPECS])
def test_every_sample_builds_a_valid_world(cli, spec, tmp_path):
    out = tmp_path / "world.sqlite"
    result = cli("world", spec, "--rows", 8, "--out", out)
    assert result.exit_code == 0, result.output
    assert "keys:" in result.output and "tools:" in result.output
    counts = check_world(out)
    assert len(counts) >= 2


CASES = sorted(p.parent.name for p in CORPUS.glob("*/schema.sql")) if CORPUS.is_dir() else ["-"]


@pytest.mark.parametrize("case", CASES)
def test_every_corpus_schema_builds_a_valid_world(cli, case, tmp_path):
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent: the corpus lives beside the repository, never in it")
    out = tmp_path / "world.sqlite"
    result = cli("world", CORPUS / case / "schema.sql", "--rows", 4, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    counts = check_world(out)
    assert summary["tables"] == counts
    assert summary["tools"]


def test_the_sql_sample_keeps_its_keys(tmp_path):
    summary = build_world(SAMPLES / "sql_schema", rows=10, seed=3, out=tmp_path / "w.sqlite")
    conn = sqlite3.connect(tmp_path / "w.sqlite")
    ddl = {n: s for n, s in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
    # the foreign key the schema names (lent_by), not a new column; a join table for book_author
    assert 'FOREIGN KEY ("lent_by") REFERENCES "librarian" ("id")' in ddl["loan"]
    assert 'PRIMARY KEY ("book_isbn", "author_id")' in ddl["book_author"]
    assert 'UNIQUE ("card_number")' in ddl["member"]
    assert summary.keys == {"primary": 8, "unique": 3, "foreign": 9}
    # values fit the notes: the choices a comment lists
    assert {r[0] for r in conn.execute("SELECT condition FROM copy")} <= {"good", "worn", "damaged"}
    assert all("@" in r[0] for r in conn.execute("SELECT email FROM member"))
    assert all(len(r[0]) <= 10 for r in conn.execute("SELECT card_number FROM member"))


def test_mermaid_links_become_foreign_keys_and_a_join_table(tmp_path):
    build_world(SAMPLES / "clinic", rows=6, out=tmp_path / "w.sqlite")
    conn = sqlite3.connect(tmp_path / "w.sqlite")
    ddl = {n: s for n, s in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")}
    assert 'FOREIGN KEY ("patient_id") REFERENCES "PATIENT" ("id")' in ddl["APPOINTMENT"]
    assert 'UNIQUE ("appointment_slot")' in ddl["INVOICE"]  # one-to-one
    assert "PATIENT_DOCTOR" in ddl
    assert {r[0] for r in conn.execute("SELECT status FROM APPOINTMENT")} <= {"booked", "moved", "cancelled"}


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    a = build_world(SAMPLES / "sql_schema", rows=12, seed=7, out=tmp_path / "a.sqlite")
    b = build_world(SAMPLES / "sql_schema", rows=12, seed=7, out=tmp_path / "b.sqlite")
    c = build_world(SAMPLES / "sql_schema", rows=12, seed=8, out=tmp_path / "c.sqlite")
    assert a.hash == b.hash != c.hash
    with sqlite3.connect(tmp_path / "b.sqlite") as conn:
        assert state_hash(conn) == a.hash


def test_hostile_names_are_quoted_and_cycles_close(tmp_path):
    diagram = tmp_path / "diagram.mermaid"
    diagram.write_text('erDiagram\n    "Robert\'); DROP TABLE x;--" {\n        int id PK\n        string na-me\n    }\n'
                       '    A {\n        int id PK\n    }\n    B {\n        int id PK\n    }\n'
                       '    A ||--o{ B : has\n    B ||--o{ A : holds\n    A ||--o{ A : manages\n'
                       '    A ||--o{ "Robert\'); DROP TABLE x;--" : owns\n', encoding="utf-8")
    summary = build_world(diagram, rows=5, out=tmp_path / "w.sqlite")
    counts = check_world(tmp_path / "w.sqlite")
    assert "Robert'); DROP TABLE x;--" in counts and set(summary.rows) == set(counts)


def test_choices_come_from_closed_lists_only():
    assert choices_of("day or night") == ("day", "night")
    assert choices_of("booked, moved or cancelled") == ("booked", "moved", "cancelled")
    assert choices_of("fiction, history, children, ...") == ()
    assert choices_of("a late fee of 20 cents a day starts the day after") == ()


def test_a_file_that_is_not_a_world_is_never_replaced(cli, tmp_path):
    out = tmp_path / "precious.sqlite"
    sqlite3.connect(out).execute("CREATE TABLE mine (x)").connection.commit()
    result = cli("world", SAMPLES / "clinic", "--out", out)
    assert result.exit_code == 1 and "not a world file" in result.output
    assert "Traceback" not in result.output
    assert sqlite3.connect(out).execute("SELECT name FROM sqlite_master").fetchall() == [("mine",)]


def test_setup_tools_names_are_checked_where_written(cli, tmp_path):
    import shutil

    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "clinic", spec)
    with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
        f.write("tools:\n  deny: [delete_*]\n  describe:\n    get_patinet: Look a patient up.\n")
    result = cli("world", spec, "--out", tmp_path / "w.sqlite")
    assert result.exit_code == 1
    assert "setup.yaml:" in result.output and "get_patinet" in result.output and "get_patient" in result.output
    (spec / "setup.yaml").write_text((spec / "setup.yaml").read_text().replace("get_patinet", "get_patient"))
    result = cli("world", spec, "--out", tmp_path / "w.sqlite", "--tools")
    assert result.exit_code == 0, result.output
    assert "get_patient: Look a patient up." in result.output and "delete_patient" not in result.output


def test_schema_names_are_valid_function_names():
    from janus_plugins.world.tools import tools_for

    from janus_core import load_spec

    schema = build_schema(load_spec(SAMPLES / "sql_schema").diagram)
    names = [t.name for t in tools_for(schema)]
    assert len(names) == len(set(names))
    assert all(__import__("re").fullmatch(r"[a-zA-Z0-9_-]{1,64}", n) for n in names)
