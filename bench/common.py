"""Helpers shared by the benchmarks: start the stub server, run `janus generate`, read its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "clinic"


class StubServer:
    def __init__(self, latency: float, rpm: float | None = None, log: Path | None = None, fail: float = 0.0,
                 shape: str | None = None, dump: Path | None = None, tpm: float | None = None,
                 headers: str | None = None, whole_seconds: bool = False, count_rejected: bool = False):
        cmd = [sys.executable, str(ROOT / "bench" / "stub_server.py"), "--latency", str(latency)]
        if rpm:
            cmd += ["--rpm", str(rpm)]
        if shape:
            cmd += ["--shape", shape]
        if tpm:
            cmd += ["--tpm", str(tpm)]
        if headers:
            cmd += ["--headers", headers]
        if whole_seconds:
            cmd += ["--whole-seconds"]
        if count_rejected:
            cmd += ["--count-rejected"]
        if fail:
            cmd += ["--fail", str(fail)]
        if log:
            cmd += ["--log", str(log)]
        if dump:
            cmd += ["--dump", str(dump)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def janus_cmd(base_url: str, out: Path, *extra: str, spec: Path = SAMPLE) -> list[str]:
    return [sys.executable, "-m", "janus_core.cli", "generate", str(spec), "--backend", "openai",
            "--model", "gpt-4o-mini", "--option", f"base_url={base_url}", "--out", str(out), "--log-json",
            "--quiet", "--overwrite", *extra]


def run_janus(cmd: list[str]) -> tuple[dict, float]:
    """Run janus to completion; returns its JSON summary and the CPU seconds it used."""
    summary, cpu, _ = run_janus_measured(cmd)
    return summary, cpu


def run_janus_measured(cmd: list[str]) -> tuple[dict, float, float]:
    """Run janus to completion; returns its JSON summary, the CPU seconds it used and its peak RSS in MB
    (this process alone, read with wait4)."""
    env = {**os.environ, "OPENAI_API_KEY": "bench-key-not-secret"}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    summary = next((json.loads(line) for line in reversed(stderr.splitlines())
                    if line.startswith("{") and '"summary"' in line), None)
    # exit code 1 with a summary: the run worked, but the filters kept no record (still a measurement)
    if summary is None or proc.returncode not in (0, 1) or (proc.returncode == 1 and summary["records"]):
        raise SystemExit(f"janus failed:\n{stderr[-3000:]}")
    return summary, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
