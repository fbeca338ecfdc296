"""Chaos: 200 tasks through a simulator that fails in every way the spec allows.

Faults (the simulator's ``FaultPlan`` text syntax): bursts of 5xx (JSON 500, HTML 502, 503
busy), 429 bursts with ``Retry-After``, connections dropped before the request is handled and
*after* it (the task exists but the client never hears of it), refused connections, slow and
malformed answers (truncated JSON, HTML), tasks that get stuck and tasks that fail.

The bulk runs on the in-process simulator with a ``VirtualClock`` (no real waiting), submitted
through the notebook helpers; a smaller run goes over a real loopback socket, submitted
through ``SessionLog`` + ``Client`` directly. Both then resume every pending task from the log
(``SessionLog.resume``) and check the three promises:

1. every task the client knows of ends in the log exactly as the server has it: completed
   with its video, failed with its error, or still pending (stuck);
2. no duplicates: the server created exactly the tasks of the submits that returned a task
   id, plus those whose answer was lost after the task was made (``drop_after``, malformed);
   no submit was ever sent again once it may have reached the server;
3. every failure is a typed luma_nb error, and carries the trace id whenever the server sent
   one (in the error, and in the log row).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import luma_nb
from luma_nb import (
    APIError,
    GenerationFailedError,
    LumaError,
    RateLimitError,
    SubmitOutcomeUnknownError,
    TransportError,
    WaitTimeoutError,
)
from luma_nb.config import PollPolicy
from luma_nb.simulator import Simulator, SimulatorServer, VirtualClock

TOKEN = "sk-chaos-0001"
FAULTS = (
    "5xx=0.06:2,429=0.05:2:1,drop=0.03,drop_after=0.04,refuse=0.02,malformed=0.05,"
    "slow=0.03:2,stuck=0.03,fail=0.08:api_error"
)
POLL = PollPolicy(initial=3.0, factor=1.25, maximum=15.0, max_wait=600.0, adaptive=False)
SUBJECTS = ("a fox", "a heron", "an otter", "a paper boat", "a lighthouse", "a balloon")


@dataclass
class Outcome:
    """What one submission gave the client: a task id, or the error it raised."""

    prompt: str
    iteration: str | None = None
    task_id: str | None = None
    error: BaseException | None = None


@dataclass
class Run:
    sim: Simulator
    clock: VirtualClock
    log: luma_nb.SessionLog
    outcomes: list[Outcome] = field(default_factory=list)


def _client(sim: Simulator, clock: VirtualClock, tmp: Path, **options: Any) -> luma_nb.Client:
    return luma_nb.Client(
        TOKEN,
        base_url=options.pop("base_url", sim.base_url),
        backend="simulator",
        poll=POLL,
        sleep=clock.advance,
        clock=clock.now,
        rng=random.Random(5),
        cache_dir=tmp / "cache",
        **options,
    )


def _prompts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(SUBJECTS)} number {n}, cinematic light" for n in range(count)]


# ----------------------------------------------------------------------------- the checks


def _resume_everything(run: Run, client: luma_nb.Client) -> WaitTimeoutError | None:
    """Resume the log's pending tasks; a stuck task ends the wait at its deadline."""
    try:
        run.log.resume(client, max_wait=500)
    except WaitTimeoutError as timeout:
        return timeout
    return None


def _videos_journal(sim: Simulator) -> list[Any]:
    return [e for e in sim.journal if e.method == "POST" and e.path == "/luma/videos"]


def _check_no_duplicates(run: Run, *, refusals_retried: bool) -> None:
    sim = run.sim
    known = {o.task_id for o in run.outcomes if o.task_id}
    server = set(sim.tasks)
    assert len(known) == sum(1 for o in run.outcomes if o.task_id), "a task id came back twice"
    assert known <= server
    journal = _videos_journal(sim)
    # Handled, but the answer never reached the client: these created (and billed) a task.
    lost = [
        e
        for e in journal
        if "drop_after" in e.faults or any(f.startswith("malformed") for f in e.faults)
    ]
    orphans = server - known
    assert lost, "no answer was lost after its task was made: the run proves too little"
    assert len(orphans) == len(lost)
    assert sim.stats.tasks_created == len(known) + len(lost)
    unknown = [o for o in run.outcomes if isinstance(o.error, SubmitOutcomeUnknownError)]
    assert len(lost) <= len(unknown)
    # Only a refused connection or a 429 may be followed by another attempt of the same
    # submit; every other attempt is the last of its call. (Over a socket the simulator can
    # only refuse by closing the accepted connection, which a client must take as a drop.)
    retryable = [
        e for e in journal if (e.outcome == "refuse" and refusals_retried) or e.status == 429
    ]
    exhausted = [
        o
        for o in run.outcomes
        if isinstance(o.error, (RateLimitError, TransportError))
        and not isinstance(o.error, SubmitOutcomeUnknownError)
    ]
    assert len(journal) - len(retryable) == len(run.outcomes) - len(exhausted)


