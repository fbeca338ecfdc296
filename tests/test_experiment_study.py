"""luma_nb.study: factorial designs, prompt templates, validation, the budget, crash and resume."""

from __future__ import annotations

import inspect
import json
import pickle
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _experimenttools import VIDEOS, RecordingTransport, make_client

import luma_nb
from luma_nb.errors import LumaError, ValidationError
from luma_nb.experiment import (
    DEFAULT_MAX_SUBMITS,
    BudgetExceededError,
    Experiment,
    ExperimentWarning,
    PromptTemplate,
    compare_enhancement,
    resume_experiment,
)
from luma_nb.experiment._plan import PLAN_EVENT
from luma_nb.simulator import Simulator, VirtualClock

PROMPTS = ["a red kite over green hills", "a fox in the snow at dawn"]
FACTORIAL = {"enhancement": [True, False], "loop": [True, False]}
IMAGE = "https://images.example/cat.png"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=7)
    yield simulator
    simulator.close()


class CountingTransport(httpx.BaseTransport):
    """Counts every request (not only submits) before passing it on."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        return self.inner.handle_request(request)


def _plan_event(path: Path, experiment: str) -> dict[str, Any]:
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    [plan] = [e for e in events if e["event"] == PLAN_EVENT and e["experiment"] == experiment]
    return plan


# ----------------------------------------------------------------------------- the contract


def test_the_signature_is_the_contract() -> None:
    parameters = inspect.signature(luma_nb.study).parameters
    assert next(iter(parameters)) == "prompts"
    expected = {
        "factors": inspect.Parameter.empty,
        "repeats": 1,
        "seed": None,
        "concurrency": 4,
        "max_submits": 20,
        "client": None,
        "session": None,
        "run": True,
    }
    for name, default in expected.items():
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameters[name].default == default, name
    assert list(parameters.values())[-1].kind is inspect.Parameter.VAR_KEYWORD
    assert DEFAULT_MAX_SUBMITS == 20
    assert issubclass(luma_nb.BudgetExceededError, LumaError)
    assert luma_nb.study is luma_nb.experiment.study


# ----------------------------------------------------------------------------- a factorial run


def test_a_factorial_study_runs_every_arm_in_every_block(sim: Simulator, tmp_path: Path) -> None:
    transport = RecordingTransport(sim)
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    study = luma_nb.study(
        PROMPTS,
        factors=FACTORIAL,
        repeats=2,
        seed=5,
        concurrency=3,
        max_submits=16,
        client=make_client(sim, tmp_path, transport=transport),
        session=log,
        aspect_ratio="9:16",
    )
    assert isinstance(study, Experiment)
    assert study.arms == (
        "enhancement=on, loop=on",
        "enhancement=on, loop=off",
        "enhancement=off, loop=on",
        "enhancement=off, loop=off",
    )
    assert len(transport.bodies) == sim.stats.tasks_created == 2 * 4 * 2
    # Every field explicit in every request; the fixed one identical everywhere.
    for body in transport.bodies:
        assert body["aspect_ratio"] == "9:16"
        assert isinstance(body["loop"], bool) and isinstance(body["enhancement"], bool)
    cells = Counter((b["prompt"], b["enhancement"], b["loop"]) for b in transport.bodies)
    assert set(cells.values()) == {2} and len(cells) == 8  # each cell once per repeat
    assert max(transport.running) <= 2 and study.last_run is not None
    # Blocks hold every arm, and run together: the order is blocked, shuffled within.
    order = study.plan().order
    blocks = [order[i : i + 4] for i in range(0, 16, 4)]
    assert all(len({u.pair for u in block}) == 1 for block in blocks)
    assert all({u.arm for u in block} == {"a1", "a2", "a3", "a4"} for block in blocks)
    assert [u.pair for u in order[::4]] != sorted(u.pair for u in order[::4]) or [
        u.arm for u in blocks[0]
    ] != ["a1", "a2", "a3", "a4"]
    rows = [r for r in log.to_records() if r["experiment"] == study.id]
    assert {r["arm"] for r in rows} == set(study.arms)
    assert all(r["state"] == "completed" for r in rows)
    # The tidy frame names each factor's level.
    pytest.importorskip("pandas")
    frame = study.to_dataframe()
    assert len(frame) == 16
    assert [c for c in frame.columns if c.startswith("level_")] == [
        "level_enhancement",
        "level_loop",
    ]
    assert (frame.level_loop == frame.loop.map({True: "on", False: "off"})).all()


def test_the_same_seed_gives_the_same_order(sim: Simulator, tmp_path: Path) -> None:
    def order(seed: int, name: str) -> list[tuple[int, str]]:
        study = luma_nb.study(
            PROMPTS,
            factors=FACTORIAL,
            seed=seed,
            client=make_client(sim, tmp_path),
            session=tmp_path / f"{name}.jsonl",
            run=False,
        )
        return [(u.pair, u.arm) for u in study.plan().order]

    assert order(3, "a") == order(3, "b")
    assert order(3, "a") != order(4, "c")
    assert sim.stats.submits == 0


def test_a_prompt_template_crosses_its_slots_and_varies_a_slot_factor(
    sim: Simulator, tmp_path: Path
) -> None:
    transport = RecordingTransport(sim)
    template = PromptTemplate("a {animal} at {time}, {style}", animal=["fox", "owl"])
    study = luma_nb.study(
        template,
        factors={"time": ["dawn", "dusk"], "style": {"plain": "still", "camera": "slow pan"}},
        seed=2,
        client=make_client(sim, tmp_path, transport=transport),
        session=tmp_path / "t.jsonl",
        enhancement=False,
    )
    sent = sorted(b["prompt"] for b in transport.bodies)
    assert sent == sorted(
        f"a {a} at {t}, {s}"
        for a in ("fox", "owl")
        for t in ("dawn", "dusk")
        for s in ("still", "slow pan")
    )
    assert all(b["enhancement"] is False for b in transport.bodies)
    # The prompt every arm of a block shares hides the factor slots.
    assert study.prompts == ("a fox at …, …", "a owl at …, …")
    records = study.records()
    assert {r["slot_animal"] for r in records} == {"fox", "owl"}
    assert {r["level_style"] for r in records} == {"plain", "camera"}
    fox_dawn = [r for r in records if r["slot_animal"] == "fox" and r["level_time"] == "dawn"]
    assert {r["prompt"] for r in fox_dawn} == {"a fox at dawn, still", "a fox at dawn, slow pan"}


def test_keyframe_and_ratio_factors_build_their_requests(sim: Simulator, tmp_path: Path) -> None:
    study = luma_nb.study(
        ["a cat on a sofa"],
        factors={
            "start_image_url": {"none": None, "cat": IMAGE},
            "aspect_ratio": ["16:9", "9:16", "1:1"],
        },
        client=make_client(sim, tmp_path),
        session=tmp_path / "k.jsonl",
        run=False,
    )
    plan = study.plan()
    assert plan.submits == 6 and len(plan.arms) == 6
    requests = [plan.request(unit) for unit in plan.units]
    assert Counter(r.start_image_url for r in requests) == {None: 3, IMAGE: 3}
    assert Counter(r.aspect_ratio for r in requests) == {"16:9": 2, "9:16": 2, "1:1": 2}
    assert all(r.loop is False and r.enhancement is True for r in requests)  # explicit
    assert sim.stats.submits == 0


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"factors": {"enhancment": [True, False]}}, "enhancment", "did you mean 'enhancement'"),
        ({"factors": {"loop": [True]}}, "loop", "at least two"),
        ({"factors": {"loop": [True, True]}}, "loop", "twice"),
        ({"factors": {"loop": [True, None]}}, "loop", "None is not a level"),
        ({"factors": {"loop": ["yes", "no"]}}, "loop", "level 'yes'"),
        ({"factors": {"aspect_ratio": ["16:9", "5:4"]}}, "aspect_ratio", "level '5:4'"),
        (
            {"factors": {"start_image_url": [None, "ftp://x/y.png"]}},
            "start_image_url",
            "level 'ftp://x/y.png'",
        ),
        ({"factors": {"loop": "on,off"}}, "loop", "list of levels"),
        ({"factors": {"prompt": ["a", "b"]}}, "prompt", "PromptTemplate"),
        ({"factors": {}}, "factors", "map each factor"),
        ({"factors": [("loop", [True, False])]}, "factors", "map each factor"),
        ({"factors": {"loop": [True, False]}, "loop": True}, "loop", "also given as a fixed"),
        ({"factors": {"loop": [True, False]}, "duration": 5}, "duration", "not a request field"),
        ({"factors": {"loop": [True, False]}, "sync": True}, "sync", "async"),
        ({"factors": {"loop": [True, False]}, "max_submits": 0}, "max_submits", "1 to"),
        ({"factors": {"loop": [True, False]}, "max_submits": True}, "max_submits", "1 to"),
        ({"factors": {"loop": [True, False]}, "run": "no"}, "run", "True or False"),
        ({"factors": {"loop": [True, False]}, "repeats": 0}, "repeats", "at least 1"),
        ({"factors": {"loop": [True, False]}, "concurrency": 0}, "concurrency", "at least 1"),
        ({"factors": {"loop": [True, False]}, "seed": -1}, "seed", "at least 0"),
    ],
)
def test_bad_designs_are_refused_before_anything(
    sim: Simulator, tmp_path: Path, kwargs: dict[str, Any], field: str, words: str
) -> None:
    transport = CountingTransport(sim.transport())
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    with pytest.raises(ValidationError) as info:
        luma_nb.study(
            PROMPTS, client=make_client(sim, tmp_path, transport=transport), session=log, **kwargs
        )
    assert info.value.field == field
    assert words in str(info.value)
    assert transport.requests == [] and not log.path.exists()


@pytest.mark.parametrize(
    ("prompts", "factors", "words"),
    [
        (
            PromptTemplate("a {animal} at {time}", animal=["fox"]),
            {"loop": [True, False]},
            "no values",
        ),
        (PromptTemplate("a {animal}", animal=["fox"]), {"animal": ["owl", "cat"]}, "one or"),
        (PromptTemplate("a {animal}{style}", animal=["fox"]), {"style": ["", ""]}, "twice"),
        (PromptTemplate("{style}"), {"style": ["", "  "]}, "bad prompt"),
        ("a single string", {"loop": [True, False]}, "PromptTemplate"),
        ([], {"loop": [True, False]}, "at least one prompt"),
    ],
)
def test_bad_prompts_and_templates_are_refused(
    sim: Simulator, tmp_path: Path, prompts: Any, factors: Any, words: str
) -> None:
    with pytest.raises(ValidationError, match=words):
        luma_nb.study(prompts, factors=factors, client=make_client(sim, tmp_path), run=False)
    assert sim.stats.submits == 0


@pytest.mark.parametrize(
    ("text", "slots", "words"),
    [
        ("a {animal!r}", {}, "plain name"),
        ("a {animal:>5}", {}, "plain name"),
        ("a {0}", {}, "plain name"),
        ("a {animal", {}, "malformed"),
        ("a {animal}", {"colour": ["red"]}, "no slot {colour}"),
        ("a {animal}", {"animal": "fox"}, "list of text"),
        ("a {animal}", {"animal": [3]}, "one or more texts"),
        ("", {}, "non-empty"),
    ],
)
def test_a_bad_template_is_refused_when_made(text: str, slots: Any, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        PromptTemplate(text, **slots)


def test_a_template_keeps_literal_braces() -> None:
    template = PromptTemplate("a {{neon}} {thing}", thing=["sign"])
    assert template.render({"thing": "sign"}) == "a {neon} sign"
    assert repr(template) == "PromptTemplate('a {{neon}} {thing}', thing=['sign'])"


# ----------------------------------------------------------------------------- the budget


def test_over_budget_nothing_is_sent_and_nothing_logged(sim: Simulator, tmp_path: Path) -> None:
    transport = CountingTransport(sim.transport())
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    prompts = [f"prompt {n}" for n in range(3)]
    with pytest.raises(BudgetExceededError) as info:
        luma_nb.study(
            prompts,
            factors=FACTORIAL,
            repeats=2,
            client=make_client(sim, tmp_path, transport=transport),
            session=log,
        )
    error = info.value
    assert isinstance(error, luma_nb.LumaError)
    assert (error.submits, error.max_submits) == (24, 20)
    message = str(error)
    assert "24 paid submits" in message and "max_submits=20" in message
    assert "max_submits=24" in message  # how to raise the cap
    assert transport.requests == [] and sim.stats.submits == 0
    assert not log.path.exists()
    copy = pickle.loads(pickle.dumps(error))  # crosses a process boundary intact
    assert (copy.submits, copy.max_submits, str(copy)) == (24, 20, message)


def test_a_planned_study_shows_its_cost_then_runs_under_a_raised_cap(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    transport = CountingTransport(sim.transport())
    path = tmp_path / "s.jsonl"
    study = luma_nb.study(
        PROMPTS,
        factors={"aspect_ratio": ["16:9", "9:16", "1:1"]},
        repeats=2,
        max_submits=10,
        client=make_client(sim, tmp_path, transport=transport),
        session=path,
        run=False,
    )
    assert "nothing submitted" in capsys.readouterr().out
    plan = study.plan()
    assert (plan.submits, plan.max_submits) == (12, 10)
    text, html = repr(plan), plan._repr_html_()
    for shown in (text, html):
        assert "12 paid submits" in shown and "OVER the cap of max_submits=10" in shown
        assert "16:9" in shown and "1:1" in shown
    assert "blocks: 4" in text and "aspect_ratio" in html
    assert "planned, nothing submitted" in repr(study) and not study.started
    assert transport.requests == [] and not path.exists()
    with pytest.raises(BudgetExceededError, match="12 paid submits"):
        study.run()
    assert transport.requests == [] and not path.exists()
    # Nothing was rated or run: the records say so.
    assert {r["state"] for r in study.records()} == {"not_submitted"}
    study.run(max_submits=12)
    assert study.started and study.is_complete and sim.stats.submits == 12
    event = _plan_event(path, study.id)
    assert (event["submits"], event["max_submits"]) == (12, 12)


def test_the_plan_event_holds_the_count_and_the_cap(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    study = luma_nb.study(
        PROMPTS, factors={"loop": [True, False]}, client=make_client(sim, tmp_path), session=path
    )
    event = _plan_event(path, study.id)
    assert (event["submits"], event["max_submits"]) == (4, 20)
    assert event["factors"] == {"loop": [["on", True], ["off", False]]}
    assert event["params"] == {"aspect_ratio": "16:9", "enhancement": True}
    # The plan is the first line about the study: written before any submit.
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["event"] == PLAN_EVENT


# ----------------------------------------------------------------------------- crash, resume


class Crash(Exception):
    """The kernel dies (not a LumaError: nothing in luma_nb handles it)."""


class CrashingTransport(httpx.BaseTransport):
    """The simulator, until the first poll after ``after`` submits: then a crash."""

    def __init__(self, sim: Simulator, after: int, *, in_submit: bool = False) -> None:
        self.inner = sim.transport()
        self.after = after
        self.in_submit = in_submit
        self.posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        submit = request.method == "POST" and request.url.path == VIDEOS
        if submit and self.in_submit and self.posts == self.after:
            raise Crash("killed during the POST, before the server saw it")
        if not submit and not self.in_submit and self.posts >= self.after:
            raise Crash("killed while waiting")
        self.posts += submit
        return self.inner.handle_request(request)


def test_a_crashed_factorial_study_resumes_without_resubmitting(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "s.jsonl"
    crashing = CrashingTransport(sim, after=3)
    with pytest.raises(Crash):
        luma_nb.study(
            PROMPTS,
            factors=FACTORIAL,
            seed=8,
            concurrency=3,
            client=make_client(sim, tmp_path, transport=crashing),
            session=path,
            experiment_id="crashed",
        )
    assert sim.stats.submits == 3
    # A new kernel: a new client, a new SessionLog over the same file.
    transport = RecordingTransport(sim)
    again = resume_experiment(
        "crashed", client=make_client(sim, tmp_path, transport=transport), session=path
    )
    assert sim.stats.submits == sim.stats.tasks_created == 8  # 3 before, 5 after: never twice
    assert len(transport.bodies) == 5
    assert again.is_complete and again.counts() == {"completed": 8}
    assert again.arms == (
        "enhancement=on, loop=on",
        "enhancement=on, loop=off",
        "enhancement=off, loop=on",
        "enhancement=off, loop=off",
    )
    sent = Counter((r["prompt"], r["enhancement"], r["loop"]) for r in again.records())
    assert len(sent) == 8
    again.run()  # finished: nothing more
    assert sim.stats.submits == 8


def test_a_crash_inside_a_submit_is_reported_never_resubmitted(
    sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "s.jsonl"
    with pytest.raises(Crash):
        luma_nb.study(
            PROMPTS,
            factors={"loop": [True, False]},
            seed=1,
            concurrency=1,
            client=make_client(sim, tmp_path, transport=CrashingTransport(sim, 2, in_submit=True)),
            session=path,
            experiment_id="mid-post",
        )
    assert sim.stats.submits == 2
    with pytest.warns(ExperimentWarning, match="unknown submit outcome"):
        again = resume_experiment("mid-post", client=make_client(sim, tmp_path), session=path)
    # The video begun in the dead POST may have been billed: reported, not sent again.
    assert sim.stats.submits == 3
    [unknown] = again.unresolved()
    assert again.counts() == {"completed": 3, unknown["state"]: 1}


# ----------------------------------------------------------------------------- the preset


def test_compare_enhancement_is_the_enhancement_preset(sim: Simulator, tmp_path: Path) -> None:
    common: dict[str, Any] = {
        "seed": 4,
        "client": make_client(sim, tmp_path),
        "run": False,
        "aspect_ratio": "1:1",
    }
    general = luma_nb.study(
        PROMPTS, factors={"enhancement": [True, False]}, session=tmp_path / "a.jsonl", **common
    )
    common.pop("run")
    preset = compare_enhancement(
        PROMPTS, session=tmp_path / "b.jsonl", experiment_id=general.id, **common
    )
    assert preset.arms == general.arms == ("on", "off")
    assert preset.plan().order == general.plan().order
    assert preset.plan().shown_first == general.plan().shown_first
    assert preset.params == general.params == {"aspect_ratio": "1:1", "loop": False}
    assert {r["iteration"].rsplit(".", 1)[1] for r in preset.records()} == {"on", "off"}


def test_a_plan_of_the_first_version_loads_and_resumes(sim: Simulator, tmp_path: Path) -> None:
    """Logs written before factors existed: no "factors", "submits" or "max_submits"."""
    path = tmp_path / "old.jsonl"
    with pytest.warns(ExperimentWarning):
        study = compare_enhancement(
            PROMPTS,
            seed=6,
            concurrency=1,
            max_wait=1,
            client=make_client(sim, tmp_path),
            session=path,
            experiment_id="old",
        )
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for event in lines:
        if event["event"] == PLAN_EVENT:
            for key in ("factors", "submits", "max_submits"):
                del event[key]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    loaded = Experiment.load(path, "old")
    assert loaded.arms == ("on", "off") and loaded.plan().max_submits is None
    assert loaded.plan().order == study.plan().order
    assert "budget: 4 paid submits (one per video)" in repr(loaded.plan())
    again = resume_experiment("old", client=make_client(sim, tmp_path), session=path)
    assert again.is_complete and sim.stats.submits == 4
    assert again.summary().on.planned == 2


# ----------------------------------------------------------------------------- plan events


@pytest.mark.parametrize(
    ("prompts", "factors"),
    [
        (PROMPTS, FACTORIAL),
        (PROMPTS, {"start_image_url": {"none": None, "cat": IMAGE}, "timeout": [30, 60.5]}),
        (
            PromptTemplate("a {animal} at {time}{style}", animal=["fox", "owl"], time=["dawn"]),
            {"style": {"plain": "", "ink": ", in ink"}, "aspect_ratio": ["1:1", "9:21"]},
        ),
    ],
)
def test_every_design_round_trips_through_its_plan_event(
    sim: Simulator, tmp_path: Path, prompts: Any, factors: Any
) -> None:
    study = luma_nb.study(
        prompts, factors=factors, seed=9, client=make_client(sim, tmp_path), run=False
    )
    plan = study.plan()
    event = json.loads(json.dumps(plan.to_event()))  # what the log holds
    again = luma_nb.experiment.Plan.from_event(event)
    assert again.order == plan.order and again.prompts == plan.prompts
    assert [a.name for a in again.arms] == [a.name for a in plan.arms]
    assert [again.request(u) for u in again.units] == [plan.request(u) for u in plan.units]
    assert (again.submits, again.max_submits) == (plan.submits, 20)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("factors", "loop"),
        ("factors", {"loop": [["on", True]]}),
        ("factors", {"loop": [["on", True], ["on", False]]}),
        ("factors", {"loop": [["on", "yes"], ["off", False]]}),
        ("factors", {"wobble": [["a", 1], ["b", 2]]}),
        ("order", [[1, "nope"], [1, "off"], [2, "on"], [2, "off"]]),
        ("template", "a {animal}"),
        ("params", {"loop": True}),
    ],
)
def test_a_hand_edited_plan_event_is_a_clear_error(
    sim: Simulator, tmp_path: Path, key: str, value: Any
) -> None:
    path = tmp_path / "s.jsonl"
    study = luma_nb.study(
        PROMPTS, factors={"loop": [True, False]}, client=make_client(sim, tmp_path), session=path
    )
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    lines[0][key] = value
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    with pytest.raises(ValidationError, match="unreadable"):
        Experiment.load(path, study.id)


def test_a_damaged_cap_is_read_as_unknown(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    study = luma_nb.study(
        PROMPTS, factors={"loop": [True, False]}, client=make_client(sim, tmp_path), session=path
    )
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    lines[0]["max_submits"] = "lots"
    path.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    loaded = Experiment.load(path, study.id)
    assert loaded.plan().max_submits is None and loaded.is_complete


def test_a_lower_cap_holds_back_the_rest_of_a_started_study(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with pytest.warns(ExperimentWarning, match="gave up waiting"):
        study = luma_nb.study(
            PROMPTS,
            factors={"loop": [True, False]},
            concurrency=1,
            max_wait=1,
            client=make_client(sim, tmp_path),
            session=path,
        )
    assert study.counts()["not_submitted"] == 3 and sim.stats.submits == 1
    with pytest.raises(BudgetExceededError, match="3 paid submits") as info:
        study.run(max_submits=2)
    assert info.value.max_submits == 2 and sim.stats.submits == 1
    study.run(max_submits=3)
    assert study.is_complete and sim.stats.submits == 4
