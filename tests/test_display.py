"""Inline display: escaping and URL filtering, embedding under the cap, task cards, fallbacks."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from luma_nb._html import clean_text, human_bytes, safe_url, sniff_media_type
from luma_nb.display import (
    DEFAULT_EMBED_LIMIT,
    EMBED_LIMIT_ENV,
    REMOTE_BROWSER_ENV,
    GridView,
    embed_limit,
    grid,
    needs_embedding,
    set_media_fetcher,
    show,
    task_html,
    task_text,
    video_html,
    video_text,
)
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"\x10JFIF" + bytes(64)
CDN = "https://cdn.example.com/v/abc.mp4"
CDN_JPG = "https://cdn.example.com/v/abc.jpg"
SIM = "https://media.luma-simulator.invalid/media/luma/t1.mp4"
SIM_JPG = "https://media.luma-simulator.invalid/media/luma/t1.jpg"


# --------------------------------------------------------------------------- helpers


class _Inspector(HTMLParser):
    """Collects every tag and attribute of a document, for safety assertions."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        # Text nodes as a reader sees them: inline tags (a prompt diff's <ins>) split words
        # from their spaces, so whitespace is collapsed and blank nodes dropped.
        if data.strip():
            self.text.append(" ".join(data.split()))


def parse(markup: str) -> _Inspector:
    inspector = _Inspector()
    inspector.feed(markup)
    inspector.close()
    return inspector


def urls(markup: str, name: str) -> list[str]:
    return [v or "" for _, attr, v in parse(markup).attrs if attr == name]


def assert_inert(markup: str) -> None:
    """No script, no handlers, and every URL attribute is http(s) or an image/video data URL."""
    doc = parse(markup)
    assert "script" not in doc.tags
    assert "iframe" not in doc.tags
    assert "object" not in doc.tags
    assert "embed" not in doc.tags
    for tag, name, value in doc.attrs:
        assert not name.startswith("on"), (tag, name, value)
        if name in ("src", "href", "poster", "action", "formaction", "srcset", "xlink:href"):
            assert value is not None
            assert value.startswith(("http://", "https://", "data:image/", "data:video/")), value
            assert not value.startswith("data:image/svg"), value
        if name == "style":
            # Only our own layout styles: nothing that can load a URL or run an expression.
            assert "url(" not in (value or "")
            assert "expression" not in (value or "")
    # A <style> block holds only our CSS (no URLs) whatever the inputs were.
    for block in re.findall(r"<style>(.*?)</style>", markup, flags=re.S):
        assert "url(" not in block
        assert "@import" not in block
        assert "<" not in block


def make_video(**changes: Any) -> Video:
    fields: dict[str, Any] = {
        "task_id": "task-1",
        "video_url": CDN,
        "video_id": "vid-1",
        "prompt": "A red fox in the snow, cinematic",
        "thumbnail_url": CDN_JPG,
        "width": 1280,
        "height": 720,
        "trace_id": "trace-1",
        "request": VideoRequest(prompt="A red fox in the snow"),
        "backend": "api",
    }
    fields.update(changes)
    return Video(**fields)


def data_payload(markup: str, attr: str) -> bytes:
    (value,) = urls(markup, attr)
    assert value.startswith("data:"), value[:40]
    return base64.b64decode(value.split(",", 1)[1], validate=True)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """No fetcher, an empty media cache, no cap override and no hosted-notebook markers."""
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(EMBED_LIMIT_ENV, raising=False)
    for name in REMOTE_BROWSER_ENV:
        monkeypatch.delenv(name, raising=False)
    set_media_fetcher(None)
    yield
    set_media_fetcher(None)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    # Inside the media cache: only files there are ever embedded (see _media_policy).
    folder = tmp_path / "cache" / "blobs"
    folder.mkdir(parents=True)
    video = folder / "clip.mp4"
    video.write_bytes(MP4)
    poster = folder / "poster.jpg"
    poster.write_bytes(JPEG)
    return {"video": video, "poster": poster}


