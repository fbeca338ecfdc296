"""The notebook helpers: one default client and one session log per kernel.

``luma_nb.generate("...")`` connects (the simulator with a banner when there is no token),
writes the iteration to the session log *before* waiting, shows a status line that updates
in place, displays the finished video (with its filmstrip) and returns it; with
``measure=True`` it also measures the video (:mod:`luma_nb.video_metrics`), logs the numbers
and shows the key ones on the card. ``history()`` is the session as a DataFrame
(``history(cards=True)``: as cards); ``rate()`` scores an iteration. After a kernel
restart, ``SessionLog(path).resume`` re-attaches to the tasks that were still running.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from luma_nb import _iteration
from luma_nb._helper_options import (
    EXTEND_REFUSALS,
    GENERATE_REFUSALS,
    LOG_KEYS,
    REQUEST_FIELDS,
    SUBMIT_REFUSALS,
    ExtendOptions,
    GenerateOptions,
    LogOptions,
    MeasureOptions,
    RequestOptions,
    SubmitOptions,
    VideoOptions,
    WaitOptions,
    check_measure,
    expand_options,
    refuse,
)
from luma_nb._media_policy import fetch_refusal
from luma_nb._progress import StatusLine
from luma_nb._values import shown
from luma_nb.client import MAX_WAIT_LIMIT, Client, build_request
from luma_nb.errors import GenerationFailedError, LumaError, ValidationError
from luma_nb.models import Task, Video, VideoRequest, check_seconds
from luma_nb.render.adapt import video_from_row

if TYPE_CHECKING:
    import pandas
    from typing_extensions import Unpack  # typing.Unpack is Python 3.11+; only for checkers

    from luma_nb.display import SessionView
    from luma_nb.session_log import SessionLog
    from luma_nb.video_metrics import VideoMetrics

__all__ = [
    "ExtendOptions",
    "GenerateOptions",
    "LogOptions",
    "MeasureOptions",
    "RequestOptions",
    "SubmitOptions",
    "VideoOptions",
    "WaitOptions",
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


@expand_options(like=Client.submit)
def submit(prompt: str | VideoRequest | None = None, **options: Unpack[SubmitOptions]) -> Task:
    """Submit without waiting: log the iteration and return its task.

    Accepts what :meth:`Client.submit` accepts — a prompt and keywords (``action``,
    ``video_id``, ``video_url``, ``aspect_ratio``, ``loop``, ``enhancement``,
    ``start_image_url``, ``end_image_url``, ``callback_url``, ``timeout``), or a ready
    :class:`VideoRequest` — plus ``tags``, ``experiment``, ``arm`` and ``parent`` (an
    iteration id) for the log, and ``preflight=False`` to skip the keyframe check.
    ``sync=True`` is refused: the helpers always submit in async mode, so the task id is in
    the log before anything waits. ``max_wait`` and ``on_update`` are refused too: submit
    does not wait.
    """
    params = _params(options)
    refuse(params, SUBMIT_REFUSALS)
    log_options = {key: params.pop(key) for key in (*LOG_KEYS, "parent") if key in params}
    preflight = params.pop("preflight", None)
    if isinstance(prompt, VideoRequest):
        _check_sync(params)
        if params:
            name = sorted(params)[0]
            raise ValidationError(
                f"{name}= cannot be combined with a ready VideoRequest: set it on the request",
                field=name,
            )
        request = prompt
    else:
        request = _request(prompt, params)
    return _submit(request, preflight=preflight, **log_options)[1]


@expand_options(like=Client.generate)
def generate(prompt: str, **options: Unpack[GenerateOptions]) -> Video:
    """Generate a video, log the iteration, show progress and the result, and return it.

    Takes the options of :meth:`Client.generate` (``aspect_ratio``, ``loop``,
    ``enhancement``, ``start_image_url``, ``end_image_url``, ``callback_url``, ``timeout``,
    ``max_wait``, ``on_update``, ``preflight``) plus ``tags``, ``experiment`` and ``arm`` for
    the log, and ``measure``.
    ``measure=True`` measures the downloaded video (motion, flicker, sharpness, loop seam,
    the match with the keyframes sent...: :func:`luma_nb.video_metrics.measure_video`), logs
    the numbers as the iteration's ``metric_*`` columns and shows the key ones on the card.
    It needs the ``research`` extra (checked before anything is sent); a video that cannot
    be measured is still returned, with a message.
    ``on_update(task)`` is called with the submitted task and then with each change of state,
    after the log and the status line have recorded it; an exception it raises propagates
    (the task goes on: the log has its id). ``sync=True`` is refused (see :func:`submit`).
    """
    params = _params(options)
    refuse(params, GENERATE_REFUSALS)
    return _run(prompt, {**params, "action": "generate"}, parent=None)


@expand_options(like=Client.extend)
def extend(
    video: Video | str | None = None,
    *,
    prompt: str | None = None,
    **options: Unpack[ExtendOptions],
) -> Video:
    """Continue a video (a :class:`Video`, a ``video_id``, or by default the session's last).

    ``video_id=`` and ``video_url=`` name the video as keywords instead. The other options
    are :func:`generate`'s (``measure`` included). The new iteration records its ``parent``, so
    ``session().lineage(...)`` follows the chain.
    """
    params = _params(options)
    refuse(params, EXTEND_REFUSALS)
    if video is not None and params.get("video_id") is not None:
        raise ValidationError(
            "name the video once: as the first argument or as video_id=, not both",
            field="video_id",
        )
    log = session()
    if video is None and params.get("video_id") is None and params.get("video_url") is None:
        video = _last_video(log)
    if isinstance(video, Video):
        params["video_id"] = video.video_id
        if video.video_id is None:
            params.setdefault("video_url", video.video_url)
    elif isinstance(video, str):
        params["video_id"] = video
    elif video is not None:
        raise ValidationError(
            f"extend takes a Video or a video_id, not {type(video).__name__}", field="video"
        )

    named = video if video is not None else params.get("video_id")
    if not isinstance(named, (Video, str)):
        named = None  # extend(video_url=...) names no iteration of this session

    def parent() -> str | None:  # looked up once the request is known to be valid
        return _iteration.parent_of(log, named) if named is not None else None

    return _run(prompt, {**params, "action": "extend"}, parent=parent)


#: How many iterations ``history(cards=True)`` shows unless ``last`` says.
HISTORY_CARDS = 12


@overload
def history(
    *, cards: Literal[False] = False, last: int | None = None, embed: bool | None = None
) -> pandas.DataFrame: ...
@overload
def history(
    *, cards: Literal[True], last: int | None = None, embed: bool | None = None
) -> SessionView: ...
def history(
    *, cards: bool = False, last: int | None = None, embed: bool | None = None
) -> pandas.DataFrame | SessionView:
    """The default session, one row per iteration: a DataFrame, or cards.

    Parameters
    ----------
    cards : bool
        ``False``: a DataFrame (needs pandas). ``True``: a view of cards, newest first, each
        with its video, filmstrip, prompt (the echo as a diff), settings, rating and key
        metrics, the rest folded under "Details"; displaying it shows them.
    last : int, optional
        Only the last ``last`` iterations (cards: the last :data:`HISTORY_CARDS` unless said).
    embed : bool or None
        For the cards: as for :func:`luma_nb.display.video_html`.
    """
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise ValidationError(
            f"last must be a whole number of at least 1, not {last!r}", field="last"
        )
    if embed not in (None, True, False):
        raise ValidationError(f"embed must be None, True or False, not {embed!r}", field="embed")
    if not cards:
        frame = session().to_dataframe()
        return frame if last is None else frame.tail(last)
    from luma_nb.display import SessionView

    rows = session().to_records()
    count = HISTORY_CARDS if last is None else last
    return SessionView(rows[-count:], len(rows), embed)


def rate(
    iteration: str | Video | int = -1, stars: int | None = None, note: str | None = None
) -> None:
    """Rate an iteration 1 to 5 (by id, by its :class:`Video`, or by position: -1 is the last)."""
    if stars is None:
        raise ValidationError("rate needs stars=1..5", field="stars")
    log = session()
    log.rate(_iteration_id(log, iteration), stars, note)


# ----------------------------------------------------------------------------- internals


def _params(options: Mapping[str, object]) -> dict[str, Any]:
    """The keywords as given (unknown ones included: the checks below name them)."""
    return dict(options)


def _run(
    prompt: str | None,
    params: dict[str, Any],
    *,
    parent: Callable[[], str | None] | None,
) -> Video:
    max_wait = params.pop("max_wait", None)
    user_update = params.pop("on_update", None)
    preflight = params.pop("preflight", None)
    measure = params.pop("measure", False)
    log_options = {key: params.pop(key) for key in LOG_KEYS if key in params}
    request = _request(prompt, params)
    # Before the paid submit, not after it.
    check_measure(measure)
    if max_wait is not None:
        check_seconds(max_wait, "max_wait", MAX_WAIT_LIMIT)
    if user_update is not None and not callable(user_update):
        raise ValidationError("on_update must be a callable taking a Task", field="on_update")
    iteration, task = _submit(
        request, parent=parent() if parent else None, preflight=preflight, **log_options
    )
    log = session()
    api = default_client()
    _iteration.teach_durations(api, log)  # the poll schedule learns from earlier generations
    status = StatusLine(_iteration.describe(request))
    try:
        return _follow(status, api, log, iteration, task, user_update, max_wait, measure)
    finally:
        status.close()  # the clock stops however the wait ended


def _follow(
    status: StatusLine,
    api: Client,
    log: SessionLog,
    iteration: str,
    task: Task,
    user_update: Callable[[Task], None] | None,
    max_wait: float | None,
    measure: bool = False,
) -> Video:
    status.update(task)
    heard = [(task.state, task.raw_state)]
    if user_update is not None:
        user_update(task)

    def on_update(fresh: Task) -> None:
        log.update(iteration, fresh)
        status.update(fresh)
        if user_update is not None and (fresh.state, fresh.raw_state) != heard[-1]:
            heard.append((fresh.state, fresh.raw_state))
            user_update(fresh)

    task = api.wait(task, max_wait=max_wait, on_update=on_update)
    try:
        video = _iteration.result(task)
    except GenerationFailedError:
        status.finish(task)
        raise
    refusal = fetch_refusal(video.video_url)
    local: Path | None = None
    if refusal is not None:
        # An answer naming some private server must not make the kernel request it.
        print(f"luma_nb: the video is ready but was not cached locally: {refusal}", file=sys.stderr)
    else:
        try:
            local = api.download(video)
            log.media(iteration, local)
            # As a video rebuilt from the log would: its cards embed it and find its strip.
            video = dataclasses.replace(video, media_path=str(local))
        except LumaError as exc:
            # The video exists; a failed local copy must not lose it. The log keeps its URL.
            print(
                f"luma_nb: the video is ready but could not be cached locally: {exc}",
                file=sys.stderr,
            )
    measured = None
    if measure:
        if local is None:
            print("luma_nb: the video was not measured: there is no local copy", file=sys.stderr)
        else:
            sent = video.request if video.request is not None else task.sent
            measured = _measured(api, log, iteration, sent, local)
    # The status area becomes the player, so `video = generate(...)` shows it exactly once.
    status.finish(video, metrics=measured)
    return video


def _measured(
    api: Client, log: SessionLog, iteration: str, sent: VideoRequest | None, local: Path
) -> VideoMetrics | None:
    """Measure the downloaded video (and its filmstrip), log the numbers; None if it fails."""
    from luma_nb.video_metrics import measure_video

    images: dict[str, Path] = {}
    for name in ("start_image_url", "end_image_url"):
        url = getattr(sent, name, None) if sent is not None else None
        if not isinstance(url, str) or not url or fetch_refusal(url) is not None:
            continue
        try:
            images[name] = api.download(url)
        except LumaError as exc:
            print(f"luma_nb: {name} was not compared with the video: {exc}", file=sys.stderr)
    try:
        measured = measure_video(
            local,
            start_image=images.get("start_image_url"),
            end_image=images.get("end_image_url"),
            filmstrip=True,
            cache_dir=api.cache.root,
        )
        log.metrics(iteration, measured)
    except (LumaError, OSError) as exc:
        # The video exists and is returned; only its numbers are missing.
        print(f"luma_nb: the video could not be measured: {exc}", file=sys.stderr)
        return None
    return measured


def _request(prompt: str | None, params: dict[str, Any]) -> VideoRequest:
    _check_sync(params)
    action = params.pop("action", "generate")
    return build_request(
        action,
        prompt=prompt,
        video=params.pop("video_id", None),
        video_url=params.pop("video_url", None),
        options={key: params.pop(key) for key in list(params) if key in REQUEST_FIELDS},
        unknown=params,
    )


def _check_sync(params: dict[str, Any]) -> None:
    sync = params.pop("sync", False)
    if sync is False:
        return
    if not isinstance(sync, bool):
        raise ValidationError(f"sync must be True or False, not {shown(sync)}", field="sync")
    raise ValidationError(
        "the helpers always submit in async mode, so that the task id is logged before "
        "anything waits; for one blocking sync call use "
        "luma_nb.notebook.default_client().generate(..., sync=True)",
        field="sync",
    )


def _submit(
    request: VideoRequest,
    *,
    parent: str | None = None,
    tags: Sequence[str] = (),
    experiment: str | None = None,
    arm: str | None = None,
    preflight: bool | None = None,
) -> tuple[str, Task]:
    """Log, then POST, then log the task id — all before anyone waits.

    The keyframe preflight runs inside the submit, after the log has the iteration: a
    keyframe that fails it is logged as ``failed`` with ``error_type`` ``KeyframeError``
    (nothing was sent, nothing billed).
    """
    global _announced
    if preflight is not None and not isinstance(preflight, bool):  # before the log, too
        raise ValidationError(
            f"preflight must be True, False or None, not {shown(preflight)}", field="preflight"
        )
    api = default_client()
    log = session()
    iteration = _iteration.begin(
        log, request, backend=api.backend, parent=parent, tags=tags, experiment=experiment, arm=arm
    )
    if not _announced:
        _announced = True
        print(f"luma_nb: this session is logged to {log.path}")

    def send(request: VideoRequest) -> Task:
        return api.submit(request, preflight=preflight)

    task = _iteration.submit(log, iteration, request, send)
    return iteration, task


def _last_video(log: SessionLog) -> Video:
    rows = _iteration.finished_rows(log)
    if not rows:
        raise ValidationError("this session has no finished video to extend yet", field="video")
    video = video_from_row(rows[-1])
    if video is None:  # finished_rows holds only rows with a video URL
        raise ValidationError("the last finished iteration has no video URL", field="video")
    return video


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
