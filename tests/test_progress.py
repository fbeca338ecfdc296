"""The helpers' status line: its clock ticks while the wait blocks, on one definition of time."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from luma_nb import _progress
from luma_nb._progress import StatusLine
from luma_nb.models import Task, TaskState


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pretend to be in a notebook; record every version of the line."""
    drawn: list[str] = []
    lock = threading.Lock()

    class Handle:
        def update(self, item: Any, raw: bool = False) -> None:
            with lock:
                drawn.append(str(item))

    def display_html(markup: str, **_: Any) -> Handle:
        drawn.append(markup)
        return Handle()

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "display_html", display_html)
    monkeypatch.setattr(_progress, "html_object", lambda markup: markup)
    return drawn


def test_the_clock_moves_between_state_changes(shown: list[str]) -> None:
    clock = FakeClock()
    line = StatusLine("a fox", clock=clock, tick_seconds=None)
    line.update(Task(id="t1", state=TaskState.PROCESSING))
    assert "waiting 0.0 s" in shown[-1] and "processing" in shown[-1]
    clock.now += 2.3
    line.tick()
    assert "waiting 2.3 s" in shown[-1]
    clock.now += 18.0  # no new state from the API: the line still moves
    line.tick()
    assert "waiting 20.3 s" in shown[-1] and "processing" in shown[-1] and "task t1" in shown[-1]
    assert line.elapsed() == pytest.approx(20.3)
    line.close()
    count = len(shown)
    clock.now += 5
    line.tick()
    assert len(shown) == count  # a closed line is not redrawn


def test_the_ticker_redraws_while_the_main_thread_waits(shown: list[str]) -> None:
    line = StatusLine("a fox", tick_seconds=0.02)
    line.update(Task(id="t1", state=TaskState.PENDING))
    time.sleep(0.3)  # the blocking wait of the helpers
    ticks = [markup for markup in shown if "pending" in markup]
    assert len(ticks) >= 3, ticks
    times = [float(markup.split("waiting ")[1].split(" s")[0]) for markup in ticks]
    assert times == sorted(times) and times[-1] > times[0]
    line.finish(Task(id="t1", state=TaskState.FAILED))
    count = len(shown)
    time.sleep(0.1)
    assert len(shown) == count  # finished: the result is never drawn over


def test_outside_a_notebook_one_line_per_change(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    line = StatusLine("a fox", clock=clock)
    clock.now += 1.5
    line.update(Task(id="t1", state=TaskState.QUEUED))
    line.update(Task(id="t1", state=TaskState.QUEUED))
    line.tick()  # nothing to redraw in a terminal
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "[luma_nb] submitting · a fox · waiting 0.0 s",
        "[luma_nb] queued · a fox · waiting 1.5 s · task t1",
    ]
