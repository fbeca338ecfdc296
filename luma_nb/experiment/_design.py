"""The design of a study: its prompts, its factors and their levels, and the arms they make.

A study crosses *blocks* (each prompt, times each repeat) with *arms* (every combination of
the factors' levels: a full factorial). A factor varies one request field (``enhancement``,
``loop``, ``aspect_ratio``, ``start_image_url``...) or one slot of a :class:`PromptTemplate`
(prompt variants). Every other request field is held fixed and sent explicitly in every
request, defaults included, so no arm depends on a server default.

Everything is validated here, before anything is sent or logged: unknown names (with the
nearest known one), a factor also given as a fixed field, a factor of fewer than two levels,
a level given twice, and every value — each arm's request for each prompt is built as a
:class:`~luma_nb.models.VideoRequest`, whose validation is the client's own.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from luma_nb.errors import ValidationError
from luma_nb.experiment._template import PromptTemplate
from luma_nb.models import VideoRequest

__all__ = [
    "ALWAYS_SENT",
    "MAX_CELLS",
    "REQUEST_FIELDS",
    "Arm",
    "Design",
    "Factor",
    "PromptTemplate",
    "build_design",
    "design_from_event",
]

#: The request fields a study may vary (as a factor) or hold fixed.
REQUEST_FIELDS = (
    "aspect_ratio",
    "loop",
    "enhancement",
    "start_image_url",
    "end_image_url",
    "callback_url",
    "timeout",
)
#: Fields sent in every request, their defaults included (the others are sent when given).
ALWAYS_SENT: Mapping[str, Any] = MappingProxyType(
    {"aspect_ratio": "16:9", "loop": False, "enhancement": True}
)
#: The most videos a design may hold (prompts x arms x repeats), whatever the budget says.
MAX_CELLS = 10_000
_NOT_A_FIELD = {
    "prompt": "give the prompts as the first argument; for prompt variants use a "
    "PromptTemplate whose slot is a factor, e.g. PromptTemplate('a fox{style}') with "
    "factors={'style': ['', ', in watercolour']}",
    "action": "a study generates; it cannot extend",
    "video_id": "a study generates; it cannot extend",
    "video_url": "a study generates; it cannot extend",
    "sync": "a study always submits in async mode and polls",
}
_MAX_LEVELS = 50
_MAX_LABEL = 40
_AUTO_LABEL = 24  # a text value this short is its own label
_KEY = re.compile(r"[A-Za-z0-9_:.+-]{1,16}")
#: Shown in place of a factor's slot where the prompt is shown for all arms at once.
HIDDEN_SLOT = "…"


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Factor:
    """One factor: a request field or a template slot, and its levels (label, value)."""

    name: str
    labels: tuple[str, ...]
    values: tuple[Any, ...]
    #: True for a slot of the prompt template, False for a request field.
    slot: bool = False

    def value(self, label: str) -> Any:
        """The value of the level labelled ``label``."""
        return self.values[self.labels.index(label)]

    def to_event(self) -> list[list[Any]]:
        """The levels as ``[[label, value], ...]`` (JSON)."""
        return [[label, value] for label, value in zip(self.labels, self.values, strict=True)]


@dataclass(frozen=True)
class Arm:
    """One combination of levels, one per factor.

    ``key`` names the arm in iteration ids (``<experiment>.p<pair>.<key>``); ``name`` is what
    the log's ``arm`` column and the tables show.
    """

    key: str
    levels: tuple[tuple[str, str], ...]  # (factor, label), in factor order

    @property
    def name(self) -> str:
        """``"on"`` for a one-factor study; ``"enhancement=on, loop=off"`` for more."""
        if len(self.levels) == 1:
            return self.levels[0][1]
        return ", ".join(f"{factor}={label}" for factor, label in self.levels)

    def words(self) -> str:
        """The arm in words, as the reveal shows it: ``"enhancement on, loop off"``."""
        return ", ".join(f"{factor} {label}" for factor, label in self.levels)

    def label(self, factor: str) -> str:
        """This arm's level of ``factor``."""
        return dict(self.levels)[factor]


