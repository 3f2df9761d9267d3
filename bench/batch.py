"""Bookkeeping speed of `janus generate --batch`: requests/s through the batch path when the provider
answers at once (the stand-in Batch API of the tests, finishing on its first poll).

    python bench/batch.py [--requests 100000] [--provider openai|anthropic|gemini]

Seeds of samples/clinic (60 seed contexts x directions, --s-factor to reach --requests), no
evolutions, no filters: what is measured is Janus's own work per batched request (holding it,
writing the JSONL, uploading, reading the results back, parsing, the journal), not the provider's
hours. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from batch_servers import AnthropicServer, GeminiBatchServer, OpenAIBatchServer, anthropic_message  # noqa: E402
from servers import chat_completion, gemini_content  # noqa: E402

CONTEXTS_X_DIRECTIONS = 60


KEY = "bench-key-not-secret"


def turns(size: int) -> str:
    return json.dumps({"turns": [{"user": f"Question {size} about the clinic's hours?",
                                  "assistant": "The clinic opens at eight and closes at six on weekdays."}]})


def reply(body: dict) -> dict:
    return chat_completion(turns(len(body["messages"][0]["content"])), model=body["model"])


def anthropic_reply(params: dict) -> dict:
    return anthropic_message(turns(len(params["messages"][0]["content"])), params["model"])


def gemini_reply(request: dict) -> dict:
    return gemini_content(turns(len(json.dumps(request["contents"]))), model="gemini-2.5-flash")


#: provider -> (stand-in server, backend arguments, key variable)
PROVIDERS = {
    "openai": (lambda: OpenAIBatchServer(reply, polls=0), ["--model", "gpt-4o-mini"], "OPENAI_API_KEY"),
    "anthropic": (lambda: AnthropicServer(anthropic_reply, KEY, polls=0), ["--model", "claude-haiku-4-5"],
                  "ANTHROPIC_API_KEY"),
    "gemini": (lambda: GeminiBatchServer(gemini_reply, KEY, polls=0), ["--model", "gemini-2.5-flash"],
               "GEMINI_API_KEY"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="openai")
    args = parser.parse_args()
    s_factor = max(1, math.ceil(args.requests / CONTEXTS_X_DIRECTIONS))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    make_server, backend_args, key_env = PROVIDERS[args.provider]
    with tempfile.TemporaryDirectory() as tmp, make_server() as server:
        out = Path(tmp) / "b.jsonl"
        cmd = [sys.executable, "-m", "janus_core.cli", "generate", str(ROOT / "samples" / "clinic"), "--backend",
               args.provider, *backend_args, "--option", f"base_url={server.base_url}", "--out", str(out),
               "--s-factor", str(s_factor), "--d-factor", "0", "--no-filters", "--batch", "--batch-poll", "0.2",
               "--log-json", "-q"]
        started = time.perf_counter()
        done = subprocess.run(cmd, env={**os.environ, key_env: KEY},
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr[-2000:])
            raise SystemExit(done.returncode)
        summary = json.loads([line for line in done.stderr.splitlines() if '"summary"' in line][-1])
    requests = summary["batches"]["requests"]
    print(f"{args.provider}: {requests} batched requests in {summary['batches']['submitted']} batches; "
          f"{summary['records']} records")
    print(f"engine {summary['seconds']:.1f} s = {requests / summary['seconds']:.0f} requests/s of bookkeeping "
          f"(whole command {wall:.1f} s, engine CPU {summary['cpu_seconds'] / max(requests, 1) * 1000:.2f} ms/request)")


if __name__ == "__main__":
    main()
