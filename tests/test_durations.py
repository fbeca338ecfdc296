"""One definition of each duration, one formatter, and the same text on every view.

A job's generation time reads the same on the panel's job board, in the session log (the
``elapsed`` column), on the task card, on the chain timeline, in the report and in a study's
report; from the simulator it is labelled "simulated" everywhere, and the simulator's dates
never reach the log's date columns.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _experimenttools import make_client
from hypothesis import given
from hypothesis import strategies as st

import luma_nb
from luma_nb._durations import (
    duration_text,
    generation_seconds,
    generation_text,
    task_generation_seconds,
    waiting_text,
)
from luma_nb.display import task_html, task_text
from luma_nb.experiment import compare_enhancement
from luma_nb.models import Task, TaskError, TaskState, VideoRequest
from luma_nb.report import report_html
from luma_nb.simulator import Simulator, VirtualClock
from tests._paneltools import Rig, async_test

# ----------------------------------------------------------------------------- the formatter


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0.0 s"),
        (0.0, "0.0 s"),
        (-0.0, "0.0 s"),
        (0.04, "0.0 s"),
        (0.4, "0.4 s"),
        (2.34, "2.3 s"),
        (9.94, "9.9 s"),
        (9.96, "10 s"),  # rounds up into the whole seconds, not "10.0 s"
        (42.4, "42 s"),
        (59.5, "1 min 00 s"),
        (136.07, "2 min 16 s"),
        (155.51, "2 min 36 s"),
        (3599.6, "1 h 00 min"),
        (3725, "1 h 02 min"),
        (999 * 3600 + 59 * 60, "999 h 59 min"),
        (1e12, "over 999 h"),
    ],
)
def test_duration_text(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
    assert duration_text(seconds, simulated=True) == f"{text} (simulated)"


@pytest.mark.parametrize(
    "hostile",
    [
        None,
        math.nan,
        math.inf,
        -math.inf,
        -1,
        -0.001,
        True,
        False,
        "12",
        b"1",
        [],
        object(),
        10**400,
    ],
)
def test_what_no_clock_could_measure_reads_unknown(hostile: object) -> None:
    assert duration_text(hostile) == "unknown"
    assert duration_text(hostile, simulated=True) == "unknown"  # nothing to label
    assert generation_text(hostile, "simulator") == "unknown"


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)))
def test_the_formatter_never_raises(value: object) -> None:
    text = duration_text(value)
    valid = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and value >= 0
    )
    assert (text == "unknown") is not valid
    assert len(text) < 20


def test_waiting_reads_as_real_time() -> None:
    assert waiting_text(2.34) == "waiting 2.3 s"
    assert waiting_text(75, over=True) == "waited 1 min 15 s"


# ----------------------------------------------------------------------------- the definition


def test_the_generation_time_is_what_the_task_reports() -> None:
    assert generation_seconds(154.22, 10.0, 20.0) == 154.22  # its elapsed first
    assert generation_seconds(None, 10.0, 22.5) == 12.5  # else its own timestamps
    assert generation_seconds(-3.0, 10.0, 22.5) == 12.5  # a nonsense elapsed is not taken
    assert generation_seconds(None, 30.0, 22.5) is None  # finished before it was created
    assert generation_seconds(None, 10.0, None) is None
    assert generation_seconds(math.nan, math.nan, 1.0) is None


def test_a_running_task_is_timed_so_far_only_on_real_clocks() -> None:
    running = Task(id="t", state=TaskState.PROCESSING, created_at=1000.0)
    assert task_generation_seconds(running, now=lambda: 1042.0) == 42.0
    assert task_generation_seconds(running, now=lambda: 900.0) is None  # clocks disagree
    assert task_generation_seconds(running, now=lambda: 1000.0 + 2 * 86400) is None
    simulated = Task(id="t", state=TaskState.PROCESSING, created_at=1000.0, backend="simulator")
    assert task_generation_seconds(simulated, now=lambda: 1042.0) is None
    failed = Task(id="t", state=TaskState.FAILED, created_at=1000.0)  # ended, no end stamp
    assert task_generation_seconds(failed, now=lambda: 1042.0) is None


# ----------------------------------------------------------------------------- every view


def _views_of_the_log(log: luma_nb.SessionLog) -> dict[str, str]:
    report = report_html(log)
    overview = report.split("<h2>Iterations</h2>")[0]
    cards = report.split("<h2>Iterations</h2>")[1]
    view = luma_nb.timeline(log)
    return {
        "report overview": overview,
        "report card": cards,
        "timeline": view.html(),
        "timeline text": view.text(),
    }


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


@async_test
async def test_a_panel_job_reads_the_same_on_every_view(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a red kite over green hills"
    panel.generate_button.click()
    [job] = panel.jobs
    await job.future
    job.tick()
    shown = job._elapsed.value
    assert shown.endswith(" (simulated)") and re.match(r"\d+ min \d\d s", shown), shown
    assert job.record is not None and job.record.elapsed is not None
    # The session log holds the same figure: history()'s elapsed column, simulated seconds.
    frame = rig.log.to_dataframe()
    assert [str(frame[c].dtype) for c in ("submitted_at", "started_at", "elapsed")] == [
        "float64"
    ] * 3
    assert frame["elapsed"].iloc[0] == pytest.approx(job.record.elapsed)
    [row] = rig.log.to_records()
    assert generation_text(row["elapsed"], row["backend"]) == shown
    for name, text in _views_of_the_log(rig.log).items():
        assert shown in text, name
    # The simulator's dates (its virtual clock is in 2025) stay out of the log's date columns.
    assert row["started_at"] is None
    assert row["submitted_at"] == pytest.approx(time.time(), abs=120)
    assert row["finished_at"] == pytest.approx(time.time(), abs=120)


@async_test
async def test_the_real_apis_figures_are_not_labelled(rig: Rig) -> None:
    panel = rig.panel(rig.client(backend="api"))
    panel.prompt.value = "a red kite over green hills"
    panel.generate_button.click()
    [job] = panel.jobs
    await job.future
    job.tick()
    assert "simulated" not in job._elapsed.value and job._elapsed.value.endswith(" s")
    for name, text in _views_of_the_log(rig.log).items():
        assert job._elapsed.value in text, name


def test_a_failed_task_reads_the_same_on_its_card_and_in_the_log(tmp_path: Path) -> None:
    log = luma_nb.SessionLog(tmp_path / "f.jsonl")
    iteration = log.begin(VideoRequest(prompt="a fox"), backend="simulator")
    task = Task(
        id="task-1",
        state=TaskState.FAILED,
        created_at=1_900_000_000.0,
        finished_at=1_900_000_064.5,
        error=TaskError(code="api_error", message="no"),
        backend="simulator",
    )
    log.submitted(iteration, task)
    expected = "1 min 04 s (simulated)"
    assert expected in task_html(task) and expected in task_text(task)
    for name, text in _views_of_the_log(log).items():
        assert expected in text, name
    # The simulator's dates (a year ahead here) are not the log's: those are this machine's.
    row = log.row(iteration)
    assert row["submitted_at"] < 1_900_000_000.0 and row["finished_at"] < 1_900_000_000.0


def test_a_caller_measured_wait_is_shown_as_waited() -> None:
    running = Task(id="t", state=TaskState.PROCESSING, backend="simulator")
    html = task_html(running, elapsed=3.7)
    assert "Waited" in html and "3.7 s" in html and "Generation time" not in html


def test_a_studys_summary_and_report_label_simulated_times(tmp_path: Path) -> None:
    sim = Simulator(clock=VirtualClock(), seed=7)
    try:
        log = luma_nb.SessionLog(tmp_path / "s.jsonl")
        study = compare_enhancement(
            ["a red kite over green hills"], client=make_client(sim, tmp_path), session=log
        )
        summary = study.summary()
        assert summary.simulated
        assert re.search(r"median generation time \d+ min \d\d s \(simulated\)", summary.text())
        assert "Median generation time" in summary._repr_html_()
        page = study.export_html(tmp_path / "study.html").read_text(encoding="utf-8")
        rows = [row for row in log.to_records() if row["experiment"] == study.id]
        assert rows and all(row["state"] == "completed" for row in rows)
        for row in rows:
            assert page.count(generation_text(row["elapsed"], row["backend"])) >= 2
        assert "sped-up clock" in page
    finally:
        sim.close()
