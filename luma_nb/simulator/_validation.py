"""Validation of ``POST /luma/videos`` bodies, with the service's codes and messages.

Choices the spec leaves open (question 6), made here: unknown keys are ignored (and echoed in
the task's ``request``); ``null`` counts as absent; there is no prompt length limit; ``timeout``
may be any positive number.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._response import Rejection, bad_request

__all__ = ["ASPECT_RATIOS", "DEFAULT_TIMEOUT", "SubmitRequest", "parse_json_object", "parse_submit"]

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
ACTIONS = ("generate", "extend")
DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class SubmitRequest:
    """A validated submit body. ``raw`` is the body exactly as sent."""

    raw: dict[str, Any]
    action: str
    prompt: str
    aspect_ratio: str | None
    video_id: str | None
    video_url: str | None
    start_image_url: str | None
    end_image_url: str | None
    loop: bool
    enhancement: bool
    timeout: float
    callback_url: str | None
    async_mode: bool

    @property
    def holds(self) -> bool:
        """Whether the request is answered only when the video is ready (sync mode)."""
        return not self.async_mode and self.callback_url is None


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body or raise a 400 ``bad_request``."""
    try:
        value = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):  # also nested beyond json's depth
        raise bad_request("request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise bad_request("request body must be a JSON object")
    return value


def _get(raw: dict[str, Any], key: str) -> Any:
    return raw.get(key)  # None when absent or null


def _string(raw: dict[str, Any], key: str) -> str | None:
    value = _get(raw, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    return value


def _bool(raw: dict[str, Any], key: str, default: bool) -> bool:
    value = _get(raw, key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a boolean")
    return value


def _url(raw: dict[str, Any], key: str, *, allow_data: bool) -> str | None:
    value = _string(raw, key)
    if value is None:
        return None
    value = value.strip()
    if allow_data and value[:5].lower() == "data:":
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        kinds = "an http(s) or data URL" if allow_data else "an http(s) URL"
        raise bad_request(f"{key} must be {kinds}")
    return value


def parse_submit(body: bytes) -> SubmitRequest:
    """Validate a submit body as the service would.

    Raises
    ------
    Rejection
        400 ``bad_request`` for an invalid or missing parameter, 400 ``api_not_implemented``
        for an unknown ``action``.
    """
    raw = parse_json_object(body)
    action = _get(raw, "action")
    if action is None:
        action = "generate"
    if not isinstance(action, str) or action not in ACTIONS:
        raise Rejection(400, "api_not_implemented", f"action {action!r} is not implemented")
    prompt = _string(raw, "prompt") or ""
    if action == "generate" and not prompt.strip():
        raise bad_request("prompt is required")
    aspect_ratio = _string(raw, "aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
        raise bad_request(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    timeout_value = _get(raw, "timeout")
    timeout = DEFAULT_TIMEOUT
    if timeout_value is not None:
        if (
            isinstance(timeout_value, bool)
            or not isinstance(timeout_value, (int, float))
            or not math.isfinite(timeout_value)
            or timeout_value <= 0
        ):
            raise bad_request("timeout must be a positive number")
        timeout = float(timeout_value)
    request = SubmitRequest(
        raw=raw,
        action=action,
        prompt=prompt,
        aspect_ratio=aspect_ratio,
        video_id=_string(raw, "video_id"),
        video_url=_url(raw, "video_url", allow_data=False),
        start_image_url=_url(raw, "start_image_url", allow_data=True),
        end_image_url=_url(raw, "end_image_url", allow_data=True),
        loop=_bool(raw, "loop", False),
        enhancement=_bool(raw, "enhancement", True),
        timeout=timeout,
        callback_url=_url(raw, "callback_url", allow_data=False),
        async_mode=_bool(raw, "async", False),
    )
    if action == "extend" and not (request.video_id or request.video_url):
        raise bad_request("video_id or video_url is required for extend")
    return request
