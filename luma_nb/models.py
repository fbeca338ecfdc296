"""Typed models of the Luma API: the request, the video, the task and its state.

No I/O here. Requests validate themselves on construction, so a bad value raises
:class:`~luma_nb.errors.ValidationError` before any network call. Parsers are tolerant: every
response variant of the spec is read, unknown keys are kept in ``extra``, and nothing the
server adds can make them fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from types import MappingProxyType
from typing import Any, Literal

from luma_nb._values import (
    MAX_MESSAGE_CHARS,
    char_name,
    first_visible,
    id_problem,
    is_finite_number,
    read_float,
    read_size,
    read_text,
    read_url,
    shown,
    surrogate_at,
    url_problem,
)
from luma_nb.errors import ValidationError

__all__ = [
    "ASPECT_RATIOS",
    "REQUEST_OPTIONS",
    "Task",
    "TaskError",
    "TaskState",
    "Video",
    "VideoRequest",
]

#: The aspect ratios the official tools offer.
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
#: The request's options: every field of :class:`VideoRequest` beside the prompt and the
#: video to extend (helpers, the client and studies check names against this one list).
REQUEST_OPTIONS: tuple[str, ...] = (
    "aspect_ratio",
    "loop",
    "enhancement",
    "start_image_url",
    "end_image_url",
    "callback_url",
    "timeout",
)
#: Upper bound of the API ``timeout`` field (seconds); the API's default is 300.
MAX_API_TIMEOUT = 3600.0
#: The cap on prompt length (characters) applied before any request; the API documents none.
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

    Every bad value raises :class:`~luma_nb.errors.ValidationError` (naming the ``field``), so
    a request that exists always encodes to clean JSON. A prompt must be text of at most
    :data:`MAX_PROMPT_CHARS` characters, valid Unicode (no lone surrogates) and not "empty":
    whitespace and invisible characters (U+200B, U+FEFF, U+00AD, ...) alone do not count.
    URLs must be absolute http(s) with a host, without credentials, spaces, control or
    invisible characters, and with a port in 1..65535. ``timeout`` is seconds in
    (0, :data:`MAX_API_TIMEOUT`]: an int or a finite float, not a bool.
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
        if not isinstance(self.action, str) or self.action not in ("generate", "extend"):
            raise ValidationError(
                f"action must be 'generate' or 'extend', not {shown(self.action)}", field="action"
            )
        self._check_prompt()
        if self.aspect_ratio is None and self.action == "generate":
            object.__setattr__(self, "aspect_ratio", "16:9")
        ratio = self.aspect_ratio
        if ratio is not None and (not isinstance(ratio, str) or ratio not in ASPECT_RATIOS):
            raise ValidationError(
                f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}; got {shown(ratio)}",
                field="aspect_ratio",
            )
        for name in ("loop", "enhancement"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValidationError(
                    f"{name} must be True or False, not {shown(value)}", field=name
                )
        for name in ("video_url", "start_image_url", "end_image_url", "callback_url"):
            check_http_url(getattr(self, name), name)
        self._check_video_reference()
        if self.timeout is not None:
            check_seconds(self.timeout, "timeout", MAX_API_TIMEOUT)
            # A plain int or float: what json.dumps writes exactly (not a subclass's repr).
            plain = int(self.timeout) if isinstance(self.timeout, int) else float(self.timeout)
            object.__setattr__(self, "timeout", plain)

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
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ValidationError(
                f"prompt is {len(prompt)} characters; the limit here is {MAX_PROMPT_CHARS}",
                field="prompt",
            )
        bad = surrogate_at(prompt)
        if bad is not None:
            raise ValidationError(
                f"prompt is not valid Unicode text: a lone surrogate {char_name(prompt[bad])} "
                f"at position {bad} cannot be sent (was it decoded with errors='surrogateescape'?)",
                field="prompt",
            )
        if first_visible(prompt) is None:
            invisible = next((c for c in prompt if not c.isspace()), None)
            raise ValidationError(
                "prompt is empty"
                + (
                    f": it holds only invisible characters such as {char_name(invisible)}"
                    if invisible
                    else ""
                )
                + ("; omit it to extend without one" if self.action == "extend" else ""),
                field="prompt",
            )

    def _check_video_reference(self) -> None:
        if self.video_id is not None:
            problem = id_problem(self.video_id)
            if problem:
                raise ValidationError(
                    f"video_id must be a non-empty id, not {shown(self.video_id)}: {problem}",
                    field="video_id",
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
        for name, value in self.as_dict().items():
            if name in ("loop", "enhancement") or (value is not None and name != "action"):
                body[name] = value
        if async_mode:
            body["async"] = True
        return body

    def as_dict(self) -> dict[str, Any]:
        """Every field, defaults and ``None`` included (what the session log records)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_http_url(value: object, name: str) -> None:
    """Raise ValidationError unless ``value`` is None or an absolute http(s) URL.

    The rules are :func:`luma_nb._values.url_problem`'s; the message says which one failed.
    """
    if value is None:
        return
    if not isinstance(value, str):
        raise ValidationError(
            f"{name} must be a URL string, not {type(value).__name__}", field=name
        )
    problem = url_problem(value)
    if problem is not None:
        masked = re.sub(r"//[^/?#]*@", "//***@", value)  # never echo a password
        raise ValidationError(
            f"{name} must be an absolute http(s) URL the API can reach, not {shown(masked)}: "
            f"{problem}",
            field=name,
        )


