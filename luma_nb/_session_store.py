"""The storage half of :class:`~luma_nb.SessionLog`: the file, its fold, and safe writes.

- every read folds only what was appended since the last look (the whole file the first
  time, or again when the file was replaced or truncated);
- every write is one locked append; ``begin``'s claim of an iteration id re-reads the file
  and appends under the same exclusive lock (:func:`luma_nb._session_file.append_line`'s
  ``check``), one atomic step across processes;
- an event that records what happened on the server (``submitted``, ``update``,
  ``submit_failed``) is kept in memory when its write fails (a full disk) and written, in
  order and before anything else, by the next write that succeeds.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luma_nb._session_errors import (
    IterationExistsError,
    SessionLogWarning,
    dropped_message,
    unreadable_message,
)
from luma_nb._session_fold import (
    SCHEMA_VERSION,
    Fold,
    append_line,
    encode_event,
    paused_gc,
    read_events,
    task_payload,
)
from luma_nb.errors import ValidationError
from luma_nb.models import Task

__all__ = ["LogStore"]


class LogStore:
    """The file of a session log, folded incrementally, with locked and kept writes."""

    path: Path
    session_id: str
    _clock: Callable[[], float]

    def __init__(self, *, fsync: bool) -> None:
        self.fsync = fsync
        self._mutex = threading.RLock()
        self._fold = Fold()
        self._identity: tuple[int, int] | None = None
        self._offset = 0  # bytes of the file folded so far, always at a line boundary
        self._next_line = 1
        self._warned: set[int] = set()
        self._begun: set[str] = set()
        self._last_task: dict[str, dict[str, Any]] = {}
        self._backlog: list[bytes] = []  # events a failed write kept (see flush)

    def flush(self) -> int:
        """Write the events a failed write kept in memory, in order; returns how many.

        Every write does this first anyway; call it to retry after freeing disk space.
        Raises the ``OSError`` again (and keeps the events) while the file cannot be written.
        """
        with self._mutex:
            count = len(self._backlog)
            self._flush_backlog()
        return count

    @property
    def unwritten(self) -> int:
        """How many events a failed write keeps in memory, waiting for :meth:`flush`."""
        return len(self._backlog)

    def _claim(self, iteration: str, payload: dict[str, Any]) -> None:
        """Write ``submitting`` for ``iteration`` unless the file holds it: one locked step.

        The check runs under the append's exclusive lock and re-reads the file's tail through
        the locked descriptor, so no other process can begin the same id in between.
        """
        if iteration in self._begun:
            raise IterationExistsError(iteration, self.path)

        def check(fd: int) -> None:
            if iteration in self._refresh(fd):
                raise IterationExistsError(iteration, self.path)

        self._flush_backlog()  # what happened before this begin goes first
        line = encode_event(self._event("submitting", iteration, payload))
        append_line(self.path, line, fsync=self.fsync, check=check)
        self._begun.add(iteration)

    def _record_task(self, kind: str, iteration: str, task: Task) -> None:
        if not isinstance(task, Task):
            raise ValidationError(f"{kind} needs a Task, not {type(task).__name__}", field="task")
        full = task_payload(task)
        with self._mutex:
            payload = full
            last = self._last_task.get(iteration)
            if kind == "update" and last is not None:
                # Only what changed (the fold keeps the rest): small lines fold fast.
                changed = {key: value for key, value in full.items() if last.get(key) != value}
                if not changed:
                    return  # nothing new: polling must not bloat the log
                payload = {"state": full["state"], **changed}
            self._write_for(iteration, kind, payload, keep=True)
            self._last_task[iteration] = full

    def _write_for(
        self, iteration: str, kind: str, payload: dict[str, Any], *, keep: bool = False
    ) -> None:
        with self._mutex:
            self._require(iteration)
            self._write(kind, iteration, payload, keep=keep)

    def _require(self, iteration: object) -> None:
        if not isinstance(iteration, str):
            raise ValidationError(
                f"an iteration id is a string, not {type(iteration).__name__}", field="iteration"
            )
        # Another process may have begun it, so a miss re-reads the file before refusing.
        if iteration not in self._begun and iteration not in self._refresh():
            raise ValidationError(self._unknown(iteration), field="iteration")

    def _unknown(self, iteration: object) -> str:
        return f"no iteration {iteration!r} in the session log {self.path}"

    def _event(self, kind: str, iteration: str | None, payload: dict[str, Any]) -> dict[str, Any]:
        event: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "event": kind,
            "t": round(self._clock(), 3),  # milliseconds are plenty, and shorter lines
            "session": self.session_id,
            "iteration": iteration,
        }
        event.update(payload)
        return event

    def _write(
        self, kind: str, iteration: str, payload: dict[str, Any], *, keep: bool = False
    ) -> None:
        """Append one event, after any kept ones; ``keep`` keeps it too if the write fails."""
        line = encode_event(self._event(kind, iteration, payload))
        with self._mutex:
            try:
                self._flush_backlog()
                append_line(self.path, line, fsync=self.fsync)
            except OSError:
                if keep:  # what happened on the server must reach the file eventually
                    self._backlog.append(line)
                raise

    def _append_checked(self, event: dict[str, Any], check: Callable[[int], object]) -> None:
        """Append an event (e.g. a study's plan) if ``check(fd)``, run under the lock, passes."""
        with self._mutex:
            self._flush_backlog()
            append_line(self.path, encode_event(event), fsync=self.fsync, check=check)

    def _flush_backlog(self) -> None:
        if self._backlog:
            # One write, in order. A write that fails half-way is retried whole next time:
            # an event written twice folds the same (the next writer ends a torn line).
            append_line(self.path, b"".join(self._backlog), fsync=self.fsync)
            self._backlog.clear()

    def _refresh(self, fd: int | None = None) -> Fold:
        """Fold whatever was appended since the last look (the whole file the first time).

        ``fd``: a descriptor of the file that holds the append lock (see ``_claim``); the
        file is then read through it.
        """
        try:
            stat = self.path.stat() if fd is None else os.fstat(fd)
        except FileNotFoundError:
            return self._fold
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._identity or stat.st_size < self._offset:
            # A replaced or truncated file: start over rather than fold a stranger's offsets.
            self._fold, self._offset, self._next_line = Fold(), 0, 1
            self._identity = identity
            self._warned.clear()
        if stat.st_size == self._offset:
            return self._fold
        try:
            with paused_gc():
                # Folded block by block as it is parsed: half the memory of a list of events.
                _, consumed, lines, bad = read_events(
                    self.path, self._offset, self._next_line, self._fold.add_all, fd=fd
                )
        except BaseException:
            # Part of the data may be folded already: start afresh next time, never twice.
            self._fold, self._offset, self._next_line, self._identity = Fold(), 0, 1, None
            raise
        self._offset += consumed
        self._next_line += lines
        self._warn(bad)
        return self._fold

    def _warn(self, bad: list[int]) -> None:
        fresh = [n for n in bad if n not in self._warned]
        if not fresh:
            return
        self._warned.update(fresh)
        warnings.warn(unreadable_message(self.path, fresh), SessionLogWarning, stacklevel=4)

    def _values(self) -> list[tuple[Any, ...]]:
        fold = self._refresh()
        values = fold.values()
        self._warn_dropped(fold)
        return values

    def _warn_dropped(self, fold: Fold) -> None:
        dropped = fold.dropped
        if not dropped:
            return
        message = dropped_message(self.path, dropped)
        dropped.clear()
        warnings.warn(message, SessionLogWarning, stacklevel=3)
