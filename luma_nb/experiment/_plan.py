"""The plan of a study: its design, which videos, in which order, and where it is written.

A study is fully described by its design (prompts, factors, fixed fields), its repeats, its
seed and its budget. The plan is written to the session log as one ``experiment`` event
*before* the first submit, so after a kernel restart the log alone says what was meant to
run, including the videos never submitted. Folding ignores events without an iteration, so
older readers skip it unharmed. Plan events of the first version (an enhancement study: no
``factors``, arms ``on``/``off``) are read as the enhancement design they describe.

Each video is a :class:`Unit`: block ``pair`` (a prompt and a repeat, numbered from 1; a
*pair* when a study has two arms) in an arm. Its iteration id is deterministic
(``<experiment>.p<n>.<arm key>``), which makes a double submit impossible: the session log
refuses to begin an iteration id twice, and its check and write are one atomic step across
processes. The plan itself is written the same way: two processes starting a study with the
same id cannot both write a plan.

A plan read back from a log is validated like a new one (a hand edit may have put any JSON
value anywhere): an unreadable plan is a :class:`~luma_nb.errors.ValidationError`, never a
crash further on.
"""

from __future__ import annotations

import math
import random
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from luma_nb._session_fold import SCHEMA_VERSION, read_events
from luma_nb._version import __version__
from luma_nb.errors import ValidationError
from luma_nb.experiment._design import Arm, Design, Factor, build_design, design_from_event
from luma_nb.experiment._plan_view import plan_html, plan_text
from luma_nb.models import VideoRequest

if TYPE_CHECKING:
    from luma_nb.session_log import SessionLog

__all__ = [
    "ARMS",
    "ENHANCEMENT",
    "PLAN_EVENT",
    "Plan",
    "Unit",
    "check_experiment_id",
    "new_plan",
    "plan_events",
    "read_plan",
    "review_order",
    "shown_first_draw",
    "write_plan",
]

#: The two arms of an enhancement study, by the value of ``enhancement`` they send.
ARMS: Mapping[str, bool] = MappingProxyType({"on": True, "off": False})
#: The factors of an enhancement study (``compare_enhancement``).
ENHANCEMENT: Mapping[str, Any] = MappingProxyType({"enhancement": {"on": True, "off": False}})
#: The session-log event kind that holds a plan.
PLAN_EVENT = "experiment"

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:-]{0,39}")
# Bounds on what a plan read back from a log may say (a hand edit can say anything).
_MAX_SEED = 2**64
_MAX_CONCURRENCY = 1000
_TAG_NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, order=True)
class Unit:
    """One planned video: block ``pair`` (prompt ``prompt_index``, ``repeat``) in arm ``arm``
    (the arm's key)."""

    pair: int
    arm: str
    repeat: int = field(compare=False)
    prompt_index: int = field(compare=False)

    def iteration(self, experiment: str) -> str:
        """The unit's iteration id in the session log."""
        return f"{experiment}.p{self.pair}.{self.arm}"

    def tags(self) -> list[str]:
        """The tags that mark the unit (the rating and note columns stay free for reviewers)."""
        return [f"pair:{self.pair}", f"repeat:{self.repeat}"]


