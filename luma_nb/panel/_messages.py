"""Errors as a person wants to read them: what happened, what to do, the trace id.

The panel never shows a traceback. Each error kind the API documents gets its own sentence;
the trace id (when there is one) is added so it can be quoted to support. The text is plain:
callers HTML-escape it.
"""

from __future__ import annotations

from luma_nb._durations import duration_text
from luma_nb.errors import (
    APITimeoutError,
    AuthenticationError,
    GenerationFailedError,
    InsufficientBalanceError,
    KeyframeError,
    LumaError,
    ModerationError,
    RateLimitError,
    ServerError,
    SubmitOutcomeUnknownError,
    TokenMismatchError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
)

__all__ = ["CANCELLED", "human_message", "trace_of"]

#: What a cancelled job's row says: waiting stopped, the task itself did not.
CANCELLED = (
    "Stopped waiting. The task may still finish on the server (and be billed); it stays in "
    "the session log as pending, so you can pick it up later with "
    "`await log.aresume(client)` (or `log.resume(client)`)."
)
_LONGEST = 300


def trace_of(error: BaseException) -> str | None:
    """The API trace id carried by ``error`` (or its cause), if any."""
    for candidate in (error, getattr(error, "cause", None)):
        value = getattr(candidate, "trace_id", None)
        if isinstance(value, str) and value:
            return value
    return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LONGEST else text[: _LONGEST - 3] + "..."


def _api_text(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return _short(message if isinstance(message, str) and message else str(error))


def _sentence(error: BaseException) -> str:
    # Order matters: subclasses before their bases.
    if isinstance(error, ModerationError):
        return (
            "Content moderation refused this request: the prompt or an image was flagged. "
            "Rephrase it (or use another image) and try again. No task was created."
        )
    if isinstance(error, InsufficientBalanceError):
        return (
            "Your Ace Data Cloud balance is used up, so the API refused the request. Top it up "
            "in the Ace Data Cloud console (or allow the general balance there), then try again."
        )
    if isinstance(error, TokenMismatchError):
        return (
            "This token is not allowed to call the Luma API. Create a token for the Luma "
            "service in the Ace Data Cloud console and paste it in the token field."
        )
    if isinstance(error, AuthenticationError):
        return (
            f"The API refused the token ({_api_text(error)}): it is missing, invalid or "
            "expired. Paste a valid token in the token field."
        )
    if isinstance(error, RateLimitError):
        wait = (
            f"Wait {duration_text(error.retry_after)}"
            if error.retry_after is not None
            else "Wait a little"
        )
        return f"Too many requests: the API asked to slow down. {wait} and click Generate again."
    if isinstance(error, APITimeoutError):
        return (
            "The API stopped holding the sync request after its timeout. The task may go on "
            "and be billed: check your task list before resubmitting, and prefer async mode "
            "(or a longer API timeout)."
        )
    if isinstance(error, SubmitOutcomeUnknownError) and isinstance(error.cause, APITimeoutError):
        return (
            "The API stopped holding the sync request after its timeout (HTTP 504). The task "
            "may go on and be billed: check the task list before resubmitting (it is in the "
            "session log as outcome_unknown). Async mode avoids this."
        )
    if isinstance(error, SubmitOutcomeUnknownError):
        return (
            "The submit may or may not have reached the server, so it was not retried (a "
            "retry could bill twice). Check the task list before resubmitting: it is in the "
            f"session log as outcome_unknown. ({_short(str(error.cause))})"
        )
    if isinstance(error, WaitTimeoutError):
        return (
            f"Stopped waiting after {duration_text(error.waited)}: the task may still finish on "
            "the server. It stays in the session log as pending; pick it up later with "
            "`await log.aresume(client)`."
        )
    if isinstance(error, GenerationFailedError):
        return (
            f"The generation failed on the server: {_short(error.message)} "
            f"(code {error.code}). Try again, perhaps with a different prompt."
        )
    if isinstance(error, KeyframeError):
        which = {"start_image_url": "start image", "end_image_url": "end image"}
        problem = getattr(error.report, "problem", None) or "it failed the keyframe check"
        return (
            f"The {which.get(error.field or '', 'keyframe')} cannot be used: {problem} "
            f"({_short(error.found)}). {error.advice} Nothing was submitted, so nothing was "
            'billed. To send it anyway, untick "Check keyframes before submitting".'
        )
    if isinstance(error, ValidationError):
        return _short(str(error))
    if isinstance(error, ServerError):
        return f"The API had a server error ({_api_text(error)}). Try again in a moment."
    if isinstance(error, TransportError):
        return f"Could not reach the API: {_short(str(error))}"
    if isinstance(error, LumaError):
        return _short(str(error))
    text = str(error)
    return _short(f"{type(error).__name__}: {text}" if text else type(error).__name__)


def human_message(error: BaseException) -> str:
    """One or two plain sentences for ``error``, with its trace id when it has one."""
    text = _sentence(error)
    trace = trace_of(error)
    if trace and trace not in text:
        text += f" Trace id: {trace} (quote it to support)."
    return text
