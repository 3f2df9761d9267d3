"""Every setup.yaml + diagram the original tool shipped runs unchanged, with the original's flags and counts.

The specs are read from ../shared/corpora/original-janus (never copied into the project); the tests
skip with a message when it is absent. Each spec generates against a stand-in OpenAI-compatible
server on 127.0.0.1 whose fixed reply fits every output type, so a seed has exactly TURNS turns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import fake_secret, read_jsonl
from servers import ProviderServer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "original-janus"
NAMES = sorted(p.name for p in CORPUS.iterdir() if (p / "setup.yaml").is_file()) if CORPUS.is_dir() else []
ABSENT = pytest.mark.skip(reason=f"the original tool's specs are not at {CORPUS} (../shared/corpora/original-janus)")
SPECS = [pytest.param(name, id=name) for name in NAMES] or [pytest.param("absent", marks=ABSENT)]

TURNS = 2
TURN = {"user": "My code throws a KeyError when the config has no 'port'.",
        "assistant": "Read it with config.get('port', 8080) so a missing key has a default."}
#: one reply every output type accepts: a conversation's turns, an instruction, a follow-up turn
REPLY = json.dumps({"turns": [TURN] * TURNS, "instruction": TURN["user"], "response": TURN["assistant"], **TURN})
S_FACTOR, D_FACTOR = 2, 2


def kind(name: str) -> str:
    return "instruct" if "instruct" in name else "conversation"


def original_setup(name: str) -> dict:
    import yaml

    return yaml.safe_load((CORPUS / name / "setup.yaml").read_text(encoding="utf-8"))


def seed_contexts(name: str) -> int:
    from janus_core.plan.graph import build_graph, plan
    from janus_core.spec.model import load_spec

    spec = load_spec(CORPUS / name)
    w = spec.setup.walk
    return len(plan(build_graph(spec.diagram), w.strategies, w.max_path_length, w.random_walks, 0, w.cover))


def original_count(name: str, s: int, d: int, turns: int) -> tuple[int, int]:
    """(seeds, records in outputs.json) the original tool made for one context, from its rules:
    conversation: one seed per seed direction (it ignored --s-factor there), and each seed's first
    1..T turns continued d times per derivational direction; instruct: s seeds per seed direction,
    each evolved d times per derivational direction. Only the derivations went to outputs.json."""
    setup = original_setup(name)
    seed_dirs, derive_dirs = len(setup["seed_evolving_directions"]), len(setup["derivational_evolving_directions"])
    if kind(name) == "conversation":
        return seed_dirs, seed_dirs * turns * derive_dirs * d
    return seed_dirs * s, seed_dirs * s * derive_dirs * d


@dataclass
class Run:
    name: str
    flags: list[str]
    out: Path
    contexts: int
    #: records the original tool's outputs.json would hold (its one context: the whole diagram)
    original: int
    seeds_expected: int
    derivations_expected: int
    records: list[dict]
    output: str


def generate(server: ProviderServer, out: Path, *args: str):
    from janus_core.cli import cli

    env = {"OPENAI_API_KEY": fake_secret("openai")}
    args = ("generate", *args, "--backend-llm", "gpt", "--option", f"base_url={server.base_url}", "--out", str(out),
            "-q", "--no-filters")
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Every spec generated once with the original's flags."""
    if not NAMES:
        pytest.skip(f"the original tool's specs are not at {CORPUS}")
    made = {}
    with ProviderServer("openai", lambda body: REPLY) as server:
        for name in NAMES:
            out = tmp_path_factory.mktemp(name) / "o.jsonl"
            flags = ["--target-folder", str(CORPUS / name), "--type", kind(name), "--s-factor", str(S_FACTOR),
                     "--d-factor", str(D_FACTOR), "--retry-num", "1"]
            result = generate(server, out, *flags)
            assert result.exit_code == 0, f"{name}: {result.output}"
            contexts = seed_contexts(name)
            seeds, derivations = original_count(name, S_FACTOR, D_FACTOR, TURNS)
            made[name] = Run(name, flags[2:], out, contexts, derivations, contexts * seeds, contexts * derivations,
                             read_jsonl(out), result.output)
    return made


@pytest.mark.parametrize("name", SPECS)
def test_validates(cli, name):
    result = cli("validate", CORPUS / name)
    assert result.exit_code == 0, result.output
    assert "uses the original tool's keys" in result.output


