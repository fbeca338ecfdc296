"""The numbers of a study: a verdict per factor, then the numbers per arm.

Built from the tidy records of :meth:`Experiment.records` with plain Python (pandas is needed
only for :meth:`ExperimentSummary.to_dataframe`). The per-factor analysis is
:mod:`luma_nb.experiment._effects` (ratings and every measured column alike);
:mod:`luma_nb.experiment._stats` says why a t-interval, a sign test and the Friedman test;
:mod:`luma_nb.experiment._agreement` how a measurement is held against the ratings. How the
summary shows itself is :mod:`luma_nb.experiment._summary_view`.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

from luma_nb._durations import duration_text, is_simulated
from luma_nb.errors import ValidationError
from luma_nb.experiment import _stats
from luma_nb.experiment._agreement import Agreement, agreement
from luma_nb.experiment._effects import Effect, PairedComparison, compare, numeric
from luma_nb.experiment._outcomes import METRIC_PREFIX
from luma_nb.render.diff import rewritten_share

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

__all__ = ["ArmSummary", "ExperimentSummary", "summarise"]

#: Star ratings live on this scale; the mean's interval is clipped to it.
RATING_SCALE = (1.0, 5.0)
# A difference of two ratings lives here; its mean's interval is clipped to it.
_DIFFERENCE_SCALE = (-4.0, 4.0)
_RUNNING = frozenset({"queued", "pending", "processing", "unknown"})
_UNRESOLVED = frozenset({"outcome_unknown", "submitting"})


@dataclass(frozen=True)
class ArmSummary:
    """One arm of a study.

    Attributes
    ----------
    arm : str
        The arm's name: ``"on"``/``"off"`` in a one-factor study of a switch,
        ``"enhancement=on, loop=off"`` with more factors.
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
    rewritten_share : float or None
        How much the prompts were rewritten: the mean, over the completed videos with an
        echoed prompt, of the share of the echo's words that were not in the prompt sent
        (:func:`luma_nb.render.diff.rewritten_share`: 0 unchanged, 1 all new).
    measured : int
        Completed videos with measurements (metrics) in the log.
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
    rewritten_share: float | None = None
    measured: int = 0


