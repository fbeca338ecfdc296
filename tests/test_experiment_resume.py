"""Resuming a study after a kernel restart: nothing submitted twice, unknown outcomes reported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _experimenttools import RecordingTransport, make_client

import luma_nb
from luma_nb.errors import ValidationError
from luma_nb.experiment import (
    Experiment,
    ExperimentWarning,
    compare_enhancement,
    resume_experiment,
)
from luma_nb.models import VideoRequest
from luma_nb.simulator import Simulator, VirtualClock

PROMPTS = ["one lighthouse", "two lanterns", "three kites"]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=7)
    yield simulator
    simulator.close()


def _task_ids(log_path: Path) -> dict[str, str]:
    log = luma_nb.SessionLog(log_path)
    return {row["iteration"]: row["task_id"] for row in log.to_records() if row["task_id"]}


def test_a_timed_out_study_is_completed_without_resubmitting(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "s.jsonl"
    with pytest.warns(ExperimentWarning, match="gave up waiting"):
        study = compare_enhancement(
            PROMPTS,
            seed=4,
            concurrency=2,
            max_wait=5,
            client=make_client(sim, tmp_path),
            session=luma_nb.SessionLog(path),
        )
    counts = study.counts()
    assert counts.get("not_submitted") == 4
    assert sim.stats.tasks_created == 2
    before = _task_ids(path)

    # "Restart": a new client, a new SessionLog object over the same file.
    again = resume_experiment(study.id, client=make_client(sim, tmp_path), session=path)
    assert sim.stats.tasks_created == 6  # only the 4 never submitted
    assert sim.stats.submits == 6
    assert again.counts() == {"completed": 6}
    after = _task_ids(path)
    assert {it: after[it] for it in before} == before  # the running ones were re-attached
    assert len(set(after.values())) == 6
    # The plan survived: same seed, prompts, parameters, order.
    assert again.seed == 4 and again.prompts == tuple(PROMPTS)
    assert again.plan().order == study.plan().order
    assert again.params == study.params


def test_an_interrupted_study_resumes_after_a_restart(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    clock = sim.clock
    assert isinstance(clock, VirtualClock)
    naps = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt  # the user interrupts the kernel mid-wait
        clock.advance(seconds)

    with pytest.raises(KeyboardInterrupt):
        compare_enhancement(
            PROMPTS,
            seed=9,
            concurrency=3,
            client=make_client(sim, tmp_path, sleep=sleep),
            session=luma_nb.SessionLog(path),
            experiment_id="interrupted",
        )
    created = sim.stats.tasks_created
    assert created == 3
    log = luma_nb.SessionLog(path)
    assert len(log.pending()) == 3

    study = Experiment.load(path, "interrupted")
    assert study.counts() == {"not_submitted": 3, **_running(study)}
    study.complete(make_client(sim, tmp_path))
    assert sim.stats.tasks_created == 6
    assert study.is_complete
    # Every video was downloaded, including those finished while nobody was waiting.
    assert all(r["media_path"] and Path(r["media_path"]).is_file() for r in study.records())
    # A finished study resumes to nothing.
    study.complete(make_client(sim, tmp_path))
    assert sim.stats.tasks_created == 6


def _running(study: Experiment) -> dict[str, int]:
    counts = study.counts()
    counts.pop("not_submitted", None)
    assert sum(counts.values()) == 3
    assert set(counts) <= {"queued", "pending", "processing"}
    return counts


def test_unknown_outcomes_are_reported_never_resubmitted(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    transport = RecordingTransport(sim, lose_answers=(1,))
    with pytest.warns(ExperimentWarning, match="could not be submitted"):
        study = compare_enhancement(
            PROMPTS[:2],
            seed=2,
            client=make_client(sim, tmp_path, transport=transport),
            session=luma_nb.SessionLog(path),
        )
    assert sim.stats.tasks_created == 4  # the lost answer's task exists all the same
    [lost] = study.unresolved()
    assert lost["state"] == "outcome_unknown"
    assert study.counts() == {"completed": 3, "outcome_unknown": 1}

    log = luma_nb.SessionLog(path)
    with pytest.warns(ExperimentWarning, match="unknown submit outcome"):
        again = resume_experiment(study.id, client=make_client(sim, tmp_path), session=log)
    assert sim.stats.submits == 4 and sim.stats.tasks_created == 4
    assert [r["iteration"] for r in again.unresolved()] == [lost["iteration"]]
    summary = again.summary()
    assert summary.on.unresolved + summary.off.unresolved == 1


def test_a_row_begun_without_an_answer_is_not_resubmitted(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with pytest.warns(ExperimentWarning):
        study = compare_enhancement(
            PROMPTS[:1],
            seed=1,
            concurrency=1,
            max_wait=1,
            client=make_client(sim, tmp_path),
            session=luma_nb.SessionLog(path),
        )
    [never] = [r for r in study.records() if r["state"] == "not_submitted"]
    missing = study.plan().unit(never["pair"], never["arm"])
    # The kernel died after `begin` and before the POST's answer: only the begin is on disk.
    log = luma_nb.SessionLog(path)
    log.begin(
        study.plan().request(missing),
        backend="simulator",
        experiment=study.id,
        arm=missing.arm,
        tags=missing.tags(),
        iteration=missing.iteration(study.id),
    )
    with pytest.warns(ExperimentWarning, match="unknown submit outcome"):
        again = resume_experiment(study.id, client=make_client(sim, tmp_path), session=path)
    assert sim.stats.tasks_created == 1
    assert [r["iteration"] for r in again.unresolved()] == [missing.iteration(study.id)]


def test_resume_finds_the_study_in_the_default_folder(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    luma_nb.notebook.reset()  # a session another test opened elsewhere is not this kernel's
    luma_nb.use(make_client(sim, tmp_path))
    try:
        with pytest.warns(ExperimentWarning):
            study = compare_enhancement(PROMPTS[:1], seed=3, max_wait=1)
        first_log = study.log.path
        luma_nb.notebook.reset()  # the restart: a new default session file, not yet written
        luma_nb.use(make_client(sim, tmp_path))
        again = resume_experiment(study.id)
    finally:
        luma_nb.notebook.reset()
    assert again.log.path == first_log
    assert again.is_complete and sim.stats.tasks_created == 2
    with pytest.raises(ValidationError, match="no session log"):
        resume_experiment("exp-nothere")


def test_a_comparison_logged_by_hand_loads_from_its_rows(sim: Simulator, tmp_path: Path) -> None:
    log = luma_nb.SessionLog(tmp_path / "hand.jsonl")
    client = make_client(sim, tmp_path)
    for prompt in ("a", "b"):
        request = VideoRequest(prompt=f"prompt {prompt}", enhancement=True)
        it = log.begin(request, backend="simulator", experiment="byhand", arm="on")
        log.submitted(it, client.submit(request))
    request = VideoRequest(prompt="prompt a", enhancement=False)
    it = log.begin(request, backend="simulator", experiment="byhand", arm="off")
    log.submitted(it, client.submit(request))
    study = Experiment.load(log, "byhand")
    assert study.seed is None and study.prompts == ("prompt a", "prompt b")
    assert study.counts()["not_submitted"] == 1
    study.complete(client)
    assert sim.stats.tasks_created == 4
    assert study.is_complete
    [added] = [r for r in study.records() if r["prompt"] == "prompt b" and r["arm"] == "off"]
    assert added["enhancement"] is False and added["state"] == "completed"
