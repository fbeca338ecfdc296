"""Polling: cadence, deadline, terminal detection by the spec's state rules, on_update, batches."""

from __future__ import annotations

import json

import httpx
import pytest

import luma_nb
from luma_nb import (
    AuthenticationError,
    GenerationFailedError,
    NotFoundError,
    TaskState,
    WaitTimeoutError,
)

VIDEOS = "/luma/videos"
TASKS = "/luma/tasks"
CDN = "https://platform.cdn.acedata.cloud/luma"
DEFAULT_CADENCE = [
    3.0,
    3.75,
    4.6875,
    5.859375,
    7.32421875,
    9.1552734375,
    11.444091796875,
    14.30511474609375,
    15.0,
    15.0,
    15.0,
]


def record(task_id: str = "task-1", state: str | None = None, **response) -> dict:
    """A task record; ``state=None`` and no response keys means queued (no response)."""
    rec: dict = {"id": task_id, "created_at": 1725077411.961}
    if state is not None or response:
        rec["response"] = {"task_id": task_id, **({"state": state} if state else {}), **response}
        rec["started_at"] = 1725077412.0
    return rec


def done(task_id: str = "task-1") -> dict:
    rec = record(
        task_id,
        "completed",
        success=True,
        video_id=f"vid-{task_id}",
        video_url=f"{CDN}/{task_id}.mp4",
        video_width=1360,
        video_height=752,
    )
    rec["finished_at"] = 1725077566.241
    rec["elapsed"] = 154.22
    return rec


def failed(task_id: str = "task-1", *, code="forbidden", message="refused", trace_id="tr-f"):
    rec = record(
        task_id,
        "failed",
        success=False,
        error={"code": code, "message": message},
        trace_id=trace_id,
    )
    rec["finished_at"] = 1725077566.0
    return rec


# ---------------------------------------------------------------------------- cadence


def test_backoff_cadence_grows_to_the_cap(client, api, clock) -> None:
    api.script(TASKS, *[record(state="processing")] * 11, done())
    task = client.wait("task-1")
    assert task.succeeded
    assert clock.sleeps == pytest.approx(DEFAULT_CADENCE)
    assert len(api.to(TASKS)) == 12
    assert all(b == {"action": "retrieve", "id": "task-1"} for b in api.bodies(TASKS))


def test_custom_poll_policy(make_client, api, clock) -> None:
    client = make_client(
        poll=luma_nb.config.PollPolicy(
            initial=5, factor=2, maximum=12, max_wait=600, adaptive=False
        )
    )
    api.script(TASKS, *[record(state="processing")] * 4, done())
    client.wait("task-1")
    assert clock.sleeps == [5, 10, 12, 12]


def test_generate_submits_once_then_polls(client, api, clock) -> None:
    api.script(VIDEOS, {"task_id": "task-1", "success": True})
    api.script(TASKS, record(), record(state="pending"), record(state="processing"), done())
    video = client.generate("a cat")
    assert video.video_url == f"{CDN}/task-1.mp4"
    assert video.task_id == "task-1"
    assert video.request is not None
    assert video.request.prompt == "a cat"
    assert len(api.to(VIDEOS)) == 1
    assert len(api.to(TASKS)) == 4
    assert clock.sleeps == pytest.approx(DEFAULT_CADENCE[:3])


def test_extend_waits_too(client, api) -> None:
    api.script(VIDEOS, {"task_id": "task-2"})
    api.script(TASKS, record("task-2", "processing"), done("task-2"))
    video = client.extend("vid-1", prompt="and then")
    assert video.task_id == "task-2"
    assert api.bodies(VIDEOS)[0]["action"] == "extend"


# ---------------------------------------------------------------------------- deadline


def test_max_wait_deadline(client, api, clock) -> None:
    api.script(TASKS, record(state="processing"))
    start = clock.now
    with pytest.raises(WaitTimeoutError) as info:
        client.wait("task-1", max_wait=30)
    err = info.value
    assert err.task_id == "task-1"
    assert err.task_ids == ("task-1",)
    assert "client.wait('task-1')" in str(err)
    assert "may still finish" in str(err)
    assert err.waited == pytest.approx(30)
    assert clock.now - start == pytest.approx(30)
    assert max(clock.sleeps) <= 15
    assert err.last["task-1"].state is TaskState.PROCESSING
    assert len(api.to(TASKS)) == len(clock.sleeps) + 1


