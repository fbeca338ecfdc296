"""Bad input, across the whole API: each is a clear typed error (or HTTP 400), and nothing paid.

One table per surface:

* the clients and the notebook helpers: a :class:`luma_nb.ValidationError` (or
  :class:`luma_nb.ConfigError` for a bad setting) raised *before any request*: the simulator
  behind them must have seen no request at all;
* the panel: a bad value disables Generate and ``form_message`` says what is wrong; clicking
  anyway starts no job and sends nothing;
* the simulator's HTTP face, for clients that skip luma_nb's checks: HTTP 400 (or 413) with
  the error envelope, and no task created (nothing billed).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

import luma_nb
from luma_nb import ConfigError, ValidationError
from luma_nb.config import PollPolicy, RetryPolicy
from luma_nb.simulator import Simulator, VirtualClock

TOKEN = "sk-bad-input-0001"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=11)
    yield simulator
    simulator.close()


@pytest.fixture
def client(sim: Simulator, tmp_path: Path) -> Iterator[luma_nb.Client]:
    with luma_nb.Client(
        TOKEN,
        base_url=sim.base_url,
        transport=sim.transport(),
        backend="simulator",
        cache_dir=tmp_path / "cache",
        sleep=lambda _s: None,
    ) as made:
        yield made


def _nothing_sent(sim: Simulator) -> None:
    stats = sim.stats
    assert stats.requests == 0, dict(stats.by_path)
    assert stats.tasks_created == 0


# ----------------------------------------------------------------------------- the clients

Call = Callable[[luma_nb.Client], object]
CLIENT_CASES: list[tuple[str, Call, str | None]] = [
    # (id, call, the field the error names)
    ("empty prompt", lambda c: c.generate(""), "prompt"),
    ("blank prompt", lambda c: c.generate("   \n\t"), "prompt"),
    ("prompt None", lambda c: c.generate(None), "prompt"),  # type: ignore[arg-type]
    ("prompt not text", lambda c: c.generate(123), "prompt"),  # type: ignore[arg-type]
    ("prompt too long", lambda c: c.generate("x" * 10_001), "prompt"),
    ("aspect ratio 2:1", lambda c: c.generate("a cat", aspect_ratio="2:1"), "aspect_ratio"),
    ("aspect ratio number", lambda c: c.generate("a cat", aspect_ratio=169), "aspect_ratio"),  # type: ignore[arg-type]
    ("loop not bool", lambda c: c.generate("a cat", loop="yes"), "loop"),  # type: ignore[arg-type]
    ("enhancement 1", lambda c: c.generate("a cat", enhancement=1), "enhancement"),  # type: ignore[arg-type]
    ("keyframe ftp", lambda c: c.generate("a", start_image_url="ftp://h/x.png"), "start_image_url"),
    (
        "keyframe javascript:",
        lambda c: c.generate("a", end_image_url="javascript:alert(1)"),
        "end_image_url",
    ),
    ("keyframe relative", lambda c: c.generate("a", start_image_url="/x.png"), "start_image_url"),
    ("callback without host", lambda c: c.generate("a", callback_url="http://"), "callback_url"),
    (
        "callback with a space",
        lambda c: c.generate("a", callback_url="https://exa mple.com/hook"),
        "callback_url",
    ),
    ("timeout 0", lambda c: c.generate("a cat", timeout=0), "timeout"),
    ("timeout negative", lambda c: c.generate("a cat", timeout=-5), "timeout"),
    ("timeout NaN", lambda c: c.generate("a cat", timeout=math.nan), "timeout"),
    ("timeout absurd", lambda c: c.generate("a cat", timeout=10**9), "timeout"),
    ("timeout True", lambda c: c.generate("a cat", timeout=True), "timeout"),
    ("model= (no such parameter)", lambda c: c.generate("a cat", model="ray-2"), "model"),
    ("typo aspect=", lambda c: c.generate("a cat", aspect="16:9"), "aspect"),
    ("max_wait 0", lambda c: c.generate("a cat", max_wait=0), "max_wait"),
    ("max_wait infinite", lambda c: c.generate("a cat", max_wait=math.inf), "max_wait"),
    ("on_update not callable", lambda c: c.generate("a", on_update="print"), "on_update"),  # type: ignore[arg-type]
    ("sync not bool", lambda c: c.submit("a cat", sync="yes"), "sync"),  # type: ignore[arg-type]
    ("unknown action", lambda c: c.submit("a cat", action="delete"), "action"),
    ("extend without a video", lambda c: c.extend(), "video_id"),
    ("extend video_id with space", lambda c: c.extend("v 1"), "video_id"),
    ("extend video_url not a URL", lambda c: c.extend(video_url="not a url"), "video_url"),
    ("get_task empty id", lambda c: c.get_task(""), "task_id"),
    ("get_task id with space", lambda c: c.get_task("a b"), "task_id"),
    ("get_task None", lambda c: c.get_task(None), "task_id"),  # type: ignore[arg-type]
    ("wait_many no ids", lambda c: c.wait_many([]), "task_ids"),
    ("wait_many a bare string", lambda c: c.wait_many("task-1"), "task_ids"),
    ("wait max_wait negative", lambda c: c.wait("task-1", max_wait=-1), "max_wait"),
    ("download file://", lambda c: c.download("file:///etc/passwd"), "video_url"),
    ("download a data: URL", lambda c: c.download("data:video/mp4;base64,AAAA"), "video_url"),
    ("download bad port", lambda c: c.download("https://cdn.test:99999/v.mp4"), "video_url"),
    ("download bad IPv6", lambda c: c.download("http://[::1/v.mp4"), "video_url"),
    ("timeout beyond a float", lambda c: c.generate("a cat", timeout=10**400), "timeout"),
    ("timeout 5,000 digits", lambda c: c.generate("a cat", timeout=10**5000), "timeout"),
    ("timeout -inf", lambda c: c.generate("a cat", timeout=-math.inf), "timeout"),
    ("max_wait beyond a float", lambda c: c.generate("a cat", max_wait=10**400), "max_wait"),
    ("prompt lone surrogate", lambda c: c.generate("a \ud800 cat"), "prompt"),
    ("prompt zero-width only", lambda c: c.generate("\u200b\u200c\u200d\u2060"), "prompt"),
    ("prompt BOM, SHY, MVS", lambda c: c.generate(" \ufeff\u00ad\u180e\u3000"), "prompt"),
    ("prompt separators", lambda c: c.generate("\u2028\u2029\x00\x1f"), "prompt"),
    ("extend blank invisible", lambda c: c.extend("v1", prompt="\u200b"), "prompt"),
    ("video_url bad port", lambda c: c.extend(video_url="https://h.test:99999/v"), "video_url"),
    ("video_url port :abc", lambda c: c.extend(video_url="https://h.test:abc/v"), "video_url"),
    ("video_url [zz]", lambda c: c.extend(video_url="http://[zz]/v.mp4"), "video_url"),
    (
        "keyframe credentials",
        lambda c: c.generate("a", start_image_url="https://u:p@h.test/"),
        "start_image_url",
    ),
    (
        "callback tab",
        lambda c: c.generate("a", callback_url="https://h.test/\thook"),
        "callback_url",
    ),
    ("video_id surrogate", lambda c: c.extend("v\udc80"), "video_id"),
    ("video_id zero-width", lambda c: c.extend("v\u200b1"), "video_id"),
    ("video_id 300 chars", lambda c: c.extend("v" * 300), "video_id"),
    ("aspect ratio a list", lambda c: c.generate("a", aspect_ratio=["16:9"]), "aspect_ratio"),  # type: ignore[arg-type]
    ("action a list", lambda c: c.submit("a cat", action=["generate"]), "action"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("call", "field"), [case[1:] for case in CLIENT_CASES], ids=[case[0] for case in CLIENT_CASES]
)
def test_client_rejects_bad_input_before_any_request(
    client: luma_nb.Client, sim: Simulator, call: Call, field: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        call(client)
    assert caught.value.field == field
    assert str(caught.value)  # a sentence, not an empty message
    _nothing_sent(sim)


@pytest.mark.parametrize("field", ["video_url", "start_image_url", "end_image_url", "callback_url"])
def test_a_url_with_credentials_is_refused_without_echoing_them(
    client: luma_nb.Client, sim: Simulator, field: str
) -> None:
    url = "https://bob:hunter2@cdn.example.test/a.png"
    call = client.extend if field == "video_url" else partial(client.generate, "a cat")
    with pytest.raises(ValidationError, match="credentials") as caught:
        call(**{field: url})
    assert caught.value.field == field and "hunter2" not in str(caught.value)
    _nothing_sent(sim)


# Needs client.py: messages built with {value!r} raise ValueError for a 5,000-digit int.
HUGE_CASES: list[tuple[str, Call, str]] = [
    ("max_wait 5,000 digits", lambda c: c.generate("a cat", max_wait=10**5000), "max_wait"),
    ("sync 5,000 digits", lambda c: c.submit("a cat", sync=10**5000), "sync"),  # type: ignore[arg-type]
    ("task id 5,000 digits", lambda c: c.get_task(10**5000), "task_id"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("call", "field"), [case[1:] for case in HUGE_CASES], ids=[case[0] for case in HUGE_CASES]
)
def test_values_too_big_to_print_are_still_validation_errors(
    client: luma_nb.Client, sim: Simulator, call: Call, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        call(client)
    assert caught.value.field == field
    _nothing_sent(sim)


@pytest.mark.parametrize("method", ["generate", "extend", "submit"])
def test_a_keyword_of_another_method_is_not_suggested_as_its_own_typo(
    client: luma_nb.Client, method: str
) -> None:
    taken = set(inspect.signature(getattr(client, method)).parameters)
    for name in sorted(
        {"max_wait", "on_update", "sync", "video_id", "video_url", "action"} - taken
    ):
        with pytest.raises(ValidationError) as caught:
            getattr(client, method)("vid-1", **{name: None})
        assert caught.value.field == name
        assert f"did you mean {name!r}" not in str(caught.value)


def test_the_async_client_rejects_the_same_input(sim: Simulator, tmp_path: Path) -> None:
    async def go() -> list[str | None]:
        fields = []
        async with luma_nb.AsyncClient(
            TOKEN, base_url=sim.base_url, transport=sim.transport(), cache_dir=tmp_path
        ) as aclient:
            for call in (
                lambda: aclient.generate(""),
                lambda: aclient.generate("a cat", aspect_ratio="2:1"),
                lambda: aclient.submit("a cat", model="ray-2"),
                lambda: aclient.extend(),
                lambda: aclient.get_task(""),
                lambda: aclient.wait_many([]),
            ):
                with pytest.raises(ValidationError) as caught:
                    await call()
                fields.append(caught.value.field)
        return fields

    assert asyncio.run(go()) == [
        "prompt",
        "aspect_ratio",
        "model",
        "video_id",
        "task_id",
        "task_ids",
    ]
    _nothing_sent(sim)


SETTINGS_CASES: list[tuple[str, Callable[[], object]]] = [
    ("empty token", lambda: luma_nb.Client("", base_url="https://api.example.test")),
    ("token with Bearer prefix", lambda: luma_nb.Client("Bearer abc")),
    ("token not text", lambda: luma_nb.Client(12345)),  # type: ignore[arg-type]
    ("base_url ftp", lambda: luma_nb.Client("t", base_url="ftp://api.example.test")),
    ("base_url relative", lambda: luma_nb.Client("t", base_url="/luma")),
    ("base_url with credentials", lambda: luma_nb.Client("t", base_url="https://u:p@h.test")),
    ("HTTP timeout 0", lambda: luma_nb.Client("t", timeout=0)),
    ("max_retries -1", lambda: luma_nb.Client("t", max_retries=-1)),
    ("poll interval 0", lambda: PollPolicy(initial=0)),
    ("poll factor < 1", lambda: PollPolicy(factor=0.5)),
    ("retry count 100", lambda: RetryPolicy(max_retries=100)),
    ("backend unknown", lambda: luma_nb.connect(backend="cloud")),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    "make", [case[1] for case in SETTINGS_CASES], ids=[case[0] for case in SETTINGS_CASES]
)
def test_bad_settings_are_config_errors(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigError) as caught:
        make()
    assert str(caught.value)


# ----------------------------------------------------------------------------- the helpers


@pytest.fixture
def helpers(client: luma_nb.Client, tmp_path: Path) -> Iterator[luma_nb.SessionLog]:
    log = luma_nb.SessionLog(tmp_path / "session.jsonl")
    luma_nb.use(client, log)
    yield log
    luma_nb.notebook.reset()
    from luma_nb.display import set_media_fetcher

    set_media_fetcher(None)


HELPER_CASES: list[tuple[str, Callable[[], object], str | None]] = [
    ("generate empty prompt", lambda: luma_nb.generate(""), "prompt"),
    ("generate bad ratio", lambda: luma_nb.generate("a cat", aspect_ratio="5:4"), "aspect_ratio"),
    ("generate unknown keyword", lambda: luma_nb.generate("a cat", seed=3), "seed"),
    ("submit sync=True", lambda: luma_nb.submit("a cat", sync=True), "sync"),
    ("submit empty tag", lambda: luma_nb.submit("a cat", tags=[""]), "tags"),
    ("submit experiment blank", lambda: luma_nb.submit("a cat", experiment=" "), "experiment"),
    ("extend a number", lambda: luma_nb.extend(42), "video"),  # type: ignore[arg-type]
    ("extend with nothing finished", lambda: luma_nb.extend(), "video"),
    ("rate without stars", lambda: luma_nb.rate(), "stars"),
    ("rate 9 stars", lambda: luma_nb.rate("it-x", stars=9), "stars"),
    ("rate an unknown position", lambda: luma_nb.rate(5, stars=3), "iteration"),
    ("generate prompt surrogate", lambda: luma_nb.generate("\udfff"), "prompt"),
    ("generate prompt invisible", lambda: luma_nb.generate("\ufeff\u200b"), "prompt"),
    ("generate timeout 10**400", lambda: luma_nb.generate("a", timeout=10**400), "timeout"),
    ("generate max_wait 10**5000", lambda: luma_nb.generate("a", max_wait=10**5000), "max_wait"),
    ("generate max_wait NaN", lambda: luma_nb.generate("a", max_wait=math.nan), "max_wait"),
    ("generate on_update text", lambda: luma_nb.generate("a", on_update="print"), "on_update"),
    ("generate sync 'yes'", lambda: luma_nb.generate("a", sync="yes"), "sync"),
    ("generate video_id", lambda: luma_nb.generate("a", video_id="v1"), "video_id"),
    ("generate action", lambda: luma_nb.generate("a", action="extend"), "action"),
    ("extend parent", lambda: luma_nb.extend("v1", parent="it-1"), "parent"),
    ("extend bad video_url", lambda: luma_nb.extend(video_url="http://[::1"), "video_url"),
    ("extend video twice", lambda: luma_nb.extend("v1", video_id="v2"), "video_id"),
    ("submit max_wait", lambda: luma_nb.submit("a", max_wait=60), "max_wait"),
    ("submit on_update", lambda: luma_nb.submit("a", on_update=print), "on_update"),
    (
        "submit bad keyframe",
        lambda: luma_nb.submit("a", end_image_url="http://h:x/"),
        "end_image_url",
    ),
]


@pytest.mark.parametrize(
    ("call", "field"), [case[1:] for case in HELPER_CASES], ids=[case[0] for case in HELPER_CASES]
)
def test_helpers_reject_bad_input_before_any_request(
    helpers: luma_nb.SessionLog, sim: Simulator, call: Callable[[], object], field: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.field == field
    _nothing_sent(sim)
    # Nothing half-written either: a rejected call leaves no iteration behind.
    assert helpers.to_records() == []


def test_session_log_rejects_bad_calls(tmp_path: Path) -> None:
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    request = luma_nb.VideoRequest(prompt="a cat")
    for call, field in (
        (lambda: log.begin("a cat", backend="api"), "request"),  # type: ignore[arg-type]
        (lambda: log.begin(request, backend=""), "backend"),
        (lambda: log.begin(request, backend="api", iteration="has space"), "iteration"),
        (lambda: log.rate("it-nope", 3), "iteration"),
        (lambda: log.note("it-nope", "x"), "iteration"),
        (lambda: log.submitted("it-nope", "task"), "task"),  # type: ignore[arg-type]
        (lambda: luma_nb.SessionLog(tmp_path / "a.jsonl", folder=tmp_path), "folder"),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.field == field
    assert not log.path.exists()  # nothing was written


# ----------------------------------------------------------------------------- the panel


@pytest.fixture
def panel(sim: Simulator, tmp_path: Path) -> Iterator[Any]:
    pytest.importorskip("ipywidgets")
    aclient = luma_nb.AsyncClient(
        TOKEN, base_url=sim.base_url, transport=sim.transport(), cache_dir=tmp_path / "cache"
    )
    made = luma_nb.Panel(aclient, luma_nb.SessionLog(tmp_path / "panel.jsonl"))
    yield made
    asyncio.run(aclient.aclose())


PANEL_CASES: list[tuple[str, dict[str, Any], str]] = [
    # (id, widget values, words the message must contain)
    ("no prompt", {"prompt": ""}, "Write a prompt"),
    ("blank prompt", {"prompt": "   "}, "prompt"),
    ("start image javascript:", {"start_image_url": "javascript:alert(1)"}, "start image URL"),
    ("end image ftp", {"end_image_url": "ftp://host/x.png"}, "end image URL"),
    ("callback relative", {"callback_url": "/hook"}, "callback URL"),
    ("timeout not a number", {"api_timeout": "soon"}, "API timeout"),
    ("timeout negative", {"api_timeout": "-5"}, "API timeout"),
    ("timeout infinite", {"api_timeout": "inf"}, "API timeout"),
    ("timeout too long", {"api_timeout": "99999"}, "API timeout"),
    ("ratio kept on generate", {"aspect_ratio": ""}, "Aspect ratio"),
    ("extend without a video", {"action": "extend"}, "Extend needs a video"),
    ("extend a URL that is not http", {"action": "extend", "extend_ref": "ftp://x/v.mp4"}, "video"),
    ("prompt too long", {"prompt": "x" * 10_001}, "10000"),
]


@pytest.mark.parametrize(
    ("values", "words"), [case[1:] for case in PANEL_CASES], ids=[case[0] for case in PANEL_CASES]
)
def test_panel_disables_generate_and_explains(
    panel: Any, sim: Simulator, values: dict[str, Any], words: str
) -> None:
    panel.prompt.value = "a valid prompt"
    assert not panel.generate_button.disabled and panel.form_message.value == ""
    for name, value in values.items():
        getattr(panel, name).value = value
    assert panel.generate_button.disabled
    assert words in panel.form_message.value, panel.form_message.value
    assert "luma-nb-form-message" in panel.form_message.value
    panel.generate_button.click()  # a click that slips through does nothing
    with pytest.raises(ValidationError):
        panel.submit()
    assert panel.jobs == []
    assert panel.log.to_records() == []
    _nothing_sent(sim)


def test_panel_rejects_a_bad_uploader(sim: Simulator, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValidationError):
        luma_nb.Panel(
            luma_nb.AsyncClient(TOKEN, base_url=sim.base_url, transport=sim.transport()),
            luma_nb.SessionLog(tmp_path / "p.jsonl"),
            uploader="not callable",  # type: ignore[arg-type]
        )


# ----------------------------------------------------------------------------- the simulator

DEEP = b"[" * 100_000 + b"]" * 100_000
HTTP_CASES: list[tuple[str, str, bytes, int, str]] = [
    # (id, path, body, status, error code)
    ("no prompt", "/luma/videos", b"{}", 400, "bad_request"),
    ("prompt a number", "/luma/videos", b'{"prompt": 5}', 400, "bad_request"),
    ("prompt blank", "/luma/videos", b'{"prompt": "  "}', 400, "bad_request"),
    ("ratio 2:1", "/luma/videos", b'{"prompt": "a", "aspect_ratio": "2:1"}', 400, "bad_request"),
    ("ratio a number", "/luma/videos", b'{"prompt": "a", "aspect_ratio": 169}', 400, "bad_request"),
    ("loop a string", "/luma/videos", b'{"prompt": "a", "loop": "yes"}', 400, "bad_request"),
    ("enhancement 1", "/luma/videos", b'{"prompt": "a", "enhancement": 1}', 400, "bad_request"),
    ("timeout NaN", "/luma/videos", b'{"prompt": "a", "timeout": NaN}', 400, "bad_request"),
    ("timeout -1", "/luma/videos", b'{"prompt": "a", "timeout": -1}', 400, "bad_request"),
    (
        "keyframe javascript:",
        "/luma/videos",
        b'{"prompt": "a", "start_image_url": "javascript:alert(1)"}',
        400,
        "bad_request",
    ),
    (
        "callback relative",
        "/luma/videos",
        b'{"prompt": "a", "callback_url": "/x"}',
        400,
        "bad_request",
    ),
    (
        "unknown action",
        "/luma/videos",
        b'{"action": "explode", "prompt": "a"}',
        400,
        "api_not_implemented",
    ),
    ("extend nothing", "/luma/videos", b'{"action": "extend"}', 400, "bad_request"),
    (
        "extend unknown id",
        "/luma/videos",
        b'{"action": "extend", "video_id": "nope"}',
        400,
        "bad_request",
    ),
    ("not JSON", "/luma/videos", b"hello", 400, "bad_request"),
    ("a JSON array", "/luma/videos", b"[]", 400, "bad_request"),
    ("not UTF-8", "/luma/videos", b'{"prompt": "\xff"}', 400, "bad_request"),
    ("nested 100,000 deep", "/luma/videos", DEEP, 400, "bad_request"),
    ("retrieve without id", "/luma/tasks", b'{"action": "retrieve"}', 400, "bad_request"),
    ("retrieve a number id", "/luma/tasks", b'{"action": "retrieve", "id": 5}', 400, "bad_request"),
    (
        "batch ids a string",
        "/luma/tasks",
        b'{"action": "retrieve_batch", "ids": "x"}',
        400,
        "bad_request",
    ),
    ("tasks unknown action", "/luma/tasks", b'{"action": "nope"}', 400, "api_not_implemented"),
    ("tasks nested deep", "/luma/tasks", DEEP, 400, "bad_request"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [case[1:] for case in HTTP_CASES],
    ids=[case[0] for case in HTTP_CASES],
)
def test_simulator_answers_bad_bodies_with_400(
    sim: Simulator, path: str, body: bytes, status: int, code: str
) -> None:
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as http:
        response = http.post(
            path,
            content=body,
            headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
        )
    assert response.status_code == status, response.text
    envelope = response.json()
    # `success: false` is optional in the spec (the simulator omits it by default)
    assert envelope.get("success", False) is False and envelope["error"]["code"] == code
    assert envelope["error"]["message"] and envelope["trace_id"]
    assert sim.stats.tasks_created == 0  # nothing billed


def test_simulator_refuses_a_body_over_its_limit(sim: Simulator) -> None:
    body = json.dumps({"prompt": "a" * (32 * 1024 * 1024 + 1)}).encode()
    with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as http:
        response = http.post(
            "/luma/videos", content=body, headers={"authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert sim.stats.tasks_created == 0


def test_the_tables_are_large_enough() -> None:
    total = (
        len(CLIENT_CASES)
        + len(SETTINGS_CASES)
        + len(HELPER_CASES)
        + len(PANEL_CASES)
        + len(HTTP_CASES)
    )
    assert total >= 30
