"""Callback delivery: a background thread POSTs each finished task's body to its callback_url.

The service's retry policy is undocumented (docs/api.md, open question 3). The simulator tries up to
``1 + len(retry_delays)`` times, waiting ``retry_delays[i]`` client (wall) seconds before retry
``i + 1``; any 2xx answer counts as delivered. Failed tasks are called back too, with the
failure body. Deliveries never run on a request thread, so a slow receiver cannot stall the API.

Every POST goes through the simulator's :class:`~._netguard.AddressPolicy` (loopback only by
default): the address is checked again at delivery time and the connection goes to the checked
address; redirects are not followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import httpx

from ._clock import Clock
from ._netguard import AddressPolicy, AddressRefused, GuardedTransport, refusal_message

__all__ = ["CallbackDelivery", "CallbackDispatcher"]

DeliveryStatus = Literal["waiting", "delivered", "failed"]
_IDLE_POLL = 0.05  # real seconds between looks at the clock while a callback is outstanding


@dataclass(frozen=True)
class CallbackDelivery:
    """The state of one task's callback.

    Attributes
    ----------
    url : str
        The ``callback_url`` of the task.
    task_id : str
        The task called back about.
    attempts : int
        POSTs made so far.
    status : {"waiting", "delivered", "failed"}
        ``waiting`` until delivered (a 2xx answer) or out of attempts.
    status_code : int or None
        HTTP status of the last attempt (``None``: none yet, or a network error).
    error : str or None
        What went wrong on the last attempt.
    """

    url: str
    task_id: str
    attempts: int = 0
    status: DeliveryStatus = "waiting"
    status_code: int | None = None
    error: str | None = None


@dataclass
class _Entry:
    delivery: CallbackDelivery
    due_at: float  # simulated time the task ends
    next_wall: float | None = None  # wall time of the next retry
    in_flight: bool = False


class CallbackDispatcher:
    """Delivers callbacks from one lazily started daemon thread.

    Parameters
    ----------
    clock : Clock
        The simulator's clock (simulated time for "is the task over", wall time for retries).
    body_for : callable
        ``body_for(task_id)`` returns the body to POST.
    transport : httpx.BaseTransport, optional
        Used instead of real HTTP (tests capture deliveries with it); it only ever sees
        requests that ``policy`` allowed.
    policy : AddressPolicy, optional
        Where callbacks may go (default: loopback only).
    retry_delays : sequence of float
        Wall seconds before each retry.
    timeout : float
        Real seconds an attempt may take.
    """

    def __init__(
        self,
        clock: Clock,
        body_for: Callable[[str], dict[str, Any]],
        *,
        transport: httpx.BaseTransport | None = None,
        policy: AddressPolicy | None = None,
        retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
        timeout: float = 5.0,
    ) -> None:
        self._clock = clock
        self._body_for = body_for
        self._transport = transport
        self._policy = policy if policy is not None else AddressPolicy()
        self._retry_delays = tuple(float(d) for d in retry_delays)
        self._timeout = timeout
        self._entries: list[_Entry] = []
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- registration and inspection -------------------------------------------------------

    def add(self, task_id: str, url: str, due_at: float) -> None:
        """Register the callback of a task that ends at simulated time ``due_at``."""
        with self._cond:
            if self._closed:
                return
            self._entries.append(_Entry(CallbackDelivery(url, task_id), due_at))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="luma-simulator-callbacks", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def snapshot(self) -> list[CallbackDelivery]:
        """The deliveries so far, in registration order."""
        with self._cond:
            return [entry.delivery for entry in self._entries]

    def poke(self) -> None:
        """Make the thread look at the clock now (after a request or a clock change)."""
        self._wake.set()

    # -- waiting and closing ---------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Deliver what is due now and wait for it; ``True`` if nothing is left outstanding.

        Callbacks of tasks not over yet, and retries not yet due, are left outstanding (with a
        ``VirtualClock``, advance it and flush again).
        """
        deadline = time.monotonic() + timeout
        self.poke()
        with self._cond:
            while True:
                waiting = [e for e in self._entries if e.delivery.status == "waiting"]
                if not waiting:
                    return True
                busy = any(e.in_flight or self._ready(e) for e in waiting)
                if not busy:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.set()
                self._cond.wait(min(remaining, _IDLE_POLL))

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (outstanding callbacks are abandoned)."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread ------------------------------------------------------------------------

    def _ready(self, entry: _Entry) -> bool:
        if entry.in_flight or entry.delivery.status != "waiting":
            return False
        if entry.next_wall is None:
            return self._clock.now() >= entry.due_at
        return self._clock.wall() >= entry.next_wall

    def _run(self) -> None:
        client = httpx.Client(
            transport=GuardedTransport(self._policy, self._transport),
            timeout=self._timeout,
            headers={"user-agent": "luma-simulator-callback/1"},
        )
        try:
            while True:
                self._wake.clear()
                with self._cond:
                    if self._closed:
                        return
                    ready = [e for e in self._entries if self._ready(e)]
                    for entry in ready:
                        entry.in_flight = True
                    outstanding = any(e.delivery.status == "waiting" for e in self._entries)
                for entry in ready:
                    self._attempt(client, entry)
                if not ready:
                    self._wake.wait(_IDLE_POLL if outstanding else None)
        finally:
            client.close()

    def _attempt(self, client: httpx.Client, entry: _Entry) -> None:
        delivery = entry.delivery
        code: int | None = None
        error: str | None = None
        try:
            body = self._body_for(delivery.task_id)
            response = client.post(delivery.url, json=body)
            code = response.status_code
            if not response.is_success:
                error = f"HTTP {code}"
        except AddressRefused:
            error = refusal_message("callback_url")
        except Exception as exc:  # any failure of the receiver counts as a failed attempt
            error = f"{type(exc).__name__}: {exc}"
        with self._cond:
            attempts = delivery.attempts + 1
            if error is None:
                status: DeliveryStatus = "delivered"
            elif attempts > len(self._retry_delays):
                status = "failed"
            else:
                status = "waiting"
                entry.next_wall = self._clock.wall() + self._retry_delays[attempts - 1]
            entry.delivery = replace(
                delivery, attempts=attempts, status=status, status_code=code, error=error
            )
            entry.in_flight = False
            self._cond.notify_all()
