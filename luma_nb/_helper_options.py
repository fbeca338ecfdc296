"""The keywords the notebook helpers take, in one typed definition.

``luma_nb.generate/submit/extend`` take ``**options: Unpack[GenerateOptions]`` (and so on):
type checkers and IDEs read the TypedDicts below. ``help()``, Jupyter's Shift-Tab and
``inspect.signature`` read the keyword-only parameters that :func:`expand_options` builds from
the same TypedDicts, with the defaults of the Client method each helper mirrors. A keyword
outside them still reaches the helper at run time, which refuses it with a reason or a
spelling hint (as the Client does).

The checks that need no request (:func:`refuse`, :func:`check_measure`) and the keywords each
helper refuses, with the reason, live here too: they run before anything is logged or sent.

``typing.Unpack`` is Python 3.11+ and luma_nb supports 3.10, so ``Unpack`` is imported from
``typing_extensions`` for type checkers only (they ship it); at run time nothing needs it.
"""

from __future__ import annotations

import importlib.util
import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypedDict, TypeVar

from luma_nb._values import shown
from luma_nb.errors import ConfigError, ValidationError
from luma_nb.models import REQUEST_OPTIONS, Task, Video

__all__ = [
    "EXTEND_REFUSALS",
    "GENERATE_REFUSALS",
    "LOG_KEYS",
    "REQUEST_FIELDS",
    "SUBMIT_REFUSALS",
    "ExtendOptions",
    "GenerateOptions",
    "LogOptions",
    "MeasureOptions",
    "RequestOptions",
    "SubmitOptions",
    "VideoOptions",
    "WaitOptions",
    "check_measure",
    "expand_options",
    "refuse",
]


class RequestOptions(TypedDict, total=False):
    """The request fields, as :meth:`Client.generate` and :meth:`Client.extend` take them."""

    aspect_ratio: str | None  # None: 16:9 for a generate, the parent's for an extend
    loop: bool
    enhancement: bool
    start_image_url: str | None
    end_image_url: str | None
    callback_url: str | None
    timeout: float | None  # seconds the API may hold a sync request


class VideoOptions(TypedDict, total=False):
    """The video an extend continues (``video_id`` wins when both are given)."""

    video_id: str | Video | None
    video_url: str | None


class WaitOptions(TypedDict, total=False):
    """How the helpers that wait do it: a deadline, and a callback for each change."""

    max_wait: float | None
    on_update: Callable[[Task], object] | None


class LogOptions(TypedDict, total=False):
    """Labels the session log records with the iteration."""

    tags: Sequence[str]
    experiment: str | None
    arm: str | None


class MeasureOptions(TypedDict, total=False):
    """What the helpers that wait do with the finished video besides showing it."""

    measure: bool  # measure the downloaded video (luma_nb.video_metrics), log and show it


class _ActionOption(TypedDict, total=False):
    """``action`` comes first in :func:`submit`'s signature, as in :meth:`Client.submit`."""

    action: Literal["generate", "extend"]


class SubmitOptions(_ActionOption, VideoOptions, RequestOptions, LogOptions, total=False):
    """The keywords of :func:`submit` (it does not wait; it may name the iteration's parent)."""

    parent: str | None  # the iteration this one extends


class GenerateOptions(RequestOptions, WaitOptions, MeasureOptions, LogOptions, total=False):
    """The keywords of :func:`generate`."""


class ExtendOptions(
    VideoOptions, RequestOptions, WaitOptions, MeasureOptions, LogOptions, total=False
):
    """The keywords of :func:`extend`."""


#: Keyword arguments that steer the session log rather than the request.
LOG_KEYS = tuple(LogOptions.__annotations__)
# The defaults of the keywords the Client does not take (the log's, and measure).
_HELPER_DEFAULTS: dict[str, object] = {
    "tags": (),
    "experiment": None,
    "arm": None,
    "parent": None,
    "measure": False,
}

