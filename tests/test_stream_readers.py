"""Readers hold bounded memory whatever a record's size (stats streams the records and reads a
message's first 10,000 words for its metrics), and a ``.partial`` file that a killed export or
doctor --repair left behind goes when that command starts again."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import read_jsonl

from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.records import Record

#: Runs ``janus`` in this process and prints its peak resident memory (MiB) on the last line of stderr;
#: its address space is capped at 4 GiB, so a reader that would take gigabytes fails fast instead.
MEASURED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from janus_core.cli import main
sys.argv = ["janus", *sys.argv[1:]]
try:
    main()
finally:
    # VmHWM is this program's own peak; ru_maxrss may keep the peak of the process it was forked from
    peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(int(peak.split()[1]) // 1024, file=sys.stderr)
"""


def record(rid: str, assistant: str, user: str = "Tell me everything.") -> dict:
    return Record(messages=[{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
                  id=rid, seed_id=rid, parent_id=None, direction="general", walk={}, model="m", prompt_sha256="0",
                  output_type="instruct").to_dict()


def test_stats_of_a_multi_million_word_message_holds_little_memory(tmp_path):
    words = 3_000_000
    text = " ".join(f"w{i % 100_003}" for i in range(words))
    source = tmp_path / "big.jsonl"
    source.write_text(json.dumps(record("a", text)) + "\n" + json.dumps(record("b", "A short answer.")) + "\n",
                      encoding="utf-8")
    assert source.stat().st_size > 20_000_000
    done = subprocess.run([sys.executable, "-c", MEASURED, "stats", str(source), "--json"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mib = int(done.stderr.strip().splitlines()[-1])
    assert peak_mib < 500, peak_mib  # a generous bound: it held 6.4 GB before
    report = json.loads(done.stdout)
    assert report["words_per_record"] == [3 + words, 3 + 3]  # lengths count every word
    assert report["messages_over_word_cap"] == 1 and report["word_cap"] == 10_000


def test_the_report_says_when_the_word_cap_applied(tmp_path):
    from janus_core.data.report import build_report, capped, count_words, markdown

    text = " ".join(["word"] * 10_001)
    assert capped(text) == (" ".join(["word"] * 10_000), True)
    assert capped(" ".join(["word"] * 10_000) + "  \n") == (" ".join(["word"] * 10_000) + "  \n", False)
    long = "a " * 700_000 + "b" * (1 << 20) + " c"  # words cut by the megabyte pieces are counted once
    assert count_words(long) == len(long.split())
    source = tmp_path / "d.jsonl"
    source.write_text(json.dumps(record("a", text)) + "\n", encoding="utf-8")
    shown = markdown(build_report(source), {})
    assert "1 messages are longer than 10,000 words" in shown


def partial_of(target: Path, tag: str, folder: bool) -> Path:
    """What a killed export (a folder) or repair (a file) leaves: ``.TARGET.XXXXXXXX.partial``."""
    path = target.with_name(f".{target.name}.{tag}.partial")
    if folder:
        path.mkdir()
        (path / target.name).write_text('{"half": ', encoding="utf-8")
    else:
        path.write_text('{"half": ', encoding="utf-8")
    return path


def test_export_removes_what_a_killed_export_left_and_nothing_else(cli, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(record(str(n), f"answer {n}")) + "\n" for n in range(3)), encoding="utf-8")
    to = tmp_path / "x.jsonl"
    stale = [partial_of(to, "k1ll3d_a", True), partial_of(to, "k1ll3d_b", False)]
    others = [partial_of(to, "notes", False), partial_of(tmp_path / "y.jsonl", "k1ll3d_c", True)]
    live = partial_of(to, "running1", True)  # an export writing now holds its folder
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = cli("export", source, "--to", to)
    finally:
        os.close(fd)
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(to)) == 3
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in [*others, live])


def test_a_killed_export_leaves_a_partial_that_the_next_export_removes(tmp_path):
    """A real kill -9 in the middle of an export: the next export starts by removing what it left."""
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(record(str(n), f"answer {n}")) + "\n" for n in range(50)), encoding="utf-8")
    to = tmp_path / "x.jsonl"
    stalled = tmp_path / "stall.py"  # a sink that writes a row, then waits to be killed
    stalled.write_text(
        "import time\nfrom janus_core import hookimpl\nfrom janus_plugins.sinks import JsonlSink\n"
        "class Stalled(JsonlSink):\n    name = 'stalled'\n"
        "    def write(self, records):\n        super().write(records)\n"
        "        print('written', flush=True)\n        time.sleep(600)\n"
        "@hookimpl\ndef register_sinks(register):\n    register(Stalled)\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "janus_core.cli", "--plugin", str(stalled), "export", str(source),
                             "--to", str(to), "--sink", "stalled"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
        left = [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]
        assert len(left) == 1
    finally:
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
    assert (tmp_path / left[0]).exists() and not to.exists()
    done = subprocess.run([sys.executable, "-m", "janus_core.cli", "export", str(source), "--to", str(to)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / left[0]).exists() and len(read_jsonl(to)) == 50


def test_doctor_repair_removes_what_a_killed_repair_left(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with Journal(journal_path(out)) as journal:
        journal.add_record("job", Record.from_dict(record("a", "An answer.")))
        journal.export_jsonl(out)
    stale = partial_of(out, "k1ll3d_a", False)
    other = partial_of(out, "mine", False)
    fixed = cli("doctor", out, "--repair")
    assert fixed.exit_code == 0, fixed.output
    assert not stale.exists() and other.exists()
    assert [r["id"] for r in read_jsonl(out)] == ["a"]
