"""When to look at a task again: a poll schedule shaped by how long generations take.

Sans-I/O and pure: :func:`next_interval` maps "seconds since this task was submitted" to
"seconds until the next look", from a :class:`DurationModel`. The schedule has three parts:

- before the window where generations finish, nothing is expected: the first look lands at
  the window's start, in even steps no longer than the policy's ``ceiling``;
- inside the window (the fastest to the slowest recent generation, widened by one look at
  each end), looks are dense: the window's width over :data:`LOOKS_PER_WINDOW`, between the
  ``floor`` and :data:`DENSE_MAX` (below the old policy's 15 s, so a wide window is never
  looked at less often than before);
- past the window the interval grows with the overrun (a tenth of it) up to the ``ceiling``,
  so a task far slower than any seen is still noticed within the ceiling.

With fewer than :data:`MIN_SEEN` durations the window is the provider's documented range
(about 1 to 2.6 minutes: :data:`PRIOR_WINDOW`) at a sparser cadence (:data:`PRIOR_DENSE`),
which spends no more polls than the old fixed backoff and finds a video about twice as soon.
Durations are learned by the clients from the tasks they see finish and seeded by the notebook
layer from the session log.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable

from luma_nb.config import PollPolicy
from luma_nb.models import Task

__all__ = [
    "DENSE_MAX",
    "LOOKS_PER_WINDOW",
    "MIN_SEEN",
    "PRIOR_DENSE",
    "PRIOR_WINDOW",
    "DurationModel",
    "duration_seen",
    "next_interval",
]

#: How many durations make the window trustworthy (fewer: the prior).
MIN_SEEN = 5
#: How many recent durations the window is drawn from (older ones age out, so it follows drift).
RECENT = 50
#: Looks spread over the window of recent durations.
LOOKS_PER_WINDOW = 14
#: The sparsest cadence inside the window (below the old policy's 15 s ceiling).
DENSE_MAX = 12.0
#: The provider's documented durations, in seconds (about 1 to 2.6 minutes; samples 154-156 s).
PRIOR_WINDOW = (60.0, 165.0)
#: The cadence inside the prior window.
PRIOR_DENSE = 8.0
#: Past the window, the interval grows by this share of the overrun.
OVERRUN_GROWTH = 0.1


class DurationModel:
    """How long generations take, from the durations seen (submit to finished, seconds).

    Thread-safe: a client's waits (and the panel's jobs) feed one model.
    """

    def __init__(self, seen: Iterable[float] = ()) -> None:
        self._lock = threading.Lock()
        self._recent: deque[float] = deque(maxlen=RECENT)
        self.observe_all(seen)

    def observe(self, seconds: float) -> None:
        """Record one generation's duration; non-finite or non-positive values are ignored."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            return
        try:
            usable = math.isfinite(seconds) and 0 < seconds < 7 * 24 * 3600
        except OverflowError:
            return
        if usable:
            with self._lock:
                self._recent.append(float(seconds))

    def observe_all(self, durations: Iterable[float]) -> None:
        """Record many durations (oldest first), e.g. from a session log."""
        for seconds in durations:
            self.observe(seconds)

    @property
    def seen(self) -> int:
        """How many recent durations the model holds."""
        return len(self._recent)

    def window(self) -> tuple[float, float, float]:
        """``(start, end, dense)``: where generations finish, and the cadence there."""
        with self._lock:
            recent = list(self._recent)
        if len(recent) < MIN_SEEN:
            start, end = PRIOR_WINDOW
            if recent:  # a few durations only widen the prior
                start, end = min(start, min(recent)), max(end, max(recent))
            return start, end, PRIOR_DENSE
        start, end = min(recent), max(recent)
        dense = min(DENSE_MAX, max((end - start) / LOOKS_PER_WINDOW, 1e-9))
        # One look beyond each end: the next generation may be a little faster or slower
        # than any seen so far.
        return max(0.0, start - dense), end + dense, dense

    def __repr__(self) -> str:
        start, end, dense = self.window()
        return (
            f"DurationModel(seen={self.seen}, window={start:.0f}-{end:.0f} s every {dense:.1f} s)"
        )


def next_interval(policy: PollPolicy, model: DurationModel, elapsed: float) -> float:
    """Seconds until the next look at a task submitted ``elapsed`` seconds ago.

    Always within ``[policy.floor, policy.ceiling]``.
    """
    start, end, dense = model.window()
    elapsed = max(0.0, elapsed)
    if elapsed < start - policy.floor:
        # Even steps that land exactly on the window's start, none longer than the ceiling.
        ahead = start - elapsed
        interval = ahead / math.ceil(ahead / policy.ceiling)
    elif elapsed < end:
        interval = dense
    else:
        interval = dense + OVERRUN_GROWTH * (elapsed - end)
    return min(policy.ceiling, max(policy.floor, interval))


def duration_seen(task: Task, submitted: float, before: float, seen: float) -> float:
    """How long ``task`` took, on the client's clock: it finished after the look at
    ``before`` and by the look at ``seen``. The server's own figure is taken when it fits in
    that bracket (a sped-up simulator's does not); else the bracket's midpoint."""
    if task.created_at is not None and task.finished_at is not None:
        server = task.finished_at - task.created_at
        if before - submitted - 1.0 <= server <= seen - submitted + 1.0:
            return server
    return (before + seen) / 2 - submitted
