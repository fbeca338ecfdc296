"""The adaptive poll schedule: its promises, on a virtual clock (no real waiting).

The schedule itself is a pure function (``luma_nb._schedule.next_interval``), checked for
every elapsed time and model; the clients are checked end to end on the in-process simulator
whose clock they share: deadline, floor, ceiling, Retry-After, learning (and learning only at
the end of a batch), a shifted distribution, a task far slower than any seen.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb import _iteration
from luma_nb._schedule import (
    MIN_SEEN,
    PRIOR_WINDOW,
    DurationModel,
    next_interval,
)
from luma_nb.config import PollPolicy
from luma_nb.errors import ConfigError, WaitTimeoutError
from luma_nb.simulator import Simulator, VirtualClock

PROMPT = "a lighthouse in a storm"


def make(
    tmp_path: Path, spread: tuple[float, float] = (120.0, 160.0), **poll: float
) -> tuple[luma_nb.Client, VirtualClock, list[float]]:
    clock = VirtualClock()
    sim = Simulator(clock=clock, seed=3, generation_seconds=spread)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    client = luma_nb.Client(
        "sk-schedule-test",
        base_url=sim.base_url,
        transport=sim.transport(),
        poll=PollPolicy(**poll),
        sleep=sleep,
        clock=clock.now,
        cache_dir=tmp_path / "cache",
    )
    return client, clock, sleeps


# --------------------------------------------------------------------------- the pure schedule


@settings(max_examples=300, deadline=None)
@given(
    seen=st.lists(st.floats(0.5, 5000), max_size=60),
    elapsed=st.floats(0, 10_000),
    floor=st.floats(0.1, 5),
    extra=st.floats(0, 200),
)
def test_every_interval_lies_between_the_floor_and_the_ceiling(
    seen: list[float], elapsed: float, floor: float, extra: float
) -> None:
    policy = PollPolicy(floor=floor, ceiling=floor + extra)
    interval = next_interval(policy, DurationModel(seen), elapsed)
    assert policy.floor <= interval <= policy.ceiling


def test_before_the_window_looks_land_on_its_start_in_even_steps() -> None:
    policy = PollPolicy(ceiling=50.0)
    model = DurationModel()  # the prior: nothing finishes in the first minute
    elapsed, looks = 0.0, []
    while elapsed < PRIOR_WINDOW[0]:
        step = next_interval(policy, model, elapsed)
        assert step <= policy.ceiling
        elapsed += step
        looks.append(elapsed)
    assert looks == pytest.approx([30.0, 60.0])


def test_the_window_follows_a_shifted_distribution() -> None:
    model = DurationModel([130.0 + i % 20 for i in range(50)])
    start, end, dense = model.window()
    assert 125 <= start <= 131 and 149 <= end <= 155 and dense < 3
    model.observe_all(240.0 + i % 40 for i in range(50))  # the service got slower
    start, end, dense = model.window()
    assert 235 <= start <= 241 and 279 <= end <= 285 and dense < 4


def test_few_durations_only_widen_the_prior() -> None:
    model = DurationModel([30.0] * (MIN_SEEN - 1))
    start, end, _ = model.window()
    assert start == 30.0 and end == PRIOR_WINDOW[1]


@pytest.mark.parametrize("bad", [-1.0, 0.0, float("nan"), float("inf"), 10**400, True, "5"])
def test_unusable_durations_are_ignored(bad: object) -> None:
    model = DurationModel()
    model.observe(bad)  # type: ignore[arg-type]
    assert model.seen == 0


def test_policy_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="ceiling"):
        PollPolicy(floor=5.0, ceiling=2.0)
    with pytest.raises(ConfigError):
        PollPolicy(adaptive="yes")  # type: ignore[arg-type]
    fixed = PollPolicy.fixed(3.0)
    assert (fixed.initial, fixed.maximum, fixed.factor, fixed.adaptive) == (3.0, 3.0, 1.0, False)


# --------------------------------------------------------------------------- the clients


def test_a_fresh_client_looks_no_earlier_than_the_prior_window(tmp_path: Path) -> None:
    client, _clock, sleeps = make(tmp_path)
    task = client.submit(PROMPT)
    done = client.wait(task)
    assert done.succeeded
    assert sleeps[0] == pytest.approx(PRIOR_WINDOW[0])  # one look at the window's start
    assert all(1.0 <= s <= 60.0 for s in sleeps)


def test_the_client_learns_from_its_own_waits(tmp_path: Path) -> None:
    client, clock, sleeps = make(tmp_path)
    for _ in range(8):
        client.wait(client.submit(PROMPT))
    assert client.durations.seen == 8
    start, end, dense = client.durations.window()
    assert start >= 115 and end <= 166 and dense < 4  # the simulator's 120-160 s
    sleeps.clear()
    task = client.submit(PROMPT)
    submitted = clock.now()
    done = client.wait(task)
    assert done.finished_at is not None and done.created_at is not None
    lag = (clock.now() - submitted) - (done.finished_at - done.created_at)
    assert 0 <= lag <= dense + 1e-6


def test_a_batch_learns_only_when_it_is_over(tmp_path: Path) -> None:
    client, _, _ = make(tmp_path)
    tasks = [client.submit(PROMPT) for _ in range(12)]
    windows = []
    client.wait_many(tasks, on_update=lambda task: windows.append(client.durations.window()))
    assert len(set(windows)) == 1  # unchanged while the batch ran
    assert client.durations.seen == 12


def test_the_deadline_holds_on_the_adaptive_schedule(tmp_path: Path) -> None:
    client, clock, _ = make(tmp_path)
    task = client.submit(PROMPT)
    started = clock.now()
    with pytest.raises(WaitTimeoutError):
        client.wait(task, max_wait=75)
    assert clock.now() - started == pytest.approx(75)


def test_a_task_far_slower_than_any_seen_is_noticed_within_the_ceiling(tmp_path: Path) -> None:
    client, clock, sleeps = make(tmp_path, spread=(900.0, 900.0), ceiling=45.0)
    client.durations.observe_all([130.0] * 20)  # everything so far took about two minutes
    task = client.submit(PROMPT)
    submitted = clock.now()
    client.wait(task, max_wait=3600)
    assert max(sleeps) <= 45.0
    assert clock.now() - submitted - 900.0 <= 45.0


def test_a_429_slows_polling_down_to_its_retry_after(tmp_path: Path) -> None:
    looks: list[float] = []
    now = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        looks.append(now[0])
        if len(looks) == 1:
            return httpx.Response(429, headers={"retry-after": "20"}, json={"error": "slow"})
        return httpx.Response(200, json={"id": "t-1", "response": {"state": "processing"}})

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = luma_nb.Client(
        "sk-schedule-test",
        transport=httpx.MockTransport(handler),
        sleep=sleep,
        clock=lambda: now[0],
        cache_dir=tmp_path,
    )
    with pytest.raises(WaitTimeoutError):
        client.wait("t-1", max_wait=30)
    assert looks[1] - looks[0] >= 20.0


def test_helpers_seed_the_schedule_from_the_log_once(tmp_path: Path) -> None:
    client, _, _ = make(tmp_path)
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    other = luma_nb.Client("sk-schedule-test", backend="simulator", cache_dir=tmp_path)
    for prompt, backend in (("a", "api"), ("b", "api"), ("c", "simulator")):
        request = luma_nb.VideoRequest(prompt=prompt)
        it = log.begin(request, backend=backend)
        record = {
            "id": f"t-{prompt}",
            "created_at": 1000.0,
            "finished_at": 1140.0,
            "response": {"success": True, "state": "completed", "video_url": "https://c/x.mp4"},
        }
        log.submitted(it, luma_nb.Task.from_record(record, backend=backend))
        log.update(it, luma_nb.Task.from_record(record, backend=backend))
    assert _iteration.teach_durations(client, log) == 2  # the api rows only
    assert _iteration.teach_durations(client, log) == 0  # once per log
    assert client.durations.seen == 2
    assert _iteration.teach_durations(other, log) == 1  # a simulator client: its own rows
    fixed = luma_nb.Client("sk-schedule-test", poll=PollPolicy.fixed(3), cache_dir=tmp_path)
    assert _iteration.teach_durations(fixed, log) == 0  # nothing to shape
