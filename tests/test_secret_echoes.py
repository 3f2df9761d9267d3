"""A server that echoes the key in another encoding gets it nowhere: not in the run summary or the
failure ledger (an error body), not in the dataset or the journal (a successful reply, refused as
``secret-in-reply``). Real stand-in servers on 127.0.0.1 for the openai, anthropic, gemini (REST)
and litellm (its OpenAI-compatible path) backends."""

from __future__ import annotations

import base64
import binascii
import json
import re
import sqlite3
from collections.abc import Callable
from urllib.parse import unquote

import pytest
from batch_servers import anthropic_message
from conftest import fake_secret
from servers import ProviderServer, chat_completion, error_body, gemini_content
from test_secrets import SPEC, clean_env, janus

#: name: how the server writes the key it was sent
ENCODINGS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "mixed case": lambda k: "".join(c.upper() if i % 2 else c for i, c in enumerate(k)),
    "hex": lambda k: k.encode().hex(),
    "HEX": lambda k: k.encode().hex().upper(),
    "base64": lambda k: base64.b64encode(k.encode()).decode(),
    "base64 at offset 1": lambda k: base64.b64encode(b"{" + k.encode() + b"}").decode(),
    "base64 at offset 2": lambda k: base64.b64encode(b'{"' + k.encode() + b'"}').decode(),
    "urlsafe base64 at offset 1": lambda k: base64.urlsafe_b64encode(b"\xfb" + k.encode() + b"\xff").decode(),
    "spaced out": lambda k: " ".join(k),
    "split across lines": lambda k: f"{k[:7]}\n{k[7:15]}\r\n{k[15:]}",
    "percent-encoded": lambda k: "".join(f"%{b:02X}" for b in k.encode()),
}

# backend: (server shape, generate arguments, its key variable)
BACKENDS = {
    "openai": ("openai", ["--backend", "openai", "--model", "test-model", "--option", "base_url={url}"],
               "OPENAI_API_KEY"),
    "litellm": ("openai", ["--backend", "litellm", "--model", "openai/test-model", "--option", "api_base={url}"],
                "OPENAI_API_KEY"),
    "gemini": ("gemini", ["--backend", "gemini", "--model", "gemini-test", "--option", "base_url={url}"],
               "GEMINI_API_KEY"),
    "anthropic": ("anthropic", ["--backend", "anthropic", "--model", "claude-test", "--option", "base_url={url}"],
                  "ANTHROPIC_API_KEY"),
}


