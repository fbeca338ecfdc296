"""The keyframe preflight: every rule, against real HTTP servers on loopback.

The image hosts are ``ThreadingHTTPServer`` s on 127.0.0.1. A loopback server is exactly what
the preflight refuses, so the tests mark it public with ``KeyframePreflight(allow_hosts=...)``,
and reach it under public-looking names through an injected resolver. The API is the scripted
fake of ``conftest.py`` (``api``): every test can count the paid POSTs it received. Every test
that takes ``client`` / ``make_client`` runs against ``Client`` and ``AsyncClient``.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb import _keyframe_image, _preflight
from luma_nb._keyframe_image import parse_header, read_image
from luma_nb._preflight import KeyframePreflight, KeyframeWarning
from luma_nb.errors import ConfigError, KeyframeError, ValidationError
from tests._imagehost import GIF, JPEG, PNG, ImageHost, image_bytes, policy, public_names

TOKEN = "sk-test-token-0001"  # conftest's
VIDEOS = "/luma/videos"


@pytest.fixture
def host() -> Iterator[ImageHost]:
    server = ImageHost()
    yield server
    server.close()


@pytest.fixture
def checked(make_client: Callable[..., Any], api: Any) -> Any:
    """A client of the kind under test whose preflight treats loopback as public."""
    api.script(VIDEOS, {"task_id": "task-1"})
    return make_client(preflight=policy())


def paid(api: Any) -> int:
    return len(api.to(VIDEOS))


# ----------------------------------------------------------------------------- a good keyframe


def test_a_good_keyframe_is_checked_once_and_the_submit_goes_out(checked, api, host) -> None:
    url = host.serve("/a.png")
    task = checked.submit("a cat", start_image_url=url, end_image_url=url)
    assert task.id == "task-1"
    assert paid(api) == 1
    assert api.bodies(VIDEOS)[0]["start_image_url"] == url
    assert host.paths() == ["/a.png"]  # start and end are one URL: one fetch


@pytest.mark.parametrize(
    ("fmt", "label"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")],
)
def test_each_accepted_format_passes_with_its_size(checked, host, fmt, label) -> None:
    url = host.serve(f"/a.{fmt}", body=image_bytes(fmt), content_type=label)
    report = checked.check_keyframe(url, aspect_ratio="16:9")
    assert report.ok, report
    assert (report.width, report.height, report.format) == (1280, 720, fmt.replace("WEBP", "WebP"))
    assert report.warnings == ()
    assert report.content_type == label


def test_generate_and_extend_check_too(make_client, api, host) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script("/luma/tasks", {"id": "task-1", "response": {"state": "processing"}})
    client = make_client(preflight=policy())
    url = host.serve("/missing.png", status=404, body=b"no", content_type="text/plain")
    with pytest.raises(KeyframeError):
        client.generate("a cat", start_image_url=url)
    with pytest.raises(KeyframeError):
        client.extend("vid-1", end_image_url=url)
    assert paid(api) == 0


# ----------------------------------------------------------------------------- reachability


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/a.png",
        "http://127.1/a.png",
        "http://0x7f000001/a.png",
        "http://[::1]/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://localhost/a.png",
        "http://10.0.0.5/a.png",
        "http://192.168.1.20/a.png",
        "http://172.16.0.1/a.png",
        "http://100.64.0.1/a.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/a.png",
        "http://[fd00::1]/a.png",
        "http://printer.local/a.png",
        "http://intranet/a.png",
        "http://files.corp/a.png",
        "https://images.example.invalid/a.png",
    ],
)
def test_a_url_only_this_machine_can_reach_is_refused_before_anything(
    make_client, api, url
) -> None:
    client = make_client(preflight=KeyframePreflight(resolver=public_names()))
    with pytest.raises(KeyframeError) as caught:
        client.submit("a cat", start_image_url=url)
    error = caught.value
    assert isinstance(error, ValidationError)
    assert (error.field, error.url, error.code) == ("start_image_url", url, "keyframe_unreachable")
    assert "the API cannot reach it" in str(error)
    assert "Nothing was submitted" in str(error)
    assert error.advice and error.found
    assert paid(api) == 0 and api.requests == []


def test_loopback_stands_in_for_public_only_when_allowed(make_client, api, host) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    url = host.serve("/a.png")
    with pytest.raises(KeyframeError):
        make_client().submit("a cat", start_image_url=url)
    assert host.seen == [] and paid(api) == 0
    make_client(preflight=policy()).submit("a cat", start_image_url=url)
    assert host.paths() == ["/a.png"] and paid(api) == 1


def test_a_name_is_resolved_and_the_connection_goes_to_the_checked_address(
    checked, api, host
) -> None:
    host.serve("/a.png")
    url = host.url("/a.png", host="img.test")
    checked.submit("a cat", start_image_url=url)
    [(path, headers)] = host.seen
    assert path == "/a.png"
    assert headers["host"] == f"img.test:{host.port}"  # pinned to 127.0.0.1, named img.test
    assert paid(api) == 1


@pytest.mark.parametrize(
    ("addresses", "shown"),
    [(["10.0.0.7"], "10.0.0.7"), (["93.184.216.34", "192.168.0.9"], "192.168.0.9")],
)
def test_a_public_name_that_resolves_to_a_private_address_is_refused(
    make_client, api, addresses, shown
) -> None:
    client = make_client(preflight=KeyframePreflight(resolver=lambda name, port: addresses))
    with pytest.raises(KeyframeError) as caught:
        client.submit("a cat", start_image_url="https://images.example.com/a.png")
    assert f"resolves to {shown}" in str(caught.value)
    assert paid(api) == 0


def test_a_name_that_does_not_resolve_is_refused(checked, api) -> None:
    with pytest.raises(KeyframeError) as caught:
        checked.submit("a cat", start_image_url="https://nowhere.test/a.png")
    assert "does not resolve" in str(caught.value)
    assert paid(api) == 0


@pytest.mark.parametrize(
    "url",
    ["data:image/png;base64,iVBORw0KGgo=", "file:///home/me/frame.png", "ftp://h.example/a.png"],
)
def test_data_file_and_other_schemes_are_refused(checked, api, url) -> None:
    with pytest.raises(ValidationError) as caught:  # the request itself refuses them
        checked.submit("a cat", start_image_url=url)
    assert caught.value.field == "start_image_url"
    report = checked.check_keyframe(url)
    assert not report.ok and report.code == "keyframe_unreachable"
    assert paid(api) == 0


def test_the_check_keyframe_arguments_are_validated(checked) -> None:
    with pytest.raises(ValidationError):
        checked.check_keyframe(42)
    with pytest.raises(ValidationError):
        checked.check_keyframe("https://img.test/a.png", aspect_ratio="2:1")


# ----------------------------------------------------------------------------- the token


def test_the_token_never_reaches_the_image_host(checked, api, host) -> None:
    url = host.serve("/a.png", status=302, headers={"location": "/b.png"})
    host.serve("/b.png")
    checked.submit("a cat", start_image_url=url)
    assert host.paths() == ["/a.png", "/b.png"]
    for _path, headers in host.seen:
        assert "authorization" not in headers
        assert "cookie" not in headers
        assert not any(TOKEN in value for value in headers.values())
    # ... while the API got it.
    assert api.to(VIDEOS)[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_not_even_when_the_image_is_on_the_api_origin(make_client, api, host) -> None:
    """A keyframe on the API's own origin is fetched without the token all the same."""
    api.script(VIDEOS, {"task_id": "task-1"})
    client = make_client(base_url=f"http://127.0.0.1:{host.port}", preflight=policy())
    client.submit("a cat", start_image_url=host.serve("/frame.png"))
    [(_path, headers)] = host.seen
    assert "authorization" not in headers
    assert paid(api) == 1


