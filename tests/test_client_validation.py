"""Bad input raises ValidationError before any request; configuration is resolved as documented."""

from __future__ import annotations

import math
from functools import partial

import pytest

import luma_nb
from luma_nb import ConfigError, ValidationError
from luma_nb.models import ASPECT_RATIOS

GOOD_URL = "https://example.com/frame.png"
BAD_URLS = [
    pytest.param("ftp://example.com/a.png", id="ftp"),
    pytest.param("file:///etc/passwd", id="file"),
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("data:image/png;base64,AAAA", id="data"),
    pytest.param("/images/a.png", id="relative-path"),
    pytest.param("a.png", id="relative-name"),
    pytest.param("example.com/a.png", id="no-scheme"),
    pytest.param("//example.com/a.png", id="scheme-relative"),
    pytest.param("https://", id="no-host"),
    pytest.param("https:///a.png", id="empty-host"),
    pytest.param("https://exa mple.com/a.png", id="inner-space"),
    pytest.param(" https://example.com/a.png", id="leading-space"),
    pytest.param("https://example.com/a.png\n", id="trailing-newline"),
    pytest.param("", id="empty"),
    pytest.param(123, id="int"),
    pytest.param(b"https://example.com/a.png", id="bytes"),
    pytest.param("http://[::1/a.png", id="ipv6-unclosed"),
    pytest.param("http://[zz]/a.png", id="ipv6-not-an-address"),
    pytest.param("http://999.1.1.1/a.png", id="ipv4-out-of-range"),
    pytest.param("http://\u2603.com/a.png", id="idna-invalid"),
    pytest.param("https://example.com:99999/a.png", id="port-too-big"),
    pytest.param("https://example.com:abc/a.png", id="port-not-numeric"),
    pytest.param("https://example.com:0/a.png", id="port-zero"),
    pytest.param("https://user:secret@example.com/a.png", id="credentials"),
    pytest.param("https://example.com/a\x00.png", id="control-char"),
    pytest.param("https://exa\u200bmple.com/a.png", id="zero-width"),
    pytest.param("https://example.com/\ud800.png", id="lone-surrogate"),
]


def _no_requests(api) -> None:
    assert api.requests == [], [str(r.url) for r in api.requests]


# ----------------------------------------------------------------------------- prompt


@pytest.mark.parametrize("prompt", ["", " ", "   \t\n  ", "\u3000"])
@pytest.mark.parametrize("method", ["generate", "submit"])
def test_empty_or_whitespace_prompt(client, api, method, prompt) -> None:
    with pytest.raises(ValidationError, match="prompt") as info:
        getattr(client, method)(prompt)
    assert info.value.field == "prompt"
    _no_requests(api)


@pytest.mark.parametrize("prompt", [None, 42, 3.5, b"a cat", ["a cat"], {"prompt": "a"}, True])
def test_non_string_prompt(client, api, prompt) -> None:
    with pytest.raises(ValidationError, match="prompt"):
        client.generate(prompt)
    _no_requests(api)


def test_prompt_too_long(client, api) -> None:
    with pytest.raises(ValidationError, match="characters"):
        client.generate("x" * 10_001)
    _no_requests(api)


def test_extend_with_blank_prompt_is_refused(client, api) -> None:
    with pytest.raises(ValidationError, match="prompt is empty"):
        client.extend("vid-1", prompt="  ")
    _no_requests(api)


# ----------------------------------------------------------------------------- aspect ratio


@pytest.mark.parametrize(
    "ratio", ["2:1", "16x9", "16/9", "", "16:9 ", " 16:9", "1:1.0", "169", 1.77, 16, ("16", "9")]
)
@pytest.mark.parametrize("method", ["generate", "submit", "extend"])
def test_aspect_ratio_outside_the_seven(client, api, method, ratio) -> None:
    if method == "extend":
        call = lambda: client.extend("vid-1", aspect_ratio=ratio)  # noqa: E731
    else:
        call = lambda: getattr(client, method)("a cat", aspect_ratio=ratio)  # noqa: E731
    with pytest.raises(ValidationError) as info:
        call()
    message = str(info.value)
    for allowed in ASPECT_RATIOS:
        assert allowed in message
    assert info.value.field == "aspect_ratio"
    _no_requests(api)


def test_the_seven_aspect_ratios() -> None:
    assert ASPECT_RATIOS == ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")


