"""``Client`` and ``AsyncClient``: thin httpx shells over the protocol core.

Both have the same constructor and method names; every policy (validation, retries,
polling, error mapping) lives once in :mod:`luma_nb._flows`. The sync client needs no event
loop at all, so it works in any notebook cell; the async one is awaited at top level.

Example
-------
>>> import luma_nb
>>> client = luma_nb.Client()          # token from ACEDATACLOUD_API_TOKEN  # doctest: +SKIP
>>> video = client.generate("a paper boat on a rainy street", aspect_ratio="9:16")  # doctest: +SKIP
>>> video.video_url  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import difflib
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from luma_nb import _http
from luma_nb._flow_steps import HTTPX_ERRORS, Flow, OnUpdate, Send, Sleep, StopSignal
from luma_nb._flows import Core
from luma_nb._media_cache import MediaCache
from luma_nb._preflight import KeyframePreflight, KeyframeReport, Keyframes
from luma_nb._schedule import DurationModel
from luma_nb._submit_flow import unknown_outcome_of_cancel
from luma_nb._values import MAX_ID_CHARS, id_problem, shown
from luma_nb._version import __version__
from luma_nb.config import PollPolicy, Secret, Settings, as_secret
from luma_nb.errors import GenerationFailedError, ValidationError
from luma_nb.models import Task, Video, VideoRequest, check_http_url, check_seconds

__all__ = ["AsyncClient", "Client"]

T = TypeVar("T")
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


class _ClientBase:
    """What the two clients share: settings, validation of arguments, the media cache."""

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        poll: PollPolicy | None = None,
        backend: str | None = None,
        cache_dir: str | Path | None = None,
        max_download_bytes: int | None = None,
        allow_insecure_http: bool | None = None,
        preflight: bool | KeyframePreflight | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        token = as_secret(token)  # at once: no frame of ours holds the plain string
        self._settings = Settings.resolve(
            token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            backend=backend,
            max_download_bytes=max_download_bytes,
            allow_insecure_http=allow_insecure_http,
        )
        self._core = Core(self._settings, clock=clock or time.monotonic, rng=rng)
        self._auth = _http.BearerAuth(self._settings.token)
        self._cache = MediaCache(cache_dir)
        self._keyframes = Keyframes(
            KeyframePreflight.resolve(preflight),
            backend=self._settings.backend,
            base_url=self._settings.base_url,
            owner=self,
        )

    @property
    def settings(self) -> Settings:
        """The resolved settings (the token inside is masked)."""
        return self._settings

    @property
    def backend(self) -> str:
        """``"api"`` or ``"simulator"``: which backend this client talks to."""
        return self._settings.backend

    @property
    def base_url(self) -> str:
        """The API base URL."""
        return self._settings.base_url

    @property
    def durations(self) -> DurationModel:
        """How long generations took, as this client has seen them: it shapes the adaptive
        poll schedule. Seed it with ``client.durations.observe_all(seconds)``; the notebook
        helpers, the panel and studies seed it from the session log."""
        return self._core.durations

    @property
    def cache(self) -> MediaCache:
        """The media cache used by :meth:`download`."""
        return self._cache

    @property
    def preflight(self) -> KeyframePreflight:
        """How keyframes are checked before a paid submit (see :mod:`luma_nb._preflight`)."""
        return self._keyframes.policy

    def __repr__(self) -> str:
        settings = getattr(self, "_settings", None)  # None while __init__ has not finished
        if settings is None:
            return f"<{type(self).__name__} (not constructed)>"
        return f"{type(self).__name__}(base_url={self.base_url!r}, backend={self.backend!r})"

    def _http_options(self) -> dict[str, Any]:
        return {
            "timeout": httpx.Timeout(
                self._settings.timeout, connect=min(10.0, self._settings.timeout)
            ),
            "headers": {"accept": "application/json", "user-agent": f"luma_nb/{__version__}"},
            "follow_redirects": False,
        }

    def _limits(self) -> dict[str, Any]:
        """What every request step is performed with (see :mod:`luma_nb._http`)."""
        return {"auth": self._auth, "settings": self._settings, "clock": self._core.clock}

    @staticmethod
    def _ids(task_ids: Iterable[str | Task] | str) -> list[str]:
        if isinstance(task_ids, (str, Task)):
            raise ValidationError("pass a list of task ids", field="task_ids")
        ids = [_task_id(t) for t in task_ids]
        if not ids:
            raise ValidationError("no task ids given", field="task_ids")
        return ids

    def _media_url(self, video: Video | Task | str) -> str:
        if isinstance(video, Task):
            if video.video is None:
                raise ValidationError(f"task {video.id} has no video (state {video.state.value})")
            video = video.video
        url = video.video_url if isinstance(video, Video) else video
        check_http_url("" if url is None else url, "video_url")  # None is no URL here
        return str(url)

    @staticmethod
    def _finished(task: Task) -> Video:
        if task.video is None:
            raise GenerationFailedError(task)
        return task.video


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


def _submission(
    prompt: str | VideoRequest | None,
    action: str,
    video_id: str | Video | None,
    video_url: str | None,
    options: dict[str, Any],
    sync: object,
    unknown: dict[str, object],
) -> VideoRequest:
    """The request of a ``submit`` call: a ready VideoRequest, or one built from keywords."""
    _check_sync(sync)
    if isinstance(prompt, VideoRequest):
        _reject_unknown(unknown)
        return prompt
    return build_request(
        action, prompt=prompt, video=video_id, video_url=video_url, options=options, unknown=unknown
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


def _check_sync(sync: object) -> None:
    if not isinstance(sync, bool):
        raise ValidationError(f"sync must be True or False, not {shown(sync)}", field="sync")


def _task_id(task: str | Task) -> str:
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


def _options(
    aspect_ratio: str | None,
    loop: bool,
    enhancement: bool,
    start_image_url: str | None,
    end_image_url: str | None,
    callback_url: str | None,
    timeout: float | None,
) -> dict[str, Any]:
    return {
        "aspect_ratio": aspect_ratio,
        "loop": loop,
        "enhancement": enhancement,
        "start_image_url": start_image_url,
        "end_image_url": end_image_url,
        "callback_url": callback_url,
        "timeout": timeout,
    }


class Client(_ClientBase):
    """A blocking client of the Luma video API.

    Parameters
    ----------
    token : str, optional
        The API token; defaults to ``ACEDATACLOUD_API_TOKEN``. Never shown in any repr.
    base_url : str, optional
        Defaults to ``ACEDATACLOUD_API_BASE_URL``, else ``https://api.acedata.cloud``.
    timeout : float, optional
        HTTP timeout in seconds (default 30). Separate from the API ``timeout`` field and
        from the wait deadline ``max_wait``.
    max_retries : int, optional
        Retries of reads (and of submits that surely never left), default 4.
    transport : httpx.BaseTransport, optional
        Any httpx transport: ``httpx.MockTransport`` in tests, the simulator's transport.
    poll : PollPolicy, optional
        Polling cadence and default ``max_wait``.
    backend : str, optional
        Label stamped on results: ``"api"`` (default) or ``"simulator"``.
    cache_dir : path, optional
        Media cache folder (see :mod:`luma_nb._media_cache`).
    max_download_bytes : int, optional
        Largest download accepted (default 1 GiB, ``LUMA_NB_MAX_DOWNLOAD_BYTES``); a larger
        body stops at the cap with an ``UnexpectedResponseError`` and leaves nothing cached.
    allow_insecure_http : bool, optional
        Allow a plain-``http`` base URL on a host other than this machine (the token would
        travel in cleartext); default False, or ``LUMA_NB_ALLOW_INSECURE_HTTP=1``.
    preflight : bool or KeyframePreflight, optional
        Check ``start_image_url`` / ``end_image_url`` before every paid submit (default on,
        ``LUMA_NB_PREFLIGHT=0`` turns it off): a URL the API could not fetch or use raises
        :class:`~luma_nb.errors.KeyframeError` before anything is sent. A
        :class:`~luma_nb._preflight.KeyframePreflight` sets its limits.
    sleep, clock, rng :
        Injectable time and randomness, for tests.
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        transport: httpx.BaseTransport | None = None,
        poll: PollPolicy | None = None,
        backend: str | None = None,
        cache_dir: str | Path | None = None,
        max_download_bytes: int | None = None,
        allow_insecure_http: bool | None = None,
        preflight: bool | KeyframePreflight | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        token = as_secret(token)  # at once: no frame of ours holds the plain string
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            backend=backend,
            cache_dir=cache_dir,
            max_download_bytes=max_download_bytes,
            allow_insecure_http=allow_insecure_http,
            preflight=preflight,
            clock=clock,
            rng=rng,
        )
        self._sleep = sleep or time.sleep
        self._http = httpx.Client(transport=transport, **self._http_options())

    # ------------------------------------------------------------------ driving

    def _run(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    _http.pause(self._sleep, step)
                    step = flow.send(None)
                    continue
                failure: Exception | None = None
                try:
                    answer = _http.perform(self._http, step, **self._limits())
                except HTTPX_ERRORS as exc:
                    failure = _http.scrubbed(exc, self._settings.token)
                # Thrown outside the except block, so the flow's typed error does not chain
                # the httpx exception (whose frames hold raw answers) as its context.
                step = flow.send(answer) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            flow.close()

    # ------------------------------------------------------------------ API

    def submit(
        self,
        prompt: str | VideoRequest | None = None,
        *,
        action: str = "generate",
        video_id: str | Video | None = None,
        video_url: str | None = None,
        aspect_ratio: str | None = None,
        loop: bool = False,
        enhancement: bool = True,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        callback_url: str | None = None,
        timeout: float | None = None,
        sync: bool = False,
        preflight: bool | None = None,
        **unknown: object,
    ) -> Task:
        """Submit one request and return its task without waiting.

        In async mode (the default) the task id comes back at once. With ``sync=True`` one
        blocking POST waits for the finished video (HTTP read timeout = API ``timeout`` +
        30 s) and the returned task is terminal. The submit is never retried once it may
        have reached the server: see :class:`~luma_nb.errors.SubmitOutcomeUnknownError`.
        """
        options = _options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = _submission(prompt, action, video_id, video_url, options, sync, unknown)
        self._keyframes.check(request, preflight, stacklevel=2)
        return self._run(self._core.submit(request, sync=sync))

    def generate(
        self,
        prompt: str,
        *,
        aspect_ratio: str = "16:9",
        loop: bool = False,
        enhancement: bool = True,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        callback_url: str | None = None,
        timeout: float | None = None,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        sync: bool = False,
        preflight: bool | None = None,
        **unknown: object,
    ) -> Video:
        """Generate a video from a prompt and return it when it is finished.

        Raises
        ------
        ValidationError
            Bad input, before any request.
        GenerationFailedError
            The task failed; ``.task`` holds it.
        WaitTimeoutError
            ``max_wait`` passed; the task may still finish (re-attach with :meth:`wait`).
        """
        request = build_request(
            "generate",
            prompt=prompt,
            options=_options(
                aspect_ratio,
                loop,
                enhancement,
                start_image_url,
                end_image_url,
                callback_url,
                timeout,
            ),
            unknown=unknown,
        )
        return self._complete(
            request, max_wait=max_wait, on_update=on_update, sync=sync, preflight=preflight
        )

    def extend(
        self,
        video_id: str | Video | None = None,
        *,
        video_url: str | None = None,
        prompt: str | None = None,
        aspect_ratio: str | None = None,
        loop: bool = False,
        enhancement: bool = True,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        callback_url: str | None = None,
        timeout: float | None = None,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        sync: bool = False,
        preflight: bool | None = None,
        **unknown: object,
    ) -> Video:
        """Continue an earlier video (by ``video_id``, a :class:`Video`, or ``video_url``)."""
        request = build_request(
            "extend",
            prompt=prompt,
            video=video_id,
            video_url=video_url,
            options=_options(
                aspect_ratio,
                loop,
                enhancement,
                start_image_url,
                end_image_url,
                callback_url,
                timeout,
            ),
            unknown=unknown,
        )
        return self._complete(
            request, max_wait=max_wait, on_update=on_update, sync=sync, preflight=preflight
        )

    def _complete(
        self,
        request: VideoRequest,
        *,
        max_wait: float | None,
        on_update: OnUpdate | None,
        sync: bool,
        preflight: bool | None = None,
    ) -> Video:
        check_wait(max_wait, on_update)
        _check_sync(sync)
        self._keyframes.check(request, preflight, stacklevel=3)
        flow = self._core.complete(request, sync=sync, max_wait=max_wait, on_update=on_update)
        return self._finished(self._run(flow))

    def get_task(self, task_id: str | Task) -> Task:
        """Retrieve one task record (``retrieve``), with retries on transient errors."""
        return self._run(self._core.get_task(_task_id(task_id)))

    def get_tasks(self, task_ids: Iterable[str | Task]) -> list[Task]:
        """Retrieve many records with ``retrieve_batch``, 50 ids per request."""
        return self._run(self._core.get_tasks(self._ids(task_ids)))

    def wait(
        self,
        task_id: str | Task,
        *,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        stop: StopSignal | None = None,
    ) -> Task:
        """Poll until the task is terminal and return it, failed or not.

        Raises :class:`~luma_nb.errors.WaitTimeoutError` (with the task id) at the deadline.
        ``stop`` (a ``threading.Event``, set from another thread) ends the wait early: it is
        looked at before every poll and wakes the sleep between polls at once, and the wait
        then raises :class:`~luma_nb.errors.WaitCancelledError` (with the task id). A poll
        already in flight finishes first; the task itself is not cancelled on the server.
        """
        check_wait(max_wait, on_update, stop)
        return self._run(
            self._core.wait([_task_id(task_id)], max_wait=max_wait, on_update=on_update, stop=stop)
        )[0]

    def wait_many(
        self,
        task_ids: Iterable[str | Task],
        *,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        stop: StopSignal | None = None,
    ) -> list[Task]:
        """Poll many tasks with batch requests (one per round per 50 tasks); results in order.

        ``stop`` works as in :meth:`wait` (:class:`~luma_nb.errors.WaitCancelledError` lists
        the unfinished ids).
        """
        check_wait(max_wait, on_update, stop)
        return self._run(
            self._core.wait(self._ids(task_ids), max_wait=max_wait, on_update=on_update, stop=stop)
        )

    def download(self, video: Video | Task | str, path: str | Path | None = None) -> Path:
        """Download a video (or any media URL) through the content-addressed cache.

        The token is sent only when the URL is on the API's own origin, never to a CDN.
        Returns the cached file, or a copy at ``path`` when given.
        """
        return self._run(self._core.download(self._media_url(video), self._cache, path))

    def check_keyframe(self, url: str, *, aspect_ratio: str | None = None) -> KeyframeReport:
        """Run the keyframe preflight on ``url`` now (even when the setting is off) and
        return what it found; a failure is reported (``ok=False``), not raised. The result is
        cached like a submit's, so a submit with the same URL does not fetch it again."""
        return self._keyframes.report(*self._keyframes.arguments(url, aspect_ratio))

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """The asyncio twin of :class:`Client`: same constructor, same methods, awaited.

    ``transport`` takes an ``httpx.AsyncBaseTransport``; ``sleep`` an async callable.
    """

    def __init__(
        self,
        token: str | Secret | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        poll: PollPolicy | None = None,
        backend: str | None = None,
        cache_dir: str | Path | None = None,
        max_download_bytes: int | None = None,
        allow_insecure_http: bool | None = None,
        preflight: bool | KeyframePreflight | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        token = as_secret(token)  # at once: no frame of ours holds the plain string
        super().__init__(
            token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            poll=poll,
            backend=backend,
            cache_dir=cache_dir,
            max_download_bytes=max_download_bytes,
            allow_insecure_http=allow_insecure_http,
            preflight=preflight,
            clock=clock,
            rng=rng,
        )
        self._sleep = sleep or asyncio.sleep
        self._http = httpx.AsyncClient(transport=transport, **self._http_options())

    async def _run(self, flow: Flow[T]) -> T:
        try:
            step = next(flow)
            while True:
                if isinstance(step, Sleep):
                    await _http.apause(self._sleep, step)
                    step = flow.send(None)
                    continue
                tracker = _http.SendTracker()
                failure: Exception | None = None
                try:
                    answer = await _http.aperform(
                        self._http, step, tracker=tracker, **self._limits()
                    )
                except HTTPX_ERRORS as exc:
                    failure = _http.scrubbed(exc, self._settings.token)
                except asyncio.CancelledError:
                    if isinstance(step, Send) and step.paid and tracker.maybe_sent:
                        # The POST may have been billed: say so instead of vanishing.
                        raise unknown_outcome_of_cancel() from None
                    raise
                # Outside the except block: see Client._run.
                step = flow.send(answer) if failure is None else flow.throw(failure)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            flow.close()

    async def submit(
        self,
        prompt: str | VideoRequest | None = None,
        *,
        action: str = "generate",
        video_id: str | Video | None = None,
        video_url: str | None = None,
        aspect_ratio: str | None = None,
        loop: bool = False,
        enhancement: bool = True,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        callback_url: str | None = None,
        timeout: float | None = None,
        sync: bool = False,
        preflight: bool | None = None,
        **unknown: object,
    ) -> Task:
        """Submit one request and return its task without waiting (see :meth:`Client.submit`)."""
        options = _options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = _submission(prompt, action, video_id, video_url, options, sync, unknown)
        await self._keyframes.acheck(request, preflight, stacklevel=2)
        return await self._run(self._core.submit(request, sync=sync))

    async def generate(
        self,
        prompt: str,
        *,
        aspect_ratio: str = "16:9",
        loop: bool = False,
        enhancement: bool = True,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        callback_url: str | None = None,
        timeout: float | None = None,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        sync: bool = False,
        preflight: bool | None = None,
        **unknown: object,
    ) -> Video:
        """Generate a video and return it when finished (see :meth:`Client.generate`)."""
        request = build_request(
            "generate",
            prompt=prompt,
            options=_options(
                aspect_ratio,
                loop,
                enhancement,
                start_image_url,
                end_image_url,
                callback_url,
                timeout,
            ),
            unknown=unknown,
        )
        return await self._complete(
            request, max_wait=max_wait, on_update=on_update, sync=sync, preflight=preflight
        )

    async def extend(
        self,
        video_id: str | Video | None = None,
        *,
        video_url: str | None = None,
        prompt: str | None = None,
        aspect_ratio: str | None = None,
        loop: bool = False,
        enhancement: bool = True,
        start_image_url: str | None = None,
        end_image_url: str | None = None,
        callback_url: str | None = None,
        timeout: float | None = None,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        sync: bool = False,
        preflight: bool | None = None,
        **unknown: object,
    ) -> Video:
        """Continue an earlier video (see :meth:`Client.extend`)."""
        request = build_request(
            "extend",
            prompt=prompt,
            video=video_id,
            video_url=video_url,
            options=_options(
                aspect_ratio,
                loop,
                enhancement,
                start_image_url,
                end_image_url,
                callback_url,
                timeout,
            ),
            unknown=unknown,
        )
        return await self._complete(
            request, max_wait=max_wait, on_update=on_update, sync=sync, preflight=preflight
        )

    async def _complete(
        self,
        request: VideoRequest,
        *,
        max_wait: float | None,
        on_update: OnUpdate | None,
        sync: bool,
        preflight: bool | None = None,
    ) -> Video:
        check_wait(max_wait, on_update)
        _check_sync(sync)
        await self._keyframes.acheck(request, preflight, stacklevel=3)
        flow = self._core.complete(request, sync=sync, max_wait=max_wait, on_update=on_update)
        return self._finished(await self._run(flow))

    async def get_task(self, task_id: str | Task) -> Task:
        """Retrieve one task record (see :meth:`Client.get_task`)."""
        return await self._run(self._core.get_task(_task_id(task_id)))

    async def get_tasks(self, task_ids: Iterable[str | Task]) -> list[Task]:
        """Retrieve many records, 50 ids per request (see :meth:`Client.get_tasks`)."""
        return await self._run(self._core.get_tasks(self._ids(task_ids)))

    async def wait(
        self,
        task_id: str | Task,
        *,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        stop: StopSignal | None = None,
    ) -> Task:
        """Poll until the task is terminal (see :meth:`Client.wait`).

        ``stop`` is an ``asyncio.Event`` (or a ``threading.Event``, set from any thread);
        once set, the wait raises :class:`~luma_nb.errors.WaitCancelledError`. Cancelling the
        awaiting task works too, as for any coroutine.
        """
        check_wait(max_wait, on_update, stop)
        tasks = await self._run(
            self._core.wait([_task_id(task_id)], max_wait=max_wait, on_update=on_update, stop=stop)
        )
        return tasks[0]

    async def wait_many(
        self,
        task_ids: Iterable[str | Task],
        *,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        stop: StopSignal | None = None,
    ) -> list[Task]:
        """Poll many tasks with batch requests (see :meth:`Client.wait_many`)."""
        check_wait(max_wait, on_update, stop)
        return await self._run(
            self._core.wait(self._ids(task_ids), max_wait=max_wait, on_update=on_update, stop=stop)
        )

    async def download(self, video: Video | Task | str, path: str | Path | None = None) -> Path:
        """Download through the content-addressed cache (see :meth:`Client.download`)."""
        return await self._run(self._core.download(self._media_url(video), self._cache, path))

    async def check_keyframe(self, url: str, *, aspect_ratio: str | None = None) -> KeyframeReport:
        """Run the keyframe preflight on ``url`` now (see :meth:`Client.check_keyframe`)."""
        return await self._keyframes.areport(*self._keyframes.arguments(url, aspect_ratio))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
