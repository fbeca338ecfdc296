"""Two processes, one iteration: the session log claims an iteration id once, across processes.

The attack: two kernels (or two ``resume_experiment`` calls) begin the same fixed iteration id
at the same instant. A read-then-append under two separate locks lets both pass the check and
both submit — a planned video billed twice. ``begin`` re-reads the file and appends under one
exclusive lock, so exactly one wins and the other gets :class:`IterationExistsError` having
written (and submitted) nothing.

Real processes, released together by a barrier, many rounds; every process is joined (and
killed by its own handle if it hangs).
"""

from __future__ import annotations

import json
import multiprocessing
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _experimenttools import make_client

import luma_nb
from luma_nb.errors import ValidationError
from luma_nb.experiment import Experiment, ExperimentWarning, compare_enhancement
from luma_nb.experiment._plan import new_plan, write_plan
from luma_nb.models import VideoRequest
from luma_nb.session_log import IterationExistsError, SessionLog
from luma_nb.simulator import Simulator, SimulatorServer, VirtualClock

ROUNDS = 30
WORKERS = 3
IDS = ("clip-a", "clip-b", "clip-c", "clip-d")
STUDY_ROUNDS = 8
PROMPTS = ["a lighthouse at dusk", "a kite over dunes"]


# ----------------------------------------------------------------------------- helpers


def _start(target: Any, args_of: Any, count: int) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=target, args=args_of(n), daemon=True) for n in range(count)]
    for process in processes:
        process.start()
    return processes


def _collect(processes: list[Any], results: Any, count: int) -> list[Any]:
    """Each worker's result (read before joining: a full pipe would block its exit)."""
    import queue

    try:
        collected: list[Any] = []
        for _ in range(600):  # at most a minute per worker
            try:
                collected.append(results.get(timeout=0.1 * count))
            except queue.Empty:
                # A worker that died will never answer: fail now, not at the timeout.
                dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                assert not dead, f"a worker died (exit codes {dead}); see its stderr"
            if len(collected) == count:
                break
        assert len(collected) == count, "the workers did not finish in time"
        for process in processes:
            process.join(timeout=60)
        assert [p.exitcode for p in processes] == [0] * len(processes)
        return collected
    finally:
        for process in processes:  # by handle: only the processes this test started
            if process.is_alive():
                process.kill()
            process.join(5)


def _submitting_events(path: Path) -> Counter[str]:
    lines = path.read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    return Counter(e["iteration"] for e in events if e["event"] == "submitting")


# ----------------------------------------------------------------------------- begin


def _claim_worker(folder: str, worker: int, barrier: Any, results: Any) -> None:
    outcomes: list[tuple[int, str, str]] = []
    order = list(IDS)
    rng = random.Random(worker)
    for round_ in range(ROUNDS):
        log = SessionLog(Path(folder) / f"round-{round_}.jsonl")  # a fresh kernel each round
        rng.shuffle(order)
        barrier.wait(60)  # everyone begins at the same instant
        for iteration in order:
            try:
                log.begin(VideoRequest(prompt=f"w{worker}"), backend="api", iteration=iteration)
            except IterationExistsError as exc:
                outcomes.append((round_, iteration, "lost" if exc.iteration == iteration else "?"))
            except Exception as exc:  # anything else is a failure of the test
                outcomes.append((round_, iteration, f"error {type(exc).__name__}: {exc}"))
            else:
                outcomes.append((round_, iteration, "won"))
    results.put((worker, outcomes))


