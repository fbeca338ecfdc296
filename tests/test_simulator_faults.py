"""Fault injection: the plan's text syntax, each fault kind, and determinism under a seed."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from _simtools import AUTH, DONE, call, make_sim, retrieve, submit, submit_async

from luma_nb.simulator import FaultPlan, VirtualClock, parse_faults
from luma_nb.simulator._faults import FaultDecision, FaultInjector

MODES = ["sync", "async"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the plan ---------------------------------------------------------------------------------


def test_parse_the_documented_example() -> None:
    text = "5xx=0.1,drop=0.05,slow=0.1:2,malformed=0.05,stuck=0.02,fail=0.1,429=0.05"
    plan = FaultPlan.parse(text)
    assert plan == FaultPlan(
        error_5xx=0.1,
        drop=0.05,
        slow=0.1,
        slow_seconds=2.0,
        malformed=0.05,
        stuck=0.02,
        fail=0.1,
        rate_limit=0.05,
    )


def test_parse_every_option_and_round_trip() -> None:
    text = (
        "5xx=0.2:3:500/503, 429=0.1:2:7, drop=0.01, drop_after=0.02, refuse=0.03,"
        "slow=0.04:1.5, malformed=0.05, stuck=0.06, fail=0.07:forbidden, on=tasks+media"
    )
    plan = FaultPlan.parse(text)
    assert plan.error_5xx_burst == 3
    assert plan.error_5xx_statuses == (500, 503)
    assert (plan.rate_limit, plan.rate_limit_burst, plan.retry_after) == (0.1, 2, 7.0)
    assert (plan.drop, plan.drop_after, plan.refuse) == (0.01, 0.02, 0.03)
    assert (plan.slow, plan.slow_seconds) == (0.04, 1.5)
    assert plan.fail_code == "forbidden"
    assert plan.endpoints == ("tasks", "media")
    assert FaultPlan.parse(plan.to_text()) == plan
    assert FaultPlan().to_text() == ""
    assert not FaultPlan()
    assert plan


def test_several_plans() -> None:
    plans = parse_faults("5xx=1,on=tasks; drop_after=0.5,on=videos")
    assert [p.endpoints for p in plans] == [("tasks",), ("videos",)]


@pytest.mark.parametrize(
    "text",
    ["5xx", "bogus=1", "drop=2", "drop=-0.1", "5xx=0.1:0", "5xx=0.1:1:404", "on=web", "slow=x"],
)
def test_bad_plans_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        FaultPlan.parse(text)


def test_injector_is_deterministic_per_endpoint() -> None:
    plan = FaultPlan(error_5xx=0.3, drop=0.2, malformed=0.2, slow=0.2, endpoints=("tasks",))

    def tasks_only(seed: int, noise: int) -> list[FaultDecision]:
        injector = FaultInjector((plan,), seed)
        out = []
        for i in range(60):
            for _ in range(noise if i % 3 == 0 else 0):
                injector.decide("videos")  # other endpoints do not shift the sequence
            out.append(injector.decide("tasks"))
        return out

    assert tasks_only(1, 0) == tasks_only(1, 4)
    assert tasks_only(1, 0) != tasks_only(2, 0)
    assert any(d != FaultDecision() for d in tasks_only(1, 0))
    assert injector_for_unknown_path() == FaultDecision()


def injector_for_unknown_path() -> FaultDecision:
    return FaultInjector((FaultPlan(error_5xx=1.0),), 0).decide(None)


def test_task_fate() -> None:
    injector = FaultInjector((FaultPlan(stuck=0.5, fail=0.5, fail_code="busy"),), 0)
    fates = {injector.task_fate(random.Random(i)) for i in range(50)}
    assert fates == {(False, None), (True, None), (False, "busy"), (True, "busy")}


# -- each fault through the transport --------------------------------------------------------


def statuses(mode: str, faults: str, n: int = 40, seed: int = 5) -> list[object]:
    sim, _ = make_sim(faults=faults, seed=seed)
    out: list[object] = []
    for _ in range(n):
        try:
            response = call(
                mode, sim, "POST", "/luma/tasks", json={"action": "retrieve", "id": "x"}
            )
        except httpx.HTTPError as exc:
            out.append(type(exc).__name__)
        else:
            out.append(response.status_code)
    return out


def test_5xx_bursts(mode: str) -> None:
    seen = statuses(mode, "5xx=0.2:3")
    errors = [s for s in seen if s != 404]
    assert errors
    assert set(errors) <= {500, 502, 503}
    # bursts: an error is followed by at least two more
    first = seen.index(errors[0])
    assert all(s in (500, 502, 503) for s in seen[first : first + 3])
    assert seen == statuses(mode, "5xx=0.2:3")  # same seed, same sequence
    assert seen != statuses(mode, "5xx=0.2:3", seed=6)


def test_5xx_bodies() -> None:
    sim, _ = make_sim(faults="5xx=1:1:500")
    r500 = call("sync", sim, "POST", "/luma/videos", json={"prompt": "x"})
    assert r500.status_code == 500
    assert r500.json()["error"]["code"] == "api_error"
    assert sim.stats.tasks_created == 0  # a 5xx fault happens before the request is handled
    sim502, _ = make_sim(faults="5xx=1:1:502")
    r502 = call("sync", sim502, "POST", "/luma/videos", json={"prompt": "x"})
    assert r502.status_code == 502
    assert r502.headers["content-type"] == "text/html"
    assert b"Bad Gateway" in r502.content
    sim503, _ = make_sim(faults="5xx=1:1:503")
    r503 = call("sync", sim503, "POST", "/luma/videos", json={"prompt": "x"})
    assert (r503.status_code, r503.json()["error"]["code"]) == (503, "busy")


def test_429_bursts_carry_retry_after(mode: str) -> None:
    sim, _ = make_sim(faults="429=1:2:7")
    response = call(mode, sim, "POST", "/luma/tasks", json={"action": "retrieve", "id": "x"})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_requests"
    assert response.headers["retry-after"] == "7"
    assert sim.stats.faults["429"] == 1


def test_drop_before_creates_nothing(mode: str) -> None:
    sim, _ = make_sim(faults="drop=1")
    with pytest.raises(httpx.RemoteProtocolError):
        submit(mode, sim, prompt="x", **{"async": True})
    assert sim.stats.tasks_created == 0
    assert sim.journal[-1].outcome == "drop"
    assert sim.journal[-1].status is None


def test_drop_after_creates_the_task_but_never_answers(mode: str) -> None:
    sim, clock = make_sim(faults="drop_after=1,on=videos")
    with pytest.raises(httpx.RemoteProtocolError):
        submit(mode, sim, prompt="x", **{"async": True})
    (task_id,) = sim.tasks  # the server has (and bills) a task the client never heard of
    clock.advance(DONE)
    assert retrieve(mode, sim, task_id).json()["response"]["state"] == "completed"


def test_refuse(mode: str) -> None:
    sim, _ = make_sim(faults="refuse=1")
    with pytest.raises(httpx.ConnectError) as caught:
        submit(mode, sim, prompt="x")
    assert caught.value.request.url.path == "/luma/videos"
    assert sim.stats.tasks_created == 0
    assert sim.journal[-1].outcome == "refuse"


def test_malformed_answers(mode: str) -> None:
    sim, _ = make_sim(faults="malformed=1,on=tasks", seed=1)
    task_id = submit_async(sim, prompt="x")
    kinds = set()
    for _ in range(12):
        response = retrieve(mode, sim, task_id)
        assert response.status_code == 200
        if response.headers["content-type"].startswith("text/html"):
            kinds.add("html")
            assert response.text.lstrip().startswith("<html>")
        else:
            kinds.add("truncated")
            with pytest.raises(ValueError, match=r"."):
                response.json()
    assert kinds == {"html", "truncated"}


def test_malformed_spares_errors() -> None:
    sim, _ = make_sim(faults="malformed=1,on=tasks")
    response = retrieve("sync", sim, "unknown")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_slow_answers_wait_on_the_wall_clock(mode: str) -> None:
    sim, clock = make_sim(faults="slow=1:2.5,on=tasks")
    start = clock.wall()
    response = retrieve(mode, sim, "x")
    assert response.status_code == 404
    assert clock.wall() - start == pytest.approx(2.5)


def test_slow_beyond_the_read_timeout_raises_read_timeout() -> None:
    sim, clock = make_sim(faults="slow=1:30,on=tasks")
    start = clock.wall()
    with (
        httpx.Client(transport=sim.transport(), base_url=sim.base_url, timeout=4.0) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("/luma/tasks", headers=AUTH, json={"action": "retrieve", "id": "x"})
    assert clock.wall() - start == pytest.approx(4.0)

    async def go() -> None:
        async with httpx.AsyncClient(
            transport=sim.transport(), base_url=sim.base_url, timeout=2.0
        ) as client:
            await client.post("/luma/tasks", headers=AUTH, json={"action": "retrieve", "id": "x"})

    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(go())


def test_stuck_tasks_never_finish(mode: str) -> None:
    sim, clock = make_sim(faults="stuck=1")
    task_id = submit_async(sim, prompt="x")
    clock.advance(10_000)
    record = retrieve(mode, sim, task_id).json()
    assert record["response"]["state"] == "processing"
    assert "finished_at" not in record


def test_failing_tasks_carry_the_code(mode: str) -> None:
    sim, clock = make_sim(faults="fail=1:forbidden")
    task_id = submit_async(sim, prompt="x")
    clock.advance(DONE)
    response = retrieve(mode, sim, task_id).json()["response"]
    assert response["success"] is False
    assert response["state"] == "failed"
    assert response["error"]["code"] == "forbidden"


def test_task_faults_are_seeded() -> None:
    def fates(seed: int) -> list[str]:
        sim, clock = make_sim(faults="stuck=0.3,fail=0.3", seed=seed)
        ids = [submit_async(sim, prompt=f"p{i}") for i in range(30)]
        clock.advance(DONE)
        return [sim.state(i) for i in ids]

    first = fates(9)
    assert set(first) == {"processing", "failed", "completed"}
    assert first == fates(9)
    assert first != fates(10)


def test_faults_only_hit_their_endpoints() -> None:
    sim, _ = make_sim(faults="5xx=1,on=videos")
    assert retrieve("sync", sim, "x").status_code == 404
    assert submit("sync", sim, prompt="x").status_code in (500, 502, 503)
    media, clock = make_sim(faults="5xx=1,on=media")
    task_id = submit_async(media, prompt="x")
    clock.advance(DONE)
    url = media.record(task_id)["response"]["video_url"]
    assert call("sync", media, "GET", url, auth=False).status_code in (500, 502, 503)


def test_fault_counters_and_journal() -> None:
    sim, _ = make_sim(faults="5xx=0.5,on=tasks", seed=2)
    seen = statuses("sync", "5xx=0.5,on=tasks", n=20, seed=2)
    for _ in range(20):
        retrieve("sync", sim, "x")
    stats = sim.stats
    errors = sum(1 for s in seen if s != 404)
    assert sum(stats.faults.values()) == errors
    assert stats.requests == 20
    assert [e.faults != () for e in sim.journal] == [s != 404 for s in seen]


def test_virtual_clock_basics() -> None:
    clock = VirtualClock(start=100.0)
    clock.sleep(5)
    clock.wall_sleep(1)
    clock.sleep(-3)
    assert clock.now() == clock.wall() == 106.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def outcomes(mode: str, seed: int) -> list[tuple[object, ...]]:
    plan = (
        "5xx=0.1:2,429=0.1:1:3,drop=0.08,drop_after=0.08,refuse=0.08,malformed=0.1,"
        "slow=0.1:0.5,stuck=0.2,fail=0.2"
    )
    sim, clock = make_sim(faults=plan, seed=seed)
    out: list[tuple[object, ...]] = []
    for i in range(40):
        start = clock.wall()
        try:
            response = submit(mode, sim, prompt=f"p{i}", **{"async": True})
        except httpx.HTTPError as exc:
            out.append((type(exc).__name__,))
            continue
        kind = response.headers.get("content-type", "").split(";")[0]
        out.append((response.status_code, kind, clock.wall() - start))
    clock.advance(DONE)
    out.extend((sim.state(task_id),) for task_id in sim.tasks)
    return out


def test_every_fault_kind_is_deterministic_under_a_seed(mode: str) -> None:
    first = outcomes(mode, 21)
    assert first == outcomes(mode, 21)
    assert first != outcomes(mode, 22)
    kinds = {o[0] for o in first}
    assert {"RemoteProtocolError", "ConnectError", 200, 429} <= kinds
    assert kinds & {500, 502, 503}
    assert any(len(o) == 3 and o[2] == pytest.approx(0.5) for o in first)  # slow
    assert any(len(o) == 3 and o[1] == "text/html" for o in first)  # malformed or 502
    assert {"processing", "failed", "completed"} <= kinds
