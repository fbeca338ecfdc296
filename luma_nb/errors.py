"""Every error luma_nb raises, under one base class.

The tree::

    LumaError
    ├── ConfigError                  no token, bad setting, missing optional extra
    ├── ValidationError              bad input, raised before any request (a ValueError too)
    │   ├── KeyframeError            a start/end image the API could not fetch or use (preflight)
    │   └── IterationExistsError     (session_log) another process already claimed the iteration
    ├── TransportError               the network failed before an answer arrived
    ├── SubmitOutcomeUnknownError    the paid submit may or may not have reached the server
    ├── APIError                     the API answered with an error: status_code, code, ...
    │   ├── BadRequestError          400 bad_request, api_not_implemented, 413 request_too_large
    │   ├── AuthenticationError      400 no_token/disabled, 401 invalid_token/token_expired
    │   │   └── TokenMismatchError   400 token_mismatched: the token is not allowed for this API
    │   ├── PermissionDeniedError    403 of an unknown kind
    │   │   ├── ModerationError      403 forbidden: content moderation refused the prompt or image
    │   │   └── InsufficientBalanceError  403 used_up: the balance is exhausted
    │   ├── NotFoundError            404 no_api, not_found
    │   ├── RateLimitError           429 too_many_requests (retry_after in seconds, if sent)
    │   ├── ServerError              5xx api_error, busy
    │   │   └── APITimeoutError      504 timeout: a sync request outlived the API `timeout`
    │   └── UnexpectedResponseError  an answer that is not the JSON the spec describes
    ├── GenerationFailedError        the task finished, but failed (carries the task)
    ├── WaitTimeoutError             our own deadline passed; the task may still finish (re-attach)
    ├── WaitCancelledError           a wait's `stop` event was set; the task may still finish too
    ├── BudgetExceededError          (experiment) a study needs more paid submits than max_submits
    ├── RunTimeoutError              (aio) run_blocking timed out; its coroutine was cancelled
    ├── VideoDecodeError             (video_metrics) a local file is not a video PyAV can decode
    └── SessionLogWriteError         (session_log) the paid task exists but its log line could not
                                     be written (disk full): ``.task_id``; written once it can be

No error text, repr or attribute ever holds the API token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from luma_nb.models import Task

__all__ = [
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "GenerationFailedError",
    "InsufficientBalanceError",
    "KeyframeError",
    "LumaError",
    "ModerationError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SubmitOutcomeUnknownError",
    "TokenMismatchError",
    "TransportError",
    "UnexpectedResponseError",
    "ValidationError",
    "WaitCancelledError",
    "WaitTimeoutError",
]


class LumaError(Exception):
    """Base class of every error raised by luma_nb."""


class ConfigError(LumaError):
    """A setting is missing or wrong (no token, a bad base URL, a missing optional extra)."""


class ValidationError(LumaError, ValueError, TypeError):
    """Bad input, caught before any request is made.

    It is also a ``ValueError`` and a ``TypeError`` so that generic handlers catch it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class KeyframeError(ValidationError):
    """A ``start_image_url`` / ``end_image_url`` failed the keyframe preflight: nothing was sent.

    Raised before the paid POST when the image is one the API could not fetch or use (a host
    only this machine can reach, no answer, an HTTP error, not a JPEG/PNG/WebP, too large).
    Like every :class:`ValidationError` it proves nothing was billed. Skip the check with
    ``preflight=False`` on the call, ``Client(preflight=False)`` or ``LUMA_NB_PREFLIGHT=0``.

    Attributes
    ----------
    field : str
        ``"start_image_url"`` or ``"end_image_url"``.
    url : str
        The URL as given.
    found : str
        What the check found (``"HTTP 404 from img.example.com"``, ``"an HTML page"``...).
    advice : str
        What to do about it.
    code : str
        ``keyframe_unreachable``, ``keyframe_not_image``, ``keyframe_too_large`` or
        ``keyframe_damaged`` (the session log's ``error_code``).
    report : KeyframeReport or None
        The full result of the check.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        url: str = "",
        found: str = "",
        advice: str = "",
        code: str = "keyframe_unreachable",
        report: object = None,
    ) -> None:
        super().__init__(message, field=field)
        self.url = url
        self.found = found
        self.advice = advice
        self.code = code
        self.report = report


class TransportError(LumaError):
    """The network failed before an answer arrived (connection refused, reset, timed out)."""


class SubmitOutcomeUnknownError(LumaError):
    """The paid submit may or may not have reached the server.

    Raised instead of retrying ``POST /luma/videos`` after a 5xx answer, a read timeout, a
    dropped connection or a malformed answer: a blind retry could bill twice. Check your task
    list (or the session log) before you resubmit. ``cause`` is the underlying error.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: LumaError,
        status_code: int | None = None,
        code: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.status_code = status_code
        self.code = code
        self.trace_id = trace_id


