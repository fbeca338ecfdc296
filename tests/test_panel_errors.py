"""The panel's errors read as sentences, with the trace id, never as a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import luma_nb
from luma_nb.config import PollPolicy
from luma_nb.panel._messages import human_message
from tests._paneltools import Rig, all_html, async_test, state_text, until


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


def _rig(tmp: Path, **sim_options: Any) -> Rig:
    return Rig(tmp, sim_options=sim_options)


@pytest.fixture
def closing() -> Iterator[list[Rig]]:
    rigs: list[Rig] = []
    yield rigs
    for rig in rigs:
        rig.close()


CASES = {
    # name: (simulator options, client options, prompt, error class, words, log state)
    "moderation": (
        {},
        {},
        "some gore on the floor",
        luma_nb.ModerationError,
        "moderation",
        "failed",
    ),
    "balance": (
        {"credits": 0},
        {},
        "a calm lake",
        luma_nb.InsufficientBalanceError,
        "balance",
        "failed",
    ),
    "generation": (
        {"task_failure_rate": 1.0},
        {},
        "a doomed attempt",
        luma_nb.GenerationFailedError,
        "failed on the server",
        "failed",
    ),
    "token": (
        {"accepted_tokens": ["the-right-token"]},
        {},
        "a locked door",
        luma_nb.AuthenticationError,
        "token",
        "failed",
    ),
    "outcome": (
        {"faults": "5xx=1:1:500,on=videos"},
        {},
        "a lost request",
        luma_nb.SubmitOutcomeUnknownError,
        "check the task list before resubmitting",
        "outcome_unknown",
    ),
    "wait": (
        {},
        {"poll": PollPolicy(initial=1.0, maximum=2.0, max_wait=10.0, adaptive=False)},
        "a very long wait",
        luma_nb.WaitTimeoutError,
        "Stopped waiting",
        "queued",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@async_test
async def test_each_error_gets_its_own_sentence(tmp: Path, closing: list[Rig], case: str) -> None:
    sim_options, client_options, prompt, error_type, words, log_state = CASES[case]
    rig = _rig(tmp, **sim_options)
    closing.append(rig)
    panel = rig.panel(rig.client(**client_options))
    panel.prompt.value = prompt
    panel.generate_button.click()
    job = panel.jobs[-1]
    assert await job.future is None  # a failed job ends quietly: no exception escapes
    assert isinstance(job.error, error_type), job.error
    assert words.lower() in job.message.lower()
    assert "Traceback" not in job.message and "Traceback" not in all_html(panel.widget)
    trace = getattr(job.error, "trace_id", None)
    if case != "wait":
        assert trace, "the simulator answers with a trace id"
        assert trace in job.message
    expected_state = {"outcome": "outcome_unknown", "wait": "timed_out"}.get(case, "failed")
    assert job.state == expected_state and state_text(job) == expected_state
    assert job.message in all_html(job.row) or "luma-nb-error" in all_html(job.row)
    [row] = rig.log.to_records()
    if case == "wait":
        assert row["state"] not in ("completed", "failed") and rig.log.pending()
    else:
        assert row["state"] == log_state
    assert not panel.results.cards


@async_test
async def test_sync_timeout_says_the_task_may_go_on(tmp: Path, closing: list[Rig]) -> None:
    rig = _rig(tmp)
    closing.append(rig)
    panel = rig.panel()
    panel.prompt.value = "a long sync hold"
    panel.mode.value = "sync"
    panel.api_timeout.value = "30"
    job = panel.submit()
    await job.future
    assert job.state == "outcome_unknown"
    assert "timeout" in job.message and "outcome_unknown" in job.message
    assert rig.log.to_records()[0]["state"] == "outcome_unknown"


@async_test
async def test_rate_limit(tmp: Path, closing: list[Rig]) -> None:
    rig = _rig(tmp, rate_limit=(1, 3600))
    closing.append(rig)
    panel = rig.panel(rig.client(max_retries=0))
    panel.prompt.value = "first"
    first = panel.submit()
    await until(lambda: first.task_id is not None)
    first.cancel()  # its polls would be limited too; only the submits matter here
    second = panel.submit()
    await second.future
    assert isinstance(second.error, luma_nb.RateLimitError)
    assert "Too many requests" in second.message
    assert second.error.trace_id is None or second.error.trace_id in second.message


def test_messages_of_other_errors() -> None:
    assert human_message(ValueError("boom")) == "ValueError: boom"
    assert human_message(RuntimeError()) == "RuntimeError"
    long = human_message(RuntimeError("x" * 1000))
    assert len(long) <= 300
    error = luma_nb.APITimeoutError(
        "held too long", status_code=504, code="timeout", trace_id="t-1"
    )
    text = human_message(error)
    assert "timeout" in text and "t-1" in text
    server = luma_nb.ServerError("busy", status_code=503, code="busy", trace_id="t-2")
    assert "server error" in human_message(server) and "t-2" in human_message(server)
    mismatch = luma_nb.TokenMismatchError("no", status_code=400, code="token_mismatched")
    assert "not allowed to call the Luma API" in human_message(mismatch)
    limited = luma_nb.RateLimitError("slow down", retry_after=12)
    assert "Wait 12 s" in human_message(limited)
    assert "Could not reach" in human_message(luma_nb.TransportError("refused"))
