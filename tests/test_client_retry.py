"""Retries per operation: reads are retried with capped, jittered backoff; the paid submit never
is once it may have reached the server."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest

import luma_nb
from luma_nb import (
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
    SubmitOutcomeUnknownError,
    TokenMismatchError,
    TransportError,
    UnexpectedResponseError,
)

VIDEOS = "/luma/videos"
TASKS = "/luma/tasks"
CDN = "https://platform.cdn.acedata.cloud/luma"


def html(status: int, text: str = "<html><body><h1>502 Bad Gateway</h1></body></html>"):
    return httpx.Response(status, text=text, headers={"content-type": "text/html"})


def error(status: int, code: str, message: str = "", trace_id: str | None = None, headers=None):
    body: dict = {"success": False, "error": {"code": code, "message": message or code}}
    if trace_id:
        body["trace_id"] = trace_id
    return httpx.Response(status, json=body, headers=headers)


def garbled(status: int = 200):
    return httpx.Response(status, content=b'{"task_id": "trunc', headers={"content-type": "text"})


def done_record(task_id: str = "task-1") -> dict:
    return {
        "id": task_id,
        "finished_at": 1725077566.2,
        "response": {
            "success": True,
            "task_id": task_id,
            "video_id": "vid-1",
            "video_url": f"{CDN}/{task_id}.mp4",
            "state": "completed",
        },
    }


SYNC_BODY = {
    "success": True,
    "task_id": "task-sync",
    "video_id": "vid-sync",
    "prompt": "a cat",
    "video_url": f"{CDN}/task-sync.mp4",
    "video_width": 1360,
    "video_height": 752,
    "state": "completed",
    "thumbnail_url": f"{CDN}/task-sync.jpg",
    "trace_id": "trace-sync",
}


# ============================================================================ reads


TRANSIENT = [
    pytest.param(httpx.ConnectError, TransportError, id="connect-error"),
    pytest.param(httpx.ConnectTimeout, TransportError, id="connect-timeout"),
    pytest.param(httpx.ReadTimeout, TransportError, id="read-timeout"),
    pytest.param(httpx.ReadError, TransportError, id="read-error"),
    pytest.param(httpx.RemoteProtocolError, TransportError, id="remote-protocol-error"),
    pytest.param(lambda: error(429, "too_many_requests"), RateLimitError, id="429"),
    pytest.param(lambda: error(500, "api_error", "boom"), ServerError, id="500"),
    pytest.param(lambda: html(502), ServerError, id="502-html"),
    pytest.param(lambda: httpx.Response(503), ServerError, id="503-empty"),
    pytest.param(lambda: error(504, "timeout"), APITimeoutError, id="504"),
    pytest.param(garbled, UnexpectedResponseError, id="malformed-200"),
    pytest.param(
        lambda: httpx.Response(200, json=["a", "list"]), UnexpectedResponseError, id="list"
    ),
]


def _fresh(reply):
    """Exceptions are scripted as classes; responses are built fresh each time."""
    return reply if isinstance(reply, type) else (lambda request: reply())


@pytest.mark.parametrize(("reply", "raised"), TRANSIENT)
def test_get_task_is_retried_on_transient_failures(client, api, clock, reply, raised) -> None:
    api.script(TASKS, _fresh(reply), _fresh(reply), done_record())
    task = client.get_task("task-1")
    assert task.succeeded
    assert len(api.to(TASKS)) == 3
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(("reply", "raised"), TRANSIENT)
def test_get_task_gives_up_after_max_retries(make_client, api, clock, reply, raised) -> None:
    client = make_client(max_retries=2)
    api.script(TASKS, _fresh(reply))
    with pytest.raises(raised):
        client.get_task("task-1")
    assert len(api.to(TASKS)) == 3  # the first try and two retries
    assert len(clock.sleeps) == 2


def test_max_retries_zero_means_one_request(make_client, api, clock) -> None:
    client = make_client(max_retries=0)
    api.script(TASKS, lambda request: httpx.Response(503))
    with pytest.raises(ServerError):
        client.get_task("task-1")
    assert len(api.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("reply", "raised"),
    [
        pytest.param(error(400, "bad_request"), BadRequestError, id="400"),
        pytest.param(error(400, "token_mismatched"), TokenMismatchError, id="400-mismatch"),
        pytest.param(error(401, "invalid_token"), AuthenticationError, id="401"),
        pytest.param(error(403, "forbidden"), ModerationError, id="403"),
        pytest.param(error(403, "used_up"), InsufficientBalanceError, id="403-used-up"),
        pytest.param(error(404, "not_found"), NotFoundError, id="404"),
        pytest.param(httpx.Response(404, text="Not Found"), NotFoundError, id="404-text"),
        pytest.param(error(413, "request_too_large"), BadRequestError, id="413"),
        pytest.param(
            httpx.Response(200, json={"success": False, "error": {"code": "no_token"}}),
            AuthenticationError,
            id="200-envelope",
        ),
    ],
)
def test_get_task_is_not_retried_on_client_errors(client, api, clock, reply, raised) -> None:
    api.script(TASKS, reply, done_record())
    with pytest.raises(raised):
        client.get_task("task-1")
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_local_protocol_errors_are_not_retried(client, api, clock) -> None:
    api.script(TASKS, httpx.LocalProtocolError("bad header"))
    with pytest.raises(TransportError, match="LocalProtocolError"):
        client.get_task("task-1")
    assert len(api.requests) == 1


def test_get_tasks_chunks_are_retried_independently(client, api, clock) -> None:
    ids = [f"t{i}" for i in range(60)]
    calls = {"n": 0}

    def handler(request):
        calls["n"] += 1
        if calls["n"] == 2:  # the second chunk fails once
            return httpx.Response(503)
        wanted = json.loads(request.content)["ids"]
        return {"items": [{"id": i} for i in wanted], "count": len(wanted)}

    api.route(TASKS, handler)
    tasks = client.get_tasks(ids)
    assert [t.id for t in tasks] == ids
    assert [len(b["ids"]) for b in api.bodies(TASKS)] == [50, 10, 10]
    assert len(clock.sleeps) == 1


# ---------------------------------------------------------------------------- Retry-After


def test_retry_after_seconds_is_honoured(client, api, clock) -> None:
    api.script(TASKS, error(429, "too_many_requests", headers={"Retry-After": "7"}), done_record())
    client.get_task("task-1")
    assert clock.sleeps == [7.0]


def test_retry_after_fractional_seconds(client, api, clock) -> None:
    api.script(
        TASKS, error(429, "too_many_requests", headers={"retry-after": "2.5"}), done_record()
    )
    client.get_task("task-1")
    assert clock.sleeps == [2.5]


def test_retry_after_http_date_is_honoured(client, api, clock) -> None:
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    api.script(TASKS, error(429, "too_many_requests", headers={"Retry-After": when}), done_record())
    client.get_task("task-1")
    assert len(clock.sleeps) == 1
    assert 17.0 <= clock.sleeps[0] <= 20.0


def test_retry_after_in_the_past_falls_back_to_backoff(client, api, clock) -> None:
    when = email.utils.formatdate(time.time() - 3600, usegmt=True)
    api.script(TASKS, error(429, "too_many_requests", headers={"Retry-After": when}), done_record())
    client.get_task("task-1")
    assert len(clock.sleeps) == 1
    assert 0.25 <= clock.sleeps[0] <= 0.5  # the first backoff step


@pytest.mark.parametrize("value", ["soon", "", "-5", "nan", "1e999"])
def test_unusable_retry_after_falls_back_to_backoff(client, api, clock, value) -> None:
    api.script(
        TASKS, error(429, "too_many_requests", headers={"Retry-After": value}), done_record()
    )
    client.get_task("task-1")
    assert len(clock.sleeps) == 1
    assert 0 <= clock.sleeps[0] <= 0.5


def test_huge_retry_after_is_capped(client, api, clock) -> None:
    api.script(
        TASKS, error(429, "too_many_requests", headers={"Retry-After": "86400"}), done_record()
    )
    client.get_task("task-1")
    assert clock.sleeps == [60.0]


def test_rate_limit_error_carries_retry_after(make_client, api) -> None:
    client = make_client(max_retries=0)
    api.script(TASKS, error(429, "too_many_requests", "slow down", headers={"Retry-After": "12"}))
    with pytest.raises(RateLimitError) as info:
        client.get_task("task-1")
    assert info.value.retry_after == 12.0
    assert info.value.status_code == 429


# ---------------------------------------------------------------------------- backoff shape


def test_backoff_grows_is_capped_and_jittered(make_client, api, clock) -> None:
    client = make_client(max_retries=9)
    api.script(TASKS, lambda request: httpx.Response(503))
    with pytest.raises(ServerError):
        client.get_task("task-1")
    policy = client.settings.retry
    assert len(clock.sleeps) == 9
    for attempt, delay in enumerate(clock.sleeps):
        ceiling = min(policy.cap, policy.base * 2**attempt)
        assert ceiling * (1 - policy.jitter) <= delay <= ceiling, (attempt, delay)
    assert max(clock.sleeps) <= policy.cap
    assert clock.sleeps[-1] > clock.sleeps[0] * 4  # it grew
    assert clock.sleeps[3] > clock.sleeps[0]
    # jitter: not the plain exponential sequence
    plain = [min(policy.cap, policy.base * 2**a) for a in range(9)]
    assert clock.sleeps != plain
    assert len(set(clock.sleeps[5:])) > 1  # capped steps still differ


def test_backoff_is_deterministic_with_a_seeded_rng(make_client, api, clock) -> None:
    api.script(TASKS, lambda request: httpx.Response(503))
    for _ in range(2):
        client = make_client(max_retries=5)
        with pytest.raises(ServerError):
            client.get_task("task-1")
    assert clock.sleeps[:5] == clock.sleeps[5:]


# ============================================================================ the paid submit


UNKNOWN_OUTCOME = [
    pytest.param(
        lambda r: error(500, "api_error", "upstream broke", trace_id="trace-500"),
        ServerError,
        "trace-500",
        id="500",
    ),
    pytest.param(lambda r: error(500, "busy"), ServerError, None, id="500-busy"),
    pytest.param(lambda r: html(502), ServerError, None, id="502-html"),
    pytest.param(lambda r: httpx.Response(503), ServerError, None, id="503-empty"),
    pytest.param(
        lambda r: error(504, "timeout", "timed out", trace_id="trace-504"),
        APITimeoutError,
        "trace-504",
        id="504-timeout",
    ),
    pytest.param(httpx.ReadTimeout, TransportError, None, id="read-timeout"),
    pytest.param(httpx.WriteTimeout, TransportError, None, id="write-timeout"),
    pytest.param(httpx.RemoteProtocolError, TransportError, None, id="dropped"),
    pytest.param(httpx.ReadError, TransportError, None, id="read-error"),
    pytest.param(httpx.WriteError, TransportError, None, id="write-error"),
    pytest.param(lambda r: garbled(), UnexpectedResponseError, None, id="malformed-200"),
    pytest.param(
        lambda r: httpx.Response(200, json="task-1"), UnexpectedResponseError, None, id="json-str"
    ),
    pytest.param(lambda r: httpx.Response(200, json={}), UnexpectedResponseError, None, id="{}"),
    pytest.param(
        lambda r: httpx.Response(200, json={"success": True, "trace_id": "trace-ok"}),
        UnexpectedResponseError,
        None,
        id="no-task-id",
    ),
    pytest.param(
        lambda r: httpx.Response(200, json={"task_id": "", "data": {}}),
        UnexpectedResponseError,
        None,
        id="empty-task-id",
    ),
    pytest.param(
        lambda r: httpx.Response(200, content=b""), UnexpectedResponseError, None, id="empty-body"
    ),
]


@pytest.mark.parametrize(("reply", "cause", "trace_id"), UNKNOWN_OUTCOME)
def test_submit_is_never_retried_once_it_may_have_arrived(
    client, api, clock, reply, cause, trace_id
) -> None:
    api.script(VIDEOS, reply, {"task_id": "task-2"})
    with pytest.raises(SubmitOutcomeUnknownError) as info:
        client.submit("a cat")
    assert len(api.requests) == 1, "the paid submit was sent more than once"
    assert clock.sleeps == []
    err = info.value
    assert isinstance(err.cause, cause)
    assert isinstance(err.cause, luma_nb.LumaError)
    assert err.trace_id == trace_id
    if trace_id:
        assert trace_id in str(err)
    assert "task list" in str(err)
    assert "resubmit" in str(err)
    assert "not retried" in str(err)


@pytest.mark.parametrize("reply", [p.values[0] for p in UNKNOWN_OUTCOME[:6]])
@pytest.mark.parametrize("method", ["generate", "extend"])
def test_generate_and_extend_do_not_retry_either(client, api, clock, method, reply) -> None:
    api.script(VIDEOS, reply, {"task_id": "task-2"})
    call = (
        (lambda: client.generate("a cat")) if method == "generate" else lambda: client.extend("v")
    )
    with pytest.raises(SubmitOutcomeUnknownError):
        call()
    assert len(api.requests) == 1
    assert api.to(TASKS) == []


def test_unknown_outcome_keeps_status_and_code(client, api) -> None:
    api.script(VIDEOS, error(504, "timeout", "took too long", trace_id="tr-9"))
    with pytest.raises(SubmitOutcomeUnknownError) as info:
        client.submit("a cat", sync=True)
    assert (info.value.status_code, info.value.code, info.value.trace_id) == (
        504,
        "timeout",
        "tr-9",
    )
    assert "took too long" in str(info.value)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout],
    ids=lambda e: e.__name__,
)
def test_submit_is_retried_when_it_never_left(client, api, clock, failure) -> None:
    api.script(VIDEOS, failure, {"task_id": "task-1"})
    task = client.submit("a cat")
    assert task.id == "task-1"
    assert len(api.requests) == 2
    assert len(clock.sleeps) == 1
    first, second = api.bodies(VIDEOS)
    assert first == second


def test_submit_connect_errors_give_up_after_max_retries(make_client, api, clock) -> None:
    client = make_client(max_retries=3)
    api.script(VIDEOS, httpx.ConnectError)
    with pytest.raises(TransportError, match="ConnectError"):
        client.submit("a cat")
    assert len(api.requests) == 4
    assert len(clock.sleeps) == 3


def test_submit_is_retried_after_429_then_succeeds(client, api, clock) -> None:
    api.script(
        VIDEOS,
        error(429, "too_many_requests", headers={"Retry-After": "3"}),
        {"task_id": "task-1"},
    )
    task = client.submit("a cat")
    assert task.id == "task-1"
    assert len(api.requests) == 2
    assert clock.sleeps == [3.0]


def test_submit_429_gives_up_with_rate_limit_error(make_client, api, clock) -> None:
    client = make_client(max_retries=2)
    api.script(VIDEOS, lambda r: error(429, "too_many_requests"))
    with pytest.raises(RateLimitError):
        client.submit("a cat")
    assert len(api.requests) == 3


@pytest.mark.parametrize(
    ("reply", "raised", "code"),
    [
        pytest.param(
            error(400, "bad_request", "prompt is required"),
            BadRequestError,
            "bad_request",
            id="400",
        ),
        pytest.param(
            error(400, "api_not_implemented"), BadRequestError, "api_not_implemented", id="400-ani"
        ),
        pytest.param(
            error(400, "token_mismatched"), TokenMismatchError, "token_mismatched", id="mismatch"
        ),
        pytest.param(error(400, "no_token"), AuthenticationError, "no_token", id="no-token"),
        pytest.param(error(400, "disabled"), AuthenticationError, "disabled", id="disabled"),
        pytest.param(error(401, "invalid_token"), AuthenticationError, "invalid_token", id="401"),
        pytest.param(error(401, "token_expired"), AuthenticationError, "token_expired", id="exp"),
        pytest.param(error(403, "forbidden"), ModerationError, "forbidden", id="403-forbidden"),
        pytest.param(error(403, "used_up"), InsufficientBalanceError, "used_up", id="403-used-up"),
        pytest.param(error(403, "nope"), PermissionDeniedError, "nope", id="403-other"),
        pytest.param(error(404, "no_api"), NotFoundError, "no_api", id="404"),
        pytest.param(
            error(413, "request_too_large"), BadRequestError, "request_too_large", id="413"
        ),
        pytest.param(
            httpx.Response(413, text="<h1>413 Request Entity Too Large</h1>"),
            BadRequestError,
            "unknown",
            id="413-html",
        ),
        pytest.param(
            httpx.Response(
                200,
                json={"success": False, "error": {"code": "forbidden", "message": "nsfw"}},
            ),
            ModerationError,
            "forbidden",
            id="200-envelope-forbidden",
        ),
        pytest.param(
            httpx.Response(
                200,
                json={
                    "success": False,
                    "error": {"code": "used_up", "message": "no credit"},
                    "trace_id": "trace-e",
                },
            ),
            InsufficientBalanceError,
            "used_up",
            id="200-envelope-used-up",
        ),
    ],
)
def test_submit_typed_errors(client, api, clock, reply, raised, code) -> None:
    api.script(VIDEOS, reply, {"task_id": "task-2"})
    with pytest.raises(raised) as info:
        client.submit("a cat")
    assert not isinstance(info.value, SubmitOutcomeUnknownError)
    assert info.value.code == code
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_submit_error_carries_message_status_and_trace(client, api) -> None:
    api.script(VIDEOS, error(400, "bad_request", "prompt is required", trace_id="tr-1"))
    with pytest.raises(BadRequestError) as info:
        client.submit("a cat")
    err = info.value
    assert (err.status_code, err.code, err.message, err.trace_id) == (
        400,
        "bad_request",
        "prompt is required",
        "tr-1",
    )
    assert "prompt is required" in str(err)
    assert "tr-1" in str(err)


def test_200_envelope_keeps_its_status(client, api) -> None:
    api.script(
        VIDEOS,
        httpx.Response(
            200, json={"success": False, "error": {"code": "forbidden", "message": "x"}}
        ),
    )
    with pytest.raises(APIError) as info:
        client.submit("a cat")
    assert info.value.status_code == 200


# ---------------------------------------------------------------------------- request shape


def test_async_submit_body_and_headers(client, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    task = client.submit("a cat")
    (request,) = api.requests
    assert request.method == "POST"
    assert str(request.url) == "https://api.acedata.cloud/luma/videos"
    assert request.headers["authorization"] == "Bearer sk-test-token-0001"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert json.loads(request.content) == {
        "action": "generate",
        "prompt": "a cat",
        "aspect_ratio": "16:9",
        "loop": False,
        "enhancement": True,
        "async": True,
    }
    assert task.id == "task-1"
    assert not task.is_terminal
    assert task.sent is not None
    assert task.sent.prompt == "a cat"


def test_every_option_is_sent(client, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    client.submit(
        "a cat",
        aspect_ratio="9:16",
        loop=True,
        enhancement=False,
        start_image_url="https://example.com/a.png",
        end_image_url="https://example.com/b.png",
        callback_url="https://hooks.example.com/x",
        timeout=120,
        preflight=False,  # the fake API has no image host; the preflight has its own tests
    )
    assert api.bodies(VIDEOS)[0] == {
        "action": "generate",
        "prompt": "a cat",
        "aspect_ratio": "9:16",
        "loop": True,
        "enhancement": False,
        "start_image_url": "https://example.com/a.png",
        "end_image_url": "https://example.com/b.png",
        "callback_url": "https://hooks.example.com/x",
        "timeout": 120,
        "async": True,
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {"video_id": "vid-1"},
            {"action": "extend", "video_id": "vid-1", "loop": False, "enhancement": True},
            id="by-id",
        ),
        pytest.param(
            {"video_url": f"{CDN}/old.mp4", "prompt": "and then"},
            {
                "action": "extend",
                "video_url": f"{CDN}/old.mp4",
                "prompt": "and then",
                "loop": False,
                "enhancement": True,
            },
            id="by-url",
        ),
        pytest.param(
            {
                "video_id": luma_nb.Video(task_id="t0", video_url=f"{CDN}/t0.mp4", video_id="v0"),
                "aspect_ratio": "1:1",
            },
            {
                "action": "extend",
                "video_id": "v0",
                "aspect_ratio": "1:1",
                "loop": False,
                "enhancement": True,
            },
            id="by-video",
        ),
        pytest.param(
            {"video_id": luma_nb.Video(task_id="t0", video_url=f"{CDN}/t0.mp4")},
            {
                "action": "extend",
                "video_url": f"{CDN}/t0.mp4",
                "loop": False,
                "enhancement": True,
            },
            id="by-video-without-id",
        ),
    ],
)
def test_extend_body(client, api, kwargs, expected) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(TASKS, done_record())
    client.extend(**kwargs)
    assert api.bodies(VIDEOS) == [{**expected, "async": True}]


# ---------------------------------------------------------------------------- sync mode


@pytest.mark.parametrize(("api_timeout", "read"), [(None, 330.0), (120, 150.0), (3600, 3630.0)])
def test_sync_submit(client, api, api_timeout, read) -> None:
    api.script(VIDEOS, SYNC_BODY)
    task = client.submit("a cat", sync=True, timeout=api_timeout)
    (request,) = api.requests
    body = json.loads(request.content)
    assert "async" not in body
    if api_timeout is None:
        assert "timeout" not in body
    else:
        assert body["timeout"] == api_timeout
    timeouts = request.extensions["timeout"]
    assert timeouts["read"] == read
    assert task.is_terminal
    assert task.succeeded
    assert task.id == "task-sync"
    assert task.trace_id == "trace-sync"
    assert task.video is not None
    assert task.video.video_url == f"{CDN}/task-sync.mp4"
    assert task.video.size == (1360, 752)
    assert task.video.request is not None
    assert task.video.request.prompt == "a cat"


def test_async_submit_uses_the_plain_http_timeout(make_client, api) -> None:
    client = make_client(timeout=12.0)
    api.script(VIDEOS, {"task_id": "task-1"})
    client.submit("a cat", timeout=120)
    assert api.requests[0].extensions["timeout"]["read"] == 12.0


def test_sync_generate_makes_one_request_and_no_polling(client, api, clock) -> None:
    api.script(VIDEOS, SYNC_BODY)
    video = client.generate("a cat", sync=True, timeout=200)
    assert video.video_url == f"{CDN}/task-sync.mp4"
    assert len(api.requests) == 1
    assert api.requests[0].extensions["timeout"]["read"] == 230.0
    assert clock.sleeps == []


def test_sync_generate_failure_raises_generation_failed(client, api) -> None:
    api.script(
        VIDEOS,
        {
            "success": False,
            "task_id": "task-bad",
            "error": {"code": "forbidden", "message": "refused"},
            "trace_id": "tr-f",
        },
    )
    with pytest.raises(luma_nb.GenerationFailedError) as info:
        client.generate("a cat", sync=True)
    assert info.value.task.id == "task-bad"
    assert info.value.code == "forbidden"
    assert len(api.requests) == 1


def test_sync_answer_without_task_id_is_an_unknown_outcome(client, api) -> None:
    body = {k: v for k, v in SYNC_BODY.items() if k != "task_id"}
    api.script(VIDEOS, body)
    with pytest.raises(SubmitOutcomeUnknownError, match="task list"):
        client.submit("a cat", sync=True)
    assert len(api.requests) == 1


def test_retry_after_is_honoured_on_503_too(client, api, clock) -> None:
    api.script(TASKS, error(503, "busy", headers={"Retry-After": "6"}), done_record())
    client.get_task("task-1")
    assert clock.sleeps == [6.0]


def test_sync_500_naming_a_failed_task_is_a_generation_failure(client, api) -> None:
    # The simulator answers a sync request whose task failed with HTTP 500 and the failure body:
    # the task is known, so this is an answer, not an unknown outcome.
    failure = {
        "success": False,
        "task_id": "task-500",
        "state": "failed",
        "error": {"code": "api_error", "message": "upstream failed"},
        "trace_id": "tr-500",
    }
    api.script(VIDEOS, httpx.Response(500, json=failure))
    with pytest.raises(luma_nb.GenerationFailedError) as info:
        client.generate("a cat", sync=True)
    assert info.value.task.id == "task-500"
    assert info.value.code == "api_error"
    assert len(api.requests) == 1


def test_sync_500_without_a_task_is_still_an_unknown_outcome(client, api) -> None:
    api.script(VIDEOS, httpx.Response(500, json={"success": False, "error": {"code": "api_error"}}))
    with pytest.raises(SubmitOutcomeUnknownError):
        client.submit("a cat", sync=True)
    assert len(api.requests) == 1


def test_200_error_without_success_flag_is_an_error_not_a_task(client, api, clock) -> None:
    api.script(TASKS, {"error": {"code": "not_found", "message": "no such task"}, "trace_id": "t"})
    with pytest.raises(NotFoundError):
        client.get_task("task-missing")
    assert len(api.requests) == 1


def test_rate_limit_error_pickles_with_retry_after() -> None:
    import pickle

    original = RateLimitError("slow down", trace_id="tr", retry_after=3.5)
    copy = pickle.loads(pickle.dumps(original))
    assert (copy.retry_after, copy.trace_id, copy.code, str(copy)) == (
        3.5,
        "tr",
        "too_many_requests",
        str(original),
    )
