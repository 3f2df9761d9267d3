"""Reading a spec strictly: numbers and booleans as written, unique direction names, SQL foreign keys
that name real tables and columns, byte order marks accepted, control characters refused, and names
compared in Unicode's NFC form."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from janus_plugins.erdiagram.parser import parse_erdiagram
from janus_plugins.sql.reader import read_schema

from janus_core.sdk.errors import SpecError

SETUP = "user_role: CLIENT\nassistant_role: COUNSELOR\n"
DIAGRAM = "erDiagram\n    CLIENT ||--o{ SESSION : books\n    COUNSELOR ||--|{ SESSION : leads\n"
SCHEMA = """\
CREATE TABLE counselor (id INT PRIMARY KEY, name TEXT);
CREATE TABLE client (
    id INT PRIMARY KEY,
    counselor_id INT REFERENCES counselor (id)
);
"""
SQL_SETUP = "user_role: client\nassistant_role: counselor\ner_diagram_path: schema.sql\n"
NFD_CAFE = unicodedata.normalize("NFD", "CAFÉ")


def folder(tmp_path: Path, setup: str | bytes, diagram: str | bytes = DIAGRAM, name: str = "diagram.mermaid") -> Path:
    for file, text in (("setup.yaml", setup), (name, diagram)):
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (tmp_path / file).write_bytes(data)
    return tmp_path


def refused(cli, path: Path) -> str:
    """The first line of ``janus validate``'s error (it must fail, located, without a traceback)."""
    result = cli("validate", path)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr.splitlines()[0]


def accepted(cli, path: Path) -> str:
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    return result.output


# --- numbers and booleans ----------------------------------------------------------------------

@pytest.mark.parametrize("line, where, words", [
    ("s_factor: '3'\n", "setup.yaml:3:11", "s_factor: Input should be a valid integer"),
    ("s_factor: true\n", "setup.yaml:3:11", "s_factor: Input should be a valid integer"),
    ("s_factor: 2.0\n", "setup.yaml:3:11", "s_factor: Input should be a valid integer"),
    ("d_factor: '0'\n", "setup.yaml:3:11", "d_factor"),
    ("rounds: false\n", "setup.yaml:3:9", "rounds"),
    ("assistant_in_diagram: 'false'\n", "setup.yaml:3:23", "assistant_in_diagram: Input should be a valid boolean"),
    ("assistant_in_diagram: 0\n", "setup.yaml:3:23", "assistant_in_diagram"),
    ("walk: {cover: 'yes'}\n", "setup.yaml:3:15", "walk.cover"),
    ("walk: {max_path_length: '4'}\n", "setup.yaml:3:25", "walk.max_path_length"),
    ("limits: {turns: true}\n", "setup.yaml:3:17", "limits.turns"),
    ("chunking: {words: '300'}\n", "setup.yaml:3:19", "chunking.words"),
    ("model: {temperature: '0.5'}\n", "setup.yaml:3:22", "model.temperature: Input should be a valid number"),
    ("model: {temperature: true}\n", "setup.yaml:3:22", "model.temperature"),
    ("model: {temperature: .nan}\n", "setup.yaml:3:22", "model.temperature"),
    ("model: {requests_per_minute: .inf}\n", "setup.yaml:3:30", "model.requests_per_minute"),
    ("model: {max_tokens: '512'}\n", "setup.yaml:3:21", "model.max_tokens"),
    ("model: {max_tokens: 1000000000000000000000000000000}\n", "setup.yaml:3:21", "model.max_tokens"),
    ("model: {roles: {judge: {temperature: '0'}}}\n", "setup.yaml:3:38", "model.roles.judge.temperature"),
])
def test_a_value_of_the_wrong_type_is_refused_not_converted(cli, tmp_path, line, where, words):
    first = refused(cli, folder(tmp_path, SETUP + line))
    assert f"{where}: " in first and words in first, first


