"""Tool calls and reasoning through every provider backend, against stand-in servers on 127.0.0.1:
the tools go out in the provider's shape, a history with calls and results is translated, and the
reply's calls and reasoning come back in OpenAI's form. The JSON call format carries them for a
backend without native tool calling, and the request cache replays them."""

from __future__ import annotations

import asyncio
import copy
import json
from types import SimpleNamespace

import pytest
from batch_servers import AnthropicServer
from conftest import fake_secret
from janus_plugins.anthropic import AnthropicBackend
from janus_plugins.gemini import GeminiBackend
from janus_plugins.litellm import LiteLLMBackend
from janus_plugins.openai import OpenAIBackend
from servers import GeminiServer, OpenAICompatibleServer, chat_completion, gemini_content

from janus_core.run.engine import Engine
from janus_core.run.journal import Journal
from janus_core.sdk.contracts import Completion, OutputType, ToolCall, assistant_message, tool_message
from janus_core.sdk.errors import BackendError
from janus_core.sdk.tool_calls import json_call_request, plain_messages, read_json_calls

SECRET = fake_secret("tools-key")
GET_PATIENT = {"type": "function", "function": {
    "name": "get_patient", "description": "Get a patient by id",
    "parameters": {"type": "object", "properties": {"patient_id": {"type": "integer"}}, "required": ["patient_id"]}}}
ORDERS = {"type": "function", "function": {
    "name": "orders_of_patient", "description": "The orders of a patient",
    "parameters": {"type": "object", "properties": {"patient_id": {"type": "integer"}}}}}
TOOLS = [GET_PATIENT, ORDERS]
FIRST_CALL = ToolCall(id="call_first", name="get_patient", arguments='{"patient_id": 3}')
#: a conversation so far: a call made, its result back, and the user asking on
HISTORY = [
    {"role": "system", "content": "You help nurses."},
    {"role": "user", "content": "Who is patient 3?"},
    {"role": "assistant", "content": "", "tool_calls": [FIRST_CALL.to_dict()], "reasoning": "look it up"},
    tool_message("call_first", '{"id": 3, "name": "Ada"}'),
    {"role": "user", "content": "And her orders?"},
]
WANTED = ToolCall(id="call_next", name="orders_of_patient", arguments='{"patient_id": 3}')


def _run(backend, request_kwargs=None):
    from janus_core.sdk.contracts import CompletionRequest

    async def go():
        await backend.start()
        try:
            given = {"tools": TOOLS, "tool_choice": "required", **(request_kwargs or {})}
            return await backend.complete(CompletionRequest(messages=copy.deepcopy(HISTORY), **given))
        finally:
            await backend.aclose()
    return asyncio.run(go())


# --- OpenAI-compatible: openai (each transport) and litellm ----------------------------------------

def openai_reply(style):
    """A chat completion that calls ``orders_of_patient``, its reasoning in ``style``'s field."""
    def reply(body):
        payload = chat_completion("", model=body["model"], finish_reason="tool_calls")
        message = payload["choices"][0]["message"]
        message["tool_calls"] = [WANTED.to_dict()]
        if style == "think":
            message["content"] = "<think>she has orders</think>Let me look."
        else:
            message["content"] = None
            message[style] = "she has orders"
        return 200, payload, {}
    return reply


COMPAT = {
    "openai": lambda url: OpenAIBackend("test-model", {"base_url": url}),
    "openai-sdk": lambda url: OpenAIBackend("test-model", {"base_url": url, "transport": "sdk"}),
    "openai-sdk-httpx": lambda url: OpenAIBackend("test-model", {"base_url": url, "transport": "sdk-httpx"}),
    "litellm": lambda url: LiteLLMBackend("openai/test-model", {"api_base": url, "api_key_env": "JANUS_TEST_KEY"}),
}


