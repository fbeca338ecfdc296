"""The engine's answer to one request, and builders for the service's bodies.

:data:`ERRORS` lists every error code the simulator answers, with its HTTP status and its
message. Where the provider publishes a message (the examples of its OpenAPI file, ``openapi/
luma.json`` of ``AceDataCloud/Docs``) the simulator uses that wording verbatim, typos included
("Al moderators", "generate the image"); the other messages are the simulator's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from ._variants import Variants

__all__ = [
    "DROP",
    "ERRORS",
    "INVALID_PAYLOAD",
    "REFUSE",
    "Rejection",
    "SimResponse",
    "bad_request",
    "coded",
    "error_response",
    "html_page",
    "json_response",
]

#: The provider's message for a body that is not a valid request (its ``bad_request`` example).
INVALID_PAYLOAD = "The json payload is not valid to request the API"

#: code -> (HTTP status, message); the error table of docs/api.md.
#: (P): the provider's published wording.
ERRORS: Mapping[str, tuple[int, str]] = {
    "bad_request": (400, INVALID_PAYLOAD),  # (P)
    "token_mismatched": (400, "The specified token is not matched with API."),  # (P)
    "api_not_implemented": (400, "The API is not implemented."),  # (P)
    "no_token": (400, "A token is required: send 'authorization: Bearer <token>'."),
    "disabled": (400, "The application of the specified token is disabled."),
    "invalid_token": (401, "The specified token is invalid or wrong."),  # (P)
    "token_expired": (401, "The specified token is expired."),
    "forbidden": (  # (P), sic
        403,
        "Sorry! Our Al moderators feel your prompt might be against our community standards.",
    ),
    "used_up": (403, "The balance of the application is used up."),
    "no_api": (404, "No API found for this path."),
    "not_found": (404, "The task was not found."),
    "request_too_large": (413, "The request body is too large."),
    "too_many_requests": (429, "You have exceeded the rate limit."),  # (P)
    "api_error": (500, "Internal server error."),  # (P)
    "busy": (503, "The service is busy, please try again later."),
    "timeout": (504, "Timeout to generate the image."),  # (P), sic
}

Outcome = Literal["answer", "drop", "refuse"]


@dataclass(frozen=True)
class SimResponse:
    """One answer of the engine, independent of the face that delivers it.

    Attributes
    ----------
    status : int
        HTTP status (meaningless unless ``outcome == "answer"``).
    headers : tuple of (str, str)
        Response headers, lower-case names.
    body : bytes
        Response body (a HEAD answer keeps the headers of the GET and an empty body).
    outcome : {"answer", "drop", "refuse"}
        ``drop``: close the connection without answering; ``refuse``: refuse the connection.
    delay : float
        Client (wall) seconds to wait before answering (the ``slow`` fault).
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    outcome: Outcome = "answer"
    delay: float = 0.0

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or ``None``."""
        lower = name.lower()
        for key, value in self.headers:
            if key == lower:
                return value
        return None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def with_delay(self, delay: float) -> SimResponse:
        """A copy delayed by ``delay`` wall seconds."""
        return replace(self, delay=delay)


DROP = SimResponse(0, outcome="drop")
REFUSE = SimResponse(0, outcome="refuse")


def json_response(
    status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> SimResponse:
    """A JSON answer (compact, UTF-8)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    head = [("content-type", "application/json; charset=utf-8")]
    if headers:
        head.extend((k.lower(), v) for k, v in headers.items())
    return SimResponse(status, tuple(head), body)


_DEFAULT_VARIANTS = Variants()


def error_response(
    status: int,
    code: str,
    message: str,
    trace_id: str,
    headers: Mapping[str, str] | None = None,
    *,
    variants: Variants | None = None,
) -> SimResponse:
    """The service's error envelope, ``{error: {code, message}, trace_id}`` by default.

    ``variants`` chooses the envelope's shape (``success: false``, a bare string error).
    """
    payload = (variants or _DEFAULT_VARIANTS).error_body(code, message, trace_id)
    return json_response(status, payload, headers)


_REASONS = {
    200: "OK",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def html_page(status: int, *, answer_status: int | None = None) -> SimResponse:
    """An nginx-style HTML error page for ``status``, answered with ``answer_status``."""
    reason = _REASONS.get(status, "Error")
    body = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
    return SimResponse(
        status if answer_status is None else answer_status,
        (("content-type", "text/html"),),
        body,
    )


class Rejection(Exception):
    """A request the service refuses with an error envelope.

    Parameters
    ----------
    status : int
        HTTP status.
    code : str
        ``error.code`` of the envelope.
    message : str
        ``error.message`` of the envelope.
    headers : Mapping of str to str, optional
        Extra response headers (``Retry-After``).
    """

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self, trace_id: str, variants: Variants | None = None) -> SimResponse:
        """The envelope answer for this rejection, shaped by ``variants``."""
        return error_response(
            self.status, self.code, self.message, trace_id, self.headers, variants=variants
        )


def bad_request(message: str) -> Rejection:
    """A 400 ``bad_request`` rejection."""
    return Rejection(400, "bad_request", message)


def coded(
    code: str, message: str | None = None, headers: Mapping[str, str] | None = None
) -> Rejection:
    """A rejection with ``code``'s status and message from :data:`ERRORS`.

    Raises
    ------
    KeyError
        For a code not in the table.
    """
    status, default = ERRORS[code]
    return Rejection(status, code, message or default, headers)
