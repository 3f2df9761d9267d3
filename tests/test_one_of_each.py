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
