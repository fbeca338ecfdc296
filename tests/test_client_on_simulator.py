"""luma_nb's own ``Client`` and ``AsyncClient`` against the simulator, through both faces.

In-process: the simulator runs on a :class:`VirtualClock`; the clients' ``sleep`` advances that
clock instead of waiting and their ``clock`` reads it, so a ~150 s generation, a 300 s wait
deadline or a 30 s ``Retry-After`` take no real time. Every test runs against both clients
(the ``kind`` fixture of ``conftest.py``); the async one is driven on a private event loop.

Loopback (``slow``): the CLI simulator as a subprocess, our clients with real sleeps and a fast
poll policy, a callback received over HTTP, the process stopped by its pid.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from _simtools import callback_receiver

import luma_nb
from luma_nb.errors import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    GenerationFailedError,
    InsufficientBalanceError,
    ModerationError,
    NotFoundError,
    ServerError,
    SubmitOutcomeUnknownError,
    TransportError,
    WaitTimeoutError,
)
from luma_nb.models import ASPECT_RATIOS, TaskState
from luma_nb.simulator import (
    DEFAULT_BASE_URL,
    DEFAULT_MEDIA_BASE_URL,
    FaultPlan,
    ScaledClock,
    Simulator,
    SimulatorServer,
    VirtualClock,
    enhance_prompt,
)
from luma_nb.simulator._faults import FaultInjector

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "sk-sim-test-0042"
VIDEOS = "/luma/videos"
TASKS = "/luma/tasks"
MEDIA_HOST = urlsplit(DEFAULT_MEDIA_BASE_URL).netloc
API_HOST = urlsplit(DEFAULT_BASE_URL).netloc
# Mean absolute pixel difference (0..255): re-encoding keeps equal pictures within ~5, while
# different pictures are well apart (measured: 3-5 against 18-49).
SAME = 7.0
APART = 12.0


# -- the rig: a simulator on a virtual clock and clients of the kind under test ---------------


class Recorder(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps the simulator's transport and keeps every request and answer the client saw."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, httpx.Response | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response: httpx.Response = self.inner.handle_request(request)
        except httpx.TransportError:
            self.exchanges.append((request, None))
            raise
        self.exchanges.append((request, response))
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response: httpx.Response = await self.inner.handle_async_request(request)
        except httpx.TransportError:
            self.exchanges.append((request, None))
            raise
        self.exchanges.append((request, response))
        return response

    def to(self, path: str) -> list[tuple[httpx.Request, httpx.Response | None]]:
        return [(q, r) for q, r in self.exchanges if q.url.path == path]


class Blocking:
    """Call an ``AsyncClient``'s coroutine methods as blocking ones, on a private loop."""

    def __init__(self, client: luma_nb.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.raw = client
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.raw, name)
        if inspect.iscoroutinefunction(attr):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._loop.run_until_complete(attr(*args, **kwargs))

            return call
        return attr


class Rig:
    """One simulator on a virtual clock; ``client()`` makes clients of the kind under test."""

    def __init__(
        self, kind: str, loop: asyncio.AbstractEventLoop, cache: Path, **sim_kwargs: Any
    ) -> None:
        self.kind = kind
        self.loop = loop
        self.cache = cache
        self.clock = VirtualClock()
        sim_kwargs.setdefault("seed", 11)
        self.sim = Simulator(clock=self.clock, **sim_kwargs)
        self.recorder = Recorder(self.sim.transport())
        self.sleeps: list[float] = []
        self.clients: list[Any] = []

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def client(self, token: str = TOKEN, **kwargs: Any) -> Any:
        kwargs.setdefault("base_url", self.sim.base_url)
        kwargs.setdefault("transport", self.recorder)
        kwargs.setdefault("clock", self.clock.now)
        kwargs.setdefault("rng", random.Random(0))
        kwargs.setdefault("cache_dir", self.cache)
        kwargs.setdefault("backend", "simulator")
        # The backoff schedule: its early looks see every phase of the simulated timeline.
        kwargs.setdefault("poll", luma_nb.config.PollPolicy(adaptive=False))
        if self.kind == "sync":
            client: Any = luma_nb.Client(token, sleep=self.sleep, **kwargs)
        else:
            client = Blocking(
                luma_nb.AsyncClient(token, sleep=self.async_sleep, **kwargs), self.loop
            )
        self.clients.append(client)
        return client

    # -- what the simulator saw

    def paths(self, path: str) -> list[Any]:
        return [e for e in self.sim.journal if e.path == path]

    def count(self, key: str) -> int:
        return int(self.sim.stats.by_path.get(key, 0))

    def close(self) -> None:
        for client in self.clients:
            if isinstance(client, Blocking):
                self.loop.run_until_complete(client.raw.aclose())
            else:
                client.close()
        self.sim.close()


