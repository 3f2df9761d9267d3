"""Real HTTP servers on 127.0.0.1 that speak providers' REST shapes, for backend tests.

A server answers each request with ``reply(body)``, or with the next scripted ``Fault`` first.
Shapes: OpenAI Chat Completions (``POST /v1/chat/completions``) and the Gemini API
(``POST /v1beta/models/MODEL:generateContent``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A reply function gets the decoded request body and returns (status, body dict, headers).
Reply = Callable[[dict[str, Any]], tuple[int, dict[str, Any], dict[str, str]]]


def chat_completion(content: str, model: str = "test-model", finish_reason: str = "stop") -> dict[str, Any]:
    """An OpenAI Chat Completions response body."""
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": finish_reason,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


def gemini_content(content: str, model: str = "gemini-test", finish_reason: str = "STOP") -> dict[str, Any]:
    """A Gemini generateContent response body."""
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": content}]},
                            "finishReason": finish_reason, "index": 0}],
            "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18},
            "modelVersion": model}


def error_body(shape: str, status: int, message: str) -> dict[str, Any]:
    if shape == "gemini":
        return {"error": {"code": status, "message": message, "status": "ERROR"}}
    return {"error": {"message": message, "type": "error", "code": status}}


@dataclass
class Fault:
    """One scripted answer: an HTTP error, a delay, or a raw content string in the right shape."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content: str | None = None  # with status 200: this content instead of reply()'s
    finish: str | None = None  # with content: its finish reason ("length" / "MAX_TOKENS")


class ProviderServer:
    """A stand-in provider; every request body and header set is kept for the test to inspect."""

    def __init__(self, shape: str, reply: Callable[[dict[str, Any]], str], model: str = "test-model"):
        self.shape = shape
        self.reply = reply
        self.model = model
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        #: answer every request with 401 quoting the credentials it carried, as careless servers do
        self.echo_credentials = False
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload, headers, delay = server.answer(self.path, body,
                                                                {k.lower(): v for k, v in self.headers.items()})
                if delay:
                    time.sleep(delay)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, body: dict[str, Any], headers: dict[str, str]):
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.paths.append(path)
            fault = self.faults.pop(0) if self.faults else None
        if self.echo_credentials:
            sent = {k: v for k, v in headers.items() if k in ("authorization", "x-goog-api-key", "api-key")}
            return 401, error_body(self.shape, 401, f"invalid credentials: {sent}"), {}, 0.0
        route = r"/v1/chat/completions$" if self.shape == "openai" else r"/v1beta/models/[^/:]+:generateContent$"
        if not re.search(route, path.split("?")[0]):
            return 404, error_body(self.shape, 404, f"no route {path}"), {}, 0.0
        if fault and fault.status != 200:
            return fault.status, error_body(self.shape, fault.status, "scripted fault"), fault.headers, fault.delay
        content = fault.content if fault and fault.content is not None else self.reply(body)
        delay = fault.delay if fault else 0.0
        if self.shape == "openai":
            finish = (fault.finish if fault and fault.finish else "stop")
            return 200, chat_completion(content, body.get("model", self.model), finish), {}, delay
        finish = (fault.finish if fault and fault.finish else "STOP")
        return 200, gemini_content(content, self.model, finish), {}, delay

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}" + ("/v1" if self.shape == "openai" else "")

    def __enter__(self) -> ProviderServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class OpenAICompatibleServer(ProviderServer):
    """The OpenAI shape with a full reply function: ``reply(body) -> (status, body, headers)``."""

    def __init__(self, reply: Reply):
        super().__init__("openai", lambda body: "")
        self.full_reply = reply

    def answer(self, path: str, body: dict[str, Any], headers: dict[str, str]):
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.paths.append(path)
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, error_body("openai", 404, f"no route {path}"), {}, 0.0
        status, payload, extra = self.full_reply(body)
        return status, payload, extra, 0.0
