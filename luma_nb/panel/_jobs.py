"""Jobs and the job board: one row per submitted request, updated while it runs.

A :class:`Job` is what one click on Generate (or Rerun) started: its request, its log
iteration, its task once submitted, and the ``asyncio`` task that submits and waits. Its
row shows the state word, the time, the task id and a Cancel button; below it, a message
when something needs saying (an error, what cancelling means). The time is the helpers'
and studies' own (:func:`luma_nb._progress.time_text`): ``waiting 2.3 s`` while the job
runs, then the task's generation time (``2 min 16 s (simulated)`` on the simulator), the
same text as the cards, the chain timeline and the reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from luma_nb import _iteration
from luma_nb._html import esc
from luma_nb._progress import Stopwatch, time_note, time_text
from luma_nb.models import Task, TaskState, Video, VideoRequest
from luma_nb.panel import _scheduler
from luma_nb.panel._controls import button
from luma_nb.panel._extend import clip, short_id
from luma_nb.panel._messages import CANCELLED

if TYPE_CHECKING:
    from luma_nb._click_guard import Claim
    from luma_nb.panel._calls import Calls
    from luma_nb.session_log import SessionLog

__all__ = ["ENDED", "Job", "JobBoard", "job_label", "parent_row"]

#: States after which a job does nothing more.
ENDED = frozenset({"completed", "failed", "cancelled", "outcome_unknown", "timed_out"})
_RUNNING_CLASS = "luma-nb-run"
_STATE_CLASS = {
    "completed": "luma-nb-ok",
    "failed": "luma-nb-fail",
    "outcome_unknown": "luma-nb-fail",
    "timed_out": "luma-nb-fail",
    "cancelled": "",
    "submitting": "",
    "queued": "",
}
#: What a job cancelled during its submit says (the POST may already have arrived).
CANCELLED_WHILE_SUBMITTING = (
    "Cancelled while submitting: the request may already have reached the server (and be "
    "billed). Check the task list before resubmitting; the session log records what is known."
)


def parent_row(log: SessionLog, parent: str | None) -> dict[str, Any] | None:
    """The log row of an extend's parent iteration (None when unknown or unreadable)."""
    if parent is None:
        return None
    try:
        return log.row(parent)
    except Exception:  # a label must never stop a job
        return None


def job_label(request: VideoRequest, parent: Mapping[str, Any] | None = None) -> str:
    """What a job's row calls it: its prompt, or for an extend, what it extends.

    ``parent`` is the extended video's log row, when the session has it: the label then
    names its short id and prompt ("extend of 3f2a9c1d “a kite…” → higher").
    """
    if request.action != "extend":
        return _iteration.describe(request, 48)
    if parent is not None:
        what = short_id(parent)
        earlier = parent.get("prompt") or parent.get("echoed_prompt")
        if earlier:
            what += f" “{clip(earlier, 32)}”"
    elif request.video_id:
        what = clip(request.video_id, 12)
    else:
        what = clip(request.video_url or "a video", 40)
    label = f"extend of {what}"
    return f"{label} → {clip(request.prompt, 32)}" if request.prompt else label