def test_default_max_wait_comes_from_the_poll_policy(make_client, api, clock) -> None:
    client = make_client(poll=luma_nb.config.PollPolicy(max_wait=100, adaptive=False))
    api.script(TASKS, record(state="processing"))
    with pytest.raises(WaitTimeoutError):
        client.wait("task-1")
    assert clock.slept == pytest.approx(100)


def test_default_deadline_is_fifteen_minutes(client, api, clock) -> None:
    api.script(TASKS, record(state="dreaming"))
    with pytest.raises(WaitTimeoutError) as info:
        client.wait("task-1")
    assert clock.slept == pytest.approx(900)
    assert info.value.waited == pytest.approx(900)


def test_generate_deadline_names_the_task(client, api, clock) -> None:
    api.script(VIDEOS, {"task_id": "task-slow"})
    api.script(TASKS, record("task-slow", "processing"))
    with pytest.raises(WaitTimeoutError) as info:
        client.generate("a cat", max_wait=10)
    assert info.value.task_id == "task-slow"
    assert "client.wait('task-slow')" in str(info.value)
    assert len(api.to(VIDEOS)) == 1


def test_the_deadline_is_not_the_http_timeout(make_client, api, clock) -> None:
    """max_wait bounds the whole wait; the HTTP timeout bounds each request."""
    client = make_client(timeout=5)
    api.script(TASKS, *[record(state="processing")] * 5, done())
    task = client.wait("task-1", max_wait=120)
    assert task.succeeded
    assert all(r.extensions["timeout"]["read"] == 5 for r in api.requests)
    assert clock.slept > 5


def test_wait_many_deadline_lists_the_unfinished(client, api, clock) -> None:
    def handler(request):
        ids = json.loads(request.content)["ids"]
        return {"items": [done(i) if i == "a" else record(i, "processing") for i in ids]}

    api.route(TASKS, handler)
    with pytest.raises(WaitTimeoutError) as info:
        client.wait_many(["a", "b", "c"], max_wait=20)
    assert info.value.task_ids == ("b", "c")
    assert "wait_many" in str(info.value)
    assert set(info.value.last) == {"b", "c"}


# ---------------------------------------------------------------------------- terminal detection


NOT_TERMINAL = [
    pytest.param({"id": "task-1"}, TaskState.QUEUED, id="no-response"),
    pytest.param({"id": "task-1", "response": None}, TaskState.QUEUED, id="response-null"),
    pytest.param({"id": "task-1", "response": {}}, TaskState.QUEUED, id="response-empty"),
    pytest.param(record(state="pending"), TaskState.PENDING, id="pending"),
    pytest.param(record(state="processing"), TaskState.PROCESSING, id="processing"),
    pytest.param(record(state="PROCESSING"), TaskState.PROCESSING, id="processing-upper"),
    pytest.param(record(state="dreaming"), TaskState.UNKNOWN, id="dreaming"),
    pytest.param(record(state="queued"), None, id="queued-word"),
    pytest.param(record(state="submitted", success=True), TaskState.UNKNOWN, id="submitted"),
    pytest.param({"id": "task-1", "state": "processing"}, TaskState.PROCESSING, id="top-state"),
]


@pytest.mark.parametrize(("first", "state"), NOT_TERMINAL)
def test_non_terminal_states_keep_polling(client, api, clock, first, state) -> None:
    seen: list[luma_nb.Task] = []
    api.script(TASKS, first, done())
    task = client.wait("task-1", on_update=seen.append)
    assert task.succeeded
    assert len(api.to(TASKS)) == 2
    assert len(clock.sleeps) == 1
    assert not seen[0].is_terminal
    if state is not None:
        assert seen[0].state is state


