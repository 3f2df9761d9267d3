"""Records with tools, tool calls and reasoning: the journal, every sink and format, and their consumers."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest
from conftest import read_jsonl

from janus_core.sdk.records import Record

#: two functions whose parameter schemas differ in shape and in the type of their defaults
TOOLS = [
    {"type": "function", "function": {
        "name": "get_patient", "description": "Get a patient by their id",
        "parameters": {"type": "object", "properties": {"patient_id": {"type": "integer", "default": 1}},
                       "required": ["patient_id"]}}},
    {"type": "function", "function": {
        "name": "search_orders", "description": "Search a patient's orders",
        "parameters": {"type": "object", "properties": {
            "status": {"type": "string", "enum": ["open", "closed"], "default": "open"},
            "dates": {"type": "array", "items": {"type": "string"}}}}}},
]


def tool_record(n: int, arguments: dict, reasoning: str | None = "I should look the patient up.",
                parallel: bool = False) -> Record:
    """A tool-use record: a call (two in parallel with ``parallel``), its results, and the answer."""
    calls = [{"id": f"call_{n}a", "type": "function",
              "function": {"name": "get_patient", "arguments": json.dumps(arguments)}}]
    results = [{"role": "tool", "tool_call_id": f"call_{n}a", "content": '{"name": "Ann", "ward": 3}'}]
    if parallel:
        calls.append({"id": f"call_{n}b", "type": "function",
                      "function": {"name": "search_orders", "arguments": '{"status": "open"}'}})
        results.append({"role": "tool", "tool_call_id": f"call_{n}b", "content": "[]"})
    call: dict = {"role": "assistant", "content": "", "tool_calls": calls}
    if reasoning:
        call["reasoning"] = reasoning
    messages = [{"role": "system", "content": "You help clinic staff."},
                {"role": "user", "content": f"Who is patient {n}?"}, call, *results,
                {"role": "assistant", "content": f"Patient {n} is Ann, in ward 3."}]
    return Record(messages=messages, id=f"t{n}", seed_id=f"t{n}", parent_id=None, direction="tool-use",
                  walk={"id": "w1", "entities": ["PATIENT"]}, model="m", prompt_sha256="0" * 64,
                  output_type="tool-use", created_at="2026-01-01T00:00:00+00:00", tools=TOOLS)


def plain_record(n: int = 0) -> Record:
    return Record(messages=[{"role": "user", "content": f"Q{n}"}, {"role": "assistant", "content": f"A{n}"}],
                  id=f"p{n}", seed_id=f"p{n}", parent_id=None, direction="general", walk={}, model="m",
                  prompt_sha256="0" * 64, output_type="instruct", created_at="2026-01-01T00:00:00+00:00")


#: arguments whose keys and types differ from record to record (an Arrow struct cannot hold them all)
RECORDS = [tool_record(1, {"patient_id": 7}),
           tool_record(2, {"patient_id": "seven", "note": [1, {"a": None}]}, reasoning=None, parallel=True),
           plain_record()]


def journaled_run(tmp_path: Path, records: list[Record] = RECORDS) -> Path:
    """A run's output file and the journal beside it, holding ``records``."""
    from janus_core.run.journal import Journal, journal_path

    out = tmp_path / "run.jsonl"
    journal = Journal(journal_path(out))
    for record in records:
        journal.add_record(f"job|{record.id}", record)
    journal.export_jsonl(out)
    journal.close()
    return out


def test_a_record_without_tools_is_written_byte_for_byte_as_before():
    assert plain_record().to_json() == (
        '{"messages":[{"role":"user","content":"Q0"},{"role":"assistant","content":"A0"}],"id":"p0","seed_id":"p0",'
        '"parent_id":null,"direction":"general","walk":{},"model":"m","prompt_sha256":"' + "0" * 64 + '",'
        '"output_type":"instruct","depth":0,"usage":{},"meta":{},"created_at":"2026-01-01T00:00:00+00:00"}')


def test_the_journal_and_the_output_file_keep_tools_calls_and_reasoning(tmp_path):
    from janus_core.data.stats import iter_run_records

    out = journaled_run(tmp_path)
    kept = list(iter_run_records(out))
    assert kept == [r.to_dict() for r in RECORDS]
    assert kept[0]["tools"] == TOOLS and kept[0]["messages"][2]["reasoning"] == "I should look the patient up."
    assert "tools" not in kept[2]
    assert [json.loads(line) for line in out.read_text().splitlines()] == kept
    assert Record.from_dict(kept[1]) == RECORDS[1]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ""])
