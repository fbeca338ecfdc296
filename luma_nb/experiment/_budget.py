"""The budget of a study: a cap on its paid submits, checked before any money moves.

Every video of a study is one paid ``POST /luma/videos``. A factorial design grows fast
(3 prompts x 2 x 2 x 3 levels x 2 repeats is already 72 videos), so a study refuses to start
when it would make more paid submits than ``max_submits`` (default
:data:`DEFAULT_MAX_SUBMITS`, enough for a first study and small enough to protect a
newcomer's balance). The refusal is a :class:`BudgetExceededError`, raised before the plan is
logged and before any request; the cap and the count are written into the plan event of every
study that does start.
"""

from __future__ import annotations

from collections.abc import Callable

from luma_nb.errors import LumaError, ValidationError

__all__ = ["DEFAULT_MAX_SUBMITS", "BudgetExceededError", "check_budget", "check_max_submits"]

#: The cap on a study's paid submits unless ``max_submits=`` says otherwise.
DEFAULT_MAX_SUBMITS = 20
_MOST = 10_000


class BudgetExceededError(LumaError):
    """A study would make more paid submits than ``max_submits`` allows; nothing was sent.

    Attributes
    ----------
    submits : int
        The paid submits the study (or what is left of it) would make.
    max_submits : int
        The cap that refused them.
    """

    def __init__(self, submits: int, max_submits: int, *, experiment: str | None = None) -> None:
        self.submits = submits
        self.max_submits = max_submits
        self.experiment = experiment
        which = f"study {experiment}" if experiment else "this study"
        super().__init__(
            f"{which} would make {submits} paid submits (one per video), more than "
            f"max_submits={max_submits}. Nothing was sent. To spend that much, pass "
            f"max_submits={submits} (or more) to luma_nb.study(...) or to study.run(); or "
            "plan fewer videos (fewer prompts, levels or repeats): study.plan() shows the "
            "design without submitting."
        )

    def __reduce__(
        self,
    ) -> tuple[Callable[[int, int, str | None], BudgetExceededError], tuple[int, int, str | None]]:
        # Its arguments are not its message: say how to rebuild it (pickling, processes).
        return (_rebuild, (self.submits, self.max_submits, self.experiment))


def _rebuild(submits: int, max_submits: int, experiment: str | None) -> BudgetExceededError:
    return BudgetExceededError(submits, max_submits, experiment=experiment)


def check_max_submits(value: object) -> int:
    """``max_submits`` as a whole number from 1 to 10,000 (ValidationError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MOST:
        raise ValidationError(
            f"max_submits must be a whole number from 1 to {_MOST}, not {value!r}",
            field="max_submits",
        )
    return value


def check_budget(submits: int, max_submits: int, *, experiment: str | None = None) -> None:
    """Raise :class:`BudgetExceededError` when ``submits`` exceeds ``max_submits``."""
    if submits > max_submits:
        raise BudgetExceededError(submits, max_submits, experiment=experiment)