def test_a_number_is_not_a_name(cli, tmp_path):
    first = refused(cli, folder(tmp_path, "user_role: 3\nassistant_role: COUNSELOR\n"))
    assert "setup.yaml:1:12: user_role: Input should be a valid string" in first, first


def test_the_hint_says_to_drop_the_quotes(cli, tmp_path):
    result = cli("validate", folder(tmp_path, SETUP + "s_factor: '3'\n"))
    assert "without quotes" in result.stderr


@pytest.mark.parametrize("line", ["s_factor: 3\n", "model: {temperature: 1}\n", "assistant_in_diagram: true\n",
                                  "model: {requests_per_minute: 30}\n"])
def test_a_value_written_as_its_type_is_accepted(cli, tmp_path, line):
    accepted(cli, folder(tmp_path, SETUP + line))


# --- direction names ---------------------------------------------------------------------------

def test_a_direction_name_used_twice_is_refused_where_it_repeats(cli, tmp_path):
    setup = SETUP + ("directions:\n  - name: calm\n    instruction: Stay calm\n"
                     "  - name: calm\n    instruction: Stay calmer\n")
    first = refused(cli, folder(tmp_path, setup))
    assert "setup.yaml:6:11: directions: the name 'calm' is used twice (entries 1 and 2)" in first, first


def test_direction_names_that_differ_only_in_normal_form_are_the_same_name(cli, tmp_path):
    setup = SETUP + f"directions:\n  - name: CAFÉ\n  - name: {NFD_CAFE}\n"
    first = refused(cli, folder(tmp_path, setup))
    assert "setup.yaml:5:11: " in first and "used twice" in first, first


# --- SQL foreign keys --------------------------------------------------------------------------

@pytest.mark.parametrize("schema, outside", [
    (SCHEMA + "CREATE TABLE note (id INT PRIMARY KEY, owner_id INT REFERENCES owner (id));\n", "owner"),
    (SCHEMA + "CREATE TABLE note (\n  id INT PRIMARY KEY,\n  client_id INT,\n"
              "  FOREIGN KEY (client_id) REFERENCES ghost (id)\n);\n", "ghost"),
])
def test_a_foreign_key_to_a_table_the_file_lacks_keeps_it_as_an_outside_entity(cli, tmp_path, schema, outside):
    out = accepted(cli, folder(tmp_path, SQL_SETUP, schema, "schema.sql"))
    assert "foreign keys to 1 table outside the file" in out and outside in out, out
    d = read_schema(schema)
    assert d.entities[outside].notes == ["defined outside this schema"]
    assert [a.name for a in d.entities[outside].attributes] == ["id"]
    assert ("note", outside) in {(r.left, r.right) for r in d.relationships}


@pytest.mark.parametrize("schema, where, words", [
    (SCHEMA + "CREATE TABLE note (id INT PRIMARY KEY, client_id INT REFERENCES client (nope));\n",
     "schema.sql:6:40", "table client has no column 'nope'"),
    (SCHEMA + "CREATE TABLE note (id INT PRIMARY KEY, client_id INT);\n"
              "ALTER TABLE note ADD CONSTRAINT fk FOREIGN KEY (client_id) REFERENCES client (id, counselor_id);\n",
     "schema.sql:7:18", "has 1 column(s) but references 2"),
    (SCHEMA + "CREATE TABLE tag (label TEXT);\n"
              "CREATE TABLE note (id INT PRIMARY KEY, tag_label TEXT REFERENCES tag);\n",
     "schema.sql:7:40", "table tag, which has no primary key"),
])
def test_a_foreign_key_to_a_table_or_column_the_schema_lacks_is_refused(cli, tmp_path, schema, where, words):
    first = refused(cli, folder(tmp_path, SQL_SETUP, schema, "schema.sql"))
    assert f"{where}: " in first and words in first, first


