"""`janus generate` end to end with a schema-filling test backend (loaded as a --plugin file)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl, run_janus

from janus_core.sdk.records import PROVENANCE

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"


def generate(cli, spec, out, *args):
    return cli("--plugin", FILLER, "generate", spec, "--backend", "schema-filler", "--out", out, "-q", "--no-filters",
               *args)


def test_counts_follow_s_and_d_factors(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = generate(cli, SAMPLES / "marriage_counsel", out, "--s-factor", "2", "--d-factor", "3")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    seeds = [r for r in records if r["parent_id"] is None]
    # 3 contexts x 1 seed direction x s=2; each seed x 2 derivational directions x d=3
    assert len(seeds) == 6
    assert len(records) == 6 + 6 * 2 * 3
    assert len({r["id"] for r in records}) == len(records)


def test_every_record_has_messages_and_provenance(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, SAMPLES / "clinic", out, "--max-seeds", "4").exit_code == 0
    for r in read_jsonl(out):
        assert r["messages"] and all(m["content"] for m in r["messages"])
        for key in PROVENANCE:
            assert key in r
        assert len(r["prompt_sha256"]) == 64
        assert r["walk"]["entities"]
        roles = [m["role"] for m in r["messages"]]
        assert roles[0] == "system"  # the clinic sample sets a system_prompt
        assert roles[1:] == ["user", "assistant"] * ((len(roles) - 1) // 2)


def test_instruct_derivation_rewrites_conversation_derivation_continues(cli, tmp_path):
    out = tmp_path / "i.jsonl"
    assert generate(cli, SAMPLES / "marriage_counsel", out, "--type", "instruct").exit_code == 0
    records = read_jsonl(out)
    assert {r["output_type"] for r in records} == {"instruct"}
    assert all(len(r["messages"]) == 3 for r in records)  # system + one exchange
    out2 = tmp_path / "c.jsonl"
    assert generate(cli, SAMPLES / "marriage_counsel", out2, "--type", "conversation").exit_code == 0
    by_id = {r["id"]: r for r in read_jsonl(out2)}
    children = [r for r in by_id.values() if r["parent_id"]]
    assert children and all(len(c["messages"]) > len(by_id[c["parent_id"]]["messages"]) for c in children)


def test_directions_reach_the_prompt(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert generate(cli, SAMPLES / "marriage_counsel_instruct", out).exit_code == 0
    records = read_jsonl(out)
    free = [r for r in records if r["direction"].startswith("answer with one concrete exercise")]
    assert free and all("Style: answer with one concrete exercise" in r["messages"][0]["content"] for r in free)
    assert {r["direction"] for r in records if r["parent_id"] is None} == {"general", "diverse"}


def test_same_seed_same_requests_and_ids(cli, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    generate(cli, SAMPLES / "coding_assist", a, "--seed", "5")
    generate(cli, SAMPLES / "coding_assist", b, "--seed", "5")
    key = lambda r: (r["id"], r["prompt_sha256"])  # noqa: E731
    assert sorted(map(key, read_jsonl(a))) == sorted(map(key, read_jsonl(b)))
    c = tmp_path / "c.jsonl"
    generate(cli, SAMPLES / "coding_assist", c, "--seed", "6")
    assert {r["prompt_sha256"] for r in read_jsonl(a)} != {r["prompt_sha256"] for r in read_jsonl(c)}


def test_truncated_replies_are_reasked_with_more_room(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = generate(cli, SAMPLES / "marriage_counsel", out, "--option", "fail_first=true")
    assert result.exit_code == 0
    assert len(read_jsonl(out)) == 9
    # each prompt's first reply is truncated, so every record took a second request
    assert "requests 18 " in result.stderr


def test_failed_seeds_skip_their_derivations(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = generate(cli, SAMPLES / "marriage_counsel", out, "--option", "fail_always=true")
    # every seed fails after its re-ask: nothing to derive from, so nothing is written
    assert result.exit_code == 1
    assert "truncation 3" in result.stderr
    assert "skipped derivations 6" in result.stderr


def test_refuses_to_touch_a_file_it_did_not_write(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text("keep me\n")
    result = generate(cli, SAMPLES / "marriage_counsel", out)
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    assert out.read_text() == "keep me\n"
    assert generate(cli, SAMPLES / "marriage_counsel", out, "--overwrite").exit_code == 0
    assert len(read_jsonl(out)) == 9


def test_bad_option_syntax(cli, tmp_path):
    result = generate(cli, SAMPLES / "marriage_counsel", tmp_path / "o.jsonl", "--option", "novalue")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


SLOW_BACKEND = '''
import asyncio, json, os
from janus_core import hookimpl
from janus_core.sdk.contracts import Backend, Completion

class Slow(Backend):
    """Answers after 0.2 s and logs every answered request (prompt and seed) to CALLS_LOG."""
    name = "slow"
    async def complete(self, request):
        await asyncio.sleep(0.2)
        with open(os.environ["CALLS_LOG"], "a") as log:
            log.write(json.dumps([request.seed, request.messages[-1]["content"][-80:]]) + "\\n")
        turn = {"user": "Can I move my appointment?", "assistant": "Yes, to Friday at nine."}
        return Completion(text=json.dumps({"turns": [turn]}), model="slow",
                          tokens_in=10, tokens_out=5)

@hookimpl
def register_backends(register):
    register(Slow)
'''


def test_killed_runs_resume_without_loss_duplicates_or_paying_twice(tmp_path):
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW_BACKEND)
    out, calls = tmp_path / "o.jsonl", tmp_path / "calls.log"
    cmd = [sys.executable, "-m", "janus_core.cli", "--plugin", str(plugin), "generate", str(SAMPLES / "clinic"),
           "--backend", "slow", "--concurrency", "4", "--max-seeds", "10", "--out", str(out), "-q", "--no-filters"]
    env = {**os.environ, "CALLS_LOG": str(calls)}
    for kill_after in (3, 9):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.time() + 30
        while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < kill_after):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for line in out.read_text().splitlines()[:-1]:  # the last line may be torn by the kill
            assert json.loads(line)["messages"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    records = read_jsonl(out)
    assert len(records) == 10 + 10 * 2  # 10 seeds, each with 2 derivational directions
    assert len({r["id"] for r in records}) == len(records)
    answered = [tuple(json.loads(line)) for line in calls.read_text().splitlines()]
    repeats = len(answered) - len(set(answered))
    # only a request answered in the instant before a kill (at most 4 in flight) can be sent again
    assert repeats <= 2 * 4
    assert "from before" in done.stderr


@pytest.mark.parametrize("spec", ["marriage_counsel", "clinic"])
def test_graph_command(spec, tmp_path):
    png = tmp_path / "g.png"
    result = run_janus("graph", SAMPLES / spec, "--png", png)
    assert result.returncode == 0, result.stderr
    assert "Coverage: every entity and relationship" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
