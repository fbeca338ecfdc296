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
import concurrent.futures
import contextlib
import math
import sys
import threading
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

from luma_nb._values import shown
from luma_nb.errors import LumaError, ValidationError

__all__ = ["RunTimeoutError", "enable_nested_asyncio", "run_blocking"]

T = TypeVar("T")

#: How long :func:`run_blocking` waits, after a timeout or an interrupt, for the cancelled
#: coroutine to finish cancelling (an in-flight request is closed at once; this is a bound
#: for coroutines that keep running despite the cancellation).
CANCEL_GRACE = 10.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_nested = False

if sys.version_info >= (3, 11):

    class RunTimeoutError(LumaError, TimeoutError):
        """:func:`run_blocking`'s ``timeout`` passed; the coroutine was cancelled.

        Also a builtin :class:`TimeoutError` (which ``concurrent.futures.TimeoutError`` is
        since Python 3.11). ``finished`` tells whether the coroutine was done cancelling
        when this was raised (False only if it outlived the cancel grace).
        """

        def __init__(self, message: str, *, finished: bool = True) -> None:
            super().__init__(message)
            self.finished = finished

else:  # pragma: no cover - Python 3.10: concurrent.futures.TimeoutError is its own class

    class RunTimeoutError(LumaError, TimeoutError, concurrent.futures.TimeoutError):
        """:func:`run_blocking`'s ``timeout`` passed; the coroutine was cancelled."""

        def __init__(self, message: str, *, finished: bool = True) -> None:
            super().__init__(message)
            self.finished = finished


class _Outcome(Generic[T]):
    """How the coroutine ended, copied on the private loop and read by the waiting thread."""

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self.coro = coro
        self.done = threading.Event()
        self.task: asyncio.Task[T] | None = None
        self.value: T | None = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.interrupted = False  # True once a cancel reached the coroutine while it ran

    def start(self) -> None:
        try:
            self.task = asyncio.get_running_loop().create_task(self.coro)
        except BaseException as exc:  # pragma: no cover - create_task of a checked coroutine
            self.error = exc
            self.done.set()
            return
        self.task.add_done_callback(self._copy)

    def cancel(self) -> None:
        if self.task is None:  # interrupted before start() was even scheduled
            self.coro.close()
            self.cancelled = True
            self.done.set()
        elif not self.task.done():
            self.interrupted = True
            self.task.cancel()

    def _copy(self, task: asyncio.Task[T]) -> None:
        if task.cancelled():
            self.cancelled = True
        elif task.exception() is not None:
            self.error = task.exception()
        else:
            self.value = task.result()
        self.done.set()

    def unwrap(self) -> T:
        if self.error is not None:
            raise self.error
        if self.cancelled:  # cancelled by someone else on the private loop
            raise concurrent.futures.CancelledError()
        return self.value  # type: ignore[return-value]


