"""Datasets on the Hugging Face Hub: push a run (appending only new rows, or replacing), read one back.

A pushed dataset repository holds Parquet files under ``data/`` (``data/SPLIT-STAMP-HASH.parquet``,
one new file per split and push, so earlier files are never rewritten), a dataset card
(``README.md``) and the spec under ``spec/``.

The token comes only from the ``HF_TOKEN`` environment variable and is masked in every message.
The Hub is huggingface_hub's default endpoint, or ``HF_ENDPOINT`` (read when a command runs).
huggingface_hub and pyarrow are imported inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from janus_core.data.dedup import exact_key
from janus_core.plan.inputs import to_messages
from janus_core.sdk.credentials import MASK, remember, scrub
from janus_core.sdk.errors import JanusError

TOKEN_ENV = "HF_TOKEN"
DATA_DIR = "data"
SPEC_DIR = "spec"
CARD = "README.md"
#: where Parquet files written by Janus record their row format
FORMAT_KEY = b"janus"
#: files that hold rows, wherever they are (besides everything under data/)
DATA_SUFFIXES = (".parquet", ".jsonl", ".csv", ".tsv", ".arrow")
#: files --against can read rows from
READABLE_SUFFIXES = (".parquet", ".jsonl", ".json")
#: row fields that say where a record came from rather than what it says
NOT_CONTENT = frozenset({"id", "seed_id", "parent_id", "direction", "walk", "model", "prompt_sha256",
                         "output_type", "depth", "usage", "meta", "created_at"})
SPLIT_NAME = re.compile(r"[A-Za-z0-9_]+")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+")
TEMPLATE = Path(__file__).resolve().parent / "dataset_card.md.j2"


# --- ids, tokens, errors -----------------------------------------------------------------------

def is_repo_id(value: str) -> bool:
    """Whether ``value`` looks like a Hub repository id: ``owner/name``."""
    return bool(_REPO_ID.fullmatch(value)) and ".." not in value and not value.endswith((".", "-"))


def check_repo_id(value: str) -> str:
    if not is_repo_id(value):
        raise JanusError(f"'{value}' is not a Hub dataset id: write owner/name (letters, digits, '-', '_', '.')")
    return value


def hub_token(required: bool) -> str | None:
    """The token from HF_TOKEN; a clear error when one is required and missing."""
    token = os.environ.get(TOKEN_ENV, "").strip() or None
    remember(token)
    if token is None and required:
        raise JanusError(f"pushing to the Hugging Face Hub needs a write token in the {TOKEN_ENV} environment "
                         f"variable (export {TOKEN_ENV}=...; Janus never takes it on the command line)")
    return token


def redact(text: str, secret: str | None) -> str:
    """``text`` with the token, and every other secret loaded, masked."""
    return scrub(text.replace(secret, MASK) if secret else text)


@contextmanager
def hub_errors(action: str, secret: str | None) -> Iterator[None]:
    """Turn errors from huggingface_hub, the network or the files into JanusErrors without the token.

    ``from None`` keeps the original exception (whose text may hold the token) out of tracebacks.
    """
    try:
        yield
    except JanusError as exc:
        raise JanusError(redact(str(exc), secret)) from None
    except Exception as exc:
        import httpx

        text = str(exc).strip() or type(exc).__name__
        cause = exc.__cause__
        first = str(cause or "").strip().splitlines()
        # a failed download is reported as a vaguer error: add the server's answer it hides
        if first and first[0] not in text and not isinstance(cause, httpx.HTTPStatusError):
            text += f" ({first[0]})"
        raise JanusError(f"{action}: {redact(text, secret)}") from None


def _require() -> None:
    import importlib.util

    if not (importlib.util.find_spec("huggingface_hub") and importlib.util.find_spec("pyarrow")):
        raise JanusError("the Hugging Face Hub needs huggingface_hub and pyarrow: pip install 'janus-data[hub]'")


def _api(secret: str | None) -> Any:
    _require()
    from huggingface_hub import HfApi

    from janus_core import __version__

    # passed explicitly: huggingface_hub reads HF_ENDPOINT once, when it is first imported
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or None
    # False, not None: without HF_TOKEN no token is sent, not even one saved by a login
    return HfApi(endpoint=endpoint, token=secret or False, library_name="janus", library_version=__version__)


@contextmanager
def _quiet() -> Iterator[None]:
    """No download progress bars: the command prints its own summary."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


