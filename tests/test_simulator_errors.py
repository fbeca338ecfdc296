"""Every error the simulator answers: codes, statuses and the envelope, sync and async."""

from __future__ import annotations

from typing import Any

import pytest
from _simtools import TOKEN, call, make_sim, submit, submit_async

MODES = ["sync", "async"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def assert_envelope(body: dict[str, Any], code: str) -> str:
    assert set(body) == {"error", "trace_id"}  # the provider's shape: no "success" by default
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["trace_id"], str)
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({}, "bad_request", "prompt is required"),
        ({"prompt": "   "}, "bad_request", "prompt is required"),
        ({"prompt": 3}, "bad_request", "prompt must be a string"),
        ({"action": "remix", "prompt": "x"}, "api_not_implemented", "not implemented"),
        ({"action": 1, "prompt": "x"}, "api_not_implemented", "not implemented"),
        ({"prompt": "x", "aspect_ratio": "2:1"}, "bad_request", "aspect_ratio"),
        ({"prompt": "x", "loop": "yes"}, "bad_request", "loop must be a boolean"),
        ({"prompt": "x", "enhancement": 1}, "bad_request", "enhancement must be a boolean"),
        ({"prompt": "x", "async": "true"}, "bad_request", "async must be a boolean"),
        ({"prompt": "x", "timeout": 0}, "bad_request", "timeout"),
        ({"prompt": "x", "timeout": -5}, "bad_request", "timeout"),
        ({"prompt": "x", "timeout": "60"}, "bad_request", "timeout"),
        ({"prompt": "x", "timeout": True}, "bad_request", "timeout"),
        ({"prompt": "x", "callback_url": "ftp://h/x"}, "bad_request", "callback_url"),
        ({"prompt": "x", "callback_url": "data:,x"}, "bad_request", "callback_url"),
        ({"prompt": "x", "start_image_url": "file:///etc/passwd"}, "bad_request", "start_image"),
        ({"prompt": "x", "end_image_url": "not a url"}, "bad_request", "end_image_url"),
        ({"action": "extend", "prompt": "x"}, "bad_request", "video_id or video_url"),
        ({"action": "extend", "video_id": "nope"}, "bad_request", "video_id"),
        ({"action": "extend", "video_url": "https://x.invalid/a.mp4"}, "bad_request", "video_url"),
    ],
)
def test_submit_validation(mode: str, body: dict[str, Any], code: str, message: str) -> None:
    sim, _ = make_sim()
    response = submit(mode, sim, **body)
    assert response.status_code == 400
    assert message in assert_envelope(response.json(), code)
    assert sim.stats.tasks_created == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_submit_body_must_be_a_json_object(mode: str, raw: bytes) -> None:
    sim, _ = make_sim()
    response = call(mode, sim, "POST", "/luma/videos", content=raw)
    assert response.status_code == 400
    assert_envelope(response.json(), "bad_request")


def test_nulls_and_unknown_keys_are_tolerated() -> None:
    sim, _ = make_sim()
    response = submit("sync", sim, prompt="x", loop=None, model="ray-2", **{"async": True})
    assert response.status_code == 200
    (task,) = sim.tasks.values()
    assert task.request == {"prompt": "x", "loop": None, "model": "ray-2", "async": True}


def test_missing_token_is_no_token(mode: str) -> None:
    sim, _ = make_sim()
    response = call(mode, sim, "POST", "/luma/videos", json={"prompt": "x"}, auth=False)
    assert response.status_code == 400
    assert_envelope(response.json(), "no_token")
    empty = call(
        mode,
        sim,
        "POST",
        "/luma/tasks",
        json={"action": "retrieve", "id": "x"},
        headers={"authorization": "Bearer "},
        auth=False,
    )
    assert empty.status_code == 400
    assert_envelope(empty.json(), "no_token")


def test_any_token_by_default_and_only_accepted_ones_when_configured(mode: str) -> None:
    open_sim, _ = make_sim()
    ok = call(mode, open_sim, "POST", "/luma/tasks", json={"action": "retrieve", "id": "x"})
    assert ok.status_code == 404  # past auth
    sim, _ = make_sim(accepted_tokens=["other"])
    response = submit(mode, sim, prompt="x")
    assert response.status_code == 401
    assert_envelope(response.json(), "invalid_token")
    good = call(
        mode,
        sim,
        "POST",
        "/luma/videos",
        json={"prompt": "x", "async": True},
        headers={"authorization": "Bearer other"},
    )
    assert good.status_code == 200