@pytest.mark.parametrize(("first", "state"), NOT_TERMINAL)
def test_non_terminal_states_time_out(client, api, first, state) -> None:
    api.script(TASKS, first)
    with pytest.raises(WaitTimeoutError):
        client.wait("task-1", max_wait=20)


def _rec(state=None, **response):
    rec = record("task-1", state, **response)
    rec["finished_at"] = 1725077566.0
    return rec


TERMINAL = [
    pytest.param(done(), TaskState.COMPLETED, None, id="completed"),
    pytest.param(
        _rec("completed", video_url=f"{CDN}/x.mp4"), TaskState.COMPLETED, None, id="no-success"
    ),
    pytest.param(
        _rec(success=True, video_url=f"{CDN}/x.mp4"), TaskState.COMPLETED, None, id="no-state"
    ),
    pytest.param(failed(), TaskState.FAILED, "forbidden", id="failed"),
    pytest.param(
        _rec(success=False, error={"code": "api_error", "message": "x"}),
        TaskState.FAILED,
        "api_error",
        id="success-false",
    ),
    pytest.param(
        _rec("completed", success=False, video_url=f"{CDN}/x.mp4"),
        TaskState.FAILED,
        "unknown",
        id="completed-but-success-false",
    ),
    pytest.param(_rec("error"), TaskState.FAILED, "unknown", id="error"),
    pytest.param(_rec("cancelled"), TaskState.FAILED, "unknown", id="cancelled"),
    pytest.param(_rec("canceled"), TaskState.FAILED, "unknown", id="canceled"),
    pytest.param(_rec("Failed"), TaskState.FAILED, "unknown", id="Failed"),
    pytest.param(
        _rec("failed", error="upstream exploded"), TaskState.FAILED, "unknown", id="bare-error"
    ),
    pytest.param(
        {"id": "task-1", "state": "failed", "finished_at": 1.0},
        TaskState.FAILED,
        "unknown",
        id="top-level-failed",
    ),
]


@pytest.mark.parametrize(("rec", "state", "code"), TERMINAL)
def test_terminal_states_stop_at_once(client, api, clock, rec, state, code) -> None:
    api.script(TASKS, rec, done())
    task = client.wait("task-1")
    assert task.state is state
    assert task.is_terminal
    assert len(api.to(TASKS)) == 1
    assert clock.sleeps == []
    if code is None:
        assert task.video is not None
        assert task.error is None
    else:
        assert task.video is None
        assert task.error is not None
        assert task.error.code == code


# ---------------------------------------------------------------------------- failures


def test_wait_returns_failed_tasks(client, api) -> None:
    api.script(TASKS, record(state="processing"), failed())
    task = client.wait("task-1")
    assert task.failed
    assert not task.succeeded
    assert task.error == luma_nb.models.TaskError("forbidden", "refused")
    assert task.trace_id == "tr-f"


