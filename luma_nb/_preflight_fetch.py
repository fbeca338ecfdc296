"""The keyframe preflight's network side: perform :func:`~luma_nb._preflight_flow.inspect`'s
steps with httpx.

:func:`drive` (blocking) and :func:`adrive` (async) resolve names with the system resolver (or
the policy's), and GET with a client of their own: no token, none of the API client's cookies,
redirects left to the flow. A GET connects to the address the flow checked (the name stays in
``Host`` and TLS SNI), stops at the flow's deadline, and reads a 2xx body only to its cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import TYPE_CHECKING, Any

from luma_nb._flow_resume import Done, resume
from luma_nb._preflight_flow import Failed, Flow, Get, Got, Resolve
from luma_nb._version import __version__

if TYPE_CHECKING:
    import httpx

    from luma_nb._preflight_policy import Resolver
    from luma_nb._preflight_report import KeyframeReport

_HEADERS = {
    "accept": "image/jpeg,image/png,image/webp;q=0.9,*/*;q=0.1",
    "user-agent": f"luma_nb/{__version__} (keyframe preflight)",
}
_CONNECT_TIMEOUT = 5.0


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver; IPv6 zone ids dropped)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


def _pinned(http: httpx.Client | httpx.AsyncClient, step: Get) -> httpx.Request:
    import httpx

    left = max(0.001, step.deadline - time.monotonic())
    request = http.build_request(
        "GET", step.url, timeout=httpx.Timeout(left, connect=min(_CONNECT_TIMEOUT, left))
    )
    if step.address is None:
        return request
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions["sni_hostname"] = step.host
    return httpx.Request(
        "GET",
        request.url.copy_with(host=step.address),
        headers=request.headers,  # keeps Host: the name the URL gave
        extensions=extensions,
    )


class _Body:
    """Collects a 2xx body to the cap, watching the deadline."""

    def __init__(self, step: Get, response: httpx.Response) -> None:
        self.step = step
        self.status = response.status_code
        self.label = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        location = response.headers.get("location")
        self.location = location if 300 <= self.status < 400 else None
        declared = response.headers.get("content-length", "")
        self.declared = int(declared) if declared.isascii() and declared.isdigit() else None
        self.chunks: list[bytes] = []
        self.size = 0

    @property
    def wanted(self) -> bool:
        """Whether the body is read at all."""
        too_large = self.declared is not None and self.declared > self.step.max_bytes
        return 200 <= self.status < 300 and not too_large

    def add(self, chunk: bytes) -> bool:
        """Take a chunk; False when reading should stop (the cap passed)."""
        if time.monotonic() > self.step.deadline:
            raise TimeoutError
        self.chunks.append(chunk)
        self.size += len(chunk)
        return self.size <= self.step.max_bytes

    def got(self) -> Got:
        return Got(self.status, self.label, self.location, self.declared, b"".join(self.chunks))


def _failed(exc: BaseException) -> Failed:
    import httpx

    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return Failed("timeout", "timed out")
    if isinstance(exc, httpx.ConnectError):
        return Failed("connect", _reason(exc))
    return Failed("error", f"{type(exc).__name__}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _resolve(resolver: Resolver, step: Resolve) -> list[str] | Failed:
    try:
        return [str(a) for a in resolver(step.host, step.port)]
    except (OSError, UnicodeError, ValueError) as exc:
        return Failed("resolve", getattr(exc, "strerror", None) or _reason(exc))


def _client_options() -> dict[str, Any]:
    # A client of its own: no auth, no cookies of the API client, redirects checked by hand.
    return {"follow_redirects": False, "headers": _HEADERS}


def _get(http: httpx.Client, step: Get) -> Got | Failed:
    import httpx

    try:
        response = http.send(_pinned(http, step), stream=True)
        try:
            body = _Body(step, response)
            if body.wanted:
                for chunk in response.iter_bytes():
                    if not body.add(chunk):
                        break
            return body.got()
        finally:
            response.close()
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
        return _failed(exc)


async def _aget(http: httpx.AsyncClient, step: Get) -> Got | Failed:
    import httpx

    try:
        response = await http.send(_pinned(http, step), stream=True)
        try:
            body = _Body(step, response)
            if body.wanted:
                async for chunk in response.aiter_bytes():
                    if not body.add(chunk):
                        break
            return body.got()
        finally:
            await response.aclose()
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
        return _failed(exc)


def drive(flow: Flow, resolver: Resolver | None = None) -> KeyframeReport:
    """Run :func:`inspect` with blocking httpx (a fresh client without credentials)."""
    import httpx

    resolve = resolver or system_resolver
    with httpx.Client(**_client_options()) as http, contextlib.closing(flow):
        step = resume(flow)
        while not isinstance(step, Done):
            answer = _resolve(resolve, step) if isinstance(step, Resolve) else _get(http, step)
            step = resume(flow, answer)
        return step.value


async def adrive(flow: Flow, resolver: Resolver | None = None) -> KeyframeReport:
    """Run :func:`inspect` with async httpx (resolving in a worker thread)."""
    import httpx

    resolve = resolver or system_resolver
    async with httpx.AsyncClient(**_client_options()) as http:
        with contextlib.closing(flow):
            step = resume(flow)
            while not isinstance(step, Done):
                answer: list[str] | Got | Failed
                if isinstance(step, Resolve):
                    answer = await asyncio.to_thread(_resolve, resolve, step)
                else:
                    answer = await _aget(http, step)
                step = resume(flow, answer)
            return step.value
