"""Provider backends against hostile servers on 127.0.0.1: endless and gzip-bomb replies, replies
that trickle in forever, redirects to another server, negative usage, Retry-After values meant to
hold a run forever, base URLs with a query string, and --max-cost without a price."""

from __future__ import annotations

import json
import math
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import SAMPLES, fake_secret, read_jsonl, run_janus
from servers import Fault, HostileServer, OpenAICompatibleServer, ProviderServer, chat_completion

from janus_core.sdk.errors import MAX_RETRY_AFTER, BackendError, retry_after_seconds
from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES

SECRET = fake_secret("provider-key")
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})

BACKENDS = {
    # name: (server shape, generate arguments ({root}: the server's http://host:port), environment)
    "openai": ("openai", ["--backend", "openai", "--model", "test-model", "--option", "base_url={root}/v1{query}"],
               {"OPENAI_API_KEY": SECRET}),
    "openai-sdk": ("openai", ["--backend", "openai", "--model", "test-model", "--option", "base_url={root}/v1{query}",
                              "--option", "transport=sdk"], {"OPENAI_API_KEY": SECRET}),
    "openai-sdk-httpx": ("openai", ["--backend", "openai", "--model", "test-model", "--option",
                                    "base_url={root}/v1{query}", "--option", "transport=sdk-httpx"],
                         {"OPENAI_API_KEY": SECRET}),
    "anthropic": ("anthropic", ["--backend", "anthropic", "--model", "claude-test", "--option",
                                "base_url={root}/v1{query}"], {"ANTHROPIC_API_KEY": SECRET}),
    "gemini": ("gemini", ["--backend", "gemini", "--model", "gemini-test", "--option", "base_url={root}{query}"],
               {"GEMINI_API_KEY": SECRET, "GOOGLE_API_KEY": ""}),
    "litellm": ("openai", ["--backend", "litellm", "--model", "openai/test-model", "--option",
                           "api_base={root}/v1{query}", "--option", "api_key_env=JANUS_TEST_KEY"],
                {"JANUS_TEST_KEY": SECRET}),
}
#: the backends whose requests go through the httpx transport (httpx's timeout bounds each read only)
HTTPX = ["openai-sdk", "openai-sdk-httpx", "gemini", "litellm"]
NEGATIVE = {"openai": {"prompt_tokens": -10**15, "completion_tokens": 7},
            "anthropic": {"input_tokens": -10**15, "output_tokens": 7},
            "gemini": {"promptTokenCount": -10**15, "candidatesTokenCount": 7}}


def generate(cli, tmp_path, backend: str, root: str, *extra: str, query: str = ""):
    _shape, args, env = BACKENDS[backend]
    out = tmp_path / "o.jsonl"
    result = cli("generate", SAMPLES / "marriage_counsel_instruct", *[a.format(root=root, query=query) for a in args],
                 "--max-seeds", "1", "--d-factor", "0", "--retries", "0", "--no-filters", "--out", out, "-q",
                 *extra, env=env)
    assert SECRET not in result.output
    assert "Traceback" not in result.output
    return result, " ".join(result.output.split()), out


def records(out) -> int:
    return len(read_jsonl(out)) if out.exists() else 0


@pytest.fixture(params=sorted(BACKENDS))
def backend(request):
    return request.param


def test_an_endless_reply_is_abandoned_at_the_bound(cli, tmp_path, backend):
    with HostileServer(BACKENDS[backend][0], "endless", GOOD, limit=64 * 2**20) as server:
        _result, text, out = generate(cli, tmp_path, backend, server.root)
    assert f"larger than {MAX_REPLY_BYTES} bytes" in text, text
    assert "bad_reply 1" in text and not records(out)
    # the client stopped reading soon after the bound (socket buffers hold a few MB more)
    assert server.sent[0] < 32 * 2**20