@pytest.mark.parametrize("style", ["reasoning_content", "reasoning", "think"])
@pytest.mark.parametrize("name", list(COMPAT))
def test_openai_compatible_backends_send_tools_and_read_calls_and_reasoning(name, style, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("JANUS_TEST_KEY", SECRET)
    with OpenAICompatibleServer(openai_reply(style)) as server:
        completion = _run(COMPAT[name](server.base_url))
    body = server.requests[0]
    assert body["tools"] == TOOLS
    assert body["tool_choice"] == "required"
    assert "response_format" not in body  # a tool request has no schema: nothing negotiated
    sent = body["messages"]
    assert sent[2]["tool_calls"] == [FIRST_CALL.to_dict()]
    assert "reasoning" not in sent[2]  # Janus's own field is not sent on
    assert sent[3] == {"role": "tool", "tool_call_id": "call_first", "content": '{"id": 3, "name": "Ada"}'}
    assert completion.tool_calls == [WANTED]
    assert completion.reasoning == "she has orders"
    assert completion.text == ("Let me look." if style == "think" else "")
    assert completion.finish_reason == "tool_calls"
    assert assistant_message(completion) == {"role": "assistant", "content": completion.text,
                                             "tool_calls": [WANTED.to_dict()], "reasoning": "she has orders"}


def test_a_named_tool_choice_goes_out_as_a_function(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with OpenAICompatibleServer(openai_reply("reasoning")) as server:
        _run(OpenAIBackend("test-model", {"base_url": server.base_url}), {"tool_choice": "orders_of_patient"})
    assert server.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "orders_of_patient"}}


def test_a_reply_with_too_many_tool_calls_is_refused(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def flood(body):
        payload = chat_completion("", finish_reason="tool_calls")
        payload["choices"][0]["message"]["tool_calls"] = [WANTED.to_dict()] * 100
        return 200, payload, {}

    with OpenAICompatibleServer(flood) as server, pytest.raises(BackendError, match="more than 64") as caught:
        _run(OpenAIBackend("test-model", {"base_url": server.base_url}))
    assert caught.value.reason == "bad_reply"


def test_a_tool_call_without_a_name_is_a_bad_reply(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def nameless(body):
        payload = chat_completion("", finish_reason="tool_calls")
        payload["choices"][0]["message"]["tool_calls"] = [{"id": "x", "type": "function", "function": {}}]
        return 200, payload, {}

    with OpenAICompatibleServer(nameless) as server, pytest.raises(BackendError, match="no function name"):
        _run(OpenAIBackend("test-model", {"base_url": server.base_url}))


# --- Anthropic ----------------------------------------------------------------------------------

def test_anthropic_translates_tools_history_calls_and_thinking(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)

    def reply(params):
        return {"id": "msg_1", "type": "message", "role": "assistant", "model": params["model"],
                "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 9},
                "content": [{"type": "thinking", "thinking": "she has orders", "signature": "sig"},
                            {"type": "text", "text": "Let me look."},
                            {"type": "tool_use", "id": "call_next", "name": "orders_of_patient",
                             "input": {"patient_id": 3}}]}

    with AnthropicServer(reply, SECRET) as server:
        seen = []
        server.reply = lambda params: (seen.append(params), reply(params))[1]
        completion = _run(AnthropicBackend("claude-test", {"base_url": server.base_url}))
    params = seen[0]
    assert params["tools"] == [{"name": "get_patient", "description": "Get a patient by id",
                                "input_schema": GET_PATIENT["function"]["parameters"]},
                               {"name": "orders_of_patient", "description": "The orders of a patient",
                                "input_schema": ORDERS["function"]["parameters"]}]
    assert params["tool_choice"] == {"type": "any"}
    assert params["system"] == "You help nurses."
    assert params["messages"] == [
        {"role": "user", "content": "Who is patient 3?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_first", "name": "get_patient",
                                           "input": {"patient_id": 3}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_first",
                                      "content": '{"id": 3, "name": "Ada"}'},
                                     {"type": "text", "text": "And her orders?"}]}]
    assert completion.tool_calls == [ToolCall("call_next", "orders_of_patient", '{"patient_id": 3}')]
    assert completion.reasoning == "she has orders"
    assert completion.text == "Let me look."
    assert completion.finish_reason == "tool_calls"


# --- Gemini -------------------------------------------------------------------------------------