# --- files and rows ----------------------------------------------------------------------------

def is_data_file(path: str) -> bool:
    """Whether a repository file holds rows (the card, .gitattributes and spec/ do not)."""
    if path.startswith(f"{SPEC_DIR}/") or path in (CARD, ".gitattributes"):
        return False
    return path.startswith(f"{DATA_DIR}/") or path.endswith(DATA_SUFFIXES)


def split_of(path: str) -> str:
    """``data/train-20260101T000000Z-ab12cd34.parquet`` -> ``train``."""
    return Path(path).name.split("-", 1)[0].split(".", 1)[0]


def row_text(row: dict[str, Any]) -> str:
    """What a row says: its messages (role and content) where it has them, else its content columns."""
    messages = row.get("messages")
    if not isinstance(messages, list):
        try:
            messages = to_messages(row)
        except (ValueError, KeyError, TypeError):
            messages = None
    if messages is not None:
        return "\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages)
    return json.dumps({k: v for k, v in row.items() if k not in NOT_CONTENT}, sort_keys=True, ensure_ascii=False)


def row_key(row: dict[str, Any]) -> str:
    """A row's identity for appends: the duplicate filter's exact hash (case, punctuation, spacing aside)."""
    return exact_key(row_text(row))


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    from janus_core.spec.safe_load import json_lines, load_json

    try:
        if path.suffix == ".json" and path.read_text(encoding="utf-8").lstrip().startswith("["):
            return list(load_json(path.read_text(encoding="utf-8"), str(path)))
        return [row for _, row in json_lines(path)]
    except ValueError as exc:  # not JSON, nested too deeply, a line too long, not UTF-8
        raise JanusError(str(exc)) from None


def _table(rows: list[dict[str, Any]], fmt: str) -> Any:
    import pyarrow as pa

    from janus_plugins.sinks.arrow_rows import arrow_table

    table = arrow_table(rows)
    # a column that is empty in every row (parent_id of seeds) would be typed null, unlike later files
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, pa.field(f.name, pa.string()), table.column(i).cast(pa.string()))
    return table.replace_schema_metadata({FORMAT_KEY: json.dumps({"format": fmt}).encode()})


def _parquet_bytes(table: Any) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _format_of(schema: Any) -> str | None:
    meta = (schema.metadata or {}).get(FORMAT_KEY)
    try:
        return json.loads(meta)["format"] if meta else None
    except (ValueError, KeyError, TypeError):
        return None


# --- the card ----------------------------------------------------------------------------------

def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    return "`" * max(3, max(runs, default=0) + 1)


def _cell(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value)) if value else "none"
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    elif value is None:
        value = "-"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def _language(name: str) -> str:
    return {".yaml": "yaml", ".yml": "yaml", ".mermaid": "mermaid", ".mmd": "mermaid"}.get(Path(name).suffix, "")


@dataclass
class RunInfo:
    """What a card says about the pushed run: its spec, its configuration and its report."""

    source: str
    spec: dict[str, Any] | None = None  # {"name", "folder", "files": {name: text}}
    run: dict[str, Any] | None = None
    report: dict[str, Any] = field(default_factory=dict)


def describe_run(out: Path, spec: dict[str, Any] | None = None) -> RunInfo:
    """The spec and configuration recorded in ``out``'s journal (``spec`` overrides) and its report."""
    from janus_core.data.stats import summary
    from janus_core.run.journal import Journal

    recorded_spec = run = None
    with Journal.beside(out) as journal:
        if journal is not None:
            recorded_spec, run = journal.get_meta("spec"), journal.get_meta("run")
    return RunInfo(source=out.name, spec=spec or recorded_spec, run=run, report=summary(out))


