"""Adaptive throttling against a server that enforces 600 requests/min with 429s.

    python bench/ratelimit.py [--rpm 600] [--seconds 90] [--concurrency 64]

Janus is given no rate: it must find the limit from the 429s (and their Retry-After). Prints,
for the time after the first 30 s, the achieved rate against the limit (target: at least 0.9)
and the share of requests answered 429 (target: under 2%).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import tempfile
import time
from pathlib import Path

from common import StubServer, janus_cmd

CONTEXTS_X_DIRECTIONS = 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpm", type=float, default=600)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        limit = args.rpm / 60
        planned = int(limit * args.seconds * 1.5)
        s_factor = math.ceil(planned / CONTEXTS_X_DIRECTIONS)
        with StubServer(args.latency, rpm=args.rpm, log=log) as server:
            cmd = janus_cmd(server.base_url, Path(tmp) / "o.jsonl", "--concurrency", str(args.concurrency),
                            "--s-factor", str(s_factor), "--d-factor", "0")
            started = time.time()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env={**__import__("os").environ, "OPENAI_API_KEY": "bench"})
            time.sleep(args.seconds)
            proc.terminate()
            proc.wait()
        rows = [line.split() for line in log.read_text().splitlines()]
    first = min(float(t) for t, _, _ in rows)
    after = [(float(t), status) for t, status, _ in rows if float(t) >= first + args.warmup]
    span = max(t for t, _ in after) - min(t for t, _ in after)
    ok = sum(1 for _, s in after if s == "200")
    limited = sum(1 for _, s in after if s == "429")
    total_429 = sum(1 for _, s, _ in rows if s == "429")
    rate = ok / span
    print(f"limit {limit:.2f} req/s ({args.rpm:.0f}/min), concurrency {args.concurrency}, "
          f"latency {args.latency * 1000:.0f} ms, run {time.time() - started:.0f} s")
    print(f"whole run: {len(rows)} requests, {total_429} answered 429")
    print(f"after {args.warmup:.0f} s: {ok} ok, {limited} answered 429 over {span:.1f} s")
    print(f"achieved {rate:.2f} req/s = {rate / limit:.3f} of the limit (target >= 0.9); "
          f"429 share {limited / max(1, ok + limited) * 100:.2f}% (target < 2%)")


if __name__ == "__main__":
    main()
