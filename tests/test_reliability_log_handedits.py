"""Hand-edited logs: any JSON value in any field of any event, and nothing crashes.

The attack: a session file edited by hand (or by another tool) — a list as ``arm``, a dict as
``experiment`` or ``parent``, numbers and ``null`` among the tags, a number as the prompt,
``NaN``, integers beyond any float, a task id that is blank, huge or full of control
characters, a study plan whose fields are anything at all. Reading the log, resuming it and
analysing the study must give clean values (each column its documented type, or ``None``) or
a documented error — never a ``TypeError``, ``KeyError``, ``OverflowError``... — and one bad
row must not stop ``resume`` from resuming the others.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _experimenttools import make_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb._session_fold import COLUMNS, MAX_TASK_ID_CHARS, TERMINAL_STATES, usable_task_id
from luma_nb.errors import NotFoundError, ValidationError, WaitTimeoutError
from luma_nb.experiment import Experiment, ExperimentWarning, compare_enhancement
from luma_nb.models import Task, TaskState, VideoRequest
from luma_nb.session_log import SessionLog, SessionLogWarning
from luma_nb.simulator import Simulator, VirtualClock

EXPERIMENT = "hand"
# The measured columns of a "metrics" event: whole numbers, or floats.
MEASURED_WHOLE = {"frames": (0, 2**31), "bitrate": (0, 2**53), "metric_cuts": (0, 2**31)}
MEASURED = tuple(c for c in COLUMNS if c.startswith("metric_") or c in ("duration", "fps"))
TEXT = frozenset(COLUMNS) - {
    *("submitted_at", "started_at", "finished_at", "elapsed", "timeout"),
    *("loop", "enhancement", "prompt_changed", "width", "height", "rating"),
    *("schema_version", "tags", "state"),
    *MEASURED,
    *MEASURED_WHOLE,
}
NUMBERS = (
    *("submitted_at", "started_at", "finished_at", "elapsed", "timeout"),
    *(c for c in MEASURED if c not in MEASURED_WHOLE),
)
WHOLE = {
    "width": (0, 2**31),
    "height": (0, 2**31),
    "rating": (1, 5),
    "schema_version": (0, 2**31),
    **MEASURED_WHOLE,
}
BOOLS = ("loop", "enhancement", "prompt_changed")

ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\x00",
        "\x07bell",
        "\u2028",
        "\ud800",
        "x" * 5000,
        "on",
        "off",
        "pair:1",
        "pair:²",
        "pair:" + "9" * 40,
        "repeat:0",
        "completed",
        "processing",
        "outcome_unknown",
        "javascript:alert(1)",
        "http://localhost/v.mp4",
        "/dev/null",
        "C:\\nul",
        "NaN",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([10**400, -(10**400), 2**53 + 1, 0, -1, 6])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | ODD_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
# Keys a hand edit may add to any event (row columns, private timings, plan fields).
EXTRA_KEYS = st.sampled_from(
    [
        *COLUMNS,
        *("api_created_at", "api_finished_at", "api_elapsed", "t", "v", "event", "status_code"),
        *("prompts", "order", "params", "seed", "repeats", "shown_first", "concurrency"),
        "_t_end",
        "_bad_task_id",
    ]
)


def _dumps(event: dict[str, Any]) -> bytes:
    # Python's json writes (and reads) NaN and Infinity; a hand edit may too.
    return json.dumps(event, allow_nan=True).encode() + b"\n"


def _check_documented(record: dict[str, Any]) -> None:
    assert list(record) == list(COLUMNS)
    for key in TEXT:
        assert record[key] is None or type(record[key]) is str, (key, record[key])
    assert record["state"] is None or type(record["state"]) is str
    for key in NUMBERS:
        value = record[key]
        assert value is None or (type(value) in (int, float) and math.isfinite(value)), key
    for key, (low, high) in WHOLE.items():
        value = record[key]
        assert value is None or (type(value) is int and low <= value <= high), (key, value)
    for key in BOOLS:
        assert record[key] is None or type(record[key]) is bool, key
    assert type(record["tags"]) is list and all(type(t) is str for t in record["tags"])


# ----------------------------------------------------------------------------- a real log


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=21)
    yield simulator
    simulator.close()


@pytest.fixture(scope="module")
def base(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The events of a real session: a study (rated), an extend chain, a refused submit, and
    a task still running."""
    folder = tmp_path_factory.mktemp("base")
    client = make_client(sim, folder)
    log = SessionLog(folder / "base.jsonl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentWarning)
        study = compare_enhancement(
            ["a red kite", "a fox at dawn"],
            seed=3,
            client=client,
            session=log,
            experiment_id=EXPERIMENT,
        )
    study.rate(1, "on", 4, "crisp")
    study.rate(1, "off", 2)
    study.rate(2, "on", 5)
    root = log.begin(VideoRequest(prompt="a lighthouse"), backend="simulator", tags=["x"])
    task = client.submit(VideoRequest(prompt="a lighthouse"))
    log.submitted(root, task)
    log.update(root, client.wait(task))
    child = log.begin(
        VideoRequest(action="extend", video_id=task.id), backend="simulator", parent=root
    )
    log.submitted(child, client.submit(VideoRequest(prompt="still running")))  # pending
    refused = log.begin(VideoRequest(prompt="refused"), backend="simulator")
    log.submit_failed(refused, ValidationError("no", field="prompt"))
    log.tag(root, "y", "z")
    return [json.loads(line) for line in log.path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def client(sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> luma_nb.Client:
    return make_client(sim, tmp_path_factory.mktemp("client"))


def _write(folder: Path, events: list[dict[str, Any]]) -> Path:
    path = folder / "edited.jsonl"
    path.write_bytes(b"".join(_dumps(event) for event in events))
    return path


def _read_everything(path: Path, client: luma_nb.Client) -> None:
    """Everything that reads a log, with the errors each one documents."""
    log = SessionLog(path)
    records = log.to_records()
    for record in records:
        _check_documented(record)
        log.lineage(record["iteration"])
        log.row(record["iteration"])
    pytest.importorskip("pandas")
    frame = log.to_dataframe()
    assert len(frame) == len(records)
    pending = log.pending()
    try:
        tasks = log.resume(client, max_wait=30)
    except (WaitTimeoutError, NotFoundError):
        pass  # a hand-made id the backend does not know: documented, and the rest is logged
    else:
        assert all(isinstance(task, Task) for task in tasks)
        polled = {task.id for task in tasks}
        assert polled <= {row["task_id"] for row in pending}
        assert all(not usable_task_id(row["task_id"]) for row in tasks.skipped)
    luma_nb.load_sessions(path)
    try:
        study = Experiment.load(path, EXPERIMENT, client=client)
    except ValidationError:
        return  # a plan (or rows) edited beyond recognition: said so, clearly
    records = study.records()
    assert len(records) == len(study.plan().order)
    study.to_dataframe()
    study.counts()
    study.unresolved()
    study.text()
    study._repr_html_()
    for paired_by in ("prompt", "pair"):
        summary = study.summary(paired_by=paired_by)
        summary.text()
        summary._repr_html_()
        summary.to_dataframe()


EDITS = st.lists(
    st.tuples(st.integers(min_value=0), st.one_of(st.none(), EXTRA_KEYS), JSON),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(edits=EDITS)
def test_any_json_in_any_field_reads_or_fails_clearly(
    base: list[dict[str, Any]],
    client: luma_nb.Client,
    tmp_path_factory: pytest.TempPathFactory,
    edits: list[tuple[int, str | None, Any]],
) -> None:
    events = [dict(event) for event in base]
    for index, key, value in edits:
        event = events[index % len(events)]
        # None: replace a key the event already has (every field is fair game).
        chosen = key if key is not None else sorted(event)[index % len(event)]
        event[chosen] = value
    path = _write(tmp_path_factory.mktemp("fuzz"), events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SessionLogWarning)
        warnings.simplefilter("ignore", ExperimentWarning)
        _read_everything(path, client)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=EDITS)
def test_the_blind_review_survives_any_edit(
    base: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
    edits: list[tuple[int, str | None, Any]],
) -> None:
    pytest.importorskip("ipywidgets")
    events = [dict(event) for event in base]
    for index, key, value in edits:
        event = events[index % len(events)]
        event[key if key is not None else sorted(event)[index % len(event)]] = value
    path = _write(tmp_path_factory.mktemp("review"), events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SessionLogWarning)
        try:
            study = Experiment.load(path, EXPERIMENT)
        except ValidationError:
            return
        review = study.review(embed=False)
        review.reveal()


# ----------------------------------------------------------------------------- named cases


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("arm", ["on", "off"]),
        ("arm", {"on": 1}),
        ("experiment", [EXPERIMENT]),
        ("experiment", {"id": EXPERIMENT}),
        ("parent", ["it-1"]),
        ("parent", {"it": 1}),
        ("tags", [1, 2.5, None, ["pair:1"], {"a": 1}, "pair:1"]),
        ("tags", "pair:1"),
        ("tags", None),
        ("prompt", 42),
        ("prompt", ["a", "b"]),
        ("prompt", None),
        ("enhancement", "yes"),
        ("loop", 1),
        ("aspect_ratio", 1.78),
        ("backend", {"s": 1}),
        ("toolkit_version", 0.1),
    ],
)
def test_odd_values_in_a_study_row(
    base: list[dict[str, Any]], tmp_path: Path, key: str, value: Any
) -> None:
    """The hand edits the issue names: each reads as missing, with a warning, and the study
    still loads, summarises and shows."""
    events = [dict(event) for event in base]
    first = next(e for e in events if e["event"] == "submitting" and e.get("experiment"))
    first[key] = value
    path = _write(tmp_path, events)
    if value is None:  # null is "not given": nothing to warn about
        with warnings.catch_warnings():
            warnings.simplefilter("error", SessionLogWarning)
            records = SessionLog(path).to_records()
    else:
        with pytest.warns(SessionLogWarning, match=f"{key}="):
            records = SessionLog(path).to_records()
    row = next(r for r in records if r["iteration"] == first["iteration"])
    _check_documented(row)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SessionLogWarning)  # said above; a new reader says it too
        study = Experiment.load(path, EXPERIMENT)
        assert study.summary().on.planned == 2 and study.summary().off.planned == 2
        study.to_dataframe()
    if key == "tags":
        assert row["tags"] == ["pair:1"] if isinstance(value, list) else row["tags"] == []


