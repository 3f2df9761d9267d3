"""Near copies inside a lineage: a derivation that repeats its parent's turns is eliminated as a
lineage near-copy, a conversation that grows by new turns is kept, and ``janus stats`` reports near
duplicates over whole records as well as over what each record adds."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from conftest import fake_secret, read_jsonl, run_janus
from servers import OpenAICompatibleServer, chat_completion

from janus_core.data.report import build_report
from janus_core.run.journal import Journal, journal_path

SECRET = fake_secret("openai-key")

SPEC = """\
description: A dental clinic's front desk.
user_role: PATIENT
assistant_role: RECEPTIONIST
output_type: conversation
generation: turns
seed_directions: [general]
derivational_directions: [in-depth]
limits: {turns: 2, message_chars: 400}
filters: [duplicate]  # the check under test alone (text-quality would also catch a turn repeated word for word)
model:
  backend: openai
  name: desk
  options: {base_url: "URL"}
"""
DIAGRAM = """erDiagram
    PATIENT ||--o{ APPOINTMENT : books
    RECEPTIONIST ||--o{ APPOINTMENT : schedules
"""
SEEDS = 5  # the diagram's seed contexts: two relationships, three neighbourhoods

VOCAB = ("appointment booking calendar cleaning dentist filling forms insurance invoice morning evening "
         "parking payment reminder receipt referral surgery waiting x-ray allergy anxiety braces checkup crown "
         "discount emergency family hygiene implant medicine nurse phone record schedule toothache weekend "
         "whitening address card deposit doctor email letter monday friday number office plan price room").split()


def _words(key: str, count: int) -> str:
    rng = random.Random(key)
    return " ".join(rng.choice(VOCAB) for _ in range(count))


def server_reply(copying: bool):
    """The user simulator asks a new question about its topic each turn (or, ``copying``, asks the
    conversation's first question again once the seed's two turns are there); the assistant gives
    each question the same answer every time (a repeated question, the same answer once more)."""
    first_question: dict[str, tuple[str, int]] = {}  # an answer -> its conversation's first question, turns
    answers: dict[str, str] = {}  # a question -> its answer

    def reply(body):
        last = body["messages"][-1]["content"]
        if not last.endswith("Message:"):  # the assistant: the question is the last line, after the facts
            question = last.splitlines()[-1].split(": ", 1)[1]
            asked = [m["content"] for m in body["messages"][3:-1] if m["role"] == "user"] + [question]
            again = next((q for q in answers if question == f"{q} Again."), None)
            answer = f"{answers[again]} Again." if again else f"Sure: {_words(last, 24)}."
            answers[question] = answer
            first_question[answer[:200]] = (asked[0], len(asked))
            return 200, chat_completion(answer, model=body["model"]), {}
        said = re.search(r'said: "(.*?)(?:\.\.\.)?"', last)
        known = first_question.get(said.group(1)[:200]) if said else None
        if copying and known and known[1] >= 2:
            return 200, chat_completion(f"{known[0]} Again.", model=body["model"]), {}
        topic = re.search(r"find out about (.+?)\.\nMessage:", last).group(1)
        return 200, chat_completion(f"Question on {topic}: {_words(last + str(body.get('seed')), 20)}?",
                                    model=body["model"]), {}
    return reply


def generate(tmp_path: Path, copying: bool, *args: str):
    spec = tmp_path / "spec"
    spec.mkdir(exist_ok=True)
    (spec / "diagram.mermaid").write_text(DIAGRAM)
    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(server_reply(copying)) as server:
        (spec / "setup.yaml").write_text(SPEC.replace("URL", server.base_url))
        result = run_janus("generate", spec, "--out", out, "--rounds", "1", "-q", *args,
                           env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    with Journal(journal_path(out)) as journal:
        failures = [(f["reason"], f["detail"]) for f in journal.failures()]
    return out, read_jsonl(out), failures


def test_a_derivation_that_repeats_its_parents_turn_is_a_lineage_near_copy(tmp_path):
    _, records, failures = generate(tmp_path, copying=True)
    assert len(records) == SEEDS and all(r["depth"] == 0 for r in records)
    copies = [detail for reason, detail in failures if reason == "eliminated:duplicate"]
    assert len(copies) >= SEEDS, failures  # each derivation (and its one retry, where it repeats again)
    assert all(re.match(r"lineage near-copy: \d+% of what it adds is already in record \w+ of its lineage", d)
               for d in copies)


def test_a_conversation_that_grows_by_new_turns_is_kept(tmp_path):
    _, records, failures = generate(tmp_path, copying=False)
    assert len(records) == 2 * SEEDS and not failures


def test_stats_counts_near_duplicates_over_whole_records_too(tmp_path):
    out, records, _ = generate(tmp_path, True, "--no-filters")
    assert len(records) == 2 * SEEDS
    report = build_report(out)
    assert report["near_duplicates"] == 0  # what each derivation adds is one turn: like no earlier text
    assert report["near_duplicates_whole"] == SEEDS and report["near_duplicate_rate_whole"] == 0.5
    stats = run_janus("stats", out, "--no-report")
    assert "over what each record adds to its parent (its new turns): 0.0% (0 records)" in stats.stdout
    assert "over whole records (every turn): 50.0% (5 records)" in stats.stdout
    as_json = json.loads(run_janus("stats", out, "--json").stdout)
    assert as_json["near_duplicates_whole"] == SEEDS


def test_lineages_measure_what_is_added_against_each_whole_conversation():
    from janus_core.data.dedup import Lineages

    turns = [" ".join(f"w{i}x{j}" for j in range(40)) for i in range(4)]
    lineages = Lineages()
    lineages.add("s", "s", "\n".join(turns))
    found = lineages.copied("s", turns[0] + "\n" + turns[1])
    assert found is not None and found[0] == "s" and found[1] == 1.0
    assert lineages.copied("other", turns[0]) is None  # another lineage: not compared
    fresh = " ".join(f"new{j}" for j in range(40))
    assert lineages.copied("s", fresh) is None
    # half new, half copied: under 0.8
    assert lineages.copied("s", turns[0][: len(turns[0]) // 2] + " " + fresh[: len(fresh) // 2]) is None
    # a parent given from outside (--input) is compared though never remembered
    assert lineages.copied("g", turns[2], ("g", turns[2] + " " + turns[3]))[0] == "g"
