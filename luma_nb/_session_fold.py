"""The session log's private machinery, below the :class:`~luma_nb.SessionLog` API.

- file primitives: locked, whole-line appends and locked reads (process-safe);
- event payloads and their one-line JSON encoding;
- parsing, which skips (and reports) lines a crash cut short;
- the fold of events into one row per iteration, incremental as the file grows, doing one
  pass of plain dict work per event — a research log of 100,000 events must become a
  DataFrame in about a second;
- the DataFrame itself, with pandas imported only there.
"""

from __future__ import annotations

import gc
import glob
import json
import operator
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any

from luma_nb.errors import ConfigError, LumaError, SubmitOutcomeUnknownError, ValidationError
from luma_nb.models import Task, VideoRequest

#: Version of the event schema, written as ``"v"`` in every event.
SCHEMA_VERSION = 1

#: The request fields, as the API names them, and their column (and ``submitting`` key).
#: ``video_id``/``video_url`` get a ``_sent`` suffix: the result has its own ones.
REQUEST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("action", "action"),
    ("prompt", "prompt"),
    ("aspect_ratio", "aspect_ratio"),
    ("loop", "loop"),
    ("enhancement", "enhancement"),
    ("video_id", "video_id_sent"),
    ("video_url", "video_url_sent"),
    ("start_image_url", "start_image_url"),
    ("end_image_url", "end_image_url"),
    ("callback_url", "callback_url"),
    ("timeout", "timeout"),
)

#: The folded row's columns, in order (documented in ``docs/session-log.md``).
COLUMNS: tuple[str, ...] = (
    "iteration",
    "session",
    "state",
    "submitted_at",
    "started_at",
    "finished_at",
    "elapsed",
    *(column for _, column in REQUEST_COLUMNS),
    "task_id",
    "trace_id",
    "raw_state",
    "error_type",
    "error_code",
    "error_message",
    "video_id",
    "video_url",
    "thumbnail_url",
    "width",
    "height",
    "echoed_prompt",
    "prompt_changed",
    "media_path",
    "parent",
    "experiment",
    "arm",
    "rating",
    "note",
    "tags",
    "backend",
    "toolkit_version",
    "schema_version",
)

#: States after which nothing more happens to an iteration.
TERMINAL_STATES = frozenset({"completed", "failed", "outcome_unknown"})
# A late poll answer must not move a finished row back to "processing".
_FINAL_TASK_STATES = frozenset({"completed", "failed"})
# Row keys that are not columns: the API's timings (event keys) and our own clock's marks.
_PRIVATE = (
    "api_created_at",
    "api_finished_at",
    "api_elapsed",
    "_t_begin",
    "_t_submitted",
    "_t_end",
)
_TEMPLATE: dict[str, Any] = dict.fromkeys((*COLUMNS, *_PRIVATE))
_ROW_VALUES = operator.itemgetter(*COLUMNS)
_TAGS = COLUMNS.index("tags")
# Events whose payload simply overwrites the row (the last one wins).
_PLAIN_EVENTS = frozenset({"rate", "note", "media"})
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_GLOB_CHARS = frozenset("*?[")


# ----------------------------------------------------------------------------- the file

if sys.platform == "win32":  # pragma: no cover - our machines and Binder/Colab are POSIX

    def _lock(fd: int, *, exclusive: bool) -> None:
        """No flock on Windows: single small appends still land whole on a local disk."""

else:
    import fcntl

    def _lock(fd: int, *, exclusive: bool) -> None:
        # Closing the descriptor releases the lock, so there is no unlock to forget.
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)


def append_line(path: Path, line: bytes, *, fsync: bool = False) -> None:
    """Append one whole line to ``path`` (created with its folder if missing).

    One ``os.write`` on an ``O_APPEND`` descriptor under an exclusive ``flock``: writers in
    other threads or processes wait, so lines never tear or interleave.
    """
    fd = _open_for_append(path)
    try:
        _lock(fd, exclusive=True)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A crash left half a line: end it, or this event would be glued to it and lost.
            line = b"\n" + line
        written = os.write(fd, line)
        while written < len(line):  # a short write (a signal, a full disk) continues in place
            written += os.write(fd, line[written:])
        if fsync:
            os.fsync(fd)
            if size == 0:
                _fsync_folder(path.parent)
    finally:
        os.close(fd)


def _open_for_append(path: Path) -> int:
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS
    try:
        return os.open(path, flags, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o644)