def _rendered(name: str, **overrides) -> tuple[str, str]:
    from janus_core.spec.model import load_spec
    from janus_core.spec.templates import render

    spec = load_spec(overrides.pop("path", CORPUS / name))
    values = {"diagram": "DIAGRAM-TEXT", "context": "CONTEXT-TEXT", "direction": "DIRECTION-TEXT",
              "user_role": "USER-ROLE", "assistant_role": "ASSISTANT-ROLE", "description": "",
              "output_format": "OUTPUT-FORMAT", "previous": "PREVIOUS-TEXT", "entities": [], "documents": ""}
    return render(spec.setup.seed_prompt, **values), render(spec.setup.derivational_prompt, **values)


def assert_slots_in_place(text: str) -> None:
    """Each value sits where the original's wording says it goes."""
    assert re.search(r'should be "DIRECTION-TEXT"', text), text
    assert re.search(r'role of "USER-ROLE"|user\(USER-ROLE\)', text), text
    assert re.search(r'role of "ASSISTANT-ROLE"|assistant\(ASSISTANT-ROLE\)', text), text
    assert "DIAGRAM-TEXT\n\nFocus on this part of it:\nCONTEXT-TEXT" in text  # the walk reaches %s templates
    assert "%s" not in text and "------------------------------" in text and "OUTPUT-FORMAT" in text


@pytest.mark.parametrize("name", SPECS)
def test_every_slot_gets_its_value(name):
    seed, derive = _rendered(name)
    assert_slots_in_place(seed)
    assert_slots_in_place(derive)
    assert "PREVIOUS-TEXT" in derive and "PREVIOUS-TEXT" not in seed


@pytest.mark.parametrize("strip_comments", [False, True], ids=["commented", "bare"])
def test_a_missing_prompt_does_not_scramble_the_other(tmp_path, strip_comments):
    """The instruct layout's initial_prompt alone (five %s, like the conversation layout's) keeps its order."""
    name = "marriage_counsel_instruct-8cdebe6"
    if name not in NAMES:
        pytest.skip(f"{name} is not in {CORPUS}")
    text = (CORPUS / name / "setup.yaml").read_text(encoding="utf-8")
    text = re.sub(r"derivational_prompt: \|\n(  .*\n|\n)*", "", text)
    if strip_comments:
        text = re.sub(r"(%s[^\n]*?)[ \t]+#[^\n]*", r"\1", text)
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "setup.yaml").write_text(text, encoding="utf-8")
    (spec / "diagram.mermaid").write_text((CORPUS / name / "diagram.mermaid").read_text(encoding="utf-8"))
    seed, _derive = _rendered(name, path=spec)
    assert_slots_in_place(seed)


@pytest.mark.parametrize("name", SPECS)
def test_generates_the_original_count(runs, name):
    run = runs[name]
    seeds = [r for r in run.records if r["depth"] == 0]
    derived = [r for r in run.records if r["depth"] == 1]
    assert len(seeds) == run.seeds_expected
    assert len(derived) == run.derivations_expected
    assert len(run.records) == len(seeds) + len(derived)
    # the walk reaches the prompts: every seed context is used, and each has prompts of its own
    directions = len(original_setup(name)["seed_evolving_directions"])
    assert len({r["walk"]["id"] for r in seeds}) == run.contexts
    assert len({r["prompt_sha256"] for r in seeds}) >= run.contexts * directions
    if kind(name) == "conversation":
        # every prefix of every seed was evolved: the first turn, then the first two
        assert sorted({len(r["messages"]) for r in derived}) == [2 + 2 * TURNS, 4 + 2 * TURNS]
        assert "--s-factor is not used" in run.output


def test_the_readme_example_makes_40_records_per_context(tmp_path):
    """The original README: marriage_counsel, --d-factor 4, a seed of 5 turns: "40 (prompt, output) pairs"."""
    name = "marriage_counsel-26060b0"
    if name not in NAMES:
        pytest.skip(f"{name} is not in {CORPUS}")
    five = json.dumps({"turns": [TURN] * 5})
    with ProviderServer("openai", lambda body: five) as server:
        result = generate(server, tmp_path / "o.jsonl", "--target-folder", CORPUS / name, "--type",
                          "conversation", "--d-factor", "4")
    assert result.exit_code == 0, result.output
    records = read_jsonl(tmp_path / "o.jsonl")
    contexts = seed_contexts(name)
    assert sum(r["depth"] == 1 for r in records) == 40 * contexts
    assert sum(r["depth"] == 0 for r in records) == contexts