class Job:
    """One submitted request and its row on the job board.

    Attributes
    ----------
    request : VideoRequest
        What was (or is being) sent.
    iteration : str
        The session-log iteration id (written before the submit).
    task_id : str or None
        The task id, once the API answered.
    state : str
        ``submitting``, ``queued``, ``pending``, ``processing``, the API's own word for an
        unknown state, ``downloading``, then one of ``completed``, ``failed``,
        ``cancelled``, ``outcome_unknown`` or ``timed_out``.
    started, ended : float
        The clock's reading when the job was created, and when it ended (``None`` before).
    video : Video or None
        The result, once completed.
    error : BaseException or None
        Why the job failed, if it did.
    message : str
        The human sentence shown under the row ("" when there is nothing to say).
    future : asyncio.Task
        The task that runs the job; ``await job.future`` (it never raises, except when the
        loop itself cancels it).
    row : ipywidgets.VBox
        The job's row (CSS class ``luma-nb-job``).
    cancel_button : ipywidgets.Button
        Stops waiting (see :meth:`cancel`).
    claim : Claim or None
        The click that started the job (Generate, Rerun), held until its POST is over.
    """

    def __init__(
        self,
        request: VideoRequest,
        iteration: str,
        calls: Calls,
        *,
        sync: bool = False,
        parent: str | None = None,
        claim: Claim | None = None,
        clock: Callable[[], float] | None = None,
        label: str | None = None,
    ) -> None:
        self.request = request
        #: What the row calls the job (see :func:`job_label`).
        self.label = label if label is not None else job_label(request)
        self.claim = claim
        self.iteration = iteration
        self.calls = calls
        self.sync = sync
        self.parent = parent
        self.task_id: str | None = None
        self.state = "submitting"
        self.watch = Stopwatch(clock)  # default time.monotonic
        self.started = self.watch.started
        self.ended: float | None = None
        self.record: Task | None = None  # the task as last seen
        self.video: Video | None = None
        self.error: BaseException | None = None
        self.message = ""
        self.future: asyncio.Task[Video | None]
        # Set by the runner: whether the coroutine began (a job cancelled before it began
        # sent nothing) and whether the cancel came from our own button.
        self.entered = False
        self.cancel_requested = False
        self.done_on_server = False  # the task completed; only the local copy remained

        self._state_html = widgets.HTML(layout=widgets.Layout(min_width="9em"))
        self._label = widgets.HTML(
            f'<span class="luma-nb-job-label" title="{esc(request.prompt or self.label)}">'
            f"{esc(self.label)}</span>",
            layout=widgets.Layout(flex="1 1 auto", min_width="10em"),
        )
        self._elapsed = widgets.Label(layout=widgets.Layout(min_width="6em"))
        self._task = widgets.HTML(layout=widgets.Layout(min_width="8em"))
        self.cancel_button = button(
            "Cancel",
            "stop",
            lambda _button: self.cancel(),
            tooltip="Stop waiting (the task may still finish on the server)",
            css_class="luma-nb-cancel",
        )
        self._message = widgets.HTML()
        self._message.add_class("luma-nb-job-message")
        line = widgets.HBox(
            [self._state_html, self._label, self._elapsed, self._task, self.cancel_button],
            layout=widgets.Layout(align_items="center"),
        )
        self.row = widgets.VBox([line, self._message])
        self.row.add_class("luma-nb-job")
        self._render_state()
        self._render_task()
        self.tick()

    # ------------------------------------------------------------------ state

    @property
    def running(self) -> bool:
        """True until the job has ended (completed, failed, cancelled...)."""
        return self.state not in ENDED

    @property
    def elapsed(self) -> float:
        """Real seconds waited since the job started (frozen once it ended)."""
        return self.watch.seconds()

    @property
    def time_text(self) -> str:
        """What the row's time reads (see :func:`luma_nb._progress.time_text`)."""
        return time_text(self.watch, self.record)

    def set_task(self, task: Task) -> None:
        """Show a fresh look at the task (its id and state)."""
        if not self.running:
            return  # a late poll answer must not revive a cancelled row
        self.task_id = task.id or self.task_id
        self.record = task
        self.done_on_server = task.state is TaskState.COMPLETED
        word = task.raw_state if task.state is TaskState.UNKNOWN and task.raw_state else None
        if task.state is not TaskState.COMPLETED:  # completed is said once the card is shown
            self.set_state(word or task.state.value)
        self._render_task()

    def set_state(self, state: str, message: str | None = None) -> None:
        """Move to ``state`` (and say ``message`` under the row, when given)."""
        self.state = state
        if state in ENDED:
            self.watch.stop()
            self.ended = self.watch.ended
            self.cancel_button.disabled = True
            # A finished job has nothing to cancel: keep the row's width, hide the button.
            self.cancel_button.layout.visibility = "hidden"
        if message is not None:
            self.message = message
            error = state in ("failed", "outcome_unknown", "timed_out")
            cls = "luma-nb-error" if error else "luma-nb-note"
            self._message.value = f'<div class="{cls}">{esc(message)}</div>' if message else ""
        self._render_state()
        self.tick()

    def submit_ended(self, *, nothing_sent: bool = False) -> None:
        """The POST is over (or never happened): free the button that started the job.

        ``nothing_sent``: provably nothing reached the server, so the same request may be
        clicked again at once. Idempotent.
        """
        claim, self.claim = self.claim, None
        if claim is not None:
            claim.release(forget=nothing_sent)

    def tick(self) -> None:
        """Refresh the time."""
        self._elapsed.value = self.time_text
        self._elapsed.tooltip = time_note(self.watch, self.record)

    def _render_state(self) -> None:
        cls = _STATE_CLASS.get(self.state, _RUNNING_CLASS)
        self._state_html.value = (
            f'<span class="luma-nb-badge luma-nb-job-state {cls}">{esc(self.state)}</span>'
        )

    def _render_task(self) -> None:
        shown = self.task_id[:8] + "…" if self.task_id and len(self.task_id) > 9 else self.task_id
        self._task.value = (
            f'<span class="luma-nb-mono luma-nb-job-task" title="{esc(self.task_id)}">'
            f"{esc(shown)}</span>"
            if self.task_id
            else '<span class="luma-nb-muted">no task yet</span>'
        )

    # ------------------------------------------------------------------ cancel

    def cancel(self) -> None:
        """Stop waiting for this job.

        The task is not cancelled on the server (the API has no way to): it may still finish,
        and be billed. It stays in the session log as pending, so ``log.resume(client)`` (or
        ``await log.aresume(client)``) picks it up later. The row says so.
        """
        if not self.running or self.cancel_requested:
            return
        self.cancel_requested = True
        _scheduler.cancel(self.future)

    def cancelled_message(self) -> str:
        """What the row says after Cancel, depending on how far the job got."""
        if self.done_on_server:
            return (
                "Stopped before the video was shown: it is finished, and its URL is in the "
                "session log."
            )
        return CANCELLED if self.task_id else CANCELLED_WHILE_SUBMITTING

    def __repr__(self) -> str:
        return f"Job(iteration={self.iteration!r}, state={self.state!r}, task_id={self.task_id!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.row._repr_mimebundle_(**kwargs)


class JobBoard:
    """The list of job rows, newest on top."""

    def __init__(self) -> None:
        self._empty = widgets.HTML('<span class="luma-nb-muted">No jobs yet.</span>')
        self.box = widgets.VBox([self._empty])
        self.box.add_class("luma-nb-jobs")

    def add(self, job: Job) -> None:
        """Put ``job``'s row on top."""
        rows = [child for child in self.box.children if child is not self._empty]
        self.box.children = (job.row, *rows)
