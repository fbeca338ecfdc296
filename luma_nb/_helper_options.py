"""The keywords the notebook helpers take, in one typed definition.

``luma_nb.generate/submit/extend`` take ``**options: Unpack[GenerateOptions]`` (and so on):
type checkers and IDEs read the TypedDicts below. ``help()``, Jupyter's Shift-Tab and
``inspect.signature`` read the keyword-only parameters that :func:`expand_options` builds from
the same TypedDicts, with the defaults of the Client method each helper mirrors. A keyword
outside them still reaches the helper at run time, which refuses it with a reason or a
spelling hint (as the Client does).

``typing.Unpack`` is Python 3.11+ and luma_nb supports 3.10, so ``Unpack`` is imported from
``typing_extensions`` for type checkers only (they ship it); at run time nothing needs it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypedDict, TypeVar

from luma_nb.models import Task, Video

__all__ = [
    "LOG_KEYS",
    "ExtendOptions",
    "GenerateOptions",
    "LogOptions",
    "RequestOptions",
    "SubmitOptions",
    "VideoOptions",
    "WaitOptions",
    "expand_options",
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


class _ActionOption(TypedDict, total=False):
    """``action`` comes first in :func:`submit`'s signature, as in :meth:`Client.submit`."""

    action: Literal["generate", "extend"]


class SubmitOptions(_ActionOption, VideoOptions, RequestOptions, LogOptions, total=False):
    """The keywords of :func:`submit` (it does not wait; it may name the iteration's parent)."""

    parent: str | None  # the iteration this one extends


class GenerateOptions(RequestOptions, WaitOptions, LogOptions, total=False):
    """The keywords of :func:`generate`."""


class ExtendOptions(VideoOptions, RequestOptions, WaitOptions, LogOptions, total=False):
    """The keywords of :func:`extend`."""


#: Keyword arguments that steer the session log rather than the request.
LOG_KEYS = tuple(LogOptions.__annotations__)
_LOG_DEFAULTS: dict[str, object] = {"tags": (), "experiment": None, "arm": None, "parent": None}

_F = TypeVar("_F", bound=Callable[..., Any])


class _Expanded:
    """Stands for ``Unpack`` when the helpers' annotations are read at run time."""

    def __class_getitem__(cls, options: type) -> type:
        return options


def expand_options(like: Callable[..., Any]) -> Callable[[_F], _F]:
    """Show ``**options: Unpack[SomeOptions]`` as keyword-only parameters, one per key.

    Each is annotated with the key's type and defaults as in ``like`` (the Client method the
    helper mirrors) or, for the log's keys, as the log does (a key with neither fails at
    import). The function itself still takes ``**options``, so an unknown keyword reaches it
    and gets the helpers' own message.
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
                default = client[name].default if name in client else _LOG_DEFAULTS[name]
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
