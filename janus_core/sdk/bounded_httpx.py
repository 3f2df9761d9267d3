"""An httpx transport for SDK-based backends that keeps every reply within bounds: the body
decompressed in bounded steps and abandoned past ``max_bytes``, and redirects refused (the client
never sees one to follow). Imported on use (httpx)."""

from __future__ import annotations

import zlib

import httpx

from janus_core.sdk.reply_bounds import MAX_REPLY_BYTES, ReplyRefused, current_limit, refused_redirect, too_large

#: the encodings asked for, and decoded here in bounded steps
ACCEPTED = "gzip, deflate"
DROPPED = {"content-encoding", "content-length", "transfer-encoding"}


def _decoder(encoding: str | None):  # -> zlib decompress object, or None for an unencoded body
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, told apart by zlib
    raise ReplyRefused(f"the server's reply uses the content encoding '{encoding[:40]}', which was not asked for")


class BoundedTransport(httpx.AsyncBaseTransport):
    """Wraps another transport: asks for gzip or deflate only, reads the reply whole within
    ``max_bytes`` (after decompression) and refuses redirects."""

    def __init__(self, inner: httpx.AsyncBaseTransport, max_bytes: int = MAX_REPLY_BYTES):
        self.inner, self.max_bytes = inner, max_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Accept-Encoding"] = ACCEPTED
        response = await self.inner.handle_async_request(request)
        try:
            if response.status_code in (301, 302, 303, 307, 308):
                raise refused_redirect(response.status_code, response.headers.get("location"))
            body = await self._read(response)
        finally:
            await response.aclose()
        headers = [(k, v) for k, v in response.headers.raw if k.decode("latin-1").lower() not in DROPPED]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request,
                              extensions=response.extensions)

    async def _read(self, response: httpx.Response) -> bytes:
        limit = current_limit(self.max_bytes)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        decoder = _decoder(response.headers.get("content-encoding"))
        body = bytearray()
        async for chunk in response.stream:
            try:
                # at most one byte past the bound per step: a small bomb never expands in memory
                body += decoder.decompress(chunk, limit + 1 - len(body)) if decoder else chunk
            except zlib.error:
                raise ReplyRefused("the server's compressed reply cannot be decoded") from None
            if len(body) > limit or (decoder is not None and decoder.unconsumed_tail):
                raise too_large(limit)
        if decoder is not None:
            body += decoder.flush()
            if len(body) > limit:
                raise too_large(limit)
        return bytes(body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def default_transport() -> httpx.AsyncBaseTransport:
    """aiohttp under httpx (httpx-aiohttp, which the openai SDK's aiohttp extra brings), as the
    SDKs use by default where aiohttp is installed."""
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport()


def bounded_client(inner: httpx.AsyncBaseTransport | None = None, *, timeout: float,
                   max_bytes: int = MAX_REPLY_BYTES) -> httpx.AsyncClient:
    """An httpx client over ``inner`` (default: ``default_transport``) that follows no redirect
    and keeps replies within ``max_bytes``."""
    return httpx.AsyncClient(transport=BoundedTransport(inner or default_transport(), max_bytes),
                             timeout=timeout, follow_redirects=False)
