"""Bench the session log: appending events, folding 100,000 events into a DataFrame, memory.

Run: ``python bench/bench_session_log.py [--events 100000] [--appends 10000] [--runs 5]``.

The log is realistic: iterations written through ``SessionLog`` itself (``begin``,
``submitted``, state ``update``s, the result, ``media``, ratings, notes, tags; some extends,
failures and refused submits), with full-length ids, URLs and prompts.

* Append: 10,000 events through the ``SessionLog`` API (each one ``O_APPEND`` write under
  ``flock``, open and closed per event, so a crash loses nothing) vs the baseline a user would
  write: ``json.dumps`` of the same events into one open file, ``flush()`` after each.
* Fold: ``SessionLog(path).to_dataframe()`` in a fresh process (pandas already imported: the
  import is not the log's cost), vs ``pandas.read_json(path, lines=True)``, which only parses
  the events into a frame of events, without folding them into one row per iteration. Goal:
  under one second for 100,000 events.
* Peak memory of both (``tracemalloc``, in separate fresh processes).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import goal, machine, median, python_run, ratio, table

import luma_nb._session_store as session_store_module
from luma_nb.errors import ModerationError
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest
from luma_nb.session_log import SessionLog

SESSION_NAME = "session-20260314-150926-3fa2.jsonl"
SUBJECTS = (
    "A paper boat drifts down a rainy neon street",
    "A lighthouse on a cliff at dawn, waves crashing below",
    "A red fox trots through a snowy birch forest",
    "A hot-air balloon rises over a valley of vineyards",
    "An astronaut shuttles from a space station to a volcano",
)
STYLES = ("slow dolly-in", "aerial drone shot", "handheld, shallow depth of field", "timelapse")


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def write_iterations(log: SessionLog, events: int, seed: int = 1) -> None:
    """Write realistic iterations through ``log`` until about ``events`` events exist."""
    rng = random.Random(seed)
    written = 0
    finished: list[tuple[str, str]] = []  # (iteration, video_id)
    created = 1_773_497_366.0

    while written < events:
        subject = rng.choice(SUBJECTS)
        prompt = f"{subject}, {rng.choice(STYLES)}, cinematic light, take {written}"
        extend = finished and rng.random() < 0.15
        if extend:
            parent, video_id = rng.choice(finished)
            request = VideoRequest(action="extend", prompt="and it keeps going", video_id=video_id)
        else:
            parent = None
            request = VideoRequest(
                prompt=prompt,
                aspect_ratio=rng.choice(("16:9", "9:16", "1:1")),
                loop=rng.random() < 0.2,
                enhancement=rng.random() < 0.5,
            )
        iteration = log.begin(
            request,
            backend="simulator",
            parent=parent,
            experiment="enhancement",
            arm="on" if request.enhancement else "off",
            tags=("bench",),
        )
        written += 1
        if rng.random() < 0.03:
            log.submit_failed(
                iteration,
                ModerationError(
                    "The prompt was refused by content moderation.",
                    status_code=403,
                    code="forbidden",
                    trace_id=_uuid(rng),
                ),
            )
            written += 1
            continue
        task_id, trace_id = _uuid(rng), _uuid(rng)
        created += rng.uniform(5, 60)
        base = {"id": task_id, "trace_id": trace_id, "created_at": created}
        log.submitted(iteration, Task(**base))  # type: ignore[arg-type]
        started = created + rng.uniform(0.03, 0.12)
        for state in (TaskState.PENDING, TaskState.PROCESSING):
            log.update(
                iteration,
                Task(**base, state=state, raw_state=state.value, started_at=started),  # type: ignore[arg-type]
            )
        written += 3
        done = created + rng.uniform(120, 160)
        if rng.random() < 0.05:
            log.update(
                iteration,
                Task(
                    **base,  # type: ignore[arg-type]
                    state=TaskState.FAILED,
                    raw_state="failed",
                    started_at=started,
                    finished_at=done,
                    error=TaskError("api_error", "upstream generation failed"),
                ),
            )
            written += 1
            continue
        video_id = _uuid(rng)
        cdn = "https://platform.cdn.acedata.cloud/luma"
        video = Video(
            task_id=task_id,
            video_url=f"{cdn}/{task_id}.mp4",
            video_id=video_id,
            prompt=(prompt + ", golden hour, 35mm film") if request.enhancement else prompt,
            thumbnail_url=f"{cdn}/{task_id}.jpg",
            width=1360,
            height=752,
        )
        log.update(
            iteration,
            Task(
                **base,  # type: ignore[arg-type]
                state=TaskState.COMPLETED,
                raw_state="completed",
                started_at=started,
                finished_at=done,
                elapsed=done - created,
                video=video,
            ),
        )
        log.media(iteration, f"/home/user/.cache/luma_nb/media/{task_id}.mp4")
        written += 2
        finished.append((iteration, video_id))
        if rng.random() < 0.5:
            log.rate(iteration, rng.randint(1, 5), rng.choice(("good motion", "muddy colours")))
            written += 1
        if rng.random() < 0.1:
            log.tag(iteration, "favourite")
            written += 1


def build_log(path: Path, events: int) -> None:
    """A log of exactly ``events`` events, written by SessionLog's own code, fast.

    The events go through the real ``SessionLog`` methods; only the file append is collected
    in memory and written at the end (appending is benchmarked on its own).
    """
    lines: list[bytes] = []
    original = session_store_module.append_line

    def collect(_path: Path, line: bytes, fsync: bool = False, check: object = None) -> None:
        lines.append(line)

    session_store_module.append_line = collect  # type: ignore[assignment]
    try:
        clock = iter(range(10**9))
        log = SessionLog(path, clock=lambda: 1_773_497_366.0 + next(clock) * 0.731)
        write_iterations(log, events + 20)
    finally:
        session_store_module.append_line = original
    path.write_bytes(b"".join(lines[:events]))


def bench_append(folder: Path, count: int) -> list[list[Any]]:
    """Seconds per event: SessionLog's locked appends vs json.dumps + write + flush."""
    luma_path = folder / "append-luma.jsonl"
    log = SessionLog(luma_path, clock=lambda: 1_773_497_366.0)
    started = time.perf_counter()
    write_iterations(log, count)
    luma = time.perf_counter() - started
    events = [json.loads(line) for line in luma_path.read_bytes().splitlines()]
    base_path = folder / "append-baseline.jsonl"
    started = time.perf_counter()
    with base_path.open("a", encoding="utf-8") as file:
        for event in events:
            file.write(json.dumps(event) + "\n")
            file.flush()
    baseline = time.perf_counter() - started
    n = len(events)
    return [
        ["baseline: json.dumps + write + flush, file kept open", n, baseline * 1e6 / n, "1.00x"],
        [
            "SessionLog API (validate, encode, flock, O_APPEND write)",
            n,
            luma * 1e6 / n,
            ratio(luma, baseline),
        ],
    ]


