"""A diagram as SQLite tables: typed columns, primary, unique and foreign keys, join tables.

One table per entity (an integer ``id`` primary key is added where an entity has none); a
one-to-many or one-to-one relationship puts a foreign key on the "many" (or dependent) side,
reusing the attribute the diagram names (the SQL reader knows it; in Mermaid, an ``FK`` attribute
named after the parent), else adding a column ``<parent>_<key>``; a many-to-many relationship
becomes a join table. Identifiers are quoted (entity names are data, not code), and each table and
column also gets an ASCII snake_case name for tools and JSON parameters.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from janus_core.plan.graph import plain, plural
from janus_core.spec.diagram import Attribute, Diagram, Entity, Relationship

MANY = ("zero-or-more", "one-or-more")
#: the table in every world file that holds its schema (so a world needs no spec to be used)
META_TABLE = "__janus_world__"
#: SQLite's STRICT tables (3.37) refuse a value of the wrong type
STRICT = sqlite3.sqlite_version_info >= (3, 37)

_KINDS = [  # (pattern on the lower-case type, kind); first match wins
    (r"bool|^bit\b", "bool"),
    (r"serial|identity|int|^long|counter", "int"),
    (r"^number\(\d+\)$|^number\(\d+,0\)$", "int"),
    (r"float|double|real|numeric|decimal|money|^number", "float"),
    (r"datetime|timestamp", "datetime"),
    (r"^date", "date"),
    (r"^time", "time"),
    (r"uuid|uniqueidentifier|guid", "uuid"),
    (r"blob|bytea|binary|image|^raw", "blob"),
    (r"json", "json"),
]
AFFINITY = {"int": "INTEGER", "bool": "INTEGER", "float": "REAL", "blob": "BLOB"}
JSON_TYPE = {"int": "integer", "bool": "boolean", "float": "number"}


def kind_of(type_name: str) -> str:
    """An attribute type ('varchar(80)', 'int', 'datetime') as one of the kinds values are drawn for."""
    low = type_name.lower().strip()
    return next((kind for pattern, kind in _KINDS if re.search(pattern, low)), "text")


def length_of(type_name: str) -> int | None:
    """The length of a ``char(n)``/``varchar(n)`` type, else None."""
    found = re.search(r"char\w*\((\d+)\)", type_name.lower())
    return int(found.group(1)) if found and int(found.group(1)) > 0 else None


def quote(name: str) -> str:
    """An SQL identifier, quoted: any text is safe inside (a NUL is refused by SQLite itself)."""
    return '"' + name.replace('"', '""') + '"'


def snake(name: str, fallback: str = "item") -> str:
    """An ASCII snake_case word for tool and parameter names: 'HomeVisit' -> 'home_visit'."""
    ascii_name = unicodedata.normalize("NFKD", plain(name)).encode("ascii", "ignore").decode()
    word = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    return word or fallback


def choices_of(note: str | None) -> tuple[str, ...]:
    """The values a note lists ("day or night", "booked, moved or cancelled"), or () for other notes.

    A list ending in "..." or "etc" is open: its items are examples, not choices."""
    if not note or re.search(r"\.\.\.|…|\betc\b", note) or len(note) > 120:
        return ()
    items = [i.strip(" .;'\"") for i in re.split(r",|\bor\b|\|", note)]
    items = [i for i in items if i]
    if not 2 <= len(items) <= 12 or any(len(i) > 30 or len(i.split()) > 3 for i in items):
        return ()
    return tuple(dict.fromkeys(items))


def examples_of(note: str | None) -> tuple[str, ...]:
    """Examples an open list gives ("fiction, history, children, ..."): values to draw from."""
    if not note or not re.search(r"\.\.\.|…|\betc\b", note):
        return ()
    cut = re.sub(r"\.\.\.|…|\betc\.?", "", note)
    return choices_of(cut) or tuple(i.strip() for i in cut.split(",") if 0 < len(i.strip()) <= 30)


@dataclass
class Column:
    name: str
    param: str
    kind: str
    type: str = ""
    comment: str = ""
    length: int | None = None
    primary: bool = False
    unique: bool = False
    not_null: bool = False
    #: an INTEGER PRIMARY KEY SQLite numbers itself (a create call may leave it out)
    auto: bool = False
    choices: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()

    @property
    def affinity(self) -> str:
        return AFFINITY.get(self.kind, "TEXT")


@dataclass
class ForeignKey:
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    nullable: bool = False
    unique: bool = False
    #: the relationship in plain words ("loan is made to member"), for tool descriptions
    label: str = ""


@dataclass
class Table:
    name: str
    word: str
    entity: str | None
    description: str = ""
    columns: list[Column] = field(default_factory=list)
    primary: tuple[str, ...] = ()
    uniques: list[tuple[str, ...]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    #: a join table's two entities (a many-to-many relationship)
    joins: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def ddl(self) -> str:
        parts = []
        for c in self.columns:
            text = f"{quote(c.name)} {c.affinity}"
            if c.not_null or c.primary:
                text += " NOT NULL"
            parts.append(text)
        parts.append(f"PRIMARY KEY ({', '.join(map(quote, self.primary))})")
        parts += [f"UNIQUE ({', '.join(map(quote, u))})" for u in self.uniques]
        for fk in self.foreign_keys:
            parts.append(f"FOREIGN KEY ({', '.join(map(quote, fk.columns))}) REFERENCES {quote(fk.parent)} "
                         f"({', '.join(map(quote, fk.parent_columns))})")
        body = ",\n    ".join(parts)
        return f"CREATE TABLE {quote(self.name)} (\n    {body}\n){' STRICT' if STRICT else ''}"


@dataclass
class Schema:
    tables: dict[str, Table] = field(default_factory=dict)
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schema:
        tables = {}
        for name, t in data["tables"].items():
            cols = [Column(**{**c, "choices": tuple(c["choices"]), "examples": tuple(c["examples"])})
                    for c in t["columns"]]
            fks = [ForeignKey(tuple(f["columns"]), f["parent"], tuple(f["parent_columns"]), f["nullable"], f["unique"],
                              f["label"]) for f in t["foreign_keys"]]
            tables[name] = Table(t["name"], t["word"], t["entity"], t["description"], cols, tuple(t["primary"]),
                                 [tuple(u) for u in t["uniques"]], fks, tuple(t["joins"]))
        return cls(tables, data.get("title", ""))


class _Names:
    """Names unique case-insensitively (as SQLite compares identifiers), with a suffix when taken."""

    def __init__(self, taken: tuple[str, ...] = ()):
        self.seen = {n.lower() for n in taken}

    def take(self, name: str) -> str:
        candidate, n = name, 2
        while candidate.lower() in self.seen or candidate.lower().startswith("sqlite_"):
            candidate, n = f"{name}_{n}", n + 1
        self.seen.add(candidate.lower())
        return candidate


def _description(entity: Entity) -> str:
    bits = [*entity.notes, *(f"{k}: {v}" for k, v in entity.details.items())]
    return "; ".join(bits)


def _column(attr: Attribute, name: str, param: str, details: dict[str, str]) -> Column:
    kind = kind_of(attr.type)
    note = attr.comment or next((v for k, v in details.items() if snake(k) == snake(attr.name)), None)
    col = Column(name, param, kind, attr.type, attr.comment or "", length_of(attr.type),
                 primary="PK" in attr.keys, unique="UK" in attr.keys and "PK" not in attr.keys)
    if kind == "text":
        col.choices, col.examples = choices_of(note), examples_of(note)
    return col


def _child_and_parent(r: Relationship) -> tuple[str, str, bool, bool] | None:
    """(child, parent, nullable, unique) of a relationship held by a foreign key; None for many-to-many.

    The child is the side of which there may be many; of two "one" sides, the one written left when
    the reader knows the columns (SQL), else the optional one, else the right one (Mermaid writes
    the parent first)."""
    left_many, right_many = r.left_cardinality in MANY, r.right_cardinality in MANY
    if left_many and right_many:
        return None
    if left_many or right_many:
        child, parent = (r.left, r.right) if left_many else (r.right, r.left)
        toward_parent = r.right_cardinality if left_many else r.left_cardinality
        return child, parent, toward_parent != "exactly-one", False
    if r.columns[0] or (r.right_cardinality == "exactly-one" and r.left_cardinality != "exactly-one"):
        child, parent, toward_parent = r.left, r.right, r.right_cardinality
    else:
        child, parent, toward_parent = r.right, r.left, r.left_cardinality
    return child, parent, toward_parent != "exactly-one", True


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _reuse(fk_names: set[str], attrs: dict[str, Column], parent: Table, key: Column, used: set[str],
           r: Relationship, parent_name: str) -> Column | None:
    """The child's existing column that holds this key of the parent, if the diagram names one."""
    if r.columns[0]:
        wanted = dict(zip(r.columns[1], r.columns[0], strict=False)).get(key.name)
        if wanted is None and len(r.columns[0]) == len(parent.primary):
            wanted = r.columns[0][parent.primary.index(key.name)]
        found = attrs.get((wanted or "").lower())
        return found if found is not None and found.name not in used else None
    stems = {_squash(parent_name), _squash(parent.word), _squash(plural(parent.word))}
    free = [c for n, c in attrs.items() if c.name not in used and n in fk_names]
    for c in free:
        name = _squash(c.name)
        if any(name in (s + _squash(key.name), s + "id", s) for s in stems):
            return c
    for c in free:
        if any(s and s in _squash(c.name) for s in stems):
            return c
    return None


