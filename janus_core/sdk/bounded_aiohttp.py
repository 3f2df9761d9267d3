"""aiohttp sessions for provider backends that keep every reply within bounds: the body read in
pieces and abandoned past ``max_bytes`` (after decompression), redirects never followed, and one
total timeout over the whole request, reading the body included. Imported on use (aiohttp)."""

from __future__ import annotations

from typing import Any

import aiohttp

from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES, current_limit, refused_redirect, too_large

CHUNK = 2**16


class CappedResponse(aiohttp.ClientResponse):
    """A response whose ``read`` (and so ``text`` and ``json``) stops past ``max_bytes``."""

    max_bytes: int = MAX_REPLY_BYTES

    async def read(self) -> bytes:
        if self._body is None:
            limit = current_limit(self.max_bytes)
            try:
                if (self.content_length or 0) > limit:
                    raise too_large(limit)
                body = bytearray()
                async for chunk in self.content.iter_chunked(CHUNK):
                    body += chunk
                    if len(body) > limit:
                        raise too_large(limit)
            except BaseException:
                self.close()
                raise
            self._body = bytes(body)
        return await super().read()


async def _refuse_redirect(session: Any, context: Any, params: aiohttp.TraceRequestRedirectParams) -> None:
    params.response.close()
    raise refused_redirect(params.response.status, params.response.headers.get("Location"))


def bounded_session(*, timeout: float, max_bytes: int = MAX_REPLY_BYTES,
                    headers: dict[str, str] | None = None) -> aiohttp.ClientSession:
    """A session whose replies hold at most ``max_bytes``, that follows no redirect and abandons a
    request after ``timeout`` seconds in all."""
    trace = aiohttp.TraceConfig()
    trace.on_request_redirect.append(_refuse_redirect)
    response_class = type("CappedResponse", (CappedResponse,), {"max_bytes": max_bytes})
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), headers=headers,
                                 connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                                 trace_configs=[trace], response_class=response_class)