def test_a_gzip_bomb_is_abandoned_at_the_bound(cli, tmp_path, backend):
    # 32 MB of valid JSON (a good reply padded with spaces) in about 32 KB of gzip
    with HostileServer(BACKENDS[backend][0], "bomb", GOOD, limit=32 * 2**20) as server:
        _result, text, out = generate(cli, tmp_path, backend, server.root)
    assert server.sent[0] < 2**20
    assert f"larger than {MAX_REPLY_BYTES} bytes" in text, text
    assert "bad_reply 1" in text and not records(out)


def test_max_reply_bytes_is_an_option(cli, tmp_path, backend):
    with HostileServer(BACKENDS[backend][0], "usage", GOOD) as server:
        _result, text, out = generate(cli, tmp_path, backend, server.root, "--option", "max_reply_bytes=100")
    assert "larger than 100 bytes" in text, text
    assert not records(out)


@pytest.mark.parametrize("backend", HTTPX)
def test_a_reply_that_trickles_in_forever_is_abandoned_after_the_timeout(cli, tmp_path, backend):
    # a byte every 0.2 s: each read is quick, the whole reply never ends (the server stops at 30 s)
    with HostileServer(BACKENDS[backend][0], "trickle", GOOD, limit=30) as server:
        _result, text, out = generate(cli, tmp_path, backend, server.root, "--option", "timeout=2")
    assert "no whole reply within 2 s" in text, text
    assert not records(out)


def test_a_redirect_to_another_server_is_not_followed(cli, tmp_path, backend):
    shape = BACKENDS[backend][0]
    with HostileServer(shape, "usage", GOOD) as elsewhere, \
            HostileServer(shape, "redirect", GOOD, target=elsewhere.root) as server:
        _result, text, out = generate(cli, tmp_path, backend, server.root)
    assert len(server.requests) == 1
    assert elsewhere.requests == []  # the prompt never reached the other port
    assert f"a redirect to {elsewhere.root}" in text and "does not follow redirects" in text, text
    assert "bad_reply 1" in text and not records(out)


@pytest.mark.parametrize("backend", ["openai", "anthropic", "gemini", "litellm"])
def test_negative_usage_makes_the_reply_an_error(cli, tmp_path, backend):
    shape = BACKENDS[backend][0]
    with HostileServer(shape, "usage", GOOD, usage=NEGATIVE[shape]) as server:
        _result, text, out = generate(cli, tmp_path, backend, server.root)
    assert "not a token count" in text, text
    assert "bad_reply 1" in text and not records(out)
    assert "tokens in 0," in text and "cost $0.0000" in text


def test_retry_after_is_bounded():
    class Headers(dict):
        pass

    for value, expected in [("inf", MAX_RETRY_AFTER), ("1e12", MAX_RETRY_AFTER), ("-5", 0.0), ("nan", MAX_RETRY_AFTER),
                            ("2.5", 2.5), ("soon", None)]:
        assert retry_after_seconds(Headers({"retry-after": value})) == expected, value
    assert retry_after_seconds(Headers({"retry-after-ms": "1e15"})) == MAX_RETRY_AFTER
    # a backend that sets retry_after itself is bounded too
    assert BackendError("x", retry_after=math.inf).retry_after == MAX_RETRY_AFTER


@pytest.mark.parametrize("header", [{"Retry-After": "inf"}, {"Retry-After": "1e12"}, {"retry-after-ms": "1e15"}])
def test_a_huge_retry_after_on_429s_still_stops_at_rate_limit_wait(tmp_path, header):
    # one answer, then only 429s asking to wait forever: the run must stop once --rate-limit-wait
    # (3 s) has passed without an answer
    server = ProviderServer("openai", lambda body: GOOD)
    server.faults = [Fault()] + [Fault(429, header)] * 1000
    with server:
        # in a fresh interpreter, with a generous safety limit: the fixed run stops within seconds
        done = run_janus("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--model",
                         "test-model", "--option", f"base_url={server.base_url}", "--max-seeds", "2", "--d-factor",
                         "0", "--concurrency", "1", "--no-filters", "--out", tmp_path / "o.jsonl",
                         "--rate-limit-wait", "3", "-q", "--log-json", env={"OPENAI_API_KEY": SECRET}, timeout=90)
    summary = json.loads(done.stderr.splitlines()[-1])
    assert done.returncode == 0, done.stderr
    assert summary["records"] == 1 and summary["failures"] == {}
    assert "answered only 429" in summary["stopped"]


