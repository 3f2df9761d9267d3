"""Run controls: dry runs, budgets, JSON logs, resume rules, and the adaptive pace."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import SAMPLES, read_jsonl

from janus_core.run.journal import journal_path
from janus_core.run.throttle import TokenBudget

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"


def generate(cli, spec, out, *args, env=None):
    return cli("--plugin", FILLER, "generate", spec, "--backend", "schema-filler", "--out", out, "-q", "--no-filters",
               *args, env=env)


def test_dry_run_plans_and_estimates_without_calling(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = cli("generate", SAMPLES / "clinic", "--backend", "openai", "--model", "gpt-4o-mini", "--out", out,
                 "--dry-run", "--log-json", env={"OPENAI_API_KEY": ""})
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    # 30 seed contexts x 2 seed directions; each seed x 2 derivational directions
    assert (estimate["seed_requests"], estimate["derivation_requests"], estimate["requests"]) == (60, 120, 180)
    assert estimate["estimated_tokens_in"] > estimate["estimated_tokens_out"] > 0
    assert 0 < estimate["estimated_cost"] < 1  # gpt-4o-mini is in litellm's price table
    assert not out.exists() and not journal_path(out).exists()


def test_dry_run_of_the_embedded_model_costs_nothing(cli, tmp_path):
    result = cli("generate", SAMPLES / "marriage_counsel", "--dry-run", "--out", tmp_path / "o.jsonl")
    assert result.exit_code == 0
    assert "9 requests (3 seeds, 6 derivations) to local (SmolLM2-135M-Instruct)" in result.output
    assert "estimated cost: $0.0000" in result.output  # the embedded model costs nothing


def test_max_requests_stops_cleanly_and_a_rerun_continues(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = generate(cli, SAMPLES / "clinic", out, "--max-requests", "7", "--concurrency", "1")
    assert result.exit_code == 0
    assert "--max-requests 7 reached" in result.stderr
    assert len(read_jsonl(out)) == 7
    result = generate(cli, SAMPLES / "clinic", out, "--max-requests", "1000")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 180 and len({r["id"] for r in records}) == 180
    assert "+ 7 from before" in result.stderr


def test_max_cost_stops_cleanly(cli, tmp_path):
    from janus_core.run.cost import prices

    assert prices("gpt-4o-mini") is not None
    out = tmp_path / "o.jsonl"
    # the filler reports ~100 prompt tokens per request; at gpt-4o-mini prices a few requests pass
    result = generate(cli, SAMPLES / "clinic", out, "--model", "gpt-4o-mini", "--max-cost", "0.00005",
                      "--concurrency", "1")
    assert result.exit_code == 0
    assert "--max-cost 5e-05 reached" in result.stderr
    records = read_jsonl(out)
    assert 0 < len(records) < 180
    spent = sum(r["usage"]["cost"] for r in records)
    assert spent >= 0.00005 and spent < 0.00005 + max(r["usage"]["cost"] for r in records) * 1.01


def test_log_json_and_per_record_usage(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = cli("--plugin", FILLER, "generate", SAMPLES / "marriage_counsel", "--backend", "schema-filler",
                 "--out", out, "--log-json", "--no-filters")
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["records"] == 9 and summary["requests"] == 9
    assert summary["tokens_in"] == sum(r["usage"]["tokens_in"] for r in read_jsonl(out))
    assert summary["tokens_out"] == 90


def test_a_changed_spec_does_not_mix_into_an_old_run(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, SAMPLES / "marriage_counsel", out).exit_code == 0
    result = generate(cli, SAMPLES / "marriage_counsel", out, "--seed", "9")
    assert result.exit_code == 1 and "different spec, backend, model, seed or temperature" in result.stderr
    # growing s_factor continues the same run
    result = generate(cli, SAMPLES / "marriage_counsel", out, "--s-factor", "2")
    assert result.exit_code == 0
    assert len(read_jsonl(out)) == 18


def test_rerun_rebuilds_a_torn_file_from_the_journal(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, SAMPLES / "marriage_counsel", out).exit_code == 0
    good = out.read_text()
    out.write_text(good[: len(good) // 2])  # as if the process died mid-line
    result = generate(cli, SAMPLES / "marriage_counsel", out)
    assert result.exit_code == 0
    assert "requests 0 " in result.stderr
    assert sorted(out.read_text().splitlines()) == sorted(good.splitlines())


def test_journal_is_sqlite_in_wal_mode(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    generate(cli, SAMPLES / "marriage_counsel", out)
    db = sqlite3.connect(journal_path(out))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 9


def test_token_budget_waits_for_refill_and_settles():
    import asyncio
    import time

    budget = TokenBudget(6000)  # 100 tokens a second
    asyncio.run(budget.take(6000))
    started = time.monotonic()
    asyncio.run(budget.take(30))  # the bucket is empty: about 0.3 s until 30 tokens are back
    assert time.monotonic() - started >= 0.25
    budget.settle(estimated=500, actual=100)  # the request used fewer tokens than estimated
    assert 400 <= budget.tokens <= 420


def test_a_budget_stop_inside_extra_requests_pays_nothing_twice(cli, tmp_path):
    out = tmp_path / "p.jsonl"
    plain = ("--option", "voice=plain")  # answers that end their sentences, or they make no pair
    first = generate(cli, SAMPLES / "clinic", out, "--type", "preference", "--concurrency", "1", "--max-requests", "2",
                     "--max-seeds", "2", "--d-factor", "0", "--log-json", *plain)
    assert first.exit_code == 0
    rest = generate(cli, SAMPLES / "clinic", out, "--type", "preference", "--concurrency", "1", "--max-seeds", "2",
                    "--d-factor", "0", "--log-json", *plain)
    summaries = [json.loads(r.stderr.splitlines()[-1]) for r in (first, rest)]
    assert summaries[0]["requests"] == 2 and summaries[0]["stopped"]
    # 2 records x 3 requests each (answer, second answer, judge); the first run's 2 are not paid again
    assert len(read_jsonl(out)) == 2
    assert summaries[1]["requests"] == 4 and summaries[1]["cached"] == 2


def test_max_requests_holds_with_pacing(cli, tmp_path):
    result = generate(cli, SAMPLES / "clinic", tmp_path / "o.jsonl", "--max-requests", "3", "--rpm", "600",
                      "--concurrency", "8", "--log-json")
    summary = json.loads(result.stderr.splitlines()[-1])
    assert summary["requests"] == 3 and summary["stopped"]


def test_a_conversation_given_twice_grows_once(cli, tmp_path):
    row = {"messages": [{"role": "user", "content": "We argue a lot."},
                        {"role": "assistant", "content": "Since when?"}]}
    source = tmp_path / "in.jsonl"
    source.write_text((json.dumps(row) + "\n") * 2)
    result = generate(cli, SAMPLES / "marriage_counsel", tmp_path / "o.jsonl", "--type", "follow-up", "--input",
                      source, "--turns", "4", "--log-json")
    summary = json.loads(result.stderr.splitlines()[-1])
    assert summary["records"] == 3 and summary["requests"] == 3
