"""Every provider backend against a real HTTP server on 127.0.0.1 speaking its REST shape,
with each fault kind: 429 with Retry-After, 5xx, slow replies, malformed and truncated JSON, 401."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import Fault, ProviderServer

SECRET = fake_secret("provider-key")
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})

BACKENDS = {
    # name: (server shape, generate arguments, environment)
    "openai": ("openai", ["--backend", "openai", "--model", "test-model", "--option", "base_url={url}"],
               {"OPENAI_API_KEY": SECRET}),
    "litellm": ("openai", ["--backend", "litellm", "--model", "openai/test-model", "--option", "api_base={url}",
                           "--option", "api_key_env=JANUS_TEST_KEY"], {"JANUS_TEST_KEY": SECRET}),
    "gemini": ("gemini", ["--backend", "gemini", "--model", "gemini-test", "--option", "base_url={url}"],
               {"GEMINI_API_KEY": SECRET, "GOOGLE_API_KEY": ""}),
}


def run(cli, tmp_path, backend, faults, *extra):
    shape, args, env = BACKENDS[backend]
    server = ProviderServer(shape, lambda body: GOOD)
    server.faults = list(faults)
    out = tmp_path / "o.jsonl"
    with server:
        started = time.monotonic()
        args = [a.format(url=server.base_url) for a in args]
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", *args, "--max-seeds", "1", "--d-factor", "0",
                     "--out", out, "-q", *extra, env=env)
        elapsed = time.monotonic() - started
    assert SECRET not in result.output
    if out.exists():
        assert SECRET not in out.read_text()
    return result, server, out, elapsed


def max_tokens_of(shape: str, body: dict) -> int | None:
    return body.get("max_tokens") if shape == "openai" else body.get("generationConfig", {}).get("maxOutputTokens")


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    return request.param


def test_plain_success_sends_schema_natively(cli, tmp_path, backend):
    result, server, out, _ = run(cli, tmp_path, backend, [])
    assert result.exit_code == 0, result.output
    assert [r["messages"][-1]["content"] for r in read_jsonl(out)] == ["Start with one shared hour"]
    body = server.requests[0]
    if BACKENDS[backend][0] == "gemini":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"]["required"] == ["instruction", "response"]
        assert server.headers[0]["x-goog-api-key"] == SECRET
        assert "models/gemini-test:generateContent" in server.paths[0]
    else:
        assert body["response_format"]["json_schema"]["schema"]["required"] == ["instruction", "response"]
        assert server.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_429_with_retry_after_is_honoured(cli, tmp_path, backend):
    result, server, out, elapsed = run(cli, tmp_path, backend, [Fault(429, {"Retry-After": "1"})])
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 2 and len(read_jsonl(out)) == 1
    assert elapsed >= 1.0
    assert "429s 1" in result.output


def test_5xx_is_retried_with_backoff(cli, tmp_path, backend):
    result, server, out, _ = run(cli, tmp_path, backend, [Fault(500), Fault(503)])
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 3 and len(read_jsonl(out)) == 1


def test_slow_reply_times_out_and_is_retried(cli, tmp_path, backend):
    result, server, out, _ = run(cli, tmp_path, backend, [Fault(delay=2.5)], "--option", "timeout=1")
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 2 and len(read_jsonl(out)) == 1


def test_malformed_json_is_reasked_with_the_error(cli, tmp_path, backend):
    result, server, out, _ = run(cli, tmp_path, backend, [Fault(content="Sure! Here you go: {not json")])
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 2 and len(read_jsonl(out)) == 1
    second = json.dumps(server.requests[1])
    assert "not usable" in second and "Here you go" in second


def test_truncated_json_is_reasked_with_more_room(cli, tmp_path, backend):
    shape = BACKENDS[backend][0]
    finish = "length" if shape == "openai" else "MAX_TOKENS"
    result, server, out, _ = run(cli, tmp_path, backend, [Fault(content='{"instruction": "Do', finish=finish)])
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 2 and len(read_jsonl(out)) == 1
    assert max_tokens_of(shape, server.requests[1]) == 2 * 256


def test_401_stops_the_run_without_a_ledger_entry(cli, tmp_path, backend):
    result, server, out, _ = run(cli, tmp_path, backend, [Fault(401)] * 3)
    assert result.exit_code == 1
    assert len(server.requests) == 1
    assert "HTTP 401" in result.output and "rerun the same command" in result.output
    assert "Traceback" not in result.output
    with sqlite3.connect(f"{out}.journal.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM failures").fetchone() == (0,)


def test_400_is_permanent_and_not_retried(cli, tmp_path, backend):
    result, server, _out, _ = run(cli, tmp_path, backend, [Fault(400)] * 3)
    assert result.exit_code == 1
    assert len(server.requests) == 1
    assert "transport 1" in result.output
    assert "Traceback" not in result.output


def test_failure_ledger_and_retry_failed(cli, tmp_path):
    result, server, out, _ = run(cli, tmp_path, "openai", [Fault(400)])
    assert result.exit_code == 1 and len(server.requests) == 1
    # a plain rerun skips the ledgered failure and pays nothing
    result, server, out, _ = run(cli, tmp_path, "openai", [])
    assert len(server.requests) == 0
    assert "earlier failures 1" in result.output
    result, server, out, _ = run(cli, tmp_path, "openai", [], "--retry-failed")
    assert result.exit_code == 0 and len(server.requests) == 1
    assert len(read_jsonl(out)) == 1