@pytest.fixture
def fetched(files: dict[str, Path]) -> list[str]:
    """A fake fetcher serving the two tmp files; returns the list of URLs it was asked for."""
    calls: list[str] = []

    def fetch(url: str) -> Path:
        calls.append(url)
        return files["poster"] if url.endswith(".jpg") else files["video"]

    set_media_fetcher(fetch)
    return calls


# --------------------------------------------------------------------------- escaping and URLs

HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "</dd></dl><iframe src=javascript:alert(1)>",
    "<svg onload=alert(1)>",
    "&lt;script&gt;",
]

HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "javascript&colon;alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    'data:video/mp4;base64,AAAA" onerror="alert(1)',
    "data:video/mp4,rawnotbase64",
    "//evil.example.com/x.mp4",
    "/relative/x.mp4",
    "x.mp4",
    "https:evil.example.com",
    "https://",
    "https://[::1/x",
    'https://cdn.example.com/a.mp4" onerror="alert(1)',
    "https://cdn.example.com/a b.mp4",
    "https://cdn.example.com/\u2028.mp4",
    "file:///etc/passwd",
    "",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_safe_url_drops_hostile_urls(url: str) -> None:
    assert safe_url(url, data=("video/", "image/")) is None


@pytest.mark.parametrize(
    ("url", "data", "expected"),
    [
        (CDN, (), CDN),
        ("HTTPS://cdn.example.com/a.mp4", (), "https://cdn.example.com/a.mp4"),
        (
            "http://127.0.0.1:8123/media/a.mp4?x=1&y=2",
            (),
            "http://127.0.0.1:8123/media/a.mp4?x=1&y=2",
        ),
        ("data:video/mp4;base64,AAAA", ("video/",), "data:video/mp4;base64,AAAA"),
        ("data:video/mp4;base64,AAAA", ("image/",), None),
        ("data:video/mp4;base64,AAAA", (), None),
        ("data:image/jpeg;base64,/9j/", ("image/",), "data:image/jpeg;base64,/9j/"),
        (None, (), None),
        (42, (), None),
    ],
)
def test_safe_url_allows_only_http_and_media_data(
    url: object, data: tuple[str, ...], expected: str | None
) -> None:
    assert safe_url(url, data=data) == expected


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_markup_from_the_api_and_the_user_is_inert(text: str) -> None:
    video = make_video(
        prompt=text,
        video_id=text,
        task_id=text,
        trace_id=text,
        backend=text,
        request=VideoRequest(prompt=text),
    )
    html = video_html(video, label=text)
    assert_inert(html)
    doc = parse(html)
    assert sum(text in chunk for chunk in doc.text) >= 4  # shown as text, not as markup

    failed = Task(
        id=text,
        state=TaskState.FAILED,
        error=TaskError(code=text, message=text),
        trace_id=text,
        backend=text,
        sent=VideoRequest(prompt=text),
    )
    failed_html = task_html(failed)
    assert_inert(failed_html)
    assert any(text in chunk for chunk in parse(failed_html).text)
    assert_inert(grid([video, failed], labels=[text, text]).html())


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_video_and_thumbnail_urls_never_become_a_source(
    url: str, fetched: list[str]
) -> None:
    video = make_video(video_url=url, thumbnail_url=url)
    for embed in (None, True, False):
        html = video_html(video, embed=embed)
        assert_inert(html)
        assert "javascript" not in "".join(urls(html, "src") + urls(html, "poster")).lower()
    task = Task(id="t", state=TaskState.COMPLETED, video=video)
    assert_inert(task_html(task))


def test_hostile_url_is_never_fetched_nor_linked(fetched: list[str]) -> None:
    html = video_html(
        make_video(video_url="javascript:alert(1)", thumbnail_url="x.jpg"), embed=True
    )
    assert fetched == []
    assert urls(html, "href") == []
    assert urls(html, "src") == []
    assert "not an http(s) link" in html


def test_clean_text_neutralises_terminal_escapes() -> None:
    assert clean_text("a\x1b[2Jb\nc\td") == "a\\x1b[2Jb c d"
    text = video_text(make_video(prompt="evil\x1b]0;title\x07"))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\\x1b" in text


# --------------------------------------------------------------------------- remote vs embedded


