"""Small, exact statistics for studies, without scipy.

Four tools, chosen for 1-5 star ratings of a handful of videos:

- :func:`t_interval` — Student's t confidence interval for a mean. With small ``n`` a
  bootstrap percentile interval is too narrow (it cannot see beyond the few values observed),
  while the t-interval widens honestly as ``n`` shrinks. The t quantile comes from
  :func:`t_quantile`, which inverts the t distribution function (a regularised incomplete beta
  function, evaluated by its continued fraction) by bisection.
- :func:`sign_test` — the exact two-sided binomial sign test for paired comparisons. Ratings
  are ordinal (a 4 over a 3 need not mean what a 2 over a 1 means) and full of ties, so only
  the direction of each paired difference is used: no interval scale, no symmetry assumed.
- :func:`friedman` — the Friedman test for a factor of three or more levels, observed in
  blocks: each block's values are ranked (ties share their mean rank), so only the order
  within a block counts, as suits ordinal ratings; tie-corrected, with the chi-square
  approximation of its p-value (:func:`chi2_sf`, via the regularised incomplete gamma
  function). scipy's ``friedmanchisquare`` gives the same numbers (a test checks it).
- :func:`spearman` — Spearman's rank correlation between a measurement and the ratings (how
  well a metric agrees with people), with its two-sided p-value from the t approximation that
  scipy's ``spearmanr`` also uses: ranks only, so no scale is assumed for either variable.
- :func:`edit_distance` — the Levenshtein distance between the prompt sent and the one echoed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

__all__ = [
    "bounded_edit_distance",
    "chi2_sf",
    "edit_distance",
    "edit_ratio",
    "friedman",
    "mean",
    "median",
    "midranks",
    "sign_test",
    "spearman",
    "t_cdf",
    "t_interval",
    "t_quantile",
]


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values."""
    return statistics.fmean(values) if values else None


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return float(statistics.median(values)) if values else None


# ----------------------------------------------------------------------------- Student's t


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        # Two terms per step: the even one, then the odd one.
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            step = c * d
            result *= step
        if abs(step - 1.0) < 1e-15:
            break
    return result


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The fraction converges fast only on one side of the mean; use the symmetry on the other.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t distribution with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df!r}")
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (the inverse of
    :func:`t_cdf`), found by bisection to full double precision."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, not {p!r}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def t_interval(
    values: Sequence[float],
    level: float = 0.95,
    *,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float] | None:
    """A two-sided Student's t confidence interval for the mean of ``values``.

    Parameters
    ----------
    values : sequence of float
        The sample (at least two values; fewer give None, as no spread can be estimated).
    level : float
        The confidence level, e.g. 0.95.
    bounds : (low, high), optional
        The range the mean cannot leave (1 to 5 for star ratings): the interval is clipped
        to it, since values outside are impossible rather than merely unlikely.

    Returns
    -------
    (low, high) or None
        When every value is the same the interval is that single point: the t-interval
        has no way to express uncertainty without any spread in the sample.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, not {level!r}")
    n = len(values)
    if n < 2:
        return None
    centre = statistics.fmean(values)
    half = t_quantile(0.5 + level / 2.0, n - 1) * statistics.stdev(values) / math.sqrt(n)
    low, high = centre - half, centre + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return low, high


# ----------------------------------------------------------------------------- sign test


def sign_test(wins: int, losses: int) -> float:
    """The exact two-sided p-value of the sign test (ties already dropped).

    Under the null hypothesis each untied pair favours either arm with probability 1/2, so
    the count of wins is Binomial(n, 1/2), n = wins + losses. The p-value doubles the tail at
    least as extreme as the observed split (capped at 1); with n = 0 it is 1 (no evidence).
    Computed with exact fractions, so small samples are not rounded on the way.
    """
    for name, value in (("wins", wins), ("losses", losses)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    n = wins + losses
    if n == 0:
        return 1.0
    extreme = max(wins, losses)
    tail = Fraction(sum(math.comb(n, k) for k in range(extreme, n + 1)), 2**n)
    return float(min(Fraction(1), 2 * tail))


# ----------------------------------------------------------------------------- Friedman


def _upper_gamma(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x), for a > 0 and x >= 0."""
    if x <= 0.0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        # The series of P(a, x) converges fast below the mean; Q = 1 - P.
        term = total = 1.0 / a
        n = a
        while abs(term) > abs(total) * 1e-16:
            n += 1.0
            term *= x / n
            total += term
        return max(0.0, 1.0 - total * math.exp(log_front))
    # Above it, the continued fraction of Q (modified Lentz's method).
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    result = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        result *= step
        if abs(step - 1.0) < 1e-16:
            break
    return min(1.0, math.exp(log_front) * result)


