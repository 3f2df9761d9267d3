"""No stall at the start of a run: the structured-output mode is remembered per backend, endpoint and
model in the user's cache (expiring), and otherwise found by a one-token probe while the real requests
go out at once. Each test runs janus against a real HTTP server on 127.0.0.1 and reads its request log;
``mode_cache_dir`` (conftest) is the test's own cache folder."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from conftest import SAMPLES, read_jsonl
from servers import OpenAICompatibleServer, chat_completion, error_body
from test_structured_negotiation import (
    BACKENDS,
    GOOD,
    LLAMA_CPP,
    SECRET,
    SEEDS,
    STRICT,
    is_probe,
    journal_meta,
    mode_of,
    prompt_of,
)

from janus_core.sdk import mode_cache
from janus_core.sdk.structured import LADDER

ACCEPTED, STATUS, MESSAGE = LLAMA_CPP  # takes json_object_schema and below, refuses json_schema
#: what the probe sends such a server: it starts below the mode a real request was refused
PROBED = ["json_object_schema"]


def llama_cpp_reply(body):
    if mode_of(body) not in ACCEPTED:
        return STATUS, error_body("openai", STATUS, MESSAGE), {}
    return 200, chat_completion(json.dumps(GOOD), model=body["model"]), {}


def run(cli, tmp_path, server, backend="openai", name="o", env=None, *extra):
    """One `janus generate` against a server already serving; the requests it sent, and its result."""
    args, backend_env = BACKENDS[backend]
    out = tmp_path / f"{name}.jsonl"
    before = len(server.requests)
    result = cli("generate", SAMPLES / "marriage_counsel_instruct", *[a.format(url=server.base_url) for a in args],
                 "--d-factor", "0", "--no-filters", "--out", out, *extra, env={**backend_env, **(env or {})})
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and "Traceback" not in result.output
    assert len(read_jsonl(out)) == SEEDS
    return server.requests[before:], result, out


def cache_file(folder):
    return folder / mode_cache.FILE_NAME


def age_entries(folder, days):
    """Make every remembered entry ``days`` old."""
    path = cache_file(folder)
    document = json.loads(path.read_text())
    for entry in document["entries"].values():
        entry["at"] = time.time() - days * 86_400
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("backend", ["openai", "litellm"])
def test_a_remembered_mode_is_used_by_a_new_run_without_a_probe(cli, tmp_path, backend, mode_cache_dir):
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        first, _, _ = run(cli, tmp_path, server, backend, "first")
        assert [mode_of(b) for b in first if is_probe(b)] == PROBED
        stored = cache_file(mode_cache_dir).read_text()
        # only a hash of where the mode holds, the mode and when: no URL, model, key or prompt
        assert server.base_url not in stored and "test-model" not in stored and SECRET not in stored
        assert "marriage" not in stored.lower() and GOOD["instruction"] not in stored
        # a new output (a new journal): every request goes out in the remembered mode, none probes
        second, _, out = run(cli, tmp_path, server, backend, "second")
    assert [mode_of(b) for b in second] == ["json_object_schema"] * SEEDS
    assert journal_meta(out, "structured") == {"mode": "json_object_schema", "refused": ["json_schema"],
                                               "forced": False}


def test_the_mode_is_remembered_per_endpoint(cli, tmp_path):
    """Another server (another port) is another endpoint: it is probed, not given the first's mode."""
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        run(cli, tmp_path, server, "openai", "first")
    with OpenAICompatibleServer(llama_cpp_reply) as other:
        requests, _, _ = run(cli, tmp_path, other, "openai", "second")
    assert [mode_of(b) for b in requests if is_probe(b)] == PROBED


def test_an_expired_entry_is_not_used(cli, tmp_path, mode_cache_dir):
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        run(cli, tmp_path, server, "openai", "first")
        age_entries(mode_cache_dir, 8)  # the default life is 7 days
        second, _, _ = run(cli, tmp_path, server, "openai", "second")
        assert [mode_of(b) for b in second if is_probe(b)] == PROBED
        # found again, so remembered afresh: the next run probes nothing
        third, _, _ = run(cli, tmp_path, server, "openai", "third")
    assert [mode_of(b) for b in third] == ["json_object_schema"] * SEEDS


