"""Tool calls: reading them from replies, and the JSON call format for backends without native ones.

Inside Janus a tool call is OpenAI's: an assistant message's ``tool_calls`` entries
``{"id", "type": "function", "function": {"name", "arguments": JSON text}}`` and a ``tool`` message
``{"role": "tool", "tool_call_id", "content"}`` per result (``contracts.ToolCall``).

**The JSON call format** (a backend whose ``tools_native`` is False, such as the embedded model):
the engine sends ``json_call_request(request)``: the tools and the format described in the system
prompt, the history's calls and results written as plain text, no ``tools`` field. The model calls
a tool by answering with one JSON object per call, alone on its line::

    {"tool": "get_patient", "arguments": {"patient_id": 3}}

(``{"name": ..., "arguments": ...}`` and Hermes-style ``<tool_call>{...}</tool_call>`` are read
too), or answers the user in plain text. ``read_json_calls`` turns such a reply into the same
``Completion.tool_calls`` a native backend gives.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

from janus_core.sdk.contracts import Completion, CompletionRequest, Message, ToolCall
from janus_core.sdk.errors import BackendError

#: the most tool calls one reply may hold; more make the reply an error (a runaway or hostile server)
MAX_TOOL_CALLS = 64
#: the keys of a message a provider is sent (``reasoning`` and anything else stay in Janus)
SENT_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


def call_id(index: int, name: str, arguments: str) -> str:
    """A call id for a provider that gives none: the same for the same call, so replays match."""
    digest = hashlib.sha256(f"{index}\x1f{name}\x1f{arguments}".encode()).hexdigest()
    return f"call_{digest[:24]}"


def arguments_text(value: Any) -> str:
    """Arguments as JSON text: a string as it is, anything else (a provider's object) encoded."""
    if isinstance(value, str):
        return value
    return json.dumps({} if value is None else value, ensure_ascii=False)


def arguments_object(text: str) -> dict[str, Any]:
    """Arguments as an object, for providers that take one (Anthropic ``input``, Gemini ``args``);
    text that is not a JSON object is kept as ``{"arguments": text}``."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"arguments": text}
    return value if isinstance(value, dict) else {"arguments": text}


def tool_name(tool: dict[str, Any]) -> str:
    """The name of an OpenAI function definition."""
    return str((tool.get("function") or {}).get("name") or tool.get("name") or "")


def checked_calls(calls: list[ToolCall], owner: str) -> list[ToolCall]:
    """``calls`` unless they are more than ``MAX_TOOL_CALLS`` (a BackendError: the reply is not used)."""
    if len(calls) > MAX_TOOL_CALLS:
        raise BackendError(f"{owner}: the reply holds {len(calls)} tool calls, more than {MAX_TOOL_CALLS}; "
                           "the reply is not used", reason="bad_reply")
    return calls


def openai_tool_calls(raw: Any, owner: str) -> list[ToolCall]:
    """The ``tool_calls`` of an OpenAI-style reply message; BackendError for a malformed list."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BackendError(f"{owner}: the reply's tool_calls is not a list; the reply is not used", reason="bad_reply")
    calls = []
    for index, entry in enumerate(raw[:MAX_TOOL_CALLS + 1]):
        function = entry.get("function") if isinstance(entry, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise BackendError(f"{owner}: tool call {index + 1} of the reply has no function name; the reply is not "
                               "used", reason="bad_reply")
        arguments = arguments_text(function.get("arguments"))
        given = entry.get("id")
        calls.append(ToolCall(id=given if isinstance(given, str) and given else call_id(index, name, arguments),
                              name=name, arguments=arguments))
    return checked_calls(calls, owner)


def sent_messages(messages: list[Message]) -> list[Message]:
    """Messages as a provider takes them: without ``reasoning`` or other keys of Janus's own."""
    return [{k: v for k, v in m.items() if k in SENT_KEYS} for m in messages]


def has_tool_turns(messages: list[Message]) -> bool:
    """Whether the history holds tool calls or tool results."""
    return any(m.get("tool_calls") or m.get("role") == "tool" for m in messages)


def call_names(messages: list[Message]) -> dict[str, str]:
    """Each call id in the history -> the name of the tool it called."""
    names = {}
    for message in messages:
        for entry in message.get("tool_calls") or ():
            call = ToolCall.from_dict(entry)
            names[call.id] = call.name
    return names


# --- the JSON call format -----------------------------------------------------------------------

CALL_FORMAT = ("To call a tool, answer with only a JSON object on its own line, and nothing else:\n"
               '{"tool": "TOOL_NAME", "arguments": {...}}\n'
               "One such line per call if you need several. You will get each result back and can then call "
               "more tools or answer. To answer the user instead, write plain text with no JSON.")
CHOICES = {"required": "Call at least one tool now.",
           "none": "Do not call any tool now: answer in plain text."}


def tools_prompt(tools: list[dict[str, Any]], tool_choice: str | None = None) -> str:
    """The system text that offers ``tools`` (OpenAI function definitions) in the JSON call format."""
    lines = ["You can use these tools:"]
    for tool in tools:
        function = tool.get("function") or tool
        parameters = json.dumps(function.get("parameters") or {"type": "object", "properties": {}},
                                sort_keys=True, ensure_ascii=False)
        description = str(function.get("description") or "").strip()
        lines.append(f"- {tool_name(tool)}: {description}\n  parameters (JSON schema): {parameters}")
    lines += ["", CALL_FORMAT]
    if tool_choice in CHOICES:
        lines.append(CHOICES[tool_choice])
    elif tool_choice and tool_choice != "auto":
        lines.append(f"Call the tool {tool_choice} now.")
    return "\n".join(lines)


def call_line(call: ToolCall) -> str:
    """One call written in the JSON call format."""
    try:
        arguments: Any = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        arguments = call.arguments
    return json.dumps({"tool": call.name, "arguments": arguments}, ensure_ascii=False)


def plain_messages(messages: list[Message]) -> list[Message]:
    """The history as plain user/assistant/system text: each assistant's calls as JSON call lines
    after its text, each run of tool results as one user message naming the tools."""
    names = call_names(messages)
    plain: list[Message] = []
    results: list[str] = []

    def flush() -> None:
        if results:
            plain.append({"role": "user", "content": "\n\n".join(results)})
            results.clear()

    for message in messages:
        role = message.get("role")
        if role == "tool":
            name = names.get(str(message.get("tool_call_id")), "the tool")
            results.append(f"Result of {name}: {message.get('content') or ''}")
            continue
        flush()
        content = str(message.get("content") or "")
        calls = [ToolCall.from_dict(entry) for entry in message.get("tool_calls") or ()]
        if calls:
            content = "\n".join(([content] if content.strip() else []) + [call_line(call) for call in calls])
        plain.append({"role": role, "content": content})
    flush()
    return plain


def json_call_request(request: CompletionRequest) -> CompletionRequest:
    """``request`` for a backend without native tool calling: the tools described in the system
    prompt (merged into the first system message, else one put first), the history as plain text."""
    messages = plain_messages(request.messages)
    if request.tools:
        offer = tools_prompt(request.tools, request.tool_choice)
        if messages and messages[0]["role"] == "system":
            messages[0] = {"role": "system", "content": f"{messages[0]['content']}\n\n{offer}"}
        else:
            messages.insert(0, {"role": "system", "content": offer})
    return replace(request, messages=messages, tools=None, tool_choice=None)


_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*$", re.MULTILINE)


def _as_calls(value: Any) -> list[tuple[str, Any]] | None:
    """(name, arguments) of a decoded JSON call, or of a list of them; None if it is no call."""
    items = value if isinstance(value, list) else [value]
    found = []
    for item in items:
        if not isinstance(item, dict):
            return None
        name = item.get("tool", item.get("name"))
        if not isinstance(name, str) or not name or not set(item) <= {"tool", "name", "arguments", "parameters"}:
            return None
        found.append((name, item.get("arguments", item.get("parameters"))))
    return found or None


def read_json_calls(text: str) -> tuple[str, list[ToolCall]]:
    """(the text left to the user, the calls) of a reply in the JSON call format: each call a JSON
    object (or a list of them) starting a line, or inside ``<tool_call>`` tags."""
    body = _TAGGED.sub(lambda m: "\n" + m.group(1) + "\n", text)
    body = _FENCE.sub("", body)
    decoder = json.JSONDecoder()
    found: list[tuple[str, Any]] = []
    kept: list[str] = []
    position = 0
    for match in re.finditer(r"^[ \t]*([\[{])", body, re.MULTILINE):
        start = match.start(1)
        if start < position:
            continue
        try:
            value, end = decoder.raw_decode(body, start)
        except ValueError:
            continue
        calls = _as_calls(value)
        if calls is None:
            continue
        kept.append(body[position:match.start()])
        found.extend(calls)
        position = end
        if len(found) > MAX_TOOL_CALLS:
            break
    if not found:
        return text, []
    kept.append(body[position:])
    calls = []
    for index, (name, arguments) in enumerate(found):
        arguments = arguments_text(arguments)
        calls.append(ToolCall(id=call_id(index, name, arguments), name=name, arguments=arguments))
    return "".join(kept).strip(), checked_calls(calls, "the JSON call format")


def json_call_completion(completion: Completion) -> Completion:
    """A completion of a ``json_call_request``, its text read for calls (they become
    ``tool_calls``, finish reason "tool_calls"; the rest stays the text)."""
    text, calls = read_json_calls(completion.text)
    if not calls:
        return completion
    return replace(completion, text=text, tool_calls=calls, finish_reason="tool_calls")