# ----------------------------------------------------------------------------- redirects


def test_redirects_are_followed_up_to_the_limit(checked, api, host) -> None:
    for hop in range(3):
        host.serve(f"/{hop}", status=302, headers={"location": f"/{hop + 1}"})
    host.serve("/3")
    report = checked.check_keyframe(host.url("/0"))
    assert report.ok and report.final_url == host.url("/3")
    for hop in range(4):
        host.serve(f"/x{hop}", status=301, headers={"location": f"/x{hop + 1}"})
    host.serve("/x4")
    with pytest.raises(KeyframeError) as caught:
        checked.submit("a cat", start_image_url=host.url("/x0"))
    assert "redirects too many times" in str(caught.value)
    assert paid(api) == 0


@pytest.mark.parametrize(
    "target", ["http://10.1.2.3/a.png", "http://localhost:{port}/a.png", "file:///etc/passwd"]
)
def test_a_redirect_to_a_place_the_api_cannot_reach_is_refused(
    make_client, api, host, target
) -> None:
    # The first host is public (img.test on the allowed 127.0.0.1), the redirect leads off
    # the internet: to a private address, to loopback by a name, to a file.
    client = make_client(preflight=policy())
    host.serve("/a.png")
    host.serve("/go", status=302, headers={"location": target.format(port=host.port)})
    with pytest.raises(KeyframeError) as caught:
        client.submit("a cat", start_image_url=host.url("/go", host="img.test"))
    assert "redirects" in caught.value.found
    assert host.paths() == ["/go"]  # the target was never requested
    assert paid(api) == 0


