"""Outputs that trainers read and that Janus reads back: exports of exports, preference pairs,
eval splits, system messages, the graph drawing, dry runs and the report's judge section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl

PLUGINS = Path(__file__).resolve().parent / "plugins"
FILLER = PLUGINS / "schema_filler.py"
BREAKING = PLUGINS / "breaking_sink.py"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def record(rid: str, seed_id: str | None = None, meta: dict | None = None, turns: int = 1) -> dict:
    messages = [{"role": "system", "content": "Be kind."}]
    for n in range(turns):
        messages += [{"role": "user", "content": f"{rid} question {n}"},
                     {"role": "assistant", "content": f"{rid} answer {n}"}]
    return {"messages": messages, "id": rid, "seed_id": seed_id or rid, "parent_id": None, "direction": "general",
            "walk": {}, "model": "m", "prompt_sha256": "0" * 64, "output_type": "conversation", "depth": 0,
            "usage": {}, "meta": meta or {}, "created_at": "2026-01-01T00:00:00+00:00"}


def pair(rid: str, chosen: int, rejected: int) -> dict:
    return record(rid, meta={"chosen": f"{rid} answer 0", "rejected": f"{rid} worse", "scores": [chosen, rejected],
                             "margin": chosen - rejected})


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from click.testing import CliRunner

    from janus_core.cli import cli

    out = tmp_path_factory.mktemp("data") / "o.jsonl"
    result = CliRunner().invoke(cli, ["--plugin", str(FILLER), "generate", str(SAMPLES / "clinic"), "--backend",
                                      "schema-filler", "--out", str(out), "-q", "--no-filters", "--max-seeds", "6"])
    assert result.exit_code == 0, result.output
    return out


# --- exports of exports ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["janus", "messages", "sharegpt", "alpaca", "janus-legacy"])
def test_an_export_exports_and_reports_again(cli, dataset, tmp_path, fmt):
    first = tmp_path / f"first-{fmt}.jsonl"
    assert cli("export", dataset, "--to", first, "--format", fmt).exit_code == 0
    again = cli("export", first, "--to", tmp_path / "again.jsonl", "--format", "messages")
    assert again.exit_code == 0, again.output
    original = [r["messages"] for r in read_jsonl(dataset)]
    if fmt == "janus-legacy":  # the original tool's schema has no system message
        original = [[m for m in messages if m["role"] != "system"] for messages in original]
    assert [r["messages"] for r in read_jsonl(tmp_path / "again.jsonl")] == original
    report = cli("stats", first, "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["records"] == len(original)


def test_an_export_reads_a_json_array(cli, dataset, tmp_path):
    rows = [{"conversations": [{"user": m[1]["content"], "assistant": m[2]["content"]}]}
            for m in (r["messages"] for r in read_jsonl(dataset))]
    (tmp_path / "legacy.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    result = cli("export", tmp_path / "legacy.json", "--to", tmp_path / "x.jsonl", "--format", "sharegpt")
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(tmp_path / "x.jsonl")) == len(rows)


def test_an_unreadable_row_is_located_and_leaves_nothing_behind(cli, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [record("a"), record("b"), {"text": "plain"}])
    result = cli("export", source, "--to", tmp_path / "x.jsonl")
    assert result.exit_code == 1
    assert f"{source}:3:1: not a record Janus can read" in result.stderr and "Traceback" not in result.output
    assert "sharegpt" in result.stderr  # it says what it needs
    assert not (tmp_path / "x.jsonl").exists() and leftovers(tmp_path) == []
    stats = cli("stats", source, "--json")
    assert stats.exit_code == 1 and f"{source}:3:1" in stats.stderr


def test_a_failed_export_leaves_nothing_and_blocks_nothing(cli, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [record(str(n)) for n in range(5)])
    to = tmp_path / "x.jsonl"
    failed = cli("--plugin", BREAKING, "export", source, "--to", to, "--sink", "breaking")
    assert failed.exit_code == 1 and "No space left on device" in failed.stderr
    assert "nothing was written" in failed.stderr
    assert not to.exists() and leftovers(tmp_path) == []
    assert cli("export", source, "--to", to).exit_code == 0  # no --overwrite needed: nothing was left
    assert len(read_jsonl(to)) == 5
    failed = cli("--plugin", BREAKING, "export", source, "--to", to, "--sink", "breaking", "--overwrite")
    assert failed.exit_code == 1 and len(read_jsonl(to)) == 5  # the earlier file is untouched


# --- preference pairs --------------------------------------------------------------------------

def test_dpo_leaves_out_ties_and_small_margins(cli, tmp_path):
    source = write_jsonl(tmp_path / "p.jsonl", [pair("a", 5, 3), pair("b", 4, 4), pair("c", 4, 3), record("d")])
    result = cli("export", source, "--to", tmp_path / "d.jsonl", "--format", "dpo")
    assert result.exit_code == 0, result.output
    rows = read_jsonl(tmp_path / "d.jsonl")
    assert [r["chosen"][0]["content"] for r in rows] == ["a answer 0", "c answer 0"]
    assert "2 rows" in result.output and "1 records are tied pairs" in result.output
    assert "1 records have no dpo form" in result.output
    strict = cli("export", source, "--to", tmp_path / "s.jsonl", "--format", "dpo", "--min-margin", "2")
    assert strict.exit_code == 0 and len(read_jsonl(tmp_path / "s.jsonl")) == 1
    assert "1 records are pairs rated less than --min-margin 2 apart" in strict.output


def test_an_export_with_no_rows_is_an_error(cli, tmp_path):
    source = write_jsonl(tmp_path / "p.jsonl", [pair("a", 3, 3), pair("b", 4, 4)])
    result = cli("export", source, "--to", tmp_path / "d.jsonl", "--format", "dpo")
    assert result.exit_code == 1
    assert "no dpo rows to write: 2 records are tied pairs; nothing was written" in result.stderr
    assert not (tmp_path / "d.jsonl").exists() and leftovers(tmp_path) == []


def test_dpo_axolotl_shape_and_llama_factory_entry(cli, tmp_path):
    source = write_jsonl(tmp_path / "p.jsonl", [pair("a", 5, 2)])
    result = cli("export", source, "--to", tmp_path / "ax.jsonl", "--format", "dpo-axolotl")
    assert result.exit_code == 0, result.output
    (row,) = read_jsonl(tmp_path / "ax.jsonl")
    # axolotl chat_template.default: the prompt as messages, each answer as one message dict
    assert row["messages"] == [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "a question 0"}]
    assert row["chosen"] == {"role": "assistant", "content": "a answer 0"}
    assert row["rejected"] == {"role": "assistant", "content": "a worse"}
    info = json.loads((tmp_path / "dataset_info.json").read_text())["ax.jsonl"]
    assert info["file_name"] == "ax.jsonl" and info["ranking"] is True and info["formatting"] == "sharegpt"
    assert set(row) >= set(info["columns"].values())
    # and it reads back into a pair
    again = cli("export", tmp_path / "ax.jsonl", "--to", tmp_path / "d.jsonl", "--format", "dpo")
    assert again.exit_code == 0, again.output
    assert read_jsonl(tmp_path / "d.jsonl")[0]["rejected"] == [{"role": "assistant", "content": "a worse"}]


def test_alpaca_with_history_writes_the_mapping_and_warns(cli, tmp_path):
    source = write_jsonl(tmp_path / "c.jsonl", [record("a", turns=2), record("b")])
    result = cli("export", source, "--to", tmp_path / "al.jsonl", "--format", "alpaca")
    assert result.exit_code == 0, result.output
    assert "axolotl's alpaca type reads only instruction, input and output and drops them" in result.stderr
    columns = json.loads((tmp_path / "dataset_info.json").read_text())["al.jsonl"]["columns"]
    rows = read_jsonl(tmp_path / "al.jsonl")
    assert columns["history"] == "history" and rows[0]["history"] == [["a question 0", "a answer 0"]]
    assert all(column in rows[0] for column in columns.values())
    single = write_jsonl(tmp_path / "one.jsonl", [record("b")])
    quiet = cli("export", single, "--to", tmp_path / "one-al.jsonl", "--format", "alpaca")
    assert "drops" not in quiet.stderr  # and its entry is written too: LLaMA-Factory needs the system mapping
    assert json.loads((tmp_path / "dataset_info.json").read_text())["one-al.jsonl"]["columns"]["system"] == "system"


def test_sharegpt_roles_are_not_trl_roles(cli, tmp_path):
    source = write_jsonl(tmp_path / "c.jsonl", [record("a")])
    assert cli("export", source, "--to", tmp_path / "s.jsonl", "--format", "sharegpt").exit_code == 0
    turns = read_jsonl(tmp_path / "s.jsonl")[0]["conversations"]
    assert [t["from"] for t in turns] == ["system", "human", "gpt"]
    help_text = " ".join(cli("export", "--help").output.split())
    # TRL reads it (test_columnar_exports checks how): the help says what it keeps, not that it cannot
    assert "TRL's SFT reads it but keeps the roles human and gpt" in help_text and "not TRL" not in help_text


TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def tiny_tokenizer():
    """A word-level tokenizer with a chat template: nothing downloaded."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast

    inner = Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    inner.pre_tokenizer = Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=inner, unk_token="[UNK]")
    tokenizer.chat_template = TEMPLATE
    return tokenizer


