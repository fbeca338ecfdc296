"""Measured facts of a video in a card: the key metrics on one line, every metric in a list.

The numbers come from :func:`luma_nb.video_metrics.measure_video` — a
:class:`~luma_nb.video_metrics.VideoMetrics`, or the session log's ``metric_*`` columns of a
row (``luma_nb.generate(..., measure=True)`` and study runs record them). A view adds
:func:`key_metrics_fact` to a card's facts and, where it folds details away (a report),
:func:`metric_facts`. Only finite numbers are shown; a row that was never measured shows
nothing. Each metric's definition and range: ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from luma_nb._durations import duration_text
from luma_nb._html import esc

__all__ = [
    "METRIC_LABELS",
    "key_metrics_fact",
    "key_metrics_text",
    "metric_facts",
    "metric_values",
]

Fact = tuple[str, str]  # as luma_nb.render.card.Fact (that module imports this one)

#: Each measured column, its label and what it means (a tooltip), in the order shown.
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "metric_motion": ("Motion", "mean luma change between consecutive frames, 0 to 255"),
    "metric_flicker": ("Flicker", "frame-to-frame brightness change beyond the trend, 0 to 255"),
    "metric_sharpness": ("Sharpness", "variance of the Laplacian: grows with edges and detail"),
    "metric_brightness": ("Brightness", "mean luma, 0 to 255"),
    "metric_contrast": ("Contrast", "standard deviation of luma, 0 to 127.5"),
    "metric_colorfulness": ("Colourfulness", "Hasler and Süsstrunk: 0 is grey, ~109 extreme"),
    "metric_loop_seam": ("Loop seam", "last frame to first, in typical steps: ≤ 1 is seamless"),
    "metric_start_match": ("Start image match", "SSIM of the first frame with the start image"),
    "metric_end_match": ("End image match", "SSIM of the last frame with the end image"),
    "metric_cuts": ("Scene cuts", "frames whose change exceeds the cut threshold"),
    "duration": ("Duration", "seconds, from the file"),
    "fps": ("Frame rate", "frames per second"),
    "frames": ("Frames", "frames decoded"),
    "bitrate": ("Bitrate", "bits per second of the video stream"),
}
# The key metrics of a card's one line, in order (each only when measured).
_KEY = (
    "metric_motion",
    "metric_flicker",
    "metric_sharpness",
    "metric_loop_seam",
    "metric_start_match",
    "metric_end_match",
    "metric_cuts",
)
_TECHNICAL = ("duration", "fps", "bitrate")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        item = getattr(value, "item", None)  # a numpy scalar from a DataFrame
        if not callable(item) or getattr(value, "ndim", 1) != 0:
            return None
        value = item()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def metric_values(source: object) -> dict[str, float]:
    """The measured columns of ``source`` that hold a finite number.

    ``source`` is a :class:`~luma_nb.video_metrics.VideoMetrics` (anything with
    ``as_columns()``), or a mapping such as a session-log row; anything else gives ``{}``.
    """
    columns = getattr(source, "as_columns", None)
    if callable(columns):
        source = columns()
    if not isinstance(source, Mapping):
        return {}
    values = {}
    for name in METRIC_LABELS:
        number = _number(source.get(name))
        if number is not None:
            values[name] = number
    return values


def _figure(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"


def _shown(name: str, value: float) -> str:
    """A value as a reader reads it: ``5.0 s``, ``24 fps``, ``238 kbit/s``, ``0.41``."""
    if name == "duration":
        return duration_text(value)
    if name == "fps":
        return f"{value:.3g} fps"
    if name == "bitrate":
        return f"{value / 1000:,.0f} kbit/s" if value >= 1000 else f"{value:.0f} bit/s"
    if name in ("metric_cuts", "frames"):
        return f"{int(value):d}"
    return _figure(value)


def _words(name: str, value: float, *, with_label: bool) -> str:
    label = METRIC_LABELS[name][0]
    return f"{label.lower()} {_shown(name, value)}" if with_label else _shown(name, value)


def _term(name: str, value: float, *, with_label: bool) -> str:
    meaning = METRIC_LABELS[name][1]
    return f'<span title="{esc(meaning)}">{esc(_words(name, value, with_label=with_label))}</span>'


def _key_terms(source: object) -> list[tuple[str, float, bool]]:
    values = metric_values(source)
    if not any(name.startswith("metric_") for name in values):
        return []
    terms = [(n, values[n], False) for n in _TECHNICAL if n in values]
    return terms + [(n, values[n], True) for n in _KEY if n in values]


def key_metrics_fact(source: object) -> list[Fact]:
    """``[("Measured", "5.0 s · 24 fps · … · motion 3.2 · sharpness 152 · loop seam 0.41")]``.

    The technical facts (duration, frame rate, bitrate), then the key metrics (motion,
    flicker, sharpness, loop seam, keyframe matches, cuts), each only when measured; ``[]``
    for a video that was not measured.
    """
    terms = [_term(n, v, with_label=label) for n, v, label in _key_terms(source)]
    return [("Measured", " · ".join(terms))] if terms else []


def key_metrics_text(source: object) -> str | None:
    """The same line as plain text (for ``text/plain`` and terminals), or None."""
    terms = [_words(n, v, with_label=label) for n, v, label in _key_terms(source)]
    return " · ".join(terms) if terms else None


def metric_facts(source: object) -> list[Fact]:
    """Every measured value on its own row, labelled, in :data:`METRIC_LABELS` order."""
    values = metric_values(source)
    if not any(name.startswith("metric_") for name in values):
        return []
    return [
        (METRIC_LABELS[name][0], _term(name, values[name], with_label=False))
        for name in METRIC_LABELS
        if name in values
    ]