FOLD = """
import time, pandas, luma_nb
from luma_nb.session_log import SessionLog
started = time.perf_counter()
log = SessionLog({path!r})
frame = log.to_dataframe()
first = time.perf_counter() - started
iteration = frame["iteration"].iloc[-1]
for n in range(100):
    log.note(iteration, f"note {{n}}")
started = time.perf_counter()
again = log.to_dataframe()
print(first, len(frame), time.perf_counter() - started)
"""
READ_JSON = """
import time, pandas
started = time.perf_counter()
frame = pandas.read_json({path!r}, lines=True)
print(time.perf_counter() - started, len(frame))
"""
PEAK = """
import tracemalloc, pandas, luma_nb
from luma_nb.session_log import SessionLog
tracemalloc.start()
frame = {expression}
print(tracemalloc.get_traced_memory()[1], len(frame))
"""


def bench_fold(path: Path, runs: int) -> tuple[list[list[Any]], float]:
    rows: list[list[Any]] = []
    samples: dict[str, list[float]] = {"fold": [], "read_json": [], "again": []}
    size = 0
    for _ in range(runs):  # alternate the two, each in a fresh process
        copy = path.with_name("copy-" + path.name)  # the fold appends: work on a copy
        copy.write_bytes(path.read_bytes())
        seconds, size_text, again = python_run(FOLD.format(path=str(copy))).split()
        samples["fold"].append(float(seconds))
        samples["again"].append(float(again))
        size = int(size_text)
        seconds, _ = python_run(READ_JSON.format(path=str(path))).split()
        samples["read_json"].append(float(seconds))
    fold, base = median(samples["fold"]), median(samples["read_json"])
    peak_fold = int(
        python_run(PEAK.format(expression=f"SessionLog({str(path)!r}).to_dataframe()")).split()[0]
    )
    peak_base = int(
        python_run(PEAK.format(expression=f"pandas.read_json({str(path)!r}, lines=True)")).split()[
            0
        ]
    )
    rows.append(
        [
            "baseline: pandas.read_json(lines=True), events unfolded",
            base,
            min(samples["read_json"]),
            "1.00x",
            peak_base / 2**20,
            "-",
        ]
    )
    rows.append(
        [
            f"SessionLog.to_dataframe(), folded to {size:,} rows",
            fold,
            min(samples["fold"]),
            ratio(fold, base),
            peak_fold / 2**20,
            goal(fold < 1.0),
        ]
    )
    rows.append(
        [
            "  the same log again after 100 more events (incremental)",
            median(samples["again"]),
            min(samples["again"]),
            ratio(median(samples["again"]), base),
            None,
            "-",
        ]
    )
    return rows, fold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the folded log")
    parser.add_argument("--appends", type=int, default=10_000, help="events appended")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per fold variant")
    args = parser.parse_args()
    print(machine())
    print()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = bench_append(folder, args.appends)
        print(table(["append (flushed)", "events", "us/event", "ratio"], rows, "Append"))
        print()
        path = folder / SESSION_NAME
        build_log(path, args.events)
        megabytes = path.stat().st_size / 2**20
        rows, _ = bench_fold(path, args.runs)
        print(
            table(
                ["load into pandas", "s (median)", "s (best)", "ratio", "peak MiB", "goal < 1 s"],
                rows,
                f"Fold {args.events:,} events ({megabytes:.1f} MiB), fresh process each, "
                f"median of {args.runs}",
            )
        )


if __name__ == "__main__":
    main()
