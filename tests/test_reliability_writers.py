"""Concurrent writers and readers on one session log: no torn line, no lost line, ever.

Several processes write whole iterations (every kind of event, lines of very different
lengths) to one file at the same time, while this process keeps folding it — a fresh
``SessionLog`` each time and one long-lived, incremental one. A reader must never see half a
line (that would be a ``SessionLogWarning``), never see rows go backwards, and at the end every
line is whole, every event is there, and each writer's events are in its own order.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import luma_nb
import luma_nb._session_file as file_module
import luma_nb._session_fold as fold_module
from luma_nb.errors import ModerationError
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest
from luma_nb.session_log import SessionLog, SessionLogWarning

WORKERS = 4
ITERATIONS = 60  # per worker; 8-9 events each


def _events_of(worker: int, n: int) -> int:
    """How many events worker ``worker`` writes for its iteration ``n`` (see _write)."""
    if n % 10 == 3:
        return 2  # begin, submit_failed
    if n % 10 == 7:
        return 5  # begin, submitted, 2 updates, failed
    return 8 + (n % 2)  # begin, submitted, 2 updates, completed, media, rate, note (+ tag)


def _write(path: str, worker: int, start: Any) -> None:
    log = SessionLog(path)
    start.wait(60)  # everyone writes at once
    for n in range(ITERATIONS):
        prompt = f"worker {worker} iteration {n} " + "x" * (n * 37 % 900)
        iteration = log.begin(
            VideoRequest(prompt=prompt, enhancement=bool(n % 2)),
            backend="simulator",
            tags=(f"w{worker}",),
            experiment="writers",
        )
        if n % 10 == 3:
            log.submit_failed(
                iteration,
                ModerationError("refused", status_code=403, code="forbidden", trace_id=f"t{n}"),
            )
            continue
        task_id = f"task-{worker}-{n}"
        log.submitted(iteration, Task(id=task_id, trace_id=f"trace-{worker}-{n}"))
        for state in (TaskState.PENDING, TaskState.PROCESSING):
            log.update(iteration, Task(id=task_id, state=state, raw_state=state.value))
        if n % 10 == 7:
            log.update(
                iteration,
                Task(
                    id=task_id,
                    state=TaskState.FAILED,
                    raw_state="failed",
                    error=TaskError("api_error", "upstream failed"),
                ),
            )
            continue
        video = Video(
            task_id=task_id,
            video_url=f"https://cdn.example.com/{task_id}.mp4",
            video_id=f"video-{worker}-{n}",
            prompt=prompt.upper(),
            width=1360,
            height=752,
        )
        log.update(
            iteration,
            Task(id=task_id, state=TaskState.COMPLETED, raw_state="completed", video=video),
        )
        log.media(iteration, f"/tmp/{task_id}.mp4")
        log.rate(iteration, 1 + n % 5)
        log.note(iteration, f"{worker}:{n}:" + "é" * (n % 7))  # multi-byte text too
        if n % 2:
            log.tag(iteration, "odd")


def _check_rows_never_go_back(before: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    order = {"submitting": 0, "queued": 1, "pending": 2, "processing": 3}
    for row in rows:
        old = before.get(row["iteration"])
        if old is not None and old["state"] in ("completed", "failed", "outcome_unknown"):
            assert row["state"] == old["state"], (old, row)
        elif old is not None and row["state"] in order and old["state"] in order:
            assert order[row["state"]] >= order[old["state"]], (old, row)
        before[row["iteration"]] = row


@pytest.mark.slow
def test_writers_and_folding_readers_at_the_same_time(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS + 1)
    processes = [
        context.Process(target=_write, args=(str(path), w, start), daemon=True)
        for w in range(WORKERS)
    ]
    reads = 0
    try:
        for process in processes:
            process.start()
        start.wait(60)
        incremental = SessionLog(path)
        seen: dict[str, Any] = {}
        counts = [0]
        with warnings.catch_warnings():
            warnings.simplefilter("error", SessionLogWarning)  # a torn line would warn
            while any(p.is_alive() for p in processes):
                rows = incremental.to_records()
                assert len(rows) >= counts[-1]
                counts.append(len(rows))
                _check_rows_never_go_back(seen, rows)
                fresh = SessionLog(path).to_records()
                assert len(fresh) >= len(rows)
                reads += 1
                time.sleep(0.01)
        for process in processes:
            process.join(timeout=120)
        assert [p.exitcode for p in processes] == [0] * WORKERS
    finally:
        for process in processes:  # by pid: only the processes this test started
            if process.is_alive():
                process.kill()
                process.join(5)
    assert reads > 3, "the readers never overlapped the writers"

    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    events = [json.loads(line) for line in raw.split(b"\n")[:-1]]  # every line is whole
    expected = sum(_events_of(w, n) for w in range(WORKERS) for n in range(ITERATIONS))
    assert len(events) == expected
    for worker in range(WORKERS):
        notes = [e["note"] for e in events if e["event"] == "note" and e["note"][0] == str(worker)]
        numbers = [int(note.split(":")[1]) for note in notes]
        assert numbers == sorted(numbers) and len(numbers) == len(set(numbers))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = SessionLog(path).to_records()
        assert incremental.to_records() == rows  # the incremental fold agrees with a fresh one
    assert len(rows) == WORKERS * ITERATIONS
    by_task = {row["task_id"]: row for row in rows if row["task_id"]}
    for worker in range(WORKERS):
        for n in range(ITERATIONS):
            if n % 10 == 3:
                continue
            row = by_task[f"task-{worker}-{n}"]
            if n % 10 == 7:
                assert row["state"] == "failed" and row["error_code"] == "api_error"
                continue
            assert row["state"] == "completed" and row["rating"] == 1 + n % 5
            assert row["tags"] == [f"w{worker}", "odd"] if n % 2 else [f"w{worker}"]
            assert row["note"].startswith(f"{worker}:{n}:")
    refused = [row for row in rows if row["state"] == "failed" and row["task_id"] is None]
    assert len(refused) == WORKERS * (ITERATIONS // 10)


# ----------------------------------------------------------------------------- the fold's blocks


def _messy_log(path: Path) -> int:
    """Write a damaged log; return the number of its first bad line."""
    log = SessionLog(path, clock=lambda: 1_800_000_000.0)
    for n in range(40):
        iteration = log.begin(
            VideoRequest(prompt=f"prompt {n} " + "y" * (n * 53 % 700)), backend="api"
        )
        log.submitted(iteration, Task(id=f"task-{n}"))
        if n % 3 == 0:
            log.rate(iteration, 1 + n % 5, note="ü" * n)
    first_bad = path.read_bytes().count(b"\n") + 1
    with path.open("ab") as file:  # damage: garbage, a non-event, half a line, then more
        file.write(b"garbage line\n7\n")
        file.write(b'{"v":1,"event":"note","iteration":"it-x","note":"half\n')
    more = SessionLog(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SessionLogWarning)  # the writer reads the damage too
        iteration = more.begin(VideoRequest(prompt="after the damage"), backend="api")
        more.rate(iteration, 5)
    return first_bad


@pytest.mark.parametrize("block", [1, 64, 300, 4096])
def test_block_by_block_fold_equals_the_whole_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Folding in blocks (the memory-saving path) gives the same rows and warnings."""
    path = tmp_path / "messy.jsonl"
    bad = _messy_log(path)
    with pytest.warns(SessionLogWarning) as whole_warnings:
        whole = SessionLog(path).to_records()
    monkeypatch.setattr(file_module, "CHUNK_BYTES", block)
    with pytest.warns(SessionLogWarning) as block_warnings:
        blocks = SessionLog(path).to_records()
    assert blocks == whole and len(whole) == 41
    assert [str(w.message) for w in block_warnings] == [str(w.message) for w in whole_warnings]
    assert f"line {bad}, {bad + 1}, {bad + 2})" in str(whole_warnings[0].message)


def test_a_fold_interrupted_half_way_starts_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in the middle of a block-by-block fold never leaves half-folded rows."""
    path = tmp_path / "s.jsonl"
    log = SessionLog(path)
    for n in range(30):
        log.note(log.begin(VideoRequest(prompt=f"p{n}"), backend="api"), "x" * 200)
    reader = SessionLog(path)
    monkeypatch.setattr(file_module, "CHUNK_BYTES", 512)
    calls = {"n": 0}
    original = fold_module.Fold.add_all

    def failing(self: fold_module.Fold, events: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("simulated")
        original(self, events)

    monkeypatch.setattr(fold_module.Fold, "add_all", failing)
    with pytest.raises(MemoryError):
        reader.to_records()
    assert calls["n"] == 3  # two blocks were folded before the failure
    monkeypatch.setattr(fold_module.Fold, "add_all", original)
    assert reader.to_records() == SessionLog(path).to_records()
    assert len(reader) == 30
    assert luma_nb.SessionLog(path).to_records()[0]["note"] == "x" * 200
