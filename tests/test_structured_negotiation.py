"""Structured output negotiated with OpenAI-compatible servers that accept different
``response_format`` modes, each a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl
from servers import OpenAICompatibleServer, chat_completion, compat_backends, error_body

from janus_core.run.journal import Journal, journal_path
from janus_core.sdk.schema import max_json_chars

SECRET = fake_secret("compat-key")
GOOD = {"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"}
# marriage_counsel_instruct: 3 contexts x 2 seed directions, no derivations with --d-factor 0
SEEDS = 6

BACKENDS = compat_backends(SECRET)


def mode_of(body: dict) -> str:
    """The structured mode a request body asks for."""
    fmt = body.get("response_format")
    if fmt is None:
        return "none"
    if fmt["type"] == "json_schema":
        return "json_schema"
    return "json_object_schema" if "schema" in fmt else "json_object"


def is_probe(body: dict) -> bool:
    """Whether a body is the probe's one-token request (real requests ask for far more)."""
    return body["max_tokens"] == 1


def prompt_of(body: dict) -> str:
    """A real request's prompt, whatever mode it was sent in (prompt-only mode appends the schema)."""
    return "\n".join(m["content"].split("\n\nAnswer with one JSON value only")[0] for m in body["messages"])


def server_accepting(accepted: set[str], status: int, message: str, content: str = json.dumps(GOOD)):
    """A server that refuses every mode outside ``accepted`` with ``status`` and ``message``."""

    def reply(body):
        if mode_of(body) not in accepted:
            return status, error_body("openai", status, message), {}
        return 200, chat_completion(content, model=body["model"]), {}

    return OpenAICompatibleServer(reply)


# what real servers answer: llama-cpp-python's server (500, pydantic's message), a strict server that
# rejects unknown response_format fields (400), and one that knows no response_format at all (422)
LLAMA_CPP = ({"json_object_schema", "json_object", "none"}, 500,
             "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
             "  Input should be 'text' or 'json_object' [type=literal_error, input_value='json_schema']")
STRICT = ({"json_object", "none"}, 400, "Invalid parameter: 'response_format' of type 'json_schema' is not "
                                        "supported; extra field 'schema' not permitted")
PLAIN = ({"none"}, 422, "Unprocessable: response_format is not supported by this server")


def generate(cli, tmp_path, server, backend, *extra):
    args, env = BACKENDS[backend]
    out = tmp_path / "o.jsonl"
    with server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", *[a.format(url=server.base_url) for a in args],
                     "--d-factor", "0", "--no-filters", "--out", out, *extra, env=env)
    assert SECRET not in result.output
    return result, out


def journal_meta(out, key):
    journal = Journal(journal_path(out))
    try:
        return journal.get_meta(key)
    finally:
        journal.close()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("kind, expected", [(LLAMA_CPP, "json_object_schema"), (STRICT, "json_object"),
                                            (PLAIN, "none")], ids=["llama-cpp-500", "strict-400", "plain-422"])
def test_run_negotiates_down_once_and_succeeds(cli, tmp_path, backend, kind, expected):
    accepted, status, message = kind
    server = server_accepting(accepted, status, message)
    # --retries 0: a refused mode must consume no retry, and all six seeds start at once
    result, out = generate(cli, tmp_path, server, backend, "--retries", "0")
    assert result.exit_code == 0, result.output
    assert len(read_jsonl(out)) == SEEDS
    assert "failures: none" in result.output
    ladder = ["json_schema", "json_object_schema", "json_object", "none"]
    refused = ladder[: ladder.index(expected)]
    # real requests went out in json_schema without waiting; at the first refusal the probe walked down
    # the ladder from the next mode, and each request refused was sent once more, in the mode it found
    assert [mode_of(body) for body in server.requests if is_probe(body)] == [*refused[1:], expected]
    real = [body for body in server.requests if not is_probe(body)]
    taken = [prompt_of(body) for body in real if mode_of(body) == expected]
    assert len(taken) == len(set(taken)) == SEEDS
    turned_away = [prompt_of(body) for body in real if mode_of(body) != expected]
    assert {mode_of(body) for body in real if mode_of(body) != expected} <= {"json_schema"}
    assert len(turned_away) == len(set(turned_away)) and set(turned_away) <= set(taken)
    assert journal_meta(out, "structured") == {"mode": expected, "refused": refused, "forced": False}
    if refused:
        assert f"structured output: {expected}" in result.output


