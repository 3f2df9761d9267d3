"""``janus stats`` in the terminal: drawn by rich (not raw Markdown), turns and lengths per side, three
sample records, and a plain word when no plots were made."""

from __future__ import annotations

import subprocess
import sys

from test_report import _dataset

from janus_core.data.report import build_report, markdown


def test_report_has_turns_lengths_per_side_and_samples(tmp_path):
    report = build_report(_dataset(tmp_path))
    assert report["turns"] == {"min": 1, "median": 1.0, "mean": 1.0, "max": 1}
    user, assistant = report["words_per_message"]["user"], report["words_per_message"]["assistant"]
    assert user["max"] == 16 and assistant["max"] == 4 and user["median"] > assistant["median"]
    assert len(report["samples"]) == 3 and len({s["id"] for s in report["samples"]}) == 3
    assert report["samples"][0]["messages"][1]["role"] == "user"
    text = markdown(report, {})
    assert "User turns per record: min 1, median 1.0, max 1." in text
    assert "| Words per message | User | Assistant |" in text and "## Sample records" in text


def test_stats_draws_the_report_with_three_samples(cli, tmp_path):
    result = cli("stats", _dataset(tmp_path), "--no-report")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "**" not in out and "| `" not in out and "## " not in out  # drawn, not Markdown source
    assert "Dataset report: o.jsonl" in out and "4 records (2 seeds)" in out
    assert "User turns per record" in out and "Words per message" in out
    samples = out.split("Sample records", 1)[1]
    assert samples.count("╭─") == 3 and "user: " in samples and "assistant: " in samples


def test_stats_says_why_no_plots_were_made(tmp_path):
    out = _dataset(tmp_path)
    code = ("import sys; sys.modules['matplotlib'] = None\n"  # as if the plot extra were not installed
            "from janus_core.cli import main; sys.argv = ['janus', 'stats', sys.argv[1]]; main()")
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "no plots were made: they need matplotlib, the 'plot' extra (pip install 'janus-data[plot]')" \
        in result.stderr
    assert "with its plots" not in result.stderr
    folder = tmp_path / "o.jsonl.report"
    assert (folder / "report.md").exists() and not list(folder.glob("*.png"))


def test_stats_names_the_plots_it_made(cli, tmp_path):
    result = cli("stats", _dataset(tmp_path))
    assert "with 3 plots beside it: lengths.png, scores.png, coverage.png" in result.stderr
