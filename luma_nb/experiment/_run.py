"""Running a study: submit in the planned order, at most ``concurrency`` at a time, and poll.

Why blocking (the :class:`~luma_nb.Client`) and not an async design on ``run_blocking``: it
works with the client the notebook already has (any transport, its injected clock and sleep),
needs no thread or event loop, and a kernel interrupt stops it like any cell, leaving a log
that :meth:`Experiment.complete` resumes. Nothing is lost in speed: the service generates the
videos concurrently either way, and the only serial steps are the submits (well under a second
each, against minutes of generation). Polling is batched: one ``retrieve_batch`` per round for
every video in flight, where one awaited ``wait`` per video would poll each separately.

The rolling window: fill the free slots with submits, then ``wait_many`` on the videos in
flight. When one finishes and more are waiting to be submitted, the update hook stops the wait
(by raising :class:`_SlotFree`) so the next submit goes out at once instead of after the
slowest of the batch. Everything is written to the session log as it happens: ``begin``
before the POST, the task id before any waiting, every state change, the media path and the
video's measurements (:mod:`luma_nb.experiment._measuring`). The
study's line (:class:`luma_nb._progress.StudyProgress`, the helpers' own progress component)
counts the videos, and in a notebook its clock ticks while the wait blocks.

Two processes may run the same study at once (two kernels, ``resume_experiment`` twice). The
session log claims each video's fixed iteration id atomically across processes, so exactly one
of them submits it; the other gets :class:`~luma_nb.session_log.IterationExistsError` from
``begin`` and skips the video (listed in :attr:`RunReport.claimed_elsewhere`): it is being run
by the process that claimed it, and a crash of the whole study would help nobody. A log that
cannot be written after a paid POST stops the run with
:class:`~luma_nb.session_log.SessionLogWriteError`, which carries the task id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb import _iteration
from luma_nb._media_policy import fetch_refusal
from luma_nb._progress import StudyProgress
from luma_nb._session_errors import IterationExistsError, SessionLogWriteError
from luma_nb._session_fold import TERMINAL_STATES, usable_task_id
from luma_nb.errors import (
    AuthenticationError,
    ConfigError,
    InsufficientBalanceError,
    KeyframeError,
    LumaError,
    ValidationError,
    WaitTimeoutError,
)
from luma_nb.experiment._context import warn
from luma_nb.experiment._measuring import Keyframes, Measurer, is_measured
from luma_nb.models import Task

if TYPE_CHECKING:
    from luma_nb.client import Client
    from luma_nb.experiment._plan import Plan, Unit
    from luma_nb.session_log import SessionLog

__all__ = ["RunReport", "catch_up", "download", "run", "warn_about"]

# Errors that no other submit of the study would escape: stop submitting (the videos already
# in flight are still waited for) and let the caller know. A keyframe is a common parameter:
# when it fails its preflight, it fails for every video of the study.
_STOPPING = (AuthenticationError, InsufficientBalanceError, ConfigError, KeyframeError)


class _SlotFree(Exception):
    """Raised from the wait's update hook to end the wait early: a slot is free."""


@dataclass
class RunReport:
    """What one run did.

    ``claimed_elsewhere`` lists the videos another process began first (the session log
    refused this process's ``begin``): not submitted here, and not waited for. ``measured``
    lists the videos measured in this run; ``measure_errors`` those that could not be (why),
    ``keyframe_errors`` the keyframe URLs that could not be fetched for the start/end match
    (why), and ``measure_unavailable`` says why nothing could be measured (the ``research``
    extra is missing).
    """

    submitted: list[str] = field(default_factory=list)
    claimed_elsewhere: list[str] = field(default_factory=list)
    submit_errors: dict[str, LumaError] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    download_errors: dict[str, LumaError] = field(default_factory=dict)
    measured: list[str] = field(default_factory=list)
    measure_errors: dict[str, str] = field(default_factory=dict)
    keyframe_errors: dict[str, str] = field(default_factory=dict)
    measure_unavailable: str | None = None
    stopped_by: LumaError | None = None
    timed_out: WaitTimeoutError | None = None
    max_in_flight: int = 0


