"""A key never leaks: keys come from the environment only, every secret loaded is masked wherever
text leaves Janus, litellm makes no connection but to the model, and the review page is guarded."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SAMPLES, fake_secret, run_janus
from servers import ProviderServer
from test_review import api, make_dataset, need, review_client  # noqa: F401 (api: a fixture)
from test_review import server as review_server  # noqa: F401 (a fixture)

SPEC = SAMPLES / "marriage_counsel_instruct"
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})
#: every provider variable a test might inherit, cleared so that only the test's key is set
PROVIDER_VARS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                 "LITELLM_LOCAL_MODEL_COST_MAP")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARS}
    return {**env, **extra}


def janus(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``janus ARGS`` in a fresh interpreter with exactly ``env``."""
    return subprocess.run([sys.executable, "-m", "janus_core.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


# --- a server that echoes the key back ---------------------------------------------------------------

# backend: (server shape, generate arguments, the variable the README says holds the key)
BACKENDS = {
    "litellm": ("openai", ["--backend", "litellm", "--model", "openai/test-model", "--option", "api_base={url}"],
                "OPENAI_API_KEY"),
    "openai": ("openai", ["--backend", "openai", "--model", "test-model", "--option", "base_url={url}"],
               "OPENAI_API_KEY"),
    "gemini": ("gemini", ["--backend", "gemini", "--model", "gemini-test", "--option", "base_url={url}"],
               "GEMINI_API_KEY"),
}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_key_echoed_by_the_server_appears_nowhere(tmp_path, backend):
    shape, args, variable = BACKENDS[backend]
    secret = fake_secret(f"{backend}-key")
    out = tmp_path / "o.jsonl"
    server = ProviderServer(shape, lambda body: GOOD)
    server.echo_credentials = True
    with server:
        args = [a.format(url=server.base_url) for a in args]
        result = janus("generate", SPEC, *args, "--max-seeds", "1", "--d-factor", "0", "--out", out, "-q",
                       env=clean_env(**{variable: secret}))
    # the key was sent and the server did echo it back
    sent = server.headers[0].get("authorization", "") + server.headers[0].get("x-goog-api-key", "")
    assert secret in sent
    assert result.returncode == 1
    assert secret not in result.stdout and secret not in result.stderr
    assert "invalid credentials" in result.stderr  # the server's message is shown, the key masked
    with sqlite3.connect(f"{out}.journal.sqlite") as db:
        ledger = db.execute("SELECT reason, detail, job FROM failures").fetchall()
        everything = "\n".join(line for line in db.iterdump())
    assert len(ledger) == 1 and "invalid credentials" in ledger[0][1] and "***" in ledger[0][1]
    assert secret not in everything
    # what reads the journal later, in a shell where the key is not set (nothing left to mask)
    for command in (["stats", out, "--report", tmp_path / "report"], ["stats", out, "--json"]):
        shown = janus(*command, env=clean_env())
        assert shown.returncode == 0, shown.stderr
        assert secret not in shown.stdout + shown.stderr
    report = (tmp_path / "report" / "report.md").read_text()
    assert "401" in report or "failures" in report.lower()
    assert secret not in report
    need("starlette")
    from janus_plugins.review.app import ReviewData

    data = ReviewData(out)
    try:
        with review_client(data) as client:
            failures = client.get("/api/failures")
    finally:
        data.close()
    assert failures.status_code == 200
    assert "invalid credentials" in failures.text and secret not in failures.text


def test_an_old_ledger_holding_a_key_is_masked_by_the_review_api(api, monkeypatch):  # noqa: F811
    from janus_core.sdk import credentials

    secret = fake_secret("old-key")
    with sqlite3.connect(f"{api.out}.journal.sqlite") as db:  # written before keys were masked
        db.execute("UPDATE failures SET detail = ?", (f"HTTP 401: bad key Bearer {secret} (key {secret})",))
    monkeypatch.setattr(credentials, "_loaded", set(credentials._loaded))
    credentials.remember(secret)
    body = api.get("/api/failures").text
    assert "bad key" in body and secret not in body
    assert credentials.scrub(f"x-api-key: {secret}") == "x-api-key: ***"


def test_scrub_masks_every_loaded_secret_and_bearer_tokens(monkeypatch):
    from janus_core.sdk import credentials

    monkeypatch.setattr(credentials, "_loaded", set(credentials._loaded))
    one, two = fake_secret("first"), fake_secret("second")
    credentials.remember(one)
    credentials.remember(two)
    credentials.remember("abc")  # too short to mask safely: ordinary words would go
    text = f"{one} and {two}; Authorization: Bearer sk-unknown-1234567 abc"
    assert credentials.scrub(text) == "*** and ***; Authorization: Bearer *** abc"
    assert credentials.scrub_data({"a": [text], "b": 3}) == {"a": [credentials.scrub(text)], "b": 3}


def test_a_key_variable_is_read_by_any_command_for_masking(tmp_path):
    """``janus stats`` loads no backend, yet a ledger written by an older Janus is masked."""
    secret = fake_secret("env-key")
    from janus_core.run.journal import journal_path

    out = make_dataset(tmp_path)
    with sqlite3.connect(journal_path(out)) as db:
        db.execute("UPDATE failures SET detail = ?", (f"echo {secret}",))
    probe = textwrap.dedent(f"""
        from janus_core.run.journal import Journal
        print(Journal({str(journal_path(out))!r}).failures()[0]["detail"])
    """)
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                           env=clean_env(ANTHROPIC_API_KEY=secret))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "echo ***"


# --- keys where they must never be --------------------------------------------------------------------

@pytest.mark.parametrize(("args", "variable"), [
    (["--backend", "openai", "--option", "api_key={secret}"], "OPENAI_API_KEY"),
    (["--backend", "litellm", "--model", "anthropic/claude-sonnet-4-5", "--option", "key={secret}"],
     "ANTHROPIC_API_KEY"),
    (["--backend", "litellm", "--model", "groq/llama-3.1-8b", "--option", "access_token={secret}"], "GROQ_API_KEY"),
    (["--backend", "gemini", "--option", "clientSecret={secret}"], "GEMINI_API_KEY"),
])
def test_a_key_on_the_command_line_is_refused_by_dry_run(args, variable):
    secret = fake_secret("cli-key")
    result = run_janus("generate", SPEC, *[a.format(secret=secret) for a in args], "--dry-run",
                       env={"OPENAI_API_KEY": "", "GEMINI_API_KEY": "", "GOOGLE_API_KEY": ""})
    assert result.returncode == 1, result.stdout
    assert "keys are never given as options" in result.stderr and variable in result.stderr
    assert "Traceback" not in result.stderr
    assert secret not in result.stdout + result.stderr
    assert "dry run:" not in result.stdout


def test_a_key_pasted_as_api_key_env_is_refused_unshown(tmp_path):
    secret = fake_secret("pasted-key")
    result = run_janus("generate", SPEC, "--backend", "litellm", "--option", f"api_key_env={secret}",
                       "--max-seeds", "1", "--out", tmp_path / "o.jsonl")
    assert result.returncode == 1
    assert "names the environment variable" in result.stderr and secret not in result.stdout + result.stderr


def spec_with(tmp_path: Path, model: dict) -> tuple[Path, str]:
    """A copy of the instruct sample with setup.yaml's model section replaced."""
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "diagram.mermaid").write_text((SPEC / "diagram.mermaid").read_text())
    data = yaml.safe_load((SPEC / "setup.yaml").read_text())
    data["model"] = model
    text = yaml.safe_dump(data, sort_keys=False)
    (folder / "setup.yaml").write_text(text)
    return folder, text


