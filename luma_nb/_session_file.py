"""The session log's file: locked whole-line appends, locked reads, and JSONL parsing.

- :func:`append_line` appends one or more whole lines under an exclusive ``flock``; its
  ``check`` runs under that same lock, before the write, so a read-check-append (refusing an
  iteration id another process has just claimed) is one atomic step across processes;
- :func:`read_events` reads under a shared lock (or through a descriptor already locked) and
  parses, skipping (and reporting) lines a crash cut short;
- :func:`encode_event` is the one-line JSON encoding of an event.
"""

from __future__ import annotations

import gc
import glob
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any

__all__ = [
    "CHUNK_BYTES",
    "append_line",
    "encode_event",
    "parse_lines",
    "paused_gc",
    "read_events",
    "session_files",
    "write_all",
]

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


def append_line(
    path: Path,
    line: bytes,
    *,
    fsync: bool = False,
    check: Callable[[int], object] | None = None,
) -> None:
    """Append whole line(s) to ``path`` (created with its folder if missing).

    One write on an ``O_APPEND`` descriptor under an exclusive ``flock``: writers in other
    threads or processes wait, so lines never tear or interleave.

    ``check``, when given, is called with the locked descriptor before anything is written;
    it may read the file through it (``os.pread``; opening the file again for a shared lock
    would wait for this very lock) and raise to cancel the append. Nobody can append between
    what it reads and what is written.
    """
    fd = _open_for_append(path)
    try:
        _lock(fd, exclusive=True)
        if check is not None:
            check(fd)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A crash left half a line: end it, or this event would be glued to it and lost.
            line = b"\n" + line
        write_all(fd, line)
        if fsync:
            os.fsync(fd)
            if size == 0:
                _fsync_folder(path.parent)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a short write continues in place)."""
    written = os.write(fd, data)
    while written < len(data):  # a signal, or a disk that filled up in the middle
        written += os.write(fd, data[written:])


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
    *,
    fd: int | None = None,
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

    ``fd`` is a descriptor of the file that already holds a lock (see :func:`append_line`):
    the bytes are read through it, without taking another lock.
    """
    data = _read_bytes(path, offset) if fd is None else _read_locked(fd, offset)
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
        return _read_locked(fd, offset)
    finally:
        os.close(fd)


def _read_locked(fd: int, offset: int) -> bytes:
    size = os.fstat(fd).st_size
    if size <= offset:
        return b""
    return os.pread(fd, size - offset, offset)


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
