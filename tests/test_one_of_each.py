"""One way of doing each thing: the spec loader with diagram readers, the walk, the plan's counts,
the journal, what a record adds to its parent, the rubric."""

from __future__ import annotations

import json

from conftest import SAMPLES, fake_secret, read_jsonl
from servers import OpenAICompatibleServer, chat_completion

SECRET = fake_secret("openai-key")


def conversation_reply(body):
    prompt = body["messages"][-1]["content"]
    turns = [{"user": f"user asks {len(prompt)} {body.get('seed')}", "assistant": "the librarian answers"}]
    return 200, chat_completion(json.dumps({"turns": turns}), model=body["model"]), {}


def generate(cli, spec, out, *extra):
    with OpenAICompatibleServer(conversation_reply) as server:
        result = cli("generate", spec, "--backend", "openai", "--model", "m", "--option",
                     f"base_url={server.base_url}", "--out", out, "-q", "--no-filters", *extra,
                     env={"OPENAI_API_KEY": SECRET})
    assert result.exit_code == 0, result.output
    return server


def test_stats_of_a_sql_schema_run_reports_coverage(cli, tmp_path):
    out = tmp_path / "sql.jsonl"
    generate(cli, SAMPLES / "sql_schema", out, "--d-factor", "0")
    assert read_jsonl(out)
    result = cli("stats", out, "--json")
    assert result.exit_code == 0, result.output
    cov = json.loads(result.output)["coverage"]
    assert cov["spec"] is not None, cov.get("spec_problem")
    assert "spec_problem" not in cov
    assert cov["walks_planned"] > 0 and cov["entity_share"] > 0
    assert set(cov["entities"]) <= {"branch", "librarian", "member", "author", "book", "copy", "loan"}


def _plan_line(output: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith("plan:"))


def test_validate_dry_run_and_a_run_agree_on_rounds(cli, tmp_path):
    import shutil

    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "marriage_counsel", spec)
    with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
        f.write("\nrounds: 2\n")
    checked = cli("validate", spec)
    assert checked.exit_code == 0, checked.output
    dry = cli("generate", spec, "--backend", "openai", "--model", "m", "--dry-run", "--out", tmp_path / "d.jsonl",
              env={"OPENAI_API_KEY": SECRET})
    assert dry.exit_code == 0, dry.output
    # 3 seed contexts x 1 seed direction; round 1: 2 derivational directions each; round 2: one more each
    assert _plan_line(checked.output) == _plan_line(dry.output) == \
        "plan: 3 seed requests, 12 derivations (conversation); 2 rounds"
    assert "15 requests (3 seeds, 12 derivations)" in dry.output
    out = tmp_path / "o.jsonl"
    server = generate(cli, spec, out)
    derive_prompts = [b for b in server.requests if "existing example" in b["messages"][-1]["content"]]
    assert len(derive_prompts) == 12
    assert len(server.requests) == 15
    assert sorted(r["depth"] for r in read_jsonl(out)) == [0] * 3 + [1] * 6 + [2] * 6


def _record(rid, messages, parent=None):
    from janus_core.sdk.records import Record

    return Record(messages=messages, id=rid, seed_id=parent.id if parent else rid,
                  parent_id=parent.id if parent else None, direction="general", walk={}, model="m",
                  prompt_sha256="0", output_type="conversation", depth=1 if parent else 0)


def test_new_messages_of_a_continuation_a_rewrite_and_a_file_line():
    from janus_core.sdk.records import new_messages

    system = {"role": "system", "content": "Be kind."}
    first = [system, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    seed = _record("s", first)
    more = [{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]
    continued = _record("c", first + more, seed)
    rewritten = _record("r", [system, {"role": "user", "content": "a, harder"}, {"role": "assistant", "content": "e"}],
                        seed)
    assert new_messages(seed, None) == first[1:]
    assert new_messages(continued, seed) == more
    assert new_messages(rewritten, seed) == rewritten.messages[1:]
    assert new_messages(continued.to_dict(), seed.to_dict()) == more


def test_journal_closes_on_leaving_and_stats_read_it_not_the_file(tmp_path):
    import sqlite3

    import pytest

    from janus_core.data.report import build_report
    from janus_core.run.journal import Journal, journal_path

    out = tmp_path / "o.jsonl"
    with Journal.beside(out) as none:
        assert none is None and not journal_path(out).exists()
    messages = [{"role": "user", "content": "a question here"}, {"role": "assistant", "content": "an answer"}]
    with Journal(journal_path(out)) as journal:
        for i in range(3):
            journal.add_record(f"job{i}", _record(f"r{i}", messages))
        journal.add_failure("jobx", "schema", "bad", {})
        journal.export_jsonl(out)
    with pytest.raises(sqlite3.ProgrammingError):
        journal.count_records()
    out.write_text(out.read_text().splitlines()[0] + "\n")  # the file lost two lines; the journal has them
    report = build_report(out)
    assert report["records"] == 3 and report["failures"] == {"schema": 1}
    with Journal.beside(out) as journal:
        assert journal is not None and journal.count_records() == 3


def test_judge_and_preference_grade_with_the_same_rubric_wording():
    from janus_plugins.filters.judge import Judge
    from janus_plugins.outputs.preferences import RUBRIC, judge_prompt
    from janus_plugins.rubrics import Rubric

    from janus_core.spec.loading import load_plugged_spec

    assert isinstance(RUBRIC, Rubric)
    assert RUBRIC.prompt() in judge_prompt("help me", ["one", "two"])
    judge = Judge()
    judge.configure(load_plugged_spec(SAMPLES / "marriage_counsel"), None)
    record = _record("s", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    for rubric in judge.rubrics:
        assert isinstance(rubric, Rubric)
        assert rubric.prompt() in judge.prompt(record, rubric)