# ----------------------------------------------------------------------------- URLs


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("field", ["start_image_url", "end_image_url", "callback_url"])
@pytest.mark.parametrize("method", ["generate", "submit"])
def test_bad_url_fields(client, api, method, field, url) -> None:
    with pytest.raises(ValidationError) as info:
        getattr(client, method)("a cat", **{field: url})
    assert info.value.field == field
    assert field in str(info.value)
    _no_requests(api)


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_video_url_for_extend(client, api, url) -> None:
    with pytest.raises(ValidationError) as info:
        client.extend(video_url=url)
    assert info.value.field == "video_url"
    _no_requests(api)


@pytest.mark.parametrize("field", ["start_image_url", "end_image_url", "callback_url"])
def test_bad_url_fields_on_extend(client, api, field) -> None:
    with pytest.raises(ValidationError):
        client.extend("vid-1", **{field: "/relative.png"})
    _no_requests(api)


# ----------------------------------------------------------------------------- extend


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"prompt": "go on"}, id="prompt-only"),
        pytest.param({"video_id": None, "video_url": None}, id="explicit-none"),
    ],
)
@pytest.mark.parametrize("method", ["extend", "submit-extend"])
def test_extend_without_a_video(client, api, method, kwargs) -> None:
    call = client.extend if method == "extend" else partial(client.submit, action="extend")
    with pytest.raises(ValidationError, match=r"video_id=.*video_url="):
        call(**kwargs)
    _no_requests(api)


@pytest.mark.parametrize("video_id", ["", "  ", "a b", "id\n", 12])
def test_bad_video_id(client, api, video_id) -> None:
    with pytest.raises(ValidationError, match="video_id"):
        client.extend(video_id)
    _no_requests(api)


@pytest.mark.parametrize("action", ["create", "Generate", "", None, "retrieve"])
def test_bad_action(client, api, action) -> None:
    with pytest.raises(ValidationError, match="action"):
        client.submit("a cat", action=action)
    _no_requests(api)


# ----------------------------------------------------------------------------- flags


@pytest.mark.parametrize("value", [1, 0, "yes", "false", None, 1.0, [True]])
@pytest.mark.parametrize("flag", ["loop", "enhancement", "sync"])
@pytest.mark.parametrize("method", ["generate", "submit"])
def test_non_bool_flags(client, api, method, flag, value) -> None:
    with pytest.raises(ValidationError, match=flag):
        getattr(client, method)("a cat", **{flag: value})
    _no_requests(api)


@pytest.mark.parametrize("flag", ["loop", "enhancement", "sync"])
def test_non_bool_flags_on_extend(client, api, flag) -> None:
    with pytest.raises(ValidationError, match=flag):
        client.extend("vid-1", **{flag: "true"})
    _no_requests(api)


# ----------------------------------------------------------------------------- timeouts


BAD_SECONDS = [
    pytest.param(0, id="zero"),
    pytest.param(-1, id="negative"),
    pytest.param(-0.0, id="minus-zero"),
    pytest.param(math.nan, id="nan"),
    pytest.param(math.inf, id="inf"),
    pytest.param(-math.inf, id="-inf"),
    pytest.param(True, id="bool"),
    pytest.param("300", id="string"),
    pytest.param([300], id="list"),
]


@pytest.mark.parametrize(
    "value", [*BAD_SECONDS, pytest.param(3601, id="over-an-hour"), pytest.param(1e9, id="absurd")]
)
@pytest.mark.parametrize("method", ["generate", "submit"])
def test_bad_api_timeout(client, api, method, value) -> None:
    with pytest.raises(ValidationError, match="timeout") as info:
        getattr(client, method)("a cat", timeout=value)
    assert info.value.field == "timeout"
    _no_requests(api)


@pytest.mark.parametrize(
    "value",
    [*BAD_SECONDS, pytest.param(8 * 24 * 3600, id="over-a-week"), pytest.param(1e12, id="absurd")],
)
@pytest.mark.parametrize("method", ["generate", "extend", "wait", "wait_many"])
def test_bad_max_wait(client, api, method, value) -> None:
    calls = {
        "generate": lambda: client.generate("a cat", max_wait=value),
        "extend": lambda: client.extend("vid-1", max_wait=value),
        "wait": lambda: client.wait("task-1", max_wait=value),
        "wait_many": lambda: client.wait_many(["task-1", "task-2"], max_wait=value),
    }
    with pytest.raises(ValidationError, match="max_wait") as info:
        calls[method]()
    assert info.value.field == "max_wait"
    _no_requests(api)


@pytest.mark.parametrize("on_update", ["print", 1, [print]])
@pytest.mark.parametrize("method", ["generate", "wait"])
def test_on_update_must_be_callable(client, api, method, on_update) -> None:
    call = partial(client.generate, "a cat") if method == "generate" else partial(client.wait, "t")
    with pytest.raises(ValidationError, match="on_update"):
        call(on_update=on_update)
    _no_requests(api)