# ----------------------------------------------------------------------------- what comes back


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (404, "broken or has expired"),
        (410, "broken or has expired"),
        (403, "anonymous"),
        (401, "anonymous"),
        (500, "HTTP 500"),
    ],
)
def test_an_http_error_is_refused_with_what_to_do(checked, api, host, status, words) -> None:
    url = host.serve("/a.png", status=status, body=b"<h1>no</h1>", content_type="text/html")
    with pytest.raises(KeyframeError) as caught:
        checked.submit("a cat", start_image_url=url)
    assert words in str(caught.value)
    assert caught.value.found == f"HTTP {status} from 127.0.0.1"
    assert paid(api) == 0


@pytest.mark.parametrize(
    ("body", "label", "words"),
    [
        (b"<!doctype html><title>Sign in</title>", "text/html", "an HTML page"),
        (b"<html>viewer</html>", None, "an HTML page"),
        (GIF, "image/gif", "GIF"),
        (b'{"error": "expired"}', "application/json", "application/json, not an image"),
        (PNG, "text/plain", "served as text/plain"),
    ],
)
def test_anything_but_a_jpeg_png_or_webp_image_is_refused(
    checked, api, host, body, label, words
) -> None:
    url = host.serve("/a", body=body, content_type=label)
    with pytest.raises(KeyframeError) as caught:
        checked.submit("a cat", start_image_url=url)
    assert caught.value.code == "keyframe_not_image"
    assert words in caught.value.found
    assert paid(api) == 0


def test_bytes_decide_the_format_and_a_vague_label_only_warns(checked, api, host) -> None:
    labelled_wrong = host.serve("/jpeg-as-png", body=JPEG, content_type="image/png")
    assert checked.check_keyframe(labelled_wrong).format == "JPEG"
    vague = host.serve("/blob", body=PNG, content_type="application/octet-stream")
    with pytest.warns(KeyframeWarning, match="application/octet-stream"):
        checked.submit("a cat", start_image_url=vague)
    assert paid(api) == 1


def test_a_damaged_image_is_refused(checked, api, host) -> None:
    broken = PNG[:40] + bytes(len(PNG) - 40)  # a valid header, then zeros
    url = host.serve("/broken.png", body=broken)
    with pytest.raises(KeyframeError) as caught:
        checked.submit("a cat", start_image_url=url)
    assert caught.value.code == "keyframe_damaged"
    assert paid(api) == 0


def test_a_declared_size_over_the_cap_is_refused_without_reading(make_client, api, host) -> None:
    client = make_client(preflight=policy(max_bytes=2000))
    url = host.serve("/big.png", body=PNG)  # 4 KB, declared
    with pytest.raises(KeyframeError) as caught:
        client.submit("a cat", start_image_url=url)
    assert caught.value.code == "keyframe_too_large"
    assert "larger than the 2 KB" in str(caught.value)
    assert paid(api) == 0