def test_a_foreign_key_may_name_a_table_created_later(cli, tmp_path):
    schema = ("CREATE TABLE client (id INT PRIMARY KEY, counselor_id INT REFERENCES counselor);\n"
              "CREATE TABLE counselor (id INT PRIMARY KEY);\n")
    accepted(cli, folder(tmp_path, SQL_SETUP, schema, "schema.sql"))


# --- byte order marks --------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["setup.yaml", "diagram.mermaid", "both"])
def test_a_byte_order_mark_is_accepted_in_a_mermaid_spec(cli, tmp_path, which):
    bom = "\ufeff"
    setup = bom + SETUP if which in ("setup.yaml", "both") else SETUP
    diagram = bom + DIAGRAM if which in ("diagram.mermaid", "both") else DIAGRAM
    assert "2 relationships" in accepted(cli, folder(tmp_path, setup, diagram))


def test_a_byte_order_mark_is_accepted_in_schema_sql(cli, tmp_path):
    assert "1 relationships" in accepted(cli, folder(tmp_path, SQL_SETUP, "\ufeff" + SCHEMA, "schema.sql"))


def test_the_readers_drop_a_byte_order_mark_themselves():
    assert set(parse_erdiagram("\ufeff" + DIAGRAM).entities) == {"CLIENT", "SESSION", "COUNSELOR"}
    assert set(read_schema("\ufeff" + SCHEMA).entities) == {"client", "counselor"}


# --- control characters ------------------------------------------------------------------------

@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x08", "\x0c", "\x7f"])
def test_a_control_character_in_a_diagram_is_refused_where_it_is(cli, tmp_path, char):
    diagram = DIAGRAM.replace("SESSION : books", f"SESSION : bo{char}oks")
    first = refused(cli, folder(tmp_path, SETUP, diagram))
    assert f"diagram.mermaid:2:31: the control character U+{ord(char):04X} is not allowed" in first, first


@pytest.mark.parametrize("char", ["\x00", "\x1b"])
def test_a_control_character_in_a_schema_is_refused_where_it_is(cli, tmp_path, char):
    schema = SCHEMA.replace("name TEXT", f"name TEXT -- a na{char}me")
    first = refused(cli, folder(tmp_path, SQL_SETUP, schema, "schema.sql"))
    assert f"schema.sql:1:62: the control character U+{ord(char):04X}" in first, first


def test_a_control_character_in_an_inline_diagram_is_refused_in_setup_yaml(cli, tmp_path):
    setup = SETUP + 'er_diagram: "erDiagram\\n  CLIENT ||--o{ COUNSELOR : \\ebooks\\n"\n'
    first = refused(cli, folder(tmp_path, setup))
    assert "setup.yaml:" in first and "U+001B" in first, first


def test_tabs_and_line_ends_are_not_control_characters(cli, tmp_path):
    diagram = DIAGRAM.replace("\n", "\r\n").replace("    CLIENT", "\tCLIENT")
    accepted(cli, folder(tmp_path, SETUP, diagram))


def test_the_readers_refuse_control_characters_themselves():
    with pytest.raises(SpecError, match=r"^d\.mermaid:2:8: the control character U\+0000"):
        parse_erdiagram(DIAGRAM.replace("CLIENT", "CLI\x00ENT", 1), "d.mermaid")
    with pytest.raises(SpecError, match=r"^s\.sql:1:18: the control character U\+001B"):
        read_schema(SCHEMA.replace("counselor", "coun\x1bselor", 1), "s.sql")


# --- Unicode normal forms ----------------------------------------------------------------------

@pytest.mark.parametrize("in_setup, in_diagram", [(NFD_CAFE, "CAFÉ"), ("CAFÉ", NFD_CAFE)],
                         ids=["nfd-role", "nfd-entity"])
def test_a_role_matches_its_entity_whatever_the_normal_form(cli, tmp_path, in_setup, in_diagram):
    setup = SETUP.replace("CLIENT", in_setup)
    diagram = DIAGRAM.replace("CLIENT", in_diagram)
    accepted(cli, folder(tmp_path, setup, diagram))