def test_token_value_is_never_journaled() -> None:
    sim, _ = make_sim(rate_limit=(5, 1.0))
    submit("sync", sim, prompt="x", **{"async": True})
    call("sync", sim, "GET", "/nowhere", auth=False)
    assert TOKEN not in repr(sim.journal)
    assert TOKEN not in repr(sim.stats)
    assert [entry.authorized for entry in sim.journal] == [True, False]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/luma/video"), ("GET", "/luma/videos"), ("POST", "/"), ("GET", "/v1/models")],
)
def test_unknown_path_is_no_api(mode: str, method: str, path: str) -> None:
    sim, _ = make_sim()
    response = call(mode, sim, method, path, json={} if method == "POST" else None)
    assert response.status_code == 404
    assert_envelope(response.json(), "no_api")


@pytest.mark.parametrize("prompt", ["an NSFW scene", "gore everywhere", "Blood and GORE.", "nsfw"])
def test_moderation_is_403_forbidden(mode: str, prompt: str) -> None:
    sim, _ = make_sim()
    response = submit(mode, sim, prompt=prompt)
    assert response.status_code == 403
    assert_envelope(response.json(), "forbidden")
    assert sim.stats.tasks_created == 0


def test_moderation_matches_whole_words_and_is_configurable() -> None:
    sim, _ = make_sim()
    assert submit("sync", sim, prompt="a gorey nsfwish word", **{"async": True}).status_code == 200
    strict, _ = make_sim(moderation_words=["kitten"])
    assert submit("sync", strict, prompt="a Kitten").status_code == 403
    assert submit("sync", strict, prompt="gore", **{"async": True}).status_code == 200


def test_credits_run_out_with_403_used_up(mode: str) -> None:
    sim, _ = make_sim(credits=2)
    for _ in range(2):
        assert submit(mode, sim, prompt="x", **{"async": True}).status_code == 200
    assert sim.credits == 0
    response = submit(mode, sim, prompt="x", **{"async": True})
    assert response.status_code == 403
    assert_envelope(response.json(), "used_up")
    assert sim.stats.tasks_created == 2
    # a refused (invalid) submit costs nothing
    funded, _ = make_sim(credits=1)
    assert submit(mode, funded, prompt="").status_code == 400
    assert funded.credits == 1


def test_rate_limit_is_429_with_retry_after(mode: str) -> None:
    sim, clock = make_sim(rate_limit="3/10")
    codes = [submit(mode, sim, prompt="x", **{"async": True}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = submit(mode, sim, prompt="x", **{"async": True})
    assert_envelope(limited.json(), "too_many_requests")
    assert limited.headers["retry-after"] == "10"
    clock.advance(4)
    assert submit(mode, sim, prompt="x").headers["retry-after"] == "6"
    # counted per endpoint: polling is not starved by submits
    task_id = next(iter(sim.tasks))
    query = call(mode, sim, "POST", "/luma/tasks", json={"action": "retrieve", "id": task_id})
    assert query.status_code == 200
    clock.advance(6)
    assert submit(mode, sim, prompt="x", **{"async": True}).status_code == 200


def test_rate_limit_counts_per_token() -> None:
    sim, _ = make_sim(rate_limit=(1, 60.0))
    assert submit("sync", sim, prompt="x", **{"async": True}).status_code == 200
    other = call(
        "sync",
        sim,
        "POST",
        "/luma/videos",
        json={"prompt": "x", "async": True},
        headers={"authorization": "Bearer someone-else"},
    )
    assert other.status_code == 200


def test_extend_of_an_unfinished_video_is_bad_request() -> None:
    sim, _ = make_sim()
    task_id = submit_async(sim, prompt="first")
    video_id = sim.tasks[task_id].video_id
    response = submit("sync", sim, action="extend", video_id=video_id)
    assert response.status_code == 400
    assert "not a completed video" in assert_envelope(response.json(), "bad_request")


def test_body_too_large_is_413(mode: str) -> None:
    sim, _ = make_sim()
    response = call(mode, sim, "POST", "/luma/videos", content=b" " * (32 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert_envelope(response.json(), "request_too_large")
