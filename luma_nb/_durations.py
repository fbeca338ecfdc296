"""Durations: what each one means, which clock it is on, and the one way it reads.

A generation is timed twice, on two clocks, and the two are never mixed:

generation time
    How long the service took to make the video: from the task's creation (the submit
    accepted) to its end, *as the task itself reports it* — the record's ``elapsed``, else
    ``finished_at - created_at``. It is the session log's ``elapsed`` column and the
    "Generation time" of the cards, the reports, the chain timeline, a study's summary and a
    finished job on the panel's board. The simulator stamps its records on its own sped-up
    clock (60 simulated seconds a real second by default), so a figure from it is labelled
    "simulated" wherever it shows: ``2 min 16 s (simulated)``. Which clock a task or a log row
    is on is its ``backend`` (``"simulator"``, set by :func:`luma_nb.connect`).
waiting time
    Real seconds on this machine since the submit (a monotonic clock, whatever the backend):
    what the helpers' status line, a study's progress line and the panel's job board tick
    while a generation runs (``waiting 2.3 s``), and what a job that ended without a
    generation time reports (``waited 2.3 s``). See :mod:`luma_nb._progress`.

Dates follow the same rule: the simulator's timestamps are on its clock, so the session
log's date columns never hold them (see :mod:`luma_nb._session_fold`), and no view shows one
next to a real date.

:func:`duration_text` is the one formatter; it never raises, and a value no clock could have
produced (negative, NaN, infinite, not a number: a hostile server's) reads ``unknown``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from luma_nb.models import Task

__all__ = [
    "SIMULATOR",
    "UNKNOWN",
    "duration_text",
    "generation_seconds",
    "generation_text",
    "is_simulated",
    "seconds_or_none",
    "task_generation_seconds",
    "waiting_text",
]

#: The ``backend`` of tasks and log rows made by the simulator (on its sped-up clock).
SIMULATOR = "simulator"
#: What a duration that cannot be known reads.
UNKNOWN = "unknown"
# Hours beyond this are shown as a bound, not as a figure nobody can read.
_MAX_HOURS = 999
# A running task whose creation is longer ago than this is not timed from the wall clock:
# its timestamps are then probably not on our clock at all.
_MAX_PLAUSIBLE_RUNNING = 24 * 3600.0


def is_simulated(backend: object) -> bool:
    """True when ``backend`` (a task's or a log row's) is the simulator's sped-up clock."""
    return backend == SIMULATOR


def seconds_or_none(value: object) -> float | None:
    """``value`` as seconds: a finite, non-negative number (never a bool), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    # "+ 0.0" turns -0.0 into 0.0, which would otherwise read "-0.0 s".
    return seconds + 0.0 if math.isfinite(seconds) and seconds >= 0 else None


def generation_seconds(
    elapsed: object, created_at: object = None, finished_at: object = None
) -> float | None:
    """The generation time a task reports: its ``elapsed``, else ``finished_at - created_at``.

    ``None`` when neither is a plausible duration (missing, negative, NaN...).
    """
    reported = seconds_or_none(elapsed)
    if reported is not None:
        return reported
    begin = seconds_or_none(created_at)
    end = seconds_or_none(finished_at)
    if begin is None or end is None:
        return None
    return seconds_or_none(end - begin)


def task_generation_seconds(task: Task, now: Callable[[], float] | None = None) -> float | None:
    """A task's generation time; for a task still running on the real API, so far.

    The running figure is ``now() - created_at`` (``now`` defaults to :func:`time.time`): the
    API's clock against this machine's, both real. A running simulator task has none: its
    clock is not ours to compare.
    """
    begin = task.created_at if task.created_at is not None else task.started_at
    done = generation_seconds(task.elapsed, begin, task.finished_at)
    if done is not None or task.finished_at is not None or task.is_terminal:
        return done
    start = seconds_or_none(begin)
    if is_simulated(task.backend) or start is None:
        return None
    running = seconds_or_none((now or time.time)() - start)
    return running if running is not None and running <= _MAX_PLAUSIBLE_RUNNING else None


def duration_text(seconds: object, *, simulated: bool = False) -> str:
    """The one way a duration reads: ``0.4 s``, ``9.5 s``, ``42 s``, ``2 min 16 s``, ``1 h 05 min``.

    Parameters
    ----------
    seconds : object
        The duration. Anything but a finite, non-negative number reads ``unknown``.
    simulated : bool
        The figure is on the simulator's sped-up clock: `` (simulated)`` is appended.
    """
    value = seconds_or_none(seconds)
    if value is None:
        return UNKNOWN
    if round(value, 1) < 10:
        text = f"{value:.1f} s"
    else:
        whole = round(value)
        minutes, secs = divmod(whole, 60)
        hours, minutes = divmod(minutes, 60)
        if not minutes and not hours:
            text = f"{secs} s"
        elif not hours:
            text = f"{minutes} min {secs:02d} s"
        elif hours <= _MAX_HOURS:
            text = f"{hours} h {minutes:02d} min"
        else:
            text = f"over {_MAX_HOURS} h"
    return f"{text} (simulated)" if simulated else text


def generation_text(seconds: object, backend: object) -> str:
    """A generation time as it reads for ``backend``: labelled "simulated" on the simulator."""
    return duration_text(seconds, simulated=is_simulated(backend))


def waiting_text(seconds: object, *, over: bool = False) -> str:
    """Real seconds waited here: ``waiting 2.3 s`` (still waiting) or ``waited 2.3 s``."""
    return f"{'waited' if over else 'waiting'} {duration_text(seconds)}"
