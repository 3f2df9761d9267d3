"""Readable share of the embedded model's records, one-shot vs turns, per sample (prints a table).

    python bench/readable_share.py [--samples marriage_counsel,...] [--max-seeds 3]

A record is readable when every non-system turn has at least 3 words, ordinary English words
among them, and no runaway token over 25 characters. (The quality filters on the 'quality'
branch are the full version of this check.)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON = set("the a an i you to and is it of in that my we for be can do with this what how are not me "
             "have your our on about so but if at they will was would".split())
UNSEEN = {"setup.yaml": "description: A small bakery takes orders for birthday cakes and bread.\n"
                        "user_role: CUSTOMER\nassistant_role: BAKER\noutput_type: conversation\n",
          "diagram.mermaid": "erDiagram\n  CUSTOMER ||--o{ ORDER : places\n  ORDER ||--|{ CAKE : contains\n"
                             "  CAKE { string flavour }\n"}


def readable(record: dict) -> bool:
    for m in record["messages"]:
        if m["role"] == "system":
            continue
        words = m["content"].split()
        if len(words) < 3 or any(len(w) > 25 for w in words):
            return False
        if not COMMON & {re.sub(r"[^a-z]", "", w.lower()) for w in words}:
            return False
    return True


def run(spec: Path, generation: str, max_seeds: int, tmp: Path) -> tuple[int, int, float]:
    folder = tmp / f"{spec.name}-{generation}"
    folder.mkdir()
    for f in spec.iterdir():
        target = folder / f.name
        if f.is_dir():
            target.symlink_to(f)
        else:
            text = f.read_text()
            target.write_text(text + f"\ngeneration: {generation}\n" if f.name == "setup.yaml" else text)
    out = tmp / f"{folder.name}.jsonl"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "janus_core.cli", "generate", str(folder), "--out", str(out), "-q",
                    "--no-filters", "--max-seeds", str(max_seeds)], cwd=ROOT, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return sum(map(readable, records)), len(records), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", default="marriage_counsel,marriage_counsel_instruct,coding_assist,clinic,"
                                             "sql_schema,unseen")
    parser.add_argument("--generations", default="turns,one-shot")
    parser.add_argument("--max-seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'sample':28} {'generation':10} {'readable':>9} {'share':>6} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        unseen = tmp / "unseen"
        unseen.mkdir()
        for name, text in UNSEEN.items():
            (unseen / name).write_text(text)
        for name in args.samples.split(","):
            spec = unseen if name == "unseen" else ROOT / "samples" / name
            for generation in args.generations.split(","):
                good, total, seconds = run(spec, generation, args.max_seeds, tmp)
                share = f"{good / total:.0%}" if total else "-"
                print(f"{name:28} {generation:10} {good:>4}/{total:<4} {share:>6} {seconds:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
