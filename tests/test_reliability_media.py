"""Hostile media references, written from the class of attack (see ``luma_nb._media_policy``).

1. A log row's ``media_path`` names any file (``~/.ssh/id_rsa``, a symlink out of the cache,
   a text file in it, ``..``): no view reads it into the page unless it is media in the cache.
2. An answer or a log row names a loopback/private URL: no view makes the kernel fetch it,
   unless it is the simulator this kernel is connected to. A real loopback server that is
   not the simulator serves a secret disguised as an MP4, and counts requests.
3. ``export_html(log, folder)`` names the file after the log's session: it stays in the folder.
4. Server text reaching a terminal (progress line, text/plain views) shows its control and
   bidi characters escaped.
"""

from __future__ import annotations

import base64
import gc
import io
import ipaddress
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from luma_nb import _media_policy, chain, display
from luma_nb._html import IMAGE, VIDEO, clean_text
from luma_nb._media_cache import MediaCache
from luma_nb._media_policy import (
    fetch_refusal,
    is_public_host,
    is_simulator_url,
    read_media,
    register_simulator,
    report_file_name,
)
from luma_nb._progress import StatusLine
from luma_nb.display import set_media_fetcher, task_html, video_html, video_text
from luma_nb.models import Task, TaskError, TaskState, Video, VideoRequest
from luma_nb.render.media import media_fetcher
from luma_nb.report import export_html, report_html

SECRET = b"LUMA-NB-SECRET-7f3a91c4e2b8d05a"
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
CLIP = MP4_HEAD + bytes(range(256)) * 2  # a legitimate cached video
DISGUISED = MP4_HEAD + SECRET * 8  # a secret that starts like a video: magic bytes alone pass it
SIM_URL = "https://media.luma-simulator.invalid/media/luma/t1.mp4"
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --------------------------------------------------------------------------- helpers


def _secret_forms() -> list[str]:
    """The secret as text and as base64 at each of the three byte alignments."""
    forms = [SECRET.decode()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + SECRET).decode()
        forms.append(encoded[4:-4])  # the part fixed by the secret alone
    return forms


_DATA = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,([A-Za-z0-9+/=]*)")


def assert_no_secret(markup: str) -> None:
    for form in _secret_forms():
        assert form not in markup
    for payload in _DATA.findall(markup):
        assert SECRET not in base64.b64decode(payload)


def data_payloads(markup: str) -> list[bytes]:
    return [base64.b64decode(p) for p in _DATA.findall(markup)]


def _row(media_path: object = None, url: str | None = SIM_URL, **more: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "iteration": "it-1",
        "session": "session-1",
        "action": "generate",
        "state": "completed",
        "prompt": "a paper boat",
        "video_url": url,
        "thumbnail_url": None,
        "media_path": media_path,
        "backend": "simulator",
    }
    row.update(more)
    return row


def every_row_view(rows: list[dict[str, Any]], folder: Path) -> list[str]:
    """Every page a log row reaches: report, export, timeline, chain player, study player."""
    from luma_nb.render.adapt import video_from_row as playable

    pages = []
    for embed in (None, True, False):
        pages.append(report_html(rows, embed=embed))
        pages.append(chain.Timeline(rows, embed).html())
        pages.append(chain.ChainPlayer(rows, embed, "sequence").html())
        pages.append(chain.ChainPlayer(rows, embed, "last").html())
    pages.append(export_html(rows, folder / "report.html").read_text(encoding="utf-8"))
    for row in rows:
        video = playable(row)
        if video is not None:
            pages.append(video_html(video))
    return pages


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A private cache, no fetcher, no cap override, no simulator trusted unless registered."""
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(display.EMBED_LIMIT_ENV, raising=False)
    for name in (*display.REMOTE_BROWSER_ENV, "ACEDATACLOUD_API_TOKEN", "LUMA_NB_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("ACEDATACLOUD_API_BASE_URL", raising=False)
    fetcher = media_fetcher()
    origins = set(_media_policy._origins)
    owned = list(_media_policy._owned.items())
    _media_policy._origins.clear()
    _media_policy._owned.clear()
    set_media_fetcher(None)
    yield
    set_media_fetcher(fetcher)
    _media_policy._origins.clear()
    _media_policy._origins.update(origins)
    _media_policy._owned.clear()
    _media_policy._owned.update(owned)


# --------------------------------------------------------------------------- 1. local files


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A cache with one real clip and traps in and around it."""
    blobs = tmp_path / "cache" / "blobs"
    blobs.mkdir(parents=True)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    paths = {
        "cache": tmp_path / "cache",
        "blobs": blobs,
        "home": home,
        "good": blobs / "good.mp4",
        "id_rsa": home / ".ssh" / "id_rsa",
        "disguised": home / "secret.mp4",
        "notes": blobs / "notes.txt",
        "fake": blobs / "fake.mp4",
        "link": blobs / "link.mp4",
        "dirlink": blobs / "outside",
        "sibling": tmp_path / "cache-evil" / "x.mp4",
        "fifo": blobs / "pipe.mp4",
    }
    paths["good"].write_bytes(CLIP)
    paths["id_rsa"].write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + SECRET)
    paths["disguised"].write_bytes(DISGUISED)
    paths["notes"].write_bytes(SECRET)
    paths["fake"].write_bytes(SECRET + b"\n" + DISGUISED)  # a media name, no media bytes
    paths["link"].symlink_to(paths["disguised"])
    paths["dirlink"].symlink_to(home, target_is_directory=True)
    paths["sibling"].parent.mkdir()
    paths["sibling"].write_bytes(DISGUISED)
    os.mkfifo(paths["fifo"])  # reading it without O_NONBLOCK would hang the kernel
    return paths