def position(text: str, word: str) -> tuple[int, int]:
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(f"{word}:"):
            return n, len(line) - len(line.lstrip()) + 1
    raise AssertionError(word)


@pytest.mark.parametrize(("model", "field", "variable"), [
    ({"backend": "openai", "name": "gpt-4o-mini", "options": {"api_key": "{secret}"}}, "api_key", "OPENAI_API_KEY"),
    ({"backend": "litellm", "name": "mistral/mistral-small", "api_key": "{secret}"}, "api_key", "MISTRAL_API_KEY"),
    ({"backend": "gemini", "options": {"hf_token": "{secret}"}}, "hf_token", "GEMINI_API_KEY"),
])
def test_a_key_in_setup_yaml_is_refused_by_validate_and_generate(tmp_path, model, field, variable):
    secret = fake_secret("yaml-key")
    model = json.loads(json.dumps(model).replace("{secret}", secret))
    folder, text = spec_with(tmp_path, model)
    line, col = position(text, field)
    for args in (["validate", folder], ["generate", folder, "--dry-run"],
                 ["generate", folder, "--out", tmp_path / "o.jsonl"]):
        result = run_janus(*args, env={"OPENAI_API_KEY": "", "GEMINI_API_KEY": "", "MISTRAL_API_KEY": ""})
        assert result.returncode == 1, (args, result.stdout)
        assert f"setup.yaml:{line}:{col}:" in result.stderr, result.stderr
        assert "looks like a key" in result.stderr and variable in result.stderr
        assert secret not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_names_that_only_mention_a_key_variable_or_tokens_are_not_refused():
    from janus_core.sdk.credentials import is_secret_name

    assert [n for n in ("api_key", "key", "token", "apiKey", "client_secret", "password", "HF_TOKEN",
                        "authorization") if not is_secret_name(n)] == []
    assert [n for n in ("api_key_env", "max_tokens", "tokens_per_minute", "monkey", "keyword", "base_url",
                        "primary_key", "sortKey")
            if is_secret_name(n)] == []