def run(
    plan: Plan,
    log: SessionLog,
    client: Client,
    *,
    todo: Iterable[Unit],
    attached: dict[str, str] | None = None,
    max_wait: float | None,
    already_done: int = 0,
    keyframes: Mapping[str, Keyframes] | None = None,
    report: RunReport | None = None,
) -> RunReport:
    """Submit ``todo`` (in order) and wait for them and for the ``attached`` tasks.

    Parameters
    ----------
    plan, log, client
        The study, its session log and the client to submit with.
    todo : iterable of Unit
        Units never submitted, in the order to submit them.
    attached : dict of task id to iteration id
        Tasks already submitted and still running (a resumed study); they take slots.
    max_wait : float or None
        The longest to wait for the next video to finish before giving up (the client's
        poll policy decides when None); whatever is running stays in the log, resumable.
    keyframes : dict of iteration id to (start URL, end URL), optional
        The keyframes each video was sent with, for the start/end match of its metrics.
    report : RunReport, optional
        A report to go on filling (a resumed study's catch-up); default a new one.
    """
    _iteration.teach_durations(client, log)  # the poll schedule learns from earlier videos
    queue = deque(todo)
    in_flight: dict[str, str] = dict(attached or {})
    report = report if report is not None else RunReport()
    measurer = Measurer(log, client, report)
    sent = dict(keyframes or {})

    def finish(iteration: str, task: Task) -> None:
        report.finished.append(iteration)
        if task.video is not None:
            download(measurer, iteration, task.video.video_url, sent.get(iteration, (None, None)))

    total = already_done + len(queue) + len(in_flight)
    progress = StudyProgress(f"experiment {plan.experiment}", total, already_done)
    finished: list[Task] = []  # terminal tasks seen by the hook during one wait

    def hook(task: Task) -> None:
        iteration = in_flight.get(task.id)
        if iteration is None:
            return
        log.update(iteration, task)
        if task.is_terminal:
            finished.append(task)
            # Stop waiting only when the free slot can be used right away.
            if queue and report.stopped_by is None:
                raise _SlotFree

    try:
        while queue or in_flight:
            if report.stopped_by is None:
                _fill(plan, log, client, queue, in_flight, report, progress, finish)
            if not in_flight:
                break
            report.max_in_flight = max(report.max_in_flight, len(in_flight))
            progress.update(running=len(in_flight))
            finished.clear()
            try:
                final = client.wait_many(list(in_flight), max_wait=max_wait, on_update=hook)
            except _SlotFree:
                final = []
            except WaitTimeoutError as exc:
                report.timed_out = exc
                final = []
            for task in [*finished, *final]:
                iteration = in_flight.pop(task.id, None)
                if iteration is not None and task.is_terminal:
                    log.update(iteration, task)  # writes nothing when the hook already did
                    finish(iteration, task)
                    progress.update(done=1, failed=int(not task.succeeded))
            if report.timed_out is not None:
                break
    finally:
        progress.update(running=len(in_flight))
        progress.close()
    return report


def _fill(
    plan: Plan,
    log: SessionLog,
    client: Client,
    queue: deque[Unit],
    in_flight: dict[str, str],
    report: RunReport,
    progress: StudyProgress,
    finish: Callable[[str, Task], None],
) -> None:
    """Submit from the queue until every slot is taken (or a submit stops the study)."""
    while queue and len(in_flight) < plan.concurrency:
        unit = queue.popleft()
        request = plan.request(unit)
        try:
            iteration = log.begin(
                request,
                backend=client.backend,
                experiment=plan.experiment,
                arm=plan.arm(unit.arm).name,
                tags=unit.tags(),
                iteration=unit.iteration(plan.experiment),
            )
        except IterationExistsError as exc:
            # Another process claimed it a moment ago and is submitting it: not twice.
            report.claimed_elsewhere.append(exc.iteration)
            progress.update(done=1)
            continue
        try:
            task = _iteration.submit(log, iteration, request, client.submit)
        except SessionLogWriteError:
            raise  # the log cannot be written: stop, the error carries the billed task id
        except _STOPPING as exc:
            report.submit_errors[iteration] = exc
            report.stopped_by = exc
            return
        except LumaError as exc:
            # Logged as failed (or outcome_unknown); one refused prompt must not end the study.
            report.submit_errors[iteration] = exc
            progress.update(done=1, failed=1)
            continue
        report.submitted.append(iteration)
        if task.is_terminal:
            finish(iteration, task)
            progress.update(done=1, failed=int(not task.succeeded))
        else:
            in_flight[task.id] = iteration
        report.max_in_flight = max(report.max_in_flight, len(in_flight))


