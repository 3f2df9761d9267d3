"""Tools from a world's schema: get, search, create, update, delete per table, a lookup per link.

Per entity ``get_<entity>`` (by primary key), ``search_<entities>`` (equality on any columns,
bounded ``limit``), ``create_<entity>``, ``update_<entity>``, ``delete_<entity>``; per foreign key
``list_<children>_of_<parent>``, and for a many-to-many link both directions through the join
table. Names are ASCII snake_case of at most 64 characters; descriptions come from the diagram's
names, notes and ``%%`` details; parameters are JSON Schema from the columns (types, lengths,
choices). Every statement is parameterised: values are bound, and identifiers come only from the
schema, quoted. ``tools_for`` adds the tools plugins register and applies setup.yaml's ``tools:``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from janus_core.plan.graph import plain, plural
from janus_core.sdk.contracts import Tool
from janus_core.sdk.errors import JanusError
from janus_plugins.world.schema import JSON_TYPE, Column, ForeignKey, Schema, Table, quote

#: the most rows one call returns, unless the session asks for fewer
MAX_ROWS = 50
DEFAULT_LIMIT = 10
#: a lookup's parent table, its foreign key, the join table's other key (or None) and the table holding fk
Link = tuple[Table, ForeignKey, "ForeignKey | None", str]
MAX_NAME = 64


def tool_name(*parts: str) -> str:
    """A function name of at most 64 characters (a hash keeps long ones distinct)."""
    name = "_".join(p for p in parts if p)
    if len(name) <= MAX_NAME:
        return name
    return name[: MAX_NAME - 9] + "_" + hashlib.sha256(name.encode()).hexdigest()[:8]


def _property(col: Column, note: str = "") -> dict[str, Any]:
    prop: dict[str, Any] = {"type": JSON_TYPE.get(col.kind, "string")}
    words = plain(col.name)
    if col.comment:
        words += f": {col.comment}"
    if col.kind in ("date", "datetime", "time"):
        words += {"date": " (YYYY-MM-DD)", "datetime": " (YYYY-MM-DD HH:MM)", "time": " (HH:MM)"}[col.kind]
    prop["description"] = words + note
    if col.choices:
        prop["enum"] = list(col.choices)
    elif col.length and prop["type"] == "string":
        prop["maxLength"] = col.length
    return prop


def _out(table: Table, row: sqlite3.Row | tuple, names: list[str]) -> dict[str, Any]:
    result = {}
    for col_name, value in zip(names, row, strict=True):
        col = table.column(col_name)
        if isinstance(value, bytes):
            value = value.hex()
        elif col.kind == "bool" and value is not None:
            value = bool(value)
        result[col.param] = value
    return result


def _value(col: Column, value: Any) -> Any:
    return int(value) if col.kind == "bool" else value


class WorldTool(Tool):
    """One generated tool: an action on a table of the world."""

    def __init__(self, name: str, description: str, parameters: dict[str, Any], schema: Schema, table: Table,
                 action: str, max_rows: int = MAX_ROWS, link: Link | None = None):
        self.name, self.description, self.parameters = name, description, parameters
        self.schema, self.table, self.action, self.max_rows, self.link = schema, table, action, max_rows, link
        self.writes = action in ("create", "update", "delete")

    def _by_param(self, table: Table | None = None) -> dict[str, Column]:
        return {c.param: c for c in (table or self.table).columns}

    def _select(self, conn: sqlite3.Connection, table: Table, where: list[tuple[str, Any]], limit: int,
                source: str | None = None, joins: str = "") -> tuple[list[dict[str, Any]], bool]:
        names = [c.name for c in table.columns]
        alias = "t"
        sql = f"SELECT {', '.join(f'{alias}.{quote(n)}' for n in names)} FROM {quote(source or table.name)} AS {alias}"
        sql += joins
        params = [v for _, v in where]
        if where:
            sql += " WHERE " + " AND ".join(f"{column} IS ?" for column, _ in where)
        sql += " ORDER BY " + ", ".join(f"{alias}.{quote(c)}" for c in table.primary) + " LIMIT ?"
        rows = conn.execute(sql, [*params, min(limit, self.max_rows) + 1]).fetchall()
        more = len(rows) > min(limit, self.max_rows)
        return [_out(table, r, names) for r in rows[: min(limit, self.max_rows)]], more

    def _key(self, arguments: dict[str, Any]) -> list[tuple[str, Any]]:
        cols = [self.table.column(c) for c in self.table.primary]
        return [(f"t.{quote(c.name)}", _value(c, arguments[c.param])) for c in cols]

    def _one(self, conn: sqlite3.Connection, arguments: dict[str, Any]) -> dict[str, Any]:
        rows, _ = self._select(conn, self.table, self._key(arguments), 1)
        if not rows:
            shown = ", ".join(f"{c.param}={arguments[c.param]!r}" for c in map(self.table.column, self.table.primary))
            raise LookupError(f"no {plain(self.table.word)} with {shown}")
        return rows[0]

    def run(self, conn: sqlite3.Connection, arguments: dict[str, Any]) -> Any:
        by_param = self._by_param()
        word = self.table.word
        if self.action == "get":
            return {word: self._one(conn, arguments)}
        if self.action == "search":
            where = [(f"t.{quote(by_param[p].name)}", _value(by_param[p], v)) for p, v in arguments.items()
                     if p != "limit"]
            rows, more = self._select(conn, self.table, where, arguments.get("limit", DEFAULT_LIMIT))
            return {"results": rows, "count": len(rows), "more": more}
        if self.action == "create":
            given = [(by_param[p], v) for p, v in arguments.items()]
            cols = ", ".join(quote(c.name) for c, _ in given)
            sql = (f"INSERT INTO {quote(self.table.name)} ({cols}) VALUES ({', '.join('?' * len(given))})"
                   if given else f"INSERT INTO {quote(self.table.name)} DEFAULT VALUES")
            cursor = conn.execute(sql, [_value(c, v) for c, v in given])
            names = [c.name for c in self.table.columns]
            row = conn.execute(f"SELECT {', '.join(map(quote, names))} FROM {quote(self.table.name)} WHERE rowid = ?",
                               (cursor.lastrowid,)).fetchone()
            return {"created": _out(self.table, row, names)}
        if self.action == "update":
            self._one(conn, arguments)
            keys = set(self.table.primary)
            given = [(by_param[p], v) for p, v in arguments.items() if by_param[p].name not in keys]
            where = [(quote(c), v) for c, (_, v) in zip(self.table.primary, self._key(arguments), strict=True)]
            conn.execute(f"UPDATE {quote(self.table.name)} SET {', '.join(f'{quote(c.name)} = ?' for c, _ in given)}"
                         f" WHERE {' AND '.join(f'{k} = ?' for k, _ in where)}",
                         [*(_value(c, v) for c, v in given), *(v for _, v in where)])
            return {"updated": self._one(conn, arguments)}
        if self.action == "delete":
            row = self._one(conn, arguments)
            where = [(quote(c), v) for c, (_, v) in zip(self.table.primary, self._key(arguments), strict=True)]
            conn.execute(f"DELETE FROM {quote(self.table.name)} WHERE {' AND '.join(f'{k} = ?' for k, _ in where)}",
                         [v for _, v in where])
            return {"deleted": row}
        return self._lookup(conn, arguments)

    def _lookup(self, conn: sqlite3.Connection, arguments: dict[str, Any]) -> Any:
        """The rows of ``self.table`` linked to one row of the parent (through a join table if any)."""
        assert self.link is not None
        parent, fk, back, join = self.link
        parent_cols = [parent.column(c) for c in fk.parent_columns]
        values = [_value(c, arguments[c.param]) for c in parent_cols]
        if not conn.execute(f"SELECT 1 FROM {quote(parent.name)} WHERE "
                            + " AND ".join(f"{quote(c.name)} = ?" for c in parent_cols), values).fetchone():
            shown = ", ".join(f"{c.param}={arguments[c.param]!r}" for c in parent_cols)
            raise LookupError(f"no {plain(parent.word)} with {shown}")
        limit = arguments.get("limit", DEFAULT_LIMIT)
        if back is None:  # the children hold the key
            where = [(f"t.{quote(c)}", v) for c, v in zip(fk.columns, values, strict=True)]
            rows, more = self._select(conn, self.table, where, limit)
        else:  # through the join table: fk (join -> parent), back (join -> this table)
            on = " AND ".join(f"j.{quote(jc)} = t.{quote(tc)}" for jc, tc in zip(back.columns, back.parent_columns,
                                                                                   strict=True))
            where = [(f"j.{quote(c)}", v) for c, v in zip(fk.columns, values, strict=True)]
            rows, more = self._select(conn, self.table, where, limit, joins=f" JOIN {quote(join)} AS j ON {on}")
        return {"results": rows, "count": len(rows), "more": more}


def _limit(max_rows: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": max_rows, "default": min(DEFAULT_LIMIT, max_rows),
            "description": f"how many rows to return at most (1 to {max_rows})"}


def _schema(props: dict[str, Any], required: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False, **extra}


def _about(table: Table) -> str:
    return f" ({table.description})" if table.description else ""


def _links(schema: Schema, table: Table) -> dict[str, str]:
    """A column's note on where it points: ' (the id of a branch)'."""
    notes = {}
    for fk in table.foreign_keys:
        parent = schema.tables[fk.parent]
        for c, p in zip(fk.columns, fk.parent_columns, strict=True):
            notes[c] = f" (the {plain(p)} of a {plain(parent.word)})"
    return notes