def test_litellm_reads_the_providers_usual_variable():
    from janus_plugins.litellm import LiteLLMBackend

    assert LiteLLMBackend.key_env_names("anthropic/claude-x") == ("ANTHROPIC_API_KEY",)
    assert LiteLLMBackend.key_env_names("gemini/gemini-2.5-flash") == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    assert LiteLLMBackend.key_env_names("together_ai/llama")[0] == "TOGETHERAI_API_KEY"
    assert LiteLLMBackend.key_env_names("hosted_vllm/m") == ("HOSTED_VLLM_API_KEY",)
    assert LiteLLMBackend.key_env_names("openai/x", {"api_key_env": "MY_KEY"}) == ("MY_KEY",)


# --- litellm stays on this machine --------------------------------------------------------------------

AUDIT = """
import socket, sys
log = open(sys.argv[1], "w")

def audit(event, args):
    if event == "socket.connect":
        address = args[1]
        log.write(f"connect {address[0] if isinstance(address, tuple) else address}\\n")
        log.flush()
    elif event == "socket.getaddrinfo":
        log.write(f"resolve {args[0]}\\n")
        log.flush()

sys.addaudithook(audit)
from janus_core.cli import main
sys.argv = ["janus", *sys.argv[2:]]
main()
"""


def test_litellm_connects_to_nothing_but_the_model(tmp_path):
    secret = fake_secret("local-key")
    log = tmp_path / "connections.txt"
    script = tmp_path / "audited.py"
    script.write_text(AUDIT)
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", lambda body: GOOD) as server:
        result = subprocess.run(
            [sys.executable, str(script), str(log), "generate", str(SPEC), "--backend", "litellm", "--model",
             "openai/test-model", "--option", f"api_base={server.base_url}", "--max-seeds", "1", "--d-factor", "0",
             "--out", str(out), "-q"],
            capture_output=True, text=True, timeout=300, cwd=ROOT, env=clean_env(OPENAI_API_KEY=secret))
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 1 and out.read_text().count("\n") == 1
    events = log.read_text().splitlines()
    assert "connect 127.0.0.1" in events
    elsewhere = [e for e in events if e.split(" ", 1)[1] not in ("127.0.0.1", "localhost")]
    assert elsewhere == []


# --- the review page --------------------------------------------------------------------------------

def test_review_sends_security_headers(api):  # noqa: F811
    for path in ("/", "/api/summary", "/api/failures", "/api/records/nope"):
        response = api.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "connect-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert "'sha256-" in api.get("/").headers["content-security-policy"]  # the page's own script and style


@pytest.mark.parametrize("headers", [
    {"origin": "http://attacker.example"},
    {"origin": "null"},
    {"origin": "http://127.0.0.1:9"},  # another port is another origin
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site", "origin": "http://127.0.0.1"},
])
def test_review_refuses_cross_origin_writes(api, headers):  # noqa: F811
    from test_review import IDS

    refused = api.post(f"/api/records/{IDS[0]}/review", json={"state": "kept"}, headers=headers)
    assert refused.status_code == 403
    assert refused.headers["x-frame-options"] == "DENY"
    assert api.get("/api/summary").json()["kept"] == 0  # nothing was written
    same = api.post(f"/api/records/{IDS[0]}/review", json={"state": "kept"},
                    headers={"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"})
    assert same.status_code == 200 and same.json()["summary"]["kept"] == 1


def test_review_page_runs_under_its_policy_in_a_browser(review_server):  # noqa: F811
    need("playwright", chromium=True)
    from playwright.sync_api import expect, sync_playwright
    from test_review import CHROMIUM, CHROMIUM_ARGS

    url, _out = review_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.goto(url)
            expect(page.locator("#where")).to_have_text("1 of 6")
            page.keyboard.press("k")  # a same-origin write from the page itself (the browser sends Origin)
            expect(page.locator("#n-kept")).to_have_text("1")
            expect(page.locator("#where")).to_have_text("2 of 6")
        finally:
            browser.close()
    assert [m for m in console if "Content Security Policy" in m] == []
