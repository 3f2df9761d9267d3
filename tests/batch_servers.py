"""A stand-in for OpenAI's Batch API on 127.0.0.1 (files and batches endpoints), for `--batch` tests.

``POST /v1/files`` (multipart, purpose=batch), ``POST /v1/batches``, ``GET /v1/batches`` (list,
``after`` paging), ``GET /v1/batches/ID`` and ``GET /v1/files/ID/content``. A batch runs for
``polls`` looks, then completes: each request line is answered by ``reply(body)``, a chat completion
body. Scripted trouble: ``fail(custom_id, body)`` true puts that request in the error file (partial
failure); ``expire`` answers only the first half and ends the batch ``expired``; ``fail_batch`` ends
it ``failed`` with no output.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from servers import QuietServer


class OpenAIBatchServer:
    def __init__(self, reply: Callable[[dict[str, Any]], dict[str, Any]], polls: int = 2):
        self.reply, self.polls = reply, polls
        self.fail: Callable[[str, dict[str, Any]], bool] = lambda custom_id, body: False
        self.expire = False
        self.fail_batch = False
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.submitted: list[list[str]] = []  # custom ids of each batch created, in order
        self.on_create: Callable[[dict[str, Any]], None] | None = None
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                self._send(*server.post(urlparse(self.path).path, self.headers.get("Content-Type", ""), raw))

            def do_GET(self) -> None:
                url = urlparse(self.path)
                self._send(*server.get(url.path, parse_qs(url.query)))

            def _send(self, status: int, payload: Any) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIBatchServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- endpoints -------------------------------------------------------------------------------

    def post(self, path: str, content_type: str, raw: bytes) -> tuple[int, Any]:
        with self.lock:
            if path == "/v1/files":
                form = BytesParser(policy=default_policy).parsebytes(
                    f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
                fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                          for part in form.iter_parts()}
                if fields.get("purpose") != b"batch" or not fields.get("file"):
                    return 400, {"error": {"message": "purpose=batch and a file are required"}}
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = fields["file"]
                return 200, {"id": file_id, "object": "file", "purpose": "batch", "bytes": len(fields["file"])}
            if path == "/v1/batches":
                body = json.loads(raw)
                lines = [json.loads(line) for line in self.files[body["input_file_id"]].splitlines() if line.strip()]
                if body.get("endpoint") != "/v1/chat/completions" or any(
                        line.get("url") != "/v1/chat/completions" for line in lines):
                    return 400, {"error": {"message": "endpoint must be /v1/chat/completions"}}
                batch_id = f"batch_{len(self.batches) + 1}"
                batch = {"id": batch_id, "object": "batch", "status": "validating", "endpoint": body["endpoint"],
                         "input_file_id": body["input_file_id"], "metadata": body.get("metadata") or {},
                         "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                         "output_file_id": None, "error_file_id": None, "_lines": lines, "_polls": 0}
                self.batches[batch_id] = batch
                self.submitted.append([line["custom_id"] for line in lines])
                if self.on_create:
                    self.on_create(batch)
                return 200, _shown(batch)
        return 404, {"error": {"message": f"no route {path}"}}

    def get(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self.lock:
            if path == "/v1/batches":
                listed = sorted(self.batches.values(), key=lambda b: b["id"], reverse=True)
                after = (query.get("after") or [None])[0]
                if after:
                    listed = listed[[b["id"] for b in listed].index(after) + 1:]
                limit = int((query.get("limit") or ["20"])[0])
                return 200, {"object": "list", "data": [_shown(b) for b in listed[:limit]],
                             "has_more": len(listed) > limit}
            if path.startswith("/v1/batches/"):
                batch = self.batches.get(path.rsplit("/", 1)[1])
                if batch is None:
                    return 404, {"error": {"message": "no such batch"}}
                batch["_polls"] += 1
                if batch["status"] in ("validating", "in_progress") and batch["_polls"] > self.polls:
                    self._finish(batch)
                elif batch["status"] == "validating":
                    batch["status"] = "in_progress"
                return 200, _shown(batch)
            if path.startswith("/v1/files/") and path.endswith("/content"):
                file_id = path.split("/")[3]
                if file_id not in self.files:
                    return 404, {"error": {"message": "no such file"}}
                return 200, self.files[file_id]
        return 404, {"error": {"message": f"no route {path}"}}

    def _finish(self, batch: dict[str, Any]) -> None:
        if self.fail_batch:
            batch["status"] = "failed"
            batch["errors"] = {"data": [{"code": "invalid_request", "message": "the stand-in was told to fail"}]}
            return
        lines = batch["_lines"]
        answered = lines[: len(lines) // 2] if self.expire else lines
        out, errors = [], []
        for line in answered:
            if self.fail(line["custom_id"], line["body"]):
                errors.append({"custom_id": line["custom_id"], "response": {"status_code": 500, "body": {
                    "error": {"message": "stand-in failure"}}}, "error": None})
            else:
                out.append({"custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": 200, "body": self.reply(line["body"])}})
        for name, rows in (("output_file_id", out), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{len(self.files) + 1}"
                self.files[file_id] = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
                batch[name] = file_id
        batch["status"] = "expired" if self.expire else "completed"
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(errors)}


def _shown(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if not k.startswith("_")}


class AnthropicServer:
    """A stand-in for Anthropic's Messages API and Message Batches on 127.0.0.1.

    ``POST /v1/messages`` answers online with ``reply(params)`` (a Messages API reply body);
    ``POST /v1/messages/batches`` takes inline requests, ``GET /v1/messages/batches/ID`` ends the
    batch after ``polls`` looks, and its ``results_url`` serves the JSONL results. Scripted trouble as
    in ``OpenAIBatchServer``: ``fail``, ``expire`` (the second half ``expired``). Every request must
    carry ``x-api-key: key`` and an ``anthropic-version`` header."""

    def __init__(self, reply: Callable[[dict[str, Any]], dict[str, Any]], key: str, polls: int = 2):
        self.reply, self.key, self.polls = reply, key, polls
        self.fail: Callable[[str, dict[str, Any]], bool] = lambda custom_id, params: False
        self.expire = False
        self.batches: dict[str, dict[str, Any]] = {}
        self.submitted: list[list[str]] = []
        self.online = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send(*server.handle("POST", self.path, self.headers, raw))

            def do_GET(self) -> None:
                self._send(*server.handle("GET", self.path, self.headers, b""))

            def _send(self, status: int, payload: Any) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> AnthropicServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        if headers.get("x-api-key") != self.key or not headers.get("anthropic-version"):
            return 401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
        path = urlparse(path).path
        with self.lock:
            if method == "POST" and path == "/v1/messages":
                self.online += 1
                return 200, self.reply(json.loads(raw))
            if method == "POST" and path == "/v1/messages/batches":
                requests = json.loads(raw)["requests"]
                if any("max_tokens" not in r["params"] or "model" not in r["params"] for r in requests):
                    return 400, {"type": "error", "error": {"type": "invalid_request_error",
                                                            "message": "params need model and max_tokens"}}
                batch_id = f"msgbatch_{len(self.batches) + 1:04d}"
                batch = {"id": batch_id, "type": "message_batch", "processing_status": "in_progress",
                         "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0,
                                            "canceled": 0, "expired": 0},
                         "results_url": None, "_requests": requests, "_polls": 0, "_results": b""}
                self.batches[batch_id] = batch
                self.submitted.append([r["custom_id"] for r in requests])
                return 200, _shown(batch)
            if method == "GET" and path.startswith("/v1/messages/batches/"):
                parts = path.split("/")
                batch = self.batches.get(parts[4])
                if batch is None:
                    return 404, {"type": "error", "error": {"type": "not_found_error", "message": "no such batch"}}
                if parts[-1] == "results":
                    return 200, batch["_results"]
                batch["_polls"] += 1
                if batch["processing_status"] == "in_progress" and batch["_polls"] > self.polls:
                    self._finish(batch)
                return 200, _shown(batch)
        return 404, {"type": "error", "error": {"type": "not_found_error", "message": f"no route {path}"}}

    def _finish(self, batch: dict[str, Any]) -> None:
        requests = batch["_requests"]
        answered = len(requests) // 2 if self.expire else len(requests)
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        rows = []
        for i, request in enumerate(requests):
            if i >= answered:
                result: dict[str, Any] = {"type": "expired"}
            elif self.fail(request["custom_id"], request["params"]):
                result = {"type": "errored", "error": {"type": "error", "error": {
                    "type": "api_error", "message": "stand-in failure"}}}
            else:
                result = {"type": "succeeded", "message": self.reply(request["params"])}
            counts[result["type"]] += 1
            rows.append({"custom_id": request["custom_id"], "result": result})
        batch["_results"] = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
        batch["processing_status"] = "ended"
        batch["request_counts"] = counts
        batch["results_url"] = f"{self.base_url}/messages/batches/{batch['id']}/results"


def anthropic_message(text: str, model: str, input_tokens: int = 30, output_tokens: int = 60) -> dict[str, Any]:
    """A Messages API reply body."""
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}


class GeminiBatchServer:
    """A stand-in for the Gemini API's generateContent and batch mode on 127.0.0.1.

    ``POST /v1beta/models/M:generateContent`` answers online with ``reply(request)`` (a
    generateContent response body); ``POST /v1beta/models/M:batchGenerateContent`` takes inlined
    requests, ``GET /v1beta/batches/ID`` ends the job after ``polls`` looks (its inlined responses in
    ``metadata.output``), ``GET /v1beta/batches`` lists jobs as operations. Scripted trouble:
    ``fail`` (an error in place of that response) and ``expire`` (the job ends
    ``BATCH_STATE_EXPIRED`` with no output). Requests must carry ``x-goog-api-key: key``."""

    def __init__(self, reply: Callable[[dict[str, Any]], dict[str, Any]], key: str, polls: int = 2):
        self.reply, self.key, self.polls = reply, key, polls
        self.fail: Callable[[str, dict[str, Any]], bool] = lambda custom_id, request: False
        self.expire = False
        self.batches: dict[str, dict[str, Any]] = {}
        self.submitted: list[list[str]] = []
        self.online = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send(*server.handle("POST", self.path, self.headers, raw))

            def do_GET(self) -> None:
                self._send(*server.handle("GET", self.path, self.headers, b""))

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> GeminiBatchServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        if headers.get("x-goog-api-key") != self.key:
            return 401, {"error": {"code": 401, "message": "API key not valid", "status": "UNAUTHENTICATED"}}
        path = urlparse(path).path
        with self.lock:
            if method == "POST" and path.endswith(":generateContent"):
                self.online += 1
                return 200, self.reply(json.loads(raw))
            if method == "POST" and path.endswith(":batchGenerateContent"):
                batch = json.loads(raw)["batch"]
                inlined = batch["inputConfig"]["requests"]["requests"]
                name = f"batches/job{len(self.batches) + 1:04d}"
                job = {"name": name, "metadata": {"displayName": batch.get("displayName"),
                                                  "state": "BATCH_STATE_PENDING",
                                                  "model": path.split("/")[-1].split(":")[0]},
                       "_inlined": inlined, "_polls": 0}
                self.batches[name] = job
                self.submitted.append([r["metadata"]["key"] for r in inlined])
                return 200, _shown(job)
            if method == "GET" and path == "/v1beta/batches":
                return 200, {"operations": [_shown(j) for j in self.batches.values()]}
            if method == "GET" and path.startswith("/v1beta/batches/"):
                job = self.batches.get(path.removeprefix("/v1beta/"))
                if job is None:
                    return 404, {"error": {"code": 404, "message": "no such batch", "status": "NOT_FOUND"}}
                job["_polls"] += 1
                if job["metadata"]["state"] in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
                    if job["_polls"] > self.polls:
                        self._finish(job)
                    else:
                        job["metadata"]["state"] = "BATCH_STATE_RUNNING"
                return 200, _shown(job)
        return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}

    def _finish(self, job: dict[str, Any]) -> None:
        job["done"] = True
        if self.expire:
            job["metadata"]["state"] = "BATCH_STATE_EXPIRED"
            return
        responses = []
        for inlined in job["_inlined"]:
            key = inlined["metadata"]["key"]
            if self.fail(key, inlined["request"]):
                responses.append({"error": {"code": 500, "message": "stand-in failure"}, "metadata": {"key": key}})
            else:
                responses.append({"response": self.reply(inlined["request"]), "metadata": {"key": key}})
        job["metadata"]["state"] = "BATCH_STATE_SUCCEEDED"
        job["metadata"]["output"] = {"inlinedResponses": {"inlinedResponses": responses}}
