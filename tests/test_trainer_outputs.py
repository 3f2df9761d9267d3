"""Outputs that trainers read and that Janus reads back: exports of exports, preference pairs,
eval splits, system messages, the graph drawing, dry runs and the report's judge section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl

PLUGINS = Path(__file__).resolve().parent / "plugins"
FILLER = PLUGINS / "schema_filler.py"
BREAKING = PLUGINS / "breaking_sink.py"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def record(rid: str, seed_id: str | None = None, meta: dict | None = None, turns: int = 1) -> dict:
    messages = [{"role": "system", "content": "Be kind."}]
    for n in range(turns):
        messages += [{"role": "user", "content": f"{rid} question {n}"},
                     {"role": "assistant", "content": f"{rid} answer {n}"}]
    return {"messages": messages, "id": rid, "seed_id": seed_id or rid, "parent_id": None, "direction": "general",
            "walk": {}, "model": "m", "prompt_sha256": "0" * 64, "output_type": "conversation", "depth": 0,
            "usage": {}, "meta": meta or {}, "created_at": "2026-01-01T00:00:00+00:00"}


def pair(rid: str, chosen: int, rejected: int) -> dict:
    return record(rid, meta={"chosen": f"{rid} answer 0", "rejected": f"{rid} worse", "scores": [chosen, rejected],
                             "margin": chosen - rejected})


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from click.testing import CliRunner

    from janus_core.cli import cli

    out = tmp_path_factory.mktemp("data") / "o.jsonl"
    result = CliRunner().invoke(cli, ["--plugin", str(FILLER), "generate", str(SAMPLES / "clinic"), "--backend",
                                      "schema-filler", "--out", str(out), "-q", "--no-filters", "--max-seeds", "6"])
    assert result.exit_code == 0, result.output
    return out


# --- exports of exports ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["janus", "messages", "sharegpt", "alpaca", "janus-legacy"])
def test_an_export_exports_and_reports_again(cli, dataset, tmp_path, fmt):
    first = tmp_path / f"first-{fmt}.jsonl"
    assert cli("export", dataset, "--to", first, "--format", fmt).exit_code == 0
    again = cli("export", first, "--to", tmp_path / "again.jsonl", "--format", "messages")
    assert again.exit_code == 0, again.output
    original = [r["messages"] for r in read_jsonl(dataset)]
    if fmt == "janus-legacy":  # the original tool's schema has no system message
        original = [[m for m in messages if m["role"] != "system"] for messages in original]
    assert [r["messages"] for r in read_jsonl(tmp_path / "again.jsonl")] == original
    report = cli("stats", first, "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["records"] == len(original)


def test_an_export_reads_a_json_array(cli, dataset, tmp_path):
    rows = [{"conversations": [{"user": m[1]["content"], "assistant": m[2]["content"]}]}
            for m in (r["messages"] for r in read_jsonl(dataset))]
    (tmp_path / "legacy.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    result = cli("export", tmp_path / "legacy.json", "--to", tmp_path / "x.jsonl", "--format", "sharegpt")
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "x.jsonl")) == len(rows)


def test_an_unreadable_row_is_located_and_leaves_nothing_behind(cli, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [record("a"), record("b"), {"text": "plain"}])
    result = cli("export", source, "--to", tmp_path / "x.jsonl")
    assert result.exit_code == 1
    assert f"{source}:3:1: not a record Janus can read" in result.stderr and "Traceback" not in result.output
    assert "sharegpt" in result.stderr  # it says what it needs
    assert not (tmp_path / "x.jsonl").exists() and leftovers(tmp_path) == []
    stats = cli("stats", source, "--json")
    assert stats.exit_code == 1 and f"{source}:3:1" in stats.stderr


def test_a_failed_export_leaves_nothing_and_blocks_nothing(cli, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [record(str(n)) for n in range(5)])
    to = tmp_path / "x.jsonl"
    failed = cli("--plugin", BREAKING, "export", source, "--to", to, "--sink", "breaking")
    assert failed.exit_code == 1 and "No space left on device" in failed.stderr
    assert "nothing was written" in failed.stderr
    assert not to.exists() and leftovers(tmp_path) == []
    assert cli("export", source, "--to", to).exit_code == 0  # no --overwrite needed: nothing was left
    assert len(read_jsonl(to)) == 5
    failed = cli("--plugin", BREAKING, "export", source, "--to", to, "--sink", "breaking", "--overwrite")
    assert failed.exit_code == 1 and len(read_jsonl(to)) == 5  # the earlier file is untouched
