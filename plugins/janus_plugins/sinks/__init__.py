"""Built-in sinks: JSONL (as records finish) and Parquet (the hf plugin adds Hugging Face datasets).

Every sink takes the ``format`` option (see ``formats.FORMATS``): janus (default: the whole
record), messages, sharegpt, alpaca, janus-legacy or dpo. Records a format cannot express
(dpo needs rated answers) are counted in ``skipped``.
"""

from __future__ import annotations

import json
from typing import IO, Any

from janus_core import hookimpl
from janus_core.sdk.contracts import Sink
from janus_core.sdk.errors import JanusError

from .formats import FORMATS


class FormattedSink(Sink):
    """Turns records into rows of the chosen format; subclasses store the rows."""

    #: columnar stores keep nested provenance (walk, usage, meta) as JSON text: its keys vary
    json_columns = False

    def __init__(self, path, options=None):
        super().__init__(path, options)
        name = self.options.get("format", "janus")
        if name not in FORMATS:
            raise JanusError(f"unknown format '{name}'; formats: {', '.join(FORMATS)}")
        self.format_name = name
        self.to_row = FORMATS[name]

    def rows(self, records) -> list[dict[str, Any]]:
        out = []
        for record in records:
            data = record if isinstance(record, dict) else record.to_dict()
            row = self.to_row(data)
            if row is None:
                self.skipped += 1
                continue
            if self.json_columns:
                row = {k: json.dumps(v, ensure_ascii=False) if k in ("walk", "usage", "meta") else v
                       for k, v in row.items()}
            out.append(row)
        self.written += len(out)
        return out


class JsonlSink(FormattedSink):
    """One JSON object per line, flushed as records finish.

    Durability is the journal's job (every record is committed there first and the file is
    rebuilt from it on the next run), so writes are flushed to the OS but not fsynced.
    """

    name = "jsonl"
    description = "JSON Lines: one row per line"
    suffixes = (".jsonl", ".json")

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: the original tool's outputs.json is one JSON array, not JSON Lines
        self.array = self.format_name == "janus-legacy" and self.path.suffix == ".json"
        self._file: IO[str] = self.path.open("w" if self.array else "a", encoding="utf-8")
        if self.array:
            self._file.write("[")
            self._array_rows = 0

    def write(self, records) -> None:
        if self.array:
            for row in self.rows(records):
                self._file.write(("\n" if not self._array_rows else ",\n") + json.dumps(row, ensure_ascii=False))
                self._array_rows += 1
        elif self.format_name == "janus":  # the hot path during generation: reuse each record's JSON
            for record in records:
                self._file.write(record.to_json() + "\n")
            self.written += len(records)
        else:
            for row in self.rows(records):
                self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self.array:
            self._file.write("\n]\n")
        self._file.close()


class ParquetSink(FormattedSink):
    """Apache Parquet through pyarrow, written when the sink closes."""

    name = "parquet"
    description = "Apache Parquet (pyarrow)"
    suffixes = (".parquet",)
    json_columns = True

    def open(self) -> None:
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise JanusError("the parquet sink needs pyarrow: pip install 'janus-data[hub]'") from exc
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rows: list[dict[str, Any]] = []

    def write(self, records) -> None:
        self._rows.extend(self.rows(records))

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(self._rows), self.path)


@hookimpl
def register_sinks(register):
    for sink in (JsonlSink, ParquetSink):
        register(sink)
