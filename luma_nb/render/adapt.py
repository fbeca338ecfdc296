"""The one adapter to a :class:`~luma_nb.models.Video` (and its media): from a log row or a task.

The notebook helpers (extending the last video, resuming), the experiment (its videos, grid
and blind review) and the views all rebuild a video the same way, so a video looks the same
wherever it is shown: the URL it was served from (never a ``data:`` URL in its place), the
prompt sent (as a request) and echoed, and the local copy the log recorded, which the
renderer embeds when the policy allows (:func:`luma_nb.render.media.place`).
:func:`records_of` reads the rows themselves from a log, a DataFrame or a list of dicts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from luma_nb.errors import ValidationError
from luma_nb.models import Task, TaskState, Video, VideoRequest
from luma_nb.render.media import Media, place

__all__ = [
    "media_of_row",
    "records_of",
    "request_from_row",
    "text_or_none",
    "video_from_row",
    "video_of_task",
]


def text_or_none(value: object) -> str | None:
    """``value`` when it is non-empty text, else None (a row's optional text field)."""
    return value if isinstance(value, str) and value else None


def _size(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def request_from_row(row: Mapping[str, Any]) -> VideoRequest | None:
    """The request a row records as sent, or ``None`` when the row cannot make a valid one."""
    action = row.get("action")
    if action not in ("generate", "extend"):
        return None
    try:
        return VideoRequest(
            action=action,
            prompt=text_or_none(row.get("prompt")),
            aspect_ratio=text_or_none(row.get("aspect_ratio")),
            loop=bool(row.get("loop")),
            enhancement=bool(row.get("enhancement", True)),
            video_id=text_or_none(row.get("video_id_sent")),
            video_url=text_or_none(row.get("video_url_sent")),
        )
    except (ValidationError, TypeError):
        return None  # a hand-edited row: the video is shown without its request


def video_from_row(
    row: Mapping[str, Any],
    *,
    request: VideoRequest | None = None,
    blind: bool = False,
) -> Video | None:
    """The video of a log row (``None`` when the row has no video URL).

    Parameters
    ----------
    row : mapping
        A row of :data:`luma_nb.session_log.COLUMNS` (missing keys are fine).
    request : VideoRequest, optional
        What was sent; by default rebuilt from the row's columns.
    blind : bool
        Strip everything that could tell a study's arms apart (prompts, request, ids): only
        the player, its size, the backend and the saved copy remain.
    """
    url = text_or_none(row.get("video_url"))
    if url is None:
        return None
    common: dict[str, Any] = {
        "video_url": url,
        "thumbnail_url": text_or_none(row.get("thumbnail_url")),
        "width": _size(row.get("width")),
        "height": _size(row.get("height")),
        "backend": text_or_none(row.get("backend")) or "api",
        "media_path": text_or_none(row.get("media_path")),
    }
    if blind:
        return Video(task_id="", **common)
    return Video(
        task_id=text_or_none(row.get("task_id")) or "",
        video_id=text_or_none(row.get("video_id")),
        prompt=text_or_none(row.get("echoed_prompt")),
        trace_id=text_or_none(row.get("trace_id")),
        state=text_or_none(row.get("state")) or "completed",
        request=request if request is not None else request_from_row(row),
        **common,
    )


def video_of_task(task: Task) -> Video | None:
    """A completed task's video, completed with what the task knows (trace id, request...)."""
    video = task.video if task.state is TaskState.COMPLETED else None
    if video is None:
        return None
    changes: dict[str, Any] = {}
    if video.trace_id is None and task.trace_id:
        changes["trace_id"] = task.trace_id
    if video.request is None and task.sent is not None:
        changes["request"] = task.sent
    if not video.task_id and task.id:
        changes["task_id"] = task.id
    return dataclasses.replace(video, **changes) if changes else video


def media_of_row(row: Mapping[str, Any], *, embed: bool | None, standalone: bool) -> Media:
    """Where a row's player gets its video and poster (see :func:`~luma_nb.render.media.place`).

    The row's saved copy (``media_path``) is offered to the renderer, which reads it only when
    the policy allows; a completed row without a video URL gets a note saying so.
    """
    url = text_or_none(row.get("video_url"))
    if url is None:
        if row.get("state") == "completed":
            return Media(None, note="The task completed but the log has no video URL.")
        return Media(None)
    return place(
        url,
        poster=text_or_none(row.get("thumbnail_url")),
        embed=embed,
        saved=text_or_none(row.get("media_path")),
        backend=row.get("backend"),
        standalone=standalone,
    )


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    # pandas.NA and NaT, recognised without importing pandas.
    return type(value).__name__ in ("NAType", "NaTType")


def _plain(value: object) -> object:
    if _is_missing(value):
        return None
    if isinstance(value, (str, bool, int, float, list)):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return item()  # a numpy scalar from a DataFrame
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def records_of(source: object) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of a SessionLog, a DataFrame, or a list of row dicts, and the log's session id.

    Values become plain Python (numpy scalars unwrapped, NaN/NA/NaT as ``None``).

    Raises
    ------
    ValidationError
        For anything that is not rows.
    """
    session: str | None = None
    records: Iterable[Any]
    if hasattr(source, "columns") and hasattr(source, "to_dict"):
        # A DataFrame (its own to_records gives numpy records, not dicts).
        records = source.to_dict("records")
    elif callable(getattr(source, "to_records", None)):
        records = source.to_records()  # type: ignore[attr-defined]
        session = text_or_none(getattr(source, "session_id", None))
    elif isinstance(source, (Mapping, str, bytes)) or not isinstance(source, Iterable):
        raise ValidationError(
            "export_html takes a SessionLog, a DataFrame or a list of row dicts, "
            f"not {type(source).__name__}",
            field="rows",
        )
    else:
        records = source
    rows: list[dict[str, Any]] = []
    for record in records:
        if not isinstance(record, Mapping):
            raise ValidationError(
                f"each row must be a dict of columns, not {type(record).__name__}", field="rows"
            )
        rows.append({str(key): _plain(value) for key, value in record.items()})
    return rows, session
