"""The SQL DDL diagram reader: tables, keys, foreign keys and comments become the Diagram."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import SAMPLES
from janus_plugins.erdiagram.parser import parse_erdiagram
from janus_plugins.sql import _detect
from janus_plugins.sql.reader import read_schema

from janus_core.sdk.errors import SpecError

SQL_SAMPLE = SAMPLES / "sql_schema"


def read(sql: str):
    return read_schema(textwrap.dedent(sql), "schema.sql")


def rel(diagram, left: str, right: str):
    found = [r for r in diagram.relationships if (r.left, r.right) == (left, right)]
    assert len(found) == 1, diagram.relationships
    return found[0]


def attr(diagram, entity: str, name: str):
    return next(a for a in diagram.entities[entity].attributes if a.name == name)


def error(sql: str) -> str:
    with pytest.raises(SpecError) as info:
        read(sql)
    return str(info.value)


def test_columns_keys_and_types():
    d = read("""
        CREATE TABLE owner (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, fee NUMERIC(10, 2));
        CREATE TABLE pet (
            id INT,
            owner_id INT NOT NULL REFERENCES owner (id),
            name TEXT,
            weight DOUBLE PRECISION,
            PRIMARY KEY (id)
        );
    """)
    assert list(d.entities) == ["owner", "pet"]
    owner = d.entities["owner"]
    assert [(a.type, a.name, a.keys) for a in owner.attributes] == [
        ("int", "id", ("PK",)), ("varchar(200)", "email", ("UK",)), ("decimal(10,2)", "fee", ())]
    assert attr(d, "pet", "id").keys == ("PK",)
    assert attr(d, "pet", "owner_id").keys == ("FK",)
    assert attr(d, "pet", "weight").type == "double"


@pytest.mark.parametrize(("column", "unique", "left", "right"), [
    ("owner_id INT NOT NULL", "", "zero-or-more", "exactly-one"),
    ("owner_id INT", "", "zero-or-more", "zero-or-one"),
    ("owner_id INT NULL", "", "zero-or-more", "zero-or-one"),
    ("owner_id INT NOT NULL UNIQUE", "", "zero-or-one", "exactly-one"),
    ("owner_id INT", ", UNIQUE (owner_id)", "zero-or-one", "zero-or-one"),
])
def test_foreign_key_cardinalities(column, unique, left, right):
    d = read(f"""
        CREATE TABLE owner (id INT PRIMARY KEY);
        CREATE TABLE pet (id INT PRIMARY KEY, {column}, FOREIGN KEY (owner_id) REFERENCES owner (id){unique});
    """)
    r = rel(d, "pet", "owner")
    # each owner has `left` pets; each pet has `right` owners
    assert (r.left_cardinality, r.right_cardinality) == (left, right)
    assert r.identifying is False
    assert r.label == "belongs to"


def test_foreign_key_in_the_primary_key_is_identifying_and_one_to_one():
    d = read("""
        CREATE TABLE person (id INT PRIMARY KEY);
        CREATE TABLE passport (person_id INT PRIMARY KEY REFERENCES person (id), number TEXT);
        CREATE TABLE visit (person_id INT REFERENCES person, day DATE, PRIMARY KEY (person_id, day));
    """)
    one = rel(d, "passport", "person")
    assert (one.left_cardinality, one.right_cardinality, one.identifying) == ("zero-or-one", "exactly-one", True)
    many = rel(d, "visit", "person")
    assert (many.left_cardinality, many.right_cardinality, many.identifying) == ("zero-or-more", "exactly-one", True)
    assert attr(d, "visit", "person_id").keys == ("PK", "FK")


def test_join_table_becomes_a_many_to_many_relationship():
    d = read("""
        CREATE TABLE student (id INT PRIMARY KEY);
        CREATE TABLE course (code TEXT PRIMARY KEY);
        -- Enrolment opens in September
        CREATE TABLE student_course (
            student_id INT REFERENCES student (id),
            course_code TEXT REFERENCES course (code),
            PRIMARY KEY (student_id, course_code)
        );
        CREATE TABLE grade (
            student_id INT REFERENCES student (id),
            course_code TEXT REFERENCES course (code),
            mark INT,
            PRIMARY KEY (student_id, course_code)
        );
    """)
    assert "student_course" not in d.entities
    r = rel(d, "student", "course")
    assert (r.left_cardinality, r.right_cardinality, r.label) == ("zero-or-more", "zero-or-more", "is linked to")
    assert (r.details, r.notes) == ({"Join table": "student_course"}, ["Enrolment opens in September"])
    # a join table with columns of its own stays an entity between the two
    assert "grade" in d.entities
    assert rel(d, "grade", "student").identifying and rel(d, "grade", "course").identifying


def test_comments_become_details_notes_and_attribute_comments():
    d = read("""
        -- not attached: a blank line follows

        -- Animals in our care
        -- Species: cats and dogs
        CREATE TABLE pet (  -- Shelter: north wing
            id INT PRIMARY KEY,   -- internal number
            -- what the pet answers to
            name TEXT NOT NULL,
            owner_id INT REFERENCES owner (id)  -- label: is cared for by
        );
        COMMENT ON TABLE pet IS 'Adoption fee: 50 euros';
        COMMENT ON COLUMN pet.owner_id IS 'empty while the pet waits for a home';
        CREATE TABLE owner (id INT PRIMARY KEY);
    """)
    pet = d.entities["pet"]
    assert pet.details == {"Species": "cats and dogs", "Shelter": "north wing", "Adoption fee": "50 euros"}
    assert pet.notes == ["Animals in our care"]
    assert attr(d, "pet", "id").comment == "internal number"
    assert attr(d, "pet", "name").comment == "what the pet answers to"
    assert attr(d, "pet", "owner_id").comment == "empty while the pet waits for a home"
    r = rel(d, "pet", "owner")
    assert r.label == "is cared for by"


def test_labels_from_column_names():
    d = read("""
        CREATE TABLE staff (id INT PRIMARY KEY);
        CREATE TABLE ticket (
            id INT PRIMARY KEY,
            assigned_to INT REFERENCES staff (id),
            reviewer_id INT REFERENCES staff (id),
            staff_id INT REFERENCES staff (id)
        );
    """)
    labels = sorted(r.label for r in d.relationships)
    assert labels == ["assigned to", "belongs to", "has as reviewer"]


def test_diagram_source_is_mermaid_that_reads_back_the_same():
    d = read_schema((SQL_SAMPLE / "schema.sql").read_text(), "schema.sql")
    again = parse_erdiagram(d.source)
    assert again.entities == d.entities
    assert again.relationships == d.relationships


@pytest.mark.parametrize(("sql", "where", "words"), [
    ("CREATE TABLE a (\n  id INT,\n  x INT REFERENCES (id\n);", "schema.sql:4:1", "SQL syntax error"),
    ("CREATE TABLE a (id INT PRIMARY KEY);\nCREATEE TABLE b (id INT);", "schema.sql:2:", "SQL syntax error"),
    ("CREATE TABLE a (\n  id INT,\n  name TEXT DEFAULT 'oops\n);", "schema.sql:3:21", "unclosed quote"),
    ("CREATE TABLE a (id INT);\n\nCREATE TABLE b AS SELECT * FROM a;", "schema.sql:3:1", "lists no columns"),
    ("CREATE TABLE a (id INT);\nALTER TABLE a RENAME COLUMN id TO k;", "schema.sql:2:1",
     "unsupported ALTER TABLE action"),
    ("CREATE TABLE a (id INT);\nALTER TABLE b ADD COLUMN x INT;", "schema.sql:2:1", "table 'b' is not created"),
    ("CREATE TABLE a (id INT);\n  COMMENT ON COLUMN a.nope IS 'x';", "schema.sql:2:3", "has no column 'nope'"),
    ("CREATE TABLE a (id INT, FOREIGN KEY (nope) REFERENCES b);", "schema.sql:1:25", "has no column 'nope'"),
    ("CREATE TABLE a (id INT);\nCREATE TABLE a (id INT);", "schema.sql:2:14", "created twice"),
    ("-- dialect: nosuchsql\nCREATE TABLE a (id INT);", "schema.sql:1:13", "unknown SQL dialect"),
    ("CREATE INDEX i ON a (x);", "schema.sql:1:1", "creates no table"),
    ("CREATE TABLE a (id INT);\n CREATE TABLE b (id INT) garbage here;", "schema.sql:2:2", "cannot read this CREATE"),
    ("CREATE TABLE a (id INT);\nALTER TABLE a RENAME COLUMN id TO key;", "schema.sql:2:15", "action 'RENAME COLUMN'"),
    ("  \n", "schema.sql:1:1", "the schema is empty"),
])
def test_errors_name_file_line_and_column(sql, where, words):
    text = error(sql)
    assert text.startswith(where), text
    assert words in text
    assert "hint:" in text


def test_statements_that_do_not_shape_the_diagram_are_skipped():
    d = read("""
        -- dialect: postgres
        SET search_path = public;
        CREATE EXTENSION IF NOT EXISTS pgcrypto;
        CREATE TYPE mood AS ENUM ('calm', 'busy');
        CREATE TABLE a (id SERIAL PRIMARY KEY, m mood);
        CREATE INDEX a_m ON a (m);
        ALTER TABLE a OWNER TO admin;
        INSERT INTO a (m) VALUES ('calm');
        GRANT SELECT ON a TO reader;
    """)
    assert list(d.entities) == ["a"]
    assert [(x.type, x.name) for x in d.entities["a"].attributes] == [("serial", "id"), ("mood", "m")]


POSTGRES = """\
-- dialect: postgres
-- pg_dump style: schema-qualified names, quoted identifiers, SERIAL, constraints added afterwards
SET statement_timeout = 0;
CREATE SCHEMA clinic;

