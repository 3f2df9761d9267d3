"""Rows for a world's tables: values that fit each column and respect every key.

Values come from Faker, a well-kept fake-data library, not from a model: Faker is deterministic
for a seed (the same seed gives a byte-identical world with the same Faker version), works offline
and costs nothing, and a world of hundreds of rows needs no request. A column's values follow, in
order: the choices its note lists ("day or night"), the examples an open note gives ("fiction,
history, ..."), what its name says (email, name, phone, price, date...), then its type. Every
table and column draws from its own generator, seeded from the world's seed and its name, so
adding a table leaves the other tables' values as they were.

Keys: primary keys and UNIQUE columns are drawn again (or numbered) until distinct; foreign keys
pick existing parent rows (a one-to-one link a parent not yet taken); a nullable foreign key is
sometimes empty. A row that cannot be made to fit after a few tries is left out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Callable
from typing import Any

from faker import Faker

from janus_plugins.world.schema import Column, Schema, Table, snake

_START, _END = dt.date(2020, 1, 1), dt.date(2025, 12, 31)
_TRIES = 25
#: share of nullable foreign keys left empty
EMPTY_LINKS = 0.1


def seeded(seed: int, *parts: str) -> int:
    """A stable integer seed for one table or column (Python's ``hash`` changes per process)."""
    text = "\x1f".join([str(seed), *parts]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _number(words: set[str], rng: random.Random, kind: str, note: str) -> Any:
    if words & {"age"}:
        return rng.randint(1, 95)
    if words & {"year", "born", "published"}:
        return rng.randint(1950, 2025)
    if words & {"price", "amount", "cost", "fee", "total", "salary", "balance", "payment"}:
        return round(rng.uniform(5, 500), 2) if kind == "float" else rng.randint(5, 500)
    if words & {"rating", "score", "stars"}:
        return rng.randint(1, 5)
    if words & {"quantity", "qty", "count", "renewals", "loans", "max"} or re.search(r"\b\d+\b", note):
        top = max((int(n) for n in re.findall(r"\b\d+\b", note)), default=10)
        return rng.randint(0, max(top, 1))
    if note and re.search(r"/\s*\w+|\b(ml|mg|kg|km|cm|mm|g|l|min|h|%)\b", note, re.I):
        return round(rng.uniform(0.5, 100), 1) if kind == "float" else rng.randint(1, 100)
    return round(rng.uniform(0, 1000), 2) if kind == "float" else rng.randint(1, 1000)


_TEXT: list[tuple[set[str], Callable[[Faker], str]]] = [
    ({"email", "mail"}, lambda f: f.email()),
    ({"phone", "mobile", "tel", "telephone", "fax"}, lambda f: f.phone_number()),
    ({"first"}, lambda f: f.first_name()),
    ({"last", "surname"}, lambda f: f.last_name()),
    ({"username", "login", "handle"}, lambda f: f.user_name()),
    ({"url", "website", "link", "homepage"}, lambda f: f.url()),
    ({"address", "street"}, lambda f: f.street_address()),
    ({"city", "town"}, lambda f: f.city()),
    ({"country"}, lambda f: f.country()),
    ({"zip", "postcode", "postal"}, lambda f: f.postcode()),
    ({"company", "organisation", "organization", "employer"}, lambda f: f.company()),
    ({"isbn"}, lambda f: f.isbn13(separator="")),
    ({"color", "colour"}, lambda f: f.color_name()),
    ({"password", "hash", "token", "secret"}, lambda f: f.sha256()[:32]),
    ({"title", "subject", "headline"}, lambda f: f.sentence(nb_words=4).rstrip(".")),
    ({"description", "notes", "note", "comment", "reason", "summary", "body", "text", "content", "bio"},
     lambda f: f.sentence(nb_words=8)),
    ({"name"}, lambda f: f.name()),
    ({"code", "number", "mark", "ref", "sku", "card"}, lambda f: f.bothify("??-####").upper()),
]


def draw(col: Column, fake: Faker, rng: random.Random) -> Any:
    """One value for ``col`` (before the keys are checked)."""
    words = set(snake(col.name).split("_"))
    note = col.comment
    if col.choices:
        return rng.choice(col.choices)
    if col.kind == "bool":
        return rng.randint(0, 1)
    if col.kind in ("int", "float"):
        return _number(words, rng, col.kind, note)
    if col.kind == "date":
        return fake.date_between_dates(_START, _END).isoformat()
    if col.kind == "datetime":
        start = dt.datetime.combine(_START, dt.time(8))
        moment = fake.date_time_between_dates(start, dt.datetime.combine(_END, dt.time(18)))
        return moment.replace(second=0, microsecond=0).isoformat(sep=" ")
    if col.kind == "time":
        return f"{rng.randint(8, 18):02d}:{rng.choice((0, 15, 30, 45)):02d}"
    if col.kind == "uuid":
        return str(fake.uuid4())
    if col.kind == "blob":
        return bytes(rng.getrandbits(8) for _ in range(8))
    if col.kind == "json":
        return '{"' + fake.word() + '": ' + str(rng.randint(1, 99)) + "}"
    if col.examples:
        value = rng.choice(col.examples)
    else:
        make = next((m for keys, m in _TEXT if words & keys), None)
        value = make(fake) if make else fake.word() if col.length and col.length < 12 else fake.sentence(nb_words=3)
    return value[: col.length] if col.length else value


def _distinct(col: Column, value: Any, seen: set, n: int) -> Any:
    """``value``, or a numbered variant of it when a UNIQUE column already holds it."""
    if value not in seen:
        return value
    if col.kind in ("int", "float"):
        return max((v for v in seen if isinstance(v, int | float)), default=0) + 1
    if col.choices or col.kind in ("date", "datetime", "time", "bool", "blob"):
        return value  # a duplicate: the row is drawn again, or left out when the choices run out
    suffix = f"-{n}"
    text = str(value)
    if col.length:
        text = text[: max(col.length - len(suffix), 0)]
    return (text + suffix)[-col.length:] if col.length else text + suffix


def table_rows(table: Table, schema: Schema, made: dict[str, list[dict[str, Any]]], count: int,
               seed: int) -> list[dict[str, Any]]:
    """``count`` rows for ``table`` (fewer where its keys allow fewer); ``made`` holds the rows of the
    tables drawn before, which its foreign keys point at (its own rows for a self-reference)."""
    fakes: dict[str, tuple[Faker, random.Random]] = {}
    for col in table.columns:
        fake = Faker()
        fake.seed_instance(seeded(seed, table.name, col.name))
        fakes[col.name] = (fake, random.Random(seeded(seed, table.name, col.name, "rng")))
    link_rng = random.Random(seeded(seed, table.name, "links"))
    fk_cols = {c for fk in table.foreign_keys for c in fk.columns}
    uniques = [table.primary, *table.uniques]
    seen: dict[tuple[str, ...], set] = {u: set() for u in uniques}
    single = {u[0]: set() for u in uniques if len(u) == 1}
    taken: dict[int, set] = {i: set() for i, fk in enumerate(table.foreign_keys) if fk.unique}
    rows: list[dict[str, Any]] = []
    for n in range(count):
        if table.primary and table.column(table.primary[0]).auto and len(table.primary) == 1:
            auto: dict[str, Any] = {table.primary[0]: n + 1}
        else:
            auto = {}
        for _ in range(_TRIES):
            row = dict(auto)
            if not _link(table, schema, made, rows, row, link_rng, taken):
                continue
            for col in table.columns:
                if col.name in row or col.name in fk_cols:
                    continue
                fake, rng = fakes[col.name]
                value = draw(col, fake, rng)
                if col.name in single:
                    value = _distinct(col, value, single[col.name], n + 1)
                row[col.name] = value
            keys = {u: tuple(row.get(c) for c in u) for u in uniques}
            if all((None in k and u != table.primary) or k not in seen[u] for u, k in keys.items()):
                for u, k in keys.items():
                    seen[u].add(k)
                    if len(u) == 1:
                        single[u[0]].add(k[0])
                for i in taken:
                    taken[i].add(tuple(row[c] for c in table.foreign_keys[i].columns))
                rows.append(row)
                break
    return rows


def _link(table: Table, schema: Schema, made: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]],
          row: dict[str, Any], rng: random.Random, taken: dict[int, set]) -> bool:
    """Fill ``row``'s foreign keys with existing parent keys; False if one cannot be filled."""
    for i, fk in enumerate(table.foreign_keys):
        parents = rows if fk.parent == table.name else made.get(fk.parent, [])
        options = [tuple(p[c] for c in fk.parent_columns) for p in parents]
        options = [o for o in options if None not in o and all(
            row.get(c, v) == v for c, v in zip(fk.columns, o, strict=True))]
        if i in taken:
            options = [o for o in options if o not in taken[i]]
        empty = fk.nullable and all(row.get(c) is None for c in fk.columns)
        if empty and (not options or rng.random() < EMPTY_LINKS):
            row.update(dict.fromkeys(fk.columns))
            continue
        if not options:
            return False
        row.update(zip(fk.columns, rng.choice(options), strict=True))
    return True
