"""A full disk after the paid POST: the task id of the billed video is never lost.

The attack: the POST returned a task (the video is billed), then writing its ``submitted``
event fails (``ENOSPC``, ``EIO``...). The user must still get the task id — in the error
raised (an attribute and its text) and on stderr — and the log keeps the event in memory and
writes it, in order, before anything else as soon as a write succeeds; ``resume()`` then finds
the task. Swept over the error numbers a write can fail with, whole and half-written lines,
and the blocking and the async submit.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _experimenttools import make_client

import luma_nb
import luma_nb._session_file as file_module
from luma_nb import _iteration
from luma_nb.errors import LumaError, ModerationError
from luma_nb.experiment import compare_enhancement, resume_experiment
from luma_nb.models import Task, TaskState, VideoRequest
from luma_nb.session_log import SessionLog, SessionLogWarning, SessionLogWriteError
from luma_nb.simulator import Simulator, VirtualClock

ERRNOS = [errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG, errno.EROFS]
TASK_ID = "5636d6ba-957f-475e-a98a-718a07ee89a6"


class FailingWrites:
    """Make the log's writes fail: ``times`` writes (whose data contains ``only``, if given)
    raise ``OSError(code)``, after writing ``partial`` of their bytes (0: nothing)."""

    def __init__(
        self, code: int, *, times: int = 1, partial: float = 0.0, only: bytes | None = None
    ) -> None:
        self.code = code
        self.left = times
        self.partial = partial
        self.only = only
        self.failed = 0
        self.original = file_module.write_all

    def __call__(self, fd: int, data: bytes) -> None:
        if self.left > 0 and (self.only is None or self.only in data):
            self.left -= 1
            self.failed += 1
            cut = int(len(data) * self.partial)
            if cut:
                os.write(fd, data[:cut])  # the disk filled up half-way through the line
            raise OSError(self.code, os.strerror(self.code))
        self.original(fd, data)


@pytest.fixture
def fail_writes(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FailingWrites]:
    def install(code: int = errno.ENOSPC, **options: Any) -> FailingWrites:
        failing = FailingWrites(code, **options)
        monkeypatch.setattr(file_module, "write_all", failing)
        return failing

    return install


def _events(path: Path) -> list[dict[str, Any]]:
    lines = path.read_bytes().splitlines()
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # a line the full disk cut short
    return events


class TaskServer:
    """A /luma/tasks endpoint: every task is finished at the first look."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        ids = [body["id"]] if body["action"] == "retrieve" else body["ids"]
        self.asked.extend(ids)
        records = [
            {
                "id": task_id,
                "response": {
                    "success": True,
                    "task_id": task_id,
                    "video_url": f"https://cdn.example.com/{task_id}.mp4",
                    "state": "completed",
                },
            }
            for task_id in ids
        ]
        if body["action"] == "retrieve":
            return httpx.Response(200, json=records[0])
        return httpx.Response(200, json={"items": records, "count": len(records)})


@pytest.fixture
def api() -> Iterator[tuple[luma_nb.Client, TaskServer]]:
    server = TaskServer()
    with luma_nb.Client(
        "sk-test", transport=httpx.MockTransport(server), sleep=lambda s: None
    ) as client:
        yield client, server


def _submit(
    log: SessionLog, iteration: str, mode: str, send: Callable[[VideoRequest], Task]
) -> Task:
    request = VideoRequest(prompt="a paper boat")
    if mode == "sync":
        return _iteration.submit(log, iteration, request, send)

    async def asend(req: VideoRequest) -> Task:
        return send(req)

    return asyncio.run(_iteration.asubmit(log, iteration, request, asend))