def _check_typed_errors(run: Run) -> None:
    rows = {row["iteration"]: row for row in run.log.to_records()}
    for outcome in run.outcomes:
        error = outcome.error
        if error is None:
            continue
        assert isinstance(error, LumaError), repr(error)
        row = rows[outcome.iteration]
        assert row["task_id"] is None
        assert row["error_type"] == type(error).__name__
        cause = error.cause if isinstance(error, SubmitOutcomeUnknownError) else error
        if isinstance(error, SubmitOutcomeUnknownError):
            assert row["state"] == "outcome_unknown"
        # The simulator's JSON errors always carry a trace id; its HTML 502 page and the
        # malformed answers cannot.
        if isinstance(cause, APIError) and cause.code != "unknown":
            assert error.trace_id, repr(error)
            assert row["trace_id"] == error.trace_id
        assert "sk-chaos" not in str(error)


def _check_log_matches_server(run: Run, timeout: WaitTimeoutError | None) -> None:
    sim = run.sim
    rows = {row["task_id"]: row for row in run.log.to_records() if row["task_id"]}
    states = {"completed": 0, "failed": 0, "stuck": 0}
    for outcome in run.outcomes:
        if outcome.task_id is None:
            continue
        row = rows[outcome.task_id]
        record = sim.record(outcome.task_id)
        server_state = sim.state(outcome.task_id)
        assert row["trace_id"] == record["trace_id"]
        if server_state == "completed":
            states["completed"] += 1
            assert row["state"] == "completed", row
            assert row["video_url"] == record["response"]["video_url"]
            assert row["video_id"] == record["response"]["video_id"]
        elif server_state == "failed":
            states["failed"] += 1
            assert row["state"] == "failed", row
            assert row["error_code"] == "api_error" and row["error_message"]
            task = luma_nb.Task.from_record(record)
            failure = GenerationFailedError(task)
            assert failure.trace_id == record["trace_id"] and failure.code == "api_error"
        else:
            states["stuck"] += 1
            assert row["state"] not in ("completed", "failed"), row
            assert timeout is not None and outcome.task_id in timeout.task_ids
    assert run.log.pending() == [rows[i] for i in (timeout.task_ids if timeout else ())]
    # The faults really happened: every kind of ending is represented.
    assert states["completed"] > 0 and states["failed"] > 0 and states["stuck"] > 0, states


def _check_every_line_is_whole(log: luma_nb.SessionLog, count: int) -> None:
    lines = log.path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    events = [json.loads(line) for line in lines[:-1]]
    assert sum(1 for e in events if e["event"] == "submitting") == count


# ----------------------------------------------------------------------------- in-process


