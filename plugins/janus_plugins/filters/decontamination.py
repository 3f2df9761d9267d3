"""The ``decontamination`` filter: records that share word n-grams with a benchmark.

A benchmark file is JSONL (every string value of a row, or only ``fields``, makes one item) or
plain text (one item per non-empty line). For each record, the overlap with an item is the share
of the item's n-grams that the record contains; a record whose highest overlap reaches
``max_overlap`` is eliminated, and every kept record that overlaps at all carries its highest
overlap and the item it came from in ``meta.contamination``, so the report is per record.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from janus_core.data.dedup import words
from janus_core.sdk.contracts import Ask, Filter
from janus_core.sdk.errors import JanusError
from janus_core.spec.safe_load import load_json

from .options import Options, StrList


class DecontaminationOptions(Options):
    benchmark: StrList = Field(min_length=1, description="benchmark files (JSONL or text), relative to the spec")
    fields: list[str] | None = Field(None, description="JSONL keys whose text is compared (default: every string)")
    ngram: int = Field(8, ge=3, le=50, description="words per n-gram")
    max_overlap: float = Field(0.5, gt=0, le=1,
                               description="share of a benchmark item's n-grams at which a record is eliminated")
    path_fields: ClassVar[tuple[str, ...]] = ("benchmark",)


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def read_benchmark(path: Path, fields: list[str] | None = None) -> list[tuple[str, str]]:
    """(where, text) for every item of a benchmark file."""
    if not path.is_file():
        raise JanusError(f"decontamination: benchmark file {path} not found")
    items = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            if path.suffix in (".jsonl", ".json"):
                try:
                    row = load_json(line, f"{path}:{n}")
                except ValueError as exc:  # not JSON, or nested too deeply
                    raise JanusError(str(exc)) from None
                chosen = {k: row.get(k) for k in fields} if fields and isinstance(row, dict) else row
                text = "\n".join(_strings(chosen))
            else:
                text = line.strip()
            if text.strip():
                items.append((f"{path.name}:{n}", text))
    return items


class BenchmarkIndex:
    """Every benchmark n-gram, mapped to the items that hold it."""

    def __init__(self, items: list[tuple[str, str]], n: int):
        self.n = n
        self.where = [where for where, _ in items]
        self.sizes: list[int] = []
        self.index: dict[tuple[str, ...], list[int]] = {}
        for i, (_, text) in enumerate(items):
            grams = ngrams(text, n)
            self.sizes.append(len(grams))
            for gram in grams:
                self.index.setdefault(gram, []).append(i)

    def overlap(self, text: str) -> tuple[float, str | None]:
        """The highest share of one item's n-grams found in ``text``, and that item."""
        hits: Counter[int] = Counter()
        for gram in ngrams(text, self.n):
            for i in self.index.get(gram, ()):
                hits[i] += 1
        if not hits:
            return 0.0, None
        best, share = max(((i, count / self.sizes[i]) for i, count in hits.items()), key=lambda pair: pair[1])
        return share, self.where[best]


class Decontamination(Filter):
    name = "decontamination"
    description = "a record sharing word n-grams with a benchmark file (overlap reported per record)"
    default = False
    Options = DecontaminationOptions

    def __init__(self) -> None:
        self.index: BenchmarkIndex | None = None

    def configure(self, spec: Any, options: Any = None) -> None:
        super().configure(spec, options)
        self.index = None
        if options is None:
            return
        folder = Path(spec.folder) if spec is not None else Path()
        items = [item for name in options.benchmark
                 for item in read_benchmark(folder / Path(name).expanduser(), options.fields)]
        if not items:
            raise JanusError(f"decontamination: no items in {', '.join(options.benchmark)}")
        self.index = BenchmarkIndex(items, options.ngram)

    async def check(self, record, parent, ask: Ask) -> str | None:
        if self.index is None:  # not configured: no benchmark
            return None
        from janus_core.sdk.records import new_messages

        text = "\n".join(m["content"] for m in new_messages(record, parent) if m["role"] != "system")
        share, where = self.index.overlap(text)
        if share >= self.options.max_overlap:
            return f"{share:.0%} of benchmark item {where} appears in the record"
        if share > 0:
            record.meta["contamination"] = {"overlap": round(share, 3), "item": where}
        return None
