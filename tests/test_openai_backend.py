"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import itertools
import json

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl, run_janus
from servers import OpenAICompatibleServer, chat_completion

SECRET = fake_secret("openai-key")


def conversation_reply(body):
    prompt = body["messages"][-1]["content"]
    turns = [{"user": f"user says {len(prompt)}: how do we stop our fights?",
              "assistant": "assistant answers: try a calm weekly talk about money"}]
    return 200, chat_completion(json.dumps({"turns": turns}), model=body["model"]), {}


def test_generate_through_openai_compatible_server(tmp_path):
    out = tmp_path / "data.jsonl"
    with OpenAICompatibleServer(conversation_reply) as server:
        result = run_janus("generate", SAMPLES / "marriage_counsel", "--backend", "openai", "--model", "my-model",
                           "--option", f"base_url={server.base_url}", "--out", out, "-q", "--no-filters",
                           env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    # 3 seed contexts x 1 seed direction; each seed x 2 derivational directions.
    assert len(records) == 9
    seeds = [r for r in records if r["parent_id"] is None]
    derived = [r for r in records if r["parent_id"] is not None]
    assert len(seeds) == 3 and len(derived) == 6
    assert {r["model"] for r in records} == {"my-model"}
    # the request carried the schema natively and the key only in the Authorization header
    first = server.requests[0]
    assert first["model"] == "my-model"
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"]["properties"]["turns"]["maxItems"] == 3
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in result.stdout + result.stderr + out.read_text()
    # a derivation keeps the conversation it continues
    by_id = {r["id"]: r for r in records}
    for r in derived:
        parent = by_id[r["parent_id"]]
        assert r["messages"][: len(parent["messages"])] == parent["messages"]
        assert len(r["messages"]) > len(parent["messages"])
        assert r["seed_id"] == parent["id"] and r["depth"] == 1
    # derivational prompts show the record being evolved
    derive_prompts = [b["messages"][-1]["content"] for b in server.requests if "existing example" in
                      b["messages"][-1]["content"]]
    assert len(derive_prompts) == 6
    assert all("[COUNSELEE] user says" in p for p in derive_prompts)


def test_bad_json_is_retried_then_counted(tmp_path):
    counter = itertools.count()

    def flaky(body):
        n = next(counter)
        if n % 2 == 0:
            return 200, chat_completion("this is not json at all"), {}
        reply = {"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"}
        return 200, chat_completion(json.dumps(reply)), {}

    out = tmp_path / "data.jsonl"
    with OpenAICompatibleServer(flaky) as server:
        result = run_janus("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai",
                           "--option", f"base_url={server.base_url}", "--concurrency", "1", "--d-factor", "0",
                           "--out", out, "-q", "--no-filters", env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    assert len(records) == 6  # 3 contexts x 2 seed directions, each needing a second attempt
    assert len(server.requests) == 12
    assert all(r["messages"] == [{"role": "user", "content": "Plan our weekly budget meeting"},
                                 {"role": "assistant", "content": "Start with one shared hour"}] for r in records)


def test_permanent_http_error_is_a_failure_not_a_crash(tmp_path):
    def refuse(body):
        return 400, {"error": {"message": "invalid request", "type": "invalid_request_error"}}, {}

    out = tmp_path / "data.jsonl"
    with OpenAICompatibleServer(refuse) as server:
        result = run_janus("generate", SAMPLES / "marriage_counsel", "--backend", "openai", "--retries", "0",
                           "--option", f"base_url={server.base_url}", "--option", "max_retries=0",
                           "--out", out, env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "transport 3" in result.stderr
    assert "HTTP 400" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_missing_key_is_a_clear_error(tmp_path):
    result = run_janus("generate", SAMPLES / "marriage_counsel", "--backend", "openai", "--out",
                       tmp_path / "x.jsonl", env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
    assert result.returncode == 1
    assert "OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("structured, expected", [("json_object", {"type": "json_object"}), ("none", None)])
def test_structured_modes(tmp_path, structured, expected):
    with OpenAICompatibleServer(conversation_reply) as server:
        result = run_janus("generate", SAMPLES / "marriage_counsel", "--backend", "openai", "--max-seeds", "1",
                           "--d-factor", "0", "--option", f"base_url={server.base_url}",
                           "--option", f"structured={structured}", "--out", tmp_path / "o.jsonl", "-q",
                           env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    assert server.requests[0].get("response_format") == expected
