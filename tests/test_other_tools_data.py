"""Conversations as other tools write them (tests/fixtures/other_tools, see its SOURCES.md): content as a
list of text parts, ShareGPT tool turns, OpenAI tool calls, images; read by --input, --against, export and
stats, with what Janus cannot carry left out and counted and every unreadable row named by file and line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import FIXTURES, SAMPLES, read_jsonl
from servers import ProviderServer

OTHER = FIXTURES / "other_tools"
KEY = {"OPENAI_API_KEY": "test-key-0123456789"}
TOOLS = "have tool calls or tool results"


def test_text_parts_are_joined_into_text():
    from janus_core.plan.inputs import load_conversations

    records = load_conversations(OTHER / "lf_v1_sft.jsonl")
    assert [r.messages[0] for r in records] == [{"role": "user", "content": "hey"},
                                                {"role": "user", "content": "good morning"},
                                                {"role": "user", "content": "What can you do?"}]
    assert records[0].messages[1]["content"].startswith("Hello! I am {{name}}, a booking helper")
    skipped: Counter[str] = Counter()
    (rome,) = load_conversations(OTHER / "openai_tool_calls.jsonl", skipped)  # OpenAI's {"type": "text", "text"}
    assert rome.messages == [{"role": "user", "content": "Is it warm in Rome\nin June?"},
                             {"role": "assistant", "content": "Yes, Rome is warm in June."}]
    assert rome.meta["source"] == f"{OTHER / 'openai_tool_calls.jsonl'}:2"
    # the tool-call conversation and the one with an image are counted, not read as text
    assert {why.split(" (")[0]: n for why, n in skipped.items()} == {TOOLS: 1, "have 'image_url' content parts": 1}


def test_follow_up_grows_text_parts_as_text(cli, tmp_path):
    from test_output_types import reply

    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", reply) as server:
        result = cli("generate", SAMPLES / "marriage_counsel", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--out", out, "-q", "--type", "follow-up", "--input",
                     OTHER / "lf_v1_sft.jsonl", "--turns", "2", env=KEY)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 3
    assert sorted(r["messages"][0]["content"] for r in records) == ["What can you do?", "good morning", "hey"]
    sent = json.dumps(server.requests)
    assert "'type'" not in sent and "\\\"type\\\"" not in sent  # no Python or JSON text of a list of parts


def test_sharegpt_tool_turns_are_left_out_and_counted(cli):
    toolcall = OTHER / "sharegpt_toolcall.json"
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", toolcall, "--dry-run",
                 "--log-json")
    assert result.exit_code == 0, result.output
    notes = [json.loads(line)["note"] for line in result.stderr.splitlines() if '"event": "note"' in line]
    assert any(n.startswith(f"--input {toolcall}: left out 2 conversations that {TOOLS}") for n in notes), notes
    assert json.loads(result.stdout)["seed_requests"] == 0  # the 4 plain conversations are grown, not seeded

    from janus_core.plan.inputs import load_conversations

    skipped: Counter[str] = Counter()
    records = load_conversations(toolcall, skipped)
    assert len(records) == 4 and sum(skipped.values()) == 2
    original = json.loads(toolcall.read_text(encoding="utf-8"))
    plain = [item for item in original if not any(t["from"] in ("function_call", "observation")
                                                  for t in item["conversations"])]
    assert [r.messages[0]["content"] for r in records] == [item["conversations"][0]["value"] for item in plain]
    # located by the line each item of the JSON array starts on
    lines = toolcall.read_text(encoding="utf-8").splitlines()
    for r in records:
        line = int(r.meta["source"].rsplit(":", 1)[1])
        assert lines[line - 1].strip() == "{" and json.dumps(r.messages[0]["content"]) in lines[line + 3]


def test_a_file_with_nothing_janus_can_carry_says_why(cli):
    for name, why in (("sharegpt_mllm.json", "2 conversations have images, audio or video"),
                      ("lf_v1_multimodal.jsonl", "2 conversations have 'image_url' content parts"),
                      ("lf_reason_tool_use.jsonl", "2 conversations have 'reasoning' content parts")):
        result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", OTHER / name,
                     "--dry-run")
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"no conversations Janus can use in it ({why}" in result.stderr


def test_against_leaves_out_tool_rows_with_a_note(cli, tmp_path):
    from test_output_types import reply

    with ProviderServer("openai", reply) as server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--option",
                     f"base_url={server.base_url}", "--out", tmp_path / "o.jsonl", "--max-seeds", "1",
                     "--d-factor", "0", "--against", OTHER / "sharegpt_toolcall.json", env=KEY)
    assert result.exit_code == 0, result.output
    assert "left out 2 conversations that have tool calls" in " ".join(result.stderr.split())


def test_export_and_stats_of_other_tools_files(cli, tmp_path):
    toolcall = OTHER / "sharegpt_toolcall.json"
    result = cli("export", toolcall, "--to", tmp_path / "g.jsonl")
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "g.jsonl")) == 4
    assert f"{toolcall}: left out 2 rows that {TOOLS}" in " ".join(result.stderr.split())
    assert cli("export", OTHER / "lf_v1_sft.jsonl", "--to", tmp_path / "v.jsonl").exit_code == 0
    assert read_jsonl(tmp_path / "v.jsonl")[0]["messages"][0] == {"role": "user", "content": "hey"}
    assert cli("export", OTHER / "alpaca.json", "--to", tmp_path / "a.jsonl").exit_code == 0
    rows = read_jsonl(tmp_path / "a.jsonl")
    assert [r["messages"][0]["content"] for r in rows][:2] == [
        "Explain how to patch a bicycle inner tube.",
        "Rewrite this sentence more politely: Give me a table for two now."]
    stats = cli("stats", OTHER / "lf_v1_sft.jsonl", "--json")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["records"] == 3
    refused = cli("export", OTHER / "sharegpt_mllm.json", "--to", tmp_path / "m.jsonl")
    assert refused.exit_code == 1 and "2 rows have images, audio or video" in refused.stderr
    assert not (tmp_path / "m.jsonl").exists()
    located = cli("stats", toolcall, "--json")  # stats reads every row: it names the first it cannot count
    assert located.exit_code == 1 and f"{toolcall}:2:1: not a record Janus can read: a conversation that has tool " \
        "calls" in " ".join(located.stderr.split())


def _array(path: Path, items: list) -> Path:
    path.write_text(json.dumps(items, indent=2), encoding="utf-8")
    return path


GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


@pytest.mark.parametrize("bad, problem", [
    ({"conversations": [{"from": "narrator", "value": "x"}, {"from": "gpt", "value": "y"}]},
     "not a conversation: a turn from 'narrator': ShareGPT speakers are"),
    ({"messages": [{"role": "user"}, {"role": "assistant", "content": "y"}]},
     "not a conversation: no 'content' in a message or turn"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}, {"role": "assistant", "content": "y"}]},
     "not a conversation: a text part has no 'text' (OpenAI) or 'value' (LLaMA-Factory) string"),
])
def test_an_unreadable_item_of_a_json_array_is_named_by_line(cli, tmp_path, bad, problem):
    source = _array(tmp_path / "in.json", [GOOD, bad])
    line = 1 + source.read_text().splitlines().index("  {", 2)  # where the second item starts
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", source, "--dry-run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{source}:{line}: {problem}" in " ".join(result.stderr.split())


def test_an_unreadable_row_of_parquet_or_a_saved_dataset_is_named_by_row(cli, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet needs pyarrow (the 'hub' extra)")
    import pyarrow as pa

    bad = {"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "anyone?"}]}
    pq.write_table(pa.Table.from_pylist([GOOD, bad]), tmp_path / "in.parquet")
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", tmp_path / "in.parquet",
                 "--dry-run")
    assert result.exit_code == 1
    assert f"{tmp_path / 'in.parquet'} row 2: not a conversation: a conversation needs a user turn and must end " \
           "with the assistant" in " ".join(result.stderr.split())
    exported = cli("export", tmp_path / "in.parquet", "--to", tmp_path / "x.jsonl")
    assert exported.exit_code == 1 and f"{tmp_path / 'in.parquet'} row 2: not a record Janus can read" in \
        " ".join(exported.stderr.split())
    datasets = pytest.importorskip("datasets", reason="saved datasets need datasets (the 'hub' extra)")
    datasets.Dataset.from_list([GOOD, bad]).save_to_disk(str(tmp_path / "ds"))
    result = cli("generate", SAMPLES / "marriage_counsel", "--type", "follow-up", "--input", tmp_path / "ds",
                 "--dry-run")
    assert result.exit_code == 1 and f"{tmp_path / 'ds'} row 2: not a conversation" in result.stderr
    (tmp_path / "empty").mkdir()
    result = cli("export", tmp_path / "empty", "--to", tmp_path / "y.jsonl")
    assert result.exit_code == 1 and "an empty folder, not a saved Hugging Face dataset" in result.stderr
