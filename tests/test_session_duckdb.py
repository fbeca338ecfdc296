"""The DuckDB fold gives the Python fold's frame: same columns, dtypes, values and warnings.

Logs written through SessionLog, logs of hostile events (any JSON value in any field, garbage,
torn and blank lines, repeated keys, NaN, huge numbers, lone surrogates, late polls), engine
selection, batches, and Parquet round trips.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import luma_nb
import luma_nb.session_log as session_log_module
from luma_nb.errors import ConfigError, ModerationError, ValidationError
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest
from luma_nb.session_log import COLUMNS, SessionLog, SessionLogWarning, load_sessions
from luma_nb.video_metrics import COLUMNS as METRIC_COLUMNS

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")


def both(source: Path | str) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """The frame and the warnings of each engine."""
    frames = []
    messages = []
    for engine in ("python", "duckdb"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frames.append(load_sessions(source, engine=engine))
        messages.append(
            [str(w.message) for w in caught if issubclass(w.category, SessionLogWarning)]
        )
    return frames[0], frames[1], messages[0], messages[1]


def assert_same(source: Path | str) -> pd.DataFrame:
    python, duck, python_warnings, duck_warnings = both(source)
    pd.testing.assert_frame_equal(duck, python)
    assert list(duck.columns) == list(COLUMNS)
    # The same warnings, word for word: unreadable lines (their numbers), values dropped.
    assert duck_warnings == python_warnings
    return duck


# ----------------------------------------------------------------------------- real logs


def write_session(path: Path, iterations: int, seed: int) -> None:
    rng = random.Random(seed)
    clock = iter(range(10**6))
    log = SessionLog(path, clock=lambda: 1_773_497_366.0 + next(clock) * 0.731)
    done: list[tuple[str, str]] = []
    for n in range(iterations):
        if done and rng.random() < 0.2:
            parent, video_id = rng.choice(done)
            request = VideoRequest(action="extend", video_id=video_id)
        else:
            parent = None
            request = VideoRequest(prompt=f"a red fox, take {n}", loop=rng.random() < 0.3)
        it = log.begin(
            request, backend="simulator", parent=parent, experiment="e", arm="a", tags=["x"]
        )
        roll = rng.random()
        if roll < 0.1:
            log.submit_failed(it, ModerationError("no", status_code=403, code="forbidden"))
            continue
        base: dict[str, Any] = {"id": f"task-{n}", "created_at": 1_773_497_000.0 + n}
        if roll < 0.2:
            base["created_at"] = 1_773_497_000 + n  # a whole number from the API
        log.submitted(it, Task(**base))
        if roll < 0.3:
            continue  # still pending
        log.update(it, Task(**base, state=TaskState.PROCESSING, started_at=base["created_at"] + 1))
        if roll < 0.4:
            log.update(
                it,
                Task(**base, state=TaskState.FAILED, error=TaskError("api_error", "upstream")),
            )
            continue
        video = Video(
            task_id=f"task-{n}", video_url=f"https://x/{n}.mp4", video_id=f"v{n}", prompt="p"
        )
        log.update(it, Task(**base, state=TaskState.COMPLETED, video=video, elapsed=150.5))
        log.update(it, Task(**base, state=TaskState.PROCESSING))  # a late poll
        done.append((it, f"v{n}"))
        if rng.random() < 0.6:  # measured: unknown values are recorded as null
            measured: dict[str, Any] = dict.fromkeys(METRIC_COLUMNS, 0.5)
            measured.update(metric_cuts=rng.randint(0, 3), frames=120, bitrate=2_000_000)
            measured.update(width=1360, height=None, metric_loop_seam=None, duration=5)
            if rng.random() < 0.3:  # a mapping of some columns only (folded by Python)
                measured = {"metric_motion": rng.random(), "fps": 24.0}
            log.metrics(it, measured)
        if rng.random() < 0.5:
            log.rate(it, rng.randint(1, 5), note="ok")
        if rng.random() < 0.3:
            log.tag(it, "y", "x")


def test_sessions_written_by_the_api_fold_the_same(tmp_path: Path) -> None:
    for n in range(3):
        write_session(tmp_path / f"session-{n}.jsonl", 40 + 10 * n, n)
    frame = assert_same(tmp_path)
    assert len(frame) == 40 + 50 + 60
    assert set(frame.state) >= {"completed", "failed", "queued"}


def test_an_empty_folder_and_an_empty_file(tmp_path: Path) -> None:
    assert_same(tmp_path)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert assert_same(tmp_path).empty


def test_a_torn_last_line_is_skipped_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    write_session(path, 10, 1)
    path.write_bytes(path.read_bytes() + b'{"v":1,"event":"update","t":1,"iter')
    python, duck, python_warnings, duck_warnings = both(path)
    pd.testing.assert_frame_equal(duck, python)
    assert len(duck_warnings) == 1 and "unreadable" in duck_warnings[0]
    assert duck_warnings == python_warnings


def test_a_file_duckdb_cannot_read_exactly_goes_to_the_python_fold(tmp_path: Path) -> None:
    # Blank lines, CRLF, a BOM, a repeated key, a trailing comma, lowercase nan, a lone
    # surrogate, a line torn in the middle: each file still folds exactly as in Python.
    event = '{"v":1,"event":"submitting","t":1.5,"session":"s","iteration":"it-1","prompt":"a"}'
    cases = {
        "blank": f"{event}\n\n{event}\n",
        "crlf": f"{event}\r\n",
        "bom": f"\ufeff{event}\n",
        "repeated": event[:-1] + ',"prompt":"b","prompt":"c"}\n',
        "comma": event[:-1] + ",}\n" + event + "\n",
        "nan": event[:-1] + ',"timeout":nan}\n',
        "NaN": event[:-1] + ',"timeout":NaN,"width":Infinity}\n',
        "surrogate": event[:-1] + ',"note":"\\ud800"}\n',
        "torn-middle": event[:40] + "\n" + event + "\n",
        "array": "[1,2]\n" + event + "\n",
        "vertical-tab": event + "\x0b\n",
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        assert_same(path)
    assert_same(tmp_path)


# ----------------------------------------------------------------------------- hostile logs

KEYS = [*COLUMNS, "api_created_at", "api_finished_at", "api_elapsed", "t", "v", "_t_end"]
KINDS = [
    "submitting", "submitted", "update", "submit_failed", "rate", "note", "media", "tag",
    "metrics",
]  # fmt: skip
STATES = ["queued", "pending", "processing", "completed", "failed", "outcome_unknown", "odd"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, 5, 1360, 1.0, 2.5, -0.0, 1e300, 2**53, 2**53 + 1, 1_773_497_366.5])
    | st.text(max_size=8)
    | st.sampled_from(["completed", "processing", "x", "\ud800", "a\u2028b", ""]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=2)
    ),
    max_leaves=4,
)


@st.composite
def events(draw: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "v": draw(st.sampled_from([1, 1, 2, "1", None])),
        "event": draw(st.sampled_from([*KINDS, *KINDS, "experiment", "future"])),
        "t": draw(st.one_of(st.floats(1e9, 2e9), st.integers(10**9, 2 * 10**9), json_values)),
        "session": draw(st.sampled_from(["s", "s", "other", None])),
        "iteration": draw(st.sampled_from(["it-1", "it-2", "it-3", "it-1", None, 5])),
    }
    if draw(st.booleans()):
        event["state"] = draw(st.sampled_from(STATES) | json_values)
    if draw(st.booleans()):
        event["tags"] = draw(
            st.lists(st.sampled_from(["a", "b", 1, None]), max_size=3) | json_values
        )
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=6)):
        event[key] = draw(json_values)
    for key in draw(
        st.lists(st.sampled_from(["prompt", "rating", "width", "timeout", "fps"]), max_size=2)
    ):
        event[key] = draw(st.sampled_from(["a cat", 4, 1360, 300, 3.5, None]))
    return event


def encode(event: dict[str, Any], ascii_only: bool) -> bytes:
    text = json.dumps(event, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def hostile_logs(draw: Any) -> list[bytes]:
    files = []
    for _ in range(draw(st.integers(1, 3))):
        lines = []
        for event in draw(st.lists(events(), max_size=14)):
            lines.append(encode(event, draw(st.booleans())))
            if draw(st.integers(0, 9)) == 0:
                lines.append(draw(st.binary(max_size=12)).replace(b"\n", b""))  # garbage
        data = b"\n".join(lines) + (b"\n" if lines and draw(st.booleans()) else b"")
        if data and draw(st.integers(0, 3)) == 0:
            data = data[: draw(st.integers(0, len(data)))]  # torn at the end
        files.append(data)
    return files


@settings(
    max_examples=int(os.environ.get("LUMA_NB_DUCKDB_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(logs=hostile_logs(), halves=st.booleans())
def test_hostile_logs_fold_the_same(
    tmp_path_factory: pytest.TempPathFactory, logs: list[bytes], halves: bool
) -> None:
    import luma_nb._session_stream as stream

    folder = tmp_path_factory.mktemp("hostile")
    for n, data in enumerate(logs):
        (folder / f"session-{n}.jsonl").write_bytes(data)
    with pytest.MonkeyPatch.context() as patch:
        if halves:  # two queries of half the lines each, as large logs are, in small batches
            patch.setattr(stream, "SPLIT_BYTES", 0)
            patch.setattr(stream, "BATCH_ROWS", 3)
        assert_same(folder)


def test_handmade_hostile_events_fold_the_same(tmp_path: Path) -> None:
    # The fold's rules, one by one: a late poll does not reopen a finished task, a state
    # that is not text is ignored, tags accumulate, a list of tags in an update replaces
    # them, our clock's marks (t) follow the terminal state, ratings and lineage.
    rows = [
        {"event": "submitting", "iteration": "a", "t": 1, "prompt": "p", "tags": ["x", 3]},
        {"event": "submitted", "iteration": "a", "t": 2, "state": "queued", "task_id": "t1"},
        {"event": "update", "iteration": "a", "t": 3, "state": "completed", "video_id": "v"},
        {"event": "update", "iteration": "a", "t": 4, "state": "processing"},
        {"event": "tag", "iteration": "a", "t": 5, "tags": ["y", "x", None]},
        {"event": "rate", "iteration": "a", "t": 6, "rating": 6, "note": 7},
        {"event": "rate", "iteration": "a", "t": 7, "rating": 4.0},
        {"event": "submitting", "iteration": "b", "t": 8, "action": "extend", "parent": "a"},
        {"event": "submit_failed", "iteration": "b", "t": 9, "state": "outcome_unknown"},
        {"event": "update", "iteration": "b", "t": 10, "state": "processing", "task_id": 5},
        {"event": "update", "iteration": "b", "t": 11, "state": ["x"], "tags": "oops"},
        {"event": "media", "iteration": "b", "t": 12, "state": None, "_t_end": 99},
        {"event": "update", "iteration": "b", "t": 13, "state": "failed", "api_elapsed": 2**60},
        {"event": "note", "iteration": "c", "t": None, "note": "only a note"},
    ]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    frame = assert_same(path)
    assert frame.state.tolist()[:2] == ["completed", "failed"]
    assert pd.isna(frame.state[2])
    assert frame.tags.tolist() == [["x", "y"], [], []]


# ----------------------------------------------------------------------------- more edges


def test_large_logs_fold_in_two_halves_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import luma_nb._session_stream as stream

    monkeypatch.setattr(stream, "SPLIT_BYTES", 0)  # two queries, each parsing half of the lines
    for n in range(3):
        write_session(tmp_path / f"session-{n}.jsonl", 30 + n, n)
    # Iterations with lines in both halves: one rated at the very end of its file.
    first = json.loads((tmp_path / "session-0.jsonl").read_text().splitlines()[0])
    late = {**first, "event": "rate", "t": 2e9, "rating": 5}
    del late["prompt"], late["tags"]
    for key in ("action", "aspect_ratio", "loop", "enhancement", "backend", "experiment"):
        late.pop(key, None)
    for key in ("arm", "toolkit_version", "parent", "video_id_sent"):
        late.pop(key, None)
    with (tmp_path / "session-0.jsonl").open("a") as file:
        file.write(json.dumps(late, separators=(",", ":")) + "\n")
    frame = assert_same(tmp_path)
    assert frame.rating.iloc[0] == 5
    assert_same(tmp_path / "session-1.jsonl")


def test_lines_duckdb_reads_otherwise_fold_the_same(tmp_path: Path) -> None:
    # Each case is a line DuckDB's parser accepts or reads differently from Python's: judged
    # by Python (its iteration folded by Python), merged among the rows DuckDB folded.
    good = [
        {"v": 1, "event": "submitting", "t": 1.5, "session": "s", "iteration": f"it-{n}",
         "prompt": f"p{n}", "tags": ["a"]}
        for n in range(4)
    ]  # fmt: skip
    head = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in good)
    line = '{"v":1,"event":"update","t":2.5,"session":"s","iteration":"it-1","state":"queued"'
    cases = {
        "spaces": line.replace(",", ", ") + "}",
        "comma-space": line + ", }",
        "exponent-comma": line + ',"started_at":1e2,}',
        "null": line + ',"task_id":null}',
        "unknown-key": line + ',"_t_end":5}',
        "repeated-iteration": line + ',"iteration":"it-2"}',
        "two-events": line
        + '},{"v":1,"event":"note","t":3,"session":"s","iteration":"it-3","note":"x"}',
        "state-in-rate": line.replace('"update"', '"rate"') + "}",
        "tags-in-update": line + ',"tags":["b"]}',
        "float-width": line + ',"width":1360.0}',
        "huge-int": line + ',"width":99999999999999999999}',
        "int-times": line.replace("2.5", "2") + "}",
        "escapes": line + ',"task_id":"t\\"\\u00e9\\n"}',
        "late-poll": line.replace("queued", "completed") + "}\n" + line.replace("2.5", "3.5") + "}",
        "resumed": line.replace('"update"', '"submit_failed"').replace("queued", "outcome_unknown")
        + "}\n"
        + line.replace("2.5", "3.5")
        + "}",
        "only-a-tag": '{"v":1,"event":"tag","t":4,"session":"s","iteration":"it-9","tags":["z"]}',
        "nan-word": line + ',"task_id":"banana:nan"}',
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(head + text + "\n" + head.replace("it-", "it-x"), encoding="utf-8")
        assert_same(path)


def test_duckdb_folds_the_clean_rows_and_python_only_the_odd_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.jsonl"
    write_session(path, 30, 3)
    with path.open("ab") as file:
        file.write(b'{"v":1,"event":"note","t":9,"session":"s","iteration":"x","note":null}\n')
    folded: list[Path] = []
    monkeypatch.setattr(session_log_module, "_python_fold", lambda f: folded.append(f) or [])
    frame = load_sessions(path, "duckdb")
    assert folded == []  # no file folded by Python whole
    assert frame.iteration.iloc[-1] == "x" and pd.isna(frame.note.iloc[-1])


def test_blank_lines_send_the_file_to_the_python_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.jsonl"
    write_session(path, 5, 4)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n\n", 1))
    assert_same(path)
    real = session_log_module._python_fold
    folded: list[Path] = []
    monkeypatch.setattr(session_log_module, "_python_fold", lambda f: folded.append(f) or real(f))
    load_sessions(path, "duckdb")
    assert folded == [path]


def test_a_torn_line_in_the_middle_of_a_large_file(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    write_session(path, 400, 5)  # several of Python's 64 KiB blocks
    data = path.read_bytes()
    cut = data.index(b"\n", len(data) // 2) + 1
    path.write_bytes(data[:cut] + b'{"v":1,"event":"update","t":1,"it\n' + data[cut:])
    python, duck, python_warnings, duck_warnings = both(path)
    pd.testing.assert_frame_equal(duck, python)
    assert duck_warnings == python_warnings and len(duck_warnings) == 1


def test_a_vanished_file_reads_as_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import luma_nb._session_duckdb as duck

    write_session(tmp_path / "a.jsonl", 3, 1)
    files = [tmp_path / "a.jsonl", tmp_path / "gone.jsonl"]
    frame = duck.fold_frame(files, session_log_module._python_fold)
    pd.testing.assert_frame_equal(frame, load_sessions(tmp_path / "a.jsonl", "python"))


# ----------------------------------------------------------------------------- engine choice


def test_auto_uses_python_for_small_logs_and_duckdb_for_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import luma_nb._session_duckdb as duck

    write_session(tmp_path / "s.jsonl", 5, 1)
    used: list[str] = []
    real = duck.fold_frame
    monkeypatch.setattr(duck, "fold_frame", lambda *a, **k: used.append("duckdb") or real(*a, **k))
    load_sessions(tmp_path)
    assert used == []
    monkeypatch.setattr(session_log_module, "AUTO_DUCKDB_BYTES", 100)
    load_sessions(tmp_path)
    assert used == ["duckdb"]
    load_sessions(tmp_path, "python")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    load_sessions(tmp_path)  # no DuckDB installed: Python
    assert used == ["duckdb"]


def test_engine_duckdb_without_duckdb_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real = builtins.__import__

    def no_duckdb(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in ("duckdb", "pyarrow"):
            raise ImportError(f"no {name}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_duckdb)
    with pytest.raises(ConfigError, match=r"luma_nb\[duckdb\]"):
        load_sessions(tmp_path, engine="duckdb")
    with pytest.raises(ConfigError, match=r"luma_nb\[duckdb\]"):
        luma_nb.session_log.to_parquet(tmp_path, tmp_path / "out")
    with pytest.raises(ValidationError, match="engine"):
        load_sessions(tmp_path, engine="spark")


@pytest.mark.parametrize("halves", [False, True])
def test_memory_limit_threads_and_spill_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, halves: bool
) -> None:
    import luma_nb._session_stream as stream

    if halves:  # two queries at once on one DuckDB thread
        monkeypatch.setattr(stream, "SPLIT_BYTES", 0)
    write_session(tmp_path / "s.jsonl", 30, 2)
    spill = tmp_path / "spill"
    spill.mkdir()
    frame = load_sessions(
        tmp_path / "s.jsonl", "duckdb", memory_limit="256MB", threads=1, temp_directory=spill
    )
    pd.testing.assert_frame_equal(frame, load_sessions(tmp_path / "s.jsonl", "python"))
    assert spill.is_dir()  # the caller's folder is left in place


def test_files_fold_in_batches_as_in_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import luma_nb._session_duckdb as duck

    for n in range(4):
        write_session(tmp_path / f"session-{n}.jsonl", 15, n)
    whole = load_sessions(tmp_path, "duckdb")
    monkeypatch.setattr(duck, "DEFAULT_BATCH_BYTES", 1)  # every file a batch of its own
    files = sorted(tmp_path.glob("*.jsonl"))
    assert duck.batches(files, None) == [[file] for file in files]
    assert len(duck.batches(files, "1GB")) == 1
    pd.testing.assert_frame_equal(load_sessions(tmp_path, "duckdb"), whole)
    # With a file only Python reads exactly among them (a blank line).
    (tmp_path / "session-2.jsonl").open("ab").write(b"\n\n")
    assert_same(tmp_path)


def test_rows_whose_key_hashes_meet_are_folded_by_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows are found by a 64-bit hash of their file and iteration. Two keys sharing one is
    # told apart by their file and iteration: the batch's files then go to the Python fold.
    import luma_nb._session_duckdb as duck
    import luma_nb._session_sql as sql
    import luma_nb._session_stream as stream

    for n in range(3):
        write_session(tmp_path / f"session-{n}.jsonl", 12, n)
    collisions: list[str] = []
    real = duck.fold_table

    def spy(*args: Any) -> Any:
        try:
            return real(*args)
        except stream.HashCollision:
            collisions.append("met")
            raise

    monkeypatch.setattr(duck, "fold_table", spy)
    monkeypatch.setattr(sql, "ROW_HASH", "hash(f, it) % 3")  # three hashes for 36 keys
    assert_same(tmp_path)
    assert collisions == ["met"]
    monkeypatch.setattr(sql, "ROW_HASH", "hash(f, it)")
    assert_same(tmp_path)
    assert collisions == ["met"]


@pytest.mark.parametrize("narrow", [True, False])
def test_counts_fold_the_same_in_32_and_64_bits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, narrow: bool
) -> None:
    import luma_nb._session_stream as stream

    monkeypatch.setattr(stream, "NARROW_BYTES", 2**40 if narrow else 0)
    monkeypatch.setattr(stream, "SPLIT_BYTES", 0)
    monkeypatch.setattr(stream, "BATCH_ROWS", 7)  # iterations across batches and halves
    for n in range(2):
        write_session(tmp_path / f"session-{n}.jsonl", 20, n)
    (tmp_path / "session-0.jsonl").open("ab").write(b'{"v":1,"event":"tag"')  # torn
    assert_same(tmp_path)


def test_a_batch_of_files_without_a_line_among_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import luma_nb._session_duckdb as duck

    monkeypatch.setattr(duck, "DEFAULT_BATCH_BYTES", 1)  # every file a batch of its own
    write_session(tmp_path / "session-0.jsonl", 5, 0)
    (tmp_path / "session-1.jsonl").write_bytes(b"")
    (tmp_path / "session-2.jsonl").write_bytes(b"\n\n")
    (tmp_path / "session-3.jsonl").write_bytes(b"garbage\n")
    write_session(tmp_path / "session-4.jsonl", 5, 4)
    assert len(assert_same(tmp_path)) == 10


def test_a_reader_failing_stops_the_fold_and_its_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A query failing in a reader's thread is raised in the caller's, and no reader is left.
    import threading

    import duckdb

    import luma_nb._session_partial as partial
    import luma_nb._session_stream as stream

    monkeypatch.setattr(stream, "SPLIT_BYTES", 0)  # two readers
    monkeypatch.setattr(partial, "stream_sql", lambda: "SELECT * FROM no_such_table")
    write_session(tmp_path / "s.jsonl", 5, 0)
    before = threading.active_count()
    with pytest.raises(duckdb.Error):
        load_sessions(tmp_path, "duckdb")
    assert threading.active_count() == before


# ----------------------------------------------------------------------------- Parquet


def read_parquet(folder: Path) -> pd.DataFrame:
    import duckdb

    return duckdb.sql(
        f"SELECT * FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"
    ).df()


def test_rows_to_parquet_partitioned_by_session(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for n in range(2):
        write_session(logs / f"session-{n}.jsonl", 20, n)
    frame = load_sessions(logs, "python")
    target = luma_nb.session_log.to_parquet(logs, tmp_path / "rows")
    assert target == (tmp_path / "rows").absolute()
    assert sorted(p.name for p in target.iterdir()) == ["session=session-0", "session=session-1"]
    back = read_parquet(target).sort_values(["session", "submitted_at"]).reset_index(drop=True)
    expected = frame.sort_values(["session", "submitted_at"]).reset_index(drop=True)
    assert sorted(back.columns) == sorted(COLUMNS)
    assert back.iteration.tolist() == expected.iteration.tolist()
    assert back.tags.map(list).tolist() == expected.tags.tolist()
    assert back.rating.astype("Int64").tolist() == expected.rating.tolist()
    assert back.elapsed.tolist() == pytest.approx(expected.elapsed.tolist(), nan_ok=True)
    # An existing destination is kept unless asked; a frame can be written as it is.
    with pytest.raises(ValidationError, match="overwrite"):
        luma_nb.session_log.to_parquet(logs, target)
    luma_nb.session_log.to_parquet(frame, target, overwrite=True)
    assert len(read_parquet(target)) == len(frame)


def test_rows_to_parquet_a_batch_at_a_time_with_odd_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import luma_nb._session_duckdb as duck

    logs = tmp_path / "logs"
    for n in range(3):
        write_session(logs / f"session-{n}.jsonl", 12, n)
    (logs / "session-1.jsonl").open("ab").write(b'{"event":"note","iteration":"x","note":5}\n\n')
    monkeypatch.setattr(duck, "DEFAULT_BATCH_BYTES", 1)  # every file a batch of its own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SessionLogWarning)
        frame = load_sessions(logs, "python")
        target = luma_nb.session_log.to_parquet(logs, tmp_path / "rows")
    back = read_parquet(target)
    assert sorted(back.iteration) == sorted(frame.iteration)
    assert len(back) == len(frame) == 37


def test_events_to_parquet_partitioned_by_session(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for n in range(2):
        write_session(logs / f"session-{n}.jsonl", 5, n)
    (logs / "session-1.jsonl").open("ab").write(b"garbage\n[1]\n")
    out = luma_nb.session_log.to_parquet(logs, tmp_path / "events", events=True)
    assert sorted(p.name for p in out.iterdir()) == ["session=session-0", "session=session-1"]
    back = read_parquet(out)
    for n in range(2):
        lines = (logs / f"session-{n}.jsonl").read_text().splitlines()
        events = [json.loads(line) for line in lines[: len(lines) - 2 * n]]
        mine = back[back.session == f"session-{n}"].sort_values("seq")
        assert mine.event.tolist() == [e["event"] for e in events]
        assert mine.iteration.tolist() == [e["iteration"] for e in events]
        assert [json.loads(j) for j in mine.json] == events
    with pytest.warns(SessionLogWarning), pytest.raises(ValidationError):
        luma_nb.session_log.to_parquet(load_sessions(logs), tmp_path / "x", events=True)


def test_parquet_of_hostile_values_and_odd_session_names(tmp_path: Path) -> None:
    # Session ids that are not safe path names, a missing one, values of every wrong type:
    # the partition folders are URL-encoded, the values read back as the frame has them.
    rows = [
        {"v": 1, "event": "submitting", "t": 1.5, "session": "../a b/é", "iteration": "it-1",
         "prompt": "p", "tags": ["x"], "width": "wide"},
        {"v": 1, "event": "submitting", "t": 2.5, "iteration": "it-2", "timeout": 30},
        {"v": 1, "event": "update", "t": 3, "session": "s", "iteration": "it-2",
         "state": "completed", "api_elapsed": 2.5, "width": 1360},
        {"v": 1, "event": "note", "t": 4, "session": "s", "iteration": 5, "note": "x"},
    ]  # fmt: skip
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "s.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows) + "junk\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SessionLogWarning)
        frame = load_sessions(logs, "python")
        target = luma_nb.session_log.to_parquet(logs, tmp_path / "rows")
        events = luma_nb.session_log.to_parquet(logs, tmp_path / "events", events=True)
    inside = sorted(p.name for p in target.iterdir())
    assert inside == ["session=..%2Fa%20b%2F%C3%A9", "session=s"]  # nothing outside target
    back = read_parquet(target).sort_values("iteration").reset_index(drop=True)
    assert back.session.tolist() == frame.session.tolist()
    assert back.width.tolist()[1] == 1360 and pd.isna(back.width[0])
    assert back.timeout.tolist()[1] == 30.0
    assert read_parquet(events).iteration.isna().sum() == 1  # the number is not text