def test_an_undeclared_body_stops_at_the_cap(make_client, api, host) -> None:
    client = make_client(preflight=policy(max_bytes=2000))
    url = host.serve("/big.png", body=PNG + bytes(1 << 20), length=False)
    started = time.monotonic()
    report = client.check_keyframe(url)
    assert report.code == "keyframe_too_large"
    assert time.monotonic() - started < 2.5


def test_a_slow_host_is_given_up_on_at_the_timeout(make_client, api, host) -> None:
    client = make_client(preflight=policy(timeout=0.5))
    silent = host.serve("/slow.png", delay=2.0)
    started = time.monotonic()
    with pytest.raises(KeyframeError) as caught:
        client.submit("a cat", start_image_url=silent)
    assert time.monotonic() - started < 1.8
    assert "within 0.5 s" in caught.value.found
    trickling = host.serve("/trickle.png", trickle=0.2)  # 5 chunks take 1 s
    started = time.monotonic()
    assert client.check_keyframe(trickling).problem == "the host is too slow or does not answer"
    assert time.monotonic() - started < 1.8
    assert paid(api) == 0


def test_a_host_that_refuses_connections_is_refused(checked, api) -> None:
    closed = ImageHost()
    url = closed.url("/a.png")
    closed.close()
    with pytest.raises(KeyframeError) as caught:
        checked.submit("a cat", start_image_url=url)
    assert "refused or dropped the connection" in caught.value.found
    assert paid(api) == 0


# ----------------------------------------------------------------------------- shape and size


def test_a_shape_that_does_not_fit_the_ratio_warns_but_submits(checked, api, host) -> None:
    url = host.serve("/wide.png")  # 1280x720, 16:9
    with pytest.warns(KeyframeWarning) as caught:
        checked.submit("a cat", start_image_url=url, aspect_ratio="9:16")
    [warning] = caught
    text = str(warning.message)
    assert "start_image_url" in text and "first frame" in text
    assert "1280x720 (16:9), not 9:16" in text and "cropped or letterboxed" in text
    assert paid(api) == 1


@pytest.mark.parametrize(
    ("size", "ratio", "warns"),
    [
        ((1360, 752), "16:9", False),  # the service's own 16:9 size: 1.7% off
        ((1280, 720), "16:9", False),
        ((1200, 900), "4:3", False),
        ((1500, 1000), "16:9", True),  # 3:2 is 16% off
        ((1000, 1000), "1:1", False),
        ((1040, 1000), "1:1", False),  # 4%: within 5%
        ((1060, 1000), "1:1", True),  # 6%
    ],
)
def test_the_ratio_tolerance_is_five_percent(checked, host, size, ratio, warns) -> None:
    url = host.serve(f"/{size[0]}x{size[1]}.png", body=image_bytes("PNG", size))
    report = checked.check_keyframe(url, aspect_ratio=ratio)
    assert report.ok
    assert bool(report.warnings) is warns, report.warnings


def test_a_tiny_image_warns(checked, api, host) -> None:
    url = host.serve("/tiny.png", body=image_bytes("PNG", (160, 90)))
    with pytest.warns(KeyframeWarning, match="only 160x90"):
        checked.submit("a cat", start_image_url=url, aspect_ratio="16:9")
    assert paid(api) == 1


