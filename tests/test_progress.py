"""The one progress component: its clock ticks while the wait blocks, on one definition of time.

Every clock here is injected: the stopwatch's (a fake monotonic clock) and the ticking
thread's pause (a gate the test opens once per tick), so nothing sleeps for real.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from luma_nb import _progress
from luma_nb._progress import StatusLine, Stopwatch, StudyProgress, time_note, time_text
from luma_nb.models import Task, TaskState, Video, VideoRequest


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Drawn(list[str]):
    """Every version of the notebook line; ``wait_for`` blocks until there are ``n``."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def add(self, markup: str) -> None:
        with self.changed:
            self.append(markup)
            self.changed.notify_all()

    def wait_for(self, n: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self) >= n, timeout=10), list(self)


class Gate:
    """The ticking thread's pause: each :meth:`open` lets exactly one tick through."""

    def __init__(self) -> None:
        self._ticks = threading.Semaphore(0)
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self._ticks.acquire(timeout=10)

    def open(self) -> None:
        self._ticks.release()


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> Drawn:
    """Pretend to be in a notebook; record every version of the line."""
    drawn = Drawn()

    class Handle:
        def update(self, item: Any, raw: bool = False) -> None:
            drawn.add(str(item))

    def display_html(markup: str, **_: Any) -> Handle:
        drawn.add(markup)
        return Handle()

    monkeypatch.setattr(_progress, "in_cell", lambda: True)
    monkeypatch.setattr(_progress, "display_html", display_html)
    monkeypatch.setattr(_progress, "html_object", lambda markup: markup)
    return drawn


def test_the_clock_moves_between_state_changes(shown: Drawn) -> None:
    clock = FakeClock()
    line = StatusLine("a fox", clock=clock, tick_seconds=None)
    line.update(Task(id="t1", state=TaskState.PROCESSING))
    assert "waiting 0.0 s" in shown[-1] and "processing" in shown[-1]
    clock.now += 2.3
    line.tick()
    assert "waiting 2.3 s" in shown[-1]
    clock.now += 18.0  # no new state from the API: the line still moves
    line.tick()
    assert "waiting 20 s" in shown[-1] and "processing" in shown[-1] and "task t1" in shown[-1]
    assert line.elapsed() == pytest.approx(20.3)
    line.close()
    assert "waited 20 s" in shown[-1]  # the line keeps its text, the time as waited
    count = len(shown)
    clock.now += 5
    line.tick()
    line.close()
    assert len(shown) == count  # a closed line is not redrawn (nor closed twice)


def test_the_ticker_redraws_while_the_main_thread_waits(shown: Drawn) -> None:
    clock, gate = FakeClock(), Gate()
    line = StatusLine("a fox", clock=clock, sleep=gate, tick_seconds=1.0)
    line.update(Task(id="t1", state=TaskState.PENDING))
    before = len(shown)
    for n in range(1, 4):  # the main thread is "blocked in the wait": only the ticker draws
        clock.now += 1.0
        gate.open()
        shown.wait_for(before + n)
        assert f"waiting {n}.0 s" in shown[-1] and "pending" in shown[-1]
    assert gate.asked[0] == 1.0
    line.finish(Task(id="t1", state=TaskState.FAILED))
    count = len(shown)
    clock.now += 1.0
    gate.open()  # a tick after the finish: the result is never drawn over
    line.tick()
    assert len(shown) == count


