"""The shareable report: a standalone HTML file of a session or of an experiment's rows."""

from __future__ import annotations

import html.parser
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _simtools import CHROMIUM, CHROMIUM_ARGS, virtual_client

import luma_nb
from luma_nb import display
from luma_nb.render.media import media_fetcher
from luma_nb.report import export_html, report_html
from luma_nb.simulator import Simulator, VirtualClock

HOSTILE = '<script>alert("x")</script>"><img src=x onerror=alert(1)> & \'q\''


class Page(html.parser.HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        # Text nodes as a reader sees them: inline tags (a prompt diff's <ins>) split words
        # from their spaces, so whitespace is collapsed and blank nodes dropped.
        if data.strip():
            self.text.append(" ".join(data.split()))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def resource_urls(self) -> list[str]:
        """Every URL the browser would load by itself (not links, which need a click)."""
        loaded = []
        for _, attrs in self.tags:
            for name in ("src", "poster", "srcset", "data"):
                value = attrs.get(name)
                if value:
                    loaded.append(value)
        return loaded


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(display.EMBED_LIMIT_ENV, raising=False)
    for name in display.REMOTE_BROWSER_ENV:
        monkeypatch.delenv(name, raising=False)
    fetcher = media_fetcher()
    yield
    display.set_media_fetcher(fetcher)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[luma_nb.SessionLog]:
    """Three finished iterations (one an extend, one rated) and a refused one, on a simulator.

    Made once per module (rendering the clips is the slow part); tests only read it.
    """
    tmp_path = tmp_path_factory.mktemp("session")
    sim = Simulator(clock=VirtualClock(), seed=11)
    client = virtual_client(sim, tmp_path)
    log = luma_nb.SessionLog(tmp_path / "session.jsonl")
    luma_nb.use(client, log)
    boat = luma_nb.generate(HOSTILE, aspect_ratio="16:9", tags=["night", "<b>tag</b>"])
    luma_nb.extend(boat, prompt="the boat reaches the sea")
    luma_nb.generate("a lighthouse at dawn", enhancement=False, aspect_ratio="9:16")
    with pytest.raises(luma_nb.ModerationError):
        luma_nb.generate("nsfw content")  # the simulator's moderation refuses it
    luma_nb.rate(boat, 4, note=f"note {HOSTILE}")
    luma_nb.notebook.reset()  # the log stays; the kernel-wide defaults go
    yield log
    display.set_media_fetcher(None)
    sim.close()


def _write(log: luma_nb.SessionLog, tmp_path: Path, **options: Any) -> tuple[Path, str]:
    path = luma_nb.export_html(log, tmp_path / "out" / "report.html", **options)
    return path, path.read_text(encoding="utf-8")


def test_session_report_embeds_every_video_and_loads_nothing_remote(
    session: luma_nb.SessionLog, tmp_path: Path
) -> None:
    path, markup = _write(session, tmp_path)
    assert path.is_absolute() and path.name == "report.html"
    page = Page(markup)
    videos = page.all("video")
    assert len(videos) == 3
    assert all(str(v["src"]).startswith("data:video/mp4;base64,") for v in videos)
    # Nothing at all is fetched from the network: every resource is a data: URL.
    resources = page.resource_urls()
    assert resources and all(url.startswith("data:") for url in resources), resources
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    csp = [m for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in str(csp[0]["content"])
    text = " ".join(page.text)
    assert "4 (3 completed, 1 failed)" in text
    assert "Simulated backend." in text
    assert f"luma_nb {luma_nb.__version__}" in text
    # Every iteration (its id under Details), its settings, the rating, note and tags.
    rows = session.to_records()
    for row in rows:
        assert row["iteration"] in text
    assert text.count("enhancement") >= 4
    assert len(page.all("details")) == 4
    assert "4/5" in text and "★★★★☆" in text
    assert "night" in text and "<b>tag</b>" in text
    assert "the boat reaches the sea" in text
    # The echoed prompt (rewritten by enhancement) is shown next to the one sent.
    echoed = rows[0]["echoed_prompt"]
    assert echoed != HOSTILE and echoed in text
    # A shared report does not reveal where the user keeps files.
    saved = [row["media_path"] for row in rows if row["media_path"]]
    assert len(saved) == 3 and not [p for p in saved if p in markup]
    assert not list(path.parent.glob("*.part")), "no temp file is left behind"


def test_hostile_text_is_escaped(session: luma_nb.SessionLog, tmp_path: Path) -> None:
    _, markup = _write(session, tmp_path, title=f"Title {HOSTILE}")
    page = Page(markup)
    assert not page.all("script")
    # The only pictures are the filmstrips, embedded JPEGs.
    images = page.all("img")
    assert len(images) == 3
    assert all(str(image["src"]).startswith("data:image/jpeg;base64,") for image in images)
    assert not [name for _, attrs in page.tags for name in attrs if name.startswith("on")]
    text = " ".join(page.text)
    assert HOSTILE in text  # shown as text, exactly
    assert f"Title {HOSTILE}" in text
    assert "<script>alert" not in markup


def test_hostile_urls_never_become_a_source_or_link(tmp_path: Path) -> None:
    rows = [
        {
            "iteration": "it-1",
            "state": "completed",
            "action": "generate",
            "prompt": "x",
            "video_url": "javascript:alert(1)",
            "thumbnail_url": "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
        },
        {
            "iteration": "it-2",
            "state": "completed",
            "action": "generate",
            "prompt": "y",
            "video_url": "java\tscript:alert(2)",
            "thumbnail_url": "https://cdn.example.com/t.jpg",
        },
    ]
    page = Page(report_html(rows))
    assert not page.all("video")
    hrefs = [str(a.get("href")) for a in page.all("a")]
    assert all(h.startswith(("#", "https://")) for h in hrefs), hrefs
    assert " ".join(page.text).count("http(s) link") == 2  # each card says why: no player


def test_failed_iteration_shows_error_code_and_trace_id(
    session: luma_nb.SessionLog, tmp_path: Path
) -> None:
    failed = [row for row in session.to_records() if row["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["trace_id"]
    _, markup = _write(session, tmp_path)
    page = Page(markup)
    text = " ".join(page.text)
    assert "forbidden" in text and "ModerationError" in text
    assert failed[0]["trace_id"] in text
    assert "quote it to support" in text


def test_over_the_cap_a_public_video_is_linked_and_a_private_one_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "cache" / "big.mp4"  # a local copy counts only inside the media cache
    big.parent.mkdir()
    big.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 5000)
    monkeypatch.setenv(display.EMBED_LIMIT_ENV, "1000")
    public = "https://cdn.example.com/luma/big.mp4"
    rows = [
        {"iteration": "it-a", "state": "completed", "video_url": public, "media_path": str(big)},
        {
            "iteration": "it-b",
            "state": "completed",
            "video_url": "https://media.luma-simulator.invalid/x.mp4",
            "media_path": str(big),
        },
    ]
    page = Page(report_html(rows))
    videos = page.all("video")
    assert [v["src"] for v in videos] == [public]  # linked, played from the CDN
    text = " ".join(page.text)
    assert text.count("over the 1000 bytes embed cap") == 2
    assert "it is linked instead" in text and "there is no public link to it" in text
    assert any(a.get("href") == public for a in page.all("a"))
    assert "1 linked, 1 not available" in text


def test_public_video_without_a_local_copy_is_referenced_unless_embed_true(
    tmp_path: Path,
) -> None:
    clip = tmp_path / "cache" / "clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 300)
    fetched: list[str] = []

    def fetch(url: str) -> Path:
        fetched.append(url)
        return clip

    display.set_media_fetcher(fetch)
    url = "https://cdn.example.com/luma/a.mp4"
    rows = [{"iteration": "it-1", "state": "completed", "video_url": url}]
    assert [v["src"] for v in Page(report_html(rows)).all("video")] == [url]
    assert fetched == [], "exporting never downloads from a CDN by default"
    embedded = Page(report_html(rows, embed=True)).all("video")
    assert str(embedded[0]["src"]).startswith("data:video/mp4;base64,")
    assert fetched == [url]
    # embed=False: even the local copy is not used.
    rows[0]["media_path"] = str(clip)
    assert [v["src"] for v in Page(report_html(rows, embed=False)).all("video")] == [url]


def test_experiment_rows_with_a_summary(session: luma_nb.SessionLog, tmp_path: Path) -> None:
    rows = session.to_records()
    for row, arm in zip(rows, ["on", "off", "on", "off"], strict=True):
        row["experiment"], row["arm"] = "exp-1", arm
    summary = "<table><tr><td>median latency</td><td>3 s</td></tr></table>"
    path = export_html(rows, tmp_path / "exp.html", title="Enhancement study", summary_html=summary)
    markup = path.read_text(encoding="utf-8")
    assert summary in markup
    assert markup.index(summary) < markup.index('id="step-1"')
    text = " ".join(Page(markup).text)
    assert "Enhancement study" in text and "exp-1" in text and "exp-1 / off" in text
    # A DataFrame (load_sessions, an experiment's frame) gives the same cards.
    pytest.importorskip("pandas")
    frame_markup = report_html(luma_nb.load_sessions(session.path))
    assert Page(frame_markup).all("video") and frame_markup.count('class="luma-nb-card"') == 4


def test_summary_object_with_repr_html_and_bad_inputs(session: luma_nb.SessionLog) -> None:
    class Summary:
        def _repr_html_(self) -> str:
            return "<p>the summary</p>"

    assert "<p>the summary</p>" in report_html(session, summary_html=Summary())
    for bad in ({"iteration": "x"}, "rows", 3):
        with pytest.raises(luma_nb.ValidationError):
            report_html(bad)
    with pytest.raises(luma_nb.ValidationError):
        report_html(session, embed="yes")  # type: ignore[arg-type]
    with pytest.raises(luma_nb.ValidationError):
        report_html(session, summary_html=42)
    empty = Page(report_html([]))
    assert "No iterations." in " ".join(empty.text)


def test_export_into_a_folder_names_the_file_after_the_session(
    session: luma_nb.SessionLog, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    path = luma_nb.export_html(session, folder)
    assert path == folder / f"{session.session_id}.html"
    first = path.read_text(encoding="utf-8")
    again = luma_nb.export_html(session, path)  # replaced in place
    assert again == path and path.read_text(encoding="utf-8").count("<video") == first.count(
        "<video"
    )


# --------------------------------------------------------------------------- worth sending


def test_a_reader_sees_what_was_sent_in_human_words_and_no_dead_link(
    session: luma_nb.SessionLog, tmp_path: Path
) -> None:
    _, markup = _write(session, tmp_path)
    page = Page(markup)
    text = " ".join(page.text)
    assert "(not sent)" not in text
    for internal in ("video_id_sent", "video_url_sent", "start_image_url", "callback_url"):
        assert internal not in text, internal
    # The extend's request names the video it extended, under a human label, and links the card.
    assert "Video extended" in text and "Extends" in text
    assert any(a.get("href") == "#step-1" for a in page.all("a"))
    # No link, anywhere, to the simulator's media host; the media is named as simulated.
    hrefs = [str(a.get("href")) for a in page.all("a")]
    assert not [h for h in hrefs if ".invalid" in h], hrefs
    assert "media.luma-simulator.invalid" not in text
    assert "simulated: made by luma_nb\u2019s simulator, no public address" in text
    # The rest is folded away; what a reader needs is not.
    visible = markup.split("<details", 1)[0]
    assert "Settings" in visible and "16:9 · enhancement on" in visible


def test_videos_play_at_native_size_with_their_filmstrip(
    session: luma_nb.SessionLog, tmp_path: Path
) -> None:
    page = Page(_write(session, tmp_path)[1])
    rows = [row for row in session.to_records() if row["video_url"]]
    videos = page.all("video")
    for video, row in zip(videos, rows, strict=True):
        assert (video["width"], video["height"]) == (str(row["width"]), str(row["height"]))
        assert f"max-width:{row['width']}px" in str(video["style"])  # never upscaled
    figures = page.all("figure")
    assert len(figures) == 3 and all(f.get("class") == "luma-nb-strip" for f in figures)
    alts = [str(image["alt"]) for image in page.all("img")]
    assert all(alt.startswith("Filmstrip of #") and "6 frames at 0.0" in alt for alt in alts)
    # embed=False embeds nothing: no strip either.
    assert not Page(report_html(session, embed=False)).all("img")


def test_rows_only_for_fields_sent_and_links_only_where_they_resolve() -> None:
    rows: list[dict[str, Any]] = [
        {
            "iteration": "it-1",
            "state": "completed",
            "action": "generate",
            "prompt": "a fox",
            "aspect_ratio": "16:9",
            "loop": True,
            "enhancement": False,
            "start_image_url": "https://images.example.com/first.png",
            "end_image_url": "http://127.0.0.1:9/last.png",
            "callback_url": None,
            "timeout": 30,
            "backend": "api",
        }
    ]
    page = Page(report_html(rows))
    text = " ".join(page.text)
    assert "Callback URL" not in text and "Video extended" not in text
    assert "Start image" in text and "End image" in text and "Timeout 30 s" in text
    assert "Loop on" in text and "Enhancement off" in text
    assert "16:9 · loop · enhancement off · start image · end image" in text
    hrefs = [str(a.get("href")) for a in page.all("a")]
    assert "https://images.example.com/first.png" in hrefs
    assert not [h for h in hrefs if "127.0.0.1" in h]  # shown as text, said to be private
    assert "(not a public address)" in text


def test_measured_values_show_on_the_card_and_every_metric_in_details() -> None:
    row: dict[str, Any] = {
        "iteration": "it-1",
        "state": "completed",
        "action": "generate",
        "prompt": "x",
        "loop": True,
        "metric_motion": 3.2,
        "metric_sharpness": 812.7,
        "metric_loop_seam": 0.41,
        "metric_flicker": float("nan"),  # not measured: no term
        "metric_cuts": 0,
        "duration": 5.0,
        "fps": 24.0,
        "bitrate": 238_000,
    }
    markup = report_html([row])
    visible = markup.split("<details", 1)[0]
    text = " ".join(Page(visible).text)
    assert "Measured" in text
    assert "5.0 s · 24 fps · 238 kbit/s · motion 3.20 · sharpness 813 · loop seam 0.41" in text
    assert "flicker" not in text
    details = " ".join(Page(markup.split("<details", 1)[1]).text)
    assert "Measured from the file" in details and "Loop seam 0.41" in details
    assert "Scene cuts 0" in details and "Bitrate 238 kbit/s" in details
    # A row that was never measured says nothing about it.
    assert "Measured" not in report_html([{"iteration": "it-2", "state": "completed"}])


def test_one_clock_for_every_date() -> None:
    rows: list[dict[str, Any]] = [
        {
            "iteration": "it-1",
            "state": "completed",
            "backend": "simulator",
            "submitted_at": 1_700_000_000.0,
            "finished_at": 1_700_000_004.0,
            "elapsed": 136.0,
        }
    ]
    text = " ".join(Page(report_html(rows)).text)
    assert text.count("Dates are local time (UTC") == 1
    from datetime import datetime

    local = datetime.fromtimestamp(1_700_000_000).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Submitted {local}" in text
    assert "2 min 16 s (simulated)" in text  # durations on the simulator's clock say so
    assert "+00:00" not in text.replace("(UTC+00:00)", "")  # no per-date zone, one clock


def test_the_parts_compose_another_report(session: luma_nb.SessionLog) -> None:
    from luma_nb.render.page import columns, page, section
    from luma_nb.report import iteration_cards, report_parts

    rows = session.to_records()[:2]
    cards, media = iteration_cards(rows, titles=["Arm A", None])
    assert len(cards) == len(media) == 2 and all(m.embedded for m in media)
    parts = report_parts(rows, title="Study <x>")
    markup = page(parts.title, parts.header + section("Block 1", columns(cards)))
    text = " ".join(Page(markup).text)
    assert "Study <x>" in text and "Arm A" in text and "#2 · extend" in text
    assert markup.count("luma-nb-strip") == 2 and "Content-Security-Policy" in markup


def _chromium_missing() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no chromium at {CHROMIUM} (scripts/install-browser.sh installs Debian's)"
    return None


@pytest.mark.slow
def test_report_opens_offline_in_headless_chromium(
    session: luma_nb.SessionLog, tmp_path: Path
) -> None:
    missing = _chromium_missing()
    if missing:
        if os.environ.get("LUMA_NB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LUMA_NB_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    path, _ = _write(session, tmp_path)
    profile = tmp_path / "chromium-profile"
    command = [CHROMIUM, *CHROMIUM_ARGS, f"--user-data-dir={profile}", "--dump-dom", path.as_uri()]
    # Its own process group, so the renderer and GPU helpers die with it on a timeout.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        dom, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
    assert process.returncode == 0
    page = Page(dom)
    videos = page.all("video")
    assert len(videos) == 3, dom[:2000]
    assert all(str(v["src"]).startswith("data:video/mp4;base64,") for v in videos)
    assert 'id="step-4"' in dom and "forbidden" in dom