@pytest.mark.parametrize("method", ["submit", "generate", "extend"])
@pytest.mark.parametrize("shell", ["sync", "async"])
def test_a_keyframe_warning_points_at_the_line_that_called_the_client(
    api, host, clock, tmp_path, method, shell
) -> None:
    # Called directly, not through conftest's facades: the warning names this file.
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(
        "/luma/tasks",
        {
            "id": "task-1",
            "response": {
                "task_id": "task-1",
                "state": "completed",
                "success": True,
                "video_id": "vid-1",
                "video_url": "https://cdn.example.com/task-1.mp4",
            },
        },
    )
    url = host.serve("/wide.png")  # 16:9, asked for 9:16: a warning
    first = "vid-0" if method == "extend" else "a cat"
    options: dict[str, Any] = {
        "token": TOKEN,
        "transport": api.transport(),
        "preflight": policy(),
        "clock": clock,
        "cache_dir": tmp_path,
    }

    def blocking() -> None:
        with luma_nb.Client(sleep=clock.sleep, **options) as client:
            getattr(client, method)(first, start_image_url=url, aspect_ratio="9:16")

    async def awaited() -> None:
        async with luma_nb.AsyncClient(sleep=clock.async_sleep, **options) as client:
            await getattr(client, method)(first, start_image_url=url, aspect_ratio="9:16")

    with pytest.warns(KeyframeWarning) as caught:
        blocking() if shell == "sync" else asyncio.run(awaited())
    [warning] = caught
    assert warning.filename == __file__
    assert paid(api) == 1


def test_no_ratio_no_shape_judgement(checked, host) -> None:
    url = host.serve("/a.png")
    assert checked.check_keyframe(url).warnings == ()
    assert checked.check_keyframe(url, aspect_ratio="1:1").warnings  # from the cache, judged


# ----------------------------------------------------------------------------- cache and switches


def test_a_good_keyframe_is_fetched_once_per_client(make_client, api, host) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    client = make_client(preflight=policy())
    url = host.serve("/a.png")
    for _ in range(5):
        client.submit("a cat", start_image_url=url)
    client.check_keyframe(url, aspect_ratio="1:1")
    assert host.paths() == ["/a.png"]
    assert paid(api) == 5
    make_client(preflight=policy()).submit("a dog", start_image_url=url)
    assert host.paths() == ["/a.png", "/a.png"]  # another client checks for itself


def test_a_failure_is_checked_again_next_time(checked, api, host) -> None:
    url = host.serve("/later.png", status=404, body=b"", content_type="text/plain")
    with pytest.raises(KeyframeError):
        checked.submit("a cat", start_image_url=url)
    host.serve("/later.png")  # fixed: uploaded meanwhile
    checked.submit("a cat", start_image_url=url)
    assert host.paths() == ["/later.png", "/later.png"]
    assert paid(api) == 1


def test_preflight_false_on_the_call_skips_it(checked, api, host) -> None:
    url = host.serve("/a.png", status=404, body=b"", content_type="text/plain")
    checked.submit("a cat", start_image_url=url, preflight=False)
    assert host.seen == [] and paid(api) == 1
    with pytest.raises(ValidationError) as caught:
        checked.submit("a cat", start_image_url=url, preflight="no")
    assert caught.value.field == "preflight"


def test_the_client_setting_and_the_environment_skip_it(
    make_client, api, host, monkeypatch
) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    url = "http://10.0.0.1/a.png"
    make_client(preflight=False).submit("a cat", start_image_url=url)
    monkeypatch.setenv("LUMA_NB_PREFLIGHT", "0")
    off = make_client()
    assert off.preflight.enabled is False
    off.submit("a cat", start_image_url=url)
    assert paid(api) == 2
    # Asked for on the call, it runs anyway; check_keyframe always runs.
    with pytest.raises(KeyframeError):
        off.submit("a cat", start_image_url=url, preflight=True)
    assert not off.check_keyframe(url).ok
    monkeypatch.setenv("LUMA_NB_PREFLIGHT", "maybe")
    with pytest.raises(ConfigError):
        make_client()


@pytest.mark.parametrize(
    "bad",
    [
        {"timeout": 0},
        {"max_bytes": -1},
        {"max_redirects": 99},
        {"ratio_tolerance": 2},
        {"allow_hosts": "127.0.0.1"},
        {"resolver": 3},
        {"enabled": "yes"},
    ],
)
def test_a_bad_policy_is_a_config_error(bad) -> None:
    with pytest.raises(ConfigError):
        KeyframePreflight(**bad)


def test_a_bad_client_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        luma_nb.Client(TOKEN, preflight="on")


