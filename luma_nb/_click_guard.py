"""One guard against double clicks, for every button that spends money or writes an event.

A click first *claims* its button's key (``"generate"``, ``("rerun", iteration)``...) with its
intent: what it would send (the request, the rating). The claim is refused

* while an earlier claim of the same key is held, i.e. its submit step (the POST, not the
  wait) is still in flight: the button shows it, disabled and relabelled; and
* when the same intent was accepted less than ``window`` seconds earlier, counted from the end
  of that earlier claim (so a slow POST followed by a quick second click is still one submit).

A different intent (a changed form) is accepted. A claim released with ``forget=True`` (its
click provably sent nothing) does not count as a recent submit, so a retry goes through.

The claim is taken synchronously, inside the click handler and before the task it schedules
starts. ipykernel may handle two click messages back to back before the event loop runs the
first task; the second one still finds the key held. Releasing is thread-safe (a blocking
client's submit ends in a worker thread; outside Jupyter the panel's tasks run on luma_nb's
private loop).

The module imports no widgets: a button is anything with ``description``, ``tooltip`` and
``disabled``. It sits outside the views so that the panel and the experiment's review share it
without importing each other.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["BUSY_TOOLTIP", "DEFAULT_WINDOW", "Claim", "ClickGuard", "Refusal"]

#: Seconds during which a second click with the same intent is ignored.
DEFAULT_WINDOW = 2.0
#: The tooltip of a button whose click is in flight.
BUSY_TOOLTIP = "Working on the previous click: further clicks are ignored until it is done."

Clock = Callable[[], float]


class _Button(Protocol):
    description: str
    tooltip: str | None
    disabled: bool


@dataclass(frozen=True)
class Refusal:
    """Why a click was ignored.

    Attributes
    ----------
    key : hashable
        The button's key.
    reason : {"busy", "repeat"}
        ``busy``: the previous click of this button is still in flight. ``repeat``: the same
        intent was accepted ``age`` seconds ago, less than ``window``.
    age : float
        Seconds since the earlier click ended (0 when ``busy``).
    window : float
        The guard's window.
    """

    key: Hashable
    reason: Literal["busy", "repeat"]
    age: float
    window: float

    def sentence(self, thing: str = "request", done: str = "sent", again: str = "") -> str:
        """The refusal in words: ``thing`` was ``done`` (e.g. "rating", "saved")."""
        if self.reason == "busy":
            return (
                f"The previous click is still being handled: this click was ignored, so the "
                f"{thing} is not {done} twice."
            )
        tail = f" {again}" if again else ""
        return (
            f"The same {thing} was {done} {self.age:.1f} s ago: this click was ignored, so it "
            f"is not {done} twice.{tail}"
        )


class Claim:
    """An accepted click: its key stays held (its button busy) until :meth:`release`."""

    def __init__(
        self,
        guard: ClickGuard,
        key: Hashable,
        intent: object,
        button: _Button | None,
        on_release: Callable[[], object] | None,
    ) -> None:
        self.key = key
        self.intent = intent
        self._guard = guard
        self._button = button
        self._look: tuple[str, str | None, bool] | None = None
        self._on_release = on_release
        self._released = False

    @property
    def held(self) -> bool:
        """True until released."""
        return not self._released

    def _hold(self, text: str, tooltip: str) -> None:
        button = self._button
        if button is None:
            return
        self._look = (button.description, button.tooltip, button.disabled)
        button.description, button.tooltip, button.disabled = text, tooltip, True

    def release(self, *, forget: bool = False) -> None:
        """End the claim: the button gets its look back. Idempotent; any thread.

        ``forget=True`` says that the click provably sent nothing (a refused request, a job
        cancelled before it began): the same intent may then be clicked again at once.
        """
        if not self._guard._end(self, forget=forget):
            return
        if self._button is not None and self._look is not None:
            button = self._button
            button.description, button.tooltip, button.disabled = self._look
        if self._on_release is not None:
            self._on_release()

    def __repr__(self) -> str:
        return f"Claim(key={self.key!r}, held={self.held})"


class ClickGuard:
    """Lets one click per intent through; see the module docstring for the rules.

    Parameters
    ----------
    window : float
        Seconds after a click ends during which the same intent is refused (default 2).
    clock : callable, optional
        ``clock() -> seconds``, monotonic (default :func:`time.monotonic`); inject a virtual
        one in tests.
    """

    def __init__(self, window: float = DEFAULT_WINDOW, clock: Clock | None = None) -> None:
        if isinstance(window, bool) or not isinstance(window, (int, float)):
            raise TypeError(f"window must be a number of seconds, not {type(window).__name__}")
        if not math.isfinite(window) or window < 0:
            raise ValueError(f"window must be finite seconds >= 0, not {window!r}")
        self.window = float(window)
        self.clock: Clock = clock if clock is not None else time.monotonic
        self._held: dict[Hashable, Claim] = {}
        self._last: dict[Hashable, tuple[object, float]] = {}
        self._lock = threading.Lock()

    def busy(self, key: Hashable) -> bool:
        """Whether a click of ``key`` is in flight."""
        with self._lock:
            return key in self._held

    def claim(
        self,
        key: Hashable,
        intent: object,
        *,
        button: Any = None,
        busy_text: str = "Submitting…",
        busy_tooltip: str = BUSY_TOOLTIP,
        on_release: Callable[[], object] | None = None,
    ) -> Claim | Refusal:
        """Claim ``key`` for a click meaning ``intent``, or say why not.

        When accepted, ``button`` (if given) is disabled and shows ``busy_text`` until the
        claim is released; ``on_release()`` runs after the button got its look back.
        """
        with self._lock:
            if key in self._held:
                return Refusal(key, "busy", 0.0, self.window)
            last = self._last.get(key)
            if last is not None and _same(last[0], intent):
                age = self.clock() - last[1]
                if age < self.window:  # a clock that went backwards counts as "just now"
                    return Refusal(key, "repeat", max(age, 0.0), self.window)
            claim = Claim(self, key, intent, button, on_release)
            self._held[key] = claim
        claim._hold(busy_text, busy_tooltip)
        return claim

    def run(
        self,
        key: Hashable,
        intent: object,
        action: Callable[[], object],
        *,
        button: Any = None,
        busy_text: str = "Saving…",
    ) -> Refusal | None:
        """Do a synchronous ``action`` under a claim; the refusal when the click is ignored.

        An exception from ``action`` releases the claim as if nothing was done, and
        propagates.
        """
        claim = self.claim(key, intent, button=button, busy_text=busy_text)
        if isinstance(claim, Refusal):
            return claim
        try:
            action()
        except BaseException:
            claim.release(forget=True)
            raise
        claim.release()
        return None

    def _end(self, claim: Claim, *, forget: bool) -> bool:
        with self._lock:
            if claim._released:
                return False
            claim._released = True
            if self._held.get(claim.key) is claim:
                del self._held[claim.key]
            if not forget:
                self._last[claim.key] = (claim.intent, self.clock())
            return True

    def __repr__(self) -> str:
        with self._lock:
            held = list(self._held)
        return f"ClickGuard(window={self.window:g}, held={held!r})"


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:  # with money at stake, an intent that cannot be compared is a repeat
        return True