@dataclass(frozen=True)
class ExperimentSummary:
    """A study's verdict per factor, then its numbers per arm (see :meth:`Experiment.summary`).

    Shows in a notebook as one sentence per factor about the ratings (effect, interval, p,
    n), the study's plot (an inline SVG that follows the page's light or dark theme), one
    sentence per factor and measurement that differs between arms, then the tables. The
    numbers are attributes: ``summary.factors["loop"]`` (a
    :class:`~luma_nb.experiment.PairedComparison` or
    :class:`~luma_nb.experiment.FriedmanTest`), ``summary.arms[name]``
    (:class:`ArmSummary`; an enhancement study's ``summary.on``, ``summary.off`` and
    ``summary.paired``), ``summary.metrics[column][factor]`` for every numeric
    ``metric_<name>`` column the videos have (the same analysis as the ratings),
    ``summary.agreement[column]`` (how well it agrees with the ratings) and
    ``summary.arm_metrics[column][arm]`` (its mean per arm). :meth:`to_dataframe` gives one
    row per arm. ``simulated``: the generation times are on the simulator's sped-up clock
    (its videos were made there), and read "(simulated)".
    """

    experiment: str
    arms: Mapping[str, ArmSummary]
    #: Per factor, its effect on the ratings.
    factors: Mapping[str, Effect]
    level: float
    #: Per ``metric_<name>`` column, per factor, its effect on that measurement.
    metrics: Mapping[str, Mapping[str, Effect]]
    simulated: bool = False
    #: Per measured column, its agreement with the ratings (Spearman, over rated videos).
    agreement: Mapping[str, Agreement] = field(default_factory=dict)
    #: Per measured column, per arm, the mean over the arm's measured videos.
    arm_metrics: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    #: Per measured column, its standard deviation over every measured video (0: constant).
    spread: Mapping[str, float] = field(default_factory=dict)
    # What the plot is drawn from: the tidy records and each factor's levels.
    records: Sequence[Mapping[str, Any]] = field(default=(), repr=False, compare=False)
    levels: Sequence[tuple[str, Sequence[str]]] = field(default=(), repr=False, compare=False)

    @property
    def on(self) -> ArmSummary:
        """The enhancement-on arm (of a study whose arms are ``on`` and ``off``)."""
        return self.arms["on"]

    @property
    def off(self) -> ArmSummary:
        """The enhancement-off arm."""
        return self.arms["off"]

    @property
    def paired(self) -> PairedComparison:
        """The paired comparison of the first factor, when it has two levels (an enhancement
        study's on vs off); a factor of more levels is in :attr:`factors`."""
        effect = next(iter(self.factors.values()))
        if not isinstance(effect, PairedComparison):
            raise ValidationError(
                f"factor {effect.factor!r} has {len(effect.levels)} levels, so it has no "
                "paired comparison; see summary.factors",
                field="factor",
            )
        return effect

    def verdicts(self) -> list[str]:
        """One sentence per factor about the ratings: effect, interval, p and n."""
        return [effect.sentence() for effect in self.factors.values()]

    def standardized(self, effect: Effect) -> float | None:
        """The size of a measured effect in standard deviations of its measurement.

        A two-level factor's mean difference, or the range of a factor's level means, over
        :attr:`spread`: comparable across measurements of different units and scales.
        """
        spread = self.spread.get(effect.outcome)
        if not spread:
            return None
        if isinstance(effect, PairedComparison):
            if effect.mean_difference is None:
                return None
            return effect.mean_difference / spread
        known = [m for m in effect.means.values() if m is not None]
        return (max(known) - min(known)) / spread if known else None

    def metric_effects(self) -> list[Effect]:
        """The measured effects worth a sentence, factor by factor, largest first.

        Left out: a measurement equal in every video (see :meth:`constant_metrics`), and a
        factor with no unit measured at every level.
        """
        chosen: list[Effect] = []
        for factor in self.factors:
            effects = [
                effects[factor]
                for effects in self.metrics.values()
                if factor in effects and effects[factor].units > 0
            ]
            sized = [(e, size) for e in effects if (size := self.standardized(e)) is not None]
            sized.sort(key=lambda item: -abs(item[1]))
            chosen.extend(e for e, _ in sized)
        return chosen

    def metric_verdicts(self) -> list[str]:
        """One sentence per factor and measurement that says something (effect, interval,
        p, n), in the order of :meth:`metric_effects`."""
        return [effect.sentence() for effect in self.metric_effects()]

    def constant_metrics(self) -> dict[str, float]:
        """The measurements equal in every measured video (no comparison to make), by value."""
        constant: dict[str, float] = {}
        for column, spread in self.spread.items():
            means = [m for m in self.arm_metrics.get(column, {}).values() if m is not None]
            if spread == 0 and means:
                constant[column] = means[0]
        return constant

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per arm, the :class:`ArmSummary` fields as columns (needs pandas)."""
        from luma_nb._session_fold import import_pandas

        pd = import_pandas()
        return pd.DataFrame([asdict(arm) for arm in self.arms.values()]).set_index("arm")

    def figure(self) -> Figure:
        """The study's plot as a matplotlib figure (see :meth:`Experiment.plot`)."""
        from luma_nb.experiment._plot import plot_experiment

        return plot_experiment(self.records, self, dict(self.levels), title=self.experiment)

    def text(self) -> str:
        """The summary as plain text: the verdicts, then each arm."""
        from luma_nb.experiment._summary_view import summary_text

        return summary_text(self)

    def latency_text(self, arm: ArmSummary) -> str:
        """An arm's median generation time in words (``(simulated)`` on the simulator)."""
        if arm.median_latency is None:
            return "n/a"
        return duration_text(arm.median_latency, simulated=self.simulated)

    @cached_property
    def svg(self) -> str | None:
        """The plot as inline SVG markup that takes the page's text colour (light or dark
        theme alike), drawn once; None without matplotlib or with nothing to draw."""
        from luma_nb.experiment._summary_view import plot_svg

        return plot_svg(self)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        from luma_nb.experiment._summary_view import summary_html

        return summary_html(self)


