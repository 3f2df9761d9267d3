"""Tasks planned from a walk before any dialogue: the user's goal, the gold tool calls, the facts.

``plan_task(world, entities, rng)`` picks a task kind that the walk's entities allow (read a
fact, follow a relationship, update a field, create a linked row, delete a row, or two of them in a
row), picks rows of the world, and builds the goal in plain words from what the user knows (a
name, an email: a value that finds one row, else its id). The gold calls are run on a private
copy of the world: a task whose calls do not all succeed is never used, and the copy's final state
hash and the values the results hold (the facts the user must be told) come from that run. The
planner is deterministic (a seeded ``random.Random``): the gold answer is correct by construction,
and models only write the language around it.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from janus_core.plan.graph import plain, plural
from janus_plugins.world.schema import Column, ForeignKey, Schema, Table, quote
from janus_plugins.world.session import ToolSession
from janus_plugins.world.tools import WorldTool

#: kinds of task, and how often each is drawn among those the walk allows
KINDS = {"read": 3, "related": 3, "update": 2, "create": 2, "delete": 1, "combo": 2}
#: columns whose values people know a row by, best first (a part of the column's name)
HANDLES = ("email", "name", "title", "phone", "code", "number", "username", "login", "sku", "isbn")
#: the most facts a task asks the assistant to tell, and their longest value
MAX_FACTS = 3
MAX_FACT_CHARS = 60
ATTEMPTS = 12


@dataclass
class Task:
    """A planned task: what the user wants and knows, the gold calls and what they lead to."""

    kind: str
    goal: str
    known: list[str]
    calls: list[dict[str, Any]] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    state_hash: str = ""
    writes: bool = False
    #: the tools the assistant is offered: those of the walk's tables, the gold calls' and plugins'
    tools: list[str] = field(default_factory=list)

    def to_meta(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> Task:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class _Step:
    """One part of a task: its goal sentence, what the user knows, its calls and facts."""

    goal: str
    known: list[str]
    calls: list[tuple[str, dict[str, Any]]]
    #: (what the fact is, the call's index in ``calls``, a path into its result)
    facts: list[tuple[str, int, tuple[Any, ...]]] = field(default_factory=list)
    writes: bool = False


class World:
    """A world file, its schema and its tools, read once; tasks are planned on it."""

    def __init__(self, path: Path, tools: list[Any]):
        self.path = Path(path)
        self.tools = list(tools)
        self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        probe = ToolSession(self.path, self.tools)
        self.schema: Schema = probe.schema
        self.start_hash = probe.state_hash()
        probe.close()
        self.by_action: dict[tuple[str, str], WorldTool] = {}
        self.lookups: dict[tuple[str, str], WorldTool] = {}  # (child table, parent table) -> tool
        for tool in self.tools:
            if not isinstance(tool, WorldTool):
                continue
            if tool.action == "list":
                assert tool.link is not None
                if tool.link[2] is None:  # a foreign key's children (not through a join table)
                    self.lookups[(tool.table.name, tool.link[0].name)] = tool
            else:
                self.by_action[(tool.table.name, tool.action)] = tool

    def close(self) -> None:
        self.conn.close()

    def tool(self, table: Table, action: str) -> WorldTool | None:
        return self.by_action.get((table.name, action))

    def rows(self, table: Table, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        names = [c.name for c in table.columns]
        sql = f"SELECT {', '.join(map(quote, names))} FROM {quote(table.name)}{where} ORDER BY " + \
            ", ".join(map(quote, table.primary))
        return [dict(zip(names, r, strict=True)) for r in self.conn.execute(sql, params).fetchall()[:500]]

    def count(self, table: Table, column: str, value: Any) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {quote(table.name)} WHERE {quote(column)} IS ?",
                                 (value,)).fetchone()[0]


# --- naming rows --------------------------------------------------------------------------------

def _fk_columns(table: Table) -> set[str]:
    return {c for fk in table.foreign_keys for c in fk.columns}


def _shown(col: Column, value: Any) -> str:
    if col.kind == "bool":
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _handle(world: World, table: Table, row: dict[str, Any], rng: random.Random) -> tuple[str, tuple[str, dict]]:
    """How the user names ``row`` and the call that finds it: a value held by this row alone (its
    name, email, ...) with the search tool, else its key with the get tool."""
    search = world.tool(table, "search")
    skip = set(table.primary) | _fk_columns(table)
    if search is not None:
        rank = {c.name: next((i for i, h in enumerate(HANDLES) if h in c.name.lower()), None) for c in table.columns}
        texts = [c for c in table.columns if c.name not in skip and c.kind == "text" and rank[c.name] is not None
                 and isinstance(row.get(c.name), str) and 0 < len(row[c.name]) <= MAX_FACT_CHARS]
        texts.sort(key=lambda c: rank[c.name])
        for col in texts:
            if col.param in search.parameters["properties"] and world.count(table, col.name, row[col.name]) == 1:
                known = f"the {plain(table.word)}'s {plain(col.name)} is {row[col.name]}"
                return known, (search.name, {col.param: row[col.name]})
    get = world.tool(table, "get")
    if get is None:
        raise LookupError(f"no way to find a {table.word}")
    args = {table.column(c).param: row[c] for c in table.primary}
    words = " and ".join(f"{plain(c)} {row[c]}" for c in table.primary)
    return f"the {plain(table.word)} with {words}", (get.name, args)


def _path(table: Table, found_by_search: bool) -> tuple[Any, ...]:
    return ("results", 0) if found_by_search else (table.word,)


def _facts_of(table: Table, row: dict[str, Any], rng: random.Random, count: int) -> list[Column]:
    skip = set(table.primary) | _fk_columns(table)
    cols = [c for c in table.columns if c.name not in skip and c.kind in ("text", "int", "date", "time", "datetime")
            and row.get(c.name) is not None and 0 < len(str(row[c.name])) <= MAX_FACT_CHARS]
    rng.shuffle(cols)
    return cols[:count]


# --- the kinds ----------------------------------------------------------------------------------

def _read(world: World, table: Table, rng: random.Random) -> _Step | None:
    rows = world.rows(table)
    if not rows:
        return None
    row = rng.choice(rows)
    known, call = _handle(world, table, row, rng)
    cols = [c for c in _facts_of(table, row, rng, 3) if c.param not in call[1]][: rng.randint(1, 2)]
    if not cols:
        return None
    wanted = " and ".join(plain(c.name) for c in cols)
    path = _path(table, call[0].startswith("search"))
    return _Step(f"find out the {wanted} of the {plain(table.word)} ({known})", [known], [call],
                 [(plain(c.name), 0, (*path, c.param)) for c in cols])


def _related(world: World, child: Table, parent: Table, rng: random.Random) -> _Step | None:
    lookup = world.lookups.get((child.name, parent.name))
    if lookup is None:
        return None
    fk = lookup.link[1] if lookup.link else None
    assert isinstance(fk, ForeignKey)
    parents = world.rows(parent)
    rng.shuffle(parents)
    for row in parents[:ATTEMPTS]:
        where = " WHERE " + " AND ".join(f"{quote(c)} IS ?" for c in fk.columns)
        children = world.rows(child, where, tuple(row[c] for c in fk.parent_columns))
        if not 1 <= len(children) <= MAX_FACTS:
            continue
        known, call = _handle(world, parent, row, rng)
        cols = _facts_of(child, children[0], rng, 1)
        if not cols:
            return None
        col = cols[0]
        args = {parent.column(c).param: row[c] for c in fk.parent_columns}
        many = plural(plain(child.word))
        goal = f"find out the {plain(col.name)} of each of the {many} of the {plain(parent.word)} ({known})"
        facts = [(f"{plain(col.name)} of {plain(child.word)} {i + 1}", 1, ("results", i, col.param))
                 for i in range(len(children)) if children[i].get(col.name) is not None]
        return _Step(goal, [known], [call, (lookup.name, args)], facts)
    return None


def _new_value(world: World, table: Table, col: Column, old: Any, rng: random.Random) -> Any:
    from faker import Faker

    from janus_plugins.world.values import draw

    fake = Faker()
    fake.seed_instance(rng.randrange(2**31))
    for _ in range(ATTEMPTS):
        value = draw(col, fake, rng)
        if isinstance(value, bytes) or value == old or value is None:
            continue
        if (col.unique or col.primary) and world.count(table, col.name, value):
            continue
        return value
    return None


def _editable(table: Table) -> list[Column]:
    skip = set(table.primary) | _fk_columns(table)
    return [c for c in table.columns if c.name not in skip and not c.auto
            and c.kind in ("text", "int", "float", "date", "time", "datetime", "bool")]


def _update(world: World, table: Table, rng: random.Random) -> _Step | None:
    update = world.tool(table, "update")
    rows = world.rows(table)
    cols = _editable(table)
    if update is None or not rows or not cols:
        return None
    row, col = rng.choice(rows), rng.choice(cols)
    value = _new_value(world, table, col, row[col.name], rng)
    if value is None:
        return None
    known, call = _handle(world, table, row, rng)
    args = {table.column(c).param: row[c] for c in table.primary}
    args[col.param] = bool(value) if col.kind == "bool" else value
    goal = f"change the {plain(col.name)} of the {plain(table.word)} ({known}) to {_shown(col, value)}"
    return _Step(goal, [known], [call, (update.name, args)], writes=True)


def _create(world: World, table: Table, rng: random.Random) -> _Step | None:
    create = world.tool(table, "create")
    if create is None or table.joins:
        return None
    props = create.parameters["properties"]
    required = set(create.parameters.get("required", []))
    calls: list[tuple[str, dict[str, Any]]] = []
    known: list[str] = []
    args: dict[str, Any] = {}
    linked: set[str] = set()
    for fk in table.foreign_keys:
        cols = [table.column(c) for c in fk.columns]
        if fk.parent == table.name or not any(c.param in required for c in cols):
            continue
        parent = world.schema.tables[fk.parent]
        parents = world.rows(parent)
        if not parents:
            return None
        row = rng.choice(parents)
        knows, call = _handle(world, parent, row, rng)
        calls.append(call)
        known.append(knows)
        args.update({c.param: row[p] for c, p in zip(cols, fk.parent_columns, strict=True)})
        linked |= {c.name for c in cols}
    if not linked:
        return None
    told = []
    fields = [c for c in table.columns if c.param in props and c.name not in linked
              and c.kind in ("text", "int", "float", "date", "time", "datetime", "bool")]
    optional = [c for c in fields if c.param not in required]
    rng.shuffle(optional)
    for col in [c for c in fields if c.param in required] + optional[:1]:
        value = _new_value(world, table, col, None, rng)
        if value is None:
            return None
        args[col.param] = bool(value) if col.kind == "bool" else value
        told.append(f"{plain(col.name)} {_shown(col, value)}")
    if any(p not in args for p in required):
        return None
    calls.append((create.name, args))
    parents = " and ".join(known)
    goal = f"add a new {plain(table.word)} for {parents}" + (f", with {', '.join(told)}" if told else "")
    facts = []
    key = [table.column(c) for c in table.primary]
    if len(key) == 1 and key[0].auto:
        facts.append((f"the new {plain(table.word)}'s {plain(key[0].name)}", len(calls) - 1, ("created", key[0].param)))
    return _Step(goal, known, calls, facts, writes=True)


def _delete(world: World, table: Table, rng: random.Random) -> _Step | None:
    delete = world.tool(table, "delete")
    rows = world.rows(table)
    if delete is None or not rows or table.joins:
        return None
    rng.shuffle(rows)
    referenced = [(t, fk) for t in world.schema.tables.values() for fk in t.foreign_keys if fk.parent == table.name]
    for row in rows[:ATTEMPTS]:
        held = False
        for t, fk in referenced:
            where = " WHERE " + " AND ".join(f"{quote(c)} IS ?" for c in fk.columns)
            if world.conn.execute(f"SELECT 1 FROM {quote(t.name)}{where} LIMIT 1",
                                  tuple(row[c] for c in fk.parent_columns)).fetchone():
                held = True
                break
        if held:
            continue
        known, call = _handle(world, table, row, rng)
        args = {table.column(c).param: row[c] for c in table.primary}
        return _Step(f"delete the {plain(table.word)} ({known})", [known], [call, (delete.name, args)], writes=True)
    return None


def _one(world: World, kind: str, tables: list[Table], rng: random.Random) -> _Step | None:
    table = rng.choice(tables)
    if kind == "read":
        return _read(world, table, rng)
    if kind == "related":
        pairs = [(c, world.schema.tables[fk.parent]) for c in tables for fk in c.foreign_keys
                 if fk.parent in {t.name for t in tables} and fk.parent != c.name]
        pairs += [(t, table) for t in world.schema.tables.values() if not pairs and any(
            fk.parent == table.name for fk in t.foreign_keys) and t.name != table.name]
        return _related(world, *rng.choice(pairs), rng) if pairs else None
    if kind == "update":
        return _update(world, table, rng)
    if kind == "create":
        return _create(world, table, rng)
    if kind == "delete":
        return _delete(world, table, rng)
    return None


def _sentence(steps: list[_Step]) -> str:
    """The steps' goals as one sentence; a row named again is "the same one"."""
    parts, seen = [], set()
    for step in steps:
        goal = step.goal
        for known in step.known:
            if known in seen:
                goal = re.sub(r"the [\w ]+? \(" + re.escape(known) + r"\)", "the same one", goal)
            seen.add(known)
        parts.append(goal.rstrip("."))
    text = parts[0] if len(parts) == 1 else "first " + parts[0] + ", then " + ", then ".join(parts[1:])
    return text[0].upper() + text[1:] + "."


