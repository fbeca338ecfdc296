"""``AsyncClient``: the asyncio twin of :class:`luma_nb.client.Client`, over the same core.

Every check and flow is :class:`~luma_nb._client_base.ClientBase`'s; this shell awaits the
steps (and reports a paid submit cancelled in flight as an unknown outcome). Import it from
:mod:`luma_nb` or :mod:`luma_nb.client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx

from luma_nb import _http
from luma_nb._call_arguments import (
    build_request,
    checked_id,
    checked_ids,
    extension,
    request_options,
    submission,
)
from luma_nb._client_base import ClientBase
from luma_nb._flow_resume import Done, resume
from luma_nb._flow_steps import HTTPX_ERRORS, Flow, OnUpdate, Send, Sleep, StopSignal
from luma_nb._preflight import KeyframePreflight, KeyframeReport
from luma_nb._submit_flow import unknown_outcome_of_cancel
from luma_nb.config import PollPolicy, Secret, as_secret
from luma_nb.models import Task, Video, VideoRequest

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient(ClientBase):
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
        with contextlib.closing(flow):
            step = resume(flow)
            while not isinstance(step, Done):
                if isinstance(step, Sleep):
                    await _http.apause(self._sleep, step)
                    step = resume(flow)
                    continue
                tracker = _http.SendTracker()
                answer, failure = None, None
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
                step = resume(flow, answer, failure)
            return step.value

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
        options = request_options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = submission(prompt, action, video_id, video_url, options, sync, unknown)
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
        options = request_options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = build_request("generate", prompt=prompt, options=options, unknown=unknown)
        flow = self._completion(request, max_wait, on_update, sync)
        await self._keyframes.acheck(request, preflight, stacklevel=2)
        return self._finished(await self._run(flow))

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
        options = request_options(
            aspect_ratio, loop, enhancement, start_image_url, end_image_url, callback_url, timeout
        )
        request = extension(video_id, video_url, prompt, options, unknown)
        flow = self._completion(request, max_wait, on_update, sync)
        await self._keyframes.acheck(request, preflight, stacklevel=2)
        return self._finished(await self._run(flow))

    async def get_task(self, task_id: str | Task) -> Task:
        """Retrieve one task record (see :meth:`Client.get_task`)."""
        return await self._run(self._core.get_task(checked_id(task_id)))

    async def get_tasks(self, task_ids: Iterable[str | Task]) -> list[Task]:
        """Retrieve many records, 50 ids per request (see :meth:`Client.get_tasks`)."""
        return await self._run(self._core.get_tasks(checked_ids(task_ids)))

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
        return (await self._run(self._waiting([task_id], max_wait, on_update, stop)))[0]

    async def wait_many(
        self,
        task_ids: Iterable[str | Task],
        *,
        max_wait: float | None = None,
        on_update: OnUpdate | None = None,
        stop: StopSignal | None = None,
    ) -> list[Task]:
        """Poll many tasks with batch requests (see :meth:`Client.wait_many`)."""
        return await self._run(self._waiting(task_ids, max_wait, on_update, stop))

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