CREATE TABLE clinic."Patient" (
    "PatientId" SERIAL NOT NULL,
    "Full Name" character varying(120) NOT NULL,
    born date,
    insurance text
);

CREATE TABLE clinic.doctor (
    id integer NOT NULL,
    specialty text NOT NULL
);

CREATE TABLE clinic.appointment (
    id bigserial NOT NULL,
    patient_id integer NOT NULL,
    doctor_id integer,
    starts_at timestamp with time zone NOT NULL
);

CREATE TABLE billing.invoice (
    id integer NOT NULL,
    appointment_id bigint NOT NULL,
    amount numeric(8,2)
);

ALTER TABLE ONLY clinic."Patient" ADD CONSTRAINT patient_pkey PRIMARY KEY ("PatientId");
ALTER TABLE ONLY clinic.doctor ADD CONSTRAINT doctor_pkey PRIMARY KEY (id);
ALTER TABLE ONLY clinic.appointment ADD CONSTRAINT appointment_pkey PRIMARY KEY (id);
ALTER TABLE ONLY billing.invoice ADD CONSTRAINT invoice_pkey PRIMARY KEY (id);
ALTER TABLE ONLY billing.invoice ADD CONSTRAINT invoice_appointment_key UNIQUE (appointment_id);
ALTER TABLE ONLY clinic.appointment
    ADD CONSTRAINT appointment_patient_fkey FOREIGN KEY (patient_id) REFERENCES clinic."Patient"("PatientId");
