"""Pace against a provider's limit, whatever shape its limiter has: a stand-in server on 127.0.0.1.

    python bench/ratelimit.py [--seconds 240] [--parallel 8] [--shape sliding-60 ...] [--code DIR]

Every scenario is one stand-in (bench/stub_server.py) and one `janus generate` with no --rpm: Janus must
find the limit from 429s, or from the rate-limit headers where the server sends them. The scenarios
cross four limiter shapes (bench/limiters.py: a sliding 60-second log, a window reset on the minute, a
token bucket holding a second of the limit, a sliding 10-second window), 0 % and 30 % of admitted
requests answered 500, headers or none (OpenAI's on the sliding log and the 10-second window,
Anthropic's on the minute window, the IETF draft's on the bucket), and which limit binds: 300 requests
a minute, or 19,500 tokens a minute (150 requests of 130 tokens) under 600 requests a minute.

Each run lasts at least --seconds (the plan holds more work than the limit allows in that time; the
run is stopped after it). For the time from the second minute on it prints what the server let
through a minute (200s and 500s: a 500 uses a slot of the limit, as at real providers) as a share of
the binding limit (target >= 0.9), and the share of requests answered 429 (target < 5 %). --code runs
another checkout of Janus (for a before/after table).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, StubServer, janus_cmd
from stub_server import TOKENS

STYLES = {"sliding-60": "openai", "fixed-60": "anthropic", "bucket": "ietf", "window-10": "openai"}
LIMITS = {"requests": (300.0, None), "tokens": (600.0, 19_500.0)}  # (rpm, tpm)
CONTEXTS_X_DIRECTIONS = 60


def scenario(shape: str, limit: str, fail: float, headers: bool, args: argparse.Namespace) -> dict:
    rpm, tpm = LIMITS[limit]
    binding = tpm / TOKENS if tpm else rpm  # requests a minute the binding limit allows
    jobs = int(binding / 60 * args.seconds * 1.5)  # more than fits: the run never runs out of work
    s_factor = max(1, -(-jobs // CONTEXTS_X_DIRECTIONS))
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with StubServer(args.latency, rpm=rpm, tpm=tpm, log=log, fail=fail, shape=shape,
                        headers=STYLES[shape] if headers else None, whole_seconds=args.whole_seconds,
                        count_rejected=args.count_rejected) as server:
            cmd = janus_cmd(server.base_url, Path(tmp) / "o.jsonl", "--concurrency", str(args.concurrency),
                            "--s-factor", str(s_factor), "--d-factor", "0", "--retries", "8", "--no-filters")
            env = {**os.environ, "OPENAI_API_KEY": "bench-key-not-secret"}
            if args.code:
                env["PYTHONPATH"] = f"{args.code}:{args.code}/plugins"
            started = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                    cwd=args.code or ROOT, start_new_session=True)
            try:
                proc.wait(timeout=args.seconds + 30)
                finished = True
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                finished = False
            wall = time.monotonic() - started
        rows = [(float(t), status) for t, status, _ in (line.split() for line in log.read_text().splitlines())]
    if not rows:
        return {"wall": wall, "finished": finished, "share": 0.0, "share_429": 0.0, "per_min": 0.0, "requests": 0}
    first = min(t for t, _ in rows)
    end = min(max(t for t, _ in rows), first + args.seconds)
    steady = [s for t, s in rows if first + 60 <= t <= end]
    span = max(1e-9, end - first - 60)
    passed = sum(1 for s in steady if s != "429")
    return {"wall": wall, "finished": finished, "per_min": passed / span * 60, "share": passed / span * 60 / binding,
            "share_429": sum(1 for s in steady if s == "429") / max(1, len(steady)), "requests": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=240, help="length of each run (at least 240 for the table)")
    parser.add_argument("--parallel", type=int, default=8, help="scenarios run at once")
    parser.add_argument("--shape", action="append", choices=sorted(STYLES), help="only these shapes")
    parser.add_argument("--limit", action="append", choices=sorted(LIMITS), help="only these binding limits")
    parser.add_argument("--fail", type=float, action="append", help="share(s) of 500s (default 0 and 0.3)")
    parser.add_argument("--headers", choices=["yes", "no", "both"], default="both")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--whole-seconds", action="store_true",
                        help="the server says Retry-After in whole seconds only (no retry-after-ms)")
    parser.add_argument("--count-rejected", action="store_true",
                        help="requests answered 429 count against the limit too, as some providers count them")
    parser.add_argument("--code", type=Path, help="a checkout of Janus to run instead of this one")
    args = parser.parse_args()
    cases = [(shape, limit, fail, headers) for shape in (args.shape or list(STYLES)) for limit in (args.limit or
             list(LIMITS)) for fail in (args.fail if args.fail is not None else [0.0, 0.3])
             for headers in {"yes": [True], "no": [False], "both": [False, True]}[args.headers]]
    code = args.code or ROOT
    hint = "Retry-After in whole seconds" if args.whole_seconds else "Retry-After and retry-after-ms"
    hint += ", 429s count against the limit" if args.count_rejected else ""
    print(f"janus: {code}; no --rpm, concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms, {hint}; "
          f"{len(cases)} runs of {args.seconds:.0f} s, {args.parallel} at once; steady state from 60 s", flush=True)
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda case: scenario(*case, args), cases))
    print("| limiter | binding limit | 500s | headers | requests | let through/min (steady) | share of limit "
          "| 429 share (steady) |")
    print("|---|---|---|---|---|---|---|---|")
    for (shape, limit, fail, headers), r in zip(cases, results, strict=True):
        rpm, tpm = LIMITS[limit]
        stated = f"{tpm:,.0f} tokens/min" if tpm else f"{rpm:.0f} requests/min"
        ok = "" if r["share"] >= 0.9 and r["share_429"] < 0.05 else " **below target**"
        print(f"| {shape} | {stated} | {fail * 100:.0f} % | {STYLES[shape] if headers else 'none'} | "
              f"{r['requests']} | {r['per_min']:.0f} | {r['share']:.3f}{ok} | {r['share_429'] * 100:.1f} % |",
              flush=True)
    worst = min(results, key=lambda r: r["share"])
    print(f"lowest share {worst['share']:.3f}; highest 429 share {max(r['share_429'] for r in results) * 100:.1f} %")


if __name__ == "__main__":
    sys.exit(main())
