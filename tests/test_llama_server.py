"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) with the bundled
SmolLM2 GGUF on 127.0.0.1, driven by the openai and litellm backends at their defaults."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import SAMPLES, fake_secret, has_local_model, read_jsonl, run_janus

from janus_core.run.journal import Journal, journal_path

pytestmark = [pytest.mark.local_model,
              pytest.mark.skipif(not has_local_model(), reason="needs the 'local' extra (llama-cpp-python)")]

SECRET = fake_secret("llama-server-key")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(log: Path, *args: str) -> Iterator[tuple[str, str]]:
    """(base URL, model id as the server lists it) of a llama_cpp.server on the bundled GGUF, with
    ``args`` added to its command line; stopped on leaving."""
    pytest.importorskip("llama_cpp.server.app", reason="llama_cpp.server cannot import: install the 'local' extra "
                                                       "(llama-cpp-python[server])")
    from janus_plugins.local import bundled_model_path

    port = free_port()
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()),
                                 "--host", "127.0.0.1", "--port", str(port), *args], stdout=sink,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        yield base, wait_for_models(base, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """(base URL, model id as the server lists it) of a running llama_cpp.server."""
    with serving(tmp_path_factory.mktemp("llama-server") / "server.log") as server:
        yield server


def wait_for_models(base: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({proc.returncode}):\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=5) as response:
                return json.load(response)["data"][0]["id"]
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"llama_cpp.server did not answer in {timeout:.0f} s:\n{log.read_text(errors='replace')[-2000:]}")


@pytest.mark.parametrize("backend", ["openai", "litellm"])
def test_generate_through_llama_cpp_server(tmp_path, llama_server, backend):
    base, model = llama_server
    out = tmp_path / "data.jsonl"
    if backend == "openai":
        args = ["--model", model, "--option", f"base_url={base}"]
    else:
        args = ["--model", f"openai/{model}", "--option", f"api_base={base}"]
    # two seeds, no derivations, no filters: three requests at most per run (one refused mode)
    result = run_janus("generate", SAMPLES / "marriage_counsel_instruct", "--backend", backend, *args,
                       "--max-seeds", "2", "--d-factor", "0", "--no-filters", "--out", out, "--log-json", "-q",
                       env={"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": "", "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    summary = next(json.loads(line) for line in result.stderr.splitlines() if '"event": "summary"' in line)
    assert "transport" not in summary["failures"], summary
    records = read_jsonl(out)
    assert records and all(r["messages"][-1]["content"] for r in records)
    journal = Journal(journal_path(out))
    try:
        negotiated = journal.get_meta("structured")
    finally:
        journal.close()
    # llama-cpp-python's server refuses json_schema (HTTP 500) and takes json_object with the schema
    assert negotiated == {"mode": "json_object_schema", "refused": ["json_schema"], "forced": False}
