"""``POST /luma/tasks``, the media downloads, and rendering: the read side of the engine.

A part of :class:`~._engine.Simulator` (a mixin), kept apart so that each module stays small.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from typing import TYPE_CHECKING, Any

from ._clock import Clock
from ._keyframe import OwnThumbnail
from ._library import MediaLibrary
from ._range import serve_bytes
from ._response import SimResponse, bad_request, coded, json_response
from ._routes import parse_media_path
from ._stats import StatsBook
from ._task import Account, Keyframe, Task
from ._validation import parse_json_object, short
from ._variants import Variants

if TYPE_CHECKING:
    from ._media import ClipSpec, RenderedClip

__all__ = ["SEGMENT_SECONDS", "QueryPart"]

SEGMENT_SECONDS = 5.0


class QueryPart:
    """Task queries, media and clips. Its state is set up by ``Simulator.__init__``."""

    clock: Clock
    media_base_url: str
    variants: Variants
    _account: Account
    _lock: threading.RLock
    _tasks: dict[str, Task]
    _stats: StatsBook
    _library: MediaLibrary

    def _find(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def _task(self, task_id: str) -> Task:
        with self._lock:
            return self._tasks[task_id]

    def record(self, task_id: str) -> dict[str, Any]:
        """The task record ``retrieve`` would answer now (shaped by the ``variants``).

        Raises
        ------
        KeyError
            For an unknown task id.
        """
        return self._record(self._task(task_id), self.clock.now())

    def _record(self, task: Task, now: float) -> dict[str, Any]:
        raw = task.record_at(now, self._account, self.media_base_url)
        return self.variants.record(raw, task.task_id)

    def clip(self, task_id: str) -> RenderedClip:
        """The task's clip, rendered on first use and cached (whatever the task's state).

        Its size is the ``video_width`` x ``video_height`` the task reports.

        Raises
        ------
        KeyError
            For an unknown task id.
        """
        task = self._task(task_id)
        return self._library.get(task.task_id, lambda: self._render(task))

    # -- POST /luma/tasks --------------------------------------------------------------------

    def _query(self, body: bytes) -> SimResponse:
        raw = parse_json_object(body)
        action = raw.get("action")
        now = self.clock.now()
        if action == "retrieve":
            self._stats.count("retrieves")
            task_id = raw.get("id")
            if not isinstance(task_id, str) or not task_id:
                raise bad_request("id is required")
            task = self._find(task_id)
            if task is None:
                raise coded("not_found", f"Task {short(task_id)!r} was not found.")
            return json_response(200, self._record(task, now))
        if action == "retrieve_batch":
            self._stats.count("batch_retrieves")
            ids = raw.get("ids")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise bad_request("ids must be a list of task ids")
            seen: set[str] = set()
            items = []
            for task_id in ids:
                task = self._find(task_id)
                if task is not None and task_id not in seen:
                    seen.add(task_id)
                    items.append(self._record(task, now))
            if self.variants.batch_count == "total":
                with self._lock:
                    count = len(self._tasks)
            else:
                count = len(items)
            return json_response(200, {"items": items, "count": count})
        raise coded("api_not_implemented")

    # -- media -------------------------------------------------------------------------------

    def _media(self, method: str, path: str, headers: dict[str, str]) -> SimResponse:
        parsed = parse_media_path(path)
        task = self._find(parsed[0]) if parsed else None
        if parsed is None or task is None or task.state_at(self.clock.now()) != "completed":
            return SimResponse(
                404, (("content-type", "text/plain; charset=utf-8"),), b"Not Found\n"
            )
        clip = self.clip(task.task_id)
        ext = parsed[1]
        data, kind = (clip.mp4, "video/mp4") if ext == "mp4" else (clip.jpeg, "image/jpeg")
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        return serve_bytes(method, data, kind, headers.get("range"), etag)

    # -- rendering ---------------------------------------------------------------------------

    def _spec(self, task: Task) -> ClipSpec:
        from ._media import ClipSpec

        parent = self._task(task.parent_task_id) if task.parent_task_id else None
        return ClipSpec(
            text=task.clip_text,
            cues=task.clip_cues,
            aspect_ratio=task.aspect_ratio,
            seconds=SEGMENT_SECONDS,
            seed=task.seed,
            start_image=self._keyframe_bytes(task.start_image),
            end_image=self._keyframe_bytes(task.end_image),
            loop=task.loop,
            parent=self._spec(parent) if parent else None,
            size=(task.width, task.height),
        )

    def _keyframe_bytes(self, keyframe: Keyframe | None) -> bytes | None:
        if isinstance(keyframe, OwnThumbnail):
            return self.clip(keyframe.task_id).jpeg
        return keyframe

    def _render(self, task: Task) -> RenderedClip:
        from . import _media

        spec = self._spec(task)
        try:
            return _media.render_clip(spec)
        except ValueError:  # an image that passed the submit check but not the decoder
            pass
        try:  # the same clip without its keyframes: still the size the task reports
            return _media.render_clip(_without_keyframes(spec))
        except ValueError:
            return _media.fallback_clip()

    def _callback_body(self, task_id: str) -> dict[str, Any]:
        return self.variants.final_body(self._task(task_id).final_body(self.media_base_url))


def _without_keyframes(spec: ClipSpec) -> ClipSpec:
    parent = _without_keyframes(spec.parent) if spec.parent is not None else None
    return dataclasses.replace(spec, start_image=None, end_image=None, parent=parent)
