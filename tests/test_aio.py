"""Async inside Jupyter: the private background loop, top-level await, and the nested opt-in."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import luma_nb
from luma_nb.simulator import Simulator, VirtualClock


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


def test_run_blocking_from_plain_code() -> None:
    assert luma_nb.run_blocking(_answer()) == 42


def test_run_blocking_inside_a_running_loop() -> None:
    # As in a notebook cell: a loop is running, asyncio.run would fail, run_blocking does not.
    async def cell() -> int:
        return luma_nb.run_blocking(_answer())

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
        video = luma_nb.run_blocking(main())
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
            luma_nb.enable_nested_asyncio()
            luma_nb.enable_nested_asyncio()  # twice is harmless
            return nested_before, asyncio.run(inner())

        print(asyncio.run(outer()))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "(False, 1)"