def _fsync_folder(folder: Path) -> None:
    # A new file's directory entry must reach the disk too, or the file can vanish in a crash.
    try:
        fd = os.open(folder, os.O_RDONLY | _OPEN_FLAGS)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the file's own fsync still holds
    finally:
        os.close(fd)


def read_events(
    path: Path,
    offset: int,
    first_line: int,
    sink: Callable[[list[dict[str, Any]]], object] | None = None,
) -> tuple[list[dict[str, Any]], int, int, list[int]]:
    """Parse ``path`` from byte ``offset`` (line ``first_line``).

    Returns the events, the bytes and the lines consumed, and the numbers of unreadable
    lines. An unterminated last line is consumed only when it is a whole event (an editor
    may drop the final newline); otherwise it is reported and left for the next look, as the
    next writer terminates it.

    With ``sink``, the events are handed to ``sink`` a block of about :data:`CHUNK_BYTES` at
    a time, in file order, and the returned list is empty: a fold then never holds more than
    one block of event dicts, so a large log needs about half the memory, and the memory a
    block frees is reused, warm, by the next.
    """
    data = _read_bytes(path, offset)
    end = data.rfind(b"\n") + 1
    if sink is None:
        events, bad = parse_lines(data, first_line, end)
    else:
        events, bad = [], _parse_blocks(data, first_line, end, sink)
    lines = data.count(b"\n", 0, end)
    tail = data[end:]
    if tail.strip():
        last, last_bad = parse_lines(tail, first_line + lines)
        if last:
            if sink is None:
                events.extend(last)
            else:
                sink(last)
            end = len(data)
        bad.extend(last_bad)
    return events, end, lines, bad


#: Bytes of whole lines parsed at a time when folding (see :func:`read_events`). Small
#: blocks keep the event dicts of one block in the CPU caches and reuse the same memory for
#: the next (measured: 100,000 events fold ~10% faster than with 1 MiB blocks, with half the
#: page faults); the cost of one json.loads call per block is negligible.
CHUNK_BYTES = 1 << 16


def _parse_blocks(
    data: bytes, first_line: int, end: int, sink: Callable[[list[dict[str, Any]]], object]
) -> list[int]:
    bad: list[int] = []
    start = 0
    line = first_line
    while start < end:
        stop = data.rfind(b"\n", start, min(end, start + CHUNK_BYTES)) + 1
        if stop <= start:  # one line longer than a block: take it whole
            stop = data.find(b"\n", start + CHUNK_BYTES, end) + 1 or end
        block = data[start:stop]
        events, block_bad = parse_lines(block, line)
        bad.extend(block_bad)
        sink(events)
        line += block.count(b"\n")
        start = stop
    return bad


def _read_bytes(path: Path, offset: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except FileNotFoundError:
        return b""
    try:
        # A shared lock waits out any writer, so no line is seen half-written.
        _lock(fd, exclusive=False)
        size = os.fstat(fd).st_size
        if size <= offset:
            return b""
        return os.pread(fd, size - offset, offset)
    finally:
        os.close(fd)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a log is parsed and folded.

    Events are acyclic dicts, so the collector finds nothing in them; yet with it on, every
    700 new dicts start a collection, and the ones that survive are traversed again and
    again — up to a third of the time of a 100,000-event fold. The previous setting is
    restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def session_files(folder_or_glob: str | Path) -> list[Path]:
    """The session files of a folder (``*.jsonl``), a glob pattern, or one file; sorted."""
    text = os.path.expanduser(os.fspath(folder_or_glob))
    path = Path(text)
    if path.is_dir():
        return sorted(p for p in path.glob("*.jsonl") if p.is_file())
    if path.is_file():
        return [path]
    if _GLOB_CHARS & set(text):
        return sorted(Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p))
    raise FileNotFoundError(f"no session log or folder at {path.absolute()}")


# ----------------------------------------------------------------------------- payloads


def task_payload(task: Task) -> dict[str, Any]:
    """What a ``submitted``/``update`` event records of a task (``None`` values left out).

    Keys are row columns, except the API's own timings, kept apart as ``api_*`` because the
    row's ``finished_at``/``elapsed`` are derived from them and from our clock.
    """
    payload: dict[str, Any] = {
        "task_id": task.id or None,
        "state": task.state.value,
        "raw_state": task.raw_state,
        "trace_id": task.trace_id,
        "api_created_at": task.created_at,
        "started_at": task.started_at,
        "api_finished_at": task.finished_at,
        "api_elapsed": task.elapsed,
    }
    if task.error is not None:
        payload["error_code"] = task.error.code
        payload["error_message"] = task.error.message
    video = task.video
    if video is not None:
        payload.update(
            video_id=video.video_id,
            video_url=video.video_url,
            thumbnail_url=video.thumbnail_url,
            width=video.width,
            height=video.height,
            echoed_prompt=video.prompt,
        )
        payload["trace_id"] = payload["trace_id"] or video.trace_id
    return {key: value for key, value in payload.items() if value is not None}


