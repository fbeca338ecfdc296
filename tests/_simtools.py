"""Helpers for the simulator tests: clients over the in-process face, images, receivers."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

import luma_nb
from luma_nb.simulator import Simulator, VirtualClock

#: Debian's chromium (``LUMA_NB_CHROMIUM`` points elsewhere) and the flags it needs here.
CHROMIUM = os.environ.get("LUMA_NB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

TOKEN = "sk-test-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
DONE = 200.0  # simulated seconds after which every normal task is over (max is 160)


def virtual_client(sim: Simulator, tmp_path: Path) -> luma_nb.Client:
    """A blocking luma_nb client over ``sim`` whose waits advance its virtual clock."""
    clock = sim.clock
    assert isinstance(clock, VirtualClock)
    return luma_nb.Client(
        "test-token",
        base_url=sim.base_url,
        transport=sim.transport(),
        backend="simulator",
        sleep=clock.advance,
        clock=clock.now,
        cache_dir=tmp_path / "cache",
    )


def make_sim(**kwargs: Any) -> tuple[Simulator, VirtualClock]:
    """A simulator on a fresh virtual clock (seed 7 unless given)."""
    clock = VirtualClock()
    kwargs.setdefault("seed", 7)
    return Simulator(clock=clock, **kwargs), clock


def call(
    mode: str,
    sim: Simulator,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    auth: bool = True,
    **kwargs: Any,
) -> httpx.Response:
    """One request through the in-process transport with a plain httpx sync or async client."""
    merged = dict(AUTH) if auth else {}
    merged.update(headers or {})
    transport = sim.transport()
    if mode == "sync":
        with httpx.Client(transport=transport, base_url=sim.base_url) as client:
            response = client.request(method, url, headers=merged, **kwargs)
            response.read()
            return response

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url=sim.base_url) as client:
            response = await client.request(method, url, headers=merged, **kwargs)
            await response.aread()
            return response

    return asyncio.run(go())


def submit(mode: str, sim: Simulator, **body: Any) -> httpx.Response:
    """POST /luma/videos with ``body``."""
    return call(mode, sim, "POST", "/luma/videos", json=body)


def retrieve(mode: str, sim: Simulator, task_id: str) -> httpx.Response:
    """POST /luma/tasks retrieve."""
    return call(mode, sim, "POST", "/luma/tasks", json={"action": "retrieve", "id": task_id})


def submit_async(sim: Simulator, **body: Any) -> str:
    """Submit in async mode through a sync client and return the task id."""
    response = submit("sync", sim, **{"async": True, **body})
    assert response.status_code == 200, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (64, 36)) -> bytes:
    """A plain PNG image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    """A base64 data URL."""
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@dataclass
class CallbackRecorder:
    """A callback transport that records POSTs and answers scripted statuses (then 200)."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            with self.lock:
                self.received.append((str(request.url), json.loads(request.content)))
                status = self.statuses.pop(0) if self.statuses else 200
            return httpx.Response(status)

        return httpx.MockTransport(handler)


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.got = threading.Condition()
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _Receiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length))
        with self.server.got:
            self.server.bodies.append(body)
            self.server.got.notify_all()
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def callback_receiver() -> Iterator[tuple[str, Callable[[float], list[dict[str, Any]]]]]:
    """A tiny loopback HTTP receiver: yields (url, wait(timeout) -> bodies received)."""
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()

    def wait(timeout: float) -> list[dict[str, Any]]:
        with server.got:
            server.got.wait_for(lambda: bool(server.bodies), timeout)
            return list(server.bodies)

    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", wait
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
