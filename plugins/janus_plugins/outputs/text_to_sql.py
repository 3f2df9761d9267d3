"""Output type 'text-to-sql': a question about the spec's world and the SQL that answers it, executed.

``prepare`` builds the run's world (``janus_plugins.world.run_world``: the diagram as an SQLite
database, rows drawn from ``--seed``). Each job's walk picks the tables its entities make (and the
join tables between them); the model sees their CREATE TABLE text with the diagram's ``%%`` notes as
comments, a few rows of each, and writes a question the spec's user role would ask and the SQLite
query that answers it (JSON: ``{"question", "sql"}``). Evolutions (``sql-join``, ``sql-aggregate``,
``sql-filter`` or any other derivational direction) write a harder question on the same tables.

``finish`` runs the query on the world, read-only and bounded (``janus_plugins.world.query``), and
keeps the record only when every check passes; each failure is eliminated under its own rule:

- ``sql-read-only``: the SQL is one SELECT (or WITH ... SELECT) statement; another statement (a
  DELETE, two statements, a PRAGMA) is refused before it runs, and the world could not change anyway;
- ``sql-runs``: it is SQL and runs on the world (no SQL error, within 2 s and 10,000 rows);
- ``sql-answers``: the result's shape fits the question (``shape_problem``);
- ``sql-judge`` (only when the run enables the ``judge`` filter): the judge, shown the question,
  the SQL and the result, grades 1 to 5 whether the result answers the question; below 3 fails.

The record: system (the schema), user (the question), assistant (the SQL as plain text, not in a code
fence: text-to-SQL training sets such as Spider, BIRD and the SQL-create-context sets hold the bare
query, which an execution check runs as it is); ``meta`` holds the schema, question, SQL, the result
(columns, first 10 rows, row count) and its checks (``checks``: rule -> passed, up to the first that
failed; read by ``janus stats``).
"""

from __future__ import annotations

import random
import re
import sqlite3
from pathlib import Path
from typing import Any

from janus_core.sdk.contracts import Direction, Limits, Message, NoRecord, OutputType

from . import _text

#: rows of each table the model is shown, and the most characters a shown value keeps
SAMPLE_ROWS = 3
SHOWN_CHARS = 40
#: the judge's lowest passing grade (1 to 5)
JUDGE_PASS = 3
CHECKS = ("sql-read-only", "sql-runs", "sql-answers", "sql-judge")

OPENING = "You are a text-to-SQL assistant. Answer each question with one SQLite query on this database."

SQL_DIRECTIONS = (
    Direction(name="sql-join", pack="text-to-sql",
              description="A harder question that needs a join across two or more of the tables.",
              instructions=("Ask a harder question whose answer needs rows from two or more tables joined on "
                            "their keys.",)),
    Direction(name="sql-aggregate", pack="text-to-sql",
              description="A harder question that needs an aggregate (count, sum, average, max, min), maybe grouped.",
              instructions=("Ask a harder question whose answer needs an aggregate (COUNT, SUM, AVG, MAX or MIN), "
                            "grouped where it makes sense.",)),
    Direction(name="sql-filter", pack="text-to-sql",
              description="A harder question with more conditions: filters on several columns, ranges, ordering.",
              instructions=("Ask a harder question with more conditions: filters on several columns, a range of "
                            "values or dates, an ordering or a top-N.",)),
)

# --- the shape heuristic ------------------------------------------------------------------------

_COUNT = re.compile(r"\bhow many\b|\bcount\b|\bnumber of\b", re.I)
_AGGREGATE = re.compile(r"\baverage\b|\bmean\b|\bsum of\b|\btotal (?:amount|cost|number|value)\b|\bhow much\b",
                        re.I)
_GROUPED = re.compile(r"\b(?:per|each|every|by)\b", re.I)
_YES_NO = re.compile(r"^\s*(?:is|are|was|were|does|do|did|has|have|had|can)\b|\bany\b|\bwhether\b", re.I)


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and re.fullmatch(r"\s*-?\d+(?:\.\d+)?\s*", value) is not None