# ----------------------------------------------------------------------------- the submit


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("partial", [0.0, 0.5], ids=["nothing-written", "half-a-line"])
@pytest.mark.parametrize("code", ERRNOS, ids=[errno.errorcode[c] for c in ERRNOS])
def test_a_failed_submitted_write_still_hands_over_the_task_id(
    tmp_path: Path,
    fail_writes: Callable[..., FailingWrites],
    api: tuple[luma_nb.Client, TaskServer],
    capsys: pytest.CaptureFixture[str],
    mode: str,
    partial: float,
    code: int,
) -> None:
    client, server = api
    log = SessionLog(tmp_path / "s.jsonl")
    iteration = log.begin(VideoRequest(prompt="a paper boat"), backend="api")
    sent: list[VideoRequest] = []

    def send(request: VideoRequest) -> Task:
        sent.append(request)
        fail_writes(code, partial=partial)  # the disk fills up during the POST
        return Task(id=TASK_ID, state=TaskState.QUEUED, trace_id="trace-1")

    with pytest.raises(SessionLogWriteError) as caught:
        _submit(log, iteration, mode, send)
    error = caught.value
    assert len(sent) == 1
    # The id reaches the user three ways: attribute, message, stderr.
    assert error.task_id == TASK_ID and TASK_ID in str(error)
    assert error.iteration == iteration and error.path == log.path
    assert error.task is not None and error.task.trace_id == "trace-1"
    assert TASK_ID in capsys.readouterr().err
    # Both a luma_nb error and the OSError it is.
    assert isinstance(error, LumaError) and isinstance(error, OSError)
    assert error.errno == code and isinstance(error.__cause__, OSError)
    # Kept in memory, not in the file (yet).
    assert log.unwritten == 1
    assert not [e for e in _events(log.path) if e["event"] == "submitted"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert log.pending() == []  # the file alone does not know the task yet
        # The disk has room again: resume writes the kept event first, then finds the task.
        tasks = log.resume(client)
    assert [task.id for task in tasks] == [TASK_ID] and server.asked == [TASK_ID]
    assert log.unwritten == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SessionLogWarning)  # the half line, if any
        row = SessionLog(log.path).row(iteration)
    assert (row["task_id"], row["state"], row["trace_id"]) == (TASK_ID, "completed", "trace-1")
    torn = [w for w in seen if issubclass(w.category, SessionLogWarning)]
    assert bool(torn) == bool(partial)  # a half-written line is skipped, with a warning


def test_the_kept_event_is_written_first_by_the_next_write(
    tmp_path: Path, fail_writes: Callable[..., FailingWrites]
) -> None:
    log = SessionLog(tmp_path / "s.jsonl")
    first = log.begin(VideoRequest(prompt="one"), backend="api")
    second = log.begin(VideoRequest(prompt="two"), backend="api")
    failing = fail_writes(errno.ENOSPC, times=3)
    with pytest.raises(SessionLogWriteError):
        _iteration.submit(log, first, VideoRequest(prompt="one"), lambda r: Task(id="task-1"))
    with pytest.raises(OSError):  # still full: the rating fails, the kept event stays
        log.rate(second, 4)
    with pytest.raises(OSError):  # a state change is kept too, behind the first
        log.update(first, Task(id="task-1", state=TaskState.PROCESSING))
    assert (failing.failed, log.unwritten) == (3, 2)
    log.rate(second, 5)  # the disk has room: the kept events go first, in order
    kinds = [(e["event"], e["iteration"]) for e in _events(log.path)][2:]
    assert kinds == [("submitted", first), ("update", first), ("rate", second)]
    assert log.row(first)["state"] == "processing" and log.row(second)["rating"] == 5
    assert log.flush() == 0


def test_flush_retries_by_hand_and_raises_while_the_disk_is_full(
    tmp_path: Path, fail_writes: Callable[..., FailingWrites]
) -> None:
    log = SessionLog(tmp_path / "s.jsonl")
    iteration = log.begin(VideoRequest(prompt="one"), backend="api")
    fail_writes(errno.ENOSPC, times=2)
    with pytest.raises(SessionLogWriteError):
        _iteration.submit(log, iteration, VideoRequest(prompt="one"), lambda r: Task(id="t-9"))
    with pytest.raises(OSError) as caught:
        log.flush()
    assert caught.value.errno == errno.ENOSPC and log.unwritten == 1
    assert log.flush() == 1 and log.unwritten == 0
    assert log.row(iteration)["task_id"] == "t-9"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_failure_write_keeps_the_submit_error(
    tmp_path: Path,
    fail_writes: Callable[..., FailingWrites],
    capsys: pytest.CaptureFixture[str],
    mode: str,
) -> None:
    """The submit's own error matters more than the log's; the event waits in memory."""
    log = SessionLog(tmp_path / "s.jsonl")
    iteration = log.begin(VideoRequest(prompt="refused"), backend="api")
    refusal = ModerationError("refused", status_code=403, code="forbidden")

    def send(request: VideoRequest) -> Task:
        fail_writes(errno.EIO)
        raise refusal

    with pytest.raises(ModerationError) as caught:
        _submit(log, iteration, mode, send)
    assert caught.value is refusal
    assert iteration in capsys.readouterr().err and log.unwritten == 1
    log.note(iteration, "checked")
    assert log.row(iteration)["state"] == "failed"