# ----------------------------------------------------------------------------- building


def summarise(
    experiment: str,
    records: Sequence[Mapping[str, Any]],
    *,
    arms: Sequence[str],
    factors: Sequence[tuple[str, Sequence[str]]],
    level: float = 0.95,
    paired_by: str = "prompt",
) -> ExperimentSummary:
    """Summarise tidy records (one per planned video, see :meth:`Experiment.records`).

    ``arms`` are the arm names in order; ``factors`` each factor's name and level labels.
    """
    if not isinstance(level, float) or not 0.0 < level < 1.0:
        raise ValidationError(
            f"level must be a number between 0 and 1, not {level!r}", field="level"
        )
    if paired_by not in ("prompt", "pair"):
        raise ValidationError(
            f"paired_by must be 'prompt' or 'pair', not {paired_by!r}", field="paired_by"
        )
    by_arm: dict[str, list[Mapping[str, Any]]] = {arm: [] for arm in arms}
    for record in records:
        by_arm.setdefault(str(record["arm"]), []).append(record)
    options: dict[str, Any] = {"paired_by": paired_by, "level": level}
    ratings = {
        name: compare(records, name, labels, bounds=_DIFFERENCE_SCALE, **options)
        for name, labels in factors
    }
    columns = sorted(
        {
            key
            for record in records
            for key, value in record.items()
            if key.startswith(METRIC_PREFIX) and numeric(value) is not None
        }
    )
    metrics = {
        column: {
            name: compare(records, name, labels, outcome=column, **options)
            for name, labels in factors
        }
        for column in columns
    }
    return ExperimentSummary(
        experiment=experiment,
        arms={arm: _arm(arm, rows, level) for arm, rows in by_arm.items()},
        factors=ratings,
        level=level,
        metrics=metrics,
        simulated=any(
            is_simulated(record.get("backend"))
            for record in records
            if record.get("elapsed") is not None
        ),
        agreement={column: agreement(records, column) for column in columns},
        arm_metrics={
            column: {arm: _stats.mean(_values(rows, column)) for arm, rows in by_arm.items()}
            for column in columns
        },
        spread={column: statistics.pstdev(_values(records, column)) for column in columns},
        records=tuple(records),
        levels=tuple((name, tuple(labels)) for name, labels in factors),
    )


def _values(records: Sequence[Mapping[str, Any]], column: str) -> list[float]:
    return [v for record in records if (v := numeric(record.get(column))) is not None]


def _arm(arm: str, rows: Sequence[Mapping[str, Any]], level: float) -> ArmSummary:
    states = [row["state"] for row in rows]
    completed = [row for row in rows if row["state"] == "completed"]
    failed = states.count("failed")
    ratings = [float(row["rating"]) for row in rows if row["rating"] is not None]
    latencies = [float(row["elapsed"]) for row in completed if row["elapsed"] is not None]
    echoed = [row for row in completed if row["prompt_changed"] is not None]
    interval = _stats.t_interval(ratings, level, bounds=RATING_SCALE)
    known = len(completed) + failed
    rewritten = [
        rewritten_share(row["prompt"], row["echoed_prompt"])
        for row in echoed
        if isinstance(row.get("prompt"), str) and isinstance(row.get("echoed_prompt"), str)
    ]
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
        rewritten_share=_stats.mean(rewritten),
        measured=sum(
            any(numeric(v) is not None for k, v in row.items() if k.startswith(METRIC_PREFIX))
            for row in completed
        ),
    )


#: The field names of :class:`ArmSummary`, in order (the columns of ``to_dataframe``).
ARM_FIELDS = tuple(f.name for f in fields(ArmSummary))
