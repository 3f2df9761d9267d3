"""SQL files as the tools that write them leave them: dialect detection, client-style statement
splitting, what is skipped (and said), partitions and inheritance, ALTER TABLE foreign keys,
schema-qualified and quoted names, located errors; and the shared corpus of real dumps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from janus_plugins.sql.dialects import detect
from janus_plugins.sql.reader import read_schema
from janus_plugins.sql.splitting import Client, split

from janus_core.sdk.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
DUMPS = Path(__file__).parent / "sql_dumps"
SHARED = ROOT.parent / "shared" / "corpora"


def read(sql: str, path: str = "schema.sql"):
    return read_schema(textwrap.dedent(sql), path)


def edges(diagram) -> set[tuple[str, str]]:
    return {(r.left, r.right) for r in diagram.relationships}


def error(sql: str) -> str:
    with pytest.raises(SpecError) as info:
        read(sql)
    return str(info.value)


# --- the shared corpus of real dumps ------------------------------------------------------------

def test_the_shared_corpus_of_real_dumps_reads_fully():
    script = SHARED / "sql-check.py"
    if not script.is_file():
        pytest.skip(f"the shared SQL corpus is not here ({script}); it is checked where ../shared exists")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    out = subprocess.run([sys.executable, str(script), sys.executable, "-q"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=600).stdout
    last = out.strip().splitlines()[-1]
    n = int(re.search(r"(\d+) cases", last).group(1))
    assert n >= 26, out
    assert last == (f"sql corpus: {n} cases, tables right {n}/{n}, foreign keys right {n}/{n}, "
                    f"edges right {n}/{n}, refused 0, crashes 0"), out


# --- dumps in each tool's style ------------------------------------------------------------------

TRUTH = {
    "mysqldump_triggers.sql": ("mysql", {"customer", "order line", "shipment"},
                               {("order line", "customer"), ("shipment", "order line")}, set()),
    "pg_dump_partitions.sql": ("postgres", {"customer", "payment", "sales.orders", "archive.orders"},
                               {("payment", "customer"), ("sales.orders", "customer")}, set()),
    "ssms_script.sql": ("tsql", {"Customer List", "sales.Order", "dbo.Order", "Audit"},
                        {("sales.Order", "Customer List"), ("Audit", "sales.Order")}, set()),
    "sqlcmd_publish.sql": ("tsql", {"Team", "Member"}, {("Member", "Team")}, set()),
    "sqlplus_install.sql": ("oracle", {"book", "loan"}, {("loan", "book")}, set()),
    "liquibase_changelog.sql": ("postgres", {"author", "book"}, {("book", "author")}, set()),
    "django_sqlmigrate.sql": (None, {"polls_question", "polls_choice"},
                              {("polls_choice", "polls_question"), ("polls_choice", "auth_user")}, {"auth_user"}),
    "sqlite_dump.sql": ("sqlite", {"artist", "album", "album_fts_data"}, {("album", "artist")}, set()),
    "duckdb_schema.sql": (None, {"station", "reading"}, {("reading", "station")}, set()),
    "bigquery_ddl.sql": ("bigquery", {"sessions", "events"}, {("events", "sessions")}, set()),
    "rails_structure.sql": ("postgres", {"ar_internal_metadata", "schema_migrations", "users", "posts", "comments"},
                            {("posts", "users"), ("comments", "posts"), ("comments", "users")}, set()),
    "alembic_offline.sql": ("postgres", {"alembic_version", "account", "transaction", "tag"},
                            {("transaction", "account"), ("transaction", "tag")}, set()),  # transaction_tag: a join
    "prisma_postgres_migration.sql": ("postgres", {"User", "Post", "Profile", "Category"},
                                      {("Post", "User"), ("Profile", "User"), ("Category", "Post")}, set()),
    "prisma_mysql_migration.sql": ("mysql", {"User", "Post", "Comment"},
                                   {("Post", "User"), ("Comment", "Post"), ("Comment", "User")}, set()),
    "hibernate_hbm2ddl.sql": (None, {"customer", "order_item", "order_tags", "product", "purchase_order"},
                              {("order_item", "purchase_order"), ("order_item", "product"),
                               ("order_tags", "purchase_order"), ("purchase_order", "customer")}, set()),
    "mariadb_dump_partitions.sql": ("mysql", {"measurement", "sensor", "site", "sensor_event"},
                                    {("sensor", "site"), ("sensor_event", "sensor")}, set()),
    "cockroach_show_create.sql": ("postgres", {"users", "vehicles", "rides", "user_promo_codes", "audit_log"},
                                  {("vehicles", "users"), ("rides", "users"), ("rides", "vehicles"),
                                   ("user_promo_codes", "users")}, set()),
    "oracle_sqldeveloper.sql": ("oracle", {"DEPARTMENTS", "EMPLOYEES", "JOB_HISTORY"},
                                {("EMPLOYEES", "DEPARTMENTS"), ("EMPLOYEES", "EMPLOYEES"),
                                 ("JOB_HISTORY", "DEPARTMENTS"), ("JOB_HISTORY", "EMPLOYEES")}, set()),
    "phpmyadmin_export.sql": ("mysql", {"authors", "books", "book_loans"},
                              {("books", "authors"), ("book_loans", "books"), ("book_loans", "members")}, {"members"}),
    "snowflake_get_ddl.sql": ("snowflake", {"CUSTOMERS", "ORDERS", "ORDER_LINES"},
                              {("ORDERS", "CUSTOMERS"), ("ORDER_LINES", "ORDERS")}, set()),
}


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_each_dump_style_reads_to_its_tables_and_keys(name):
    dialect, tables, fks, outside = TRUTH[name]
    text = (DUMPS / name).read_text(encoding="utf-8")
    assert detect(text) == dialect
    d = read_schema(text, name)
    assert set(d.entities) == tables | outside
    assert {n for n, e in d.entities.items() if "defined outside this schema" in e.notes} == outside
    assert edges(d) == fks
    assert len(d.reading) == 1 and d.reading[0].startswith(f"read as {dialect or 'generic SQL'}")


def test_every_dump_style_has_a_truth():
    assert {p.name for p in DUMPS.glob("*.sql")} == set(TRUTH)


def dump(name: str):
    return read_schema((DUMPS / name).read_text(encoding="utf-8"), name)


def keys(diagram, entity: str) -> dict[str, tuple[str, ...]]:
    return {a.name: a.keys for a in diagram.entities[entity].attributes}


def test_what_each_new_style_needed_is_read_as_its_database_reads_it():
    prisma = dump("prisma_postgres_migration.sql")  # CREATE UNIQUE INDEX: a unique key, so one profile per user
    assert keys(prisma, "Profile")["userId"] == ("FK", "UK") and keys(prisma, "User")["email"] == ("UK",)
    (profile,) = [r for r in prisma.relationships if r.left == "Profile"]
    assert profile.left_cardinality == "zero-or-one"
    php = dump("phpmyadmin_export.sql")  # a view's stand-in table, dropped further on; keys and MODIFY by ALTER
    assert "books_with_authors" not in php.entities
    assert "1 table created and dropped again further on, not in the diagram (books_with_authors)" in php.reading[0]
    assert keys(php, "authors")["id"] == ("PK",) and keys(php, "book_loans")["lent_on"] == ("PK",)
    oracle = dump("oracle_sqldeveloper.sql")  # ENABLE, USING INDEX ..., MODIFY (c NOT NULL ENABLE)
    assert keys(oracle, "JOB_HISTORY")["START_DATE"] == ("PK",) and keys(oracle, "EMPLOYEES")["EMAIL"] == ("UK",)
    cockroach = dump("cockroach_show_create.sql")  # INDEX, FAMILY, NOT VISIBLE, :::, ASC in keys
    assert [a.name for a in cockroach.entities["audit_log"].attributes] == ["at", "message", "rowid"]
    assert keys(cockroach, "users") == {"id": ("PK",), "city": ("PK",), "name": (), "address": (), "credit_card": ()}
    assert [a.type for a in cockroach.entities["users"].attributes][:2] == ["uuid", "varchar"]


def test_drop_constraint_and_drop_column_take_away_what_they_name():
    d = read("""\
        CREATE TABLE a (id int PRIMARY KEY);
        CREATE TABLE b (id int PRIMARY KEY, a_id int, old int REFERENCES a (id));
        ALTER TABLE b ADD CONSTRAINT f FOREIGN KEY (a_id) REFERENCES a (id);
        ALTER TABLE b DROP CONSTRAINT f;
        ALTER TABLE b DROP CONSTRAINT IF EXISTS never_made;
        ALTER TABLE b DROP COLUMN old;
    """)
    assert d.relationships == [] and [a.name for a in d.entities["b"].attributes] == ["id", "a_id"]


def test_a_column_named_key_or_index_is_still_a_column():
    d = read('CREATE TABLE a (key varchar NOT NULL, "index" int, family text, PRIMARY KEY (key));')
    assert keys(d, "a") == {"key": ("PK",), "index": (), "family": ()}


# --- dialect detection ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, dialect", [
    ("--\n-- PostgreSQL database dump\n--\nCREATE TABLE a (id int);", "postgres"),
    ("\\restrict x\nCREATE TABLE a (id int);", "postgres"),
    ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;", "postgres"),
    ("-- MySQL dump 10.13\nCREATE TABLE a (id int);", "mysql"),
    ("CREATE TABLE `a` (id int) ENGINE=InnoDB;", "mysql"),
    ("DELIMITER //\nCREATE PROCEDURE p() BEGIN END //", "mysql"),
    ("CREATE TABLE a (id int)\nGO\n", "tsql"),
    ("CREATE TABLE [dbo].[a] ([id] int);", "tsql"),
    ("BEGIN NULL; END;\n/\nCREATE TABLE a (id NUMBER, b VARCHAR2(9));", "oracle"),
    ("CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT);", "sqlite"),
    ("CREATE TABLE `p.d.t` (id INT64);", "bigquery"),
    ("USE DATABASE raw;\nCREATE OR REPLACE TABLE t (at TIMESTAMP_NTZ);", "snowflake"),
    ("CREATE TABLE a (id int PRIMARY KEY);", None),
])
def test_the_dialect_is_detected_from_the_marks_of_the_tools(text, dialect):
    assert detect(text) == dialect


def test_a_dialect_line_or_argument_overrides_detection():
    text = "CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT);\n"
    assert read_schema(text).reading[0].startswith("read as sqlite")
    assert read_schema("-- dialect: postgres\n" + text).reading[0].startswith("read as postgres")
    assert read_schema(text, dialect="mysql").reading[0].startswith("read as mysql")
    with pytest.raises(SpecError, match="unknown SQL dialect 'nosuch'"):
        read_schema(text, dialect="nosuch")


# --- splitting the way each client does ----------------------------------------------------------

def pieces(text: str, dialect: str | None) -> list[str]:
    cut = split(text, Client.of(dialect))
    return [text[p.start:p.end] for p in cut.pieces]


def test_go_lines_separate_batches_and_a_batch_may_hold_statements_without_semicolons():
    text = "CREATE TABLE a (id INT)\nCREATE TABLE b (id INT)\nGO\nSELECT 'GO;'\ngo 2\n"
    assert pieces(text, "tsql") == ["CREATE TABLE a (id INT)", "CREATE TABLE b (id INT)", "SELECT 'GO;'"]


def test_delimiter_changes_the_terminator_until_changed_back():
    text = "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END //\nDELIMITER ;\nSELECT 3;\n"
    assert pieces(text, "mysql") == ["CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "SELECT 3"]


def test_dollar_quotes_and_plsql_blocks_hold_their_semicolons():
    text = "CREATE FUNCTION f() AS $x$ BEGIN; x; END $x$;\nDO $$ BEGIN a; END $$;\nSELECT 1;"
    assert pieces(text, "postgres") == ["CREATE FUNCTION f() AS $x$ BEGIN; x; END $x$", "DO $$ BEGIN a; END $$",
                                        "SELECT 1"]
    text = "CREATE PROCEDURE p IS v NUMBER;\nBEGIN\n  NULL;\nEND p;\n/\nBEGIN x; END;;\nSELECT 1 FROM dual;\n"
    assert pieces(text, "oracle") == ["CREATE PROCEDURE p IS v NUMBER;\nBEGIN\n  NULL;\nEND p",
                                      "BEGIN x; END", "SELECT 1 FROM dual"]


def test_client_commands_are_lines_of_their_own():
    text = ("\\connect db\n\\c other\n:setvar X 1\n:r file.sql\nsource x.sql;\n# a comment; here\n"
            "SELECT '\\c';\n")
    cut = split(text, Client.of("mysql"))
    assert [name for _, name in cut.commands] == ["\\connect", "\\c", ":setvar", ":r", "source"]
    assert [text[p.start:p.end] for p in cut.pieces] == ["SELECT '\\c'"]


def test_psql_copy_data_is_not_read_as_sql():
    text = "COPY a (x) FROM stdin;\n1\tit's; CREATE TABLE z (q int);\n\\.\nCREATE TABLE a (x int);\n"
    d = read(text)
    assert set(d.entities) == {"a"}
    assert "1 COPY" in d.reading[0]


# --- what is skipped is said ---------------------------------------------------------------------

SKIPPING = """\
    SET search_path = public;
    CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;
    CREATE TABLE a (id int PRIMARY KEY);
    CREATE VIEW v AS SELECT * FROM a;
    CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION f();
    GRANT SELECT ON a TO bob;
    INSERT INTO a VALUES (1);
    CREATE VIRTUAL TABLE s USING fts5(x);
