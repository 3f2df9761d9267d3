"""Janus from Python: ``generate`` runs the session ``janus generate`` runs, ``load_records`` reads back
any file Janus writes. Both raise ``JanusError``s with the CLI's messages (a spec's as FILE:LINE:COL)."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from janus_core.sdk.errors import JanusError, did_you_mean
from janus_core.sdk.records import Record


@dataclass
class GenerateResult:
    """What a run wrote: every record in its output (earlier runs' too, when it continued one), the
    output file, and the run's summary figures as ``janus generate --log-json`` prints them."""

    out: Path
    records: list[Record]
    #: records, resumed, requests, failures (by reason), tokens_in, tokens_out, cost, seconds, stopped, ...
    summary: dict[str, Any]
    #: what the user should know about the spec or the inputs (the CLI prints them as ``note:``)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, int]:
        """Failed or eliminated requests by reason (``eliminated:duplicate``, ``transport``, ...)."""
        return self.summary["failures"]

    @property
    def requests(self) -> int:
        return self.summary["requests"]

    @property
    def tokens(self) -> int:
        """Prompt plus reply tokens of this run's requests."""
        return self.summary["tokens_in"] + self.summary["tokens_out"]

    @property
    def cost(self) -> float:
        """This run's cost in dollars (0 where the model has no known price)."""
        return self.summary["cost"]

    @property
    def seconds(self) -> float:
        """This run's wall time."""
        return self.summary["seconds"]

    def to_dataset(self) -> Any:
        """The records as a ``datasets.Dataset`` with one ``messages`` column (what ``janus export
        --format messages`` writes, and what TRL's SFTTrainer reads)."""
        return records_dataset(self.records)


def records_dataset(records: Sequence[Record]) -> Any:
    """``records`` as a ``datasets.Dataset`` in messages format."""
    try:
        import datasets
    except ImportError:
        raise JanusError("to_dataset() needs the datasets library: pip install 'janus-data[hub]'") from None
    return datasets.Dataset.from_list([{"messages": record.messages} for record in records])


def generate(spec: str | Path, *, backend: str | None = None, model: str | None = None,
             options: dict[str, Any] | None = None, out: str | Path | None = None, plugins: Sequence[str] = (),
             sql_dialect: str | None = None, **settings: Any) -> GenerateResult:
    """Generate a dataset from a spec folder as ``janus generate SPEC`` does, through the same session.

    ``backend``, ``model`` and ``options`` are ``--backend``, ``--model`` and ``--option``; ``settings``
    are the other flags by name (``max_seeds=4``, ``d_factor=0``, ``max_cost=1.0``, ``output_type=
    "instruct"``, ``filter_options={...}``, ...). ``out=None`` writes to a new temporary folder (kept,
    so the result's ``out`` can be read again; a run there is not continued by a later call). Inside a
    running event loop (a notebook) the run goes in a worker thread while the caller waits.
    """
    from janus_core.plugins import load_plugins
    from janus_core.run.generate_settings import GenerateSettings, run_settings
    from janus_core.run.session import Session, summary_dict
    from janus_core.spec.loading import load_checked

    asked = GenerateSettings.from_keywords({**settings, "backend": backend, "model": model,
                                            "options": dict(options or {})})
    loaded_plugins = load_plugins(list(plugins))
    dialect = sql_dialect.lower() if sql_dialect else None
    known = loaded_plugins.diagram_dialects()
    if dialect and dialect not in known:
        raise JanusError(f"unknown SQL dialect '{sql_dialect}'.{did_you_mean(dialect, known)} "
                         f"Dialects: {', '.join(known) or 'none'}.")
    loaded, notes = load_checked(spec, loaded_plugins, dialect)
    if asked.filter_options is not None:  # over setup.yaml's, filter by filter
        if asked.no_filters:
            raise JanusError("no_filters=True runs no filter, so filter_options would do nothing")
        asked.filter_options = {name: {**(loaded.setup.filter_options.get(name) or {}), **(given or {})}
                                for name, given in {**loaded.setup.filter_options, **asked.filter_options}.items()}
    if out is None:
        kind = asked.output_type or loaded.setup.output_type
        out = Path(tempfile.mkdtemp(prefix="janus-")) / f"{loaded.name}-{kind}.jsonl"
    asked.out = str(out)
    session = Session(loaded, loaded_plugins, run_settings(loaded, loaded_plugins, asked, notes))
    stats = _run_outside_any_loop(session)
    return GenerateResult(out=session.out, records=load_records(session.out), summary=summary_dict(stats, session.out),
                          notes=[*notes, *session.notes])


def _run_outside_any_loop(session: Any) -> Any:
    """``session.run()``; it starts its own event loop, so inside a running one (Jupyter's) it runs in
    a worker thread while this one waits. Ctrl-C (a notebook's interrupt) stops the run as it stops
    the CLI, in either thread: what is finished stays in the journal, and KeyboardInterrupt is raised."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(session)
    outcome: dict[str, Any] = {}
    finished = threading.Event()  # waited on, not Thread.join: an interrupted join may stop waiting for good

    def work() -> None:
        try:
            outcome["stats"] = _run(session)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=work, name="janus-generate", daemon=True).start()
    try:
        finished.wait()
    except KeyboardInterrupt:  # the run in the worker stops as the CLI's stops on Ctrl-C
        session.interrupt()
        finished.wait()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["stats"]


def _run(session: Any) -> Any:
    from janus_core.run.session import RunView

    try:
        return session.run(RunView())
    except SystemExit as exc:  # the session's Ctrl-C exit (130), as Python code expects it
        if exc.code == 130:
            raise KeyboardInterrupt from None
        raise
    except asyncio.CancelledError:  # session.interrupt() from the waiting thread
        raise KeyboardInterrupt from None


def load_records(path: str | Path) -> list[Record]:
    """Every record in a file or folder Janus writes: a generate output (read from its journal when
    it has one), an export (JSONL or a JSON array in any of the export formats, Parquet, a saved
    Hugging Face dataset folder). Rows of other formats become records whose provenance says
    ``?`` (``meta.format`` names the shape); conversations with tool calls or images are left out, as
    ``janus export`` leaves them out; a row that is no record is a JanusError naming it."""
    from collections import Counter

    from janus_core.data.export import read_records

    return list(read_records(Path(path), Counter()))
