"""One prompt iteration, logged the same way by the notebook helpers and the panel.

The order is the session log's promise: ``begin`` (written before the paid POST), the submit,
then ``submitted`` (the task id on disk before anyone waits) or ``submit_failed``; updates
while waiting; the media path once the video is saved. The helpers run these steps blocking,
the panel awaits them, so the submit step exists in both colours; everything else is shared.

A paid task is never orphaned: when the ``submitted`` event cannot be written (a full disk)
after the POST returned a task, :class:`SessionLogWriteError` carries the task id (also
printed to stderr), and the log keeps the event in memory until its next successful write.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from luma_nb._schedule import DurationModel
from luma_nb._session_errors import SessionLogWriteError
from luma_nb.errors import GenerationFailedError
from luma_nb.models import Task, Video, VideoRequest

if TYPE_CHECKING:
    from luma_nb.client import AsyncClient, Client
    from luma_nb.session_log import SessionLog

__all__ = [
    "asubmit",
    "begin",
    "describe",
    "finished_rows",
    "parent_of",
    "result",
    "submit",
    "teach_durations",
]


def begin(
    log: SessionLog,
    request: VideoRequest,
    *,
    backend: str,
    parent: str | None = None,
    tags: Sequence[str] | str = (),
    experiment: str | None = None,
    arm: str | None = None,
) -> str:
    """Write the ``submitting`` event (before any request) and return the iteration id."""
    if isinstance(tags, str):
        tags = (tags,)
    return log.begin(
        request, backend=backend, parent=parent, experiment=experiment, arm=arm, tags=tags
    )


def submit(
    log: SessionLog, iteration: str, request: VideoRequest, send: Callable[[VideoRequest], Task]
) -> Task:
    """POST through ``send`` and log the outcome before returning (or re-raising).

    Any exception is logged, not only luma_nb's own: an interrupt in the middle of the POST
    may have been billed, and the log then says ``outcome_unknown`` so nobody resubmits
    blindly.

    Raises
    ------
    SessionLogWriteError
        The POST returned a task but its ``submitted`` event could not be written (an
        ``OSError``: a full disk). The error carries ``task_id``; see :func:`_log_task`.
    """
    try:
        task = send(request)
    except BaseException as exc:
        _log_failure(log, iteration, exc)
        raise
    _log_task(log, iteration, task)
    return task


async def asubmit(
    log: SessionLog,
    iteration: str,
    request: VideoRequest,
    send: Callable[[VideoRequest], Awaitable[Task]],
) -> Task:
    """:func:`submit` for an awaitable ``send`` (a cancelled POST is logged as unknown)."""
    try:
        task = await send(request)
    except BaseException as exc:
        _log_failure(log, iteration, exc)
        raise
    _log_task(log, iteration, task)
    return task


def _log_task(log: SessionLog, iteration: str, task: Task) -> None:
    """Write ``submitted``; when that fails, make sure the billed task id reaches the user.

    The log keeps the unwritten event in memory (written first by its next successful
    write), the id is printed to stderr — an exception can be swallowed by a careless
    handler, a line on stderr cannot — and the error raised carries it.
    """
    try:
        log.submitted(iteration, task)
    except OSError as exc:
        error = SessionLogWriteError.after_submit(task, iteration, log.path, exc)
        print(f"luma_nb: {error}", file=sys.stderr, flush=True)
        raise error from exc


def _log_failure(log: SessionLog, iteration: str, exc: BaseException) -> None:
    """Write ``submit_failed``; a failed write must not hide the submit's own error.

    The log keeps the unwritten event in memory; the caller re-raises the submit's error.
    """
    try:
        log.submit_failed(iteration, exc)
    except OSError as write_error:
        print(
            f"luma_nb: the failed submit of iteration {iteration} could not be written to the "
            f"session log {log.path} ({write_error}); it is kept in memory and written by "
            "the next successful write.",
            file=sys.stderr,
            flush=True,
        )


_taught: weakref.WeakKeyDictionary[DurationModel, set[str]] = weakref.WeakKeyDictionary()


def teach_durations(client: Client | AsyncClient, log: SessionLog) -> int:
    """Seed ``client``'s adaptive poll schedule, once per log, with the durations of the
    generations the log saw finish on the same backend; returns how many were taught.

    Rows of another backend are skipped: the simulator's clock runs faster than real time.
    """
    model = client.durations
    done = _taught.setdefault(model, set())
    if not client.settings.poll.adaptive or str(log.path) in done:
        return 0
    done.add(str(log.path))
    seconds = [
        row["elapsed"]
        for row in log.to_records()
        if row.get("backend") == client.backend
        and row.get("state") == "completed"
        and isinstance(row.get("elapsed"), (int, float))
    ]
    model.observe_all(seconds)
    return len(seconds)


def result(task: Task) -> Video:
    """The video of a terminal task, or :class:`GenerationFailedError`."""
    if task.video is None:
        raise GenerationFailedError(task)
    return task.video


def finished_rows(log: SessionLog) -> list[dict[str, Any]]:
    """The log rows that hold a finished video, oldest first."""
    return [
        row for row in log.to_records() if row.get("video_url") and row.get("state") == "completed"
    ]


def parent_of(log: SessionLog, video: Video | str) -> str | None:
    """The iteration that produced ``video`` (a Video or a video id), if it is in the log."""
    if isinstance(video, str):
        return log.find(video_id=video)
    found = log.find(task_id=video.task_id) if video.task_id else None
    if found is None and video.video_id:
        found = log.find(video_id=video.video_id)
    return found


def describe(request: VideoRequest, limit: int = 60) -> str:
    """A short label for a request: its prompt, or what it extends."""
    text = request.prompt or f"extend {request.video_id or request.video_url}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