def test_the_mermaid_reader_keeps_names_in_nfc():
    d = parse_erdiagram(f'erDiagram\n  {NFD_CAFE}["{NFD_CAFE}"] {{\n    string {NFD_CAFE}\n  }}\n'
                        f"  {NFD_CAFE} ||--o{{ ORDER : takes\n")
    assert list(d.entities) == ["CAFÉ", "ORDER"]
    assert d.entities["CAFÉ"].alias == "CAFÉ"
    assert d.entities["CAFÉ"].attributes[0].name == "CAFÉ"
    assert d.relationships[0].left == "CAFÉ"


def test_the_sql_reader_keeps_names_in_nfc():
    d = read_schema(f'CREATE TABLE "{NFD_CAFE}" (id INT PRIMARY KEY, "näme" TEXT);\n'
                    f'CREATE TABLE visit (id INT PRIMARY KEY, cafe_id INT REFERENCES "CAFÉ" (id));\n'
                    .replace("näme", unicodedata.normalize("NFD", "näme")))
    assert set(d.entities) == {"CAFÉ", "visit"}
    assert [a.name for a in d.entities["CAFÉ"].attributes] == ["id", "näme"]
    assert d.relationships[0].right == "CAFÉ"


# --- the readers never crash -------------------------------------------------------------------

@pytest.mark.parametrize("schema, words", [
    ("CREATE TABLE t (id INT, x INT CHECK (x >));\n", "SQL syntax error"),
    ("CREATE TABLE t (id INT CHECK (" + "(" * 200 + "1" + ")" * 200 + "));\n", "this statement is nested too deeply"),
], ids=["broken-check", "deep-parentheses"])
def test_sql_sqlglot_cannot_read_is_a_located_error(schema, words):
    with pytest.raises(SpecError, match=rf"^s\.sql:1:\d+: {words}"):
        read_schema(schema, "s.sql")


@pytest.mark.parametrize("line, where, words", [
    ("er_diagram: ''\n", "setup.yaml:3:13", "no registered diagram reader reads it"),
    ("er_diagram_path: setup.yaml\n", "setup.yaml:1:1", "no registered diagram reader reads it"),
    ("er_diagram_path: " + "d" * 300 + ".mermaid\n", "setup.yaml:3:18", "a file or folder name longer than 255"),
    ("er_diagram_path: " + "a/" * 600 + "d.mermaid\n", "setup.yaml:3:18", "a path longer than 1,024 bytes"),
    ("documents: ['**a']\n", "setup.yaml:3:13", "not a pattern Janus can read"),
    ("model: {backend: no-such-backend}\n", "setup.yaml:3:18", "model.backend: unknown backend 'no-such-backend'"),
    ("model: {roles: {judge: {backend: opnai}}}\n", "setup.yaml:3:34",
     "model.roles.judge.backend: unknown backend 'opnai'. Did you mean 'openai'?"),
], ids=["empty-inline", "setup-as-diagram", "long-name", "long-path", "bad-glob", "backend", "role-backend"])
def test_a_name_no_plugin_or_file_system_takes_is_a_located_error(cli, tmp_path, line, where, words):
    first = refused(cli, folder(tmp_path, SETUP + line))
    assert f"{where}: " in first and words in first, first


@pytest.mark.parametrize("line, where, words", [
    ("filters: [length]\nfilter_options: {length: {min_words: '3'}}\n", "setup.yaml:4:38",
     "filter_options.length.min_words: Input should be a valid integer"),
    ("filters: [duplicate]\nfilter_options: {duplicate: {threshold: true}}\n", "setup.yaml:4:41",
     "filter_options.duplicate.threshold: Input should be a valid number"),
], ids=["filter-int", "filter-float"])
def test_filter_options_in_setup_yaml_are_strict_too(cli, tmp_path, line, where, words):
    first = refused(cli, folder(tmp_path, SETUP + line))
    assert f"{where}: " in first and words in first, first