def table_tools(schema: Schema, table: Table, max_rows: int) -> list[WorldTool]:
    """get, search, create, update and delete for one table."""
    one, many, about = plain(table.word), plural(plain(table.word)), _about(table)
    links = _links(schema, table)
    props = {c.param: _property(c, links.get(c.name, "")) for c in table.columns}
    key = [table.column(c).param for c in table.primary]
    key_words = " and ".join(plain(table.column(c).name) for c in table.primary)
    key_props = {p: props[p] for p in key}
    w = table.word
    tools = [
        WorldTool(tool_name("get", w), f"Get one {one} by its {key_words}{about}.", _schema(key_props, key),
                  schema, table, "get", max_rows),
        WorldTool(tool_name("search", plural(w)), f"Search {many} by any of their fields (exact matches, all "
                  f"must hold); returns at most 'limit' {many}{about}.",
                  _schema({**props, "limit": _limit(max_rows)}, []), schema, table, "search", max_rows),
    ]
    auto = {c.param for c in table.columns if c.auto}
    create = {p: v for p, v in props.items() if p not in auto}
    required = [c.param for c in table.columns if (c.not_null or c.primary) and c.param not in auto]
    tools.append(WorldTool(tool_name("create", w), f"Create {_a(one)}{about}; returns the new {one}"
                           + (f" with its {key_words}." if auto else "."), _schema(create, required),
                           schema, table, "create", max_rows))
    rest = {p: v for p, v in props.items() if p not in key}
    if rest:
        tools.append(WorldTool(tool_name("update", w), f"Change fields of one {one}, found by its {key_words}; "
                               f"returns the {one} as it now is.", _schema(props, key, minProperties=len(key) + 1),
                               schema, table, "update", max_rows))
    tools.append(WorldTool(tool_name("delete", w), f"Delete one {one} by its {key_words}; refused while other "
                           "records point to it.", _schema(key_props, key), schema, table, "delete", max_rows))
    return tools


