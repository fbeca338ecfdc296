"""Resuming a sans-I/O flow: hand it the answer to its step, notice when it returns.

Every driver of a generator flow (the clients' ``_run``, the keyframe preflight's ``drive`` and
``adrive``) steps it the same way; this module does it once. It imports nothing, so the
preflight can use it without loading httpx.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True)
class Done(Generic[T]):
    """What a flow returned (see :func:`resume`)."""

    value: T


def resume(
    flow: Generator[S, Any, T], answer: object = None, failure: BaseException | None = None
) -> S | Done[T]:
    """Hand ``flow`` the answer to its step (or throw ``failure`` into it): its next step, or
    :class:`Done` once it returns. The first call starts it. A driver calls this outside any
    ``except`` block, so the flow's own errors do not chain the driver's exception."""
    try:
        return flow.send(answer) if failure is None else flow.throw(failure)
    except StopIteration as stop:
        return Done(stop.value)
