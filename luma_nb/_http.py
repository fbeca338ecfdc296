"""The httpx side of the two drivers: one request step, performed with every limit applied.

``Client`` and ``AsyncClient`` hand each :class:`~luma_nb._flow_steps.Send` and
:class:`~luma_nb._flow_steps.Fetch` step to :func:`perform` / :func:`aperform`, which share the
rules below, so the sync and async paths cannot drift apart:

- the bearer token is added by :class:`BearerAuth` inside httpx's request flow, so no frame
  of luma_nb holds it as a plain string and ``repr`` shows it masked;
- a request never outlives its step's ``deadline``: every httpx timeout is capped by what is
  left, and the answer is read chunk by chunk with the clock checked between chunks (a
  server trickling one byte at a time cannot hold a wait past ``max_wait``);
- an API answer is read to :data:`~luma_nb.config.MAX_ANSWER_BYTES` + 1 bytes at most, a
  download to its step's ``max_bytes`` + 1: the flows refuse what passed the cap;
- an answer's bytes are scrubbed of the token as they arrive (a server may echo it);
- bodies are encoded by :func:`luma_nb._wire.encode_body` (a ValidationError, before sending);
- a :class:`~luma_nb._flow_steps.Sleep` that carries a ``stop`` signal ends as soon as it is set
  (:func:`pause` / :func:`apause`): the driver waits on the event itself when it can, else
  sleeps in slices of :data:`STOP_SLICE` seconds and looks at the signal between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any

import httpx

from luma_nb import _wire
from luma_nb._flow_steps import Fetch, Send, Sleep
from luma_nb.config import MAX_ANSWER_BYTES, Secret, Settings

__all__ = ["BearerAuth", "SendTracker", "apause", "aperform", "pause", "perform", "scrubbed"]

Clock = Callable[[], float]

#: Longest stretch a stoppable sleep goes without looking at its stop signal (when it cannot
#: wait on the event itself: an injected sleep, or a thread's event in an async client).
STOP_SLICE = 0.05


def pause(sleep: Callable[[float], object], step: Sleep) -> None:
    """Sleep ``step.seconds`` with ``sleep``, ending early once ``step.stop`` is set."""
    stop = step.stop
    if stop is None:
        sleep(step.seconds)
    elif sleep is time.sleep and isinstance(stop, threading.Event):
        stop.wait(step.seconds)
    else:
        left = step.seconds
        while left > 1e-9 and not stop.is_set():
            part = min(STOP_SLICE, left)
            sleep(part)
            left -= part


async def apause(sleep: Callable[[float], Awaitable[object]], step: Sleep) -> None:
    """Await ``step.seconds`` of ``sleep``, ending early once ``step.stop`` is set."""
    stop = step.stop
    if stop is None:
        await sleep(step.seconds)
    elif sleep is asyncio.sleep and isinstance(stop, asyncio.Event):
        if not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), step.seconds)
    else:
        left = step.seconds
        while left > 1e-9 and not stop.is_set():
            part = min(STOP_SLICE, left)
            await sleep(part)
            left -= part


class BearerAuth(httpx.Auth):
    """Adds ``authorization: Bearer <token>`` as httpx sends the request (API host only)."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # No local variable holds the token: tracebacks that capture locals cannot print it.
        request.headers["authorization"] = "Bearer " + self._token.reveal()
        yield request

    def __repr__(self) -> str:
        return f"BearerAuth({self._token!r})"


class SendTracker:
    """Tells whether httpx started to send a request (from httpcore's trace events).

    In-process transports emit no events: then nothing is known, and a caller must assume
    the request was sent.
    """

    def __init__(self) -> None:
        self.traced = False
        self.sending = False

    def note(self, event: str) -> None:
        """Record one trace event name."""
        self.traced = True
        if "send_request_headers" in event or "send_request_body" in event:
            self.sending = True

    @property
    def maybe_sent(self) -> bool:
        """False only when the trace proves no byte of the request left."""
        return self.sending or not self.traced

    def sync_trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx ``trace`` extension for the sync client."""
        self.note(event)

    async def async_trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx ``trace`` extension for the async client."""
        self.note(event)