def test_remote_https_video_is_referenced_not_embedded(fetched: list[str]) -> None:
    html = video_html(make_video())
    doc = parse(html)
    assert "video" in doc.tags
    video_attrs = {name: value for tag, name, value in doc.attrs if tag == "video"}
    assert video_attrs["src"] == CDN
    assert video_attrs["poster"] == CDN_JPG
    assert "controls" in video_attrs
    assert video_attrs["preload"] == "metadata"
    assert fetched == []  # nothing downloaded for a reachable URL
    assert "data:" not in html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (CDN, False),
        ("http://cdn.example.com/a.mp4", False),
        (SIM, True),
        ("https://invalid/x.mp4", True),
        ("https://example.invalid./x.mp4", True),
        ("http://localhost:8123/a.mp4", True),
        ("http://sim.localhost/a.mp4", True),
        ("http://127.0.0.1:8123/a.mp4", True),
        ("http://127.8.9.10/a.mp4", True),
        ("http://[::1]:8123/a.mp4", True),
        ("http://[::ffff:127.0.0.1]/a.mp4", True),
        ("http://0.0.0.0:8123/a.mp4", True),
        ("http://10.0.0.5:8123/a.mp4", False),
        ("http://simulator:8123/a.mp4", False),
        ("data:video/mp4;base64,AAAA", False),
        ("ftp://example.com/a.mp4", True),
        ("not a url", True),
    ],
)
def test_needs_embedding_locally(url: str, expected: bool) -> None:
    assert needs_embedding(url) is expected


@pytest.mark.parametrize("marker", REMOTE_BROWSER_ENV)
def test_needs_embedding_on_hosted_notebooks(monkeypatch: pytest.MonkeyPatch, marker: str) -> None:
    monkeypatch.setenv(marker, "1")
    assert needs_embedding("http://10.0.0.5:8123/a.mp4")
    assert needs_embedding("http://169.254.1.1/a.mp4")
    assert needs_embedding("http://simulator:8123/a.mp4")
    assert needs_embedding("http://127.0.0.1:8123/a.mp4")
    assert not needs_embedding(CDN)


def test_unreachable_host_is_embedded_through_the_fetcher(
    fetched: list[str], files: dict[str, Path]
) -> None:
    video = make_video(video_url=SIM, thumbnail_url=SIM_JPG, backend="simulator")
    html = video_html(video)
    assert_inert(html)
    assert data_payload(html, "src") == MP4
    assert data_payload(html, "poster") == JPEG
    assert urls(html, "src")[0].startswith("data:video/mp4;base64,")
    assert urls(html, "poster")[0].startswith("data:image/jpeg;base64,")
    assert sorted(fetched) == sorted([SIM, SIM_JPG])
    assert ".invalid" not in "".join(urls(html, "src") + urls(html, "poster"))
    assert "simulated" in html
    assert "embedded" in html


def test_embed_true_forces_embedding_of_a_reachable_url(fetched: list[str]) -> None:
    html = video_html(make_video(), embed=True)
    assert data_payload(html, "src") == MP4
    assert data_payload(html, "poster") == JPEG


def test_embed_false_keeps_the_remote_url(fetched: list[str]) -> None:
    html = video_html(make_video(video_url=SIM, thumbnail_url=SIM_JPG), embed=False)
    assert urls(html, "src") == [SIM]
    assert fetched == []


def test_media_cache_is_used_without_a_fetcher(files: dict[str, Path]) -> None:
    from luma_nb._media_cache import MediaCache

    cache = MediaCache()  # LUMA_NB_CACHE_DIR points at tmp (fixture)
    temp = cache.open_temp()
    temp.write(MP4)
    cache.commit(temp, SIM, "video/mp4")
    html = video_html(make_video(video_url=SIM, thumbnail_url=None))
    assert data_payload(html, "src") == MP4


def test_a_data_url_result_is_used_as_is() -> None:
    data_url = "data:video/mp4;base64," + base64.b64encode(MP4).decode()
    html = video_html(make_video(video_url=data_url, thumbnail_url=None))
    assert urls(html, "src") == [data_url]


