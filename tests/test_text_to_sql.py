"""The 'text-to-sql' output type: questions from walks, the SQL executed on the spec's world, kept only
when it runs read-only and its result answers the question; each failure under its own rule.
Stand-in servers on 127.0.0.1 play the model."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from conftest import SAMPLES, fake_secret, has_local_model, read_jsonl, run_janus
from servers import OpenAICompatibleServer, chat_completion

from janus_core.run.journal import Journal, journal_path

SECRET = fake_secret("openai-key")

SPEC = """\
description: A small town library's front desk.
user_role: LIBRARIAN
assistant_role: DATA ASSISTANT
assistant_in_diagram: false
output_type: text-to-sql
seed_directions: [general]
derivational_directions: [sql-aggregate]
limits: {{message_chars: 400}}
{extra}model:
  backend: openai
  name: sql-writer
  options: {{base_url: "{url}"}}
"""
DIAGRAM = """erDiagram
    MEMBER ||--o{ LOAN : borrows
    BOOK ||--o{ LOAN : "is lent in"
    LIBRARIAN ||--o{ LOAN : records
    MEMBER {
        int id PK
        string name
        string city
    }
    BOOK {
        int id PK
        string title
        string genre "fiction, history or science"
    }
    LOAN {
        int id PK
        date due
    }
"""


def write_spec(folder: Path, url: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "setup.yaml").write_text(SPEC.format(url=url, extra=extra))
    (folder / "diagram.mermaid").write_text(DIAGRAM)
    return folder


def first_table(body) -> str:
    """The first table the prompt shows the model (its walk's tables come first)."""
    return re.search(r'CREATE TABLE "(\w+)"', body["messages"][-1]["content"]).group(1)


def answering(make):
    """A stand-in that answers a generation request with ``make(table) -> (question, sql)`` and a
    judge's request with a grade of 4."""
    def reply(body):
        prompt = body["messages"][-1]["content"]
        if prompt.startswith("A user asked a question about a database"):
            return 200, chat_completion(json.dumps({"feedback": "answers it", "score": 4})), {}
        if "Grade the conversation" in prompt:  # the judge filter's own rubrics
            return 200, chat_completion(json.dumps({"feedback": "fine", "score": 4})), {}
        question, sql = make(first_table(body))
        return 200, chat_completion(json.dumps({"question": question, "sql": sql})), {}
    return reply


def good(table):
    return f"How many {table.lower()} records do we have?", f'SELECT count(*) FROM "{table}"'


def run(tmp_path, reply, *args, extra="", kept=True):
    """A run of the stand-in; ``kept``: whether it makes records (a run that makes none exits 1). The
    filters run only where ``extra`` names them."""
    with OpenAICompatibleServer(reply) as server:
        spec = write_spec(tmp_path / "spec", server.base_url, extra)
        out = tmp_path / "o.jsonl"
        flags = [] if "filters:" in extra else ["--no-filters"]
        result = run_janus("generate", spec, "--out", out, *flags, "--d-factor", "0", "-q", "--seed", "7", *args,
                           env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == (0 if kept else 1), result.stderr
    assert "Traceback" not in result.stderr
    records = read_jsonl(out) if out.exists() else []
    with Journal(journal_path(out)) as journal:
        failures = [(f["reason"], f["detail"]) for f in journal.failures()]
    return records, failures, server.requests


def world_file(cache: Path) -> Path:
    (path,) = (cache / "worlds").glob("*.sqlite")
    return path


def test_records_hold_the_schema_question_sql_and_its_result(tmp_path):
    records, failures, asked = run(tmp_path, answering(good))
    assert records and not failures
    for r in records:
        system, user, assistant = r["messages"]
        assert system["role"] == "system" and "CREATE TABLE" in system["content"]
        table = re.search(r'CREATE TABLE "(\w+)"', system["content"]).group(1)
        assert assistant["content"] == f'SELECT count(*) FROM "{table}"'  # plain SQL, no code fence
        meta = r["meta"]
        assert meta["question"] == user["content"] and meta["sql"] == assistant["content"]
        assert meta["schema"] in system["content"]
        assert meta["result"]["columns"] == ["count(*)"] and meta["result"]["row_count"] == 1
        assert meta["result"]["rows"][0][0] > 0
        assert meta["checks"] == {"sql-read-only": True, "sql-runs": True, "sql-answers": True}
    # the model saw the walk's tables, the diagram's note as a comment and a few rows
    prompts = [b["messages"][-1]["content"] for b in asked]
    assert all("A few rows of its tables" in p and "CREATE TABLE" in p for p in prompts)
    books = [p for p in prompts if 'CREATE TABLE "BOOK"' in p]
    assert books and all('"genre" TEXT, -- fiction, history or science' in p for p in books)


@pytest.mark.parametrize(("sql", "rule"), [
    ('SELECT shelf FROM "{t}"', "sql-runs"),  # no such column
    ('DELETE FROM "{t}"', "sql-read-only"),
    ('SELECT count(*) FROM "{t}"; DELETE FROM "{t}"', "sql-read-only"),
    ('WITH gone AS (SELECT 1) DELETE FROM "{t}"', "sql-read-only"),
    ('SELECT * FROM "{t}" WHERE 0', "sql-answers"),  # empty
    ('SELECT * FROM "{t}"', "sql-answers"),  # rows where a count is asked for
])
def test_each_failing_check_is_eliminated_under_its_rule_and_the_world_never_changes(tmp_path, mode_cache_dir,
                                                                                     sql, rule):
    from janus_plugins.world import build_world, state_hash

    records, failures, _ = run(tmp_path, answering(lambda t: (f"How many {t.lower()} records are there?",
                                                              sql.format(t=t))), kept=False)
    assert records == [] and failures
    assert {reason for reason, _ in failures} == {f"eliminated:{rule}"}
    # the run's world is the one its seed builds, every row still there
    fresh = build_world(tmp_path / "spec", seed=7, out=tmp_path / "fresh.sqlite")
    with sqlite3.connect(world_file(mode_cache_dir)) as conn:
        assert state_hash(conn) == fresh.hash
        assert conn.execute('SELECT count(*) FROM "LOAN"').fetchone()[0] == fresh.rows["LOAN"] > 0


def test_a_failed_check_keeps_the_checks_passed_before_it_for_stats(tmp_path):
    _, failures, _ = run(tmp_path, answering(lambda t: (f"Which {t.lower()} records are there?",
                                                        f'SELECT * FROM "{t}" WHERE 0')), kept=False)
    out = tmp_path / "o.jsonl"
    with Journal(journal_path(out)) as journal:
        metas = [f["job"]["meta"] for f in journal.failures()]
    assert metas and all(m["checks"] == {"sql-read-only": True, "sql-runs": True, "sql-answers": False}
                         for m in metas)
    assert all("no rows" in detail for _, detail in failures)


def test_the_judge_grades_results_when_the_run_enables_it(tmp_path):
    def low(body):
        prompt = body["messages"][-1]["content"]
        if prompt.startswith("A user asked a question about a database"):
            return 200, chat_completion(json.dumps({"feedback": "counts the wrong thing", "score": 2})), {}
        return answering(good)(body)

    records, failures, _ = run(tmp_path / "low", low, extra="filters: [judge]\n", kept=False)
    assert records == [] and failures
    assert {reason for reason, _ in failures} == {"eliminated:sql-judge"}
    assert all("counts the wrong thing" in detail for _, detail in failures)
    records, failures, asked = run(tmp_path / "high", answering(good), extra="filters: [judge]\n")
    assert records and not failures
    assert all(r["meta"]["sql_judge"]["score"] == 4 and r["meta"]["checks"]["sql-judge"] for r in records)
    # without the judge, no result is graded
    records, _, asked = run(tmp_path / "none", answering(good))
    assert records and not any(m["content"].startswith("A user asked") for b in asked for m in b["messages"])


def test_evolutions_ask_harder_questions_on_the_same_tables(tmp_path):
    def make(body):
        prompt = body["messages"][-1]["content"]
        table = first_table(body)
        if "Here is an existing example" in prompt:
            question, sql = f"How many {table.lower()} records are there per id?", \
                f'SELECT id, count(*) FROM "{table}" GROUP BY id'
        else:
            question, sql = good(table)
        return 200, chat_completion(json.dumps({"question": question, "sql": sql})), {}

    with OpenAICompatibleServer(make) as server:
        spec = write_spec(tmp_path / "spec", server.base_url)
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--out", out, "--no-filters", "-q", env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    by_id = {r["id"]: r for r in records}
    evolved = [r for r in records if r["parent_id"]]
    assert evolved
    for r in evolved:
        parent = by_id[r["parent_id"]]
        assert r["direction"] == "sql-aggregate"
        assert r["messages"][0] == parent["messages"][0]  # the same schema
        assert r["meta"]["tables"] == parent["meta"]["tables"]
        assert "GROUP BY" in r["meta"]["sql"] and r["meta"]["result"]["row_count"] >= 1


def test_the_world_is_the_same_for_the_same_seed(tmp_path):
    from janus_plugins.world import build_world

    spec = write_spec(tmp_path / "spec", "http://127.0.0.1:9/v1")
    a = build_world(spec, seed=7, out=tmp_path / "a.sqlite")
    b = build_world(spec, seed=7, out=tmp_path / "b.sqlite")
    c = build_world(spec, seed=8, out=tmp_path / "c.sqlite")
    assert a.hash == b.hash != c.hash



@pytest.mark.local_model
@pytest.mark.skipif(not has_local_model(), reason="needs the 'local' extra (llama-cpp-python)")
def test_a_run_with_the_embedded_model_completes_and_every_kept_query_runs(tmp_path):
    from janus_plugins.world.query import run_query

    out = tmp_path / "sql.jsonl"
    result = run_janus("generate", SAMPLES / "clinic", "--type", "text-to-sql", "--backend", "local", "--out", out,
                       "--max-seeds", "3", "--d-factor", "0", "--option", "threads=2",
                       env={"HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": ""})
    records = read_jsonl(out) if out.exists() else []
    # the small model's queries mostly fail their checks: a run that keeps none exits 1, with its ledger
    assert result.returncode == (0 if records else 1), result.stderr
    assert "Traceback" not in result.stderr
    assert records or "eliminated:sql-" in result.stderr
    from janus_plugins.world import build_world

    world = build_world(SAMPLES / "clinic", seed=0, out=tmp_path / "w.sqlite")
    for r in records:
        assert run_query(world.path, r["meta"]["sql"]).row_count == r["meta"]["result"]["row_count"]


def test_stats_reports_the_pass_rate_of_each_check(tmp_path):
    def half(table):  # the MEMBER questions count members; the others list rows where a count is asked for
        sql = 'SELECT count(*) FROM "MEMBER"' if table == "MEMBER" else f'SELECT * FROM "{table}"'
        return f"How many {table.lower()} records are there?", sql

    records, failures, _ = run(tmp_path, answering(half))
    kept, eliminated = len(records), len(failures)
    assert kept and eliminated
    result = run_janus("stats", tmp_path / "o.jsonl", "--json", "--no-report")
    assert result.returncode == 0, result.stderr
    checks = json.loads(result.stdout)["checks"]
    total = kept + eliminated
    assert checks["sql-read-only"] == {"checked": total, "passed": total, "rate": 1.0}
    assert checks["sql-runs"] == {"checked": total, "passed": total, "rate": 1.0}
    assert checks["sql-answers"] == {"checked": total, "passed": kept, "rate": round(kept / total, 4)}
    shown = run_janus("stats", tmp_path / "o.jsonl", "--no-report")
    assert "sql-answers" in shown.stdout and f"{kept / total:.1%}" in shown.stdout


@pytest.mark.parametrize(("sql", "error"), [
    ('UPDATE "BOOK" SET title = NULL', "QueryRefused"), ("PRAGMA writable_schema = 1", "QueryRefused"),
    ("ATTACH 'x.db' AS x", "QueryRefused"),
    ('WITH a AS (SELECT 1) INSERT INTO "BOOK" (title) SELECT 1', "QueryRefused"),
    ('SELECT 1; DROP TABLE "BOOK"', "QueryRefused"), ("This query lists the books", "QueryFailed"),
    ("SELECT * FROM __janus_world__", "QueryFailed"),
    ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c", "QueryFailed"),
])
def test_queries_run_read_only_and_bounded(tmp_path, sql, error):
    from janus_plugins.world import build_world
    from janus_plugins.world.query import run_query

    world = build_world(write_spec(tmp_path / "spec", "http://127.0.0.1:9/v1"), seed=7, out=tmp_path / "w.sqlite")
    with pytest.raises(ValueError) as caught:
        run_query(world.path, sql)
    assert type(caught.value).__name__ == error
    fenced = run_query(world.path, '```sql\nSELECT count(*) FROM "BOOK" -- books; all of them\n;\n```')
    assert fenced.rows == [[world.rows["BOOK"]]]