def test_generate_raises_generation_failed(client, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(TASKS, record(state="processing"), failed(message="moderation refused it"))
    with pytest.raises(GenerationFailedError) as info:
        client.generate("a cat")
    err = info.value
    assert err.task.id == "task-1"
    assert err.task.failed
    assert (err.code, err.message, err.trace_id) == ("forbidden", "moderation refused it", "tr-f")
    assert "moderation refused it" in str(err)
    assert "tr-f" in str(err)
    assert err.task.sent is not None
    assert err.task.sent.prompt == "a cat"


def test_generate_failure_with_a_bare_string_error(client, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(TASKS, _rec("failed", success=False, error="GPU on fire"))
    with pytest.raises(GenerationFailedError) as info:
        client.generate("a cat")
    assert info.value.code == "unknown"
    assert info.value.message == "GPU on fire"


# ---------------------------------------------------------------------------- on_update


def test_on_update_once_per_change(client, api) -> None:
    api.script(
        TASKS,
        record(),
        record(),
        record(state="processing"),
        record(state="processing"),
        record(state="processing"),
        record(state="dreaming"),
        record(state="dreaming"),
        record(state="thinking"),
        done(),
        done(),
    )
    seen: list[luma_nb.Task] = []
    task = client.wait("task-1", on_update=seen.append)
    assert [(t.state, t.raw_state) for t in seen] == [
        (TaskState.QUEUED, None),
        (TaskState.PROCESSING, "processing"),
        (TaskState.UNKNOWN, "dreaming"),
        (TaskState.UNKNOWN, "thinking"),
        (TaskState.COMPLETED, "completed"),
    ]
    assert seen[-1] == task
    assert len(api.to(TASKS)) == 9


def test_generate_reports_the_submitted_task_then_changes(client, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(TASKS, record(), record(), record(state="processing"), done())
    seen: list[luma_nb.Task] = []
    client.generate("a cat", on_update=seen.append)
    assert [t.state for t in seen] == [
        TaskState.QUEUED,
        TaskState.PROCESSING,
        TaskState.COMPLETED,
    ]
    assert all(t.id == "task-1" for t in seen)


def test_on_update_for_many_tasks(client, api) -> None:
    rounds = {"n": 0}

    def handler(request):
        rounds["n"] += 1
        ids = json.loads(request.content)["ids"]
        if rounds["n"] == 1:
            return {"items": [record(i, "processing") for i in ids]}
        return {"items": [done(i) for i in ids]}

    api.route(TASKS, handler)
    seen: list[tuple[str, TaskState]] = []
    client.wait_many(["a", "b"], on_update=lambda t: seen.append((t.id, t.state)))
    assert sorted(seen) == [
        ("a", TaskState.COMPLETED),
        ("a", TaskState.PROCESSING),
        ("b", TaskState.COMPLETED),
        ("b", TaskState.PROCESSING),
    ]


# ---------------------------------------------------------------------------- wait_many


def test_wait_many_batches_of_fifty_in_input_order(client, api, clock) -> None:
    ids = [f"task-{i:03d}" for i in range(120)]
    missing_once = {"task-007", "task-077", "task-119"}
    asked: dict[str, int] = {}

    def handler(request):
        body = json.loads(request.content)
        assert body["action"] == "retrieve_batch"
        items = []
        for task_id in body["ids"]:
            asked[task_id] = asked.get(task_id, 0) + 1
            if asked[task_id] == 1 and task_id in missing_once:
                continue  # the server left it out this round
            items.append(record(task_id, "processing") if asked[task_id] == 1 else done(task_id))
        items.reverse()  # the server's order is not ours
        return {"items": items, "count": 10_000}

    api.route(TASKS, handler)
    tasks = client.wait_many(ids)
    assert [t.id for t in tasks] == ids
    assert all(t.succeeded for t in tasks)
    sizes = [len(b["ids"]) for b in api.bodies(TASKS)]
    assert sizes == [50, 50, 20, 50, 50, 20]
    assert max(sizes) <= 50
    assert clock.sleeps == [3.0]


def test_wait_many_asks_only_for_unfinished_tasks(client, api) -> None:
    api.script(
        TASKS,
        {"items": [done("a"), done("b"), record("slow", "processing")], "count": 3},
        done("slow"),
    )
    tasks = client.wait_many(["a", "b", "slow"])
    assert [t.id for t in tasks] == ["a", "b", "slow"]
    assert api.bodies(TASKS) == [
        {"action": "retrieve_batch", "ids": ["a", "b", "slow"]},
        {"action": "retrieve", "id": "slow"},  # one task left: a plain retrieve
    ]


def test_wait_many_returns_failed_tasks_too(client, api) -> None:
    api.script(TASKS, {"items": [failed("a"), done("b")], "count": 2})
    tasks = client.wait_many(["a", "b"])
    assert [t.state for t in tasks] == [TaskState.FAILED, TaskState.COMPLETED]


def test_wait_many_duplicate_ids(client, api) -> None:
    api.script(TASKS, {"items": [done("a"), done("b")]})
    tasks = client.wait_many(["a", "b", "a"])
    assert [t.id for t in tasks] == ["a", "b"]
    assert api.bodies(TASKS)[0]["ids"] == ["a", "b"]


def test_wait_many_accepts_tasks(client, api) -> None:
    api.script(TASKS, {"items": [done("a"), done("b")]})
    tasks = client.wait_many([luma_nb.Task(id="a"), "b"])
    assert [t.id for t in tasks] == ["a", "b"]


def test_get_tasks_120_ids(client, api) -> None:
    ids = [f"t{i}" for i in range(120)]

    def handler(request):
        wanted = json.loads(request.content)["ids"]
        return {"items": [record(i, "processing") for i in wanted if i != "t60"], "count": 999}

    api.route(TASKS, handler)
    tasks = client.get_tasks(ids)
    assert [len(b["ids"]) for b in api.bodies(TASKS)] == [50, 50, 20]
    assert [t.id for t in tasks] == [i for i in ids if i != "t60"]


# ---------------------------------------------------------------------------- errors during waits


def test_transient_errors_are_tolerated_while_waiting(make_client, api, clock) -> None:
    client = make_client(max_retries=0)
    api.script(
        TASKS,
        httpx.Response(503),
        httpx.ConnectError,
        httpx.Response(429, json={"error": {"code": "too_many_requests"}}),
        httpx.Response(200, content=b"<html>oops"),
        httpx.ReadTimeout,
        httpx.Response(502, text="<h1>Bad Gateway</h1>"),
        record(state="processing"),
        done(),
    )
    task = client.wait("task-1")
    assert task.succeeded
    assert len(api.to(TASKS)) == 8
    assert clock.sleeps == pytest.approx(DEFAULT_CADENCE[:7])


def test_transient_errors_with_retries_inside_a_wait(client, api, clock) -> None:
    api.script(TASKS, httpx.Response(503), httpx.Response(503), record(state="processing"), done())
    task = client.wait("task-1")
    assert task.succeeded
    assert len(api.to(TASKS)) == 4
    assert len(clock.sleeps) == 3


def test_persistent_transient_errors_end_at_the_deadline(make_client, api, clock) -> None:
    client = make_client(max_retries=1)
    api.script(TASKS, httpx.ConnectError)
    with pytest.raises(WaitTimeoutError) as info:
        client.wait("task-1", max_wait=60)
    assert info.value.task_id == "task-1"
    assert info.value.last == {}
    assert clock.slept == pytest.approx(60, abs=1)


@pytest.mark.parametrize(
    ("reply", "raised"),
    [
        pytest.param(
            httpx.Response(404, json={"error": {"code": "not_found", "message": "no such task"}}),
            NotFoundError,
            id="404",
        ),
        pytest.param(
            httpx.Response(401, json={"error": {"code": "invalid_token"}}),
            AuthenticationError,
            id="401",
        ),
    ],
)
def test_fatal_errors_end_a_wait_at_once(client, api, clock, reply, raised) -> None:
    api.script(TASKS, record(state="processing"), reply, done())
    with pytest.raises(raised):
        client.wait("task-1")
    assert len(api.to(TASKS)) == 2
    assert len(clock.sleeps) == 1


def test_404_during_generate_raises_at_once(client, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(TASKS, httpx.Response(404, json={"error": {"code": "not_found"}}))
    with pytest.raises(NotFoundError):
        client.generate("a cat")
    assert len(api.to(TASKS)) == 1


def test_queued_state_word_is_queued(client, api, clock) -> None:
    api.script(
        "/luma/tasks",
        record(state="queued"),
        record(state="completed", video_url="https://cdn.example/v.mp4", success=True),
    )
    seen = []
    client.wait("task-1", on_update=lambda t: seen.append(t.state))
    assert seen[0] is luma_nb.TaskState.QUEUED


def test_retries_never_overrun_the_wait_deadline(make_client, api, clock) -> None:
    # Every poll answers 429 with a long Retry-After: the wait must still end at max_wait.
    c = make_client()
    api.script(
        "/luma/tasks",
        httpx.Response(
            429, json={"error": {"code": "too_many_requests"}}, headers={"Retry-After": "50"}
        ),
    )
    with pytest.raises(luma_nb.WaitTimeoutError):
        c.wait("task-1", max_wait=30)
    assert clock.slept <= 30 + 1e-9