def chi2_sf(x: float, df: float) -> float:
    """P(X >= x) for a chi-square distribution with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df!r}")
    return _upper_gamma(df / 2.0, x / 2.0)


def midranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values``; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def friedman(blocks: Sequence[Sequence[float]]) -> tuple[float, float]:
    """The Friedman test of ``k >= 3`` treatments observed in ``n >= 1`` blocks.

    ``blocks[i][j]`` is the value of treatment ``j`` in block ``i``. Returns the statistic
    (tie-corrected) and its chi-square p-value with ``k - 1`` degrees of freedom. When every
    block is tied throughout there is no evidence of any difference: ``(0.0, 1.0)``.
    """
    n = len(blocks)
    k = len(blocks[0]) if blocks else 0
    if n < 1 or k < 3 or any(len(block) != k for block in blocks):
        raise ValueError("the Friedman test needs one or more blocks of the same k >= 3 values")
    sums = [0.0] * k
    ties = 0.0
    for block in blocks:
        ranks = midranks(block)
        for j, rank in enumerate(ranks):
            sums[j] += rank
        for size in _tie_sizes(block):
            ties += size**3 - size
    correction = 1.0 - ties / (n * k * (k * k - 1))
    if correction <= 0.0:
        return 0.0, 1.0
    statistic = 12.0 / (n * k * (k + 1)) * sum(r * r for r in sums) - 3.0 * n * (k + 1)
    statistic = max(0.0, statistic / correction)
    return statistic, chi2_sf(statistic, k - 1)


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """Spearman's rank correlation of paired values, and its two-sided p-value.

    The Pearson correlation of the mid-ranks (ties share their mean rank); the p-value is
    that of ``t = rho * sqrt((n - 2) / (1 - rho**2))`` with ``n - 2`` degrees of freedom (0
    when ``|rho| = 1``). None when it is undefined: fewer than three pairs, or one variable
    constant (no order to agree with).
    """
    if len(x) != len(y):
        raise ValueError("spearman needs two sequences of the same length")
    n = len(x)
    if n < 3:
        return None
    rx, ry = midranks(x), midranks(y)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0.0 or syy == 0.0:
        return None
    rho = max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
    if abs(rho) >= 1.0 - 1e-15:
        return rho, 0.0
    t = rho * math.sqrt((n - 2) / (1.0 - rho * rho))
    return rho, min(1.0, 2.0 * t_cdf(-abs(t), n - 2))


def _tie_sizes(values: Sequence[float]) -> list[int]:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return [count for count in counts.values() if count > 1]


# ----------------------------------------------------------------------------- edit distance


@lru_cache(maxsize=4096)
def edit_distance(a: str, b: str) -> int:
    """The Levenshtein distance between ``a`` and ``b`` (insertions, deletions, substitutions).

    An enhanced prompt usually keeps the sent prompt as its start, so the common prefix and
    suffix are skipped first: what is left to compare is short, and the quadratic table small.
    """
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(
                    previous[j] + 1,  # delete char_a
                    current[j - 1] + 1,  # insert char_b
                    previous[j - 1] + (char_a != char_b),  # substitute (free when equal)
                )
            )
        previous = current
    return previous[-1]


#: The largest table :func:`bounded_edit_distance` computes (cells): about a second.
MAX_EDIT_CELLS = 4_000_000


def bounded_edit_distance(a: str, b: str, limit: int = MAX_EDIT_CELLS) -> int | None:
    """:func:`edit_distance`, or None when its table would exceed ``limit`` cells.

    The table's size is known before it is computed (the texts after their common prefix and
    suffix): a pair of huge texts (a hand-edited log) never stalls a summary.
    """
    start = 0
    limit_prefix = min(len(a), len(b))
    while start < limit_prefix and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    if (end_a - start) * (end_b - start) > limit:
        return None
    return edit_distance(a, b)


def edit_ratio(a: str, b: str) -> float:
    """:func:`edit_distance` over the longer length: 0 for identical texts, 1 for unrelated."""
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0
