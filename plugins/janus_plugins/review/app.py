"""``janus review``: a local web page to keep, discard or edit a dataset's records one at a time.

Every decision goes into the run's journal (its ``reviews`` table) the moment it is made, so
closing the page or stopping the server loses nothing; ``janus export OUT --reviewed`` writes the
kept and edited records. Starlette and uvicorn (the ``review`` extra) are imported only here, and
only when the server starts, so the rest of Janus never pays for them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from janus_core.data.stats import load_records
from janus_core.run.journal import REVIEW_STATES, Journal, journal_path
from janus_core.sdk.credentials import scrub_data
from janus_core.sdk.errors import JanusError
from janus_core.sdk.records import Record, record_id, sha256_of
from janus_plugins.review.access import MAX_REQUEST_BYTES, TOKEN_PARAM, BodyLimit, TokenGuard, new_token

INSTALL_HINT = "janus review needs starlette and uvicorn: pip install 'janus-data[review]'"
#: Query parameters of /api/records, all optional.
FILTERS = ("output_type", "direction", "depth", "min_score", "max_score", "state")


# --- the journal side ----------------------------------------------------------------------------

def open_for_review(out: Path) -> Journal:
    """The journal of ``out``; a plain JSONL file gets one beside it, holding its records.

    An imported journal is marked so that ``janus generate --out OUT`` refuses to continue it, and
    records added to the file later are picked up the next time it is reviewed.
    """
    path = journal_path(out)
    existed = path.exists()
    journal = Journal(path)
    stat = out.stat()
    signature = [stat.st_size, stat.st_mtime_ns]
    imported = journal.get_meta("imported_from") is not None
    if imported and journal.get_meta("imported_stat") == signature:
        return journal
    if existed and not imported and not (journal.get_meta("fingerprint") is None and journal.count_records() == 0):
        return journal  # a run's own journal
    try:
        have = {rid for (rid,) in journal.db.execute("SELECT id FROM records")}
        rows = [_as_record(data, n, out) for n, data in enumerate(load_records(out), 1)]
    except JanusError:
        journal.close()
        if not existed:
            for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                p.unlink(missing_ok=True)
        raise
    db = journal.db
    db.execute("BEGIN")
    try:
        db.executemany("INSERT OR IGNORE INTO records (id, job_key, data) VALUES (?, ?, ?)",
                       [(r.id, f"import|{r.id}", r.to_json()) for r in rows if r.id not in have])
        # never a real run's fingerprint: 'janus generate' refuses to continue this journal
        journal.set_meta("fingerprint", f"imported:{out.name}")
        journal.set_meta("imported_from", str(out))
        journal.set_meta("imported_stat", signature)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        journal.close()
        raise
    return journal


def _as_record(data: Any, line: int, out: Path) -> Record:
    """A line of a JSONL file as a Record; provenance a non-Janus file lacks gets neutral values."""
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise JanusError(f"{out}:{line}: not a record in messages format (no 'messages' list)")
    rid = str(data.get("id") or record_id(f"{line}|{sha256_of(data['messages'])}"))
    defaults = {"seed_id": rid, "parent_id": None, "direction": "", "walk": {}, "model": "", "prompt_sha256": "",
                "output_type": "?", "depth": 0, "usage": {}, "meta": {}}
    return Record.from_dict({**defaults, **{k: v for k, v in data.items() if v is not None or k == "parent_id"},
                             "id": rid})


def judge_score(record: dict[str, Any]) -> float | None:
    judge = (record.get("meta") or {}).get("judge")
    score = judge.get("score") if isinstance(judge, dict) else None
    return float(score) if isinstance(score, int | float) else None


def _walk_items(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    walk = record.get("walk") or {}
    return [str(e) for e in walk.get("entities") or []], [str(r) for r in walk.get("relationships") or []]


def _names(items: list[str]) -> str:
    """A, B and C."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def describe_walk(walk: Any) -> str:
    """The walk that seeded a record, in plain words: "the relationship COUNSELOR → COUNSELEE", "a path
    through A, B and C" (not ``relationship: relationship:A->B#0``)."""
    if not isinstance(walk, dict):
        return ""
    strategy, wid = str(walk.get("strategy") or ""), str(walk.get("id") or "")
    entities = [str(e) for e in walk.get("entities") or []]
    links = [re.sub(r"#\d+$", "", str(r)).replace("->", " → ") for r in walk.get("relationships") or []]
    if strategy == "relationship" and links:
        return f"the relationship {links[0]}"
    if strategy == "neighbourhood" and entities:
        return f"the neighbourhood of {entities[0]}" + (f": its links to {_names(entities[1:])}"
                                                        if entities[1:] else "")
    if strategy == "path" and entities:
        return "a path through " + " → ".join(entities)
    if strategy == "random" and entities:
        return "a random walk through " + " → ".join(entities)
    if strategy == "input":
        return "a conversation from the input file" + (f" ({wid.partition(':')[2]})" if ":" in wid else "")
    if entities:
        return f"{strategy or 'a walk'} over {_names(entities)}"
    return wid or strategy


