"""download(): streamed into a content-addressed cache, no token to a foreign host."""

from __future__ import annotations

import hashlib

import httpx
import pytest

import luma_nb
from luma_nb import NotFoundError, ServerError, TransportError, ValidationError

CDN_URL = "https://platform.cdn.acedata.cloud/luma/task-1.mp4"
CDN_PATH = "/luma/task-1.mp4"
CLIP = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64  # ~16 KB, several chunks' worth


def mp4(content: bytes = CLIP, content_type: str = "video/mp4") -> httpx.Response:
    return httpx.Response(200, content=content, headers={"content-type": content_type})


def video(url: str = CDN_URL) -> luma_nb.Video:
    return luma_nb.Video(task_id="task-1", video_url=url, video_id="vid-1")


def _blob_files(client) -> list:
    folder = client.cache.root / "blobs"
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


def test_download_into_the_cache(client, api) -> None:
    api.script(CDN_PATH, mp4())
    path = client.download(video())
    assert path.read_bytes() == CLIP
    assert path.name == hashlib.sha256(CLIP).hexdigest() + ".mp4"
    assert path.parent == client.cache.root / "blobs"
    (request,) = api.requests
    assert request.method == "GET"
    assert str(request.url) == CDN_URL


def test_second_download_of_the_same_url_makes_no_request(client, api) -> None:
    api.script(CDN_PATH, mp4())
    first = client.download(video())
    second = client.download(CDN_URL)
    third = client.download(luma_nb.Task(id="task-1", video=video()))
    assert first == second == third
    assert len(api.requests) == 1


def test_the_cache_is_shared_between_clients(make_client, api, tmp_path) -> None:
    api.script(CDN_PATH, mp4())
    make_client(cache_dir=tmp_path / "shared").download(CDN_URL)
    path = make_client(cache_dir=tmp_path / "shared").download(CDN_URL)
    assert path.read_bytes() == CLIP
    assert len(api.requests) == 1


def test_a_deleted_blob_is_downloaded_again(client, api) -> None:
    api.script(CDN_PATH, mp4())
    client.download(CDN_URL).unlink()
    path = client.download(CDN_URL)
    assert path.read_bytes() == CLIP
    assert len(api.requests) == 2


def test_same_content_under_two_urls_is_stored_once(client, api) -> None:
    api.script(CDN_PATH, mp4())
    api.script("/luma/copy.mp4", mp4())
    a = client.download(CDN_URL)
    b = client.download("https://platform.cdn.acedata.cloud/luma/copy.mp4")
    assert a == b
    assert len(_blob_files(client)) == 1


@pytest.mark.parametrize(
    ("url", "content_type", "suffix"),
    [
        ("https://cdn.example.com/v/clip", "video/mp4", ".mp4"),
        ("https://cdn.example.com/v/clip", "video/webm; codecs=vp9", ".webm"),
        ("https://cdn.example.com/v/thumb.JPG", "application/octet-stream", ".jpg"),
        ("https://cdn.example.com/v/clip?sig=abc", "application/octet-stream", ""),
        ("https://cdn.example.com/v/clip.mp4?sig=abc", "text/plain", ".mp4"),
    ],
)
def test_suffix_from_url_or_content_type(client, api, url, content_type, suffix) -> None:
    api.script(httpx.URL(url).path, mp4(content_type=content_type))
    path = client.download(url)
    assert path.name == hashlib.sha256(CLIP).hexdigest() + suffix


def test_path_as_a_file(client, api, tmp_path) -> None:
    api.script(CDN_PATH, mp4())
    target = tmp_path / "out" / "my clip.mp4"
    path = client.download(video(), path=target)
    assert path == target
    assert target.read_bytes() == CLIP
    assert client.cache.lookup(CDN_URL) is not None  # cached too


def test_path_as_a_folder(client, api, tmp_path) -> None:
    api.script(CDN_PATH, mp4())
    folder = tmp_path / "videos"
    folder.mkdir()
    path = client.download(video(), path=str(folder))
    assert path.parent == folder
    assert path.name == hashlib.sha256(CLIP).hexdigest() + ".mp4"
    assert path.read_bytes() == CLIP
    again = client.download(video(), path=folder / "second.mp4")
    assert again.read_bytes() == CLIP
    assert len(api.requests) == 1


# ---------------------------------------------------------------------------- the token


@pytest.mark.parametrize(
    "url",
    [
        CDN_URL,
        "https://storage.cdn-luma.com/dream_machine/abc/video.mp4",
        "http://api.acedata.cloud/luma/task-1.mp4",  # another scheme: another origin
        "https://api.acedata.cloud:8443/luma/task-1.mp4",  # another port
        "https://api.acedata.cloud.evil.example/luma/task-1.mp4",
        "https://acedata.cloud/luma/task-1.mp4",
    ],
)
def test_no_authorization_to_a_foreign_host(client, api, url) -> None:
    api.script(httpx.URL(url).path, mp4())
    client.download(url)
    (request,) = api.requests
    assert "authorization" not in request.headers
    assert "sk-test-token" not in str(request.headers)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.acedata.cloud/luma/media/task-1.mp4",
        "https://API.acedata.cloud/luma/media/task-1.mp4",
        "https://api.acedata.cloud:443/luma/media/task-1.mp4",
    ],
)
def test_authorization_on_the_api_origin(client, api, url) -> None:
    api.script("/luma/media/task-1.mp4", mp4())
    client.download(url)
    (request,) = api.requests
    assert request.headers["authorization"] == "Bearer sk-test-token-0001"