@pytest.mark.parametrize("fmt", ["messages", "dpo"])
def test_trl_reads_the_rows(cli, tmp_path, fmt):
    trl = pytest.importorskip("trl.data_utils", reason="trl is not installed: pip install trl to check TRL's "
                              "reading of the messages and dpo formats")
    source = write_jsonl(tmp_path / "p.jsonl", [pair("a", 5, 2), {**pair("b", 4, 1), "messages": [
        {"role": "user", "content": "b question 0"}, {"role": "assistant", "content": "b answer 0"},
        {"role": "user", "content": "b question 1"}, {"role": "assistant", "content": "b answer 0"}]}])
    assert cli("export", source, "--to", tmp_path / "x.jsonl", "--format", fmt).exit_code == 0
    tokenizer = tiny_tokenizer()
    for row in read_jsonl(tmp_path / "x.jsonl"):
        assert trl.is_conversational(row)
        text = trl.maybe_apply_chat_template(row, tokenizer)
        if fmt == "messages":
            assert text["text"].startswith("<|system|>Be kind.") or text["text"].startswith("<|user|>")
        else:
            assert text["prompt"].endswith("<|assistant|>") and "question" in text["prompt"]
            assert "answer 0" in text["chosen"] and "worse" in text["rejected"]


# --- eval splits -------------------------------------------------------------------------------

