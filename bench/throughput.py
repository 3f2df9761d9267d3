"""Throughput of `janus generate` against a local OpenAI-compatible server with fixed latency.

    python bench/throughput.py [--latency 0.2] [--seconds 8] [--concurrency 8 64 256]

For each concurrency C it prints achieved requests/s against the Little's-law bound C/latency
(target: ratio >= 0.95) and CPU time per request (target: under 1 ms): the engine's (measured
inside the process while requests run) and the whole process's (start-up and imports included).
The rate uses the engine's own wall time.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from common import StubServer, janus_cmd, run_janus

CONTEXTS_X_DIRECTIONS = 60  # samples/clinic: 30 seed contexts x 2 seed directions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=8.0, help="target length of each run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--transport", default="aiohttp", choices=["aiohttp", "httpx"])
    args = parser.parse_args()
    print(f"latency {args.latency * 1000:.0f} ms, transport {args.transport}")
    print(f"{'conc':>5} {'requests':>9} {'req/s':>8} {'bound':>8} {'ratio':>6} {'engine cpu ms/req':>18} "
          f"{'process cpu ms/req':>19}")
    with StubServer(args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        for c in args.concurrency:
            bound = c / args.latency
            s_factor = max(1, math.ceil(bound * args.seconds / CONTEXTS_X_DIRECTIONS))
            cmd = janus_cmd(server.base_url, Path(tmp) / f"c{c}.jsonl", "--concurrency", str(c),
                            "--s-factor", str(s_factor), "--d-factor", "0", "--option", f"transport={args.transport}")
            summary, cpu = run_janus(cmd)
            rps = summary["requests"] / summary["seconds"]
            engine_cpu = summary["cpu_seconds"] / summary["requests"] * 1000
            print(f"{c:>5} {summary['requests']:>9} {rps:>8.1f} {bound:>8.1f} {rps / bound:>6.2f} {engine_cpu:>18.3f} "
                  f"{cpu / summary['requests'] * 1000:>19.3f}", flush=True)


if __name__ == "__main__":
    main()