def catch_up(
    rows: Iterable[Mapping[str, Any] | None], measurer: Measurer
) -> tuple[dict[str, str], int]:
    """Go over a started study's log rows (None: never begun) before it runs on.

    Returns the tasks still running (task id -> iteration id), to re-attach to, and how many
    videos are done. A finished video with no local copy is downloaded (and measured); one
    downloaded but never measured is measured.
    """
    attached: dict[str, str] = {}
    done = 0
    for row in rows:
        if row is None:
            continue
        iteration = str(row["iteration"])
        if row["state"] not in TERMINAL_STATES and usable_task_id(row["task_id"]):
            attached[row["task_id"]] = iteration
            continue
        done += 1
        if row["state"] != "completed":
            continue
        keyframes = (_text(row.get("start_image_url")), _text(row.get("end_image_url")))
        media = row.get("media_path")
        if not _is_file(media):
            url = _text(row.get("video_url"))
            if url is not None:
                download(measurer, iteration, url, keyframes)
        elif not is_measured(row):
            measurer.measure(iteration, media, keyframes)
    return attached, done


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _is_file(path: object) -> bool:
    if not isinstance(path, str) or not path:
        return False
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a hand-edited path with a NUL byte, or far too long
        return False


def download(measurer: Measurer, iteration: str, url: str, keyframes: Keyframes) -> None:
    """Save a finished video locally (for embedding), log where, then measure it.

    A failure is kept in the report, not raised: the video exists and the log keeps its URL.
    A URL on some private server (not the simulator's) is not requested at all: an answer
    must not steer the kernel there.
    """
    report = measurer.report
    refusal = fetch_refusal(url)
    if refusal is not None:
        report.download_errors[iteration] = ValidationError(
            f"the video was not saved locally: {refusal}", field="video_url"
        )
        return
    try:
        path = measurer.client.download(url)
        measurer.log.media(iteration, path)
    except LumaError as exc:
        report.download_errors[iteration] = exc
        return
    measurer.measure(iteration, path, keyframes)


def warn_about(experiment: str, report: RunReport, not_submitted: Callable[[], int]) -> None:
    """Warn (:class:`ExperimentWarning`) about whatever in ``report`` did not go to plan."""
    failed = {it: exc for it, exc in report.submit_errors.items() if exc is not report.stopped_by}
    if failed:
        warn(
            f"{len(failed)} video(s) could not be submitted (logged, not retried): "
            + "; ".join(f"{it}: {type(exc).__name__}: {exc}" for it, exc in failed.items())
        )
    if report.stopped_by is not None:
        waiting = not_submitted()
        warn(
            f"experiment {experiment} stopped submitting: {type(report.stopped_by).__name__}: "
            f"{report.stopped_by}. {waiting} video(s) not submitted; fix the cause, then "
            "call study.run()."
        )
    if report.timed_out is not None:
        warn(
            f"experiment {experiment}: gave up waiting ({report.timed_out}); the videos still "
            "running are in the log: study.run() (or resume_experiment("
            f"{experiment!r}) after a restart) re-attaches to them."
        )
    if report.claimed_elsewhere:
        warn(
            f"{len(report.claimed_elsewhere)} video(s) of experiment {experiment} were begun by "
            "another process at the same moment (another kernel, or resume_experiment run "
            "twice), so they were not submitted here: "
            + ", ".join(report.claimed_elsewhere)
            + ". study.run() later re-attaches to them."
        )
    if report.download_errors:
        warn(
            f"{len(report.download_errors)} finished video(s) could not be saved locally "
            "(the log keeps their URLs): "
            + "; ".join(f"{it}: {exc}" for it, exc in report.download_errors.items())
        )
    _warn_measuring(report)


def _warn_measuring(report: RunReport) -> None:
    """One warning per kind of measuring trouble; none of it stopped the study."""
    if report.measure_unavailable is not None:
        warn(
            "the videos were downloaded but not measured (no metrics, no filmstrips): "
            f"{report.measure_unavailable}"
        )
    if report.measure_errors:
        warn(
            f"{len(report.measure_errors)} video(s) could not be measured, so their rows have "
            "no metrics (study.run() tries again): "
            + "; ".join(f"{it}: {why}" for it, why in report.measure_errors.items())
        )
    if report.keyframe_errors:
        warn(
            "a keyframe could not be fetched for measuring, so the videos sent with it were "
            "measured without their start/end-image match: "
            + "; ".join(f"{url}: {why}" for url, why in report.keyframe_errors.items())
        )