class APIError(LumaError):
    """The API answered with an error.

    Attributes
    ----------
    status_code : int
        The HTTP status.
    code : str
        The API's ``error.code`` (``unknown`` when the answer had none).
    message : str
        The API's ``error.message``, or the text of a non-JSON answer (shortened).
    trace_id : str or None
        The API's ``trace_id``: quote it to support.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str = "unknown",
        trace_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.trace_id = trace_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.message} (HTTP {self.status_code}, code {self.code!r}"
        if self.trace_id:
            text += f", trace_id {self.trace_id}"
        return text + ")"

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_api_error,
            (type(self), self.message, self.status_code, self.code, self.trace_id),
        )


def _rebuild_api_error(
    cls: type[APIError], message: str, status_code: int, code: str, trace_id: str | None
) -> APIError:
    return cls(message, status_code=status_code, code=code, trace_id=trace_id)


class BadRequestError(APIError):
    """400: an invalid or missing parameter, an unknown action, or a body too large."""


class AuthenticationError(APIError):
    """The token is missing, invalid, expired, or its application is disabled."""


class TokenMismatchError(AuthenticationError):
    """400 ``token_mismatched``: this token is not allowed to call the Luma API."""


class PermissionDeniedError(APIError):
    """403 of a kind the client does not know."""


class ModerationError(PermissionDeniedError):
    """403 ``forbidden``: content moderation refused the prompt or an image."""


class InsufficientBalanceError(PermissionDeniedError):
    """403 ``used_up``: the balance is exhausted; top it up in the Ace Data Cloud console."""


class NotFoundError(APIError):
    """404: a wrong path (``no_api``) or an unknown task."""


class RateLimitError(APIError):
    """429 ``too_many_requests``. ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        code: str = "too_many_requests",
        trace_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code, code=code, trace_id=trace_id)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_rate_limit_error,
            (self.message, self.status_code, self.code, self.trace_id, self.retry_after),
        )


def _rebuild_rate_limit_error(
    message: str, status_code: int, code: str, trace_id: str | None, retry_after: float | None
) -> RateLimitError:
    return RateLimitError(
        message, status_code=status_code, code=code, trace_id=trace_id, retry_after=retry_after
    )


class ServerError(APIError):
    """5xx: a server or upstream failure."""


class APITimeoutError(ServerError):
    """504 ``timeout``: a sync request outlived the API ``timeout``; the task may go on."""


class UnexpectedResponseError(APIError):
    """An answer that is not the JSON the spec describes (an HTML page, a truncated body)."""


class GenerationFailedError(LumaError):
    """The task reached a terminal state without a video.

    ``task`` is the failed :class:`~luma_nb.models.Task`; ``code``, ``message`` and
    ``trace_id`` come from its error.
    """

    def __init__(self, task: Task) -> None:
        self.task = task
        error = task.error
        self.code = error.code if error else "unknown"
        self.message = error.message if error else "the task failed without an error message"
        self.trace_id = task.trace_id
        text = f"generation {task.id} failed: {self.message} (code {self.code!r}"
        if self.trace_id:
            text += f", trace_id {self.trace_id}"
        super().__init__(text + ")")


