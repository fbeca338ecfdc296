"""Callbacks: POSTed from a background thread when a task ends, retried after failures."""

from __future__ import annotations

import httpx
import pytest
from _simtools import DONE, CallbackRecorder, callback_receiver, make_sim, submit

HOOK = "http://127.0.0.1:9/luma"  # loopback: the only callbacks the simulator makes by default


def test_callback_delivers_the_success_body() -> None:
    recorder = CallbackRecorder()
    sim, clock = make_sim(callback_transport=recorder.transport())
    try:
        ack = submit("sync", sim, prompt="a comet", callback_url=HOOK).json()
        assert sim.flush_callbacks(1.0) is False  # not over yet
        assert recorder.received == []
        clock.advance(DONE)
        assert sim.flush_callbacks(5.0) is True
        ((url, body),) = recorder.received
        assert url == HOOK
        assert body == sim.record(ack["task_id"])["response"]
        assert body["success"] is True
        assert body["task_id"] == ack["task_id"]
        (delivery,) = sim.callbacks
        assert (delivery.task_id, delivery.attempts, delivery.status) == (
            ack["task_id"],
            1,
            "delivered",
        )
        assert delivery.status_code == 200
        assert sim.stats.callbacks_delivered == 1
    finally:
        sim.close()


def test_failed_tasks_are_called_back_with_the_failure_body() -> None:
    recorder = CallbackRecorder()
    sim, clock = make_sim(callback_transport=recorder.transport(), task_failure_rate=1.0)
    try:
        task_id = submit("sync", sim, prompt="x", callback_url=HOOK).json()["task_id"]
        clock.advance(DONE)
        assert sim.flush_callbacks(5.0)
        ((_, body),) = recorder.received
        assert body["success"] is False
        assert body["task_id"] == task_id
        assert body["error"]["code"] == "api_error"
    finally:
        sim.close()


def test_callbacks_are_retried_with_backoff() -> None:
    recorder = CallbackRecorder(statuses=[500, 503])
    sim, clock = make_sim(
        callback_transport=recorder.transport(), callback_retry_delays=(1.0, 2.0, 4.0)
    )
    try:
        submit("sync", sim, prompt="x", callback_url=HOOK, **{"async": True})
        clock.advance(DONE)
        assert sim.flush_callbacks(5.0) is False  # the first attempt failed: retry in 1 s
        assert sim.callbacks[0].attempts == 1
        assert sim.callbacks[0].status_code == 500
        clock.advance(1.0)
        assert sim.flush_callbacks(5.0) is False  # failed again: retry in 2 s
        clock.advance(1.0)
        assert sim.flush_callbacks(0.2) is False  # not due yet
        assert sim.callbacks[0].attempts == 2
        clock.advance(1.0)
        assert sim.flush_callbacks(5.0) is True
        (delivery,) = sim.callbacks
        assert (delivery.attempts, delivery.status, delivery.status_code) == (3, "delivered", 200)
        assert len(recorder.received) == 3
        assert recorder.received[0] == recorder.received[2]  # duplicates carry the same body
    finally:
        sim.close()


def test_callbacks_give_up_after_the_last_attempt() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sim, clock = make_sim(
        callback_transport=httpx.MockTransport(refuse), callback_retry_delays=(0.5,)
    )
    try:
        submit("sync", sim, prompt="x", callback_url=HOOK, **{"async": True})
        clock.advance(DONE)
        sim.flush_callbacks(5.0)
        clock.advance(0.5)
        assert sim.flush_callbacks(5.0) is True
        (delivery,) = sim.callbacks
        assert (delivery.attempts, delivery.status) == (2, "failed")
        assert delivery.error is not None
        assert "ConnectError" in delivery.error
        assert sim.stats.callbacks_failed == 1
    finally:
        sim.close()


def test_a_slow_receiver_never_blocks_the_api() -> None:
    import threading

    gate = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        gate.wait(5)
        return httpx.Response(200)

    sim, clock = make_sim(callback_transport=httpx.MockTransport(hang))
    try:
        submit("sync", sim, prompt="x", callback_url=HOOK)
        clock.advance(DONE)
        sim.flush_callbacks(0.1)  # delivery is now in flight and hanging
        response = submit("sync", sim, prompt="still served", **{"async": True})
        assert response.status_code == 200
        gate.set()
        assert sim.flush_callbacks(5.0)
    finally:
        gate.set()
        sim.close()


def test_stuck_tasks_are_never_called_back() -> None:
    recorder = CallbackRecorder()
    sim, clock = make_sim(callback_transport=recorder.transport(), faults="stuck=1")
    try:
        submit("sync", sim, prompt="x", callback_url=HOOK)
        clock.advance(10_000)
        assert sim.flush_callbacks(0.2) is False
        assert recorder.received == []
        assert sim.callbacks[0].status == "waiting"
    finally:
        sim.close()


def test_callback_over_real_http_on_loopback() -> None:
    sim, clock = make_sim()
    try:
        with callback_receiver() as (url, wait):
            task_id = submit("sync", sim, prompt="x", callback_url=url).json()["task_id"]
            clock.advance(DONE)
            assert sim.flush_callbacks(5.0)
            (body,) = wait(5.0)
            assert body["task_id"] == task_id
            assert body["state"] == "completed"
    finally:
        sim.close()


def test_close_stops_the_dispatcher() -> None:
    sim, _ = make_sim(callback_transport=CallbackRecorder().transport())
    submit("sync", sim, prompt="x", callback_url=HOOK)
    thread = sim._dispatcher._thread
    assert thread is not None
    assert thread.is_alive()
    sim.close()
    thread.join(2)
    assert not thread.is_alive()


@pytest.mark.parametrize("url", ["http://localhost:9/x", HOOK])
def test_callback_url_is_recorded_in_the_request(url: str) -> None:
    sim, _ = make_sim(callback_transport=CallbackRecorder().transport())
    try:
        task_id = submit("sync", sim, prompt="x", callback_url=url).json()["task_id"]
        assert sim.record(task_id)["request"]["callback_url"] == url
        assert sim.callbacks[0].url == url
    finally:
        sim.close()
