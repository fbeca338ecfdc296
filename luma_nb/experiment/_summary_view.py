"""How a study's summary shows itself: verdicts first, then the plot, then the tables.

The parts are separate functions so that the notebook view (:func:`summary_html`) and the
study report (:mod:`luma_nb.experiment._report`) arrange the same pieces: the ratings'
verdicts, the plot, the measured differences, and the tables. Every string from the study
(levels, arm names, prompts) is escaped; the plot is matplotlib's SVG, whose text matplotlib
escapes itself.

What is left out, on purpose: a table row that says nothing (zeros or n/a in every arm, a
factor no unit was rated at), a measurement that is the same in every video (one line says
so instead), and a factor-by-measurement comparison with nothing to compare.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from luma_nb._html import esc
from luma_nb.errors import ConfigError
from luma_nb.experiment._agreement import MIN_VIDEOS
from luma_nb.experiment._effects import Effect, PairedComparison
from luma_nb.experiment._outcomes import outcome_label, value_text

if TYPE_CHECKING:
    from luma_nb.experiment._summary import ArmSummary, ExperimentSummary

__all__ = [
    "figure_html",
    "measured_html",
    "plot_svg",
    "summary_html",
    "summary_text",
    "tables_html",
    "verdicts_html",
]

#: Measured comparisons shown per factor before the rest are folded away.
SHOWN_PER_FACTOR = 3
_PLOT_HINT = 'The plot needs matplotlib: pip install "luma_nb[research]".'


# ----------------------------------------------------------------------------- text


def summary_text(summary: ExperimentSummary) -> str:
    """The summary as plain text: the verdicts, each arm, then what was measured."""
    lines = [f"Study {summary.experiment}"]
    lines.extend(f"  {sentence}" for sentence in summary.verdicts())
    for arm in summary.arms.values():
        rating = "no ratings"
        if arm.mean_rating is not None:
            rating = f"mean rating {arm.mean_rating:.2f}{_ci_text(arm)} (n={arm.rated})"
        rewritten = ""
        if arm.rewritten_share is not None:
            rewritten = f", prompts rewritten {_pct(arm.rewritten_share)}"
        lines.append(
            f"  {arm.arm}: {arm.completed}/{arm.planned} completed, "
            f"success {_pct(arm.success_rate)}, median generation time "
            f"{summary.latency_text(arm)}, {rating}, echoed prompt changed "
            f"{_pct(arm.prompt_changed_rate)}{rewritten}"
        )
    measured = summary.metric_verdicts()
    if measured:
        lines.append("  Measured from the videos:")
        lines.extend(f"    {sentence}" for sentence in measured)
    constant = _constant_sentence(summary)
    if constant:
        lines.append(f"  {constant}")
    lines.extend(f"  {sentence}" for sentence in _agreement_sentences(summary))
    return "\n".join(lines)


def _constant_sentence(summary: ExperimentSummary) -> str:
    constant = summary.constant_metrics()
    if not constant:
        return ""
    parts = ", ".join(
        f"{outcome_label(column)} {value_text(column, value)}" for column, value in constant.items()
    )
    return f"The same in every measured video: {parts}."


def _agreement_sentences(summary: ExperimentSummary) -> list[str]:
    found = list(summary.agreement.values())
    if not found:
        return []
    if all(a.rho is None and a.n < MIN_VIDEOS for a in found):
        most = max(a.n for a in found)
        return [
            f"Agreement of the measurements with the ratings: it needs at least {MIN_VIDEOS} "
            f"rated, measured videos; {most} so far."
        ]
    return ["Agreement of the measurements with the ratings (Spearman):"] + [
        f"  {a.sentence()}" for a in found if a.column not in summary.constant_metrics()
    ]


# ----------------------------------------------------------------------------- HTML parts


def verdicts_html(summary: ExperimentSummary) -> str:
    """The ratings' verdicts, one ``<li>`` per factor."""
    items = "".join(f"<li>{esc(sentence)}</li>" for sentence in summary.verdicts())
    return f'<ul class="luma-nb-verdicts">{items}</ul>'


