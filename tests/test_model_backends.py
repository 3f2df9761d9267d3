"""A model name picks its backend when none is named; the embedded backend runs only its own model,
and its requests cost nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from batch_servers import AnthropicServer
from conftest import SAMPLES, fake_secret, has_local_model, read_jsonl
from servers import ProviderServer, anthropic_message

from janus_core.run.journal import journal_path
from janus_core.sdk.model_names import backend_for_model

SPEC = SAMPLES / "marriage_counsel_instruct"
GOOD = json.dumps({"instruction": "Plan our weekly budget meeting", "response": "Start with one shared hour"})
OPENAI_KEY = fake_secret("openai-key")
ANTHROPIC_KEY = fake_secret("anthropic-key")


@pytest.mark.parametrize(("model", "picked"), [
    ("gpt-4o-mini", ("openai", "gpt-4o-mini")),
    ("o3-mini", ("openai", "o3-mini")),
    ("o1", ("openai", "o1")),
    ("chatgpt-4o-latest", ("openai", "chatgpt-4o-latest")),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc", ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc")),
    ("claude-haiku-4-5", ("anthropic", "claude-haiku-4-5")),
    ("gemini-2.5-flash", ("gemini", "gemini-2.5-flash")),
    ("openai/gpt-4o", ("openai", "gpt-4o")),
    ("anthropic/claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
    ("gemini/gemini-2.5-pro", ("gemini", "gemini-2.5-pro")),
    ("ollama/llama3.1", ("litellm", "ollama/llama3.1")),
    ("groq/llama-3.1-8b-instant", ("litellm", "groq/llama-3.1-8b-instant")),
    ("SmolLM2-135M-Instruct", None),
    ("omni-model", None),
    ("my-model", None),
])
def test_the_name_picks_the_backend(model, picked):
    assert backend_for_model(model) == picked


def test_litellm_table_places_bare_names_the_prefixes_miss():
    table = {"deepseek-chat": {"litellm_provider": "deepseek"}, "gpt-odd": {"litellm_provider": "openai"},
             "mystery": {"litellm_provider": "vertex_ai-language-models"}}
    assert backend_for_model("deepseek-chat", table) == ("litellm", "deepseek/deepseek-chat")
    assert backend_for_model("mystery", table) is None


def test_gpt_4o_mini_without_backend_runs_on_openai(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    with ProviderServer("openai", lambda body: GOOD) as server:
        result = cli("generate", SPEC, "-m", "gpt-4o-mini", "--option", f"base_url={server.base_url}",
                     "--max-seeds", "1", "--d-factor", "0", "--no-filters", "--out", out, "-q",
                     env={"OPENAI_API_KEY": OPENAI_KEY})
    assert result.exit_code == 0, result.output
    assert [body["model"] for body in server.requests] == ["gpt-4o-mini"]
    assert server.headers[0]["authorization"] == f"Bearer {OPENAI_KEY}"
    records = read_jsonl(out)
    assert [r["model"] for r in records] == ["gpt-4o-mini"]


def test_a_claude_name_without_backend_runs_on_anthropic(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    seen = []

    def reply(params):
        seen.append(params["model"])
        return anthropic_message(GOOD, params["model"])

    with AnthropicServer(reply, ANTHROPIC_KEY) as server:
        result = cli("generate", SPEC, "--model", "claude-haiku-4-5", "--option", f"base_url={server.base_url}",
                     "--max-seeds", "1", "--d-factor", "0", "--no-filters", "--out", out, "-q",
                     env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY})
    assert result.exit_code == 0, result.output
    assert seen == ["claude-haiku-4-5"]
    assert [r["model"] for r in read_jsonl(out)] == ["claude-haiku-4-5"]


def test_the_setup_yaml_model_name_picks_the_backend_too(cli, tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    for name in ("setup.yaml", "diagram.mermaid"):
        (spec / name).write_text((SPEC / name).read_text())
    with (spec / "setup.yaml").open("a") as setup:
        setup.write("\nmodel:\n  name: claude-haiku-4-5\n")
    result = cli("generate", spec, "--dry-run", "--log-json", "--out", tmp_path / "o.jsonl")
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert (estimate["backend"], estimate["model"]) == ("anthropic", "claude-haiku-4-5")


@pytest.mark.parametrize("args", [["--backend", "local", "-m", "gpt-4o-mini"], ["-m", "my-own-model"]])
def test_the_local_backend_refuses_a_model_it_does_not_run(cli, tmp_path, args):
    out = tmp_path / "o.jsonl"
    result = cli("generate", SPEC, *args, "--out", out, "--dry-run")
    assert result.exit_code == 1
    assert "the local backend runs the embedded SmolLM2-135M-Instruct" in result.output
    assert f"not '{args[-1]}'" in result.output
    if "gpt-4o-mini" in args:
        assert "the openai backend (--backend openai)" in result.output
    assert not out.exists() and not journal_path(out).exists()


def test_a_local_dry_run_costs_nothing(cli, tmp_path):
    result = cli("generate", SPEC, "--dry-run", "--log-json", "--out", tmp_path / "o.jsonl")
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.stdout)
    assert estimate["backend"] == "local" and estimate["estimated_cost"] == 0


@pytest.mark.local_model
@pytest.mark.skipif(not has_local_model(), reason="needs the 'local' extra (llama-cpp-python)")
def test_a_local_run_costs_nothing_whatever_its_model_file_is_called(cli, tmp_path):
    """A GGUF file named like a priced model still runs on this machine: its records cost $0 and are
    labelled with the file that ran, and --max-cost has nothing to refuse."""
    from janus_plugins.local import bundled_model_path

    gguf = tmp_path / "gpt-4o-mini.gguf"
    os.symlink(bundled_model_path(), gguf)
    out = tmp_path / "o.jsonl"
    result = cli("generate", SPEC, "--backend", "local", "--option", f"model_path={gguf}", "--option", "threads=2",
                 "--max-seeds", "1", "--d-factor", "0", "--no-filters", "--max-cost", "1", "--out", out,
                 "--log-json", env={"HF_HUB_OFFLINE": "1"})
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert records and all(r["model"] == "gpt-4o-mini" and r["usage"]["cost"] == 0 for r in records)
    summary = json.loads([line for line in result.output.splitlines() if '"summary"' in line][-1])
    assert summary["cost"] == 0 and summary["tokens_out"] > 0
    assert Path(gguf).is_symlink()


def test_a_provider_litellm_does_not_know_is_refused_before_any_request(cli, tmp_path):
    out = tmp_path / "o.jsonl"
    result = cli("generate", SPEC, "-m", "meta-llama/Llama-3.1-8B", "--max-seeds", "1", "--d-factor", "0",
                 "--out", out)
    assert result.exit_code == 1
    assert "litellm does not know which provider serves 'meta-llama/Llama-3.1-8B'" in result.output
    assert "hosted_vllm/NAME" in result.output and "Provider List" not in result.output
    assert not journal_path(out).exists()
