"""How well a measurement agrees with the ratings: Spearman's rank correlation over videos.

A metric earns trust in a study when it orders the videos as the raters did. Spearman's rho
compares the two orders only (ranks, ties sharing their mean rank), so neither a rating's
steps nor a metric's units need to be comparable: +1 is the same order, -1 the reverse, 0 no
relation. It is computed over the videos that are both rated and measured — every arm and
block pooled, so it says whether the metric tracks what people liked, not whether a factor
moved it — and only from :data:`MIN_VIDEOS` of them: with fewer, any rho is noise. Its
p-value is the t approximation scipy's ``spearmanr`` uses (rough below ten videos).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from luma_nb.experiment import _stats
from luma_nb.experiment._effects import numeric
from luma_nb.experiment._outcomes import outcome_label

__all__ = ["MIN_VIDEOS", "Agreement", "agreement"]

#: The fewest rated and measured videos a correlation is computed from.
MIN_VIDEOS = 5


@dataclass(frozen=True)
class Agreement:
    """The agreement of one measured column with the ratings.

    Attributes
    ----------
    column : str
        The measured column (``metric_motion``...).
    n : int
        Videos both rated and measured.
    rho : float or None
        Spearman's rank correlation (-1 to 1), None when it is not computed.
    p_value : float or None
        Its two-sided p-value (t approximation), None with ``rho``.
    reason : str or None
        Why there is no ``rho``: too few videos, or no order to compare (all equal).
    """

    column: str
    n: int
    rho: float | None
    p_value: float | None
    reason: str | None = None

    def sentence(self) -> str:
        """``"motion: Spearman rho = +0.62 with the ratings (p = 0.04, n = 12 videos)."``"""
        label = outcome_label(self.column)
        if self.rho is None or self.p_value is None:
            return f"{label}: no correlation with the ratings ({self.reason})."
        return (
            f"{label}: Spearman rho = {self.rho:+.2f} with the ratings "
            f"(p = {self.p_value:.3g}, n = {self.n} videos)."
        )


def agreement(records: Sequence[Mapping[str, Any]], column: str) -> Agreement:
    """The agreement of ``column`` with the ``rating`` of the same videos in ``records``."""
    pairs = [
        (value, rating)
        for record in records
        if (value := numeric(record.get(column))) is not None
        and (rating := numeric(record.get("rating"))) is not None
    ]
    n = len(pairs)
    if n < MIN_VIDEOS:
        return Agreement(
            column,
            n,
            None,
            None,
            f"it needs at least {MIN_VIDEOS} rated, measured videos; {n} so far",
        )
    values, ratings = [p[0] for p in pairs], [p[1] for p in pairs]
    result = _stats.spearman(values, ratings)
    if result is None:
        constant = "measurement" if len(set(values)) == 1 else "rating"
        return Agreement(column, n, None, None, f"every rated video has the same {constant}")
    rho, p_value = result
    return Agreement(column, n, rho, p_value)
