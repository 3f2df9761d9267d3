"""The command line as people used to other tools expect it: grouped help, -o KEY VALUE, --json on the
checking commands, -V, documented exit codes and completion, a test split, readable plugin options."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES, SAMPLES, read_jsonl, run_janus

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"


def section(text: str, title: str) -> str:
    """One titled section of a --help text (up to the next unindented line)."""
    lines = text.split(f"\n{title}:\n", 1)[1].splitlines()
    return "\n".join(line for line in lines[: next((i for i, ln in enumerate(lines) if ln and not ln[0].isspace()),
                                                        len(lines))])


def test_generate_help_is_grouped_in_panels(cli):
    text = cli("generate", "--help").output
    panels = {"What to generate": ["--type", "--generation", "--s-factor", "--target", "--max-seeds"],
              "Model": ["--backend", "-m, --model", "--option", "-o KEY VALUE", "--batch"],
              "Budget and pace": ["--concurrency", "--rpm", "--max-cost", "--max-requests", "--shard"],
              "Output": ["--out", "--overwrite", "--dry-run", "--log-json", "-v, --verbose"],
              "Filters": ["--no-filters", "--against", "--min-score", "--language"]}
    for title, flags in panels.items():
        part = section(text, title)
        for flag in flags:
            assert f"  {flag}" in part, f"{flag} not under {title}"
    assert "\nOptions:\n" not in text


def test_short_o_takes_key_and_value(tmp_path):
    out = tmp_path / "o.jsonl"
    result = run_janus("--plugin", FILLER, "generate", SAMPLES / "clinic", "--backend", "schema-filler", "-o",
                       "voice", "plain", "--out", out, "--no-filters", "--max-seeds", "1", "-q")
    assert result.returncode == 0, result.stderr
    texts = [m["content"] for r in read_jsonl(out) for m in r["messages"] if m["role"] != "system"]
    assert texts and not any("Direction" in t or "direction" in t for t in texts)  # voice=plain, not echo
    wrong = run_janus("--plugin", FILLER, "generate", SAMPLES / "clinic", "--backend", "schema-filler", "-o",
                      "colour", "red", "--out", tmp_path / "p.jsonl", "--no-filters", "--max-seeds", "1")
    assert wrong.returncode == 1 and "colour: unknown option" in wrong.stderr


def test_validate_json(cli):
    ok = cli("validate", SAMPLES / "clinic", "--json")
    assert ok.exit_code == 0
    data = json.loads(ok.stdout)
    assert data["ok"] is True and data["entities"] > 0 and data["seed_requests"] > 0
    bad = cli("validate", FIXTURES / "invalid" / "bad_cardinality", "--json")
    assert bad.exit_code == 1
    problems = json.loads(bad.stdout)["problems"]
    assert problems and {"path", "line", "column", "message", "hint"} <= set(problems[0])
    assert problems[0]["line"] > 0


def test_directions_json(cli):
    result = cli("directions", "--json")
    listed = json.loads(result.stdout)
    assert result.exit_code == 0
    in_depth = next(d for d in listed if d["name"] == "in-depth")
    assert in_depth["description"] and in_depth["pack"] and in_depth["plugin"] == "evol"


def test_doctor_json(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    made = cli("--plugin", FILLER, "generate", SAMPLES / "clinic", "--backend", "schema-filler", "--out", out,
               "--no-filters", "--max-seeds", "1", "-q")
    assert made.exit_code == 0
    data = json.loads(cli("doctor", out, "--json").stdout)
    assert data["healthy"] is True and data["journal"] == "ok" and data["output_records"] == 3
    with out.open("a") as f:
        f.write("{torn\n")
    hurt = cli("doctor", out, "--json")
    assert hurt.exit_code == 1 and json.loads(hurt.stdout)["output_bad_lines"] == [4]


def test_short_version_flag(cli):
    result = cli("-V")
    assert result.exit_code == 0 and result.output.startswith("janus, version ")


def test_exit_codes_and_completion_are_documented():
    text = run_janus("--help").stdout
    for code in ("0 done", "1 an error", "2 a usage error", "3 generate --target", "130 interrupted"):
        assert code in text
    assert "_JANUS_COMPLETE=bash_source janus" in text and "zsh_source" in text and "fish_source" in text
    script = run_janus(env={"_JANUS_COMPLETE": "bash_source"})  # what the documented line evaluates
    assert script.returncode == 0 and "_janus_completion" in script.stdout


def test_held_out_split_is_named_test(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    assert cli("--plugin", FILLER, "generate", SAMPLES / "clinic", "--backend", "schema-filler", "--out", out,
               "--no-filters", "--s-factor", "3", "-q").exit_code == 0
    result = cli("export", out, "--to", tmp_path / "x.jsonl", "--test-fraction", "0.5")
    assert result.exit_code == 0, result.output
    train, test = read_jsonl(tmp_path / "x-train.jsonl"), read_jsonl(tmp_path / "x-test.jsonl")
    assert train and test and len(train) + len(test) == len(read_jsonl(out))
    assert f"test: {len(test)} rows" in result.output and not (tmp_path / "x-eval.jsonl").exists()
    alias = cli("export", out, "--to", tmp_path / "y.jsonl", "--eval-fraction", "0.5")  # the old name still works
    assert alias.exit_code == 0 and read_jsonl(tmp_path / "y-test.jsonl") == test


def test_plugins_shows_defaults_and_flags_not_internals(cli):
    text = cli("plugins").output
    assert "PydanticUndefined" not in text
    assert "janus generate flags:" in text and "    --language: Drop records" in text
    assert "generate options: min_score" not in text and "--language CODE" not in text
    assert "skip: rules not to apply" in text and "(default none)" in text
    assert "max_top_ngram: n -> most characters in the top n-gram (Gopher) (default 2: 0.2" in text
    listed = json.loads(cli("plugins", "--json").output)
    filters = next(p for p in listed if p["name"] == "filters")
    assert "--min-score" in filters["flags"] and "PydanticUndefined" not in json.dumps(listed)
