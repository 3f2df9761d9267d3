"""Native tool calls against llama-cpp-python's own server (``python -m llama_cpp.server``) running
the bundled SmolLM2 GGUF with its function-calling chat format, on 127.0.0.1: the openai and
litellm backends send the tools and read the calls it makes back in Janus's form.

That chat format takes ``tool_choice`` "auto", "none" or a named function; "required" fails inside
the server (HTTP 500), so the test names the tool."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import fake_secret, has_local_model
from test_llama_server import serving

from janus_core.sdk.contracts import CompletionRequest, assistant_message, tool_message

pytestmark = [pytest.mark.local_model,
              pytest.mark.skipif(not has_local_model(), reason="needs the 'local' extra (llama-cpp-python)")]

SECRET = fake_secret("llama-tools-key")
GET_PATIENT = {"type": "function", "function": {
    "name": "get_patient", "description": "Get a patient by id",
    "parameters": {"type": "object", "properties": {"patient_id": {"type": "integer"}}, "required": ["patient_id"]}}}


@pytest.fixture(scope="module")
def function_server(tmp_path_factory):
    """The base URL of a llama_cpp.server with the chatml-function-calling chat format."""
    with serving(tmp_path_factory.mktemp("llama-tools") / "server.log", "--n_ctx", "2048",
                 "--chat_format", "chatml-function-calling") as (base, _):
        yield base


def _backend(name, base):
    if name == "openai":
        from janus_plugins.openai import OpenAIBackend

        return OpenAIBackend("SmolLM2", {"base_url": base})
    from janus_plugins.litellm import LiteLLMBackend

    return LiteLLMBackend("openai/SmolLM2", {"api_base": base, "api_key_env": "JANUS_TEST_KEY"})


@pytest.mark.parametrize("name", ["openai", "litellm"])
def test_the_llama_cpp_function_calling_server_makes_calls_janus_reads(function_server, name, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("JANUS_TEST_KEY", SECRET)
    messages = [{"role": "system", "content": "You help nurses."}, {"role": "user", "content": "Who is patient 3?"}]

    async def go():
        backend = _backend(name, function_server)
        await backend.start()
        try:
            first = await backend.complete(CompletionRequest(messages=messages, tools=[GET_PATIENT], max_tokens=64,
                                                             tool_choice="get_patient", temperature=0.0, seed=1))
            call = first.tool_calls[0]
            # the call and its result in the history go back in OpenAI's form; the model answers
            history = [*messages, assistant_message(first), tool_message(call.id, '{"id": 3, "name": "Ada"}')]
            second = await backend.complete(CompletionRequest(messages=history, tools=[GET_PATIENT], max_tokens=64,
                                                              tool_choice="none", temperature=0.0, seed=1))
            return first, second
        finally:
            await backend.aclose()

    first, second = asyncio.run(go())
    [call] = first.tool_calls
    assert call.name == "get_patient" and call.id
    assert "patient_id" in json.loads(call.arguments)  # the server's grammar follows the tool's schema
    assert first.finish_reason == "tool_calls"
    assert not second.tool_calls and second.text.strip()