def test_a_full_disk_before_the_post_stops_it_and_keeps_nothing(
    tmp_path: Path, fail_writes: Callable[..., FailingWrites]
) -> None:
    """``begin`` is written before the paid POST: failing there costs nothing, and a
    ``submitting`` event written later would describe a POST that never happened."""
    log = SessionLog(tmp_path / "s.jsonl")
    fail_writes(errno.ENOSPC)
    with pytest.raises(OSError):
        log.begin(VideoRequest(prompt="never sent"), backend="api")
    assert log.unwritten == 0
    log.begin(VideoRequest(prompt="sent"), backend="api")
    assert [row["prompt"] for row in log.to_records()] == ["sent"]


def test_the_error_pickles_with_its_task_id(tmp_path: Path) -> None:
    import pickle

    error = SessionLogWriteError.after_submit(
        Task(id=TASK_ID), "it-1", tmp_path / "s.jsonl", OSError(errno.ENOSPC, "No space")
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.task_id, copy.iteration, copy.errno) == (TASK_ID, "it-1", errno.ENOSPC)
    assert str(copy) == str(error) and TASK_ID in str(copy)


# ----------------------------------------------------------------------------- a study


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=5)
    yield simulator
    simulator.close()


def test_a_study_stops_on_a_full_disk_and_resumes_without_paying_twice(
    sim: Simulator,
    tmp_path: Path,
    fail_writes: Callable[..., FailingWrites],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "study.jsonl"
    fail_writes(errno.ENOSPC, only=b'"event":"submitted"')  # the first task id cannot land
    with pytest.raises(SessionLogWriteError) as caught:
        compare_enhancement(
            ["a fox", "a kite"],
            seed=2,
            concurrency=2,
            client=make_client(sim, tmp_path),
            session=SessionLog(path),
        )
    billed = caught.value.task_id
    assert billed in capsys.readouterr().err
    assert sim.stats.tasks_created == 1  # the study stopped at once
    # "Restart" in a new kernel: the kept event died with the old one; its row stays
    # unresolved (begun, no task id) and is not resubmitted; the rest run.
    with pytest.warns(luma_nb.experiment.ExperimentWarning, match="unknown submit outcome"):
        study = resume_experiment(
            caught.value.iteration.split(".")[0],
            client=make_client(sim, tmp_path),
            session=path,
        )
    assert sim.stats.tasks_created == 4
    assert [r["iteration"] for r in study.unresolved()] == [caught.value.iteration]


def test_a_study_in_the_same_kernel_writes_the_kept_task_and_reattaches(
    sim: Simulator, tmp_path: Path, fail_writes: Callable[..., FailingWrites]
) -> None:
    path = tmp_path / "study.jsonl"
    log = SessionLog(path)
    fail_writes(errno.ENOSPC, only=b'"event":"submitted"')
    with pytest.raises(SessionLogWriteError) as caught:
        compare_enhancement(
            ["a fox"], seed=2, concurrency=1, client=make_client(sim, tmp_path), session=log
        )
    assert log.unwritten == 1
    experiment = caught.value.iteration.split(".")[0]
    study = luma_nb.experiment.Experiment.load(log, experiment)  # the same SessionLog
    study.complete(make_client(sim, tmp_path))
    assert sim.stats.tasks_created == 2  # the kept task was re-attached, not resubmitted
    assert study.counts() == {"completed": 2}
    assert log.row(caught.value.iteration)["task_id"] == caught.value.task_id
