"""Tokens per second of `janus generate` with the embedded local model against raw llama-cpp-python.

    python bench/local.py [--seeds 4] [--threads 2]

Runs `janus generate samples/clinic --backend local` for a few seed requests (their replies are
bounded by the output type's schema), with a bench plugin that notes each request the local
backend receives. Then replays exactly those requests (messages, JSON schema, max_tokens,
temperature, seed) through llama_cpp.Llama.create_chat_completion with the same model, context and
threads. Both rates are generated tokens over wall time, model load included (Janus's from its
engine timer, the raw one around load and calls). Target: Janus >= 0.9 of raw.
"""

from __future__ import annotations

import argparse
import json
import os
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
                                "temperature": request.temperature, "seed": request.seed}) + "\\n")
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
        reply = llama.create_chat_completion(messages=r["messages"], max_tokens=r["max_tokens"],
                                             temperature=r["temperature"],
                                             seed=r["seed"] if r["seed"] is not None else -1, **kwargs)
        tokens += reply["usage"]["completion_tokens"]
    return tokens, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=4, help="seed requests (no evolutions)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from janus_plugins.local import bundled_model_path

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        plugin, log = Path(tmp) / "recording_local.py", Path(tmp) / "requests.jsonl"
        plugin.write_text(RECORDER)
        os.environ["JANUS_BENCH_REQUESTS"] = str(log)
        cmd = [sys.executable, "-m", "janus_core.cli", "--plugin", str(plugin), "generate", str(SAMPLE),
               "--backend", "local-recording", "--option", f"threads={args.threads}", "--out",
               str(Path(tmp) / "local.jsonl"), "--max-seeds", str(args.seeds), "--d-factor", "0", "--log-json",
               "--quiet", "--overwrite"]
        summary, _, _ = run_janus_measured(cmd)
        requests = [json.loads(line) for line in log.read_text().splitlines()]
    janus = summary["tokens_out"] / summary["seconds"]
    tokens, seconds = raw(requests, str(bundled_model_path()), args.threads, 4096)
    raw_rate = tokens / seconds
    print(f"{len(requests)} requests; janus {summary['tokens_out']} tokens in {summary['seconds']:.2f} s = "
          f"{janus:.1f} tokens/s; raw llama-cpp-python {tokens} tokens in {seconds:.2f} s = {raw_rate:.1f} tokens/s; "
          f"ratio {janus / raw_rate:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
