"""``POST /luma/videos``: validate, check addresses, fetch keyframes, create and hold tasks.

A part of :class:`~._engine.Simulator` (a mixin), kept apart so that each module stays small.
"""

from __future__ import annotations

import random
import re
import threading

from ._callback import CallbackDispatcher
from ._enhance import enhance_prompt
from ._faults import FaultInjector
from ._keyframe import ImageFetcher, OwnThumbnail, decode_data_url, looks_like_image
from ._netguard import AddressPolicy, AddressRefused, refusal_message
from ._query import QueryPart
from ._response import DROP, SimResponse, bad_request, coded, json_response
from ._routes import parse_media_url
from ._sizes import VideoSize, task_size
from ._task import Keyframe, Task, new_object_id, new_uuid, plan
from ._validation import SubmitRequest, parse_submit, short

__all__ = ["SubmitPart"]


class SubmitPart(QueryPart):
    """The submit path of the engine. Its state is set up by ``Simulator.__init__``."""

    seed: int | str
    address_policy: AddressPolicy
    video_size: VideoSize
    task_failure_rate: float
    generation_seconds: tuple[float, float]
    _moderation: re.Pattern[str] | None
    _faults: FaultInjector
    _fetch: ImageFetcher
    _credits: int | None
    _by_video: dict[str, str]
    _dispatcher: CallbackDispatcher
    _closed: threading.Event
    _dims: dict[tuple[str, bool], tuple[int, int]]

    def _submit(self, body: bytes, trace_id: str) -> SimResponse:
        request = parse_submit(body)
        if self._moderation is not None and self._moderation.search(request.prompt):
            raise coded("forbidden")
        if request.callback_url is not None:
            self._check_address("callback_url", request.callback_url)
        parent = self._find_parent(request) if request.action == "extend" else None
        start = self._keyframe("start_image_url", request.start_image_url)
        end = self._keyframe("end_image_url", request.end_image_url)
        task = self._create(request, parent, start, end, trace_id)
        if request.callback_url is not None:
            self._dispatcher.add(task.task_id, request.callback_url, task.timeline.finished_at)
        if not request.holds:
            ack = self.variants.ack_body(task.task_id, trace_id)
            return json_response(self.variants.ack_status, ack)
        return self._hold(task, request.timeout, trace_id)

    def _check_address(self, field: str, url: str) -> None:
        """Refuse, in one fixed sentence, a URL the address policy does not let us reach."""
        try:
            self.address_policy.check(url)
        except AddressRefused:
            raise bad_request(refusal_message(field)) from None

    def _find_parent(self, request: SubmitRequest) -> Task:
        with self._lock:
            if request.video_id:  # video_id wins over video_url
                task_id = self._by_video.get(request.video_id)
                if task_id is None:
                    raise bad_request(f"video_id {short(request.video_id)!r} was not found")
                what = f"video_id {short(request.video_id)!r}"
            else:
                url = request.video_url or ""
                parsed = parse_media_url(url)
                task_id = parsed[0] if parsed and parsed[1] == "mp4" else None
                if task_id is None or task_id not in self._tasks:
                    raise bad_request(f"video_url is not a video of this service: {short(url)}")
                what = f"video_url {short(url)}"
            parent = self._tasks[task_id]
        if parent.state_at(self.clock.now()) != "completed":
            raise bad_request(f"{what} is not a completed video")
        return parent

    def _keyframe(self, field: str, url: str | None) -> Keyframe | None:
        if url is None:
            return None
        if url[:5].lower() == "data:":
            try:
                data = decode_data_url(url)
            except ValueError:
                raise bad_request(f"{field} is not a valid data URL: {short(url)}") from None
            if not looks_like_image(data):
                raise bad_request(f"{field} is not a decodable image: {short(url)}")
            return data
        own = parse_media_url(url)
        if own is not None:
            task = self._find(own[0])
            if task is None or task.state_at(self.clock.now()) != "completed":
                raise bad_request(f"{field} could not be fetched: {short(url)}")
            if own[1] != "jpg":
                raise bad_request(f"{field} is not a decodable image: {short(url)}")
            return OwnThumbnail(task.task_id)
        self._check_address(field, url)
        # One sentence for every failure past the check (refused redirect, network error, HTTP
        # error, not an image): the answer never tells what the target did.
        failure = bad_request(f"{field} could not be fetched as an image: {short(url)}")
        try:
            data = self._fetch(url)
        except Exception:  # any failure to fetch is the client's bad URL
            raise failure from None
        if not isinstance(data, (bytes, bytearray)) or not looks_like_image(bytes(data)):
            raise failure
        return bytes(data)

    def _create(
        self,
        request: SubmitRequest,
        parent: Task | None,
        start: Keyframe | None,
        end: Keyframe | None,
        trace_id: str,
    ) -> Task:
        aspect = parent.aspect_ratio if parent else (request.aspect_ratio or "16:9")
        keyframed = parent is not None or start is not None or end is not None
        width, height = self._dimensions(aspect, keyframed)
        echo = enhance_prompt(request.prompt) if request.enhancement else request.prompt
        with self._lock:
            if self._credits is not None:
                if self._credits <= 0:
                    raise coded("used_up")
                self._credits -= 1
            number = len(self._tasks) + 1
            base = f"{self.seed}:task:{number}"
            ids = random.Random(base + ":ids")
            stuck, fail_code = self._faults.task_fate(random.Random(base + ":fate"))
            if fail_code is None and random.Random(base + ":failure").random() < (
                self.task_failure_rate
            ):
                fail_code = "api_error"
            now = self.clock.now()
            timeline = plan(
                random.Random(base + ":time"),
                now,
                stuck=stuck,
                fails=fail_code is not None,
                generation_seconds=self.generation_seconds,
            )
            task = Task(
                number=number,
                task_id=new_uuid(ids),
                video_id=new_uuid(ids),
                object_id=new_object_id(ids, now),
                trace_id=trace_id,
                request=request.raw,
                action=request.action,
                prompt=echo,
                # The clip is captioned with the prompt as sent (a blind study's arms then read
                # alike); the echoed prompt's words direct its camera and colour instead.
                clip_text=request.prompt or (parent.clip_text if parent else ""),
                clip_cues=echo or (parent.clip_cues if parent else ""),
                aspect_ratio=aspect,
                loop=request.loop,
                width=width,
                height=height,
                seed=ids.getrandbits(31),
                timeline=timeline,
                error_code=fail_code,
                callback_url=request.callback_url,
                parent_task_id=parent.task_id if parent else None,
                start_image=start,
                end_image=end,
            )
            self._tasks[task.task_id] = task
            self._by_video[task.video_id] = task.task_id
        self._stats.count("tasks_created")
        return task

    def _hold(self, task: Task, timeout: float, trace_id: str) -> SimResponse:
        deadline = task.timeline.created_at + timeout
        while True:
            if self._closed.is_set():
                return DROP
            now = self.clock.now()
            if task.is_terminal_at(now):
                final = self.variants.final_body(task.final_body(self.media_base_url))
                return json_response(200 if task.error_code is None else 500, final)
            if now >= deadline:
                raise coded("timeout")
            step = min(task.timeline.next_change(now), deadline) - now
            self.clock.sleep(max(1e-3, min(step, self.clock.granularity)))

    def _dimensions(self, aspect: str, keyframed: bool) -> tuple[int, int]:
        """The size a new task reports: that of the file it will be served."""
        key = (aspect, keyframed)
        cached = self._dims.get(key)
        if cached is None:
            from . import _media

            if _media.can_render():
                cached = task_size(self.video_size, aspect, keyframed=keyframed)
            else:
                fallback = _media.fallback_clip()
                cached = (fallback.width, fallback.height)
            self._dims[key] = cached
        return cached
