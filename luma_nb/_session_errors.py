"""The session log's own warning and errors (exported from :mod:`luma_nb.session_log`).

- :class:`SessionLogWarning` — a line or a value of the file could not be read and was
  skipped;
- :class:`IterationExistsError` — ``begin`` refused an iteration id the file already holds,
  perhaps begun a moment earlier by another process (nothing written, nothing submitted);
- :class:`SessionLogWriteError` — a paid submit succeeded but its task could not be written
  to the log (a full disk): the task id travels in the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from luma_nb.errors import LumaError, ValidationError

if TYPE_CHECKING:
    from luma_nb.models import Task

__all__ = [
    "IterationExistsError",
    "SessionLogWarning",
    "SessionLogWriteError",
    "dropped_message",
    "unreadable_message",
]


class SessionLogWarning(UserWarning):
    """Part of a session log could not be read (a crash mid-write, a hand edit) and was
    skipped: a line, or a value of the wrong type (read as missing), or a pending row whose
    task id cannot be polled."""


class IterationExistsError(ValidationError):
    """:meth:`SessionLog.begin` refused an iteration id that the session log already holds.

    The check and the write are one atomic step across processes, so when two kernels (or
    two ``resume_experiment`` calls) begin the same iteration at the same instant, exactly
    one wins; the other gets this error, and has written and submitted nothing.

    Attributes
    ----------
    iteration : str
        The iteration id asked for.
    path : Path
        The session log.
    """

    def __init__(self, iteration: str, path: Path | str) -> None:
        super().__init__(
            f"iteration {iteration!r} already exists in the session log {path} (begun by this "
            "or another process); nothing was written or submitted",
            field="iteration",
        )
        self.iteration = iteration
        self.path = Path(path)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.iteration, self.path))


class SessionLogWriteError(LumaError, OSError):
    """The video was submitted (and may be billed), but the session log could not record it.

    Raised by the notebook helpers, the panel and studies when writing the ``submitted``
    event fails after the paid POST returned a task (a full disk: ``ENOSPC``, an I/O error).
    The task id is never lost: it is an attribute, it is in the message, and a line with it
    went to stderr. The unwritten event is kept in memory by the :class:`SessionLog` and
    written, before anything else, by its next successful write (or ``log.flush()``); after
    that ``log.resume(client)`` finds the task. It is an ``OSError`` too (``errno`` is the
    write's), so handlers of disk errors catch it.

    Attributes
    ----------
    task_id : str
        The task the submit created: ``client.wait(error.task_id)`` re-attaches to it.
    task : Task or None
        The task record the submit returned.
    iteration : str
        The iteration in the session log.
    path : Path
        The session log.
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        iteration: str,
        path: Path | str,
        errno: int | None = None,
        task: Task | None = None,
    ) -> None:
        if errno is None:
            super().__init__(message)
        else:
            super().__init__(errno, message)
        self.task_id = task_id
        self.iteration = iteration
        self.path = Path(path)
        self.task = task
        self.message = message

    @classmethod
    def after_submit(
        cls, task: Task, iteration: str, path: Path | str, cause: OSError
    ) -> SessionLogWriteError:
        """The error for ``task``, whose ``submitted`` event failed with ``cause``."""
        reason = cause.strerror or str(cause) or type(cause).__name__
        message = (
            f"the video was submitted and may be billed: task {task.id} (iteration "
            f"{iteration}), but the session log {path} could not record it ({reason}). The "
            "event is kept in memory and written by the next successful write to this log "
            f"(or log.flush()); meanwhile re-attach with client.wait({task.id!r})."
        )
        return cls(
            message, task_id=task.id, iteration=iteration, path=path, errno=cause.errno, task=task
        )

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.message, self.task_id, self.iteration, self.path, self.errno))


def _rebuild(
    message: str, task_id: str, iteration: str, path: Path, errno: int | None
) -> SessionLogWriteError:
    return SessionLogWriteError(
        message, task_id=task_id, iteration=iteration, path=path, errno=errno
    )


# ----------------------------------------------------------------------------- messages


def unreadable_message(path: object, lines: list[int]) -> str:
    """The warning for unreadable lines of a session file (every engine gives this one)."""
    shown = ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
    return (
        f"luma_nb: skipped {len(lines)} unreadable line(s) of the session log {path} "
        f"(line {shown}); the rest loads. A crash in the middle of a write leaves a "
        "truncated last line."
    )


def dropped_message(path: object, dropped: list[tuple[str, str, str]]) -> str:
    """The warning for values of the wrong type (:attr:`Fold.dropped`) read as missing."""
    shown = "; ".join(f"{it!r} {key}={value}" for it, key, value in dropped[:5])
    more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
    return (
        f"luma_nb: values of the wrong type in the session log {path} read as "
        f"missing (a hand edit?): {shown}{more}"
    )
