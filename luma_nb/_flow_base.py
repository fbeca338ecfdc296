"""What every flow of the protocol core shares: the settings, the clock, what was sent.

:class:`FlowBase` holds the state the flows read and write (the requests this client sent, when
each task was accepted, the durations seen) and the helpers they all use: API URLs, the
capped, jittered backoff, and reading an answer or a transport failure as a typed error. The
flows themselves are :mod:`luma_nb._submit_flow`, :mod:`luma_nb._wait_flow` and
:mod:`luma_nb._download_flow`, put together as :class:`luma_nb._flows.Core`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx

from luma_nb import _wire
from luma_nb._schedule import DurationModel
from luma_nb.config import RetryPolicy, Settings, origin_of
from luma_nb.errors import APIError, TransportError
from luma_nb.models import VideoRequest

#: How long past a wait's deadline its last request may take (the last look at the task is
#: made at the deadline, so a wait ends at most this much after ``max_wait``).
DEADLINE_GRACE = 1.0


class FlowBase:
    """The state and helpers every flow shares (see :class:`luma_nb._flows.Core`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self._sent: dict[str, VideoRequest] = {}
        #: What this client has seen of how long generations take (shapes its polling).
        self.durations = DurationModel()
        # When (on ``clock``) each task this client submitted was accepted.
        self._submitted_at: dict[str, float] = {}

    # ------------------------------------------------------------------ helpers

    def url(self, path: str) -> str:
        """Absolute URL of an API path."""
        return self.settings.base_url + path

    def is_api_url(self, url: str) -> bool:
        """True when ``url`` is on the API's origin: only then may the token go with it."""
        return origin_of(url) == self.settings.api_origin

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``attempt`` (0-based)."""
        policy: RetryPolicy = self.settings.retry
        delay = min(policy.cap, policy.base * 2**attempt)
        delay *= 1 - policy.jitter * self.rng.random()
        if retry_after is not None:
            delay = max(delay, min(retry_after, policy.max_retry_after))
        return float(delay)

    def _error(self, response: httpx.Response) -> APIError:
        return _wire.error_from_answer(
            response.status_code,
            response.content,
            response.headers,
            secret=self.settings.token,
        )

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        return _wire.decode_object(
            response.status_code, response.content, secret=self.settings.token
        )

    def _transport_error(self, exc: Exception, what: str) -> TransportError:
        return TransportError(
            f"{what} failed: {type(exc).__name__}: {self.settings.token.scrub(str(exc))}"
        )

    def _request_deadline(self, budget: float, deadline: float | None = None) -> float:
        """When one request must be over: ``budget`` seconds from now, and no later than a
        wait's ``deadline`` (plus :data:`DEADLINE_GRACE`)."""
        own = self.clock() + budget
        return own if deadline is None else min(own, deadline + DEADLINE_GRACE)