-- label: is seen by
ALTER TABLE ONLY clinic.appointment
    ADD CONSTRAINT appointment_doctor_fkey FOREIGN KEY (doctor_id) REFERENCES clinic.doctor(id) ON DELETE SET NULL;
ALTER TABLE ONLY billing.invoice
    ADD CONSTRAINT invoice_appointment_fkey FOREIGN KEY (appointment_id) REFERENCES clinic.appointment(id);
ALTER TABLE clinic.appointment ALTER COLUMN starts_at DROP NOT NULL;
ALTER TABLE ONLY clinic.doctor ALTER COLUMN id SET DEFAULT nextval('clinic.doctor_id_seq'::regclass);
COMMENT ON TABLE clinic."Patient" IS 'Registered: at the front desk';
COMMENT ON COLUMN clinic.appointment.starts_at IS 'local time';
"""


def test_postgres_dump_style_schema():
    d = read_schema(POSTGRES, "schema.sql")
    assert list(d.entities) == ["Patient", "doctor", "appointment", "invoice"]
    patient = d.entities["Patient"]
    assert [(a.type, a.name, a.keys) for a in patient.attributes] == [
        ("serial", "PatientId", ("PK",)), ("varchar(120)", "Full_Name", ()), ("date", "born", ()),
        ("text", "insurance", ())]
    assert patient.details == {"Registered": "at the front desk"}
    assert attr(d, "appointment", "starts_at").type == "timestamptz"
    assert attr(d, "appointment", "starts_at").comment == "local time"
    seen = rel(d, "appointment", "Patient")
    assert (seen.left_cardinality, seen.right_cardinality, seen.label) == ("zero-or-more", "exactly-one", "belongs to")
    by = rel(d, "appointment", "doctor")
    assert (by.left_cardinality, by.right_cardinality, by.label) == ("zero-or-more", "zero-or-one", "is seen by")
    bill = rel(d, "invoice", "appointment")
    assert (bill.left_cardinality, bill.right_cardinality) == ("zero-or-one", "exactly-one")
    assert attr(d, "invoice", "appointment_id").keys == ("FK", "UK")
    assert (bill.line, bill.column) == (42, 5)  # the ADD CONSTRAINT
    assert parse_erdiagram(d.source).relationships == d.relationships


def test_same_table_name_in_two_schemas_keeps_both():
    d = read("""
        CREATE TABLE sales.item (id INT PRIMARY KEY);
        CREATE TABLE stock.item (id INT PRIMARY KEY, sale_id INT REFERENCES sales.item (id));
    """)
    assert list(d.entities) == ["sales.item", "stock.item"]
    assert rel(d, "stock.item", "sales.item").label == "has as sale"


def test_mysql_dialect_comments_and_backticks():
    d = read("""
        -- dialect: mysql
        CREATE TABLE `shop` (
          `id` INT AUTO_INCREMENT PRIMARY KEY,
          `name` VARCHAR(50) NOT NULL COMMENT 'shown on receipts'
        ) ENGINE=InnoDB COMMENT='Region: EU';
        # a MySQL comment line
        CREATE TABLE `sale` (`id` INT PRIMARY KEY, `shop_id` INT NOT NULL,
                             FOREIGN KEY (`shop_id`) REFERENCES `shop` (`id`));
    """)
    assert d.entities["shop"].details == {"Region": "EU"}
    assert attr(d, "shop", "name").comment == "shown on receipts"
    assert rel(d, "sale", "shop").right_cardinality == "exactly-one"


def test_detect_tells_sql_from_mermaid():
    assert _detect("-- x\nCREATE TABLE a (id INT);")
    assert _detect("/* dump */\nSET x = 1;\ncreate table a (id int);")
    assert not _detect("erDiagram\n  A ||--o{ B : has")
    assert not _detect("%% CREATE TABLE in a comment\nerDiagram\n  A ||--o{ B : x")


# --- the sample through the command line ----------------------------------------------------

def test_sample_validates(cli):
    result = cli("validate", SQL_SAMPLE)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_sample_graph(cli):
    result = cli("graph", SQL_SAMPLE, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    nodes = {n["name"] for n in data["nodes"]}
    assert nodes == {"branch", "librarian", "member", "author", "book", "copy", "loan"}
    edges = {(e["from"], e["to"]): e for e in data["edges"]}
    assert edges[("book", "author")]["details"] == {"Join table": "book_author"}
    assert edges[("librarian", "branch")]["label"] == "works at"
    assert (edges[("loan", "librarian")]["left_cardinality"],
            edges[("loan", "librarian")]["right_cardinality"]) == ("zero-or-more", "zero-or-one")
    text = cli("graph", SQL_SAMPLE)
    assert "Coverage: every entity and relationship" in text.output


def test_sample_dry_run(cli, tmp_path):
    result = cli("generate", SQL_SAMPLE, "--dry-run", "--out", tmp_path / "o.jsonl")
    assert result.exit_code == 0, result.output
    assert "requests" in result.output
    assert not (tmp_path / "o.jsonl").exists()


def test_bad_schema_through_validate(cli, tmp_path):
    (tmp_path / "setup.yaml").write_text("user_role: a\nassistant_role: b\ner_diagram_path: schema.sql\n")
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (id INT PRIMARY KEY);\n"
                                         "CREATE TABLE b (\n  a_id INT REFERENCES a (id\n);\n")
    result = cli("validate", tmp_path)
    assert result.exit_code == 1
    assert "schema.sql:4:1: SQL syntax error" in result.stderr.splitlines()[0], result.stderr
    assert "Traceback" not in result.output


def test_help_does_not_import_sqlglot():
    code = ("import sys; from janus_core.cli import cli\n"
            "try:\n    cli(['plugins'], prog_name='janus')\nexcept SystemExit:\n    pass\n"
            "print('sqlglot' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "False"
    assert "diagram readers: sql" in result.stdout, result.stdout
