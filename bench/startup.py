"""Start-up time of `janus --help` (target: under 0.3 s). Prints figures; asserts nothing.

    python bench/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3


def timed(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    janus = shutil.which("janus")
    cmd = [janus, "--help"] if janus else [sys.executable, "-m", "janus_core.cli", "--help"]
    timed(cmd, 2)  # warm the file cache
    base = timed([sys.executable, "-c", "pass"], args.runs)
    help_times = timed(cmd, args.runs)
    median = statistics.median(help_times)
    print(f"python -c pass   median {statistics.median(base) * 1000:7.1f} ms")
    print(f"janus --help     median {median * 1000:7.1f} ms  min {min(help_times) * 1000:.1f} ms  "
          f"max {max(help_times) * 1000:.1f} ms  ({args.runs} runs)")
    print(f"target {TARGET_S * 1000:.0f} ms: ratio {median / TARGET_S:.2f} of target "
          f"({'within' if median < TARGET_S else 'OVER'} target)")


if __name__ == "__main__":
    main()
