"""`generate --batch`: requests through a provider batch API (OpenAI's and Anthropic's, against
stand-in servers on 127.0.0.1), answered through the same parse / filter / journal path as online replies."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time

from batch_servers import AnthropicServer, GeminiBatchServer, OpenAIBatchServer, anthropic_message
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import OpenAICompatibleServer, chat_completion, gemini_content

SECRET = fake_secret("openai-key")
SPEC = SAMPLES / "marriage_counsel"


def body_reply(body):
    digest = hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()
    words = " ".join(f"w{digest[i:i + 4]}" for i in range(0, 40, 4))
    turns = [{"user": f"We argue about {words} every week.", "assistant": f"Tell me more about {words[:30]}."}]
    return chat_completion(json.dumps({"turns": turns}), model=body["model"])


def online_reply(body):
    return 200, body_reply(body), {}


def args(server, out, *extra):
    return ["generate", SPEC, "--backend", "openai", "--model", "gpt-4o-mini", "--option",
            f"base_url={server.base_url}", "--out", out, "-q", "--no-filters", "--s-factor", "2", *extra]


def run(cli, server, out, *extra):
    return cli(*args(server, out, *extra), env={"OPENAI_API_KEY": SECRET})


def failures(out):
    from janus_core.run.journal import Journal

    with Journal.beside(out) as journal:
        return journal.failures()


def kill_after_submit_then_rerun(server, cmd, env, out):
    """Start janus, SIGKILL it once the server has a batch and was polled a few times, let the batch
    finish, and run the same command again (it must poll that batch, not submit a new one)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not server.submitted and time.time() < deadline:
        time.sleep(0.05)
    assert server.submitted, "the batch was never submitted"
    time.sleep(0.3)  # a few polls
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists() or read_jsonl(out) == []
    server.polls = 0  # the batch finishes now
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr


def test_a_batch_run_makes_the_online_runs_records_at_half_the_price(cli, tmp_path):
    with OpenAICompatibleServer(online_reply) as online:
        assert run(cli, online, tmp_path / "online.jsonl", "--d-factor", "1", "--log-json").exit_code == 0
    with OpenAIBatchServer(body_reply) as server:
        result = run(cli, server, tmp_path / "batch.jsonl", "--d-factor", "1", "--batch", "--batch-poll", "0.05",
                     "--log-json")
        assert result.exit_code == 0, result.output
    online_records = {r["id"]: r for r in read_jsonl(tmp_path / "online.jsonl")}
    batch_records = {r["id"]: r for r in read_jsonl(tmp_path / "batch.jsonl")}
    assert set(batch_records) == set(online_records)
    assert all(batch_records[i]["messages"] == r["messages"] for i, r in online_records.items())
    # the seeds were one batch, their evolutions the next
    assert [len(keys) for keys in server.submitted] == [6, 12]
    assert all(b["metadata"].get("janus_local_id") for b in server.batches.values())
    summary = json.loads([line for line in result.output.splitlines() if '"summary"' in line][-1])
    assert summary["batches"]["submitted"] == 2 and summary["batches"]["requests"] == 18
    online_cost = sum(r["usage"]["cost"] for r in online_records.values())
    batch_cost = sum(r["usage"]["cost"] for r in batch_records.values())
    assert online_cost > 0 and abs(batch_cost - online_cost / 2) < 1e-9