# --------------------------------------------------------------------------- the cap


def test_embed_limit_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    assert embed_limit() == DEFAULT_EMBED_LIMIT == 8 * 1024 * 1024
    monkeypatch.setenv(EMBED_LIMIT_ENV, "1000")
    assert embed_limit() == 1000
    monkeypatch.setenv(EMBED_LIMIT_ENV, " 0 ")
    assert embed_limit() == 0
    for bad in ("lots", "-5", "8MB"):
        monkeypatch.setenv(EMBED_LIMIT_ENV, bad)
        with pytest.warns(UserWarning, match=EMBED_LIMIT_ENV):
            assert embed_limit() == DEFAULT_EMBED_LIMIT


def test_over_the_cap_no_data_url_but_a_note(
    monkeypatch: pytest.MonkeyPatch, fetched: list[str]
) -> None:
    monkeypatch.setenv(EMBED_LIMIT_ENV, str(len(MP4) - 1))
    html = video_html(make_video(), embed=True)
    assert_inert(html)
    assert not any(u.startswith("data:video") for u in urls(html, "src"))
    text = " ".join(parse(html).text)
    assert f"over the {human_bytes(len(MP4) - 1)} embed cap" in text
    assert EMBED_LIMIT_ENV in text
    # A reachable URL stays playable remotely and is linked.
    assert urls(html, "src") == [CDN]
    assert urls(html, "href") == [CDN]
    # The poster is under the cap and still embedded.
    assert data_payload(html, "poster") == JPEG


def test_over_the_cap_on_an_unreachable_host_offers_no_dead_link(
    monkeypatch: pytest.MonkeyPatch, fetched: list[str]
) -> None:
    monkeypatch.setenv(EMBED_LIMIT_ENV, "10")
    html = video_html(make_video(video_url=SIM, thumbnail_url=SIM_JPG))
    assert "data:" not in html
    assert urls(html, "href") == []
    assert urls(html, "src") == []
    assert "client.download" in html
    assert "embed cap" in html


def test_the_default_cap_is_stated_in_mb(fetched: list[str], files: dict[str, Path]) -> None:
    files["video"].write_bytes(MP4 + bytes(DEFAULT_EMBED_LIMIT))
    html = video_html(make_video(video_url=SIM, thumbnail_url=None))
    assert "over the 8 MB embed cap" in html
    assert "data:video" not in html


def test_cap_zero_turns_embedding_off(monkeypatch: pytest.MonkeyPatch, fetched: list[str]) -> None:
    monkeypatch.setenv(EMBED_LIMIT_ENV, "0")
    html = video_html(make_video(video_url=SIM))
    assert "data:" not in html
    assert "Embedding is off" in html


def test_fetcher_failure_degrades_to_a_note() -> None:
    def broken(url: str) -> Path:
        raise ConnectionError("<b>simulator</b> is down")

    set_media_fetcher(broken)
    html = video_html(make_video(video_url=SIM, thumbnail_url=SIM_JPG))
    assert_inert(html)
    assert "data:" not in html
    assert "ConnectionError" in html
    assert "&lt;b&gt;simulator&lt;/b&gt;" in html


def test_no_fetcher_degrades_to_a_note() -> None:
    html = video_html(make_video(video_url=SIM))
    assert "no fetcher is registered" in html
    assert "data:" not in html


def test_async_fetcher_is_refused_without_a_warning(recwarn: pytest.WarningsRecorder) -> None:
    async def fetch(url: str) -> Path:
        return Path(url)

    set_media_fetcher(fetch)  # type: ignore[arg-type]
    html = video_html(make_video(video_url=SIM))
    assert "fetcher is async" in html
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