def request_payload(request: VideoRequest) -> dict[str, Any]:
    """The request fields under their column names, defaults included; unsent ones left out."""
    sent = request.as_dict()
    return {column: sent[field] for field, column in REQUEST_COLUMNS if sent[field] is not None}


def error_payload(error: BaseException) -> dict[str, Any]:
    """What a ``submit_failed`` event records of the error a submit raised.

    Only a :class:`~luma_nb.errors.LumaError` other than
    :class:`~luma_nb.errors.SubmitOutcomeUnknownError` proves that no task exists; anything
    else (the outcome-unknown error, a ``KeyboardInterrupt`` in the middle of the POST) may
    have been billed, so the row says ``outcome_unknown``.
    """
    unknown = isinstance(error, SubmitOutcomeUnknownError) or not isinstance(error, LumaError)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    payload: dict[str, Any] = {
        "state": "outcome_unknown" if unknown else "failed",
        "error_type": type(error).__name__,
        "error_code": code if isinstance(code, str) else None,
        "error_message": message if isinstance(message, str) and message else str(error),
        "trace_id": _text_attr(error, "trace_id"),
        "status_code": _int_attr(error, "status_code"),
    }
    return {key: value for key, value in payload.items() if value is not None}


def _text_attr(error: BaseException, name: str) -> str | None:
    value = getattr(error, name, None)
    return value if isinstance(value, str) and value else None