def render_card(repo_id: str, info: RunInfo, fmt: str, columns: list[str], totals: dict[str, int],
                pushed_at: str) -> str:
    """README.md: YAML front matter (configs per split) and the spec, configuration, report and provenance."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from janus_core.sdk.records import FIELD_HELP, PROVENANCE

    splits = sorted(totals, key=lambda s: (s != "train", s))
    data = DatasetCardData(
        pretty_name=repo_id.split("/", 1)[1], tags=["synthetic", "janus"], task_categories=["text-generation"],
        size_categories=[_size_category(sum(totals.values()))],
        configs=[{"config_name": "default",
                  "data_files": [{"split": s, "path": f"{DATA_DIR}/{s}-*.parquet"} for s in splits]}])
    files = [{"path": f"{SPEC_DIR}/{name}", "text": text, "fence": _fence(text), "language": _language(name)}
             for name, text in ((info.spec or {}).get("files") or {}).items()]
    report = info.report
    counts = [(title, report.get(key) or {}) for title, key in
              (("Output type", "by_output_type"), ("Direction", "by_direction"), ("Depth", "by_depth"),
               ("Failure", "failures"))]
    provenance = [(name, FIELD_HELP[name], name in columns) for name in PROVENANCE]
    extra = [(name, FIELD_HELP[name]) for name in ("tools", "output_type", "depth", "usage", "meta") if name in columns]
    card = DatasetCard.from_template(
        data, template_path=str(TEMPLATE), repo_id=repo_id, info=info, fmt=fmt, columns=columns, splits=splits,
        totals=totals, pushed_at=pushed_at, spec_files=files, run=sorted((info.run or {}).items()),
        counts=counts, provenance=provenance, extra_fields=extra, cell=_cell)
    return scrub(str(card))


# --- push --------------------------------------------------------------------------------------

@dataclass
class PushResult:
    repo_id: str
    url: str = ""
    private: bool | None = None
    uploaded: dict[str, int] = field(default_factory=dict)
    already_there: int = 0
    existing: int = 0
    replaced: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    commit: str | None = None


def _incompatible(repo_id: str, path: str, theirs: str | None, what: str, fmt: str, flag: str) -> JanusError:
    append = f"push with --format {theirs} to append to it, or " if theirs else ""
    return JanusError(f"{repo_id} holds {what} ({path}), not {fmt} rows: {append}pass {flag} to replace its data")


def push(repo_id: str, rows: dict[str, list[dict[str, Any]]], fmt: str, info: RunInfo, *,
         replace: bool = False, public: bool = False, flag: str = "--replace") -> PushResult:
    """Upload ``rows`` (by split) to the dataset ``repo_id`` in one commit, with the card and the spec.

    Appending (the default) uploads only rows whose key the dataset does not hold yet, and nothing at
    all when it holds every one; data in another format is refused unless ``replace``, which deletes
    the old data files in the same commit. ``flag`` names the option that replaces, for messages.
    """
    check_repo_id(repo_id)
    secret = hub_token(required=True)
    if not any(rows.values()):
        raise JanusError(f"no {fmt} rows to push")
    for split in rows:
        if not SPLIT_NAME.fullmatch(split):
            raise JanusError(f"split name '{split}': use letters, digits and '_'")
    _require()
    import pyarrow.parquet as pq
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    tables = {split: _table(split_rows, fmt) for split, split_rows in rows.items() if split_rows}
    columns = sorted({name for t in tables.values() for name in t.column_names})
    api = _api(secret)
    result = PushResult(repo_id=repo_id)
    with hub_errors(f"pushing to {repo_id}", secret), _quiet():
        result.url = str(api.create_repo(repo_id, repo_type="dataset", private=not public, exist_ok=True))
        repo = api.repo_info(repo_id, repo_type="dataset")
        result.private = repo.private
        files = api.list_repo_files(repo_id, repo_type="dataset", revision=repo.sha)
        data_files = sorted(f for f in files if is_data_file(f))
        have: set[str] = set()
        existing: Counter[str] = Counter()
        if not replace:
            with tempfile.TemporaryDirectory(prefix="janus-hub-") as tmp:
                for path in data_files:
                    if not (path.startswith(f"{DATA_DIR}/") and path.endswith(".parquet")):
                        raise _incompatible(repo_id, path, None, "data in another layout", fmt, flag)
                    local = api.hf_hub_download(repo_id, path, repo_type="dataset", revision=repo.sha,
                                                cache_dir=tmp)
                    table = pq.read_table(local)
                    theirs = _format_of(table.schema)
                    mismatch = theirs != fmt if theirs else sorted(table.column_names) != columns
                    if mismatch:
                        what = f"{theirs} rows" if theirs else f"columns {', '.join(table.column_names)}"
                        raise _incompatible(repo_id, path, theirs, what, fmt, flag)
                    have.update(row_key(row) for row in table.to_pylist())
                    existing[split_of(path)] += table.num_rows
        result.existing = sum(existing.values())
        operations: list[Any] = []
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for split, table in tables.items():
            keep = [i for i, row in enumerate(rows[split]) if row_key(row) not in have]
            result.already_there += table.num_rows - len(keep)
            if not keep:
                continue
            blob = _parquet_bytes(table.take(keep) if len(keep) < table.num_rows else table)
            path = f"{DATA_DIR}/{split}-{stamp}-{hashlib.sha256(blob).hexdigest()[:8]}.parquet"
            operations.append(CommitOperationAdd(path_in_repo=path, path_or_fileobj=blob))
            result.added.append(path)
            result.uploaded[split] = len(keep)
        if not result.added and not replace:
            result.totals = dict(existing)
            return result  # every row is there already: nothing to commit
        result.totals = dict(Counter(existing) + Counter(result.uploaded))
        if replace:  # in the same commit as the new files: the dataset is never left empty
            result.replaced = [p for p in data_files if p not in result.added]
            operations += [CommitOperationDelete(path_in_repo=p) for p in result.replaced]
        spec_files = {f"{SPEC_DIR}/{name}": text for name, text in ((info.spec or {}).get("files") or {}).items()}
        if spec_files:  # the spec of this push replaces an earlier one
            operations += [CommitOperationDelete(path_in_repo=p) for p in files
                           if p.startswith(f"{SPEC_DIR}/") and p not in spec_files]
        operations += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=text.encode("utf-8"))
                       for p, text in spec_files.items()]
        card = render_card(repo_id, info, fmt, columns, result.totals, datetime.now(UTC).isoformat(timespec="seconds"))
        operations.append(CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card.encode("utf-8")))
        new_rows = sum(result.uploaded.values())
        message = (f"Replace the data with {new_rows} rows" if replace else f"Add {new_rows} rows") + \
            f" from {info.source}"
        # parent_commit: the commit fails if the dataset changed since it was read, instead of losing a push
        commit = api.create_commit(repo_id, operations, repo_type="dataset", commit_message=message,
                                   parent_commit=repo.sha or None)
        result.commit = commit.oid
    return result


# --- read --------------------------------------------------------------------------------------

def load_hub_conversations(repo_id: str) -> list[Any]:
    """Records for every conversation in a Hub dataset's data files (for ``--against owner/name``)."""
    from janus_core.plan.inputs import conversation_records

    check_repo_id(repo_id)
    secret = hub_token(required=False)
    api = _api(secret)
    rows: list[tuple[str, dict[str, Any]]] = []
    with hub_errors(f"--against {repo_id}", secret), _quiet():
        repo = api.repo_info(repo_id, repo_type="dataset")
        files = sorted(f for f in api.list_repo_files(repo_id, repo_type="dataset", revision=repo.sha)
                       if is_data_file(f) and f.endswith(READABLE_SUFFIXES))
        if not files:
            raise JanusError(f"--against {repo_id}: the dataset has no Parquet or JSON Lines data files")
        with tempfile.TemporaryDirectory(prefix="janus-hub-") as tmp:
            for path in files:
                local = api.hf_hub_download(repo_id, path, repo_type="dataset", revision=repo.sha, cache_dir=tmp)
                rows += [(f"{repo_id}:{path}#{i}", row) for i, row in enumerate(_read_rows(Path(local)))]
    records = conversation_records(rows)
    if not records:
        raise JanusError(f"--against {repo_id}: no conversations in it")
    return records
