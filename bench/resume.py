"""Kill `janus generate` with SIGKILL at random points, rerun to completion, count the damage.

    python bench/resume.py [--kills 10] [--seed 1]

Prints records lost and duplicated (targets 0 and 0) and requests paid twice (target 0): a
request the server answered more than once although its first answer went out more than 50 ms
before a kill. Requests in flight at a kill are answered by the server to a dead process, so
Janus never had them; they are sent again and counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import StubServer, janus_cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--s-factor", type=int, default=10, help="samples/clinic: 600 seeds, 1800 records at 10")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    env = {**os.environ, "OPENAI_API_KEY": "bench"}
    with tempfile.TemporaryDirectory() as tmp:
        log, out = Path(tmp) / "server.log", Path(tmp) / "o.jsonl"
        kills: list[float] = []
        with StubServer(args.latency, log=log) as server:
            base = janus_cmd(server.base_url, out, "--concurrency", "16", "--s-factor", str(args.s_factor))
            base.remove("--overwrite")
            subprocess.run([*base, "--dry-run"], check=True, capture_output=True, env=env)
            for _ in range(args.kills):
                proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
                time.sleep(rng.uniform(1.0, 3.0))
                kills.append(time.time())
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            final = subprocess.run(base, capture_output=True, text=True, env=env)
            summary = next(json.loads(line) for line in reversed(final.stderr.splitlines())
                           if '"summary"' in line)
        lines = out.read_text().splitlines()
        ids = [json.loads(line)["id"] for line in lines]
        answers: dict[str, list[float]] = defaultdict(list)
        for row in log.read_text().splitlines():
            t, status, key = row.split()
            if status == "200":
                answers[key].append(float(t))
    planned = summary["records"] + summary["resumed"]
    expected = args.s_factor * 60 * 3  # seeds x (1 + 2 derivational directions)
    repeats = {k: ts for k, ts in answers.items() if len(ts) > 1}
    in_flight = [ts for ts in repeats.values()
                 if any(kill - 0.05 <= ts[0] <= kill + args.latency + 1.0 for kill in kills)]
    paid_twice = len(repeats) - len(in_flight)
    print(f"{args.kills} kills with SIGKILL, then a run to completion (exit code {final.returncode})")
    print(f"records expected {expected}, in the file {len(lines)}, unique {len(set(ids))}, "
          f"journal says {planned}")
    print(f"lost records: {expected - len(set(ids))} (target 0)")
    print(f"duplicated records: {len(ids) - len(set(ids))} (target 0)")
    print(f"requests answered twice: {len(repeats)}: {len(in_flight)} were in flight at a kill, "
          f"{paid_twice} paid twice (target 0)")
    print(f"requests answered in total: {sum(len(ts) for ts in answers.values())} for "
          f"{len(answers)} distinct requests")


if __name__ == "__main__":
    main()
