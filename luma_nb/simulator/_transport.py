"""The in-process face: an httpx transport for both sync and async clients, no socket."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import anyio.to_thread
import httpx

from ._response import SimResponse

if TYPE_CHECKING:
    from ._engine import Simulator

__all__ = ["SimulatorTransport"]


class SimulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serve ``httpx.Client(transport=...)`` and ``httpx.AsyncClient(transport=...)`` in-process.

    Async requests run the engine in a worker thread, so a sync-mode hold never blocks the event
    loop. A dropped connection raises :class:`httpx.RemoteProtocolError`, a refused one
    :class:`httpx.ConnectError`. An injected ``slow`` answer longer than the request's read
    timeout waits out that timeout (on the simulator's wall clock) and raises
    :class:`httpx.ReadTimeout`, as a socket would. Closing the transport leaves the simulator
    running (it may serve other clients).

    Parameters
    ----------
    simulator : Simulator
        The engine to serve.
    """

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request of a sync client."""
        body = request.read()
        return self._finish(request, self._serve(request, body))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request of an async client (the engine runs in a worker thread)."""
        body = await request.aread()
        answer = await anyio.to_thread.run_sync(
            functools.partial(self._serve, request, body), abandon_on_cancel=True
        )
        return self._finish(request, answer)

    def _serve(self, request: httpx.Request, body: bytes) -> SimResponse | None:
        """The engine's answer after any delay; ``None`` when the read timeout ran out first."""
        response = self.simulator.handle(
            request.method, str(request.url), request.headers.multi_items(), body
        )
        if response.outcome == "answer" and response.delay > 0:
            timeouts = request.extensions.get("timeout") or {}
            read = timeouts.get("read")
            clock = self.simulator.clock
            if read is not None and response.delay > read:
                clock.wall_sleep(read)
                return None
            clock.wall_sleep(response.delay)
        return response

    @staticmethod
    def _finish(request: httpx.Request, answer: SimResponse | None) -> httpx.Response:
        if answer is None:
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        if answer.outcome == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if answer.outcome == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return httpx.Response(
            answer.status, headers=list(answer.headers), content=answer.body, request=request
        )

    def close(self) -> None:
        """Nothing to release: the simulator outlives its transports."""

    async def aclose(self) -> None:
        """Nothing to release: the simulator outlives its transports."""
