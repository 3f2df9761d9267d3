"""World tools: each kind on a sample world, error results for bad calls, a private copy, bounds."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from conftest import SAMPLES
from janus_plugins.world import ToolSession, build_world, tools_for

from janus_core import Tool


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("world") / "library.sqlite"
    build_world(SAMPLES / "sql_schema", rows=60, seed=5, out=path)
    return path


@pytest.fixture
def session(world):
    with ToolSession(world) as s:
        yield s


def call(session: ToolSession, name: str, **arguments) -> dict:
    return json.loads(session.call(name, arguments))


def test_definitions_are_openai_functions(session):
    for d in session.definitions():
        assert d["type"] == "function" and set(d["function"]) == {"name", "description", "parameters"}
        assert d["function"]["parameters"]["type"] == "object"
    names = {d["function"]["name"] for d in session.definitions()}
    assert {"get_member", "search_members", "create_loan", "update_loan", "delete_author",
            "list_loans_of_member", "list_authors_of_book", "list_books_of_author"} <= names


def test_read_tools(session, world):
    member = call(session, "get_member", id=3)["member"]
    with sqlite3.connect(world) as conn:
        row = conn.execute("SELECT full_name, email FROM member WHERE id = 3").fetchone()
    assert (member["full_name"], member["email"]) == row
    found = call(session, "search_members", full_name=member["full_name"])
    assert member in found["results"]
    loans = call(session, "list_loans_of_member", id=3, limit=50)
    with sqlite3.connect(world) as conn:
        expected = conn.execute("SELECT count(*) FROM loan WHERE member_id = 3").fetchone()[0]
    assert loans["count"] == expected and all(r["member_id"] == 3 for r in loans["results"])
    book = conn.execute("SELECT book_isbn, author_id FROM book_author").fetchone()
    authors = call(session, "list_authors_of_book", isbn=book[0], limit=50)["results"]
    assert book[1] in {a["id"] for a in authors}


def test_write_tools(session):
    created = call(session, "create_author", full_name="Ursula K. Le Guin", born=1929)["created"]
    assert created["id"] == 61 and created["full_name"] == "Ursula K. Le Guin"
    updated = call(session, "update_author", id=61, born=1930)["updated"]
    assert updated == {**created, "born": 1930}
    assert call(session, "delete_author", id=61)["deleted"] == updated
    assert call(session, "get_author", id=61)["error"]["type"] == "not_found"


@pytest.mark.parametrize(("name", "arguments", "kind"), [
    ("get_membr", {"id": 1}, "unknown_tool"),
    ("get_member", {}, "invalid_arguments"),
    ("get_member", {"id": "one"}, "invalid_arguments"),
    ("get_member", {"id": 1, "extra": 2}, "invalid_arguments"),
    ("get_member", {"id": 99999}, "not_found"),
    ("search_members", {"limit": 500}, "invalid_arguments"),
    ("create_loan", {"lent_on": "2024-01-01"}, "invalid_arguments"),  # copy_id and member_id are required
    ("create_copy", {"book_isbn": "0000000000000", "branch_id": 1, "shelf_mark": "A1"}, "constraint_violation"),
    ("delete_branch", {"id": 1}, "constraint_violation"),
])
def test_bad_calls_come_back_as_error_results(session, name, arguments, kind):
    before = session.state_hash()
    result = call(session, name, **arguments)
    assert result["error"]["type"] == kind, result
    assert result["error"]["message"]
    assert session.state_hash() == before


def test_arguments_as_json_text_and_broken_json(session):
    assert "member" in json.loads(session.call("get_member", '{"id": 2}'))
    assert json.loads(session.call("get_member", "{id: 2"))["error"]["type"] == "invalid_arguments"
    assert json.loads(session.call("get_member", "[1]"))["error"]["type"] == "invalid_arguments"


def test_an_injection_attempt_is_inert(session):
    before = session.state_hash()
    hostile = "x' OR '1'='1'; DROP TABLE member; --"
    assert call(session, "search_members", full_name=hostile)["results"] == []
    created = call(session, "create_author", full_name=hostile)["created"]
    assert created["full_name"] == hostile
    call(session, "delete_author", id=created["id"])
    assert session.state_hash() == before
    assert call(session, "get_member", id=1)["member"]


def test_a_session_never_touches_the_world_file(world):
    digest = hashlib.sha256(world.read_bytes()).hexdigest()
    with ToolSession(world) as one, ToolSession(world) as two:
        start = one.state_hash()
        call(one, "update_member", id=1, full_name="Changed")
        assert one.state_hash() != start == two.state_hash()
        assert call(two, "get_member", id=1)["member"]["full_name"] != "Changed"
    assert hashlib.sha256(world.read_bytes()).hexdigest() == digest


def test_row_bound(world):
    with ToolSession(world, max_rows=5) as s:
        found = call(s, "search_loans", limit=5)
        assert found["count"] == 5 and found["more"] is True
        assert call(s, "search_loans", limit=6)["error"]["type"] == "invalid_arguments"


class Forever(Tool):
    name = "count_forever"
    description = "Counts without end."
    writes = False

    def run(self, conn, arguments):
        return conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
                            "SELECT max(i) FROM n").fetchone()


class Broken(Tool):
    name = "broken"
    description = "Fails."

    def run(self, conn, arguments):
        conn.execute("DELETE FROM loan")
        raise RuntimeError("boom")


def test_time_bound_and_plugin_tools(world):
    tools = tools_for(world, extra=[Forever(), Broken()])
    with ToolSession(world, tools, time_budget=0.2) as s:
        before = s.state_hash()
        assert call(s, "count_forever")["error"]["type"] == "timeout"
        result = call(s, "broken")
        assert result["error"] == {"type": "tool_failed", "message": "RuntimeError: boom"}
        assert s.state_hash() == before  # the failed call's delete was rolled back
        assert call(s, "get_member", id=1)["member"]


def test_registered_tools_are_a_plugin_kind():
    from janus_core import hookimpl
    from janus_core.plugins import load_plugins

    class Plugin:
        @hookimpl
        def register_tools(self, register):
            register(Broken())

    plugins = load_plugins()
    plugins.pm.register(Plugin(), name="test-tools")
    assert plugins.registry.tools["broken"].plugin == "test-tools"