def leaks(text: str, key: str) -> list[str]:
    """The encodings of ``key`` found in ``text``, by decoding what is there (not by the scrubber's
    own method): case-folded and with gaps removed, hex, percent-decoded, base64 at every offset."""
    close = re.sub(r"\s|\\[nrt]", "", text)
    found = []
    if key.lower() in close.lower():
        found.append("plain, any case")
    if key.encode().hex() in close.lower():
        found.append("hex")
    if key.lower() in unquote(close).lower():
        found.append("percent")
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", close):
        run = run.replace("-", "+").replace("_", "/")
        for start in range(4):
            chunk = run[start:]
            try:
                decoded = base64.b64decode(chunk[:len(chunk) // 4 * 4])
            except binascii.Error:
                continue
            if key.encode() in decoded:
                found.append("base64")
    return found


class EchoServer(ProviderServer):
    """Answers request n with the key it carried, written in the n-th encoding: in a 400 error body
    (``fail``), or in an otherwise good reply."""

    def __init__(self, shape: str, fail: bool):
        super().__init__("openai" if shape == "anthropic" else shape, lambda body: "")
        self.kind, self.fail = shape, fail
        self.echoed: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}" + ("" if self.kind == "gemini" else "/v1")

    def answer(self, path, body, headers):
        key = (headers.get("x-api-key") or headers.get("x-goog-api-key")
               or headers.get("authorization", "").removeprefix("Bearer "))
        with self.lock:
            n = len(self.requests)
            self.requests.append(body)
            self.headers.append(headers)
            self.paths.append(path)
            name = list(ENCODINGS)[n % len(ENCODINGS)]
            echoed = self.echoed[name] = ENCODINGS[name](key)
        if self.fail:
            # 400, not 401: a 401 stops the run at once (test_config_stops), this one reaches the ledger
            return 400, error_body(self.shape, 400, f"invalid credentials: {echoed}"), {}, 0.0
        content = json.dumps({"instruction": "Plan our weekly budget meeting",
                              "response": f"Start with one shared hour; your key is {echoed} by the way."})
        if self.kind == "openai":
            return 200, chat_completion(content, body.get("model", "test-model")), {}, 0.0
        if self.kind == "anthropic":
            return 200, anthropic_message(content, body.get("model", "claude-test")), {}, 0.0
        return 200, gemini_content(content), {}, 0.0


def run_against(tmp_path, backend: str, fail: bool):
    """``janus generate`` with one seed per encoding against an echoing server: (result, out, key)."""
    shape, args, variable = BACKENDS[backend]
    key = fake_secret(f"{backend}-key")
    out = tmp_path / "o.jsonl"
    with EchoServer(shape, fail) as server:
        args = [a.format(url=server.base_url) for a in args]
        result = janus("generate", SPEC, *args, "--s-factor", "2", "--max-seeds", str(len(ENCODINGS)),
                       "--d-factor", "0", "--no-filters", "--concurrency", "1", "--out", out,
                       env=clean_env(**{variable: key}))
    assert set(server.echoed) == set(ENCODINGS), "every encoding was sent back"
    return result, out, key


def journal_text(out) -> tuple[str, list[tuple[str, str]]]:
    with sqlite3.connect(f"{out}.journal.sqlite") as db:
        ledger = db.execute("SELECT reason, detail FROM failures").fetchall()
        dump = "\n".join(db.iterdump())
    return dump, ledger


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_key_echoed_encoded_in_an_error_is_masked_in_the_summary_and_the_ledger(tmp_path, backend):
    result, out, key = run_against(tmp_path, backend, fail=True)
    assert result.returncode == 1
    shown = result.stdout + result.stderr
    assert "invalid credentials" in shown and "Traceback" not in shown
    assert leaks(shown, key) == []
    dump, ledger = journal_text(out)
    assert len(ledger) == len(ENCODINGS)
    assert all("invalid credentials: " in detail and "***" in detail for _, detail in ledger)
    assert leaks(dump, key) == []


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_reply_holding_the_key_encoded_is_refused_and_stored_nowhere(tmp_path, backend):
    result, out, key = run_against(tmp_path, backend, fail=False)
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown and leaks(shown, key) == []
    assert not out.exists() or out.read_text() == ""
    dump, ledger = journal_text(out)
    assert [reason for reason, _ in ledger] == ["secret-in-reply"] * len(ENCODINGS)
    assert leaks(dump, key) == []
    assert "your key is" not in dump  # the reply is not in the request cache either
    assert "secret-in-reply" in shown


def test_a_batch_reply_no_job_waits_for_is_not_cached_when_it_holds_the_key(tmp_path, monkeypatch):
    """Batch results for requests of an earlier run are cached for the run that asks for them; one
    that holds the key is not (the run that asks again is refused it like any reply)."""
    from types import SimpleNamespace

    from janus_core.run.batch import BatchCollector
    from janus_core.run.journal import Journal, journal_path
    from janus_core.sdk import credentials
    from janus_core.sdk.contracts import Completion
    from janus_core.sdk.errors import BackendError

    key = fake_secret("batch-key")
    monkeypatch.setattr(credentials, "_loaded", set(credentials._loaded))
    credentials.remember(key)
    backend = SimpleNamespace(name="stand-in", model="m", batches=True, batch_discount=0.5)
    with Journal(journal_path(tmp_path / "o.jsonl")) as journal:
        collector = BatchCollector(backend, journal)
        collector._answer(["clean", "echo"], {"clean": Completion(text="a good reply", model="m"),
                                              "echo": Completion(text=f"key: {ENCODINGS['hex'](key)}", model="m")},
                          BackendError("expired"))
        assert journal.cached("clean") is not None
        assert journal.cached("echo") is None