def test_a_plan_of_nonsense_is_a_clear_error(base: list[dict[str, Any]], tmp_path: Path) -> None:
    events = [dict(event) for event in base]
    plan = next(e for e in events if e["event"] == "experiment")
    for key, value in (
        ("prompts", "a string is not a list of prompts"),
        ("order", [[1, ["on"]], [1, {"arm": "on"}]]),
        ("repeats", 10**18),
        ("seed", float("nan")),
        ("params", ["aspect_ratio", "16:9"]),
        ("params", {"enhancement": False}),
    ):
        edited = [dict(event) for event in events]
        next(e for e in edited if e["event"] == "experiment")[key] = value
        path = _write(tmp_path, edited)
        with pytest.raises(ValidationError, match="unreadable"):
            Experiment.load(path, EXPERIMENT)
    # What is not essential is repaired: a damaged draw is drawn again, a bad time is 0.
    plan["shown_first"] = {"1": ["on"], "x": "on", "99": "off", "2": "sideways"}
    plan["concurrency"] = -3
    plan["t"] = float("inf")
    study = Experiment.load(_write(tmp_path, events), EXPERIMENT)
    assert set(study.plan().shown_first) == {1, 2}
    assert set(study.plan().shown_first.values()) <= {"on", "off"}
    assert study.concurrency == 1 and study.plan().created_at == 0.0


