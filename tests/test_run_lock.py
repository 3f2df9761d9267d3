"""The output's lock file: never followed through a symlink, never a file Janus did not write,
readable by its owner only, and holding no credential of the command line."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from conftest import SAMPLES, fake_secret
from test_secrets import clean_env, janus

from janus_core.run.lock import RunLock, holder, lock_path
from janus_core.sdk.errors import JanusError  # UnsafeLockFile: the old code has no such name

SPEC = SAMPLES / "marriage_counsel_instruct"
PRECIOUS = "the user's own file: keep me\n"


@pytest.fixture
def precious(tmp_path):
    target = tmp_path / "elsewhere" / "notes.txt"
    target.parent.mkdir()
    target.write_text(PRECIOUS)
    return target


def test_a_symlink_planted_at_the_lock_is_refused_and_its_target_untouched(tmp_path, precious):
    out = tmp_path / "out" / "data.jsonl"
    out.parent.mkdir()
    lock_path(out).symlink_to(precious)
    with pytest.raises(JanusError, match="symbolic link") as refused:
        RunLock(out, "generate").acquire()
    assert str(lock_path(out)) in str(refused.value) and "--out" in str(refused.value)
    assert precious.read_text() == PRECIOUS
    assert holder(out) is None  # what it points to is not read either
    lock_path(out).unlink()
    lock_path(out).symlink_to(precious.with_name("new.txt"))  # dangling: it must not be created
    with pytest.raises(JanusError, match="symbolic link"):
        RunLock(out, "generate").acquire()
    assert not precious.with_name("new.txt").exists()


def test_generate_refuses_a_planted_symlink_with_a_message(tmp_path, precious):
    """The default output of a cloned spec repository may hold such a link: ``janus generate`` stops
    before any request, with a plain message and no traceback."""
    out = tmp_path / "out" / "data.jsonl"
    out.parent.mkdir()
    lock_path(out).symlink_to(precious)
    result = janus("generate", SPEC, "--backend", "openai", "--option", "base_url=http://127.0.0.1:9/v1",
                   "--out", out, "-q", env=clean_env(OPENAI_API_KEY=fake_secret("lock-key")))
    assert result.returncode == 1
    assert "symbolic link" in result.stderr and str(lock_path(out)) in result.stderr
    assert "Traceback" not in result.stderr
    assert precious.read_text() == PRECIOUS


def test_a_hard_link_a_fifo_or_a_foreign_file_at_the_lock_is_refused(tmp_path, precious):
    out = tmp_path / "data.jsonl"
    lock = lock_path(out)
    os.link(precious, lock)
    with pytest.raises(JanusError, match="hard links"):
        RunLock(out).acquire()
    lock.unlink()
    assert precious.read_text() == PRECIOUS

    os.mkfifo(lock)
    with pytest.raises(JanusError, match="not a regular file"):
        RunLock(out).acquire()
    lock.unlink()

    lock.write_text(PRECIOUS)
    with pytest.raises(JanusError, match="not a lock file Janus wrote"):
        RunLock(out).acquire()
    assert lock.read_text() == PRECIOUS


def test_the_lock_is_private_and_an_old_one_is_taken_over(tmp_path):
    out = tmp_path / "data.jsonl"
    with RunLock(out, "generate"):
        assert stat.S_IMODE(lock_path(out).stat().st_mode) == 0o600
        assert holder(out)["pid"] == os.getpid()
    lock_path(out).write_text(json.dumps({"pid": 1, "what": "generate", "command": "janus generate"}))
    lock_path(out).chmod(0o644)  # as an older Janus left it
    with RunLock(out, "doctor --repair"):
        assert stat.S_IMODE(lock_path(out).stat().st_mode) == 0o600
        assert holder(out) | {"command": ""} == {"pid": os.getpid(), "what": "doctor --repair", "command": ""}


def test_the_lock_holds_a_redacted_command_line(tmp_path, monkeypatch):
    from janus_core.sdk import credentials

    secret, password, token = fake_secret("env-key"), fake_secret("url-password"), fake_secret("query-token")
    monkeypatch.setattr(credentials, "_loaded", set(credentials._loaded))
    credentials.remember(secret)
    generated = "sk-proj-" + "Ab3dE" * 8
    monkeypatch.setattr(sys, "argv", [
        "janus", "generate", "spec", "--option", f"base_url=https://me:{password}@proxy.example/v1?key={token}&x=1",
        "--option", f"api_key={secret}", "--token", "plain-value-here", "--note", generated,
        "--out", "/data/run-2024/out.jsonl"])
    out = tmp_path / "data.jsonl"
    with RunLock(out, "generate"):
        stored = lock_path(out).read_text()
    command = json.loads(stored)["command"]
    for value in (secret, password, token, "plain-value-here", generated, "me:"):
        assert value not in stored
    assert command.startswith("janus generate spec --option base_url=https://***@proxy.example/v1?key=***&x=***")
    assert "api_key=***" in command and "--token ***" in command and "/data/run-2024/out.jsonl" in command


def test_redact_command_keeps_ordinary_words():
    from janus_core.sdk.credentials import redact_command

    argv = ["janus", "generate", "samples/marriage_counsel_instruct", "--backend", "litellm", "--model",
            "anthropic/claude-sonnet-4-5", "--max-tokens", "512", "--option", "api_key_env=MY_KEY",
            "--out", "marriage-counsel-instruct-final-dataset.jsonl", "--note", "MarriageCounselInstruct2024Final"]
    assert redact_command(argv) == " ".join(argv)
    keys = ["AIzaSyA1b2C3d4E5f6G7h8", "0123456789abcdef0123456789abcdef", "Zx9QwErTy3kLmNoPq7RsTuVw2xYz"]
    assert redact_command(["x", *keys]) == "x *** *** ***"
