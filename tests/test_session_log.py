"""The session log: crash safety, concurrent writers, the fold, lineage, resume, loading.

Offline: tasks, videos and requests are built directly; resume talks to a real Client over
an ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb._session_fold import Fold, parse_lines
from luma_nb._version import __version__
from luma_nb.errors import (
    ConfigError,
    InsufficientBalanceError,
    ModerationError,
    ServerError,
    SubmitOutcomeUnknownError,
    ValidationError,
    WaitTimeoutError,
)
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest
from luma_nb.session_log import (
    COLUMNS,
    SCHEMA_VERSION,
    SessionLog,
    SessionLogWarning,
    load_sessions,
)

SECRET = "sk-session-log-test-SECRET-0123456789"
CREATED, STARTED, FINISHED = 1725077411.961, 1725077412.021, 1725077566.241


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def request(prompt: str = "a paper boat on a rainy street", **fields: Any) -> VideoRequest:
    return VideoRequest(prompt=prompt, **fields)


def queued(task_id: str = "task-1", trace_id: str | None = "trace-1") -> Task:
    return Task(id=task_id, state=TaskState.QUEUED, trace_id=trace_id, created_at=CREATED)


def completed(
    task_id: str = "task-1",
    *,
    video_id: str = "video-1",
    prompt: str = "A paper boat drifting down a rain-soaked street, cinematic",
    timings: bool = True,
) -> Task:
    video = Video(
        task_id=task_id,
        video_url=f"https://cdn.example.com/{task_id}.mp4",
        video_id=video_id,
        prompt=prompt,
        thumbnail_url=f"https://cdn.example.com/{task_id}.jpg",
        width=1360,
        height=752,
    )
    return Task(
        id=task_id,
        state=TaskState.COMPLETED,
        raw_state="completed",
        trace_id="trace-1",
        created_at=CREATED if timings else None,
        started_at=STARTED if timings else None,
        finished_at=FINISHED if timings else None,
        elapsed=154.28 if timings else None,
        video=video,
    )


def failed(task_id: str = "task-1") -> Task:
    return Task(
        id=task_id,
        state=TaskState.FAILED,
        raw_state="failed",
        trace_id="trace-9",
        error=TaskError("api_error", "upstream generation failed"),
    )


def raw_lines(log: SessionLog) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.path.read_text("utf-8").splitlines()]


@pytest.fixture
def log(tmp_path: Path) -> SessionLog:
    return SessionLog(tmp_path / "s.jsonl", clock=FakeClock())


# ----------------------------------------------------------------------------- writing


def test_begin_and_submitted_are_on_disk_before_any_update(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "crash.jsonl")
    iteration = log.begin(request(), backend="simulator", experiment="e1", arm="on")
    assert re.fullmatch(r"it-[0-9a-f]{8}", iteration)
    log.submitted(iteration, queued())
    # The kernel dies here. A fresh object (a restarted kernel) sees everything.
    reopened = SessionLog(tmp_path / "crash.jsonl")
    events = reopened.events()
    assert [e["event"] for e in events] == ["submitting", "submitted"]
    for event in events:
        assert event["v"] == SCHEMA_VERSION
        assert event["session"] == "crash"
        assert event["iteration"] == iteration
        assert isinstance(event["t"], float)
    row = reopened.row(iteration)
    assert (row["task_id"], row["trace_id"], row["state"]) == ("task-1", "trace-1", "queued")
    assert [r["iteration"] for r in reopened.pending()] == [iteration]


def test_lines_are_compact_json_with_one_newline(log: SessionLog) -> None:
    iteration = log.begin(request("ünïcode ☂ prompt"), backend="api")
    log.submitted(iteration, queued())
    data = log.path.read_bytes()
    assert data.endswith(b"}\n")
    assert b"\n\n" not in data
    assert "ünïcode ☂".encode() in data  # ensure_ascii=False
    assert b": " not in data
    assert b", " not in data.replace(b"paper boat, ", b"")


def test_fold_gives_columns_with_request_defaults(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="simulator", tags=["first", "boat"])
    (record,) = log.to_records()
    assert tuple(record) == COLUMNS
    assert record["iteration"] == iteration
    assert record["session"] == "s"
    assert record["state"] == "submitting"
    assert record["action"] == "generate"
    assert record["aspect_ratio"] == "16:9"
    assert record["loop"] is False
    assert record["enhancement"] is True
    assert record["timeout"] is None
    assert record["video_id_sent"] is None
    assert record["tags"] == ["first", "boat"]
    assert record["backend"] == "simulator"
    assert record["toolkit_version"] == __version__
    assert record["schema_version"] == SCHEMA_VERSION
    assert record["submitted_at"] == pytest.approx(1_800_000_000.0)
    assert record["finished_at"] is None
    assert record["elapsed"] is None


def test_every_request_field_is_recorded_as_sent(log: SessionLog) -> None:
    sent = VideoRequest(
        action="extend",
        prompt="keep going",
        video_id="video-0",
        video_url="https://cdn.example.com/v0.mp4",
        start_image_url="https://img.example.com/a.png",
        end_image_url="https://img.example.com/b.png",
        loop=True,
        enhancement=False,
        callback_url="https://hooks.example.com/luma",
        timeout=120,
    )
    row = log.row(log.begin(sent, backend="api"))
    assert row["action"] == "extend"
    assert row["video_id_sent"] == "video-0"
    assert row["video_url_sent"] == "https://cdn.example.com/v0.mp4"
    assert row["start_image_url"] == "https://img.example.com/a.png"
    assert row["end_image_url"] == "https://img.example.com/b.png"
    assert (row["loop"], row["enhancement"]) == (True, False)
    assert row["callback_url"] == "https://hooks.example.com/luma"
    assert row["timeout"] == 120
    assert row["aspect_ratio"] is None  # extend keeps the parent's; nothing was sent
    assert row["video_id"] is None  # the result's own id is a separate column


def test_completed_update_fills_result_columns_with_api_timings(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    log.submitted(iteration, queued())
    log.update(iteration, completed())
    row = log.row(iteration)
    assert row["state"] == "completed"
    assert row["raw_state"] == "completed"
    assert row["video_id"] == "video-1"
    assert row["video_url"] == "https://cdn.example.com/task-1.mp4"
    assert row["thumbnail_url"] == "https://cdn.example.com/task-1.jpg"
    assert (row["width"], row["height"]) == (1360, 752)
    assert row["echoed_prompt"].startswith("A paper boat drifting")
    assert row["prompt_changed"] is True
    # The API's clock wins over ours.
    assert row["submitted_at"] == CREATED
    assert row["started_at"] == STARTED
    assert row["finished_at"] == FINISHED
    assert row["elapsed"] == pytest.approx(154.28)
    assert log.pending() == []


def test_dates_fall_back_to_our_clock_but_elapsed_is_only_the_tasks(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    log = SessionLog(tmp_path / "c.jsonl", clock=clock)
    iteration = log.begin(request("same"), backend="api")
    clock.now = 1001.0
    log.submitted(iteration, Task(id="task-1"))
    clock.now = 1043.5
    log.update(iteration, completed(prompt="same", timings=False))
    row = log.row(iteration)
    assert row["submitted_at"] == 1001.0
    assert row["finished_at"] == 1043.5
    # The generation time is what the task reported; it said nothing, so it is unknown (our
    # clock's wait is another duration, and finished_at - submitted_at still gives it).
    assert row["elapsed"] is None
    assert row["prompt_changed"] is False


def test_a_simulator_row_keeps_its_generation_time_and_real_dates(tmp_path: Path) -> None:
    """The simulator's record is on its sped-up clock: elapsed is its (simulated) figure, and
    the date columns hold this machine's dates, never the simulator's."""
    clock = FakeClock(1_800_000_000.0)
    log = SessionLog(tmp_path / "s.jsonl", clock=clock)
    iteration = log.begin(request(), backend="simulator")
    clock.now += 0.5
    log.submitted(iteration, queued())  # created_at = CREATED, a simulated date
    clock.now += 2.5
    log.update(iteration, completed())
    row = log.row(iteration)
    assert row["elapsed"] == pytest.approx(154.28)  # simulated seconds, as the task said
    assert row["submitted_at"] == pytest.approx(1_800_000_000.5)
    assert row["finished_at"] == pytest.approx(1_800_000_003.0)
    assert row["started_at"] is None
    # The same events on the real API: the API's own dates win.
    api = SessionLog(tmp_path / "a.jsonl", clock=clock)
    other = api.begin(request(), backend="api")
    api.submitted(other, queued())
    api.update(other, completed())
    assert api.row(other)["submitted_at"] == CREATED
    assert api.row(other)["started_at"] == STARTED


@pytest.mark.parametrize(
    ("elapsed", "created", "finished", "expected"),
    [
        (-5.0, None, None, None),  # a hostile server's negative figure
        (-5.0, 100.0, 112.5, 12.5),  # ...falls back to the timestamps
        (None, 100.0, 90.0, None),  # finished before created
        (0.0, None, None, 0.0),
    ],
)
def test_a_hostile_servers_timings_never_make_a_negative_elapsed(
    tmp_path: Path,
    elapsed: float | None,
    created: float | None,
    finished: float | None,
    expected: float | None,
) -> None:
    log = SessionLog(tmp_path / "h.jsonl")
    iteration = log.begin(request(), backend="api")
    task = Task(
        id="task-1",
        state=TaskState.FAILED,
        created_at=created,
        finished_at=finished,
        elapsed=elapsed,
    )
    log.submitted(iteration, task)
    assert log.row(iteration)["elapsed"] == expected


def test_failed_update_fills_error_columns(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    log.submitted(iteration, queued())
    log.update(iteration, failed())
    row = log.row(iteration)
    assert row["state"] == "failed"
    assert row["error_code"] == "api_error"
    assert row["error_message"] == "upstream generation failed"
    assert row["trace_id"] == "trace-9"
    assert row["error_type"] is None  # only a raising submit has an exception class
    assert row["video_url"] is None
    assert row["finished_at"] is not None


def test_update_writes_only_changes_and_skips_repeats(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    log.submitted(iteration, queued())
    processing = Task(
        id="task-1",
        state=TaskState.PROCESSING,
        raw_state="processing",
        trace_id="trace-1",
        created_at=CREATED,
    )
    log.update(iteration, processing)
    log.update(iteration, processing)  # a poll that saw nothing new
    log.update(iteration, completed())
    updates = [e for e in raw_lines(log) if e["event"] == "update"]
    assert len(updates) == 2
    assert updates[0]["state"] == "processing"
    assert "trace_id" not in updates[0]
    assert "api_created_at" not in updates[0]
    assert updates[1]["state"] == "completed"
    assert "task_id" not in updates[1]  # unchanged since the submitted event
    assert log.row(iteration)["trace_id"] == "trace-1"


def test_a_late_poll_answer_does_not_reopen_a_finished_row(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    log.submitted(iteration, queued())
    log.update(iteration, completed())
    log.update(iteration, Task(id="task-1", state=TaskState.PROCESSING))
    assert log.row(iteration)["state"] == "completed"


def test_submit_failed_with_a_moderation_error(log: SessionLog) -> None:
    iteration = log.begin(request("something refused"), backend="api")
    error = ModerationError(
        "content moderation refused the prompt",
        status_code=403,
        code="forbidden",
        trace_id="trace-mod",
    )
    log.submit_failed(iteration, error)
    row = log.row(iteration)
    assert row["state"] == "failed"
    assert row["error_type"] == "ModerationError"
    assert row["error_code"] == "forbidden"
    assert row["error_message"] == "content moderation refused the prompt"
    assert row["trace_id"] == "trace-mod"
    assert row["task_id"] is None
    (event,) = [e for e in raw_lines(log) if e["event"] == "submit_failed"]
    assert event["status_code"] == 403
    assert log.pending() == []


def test_submit_failed_with_balance_exhausted(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    log.submit_failed(
        iteration, InsufficientBalanceError("balance used up", status_code=403, code="used_up")
    )
    row = log.row(iteration)
    assert (row["state"], row["error_code"], row["error_type"]) == (
        "failed",
        "used_up",
        "InsufficientBalanceError",
    )


def test_submit_failed_with_an_unknown_outcome(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    cause = ServerError("bad gateway", status_code=502, code="api_error", trace_id="trace-5xx")
    error = SubmitOutcomeUnknownError(
        "the submit may have reached the server",
        cause=cause,
        status_code=502,
        code="api_error",
        trace_id="trace-5xx",
    )
    log.submit_failed(iteration, error)
    row = log.row(iteration)
    assert row["state"] == "outcome_unknown"
    assert row["error_type"] == "SubmitOutcomeUnknownError"
    assert row["error_code"] == "api_error"
    assert row["error_message"] == "the submit may have reached the server"
    assert row["trace_id"] == "trace-5xx"
    assert row["finished_at"] is not None
    assert log.pending() == []  # no task id to wait for


def test_an_interrupted_submit_is_an_unknown_outcome(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    log.submit_failed(iteration, KeyboardInterrupt())
    row = log.row(iteration)
    assert (row["state"], row["error_type"]) == ("outcome_unknown", "KeyboardInterrupt")


def test_media_rate_note_and_tags(log: SessionLog, tmp_path: Path) -> None:
    iteration = log.begin(request(), backend="api", tags=("a",))
    log.media(iteration, tmp_path / "clip.mp4")
    log.rate(iteration, 3)
    log.note(iteration, "too dark")
    log.rate(iteration, 5, note="better after a second look")
    log.tag(iteration, "b", "a", "c")
    log.tag(iteration)  # nothing to add, nothing written
    row = log.row(iteration)
    assert row["media_path"] == str(tmp_path / "clip.mp4")
    assert row["rating"] == 5
    assert row["note"] == "better after a second look"
    assert row["tags"] == ["a", "b", "c"]
    log.note(iteration, "final word")
    assert log.row(iteration)["note"] == "final word"
    assert log.row(iteration)["rating"] == 5
    assert [e["event"] for e in raw_lines(log)].count("tag") == 1


@pytest.mark.parametrize("stars", [0, 6, -1, 3.5, True, "5", None])
def test_rate_accepts_only_one_to_five(log: SessionLog, stars: Any) -> None:
    iteration = log.begin(request(), backend="api")
    with pytest.raises(ValidationError, match="1 to 5"):
        log.rate(iteration, stars)


def test_unknown_iterations_are_refused(log: SessionLog) -> None:
    log.begin(request(), backend="api")
    with pytest.raises(ValidationError, match="no iteration 'it-nope'"):
        log.rate("it-nope", 4)
    with pytest.raises(ValidationError):
        log.update("it-nope", queued())
    with pytest.raises(ValidationError):
        log.note("it-nope", "x")
    with pytest.raises(ValidationError):
        log.row("it-nope")
    with pytest.raises(ValidationError):
        log.lineage("it-nope")


def test_begin_validates_its_input(log: SessionLog) -> None:
    with pytest.raises(ValidationError, match="VideoRequest"):
        log.begin({"prompt": "x"}, backend="api")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="backend"):
        log.begin(request(), backend="")
    with pytest.raises(ValidationError, match="tags"):
        log.begin(request(), backend="api", tags=["ok", ""])
    chosen = log.begin(request(), backend="api", iteration="mine-1")
    assert chosen == "mine-1"
    with pytest.raises(ValidationError, match="already exists"):
        log.begin(request(), backend="api", iteration="mine-1")
    # A bare string is one tag, not a sequence of letters.
    tagged = log.begin(request(), backend="api", tags="solo")  # type: ignore[arg-type]
    assert log.row(tagged)["tags"] == ["solo"]


def test_an_iteration_begun_by_another_process_is_known(tmp_path: Path) -> None:
    first = SessionLog(tmp_path / "shared.jsonl")
    second = SessionLog(tmp_path / "shared.jsonl")
    iteration = first.begin(request(), backend="api")
    second.rate(iteration, 4)  # found by re-reading the file
    assert first.row(iteration)["rating"] == 4


def test_lone_surrogates_survive(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")  # a request refuses them; a note may not
    log.note(iteration, "broken \ud800 paste")
    assert SessionLog(log.path).row(iteration)["note"] == "broken \ud800 paste"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prompt=st.text(min_size=1, max_size=200).filter(lambda s: s.strip()), note=st.text())
def test_any_text_round_trips(tmp_path: Path, prompt: str, note: str) -> None:
    # A folder per example: tmp_path is shared by the examples, and two sessions started in
    # the same second share a file name once in 65536 (then the file holds both).
    log = SessionLog(folder=tempfile.mkdtemp(dir=tmp_path))
    try:
        iteration = log.begin(request(prompt), backend="api")
    except ValidationError:
        assume(False)  # the request refuses it (invisible characters only): not the log's job
    log.note(iteration, note)
    row = SessionLog(log.path).row(iteration)
    assert (row["prompt"], row["note"]) == (prompt, note)
    assert len(log.path.read_bytes().splitlines()) == 2  # newlines inside text are escaped


# ----------------------------------------------------------------------------- damaged files


def test_a_truncated_last_line_is_skipped_with_a_warning(log: SessionLog) -> None:
    first = log.begin(request(), backend="api")
    log.submitted(first, queued())
    whole = log.path.read_bytes()
    # A crash in the middle of writing the third event: half a line, no newline.
    half = b'{"v":1,"event":"update","t":1.0,"session":"s","iteration":"' + first.encode()
    log.path.write_bytes(whole + half)
    reopened = SessionLog(log.path)
    with pytest.warns(SessionLogWarning, match=r"s\.jsonl \(line 3\)"):
        records = reopened.to_records()
    assert [r["state"] for r in records] == ["queued"]
    # The next write ends the broken line first, so the new event is not glued to it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # already reported: no second warning
        reopened.rate(first, 4)
        assert reopened.row(first)["rating"] == 4
    lines = log.path.read_bytes().split(b"\n")
    assert lines[2] == half
    assert json.loads(lines[3])["event"] == "rate"
    with pytest.warns(SessionLogWarning, match="line 3"):
        assert len(SessionLog(log.path).events()) == 3


def test_a_garbage_middle_line_is_skipped(log: SessionLog) -> None:
    first = log.begin(request("one"), backend="api")
    with log.path.open("ab") as handle:
        handle.write(b"this is not json\n\xff\xfe half a character\n[1, 2]\n\n")
    with pytest.warns(SessionLogWarning):  # this writer, too, reads the file (once)
        second = log.begin(request("two"), backend="api")
    reopened = SessionLog(log.path)
    with pytest.warns(SessionLogWarning, match=r"3 unreadable line\(s\).*line 2, 3, 4"):
        rows = reopened.to_records()
    assert [r["iteration"] for r in rows] == [first, second]


def test_a_whole_event_without_its_final_newline_is_read(log: SessionLog) -> None:
    iteration = log.begin(request(), backend="api")
    log.path.write_bytes(log.path.read_bytes().rstrip(b"\n"))  # an editor dropped it
    reopened = SessionLog(log.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert reopened.row(iteration)["state"] == "submitting"
        reopened.rate(iteration, 2)
        assert reopened.row(iteration)["rating"] == 2
        assert len(SessionLog(log.path).events()) == 2


def test_block_and_line_parsing_agree() -> None:
    good = [
        json.dumps({"v": 1, "event": "note", "iteration": f"i{n}", "note": "a\nb"})
        for n in range(3)
    ]
    data = ("\n".join(good) + "\n").encode()
    fast, bad = parse_lines(data, 1)
    slow, bad_slow = parse_lines(data.replace(b"\n", b"\n\n", 1), 1)  # a blank line: slow path
    assert fast == slow
    assert bad == bad_slow == []
    _, bad = parse_lines(b'{"v":1,"event":"x"}\n{"v":1,"no":"event"}\n7\n', 10)
    assert bad == [11, 12]
    events, bad = parse_lines(b'{"v":1,"event":"x"}\n{"v":1}\n', 1)
    assert bad == [2]
    assert events == [{"v": 1, "event": "x"}]


# ----------------------------------------------------------------------------- concurrency


def _write_events(path: str, worker: int, count: int, start: Any) -> None:
    """One process's share of the concurrent-writers test: a begin and count - 1 notes."""
    log = SessionLog(path)
    start.wait(60)  # all workers write at the same time, not one after another
    iteration = log.begin(VideoRequest(prompt=f"worker {worker}"), backend="simulator")
    for n in range(count - 1):
        log.note(iteration, f"{worker}:{n}:" + "x" * (100 + 37 * (n % 50)))