@dataclass(frozen=True, repr=False)
class Plan:
    """Everything that defines a study; see :func:`new_plan`.

    Shows as the design (arms, blocks, paid submits, budget) in a notebook and as text.
    """

    experiment: str
    #: None for a study rebuilt from log rows alone (its order was not drawn by luma_nb).
    seed: int | None
    design: Design
    repeats: int
    concurrency: int
    order: tuple[Unit, ...]
    #: For each pair of a two-arm study, the arm key shown as "A" in the blind review.
    shown_first: Mapping[int, str]
    #: The cap on paid submits the study was started under (None: a log of the first version).
    max_submits: int | None = None
    created_at: float = 0.0
    toolkit_version: str = __version__

    @property
    def prompts(self) -> tuple[str, ...]:
        """The prompts, one per prompt index (a template's factor slots shown as "…")."""
        return self.design.prompts

    @property
    def params(self) -> Mapping[str, Any]:
        """The fixed request fields, sent explicitly in every arm."""
        return self.design.fixed

    @property
    def arms(self) -> tuple[Arm, ...]:
        """The arms, in design order (the first factor's levels vary slowest)."""
        return self.design.arms

    @property
    def factors(self) -> tuple[Factor, ...]:
        """The factors, in the order given."""
        return self.design.factors

    @property
    def submits(self) -> int:
        """The paid submits of the whole study: one per planned video."""
        return len(self.order)

    @property
    def units(self) -> tuple[Unit, ...]:
        """The units in pair order, and in arm order within a pair."""
        rank = {arm.key: n for n, arm in enumerate(self.arms)}
        return tuple(sorted(self.order, key=lambda u: (u.pair, rank.get(u.arm, len(rank)))))

    @property
    def pairs(self) -> tuple[int, ...]:
        """The block (pair) numbers, ascending."""
        return tuple(sorted({unit.pair for unit in self.order}))

    def arm(self, wanted: str) -> Arm:
        """The arm whose key or name is ``wanted`` (ValidationError when none is)."""
        return self.design.arm(wanted)

    def unit(self, pair: int, arm: str) -> Unit:
        """The unit of ``pair`` in ``arm`` (key or name; ValidationError when there is none)."""
        key = self.arm(arm).key
        for unit in self.order:
            if unit.pair == pair and unit.arm == key:
                return unit
        raise ValidationError(f"experiment {self.experiment} has no pair {pair!r} in arm {arm!r}")

    def prompt_of(self, pair: int) -> str:
        """The prompt of a block, as shown for all its arms."""
        for unit in self.order:
            if unit.pair == pair:
                return self.prompts[unit.prompt_index]
        raise ValidationError(f"experiment {self.experiment} has no pair {pair!r}")

    def prompt(self, unit: Unit) -> str:
        """The prompt sent for ``unit``."""
        return self.design.prompt(unit.prompt_index, self.arm(unit.arm))

    def request(self, unit: Unit) -> VideoRequest:
        """The request of a unit: every field explicit, the arm's levels applied."""
        return self.design.request(unit.prompt_index, self.arm(unit.arm))

    def text(self) -> str:
        """The design in plain text."""
        return plan_text(self)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        return plan_html(self)

    def to_event(self) -> dict[str, Any]:
        """The plan as the payload of an ``experiment`` event."""
        return {
            "experiment": self.experiment,
            "seed": self.seed,
            **self.design.to_event(),
            "repeats": self.repeats,
            "concurrency": self.concurrency,
            "order": [[u.pair, u.arm] for u in self.order],
            "shown_first": {str(pair): arm for pair, arm in self.shown_first.items()},
            "submits": self.submits,
            "max_submits": self.max_submits,
            "toolkit_version": self.toolkit_version,
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Plan:
        """Read a plan back from its ``experiment`` event, validated as a new plan is.

        Raises :class:`ValidationError` when the event does not describe a study (a hand
        edit): every field is checked for its type and range before it is used.
        """
        experiment = event.get("experiment")
        try:
            check_experiment_id(experiment)
            assert isinstance(experiment, str)
            design = design_from_event(event)
            repeats = _whole(event.get("repeats"), "repeats", 1)
            seed = _whole(event.get("seed"), "seed", 0)
            if seed >= _MAX_SEED:
                raise ValidationError(f"seed {seed} is out of range", field="seed")
            order = _read_order(event.get("order"), design, repeats)
        except ValidationError as exc:
            raise ValidationError(
                f"the experiment event of {experiment!r} in the log is unreadable: {exc}",
                field="experiment_id",
            ) from exc
        pairs = range(1, len(design.prompts) * repeats + 1)
        # A plan written without the draw (or with a damaged one) gets it again: the draw is
        # deterministic, so the blind review hides the arms the same way.
        shown = dict(_shown_first(experiment, seed, pairs, design.arms))
        written = event.get("shown_first")
        keys = {arm.key for arm in design.arms}
        if isinstance(written, Mapping) and shown:
            for key, arm in written.items():
                if (
                    isinstance(key, str)
                    and _TAG_NUMBER.fullmatch(key)
                    and int(key) in shown
                    and isinstance(arm, str)
                    and arm in keys
                ):
                    shown[int(key)] = arm
        concurrency = event.get("concurrency")
        cap = event.get("max_submits")
        version = event.get("toolkit_version")
        return cls(
            experiment=experiment,
            seed=seed,
            design=design,
            repeats=repeats,
            concurrency=(
                concurrency
                if type(concurrency) is int and 1 <= concurrency <= _MAX_CONCURRENCY
                else 1
            ),
            order=order,
            shown_first=MappingProxyType(shown),
            max_submits=cap if type(cap) is int and cap >= 1 else None,
            created_at=_epoch(event.get("t")),
            toolkit_version=version if isinstance(version, str) else "",
        )


def _epoch(value: object) -> float:
    """A time read back from a log: a finite number, else 0.0 (unknown)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    try:
        result = float(value)
    except OverflowError:  # an integer beyond any float
        return 0.0
    return result if math.isfinite(result) else 0.0


def _read_order(value: object, design: Design, repeats: int) -> tuple[Unit, ...]:
    """The submission order of a plan event: every (pair, arm) of the study exactly once."""
    blocks = len(design.prompts) * repeats
    keys = {arm.key for arm in design.arms}
    if not isinstance(value, list) or len(value) != blocks * len(keys):
        raise ValidationError(
            f"order must list the study's {blocks * len(keys)} videos", field="order"
        )
    order: list[Unit] = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2):
            raise ValidationError(f"an order entry is [pair, arm], not {item!r}", field="order")
        pair, arm = item
        if (
            type(pair) is not int
            or not 1 <= pair <= blocks
            or not isinstance(arm, str)
            or arm not in keys
        ):
            raise ValidationError(f"no such video of the study: {item!r}", field="order")
        order.append(make_unit(pair, arm, repeats))
    if len(set(order)) != len(order):
        raise ValidationError("order lists a video twice", field="order")
    return tuple(order)


def make_unit(pair: int, arm: str, repeats: int) -> Unit:
    """The unit of block ``pair`` in the arm keyed ``arm`` (blocks run prompt by prompt)."""
    if pair < 1:
        raise ValueError(f"no such unit: pair {pair}, arm {arm!r}")
    return Unit(
        pair=pair, arm=arm, repeat=(pair - 1) % repeats + 1, prompt_index=(pair - 1) // repeats
    )


def shown_first_draw(
    experiment: str, seed: int | None, pairs: Iterable[int], arms: tuple[Arm, ...] | None = None
) -> Mapping[int, str]:
    """For each pair, the arm key shown as "A" in the blind review: a seeded, stable draw.

    Only a two-arm study has pairs to show as A and B; for any other the draw is empty.
    """
    return _shown_first(experiment, seed, pairs, arms)


def _shown_first(
    experiment: str, seed: int | None, pairs: Iterable[int], arms: tuple[Arm, ...] | None
) -> Mapping[int, str]:
    keys = ("on", "off") if arms is None else tuple(arm.key for arm in arms)
    if len(keys) != 2:
        return MappingProxyType({})
    # A string seed is hashed (SHA-512) by random.Random, so the draw is the same in every
    # process and Python version: a review reopened after a restart hides the arms the same way.
    return MappingProxyType(
        {
            pair: keys[0 if random.Random(f"{experiment}|{seed}|{pair}").random() < 0.5 else 1]
            for pair in pairs
        }
    )


def review_order(plan: Plan) -> list[Unit]:
    """The order of the blind review of a study of three or more arms: every video, shuffled
    across blocks and arms by a draw seeded like the A/B draw (stable across restarts)."""
    units = list(plan.units)
    random.Random(f"{plan.experiment}|{plan.seed}|review").shuffle(units)
    return units


def _whole(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(
            f"{name} must be a whole number of at least {minimum}, not {value!r}", field=name
        )
    return value


def check_experiment_id(experiment: object) -> str:
    """An experiment id: 1-40 letters, digits, ``_``, ``:`` or ``-``, starting alphanumeric."""
    if not isinstance(experiment, str) or not _ID.fullmatch(experiment):
        raise ValidationError(
            "an experiment id is 1 to 40 letters, digits, '_', ':' or '-' (starting with a "
            f"letter or digit), not {experiment!r}",
            field="experiment_id",
        )
    return experiment


def new_plan(
    prompts: object,
    *,
    repeats: object,
    concurrency: object,
    seed: object,
    params: Mapping[str, Any],
    experiment: str | None = None,
    factors: object = ENHANCEMENT,
    max_submits: int | None = None,
) -> Plan:
    """Validate a study's arguments (before anything is sent) and draw its order.

    ``factors`` defaults to the enhancement study's (on/off). ``seed`` None draws a fresh
    seed, which is recorded: the order can always be reproduced.

    The order is randomised in blocks: the blocks (prompt x repeat) in a shuffled order, and
    the arms of each block shuffled within it. Both arms (or all) of a block then run at
    about the same time, so drift of the service (load, queueing, a model update) falls on
    every arm of a block alike, and no arm is systematically first.
    """
    repeat_count = _whole(repeats, "repeats", 1)
    bound = _whole(concurrency, "concurrency", 1)
    if bound > _MAX_CONCURRENCY:
        raise ValidationError(
            f"concurrency must be at most {_MAX_CONCURRENCY}, not {bound}", field="concurrency"
        )
    if seed is None:
        seed = secrets.randbelow(2**32)
    chosen_seed = _whole(seed, "seed", 0)
    if chosen_seed >= _MAX_SEED:
        raise ValidationError(f"seed must be below 2**64, not {chosen_seed}", field="seed")
    design = build_design(prompts, factors, params, repeats=repeat_count)
    experiment = check_experiment_id(experiment or "exp-" + secrets.token_hex(4))
    rng = random.Random(chosen_seed)
    blocks = list(range(1, len(design.prompts) * repeat_count + 1))
    rng.shuffle(blocks)
    order: list[Unit] = []
    for pair in blocks:
        keys = [arm.key for arm in design.arms]
        rng.shuffle(keys)
        order.extend(make_unit(pair, key, repeat_count) for key in keys)
    return Plan(
        experiment=experiment,
        seed=chosen_seed,
        design=design,
        repeats=repeat_count,
        concurrency=bound,
        order=tuple(order),
        shown_first=_shown_first(experiment, chosen_seed, sorted(blocks), design.arms),
        max_submits=max_submits,
        created_at=time.time(),
    )


def write_plan(log: SessionLog, plan: Plan) -> None:
    """Append the plan to the session log as an ``experiment`` event (no iteration).

    Refused (:class:`ValidationError`) when the log already mentions the experiment — a plan
    or a video of it. The check reads the file under the append's exclusive lock, so of two
    processes that start a study with the same id at the same instant, one writes its plan.
    """
    event: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "event": PLAN_EVENT,
        "t": round(plan.created_at or time.time(), 3),
        "session": log.session_id,
        "iteration": None,  # not about one iteration: the fold skips it
    }
    event.update(plan.to_event())

    def check(fd: int) -> None:
        events = read_events(log.path, 0, 1, fd=fd)[0]
        if any(e.get("experiment") == plan.experiment for e in events):
            raise ValidationError(
                f"the session log already has an experiment {plan.experiment!r}; choose "
                "another id, or continue it with resume_experiment",
                field="experiment_id",
            )

    log._append_checked(event, check)


def plan_events(log: SessionLog) -> list[dict[str, Any]]:
    """Every ``experiment`` event of the log, in file order."""
    if not log.path.exists():
        return []
    return [event for event in log.events() if event.get("event") == PLAN_EVENT]


def read_plan(log: SessionLog, experiment: str) -> Plan | None:
    """The plan of ``experiment`` from the log, or None when the log has none.

    The first readable plan event of the experiment wins; when there are only unreadable
    ones (hand edits), the first one's :class:`ValidationError` is raised.
    """
    found = [e for e in plan_events(log) if e.get("experiment") == experiment]
    errors: list[ValidationError] = []
    for event in found:
        try:
            return Plan.from_event(event)
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
    return None
