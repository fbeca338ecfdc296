"""A study rebuilt from the session-log rows of a comparison that has no plan event.

For comparisons run by hand (``luma_nb.generate(..., experiment=..., arm="on",
tags=["pair:1"])``) or logs written by other tools. The rows come from
:meth:`SessionLog.to_records` (every value of its documented type or None), and a hand edit
may still have put odd text anywhere: tags that are not numbers, arms that are not arms.
Such rows are left out, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from luma_nb.errors import ValidationError
from luma_nb.experiment._design import Arm, Design, Factor
from luma_nb.experiment._plan import ARMS, Plan, Unit, shown_first_draw
from luma_nb.models import VideoRequest

__all__ = ["plan_from_rows"]

_TAG_NUMBER = re.compile(r"[0-9]{1,9}")


def _tag_number(tags: Iterable[object], name: str) -> int | None:
    for tag in tags:
        if not isinstance(tag, str):
            continue
        key, _, value = tag.partition(":")
        # ASCII digits only ("²".isdigit() is True, int("²") fails), and a sane length.
        if key == name and _TAG_NUMBER.fullmatch(value):
            return int(value)
    return None


def _arm_of(row: Mapping[str, Any]) -> str | None:
    arm = row.get("arm")
    if isinstance(arm, str) and arm in ARMS:
        return arm
    enhancement = row.get("enhancement")
    if not isinstance(enhancement, bool):
        return None
    return "on" if enhancement else "off"


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
        if row.get("action", "generate") == "generate"
        and isinstance(row.get("prompt"), str)
        and row["prompt"]
        and isinstance(row.get("iteration"), str)
        and _arm_of(row)
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
    tagged = any(_tag_number(_tags(row), "pair") is not None for row in usable)
    keys: dict[tuple[int, str], tuple[int, int, int]] = {}  # (pair, arm) -> key parts
    found: dict[tuple[Any, str], str] = {}
    seen: dict[tuple[int, str], int] = {}
    for row in usable:
        arm = str(_arm_of(row))
        index = prompts.index(row["prompt"])
        tags = _tags(row)
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
    params = _row_params(usable[0])
    plan = Plan(
        experiment=experiment,
        seed=None,
        design=_enhancement_design(prompts, params),
        repeats=max(repeat for _index, repeat in numbered.values()),
        concurrency=4,
        order=tuple(units),
        shown_first=shown_first_draw(experiment, None, numbered),
        created_at=0.0,
        toolkit_version="",
    )
    return plan, {(int(pair), arm): it for (pair, arm), it in found.items()}


def _tags(row: Mapping[str, Any]) -> list[object]:
    tags = row.get("tags")
    return tags if isinstance(tags, list) else []


def _enhancement_design(prompts: list[str], params: Mapping[str, Any]) -> Design:
    """The on/off design of rows logged by hand. Built as is, not validated: the rows were
    sent already, and a prompt a hand edit made unsendable must not hide the study."""
    factor = Factor(name="enhancement", labels=tuple(ARMS), values=tuple(ARMS.values()))
    return Design(
        prompts=tuple(prompts),
        factors=(factor,),
        arms=tuple(Arm(key=label, levels=(("enhancement", label),)) for label in ARMS),
        fixed=MappingProxyType(dict(params)),
    )


def _row_params(row: Mapping[str, Any]) -> dict[str, Any]:
    """The common parameters of a study rebuilt from rows: those of its first row, when they
    make a valid request (a hand-edited row may not), else the defaults."""
    params: dict[str, Any] = {
        "aspect_ratio": row.get("aspect_ratio") or "16:9",
        "loop": row.get("loop") is True,
    }
    for name in ("start_image_url", "end_image_url", "callback_url", "timeout"):
        if row.get(name) is not None:
            params[name] = row[name]
    try:
        VideoRequest(action="generate", prompt="a prompt", enhancement=True, **params)
    except ValidationError:
        return {"aspect_ratio": "16:9", "loop": False}
    return params