def test_the_life_of_an_entry_is_set_by_janus_mode_cache_days(cli, tmp_path, mode_cache_dir):
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        run(cli, tmp_path, server, "openai", "first")
        age_entries(mode_cache_dir, 2)
        kept, _, _ = run(cli, tmp_path, server, "openai", "kept", {"JANUS_MODE_CACHE_DAYS": "3"})
        assert not [b for b in kept if is_probe(b)]
        age_entries(mode_cache_dir, 2)
        expired, _, _ = run(cli, tmp_path, server, "openai", "expired", {"JANUS_MODE_CACHE_DAYS": "1.5"})
        assert [b for b in expired if is_probe(b)]


def test_days_zero_turns_the_cache_off(cli, tmp_path, mode_cache_dir):
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        run(cli, tmp_path, server, "openai", "first", {"JANUS_MODE_CACHE_DAYS": "0"})
        assert not cache_file(mode_cache_dir).exists()
        second, _, _ = run(cli, tmp_path, server, "openai", "second", {"JANUS_MODE_CACHE_DAYS": "0"})
    assert [mode_of(b) for b in second if is_probe(b)] == PROBED


def test_a_bad_days_setting_is_a_note_and_the_default_holds(cli, tmp_path):
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        run(cli, tmp_path, server, "openai", "first")
        second, result, _ = run(cli, tmp_path, server, "openai", "second", {"JANUS_MODE_CACHE_DAYS": "a week"})
    assert "JANUS_MODE_CACHE_DAYS must be a number of days" in result.output
    assert not [b for b in second if is_probe(b)]


def _deep(path):
    path.write_text("[" * 100_000)


def _huge(path):
    path.write_text(json.dumps({"version": 1, "entries": {}, "pad": "x" * (mode_cache.MAX_BYTES + 1)}))


def _garbage(path):
    path.write_bytes(b"\x00\xff{not json")


def _wrong_shape(path):
    path.write_text(json.dumps({"version": 1, "entries": {"0" * 32: {"mode": "rm -rf /", "refused": {}, "at": "x"},
                                                          "short": {"mode": "none", "refused": [], "at": 1}}}))


def _entries_a_list(path):
    path.write_text(json.dumps({"version": 1, "entries": [1, 2]}))


def _folder(path):
    path.mkdir()


HOSTILE = {"garbage": _garbage, "deep": _deep, "huge": _huge, "wrong-shape": _wrong_shape, "list": _entries_a_list,
           "a-folder": _folder}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_corrupt_or_hostile_cache_file_is_ignored_with_a_note(cli, tmp_path, mode_cache_dir, kind):
    HOSTILE[kind](cache_file(mode_cache_dir))
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        requests, result, _ = run(cli, tmp_path, server, "openai", "first")
        assert "ignored the structured-mode cache" in result.output
        assert [mode_of(b) for b in requests if is_probe(b)] == PROBED
        if kind == "a-folder":  # cannot be replaced: the run went on without remembering
            return
        # rewritten whole with what was found: the next run uses it, with no note
        again, result, _ = run(cli, tmp_path, server, "openai", "second")
    assert "ignored the structured-mode cache" not in result.output
    assert [mode_of(b) for b in again] == ["json_object_schema"] * SEEDS


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_in_place_of_the_cache_does_not_hang_the_run(cli, tmp_path, mode_cache_dir):
    os.mkfifo(cache_file(mode_cache_dir))
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        _, result, _ = run(cli, tmp_path, server, "openai", "first")
    assert "not a regular file" in result.output