def check_seconds(value: object, name: str, maximum: float) -> None:
    """Raise ValidationError unless ``value`` is seconds in (0, maximum]: an int or a finite
    float, not a bool. Integers too large for a float are refused, never an OverflowError."""
    if not is_finite_number(value) or not 0 < value <= maximum:  # type: ignore[operator]
        raise ValidationError(
            f"{name} must be seconds in (0, {maximum:.0f}], not {shown(value)}", field=name
        )


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


# fmt: off
_VIDEO_KEYS = frozenset({
    "success", "task_id", "video_id", "prompt", "video_url", "video_width", "video_height",
    "state", "thumbnail_url", "thumbnail_width", "thumbnail_height", "trace_id",
})
# fmt: on


@dataclass(frozen=True)
class Video:
    """A finished video: the flat success body of the API.

    ``prompt`` is the prompt the API echoed (with ``enhancement`` it may differ from the one
    sent); ``request`` is what luma_nb sent, when known; ``backend`` is ``"api"`` or
    ``"simulator"``; ``media_path`` is the local copy a session log recorded, when the video
    was rebuilt from a log row.
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
    #: A local copy recorded in the session log (rebuilt videos only). It is a hint: the
    #: renderer embeds it only when it is media inside luma_nb's media cache.
    media_path: str | None = field(default=None, repr=False, compare=False)

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
        """Read a success body; None when it carries no usable ``video_url``.

        A ``video_url`` that is not an absolute http(s) URL the client could download (see
        :func:`check_http_url`) counts as none; sizes outside 1..100,000 pixels become None.
        """
        if not isinstance(body, Mapping):
            return None
        url = read_url(body.get("video_url"))
        if not url:
            return None
        return cls(
            task_id=read_text(body.get("task_id")) or task_id or "",
            video_url=url,
            video_id=read_text(body.get("video_id")),
            prompt=read_text(body.get("prompt")),
            thumbnail_url=read_url(body.get("thumbnail_url")),
            width=read_size(body.get("video_width")),
            height=read_size(body.get("video_height")),
            thumbnail_width=read_size(body.get("thumbnail_width")),
            thumbnail_height=read_size(body.get("thumbnail_height")),
            trace_id=read_text(body.get("trace_id")) or trace_id,
            state=read_text(body.get("state")) or "completed",
            request=request,
            backend=backend,
            extra=MappingProxyType({k: v for k, v in body.items() if k not in _VIDEO_KEYS}),
        )


# fmt: off
_RECORD_KEYS = frozenset({
    "_id", "id", "api_id", "trace_id", "created_at", "started_at", "finished_at", "elapsed",
    "request", "response", "state",
})
# fmt: on


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
        """Read a task record of ``/luma/tasks`` (any variant of the spec); never raises.

        A task that says ``completed`` but whose ``video_url`` is missing or unusable (not an
        http(s) URL the client could download) is a failed task with an explanatory error:
        ``code`` ``"unusable_video_url"`` (the raw answer stays in ``response``).
        """
        if not isinstance(record, Mapping):
            record = {}
        response = record.get("response")
        response_map: Mapping[str, Any] | None = response if isinstance(response, Mapping) else None
        task_id = (
            read_text(record.get("id"))
            or (read_text(response_map.get("task_id")) if response_map else None)
            or read_text(record.get("task_id"))
            or ""
        )
        finished_at = read_float(record.get("finished_at"))
        state, raw_state, error = _derive_state(record, response_map, finished_at)
        trace_id = read_text(record.get("trace_id")) or (
            read_text(response_map.get("trace_id")) if response_map else None
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
            created_at=read_float(record.get("created_at")),
            started_at=read_float(record.get("started_at")),
            finished_at=finished_at,
            elapsed=read_float(record.get("elapsed")),
            request=request if isinstance(request, Mapping) else None,
            response=response_map,
            video=video,
            error=error,
            record_id=read_text(record.get("_id")),
            api_id=read_text(record.get("api_id")),
            sent=sent,
            backend=backend,
            extra=MappingProxyType({k: v for k, v in record.items() if k not in _RECORD_KEYS}),
        )

    @classmethod
    def from_sync_response(
        cls, body: Mapping[str, Any], *, sent: VideoRequest | None = None, backend: str = "api"
    ) -> Task:
        """Read the flat body of a sync ``/luma/videos`` answer as a task."""
        if not isinstance(body, Mapping):
            body = {}
        record = {
            "id": read_text(body.get("task_id")) or "",
            "trace_id": body.get("trace_id"),
            "response": body,
        }
        return cls.from_record(record, sent=sent, backend=backend)


def _derive_state(
    record: Mapping[str, Any], response: Mapping[str, Any] | None, finished_at: float | None
) -> tuple[TaskState, str | None, TaskError | None]:
    """Apply the spec's state rules to a record."""
    if response is None:
        top = read_text(record.get("state"))
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
    raw = read_text(response.get("state")) or read_text(record.get("state"))
    word = raw.lower() if raw else None
    success = response.get("success")
    if success is False or (word in _FAILED_WORDS):
        return TaskState.FAILED, raw, parse_error(response.get("error"), fallback=raw or "failed")
    url = response.get("video_url")
    sent_url = isinstance(url, str) and bool(url)
    if word == "completed" or (word is None and sent_url and success is not False):
        if read_url(url) is not None:
            return TaskState.COMPLETED, raw, None
        if not sent_url:
            return (
                TaskState.FAILED,
                raw,
                TaskError("unknown", "the task completed without a video_url"),
            )
        problem = url_problem(url)  # type: ignore[arg-type]
        return (
            TaskState.FAILED,
            raw,
            TaskError(
                "unusable_video_url",
                f"the task completed, but its video_url {shown(url)} is unusable: {problem}",
            ),
        )
    if word in _RUNNING_WORDS:
        return TaskState(word), raw, None
    if word is None or word == "queued":
        return TaskState.QUEUED, raw, None
    return TaskState.UNKNOWN, raw, None


def parse_error(value: object, *, fallback: str = "unknown") -> TaskError:
    """Read an ``error`` field: an object with code/message, a bare string, or nothing.

    Never raises; the message is cut at 2,000 characters and the code at 100.
    """
    if isinstance(value, Mapping):
        code = read_text(value.get("code"), 100) or "unknown"
        message = (
            read_text(value.get("message"), MAX_MESSAGE_CHARS)
            or read_text(value.get("detail"), MAX_MESSAGE_CHARS)
            or code
        )
        return TaskError(code, message)
    text = read_text(value.strip(), MAX_MESSAGE_CHARS) if isinstance(value, str) else None
    if text:
        return TaskError("unknown", text)
    return TaskError(
        "unknown", f"the task ended in state {shown(fallback)} without an error message"
    )
