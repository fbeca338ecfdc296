"""``Client`` and ``AsyncClient``: thin httpx shells over the protocol core.

Both have the same constructor and method names; every policy (validation, retries,
polling, error mapping) lives once in :mod:`luma_nb._flows`. The sync client needs no event
loop at all, so it works in any notebook cell; the async one is awaited at top level.
``Client`` is written here, ``AsyncClient`` in :mod:`luma_nb._async_client` (importable from
here too); both stand on what they share, :class:`~luma_nb._client_base.ClientBase`.

Example
-------
>>> import luma_nb
>>> client = luma_nb.Client()          # token from ACEDATACLOUD_API_TOKEN  # doctest: +SKIP
>>> video = client.generate("a paper boat on a rainy street", aspect_ratio="9:16")  # doctest: +SKIP
>>> video.video_url  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx

from luma_nb import _http
from luma_nb._async_client import AsyncClient
from luma_nb._call_arguments import MAX_WAIT_LIMIT as MAX_WAIT_LIMIT
from luma_nb._call_arguments import build_request as build_request
from luma_nb._call_arguments import check_wait as check_wait
from luma_nb._call_arguments import checked_id, checked_ids, extension, request_options, submission
from luma_nb._client_base import ClientBase
from luma_nb._flow_resume import Done, resume
from luma_nb._flow_steps import HTTPX_ERRORS, Flow, OnUpdate, Sleep, StopSignal
from luma_nb._preflight import KeyframePreflight, KeyframeReport
from luma_nb.config import PollPolicy, Secret, as_secret
from luma_nb.models import Task, Video, VideoRequest

__all__ = ["AsyncClient", "Client"]

# MAX_WAIT_LIMIT, build_request and check_wait (the argument checks the notebook helpers and
# studies share with the clients) stay importable from here, as explicit re-exports.

T = TypeVar("T")


class Client(ClientBase):
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
        with contextlib.closing(flow):
            step = resume(flow)
            while not isinstance(step, Done):
                if isinstance(step, Sleep):
                    _http.pause(self._sleep, step)
                    step = resume(flow)
                    continue
                answer, failure = None, None
                try:
                    answer = _http.perform(self._http, step, **self._limits())
                except HTTPX_ERRORS as exc:
                    failure = _http.scrubbed(exc, self._settings.token)
                # Thrown outside the except block, so the flow's typed error does not chain
                # the httpx exception (whose frames hold raw answers) as its context.
                step = resume(flow, answer, failure)
            return step.value

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
        options = request_options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = submission(prompt, action, video_id, video_url, options, sync, unknown)
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
        options = request_options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = build_request("generate", prompt=prompt, options=options, unknown=unknown)
        flow = self._completion(request, max_wait, on_update, sync)
        self._keyframes.check(request, preflight, stacklevel=2)
        return self._finished(self._run(flow))

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
        options = request_options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = extension(video_id, video_url, prompt, options, unknown)
        flow = self._completion(request, max_wait, on_update, sync)
        self._keyframes.check(request, preflight, stacklevel=2)
        return self._finished(self._run(flow))

    def get_task(self, task_id: str | Task) -> Task:
        """Retrieve one task record (``retrieve``), with retries on transient errors."""
        return self._run(self._core.get_task(checked_id(task_id)))

    def get_tasks(self, task_ids: Iterable[str | Task]) -> list[Task]:
        """Retrieve many records with ``retrieve_batch``, 50 ids per request."""
        return self._run(self._core.get_tasks(checked_ids(task_ids)))

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
        return self._run(self._waiting([task_id], max_wait, on_update, stop))[0]

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
        return self._run(self._waiting(task_ids, max_wait, on_update, stop))

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