# ----------------------------------------------------------------------------- unknown keywords


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("model", "no model parameter"),
        ("duration", "no duration parameter"),
        ("seed", "no seed parameter"),
        ("negative_prompt", "no negative prompt"),
        ("image_url", "start_image_url"),
        ("image_urls", "start_image_url"),
        ("resolution", "aspect_ratio"),
        ("aspect_ration", "did you mean 'aspect_ratio'"),
        ("enhance", "did you mean 'enhancement'"),
        ("start_image", "did you mean 'start_image_url'"),
        ("callbackurl", "did you mean 'callback_url'"),
        ("max_wiat", "did you mean 'max_wait'"),
        ("zzzzzz", "help(luma_nb.Client.generate)"),
    ],
)
@pytest.mark.parametrize("method", ["generate", "submit", "extend"])
def test_unknown_keywords(client, api, method, name, hint) -> None:
    args = ("vid-1",) if method == "extend" else ("a cat",)
    with pytest.raises(ValidationError) as info:
        getattr(client, method)(*args, **{name: "x"})
    assert repr(name) in str(info.value)
    assert hint in str(info.value)
    assert info.value.field == name
    _no_requests(api)


def test_unknown_keyword_with_a_prebuilt_request(client, api) -> None:
    request = luma_nb.VideoRequest(prompt="a cat")
    with pytest.raises(ValidationError, match="model"):
        client.submit(request, model="ray-2")
    _no_requests(api)


# ----------------------------------------------------------------------------- task ids


BAD_IDS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("abc def", id="inner-space"),
    pytest.param("abc\n", id="newline"),
    pytest.param(None, id="none"),
    pytest.param(123, id="int"),
    pytest.param(b"abc", id="bytes"),
]


@pytest.mark.parametrize("task_id", BAD_IDS)
@pytest.mark.parametrize("method", ["get_task", "wait"])
def test_bad_task_id(client, api, method, task_id) -> None:
    with pytest.raises(ValidationError, match="task id"):
        getattr(client, method)(task_id)
    _no_requests(api)


@pytest.mark.parametrize("task_id", BAD_IDS)
@pytest.mark.parametrize("method", ["get_tasks", "wait_many"])
def test_bad_id_inside_a_list(client, api, method, task_id) -> None:
    with pytest.raises(ValidationError, match="task id"):
        getattr(client, method)(["good-id", task_id])
    _no_requests(api)


@pytest.mark.parametrize(
    ("ids", "match"),
    [
        pytest.param([], "no task ids", id="empty-list"),
        pytest.param((), "no task ids", id="empty-tuple"),
        pytest.param(iter([]), "no task ids", id="empty-iterator"),
        pytest.param("task-1", "list of task ids", id="bare-string"),
        pytest.param(luma_nb.Task(id="task-1"), "list of task ids", id="bare-task"),
    ],
)
@pytest.mark.parametrize("method", ["get_tasks", "wait_many"])
def test_bad_id_lists(client, api, method, ids, match) -> None:
    with pytest.raises(ValidationError, match=match):
        getattr(client, method)(ids)
    _no_requests(api)


# ----------------------------------------------------------------------------- download input


@pytest.mark.parametrize("url", ["/luma/a.mp4", "ftp://cdn.example.com/a.mp4", "", None])
def test_download_refuses_non_http_urls(client, api, url) -> None:
    with pytest.raises(ValidationError):
        client.download(url)
    _no_requests(api)


def test_download_of_a_task_without_video(client, api) -> None:
    with pytest.raises(ValidationError, match="no video"):
        client.download(luma_nb.Task(id="task-1"))
    _no_requests(api)


# ----------------------------------------------------------------------------- the error type


def test_validation_error_is_value_and_type_error(client) -> None:
    with pytest.raises(ValueError, match="prompt"):
        client.generate("")
    with pytest.raises(TypeError, match="prompt"):
        client.generate(42)
    with pytest.raises(luma_nb.LumaError):
        client.generate("a cat", aspect_ratio="2:1")


def test_valid_input_does_reach_the_api(client, api) -> None:
    """The counter-check: the same calls with good values do make a request."""
    api.script("/luma/videos", {"task_id": "task-1"})
    task = client.submit(
        "a cat",
        aspect_ratio="9:21",
        loop=True,
        enhancement=False,
        start_image_url=GOOD_URL,
        end_image_url="http://example.com/end.jpg",
        callback_url="https://hooks.example.com/luma",
        timeout=3600,
        preflight=False,  # the fake API has no image host; the preflight has its own tests
    )
    assert task.id == "task-1"
    assert len(api.requests) == 1


