"""Joining an API root that may carry a query string (``...?key=...``) with an endpoint path."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit


def join_url(base: str, path: str) -> str:
    """``path`` appended to ``base``'s path, before the query: ``base``'s query kept intact, and
    ``path``'s own query (``/batches?limit=100``) after it."""
    root, extra = urlsplit(base), urlsplit(path)
    query = "&".join(q for q in (root.query, extra.query) if q)
    joined = root.path.rstrip("/") + "/" + extra.path.lstrip("/")
    return urlunsplit((root.scheme, root.netloc, joined, query, ""))


def split_query(base: str) -> tuple[str, dict[str, str]]:
    """``base`` without its query string, and the query's parameters (for SDKs that take them apart)."""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), dict(parse_qsl(parts.query,
                                                                                      keep_blank_values=True))
