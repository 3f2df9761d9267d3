"""Throughput of `janus generate` against a bare HTTP client, on the same local stub server.

    python bench/throughput.py [--latency 0.2] [--seconds 8] [--concurrency 64 256]

For each concurrency C, in one run and against one stub server with fixed latency, it measures:

- a bare aiohttp client keeping C requests in flight (one shared session, the same keep-alive
  connector as Janus) that replays Janus's own request bodies and does nothing with the replies;
- `janus generate` (openai backend, aiohttp transport, default filters, journal on) at --concurrency C.

It prints both rates (requests/s), their ratio (target: Janus >= 0.95 of the bare client), each
against the Little's-law bound C/latency, Janus's CPU per request (the engine's own, measured while
requests run, and the whole process's, start-up included) and Janus's peak RSS. The bodies the
bare client sends are the first requests of a short Janus run, recorded by the stub server.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import time
from pathlib import Path

from common import StubServer, janus_cmd, run_janus_measured

CONTEXTS_X_DIRECTIONS = 60  # samples/clinic: 30 seed contexts x 2 seed directions


async def bare_client(url: str, bodies: list[bytes], concurrency: int, total: int) -> float:
    """Requests/s of a client that keeps ``concurrency`` requests in flight until ``total`` are answered."""
    import aiohttp

    headers = {"Authorization": "Bearer bench-key-not-secret", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), headers=headers) as session:
        counter = iter(range(total))

        async def worker() -> None:
            for i in counter:
                async with session.post(url, data=bodies[i % len(bodies)]) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=8.0, help="target length of each run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--transport", default="aiohttp", choices=["aiohttp", "sdk", "sdk-httpx"])
    parser.add_argument("--structured", default="auto", help="the openai backend's structured option: auto "
                        "(every request starts in json_schema; the first the server takes settles it), or a "
                        "forced mode the stub takes (json_schema)")
    parser.add_argument("--mode-cache", choices=["fresh", "kept"], default="fresh",
                        help="fresh (default): each Janus run starts with an empty cache of structured-output "
                        "modes, as on first contact with a server; kept: runs share one, as on a user's machine")
    args = parser.parse_args()
    print(f"latency {args.latency * 1000:.0f} ms, transport {args.transport}, structured {args.structured}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JANUS_CACHE_DIR"] = str(Path(tmp) / "cache")  # never the user's own cache
        dump = Path(tmp) / "bodies.jsonl"
        with StubServer(args.latency, dump=dump) as server:
            # a short Janus run first: its bodies are what the bare client sends
            run_janus_measured(janus_cmd(server.base_url, Path(tmp) / "warm.jsonl", "--s-factor", "4",
                                         "--d-factor", "0"))
            bodies = dump.read_bytes().splitlines()
            url = server.base_url + "/chat/completions"
            print(f"{'conc':>5} {'requests':>9} {'bare req/s':>11} {'janus req/s':>12} {'ratio':>6} "
                  f"{'bare/bound':>11} {'janus/bound':>12} {'engine cpu ms/req':>18} {'process cpu ms/req':>19} "
                  f"{'peak RSS MB':>12}")
            for c in args.concurrency:
                bound = c / args.latency
                s_factor = max(1, math.ceil(bound * args.seconds / CONTEXTS_X_DIRECTIONS))
                if args.mode_cache == "fresh":
                    os.environ["JANUS_CACHE_DIR"] = str(Path(tmp) / f"cache-{c}")
                cmd = janus_cmd(server.base_url, Path(tmp) / f"c{c}.jsonl", "--concurrency", str(c),
                                "--s-factor", str(s_factor), "--d-factor", "0", "--option",
                                f"transport={args.transport}", "--option", f"structured={args.structured}")
                summary, cpu, rss = run_janus_measured(cmd)
                janus = summary["requests"] / summary["seconds"]
                bare = asyncio.run(bare_client(url, bodies, c, summary["requests"]))
                engine_cpu = summary["cpu_seconds"] / summary["requests"] * 1000
                print(f"{c:>5} {summary['requests']:>9} {bare:>11.1f} {janus:>12.1f} {janus / bare:>6.3f} "
                      f"{bare / bound:>11.2f} {janus / bound:>12.2f} {engine_cpu:>18.3f} "
                      f"{cpu / summary['requests'] * 1000:>19.3f} {rss:>12.1f}", flush=True)


if __name__ == "__main__":
    main()