def run_blocking(
    coro: Coroutine[Any, Any, T],
    *,
    timeout: float | None = None,
    cancel_grace: float = CANCEL_GRACE,
) -> T:
    """Run ``coro`` on luma_nb's private background loop and return its result.

    Safe inside a running event loop (a notebook cell): the caller blocks, the kernel's loop
    is not re-entered. Objects bound to a loop (an ``AsyncClient``) must be created and used
    on this same private loop, e.g. inside ``coro``.

    When ``timeout`` (seconds) passes, or the waiting thread is interrupted
    (``KeyboardInterrupt``), the coroutine is **cancelled** and ``run_blocking`` waits (up to
    ``cancel_grace`` seconds) for it to finish cancelling, so nothing it started goes on
    unseen. Then:

    * if the coroutine ended with an exception of its own while being cancelled — e.g.
      :class:`~luma_nb.errors.SubmitOutcomeUnknownError` from an ``AsyncClient`` whose paid
      submit was already sent — *that* exception is raised, chained to the timeout or the
      interrupt (and noted as such), because it says more than a bare timeout;
    * otherwise :class:`RunTimeoutError` is raised, or the ``KeyboardInterrupt`` re-raised.
      A value the coroutine returns despite the cancellation is discarded — but one that
      finished on its own just as the timeout passed (before the cancel reached it) is
      returned, late rather than lost.

    :class:`RunTimeoutError` is a :class:`~luma_nb.errors.LumaError` and a builtin
    :class:`TimeoutError`, so ``except TimeoutError`` (what callers caught before) still works.

    Raises
    ------
    ValidationError
        ``coro`` is not a coroutine, ``timeout`` is not None or seconds >= 0, or the call is
        made from a coroutine running on the private loop itself (it would wait for itself
        forever: ``await`` instead).
    """
    if not asyncio.iscoroutine(coro):
        raise ValidationError(
            f"run_blocking needs a coroutine (call the async function), not {shown(coro)}",
            field="coro",
        )
    try:
        limit = _wait_limit(timeout, "timeout")
        grace = _wait_limit(cancel_grace, "cancel_grace")
        loop = _private_loop()
        if _running_loop() is loop:
            raise ValidationError(
                "run_blocking was called from a coroutine on luma_nb's private loop: it would "
                "wait for itself forever; await the coroutine instead",
                field="coro",
            )
    except BaseException:
        coro.close()  # never started: no "coroutine was never awaited" warning
        raise
    outcome = _Outcome(coro)
    scheduled = False
    try:
        loop.call_soon_threadsafe(outcome.start)
        scheduled = True
        finished = outcome.done.wait(limit)
    except BaseException as interrupt:  # KeyboardInterrupt (or SystemExit) at any point
        if not scheduled and isinstance(interrupt, RuntimeError):  # the loop is closed
            coro.close()
            raise
        return _settle(loop, outcome, interrupt, grace)
    if finished:
        return outcome.unwrap()
    timed_out = RunTimeoutError(
        f"run_blocking gave up after {timeout} s; the coroutine was cancelled"
    )
    return _settle(loop, outcome, timed_out, grace)


def _settle(
    loop: asyncio.AbstractEventLoop,
    outcome: _Outcome[T],
    reason: BaseException,
    grace: float | None,
) -> T:
    """Cancel the coroutine, wait for it to end, and raise what best explains the stop.

    A coroutine that finished on its own before the cancel reached it (the timeout and its
    completion crossed) is a late success: its result is returned after a timeout.
    """
    with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs any more
        loop.call_soon_threadsafe(outcome.cancel)
    finished = outcome.done.wait(grace)
    late = not (outcome.interrupted or outcome.cancelled)
    if finished and isinstance(reason, RunTimeoutError) and late:
        return outcome.unwrap()
    error = outcome.error
    if finished and error is not None and not isinstance(error, asyncio.CancelledError):
        what = "timeout" if isinstance(reason, RunTimeoutError) else type(reason).__name__
        if hasattr(error, "add_note"):
            error.add_note(
                f"(raised while luma_nb.aio.run_blocking cancelled the coroutine: {what})"
            )
        if error.__cause__ is None:
            raise error from reason
        raise error
    if isinstance(reason, RunTimeoutError) and not finished:
        reason.finished = False
        reason.args = (
            f"{reason.args[0]}, but it was still running {grace} s later (it ignores "
            "cancellation); whatever it does next is not awaited",
        )
    raise reason


def _wait_limit(value: object, name: str) -> float | None:
    """``value`` as a ``threading`` wait timeout: None waits forever."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be seconds or None, not {shown(value)}", field=name)
    if (isinstance(value, float) and math.isnan(value)) or value < 0:
        raise ValidationError(f"{name} must be seconds >= 0, not {shown(value)}", field=name)
    if value >= threading.TIMEOUT_MAX:  # inf, 10**400: no limit a thread can wait for
        return None
    return float(value)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
