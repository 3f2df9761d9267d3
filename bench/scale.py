"""How `janus generate --executor ray` scales with workers on this machine, against the local path.

    python bench/scale.py [--workers 1 2 4] [--concurrency 32] [--latency 0.05] [--records 3000]

Against the stub server (fixed latency), runs the same plan (samples/clinic seeds, no evolutions)
locally and on a local Ray cluster with 1, 2 and 4 workers, each worker at --concurrency. Prints
records/s, each against the local path, and the driver's wall time per record over the local one
(the Ray path's overhead: worker start, scratch journals, the driver's gathering). Figures only.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

from common import StubServer, janus_cmd, run_janus

CONTEXTS_X_DIRECTIONS = 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--records", type=int, default=3000)
    args = parser.parse_args()
    s_factor = max(1, math.ceil(args.records / CONTEXTS_X_DIRECTIONS))
    print(f"latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency} per worker, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    print(f"{'path':>10} {'records':>8} {'seconds':>8} {'records/s':>10} {'vs local':>9} {'s/record vs local':>18}")
    with tempfile.TemporaryDirectory() as tmp, StubServer(args.latency) as server:
        base = ("--concurrency", str(args.concurrency), "--s-factor", str(s_factor), "--d-factor", "0",
                "--no-filters")
        local, _ = run_janus(janus_cmd(server.base_url, Path(tmp) / "local.jsonl", *base))
        local_rate = local["records"] / local["seconds"]
        print(f"{'local':>10} {local['records']:>8} {local['seconds']:>8.1f} {local_rate:>10.1f} {1.0:>9.2f} "
              f"{1.0:>18.2f}")
        for n in args.workers:
            summary, _ = run_janus(janus_cmd(server.base_url, Path(tmp) / f"ray{n}.jsonl", *base, "--executor", "ray",
                                             "--workers", str(n)))
            rate = summary["records"] / summary["seconds"]
            per_record = (summary["seconds"] / summary["records"]) / (local["seconds"] / local["records"])
            print(f"{f'ray x{n}':>10} {summary['records']:>8} {summary['seconds']:>8.1f} {rate:>10.1f} "
                  f"{rate / local_rate:>9.2f} {per_record:>18.2f}")


if __name__ == "__main__":
    main()
