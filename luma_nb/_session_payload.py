"""What each session-log event records, and the checks on what callers pass in.

Payload keys are row columns (see :data:`luma_nb._session_fold.COLUMNS`), except the API's own
timings, kept apart as ``api_*``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from luma_nb.errors import ValidationError, proves_nothing_billed
from luma_nb.models import Task, VideoRequest
from luma_nb.video_metrics import COLUMNS as METRIC_COLUMNS
from luma_nb.video_metrics import WHOLE_COLUMNS as WHOLE_METRIC_COLUMNS

__all__ = [
    "MAX_TASK_ID_CHARS",
    "METRIC_COLUMNS",
    "REQUEST_COLUMNS",
    "WHOLE_METRIC_COLUMNS",
    "check_iteration_id",
    "check_label",
    "check_tags",
    "error_payload",
    "metrics_payload",
    "request_payload",
    "task_payload",
    "usable_task_id",
]

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

#: The longest task id luma_nb sends back to the API (the API's are 36-character UUIDs).
MAX_TASK_ID_CHARS = 200
# Measured values beyond 2**53 are not exact as floats (and no clip has them).
_METRIC_LIMIT = 2**53


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

    The state is ``failed`` only when the error proves that no task exists
    (:func:`~luma_nb.errors.proves_nothing_billed`: a check before any request, a network
    failure before a byte was sent, a definite refusal). Anything else — the outcome-unknown
    error, a server-side failure code (``timeout``, ``api_error``, ``busy``) whatever the
    HTTP status, an interrupt in the middle of the POST, an error luma_nb does not know —
    may have been billed, so the row says ``outcome_unknown``.
    """
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    payload: dict[str, Any] = {
        "state": "failed" if proves_nothing_billed(error) else "outcome_unknown",
        "error_type": type(error).__name__,
        "error_code": code if isinstance(code, str) else None,
        "error_message": message if isinstance(message, str) and message else _text(error),
        "trace_id": _text_attr(error, "trace_id"),
        "status_code": _int_attr(error, "status_code"),
    }
    return {key: value for key, value in payload.items() if value is not None}


def metrics_payload(measured: object) -> dict[str, Any]:
    """What a ``metrics`` event records: :data:`METRIC_COLUMNS`, checked.

    ``measured`` is a :class:`~luma_nb.video_metrics.VideoMetrics` or a mapping of some of
    those columns. Each value is ``None`` or a finite number (a whole number for the whole
    columns); NaN is stored as ``None`` (undefined). ``None`` values are recorded, so a new
    measurement replaces the last one whole, except ``width``/``height``, which are left out
    when unknown rather than blank the size the API reported.
    """
    as_columns = getattr(measured, "as_columns", None)
    values = as_columns() if callable(as_columns) else measured
    if not isinstance(values, Mapping):
        raise ValidationError(
            f"metrics need a VideoMetrics or a mapping of columns, not {type(measured).__name__}",
            field="metrics",
        )
    unknown = [key for key in values if key not in METRIC_COLUMNS]
    if unknown:
        raise ValidationError(
            f"unknown metric column(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(METRIC_COLUMNS)}",
            field="metrics",
        )
    payload: dict[str, Any] = {}
    for column in METRIC_COLUMNS:
        if column not in values:
            continue
        value = _metric_value(column, values[column])
        if value is not None or column not in ("width", "height"):
            payload[column] = value
    return payload


def _metric_value(column: str, value: object) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(
            f"metric {column} must be a number or None, not {value!r}", field="metrics"
        )
    if math.isnan(value):
        return None
    if math.isinf(value) or abs(value) > _METRIC_LIMIT:
        raise ValidationError(f"metric {column} is out of range: {value!r}", field="metrics")
    if column in WHOLE_METRIC_COLUMNS:
        if value < 0 or not float(value).is_integer():
            raise ValidationError(
                f"metric {column} must be a whole number of at least 0, not {value!r}",
                field="metrics",
            )
        return int(value)
    return float(value)


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # a foreign exception whose __str__ itself fails
        return type(error).__name__


def _text_attr(error: BaseException, name: str) -> str | None:
    value = getattr(error, name, None)
    return value if isinstance(value, str) and value else None


def _int_attr(error: BaseException, name: str) -> int | None:
    value = getattr(error, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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


def usable_task_id(value: object) -> bool:
    """True for a task id that can be sent back to the API to poll (from a log row).

    Non-empty text of at most :data:`MAX_TASK_ID_CHARS` printable characters, no spaces: a
    hand-edited id that is a number, blank, huge or holds control characters could fail a
    whole batch poll, so it is never sent.
    """
    return (
        type(value) is str
        and 0 < len(value) <= MAX_TASK_ID_CHARS
        and value.isprintable()
        and not any(c.isspace() for c in value)
    )


#: The longest iteration id ``begin(iteration=...)`` accepts.
_MAX_ID_CHARS = 64


def check_iteration_id(wanted: object) -> None:
    """Raise ValidationError unless ``wanted`` is an iteration id of one's own choosing."""
    check_label(wanted, "iteration")
    assert isinstance(wanted, str)
    if any(c.isspace() for c in wanted) or len(wanted) > _MAX_ID_CHARS:
        raise ValidationError(
            f"an iteration id is up to {_MAX_ID_CHARS} characters without spaces",
            field="iteration",
        )