@pytest.mark.slow
def test_one_winner_per_iteration_across_processes(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = _start(_claim_worker, lambda n: (str(tmp_path), n, barrier, results), WORKERS)
    collected = _collect(processes, results, WORKERS)

    tally: dict[tuple[int, str], Counter[str]] = {}
    for _worker, outcomes in collected:
        for round_, iteration, outcome in outcomes:
            tally.setdefault((round_, iteration), Counter())[outcome] += 1
    assert len(tally) == ROUNDS * len(IDS)
    for key, counts in tally.items():
        assert counts == Counter({"won": 1, "lost": WORKERS - 1}), (key, counts)
    for round_ in range(ROUNDS):
        path = tmp_path / f"round-{round_}.jsonl"
        assert _submitting_events(path) == Counter(dict.fromkeys(IDS, 1))
        # The winner's event is the one in the file, and the fold agrees.
        rows = SessionLog(path).to_records()
        assert sorted(row["iteration"] for row in rows) == sorted(IDS)


def test_a_lost_claim_writes_nothing_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first, second = SessionLog(path), SessionLog(path)  # two kernels, one file
    first.begin(VideoRequest(prompt="one"), backend="api", iteration="mine")
    size = path.stat().st_size
    with pytest.raises(IterationExistsError) as caught:
        second.begin(VideoRequest(prompt="two"), backend="api", iteration="mine")
    error = caught.value
    assert isinstance(error, ValidationError) and error.field == "iteration"
    assert error.iteration == "mine" and error.path == path.absolute()
    assert "already exists" in str(error) and "nothing was written or submitted" in str(error)
    assert path.stat().st_size == size  # not one byte
    with pytest.raises(IterationExistsError):  # the winner itself cannot begin it twice
        first.begin(VideoRequest(prompt="one"), backend="api", iteration="mine")
    assert second.row("mine")["prompt"] == "one"


def test_a_claim_sees_a_line_appended_a_moment_before(tmp_path: Path) -> None:
    """The check reads the file under the append's lock, not a stale fold."""
    path = tmp_path / "s.jsonl"
    mine = SessionLog(path)
    mine.begin(VideoRequest(prompt="warm up"), backend="api")  # the fold is now current
    SessionLog(path).begin(VideoRequest(prompt="other"), backend="api", iteration="late")
    with pytest.raises(IterationExistsError):
        mine.begin(VideoRequest(prompt="mine"), backend="api", iteration="late")


@pytest.mark.parametrize("count", [1, 50])
def test_random_ids_never_collide_with_the_file(tmp_path: Path, count: int) -> None:
    path = tmp_path / "s.jsonl"
    logs = [SessionLog(path) for _ in range(3)]
    ids = [logs[n % 3].begin(VideoRequest(prompt=f"p{n}"), backend="api") for n in range(count)]
    assert len(set(ids)) == count
    assert _submitting_events(path) == Counter(dict.fromkeys(ids, 1))


# ----------------------------------------------------------------------------- studies


def _study_worker(folder: str, url: str, worker: int, barrier: Any, results: Any) -> None:
    import warnings

    from luma_nb.config import PollPolicy
    from luma_nb.experiment import resume_experiment

    # Both kernels talk to one backend (as two kernels share the real API), so a video the
    # other one submitted is really there to re-attach to. The simulator runs a million
    # times faster than real time: every task is done at the first poll, nothing sleeps.
    client = luma_nb.Client(
        "test-token",
        base_url=url,
        backend="simulator",
        allow_insecure_http=True,
        poll=PollPolicy.fixed(0.001, max_wait=120),
        sleep=lambda seconds: None,
        cache_dir=Path(folder) / f"cache-{worker}",
    )
    outcomes = []
    for round_ in range(STUDY_ROUNDS):
        path = Path(folder) / f"study-{round_}.jsonl"
        barrier.wait(60)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            study = resume_experiment(f"race-{round_}", client=client, session=path)
        report = study.last_run
        assert report is not None
        outcomes.append(
            (
                round_,
                sorted(report.submitted),
                sorted(report.claimed_elsewhere),
                [str(w.message) for w in caught if issubclass(w.category, ExperimentWarning)],
            )
        )
    client.close()
    results.put((worker, outcomes))


@pytest.mark.slow
def test_two_processes_resuming_one_study_submit_each_video_once(tmp_path: Path) -> None:
    expected: dict[int, list[str]] = {}
    for round_ in range(STUDY_ROUNDS):
        log = SessionLog(tmp_path / f"study-{round_}.jsonl")
        plan = new_plan(
            PROMPTS,
            repeats=1,
            concurrency=4,
            seed=round_,
            params={},
            experiment=f"race-{round_}",
        )
        write_plan(log, plan)  # planned, nothing submitted: both kernels "resume" it
        expected[round_] = sorted(unit.iteration(plan.experiment) for unit in plan.order)
    sim = Simulator(seed=11, speed=1e6)
    with SimulatorServer(sim) as server:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(2)
        results = context.Queue()
        processes = _start(
            _study_worker, lambda n: (str(tmp_path), server.url, n, barrier, results), 2
        )
        collected = dict(_collect(processes, results, 2))
        submits = sim.stats.submits
    sim.close()

    assert submits == sum(len(ids) for ids in expected.values())  # the POSTs, not only the log
    skipped_somewhere = 0
    for round_ in range(STUDY_ROUNDS):
        (r0, sub0, lost0, warn0), (r1, sub1, lost1, warn1) = (
            collected[0][round_],
            collected[1][round_],
        )
        assert r0 == r1 == round_
        assert not set(sub0) & set(sub1), "a planned video was submitted twice"
        assert sorted(sub0 + sub1) == expected[round_]
        # Every video this kernel did not submit, it either lost the claim of or found
        # already submitted (and re-attached to it).
        assert set(lost0) <= set(sub1) and set(lost1) <= set(sub0)
        for lost, warned in ((lost0, warn0), (lost1, warn1)):
            if lost:
                skipped_somewhere += 1
                assert any("begun by another process" in w for w in warned), warned
        path = tmp_path / f"study-{round_}.jsonl"
        assert _submitting_events(path) == Counter(dict.fromkeys(expected[round_], 1))
        # After both, the study is whole: every video finished, once.
        study = Experiment.load(path, f"race-{round_}")
        assert study.counts() == {"completed": len(expected[round_])}
    assert skipped_somewhere >= 1, "the kernels never raced for a claim"


def test_two_studies_with_one_id_cannot_both_write_a_plan(tmp_path: Path, sim_client: Any) -> None:
    path = tmp_path / "s.jsonl"
    other_kernel = SessionLog(path)
    plan = new_plan(["a fox"], repeats=1, concurrency=1, seed=1, params={}, experiment="same")
    write_plan(other_kernel, plan)  # the other kernel wrote its plan a moment ago
    with pytest.raises(ValidationError, match="already has an experiment 'same'"):
        write_plan(SessionLog(path), plan)
    events = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["event"] for e in events] == ["experiment"]
    with pytest.raises(ValidationError, match="already has an experiment"):
        compare_enhancement(["a fox"], client=sim_client, session=path, experiment_id="same")


@pytest.fixture
def sim_client(tmp_path: Path) -> Iterator[luma_nb.Client]:
    simulator = Simulator(clock=VirtualClock(), seed=3)
    yield make_client(simulator, tmp_path)
    simulator.close()