def test_fetcher_returning_a_missing_file_degrades(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    set_media_fetcher(lambda url: tmp_path / "cache" / "gone.mp4")
    html = video_html(make_video(video_url=SIM))
    assert "FileNotFoundError" in html


def test_fetcher_returning_a_file_outside_the_cache_embeds_nothing(tmp_path: Path) -> None:
    outside = tmp_path / "clip.mp4"
    outside.write_bytes(MP4)
    set_media_fetcher(lambda url: outside)
    html = video_html(make_video(video_url=SIM))
    assert "data:" not in html
    assert "not in luma_nb&#x27;s media cache" in html


def test_rendering_never_raises() -> None:
    class Weird:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    bad = make_video(prompt=Weird())
    html = video_html(bad)
    assert "display error" in html
    assert "RuntimeError" in html
    assert_inert(html)
    assert "could not describe" in video_text(bad)
    assert "display error" in task_html(Task(id="t", state=TaskState.FAILED, error=Weird()))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- video card content


def test_video_card_shows_prompts_size_ids_and_backend() -> None:
    html = video_html(make_video())
    text = " ".join(parse(html).text)
    for expected in (
        "Prompt sent",
        "A red fox in the snow",
        "Prompt echoed",
        "A red fox in the snow, cinematic",
        "1280\N{MULTIPLICATION SIGN}720",
        "16:9",
        "vid-1",
        "task-1",
        "trace-1",
        "Luma API",
    ):
        assert expected in text, expected
    assert "simulated" not in text


def test_unchanged_echo_is_shown_once() -> None:
    html = video_html(make_video(prompt="same", request=VideoRequest(prompt="same")))
    assert html.count(">same<") == 1
    assert "echoed unchanged" in html


def test_simulated_backend_is_marked() -> None:
    html = video_html(make_video(backend="simulator"), embed=False)
    assert re.search(r'class="luma-nb-badge luma-nb-sim">simulated<', html)
    assert "simulated" in video_text(make_video(backend="simulator"))


def test_extend_and_loop_are_shown() -> None:
    request = VideoRequest(action="extend", video_id="parent-9", loop=True)
    html = video_html(make_video(request=request))
    assert "parent-9" in html
    assert re.search(r"<video [^>]*\bloop\b", html)


def test_styles_are_scoped() -> None:
    html = video_html(make_video())
    (css,) = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    selectors = re.findall(r"(?:^|})([^{}]+)\{", css)
    assert selectors
    for group in selectors:
        for selector in group.split(","):
            assert selector.strip().startswith(".luma-nb-"), selector


# --------------------------------------------------------------------------- tasks


def test_running_task_card() -> None:
    task = Task(
        id="task-run",
        state=TaskState.PROCESSING,
        trace_id="trace-run",
        sent=VideoRequest(prompt="<a fox>"),
        backend="simulator",
        elapsed=None,
    )
    html = task_html(task, elapsed=42.0)
    assert_inert(html)
    text = " ".join(parse(html).text)
    for expected in ("processing", "task-run", "trace-run", "42 s", "<a fox>", "simulated"):
        assert expected in text, expected
    assert "video" not in parse(html).tags
    assert "luma-nb-run" in html
    plain = task_text(task)
    assert "processing" in plain
    assert "task-run" in plain


def test_running_task_elapsed_from_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("luma_nb._durations.time.time", lambda: 1_000_075.0)
    task = Task(id="t", state=TaskState.PENDING, created_at=1_000_000.0)
    assert "1 min 15 s" in task_html(task)
    # Simulated timestamps are not comparable with the wall clock: no made-up elapsed time.
    sim = Task(id="t", state=TaskState.PENDING, created_at=1_000_000.0, backend="simulator")
    assert "Generation time" not in task_html(sim)
    done = Task(id="t", state=TaskState.QUEUED, created_at=10.0, finished_at=13.5)
    assert "3.5 s" in task_html(done)


def test_unknown_state_shows_the_servers_word() -> None:
    task = Task(id="t", state=TaskState.UNKNOWN, raw_state="rendering<x>")
    html = task_html(task)
    assert "rendering&lt;x&gt;" in html
    assert "rendering<x>" in task_text(task)


def test_failed_task_card() -> None:
    task = Task(
        id="task-bad",
        state=TaskState.FAILED,
        trace_id="trace-bad",
        error=TaskError("content_moderation", "The prompt was rejected."),
    )
    html = task_html(task)
    text = " ".join(parse(html).text)
    for expected in ("failed", "content_moderation", "The prompt was rejected.", "trace-bad"):
        assert expected in text, expected
    assert "luma-nb-fail" in html
    plain = task_text(task)
    assert "content_moderation" in plain
    assert "The prompt was rejected." in plain
    assert "trace-bad" in plain


def test_completed_task_shows_its_video_with_what_the_task_knows() -> None:
    video = make_video(trace_id=None, request=None)
    sent = VideoRequest(prompt="sent prompt")
    task = Task(id="task-1", state=TaskState.COMPLETED, video=video, trace_id="t-tr", sent=sent)
    html = task_html(task)
    assert "video" in parse(html).tags
    assert urls(html, "src") == [CDN]
    assert "t-tr" in html
    assert "sent prompt" in html
    assert "sent prompt" in task_text(task)


# --------------------------------------------------------------------------- text


def test_plain_text_fallbacks() -> None:
    text = video_text(make_video())
    assert text.splitlines()[0] == "Luma video · completed · Luma API"
    for expected in ("prompt sent", "prompt echoed", "1280x720 (16:9)", "vid-1", CDN, CDN_JPG):
        assert expected in text
    assert "<" not in text
    minimal = video_text(Video(task_id="t", video_url=CDN))
    assert "size" in minimal
    assert "unknown" in minimal


# --------------------------------------------------------------------------- show


def test_show_outside_ipython_prints_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    show(make_video())
    out = capsys.readouterr().out
    assert out.startswith("Luma video")
    assert "<" not in out


def _kernel_shell() -> object:
    """A stand-in for a notebook's shell: an instance of a ZMQInteractiveShell subclass, as
    Colab's is (made without running the shell's constructor)."""
    from ipykernel.zmqshell import ZMQInteractiveShell

    class ColabLikeShell(ZMQInteractiveShell):
        pass

    return object.__new__(ColabLikeShell)


def test_show_in_ipython_displays_a_mimebundle(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython
    import IPython.display

    shown: list[tuple[Any, dict[str, Any]]] = []
    shell = _kernel_shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    show(make_video())
    show(Task(id="t9", state=TaskState.QUEUED))
    show(grid([make_video()]))
    assert len(shown) == 3
    for bundle, kwargs in shown:
        assert kwargs == {"raw": True}
        assert set(bundle) == {"text/html", "text/plain"}
        assert_inert(bundle["text/html"])
    assert "<video" in shown[0][0]["text/html"]
    assert "t9" in shown[1][0]["text/plain"]


def test_a_terminal_ipython_or_a_look_alike_shell_gets_text(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython

    class ZMQInteractiveShell:  # the right name, but not a kernel's shell
        pass

    for shell in (object(), ZMQInteractiveShell()):
        monkeypatch.setattr(IPython, "get_ipython", lambda shell=shell: shell)
        show(make_video())
        assert capsys.readouterr().out.startswith("Luma video")


def test_show_passes_embed(monkeypatch: pytest.MonkeyPatch, fetched: list[str]) -> None:
    import IPython
    import IPython.display

    shown: list[Any] = []
    shell = _kernel_shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    show(make_video(), embed=True)
    assert data_payload(shown[0]["text/html"], "src") == MP4


def test_show_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="Video"):
        show("a string")  # type: ignore[arg-type]


def test_importing_display_does_not_import_ipython() -> None:
    code = (
        "import sys, luma_nb.display\n"
        "bad = [m for m in ('IPython', 'ipywidgets') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tempfile.gettempdir())


# --------------------------------------------------------------------------- grid


def test_grid_with_labels_and_columns() -> None:
    items: list[Video | Task] = [
        make_video(video_id="a"),
        make_video(video_id="b"),
        Task(id="t-fail", state=TaskState.FAILED, error=TaskError("x", "boom")),
    ]
    view = grid(items, labels=["arm A", "arm B", "arm <C>"], columns=3)
    assert isinstance(view, GridView)
    html = view._repr_html_()
    assert_inert(html)
    assert "repeat(3,minmax(0,1fr))" in html
    assert html.count('class="luma-nb-card"') == 3
    assert html.count("<style>") == 1
    text = " ".join(parse(html).text)
    assert "arm A" in text
    assert "arm B" in text
    assert "arm <C>" in text
    assert "boom" in text
    bundle = view._repr_mimebundle_()
    assert bundle["text/html"] == html
    assert "arm A" in bundle["text/plain"]
    assert "boom" in bundle["text/plain"]
    assert repr(view) == view.text()


def test_grid_columns_shrink_to_items_and_default_labels() -> None:
    view = grid([make_video()], columns=4)
    assert "repeat(1,minmax(0,1fr))" in view.html()
    assert "#1" in view.text()


def test_grid_pretty_repr() -> None:
    from IPython.lib.pretty import pretty

    view = grid([make_video(), make_video()])
    assert pretty(view) == view.text()  # type: ignore[no-untyped-call]


def test_grid_empty() -> None:
    view = grid([])
    assert "No videos" in view.html()
    assert "no videos" in view.text()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"videos": [make_video()], "labels": ["a", "b"]}, ValueError),
        ({"videos": [make_video()], "columns": 0}, ValueError),
        ({"videos": [make_video()], "columns": True}, ValueError),
        ({"videos": [make_video()], "labels": "a"}, TypeError),
        ({"videos": make_video()}, TypeError),
        ({"videos": ["not a video"]}, TypeError),
    ],
)
def test_grid_rejects_bad_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        grid(**kwargs)


