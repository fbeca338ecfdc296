"""Any bad input is a 400 ``bad_request`` (a huge body a 413), never a 500.

Sweeps of known-bad bodies and of every field with every wrong type, a sweep of valid bodies
with one field spoiled, and random JSON (and bytes) bodies from Hypothesis, all through the
in-process transport; the 413 also over the loopback server.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest
from _simtools import TOKEN, call, data_url, make_sim, png_bytes, submit
from hypothesis import given, settings
from hypothesis import strategies as st

from luma_nb.simulator import Simulator, SimulatorServer, VirtualClock
from luma_nb.simulator._response import ERRORS

# -- sweeps --------------------------------------------------------------------------


DEEP = b'{"prompt": "x", "k": ' + b"[" * 40 + b"]" * 40 + b"}"
BAD_BODIES = [
    b'{"prompt": "x", "timeout": 1e308}',
    b'{"prompt": "x", "timeout": 1' + b"0" * 400 + b"}",
    b'{"prompt": "x", "timeout": -1}',
    b'{"prompt": "x", "timeout": 3601}',
    b'{"prompt": "x", "timeout": NaN}',
    b'{"prompt": "x", "timeout": Infinity}',
    b'{"prompt": "x", "timeout": "NaN"}',
    b'{"prompt": "x", "timeout": "1e3"}',
    b'{"prompt": "x", "k": 1' + b"0" * 5000 + b"}",
    b'{"prompt": "\\ud800"}',
    b'{"prompt": "x\\udfff y", "async": true}',
    b'{"prompt": "x", "\\udc00": 1}',
    b'{"action": "retrieve", "id": "\\ud800"}',
    b"\xff\xfe{}",
    b'{"prompt": "caf\xe9"}',
    b"\xef\xbb\xbf{}",
    DEEP,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"prompt": "x", "callback_url": "http://[::1"}',
    b'{"prompt": "x", "callback_url": "http://h:99999/"}',
    b'{"prompt": "x", "start_image_url": "http://[zz]/"}',
    b'{"action": ' + b'"x' * 10_000 + b'"}',
    b"null",
    b'"text"',
    b"",
]


@pytest.mark.parametrize("path", ["/luma/videos", "/luma/tasks"])
@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_bodies_are_400(path: str, body: bytes) -> None:
    sim, _ = make_sim()
    response = call("sync", sim, "POST", path, content=body)
    assert response.status_code == 400, response.text[:300]
    envelope = response.json()
    assert set(envelope) == {"error", "trace_id"}
    assert envelope["error"]["code"] in ("bad_request", "api_not_implemented")
    assert 0 < len(envelope["error"]["message"]) < 400
    assert sim.stats.tasks_created == 0


WRONG = [1, 1.5, -7, True, False, [], {}, ["x"], {"a": 1}, "text"]
TYPED = {
    "action": "string", "prompt": "string", "aspect_ratio": "string", "video_id": "string",
    "video_url": "string", "start_image_url": "string", "end_image_url": "string",
    "callback_url": "string", "loop": "boolean", "enhancement": "boolean", "async": "boolean",
    "timeout": "number",
}  # fmt: skip


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


@pytest.mark.parametrize("field", sorted(TYPED))
def test_wrong_types_in_every_field_are_400(field: str) -> None:
    sim, _ = make_sim()
    for value in WRONG:
        if json_type(value) == TYPED[field] and not (field == "timeout" and value == -7):
            continue  # the right type (a negative timeout is still wrong)
        response = submit("sync", sim, **{"prompt": "x", "async": True, field: value})
        assert response.status_code == 400, (field, value, response.text)
        assert set(response.json()) == {"error", "trace_id"}
        assert response.json()["error"]["code"] in ("bad_request", "api_not_implemented")
    for body in ({"action": "retrieve_batch", "ids": WRONG}, {"action": "retrieve", "id": WRONG}):
        assert call("sync", sim, "POST", "/luma/tasks", json=body).status_code == 400
    assert sim.stats.tasks_created == 0


def test_huge_bodies_are_413_on_both_faces() -> None:
    sim, _ = make_sim()
    huge = b'{"prompt": "' + b"a" * (32 * 1024 * 1024) + b'"}'
    response = call("sync", sim, "POST", "/luma/videos", content=huge)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "request_too_large")
    with (
        SimulatorServer(sim) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
    ):
        raw.sendall(b"POST /luma/videos HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):  # the server closes after a 413
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert set(json.loads(answer.split(b"\r\n\r\n", 1)[1])) == {"error", "trace_id"}


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_surrogates = st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2
)
_json = st.recursive(
    _scalars | _surrogates,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_PICKS: dict[str, list[Any]] = {
    "action": ["generate", "extend", "retrieve", "retrieve_batch", "nope"],
    "prompt": ["a fox", "", "nsfw", "\ud800"],
    "timeout": [1e308, 10**400, -1, 0, 1e-9, 30, 3600, "NaN", float("nan")],
    "async": [True, False, "true"],
    "callback_url": ["http://127.0.0.1:9/cb", "http://10.0.0.1/", "http://[::1", "ftp://x/"],
    "start_image_url": ["http://192.168.0.1/a.png", data_url(b"junk"), "data:,", "http://h:0/"],
    "video_id": ["nope", 5], "ids": [["a", "b"], [1], "a"], "id": ["x", None, 3],
    "aspect_ratio": ["16:9", "2:1", 7], "loop": [True, "no"], "enhancement": [False, 0],
}  # fmt: skip
# Mostly valid bodies with one to three fields spoiled reach the deep paths (holds, fetches,
# callbacks, echoes); wholly random JSON and bytes cover the parser.
VALID: list[dict[str, Any]] = [
    {"prompt": "a fox", "async": True},
    {"prompt": "a fox"},
    {"action": "retrieve", "id": "x"},
    {"action": "retrieve_batch", "ids": ["x"]},
]
_valid = st.sampled_from(VALID)
_spoiled = st.lists(st.sampled_from(sorted(_PICKS)), min_size=1, max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: st.sampled_from(_PICKS[k]) | _json for k in keys})
)
_bodies = st.one_of(
    st.tuples(_valid, _spoiled).map(lambda pair: json.dumps({**pair[0], **pair[1]}).encode()),
    _json.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=64),
)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(["/luma/videos", "/luma/tasks"]), body=_bodies)
def test_random_bodies_never_get_a_500(path: str, body: bytes) -> None:
    _post_and_check(path, body)


@pytest.mark.parametrize("key", sorted(_PICKS))
def test_each_spoiled_field_of_each_valid_body_is_no_500(key: str) -> None:
    for base in VALID:
        for value in _PICKS[key]:
            for path in ("/luma/videos", "/luma/tasks"):
                _post_and_check(path, json.dumps({**base, key: value}).encode())


def _post_and_check(path: str, body: bytes) -> None:
    sim = Simulator(
        clock=VirtualClock(),
        image_fetcher=lambda url: png_bytes((1, 2, 3)),
        callback_transport=httpx.MockTransport(lambda r: httpx.Response(200)),
    )
    try:
        with httpx.Client(transport=sim.transport(), base_url=sim.base_url) as http:
            response = http.post(path, content=body, headers={"authorization": f"Bearer {TOKEN}"})
        answer = response.json()
        if response.status_code >= 400:
            assert set(answer) == {"error", "trace_id"}, answer
            code = answer["error"]["code"]
            assert ERRORS[code][0] == response.status_code
            assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]
            assert response.status_code < 500 or code == "timeout"  # a sync hold may time out
        elif path == "/luma/videos":
            assert isinstance(answer.get("task_id"), str), answer  # an ack or a finished task
        else:
            assert "items" in answer or "id" in answer, answer
    finally:
        sim.close()
