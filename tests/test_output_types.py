"""follow-up, system-message and preference end to end, against an OpenAI-compatible stand-in."""

from __future__ import annotations

import json
import re

import pytest
from conftest import SAMPLES, read_jsonl
from servers import ProviderServer

KEY = {"OPENAI_API_KEY": "test-key-0123456789"}


def reply(body):
    """A valid reply for whichever schema the request carries, distinct per request."""
    schema = body["response_format"]["json_schema"]["schema"]
    required = schema["required"]
    prompt = body["messages"][-1]["content"]
    tag = f"{len(prompt)}-{body.get('seed')}"
    if required == ["ratings"]:  # the first answer (shown in either place) scores 5, the other 4
        shown = re.split(r"Response \d+:\n", prompt)[1:]
        scores = [5 if "Plan it together" in text else 4 for text in shown]
        return json.dumps({"ratings": [{"score": s, "rationale": f"reason {s}"} for s in scores]})
    if required == ["response"]:
        return json.dumps({"response": f"Another answer at temperature {body['temperature']} ({tag})."})
    if required == ["user", "assistant"]:
        return json.dumps({"user": f"But why would that work for us? ({tag})",
                           "assistant": f"Because a fixed calm time to talk eases the pressure on you both ({tag})."})
    return json.dumps({"instruction": f"How do we plan a calm evening? ({tag})",
                       "response": f"Plan it together on Sunday and agree on one rule for the evening ({tag})."})


def generate(cli, tmp_path, *args, spec="marriage_counsel"):
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", reply) as server:
        result = cli("generate", SAMPLES / spec, "--backend", "openai", "--option", f"base_url={server.base_url}",
                     "--out", out, "-q", *args, env=KEY)
    assert result.exit_code == 0, result.output
    return read_jsonl(out), server


def test_system_message_records_keep_their_preference_set(cli, tmp_path):
    records, server = generate(cli, tmp_path, "--type", "system-message")
    assert len(records) == 9
    by_id = {r["id"]: r for r in records}
    for r in records:
        system = r["messages"][0]
        # the spec's system_prompt opens it (in place of "You are a helpful assistant.")
        assert system["role"] == "system" and system["content"].startswith(
            "You are a warm, professional COUNSELOR giving marriage guidance. The person you are helping prefers:")
        prefs = r["meta"]["preference_set"]
        assert [p["dimension"] for p in prefs] == ["style", "background knowledge", "informativeness",
                                                    "harmlessness"]
        for p in prefs:
            assert f"- {p['dimension']} ({p['subdimension']}): {p['preference']}" in system["content"]
        if r["parent_id"]:  # an evolution answers under its parent's system message
            assert r["meta"]["preference_set"] == by_id[r["parent_id"]]["meta"]["preference_set"]
    generation = [b for b in server.requests
                  if b["response_format"]["json_schema"]["schema"]["required"] == ["instruction", "response"]]
    assert len(generation) == 9
    assert all("The assistant follows this system message:" in b["messages"][-1]["content"] for b in generation)
    assert len({json.dumps(r["meta"]["preference_set"]) for r in records if not r["parent_id"]}) > 1


def test_preference_records_hold_chosen_rejected_scores_and_rationale(cli, tmp_path):
    records, server = generate(cli, tmp_path, "--type", "preference", "--d-factor", "0")
    assert len(records) == 3
    assert len(server.requests) == 3 * 3  # first answer, a second one, the judge
    temperatures = sorted({b["temperature"] for b in server.requests})
    # the run's 0.8 for the first answer, the farther of 0.3 and 1.0 for the second, 0 for the judge
    assert temperatures == [0.0, 0.3, 0.8]
    for r in records:
        meta = r["meta"]
        assert len(meta["responses"]) == 2 and meta["scores"] == [5, 4] and meta["temperatures"] == [0.8, 0.3]
        assert meta["chosen"] == meta["responses"][0] and meta["rejected"] == meta["responses"][1]
        assert meta["responses"][1].startswith("Another answer at temperature 0.3")
        assert meta["rationales"] == ["reason 5", "reason 4"] and meta["margin"] == 1
        assert r["messages"][-1] == {"role": "assistant", "content": meta["chosen"]}
        assert r["usage"]["tokens_in"] == 3 * 11  # every request of the record is counted
    judge = next(b for b in server.requests if "rubric" in b["messages"][-1]["content"])
    assert "Response 1:" in judge["messages"][-1]["content"] and "Response 2:" in judge["messages"][-1]["content"]


