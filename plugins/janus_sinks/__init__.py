"""Built-in sinks: JSONL, written and flushed as records finish."""

from __future__ import annotations

from typing import IO

from janus_core import hookimpl
from janus_core.interfaces import Sink


class JsonlSink(Sink):
    """One JSON object per line, flushed as records finish.

    Durability is the journal's job (every record is committed there first and the file is
    rebuilt from it on the next run), so writes are flushed to the OS but not fsynced.
    """

    name = "jsonl"
    description = "JSON Lines: one record per line (messages plus provenance)"
    suffixes = (".jsonl", ".json")

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def write(self, records) -> None:
        for record in records:
            self._file.write(record.to_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@hookimpl
def register_sinks(register):
    register(JsonlSink)
