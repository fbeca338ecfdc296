"""An in-place status line while a generation runs.

In a notebook it is one display area updated in place (``display_id``); outside, one short
text line per change on stderr. The state word and the task id come from the server: both
views show their control and bidi characters escaped (``\\x1b``, ``\\u202e``), so a server
can neither drive the terminal nor reorder the line.
"""

from __future__ import annotations

import html
import sys
import time
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
    """Shows the latest state of one task; call :meth:`update` with each new record."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._started = time.monotonic()
        self._handle: Any = None
        self._last: tuple[str, str] | None = None
        if in_notebook():
            self._handle = display_html(self._html("submitting", ""), display_id=True)
        else:
            self._print("submitting", "")

    def update(self, task: Task) -> None:
        """Show ``task``'s state (repeats of the same state only refresh the clock)."""
        state = task.raw_state or task.state.value
        detail = f"task {task.id}" if task.id else ""
        if self._handle is not None:
            self._handle.update(html_object(self._html(state, detail, task.state)))
        elif self._last != (state, detail):
            self._print(state, detail)
        self._last = (state, detail)

    def finish(self, item: Video | Task) -> None:
        """Replace the status line with the result card (or print the result as text)."""
        from luma_nb import display

        if self._handle is not None:
            self._handle.update(display.bundle(item), raw=True)
        else:
            display.show(item)

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self._started:.1f} s"

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
