"""The client calls a job makes, awaited the same way for a sync or an async client.

An :class:`~luma_nb.AsyncClient` is awaited on the running loop. A blocking
:class:`~luma_nb.Client` runs in a worker thread (``asyncio.to_thread``) so the loop stays
free; its wait gets a ``stop`` event (the client's public, cancellable wait), set when the job
is cancelled, so the thread wakes from its sleep and gives up instead of polling on for the
whole deadline. Only public client methods are used.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from luma_nb import _iteration
from luma_nb.client import AsyncClient
from luma_nb.models import Task, VideoRequest

if TYPE_CHECKING:
    from luma_nb._preflight import KeyframeReport
    from luma_nb.client import Client
    from luma_nb.session_log import SessionLog

OnUpdate = Callable[[Task], object]


class Calls:
    """Submit, wait and download through either kind of client.

    ``preflight`` is the panel's keyframe-check switch for the submits (None: the client's).
    """

    def __init__(self, client: AsyncClient | Client, preflight: bool | None = None) -> None:
        self.client = client
        self.preflight = preflight

    @property
    def backend(self) -> str:
        """The client's backend label."""
        return self.client.backend

    async def submit(
        self, log: SessionLog, iteration: str, request: VideoRequest, *, sync: bool
    ) -> Task:
        """POST the request; the log gets ``submitted`` or ``submit_failed`` either way."""
        client = self.client
        if isinstance(client, AsyncClient):

            async def send(req: VideoRequest) -> Task:
                return await client.submit(req, sync=sync, preflight=self.preflight)

            return await _iteration.asubmit(log, iteration, request, send)

        def send_blocking(req: VideoRequest) -> Task:
            return client.submit(req, sync=sync, preflight=self.preflight)

        # If the job is cancelled meanwhile, the thread still finishes the POST and logs its
        # outcome (a task id, or the failure): a paid request is never left unrecorded.
        return await asyncio.to_thread(_iteration.submit, log, iteration, request, send_blocking)

    async def wait(self, task: Task, on_update: OnUpdate) -> Task:
        """Poll until ``task`` is terminal (the client's poll policy and deadline)."""
        client = self.client
        if isinstance(client, AsyncClient):
            return await client.wait(task.id, on_update=on_update)
        stop = threading.Event()
        try:
            return await asyncio.to_thread(client.wait, task.id, on_update=on_update, stop=stop)
        finally:
            stop.set()  # the job was cancelled (or is over): the thread stops polling

    async def check_keyframe(self, url: str, aspect_ratio: str | None) -> KeyframeReport:
        """The keyframe preflight of ``url`` (cached by the client, like a submit's)."""
        client = self.client
        if isinstance(client, AsyncClient):
            return await client.check_keyframe(url, aspect_ratio=aspect_ratio)
        return await asyncio.to_thread(client.check_keyframe, url, aspect_ratio=aspect_ratio)

    async def download(self, url: str) -> Path:
        """A local copy of ``url`` through the client's media cache."""
        client = self.client
        if isinstance(client, AsyncClient):
            return await client.download(url)
        return await asyncio.to_thread(client.download, url)

    def cached(self, url: str) -> Path | None:
        """The cached copy of ``url``, if the client downloaded it before."""
        try:
            return self.client.cache.lookup(url)
        except OSError:
            return None
