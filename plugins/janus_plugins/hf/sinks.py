"""Sinks for Hugging Face datasets: a ``save_to_disk`` folder (hf-disk) and a dataset on the Hub (hf-hub)."""

from __future__ import annotations

from typing import Any

from janus_core.sdk.errors import JanusError
from janus_plugins.sinks import FormattedSink
from janus_plugins.sinks.arrow_rows import arrow_table, has_tool_columns


class HfDiskSink(FormattedSink):
    """A Hugging Face ``datasets`` dataset saved with ``save_to_disk`` (a folder).

    With the ``eval_fraction`` option (and ``seed``) it splits by seed itself and saves a
    ``DatasetDict`` with train and test splits (``dataset_dict.json``; ``load_from_disk`` opens it).
    """

    name = "hf-disk"
    description = "Hugging Face datasets folder (save_to_disk)"
    suffixes = ()
    json_columns = True
    #: writes the train/test split itself, as one DatasetDict
    splits = True

    def open(self) -> None:
        try:
            import datasets  # noqa: F401
        except ImportError as exc:
            raise JanusError("the hf-disk sink needs datasets: pip install 'janus-data[hub]'") from exc
        self.eval_fraction = float(self.options.get("eval_fraction") or 0.0)
        self.seed = int(self.options.get("seed") or 0)
        self._rows: dict[str, list[dict[str, Any]]] = {}

    def write(self, records) -> None:
        from janus_core.data.export import HELD_OUT, is_eval

        for record in records:
            seed_id = record["seed_id"] if isinstance(record, dict) else record.seed_id
            split = HELD_OUT if self.eval_fraction > 0 and is_eval(seed_id, self.eval_fraction, self.seed) \
                else "train"
            self._rows.setdefault(split, []).extend(self.rows([record]))

    def close(self) -> None:
        from datasets import DatasetDict

        if self.eval_fraction <= 0:
            dataset(self._rows.get("train", [])).save_to_disk(str(self.path))
            return
        from janus_core.data.export import HELD_OUT

        DatasetDict({split: dataset(self._rows.get(split, [])) for split in ("train", HELD_OUT)}
                    ).save_to_disk(str(self.path))


def dataset(rows: list[dict[str, Any]]) -> Any:
    """A ``datasets.Dataset`` of ``rows``: tools and tool calls as its ``Json`` feature where rows have them
    (their keys and types differ from row to row), else as ``datasets`` infers them."""
    from datasets import Dataset

    return Dataset(arrow_table(rows)) if has_tool_columns(rows) else Dataset.from_list(rows)


class HubSink(FormattedSink):
    """A dataset repository on the Hugging Face Hub; the path is its id, owner/name.

    It uploads a finished run (``janus push``, ``janus export --sink hf-hub``) when it closes: Parquet
    under data/, a dataset card and the spec. Options besides ``format``: ``split`` (default train),
    ``eval_fraction`` and ``seed`` (a share of seeds goes to the test split), ``replace``, ``public``,
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
        from janus_core.data.export import HELD_OUT

        if self.eval_fraction > 0 and self.split == HELD_OUT:
            raise JanusError(f"with a test fraction the held-out rows go to the {HELD_OUT} split; choose another "
                             "split")
        self.seed = int(self.options.get("seed") or 0)
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self.result: Any = None  # hub.PushResult once closed

    def write(self, records) -> None:
        from janus_core.data.export import HELD_OUT, is_eval

        for record in records:
            seed_id = record["seed_id"] if isinstance(record, dict) else record.seed_id
            split = HELD_OUT if self.eval_fraction > 0 and is_eval(seed_id, self.eval_fraction, self.seed) \
                else self.split
            self._rows.setdefault(split, []).extend(self.rows([record]))

    def close(self) -> None:
        from pathlib import Path

        from janus_plugins.hf import hub

        info = hub.describe_run(Path(self.options["source"]), self.options.get("spec"))
        self.result: hub.PushResult = hub.push(self.repo_id, self._rows, self.format_name, info,
                               replace=bool(self.options.get("replace")), public=bool(self.options.get("public")),
                               flag=str(self.options.get("flag") or "--replace"))

    def report(self) -> list[str]:
        """What the push did: rows uploaded per split, rows already there, files replaced, the commit."""
        result, fmt = self.result, self.format_name
        if result is None:
            return []
        visibility = {True: "private", False: "public"}.get(result.private, "visibility unknown")
        skipped = f"; {self.skipped} records have no {fmt} form" if self.skipped else ""
        if not result.added:
            return [f"{result.repo_id} ({visibility}) already holds all {result.already_there} rows: "
                    f"nothing uploaded{skipped}"]
        added = ", ".join(f"{split} {n}" for split, n in result.uploaded.items())
        there = f"; {result.already_there} rows were there already and were left out" if result.already_there else ""
        lines = [f"{result.repo_id} ({visibility}): uploaded {sum(result.uploaded.values())} {fmt} rows ({added})"
                 f"{there}{skipped}"]
        if result.replaced:
            lines.append(f"  replaced {len(result.replaced)} earlier data file(s)")
        totals = ", ".join(f"{split} {n}" for split, n in sorted(result.totals.items()))
        lines.append(f"  the dataset now holds {totals} rows; commit {(result.commit or '?')[:12]}")
        lines.append(f"  {result.url}")
        return lines