def test_hf_disk_eval_split_is_one_dataset_dict(cli, dataset, tmp_path):
    from datasets import DatasetDict, load_from_disk

    from janus_core.data.export import is_eval

    families = {r["seed_id"] for r in read_jsonl(dataset)}
    seed = next(s for s in range(100) if 0 < sum(is_eval(f, 0.3, s) for f in families) < len(families))
    result = cli("export", dataset, "--to", tmp_path / "ds", "--eval-fraction", "0.3", "--seed", seed)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ds" / "dataset_dict.json").is_file()
    loaded = load_from_disk(str(tmp_path / "ds"))
    assert isinstance(loaded, DatasetDict) and set(loaded) == {"train", "test"}
    total = len(read_jsonl(dataset))
    assert loaded["train"].num_rows + loaded["test"].num_rows == total
    assert f"train: {loaded['train'].num_rows} rows" in result.output
    assert f"test: {loaded['test'].num_rows} rows" in result.output
    assert leftovers(tmp_path) == []


def _ids_with(eval_count: int, fraction: float, seed: int = 0) -> list[str]:
    from janus_core.data.export import is_eval

    inside = [f"s{n}" for n in range(200) if is_eval(f"s{n}", fraction, seed)]
    outside = [f"s{n}" for n in range(200) if not is_eval(f"s{n}", fraction, seed)]
    return inside[:eval_count] + outside[: 3 - eval_count]


