"""Every response variant of the spec, as fixtures, parsed or mapped to the right typed error."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb import (
    APIError,
    BadRequestError,
    ModerationError,
    NotFoundError,
    ServerError,
    Task,
    TaskState,
    UnexpectedResponseError,
    Video,
    _wire,
)

VIDEOS = "/luma/videos"
TASKS = "/luma/tasks"
CDN = "https://platform.cdn.acedata.cloud/luma"
TID = "50fc6182-fa86-4c7d-ac12-2fa27ec2f151"

# ============================================================================ fixtures

SYNC_SUCCESS: dict[str, Any] = {
    "success": True,
    "task_id": "5636d6ba-957f-475e-a98a-718a07ee89a6",
    "video_id": "b4ef4c5e-9680-41c8-a678-0ce2ce6194de",
    "prompt": "Astronauts shuttle from space to volcano",
    "video_url": f"{CDN}/5636d6ba-957f-475e-a98a-718a07ee89a6.mp4",
    "video_width": 1552,
    "video_height": 656,
    "state": "completed",
    "thumbnail_url": f"{CDN}/5636d6ba-957f-475e-a98a-718a07ee89a6.jpg",
    "thumbnail_width": 1552,
    "thumbnail_height": 656,
}

RECORD_DONE: dict[str, Any] = {
    "_id": "66d297a3550a4144a5a5db42",
    "id": TID,
    "api_id": "94fc9028-5a9f-4875-aae4-38463bd30ac5",
    "application_id": "app-1",
    "credential_id": "cred-1",
    "user_id": "user-1",
    "trace_id": "0b7c1c1a-045c-4145-a434-609cba88f0a9",
    "created_at": 1725077411.961,
    "started_at": 1725077412.021,
    "finished_at": 1725077566.241,
    "elapsed": 154.22,
    "request": {"action": "generate", "prompt": "Astronauts shuttle from space to volcano"},
    "response": {
        "success": True,
        "task_id": TID,
        "video_id": "vid-9",
        "prompt": "Astronauts shuttle from space to volcano, cinematic",
        "video_url": "https://storage.cdn-luma.com/dream_machine/abc/video.mp4?sig=1",
        "video_width": 1360,
        "video_height": 752,
        "state": "completed",
        "thumbnail_url": "https://storage.cdn-luma.com/dream_machine/abc/thumb.jpg",
        "thumbnail_width": 1360,
        "thumbnail_height": 752,
    },
}

RECORD_NO_RESPONSE = {"id": TID, "created_at": 1725077411.961, "request": {"action": "generate"}}
RECORD_RESPONSE_NULL = {"id": TID, "created_at": 1725077411.961, "response": None}
RECORD_PROCESSING = {
    "id": TID,
    "created_at": 1725077411.961,
    "started_at": 1725077412.021,
    "response": {"task_id": TID, "state": "processing"},
}
RECORD_FAILED_OBJECT = {
    "id": TID,
    "trace_id": "trace-rec",
    "created_at": 1725077411.961,
    "finished_at": 1725077420.0,
    "response": {
        "success": False,
        "task_id": TID,
        "state": "failed",
        "error": {"code": "forbidden", "message": "content moderation refused the prompt"},
        "trace_id": "trace-resp",
    },
}
RECORD_FAILED_STRING = {
    "id": TID,
    "finished_at": 1725077420.0,
    "response": {"success": False, "task_id": TID, "error": "upstream exploded"},
}
RECORD_EXTRA_KEYS = {
    **RECORD_PROCESSING,
    "application_id": "app-1",
    "brand_new_field": {"nested": [1, 2]},
    "priority": 3,
}
RECORD_TOP_STATE = {"id": TID, "state": "processing", "created_at": 1725077411.961}
RECORD_NUMBERS_AS_STRINGS = {
    "id": TID,
    "created_at": "1725077411.961",
    "started_at": "1725077412",
    "finished_at": "1725077566.241",
    "elapsed": "154.22",
    "response": {
        "success": True,
        "task_id": TID,
        "video_url": f"{CDN}/{TID}.mp4",
        "video_width": "1552",
        "video_height": "656",
        "thumbnail_width": " 1552 ",
        "thumbnail_height": "six hundred",
        "state": "completed",
    },
}
RECORD_WITHOUT_ID = {"response": {"task_id": TID, "state": "pending"}}


# ============================================================================ acknowledgements


ACKS = [
    pytest.param({"task_id": TID}, TID, None, id="bare"),
    pytest.param({"success": True, "task_id": TID}, TID, None, id="with-success"),
    pytest.param({"task_id": TID, "trace_id": "tr-1"}, TID, "tr-1", id="with-trace"),
    pytest.param(
        {"success": True, "task_id": TID, "trace_id": "tr-1"}, TID, "tr-1", id="with-both"
    ),
    pytest.param({"data": {"task_id": TID}}, TID, None, id="data-wrapper"),
    pytest.param(
        {"success": True, "data": {"task_id": TID}, "trace_id": "t"}, TID, "t", id="data+"
    ),
    pytest.param({"id": TID}, TID, None, id="id"),
    pytest.param({"task_id": TID, "data": {"task_id": "other"}, "id": "x"}, TID, None, id="order"),
    pytest.param({"data": {"task_id": TID}, "id": "x"}, TID, None, id="data-before-id"),
    pytest.param({"task_id": TID, "extra": 1, "eta": 90}, TID, None, id="extra-keys"),
]


@pytest.mark.parametrize(("body", "task_id", "trace_id"), ACKS)
def test_parse_ack(body, task_id, trace_id) -> None:
    assert _wire.parse_ack(body) == (task_id, trace_id)


@pytest.mark.parametrize("status", [200, 201, 202])
@pytest.mark.parametrize(("body", "task_id", "trace_id"), ACKS)
def test_submit_reads_every_ack(client, api, status, body, task_id, trace_id) -> None:
    api.script(VIDEOS, httpx.Response(status, json=body))
    task = client.submit("a cat")
    assert task.id == task_id
    assert task.trace_id == trace_id
    assert task.state is TaskState.QUEUED
    assert not task.is_terminal
    assert task.sent is not None
    assert task.sent.prompt == "a cat"
    assert task.request is not None
    assert task.request["prompt"] == "a cat"


@pytest.mark.parametrize(
    "body",
    [{}, {"task_id": None}, {"task_id": 5}, {"data": []}, {"data": {"task_id": ""}}, {"id": ""}],
)
def test_parse_ack_without_task_id(body) -> None:
    assert _wire.parse_ack(body)[0] is None


# ============================================================================ task records


def test_full_record() -> None:
    task = Task.from_record(RECORD_DONE)
    assert task.id == TID
    assert task.state is TaskState.COMPLETED
    assert task.raw_state == "completed"
    assert task.succeeded
    assert task.is_terminal
    assert not task.failed
    assert task.trace_id == "0b7c1c1a-045c-4145-a434-609cba88f0a9"
    assert task.created_at == 1725077411.961
    assert task.started_at == 1725077412.021
    assert task.finished_at == 1725077566.241
    assert task.elapsed == 154.22
    assert task.request == {"action": "generate", "prompt": RECORD_DONE["request"]["prompt"]}
    assert task.record_id == "66d297a3550a4144a5a5db42"
    assert task.api_id == "94fc9028-5a9f-4875-aae4-38463bd30ac5"
    assert task.error is None
    video = task.video
    assert video is not None
    assert video.task_id == TID
    assert video.video_id == "vid-9"
    assert video.video_url.startswith("https://storage.cdn-luma.com/")  # not our CDN, no .mp4 end
    assert video.prompt == "Astronauts shuttle from space to volcano, cinematic"
    assert video.size == (1360, 752)
    assert (video.thumbnail_width, video.thumbnail_height) == (1360, 752)
    assert video.thumbnail_url is not None
    assert video.thumbnail_url.endswith("thumb.jpg")


@pytest.mark.parametrize(
    ("record", "state", "raw"),
    [
        pytest.param(RECORD_NO_RESPONSE, TaskState.QUEUED, None, id="no-response"),
        pytest.param(RECORD_RESPONSE_NULL, TaskState.QUEUED, None, id="response-null"),
        pytest.param(RECORD_PROCESSING, TaskState.PROCESSING, "processing", id="processing"),
        pytest.param(RECORD_TOP_STATE, TaskState.PROCESSING, "processing", id="top-level-state"),
        pytest.param(RECORD_WITHOUT_ID, TaskState.PENDING, "pending", id="id-from-response"),
    ],
)
def test_running_records(record, state, raw) -> None:
    task = Task.from_record(record)
    assert task.id == TID
    assert task.state is state
    assert task.raw_state == raw
    assert not task.is_terminal
    assert task.video is None
    assert task.error is None


def test_failed_record_with_error_object() -> None:
    task = Task.from_record(RECORD_FAILED_OBJECT)
    assert task.failed
    assert task.is_terminal
    assert not task.succeeded
    assert task.error == luma_nb.models.TaskError(
        "forbidden", "content moderation refused the prompt"
    )
    assert task.trace_id == "trace-rec"  # the record's own wins
    assert task.video is None


def test_failed_record_trace_id_from_response() -> None:
    record = {k: v for k, v in RECORD_FAILED_OBJECT.items() if k != "trace_id"}
    assert Task.from_record(record).trace_id == "trace-resp"


def test_failed_record_with_error_string() -> None:
    task = Task.from_record(RECORD_FAILED_STRING)
    assert task.failed
    assert task.error == luma_nb.models.TaskError("unknown", "upstream exploded")


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        ({"code": "busy"}, "busy", "busy"),
        ({"message": "no code"}, "unknown", "no code"),
        ({"code": "x", "detail": "from detail"}, "x", "from detail"),
        ("", "unknown", "without an error message"),
        (None, "unknown", "without an error message"),
        (42, "unknown", "without an error message"),
        (["a"], "unknown", "without an error message"),
    ],
)
def test_failed_record_error_shapes(error, code, message) -> None:
    record = {"id": TID, "response": {"success": False, "error": error}}
    task = Task.from_record(record)
    assert task.failed
    assert task.error is not None
    assert task.error.code == code
    assert message in task.error.message


def test_finished_without_response_is_a_failure() -> None:
    task = Task.from_record({"id": TID, "finished_at": 1725077566.241})
    assert task.failed
    assert task.error is not None
    assert "without a response" in task.error.message


def test_record_with_unknown_keys_keeps_them() -> None:
    task = Task.from_record(RECORD_EXTRA_KEYS)
    assert task.state is TaskState.PROCESSING
    assert task.extra["brand_new_field"] == {"nested": [1, 2]}
    assert task.extra["priority"] == 3
    assert task.extra["application_id"] == "app-1"
    assert "response" not in task.extra
    assert "id" not in task.extra


def test_video_keeps_unknown_keys() -> None:
    body = {**SYNC_SUCCESS, "duration": 5.04, "fps": 24}
    video = Video.from_response(body)
    assert video is not None
    assert dict(video.extra) == {"duration": 5.04, "fps": 24}


def test_numbers_as_strings() -> None:
    task = Task.from_record(RECORD_NUMBERS_AS_STRINGS)
    assert task.created_at == 1725077411.961
    assert task.started_at == 1725077412.0
    assert task.finished_at == 1725077566.241
    assert task.elapsed == 154.22
    assert task.video is not None
    assert task.video.size == (1552, 656)
    assert task.video.thumbnail_width == 1552
    assert task.video.thumbnail_height is None  # unreadable: dropped, not fatal


@pytest.mark.parametrize("value", [math.nan, math.inf, "inf", "nan", True, [1], {"a": 1}, "x"])
def test_unusable_numbers_become_none(value) -> None:
    task = Task.from_record({"id": TID, "created_at": value, "elapsed": value})
    assert task.created_at is None
    assert task.elapsed is None


def test_numeric_ids_become_strings() -> None:
    task = Task.from_record({"id": 12345, "response": {"state": "pending"}})
    assert task.id == "12345"


# ---------------------------------------------------------------------------- sync answers


def test_sync_success_body() -> None:
    task = Task.from_sync_response(SYNC_SUCCESS)
    assert task.id == SYNC_SUCCESS["task_id"]
    assert task.succeeded
    video = task.video
    assert video is not None
    assert video.video_id == SYNC_SUCCESS["video_id"]
    assert video.size == (1552, 656)
    assert video.thumbnail_url == SYNC_SUCCESS["thumbnail_url"]
    assert video.state == "completed"


def test_sync_success_with_trace_id() -> None:
    task = Task.from_sync_response({**SYNC_SUCCESS, "trace_id": "tr-s"})
    assert task.trace_id == "tr-s"
    assert task.video is not None
    assert task.video.trace_id == "tr-s"


def test_video_from_a_body_without_url() -> None:
    assert Video.from_response({"task_id": "x", "state": "completed"}) is None


def test_sync_mode_through_the_client(client, api) -> None:
    api.script(VIDEOS, SYNC_SUCCESS)
    task = client.submit("Astronauts shuttle from space to volcano", sync=True)
    assert task.succeeded
    assert task.video is not None
    assert task.video.video_url == SYNC_SUCCESS["video_url"]


# ---------------------------------------------------------------------------- through get_task


@pytest.mark.parametrize(
    ("record", "state"),
    [
        (RECORD_DONE, TaskState.COMPLETED),
        (RECORD_NO_RESPONSE, TaskState.QUEUED),
        (RECORD_RESPONSE_NULL, TaskState.QUEUED),
        (RECORD_PROCESSING, TaskState.PROCESSING),
        (RECORD_FAILED_OBJECT, TaskState.FAILED),
        (RECORD_FAILED_STRING, TaskState.FAILED),
        (RECORD_EXTRA_KEYS, TaskState.PROCESSING),
        (RECORD_TOP_STATE, TaskState.PROCESSING),
        (RECORD_NUMBERS_AS_STRINGS, TaskState.COMPLETED),
    ],
)
def test_get_task_parses_every_record(client, api, record, state) -> None:
    api.script(TASKS, record)
    task = client.get_task(TID)
    assert task.id == TID
    assert task.state is state
    assert api.bodies(TASKS) == [{"action": "retrieve", "id": TID}]


def test_get_task_fills_in_a_missing_id(client, api) -> None:
    api.script(TASKS, {"response": {"state": "processing"}})
    task = client.get_task("asked-for")
    assert task.id == "asked-for"


def test_get_task_attaches_what_was_sent(client, api) -> None:
    api.script(VIDEOS, {"task_id": TID})
    api.script(TASKS, RECORD_DONE)
    client.submit("Astronauts", enhancement=False)
    task = client.get_task(TID)
    assert task.sent is not None
    assert task.sent.enhancement is False
    assert task.video is not None
    assert task.video.sent_prompt == "Astronauts"


def test_batch_with_count_larger_than_items(client, api) -> None:
    api.script(TASKS, {"items": [RECORD_DONE, {**RECORD_PROCESSING, "id": "other"}], "count": 57})
    tasks = client.get_tasks([TID, "other", "missing"])
    assert [t.id for t in tasks] == [TID, "other"]
    assert [t.state for t in tasks] == [TaskState.COMPLETED, TaskState.PROCESSING]
    assert api.bodies(TASKS) == [{"action": "retrieve_batch", "ids": [TID, "other", "missing"]}]


@pytest.mark.parametrize(
    "answer",
    [
        {"items": [], "count": 0},
        {"count": 3},
        {"items": None},
        {"items": "nope"},
        {"items": [None, 1, "x", []]},
        {"items": [{"response": None}]},  # a record without any id is dropped
    ],
)
def test_odd_batches_yield_nothing(client, api, answer) -> None:
    api.script(TASKS, answer)
    assert client.get_tasks(["a", "b"]) == []


def test_batch_under_data(client, api) -> None:
    api.script(TASKS, {"data": [RECORD_PROCESSING]})
    assert [t.id for t in client.get_tasks([TID, "x"])] == [TID]


# ============================================================================ error answers


ERRORS = [
    pytest.param(
        400,
        b'{"success": false, "error": {"code": "bad_request", "message": "prompt is required"},'
        b' "trace_id": "tr-400"}',
        BadRequestError,
        "bad_request",
        "prompt is required",
        "tr-400",
        id="full-envelope",
    ),
    pytest.param(
        400,
        b'{"error": {"code": "bad_request", "message": "prompt is required"}}',
        BadRequestError,
        "bad_request",
        "prompt is required",
        None,
        id="envelope-without-success",
    ),
    pytest.param(
        403,
        b'{"error": "you shall not pass", "trace_id": "tr-s"}',
        luma_nb.PermissionDeniedError,
        "unknown",
        "you shall not pass",
        "tr-s",
        id="bare-string-error",
    ),
    pytest.param(
        403,
        b'{"error": {"code": "forbidden", "message": "nope", "trace_id": "tr-in"}}',
        ModerationError,
        "forbidden",
        "nope",
        "tr-in",
        id="trace-inside-error",
    ),
    pytest.param(
        502,
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        b"</h1></center><hr><center>nginx</center></body></html>",
        ServerError,
        "unknown",
        "502 Bad Gateway",
        None,
        id="html-502",
    ),
    pytest.param(
        500,
        b"",
        ServerError,
        "unknown",
        "empty body",
        None,
        id="empty-500",
    ),
    pytest.param(
        404,
        b'{"detail": "Not Found"}',
        NotFoundError,
        "unknown",
        "Not Found",
        None,
        id="detail-only",
    ),
    pytest.param(
        400,
        b'{"message": "plain message"}',
        BadRequestError,
        "unknown",
        "plain message",
        None,
        id="message-only",
    ),
    pytest.param(
        400,
        b"[1, 2, 3]",
        BadRequestError,
        "unknown",
        "[1, 2, 3]",
        None,
        id="json-list",
    ),
    pytest.param(
        400,
        b"\xff\xfe\x00garbage",
        BadRequestError,
        "unknown",
        "garbage",
        None,
        id="binary",
    ),
]


@pytest.mark.parametrize(("status", "content", "cls", "code", "message", "trace_id"), ERRORS)
def test_error_answers(status, content, cls, code, message, trace_id) -> None:
    err = _wire.error_from_answer(status, content, {})
    assert type(err) is cls
    assert err.status_code == status
    assert err.code == code
    assert message in err.message
    assert err.trace_id == trace_id
    assert "<" not in err.message  # tags stripped from HTML pages


def test_html_page_text_is_shortened_to_one_line() -> None:
    page = b"<html>\n<body>\n" + b"<p>busy busy busy</p>\n" * 200 + b"</body></html>"
    err = _wire.error_from_answer(502, page, {})
    assert "\n" not in err.message
    assert len(err.message) <= 303
    assert err.message.endswith("...")


@pytest.mark.parametrize(
    ("status", "content", "cls", "code", "message", "trace_id"),
    [p for p in ERRORS if p.values[0] < 500],
)
def test_error_answers_through_the_client(
    client, api, status, content, cls, code, message, trace_id
):
    api.script(TASKS, httpx.Response(status, content=content))
    with pytest.raises(cls) as info:
        client.get_task("t1")
    assert info.value.code == code
    assert message in info.value.message


def test_non_json_502_page_through_the_client(make_client, api) -> None:
    client = make_client(max_retries=0)
    api.script(TASKS, httpx.Response(502, text="<h1>Bad Gateway</h1><p>upstream</p>"))
    with pytest.raises(ServerError) as info:
        client.get_task("t1")
    assert info.value.code == "unknown"
    assert info.value.status_code == 502
    assert "Bad Gateway upstream" in info.value.message


def test_malformed_200_through_the_client(make_client, api) -> None:
    client = make_client(max_retries=0)
    api.script(TASKS, httpx.Response(200, content=b'{"id": "t1", "resp'))
    with pytest.raises(UnexpectedResponseError, match="not JSON"):
        client.get_task("t1")


@pytest.mark.parametrize(
    "envelope",
    [
        {"success": False, "error": {"code": "not_found", "message": "no such task"}},
        {"success": False, "error": {"code": "forbidden", "message": "x"}, "trace_id": "t"},
    ],
)
def test_200_error_envelope_on_tasks(client, api, envelope) -> None:
    api.script(TASKS, envelope)
    with pytest.raises(APIError) as info:
        client.get_task("t1")
    assert info.value.code == envelope["error"]["code"]
    assert len(api.requests) == 1


def test_is_error_envelope() -> None:
    assert _wire.is_error_envelope({"success": False, "error": "x"})
    # a failed sync answer carries its task: it is a task, not an envelope
    assert not _wire.is_error_envelope({"success": False, "error": "x", "task_id": "t"})
    assert not _wire.is_error_envelope({"success": True, "task_id": "t"})


# ============================================================================ properties


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
KEYS = st.sampled_from(
    [
        "id",
        "_id",
        "task_id",
        "trace_id",
        "state",
        "success",
        "error",
        "response",
        "request",
        "video_url",
        "video_width",
        "finished_at",
        "created_at",
        "elapsed",
        "data",
        "items",
        "code",
        "message",
    ]
)
# JSON values whose objects mostly use the API's own keys, so that the parsers' branches run.
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(KEYS | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=12,
)
ANY_OBJECT = st.dictionaries(KEYS | st.text(max_size=6), JSON, max_size=8)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(ANY_OBJECT)
def test_record_and_ack_parsers_never_raise(body) -> None:
    """One arbitrary object through every parser of a 2xx body."""
    task = Task.from_record(body)
    assert isinstance(task.id, str)
    assert isinstance(task.state, TaskState)
    if task.state is TaskState.COMPLETED:
        assert task.video is not None
    if task.state is TaskState.FAILED:
        assert task.error is not None
    repr(task)
    assert isinstance(Task.from_sync_response(body), Task)
    task_id, trace_id = _wire.parse_ack(body)
    assert task_id is None or (isinstance(task_id, str) and task_id)
    assert trace_id is None or isinstance(trace_id, str)
    _wire.is_error_envelope(body)


@FAST
@given(
    st.integers(min_value=100, max_value=599),
    st.one_of(
        ANY_OBJECT.map(lambda v: json.dumps(v).encode()),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
    ),
    st.one_of(st.none(), st.text(max_size=40)),
)
def test_error_from_answer_never_raises(status, content, retry_after) -> None:
    headers = {} if retry_after is None else {"retry-after": retry_after}
    err = _wire.error_from_answer(status, content, headers, secret="sk-prop")
    assert isinstance(err, APIError)
    assert err.status_code == status
    assert isinstance(err.code, str)
    assert err.code
    assert isinstance(err.message, str)
    str(err)
    repr(err)


@FAST
@given(st.text(max_size=60))
def test_parse_retry_after_never_raises(value) -> None:
    seconds = _wire.parse_retry_after({"retry-after": value})
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 01 Jan 0001 00:00:00 -0000",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Fri, 31 Dec 99999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 +2400",
        "32 Foo 2020 25:61:61 GMT",
    ],
)
def test_parse_retry_after_extreme_dates(value) -> None:
    seconds = _wire.parse_retry_after({"retry-after": value})
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