@dataclass(frozen=True)
class Design:
    """What a study varies, across which prompts, with what held fixed (see the module doc)."""

    #: Per prompt index: the prompt as shown for all arms (a factor's slot as "…").
    prompts: tuple[str, ...]
    factors: tuple[Factor, ...]
    arms: tuple[Arm, ...]
    #: The request fields held fixed (the always-sent ones with their defaults filled in).
    fixed: Mapping[str, Any]
    template: PromptTemplate | None = None
    #: Per prompt index: the values of the template's block slots (empty for a list).
    block_slots: tuple[Mapping[str, str], ...] = ()

    def factor(self, name: str) -> Factor:
        """The factor called ``name``."""
        for factor in self.factors:
            if factor.name == name:
                return factor
        raise ValidationError(f"this study has no factor {name!r}", field="factor")

    def arm(self, wanted: str) -> Arm:
        """The arm whose key or name is ``wanted``."""
        for arm in self.arms:
            if wanted in (arm.key, arm.name):
                return arm
        names = ", ".join(repr(a.name) for a in self.arms)
        raise ValidationError(f"no arm {wanted!r} in this study; its arms: {names}", field="arm")

    def prompt(self, prompt_index: int, arm: Arm) -> str:
        """The prompt sent for ``prompt_index`` in ``arm``."""
        if self.template is None:
            return self.prompts[prompt_index]
        values = dict(self.block_slots[prompt_index])
        values.update((f.name, f.value(arm.label(f.name))) for f in self.factors if f.slot)
        return self.template.render(values)

    def request(self, prompt_index: int, arm: Arm) -> VideoRequest:
        """The request of ``prompt_index`` in ``arm``: fixed fields plus the arm's levels."""
        fields = dict(self.fixed)
        fields.update((f.name, f.value(arm.label(f.name))) for f in self.factors if not f.slot)
        # A level of None means "not sent" (no keyframe); never a field set to null.
        fields = {name: value for name, value in fields.items() if value is not None}
        return VideoRequest(action="generate", prompt=self.prompt(prompt_index, arm), **fields)

    def to_event(self) -> dict[str, Any]:
        """The design as plan-event fields (JSON)."""
        event: dict[str, Any] = {
            "prompts": list(self.prompts),
            "params": dict(self.fixed),
            "factors": {f.name: f.to_event() for f in self.factors},
        }
        if self.template is not None:
            event["template"] = self.template.text
            event["block_slots"] = [dict(slots) for slots in self.block_slots]
        return event


def _levels(name: str, given: object, *, slot: bool) -> Factor:
    """A factor's levels from a list of values (labels made up) or a mapping label -> value."""
    if isinstance(given, Mapping):
        labels = list(given)
        values = list(given.values())
        for label in labels:
            if not isinstance(label, str) or not label.strip() or len(label) > _MAX_LABEL:
                raise ValidationError(
                    f"factor {name!r}: a level's label is text of 1 to {_MAX_LABEL} "
                    f"characters, not {label!r}",
                    field=name,
                )
    elif isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
        raise ValidationError(
            f"factor {name!r} needs a list of levels (or a mapping label -> value), not {given!r}",
            field=name,
        )
    else:
        values = list(given)
        labels = [_auto_label(value, n) for n, value in enumerate(values, start=1)]
    if len(values) < 2:
        raise ValidationError(
            f"factor {name!r} has {len(values)} level(s); a factor needs at least two "
            f"(to hold a field at one value, pass {name}=... instead)",
            field=name,
        )
    if len(values) > _MAX_LEVELS:
        raise ValidationError(f"factor {name!r} has more than {_MAX_LEVELS} levels", field=name)
    seen: list[tuple[type, object]] = []
    for value in values:
        if slot and not isinstance(value, str):
            raise ValidationError(
                f"factor {name!r} fills a template slot: its levels are text, not {value!r}",
                field=name,
            )
        if not slot and value is None and name in ALWAYS_SENT:
            raise ValidationError(
                f"factor {name!r}: None is not a level ({name} is sent in every request)",
                field=name,
            )
        marker = (type(value), value)
        if marker in seen:
            raise ValidationError(f"factor {name!r} lists the level {value!r} twice", field=name)
        seen.append(marker)
    if len(set(labels)) != len(labels):
        raise ValidationError(
            f"factor {name!r}: two levels have the same label; give them names with a mapping "
            "{label: value}",
            field=name,
        )
    return Factor(name=name, labels=tuple(labels), values=tuple(values), slot=slot)


