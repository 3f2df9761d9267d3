"""Plugins: entry points, --plugin modules and files, and a third-party direction pack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl, run_janus

HERE = Path(__file__).resolve().parent
FILLER = HERE / "plugins" / "schema_filler.py"


def test_builtins_come_through_entry_points(cli):
    result = cli("plugins", "--json")
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["local"]["backends"] == ["local"]
    assert rows["openai"]["backends"] == ["openai"]
    assert rows["evol"]["directions"] == ["general", "diverse", "in-depth", "add-constraints", "deepening",
                                          "concretizing", "increase-reasoning", "complicate-input", "in-breadth"]
    assert rows["outputs"]["output_types"] == ["instruct", "conversation", "follow-up", "system-message", "preference",
                                               "text-to-sql", "tool-use"]
    assert rows["outputs"]["directions"] == ["sql-join", "sql-aggregate", "sql-filter"]
    assert rows["sinks"]["sinks"] + rows["hf"]["sinks"] == ["jsonl", "parquet", "hf-disk", "hf-hub"]
    assert rows["filters"]["filters"] == ["control-characters", "no-change", "refusal", "stopwords-only", "leakage",
                                          "role-consistency", "length", "text-quality", "scenario-consistency",
                                          "direction", "language", "decontamination", "duplicate",
                                          "semantic-duplicate", "judge"]
    assert rows["erdiagram"]["diagram_readers"] == ["erdiagram"]
    assert all(row["from"].startswith("janus-data ") for row in rows.values())


def test_plugin_file_registers_a_backend(cli):
    result = cli("--plugin", FILLER, "plugins")
    assert "backends: schema-filler" in result.output
    assert "(--plugin)" in result.output


def test_plugin_option_on_subcommand_and_module_name(tmp_path):
    (tmp_path / "my_mod.py").write_text(FILLER.read_text())
    result = run_janus("plugins", "--plugin", "my_mod", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "my_mod  (--plugin)" in result.stdout
    assert "backends: schema-filler" in result.stdout


def test_bad_plugin_is_a_clear_error(cli, tmp_path):
    result = cli("--plugin", "no_such_module_xyz", "plugins")
    assert result.exit_code == 1
    assert "cannot import it" in result.stderr
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    result = cli("--plugin", broken, "plugins")
    assert result.exit_code == 1 and "boom" in result.stderr


def test_unknown_backend_suggests_a_name(cli, tmp_path):
    result = cli("generate", SAMPLES / "marriage_counsel", "--backend", "opena", "--out", tmp_path / "x.jsonl")
    assert result.exit_code == 1
    assert "no backend named 'opena'. Did you mean 'openai'?" in result.stderr


PACK = SAMPLES / "direction_pack_example"


@pytest.fixture(scope="module")
def installed_pack(tmp_path_factory) -> Path:
    """Build and install the sample third-party pack into its own folder, as pip would for a user."""
    import shutil

    root = tmp_path_factory.mktemp("pack")
    src = root / "src"
    shutil.copytree(PACK, src)
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True, capture_output=True)
    return site


def test_third_party_pack_is_listed(installed_pack):
    env = {"PYTHONPATH": str(installed_pack)}
    result = run_janus("directions", env=env)
    assert result.returncode == 0, result.stderr
    assert "socratic  socratic " in result.stdout
    assert "socratic  socratic-challenge" in result.stdout
    result = run_janus("plugins", env=env)
    assert "socratic  (janus-pack-socratic 0.3.0)" in result.stdout


def test_third_party_direction_is_used(installed_pack, tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "diagram.mermaid").write_text((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
    (spec / "setup.yaml").write_text(textwrap.dedent("""\
        user_role: COUNSELEE
        assistant_role: COUNSELOR
        output_type: instruct
        seed_directions: [general]
        derivational_directions: [socratic, socratic-challenge]
        """))
    out = tmp_path / "out.jsonl"
    env = {"PYTHONPATH": os.pathsep.join([str(installed_pack), str(FILLER.parent)])}
    result = run_janus("generate", spec, "--plugin", "schema_filler", "--backend", "schema-filler",
                       "--out", out, "-q", "--no-filters", env=env)
    assert result.returncode == 0, result.stderr
    derived = [r for r in read_jsonl(out) if r["parent_id"]]
    assert len(derived) == 6
    assert {r["direction"] for r in derived} == {"socratic", "socratic-challenge"}
    guided = [r for r in derived if r["direction"] == "socratic"]
    # the filler echoes the direction line: the instruction was rendered with the user's role
    assert all("SOCRATIC: the assistant answers with one or two guiding questions that lead the COUNSELEE"
               in r["messages"][0]["content"] for r in guided)