def _int_attr(error: BaseException, name: str) -> int | None:
    value = getattr(error, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One event as one UTF-8 JSON line, ending in a single newline."""
    try:
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate (pasted from a broken source) cannot be UTF-8; escaped ASCII can
        # carry it, and json.loads gives the very same string back.
        text = json.dumps(event, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
        return text.encode("ascii") + b"\n"


# ----------------------------------------------------------------------------- parsing


def parse_lines(
    data: bytes, first_line: int, end: int | None = None
) -> tuple[list[dict[str, Any]], list[int]]:
    """Parse complete JSONL lines; return the events and the numbers of unreadable lines.

    ``data[:end]`` holds whole lines only, the first of which is line ``first_line``
    (1-based). The whole block is parsed as one JSON array first — far faster than a call
    per line — and only when that fails (a corrupt line) line by line, to find and skip the
    bad ones. A truncated line cannot pass the block parse: every good line is balanced, so
    the truncated one leaves a bracket or a string open to the end. (A hand-made line
    holding two events separated by a comma would pass, as two events: harmless.)
    """
    end = len(data) if end is None else end
    if end and data[end - 1] == 10:  # the final newline ends the last line, adds none
        end -= 1
    if end <= 0:
        return [], []
    parsed = _parse_block(data, end)
    if parsed is None:
        return _parse_each(data[:end].split(b"\n"), first_line)
    if _all_events(parsed):
        return parsed, []
    if len(parsed) != data.count(b"\n", 0, end) + 1:
        return _parse_each(data[:end].split(b"\n"), first_line)
    # One value per line, so list index i is line first_line + i.
    wrong = {n for n, item in enumerate(parsed, start=first_line) if not _is_event(item)}
    kept = [item for n, item in enumerate(parsed, start=first_line) if n not in wrong]
    return kept, sorted(wrong)


def _parse_block(data: bytes, end: int) -> list[Any] | None:
    """All lines as one JSON array, or None when a line is blank or broken."""
    if data[0] == 10 or data.find(b"\n\n", 0, end) >= 0:
        return None  # a blank line would read as a missing value
    try:
        # Strict UTF-8 first: json.loads(bytes) decodes with a slower error handler. The
        # memoryview spares a copy of the whole file.
        text = str(memoryview(data)[:end], "utf-8")
        # JSON strings cannot hold a raw newline, so newline -> comma makes an array. (One
        # join, not "[" + ... + "]": that would copy the whole text twice more.)
        parsed = json.loads("".join(("[", text.replace("\n", ","), "]")))
    except (ValueError, RecursionError):  # also a UnicodeDecodeError; or nested too deep
        return None
    return parsed if isinstance(parsed, list) else None


def _all_events(items: list[Any]) -> bool:
    """True when every item is an event; one C-speed pass, as it sees every event of a log."""
    try:
        kinds = set(map(type, map(dict.get, items, repeat("event"))))
    except TypeError:  # an item that is not a dict
        return False
    return kinds <= {str}


def _parse_each(lines: list[bytes], first_line: int) -> tuple[list[dict[str, Any]], list[int]]:
    events: list[dict[str, Any]] = []
    bad: list[int] = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue  # a blank line carries nothing and hurts nothing
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):  # half a multi-byte character; too deep
            item = None
        if _is_event(item):
            events.append(item)
        else:
            bad.append(number)
    return events, bad


def _is_event(item: object) -> bool:
    # Folding needs only "event"; "v" is for readers of a future schema to branch on.
    return type(item) is dict and type(item.get("event")) is str


# ----------------------------------------------------------------------------- fold


class Fold:
    """Events folded into one row per iteration, in the order iterations first appear.

    Event payload keys are row columns, so folding an event is mostly one ``dict.update``
    (the last value wins). The exceptions: tags accumulate, a finished task's state does not
    go back, and the timing columns are derived on the way out from the API's timings and
    our own clock's marks (``_t_*``).
    """

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, iteration: object) -> bool:
        return iteration in self._rows

    def add_all(self, events: Iterable[dict[str, Any]]) -> None:
        """Fold events in file order."""
        rows = self._rows
        new_row = _new_row
        # The task events are most of a log, so their case is written out here, not called.
        terminal, final = TERMINAL_STATES, _FINAL_TASK_STATES
        for event in events:
            iteration = event.get("iteration")
            if type(iteration) is not str:
                continue  # not about an iteration: nothing to fold
            row = rows.get(iteration)
            if row is None:
                row = rows[iteration] = new_row(iteration, event)
            kind = event["event"]
            before = row["state"]  # always text or None: see the end of the loop
            if kind == "update" or kind == "submitted":
                row.update(event)
                state = row["state"]
                if type(state) is not str:  # a hand edit put a list or a number there
                    state = row["state"] = before
                if state not in terminal:
                    if before in final:
                        row["state"] = before  # a late poll answer of a finished task
                    else:
                        row["_t_end"] = None  # e.g. an "outcome_unknown" whose task turned up
                elif row["_t_end"] is None:
                    row["_t_end"] = event.get("t")
                if kind == "submitted" and row["_t_submitted"] is None:
                    row["_t_submitted"] = event.get("t")
                continue
            if kind in _PLAIN_EVENTS:
                row.update(event)
            elif kind == "submitting":
                _add_begin(row, event, before)
            elif kind == "tag":
                _add_tags(row, event.get("tags"))
            elif kind == "submit_failed":
                row.update(event)
                _keep_usable_state(row, before)
                _mark_end(row, event)
            # Unknown kinds come from a newer luma_nb: skipping them keeps old readers working.
            _keep_usable_state(row, before)

    def find(self, *, task_id: str | None, video_id: str | None) -> str | None:
        """The latest iteration whose ``task_id`` and/or result ``video_id`` match, or None."""
        for row in reversed(self._rows.values()):
            if (task_id is None or row["task_id"] == task_id) and (
                video_id is None or row["video_id"] == video_id
            ):
                return str(row["iteration"])
        return None

    def record(self, iteration: str) -> dict[str, Any] | None:
        """One iteration's row, or None."""
        row = self._rows.get(iteration)
        return None if row is None else _output(row)

    def records(self) -> list[dict[str, Any]]:
        """Every row, keys exactly :data:`COLUMNS`, fresh dicts the caller may change."""
        return [_output(row) for row in self._rows.values()]

    def values(self) -> list[tuple[Any, ...]]:
        """The rows as tuples in :data:`COLUMNS` order: the cheapest input for a DataFrame.

        The ``tags`` lists are the fold's own: :func:`frame` copies them.
        """
        rows = list(self._rows.values())
        for row in rows:
            _derive(row)
        return list(map(_ROW_VALUES, rows))


def _new_row(iteration: str, event: Mapping[str, Any]) -> dict[str, Any]:
    row = _TEMPLATE.copy()
    row["iteration"] = iteration
    row["session"] = event.get("session")
    row["tags"] = []
    row["_t_begin"] = event.get("t")
    return row


def _add_begin(row: dict[str, Any], event: Mapping[str, Any], before: object = None) -> None:
    tags = row["tags"]
    row.update(event)
    _keep_usable_state(row, before)
    row["tags"] = tags  # tags accumulate: the update must not replace them
    _add_tags(row, event.get("tags"))
    row["schema_version"] = event.get("v")
    row["_t_begin"] = event.get("t")
    if row["state"] is None:
        row["state"] = "submitting"


def _keep_usable_state(row: dict[str, Any], before: object) -> None:
    """Undo a state that is not text (a hand-edited event): the rest of the fold, and
    ``pending()``, compare states with sets."""
    state = row["state"]
    if state is not None and type(state) is not str:
        row["state"] = before


def _mark_end(row: dict[str, Any], event: Mapping[str, Any]) -> None:
    if row["state"] not in TERMINAL_STATES:
        row["_t_end"] = None
    elif row["_t_end"] is None:
        row["_t_end"] = event.get("t")


def _add_tags(row: dict[str, Any], new: object) -> None:
    tags = row["tags"]
    if type(tags) is not list:  # a hand-edited event put something else there
        tags = row["tags"] = []
    if isinstance(new, list):
        for tag in new:
            if isinstance(tag, str) and tag not in tags:
                tags.append(tag)


def _output(row: dict[str, Any]) -> dict[str, Any]:
    _derive(row)
    out = {column: row[column] for column in COLUMNS}
    out["tags"] = _copy_tags(out["tags"])
    return out


def _copy_tags(tags: object) -> list[Any]:
    return list(tags) if type(tags) is list else []


def _derive(row: dict[str, Any]) -> None:
    """Fill the timing columns and ``prompt_changed`` from what the events said.

    The API's clock is preferred (its ``created_at``/``finished_at``/``elapsed`` measure the
    generation itself); our clock covers what the API never told us.
    """
    created, api_finished = row["api_created_at"], row["api_finished_at"]
    ours = row["_t_submitted"] if row["_t_submitted"] is not None else row["_t_begin"]
    end = row["_t_end"]
    elapsed = row["api_elapsed"]
    if elapsed is None and _both_numbers(created, api_finished):
        elapsed = api_finished - created
    if elapsed is None and _both_numbers(ours, end):
        elapsed = end - ours
    row["submitted_at"] = created if created is not None else ours
    row["finished_at"] = api_finished if api_finished is not None else end
    row["elapsed"] = elapsed
    echoed = row["echoed_prompt"]
    sent = row["prompt"]
    # An extend sent without a prompt has nothing to compare with.
    row["prompt_changed"] = None if echoed is None or sent is None else echoed != sent


def _both_numbers(a: object, b: object) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float))