def link_tools(schema: Schema, max_rows: int) -> list[WorldTool]:
    """A lookup per foreign key (the children of a parent row), both ways through join tables."""
    tools = []
    for table in schema.tables.values():
        pairs: list[tuple[Table, Table, ForeignKey, ForeignKey | None]] = []
        if table.joins:
            a, b = table.foreign_keys
            pairs += [(schema.tables[b.parent], schema.tables[a.parent], a, b),
                      (schema.tables[a.parent], schema.tables[b.parent], b, a)]
        else:
            pairs += [(table, schema.tables[fk.parent], fk, None) for fk in table.foreign_keys]
        for target, parent, fk, back in pairs:
            params = {parent.column(c).param: _property(parent.column(c)) for c in fk.parent_columns}
            name = tool_name("list", plural(target.word), "of", parent.word)
            text = (f"List the {plural(plain(target.word))} of one {plain(parent.word)} ({fk.label}); returns at "
                    f"most 'limit' of them.")
            tools.append(WorldTool(name, text, _schema({**params, "limit": _limit(max_rows)}, list(params)),
                                   schema, target, "list", max_rows, (parent, fk, back, table.name)))
    return tools


def _unique(tools: Iterable[Tool]) -> dict[str, Tool]:
    named: dict[str, Tool] = {}
    for tool in tools:
        name, n = tool.name, 2
        while name in named:
            name, n = tool_name(tool.name[: MAX_NAME - 4], str(n)), n + 1
        tool.name = name
        named[name] = tool
    return named


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def tools_for(world: Schema | str | Path, extra: Iterable[Tool] = (), spec: Any = None,
              max_rows: int = MAX_ROWS) -> list[Tool]:
    """The tools of a world (its schema, or a world file): the generated ones, then ``extra`` (the
    tools plugins register; a name replaces a generated one), then setup.yaml's ``tools:`` of
    ``spec`` applied (allow, deny, describe); a name there that matches no tool is a SpecError."""
    schema = world if isinstance(world, Schema) else _schema_of(Path(world))
    tools = [t for table in schema.tables.values() if not table.joins
             for t in table_tools(schema, table, max_rows)]
    tools += [t for table in schema.tables.values() if table.joins for t in table_tools(schema, table, max_rows)
              if t.action in ("search", "create", "delete")]
    named = _unique([*tools, *link_tools(schema, max_rows)])
    named.update({t.name: t for t in extra})
    options = spec.setup.tools if spec is not None else None
    if options is None:
        return list(named.values())
    from janus_core.spec.model import check_tool_names

    check_tool_names(spec, list(named))
    kept = [t for t in named.values() if (not options.allow or _matches(t.name, options.allow))
            and not _matches(t.name, options.deny)]
    for tool in kept:
        if tool.name in options.describe:
            tool.description = options.describe[tool.name]
    return kept


def _schema_of(path: Path) -> Schema:
    from janus_plugins.world.build import load_schema

    if not path.is_file():
        raise JanusError(f"{path}: no such world file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return load_schema(conn)
    finally:
        conn.close()


__all__ = ["MAX_ROWS", "WorldTool", "tool_name", "tools_for"]


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
