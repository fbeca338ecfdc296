"""Double clicks never spend twice: Generate, Rerun and Save in the panel.

Every button that submits or writes goes through one guard (``luma_nb._click_guard``): while
its submit's POST is in flight the button is disabled and says "Submitting…", and a second
click meaning the same thing within the window (2 s, on an injected clock here) is ignored
and said so. POSTs are counted where they land: in the simulator's journal.

Clicks are made as ipykernel delivers them: ``button.click()`` runs the handler at once, and
nothing else runs on the loop until the test awaits, so "back to back" means two handlers
before the first job's task has started. The blind review's buttons are tested with the review
(``test_experiment_review.py``), a kernel's own click messages in ``test_panel_kernel.py``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb._click_guard import ClickGuard, Refusal
from luma_nb.panel import Panel
from luma_nb.panel._generate import GENERATE
from tests._paneltools import Rig, async_test, until

pytest.importorskip("ipywidgets")

WINDOW = 2.0
VIDEOS = "/luma/videos"


class Tick:
    """A clock for the click window that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Gate(httpx.AsyncBaseTransport):
    """The simulator's transport; submits wait for :attr:`open` (set by default)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.open = asyncio.Event()
        self.open.set()
        self.arrived = 0  # submits that reached this transport (some may wait at the gate)
        self.bodies: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == VIDEOS:
            self.arrived += 1
            self.bodies.append(json.loads(request.content))
            await self.open.wait()
        return await self.inner.handle_async_request(request)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


@pytest.fixture
def rig_with(tmp_path: Path) -> Iterator[Any]:
    """``rig_with(**simulator_options)``: a rig on a simulator made so."""
    made: list[Rig] = []
    yield lambda **options: made.append(Rig(tmp_path, sim_options=options)) or made[-1]
    for rig in made:
        rig.close()


def posts(rig: Rig) -> int:
    """Submits that reached the simulator."""
    return sum(e.method == "POST" and e.path == VIDEOS for e in rig.sim.journal)


def rig_panel(rig: Rig) -> tuple[Panel, Gate, Tick]:
    """A panel over a gated simulator transport, its window on a clock of its own."""
    gate, tick = Gate(rig.sim.transport()), Tick()
    return rig.panel(rig.client(transport=gate), click_window=WINDOW, clock=tick), gate, tick


async def submitted(panel: Panel) -> None:
    """Let the loop run until no Generate POST is in flight."""
    await until(lambda: not panel.click_guard.busy(GENERATE))


def events(path: Path, kind: str) -> int:
    """How many ``kind`` events the session log holds."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return sum(json.loads(line).get("event") == kind for line in lines)


# ----------------------------------------------------------------------------- the guard


def test_the_guard_holds_a_key_until_released_then_keeps_a_window() -> None:
    tick = Tick()
    guard = ClickGuard(WINDOW, tick)
    first = guard.claim("k", "a")
    assert not isinstance(first, Refusal) and guard.busy("k")
    busy = guard.claim("k", "b")  # even a different intent waits while one is in flight
    assert isinstance(busy, Refusal) and busy.reason == "busy"
    assert guard.claim("other", "a") is not None and guard.busy("other")  # keys are apart
    first.release()
    first.release()  # idempotent
    tick.advance(1.0)
    repeat = guard.claim("k", "a")
    assert isinstance(repeat, Refusal) and repeat.reason == "repeat" and repeat.age == 1.0
    assert "1.0 s ago" in repeat.sentence() and "ignored" in repeat.sentence()
    changed = guard.claim("k", "b")
    assert not isinstance(changed, Refusal)
    changed.release(forget=True)  # provably sent nothing: no window for it
    again = guard.claim("k", "b")
    assert not isinstance(again, Refusal)
    again.release()
    tick.advance(WINDOW)
    assert not isinstance(guard.claim("k", "b"), Refusal)


def test_the_guard_shows_a_busy_button_and_restores_it() -> None:
    class Button:
        description, tooltip, disabled = "Go", None, False

    button = Button()
    guard = ClickGuard()
    released: list[bool] = []
    claim = guard.claim("k", 1, button=button, on_release=lambda: released.append(True))
    assert not isinstance(claim, Refusal)
    assert button.disabled and button.description == "Submitting…" and button.tooltip
    claim.release()
    assert (button.description, button.tooltip, button.disabled) == ("Go", None, False)
    assert released == [True]