# ----------------------------------------------------------------------------- DataFrame


def frame(values: list[tuple[Any, ...]]) -> Any:
    """A DataFrame of :data:`COLUMNS` from row tuples (:meth:`Fold.values`), built in one go."""
    pd = import_pandas()
    result = pd.DataFrame(values, columns=list(COLUMNS))
    if values:
        # Copies, so that a later fold cannot change a frame already handed out (taken from
        # the tuples: iterating the Series would cost more than the copies).
        result["tags"] = [_copy_tags(row[_TAGS]) for row in values]
    # Nullable dtypes keep whole numbers whole and booleans boolean next to missing values.
    for columns, dtype in (
        (("width", "height", "rating", "schema_version"), "Int64"),
        (("loop", "enhancement", "prompt_changed"), "boolean"),
    ):
        for column in columns:
            try:
                result[column] = result[column].astype(dtype)
            except (TypeError, ValueError, OverflowError):
                continue  # a hand-edited log with odd values keeps them as they are
    return result


def import_pandas() -> Any:
    """pandas, or a ConfigError naming the extra to install."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ConfigError(
            "DataFrames of the session log need pandas: "
            'pip install "luma_nb[pandas]" (to_records() works without it)'
        ) from exc
    return pd


# ----------------------------------------------------------------------------- validation


def check_label(value: object, name: str, *, optional: bool = True) -> None:
    """Raise ValidationError unless ``value`` is non-empty text (or None when optional)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} must be non-empty text, not {value!r}", field=name)


def check_tags(tags: object) -> list[str]:
    """Tags as a list of distinct non-empty strings, in the order given."""
    if isinstance(tags, str):
        tags = (tags,)  # one tag given bare, not a sequence of its letters
    if not isinstance(tags, Iterable) or isinstance(tags, (bytes, Mapping)):
        raise ValidationError(f"tags must be a list of text, not {tags!r}", field="tags")
    clean: list[str] = []
    for tag in tags:
        check_label(tag, "tags", optional=False)
        if tag not in clean:
            clean.append(tag)
    return clean
