"""A stand-in for the Hugging Face Hub API on 127.0.0.1, for the hf-hub sink's tests.

It answers exactly the calls huggingface_hub (1.x) makes for dataset repositories in ``janus push``
and ``--against``: create a repo (``POST /api/repos/create``), repo info (``GET /api/datasets/ID``
and ``.../revision/REV``), the tree listing (``GET /api/datasets/ID/tree/REV[/PATH]``), file
metadata and downloads (``HEAD``/``GET /datasets/ID/resolve/REV/PATH`` with ETag, X-Repo-Commit and
Content-Length), README validation (``POST /api/validate-yaml``), preupload (every file is
"regular": no LFS or Xet) and commits (``POST /api/datasets/ID/commit/REV``, NDJSON with base64
contents and deletions, checked against ``parentCommit``).

Files live in memory, one snapshot per commit; every request's method, path and Authorization
header is kept. Writes need the bearer token; a private repository is invisible without it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from servers import QuietServer


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Repo:
    """One dataset repository: its visibility and a snapshot of its files per commit."""

    repo_id: str
    private: bool
    commits: list[tuple[str, str, dict[str, bytes]]] = field(default_factory=list)  # (sha, message, files)

    @property
    def sha(self) -> str:
        return self.commits[-1][0]

    @property
    def files(self) -> dict[str, bytes]:
        return self.commits[-1][2]

    def commit(self, message: str, files: dict[str, bytes]) -> str:
        sha = hashlib.sha1(f"{self.repo_id}|{len(self.commits)}|{message}".encode()).hexdigest()
        self.commits.append((sha, message, dict(files)))
        return sha

    def at(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        if revision == "main":
            return self.sha, self.files
        return next(((sha, files) for sha, _m, files in self.commits if sha == revision), None)


@dataclass
class HubFault:
    """A scripted answer to the next request: an HTTP error with this message ("{token}" is
    replaced by the bearer token the request carried, as a careless server might echo it)."""

    status: int
    message: str


class HubServer:
    def __init__(self, token: str | None = None):
        import secrets

        self.token = token or f"fake-hub-token-{secrets.token_hex(8)}"
        self.repos: dict[str, Repo] = {}
        self.faults: list[HubFault] = []
        self.requests: list[tuple[str, str]] = []
        self.auth: list[str | None] = []
        #: requests no route answered: a test fails if huggingface_hub asks for something unexpected
        self.unrouted: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload, headers = server.answer(method, self.path, body,
                                                         {k.lower(): v for k, v in self.headers.items()})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                if not isinstance(payload, bytes):
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_HEAD(self) -> None:
                self._serve("HEAD")

            def do_POST(self) -> None:
                self._serve("POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- helpers for tests ---------------------------------------------------------------------

    def add_dataset(self, repo_id: str, files: dict[str, bytes], private: bool = False) -> Repo:
        repo = self.repos[repo_id] = Repo(repo_id, private)
        repo.commit("initial commit", {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n", **files})
        return repo

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m == "POST" and "/commit/" in p]

    # --- routing -------------------------------------------------------------------------------

    def answer(self, method: str, raw_path: str, body: bytes, headers: dict[str, str]):
        auth = headers.get("authorization")
        with self.lock:
            self.requests.append((method, raw_path))
            self.auth.append(auth)
            fault = self.faults.pop(0) if self.faults else None
        presented = auth[len("Bearer "):] if auth and auth.startswith("Bearer ") else None
        if fault:
            return _error(fault.status, fault.message.replace("{token}", presented or ""))
        if presented is not None and presented != self.token:
            return _error(401, "Invalid credentials in Authorization header")
        authed = presented == self.token
        url = urlsplit(raw_path)
        path, query = unquote(url.path), parse_qs(url.query)
        parts = path.strip("/").split("/")
        with self.lock:
            if method == "POST" and path == "/api/repos/create":
                return self.create(json.loads(body or b"{}"), authed)
            if method == "POST" and path == "/api/validate-yaml":
                return 200, {"errors": [], "warnings": []}, {}
            if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
                repo = self.visible("/".join(parts[2:4]), authed)
                if repo is None:
                    return _error(404, "Repository not found", code="RepoNotFound")
                rest = parts[4:]
                if method == "GET" and not rest:
                    return self.info(repo, "main")
                if method == "GET" and rest[0] == "revision" and len(rest) == 2:
                    return self.info(repo, rest[1])
                if method == "GET" and rest[0] == "tree" and len(rest) >= 2:
                    recursive = query.get("recursive", ["False"])[0].lower() in ("1", "true")
                    return self.tree(repo, rest[1], "/".join(rest[2:]), recursive)
                if method == "POST" and rest[0] in ("preupload", "commit") and len(rest) == 2:
                    if not authed:
                        return _error(401, "You must be authenticated to write")
                    if rest[0] == "preupload":
                        files = json.loads(body)["files"]
                        return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                               for f in files]}, {}
                    return self.commit(repo, rest[1], body)
            if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve" and method in ("GET", "HEAD"):
                repo = self.visible("/".join(parts[1:3]), authed)
                if repo is None:
                    return _error(404, "Repository not found", code="RepoNotFound")
                return self.resolve(repo, parts[4], "/".join(parts[5:]))
        self.unrouted.append((method, raw_path))
        return _error(404, f"no route {method} {path}")

    def visible(self, repo_id: str, authed: bool) -> Repo | None:
        repo = self.repos.get(repo_id)
        return repo if repo is not None and (authed or not repo.private) else None

    # --- endpoints -----------------------------------------------------------------------------

    def create(self, payload: dict[str, Any], authed: bool):
        if not authed:
            return _error(401, "You must be authenticated to create a repository")
        if payload.get("type") != "dataset":
            return _error(400, "this stand-in serves dataset repositories only")
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        if repo_id in self.repos:
            return _error(409, "You already created this dataset repo", url=f"{self.url}/datasets/{repo_id}")
        self.add_dataset(repo_id, {}, private=payload.get("visibility", "public") == "private")
        return 200, {"url": f"{self.url}/datasets/{repo_id}", "name": repo_id}, {}

    def info(self, repo: Repo, revision: str):
        found = repo.at(revision)
        if found is None:
            return _error(404, "Invalid rev id", code="RevisionNotFound")
        sha, files = found
        return 200, {"id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": sha, "private": repo.private,
                     "siblings": [{"rfilename": p} for p in sorted(files)], "tags": []}, {}

    def tree(self, repo: Repo, revision: str, folder: str, recursive: bool):
        found = repo.at(revision)
        if found is None:
            return _error(404, "Invalid rev id", code="RevisionNotFound")
        _sha, files = found
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        entries: dict[str, dict[str, Any]] = {}
        for name, data in sorted(files.items()):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):].split("/")
            for depth in range(1, len(rest)):  # the folders on the way
                if not recursive and depth > 1:
                    break
                folder_path = prefix + "/".join(rest[:depth])
                entries.setdefault(folder_path, {"type": "directory", "oid": git_blob_id(folder_path.encode()),
                                                 "size": 0, "path": folder_path})
            if recursive or len(rest) == 1:
                entries[name] = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": name}
        if prefix and not entries:
            return _error(404, f"{folder} does not exist", code="EntryNotFound")
        return 200, list(entries.values()), {}

    def resolve(self, repo: Repo, revision: str, name: str):
        found = repo.at(revision)
        if found is None:
            return _error(404, "Invalid rev id", code="RevisionNotFound")
        sha, files = found
        if name not in files:
            status, payload, headers = _error(404, "Entry not found", code="EntryNotFound")
            return status, payload, {**headers, "X-Repo-Commit": sha}
        data = files[name]
        return 200, data, {"Content-Type": "application/octet-stream", "ETag": f'"{git_blob_id(data)}"',
                           "X-Repo-Commit": sha}

    def commit(self, repo: Repo, revision: str, body: bytes):
        if revision != "main":
            return _error(400, "this stand-in commits to main only")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = next(item["value"] for item in lines if item["key"] == "header")
        parent = header.get("parentCommit")
        if parent is not None and parent != repo.sha:
            return _error(412, "A commit has happened since. Please refresh and try again.")
        files = dict(repo.files)
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if value["path"] not in files:
                    return _error(404, "A file with this name doesn't exist", code="EntryNotFound")
                del files[value["path"]]
            elif key == "deletedFolder":
                files = {p: d for p, d in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            elif key != "header":
                return _error(400, f"this stand-in does not take '{key}' operations")
        sha = repo.commit(header["summary"], files)
        return 200, {"commitUrl": f"{self.url}/datasets/{repo.repo_id}/commit/{sha}", "commitOid": sha,
                     "pullRequestUrl": None}, {}


def _error(status: int, message: str, code: str | None = None, **extra: Any):
    headers = {"X-Error-Message": message}
    if code:
        headers["X-Error-Code"] = code
    return status, {"error": message, **extra}, headers