def _unfinished(
    error: WaitTimeoutError | WaitCancelledError,
    task_ids: list[str],
    waited: float,
    last: dict[str, Task] | None,
    opening: str,
) -> str:
    """Set the attributes of a wait that ended unfinished and return its message."""
    error.task_ids = tuple(task_ids)
    error.waited = waited
    error.last = dict(last or {})
    shown = ", ".join(error.task_ids[:5]) + (" ..." if len(error.task_ids) > 5 else "")
    return (
        f"{opening} after {waited:.0f} s for task(s) {shown}; they may still finish on the "
        f"server. Re-attach later with client.wait({error.task_ids[0]!r})"
        + (" or client.wait_many([...])" if len(error.task_ids) > 1 else "")
        + "."
    )


class WaitTimeoutError(LumaError):
    """Our own wait deadline passed before the task(s) finished.

    The tasks are not cancelled and may still finish on the server: re-attach with
    ``client.wait(task_id)`` (or ``wait_many``) later. ``task_ids`` lists the unfinished ones;
    ``last`` holds the last seen record of each, by id.
    """

    task_ids: tuple[str, ...]
    waited: float
    last: dict[str, Task]

    def __init__(
        self, task_ids: list[str], *, waited: float, last: dict[str, Task] | None = None
    ) -> None:
        super().__init__(_unfinished(self, task_ids, waited, last, "gave up waiting"))

    @property
    def task_id(self) -> str:
        """The first unfinished task's id."""
        return self.task_ids[0]


class WaitCancelledError(LumaError):
    """A wait was stopped through its ``stop`` event before the task(s) finished.

    Only the waiting stopped: nothing is cancelled on the server, and the tasks may still
    finish (and be billed). Re-attach with ``client.wait(task_id)`` (or ``wait_many``).
    ``task_ids`` lists the unfinished ones; ``last`` holds the last seen record of each, by id;
    ``waited`` is how long the wait ran, on the client's clock.
    """

    task_ids: tuple[str, ...]
    waited: float
    last: dict[str, Task]

    def __init__(
        self, task_ids: list[str], *, waited: float, last: dict[str, Task] | None = None
    ) -> None:
        super().__init__(_unfinished(self, task_ids, waited, last, "stopped waiting (as asked)"))

    @property
    def task_id(self) -> str:
        """The first unfinished task's id."""
        return self.task_ids[0]


#: API error codes that refuse a request outright: the server made no task of it.
REFUSAL_CODES = frozenset(
    {
        "bad_request",
        "api_not_implemented",
        "request_too_large",
        "token_mismatched",
        "no_token",
        "disabled",
        "invalid_token",
        "token_expired",
        "forbidden",
        "used_up",
        "no_api",
        "not_found",
        "too_many_requests",
    }
)
_REFUSALS = (
    BadRequestError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    RateLimitError,
)


def proves_nothing_billed(error: BaseException) -> bool:
    """True when ``error``, raised by a submit, proves that no task exists (nothing billed).

    Proof is a check that failed before any request (:class:`ConfigError`,
    :class:`ValidationError`), a network failure before a byte was sent
    (:class:`TransportError`: the client wraps anything later in
    :class:`SubmitOutcomeUnknownError`), or a definite refusal: an answer typed as a
    validation, auth, moderation, balance, not-found or rate-limit error, by a refusal code
    or by a 4xx status with a code we do not know. A server-side failure code (``api_error``,
    ``busy``, ``timeout``: a :class:`ServerError`) is no proof whatever the HTTP status, nor is
    a 2xx answer with an unknown error, nor an interrupt in the middle of the POST.
    """
    if isinstance(error, (ConfigError, ValidationError, TransportError)):
        return True
    if not isinstance(error, _REFUSALS):
        return False
    return error.code in REFUSAL_CODES or 400 <= error.status_code < 500