def _hostile_paths(p: dict[str, Path]) -> list[str]:
    return [
        str(p["id_rsa"]),
        str(p["disguised"]),
        str(p["link"]),
        str(p["dirlink"] / "secret.mp4"),
        str(p["dirlink"] / ".ssh" / "id_rsa"),
        str(p["notes"]),
        str(p["fake"]),
        str(p["blobs"]) + "/../../home/secret.mp4",
        str(p["cache"]) + "/blobs/../../home/.ssh/id_rsa",
        os.path.relpath(p["disguised"]),
        str(p["sibling"]),
        str(p["fifo"]),
        str(p["blobs"]),
        str(p["good"]) + "\x00",
        str(p["disguised"]) + "\x00.mp4",
        "A" * 5000,
        "~/.ssh/id_rsa",
        "/etc/passwd",
        "/proc/self/environ",
        "/dev/zero",
    ]


def test_no_view_reads_a_file_outside_the_cache_or_not_media(
    layout: dict[str, Path], tmp_path: Path
) -> None:
    rows = [_row(path, iteration=f"it-{i}") for i, path in enumerate(_hostile_paths(layout))]
    for markup in every_row_view(rows, tmp_path):
        assert_no_secret(markup)
    for path in _hostile_paths(layout):
        read = read_media(path, VIDEO, 10**6)
        assert read.data_url is None and read.refused, path
    # A log of public videos: the hostile copy would be embedded with no fetch at all.
    public = [_row(p, url="https://cdn.example.com/a.mp4") for p in _hostile_paths(layout)]
    for markup in every_row_view(public, tmp_path):
        assert_no_secret(markup)


def test_a_real_cached_clip_is_still_embedded(layout: dict[str, Path], tmp_path: Path) -> None:
    pages = every_row_view([_row(str(layout["good"]))], tmp_path)
    assert all(CLIP in data_payloads(page) for page in pages[:2])  # report, timeline
    # Any spelling that resolves to it works: a relative path, a detour through "..".
    detour = str(layout["blobs"]) + "/../blobs/./good.mp4"
    assert read_media(detour, VIDEO, 10**6).data_url is not None
    assert read_media(os.path.relpath(layout["good"]), VIDEO, 10**6).data_url is not None
    assert read_media(str(layout["good"]), IMAGE, 10**6).refused == "the file is not an image"


def test_the_panel_and_study_players_read_only_cached_media(layout: dict[str, Path]) -> None:
    pytest.importorskip("ipywidgets")
    from luma_nb.panel._media import card_html, source

    for path in _hostile_paths(layout):
        assert source(SIM_URL, Path(path), VIDEO) is None
        markup = card_html(Video(task_id="t", video_url=SIM_URL), Path(path), None)
        assert_no_secret(markup)
    good = source(SIM_URL, layout["good"], VIDEO)
    assert good is not None and base64.b64decode(good.split(",", 1)[1]) == CLIP


