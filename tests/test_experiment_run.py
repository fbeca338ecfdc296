"""compare_enhancement on the in-process simulator: pairs, explicit parameters, order, bound."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _experimenttools import RecordingTransport, make_client

import luma_nb
from luma_nb.errors import ValidationError
from luma_nb.experiment import Experiment, compare_enhancement
from luma_nb.experiment._plan import new_plan
from luma_nb.simulator import Simulator, VirtualClock

PROMPTS = ["a red kite over green hills", "a fox in the snow at dawn"]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=7)
    yield simulator
    simulator.close()


def _study(
    sim: Simulator, tmp_path: Path, name: str = "s", **kwargs: object
) -> tuple[Experiment, RecordingTransport, luma_nb.SessionLog]:
    transport = RecordingTransport(sim)
    client = make_client(sim, tmp_path, transport=transport)
    log = luma_nb.SessionLog(tmp_path / f"{name}.jsonl")
    kwargs.setdefault("seed", 11)
    study = compare_enhancement(
        kwargs.pop("prompts", PROMPTS), client=client, session=log, **kwargs
    )
    return study, transport, log


def test_every_prompt_runs_in_both_arms_for_every_repeat(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study, transport, log = _study(sim, tmp_path, repeats=2)
    rows = [row for row in log.to_records() if row["experiment"] == study.id]
    assert len(rows) == len(transport.bodies) == sim.stats.tasks_created == 2 * 2 * 2
    assert {row["state"] for row in rows} == {"completed"}
    pairs: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        pair = [tag for tag in row["tags"] if tag.startswith("pair:")]
        repeat = [tag for tag in row["tags"] if tag.startswith("repeat:")]
        assert len(pair) == 1 and len(repeat) == 1
        pairs.setdefault(pair[0], []).append(row)
        # The reviewer's columns stay free.
        assert row["rating"] is None and row["note"] is None
        assert row["media_path"] and Path(row["media_path"]).is_file()
    assert sorted(pairs) == [f"pair:{n}" for n in range(1, 5)]
    for members in pairs.values():
        assert sorted(r["arm"] for r in members) == ["off", "on"]
        assert len({r["prompt"] for r in members}) == 1
        for row in members:
            assert row["enhancement"] is (row["arm"] == "on")
    assert "experiment " + study.id in capsys.readouterr().out
    assert study.is_complete and study.counts() == {"completed": 8}


def test_common_parameters_are_sent_explicitly_and_identically(
    sim: Simulator, tmp_path: Path
) -> None:
    study, transport, log = _study(sim, tmp_path, aspect_ratio="9:16", loop=True)
    assert study.params == {"aspect_ratio": "9:16", "loop": True}
    for body in transport.bodies:
        # Every parameter of the study is in the body, not left to a server default.
        assert body["aspect_ratio"] == "9:16"
        assert body["loop"] is True
        assert body["enhancement"] in (True, False)
    common = {
        json.dumps(
            {k: v for k, v in b.items() if k not in ("prompt", "enhancement")}, sort_keys=True
        )
        for b in transport.bodies
    }
    assert len(common) == 1
    for row in log.to_records():
        assert (row["aspect_ratio"], row["loop"]) == ("9:16", True)
        assert row["enhancement"] is (row["arm"] == "on")


def test_defaults_are_filled_in_explicitly(sim: Simulator, tmp_path: Path) -> None:
    study, transport, _log = _study(sim, tmp_path, prompts=PROMPTS[:1])
    assert study.params == {"aspect_ratio": "16:9", "loop": False}
    assert all(b["aspect_ratio"] == "16:9" and b["loop"] is False for b in transport.bodies)


def test_the_order_follows_the_seed(sim: Simulator, tmp_path: Path) -> None:
    prompts = ["one", "two", "three"]

    def order(seed: int, name: str) -> list[tuple[str, bool]]:
        simulator = Simulator(clock=VirtualClock(), seed=1)
        try:
            study, transport, _ = _study(simulator, tmp_path, name, prompts=prompts, seed=seed)
        finally:
            simulator.close()
        sent = [(b["prompt"], b["enhancement"]) for b in transport.bodies]
        # What was sent is the plan's order, and the plan records its seed.
        planned = [(prompts[u.prompt_index], u.arm == "on") for u in study.plan().order]
        assert sent == planned and study.seed == seed
        return sent

    first = order(5, "a")
    assert order(5, "b") == first
    assert order(6, "c") != first
    assert sorted(first) == sorted((p, e) for p in prompts for e in (True, False))


def test_a_seed_is_drawn_and_recorded_when_none_is_given(tmp_path: Path) -> None:
    plan = new_plan(PROMPTS, repeats=1, concurrency=2, seed=None, params={})
    assert isinstance(plan.seed, int)
    again = new_plan(PROMPTS, repeats=1, concurrency=2, seed=plan.seed, params={})
    assert [(u.pair, u.arm) for u in again.order] == [(u.pair, u.arm) for u in plan.order]


@pytest.mark.parametrize("bound", [1, 2, 3])
def test_concurrency_bound_is_respected_and_slots_are_refilled(
    sim: Simulator, tmp_path: Path, bound: int
) -> None:
    prompts = ["one", "two", "three"]
    study, transport, _ = _study(sim, tmp_path, prompts=prompts, concurrency=bound)
    assert len(transport.bodies) == 6
    # Before each submit, fewer than `bound` earlier tasks were still running.
    assert max(transport.running) <= bound - 1
    assert study.last_run is not None and study.last_run.max_in_flight == bound
    if bound > 1:
        # Rolling, not in waves: a free slot is refilled while others still run.
        assert any(n >= 1 for n in transport.running[bound:])


def test_polling_is_batched(sim: Simulator, tmp_path: Path) -> None:
    _study(sim, tmp_path, prompts=["one", "two", "three"], concurrency=4)
    stats = sim.stats
    assert stats.batch_retrieves > 0
    assert stats.batch_retrieves > stats.retrieves


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"enhancement": True}, "enhancement"),
        ({"enhancement": False}, "enhancement"),
        ({"prompt": "x"}, "prompt"),
        ({"duration": 5}, "duration"),
        ({"aspect_ratio": "5:4"}, "aspect_ratio"),
        ({"repeats": 0}, "repeats"),
        ({"concurrency": 0}, "concurrency"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"max_wait": -3}, "max_wait"),
        ({"experiment_id": "has space"}, "experiment_id"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(
    sim: Simulator, tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    with pytest.raises(ValidationError) as info:
        compare_enhancement(PROMPTS, client=make_client(sim, tmp_path), session=log, **kwargs)
    assert info.value.field == field
    assert sim.stats.submits == 0
    assert not log.path.exists()


@pytest.mark.parametrize("prompts", ["a single string", [], ["ok", "  "], [3]])
def test_bad_prompts_are_refused(sim: Simulator, tmp_path: Path, prompts: object) -> None:
    with pytest.raises(ValidationError):
        compare_enhancement(
            prompts,  # type: ignore[arg-type]
            client=make_client(sim, tmp_path),
            session=luma_nb.SessionLog(tmp_path / "s.jsonl"),
        )
    assert sim.stats.submits == 0


def test_an_async_client_is_refused(sim: Simulator, tmp_path: Path) -> None:
    client = luma_nb.AsyncClient("t", base_url=sim.base_url, transport=sim.transport())
    with pytest.raises(ValidationError, match="blocking"):
        compare_enhancement(PROMPTS, client=client, session=tmp_path / "s.jsonl")  # type: ignore[arg-type]


def test_an_experiment_id_is_never_reused_in_a_log(sim: Simulator, tmp_path: Path) -> None:
    study, _, log = _study(sim, tmp_path, prompts=PROMPTS[:1], experiment_id="kites")
    assert study.id == "kites"
    with pytest.raises(ValidationError, match="already has"):
        compare_enhancement(
            PROMPTS, client=make_client(sim, tmp_path), session=log, experiment_id="kites"
        )


def test_defaults_are_the_kernel_client_and_session(sim: Simulator, tmp_path: Path) -> None:
    log = luma_nb.SessionLog(tmp_path / "kernel.jsonl")
    luma_nb.use(make_client(sim, tmp_path), log)
    try:
        study = compare_enhancement(PROMPTS[:1], seed=1)
    finally:
        luma_nb.notebook.reset()
    assert study.log is log
    assert len(log) == 2


def test_the_tidy_frame_has_one_row_per_video(sim: Simulator, tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    study, _, _ = _study(sim, tmp_path, repeats=2)
    frame = study.to_dataframe()
    assert len(frame) == 8
    assert list(frame.columns[:5]) == ["experiment", "pair", "repeat", "prompt_index", "arm"]
    assert sorted(frame.order) == list(range(1, 9))
    on = frame[frame.arm == "on"]
    off = frame[frame.arm == "off"]
    # The simulator's enhancement appends to the prompt; off echoes it unchanged.
    assert on.prompt_changed.all() and not off.prompt_changed.any()
    assert (on.edit_distance > 0).all() and (off.edit_distance == 0).all()
    assert ((on.edit_ratio > 0) & (on.edit_ratio < 1)).all()
    assert frame.elapsed.notna().all()
    assert frame.media_path.notna().all()
    assert str(frame.rating.dtype) == "Int64"


def test_failed_and_refused_videos_do_not_stop_the_study(tmp_path: Path) -> None:
    sim = Simulator(clock=VirtualClock(), seed=3, moderation_words=("forbidden-word",))
    try:
        with pytest.warns(luma_nb.experiment.ExperimentWarning, match="could not be submitted"):
            study, transport, _ = _study(
                sim, tmp_path, prompts=["a calm lake", "a forbidden-word scene"]
            )
    finally:
        sim.close()
    assert len(transport.bodies) == 4
    counts = study.counts()
    assert counts == {"completed": 2, "failed": 2}
    summary = study.summary()
    assert summary.on.success_rate == 0.5 and summary.off.success_rate == 0.5
