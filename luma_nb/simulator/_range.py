"""Serving media bytes as a CDN does: whole, or one ``Range`` (206), and HEAD."""

from __future__ import annotations

import re

from ._response import SimResponse

__all__ = ["parse_range", "serve_bytes"]

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """Interpret a ``Range`` header for ``size`` bytes.

    Returns
    -------
    tuple of int, None or bool
        ``(first, last)`` (inclusive) for one satisfiable range; ``None`` to serve the whole
        body (no header, several ranges or a malformed one, which RFC 9110 lets a server
        ignore); ``False`` when the range cannot be satisfied (416).
    """
    if header is None:
        return None
    match = _RANGE.match(header)
    if not match:
        return None
    first_text, last_text = match[1], match[2]
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        return False
    return first, min(last, size - 1)


def serve_bytes(
    method: str, data: bytes, content_type: str, range_header: str | None, etag: str
) -> SimResponse:
    """Answer a GET or HEAD for ``data``, honouring a single byte range."""
    size = len(data)
    base = (
        ("content-type", content_type),
        ("accept-ranges", "bytes"),
        ("cache-control", "public, max-age=86400"),
        ("etag", etag),
    )
    wanted = parse_range(range_header, size)
    if wanted is False:
        return SimResponse(
            416, (*base, ("content-range", f"bytes */{size}"), ("content-length", "0")), b""
        )
    if isinstance(wanted, tuple):
        first, last = wanted
        part = data[first : last + 1]
        headers = (
            *base,
            ("content-range", f"bytes {first}-{last}/{size}"),
            ("content-length", str(len(part))),
        )
        return SimResponse(206, headers, b"" if method == "HEAD" else part)
    return SimResponse(
        200, (*base, ("content-length", str(size))), b"" if method == "HEAD" else data
    )
