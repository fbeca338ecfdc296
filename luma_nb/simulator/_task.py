"""Task records: a seeded timeline, states computed lazily from the clock, spec-shaped bodies.

A task never runs anywhere: its whole life is decided when it is created (when it leaves the
queue, when processing starts, when and how it ends), and every read computes the state at the
clock's current time. No thread per task.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from typing import Any

from ._keyframe import OwnThumbnail
from ._routes import media_path

__all__ = ["API_ID", "Account", "Task", "TaskTimeline", "new_object_id", "new_uuid", "plan"]

API_ID = "94fc9028-5a9f-4875-aae4-38463bd30ac5"

Keyframe = bytes | OwnThumbnail

TERMINAL = ("completed", "failed")

_FAILURE_MESSAGES = {
    "api_error": "The video generation failed upstream, please try again later.",
    "forbidden": "The generated content was blocked by moderation.",
    "busy": "The upstream service is busy, please try again later.",
    "timeout": "The video generation timed out upstream.",
}


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_object_id(rng: random.Random, at: float) -> str:
    """A 24-hex MongoDB-style object id: 4 bytes of time, 8 random bytes."""
    return f"{int(at) & 0xFFFFFFFF:08x}{rng.getrandbits(64):016x}"


@dataclass(frozen=True)
class Account:
    """The ids a task record names besides its own (one application, credential, user)."""

    application_id: str
    credential_id: str
    user_id: str

    @classmethod
    def from_seed(cls, seed: int | str) -> Account:
        """Stable ids for a simulator seed."""
        rng = random.Random(f"{seed}:account")
        return cls(new_uuid(rng), new_uuid(rng), new_uuid(rng))


@dataclass(frozen=True)
class TaskTimeline:
    """When a task leaves each state, in simulated epoch seconds (``inf``: never)."""

    created_at: float
    started_at: float
    pending_at: float
    processing_at: float
    finished_at: float

    def state_at(self, now: float, failed: bool) -> str:
        """``queued``, ``pending``, ``processing``, ``completed`` or ``failed`` at ``now``."""
        if now < self.pending_at:
            return "queued"
        if now < self.processing_at:
            return "pending"
        if now < self.finished_at:
            return "processing"
        return "failed" if failed else "completed"

    def next_change(self, now: float) -> float:
        """The time of the next state change after ``now`` (``inf`` if none)."""
        for at in (self.pending_at, self.processing_at, self.finished_at):
            if now < at:
                return at
        return math.inf


#: How long a generation takes (seconds, uniform): the spec's sample tasks took 154-156 s.
GENERATION_SECONDS = (120.0, 160.0)


def plan(
    rng: random.Random,
    created_at: float,
    *,
    stuck: bool,
    fails: bool,
    generation_seconds: tuple[float, float] = GENERATION_SECONDS,
) -> TaskTimeline:
    """Draw a realistic timeline: queued 1-3 s, pending until ~5 s, done after
    ``generation_seconds`` (120-160 s by default).

    A failing task ends somewhere during processing; a stuck one never ends.
    """
    started = created_at + rng.uniform(0.03, 0.12)
    pending = created_at + rng.uniform(1.0, 3.0)
    processing = created_at + rng.uniform(4.5, 6.0)
    done = created_at + rng.uniform(*generation_seconds)
    fail_at = rng.uniform(processing + 10.0, done)
    if stuck:
        finished = math.inf
    elif fails:
        finished = fail_at
    else:
        finished = done
    return TaskTimeline(created_at, started, pending, processing, finished)


@dataclass(frozen=True)
class Task:
    """One generation, immutable once created.

    ``prompt`` is the echoed prompt (rewritten when ``enhancement`` is on). ``clip_text`` is
    the caption the clip shows: the prompt as sent. ``clip_cues`` is the text whose camera, light
    and style words direct the clip: the echoed prompt. (An extend with no prompt keeps its
    parent's.)
    """

    number: int
    task_id: str
    video_id: str
    object_id: str
    trace_id: str
    request: dict[str, Any]
    action: str
    prompt: str
    clip_text: str
    clip_cues: str
    aspect_ratio: str
    loop: bool
    width: int
    height: int
    seed: int
    timeline: TaskTimeline
    error_code: str | None
    callback_url: str | None
    parent_task_id: str | None
    start_image: Keyframe | None
    end_image: Keyframe | None

    @property
    def fails(self) -> bool:
        """Whether the task ends in ``failed``."""
        return self.error_code is not None

    def state_at(self, now: float) -> str:
        """The task's state at ``now``."""
        return self.timeline.state_at(now, self.fails)

    def is_terminal_at(self, now: float) -> bool:
        """Whether the task has ended by ``now``."""
        return self.state_at(now) in TERMINAL

    def final_body(self, media_base_url: str) -> dict[str, Any]:
        """The body of a finished task: sync answer, record ``response`` and callback body."""
        if self.error_code is not None:
            message = _FAILURE_MESSAGES.get(self.error_code, "The video generation failed.")
            return {
                "success": False,
                "task_id": self.task_id,
                "state": "failed",
                "error": {"code": self.error_code, "message": message},
                "trace_id": self.trace_id,
            }
        base = media_base_url.rstrip("/")
        return {
            "success": True,
            "task_id": self.task_id,
            "video_id": self.video_id,
            "prompt": self.prompt,
            "video_url": base + media_path(self.task_id, "mp4"),
            "video_width": self.width,
            "video_height": self.height,
            "state": "completed",
            "thumbnail_url": base + media_path(self.task_id, "jpg"),
            "thumbnail_width": self.width,
            "thumbnail_height": self.height,
            "trace_id": self.trace_id,
        }

    def response_at(self, now: float, media_base_url: str) -> dict[str, Any] | None:
        """The record's ``response`` at ``now`` (``None`` while queued)."""
        state = self.state_at(now)
        if state == "queued":
            return None
        if state in TERMINAL:
            return self.final_body(media_base_url)
        return {"task_id": self.task_id, "state": state}

    def record_at(self, now: float, account: Account, media_base_url: str) -> dict[str, Any]:
        """The task record as ``POST /luma/tasks`` answers it at ``now``."""
        t = self.timeline
        record: dict[str, Any] = {
            "_id": self.object_id,
            "id": self.task_id,
            "api_id": API_ID,
            "application_id": account.application_id,
            "credential_id": account.credential_id,
            "user_id": account.user_id,
            "trace_id": self.trace_id,
            "created_at": round(t.created_at, 3),
            "started_at": round(t.started_at, 3),
        }
        if self.is_terminal_at(now):
            record["finished_at"] = round(t.finished_at, 3)
            record["elapsed"] = round(t.finished_at - t.started_at, 2)
        record["request"] = self.request
        response = self.response_at(now, media_base_url)
        if response is not None:
            record["response"] = response
        return record
