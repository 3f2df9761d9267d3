"""Adaptive throttling against a stand-in server on 127.0.0.1 that enforces N requests/min with 429s.

    python bench/ratelimit.py [--rpm 600] [--window 10] [--fail 0 --fail 0.3] [--seconds 90]

The server (bench/stub_server.py) lets at most rpm * window / 60 requests through in any --window
seconds (--window 0: a token bucket of one second), answers 429 with Retry-After and, with --fail,
answers that share of the requests it lets through with 500. Janus is given no
rate: it must find the limit from the 429s. Each scenario plans about --seconds of work at the
limit, runs it to the end (killed after --timeout) and prints, for the time after --warmup and
before the last --drain seconds: the
requests per minute the server let through (200 and 500) against the limit (target >= 0.9) and the
share of requests answered 429 (target < 2 %); for the whole run: its time, 429s and the failures
Janus recorded by reason (target: no rate_limit failure).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import StubServer, janus_cmd

CONTEXTS_X_DIRECTIONS = 60


def scenario(rpm: float, fail: float, window: float | None, args: argparse.Namespace) -> dict:
    limit = rpm / 60
    # requests needed: one per job, plus the retries of the 500s
    jobs = int(limit * args.seconds * (1 - fail))
    s_factor = max(1, math.ceil(jobs / CONTEXTS_X_DIRECTIONS))
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with StubServer(args.latency, rpm=rpm, log=log, fail=fail, window=window) as server:
            cmd = janus_cmd(server.base_url, Path(tmp) / "o.jsonl", "--concurrency", str(args.concurrency),
                            "--s-factor", str(s_factor), "--d-factor", "0", "--retries", str(args.retries))
            started = time.monotonic()
            try:
                result = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout,
                                        env={**os.environ, "OPENAI_API_KEY": "bench-key-not-secret"})
                stderr, finished = result.stderr, True
            except subprocess.TimeoutExpired as exc:
                output = exc.stderr or b""
                stderr, finished = output.decode() if isinstance(output, bytes) else output, False
            wall = time.monotonic() - started
        rows = [(float(t), status) for t, status, _ in (line.split() for line in log.read_text().splitlines())]
    summary = next((json.loads(line) for line in reversed(stderr.splitlines())
                    if line.startswith("{") and '"summary"' in line), None)
    first, last = min(t for t, _ in rows), max(t for t, _ in rows)
    # steady state: after the warm-up, and before the last --drain seconds, when the last jobs
    # wait out their 5xx backoffs and too little work is left to fill the limit
    end = last - args.drain
    steady = [(t, s) for t, s in rows if first + args.warmup <= t <= end]
    span = max(1e-9, end - (first + args.warmup))
    admitted = sum(1 for _, s in steady if s != "429")
    ok = sum(1 for _, s in steady if s == "200")
    limited = sum(1 for _, s in steady if s == "429")
    return {"rpm": rpm, "fail": fail, "jobs": s_factor * CONTEXTS_X_DIRECTIONS, "finished": finished,
            "wall": wall, "requests": len(rows), "429_all": sum(1 for _, s in rows if s == "429"),
            "admitted_per_min": admitted / span * 60, "ok_per_min": ok / span * 60,
            "ratio": admitted / span * 60 / rpm, "share_429": limited / max(1, len(steady)),
            "failures": (summary or {}).get("failures"), "records": (summary or {}).get("records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rpm", type=float, default=600, help="the server's limit, requests per minute")
    parser.add_argument("--window", type=float, default=10,
                        help="seconds of the server's sliding window (0: a token bucket of one second)")
    parser.add_argument("--fail", type=float, action="append", help="share(s) of 500s (default 0 and 0.3)")
    parser.add_argument("--seconds", type=float, default=90, help="work planned, in seconds at the limit")
    parser.add_argument("--timeout", type=float, default=240, help="kill a scenario after this long")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--drain", type=float, default=10, help="seconds at the end left out of the steady state")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--retries", type=int, default=4)
    args = parser.parse_args()
    limiter = f"sliding window {args.window:g} s" if args.window else "token bucket 1 s"
    print(f"server: {args.rpm:.0f}/min, {limiter}; janus: no --rpm, concurrency {args.concurrency}, "
          f"latency {args.latency * 1000:.0f} ms, --retries {args.retries}; steady state from {args.warmup:.0f} s to "
          f"{args.drain:.0f} s before the end")
    print("| limit | 500s | jobs | run time | finished | let through/min (steady) | ratio | ok/min "
          "| 429 share (steady) | 429s (whole run) | failures |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fail in args.fail if args.fail is not None else [0.0, 0.3]:
        r = scenario(args.rpm, fail, args.window or None, args)
        failures = "(no summary)" if r["failures"] is None else \
            ", ".join(f"{k} {v}" for k, v in sorted(r["failures"].items())) or "none"
        print(f"| {args.rpm:.0f}/min | {fail * 100:.0f} % | {r['jobs']} | {r['wall']:.0f} s | "
              f"{'yes' if r['finished'] else 'NO (killed)'} | {r['admitted_per_min']:.0f} | {r['ratio']:.3f} | "
              f"{r['ok_per_min']:.0f} | {r['share_429'] * 100:.2f} % | {r['429_all']} of {r['requests']} | "
              f"{failures} |", flush=True)


if __name__ == "__main__":
    main()
