"""The simulator's API through the in-process transport, with plain httpx sync and async clients."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import httpx
import pytest
from _simtools import AUTH, DONE, call, make_sim, retrieve, submit, submit_async

from luma_nb.simulator import API_ID, Simulator, SimulatorTransport, VirtualClock
from luma_nb.simulator._media import clip_size

MODES = ["sync", "async"]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SUCCESS_KEYS = [
    "success",
    "task_id",
    "video_id",
    "prompt",
    "video_url",
    "video_width",
    "video_height",
    "state",
    "thumbnail_url",
    "thumbnail_width",
    "thumbnail_height",
    "trace_id",
]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_transport_is_both_sync_and_async() -> None:
    sim, _ = make_sim()
    transport = sim.transport()
    assert isinstance(transport, SimulatorTransport)
    assert isinstance(transport, httpx.BaseTransport)
    assert isinstance(transport, httpx.AsyncBaseTransport)


def test_async_mode_acknowledges_at_once(mode: str) -> None:
    sim, clock = make_sim()
    before = clock.now()
    response = submit(mode, sim, prompt="a red fox", **{"async": True})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"task_id", "trace_id"}
    assert UUID.match(body["task_id"])
    assert clock.now() == before  # nothing waited
    assert sim.stats.tasks_created == 1


def test_sync_mode_holds_until_done(mode: str) -> None:
    sim, clock = make_sim()
    start = clock.now()
    response = submit(mode, sim, prompt="a red fox", enhancement=False)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == SUCCESS_KEYS
    assert body["success"] is True
    assert body["state"] == "completed"
    assert body["prompt"] == "a red fox"
    assert (body["video_width"], body["video_height"]) == clip_size("16:9")
    assert body["thumbnail_width"] == body["video_width"]
    assert body["video_url"].endswith(f"/media/luma/{body['task_id']}.mp4")
    assert body["thumbnail_url"].endswith(f"/media/luma/{body['task_id']}.jpg")
    assert body["video_url"].startswith(sim.media_base_url)
    # the hold took the realistic simulated time, and no real time
    assert 120 <= clock.now() - start <= 160
    record = sim.record(body["task_id"])
    assert record["response"] == body


def test_sync_mode_times_out_with_504_and_the_task_goes_on(mode: str) -> None:
    sim, clock = make_sim()
    start = clock.now()
    response = submit(mode, sim, prompt="a red fox", timeout=30)
    assert response.status_code == 504
    body = response.json()
    assert "success" not in body  # the provider's published error shape
    assert body["error"] == {"code": "timeout", "message": "Timeout to generate the image."}
    assert "trace_id" in body
    assert "task_id" not in body  # as the real service: the client cannot know the task
    assert clock.now() - start == pytest.approx(30)
    (task_id,) = sim.tasks
    clock.advance(DONE)
    assert sim.state(task_id) == "completed"
    assert sim.stats.tasks_created == 1  # billed


def test_default_timeout_is_300_simulated_seconds() -> None:
    sim, clock = make_sim(faults="stuck=1")
    start = clock.now()
    response = submit("sync", sim, prompt="never ends")
    assert response.status_code == 504
    assert clock.now() - start == pytest.approx(300)


def test_callback_url_acknowledges_at_once(mode: str) -> None:
    sim, _ = make_sim()
    response = submit(mode, sim, prompt="x", callback_url="http://127.0.0.1:9/hook")
    assert response.status_code == 200
    assert set(response.json()) == {"task_id", "trace_id"}
    sim.close()


def test_sync_failure_answers_500_with_the_failure_body(mode: str) -> None:
    sim, _ = make_sim(task_failure_rate=1.0)
    response = submit(mode, sim, prompt="doomed")
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False
    assert body["state"] == "failed"
    assert body["error"]["code"] == "api_error"
    assert body["error"]["message"]
    assert UUID.match(body["task_id"])
    assert body["trace_id"]


def test_retrieve_answers_the_record_shape(mode: str) -> None:
    sim, clock = make_sim(seed=3)
    sent = {"prompt": "a lighthouse", "async": True, "aspect_ratio": "9:16", "loop": True}
    task_id = submit(mode, sim, **sent).json()["task_id"]
    clock.advance(DONE)
    response = retrieve(mode, sim, task_id)
    assert response.status_code == 200
    record = response.json()
    assert list(record) == [
        "_id",
        "id",
        "api_id",
        "application_id",
        "credential_id",
        "user_id",
        "trace_id",
        "created_at",
        "started_at",
        "finished_at",
        "elapsed",
        "request",
        "response",
    ]
    assert re.fullmatch(r"[0-9a-f]{24}", record["_id"])
    assert record["id"] == task_id
    assert record["api_id"] == API_ID
    assert record["request"] == sent
    assert record["created_at"] < record["started_at"] < record["finished_at"]
    assert 110 <= record["elapsed"] <= 160
    assert record["elapsed"] == pytest.approx(
        record["finished_at"] - record["started_at"], abs=0.01
    )
    assert record["response"]["task_id"] == task_id
    size = (record["response"]["video_width"], record["response"]["video_height"])
    assert size == clip_size("9:16")


def test_retrieve_batch(mode: str) -> None:
    sim, clock = make_sim()
    ids = [submit_async(sim, prompt=f"clip {i}") for i in range(3)]
    clock.advance(DONE)
    response = call(
        mode,
        sim,
        "POST",
        "/luma/tasks",
        json={"action": "retrieve_batch", "ids": [ids[2], "nope", ids[0], ids[2]]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [item["id"] for item in body["items"]] == [ids[2], ids[0]]
    assert all(item["response"]["state"] == "completed" for item in body["items"])
    assert sim.stats.batch_retrieves == 1


def test_retrieve_unknown_id_is_404_not_found(mode: str) -> None:
    sim, _ = make_sim()
    response = retrieve(mode, sim, "00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"action": "cancel", "id": "x"}, 400, "api_not_implemented"),
        ({"id": "x"}, 400, "api_not_implemented"),
        ({"action": "retrieve"}, 400, "bad_request"),
        ({"action": "retrieve_batch", "ids": "a,b"}, 400, "bad_request"),
    ],
)
def test_tasks_errors(mode: str, body: dict[str, object], status: int, code: str) -> None:
    sim, _ = make_sim()
    response = call(mode, sim, "POST", "/luma/tasks", json=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_states_over_time(mode: str) -> None:
    sim, clock = make_sim(seed=11)
    task_id = submit(mode, sim, prompt="a slow river", **{"async": True}).json()["task_id"]
    timeline = sim.tasks[task_id].timeline
    seen: list[str | None] = []
    t0 = clock.now()
    for at in (0.0, 0.9, 3.5, 6.5, 60.0, 119.0, 161.0):
        clock.advance(t0 + at - clock.now())
        record = retrieve(mode, sim, task_id).json()
        response = record.get("response")
        seen.append(None if response is None else response["state"])
        if response is None or response["state"] != "completed":
            assert "finished_at" not in record
            assert "elapsed" not in record
    assert seen[0] is None  # queued: no response yet
    assert seen[1] is None
    assert seen[-1] == "completed"
    order = ["pending", "processing"]
    running = [s for s in seen if s in order]
    assert running == sorted(running, key=order.index)
    assert "processing" in seen
    assert 1.0 <= timeline.pending_at - t0 <= 3.0
    assert timeline.processing_at - t0 <= 6.0


def test_failed_task_record(mode: str) -> None:
    sim, clock = make_sim(task_failure_rate=1.0)
    task_id = submit_async(sim, prompt="doomed")
    clock.advance(DONE)
    record = retrieve(mode, sim, task_id).json()
    assert record["response"] == {
        "success": False,
        "task_id": task_id,
        "state": "failed",
        "error": {"code": "api_error", "message": record["response"]["error"]["message"]},
        "trace_id": record["trace_id"],
    }
    assert "finished_at" in record


def test_same_seed_same_ids_and_timelines() -> None:
    def run() -> list[tuple[str, str, float]]:
        sim, clock = make_sim(seed=42)
        ids = [submit_async(sim, prompt=f"p{i}") for i in range(3)]
        clock.advance(DONE)
        return [(i, sim.record(i)["_id"], sim.record(i)["elapsed"]) for i in ids]

    assert run() == run()
    other, _ = make_sim(seed=43)
    assert submit_async(other, prompt="p0") != run()[0][0]


def test_async_client_hold_does_not_block_the_event_loop() -> None:
    clock = VirtualClock()
    sim = Simulator(clock=clock)
    transport = sim.transport()
    release = threading.Event()
    real_sleep = clock.sleep

    def slow_sleep(seconds: float) -> None:  # the hold waits for the test to release it
        release.wait(5)
        real_sleep(seconds)

    clock.sleep = slow_sleep  # type: ignore[method-assign]

    async def go() -> tuple[int, int]:
        async with httpx.AsyncClient(transport=transport, base_url=sim.base_url) as client:
            held = asyncio.create_task(
                client.post("/luma/videos", headers=AUTH, json={"prompt": "held"})
            )
            ticks = 0
            while ticks < 5:  # the loop keeps running while the hold waits
                await asyncio.sleep(0.01)
                ticks += 1
            release.set()
            return (await held).status_code, ticks

    status, ticks = asyncio.run(go())
    assert status == 200
    assert ticks == 5


def test_concurrent_sync_holds_on_a_scaled_clock() -> None:
    sim = Simulator(speed=2000.0, seed=1)  # ~150 simulated seconds in ~75 ms
    results: list[int] = []

    def one() -> None:
        results.append(submit("sync", sim, prompt="fast").status_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [200] * 4
    assert time.monotonic() - started < 5
    assert sim.stats.tasks_created == 4
