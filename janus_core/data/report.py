"""The dataset report behind ``janus stats``: counts, graph coverage, duplicates, lengths (turns per
record, user and assistant words per message), diversity, judge scores, failures and three sample
records, written as Markdown with PNG plots (the CLI renders it in the terminal).

Coverage needs the spec: it is found through the run's journal (``meta.spec``: the folder the
run was made from) or given with ``--spec``; without it the report lists only what the records visit.
"""

from __future__ import annotations

import hashlib
import random
import re
import statistics
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from janus_core.data.check_rates import CheckRates
from janus_core.data.check_rates import markdown as check_sections
from janus_core.data.dedup import words
from janus_core.sdk.credentials import scrub_data
from janus_core.sdk.terminal import printable

#: Words of a message the metrics read (near duplicates, distinct-n): the first 10,000. Lengths count
#: every word (in bounded pieces); the report says how many messages were longer.
WORD_CAP = 10_000
_WORD = re.compile(r"\S+")
_NONSPACE = re.compile(r"\S")
_PIECE = 1 << 20
#: sample records the report shows, and the characters of each message shown
SAMPLES = 3
SAMPLE_CHARS = 400
#: the install hint when matplotlib is missing
PLOT_EXTRA = "pip install 'janus-data[plot]'"


def capped(text: str, cap: int = WORD_CAP) -> tuple[str, bool]:
    """The first ``cap`` whitespace-separated words of ``text`` (the text up to the end of the last),
    and whether words were left out. Never splits the whole text."""
    if len(text) <= cap:  # fewer characters than the cap: fewer words too
        return text, False
    end = None
    for n, match in enumerate(_WORD.finditer(text), 1):
        if n == cap:
            end = match.end()
            break
    if end is None or _NONSPACE.search(text, end) is None:
        return text, False
    return text[:end], True


def count_words(text: str) -> int:
    """``len(text.split())``, counted a megabyte at a time (no list of every word)."""
    if len(text) <= _PIECE:
        return len(text.split())
    count, after_space = 0, True
    for start in range(0, len(text), _PIECE):
        piece = text[start:start + _PIECE]
        count += len(piece.split())
        if not after_space and not piece[0].isspace():  # a word cut in two by the piece boundary
            count -= 1
        after_space = piece[-1].isspace()
    return count


