"""Reading a session log: the events, the folded rows, one row, a lineage.

:class:`LogReader` is the reading half of :class:`luma_nb.session_log.SessionLog`, whose
docstring describes the file; the writing half (the events) stays there, the storage below
both in :mod:`luma_nb._session_store`. Every read folds only what the file gained since the
last one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from luma_nb._session_fold import TERMINAL_STATES, frame, paused_gc, read_events
from luma_nb._session_store import LogStore
from luma_nb.errors import ValidationError

if TYPE_CHECKING:
    import pandas

__all__ = ["LogReader"]


class LogReader(LogStore):
    """The reading methods of a session log (see :class:`~luma_nb.session_log.SessionLog`)."""

    def events(self) -> list[dict[str, Any]]:
        """Every readable event of the file, in file order (corrupt lines skipped, warned)."""
        with self._mutex, paused_gc():
            events, _, _, bad = read_events(self.path, 0, 1)
        self._warn(bad)
        return events

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per iteration, keys exactly :data:`COLUMNS`, in submission order.

        Every value has its column's documented type or is ``None``: a value of another
        type (a hand edit) reads as missing, with a :class:`SessionLogWarning`.
        """
        with self._mutex, paused_gc():
            fold = self._refresh()
            records = fold.records()
            self._warn_dropped(fold)
        return records

    def to_dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        with self._mutex, paused_gc():
            return frame(self._values())

    def row(self, iteration: str) -> dict[str, Any]:
        """One iteration's row (ValidationError when the session has no such iteration)."""
        with self._mutex:
            fold = self._refresh()
            record = fold.record(iteration)
            self._warn_dropped(fold)
        if record is None:
            raise ValidationError(self._unknown(iteration), field="iteration")
        return record

    def find(self, *, task_id: str | None = None, video_id: str | None = None) -> str | None:
        """The (latest) iteration whose task id or result video id matches, or None."""
        if task_id is None and video_id is None:
            raise ValidationError("find needs task_id= or video_id=", field="task_id")
        with self._mutex:
            return self._refresh().find(task_id=task_id, video_id=video_id)

    def pending(self) -> list[dict[str, Any]]:
        """Rows whose task was submitted but has not finished (as far as the log knows)."""
        return [
            row
            for row in self.to_records()
            # isinstance: a hand-edited task_id that is not text names no task to wait for
            if isinstance(row["task_id"], str)
            and row["task_id"]
            and row["state"] not in TERMINAL_STATES
        ]

    def lineage(self, iteration: str) -> list[dict[str, Any]]:
        """The rows from the root ``generate`` to ``iteration``, following ``parent``.

        The chain stops early at a parent that is not in this session.
        """
        with self._mutex:
            fold = self._refresh()
            if iteration not in fold:
                raise ValidationError(self._unknown(iteration), field="iteration")
            chain: list[dict[str, Any]] = []
            seen: set[str] = set()
            current = iteration
            # `seen` guards against a hand-edited log whose parents form a loop.
            while (
                isinstance(current, str)  # a hand-edited parent may be anything
                and current not in seen
                and (row := fold.record(current)) is not None
            ):
                seen.add(current)
                chain.append(row)
                current = row["parent"]
            self._warn_dropped(fold)
        chain.reverse()
        return chain

    def __len__(self) -> int:
        with self._mutex:
            return len(self._refresh())
