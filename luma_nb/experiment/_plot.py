"""The study's figure: the ratings by each factor, generation time, and what was measured.

The first row has one panel per factor (up to :data:`MAX_FACTOR_PANELS`): each unit's ratings
at each level joined by a line, so the blocked design is visible, and each level's mean with
its t-interval; then a panel of generation time per arm. When the videos were measured, a
second row shows, per factor, its effect on every measurement that varies — in standard
deviations of that measurement, so motion (0-255) and loop seam (steps) share one axis —
with the paired t-interval (:mod:`luma_nb.experiment._plot_metrics`), and, once enough videos
are rated, how well each measurement agrees with the ratings.

Ink (text, axes, reference lines) is drawn in :data:`~luma_nb.experiment._figure.INK`, which
the SVG of a page turns into the page's own text colour. matplotlib is optional (the
``research`` extra) and imported only here, on first use.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from luma_nb.errors import ConfigError
from luma_nb.experiment import _stats
from luma_nb.experiment._effects import PairedComparison, numeric
from luma_nb.experiment._figure import INK, PALETTE, UNIT_GREY
from luma_nb.experiment._plot_metrics import agreement_panel, effects_panel, plain

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from luma_nb.experiment._summary import ExperimentSummary

__all__ = ["MAX_FACTOR_PANELS", "plot_experiment"]

#: The most factors drawn (each its own panel); the summary has them all.
MAX_FACTOR_PANELS = 4
_SCALE = (1.0, 5.0)
# Every piece of ink in one colour; no frame or fill that would stay white on a dark page.
_STYLE = {
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": INK,
    "axes.titlecolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "legend.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _pyplot() -> Any:
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError(
            'experiment.plot() needs matplotlib: pip install "luma_nb[research]"'
        ) from exc
    return matplotlib, plt


def plot_experiment(
    records: Sequence[Mapping[str, Any]],
    summary: ExperimentSummary,
    factors: Mapping[str, Sequence[str]],
    *,
    title: str,
) -> Figure:
    """Draw the figure and return it (closed in pyplot, so it shows once: when returned)."""
    matplotlib, plt = _pyplot()
    shown = list(factors.items())[:MAX_FACTOR_PANELS]
    measured = [name for name, _ in shown if _measured_effects(summary, name)]
    agreeing = [a for a in summary.agreement.values() if a.rho is not None]
    second = len(measured) + (1 if agreeing else 0)
    columns = max(len(shown) + 1, second)
    rows = 2 if second else 1
    figure: Figure
    with matplotlib.rc_context(_STYLE):
        figure, grid = plt.subplots(
            rows, columns, figsize=(4.5 * columns, 3.6 * rows + 0.4 * (rows - 1)), squeeze=False
        )
        # Only the figure object is handed back: pyplot must not keep (and re-show) it.
        plt.close(figure)
        jitter = random.Random(0)  # seeded: the same study always draws the same picture
        top = list(grid[0])
        for panel, (name, levels) in zip(top, shown, strict=False):
            _factor_panel(panel, records, summary, name, list(levels), jitter)
        _latency_panel(
            top[len(shown)], records, list(summary.arms), jitter, simulated=summary.simulated
        )
        for panel in top[len(shown) + 1 :]:
            panel.remove()
        if rows == 2:
            bottom = list(grid[1])
            for panel, name in zip(bottom, measured, strict=False):
                effects_panel(panel, summary, name, _measured_effects(summary, name))
            if agreeing:
                agreement_panel(bottom[len(measured)], agreeing)
            for panel in bottom[second:]:
                panel.remove()
        figure.suptitle(plain(f"Study {title}"), fontsize=11)
        figure.tight_layout()
    return figure


def _measured_effects(summary: ExperimentSummary, factor: str) -> list[Any]:
    return [e for e in summary.metric_effects() if e.factor == factor]


def _factor_panel(
    axes: Axes,
    records: Sequence[Mapping[str, Any]],
    summary: ExperimentSummary,
    name: str,
    levels: list[str],
    jitter: random.Random,
) -> None:
    column = f"level_{name}"
    effect = summary.factors.get(name)
    key = "prompt_index" if effect is None or effect.unit == "prompt" else "pair"
    # One line per unit across the levels (its mean rating at each), then each level's mean.
    by_unit: dict[Any, dict[str, list[float]]] = {}
    for record in records:
        rating = numeric(record.get("rating"))
        if rating is not None and record.get(column) in levels:
            by_unit.setdefault(record[key], {}).setdefault(record[column], []).append(rating)
    for unit in by_unit.values():
        xs = [i for i, label in enumerate(levels) if label in unit]
        ys = [statistics.fmean(unit[levels[i]]) + jitter.uniform(-0.06, 0.06) for i in xs]
        axes.plot(xs, ys, "-o", color=UNIT_GREY, alpha=0.7, markersize=4, linewidth=1)
    drawn = False
    for i, label in enumerate(levels):
        ratings = [
            r
            for record in records
            if record.get(column) == label and (r := numeric(record.get("rating"))) is not None
        ]
        if not ratings:
            continue
        mean = statistics.fmean(ratings)
        interval = _stats.t_interval(ratings, summary.level, bounds=_SCALE) or (mean, mean)
        axes.errorbar(
            [i + 0.2],  # beside the units' dots
            [mean],
            yerr=[[mean - interval[0]], [interval[1] - mean]],
            fmt="D",
            color=PALETTE[i % len(PALETTE)],
            capsize=4,
            label=plain(f"{label}: mean {mean:.2f}"),
        )
        drawn = True
    axes.set_xticks(range(len(levels)), [plain(label) for label in levels])
    axes.set_xlim(-0.5, len(levels) - 0.5)
    axes.set_ylim(0.5, 5.5)
    axes.set_xlabel(plain(name))
    axes.set_ylabel("rating (1-5)")
    if isinstance(effect, PairedComparison):
        test = f"sign test by {effect.unit}, p = {effect.p_value:.3g}"
    elif effect is not None:
        test = f"Friedman by {effect.unit}, p = {effect.p_value:.3g}"
    else:
        test = ""
    axes.set_title(plain(f"{name} ({summary.level:.0%} t-interval); {test}"), fontsize=10)
    if drawn:
        axes.legend(fontsize=8, loc="lower right")
    else:
        axes.text(0.5, 0.5, "no ratings yet", transform=axes.transAxes, ha="center", alpha=0.7)


def _latency_panel(
    axes: Axes,
    records: Sequence[Mapping[str, Any]],
    arms: list[str],
    jitter: random.Random,
    *,
    simulated: bool,
) -> None:
    """Every completed video as a dot, and each arm's median as a bar."""
    for i, arm in enumerate(arms):
        latencies = [
            float(r["elapsed"])
            for r in records
            if r["arm"] == arm and r["state"] == "completed" and numeric(r["elapsed"]) is not None
        ]
        spread = [i + jitter.uniform(-0.12, 0.12) for _ in latencies]
        axes.scatter(spread, latencies, color=PALETTE[i % len(PALETTE)], alpha=0.8, s=18)
        if latencies:
            axes.hlines(statistics.median(latencies), i - 0.25, i + 0.25, color=INK)
    axes.set_xticks(
        range(len(arms)),
        [plain(arm) for arm in arms],
        rotation=30 if len(arms) > 3 else 0,
        fontsize=8,
        ha="right" if len(arms) > 3 else "center",
    )
    axes.set_xlim(-0.5, len(arms) - 0.5)
    clock = " (simulated)" if simulated else ""
    axes.set_ylabel(f"seconds of generation{clock}")
    axes.set_title("Generation time per arm (bar: median)", fontsize=10)
