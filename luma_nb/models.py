"""Typed models of the Luma API: the request, the video, the task and its state.

No I/O here. Requests validate themselves on construction, so a bad value raises
:class:`~luma_nb.errors.ValidationError` before any network call. Parsers are tolerant: every
response variant of the spec is read, unknown keys are kept in ``extra``, and nothing the
server adds can make them fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit

from luma_nb.errors import ValidationError

__all__ = [
    "ASPECT_RATIOS",
    "Task",
    "TaskError",
    "TaskState",
    "Video",
    "VideoRequest",
]

#: The aspect ratios the official tools offer.
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
#: Upper bound of the API ``timeout`` field (seconds); the API's default is 300.
MAX_API_TIMEOUT = 3600.0
#: A sanity bound on prompt length; the API documents none.
MAX_PROMPT_CHARS = 10_000

_FAILED_WORDS = frozenset({"failed", "failure", "error", "cancelled", "canceled"})
_RUNNING_WORDS = frozenset({"pending", "processing"})


# --------------------------------------------------------------------------- request


@dataclass(frozen=True)
class VideoRequest:
    """One ``POST /luma/videos`` request, validated on construction.

    ``aspect_ratio`` defaults to ``"16:9"`` for ``generate`` and to ``None`` (not sent: the
    server keeps the parent's) for ``extend``. ``enhancement``, ``loop`` and, for generate,
    ``aspect_ratio`` are always sent explicitly so that results never depend on a server
    default.
    """

    action: Literal["generate", "extend"] = "generate"
    prompt: str | None = None
    aspect_ratio: str | None = None
    loop: bool = False
    enhancement: bool = True
    video_id: str | None = None
    video_url: str | None = None
    start_image_url: str | None = None
    end_image_url: str | None = None
    callback_url: str | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.action not in ("generate", "extend"):
            raise ValidationError(
                f"action must be 'generate' or 'extend', not {self.action!r}", field="action"
            )
        self._check_prompt()
        if self.aspect_ratio is None and self.action == "generate":
            object.__setattr__(self, "aspect_ratio", "16:9")
        if self.aspect_ratio is not None and self.aspect_ratio not in ASPECT_RATIOS:
            raise ValidationError(
                f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}; "
                f"got {self.aspect_ratio!r}",
                field="aspect_ratio",
            )
        for name in ("loop", "enhancement"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValidationError(f"{name} must be True or False, not {value!r}", field=name)
        for name in ("video_url", "start_image_url", "end_image_url", "callback_url"):
            check_http_url(getattr(self, name), name)
        self._check_video_reference()
        if self.timeout is not None:
            t = self.timeout
            if not _is_number(t) or not 0 < t <= MAX_API_TIMEOUT:
                raise ValidationError(
                    f"timeout must be seconds in (0, {MAX_API_TIMEOUT:.0f}], not {t!r}",
                    field="timeout",
                )

    def _check_prompt(self) -> None:
        prompt = self.prompt
        if prompt is None:
            if self.action == "generate":
                raise ValidationError("prompt is required to generate a video", field="prompt")
            return
        if not isinstance(prompt, str):
            raise ValidationError(
                f"prompt must be a string, not {type(prompt).__name__}", field="prompt"
            )
        if not prompt.strip():
            raise ValidationError(
                "prompt is empty"
                + ("; omit it to extend without one" if self.action == "extend" else ""),
                field="prompt",
            )
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ValidationError(
                f"prompt is {len(prompt)} characters; the limit here is {MAX_PROMPT_CHARS}",
                field="prompt",
            )

    def _check_video_reference(self) -> None:
        if self.video_id is not None and (
            not isinstance(self.video_id, str)
            or not self.video_id.strip()
            or any(c.isspace() for c in self.video_id)
        ):
            raise ValidationError(
                f"video_id must be a non-empty id, not {self.video_id!r}", field="video_id"
            )
        if self.action == "extend" and self.video_id is None and self.video_url is None:
            raise ValidationError(
                "extend needs the video to continue: pass video_id=... (a result's video_id) "
                "or video_url=...",
                field="video_id",
            )

    def to_body(self, *, async_mode: bool = True) -> dict[str, Any]:
        """The JSON body to send. ``async_mode`` asks for a task id at once."""
        body: dict[str, Any] = {"action": self.action}
        if self.prompt is not None:
            body["prompt"] = self.prompt
        if self.aspect_ratio is not None:
            body["aspect_ratio"] = self.aspect_ratio
        body["loop"] = self.loop
        body["enhancement"] = self.enhancement
        for name in (
            "video_id",
            "video_url",
            "start_image_url",
            "end_image_url",
            "callback_url",
            "timeout",
        ):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if async_mode:
            body["async"] = True
        return body

    def as_dict(self) -> dict[str, Any]:
        """Every field, defaults and ``None`` included (what the session log records)."""
        return {
            "action": self.action,
            "prompt": self.prompt,
            "aspect_ratio": self.aspect_ratio,
            "loop": self.loop,
            "enhancement": self.enhancement,
            "video_id": self.video_id,
            "video_url": self.video_url,
            "start_image_url": self.start_image_url,
            "end_image_url": self.end_image_url,
            "callback_url": self.callback_url,
            "timeout": self.timeout,
        }


def check_http_url(value: object, name: str) -> None:
    """Raise ValidationError unless ``value`` is None or an absolute http(s) URL."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ValidationError(
            f"{name} must be a URL string, not {type(value).__name__}", field=name
        )
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise ValidationError(
            f"{name} must be an absolute http(s) URL the API can reach, not {shown!r}",
            field=name,
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- results


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class TaskState(str, Enum):
    """Where a task is. ``UNKNOWN`` is a state word the client does not know: keep polling."""

    QUEUED = "queued"
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True for completed and failed."""
        return self in (TaskState.COMPLETED, TaskState.FAILED)


@dataclass(frozen=True)
class TaskError:
    """The error of a failed task or answer."""

    code: str
    message: str


_VIDEO_KEYS = frozenset(
    {
        "success",
        "task_id",
        "video_id",
        "prompt",
        "video_url",
        "video_width",
        "video_height",
        "state",
        "thumbnail_url",
        "thumbnail_width",
        "thumbnail_height",
        "trace_id",
    }
)


@dataclass(frozen=True)
class Video:
    """A finished video: the flat success body of the API.

    ``prompt`` is the prompt the API echoed (with ``enhancement`` it may differ from the one
    sent); ``request`` is what luma_nb sent, when known; ``backend`` is ``"api"`` or
    ``"simulator"``.
    """

    task_id: str
    video_url: str
    video_id: str | None = None
    prompt: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    trace_id: str | None = None
    state: str | None = "completed"
    request: VideoRequest | None = None
    backend: str = "api"
    extra: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @property
    def sent_prompt(self) -> str | None:
        """The prompt luma_nb sent, when known."""
        return self.request.prompt if self.request else None

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) in pixels, when the API said."""
        if self.width is None or self.height is None:
            return None
        return (self.width, self.height)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        # Imported here: display imports this module.
        from luma_nb.display import bundle

        return bundle(self)

    @classmethod
    def from_response(
        cls,
        body: Mapping[str, Any],
        *,
        task_id: str | None = None,
        trace_id: str | None = None,
        request: VideoRequest | None = None,
        backend: str = "api",
    ) -> Video | None:
        """Read a success body; None when it carries no ``video_url``."""
        url = _str(body.get("video_url"))
        if not url:
            return None
        return cls(
            task_id=_str(body.get("task_id")) or task_id or "",
            video_url=url,
            video_id=_str(body.get("video_id")),
            prompt=_str(body.get("prompt")),
            thumbnail_url=_str(body.get("thumbnail_url")),
            width=_int(body.get("video_width")),
            height=_int(body.get("video_height")),
            thumbnail_width=_int(body.get("thumbnail_width")),
            thumbnail_height=_int(body.get("thumbnail_height")),
            trace_id=_str(body.get("trace_id")) or trace_id,
            state=_str(body.get("state")) or "completed",
            request=request,
            backend=backend,
            extra=MappingProxyType({k: v for k, v in body.items() if k not in _VIDEO_KEYS}),
        )


_RECORD_KEYS = frozenset(
    {
        "_id",
        "id",
        "api_id",
        "trace_id",
        "created_at",
        "started_at",
        "finished_at",
        "elapsed",
        "request",
        "response",
        "state",
    }
)


@dataclass(frozen=True)
class Task:
    """A task record of ``POST /luma/tasks`` (or what a submit told us of it).

    ``state`` follows the spec's rules; ``raw_state`` keeps the server's word. ``video`` is set
    when the task completed, ``error`` when it failed. ``sent`` is the request luma_nb sent,
    when this client submitted it.
    """

    id: str
    state: TaskState = TaskState.QUEUED
    raw_state: str | None = None
    trace_id: str | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    elapsed: float | None = None
    request: Mapping[str, Any] | None = field(default=None, repr=False)
    response: Mapping[str, Any] | None = field(default=None, repr=False)
    video: Video | None = None
    error: TaskError | None = None
    record_id: str | None = field(default=None, repr=False)
    api_id: str | None = field(default=None, repr=False)
    sent: VideoRequest | None = field(default=None, repr=False)
    backend: str = "api"
    extra: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        """True once the task completed or failed."""
        return self.state.is_terminal

    @property
    def succeeded(self) -> bool:
        """True when the task completed with a video."""
        return self.state is TaskState.COMPLETED and self.video is not None

    @property
    def failed(self) -> bool:
        """True when the task failed."""
        return self.state is TaskState.FAILED

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        from luma_nb.display import bundle

        return bundle(self)

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], *, sent: VideoRequest | None = None, backend: str = "api"
    ) -> Task:
        """Read a task record of ``/luma/tasks`` (any variant of the spec)."""
        response = record.get("response")
        response_map: Mapping[str, Any] | None = response if isinstance(response, Mapping) else None
        task_id = (
            _str(record.get("id"))
            or (_str(response_map.get("task_id")) if response_map else None)
            or _str(record.get("task_id"))
            or ""
        )
        finished_at = _float(record.get("finished_at"))
        state, raw_state, error = _derive_state(record, response_map, finished_at)
        trace_id = _str(record.get("trace_id")) or (
            _str(response_map.get("trace_id")) if response_map else None
        )
        video = None
        if state is TaskState.COMPLETED and response_map is not None:
            video = Video.from_response(
                response_map, task_id=task_id, request=sent, backend=backend
            )
        request = record.get("request")
        return cls(
            id=task_id,
            state=state,
            raw_state=raw_state,
            trace_id=trace_id,
            created_at=_float(record.get("created_at")),
            started_at=_float(record.get("started_at")),
            finished_at=finished_at,
            elapsed=_float(record.get("elapsed")),
            request=request if isinstance(request, Mapping) else None,
            response=response_map,
            video=video,
            error=error,
            record_id=_str(record.get("_id")),
            api_id=_str(record.get("api_id")),
            sent=sent,
            backend=backend,
            extra=MappingProxyType({k: v for k, v in record.items() if k not in _RECORD_KEYS}),
        )

    @classmethod
    def from_sync_response(
        cls, body: Mapping[str, Any], *, sent: VideoRequest | None = None, backend: str = "api"
    ) -> Task:
        """Read the flat body of a sync ``/luma/videos`` answer as a task."""
        record = {
            "id": _str(body.get("task_id")) or "",
            "trace_id": body.get("trace_id"),
            "response": body,
        }
        return cls.from_record(record, sent=sent, backend=backend)


