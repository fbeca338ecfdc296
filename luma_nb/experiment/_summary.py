"""The numbers of a study: per arm, and a paired comparison of the ratings.

Built from the tidy records of :meth:`Experiment.records` with plain Python (pandas is needed
only for :meth:`ExperimentSummary.to_dataframe`). See :mod:`luma_nb.experiment._stats` for why
a t-interval and a sign test.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from luma_nb._durations import duration_text, is_simulated
from luma_nb._html import esc
from luma_nb.errors import ValidationError
from luma_nb.experiment import _stats

if TYPE_CHECKING:
    import pandas

__all__ = ["ArmSummary", "ExperimentSummary", "PairedComparison", "summarise"]

#: Star ratings live on this scale; the mean's interval is clipped to it.
RATING_SCALE = (1.0, 5.0)
_RUNNING = frozenset({"queued", "pending", "processing", "unknown"})
_UNRESOLVED = frozenset({"outcome_unknown", "submitting"})


@dataclass(frozen=True)
class ArmSummary:
    """One arm of a study.

    Attributes
    ----------
    arm : str
        ``"on"`` (enhancement on) or ``"off"``.
    planned, completed, failed, running, unresolved, not_submitted : int
        Videos planned, and how they stand. ``unresolved``: the submit's outcome is unknown
        (it may have been billed) — check before resubmitting by hand.
    success_rate : float or None
        ``completed / (completed + failed)``: the share of videos whose fate is known that
        succeeded (running ones are left out rather than counted as failures).
    median_latency : float or None
        Median generation time of the completed videos, in seconds (the log's ``elapsed``:
        simulated seconds on the simulator, see :attr:`ExperimentSummary.simulated`).
    rated : int
        Videos with a rating.
    mean_rating, ci_low, ci_high : float or None
        Mean rating and its Student's t confidence interval (clipped to 1-5); the interval
        needs two ratings.
    level : float
        The confidence level of the interval.
    echoed : int
        Completed videos whose echoed prompt is known.
    prompt_changed_rate : float or None
        Share of those whose echoed prompt differs from the prompt sent.
    median_edit_distance : float or None
        Median Levenshtein distance (characters) between sent and echoed prompt.
    mean_edit_ratio : float or None
        Mean edit distance over the longer prompt's length (0 identical, 1 unrelated).
    """

    arm: str
    planned: int
    completed: int
    failed: int
    running: int
    unresolved: int
    not_submitted: int
    success_rate: float | None
    median_latency: float | None
    rated: int
    mean_rating: float | None
    ci_low: float | None
    ci_high: float | None
    level: float
    echoed: int
    prompt_changed_rate: float | None
    median_edit_distance: float | None
    mean_edit_ratio: float | None


@dataclass(frozen=True)
class PairedComparison:
    """The paired comparison of ratings: an exact two-sided sign test.

    Why a sign test: star ratings are ordinal (the step from 4 to 5 need not equal the step
    from 1 to 2) and small studies have many ties, so only the direction of each paired
    difference is trusted. The Wilcoxon signed-rank test would also rank the sizes of the
    differences, which assumes they are comparable on an interval scale, and it handles the
    many zero and tied differences only by approximations. The sign test assumes nothing but
    independent units, and its p-value is exact for any ``n`` (at the cost of some power).

    Attributes
    ----------
    unit : {"prompt", "pair"}
        What was compared. ``"prompt"`` averages each arm's ratings over a prompt's repeats
        first, so every unit is independent; ``"pair"`` compares each repeat on its own.
    units : int
        Units with a rating in both arms.
    on_better, off_better, ties : int
        How many units favour each arm, or neither (ties are dropped from the test).
    p_value : float
        Two-sided exact binomial p-value (1.0 when no untied unit exists).
    median_difference : float or None
        Median of ``rating(on) - rating(off)`` over the units.
    """

    unit: str
    units: int
    on_better: int
    off_better: int
    ties: int
    p_value: float
    median_difference: float | None
    test: str = "sign test (exact, two-sided)"


@dataclass(frozen=True)
class ExperimentSummary:
    """Per-arm numbers and the paired comparison of a study (see :meth:`Experiment.summary`).

    Shows as a table in a notebook; the numbers are attributes (``summary.on.mean_rating``,
    ``summary.paired.p_value``), and :meth:`to_dataframe` gives one row per arm.
    ``simulated``: the generation times are on the simulator's sped-up clock (its videos were
    made there), and read "(simulated)".
    """

    experiment: str
    arms: Mapping[str, ArmSummary]
    paired: PairedComparison
    level: float
    simulated: bool = False

    @property
    def on(self) -> ArmSummary:
        """The enhancement-on arm."""
        return self.arms["on"]

    @property
    def off(self) -> ArmSummary:
        """The enhancement-off arm."""
        return self.arms["off"]

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per arm, the :class:`ArmSummary` fields as columns (needs pandas)."""
        from luma_nb._session_fold import import_pandas

        pd = import_pandas()
        return pd.DataFrame([asdict(arm) for arm in self.arms.values()]).set_index("arm")

    def text(self) -> str:
        """The summary as plain text."""
        lines = [f"Enhancement study {self.experiment}"]
        for arm in self.arms.values():
            rating = "no ratings"
            if arm.mean_rating is not None:
                rating = f"mean rating {arm.mean_rating:.2f}{_ci_text(arm)} (n={arm.rated})"
            lines.append(
                f"  {arm.arm:>3}: {arm.completed}/{arm.planned} completed, "
                f"success {_pct(arm.success_rate)}, median generation time "
                f"{self._latency(arm)}, {rating}, echoed prompt changed "
                f"{_pct(arm.prompt_changed_rate)}"
            )
        lines.append("  " + _paired_text(self.paired))
        return "\n".join(lines)

    def _latency(self, arm: ArmSummary) -> str:
        if arm.median_latency is None:
            return "n/a"
        return duration_text(arm.median_latency, simulated=self.simulated)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        level = f"{self.level:.0%}"
        rows: list[tuple[str, Callable[[ArmSummary], str]]] = [
            ("Videos planned", lambda a: str(a.planned)),
            ("Completed", lambda a: str(a.completed)),
            ("Failed", lambda a: str(a.failed)),
            ("Running", lambda a: str(a.running)),
            ("Outcome unknown", lambda a: str(a.unresolved)),
            ("Not submitted", lambda a: str(a.not_submitted)),
            ("Success rate", lambda a: _pct(a.success_rate)),
            ("Median generation time", self._latency),
            ("Rated", lambda a: str(a.rated)),
            ("Mean rating", lambda a: _num(a.mean_rating)),
            (f"{level} CI (t)", lambda a: _ci_html(a)),
            ("Echoed prompt changed", lambda a: _pct(a.prompt_changed_rate)),
            ("Median edit distance", lambda a: _num(a.median_edit_distance, " chars", 0)),
            ("Mean edit ratio", lambda a: _num(a.mean_edit_ratio)),
        ]
        arms = list(self.arms.values())
        head = "".join(f"<th>enhancement {esc(a.arm)}</th>" for a in arms)
        body = "".join(
            f"<tr><th>{esc(name)}</th>"
            + "".join(f"<td>{esc(cell(a))}</td>" for a in arms)
            + "</tr>"
            for name, cell in rows
        )
        return (
            '<div class="luma-nb-summary" style="font-family:sans-serif;font-size:13px">'
            f"<b>Enhancement study {esc(self.experiment)}</b>"
            f'<table class="luma-nb-summary-table"><thead><tr><th></th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
            f"<p>{esc(_paired_text(self.paired))}</p></div>"
        )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def _ci_text(arm: ArmSummary) -> str:
    if arm.ci_low is None or arm.ci_high is None:
        return ""
    return f", {arm.level:.0%} CI {arm.ci_low:.2f} to {arm.ci_high:.2f}"