def build_schema(diagram: Diagram) -> Schema:
    """The tables of a diagram's world (see the module docstring)."""
    schema = Schema(title=diagram.title or "")
    names = _Names((META_TABLE,))
    words = _Names()
    by_entity: dict[str, Table] = {}
    naming: dict[str, tuple[_Names, _Names, set[str]]] = {}
    for entity in diagram.entities.values():
        table = Table(names.take(entity.name), words.take(snake(entity.label, "table")), entity.name,
                      _description(entity))
        cols, params = _Names(), _Names(("limit",))
        for attr in entity.attributes:
            table.columns.append(_column(attr, cols.take(attr.name), params.take(snake(attr.name, "value")),
                                         entity.details))
        table.primary = tuple(c.name for c in table.columns if c.primary)
        if not table.primary:
            key = Column(cols.take("id"), params.take("id"), "int", "int", "", primary=True, auto=True)
            table.columns.insert(0, key)
            table.primary = (key.name,)
        elif len(table.primary) == 1 and table.column(table.primary[0]).kind == "int":
            table.column(table.primary[0]).auto = True
        table.uniques = [(c.name,) for c in table.columns if c.unique]
        naming[table.name] = (cols, params, {a.name.lower() for a in entity.attributes if "FK" in a.keys})
        schema.tables[table.name] = table
        by_entity[entity.name] = table
    for r in diagram.relationships:
        if r.left not in by_entity or r.right not in by_entity:
            continue
        held = _child_and_parent(r)
        if held is None:
            _join_table(schema, names, words, by_entity, r)
            continue
        child_name, parent_name, nullable, unique = held
        nullable = nullable or child_name == parent_name  # a self-reference: the first row points nowhere
        child, parent = by_entity[child_name], by_entity[parent_name]
        attrs = {c.name.lower(): c for c in child.columns}
        used = {c for fk in child.foreign_keys for c in fk.columns}
        keys = [parent.column(k) for k in parent.primary]
        if r.columns[1] and all(any(c.name == n for c in parent.columns) for n in r.columns[1]):
            keys = [parent.column(n) for n in r.columns[1]]
        referenced = tuple(k.name for k in keys)
        if referenced != parent.primary and referenced not in parent.uniques:
            parent.uniques.append(referenced)  # SQLite's foreign keys point at a primary or unique key
        mine = []
        for key in keys:
            cols, params, fk_names = naming[child.name]
            col = _reuse(fk_names, attrs, parent, key, used, r, parent_name)
            if col is None:
                base = f"{snake(parent.word)}_{key.name}" if parent is not child else f"parent_{key.name}"
                col = Column(cols.take(base), params.take(snake(base)), key.kind, key.type, "")
                child.columns.append(col)
            col.kind, col.length, col.choices, col.examples = key.kind, key.length, key.choices, key.examples
            col.auto = False
            col.not_null = col.not_null or not nullable
            used.add(col.name)
            mine.append(col.name)
        verb = r.label or "is related to"
        words_ = f"{plain(r.left)} {verb} {plain(r.right)}"
        child.foreign_keys.append(ForeignKey(tuple(mine), parent.name, tuple(k.name for k in keys), nullable,
                                             unique, words_))
        if unique and tuple(mine) != child.primary and tuple(mine) not in child.uniques:
            child.uniques.append(tuple(mine))
    return schema


def _join_table(schema: Schema, names: _Names, words: _Names, by_entity: dict[str, Table], r: Relationship) -> None:
    a, b = by_entity[r.left], by_entity[r.right]
    name = r.details.get("Join table") or f"{a.name}_{b.name}"
    table = Table(names.take(name), words.take(snake(name, "link")), None,
                  "; ".join([f"which {plain(r.left)} {r.label or 'is linked to'} which {plain(r.right)}", *r.notes]),
                  joins=(a.name, b.name))
    cols, params = _Names(), _Names(("limit",))
    for parent in (a, b):
        mine = []
        for k in parent.primary:
            key = parent.column(k)
            col = Column(cols.take(f"{parent.word}_{key.name}"), params.take(snake(f"{parent.word}_{key.name}")),
                         key.kind, key.type, "", key.length, primary=True, not_null=True, choices=key.choices)
            table.columns.append(col)
            mine.append(col.name)
        table.foreign_keys.append(ForeignKey(tuple(mine), parent.name, parent.primary, False, False,
                                             f"{plain(r.left)} {r.label or 'is linked to'} {plain(r.right)}"))
    table.primary = tuple(c.name for c in table.columns)
    schema.tables[table.name] = table
