"""The engine's answer to one request, and builders for the service's bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = [
    "DROP",
    "REFUSE",
    "Rejection",
    "SimResponse",
    "bad_request",
    "error_response",
    "html_page",
    "json_response",
]

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


def error_response(
    status: int,
    code: str,
    message: str,
    trace_id: str,
    headers: Mapping[str, str] | None = None,
) -> SimResponse:
    """The service's error envelope: ``{success: false, error: {code, message}, trace_id}``."""
    payload = {"success": False, "error": {"code": code, "message": message}, "trace_id": trace_id}
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

    def response(self, trace_id: str) -> SimResponse:
        """The envelope answer for this rejection."""
        return error_response(self.status, self.code, self.message, trace_id, self.headers)


def bad_request(message: str) -> Rejection:
    """A 400 ``bad_request`` rejection."""
    return Rejection(400, "bad_request", message)
