"""How grounded and readable the embedded model's records are, and what the default filters eliminate.

    python bench/quality.py [--max-seeds 3] [--d-factor 0] [--generation one-shot ...] [--samples a,b]

Specs: every bundled sample, the specs under bench/specs (written for this bench, with rich ``%%``
facts) and 'unseen' (a bakery spec no prompt was tuned on).

For every bundled sample (and every ``--generation`` strategy the spec format supports), runs
``janus generate SAMPLE --backend local --no-filters`` on a small bounded plan, then screens the
records with the default filters offline, in the order the engine runs them (model-judged checks
get no verdict: a filter that asks the model keeps the record). Prints per sample: records
written, the share that passes ``readable()`` before and after filtering, records kept,
eliminations by filter and rule, tokens per record (prompt and reply) and distinct-2 of the user
turns; then, over the records written and over those kept (the dataset), the grounding table
(``janus_core.data.grounding``): grounded (records repeating at least two facts of their walk that the
setup text does not hold), user turns in the assistant's voice, user turns that ask something, user
turns written from the brief because the simulator's did not ask (turns generation), cut turns,
records holding a placeholder, evolved records whose added turns mostly copy their parent, and
evolved records along a free-text direction that use its words. Figures only; nothing is asserted.
Targets (issue: grounded records): grounded >= 60 %, wrong voice <= 5 %, asking >= 50 %, cut <= 5 %,
placeholders <= 2 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from janus_plugins.filters.quality import readable

from janus_core.data.report import distinct_n
from janus_core.plugins import load_plugins
from janus_core.run.session import choose_filters
from janus_core.sdk.records import Record
from janus_core.spec.model import Setup, load_spec

ROOT = Path(__file__).resolve().parent.parent


#: a spec no prompt was tuned on
UNSEEN = {"setup.yaml": "description: A small bakery takes orders for birthday cakes and bread.\n"
                        "user_role: CUSTOMER\nassistant_role: BAKER\noutput_type: conversation\n",
          "diagram.mermaid": "erDiagram\n  CUSTOMER ||--o{ ORDER : places\n"
                             "  BAKER ||--o{ ORDER : bakes\n  ORDER ||--|{ CAKE : contains\n"
                             "  CAKE { string flavour }\n"}


def samples(names: str | None, tmp: Path) -> list[Path]:
    """Every bundled sample, and 'unseen' (a bakery spec written here)."""
    unseen = tmp / "unseen"
    unseen.mkdir(exist_ok=True)
    for name, text in UNSEEN.items():
        (unseen / name).write_text(text, encoding="utf-8")
    found = [*sorted(p.parent for p in (ROOT / "samples").glob("*/setup.yaml")),
             *sorted(p.parent for p in (ROOT / "bench" / "specs").glob("*/setup.yaml")), unseen]
    if names:
        wanted = set(names.split(","))
        found = [p for p in found if p.name in wanted]
    return found


def spec_for(sample: Path, generation: str, tmp: Path) -> Path | None:
    """The sample itself for one-shot; a copy with ``generation:`` set when the spec format has it."""
    if "generation" not in Setup.model_fields:
        return sample if generation == "one-shot" else None
    copy = tmp / f"{sample.name}-{generation}"
    shutil.copytree(sample, copy, dirs_exist_ok=True)
    setup = copy / "setup.yaml"
    setup.write_text(setup.read_text(encoding="utf-8") + f"\ngeneration: {generation}\n", encoding="utf-8")
    return copy


def generate(spec: Path, out: Path, args: argparse.Namespace) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "janus_core.cli", "generate", str(spec), "--backend", "local", "--no-filters",
           "--max-seeds", str(args.max_seeds), "--d-factor", str(args.d_factor), "--seed", str(args.seed),
           "--out", str(out), "-q", "--option", f"threads={args.threads}"]
    if not args.work:
        cmd.append("--overwrite")
    env, cwd = {**os.environ}, None
    if args.code:  # another checkout writes the records (to compare versions); this one measures them
        env["PYTHONPATH"] = os.pathsep.join([str(args.code), str(args.code / "plugins")])
        cwd = args.code  # `python -m` puts the working folder first on the path
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    return time.perf_counter() - start, result.stderr[-400:] if result.returncode else ""


async def _no_verdict(*args: Any, **kwargs: Any) -> None:
    return None


def read_spec(path: Path, plugins: Any) -> Any:
    """The spec, its diagram read by whichever registered reader recognises it (as the CLI does)."""
    readers = [r.obj for r in plugins.registry.diagram_readers.values()]

    def read_diagram(text: str, where: str) -> Any:
        reader = next((r for r in readers if r.detect(text)), None) or next(
            r for r in readers if any(where.endswith(s) for s in r.suffixes))
        return reader.read(text, where)

    return load_spec(path, read_diagram)


async def screen(spec_path: Path, records: list[Record]) -> tuple[list[Record], Counter]:
    """Run the default filters over ``records`` as the engine would; (kept, eliminations by rule)."""
    plugins = load_plugins()
    spec = read_spec(spec_path, plugins)
    filters = choose_filters(plugins, spec)
    by_id = {r.id: r for r in records}
    kept, eliminated = [], Counter()
    for record in records:
        parent = by_id.get(record.parent_id) if record.parent_id else None
        active = [f for f in filters if parent is not None or not f.evolution_only]
        reason = None
        for f in active:
            detail = await f.check(record, parent, _no_verdict)
            if not detail and getattr(f, "recheck", None):
                detail = f.recheck(record, parent)
            if detail:
                rule = detail.split(":", 1)[0] if f.name in ("text-quality", "scenario-consistency") else ""
                reason = f"{f.name}:{rule}" if rule else f.name
                break
        if reason:
            eliminated[reason] += 1
            continue
        for f in active:
            if getattr(f, "remember", None):
                f.remember(record, parent)
        kept.append(record)
    return kept, eliminated


def grounding_row(spec_path: Path, records: list[Record]) -> list[str]:
    """The grounding figures of ``records`` (see the module docstring)."""
    from janus_core.data import grounding as g
    from janus_core.plan.graph import build_graph, edge_label, facts_of
    from janus_core.plan.voice import voice_problem

    spec = read_spec(spec_path, load_plugins())
    setup = spec.setup
    graph = build_graph(spec.diagram)
    labels = {edge_label(e): e for e in graph.edges(keys=True)}
    known = g.setup_terms(setup)
    by_id = {r.id: r for r in records}
    grounded = placeholders = 0
    users = wrong = asking = composed = turns = cuts = 0
    derived = copies = directed = adhering = 0
    for r in records:
        entities = tuple(e for e in r.walk.get("entities", []) if e in graph)
        edges = tuple(labels[x] for x in r.walk.get("relationships", []) if x in labels)
        text = " ".join(m["content"] for m in r.messages if m["role"] != "system")
        grounded += g.facts_used(text, facts_of(graph, entities, edges), known) >= 2
        placeholders += any(g.placeholder(m["content"]) for m in r.messages if m["role"] != "system")
        parent = by_id.get(r.parent_id) if r.parent_id else None
        new = r.messages[len(parent.messages):] if parent and r.messages[:len(parent.messages)] == parent.messages \
            else [m for m in r.messages if m["role"] != "system"]
        for m in new:
            if m["role"] == "system":
                continue
            turns += 1
            cuts += g.cut(m["content"])
            if m["role"] == "user":
                users += 1
                asking += g.asks(m["content"])
                wrong += bool(voice_problem(m["content"], "user", setup.user_role, setup.assistant_role))
        composed += sum(1 for t in r.usage.get("turns", []) if t.get("role") == "user" and t.get("composed"))
        if parent is not None:
            derived += 1
            added = " ".join(m["content"] for m in new)
            copies += g.near_copy(added, " ".join(m["content"] for m in parent.messages))
            if r.direction not in {d.name for d in setup.directions} and " " in r.direction:  # free text
                directed += 1
                words = g.terms(r.direction) - known
                adhering += bool(words & g.terms(added) or {w[:5] for w in words} & {w[:5] for w in g.terms(added)})

    def pct(part: int, whole: int) -> str:
        return f"{part / whole:.0%}" if whole else "-"

    return [pct(grounded, len(records)), pct(wrong, users), pct(asking, users), pct(composed, users), pct(cuts, turns),
            pct(placeholders, len(records)), pct(copies, derived), pct(adhering, directed)]


def share(records: list[Record]) -> str:
    if not records:
        return "-"
    return f"{sum(readable(r)[0] for r in records) / len(records):.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-seeds", type=int, default=3)
    parser.add_argument("--d-factor", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--generation", action="append", help="generation strategy (repeatable; default one-shot)")
    parser.add_argument("--samples", help="comma-separated sample names (default: every bundled sample)")
    parser.add_argument("--show", type=int, default=0, help="print this many records per sample")
    parser.add_argument("--work", type=Path, help="keep outputs and journals here; a rerun continues them")
    parser.add_argument("--code", type=Path, help="generate with the Janus checkout in this folder (an older "
                                                  "version, say), measure with this one")
    args = parser.parse_args()
    strategies = args.generation or ["one-shot"]
    rows: list[list[str]] = []
    grounding: list[list[str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.work:
            args.work.mkdir(parents=True, exist_ok=True)
        for sample in samples(args.samples, tmp):
            for generation in strategies:
                spec = spec_for(sample, generation, tmp)
                if spec is None:
                    print(f"{sample.name}: generation '{generation}' skipped: the spec format has no "
                          "'generation:' yet (one-shot only)", file=sys.stderr)
                    continue
                out = (args.work or tmp) / f"{sample.name}-{generation}.jsonl"
                wall, error = generate(spec, out, args)
                if error:
                    print(f"{sample.name} ({generation}): janus failed: {error}", file=sys.stderr)
                    continue
                records = [Record.from_dict(json.loads(line)) for line in out.read_text().splitlines() if line]
                kept, eliminated = asyncio.run(screen(spec, records))
                tokens = [r.usage.get("tokens_in", 0) + r.usage.get("tokens_out", 0) for r in records]
                users = [m["content"] for r in records for m in r.messages if m["role"] == "user"]
                grounding.append([sample.name, generation, "written", str(len(records)),
                                  *grounding_row(spec, records)])
                grounding.append([sample.name, generation, "kept", str(len(kept)), *grounding_row(spec, kept)])
                rows.append([sample.name, generation, str(len(records)), share(records), str(len(kept)), share(kept),
                             f"{sum(tokens) / len(tokens):.0f}" if tokens else "-",
                             f"{distinct_n(users, 2):.2f}", f"{wall:.0f}",
                             ", ".join(f"{k} {v}" for k, v in eliminated.most_common()) or "none"])
                for r in records[: args.show]:
                    ok, problems = readable(r)
                    print(f"--- {sample.name} {r.id} readable={ok} {problems[:2]}")
                    for m in r.messages:
                        print(f"  {m['role'].upper()}: {m['content'][:300]}")
    head = ["sample", "generation", "records", "readable", "kept", "readable (kept)", "tokens/record",
            "distinct-2 user", "wall s", "eliminated by rule"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    head = ["sample", "generation", "records", "count", "grounded", "wrong-voice user", "asking user",
            "user from brief", "cut turns", "placeholders", "lineage copies", "direction used"]
    print("\nGrounding, over the records written and over those the default filters keep:\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in grounding:
        print("| " + " | ".join(row) + " |")
    total = sum(int(r[2]) for r in rows)
    print(f"\n{total} records from {len(rows)} runs; --max-seeds {args.max_seeds} --d-factor {args.d_factor} "
          f"--seed {args.seed}, backend local, {args.threads} threads")


if __name__ == "__main__":
    main()