def test_concurrent_writers_never_tear_or_lose_a_line(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    workers, each = 4, 500
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers)
    processes = [
        context.Process(target=_write_events, args=(str(path), w, each, start))
        for w in range(workers)
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [p.exitcode for p in processes] == [0] * workers
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    events = [json.loads(line) for line in lines[:-1]]  # every line parses
    assert len(events) == workers * each
    log = SessionLog(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(log.events()) == workers * each
        assert len(log) == workers
    # Each worker's notes arrive whole and in its own order.
    for worker in range(workers):
        notes = [
            e["note"] for e in events if e["event"] == "note" and e["note"].startswith(f"{worker}:")
        ]
        assert [int(note.split(":")[1]) for note in notes] == list(range(each - 1))


# ----------------------------------------------------------------------------- reading


def test_lineage_of_an_extend_chain(log: SessionLog) -> None:
    root = log.begin(request("a lighthouse at dusk"), backend="simulator")
    log.submitted(root, queued("task-root"))
    log.update(root, completed("task-root", video_id="video-root"))
    unrelated = log.begin(request("something else"), backend="simulator")
    middle = log.begin(
        VideoRequest(action="extend", video_id="video-root", prompt="the beam sweeps"),
        backend="simulator",
        parent=log.find(video_id="video-root"),
    )
    log.update(middle, completed("task-mid", video_id="video-mid"))
    leaf = log.begin(
        VideoRequest(action="extend", video_id="video-mid"),
        backend="simulator",
        parent=log.find(task_id="task-mid"),
    )
    chain = log.lineage(leaf)
    assert [r["iteration"] for r in chain] == [root, middle, leaf]
    assert [r["action"] for r in chain] == ["generate", "extend", "extend"]
    assert chain[2]["video_id_sent"] == "video-mid"
    assert [r["iteration"] for r in log.lineage(root)] == [root]
    assert unrelated not in {r["iteration"] for r in chain}
    assert log.find(task_id="task-nope") is None
    with pytest.raises(ValidationError):
        log.find()


def test_lineage_stops_at_a_parent_from_another_session(log: SessionLog) -> None:
    iteration = log.begin(
        VideoRequest(action="extend", video_id="v"), backend="api", parent="it-elsewhere"
    )
    assert [r["iteration"] for r in log.lineage(iteration)] == [iteration]


def test_len_repr_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "session-x.jsonl"
    log = SessionLog(path)
    assert len(log) == 0
    assert not path.exists()
    log.begin(request(), backend="api")
    again = SessionLog(str(path))
    again.begin(request(), backend="api")
    assert len(log) == len(again) == 2
    assert again.session_id == "session-x"
    assert repr(log) == f"SessionLog({str(path)!r}, iterations=2)"


def test_default_path_is_under_luma_sessions_named_by_start_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    started = time.mktime((2026, 3, 14, 15, 9, 26, 0, 0, -1))
    log = SessionLog(clock=lambda: started)
    assert log.path.parent.resolve() == (tmp_path / "luma_sessions").resolve()
    assert re.fullmatch(r"session-20260314-150926-[0-9a-f]{4}\.jsonl", log.path.name)
    assert log.session_id == log.path.stem
    assert not log.path.parent.exists()  # created lazily
    log.begin(request(), backend="api")
    assert log.path.is_file()
    monkeypatch.chdir(tmp_path.parent)  # a notebook's %cd does not move the log
    assert len(log) == 1


def test_default_name_uses_the_real_start_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = time.time()
    log = SessionLog()
    stamp = re.fullmatch(r"session-(\d{8}-\d{6})-[0-9a-f]{4}", log.session_id)
    assert stamp is not None
    named = time.mktime(time.strptime(stamp.group(1), "%Y%m%d-%H%M%S"))
    assert before - 1 <= named <= time.time()
    assert SessionLog().path != log.path  # two sessions in one second stay apart (random suffix)


def test_folder_argument_and_latest(tmp_path: Path) -> None:
    old = SessionLog(folder=tmp_path / "runs", clock=lambda: 1_700_000_000.0)
    old.begin(request("old"), backend="api")
    new = SessionLog(folder=tmp_path / "runs", clock=lambda: 1_700_000_100.0)
    new.begin(request("new"), backend="api")
    assert old.path.parent == new.path.parent == tmp_path / "runs"
    assert SessionLog.latest(tmp_path / "runs").path == new.path
    with pytest.raises(FileNotFoundError):
        SessionLog.latest(tmp_path / "empty")
    with pytest.raises(ValidationError):
        SessionLog(tmp_path / "a.jsonl", folder=tmp_path)
    # A folder given as the path gets a new session file inside it.
    assert SessionLog(tmp_path / "runs").path.parent == tmp_path / "runs"


def test_fsync_mode_writes_normally(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "deep" / "er" / "f.jsonl", fsync=True)
    iteration = log.begin(request(), backend="api")
    log.submitted(iteration, queued())
    assert len(SessionLog(log.path).events()) == 2


# ----------------------------------------------------------------------------- resume


def _record(task_id: str, *, done: bool) -> dict[str, Any]:
    record: dict[str, Any] = {"id": task_id, "trace_id": f"trace-{task_id}", "created_at": CREATED}
    if not done:
        record["response"] = {"task_id": task_id, "state": "processing"}
        return record
    record.update(finished_at=FINISHED, elapsed=FINISHED - CREATED)
    record["response"] = {
        "success": True,
        "task_id": task_id,
        "video_id": f"video-{task_id}",
        "prompt": "echoed",
        "video_url": f"https://cdn.example.com/{task_id}.mp4",
        "thumbnail_url": f"https://cdn.example.com/{task_id}.jpg",
        "video_width": 1552,
        "video_height": 656,
        "state": "completed",
    }
    return record


class TaskServer:
    """A /luma/tasks endpoint: every task is 'processing' on the first look, then done."""

    def __init__(self) -> None:
        self.looks: dict[str, int] = {}
        self.tokens: set[str] = set()

    def __call__(self, http_request: httpx.Request) -> httpx.Response:
        assert http_request.url.path == "/luma/tasks"
        self.tokens.add(http_request.headers["authorization"])
        body = json.loads(http_request.content)
        ids = [body["id"]] if body["action"] == "retrieve" else body["ids"]
        records = []
        for task_id in ids:
            self.looks[task_id] = self.looks.get(task_id, 0) + 1
            records.append(_record(task_id, done=self.looks[task_id] > 1))
        if body["action"] == "retrieve":
            return httpx.Response(200, json=records[0])
        return httpx.Response(200, json={"items": records, "count": len(records)})


def _log_with_pending(path: Path) -> tuple[SessionLog, list[str]]:
    log = SessionLog(path)
    its = []
    for n in (1, 2):
        iteration = log.begin(request(f"prompt {n}"), backend="api")
        log.submitted(iteration, queued(f"task-{n}"))
        its.append(iteration)
    done = log.begin(request("finished before the crash"), backend="api")
    log.submitted(done, queued("task-done"))
    log.update(done, completed("task-done"))
    return log, its


def test_resume_after_a_restart_writes_update_events(tmp_path: Path) -> None:
    _, pending_ids = _log_with_pending(tmp_path / "r.jsonl")
    restarted = SessionLog(tmp_path / "r.jsonl")  # a new kernel
    assert [r["iteration"] for r in restarted.pending()] == pending_ids
    server = TaskServer()
    seen: list[Task] = []
    with luma_nb.Client(
        SECRET, transport=httpx.MockTransport(server), sleep=lambda s: None
    ) as client:
        tasks = restarted.resume(client, on_update=seen.append)
    assert [t.id for t in tasks] == ["task-1", "task-2"]
    assert all(t.state is TaskState.COMPLETED for t in tasks)
    assert "task-done" not in server.looks  # finished rows are not polled
    assert {t.state for t in seen} == {TaskState.PROCESSING, TaskState.COMPLETED}
    assert restarted.pending() == []
    rows = {r["iteration"]: r for r in SessionLog(tmp_path / "r.jsonl").to_records()}
    for n, iteration in enumerate(pending_ids, start=1):
        assert rows[iteration]["state"] == "completed"
        assert rows[iteration]["video_url"] == f"https://cdn.example.com/task-{n}.mp4"
        assert rows[iteration]["elapsed"] == pytest.approx(FINISHED - CREATED)
    updates = [e for e in SessionLog(tmp_path / "r.jsonl").events() if e["event"] == "update"]
    assert sum(e["iteration"] in pending_ids for e in updates) == 4
    assert restarted.resume(client) == []  # nothing left: no request at all
    # The token went to the API and nowhere near the log.
    assert server.tokens == {f"Bearer {SECRET}"}
    assert SECRET.encode() not in (tmp_path / "r.jsonl").read_bytes()
    assert SECRET not in repr(restarted)


def test_resume_gives_up_at_max_wait_and_keeps_what_it_saw(tmp_path: Path) -> None:
    log, _pending_ids = _log_with_pending(tmp_path / "t.jsonl")
    clock = FakeClock(0.0)

    def stuck(http_request: httpx.Request) -> httpx.Response:
        body = json.loads(http_request.content)
        records = [_record(i, done=False) for i in body.get("ids", [body.get("id")])]
        return httpx.Response(200, json={"items": records, "count": len(records)})

    def sleep(seconds: float) -> None:
        clock.now += seconds

    with (
        luma_nb.Client(
            SECRET, transport=httpx.MockTransport(stuck), sleep=sleep, clock=clock
        ) as client,
        pytest.raises(WaitTimeoutError),
    ):
        log.resume(client, max_wait=10)
    assert [r["state"] for r in log.pending()] == ["processing", "processing"]


def test_aresume_with_the_async_client(tmp_path: Path) -> None:
    log, _pending_ids = _log_with_pending(tmp_path / "a.jsonl")
    server = TaskServer()

    async def no_sleep(seconds: float) -> None:
        return None

    async def main() -> list[Task]:
        async with luma_nb.AsyncClient(
            SECRET, transport=httpx.MockTransport(server), sleep=no_sleep
        ) as client:
            return await log.aresume(client)

    tasks = asyncio.run(main())
    assert [t.state for t in tasks] == [TaskState.COMPLETED] * 2
    assert log.pending() == []


# ----------------------------------------------------------------------------- DataFrames


def test_to_dataframe(log: SessionLog) -> None:
    pd = pytest.importorskip("pandas")
    first = log.begin(request(), backend="simulator", tags=["x", "y"])
    log.submitted(first, queued())
    log.update(first, completed())
    log.rate(first, 4)
    log.begin(request("second"), backend="simulator")
    frame = log.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 2
    assert frame.loc[0, "width"] == 1360
    assert pd.isna(frame.loc[1, "width"])
    assert frame.loc[0, "rating"] == 4
    assert pd.isna(frame.loc[1, "rating"])
    assert frame["enhancement"].tolist() == [True, True]
    assert frame.loc[0, "tags"] == ["x", "y"]
    assert frame.loc[1, "tags"] == []
    assert frame["state"].tolist() == ["completed", "submitting"]


def test_to_dataframe_without_pandas_names_the_extra(
    log: SessionLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.begin(request(), backend="api")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ConfigError, match=re.escape('pip install "luma_nb[pandas]"')):
        log.to_dataframe()
    with pytest.raises(ConfigError, match="pandas"):
        load_sessions(tmp_path)
    assert len(log.to_records()) == 1  # records need no pandas


def _three_sessions(folder: Path) -> list[SessionLog]:
    logs = []
    for n in range(3):
        log = SessionLog(folder / f"session-2026010{n + 1}-120000-000{n}.jsonl")
        for k in range(n + 1):
            iteration = log.begin(request(f"s{n} p{k}"), backend="simulator", arm=f"arm-{k % 2}")
            log.submitted(iteration, queued(f"task-{n}-{k}"))
        logs.append(log)
    return logs


def test_load_sessions_from_a_folder_a_glob_and_a_file(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    logs = _three_sessions(tmp_path / "runs")
    (tmp_path / "runs" / "notes.txt").write_text("not a session")
    frame = load_sessions(tmp_path / "runs")
    assert list(frame.columns) == list(COLUMNS)
    assert frame["session"].tolist() == [
        logs[0].session_id,
        logs[1].session_id,
        logs[1].session_id,
        logs[2].session_id,
        logs[2].session_id,
        logs[2].session_id,
    ]
    assert frame.groupby("session").size().tolist() == [1, 2, 3]
    globbed = load_sessions(str(tmp_path / "runs" / "session-2026010[23]-*.jsonl"))
    assert set(globbed["session"]) == {logs[1].session_id, logs[2].session_id}
    assert len(load_sessions(logs[2].path)) == 3
    assert len(load_sessions(str(tmp_path / "runs" / "*.nothing"))) == 0
    with pytest.raises(FileNotFoundError):
        load_sessions(tmp_path / "missing")


def test_load_sessions_skips_damaged_lines_with_a_warning(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    logs = _three_sessions(tmp_path)
    with logs[1].path.open("ab") as handle:
        handle.write(b'{"v":1,"event":"upd')
    with pytest.warns(SessionLogWarning, match=logs[1].path.name):
        frame = load_sessions(tmp_path)
    assert len(frame) == 6


def test_fold_ignores_unknown_events_and_keeps_going() -> None:
    fold = Fold()
    fold.add_all(
        [
            {
                "v": 1,
                "event": "submitting",
                "t": 1.0,
                "session": "s",
                "iteration": "a",
                "action": "generate",
                "prompt": "p",
                "future_field": 1,
            },
            {"v": 2, "event": "something_new", "t": 2.0, "session": "s", "iteration": "a"},
            {"v": 1, "event": "note", "t": 3.0, "session": "s"},  # no iteration: ignored
        ]
    )
    (row,) = fold.records()
    assert tuple(row) == COLUMNS
    assert row["prompt"] == "p"
    assert row["state"] == "submitting"


def test_the_storage_class_carries_no_view_methods() -> None:
    # One spelling per thing: the views are the functions luma_nb.timeline / chain_player /
    # export_html, which take the log; SessionLog stores and folds events only.
    for name in ("timeline", "chain_player", "export_html"):
        assert not hasattr(SessionLog, name), name
        assert callable(getattr(luma_nb, name))
    source = Path(luma_nb.session_log.__file__).read_text(encoding="utf-8")
    assert not re.search(r"luma_nb\.(chain|report|display|render)\b", source)
