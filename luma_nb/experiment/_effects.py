"""The effect of each factor of a study on an outcome (the ratings, or any measured column).

Every comparison is made *within* units — a prompt (its repeats averaged first) or a block —
so differences between prompts never pass for an effect of the factor. Within a unit, the
outcome at a level is the mean over the arms at that level (other factors averaged out).

- A two-level factor: the paired differences ``first level - second level``, tested with the
  exact two-sided sign test (only directions count: ratings are ordinal and full of ties),
  and described by the mean difference with its Student's t-interval.
- Three or more levels: the Friedman test over the units complete at every level (each
  unit's values ranked, ties sharing their mean rank; tie-corrected; chi-square p-value).

Each result has a :meth:`sentence`: the effect, its interval, p and n in one line.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from luma_nb.experiment import _stats
from luma_nb.experiment._outcomes import outcome_label, value_text

__all__ = ["Effect", "FriedmanTest", "PairedComparison", "compare", "numeric"]

_UNIT_WORDS = {"prompt": "prompt", "pair": "block"}


@dataclass(frozen=True)
class PairedComparison:
    """A two-level factor compared within units: an exact two-sided sign test, and the mean
    difference with its t-interval.

    Why a sign test: star ratings are ordinal (the step from 4 to 5 need not equal the step
    from 1 to 2) and small studies have many ties, so only the direction of each paired
    difference is trusted. The Wilcoxon signed-rank test would also rank the sizes of the
    differences, which assumes they are comparable on an interval scale, and it handles the
    many zero and tied differences only by approximations. The sign test assumes nothing but
    independent units, and its p-value is exact for any ``n`` (at the cost of some power).
    The mean difference and its interval say how large the effect is, on the rating scale.

    Attributes
    ----------
    factor, outcome : str
        What was compared (``"enhancement"``), and on what (``"rating"``, a metric column).
    unit : {"prompt", "pair"}
        ``"prompt"`` averages each level over a prompt's repeats first, so every unit is
        independent; ``"pair"`` compares each block (prompt x repeat) on its own.
    levels : (str, str)
        The two levels; differences are ``first - second`` (``on - off``).
    units : int
        Units observed at both levels.
    first_better, second_better, ties : int
        How many units favour each level, or neither (ties are dropped from the test).
        ``on_better`` and ``off_better`` are the same numbers by an enhancement study's names.
    p_value : float
        Two-sided exact binomial p-value (1.0 when no untied unit exists).
    median_difference, mean_difference : float or None
    ci_low, ci_high : float or None
        The t-interval of the mean difference (needs two units). Equal when every unit
        differs by the same amount: :attr:`no_spread`.
    level : float
        The confidence level of the interval.
    """

    factor: str
    outcome: str
    unit: str
    levels: tuple[str, str]
    units: int
    first_better: int
    second_better: int
    ties: int
    p_value: float
    median_difference: float | None
    mean_difference: float | None
    ci_low: float | None
    ci_high: float | None
    level: float
    test: str = "sign test (exact, two-sided)"

    @property
    def on_better(self) -> int:
        """Units favouring the first level (``on`` in an enhancement study)."""
        return self.first_better

    @property
    def off_better(self) -> int:
        """Units favouring the second level (``off`` in an enhancement study)."""
        return self.second_better

    @property
    def no_spread(self) -> bool:
        """True when two or more units all differ by exactly the same amount."""
        return self.units >= 2 and self.ci_low is not None and self.ci_low == self.ci_high

    def interval_text(self) -> str:
        """The interval in words: a range, or why there is none."""
        unit = _UNIT_WORDS.get(self.unit, self.unit)
        if self.units < 2 or self.ci_low is None or self.ci_high is None:
            return f"no interval from {self.units} {unit}"
        if self.no_spread:
            return f"no spread: every {unit} differs by exactly {_signed(self, self.ci_low)}"
        return f"{self.level:.0%} CI {_signed(self, self.ci_low)} to {_signed(self, self.ci_high)}"

    def sentence(self) -> str:
        """The verdict: effect, interval, p and n in one sentence."""
        first, second = self.levels
        unit = _UNIT_WORDS.get(self.unit, self.unit)
        rating = self.outcome == "rating"
        what = "rated" if rating else "measured"
        label = outcome_label(self.outcome)
        if self.units == 0 or self.mean_difference is None:
            subject = "" if rating else f" for {label}"
            return (
                f"{self.factor}: no {unit} is {what} at both levels ({first}, {second})"
                f"{subject} yet."
            )
        difference = self.mean_difference
        if difference == 0:
            effect = (
                f"{first} and {second} rated the same on average"
                if rating
                else f"{label} the same with {first} and with {second} on average"
            )
        else:
            size = _number(self, abs(difference))
            way = "higher" if difference > 0 else "lower"
            effect = (
                f"{first} rated {size} {way} than {second} on average"
                if rating
                else f"{label} {size} {way} with {first} than with {second} on average"
            )
        ties = f", {self.ties} tie{'s' if self.ties != 1 else ''}" if self.ties else ""
        # "Better" is a judgement only ratings make; a measurement is just higher.
        counts = (
            f"{first} better in {self.first_better}, {second} in {self.second_better}{ties}"
            if rating
            else f"higher with {first} in {self.first_better}, with {second} in "
            f"{self.second_better}{ties}"
        )
        return (
            f"{self.factor}: {effect} ({self.interval_text()}); sign test p = "
            f"{self.p_value:.4g}, n = {self.units} {unit}{'s' if self.units != 1 else ''} "
            f"({counts})."
        )


@dataclass(frozen=True)
class FriedmanTest:
    """A factor of three or more levels compared within units: the Friedman test.

    Why Friedman: it is the blocked analogue of the sign test's reasoning for more levels —
    each unit's values are ranked, so only their order within the unit counts (ordinal
    ratings, no interval scale assumed), and differences between units drop out. Ties share
    their mean rank and the statistic is tie-corrected; the p-value is the chi-square
    approximation with ``k - 1`` degrees of freedom (as scipy's ``friedmanchisquare``),
    rough for very few units: read it with ``units`` in mind.

    Attributes
    ----------
    factor, outcome, unit
        As for :class:`PairedComparison`.
    levels : tuple of str
    units : int
        Units observed at every level (only those enter the test).
    means : dict
        Per level, the mean over those units of the unit's mean at that level.
    statistic : float or None
        The tie-corrected Friedman chi-square (None without a complete unit).
    df : int
        ``k - 1``.
    p_value : float
    """

    factor: str
    outcome: str
    unit: str
    levels: tuple[str, ...]
    units: int
    means: Mapping[str, float | None]
    statistic: float | None
    df: int
    p_value: float
    test: str = "Friedman test (tie-corrected, chi-square approximation)"

    def sentence(self) -> str:
        """The verdict: which level is highest and lowest, the test, p and n."""
        unit = _UNIT_WORDS.get(self.unit, self.unit)
        k = len(self.levels)
        what = "rated" if self.outcome == "rating" else "measured"
        known = {label: m for label, m in self.means.items() if m is not None}
        if self.units == 0 or self.statistic is None or not known:
            about = "" if self.outcome == "rating" else f" for {outcome_label(self.outcome)}"
            return f"{self.factor}: no {unit} is {what} at all {k} levels{about} yet."
        high = max(known, key=lambda label: known[label])
        low = min(known, key=lambda label: known[label])
        subject = "" if self.outcome == "rating" else f"{outcome_label(self.outcome)}: "
        if known[high] == known[low]:
            effect = f"{subject}all {k} levels the same on average ({_number(self, known[high])})"
        else:
            verb = "rated highest" if self.outcome == "rating" else "highest"
            effect = (
                f"{subject}{high} {verb} (mean {_number(self, known[high])}), {low} lowest "
                f"({_number(self, known[low])}) of {k} levels"
            )
        return (
            f"{self.factor}: {effect}; Friedman chi-square {self.statistic:.2f} (df "
            f"{self.df}), p = {self.p_value:.4g}, n = {self.units} "
            f"{unit}{'s' if self.units != 1 else ''}."
        )


Effect = PairedComparison | FriedmanTest


def _number(effect: PairedComparison | FriedmanTest, value: float) -> str:
    return f"{value:.2f}" if effect.outcome == "rating" else value_text(effect.outcome, value)


def _signed(effect: PairedComparison, value: float) -> str:
    text = _number(effect, abs(value))
    return f"-{text}" if value < 0 else f"+{text}"


def numeric(value: object) -> float | None:
    """A finite number from a record, else None (a bool, text or NaN is not an outcome)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def compare(
    records: Sequence[Mapping[str, Any]],
    factor: str,
    levels: Sequence[str],
    *,
    outcome: str = "rating",
    paired_by: str = "prompt",
    level: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> Effect:
    """The effect of ``factor`` on ``outcome`` in tidy ``records`` (see the module doc).

    ``bounds`` clips the interval of a mean difference (ratings 1-5: -4 to 4).
    """
    key = "prompt_index" if paired_by == "prompt" else "pair"
    column = f"level_{factor}"
    values: dict[Any, dict[str, list[float]]] = {}
    for record in records:
        value = numeric(record.get(outcome))
        label = record.get(column)
        if value is None or label not in levels:
            continue
        values.setdefault(record[key], {}).setdefault(str(label), []).append(value)
    means = [{label: statistics.fmean(v) for label, v in unit.items()} for unit in values.values()]
    if len(levels) == 2:
        return _paired(means, factor, (levels[0], levels[1]), outcome, paired_by, level, bounds)
    complete = [[unit[label] for label in levels] for unit in means if len(unit) == len(levels)]
    statistic, p_value = _stats.friedman(complete) if complete else (None, 1.0)
    return FriedmanTest(
        factor=factor,
        outcome=outcome,
        unit=paired_by,
        levels=tuple(levels),
        units=len(complete),
        means={
            label: (statistics.fmean(row[j] for row in complete) if complete else None)
            for j, label in enumerate(levels)
        },
        statistic=statistic,
        df=len(levels) - 1,
        p_value=p_value,
    )


def _paired(
    means: Sequence[Mapping[str, float]],
    factor: str,
    levels: tuple[str, str],
    outcome: str,
    paired_by: str,
    level: float,
    bounds: tuple[float, float] | None,
) -> PairedComparison:
    first, second = levels
    differences = [unit[first] - unit[second] for unit in means if first in unit and second in unit]
    better = sum(d > 0 for d in differences)
    worse = sum(d < 0 for d in differences)
    interval = _stats.t_interval(differences, level, bounds=bounds)
    return PairedComparison(
        factor=factor,
        outcome=outcome,
        unit=paired_by,
        levels=levels,
        units=len(differences),
        first_better=better,
        second_better=worse,
        ties=len(differences) - better - worse,
        p_value=_stats.sign_test(better, worse),
        median_difference=_stats.median(differences),
        mean_difference=_stats.mean(differences),
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        level=level,
    )
