"""Fuzzing: arbitrary JSON and bytes into every parser and the whole client path.

Property-based (hypothesis): whatever the API (or a proxy in front of it) answers, luma_nb
gives back a valid result or one of its own typed errors — never a ``KeyError``,
``TypeError``, ``AttributeError``, ``OverflowError`` or ``RecursionError``. The same holds for
the session log's fold, fed events a hand edit (or a newer writer) could produce. Example
counts stay modest so the suite stays fast; values include what JSON can carry but a naive
parser chokes on: integers beyond a float, ``NaN``/``Infinity`` (Python's ``json`` reads
them), deep nesting, lone surrogates, and bytes that are not UTF-8.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb import _wire
from luma_nb._session_fold import COLUMNS, Fold, frame, parse_lines
from luma_nb._values import MAX_PIXELS, read_float, read_size, read_text
from luma_nb.config import PollPolicy
from luma_nb.errors import APIError, LumaError
from luma_nb.models import Task, TaskState, Video, check_http_url, parse_error

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CLIENT_FUZZ = settings(FUZZ, max_examples=40)

# Keys the parsers look at (so their branches run), and a few of anything else.
API_KEYS = st.sampled_from(
    [
        *("id", "_id", "task_id", "trace_id", "state", "success", "error", "code", "message"),
        *("detail", "response", "request", "video_url", "video_id", "video_width", "video_height"),
        *("thumbnail_width", "thumbnail_height", "thumbnail_url", "prompt", "created_at"),
        *("started_at", "finished_at", "elapsed", "data", "items", "count", "api_id"),
    ]
)
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([10**400, -(10**400), 2**1024])  # beyond any float
    | st.floats(allow_nan=True, allow_infinity=True)
)
# Strings a naive parser trusts: digits that isdigit() accepts but int() does not, 5,000
# digits (int() refuses over 4,300), and URLs that urlsplit() or httpx cannot use.
ODD_TEXT = st.sampled_from(
    [
        *("\u00b2", "\u2460", "\u0663\u0663", "1" * 5000, "-5", "NaN", "inf", " 7 "),
        *("http://[::1/v.mp4", "http://[zz]/v.mp4", "https://h.test:99999/v.mp4"),
        *("https://h.test:abc/v.mp4", "https://u:p@h.test/v.mp4", "http://\u2603.com/v.mp4"),
        *("https://cdn.test/v.mp4", " https://cdn.test/v.mp4", "https://cdn.test/\ud800.mp4"),
    ]
)
WORDS = st.sampled_from(
    ["completed", "failed", "pending", "processing", "queued", "dreaming", "error", ""]
)
TEXT = (
    st.text(max_size=16)
    | WORDS
    | ODD_TEXT
    | st.sampled_from(["http://x/v.mp4", "\ud800", "0", "1e999"])
)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(API_KEYS | st.text(max_size=5), children)
    ),
    max_leaves=10,
)
OBJECTS = st.dictionaries(API_KEYS | st.text(max_size=5), JSON, max_size=7)
# Beyond str() too (json.dumps and hypothesis's repr cannot show it): for the parsers only.
HUGE = st.just(5000).map(lambda digits: 10**digits)
PARSED = st.dictionaries(API_KEYS, JSON | HUGE, max_size=7)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


BODIES = (
    OBJECTS.map(_dumps)
    | JSON.map(_dumps)
    | st.binary(max_size=120)
    | st.sampled_from(
        [
            b"",
            b"null",
            b"[]",
            b'{"task_id": 1e999}',
            b'{"id": "t", "created_at": 1' + b"0" * 400 + b"}",
            b"[" * 5000 + b"]" * 5000,  # deeper than the parser's recursion limit
            b'{"items": [' + b'{"id": "t"},' * 60 + b'{"id": "t"}]}',
            b"<html><body>502 Bad Gateway</body></html>",
            b'{"error": {"code": ["x"], "message": {"a": 1}}, "trace_id": 7}',
        ]
    )
)
STATUSES = st.sampled_from([200, 200, 200, 201, 202, 204, 400, 401, 403, 404, 413, 429, 500, 502])
HEADERS = st.sampled_from(
    [{}, {"retry-after": "1"}, {"retry-after": "soon"}, {"retry-after": "1e999"}]
)


# ----------------------------------------------------------------------------- parsers


@FUZZ
@given(OBJECTS | PARSED)
def test_every_body_parser_returns_typed_values(body: dict[str, Any]) -> None:
    """One arbitrary object through the record, sync-answer, video and ack parsers."""
    task = Task.from_record(body)
    assert isinstance(task.id, str) and isinstance(task.state, TaskState)
    for value in (task.created_at, task.started_at, task.finished_at, task.elapsed):
        assert value is None or (isinstance(value, float) and math.isfinite(value))
    if task.state is TaskState.COMPLETED:
        assert isinstance(task.video, Video)
    if task.failed:
        assert task.error is not None
    assert isinstance(Task.from_sync_response(body), Task)
    repr(task)
    for video in (Video.from_response(body), task.video):
        if video is not None:
            check_http_url(video.video_url, "video_url")  # always one the client can fetch
            check_http_url(video.thumbnail_url, "thumbnail_url")
            for number in (video.width, video.height, video.thumbnail_width):
                assert number is None or (isinstance(number, int) and 0 < number <= MAX_PIXELS)
            repr(video)
            # Text from an answer can be logged and sent again: no lone surrogate survives.
            json.dumps([video.prompt, video.video_id], ensure_ascii=False).encode("utf-8")
    task_id, trace_id = _wire.parse_ack(body)
    assert task_id is None or (isinstance(task_id, str) and task_id)
    assert trace_id is None or isinstance(trace_id, str)
    assert isinstance(_wire.is_error_envelope(body), bool)


@FUZZ
@given(JSON | HUGE | PARSED)
def test_any_json_value_as_a_record_or_a_body(value: Any) -> None:
    """Not even a list, a number or a string where an object belongs makes a parser raise."""
    assert isinstance(Task.from_record(value), Task)
    assert isinstance(Task.from_sync_response(value), Task)
    assert Video.from_response(value) is None or isinstance(value, dict)
    error = parse_error(value)
    assert error.code and error.message and len(error.message) <= 2000


READINGS: list[tuple[Any, object, object, object]] = [
    # (value, read_size, read_float, read_text)
    ("\u00b2", None, None, "\u00b2"),  # isdigit() but not int()
    ("\u2460", None, None, "\u2460"),
    ("\u0663\u0663", 33, 33.0, "\u0663\u0663"),  # Arabic-Indic digits: int() reads them
    ("1" * 5000, None, None, "1" * 5000),  # int() refuses over 4,300 digits; float() is inf
    (10**5000, None, None, None),  # str() of it raises
    (10**400, None, None, None),  # no id is 401 digits long
    (-5, None, -5.0, "-5"),
    (0, None, 0.0, "0"),
    (1552.0, 1552, 1552.0, "1552.0"),
    (" 656 ", 656, 656.0, " 656 "),
    (math.nan, None, None, None),
    ("inf", None, None, "inf"),
    (True, None, None, None),
    ([1], None, None, None),
    ({"a": 1}, None, None, None),
    ("a\ud800b", None, None, "a\ufffdb"),
]


@pytest.mark.parametrize(
    ("value", "size", "number", "text"), READINGS, ids=[f"case{i}" for i in range(len(READINGS))]
)
def test_each_reader_on_odd_values(value: Any, size: object, number: object, text: object) -> None:
    assert (read_size(value), read_float(value), read_text(value)) == (size, number, text)


def test_error_fields_of_any_shape_are_read() -> None:
    assert parse_error({"code": ["x"], "message": {"a": 1}}).code == "unknown"
    assert parse_error({"code": 10**5000, "message": "m"}) == parse_error({"message": "m"})
    assert len(parse_error({"message": "x" * 10**6}).message) == 2000
    assert parse_error("  \ud800  ").message == "\ufffd"
    assert "without an error message" in parse_error([[[]]]).message


UNUSABLE_URLS = [
    *("https://cdn.test:99999/v.mp4", "https://cdn.test:abc/v.mp4", "http://[::1/v.mp4"),
    *("http://[zz]/v.mp4", "https://u:p@cdn.test/v.mp4", "https://cdn.test/a b.mp4"),
    *("javascript:alert(1)", "/relative/v.mp4"),
]


@pytest.mark.parametrize("url", UNUSABLE_URLS)
def test_a_completed_task_with_an_unusable_video_url_is_a_failed_task(url: str) -> None:
    """After billing, an answer whose video_url cannot be used is a typed failure, not a crash."""
    record = {"id": "t-1", "response": {"state": "completed", "success": True, "video_url": url}}
    answers = {"/luma/videos": {"task_id": "t-1"}, "/luma/tasks": record}
    transport = lambda r: httpx.Response(200, json=answers[r.url.path])  # noqa: E731
    with _client(transport, [0.0]) as client:
        task = client.get_task("t-1")
        with pytest.raises(luma_nb.GenerationFailedError) as caught:
            client.generate("a heron", max_wait=10)
    assert task.failed and task.video is None and task.error is not None
    assert task.error.code == caught.value.code == "unusable_video_url"
    assert task.response is not None and task.response["video_url"] == url  # kept, inert


@FUZZ
@given(STATUSES, BODIES, HEADERS)
def test_error_mapping_always_gives_an_api_error(
    status: int, content: bytes, headers: dict[str, str]
) -> None:
    error = _wire.error_from_answer(status, content, headers, secret="sk-fuzz-secret")
    assert isinstance(error, APIError)
    assert isinstance(error.message, str) and isinstance(error.code, str)
    assert error.trace_id is None or isinstance(error.trace_id, str)
    assert "sk-fuzz-secret" not in str(error)


# ----------------------------------------------------------------------------- client path


class Script:
    """A MockTransport handler answering from drawn (status, body, headers) triples."""

    def __init__(self, answers: list[tuple[int, bytes, dict[str, str]]]) -> None:
        self.answers = answers
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        status, body, headers = self.answers[self.calls % len(self.answers)]
        self.calls += 1
        return httpx.Response(status, content=body, headers=headers)


ANSWERS = st.lists(st.tuples(STATUSES, BODIES, HEADERS), min_size=1, max_size=6)
POLL = PollPolicy(initial=1.0, factor=2.0, maximum=4.0, max_wait=20.0, adaptive=False)


def _client(script: Any, now: list[float]) -> luma_nb.Client:
    def sleep(seconds: float) -> None:
        now[0] += seconds

    return luma_nb.Client(
        "sk-fuzz-secret",
        base_url="https://api.example.test",
        transport=httpx.MockTransport(script),
        max_retries=2,
        poll=POLL,
        sleep=sleep,
        clock=lambda: now[0],
        rng=random.Random(0),
    )


def _only_typed(call: Any) -> object:
    """The call's result, or the luma_nb error it raised (anything else propagates)."""
    try:
        result: object = call()
    except LumaError as exc:
        result = exc
    if isinstance(result, LumaError):
        assert "sk-fuzz-secret" not in str(result) and "sk-fuzz-secret" not in repr(result)
    return result