def test_a_fraction_of_few_seeds_says_what_it_did(cli, tmp_path):
    source = write_jsonl(tmp_path / "few.jsonl", [record(i) for i in _ids_with(1, 0.1)])
    result = cli("export", source, "--to", tmp_path / "x.jsonl", "--eval-fraction", "0.1")
    assert result.exit_code == 0, result.output
    assert "train: 2 rows from 2 seed families" in result.output
    assert "test: 1 rows from 1 seed families" in result.output
    assert "1 of 3 seed families (33%) went to test" in result.stderr
    none_in_eval = write_jsonl(tmp_path / "none.jsonl", [record(i) for i in _ids_with(0, 0.1)])
    refused = cli("export", none_in_eval, "--to", tmp_path / "y.jsonl", "--eval-fraction", "0.1")
    assert refused.exit_code == 1 and "the test split would be empty: 0 of 3 seed families" in refused.stderr
    assert not (tmp_path / "y-train.jsonl").exists() and leftovers(tmp_path) == []


# --- system-message keeps the spec's system prompt --------------------------------------------

def _system_message_records(cli, tmp_path, spec: Path) -> list[dict]:
    from servers import ProviderServer
    from test_output_types import reply

    out = tmp_path / "sm.jsonl"
    with ProviderServer("openai", reply) as server:
        result = cli("generate", spec, "--backend", "openai", "--option", f"base_url={server.base_url}", "--out", out,
                     "-q", "--type", "system-message", "--max-seeds", "2", "--d-factor", "0",
                     env={"OPENAI_API_KEY": fake_secret("openai")})
        prompts = [b["messages"][-1]["content"] for b in server.requests]
    assert result.exit_code == 0, result.output
    return read_jsonl(out), prompts


def test_system_message_starts_with_the_spec_system_prompt(cli, tmp_path):
    records, prompts = _system_message_records(cli, tmp_path, SAMPLES / "clinic")
    for r in records:
        system = r["messages"][0]["content"]
        assert system.startswith("You are the clinic's receptionist. Be brief, kind and exact; never give medical "
                                 "advice. The person you are helping prefers:")
        assert "You are a helpful assistant" not in system
        assert all(f"({p['subdimension']}): {p['preference']}" in system for p in r["meta"]["preference_set"])
    assert all("You are the clinic's receptionist." in p for p in prompts)  # the model is shown the same message


def test_system_message_without_a_spec_system_prompt(cli, tmp_path):
    import shutil

    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "clinic", spec)
    text = (spec / "setup.yaml").read_text(encoding="utf-8")
    start = text.index("system_prompt:")
    end = text.index("\n\n", start)
    (spec / "setup.yaml").write_text(text[:start] + text[end + 2:], encoding="utf-8")
    records, _ = _system_message_records(cli, tmp_path, spec)
    assert all(r["messages"][0]["content"].startswith("You are a helpful assistant. The person you are helping "
                                                      "prefers:") for r in records)


# --- the graph drawing -------------------------------------------------------------------------

def test_graph_png_of_the_clinic_is_readable(cli, tmp_path):
    pytest.importorskip("matplotlib", reason="the graph drawing needs matplotlib (the 'plot' extra)")
    import matplotlib.pyplot as plt

    from janus_core.plan.graph import build_graph, figure
    from janus_core.spec.model import load_spec

    graph = build_graph(load_spec(SAMPLES / "clinic").diagram)
    fig = figure(graph)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = {t.get_gid(): t for t in fig.axes[0].texts}
    nodes = {gid: t.get_bbox_patch().get_window_extent(renderer) for gid, t in texts.items() if gid.startswith("node:")}
    assert len(nodes) == graph.number_of_nodes() == 6
    boxes = list(nodes.values())
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])  # no node hides another
    frame = fig.bbox
    for gid, t in texts.items():
        box = t.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, gid
    edges = [t.get_text() for gid, t in texts.items() if gid.startswith("edge:")]
    labels = [d["label"] for _u, _v, d in graph.edges(data=True)]
    assert len(edges) == len(labels) == 6
    assert sorted(e.split("\n")[0] for e in edges) == sorted(labels)  # every label in full
    assert "is billed by\n(exactly one to exactly one)" in edges
    plt.close(fig)
    png = tmp_path / "clinic.png"
    result = cli("graph", SAMPLES / "clinic", "--png", png)
    assert result.exit_code == 0 and png.read_bytes()[:4] == b"\x89PNG"