def test_the_first_requests_are_not_held_behind_the_probe(cli, tmp_path):
    """The probe's answer is held back until every real request has reached the server: were the
    real requests waiting for the probe, they would not all arrive (the hold ends after a generous
    limit only so that a failing test ends). Each real request the server refused is sent again once,
    in the mode the probe found."""
    every_real_request_came = threading.Event()
    seen_when_the_probe_answered: list[int] = []
    prompts_seen: set[str] = set()
    real: list[dict] = []

    def reply(body):
        if is_probe(body):
            if not seen_when_the_probe_answered:
                every_real_request_came.wait(timeout=60)
                seen_when_the_probe_answered.append(len(prompts_seen))
        else:
            real.append(body)
            prompts_seen.add(prompt_of(body))
            if len(prompts_seen) == SEEDS:
                every_real_request_came.set()
        return llama_cpp_reply(body)

    with OpenAICompatibleServer(reply) as server:
        requests, result, out = run(cli, tmp_path, server, "openai", "first", None, "--retries", "0")
    assert seen_when_the_probe_answered == [SEEDS]
    assert [mode_of(b) for b in requests if is_probe(b)] == PROBED
    # each request was taken once, in the probe's mode; those refused were refused once, in json_schema
    taken = [prompt_of(b) for b in real if mode_of(b) == "json_object_schema"]
    refused = [prompt_of(b) for b in real if mode_of(b) != "json_object_schema"]
    assert sorted(taken) == sorted(prompts_seen) and len(taken) == SEEDS
    assert {mode_of(b) for b in real} - {"json_object_schema"} == {"json_schema"}
    assert len(refused) == len(set(refused))
    assert "failures: none" in result.output
    assert journal_meta(out, "structured") == {"mode": "json_object_schema", "refused": ["json_schema"],
                                               "forced": False}


def test_a_probe_that_cannot_tell_leaves_the_requests_to_step_down(cli, tmp_path, mode_cache_dir):
    """The probe meets an error that is not about the format: the refused requests step down
    themselves, one mode at a time, and the mode they settle on is remembered."""
    accepted, status, message = STRICT  # json_object and below

    def reply(body):
        if is_probe(body):
            return 503, error_body("openai", 503, "overloaded"), {}
        if mode_of(body) not in accepted:
            return status, error_body("openai", status, message), {}
        return 200, chat_completion(json.dumps(GOOD), model=body["model"]), {}

    with OpenAICompatibleServer(reply) as server:
        requests, _, out = run(cli, tmp_path, server, "openai", "first", None, "--retries", "0")
        assert [mode_of(b) for b in requests if is_probe(b)] == ["json_object_schema"]
        assert journal_meta(out, "structured") == {"mode": "json_object", "forced": False,
                                                   "refused": ["json_schema", "json_object_schema"]}
        again, _, _ = run(cli, tmp_path, server, "openai", "second")
    assert [mode_of(b) for b in again] == ["json_object"] * SEEDS


def test_a_remembered_mode_the_server_now_refuses_steps_down_and_is_rewritten(cli, tmp_path, mode_cache_dir):
    with OpenAICompatibleServer(llama_cpp_reply) as server:
        mode_cache.remember("openai", server.base_url, "test-model", "json_schema", [], LADDER)
        first, _, _ = run(cli, tmp_path, server, "openai", "first", None, "--retries", "0")
        assert not [b for b in first if is_probe(b)]
        assert sorted({mode_of(b) for b in first}) == ["json_object_schema", "json_schema"]
        again, _, _ = run(cli, tmp_path, server, "openai", "second")
    assert [mode_of(b) for b in again] == ["json_object_schema"] * SEEDS


def test_the_cache_keeps_a_bounded_number_of_entries(mode_cache_dir):
    for i in range(mode_cache.MAX_ENTRIES + 20):
        mode_cache.remember("openai", f"http://127.0.0.1:{i}/v1", "m", "json_object", ["json_schema"], LADDER)
    document = json.loads(cache_file(mode_cache_dir).read_text())
    assert len(document["entries"]) == mode_cache.MAX_ENTRIES
    # the newest are kept; no staging file is left behind
    assert mode_cache.recall("openai", f"http://127.0.0.1:{mode_cache.MAX_ENTRIES + 19}/v1", "m", LADDER)[0] == \
        {"mode": "json_object", "refused": ["json_schema"]}
    assert [p.name for p in mode_cache_dir.iterdir()] == [mode_cache.FILE_NAME]


def test_the_cache_folder_defaults_to_the_users_cache_directory(monkeypatch):
    import platformdirs

    monkeypatch.delenv("JANUS_CACHE_DIR")
    assert str(mode_cache.cache_dir()) == platformdirs.user_cache_dir("janus", appauthor=False)
