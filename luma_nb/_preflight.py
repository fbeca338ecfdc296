"""Keyframe preflight: is a start or end image one the API can fetch and use, before paying?

The API fetches ``start_image_url`` and ``end_image_url`` itself, from the internet, after the
request was accepted (and billed). The usual failures — a link only this machine can reach, an
expired or private link, a web page instead of an image, an image whose shape does not fit the
video — are visible from here. So before any ``POST /luma/videos`` that carries a keyframe the
clients check each URL once (:class:`Keyframes`, one per client):

Reachable by the API
    An http(s) URL (``file:`` and ``data:`` URLs are refused before anything else: the API is
    not documented to accept either) whose host, as written, is public
    (:func:`luma_nb._media_policy.public_url_refusal`: no loopback, private, link-local or
    local-only name in any spelling) and whose name resolves only to public addresses. The GET
    then goes to the very address that was checked (the name stays in ``Host`` and TLS SNI).
    The one exception: the media of the simulator this client talks to
    (:func:`luma_nb._media_policy.is_own_simulator_media`) passes without a fetch.
Fetched like the API would
    Without the API token (an httpx client of its own: no ``authorization`` header and none
    of the API client's cookies ever reach an image host), within :data:`PREFLIGHT_TIMEOUT`
    seconds in all, following at most :data:`MAX_REDIRECTS` redirects, each target checked
    again as above, reading at most :data:`MAX_KEYFRAME_BYTES` (20 MB, the simulator's cap).
An image the API can use
    The bytes must be JPEG, PNG or WebP (sniffed, whatever the label says) and the label an
    image type of those three; a generic label (``application/octet-stream``, none) passes with
    a note. The dimensions are read (:mod:`luma_nb._keyframe_image`: Pillow when installed,
    which also decodes the file, else the JPEG/PNG/WebP header) with the EXIF orientation
    applied.
Warnings, not errors (:class:`KeyframeWarning`)
    A shape that differs from the requested ``aspect_ratio`` by more than
    :data:`RATIO_TOLERANCE` (5%: the frame will be cropped or letterboxed), and an image whose
    shorter side is under :data:`MIN_SIDE` pixels (the ~752-pixel-high video upscales it).

A failure raises :class:`~luma_nb.errors.KeyframeError` (a ``ValidationError``: nothing was
sent). A keyframe that passed is not fetched again by the same client (a study of 40 runs on
one keyframe checks it once); one that failed is checked again next time (you may have fixed
it). ``preflight=False`` on a call, ``Client(preflight=False)``, ``LUMA_NB_PREFLIGHT=0`` or the
panel's checkbox skip the check.

The parts: the setting (:mod:`luma_nb._preflight_policy`), the report and how it is judged
(:mod:`luma_nb._preflight_report`), the decisions, sans-I/O (:mod:`luma_nb._preflight_flow`:
:func:`inspect` is a generator that yields ``Resolve`` and ``Get`` steps and is answered with
addresses, ``Got`` or ``Failed``), and the network side (:mod:`luma_nb._preflight_fetch`:
:func:`drive` and :func:`adrive` perform the steps with blocking or async httpx). This module
is the per-client part, :class:`Keyframes`, and the face of the whole.
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING

from luma_nb._media_policy import is_own_simulator_media
from luma_nb._preflight_fetch import adrive, drive
from luma_nb._preflight_flow import inspect
from luma_nb._preflight_policy import (
    MAX_KEYFRAME_BYTES,
    MAX_REDIRECTS,
    MIN_SIDE,
    PREFLIGHT_ENV,
    PREFLIGHT_TIMEOUT,
    RATIO_TOLERANCE,
    KeyframePreflight,
)
from luma_nb._preflight_report import KeyframeReport, KeyframeWarning, judge, keyframe_error
from luma_nb._values import shown
from luma_nb.errors import ValidationError
from luma_nb.models import ASPECT_RATIOS

if TYPE_CHECKING:
    from luma_nb.models import VideoRequest

__all__ = [
    "MAX_KEYFRAME_BYTES",
    "MAX_REDIRECTS",
    "MIN_SIDE",
    "PREFLIGHT_ENV",
    "PREFLIGHT_TIMEOUT",
    "RATIO_TOLERANCE",
    "KeyframePreflight",
    "KeyframeReport",
    "KeyframeWarning",
    "Keyframes",
    "adrive",
    "drive",
    "inspect",
    "judge",
]

#: The fields that carry keyframes, and how a message names the frame.
FIELDS = {"start_image_url": "first", "end_image_url": "last"}

_CACHE_SIZE = 512


class Keyframes:
    """One client's keyframe preflight: the policy, the cache, and the checks of a request.

    Parameters
    ----------
    policy : KeyframePreflight
        The client's setting.
    backend, base_url : str
        The client's; media of the simulator it talks to pass without a fetch.
    owner : object
        The client (held weakly), for :func:`~luma_nb._media_policy.is_own_simulator_media`.
    """

    def __init__(
        self, policy: KeyframePreflight, *, backend: str, base_url: str, owner: object
    ) -> None:
        self.policy = policy
        self._backend = backend
        self._base_url = base_url
        self._owner = weakref.ref(owner)
        self._cache: OrderedDict[str, KeyframeReport] = OrderedDict()
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        self._flights: dict[str, asyncio.Future[KeyframeReport | None]] = {}
        #: How many URLs this client fetched to check them (cache hits and simulator media
        #: are not fetched).
        self.fetches = 0

    # ---------------------------------------------------------------- what to check

    def wanted(self, request: VideoRequest, preflight: object) -> list[tuple[str, str]]:
        """``(field, url)`` of the keyframes to check; ``preflight`` is the call's override.

        Raises ValidationError for a ``preflight`` that is not True, False or None.
        """
        if preflight is not None and not isinstance(preflight, bool):
            raise ValidationError(
                f"preflight must be True, False or None, not {shown(preflight)}",
                field="preflight",
            )
        if not (self.policy.enabled if preflight is None else preflight):
            return []
        found = ((name, getattr(request, name)) for name in FIELDS)
        return [(name, url) for name, url in found if isinstance(url, str)]

    @staticmethod
    def arguments(url: object, aspect_ratio: object) -> tuple[str, str | None]:
        """``(url, aspect_ratio)`` of a ``check_keyframe`` call, or a ValidationError."""
        if not isinstance(url, str):
            raise ValidationError(f"url must be a string, not {shown(url)}", field="url")
        if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
            raise ValidationError(
                f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)} or None, "
                f"not {shown(aspect_ratio)}",
                field="aspect_ratio",
            )
        return url, aspect_ratio

    def _settled(self, url: str) -> KeyframeReport | None:
        """The base report when no fetch is needed: the simulator's media, or a cache hit."""
        owner = self._owner()
        if (
            self._backend == "simulator"
            and owner is not None
            and is_own_simulator_media(url, owner=owner, base_url=self._base_url)
        ):
            return KeyframeReport(
                url=url,
                ok=True,
                found="the connected simulator's own image",
                final_url=url,
                source="simulator",
            )
        with self._lock:
            report = self._cache.get(url)
            if report is not None:
                self._cache.move_to_end(url)
            return report

    def _remember(self, report: KeyframeReport) -> None:
        with self._lock:
            self.fetches += 1
            if report.ok:  # a failure is checked again: it may have been fixed since
                self._cache[report.url] = report
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)

    def forget(self) -> None:
        """Empty the cache (every keyframe is fetched again on its next check)."""
        with self._lock:
            self._cache.clear()

    # ---------------------------------------------------------------- blocking

    def report(self, url: str, aspect_ratio: str | None) -> KeyframeReport:
        """The judged report of ``url`` (fetched at most once at a time, cached if ok)."""
        base = self._settled(url)
        if base is None:
            with self._lock:
                lock = self._url_locks.setdefault(url, threading.Lock())
            with lock:
                base = self._settled(url)
                if base is None:
                    base = drive(inspect(url, self.policy, time.monotonic), self.policy.resolver)
                    self._remember(base)
            with self._lock:
                self._url_locks.pop(url, None)
        return judge(base, aspect_ratio, self.policy)

    def check(self, request: VideoRequest, preflight: object, *, stacklevel: int) -> None:
        """Check the request's keyframes: KeyframeError for the first that fails, a
        KeyframeWarning for each warning. ``stacklevel`` 1 is the caller of this method."""
        for name, url in self.wanted(request, preflight):
            self._enforce(name, self.report(url, request.aspect_ratio), stacklevel + 1)

    # ---------------------------------------------------------------- async

    async def areport(self, url: str, aspect_ratio: str | None) -> KeyframeReport:
        """:meth:`report`, awaited (concurrent checks of one URL on one loop share a fetch)."""
        base = self._settled(url)
        if base is None:
            loop = asyncio.get_running_loop()
            flight = self._flights.get(url)
            if flight is not None and flight.get_loop() is loop:
                base = await asyncio.shield(flight)
            if base is None:
                base = await self._fly(url, loop)
        return judge(base, aspect_ratio, self.policy)

    async def _fly(self, url: str, loop: asyncio.AbstractEventLoop) -> KeyframeReport:
        flight: asyncio.Future[KeyframeReport | None] = loop.create_future()
        self._flights[url] = flight
        base: KeyframeReport | None = None
        try:
            base = await adrive(inspect(url, self.policy, time.monotonic), self.policy.resolver)
            self._remember(base)
            return base
        finally:
            flight.set_result(base)  # None (a cancel, an error): each waiter checks itself
            if self._flights.get(url) is flight:
                del self._flights[url]

    async def acheck(self, request: VideoRequest, preflight: object, *, stacklevel: int) -> None:
        """:meth:`check`, awaited."""
        for name, url in self.wanted(request, preflight):
            self._enforce(name, await self.areport(url, request.aspect_ratio), stacklevel + 1)

    # ---------------------------------------------------------------- outcome

    @staticmethod
    def _enforce(name: str, report: KeyframeReport, stacklevel: int) -> None:
        if not report.ok:
            raise keyframe_error(name, report)
        for text in report.warnings:
            warnings.warn(
                KeyframeWarning(
                    f"{name} {shown(report.url, 120)} (the {FIELDS[name]} frame): {text}."
                ),
                stacklevel=stacklevel + 1,
            )