def test_a_failing_redraw_ends_the_ticking_never_the_wait(
    shown: Drawn, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate, failed = Gate(), threading.Event()
    line = StatusLine("a fox", clock=FakeClock(), sleep=gate)

    def broken(markup: str) -> str:
        failed.set()
        raise RuntimeError("the front end went away")

    monkeypatch.setattr(_progress, "html_object", broken)
    gate.open()  # the ticker's redraw raises: the thread ends quietly
    assert failed.wait(10)
    monkeypatch.undo()
    line.update(Task(id="t1", state=TaskState.COMPLETED))  # the helper goes on
    line.close()


def test_server_text_is_escaped_in_both_views(
    shown: Drawn, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = StatusLine("a fox", clock=FakeClock(), tick_seconds=None)
    line.update(Task(id="t\u202e1<b>", state=TaskState.UNKNOWN, raw_state="\x1b[2Jdreaming"))
    assert "<b>" not in shown[-1] and "\u202e" not in shown[-1] and "\x1b" not in shown[-1]
    monkeypatch.setattr(_progress, "in_cell", lambda: False)
    plain = StatusLine("a fox", clock=FakeClock())
    plain.update(Task(id="t\u202e1", state=TaskState.UNKNOWN, raw_state="\x1b[2Jdreaming"))
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and "\\x1b" in err


def test_outside_a_notebook_one_line_per_change(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    line = StatusLine("a fox", clock=clock)
    clock.now += 1.5
    line.update(Task(id="t1", state=TaskState.QUEUED))
    line.update(Task(id="t1", state=TaskState.QUEUED))
    line.tick()  # nothing to redraw in a terminal
    line.close()  # nothing new to say
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "[luma_nb] submitting · a fox · waiting 0.0 s",
        "[luma_nb] queued · a fox · waiting 1.5 s · task t1",
    ]


# ----------------------------------------------------------------------------- studies


def test_a_studys_line_counts_and_ticks(shown: Drawn) -> None:
    clock, gate = FakeClock(), Gate()
    progress = StudyProgress("experiment s", total=4, done=1, clock=clock, sleep=gate)
    assert "1 of 4 videos finished · 0 running" in shown[-1]
    progress.update(running=2)
    progress.update(done=1, failed=1, running=1)
    assert "2 of 4 videos finished · 1 running · 1 failed" in shown[-1]
    assert "waiting 0.0 s" in shown[-1]
    before = len(shown)
    clock.now += 12.0
    gate.open()  # the study's wait blocks the main thread; its line still moves
    shown.wait_for(before + 1)
    assert "waiting 12 s" in shown[-1] and "2 of 4" in shown[-1]
    progress.close()
    assert "stopped" in shown[-1] and "waited 12 s" in shown[-1]
    gate.open()  # let the ticking thread see the close and end


def test_a_studys_line_outside_a_notebook_is_one_line_at_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock()
    progress = StudyProgress("experiment s", total=2, clock=clock)
    progress.update(running=2)
    progress.update(done=1, running=1)
    clock.now += 3.25
    progress.update(done=1, running=0)
    assert capsys.readouterr().err == ""
    progress.close()
    assert capsys.readouterr().err.splitlines() == [
        "[luma_nb] finished · experiment s · waited 3.2 s · 2 of 2 videos finished · 0 running"
    ]


# ----------------------------------------------------------------------------- the time


def _done(backend: str, elapsed: float | None = 136.07) -> Task:
    return Task(id="t", state=TaskState.COMPLETED, elapsed=elapsed, backend=backend)


def test_time_text_waits_then_says_the_generation_time() -> None:
    clock = FakeClock()
    watch = Stopwatch(clock)
    clock.now += 2.3
    assert time_text(watch, _done("simulator")) == "waiting 2.3 s"  # still waiting here
    watch.stop()
    clock.now += 50
    watch.stop()  # the first stop counts
    assert watch.seconds() == pytest.approx(2.3)
    assert time_text(watch, _done("simulator")) == "2 min 16 s (simulated)"
    assert time_text(watch, _done("api")) == "2 min 16 s"
    # No generation time reported, or the task never ended: the real wait, as waited.
    assert time_text(watch, _done("api", elapsed=None)) == "waited 2.3 s"
    assert time_text(watch, Task(id="t", state=TaskState.PROCESSING)) == "waited 2.3 s"
    assert time_text(watch) == "waited 2.3 s"
    assert "sped-up clock" in time_note(watch, _done("simulator"))
    assert "API's clock" in time_note(watch, _done("api"))
    assert "waited 2.3 s on this machine" in time_note(watch, None)


def test_a_stopwatch_never_runs_backwards() -> None:
    clock = FakeClock()
    watch = Stopwatch(clock)
    clock.now -= 5  # a clock that is not monotonic after all
    assert watch.seconds() == 0.0


def test_the_panels_job_row_takes_its_time_from_the_same_component() -> None:
    from luma_nb.panel import Job

    clock = FakeClock()
    job = Job(VideoRequest(prompt="a fox"), "it-1", calls=None, clock=clock)  # type: ignore[arg-type]
    assert job._elapsed.value == "waiting 0.0 s"
    clock.now += 3.7
    job.tick()
    assert job._elapsed.value == "waiting 3.7 s" == job.time_text
    job.set_task(_done("simulator"))
    job.set_state("completed")
    clock.now += 10
    job.tick()
    assert job._elapsed.value == "2 min 16 s (simulated)"
    assert "waited 3.7 s" in str(job._elapsed.tooltip)
    assert job.elapsed == pytest.approx(3.7) and job.ended == pytest.approx(103.7)

    cancelled = Job(VideoRequest(prompt="a fox"), "it-2", calls=None, clock=clock)  # type: ignore[arg-type]
    clock.now += 1.25
    cancelled.set_state("cancelled", "stopped")
    assert cancelled._elapsed.value == "waited 1.2 s"


def test_in_a_widgets_callback_the_line_prints_and_the_result_is_displayed_anew(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An ipywidgets.Output drops update_display_data: nothing may rely on updating in place.
    shown: list[object] = []
    monkeypatch.setattr(_progress, "in_cell", lambda: False)
    monkeypatch.setattr(
        _progress, "display_html", lambda *a, **k: pytest.fail("no in-place line in a callback")
    )
    from luma_nb import display

    monkeypatch.setattr(display, "in_notebook", lambda: True)
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    line = _progress.StatusLine("a kite", tick_seconds=None)
    line.update(Task(id="t1", state=TaskState.PROCESSING))
    video = Video(task_id="t1", video_url="https://example.com/v.mp4", prompt="a kite")
    line.finish(video)
    err = capsys.readouterr().err
    assert "submitting · a kite" in err and "processing · a kite" in err
    assert len(shown) == 1 and "text/html" in shown[0]  # type: ignore[operator]
