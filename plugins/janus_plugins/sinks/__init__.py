"""Built-in sinks: JSONL (as records finish) and Parquet (the hf plugin adds Hugging Face datasets).

Every sink takes the ``format`` option (see ``formats.FORMATS``): janus (default: the whole
record), messages, trl, sharegpt, alpaca, janus-legacy, dpo or dpo-axolotl. Records a format cannot
express (dpo needs rated answers, alpaca has no tool calls) are counted in ``skipped``, and so are
preference pairs whose chosen answer was rated less than ``min_margin`` (default 1) above the rejected
one: a tie teaches nothing. ``skip_reasons`` says why each was skipped.

The ``reasoning`` option says what becomes of the reasoning a model returned (a message's
``reasoning``) in every format but janus, which keeps the whole record: ``inline`` writes it as
``<think>...</think>`` before the content, ``field`` as the message's ``reasoning_content`` (formats
whose messages are objects), ``drop`` (the default) leaves it out: training on it teaches a model to
think aloud, which is a choice to make, not a default, and OpenAI's fine-tuning refuses message keys
it does not know.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import IO, Any

from janus_core import hookimpl
from janus_core.sdk.contracts import Sink
from janus_core.sdk.errors import JanusError

from .arrow_rows import arrow_table
from .formats import (
    FIELD_FORMATS,
    FORMATS,
    LLAMA_FACTORY_INFO,
    PAIR_FORMATS,
    REASONING_MODES,
    NoForm,
    has_tool_use,
    llama_factory_entry,
    margin,
    with_reasoning,
)

#: the file LLaMA-Factory reads its datasets' descriptions from (in its ``dataset_dir``)
DATASET_INFO = "dataset_info.json"


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
        self.reasoning = self._reasoning_mode(self.options.get("reasoning"))
        self.reasoning_dropped = 0  # messages whose reasoning the default (drop) left out
        self.with_tools = 0  # rows with tools or tool calls
        self.min_margin = float(self.options.get("min_margin") if self.options.get("min_margin") is not None
                                else 1)
        self.skip_reasons: Counter[str] = Counter()
        self.last_skip_reason: str | None = None
        self.with_history = 0  # alpaca rows with earlier exchanges in 'history'
        self.with_system = 0  # rows with a 'system' column (alpaca)

    def _reasoning_mode(self, mode: Any) -> str | None:
        """The ``reasoning`` option checked against the format; None for the janus format (the whole record)."""
        if mode is not None and mode not in REASONING_MODES:
            raise JanusError(f"reasoning '{mode}': choose {', '.join(REASONING_MODES)}")
        if self.format_name == "janus":
            if mode is not None:
                raise JanusError("the janus format keeps the whole record, reasoning included (each message's "
                                 "'reasoning'); the reasoning option is for the other formats")
            return None
        if mode == "field" and self.format_name not in FIELD_FORMATS:
            raise JanusError(f"the {self.format_name} format holds each turn as text, with no field for "
                             f"reasoning: choose reasoning inline or drop, or a format whose messages are objects "
                             f"({', '.join(FIELD_FORMATS)})")
        return mode

    def rows(self, records) -> list[dict[str, Any]]:
        out = []
        for record in records:
            data = record if isinstance(record, dict) else record.to_dict()
            reasoned = 0
            if self.format_name != "janus":
                messages, reasoned = with_reasoning(data["messages"], self.reasoning or "drop")
                if reasoned:
                    data = {**data, "messages": messages}
            try:
                row = self.to_row(data)
            except NoForm as exc:
                self._skip(exc.reason)
                continue
            if row is None:
                self._skip(f"have no {self.format_name} form")
                continue
            if has_tool_use(data):
                self.with_tools += 1
            if self.reasoning is None:
                self.reasoning_dropped += reasoned
            if self.format_name in PAIR_FORMATS and (gap := margin(row)) is not None and gap < self.min_margin:
                self._skip("are tied pairs" if gap == 0 else
                           f"are pairs rated less than --min-margin {self.min_margin:g} apart")
                continue
            if row.get("history"):
                self.with_history += 1
            if "system" in row:
                self.with_system += 1
            if self.json_columns:
                row = {k: json.dumps(v, ensure_ascii=False) if k in ("walk", "usage", "meta") else v
                       for k, v in row.items()}
            out.append(row)
        self.written += len(out)
        return out

    def finish_export(self, path) -> list[str]:
        """After an export to ``path``: add LLaMA-Factory's entry for the file to ``dataset_info.json``
        beside it (keyed by the file's name, suffix included, so exports of other formats or suffixes
        keep theirs), and say what a trainer must know. Returns the notes."""
        notes = []
        if self.format_name == "messages" and self.with_tools and self.suffixes:
            notes.append(f"{self.with_tools} rows have tools or tool calls, which LLaMA-Factory reads from "
                         "--format sharegpt (function_call and observation turns): no dataset_info.json entry "
                         "was written for this file")
        elif self.format_name in LLAMA_FACTORY_INFO and self.suffixes:
            entry = llama_factory_entry(self.format_name, path.name, self.with_system > 0, self.with_tools > 0)
            info, merged = add_dataset_info(path.parent, path.name, entry)
            notes.append(f"{'added' if merged else 'wrote'} the entry '{path.name}' to {info}: LLaMA-Factory reads "
                         f"it with dataset_dir {info.parent} and dataset {path.name}")
        if self.reasoning_dropped:
            notes.append(f"left out the reasoning of {self.reasoning_dropped} messages: --reasoning field keeps it as "
                         "each message's reasoning_content, --reasoning inline as <think>...</think> before it")
        if self.format_name == "alpaca" and self.with_history:
            notes.append(f"warning: {self.with_history} rows keep earlier exchanges in 'history'; axolotl's "
                         "alpaca type reads only instruction, input and output and drops them. For multi-turn "
                         "training export --format messages (axolotl chat_template, TRL) or use LLaMA-Factory "
                         "with the entry above")
        return notes

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        self.skip_reasons[reason] += 1
        self.last_skip_reason = reason


def add_dataset_info(folder: Path, key: str, entry: dict[str, Any]) -> tuple[Path, bool]:
    """Set ``key`` in ``folder``'s LLaMA-Factory ``dataset_info.json``, keeping its other entries; a file of
    that name that is no such description (not a JSON object of entries) is left alone and the entry goes
    to ``KEY.dataset_info.json``. Returns the file written and whether it held entries before."""
    info = folder / DATASET_INFO
    entries: dict[str, Any] = {}
    if info.is_file():
        try:
            entries = json.loads(info.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            entries = None  # type: ignore[assignment]
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            info, entries = folder / f"{key}.{DATASET_INFO}", {}
    merged = bool(entries) and set(entries) != {key}
    entries[key] = entry
    staged = info.with_name(f".{info.name}.partial")
    staged.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(staged, info)
    return info, merged


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
        import pyarrow.parquet as pq

        pq.write_table(arrow_table(self._rows), self.path)


@hookimpl
def register_sinks(register):
    for sink in (JsonlSink, ParquetSink):
        register(sink)