def _ci_html(arm: ArmSummary) -> str:
    if arm.ci_low is None or arm.ci_high is None:
        return "n/a (needs 2 ratings)"
    return f"{arm.ci_low:.2f} to {arm.ci_high:.2f}"


def _paired_text(paired: PairedComparison) -> str:
    if paired.units == 0:
        return (
            f"Paired comparison ({paired.test}, by {paired.unit}): no {paired.unit} is rated "
            "in both arms yet."
        )
    difference = _num(paired.median_difference)
    return (
        f"Paired comparison ({paired.test}, by {paired.unit}): {paired.units} rated in both "
        f"arms — on better in {paired.on_better}, off better in {paired.off_better}, "
        f"ties {paired.ties}; median difference (on - off) {difference}; "
        f"p = {paired.p_value:.4g}."
    )


# ----------------------------------------------------------------------------- building


def summarise(
    experiment: str,
    records: Sequence[Mapping[str, Any]],
    *,
    level: float = 0.95,
    paired_by: str = "prompt",
) -> ExperimentSummary:
    """Summarise tidy records (one per planned video, see :meth:`Experiment.records`)."""
    if not isinstance(level, float) or not 0.0 < level < 1.0:
        raise ValidationError(
            f"level must be a number between 0 and 1, not {level!r}", field="level"
        )
    if paired_by not in ("prompt", "pair"):
        raise ValidationError(
            f"paired_by must be 'prompt' or 'pair', not {paired_by!r}", field="paired_by"
        )
    by_arm: dict[str, list[Mapping[str, Any]]] = {"on": [], "off": []}
    for record in records:
        by_arm.setdefault(str(record["arm"]), []).append(record)
    arms = {arm: _arm(arm, rows, level) for arm, rows in by_arm.items()}
    return ExperimentSummary(
        experiment=experiment,
        arms=arms,
        paired=_paired(records, paired_by),
        level=level,
        simulated=any(
            is_simulated(record.get("backend"))
            for record in records
            if record.get("elapsed") is not None
        ),
    )


