"""The public, cancellable wait: ``Client.wait/wait_many(..., stop=...)`` and the async twins.

The stop signal is looked at before every poll round and after it, and every sleep between
rounds carries it, so a set event ends the wait at once with ``WaitCancelledError``. Time is
virtual (the simulator's clock, advanced by the client's injected sleep) except in the two
tests of the drivers' own event waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import luma_nb
from luma_nb._http import STOP_SLICE
from luma_nb.simulator import Simulator, VirtualClock
from tests._simtools import make_sim, submit_async

POLL = luma_nb.config.PollPolicy.fixed(3.0, max_wait=600.0)


class Counting(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """The simulator's transport, counting poll requests; ``hook(n)`` runs after poll ``n``."""

    def __init__(self, sim: Simulator, hook: Callable[[int], object] | None = None) -> None:
        self.inner = sim.transport()
        self.polls = 0
        self.hook = hook

    def _seen(self, request: httpx.Request) -> None:
        if request.url.path == "/luma/tasks":
            self.polls += 1
            if self.hook is not None:
                self.hook(self.polls)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self._seen(request)
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self._seen(request)
        return response


def sync_client(
    sim: Simulator, clock: VirtualClock, transport: Counting, tmp_path: Path, **kw: Any
) -> luma_nb.Client:
    kw.setdefault("sleep", clock.advance)
    kw.setdefault("clock", clock.now)
    return luma_nb.Client(
        "test-token",
        base_url=sim.base_url,
        transport=transport,
        backend="simulator",
        poll=POLL,
        cache_dir=tmp_path / "cache",
        **kw,
    )


def async_client(
    sim: Simulator, clock: VirtualClock, transport: Counting, tmp_path: Path, **kw: Any
) -> luma_nb.AsyncClient:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    kw.setdefault("sleep", sleep)
    kw.setdefault("clock", clock.now)
    return luma_nb.AsyncClient(
        "test-token",
        base_url=sim.base_url,
        transport=transport,
        backend="simulator",
        poll=POLL,
        cache_dir=tmp_path / "cache",
        **kw,
    )


# ----------------------------------------------------------------------------- blocking client


def test_stop_before_start_sends_nothing(tmp_path: Path) -> None:
    sim, clock = make_sim()
    task_id = submit_async(sim, prompt="a heron")
    transport = Counting(sim)
    stop = threading.Event()
    stop.set()
    with (
        sync_client(sim, clock, transport, tmp_path) as client,
        pytest.raises(luma_nb.WaitCancelledError) as caught,
    ):
        client.wait(task_id, stop=stop)
    assert transport.polls == 0
    assert caught.value.task_ids == (task_id,)
    assert caught.value.task_id == task_id
    assert caught.value.waited == 0
    assert isinstance(caught.value, luma_nb.LumaError)
    assert "may still finish" in str(caught.value)


def test_stop_during_a_sleep_wakes_the_wait_at_once(tmp_path: Path) -> None:
    sim, clock = make_sim()
    task_id = submit_async(sim, prompt="a heron")
    transport = Counting(sim)
    stop = threading.Event()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)
        if len(slept) == 3:  # a third of the way into the first 3 s sleep... roughly
            stop.set()

    with sync_client(sim, clock, transport, tmp_path, sleep=sleep) as client:
        start = clock.now()
        with pytest.raises(luma_nb.WaitCancelledError) as caught:
            client.wait(task_id, stop=stop)
    assert transport.polls == 1  # the first round, then no other
    assert len(slept) == 3 and all(s <= STOP_SLICE for s in slept)
    assert clock.now() - start == pytest.approx(3 * STOP_SLICE)  # not the whole 3 s interval
    assert caught.value.task_ids == (task_id,)
    assert caught.value.last[task_id].id == task_id  # the record seen by that round


def test_stop_between_polls_ends_after_that_round_without_sleeping(tmp_path: Path) -> None:
    sim, clock = make_sim()
    task_id = submit_async(sim, prompt="a heron")
    stop = threading.Event()
    transport = Counting(sim, hook=lambda n: n == 2 and stop.set())  # set while poll 2 is out
    with sync_client(sim, clock, transport, tmp_path) as client:
        start = clock.now()
        with pytest.raises(luma_nb.WaitCancelledError):
            client.wait(task_id, stop=stop)
    assert transport.polls == 2
    assert clock.now() - start == pytest.approx(3.0)  # one full sleep, between polls 1 and 2


def test_wait_many_stop_lists_every_unfinished_task(tmp_path: Path) -> None:
    sim, clock = make_sim()
    ids = [submit_async(sim, prompt=p) for p in ("a fox", "a heron", "an otter")]
    stop = threading.Event()
    transport = Counting(sim, hook=lambda n: stop.set())
    with (
        sync_client(sim, clock, transport, tmp_path) as client,
        pytest.raises(luma_nb.WaitCancelledError) as caught,
    ):
        client.wait_many(ids, stop=stop)
    assert transport.polls == 1  # one batch request, then the stop is seen
    assert caught.value.task_ids == tuple(ids)
    assert "wait_many" in str(caught.value)


