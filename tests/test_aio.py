"""Async inside Jupyter: the private background loop, top-level await, and the nested opt-in."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import signal
import subprocess
import sys
import textwrap
import threading

import httpx
import pytest

import luma_nb
from luma_nb.aio import RunTimeoutError
from luma_nb.errors import SubmitOutcomeUnknownError, TransportError, ValidationError
from luma_nb.simulator import Simulator, VirtualClock


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


def test_run_blocking_from_plain_code() -> None:
    assert luma_nb.aio.run_blocking(_answer()) == 42


def test_run_blocking_inside_a_running_loop() -> None:
    # As in a notebook cell: a loop is running, asyncio.run would fail, run_blocking does not.
    async def cell() -> int:
        return luma_nb.aio.run_blocking(_answer())

    assert asyncio.run(cell()) == 42


def test_async_client_generates_with_await() -> None:
    sim = Simulator(clock=VirtualClock(), seed=2)
    clock = sim.clock
    assert isinstance(clock, VirtualClock)

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    async def main() -> luma_nb.Video:
        async with luma_nb.AsyncClient(
            "t", base_url=sim.base_url, transport=sim.transport(), sleep=advance, clock=clock.now
        ) as client:
            return await client.generate("an owl at dusk")

    try:
        video = luma_nb.aio.run_blocking(main())
    finally:
        sim.close()
    assert video.video_url


def test_nothing_patches_asyncio_at_import_and_the_opt_in_works() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        import luma_nb
        luma_nb.connect(banner=False)

        async def inner():
            return 1

        async def outer():
            try:
                asyncio.run(inner())
            except RuntimeError:
                nested_before = False
            else:
                nested_before = True
            luma_nb.aio.enable_nested_asyncio()
            luma_nb.aio.enable_nested_asyncio()  # twice is harmless
            return nested_before, asyncio.run(inner())

        print(asyncio.run(outer()))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "(False, 1)"


# ----------------------------------------------------------------------------- cancellation


def test_a_timeout_cancels_the_coroutine_and_waits_for_it() -> None:
    ended: list[str] = []

    async def stuck() -> int:
        try:
            await asyncio.Event().wait()  # nothing ever sets it
        finally:
            ended.append("cleaned up")  # runs on the private loop, before run_blocking returns
        return 1

    with pytest.raises(RunTimeoutError, match="cancelled") as caught:
        luma_nb.aio.run_blocking(stuck(), timeout=0.02)
    assert ended == ["cleaned up"]
    error = caught.value
    assert isinstance(error, luma_nb.LumaError) and isinstance(error, TimeoutError)
    assert isinstance(error, concurrent.futures.TimeoutError)  # what callers caught before
    assert error.finished


def test_an_error_raised_while_cancelling_wins_over_the_timeout() -> None:
    # What an AsyncClient does when its paid POST was already sent: the outcome is unknown.
    async def paid_submit() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise SubmitOutcomeUnknownError(
                "the submit was cancelled in flight", cause=TransportError("cancelled")
            ) from None

    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        luma_nb.aio.run_blocking(paid_submit(), timeout=0.02)
    assert isinstance(caught.value.__cause__, RunTimeoutError)
    assert any(
        "run_blocking" in note for note in getattr(caught.value, "__notes__", ["run_blocking"])
    )


@pytest.mark.parametrize("trigger", ["timeout", "ctrl-c"])
def test_a_cancelled_async_submit_surfaces_as_an_unknown_outcome(trigger: str) -> None:
    """The real AsyncClient: its POST is on the wire (the transport has it) when it is stopped."""
    if trigger == "ctrl-c" and (
        not hasattr(signal, "pthread_kill")
        or threading.current_thread() is not threading.main_thread()
    ):
        pytest.skip("needs POSIX signals in the main thread")
    sent: list[httpx.Request] = []
    main = threading.main_thread().ident
    assert main is not None

    async def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if trigger == "ctrl-c":
            signal.pthread_kill(main, signal.SIGINT)  # the user gives up mid-POST
        await asyncio.Event().wait()  # the server never answers
        raise AssertionError("unreachable")

    async def make() -> luma_nb.AsyncClient:
        return luma_nb.AsyncClient(
            "sk-aio", base_url="https://api.example.test", transport=httpx.MockTransport(handler)
        )

    client = luma_nb.aio.run_blocking(make())  # made on the private loop, so the submit is quick
    try:
        with pytest.raises((SubmitOutcomeUnknownError, RunTimeoutError)) as caught:
            luma_nb.aio.run_blocking(
                client.submit("a paper boat"), timeout=0.1 if trigger == "timeout" else None
            )
    finally:
        luma_nb.aio.run_blocking(client.aclose())
    # Once the POST is out, it may be billed: never a bare timeout. Before it, nothing is.
    expected = SubmitOutcomeUnknownError if sent else RunTimeoutError
    assert isinstance(caught.value, expected), caught.value
    assert trigger == "timeout" or sent
    if trigger == "ctrl-c":
        assert isinstance(caught.value.__cause__, KeyboardInterrupt)


def test_an_error_of_the_coroutine_itself_is_not_taken_for_the_timeout() -> None:
    async def fails() -> None:
        raise TimeoutError("the coroutine's own")

    with pytest.raises(TimeoutError, match="the coroutine's own") as caught:
        luma_nb.aio.run_blocking(fails(), timeout=5)
    assert not isinstance(caught.value, RunTimeoutError)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")
@pytest.mark.parametrize("converts", [False, True], ids=["cancelled", "unknown-outcome"])
def test_ctrl_c_while_waiting_cancels_the_coroutine(converts: bool) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT reaches the main thread only")
    ended: list[str] = []
    main = threading.main_thread().ident
    assert main is not None

    async def interrupted() -> None:
        await asyncio.sleep(0.02)  # let the caller block in its wait first
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C in the kernel
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            ended.append("cancelled")
            if converts:
                raise SubmitOutcomeUnknownError("in flight", cause=TransportError("x")) from None
            raise

    expected: type[BaseException] = SubmitOutcomeUnknownError if converts else KeyboardInterrupt
    with pytest.raises(expected) as caught:
        luma_nb.aio.run_blocking(interrupted())
    assert ended == ["cancelled"]
    if converts:
        assert isinstance(caught.value.__cause__, KeyboardInterrupt)


def test_a_coroutine_that_ignores_cancellation_is_bounded_by_the_grace() -> None:
    stop = threading.Event()

    async def stubborn() -> None:
        while not stop.is_set():
            # The cancellation is swallowed: bad manners, but it must not hang the caller.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.005)

    try:
        with pytest.raises(RunTimeoutError, match="still running") as caught:
            luma_nb.aio.run_blocking(stubborn(), timeout=0.01, cancel_grace=0.03)
        assert not caught.value.finished
    finally:
        stop.set()


BAD_WAITS = [-1, math.nan, True, "1", [1]]


@pytest.mark.parametrize("timeout", BAD_WAITS)
def test_bad_timeouts_are_refused_and_the_coroutine_closed(timeout: object) -> None:
    coro = _answer()
    with pytest.raises(ValidationError) as caught:
        luma_nb.aio.run_blocking(coro, timeout=timeout)  # type: ignore[arg-type]
    assert caught.value.field == "timeout"
    assert coro.cr_frame is None  # closed: no "never awaited" warning later


@pytest.mark.parametrize("timeout", [math.inf, 10**400, 2.0])
def test_huge_or_infinite_timeouts_mean_no_limit(timeout: float) -> None:
    assert luma_nb.aio.run_blocking(_answer(), timeout=timeout) == 42


def test_not_a_coroutine_and_calling_from_the_private_loop_are_refused() -> None:
    with pytest.raises(ValidationError, match="coroutine"):
        luma_nb.aio.run_blocking(_answer)  # type: ignore[arg-type]

    async def reentrant() -> int:
        return luma_nb.aio.run_blocking(_answer())  # would wait for itself forever

    with pytest.raises(ValidationError, match="await the coroutine instead"):
        luma_nb.aio.run_blocking(reentrant(), timeout=1)
