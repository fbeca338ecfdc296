"""The knobs behind the answer variants: ``Variants``, ``token_errors``, ``error=`` faults, sizes.

These check the simulator's own answers (through plain httpx); ``test_reliability_simulator.py``
checks that the luma_nb clients read each of them right.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
from _simtools import DONE, call, make_sim, retrieve, submit, submit_async
from hypothesis import given
from hypothesis import strategies as st

from luma_nb.simulator import FaultPlan, Simulator, Variants, parse_faults
from luma_nb.simulator._response import ERRORS
from luma_nb.simulator._sizes import SERVICE_SIZES, parse_video_size, task_size

_variants = st.builds(
    Variants,
    error_success=st.booleans(),
    error_string=st.booleans(),
    ack=st.sampled_from(["task_id", "trace", "success", "data", "id"]),
    ack_status=st.sampled_from([200, 202]),
    success_trace_id=st.booleans(),
    queued=st.sampled_from(["missing", "null", "state"]),
    running_state=st.sampled_from(["processing", "dreaming", "running"]),
    failed_state=st.sampled_from(["failed", "error", "cancelled", "canceled"]),
    top_level_state=st.booleans(),
    batch_count=st.sampled_from(["items", "total"]),
)


@given(_variants)
def test_variant_text_round_trips(variants: Variants) -> None:
    assert Variants.parse(variants.to_text()) == variants


@pytest.mark.parametrize(
    "text",
    ["nope=1", "ack=maybe", "ack_status=204", "queued=zero", "error_success=perhaps",
     "running_state=completed", "failed_state=processing", "running_state=failed", "ack"],
)  # fmt: skip
def test_bad_variant_text_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="variant"):
        Variants.parse(text)


def test_every_variant_knob_is_documented() -> None:
    import luma_nb.simulator as package
    from luma_nb.simulator import _variants
    from luma_nb.simulator.__main__ import _VARIANT_HELP

    for f in fields(Variants):
        assert f.name in (_variants.__doc__ or "")
        assert f.name in _VARIANT_HELP
        assert f.name in (package.__doc__ or "")


@pytest.mark.parametrize("success", [False, True])
@pytest.mark.parametrize("string", [False, True])
def test_error_envelopes_of_every_shape(success: bool, string: bool) -> None:
    sim, _ = make_sim(variants=Variants(error_success=success, error_string=string))
    body = submit("sync", sim, prompt="").json()
    assert ("success" in body) == success and body.get("success", False) is False
    assert (
        body["error"] == "prompt is required" if string else body["error"]["code"] == "bad_request"
    )
    assert isinstance(body["trace_id"], str)


def test_default_envelope_is_the_providers_published_shape() -> None:
    sim, _ = make_sim(accepted_tokens=["other"])
    body = submit("sync", sim, prompt="x").json()
    assert set(body) == {"error", "trace_id"}
    assert body["error"] == {"code": "invalid_token", "message": ERRORS["invalid_token"][1]}
    assert ERRORS["invalid_token"][1] == "The specified token is invalid or wrong."


@pytest.mark.parametrize(
    ("ack", "keys"),
    [("task_id", {"task_id"}), ("trace", {"task_id", "trace_id"}), ("id", {"id"}),
     ("success", {"success", "task_id", "trace_id"}), ("data", {"data", "trace_id"})],
)  # fmt: skip
def test_acknowledgement_shapes(ack: str, keys: set[str]) -> None:
    sim, _ = make_sim(variants=f"ack={ack},ack_status=202")
    response = submit("sync", sim, prompt="x", **{"async": True})
    assert response.status_code == 202
    assert set(response.json()) == keys
    (task_id,) = sim.tasks
    assert task_id in response.text


def test_record_shapes_over_a_tasks_life() -> None:
    variants = "queued=null,running_state=dreaming,top_level_state=true,success_trace_id=false"
    sim, clock = make_sim(variants=variants)
    task_id = submit_async(sim, prompt="x")
    queued = retrieve("sync", sim, task_id).json()
    assert queued["response"] is None and queued["state"] == "queued"
    clock.advance(30)
    running = retrieve("sync", sim, task_id).json()
    assert running["response"]["state"] == running["state"] == "dreaming"
    clock.advance(DONE)
    done = retrieve("sync", sim, task_id).json()
    assert done["state"] == "completed" and "trace_id" not in done["response"]
    assert "trace_id" in done  # the record's own trace id stays


def test_failed_word_and_string_error_in_records_and_sync_answers() -> None:
    sim, clock = make_sim(variants="failed_state=cancelled,error_string=true", task_failure_rate=1)
    sync = submit("sync", sim, prompt="x")
    assert sync.status_code == 500
    assert sync.json()["state"] == "cancelled" and isinstance(sync.json()["error"], str)
    task_id = submit_async(sim, prompt="y")
    clock.advance(DONE)
    response = retrieve("sync", sim, task_id).json()["response"]
    assert (response["state"], response["success"]) == ("cancelled", False)


def test_batch_count_total() -> None:
    sim, _ = make_sim(variants="batch_count=total")
    ids = [submit_async(sim, prompt=f"p{i}") for i in range(3)]
    body = call(
        "sync", sim, "POST", "/luma/tasks", json={"action": "retrieve_batch", "ids": ids[:1]}
    )
    assert (len(body.json()["items"]), body.json()["count"]) == (1, 3)


@pytest.mark.parametrize("code", ["token_mismatched", "token_expired", "disabled", "used_up"])
def test_token_errors_answer_the_code_on_both_endpoints(code: str) -> None:
    sim, _ = make_sim(token_errors={"bad-token": code})
    headers = {"authorization": "Bearer bad-token"}
    for path, body in (
        ("/luma/videos", {"prompt": "x"}),
        ("/luma/tasks", {"action": "retrieve", "id": "x"}),
    ):
        response = call("sync", sim, "POST", path, json=body, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (ERRORS[code][0], code)
    assert submit("sync", sim, prompt="x", **{"async": True}).status_code == 200  # other tokens
    with pytest.raises(ValueError, match="token_errors"):
        Simulator(token_errors={"t": "no_such_code"})


def test_error_fault_injects_any_code() -> None:
    (plan,) = parse_faults("error=1:disabled,on=tasks")
    assert (plan.error, plan.error_code) == (1.0, "disabled")
    assert FaultPlan.parse(plan.to_text()) == plan
    sim, _ = make_sim(faults=plan)
    task_id = submit_async(sim, prompt="x")  # videos untouched
    answer = retrieve("sync", sim, task_id)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "disabled")
    assert sim.stats.faults["error_disabled"] == 1
    for bad in ("error=1", "error=1:nope", "error=2:disabled"):
        with pytest.raises(ValueError):
            parse_faults(bad)


def test_error_fault_keeps_the_other_fault_sequences() -> None:
    def outcomes(faults: str) -> list[Any]:
        sim, _ = make_sim(faults=faults, seed=3)
        return [submit("sync", sim, prompt="x", **{"async": True}).status_code for _ in range(40)]

    assert outcomes("5xx=0.3") == outcomes("5xx=0.3;error=0.0:token_expired")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("compact", "compact"), ("SERVICE", "service"), ("96x64", (96, 64)),
     ((1360, 752), (1360, 752)), ("640\u00d7360", (640, 360))],
)  # fmt: skip
def test_video_size_values(value: Any, expected: Any) -> None:
    assert parse_video_size(value) == expected


@pytest.mark.parametrize(
    "value", ["big", "95x64", "8x8", "5000x64", (96,), (96.0, 64.0), (True, 64), "x64", 7]
)
def test_bad_video_sizes(value: Any) -> None:
    with pytest.raises(ValueError, match="video s"):
        parse_video_size(value)


def test_service_sizes_follow_the_spec() -> None:
    assert task_size("service", "16:9", keyframed=False) == (1360, 752)
    assert task_size("service", "16:9", keyframed=True) == (1552, 656)
    for ratio, (width, height) in SERVICE_SIZES.items():
        w, h = (int(x) for x in ratio.split(":"))
        assert width / height == pytest.approx(w / h, rel=0.02)
        assert width % 16 == 0 and height % 16 == 0


def test_reported_size_is_the_served_size_even_when_keyframes_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("av")
    from luma_nb.simulator import _media

    real = _media.render_clip

    def picky(spec: Any) -> Any:
        if spec.start_image is not None:
            raise ValueError("undecodable")
        return real(spec)

    monkeypatch.setattr(_media, "render_clip", picky)
    sim, clock = make_sim(video_size="96x64")
    first = submit_async(sim, prompt="first")
    clock.advance(DONE)
    thumb = sim.record(first)["response"]["thumbnail_url"]
    second = submit_async(sim, prompt="second", start_image_url=thumb)
    clock.advance(DONE)
    clip = sim.clip(second)
    assert clip.rendered and (clip.width, clip.height) == (96, 64)
    response = sim.record(second)["response"]
    assert (response["video_width"], response["video_height"]) == (96, 64)
