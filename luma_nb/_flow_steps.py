"""What a flow of the protocol core yields, and what its driver throws back into it.

A flow (:mod:`luma_nb._flows`) is a generator of these steps: :class:`Send` (make this
request; the driver answers with the ``httpx.Response`` or throws the ``httpx`` error into the
flow), :class:`Fetch` (stream this URL into a sink) and :class:`Sleep` (wait, or stop early
once a :class:`StopSignal` is set). ``Client`` and ``AsyncClient`` perform them through
:mod:`luma_nb._http`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, TypeVar

import httpx

from luma_nb.models import Task

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    """Make one JSON request. ``authorized`` adds the bearer token (API host only).

    ``deadline`` (on the core's clock) bounds the whole request, answer included: a driver
    stops reading at it and throws ``httpx.ReadTimeout`` into the flow. The driver reads at
    most :data:`~luma_nb.config.MAX_ANSWER_BYTES` (+1) of the answer. ``paid`` marks the
    submit, whose cancellation in flight is reported as an unknown outcome.
    """

    method: str
    url: str
    json: Mapping[str, Any]
    authorized: bool = True
    read_timeout: float | None = None
    deadline: float | None = None
    paid: bool = False


@dataclass(frozen=True)
class Fetch:
    """GET ``url``; on 2xx stream at most ``max_bytes`` + 1 bytes of the body into ``sink``
    (the flow refuses anything past ``max_bytes``), else read the body into the response."""

    url: str
    sink: BinaryIO
    authorized: bool = False
    max_bytes: int = 1 << 30


class StopSignal(Protocol):
    """Anything that says "stop waiting": a ``threading.Event`` or an ``asyncio.Event``."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds; with ``stop``, end early once it is set (drivers check it
    during the sleep: they wait on the event, or sleep in short slices)."""

    seconds: float
    stop: StopSignal | None = None


Step = Send | Fetch | Sleep
Flow = Generator[Step, Any, T]
OnUpdate = Callable[[Task], object]

#: Never sent a byte: safe to retry even the paid submit.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Our own mistakes: retrying cannot help.
LOCAL_ERRORS = (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL)
#: What drivers throw into a flow: every httpx failure of a request (transport errors, an
#: undecodable body, too many redirects, a URL httpx refuses).
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL)


def stopped(stop: StopSignal | None) -> bool:
    """True once ``stop`` (if any) is set."""
    return stop is not None and bool(stop.is_set())
