"""A prompt with named slots: the prompts of a study, and its prompt-variant factors."""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from luma_nb.errors import ValidationError

__all__ = ["PromptTemplate"]

_SLOT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


class PromptTemplate:
    """A prompt with named slots, e.g. ``PromptTemplate("a {animal} at {time}", animal=[...])``.

    A slot given values here varies across *blocks*: every combination of the values is one
    prompt of the study. A slot named in ``factors=`` instead is a *factor* (prompt
    variants): each arm fills it with one of the factor's levels, so the arms of a block
    differ in exactly those words. Every slot is one or the other. Write ``{{`` and ``}}``
    for literal braces.

    Parameters
    ----------
    text : str
        The template; slots are ``{name}`` (a Python identifier, no format spec).
    **slots : sequence of str
        The values of the block slots.

    Examples
    --------
    >>> t = PromptTemplate("a {animal} at {time}", animal=["fox", "owl"])
    >>> t.slot_names, t.block_slots
    (('animal', 'time'), ('animal',))
    """

    def __init__(self, text: str, /, **slots: Sequence[str]) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(
                f"a prompt template must be non-empty text, not {text!r}", field="prompts"
            )
        self.text = text
        self._pieces = _parse(text)
        names = [name for _literal, name in self._pieces if name is not None]
        #: Every slot of the text, in order of first appearance.
        self.slot_names: tuple[str, ...] = tuple(dict.fromkeys(names))
        values: dict[str, tuple[str, ...]] = {}
        for name, given in slots.items():
            if name not in self.slot_names:
                raise ValidationError(
                    f"the template {text!r} has no slot {{{name}}}"
                    + _suggest(name, self.slot_names),
                    field="prompts",
                )
            values[name] = _slot_values(name, given)
        #: The values of each block slot.
        self.values: Mapping[str, tuple[str, ...]] = MappingProxyType(values)

    @property
    def block_slots(self) -> tuple[str, ...]:
        """The slots given values here (they vary across blocks), in template order."""
        return tuple(name for name in self.slot_names if name in self.values)

    def render(self, values: Mapping[str, str], *, missing: str | None = None) -> str:
        """The text with each slot filled from ``values`` (``missing`` for the others)."""
        parts: list[str] = []
        for literal, name in self._pieces:
            parts.append(literal)
            if name is not None:
                if name in values:
                    parts.append(values[name])
                elif missing is not None:
                    parts.append(missing)
                else:
                    raise ValidationError(f"no value for the slot {{{name}}}", field="prompts")
        return "".join(parts)

    def __repr__(self) -> str:
        slots = "".join(f", {name}={list(v)!r}" for name, v in self.values.items())
        return f"PromptTemplate({self.text!r}{slots})"


def _parse(text: str) -> list[tuple[str, str | None]]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:  # a lone "{" or "}"
        raise ValidationError(
            f"the prompt template {text!r} is malformed ({exc}); write {{{{ and }}}} for "
            "literal braces",
            field="prompts",
        ) from exc
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (not _SLOT.fullmatch(name) or spec or conversion):
            raise ValidationError(
                f"a slot is a plain name like {{animal}}, not {{{name}"
                f"{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}",
                field="prompts",
            )
        pieces.append((literal, name))
    return pieces


def _slot_values(name: str, given: object) -> tuple[str, ...]:
    if isinstance(given, str) or not isinstance(given, Iterable) or isinstance(given, Mapping):
        raise ValidationError(
            f"the values of slot {{{name}}} must be a list of text, not {given!r}",
            field="prompts",
        )
    values = tuple(given)
    if not values or not all(isinstance(v, str) for v in values):
        raise ValidationError(
            f"slot {{{name}}} needs a list of one or more texts, not {given!r}", field="prompts"
        )
    if len(set(values)) != len(values):
        raise ValidationError(f"slot {{{name}}} lists a value twice", field="prompts")
    return values


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