def test_strongest_mode_is_used_when_accepted(cli, tmp_path):
    server = server_accepting({"json_schema"}, 400, "response_format unsupported")
    result, out = generate(cli, tmp_path, server, "openai")
    assert result.exit_code == 0, result.output
    assert {mode_of(body) for body in server.requests} == {"json_schema"}
    assert journal_meta(out, "structured") == {"mode": "json_schema", "refused": [], "forced": False}


def test_schema_mode_carries_the_schema_and_max_tokens(cli, tmp_path):
    server = server_accepting(LLAMA_CPP[0], LLAMA_CPP[1], LLAMA_CPP[2])
    result, _ = generate(cli, tmp_path, server, "openai", "--max-seeds", "1")
    assert result.exit_code == 0, result.output
    for body in [body for body in server.requests if not is_probe(body)]:
        schema = body["response_format"].get("schema") or body["response_format"]["json_schema"]["schema"]
        assert schema["required"] == ["instruction", "response"]
        # always bounded: the longest reply the schema allows, at one character a token at least
        assert body["max_tokens"] == max_json_chars(schema)


def test_prompt_only_describes_the_shape_and_mends_the_reply(cli, tmp_path):
    # a server with no response_format that wraps its JSON in prose and a code fence
    content = "Sure! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```\nHope this helps."
    server = server_accepting(PLAIN[0], PLAIN[1], PLAIN[2], content=content)
    result, out = generate(cli, tmp_path, server, "openai", "--max-seeds", "2")
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert [r["messages"][-1]["content"] for r in records] == [GOOD["response"]] * 2
    settled = [body for body in server.requests if mode_of(body) == "none" and not is_probe(body)]
    assert len(settled) == 2
    for body in settled:
        prompt = body["messages"][-1]["content"]
        assert "JSON schema" in prompt and '"instruction"' in prompt
        assert body["max_tokens"] > 0


def test_transient_errors_are_still_retried_while_negotiating(cli, tmp_path):
    calls = []

    def reply(body):  # the first real request meets a 503 that names nothing about the format
        if not is_probe(body):
            calls.append(mode_of(body))
            if len(calls) == 1:
                return 503, error_body("openai", 503, "overloaded, try again"), {}
        if mode_of(body) == "json_schema":
            return LLAMA_CPP[1], error_body("openai", LLAMA_CPP[1], LLAMA_CPP[2]), {}
        return 200, chat_completion(json.dumps(GOOD)), {}

    result, out = generate(cli, tmp_path, OpenAICompatibleServer(reply), "openai", "--max-seeds", "1",
                           "--retries", "1")
    assert result.exit_code == 0, result.output
    # retried once (the 503), then refused json_schema at most once more before the probe's mode
    assert calls[0] == "json_schema" and calls[-1] == "json_object_schema"
    assert calls[1:-1] in ([], ["json_schema"])
    assert "failures: none" in result.output
    assert journal_meta(out, "structured")["mode"] == "json_object_schema"


@pytest.mark.parametrize("backend", ["openai", "litellm"])
def test_forced_mode_is_not_negotiated(cli, tmp_path, backend):
    server = server_accepting(LLAMA_CPP[0], LLAMA_CPP[1], LLAMA_CPP[2])
    result, out = generate(cli, tmp_path, server, backend, "--max-seeds", "1",
                           "--option", "structured=json_schema")
    assert result.exit_code == 1
    # refused once: no fallback and no retry of a refusal (a plain 500 would be retried 4 times)
    assert [mode_of(body) for body in server.requests] == ["json_schema"]
    assert "refuses structured=json_schema" in result.output
    assert "leave the structured option unset" in result.output
    assert "Traceback" not in result.output
    assert journal_meta(out, "structured") == {"mode": "json_schema", "refused": [], "forced": True}


