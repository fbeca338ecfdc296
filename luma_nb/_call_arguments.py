"""A client call's arguments, checked and turned into a request before anything is sent.

Both clients, and the notebook helpers and studies that mirror them, build requests here: a
misspelt or foreign keyword raises a :class:`~luma_nb.errors.ValidationError` with a hint
(``did you mean ...?``, or why the Luma API has no such parameter), as does a bad ``max_wait``,
``on_update``, ``stop``, ``sync`` or task id.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from luma_nb._values import MAX_ID_CHARS, id_problem, shown
from luma_nb.errors import ValidationError
from luma_nb.models import Task, Video, VideoRequest, check_seconds

#: Longest a single wait may be asked to last (a week); anything above is a typo.
MAX_WAIT_LIMIT = 7 * 24 * 3600.0

_REQUEST_OPTIONS = (
    "aspect_ratio",
    "loop",
    "enhancement",
    "start_image_url",
    "end_image_url",
    "callback_url",
    "timeout",
    "max_wait",
    "on_update",
    "sync",
    "video_id",
    "video_url",
    "prompt",
    "action",
    "preflight",
)
_NOT_PARAMETERS = {
    "model": "the Luma API has no model parameter",
    "duration": "the Luma API has no duration parameter (a generation is about 5 s)",
    "seed": "the Luma API has no seed parameter",
    "negative_prompt": "the Luma API has no negative prompt",
    "image_url": "use start_image_url= (first frame) or end_image_url= (last frame)",
    "image_urls": "use start_image_url= (first frame) or end_image_url= (last frame)",
    "resolution": "the Luma API has no resolution parameter; use aspect_ratio=",
}


def build_request(
    action: str,
    *,
    prompt: object,
    video: str | Video | None = None,
    video_url: object = None,
    options: dict[str, Any],
    unknown: dict[str, object],
) -> VideoRequest:
    """Build a validated request from keyword arguments (shared by clients and helpers).

    ``video`` may be a :class:`Video`; unknown keywords raise a ValidationError with a hint.
    """
    _reject_unknown(unknown)
    video_id: object = video
    if isinstance(video, Video):
        video_id = video.video_id
        if video_id is None and video_url is None:
            video_url = video.video_url
    return VideoRequest(
        action=action,  # type: ignore[arg-type]
        prompt=prompt,  # type: ignore[arg-type]
        video_id=video_id,  # type: ignore[arg-type]
        video_url=video_url,  # type: ignore[arg-type]
        **options,
    )


def submission(
    prompt: str | VideoRequest | None,
    action: str,
    video_id: str | Video | None,
    video_url: str | None,
    options: dict[str, Any],
    sync: object,
    unknown: dict[str, object],
) -> VideoRequest:
    """The request of a ``submit`` call: a ready VideoRequest, or one built from keywords."""
    check_sync(sync)
    if isinstance(prompt, VideoRequest):
        _reject_unknown(unknown)
        return prompt
    return build_request(
        action, prompt=prompt, video=video_id, video_url=video_url, options=options, unknown=unknown
    )


def extension(
    video_id: str | Video | None,
    video_url: str | None,
    prompt: str | None,
    options: dict[str, Any],
    unknown: dict[str, object],
) -> VideoRequest:
    """The request of an ``extend`` call."""
    return build_request(
        "extend",
        prompt=prompt,
        video=video_id,
        video_url=video_url,
        options=options,
        unknown=unknown,
    )


def check_wait(max_wait: object, on_update: object = None, stop: object = None) -> None:
    """Raise ValidationError for a bad ``max_wait``, ``on_update`` or ``stop`` (before any
    request)."""
    if max_wait is not None:
        check_seconds(max_wait, "max_wait", MAX_WAIT_LIMIT)
    if on_update is not None and not callable(on_update):
        raise ValidationError("on_update must be a callable taking a Task", field="on_update")
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise ValidationError(
            f"stop must be a threading.Event or an asyncio.Event, not {shown(stop)}",
            field="stop",
        )


def check_sync(sync: object) -> None:
    """Raise ValidationError unless ``sync`` is True or False."""
    if not isinstance(sync, bool):
        raise ValidationError(f"sync must be True or False, not {shown(sync)}", field="sync")


def checked_id(task: str | Task) -> str:
    """The id of ``task`` (a Task or an id), or a ValidationError for an unusable one."""
    value = task.id if isinstance(task, Task) else task
    problem = id_problem(value)
    if problem is not None:
        raise ValidationError(
            f"a task id must be a non-empty string of printable characters without spaces "
            f"(at most {MAX_ID_CHARS}): {problem}; got {shown(value)}",
            field="task_id",
        )
    return value


def _reject_unknown(unknown: dict[str, object]) -> None:
    if not unknown:
        return
    name = sorted(unknown)[0]
    hint = _NOT_PARAMETERS.get(name)
    if hint is None and name in _REQUEST_OPTIONS:
        # A real option, of another method: no "did you mean" pointing at itself.
        hint = (
            "it is an option of another method (submit does not wait: no max_wait or "
            "on_update; generate takes no video; extend no action); see help() of this method"
        )
    if hint is None:
        close = difflib.get_close_matches(name, _REQUEST_OPTIONS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see help(luma_nb.Client.generate)"
    raise ValidationError(f"unknown parameter {name!r}: {hint}", field=name)


def request_options(
    aspect_ratio: str | None,
    loop: bool,
    enhancement: bool,
    start_image_url: str | None,
    end_image_url: str | None,
    callback_url: str | None,
    timeout: float | None,
) -> dict[str, Any]:
    """The request fields of a call, by name (for :func:`build_request`)."""
    return {
        "aspect_ratio": aspect_ratio,
        "loop": loop,
        "enhancement": enhancement,
        "start_image_url": start_image_url,
        "end_image_url": end_image_url,
        "callback_url": callback_url,
        "timeout": timeout,
    }


def checked_ids(tasks: Iterable[str | Task] | str) -> list[str]:
    """The ids of a non-empty list of tasks (or ids), each checked by :func:`checked_id`."""
    if isinstance(tasks, (str, Task)):
        raise ValidationError("pass a list of task ids", field="task_ids")
    ids = [checked_id(t) for t in tasks]
    if not ids:
        raise ValidationError("no task ids given", field="task_ids")
    return ids
