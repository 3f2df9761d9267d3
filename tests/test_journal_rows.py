"""One damaged row of the journal's records table never costs the output: every row read is checked
(a JSON object of the record's shape, bounded size and depth). A rerun of generate stops before it
touches the output, naming the row; doctor finds it, --repair sets it aside (never into the output);
stats and export name it instead of crashing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl

from janus_core.run.journal import bad_rows_path, journal_path
from janus_core.run.record_rows import bounded_loads, load_record

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"
SPEC = SAMPLES / "marriage_counsel"  # 9 records with the schema filler

BAD = {"invalid JSON": "{not json", "a JSON list": "[1, 2]", "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
       "an object without messages": '{"id": "x"}'}


def generate(cli, out, *args):
    return cli("--plugin", FILLER, "generate", SPEC, "--backend", "schema-filler", "--out", out, "-q", "--no-filters",
               *args)


def spoil(out: Path, data: str, seq: int = 3) -> None:
    db = sqlite3.connect(journal_path(out))
    db.execute("UPDATE records SET data = ? WHERE seq = ?", (data, seq))
    db.commit()
    db.close()


@pytest.fixture
def run(cli, tmp_path) -> Path:
    out = tmp_path / "o.jsonl"
    assert generate(cli, out).exit_code == 0
    assert len(read_jsonl(out)) == 9
    return out


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_a_bad_row_stops_the_rerun_before_the_output_is_touched(cli, run, bad):
    before = run.read_bytes()
    spoil(run, BAD[bad])
    result = generate(cli, run)
    assert result.exit_code == 1
    assert f"{journal_path(run)}: row 3 of its records table is not a record" in result.stderr, result.stderr
    assert "janus doctor" in result.stderr and "Traceback" not in result.output
    assert run.read_bytes() == before  # 9 records, not 0 bytes


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_stats_and_export_name_the_bad_row(cli, run, bad, tmp_path):
    spoil(run, BAD[bad])
    stats = cli("stats", run, "--json")
    assert stats.exit_code == 1 and "row 3 of its records table" in stats.stderr
    to = tmp_path / "x.jsonl"
    export = cli("export", run, "--to", to)
    assert export.exit_code == 1 and "row 3 of its records table" in export.stderr
    assert not to.exists()


@pytest.mark.parametrize("bad", list(BAD), ids=list(BAD))
def test_doctor_finds_the_bad_row_and_repair_sets_it_aside(cli, run, bad):
    ids = [r["id"] for r in read_jsonl(run)]
    spoil(run, BAD[bad])
    check = cli("doctor", run)
    assert check.exit_code == 1
    assert "1 rows of its records table are not records: row 3" in check.output, check.output
    fixed = cli("doctor", run, "--repair")
    assert fixed.exit_code == 0, fixed.output
    side = bad_rows_path(journal_path(run))
    kept = [json.loads(line) for line in side.read_text(encoding="utf-8").splitlines()]
    assert [(k["rowid"], k["data"]) for k in kept] == [(3, BAD[bad])]
    rows = [load_record(line) for line in run.read_text(encoding="utf-8").splitlines()]  # every line a record
    assert sorted(r["id"] for r in rows) == sorted(ids)  # the good copy in the output came back
    assert cli("doctor", run).exit_code == 0
    rerun = generate(cli, run)
    assert rerun.exit_code == 0, rerun.stderr
    assert "requests 0 " in rerun.stderr


def test_repair_never_writes_a_bad_row_into_the_output(cli, run):
    """Without a good copy in the output the record is gone from both (kept only in the side file)."""
    spoil(run, BAD["a JSON list"])
    lines = run.read_text(encoding="utf-8").splitlines()
    run.write_text("\n".join(lines[:2] + lines[3:]) + "\n", encoding="utf-8")  # the output lost it too
    fixed = cli("doctor", run, "--repair")
    assert fixed.exit_code == 0, fixed.output
    assert [load_record(line)["id"] for line in run.read_text(encoding="utf-8").splitlines()] == \
        [json.loads(line)["id"] for line in lines[:2] + lines[3:]]


def test_a_row_too_large_is_refused_without_being_loaded(cli, run):
    spoil(run, json.dumps({"id": "x", "pad": "a" * (64 * 2**20 + 1)}))  # MAX_ROW_CHARS
    result = generate(cli, run)
    assert result.exit_code == 1 and "over the limit of 67,108,864" in result.stderr


def test_bounded_loads_says_what_is_wrong():
    for text, why in (("[" * 100_000 + "]" * 100_000, "nested deeper than 64"), ("{x", "not valid JSON"),
                      ('{"a":' * 65 + "1" + "}" * 65, "nested deeper than 64")):
        with pytest.raises(ValueError, match=why):
            bounded_loads(text)
    assert bounded_loads('["\\ud800"]') == ["\ud800"]  # what orjson refuses, the standard library reads
