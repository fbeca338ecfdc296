"""The widget panel, driven from pytest: set values, click, await the job, check traits and log.

Everything runs on an in-process simulator with a virtual clock; each test body runs on its
own event loop, which plays the kernel's loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import luma_nb
from luma_nb.panel import Panel
from tests._paneltools import Rig, all_html, async_test, state_text, until


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


# ----------------------------------------------------------------------------- generate


@async_test
async def test_generate_click_returns_at_once_and_completes(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a red kite over green hills"
    panel.aspect_ratio.value = "9:16"
    panel.enhancement.value = False
    assert panel.form_message.value == ""
    assert not panel.generate_button.disabled

    started = time.perf_counter()
    panel.generate_button.click()
    assert time.perf_counter() - started < 0.2
    [job] = panel.jobs
    assert not job.future.done(), "the click only schedules the job"
    assert state_text(job) == "submitting"
    # The iteration is on disk before anything was sent.
    [row] = rig.log.to_records()
    assert row["state"] == "submitting" and row["iteration"] == job.iteration

    video = await job.future
    assert isinstance(video, luma_nb.Video)
    assert job.state == "completed" and state_text(job) == "completed"
    assert job.video == video and job.error is None
    assert job.task_id == video.task_id
    assert "luma-nb-job" in job.row._dom_classes
    [card] = panel.results.cards
    assert "<video" in card.player.value
    assert "data:video/mp4;base64," in card.player.value  # the simulator's clip, embedded
    assert "a red kite over green hills" in card.player.value
    assert "luma-nb-results" in panel.results.box._dom_classes
    assert panel.results.box.children[0] is card.widget

    [row] = rig.log.to_records()
    assert row["prompt"] == "a red kite over green hills"
    assert row["aspect_ratio"] == "9:16"
    assert row["enhancement"] is False and row["loop"] is False
    assert row["state"] == "completed"
    assert row["task_id"] == job.task_id
    assert row["backend"] == "simulator"
    assert row["media_path"] and Path(row["media_path"]).is_file()
    assert panel.history.iterations == [job.iteration]
    assert "completed" in all_html(panel.history.box)


@async_test
async def test_the_loop_stays_free_while_a_job_runs(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a lighthouse at dusk"
    panel.generate_button.click()
    job = panel.jobs[-1]
    turns = 0
    while not job.future.done():
        turns += 1  # another "cell" runs between the job's steps
        await asyncio.sleep(0)
    assert turns > 5
    assert job.state == "completed"


@async_test
async def test_several_jobs_at_once(rig: Rig) -> None:
    panel = rig.panel()
    prompts = ["a fox in snow", "a whale at sea", "a bee on a flower"]
    for prompt in prompts:
        panel.prompt.value = prompt
        panel.generate_button.click()
        # Generate is busy only while the POST is in flight; then the next job can start.
        assert panel.generate_button.disabled
        await until(lambda: not panel.generate_button.disabled)
    jobs = panel.jobs
    assert len(jobs) == 3 and not any(job.future.done() for job in jobs)
    await asyncio.gather(*(job.future for job in jobs))
    assert [job.state for job in jobs] == ["completed"] * 3
    # They overlapped: every job had started before the first one ended.
    assert max(job.started for job in jobs) < min(job.ended or 0 for job in jobs)
    rows = rig.log.to_records()
    assert [row["prompt"] for row in rows] == prompts
    assert len({row["task_id"] for row in rows}) == 3
    assert len(panel.results.cards) == 3
    # The board shows the newest job on top.
    assert panel.board.box.children[0] is jobs[-1].row


@async_test
async def test_elapsed_ticks_while_running(rig: Rig) -> None:
    rig.gate = asyncio.Event()  # polling waits until the test opens the gate
    panel = rig.panel()
    panel.tick_seconds = 0.05
    panel.prompt.value = "a slow sunrise"
    panel.generate_button.click()
    job = panel.jobs[-1]
    ticker = panel._ticker
    assert ticker is not None
    await until(lambda: job.task_id is not None)
    await asyncio.sleep(0.2)
    assert job._elapsed.value.endswith(" s") and job._elapsed.value != "0.0 s"
    assert not ticker.done()
    rig.gate.set()
    await job.future
    await until(ticker.done, timeout=1)
    assert panel._ticker is None  # no job runs: the ticker was stopped


@async_test
async def test_sync_mode_and_advanced_fields_are_sent(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a paper boat"
    panel.mode.value = "sync"
    panel.api_timeout.value = "600"
    panel.loop.value = True
    request = panel.request()
    assert request.timeout == 600.0 and request.loop is True
    job = panel.submit()
    assert job.sync
    await job.future
    assert job.state == "completed"
    [row] = rig.log.to_records()
    assert row["timeout"] == 600.0 and row["loop"] is True and row["state"] == "completed"
    assert "Sent in sync mode" in panel.code()


@async_test
async def test_a_blocking_client_runs_in_threads(rig: Rig) -> None:
    panel = rig.panel(rig.sync_client())
    panel.prompt.value = "a windmill in a storm"
    panel.generate_button.click()
    job = panel.jobs[-1]
    assert not job.future.done()
    await job.future
    assert job.state == "completed", job.message
    assert "<video" in panel.results.cards[0].player.value
    assert rig.log.to_records()[0]["media_path"]


# ----------------------------------------------------------------------------- cancel


@async_test
async def test_cancel_stops_waiting_and_leaves_the_task_pending(rig: Rig) -> None:
    rig.gate = asyncio.Event()
    client = rig.client()
    panel = rig.panel(client)
    panel.prompt.value = "a tram in the fog"
    panel.generate_button.click()
    job = panel.jobs[-1]
    await until(lambda: job.task_id is not None)
    job.cancel_button.click()
    assert await job.future is None
    assert job.state == "cancelled" and state_text(job) == "cancelled"
    assert "may still finish on the server" in job.message
    assert "pending" in job.message
    assert job.cancel_button.disabled
    assert "may still finish" in all_html(job.row)
    [row] = rig.log.to_records()
    assert row["task_id"] == job.task_id
    assert row["state"] not in ("completed", "failed")
    assert [pending["iteration"] for pending in rig.log.pending()] == [job.iteration]

    # Later the task is picked up again and finishes.
    rig.gate.set()
    [task] = await rig.log.aresume(client)
    assert task.succeeded
    assert rig.log.to_records()[0]["state"] == "completed"
    assert job.state == "cancelled"  # the cancelled row is not revived


@async_test
async def test_cancel_before_the_job_began_sends_nothing(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "never sent"
    panel.generate_button.click()
    job = panel.jobs[-1]
    job.cancel()
    assert await asyncio.gather(job.future, return_exceptions=True)
    await until(lambda: not job.running)
    assert job.state == "cancelled"
    assert "nothing was submitted" in job.message
    assert rig.sim.stats.tasks_created == 0
    [row] = rig.log.to_records()
    assert row["state"] == "failed" and row["task_id"] is None
    assert rig.log.pending() == []


@async_test
async def test_cancel_during_the_submit_is_logged_as_outcome_unknown(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "cancelled mid-flight"
    panel.generate_button.click()
    job = panel.jobs[-1]
    await asyncio.sleep(0)  # one turn of the loop: the job starts and its POST is on its way
    assert job.entered
    assert job.task_id is None
    job.cancel()
    await job.future
    assert job.state == "cancelled"
    assert "may already have reached the server" in job.message
    [row] = rig.log.to_records()
    assert row["state"] == "outcome_unknown"  # it may have been billed: not resubmitted blindly
    # The client may surface the interrupted POST as an unknown outcome rather than a bare
    # cancellation; either way it is recorded as such.
    assert row["error_type"] in ("CancelledError", "SubmitOutcomeUnknownError")


@async_test
async def test_cancel_with_a_blocking_client_stops_its_thread(rig: Rig) -> None:
    import threading

    rig.thread_gate = threading.Event()
    panel = rig.panel(rig.sync_client())
    panel.prompt.value = "a kite in a thread"
    panel.generate_button.click()
    job = panel.jobs[-1]
    await until(lambda: job.task_id is not None)
    job.cancel()
    await job.future
    assert job.state == "cancelled"
    await asyncio.sleep(0.1)  # let a poll already in flight land: the thread then waits
    requests = rig.sim.stats.requests
    rig.thread_gate.set()  # the worker wakes up, sees the stop and ends without polling
    await asyncio.sleep(0.3)
    assert rig.sim.stats.requests == requests
    assert [row["iteration"] for row in rig.log.pending()] == [job.iteration]


# ----------------------------------------------------------------------------- after a result


@async_test
async def test_extend_this_selects_the_video_and_extends_it(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a snail on a leaf"
    first = panel.submit()
    await first.future
    panel.results.cards[0].extend_button.click()
    assert panel.action.value == "extend"
    assert panel.extend_choice.value == first.iteration
    assert panel.aspect_ratio.value == ""  # an extend keeps the original's ratio
    assert "data:image/" in panel._form.extend_preview.value  # the picked video's thumbnail
    panel.prompt.value = "the snail reaches the edge"
    assert panel.form_message.value == ""
    request = panel.request()
    assert first.video is not None
    assert request.action == "extend" and request.video_id == first.video.video_id
    second = panel.submit()
    await second.future
    assert second.state == "completed", second.message
    rows = rig.log.to_records()
    assert rows[1]["action"] == "extend"
    assert rows[1]["video_id_sent"] == first.video.video_id
    assert rows[1]["parent"] == first.iteration
    assert rows[1]["aspect_ratio"] is None
    assert [r["iteration"] for r in rig.log.lineage(second.iteration)] == [
        first.iteration,
        second.iteration,
    ]


@async_test
async def test_extend_by_pasting_an_id_or_a_url(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a river"
    first = panel.submit()
    await first.future
    assert first.video is not None
    panel.action.value = "extend"
    panel.prompt.value = ""
    assert "Extend needs a video" in panel.form_message.value
    assert panel.generate_button.disabled
    panel.extend_ref.value = first.video.video_id or ""
    request = panel.request()
    assert request.video_id == first.video.video_id and request.prompt is None
    panel.extend_ref.value = first.video.video_url
    request = panel.request()
    assert request.video_url == first.video.video_url and request.video_id is None
    job = panel.submit()
    await job.future
    assert job.state == "completed", job.message
    assert rig.log.to_records()[1]["video_url_sent"] == first.video.video_url

    # Its code extends by URL too (not the session's last video).
    code = panel.code(job.request)
    assert "video_url=" in code
    luma_nb.use(rig.sync_client(), rig.log)
    try:
        await asyncio.to_thread(exec, code, {})
    finally:
        luma_nb.notebook.reset()
    row = rig.log.to_records()[-1]
    assert row["video_url_sent"] == first.video.video_url and row["video_id_sent"] is None
    assert row["state"] == "completed"


@async_test
async def test_rerun_sends_the_same_request_again(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a mountain lake"
    panel.aspect_ratio.value = "1:1"
    first = panel.submit()
    await first.future
    panel.prompt.value = "something else entirely"  # the form is not what reruns
    panel.results.cards[0].rerun_button.click()
    second = panel.jobs[-1]
    assert second is not first and second.request == first.request
    await second.future
    assert second.state == "completed"
    rows = rig.log.to_records()
    assert [r["prompt"] for r in rows] == ["a mountain lake"] * 2
    assert [r["aspect_ratio"] for r in rows] == ["1:1"] * 2
    assert rows[0]["task_id"] != rows[1]["task_id"]


@async_test
async def test_rate_writes_the_log(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a quiet harbour"
    job = panel.submit()
    await job.future
    card = panel.results.cards[0]
    assert card.save_button.disabled
    card.rating.value = 4
    card.note.value = "calm <water>"
    card.save_button.click()
    [row] = rig.log.to_records()
    assert row["rating"] == 4 and row["note"] == "calm <water>"
    assert "saved: 4/5" in card.saved.value and "&lt;water&gt;" in card.saved.value
    assert "4/5" in all_html(panel.history.box)


@async_test
async def test_a_saved_notebook_keeps_a_snapshot_of_the_results(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython.display

    shown: list[tuple[dict, object]] = []
    updated: list[tuple[dict, object]] = []
    monkeypatch.setattr(
        IPython.display, "display", lambda b, raw, display_id=None: shown.append((b, display_id))
    )
    monkeypatch.setattr(
        IPython.display,
        "update_display",
        lambda b, raw, display_id: updated.append((b, display_id)),
    )
    panel = rig.panel()
    panel._ipython_display_()
    # The widget (with a readable text/plain, not the VBox repr), then the snapshot by id.
    (widget, no_id), (snap, key) = shown
    assert no_id is None and key == panel.snapshot.key
    assert "application/vnd.jupyter.widget-view+json" in widget
    assert widget["text/plain"].startswith("Luma video panel (a live widget")
    assert "VBox" not in widget["text/plain"] and "No results yet" in snap["text/html"]
    assert f'data-luma-live="{key}"' in snap["text/html"]
    assert panel.snapshot.key in all_html(panel.widget)  # the live widget hides its copy

    panel.prompt.value = "a quiet harbour at dawn"
    job = panel.submit()
    await job.future
    html, text = updated[-1][0]["text/html"], updated[-1][0]["text/plain"]
    assert updated[-1][1] == key
    assert html.count("<video") == 1 and "data:video/mp4;base64," in html
    assert "a quiet harbour at dawn" in html and "Prompt" in html
    # The result's filmstrip (made from the download, off the loop) survives reopening too.
    assert html.count('class="luma-nb-strip"') == 1 and "data:image/jpeg;base64," in html
    assert 'class="luma-nb-strip"' in panel.results.cards[0].player.value
    assert "a quiet harbour at dawn" in text and "base64" not in text
    assert len(text.encode()) < 2048

    card = panel.results.cards[0]
    card.rating.value = 4
    card.note.value = "calm <water>"
    card.save_button.click()
    html, text = updated[-1][0]["text/html"], updated[-1][0]["text/plain"]
    assert "4/5" in html and "calm &lt;water&gt;" in html
    assert "rating 4/5 · calm <water>" in text
    assert panel._repr_mimebundle_()["text/plain"] == text


# ----------------------------------------------------------------------------- history


@async_test
async def test_restore_from_history_puts_every_setting_back(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a glass city at night"
    panel.aspect_ratio.value = "21:9"
    panel.loop.value = True
    panel.enhancement.value = False
    panel.start_image_url.value = "https://images.example/start.png"
    panel.end_image_url.value = "https://images.example/end.png"
    panel.callback_url.value = "https://hooks.example/luma"
    panel.api_timeout.value = "90"
    job = panel.submit()
    await job.future
    assert job.state == "completed", job.message

    panel.prompt.value = "changed"
    panel.aspect_ratio.value = "1:1"
    panel.loop.value = False
    panel.enhancement.value = True
    for field in (panel.start_image_url, panel.end_image_url, panel.callback_url):
        field.value = ""
    panel.api_timeout.value = ""
    panel.history.button(job.iteration).click()
    assert panel.prompt.value == "a glass city at night"
    assert panel.aspect_ratio.value == "21:9"
    assert panel.loop.value is True and panel.enhancement.value is False
    assert panel.start_image_url.value == "https://images.example/start.png"
    assert panel.end_image_url.value == "https://images.example/end.png"
    assert panel.callback_url.value == "https://hooks.example/luma"
    assert panel.api_timeout.value == "90"
    assert panel.request() == job.request
    assert panel.form_message.value == ""

    # An extend comes back with its video picked.
    panel.results.cards[0].extend_button.click()
    panel.prompt.value = "the lights go out"
    extend = panel.submit()
    await extend.future
    panel.restore(job.iteration)
    assert panel.action.value == "generate"
    panel.restore(extend.iteration)
    assert panel.action.value == "extend"
    assert panel.extend_choice.value == job.iteration
    assert panel.prompt.value == "the lights go out"
    assert panel.request() == extend.request


@async_test
async def test_history_shows_thumbnails_and_reads_an_existing_log(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a field of poppies"
    job = panel.submit()
    await job.future
    assert "data:image/" in all_html(panel.history.box)
    # The prompt diff: what enhancement added, highlighted in the result card and the history.
    assert '<ins class="luma-nb-added"' in panel.results.cards[0].html
    history = all_html(panel.history.box)
    assert "echoed: a field of poppies" in history and '<ins class="luma-nb-added"' in history
    # A second panel on the same log (a fresh kernel, say) lists it, and fetches the thumbnail.
    other = Panel(rig.client(cache_dir=rig.tmp / "other-cache"), luma_nb.SessionLog(rig.log.path))
    assert other.history.iterations == [job.iteration]
    await other.idle()
    assert "data:image/" in all_html(other.history.box)
    assert [value for _, value in other.extend_choice.options][1:] == [job.iteration]


# ----------------------------------------------------------------------------- copy as code


@async_test
async def test_copy_as_code_runs_and_makes_the_same_iteration(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = 'a "quoted" prompt\nwith two lines'
    panel.aspect_ratio.value = "4:3"
    panel.enhancement.value = False
    panel.start_image_url.value = "https://images.example/a.png"
    job = panel.submit()
    await job.future
    card = panel.results.cards[0]
    card.code_button.click()
    code = card.code_area.value
    assert code == panel.code(job.request)
    assert card.code_area.layout.display is None
    assert "luma_nb.generate(" in code and "enhancement=False" in code

    log = luma_nb.SessionLog(rig.tmp / "code.jsonl")
    luma_nb.use(rig.sync_client(), log)
    try:
        namespace: dict[str, object] = {}
        await asyncio.to_thread(exec, code, namespace)
    finally:
        luma_nb.notebook.reset()
    assert isinstance(namespace["video"], luma_nb.Video)
    [row] = log.to_records()
    [original] = rig.log.to_records()
    assert row["state"] == "completed"
    for column in ("action", "prompt", "aspect_ratio", "loop", "enhancement", "start_image_url"):
        assert row[column] == original[column], column


@async_test
async def test_code_of_an_extend_runs(rig: Rig) -> None:
    panel = rig.panel()
    panel.prompt.value = "a clock tower"
    first = panel.submit()
    await first.future
    panel.results.cards[0].extend_button.click()
    panel.prompt.value = ""
    code = panel.code()
    assert "luma_nb.extend(" in code and "prompt=" not in code
    luma_nb.use(rig.sync_client(), rig.log)
    try:
        await asyncio.to_thread(exec, code, {})
    finally:
        luma_nb.notebook.reset()
    rows = rig.log.to_records()
    assert rows[-1]["action"] == "extend" and rows[-1]["state"] == "completed"
    assert rows[-1]["parent"] == first.iteration
