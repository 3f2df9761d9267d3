"""`janus graph` draws a diagram or schema file, or a folder holding one, with no setup.yaml; roles
are checked only where a spec is generated from (validate, generate)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SAMPLES

CLINIC = SAMPLES / "clinic" / "diagram.mermaid"
SCHEMA = SAMPLES / "sql_schema" / "schema.sql"


def _folder(tmp_path, source, name=None, setup=None):
    folder = tmp_path / "spec"
    folder.mkdir()
    shutil.copy(source, folder / (name or source.name))
    if setup is not None:
        (folder / "setup.yaml").write_text(setup, encoding="utf-8")
    return folder


@pytest.mark.parametrize("form", ["mermaid file", "mermaid file, other name", "folder with diagram.mermaid"])
def test_graph_draws_a_diagram_without_setup(cli, tmp_path, form):
    if form == "mermaid file":
        target = _folder(tmp_path, CLINIC) / "diagram.mermaid"
    elif form == "mermaid file, other name":
        target = _folder(tmp_path, CLINIC, "clinic.mmd") / "clinic.mmd"
    else:
        target = _folder(tmp_path, CLINIC)
    result = cli("graph", target)
    assert result.exit_code == 0, result.output
    assert "Entities (6)" in result.stdout and "Relationships (6)" in result.stdout
    assert "Coverage: every entity and relationship" in result.stdout


@pytest.mark.parametrize("as_file", [True, False])
def test_graph_draws_a_schema_without_setup(cli, tmp_path, as_file):
    folder = _folder(tmp_path, SCHEMA)
    result = cli("graph", folder / "schema.sql" if as_file else folder, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"branch", "librarian", "member"} <= {n["name"] for n in data["nodes"]}
    assert data["edges"] and data["plan"]


def test_graph_draws_a_folder_whose_roles_do_not_match_yet(cli, tmp_path):
    folder = _folder(tmp_path, CLINIC, setup="user_role: NOBODY\nassistant_role: NO_ONE\n")
    png = tmp_path / "g.png"
    result = cli("graph", folder, "--png", png)
    assert result.exit_code == 0, result.output
    assert "Entities (6)" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a spec that is generated from still has its roles checked
    for command in (["validate", folder], ["generate", folder, "--dry-run"]):
        checked = cli(*command)
        assert checked.exit_code == 1
        assert f"{folder / 'setup.yaml'}:1:12: user_role 'NOBODY' is not an entity of the diagram" in checked.stderr


def test_graph_keeps_the_walk_of_a_setup_whose_roles_do_not_match(cli, tmp_path):
    folder = _folder(tmp_path, CLINIC, setup="user_role: NOBODY\nassistant_role: NO_ONE\n"
                                             "walk:\n  strategies: [relationship]\n  cover: false\n")
    result = cli("graph", folder, "--json")
    assert result.exit_code == 0, result.output
    assert {c["strategy"] for c in json.loads(result.stdout)["plan"]} == {"relationship"}


def test_graph_reports_a_diagram_error_at_its_place(cli, tmp_path):
    bad = tmp_path / "bad.mermaid"
    bad.write_text("erDiagram\n  A {\n    string\n    int id\n  }\n  A ||--o{ B : has\n", encoding="utf-8")
    result = cli("graph", bad)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{bad}:3:5: attribute 'string' of A has a type but no name"), result.stderr
    assert "Traceback" not in result.output


def test_graph_of_a_folder_with_no_diagram_says_so(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here\n", encoding="utf-8")
    result = cli("graph", tmp_path)
    assert result.exit_code == 1
    assert f"{tmp_path}:1:1: no setup.yaml and no diagram file in this folder" in result.stderr
    assert "Traceback" not in result.output
