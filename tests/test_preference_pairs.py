"""Preference pairs compare whole answers, record the temperatures used and need a judge that can
tell the answers apart; system-message records written turn by turn keep the spec's system_prompt.
Stand-in servers on 127.0.0.1 play the user simulator, the assistant and the judge."""

from __future__ import annotations

import asyncio
import json
import random
import re
from pathlib import Path

import pytest
from conftest import fake_secret, read_jsonl, run_janus
from servers import OpenAICompatibleServer, chat_completion

from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.contracts import Completion
from janus_core.sdk.records import Record

SECRET = fake_secret("openai-key")

SPEC = """\
description: A dental clinic's front desk.
user_role: PATIENT
assistant_role: RECEPTIONIST
output_type: {output_type}
generation: turns
system_prompt: You are the clinic's calm {{{{ assistant_role }}}}.
seed_directions: [general]
derivational_directions: [in-depth]
limits: {{turns: 1, message_chars: 300}}
model:
  backend: openai
  name: desk
  options: {{base_url: "{assistant}"}}
  roles:
    user: {{name: patient, options: {{base_url: "{other}"}}}}
    judge: {{name: judge, options: {{base_url: "{other}"}}}}
"""
DIAGRAM = """erDiagram
    PATIENT ||--o{ APPOINTMENT : books
    RECEPTIONIST ||--o{ APPOINTMENT : schedules
"""
#: seed contexts the diagram walks to (two relationships, three neighbourhoods): one record each
SEEDS = 5
WHOLE = "Bring your insurance card and arrive ten minutes early, because the form is required."


def write_spec(folder: Path, output_type: str, assistant: str, other: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "setup.yaml").write_text(SPEC.format(output_type=output_type, assistant=assistant, other=other))
    (folder / "diagram.mermaid").write_text(DIAGRAM)
    return folder


def judge_by_text(body):
    """The user simulator, and a judge that scores the answer it sees naming 'insurance' 5, others 2."""
    if "ratings" in json.dumps(body.get("response_format") or {}):
        shown = re.split(r"Response \d+:\n", body["messages"][-1]["content"])[1:]
        ratings = [{"score": 5 if "insurance" in text else 2, "rationale": "names what to bring" if
                    "insurance" in text else "vague"} for text in shown]
        return 200, chat_completion(json.dumps({"ratings": ratings}), model=body["model"]), {}
    topic = abs(hash(body["messages"][-1]["content"])) % 1000
    return 200, chat_completion(f"What do I need for my first visit, number {topic}?", model=body["model"]), {}


def cutting_assistant(room: int):
    """An assistant whose answer fits only ``room`` output tokens or more; with less it is cut by
    length mid-word. Answers at a low temperature do not name the insurance card."""
    def reply(body):
        if body["max_tokens"] < room:
            return 200, chat_completion("Bring your insurance card and arrive ten minutes early, because the "
                                        "form is requir", model=body["model"], finish_reason="length"), {}
        text = WHOLE if body["temperature"] > 0.5 else "Please arrive ten minutes early for the form."
        return 200, chat_completion(text, model=body["model"]), {}
    return reply


def run(tmp_path, output_type, assistant_reply, other_reply=judge_by_text, *args):
    with OpenAICompatibleServer(assistant_reply) as assistant, OpenAICompatibleServer(other_reply) as other:
        spec = write_spec(tmp_path / "spec", output_type, assistant.base_url, other.base_url)
        out = tmp_path / "o.jsonl"
        result = run_janus("generate", spec, "--out", out, "--no-filters", "--d-factor", "0", "-q", *args,
                           env={"OPENAI_API_KEY": SECRET})
    records = read_jsonl(out) if out.exists() else []
    with Journal(journal_path(out)) as journal:
        failures = [(f["reason"], f["detail"]) for f in journal.failures()]
    return result, records, failures, assistant.requests


def test_a_cut_answer_is_asked_for_again_with_more_room_and_pairs_hold_whole_answers(tmp_path):
    # the turn's own request has 100 tokens (300 characters / 3): cut; the re-ask has 200: whole
    result, records, failures, asked = run(tmp_path, "preference", cutting_assistant(200))
    assert result.returncode == 0, result.stderr
    assert len(records) == SEEDS and not failures
    for r in records:
        meta = r["meta"]
        assert all(a.endswith(".") for a in meta["responses"]), meta["responses"]
        assert not any("requir" in a and "required" not in a for a in meta["responses"])
        assert meta["temperatures"] == [0.8, 0.3]  # the run's temperature, then the farther of 0.3 and 1.0
        assert meta["chosen"] == WHOLE and r["messages"][-1]["content"] == WHOLE
    extra = [b for b in asked if b["max_tokens"] >= 200]
    assert extra and {b["temperature"] for b in extra} == {0.8, 0.3}