def test_whole_records_read_back_from_every_sink(cli, tmp_path, suffix):
    """janus export to JSONL, Parquet and hf-disk, read back as records (janus stats and export read them)."""
    from janus_core.data.stats import iter_file_records

    out = journaled_run(tmp_path)
    to = tmp_path / f"whole{suffix or '_disk'}"
    result = cli("export", out, "--to", to, "--format", "janus")
    assert result.exit_code == 0, result.output
    assert list(iter_file_records(to)) == [r.to_dict() for r in RECORDS]
    again = tmp_path / "again.jsonl"
    assert cli("export", to, "--to", again, "--format", "janus").exit_code == 0
    assert read_jsonl(again) == [r.to_dict() for r in RECORDS]
    stats = cli("stats", to, "--json")
    assert stats.exit_code == 0 and json.loads(stats.output)["records"] == 3, stats.output


def test_parquet_accepts_arguments_whose_keys_and_types_differ(tmp_path):
    """pyarrow infers no struct for these rows (a number in one, text in another); the sinks store the calls and
    the tools as Arrow JSON, which datasets reads back as the objects written, without keys filled with nulls."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import load_dataset
    from janus_plugins.sinks import ParquetSink
    from janus_plugins.sinks.formats import trl

    rows = [trl(r.to_dict()) for r in RECORDS[:2]]
    with pytest.raises(pa.ArrowInvalid):
        pa.Table.from_pylist(rows)
    sink = ParquetSink(tmp_path / "t.parquet", {"format": "trl"})
    sink.open()
    sink.write(RECORDS)
    sink.close()
    assert pq.read_table(tmp_path / "t.parquet").num_rows == 3
    read = load_dataset("parquet", data_files=str(tmp_path / "t.parquet"), split="train")
    call = read[1]["messages"][2]["tool_calls"][0]
    assert call["function"]["arguments"] == {"patient_id": "seven", "note": [1, {"a": None}]}
    assert read[0]["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"patient_id": 7}
    assert read[0]["tools"] == TOOLS and read[2]["tools"] is None


def test_openai_fine_tuning_rows(cli, tmp_path):
    """OpenAI's chat fine-tuning with tools: 'tools' beside 'messages', calls with arguments as JSON text, a
    tool message answering each call by its id, no empty content on a message that only calls."""
    out = journaled_run(tmp_path)
    assert cli("export", out, "--to", tmp_path / "o.jsonl", "--format", "messages").exit_code == 0
    first, second, plain = read_jsonl(tmp_path / "o.jsonl")
    assert set(first) == {"messages", "tools"} and first["tools"] == TOOLS
    assert plain == {"messages": RECORDS[2].messages}
    allowed = {"role", "content", "name", "tool_calls", "tool_call_id", "weight"}
    for row in (first, second):
        asked = set()
        for m in row["messages"]:
            assert set(m) <= allowed, m
            for call in m.get("tool_calls", []):
                assert isinstance(call["function"]["arguments"], str)
                json.loads(call["function"]["arguments"])
                asked.add(call["id"])
            if m["role"] == "tool":
                assert m["tool_call_id"] in asked
        assert "content" not in row["messages"][2]
    assert len(second["messages"][2]["tool_calls"]) == 2  # a parallel call stays one message


def qwen_tokenizer():
    """A tiny word-level tokenizer (nothing downloaded) with the Qwen2.5 chat template TRL ships: it renders
    tools, tool calls (arguments through tojson) and tool results."""
    import trl
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast

    inner = Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    inner.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=inner, unk_token="[UNK]")
    template = Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja"
    tokenizer.chat_template = template.read_text(encoding="utf-8")
    return tokenizer


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ""])
def test_trl_renders_the_calls_and_results_through_its_chat_template(cli, tmp_path, suffix):
    data_utils = pytest.importorskip("trl.data_utils", reason="trl is not installed: pip install trl")
    from trl.chat_template_utils import supports_tool_calling

    out = journaled_run(tmp_path)
    to = tmp_path / f"trl{suffix or '_disk'}"
    assert cli("export", out, "--to", to, "--format", "trl").exit_code == 0
    if suffix == ".jsonl":
        rows = read_jsonl(to)
    else:
        from datasets import load_dataset, load_from_disk

        rows = list(load_dataset("parquet", data_files=str(to), split="train") if suffix else load_from_disk(str(to)))
    tokenizer = qwen_tokenizer()
    assert supports_tool_calling(tokenizer)
    texts = []
    for row in rows:
        assert data_utils.is_conversational(row)
        tools = row.get("tools")
        texts.append(data_utils.maybe_apply_chat_template({"messages": row["messages"]}, tokenizer,
                                                          tools=json.loads(tools) if isinstance(tools, str)
                                                          else tools)["text"])
    first, second, plain = texts
    assert '<tool_call>\n{"name": "get_patient", "arguments": {"patient_id": 7}}\n</tool_call>' in first
    assert '<tool_response>\n{"name": "Ann", "ward": 3}\n</tool_response>' in first
    assert first.index('"name": "search_orders"') < first.index("<|im_start|>user")  # the definitions, up front
    assert '"arguments": {"patient_id": "seven", "note": [1, {"a": null}]}' in second
    assert '{"name": "search_orders", "arguments": {"status": "open"}}' in second
    assert second.count("<tool_response>") == 2 and "Patient 2 is Ann, in ward 3." in second
    assert "<tools>" not in plain and "A0" in plain


def test_trl_rows_name_the_function_each_result_answers():
    from janus_plugins.sinks.formats import trl

    row = trl(RECORDS[1].to_dict())
    assert [m.get("name") for m in row["messages"] if m["role"] == "tool"] == ["get_patient", "search_orders"]
    assert trl(RECORDS[2].to_dict()) == {"messages": RECORDS[2].messages}


def test_llama_factory_sharegpt_rows_and_entry(cli, tmp_path):
    """LLaMA-Factory's documented ShareGPT tool format: function_call and observation turns, tools as JSON text
    in a 'tools' column its dataset_info.json entry maps."""
    out = journaled_run(tmp_path)
    to = tmp_path / "lf.jsonl"
    assert cli("export", out, "--to", to, "--format", "sharegpt").exit_code == 0
    first, second, plain = read_jsonl(to)
    assert [t["from"] for t in first["conversations"]] == ["system", "human", "function_call", "observation", "gpt"]
    assert json.loads(first["conversations"][2]["value"]) == {"name": "get_patient", "arguments": {"patient_id": 7}}
    assert json.loads(first["tools"]) == TOOLS
    assert [c["name"] for c in json.loads(second["conversations"][2]["value"])] == ["get_patient", "search_orders"]
    assert second["conversations"][3]["from"] == "observation" and "[]" in second["conversations"][3]["value"]
    assert plain == {"conversations": [{"from": "human", "value": "Q0"}, {"from": "gpt", "value": "A0"}]}
    entry = json.loads((tmp_path / "dataset_info.json").read_text())["lf.jsonl"]
    assert entry["columns"] == {"messages": "conversations", "tools": "tools"}
    assert entry["tags"]["function_tag"] == "function_call" and entry["tags"]["observation_tag"] == "observation"


def llama_factory_data() -> types.ModuleType:
    """LLaMA-Factory's data package. Its __init__ imports the training stack (peft, torchaudio) that its
    parser, converter and formatters do not use; where that stack is absent they are loaded without it."""
    spec = importlib.util.find_spec("llamafactory")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llamafactory is not installed: pip install --no-deps llamafactory to check its loader")
    try:
        import llamafactory.data as data
        return data
    except ImportError:
        package = types.ModuleType("llamafactory.data")
        package.__path__ = [str(Path(spec.submodule_search_locations[0]) / "data")]
        sys.modules["llamafactory.data"] = package
        return package


def test_llama_factory_loads_the_sharegpt_export(cli, tmp_path):
    llama_factory_data()
    from datasets import load_dataset
    from llamafactory.data.converter import SharegptDatasetConverter
    from llamafactory.data.formatter import FunctionFormatter, ToolFormatter
    from llamafactory.data.parser import get_dataset_list

    out = journaled_run(tmp_path)
    assert cli("export", out, "--to", tmp_path / "lf.jsonl", "--format", "sharegpt",
               "--reasoning", "inline").exit_code == 0
    attr = get_dataset_list(["lf.jsonl"], str(tmp_path))[0]
    assert (attr.formatting, attr.tools) == ("sharegpt", "tools")
    rows = load_dataset("json", data_files=str(tmp_path / attr.dataset_name), split="train")
    convert = SharegptDatasetConverter(attr, types.SimpleNamespace(media_dir=str(tmp_path)))
    first, second, plain = (convert(row) for row in rows)
    assert [m["role"] for m in first["_prompt"]] == ["user", "function", "observation"]
    assert first["_system"] == "You help clinic staff." and first["_response"][0]["content"].startswith("Patient 1")
    tools = ToolFormatter(tool_format="qwen").apply(content=first["_tools"])[0]
    assert '"name": "get_patient"' in tools and '"name": "search_orders"' in tools
    call = FunctionFormatter(slots=["{{content}}"], tool_format="qwen").apply(
        content=first["_prompt"][1]["content"], thought_words=("<think>", "</think>"))
    rendered = "".join(s for s in call if isinstance(s, str))
    assert '{"name": "get_patient", "arguments": {"patient_id": 7}}' in rendered
    assert "I should look the patient up." in rendered  # reasoning written inline before the call
    parallel = FunctionFormatter(slots=["{{content}}"], tool_format="qwen").apply(
        content=second["_prompt"][1]["content"])
    assert "".join(s for s in parallel if isinstance(s, str)).count("<tool_call>") == 2
    assert plain["_prompt"] == [{"role": "user", "content": "Q0"}] and not plain["_tools"]


@pytest.mark.parametrize("fmt", ["alpaca", "janus-legacy", "dpo", "dpo-axolotl"])
def test_text_only_formats_leave_tool_records_out_and_count_them(cli, tmp_path, fmt):
    rated = plain_record(1)
    rated.meta = {"chosen": "A1", "rejected": "no", "scores": [5, 1]}
    tool_rated = tool_record(3, {"patient_id": 3})
    tool_rated.meta = dict(rated.meta)
    out = journaled_run(tmp_path, [*RECORDS, rated, tool_rated])
    result = cli("export", out, "--to", tmp_path / "x.jsonl", "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "3 records have tools or tool calls" in result.output
    assert all("tool" not in json.dumps(row) for row in read_jsonl(tmp_path / "x.jsonl"))


def assistant_turns(path: Path) -> list[dict]:
    return [m for m in read_jsonl(path)[0]["messages"] if m["role"] == "assistant"]


def test_reasoning_inline_field_or_drop(cli, tmp_path):
    out = journaled_run(tmp_path)
    for mode in ("inline", "field", "drop", None):
        to = tmp_path / f"{mode}.jsonl"
        result = cli("export", out, "--to", to, "--format", "trl", *(["--reasoning", mode] if mode else []))
        assert result.exit_code == 0, result.output
        call = assistant_turns(to)[0]
        assert "reasoning" not in call
        if mode == "inline":
            assert call["content"] == "<think>\nI should look the patient up.\n</think>"
        elif mode == "field":
            assert call["reasoning_content"] == "I should look the patient up." and call["content"] == ""
        else:
            assert call["content"] == "" and "reasoning_content" not in call
        assert ("left out the reasoning of 1 messages" in result.output) == (mode is None)
        assert read_jsonl(to)[1:] == read_jsonl(tmp_path / "inline.jsonl")[1:]  # no reasoning: the same rows
    rendered = qwen_tokenizer().apply_chat_template(read_jsonl(tmp_path / "inline.jsonl")[0]["messages"],
                                                    tokenize=False)
    assert "<think>\nI should look the patient up.\n</think>\n<tool_call>" in rendered


def test_a_reasoning_field_needs_a_format_whose_messages_are_objects(cli, tmp_path):
    out = journaled_run(tmp_path)
    refused = cli("export", out, "--to", tmp_path / "s.jsonl", "--format", "sharegpt", "--reasoning", "field")
    assert refused.exit_code != 0 and "no field for reasoning" in refused.output
    whole = cli("export", out, "--to", tmp_path / "j.jsonl", "--format", "janus", "--reasoning", "drop")
    assert whole.exit_code != 0 and "keeps the whole record" in whole.output
    assert "Traceback" not in refused.output + whole.output