def _derive_state(
    record: Mapping[str, Any], response: Mapping[str, Any] | None, finished_at: float | None
) -> tuple[TaskState, str | None, TaskError | None]:
    """Apply the spec's state rules to a record."""
    if response is None:
        top = _str(record.get("state"))
        if finished_at is None and top is None:
            return TaskState.QUEUED, None, None
        if top is None:
            # Finished without a response: nothing will come; treat as a failure.
            return (
                TaskState.FAILED,
                None,
                TaskError("unknown", "the task finished without a response"),
            )
        response = {"state": top}
    raw = _str(response.get("state")) or _str(record.get("state"))
    word = raw.lower() if raw else None
    success = response.get("success")
    if success is False or (word in _FAILED_WORDS):
        return TaskState.FAILED, raw, parse_error(response.get("error"), fallback=raw or "failed")
    has_video = bool(_str(response.get("video_url")))
    if word == "completed" or (word is None and has_video and success is not False):
        if has_video:
            return TaskState.COMPLETED, raw, None
        return TaskState.FAILED, raw, TaskError("unknown", "the task completed without a video_url")
    if word in _RUNNING_WORDS:
        return TaskState(word), raw, None
    if word is None or word == "queued":
        return TaskState.QUEUED, raw, None
    return TaskState.UNKNOWN, raw, None


def parse_error(value: object, *, fallback: str = "unknown") -> TaskError:
    """Read an ``error`` field: an object with code/message, a bare string, or nothing."""
    if isinstance(value, Mapping):
        code = _str(value.get("code")) or "unknown"
        message = _str(value.get("message")) or _str(value.get("detail")) or code
        return TaskError(code, message)
    if isinstance(value, str) and value.strip():
        return TaskError("unknown", value.strip())
    return TaskError("unknown", f"the task ended in state {fallback!r} without an error message")


def _str(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            value = float(value)
        except OverflowError:  # JSON integers have no size limit; floats do
            return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None
