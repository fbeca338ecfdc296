"""Media, enhancement, extend and keyframes through the in-process transport."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _simtools import DONE, call, data_url, make_sim, png_bytes, submit, submit_async

from luma_nb.simulator import Simulator, enhance_prompt
from luma_nb.simulator._media import clip_size

av = pytest.importorskip("av")

MODES = ["sync", "async"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def finished(sim: Simulator, clock: Any, **body: Any) -> dict[str, Any]:
    task_id = submit_async(sim, **body)
    clock.advance(DONE)
    response: dict[str, Any] = sim.record(task_id)["response"]
    assert response["state"] == "completed", response
    return response


def decode(mp4: bytes) -> tuple[int, int, int, float]:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        duration = float(container.duration or 0) / 1_000_000
        return frames, stream.codec_context.width, stream.codec_context.height, duration


# -- media serving ---------------------------------------------------------------------------


def test_media_is_404_until_completed_and_needs_no_token(mode: str) -> None:
    sim, clock = make_sim()
    task_id = submit_async(sim, prompt="a paper boat")
    url = f"{sim.media_base_url}/media/luma/{task_id}.mp4"
    assert call(mode, sim, "GET", url, auth=False).status_code == 404
    assert sim.stats.renders == 0  # nothing rendered on the API path
    clock.advance(DONE)
    response = call(mode, sim, "GET", url, auth=False)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(response.content)
    frames, width, height, duration = decode(response.content)
    assert (width, height) == clip_size("16:9")
    assert frames >= 50
    assert duration == pytest.approx(5.0, abs=0.3)
    thumb = call(mode, sim, "GET", url.replace(".mp4", ".jpg"), auth=False)
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:3] == b"\xff\xd8\xff"
    assert sim.stats.renders == 1  # rendered once, served twice
    assert [e.authorized for e in sim.journal if e.path.startswith("/media")] == [False] * 3


def test_range_head_and_unsatisfiable(mode: str) -> None:
    sim, clock = make_sim()
    url = finished(sim, clock, prompt="ranges")["video_url"]
    whole = call(mode, sim, "GET", url, auth=False).content
    part = call(mode, sim, "GET", url, auth=False, headers={"range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    assert part.content == whole[100:200]
    tail = call(mode, sim, "GET", url, auth=False, headers={"range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, whole[-10:])
    open_end = call(mode, sim, "GET", url, auth=False, headers={"range": "bytes=5-"})
    assert open_end.content == whole[5:]
    beyond = call(mode, sim, "GET", url, auth=False, headers={"range": f"bytes={len(whole)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole)}"
    many = call(mode, sim, "GET", url, auth=False, headers={"range": "bytes=0-1,5-6"})
    assert (many.status_code, len(many.content)) == (200, len(whole))
    head = call(mode, sim, "HEAD", url, auth=False)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(whole))
    assert head.content == b""


def test_unknown_media_is_404() -> None:
    sim, _ = make_sim()
    url = f"{sim.media_base_url}/media/luma/00000000-0000-4000-8000-000000000000.mp4"
    assert call("sync", sim, "GET", url, auth=False).status_code == 404
    assert call("sync", sim, "GET", "/media/luma/x.gif", auth=False).status_code == 404


def test_clips_are_cached_in_a_bounded_lru() -> None:
    sim, clock = make_sim(max_cached_clips=1)
    a = finished(sim, clock, prompt="a")
    b = finished(sim, clock, prompt="b")
    for url in (a["thumbnail_url"], b["thumbnail_url"], a["thumbnail_url"]):
        assert call("sync", sim, "GET", url, auth=False).status_code == 200
    assert sim.stats.renders == 3  # a was evicted by b


# -- enhancement -----------------------------------------------------------------------------


def test_enhancement_rewrites_the_echoed_prompt(mode: str) -> None:
    sim, _ = make_sim()
    prompt = "a lighthouse in a storm"
    enhanced = submit(mode, sim, prompt=prompt).json()  # enhancement defaults to true
    plain = submit(mode, sim, prompt=prompt, enhancement=False).json()
    explicit = submit(mode, sim, prompt=prompt, enhancement=True).json()
    assert plain["prompt"] == prompt
    assert enhanced["prompt"] == explicit["prompt"] == enhance_prompt(prompt)
    assert enhanced["prompt"].startswith(prompt + ", ")
    assert len(enhanced["prompt"].split(", ")) == 5  # camera, light and style added
    # Both arms are captioned with the prompt as sent; the echoed one directs the picture.
    assert sim.tasks[enhanced["task_id"]].clip_text == prompt
    assert sim.tasks[plain["task_id"]].clip_text == prompt
    assert sim.tasks[enhanced["task_id"]].clip_cues == enhanced["prompt"]
    assert sim.tasks[plain["task_id"]].clip_cues == prompt


def test_enhancement_is_deterministic_and_varies() -> None:
    prompts = [f"scene number {i}" for i in range(20)]
    assert [enhance_prompt(p) for p in prompts] == [enhance_prompt(p) for p in prompts]
    assert len({enhance_prompt(p).split(", ", 1)[1] for p in prompts}) > 10
    assert enhance_prompt("") == ""


# -- extend ----------------------------------------------------------------------------------


def test_extend_by_id_and_by_url_id_wins(mode: str) -> None:
    sim, clock = make_sim()
    first = finished(sim, clock, prompt="a kite", aspect_ratio="1:1", enhancement=False)
    other = finished(sim, clock, prompt="a boat", enhancement=False)
    by_id = submit(mode, sim, action="extend", video_id=first["video_id"], prompt="it flies")
    assert by_id.status_code == 200, by_id.text
    by_url = submit(mode, sim, action="extend", video_url=first["video_url"], prompt="higher")
    both = submit(
        mode,
        sim,
        action="extend",
        video_id=first["video_id"],
        video_url=other["video_url"],
        prompt="x",
    )
    tasks = sim.tasks
    for response in (by_id, by_url, both):
        body = response.json()
        assert body["state"] == "completed"
        assert tasks[body["task_id"]].parent_task_id == first["task_id"]
        assert (body["video_width"], body["video_height"]) == clip_size("1:1")  # the parent's


def test_extend_with_a_bad_id_fails_even_with_a_good_url() -> None:
    sim, clock = make_sim()
    first = finished(sim, clock, prompt="x")
    response = submit("sync", sim, action="extend", video_id="nope", video_url=first["video_url"])
    assert response.status_code == 400
    assert "video_id" in response.json()["error"]["message"]


def test_extend_clip_is_longer_and_continues(mode: str) -> None:
    sim, clock = make_sim()
    first = finished(sim, clock, prompt="a kite")
    second = finished(sim, clock, action="extend", video_id=first["video_id"])
    assert sim.tasks[second["task_id"]].clip_text == sim.tasks[first["task_id"]].clip_text
    assert sim.tasks[second["task_id"]].clip_cues == sim.tasks[first["task_id"]].clip_cues
    parent = call(mode, sim, "GET", first["video_url"], auth=False).content
    child = call(mode, sim, "GET", second["video_url"], auth=False).content
    parent_frames, *_, parent_duration = decode(parent)
    child_frames, width, height, child_duration = decode(child)
    assert child_frames > parent_frames
    assert child_duration == pytest.approx(parent_duration + 5.0, abs=0.5)
    assert (width, height) == clip_size("16:9")


# -- keyframes -------------------------------------------------------------------------------


def test_keyframes_from_data_urls_blend_into_the_clip(mode: str) -> None:
    from PIL import Image, ImageStat

    sim, _ = make_sim()
    red, blue = png_bytes((230, 20, 20)), png_bytes((20, 20, 230))
    body = submit(
        mode, sim, prompt="red to blue", start_image_url=data_url(red), end_image_url=data_url(blue)
    ).json()
    assert body["state"] == "completed"
    thumb = call(mode, sim, "GET", body["thumbnail_url"], auth=False).content
    r, _, b = ImageStat.Stat(Image.open(io.BytesIO(thumb)).convert("RGB")).mean
    assert r > 150 > b  # the first frame is the start image


def test_unreachable_or_undecodable_keyframes_are_bad_request(mode: str) -> None:
    sim, _ = make_sim()
    url = "http://127.0.0.1:9/missing.png"  # discard port: nothing listens
    response = submit(mode, sim, prompt="x", start_image_url=url)
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "start_image_url" in message
    assert url in message
    junk = submit(mode, sim, prompt="x", end_image_url=data_url(b"not an image", "image/png"))
    assert junk.status_code == 400
    assert "end_image_url" in junk.json()["error"]["message"]
    broken = submit(mode, sim, prompt="x", end_image_url="data:image/png;base64")
    assert broken.status_code == 400
    assert sim.stats.tasks_created == 0


class _ImageHandler(BaseHTTPRequestHandler):
    image = png_bytes((20, 200, 20))

    def do_GET(self) -> None:
        if self.path != "/green.png":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.send_header("content-length", str(len(self.image)))
        self.end_headers()
        self.wfile.write(self.image)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_keyframes_fetched_over_http(image_server: str) -> None:
    sim, _ = make_sim()
    ok = submit("sync", sim, prompt="green", start_image_url=f"{image_server}/green.png")
    assert ok.status_code == 200
    (task,) = sim.tasks.values()
    assert task.start_image == _ImageHandler.image
    missing = submit("sync", sim, prompt="x", start_image_url=f"{image_server}/nope.png")
    assert missing.status_code == 400


def test_image_fetcher_is_pluggable() -> None:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return png_bytes((1, 2, 3))

    sim, _ = make_sim(image_fetcher=fetch, allow_remote_fetch=True)
    url = "https://images.example.invalid/a.png"
    assert submit("sync", sim, prompt="x", end_image_url=url, **{"async": True}).status_code == 200
    assert asked == [url]


def test_own_thumbnail_as_keyframe_is_resolved_internally(mode: str) -> None:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        raise OSError("no network in tests")

    sim, clock = make_sim(image_fetcher=fetch)
    first = finished(sim, clock, prompt="a fox")
    second = finished(sim, clock, prompt="a wolf", start_image_url=first["thumbnail_url"])
    assert asked == []
    thumb = call(mode, sim, "GET", second["thumbnail_url"], auth=False)
    assert thumb.status_code == 200
    not_image = submit(mode, sim, prompt="x", start_image_url=first["video_url"])
    assert not_image.status_code == 400


def test_loop_is_passed_to_the_clip() -> None:
    sim, clock = make_sim()
    body = finished(sim, clock, prompt="a loop", loop=True)
    assert sim.tasks[body["task_id"]].loop is True
    clip = sim.clip(body["task_id"])
    assert clip.rendered
    assert clip.frame_count >= 50
