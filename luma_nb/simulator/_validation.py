"""Validation of ``POST /luma/videos`` bodies, with the service's codes and messages.

Choices the API leaves open (docs/api.md, open question 6), made here: unknown keys are ignored
(and echoed in the task's ``request``); ``null`` counts as absent; there is no prompt length
limit; ``timeout`` is a number of seconds in (0, 3600] (the client's own bound).

Every malformed body is a 400 ``bad_request``, never a 500: bytes that are not UTF-8 or not
JSON, JSON's non-standard ``NaN`` / ``Infinity``, numbers too long to read, text holding a
lone surrogate (``"\\ud800"``, which no UTF-8 answer could echo), nesting deeper than
``MAX_DEPTH``, anything but an object at the top, and a wrong type in any known field. Values
quoted back in messages are shortened.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ._response import INVALID_PAYLOAD, bad_request, coded

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_TIMEOUT",
    "MAX_DEPTH",
    "MAX_TIMEOUT",
    "SubmitRequest",
    "parse_json_object",
    "parse_submit",
    "short",
]

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
ACTIONS = ("generate", "extend")
DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 3600.0
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


def short(value: object, limit: int = 120) -> str:
    """``repr``-free text of a value for a message, at most ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body or raise a 400 ``bad_request``."""
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constant) if text.strip() else None
    except (UnicodeDecodeError, ValueError, RecursionError):  # also nested beyond json's depth
        raise bad_request(INVALID_PAYLOAD) from None
    if not isinstance(value, dict):
        raise bad_request(f"{INVALID_PAYLOAD}: the body must be a JSON object")
    problem = _tree_problem(value)
    if problem is not None:
        raise bad_request(f"{INVALID_PAYLOAD}: {problem}")
    return value


def _tree_problem(value: object) -> str | None:
    """What makes a decoded body unusable (deep nesting, a lone surrogate), if anything."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return "text holds a lone surrogate (not valid Unicode)"
        elif isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(node, dict):
                stack.extend((key, depth) for key in node)
                stack.extend((item, depth + 1) for item in node.values())
            else:
                stack.extend((item, depth + 1) for item in node)
    return None


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
    kinds = "an http(s) or data URL" if allow_data else "an http(s) URL"
    try:
        parts = urlsplit(value)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        valid = valid and (parts.port is None or parts.port > 0)
    except ValueError:  # a broken IPv6 literal, a port out of range
        valid = False
    if not valid:
        raise bad_request(f"{key} must be {kinds}")
    return value


def _timeout(raw: dict[str, Any]) -> float:
    value = _get(raw, "timeout")
    if value is None:
        return DEFAULT_TIMEOUT
    number = not isinstance(value, bool) and isinstance(value, (int, float))
    # compare before any float(): an int such as 10**400 has no float
    if not number or (isinstance(value, float) and not math.isfinite(value)):
        valid = False
    else:
        valid = 0 < value <= MAX_TIMEOUT
    if not valid:
        raise bad_request(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}]")
    return float(value)


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
        raise coded("api_not_implemented")
    prompt = _string(raw, "prompt") or ""
    if action == "generate" and not prompt.strip():
        raise bad_request("prompt is required")
    aspect_ratio = _string(raw, "aspect_ratio")
    if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
        raise bad_request(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
    timeout = _timeout(raw)
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
