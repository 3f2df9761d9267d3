"""Real HTTP servers on 127.0.0.1 that speak providers' REST shapes, for backend tests.

A server answers each request with ``reply(body)``, or with the next scripted ``Fault`` first.
Shapes: OpenAI Chat Completions (``POST /v1/chat/completions``) and the Gemini API
(``POST /v1beta/models/MODEL:generateContent``).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that says nothing when a client resets its connection.

    A bounded client closes a keep-alive connection mid-read; the standard server prints that
    reset's traceback to stderr, where the CLI under test (which shares the process) would show it.
    """

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def compat_backends(secret: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """``generate`` arguments ({url}: an OpenAI-compatible server's base URL) and environment for each
    backend that can talk to an OpenAI-compatible server: openai (aiohttp and SDK transports) and litellm."""
    return {
        "openai": (["--backend", "openai", "--model", "test-model", "--option", "base_url={url}"],
                   {"OPENAI_API_KEY": secret}),
        "openai-sdk": (["--backend", "openai", "--model", "test-model", "--option", "base_url={url}",
                        "--option", "transport=sdk"], {"OPENAI_API_KEY": secret}),
        "litellm": (["--backend", "litellm", "--model", "openai/test-model", "--option", "api_base={url}",
                     "--option", "api_key_env=JANUS_TEST_KEY"], {"JANUS_TEST_KEY": secret}),
    }


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
        #: answer every request with 400 quoting the credentials it carried, as careless servers do (400:
        #: a failure the ledger keeps; a 401 would stop the run before the ledger, test_config_stops)
        self.echo_credentials = False
        #: headers every answer carries (a provider's rate-limit headers)
        self.answer_headers: dict[str, str] = {}
        #: when each request came (time.monotonic())
        self.times: list[float] = []
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

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, body: dict[str, Any], headers: dict[str, str]):
        with self.lock:
            self.times.append(time.monotonic())
            self.requests.append(body)
            self.headers.append(headers)
            self.paths.append(path)
            fault = self.faults.pop(0) if self.faults else None
        if self.echo_credentials:
            sent = {k: v for k, v in headers.items() if k in ("authorization", "x-goog-api-key", "api-key")}
            return 400, error_body(self.shape, 400, f"invalid credentials: {sent}"), {}, 0.0
        route = r"/v1/chat/completions$" if self.shape == "openai" else r"/v1beta/models/[^/:]+:generateContent$"
        if not re.search(route, path.split("?")[0]):
            return 404, error_body(self.shape, 404, f"no route {path}"), {}, 0.0
        if fault and fault.status != 200:
            return (fault.status, error_body(self.shape, fault.status, "scripted fault"),
                    {**self.answer_headers, **fault.headers}, fault.delay)
        content = fault.content if fault and fault.content is not None else self.reply(body)
        delay = fault.delay if fault else 0.0
        if self.shape == "openai":
            finish = (fault.finish if fault and fault.finish else "stop")
            return 200, chat_completion(content, body.get("model", self.model), finish), self.answer_headers, delay
        finish = (fault.finish if fault and fault.finish else "STOP")
        return 200, gemini_content(content, self.model, finish), self.answer_headers, delay

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
            self.times.append(time.monotonic())
            self.requests.append(body)
            self.headers.append(headers)
            self.paths.append(path)
        if path.rstrip("/") != "/v1/chat/completions":
            return 404, error_body("openai", 404, f"no route {path}"), {}, 0.0
        status, payload, extra = self.full_reply(body)
        return status, payload, extra, 0.0


class GeminiServer(ProviderServer):
    """The Gemini shape with a full reply function: ``reply(body) -> (status, body, headers)``."""

    def __init__(self, reply: Reply):
        super().__init__("gemini", lambda body: "")
        self.full_reply = reply

    def answer(self, path: str, body: dict[str, Any], headers: dict[str, str]):
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            self.paths.append(path)
        if not re.search(r"/v1beta/models/[^/:]+:generateContent$", path.split("?")[0]):
            return 404, error_body("gemini", 404, f"no route {path}"), {}, 0.0
        status, payload, extra = self.full_reply(body)
        return status, payload, extra, 0.0


