"""Where the panel's work runs: the running event loop, or luma_nb's private one.

In Jupyter a click handler runs on the kernel's event loop, so a job is an ``asyncio`` task
there and the kernel stays free between its awaits. In plain Python there is no running loop;
the job then runs on the private background loop of :mod:`luma_nb.aio` and updates the
widgets from that thread (traitlets and ipykernel's comm messages tolerate it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from luma_nb import aio

__all__ = ["Scheduler", "call_in_loop", "cancel"]

T = TypeVar("T")
Done = Callable[["asyncio.Task[Any]"], object]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Scheduler:
    """Starts tasks on the right loop and keeps a strong reference to each until it ends.

    asyncio keeps only weak references to tasks: a task nobody holds can be garbage
    collected mid-flight, so every task started here is held in :attr:`tasks`.
    """

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()

    def start(self, coro: Coroutine[Any, Any, T], on_done: Done | None = None) -> asyncio.Task[T]:
        """Schedule ``coro`` and return its task at once (it has not run yet).

        ``on_done(task)`` is called on the task's loop when it ends, however it ends.
        """
        loop = _running_loop()
        if loop is not None:
            return self._create(coro, on_done)
        # No loop here (plain Python): create the task on the private loop, from its own
        # thread, and hand it back; it runs there in the background.

        async def spawn() -> asyncio.Task[T]:
            return self._create(coro, on_done)

        return asyncio.run_coroutine_threadsafe(spawn(), aio._private_loop()).result()

    def _create(self, coro: Coroutine[Any, Any, T], on_done: Done | None) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        with self._lock:
            self.tasks.add(task)
        task.add_done_callback(self._forget)
        if on_done is not None:
            task.add_done_callback(on_done)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        with self._lock:
            self.tasks.discard(task)

    def pending(self, *, besides: tuple[asyncio.Task[Any] | None, ...] = ()) -> list[Any]:
        """The tasks not yet done, except ``besides``."""
        with self._lock:
            return [t for t in self.tasks if not t.done() and t not in besides]


def call_in_loop(loop: asyncio.AbstractEventLoop, function: Callable[[], object]) -> None:
    """Run ``function`` on ``loop`` (thread-safe; at once when already on it)."""
    if _running_loop() is loop:
        function()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(function)


def cancel(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` from any thread."""
    call_in_loop(task.get_loop(), task.cancel)