class DistinctN:
    """Distinct n-grams over all n-grams of the texts added (0 to 1; higher is more diverse)."""

    def __init__(self, n: int):
        self.n, self.total, self.seen = n, 0, set()

    def add(self, text: str) -> None:
        tokens = words(text)
        count = len(tokens) - self.n + 1
        if count > 0:
            self.total += count
            self.seen.update(zip(*(tokens[i:i + count] for i in range(self.n)), strict=True))

    @property
    def value(self) -> float:
        return round(len(self.seen) / self.total, 4) if self.total else 0.0


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct n-grams over all n-grams in the texts (0 to 1; higher is more diverse)."""
    found = DistinctN(n)
    for text in texts:
        found.add(text)
    return found.value


def _content(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def _digests(record: dict[str, Any]) -> tuple[bytes, ...]:
    """A short hash of each message (role and content), to tell whether a record continues its parent."""
    out = []
    for m in record.get("messages") or []:
        h = hashlib.blake2b(str(m.get("role") if isinstance(m, dict) else "").encode("utf-8", "replace") + b"\0",
                            digest_size=12)
        text = _content(m)
        for start in range(0, len(text), _PIECE):
            h.update(text[start:start + _PIECE].encode("utf-8", "surrogatepass"))
        out.append(h.digest())
    return tuple(out)


def _text(messages: list[Any]) -> str:
    return capped("\n".join(capped(_content(m))[0] for m in messages
                            if isinstance(m, dict) and m.get("role") != "system"))[0]


class Duplicates:
    """How many records exactly or nearly repeat an earlier one (MinHash LSH, as the filter), a record
    at a time, counted two ways: over what each record adds to its parent (``found``; ``parents``, id ->
    message digests of every record, tells what that is) and over whole records, every turn
    (``found_whole``: a derivation that repeats its parent's turns is a near copy of it)."""

    def __init__(self, parents: dict[str, tuple[bytes, ...]], threshold: float = 0.8):
        from janus_core.data.dedup import Deduper

        self.parents, self.deduper, self.found = parents, Deduper(threshold), 0
        self.whole, self.found_whole = Deduper(threshold), 0

    def add(self, r: dict[str, Any]) -> None:
        messages = r.get("messages") or []
        key = str(r.get("id"))
        if self.whole.check_and_add(key, _text(messages)):
            self.found_whole += 1
        parent = self.parents.get(r.get("parent_id"))  # type: ignore[arg-type]
        if parent is not None and self.parents.get(r.get("id"), ())[:len(parent)] == parent:
            messages = messages[len(parent):]
        if self.deduper.check_and_add(key, _text(messages)):
            self.found += 1


def near_duplicates(records: list[dict[str, Any]], threshold: float = 0.8) -> tuple[int, int]:
    """How many records exactly or nearly repeat an earlier one (MinHash LSH, as the filter): over what
    each adds to its parent, and over whole records."""
    found = Duplicates({str(r["id"]): _digests(r) for r in records}, threshold)
    for r in records:
        found.add(r)
    return found.found, found.found_whole


def recorded_spec(out: Path, given: str | Path | None = None, plugins: Any = None) -> tuple[Any, str | None]:
    """The spec ``out`` was made from (``given``, else the folder its journal names), and why it
    could not be loaded: (None, None) when there is none, (None, problem) when it no longer loads.
    It is read with the plugins' diagram readers (``plugins``, default: the installed ones)."""
    from janus_core.sdk.errors import JanusError
    from janus_core.spec.loading import load_plugged_spec

    folder = _spec_folder(out, given)
    if folder is None:
        return None, None
    try:
        return load_plugged_spec(folder, plugins), None
    except JanusError as exc:  # the spec changed or broke since
        return None, str(exc).splitlines()[0]


def _spec_folder(out: Path, given: str | Path | None) -> Path | None:
    if given:
        return Path(given)
    from janus_core.run.journal import Journal

    with Journal.beside(out) as journal:
        recorded = (journal.get_meta("spec") if journal is not None else None) or {}
    folder = recorded.get("folder")
    return Path(folder) if folder and Path(folder).is_dir() else None


class Visits:
    """What the records visit: entities, relationships, walks and document chunks, a record at a time."""

    def __init__(self) -> None:
        self.entities: Counter[str] = Counter()
        self.relationships: Counter[str] = Counter()
        self.walks: Counter[str] = Counter()
        self.chunks: Counter[str] = Counter()

    def add(self, r: dict[str, Any]) -> None:
        walk = r.get("walk") if isinstance(r.get("walk"), dict) else {}
        for counter, key in ((self.entities, "entities"), (self.relationships, "relationships"),
                             (self.chunks, "chunks")):
            values = walk.get(key)
            if isinstance(values, list):
                found = [v for v in values if isinstance(v, str)]
                counter.update(found if key == "chunks" else set(found))
        if isinstance(walk.get("id"), str) and walk["id"]:
            self.walks[walk["id"]] += 1


def coverage(records: Iterable[dict[str, Any]] | Visits, spec: Any, problem: str | None = None,
             seed: int = 0) -> dict[str, Any]:
    """Which entities, relationships and planned walks have records, and which have none."""
    visits = records if isinstance(records, Visits) else Visits()
    if not isinstance(records, Visits):
        for r in records:
            visits.add(r)
    entities, relationships, walks = visits.entities, visits.relationships, visits.walks
    result: dict[str, Any] = {"entities": dict(entities), "relationships": dict(relationships),
                              "walks": dict(walks), "spec": None}
    if spec is None:  # report what the records visit
        if problem:
            result["spec_problem"] = problem
        return result
    from janus_core.plan.graph import build_graph, edge_labels, seed_contexts

    graph = build_graph(spec.diagram)
    contexts = seed_contexts(spec, seed, graph)
    all_edges = edge_labels(graph)
    result.update({
        "spec": str(spec.folder),
        "entities_without": [n for n in graph.nodes if n not in entities],
        "relationships_without": [e for e in all_edges if e not in relationships],
        "walks_planned": len(contexts),
        "walks_without": [c.id for c in contexts if c.id not in walks],
        "entity_share": round(sum(1 for n in graph.nodes if n in entities) / max(len(graph.nodes), 1), 4),
        "relationship_share": round(sum(1 for e in all_edges if e in relationships) / max(len(all_edges), 1), 4),
    })
    return result


def build_report(out: Path, spec: str | Path | None = None, seed: int | None = None,
                 plugins: Any = None) -> dict[str, Any]:
    """Everything the report shows, as plain data (``janus stats --json`` prints it); the spec is read
    with ``plugins``' diagram readers (default: the installed plugins).

    The records are streamed twice (a record's message hashes, then everything else), never held
    together; a message's first ``WORD_CAP`` words count for duplicates and diversity."""
    from janus_core.data.stats import Tally, failure_counts, iter_run_records
    from janus_core.run.journal import Journal

    parents = {str(r.get("id")): _digests(r) for r in iter_run_records(out)}
    tally, visits, duplicates = Tally(), Visits(), Duplicates(parents)
    diversity = {(side, n): DistinctN(n) for side in ("user", "assistant") for n in (1, 2)}
    lengths: list[int] = []
    turns: list[int] = []
    side_words: dict[str, list[int]] = {"user": [], "assistant": []}
    samples: list[dict[str, Any]] = []
    draw = random.Random(0)  # the same dataset shows the same samples
    judged: list[dict[str, Any]] = []
    long_messages = 0
    checked = CheckRates()
    for index, r in enumerate(iter_run_records(out)):
        tally.add(r)
        visits.add(r)
        duplicates.add(r)
        _sample(samples, index, r, draw)
        length = user_turns = 0
        for m in r.get("messages") or []:
            if not isinstance(m, dict):
                continue
            text = _content(m)
            if m.get("role") != "system":
                words_here = count_words(text)
                length += words_here
                if m.get("role") in side_words:
                    side_words[m["role"]].append(words_here)
            user_turns += m.get("role") == "user"
            if m.get("role") in ("user", "assistant"):
                shown, cut = capped(text)
                long_messages += cut
                for n in (1, 2):
                    diversity[m["role"], n].add(shown)
        lengths.append(length)
        turns.append(user_turns)
        meta = r.get("meta") if isinstance(r.get("meta"), dict) else {}
        checked.add(meta)
        if isinstance(meta.get("judge"), dict):
            judged.append(_grades(meta["judge"]))
    del parents
    eliminated: list[dict[str, Any]] = []  # the judge's grades of records the filters eliminated
    with Journal.beside(out) as journal:
        run: dict[str, Any] = (journal.get_meta("run") if journal is not None else None) or {}
        if journal is not None:
            ledger = journal.failures()
            for f in ledger:
                if f["reason"].startswith("eliminated:"):
                    checked.add(f["job"].get("meta"))
            eliminated = [_grades(f["job"]["meta"]["judge"]) for f in ledger
                          if f["reason"].startswith("eliminated:") and isinstance(f["job"].get("meta"), dict)
                          and isinstance(f["job"]["meta"].get("judge"), dict)]
    rubric_scores: dict[str, list[Any]] = {}
    for j in judged:
        for name, grade in j["rubrics"].items():
            rubric_scores.setdefault(name, []).append(grade)
    scores = [j["score"] for j in judged if j["score"] is not None]
    dups, whole = duplicates.found, duplicates.found_whole
    count = tally.records
    return scrub_data({
        "path": str(out),
        "run": run if isinstance(run, dict) else {},
        **tally.as_dict(failure_counts(out)),
        "coverage": coverage(visits, *recorded_spec(out, spec, plugins),
                             seed=run.get("seed", 0) if seed is None else seed),
        "near_duplicates": dups,
        "near_duplicate_rate": round(dups / count, 4) if count else 0.0,
        "near_duplicates_whole": whole,
        "near_duplicate_rate_whole": round(whole / count, 4) if count else 0.0,
        "words_per_record": lengths,
        "length": _spread(lengths),
        "turns": _spread(turns),
        "words_per_message": {side: _spread(found) for side, found in side_words.items()},
        "samples": samples,
        "diversity": {f"{side}_distinct_{n}": d.value for (side, n), d in diversity.items()},
        "messages_over_word_cap": long_messages,
        "word_cap": WORD_CAP,
        "judge": {"judged": len(judged), "scores": scores,
                  "mean": round(statistics.mean(scores), 3) if scores else None,
                  "by_rubric": {k: round(statistics.mean(v), 3) for k, v in rubric_scores.items()},
                  "eliminated": len(eliminated),
                  "eliminated_scores": [j["score"] for j in eliminated if j["score"] is not None]},
        "documents": dict(visits.chunks),
        "checks": checked.rates(),
        "tool_usage": checked.usage(),
    })


def _spread(values: list[int]) -> dict[str, Any]:
    """min, median, mean and max of some counts ({} for none)."""
    if not values:
        return {}
    return {"min": min(values), "median": statistics.median(values), "mean": round(statistics.mean(values), 1),
            "max": max(values)}


def _sample(samples: list[dict[str, Any]], index: int, record: dict[str, Any], draw: random.Random) -> None:
    """Keep ``SAMPLES`` records drawn evenly from the whole stream (reservoir sampling), each message cut to
    ``SAMPLE_CHARS`` characters."""
    slot = index if index < SAMPLES else draw.randrange(index + 1)
    if slot >= SAMPLES:
        return
    messages = [{"role": str(m.get("role")), "content": _content(m)[:SAMPLE_CHARS]
                 + ("..." if len(_content(m)) > SAMPLE_CHARS else "")}
                for m in record.get("messages") or [] if isinstance(m, dict)]
    shown = {"id": str(record.get("id")), "direction": str(record.get("direction")), "depth": record.get("depth"),
             "messages": messages}
    if index < SAMPLES:
        samples.append(shown)
    else:
        samples[slot] = shown


def _grades(judge: dict[str, Any]) -> dict[str, Any]:
    """A judge's score and its rubrics' scores (numbers only: a row may hold anything)."""
    def number(value: Any) -> Any:
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    rubrics = judge.get("rubrics") if isinstance(judge.get("rubrics"), dict) else {}
    return {"score": number(judge.get("score")),
            "rubrics": {name: number(grade.get("score")) for name, grade in rubrics.items()
                        if isinstance(grade, dict) and number(grade.get("score")) is not None}}


# --- writing -------------------------------------------------------------------------------------

def _table(rows: dict[str, Any], head: tuple[str, str]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    return [f"| {head[0]} | {head[1]} |", "|---|---:|", *(f"| `{k}` | {v} |" for k, v in rows.items()), ""]


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


def markdown(report: dict[str, Any], images: dict[str, str], samples: bool = True) -> str:
    """The report as Markdown, linking the PNG plots by file name, with the sample records unless not
    ``samples``; control characters shown as escapes."""
    cov = report["coverage"]
    lines = [f"# Dataset report: {Path(report['path']).name}", ""]
    run = report.get("run") or {}
    if run:
        lines += [f"Made from `{run.get('spec', '?')}` with {run.get('backend')} ({run.get('model')}), "
                  f"output type {run.get('output_type')}, seed {run.get('seed')}.", ""]
    lines += [f"**{report['records']} records** ({report['seeds']} seeds); tokens in {report['tokens_in']}, "
              f"out {report['tokens_out']}; cost ${report['cost']:.4f}.", ""]
    for key, title in (("by_output_type", "Records per output type"), ("by_direction", "Records per direction"),
                       ("by_depth", "Records per depth")):
        lines += [f"## {title}", "", *_table(report[key], (title.split()[-1].capitalize(), "Records"))]
    lines += ["## Coverage of the graph", ""]
    if cov.get("spec"):
        lines += [f"Entities with records: {cov['entity_share']:.0%}; relationships with records: "
                  f"{cov['relationship_share']:.0%}; planned walks with records: "
                  f"{cov['walks_planned'] - len(cov['walks_without'])} of {cov['walks_planned']}.", "",
                  "Entities with no records: " + (", ".join(f"`{e}`" for e in cov["entities_without"]) or "none"),
                  "",
                  "Relationships with no records: "
                  + (", ".join(f"`{e}`" for e in cov["relationships_without"]) or "none"), "",
                  "Walks with no records: " + (", ".join(f"`{e}`" for e in cov["walks_without"]) or "none"), ""]
    else:
        why = f"the spec folder does not load ({cov['spec_problem']})" if cov.get("spec_problem") \
            else "the spec folder was not found"
        lines += [f"({why[0].upper()}{why[1:]}, so only what the records visit is listed; "
                  "pass --spec to see what has no records.)", ""]
    lines += ["### Records per entity", "", *_table(cov["entities"], ("Entity", "Records")),
              "### Records per relationship", "", *_table(cov["relationships"], ("Relationship", "Records"))]
    if "coverage" in images:
        lines += [f"![coverage]({images['coverage']})", ""]
    if report.get("messages_over_word_cap"):
        lines += [f"{report['messages_over_word_cap']} messages are longer than {report['word_cap']:,} words: "
                  f"duplicates and diversity read their first {report['word_cap']:,} words (lengths count all).", ""]
    lines += ["## Duplicates and diversity", "",
              "Near duplicates: records that repeat an earlier one (MinHash Jaccard >= 0.8 on word 5-grams).", "",
              f"- over what each record adds to its parent (its new turns): "
              f"{report['near_duplicate_rate']:.1%} ({_records(report['near_duplicates'])})",
              f"- over whole records (every turn): {report['near_duplicate_rate_whole']:.1%} "
              f"({_records(report['near_duplicates_whole'])})", "",
              *_table(report["diversity"], ("Distinct-n", "Share")),
              "## Length", ""]
    if report["length"]:
        lines += [f"Words per record: min {report['length']['min']}, median {report['length']['median']}, "
                  f"max {report['length']['max']}.", ""]
    if report.get("turns"):
        t = report["turns"]
        lines += [f"User turns per record: min {t['min']}, median {t['median']}, max {t['max']}.", ""]
    per_message = report.get("words_per_message") or {}
    if any(per_message.values()):
        lines += ["| Words per message | User | Assistant |", "|---|---:|---:|",
                  *(f"| {label} | {per_message['user'].get(key, '-')} | {per_message['assistant'].get(key, '-')} |"
                    for key, label in (("median", "median"), ("mean", "mean"), ("max", "max"))), ""]
    if "lengths" in images:
        lines += [f"![lengths]({images['lengths']})", ""]
    judge = report["judge"]
    lines += ["## Judge scores", ""]
    if judge["judged"]:
        lines += [f"{judge['judged']} records judged; mean score {judge['mean']}.", "",
                  *_table(judge["by_rubric"], ("Rubric", "Mean score"))]
        if "scores" in images:
            lines += [f"![scores]({images['scores']})", ""]
    elif not judge.get("eliminated"):
        lines += ["No record was judged (turn the judge on with --min-score or filter_options.judge).", ""]
    if judge.get("eliminated"):
        low = judge["eliminated_scores"]
        lines += [f"{judge['eliminated']} more records were judged and eliminated (below --min-score or with no "
                  "usable score); their scores: "
                  + (f"mean {statistics.mean(low):.3g}, min {min(low):g}, max {max(low):g}." if low
                     else "none usable."), ""]
    if report["documents"]:
        lines += ["## Document chunks used", "", *_table(report["documents"], ("Chunk", "Records"))]
    lines += check_sections(report.get("checks") or {}, report.get("tool_usage") or {})
    lines += ["## Failures by reason", "", *_table(report["failures"], ("Reason", "Jobs"))]
    if samples and report.get("samples"):
        lines += ["## Sample records", ""]
        for sample in report["samples"]:
            lines += [f"### `{sample['id']}` ({sample['direction']}, depth {sample['depth']})", ""]
            for m in sample["messages"]:
                fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", m["content"]))])
                lines += [f"**{m['role']}**", "", fence + "text", m["content"], fence, ""]
    # names and reasons come from records and servers: their control characters are shown as escapes
    return printable("\n".join(lines))


def plots(report: dict[str, Any], folder: Path) -> dict[str, str]:
    """PNG plots (matplotlib, the 'plot' extra): lengths, judge scores, coverage. {} without matplotlib."""
    if not plotting():
        return {}
    import matplotlib.pyplot as plt

    made = {}

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
        made[name.removesuffix(".png")] = name

    if report["words_per_record"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(report["words_per_record"], bins=min(30, max(5, len(report["words_per_record"]) // 3)))
        ax.set(title="Words per record", xlabel="words", ylabel="records")
        save(fig, "lengths.png")
    if report["judge"]["scores"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(report["judge"]["scores"], bins=[x / 2 for x in range(2, 12)], edgecolor="white")
        ax.set(title="Judge scores (mean of rubrics)", xlabel="score", ylabel="records", xlim=(1, 5.5))
        save(fig, "scores.png")
    cov = report["coverage"]
    names = list(cov["entities"]) + list(cov.get("entities_without", []))
    if names:
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1.2))
        values = [cov["entities"].get(n, 0) for n in names]
        ax.barh(names, values, color=["tab:blue" if v else "tab:red" for v in values])
        ax.invert_yaxis()
        ax.set(title="Records per entity (red: none)", xlabel="records")
        save(fig, "coverage.png")
    return made


def plotting() -> bool:
    """Whether matplotlib (the 'plot' extra) is there to draw the plots (set to its file backend)."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    return True


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, dict[str, str]]:
    """Write report.md and its PNG plots into ``folder``; returns the Markdown file and the plots made
    (by name; none without matplotlib)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = plots(report, folder)
    path = folder / "report.md"
    path.write_text(markdown(report, images) + "\n", encoding="utf-8")
    return path, images
