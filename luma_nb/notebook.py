"""The notebook helpers: one default client and one session log per kernel.

``luma_nb.generate("...")`` connects (the simulator with a banner when there is no token),
writes the iteration to the session log *before* waiting, shows a status line that updates
in place, displays the finished video and returns it. ``history()`` is the session as a
DataFrame; ``rate()`` scores an iteration. After a kernel restart, ``SessionLog(path).resume``
re-attaches to the tasks that were still running.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb import _iteration
from luma_nb._progress import StatusLine
from luma_nb.client import build_request, check_wait
from luma_nb.errors import GenerationFailedError, LumaError, ValidationError
from luma_nb.models import Task, Video, VideoRequest

if TYPE_CHECKING:
    import pandas

    from luma_nb.client import Client
    from luma_nb.session_log import SessionLog

__all__ = [
    "default_client",
    "extend",
    "generate",
    "history",
    "rate",
    "reset",
    "session",
    "submit",
    "use",
]

# Keyword arguments that steer the session log rather than the request.
_LOG_KEYS = ("tags", "experiment", "arm")

_lock = threading.RLock()
_client: Client | None = None
_session: SessionLog | None = None
_announced = False


def default_client() -> Client:
    """The kernel's default client (made by :func:`luma_nb.connect` on first use)."""
    global _client
    with _lock:
        if _client is None:
            from luma_nb.backend import connect
            from luma_nb.display import set_media_fetcher

            _client = connect()
            set_media_fetcher(_client.download)
        return _client


def session() -> SessionLog:
    """The kernel's default session log (a new file under ``./luma_sessions``)."""
    global _session
    with _lock:
        if _session is None:
            from luma_nb.session_log import SessionLog

            _session = SessionLog()
        return _session


def use(client: Client | None = None, session: SessionLog | str | Path | None = None) -> None:
    """Make ``client`` and/or ``session`` (a SessionLog or a path) the kernel's defaults."""
    global _client, _session, _announced
    with _lock:
        if client is not None:
            from luma_nb.display import set_media_fetcher

            _client = client
            set_media_fetcher(client.download)
        if session is not None:
            if not hasattr(session, "begin"):
                from luma_nb.session_log import SessionLog

                session = SessionLog(session)
            _session = session  # type: ignore[assignment]
            _announced = False


def reset() -> None:
    """Forget the default client and session, as a kernel restart would (files stay)."""
    global _client, _session, _announced
    with _lock:
        _client = None
        _session = None
        _announced = False


def submit(prompt: str | None = None, **params: Any) -> Task:
    """Submit without waiting: log the iteration and return its task.

    Accepts the parameters of :meth:`Client.submit` plus ``tags``, ``experiment``, ``arm``
    and ``parent`` (an iteration id).
    """
    log_options = {key: params.pop(key) for key in (*_LOG_KEYS, "parent") if key in params}
    request = _request(prompt, params)
    return _submit(request, **log_options)[1]


def generate(prompt: str, **params: Any) -> Video:
    """Generate a video, log the iteration, show progress and the result, and return it.

    Takes the options of :meth:`Client.generate` (``aspect_ratio``, ``loop``,
    ``enhancement``, ``start_image_url``, ``end_image_url``, ``callback_url``, ``timeout``,
    ``max_wait``) plus ``tags``, ``experiment`` and ``arm`` for the log.
    """
    params = {**params, "action": "generate"}
    return _run(prompt, params, parent=None)


def extend(video: Video | str | None = None, *, prompt: str | None = None, **params: Any) -> Video:
    """Continue a video (a :class:`Video`, a ``video_id``, or by default the session's last).

    The new iteration records its ``parent``, so ``session().lineage(...)`` follows the chain.
    """
    log = session()
    parent: str | None = None  # extend(video_url=...) names no iteration of this session
    if video is None and params.get("video_url") is None:
        video = _last_video(log)
    if isinstance(video, Video):
        params.setdefault("video_id", video.video_id)
        if video.video_id is None:
            params.setdefault("video_url", video.video_url)
        parent = _iteration.parent_of(log, video)
    elif isinstance(video, str):
        params.setdefault("video_id", video)
        parent = _iteration.parent_of(log, video)
    elif video is not None:
        raise ValidationError(
            f"extend takes a Video or a video_id, not {type(video).__name__}", field="video"
        )
    params = {**params, "action": "extend"}
    return _run(prompt, params, parent=parent)


