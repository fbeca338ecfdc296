"""The one ``text/plain`` renderer: what a terminal, a ``repr`` or a text-only front end shows.

Every luma_nb object's plain text is built here, and it is short: each value is clipped to one
line of at most :data:`VALUE_CHARS` characters, a ``data:`` URL is named by its type and size
(never printed), a local file by its name, and the whole text is capped at :data:`MAX_CHARS`
characters (a grid of fifty videos ends with "... and N more lines"). Control and bidi
characters from the API are shown escaped (:func:`luma_nb._html.clean_text`), so printing it
is terminal-safe.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from luma_nb._durations import duration_text, generation_text, task_generation_seconds
from luma_nb._html import clean_text, human_bytes
from luma_nb.models import Task, TaskState, Video
from luma_nb.render.adapt import video_of_task
from luma_nb.render.media import describe_error

__all__ = [
    "MAX_CHARS",
    "VALUE_CHARS",
    "backend_word",
    "block",
    "cap",
    "file_name",
    "safe",
    "short",
    "task_text",
    "video_text",
    "where",
]

#: The most characters a ``text/plain`` view has (well under 2 KB of UTF-8 for ASCII text).
MAX_CHARS = 1800
#: The most characters one value shows (prompts, URLs, messages).
VALUE_CHARS = 160


def short(value: object, limit: int = VALUE_CHARS) -> str:
    """One terminal-safe line of at most ``limit`` characters."""
    text = clean_text(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def where(url: object) -> str | None:
    """A URL as a reader needs it: a ``data:`` URL becomes ``embedded video/mp4 (40 KB)``."""
    if not isinstance(url, str) or not url:
        return None
    if url[:5].lower() == "data:":
        kind = url[5:].split(";", 1)[0].split(",", 1)[0][:40] or "data"
        payload = url.partition(",")[2]
        return f"embedded {clean_text(kind)} ({human_bytes(len(payload) * 3 // 4)})"
    return short(url)


def file_name(path: object) -> str | None:
    """A local file named without the absolute path: relative to here, or its base name."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        return None
    text = os.fspath(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:  # another drive on Windows
        relative = text
    shown = relative if not relative.startswith("..") else os.path.basename(text)
    return short(shown)


def backend_word(backend: str) -> str:
    """``simulated``, ``Luma API`` or the backend's own word."""
    return "simulated" if backend == "simulator" else ("Luma API" if backend == "api" else backend)


def block(title: str, rows: Sequence[tuple[str, object]]) -> str:
    """A title line and aligned ``name  value`` lines (empty values are left out)."""
    shown = [(name, short(value)) for name, value in rows if value not in (None, "")]
    width = max((len(name) for name, _ in shown), default=0)
    return "\n".join([short(title), *(f"  {name:<{width}}  {v}" for name, v in shown)])


def cap(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` cut at a line end so that it stays under ``limit`` characters."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > limit - 40:
            break
        kept.append(line)
        used += len(line) + 1
    rest = len(lines) - len(kept)
    return "\n".join([*kept, f"... and {rest} more line{'s' if rest != 1 else ''}"])


def safe(build: Callable[[], str], what: str) -> str:
    """``build()`` capped, or a line naming the problem: a text view never raises."""
    try:
        return cap(build())
    except Exception as exc:
        return f"<luma_nb could not describe this {what}: {short(describe_error(exc))}>"


def video_text(video: Video, label: str | None = None) -> str:
    """A finished video: prompts sent and echoed, size, ids, and where the file is."""
    request = video.request
    rows: list[tuple[str, object]] = []
    sent = request.prompt if request else None
    if request is not None and sent == video.prompt:
        rows.append(("prompt", f"{sent} (sent; echoed unchanged)" if sent else None))
    else:
        if request is not None:
            rows.append(("prompt sent", sent if sent is not None else "(none)"))
        rows.append(("prompt echoed" if request is not None else "prompt", video.prompt))
    size = f"{video.width}x{video.height}" if video.size else "unknown"
    if request is not None and request.aspect_ratio:
        size += f" ({request.aspect_ratio})"
    rows.append(("size", size))
    if request is not None and request.action == "extend":
        rows.append(("extends", request.video_id or request.video_url))
    rows += [
        ("video id", video.video_id),
        ("task id", video.task_id),
        ("trace id", video.trace_id),
        ("video", where(video.video_url)),
        ("poster", where(video.thumbnail_url)),
        ("saved copy", file_name(video.media_path)),
    ]
    state = video.state or "completed"
    title = f"{label or 'Luma video'} · {state} · {backend_word(video.backend)}"
    return block(title, rows)


def task_text(task: Task, label: str | None = None, elapsed: float | None = None) -> str:
    """A task: state, ids, generation time, error; a completed one as its video.

    ``elapsed`` is a caller's own wait (real seconds), shown as "waited".
    """
    video = video_of_task(task)
    if video is not None:
        return video_text(video, label)
    state = task.raw_state if task.state is TaskState.UNKNOWN and task.raw_state else None
    title = f"{label or 'Luma task'} · {state or task.state.value} · {backend_word(task.backend)}"
    rows: list[tuple[str, object]] = [("task id", task.id or "?")]
    if task.state is TaskState.FAILED:
        error = task.error
        rows.append(("error", error.code if error else "unknown"))
        rows.append(("message", error.message if error else "no error message"))
    seconds = task_generation_seconds(task)
    if seconds is not None:
        rows.append(("generation time", generation_text(seconds, task.backend)))
    if elapsed is not None:  # the caller's own wait, on this machine's clock
        rows.append(("waited", duration_text(elapsed)))
    rows.append(("trace id", task.trace_id))
    if task.sent is not None:
        rows.append(("prompt sent", task.sent.prompt))
    return block(title, rows)
