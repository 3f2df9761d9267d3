"""Build a world: a diagram's tables, filled with rows, written to an SQLite file.

``build_world(spec_or_path, rows=N, seed=S, out=PATH)`` writes the file atomically (a temporary file
in the same folder, then a rename) and returns a ``WorldSummary``. The world holds its own schema
(table ``__janus_world__``), so tools and sessions need only the file. ``state_hash(conn)`` is a
canonical hash of every table's rows, independent of row order and of the file's layout: two worlds
(or two sessions) with the same data have the same hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from janus_core.sdk.errors import JanusError, display_path
from janus_core.spec.diagram import Diagram
from janus_plugins.world.schema import META_TABLE, Schema, Table, build_schema, quote
from janus_plugins.world.values import seeded, table_rows

#: rows per table unless asked otherwise, and the most a world may ask for
DEFAULT_ROWS = 20
MAX_ROWS = 100_000


@dataclass
class WorldSummary:
    """What ``build_world`` wrote: the file, the rows per table, the keys, the schema."""

    path: Path
    seed: int
    rows: dict[str, int]
    schema: Schema
    hash: str
    keys: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        total = sum(self.rows.values())
        out = [f"world {display_path(self.path)}: {len(self.rows)} tables, {total} rows (seed {self.seed})",
               f"keys: {self.keys['primary']} primary, {self.keys['unique']} unique, {self.keys['foreign']} foreign"]
        for name, count in self.rows.items():
            t = self.schema.tables[name]
            kind = "join table" if t.joins else "table"
            out.append(f"  {name}: {count} rows, {len(t.columns)} columns ({kind})")
        out.append(f"state hash: {self.hash}")
        return out


def load_diagram(spec_or_path: Any) -> Diagram:
    """The diagram of a Spec, a Diagram, a spec folder (or its setup.yaml), or a diagram file
    (``.mermaid``, ``.mmd``, ``.sql``) on its own."""
    from janus_core.spec.model import Spec, load_spec

    if isinstance(spec_or_path, Diagram):
        return spec_or_path
    if isinstance(spec_or_path, Spec):
        return spec_or_path.diagram
    path = Path(spec_or_path)
    if path.is_dir() or path.name.endswith((".yaml", ".yml")):
        return load_spec(path, check_roles=False).diagram
    if not path.is_file():
        raise JanusError(f"{display_path(path)}: no such spec folder or diagram file")
    from janus_core.plugins import load_plugins
    from janus_core.spec.drawing import read_diagram_file

    return read_diagram_file(path, load_plugins())


def insert_order(schema: Schema) -> list[str]:
    """Tables parents first. In a cycle of foreign keys, the keys that point forward are made
    nullable: they are filled once every table has rows (``_close_cycles``)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(schema.tables))
    for t in schema.tables.values():
        for fk in t.foreign_keys:
            if fk.parent != t.name:
                graph.add_edge(fk.parent, t.name)
    dag = nx.condensation(graph)
    order = [n for group in nx.topological_generations(dag) for c in sorted(group)
             for n in sorted(dag.nodes[c]["members"])]
    place = {name: i for i, name in enumerate(order)}
    for t in schema.tables.values():
        for fk in t.foreign_keys:
            if fk.parent != t.name and place[fk.parent] > place[t.name]:
                fk.nullable = True
                for c in fk.columns:
                    t.column(c).not_null = False
    return order


def _later_links(schema: Schema, order: list[str]) -> list[tuple[Table, int]]:
    place = {name: i for i, name in enumerate(order)}
    return [(t, i) for t in schema.tables.values() for i, fk in enumerate(t.foreign_keys)
            if fk.parent != t.name and place[fk.parent] > place[t.name]]


def _close_cycles(schema: Schema, order: list[str], made: dict[str, list[dict[str, Any]]], seed: int) -> None:
    """Fill the foreign keys that point to a table drawn later (a cycle), now that it has rows."""
    for table, i in _later_links(schema, order):
        fk = table.foreign_keys[i]
        rng = random.Random(seeded(seed, table.name, "cycle", str(i)))
        options = [tuple(p[c] for c in fk.parent_columns) for p in made[fk.parent]]
        options = [o for o in options if None not in o]
        rng.shuffle(options)
        for row in made[table.name]:
            if not options or any(row.get(c) is not None for c in fk.columns):
                continue
            row.update(zip(fk.columns, options.pop() if fk.unique else rng.choice(options), strict=True))