def inherited_count(record: dict[str, Any], parent: dict[str, Any] | None) -> int:
    """How many of a record's first messages are its parent's, word for word (0 for a seed, or for an
    evolution that rewrote the conversation)."""
    if parent is None:
        return 0
    mine, theirs = record.get("messages") or [], parent.get("messages") or []
    return len(theirs) if theirs and len(mine) > len(theirs) and mine[: len(theirs)] == theirs else 0


def check_messages(messages: Any) -> list[dict[str, str]]:
    """Edited messages as the API accepts them: a non-empty list of {role, content} strings.

    Roles are not limited to system, user and assistant: an edit keeps whatever roles the record had.
    """
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not m["role"] \
                or not isinstance(m.get("content"), str):
            raise ValueError("each message needs a role and a text content")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


class ReviewData:
    """A dataset's records and their review states, held in memory and written through to the journal."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.journal = open_for_review(self.out)
        self.records: list[dict[str, Any]] = []
        self.index: dict[str, int] = {}
        self._seq = 0
        # kept up as records arrive, so a decision's summary costs the number of kept records, not all
        self._visits: dict[str, Counter[str]] = {"entities": Counter(), "relationships": Counter()}
        self._facets: dict[str, set[str]] = {"output_type": set(), "direction": set(), "depth": set()}
        self._scored = 0
        self._diagram = self._diagram_items()
        self.refresh()
        self.reviews = self.journal.reviews()

    def _diagram_items(self) -> dict[str, list[str]]:
        """Every entity and relationship of the diagram the run was made from (journal meta), so
        coverage also lists what no record visits; empty when the spec folder is gone."""
        from janus_core.data.report import recorded_spec

        spec, _problem = recorded_spec(self.out)
        if spec is None:
            return {"entities": [], "relationships": []}
        from janus_core.plan.graph import build_graph, edge_labels

        graph = build_graph(spec.diagram)
        return {"entities": list(graph.nodes), "relationships": edge_labels(graph)}

    def close(self) -> None:
        self.journal.close()

    def refresh(self) -> None:
        """Pick up records a run still writing has added since the last look."""
        rows = self.journal.db.execute("SELECT seq, data FROM records WHERE seq > ? ORDER BY seq", (self._seq,))
        for seq, blob in rows:
            data = json.loads(blob)
            self.index[data["id"]] = len(self.records)
            self.records.append(data)
            self._seq = seq
            names, links = _walk_items(data)
            self._visits["entities"].update(set(names))
            self._visits["relationships"].update(set(links))
            self._facets["output_type"].add(str(data.get("output_type", "")))
            self._facets["direction"].add(str(data.get("direction", "")))
            self._facets["depth"].add(str(data.get("depth", 0)))
            self._scored += judge_score(data) is not None

    def state(self, rid: str) -> str | None:
        review = self.reviews.get(rid)
        return review["state"] if review else None

    def matching(self, filters: dict[str, str]) -> list[str]:
        """Ids of the records that pass every filter given (empty values are no filter)."""
        self.refresh()
        f = {k: v for k, v in filters.items() if k in FILTERS and v not in (None, "")}
        low = float(f["min_score"]) if "min_score" in f else None
        high = float(f["max_score"]) if "max_score" in f else None
        ids = []
        for r in self.records:
            if "output_type" in f and r.get("output_type") != f["output_type"]:
                continue
            if "direction" in f and r.get("direction") != f["direction"]:
                continue
            if "depth" in f and str(r.get("depth", 0)) != f["depth"]:
                continue
            if "state" in f and (self.state(r["id"]) or "unreviewed") != f["state"]:
                continue
            if low is not None or high is not None:
                score = judge_score(r)
                if score is None or (low is not None and score < low) or (high is not None and score > high):
                    continue
            ids.append(r["id"])
        return ids

    def find(self, text: str) -> str:
        """The id equal to ``text``, or the only id that starts with it."""
        text = text.strip()
        if text in self.index:
            return text
        hits = [rid for rid in self.index if rid.startswith(text)] if text else []
        if len(hits) == 1:
            return hits[0]
        raise KeyError(f"no record id starts with {text!r}" if not hits
                       else f"{len(hits)} record ids start with {text!r}; type more of it")

    def detail(self, rid: str) -> dict[str, Any]:
        """A record with its review, its place, its walk in words and how many of its first messages
        (system message included) it inherited from its parent record."""
        self.refresh()
        record = self.records[self.index[rid]]
        parent_at = self.index.get(str(record.get("parent_id")))
        parent = self.records[parent_at] if parent_at is not None else None
        return {"record": record, "review": self.reviews.get(rid), "position": self.index[rid] + 1,
                "total": len(self.records), "walk_text": describe_walk(record.get("walk")),
                "inherited": inherited_count(record, parent)}

    def decide(self, rid: str, state: str | None, messages: Any = None) -> dict[str, Any] | None:
        """Save a decision at once (None clears it); returns the review now stored."""
        if rid not in self.index:
            raise KeyError(f"no record {rid!r}")
        if state is not None and state not in REVIEW_STATES:
            raise ValueError(f"state must be one of {', '.join(REVIEW_STATES)} or null")
        edited = check_messages(messages) if state == "edited" else None
        self.journal.set_review(rid, state, edited)
        review = self.journal.review_for(rid)
        if review is None:
            self.reviews.pop(rid, None)
        else:
            self.reviews[rid] = review
        return review

    def summary(self) -> dict[str, Any]:
        """Counts of decisions, the values the filters offer, and the graph coverage of what is kept."""
        self.refresh()
        counts = Counter(r["state"] for rid, r in self.reviews.items() if rid in self.index)
        kept: dict[str, Counter[str]] = {"entities": Counter(), "relationships": Counter()}
        for rid, review in self.reviews.items():
            if review["state"] in ("kept", "edited") and rid in self.index:
                names, links = _walk_items(self.records[self.index[rid]])
                kept["entities"].update(set(names))
                kept["relationships"].update(set(links))
        coverage = {kind: [{"name": name, "records": visits[name], "kept": kept[kind][name]}
                           for name in sorted(set(visits) | set(self._diagram[kind]))]
                    for kind, visits in self._visits.items()}
        facets = {key: sorted(values) for key, values in self._facets.items()}
        facets["depth"] = sorted(self._facets["depth"], key=lambda v: (len(v), v))  # numeric order
        decided = sum(counts.values())
        return {
            "dataset": str(self.out), "total": len(self.records), "kept": counts["kept"], "edited": counts["edited"],
            "discarded": counts["discarded"], "left": len(self.records) - decided, "facets": facets,
            "scored": self._scored,
            "failures": self.journal.db.execute("SELECT count(*) FROM failures").fetchone()[0],
            "coverage": coverage,
        }


# --- the web app -----------------------------------------------------------------------------------

def page_html() -> str:
    from importlib.resources import files

    return files("janus_plugins.review").joinpath("review.html").read_text(encoding="utf-8")


def content_security_policy(html: str) -> str:
    """The page's CSP: nothing from elsewhere; its inline script and style allowed by their hashes."""
    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'"
                        for b in blocks)

    return (f"default-src 'none'; script-src 'self' {hashes('script')}; style-src 'self' {hashes('style')}; "
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class PageGuard:
    """ASGI middleware: security headers on every response; cross-origin writes refused with 403.

    A write is cross-origin when its ``Origin`` is not this server's own (scheme and Host), or when
    ``Sec-Fetch-Site`` says another site sent it. Clients that send neither (scripts, curl) are not
    browsers acting for another page, so they pass."""

    def __init__(self, app: Any, csp: str):
        self.app = app
        self.headers = [(b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY"),
                        (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                        (b"cross-origin-opener-policy", b"same-origin"),
                        (b"cross-origin-resource-policy", b"same-origin")]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in WRITE_METHODS and not self.same_origin(scope):
            await self.refuse(send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)

    @staticmethod
    def same_origin(scope: Any) -> bool:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        origin = headers.get("origin")
        if origin is None:
            return True
        return origin == f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"

    async def refuse(self, send: Any) -> None:
        body = json.dumps({"error": "cross-origin writes are refused"}).encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), *self.headers]})
        await send({"type": "http.response.body", "body": body})


