"""Peak memory of `janus generate` while it writes 50,000 records (target: under 250 MB, flat).

    python bench/memory.py [--records 50000] [--concurrency 64] [--latency 0.005]

Samples the process's resident set size while it runs and prints it against the records
written so far, so growth with the record count would show. The run has ``--target`` set to the
record count, so exactly that many records are written whatever the filters drop (the stub
server's replies lose about a third to the text-quality filter).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import StubServer, janus_cmd

CONTEXTS_X_DIRECTIONS = 60


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.005)
    args = parser.parse_args()
    s_factor = math.ceil(args.records * 2 / CONTEXTS_X_DIRECTIONS)  # room for what the filters drop
    with StubServer(args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "big.jsonl"
        cmd = janus_cmd(server.base_url, out, "--concurrency", str(args.concurrency), "--s-factor", str(s_factor),
                        "--d-factor", "0", "--target", str(args.records))
        started = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "OPENAI_API_KEY": "bench"})
        samples: list[tuple[float, int, float]] = []
        while proc.poll() is None:
            try:
                samples.append((time.time() - started, count_lines(out), rss_mb(proc.pid)))
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.5)
        written = count_lines(out)
        size = out.stat().st_size / 1e6 if out.exists() else 0
    print(f"{written} records written ({size:.0f} MB of JSONL) in {time.time() - started:.0f} s, "
          f"exit code {proc.returncode}")
    print(f"{'seconds':>8} {'records':>8} {'RSS MB':>8}")
    step = max(1, len(samples) // 12)
    for t, n, rss in samples[::step]:
        print(f"{t:>8.1f} {n:>8} {rss:>8.1f}")
    peak = max(rss for _, _, rss in samples)
    early = [rss for _, n, rss in samples if 0 < n <= written * 0.2] or [samples[0][2]]
    late = [rss for _, n, rss in samples if n >= written * 0.8] or [samples[-1][2]]
    print(f"peak RSS {peak:.1f} MB (target < 250); RSS at 0-20% of records {max(early):.1f} MB, "
          f"at 80-100% {max(late):.1f} MB: growth {max(late) - max(early):+.1f} MB")


if __name__ == "__main__":
    main()