def plot_svg(summary: ExperimentSummary) -> str | None:
    """The summary's plot as themed inline SVG, or None (no matplotlib, nothing to draw)."""
    if not any(record.get("state") == "completed" for record in summary.records):
        return None
    try:
        figure = summary.figure()
    except ConfigError:
        return None
    from luma_nb.experiment._figure import themed_svg

    return themed_svg(figure, title=f"Study {summary.experiment}: the plot")


def figure_html(summary: ExperimentSummary) -> str:
    """The plot in a ``<figure>`` (or a hint when matplotlib is missing; ``""`` when there
    is nothing to draw yet)."""
    svg = summary.svg
    if svg is not None:
        return f'<figure class="luma-nb-plot" style="margin:10px 0;max-width:100%">{svg}</figure>'
    if any(record.get("state") == "completed" for record in summary.records):
        return f'<div class="luma-nb-muted">{esc(_PLOT_HINT)}</div>'
    return ""


def measured_html(summary: ExperimentSummary) -> str:
    """The measured differences: the largest few per factor, the rest folded away."""
    effects = summary.metric_effects()
    constant = _constant_sentence(summary)
    if not effects and not constant:
        return ""
    shown: list[str] = []
    folded: list[str] = []
    seen: dict[str, int] = {}
    for effect in effects:
        seen[effect.factor] = seen.get(effect.factor, 0) + 1
        target = shown if seen[effect.factor] <= SHOWN_PER_FACTOR else folded
        target.append(f"<li>{esc(effect.sentence())}</li>")
    more = ""
    if folded:
        more = (
            f"<details><summary>{len(folded)} more measured comparison"
            f"{'s' if len(folded) != 1 else ''}</summary><ul>{''.join(folded)}</ul></details>"
        )
    same = f'<p class="luma-nb-muted">{esc(constant)}</p>' if constant else ""
    head = (
        "<b>Measured from the videos</b> (largest differences first; sizes in each "
        "measure&rsquo;s own units)"
    )
    listed = f'<ul class="luma-nb-measured">{"".join(shown)}</ul>' if shown else ""
    return f"<div>{head}{listed}{more}{same}</div>"


def tables_html(summary: ExperimentSummary) -> str:
    """The tables: ratings by factor, the arms, measurements by arm and by factor, and the
    measurements' agreement with the ratings."""
    rated = [effect for effect in summary.factors.values() if effect.units > 0]
    return (
        _effects_table(rated, "Ratings by factor")
        + _arms_table(summary)
        + _metric_arms_table(summary)
        + _effects_table(summary.metric_effects(), "Measurements by factor", summary)
        + _agreement_html(summary)
    )


def summary_html(summary: ExperimentSummary) -> str:
    """The notebook view: verdicts, plot, measured differences, tables."""
    return (
        '<div class="luma-nb-summary" style="font-family:sans-serif;font-size:13px">'
        f"<b>Study {esc(summary.experiment)}</b>"
        f"{verdicts_html(summary)}{figure_html(summary)}{measured_html(summary)}"
        f"{tables_html(summary)}</div>"
    )


