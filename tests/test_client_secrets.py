"""The token never shows: not in a repr, a str, an error, a traceback, nor a foreign request."""

from __future__ import annotations

import pickle
import traceback

import httpx
import pytest

import luma_nb
from luma_nb.config import Secret, Settings

SECRET = "sk-SECRET-123"
VIDEOS = "/luma/videos"
TASKS = "/luma/tasks"
CDN = "https://platform.cdn.acedata.cloud/luma"


@pytest.fixture
def sclient(make_client):
    return make_client(token=SECRET)


def _all_text(exc: BaseException) -> str:
    """Everything an error can show: str, repr, args, the full chained traceback."""
    parts = [str(exc), repr(exc), repr(exc.args)]
    parts.extend(traceback.format_exception(exc))
    for name in ("cause", "message", "code", "trace_id"):
        value = getattr(exc, name, None)
        if value is not None:
            parts.append(str(value))
            parts.append(repr(value))
    return "\n".join(parts)


def _raised(call) -> BaseException:
    with pytest.raises(luma_nb.LumaError) as info:
        call()
    return info.value


def test_client_and_settings_reprs(sclient) -> None:
    raw = sclient.raw
    for text in (repr(raw), str(raw), repr(raw.settings), str(raw.settings), f"{raw.settings}"):
        assert SECRET not in text
    assert "********" in repr(raw.settings)
    assert type(raw).__name__ in repr(raw)


def test_secret_hides_itself() -> None:
    secret = Secret(SECRET)
    for text in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>40}",
        "%s" % (secret,),  # noqa: UP031 (old-style formatting must hide it too)
    ):
        assert SECRET not in text
    assert secret.reveal() == SECRET
    assert secret == Secret(SECRET)
    assert secret != Secret("other")
    assert secret != SECRET


def test_secret_refuses_to_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(SECRET))


def test_settings_repr() -> None:
    settings = Settings.resolve(SECRET)
    assert SECRET not in repr(settings)
    assert settings.token.reveal() == SECRET


