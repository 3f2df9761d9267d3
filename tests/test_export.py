"""Formats and sinks at the edge, and the train/eval split by seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl
from janus_plugins.sinks.formats import FORMATS

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"

RECORD = {
    "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Q1"},
                 {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"},
                 {"role": "assistant", "content": "A2"}],
    "id": "r1", "seed_id": "s1", "parent_id": None, "direction": "general", "walk": {}, "model": "m",
    "prompt_sha256": "0" * 64, "output_type": "conversation", "depth": 0, "usage": {}, "meta": {},
    "created_at": "2026-01-01T00:00:00+00:00",
}


def test_formats():
    assert FORMATS["messages"](RECORD) == {"messages": RECORD["messages"]}
    assert FORMATS["sharegpt"](RECORD)["conversations"][:2] == [{"from": "system", "value": "Be kind."},
                                                                 {"from": "human", "value": "Q1"}]
    assert FORMATS["alpaca"](RECORD) == {"instruction": "Q2", "input": "", "output": "A2",
                                         "history": [["Q1", "A1"]], "system": "Be kind."}
    assert FORMATS["janus-legacy"](RECORD) == {"conversations": [{"user": "Q1", "assistant": "A1"},
                                                                 {"user": "Q2", "assistant": "A2"}],
                                               "type": "conversation", "category": None, "model": "m"}
    assert FORMATS["dpo"](RECORD) is None  # no rated answers
    rated = {**RECORD, "meta": {"chosen": "A2", "rejected": "bad", "scores": [5, 2]}}
    dpo = FORMATS["dpo"](rated)
    assert dpo["prompt"] == RECORD["messages"][:-1]
    assert dpo["chosen"] == [{"role": "assistant", "content": "A2"}]
    assert dpo["rejected"] == [{"role": "assistant", "content": "bad"}]
    assert (dpo["score_chosen"], dpo["score_rejected"]) == (5, 2)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from click.testing import CliRunner

    from janus_core.cli import cli

    out = tmp_path_factory.mktemp("data") / "o.jsonl"
    result = CliRunner().invoke(cli, ["--plugin", str(FILLER), "generate", str(SAMPLES / "clinic"), "--backend",
                                      "schema-filler", "--out", str(out), "-q", "--no-filters", "--s-factor", "3"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("fmt", ["messages", "sharegpt", "alpaca", "janus-legacy", "janus"])
def test_export_jsonl_in_each_format(cli, dataset, tmp_path, fmt):
    to = tmp_path / "x.jsonl"
    result = cli("export", dataset, "--to", to, "--format", fmt)
    assert result.exit_code == 0, result.output
    rows = read_jsonl(to)
    assert len(rows) == len(read_jsonl(dataset)) == 540
    key = {"messages": "messages", "sharegpt": "conversations", "alpaca": "instruction",
           "janus-legacy": "conversations", "janus": "prompt_sha256"}[fmt]
    assert all(key in row for row in rows)


def test_export_parquet_and_hf_disk(cli, dataset, tmp_path):
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    assert cli("export", dataset, "--to", tmp_path / "x.parquet", "--format", "janus").exit_code == 0
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.num_rows == 540
    first = table.slice(0, 1).to_pylist()[0]
    assert json.loads(first["walk"])["entities"]  # nested provenance kept as JSON text
    assert cli("export", dataset, "--to", tmp_path / "ds").exit_code == 0
    assert load_from_disk(str(tmp_path / "ds")).num_rows == 540


def test_dpo_export_skips_records_without_a_pair(cli, dataset, tmp_path):
    result = cli("export", dataset, "--to", tmp_path / "d.jsonl", "--format", "dpo")
    assert result.exit_code == 1  # no rows is an error, not an empty file
    assert "no dpo rows" in result.stderr and "540 records have no dpo form" in result.stderr
    assert not (tmp_path / "d.jsonl").exists()


def test_split_by_seed_keeps_families_together(cli, dataset, tmp_path):
    result = cli("export", dataset, "--to", tmp_path / "x.jsonl", "--format", "janus", "--eval-fraction", "0.25")
    assert result.exit_code == 0, result.output
    train, evals = read_jsonl(tmp_path / "x-train.jsonl"), read_jsonl(tmp_path / "x-test.jsonl")
    assert len(train) + len(evals) == 540
    assert {r["seed_id"] for r in train}.isdisjoint({r["seed_id"] for r in evals})
    seeds = len({r["seed_id"] for r in train + evals})
    share = len({r["seed_id"] for r in evals}) / seeds
    assert 0.12 < share < 0.38  # 180 seed families, 25% expected
    again = cli("export", dataset, "--to", tmp_path / "x.jsonl", "--format", "janus", "--eval-fraction", "0.25")
    assert again.exit_code == 1 and "--overwrite" in again.stderr
