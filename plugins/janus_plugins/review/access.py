"""Who may use the review page, and how much one request may send.

``janus review`` makes a random token for each run and prints the page's address with it
(``http://127.0.0.1:PORT/?token=...``), as Jupyter does. Every request needs it: the page's first
load turns ``?token=`` into a cookie (HttpOnly, SameSite=Strict) and moves to the address without
it, so the page's own requests carry the cookie; a script sends the ``X-Janus-Token`` header. Other
local users and pages open in the browser do not know it, so they can neither read nor edit the
dataset (403). A request body over ``max_request_bytes`` is answered 413 before it is read whole.
"""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any

#: the most bytes one request's body may hold (an edited record is a few kilobytes)
MAX_REQUEST_BYTES = 1_000_000
TOKEN_PARAM = "token"
TOKEN_HEADER = "x-janus-token"


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def cookie_name(scope: Any) -> str:
    """The token's cookie, one per port: cookies do not tell ports apart, two review pages would."""
    server = scope.get("server") or ("", 0)
    return f"janus_review_{server[1]}"


async def answer(send: Any, status: int, message: str, scope: Any, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """A short refusal: JSON for the API, plain text for the page."""
    if scope.get("path", "").startswith("/api/"):
        body, kind = json.dumps({"error": message}).encode(), b"application/json"
    else:
        body, kind = message.encode(), b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store"), *headers]})
    await send({"type": "http.response.body", "body": body})


class TokenGuard:
    """ASGI middleware: a request without this server's token is answered 403.

    The token may come as ``?token=`` (a GET of the page with it sets the cookie and redirects to the
    address without it), as the ``X-Janus-Token`` header, or as the cookie; each is compared in
    constant time (``hmac.compare_digest``)."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.token = token.encode()

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), self.token)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.requests import HTTPConnection

        conn = HTTPConnection(scope)
        in_query = conn.query_params.get(TOKEN_PARAM)
        if not (self._matches(conn.headers.get(TOKEN_HEADER)) or self._matches(in_query)
                or self._matches(conn.cookies.get(cookie_name(scope)))):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await answer(send, 403, "this review page needs its token: open the address 'janus review' printed "
                         "(it ends in ?token=...)", scope)
            return
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/" \
                and self._matches(in_query):
            await self._remember(scope, send, conn)
            return
        await self.app(scope, receive, send)

    async def _remember(self, scope: Any, send: Any, conn: Any) -> None:
        """Set the cookie and move to the same address without the token (out of history and the
        address bar)."""
        from urllib.parse import urlencode

        rest = urlencode([(k, v) for k, v in conn.query_params.multi_items() if k != TOKEN_PARAM])
        cookie = (f"{cookie_name(scope)}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict").encode()
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", ("/?" + rest if rest else "/").encode()), (b"set-cookie", cookie),
                                (b"content-length", b"0"), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": b""})


class BodyLimit:
    """ASGI middleware: a request whose body is over ``limit`` bytes is answered 413.

    A declared Content-Length over the limit is refused before any of the body is read; a body sent
    without one (chunked) is read up to the limit and refused once it passes it. The app is handed
    the body whole, so it never reads more than ``limit`` bytes."""

    def __init__(self, app: Any, limit: int = MAX_REQUEST_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"the request is larger than {self.limit:,} bytes (janus review --max-request-bytes)"
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > self.limit):
            await answer(send, 413 if declared.strip().isdigit() else 400,
                         too_big if declared.strip().isdigit() else "Content-Length is not a number", scope)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            size += len(message.get("body", b""))
            if size > self.limit:
                await answer(send, 413, too_big, scope)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body, handed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal handed
            if handed:
                return await receive()
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