def test_gemini_translates_tools_history_calls_and_thoughts(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)

    def reply(body):
        payload = gemini_content("")
        payload["candidates"][0]["content"]["parts"] = [
            {"text": "she has orders", "thought": True},
            {"functionCall": {"name": "orders_of_patient", "args": {"patient_id": 3}}}]
        return 200, payload, {}

    with GeminiServer(reply) as server:
        completion = _run(GeminiBackend("gemini-test", {"base_url": server.base_url}))
    body = server.requests[0]
    declarations = body["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["get_patient", "orders_of_patient"]
    # the SDK writes the proto field name; Google's JSON reader takes it as well as the camel-case one
    assert declarations[0]["parameters_json_schema"] == GET_PATIENT["function"]["parameters"]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["systemInstruction"]["parts"] == [{"text": "You help nurses."}]
    contents = body["contents"]
    assert contents[1] == {"role": "model", "parts": [{"functionCall": {
        "id": "call_first", "name": "get_patient", "args": {"patient_id": 3}}}]}
    assert contents[2] == {"role": "user", "parts": [{"functionResponse": {
        "id": "call_first", "name": "get_patient", "response": {"output": '{"id": 3, "name": "Ada"}'}}}]}
    assert contents[3] == {"role": "user", "parts": [{"text": "And her orders?"}]}
    [call] = completion.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("orders_of_patient", {"patient_id": 3})
    assert call.id.startswith("call_")  # Gemini gave none: one made from the call, the same every time
    assert completion.reasoning == "she has orders"
    assert completion.text == ""
    assert completion.finish_reason == "tool_calls"


# --- the JSON call format -----------------------------------------------------------------------

def test_json_call_format_reads_calls_in_its_forms():
    assert read_json_calls('{"tool": "get_patient", "arguments": {"patient_id": 3}}')[1][0].name == "get_patient"
    text, calls = read_json_calls('I will check.\n{"tool": "get_patient", "arguments": {"patient_id": 3}}\n'
                                  '{"name": "orders_of_patient", "arguments": {"patient_id": 3}}')
    assert text == "I will check."
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_patient", {"patient_id": 3}),
                                                                  ("orders_of_patient", {"patient_id": 3})]
    fenced = '```json\n{"tool": "get_patient", "arguments": {"patient_id": 3}}\n```'
    assert [c.name for c in read_json_calls(fenced)[1]] == ["get_patient"]
    tagged = '<tool_call>{"name": "get_patient", "arguments": {"patient_id": 3}}</tool_call>'
    assert [c.name for c in read_json_calls(tagged)[1]] == ["get_patient"]
    plain = "Ada has two orders: {none pending}."
    assert read_json_calls(plain) == (plain, [])
    assert read_json_calls('{"answer": 3}') == ('{"answer": 3}', [])  # JSON that is no call stays text


def test_json_call_request_offers_the_tools_and_renders_the_history_as_text():
    from janus_core.sdk.contracts import CompletionRequest

    sent = json_call_request(CompletionRequest(messages=copy.deepcopy(HISTORY), tools=TOOLS, tool_choice="required"))
    assert sent.tools is None and sent.tool_choice is None
    system = sent.messages[0]
    assert system["role"] == "system" and system["content"].startswith("You help nurses.")
    assert "get_patient: Get a patient by id" in system["content"]
    assert '"patient_id"' in system["content"] and '{"tool": "TOOL_NAME"' in system["content"]
    assert "Call at least one tool now." in system["content"]
    assert sent.messages[1:] == [
        {"role": "user", "content": "Who is patient 3?"},
        {"role": "assistant", "content": '{"tool": "get_patient", "arguments": {"patient_id": 3}}'},
        {"role": "user", "content": 'Result of get_patient: {"id": 3, "name": "Ada"}'},
        {"role": "user", "content": "And her orders?"}]
    assert all(set(m) == {"role", "content"} for m in plain_messages(HISTORY))


class PromptToolsBackend(OpenAIBackend):
    """An OpenAI-compatible server whose model has no tool calling: the JSON call format."""

    name = "prompt-tools"
    tools_native = False


def _engine(backend, journal):
    plan = SimpleNamespace(output_type=OutputType(), schema=None, generation="one-shot", seed=0)
    return Engine(plan, backend, journal, [])


def _ask(backend, journal, tools=TOOLS, messages=None, **given):
    """``Engine.ask`` with tools: its answer is the Completion (no ``completion=True`` needed)."""
    async def go():
        await backend.start()
        try:
            return await _engine(backend, journal).ask(copy.deepcopy(messages or HISTORY), None, role="assistant",
                                                       tools=tools, tool_choice="auto", **given)
        finally:
            await backend.aclose()
    return asyncio.run(go())


