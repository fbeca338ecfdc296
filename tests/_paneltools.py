"""Helpers for the panel tests: a simulator on a virtual clock, clients over it, a session log."""

from __future__ import annotations

import asyncio
import functools
import io
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import luma_nb
from luma_nb.backend import SIMULATOR_POLL
from luma_nb.panel import Job, Panel
from luma_nb.simulator import Simulator, VirtualClock

T = TypeVar("T")
TEST_TIMEOUT = 60.0


def async_test(function: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async test body on a fresh event loop (the role of the kernel's loop)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> T:
        async def bounded() -> T:
            return await asyncio.wait_for(function(*args, **kwargs), TEST_TIMEOUT)

        return asyncio.run(bounded())

    return run


def png_bytes(colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A small PNG (for keyframes)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Rig:
    """A simulator on a virtual clock, a session log, and factories of clients and panels."""

    tmp: Path
    clock: VirtualClock = field(default_factory=VirtualClock)
    sim_options: dict[str, Any] = field(default_factory=dict)
    gate: asyncio.Event | None = None  # when set up, async sleeps wait for it
    thread_gate: threading.Event | None = None  # the same for blocking sleeps

    def __post_init__(self) -> None:
        self.sim_options.setdefault("seed", 7)
        self.sim_options.setdefault("image_fetcher", lambda url: png_bytes())
        # Keyframes come from the fetcher above, never the network: the tests' example.com
        # URLs may pass the simulator's loopback-only address check.
        self.sim_options.setdefault("allow_remote_fetch", True)
        self.sim = Simulator(clock=self.clock, **self.sim_options)
        self.log = luma_nb.SessionLog(self.tmp / "session.jsonl")

    async def sleep(self, seconds: float) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    def blocking_sleep(self, seconds: float) -> None:
        if self.thread_gate is not None:
            self.thread_gate.wait(10)
        self.clock.advance(seconds)

    def client(self, token: str = "test-token", **options: Any) -> luma_nb.AsyncClient:
        options.setdefault("backend", "simulator")
        # The keyframes of these tests come from the simulator's fake fetcher, not a host the
        # preflight could reach; its panel tests turn it on with their own image servers.
        options.setdefault("preflight", False)
        options.setdefault("cache_dir", self.tmp / "cache")
        options.setdefault("transport", self.sim.transport())  # or one that wraps it
        # The simulator's kind of cadence (a backoff), as connect() gives it.
        options.setdefault("poll", SIMULATOR_POLL)
        return luma_nb.AsyncClient(
            token,
            base_url=self.sim.base_url,
            sleep=self.sleep,
            clock=self.clock.now,
            **options,
        )

    def sync_client(self, token: str = "test-token", **options: Any) -> luma_nb.Client:
        options.setdefault("backend", "simulator")
        options.setdefault("preflight", False)  # as client() above
        options.setdefault("cache_dir", self.tmp / "cache")
        options.setdefault("poll", SIMULATOR_POLL)
        return luma_nb.Client(
            token,
            base_url=self.sim.base_url,
            transport=self.sim.transport(),
            sleep=self.blocking_sleep,
            clock=self.clock.now,
            **options,
        )

    def panel(self, client: Any = None, **options: Any) -> Panel:
        return Panel(client if client is not None else self.client(), self.log, **options)

    def close(self) -> None:
        self.sim.close()


def state_text(job: Job) -> str:
    """The text of the row's ``luma-nb-job-state`` element, as the browser would read it."""
    html = "".join(_html_of(job.row))
    match = re.search(r'class="[^"]*luma-nb-job-state[^"]*">([^<]*)<', html)
    assert match, html
    return match.group(1)


def _html_of(widget: Any) -> list[str]:
    out = [getattr(widget, "value", "")] if isinstance(getattr(widget, "value", None), str) else []
    for child in getattr(widget, "children", ()):
        out.extend(_html_of(child))
    return out


def all_html(widget: Any) -> str:
    """Every string value in a widget tree, joined (HTML widgets, texts, labels)."""
    return "\n".join(_html_of(widget))


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the loop run until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)
