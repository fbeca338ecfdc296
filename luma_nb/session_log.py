"""The session log: every prompt iteration, kept in an append-only JSONL file.

Each line is one event (``submitting``, ``submitted``, ``update``, ``submit_failed``,
``media``, ``metrics``, ``rate``, ``note``, ``tag``). The ``submitting`` event is written
*before* the paid POST and ``submitted`` (the task id) before anyone waits, so a crash or a
kernel restart loses nothing and :meth:`SessionLog.resume` can re-attach to tasks that were
still running.
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
one file. ``begin`` re-reads the file and appends under one lock, so an iteration id is
claimed once across processes (:class:`IterationExistsError` for the others). Readers take a
shared lock and skip, with a :class:`SessionLogWarning`, a line a crash cut short; a value of
the wrong type (a hand edit) reads as missing, with the same warning.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._session_errors import (
    IterationExistsError,
    SessionLogWarning,
    SessionLogWriteError,
)
from luma_nb._session_fold import (
    COLUMNS,
    SCHEMA_VERSION,
    check_iteration_id,
    check_label,
    check_tags,
    error_payload,
    frame,
    import_pandas,
    metrics_payload,
    paused_gc,
    request_payload,
    session_files,
)
from luma_nb._session_reader import LogReader
from luma_nb._session_resume import ResumeResult, record_resumed, resume_hook, resume_plan
from luma_nb._version import __version__
from luma_nb.errors import ValidationError
from luma_nb.models import Task, VideoRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas

    from luma_nb.client import AsyncClient, Client
    from luma_nb.video_metrics import VideoMetrics

__all__ = [
    "COLUMNS",
    "SCHEMA_VERSION",
    "IterationExistsError",
    "ResumeResult",
    "SessionLog",
    "SessionLogWarning",
    "SessionLogWriteError",
    "load_sessions",
    "to_parquet",
]

#: Where sessions go when no path or folder is given (relative to the working directory).
DEFAULT_FOLDER = "luma_sessions"


class SessionLog(LogReader):
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
    What happened on the server (``submitted``, ``update``, ``submit_failed``) is never lost
    to a failed write: the event is kept in memory and written, in order, before anything
    else by the next write that succeeds (or :meth:`flush`).
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
        super().__init__(fsync=fsync)

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

        Raises
        ------
        IterationExistsError
            ``iteration`` is already in the file. The file is re-read and the event appended
            under one exclusive lock, so of two processes that begin the same id at the same
            instant exactly one succeeds; the other has written nothing (and must submit
            nothing).
        """
        if not isinstance(request, VideoRequest):
            raise ValidationError(
                f"begin needs a VideoRequest, not {type(request).__name__}", field="request"
            )
        check_label(backend, "backend", optional=False)
        for name, value in (("parent", parent), ("experiment", experiment), ("arm", arm)):
            check_label(value, name)
        clean_tags = check_tags(tags)
        if iteration is not None:
            check_iteration_id(iteration)
        # A field absent from the event was not sent; the fold shows it as None.
        payload = request_payload(request)
        payload["backend"] = backend
        labels = (("parent", parent), ("experiment", experiment), ("arm", arm))
        payload.update((key, value) for key, value in labels if value is not None)
        if clean_tags:
            payload["tags"] = clean_tags
        payload["toolkit_version"] = __version__
        with self._mutex:
            if iteration is not None:
                self._claim(iteration, payload)
                return iteration
            while True:
                candidate = "it-" + secrets.token_hex(4)
                if candidate in self._begun:
                    continue
                try:
                    self._claim(candidate, payload)
                except IterationExistsError:
                    continue  # one chance in four billion: draw again
                return candidate

    def submitted(self, iteration: str, task: Task) -> None:
        """Record the task a submit returned (its id and trace id), before anyone waits.

        When the write fails (``OSError``), the event is kept in memory and written by the
        next successful write; the notebook helpers turn the failure into a
        :class:`SessionLogWriteError` that carries the task id.
        """
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
        and ``trace_id`` when the error has them, and the state ``failed`` only when the error
        proves that no task was made (:func:`~luma_nb.errors.proves_nothing_billed`: a check
        before any request, a network failure before anything was sent, a definite refusal
        such as moderation or an exhausted balance). Anything else — an outcome-unknown
        submit, a server-side failure code (``timeout``, ``api_error``, ``busy``) whatever the
        HTTP status, an interrupt in the middle of the POST, an unknown error — gives
        ``outcome_unknown``: it may have been billed, so check the task list before
        resubmitting.
        """
        if not isinstance(error, BaseException):
            raise ValidationError("submit_failed needs the exception raised", field="error")
        self._write_for(iteration, "submit_failed", error_payload(error), keep=True)

    def media(self, iteration: str, path: str | Path) -> None:
        """Record where the video was saved locally (stored as an absolute path)."""
        if not isinstance(path, (str, os.PathLike)):
            raise ValidationError(f"path must be a path, not {path!r}", field="path")
        self._write_for(iteration, "media", {"media_path": os.path.abspath(os.fspath(path))})

    def metrics(
        self, iteration: str, measured: VideoMetrics | Mapping[str, float | int | None]
    ) -> None:
        """Record what was measured from the iteration's video file (the last record wins).

        Parameters
        ----------
        iteration : str
            The iteration whose video was measured.
        measured : VideoMetrics or mapping
            :func:`luma_nb.video_metrics.measure_video`'s result, or a mapping of some of its
            columns (``metric_motion`` ... ``metric_cuts``, ``duration``, ``fps``, ``frames``,
            ``width``, ``height``, ``bitrate``). The row gets them as columns; the measured
            ``width``/``height`` replace the ones the API reported.

        Raises
        ------
        ValidationError
            An unknown column, or a value that is not a finite number (or ``None``).
        """
        self._write_for(iteration, "metrics", metrics_payload(measured))

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
    ) -> ResumeResult:
        """Wait for the pending tasks (see :meth:`pending`), logging every change.

        For the blocking :class:`~luma_nb.Client`; with an ``AsyncClient`` use
        ``await log.aresume(client)``. Events a failed write kept in memory are written first
        (:meth:`flush`; its ``OSError`` is raised while the disk is still full), so a task
        whose ``submitted`` event could not be written is found.

        Returns the final tasks in row order: a list, whose ``skipped`` attribute lists the
        pending rows left alone because their task id cannot be polled (a hand edit: not
        text, blank, huge, control characters), each also named in a
        :class:`SessionLogWarning`. The other rows are resumed regardless. A
        :class:`~luma_nb.errors.WaitTimeoutError` at ``max_wait`` propagates; the changes seen
        until then are already in the log, and ``resume`` can be called again later.
        """
        by_task, skipped = resume_plan(self)
        if not by_task:
            return ResumeResult([], skipped)
        hook = resume_hook(self, by_task, on_update)
        tasks = client.wait_many(list(by_task), max_wait=max_wait, on_update=hook)
        for task in tasks:
            record_resumed(self, by_task, task)
        return ResumeResult(tasks, skipped)

    async def aresume(
        self,
        client: AsyncClient,
        *,
        max_wait: float | None = None,
        on_update: Callable[[Task], object] | None = None,
    ) -> ResumeResult:
        """:meth:`resume` for an :class:`~luma_nb.AsyncClient` (``await log.aresume(client)``)."""
        by_task, skipped = resume_plan(self)
        if not by_task:
            return ResumeResult([], skipped)
        hook = resume_hook(self, by_task, on_update)
        tasks = await client.wait_many(list(by_task), max_wait=max_wait, on_update=hook)
        for task in tasks:
            record_resumed(self, by_task, task)
        return ResumeResult(tasks, skipped)


# ----------------------------------------------------------------------------- many sessions


#: ``engine="auto"`` folds with DuckDB (when installed) from this many bytes of session files
#: on: below it, starting DuckDB costs more than it saves (see docs/performance.md).
AUTO_DUCKDB_BYTES = 128 * 2**20

_ENGINES = ("auto", "python", "duckdb")


def load_sessions(
    folder_or_glob: str | Path,
    engine: str = "auto",
    *,
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> pandas.DataFrame:
    """Load many session files into one DataFrame (needs the ``pandas`` extra).

    Parameters
    ----------
    folder_or_glob : str or Path
        A folder (every ``*.jsonl`` in it), a glob pattern (``"runs/**/*.jsonl"``) or one
        file. An empty folder or a pattern matching nothing gives an empty frame.
    engine : {"auto", "python", "duckdb"}
        Who folds the events: ``"python"``, in this process; ``"duckdb"`` (the ``duckdb``
        extra), in SQL on every core, spilling to disk past ``memory_limit`` — the same
        frame, for large logs. ``"auto"`` (default): DuckDB when it is installed and the
        files add up to :data:`AUTO_DUCKDB_BYTES` or more, else Python.
    memory_limit, temp_directory, threads
        DuckDB only: its memory limit (e.g. ``"1GB"``; default: DuckDB's, 80% of the RAM),
        the folder it spills to (default: a temporary folder, removed afterwards), and its
        threads (default: every core). Files are folded a batch of about a quarter of
        ``memory_limit`` at a time; one file's fold needs about twice its bytes, and a limit
        below that raises DuckDB's ``OutOfMemoryException``.

    Returns
    -------
    pandas.DataFrame
        The rows of every session, files in name order (default names sort by start time);
        the ``session`` column tells them apart. Both engines give the same frame (columns,
        dtypes, values) and the same :class:`SessionLogWarning` for what they cannot read.
    """
    _check_engine(engine)
    import_pandas()  # fail before reading anything when pandas is missing
    files = session_files(folder_or_glob)
    if engine != "python" and _duckdb_for(files, engine):
        from luma_nb._session_duckdb import fold_frame

        return fold_frame(
            files,
            _python_fold,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
            threads=threads,
        )
    values: list[tuple[Any, ...]] = []
    with paused_gc():
        for file in files:
            values.extend(_python_fold(file))
        return frame(values)


def _duckdb_for(files: Sequence[Path], engine: str) -> bool:
    from luma_nb._session_duckdb import use_duckdb

    return use_duckdb(files, engine, AUTO_DUCKDB_BYTES)


def _python_fold(file: Path) -> list[tuple[Any, ...]]:
    """One file's rows by the Python fold (the DuckDB engine's fallback), warnings given."""
    with paused_gc():
        return SessionLog(file)._values()


def _check_engine(engine: object) -> None:
    if engine not in _ENGINES:
        raise ValidationError(
            f"engine must be one of {', '.join(map(repr, _ENGINES))}, not {engine!r}",
            field="engine",
        )


def to_parquet(
    source: str | Path | pandas.DataFrame,
    destination: str | os.PathLike[str],
    *,
    events: bool = False,
    overwrite: bool = False,
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> Path:
    """Write session logs as Parquet, partitioned by session (the ``duckdb`` extra).

    Parameters
    ----------
    source : str, Path or DataFrame
        Session files (a folder, a glob or one file, as for :func:`load_sessions`), or a
        frame :func:`load_sessions` returned (rows only).
    destination : str or Path
        A folder, filled with ``session=<id>/*.parquet`` (a Hive layout that DuckDB, Polars
        and Spark read as one table; see docs/session-log.md).
    events : bool
        ``False`` (default): the folded table, one row per iteration, the columns of
        :data:`COLUMNS` (text, ``DOUBLE``, ``BIGINT``, ``BOOLEAN``, tags a list of text),
        folded by DuckDB exactly as :func:`load_sessions` folds them. ``True``: every
        readable event, one row each: ``session`` (the file's session id), ``seq``,
        ``event``, ``iteration``, ``t``, ``state`` and the line itself as ``json``.
    overwrite : bool
        Replace a destination folder that already holds files (otherwise refused).
    memory_limit, temp_directory, threads
        As for :func:`load_sessions`. The rows go to disk a batch of files at a time, never
        all in one DataFrame: memory stays bounded by ``memory_limit``.

    Returns
    -------
    Path
        The destination folder, absolute.
    """
    from luma_nb._session_parquet import write

    settings = {"memory_limit": memory_limit, "temp_directory": temp_directory, "threads": threads}
    if isinstance(source, (str, os.PathLike)):
        files: Any = session_files(Path(source))
    else:
        files = source  # a frame
    return write(files, destination, _python_fold, events, overwrite, settings)


def _session_file_name(now: float) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    # The random suffix keeps two sessions started in the same second apart.
    return f"session-{stamp}-{secrets.token_hex(2)}.jsonl"