def create_app(data: ReviewData, *, token: str, max_request_bytes: int = MAX_REQUEST_BYTES,
               allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Any:
    """The Starlette app: the page and a small JSON API over ``data``, for whoever holds ``token``.

    Handlers are async and run on the event loop's one thread, so the journal's one SQLite
    connection is never used by two threads at once. Only the local host names are answered (no
    DNS rebinding), every request needs the token (``access.TokenGuard``: 403 without it), a body over
    ``max_request_bytes`` is answered 413, writes must be JSON and same-origin (no cross-site posts), every response
    carries a strict Content-Security-Policy and X-Frame-Options, and every answer is scrubbed of
    secrets (a failure's detail may quote what a server echoed).
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    html = page_html()
    nocache = {"Cache-Control": "no-store"}

    def reply(body: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(scrub_data(body), status_code=status, headers=nocache)

    def problem(message: str, status: int) -> JSONResponse:
        return reply({"error": message}, status)

    async def index(_request: Request) -> HTMLResponse:
        return HTMLResponse(html, headers=nocache)

    async def summary(_request: Request) -> JSONResponse:
        return reply(data.summary())

    async def records(request: Request) -> JSONResponse:
        try:
            ids = data.matching(dict(request.query_params))
        except ValueError:
            return problem("min_score and max_score must be numbers", 400)
        return reply({"ids": ids})

    async def record(request: Request) -> JSONResponse:
        rid = request.path_params["rid"]
        if rid not in data.index:
            data.refresh()
            if rid not in data.index:
                return problem(f"no record {rid!r}", 404)
        return reply(data.detail(rid))

    async def find(request: Request) -> JSONResponse:
        data.refresh()
        try:
            return reply({"id": data.find(request.query_params.get("q", ""))})
        except KeyError as exc:
            return problem(exc.args[0], 404)

    async def review(request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return problem("send the decision as application/json", 415)
        try:
            body = await request.json()
        except ValueError:
            return problem("the body is not JSON", 400)
        if not isinstance(body, dict):
            return problem('send {"state": ..., "messages": ...}', 400)
        try:
            saved = data.decide(request.path_params["rid"], body.get("state"), body.get("messages"))
        except KeyError as exc:
            return problem(exc.args[0], 404)
        except ValueError as exc:
            return problem(str(exc), 400)
        return reply({"review": saved, "summary": data.summary()})

    async def failures(_request: Request) -> JSONResponse:
        return reply({"failures": data.journal.failures()})

    routes = [
        Route("/", index),
        Route("/api/summary", summary),
        Route("/api/records", records),
        # ids of imported files may hold any character, '/' included
        Route("/api/records/{rid:path}/review", review, methods=["POST"]),
        Route("/api/records/{rid:path}", record),
        Route("/api/find", find),
        Route("/api/failures", failures),
    ]
    return Starlette(routes=routes, middleware=[Middleware(PageGuard, csp=content_security_policy(html)),
                                                Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
                                                Middleware(TokenGuard, token=token),
                                                Middleware(BodyLimit, limit=max_request_bytes)])


def serve(out: Path, port: int, announce: Callable[[str, ReviewData], None],
          max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
    """Serve the review page on 127.0.0.1:``port`` (0: any free port) until Ctrl-C; ``announce`` gets its
    address, which holds the run's token."""
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise JanusError(INSTALL_HINT) from exc
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise JanusError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another port with --port") \
            from None
    data = ReviewData(out)
    try:
        token = new_token()
        app = create_app(data, token=token, max_request_bytes=max_request_bytes)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        announce(f"http://127.0.0.1:{sock.getsockname()[1]}/?{TOKEN_PARAM}={token}", data)
        server.run(sockets=[sock])
    finally:
        sock.close()
        data.close()