_F = TypeVar("_F", bound=Callable[..., Any])


class _Expanded:
    """Stands for ``Unpack`` when the helpers' annotations are read at run time."""

    def __class_getitem__(cls, options: type) -> type:
        return options


def expand_options(like: Callable[..., Any]) -> Callable[[_F], _F]:
    """Show ``**options: Unpack[SomeOptions]`` as keyword-only parameters, one per key.

    Each is annotated with the key's type and defaults as in ``like`` (the Client method the
    helper mirrors) or, for the helpers' own keys (the log's, ``measure``), as
    ``_HELPER_DEFAULTS`` says (a key with neither fails at import). The function itself
    still takes ``**options``, so an unknown keyword reaches it and gets the helpers' own
    message.
    """

    def expand(function: _F) -> _F:
        hints = typing.get_type_hints(function, localns={"Unpack": _Expanded})
        client = inspect.signature(like).parameters
        parameters = []
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind is not inspect.Parameter.VAR_KEYWORD:
                parameters.append(parameter.replace(annotation=hints[parameter.name]))
                continue
            for name, kind in typing.get_type_hints(hints[parameter.name]).items():
                default = client[name].default if name in client else _HELPER_DEFAULTS[name]
                parameters.append(
                    inspect.Parameter(
                        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind
                    )
                )
        signature = inspect.Signature(parameters, return_annotation=hints["return"])
        function.__signature__ = signature  # type: ignore[attr-defined]
        function.__annotations__ = {
            **{p.name: p.annotation for p in parameters},
            "return": hints["return"],
        }
        return function

    return expand


# --------------------------------------------------------------------------- checks


def check_measure(measure: object) -> None:
    """``measure`` is a bool, and when True the research extra is there (before any submit)."""
    if not isinstance(measure, bool):
        raise ValidationError(
            f"measure must be True or False, not {shown(measure)}", field="measure"
        )
    if measure:
        missing = [
            name for name in ("av", "numpy", "PIL") if importlib.util.find_spec(name) is None
        ]
        if missing:
            raise ConfigError(
                f"measure=True needs {', '.join(missing)} (video metrics): "
                'pip install "luma_nb[research]"; nothing was sent'
            )


def refuse(params: dict[str, Any], refusals: dict[str, str]) -> None:
    """Refuse, with the reason, a keyword the Client takes but this helper does not."""
    for name in sorted(params):
        if name in refusals:
            raise ValidationError(f"{name}= is not taken here: {refusals[name]}", field=name)


#: The request fields a helper passes on to the request (the rest are the helpers' own).
REQUEST_FIELDS = REQUEST_OPTIONS
_NO_WAIT = (
    "luma_nb.submit does not wait; use luma_nb.generate/extend, or "
    "luma_nb.notebook.default_client().wait(task, {name}=...)"
)
# Keywords the Client takes (or another helper does) that a helper refuses, with the reason.
SUBMIT_REFUSALS = {
    "max_wait": _NO_WAIT.format(name="max_wait"),
    "on_update": _NO_WAIT.format(name="on_update"),
    "measure": (
        "luma_nb.submit does not wait for the video; use luma_nb.generate/extend(..., "
        "measure=True), or luma_nb.video_metrics.measure_video(path) on a downloaded file"
    ),
}
GENERATE_REFUSALS = {
    "action": "luma_nb.generate always generates; use luma_nb.extend(...) to continue a video",
    "video_id": "generate makes a new video; continue one with luma_nb.extend(video_id=...)",
    "video_url": "generate makes a new video; continue one with luma_nb.extend(video_url=...)",
    "parent": "a generated video starts a chain; luma_nb.extend records its parent itself",
}
EXTEND_REFUSALS = {
    "action": "luma_nb.extend always extends; use luma_nb.generate(...) for a new video",
    "parent": "luma_nb.extend records the parent itself, from the video it continues",
}
