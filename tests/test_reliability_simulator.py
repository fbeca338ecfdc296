"""Every answer variant of the spec, produced by a simulator knob, read right by the clients.

``luma_nb.Client`` and ``AsyncClient`` (the ``kind`` fixture of ``conftest.py``) run over the
simulator's in-process transport on a virtual clock: error envelopes with and without
``success`` and as bare strings, the codes ``token_mismatched`` / ``token_expired`` /
``disabled``, queued records with a missing or ``null`` ``response``, unknown running words,
failure words, every acknowledgement shape, the batch ``count``, and the service's clip sizes
(reported, and those of the files served).
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _simtools import TOKEN

import luma_nb
from luma_nb.errors import (
    AuthenticationError,
    BadRequestError,
    GenerationFailedError,
    ModerationError,
    PermissionDeniedError,
    TokenMismatchError,
)
from luma_nb.models import TaskState
from luma_nb.simulator import Simulator, Variants, VirtualClock

# -- the rig ------------------------------------------------------


class Tap(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Keeps the JSON of every answer the client got from the simulator."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.answers: list[tuple[str, int, Any]] = []

    def _keep(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.startswith("/luma/"):
            self.answers.append(
                (request.url.path, response.status_code, json.loads(response.content))
            )
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._keep(request, self.inner.handle_request(request))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._keep(request, await self.inner.handle_async_request(request))

    def bodies(self, path: str) -> list[Any]:
        return [body for p, _, body in self.answers if p == path]


@pytest.fixture
def clients(kind: str, tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Simulator, Tap]]]:
    """``make(**simulator_knobs)`` -> (a Client or blocking AsyncClient, its simulator, its tap)."""
    loop = asyncio.new_event_loop()
    made: list[tuple[Any, Simulator]] = []

    def make(token: str = TOKEN, **knobs: Any) -> tuple[Any, Simulator, Tap]:
        clock = VirtualClock()
        sim = Simulator(clock=clock, seed=5, **knobs)
        tap = Tap(sim.transport())
        options = dict(
            base_url=sim.base_url,
            transport=tap,
            clock=clock.now,
            backend="simulator",
            cache_dir=tmp_path / "cache",
        )
        if kind == "sync":
            client: Any = luma_nb.Client(token, sleep=clock.advance, **options)
        else:

            async def sleep(seconds: float) -> None:
                clock.advance(seconds)

            client = _Blocking(luma_nb.AsyncClient(token, sleep=sleep, **options), loop)
        made.append((client, sim))
        return client, sim, tap

    yield make
    for client, sim in made:
        if isinstance(client, _Blocking):
            loop.run_until_complete(client.raw.aclose())
        else:
            client.close()
        sim.close()
    loop.close()


class _Blocking:
    def __init__(self, client: luma_nb.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.raw, self._loop = client, loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.raw, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        return lambda *a, **k: self._loop.run_until_complete(attr(*a, **k))


MISMATCHED = {"token_errors": {TOKEN: "token_mismatched"}}
EXPIRED = {"token_errors": {TOKEN: "token_expired"}}
DISABLED = {"token_errors": {TOKEN: "disabled"}}
ERROR_CASES = {
    # name: (knobs, prompt (None: extend an unknown video), class for {code, message} errors,
    #        class for a bare string error, status)
    "mismatched": (MISMATCHED, "x", TokenMismatchError, BadRequestError, 400),
    "expired": (EXPIRED, "x", AuthenticationError, AuthenticationError, 401),
    "disabled": (DISABLED, "x", AuthenticationError, BadRequestError, 400),
    "invalid": ({"accepted_tokens": ["other"]}, "x", AuthenticationError, AuthenticationError, 401),
    "moderation": ({}, "some gore", ModerationError, PermissionDeniedError, 403),
    "balance": ({"credits": 0}, "x", luma_nb.InsufficientBalanceError, PermissionDeniedError, 403),
    "bad_request": ({}, None, BadRequestError, BadRequestError, 400),
}  # fmt: skip


@pytest.mark.parametrize("shape", ["", "error_success=true", "error_string=true"])
@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_shapes_map_to_typed_errors(
    clients: Callable[..., Any], shape: str, case: str
) -> None:
    knobs, prompt, coded_class, string_class, status = ERROR_CASES[case]
    client, sim, tap = clients(variants=shape, **knobs)
    expected = string_class if shape == "error_string=true" else coded_class
    with pytest.raises(expected) as caught:
        client.submit(prompt) if prompt else client.extend("no-such-video")
    assert type(caught.value) is expected and caught.value.status_code == status
    ((_, answered, body),) = tap.answers  # one request: a refusal is never retried
    assert answered == status
    assert ("success" in body) == (shape == "error_success=true")
    assert isinstance(body["error"], str) == (shape == "error_string=true")
    if not shape.startswith("error_string"):
        assert (
            caught.value.code == body["error"]["code"] and caught.value.trace_id == body["trace_id"]
        )
    assert sim.stats.tasks_created == 0


def test_provider_wording_and_token_codes(clients: Callable[..., Any]) -> None:
    client, _, _ = clients(token_errors={TOKEN: "token_mismatched"})
    with pytest.raises(TokenMismatchError) as mismatched:
        client.get_task("any")
    assert mismatched.value.message == "The specified token is not matched with API."
    wrong, _, _ = clients(accepted_tokens=["other"])
    with pytest.raises(AuthenticationError) as invalid:
        wrong.submit("x")
    assert invalid.value.message == "The specified token is invalid or wrong."
    moderated, _, _ = clients()
    with pytest.raises(ModerationError) as refused:
        moderated.submit("nsfw")
    assert refused.value.message.startswith("Sorry! Our Al moderators feel your prompt")


def test_token_expiring_during_a_wait_is_an_authentication_error(
    clients: Callable[..., Any],
) -> None:
    client, sim, tap = clients(faults="error=1:token_expired,on=tasks")
    task = client.submit("a long one")
    with pytest.raises(AuthenticationError) as caught:
        client.wait(task)
    assert (caught.value.status_code, caught.value.code) == (401, "token_expired")
    assert len(tap.bodies("/luma/tasks")) == 1  # not retried
    assert sim.stats.faults["error_token_expired"] == 1


@pytest.mark.parametrize("queued", ["missing", "null", "state"])
@pytest.mark.parametrize("top_level", [False, True])
def test_queued_records_of_every_shape_keep_polling(
    clients: Callable[..., Any], queued: str, top_level: bool
) -> None:
    client, _, tap = clients(variants=Variants(queued=queued, top_level_state=top_level))  # type: ignore[arg-type]
    seen: list[luma_nb.Task] = []
    video = client.generate("a heron", on_update=seen.append)
    first = tap.bodies("/luma/tasks")[0]
    if queued == "missing":
        assert "response" not in first
    elif queued == "null":
        assert "response" in first and first["response"] is None
    else:
        assert first["response"] == {"task_id": video.task_id, "state": "queued"}
    assert ("state" in first) == top_level
    assert seen[0].state is TaskState.QUEUED and seen[-1].state is TaskState.COMPLETED
    assert video.video_url


@pytest.mark.parametrize("word", ["dreaming", "queued", "running"])
def test_unknown_running_words_keep_polling(clients: Callable[..., Any], word: str) -> None:
    client, _, tap = clients(variants=f"running_state={word}")
    seen: list[luma_nb.Task] = []
    video = client.generate("a kite", on_update=seen.append)
    assert word in {(b.get("response") or {}).get("state") for b in tap.bodies("/luma/tasks")}
    assert seen[-1].state is TaskState.COMPLETED and video.video_url


@pytest.mark.parametrize("word", ["failed", "error", "cancelled", "canceled"])
@pytest.mark.parametrize("string_error", [False, True])
def test_failed_words_are_generation_failures(
    clients: Callable[..., Any], word: str, string_error: bool
) -> None:
    variants = Variants(failed_state=word, error_string=string_error)
    client, _, tap = clients(variants=variants, task_failure_rate=1.0)
    with pytest.raises(GenerationFailedError) as caught:
        client.generate("doomed")
    final = tap.bodies("/luma/tasks")[-1]["response"]
    assert final["state"] == word and final["success"] is False
    assert caught.value.task.failed
    if not string_error:
        assert caught.value.code == "api_error"


@pytest.mark.parametrize("ack", ["task_id", "trace", "success", "data", "id"])
@pytest.mark.parametrize("status", [200, 202])
def test_every_acknowledgement_shape(clients: Callable[..., Any], ack: str, status: int) -> None:
    client, sim, tap = clients(variants=f"ack={ack},ack_status={status},success_trace_id=false")
    task = client.submit("a lantern")
    assert task.id in sim.tasks
    ((_, answered, _),) = tap.answers
    assert answered == status
    video = client.wait(task).video
    assert video is not None and video.task_id == task.id


def test_batch_count_of_all_tasks(clients: Callable[..., Any]) -> None:
    client, _, tap = clients(variants="batch_count=total")
    tasks = [client.submit(f"clip {i}") for i in range(4)]
    done = client.wait_many(tasks[:2])
    assert [t.id for t in done] == [t.id for t in tasks[:2]]
    batch = [b for b in tap.bodies("/luma/tasks") if "items" in b]
    assert batch and all(b["count"] == 4 for b in batch)


def test_service_sizes_are_reported(clients: Callable[..., Any]) -> None:
    client, _, _ = clients(video_size="service")
    text_only = client.generate("a bay at dawn")
    # the simulator's own thumbnail as the keyframe: resolved inside, no fetch
    keyframed = client.generate("a bay at dusk", start_image_url=text_only.thumbnail_url)
    extended = client.extend(text_only, prompt="the sun rises")
    tall = client.generate("a tower", aspect_ratio="9:16")
    assert text_only.size == (1360, 752)
    assert keyframed.size == extended.size == (1552, 656)
    assert tall.size == (752, 1360)
    for video in (text_only, keyframed, extended, tall):
        assert (video.thumbnail_width, video.thumbnail_height) == video.size


def test_served_files_have_the_reported_size(clients: Callable[..., Any], kind: str) -> None:
    av = pytest.importorskip("av")
    from PIL import Image

    client, _, _ = clients(video_size="service" if kind == "sync" else "96x64")
    videos = [client.generate("a bay at dawn")]
    if kind == "sync":  # the service's sizes render slowly: one kind is enough
        videos.append(client.extend(videos[0], prompt="the sun rises"))
    for video in videos:
        with av.open(str(client.download(video))) as container:
            stream = container.streams.video[0]
            assert (stream.width, stream.height) == video.size
        thumb = client.download(video.thumbnail_url)
        with Image.open(io.BytesIO(thumb.read_bytes())) as image:
            assert image.size == video.size