# --- dry run -----------------------------------------------------------------------------------

def test_dry_run_lists_requests_and_refuses_what_the_run_refuses(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    base = ["--plugin", FILLER, "generate", SAMPLES / "clinic", "--out", out, "--max-seeds", "2", "--d-factor", "0",
            "--no-filters", "-q"]
    assert cli(*base, "--backend", "schema-filler").exit_code == 0
    same = cli(*base, "--backend", "schema-filler", "--dry-run")
    assert same.exit_code == 0
    assert "dry run: 2 requests (2 seeds, 0 derivations) to schema-filler" in same.output
    assert "seed contexts: 1; seed requests per direction: general 1, diverse 1" in same.output
    assert f"2 records are already in {out}'s journal" in same.output
    env = {"OPENAI_API_KEY": fake_secret("openai")}
    other = cli(*base, "--backend", "openai", "--option", "base_url=http://127.0.0.1:9/v1", "--dry-run", env=env)
    assert other.exit_code == 0
    assert "already in" not in other.output
    assert "the real run would refuse" in other.output and "backend 'schema-filler' -> 'openai'" in other.output
    real = cli(*base, "--backend", "openai", "--option", "base_url=http://127.0.0.1:9/v1", env=env)
    assert real.exit_code == 1
    assert f"{out} cannot be continued: it was generated from a different spec, backend, model, seed or " \
           "temperature (backend 'schema-filler' -> 'openai'; model 'filler-1' -> 'gpt-4o-mini')" \
           in " ".join(real.stderr.split())
    reseeded = cli(*base, "--backend", "schema-filler", "--seed", "3", "--dry-run")
    assert "seed 0 -> 3" in reseeded.output


# --- the report and the judge ------------------------------------------------------------------

def test_stats_reports_judge_scores_of_eliminated_records(cli, tmp_path):
    from servers import ProviderServer
    from test_quality_run import _provider

    first = "How can my husband and I plan our weekly budget without arguing every single time?"
    second = "What should we do when his mother criticises how we raise our two children at dinner?"
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", _provider([first, second], {first: 2, second: 1})) as server:
        cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--option",
            f"base_url={server.base_url}", "--d-factor", "0", "--max-seeds", "2", "--concurrency", "1",
            "--min-score", "3.5", "--out", out, "-q", env={"OPENAI_API_KEY": fake_secret("openai")})
    assert read_jsonl(out) == []  # the judge eliminated both
    report = json.loads(cli("stats", out, "--json").output)["judge"]
    assert report["judged"] == 0 and report["eliminated"] == 2 and sorted(report["eliminated_scores"]) == [1, 2]
    shown = " ".join(cli("stats", out, "--no-report").output.split())  # rich wraps long lines
    assert "No record was judged" not in shown
    assert "2 more records were judged and eliminated" in shown and "mean 1.5, min 1, max 2" in shown


def test_graph_png_separates_parallel_relationships_and_loops(tmp_path):
    pytest.importorskip("matplotlib", reason="the graph drawing needs matplotlib (the 'plot' extra)")
    import shutil

    import matplotlib.pyplot as plt

    from janus_core.plan.graph import build_graph, figure
    from janus_core.spec.model import load_spec

    spec = tmp_path / "spec"
    shutil.copytree(SAMPLES / "clinic", spec)
    (spec / "diagram.mermaid").write_text(
        'erDiagram\n    PATIENT ||--o{ APPOINTMENT : "asks for"\n    PATIENT ||--o{ APPOINTMENT : cancels\n'
        "    APPOINTMENT }o--|| PATIENT : reminds\n    DOCTOR ||--o{ APPOINTMENT : attends\n"
        "    PATIENT ||--o{ PATIENT : refers\n    RECEPTIONIST ||--o{ APPOINTMENT : books\n", encoding="utf-8")
    fig = figure(build_graph(load_spec(spec).diagram))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = {t.get_text().split("\n")[0]: t.get_window_extent(renderer) for t in fig.axes[0].texts
              if t.get_gid().startswith("edge:")}
    assert set(labels) == {"asks for", "cancels", "reminds", "attends", "refers", "books"}
    boxes = list(labels.values())
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    plt.close(fig)
