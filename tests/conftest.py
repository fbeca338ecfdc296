"""Shared fixtures: a scripted fake of the Luma API and both clients driven through it.

``api`` is one ``httpx.MockTransport`` handler that serves the sync and the async client alike.
It records every request and answers from a per-path script: a queue of replies (the last one
repeats), or a function of the request. A reply is an ``httpx.Response``, a ``dict``/``list``
(sent as JSON with status 200), an exception (class or instance, raised as the transport
error) or a callable taking the request and returning any of these.

``make_client(**kwargs)`` builds a client over ``api`` with a fake clock and a recorded sleep;
with the ``kind`` parameter the same test runs against ``Client`` and ``AsyncClient``. For the
async client each coroutine runs on a private event loop that the fixture creates and closes,
so the tests themselves call plain blocking methods.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import luma_nb

TOKEN = "sk-test-token-0001"
API = "https://api.acedata.cloud"
VIDEOS = "/luma/videos"
TASKS = "/luma/tasks"

Reply = Any


class FakeClock:
    """A monotonic clock that only the fake sleep moves; every delay is recorded."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"negative sleep {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    @property
    def slept(self) -> float:
        return sum(self.sleeps)


class FakeAPI:
    """A scripted fake of the API (and of any media host), recording every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._functions: dict[str, Callable[[httpx.Request], Reply]] = {}

    # -------------------------------------------------------------- scripting

    def script(self, path: str, *replies: Reply) -> FakeAPI:
        """Answer requests to ``path`` with ``replies`` in order; the last one repeats."""
        assert replies, "give at least one reply"
        self._scripts[path] = list(replies)
        return self

    def route(self, path: str, function: Callable[[httpx.Request], Reply]) -> FakeAPI:
        """Answer every request to ``path`` with ``function(request)``."""
        self._functions[path] = function
        return self

    @staticmethod
    def json(status: int = 200, body: Any = None, headers: dict[str, str] | None = None):
        return httpx.Response(status, json=body, headers=headers)

    @staticmethod
    def text(status: int, text: str, content_type: str = "text/html", headers=None):
        merged = {"content-type": content_type, **(headers or {})}
        return httpx.Response(status, text=text, headers=merged)

    @staticmethod
    def error(status: int, code: str, message: str = "", trace_id: str | None = None, **more):
        body: dict[str, Any] = {"error": {"code": code, "message": message or code}}
        if trace_id:
            body["trace_id"] = trace_id
        body.update(more.pop("extra", {}))
        return httpx.Response(status, json=body, headers=more.get("headers"))

    # -------------------------------------------------------------- inspection

    def to(self, path: str) -> list[httpx.Request]:
        """The requests made to ``path``."""
        return [r for r in self.requests if r.url.path == path]

    def bodies(self, path: str) -> list[Any]:
        """The JSON bodies sent to ``path``."""
        return [json.loads(r.content) for r in self.to(path)]

    # -------------------------------------------------------------- the handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self._functions:
            reply = self._functions[path](request)
        elif path in self._scripts:
            queue = self._scripts[path]
            reply = queue.pop(0) if len(queue) > 1 else queue[0]
        else:
            return httpx.Response(404, json={"error": {"code": "no_api", "message": path}})
        return self._realise(reply, request)

    def _realise(self, reply: Reply, request: httpx.Request) -> httpx.Response:
        if isinstance(reply, type) and issubclass(reply, BaseException):
            if issubclass(reply, httpx.RequestError):
                raise reply(f"simulated {reply.__name__}", request=request)
            raise reply()
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, httpx.Response):
            try:
                content = reply.content
            except httpx.ResponseNotRead:
                return reply  # a streaming body, built for this one request
            # A fresh copy: one scripted response may serve several requests and clients.
            return httpx.Response(reply.status_code, headers=reply.headers, content=content)
        if isinstance(reply, (dict, list)):
            return httpx.Response(200, json=reply)
        if callable(reply):
            return self._realise(reply(request), request)
        raise TypeError(f"cannot answer with {reply!r}")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


class Blocking:
    """The async client behind the sync client's blocking method names."""

    def __init__(self, client: luma_nb.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = client
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.raw, name)
        if inspect.iscoroutinefunction(attr):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._loop.run_until_complete(attr(*args, **kwargs))

            return call
        return attr

    def __repr__(self) -> str:
        return repr(self.raw)


class SyncFacade:
    """The sync client, with ``raw`` like :class:`Blocking` (so tests need not care)."""

    def __init__(self, client: luma_nb.Client) -> None:
        self.raw = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def __repr__(self) -> str:
        return repr(self.raw)


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_client(
    kind: str, api: FakeAPI, clock: FakeClock, tmp_path: Any
) -> Iterator[Callable[..., Any]]:
    """A factory of clients of the ``kind`` under test, all wired to ``api`` and ``clock``.

    Keyword arguments go to the constructor (``token`` defaults to :data:`TOKEN`).
    """
    loop = asyncio.new_event_loop()
    made: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("transport", api.transport())
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("rng", random.Random(0))
        kwargs.setdefault("cache_dir", tmp_path / "cache")
        # The backoff schedule, whose cadence these tests pin down; the adaptive one (the
        # default) has its own tests in test_client_schedule.py.
        kwargs.setdefault("poll", luma_nb.config.PollPolicy(adaptive=False))
        if kind == "sync":
            kwargs.setdefault("sleep", clock.sleep)
            facade: Any = SyncFacade(luma_nb.Client(**kwargs))
        else:
            kwargs.setdefault("sleep", clock.async_sleep)
            facade = Blocking(luma_nb.AsyncClient(**kwargs), loop)
        made.append(facade)
        return facade

    yield factory
    for facade in made:
        if isinstance(facade, Blocking):
            loop.run_until_complete(facade.raw.aclose())
        else:
            facade.raw.close()
    loop.close()


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """A client of the ``kind`` under test with default settings."""
    return make_client()
