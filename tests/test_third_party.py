"""A third-party plugin package (tests/third_party), written only against ``janus_core``'s front door
and installed with its own ``janus`` entry point, works in generate, export and stats; plugins can be
turned off by name."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import SAMPLES, read_jsonl, run_janus

PACKAGE = Path(__file__).resolve().parent / "third_party"

SETUP = """\
user_role: COUNSELEE
assistant_role: COUNSELOR
output_type: acme-qa
seed_directions: [general]
derivational_directions: [acme-terse]
s_factor: 1
d_factor: 1
model:
  backend: acme-echo
  options:
    prefix: hello
    marker_every: 3
filters: [acme-marker]
filter_options:
  acme-marker:
    marker: REJECT-ME
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The package built and installed into a folder of its own, offline, as pip would for a user."""
    root = tmp_path_factory.mktemp("acme")
    shutil.copytree(PACKAGE, root / "src")
    target = root / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(root / "src")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return target


def make_spec(folder: Path, setup: str = SETUP) -> Path:
    folder.mkdir()
    (folder / "diagram.mermaid").write_text((SAMPLES / "marriage_counsel" / "diagram.mermaid").read_text())
    (folder / "setup.yaml").write_text(setup)
    return folder


def janus(site: Path, *args, env: dict | None = None):
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return run_janus(*args, env={"PYTHONPATH": path, **(env or {})})


def test_the_package_imports_only_the_front_door():
    source = (PACKAGE / "acme_janus" / "__init__.py").read_text()
    imports = [line for line in source.splitlines() if "import" in line and "janus" in line]
    assert imports and all(line.startswith("from janus_core import") for line in imports), imports


def test_listed_with_its_package_and_options(site):
    result = janus(site, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    row = next(r for r in json.loads(result.stdout) if r["name"] == "acme")
    assert row["from"] == "janus-acme 1.2.0"
    assert (row["backends"], row["sinks"], row["filters"], row["output_types"], row["directions"]) == (
        ["acme-echo"], ["acme-csv"], ["acme-marker"], ["acme-qa"], ["acme-terse"])
    # help text comes from the Options models' field descriptions
    assert row["options"]["acme-echo"]["prefix"] == "word every answer starts with (default acme)"
    assert row["options"]["acme-marker"]["marker"].startswith("records containing this word are eliminated")
    text = janus(site, "plugins").stdout
    assert "acme-echo options:" in text and "marker_every: put the word REJECT-ME" in text


def test_generate_export_and_stats(site, tmp_path):
    spec = make_spec(tmp_path / "spec")
    out = tmp_path / "out.jsonl"
    result = janus(site, "generate", spec, "--out", out, "--concurrency", "1", "--max-seeds", "10")
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    assert records
    seeds = [r for r in records if r["parent_id"] is None]
    derived = [r for r in records if r["parent_id"]]
    assert seeds and derived
    for r in records:
        assert r["output_type"] == "acme-qa" and r["model"] == "echo-1"
        # the backend answered (its prefix option), sample() drew a style, finish() asked for a rating
        assert r["messages"][1]["content"].startswith("hello ")
        assert r["messages"][0]["role"] == "system" and r["meta"]["acme_style"] in ("formal", "plain")
        assert r["messages"][0]["content"].endswith(f"{r['meta']['acme_style']} style.")
        assert r["meta"]["acme_rating"] == 4
        # the filter saw every kept record and wrote its meta; the marked ones were eliminated
        assert r["meta"]["acme_chars"] == len(" ".join(m["content"] for m in r["messages"]))
        assert "REJECT-ME" not in json.dumps(r["messages"])
    assert {r["direction"] for r in derived} == {"acme-terse"}
    by_id = {r["id"]: r for r in records}
    assert all(by_id[r["parent_id"]]["meta"]["acme_style"] == r["meta"]["acme_style"]
               for r in derived if r["parent_id"] in by_id)
    assert "eliminated:acme-marker" in result.stderr

    table = tmp_path / "out.csv"
    exported = janus(site, "export", out, "--to", table)  # the sink is chosen by the .csv suffix
    assert exported.returncode == 0, exported.stderr
    assert f"{len(records)} rows -> {table}" in exported.stdout
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert [row["id"] for row in rows] == [r["id"] for r in records]
    assert [row["answer"] for row in rows] == [r["messages"][-1]["content"] for r in records]

    stats = janus(site, "stats", out, "--json")
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert report["records"] == len(records)


def test_bad_backend_options_name_their_place(site, tmp_path):
    setup = SETUP.replace("    prefix: hello\n", "    prefix: hello\n    colour: blue\n")
    spec = make_spec(tmp_path / "spec", setup)
    result = janus(site, "generate", spec, "--out", tmp_path / "o.jsonl")
    assert result.returncode == 1
    line = setup.splitlines().index("    colour: blue") + 1
    assert f"setup.yaml:{line}:5: model.options.colour: unknown option" in result.stderr
    assert "options of the acme-echo backend: prefix, marker_every" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o.jsonl").exists()

    spec = make_spec(tmp_path / "spec2")
    result = janus(site, "generate", spec, "--out", tmp_path / "o.jsonl", "--option", "marker_every=-1")
    assert result.returncode == 1
    assert "--option marker_every: Input should be greater than or equal to 0" in result.stderr
    setup = SETUP.replace("marker_every: 3", "marker_every: often")
    spec = make_spec(tmp_path / "spec3", setup)
    result = janus(site, "generate", spec, "--dry-run")
    line = setup.splitlines().index("    marker_every: often") + 1
    assert result.returncode == 1
    assert f"setup.yaml:{line}:19: model.options.marker_every: Input should be a valid integer" in result.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_plugin_can_be_turned_off(site, tmp_path, how):
    args, env = (("--no-plugin", "acme"), {}) if how == "flag" else ((), {"JANUS_DISABLE_PLUGINS": "gemini, acme"})
    listed = janus(site, *args, "plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    names = {row["name"] for row in json.loads(listed.stdout)}
    assert "acme" not in names and "openai" in names
    assert ("gemini" in names) == (how == "flag")
    spec = make_spec(tmp_path / "spec", SETUP.replace("filters: [acme-marker]\nfilter_options:\n  acme-marker:\n"
                                                      "    marker: REJECT-ME\n", "").replace("acme-qa", "instruct")
                     .replace("[acme-terse]", "[general]"))
    result = janus(site, *args, "generate", spec, "--out", tmp_path / "o.jsonl", env=env)
    assert result.returncode == 1
    assert "setup.yaml:9:12: model.backend: unknown backend 'acme-echo'" in result.stderr
    if how == "flag":  # a built-in goes the same way
        listed = janus(site, "--no-plugin", "gemini", "plugins", "--json")
        assert "gemini" not in {row["name"] for row in json.loads(listed.stdout)}


def test_a_registration_of_the_wrong_kind_is_named(tmp_path):
    plugin = tmp_path / "wrong.py"
    plugin.write_text(textwrap.dedent("""\
        from janus_core import hookimpl


        class NotAFilter:
            name = "loose"

            async def check(self, record, parent, ask):
                return None


        @hookimpl
        def register_filters(register):
            register(NotAFilter())
        """))
    result = run_janus("--plugin", plugin, "plugins")
    assert result.returncode == 1
    assert f"plugin '{plugin}' registered" in result.stderr
    assert "register_filters takes a janus_core.Filter" in result.stderr


def test_the_walk_through_shows_the_package_s_code():
    """docs/plugins.md's Python examples are the tested package's code, line for line."""
    import re

    docs = (PACKAGE.parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    source = {line.strip() for line in (PACKAGE / "acme_janus" / "__init__.py").read_text().splitlines()}
    blocks = re.findall(r"```python\n(.*?)```", docs, re.S)
    assert len(blocks) >= 3  # a backend, a sink, a direction pack
    for block in blocks:
        code = [line.strip() for line in block.splitlines()
                if line.strip() and not line.startswith(("import ", "from "))]
        assert [line for line in code if line not in source] == []