def test_a_bad_window_is_refused_and_an_action_that_raises_leaves_no_window() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="window"):
            ClickGuard(bad)
    with pytest.raises(TypeError):
        ClickGuard("2")  # type: ignore[arg-type]
    guard = ClickGuard(WINDOW, Tick())

    def boom() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        guard.run("save", 4, boom)
    assert not guard.busy("save")
    assert guard.run("save", 4, lambda: None) is None  # the retry is not a double click


# ----------------------------------------------------------------------------- Generate


@async_test
async def test_two_clicks_back_to_back_make_one_submit(rig: Rig) -> None:
    panel, _gate, _tick = rig_panel(rig)
    panel.prompt.value = "a red kite over green hills"
    panel.generate_button.click()
    panel.generate_button.click()  # before the loop ran the first job's task
    assert len(panel.jobs) == 1
    assert "ignored" in panel.form_message.value
    await panel.jobs[0].future
    await panel.idle()
    assert posts(rig) == 1 and len(rig.log.to_records()) == 1
    assert panel.jobs[0].state == "completed"


@async_test
async def test_a_second_click_30_ms_later_is_ignored_and_said(rig: Rig) -> None:
    panel, _gate, tick = rig_panel(rig)
    panel.prompt.value = "a fox in the snow"
    panel.generate_button.click()
    await submitted(panel)  # the POST is over: the button is enabled again
    assert not panel.generate_button.disabled
    tick.advance(0.03)
    panel.generate_button.click()
    assert len(panel.jobs) == 1
    message = panel.form_message.value
    assert "same request was sent 0.0 s ago" in message and "ignored" in message
    assert "after 2 s" in message
    await panel.idle()
    assert posts(rig) == 1
    # The notice stays until the form changes.
    panel.refresh()
    assert "ignored" in panel.form_message.value
    panel.prompt.value = "a fox in the snow, at night"
    assert panel.form_message.value == ""


@async_test
async def test_a_click_during_the_submit_is_ignored_and_the_button_says_submitting(
    rig: Rig,
) -> None:
    panel, gate, tick = rig_panel(rig)
    gate.open.clear()  # the POST hangs until the test lets it through
    panel.prompt.value = "a slow lighthouse"
    panel.generate_button.click()
    await until(lambda: gate.arrived == 1)
    button = panel.generate_button
    assert button.disabled and button.description == "Submitting…"
    assert "ignored" in (button.tooltip or "")
    panel.prompt.value = "even a changed form waits while a POST is in flight"
    assert button.disabled  # the form changed, and the button still says it is busy
    tick.advance(5.0)
    button.click()
    assert len(panel.jobs) == 1
    assert "still being handled" in panel.form_message.value
    gate.open.set()
    await submitted(panel)
    assert not button.disabled and button.description == "Generate"
    await panel.idle()
    assert posts(rig) == 1 and gate.arrived == 1


@async_test
async def test_the_window_counts_from_the_end_of_a_slow_submit(rig: Rig) -> None:
    panel, gate, tick = rig_panel(rig)
    gate.open.clear()
    panel.prompt.value = "a slow POST"
    panel.generate_button.click()
    await until(lambda: gate.arrived == 1)
    tick.advance(10.0)  # the POST took 10 s
    gate.open.set()
    await submitted(panel)
    tick.advance(0.5)
    panel.generate_button.click()  # half a second after the answer: still a double click
    assert len(panel.jobs) == 1
    await panel.idle()
    assert posts(rig) == 1


@async_test
async def test_a_changed_form_submits_at_once(rig: Rig) -> None:
    panel, _gate, _tick = rig_panel(rig)
    panel.prompt.value = "a bee on a flower"
    panel.generate_button.click()
    await submitted(panel)
    for change in (
        lambda: setattr(panel.prompt, "value", "a bee on a sunflower"),
        lambda: setattr(panel.loop, "value", True),
        lambda: setattr(panel.aspect_ratio, "value", "1:1"),
        lambda: setattr(panel.mode, "value", "sync"),  # not a request field, but sent apart
    ):
        change()
        panel.generate_button.click()
        await submitted(panel)
    await panel.idle()
    assert len(panel.jobs) == 5 and posts(rig) == 5
    assert "ignored" not in panel.form_message.value