def test_an_edited_cache_index_cannot_point_outside(layout: dict[str, Path]) -> None:
    cache = MediaCache(layout["cache"])
    temp = cache.open_temp()
    temp.write(CLIP)
    cache.commit(temp, SIM_URL, "video/mp4")
    index = cache._index_path(SIM_URL)
    for name in ("../../home/secret.mp4", str(layout["disguised"]), "../notes.txt", "link.mp4"):
        index.write_text(name, encoding="utf-8")
        assert cache.lookup(SIM_URL) is None, name
        assert_no_secret(video_html(Video(task_id="t", video_url=SIM_URL)))


_SEGMENTS = st.sampled_from(
    [
        *["..", ".", "", "blobs", "home", ".ssh", "id_rsa", "secret.mp4", "good.mp4"],
        *["link.mp4", "outside", "notes.txt", "fake.mp4", "cache", "cache-evil", "pipe.mp4"],
    ]
)


@SETTINGS
@given(
    base=st.sampled_from(["cache", "cache/blobs", "home", "", "cache/blobs/outside"]),
    parts=st.lists(_SEGMENTS, max_size=6),
)
@example(base="cache/blobs", parts=["good.mp4"])
@example(base="cache/blobs", parts=["..", "..", "home", "secret.mp4"])
@example(base="cache/blobs/outside", parts=["secret.mp4"])
def test_whatever_the_path_only_the_cached_clip_is_ever_read(
    layout: dict[str, Path], tmp_path: Path, base: str, parts: list[str]
) -> None:
    path = os.path.join(str(tmp_path / base), *parts)
    read = read_media(path, VIDEO, 10**6)
    if read.data_url is not None:
        assert os.path.realpath(path) == os.path.realpath(layout["good"])
        assert base64.b64decode(read.data_url.split(",", 1)[1]) == CLIP
    markup = report_html([_row(path)])
    assert_no_secret(markup)
    assert all(payload == CLIP for payload in data_payloads(markup))


@SETTINGS
@given(st.text(max_size=300))
def test_read_media_never_raises(text: str) -> None:
    assert read_media(text, VIDEO, 1000).data_url is None


# --------------------------------------------------------------------------- 2. private URLs