def test_api_origin_follows_base_url(make_client, api) -> None:
    client = make_client(base_url="http://localhost:8765")
    api.script("/media/a.mp4", mp4())
    api.script("/media/b.mp4", mp4(b"other"))
    client.download("http://localhost:8765/media/a.mp4")
    client.download("https://api.acedata.cloud/media/b.mp4")
    first, second = api.requests
    assert first.headers["authorization"] == "Bearer sk-test-token-0001"
    assert "authorization" not in second.headers


def test_redirects_are_not_followed(client, api) -> None:
    """A redirect could carry the request (and a token) to another host: do not follow."""
    api.script(
        "/luma/media/a.mp4",
        httpx.Response(302, headers={"location": "https://evil.example/steal.mp4"}),
    )
    api.script("/steal.mp4", mp4())
    with pytest.raises(luma_nb.APIError):
        client.download("https://api.acedata.cloud/luma/media/a.mp4")
    assert [r.url.host for r in api.requests] == ["api.acedata.cloud"]


# ---------------------------------------------------------------------------- failures


def test_404_raises_and_leaves_nothing_behind(client, api) -> None:
    api.script(CDN_PATH, httpx.Response(404, text="<h1>Not Found</h1>"))
    with pytest.raises(NotFoundError) as info:
        client.download(video())
    assert info.value.status_code == 404
    assert _blob_files(client) == []
    assert client.cache.lookup(CDN_URL) is None
    assert len(api.requests) == 1


def test_403_from_a_cdn_is_not_retried(client, api) -> None:
    api.script(CDN_PATH, httpx.Response(403, text="expired signature"))
    with pytest.raises(luma_nb.PermissionDeniedError, match="expired signature"):
        client.download(video())
    assert len(api.requests) == 1
    assert _blob_files(client) == []


def test_transient_503_is_retried(client, api, clock) -> None:
    api.script(CDN_PATH, httpx.Response(503), httpx.Response(429), mp4())
    path = client.download(video())
    assert path.read_bytes() == CLIP
    assert len(api.requests) == 3
    assert len(clock.sleeps) == 2


def test_transport_errors_are_retried(client, api, clock) -> None:
    api.script(CDN_PATH, httpx.ReadError, httpx.ConnectError, mp4())
    path = client.download(video())
    assert path.read_bytes() == CLIP
    assert len(api.requests) == 3


def test_persistent_503_gives_up_without_leftovers(make_client, api, clock) -> None:
    client = make_client(max_retries=2)
    api.script(CDN_PATH, httpx.Response(503))
    with pytest.raises(ServerError):
        client.download(video())
    assert len(api.requests) == 3
    assert _blob_files(client) == []


def test_persistent_transport_error_gives_up_without_leftovers(make_client, api) -> None:
    client = make_client(max_retries=1)
    api.script(CDN_PATH, httpx.ReadTimeout)
    with pytest.raises(TransportError):
        client.download(video())
    assert _blob_files(client) == []


def test_a_failed_attempt_does_not_pollute_the_file(client, api) -> None:
    """A stream cut half-way, then retried: the file holds only the second, full body."""
    calls = {"n": 0}

    class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
        def __iter__(self):
            yield b"GARBAGE-HALF-"
            raise httpx.ReadError("connection reset")

        async def __aiter__(self):
            yield b"GARBAGE-HALF-"
            raise httpx.ReadError("connection reset")

    def handler(request):
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(200, stream=Broken(), headers={"content-type": "video/mp4"})
        return mp4()

    api.route(CDN_PATH, handler)
    path = client.download(video())
    assert path.read_bytes() == CLIP
    assert path.name.startswith(hashlib.sha256(CLIP).hexdigest())
    assert len(_blob_files(client)) == 1


def test_download_a_task(client, api) -> None:
    api.script(CDN_PATH, mp4())
    task = luma_nb.Task.from_record(
        {
            "id": "task-1",
            "response": {"success": True, "state": "completed", "video_url": CDN_URL},
        }
    )
    assert client.download(task).read_bytes() == CLIP


def test_download_of_a_failed_task_is_refused(client, api) -> None:
    task = luma_nb.Task.from_record({"id": "t", "response": {"success": False, "error": "x"}})
    with pytest.raises(ValidationError, match="no video"):
        client.download(task)
    assert api.requests == []


def test_a_clients_cache_is_where_embedded_files_may_come_from(client, api) -> None:
    from luma_nb._media_cache import active_roots
    from luma_nb._media_policy import read_media

    api.script(CDN_PATH, mp4())
    path = client.download(video())
    assert client.cache.root in active_roots()
    assert read_media(path, "video/", 1 << 20).data_url is not None


@pytest.mark.parametrize(
    "name", ["../../../etc/passwd", "/etc/passwd", "..", "x/../../y.mp4", "a" * 64 + ".mp4/.."]
)
def test_an_edited_index_points_nowhere(client, api, name) -> None:
    api.script(CDN_PATH, mp4())
    client.download(video())
    client.cache._index_path(CDN_URL).write_text(name, encoding="utf-8")
    assert client.cache.lookup(CDN_URL) is None
