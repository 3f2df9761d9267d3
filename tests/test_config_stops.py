"""Configuration errors stop a run at the first sign: a refused key (401/403), a model the server does
not know (404), a missing package. One message says what to fix, the exit status is 1, the failure
ledger stays empty, and the same command continues once the cause is fixed."""

from __future__ import annotations

import json
import os
import sqlite3

from batch_servers import AnthropicServer
from conftest import SAMPLES, fake_secret, read_jsonl, run_janus
from servers import OpenAICompatibleServer, anthropic_message, chat_completion

from janus_core.run.journal import journal_path

SPEC = SAMPLES / "marriage_counsel_instruct"
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})
RIGHT_KEY = fake_secret("right-key")
WRONG_KEY = fake_secret("wrong-key")


class KeyedOpenAIServer(OpenAICompatibleServer):
    """OpenAI's shape; a request without ``Bearer RIGHT_KEY`` is answered 401, as OpenAI does."""

    def __init__(self, model_known=lambda model: True):
        super().__init__(self._reply)
        self.model_known = model_known

    def answer(self, path, body, headers):
        self.auth = headers.get("authorization")
        return super().answer(path, body, headers)

    def _reply(self, body):
        if self.auth != f"Bearer {RIGHT_KEY}":
            return 401, {"error": {"message": f"Incorrect API key provided: {self.auth}", "code": "invalid_api_key",
                                   "type": "invalid_request_error"}}, {}
        if not self.model_known(body["model"]):
            return 404, {"error": {"message": f"The model `{body['model']}` does not exist or you do not have "
                                   "access to it.", "type": "invalid_request_error", "code": "model_not_found"}}, {}
        return 200, chat_completion(GOOD, body["model"]), {}


def failures(out) -> list:
    with sqlite3.connect(journal_path(out)) as db:
        return db.execute("SELECT reason, detail FROM failures").fetchall()


def generate(cli, server, out, key, *extra):
    return cli("generate", SPEC, "-m", "gpt-4o-mini", "--option", f"base_url={server.base_url}", "--s-factor", "2",
               "--d-factor", "1", "--no-filters", "--out", out, "-q", *extra, env={"OPENAI_API_KEY": key})


def test_a_refused_key_stops_the_run_and_a_plain_rerun_after_the_fix_continues(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with KeyedOpenAIServer() as server:
        refused = generate(cli, server, out, WRONG_KEY, "--concurrency", "4")
        asked = len(server.requests)
        fixed = generate(cli, server, out, RIGHT_KEY)
    assert refused.exit_code == 1
    message = refused.output
    assert "HTTP 401" in message and "Incorrect API key provided" in message
    assert "the key in OPENAI_API_KEY" in message and "rerun the same command" in message
    assert WRONG_KEY not in message and "Traceback" not in message
    assert asked <= 4  # the requests already in flight, no retry and no further job
    assert failures(out) == []
    assert fixed.exit_code == 0, fixed.output
    records = read_jsonl(out)
    assert len(records) == 36  # 12 seeds (3 contexts x 2 directions x 2), each evolved along 2 directions
    assert "earlier failures" not in fixed.output


def test_a_model_the_server_does_not_know_stops_the_run(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with KeyedOpenAIServer(model_known=lambda model: model != "gpt-4o-mini") as server:
        result = generate(cli, server, out, RIGHT_KEY, "--concurrency", "1")
        assert len(server.requests) == 1
    assert result.exit_code == 1
    assert "does not know the model 'gpt-4o-mini'" in result.output and "model_not_found" not in result.output
    assert "The model `gpt-4o-mini` does not exist" in result.output
    assert failures(out) == []


def test_anthropic_refused_key_then_the_right_one(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    args = ["generate", SPEC, "-m", "claude-haiku-4-5", "--no-filters", "--d-factor", "0", "--out", out, "-q"]
    with AnthropicServer(lambda params: anthropic_message(GOOD, params["model"]), RIGHT_KEY) as server:
        args += ["--option", f"base_url={server.base_url}"]
        refused = cli(*args, env={"ANTHROPIC_API_KEY": WRONG_KEY})
        fixed = cli(*args, env={"ANTHROPIC_API_KEY": RIGHT_KEY})
    assert refused.exit_code == 1
    assert "HTTP 401" in refused.output and "the key in ANTHROPIC_API_KEY" in refused.output
    assert WRONG_KEY not in refused.output
    assert fixed.exit_code == 0, fixed.output
    assert len(read_jsonl(out)) == 6


MISSING_SDK = '''
from janus_core import hookimpl
from janus_core.sdk.contracts import Backend


class NeedsSdk(Backend):
    """A backend whose provider SDK is imported on the first request, and is not installed."""

    name = "needs-sdk"

    async def complete(self, request):
        raise ModuleNotFoundError("No module named 'google.genai'", name="google.genai")


@hookimpl
def register_backends(register):
    register(NeedsSdk)
'''


def test_a_missing_provider_package_stops_the_run_with_the_extra_to_install(cli, tmp_path):
    plugin = tmp_path / "needs_sdk.py"
    plugin.write_text(MISSING_SDK)
    out = tmp_path / "o.jsonl"
    result = cli("--plugin", plugin, "generate", SPEC, "--backend", "needs-sdk", "--no-filters", "--out", out)
    assert result.exit_code == 1
    assert "pip install 'janus-data[gemini]'" in result.output
    assert "Traceback" not in result.output
    assert failures(out) == []


def test_the_install_hint_keeps_its_brackets(tmp_path):
    """google-genai hidden (a plain 'google' package first on the path): the gemini backend, picked by
    the model name, names its extra in full, in a fresh interpreter as a user runs it."""
    hidden = tmp_path / "hide"
    (hidden / "google").mkdir(parents=True)
    (hidden / "google" / "__init__.py").write_text("")
    out = tmp_path / "o.jsonl"
    path = os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])
    result = run_janus("generate", SPEC, "-m", "gemini-2.5-flash", "--out", out,
                       env={"PYTHONPATH": path, "GEMINI_API_KEY": RIGHT_KEY, "TERM": "xterm-256color",
                            "FORCE_COLOR": "1"})
    assert result.returncode == 1
    assert "pip install 'janus-data[gemini]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not journal_path(out).exists()


def test_a_servers_words_are_never_read_as_console_markup(cli, tmp_path):
    """The summary prints failures through rich: brackets in a server's message are shown as sent."""
    said = "model [bold]x[/bold] needs pip install 'janus-data[gemini]' \\[literal]"

    def refuse(body):
        return 400, {"error": {"message": said, "type": "invalid_request_error"}}, {}

    out = tmp_path / "o.jsonl"
    with OpenAICompatibleServer(refuse) as server:
        result = cli("generate", SPEC, "-m", "gpt-4o-mini", "--option", f"base_url={server.base_url}",
                     "--max-seeds", "1", "--d-factor", "0", "--no-filters", "--out", out, "-q",
                     env={"OPENAI_API_KEY": RIGHT_KEY})
    assert result.exit_code == 1
    assert said in result.output