@async_test
async def test_a_refused_submit_reenables_the_button_and_may_be_retried_at_once(
    rig_with: Any,
) -> None:
    rig = rig_with(credits=0)  # every submit: 403 used_up
    panel, gate, _tick = rig_panel(rig)
    gate.open.clear()
    panel.prompt.value = "a calm lake"
    panel.generate_button.click()
    await until(lambda: gate.arrived == 1)
    assert panel.generate_button.disabled
    gate.open.set()
    await panel.jobs[0].future
    assert isinstance(panel.jobs[0].error, luma_nb.InsufficientBalanceError)
    assert not panel.generate_button.disabled
    assert panel.generate_button.description == "Generate"
    # The API refused it: nothing was billed, so clicking again is not a double click.
    panel.generate_button.click()
    await panel.idle()
    assert len(panel.jobs) == 2 and posts(rig) == 2


@async_test
async def test_a_submit_of_unknown_outcome_keeps_the_window(rig_with: Any) -> None:
    rig = rig_with(faults="5xx=1:1:500,on=videos")
    panel, _gate, tick = rig_panel(rig)
    panel.prompt.value = "a lost request"
    panel.generate_button.click()
    await panel.jobs[0].future
    assert panel.jobs[0].state == "outcome_unknown"
    assert not panel.generate_button.disabled  # re-enabled after the failure
    panel.generate_button.click()  # it may have been billed: the window holds
    assert len(panel.jobs) == 1 and "ignored" in panel.form_message.value
    tick.advance(WINDOW)
    panel.generate_button.click()
    await panel.idle()
    assert len(panel.jobs) == 2 and posts(rig) == 2


@async_test
async def test_a_job_cancelled_before_it_began_frees_the_button(rig: Rig) -> None:
    panel, _gate, _tick = rig_panel(rig)
    panel.prompt.value = "never sent"
    panel.generate_button.click()
    panel.jobs[0].cancel()  # before the loop ran it
    await panel.idle()
    assert posts(rig) == 0 and not panel.generate_button.disabled
    panel.generate_button.click()  # nothing was sent, so this is no double click
    await panel.idle()
    assert len(panel.jobs) == 2 and posts(rig) == 1


@async_test
async def test_code_calls_to_submit_are_not_guarded(rig: Rig) -> None:
    panel, _gate, _tick = rig_panel(rig)
    panel.prompt.value = "two on purpose"
    panel.submit()
    panel.submit()  # a call from code is deliberate
    await panel.idle()
    assert posts(rig) == 2


def test_without_a_running_loop_the_button_comes_back(rig: Rig) -> None:
    import time

    panel = rig.panel(click_window=WINDOW, clock=Tick())  # plain Python: the private loop
    panel.prompt.value = "in the background"
    panel.generate_button.click()
    panel.generate_button.click()
    deadline = time.monotonic() + 20
    while panel.jobs[0].running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(panel.jobs) == 1 and posts(rig) == 1
    assert not panel.generate_button.disabled and panel.generate_button.description == "Generate"


# ----------------------------------------------------------------------------- Rerun and Extend


@async_test
async def test_rerun_double_click_makes_one_job_per_source_result(rig: Rig) -> None:
    panel, gate, tick = rig_panel(rig)
    panel.prompt.value = "a mountain lake"
    first = panel.submit()
    panel.prompt.value = "a desert road"
    second = panel.submit()
    await first.future
    await second.future
    assert posts(rig) == 2
    cards = {card.job: card for card in panel.results.cards}
    rerun = cards[first].rerun_button
    gate.open.clear()
    rerun.click()
    rerun.click()
    assert len(panel.jobs) == 3
    await until(lambda: gate.arrived == 3)
    assert rerun.disabled and rerun.description == "Submitting…"
    cards[second].rerun_button.click()  # another result's Rerun is its own button
    assert len(panel.jobs) == 4
    gate.open.set()
    await until(lambda: not rerun.disabled)
    assert rerun.description == "Rerun with these settings"
    tick.advance(0.03)
    rerun.click()
    assert len(panel.jobs) == 4 and "ignored" in panel.form_message.value
    tick.advance(WINDOW)
    rerun.click()  # a deliberate rerun, later
    await panel.idle()
    assert len(panel.jobs) == 5 and posts(rig) == 5
    prompts = [job.request.prompt for job in panel.jobs]
    assert prompts.count("a mountain lake") == 3 and prompts.count("a desert road") == 2


