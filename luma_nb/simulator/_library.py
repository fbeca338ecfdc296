"""A bounded in-memory cache of rendered clips, filled lazily on the first media request."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._media import RenderedClip

__all__ = ["MediaLibrary"]


class MediaLibrary:
    """An LRU of rendered clips keyed by task id; each key is rendered at most once at a time.

    Parameters
    ----------
    max_items : int
        Clips kept; the least recently used is evicted (and re-rendered if asked again).
    """

    def __init__(self, max_items: int = 32) -> None:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self.max_items = max_items
        self._clips: OrderedDict[str, RenderedClip] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.renders = 0
        self.render_seconds = 0.0

    def get(self, key: str, make: Callable[[], RenderedClip]) -> RenderedClip:
        """The clip for ``key``, calling ``make`` (outside the cache lock) if it is not cached."""
        with self._lock:
            clip = self._clips.get(key)
            if clip is not None:
                self._clips.move_to_end(key)
                return clip
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                clip = self._clips.get(key)
                if clip is not None:
                    self._clips.move_to_end(key)
                    return clip
            start = time.perf_counter()
            clip = make()
            elapsed = time.perf_counter() - start
            with self._lock:
                self.renders += 1
                self.render_seconds += elapsed
                self._clips[key] = clip
                self._clips.move_to_end(key)
                while len(self._clips) > self.max_items:
                    self._clips.popitem(last=False)
                self._key_locks.pop(key, None)
            return clip

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._clips

    def __len__(self) -> int:
        with self._lock:
            return len(self._clips)