def test_an_answer_cut_again_makes_no_pair(tmp_path):
    result, records, failures, _ = run(tmp_path, "preference", cutting_assistant(10_000))
    assert records == [] and len(failures) == SEEDS
    # the record's own turn is cut every time it is asked (with twice the room each time), so the job
    # fails there, before a pair could hold a cut answer
    assert all(reason == "cut" and "no full sentence" in detail for reason, detail in failures)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("ratings", [
    [{"score": 3, "rationale": "fine"}, {"score": 3, "rationale": "also fine"}],  # the same score for both
    [{"score": 1, "rationale": "..."}, {"score": 2, "rationale": "..."}],  # a verdict with no reasons
])
def test_a_judge_that_cannot_tell_the_answers_apart_makes_no_pair(tmp_path, ratings):
    def other(body):
        if "ratings" in json.dumps(body.get("response_format") or {}):
            return 200, chat_completion(json.dumps({"ratings": ratings}), model=body["model"]), {}
        return judge_by_text(body)

    _, records, failures, _ = run(tmp_path, "preference", cutting_assistant(0), other)
    assert records == [] and len(failures) == SEEDS
    assert {reason for reason, _ in failures} == {"eliminated:preference"}
    assert all(detail.startswith("judge could not tell the answers apart") for _, detail in failures)
    stats = run_janus("stats", tmp_path / "o.jsonl", "--no-report")
    assert "eliminated:preference" in stats.stdout


def test_system_message_turns_keep_the_spec_system_prompt(tmp_path):
    result, records, _, asked = run(tmp_path, "system-message", cutting_assistant(0))
    assert result.returncode == 0, result.stderr
    assert len(records) == SEEDS
    for r in records:
        system = r["messages"][0]
        assert system["role"] == "system"
        assert system["content"].startswith("You are the clinic's calm RECEPTIONIST. The person you are "
                                            "helping prefers:")
        assert "You are a helpful assistant" not in system["content"]
        for p in r["meta"]["preference_set"]:
            assert f"- {p['dimension']} ({p['subdimension']}): {p['preference']}" in system["content"]
    # the assistant answered under that system message, preferences and all (and the rule on facts after it)
    systems = {b["messages"][0]["content"].rsplit("\n", 1)[0] for b in asked}
    assert systems == {r["messages"][0]["content"] for r in records}


# --- the pair itself, with a scripted ask ----------------------------------------------------------

def _record(answer: str) -> Record:
    return Record(messages=[{"role": "user", "content": "What do I bring?"}, {"role": "assistant", "content": answer}],
                  id="r", seed_id="r", parent_id=None, direction="general", walk={}, model="m", prompt_sha256="0",
                  output_type="preference")


def _finish(first: str, second: str, judge, temperature: float = 0.2, seed: int = 0):
    from janus_plugins.outputs.preferences import Preference

    preference = Preference()
    preference.generation, preference.reply_temperature = "turns", temperature
    asked: list[dict] = []

    async def ask(messages, schema, temperature=0.0, seed=0, raw=False, role="judge", max_tokens=None,
                  completion=False):
        asked.append({"role": role, "temperature": temperature, "max_tokens": max_tokens})
        if role == "judge":
            return judge(messages[-1]["content"])
        return Completion(text=second, model="m", finish_reason="stop")

    record = asyncio.run(preference.finish(_record(first), ask, random.Random(seed)))
    return record, asked


def test_the_judge_sees_the_answers_in_a_drawn_order_and_scores_map_back():
    def by_position(prompt):  # a judge that always prefers the second answer it is shown
        return {"ratings": [{"score": 2, "rationale": "vague"}, {"score": 4, "rationale": "specific"}]}

    chosen_first = set()
    for seed in range(8):
        record, asked = _finish("Bring your card.", "Bring your card and a form.", by_position, seed=seed)
        meta = record.meta
        second_shown = meta["shown_order"][1]
        assert meta["scores"][second_shown] == 4 and meta["chosen"] == meta["responses"][second_shown]
        assert meta["temperatures"] == [0.2, 1.0]  # the reply's, then the farther of 0.3 and 1.0
        assert [a["temperature"] for a in asked if a["role"] == "assistant"] == [1.0]
        chosen_first.add(meta["chosen"] == "Bring your card.")
    assert chosen_first == {True, False}  # the position the judge favours is not one temperature


def test_identical_answers_make_no_pair_and_the_judge_is_not_asked():
    from janus_core.sdk.contracts import NoRecord

    with pytest.raises(NoRecord, match="the same text"):
        _finish("Bring your card.", "bring your CARD!", lambda prompt: pytest.fail("the judge was asked"))
