"""Turn-by-turn role-play generation (generation: turns) and a model per role."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl, run_janus
from servers import OpenAICompatibleServer, chat_completion

SECRET = fake_secret("openai-key")

SPEC = """\
description: Weekly marriage guidance sessions between a counselor and a client.
user_role: COUNSELEE
assistant_role: COUNSELOR
output_type: {output_type}
generation: turns
system_prompt: You are a warm, professional {{{{ assistant_role }}}}.
derivational_directions: [in-depth]
limits: {{turns: 2, message_chars: 300}}
model:
  backend: openai
  name: big
  options: {{base_url: "{assistant}"}}
  roles:
    user: {{name: small, options: {{base_url: "{user}"}}, temperature: 1.1}}
    judge: {{name: judge-model, options: {{base_url: "{user}"}}}}
"""


def write_spec(folder: Path, **values: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "setup.yaml").write_text(SPEC.format(**values))
    (folder / "diagram.mermaid").write_text((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
    return folder


def user_reply(body):
    if "ratings" in json.dumps(body.get("response_format") or {}):
        ratings = {"ratings": [{"score": 5, "rationale": "clear"}, {"score": 2, "rationale": "vague"}]}
        return 200, chat_completion(json.dumps(ratings), model=body["model"]), {}
    prompt = body["messages"][-1]["content"]
    n = prompt.count("said:")
    need = prompt.rsplit("You want to find out about ", 1)[1].split(".\nMessage:")[0]
    # each conversation its own words (records alike would share one cached judge request)
    topic = hashlib.sha256(prompt.split(" said:")[0].encode()).hexdigest()[:6]
    return 200, chat_completion(f"COUNSELEE: We argue about money every week, question {n} ({topic}). "
                                f"What about {need}?", model=body["model"]), {}


def assistant_reply(body):
    asked = body["messages"][-1]["content"].splitlines()[-1]  # the user's message, after the facts
    return 200, chat_completion(f"Let us look at that together at {body['temperature']}: {asked[-40:]}.",
                                model=body["model"]), {}


def test_user_turns_and_assistant_turns_go_to_their_own_servers(tmp_path):
    with OpenAICompatibleServer(user_reply) as users, OpenAICompatibleServer(assistant_reply) as assistants:
        spec = write_spec(tmp_path / "spec", output_type="conversation", user=users.base_url,
                          assistant=assistants.base_url)
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--out", out, "--no-filters", "--log-json",
                           env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    seeds = [r for r in records if r["depth"] == 0]
    assert len(seeds) == 3 and len(records) == 6
    # plain text, one request per turn: 2 user turns for a seed, 1 for a derivation
    assert len(users.requests) == 3 * 2 + 3 and len(assistants.requests) == 3 * 2 + 3
    assert all("response_format" not in b for b in users.requests + assistants.requests)
    assert {b["model"] for b in users.requests} == {"small"} and {b["model"] for b in assistants.requests} == {"big"}
    assert {b["temperature"] for b in users.requests} == {1.1}
    # the user simulator sees its role and what the assistant said; the assistant its system message and the turns
    assert all("You are a counselee" in b["messages"][-1]["content"] for b in users.requests)
    later = [b for b in users.requests if "The counselor said:" in b["messages"][-1]["content"]]
    assert len(later) == 3 + 3  # the second turn of each seed, the one turn of each derivation
    for body in assistants.requests:
        roles = [m["role"] for m in body["messages"]]
        assert roles[0] == "system" and roles[-1] == "user" and roles[1::2] == ["user"] * len(roles[1::2])
        assert body["messages"][0]["content"].startswith("You are a warm, professional COUNSELOR.\n")
    for r in records:
        roles = [m["role"] for m in r["messages"]]
        assert roles == ["system"] + ["user", "assistant"] * ((len(roles) - 1) // 2)
        users_said = [m["content"] for m in r["messages"] if m["role"] == "user"]
        assert all(text.startswith("We argue about money") for text in users_said)  # role label removed
        # who wrote each turn
        assert [(t["role"], t["model"]) for t in r["usage"]["turns"]][:2] == [("user", "small"), ("assistant", "big")]
        assert r["model"] == "big"
    derived = [r for r in records if r["depth"] == 1]
    by_id = {r["id"]: r for r in records}
    for r in derived:
        parent = by_id[r["parent_id"]]["messages"]
        assert r["messages"][: len(parent)] == parent and len(r["messages"]) == len(parent) + 2
    summary = next(json.loads(line) for line in reversed(result.stderr.splitlines()) if '"summary"' in line)
    by_model = summary["by_model"]
    assert by_model["openai/small"]["requests"] == 9 and by_model["openai/big"]["requests"] == 9


def test_preference_answers_are_plain_turns_and_the_judge_has_its_own_model(tmp_path):
    with OpenAICompatibleServer(user_reply) as users, OpenAICompatibleServer(assistant_reply) as assistants:
        spec = write_spec(tmp_path / "spec", output_type="preference", user=users.base_url,
                          assistant=assistants.base_url)
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--out", out, "--no-filters", "--d-factor", "0", "-q",
                           env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    assert len(records) == 3
    judged = [b for b in users.requests if b["model"] == "judge-model"]
    assert len(judged) == 3 and all(b.get("response_format") for b in judged)
    # two answers per record, both from the assistant's model as plain text
    assert len(assistants.requests) == 3 * 2 and all("response_format" not in b for b in assistants.requests)
    for r in records:
        # the judge rates by position; the answers are shown in an order drawn per record
        scores, shown = r["meta"]["scores"], r["meta"]["shown_order"]
        assert len(r["meta"]["responses"]) == 2 and scores == ([5, 2] if shown == [0, 1] else [2, 5])
        assert r["messages"][-1]["content"] == r["meta"]["chosen"] == r["meta"]["responses"][scores.index(5)]


TURN_BACKEND = '''
import asyncio, json, os
from janus_core import hookimpl
from janus_core.sdk.contracts import Backend, Completion

class Talker(Backend):
    """Answers in plain text after 0.15 s and logs every answered request to CALLS_LOG."""
    name = "talker"
    default_generation = "turns"
    async def complete(self, request):
        await asyncio.sleep(0.15)
        prompt = request.messages[-1]["content"]
        with open(os.environ["CALLS_LOG"], "a") as log:
            log.write(json.dumps([request.seed, request.messages[0]["content"][:60], prompt[-120:]]) + "\\n")
        need = prompt.rsplit("find out about ", 1)[-1].split(".\\nMessage:")[0]
        text = f"Can I ask about {need} on Friday?" if prompt.endswith("Message:") \\
            else "Yes, Friday at nine works for " + prompt.splitlines()[-1][-40:]
        return Completion(text=text, model="talker", tokens_in=10, tokens_out=5)

@hookimpl
def register_backends(register):
    register(Talker)
'''


def test_a_conversation_killed_mid_way_resumes_without_paying_for_a_turn_twice(tmp_path):
    plugin = tmp_path / "talker.py"
    plugin.write_text(TURN_BACKEND)
    out, calls = tmp_path / "o.jsonl", tmp_path / "calls.log"
    cmd = [sys.executable, "-m", "janus_core.cli", "--plugin", str(plugin), "generate", str(SAMPLES / "clinic"),
           "--backend", "talker", "--concurrency", "1", "--max-seeds", "2", "--d-factor", "0", "--out", str(out),
           "-q", "--no-filters"]
    env = {**os.environ, "CALLS_LOG": str(calls)}
    for kill_after in (4, 9):  # clinic has 3 user turns: 6 requests a record; kill inside a conversation
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        deadline = time.time() + 60
        while time.time() < deadline and (not calls.exists() or len(calls.read_text().splitlines()) < kill_after):
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    records_before = len(out.read_text().splitlines()) if out.exists() else 0
    assert records_before <= 1  # the kills fell inside conversations
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    records = read_jsonl(out)
    assert len(records) == 2 and all(len(r["messages"]) == 1 + 3 * 2 for r in records)
    answered = [tuple(json.loads(line)) for line in calls.read_text().splitlines()]
    assert len(set(answered)) == 2 * 6
    # only the one request in flight at each kill may be answered again
    assert len(answered) - len(set(answered)) <= 2


def test_one_shot_stays_available_and_bad_generation_values_are_located(tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "diagram.mermaid").write_text((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
    (spec / "setup.yaml").write_text("user_role: A\nassistant_role: B\ngeneration: turn-by-turn\n")
    result = run_janus("validate", spec)
    assert result.returncode != 0 and "setup.yaml:3:" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    (spec / "setup.yaml").write_text("user_role: A\nassistant_role: B\nmodel:\n  roles:\n    usr: {name: x}\n")
    result = run_janus("validate", spec)
    assert result.returncode != 0 and "setup.yaml:5:" in result.stderr + result.stdout
    (spec / "setup.yaml").write_text("user_role: A\nassistant_role: B\nmodel:\n  roles:\n    user: {nam: x}\n")
    result = run_janus("validate", spec)
    assert result.returncode != 0 and "setup.yaml:5:" in result.stderr + result.stdout


def test_one_shot_generation_sends_one_json_request_per_record(tmp_path):
    def reply(body):
        turns = [{"user": "Where do we start?", "assistant": "With one honest talk."}]
        return 200, chat_completion(json.dumps({"turns": turns}), model=body["model"]), {}

    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "diagram.mermaid").write_text((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
    text = (SAMPLES / "marriage_counsel" / "setup.yaml").read_text() + "\ngeneration: one-shot\n"
    (spec / "setup.yaml").write_text(text)
    with OpenAICompatibleServer(reply) as server:
        result = run_janus("generate", spec, "--backend", "openai", "--option", f"base_url={server.base_url}",
                           "--out", tmp_path / "o.jsonl", "-q", "--no-filters", env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 9 and all(b.get("response_format") for b in server.requests)


@pytest.mark.parametrize("text, cleaned", [
    ('COUNSELOR: "We can start there."\nCOUNSELEE: thanks', "We can start there."),
    ("**Counselee:** I feel unheard.", "I feel unheard."),
    ("  plain   words  ", "plain words"),
])
def test_turn_text_is_cleaned(text, cleaned):
    from janus_core.plan.turns import RolePlay

    class FakePlan:
        class setup:
            user_role, assistant_role = "COUNSELEE", "COUNSELOR"

        class limits:
            message_chars = 200

    assert RolePlay(FakePlan()).clean(text, truncated=False) == cleaned


def test_a_cut_turn_ends_at_its_last_full_sentence_or_is_asked_again():
    from janus_core.plan.turns import _sentences

    assert _sentences("We fight about money. My wife wants a new car and I think we can") == "We fight about money."
    assert _sentences("I feel we have drifted apart. We barely talk. Yesterday she") == \
        "I feel we have drifted apart. We barely talk."
    # no full sentence: nothing to keep, so the turn is asked for again
    assert _sentences("It is normal for families dealing with addiction to seek help, but it is hard when") == ""
    play = _play()
    assert play.check("It is normal to seek help, but it is hard when", True, role="assistant")[1].startswith("cut")


def _play():
    from janus_core.plan.turns import RolePlay

    class FakePlan:
        class setup:
            user_role, assistant_role = "COUNSELEE", "COUNSELOR"

        class limits:
            message_chars = 400

    return RolePlay(FakePlan())


def test_a_turn_in_the_other_sides_voice_is_asked_again():
    play = _play()
    assert play.clean("[COUNSELOR] I'm glad you came forward with this.", False, role="user") == ""
    assert play.clean("COUNSELEE: thanks, that helps me a lot.", False, role="assistant") == ""
    # its own label is only removed
    assert play.clean("COUNSELEE: We argue about money.", False, role="user") == "We argue about money."
    # an answer that copies the worked example rather than the brief is asked for again
    assert play.check("If you would rather eat in your room, it is 5 pounds extra.", False,
                      role="assistant")[1].startswith("echoed-example")
    # an answer that copies the prompt's facts list is asked for again
    assert play.check("- The frequency: weekly. - The start date: 2024-02-14.", False, role="assistant")[1] \
        .startswith("echoed-facts")


def test_an_opening_copied_from_the_prompt_is_dropped():
    prompt = [{"role": "user", "content": "You want to talk about: money.\nYour aim: go deeper, add specific "
                                          "details and ask harder questions.\nWrite only your next message."}]
    text = "Your aim: go deeper, add specific details and ask harder questions. Why do we fight over rent?"
    assert _play().clean(text, False, role="user", prompt=prompt) == "Why do we fight over rent?"
    # a reply that is all copy stays (the text-quality filter judges it), and own words are kept
    assert _play().clean("Your aim: go deeper, add specific details and ask harder questions.", False,
                         role="user", prompt=prompt).startswith("Your aim")
    assert _play().clean("We fight over rent every month. It hurts.", False, role="user",
                         prompt=prompt) == "We fight over rent every month. It hurts."
