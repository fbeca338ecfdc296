"""Where a line lies in a session file, and how the Python fold's reader sees it.

The Python fold parses a file in blocks of whole lines (:func:`~luma_nb._session_file.
read_events`): a block is parsed as one JSON array, and only when that fails line by line.
A line DuckDB could not parse is judged here exactly so — in the very block Python would
parse it in, streamed from the file, never all of it in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from luma_nb._session_fold import CHUNK_BYTES, parse_lines

__all__ = ["judge_lines"]


def judge_lines(fd: int, size: int, wanted: set[int]) -> tuple[int, dict[int, int]] | None:
    """Parse the blocks holding the lines ``wanted`` exactly as the Python fold would.

    Returns the file's count of lines and the length of each wanted line, or None when one
    of them is not unreadable to Python's parser in its block.
    """
    lengths: dict[int, int] = {}
    physical = 0
    for first, block, is_tail in _blocks(fd, size):
        count = 1 if is_tail else block.count(b"\n")
        physical += count
        inside = [line for line in wanted if first <= line < first + count]
        if not inside:
            continue
        _, bad = parse_lines(block, first)
        if not set(inside) <= set(bad):
            return None
        parts = block.split(b"\n")
        for line in inside:
            lengths[line] = len(parts[line - first])
    return physical, lengths


def _blocks(fd: int, size: int) -> Iterator[tuple[int, bytes, bool]]:
    """The blocks of whole lines Python's reader parses one at a time (``_parse_blocks``
    of :func:`~luma_nb._session_file.read_events`), then the unterminated tail, streamed."""
    end = _last_newline(fd, size) + 1
    buffer = b""
    base = 0  # file offset of buffer[0]
    start, line = 0, 1

    def reach(offset: int) -> None:
        nonlocal buffer
        want = min(offset, size)
        if base + len(buffer) < want:
            buffer += os.pread(fd, max(want - base - len(buffer), 1 << 23), base + len(buffer))

    while start < end:
        reach(start + CHUNK_BYTES)
        limit = min(end, start + CHUNK_BYTES)
        stop = buffer.rfind(b"\n", start - base, limit - base) + 1
        stop = stop + base if stop else 0
        if stop <= start:  # one line longer than a block: take it whole
            found = -1
            while found < 0 and base + len(buffer) < end:
                reach(base + len(buffer) + (1 << 23))
                found = buffer.find(b"\n", start + CHUNK_BYTES - base, end - base)
            if found < 0:
                found = buffer.find(b"\n", start + CHUNK_BYTES - base, end - base)
            stop = found + base + 1 if found >= 0 else end
        block = buffer[start - base : stop - base]
        yield line, block, False
        line += block.count(b"\n")
        start = stop
        buffer, base = buffer[start - base :], start
    if size > end:
        tail = os.pread(fd, size - end, end)
        if tail.strip():
            yield line, tail, True


def _last_newline(fd: int, size: int) -> int:
    """The offset of the file's last newline, or -1."""
    position = size
    while position > 0:
        step = min(position, 1 << 16)
        chunk = os.pread(fd, step, position - step)
        found = chunk.rfind(b"\n")
        if found >= 0:
            return position - step + found
        position -= step
    return -1
