"""``failed`` or ``outcome_unknown``: only a definite refusal is logged as ``failed``.

The attack: a submit error that does not prove the request was refused — a server-side code
(``timeout``, ``api_error``, ``busy``) in a 200 or a 400 answer, a code nobody knows, an
interrupt in the middle of the POST, a foreign exception — logged as ``failed`` tells the
user (and ``resume_experiment``) that nothing was billed, and invites a second, paid submit.
Every error is built the way the client builds it from the server's answer, over any status
and any code; and end to end through the simulator's error table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _experimenttools import make_client
from hypothesis import given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb import _iteration, _wire
from luma_nb._session_fold import error_payload
from luma_nb.errors import (
    REFUSAL_CODES,
    ConfigError,
    GenerationFailedError,
    LumaError,
    ServerError,
    SubmitOutcomeUnknownError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
)
from luma_nb.models import Task, TaskError, TaskState, VideoRequest
from luma_nb.session_log import SessionLog
from luma_nb.simulator import Simulator, VirtualClock

SERVER_SIDE = ("timeout", "api_error", "busy")
KNOWN_CODES = (*sorted(REFUSAL_CODES), *SERVER_SIDE)
STATUSES = st.sampled_from([200, 400, 401, 403, 404, 413, 429, 500, 502, 503, 504]) | (
    st.integers(100, 599)
)
CODES = st.sampled_from([*KNOWN_CODES, "unknown", "", "Timeout", "overloaded"]) | st.text(
    max_size=12
)


def _expected(status: int, error: LumaError) -> str:
    """The rule, written from the spec rather than from the implementation."""
    code = getattr(error, "code", None)
    if code in SERVER_SIDE:
        return "outcome_unknown"  # a server-side failure proves nothing, whatever the status
    if code in REFUSAL_CODES:
        return "failed"
    if 400 <= status < 500:
        return "failed"  # a 4xx whose code we do not know (or none): the request was refused
    return "outcome_unknown"  # a 2xx, 3xx or 5xx with an unknown code proves nothing


@settings(max_examples=300, deadline=None)
@given(status=STATUSES, code=CODES, shape=st.sampled_from(["object", "string", "none"]))
def test_a_failed_state_needs_a_definite_refusal(status: int, code: str, shape: str) -> None:
    error_body: object = {"code": code, "message": "went wrong"}
    if shape == "string":
        error_body = code
    body = {"error": error_body, "trace_id": "trace-x"} if shape != "none" else {"detail": "?"}
    error = _wire.error_from_answer(status, json.dumps(body).encode(), {})
    payload = error_payload(error)
    assert payload["state"] == _expected(status, error), (status, code, error)
    assert payload["error_type"] == type(error).__name__
    # The same error after the client's own verdict that the outcome is unknown.
    wrapped = SubmitOutcomeUnknownError("maybe", cause=error, status_code=status, code=code)
    assert error_payload(wrapped)["state"] == "outcome_unknown"


@pytest.mark.parametrize("status", [200, 400, 403, 500, 504])
@pytest.mark.parametrize("code", SERVER_SIDE)
def test_server_side_codes_are_never_failed(status: int, code: str) -> None:
    """The headline case: a 200 or a 400 answer that carries ``timeout``/``api_error``."""
    body = json.dumps({"error": {"code": code, "message": "upstream"}}).encode()
    error = _wire.error_from_answer(status, body, {})
    assert error_payload(error)["state"] == "outcome_unknown"


class Foreign(Exception):
    pass


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


@pytest.mark.parametrize(
    ("error", "state"),
    [
        (ConfigError("no token"), "failed"),
        (ValidationError("bad prompt", field="prompt"), "failed"),
        (TransportError("connection refused before sending"), "failed"),
        (KeyboardInterrupt(), "outcome_unknown"),
        (SystemExit(1), "outcome_unknown"),
        (GeneratorExit(), "outcome_unknown"),
        (asyncio.CancelledError(), "outcome_unknown"),
        (MemoryError(), "outcome_unknown"),
        (httpx.ReadTimeout("read timed out"), "outcome_unknown"),
        (OSError(104, "connection reset"), "outcome_unknown"),
        (RuntimeError("anything else"), "outcome_unknown"),
        (Foreign(), "outcome_unknown"),
        (Unprintable(), "outcome_unknown"),
        (LumaError("a luma_nb error of no known kind"), "outcome_unknown"),
        (ServerError("gateway", status_code=502, code="unknown"), "outcome_unknown"),
        (WaitTimeoutError(["t-1"], waited=5.0), "outcome_unknown"),
        (
            GenerationFailedError(
                Task(id="t-1", state=TaskState.FAILED, error=TaskError("api_error", "x"))
            ),
            "outcome_unknown",
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else value,
)
def test_errors_that_are_not_refusals(tmp_path: Path, error: BaseException, state: str) -> None:
    log = SessionLog(tmp_path / "s.jsonl")
    iteration = log.begin(VideoRequest(prompt="a fox"), backend="api")
    log.submit_failed(iteration, error)
    row = log.row(iteration)
    assert row["state"] == state
    assert row["error_type"] == type(error).__name__
    assert isinstance(row["error_message"], str)
    assert log.pending() == []


# ----------------------------------------------------------------------------- end to end


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[list[Simulator]]:
    made: list[Simulator] = []
    yield made
    for simulator in made:
        simulator.close()


@pytest.mark.parametrize("code", KNOWN_CODES)
def test_the_simulators_error_table_end_to_end(
    tmp_path: Path, sim_factory: list[Simulator], code: str
) -> None:
    """Each error of the spec's table, answered to a real submit, logged as the rule says."""
    sim = Simulator(clock=VirtualClock(), seed=1, faults=f"error=1:{code}")
    sim_factory.append(sim)
    client = make_client(sim, tmp_path)
    log = SessionLog(tmp_path / "s.jsonl")
    request = VideoRequest(prompt="a lighthouse")
    iteration = log.begin(request, backend="simulator")
    with pytest.raises(LumaError) as caught:
        _iteration.submit(log, iteration, request, client.submit)
    row = log.row(iteration)
    expected = "failed" if code in REFUSAL_CODES else "outcome_unknown"
    assert row["state"] == expected, (code, caught.value)
    if expected == "failed":
        assert sim.stats.tasks_created == 0  # the rule's promise: a refusal bills nothing


def test_docs_state_the_rule() -> None:
    text = (Path(__file__).parent.parent / "docs" / "session-log.md").read_text()
    assert "proves_nothing_billed" in text
    assert "whatever the HTTP status" in text
    assert luma_nb.errors.proves_nothing_billed.__doc__
