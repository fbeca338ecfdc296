"""The wire format: request bodies of ``/luma/tasks`` and reading answers into models or errors.

Sans-I/O: these functions take status codes, headers and bytes, never a socket.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from luma_nb.config import MAX_ANSWER_BYTES, Secret
from luma_nb.errors import (
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InsufficientBalanceError,
    ModerationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TokenMismatchError,
    UnexpectedResponseError,
    ValidationError,
)
from luma_nb.models import parse_error

VIDEOS_PATH = "/luma/videos"
TASKS_PATH = "/luma/tasks"
#: retrieve_batch is kept at this many ids per request (advice of the official MCP server).
BATCH_LIMIT = 50

_BY_CODE: dict[str, type[APIError]] = {
    "bad_request": BadRequestError,
    "api_not_implemented": BadRequestError,
    "request_too_large": BadRequestError,
    "token_mismatched": TokenMismatchError,
    "no_token": AuthenticationError,
    "disabled": AuthenticationError,
    "invalid_token": AuthenticationError,
    "token_expired": AuthenticationError,
    "forbidden": ModerationError,
    "used_up": InsufficientBalanceError,
    "no_api": NotFoundError,
    "not_found": NotFoundError,
    "too_many_requests": RateLimitError,
    "api_error": ServerError,
    "busy": ServerError,
    "timeout": APITimeoutError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: BadRequestError,
    429: RateLimitError,
    504: APITimeoutError,
}

_SNIPPET_CHARS = 300


def retrieve_body(task_id: str) -> dict[str, Any]:
    """Body of a single task query."""
    return {"action": "retrieve", "id": task_id}


def retrieve_batch_body(task_ids: list[str]) -> dict[str, Any]:
    """Body of a batch task query (at most :data:`BATCH_LIMIT` ids)."""
    if len(task_ids) > BATCH_LIMIT:
        raise ValueError(f"a batch holds at most {BATCH_LIMIT} ids")
    return {"action": "retrieve_batch", "ids": list(task_ids)}


def encode_body(body: Mapping[str, Any]) -> bytes:
    """A request body as compact JSON bytes, or a :class:`ValidationError` (before sending).

    ASCII escapes keep any string encodable (a lone surrogate cannot be UTF-8); NaN and
    infinity are not JSON and are refused.
    """
    try:
        return json.dumps(body, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode(
            "ascii"
        )
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(f"the request cannot be sent as JSON: {exc}") from None


def _secret(secret: Secret | str | None) -> Secret | None:
    # luma_nb passes its Secret; a plain string (from a caller's test) is wrapped.
    return Secret(secret) if isinstance(secret, str) else secret


def scrub_answer(value: Any, secret: Secret | str | None) -> Any:
    """``value`` (decoded JSON) with the secret removed from every string, keys included.

    A hostile or broken server may echo the token anywhere in an answer; everything parsed
    from an answer goes through here once, so no error, result, log or report can carry it.
    """
    secret = _secret(secret)
    if secret is None or not secret:
        return value
    if isinstance(value, str):
        return secret.scrub(value)
    if isinstance(value, list):
        return [scrub_answer(item, secret) for item in value]
    if isinstance(value, dict):
        return {
            (secret.scrub(key) if isinstance(key, str) else key): scrub_answer(item, secret)
            for key, item in value.items()
        }
    return value


def check_answer_size(status: int, content: bytes) -> None:
    """Refuse an answer larger than any JSON the API sends (the driver stops reading there)."""
    if len(content) > MAX_ANSWER_BYTES:
        raise UnexpectedResponseError(
            f"the API answer exceeded {MAX_ANSWER_BYTES // (1 << 20)} MiB and was not read "
            "further; no answer of this API is that large",
            status_code=status,
        )


def decode_json(status: int, content: bytes, *, secret: Secret | str | None = None) -> Any:
    """Decode a JSON body (secret scrubbed from every string) or raise
    :class:`UnexpectedResponseError` quoting the text (scrubbed too)."""
    check_answer_size(status, content)
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nested deeper than json can go
        raise UnexpectedResponseError(
            "the API answered with something that is not JSON: "
            f"{snippet(content, secret=secret)!r}",
            status_code=status,
        ) from None
    if b"\\" not in content:
        # No escape sequence: every decoded string is spelled as in the bytes, which the
        # driver has already scrubbed (and which are scrubbed here only when it had not).
        secret_obj = _secret(secret)
        if secret_obj is None or not secret_obj.found_in(content):
            return value
    try:
        return scrub_answer(value, secret)
    except RecursionError:
        raise UnexpectedResponseError(
            "the API answered with JSON nested too deeply to read", status_code=status
        ) from None


def decode_object(
    status: int, content: bytes, *, secret: Secret | str | None = None
) -> dict[str, Any]:
    """Decode a JSON object; anything else is an :class:`UnexpectedResponseError`."""
    value = decode_json(status, content, secret=secret)
    if not isinstance(value, dict):
        raise UnexpectedResponseError(
            f"expected a JSON object from the API, got {type(value).__name__}", status_code=status
        )
    return value


def error_from_answer(
    status: int, content: bytes, headers: Mapping[str, str], *, secret: Secret | str | None = None
) -> APIError:
    """Turn an error answer into the typed error: by ``error.code`` first, then by status.

    ``secret`` is scrubbed from any text the server sent back.
    """
    code = "unknown"
    message = ""
    trace_id: str | None = None
    try:
        body: Any = decode_json(status, content, secret=secret)
    except UnexpectedResponseError:
        body = None
    if isinstance(body, dict):
        error = parse_error(body.get("error"), fallback=f"HTTP {status}")
        code, message = error.code, error.message
        raw_error = body.get("error")
        trace = body.get("trace_id") or (
            raw_error.get("trace_id") if isinstance(raw_error, dict) else None
        )
        trace_id = trace if isinstance(trace, str) else None
        if not isinstance(raw_error, (dict, str)) or not raw_error:
            message = _first_text(body) or f"HTTP {status} without an error message"
    else:
        message = snippet(content, secret=secret) or f"HTTP {status} with an empty body"
    code = _short_text(code, 64) or "unknown"
    trace_id = _short_text(trace_id, 128)
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = (
            ServerError
            if status >= 500
            else (BadRequestError if 400 <= status < 500 else UnexpectedResponseError)
        )
    if cls is RateLimitError:
        return RateLimitError(
            message,
            status_code=status,
            code=code,
            trace_id=trace_id,
            retry_after=parse_retry_after(headers),
        )
    return cls(message, status_code=status, code=code, trace_id=trace_id)


def is_error_envelope(body: Mapping[str, Any]) -> bool:
    """True for a 2xx body that is really an error: it has ``error`` and nothing of a task
    (no ``task_id``, ``id``, ``response`` or ``items``), whether or not ``success`` is sent."""
    if not body.get("error") or body.get("success") is True:
        return False
    return not any(body.get(key) for key in ("task_id", "id", "response", "items"))


def parse_ack(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(task_id, trace_id) of an async acknowledgement: top level, then ``data``, then ``id``."""
    task_id = body.get("task_id")
    data = body.get("data")
    if not isinstance(task_id, str) and isinstance(data, Mapping):
        task_id = data.get("task_id")
    if not isinstance(task_id, str):
        task_id = body.get("id")
    trace_id = body.get("trace_id")
    return (
        task_id if isinstance(task_id, str) and task_id else None,
        trace_id if isinstance(trace_id, str) else None,
    )


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def snippet(content: bytes, *, secret: Secret | str | None = None) -> str:
    """A short, single-line, tag-free excerpt of a body, for error messages.

    ``secret`` is replaced by asterisks: a proxy page may echo the Authorization header.
    """
    text = content[: _SNIPPET_CHARS * 4].decode("utf-8", errors="replace")
    secret = _secret(secret)
    if secret is not None:
        text = secret.scrub(text)
    text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    return text[:_SNIPPET_CHARS] + ("..." if len(text) > _SNIPPET_CHARS else "")


def _short_text(value: object, limit: int) -> str | None:
    """A printable one-line string of at most ``limit`` characters, or None."""
    if not isinstance(value, str) or not value:
        return None
    text = "".join(ch if ch.isprintable() else "?" for ch in value[:limit])
    return text + ("..." if len(value) > limit else "")


def _first_text(body: Mapping[str, Any]) -> str | None:
    for key in ("message", "detail", "msg"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None
