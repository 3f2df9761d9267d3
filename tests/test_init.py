"""janus init: a spec folder from a Mermaid diagram, a schema.sql or nothing, which janus validate accepts."""

from __future__ import annotations

import yaml
from conftest import SAMPLES

from janus_core.spec.diagram import Attribute, Diagram, Entity, Relationship
from janus_core.spec.starter import guess_roles


def _roles(folder):
    setup = yaml.safe_load((folder / "setup.yaml").read_text())
    return setup["user_role"], setup["assistant_role"]


def test_init_from_a_mermaid_file_then_validate(cli, tmp_path):
    source = tmp_path / "shop.mmd"
    source.write_text("erDiagram\n    PATIENT ||--o{ APPOINTMENT : books\n    DOCTOR ||--o{ APPOINTMENT : holds\n"
                      "    APPOINTMENT }o--|| ROOM : \"takes place in\"\n")
    spec = tmp_path / "clinic"
    result = cli("init", spec, "--from", source)
    assert result.exit_code == 0, result.output
    assert (spec / "diagram.mermaid").read_text() == source.read_text()
    assert _roles(spec) == ("PATIENT", "DOCTOR")
    assert "# Who asks and who answers" in (spec / "setup.yaml").read_text()
    result = cli("validate", spec)
    assert result.exit_code == 0, result.output
    assert "diagram: 4 entities, 3 relationships" in result.output


def test_init_from_a_schema_then_validate(cli, tmp_path):
    spec = tmp_path / "library"
    result = cli("init", spec, "--from", SAMPLES / "sql_schema" / "schema.sql")
    assert result.exit_code == 0, result.output
    assert (spec / "schema.sql").read_text() == (SAMPLES / "sql_schema" / "schema.sql").read_text()
    assert _roles(spec) == ("member", "librarian")
    result = cli("validate", spec)
    assert result.exit_code == 0, result.output
    assert "diagram: 7 entities" in result.output


def test_init_without_a_diagram_writes_a_starter_then_validate(cli, tmp_path):
    spec = tmp_path / "new"
    result = cli("init", spec)
    assert result.exit_code == 0, result.output
    assert (spec / "diagram.mermaid").read_text().startswith("erDiagram")
    assert _roles(spec) == ("CUSTOMER", "SUPPORT_AGENT")
    assert cli("validate", spec).exit_code == 0


def test_a_broken_diagram_is_located_and_nothing_is_written(cli, tmp_path):
    source = tmp_path / "bad.mmd"
    source.write_text("erDiagram\n    A ||--o{ B : has\n    B ||--o{ C has\n")
    result = cli("init", tmp_path / "spec", "--from", source)
    assert result.exit_code == 1
    assert "bad.mmd:3:" in result.output
    assert not (tmp_path / "spec").exists()


def test_an_existing_folder_is_not_overwritten(cli, tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "setup.yaml").write_text("mine: true\n")
    result = cli("init", spec)
    assert result.exit_code == 1
    assert "exists and is not empty" in result.output
    assert (spec / "setup.yaml").read_text() == "mine: true\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("init", empty).exit_code == 0  # an empty folder is filled


def test_roles_fall_back_to_people_then_to_the_most_connected():
    person = [Attribute("string", "full_name")]
    people = Diagram(entities={"ALPHA": Entity("ALPHA", attributes=person), "HUB": Entity("HUB"),
                               "BETA": Entity("BETA", attributes=person), "LEAF": Entity("LEAF")},
                     relationships=[Relationship("HUB", n, "exactly-one", "zero-or-more") for n in ("ALPHA", "BETA",
                                                                                                  "LEAF")])
    assert (guess_roles(people).user, guess_roles(people).assistant) == ("ALPHA", "BETA")
    edges = [("HUB", "X"), ("HUB", "Y"), ("HUB", "Z"), ("Y", "X")]  # HUB has 3, X and Y 2 (X comes first)
    things = Diagram(entities={n: Entity(n) for n in ("Z", "X", "HUB", "Y")},
                     relationships=[Relationship(a, b, "exactly-one", "zero-or-more") for a, b in edges])
    roles = guess_roles(things)
    assert (roles.user, roles.assistant) == ("HUB", "X") and "most connected" in roles.why
    single = guess_roles(Diagram(entities={"SHOP": Entity("SHOP")}))
    assert (single.user, single.assistant, single.assistant_in_diagram) == ("SHOP", "ASSISTANT", False)
