"""Built-in sinks: JSONL (as records finish), Parquet, a Hugging Face dataset on disk or on the Hub.

Every sink takes the ``format`` option (see ``formats.FORMATS``): janus (default: the whole
record), messages, sharegpt, alpaca, janus-legacy or dpo. Records a format cannot express
(dpo needs rated answers) are counted in ``skipped``.
"""

from __future__ import annotations

import json
from typing import IO, Any

from janus_core import hookimpl
from janus_core.sdk.errors import JanusError
from janus_core.sdk.contracts import Sink

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
        self.written = 0
        self.skipped = 0

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
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def write(self, records) -> None:
        if self.format_name == "janus":  # the hot path during generation: reuse each record's JSON
            for record in records:
                self._file.write(record.to_json() + "\n")
            self.written += len(records)
        else:
            for row in self.rows(records):
                self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
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


class HfDiskSink(FormattedSink):
    """A Hugging Face ``datasets`` dataset saved with ``save_to_disk`` (a folder)."""

    name = "hf-disk"
    description = "Hugging Face datasets folder (save_to_disk)"
    suffixes = ()
    json_columns = True

    def open(self) -> None:
        try:
            import datasets  # noqa: F401
        except ImportError as exc:
            raise JanusError("the hf-disk sink needs datasets: pip install 'janus-data[hub]'") from exc
        self._rows: list[dict[str, Any]] = []

    def write(self, records) -> None:
        self._rows.extend(self.rows(records))

    def close(self) -> None:
        from datasets import Dataset

        Dataset.from_list(self._rows).save_to_disk(str(self.path))


class HubSink(FormattedSink):
    """A dataset repository on the Hugging Face Hub; the path is its id, owner/name.

    It uploads a finished run (``janus push``, ``janus export --sink hf-hub``) when it closes: Parquet
    under data/, a dataset card and the spec. Options besides ``format``: ``split`` (default train),
    ``eval_fraction`` and ``seed`` (a share of seeds goes to the eval split), ``replace``, ``public``,
    ``source`` (the run's file, for the card), ``spec`` (overrides the spec its journal recorded) and
    ``flag`` (the option that replaces, named in messages). See janus_plugins.hf.hub.
    """

    name = "hf-hub"
    description = "a dataset on the Hugging Face Hub (--to owner/name; token from HF_TOKEN)"
    suffixes = ()
    json_columns = True
    #: uploads a finished run rather than records as they finish
    remote = True

    def open(self) -> None:
        from janus_plugins.hf import hub

        self.repo_id = hub.check_repo_id(self.path.as_posix())
        hub.hub_token(required=True)  # fail before reading the run
        if "source" not in self.options:
            raise JanusError("the hf-hub sink uploads a finished run: use janus push OUT REPO_ID")
        self.split = str(self.options.get("split") or "train")
        self.eval_fraction = float(self.options.get("eval_fraction") or 0.0)
        if self.eval_fraction > 0 and self.split == "eval":
            raise JanusError("with an eval fraction the held-out rows go to the eval split; choose another split")
        self.seed = int(self.options.get("seed") or 0)
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self.result: Any = None

    def write(self, records) -> None:
        from janus_core.data.export import is_eval

        for record in records:
            seed_id = record["seed_id"] if isinstance(record, dict) else record.seed_id
            split = "eval" if self.eval_fraction > 0 and is_eval(seed_id, self.eval_fraction, self.seed) \
                else self.split
            self._rows.setdefault(split, []).extend(self.rows([record]))

    def close(self) -> None:
        from pathlib import Path

        from janus_plugins.hf import hub

        info = hub.describe_run(Path(self.options["source"]), self.options.get("spec"))
        self.result = hub.push(self.repo_id, self._rows, self.format_name, info,
                               replace=bool(self.options.get("replace")), public=bool(self.options.get("public")),
                               flag=str(self.options.get("flag") or "--replace"))


@hookimpl
def register_sinks(register):
    for sink in (JsonlSink, ParquetSink, HfDiskSink, HubSink):
        register(sink)