def history() -> pandas.DataFrame:
    """The default session as a DataFrame, one row per iteration (needs pandas)."""
    return session().to_dataframe()


def rate(
    iteration: str | Video | int = -1, stars: int | None = None, note: str | None = None
) -> None:
    """Rate an iteration 1 to 5 (by id, by its :class:`Video`, or by position: -1 is the last)."""
    if stars is None:
        raise ValidationError("rate needs stars=1..5", field="stars")
    log = session()
    log.rate(_iteration_id(log, iteration), stars, note)


# ----------------------------------------------------------------------------- internals


def _run(prompt: str | None, params: dict[str, Any], *, parent: str | None) -> Video:
    max_wait = params.pop("max_wait", None)
    log_options = {key: params.pop(key) for key in _LOG_KEYS if key in params}
    request = _request(prompt, params)
    check_wait(max_wait)  # before the paid submit, not after it
    iteration, task = _submit(request, parent=parent, **log_options)
    log = session()
    api = default_client()
    status = StatusLine(_iteration.describe(request))
    status.update(task)

    def on_update(fresh: Task) -> None:
        log.update(iteration, fresh)
        status.update(fresh)

    task = api.wait(task, max_wait=max_wait, on_update=on_update)
    try:
        video = _iteration.result(task)
    except GenerationFailedError:
        status.finish(task)
        raise
    try:
        log.media(iteration, api.download(video))
    except LumaError as exc:
        # The video exists; a failed local copy must not lose it. The log keeps its URL.
        print(
            f"luma_nb: the video is ready but could not be cached locally: {exc}", file=sys.stderr
        )
    # The status area becomes the player, so `video = generate(...)` shows it exactly once.
    status.finish(video)
    return video


def _request(prompt: str | None, params: dict[str, Any]) -> VideoRequest:
    if "sync" in params:
        raise ValidationError(
            "the helpers always submit in async mode; use Client.submit(sync=True)", field="sync"
        )
    action = params.pop("action", "generate")
    return build_request(
        action,
        prompt=prompt,
        video=params.pop("video_id", None),
        video_url=params.pop("video_url", None),
        options={key: params.pop(key) for key in list(params) if key in _REQUEST_FIELDS},
        unknown=params,
    )


_REQUEST_FIELDS = (
    "aspect_ratio",
    "loop",
    "enhancement",
    "start_image_url",
    "end_image_url",
    "callback_url",
    "timeout",
)


def _submit(
    request: VideoRequest,
    *,
    parent: str | None = None,
    tags: Sequence[str] = (),
    experiment: str | None = None,
    arm: str | None = None,
) -> tuple[str, Task]:
    """Log, then POST, then log the task id — all before anyone waits."""
    global _announced
    api = default_client()
    log = session()
    iteration = _iteration.begin(
        log, request, backend=api.backend, parent=parent, tags=tags, experiment=experiment, arm=arm
    )
    if not _announced:
        _announced = True
        print(f"luma_nb: this session is logged to {log.path}")
    task = _iteration.submit(log, iteration, request, api.submit)
    return iteration, task


def _last_video(log: SessionLog) -> Video:
    rows = _iteration.finished_rows(log)
    if not rows:
        raise ValidationError("this session has no finished video to extend yet", field="video")
    return _iteration.video_of(rows[-1])


def _iteration_id(log: SessionLog, iteration: str | Video | int) -> str:
    if isinstance(iteration, str):
        return iteration
    if isinstance(iteration, Video):
        found = log.find(task_id=iteration.task_id)
        if found is None:
            raise ValidationError("that video is not in this session", field="iteration")
        return found
    if isinstance(iteration, int) and not isinstance(iteration, bool):
        rows = log.to_records()
        try:
            return str(rows[iteration]["iteration"])
        except IndexError:
            raise ValidationError(
                f"no iteration at position {iteration}; the session has {len(rows)}",
                field="iteration",
            ) from None
    raise ValidationError(
        f"iteration must be an id, a Video or a position, not {iteration!r}", field="iteration"
    )