def test_the_engine_uses_the_json_call_format_where_the_backend_has_no_tool_calling(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def reply(body):
        return 200, chat_completion('<think>orders next</think>{"tool": "orders_of_patient", '
                                    '"arguments": {"patient_id": 3}}'), {}

    with OpenAICompatibleServer(reply) as server, Journal(tmp_path / "j.sqlite") as journal:
        completion = _ask(PromptToolsBackend("test-model", {"base_url": server.base_url}), journal)
    body = server.requests[0]
    assert "tools" not in body and "tool_choice" not in body
    assert "orders_of_patient: The orders of a patient" in body["messages"][0]["content"]
    assert body["messages"][2] == {"role": "assistant",
                                   "content": '{"tool": "get_patient", "arguments": {"patient_id": 3}}'}
    assert [(c.name, json.loads(c.arguments)) for c in completion.tool_calls] == [("orders_of_patient",
                                                                                  {"patient_id": 3})]
    assert completion.text == "" and completion.reasoning == "orders next"
    assert completion.finish_reason == "tool_calls"


# --- the request cache --------------------------------------------------------------------------

def test_a_resumed_run_replays_tool_calls_and_reasoning_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with OpenAICompatibleServer(openai_reply("reasoning_content")) as server:
        url = server.base_url
        with Journal(tmp_path / "j.sqlite") as journal:
            first = _ask(OpenAIBackend("test-model", {"base_url": url}), journal)
        with Journal(tmp_path / "j.sqlite") as journal:
            again = _ask(OpenAIBackend("test-model", {"base_url": url}), journal)
            assert len(server.requests) == 1  # replayed, not asked again
            other = _ask(OpenAIBackend("test-model", {"base_url": url}), journal, tools=[GET_PATIENT])
            assert len(server.requests) == 2  # other tools: another request
            result = {**HISTORY[3], "content": '{"id": 3, "name": "Bob"}'}
            _ask(OpenAIBackend("test-model", {"base_url": url}), journal, messages=[*HISTORY[:3], result, HISTORY[4]])
            assert len(server.requests) == 3  # another tool result in the history: another request
    assert again.tool_calls == first.tool_calls == [WANTED]
    assert again.reasoning == first.reasoning == "she has orders"
    assert other.tool_calls == [WANTED]


def test_a_version_3_journal_gains_the_column_for_tool_calls(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE requests (key TEXT PRIMARY KEY, text TEXT NOT NULL, model TEXT, finish_reason TEXT,
            tokens_in INTEGER NOT NULL DEFAULT 0, tokens_out INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
        CREATE TABLE records (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
            job_key TEXT UNIQUE NOT NULL, data TEXT NOT NULL);
        CREATE TABLE failures (job_key TEXT PRIMARY KEY, reason TEXT NOT NULL, detail TEXT NOT NULL,
            job TEXT NOT NULL, created_at TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '3');
        INSERT INTO requests VALUES ('old', 'an old reply', 'm', 'stop', 1, 2, 0.0, '2024-01-01');
        PRAGMA application_id = 1246647635;
    """)
    db.commit()
    db.close()
    with Journal(path) as journal:
        assert journal.cached("old")[0].text == "an old reply"
        journal.cache("new", Completion(text="", model="m", tool_calls=[WANTED], reasoning="why"), 0.0)
    with Journal(path) as journal:
        completion, _cost = journal.cached("new")
        assert completion.tool_calls == [WANTED] and completion.reasoning == "why"


def test_a_secret_in_a_tool_call_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def echo(body):
        payload = chat_completion("", finish_reason="tool_calls")
        leaked = ToolCall("call_x", "get_patient", json.dumps({"patient_id": 3, "note": SECRET}))
        payload["choices"][0]["message"]["tool_calls"] = [leaked.to_dict()]
        return 200, payload, {}

    with OpenAICompatibleServer(echo) as server, Journal(tmp_path / "j.sqlite") as journal:
        with pytest.raises(Exception, match="held a key") as caught:
            _ask(OpenAIBackend("test-model", {"base_url": server.base_url}), journal)
        assert SECRET not in str(caught.value)
        assert journal.db.execute("SELECT count(*) FROM requests").fetchone()[0] == 0


def test_a_request_without_tools_gets_the_dialogue_as_plain_text(tmp_path, monkeypatch):
    """A judge reading a dialogue with calls: Anthropic refuses tool blocks in a request without tools."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    seen = []

    def reply(params):
        seen.append(params)
        return {"id": "msg_1", "type": "message", "role": "assistant", "model": params["model"],
                "stop_reason": "end_turn", "usage": {"input_tokens": 20, "output_tokens": 9},
                "content": [{"type": "text", "text": "fine"}]}

    with AnthropicServer(reply, SECRET) as server, Journal(tmp_path / "j.sqlite") as journal:
        completion = _ask(AnthropicBackend("claude-test", {"base_url": server.base_url}), journal, tools=None,
                          completion=True)
    assert completion.text == "fine" and not completion.tool_calls
    assert "tools" not in seen[0]
    assert all(isinstance(m["content"], str) for m in seen[0]["messages"])
    assert seen[0]["messages"][1] == {"role": "assistant",
                                      "content": '{"tool": "get_patient", "arguments": {"patient_id": 3}}'}
