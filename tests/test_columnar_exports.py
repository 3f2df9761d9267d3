"""Exports read back: Parquet files and hf-disk folders (Janus's own included) through export and stats;
LLaMA-Factory's dataset_info.json entries checked against its documented loader rules; TRL's data utilities
on every format the trainer table lists for TRL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl

pytest.importorskip("pyarrow", reason="Parquet exports need pyarrow (the 'hub' extra)")
pytest.importorskip("datasets", reason="hf-disk exports need datasets (the 'hub' extra)")

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"
COUNTED = ("records", "seeds", "by_output_type", "by_direction", "by_depth")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A generated run (seeds and evolutions) from the schema-filler test backend."""
    from click.testing import CliRunner

    from janus_core.cli import cli

    out = tmp_path_factory.mktemp("run") / "o.jsonl"
    result = CliRunner().invoke(cli, ["--plugin", str(FILLER), "generate", str(SAMPLES / "clinic"), "--backend",
                                      "schema-filler", "--out", str(out), "-q", "--no-filters", "--max-seeds", "4"])
    assert result.exit_code == 0, result.output
    return out


def _stats(cli, path: Path) -> dict:
    result = cli("stats", path, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("to", ["x.parquet", "x-folder"])
def test_janus_reads_its_own_parquet_and_hf_disk_exports(cli, run, tmp_path, to):
    whole = tmp_path / to
    assert cli("export", run, "--to", whole, "--format", "janus").exit_code == 0
    original = _stats(cli, run)
    assert {k: _stats(cli, whole)[k] for k in COUNTED} == {k: original[k] for k in COUNTED}  # provenance kept
    again = cli("export", whole, "--to", tmp_path / "again.jsonl", "--format", "janus")
    assert again.exit_code == 0, again.output
    assert read_jsonl(tmp_path / "again.jsonl") == read_jsonl(run)  # walk, usage and meta back as objects
    messages = [r["messages"] for r in read_jsonl(run)]
    for fmt in ("messages", "sharegpt", "alpaca"):
        exported = tmp_path / f"{fmt}-{to}"
        assert cli("export", run, "--to", exported, "--format", fmt).exit_code == 0
        assert _stats(cli, exported)["records"] == len(messages)
        back = cli("export", exported, "--to", tmp_path / f"{fmt}.jsonl", "--format", "messages")
        assert back.exit_code == 0, back.output
        if fmt != "alpaca":  # alpaca keeps the exchanges, not a system message's place
            assert [r["messages"] for r in read_jsonl(tmp_path / f"{fmt}.jsonl")] == messages


def test_an_hf_disk_eval_split_reads_back_whole(cli, run, tmp_path):
    from janus_core.data.export import is_eval

    families = {r["seed_id"] for r in read_jsonl(run)}
    seed = next(s for s in range(100) if 0 < sum(is_eval(f, 0.5, s) for f in families) < len(families))
    assert cli("export", run, "--to", tmp_path / "ds", "--eval-fraction", "0.5", "--seed", seed).exit_code == 0
    assert _stats(cli, tmp_path / "ds")["records"] == len(read_jsonl(run))
    result = cli("export", tmp_path / "ds", "--to", tmp_path / "x.jsonl")
    assert result.exit_code == 0 and len(read_jsonl(tmp_path / "x.jsonl")) == len(read_jsonl(run))


def test_a_folder_that_is_no_dataset_is_named(cli, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("hello")
    for command in (("stats", tmp_path / "notes", "--json"), ("export", tmp_path / "notes", "--to", tmp_path / "y")):
        result = cli(*command)
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"{tmp_path / 'notes'}: a folder that is not a dataset saved with save_to_disk" in result.stderr
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    result = cli("stats", tmp_path / "junk.parquet", "--json")
    assert result.exit_code == 1 and f"{tmp_path / 'junk.parquet'}: not a Parquet file Janus can read" in result.stderr


# --- LLaMA-Factory's dataset_info.json ---------------------------------------------------------

def _llama_factory_reads(entry: dict, row: dict) -> list[dict]:
    """The messages LLaMA-Factory's converters make of ``row`` under ``entry``, by the rules of its
    data/README.md: alpaca columns (prompt, query, response, system, history; a mapped column must
    exist), or sharegpt formatting with its tags (an optional leading system turn, then user turns at
    odd and assistant turns at even positions; a ranking row's chosen and rejected are assistant turns)."""
    columns = entry.get("columns", {})
    if entry.get("formatting", "alpaca") == "alpaca":
        assert set(columns) <= {"prompt", "query", "response", "system", "history"}
        turns = [{"role": "system", "content": row[columns["system"]]}] if "system" in columns else []
        for user, assistant in row[columns["history"]] if "history" in columns else []:
            turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        query = "\n".join(x for x in (row[columns["prompt"]], row[columns["query"]]) if x)
        return [*turns, {"role": "user", "content": query}, {"role": "assistant", "content": row[columns["response"]]}]
    tags = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
            "system_tag": "system", **entry.get("tags", {})}
    role, content = tags["role_tag"], tags["content_tag"]
    names = {tags["user_tag"]: "user", tags["assistant_tag"]: "assistant", tags["system_tag"]: "system"}
    messages = row[columns.get("messages", "conversations")]
    turns = []
    if messages and messages[0][role] == tags["system_tag"]:
        turns, messages = [{"role": "system", "content": messages[0][content]}], messages[1:]
    for n, m in enumerate(messages):
        assert m[role] == (tags["user_tag"], tags["assistant_tag"])[n % 2], f"turn {n} from {m[role]}"
        turns.append({"role": names[m[role]], "content": m[content]})
    assert len(messages) % 2 == (1 if entry.get("ranking") else 0)
    if entry.get("ranking"):
        for side in ("chosen", "rejected"):
            assert row[columns[side]][role] == tags["assistant_tag"]
        turns.append({"role": "assistant", "content": row[columns["chosen"]][content]})
    return turns


def _rows_of(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    return read_jsonl(path)


def test_every_llama_factory_format_gets_an_entry_keyed_by_file_name(cli, run, tmp_path):
    records = read_jsonl(run)
    exports = {"m.jsonl": "messages", "m.parquet": "messages", "s.jsonl": "sharegpt", "a.jsonl": "alpaca",
               "a.parquet": "alpaca"}
    for name, fmt in exports.items():
        result = cli("export", run, "--to", tmp_path / name, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert f"the entry '{name}' to {tmp_path / 'dataset_info.json'}" in " ".join(result.stderr.split())
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert set(info) == set(exports)  # a .jsonl and a .parquet of the same data keep their own entries
    for name, entry in info.items():
        assert entry["file_name"] == name
        for row, record in zip(_rows_of(tmp_path / name), records, strict=True):
            read = _llama_factory_reads(entry, row)
            if exports[name] == "alpaca":
                read = [m for m in read if m["role"] != "system" or m["content"]]
            assert read == record["messages"], name
    assert not list(tmp_path.glob("*.dataset_info.json")) and not list(tmp_path.glob(".*partial"))


def test_dpo_axolotl_entry_is_a_ranking_entry(cli, tmp_path):
    from test_trainer_outputs import pair, write_jsonl

    source = write_jsonl(tmp_path / "p.jsonl", [pair("a", 5, 2), pair("b", 4, 1)])
    assert cli("export", source, "--to", tmp_path / "ax.jsonl", "--format", "dpo-axolotl").exit_code == 0
    entry = json.loads((tmp_path / "dataset_info.json").read_text())["ax.jsonl"]
    for row in read_jsonl(tmp_path / "ax.jsonl"):
        assert _llama_factory_reads(entry, row)[-1] == {"role": "assistant", "content": row["chosen"]["content"]}


def test_alpaca_without_system_messages_maps_no_system_column(cli, tmp_path):
    from test_trainer_outputs import record, write_jsonl

    plain = dict(record("a"), messages=record("a")["messages"][1:])
    source = write_jsonl(tmp_path / "c.jsonl", [plain])
    assert cli("export", source, "--to", tmp_path / "al.jsonl", "--format", "alpaca").exit_code == 0
    entry = json.loads((tmp_path / "dataset_info.json").read_text())["al.jsonl"]
    (row,) = read_jsonl(tmp_path / "al.jsonl")
    assert "system" not in row and "system" not in entry["columns"]  # LLaMA-Factory reads a mapped column
    assert _llama_factory_reads(entry, row) == plain["messages"]


def test_a_dataset_info_json_that_is_not_llama_factorys_is_left_alone(cli, run, tmp_path):
    foreign = {"description": "", "features": {"text": {"dtype": "string"}}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(foreign))
    assert cli("export", run, "--to", tmp_path / "m.jsonl").exit_code == 0
    assert json.loads((tmp_path / "dataset_info.json").read_text()) == foreign
    assert json.loads((tmp_path / "m.jsonl.dataset_info.json").read_text())["m.jsonl"]["file_name"] == "m.jsonl"


# --- TRL ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, suffix", [("messages", ".jsonl"), ("messages", ".parquet"), ("sharegpt", ".jsonl"),
                                         ("sharegpt", ""), ("dpo", ".parquet")])
def test_trl_reads_the_formats_the_trainer_table_lists_for_it(cli, tmp_path, fmt, suffix):
    """What the README's trainer table says of TRL: messages and dpo as they are; sharegpt through TRL's own
    conversion (from/value renamed role/content) with the roles human and gpt kept as they are."""
    trl = pytest.importorskip("trl.data_utils", reason="trl is not installed: pip install trl to check TRL's "
                              "reading of the exports")
    from datasets import load_dataset, load_from_disk
    from test_trainer_outputs import pair, tiny_tokenizer, write_jsonl

    source = write_jsonl(tmp_path / "p.jsonl", [pair("a", 5, 2), pair("b", 4, 1)])
    target = tmp_path / f"x{suffix}"
    assert cli("export", source, "--to", target, "--format", fmt).exit_code == 0
    if suffix:
        dataset = load_dataset(suffix.lstrip(".").replace("jsonl", "json"), data_files=str(target), split="train")
    else:
        dataset = load_from_disk(str(target))
    tokenizer = tiny_tokenizer()
    for row in dataset:
        if fmt == "sharegpt":
            assert trl.is_conversational_from_value(row) and not trl.is_conversational(row)
            row = trl.maybe_convert_to_chatml(row)
            assert [m["role"] for m in row["messages"]] == ["system", "human", "gpt"]
        assert trl.is_conversational(row)
        text = trl.maybe_apply_chat_template(row, tokenizer)
        if fmt == "dpo":
            assert text["prompt"].endswith("<|assistant|>") and "worse" in text["rejected"]
        else:
            assert "question 0" in text["text"] and "answer 0" in text["text"]
