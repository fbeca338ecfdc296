"""Helpers for the enhancement-study tests: a simulator client that records every submit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import luma_nb
from luma_nb.simulator import Simulator, VirtualClock

VIDEOS = "/luma/videos"


class RecordingTransport(httpx.BaseTransport):
    """The simulator's transport, plus a record of each submit and of what was running then.

    ``running[i]`` is how many earlier tasks the simulator still had unfinished when submit
    ``i`` arrived. ``lose_answers`` lists submits (0-based) whose answer is dropped *after* the
    simulator created the task, as a read timeout would: the submit's outcome is unknown.
    """

    def __init__(self, sim: Simulator, lose_answers: tuple[int, ...] = ()) -> None:
        self.sim = sim
        self.inner = sim.transport()
        self.bodies: list[dict[str, Any]] = []
        self.running: list[int] = []
        self.created: list[str] = []
        self.lose_answers = lose_answers

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        submit = request.method == "POST" and request.url.path == VIDEOS
        if submit:
            self.bodies.append(json.loads(request.content))
            self.running.append(
                sum(self.sim.state(t) not in ("completed", "failed") for t in self.created)
            )
        response = self.inner.handle_request(request)
        if submit and response.status_code == 200:
            response.read()
            self.created.append(response.json()["task_id"])
            if len(self.bodies) - 1 in self.lose_answers:
                raise httpx.ReadTimeout("answer lost", request=request)
        return response


def make_client(
    sim: Simulator,
    tmp_path: Path,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], object] | None = None,
) -> luma_nb.Client:
    """A blocking client over ``sim`` on its virtual clock (no real waiting)."""
    clock = sim.clock
    assert isinstance(clock, VirtualClock)
    return luma_nb.Client(
        "test-token",
        base_url=sim.base_url,
        transport=transport or sim.transport(),
        backend="simulator",
        sleep=sleep or clock.advance,
        clock=clock.now,
        cache_dir=tmp_path / "cache",
    )