# ----------------------------------------------------------------------------- configuration


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
    monkeypatch.delenv("ACEDATACLOUD_API_BASE_URL", raising=False)
    for name in ("LUMA_NB_HTTP_TIMEOUT", "LUMA_NB_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("token", [None, "", "   "])
def test_no_token_is_a_config_error(make_client, no_env, api, token) -> None:
    with pytest.raises(ConfigError, match="ACEDATACLOUD_API_TOKEN") as info:
        make_client(token=token)
    assert "token=" in str(info.value)
    assert not isinstance(info.value, ValidationError)
    _no_requests(api)


@pytest.mark.parametrize("token", ["Bearer sk-abc", "sk abc", "sk-a\tbc", "sk-\x00abc"])
def test_token_with_whitespace_or_control_chars(make_client, no_env, token) -> None:
    with pytest.raises(ConfigError, match="whitespace or control"):
        make_client(token=token)


def test_surrounding_whitespace_of_a_pasted_token_is_dropped(make_client, no_env, api) -> None:
    client = make_client(token="  sk-pasted\n")
    api.script("/luma/tasks", {"id": "t1"})
    client.get_task("t1")
    assert api.requests[0].headers["authorization"] == "Bearer sk-pasted"


def test_token_must_be_a_string(make_client, no_env) -> None:
    with pytest.raises(ConfigError, match="string"):
        make_client(token=12345)


def test_token_from_the_environment(make_client, no_env, api) -> None:
    no_env.setenv("ACEDATACLOUD_API_TOKEN", "sk-from-env")
    client = make_client(token=None)
    api.script("/luma/tasks", {"id": "t1"})
    client.get_task("t1")
    assert api.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_argument_token_wins_over_the_environment(make_client, no_env, api) -> None:
    no_env.setenv("ACEDATACLOUD_API_TOKEN", "sk-from-env")
    client = make_client(token="sk-from-arg")
    api.script("/luma/tasks", {"id": "t1"})
    client.get_task("t1")
    assert api.requests[0].headers["authorization"] == "Bearer sk-from-arg"


@pytest.mark.parametrize(
    ("argument", "env", "expected"),
    [
        (None, None, "https://api.acedata.cloud"),
        (None, "http://localhost:8765/", "http://localhost:8765"),
        ("https://proxy.example.com/", "http://localhost:8765", "https://proxy.example.com"),
        ("https://proxy.example.com/base", None, "https://proxy.example.com/base"),
    ],
)
def test_base_url_from_argument_env_default(make_client, no_env, api, argument, env, expected):
    if env is not None:
        no_env.setenv("ACEDATACLOUD_API_BASE_URL", env)
    client = make_client(base_url=argument)
    assert client.base_url == expected
    api.script("/luma/tasks", {"id": "t1"})
    api.script("/base/luma/tasks", {"id": "t1"})
    client.get_task("t1")
    assert str(api.requests[0].url) == expected + "/luma/tasks"


@pytest.mark.parametrize(
    "base_url",
    ["api.acedata.cloud", "ftp://api.acedata.cloud", "https://", "https://user:pw@api.x.com", 5],
)
def test_bad_base_url(make_client, base_url) -> None:
    with pytest.raises(ConfigError, match="base_url"):
        make_client(base_url=base_url)


@pytest.mark.parametrize("timeout", [0, -5, math.nan, 3601, True, "30"])
def test_bad_http_timeout(make_client, timeout) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        make_client(timeout=timeout)


@pytest.mark.parametrize("max_retries", [-1, 21, 1.5, "3"])
def test_bad_max_retries(make_client, max_retries) -> None:
    with pytest.raises(ConfigError, match="max_retries"):
        make_client(max_retries=max_retries)


def test_env_settings(make_client, no_env) -> None:
    no_env.setenv("LUMA_NB_HTTP_TIMEOUT", "12.5")
    no_env.setenv("LUMA_NB_MAX_RETRIES", "7")
    client = make_client()
    assert client.settings.timeout == 12.5
    assert client.settings.retry.max_retries == 7


@pytest.mark.parametrize(
    ("name", "value"), [("LUMA_NB_HTTP_TIMEOUT", "soon"), ("LUMA_NB_MAX_RETRIES", "many")]
)
def test_bad_env_settings(make_client, no_env, name, value) -> None:
    no_env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        make_client()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"maximum": -1},
        {"max_wait": math.inf},
        {"factor": 0.5},
        {"initial": True},
    ],
)
def test_bad_poll_policy(kwargs) -> None:
    with pytest.raises(ConfigError, match="poll"):
        luma_nb.config.PollPolicy(**kwargs)
