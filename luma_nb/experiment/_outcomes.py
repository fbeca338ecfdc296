"""What a study's outcomes are called, and how their values read.

An outcome is the ratings (``"rating"``) or a measured column of the tidy records
(``metric_motion``...). Sentences, tables, the plot and the report name them in words
(``"loop seam"``), never by their column names, and print their values the same way.
"""

from __future__ import annotations

__all__ = ["METRIC_PREFIX", "outcome_label", "value_text"]

#: The prefix of a measured column in the tidy records and the session log.
METRIC_PREFIX = "metric_"

# docs/metrics.md defines each; these are the words a reader sees.
_LABELS = {
    "rating": "rating",
    "metric_motion": "motion",
    "metric_flicker": "flicker",
    "metric_sharpness": "sharpness",
    "metric_brightness": "brightness",
    "metric_contrast": "contrast",
    "metric_colorfulness": "colourfulness",
    "metric_loop_seam": "loop seam",
    "metric_start_match": "start-image match",
    "metric_end_match": "end-image match",
    "metric_cuts": "scene cuts",
}


def outcome_label(column: str) -> str:
    """``"loop seam"`` for ``metric_loop_seam``; an unknown metric by its name in words."""
    known = _LABELS.get(column)
    if known is not None:
        return known
    return column.removeprefix(METRIC_PREFIX).replace("_", " ")


def value_text(column: str, value: float | None) -> str:
    """A measured value as a table shows it: 3 significant digits, whole counts as integers."""
    if value is None:
        return "n/a"
    if column == "metric_cuts" and float(value).is_integer():
        return f"{int(value)}"
    if column == "rating":
        return f"{value:.2f}"
    # Three significant digits, never in e-notation: 0.0413, 2.65, 110, 1,234.
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 1e-4 else f"{value:.1e}"