def test_a_huge_retry_after_on_a_5xx_waits_at_most_rate_limit_wait(tmp_path):
    server = ProviderServer("openai", lambda body: GOOD)
    server.faults = [Fault(503, {"Retry-After": "1e12"})]
    with server:
        done = run_janus("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--model",
                         "test-model", "--option", f"base_url={server.base_url}", "--max-seeds", "1", "--d-factor",
                         "0", "--out", tmp_path / "o.jsonl", "--retries", "1", "--rate-limit-wait", "1", "-q",
                         "--log-json", env={"OPENAI_API_KEY": SECRET}, timeout=90)
    summary = json.loads(done.stderr.splitlines()[-1])
    assert done.returncode == 0, done.stderr
    assert summary["records"] == 1 and len(server.requests) == 2


@pytest.mark.parametrize("backend", ["openai", "openai-sdk", "openai-sdk-httpx", "anthropic"])
def test_a_query_string_in_base_url_is_kept(cli, tmp_path, backend):
    shape = BACKENDS[backend][0]
    with HostileServer(shape, "usage", GOOD) as server:
        result, text, _out = generate(cli, tmp_path, backend, server.root, query="?tenant=a%20b&x=1")
    path = "/v1/messages" if shape == "anthropic" else "/v1/chat/completions"
    assert len(server.paths) == 1
    sent = urlsplit(server.paths[0])  # the SDK writes the space as '+': the same query
    assert sent.path == path and parse_qs(sent.query) == {"tenant": ["a b"], "x": ["1"]}
    assert result.exit_code == 0, text


def test_max_cost_without_a_price_is_refused_before_any_request(cli, tmp_path):
    with ProviderServer("openai", lambda body: GOOD) as server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--model",
                     "test-model", "--option", f"base_url={server.base_url}", "--max-seeds", "1", "--max-cost", "1",
                     "--out", tmp_path / "o.jsonl", "-q", env={"OPENAI_API_KEY": SECRET})
    text = " ".join(result.output.split())
    assert result.exit_code == 1 and server.requests == []
    assert "--max-cost 1: litellm's price table has no price for test-model (backend openai)" in text, text
    assert "--max-requests" in text and "Traceback" not in text


def test_a_reply_naming_an_unpriced_model_costs_what_the_asked_model_costs(cli, tmp_path):
    # the server renames the model in its reply: the run still counts gpt-4o-mini's price
    with OpenAICompatibleServer(lambda body: (200, chat_completion(GOOD, model="free-model-x"), {})) as server:
        result = cli("generate", SAMPLES / "marriage_counsel_instruct", "--backend", "openai", "--model",
                     "gpt-4o-mini", "--option", f"base_url={server.base_url}", "--max-seeds", "1", "--d-factor", "0",
                     "--max-cost", "5", "--no-filters", "--out", tmp_path / "o.jsonl", "-q", "--log-json",
                     env={"OPENAI_API_KEY": SECRET})
    summary = json.loads(result.stderr.splitlines()[-1])
    assert summary["records"] == 1 and summary["cost"] > 0


def test_the_gemini_install_hint_keeps_its_extra(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.genai", None)  # as if google-genai were not installed
    with HostileServer("gemini", "usage", GOOD) as server:
        _result, text, _out = generate(cli, tmp_path, "gemini", server.root)
    assert "pip install 'janus-data[gemini]'" in text, text
    assert server.requests == []
