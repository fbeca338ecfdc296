"""Progress while waiting: one clock, one line, one way the time reads.

Every place that shows a wait in progress takes it from here, so a wait looks and means the
same everywhere (what each duration means is :mod:`luma_nb._durations`):

- :class:`Stopwatch` — the waiting time: real seconds on this machine since the submit, on a
  monotonic clock (injectable), whatever the backend. The simulator's sped-up clock never
  enters it.
- :func:`time_text` — what a wait's time reads: ``waiting 2.3 s`` while it runs; once over,
  the task's own generation time when it reported one (``2 min 16 s (simulated)`` on the
  simulator), else ``waited 2.3 s``. The panel's job board shows exactly this.
- :class:`ProgressLine` — one line updated in place in a notebook (``display_id``) whose clock
  ticks: a small daemon thread redraws it every ``tick_seconds`` while the kernel's main
  thread is blocked in the wait (it runs in a copy of the cell's context, so the updates reach
  the cell that started it), until :meth:`~ProgressLine.finish` or
  :meth:`~ProgressLine.close`. Outside a cell (a terminal, or a widget's callback, whose
  output area drops in-place updates): one short line on stderr per change.
  :class:`StatusLine` follows one task (the notebook helpers); :class:`StudyProgress` counts
  a study's videos.

The state word and the task id come from the server: both views show their control and bidi
characters escaped (``\\x1b``, ``\\u202e``), so a server can neither drive the terminal nor
reorder the line.
"""

from __future__ import annotations

import contextvars
import html
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from luma_nb._durations import (
    generation_text,
    is_simulated,
    task_generation_seconds,
    waiting_text,
)
from luma_nb._html import clean_text
from luma_nb.models import Task, TaskState, Video
from luma_nb.render.frontend import display_html, html_object, in_cell

__all__ = [
    "ProgressLine",
    "StatusLine",
    "Stopwatch",
    "StudyProgress",
    "time_note",
    "time_text",
]

_COLOURS = {
    TaskState.QUEUED: "#6b7280",
    TaskState.PENDING: "#2563eb",
    TaskState.PROCESSING: "#7c3aed",
    TaskState.COMPLETED: "#059669",
    TaskState.FAILED: "#dc2626",
    TaskState.UNKNOWN: "#6b7280",
}


class Stopwatch:
    """Real seconds since it was made, until :meth:`stop`.

    Parameters
    ----------
    clock : callable, optional
        Monotonic seconds (default :func:`time.monotonic`); tests pass their own.
    """

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        #: The clock's reading at the start, and at the stop (``None`` while running).
        self.started = self._clock()
        self.ended: float | None = None

    @property
    def running(self) -> bool:
        """True until :meth:`stop`."""
        return self.ended is None

    def seconds(self) -> float:
        """Seconds waited so far (frozen once stopped; never negative)."""
        end = self.ended if self.ended is not None else self._clock()
        return max(0.0, end - self.started)

    def stop(self) -> None:
        """Freeze the time (idempotent: the first stop counts)."""
        if self.ended is None:
            self.ended = self._clock()


def time_text(watch: Stopwatch, task: Task | None = None) -> str:
    """What a wait's time reads: see the module docstring.

    ``task`` is the latest record of the task waited for; its generation time is used only
    once the wait is over and the task is terminal.
    """
    if watch.running:
        return waiting_text(watch.seconds())
    if task is not None and task.is_terminal:
        seconds = task_generation_seconds(task)
        if seconds is not None:
            return generation_text(seconds, task.backend)
    return waiting_text(watch.seconds(), over=True)


def time_note(watch: Stopwatch, task: Task | None = None) -> str:
    """What :func:`time_text` means, in a sentence (a tooltip)."""
    waited = f"{waiting_text(watch.seconds(), over=not watch.running)} on this machine"
    if watch.running or task is None or not task.is_terminal:
        return f"Real time since the submit: {waited}."
    if task_generation_seconds(task) is None:
        return f"Real time from the submit to the end: {waited}."
    clock = "the simulator's sped-up clock" if is_simulated(task.backend) else "the API's clock"
    return f"Generation time as the task reported it, on {clock}; {waited}."


def _safe(text: str) -> str:
    # A bidi override would reorder the line in the page too: show it, then escape.
    return html.escape(clean_text(text))


