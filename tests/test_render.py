"""The one renderer: shared player and card parts in every view, short text, CSS-free reading."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from luma_nb import chain
from luma_nb.display import grid, task_html, task_text, video_html, video_text
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest
from luma_nb.render import text as plain
from luma_nb.render.adapt import video_from_row
from luma_nb.render.frontend import in_notebook
from luma_nb.render.media import Media, media_fetcher, place, set_media_fetcher
from luma_nb.report import report_html

CDN = "https://cdn.example.com/v/abc.mp4"
CDN_JPG = "https://cdn.example.com/v/abc.jpg"
DATA_MP4 = "data:video/mp4;base64," + base64.b64encode(b"\x00" * 30_000).decode()
LONG = "a kite over the hills, " * 300  # ~6900 characters
LIMIT = 2048  # bytes of text/plain, for any luma_nb object

VIDEO_TAG = re.compile(r"<video\b[^>]*>.*?</video>", re.S)


@pytest.fixture(autouse=True)
def _no_fetcher(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
    fetcher = media_fetcher()
    set_media_fetcher(None)
    yield
    set_media_fetcher(fetcher)


def _video(**changes: Any) -> Video:
    """A finished simulated video with public URLs, the prompt enhanced by the API."""
    sent = VideoRequest(prompt="a red kite")
    base = Video("task-1", CDN, "vid-1", "a red kite, cinematic", CDN_JPG, 1280, 720)
    changes.setdefault("request", sent)
    return dataclasses.replace(base, trace_id="trace-1", backend="simulator", **changes)


def _row(video: Video, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "iteration": "it-1",
        "action": "generate",
        "state": "completed",
        "prompt": video.request.prompt if video.request else None,
        "echoed_prompt": video.prompt,
        "aspect_ratio": "16:9",
        "loop": False,
        "enhancement": True,
        "video_url": video.video_url,
        "thumbnail_url": video.thumbnail_url,
        "width": video.width,
        "height": video.height,
        "task_id": video.task_id,
        "video_id": video.video_id,
        "trace_id": video.trace_id,
        "backend": video.backend,
    }
    row.update(changes)
    return row


def _text(markup: str) -> str:
    """What a reader sees with every style stripped: the text nodes, in order."""
    markup = re.sub(r"<style>.*?</style>", "", markup, flags=re.S)
    return re.sub(r"<[^>]+>", "", markup)


def _heads(markup: str) -> list[str]:
    return [_text(m) for m in re.findall(r'<div class="luma-nb-head">(.*?)</div>', markup)]


# --------------------------------------------------------------------------- one card


def test_the_same_video_has_the_same_player_in_every_view() -> None:
    pytest.importorskip("ipywidgets")
    from luma_nb.panel._media import card_html

    video = _video()
    row = _row(video)
    views = {
        "notebook card": video_html(video),
        "grid": grid([video, video]).html(),
        "panel result": card_html(video, None, None),
        "report": report_html([row]),
        "timeline": chain.Timeline([row], None).html(),
        "chain player": chain.ChainPlayer([row], None, "last").html(),
        "rebuilt from the log": video_html(video_from_row(row) or video),
    }
    players = {name: VIDEO_TAG.findall(markup) for name, markup in views.items()}
    expected = players["notebook card"][0]
    assert f'src="{CDN}"' in expected and f'poster="{CDN_JPG}"' in expected
    for name, found in players.items():
        assert found and all(tag == expected for tag in found), name


def test_sent_and_echoed_prompts_are_the_same_part_everywhere() -> None:
    video = _video()
    row = _row(video)
    part = re.compile(r"<dt>Prompt sent</dt><dd>.*?</dd><dt>Prompt echoed</dt><dd>.*?</dd>", re.S)
    found = [
        part.findall(markup)
        for markup in (
            video_html(video),
            report_html([row]),
            chain.Timeline([row], None).html(),
            video_html(video_from_row(row) or video),
        )
    ]
    assert all(len(parts) == 1 for parts in found)
    assert len({parts[0] for parts in found}) == 1


def test_a_log_row_rebuilds_the_video_with_its_request_and_saved_copy() -> None:
    row = _row(_video(), media_path="/somewhere/clip.mp4")
    video = video_from_row(row)
    assert video is not None
    assert video.video_url == CDN  # never a data: URL in place of the served one
    assert video.request is not None and video.request.prompt == "a red kite"
    assert video.prompt == "a red kite, cinematic"
    assert video.media_path == "/somewhere/clip.mp4"
    blind = video_from_row(row, blind=True)
    assert blind is not None and blind.prompt is None and blind.request is None
    assert video_from_row({**row, "video_url": None}) is None


def test_place_is_one_answer_for_urls_data_and_refusals() -> None:
    assert place(CDN) == Media(CDN)
    embedded = place(DATA_MP4)
    assert embedded.embedded and embedded.how == "embedded"
    assert place("javascript:alert(1)").src is None
    sim = place("https://media.luma-simulator.invalid/a.mp4")
    assert sim.src is None and sim.note and "no fetcher" in sim.note
    kept = place("https://media.luma-simulator.invalid/a.mp4", embed=False)
    assert kept.src is not None and kept.note  # kept as asked, and says it cannot load


# --------------------------------------------------------------------------- without CSS


def test_badges_read_with_separators_when_styles_are_stripped() -> None:
    heads = _heads(video_html(_video(video_url=DATA_MP4)))
    assert heads == ["Luma video · completed · embedded · simulated"]
    heads = _heads(task_html(Task(id="t", state=TaskState.FAILED, error=TaskError("E", "m"))))
    assert heads == ["Luma task · failed · Luma API"]
    row = _row(_video(), tags=["best", "sunset"], experiment="exp", arm="on")
    page = report_html([row])
    # The iteration id and how the video is placed are details: they are folded away.
    assert "#1 · generate · completed · simulated · exp / on" in _heads(page)
    assert "best · sunset" in _text(page)
    step = chain.Timeline([row, {**row, "iteration": "it-2"}], None).html()
    assert "Step 2 of 2 · generate · completed · whole chain" in _heads(step)
    assert "Extend chain · 2 steps · simulated" in _heads(step)


def test_no_card_runs_words_together_without_css() -> None:
    markup = video_html(_video())
    for glued in ("Luma videocompleted", "completedsimulated", "completedembedded"):
        assert glued not in _text(markup)


# --------------------------------------------------------------------------- text/plain


def _rows_with_media(count: int) -> list[dict[str, Any]]:
    return [
        _row(
            _video(video_url=DATA_MP4, prompt=LONG, request=VideoRequest(prompt=LONG[:4000])),
            iteration=f"it-{i}",
            media_path=f"/home/someone/luma/media/{i}.mp4",
        )
        for i in range(count)
    ]


def _every_text() -> dict[str, str]:
    big = _video(video_url=DATA_MP4, prompt=LONG, thumbnail_url=DATA_MP4.replace("video", "image"))
    rows = _rows_with_media(30)
    failed = Task(id="t" * 300, state=TaskState.FAILED, error=TaskError("E" * 500, LONG))
    running = Task(id="t2", state=TaskState.PROCESSING, sent=VideoRequest(prompt=LONG[:4000]))
    done = Task(id="t3", state=TaskState.COMPLETED, video=big)
    # What IPython shows as text/plain: the bundle's text (its HTML half is not needed here).
    return {
        "video": video_text(big),
        "failed task": task_text(failed),
        "running task": task_text(running),
        "completed task": task_text(done),
        "grid": grid([big] * 40 + [failed, running]).text(),
        "timeline": chain.Timeline(rows, None).text(),
        "chain player": chain.ChainPlayer(rows, None, "sequence").text(),
        "chain player, last": chain.ChainPlayer(rows, None, "last").text(),
        "video from a row": video_text(video_from_row(rows[0]) or big),
    }


def test_the_bundles_text_is_that_text() -> None:
    video = _video(video_url=DATA_MP4)
    assert video._repr_mimebundle_()["text/plain"] == video_text(video)
    task = Task(id="t", state=TaskState.QUEUED)
    assert task._repr_mimebundle_()["text/plain"] == task_text(task)
    view = grid([video])
    assert view._repr_mimebundle_()["text/plain"] == view.text() == repr(view)


@pytest.mark.parametrize("kind", sorted(_every_text()))
def test_text_plain_is_short_and_carries_no_media_data(kind: str) -> None:
    text = _every_text()[kind]
    assert len(text.encode("utf-8")) < LIMIT, (kind, len(text))
    assert "base64" not in text and "AAAAAAAA" not in text
    assert "\x1b" not in text


def test_text_plain_names_the_url_or_the_embedded_file() -> None:
    assert CDN in plain.video_text(_video())
    assert "embedded video/mp4 (29.3 KB)" in plain.video_text(_video(video_url=DATA_MP4))
    shown = plain.video_text(_video(media_path="/home/someone/luma/media/clip.mp4"))
    assert "clip.mp4" in shown and "/home/someone" not in shown


def test_a_grid_of_many_says_how_much_it_left_out() -> None:
    text = grid([_video(prompt=LONG)] * 50).text()
    assert text.endswith("more lines")
    assert len(text) <= plain.MAX_CHARS


# --------------------------------------------------------------------------- the notebook check


def test_only_a_kernel_shell_counts_as_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython
    from ipykernel.zmqshell import ZMQInteractiveShell

    class ColabShell(ZMQInteractiveShell):
        pass

    class ZMQInteractiveShellLookAlike:
        pass

    for shell, expected in (
        (None, False),
        (object(), False),
        (ZMQInteractiveShellLookAlike(), False),
        (object.__new__(ColabShell), True),
    ):
        monkeypatch.setattr(IPython, "get_ipython", lambda shell=shell: shell)
        assert in_notebook() is expected


def test_in_cell_is_false_in_a_widgets_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython
    from ipykernel.zmqshell import ZMQInteractiveShell

    from luma_nb.render import frontend

    class Kernel:
        def __init__(self, parent: object) -> None:
            self.parent = parent

        def get_parent(self) -> object:
            if isinstance(self.parent, Exception):
                raise self.parent
            return self.parent

    shell = object.__new__(ZMQInteractiveShell)
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    for parent, expected in (
        ({"header": {"msg_type": "execute_request"}}, True),
        ({"header": {"msg_type": "comm_msg"}}, False),  # a button's on_click
        ({}, True),  # no parent yet: as in a cell
        ("garbage", True),
        (RuntimeError("odd kernel"), True),
    ):
        monkeypatch.setattr(ZMQInteractiveShell, "kernel", Kernel(parent), raising=False)
        assert frontend.in_cell() is expected, parent
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert frontend.in_cell() is False
