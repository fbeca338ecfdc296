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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb import _wire
from luma_nb._session_fold import COLUMNS, Fold, frame, parse_lines
from luma_nb.config import PollPolicy
from luma_nb.errors import APIError, LumaError
from luma_nb.models import Task, TaskState, Video

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CLIENT_FUZZ = settings(FUZZ, max_examples=40)

# Keys the parsers look at (so their branches run), and a few of anything else.
API_KEYS = st.sampled_from(
    [
        "id",
        "_id",
        "task_id",
        "trace_id",
        "state",
        "success",
        "error",
        "code",
        "message",
        "detail",
        "response",
        "request",
        "video_url",
        "video_id",
        "video_width",
        "video_height",
        "thumbnail_url",
        "prompt",
        "created_at",
        "started_at",
        "finished_at",
        "elapsed",
        "data",
        "items",
        "count",
        "api_id",
    ]
)
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([10**400, -(10**400), 2**1024])  # beyond any float
    | st.floats(allow_nan=True, allow_infinity=True)
)
WORDS = st.sampled_from(
    ["completed", "failed", "pending", "processing", "queued", "dreaming", "error", ""]
)
TEXT = st.text(max_size=16) | WORDS | st.sampled_from(["http://x/v.mp4", "\ud800", "0", "1e999"])
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(API_KEYS | st.text(max_size=5), children)
    ),
    max_leaves=10,
)
OBJECTS = st.dictionaries(API_KEYS | st.text(max_size=5), JSON, max_size=7)


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
@given(OBJECTS)
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
    video = Video.from_response(body)
    if video is not None:
        assert isinstance(video.video_url, str) and video.video_url
        for number in (video.width, video.height, video.thumbnail_width):
            assert number is None or isinstance(number, int)
        repr(video)
    task_id, trace_id = _wire.parse_ack(body)
    assert task_id is None or (isinstance(task_id, str) and task_id)
    assert trace_id is None or isinstance(trace_id, str)
    assert isinstance(_wire.is_error_envelope(body), bool)


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
POLL = PollPolicy(initial=1.0, factor=2.0, maximum=4.0, max_wait=20.0)


def _client(script: Script, now: list[float]) -> luma_nb.Client:
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


# ----------------------------------------------------------------------------- session log


EVENT_KINDS = st.sampled_from(
    ["submitting", "submitted", "update", "submit_failed", "media", "rate", "note", "tag", "new"]
)
ROW_KEYS = st.sampled_from(
    [
        *("state", "task_id", "parent", "tags", "t", "rating", "prompt", "echoed_prompt"),
        *("width", "api_created_at", "api_finished_at", "api_elapsed", "video_url", "loop", "v"),
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