def test_concurrent_async_checks_of_one_url_share_one_fetch(api, host) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    url = host.serve("/a.png", delay=0.3)

    async def main() -> None:
        async with luma_nb.AsyncClient(
            TOKEN, transport=api.transport(), preflight=policy()
        ) as client:
            await asyncio.gather(*(client.submit("a cat", start_image_url=url) for _ in range(4)))

    asyncio.run(main())
    assert host.paths() == ["/a.png"]
    assert paid(api) == 4


def test_concurrent_threads_of_one_client_share_one_fetch(api, host) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    url = host.serve("/a.png", delay=0.3)
    with luma_nb.Client(TOKEN, transport=api.transport(), preflight=policy()) as client:
        threads = [
            threading.Thread(target=client.submit, args=("a cat",), kwargs={"start_image_url": url})
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert host.paths() == ["/a.png"]
    assert paid(api) == 4


# ----------------------------------------------------------------------------- the simulator


def test_the_connected_simulators_own_media_pass_without_a_fetch(tmp_path: Path) -> None:
    from luma_nb.simulator import Simulator, VirtualClock

    clock = VirtualClock()
    sim = Simulator(seed=3, clock=clock)
    client = luma_nb.connect(
        backend="simulator",
        simulator=sim,
        banner=False,
        sleep=clock.advance,
        clock=clock.now,
        cache_dir=tmp_path,
    )
    first = client.generate("a red fox")
    report = client.check_keyframe(first.thumbnail_url, aspect_ratio="9:16")
    assert report.ok and report.source == "simulator" and report.warnings == ()
    morph = client.generate("a fox at night", start_image_url=first.thumbnail_url)
    assert morph.video_url
    assert client._keyframes.fetches == 0
    # The same URL through a client of the real API is refused: the API cannot reach it.
    api_client = luma_nb.Client(TOKEN, transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    with pytest.raises(KeyframeError):
        api_client.submit("x", start_image_url=first.thumbnail_url)
    client.close()
    api_client.close()


def test_a_loopback_simulators_media_pass_when_connected_to_it(tmp_path, monkeypatch) -> None:
    from luma_nb.simulator import Simulator, SimulatorServer

    with SimulatorServer(Simulator(seed=5, speed=3000)) as server:
        monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", server.url)
        monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
        client = luma_nb.connect(banner=False, cache_dir=tmp_path)
        assert client.backend == "simulator"
        first = client.generate("a heron", max_wait=60)
        assert first.thumbnail_url.startswith("http://localhost:")
        assert client.check_keyframe(first.thumbnail_url).source == "simulator"
        client.generate("a heron flies", start_image_url=first.thumbnail_url, max_wait=60)
        client.close()


# ----------------------------------------------------------------------------- notebook helpers


def test_the_session_log_records_that_nothing_was_submitted(tmp_path, api, host) -> None:
    url = host.serve("/gone.png", status=404, body=b"", content_type="text/plain")
    client = luma_nb.Client(TOKEN, transport=api.transport(), preflight=policy())
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    luma_nb.use(client, log)
    try:
        with pytest.raises(KeyframeError):
            luma_nb.generate("a cat", start_image_url=url)
        with pytest.raises(KeyframeError):
            luma_nb.submit("a cat", end_image_url=url)
    finally:
        luma_nb.notebook.reset()
        client.close()
    rows = log.to_records()
    assert len(rows) == 2
    for row in rows:
        assert row["state"] == "failed"  # not outcome_unknown: proven unbilled
        assert row["error_type"] == "KeyframeError"
        assert row["error_code"] == "keyframe_unreachable"
        assert "Nothing was submitted" in row["error_message"]
        assert row["task_id"] is None
    assert paid(api) == 0
    events = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if e.get("event") != "session"] == [
        "submitting",
        "submit_failed",
        "submitting",
        "submit_failed",
    ]


def test_the_helpers_take_preflight_false(tmp_path, api, host) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    client = luma_nb.Client(TOKEN, transport=api.transport(), preflight=policy())
    luma_nb.use(client, luma_nb.SessionLog(tmp_path / "s.jsonl"))
    try:
        luma_nb.submit("a cat", start_image_url="http://10.0.0.1/a.png", preflight=False)
        with pytest.raises(ValidationError):
            luma_nb.submit("a cat", preflight="off")
    finally:
        luma_nb.notebook.reset()
        client.close()
    assert paid(api) == 1


def test_a_study_stops_at_a_keyframe_that_fails(tmp_path, api, host) -> None:
    url = host.serve("/gone.png", status=404, body=b"", content_type="text/plain")
    client = luma_nb.Client(TOKEN, transport=api.transport(), preflight=policy())
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    with pytest.warns(
        luma_nb.experiment.ExperimentWarning, match="stopped submitting: KeyframeError"
    ):
        study = luma_nb.compare_enhancement(
            ["a", "b", "c"], repeats=2, client=client, session=log, start_image_url=url
        )
    client.close()
    assert isinstance(study.last_run.stopped_by, KeyframeError)
    assert paid(api) == 0
    assert host.paths() == ["/gone.png"]  # the first submit's check stopped the study


# ----------------------------------------------------------------------------- image headers


def _without_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)