def _walk_tables(world: World, entities: list[str]) -> list[Table]:
    tables = [t for t in world.schema.tables.values() if t.entity in entities and not t.joins]
    return tables or [t for t in world.schema.tables.values() if not t.joins]


def plan_task(world: World, entities: list[str], rng: random.Random) -> Task | None:
    """A task the walk's ``entities`` allow, its gold calls checked on a private copy (see the module
    docstring); None when none of the kinds tried makes one whose calls all succeed."""
    tables = _walk_tables(world, entities)
    kinds = list(KINDS)
    for _ in range(ATTEMPTS):
        kind = rng.choices(kinds, weights=[KINDS[k] for k in kinds])[0]
        parts = [rng.choice(("read", "related")), rng.choice(("update", "create", "delete"))] if kind == "combo" \
            else [kind]
        steps = [_one(world, part, tables, rng) for part in parts]
        if any(s is None for s in steps):
            continue
        task = _run(world, kind, [s for s in steps if s is not None])
        if task is not None:
            task.tools = offered(world, tables, task)
            return task
    return None


def offered(world: World, tables: list[Table], task: Task) -> list[str]:
    """The tools a task's assistant gets: every tool on the walk's tables (a lookup when either end is
    one), the gold calls' tools and every tool that is not the world's own (a plugin's), in the
    world's order. Fewer tools than the whole world's keep a small model's context small."""
    names = {t.name for t in tables}
    gold = {c["name"] for c in task.calls}
    return [t.name for t in world.tools if t.name in gold or not isinstance(t, WorldTool) or t.table.name in names
            or (t.link is not None and t.link[0].name in names)]


def _dig(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _run(world: World, kind: str, steps: list[_Step]) -> Task | None:
    """The task the steps make, once their calls all succeeded on a private copy; else None."""
    session = ToolSession(world.path, world.tools)
    try:
        calls: list[dict[str, Any]] = []
        facts: list[dict[str, Any]] = []
        for step in steps:
            results = []
            for name, args in step.calls:
                text = session.call(name, args)
                result = json.loads(text)
                if isinstance(result, dict) and "error" in result:
                    return None
                results.append(result)
                calls.append({"name": name, "arguments": args})
            for what, index, path in step.facts:
                try:
                    value = _dig(results[index], path)
                except (KeyError, IndexError, TypeError):
                    return None
                if value is not None:
                    facts.append({"fact": what, "value": value})
        known = list(dict.fromkeys(k for s in steps for k in s.known))
        return Task(kind=kind, goal=_sentence(steps), known=known, calls=calls, facts=facts,
                    state_hash=session.state_hash(), writes=any(s.writes for s in steps))
    finally:
        session.close()
