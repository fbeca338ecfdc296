"""Clocks: the simulator lives in simulated time, tests drive it by hand.

Two time bases are kept apart on purpose:

* ``now()`` / ``sleep()`` — *simulated* epoch seconds. The task timeline, the record timestamps,
  the sync hold and its ``timeout`` are measured here, so a generation "takes" ~150 s.
* ``wall()`` / ``wall_sleep()`` — seconds on the *client's* time scale. Rate-limit windows,
  ``Retry-After``, the ``slow`` fault and callback retry backoff are measured here, because a
  client experiences them in its own (real) seconds.

On a :class:`ScaledClock` simulated time runs ``speed`` times faster than real time and wall time
is real time. On a :class:`VirtualClock` both are the same virtual time, which moves only when a
test advances it (or when something sleeps on it), so tests never wait for real.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "RealClock", "ScaledClock", "VirtualClock"]

#: 2025-10-09T09:46:40Z: an arbitrary, fixed start for virtual clocks.
DEFAULT_VIRTUAL_START = 1_760_000_000.0


@runtime_checkable
class Clock(Protocol):
    """What the simulator needs from a clock.

    Attributes
    ----------
    granularity : float
        The longest single simulated sleep the engine takes while holding a sync request, so a
        stop is noticed promptly. ``math.inf`` lets the engine jump straight to the next event.
    """

    granularity: float

    def now(self) -> float:
        """Simulated epoch seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time."""
        ...

    def wall(self) -> float:
        """Monotonic seconds on the client's time scale."""
        ...

    def wall_sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the client's time scale."""
        ...


class ScaledClock:
    """Real time, with simulated time running ``speed`` times faster.

    Parameters
    ----------
    speed : float
        Simulated seconds per real second (default 60: a ~150 s generation takes ~2.5 s).
    start : float, optional
        Simulated epoch seconds at creation (default: the real ``time.time()``).
    """

    def __init__(self, speed: float = 60.0, *, start: float | None = None) -> None:
        if not (isinstance(speed, (int, float)) and math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive finite number, got {speed!r}")
        self.speed = float(speed)
        self._start = time.time() if start is None else float(start)
        self._t0 = time.monotonic()
        # a quarter of a real second per hold step keeps stops and finishes prompt
        self.granularity = 0.25 * self.speed

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._start + (time.monotonic() - self._t0) * self.speed

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (``seconds / speed`` real seconds)."""
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def wall(self) -> float:
        """Real monotonic seconds."""
        return time.monotonic()

    def wall_sleep(self, seconds: float) -> None:
        """Wait ``seconds`` real seconds."""
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return f"ScaledClock(speed={self.speed:g})"


class RealClock(ScaledClock):
    """Real time at speed 1: a generation takes its real ~2.5 minutes."""

    def __init__(self, *, start: float | None = None) -> None:
        super().__init__(1.0, start=start)

    def __repr__(self) -> str:
        return "RealClock()"


class VirtualClock:
    """A clock that moves only when told to; for tests.

    ``sleep`` and ``wall_sleep`` advance the clock at once instead of waiting, so a sync-mode hold
    resolves instantly. Simulated and wall time are the same virtual time here.

    Parameters
    ----------
    start : float
        Simulated epoch seconds at creation.
    """

    granularity = math.inf

    def __init__(self, start: float = DEFAULT_VIRTUAL_START) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        """Virtual epoch seconds."""
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time.

        Raises
        ------
        ValueError
            If ``seconds`` is negative: time never runs backwards.
        """
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._t += seconds
            return self._t

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` at once (non-positive: no-op)."""
        if seconds > 0:
            self.advance(seconds)

    def wall(self) -> float:
        """The same virtual time as :meth:`now`."""
        return self.now()

    def wall_sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` at once, like :meth:`sleep`."""
        self.sleep(seconds)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now():.3f})"
