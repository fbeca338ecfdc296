"""The plan of an enhancement study: which videos, in which order, and where it is written.

A study is fully described by its prompts, repeats, common parameters and seed. The plan is
written to the session log as one ``experiment`` event *before* the first submit, so after a
kernel restart the log alone says what was meant to run, including the videos that were never
submitted. Folding ignores events without an iteration, so older readers skip it unharmed.

Each video is a :class:`Unit`: pair ``n`` (a prompt and a repeat, numbered from 1) in arm
``"on"`` or ``"off"``. Its iteration id is deterministic (``<experiment>.p<n>.<arm>``), which
makes a double submit impossible: the session log refuses to begin an iteration id twice.
"""

from __future__ import annotations

import random
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from luma_nb._session_fold import SCHEMA_VERSION, append_line, encode_event
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
        """Read a plan back from its ``experiment`` event."""
        try:
            prompts = tuple(str(p) for p in event["prompts"])
            repeats = int(event["repeats"])
            experiment = str(event["experiment"])
            seed = int(event["seed"])
            order = tuple(
                _unit(int(pair), str(arm), repeats) for pair, arm in event.get("order") or ()
            )
            pairs = range(1, len(prompts) * repeats + 1)
            shown = {int(k): str(v) for k, v in (event.get("shown_first") or {}).items()}
            plan = cls(
                experiment=experiment,
                seed=seed,
                prompts=prompts,
                repeats=repeats,
                concurrency=int(event.get("concurrency") or 1),
                params=MappingProxyType(dict(event.get("params") or {})),
                order=order,
                # A plan written without the draw gets it again: it is deterministic.
                shown_first=MappingProxyType(shown) or _shown_first(experiment, seed, pairs),
                created_at=float(event.get("t") or 0.0),
                toolkit_version=str(event.get("toolkit_version") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"the experiment event in the log is unreadable: {exc}") from exc
        expected = {(p, arm) for p in plan.pairs for arm in ARMS}
        if {(u.pair, u.arm) for u in order} != expected or len(order) != len(expected):
            raise ValidationError(
                f"the experiment event of {experiment!r} lists other videos than its prompts "
                "and repeats describe"
            )
        return plan


def _unit(pair: int, arm: str, repeats: int) -> Unit:
    if arm not in ARMS or pair < 1:
        raise ValueError(f"no such unit: pair {pair}, arm {arm!r}")
    return Unit(
        pair=pair, arm=arm, repeat=(pair - 1) % repeats + 1, prompt_index=(pair - 1) // repeats
    )


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
    """Append the plan to the session log as an ``experiment`` event (no iteration)."""
    event: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "event": PLAN_EVENT,
        "t": round(plan.created_at or time.time(), 3),
        "session": log.session_id,
        "iteration": None,  # not about one iteration: the fold skips it
    }
    event.update(plan.to_event())
    append_line(log.path, encode_event(event), fsync=log.fsync)


def plan_events(log: SessionLog) -> list[dict[str, Any]]:
    """Every ``experiment`` event of the log, in file order."""
    if not log.path.exists():
        return []
    return [event for event in log.events() if event.get("event") == PLAN_EVENT]


def read_plan(log: SessionLog, experiment: str) -> Plan | None:
    """The plan of ``experiment`` from the log, or None when the log has none."""
    found = [e for e in plan_events(log) if e.get("experiment") == experiment]
    return Plan.from_event(found[0]) if found else None


def _tag_number(tags: Iterable[str], name: str) -> int | None:
    for tag in tags:
        key, _, value = tag.partition(":")
        if key == name and value.isdigit():
            return int(value)
    return None


def _arm_of(row: Mapping[str, Any]) -> str | None:
    if row.get("arm") in ARMS:
        return str(row["arm"])
    enhancement = row.get("enhancement")
    return None if enhancement is None else ("on" if enhancement else "off")


def plan_from_rows(
    experiment: str, rows: Iterable[Mapping[str, Any]]
) -> tuple[Plan, dict[tuple[int, str], str]]:
    """Rebuild a plan from the log rows of a study that has no ``experiment`` event.

    For comparisons run by hand (``luma_nb.generate(..., experiment=..., arm="on",
    tags=["pair:1"])``) or logs written by other tools. Arms come from the ``arm`` column
    (``"on"``/``"off"``), else from ``enhancement``; pairs from ``pair:<n>`` tags, else the
    k-th video of a prompt in one arm pairs with the k-th in the other. Returns the plan and
    the iteration id of each ``(pair, arm)`` found (when one arm appears twice the later wins).
    """
    usable = [
        row
        for row in rows
        if row.get("action", "generate") == "generate" and row.get("prompt") and _arm_of(row)
    ]
    if not usable:
        raise ValidationError(
            f"the session log has no generate rows of experiment {experiment!r} with an arm "
            "('on'/'off') or an enhancement value",
            field="experiment_id",
        )
    prompts: list[str] = []
    for row in usable:
        if row["prompt"] not in prompts:
            prompts.append(row["prompt"])
    tagged = any(_tag_number(row.get("tags") or (), "pair") is not None for row in usable)
    keys: dict[tuple[int, str], tuple[int, int, int]] = {}  # (pair, arm) -> key parts
    found: dict[tuple[Any, str], str] = {}
    seen: dict[tuple[int, str], int] = {}
    for row in usable:
        arm = str(_arm_of(row))
        index = prompts.index(row["prompt"])
        tags = row.get("tags") or ()
        if tagged:
            pair = _tag_number(tags, "pair")
            if pair is None:
                continue
            found[(pair, arm)] = row["iteration"]
            keys[(pair, arm)] = (pair, index, _tag_number(tags, "repeat") or 1)
        else:
            k = seen.get((index, arm), 0)
            seen[(index, arm)] = k + 1
            found[((index, k), arm)] = row["iteration"]
    if tagged:
        numbered = {pair: (index, repeat) for (pair, _arm), (_, index, repeat) in keys.items()}
    else:
        ordered = sorted({key for key, _arm in found})
        numbered = {n: (index, k + 1) for n, (index, k) in enumerate(ordered, start=1)}
        renumber = {key: n for n, key in enumerate(ordered, start=1)}
        found = {(renumber[key], arm): it for (key, arm), it in found.items()}
    units = [
        Unit(pair=pair, arm=arm, repeat=repeat, prompt_index=index)
        for pair, (index, repeat) in sorted(numbered.items())
        for arm in ARMS
    ]
    position = {it: n for n, it in enumerate(row["iteration"] for row in usable)}
    # Submission order as the log saw it; arms never begun go last.
    units.sort(key=lambda u: position.get(found.get((u.pair, u.arm), ""), len(position)))
    first = usable[0]
    params: dict[str, Any] = {
        "aspect_ratio": first.get("aspect_ratio") or "16:9",
        "loop": bool(first.get("loop")),
    }
    for name in ("start_image_url", "end_image_url", "callback_url", "timeout"):
        if first.get(name) is not None:
            params[name] = first[name]
    plan = Plan(
        experiment=experiment,
        seed=None,
        prompts=tuple(prompts),
        repeats=max(repeat for _index, repeat in numbered.values()),
        concurrency=4,
        params=MappingProxyType(params),
        order=tuple(units),
        shown_first=_shown_first(experiment, None, numbered),
        created_at=0.0,
        toolkit_version="",
    )
    return plan, {(int(pair), arm): it for (pair, arm), it in found.items()}
