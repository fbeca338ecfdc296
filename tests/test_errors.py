"""The error tree: shape, attributes, texts, mapping by code first and status second."""

from __future__ import annotations

import json
import pickle

import pytest

import luma_nb
from luma_nb import _wire, errors
from luma_nb.errors import (
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    GenerationFailedError,
    InsufficientBalanceError,
    KeyframeError,
    LumaError,
    ModerationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SubmitOutcomeUnknownError,
    TokenMismatchError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    WaitCancelledError,
    WaitTimeoutError,
)
from luma_nb.models import Task, TaskError, TaskState

PARENTS = {
    ConfigError: LumaError,
    ValidationError: LumaError,
    KeyframeError: ValidationError,
    TransportError: LumaError,
    SubmitOutcomeUnknownError: LumaError,
    APIError: LumaError,
    BadRequestError: APIError,
    AuthenticationError: APIError,
    TokenMismatchError: AuthenticationError,
    PermissionDeniedError: APIError,
    ModerationError: PermissionDeniedError,
    InsufficientBalanceError: PermissionDeniedError,
    NotFoundError: APIError,
    RateLimitError: APIError,
    ServerError: APIError,
    APITimeoutError: ServerError,
    UnexpectedResponseError: APIError,
    GenerationFailedError: LumaError,
    WaitTimeoutError: LumaError,
    WaitCancelledError: LumaError,
}
API_ERRORS = [cls for cls in PARENTS if issubclass(cls, APIError)]


@pytest.mark.parametrize(("cls", "parent"), PARENTS.items(), ids=lambda c: c.__name__)
def test_tree(cls, parent) -> None:
    assert cls.__bases__[0] is parent
    assert issubclass(cls, LumaError)
    assert issubclass(LumaError, Exception)


def test_every_exported_error_is_in_the_tree_and_the_docstring() -> None:
    exported = {getattr(errors, name) for name in errors.__all__}
    assert exported == {LumaError, *PARENTS}
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} missing from the tree in errors' docstring"


def test_validation_error_is_value_and_type_error() -> None:
    err = ValidationError("bad", field="prompt")
    assert isinstance(err, ValueError)
    assert isinstance(err, TypeError)
    assert err.field == "prompt"
    assert str(err) == "bad"
    assert ValidationError("bad").field is None


def test_config_error_is_not_a_validation_error() -> None:
    assert not issubclass(ConfigError, ValidationError)
    assert not issubclass(ValidationError, ConfigError)


@pytest.mark.parametrize("cls", API_ERRORS, ids=lambda c: c.__name__)
def test_api_error_attributes(cls) -> None:
    err = cls("prompt is required", status_code=400, code="bad_request", trace_id="tr-1")
    assert err.status_code == 400
    assert err.code == "bad_request"
    assert err.message == "prompt is required"
    assert err.trace_id == "tr-1"
    assert str(err) == "prompt is required (HTTP 400, code 'bad_request', trace_id tr-1)"


def test_api_error_without_trace_or_code() -> None:
    err = ServerError("boom", status_code=502)
    assert err.code == "unknown"
    assert err.trace_id is None
    assert str(err) == "boom (HTTP 502, code 'unknown')"


@pytest.mark.parametrize("cls", API_ERRORS, ids=lambda c: c.__name__)
def test_api_errors_pickle(cls) -> None:
    err = cls("msg", status_code=418, code="teapot", trace_id="tr")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls
    assert (again.message, again.status_code, again.code, again.trace_id) == (
        "msg",
        418,
        "teapot",
        "tr",
    )
    assert str(again) == str(err)


def test_rate_limit_defaults() -> None:
    err = RateLimitError("slow down", retry_after=3.5)
    assert (err.status_code, err.code, err.retry_after) == (429, "too_many_requests", 3.5)
    assert RateLimitError("x").retry_after is None


def test_submit_outcome_unknown_attributes() -> None:
    cause = ServerError("boom", status_code=502, code="busy", trace_id="tr")
    err = SubmitOutcomeUnknownError(
        "check", cause=cause, status_code=502, code="busy", trace_id="tr"
    )
    assert err.cause is cause
    assert (err.status_code, err.code, err.trace_id) == (502, "busy", "tr")
    assert not isinstance(err, APIError)  # not an answer we can trust: its own branch


def _failed_task(error: TaskError | None, trace_id: str | None = "tr-9") -> Task:
    return Task(id="task-9", state=TaskState.FAILED, error=error, trace_id=trace_id)


