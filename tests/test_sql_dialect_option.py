"""The SQL dialect named outside the file: setup.yaml's ``sql_dialect`` and ``--sql-dialect`` (validate,
graph, generate), checked against the names the diagram readers take, with a located did-you-mean."""

from __future__ import annotations

import textwrap

import pytest

#: T-SQL as sqlcmd runs it: a batch's statements need no semicolon, and nothing in it marks T-SQL
BATCH = """\
CREATE TABLE team (id INT PRIMARY KEY)
CREATE TABLE member (id INT PRIMARY KEY, team_id INT REFERENCES team (id))
"""


def spec(tmp_path, extra: str = "", schema: str = BATCH, diagram: str = "schema.sql"):
    (tmp_path / "setup.yaml").write_text("user_role: member\nassistant_role: helper\nassistant_in_diagram: false\n"
                                         f"er_diagram_path: {diagram}\n" + extra, encoding="utf-8")
    (tmp_path / diagram).write_text(schema, encoding="utf-8")
    return tmp_path


def test_a_file_detection_reads_wrongly_is_read_right_in_the_dialect_setup_yaml_names(cli, tmp_path):
    wrong = cli("validate", spec(tmp_path))
    assert wrong.exit_code == 1 and "schema.sql:1:1: cannot read this CREATE TABLE statement" in wrong.output
    assert "'sql_dialect: postgres' in setup.yaml, or --sql-dialect postgres" in wrong.output
    right = cli("validate", spec(tmp_path, "sql_dialect: TSQL\n"))
    assert right.exit_code == 0, right.output
    assert "diagram: 2 entities, 1 relationships" in right.output and "note: read as tsql" in right.output


def test_the_cli_option_names_it_for_validate_graph_and_generate_and_wins_over_setup_yaml(cli, tmp_path):
    folder = spec(tmp_path, "sql_dialect: mysql\n")
    assert cli("validate", folder).exit_code == 1
    result = cli("validate", "--sql-dialect", "tsql", folder)
    assert result.exit_code == 0 and "note: read as tsql" in result.output, result.output
    drawn = cli("graph", "--sql-dialect", "tsql", folder / "schema.sql")  # a bare file, no setup.yaml
    assert drawn.exit_code == 0 and "Entities (2)" in drawn.stdout, drawn.output
    assert "Entities (2)" in cli("graph", "--sql-dialect", "tsql", folder).stdout
    assert "--sql-dialect NAME" in cli("generate", "--help").output


@pytest.mark.parametrize("value, line_col", [("postgress", "5:14"), ("'my sql'", "5:14")])
def test_an_unknown_dialect_in_setup_yaml_is_a_located_error_with_a_suggestion(cli, tmp_path, value, line_col):
    result = cli("validate", spec(tmp_path, f"sql_dialect: {value}\n"))
    assert result.exit_code == 1
    first = result.output.strip().splitlines()[0]
    name = value.strip("'")
    assert f"setup.yaml:{line_col}: sql_dialect: unknown SQL dialect '{name}'." in first, result.output
    if name == "postgress":
        assert first.endswith("Did you mean 'postgres'?")
    assert "dialects: athena, bigquery," in result.output and "Traceback" not in result.output


def test_an_unknown_dialect_on_the_command_line_is_refused_with_a_suggestion(cli, tmp_path):
    for command in ("validate", "graph"):
        result = cli(command, "--sql-dialect", "postgress", spec(tmp_path))
        assert result.exit_code == 2
        assert "Invalid value for '--sql-dialect': unknown SQL dialect 'postgress'. Did you mean 'postgres'?" \
            in result.output and "Traceback" not in result.output


def test_a_reader_without_dialects_is_never_given_one(cli, tmp_path):
    mermaid = textwrap.dedent("""\
        erDiagram
            team ||--o{ member : has
    """)
    folder = spec(tmp_path, "sql_dialect: postgres\n", mermaid, "diagram.mermaid")
    result = cli("validate", folder)
    assert result.exit_code == 0 and "diagram: 2 entities" in result.output, result.output


def test_the_plugins_list_the_dialects_their_readers_take():
    from janus_core.plugins import load_plugins

    plugins = load_plugins()
    assert {"postgres", "tsql", "mysql", "oracle", "sqlite"} <= set(plugins.diagram_dialects())
    assert plugins.registry.diagram_readers["erdiagram"].obj.dialects() == ()
    d = plugins.read_diagram(BATCH, "schema.sql", "tsql")
    assert set(d.entities) == {"team", "member"}
