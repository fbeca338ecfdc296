"""The numbers of a study: a verdict per factor, then the numbers per arm.

Built from the tidy records of :meth:`Experiment.records` with plain Python (pandas is needed
only for :meth:`ExperimentSummary.to_dataframe`). The per-factor analysis is
:mod:`luma_nb.experiment._effects`; :mod:`luma_nb.experiment._stats` says why a t-interval,
a sign test and the Friedman test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from luma_nb._durations import duration_text, is_simulated
from luma_nb._html import esc
from luma_nb.errors import ValidationError
from luma_nb.experiment import _stats
from luma_nb.experiment._effects import Effect, PairedComparison, compare, numeric

if TYPE_CHECKING:
    import pandas

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
class ExperimentSummary:
    """A study's verdict per factor, then its numbers per arm (see :meth:`Experiment.summary`).

    Shows as a table in a notebook, led by one sentence per factor (effect, interval, p, n).
    The numbers are attributes: ``summary.factors["loop"]`` (a
    :class:`~luma_nb.experiment.PairedComparison` or
    :class:`~luma_nb.experiment.FriedmanTest`), ``summary.arms[name]``
    (:class:`ArmSummary`; an enhancement study's ``summary.on``, ``summary.off`` and
    ``summary.paired``), and ``summary.metrics[column][factor]`` for every numeric
    ``metric_<name>`` column the videos have. :meth:`to_dataframe` gives one row per arm.
    ``simulated``: the generation times are on the simulator's sped-up clock (its videos were
    made there), and read "(simulated)".
    """

    experiment: str
    arms: Mapping[str, ArmSummary]
    #: Per factor, its effect on the ratings.
    factors: Mapping[str, Effect]
    level: float
    #: Per ``metric_<name>`` column, per factor, its effect on that measurement.
    metrics: Mapping[str, Mapping[str, Effect]]
    simulated: bool = False

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

    def to_dataframe(self) -> pandas.DataFrame:
        """One row per arm, the :class:`ArmSummary` fields as columns (needs pandas)."""
        from luma_nb._session_fold import import_pandas

        pd = import_pandas()
        return pd.DataFrame([asdict(arm) for arm in self.arms.values()]).set_index("arm")

    def text(self) -> str:
        """The summary as plain text: the verdicts, then each arm."""
        lines = [f"Study {self.experiment}"]
        lines.extend(f"  {sentence}" for sentence in self.verdicts())
        for arm in self.arms.values():
            rating = "no ratings"
            if arm.mean_rating is not None:
                rating = f"mean rating {arm.mean_rating:.2f}{_ci_text(arm)} (n={arm.rated})"
            lines.append(
                f"  {arm.arm}: {arm.completed}/{arm.planned} completed, "
                f"success {_pct(arm.success_rate)}, median generation time "
                f"{self._latency(arm)}, {rating}, echoed prompt changed "
                f"{_pct(arm.prompt_changed_rate)}"
            )
        for effects in self.metrics.values():
            lines.extend(f"  {effect.sentence()}" for effect in effects.values())
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
        verdicts = "".join(f"<li>{esc(sentence)}</li>" for sentence in self.verdicts())
        metrics = [e for effects in self.metrics.values() for e in effects.values()]
        return (
            '<div class="luma-nb-summary" style="font-family:sans-serif;font-size:13px">'
            f"<b>Study {esc(self.experiment)}</b>"
            f'<ul class="luma-nb-verdicts">{verdicts}</ul>'
            f"{_effects_table(list(self.factors.values()), 'Ratings by factor')}"
            f"{_arms_table(self)}"
            f"{_effects_table(metrics, 'Measurements by factor') if metrics else ''}</div>"
        )


def _arms_table(summary: ExperimentSummary) -> str:
    level = f"{summary.level:.0%}"
    rows: list[tuple[str, Callable[[ArmSummary], str]]] = [
        ("Videos planned", lambda a: str(a.planned)),
        ("Completed", lambda a: str(a.completed)),
        ("Failed", lambda a: str(a.failed)),
        ("Running", lambda a: str(a.running)),
        ("Outcome unknown", lambda a: str(a.unresolved)),
        ("Not submitted", lambda a: str(a.not_submitted)),
        ("Success rate", lambda a: _pct(a.success_rate)),
        ("Median generation time", summary._latency),
        ("Rated", lambda a: str(a.rated)),
        ("Mean rating", lambda a: _num(a.mean_rating)),
        (f"{level} CI (t)", _ci_html),
        ("Echoed prompt changed", lambda a: _pct(a.prompt_changed_rate)),
        ("Median edit distance", lambda a: _num(a.median_edit_distance, " chars", 0)),
        ("Mean edit ratio", lambda a: _num(a.mean_edit_ratio)),
    ]
    arms = list(summary.arms.values())
    head = "".join(f"<th>{esc(a.arm)}</th>" for a in arms)
    body = ""
    for name, cell in rows:
        cells = [cell(a) for a in arms]
        # A row that says nothing (0 everywhere, or n/a everywhere) is left out.
        if name != "Videos planned" and all(c == "0" or c.startswith("n/a") for c in cells):
            continue
        body += f"<tr><th>{esc(name)}</th>" + "".join(f"<td>{esc(c)}</td>" for c in cells)
        body += "</tr>"
    return (
        f'<table class="luma-nb-summary-table"><thead><tr><th>arm</th>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _effects_table(effects: Sequence[Effect], title: str) -> str:
    if not effects:
        return ""
    rows = ""
    for effect in effects:
        if isinstance(effect, PairedComparison):
            first, second = effect.levels
            size = (
                "n/a"
                if effect.mean_difference is None
                else f"{first} - {second} = {effect.mean_difference:+.3g}"
            )
            interval = effect.interval_text()
        else:
            size = ", ".join(f"{label} {_num(mean)}" for label, mean in effect.means.items())
            interval = "n/a" if effect.statistic is None else f"chi-square {effect.statistic:.2f}"
        rows += (
            f"<tr><td>{esc(effect.factor)}</td><td>{esc(effect.outcome)}</td>"
            f"<td>{esc(size)}</td><td>{esc(interval)}</td><td>{effect.p_value:.4g}</td>"
            f"<td>{effect.units}</td><td>{esc(effect.test)}</td></tr>"
        )
    return (
        f'<table class="luma-nb-effects"><caption>{esc(title)}</caption><thead><tr>'
        "<th>factor</th><th>outcome</th><th>effect</th><th>interval</th><th>p</th><th>n</th>"
        f"<th>test</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _num(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def _ci_text(arm: ArmSummary) -> str:
    if arm.ci_low is None or arm.ci_high is None:
        return ""
    if arm.ci_low == arm.ci_high:
        return f", no spread (all {arm.rated} ratings equal)"
    return f", {arm.level:.0%} CI {arm.ci_low:.2f} to {arm.ci_high:.2f}"


def _ci_html(arm: ArmSummary) -> str:
    if arm.ci_low is None or arm.ci_high is None:
        return "n/a (needs 2 ratings)"
    if arm.ci_low == arm.ci_high:
        return f"no spread (all {arm.rated} ratings {arm.ci_low:g})"
    return f"{arm.ci_low:.2f} to {arm.ci_high:.2f}"


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
            if key.startswith("metric_") and numeric(value) is not None
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


#: The field names of :class:`ArmSummary`, in order (the columns of ``to_dataframe``).
ARM_FIELDS = tuple(f.name for f in fields(ArmSummary))
