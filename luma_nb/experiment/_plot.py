"""The study's figure: ratings per arm (pairs joined) and latency per arm.

matplotlib is optional (the ``research`` extra) and imported only here, on first use.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from luma_nb.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from luma_nb.experiment._summary import ExperimentSummary

__all__ = ["plot_experiment"]

_ARMS = ("off", "on")  # off on the left: "before" and "after" enhancement
_COLOURS = {"on": "#7c3aed", "off": "#6b7280"}


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError(
            'experiment.plot() needs matplotlib: pip install "luma_nb[research]"'
        ) from exc
    return plt


def plot_experiment(
    records: Sequence[Mapping[str, Any]], summary: ExperimentSummary, *, title: str
) -> Figure:
    """Draw the figure and return it (closed in pyplot, so it shows once: when returned)."""
    plt = _pyplot()
    figure: Figure
    figure, (ratings_axes, latency_axes) = plt.subplots(1, 2, figsize=(9, 3.6))
    # Only the figure object is handed back: pyplot must not keep (and re-show) it.
    plt.close(figure)
    jitter = random.Random(0)  # seeded: the same study always draws the same picture

    # Ratings: one line per pair, so the paired design is visible, then each arm's mean with
    # its t-interval.
    by_pair: dict[Any, dict[str, float]] = {}
    for record in records:
        if record["rating"] is not None:
            by_pair.setdefault(record["pair"], {})[record["arm"]] = float(record["rating"])
    for ratings in by_pair.values():
        xs = [i for i, arm in enumerate(_ARMS) if arm in ratings]
        ys = [ratings[_ARMS[i]] + jitter.uniform(-0.06, 0.06) for i in xs]
        ratings_axes.plot(xs, ys, "-o", color="#9ca3af", alpha=0.6, markersize=4, linewidth=1)
    for i, arm in enumerate(_ARMS):
        stats = summary.arms.get(arm)
        if stats is None or stats.mean_rating is None:
            continue
        low = stats.ci_low if stats.ci_low is not None else stats.mean_rating
        high = stats.ci_high if stats.ci_high is not None else stats.mean_rating
        ratings_axes.errorbar(
            [i + (0.2 if arm == "on" else -0.2)],  # beside the pairs' dots, outwards
            [stats.mean_rating],
            yerr=[[stats.mean_rating - low], [high - stats.mean_rating]],
            fmt="D",
            color=_COLOURS[arm],
            capsize=4,
            label=f"{arm}: mean {stats.mean_rating:.2f}",
        )
    ratings_axes.set_xticks(range(len(_ARMS)), [f"enhancement {arm}" for arm in _ARMS])
    ratings_axes.set_xlim(-0.5, len(_ARMS) - 0.5)
    ratings_axes.set_ylim(0.5, 5.5)
    ratings_axes.set_ylabel("rating (1-5)")
    paired = summary.paired
    ratings_axes.set_title(
        f"Ratings ({summary.level:.0%} t-interval); sign test by {paired.unit}, "
        f"p = {paired.p_value:.3g}",
        fontsize=10,
    )
    if any(s.mean_rating is not None for s in summary.arms.values()):
        ratings_axes.legend(fontsize=8, loc="lower right")

    # Latency: every completed video as a dot, and the median as a bar.
    for i, arm in enumerate(_ARMS):
        latencies = [
            float(r["elapsed"])
            for r in records
            if r["arm"] == arm and r["state"] == "completed" and r["elapsed"] is not None
        ]
        spread = [i + jitter.uniform(-0.12, 0.12) for _ in latencies]
        latency_axes.scatter(spread, latencies, color=_COLOURS[arm], alpha=0.7, s=18)
        stats = summary.arms.get(arm)
        if stats is not None and stats.median_latency is not None:
            latency_axes.hlines(stats.median_latency, i - 0.25, i + 0.25, color="black")
    latency_axes.set_xticks(range(len(_ARMS)), [f"enhancement {arm}" for arm in _ARMS])
    latency_axes.set_xlim(-0.5, len(_ARMS) - 0.5)
    clock = " (simulated)" if summary.simulated else ""
    latency_axes.set_ylabel(f"seconds of generation{clock}")
    latency_axes.set_title("Generation time (bar: median)", fontsize=10)
    figure.suptitle(f"Enhancement study {title}", fontsize=11)
    figure.tight_layout()
    return figure
