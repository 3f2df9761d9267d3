"""Progress where stderr is no terminal (plain lines), ``--log-json`` as JSON only, and ``-v``."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from conftest import SAMPLES, run_janus

FILLER = Path(__file__).resolve().parent / "plugins" / "schema_filler.py"


def generate(tmp_path, *args):
    return run_janus("--plugin", FILLER, "generate", SAMPLES / "clinic", "--backend", "schema-filler", "--out",
                     tmp_path / "o.jsonl", "--no-filters", "--max-seeds", "2", *args)


def test_a_run_without_terminal_prints_plain_progress_lines(tmp_path):
    result = generate(tmp_path)  # stderr is a pipe here, as in CI logs or under nohup
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("progress: ")]
    assert lines, result.stderr
    assert lines[-1].startswith("progress: 6/6 done (6 new records, 0 failed), 0 in flight, $0.0000, ")
    assert "eta 0s" in lines[-1]
    assert "\x1b" not in result.stderr and "━" not in result.stderr  # no bar, no escape codes


def test_plain_view_prints_a_line_every_few_seconds():
    from rich.console import Console

    from janus_core.cli.progress import PlainView
    from janus_core.run.engine import Stats

    view = PlainView()
    view.every = 0.01
    out = io.StringIO()
    view.console = Console(file=out, soft_wrap=True)
    stats = Stats(planned=10)

    async def run() -> None:
        watching = asyncio.create_task(view.watch(stats))
        for _ in range(2000):  # until three lines are out (a safety bound, not a timing)
            stats.records = min(9, stats.records + 1)
            stats.in_flight = 3
            await asyncio.sleep(0.005)
            if out.getvalue().count("progress: ") >= 3:
                break
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)

    asyncio.run(run())
    lines = out.getvalue().splitlines()
    assert len(lines) >= 4  # three while it ran, one when it ended
    assert all(line.startswith("progress: ") and "/10 done" in line and "in flight" in line for line in lines)
    assert "3 in flight" in lines[-1]


def test_eta_from_the_pace_so_far():
    from janus_core.cli.progress import Pace, duration
    from janus_core.run.engine import Stats

    stats = Stats(planned=40)
    pace = Pace(stats)
    assert pace.eta(stats) is None  # nothing done yet: no pace to go by
    pace.started -= 60
    stats.records = 10
    assert 170 < pace.eta(stats) < 190  # 30 left at 10 a minute
    assert [duration(s) for s in (-3, 5, 185, 7260)] == ["0s", "5s", "3m05s", "2h01m"]


def test_log_json_prints_only_json_lines(tmp_path):
    result = generate(tmp_path, "--log-json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    kinds = [e["event"] for e in events]
    assert "note" in kinds and kinds.index("started") < kinds.index("summary")
    assert any("free-text style direction" in e.get("note", "") for e in events)


def test_log_json_errors_are_json(tmp_path):
    result = generate(tmp_path, "--log-json", "--backend", "nope")
    assert result.returncode == 1
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events[-1]["event"] == "error" and "no backend named 'nope'" in events[-1]["message"]


def test_verbose_lists_what_the_reader_skipped(tmp_path):
    result = run_janus("--plugin", FILLER, "generate", SAMPLES / "sql_schema", "--backend", "schema-filler",
                       "--out", tmp_path / "o.jsonl", "--no-filters", "--max-seeds", "1", "-v")
    assert result.returncode == 0, result.stderr
    assert "schema.sql:78:1: skipped CREATE INDEX" in result.stderr
    quiet = run_janus("--plugin", FILLER, "generate", SAMPLES / "sql_schema", "--backend", "schema-filler",
                      "--out", tmp_path / "o2.jsonl", "--no-filters", "--max-seeds", "1")
    assert "skipped CREATE INDEX" not in quiet.stderr