def test_requests_tasks_and_videos(sclient, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1", "trace_id": "tr"})
    api.script(
        TASKS,
        {
            "id": "task-1",
            "response": {
                "success": True,
                "task_id": "task-1",
                "state": "completed",
                "video_url": f"{CDN}/task-1.mp4",
            },
        },
    )
    request = luma_nb.VideoRequest(prompt="a cat", start_image_url="https://example.com/a.png")
    task = sclient.submit(request, preflight=False)  # no image host here
    done = sclient.get_task("task-1")
    video = sclient.generate("a dog")
    for obj in (request, task, done, done.video, video, request.to_body(), request.as_dict()):
        assert SECRET not in repr(obj)
        assert SECRET not in str(obj)


def test_token_goes_only_to_the_api(sclient, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(TASKS, {"id": "task-1", "response": {"state": "processing"}})
    api.script("/luma/task-1.mp4", httpx.Response(200, content=b"mp4"))
    sclient.submit("a cat")
    sclient.get_task("task-1")
    sclient.download(f"{CDN}/task-1.mp4")
    for request in api.requests:
        auth = request.headers.get("authorization")
        if request.url.host == "api.acedata.cloud":
            assert auth == f"Bearer {SECRET}"
        else:
            assert auth is None, f"token sent to {request.url}"
            assert SECRET not in str(request.headers)
            assert SECRET not in str(request.url)
    assert {r.url.host for r in api.requests} == {"api.acedata.cloud", "platform.cdn.acedata.cloud"}


def test_the_token_is_never_in_a_body_or_url(sclient, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    sclient.submit("a cat")
    (request,) = api.requests
    assert SECRET.encode() not in request.content
    assert SECRET not in str(request.url)


# ---------------------------------------------------------------------------- errors

ECHOES = [
    pytest.param(
        httpx.Response(
            400,
            json={"error": {"code": "bad_request", "message": f"bad token {SECRET} given"}},
        ),
        luma_nb.BadRequestError,
        id="400-message",
    ),
    pytest.param(
        httpx.Response(401, json={"error": f"invalid token Bearer {SECRET}"}),
        luma_nb.AuthenticationError,
        id="401-bare-string",
    ),
    pytest.param(
        httpx.Response(403, json={"message": f"{SECRET} is used up"}),
        luma_nb.PermissionDeniedError,
        id="403-message-only",
    ),
    pytest.param(
        httpx.Response(404, text=f"<html><pre>Authorization: Bearer {SECRET}</pre></html>"),
        luma_nb.NotFoundError,
        id="404-html-echo",
    ),
]


@pytest.mark.parametrize(("reply", "raised"), ECHOES)
def test_error_echoing_the_token_is_scrubbed_on_reads(sclient, api, reply, raised) -> None:
    api.script(TASKS, reply)
    err = _raised(lambda: sclient.get_task("task-1"))
    assert isinstance(err, raised)
    text = _all_text(err)
    assert SECRET not in text
    assert "********" in err.message


@pytest.mark.parametrize(("reply", "raised"), ECHOES)
def test_error_echoing_the_token_is_scrubbed_on_submit(sclient, api, reply, raised) -> None:
    api.script(VIDEOS, reply)
    err = _raised(lambda: sclient.submit("a cat"))
    assert isinstance(err, raised)
    assert SECRET not in _all_text(err)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_unknown_outcome_echoing_the_token_is_scrubbed(sclient, api, status) -> None:
    api.script(VIDEOS, httpx.Response(status, text=f"<h1>upstream said {SECRET}</h1>"))
    err = _raised(lambda: sclient.submit("a cat"))
    assert isinstance(err, luma_nb.SubmitOutcomeUnknownError)
    assert SECRET not in _all_text(err)


def test_200_envelope_echoing_the_token_is_scrubbed(sclient, api) -> None:
    api.script(
        VIDEOS,
        httpx.Response(200, json={"success": False, "error": {"code": "x", "message": SECRET}}),
    )
    err = _raised(lambda: sclient.submit("a cat"))
    assert SECRET not in _all_text(err)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError],
    ids=lambda e: e.__name__,
)
@pytest.mark.parametrize("operation", ["submit", "get_task", "download"])
def test_transport_errors_do_not_show_the_token(make_client, api, failure, operation) -> None:
    client = make_client(token=SECRET, max_retries=0)
    api.script(VIDEOS, failure)
    api.script(TASKS, failure)
    api.script("/media/a.mp4", failure)
    calls = {
        "submit": lambda: client.submit("a cat"),
        "get_task": lambda: client.get_task("task-1"),
        "download": lambda: client.download("https://api.acedata.cloud/media/a.mp4"),
    }
    err = _raised(calls[operation])
    assert SECRET not in _all_text(err)


@pytest.mark.parametrize("operation", ["submit", "get_task"])
def test_transport_error_echoing_the_token_is_scrubbed(make_client, api, operation) -> None:
    client = make_client(token=SECRET, max_retries=0)
    failure = httpx.ConnectError(f"proxy refused Bearer {SECRET}")
    api.script(VIDEOS, httpx.ReadError(f"reset after Bearer {SECRET}"))
    api.script(TASKS, failure)
    err = _raised(
        (lambda: client.submit("a cat")) if operation == "submit" else lambda: client.get_task("t")
    )
    for text in (str(err), repr(err), repr(err.args)):
        assert SECRET not in text
    cause = getattr(err, "cause", None)
    if cause is not None:
        assert SECRET not in str(cause)


def test_wait_timeout_and_generation_failed_errors(sclient, api) -> None:
    api.script(VIDEOS, {"task_id": "task-1"})
    api.script(
        TASKS,
        {
            "id": "task-1",
            "response": {
                "success": False,
                "error": {"code": "forbidden", "message": "refused"},
            },
        },
    )
    err = _raised(lambda: sclient.generate("a cat"))
    assert isinstance(err, luma_nb.GenerationFailedError)
    assert SECRET not in _all_text(err)
    assert SECRET not in repr(err.task)

    api.script(TASKS, {"id": "task-2", "response": {"state": "processing"}})
    err = _raised(lambda: sclient.wait("task-2", max_wait=5))
    assert isinstance(err, luma_nb.WaitTimeoutError)
    assert SECRET not in _all_text(err)


def test_config_error_does_not_echo_a_bad_token(make_client) -> None:
    with pytest.raises(luma_nb.ConfigError) as info:
        make_client(token=f"Bearer {SECRET}")
    assert SECRET not in _all_text(info.value)


def test_validation_errors_do_not_show_the_token(sclient, api) -> None:
    err = _raised(lambda: sclient.generate("a cat", aspect_ratio="2:1"))
    assert SECRET not in _all_text(err)
    assert api.requests == []


# A 2xx answer that is not the JSON we expect is quoted in the error text: scrubbed too.
@pytest.mark.parametrize(
    ("path", "reply"),
    [
        pytest.param(
            TASKS,
            httpx.Response(200, text=f"<pre>Authorization: Bearer {SECRET}</pre>"),
            id="read-not-json",
        ),
        pytest.param(
            VIDEOS,
            httpx.Response(200, text=f"<pre>Authorization: Bearer {SECRET}</pre>"),
            id="submit-not-json",
        ),
        pytest.param(
            VIDEOS,
            httpx.Response(200, json={"headers": {"Authorization": f"Bearer {SECRET}"}}),
            id="submit-no-task-id",
        ),
    ],
)
def test_malformed_2xx_echoing_the_token_is_scrubbed(make_client, api, path, reply) -> None:
    client = make_client(token=SECRET, max_retries=0)
    api.script(path, reply)
    call = (lambda: client.submit("a cat")) if path == VIDEOS else lambda: client.get_task("t")
    err = _raised(call)
    assert SECRET not in _all_text(err)
