"""What :meth:`SessionLog.resume` waits for, and what it leaves alone (and says so)."""

from __future__ import annotations

import reprlib
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from luma_nb._session_errors import SessionLogWarning
from luma_nb._session_fold import TERMINAL_STATES, usable_task_id

if TYPE_CHECKING:
    from luma_nb.models import Task
    from luma_nb.session_log import SessionLog

__all__ = ["ResumeResult", "record_resumed", "resume_hook", "resume_plan"]

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 40


class ResumeResult(list["Task"]):
    """The final tasks of :meth:`SessionLog.resume`, in row order (a plain list of them).

    Attributes
    ----------
    skipped : list of dict
        The unfinished rows left alone because their task id cannot be polled (a hand edit:
        not text — the row shows ``None`` —, blank, huge, or holding spaces or control
        characters). Each is a log row (keys :data:`~luma_nb.session_log.COLUMNS`); a
        :class:`SessionLogWarning` named them.
    """

    def __init__(self, tasks: Iterable[Task] = (), skipped: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(tasks)
        self.skipped: list[dict[str, Any]] = list(skipped)


def resume_plan(log: SessionLog) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The pending tasks to wait for (task id -> iteration) and the rows skipped.

    Events a failed write kept in memory are written first (an ``OSError`` while the disk
    is still full): a task whose ``submitted`` event was kept is then pending like any other.
    A row that is not finished and has a task id that cannot be polled — text that is blank,
    huge or holds spaces or control characters, or a value that is not text at all (read as
    missing) — is skipped and reported; it never stops the others.
    """
    log.flush()
    by_task: dict[str, str] = {}
    skipped: list[dict[str, Any]] = []
    records = log.to_records()
    dropped = log._fold.bad_task_ids()
    for row in records:
        if row["state"] in TERMINAL_STATES:
            continue
        task_id = row["task_id"]
        if usable_task_id(task_id):
            by_task[task_id] = row["iteration"]  # the same rows as log.pending()
        elif task_id is not None or row["iteration"] in dropped:
            skipped.append(row)
    if skipped:
        shown = ", ".join(
            f"{row['iteration']!r} (task id {_SHORT.repr(row['task_id'])})" for row in skipped[:5]
        )
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            f"luma_nb: resume skipped {len(skipped)} unfinished row(s) of the session log "
            f"{log.path} whose task id cannot be polled (a hand edit?): {shown}{more}. The "
            "other rows are resumed; the skipped ones are in the result's .skipped.",
            SessionLogWarning,
            stacklevel=3,
        )
    return by_task, skipped


def resume_hook(
    log: SessionLog, by_task: dict[str, str], on_update: Callable[[Task], object] | None
) -> Callable[[Task], None]:
    """The ``on_update`` of the wait: log every change, then call the user's hook."""

    def hook(task: Task) -> None:
        record_resumed(log, by_task, task)
        if on_update is not None:
            on_update(task)

    return hook


def record_resumed(log: SessionLog, by_task: dict[str, str], task: Task) -> None:
    """Log a fresh look at a resumed task (nothing when it did not change)."""
    iteration = by_task.get(task.id)
    if iteration is not None:
        log.update(iteration, task)