class _SecretHandler(BaseHTTPRequestHandler):
    """A loopback service that is not the simulator: it answers anything with the secret."""

    server: _SecretServer

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "video/mp4")
        self.send_header("content-length", str(len(DISGUISED)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(DISGUISED)

    do_HEAD = do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SecretServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SecretHandler)
        self.hits: list[str] = []


@pytest.fixture
def private_server() -> Iterator[_SecretServer]:
    server = _SecretServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _spellings(port: int, path: str = "/media/luma/t1.mp4") -> list[str]:
    """One loopback service, written every way a URL parser or resolver accepts."""
    return [
        f"http://127.0.0.1:{port}{path}",
        f"http://localhost:{port}{path}",
        f"http://LocalHost.:{port}{path}",
        f"http://127.1:{port}{path}",
        f"http://0x7f.0.0.1:{port}{path}",
        f"http://2130706433:{port}{path}",
        f"http://017700000001:{port}{path}",
        f"http://[::ffff:127.0.0.1]:{port}{path}",
        f"http://user:pw@127.0.0.1:{port}{path}",
        f"http://cdn.example.com\\@127.0.0.1:{port}{path}",
        f"http://127\u30020\u30020\u30021:{port}{path}",  # ideographic full stops
    ]


@pytest.fixture
def real_fetcher(tmp_path: Path) -> Iterator[Any]:
    """A kernel's fetcher: a client with a token that would really connect to loopback."""
    import luma_nb

    client = luma_nb.Client(
        "sk-real-token-0001", base_url="https://api.example.invalid", cache_dir=tmp_path / "cache"
    )
    set_media_fetcher(client.download)
    try:
        yield client
    finally:
        set_media_fetcher(None)
        client.close()


def _every_url_view(url: str, poster: str, folder: Path) -> list[str]:
    video = Video(
        task_id="t1",
        video_url=url,
        thumbnail_url=poster,
        request=VideoRequest(prompt="a boat"),
        backend="api",
    )
    task = Task(id="t1", state=TaskState.COMPLETED, video=video)
    pages = []
    for embed in (None, True):
        pages += [
            video_html(video, embed=embed),
            task_html(task, embed=embed),
            display.grid([video, task], embed=embed).html(),
            display.bundle(video, embed)["text/html"],
        ]
    rows = [_row(None, url, thumbnail_url=poster, backend="api")]
    return pages + every_row_view(rows, folder)


def test_no_view_fetches_a_loopback_service_that_is_not_the_simulator(
    private_server: _SecretServer, real_fetcher: Any, tmp_path: Path
) -> None:
    port = private_server.server_port
    for url in _spellings(port):
        assert fetch_refusal(url) is not None, url
        for markup in _every_url_view(url, url.replace(".mp4", ".jpg"), tmp_path):
            assert_no_secret(markup)
    assert private_server.hits == []
    # The fetcher does reach the service when asked directly: so "no request" above means
    # the views declined, not that the service was out of reach...
    url = f"http://127.0.0.1:{port}/media/luma/t1.mp4"
    saved = real_fetcher.download(url)  # as the notebook helpers save every finished video
    assert SECRET in saved.read_bytes()
    assert len(private_server.hits) == 1
    # ...and its answer, now in the media cache and logged as the row's copy, is still never
    # embedded: it looks like an MP4, so only the URL rule keeps it out.
    for markup in _every_url_view(url, url, tmp_path):
        assert_no_secret(markup)
    for markup in every_row_view([_row(str(saved), url, backend="api")], tmp_path):
        assert_no_secret(markup)
    assert len(private_server.hits) == 1


def test_a_saved_clip_of_an_earlier_simulator_still_embeds(layout: dict[str, Path]) -> None:
    # A session recorded on a loopback simulator that has since stopped: its port is no
    # longer registered, but the row says "simulator" and its copy is cached media.
    row = _row(str(layout["good"]), "http://localhost:1/media/luma/t1.mp4", backend="simulator")
    assert CLIP in data_payloads(report_html([row]))
    assert CLIP not in data_payloads(report_html([{**row, "backend": "api"}]))


def test_the_panel_media_functions_fetch_nothing(
    private_server: _SecretServer, real_fetcher: Any
) -> None:
    pytest.importorskip("ipywidgets")
    from luma_nb.panel._media import card_html, may_fetch, source

    for url in _spellings(private_server.server_port):
        assert not may_fetch(url)
        assert source(url, None, VIDEO) is None
        assert_no_secret(
            card_html(Video(task_id="t", video_url=url, thumbnail_url=url), None, None)
        )
    assert private_server.hits == []


_PRIVATE_NETWORKS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


def _spell(address: ipaddress.IPv4Address, how: str) -> str:
    value = int(address)
    if how == "dotted":
        return str(address)
    if how == "integer":
        return str(value)
    if how == "hex":
        return hex(value)
    if how == "mapped":
        return f"[::ffff:{address}]"
    if how == "6to4":
        return f"[2002:{value >> 16:x}:{value & 0xFFFF:x}::1]"
    return f"[64:ff9b::{value >> 16:x}:{value & 0xFFFF:x}]"  # NAT64


@SETTINGS
@given(
    address=st.one_of(*(st.ip_addresses(network=n) for n in _PRIVATE_NETWORKS)),
    how=st.sampled_from(["dotted", "integer", "hex", "mapped", "6to4", "nat64"]),
    port=st.integers(1, 65535),
)
def test_a_non_public_address_in_any_spelling_is_never_fetched(
    address: ipaddress.IPv4Address, how: str, port: int
) -> None:
    url = f"http://{_spell(address, how)}:{port}/clip.mp4"
    assert fetch_refusal(url) is not None, url


@SETTINGS
@given(
    address=st.one_of(
        st.ip_addresses(network="fe80::/10"),
        st.ip_addresses(network="fc00::/7"),
        st.ip_addresses(network="::1/128"),
    ),
)
def test_non_public_ipv6_is_never_fetched(address: ipaddress.IPv6Address) -> None:
    assert fetch_refusal(f"https://[{address}]/clip.mp4") is not None


@pytest.mark.parametrize(
    "host",
    [
        *["localhost", "LOCALHOST.", "sim.localhost", "metadata", "db", "printer.local"],
        *["api.internal", "nas.lan", "router.home.arpa", "x.corp"],
        "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",  # fullwidth "localhost"
    ],
)
def test_local_names_are_not_public(host: str) -> None:
    assert not is_public_host(host)
    assert fetch_refusal(f"http://{host}/clip.mp4") is not None


@pytest.mark.parametrize(
    "url", ["https://cdn.example.com/a.mp4", "http://8.8.8.8/a.mp4", "https://[2606:4700::1]/a"]
)
def test_public_urls_may_be_fetched_but_are_linked_by_default(url: str) -> None:
    assert fetch_refusal(url) is None
    fetched: list[str] = []
    set_media_fetcher(lambda u: fetched.append(u) or Path("/nonexistent"))  # type: ignore[func-returns-value]
    markup = video_html(Video(task_id="t", video_url=url))
    assert f'src="{url}"' in markup and fetched == []  # today's rule: linked, not fetched


@SETTINGS
@given(st.text(max_size=200))
def test_fetch_refusal_never_raises_and_allows_only_public_hosts(text: str) -> None:
    for url in (text, "http://" + text, f"https://{text}/x.mp4", f"http://a.b:80@{text}/"):
        if fetch_refusal(url) is None:  # no simulator is registered here
            host = urlsplit(url).hostname or ""
            assert is_public_host(host) or host.rstrip(".").endswith("invalid"), url


@SETTINGS
@given(
    registered=st.sampled_from(["127.0.0.1", "localhost", "[::1]"]),
    asked=st.sampled_from(["127.0.0.1", "localhost", "[::1]", "127.0.0.2", "10.0.0.1"]),
    port=st.integers(1024, 65535),
    other=st.integers(1, 65535),
    scheme=st.sampled_from(["http", "https"]),
)
def test_only_the_registered_simulators_origin_is_trusted(
    registered: str, asked: str, port: int, other: int, scheme: str
) -> None:
    base = f"http://{registered}:{port}"
    register_simulator(base)
    try:
        same = asked in ("127.0.0.1", "localhost", "[::1]")
        trusted = fetch_refusal(f"{scheme}://{asked}:{port}/m.mp4") is None
        assert trusted == (same and scheme == "http")
        if other != port:
            assert fetch_refusal(f"http://{asked}:{other}/m.mp4") is not None
    finally:
        _media_policy.forget_simulator(base)
    assert fetch_refusal(f"http://{asked}:{port}/m.mp4") is not None


def test_the_connected_simulator_still_embeds_and_only_while_connected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, private_server: _SecretServer
) -> None:
    from luma_nb.backend import connect
    from luma_nb.simulator import Simulator, SimulatorServer, VirtualClock

    clock = VirtualClock()
    sim = Simulator(seed=5, clock=clock)
    try:
        with SimulatorServer(sim) as server:
            monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", server.url)
            client = connect(
                backend="simulator",
                banner=False,
                sleep=clock.advance,
                clock=clock.now,
                cache_dir=tmp_path / "cache",
            )
            video = client.generate("a paper boat on a rainy street")
            assert video.video_url.startswith(server.media_url)  # http://localhost:PORT
            set_media_fetcher(client.download)
            html = video_html(video)
            assert data_payloads(html)[0][4:8] == b"ftyp"
            rows = [_row(None, video.video_url, thumbnail_url=video.thumbnail_url)]
            assert data_payloads(report_html(rows))[0][4:8] == b"ftyp"
            assert data_payloads(chain.Timeline(rows, None).html())[0][4:8] == b"ftyp"
            # Another loopback service at the same time is still refused.
            for url in _spellings(private_server.server_port):
                assert_no_secret(video_html(Video(task_id="x", video_url=url)))
            assert private_server.hits == []
            set_media_fetcher(None)
            client.close()
            media = video.video_url
            assert is_simulator_url(media)
            del client
            gc.collect()
            assert not is_simulator_url(media)  # trusted while its client lives
    finally:
        sim.close()