def _arm(arm: str, rows: Sequence[Mapping[str, Any]], level: float) -> ArmSummary:
    states = [row["state"] for row in rows]
    completed = [row for row in rows if row["state"] == "completed"]
    failed = states.count("failed")
    ratings = [float(row["rating"]) for row in rows if row["rating"] is not None]
    latencies = [float(row["elapsed"]) for row in completed if row["elapsed"] is not None]
    echoed = [row for row in completed if row["prompt_changed"] is not None]
    interval = _stats.t_interval(ratings, level, bounds=RATING_SCALE)
    known = len(completed) + failed
    return ArmSummary(
        arm=arm,
        planned=len(rows),
        completed=len(completed),
        failed=failed,
        running=sum(state in _RUNNING for state in states),
        unresolved=sum(state in _UNRESOLVED for state in states),
        not_submitted=states.count("not_submitted"),
        success_rate=len(completed) / known if known else None,
        median_latency=_stats.median(latencies),
        rated=len(ratings),
        mean_rating=_stats.mean(ratings),
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        level=level,
        echoed=len(echoed),
        prompt_changed_rate=(
            sum(bool(row["prompt_changed"]) for row in echoed) / len(echoed) if echoed else None
        ),
        median_edit_distance=_stats.median([float(row["edit_distance"]) for row in echoed]),
        mean_edit_ratio=_stats.mean([float(row["edit_ratio"]) for row in echoed]),
    )


def _paired(records: Sequence[Mapping[str, Any]], paired_by: str) -> PairedComparison:
    key = "prompt_index" if paired_by == "prompt" else "pair"
    ratings: dict[Any, dict[str, list[float]]] = defaultdict(lambda: {"on": [], "off": []})
    for record in records:
        if record["rating"] is not None and record["arm"] in ("on", "off"):
            ratings[record[key]][record["arm"]].append(float(record["rating"]))
    differences = [
        statistics.fmean(arms["on"]) - statistics.fmean(arms["off"])
        for arms in ratings.values()
        if arms["on"] and arms["off"]
    ]
    on_better = sum(d > 0 for d in differences)
    off_better = sum(d < 0 for d in differences)
    return PairedComparison(
        unit=paired_by,
        units=len(differences),
        on_better=on_better,
        off_better=off_better,
        ties=len(differences) - on_better - off_better,
        p_value=_stats.sign_test(on_better, off_better),
        median_difference=_stats.median(differences),
    )


#: The field names of :class:`ArmSummary`, in order (the columns of ``to_dataframe``).
ARM_FIELDS = tuple(f.name for f in fields(ArmSummary))
