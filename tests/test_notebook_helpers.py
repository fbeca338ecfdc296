"""The notebook helpers (luma_nb.generate & co.) on an in-process simulator with a virtual clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    luma_nb.reset()


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

    client = luma_nb.default_client()
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
        luma_nb.reset()
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
    luma_nb.reset()  # the kernel "dies": defaults forgotten, the log and the server remain
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
    luma_nb.reset()
    try:
        assert luma_nb.default_client().backend == "simulator"
        assert "SIMULATED" in capsys.readouterr().err
        assert luma_nb.session().path.parent == tmp_path / "luma_sessions"
    finally:
        luma_nb.reset()


def test_bad_max_wait_is_rejected_before_the_paid_submit(
    kernel: luma_nb.SessionLog, sim: Simulator
) -> None:
    with pytest.raises(luma_nb.ValidationError, match="max_wait"):
        luma_nb.generate("fine prompt", max_wait=-5)
    assert sim.stats.requests == 0
    assert kernel.to_records() == []
