"""The session log's ``metrics`` event: checked on the way in, folded into ``metric_*`` columns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from luma_nb.errors import ValidationError
from luma_nb.models import Task, TaskState, Video, VideoRequest
from luma_nb.session_log import COLUMNS, SessionLog, SessionLogWarning
from luma_nb.video_metrics import COLUMNS as METRIC_COLUMNS
from luma_nb.video_metrics import VideoMetrics

MEASURED = VideoMetrics(
    duration=5.0,
    fps=24.0,
    frames=120,
    width=1360,
    height=752,
    bitrate=3_049_478,
    motion=2.8,
    flicker=0.04,
    sharpness=451.7,
    brightness=129.9,
    contrast=42.2,
    colorfulness=122.1,
    loop_seam=12.1,
    start_match=0.94,
    end_match=None,
    cuts=0,
)


@pytest.fixture
def log(tmp_path: Path) -> SessionLog:
    return SessionLog(tmp_path / "s.jsonl", clock=lambda: 1_800_000_000.0)


def finished(log: SessionLog) -> str:
    iteration = log.begin(VideoRequest(prompt="a paper boat"), backend="simulator")
    video = Video(
        task_id="task-1",
        video_url="https://cdn.example.com/v.mp4",
        video_id="video-1",
        width=1280,
        height=720,
    )
    log.update(iteration, Task(id="task-1", state=TaskState.COMPLETED, video=video))
    return iteration


def test_every_metric_column_is_a_row_column() -> None:
    assert set(METRIC_COLUMNS) <= set(COLUMNS)
    assert len(COLUMNS) == len(set(COLUMNS))


def test_metrics_fold_into_the_row(log: SessionLog) -> None:
    iteration = finished(log)
    assert log.row(iteration)["metric_motion"] is None
    log.metrics(iteration, MEASURED)
    row = log.row(iteration)
    for column, value in MEASURED.as_columns().items():
        assert row[column] == value, column
    assert (row["width"], row["height"]) == (1360, 752)  # measured: the file's own size
    assert row["state"] == "completed" and row["video_id"] == "video-1"  # the rest untouched
    [event] = [e for e in log.events() if e["event"] == "metrics"]
    assert event["metric_end_match"] is None  # undefined is recorded, as null


def test_the_last_measurement_wins_and_unknown_sizes_keep_the_apis(log: SessionLog) -> None:
    iteration = finished(log)
    log.metrics(iteration, MEASURED)
    log.metrics(iteration, {"metric_motion": 7.5, "metric_cuts": 2.0, "width": None})
    row = log.row(iteration)
    assert row["metric_motion"] == 7.5
    assert row["metric_cuts"] == 2 and type(row["metric_cuts"]) is int
    assert row["width"] == 1360  # a None size is left out, never blanks the known one
    assert row["metric_sharpness"] == MEASURED.sharpness  # not in the mapping: kept


def test_nan_is_recorded_as_undefined(log: SessionLog) -> None:
    iteration = finished(log)
    log.metrics(iteration, {"metric_flicker": math.nan, "metric_motion": 1.0})
    row = log.row(iteration)
    assert row["metric_flicker"] is None and row["metric_motion"] == 1.0
    assert "NaN" not in log.path.read_text(encoding="utf-8")  # the file stays strict JSON


@pytest.mark.parametrize(
    ("measured", "words"),
    [
        ({"metric_speed": 1.0}, "unknown metric"),
        ({"motion": 1.0}, "unknown metric"),
        ({"metric_motion": "fast"}, "number"),
        ({"metric_motion": True}, "number"),
        ({"metric_motion": math.inf}, "out of range"),
        ({"frames": -1}, "whole number"),
        ({"metric_cuts": 1.5}, "whole number"),
        ({"bitrate": 10**30}, "out of range"),
        ("fast", "VideoMetrics or a mapping"),
        (None, "VideoMetrics or a mapping"),
    ],
)
def test_bad_metrics_are_refused_before_writing(
    log: SessionLog, measured: object, words: str
) -> None:
    iteration = finished(log)
    before = log.path.read_bytes()
    with pytest.raises(ValidationError, match=words):
        log.metrics(iteration, measured)  # type: ignore[arg-type]
    assert log.path.read_bytes() == before


def test_an_unknown_iteration_is_refused(log: SessionLog) -> None:
    finished(log)
    with pytest.raises(ValidationError, match="no iteration"):
        log.metrics("it-nope", MEASURED)


def test_the_dataframe_has_typed_metric_columns(log: SessionLog) -> None:
    pytest.importorskip("pandas")
    measured = finished(log)
    log.metrics(measured, MEASURED)
    finished(log)  # a second row, never measured
    frame = log.to_dataframe()
    assert list(frame.columns) == list(COLUMNS)
    for column in ("frames", "bitrate", "metric_cuts", "width", "height"):
        assert str(frame[column].dtype) == "Int64", column
    for column in ("metric_motion", "metric_end_match", "duration", "fps"):
        assert str(frame[column].dtype) == "float64", column
    assert frame["metric_motion"].tolist()[0] == pytest.approx(2.8)
    assert math.isnan(frame["metric_motion"].tolist()[1])
    assert frame["frames"].tolist()[0] == 120


def test_hand_edited_metric_values_read_as_missing(log: SessionLog) -> None:
    iteration = finished(log)
    log.metrics(iteration, MEASURED)
    event = {
        "v": 1,
        "event": "metrics",
        "t": 1_800_000_001.0,
        "session": log.session_id,
        "iteration": iteration,
        "metric_motion": "fast",
        "frames": 1.5,
        "metric_cuts": -3,
        "fps": [24],
    }
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(event) + "\n")
    with pytest.warns(SessionLogWarning, match="metric_motion"):
        row = log.row(iteration)
    assert (row["metric_motion"], row["frames"], row["metric_cuts"], row["fps"]) == (None,) * 4
    assert row["metric_sharpness"] == MEASURED.sharpness
