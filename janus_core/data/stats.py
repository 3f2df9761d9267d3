"""What a dataset holds: counts by output type, direction and depth, failures, and lineage trees."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from janus_core.plan.inputs import item_lines
from janus_core.run.journal import Journal
from janus_core.run.record_rows import MAX_DEPTH, MAX_ROW_CHARS, bounded_loads, read_lines
from janus_core.sdk.errors import JanusError
from janus_core.sdk.terminal import printable

#: The largest file read as one JSON array (the original tool's outputs.json); JSON Lines files stream.
MAX_ARRAY_CHARS = 4 * MAX_ROW_CHARS


def load_records(path: Path) -> list[dict[str, Any]]:
    """Whole records from a JSONL file (or a JSON array) in any of Janus's formats (see data.rows)."""
    return list(iter_file_records(path))


def iter_file_records(path: Path) -> Iterator[dict[str, Any]]:
    """Whole records from a JSONL file (or a JSON array), one at a time: a row that is not one is a
    JanusError naming the file and line."""
    for _, record in located_file_records(path):
        yield record


def located_file_records(path: Path, skipped: Counter[str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``path:line:col``, whole record) per row of a JSONL file (or item of a JSON array), or (``PATH row
    N``, whole record) per row of a Parquet file or a saved Hugging Face dataset folder (hf-disk).

    A conversation Janus's records cannot carry (tool calls, images) is counted in ``skipped`` by reason
    and left out; without ``skipped`` it is an error naming its row, as any row that is no record is."""
    from janus_core.data.rows import record_dict
    from janus_core.plan.columnar import columnar_rows, is_columnar
    from janus_core.plan.inputs import Unsupported

    if not path.exists():
        raise JanusError(f"{path}: no such dataset file or folder")
    for where, row in columnar_rows(path) if is_columnar(path) else _rows(path):
        try:
            yield where, record_dict(row)
        except Unsupported as exc:
            if skipped is None:
                raise JanusError(f"{where}: not a record Janus can read: {exc}; janus export leaves such "
                                 "rows out and counts them") from None
            skipped[exc.reason] += 1
        except ValueError as exc:
            raise JanusError(f"{where}: not a record Janus can read: {exc}") from None


def _starts_array(f: IO[bytes]) -> bool:
    while chunk := f.read(1 << 16):
        if chunk.strip():
            return chunk.lstrip().startswith(b"[")
    return False


def _rows(path: Path) -> Iterator[tuple[str, Any]]:
    """(``path:line:col``, value) per JSON Lines row, read a line at a time (a line of more than
    ``MAX_ROW_CHARS`` is refused, never held), or per item of a file that is one JSON array."""
    with path.open("rb") as f:
        array = _starts_array(f)
        f.seek(0)
        if array:
            try:
                data = f.read(MAX_ARRAY_CHARS + 1)
                items = bounded_loads(data, MAX_ARRAY_CHARS, MAX_DEPTH + 1)
            except ValueError as exc:
                raise JanusError(f"{path}: not a JSON array Janus reads ({exc})") from None
            if not isinstance(items, list):
                raise JanusError(f"{path}: not a JSON array")
            lines = item_lines(data.decode("utf-8-sig", errors="replace"))
            yield from ((f"{path}:{line}:1", item) for line, item in zip(lines, items, strict=True))
            return
        for n, line in read_lines(f):
            if line is None:
                raise JanusError(f"{path}:{n}:1: not a JSON record (the line is longer than {MAX_ROW_CHARS:,} "
                                 "characters)")
            if not line.strip():
                continue
            try:
                yield f"{path}:{n}:1", bounded_loads(line)
            except ValueError as exc:
                raise JanusError(f"{path}:{n}:1: not a JSON record ({exc})") from None


def iter_run_records(out: Path) -> Iterator[dict[str, Any]]:
    """A run's records one at a time, as the journal holds them (the single source of truth, which the
    output file is rebuilt from; a bad row is a JanusError naming it); a file without a journal is
    read as it is."""
    with Journal.beside(out) as journal:
        if journal is not None:
            yield from journal.records()
            return
    yield from iter_file_records(out)


def run_records(out: Path) -> list[dict[str, Any]]:
    """A run's records as a list (see ``iter_run_records``)."""
    return list(iter_run_records(out))


class Tally:
    """Counts by output type, direction and depth, seeds, tokens and cost, a record at a time."""

    def __init__(self) -> None:
        self.records = self.seeds = self.tokens_in = self.tokens_out = 0
        self.cost = 0.0
        self.output_types: Counter[str] = Counter()
        self.directions: Counter[str] = Counter()
        self.depths: Counter[Any] = Counter()

    def add(self, r: dict[str, Any]) -> None:
        self.records += 1
        self.seeds += not r.get("parent_id")
        self.output_types[r.get("output_type", "?")] += 1
        self.directions[r.get("direction", "?")] += 1
        self.depths[r.get("depth", 0)] += 1
        usage = r.get("usage") if isinstance(r.get("usage"), dict) else {}
        self.tokens_in += _number(usage.get("tokens_in"))
        self.tokens_out += _number(usage.get("tokens_out"))
        self.cost += _number(usage.get("cost"))

    def as_dict(self, failures: dict[str, int]) -> dict[str, Any]:
        return {"records": self.records, "seeds": self.seeds, "by_output_type": dict(self.output_types),
                "by_direction": dict(self.directions),
                "by_depth": {str(k): v for k, v in sorted(self.depths.items(), key=_depth_order)},
                "failures": failures, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "cost": round(self.cost, 6)}


def _depth_order(item: tuple[Any, int]) -> tuple[bool, float, str]:
    depth = item[0]
    numeric = isinstance(depth, (int, float)) and not isinstance(depth, bool)
    return not numeric, depth if numeric else 0, str(depth)


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def failure_counts(path: Path) -> dict[str, int]:
    with Journal.beside(path) as journal:
        return journal.failure_counts() if journal is not None else {}


def summary(path: Path, records: Iterable[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Counts by output type, direction and depth, failures by reason, tokens and cost
    (``records``: the run's records when the caller has read them already; else they are streamed)."""
    tally = Tally()
    for r in iter_run_records(path) if records is None else records:
        tally.add(r)
    return tally.as_dict(failure_counts(path))


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
