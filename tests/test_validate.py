"""`janus validate`: every malformed fixture fails with FILE:LINE:COL and no traceback."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURES, SAMPLES, run_janus

INVALID = FIXTURES / "invalid"

# fixture -> (file:line:col the first problem names, words the message holds)
EXPECTED = {
    "assistant_not_in_diagram": ("setup.yaml:2:17", "assistant_in_diagram: false"),
    "bad_cardinality": ("diagram.mermaid:2:15", "bad left cardinality '|x'"),
    "bad_right_cardinality": ("diagram.mermaid:2:19", "bad right cardinality 'x{'"),
    "bad_value_type": ("setup.yaml:3:11", "s_factor"),
    "bad_yaml": ("setup.yaml:2:17", "invalid YAML"),
    "both_diagram_sources": ("setup.yaml:6:1", "both er_diagram and er_diagram_path"),
    "duplicate_key": ("setup.yaml:3:1", "appears twice"),
    "empty_diagram": ("diagram.mermaid:1:1", "empty"),
    "inline_diagram_error": ("setup.yaml:6:9", "bad left cardinality '}x'"),
    "malformed_relationship": ("diagram.mermaid:2:22", "malformed relationship"),
    "missing_assistant_role": ("setup.yaml:1:1", "missing required key 'assistant_role'"),
    "missing_diagram_file": ("setup.yaml:1:1", "not found"),
    "missing_setup": ("setup.yaml:1:1", "setup.yaml is missing"),
    "no_entities": ("diagram.mermaid:1:1", "declares no entities"),
    "not_an_erdiagram": ("diagram.mermaid:1:1", "flowchart"),
    "setup_not_a_mapping": ("setup.yaml:1:1", "not a mapping"),
    "template_syntax_error": ("setup.yaml:4:3", "template syntax error"),
    "unclosed_attribute_block": ("diagram.mermaid:3:15", "never closed"),
    "unknown_key": ("setup.yaml:3:1", "Did you mean 's_factor'?"),
    "unknown_nested_key": ("setup.yaml:4:3", "Did you mean 'strategies'?"),
    "unknown_output_type": ("setup.yaml:3:14", "Did you mean 'conversation'?"),
    "unknown_placeholder": ("setup.yaml:5:3", "Did you mean 'context'?"),
    "unknown_strategy": ("setup.yaml:4:30", "spiral"),
    "unknown_user_role": ("setup.yaml:1:12", "user_role 'CLIENT' is not an entity"),
    "unterminated_label": ("diagram.mermaid:2:34", "unterminated quoted string"),
}


def test_every_fixture_has_an_expectation():
    folders = {p.name for p in INVALID.iterdir() if p.is_dir()}
    assert folders == set(EXPECTED)
    assert len(folders) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_fixture_reports_location(cli, name):
    where, words = EXPECTED[name]
    result = cli("validate", INVALID / name)
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert f"{name}/{where}: " in first, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert "hint:" in result.stderr


def test_validate_runs_as_a_program_without_traceback():
    result = run_janus("validate", INVALID / "bad_cardinality")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "diagram.mermaid:2:15:" in result.stderr


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if (p / "setup.yaml").is_file()))
def test_samples_validate(cli, sample):
    result = cli("validate", SAMPLES / sample)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def test_assistant_outside_diagram_is_allowed_when_declared(cli, tmp_path):
    shutil.copytree(INVALID / "assistant_not_in_diagram", tmp_path / "spec")
    setup = tmp_path / "spec" / "setup.yaml"
    setup.write_text(setup.read_text() + "assistant_in_diagram: false\n")
    result = cli("validate", tmp_path / "spec")
    assert result.exit_code == 0, result.output
    assert "assistant_role 'HELPER' is outside the diagram" in result.output


def test_free_text_direction_is_noted(cli):
    result = cli("validate", SAMPLES / "marriage_counsel_instruct")
    assert "is used as a free-text style direction" in result.output


def test_setup_yaml_path_and_inline_diagram(cli, tmp_path):
    (tmp_path / "setup.yaml").write_text(
        "user_role: A\nassistant_role: B\ner_diagram: |\n  erDiagram\n    A ||--o{ B : asks\n")
    result = cli("validate", tmp_path / "setup.yaml")
    assert result.exit_code == 0, result.output
    assert "2 entities, 1 relationships" in result.output


def test_er_diagram_path(cli, tmp_path):
    (tmp_path / "er.mmd").write_text("erDiagram\n  A ||--o{ B : asks\n  B ||--|| C : x\n")
    (tmp_path / "setup.yaml").write_text("user_role: A\nassistant_role: B\ner_diagram_path: er.mmd\n")
    result = cli("validate", tmp_path)
    assert result.exit_code == 0, result.output
    assert "3 entities, 2 relationships" in result.output