# --------------------------------------------------------------------------- 3. report names

_NASTY_NAMES = [
    "../x",
    "../../etc/cron.d/luma",
    "/etc/passwd",
    "/tmp/../../x",
    "a/../../b",
    "..",
    ".",
    "",
    "a\x00b",
    "\x00",
    "CON",
    "nul.txt",
    "com1",
    "LPT9.html",
    "x" * 10_000,
    "é" * 300,
    "..\\..\\windows",
    "C:\\Windows\\x",
    ".hidden",
    "-rf",
    " ",
    "\u202ehtml.exe",
]


@SETTINGS
@given(st.one_of(st.sampled_from(_NASTY_NAMES), st.text(max_size=400), st.text("./\\\x00:~ ")))
def test_a_report_named_after_any_session_lands_in_its_folder(session: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reports"
        folder.mkdir()
        path = export_html([_row(None, None, session=session)], folder)
        assert path.parent == folder.absolute()
        assert path.resolve().parent == folder.resolve()
        assert [p.name for p in folder.iterdir()] == [path.name]  # nothing else written
        assert path.name == report_file_name(session)
        assert path.suffix == ".html" and not path.name.startswith((".", "-"))
        assert len(path.name.encode()) <= 100
        assert path.stem.split(".")[0].lower() not in ("con", "nul", "com1", "lpt9")
        assert "luma_nb" in path.read_text(encoding="utf-8")


def test_ordinary_session_ids_keep_their_name_and_others_do_not_collide() -> None:
    assert report_file_name("session-20250101-120000-ab12") == "session-20250101-120000-ab12.html"
    assert report_file_name(None) == "luma_nb-report.html"
    names = {report_file_name(s) for s in ("a/b", "a?b", "a b", "a\x00b")}
    assert len(names) == 4


# --------------------------------------------------------------------------- 4. terminal text

_DANGEROUS = (
    {chr(c) for c in range(0x20)}
    | {chr(c) for c in range(0x7F, 0xA0)}
    | {"\u061c", "\u200e", "\u200f", "\u2028", "\u2029"}
    | {chr(c) for c in range(0x202A, 0x202F)}
    | {chr(c) for c in range(0x2066, 0x206A)}
)
_HOSTILE_TEXT = st.lists(
    st.one_of(st.sampled_from(sorted(_DANGEROUS)), st.characters(), st.just("\x1b[2J")),
    max_size=40,
).map("".join)


@SETTINGS
@given(_HOSTILE_TEXT)
@example("\x1b[2J\x1b[H\r\x07\x9b31m\u202egnp.exe\x85")
def test_clean_text_shows_every_control_escaped(text: str) -> None:
    shown = clean_text(text)
    assert not _DANGEROUS & set(shown)
    for char in set(text) - {"\n", "\t", "\r"}:
        if char in _DANGEROUS:
            code = ord(char)
            escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
            assert escape in shown


@SETTINGS
@given(state=_HOSTILE_TEXT, task_id=_HOSTILE_TEXT, label=_HOSTILE_TEXT, message=_HOSTILE_TEXT)
@example(state="\x1b[2J", task_id="\rtask", label="\x07", message="\u202eevil\x9b")
def test_progress_and_text_views_are_terminal_safe(
    state: str, task_id: str, label: str, message: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    failed = Task(
        id=task_id,
        state=TaskState.FAILED,
        raw_state=state,
        error=TaskError(code=state, message=message),
        trace_id=message,
    )
    with redirect_stdout(out), redirect_stderr(err):
        line = StatusLine(label)
        line.update(Task(id=task_id, state=TaskState.UNKNOWN, raw_state=state))
        line.update(Task(id=task_id, state=TaskState.PROCESSING, raw_state=state + "x"))
        line.finish(failed)
    video = Video(task_id=task_id, video_url=SIM_URL, prompt=message, video_id=state)
    texts = [
        out.getvalue(),
        err.getvalue(),
        video_text(video),
        display.task_text(failed),
        display.grid([video, failed], labels=[label, state]).text(),
        chain.Timeline([_row(None, task_id=task_id, prompt=message, state=state)], None).text(),
    ]
    for text in texts:
        assert not (_DANGEROUS - {"\n"}) & set(text), repr(text)


@pytest.mark.parametrize(
    "hostile", ["\x1b[2J\x1b[H", "\rdone", "\x07\x07", "\x9b31m", "\u202egnp.exe", "a\x85b\u2066"]
)
def test_the_notebook_progress_line_shows_controls_escaped(
    monkeypatch: pytest.MonkeyPatch, hostile: str
) -> None:
    from luma_nb import _progress

    shown: list[str] = []

    class Handle:
        def update(self, item: Any, raw: bool = False) -> None:
            shown.append(str(item))

    monkeypatch.setattr(_progress, "in_cell", lambda: True)

    def display_html(markup: str, **_: Any) -> Handle:
        shown.append(markup)
        return Handle()

    monkeypatch.setattr(_progress, "display_html", display_html)
    monkeypatch.setattr(_progress, "html_object", lambda markup: markup)
    line = StatusLine(hostile)
    line.update(Task(id=hostile, state=TaskState.UNKNOWN, raw_state=hostile))
    assert len(shown) == 2
    for markup in shown:
        assert not _DANGEROUS & set(markup)
        assert "\\x" in markup or "\\u" in markup
