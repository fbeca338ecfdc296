"""Async inside Jupyter, without surprises.

A notebook cell already runs inside the kernel's event loop, so ``asyncio.run`` fails there
while top-level ``await`` works. :func:`run_blocking` runs a coroutine to completion from
*any* context — on a private event loop in a background thread — so blocking code can use
async work without touching the kernel's loop. :func:`enable_nested_asyncio` is the explicit
opt-in to nested loops through the maintained ``nest-asyncio2``; nothing patches asyncio at
import.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["enable_nested_asyncio", "run_blocking"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_nested = False


def run_blocking(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run ``coro`` on luma_nb's private background loop and return its result.

    Safe inside a running event loop (a notebook cell): the caller blocks, the kernel's loop
    is not re-entered. Objects bound to a loop (an ``AsyncClient``) must be created and used
    on this same private loop, e.g. inside ``coro``.
    """
    future = asyncio.run_coroutine_threadsafe(coro, _private_loop())
    return future.result(timeout)


def enable_nested_asyncio() -> None:
    """Allow ``asyncio.run`` / ``loop.run_until_complete`` inside a running loop (opt-in).

    Patches asyncio through ``nest-asyncio2`` (the maintained fork ipykernel depends on).
    Calling it twice is harmless. Prefer top-level ``await`` or :func:`run_blocking`.
    """
    global _nested
    if _nested:
        return
    import nest_asyncio2

    nest_asyncio2.apply()
    _nested = True


def _private_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="luma_nb-loop", daemon=True)
            thread.start()
            _loop = loop
            atexit.register(_stop, loop, thread)
        return _loop


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=2)
    if not loop.is_running():
        loop.close()
