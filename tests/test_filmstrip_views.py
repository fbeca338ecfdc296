"""Filmstrips in every view: from the cached file only, once, escaped and inert, never an error.

The edges: a video that is not in the media cache (no strip, and nothing is downloaded for
one), a damaged MP4, a strip over the embed cap, hostile file names and labels, and a kernel
without PyAV (the import fails: no strip, no error, a short word in the report).
"""

from __future__ import annotations

import html.parser
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")
pytest.importorskip("av")
pytest.importorskip("PIL.Image")
from _cliptools import grey, write_clip

import luma_nb.video_metrics
from luma_nb import display
from luma_nb.chain import Timeline
from luma_nb.models import Task, TaskState, Video
from luma_nb.render import filmstrip
from luma_nb.render.adapt import video_from_row
from luma_nb.render.card import video_card
from luma_nb.render.media import media_fetcher
from luma_nb.report import report_html

HOSTILE = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
SIM_URL = "https://media.luma-simulator.invalid/media/luma/t1.mp4"


class Tags(html.parser.HTMLParser):
    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def strips(markup: str) -> list[dict[str, str | None]]:
    """The filmstrip pictures of some markup (each checked to be an inert embedded JPEG)."""
    found = [img for img in Tags(markup).all("img") if str(img.get("alt", "")).startswith("Film")]
    for img in found:
        assert str(img["src"]).startswith("data:image/jpeg;base64,")
        assert not [name for name in img if name.startswith("on")]
    return found


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(display.EMBED_LIMIT_ENV, raising=False)
    fetcher = media_fetcher()
    filmstrip._memo.clear()
    monkeypatch.setattr(filmstrip, "_missing_modules", [])
    yield
    filmstrip._memo.clear()
    display.set_media_fetcher(fetcher)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A 24-frame fading clip inside the media cache (as a download would leave it)."""
    folder = tmp_path / "cache" / "blobs"
    folder.mkdir(parents=True)
    return write_clip(folder / "clip.mp4", [grey(10 * i + 20, (96, 54)) for i in range(24)])


def sim_video(path: Path, **changes: Any) -> Video:
    fields: dict[str, Any] = {
        "task_id": "t1",
        "video_url": SIM_URL,
        "prompt": "a fox",
        "width": 96,
        "height": 54,
        "backend": "simulator",
        "media_path": str(path),
    }
    fields.update(changes)
    return Video(**fields)


def counting(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record each decode of a strip (calls of make_filmstrip)."""
    made: list[Path] = []
    real = luma_nb.video_metrics.make_filmstrip

    def make(path: Any, **options: Any) -> Any:
        made.append(Path(path))
        return real(path, **options)

    monkeypatch.setattr(luma_nb.video_metrics, "make_filmstrip", make)
    return made


# --------------------------------------------------------------------------- where strips come from


