"""The dataset report behind ``janus stats``: counts, graph coverage, duplicates, lengths,
diversity, judge scores and failures, printed and written as Markdown with PNG plots.

Coverage needs the spec: it is found through the run's journal (``meta.spec``: the folder the
run was made from) or given with ``--spec``; without it the report lists only what the records visit.
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from janus_core.data.dedup import words
from janus_core.data.stats import summary
from janus_core.sdk.credentials import scrub_data
from janus_core.sdk.terminal import printable


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct n-grams over all n-grams in the texts (0 to 1; higher is more diverse)."""
    total, seen = 0, set()
    for text in texts:
        tokens = words(text)
        grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return round(len(seen) / total, 4) if total else 0.0


def near_duplicates(records: list[dict[str, Any]], threshold: float = 0.8) -> int:
    """How many records exactly or nearly repeat an earlier one (MinHash LSH, as the filter)."""
    from janus_core.data.dedup import Deduper
    from janus_core.sdk.records import new_messages

    deduper = Deduper(threshold)
    by_id = {r["id"]: r for r in records}
    found = 0
    for r in records:
        # what a record adds to its parent, as the filter compares
        messages = new_messages(r, by_id.get(r.get("parent_id")))
        text = "\n".join(m["content"] for m in messages if m.get("role") != "system")
        if deduper.check_and_add(r["id"], text):
            found += 1
    return found


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


def coverage(records: list[dict[str, Any]], spec: Any, problem: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Which entities, relationships and planned walks have records, and which have none."""
    entities = Counter(e for r in records for e in set(r.get("walk", {}).get("entities", [])))
    relationships = Counter(e for r in records for e in set(r.get("walk", {}).get("relationships", [])))
    walks = Counter(r.get("walk", {}).get("id") for r in records if r.get("walk", {}).get("id"))
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
    with ``plugins``' diagram readers (default: the installed plugins)."""
    from janus_core.data.stats import run_records
    from janus_core.run.journal import Journal

    records = run_records(out)
    eliminated: list[dict[str, Any]] = []  # the judge's grades of records the filters eliminated
    with Journal.beside(out) as journal:
        run: dict[str, Any] = (journal.get_meta("run") if journal is not None else None) or {}
        if journal is not None:
            eliminated = [f["job"]["meta"]["judge"] for f in journal.failures()
                          if f["reason"].startswith("eliminated:")
                          and isinstance((f["job"].get("meta") or {}).get("judge"), dict)]
    counts = summary(out, records)
    user = [m["content"] for r in records for m in r.get("messages", []) if m.get("role") == "user"]
    assistant = [m["content"] for r in records for m in r.get("messages", []) if m.get("role") == "assistant"]
    lengths = [sum(len(m["content"].split()) for m in r.get("messages", []) if m.get("role") != "system")
               for r in records]
    judged = [r["meta"]["judge"] for r in records if isinstance(r.get("meta", {}).get("judge"), dict)]
    rubric_scores: dict[str, list[int]] = {}
    for j in judged:
        for name, grade in j.get("rubrics", {}).items():
            if grade.get("score") is not None:
                rubric_scores.setdefault(name, []).append(grade["score"])
    scores = [j["score"] for j in judged if j.get("score") is not None]
    dups = near_duplicates(records)
    return scrub_data({
        "path": str(out),
        "run": run,
        **counts,
        "coverage": coverage(records, *recorded_spec(out, spec, plugins),
                             seed=run.get("seed", 0) if seed is None else seed),
        "near_duplicates": dups,
        "near_duplicate_rate": round(dups / len(records), 4) if records else 0.0,
        "words_per_record": lengths,
        "length": ({"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths)}
                   if lengths else {}),
        "diversity": {f"{side}_distinct_{n}": distinct_n(texts, n)
                      for side, texts in (("user", user), ("assistant", assistant)) for n in (1, 2)},
        "judge": {"judged": len(judged), "scores": scores,
                  "mean": round(statistics.mean(scores), 3) if scores else None,
                  "by_rubric": {k: round(statistics.mean(v), 3) for k, v in rubric_scores.items()},
                  "eliminated": len(eliminated),
                  "eliminated_scores": [j["score"] for j in eliminated if j.get("score") is not None]},
        "documents": dict(Counter(c for r in records for c in r.get("walk", {}).get("chunks", []))),
    })


# --- writing -------------------------------------------------------------------------------------

def _table(rows: dict[str, Any], head: tuple[str, str]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    return [f"| {head[0]} | {head[1]} |", "|---|---:|", *(f"| `{k}` | {v} |" for k, v in rows.items()), ""]


def markdown(report: dict[str, Any], images: dict[str, str]) -> str:
    """The report as Markdown, linking the PNG plots by file name; control characters shown as escapes."""
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
    lines += ["## Duplicates and diversity", "",
              f"Near-duplicate rate: {report['near_duplicate_rate']:.1%} ({report['near_duplicates']} records "
              "repeat an earlier one, MinHash Jaccard >= 0.8 on word 5-grams).", "",
              *_table(report["diversity"], ("Distinct-n", "Share")),
              "## Length", ""]
    if report["length"]:
        lines += [f"Words per record: min {report['length']['min']}, median {report['length']['median']}, "
                  f"max {report['length']['max']}.", ""]
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
    lines += ["## Failures by reason", "", *_table(report["failures"], ("Reason", "Jobs"))]
    # names and reasons come from records and servers: their control characters are shown as escapes
    return printable("\n".join(lines))


def plots(report: dict[str, Any], folder: Path) -> dict[str, str]:
    """PNG plots (matplotlib, the 'plot' extra): lengths, judge scores, coverage. {} without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
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


def write_report(report: dict[str, Any], folder: Path) -> Path:
    """Write report.md and its PNG plots into ``folder``; returns the Markdown file."""
    folder.mkdir(parents=True, exist_ok=True)
    images = plots(report, folder)
    path = folder / "report.md"
    path.write_text(markdown(report, images) + "\n", encoding="utf-8")
    return path