def _auto_label(value: object, position: int) -> str:
    """A level's label: on/off for booleans, none for None, short text as itself, else #n."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, str) and value == "":
        return "empty"
    if isinstance(value, (int, float)) or (
        isinstance(value, str) and len(value) <= _AUTO_LABEL and value.isprintable()
    ):
        return str(value).strip() or f"#{position}"
    return f"#{position}"


def _arms(factors: Sequence[Factor]) -> tuple[Arm, ...]:
    combos = list(itertools.product(*(f.labels for f in factors)))
    arms = []
    for n, labels in enumerate(combos, start=1):
        levels = tuple((f.name, label) for f, label in zip(factors, labels, strict=True))
        # A one-factor arm is keyed by its label when that fits an iteration id ("on", "16:9").
        key = labels[0] if len(factors) == 1 and _KEY.fullmatch(labels[0]) else f"a{n}"
        arms.append(Arm(key=key, levels=levels))
    if len({arm.key for arm in arms}) != len(arms):  # "a2" given as a label, say
        arms = [Arm(key=f"a{n}", levels=arm.levels) for n, arm in enumerate(arms, start=1)]
    return tuple(arms)


def _prompt_list(prompts: object) -> tuple[str, ...]:
    if isinstance(prompts, str):
        # A bare string would be read as a list of one-letter prompts.
        raise ValidationError(
            "prompts must be a list of prompts (for one prompt write [prompt]) or a "
            "luma_nb.experiment.PromptTemplate",
            field="prompts",
        )
    if not isinstance(prompts, Iterable) or isinstance(prompts, (bytes, Mapping)):
        raise ValidationError(
            f"prompts must be a list of text or a PromptTemplate, not {prompts!r}",
            field="prompts",
        )
    result = tuple(prompts)
    if not result:
        raise ValidationError("a study needs at least one prompt", field="prompts")
    for prompt in result:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValidationError(
                f"every prompt must be non-empty text, not {prompt!r}", field="prompts"
            )
    return result


def _check_name(name: object, known: Sequence[str], what: str) -> str:
    if not isinstance(name, str):
        raise ValidationError(f"a {what} is named by text, not {name!r}", field=str(name))
    if name in _NOT_A_FIELD:
        raise ValidationError(_NOT_A_FIELD[name], field=name)
    if name not in known:
        raise ValidationError(
            f"{name!r} is not a request field{_suggest(name, known)}; a study can vary or fix: "
            + ", ".join(known),
            field=name,
        )
    return name


def build_design(
    prompts: object, factors: object, fixed: Mapping[str, Any], *, repeats: int = 1
) -> Design:
    """Validate a study's prompts, factors and fixed fields; every request is built once.

    Raises :class:`ValidationError` (its ``field`` names the culprit) on any bad input.
    """
    template = prompts if isinstance(prompts, PromptTemplate) else None
    if not isinstance(factors, Mapping) or not factors:
        raise ValidationError(
            "factors must map each factor to its levels, e.g. {'enhancement': [True, False]}",
            field="factors",
        )
    slots = template.slot_names if template else ()
    free_slots = tuple(s for s in slots if template and s not in template.values)
    built: list[Factor] = []
    for name, levels in factors.items():
        if template is not None and name in template.values:
            raise ValidationError(
                f"slot {{{name}}} has values in the template and is a factor; it is one or "
                "the other",
                field=name,
            )
        known = (*REQUEST_FIELDS, *free_slots)
        built.append(_levels(_check_name(name, known, "factor"), levels, slot=name in slots))
    for name in free_slots:
        if name not in factors:
            raise ValidationError(
                f"slot {{{name}}} has no values: give them in the template, or make it a factor",
                field="prompts",
            )
    for name in fixed:
        _check_name(name, REQUEST_FIELDS, "fixed field")
        if name in factors:
            raise ValidationError(
                f"{name} is a factor of this study and also given as a fixed field "
                f"({name}={fixed[name]!r}); remove one",
                field=name,
            )
    held = {name: value for name, value in ALWAYS_SENT.items() if name not in factors}
    held.update((name, value) for name, value in fixed.items() if value is not None)
    if template is None:
        shown = _prompt_list(prompts)
        blocks: tuple[Mapping[str, str], ...] = ()
    else:
        names = template.block_slots
        combos = itertools.product(*(template.values[name] for name in names))
        blocks = tuple(MappingProxyType(dict(zip(names, c, strict=True))) for c in combos)
        shown = tuple(template.render(b, missing=HIDDEN_SLOT) for b in blocks)
    arms = _arms(built)
    cells = len(shown) * len(arms) * repeats
    if cells > MAX_CELLS:
        raise ValidationError(
            f"this design has {cells} videos ({len(shown)} prompts x {len(arms)} arms x "
            f"{repeats} repeats); a study holds at most {MAX_CELLS}",
            field="factors",
        )
    design = Design(
        prompts=shown,
        factors=tuple(built),
        arms=arms,
        fixed=MappingProxyType(held),
        template=template,
        block_slots=blocks,
    )
    _check_requests(design)
    return design


def _check_requests(design: Design) -> None:
    """Build every request once: the client's own validation, naming the factor and level."""
    for index in range(len(design.prompts)):
        for arm in design.arms:
            try:
                design.request(index, arm)
            except ValidationError as exc:
                field = exc.field or ""
                if design.template is not None and field == "prompt":
                    raise ValidationError(
                        f"the template gives a bad prompt in arm {arm.name!r}: {exc}",
                        field="prompts",
                    ) from exc
                if any(f.name == field for f in design.factors):
                    raise ValidationError(
                        f"factor {field!r}, level {arm.label(field)!r}: {exc}", field=field
                    ) from exc
                field = "prompts" if field == "prompt" else field
                raise ValidationError(str(exc), field=field) from exc