def test_grid_embeds_each_card(fetched: list[str]) -> None:
    view = grid([make_video(video_url=SIM, thumbnail_url=None), make_video()], embed=None)
    html = view.html()
    srcs = urls(html, "src")
    assert srcs[0].startswith("data:video/mp4;base64,")
    assert srcs[1] == CDN


# --------------------------------------------------------------------------- media sniffing


@pytest.mark.parametrize(
    ("head", "family", "expected"),
    [
        (MP4[:16], "video/", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  " + bytes(4), "video/", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3" + bytes(12), "video/", "video/webm"),
        (JPEG[:16], "image/", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n" + bytes(8), "image/", "image/png"),
        (b"GIF89a" + bytes(10), "image/", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/", "image/webp"),
        # Only the content counts: no guess from a name, no default for unknown bytes.
        (bytes(16), "video/", None),
        (b"ssh-rsa AAAAB3Nz", "video/", None),
        (b"root:x:0:0:root:", "image/", None),
        (b"\x00\x00\x00\x00ftypmp42" + bytes(4), "video/", None),  # no plausible ftyp box
        (b"\xff\xff\xff\xffftypmp42" + bytes(4), "video/", None),
        (b"GIF8" + bytes(12), "image/", None),
        (JPEG[:16], "video/", None),
        (MP4[:16], "image/", None),
    ],
)
def test_sniff_media_type(head: bytes, family: str, expected: str | None) -> None:
    assert sniff_media_type(head, family) == expected


def test_a_poster_that_is_not_an_image_is_dropped(files: dict[str, Path]) -> None:
    set_media_fetcher(lambda url: files["video"])  # serves the MP4 for the poster too
    html = video_html(make_video(video_url=SIM, thumbnail_url=SIM_JPG))
    assert urls(html, "poster") == []
    assert data_payload(html, "src") == MP4


# --------------------------------------------------------------------------- end to end


def test_simulator_result_embeds_through_the_client(tmp_path: Path) -> None:
    from luma_nb.client import Client
    from luma_nb.simulator import Simulator, VirtualClock

    clock = VirtualClock()
    sim = Simulator(seed=3, clock=clock)
    with Client(
        "sk-test-display",
        base_url=sim.base_url,
        transport=sim.transport(),
        backend="simulator",
        cache_dir=tmp_path / "client-cache",
        sleep=clock.advance,
    ) as client:
        video = client.generate("a paper boat on a rainy street")
        set_media_fetcher(client.download)
        html = video_html(video)
    assert_inert(html)
    assert needs_embedding(video.video_url)
    assert data_payload(html, "src")[4:8] == b"ftyp"
    assert data_payload(html, "poster")[:3] == b"\xff\xd8\xff"
    assert "simulated" in html
