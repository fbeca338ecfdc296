"""An in-place status line while a generation runs.

In a notebook it is one display area updated in place (``display_id``), and its clock ticks:
a small daemon thread redraws it every ``tick_seconds`` while the kernel's main thread is
blocked in the wait (it runs in a copy of the cell's context, so the updates reach the cell
that started it), until :meth:`StatusLine.finish` or :meth:`StatusLine.close`. The time shown
is "waiting N s": real seconds on this machine since the submit (``time.monotonic``), whatever
the backend; the simulator's sped-up clock never enters it. Outside a notebook, one short text
line per change on stderr. The state word and the task id come from the server: both
views show their control and bidi characters escaped (``\\x1b``, ``\\u202e``), so a server
can neither drive the terminal nor reorder the line.
"""

from __future__ import annotations

import contextvars
import html
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from luma_nb._html import clean_text
from luma_nb.models import Task, TaskState, Video
from luma_nb.render.frontend import display_html, html_object, in_notebook

_COLOURS = {
    TaskState.QUEUED: "#6b7280",
    TaskState.PENDING: "#2563eb",
    TaskState.PROCESSING: "#7c3aed",
    TaskState.COMPLETED: "#059669",
    TaskState.FAILED: "#dc2626",
    TaskState.UNKNOWN: "#6b7280",
}


class StatusLine:
    """Shows the latest state of one task; call :meth:`update` with each new record.

    ``clock`` (default :func:`time.monotonic`) measures the wait; ``tick_seconds`` is how often
    the notebook view redraws its clock (``None``: only on updates, as tests drive it).
    """

    def __init__(
        self,
        label: str,
        *,
        clock: Callable[[], float] | None = None,
        tick_seconds: float | None = 1.0,
    ) -> None:
        self._label = label
        self._clock = clock or time.monotonic
        self._started = self._clock()
        self._handle: Any = None
        self._last: tuple[str, str] | None = None
        self._shown: tuple[str, str, TaskState] = ("submitting", "", TaskState.QUEUED)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        if in_notebook():
            self._handle = display_html(self._html(*self._shown), display_id=True)
            if tick_seconds is not None:
                self._start_ticker(tick_seconds)
        else:
            self._print("submitting", "")

    def _start_ticker(self, seconds: float) -> None:
        def run() -> None:
            while not self._stopped.wait(seconds):
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
                self._handle.update(html_object(self._html(*self._shown)))

    def close(self) -> None:
        """Stop the clock (idempotent); the line keeps its last text."""
        self._stopped.set()

    def update(self, task: Task) -> None:
        """Show ``task``'s state (repeats of the same state only refresh the clock)."""
        state = task.raw_state or task.state.value
        detail = f"task {task.id}" if task.id else ""
        with self._lock:
            self._shown = (state, detail, task.state)
            if self._handle is not None:
                if not self._stopped.is_set():
                    self._handle.update(html_object(self._html(state, detail, task.state)))
            elif self._last != (state, detail):
                self._print(state, detail)
            self._last = (state, detail)

    def finish(self, item: Video | Task) -> None:
        """Replace the status line with the result card (or print the result as text)."""
        from luma_nb import display

        with self._lock:
            self._stopped.set()  # no tick may redraw the line over the result
        if self._handle is not None:
            self._handle.update(display.bundle(item), raw=True)
        else:
            display.show(item)

    def elapsed(self) -> float:
        """Real seconds since the submit (on ``clock``)."""
        return max(0.0, self._clock() - self._started)

    def _elapsed(self) -> str:
        return f"waiting {self.elapsed():.1f} s"

    def _html(self, state: str, detail: str, kind: TaskState = TaskState.QUEUED) -> str:
        colour = _COLOURS.get(kind, "#6b7280")

        def shown(text: str) -> str:
            # A bidi override would reorder the line in the page too: show it, then escape.
            return html.escape(clean_text(text))

        return (
            '<div class="luma-nb-status" style="font-family:sans-serif;font-size:13px">'
            f'<span style="color:{colour};font-weight:600">&#9679; {shown(state)}</span> '
            f"{shown(self._label)} &middot; {self._elapsed()}"
            f"{' &middot; ' + shown(detail) if detail else ''}</div>"
        )

    def _print(self, state: str, detail: str) -> None:
        parts = [f"[luma_nb] {state}", self._label, self._elapsed()]
        if detail:
            parts.append(detail)
        print(clean_text(" · ".join(parts)), file=sys.stderr)
