"""What a dataset holds: counts by output type, direction and depth, failures, and lineage trees."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from janus_core.run.journal import Journal
from janus_core.sdk.errors import JanusError
from janus_core.sdk.terminal import printable


def load_records(path: Path) -> list[dict[str, Any]]:
    """Whole records from a JSONL file (or a JSON array) in any of Janus's formats (see data.rows)."""
    from janus_core.data.rows import record_dict

    if not path.is_file():
        raise JanusError(f"{path}: no such dataset file")
    records = []
    for where, row in _rows(path):
        try:
            records.append(record_dict(row))
        except ValueError as exc:
            raise JanusError(f"{where}: not a record Janus can read: {exc}") from None
    return records


def _rows(path: Path) -> list[tuple[str, Any]]:
    """(``path:line:col``, value) per JSON Lines row, or per item of a file that is one JSON array."""
    with path.open(encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JanusError(f"{path}:{exc.lineno}:{exc.colno}: not a JSON array ({exc.msg})") from None
        return [(f"{path}:item {i}", item) for i, item in enumerate(items, 1)]
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                rows.append((f"{path}:{n}:1", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise JanusError(f"{path}:{n}:{exc.colno}: not a JSON record ({exc.msg})") from None
    return rows


def run_records(out: Path) -> list[dict[str, Any]]:
    """A run's records as the journal holds them (the single source of truth, which the output file is
    rebuilt from); a file without a journal is read as it is."""
    with Journal.beside(out) as journal:
        if journal is not None:
            return list(journal.records())
    return load_records(out)


def summary(path: Path, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Counts by output type, direction and depth, failures by reason, tokens and cost
    (``records``: the run's records when the caller has read them already)."""
    records = run_records(path) if records is None else records
    failures: dict[str, int] = {}
    with Journal.beside(path) as journal:
        if journal is not None:
            failures = journal.failure_counts()
    return {
        "records": len(records),
        "seeds": sum(1 for r in records if not r.get("parent_id")),
        "by_output_type": dict(Counter(r.get("output_type", "?") for r in records)),
        "by_direction": dict(Counter(r.get("direction", "?") for r in records)),
        "by_depth": {str(k): v for k, v in sorted(Counter(r.get("depth", 0) for r in records).items())},
        "failures": failures,
        "tokens_in": sum(r.get("usage", {}).get("tokens_in", 0) for r in records),
        "tokens_out": sum(r.get("usage", {}).get("tokens_out", 0) for r in records),
        "cost": round(sum(r.get("usage", {}).get("cost", 0.0) for r in records), 6),
    }


def _label(record: dict[str, Any]) -> str:
    user = next((m["content"] for m in reversed(record["messages"]) if m["role"] == "user"), "")
    short = user.replace("\n", " ")
    short = short if len(short) <= 70 else short[:67] + "..."
    # a reply may hold control characters: shown as escapes, never sent to the terminal
    return printable(f"{record['id']} [{record.get('direction')}] depth {record.get('depth', 0)}: {short}")


def evolution_tree(path: Path, seed_id: str) -> Any:
    """A rich Tree of one seed and everything evolved from it."""
    from rich.markup import escape
    from rich.tree import Tree

    records = run_records(path)
    by_id = {r["id"]: r for r in records}
    if seed_id not in by_id:
        seeds = [r["id"] for r in records if not r.get("parent_id")][:5]
        raise JanusError(f"no record {seed_id!r} in {path}; seeds include: {', '.join(seeds)}")
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("parent_id"):
            children[r["parent_id"]].append(r)

    def grow(tree: Any, record: dict[str, Any]) -> None:
        for child in children[record["id"]]:
            grow(tree.add(escape(_label(child))), child)

    root = by_id[seed_id]
    tree = Tree(escape(_label(root)))
    grow(tree, root)
    return tree