def test_a_cached_video_gets_its_strip_made_once(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = counting(monkeypatch)
    first = filmstrip.local_filmstrip(clip)
    assert first is not None and first.path.parent == tmp_path / "cache" / "filmstrips"
    assert first.indices == (0, 5, 9, 14, 18, 23)
    for _ in range(3):
        markup = display.video_html(sim_video(clip))
    assert len(strips(markup)) == 1
    assert made == [clip.resolve()], "one decode, then the memo (and the cache on disk)"
    # A strip removed from the cache since is made again, not shown broken.
    first.path.unlink()
    assert filmstrip.local_filmstrip(clip) is not None and len(made) == 2


def test_no_strip_without_a_cached_copy_and_nothing_downloaded_for_one(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []

    def fetch(url: str) -> Path:
        fetched.append(url)
        raise OSError("offline")

    display.set_media_fetcher(fetch)
    outside = shutil.copy(clip, tmp_path / "elsewhere.mp4")
    assert filmstrip.local_filmstrip(outside) is None  # not in the media cache: never read
    public = "https://cdn.example.com/v.mp4"
    assert filmstrip.strip_for(public) is None
    markup = display.video_html(Video(task_id="t", video_url=public, width=96, height=54))
    assert not strips(markup) and fetched == []
    # A log row's copy of a public URL counts; of a private URL only when made on the simulator.
    assert filmstrip.strip_for(public, saved=clip, backend="api") is not None
    assert filmstrip.strip_for("http://10.0.0.5/v.mp4", saved=clip, backend="api") is None
    assert filmstrip.strip_for("http://10.0.0.5/v.mp4", saved=clip, backend="simulator")


def test_a_damaged_or_foreign_file_gives_no_strip_and_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache" / "blobs"
    folder.mkdir(parents=True)
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x13" * 4000)
    poster = folder / "poster.jpg"
    poster.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    made = counting(monkeypatch)
    for _ in range(2):
        assert filmstrip.local_filmstrip(broken) is None
        markup = display.video_html(sim_video(broken))
        assert "luma-nb-card" in markup and "display error" not in markup
        assert not strips(markup)
    assert made == [broken.resolve()], "a file that failed is not decoded again"
    assert filmstrip.local_filmstrip(poster) is None and len(made) == 1  # never decoded
    assert filmstrip.local_filmstrip(folder) is None
    if hasattr(os, "mkfifo"):  # a FIFO in the cache is not waited on (nobody writes to it)
        os.mkfifo(folder / "pipe.mp4")
        assert filmstrip.local_filmstrip(folder / "pipe.mp4") is None and len(made) == 1
    assert filmstrip.local_filmstrip(42) is None


def test_a_strip_over_the_embed_cap_is_left_out(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    strip = filmstrip.local_filmstrip(clip)
    assert strip is not None
    monkeypatch.setenv(display.EMBED_LIMIT_ENV, str(strip.path.stat().st_size - 1))
    markup = video_card(sim_video(clip), filmstrip=strip)
    assert not strips(markup) and "luma-nb-strip" not in markup
    monkeypatch.setenv(display.EMBED_LIMIT_ENV, "0")  # embedding off: no strip either
    assert not strips(display.video_html(sim_video(clip)))


def test_hostile_file_names_and_labels_stay_text(clip: Path) -> None:
    named = clip.with_name(f"{HOSTILE.replace('/', '_')}.mp4")
    shutil.copy(clip, named)
    markup = display.grid([sim_video(named)], labels=[HOSTILE]).html()
    found = strips(markup)
    assert len(found) == 1 and str(found[0]["alt"]).startswith(f"Filmstrip of {HOSTILE}: 6 frames")
    assert not Tags(markup).all("script")
    assert HOSTILE not in markup and named.name not in markup and str(named) not in markup


def test_without_pyav_no_strip_no_error_and_a_short_word(
    clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # "import av" raises ImportError
    assert filmstrip.local_filmstrip(clip) is None
    assert not filmstrip.filmstrips_available()
    markup = display.video_html(sim_video(clip))
    assert "<video" in markup and not strips(markup) and "display error" not in markup
    row = {"iteration": "it-1", "state": "completed", "video_url": SIM_URL}
    row |= {"backend": "simulator", "media_path": str(clip)}
    page = report_html([row])
    assert "no filmstrips: they need the research extra" in page and not strips(page)


# --------------------------------------------------------------------------- every view


def test_cards_tasks_grids_and_the_choice_of_the_view(clip: Path) -> None:
    video = sim_video(clip)
    assert len(strips(display.video_html(video))) == 1
    assert not strips(display.video_html(video, filmstrip=False))
    assert not strips(display.video_html(video, embed=False))
    task = Task(id="t1", state=TaskState.COMPLETED, video=video, backend="simulator")
    assert len(strips(display.task_html(task))) == 1
    assert len(strips(display.bundle(task)["text/html"])) == 1
    assert len(strips(display.grid([video, task], labels=["a", "b"]).html())) == 2
    # The strip sits under the player, and the player never grows past the video's width.
    markup = display.video_html(video)
    assert markup.index("<video") < markup.index("luma-nb-strip") < markup.index("<dl")
    assert 'width="96" height="54"' in markup and "max-width:96px" in markup


def test_history_cards_timeline_and_blind_review(clip: Path) -> None:
    rows = [
        {
            "iteration": f"it-{n}",
            "state": "completed",
            "action": action,
            "prompt": f"prompt {n}",
            "video_url": SIM_URL.replace("t1", f"t{n}"),
            "media_path": str(clip),
            "backend": "simulator",
            "parent": "it-1" if n == 2 else None,
            "width": 96,
            "height": 54,
            "metric_motion": 4.5,
        }
        for n, action in ((1, "generate"), (2, "extend"))
    ]
    view = display.SessionView(rows, total=5)
    markup = view.html()
    assert len(strips(markup)) == 2 and "The last 2 of 5 iterations" in markup
    assert markup.index("#5 · extend") < markup.index("#4 · generate")  # newest first
    assert "motion 4.50" in markup
    assert "#5 · extend" in view.text()
    timeline = Timeline(rows, None).html()
    assert len(strips(timeline)) == 2 and "motion 4.50" in timeline
    # The blind review shows a blind video through video_html: its strip, never its prompt.
    blind = video_from_row(rows[1], blind=True)
    assert blind is not None
    review = display.video_html(blind, label="Video A")
    found = strips(review)
    assert len(found) == 1 and str(found[0]["alt"]).startswith("Filmstrip of Video A: 6 frames")
    assert "prompt 2" not in review and "motion" not in review
