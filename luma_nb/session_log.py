"""The session log: every prompt iteration, kept in an append-only JSONL file.

Each line is one event (``submitting``, ``submitted``, ``update``, ``submit_failed``,
``media``, ``rate``, ``note``, ``tag``). The ``submitting`` event is written *before* the paid
POST and ``submitted`` (the task id) before anyone waits, so a crash or a kernel restart loses
nothing and :meth:`SessionLog.resume` can re-attach to tasks that were still running.
Folding the events gives one flat row per iteration (:data:`COLUMNS`); the columns and the
event schema are documented in ``docs/session-log.md``.

Example
-------
>>> log = luma_nb.SessionLog()  # ./luma_sessions/session-<start>.jsonl  # doctest: +SKIP
>>> it = log.begin(request, backend=client.backend)  # doctest: +SKIP
>>> log.submitted(it, client.submit(request))  # doctest: +SKIP
>>> log.to_dataframe()  # doctest: +SKIP

Writers never tear or interleave lines: each event is one ``os.write`` on a descriptor opened
with ``O_APPEND``, under an exclusive ``flock``, so two notebooks (or many processes) can share
one file. Readers take a shared lock and skip, with a :class:`SessionLogWarning`, a line a
crash cut short.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._session_fold import (
    COLUMNS,
    SCHEMA_VERSION,
    TERMINAL_STATES,
    Fold,
    append_line,
    check_label,
    check_tags,
    encode_event,
    error_payload,
    frame,
    import_pandas,
    paused_gc,
    read_events,
    request_payload,
    session_files,
    task_payload,
)
from luma_nb._version import __version__
from luma_nb.errors import ValidationError
from luma_nb.models import Task, VideoRequest

if TYPE_CHECKING:
    import pandas

    from luma_nb.chain import ChainPlayer, Timeline
    from luma_nb.client import AsyncClient, Client
    from luma_nb.models import Video

__all__ = ["COLUMNS", "SCHEMA_VERSION", "SessionLog", "SessionLogWarning", "load_sessions"]

#: Where sessions go when no path or folder is given (relative to the working directory).
DEFAULT_FOLDER = "luma_sessions"
_MAX_ID_CHARS = 64


class SessionLogWarning(UserWarning):
    """A session-log line could not be read (a crash mid-write, a hand edit) and was skipped."""


class SessionLog:
    """An append-only JSONL log of prompt iterations, folded into one row per iteration.

    Parameters
    ----------
    path : str or Path, optional
        The session file. An existing file is appended to (a session can be reopened after a
        restart); an existing folder gets a new session file. Default: a new file
        ``session-YYYYmmdd-HHMMSS-<4 hex>.jsonl`` (local start time) in ``folder``.
    folder : str or Path, optional
        Where a new session file goes; default ``./luma_sessions``. Not with ``path``.
    fsync : bool
        Also ``fsync`` every event (survives a power cut, not only a crash; slower).
    clock : callable, optional
        Epoch seconds for event times and the file name; for tests.

    Notes
    -----
    Nothing is created until the first event is written. A write error (disk full, no
    permission) is raised, not swallowed: the ``submitting`` event is written before the
    paid POST, so a log that cannot be written stops the submission before it costs anything.
    The log holds only what the models hold — never the API token.
    """

    path: Path
    session_id: str

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        folder: str | Path | None = None,
        fsync: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if path is not None and folder is not None:
            raise ValidationError("give a session path or a folder, not both", field="folder")
        self._clock = clock or time.time
        if path is not None and Path(path).expanduser().is_dir():
            path, folder = None, path
        if path is None:
            base = Path(folder).expanduser() if folder is not None else Path(DEFAULT_FOLDER)
            path = base / _session_file_name(self._clock())
        # Absolute now: a notebook's %cd must not move the log half-way through a session.
        self.path = Path(path).expanduser().absolute()
        self.session_id = self.path.stem
        self.fsync = fsync
        self._mutex = threading.RLock()
        self._fold = Fold()
        self._identity: tuple[int, int] | None = None
        self._offset = 0  # bytes of the file folded so far, always at a line boundary
        self._next_line = 1
        self._warned: set[int] = set()
        self._begun: set[str] = set()
        self._last_task: dict[str, dict[str, Any]] = {}

    @classmethod
    def latest(cls, folder: str | Path | None = None, **options: Any) -> SessionLog:
        """Reopen the most recently written session in ``folder`` (default ``./luma_sessions``).

        The way back after a kernel restart: ``SessionLog.latest().resume(client)``.
        """
        base = Path(folder if folder is not None else DEFAULT_FOLDER).expanduser()
        files = [p for p in base.glob("*.jsonl") if p.is_file()]
        if not files:
            raise FileNotFoundError(f"no session log (*.jsonl) in {base.absolute()}")
        newest = max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))
        return cls(newest, **options)

    # ------------------------------------------------------------------ writing events

    def begin(
        self,
        request: VideoRequest,
        *,
        backend: str,
        parent: str | None = None,
        experiment: str | None = None,
        arm: str | None = None,
        tags: Sequence[str] = (),
        iteration: str | None = None,
    ) -> str:
        """Record an iteration about to be submitted; call it *before* the paid POST.

        Parameters
        ----------
        request : VideoRequest
            What will be sent; every field is recorded, defaults included.
        backend : str
            ``"api"`` or ``"simulator"`` (``client.backend``).
        parent : str, optional
            The iteration this one extends (followed by :meth:`lineage`).
        experiment, arm : str, optional
            Labels for comparisons (e.g. ``arm="enhancement-off"``).
        tags : sequence of str
            Free labels; more can be added with :meth:`tag`.
        iteration : str, optional
            An id of your choosing; default ``"it-"`` + 8 hex digits.

        Returns
        -------
        str
            The iteration id, for the later calls.
        """
        if not isinstance(request, VideoRequest):
            raise ValidationError(
                f"begin needs a VideoRequest, not {type(request).__name__}", field="request"
            )
        check_label(backend, "backend", optional=False)
        for name, value in (("parent", parent), ("experiment", experiment), ("arm", arm)):
            check_label(value, name)
        clean_tags = check_tags(tags)
        with self._mutex:
            iteration = self._new_iteration(iteration)
            # A field absent from the event was not sent; the fold shows it as None.
            payload = request_payload(request)
            payload["backend"] = backend
            labels = (("parent", parent), ("experiment", experiment), ("arm", arm))
            payload.update((key, value) for key, value in labels if value is not None)
            if clean_tags:
                payload["tags"] = clean_tags
            payload["toolkit_version"] = __version__
            self._write("submitting", iteration, payload)
            self._begun.add(iteration)
        return iteration

    def submitted(self, iteration: str, task: Task) -> None:
        """Record the task a submit returned (its id and trace id), before anyone waits."""
        self._record_task("submitted", iteration, task)

    def update(self, iteration: str, task: Task) -> None:
        """Record a fresh look at the task: a state change, the video, or the failure.

        A task identical to the last one recorded for the iteration writes nothing, so this
        can be an ``on_update`` callback.
        """
        self._record_task("update", iteration, task)

    def submit_failed(self, iteration: str, error: BaseException) -> None:
        """Record a submit that raised before any task existed.

        The row gets ``error_type`` (the exception class), ``error_code``, ``error_message``
        and ``trace_id`` when the error has them, and the state ``failed`` — or
        ``outcome_unknown`` for :class:`~luma_nb.errors.SubmitOutcomeUnknownError` and for
        anything that is not a luma_nb error (an interrupt in the middle of the POST): such a
        submit may have been billed, so check the task list before resubmitting.
        """
        if not isinstance(error, BaseException):
            raise ValidationError("submit_failed needs the exception raised", field="error")
        self._write_for(iteration, "submit_failed", error_payload(error))

    def media(self, iteration: str, path: str | Path) -> None:
        """Record where the video was saved locally (stored as an absolute path)."""
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"path must be a path, not {path!r}", field="path")
        self._write_for(iteration, "media", {"media_path": os.path.abspath(os.fspath(path))})

    def rate(self, iteration: str, stars: int, note: str | None = None) -> None:
        """Rate an iteration from 1 to 5 stars, optionally with a note (the last rating wins)."""
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            raise ValidationError(
                f"stars must be a whole number 1 to 5, not {stars!r}", field="stars"
            )
        if note is not None and not isinstance(note, str):
            raise ValidationError(f"note must be text, not {type(note).__name__}", field="note")
        payload: dict[str, Any] = {"rating": stars}
        if note is not None:
            payload["note"] = note
        self._write_for(iteration, "rate", payload)

    def note(self, iteration: str, text: str) -> None:
        """Attach a note to an iteration (the last note wins; ``""`` clears it)."""
        if not isinstance(text, str):
            raise ValidationError(f"a note must be text, not {type(text).__name__}", field="note")
        self._write_for(iteration, "note", {"note": text})

    def tag(self, iteration: str, *tags: str) -> None:
        """Add tags to an iteration (tags already there are kept once)."""
        clean = check_tags(tags)
        if clean:
            self._write_for(iteration, "tag", {"tags": clean})

    # ------------------------------------------------------------------ reading

    def events(self) -> list[dict[str, Any]]:
        """Every readable event of the file, in file order (corrupt lines skipped, warned)."""
        with self._mutex, paused_gc():
            events, _, _, bad = read_events(self.path, 0, 1)
        self._warn(bad)
        return events

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per iteration, keys exactly :data:`COLUMNS`, in submission order."""
        with self._mutex, paused_gc():
            return self._refresh().records()

    def to_dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        with self._mutex, paused_gc():
            return frame(self._refresh().values())

    def row(self, iteration: str) -> dict[str, Any]:
        """One iteration's row (ValidationError when the session has no such iteration)."""
        with self._mutex:
            record = self._refresh().record(iteration)
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
        chain.reverse()
        return chain

    # ------------------------------------------------------------------ views and export

    def timeline(
        self, iteration: str | Video | None = None, *, embed: bool | None = None
    ) -> Timeline:
        """The extend chain ending at ``iteration`` as a timeline of clips (default: the last).

        See :func:`luma_nb.chain.timeline`.
        """
        from luma_nb.chain import timeline

        return timeline(self, iteration, embed=embed)

    def chain_player(
        self,
        iteration: str | Video | None = None,
        *,
        embed: bool | None = None,
        mode: str = "sequence",
    ) -> ChainPlayer:
        """One player for the extend chain ending at ``iteration`` (default: the last).

        See :func:`luma_nb.chain.chain_player`.
        """
        from luma_nb.chain import chain_player

        return chain_player(self, iteration, embed=embed, mode=mode)

    def export_html(
        self,
        path: str | os.PathLike[str],
        *,
        title: str | None = None,
        embed: bool | None = None,
        summary_html: object = None,
    ) -> Path:
        """Write this session as one standalone HTML file; returns its absolute path.

        See :func:`luma_nb.report.export_html`.
        """
        from luma_nb.report import export_html

        return export_html(self, path, title=title, embed=embed, summary_html=summary_html)

    def __len__(self) -> int:
        with self._mutex:
            return len(self._refresh())

    def __repr__(self) -> str:
        try:
            count: object = len(self)
        except OSError:
            count = "?"
        return f"SessionLog({str(self.path)!r}, iterations={count})"

    # ------------------------------------------------------------------ resuming

    def resume(
        self,
        client: Client,
        *,
        max_wait: float | None = None,
        on_update: Callable[[Task], object] | None = None,
    ) -> list[Task]:
        """Wait for the pending tasks (see :meth:`pending`), logging every change.

        For the blocking :class:`~luma_nb.Client`; with an ``AsyncClient`` use
        ``await log.aresume(client)``. Returns the final tasks in row order. A
        :class:`~luma_nb.errors.WaitTimeoutError` at ``max_wait`` propagates; the changes seen
        until then are already in the log, and ``resume`` can be called again later.
        """
        by_task = self._pending_tasks()
        if not by_task:
            return []
        hook = self._resume_hook(by_task, on_update)
        tasks = client.wait_many(list(by_task), max_wait=max_wait, on_update=hook)
        for task in tasks:
            self._resumed(by_task, task)
        return tasks

    async def aresume(
        self,
        client: AsyncClient,
        *,
        max_wait: float | None = None,
        on_update: Callable[[Task], object] | None = None,
    ) -> list[Task]:
        """:meth:`resume` for an :class:`~luma_nb.AsyncClient` (``await log.aresume(client)``)."""
        by_task = self._pending_tasks()
        if not by_task:
            return []
        hook = self._resume_hook(by_task, on_update)
        tasks = await client.wait_many(list(by_task), max_wait=max_wait, on_update=hook)
        for task in tasks:
            self._resumed(by_task, task)
        return tasks

    def _pending_tasks(self) -> dict[str, str]:
        return {row["task_id"]: row["iteration"] for row in self.pending()}

    def _resume_hook(
        self, by_task: dict[str, str], on_update: Callable[[Task], object] | None
    ) -> Callable[[Task], None]:
        def hook(task: Task) -> None:
            self._resumed(by_task, task)
            if on_update is not None:
                on_update(task)

        return hook

    def _resumed(self, by_task: dict[str, str], task: Task) -> None:
        iteration = by_task.get(task.id)
        if iteration is not None:
            self.update(iteration, task)

    # ------------------------------------------------------------------ internals

    def _new_iteration(self, wanted: str | None) -> str:
        fold = self._refresh()
        if wanted is not None:
            check_label(wanted, "iteration")
            if any(c.isspace() for c in wanted) or len(wanted) > _MAX_ID_CHARS:
                raise ValidationError(
                    f"an iteration id is up to {_MAX_ID_CHARS} characters without spaces",
                    field="iteration",
                )
            if wanted in fold or wanted in self._begun:
                raise ValidationError(
                    f"iteration {wanted!r} already exists in this session", field="iteration"
                )
            return wanted
        while True:
            candidate = "it-" + secrets.token_hex(4)
            if candidate not in fold and candidate not in self._begun:
                return candidate

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
            self._write_for(iteration, kind, payload)
            self._last_task[iteration] = full

    def _write_for(self, iteration: str, kind: str, payload: dict[str, Any]) -> None:
        with self._mutex:
            self._require(iteration)
            self._write(kind, iteration, payload)

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

    def _write(self, kind: str, iteration: str, payload: dict[str, Any]) -> None:
        event: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "event": kind,
            "t": round(self._clock(), 3),  # milliseconds are plenty, and shorter lines
            "session": self.session_id,
            "iteration": iteration,
        }
        event.update(payload)
        append_line(self.path, encode_event(event), fsync=self.fsync)

    def _refresh(self) -> Fold:
        """Fold whatever was appended since the last look (the whole file the first time)."""
        try:
            stat = self.path.stat()
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
                    self.path, self._offset, self._next_line, self._fold.add_all
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
        shown = ", ".join(map(str, fresh[:10])) + (", ..." if len(fresh) > 10 else "")
        warnings.warn(
            f"luma_nb: skipped {len(fresh)} unreadable line(s) of the session log {self.path} "
            f"(line {shown}); the rest loads. A crash in the middle of a write leaves a "
            "truncated last line.",
            SessionLogWarning,
            stacklevel=4,
        )


# ----------------------------------------------------------------------------- many sessions


def load_sessions(folder_or_glob: str | Path) -> pandas.DataFrame:
    """Load many session files into one DataFrame (needs the ``pandas`` extra).

    Parameters
    ----------
    folder_or_glob : str or Path
        A folder (every ``*.jsonl`` in it), a glob pattern (``"runs/**/*.jsonl"``) or one
        file. An empty folder or a pattern matching nothing gives an empty frame.

    Returns
    -------
    pandas.DataFrame
        The rows of every session, files in name order (default names sort by start time);
        the ``session`` column tells them apart.
    """
    import_pandas()  # fail before reading anything when pandas is missing
    values: list[tuple[Any, ...]] = []
    with paused_gc():
        for file in session_files(folder_or_glob):
            values.extend(SessionLog(file)._refresh().values())
        return frame(values)


def _session_file_name(now: float) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    # The random suffix keeps two sessions started in the same second apart.
    return f"session-{stamp}-{secrets.token_hex(2)}.jsonl"
