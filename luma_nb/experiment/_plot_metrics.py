"""The measured half of the study's figure: each factor's effect on every measurement.

Measurements come in their own units — motion in grey levels per frame, the loop seam in
typical steps, sharpness in squared levels — so one axis can hold them all only in a common
unit: the standard deviation of each measurement over the study's videos. A two-level
factor's panel shows, per measurement, the mean paired difference (first level minus second)
over that spread, with its t-interval; a factor of more levels, each level's mean relative to
the mean over levels. The agreement panel shows each measurement's Spearman correlation with
the ratings, once enough videos are rated (:mod:`luma_nb.experiment._agreement`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from luma_nb.experiment._effects import Effect, PairedComparison
from luma_nb.experiment._figure import INK, PALETTE
from luma_nb.experiment._outcomes import outcome_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from luma_nb.experiment._agreement import Agreement
    from luma_nb.experiment._summary import ExperimentSummary

__all__ = ["agreement_panel", "effects_panel", "plain"]


def plain(text: str) -> str:
    """Text as matplotlib should print it: a "$" in a label (a user's) is not mathtext."""
    return text.replace("$", r"\$")


def effects_panel(
    axes: Axes, summary: ExperimentSummary, factor: str, effects: Sequence[Effect]
) -> None:
    """One factor's effect on each measurement in ``effects`` (largest first, at the top)."""
    rows = list(reversed(effects))
    labels = [plain(outcome_label(effect.outcome)) for effect in rows]
    axes.axvline(0.0, color=INK, alpha=0.4, linewidth=1)
    level_text = ""
    for y, effect in enumerate(rows):
        spread = summary.spread.get(effect.outcome) or 0.0
        if not spread:
            continue
        if isinstance(effect, PairedComparison):
            first, second = effect.levels
            level_text = f"{first} - {second}"
            if effect.mean_difference is None:
                continue
            x = effect.mean_difference / spread
            error = None
            if effect.ci_low is not None and effect.ci_high is not None:
                low, high = effect.ci_low / spread, effect.ci_high / spread
                error = [[max(0.0, x - low)], [max(0.0, high - x)]]
            axes.errorbar([x], [y], xerr=error, fmt="o", color=PALETTE[0], capsize=3)
        else:
            known = [m for m in effect.means.values() if m is not None]
            if not known:
                continue
            centre = statistics.fmean(known)
            for j, (label, mean) in enumerate(effect.means.items()):
                if mean is None:
                    continue
                axes.scatter(
                    [(mean - centre) / spread],
                    [y],
                    color=PALETTE[j % len(PALETTE)],
                    s=24,
                    label=plain(label) if y == 0 else None,
                )
            level_text = "each level"
    axes.set_yticks(range(len(rows)), labels, fontsize=8)
    axes.set_ylim(-0.6, len(rows) - 0.4)
    if level_text == "each level":
        axes.set_xlabel("SDs from the mean over the levels")
        axes.legend(fontsize=8, loc="lower right")
        title = f"{factor}: level means on each measurement"
    else:
        axes.set_xlabel(f"difference in SDs of the measurement ({summary.level:.0%} t-interval)")
        title = f"{factor}: {level_text} on each measurement"
    axes.set_title(plain(title), fontsize=10)


def agreement_panel(axes: Axes, agreements: Sequence[Agreement]) -> None:
    """Each measurement's rank correlation with the ratings, as a bar from 0."""
    rows = sorted(agreements, key=lambda a: abs(a.rho or 0.0))
    for y, found in enumerate(rows):
        rho = found.rho or 0.0
        axes.barh([y], [rho], color=PALETTE[1] if rho >= 0 else PALETTE[3], height=0.6)
    axes.axvline(0.0, color=INK, alpha=0.4, linewidth=1)
    labels = [plain(f"{outcome_label(a.column)} (n={a.n})") for a in rows]
    axes.set_yticks(range(len(rows)), labels, fontsize=8)
    axes.set_xlim(-1.0, 1.0)
    axes.set_xlabel("Spearman rho with the ratings")
    axes.set_title("Agreement with the ratings", fontsize=10)
