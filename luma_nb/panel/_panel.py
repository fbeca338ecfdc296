"""The panel: a form, a job board, results and history, wired to a client and a session log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from luma_nb import _iteration
from luma_nb._click_guard import DEFAULT_WINDOW, Claim, ClickGuard, Refusal
from luma_nb.errors import (
    SubmitOutcomeUnknownError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
    proves_nothing_billed,
)
from luma_nb.models import Video, VideoRequest
from luma_nb.panel import _scheduler, _snapshot
from luma_nb.panel._backend import BackendBar
from luma_nb.panel._calls import Calls
from luma_nb.panel._code import request_code
from luma_nb.panel._form import Form
from luma_nb.panel._generate import GenerateBar, intent
from luma_nb.panel._history import History
from luma_nb.panel._jobs import Job, JobBoard, job_label, parent_row
from luma_nb.panel._media import result_card
from luma_nb.panel._messages import human_message
from luma_nb.panel._results import ResultCard, Results
from luma_nb.panel._style import PANEL_CSS
from luma_nb.panel._thumbnails import Thumbnails
from luma_nb.panel._uploader import Uploader
from luma_nb.render import snapshot
from luma_nb.render.frontend import LiveSnapshot
from luma_nb.render.markup import CSS

if TYPE_CHECKING:
    from luma_nb._preflight import KeyframeReport
    from luma_nb.client import AsyncClient, Client
    from luma_nb.session_log import SessionLog

__all__ = ["Panel"]


class _NotSent(TransportError):
    """A job cancelled before its request was sent: nothing was submitted or billed.

    A transport error because, like a connection that failed before a byte went out, it
    proves that no task exists (:func:`~luma_nb.errors.proves_nothing_billed`): the log
    records the iteration as ``failed``, not ``outcome_unknown``.
    """


def _api_client(token: str) -> AsyncClient:
    from luma_nb.client import AsyncClient

    return AsyncClient(token, backend="api")


class Panel:
    """An ipywidgets panel to iterate on Luma prompts without writing code.

    It builds any request the API accepts, submits it without blocking the kernel, plays the
    result inline and keeps every iteration in the session log (exactly as the notebook
    helpers do). Display it by making it the last expression of a cell.

    Parameters
    ----------
    client : AsyncClient or Client, optional
        Default: ``luma_nb.connect(asynchronous=True)``, i.e. the built-in simulator (with a
        banner) when no token is set. A blocking :class:`~luma_nb.Client` works too: its calls
        run in worker threads.
    session : SessionLog, optional
        Default: the kernel's session log (``luma_nb.session()``).
    uploader : callable, optional
        ``uploader(data: bytes, filename: str) -> str`` puts a local keyframe image somewhere
        public and returns its URL; without one, local files cannot be used (the API fetches
        keyframes itself) and the panel says so.
    click_window : float
        Seconds during which a second click of Generate on an unchanged form, of a card's
        Rerun, or of Save with the same rating, is ignored (default 2; see "Double clicks"
        in ``docs/panel.md``).
    clock : callable, optional
        ``clock() -> seconds`` for that window (default :func:`time.monotonic`).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The root widget (CSS class ``luma-nb-panel``).
    jobs : list of Job
        Every job started, newest last.
    client : AsyncClient or Client
        The client new jobs use (a pasted token replaces it).
    log : SessionLog
        Where iterations are recorded.
    click_guard : ClickGuard
        Lets one click per intent through (Generate, Rerun, Save).

    Examples
    --------
    >>> panel = luma_nb.Panel()  # doctest: +SKIP
    >>> panel  # doctest: +SKIP
    """

    def __init__(
        self,
        client: AsyncClient | Client | None = None,
        session: SessionLog | None = None,
        *,
        uploader: Uploader | None = None,
        click_window: float = DEFAULT_WINDOW,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if client is None:
            from luma_nb.backend import connect

            client = connect(asynchronous=True)
        if session is None:
            from luma_nb.notebook import session as default_session

            session = default_session()
        if uploader is not None and not callable(uploader):
            raise ValidationError(
                "uploader must be a callable (data: bytes, filename: str) -> str",
                field="uploader",
            )
        self.client: AsyncClient | Client = client
        self.log: SessionLog = session
        self.click_guard = ClickGuard(click_window, clock)
        self.jobs: list[Job] = []
        self._first_client = client
        self._client_for_token: Callable[[str], AsyncClient | Client] = _api_client
        self._scheduler = _scheduler.Scheduler()
        self._ticker: asyncio.Task[None] | None = None
        #: How often the job rows' elapsed times are refreshed while jobs run.
        self.tick_seconds = 1.0
        self._thumbnails = Thumbnails(lambda: self.client, self._scheduler.start, self.refresh)

        form = self._form = Form(
            uploader, self._scheduler.start, self._thumbnails.src, self._check_keyframe
        )
        # The client's setting, until changed here.
        form.preflight.value = getattr(getattr(client, "preflight", None), "enabled", True)
        # The contract's widget names, so tests and notebooks can drive the panel.
        self.prompt = form.prompt
        self.action = form.action
        self.aspect_ratio = form.aspect_ratio
        self.loop = form.loop
        self.enhancement = form.enhancement
        self.start_image_url = form.start.url
        self.start_image_upload = form.start.upload
        self.start_image_preview = form.start.preview
        self.end_image_url = form.end.url
        self.end_image_upload = form.end.upload
        self.end_image_preview = form.end.preview
        self.extend_choice = form.extend_choice
        self.extend_ref = form.extend_ref
        self.api_timeout = form.api_timeout
        self.callback_url = form.callback_url
        self.mode = form.mode
        self.preflight = form.preflight

        self._bar = GenerateBar(form, self.click_guard, self._submit)
        self.generate_button = self._bar.button
        self.form_message = self._bar.message

        self.board = JobBoard()
        self.results = Results()
        self.history = History(self.restore, self._thumbnails.src)
        self.history.refresh_button.on_click(lambda _b: self.refresh())
        self._backend = BackendBar(self._use_token, self._use_simulator)
        self.token = self._backend.token
        #: The static copy of the results that a saved notebook keeps (see _ipython_display_).
        self.snapshot = LiveSnapshot(self._snapshot_html, self._snapshot_text)

        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    f"<style>{CSS}{PANEL_CSS}{snapshot.live_rule(self.snapshot.key)}</style>"
                    '<div class="luma-nb-title" style="font-size:15px">Luma video panel</div>'
                ),
                self._backend.widget,
                form.widget,
                self._bar.widget,
                widgets.HTML("<h4>Jobs</h4>"),
                self.board.box,
                widgets.HTML("<h4>Results</h4>"),
                self.results.box,
                widgets.HBox(
                    [widgets.HTML("<h4>History</h4>"), self.history.refresh_button],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.history.box,
            ]
        )
        self.widget.add_class("luma-nb-panel")

        form.on_change(self._validate)
        self._backend.show(client.backend)
        self.refresh()
        self._validate()

    # ------------------------------------------------------------------ display

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.snapshot.widget_bundle(self.widget, **kwargs)

    def _ipython_display_(self) -> None:
        # The widget, then a static snapshot of the results under a display id: the saved
        # notebook keeps it where the widget is gone (no kernel, nbconvert, untrusted).
        self.snapshot.show(self.widget._repr_mimebundle_(), _snapshot.WIDGET_TEXT)

    def _snapshot_html(self) -> str:
        cards = list(reversed(self.results.cards))  # newest first, as in the panel
        return _snapshot.html(self.snapshot.key, cards, self.client.backend)

    def _snapshot_text(self) -> str:
        return _snapshot.text(list(reversed(self.results.cards)), self.client.backend)

    def __repr__(self) -> str:
        running = sum(job.running for job in self.jobs)
        return (
            f"Panel(backend={self.client.backend!r}, jobs={len(self.jobs)}, running={running}, "
            f"session={str(self.log.path)!r})"
        )

    # ------------------------------------------------------------------ the form

    def request(self) -> VideoRequest:
        """The form as a validated request.

        Raises
        ------
        luma_nb.ValidationError
            When the form is not a request the API accepts (the reason is its message).
        """
        return self._form.request()

    def _validate(self) -> None:
        self._bar.show()

    async def _check_keyframe(self, url: str, aspect_ratio: str | None) -> KeyframeReport | None:
        """The keyframe field's preflight, through the current client (None when it is off)."""
        if not self.preflight.value:
            return None
        return await Calls(self.client).check_keyframe(url, aspect_ratio)

    def restore(self, iteration: str) -> None:
        """Put an iteration's settings (from the session log) back into the form.

        Raises
        ------
        luma_nb.ValidationError
            When the session has no such iteration.
        """
        row = self.log.row(iteration)
        self.refresh()
        self._form.restore(row)
        self._validate()

    def code(self, request: VideoRequest | None = None) -> str:
        """The ``luma_nb`` call that makes ``request`` (default: the form's), ready to run."""
        if request is None:
            return request_code(self.request(), sync=self._form.sync)
        return request_code(request)

    def refresh(self) -> None:
        """Re-read the session log into the extend picker and the history."""
        rows = self.log.to_records()
        finished = [r for r in rows if r.get("video_url") and r.get("state") == "completed"]
        self._form.set_videos(finished)
        self.history.show(rows)

    # ------------------------------------------------------------------ jobs

    def submit(self) -> Job:
        """Submit the form as a new job, as the Generate button does.

        The iteration is written to the session log at once; the submit and the wait run
        as an ``asyncio`` task on the running loop (the kernel's, in Jupyter), so this
        returns immediately. ``await job.future`` waits for the job.

        Raises
        ------
        luma_nb.ValidationError
            When the form is invalid (nothing is logged or sent).

        Notes
        -----
        Unlike a click, a call is not checked for doubles: each call is a new job.
        """
        return self._submit(self.request(), None)

    def _submit(self, request: VideoRequest, claim: Claim | None) -> Job:
        try:
            parent = None
            if request.action == "extend":
                parent = self._form.video_reference()[2]
                if parent is None and request.video_id is not None:
                    parent = self.log.find(video_id=request.video_id)
        except BaseException:
            if claim is not None:
                claim.release(forget=True)  # nothing was started
            raise
        return self._start(request, sync=self._form.sync, parent=parent, claim=claim)

    def _start(
        self, request: VideoRequest, *, sync: bool, parent: str | None, claim: Claim | None = None
    ) -> Job:
        """Log and schedule a job; once scheduled, the job releases ``claim`` after its POST."""
        try:
            calls = Calls(self.client, preflight=bool(self.preflight.value))
            iteration = _iteration.begin(self.log, request, backend=calls.backend, parent=parent)
            label = job_label(request, parent_row(self.log, parent))
            job = Job(request, iteration, calls, sync=sync, parent=parent, claim=claim, label=label)
            self.jobs.append(job)
            self.board.add(job)
            job.future = self._scheduler.start(self._run(job), lambda task: self._ended(job, task))
        except BaseException:
            if claim is not None:
                claim.release(forget=True)  # nothing was scheduled, so nothing was sent
            raise
        if self._ticker is None or self._ticker.done():
            self._ticker = self._scheduler.start(self._tick())
        self.refresh()
        return job

    async def _run(self, job: Job) -> Video | None:
        job.entered = True
        if job.cancel_requested:
            self._never_sent(job)
            return None
        try:
            return await self._steps(job, asyncio.get_running_loop())
        except asyncio.CancelledError:
            job.set_state("cancelled", job.cancelled_message())
            if not job.cancel_requested:
                raise  # not our Cancel button: the loop itself is going away
            return None
        except Exception as exc:  # every failure becomes a sentence on the row
            if job.cancel_requested:
                # Our Cancel, surfacing as an error (a client may turn a POST interrupted
                # in flight into SubmitOutcomeUnknownError): the row says what Cancel means.
                job.error = exc
                job.set_state("cancelled", job.cancelled_message())
            else:
                self._failed(job, exc)
            return None

    async def _steps(self, job: Job, loop: asyncio.AbstractEventLoop) -> Video:
        log = self.log
        try:
            task = await job.calls.submit(log, job.iteration, job.request, sync=job.sync)
        except BaseException as exc:
            # The POST is over: its button may be clicked again, at once if it provably
            # spent nothing.
            job.submit_ended(nothing_sent=isinstance(exc, Exception) and proves_nothing_billed(exc))
            raise
        job.submit_ended()
        self._show_task(job, task)
        if not task.is_terminal:

            def on_update(fresh: Any) -> None:
                # May run in a worker thread (a blocking client): log here, draw on the loop.
                log.update(job.iteration, fresh)
                _scheduler.call_in_loop(loop, lambda: self._show_task(job, fresh))

            _iteration.teach_durations(self.client, log)  # once per log: the poll schedule
            task = await job.calls.wait(task, on_update)
            log.update(job.iteration, task)
            job.set_task(task)
        video = _iteration.result(task)
        job.set_state("downloading")
        html, note = await result_card(
            job.calls, video, self.log, job.iteration, self._thumbnails.keep
        )
        job.video = video
        self.results.add(
            ResultCard(
                job,
                html,
                on_extend=self._extend_this,
                on_rerun=self._rerun,
                code=lambda done: request_code(done.request, sync=done.sync),
                on_rate=self._rate,
                guard=self.click_guard,
            )
        )
        self.snapshot.refresh()
        job.set_state("completed", note)
        return video

    def _show_task(self, job: Job, task: Any) -> None:
        before = job.state
        job.set_task(task)
        if job.state != before:
            self.history.show(self.log.to_records())  # the history's state word follows

    def _never_sent(self, job: Job) -> None:
        job.submit_ended(nothing_sent=True)
        self.log.submit_failed(job.iteration, _NotSent("cancelled before the request was sent"))
        job.set_state("cancelled", "Cancelled before anything was sent: nothing was submitted.")

    def _failed(self, job: Job, exc: Exception) -> None:
        job.error = exc
        if isinstance(exc, WaitTimeoutError):
            state = "timed_out"
        elif isinstance(exc, SubmitOutcomeUnknownError):
            state = "outcome_unknown"
        else:
            state = "failed"
        job.set_state(state, human_message(exc))

    def _ended(self, job: Job, task: asyncio.Task[Any]) -> None:
        if task.cancelled() and not job.entered:
            self._never_sent(job)  # cancelled before its first step: the coroutine never ran
        elif job.running:
            job.set_state("cancelled", job.cancelled_message())
        job.submit_ended()  # however the job ended, its button is free again
        if self._ticker is not None and not any(other.running for other in self.jobs):
            # Nothing left to time: stop the ticker now (a new job starts a new one).
            _scheduler.cancel(self._ticker)
            self._ticker = None
        try:
            self.refresh()
        except Exception:  # a log that cannot be read now must not break the job's end
            return

    async def _tick(self) -> None:
        # A light ticker: it refreshes the elapsed times once a second while any job runs,
        # and ends by itself once none does.
        while running := [job for job in self.jobs if job.running]:
            for job in running:
                job.tick()
            await asyncio.sleep(self.tick_seconds)

    async def idle(self) -> None:
        """Wait until every job and background task (uploads, thumbnails) has ended.

        Await it on the loop the panel's tasks run on (in Jupyter, at the top level of a
        cell).
        """
        current = asyncio.current_task()
        while pending := self._scheduler.pending(besides=(current, self._ticker)):
            await asyncio.wait(pending)

    # ------------------------------------------------------------------ buttons

    def _extend_this(self, job: Job) -> None:
        self.refresh()
        self._form.extend(job.iteration)
        self._validate()

    def _rerun(self, job: Job, button: object) -> None:
        # One guard key per source result: its Rerun is busy until the new job's POST ends.
        claim = self.click_guard.claim(
            ("rerun", job.iteration), intent(job.request, job.sync), button=button
        )
        if isinstance(claim, Refusal):
            self._bar.refused(claim)
            return
        try:
            self._start(job.request, sync=job.sync, parent=job.parent, claim=claim)
        except Exception as exc:  # a click handler must never raise
            self._bar.say(human_message(exc))

    def _rate(self, job: Job, stars: int, note: str) -> None:
        self.log.rate(job.iteration, stars, note.strip() or None)
        self.snapshot.refresh()
        self.refresh()

    # ------------------------------------------------------------------ backend

    def _use_token(self, token: str) -> None:
        try:
            client = self._client_for_token(token)
        except Exception as exc:
            self._backend.show(self.client.backend, human_message(exc))
            return
        self.client = client
        self._backend.show(
            client.backend,
            "Token set for new jobs; it is kept in memory only (not saved, not logged).",
        )

    def _use_simulator(self) -> None:
        if self._first_client.backend == "simulator":
            self.client = self._first_client
        else:
            from luma_nb.backend import connect

            self.client = connect(backend="simulator", asynchronous=True, banner=False)
        self._backend.show(self.client.backend, "Back on the simulator; the token is forgotten.")
