"""What ``Client`` and ``AsyncClient`` share: one core under two thin shells.

:class:`ClientBase` resolves the settings, owns the protocol core (:class:`luma_nb._flows.Core`),
the media cache and the keyframe preflight, and prepares each call's flow; the shells
(:mod:`luma_nb.client`, :mod:`luma_nb._async_client`) only perform it, blocking or awaited.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from luma_nb import _http
from luma_nb._call_arguments import check_sync, check_wait, checked_ids
from luma_nb._flow_steps import Flow, OnUpdate, StopSignal
from luma_nb._flows import Core
from luma_nb._media_cache import MediaCache
from luma_nb._preflight import KeyframePreflight, Keyframes
from luma_nb._schedule import DurationModel
from luma_nb._version import __version__
from luma_nb.config import PollPolicy, Secret, Settings, as_secret
from luma_nb.errors import GenerationFailedError, ValidationError
from luma_nb.models import Task, Video, VideoRequest, check_http_url


class ClientBase:
    """What the two clients share: settings, the protocol core, the media cache, the keyframe
    preflight."""

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

    def _completion(
        self,
        request: VideoRequest,
        max_wait: float | None,
        on_update: OnUpdate | None,
        sync: bool,
    ) -> Flow[Task]:
        """The flow of a generate or extend (submit, then wait), its arguments checked."""
        check_wait(max_wait, on_update)
        check_sync(sync)
        return self._core.complete(request, sync=sync, max_wait=max_wait, on_update=on_update)

    def _waiting(
        self,
        tasks: Iterable[str | Task],
        max_wait: float | None,
        on_update: OnUpdate | None,
        stop: StopSignal | None,
    ) -> Flow[list[Task]]:
        """The flow of a wait on ``tasks`` (or ids), its arguments checked."""
        check_wait(max_wait, on_update, stop)
        return self._core.wait(
            checked_ids(tasks), max_wait=max_wait, on_update=on_update, stop=stop
        )