def test_an_unset_stop_changes_nothing(tmp_path: Path) -> None:
    sim, clock = make_sim()
    task_id = submit_async(sim, prompt="a heron")
    transport = Counting(sim)
    stop = threading.Event()
    with sync_client(sim, clock, transport, tmp_path) as client:
        task = client.wait(task_id, stop=stop)
    assert task.is_terminal
    sim2, clock2 = make_sim()
    task_id2 = submit_async(sim2, prompt="a heron")
    plain = Counting(sim2)
    with sync_client(sim2, clock2, plain, tmp_path) as client:
        client.wait(task_id2)
    assert transport.polls == plain.polls  # same seed, same cadence, same number of rounds


def test_stop_must_be_an_event(tmp_path: Path) -> None:
    sim, clock = make_sim()
    transport = Counting(sim)
    with (
        sync_client(sim, clock, transport, tmp_path) as client,
        pytest.raises(luma_nb.ValidationError, match="stop"),
    ):
        client.wait("task-1", stop=True)  # type: ignore[arg-type]
    assert transport.polls == 0


def test_real_sleep_waits_on_the_event_itself(tmp_path: Path) -> None:
    # Default time.sleep: the driver waits on the threading.Event, so a stop set from another
    # thread wakes it at once, not at the end of the 3 s interval. The simulator's clock stands
    # still, so the task never finishes on its own.
    sim, _clock = make_sim()
    task_id = submit_async(sim, prompt="a heron")
    transport = Counting(sim)
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    with luma_nb.Client(
        "test-token",
        base_url=sim.base_url,
        transport=transport,
        poll=POLL,
        cache_dir=tmp_path / "cache",
    ) as client:
        started = time.monotonic()
        timer.start()
        with pytest.raises(luma_nb.WaitCancelledError):
            client.wait(task_id, stop=stop)
        took = time.monotonic() - started
    timer.join()
    assert took < 2.0
    assert transport.polls == 1


# ----------------------------------------------------------------------------- async client


@pytest.mark.parametrize("kind", ["asyncio", "threading"])
def test_async_stop_before_start(tmp_path: Path, kind: str) -> None:
    async def main() -> None:
        sim, clock = make_sim()
        task_id = submit_async(sim, prompt="a heron")
        transport = Counting(sim)
        stop = asyncio.Event() if kind == "asyncio" else threading.Event()
        stop.set()
        async with async_client(sim, clock, transport, tmp_path) as client:
            with pytest.raises(luma_nb.WaitCancelledError) as caught:
                await client.wait(task_id, stop=stop)
        assert transport.polls == 0
        assert caught.value.task_ids == (task_id,)

    asyncio.run(main())


@pytest.mark.parametrize("kind", ["asyncio", "threading"])
def test_async_stop_during_a_sleep(tmp_path: Path, kind: str) -> None:
    async def main() -> None:
        sim, clock = make_sim()
        task_id = submit_async(sim, prompt="a heron")
        transport = Counting(sim)
        stop = asyncio.Event() if kind == "asyncio" else threading.Event()
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            clock.advance(seconds)
            if len(slept) == 2:
                stop.set()

        async with async_client(sim, clock, transport, tmp_path, sleep=sleep) as client:
            start = clock.now()
            with pytest.raises(luma_nb.WaitCancelledError):
                await client.wait(task_id, stop=stop)
        assert transport.polls == 1
        assert clock.now() - start == pytest.approx(2 * STOP_SLICE)

    asyncio.run(main())


@pytest.mark.parametrize("kind", ["asyncio", "threading"])
def test_async_stop_between_polls(tmp_path: Path, kind: str) -> None:
    async def main() -> None:
        sim, clock = make_sim()
        ids = [submit_async(sim, prompt=p) for p in ("a fox", "a heron")]
        stop = asyncio.Event() if kind == "asyncio" else threading.Event()
        transport = Counting(sim, hook=lambda n: n == 3 and stop.set())
        async with async_client(sim, clock, transport, tmp_path) as client:
            start = clock.now()
            with pytest.raises(luma_nb.WaitCancelledError) as caught:
                await client.wait_many(ids, stop=stop)
        assert transport.polls == 3
        assert clock.now() - start == pytest.approx(6.0)  # two sleeps, none after poll 3
        assert caught.value.task_ids == tuple(ids)

    asyncio.run(main())


def test_async_real_sleep_waits_on_the_asyncio_event(tmp_path: Path) -> None:
    async def main() -> float:
        sim, _clock = make_sim()
        task_id = submit_async(sim, prompt="a heron")
        stop = asyncio.Event()
        async with luma_nb.AsyncClient(
            "test-token",
            base_url=sim.base_url,
            transport=Counting(sim),
            poll=POLL,
            cache_dir=tmp_path / "cache",
        ) as client:
            asyncio.get_running_loop().call_later(0.2, stop.set)
            started = time.monotonic()
            with pytest.raises(luma_nb.WaitCancelledError):
                await client.wait(task_id, stop=stop)
            return time.monotonic() - started

    assert asyncio.run(main()) < 2.0


# ----------------------------------------------------------------------------- the panel


def test_the_panel_uses_only_the_public_client_api() -> None:
    source = (Path(luma_nb.__file__).parent / "panel" / "_calls.py").read_text()
    for private in ("._core", "._run(", "_stoppable", "luma_nb._flows"):
        assert private not in source, private
