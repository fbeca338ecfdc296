"""The plan of an enhancement study: which videos, in which order, and where it is written.

A study is fully described by its prompts, repeats, common parameters and seed. The plan is
written to the session log as one ``experiment`` event *before* the first submit, so after a
kernel restart the log alone says what was meant to run, including the videos that were never
submitted. Folding ignores events without an iteration, so older readers skip it unharmed.

Each video is a :class:`Unit`: pair ``n`` (a prompt and a repeat, numbered from 1) in arm
``"on"`` or ``"off"``. Its iteration id is deterministic (``<experiment>.p<n>.<arm>``), which
makes a double submit impossible: the session log refuses to begin an iteration id twice, and
its check and write are one atomic step across processes (two kernels resuming one study at
the same instant claim each video once). The plan itself is written the same way: two
processes starting a study with the same id cannot both write a plan.

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
from luma_nb.client import build_request
from luma_nb.errors import ValidationError
from luma_nb.models import VideoRequest

if TYPE_CHECKING:
    from luma_nb.session_log import SessionLog

__all__ = [
    "ARMS",
    "PLAN_EVENT",
    "Plan",
    "Unit",
    "check_experiment_id",
    "new_plan",
    "plan_events",
    "read_plan",
    "shown_first_draw",
    "write_plan",
]

#: The two arms, by the value of ``enhancement`` they send.
ARMS: Mapping[str, bool] = MappingProxyType({"on": True, "off": False})
#: The session-log event kind that holds a plan.
PLAN_EVENT = "experiment"

# Parameters a study may hold fixed; everything else is either set by the study (enhancement,
# prompt, action) or is not a request field at all.
_COMMON = ("aspect_ratio", "loop", "start_image_url", "end_image_url", "callback_url", "timeout")
_SET_BY_STUDY = {
    "enhancement": "compare_enhancement sets enhancement itself (on in one arm, off in the "
    "other); remove it from the common parameters",
    "prompt": "give the prompts as the first argument",
    "action": "an enhancement study generates; it cannot extend",
    "sync": "a study always submits in async mode and polls",
    "video_id": "an enhancement study generates; it cannot extend",
    "video_url": "an enhancement study generates; it cannot extend",
}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:-]{0,39}")
# Bounds on what a plan read back from a log may say (a hand edit can say anything).
_MAX_SEED = 2**64
_MAX_CONCURRENCY = 1000
_TAG_NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, order=True)
class Unit:
    """One planned video: pair ``pair`` (prompt ``prompt_index``, repeat ``repeat``), ``arm``."""

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


@dataclass(frozen=True)
class Plan:
    """Everything that defines a study; see :func:`new_plan`."""

    experiment: str
    #: None for a study rebuilt from log rows alone (its order was not drawn by luma_nb).
    seed: int | None
    prompts: tuple[str, ...]
    repeats: int
    concurrency: int
    params: Mapping[str, Any]
    order: tuple[Unit, ...]
    #: For each pair, the arm shown as "A" in the blind review.
    shown_first: Mapping[int, str]
    created_at: float = 0.0
    toolkit_version: str = __version__

    @property
    def units(self) -> tuple[Unit, ...]:
        """The units in pair order, "on" before "off"."""
        return tuple(sorted(self.order, key=lambda u: (u.pair, u.arm != "on")))

    @property
    def pairs(self) -> tuple[int, ...]:
        """The pair numbers, ascending."""
        return tuple(sorted({unit.pair for unit in self.order}))

    def unit(self, pair: int, arm: str) -> Unit:
        """The unit of ``pair`` in ``arm`` (ValidationError when the plan has none)."""
        for unit in self.order:
            if unit.pair == pair and unit.arm == arm:
                return unit
        raise ValidationError(f"experiment {self.experiment} has no pair {pair!r} in arm {arm!r}")

    def prompt_of(self, pair: int) -> str:
        """The prompt of a pair."""
        return self.prompts[self.unit(pair, "on").prompt_index]

    def request(self, unit: Unit) -> VideoRequest:
        """The request of a unit: the common parameters, sent explicitly, plus its arm."""
        return VideoRequest(
            action="generate",
            prompt=self.prompts[unit.prompt_index],
            enhancement=ARMS[unit.arm],
            **self.params,
        )

    def to_event(self) -> dict[str, Any]:
        """The plan as the payload of an ``experiment`` event."""
        return {
            "experiment": self.experiment,
            "seed": self.seed,
            "prompts": list(self.prompts),
            "repeats": self.repeats,
            "concurrency": self.concurrency,
            "params": dict(self.params),
            "order": [[u.pair, u.arm] for u in self.order],
            "shown_first": {str(pair): arm for pair, arm in self.shown_first.items()},
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
            prompts = _prompts(event.get("prompts"))
            repeats = _whole(event.get("repeats"), "repeats", 1)
            seed = _whole(event.get("seed"), "seed", 0)
            if seed >= _MAX_SEED:
                raise ValidationError(f"seed {seed} is out of range", field="seed")
            params = _common_params(prompts[0], _mapping(event.get("params"), "params"))
            for prompt in prompts[1:]:
                VideoRequest(action="generate", prompt=prompt, **params)
            order = _read_order(event.get("order"), len(prompts), repeats)
        except ValidationError as exc:
            raise ValidationError(
                f"the experiment event of {experiment!r} in the log is unreadable: {exc}",
                field="experiment_id",
            ) from exc
        pairs = range(1, len(prompts) * repeats + 1)
        # A plan written without the draw (or with a damaged one) gets it again: the draw is
        # deterministic, so the blind review hides the arms the same way.
        shown = dict(_shown_first(experiment, seed, pairs))
        written = event.get("shown_first")
        if isinstance(written, Mapping):
            for key, arm in written.items():
                if (
                    isinstance(key, str)
                    and _TAG_NUMBER.fullmatch(key)
                    and int(key) in shown
                    and isinstance(arm, str)
                    and arm in ARMS
                ):
                    shown[int(key)] = arm
        concurrency = event.get("concurrency")
        created = event.get("t")
        version = event.get("toolkit_version")
        return cls(
            experiment=experiment,
            seed=seed,
            prompts=prompts,
            repeats=repeats,
            concurrency=(
                concurrency
                if type(concurrency) is int and 1 <= concurrency <= _MAX_CONCURRENCY
                else 1
            ),
            params=MappingProxyType(params),
            order=order,
            shown_first=MappingProxyType(shown),
            created_at=_epoch(created),
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


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be an object, not {value!r}", field=name)
    return value


def _read_order(value: object, prompts: int, repeats: int) -> tuple[Unit, ...]:
    """The submission order of a plan event: every (pair, arm) of the study exactly once."""
    if not isinstance(value, list) or len(value) != 2 * prompts * repeats:
        raise ValidationError(
            f"order must list the study's {2 * prompts * repeats} videos", field="order"
        )
    order: list[Unit] = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2):
            raise ValidationError(f"an order entry is [pair, arm], not {item!r}", field="order")
        pair, arm = item
        if (
            type(pair) is not int
            or not 1 <= pair <= prompts * repeats
            or not isinstance(arm, str)
            or arm not in ARMS
        ):
            raise ValidationError(f"no such video of the study: {item!r}", field="order")
        order.append(_unit(pair, arm, repeats))
    if len(set(order)) != len(order):
        raise ValidationError("order lists a video twice", field="order")
    return tuple(order)


def _unit(pair: int, arm: str, repeats: int) -> Unit:
    if arm not in ARMS or pair < 1:
        raise ValueError(f"no such unit: pair {pair}, arm {arm!r}")
    return Unit(
        pair=pair, arm=arm, repeat=(pair - 1) % repeats + 1, prompt_index=(pair - 1) // repeats
    )


def shown_first_draw(experiment: str, seed: int | None, pairs: Iterable[int]) -> Mapping[int, str]:
    """For each pair, the arm shown as "A" in the blind review: a seeded, stable draw."""
    return _shown_first(experiment, seed, pairs)


def _shown_first(experiment: str, seed: int | None, pairs: Iterable[int]) -> Mapping[int, str]:
    # A string seed is hashed (SHA-512) by random.Random, so the draw is the same in every
    # process and Python version: a review reopened after a restart hides the arms the same way.
    return MappingProxyType(
        {
            pair: ("on" if random.Random(f"{experiment}|{seed}|{pair}").random() < 0.5 else "off")
            for pair in pairs
        }
    )


def _whole(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(
            f"{name} must be a whole number of at least {minimum}, not {value!r}", field=name
        )
    return value


def _prompts(prompts: object) -> tuple[str, ...]:
    if isinstance(prompts, str):
        # A bare string would be read as a list of one-letter prompts.
        raise ValidationError(
            "prompts must be a list of prompts; for one prompt write [prompt]", field="prompts"
        )
    if not isinstance(prompts, Iterable) or isinstance(prompts, (bytes, Mapping)):
        raise ValidationError(f"prompts must be a list of text, not {prompts!r}", field="prompts")
    result = tuple(prompts)
    if not result:
        raise ValidationError("an enhancement study needs at least one prompt", field="prompts")
    for prompt in result:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValidationError(
                f"every prompt must be non-empty text, not {prompt!r}", field="prompts"
            )
    return result


def _common_params(prompt: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The explicit common parameters: defaults filled in, unknown names refused."""
    for name in given:
        if name in _SET_BY_STUDY:
            raise ValidationError(_SET_BY_STUDY[name], field=name)
    options = {name: given[name] for name in _COMMON if name in given}
    unknown = {name: value for name, value in given.items() if name not in _COMMON}
    # build_request validates every value and names a misspelt parameter.
    request = build_request(
        "generate", prompt=prompt, options={**options, "enhancement": True}, unknown=unknown
    )
    # Both arms send these explicitly, defaults included, so no result depends on a server
    # default that might differ between arms or change mid-study.
    params: dict[str, Any] = {"aspect_ratio": request.aspect_ratio, "loop": request.loop}
    for name in ("start_image_url", "end_image_url", "callback_url", "timeout"):
        value = getattr(request, name)
        if value is not None:
            params[name] = value
    return params


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
) -> Plan:
    """Validate a study's arguments (before anything is sent) and draw its order.

    ``seed`` None draws a fresh seed, which is recorded: the order can always be reproduced.
    """
    prompt_list = _prompts(prompts)
    repeat_count = _whole(repeats, "repeats", 1)
    bound = _whole(concurrency, "concurrency", 1)
    if seed is None:
        seed = secrets.randbelow(2**32)
    chosen_seed = _whole(seed, "seed", 0)
    common = _common_params(prompt_list[0], params)
    for prompt in prompt_list[1:]:
        VideoRequest(action="generate", prompt=prompt, **common)  # each prompt validated now
    experiment = check_experiment_id(experiment or "exp-" + secrets.token_hex(4))
    units = [
        _unit(pair, arm, repeat_count)
        for pair in range(1, len(prompt_list) * repeat_count + 1)
        for arm in ARMS
    ]
    # A random order spreads any drift of the service (load, queueing, a model update during
    # the study) over both arms instead of letting it line up with one of them.
    random.Random(chosen_seed).shuffle(units)
    pairs = range(1, len(prompt_list) * repeat_count + 1)
    return Plan(
        experiment=experiment,
        seed=chosen_seed,
        prompts=prompt_list,
        repeats=repeat_count,
        concurrency=bound,
        params=MappingProxyType(common),
        order=tuple(units),
        shown_first=_shown_first(experiment, chosen_seed, pairs),
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