def test_partial_failures_land_in_the_ledger_and_retry_failed_resubmits_only_them(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAIBatchServer(body_reply) as server:
        doomed: set[str] = set()

        def fail(custom_id, body):
            if len(doomed) < 2 and custom_id not in doomed and not server.submitted[1:]:
                doomed.add(custom_id)
            return custom_id in doomed

        server.fail = fail
        first = run(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05")
        assert first.exit_code == 0, first.output
        ledger = failures(out)
        assert [f["reason"] for f in ledger] == ["batch_error", "batch_error"]
        assert len(read_jsonl(out)) == 4
        server.fail = lambda custom_id, body: False
        again = run(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05", "--retry-failed")
        assert again.exit_code == 0, again.output
    assert sorted(server.submitted[1]) == sorted(doomed)  # only the failed requests went again
    assert len(read_jsonl(out)) == 6 and failures(out) == []


def test_an_expired_batch_fails_what_it_did_not_answer(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAIBatchServer(body_reply) as server:
        server.expire = True
        result = run(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05")
        assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == 3
    assert [f["reason"] for f in failures(out)] == ["batch_expired"] * 3


def test_a_failed_batch_and_a_backend_without_batches(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAIBatchServer(body_reply) as server:
        server.fail_batch = True
        result = run(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05")
    assert result.exit_code == 1
    ledger = failures(out)
    assert len(ledger) == 6 and {f["reason"] for f in ledger} == {"batch_error"}
    assert "the stand-in was told to fail" in ledger[0]["detail"]
    refused = cli("generate", SPEC, "--backend", "local", "--batch", "--out", tmp_path / "l.jsonl")
    assert refused.exit_code != 0 and "no batch API" in refused.output


def test_a_run_killed_between_submit_and_result_resumes_polling_and_never_submits_twice(tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAIBatchServer(body_reply, polls=10**9) as server:  # the batch runs until told otherwise
        cmd = [sys.executable, "-m", "janus_core.cli", *map(str, args(server, out, "--d-factor", "0", "--batch",
                                                                         "--batch-poll", "0.05"))]
        env = {**__import__("os").environ, "OPENAI_API_KEY": SECRET}
        kill_after_submit_then_rerun(server, cmd, env, out)
    assert len(server.submitted) == 1  # polled again, not submitted again
    assert len(read_jsonl(out)) == 6


def test_max_cost_stops_before_the_next_submission_and_dry_run_shows_the_batch_price(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with OpenAIBatchServer(body_reply) as server:
        result = run(cli, server, out, "--d-factor", "1", "--batch", "--batch-poll", "0.05", "--max-cost", "0.0000001")
        assert result.exit_code == 0, result.output
        assert len(server.submitted) == 1 and "stopped" in result.output
        plans = []
        for extra in ((), ("--batch",)):
            dry = run(cli, server, tmp_path / "dry.jsonl", "--d-factor", "1", "--dry-run", "--log-json", *extra)
            assert dry.exit_code == 0, dry.output
            plans.append(json.loads(dry.output))
    online, batched = plans
    assert batched["batch_price"] == 0.5 and online["batch_price"] is None
    assert abs(batched["estimated_cost"] - online["estimated_cost"] / 2) <= 0.0001


# --- Anthropic Message Batches ---------------------------------------------------------------------

ANTHROPIC_SECRET = fake_secret("anthropic-key")


def anthropic_reply(params):
    """The same turns as ``body_reply`` for the same conversation (the system text holds the schema)."""
    assert params["max_tokens"] > 0 and "JSON schema" in params["system"]
    messages = [{"role": "system", "content": params["system"]}, *params["messages"]]
    digest = hashlib.sha256(json.dumps([m["content"] for m in messages]).encode()).hexdigest()
    words = " ".join(f"w{digest[i:i + 4]}" for i in range(0, 40, 4))
    turns = [{"user": f"We argue about {words} every week.", "assistant": f"Tell me more about {words[:30]}."}]
    return anthropic_message(json.dumps({"turns": turns}), params["model"])


def anthropic_args(server, out, *extra):
    return ["generate", SPEC, "--backend", "anthropic", "--model", "claude-haiku-4-5", "--option",
            f"base_url={server.base_url}", "--out", out, "-q", "--no-filters", "--s-factor", "2", *extra]


def run_anthropic(cli, server, out, *extra):
    return cli(*anthropic_args(server, out, *extra), env={"ANTHROPIC_API_KEY": ANTHROPIC_SECRET})


def test_anthropic_batches_make_the_online_runs_records_at_half_the_price(cli, tmp_path):
    with AnthropicServer(anthropic_reply, ANTHROPIC_SECRET) as server:
        online = run_anthropic(cli, server, tmp_path / "online.jsonl", "--d-factor", "1")
        assert online.exit_code == 0, online.output
        assert server.online == 18 and server.submitted == []
        result = run_anthropic(cli, server, tmp_path / "batch.jsonl", "--d-factor", "1", "--batch",
                               "--batch-poll", "0.05", "--log-json")
        assert result.exit_code == 0, result.output
        assert server.online == 18  # nothing more went online
    online_records = {r["id"]: r for r in read_jsonl(tmp_path / "online.jsonl")}
    batch_records = {r["id"]: r for r in read_jsonl(tmp_path / "batch.jsonl")}
    assert len(online_records) == 18 and set(batch_records) == set(online_records)
    assert all(batch_records[i]["messages"] == r["messages"] for i, r in online_records.items())
    assert [len(keys) for keys in server.submitted] == [6, 12]
    summary = json.loads([line for line in result.output.splitlines() if '"summary"' in line][-1])
    assert summary["batches"]["submitted"] == 2 and summary["batches"]["requests"] == 18
    online_cost = sum(r["usage"]["cost"] for r in online_records.values())
    batch_cost = sum(r["usage"]["cost"] for r in batch_records.values())
    assert online_cost > 0 and abs(batch_cost - online_cost / 2) < 1e-9


def test_anthropic_partial_failures_and_expiry_land_in_the_ledger_and_retry_failed_resubmits_only_them(
        cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with AnthropicServer(anthropic_reply, ANTHROPIC_SECRET) as server:
        doomed: set[str] = set()

        def fail(custom_id, params):
            if not doomed:
                doomed.add(custom_id)
            return custom_id in doomed

        server.fail, server.expire = fail, True
        first = run_anthropic(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05")
        assert first.exit_code == 0, first.output
        assert sorted(f["reason"] for f in failures(out)) == ["batch_error"] + ["batch_expired"] * 3
        assert len(read_jsonl(out)) == 2
        server.fail, server.expire = (lambda custom_id, params: False), False
        again = run_anthropic(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05",
                              "--retry-failed")
        assert again.exit_code == 0, again.output
    first_ids = server.submitted[0]
    assert sorted(server.submitted[1]) == sorted([*doomed, *first_ids[3:]])  # only the failed ones again
    assert len(read_jsonl(out)) == 6 and failures(out) == []


def test_anthropic_run_killed_between_submit_and_result_resumes_polling_and_never_submits_twice(tmp_path):
    out = tmp_path / "o.jsonl"
    with AnthropicServer(anthropic_reply, ANTHROPIC_SECRET, polls=10**9) as server:
        cmd = [sys.executable, "-m", "janus_core.cli", *map(str, anthropic_args(
            server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05"))]
        env = {**__import__("os").environ, "ANTHROPIC_API_KEY": ANTHROPIC_SECRET}
        kill_after_submit_then_rerun(server, cmd, env, out)
    assert len(server.submitted) == 1
    assert len(read_jsonl(out)) == 6


def test_anthropic_max_cost_stops_before_a_submission_and_dry_run_shows_the_batch_price(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with AnthropicServer(anthropic_reply, ANTHROPIC_SECRET) as server:
        result = run_anthropic(cli, server, out, "--d-factor", "1", "--batch", "--batch-poll", "0.05",
                               "--max-cost", "0.0000001")
        assert result.exit_code == 0, result.output
        assert len(server.submitted) == 1 and "stopped" in result.output
        dry = run_anthropic(cli, server, tmp_path / "dry.jsonl", "--d-factor", "1", "--dry-run", "--log-json",
                            "--batch")
        assert dry.exit_code == 0, dry.output
        assert json.loads(dry.output)["batch_price"] == 0.5
    assert SECRET not in result.output and ANTHROPIC_SECRET not in result.output


# --- Gemini batch mode ---------------------------------------------------------------------------

GEMINI_SECRET = fake_secret("gemini-key")


def gemini_reply(request):
    """generateContent's answer for an online request or an inlined one (the same for the same texts)."""
    system = request.get("systemInstruction") or request.get("system_instruction") or {}
    texts = [p.get("text") for p in system.get("parts", [])] if isinstance(system, dict) else [system]
    texts += [p.get("text") for c in request["contents"] for p in c["parts"]]
    digest = hashlib.sha256(json.dumps(texts).encode()).hexdigest()
    words = " ".join(f"w{digest[i:i + 4]}" for i in range(0, 40, 4))
    turns = [{"user": f"We argue about {words} every week.", "assistant": f"Tell me more about {words[:30]}."}]
    return gemini_content(json.dumps({"turns": turns}), model="gemini-2.5-flash")


def gemini_args(server, out, *extra):
    return ["generate", SPEC, "--backend", "gemini", "--model", "gemini-2.5-flash", "--option",
            f"base_url={server.base_url}", "--out", out, "-q", "--no-filters", "--s-factor", "2", *extra]


def run_gemini(cli, server, out, *extra):
    return cli(*gemini_args(server, out, *extra), env={"GEMINI_API_KEY": GEMINI_SECRET})


def test_gemini_batches_make_the_online_runs_records_at_half_the_price(cli, tmp_path):
    with GeminiBatchServer(gemini_reply, GEMINI_SECRET) as server:
        online = run_gemini(cli, server, tmp_path / "online.jsonl", "--d-factor", "1")
        assert online.exit_code == 0, online.output
        assert server.online == 18 and server.submitted == []
        result = run_gemini(cli, server, tmp_path / "batch.jsonl", "--d-factor", "1", "--batch",
                            "--batch-poll", "0.05", "--log-json")
        assert result.exit_code == 0, result.output
        assert server.online == 18
    online_records = {r["id"]: r for r in read_jsonl(tmp_path / "online.jsonl")}
    batch_records = {r["id"]: r for r in read_jsonl(tmp_path / "batch.jsonl")}
    assert len(online_records) == 18 and set(batch_records) == set(online_records)
    assert all(batch_records[i]["messages"] == r["messages"] for i, r in online_records.items())
    assert [len(keys) for keys in server.submitted] == [6, 12]
    assert all(j["metadata"]["displayName"].startswith("janus-") for j in server.batches.values())
    online_cost = sum(r["usage"]["cost"] for r in online_records.values())
    batch_cost = sum(r["usage"]["cost"] for r in batch_records.values())
    assert online_cost > 0 and abs(batch_cost - online_cost / 2) < 1e-9


def test_gemini_partial_failure_and_expiry_land_in_the_ledger_and_retry_failed_resubmits_only_them(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with GeminiBatchServer(gemini_reply, GEMINI_SECRET) as server:
        doomed: set[str] = set()

        def fail(custom_id, request):
            if len(doomed) < 2 and custom_id not in doomed and not server.submitted[1:]:
                doomed.add(custom_id)
            return custom_id in doomed

        server.fail = fail
        first = run_gemini(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05")
        assert first.exit_code == 0, first.output
        assert [f["reason"] for f in failures(out)] == ["batch_error", "batch_error"]
        assert "stand-in failure" in failures(out)[0]["detail"]
        server.fail = lambda custom_id, request: False
        again = run_gemini(cli, server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05", "--retry-failed")
        assert again.exit_code == 0, again.output
        assert sorted(server.submitted[1]) == sorted(doomed)
        assert len(read_jsonl(out)) == 6 and failures(out) == []
        server.expire = True
        expired = run_gemini(cli, server, tmp_path / "e.jsonl", "--d-factor", "0", "--batch", "--batch-poll", "0.05")
        assert expired.exit_code == 1, expired.output  # nothing was made
    assert [f["reason"] for f in failures(tmp_path / "e.jsonl")] == ["batch_expired"] * 6


def test_gemini_run_killed_between_submit_and_result_resumes_polling_and_never_submits_twice(tmp_path):
    out = tmp_path / "o.jsonl"
    with GeminiBatchServer(gemini_reply, GEMINI_SECRET, polls=10**9) as server:
        cmd = [sys.executable, "-m", "janus_core.cli", *map(str, gemini_args(
            server, out, "--d-factor", "0", "--batch", "--batch-poll", "0.05"))]
        env = {**__import__("os").environ, "GEMINI_API_KEY": GEMINI_SECRET}
        kill_after_submit_then_rerun(server, cmd, env, out)
    assert len(server.submitted) == 1
    assert len(read_jsonl(out)) == 6
