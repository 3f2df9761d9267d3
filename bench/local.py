"""Tokens per second of `janus generate` with the embedded local model against raw llama-cpp-python.

    python bench/local.py [--seeds 16] [--threads 2] [--sequences 1 2 4 8 16] [--sample clinic]

Runs `janus generate SAMPLE --backend local` (the README's sample, turn by turn, by default) for a
few seed requests, with a bench plugin that notes each request the local backend receives. Then
replays exactly those requests (messages, JSON schema or plain-text sampling, max_tokens,
temperature, seed) through llama_cpp.Llama.create_chat_completion with the same model, context and
threads, one at a time. Janus runs once per ``--sequences`` value (its ``--concurrency``:
conversations decoded together) and the table prints the curve. Rates are generated tokens over
wall time, model load included (Janus's from its engine timer, the raw one around load and calls).
Target: >= 1.5 x raw at the default of 8; the records must not change with the number.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import SAMPLE, run_janus_measured

RECORDER = '''
import json, os
from janus_core import hookimpl
from janus_plugins.local import LocalBackend
from janus_core.sdk.schema import max_json_chars

class RecordingLocal(LocalBackend):
    """The local backend, noting each request it gets (for bench/local.py's raw replay)."""
    name = "local-recording"

    async def complete(self, request):
        max_tokens = request.max_tokens or (max_json_chars(request.schema) if request.schema is not None else 512)
        with open(os.environ["JANUS_BENCH_REQUESTS"], "a") as f:
            f.write(json.dumps({"messages": request.messages, "schema": request.schema, "max_tokens": max_tokens,
                                "temperature": request.temperature, "seed": request.seed,
                                "sampling": self.sampling if request.schema is None else {}}) + "\\n")
        return await super().complete(request)

@hookimpl
def register_backends(register):
    register(RecordingLocal)
'''


def raw(requests: list[dict], model_path: str, threads: int, n_ctx: int) -> tuple[int, float]:
    from llama_cpp import Llama

    started = time.perf_counter()
    llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, verbose=False)
    tokens = 0
    for r in requests:
        kwargs = {"response_format": {"type": "json_object", "schema": r["schema"]}} if r["schema"] else {}
        kwargs.update(r["sampling"])
        reply = llama.create_chat_completion(messages=r["messages"], max_tokens=r["max_tokens"],
                                             temperature=r["temperature"],
                                             seed=r["seed"] if r["seed"] is not None else -1, **kwargs)
        tokens += reply["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - started


def janus_run(spec: Path, plugin: Path, log: Path, out: Path, seeds: int, threads: int, sequences: int) -> dict:
    """One `janus generate` with the recording local backend; the requests it made go to ``log``."""
    log.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "janus_core.cli", "--plugin", str(plugin), "generate", str(spec),
           "--backend", "local-recording", "--option", f"threads={threads}", "--concurrency", str(sequences),
           "--out", str(out), "--max-seeds", str(seeds), "--s-factor", str(seeds), "--d-factor", "0", "--log-json",
           "--quiet", "--overwrite"]
    summary, _, _ = run_janus_measured(cmd)
    summary["requests"] = [json.loads(line) for line in log.read_text().splitlines()]
    summary["texts"] = {r["id"]: r["messages"] for r in map(json.loads, out.read_text().splitlines())}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=16, help="seed records (no evolutions): enough conversations "
                        "to keep every sequence busy")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sequences", type=int, nargs="+", default=[1, 2, 4, 8, 16],
                        help="--concurrency values: conversations decoded together")
    parser.add_argument("--sample", default="marriage_counsel", help="a bundled sample (default: the README's)")
    parser.add_argument("--generation", choices=["turns", "one-shot"], help="default: the local backend's (turns)")
    args = parser.parse_args()
    from janus_plugins.local import bundled_model_path

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs: dict[int, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        plugin, log = Path(tmp) / "recording_local.py", Path(tmp) / "requests.jsonl"
        plugin.write_text(RECORDER)
        os.environ["JANUS_BENCH_REQUESTS"] = str(log)
        spec = SAMPLE.parent / args.sample
        if args.generation:
            spec = Path(tmp) / "spec"
            shutil.copytree(SAMPLE.parent / args.sample, spec)
            with (spec / "setup.yaml").open("a", encoding="utf-8") as f:
                f.write(f"\ngeneration: {args.generation}\n")
        for n in args.sequences:
            runs[n] = janus_run(spec, plugin, log, Path(tmp) / f"local-{n}.jsonl", args.seeds, args.threads, n)
    first = runs[args.sequences[0]]
    tokens, seconds = raw(first["requests"], str(bundled_model_path()), args.threads, 4096)
    raw_rate = tokens / seconds
    print(f"raw llama-cpp-python, one request at a time: {len(first['requests'])} requests, {tokens} tokens in "
          f"{seconds:.2f} s = {raw_rate:.1f} tokens/s")
    print("sequences  requests  tokens  seconds  tokens/s  x raw  same records as the first run")
    for n, run in runs.items():
        rate = run["tokens_out"] / run["seconds"]
        same = sum(first["texts"].get(key) == messages for key, messages in run["texts"].items())
        print(f"{n:>9}  {len(run['requests']):>8}  {run['tokens_out']:>6}  {run['seconds']:>7.2f}  {rate:>8.1f}  "
              f"{rate / raw_rate:>5.2f}  {same}/{len(run['texts'])}")
    print("target: >= 1.5 x raw at the default (8)")


if __name__ == "__main__":
    main()