def shape_problem(question: str, result: dict[str, Any]) -> str | None:
    """Why a result's shape cannot answer ``question``, or None when it can. The heuristic:

    - an empty result answers only a yes/no question ("Are there ...", "any", "whether");
    - a result whose every cell is NULL answers nothing;
    - a count or an aggregate ("how many", "count", "number of", "average", "sum of", "how much") is
      one row holding one number, unless the question groups ("per", "each", "every", "by"): then
      every row holds a number;
    - any other question ("which", "list", "show", ...) needs at least one row (the first rule).
    """
    rows, count = result["rows"], result["row_count"]
    if count == 0:
        return None if _YES_NO.search(question) else "the query gives no rows, and the question expects some"
    if all(v is None for row in rows for v in row):
        return "every value the query gives is NULL"
    if _COUNT.search(question) or _AGGREGATE.search(question):
        kind = "a count" if _COUNT.search(question) else "an aggregate"
        if _GROUPED.search(question):
            if not all(any(_numeric(v) for v in row) for row in rows):
                return f"the question asks for {kind} per group, but a row of the result holds no number"
            return None
        if count != 1 or len(result["columns"]) != 1 or not _numeric(rows[0][0]):
            return (f"the question asks for {kind}, which is one number, but the result has {count} row(s) and "
                    f"{len(result['columns'])} column(s)")
    return None


# --- the schema the model and the record see ----------------------------------------------------

def _ddl(table: Any) -> str:
    """CREATE TABLE text with the diagram's notes as comments (the table's above it, each column's after it)."""
    lines = [f"-- {table.description}"] if table.description else []
    ddl = table.ddl()
    for col in table.columns:
        if col.comment:
            head = f'    "{col.name.replace(chr(34), chr(34) * 2)}" {col.affinity}'
            ddl = re.sub(rf"^({re.escape(head)}[^\n]*?),?$",
                         lambda m, c=col: m.group(0) + " -- " + " ".join(c.comment.split()), ddl, count=1, flags=re.M)
    return "\n".join([*lines, ddl]) + ";"