def test_rows_without_a_plan_with_odd_tags_still_pair(tmp_path: Path) -> None:
    """A comparison logged by hand, then edited: odd tags are ignored, never parsed."""
    log = SessionLog(tmp_path / "s.jsonl")
    for arm, tags in (("on", ["pair:²"]), ("off", ["pair:" + "9" * 40]), ("on", ["pair:7"])):
        log.begin(
            VideoRequest(prompt="same", enhancement=arm == "on"),
            backend="api",
            experiment="byhand",
            arm=arm,
            tags=tags,
        )
    study = Experiment.load(log.path, "byhand")
    assert 7 in study.pairs
    study.summary()


# ----------------------------------------------------------------------------- resume


BAD_TASK_IDS = [
    "",
    " ",
    "\t",
    "two words",
    "x" * (MAX_TASK_ID_CHARS + 1),
    "x" * 100_000,
    "id\x00nul",
    "id\x07bell",
    "id\x1b[31mred",
    "line\nbreak",
    "\u2028",
    "\ud800",
    12,
    1.5,
    True,
    ["task-1"],
    {"id": "task-1"},
]


@pytest.mark.parametrize("bad", BAD_TASK_IDS, ids=lambda v: repr(v)[:20])
def test_one_bad_task_id_never_stops_resume(
    sim: Simulator, client: luma_nb.Client, tmp_path: Path, bad: Any
) -> None:
    path = tmp_path / "s.jsonl"
    log = SessionLog(path)
    good = []
    for n in range(3):
        iteration = log.begin(VideoRequest(prompt=f"p{n}"), backend="simulator")
        task = client.submit(VideoRequest(prompt=f"p{n}"))
        log.submitted(iteration, task)
        good.append((iteration, task.id))
    # Break the middle row's task id by hand.
    lines = path.read_bytes().splitlines()
    edited = []
    for line in lines:
        event = json.loads(line)
        if event["event"] == "submitted" and event["iteration"] == good[1][0]:
            event["task_id"] = bad
        edited.append(_dumps(event))
    path.write_bytes(b"".join(edited))

    restarted = SessionLog(path)
    with pytest.warns(SessionLogWarning) as caught:
        tasks = restarted.resume(client)
    assert [task.id for task in tasks] == [good[0][1], good[2][1]]
    assert all(task.state is TaskState.COMPLETED for task in tasks)
    assert [row["iteration"] for row in tasks.skipped] == [good[1][0]]
    assert any(good[1][0] in str(w.message) for w in caught)
    rows = {row["iteration"]: row for row in restarted.to_records()}
    assert rows[good[0][0]]["state"] == rows[good[2][0]]["state"] == "completed"
    assert rows[good[1][0]]["state"] not in TERMINAL_STATES  # left alone, not invented
    with pytest.warns(SessionLogWarning):  # said again each time, never raised
        assert restarted.resume(client).skipped[0]["iteration"] == good[1][0]


def test_a_study_with_a_broken_task_id_reports_it_and_finishes_the_rest(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "s.jsonl"
    with pytest.warns(ExperimentWarning, match="gave up waiting"):
        study = compare_enhancement(
            ["a fox", "a kite"],
            seed=1,
            concurrency=4,
            max_wait=1,
            client=make_client(sim, tmp_path),
            session=SessionLog(path),
            experiment_id="broken",
        )
    running = [r for r in study.records() if r["task_id"]]
    victim = running[0]["iteration"]
    edited = []
    for line in path.read_bytes().splitlines():
        event = json.loads(line)
        if event.get("iteration") == victim and "task_id" in event:
            event["task_id"] = "bad id\x00"
        edited.append(_dumps(event))
    path.write_bytes(b"".join(edited))
    before = sim.stats.tasks_created
    with pytest.warns(ExperimentWarning, match="unknown submit outcome"):
        again = luma_nb.experiment.resume_experiment(
            "broken", client=make_client(sim, tmp_path), session=path
        )
    assert sim.stats.tasks_created == before  # nothing resubmitted
    assert [r["iteration"] for r in again.unresolved()] == [victim]
    assert again.counts().get("completed") == 3
