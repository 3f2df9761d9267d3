"""What servers and records say never drives the terminal: control characters are printed as escapes
(run summary, errors, ``janus stats`` and its ``--tree``), and the ``control-characters`` filter keeps
records that hold them out of the dataset."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from conftest import SAMPLES, read_jsonl, run_janus
from servers import OpenAICompatibleServer, ProviderServer, error_body

from janus_core.sdk.records import Record

#: clear the screen, move the cursor home and up, set the window title, a link that hides where it goes
HOSTILE = ("\x1b[2J\x1b[H\x1b]0;owned\x07\x1b]8;;http://evil.example/\x1b\\click here\x1b]8;;\x1b\\"
           "\x1b[5A\x9b31m\x7f")
SPEC = SAMPLES / "marriage_counsel_instruct"
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})


def assert_inert(text: str) -> None:
    """No control character but newline and tab (a pipe gets no colours, so any would be the server's)."""
    assert not [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f], repr(text)


@pytest.mark.parametrize("raw, shown", [
    ("\x1b[2Jclear", "\\x1b[2Jclear"),
    ("title\x1b]0;owned\x07", "title\\x1b]0;owned\\x07"),
    ("\x1b]8;;http://evil.example/\x1b\\link", "\\x1b]8;;http://evil.example/\\x1b\\link"),
    ("over\rwrite", "over\\x0dwrite"),
    ("line\r\nnext", "line\nnext"),
    ("tab\tand\nnewline stay", "tab\tand\nnewline stay"),
    ("\x9b31m c1 \x85 and del \x7f", "\\x9b31m c1 \\x85 and del \\x7f"),
    ("plain text, ünïcödé, 日本語", "plain text, ünïcödé, 日本語"),
])
def test_printable_shows_control_characters_as_escapes(raw, shown):
    from janus_core.sdk.terminal import printable

    assert printable(raw) == shown
    assert_inert(printable(raw))


def test_a_servers_error_body_reaches_the_summary_as_text(tmp_path):
    def reply(_body):
        return 400, error_body("openai", 400, f"bad request {HOSTILE}"), {}

    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(reply) as server:
        result = run_janus("generate", SPEC, "--backend", "openai", "--model", "test-model", "--option",
                           f"base_url={server.base_url}", "--max-seeds", "1", "--d-factor", "0", "--out", out,
                           env={"OPENAI_API_KEY": "k-0123456789"})
    assert result.returncode == 1
    shown = result.stdout + result.stderr
    assert "\\x1b]0;owned\\x07" in shown and "\\x1b[2J" in shown  # the server's words, shown as escapes
    assert_inert(shown)
    # what reads the ledger later: janus stats prints it, and writes it into report.md
    stats = run_janus("stats", out, "--report", tmp_path / "report")
    assert stats.returncode == 0, stats.stderr
    assert_inert(stats.stdout + stats.stderr)
    assert_inert((tmp_path / "report" / "report.md").read_text(encoding="utf-8"))


def test_stats_tree_shows_replies_as_text(tmp_path):
    from janus_core.run.journal import Journal, journal_path

    out = tmp_path / "o.jsonl"
    journal = Journal(journal_path(out))
    seed = Record(messages=[{"role": "user", "content": f"Question {HOSTILE}"},
                            {"role": "assistant", "content": "Answer"}],
                  id="seed1", seed_id="seed1", parent_id=None, direction="general", walk={}, model="m",
                  prompt_sha256="0" * 64, output_type="instruct", depth=0)
    child = Record(messages=[{"role": "user", "content": "Deeper \x1b]0;title\x07 question"},
                             {"role": "assistant", "content": "Answer"}],
                   id="kid1", seed_id="seed1", parent_id="seed1", direction="in-depth", walk={}, model="m",
                   prompt_sha256="0" * 64, output_type="instruct", depth=1)
    journal.add_record("job|0", seed)
    journal.add_record("job|1", child)
    journal.add_failure("job|9", f"server said {HOSTILE}", "detail", {"key": "job|9", "kind": "seed"})
    journal.export_jsonl(out)
    journal.close()
    tree = run_janus("stats", out, "--tree", "seed1")
    assert tree.returncode == 0, tree.stderr
    assert "Question \\x1b[2J" in tree.stdout and "Deeper \\x1b]0;title\\x07 question" in tree.stdout
    assert_inert(tree.stdout + tree.stderr)
    report = run_janus("stats", out, "--no-report")
    assert report.returncode == 0, report.stderr
    assert "server said \\x1b[2J" in report.stdout
    assert_inert(report.stdout + report.stderr)


def test_errors_show_what_they_quote_as_text(tmp_path):
    out = tmp_path / "o.jsonl"
    rows = [{"id": f"seed{HOSTILE}", "messages": [{"role": "user", "content": "Hi"}]}]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_janus("stats", out, "--tree", "nope")  # the error lists the seeds the file holds
    assert result.returncode == 1
    assert "error: no record 'nope'" in result.stderr and "seeds include: seed\\x1b[2J" in result.stderr
    assert "Traceback" not in result.stderr
    assert_inert(result.stdout + result.stderr)


# --- the control-characters filter ------------------------------------------------------------------

def record_saying(text: str) -> Record:
    return Record(messages=[{"role": "user", "content": "Plan our weekly budget meeting"},
                            {"role": "assistant", "content": text}],
                  id="r1", seed_id="r1", parent_id=None, direction="general", walk={}, model="m",
                  prompt_sha256="0" * 64, output_type="instruct", depth=0)


@pytest.mark.parametrize("text, kept", [
    ("Start with one shared hour.", True),
    ("Start with\tone shared hour.\nThen review.", True),
    ("Windows line ends\r\nare text.", True),
    ("A bell\x07 rings.", False),
    ("An \x1b[2J escape.", False),
    ("A lone\rcarriage return.", False),
    ("A C1 \x9b control.", False),
    ("A delete \x7f.", False),
    ("A NUL \x00.", False),
])
def test_the_control_characters_filter(text, kept):
    from janus_plugins.filters.control import ControlCharacters

    reason = asyncio.run(ControlCharacters().check(record_saying(text), None, None))
    assert (reason is None) == kept, reason
    if reason:
        assert "'assistant' message holds the control character \\x" in reason
        assert_inert(reason)


def test_records_with_control_characters_are_eliminated_by_default(cli, tmp_path):
    replies = iter([json.dumps({"instruction": "Plan our weekly budget meeting",
                                "response": f"Start with one shared hour {HOSTILE}"}), GOOD])
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", lambda body: next(replies)) as server:
        result = cli("generate", SPEC, "--backend", "openai", "--model", "test-model", "--option",
                     f"base_url={server.base_url}", "--max-seeds", "2", "--d-factor", "0", "--concurrency", "1",
                     "--out", out, "-q", env={"OPENAI_API_KEY": "k-0123456789"})
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 1 and records[0]["messages"][-1]["content"] == "Start with one shared hour"
    with sqlite3.connect(f"{out}.journal.sqlite") as db:
        reasons = [r for (r,) in db.execute("SELECT reason FROM failures")]
    assert reasons == ["eliminated:control-characters"]
    assert "eliminated:control-characters 1" in result.output