def test_forced_mode_that_the_server_accepts(cli, tmp_path):
    server = server_accepting(LLAMA_CPP[0], LLAMA_CPP[1], LLAMA_CPP[2])
    result, out = generate(cli, tmp_path, server, "openai", "--option", "structured=json_object_schema")
    assert result.exit_code == 0, result.output
    assert [mode_of(body) for body in server.requests] == ["json_object_schema"] * SEEDS
    assert len(read_jsonl(out)) == SEEDS


def test_unknown_structured_value_is_a_clear_error(cli, tmp_path):
    server = server_accepting({"json_schema"}, 400, "unused")
    result, _ = generate(cli, tmp_path, server, "openai", "--option", "structured=grammar")
    assert result.exit_code == 1
    assert "structured must be auto, json_schema, json_object_schema, json_object or none" in result.output
    assert not server.requests


def test_a_later_refusal_steps_down_within_the_request():
    """A server that takes json_schema for one schema and refuses it for another (a judge's)."""
    import asyncio

    from janus_plugins.openai import OpenAIBackend

    from janus_core.sdk.contracts import CompletionRequest

    def reply(body):
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema" and fmt["json_schema"]["name"] == "judge":
            return 400, error_body("openai", 400, "response_format: this json_schema is not supported"), {}
        return 200, chat_completion(json.dumps(GOOD)), {}

    schema = {"type": "object", "properties": {"instruction": {"type": "string", "maxLength": 50}},
              "required": ["instruction"], "additionalProperties": False}
    ask = [{"role": "user", "content": "Write JSON."}]

    async def run(backend):
        try:
            first = await backend.complete(CompletionRequest(ask, schema=schema, schema_name="instruct"))
            second = await backend.complete(CompletionRequest(ask, schema=schema, schema_name="judge"))
            return first, second
        finally:
            await backend.aclose()

    with OpenAICompatibleServer(reply) as server:
        backend = OpenAIBackend("test-model", {"base_url": server.base_url})
        first, second = asyncio.run(run(backend))
    assert json.loads(first.text) == json.loads(second.text) == GOOD
    real = [body for body in server.requests if not is_probe(body)]
    assert [mode_of(body) for body in real] == ["json_schema", "json_schema", "json_object_schema"]
    assert backend.negotiated == {"mode": "json_object_schema", "refused": ["json_schema"], "forced": False}


@pytest.mark.parametrize("backend", ["openai", "litellm"])
def test_a_continued_run_starts_from_the_mode_its_journal_recorded(cli, tmp_path, backend, mode_cache_dir):
    """The first run finds that the server refuses json_schema; the run that continues it sends every
    request in the recorded mode at once, none of them to probe or wait."""
    server = server_accepting(LLAMA_CPP[0], LLAMA_CPP[1], LLAMA_CPP[2])
    _, out = generate(cli, tmp_path, server, backend, "--max-requests", "3")
    assert [mode_of(body) for body in server.requests if is_probe(body)] == ["json_object_schema"]
    assert [mode_of(body) for body in server.requests
            if not is_probe(body) and mode_of(body) != "json_schema"] == ["json_object_schema"] * 3
    for found in mode_cache_dir.iterdir():  # the journal alone says the mode: no remembered one
        found.unlink()
    server = server_accepting(LLAMA_CPP[0], LLAMA_CPP[1], LLAMA_CPP[2])
    again, out = generate(cli, tmp_path, server, backend)
    assert again.exit_code == 0, again.output
    assert [mode_of(body) for body in server.requests] == ["json_object_schema"] * (SEEDS - 3)
    assert len(read_jsonl(out)) == SEEDS
    assert journal_meta(out, "structured") == {"mode": "json_object_schema", "refused": ["json_schema"],
                                               "forced": False}
