"""Built-in sinks: JSONL, written and flushed as records finish."""

from __future__ import annotations

import json
import os
from typing import IO

from janus_core import hookimpl
from janus_core.interfaces import Sink


class JsonlSink(Sink):
    """One JSON object per line; each write is flushed and fsynced so a crash keeps it."""

    name = "jsonl"
    description = "JSON Lines: one record per line (messages plus provenance)"
    suffixes = (".jsonl", ".json")

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def write(self, records) -> None:
        for record in records:
            self._file.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


@hookimpl
def register_sinks(register):
    register(JsonlSink)
