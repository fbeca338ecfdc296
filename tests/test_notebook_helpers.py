"""The notebook helpers (luma_nb.generate & co.) on an in-process simulator with a virtual clock."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from _simtools import virtual_client

import luma_nb
from luma_nb.simulator import Simulator, VirtualClock
from luma_nb.simulator._media import clip_size


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=7)
    yield simulator
    simulator.close()


_client = virtual_client


@pytest.fixture
def kernel(sim: Simulator, tmp_path: Path) -> Iterator[luma_nb.SessionLog]:
    """The helpers' defaults pointed at the simulator and a session file in tmp_path."""
    log = luma_nb.SessionLog(tmp_path / "session.jsonl")
    luma_nb.use(_client(sim, tmp_path), log)
    yield log
    luma_nb.notebook.reset()


def test_generate_logs_waits_displays_and_returns(
    kernel: luma_nb.SessionLog, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    video = luma_nb.generate("a red kite over green hills", aspect_ratio="9:16", enhancement=False)
    assert isinstance(video, luma_nb.Video)
    assert video.backend == "simulator"
    assert video.size == clip_size("9:16")
    [row] = kernel.to_records()
    assert row["state"] == "completed"
    assert row["prompt"] == "a red kite over green hills"
    assert row["aspect_ratio"] == "9:16"
    assert row["enhancement"] is False and row["loop"] is False
    assert row["echoed_prompt"] == "a red kite over green hills"
    assert row["task_id"] == video.task_id
    assert row["media_path"] and Path(row["media_path"]).is_file()
    out = capsys.readouterr()
    assert "logged to" in out.out
    assert "completed" in out.out  # the result shown as text outside a notebook
    assert "[luma_nb]" in out.err  # the status line outside a notebook


def test_submission_is_on_disk_before_waiting(kernel: luma_nb.SessionLog, sim: Simulator) -> None:
    seen: list[list[dict[str, object]]] = []
    clock = sim.clock
    assert isinstance(clock, VirtualClock)

    def sleep(seconds: float) -> None:
        # Whenever the helper waits, the log on disk (read by a fresh reader) has the task id.
        seen.append(luma_nb.SessionLog(kernel.path).to_records())
        clock.advance(seconds)

    client = luma_nb.notebook.default_client()
    client._sleep = sleep  # the client's injected sleep
    video = luma_nb.generate("a lantern festival")
    assert seen, "the helper waited at least once"
    first = seen[0]
    assert first[0]["task_id"] == video.task_id
    assert first[0]["state"] not in (None, "completed")


def test_extend_defaults_to_last_video_and_records_lineage(kernel: luma_nb.SessionLog) -> None:
    first = luma_nb.generate("a snail on a leaf")
    second = luma_nb.extend(prompt="the snail reaches the edge")
    third = luma_nb.extend(second)
    rows = kernel.to_records()
    assert [r["action"] for r in rows] == ["generate", "extend", "extend"]
    assert rows[1]["video_id_sent"] == first.video_id
    assert rows[2]["video_id_sent"] == second.video_id
    chain = kernel.lineage(rows[2]["iteration"])
    assert [r["iteration"] for r in chain] == [r["iteration"] for r in rows]
    assert third.task_id == rows[2]["task_id"]


def test_rate_history_and_positions(kernel: luma_nb.SessionLog) -> None:
    pytest.importorskip("pandas")
    video = luma_nb.generate("a quiet harbour")
    luma_nb.generate("a busy harbour")
    luma_nb.rate(video, stars=5, note="calm")
    luma_nb.rate(-1, stars=2)
    frame = luma_nb.history()
    assert list(frame["rating"]) == [5, 2]
    assert frame["note"].iloc[0] == "calm"
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.rate(video, stars=6)
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.rate(7, stars=3)
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.rate(video)


def test_moderation_is_logged_and_raised(kernel: luma_nb.SessionLog, sim: Simulator) -> None:
    with pytest.raises(luma_nb.ModerationError) as caught:
        luma_nb.generate("some gore on the floor")
    assert caught.value.trace_id
    [row] = kernel.to_records()
    assert row["error_code"] == "forbidden"
    assert row["task_id"] is None
    assert sim.stats.tasks_created == 0


def test_failed_task_is_logged_and_raised(sim: Simulator, tmp_path: Path) -> None:
    failing = Simulator(clock=VirtualClock(), seed=3, task_failure_rate=1.0)
    log = luma_nb.SessionLog(tmp_path / "f.jsonl")
    luma_nb.use(_client(failing, tmp_path), log)
    try:
        with pytest.raises(luma_nb.GenerationFailedError) as caught:
            luma_nb.generate("a doomed attempt")
        assert caught.value.task.failed
        [row] = log.to_records()
        assert row["state"] == "failed"
        assert row["error_code"] == caught.value.code
    finally:
        luma_nb.notebook.reset()
        failing.close()


@pytest.mark.parametrize(
    "params",
    [
        {"model": "ray-2"},
        {"aspect_ration": "16:9"},
        {"aspect_ratio": "2:1"},
        {"loop": "yes"},
        {"sync": True},
        {"start_image_url": "file:///etc/passwd"},
        {"timeout": -1},
    ],
)
def test_bad_input_makes_no_request(
    kernel: luma_nb.SessionLog, sim: Simulator, params: dict[str, object]
) -> None:
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.generate("fine prompt", **params)
    assert sim.stats.requests == 0
    assert kernel.to_records() == []


def test_extend_without_any_video_is_a_clear_error(kernel: luma_nb.SessionLog) -> None:
    with pytest.raises(luma_nb.ValidationError, match="no finished video"):
        luma_nb.extend()


def test_resume_after_a_simulated_restart(
    kernel: luma_nb.SessionLog, sim: Simulator, tmp_path: Path
) -> None:
    task = luma_nb.submit("a hot-air balloon")
    path = kernel.path
    luma_nb.notebook.reset()  # the kernel "dies": defaults forgotten, the log and the server remain
    log = luma_nb.SessionLog(path)
    assert [row["task_id"] for row in log.pending()] == [task.id]
    [done] = log.resume(_client(sim, tmp_path))
    assert done.succeeded
    assert log.pending() == []
    assert log.to_records()[0]["state"] == "completed"


def test_default_client_is_the_simulator_without_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
    monkeypatch.delenv("ACEDATACLOUD_API_BASE_URL", raising=False)
    monkeypatch.delenv("LUMA_NB_BACKEND", raising=False)
    monkeypatch.chdir(tmp_path)
    luma_nb.notebook.reset()
    try:
        assert luma_nb.notebook.default_client().backend == "simulator"
        assert "SIMULATED" in capsys.readouterr().err
        assert luma_nb.session().path.parent == tmp_path / "luma_sessions"
    finally:
        luma_nb.notebook.reset()


def test_bad_max_wait_is_rejected_before_the_paid_submit(
    kernel: luma_nb.SessionLog, sim: Simulator
) -> None:
    with pytest.raises(luma_nb.ValidationError, match="max_wait"):
        luma_nb.generate("fine prompt", max_wait=-5)
    assert sim.stats.requests == 0
    assert kernel.to_records() == []


# ----------------------------------------------------------------------------- on_update


def test_generate_calls_on_update_after_logging_each_change(
    kernel: luma_nb.SessionLog, capsys: pytest.CaptureFixture[str]
) -> None:
    heard: list[tuple[str, object]] = []

    def on_update(task: luma_nb.Task) -> None:
        logged = luma_nb.SessionLog(kernel.path).to_records()[0]  # a fresh reader: on disk
        heard.append((task.state.value, logged["state"]))

    video = luma_nb.generate("a moth at a window", on_update=on_update)
    states = [state for state, _ in heard]
    assert states[0] == "queued" and states[-1] == "completed"
    assert all(a != b for a, b in itertools.pairwise(states)), states  # changes only
    assert all(state == logged for state, logged in heard)  # the log had it first
    assert "[luma_nb]" in capsys.readouterr().err  # the helper's own status line still runs
    assert kernel.to_records()[0]["task_id"] == video.task_id


def test_an_error_in_on_update_propagates_and_the_task_stays_resumable(
    kernel: luma_nb.SessionLog, sim: Simulator, tmp_path: Path
) -> None:
    def on_update(task: luma_nb.Task) -> None:
        if task.state.value != "queued":
            raise RuntimeError("my callback broke")

    with pytest.raises(RuntimeError, match="my callback broke"):
        luma_nb.generate("a fragile callback", on_update=on_update)
    [pending] = kernel.pending()
    [done] = kernel.resume(_client(sim, tmp_path))
    assert done.id == pending["task_id"] and done.succeeded


def test_extend_takes_on_update_and_max_wait(kernel: luma_nb.SessionLog) -> None:
    luma_nb.generate("a paper plane")
    heard: list[luma_nb.Task] = []
    video = luma_nb.extend(prompt="it lands", on_update=heard.append, max_wait=3600)
    assert heard[-1].succeeded and heard[-1].id == video.task_id


# ----------------------------------------------------------------------------- keywords


class Refusing:
    """A transport that records each request and refuses it (400): one paid POST, no task."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, object]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(400, json={"error": {"code": "bad_request", "message": "no"}})


@pytest.fixture
def refusing(tmp_path: Path) -> Iterator[Refusing]:
    api = Refusing()
    client = luma_nb.Client(
        "sk-kw",
        base_url="https://api.example.test",
        transport=httpx.MockTransport(api),
        preflight=False,  # no image host behind the example URLs
    )
    luma_nb.use(client, luma_nb.SessionLog(tmp_path / "kw.jsonl"))
    yield api
    luma_nb.notebook.reset()
    client.close()


URL = "https://example.com/frame.png"
HELPERS: dict[str, Callable[..., object]] = {
    "generate": lambda **kw: luma_nb.generate("a kite", **kw),
    "extend": lambda **kw: luma_nb.extend("vid-1", **kw),
    "submit": lambda **kw: luma_nb.submit("a kite", **kw),
}
# Every keyword a Client method takes, on every helper: sent (and in the body), or refused.
KEYWORDS: list[tuple[str, str, object, bool]] = [
    *[
        (helper, name, value, True)
        for helper in HELPERS
        for name, value in [
            ("aspect_ratio", "9:16"),
            ("loop", True),
            ("enhancement", False),
            ("start_image_url", URL),
            ("end_image_url", URL),
            ("callback_url", "https://example.com/hook"),
            ("timeout", 120),
            ("sync", False),
            ("preflight", False),
        ]
    ],
    ("generate", "max_wait", 60, True),
    ("generate", "on_update", print, True),
    ("extend", "max_wait", 60, True),
    ("extend", "on_update", print, True),
    ("extend", "video_url", "https://cdn.example.com/v.mp4", True),
    ("submit", "action", "extend", True),
    ("submit", "video_id", "vid-1", True),
    ("submit", "video_url", "https://cdn.example.com/v.mp4", True),
    ("generate", "sync", True, False),
    ("extend", "sync", True, False),
    ("submit", "sync", True, False),
    ("generate", "action", "extend", False),
    ("generate", "video_id", "vid-1", False),
    ("generate", "video_url", "https://cdn.example.com/v.mp4", False),
    ("extend", "action", "generate", False),
    ("extend", "video_id", "vid-2", False),  # the video is already named
    ("submit", "max_wait", 60, False),
    ("submit", "on_update", print, False),
]


@pytest.mark.parametrize(
    ("helper", "name", "value", "taken"),
    KEYWORDS,
    ids=[f"{h}-{n}-{'taken' if t else 'refused'}" for h, n, _, t in KEYWORDS],
)
def test_every_client_keyword_is_taken_or_refused_with_a_reason(
    refusing: Refusing, helper: str, name: str, value: object, taken: bool
) -> None:
    if not taken:
        with pytest.raises(luma_nb.ValidationError) as caught:
            HELPERS[helper](**{name: value})
        assert caught.value.field == name
        assert "did you mean" not in str(caught.value)
        assert refusing.bodies == []
        return
    extra = {"video_id": "vid-1"} if name == "action" else {}
    with pytest.raises(luma_nb.BadRequestError):  # it reached the API, which said no
        HELPERS[helper](**{name: value}, **extra)
    [body] = refusing.bodies
    if name in body:
        assert body[name] == value
    else:
        assert name in ("max_wait", "on_update", "sync", "preflight")  # not request fields


def test_extend_by_video_id_alone_needs_no_finished_video_in_the_session(
    kernel: luma_nb.SessionLog, sim: Simulator, tmp_path: Path
) -> None:
    first = luma_nb.generate("a heron")
    luma_nb.use(session=luma_nb.SessionLog(tmp_path / "fresh.jsonl"))
    second = luma_nb.extend(video_id=first.video_id, prompt="it takes off")
    [row] = luma_nb.session().to_records()
    assert row["video_id_sent"] == first.video_id and row["parent"] is None
    assert second.video_url


def test_submit_takes_a_ready_request_but_not_with_keywords(kernel: luma_nb.SessionLog) -> None:
    request = luma_nb.VideoRequest(prompt="a tide pool", loop=True)
    task = luma_nb.submit(request, tags=["ready"])
    assert kernel.to_records()[0]["task_id"] == task.id
    with pytest.raises(luma_nb.ValidationError, match="ready VideoRequest") as caught:
        luma_nb.submit(request, loop=False)
    assert caught.value.field == "loop"