class ProgressLine:
    """One line that says how a wait goes: a state word, a label, the time, a detail.

    Parameters
    ----------
    label : str
        What is waited for (a prompt, a study).
    clock : callable, optional
        Monotonic seconds for the :class:`Stopwatch` (default :func:`time.monotonic`).
    tick_seconds : float or None
        How often the notebook view redraws its clock (``None``: only on changes).
    sleep : callable, optional
        What the ticking thread waits with between redraws (default: up to ``tick_seconds``
        of real time, cut short by :meth:`close`); tests pass one they release by hand.
    echo : bool
        Outside a notebook, print every change (``False``: only the last line, at
        :meth:`close`).
    """

    def __init__(
        self,
        label: str,
        *,
        clock: Callable[[], float] | None = None,
        tick_seconds: float | None = 1.0,
        sleep: Callable[[float], object] | None = None,
        echo: bool = True,
        state: str = "submitting",
        detail: str = "",
    ) -> None:
        self._label = label
        self._echo = echo
        self.watch = Stopwatch(clock)
        self._handle: Any = None
        self._printed: tuple[str, str] | None = None
        self._shown: tuple[str, str, TaskState] = (state, detail, TaskState.QUEUED)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        # In a cell the line is updated in place; elsewhere (a terminal, a widget's callback,
        # where in-place updates are lost: see in_cell) it is printed line by line.
        if in_cell():
            self._handle = display_html(self._html(), display_id=True)
            if tick_seconds is not None:
                self._start_ticker(tick_seconds, sleep or self._stopped.wait)
        elif echo:
            self._print()

    # ------------------------------------------------------------------ ticking

    def _start_ticker(self, seconds: float, sleep: Callable[[float], object]) -> None:
        def run() -> None:
            while not self._stopped.is_set():
                sleep(seconds)
                try:
                    self.tick()
                except Exception:  # a failed redraw ends the ticking, never the wait
                    return

        # A copy of this context: the cell's parent header (a ContextVar in ipykernel).
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(run,), name="luma_nb-status", daemon=True
        )
        thread.start()

    def tick(self) -> None:
        """Redraw the notebook line with the current waiting time (nothing outside one)."""
        with self._lock:
            if self._handle is not None and not self._stopped.is_set():
                self._handle.update(html_object(self._html()))

    # ------------------------------------------------------------------ changes

    def show(self, state: str, detail: str = "", kind: TaskState = TaskState.QUEUED) -> None:
        """Say ``state`` (coloured as ``kind``) and ``detail``; the clock keeps running."""
        with self._lock:
            self._shown = (state, detail, kind)
            if self._handle is not None:
                if not self._stopped.is_set():
                    self._handle.update(html_object(self._html()))
            elif self._echo and self._printed != (state, detail):
                self._print()

    def close(self) -> None:
        """Stop the clock (idempotent); the line keeps its text, the time as waited."""
        with self._lock:
            if self._stopped.is_set():
                return  # finished (the result replaced the line) or closed already
            self._stopped.set()
            self.watch.stop()
            if self._handle is not None:
                self._handle.update(html_object(self._html()))
            elif not self._echo or self._printed != self._shown[:2]:
                self._print()

    def finish(self, item: Video | Task, *, metrics: object = None) -> None:
        """Replace the line with the result card (or print the result as text).

        ``metrics`` (what was measured from the video) are shown with it.
        """
        from luma_nb import display

        with self._lock:
            self._stopped.set()  # no tick may redraw the line over the result
            self.watch.stop()
        if self._handle is not None:
            self._handle.update(display.bundle(item, metrics=metrics), raw=True)
        else:
            display.show(item, metrics=metrics)

    def elapsed(self) -> float:
        """Real seconds waited (on ``clock``)."""
        return self.watch.seconds()

    # ------------------------------------------------------------------ views

    def text(self) -> str:
        """The line as plain text: ``state · label · waiting 2.3 s · detail``."""
        state, detail, _kind = self._shown
        parts = [state, self._label, time_text(self.watch)]
        return " · ".join([*parts, detail] if detail else parts)

    def _html(self) -> str:
        state, detail, kind = self._shown
        colour = _COLOURS.get(kind, "#6b7280")
        return (
            '<div class="luma-nb-status" style="font-family:sans-serif;font-size:13px">'
            f'<span style="color:{colour};font-weight:600">&#9679; {_safe(state)}</span> '
            f"{_safe(self._label)} &middot; {_safe(time_text(self.watch))}"
            f"{' &middot; ' + _safe(detail) if detail else ''}</div>"
        )

    def _print(self) -> None:
        self._printed = self._shown[:2]
        print(clean_text(f"[luma_nb] {self.text()}"), file=sys.stderr)


class StatusLine(ProgressLine):
    """The line of one task (the notebook helpers): call :meth:`update` with each record."""

    def __init__(
        self,
        label: str,
        *,
        clock: Callable[[], float] | None = None,
        tick_seconds: float | None = 1.0,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        super().__init__(label, clock=clock, tick_seconds=tick_seconds, sleep=sleep)

    def update(self, task: Task) -> None:
        """Show ``task``'s state (repeats of the same state only refresh the clock)."""
        state = task.raw_state or task.state.value
        self.show(state, f"task {task.id}" if task.id else "", task.state)


class StudyProgress(ProgressLine):
    """The line of a study: how many of its videos finished, run and failed.

    Outside a notebook it prints one line, at :meth:`close`.
    """

    def __init__(
        self,
        label: str,
        total: int,
        done: int = 0,
        *,
        clock: Callable[[], float] | None = None,
        tick_seconds: float | None = 1.0,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._total = total
        self._done = done
        self._running = 0
        self._failed = 0
        super().__init__(
            label,
            clock=clock,
            tick_seconds=tick_seconds,
            sleep=sleep,
            echo=False,
            state="running",
            detail=self._counts(),
        )

    def update(self, *, done: int = 0, failed: int = 0, running: int | None = None) -> None:
        """Count ``done`` more videos finished (``failed`` of them failed); set ``running``."""
        self._done += done
        self._failed += failed
        if running is not None:
            self._running = running
        self.show("running", self._counts(), TaskState.PROCESSING)

    def close(self) -> None:
        """Stop the clock; the line says whether every video finished."""
        if self._done >= self._total:
            self.show("finished", self._counts(), TaskState.COMPLETED)
        else:
            self.show("stopped", self._counts(), TaskState.QUEUED)
        super().close()

    def _counts(self) -> str:
        return f"{self._done} of {self._total} videos finished · {self._running} running" + (
            f" · {self._failed} failed" if self._failed else ""
        )