def test_follow_up_grows_input_conversations_to_four_turns(cli, tmp_path):
    source = tmp_path / "in.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": "We keep fighting about money."},
                      {"role": "assistant", "content": "Let us look at how you decide on spending."}]},
        {"conversations": [{"user": "My husband works late.", "assistant": "How does that affect you?"},
                           {"user": "I feel alone.", "assistant": "That sounds hard."}]},
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    records, server = generate(cli, tmp_path, "--type", "follow-up", "--input", source, "--turns", "4")
    # the first grows by 3 turns, the second by 2; input conversations are not written again
    assert len(records) == 5
    final = [r for r in records if sum(m["role"] == "user" for m in r["messages"]) == 4]
    assert len(final) == 2
    assert sorted(r["messages"][0]["content"] for r in final) == ["My husband works late.",
                                                                  "We keep fighting about money."]
    by_id = {r["id"]: r for r in records}
    for r in records:
        parent = by_id.get(r["parent_id"])
        if parent:
            assert r["messages"][: len(parent["messages"])] == parent["messages"]
            assert len(r["messages"]) == len(parent["messages"]) + 2
    prompts = [b["messages"][-1]["content"] for b in server.requests
               if b["response_format"]["json_schema"]["schema"]["required"] == ["user", "assistant"]]
    assert len(prompts) == 5
    assert all("Users do not waste words on thanks or praise" in p for p in prompts)
    assert any("[COUNSELEE] I feel alone." in p for p in prompts)


def _turns(n: int, tag: str) -> dict:
    return {"messages": [m for i in range(n) for m in ({"role": "user", "content": f"Question {i} of {tag}."},
                                                      {"role": "assistant", "content": f"Answer {i} of {tag}."})]}


@pytest.mark.parametrize("log_json", [False, True])
def test_follow_up_says_which_conversations_were_already_at_turns(cli, tmp_path, log_json):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(_turns(n, f"row {i}")) for i, n in enumerate((1, 2, 3, 2))) + "\n")
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", reply) as server:
        result = cli("generate", SAMPLES / "marriage_counsel", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--out", out, "--type", "follow-up", "--input", source,
                     "--turns", "2", *(["--log-json", "-q"] if log_json else []), env=KEY)
    assert result.exit_code == 0, result.output
    # only the one-turn conversation grows; the two of 2 turns and the one of 3 are left as they were
    assert [sum(m["role"] == "user" for m in r["messages"]) for r in read_jsonl(out)] == [2]
    assert len(server.requests) == 1
    if log_json:
        summary = next(json.loads(line) for line in result.stderr.splitlines() if '"summary"' in line)
        assert (summary["records"], summary["already_at_turns"]) == (1, 3)
    else:
        assert ("3 input conversations already had 2 user turns or more (--turns 2) and were left as they were"
                in result.stderr)


def test_follow_up_from_seeds(cli, tmp_path):
    records, _ = generate(cli, tmp_path, "--type", "follow-up", "--turns", "3")
    assert len(records) == 3 * 3
    assert sorted(sum(m["role"] == "user" for m in r["messages"]) for r in records) == [1] * 3 + [2] * 3 + [3] * 3


def test_input_errors_are_located(cli, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
                      '{"text": "no conversation here"}\n')
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", source, "--dry-run")
    assert result.exit_code == 1
    assert f"{source}:2: not a conversation" in result.stderr
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "instruct", "--input", source, "--dry-run")
    assert result.exit_code == 1 and "--input is for output types that grow conversations" in result.stderr


@pytest.mark.parametrize("output_type", ["system-message", "preference", "follow-up"])
def test_dry_run_counts(cli, tmp_path, output_type):
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", output_type, "--dry-run", "--log-json",
                 "--out", tmp_path / "o.jsonl", "--turns", "3")
    estimate = json.loads(result.stdout)
    assert estimate["seed_requests"] == 3
    # 3 seeds x 2 derivational directions; follow-up: 3 seeds grown by 2 turns each
    assert estimate["derivation_requests"] == 6