def design_from_event(event: Mapping[str, Any]) -> Design:
    """The design of a plan event; an event without ``factors`` is an enhancement study of
    the first version (arms ``on``/``off``). Raises :class:`ValidationError` on nonsense."""
    params = event.get("params")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ValidationError(f"params must be an object, not {params!r}", field="params")
    factors = event.get("factors", {"enhancement": [["on", True], ["off", False]]})
    if not isinstance(factors, Mapping):
        raise ValidationError(f"factors must be an object, not {factors!r}", field="factors")
    levels: dict[str, dict[str, Any]] = {}
    for name, pairs in factors.items():
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs
        ):
            raise ValidationError(f"factor {name!r} is not a list of [label, value]", field=name)
        levels[name] = {label: value for label, value in pairs}
        if len(levels[name]) != len(pairs):
            raise ValidationError(f"factor {name!r} repeats a label", field=name)
    text = event.get("template")
    prompts: object = event.get("prompts")
    if text is not None:
        slots = event.get("block_slots")
        if not isinstance(text, str) or not isinstance(slots, list) or not slots:
            raise ValidationError("template and block_slots do not match", field="prompts")
        template = PromptTemplate(text)
        values: dict[str, list[str]] = {}
        for block in slots:
            if not isinstance(block, Mapping):
                raise ValidationError("block_slots must be objects", field="prompts")
            for name, value in block.items():
                values.setdefault(name, [])
                if value not in values[name]:
                    values[name].append(value)
        prompts = PromptTemplate(text, **values) if values else template
    design = build_design(prompts, levels, params)
    if text is not None and [dict(b) for b in design.block_slots] != event.get("block_slots"):
        raise ValidationError("block_slots do not match the template", field="prompts")
    return design