# ----------------------------------------------------------------------------- tables


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]], cls: str) -> str:
    """A table of escaped text (``rows[i][0]`` is the row's heading)."""
    if not rows:
        return ""
    heading = "".join(f"<th>{esc(cell)}</th>" for cell in head)
    body = "".join(
        f"<tr><th>{esc(row[0])}</th>" + "".join(f"<td>{esc(c)}</td>" for c in row[1:]) + "</tr>"
        for row in rows
    )
    return (
        f'<table class="{cls}"><caption>{esc(caption)}</caption>'
        f"<thead><tr>{heading}</tr></thead><tbody>{body}</tbody></table>"
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
        ("Median generation time", summary.latency_text),
        ("Rated", lambda a: str(a.rated)),
        ("Mean rating", lambda a: _num(a.mean_rating)),
        (f"{level} CI (t)", _ci_html),
        ("Measured", lambda a: str(a.measured)),
        ("Echoed prompt changed", lambda a: _pct(a.prompt_changed_rate)),
        ("Prompt rewritten (share of echoed words added)", lambda a: _pct(a.rewritten_share)),
        ("Median edit distance", lambda a: _num(a.median_edit_distance, " chars", 0)),
        ("Mean edit ratio", lambda a: _num(a.mean_edit_ratio)),
    ]
    arms = list(summary.arms.values())
    body: list[list[str]] = []
    for name, cell in rows:
        cells = [cell(a) for a in arms]
        # A row that says nothing (0 everywhere, or n/a everywhere) is left out.
        if name != "Videos planned" and all(c in ("0", "0%") or c.startswith("n/a") for c in cells):
            continue
        body.append([name, *cells])
    return _table("The arms", ["", *(a.arm for a in arms)], body, "luma-nb-summary-table")


def _metric_arms_table(summary: ExperimentSummary) -> str:
    arms = list(summary.arms)
    constant = summary.constant_metrics()
    body: list[list[str]] = []
    for column, means in summary.arm_metrics.items():
        if column in constant:
            continue
        cells = [value_text(column, means.get(arm)) for arm in arms]
        if all(c == "n/a" for c in cells):
            continue
        body.append([outcome_label(column), *cells])
    return _table(
        "Measurements per arm (mean over its videos)",
        ["", *arms],
        body,
        "luma-nb-summary-table",
    )


def _effects_table(
    effects: Sequence[Effect], title: str, summary: ExperimentSummary | None = None
) -> str:
    body: list[list[str]] = []
    for effect in effects:
        if isinstance(effect, PairedComparison):
            first, second = effect.levels
            size = (
                "n/a"
                if effect.mean_difference is None
                else f"{first} - {second} = {_signed(effect.outcome, effect.mean_difference)}"
            )
            interval = effect.interval_text()
        else:
            size = ", ".join(
                f"{label} {value_text(effect.outcome, mean)}"
                for label, mean in effect.means.items()
            )
            interval = "n/a" if effect.statistic is None else f"chi-square {effect.statistic:.2f}"
        row = [effect.factor, outcome_label(effect.outcome), size, interval]
        if summary is not None:
            sd = summary.standardized(effect)
            row.append("n/a" if sd is None else f"{sd:+.2f}")
        body.append([*row, f"{effect.p_value:.4g}", str(effect.units), effect.test])
    head = ["factor", "outcome", "effect", "interval"]
    if summary is not None:
        head.append("in SDs")
    return _table(title, [*head, "p", "n", "test"], body, "luma-nb-effects")


def _agreement_html(summary: ExperimentSummary) -> str:
    sentences = _agreement_sentences(summary)
    if len(sentences) <= 1:
        return "".join(f'<p class="luma-nb-muted">{esc(s)}</p>' for s in sentences)
    constant = summary.constant_metrics()
    found = sorted(
        (a for a in summary.agreement.values() if a.column not in constant),
        key=lambda a: -abs(a.rho) if a.rho is not None else 1.0,
    )
    notes = any(a.reason for a in found)
    body = [
        [
            outcome_label(a.column),
            "n/a" if a.rho is None else f"{a.rho:+.2f}",
            "n/a" if a.p_value is None else f"{a.p_value:.3g}",
            str(a.n),
            *([a.reason or ""] if notes else []),
        ]
        for a in found
    ]
    return _table(
        "Agreement with the ratings (Spearman's rank correlation over rated videos)",
        ["measurement", "rho", "p", "n", *(["note"] if notes else [])],
        body,
        "luma-nb-summary-table",
    )


# ----------------------------------------------------------------------------- numbers


def _signed(column: str, value: float) -> str:
    return ("-" if value < 0 else "+") + value_text(column, abs(value))


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