def test_generation_failed_error() -> None:
    task = _failed_task(TaskError("forbidden", "the prompt was refused"))
    err = GenerationFailedError(task)
    assert err.task is task
    assert (err.code, err.message, err.trace_id) == ("forbidden", "the prompt was refused", "tr-9")
    assert str(err) == (
        "generation task-9 failed: the prompt was refused (code 'forbidden', trace_id tr-9)"
    )


def test_generation_failed_without_an_error() -> None:
    err = GenerationFailedError(_failed_task(None, trace_id=None))
    assert err.code == "unknown"
    assert "without an error message" in err.message
    assert "trace_id" not in str(err)


def test_wait_timeout_one_task() -> None:
    last = Task(id="t1", state=TaskState.PROCESSING)
    err = WaitTimeoutError(["t1"], waited=61.4, last={"t1": last})
    assert err.task_id == "t1"
    assert err.task_ids == ("t1",)
    assert err.waited == 61.4
    assert err.last == {"t1": last}
    text = str(err)
    assert "61 s" in text
    assert "t1" in text
    assert "client.wait('t1')" in text
    assert "may still finish" in text
    assert "wait_many" not in text


def test_wait_timeout_many_tasks() -> None:
    ids = [f"t{i}" for i in range(8)]
    err = WaitTimeoutError(ids, waited=900)
    assert err.task_ids == tuple(ids)
    assert err.last == {}
    text = str(err)
    assert "t0, t1, t2, t3, t4 ..." in text
    assert "t5" not in text
    assert "wait_many" in text


# ---------------------------------------------------------------------------- the mapping


MAPPING = [
    # by code
    (400, "bad_request", BadRequestError),
    (400, "api_not_implemented", BadRequestError),
    (413, "request_too_large", BadRequestError),
    (400, "token_mismatched", TokenMismatchError),
    (400, "no_token", AuthenticationError),
    (400, "disabled", AuthenticationError),
    (401, "invalid_token", AuthenticationError),
    (401, "token_expired", AuthenticationError),
    (403, "forbidden", ModerationError),
    (403, "used_up", InsufficientBalanceError),
    (404, "no_api", NotFoundError),
    (404, "not_found", NotFoundError),
    (429, "too_many_requests", RateLimitError),
    (500, "api_error", ServerError),
    (500, "busy", ServerError),
    (504, "timeout", APITimeoutError),
    # code wins over status
    (400, "used_up", InsufficientBalanceError),
    (500, "forbidden", ModerationError),
    (403, "token_mismatched", TokenMismatchError),
    (200, "too_many_requests", RateLimitError),
    # by status when the code is unknown or missing
    (400, "weird", BadRequestError),
    (401, None, AuthenticationError),
    (403, None, PermissionDeniedError),
    (403, "weird", PermissionDeniedError),
    (404, None, NotFoundError),
    (413, None, BadRequestError),
    (429, None, RateLimitError),
    (504, None, APITimeoutError),
    (500, None, ServerError),
    (502, None, ServerError),
    (503, "weird", ServerError),
    (418, None, BadRequestError),
    (200, None, UnexpectedResponseError),
    (302, None, UnexpectedResponseError),
]


@pytest.mark.parametrize(("status", "code", "cls"), MAPPING)
def test_error_mapping(status, code, cls) -> None:
    error = {"message": "something"} if code is None else {"code": code, "message": "something"}
    body = json.dumps({"success": False, "error": error, "trace_id": "tr-m"}).encode()
    err = _wire.error_from_answer(status, body, {})
    assert type(err) is cls
    assert err.status_code == status
    assert err.code == (code or "unknown")
    assert err.message == "something"
    assert err.trace_id == "tr-m"


def test_rate_limit_mapping_reads_retry_after() -> None:
    err = _wire.error_from_answer(429, b"{}", {"retry-after": "4"})
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 4.0


def test_secret_is_scrubbed_from_messages() -> None:
    body = json.dumps(
        {"error": {"code": "bad_request", "message": "got sk-abcdef12, bad"}}
    ).encode()
    err = _wire.error_from_answer(400, body, {}, secret="sk-abcdef12")
    assert err.message == "got ********, bad"
    page = b"<p>Authorization: Bearer sk-abcdef12</p>"
    assert "sk-abcdef12" not in str(_wire.error_from_answer(502, page, {}, secret="sk-abcdef12"))


def test_public_names_are_the_same_objects() -> None:
    for name in errors.__all__:
        assert getattr(luma_nb, name) is getattr(errors, name)


def test_a_secret_too_short_to_be_a_credential_does_not_mangle_answers() -> None:
    body = json.dumps({"task_id": "t-1", "trace_id": "tr"}).encode()
    assert _wire.decode_object(200, body, secret="t") == {"task_id": "t-1", "trace_id": "tr"}