@pytest.fixture
def rig(kind: str, tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """A factory of :class:`Rig` (keyword arguments go to the ``Simulator``)."""
    loop = asyncio.new_event_loop()
    made: list[Rig] = []

    def factory(**sim_kwargs: Any) -> Rig:
        made_rig = Rig(kind, loop, tmp_path / f"cache{len(made)}", **sim_kwargs)
        made.append(made_rig)
        return made_rig

    yield factory
    for made_rig in made:
        made_rig.close()
    loop.close()


def seed_where(plan: FaultPlan, endpoint: str, wanted: list[bool], attr: str) -> int:
    """A seed whose first decisions for ``endpoint`` have ``attr`` set exactly as ``wanted``."""
    for seed in range(10_000):
        injector = FaultInjector((plan,), seed)
        if [bool(getattr(injector.decide(endpoint), attr)) for _ in wanted] == wanted:
            return seed
    raise AssertionError("no such seed")


def clip_facts(path: Path) -> tuple[int, tuple[int, int], float]:
    """(frames, (width, height), duration in seconds) of an MP4, decoded with PyAV."""
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, (stream.width, stream.height), float(stream.duration * stream.time_base)


def clip_frames(path: Path) -> list[Any]:
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        return [frame.to_image() for frame in container.decode(container.streams.video[0])]


def picture_diff(a: Any, b: Any) -> float:
    """Mean absolute difference of two pictures (``b`` resized to ``a``), 0..255."""
    from PIL import ImageChops, ImageStat

    a, b = a.convert("RGB"), b.convert("RGB").resize(a.size)
    return float(sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3)


# -- generate, extend, keyframes, loop, sync --------------------------------------------------


def test_generate_end_to_end_reports_every_state(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    seen: list[luma_nb.Task] = []
    prompt = "a paper boat sails down a rainy street"
    start = r.clock.now()
    video = client.generate(prompt, aspect_ratio="9:16", on_update=seen.append)

    # the backoff cadence (3 s growing to 15 s) sees each phase of the simulated timeline
    states = [t.state for t in seen]
    assert states == [
        TaskState.QUEUED,
        TaskState.PENDING,
        TaskState.PROCESSING,
        TaskState.COMPLETED,
    ]
    assert len({t.id for t in seen}) == 1
    assert all(t.backend == "simulator" for t in seen)
    final = seen[-1]
    assert final.video == video
    assert final.finished_at is not None and final.elapsed is not None and final.elapsed > 100

    assert video.backend == "simulator"
    assert video.state == "completed"
    assert video.sent_prompt == prompt
    assert video.prompt == enhance_prompt(prompt) != prompt  # enhancement is on by default
    assert video.request is not None and video.request.aspect_ratio == "9:16"
    assert video.video_url.startswith(DEFAULT_MEDIA_BASE_URL)
    (task_id,) = r.sim.tasks
    assert video.task_id == task_id
    assert video.video_id == r.sim.tasks[task_id].video_id
    # one paid submit, in async mode, with the options sent explicitly
    assert r.count(f"POST {VIDEOS}") == 1
    assert r.sim.stats.tasks_created == 1
    assert r.sim.tasks[task_id].request == {
        "action": "generate",
        "prompt": prompt,
        "aspect_ratio": "9:16",
        "loop": False,
        "enhancement": True,
        "async": True,
    }
    # nothing slept for real: the clock only moved through the injected sleep
    assert sum(r.sleeps) == pytest.approx(r.clock.now() - start)


def test_enhancement_off_echoes_the_prompt_unchanged(rig: Callable[..., Rig]) -> None:
    client = rig().client()
    prompt = "a lighthouse in a storm"
    plain = client.generate(prompt, enhancement=False)
    enhanced = client.generate(prompt, enhancement=True)
    assert plain.prompt == prompt
    assert enhanced.prompt != prompt
    assert prompt in (enhanced.prompt or "")
    assert plain.request is not None and plain.request.enhancement is False


def test_video_size_matches_every_aspect_ratio(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    tasks = [client.submit(f"shot {ratio}", aspect_ratio=ratio) for ratio in ASPECT_RATIOS]
    done = client.wait_many(tasks)
    assert len(done) == len(ASPECT_RATIOS)
    for ratio, task in zip(ASPECT_RATIOS, done, strict=True):
        assert task.succeeded and task.video is not None
        assert task.backend == task.video.backend == "simulator"
        width, height = task.video.size or (0, 0)
        w, h = (int(x) for x in ratio.split(":"))
        assert width / height == pytest.approx(w / h, rel=0.03), ratio
        assert (task.video.thumbnail_width, task.video.thumbnail_height) == (width, height)
    sizes = {ratio: task.video.size for ratio, task in zip(ASPECT_RATIOS, done, strict=True)}
    assert sizes["16:9"] == (sizes["9:16"] or (0, 0))[::-1]  # the same pixels, turned
    assert sizes["1:1"] is not None and sizes["1:1"][0] == sizes["1:1"][1]


def test_extend_by_video_by_id_and_by_url_makes_a_longer_clip(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    parent = client.generate("a red fox trots through snow", aspect_ratio="1:1")
    by_video = client.extend(parent, prompt="the fox leaps")
    by_id = client.extend(parent.video_id, prompt="the fox sleeps")
    by_url = client.extend(video_url=parent.video_url)

    sent = [r.sim.tasks[v.task_id].request for v in (by_video, by_id, by_url)]
    assert [body.get("video_id") for body in sent] == [parent.video_id, parent.video_id, None]
    assert sent[2]["video_url"] == parent.video_url
    assert all(body["action"] == "extend" for body in sent)
    assert {r.sim.tasks[v.task_id].parent_task_id for v in (by_video, by_id, by_url)} == {
        parent.task_id
    }

    parent_frames, parent_size, parent_seconds = clip_facts(client.download(parent))
    assert parent_seconds == pytest.approx(5.0, abs=0.3)
    for child in (by_video, by_id, by_url):
        assert child.backend == "simulator"
        assert child.size == parent.size  # an extend keeps its parent's aspect ratio
        frames, size, seconds = clip_facts(client.download(child))
        assert size == parent_size
        assert seconds > parent_seconds + 3
        assert frames > parent_frames


def test_keyframes_from_the_simulators_own_thumbnails(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    first = client.generate("a red fox in the snow")
    last = client.generate("a blue whale in the deep ocean")
    assert first.thumbnail_url and last.thumbnail_url
    blended = client.generate(
        "a lighthouse at night",
        start_image_url=first.thumbnail_url,
        end_image_url=last.thumbnail_url,
    )
    record = client.get_task(blended.task_id)
    assert record.request is not None
    assert record.request["start_image_url"] == first.thumbnail_url
    assert record.request["end_image_url"] == last.thumbnail_url

    from PIL import Image

    start = Image.open(client.download(first.thumbnail_url))
    end = Image.open(client.download(last.thumbnail_url))
    assert start.size == first.size
    frames = clip_frames(client.download(blended))
    assert picture_diff(frames[0], start) < SAME
    assert picture_diff(frames[-1], end) < SAME
    assert picture_diff(frames[-1], start) > APART


def test_loop_ends_where_it_began(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    looped = client.generate("waves rolling onto a beach", loop=True)
    plain = client.generate("waves rolling onto a beach", loop=False)
    assert r.sim.tasks[looped.task_id].loop is True
    assert r.sim.tasks[looped.task_id].request["loop"] is True
    loop_frames = clip_frames(client.download(looped))
    plain_frames = clip_frames(client.download(plain))
    assert picture_diff(loop_frames[0], loop_frames[-1]) < SAME
    assert picture_diff(loop_frames[0], loop_frames[len(loop_frames) // 2]) > APART
    assert picture_diff(plain_frames[0], plain_frames[-1]) > APART


def test_sync_submit_returns_a_terminal_task_in_one_request(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    before = r.clock.now()
    task = client.submit("a hot air balloon over hills", sync=True)
    assert task.is_terminal and task.succeeded
    assert task.backend == "simulator"
    assert task.video is not None and task.video.backend == "simulator"
    assert task.video.prompt == enhance_prompt("a hot air balloon over hills")
    assert r.clock.now() - before >= 120  # the server held the request for the generation
    assert r.count(f"POST {VIDEOS}") == 1
    assert r.count(f"POST {TASKS}") == 0  # nothing polled
    assert "async" not in r.sim.tasks[task.id].request

    video = client.generate("a second balloon", sync=True)
    assert video.backend == "simulator"
    assert r.count(f"POST {VIDEOS}") == 2
    assert r.count(f"POST {TASKS}") == 0


def test_sync_timeout_is_an_unknown_outcome_caused_by_the_api_timeout(
    rig: Callable[..., Rig],
) -> None:
    r = rig()
    client = r.client()
    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        client.submit("a slow one", sync=True, timeout=10)
    error = caught.value
    assert isinstance(error.cause, APITimeoutError)
    assert (error.cause.status_code, error.cause.code) == (504, "timeout")
    assert (error.status_code, error.code) == (504, "timeout")
    assert error.trace_id
    assert "task list" in str(error)
    # exactly one request; the simulator's choice: the task goes on (and was billed)
    assert r.count(f"POST {VIDEOS}") == 1
    assert r.sim.stats.tasks_created == 1
    assert r.sim.tasks[next(iter(r.sim.tasks))].request["timeout"] == 10


def test_sync_generation_that_fails_raises_generation_failed(rig: Callable[..., Rig]) -> None:
    r = rig(task_failure_rate=1.0)
    client = r.client()
    with pytest.raises(GenerationFailedError) as caught:
        client.generate("doomed", sync=True)
    assert caught.value.code == "api_error"
    assert caught.value.task.failed
    assert r.count(f"POST {VIDEOS}") == 1


# -- every error the simulator produces, typed --------------------------------------------------


def test_moderation_word_is_a_moderation_error(rig: Callable[..., Rig]) -> None:
    r = rig(moderation_words=["gore"])
    client = r.client()
    with pytest.raises(ModerationError) as caught:
        client.generate("a scene full of GORE")
    error = caught.value
    assert (error.status_code, error.code) == (403, "forbidden")
    assert error.trace_id and error.message
    assert isinstance(error, luma_nb.PermissionDeniedError)
    assert r.count(f"POST {VIDEOS}") == 1  # not retried
    assert r.sim.stats.tasks_created == 0


def test_spent_credits_are_an_insufficient_balance_error(rig: Callable[..., Rig]) -> None:
    r = rig(credits=1)
    client = r.client()
    client.submit("the last credit")
    with pytest.raises(InsufficientBalanceError) as caught:
        client.submit("one too many")
    assert (caught.value.status_code, caught.value.code) == (403, "used_up")
    assert r.sim.credits == 0
    assert r.count(f"POST {VIDEOS}") == 2
    assert r.sim.stats.tasks_created == 1


def test_a_wrong_token_is_an_authentication_error(rig: Callable[..., Rig]) -> None:
    r = rig(accepted_tokens=["the-right-token"])
    wrong = r.client("the-wrong-token")
    with pytest.raises(AuthenticationError) as caught:
        wrong.generate("anything")
    assert (caught.value.status_code, caught.value.code) == (401, "invalid_token")
    assert "the-wrong-token" not in str(caught.value)
    with pytest.raises(AuthenticationError):
        wrong.get_task("some-task")
    assert r.count(f"POST {TASKS}") == 1  # an auth error is not retried
    right = r.client("the-right-token")
    assert right.generate("anything").backend == "simulator"


def test_rate_limited_submit_is_retried_after_retry_after(rig: Callable[..., Rig]) -> None:
    r = rig(rate_limit=(1, 30))
    client = r.client()
    client.submit("first")
    assert r.sleeps == []
    second = client.submit("second, right away")
    assert second.id in r.sim.tasks
    answers = [(resp.status_code if resp else None) for _, resp in r.recorder.to(VIDEOS)]
    assert answers == [200, 429, 200]
    limited = r.recorder.to(VIDEOS)[1][1]
    assert limited is not None
    retry_after = float(limited.headers["retry-after"])
    assert retry_after == 30
    assert r.sleeps == [retry_after]  # the backoff (< 1 s) gave way to the server's word
    assert r.sim.stats.tasks_created == 2


def test_failed_task_is_generation_failed_with_code_message_and_trace(
    rig: Callable[..., Rig],
) -> None:
    r = rig(task_failure_rate=1.0)
    client = r.client()
    with pytest.raises(GenerationFailedError) as caught:
        client.generate("this one fails")
    error = caught.value
    (sim_task,) = r.sim.tasks.values()
    assert error.task.id == sim_task.task_id
    assert error.task.failed and error.task.backend == "simulator"
    assert error.code == "api_error"
    assert error.message == "The video generation failed upstream, please try again later."
    assert error.trace_id == sim_task.trace_id
    assert sim_task.task_id in str(error) and "api_error" in str(error)
    # wait() returns the failed task rather than raising
    again = client.wait(sim_task.task_id)
    assert again.failed and again.error is not None and again.error.code == "api_error"


def test_fault_fail_code_reaches_the_error(rig: Callable[..., Rig]) -> None:
    client = rig(faults=FaultPlan(fail=1.0, fail_code="busy")).client()
    with pytest.raises(GenerationFailedError) as caught:
        client.generate("busy upstream")
    assert caught.value.code == "busy"


def test_stuck_task_times_out_at_max_wait(rig: Callable[..., Rig]) -> None:
    r = rig(faults=FaultPlan(stuck=1.0))
    client = r.client()
    started = r.clock.now()
    with pytest.raises(WaitTimeoutError) as caught:
        client.generate("never ends", max_wait=300)
    error = caught.value
    (task_id,) = r.sim.tasks
    assert error.task_id == task_id and error.task_ids == (task_id,)
    assert error.waited == pytest.approx(300)
    assert r.clock.now() - started == pytest.approx(300)  # stopped at the deadline, not later
    assert error.last[task_id].state is TaskState.PROCESSING
    assert f"client.wait({task_id!r})" in str(error)
    assert r.sim.state(task_id) == "processing"
    # re-attaching works and times out again the same way
    with pytest.raises(WaitTimeoutError):
        client.wait(task_id, max_wait=60)


def test_unknown_task_id_is_not_found(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    with pytest.raises(NotFoundError) as caught:
        client.get_task("no-such-task")
    assert (caught.value.status_code, caught.value.code) == (404, "not_found")
    with pytest.raises(NotFoundError):
        client.wait("no-such-task")
    assert r.count(f"POST {TASKS}") == 2  # neither was retried
    assert client.get_tasks(["no-such-task", "nor-this"]) == []


def test_simulator_validation_errors_are_bad_requests(rig: Callable[..., Rig]) -> None:
    def unreachable(url: str) -> bytes:
        raise OSError(f"cannot reach {url}")

    r = rig(image_fetcher=unreachable)
    client = r.client()
    with pytest.raises(BadRequestError) as caught:
        client.extend("no-such-video")
    assert (caught.value.status_code, caught.value.code) == (400, "bad_request")
    assert "no-such-video" in caught.value.message
    with pytest.raises(BadRequestError) as caught:
        client.generate("x", start_image_url="https://images.example.invalid/a.png")
    assert "start_image_url" in caught.value.message
    running = client.submit("still running")
    with pytest.raises(BadRequestError):
        client.extend(video_url=f"{DEFAULT_MEDIA_BASE_URL}/media/luma/{running.id}.mp4")
    assert r.sim.stats.tasks_created == 1


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_on_submit_is_unknown_outcome_after_exactly_one_request(
    rig: Callable[..., Rig], status: int
) -> None:
    r = rig(faults=FaultPlan(error_5xx=1.0, error_5xx_statuses=(status,), endpoints=("videos",)))
    client = r.client()
    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        client.generate("a costly request")
    error = caught.value
    assert isinstance(error.cause, ServerError)
    assert error.status_code == status
    assert "task list" in str(error)
    assert r.count(f"POST {VIDEOS}") == 1
    assert [e.status for e in r.paths(VIDEOS)] == [status]
    assert r.sim.stats.tasks_created == 0
    assert r.sleeps == []


def test_drop_after_submit_is_unknown_outcome_and_the_task_exists(
    rig: Callable[..., Rig],
) -> None:
    r = rig(faults=FaultPlan(drop_after=1.0, endpoints=("videos",)))
    client = r.client()
    with pytest.raises(SubmitOutcomeUnknownError) as caught:
        client.generate("billed but unanswered")
    error = caught.value
    assert isinstance(error.cause, TransportError)
    assert "task list" in str(error) and "resubmit" in str(error)
    assert [(e.outcome, e.faults) for e in r.paths(VIDEOS)] == [("drop", ("drop_after",))]
    # the nasty case: the server did create (and bill) the task
    assert r.sim.stats.tasks_created == 1
    (task_id,) = r.sim.tasks
    assert client.wait(task_id).succeeded  # it can still be found and finishes


def test_drop_before_submit_is_also_unknown_outcome(rig: Callable[..., Rig]) -> None:
    r = rig(faults=FaultPlan(drop=1.0, endpoints=("videos",)))
    with pytest.raises(SubmitOutcomeUnknownError):
        r.client().submit("the client cannot tell this from drop_after")
    assert r.count(f"POST {VIDEOS}") == 1
    assert r.sim.stats.tasks_created == 0


def test_refused_submit_is_retried_and_creates_exactly_one_task(
    rig: Callable[..., Rig],
) -> None:
    plan = FaultPlan(refuse=0.5, endpoints=("videos",))
    seed = seed_where(plan, "videos", [True, True, False], "refuse")
    r = rig(seed=seed, faults=plan)
    client = r.client()
    video = client.generate("refused twice, then accepted")
    assert [e.outcome for e in r.paths(VIDEOS)] == ["refuse", "refuse", "answer"]
    assert r.sim.stats.tasks_created == 1
    assert video.task_id in r.sim.tasks
    assert len(r.sleeps) >= 2 and r.sleeps[0] > 0  # backed off before each retry


@pytest.mark.parametrize(
    ("faults", "names"),
    [
        ("5xx=0.5:2", {"500", "502", "503"}),
        ("drop=0.5", {"drop"}),
        ("refuse=0.5", {"refuse"}),
        ("malformed=0.5", {"malformed_truncated", "malformed_html"}),
        ("slow=0.5:2", {"slow"}),
        ("slow=0.5:60", {"slow"}),  # longer than the 30 s HTTP timeout: a read timeout
        ("429=0.4:2:5", {"429"}),
    ],
)
def test_faults_on_task_queries_are_retried_transparently(
    rig: Callable[..., Rig], faults: str, names: set[str]
) -> None:
    r = rig(seed=3, faults=faults + ",on=tasks")
    client = r.client()
    video = client.generate("a generation through a bad network")
    assert video.backend == "simulator"
    fired = {name for name, n in r.sim.stats.faults.items() if n}
    assert fired and fired <= names, fired
    assert any(e.faults or e.outcome != "answer" for e in r.paths(TASKS))
    assert r.count(f"POST {VIDEOS}") == 1
    assert r.sim.stats.tasks_created == 1
    if faults == "slow=0.5:60":
        timed_out = [resp for _, resp in r.recorder.to(TASKS) if resp is None]
        assert timed_out  # the transport raised ReadTimeout, the client retried


# -- download ----------------------------------------------------------------------------------


def test_download_sends_no_token_to_the_media_host_and_caches(
    rig: Callable[..., Rig], tmp_path: Path
) -> None:
    r = rig()
    client = r.client()
    video = client.generate("a kite over a beach", aspect_ratio="4:3")
    path = client.download(video)
    assert path.is_file() and path.stat().st_size > 1000

    media = r.paths(f"/media/luma/{video.task_id}.mp4")
    assert [(e.method, e.host, e.authorized, e.status) for e in media] == [
        ("GET", MEDIA_HOST, False, 200)
    ]
    (request,) = [q for q, _ in r.recorder.exchanges if q.url.host == MEDIA_HOST]
    assert "authorization" not in request.headers
    api = [e for e in r.sim.journal if e.host == API_HOST]
    assert api and all(e.authorized for e in api)

    before = r.sim.stats.media_requests
    assert client.download(video) == path  # the cache answers
    copy = client.download(video, tmp_path / "out" / "kite.mp4")
    assert copy.read_bytes() == path.read_bytes()
    assert r.sim.stats.media_requests == before

    frames, size, seconds = clip_facts(path)
    assert frames >= 50
    assert size == video.size
    assert seconds > 0


def test_download_of_a_task_and_of_a_thumbnail(rig: Callable[..., Rig]) -> None:
    from PIL import Image

    r = rig()
    client = r.client()
    task = client.wait(client.submit("a windmill at dusk"))
    assert task.video is not None
    assert client.download(task).read_bytes()[4:8] == b"ftyp"
    thumb = client.download(task.video.thumbnail_url or "")
    with Image.open(thumb) as image:
        assert image.format == "JPEG"
        assert image.size == (task.video.thumbnail_width, task.video.thumbnail_height)
    assert all(not e.authorized for e in r.sim.journal if e.host == MEDIA_HOST)


def test_the_token_does_go_to_media_on_the_api_origin(rig: Callable[..., Rig]) -> None:
    # the control for the test above: the journal does see a token when one is sent
    r = rig(media_base_url=DEFAULT_BASE_URL)
    client = r.client()
    video = client.generate("media served by the API host itself")
    client.download(video)
    (entry,) = r.paths(f"/media/luma/{video.task_id}.mp4")
    assert entry.authorized


# -- wait_many ---------------------------------------------------------------------------------


def test_wait_many_polls_120_tasks_in_batches_of_50(rig: Callable[..., Rig]) -> None:
    r = rig()
    client = r.client()
    submitted = [client.submit(f"clip number {i}") for i in range(120)]
    order = [t.id for t in submitted]
    random.Random(5).shuffle(order)  # results follow the order asked, not completion
    mark = len(r.sim.journal)

    done = client.wait_many(order)

    assert [t.id for t in done] == order
    assert all(t.state is TaskState.COMPLETED and t.video is not None for t in done)
    assert all(t.backend == "simulator" for t in done)
    queries = [e for e in r.sim.journal[mark:] if e.path == TASKS]
    assert len(queries) == len(r.sim.journal) - mark  # nothing but queries
    # no request takes virtual time, so one polling round is one instant of the clock
    rounds = [(at, len(list(group))) for at, group in groupby(queries, key=lambda e: e.at)]
    assert len(rounds) > 3
    pending = len(order)
    asked: list[int] = []  # tasks still pending at each round
    for at, _ in rounds:
        asked.append(pending)
        pending = sum(not r.sim.tasks[i].is_terminal_at(at) for i in order)
    assert pending == 0
    assert [n for _, n in rounds] == [math.ceil(p / 50) for p in asked]
    assert rounds[0][1] == 3
    # a lone pending task is asked with retrieve, any more with retrieve_batch
    stats = r.sim.stats
    assert stats.retrieves == sum(p == 1 for p in asked)
    assert stats.batch_retrieves == sum(math.ceil(p / 50) for p in asked if p > 1)


# -- loopback ----------------------------------------------------------------------------------


class Server:
    """``python -m luma_nb.simulator`` as a subprocess; always stopped by its pid."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "luma_nb.simulator", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.pid = self.process.pid

    def url(self, timeout: float = 20.0) -> str:
        lines: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        assert lines and lines[0].strip(), "the simulator printed no URL in time"
        return lines[0].strip()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        code = self.process.returncode
        assert code is not None
        return code


def loopback_client(kind: str, url: str, loop: asyncio.AbstractEventLoop, cache: Path) -> Any:
    options: dict[str, Any] = {
        "base_url": url,
        "poll": luma_nb.config.PollPolicy(initial=0.05, maximum=0.2, max_wait=60, adaptive=False),
        "cache_dir": cache,
    }
    if kind == "sync":
        return luma_nb.Client(TOKEN, **options)
    return Blocking(luma_nb.AsyncClient(TOKEN, **options), loop)


def close_client(client: Any, loop: asyncio.AbstractEventLoop) -> None:
    if isinstance(client, Blocking):
        loop.run_until_complete(client.raw.aclose())
    else:
        client.close()


@pytest.mark.slow
def test_loopback_subprocess_generate_extend_download_callback(kind: str, tmp_path: Path) -> None:
    server = Server("--port", "0", "--speed", "2000", "--seed", "1")
    loop = asyncio.new_event_loop()
    client: Any = None
    try:
        url = server.url()
        assert url.startswith("http://127.0.0.1:")
        client = loopback_client(kind, url, loop, tmp_path / "cache")
        seen: list[luma_nb.Task] = []
        with callback_receiver() as (hook, received):
            video = client.generate(
                "a paper plane over a city", callback_url=hook, on_update=seen.append
            )
            bodies = received(10)
        assert seen[-1].state is TaskState.COMPLETED
        assert video.prompt == enhance_prompt("a paper plane over a city")
        assert [b["task_id"] for b in bodies] == [video.task_id]
        assert bodies[0]["video_url"] == video.video_url and bodies[0]["success"] is True

        longer = client.extend(video, prompt="it lands")
        # media come from the same server under another host name: no token goes there
        for clip in (video, longer):
            parts = urlsplit(clip.video_url)
            assert parts.hostname == "localhost"
            assert parts.port == urlsplit(url).port
        _, size, seconds = clip_facts(client.download(video))
        frames, longer_size, longer_seconds = clip_facts(client.download(longer))
        assert size == longer_size == video.size
        assert seconds == pytest.approx(5.0, abs=0.3)
        assert longer_seconds > seconds + 3 and frames > 0
    finally:
        if client is not None:
            close_client(client, loop)
        loop.close()
        code = server.stop()
    assert code == 0  # stopped cleanly by SIGTERM
    assert server.process.poll() is not None


@pytest.mark.slow
def test_loopback_media_request_carries_no_authorization(kind: str, tmp_path: Path) -> None:
    sim = Simulator(seed=2, clock=ScaledClock(2000))
    loop = asyncio.new_event_loop()
    try:
        with SimulatorServer(sim) as server:
            port = server.port
            client = loopback_client(kind, server.url, loop, tmp_path / "cache")
            try:
                video = client.generate("a tram in the rain")
                path = client.download(video)
            finally:
                close_client(client, loop)
        media = [e for e in sim.journal if e.path.startswith("/media/")]
        assert [(e.host, e.authorized, e.status) for e in media] == [
            (f"localhost:{port}", False, 200)
        ]
        api = [e for e in sim.journal if e.path.startswith("/luma/")]
        assert api and all(e.host == f"127.0.0.1:{port}" and e.authorized for e in api)
        frames, size, seconds = clip_facts(path)
        assert frames > 0 and size == video.size and seconds > 0
    finally:
        loop.close()
        sim.close()


def test_rig_clock_does_not_sleep_for_real(rig: Callable[..., Rig]) -> None:
    r = rig(faults=FaultPlan(stuck=1.0))
    client = r.client()
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError):
        client.generate("an hour of waiting", max_wait=3600)
    assert time.monotonic() - started < 5
    assert sum(r.sleeps) == pytest.approx(3600)