def _shown(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


class TextToSql(OutputType):
    name = "text-to-sql"
    description = "a question about the spec's world (a SQLite database from the diagram) and its SQL, executed"
    #: the run's world file and its schema (set by ``prepare``)
    world: Path | None = None
    #: whether the run enables the judge filter (then the judge grades each result too)
    judging = False

    def __init__(self) -> None:
        self._schema: Any = None

    def prepare(self, spec: Any, seed: int) -> None:
        from janus_plugins.world import load_schema, run_world

        self.world = run_world(spec, seed)
        conn = sqlite3.connect(f"file:{self.world}?mode=ro", uri=True)
        try:
            self._schema = load_schema(conn)
        finally:
            conn.close()
        setup = spec.setup
        self.judging = "judge" in (setup.filters or []) or "judge" in (setup.filter_options or {})

    # --- the request ----------------------------------------------------------------------------

    def tables(self, entities: tuple[str, ...] | list[str]) -> list[Any]:
        """The world's tables a walk's entities make, with the join tables between them (every table
        when the walk names none of them)."""
        tables = self._schema.tables.values()
        names = set(entities)
        chosen = [t for t in tables if t.entity in names]
        entity_of = {t.name: t.entity for t in tables}
        chosen += [t for t in tables if t.joins and all(entity_of.get(j) in names for j in t.joins)]
        return chosen or list(tables)

    def _samples(self, tables: list[Any]) -> str:
        from janus_plugins.world.schema import quote

        blocks = []
        conn = sqlite3.connect(f"file:{self.world}?mode=ro", uri=True)
        try:
            for t in tables:
                cursor = conn.execute(f"SELECT * FROM {quote(t.name)} LIMIT {SAMPLE_ROWS}")
                head = " | ".join(d[0] for d in cursor.description)
                rows = [" | ".join(_shown(v) for v in row) for row in cursor]
                blocks.append("\n".join([f"{t.name}:", head, *rows]))
        finally:
            conn.close()
        return "\n\n".join(blocks)

    def sample_for(self, context: Any, rng: random.Random, parent_meta: dict[str, Any] | None) -> dict[str, Any]:
        if self._schema is None:
            raise RuntimeError("text-to-sql: prepare(spec, seed) was not called")
        if parent_meta and parent_meta.get("schema"):  # an evolution asks about the same tables
            names = parent_meta.get("tables") or []
            tables = [self._schema.tables[n] for n in names if n in self._schema.tables] or self.tables(())
        else:
            tables = self.tables(context.entities)
        schema = "\n\n".join(_ddl(t) for t in tables)
        prompt = (f"The database is the SQLite one the system message shows. A few rows of its tables:\n"
                  f"{self._samples(tables)}\n\nAsk only what these tables can answer, with values that occur in "
                  "them; in the query, refer to tables and columns by the names the schema gives, quoted as shown.")
        return {"system": f"{OPENING}\n\n{schema}", "opening": OPENING, "brief": prompt,
                "meta": {"schema": schema, "tables": [t.name for t in tables]}}

    def schema(self, limits: Limits) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": False, "required": ["question", "sql"],
                "properties": {"question": _text(limits), "sql": _text(limits)}}

    def output_format(self, limits: Limits, derive: bool) -> str:
        task = ("Write a new, harder question in the direction given (on the same tables), and the SQLite query "
                "that answers it." if derive else
                "Write one natural question the user would ask the assistant, answerable from the database "
                "below, and the SQLite query that answers it.")
        return (f"{task} The question is in the user's own words, without SQL or table names; the query is a "
                f"single SELECT statement (WITH allowed), read-only. Each is at most {limits.message_chars} "
                'characters. Answer with JSON only, in the form {"question": "...", "sql": "..."}.')

    def parse(self, data: Any) -> list[Message]:
        from janus_plugins.world.query import strip_sql

        if not isinstance(data, dict):
            raise ValueError('the reply must be a JSON object {"question": "...", "sql": "..."}')
        question, sql = data.get("question"), data.get("sql")
        for key, value in (("question", question), ("sql", sql)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{key}: a non-empty string is required")
        return [{"role": "user", "content": question.strip()}, {"role": "assistant", "content": strip_sql(sql)}]

    def derive(self, parent: list[Message], new: list[Message]) -> list[Message]:
        return [m for m in parent if m["role"] == "system"] + new

    # --- the checks -----------------------------------------------------------------------------

    async def finish(self, record: Any, ask: Any, rng: random.Random) -> Any:
        from janus_plugins.world.query import QueryRefused, run_query

        question = next(m["content"] for m in record.messages if m["role"] == "user")
        sql = record.messages[-1]["content"]
        meta = record.meta
        checks: dict[str, bool] = {}
        meta.update({"question": question, "sql": sql, "checks": checks})
        try:
            result = run_query(self.world, sql).to_json()
        except QueryRefused as exc:
            raise _failed(checks, "sql-read-only", str(exc)) from None
        except ValueError as exc:
            checks["sql-read-only"] = True
            raise _failed(checks, "sql-runs", str(exc)) from None
        checks.update({"sql-read-only": True, "sql-runs": True})
        meta["result"] = result
        problem = shape_problem(question, result)
        if problem:
            raise _failed(checks, "sql-answers", problem)
        checks["sql-answers"] = True
        if self.judging:
            await self._judge(meta, ask)
        return record

    async def _judge(self, meta: dict[str, Any], ask: Any) -> None:
        import json

        from janus_plugins.filters.judge import REPLY_SCHEMA, parse_judgement

        shown = json.dumps(meta["result"], ensure_ascii=False, default=str)[:3000]
        prompt = (f"A user asked a question about a database; a SQL query was run to answer it.\n\nThe tables:\n"
                  f"{meta['schema']}\n\nThe question: {meta['question']}\n\nThe SQL:\n{meta['sql']}\n\nThe result "
                  f"(columns, first rows, row count): {shown}\n\nDoes this result answer the question, correctly and "
                  "completely? Grade from 1 (it does not) to 5 (exactly). Answer with JSON only: "
                  '{"feedback": "...", "score": N}')
        reply = await ask([{"role": "user", "content": prompt}], REPLY_SCHEMA, raw=True)
        try:
            score, feedback = parse_judgement(reply)
        except ValueError as exc:
            meta["sql_judge"] = {"score": None, "feedback": str(exc)}
            raise _failed(meta["checks"], "sql-judge", f"the judge gave no usable grade: {exc}") from None
        meta["sql_judge"] = {"score": score, "feedback": feedback[:1000]}
        if score < JUDGE_PASS:
            raise _failed(meta["checks"], "sql-judge", f"the judge graded the result {score:g} of 5: {feedback[:200]}")
        meta["checks"]["sql-judge"] = True


def _failed(checks: dict[str, bool], rule: str, message: str) -> NoRecord:
    """The elimination for ``rule``, noted in the record's checks (rule -> passed) for ``janus stats``."""
    checks[rule] = False
    return NoRecord(message, rule=rule)