@pytest.fixture
def helpers_run(tmp_path: Path) -> Iterator[Callable[[int], Run]]:
    made: list[Simulator] = []

    def start(seed: int) -> Run:
        clock = VirtualClock()
        sim = Simulator(clock=clock, seed=seed, faults=FAULTS, journal_size=200_000)
        made.append(sim)
        log = luma_nb.SessionLog(tmp_path / f"chaos-{seed}.jsonl")
        luma_nb.use(_client(sim, clock, tmp_path, transport=sim.transport()), log)
        return Run(sim, clock, log)

    yield start
    luma_nb.notebook.reset()
    from luma_nb.display import set_media_fetcher

    set_media_fetcher(None)
    for sim in made:
        sim.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_200_tasks_through_the_helpers_under_chaos(
    helpers_run: Callable[[int], Run], seed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    run = helpers_run(seed)
    for prompt in _prompts(200, seed):
        outcome = Outcome(prompt)
        try:
            task = luma_nb.submit(prompt, aspect_ratio="16:9", experiment="chaos", arm=str(seed))
        except Exception as exc:  # checked below: every one must be a typed luma_nb error
            outcome.error = exc
        else:
            outcome.task_id = task.id
        outcome.iteration = run.log.to_records()[-1]["iteration"]
        run.outcomes.append(outcome)
    faults = run.sim.stats.faults
    for kind in ("500", "429", "drop", "drop_after", "refuse", "slow"):
        assert faults.get(kind, 0) > 0, (kind, dict(faults))
    assert any(name.startswith("malformed") for name in faults)
    timeout = _resume_everything(run, luma_nb.notebook.default_client())

    _check_every_line_is_whole(run.log, 200)
    _check_no_duplicates(run, refusals_retried=True)
    _check_typed_errors(run)
    _check_log_matches_server(run, timeout)
    assert "sk-chaos" not in run.log.path.read_text("utf-8")
    assert "sk-chaos" not in capsys.readouterr().out


# ----------------------------------------------------------------------------- loopback


def test_40_tasks_over_a_loopback_socket_under_chaos(tmp_path: Path) -> None:
    clock = VirtualClock()
    # More stuck and failing tasks than in the bulk run: 40 tasks must show every ending.
    faults = FAULTS.replace("stuck=0.03", "stuck=0.08").replace("fail=0.08", "fail=0.12")
    sim = Simulator(clock=clock, seed=9, faults=faults, journal_size=50_000)
    log = luma_nb.SessionLog(tmp_path / "loopback.jsonl")
    run = Run(sim, clock, log)
    with (
        SimulatorServer(sim) as server,
        _client(sim, clock, tmp_path, base_url=server.url) as client,
    ):
        for prompt in _prompts(40, 9):
            request = luma_nb.VideoRequest(prompt=prompt, enhancement=False)
            outcome = Outcome(prompt, iteration=log.begin(request, backend=client.backend))
            try:
                task = client.submit(request)
            except Exception as exc:
                log.submit_failed(outcome.iteration, exc)
                outcome.error = exc
            else:
                log.submitted(outcome.iteration, task)
                outcome.task_id = task.id
            run.outcomes.append(outcome)
        assert any(isinstance(o.error, SubmitOutcomeUnknownError) for o in run.outcomes)
        timeout = _resume_everything(run, client)
        # A video that completed can be fetched from the media host, token-free.
        done = next(r for r in log.to_records() if r["state"] == "completed")
        path = client.download(done["video_url"])
        assert path.read_bytes()[4:8] == b"ftyp"
    sim.close()
    _check_every_line_is_whole(log, 40)
    _check_no_duplicates(run, refusals_retried=False)
    _check_typed_errors(run)
    _check_log_matches_server(run, timeout)
    media = [e for e in sim.journal if e.path.startswith("/media/")]
    assert media and not any(e.authorized for e in media)


# ----------------------------------------------------------------------------- slow answers


def test_slow_answers_do_not_stretch_the_poll_cadence() -> None:
    """Rounds start one interval apart even when each of their requests takes a while, so a
    finished task is seen within one interval (plus one round) of finishing."""
    import httpx

    now = [0.0]
    starts: list[float] = []
    ids = [f"task-{n}" for n in range(60)]  # two batch requests per round

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["ids"][0] == ids[0]:
            starts.append(now[0])
        now[0] += 0.8  # a slow API: every answer takes 0.8 s
        done = len(starts) > 3
        response = {"state": "completed", "video_url": "https://cdn.test/v.mp4"} if done else {}
        items = [{"id": i, "response": response or {"state": "processing"}} for i in body["ids"]]
        return httpx.Response(200, json={"items": items, "count": len(items)})

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with luma_nb.Client(
        TOKEN,
        base_url="https://api.example.test",
        transport=httpx.MockTransport(handler),
        poll=PollPolicy.fixed(3.0, max_wait=60),
        sleep=sleep,
        clock=lambda: now[0],
    ) as client:
        tasks = client.wait_many(ids)
    assert all(task.succeeded for task in tasks)
    assert starts == pytest.approx([0.0, 3.0, 6.0, 9.0])  # not 0, 4.6, 9.2, ...
