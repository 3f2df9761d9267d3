"""Output type 'tool-use': tasks planned from the walk, dialogues against a stand-in that calls tools,
every check a named elimination rule, records exported in the tool formats."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import has_local_model, read_jsonl
from janus_plugins.outputs.tool_use import checks, planner
from janus_plugins.outputs.tool_use.dialogue import DONE
from servers import OpenAICompatibleServer, chat_completion

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SECRET = "sk-test-tool-use"


class Oracle:
    """A stand-in model that knows each planned task (the planner is observed, not changed): as the
    assistant it makes the gold calls one by one, then answers with the facts; as the user it opens
    with the goal and says DONE. ``mode`` makes it misbehave in one way."""

    def __init__(self, mode: str = "good"):
        self.mode = mode
        self.tasks: dict[str, dict[str, Any]] = {}

    def observe(self, monkeypatch: pytest.MonkeyPatch, kinds: dict[str, int] | None = None) -> None:
        real = planner.plan_task

        def plan_task(world, entities, rng):
            task = real(world, entities, rng)
            if task is not None:
                self.tasks[task.goal] = task.to_meta()
            return task

        monkeypatch.setattr(planner, "plan_task", plan_task)
        if kinds is not None:
            monkeypatch.setattr(planner, "KINDS", kinds)

    def _task(self, text: str) -> dict[str, Any]:
        return next(t for goal, t in self.tasks.items() if goal in text)

    def calls(self, task: dict[str, Any], tools: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        gold = [(c["name"], c["arguments"]) for c in task["calls"]]
        if self.mode == "invalid":
            name, args = gold[0]
            return [(name, {**args, "no_such_field": 1}), *gold]
        if self.mode == "unknown":
            return [("cancel_everything", {}), *gold]
        if self.mode == "fails":
            get = next(t["function"] for t in tools if t["function"]["name"].startswith("get_")
                       and not any("enum" in p for p in t["function"]["parameters"]["properties"].values()))
            missing = {p: 987654 if s.get("type") == "integer" else "no such row"
                       for p, s in get["parameters"]["properties"].items()}
            return [(get["name"], missing), *gold]
        if self.mode == "state":  # reads only: the writes the goal asks for are never made
            writes = {"update_", "create_", "delete_"}
            return [(n, a) for n, a in gold if not n.startswith(tuple(writes))]
        return gold

    def reply(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        messages = body["messages"]
        text = messages[-1]["content"] or ""
        if "tools" not in body and "opening message" in text:  # the first request: the user's opening
            goal = next(g for g in self.tasks if g in text)
            return 200, chat_completion(json.dumps({"user": f"Hello, could you help me with this: {goal}"})), {}
        if "tools" not in body:  # the simulated user
            return 200, chat_completion(DONE), {}
        task = self._task(next(m["content"] for m in messages if m["role"] == "user"))
        plan = self.calls(task, body["tools"])
        made = sum(1 for m in messages if m["role"] == "tool")
        if made < len(plan):
            name, args = plan[made]
            payload = chat_completion("", finish_reason="tool_calls")
            payload["choices"][0]["message"]["tool_calls"] = [
                {"id": f"call_{made}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]
            return 200, payload, {}
        if self.mode == "facts":
            return 200, chat_completion("It is all taken care of."), {}
        told = "".join(f" The {f['fact']} is {f['value']}." for f in task["facts"])
        return 200, chat_completion(f"Done, I have made {len(plan)} calls for you.{told}"), {}


def _spec(tmp_path: Path, **extra: Any) -> Path:
    folder = tmp_path / "clinic"
    shutil.copytree(SAMPLES / "clinic", folder)
    setup = (folder / "setup.yaml").read_text()
    setup = setup.replace("output_type: conversation", "output_type: tool-use")
    for key, value in extra.items():
        setup += f"\n{key}: {json.dumps(value)}\n"
    (folder / "setup.yaml").write_text(setup)
    return folder


def _run(cli, tmp_path: Path, oracle: Oracle, *extra: str, spec: Path | None = None):
    out = tmp_path / "out.jsonl"
    with OpenAICompatibleServer(oracle.reply) as server:
        result = cli("generate", spec or _spec(tmp_path), "--backend", "openai", "--model", "test-model", "--option",
                     f"base_url={server.base_url}", "--out", out, "-q", "--max-seeds", "12", *extra,
                     env={"OPENAI_API_KEY": SECRET, "JANUS_CACHE_DIR": str(tmp_path / "cache")})
    return result, out


def _failures(out: Path) -> list[dict[str, Any]]:
    from janus_core.run.journal import Journal

    with Journal.beside(out) as journal:
        return journal.failures()


def test_good_dialogues_pass_every_check(cli, tmp_path, monkeypatch):
    oracle = Oracle()
    oracle.observe(monkeypatch)
    result, out = _run(cli, tmp_path, oracle)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    # two jobs may draw the same task on a small world: the duplicate filter keeps one
    assert {f["reason"] for f in _failures(out)} <= {"eliminated:duplicate"}
    assert len(records) >= 10
    kinds = Counter(r["meta"]["tool_use"]["task"]["kind"] for r in records)
    assert len(kinds) >= 3, kinds
    for r in records:
        assert r["output_type"] == "tool-use"
        assert r["meta"]["checks"] == {"tool-call-valid": True, "tool-call-executed": True, "final-state": True,
                                       "facts-told": True}
        task = r["meta"]["tool_use"]["task"]
        calls = [m for m in r["messages"] if m.get("tool_calls")]
        assert [c["tool_calls"][0]["function"]["name"] for c in calls] == [c["name"] for c in task["calls"]]
        assert sum(m["role"] == "tool" for m in r["messages"]) == len(task["calls"])
        assert {t["function"]["name"] for t in r["tools"]} >= {c["name"] for c in task["calls"]}
        assert r["meta"]["tool_use"]["state_hash"] == task["state_hash"]
        assert r["messages"][-1]["role"] == "assistant" and r["messages"][-1]["content"].startswith("Done,")
    writes = [r for r in records if r["meta"]["tool_use"]["task"]["writes"]]
    assert writes, "no task that writes was planned"
    # every record's world was a private copy: the first state hash is the untouched world's for reads
    for fmt in ("messages", "trl", "sharegpt"):
        to = tmp_path / f"export-{fmt}.jsonl"
        exported = cli("export", out, "--to", to, "--format", fmt)
        assert exported.exit_code == 0, exported.output
        rows = read_jsonl(to)
        assert len(rows) == len(records)
    trl = read_jsonl(tmp_path / "export-trl.jsonl")
    assert all(row["tools"] for row in trl)
    sharegpt = read_jsonl(tmp_path / "export-sharegpt.jsonl")
    assert any(turn["from"] == "function_call" for row in sharegpt for turn in row["conversations"])
    assert any(turn["from"] == "observation" for row in sharegpt for turn in row["conversations"])


@pytest.mark.parametrize(("mode", "rule", "kinds"), [
    ("invalid", "tool-call-valid", None),
    ("unknown", "tool-call-valid", None),
    ("fails", "tool-call-executed", None),
    ("state", "final-state", {"update": 1, "create": 1, "delete": 1}),
    ("facts", "facts-told", {"read": 1, "related": 1}),
])
def test_each_bad_dialogue_lands_under_its_rule(cli, tmp_path, monkeypatch, mode, rule, kinds):
    oracle = Oracle(mode)
    oracle.observe(monkeypatch, kinds)
    result, out = _run(cli, tmp_path, oracle)
    assert "0 new records" in result.output, result.output  # every job eliminated: the run says so
    assert not out.exists() or read_jsonl(out) == []
    failures = _failures(out)
    assert len(failures) == 12
    assert {f["reason"] for f in failures} == {f"eliminated:{rule}"}
    for f in failures:
        meta = f["job"]["meta"]
        assert meta["checks"][rule] is False
        assert rule in meta["tool_use"]["failed"]


def test_stats_reports_pass_rates_per_check_and_tool_usage(cli, tmp_path, monkeypatch):
    oracle = Oracle("facts")
    oracle.observe(monkeypatch, {"read": 1, "update": 1})
    result, out = _run(cli, tmp_path, oracle)
    assert result.exit_code == 0, result.output
    kept, failed = read_jsonl(out), _failures(out)
    report = json.loads(cli("stats", out, "--json").output)
    rates = report["checks"]
    assert rates["facts-told"]["checked"] == len(kept) + len(failed) == 12
    assert rates["facts-told"]["passed"] == len(kept)
    assert rates["final-state"]["passed"] == 12
    usage = report["tool_usage"]
    assert sum(u["calls"] for u in usage.values()) == sum(len(r["meta"]["tool_use"]["calls"]) for r in kept) + sum(
        len(f["job"]["meta"]["tool_use"]["calls"]) for f in failed)
    assert all(u["errors"] == 0 for u in usage.values())
    text = cli("stats", out, "--no-report").output
    assert "facts-told" in text and "search_" in text


def test_a_task_is_planned_from_the_walk_and_its_gold_calls_succeed(tmp_path):
    from janus_plugins.world import build_world, tools_for
    from janus_plugins.world.session import ToolSession

    from janus_core.plan.graph import seed_contexts
    from janus_core.plugins import load_plugins
    from janus_core.spec.model import load_spec

    plugins = load_plugins()
    spec = load_spec(SAMPLES / "clinic", plugins.read_diagram)
    summary = build_world(spec, rows=20, seed=3, out=tmp_path / "w.sqlite")
    world = planner.World(summary.path, tools_for(summary.path))
    seen = Counter()
    for i, ctx in enumerate(seed_contexts(spec, 0)):
        task = planner.plan_task(world, list(ctx.entities), random.Random(i))
        again = planner.plan_task(world, list(ctx.entities), random.Random(i))
        assert task is not None and task == again  # deterministic
        seen[task.kind] += 1
        touched = {t.name for t in world.schema.tables.values() if t.entity in ctx.entities}
        with ToolSession(summary.path) as session:
            for call in task.calls:
                result = json.loads(session.call(call["name"], call["arguments"]))
                assert "error" not in result
            assert session.state_hash() == task.state_hash
            assert (task.state_hash != summary.hash) == task.writes
        assert touched, ctx.entities
        if task.kind in ("read", "related"):
            assert task.facts
            assert all(str(f["value"]) not in task.goal for f in task.facts)
    assert {"read", "related", "update", "create", "delete"} <= set(seen) | {"combo"}


@pytest.mark.parametrize(("value", "said", "ok"), [
    ("Jodi Berg", "The patient is JODI BERG.", True),
    ("2024-03-05", "It is on March 5, 2024.", True),
    ("2024-03-05 09:30", "On 5 March 2024 at 9:30 am.", True),
    ("2024-03-05 09:30", "On 5 March 2024.", False),
    (12, "It costs 12.", True),
    (12, "It costs 120.", False),
    (True, "Yes, it is.", True),
])
def test_facts_are_matched_in_their_usual_forms(value, said, ok):
    assert checks.told(value, checks.normalise(said)) is ok


@pytest.mark.local_model
@pytest.mark.skipif(not has_local_model(), reason="needs the 'local' extra (llama-cpp-python)")
def test_the_embedded_model_runs_and_the_ledger_counts_its_failures(cli, tmp_path):
    """The embedded model answers in the JSON call format: the run completes, every job is either a
    record that passed every check or a failure under a named reason."""
    out = tmp_path / "out.jsonl"
    result = cli("generate", _spec(tmp_path), "--backend", "local", "--option", "threads=2", "--max-seeds", "2",
                 "--out", out, env={"HF_HUB_OFFLINE": "1", "JANUS_CACHE_DIR": str(tmp_path / "cache")})
    assert "Traceback" not in result.output
    kept = read_jsonl(out) if out.exists() else []
    failures = _failures(out)
    assert len(kept) + len(failures) == 2, (kept, failures)
    for r in kept:
        assert all(r["meta"]["checks"].values())
    for f in failures:
        reason = f["reason"]
        if reason.removeprefix("eliminated:") in checks.RULES:
            meta = f["job"]["meta"]
            assert meta["checks"][reason.removeprefix("eliminated:")] is False