def _canonical(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def state_hash(conn: sqlite3.Connection) -> str:
    """A sha256 of every table's name, columns and rows (sorted): equal data, equal hash."""
    digest = hashlib.sha256()
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
    for name in names:
        if name == META_TABLE:
            continue
        cursor = conn.execute(f"SELECT * FROM {quote(name)}")
        columns = [d[0] for d in cursor.description]
        rows = sorted(json.dumps([_canonical(v) for v in row], ensure_ascii=False) for row in cursor)
        digest.update(json.dumps([name, columns], ensure_ascii=False).encode())
        for row in rows:
            digest.update(row.encode() + b"\n")
    return digest.hexdigest()


def load_schema(conn: sqlite3.Connection) -> Schema:
    """The schema a world file holds; JanusError if the file is not a world."""
    try:
        (text,) = conn.execute(f"SELECT schema FROM {quote(META_TABLE)}").fetchone()
        return Schema.from_json(json.loads(text))
    except (sqlite3.DatabaseError, TypeError, KeyError, ValueError) as exc:
        raise JanusError("not a world file (build one with 'janus world SPEC --out FILE')") from exc


def _counts(schema: Schema) -> dict[str, int]:
    return {"primary": len(schema.tables),
            "unique": sum(len(t.uniques) for t in schema.tables.values()),
            "foreign": sum(len(t.foreign_keys) for t in schema.tables.values())}


def build_world(spec_or_path: Any, rows: int = DEFAULT_ROWS, seed: int = 0,
                out: str | Path = "world.sqlite") -> WorldSummary:
    """Build the world of a spec (a Spec, Diagram, spec folder or diagram file) into ``out``:
    ``rows`` rows per table (fewer where the keys allow fewer), drawn from ``seed``."""
    if not 1 <= rows <= MAX_ROWS:
        raise JanusError(f"rows must be between 1 and {MAX_ROWS} (got {rows})")
    diagram = load_diagram(spec_or_path)
    if not diagram.entities:
        raise JanusError(f"{diagram.path or 'the diagram'}: has no entities, so the world would have no tables")
    schema = build_schema(diagram)
    order = insert_order(schema)
    made: dict[str, list[dict[str, Any]]] = {}
    for name in order:
        made[name] = table_rows(schema.tables[name], schema, made, rows, seed)
    _close_cycles(schema, order, made, seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            digest = _write(conn, schema, order, made)
        finally:
            conn.close()
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return WorldSummary(out, seed, {n: len(made[n]) for n in order}, schema, digest, _counts(schema))


def _write(conn: sqlite3.Connection, schema: Schema, order: list[str], made: dict[str, list[dict[str, Any]]]) -> str:
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    conn.execute("PRAGMA defer_foreign_keys = ON")  # cycles: the keys are checked once, at COMMIT
    conn.execute(f"CREATE TABLE {quote(META_TABLE)} (schema TEXT NOT NULL)")
    conn.execute(f"INSERT INTO {quote(META_TABLE)} VALUES (?)", (json.dumps(schema.to_json(), ensure_ascii=False),))
    for name in order:  # every table first: SQLite refuses a row whose key names a missing table
        conn.execute(schema.tables[name].ddl())
    for name in order:
        table = schema.tables[name]
        names = [c.name for c in table.columns]
        sql = (f"INSERT INTO {quote(name)} ({', '.join(map(quote, names))}) "
               f"VALUES ({', '.join('?' * len(names))})")
        conn.executemany(sql, [tuple(row.get(c) for c in names) for row in made[name]])
    conn.execute("COMMIT")
    problems = conn.execute("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise JanusError(f"the world breaks {len(problems)} foreign key(s), first in table {problems[0][0]}")
    return state_hash(conn)