@async_test
async def test_extend_double_clicks_make_one_extend(rig: Rig) -> None:
    panel, gate, _tick = rig_panel(rig)
    panel.prompt.value = "a kite"
    first = panel.submit()
    await first.future
    card = panel.results.cards[0]
    card.extend_button.click()
    card.extend_button.click()  # it only fills the form: nothing is sent
    assert posts(rig) == 1 and panel.action.value == "extend"
    panel.prompt.value = "the kite flies higher"
    panel.generate_button.click()
    panel.generate_button.click()
    await panel.idle()
    extends = [body for body in gate.bodies if body.get("action") == "extend"]
    assert first.video is not None
    assert len(extends) == 1 and extends[0]["video_id"] == first.video.video_id
    assert posts(rig) == 2


# ----------------------------------------------------------------------------- ratings


@async_test
async def test_save_double_click_writes_one_rating(rig: Rig) -> None:
    panel, _gate, _tick = rig_panel(rig)
    panel.prompt.value = "a quiet harbour"
    await panel.submit().future
    card = panel.results.cards[0]
    card.rating.value = 4
    card.save_button.click()
    card.save_button.click()
    assert events(rig.log.path, "rate") == 1
    assert "ignored" in card.saved.value
    assert not card.save_button.disabled and card.save_button.description == "Save"
    card.rating.value = 5  # a changed rating is saved at once
    card.save_button.click()
    assert events(rig.log.path, "rate") == 2 and rig.log.to_records()[0]["rating"] == 5


# ----------------------------------------------------------------------------- sweep

# One step: (seconds since the previous step, which form (0 or 1), let the POST finish after?)
Step = tuple[float, int, bool]
GAPS = st.sampled_from([0.0, 0.01, 0.03, 0.3, 1.0, 1.99, 2.0, 2.01, 5.0])
STEPS = st.lists(st.tuples(GAPS, st.integers(0, 1), st.booleans()), min_size=1, max_size=8)


def distinct_intents(steps: list[Step]) -> int:
    """The clicks a person meant: a new form, or the same one after the window, once free."""
    # The same arithmetic as the panel's clock (from the same start), so that a gap that sums
    # to exactly the window is on the same side of it in both.
    now, busy, last, ended, count = Tick().now, False, None, 0.0, 0
    for gap, form, settle in steps:
        now += gap
        if not busy and (form != last or now - ended >= WINDOW):
            busy, last, count = True, form, count + 1
        if settle and busy:
            busy, ended = False, now
    return count


async def _play(tmp: Path, steps: list[Step]) -> tuple[int, int]:
    rig = Rig(tmp)
    rig.gate = asyncio.Event()  # jobs stop at their first poll: only the submits matter
    try:
        panel, _gate, tick = rig_panel(rig)
        prompts = ["a paper boat on a pond", "a paper boat on the sea"]
        for gap, form, settle in steps:
            tick.advance(gap)
            panel.prompt.value = prompts[form]
            panel.generate_button.click()
            if settle:
                await submitted(panel)
        await submitted(panel)
        await until(lambda: posts(rig) == len(panel.jobs))
        for job in panel.jobs:
            job.cancel()
        await panel.idle()
        return len(panel.jobs), posts(rig)
    finally:
        rig.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_sweep_submits_equal_distinct_intents(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        jobs, sent = asyncio.run(asyncio.wait_for(_play(Path(folder), steps), 60))
    assert jobs == sent == distinct_intents(steps), steps


@pytest.mark.parametrize("gap", [0.0, 0.001, 0.03, 0.5, 1.0, 1.999, 2.0, 2.5, 60.0])
@pytest.mark.parametrize("settle", [False, True], ids=["in-flight", "answered"])
def test_sweep_two_clicks_on_an_unchanged_form(tmp_path: Path, gap: float, settle: bool) -> None:
    """One submit within the window or while in flight; two once it passed after the answer."""
    steps: list[Step] = [(0.0, 0, settle), (gap, 0, True)]
    jobs, sent = asyncio.run(asyncio.wait_for(_play(tmp_path, steps), 60))
    assert jobs == sent == (2 if settle and gap >= WINDOW else 1)