def anthropic_message(content: str, model: str = "claude-test") -> dict[str, Any]:
    """An Anthropic Messages API response body."""
    return {"id": "msg_test", "type": "message", "role": "assistant", "model": model, "stop_reason": "end_turn",
            "content": [{"type": "text", "text": content}], "usage": {"input_tokens": 11, "output_tokens": 7}}


def reply_body(shape: str, content: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success body in a provider's shape; ``usage`` replaces its token counts (in that shape's names)."""
    body = {"openai": chat_completion, "gemini": gemini_content, "anthropic": anthropic_message}[shape](content)
    if usage is not None:
        body["usageMetadata" if shape == "gemini" else "usage"] = usage
    return body


class HostileServer:
    """A provider that misbehaves on purpose, answering every POST (any path) in one ``mode``:

    - ``endless``: a chunked reply that starts like JSON and never ends (the server gives up after
      ``limit`` bytes, so a client without a bound reads all of them);
    - ``bomb``: a small gzip body (``Content-Encoding: gzip``) that inflates to ``limit`` bytes of
      valid JSON (a reply padded with spaces);
    - ``trickle``: a JSON start, then one byte every 0.2 s, for at most ``limit`` seconds;
    - ``redirect``: 307 to ``target`` + the same path (which would re-send the prompt);
    - ``usage``: a valid reply whose usage is ``usage``.

    ``sent`` counts the body bytes each reply put on the wire before the client stopped reading.
    """

    def __init__(self, shape: str, mode: str, content: str, *, limit: int = 64 * 2**20, target: str = "",
                 usage: dict[str, Any] | None = None):
        self.shape, self.mode, self.content, self.limit, self.target, self.usage = \
            shape, mode, content, limit, target, usage
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.sent: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                server.paths.append(self.path)
                server.sent.append(0)
                # a reset: the client stopped reading, as a bounded client does
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    getattr(server, f"_{server.mode}")(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _head(self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()

    def _write(self, handler: BaseHTTPRequestHandler, data: bytes, chunked: bool = True) -> None:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        self.sent[-1] += len(data)

    def _endless(self, handler: BaseHTTPRequestHandler) -> None:
        self._head(handler, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        self._write(handler, b'{"choices": [')
        piece = b" " * 2**16
        while self.sent[-1] < self.limit:
            self._write(handler, piece)
        handler.wfile.write(b"0\r\n\r\n")

    def _bomb(self, handler: BaseHTTPRequestHandler) -> None:
        body = gzip_bomb(json.dumps(reply_body(self.shape, self.content)).encode(), self.limit)
        self._head(handler, 200, {"Content-Type": "application/json", "Content-Encoding": "gzip",
                                  "Content-Length": str(len(body))})
        self._write(handler, body, chunked=False)

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        self._head(handler, 200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        self._write(handler, b'{"choices": [')
        for _ in range(int(self.limit / 0.2)):
            handler.wfile.flush()
            time.sleep(0.2)
            self._write(handler, b" ")
        handler.wfile.write(b"0\r\n\r\n")

    def _redirect(self, handler: BaseHTTPRequestHandler) -> None:
        self._head(handler, 307, {"Location": self.target + handler.path, "Content-Length": "0"})

    def _usage(self, handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(reply_body(self.shape, self.content, self.usage)).encode()
        self._head(handler, 200, {"Content-Type": "application/json", "Content-Length": str(len(data))})
        self._write(handler, data, chunked=False)

    @property
    def root(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HostileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_bombs: dict[tuple[bytes, int], bytes] = {}


def gzip_bomb(document: bytes, size: int) -> bytes:
    """``document`` padded with spaces to ``size`` bytes, gzipped: valid JSON, tiny on the wire."""
    import zlib

    key = (document, size)
    if key not in _bombs:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [packer.compress(document)]
        pad = b" " * 2**20
        for _ in range(max(0, size - len(document)) // len(pad)):
            parts.append(packer.compress(pad))
        parts.append(packer.flush())
        _bombs[key] = b"".join(parts)
    return _bombs[key]
