"""A sliding-window rate limit, counted on the clock's wall time.

The real limits are undocumented (docs/api.md, open question 9). The simulator counts requests
per token and per endpoint (a client's polling does not starve its submits), and tells a limited
client when a slot frees up in ``Retry-After`` (whole seconds, at least 1).
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque

from ._clock import Clock

__all__ = ["RateLimiter", "parse_rate_limit"]


def parse_rate_limit(text: str) -> tuple[int, float]:
    """Parse ``N/S`` (N requests per S seconds; ``N`` alone means per second).

    Raises
    ------
    ValueError
        If the text is not of that form or the numbers are not positive.
    """
    match = re.fullmatch(r"\s*(\d+)\s*(?:/\s*(\d+(?:\.\d*)?|\.\d+)\s*s?)?\s*", text)
    if not match:
        raise ValueError(f"rate limit {text!r} is not of the form N/S (e.g. 10/60)")
    count = int(match[1])
    window = float(match[2]) if match[2] else 1.0
    if count < 1 or window <= 0:
        raise ValueError(f"rate limit {text!r} needs N >= 1 and S > 0")
    return count, window


class RateLimiter:
    """At most ``limit`` requests per ``window`` wall seconds for each key. Thread-safe."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> int | None:
        """Count a request for ``key``; ``None`` if allowed, else the ``Retry-After`` seconds.

        A refused request is not counted.
        """
        now = self._clock.wall()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) < self.limit:
                seen.append(now)
                return None
            return max(1, math.ceil(seen[0] + self.window - now))