@pytest.mark.parametrize(
    "fmt", ["PNG", "JPEG", "WEBP", "WEBP_LOSSLESS"], ids=["png", "jpeg", "webp", "webp-lossless"]
)
@pytest.mark.parametrize("size", [(1280, 720), (33, 97), (4000, 1)])
def test_the_header_parser_agrees_with_pillow(monkeypatch, fmt, size) -> None:
    data = image_bytes(fmt, size)
    with_pillow = read_image(data)
    _without_pillow(monkeypatch)
    assert read_image(data) == parse_header(data) == with_pillow
    assert with_pillow is not None and (with_pillow.width, with_pillow.height) == size


def test_a_webp_with_an_extended_header(monkeypatch) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 0, 0, 0)).save(buffer, format="WEBP")  # alpha: VP8X
    data = buffer.getvalue()
    assert data[12:16] == b"VP8X"
    assert read_image(data) == parse_header(data)
    assert (parse_header(data).width, parse_header(data).height) == (300, 200)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_the_exif_orientation_is_applied(monkeypatch, orientation) -> None:
    data = image_bytes("JPEG", (1600, 900), exif_orientation=orientation)
    facts = read_image(data)
    _without_pillow(monkeypatch)
    assert parse_header(data) == read_image(data) == facts
    upright = orientation in (6, 8)
    assert facts is not None and facts.rotated is upright
    assert (facts.width, facts.height) == ((900, 1600) if upright else (1600, 900))


def test_a_portrait_photo_stored_sideways_fits_a_portrait_video(checked, host) -> None:
    body = image_bytes("JPEG", (1600, 900), exif_orientation=6)
    url = host.serve("/phone.jpg", body=body, content_type="image/jpeg")
    report = checked.check_keyframe(url, aspect_ratio="9:16")
    assert report.ok and report.warnings == ()
    assert "EXIF-rotated" in report.found


def test_without_pillow_the_header_decides(checked, host, monkeypatch) -> None:
    _without_pillow(monkeypatch)
    url = host.serve("/a.png")
    report = checked.check_keyframe(url, aspect_ratio="16:9")
    assert report.ok and (report.width, report.height) == (1280, 720)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_the_header_parser_never_raises(data: bytes) -> None:
    for prefix in (b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"):
        facts = parse_header(prefix + data)
        assert facts is None or (facts.width > 0 and facts.height > 0)


def test_a_truncated_jpeg_header_is_no_image() -> None:
    assert parse_header(JPEG[:20]) is None
    assert parse_header(b"\xff\xd8\xff\xe0" + struct.pack(">H", 1)) is None
    assert read_image(b"GIF89a" + bytes(20)) is None


def test_the_modules_are_what_the_docs_say() -> None:
    assert _preflight.MAX_REDIRECTS == 3
    assert _preflight.RATIO_TOLERANCE == 0.05
    assert _preflight.MAX_KEYFRAME_BYTES == 20 * 1024 * 1024
    assert _keyframe_image.__doc__