"""


def test_what_is_skipped_is_told_in_one_line_and_listed_with_places():
    d = read(SKIPPING)
    assert d.reading == ["read as postgres; skipped 7 statements that are not tables (1 SET, 1 CREATE FUNCTION, "
                         "1 CREATE VIEW, 1 CREATE TRIGGER, 1 GRANT, 1 INSERT, 1 CREATE VIRTUAL TABLE)"]
    assert d.reading_details[0] == "schema.sql:1:1: skipped SET"
    assert d.reading_details[-1] == "schema.sql:8:1: skipped CREATE VIRTUAL TABLE"


def test_validate_and_graph_show_the_summary_and_verbose_lists_it(cli, tmp_path):
    (tmp_path / "setup.yaml").write_text("user_role: a\nassistant_role: helper\nassistant_in_diagram: false\n"
                                         "er_diagram_path: schema.sql\n")
    (tmp_path / "schema.sql").write_text(textwrap.dedent(SKIPPING))
    out = cli("validate", tmp_path).output
    assert "note: read as postgres; skipped 7 statements" in out
    assert "skipped CREATE VIEW" not in out
    assert "schema.sql:4:1: skipped CREATE VIEW" in cli("validate", "--verbose", tmp_path).output
    graph = cli("graph", tmp_path)
    assert graph.exit_code == 0 and "note: read as postgres; skipped 7 statements" in graph.output
    assert "schema.sql:4:1: skipped CREATE VIEW" in cli("graph", "-v", tmp_path).output
    data = json.loads(cli("graph", "--json", tmp_path).stdout)
    assert data["reading"][0].startswith("read as postgres")


# --- partitions, inheritance, keys, names --------------------------------------------------------

def test_partitions_and_column_less_inheritance_children_fold_into_their_parent():
    d = read("""\
        CREATE TABLE c (id int PRIMARY KEY);
        CREATE TABLE p (id int PRIMARY KEY, c_id int REFERENCES c (id)) PARTITION BY RANGE (id);
        CREATE TABLE p_1 PARTITION OF p FOR VALUES FROM (1) TO (10);
        CREATE TABLE p_2 (CONSTRAINT k CHECK (id > 10)) INHERITS (p);
        ALTER TABLE ONLY p_2 ADD CONSTRAINT p_2_c FOREIGN KEY (c_id) REFERENCES c (id);
    """)
    assert set(d.entities) == {"c", "p"}
    assert edges(d) == {("p", "c")} and len(d.relationships) == 1
    assert "partitions: p_1, p_2" in d.entities["p"].notes
    assert "2 partitions folded into their parent tables" in d.reading[0]


def test_an_inheritance_child_with_columns_of_its_own_is_a_kind_of_its_parent():
    d = read("""\
        CREATE TABLE cities (name text PRIMARY KEY, population int);
        CREATE TABLE capitals (state char(2)) INHERITS (cities);
    """)
    assert [a.name for a in d.entities["capitals"].attributes] == ["name", "population", "state"]
    (r,) = d.relationships
    assert (r.left, r.right, r.label, r.details) == ("capitals", "cities", "is a kind of", {"Inherits": "cities"})


@pytest.mark.parametrize("sql", [
    "-- dialect: mysql\nCREATE TABLE a (x INT, y INT, PRIMARY KEY (x, y));\nCREATE TABLE b (x INT, y INT);\n"
    "ALTER TABLE `b` ADD CONSTRAINT `f` FOREIGN KEY (`x`, `y`) REFERENCES `a` (`x`, `y`);",
    "CREATE TABLE [a] ([x] INT, [y] INT, CONSTRAINT [pk] PRIMARY KEY CLUSTERED ([x] ASC, [y] ASC))\nGO\n"
    "CREATE TABLE [b] ([x] INT, [y] INT)\nGO\nALTER TABLE [b] WITH CHECK ADD CONSTRAINT [f] FOREIGN KEY([x], [y]) "
    "REFERENCES [a] ([x], [y])\nGO\nALTER TABLE [b] CHECK CONSTRAINT [f]\nGO\n",
    "CREATE TABLE a (x NUMBER, y NUMBER, CONSTRAINT pk PRIMARY KEY (x, y));\nCREATE TABLE b (x NUMBER, y NUMBER);\n"
    "ALTER TABLE b ADD ( CONSTRAINT f FOREIGN KEY (x, y) REFERENCES a (x, y) );\n/\n",
    "CREATE TABLE a (x int, y int, PRIMARY KEY (x, y));\nCREATE TABLE b (x int, y int);\n"
    "ALTER TABLE ONLY public.b ADD CONSTRAINT f FOREIGN KEY (x, y) REFERENCES public.a(x, y);",
], ids=["mysql", "tsql", "oracle", "postgres"])
def test_alter_table_adds_composite_foreign_keys_in_every_dialect(sql):
    d = read_schema(sql)
    (r,) = d.relationships
    assert (r.left, r.right) == ("b", "a")
    assert [a.keys for a in d.entities["a"].attributes] == [("PK",), ("PK",)]
    assert [a.keys for a in d.entities["b"].attributes] == [("FK",), ("FK",)]


def test_two_schemas_with_one_table_name_stay_two_entities_and_quoted_names_keep_their_spaces():
    d = read("""\
        CREATE TABLE sales."Order Line" ("Line Id" int PRIMARY KEY);
        CREATE TABLE archive."Order Line" ("Line Id" int PRIMARY KEY, up int REFERENCES sales."Order Line");
    """)
    assert set(d.entities) == {"sales.Order Line", "archive.Order Line"}
    assert edges(d) == {("archive.Order Line", "sales.Order Line")}
    assert d.entities["sales.Order Line"].attributes[0].name == "Line_Id"


def test_a_create_table_inside_a_block_that_runs_is_read_and_one_in_a_function_body_is_not():
    d = read("""\
        CREATE TABLE a (id int PRIMARY KEY);
        CREATE TABLE b (id int PRIMARY KEY, a_id int);
        DO $$ BEGIN
          ALTER TABLE b ADD CONSTRAINT f FOREIGN KEY (a_id) REFERENCES a (id);
        EXCEPTION WHEN duplicate_object THEN null;
        END $$;
        CREATE FUNCTION g() RETURNS void AS $$ BEGIN CREATE TABLE nope (x int); END $$ LANGUAGE plpgsql;
    """)
    assert set(d.entities) == {"a", "b"}
    assert edges(d) == {("b", "a")}


# --- errors are located and plain ----------------------------------------------------------------

@pytest.mark.parametrize("sql, where", [
    ("-- dialect: tsql\nCREATE TABLE a (id INT)\nGO\nCREATE TABLE b (id INT, x INT CHECK (x >))\nGO\n",
     "schema.sql:4:"),
    ("SET x = 1;\nCREATE TABLE c (id INT CHECK (id >));\n", "schema.sql:2:"),
    ("CREATE TABLE a (id INT);\nCREATEE TABLE b (id INT);\n", "schema.sql:2:"),
])
def test_a_statement_that_cannot_be_read_is_a_located_error_in_plain_words(sql, where):
    text = error(sql)
    assert text.startswith(where), text
    assert "<class" not in text and "Token" not in text and "sqlglot" not in text, text


def test_a_table_after_a_go_line_is_never_dropped():
    d = read_schema("-- dialect: tsql\nCREATE TABLE a (id INT PRIMARY KEY)\nGO\n"
                    "CREATE TABLE b (id INT PRIMARY KEY, a_id INT REFERENCES a (id))\nGO\n")
    assert set(d.entities) == {"a", "b"}