@CLIENT_FUZZ
@given(ANSWERS)
def test_sync_client_gives_results_or_typed_errors(answers: list[Any]) -> None:
    script = Script(answers)
    with _client(script, [0.0]) as client:
        outcomes = [
            _only_typed(lambda: client.submit("a fox in the snow")),
            _only_typed(lambda: client.get_task("task-1")),
            _only_typed(lambda: client.get_tasks(["task-1", "task-2"])),
            _only_typed(lambda: client.wait_many(["task-1", "task-2"], max_wait=10)),
            _only_typed(lambda: client.generate("a heron", max_wait=10)),
        ]
    assert script.calls >= 5  # every call reached the transport
    for outcome in outcomes:
        assert isinstance(outcome, (LumaError, Task, Video, list))


@CLIENT_FUZZ
@given(ANSWERS)
def test_async_client_gives_results_or_typed_errors(answers: list[Any]) -> None:
    script = Script(answers)
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def go() -> list[object]:
        async with luma_nb.AsyncClient(
            "sk-fuzz-secret",
            base_url="https://api.example.test",
            transport=httpx.MockTransport(script),
            max_retries=2,
            poll=POLL,
            sleep=sleep,
            clock=lambda: now[0],
            rng=random.Random(0),
        ) as client:
            outcomes: list[object] = []
            for call in (
                lambda: client.submit("a fox"),
                lambda: client.get_task("task-1"),
                lambda: client.wait("task-1", max_wait=10),
            ):
                try:
                    outcomes.append(await call())
                except LumaError as exc:
                    outcomes.append(exc)
            return outcomes

    for outcome in asyncio.run(go()):
        assert isinstance(outcome, (LumaError, Task, Video))


