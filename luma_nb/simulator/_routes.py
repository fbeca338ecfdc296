"""Paths the simulator answers, and the media URLs it hands out."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["MEDIA_PREFIX", "media_path", "parse_media_path", "route"]

VIDEOS_PATH = "/luma/videos"
TASKS_PATH = "/luma/tasks"
MEDIA_PREFIX = "/media/luma/"
_MEDIA = re.compile(r"^/media/luma/(?P<task_id>[0-9a-f-]{36})\.(?P<ext>mp4|jpg)$")


def route(method: str, path: str) -> str | None:
    """The endpoint a request goes to: ``videos``, ``tasks``, ``media`` or ``None`` (no API)."""
    path = path.rstrip("/") or "/"
    if method == "POST" and path == VIDEOS_PATH:
        return "videos"
    if method == "POST" and path == TASKS_PATH:
        return "tasks"
    if method in ("GET", "HEAD") and path.startswith(MEDIA_PREFIX):
        return "media"
    return None


def media_path(task_id: str, ext: str) -> str:
    """The path of a task's clip (``mp4``) or thumbnail (``jpg``)."""
    return f"{MEDIA_PREFIX}{task_id}.{ext}"


def parse_media_path(path: str) -> tuple[str, str] | None:
    """``(task_id, ext)`` of a media path, or ``None``."""
    match = _MEDIA.match(path)
    return (match["task_id"], match["ext"]) if match else None


def parse_media_url(url: str) -> tuple[str, str] | None:
    """``(task_id, ext)`` of a media URL of this simulator (any host), or ``None``.

    The host is not checked: the same simulator may be reached in-process and over loopback
    under different names.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    return parse_media_path(parts.path)
