"""A conversation's private copy of a world, and the tool calls run on it.

``ToolSession(world_path)`` copies the world file into memory (SQLite's backup API), so a
conversation's writes never reach the file or another conversation. ``call(name, arguments)``
checks the arguments against the tool's JSON Schema, runs the tool inside a savepoint (a failed
call changes nothing) within a time budget (a progress handler interrupts a long statement) and
returns JSON text: the result, or ``{"error": {"type": ..., "message": ...}}`` as a real API would
answer a bad call. It never raises for a bad call.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonschema

from janus_core.sdk.contracts import Tool
from janus_core.sdk.errors import JanusError, did_you_mean
from janus_plugins.world.build import load_schema, state_hash
from janus_plugins.world.tools import MAX_ROWS, tools_for

#: seconds one call may run, and the most characters its result may hold
TIME_BUDGET = 2.0
MAX_RESULT_CHARS = 64_000


def error(kind: str, message: str) -> str:
    """An error result: ``{"error": {"type": kind, "message": message}}`` as JSON text."""
    return json.dumps({"error": {"type": kind, "message": message}}, ensure_ascii=False)


class ToolSession:
    """Tools on a private in-memory copy of a world file (see the module docstring)."""

    def __init__(self, world: str | Path, tools: Sequence[Tool] | None = None, *, max_rows: int = MAX_ROWS,
                 time_budget: float = TIME_BUDGET):
        path = Path(world)
        if not path.is_file():
            raise JanusError(f"{path}: no such world file (build one with 'janus world SPEC --out FILE')")
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        try:
            source.backup(self.conn)
        finally:
            source.close()
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.schema = load_schema(self.conn)
        self.max_rows, self.time_budget = max_rows, time_budget
        chosen = tools if tools is not None else tools_for(self.schema, max_rows=max_rows)
        self.tools: dict[str, Tool] = {t.name: t for t in chosen}
        #: every call so far: (name, arguments, result text)
        self.calls: list[tuple[str, Any, str]] = []

    def definitions(self) -> list[dict[str, Any]]:
        """The tools as OpenAI function definitions (the ``tools=`` of a chat request)."""
        return [t.definition() for t in self.tools.values()]

    def call(self, name: str, arguments: dict[str, Any] | str | None) -> str:
        """Run one tool call; JSON text of its result or of an error. Never raises for a bad call."""
        result = self._call(name, arguments)
        self.calls.append((name, arguments, result))
        return result

    def _call(self, name: str, arguments: dict[str, Any] | str | None) -> str:
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return error("unknown_tool", f"no tool named {name!r}.{did_you_mean(str(name), self.tools)}")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError as exc:
                return error("invalid_arguments", f"arguments are not valid JSON: {exc}")
        arguments = {} if arguments is None else arguments
        if not isinstance(arguments, dict):
            return error("invalid_arguments", "arguments must be a JSON object")
        try:
            jsonschema.validate(arguments, tool.parameters)
        except jsonschema.ValidationError as exc:
            where = "/".join(map(str, exc.absolute_path))
            return error("invalid_arguments", f"{where + ': ' if where else ''}{exc.message}")
        deadline = time.monotonic() + self.time_budget
        self.conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
        self.conn.execute("SAVEPOINT tool_call")
        try:
            value = tool.run(self.conn, dict(arguments))
            text = json.dumps(value, ensure_ascii=False, default=str)
        except LookupError as exc:
            return self._undo("not_found", str(exc).strip("'\""))
        except ValueError as exc:
            return self._undo("refused", str(exc))
        except sqlite3.IntegrityError as exc:
            return self._undo("constraint_violation", str(exc))
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                return self._undo("timeout", f"the call ran past its {self.time_budget:g} s budget")
            return self._undo("database_error", str(exc))
        except sqlite3.Error as exc:
            return self._undo("database_error", str(exc))
        except Exception as exc:  # a plugin tool's own failure is the call's result, not the run's
            return self._undo("tool_failed", f"{type(exc).__name__}: {exc}")
        finally:
            self.conn.set_progress_handler(None, 0)
        if len(text) > MAX_RESULT_CHARS:
            return self._undo("result_too_large", f"the result holds {len(text)} characters (at most "
                              f"{MAX_RESULT_CHARS}); ask for fewer rows")
        self.conn.execute("RELEASE tool_call")
        return text

    def _undo(self, kind: str, message: str) -> str:
        self.conn.execute("ROLLBACK TO tool_call")
        self.conn.execute("RELEASE tool_call")
        return error(kind, message)

    def state_hash(self) -> str:
        """The canonical hash of this session's world as it now is (``build.state_hash``)."""
        return state_hash(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ToolSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