def perform(
    http: httpx.Client,
    step: Send | Fetch,
    *,
    auth: BearerAuth,
    settings: Settings,
    clock: Clock,
    tracker: SendTracker | None = None,
) -> httpx.Response:
    """Perform one step with blocking httpx (see the module docstring for the limits)."""
    request = _build(http, step, settings, clock, tracker, sync=True)
    response = http.send(request, auth=auth if step.authorized else None, stream=True)
    try:
        reader = _Reader(step, clock, request, response.status_code, settings.token)
        for chunk in response.iter_bytes():
            if not reader.add(chunk):
                break
    finally:
        response.close()
    return reader.response(response)


async def aperform(
    http: httpx.AsyncClient,
    step: Send | Fetch,
    *,
    auth: BearerAuth,
    settings: Settings,
    clock: Clock,
    tracker: SendTracker | None = None,
) -> httpx.Response:
    """Perform one step with async httpx (the same limits as :func:`perform`)."""
    request = _build(http, step, settings, clock, tracker, sync=False)
    response = await http.send(request, auth=auth if step.authorized else None, stream=True)
    try:
        reader = _Reader(step, clock, request, response.status_code, settings.token)
        chunks: AsyncIterator[bytes] = response.aiter_bytes()
        async for chunk in chunks:
            if not reader.add(chunk):
                break
    finally:
        await response.aclose()
    return reader.response(response)


def scrubbed(exc: Exception, token: Secret) -> Exception:
    """``exc`` with the token removed from its message (a peer may have echoed it)."""
    exc.args = tuple(token.scrub(arg) if isinstance(arg, str) else arg for arg in exc.args)
    return exc


def _build(
    http: httpx.Client | httpx.AsyncClient,
    step: Send | Fetch,
    settings: Settings,
    clock: Clock,
    tracker: SendTracker | None,
    *,
    sync: bool,
) -> httpx.Request:
    extensions: dict[str, Any] = {}
    if tracker is not None:
        extensions["trace"] = tracker.sync_trace if sync else tracker.async_trace
    if isinstance(step, Fetch):
        return http.build_request("GET", step.url, extensions=extensions)
    timeout = _timeout(settings, step, clock)
    return http.build_request(
        step.method,
        step.url,
        content=_wire.encode_body(step.json),
        headers={"content-type": "application/json"},
        timeout=timeout,
        extensions=extensions,
    )


def _timeout(settings: Settings, step: Send, clock: Clock) -> httpx.Timeout:
    """httpx timeouts of a step, each capped by what is left before its deadline."""
    base = settings.timeout
    read = step.read_timeout or base
    connect = min(10.0, base)
    if step.deadline is not None:
        left = step.deadline - clock()
        if left <= 0:
            # Nothing was sent: the flows treat this like a connect timeout.
            raise httpx.ConnectTimeout("the request's deadline passed before it was sent")
        base, read, connect = min(base, left), min(read, left), min(connect, left)
    return httpx.Timeout(base, connect=connect, read=read)


class _Reader:
    """Collects an answer (or streams a download into its sink) under the step's limits."""

    def __init__(
        self,
        step: Send | Fetch,
        clock: Clock,
        request: httpx.Request,
        status_code: int,
        token: Secret,
    ) -> None:
        self._step = step
        self._token = token
        self._clock = clock
        self._request = request
        self._chunks: list[bytes] = []
        self._size = 0
        # A 2xx download streams into its sink; anything else is an answer to read.
        self._streaming = isinstance(step, Fetch) and 200 <= status_code < 300

    def add(self, chunk: bytes) -> bool:
        """Take one chunk; False when the cap is passed and reading should stop."""
        step = self._step
        if isinstance(step, Send) and step.deadline is not None and self._clock() > step.deadline:
            raise httpx.ReadTimeout(
                "the answer was still arriving when the request's deadline passed",
                request=self._request,
            )
        self._size += len(chunk)
        if self._streaming:
            assert isinstance(step, Fetch)
            step.sink.write(chunk)
            return self._size <= step.max_bytes
        self._chunks.append(chunk)
        return self._size <= MAX_ANSWER_BYTES

    def response(self, streamed: httpx.Response) -> httpx.Response:
        """The response, complete: the body read so far (a download's lives in its sink).

        A token the server echoed is scrubbed from the bytes at once, so not even the raw
        answer that error handling looks at holds it.
        """
        # httpx keeps a read body in ``_content``; setting it is what ``read()`` would do,
        # without reading past the cap (and cheaper than building a second Response).
        streamed._content = self._token.scrub_bytes(b"".join(self._chunks))
        return streamed