@pytest.mark.parametrize("name", SPECS)
def test_legacy_export_is_the_original_outputs_json(runs, cli, tmp_path, name):
    run = runs[name]
    to = tmp_path / "outputs.json"
    result = cli("export", run.out, "--to", to, "--format", "janus-legacy")
    assert result.exit_code == 0, result.output
    with to.open(encoding="utf-8") as f:
        rows = json.load(f)
    assert isinstance(rows, list) and len(rows) == len(run.records)
    category = original_setup(name).get("category")
    for row in rows:
        assert set(row) == {"conversations", "type", "category", "model"}
        assert row["type"] == kind(name) and row["category"] == category
        assert row["model"] and row["model"] in {r["model"] for r in run.records}
        assert row["conversations"] and all(set(pair) == {"user", "assistant"} for pair in row["conversations"])
    # the keys the original's own outputs.json used (where its rows were objects) are all there
    original = json.loads((CORPUS / name / "outputs.json").read_text(encoding="utf-8"))
    for item in original:
        if isinstance(item, dict) and "conversations" in item:
            assert set(item) <= set(rows[0])
            assert all(set(pair) <= {"user", "assistant"} for pair in item["conversations"])


def test_input_reads_the_legacy_export(runs, cli, tmp_path):
    run = runs[NAMES[0]]
    exported = tmp_path / "outputs.json"
    assert cli("export", run.out, "--to", exported, "--format", "janus-legacy").exit_code == 0
    out = tmp_path / "grown.jsonl"
    with ProviderServer("openai", lambda body: REPLY) as server:
        result = generate(server, out, "--target-folder", CORPUS / run.name, "--type", "follow-up", "--input",
                          exported, "--turns", str(2 * TURNS + 1))
    assert result.exit_code == 0, result.output
    grown = read_jsonl(out)
    given = {json.dumps(r["conversations"]) for r in json.loads(exported.read_text())}
    assert grown and all(r["parent_id"] for r in grown)
    assert len({r["seed_id"] for r in grown}) == len(given)  # every distinct conversation grew


@pytest.mark.parametrize("name", SPECS)
def test_input_reads_the_original_outputs_json(name):
    """--input reads every outputs.json the original shipped, in each of its shapes."""
    from janus_core.plan.inputs import load_conversations

    path = CORPUS / name / "outputs.json"
    records = load_conversations(path)
    original = json.loads(path.read_text(encoding="utf-8"))
    assert len(records) == len(original)
    first = original[0]
    pairs = first if isinstance(first, list) else first.get("conversations") or first["conversation"]
    pairs = [pairs] if isinstance(pairs, dict) else pairs
    assert records[0].messages[0] == {"role": "user", "content": pairs[0]["user"]}
    assert len(records[0].messages) == 2 * len(pairs)
    # a turn the original saved without an answer joins the next user message
    answered = sum(1 for item in original for pair in (item if isinstance(item, list) else
                   item.get("conversations") or []) if isinstance(pair, dict) and "assistant" in pair)
    if answered:
        assert sum(len(r.messages) for r in records) == 2 * answered


@pytest.mark.parametrize(("flags", "says"), [
    (["--api-key", "VALUE"], ["OPENAI_API_KEY", "GEMINI_API_KEY"]),
    (["--hf-hub-repo-id", "me/ds"], ["janus push"]),
    (["--hf-token", "VALUE", "--hf-append"], ["janus push", "HF_TOKEN"]),
    (["--target-filename", "outputs.json"], ["--out", "janus export OUT --format janus-legacy"]),
], ids=["api-key", "hf-hub-repo-id", "hf-token", "target-filename"])
def test_refused_original_flags_say_what_to_do(tmp_path, flags, says):
    from janus_core.cli import cli

    spec = CORPUS / NAMES[0] if NAMES else Path(__file__).parent / "fixtures" / "legacy_marriage_counsel"
    secret = fake_secret("flag")
    flags = [secret if f == "VALUE" else f for f in flags]
    result = CliRunner().invoke(cli, ["generate", "--target-folder", str(spec), *flags, "--out",
                                      str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for text in says:
        assert text in result.output
    assert secret not in result.output and secret not in (result.stderr or "")
    assert not (tmp_path / "o.jsonl").exists()


def test_table(runs):
    """The table for the issue's closing note: records the original's rules give against records made."""
    lines = ["| spec | flags | original's outputs.json (1 context) | contexts | seeds expected / made | "
             "derivations expected (x contexts) / made | records made |", "|---|---|---|---|---|---|---|"]
    for run in runs.values():
        made_seeds = sum(r["depth"] == 0 for r in run.records)
        made_derived = sum(r["depth"] == 1 for r in run.records)
        lines.append(f"| {run.name} | {' '.join(run.flags)} | {run.original} | {run.contexts} | "
                     f"{run.seeds_expected} / {made_seeds} | "
                     f"{run.derivations_expected} / {made_derived} | {len(run.records)} |")
        assert (made_seeds, made_derived) == (run.seeds_expected, run.derivations_expected)
    print("\n" + "\n".join(lines))