# ----------------------------------------------------------------------------- requests


class Recorder:
    """Records each request and refuses it (HTTP 400): one POST, never a task."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(400, json={"error": {"code": "bad_request", "message": "no"}})

    def outcome(self, call: Any) -> str:
        """Either a ValidationError and no request, or requests whose bodies are clean JSON."""
        self.requests.clear()
        refused: luma_nb.ValidationError | None = None
        try:
            call()
        except luma_nb.ValidationError as exc:
            refused = exc
        except LumaError:
            pass  # the 400 of the API, after the request
        if refused is not None:
            assert self.requests == [], f"a rejected call sent a request: {refused}"
            assert refused.field and str(refused)
            return "refused"
        assert self.requests, "an accepted call sent nothing"
        for request in self.requests:
            json.loads(request.content.decode("utf-8"), parse_constant=_no_constants)
        return "sent"


def _no_constants(word: str) -> None:
    raise AssertionError(f"{word} in a request body")


CHARS = st.characters(exclude_categories=())  # lone surrogates too
URLISH = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["https://", "http://", "HTTP://", "ftp://", "", "//"]),
        st.sampled_from(["cdn.test", "[::1]", "[::1", "[zz]", "999.1.1.1", "\u2603.com", "u:p@h"]),
        st.sampled_from(["", ":443", ":0", ":99999", ":abc", ":"]),
        st.text(CHARS, max_size=6),
    ),
)
ANYTHING = (
    st.none()
    | st.booleans()
    | NUMBERS
    | st.integers()
    | st.text(CHARS, max_size=24)
    | st.sampled_from(["\u200b", "\ufeff\u00ad", "\u3000\u2028", " a ", "x" * 10_001])
    | URLISH
    | st.binary(max_size=6)
    | st.lists(st.integers(), max_size=2)
    | st.builds(object)
)
GOOD_URL = st.sampled_from(
    ["https://cdn.test/a.png", "http://[::1]:8080/x", "https://h.test/\u00e9"]
)
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "aspect_ratio": st.sampled_from(luma_nb.models.ASPECT_RATIOS),
    "loop": st.booleans(),
    "enhancement": st.booleans(),
    "start_image_url": GOOD_URL,
    "end_image_url": GOOD_URL,
    "callback_url": GOOD_URL,
    "timeout": st.integers(1, 3600) | st.floats(0.5, 3600),
    "max_wait": st.integers(1, 3600) | st.floats(0.5, 3600),
    "on_update": st.just(print),
    "sync": st.just(False),
    "video_url": GOOD_URL,
    "action": st.just("generate"),
    "video_id": st.just("vid-1"),
}
FIELDS = {
    "generate": [n for n in GOOD if n not in ("video_url", "action", "video_id")],
    "extend": [n for n in GOOD if n not in ("action", "video_id")],
    "submit": [n for n in GOOD if n not in ("max_wait", "on_update")],
}


def _call(method: str, data: Any) -> tuple[Any, dict[str, Any]]:
    """Good values in a few fields, then at most one field (or the first argument) anything."""
    first: Any = "vid-1" if method == "extend" else "a fox in the snow"
    optional = {n: GOOD[n] for n in FIELDS[method]}
    kwargs = data.draw(st.fixed_dictionaries({}, optional=optional), label="good")
    bad = data.draw(st.sampled_from([None, "(first)", *FIELDS[method]]), label="bad field")
    if bad == "(first)":
        first = data.draw(ANYTHING, label="first")
    elif bad is not None:
        kwargs[bad] = data.draw(ANYTHING, label=bad)
    return first, kwargs


REQUEST_FUZZ = settings(
    FUZZ,
    max_examples=200,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture],
)


@REQUEST_FUZZ
@pytest.mark.parametrize("via", ["client", "helpers"])
@given(method=st.sampled_from(sorted(FIELDS)), data=st.data())
def test_requests_are_refused_or_encode_cleanly(
    tmp_path: Any, via: str, method: str, data: Any
) -> None:
    """Any value in any request field of Client.generate/extend/submit and of the helpers."""
    first, kwargs = _call(method, data)
    recorder = Recorder()
    client = _client(recorder, [0.0])
    if via == "helpers":
        luma_nb.use(client, luma_nb.SessionLog(tmp_path / "fuzz.jsonl"))
    try:
        target = luma_nb if via == "helpers" else client
        event(recorder.outcome(lambda: getattr(target, method)(first, **kwargs)))
    finally:
        luma_nb.notebook.reset()
        client.close()


# ----------------------------------------------------------------------------- session log


EVENT_KINDS = st.sampled_from(
    [
        *("submitting", "submitted", "update", "submit_failed", "media", "metrics", "rate"),
        *("note", "tag", "new"),
    ]
)
ROW_KEYS = st.sampled_from(
    [
        *("state", "task_id", "parent", "tags", "t", "rating", "prompt", "echoed_prompt"),
        *("width", "api_created_at", "api_finished_at", "api_elapsed", "video_url", "loop", "v"),
        *("metric_motion", "metric_cuts", "frames", "bitrate", "fps"),
    ]
)
EVENTS = st.lists(
    st.builds(
        lambda kind, iteration, payload: {**payload, "event": kind, "iteration": iteration},
        EVENT_KINDS,
        st.sampled_from(["it-1", "it-2", "it-3"]) | SCALARS,
        st.dictionaries(ROW_KEYS, SCALARS | WORDS | st.lists(SCALARS, max_size=2), max_size=5),
    ),
    max_size=10,
)


@FUZZ
@given(EVENTS)
def test_the_fold_survives_any_events(events: list[dict[str, Any]]) -> None:
    """Events a hand edit could make: wrong types in every column; nothing raises."""
    fold = Fold()
    fold.add_all(events)
    records = fold.records()
    for record in records:
        assert list(record) == list(COLUMNS)
        assert record["state"] is None or isinstance(record["state"], str)
        assert isinstance(record["tags"], list)
    values = fold.values()
    assert len(values) == len(records)
    pytest.importorskip("pandas")
    assert len(frame(values)) == len(records)


@settings(FUZZ, max_examples=40)
@given(st.lists(EVENTS.map(lambda e: [_dumps(x) for x in e]), max_size=3), st.binary(max_size=60))
def test_a_session_file_of_anything_loads(tmp_path_factory: Any, blocks: Any, junk: bytes) -> None:
    """Whatever lines a session file holds, SessionLog reads and folds what it can."""
    import warnings

    path = tmp_path_factory.mktemp("fuzz") / "session.jsonl"
    lines = [line for block in blocks for line in block]
    path.write_bytes(b"\n".join([*lines, junk]) + b"\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log = luma_nb.SessionLog(path)
        records = log.to_records()
        log.pending()
        for record in records:
            if isinstance(record["iteration"], str):
                log.lineage(record["iteration"])
        events, bad = parse_lines(path.read_bytes(), 1)
    assert all(isinstance(event, dict) for event in events)
    assert all(isinstance(n, int) for n in bad)
