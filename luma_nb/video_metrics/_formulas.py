"""The metrics' formulas, on frames already decoded into numpy arrays (no PyAV here).

Every pixel value is on the 8-bit scale, 0 to 255 (full range), as in the published
definitions of colourfulness and of the variance of the Laplacian; ``docs/metrics.md`` gives
each formula with its range. numpy is imported inside the functions: this module loads with
the package, which ``import luma_nb`` may reach without numpy installed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CUT_LEVEL",
    "CUT_RATIO",
    "LUMA_WEIGHTS",
    "SEAM_FLOOR",
    "SSIM_WINDOW",
    "TREND_WINDOW",
    "colorfulness",
    "cut_frames",
    "flicker",
    "laplacian_variance",
    "loop_seam",
    "luma",
    "mean_abs_diff",
    "spread",
    "ssim",
]

#: BT.709 weights of R', G', B' in luma Y' (the tag of the service's and the simulator's clips).
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)
#: A step (mean absolute luma change between consecutive frames) is a cut when it is at least
#: this many grey levels (about 12% of the range)...
CUT_LEVEL = 30.0
#: ...and at least this many times the clip's median step (so a busy clip is not all cuts).
CUT_RATIO = 3.0
#: The loop seam's "typical step" is floored at one grey level: a still clip, whose steps are
#: only encoding noise, must not divide by (almost) zero.
SEAM_FLOOR = 1.0
#: Consecutive brightness changes averaged into the flicker's trend (centred; fewer at the ends).
TREND_WINDOW = 5
#: The side of SSIM's square window, in pixels (smaller when the image is).
SSIM_WINDOW = 7
# SSIM's stabilising constants for 8-bit values (Wang et al. 2004: K1 = 0.01, K2 = 0.03).
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Luma Y' of an ``(h, w, 3)`` R'G'B' image: ``0.2126 R + 0.7152 G + 0.0722 B`` (0..255)."""
    import numpy as np

    # Element-wise, not a matrix product: BLAS would start its threads, which then spin
    # against the decoder's for the two cores of a small machine.
    red, green, blue = (rgb[..., channel].astype(np.float32) for channel in range(3))
    red *= np.float32(LUMA_WEIGHTS[0])
    green *= np.float32(LUMA_WEIGHTS[1])
    blue *= np.float32(LUMA_WEIGHTS[2])
    red += green
    red += blue
    return red


def colorfulness(rgb: NDArray[np.uint8]) -> float:
    """Hasler and Süsstrunk's colourfulness of an ``(h, w, 3)`` R'G'B' image (0..255 values).

    ``rg = R - G``, ``yb = (R + G) / 2 - B``;
    ``M = sqrt(var(rg) + var(yb)) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)``.
    0 for a grey image; about 15 "slightly", 33 "moderately", 59 "quite", 109 "extremely"
    colourful on the authors' scale.
    """
    import numpy as np

    channels = rgb.astype(np.float32)
    red, green, blue = channels[..., 0], channels[..., 1], channels[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread_ = math.sqrt(float(rg.var(dtype=np.float64)) + float(yb.var(dtype=np.float64)))
    centre = math.hypot(float(rg.mean(dtype=np.float64)), float(yb.mean(dtype=np.float64)))
    return spread_ + 0.3 * centre


def laplacian_variance(plane: NDArray[np.generic], scale: float = 1.0) -> float | None:
    """The variance of the 4-neighbour Laplacian of a luma plane, times ``scale`` squared.

    The kernel is ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` over the interior pixels (no
    padding). ``scale`` converts the plane to full-range levels (``255 / 219`` for
    limited-range video). ``None`` for a plane smaller than 3x3.
    """
    import numpy as np

    if plane.ndim != 2 or plane.shape[0] < 3 or plane.shape[1] < 3:
        return None
    # int16 holds the kernel's range (-1020..1020) and is the cheapest exact type here.
    y = plane.astype(np.int16)
    lap = y[:-2, 1:-1] + y[2:, 1:-1]
    lap += y[1:-1, :-2]
    lap += y[1:-1, 2:]
    lap -= 4 * y[1:-1, 1:-1]
    # Exact integer sums (no BLAS, see luma): |lap| <= 1020, so lap^2 fits in int32.
    count = lap.size
    mean = float(lap.sum(dtype=np.int64)) / count
    wide = lap.astype(np.int32)
    wide *= wide
    variance = max(0.0, float(wide.sum(dtype=np.int64)) / count - mean * mean)
    return variance * scale * scale


def mean_abs_diff(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """Mean absolute difference of two luma images of one size (0..255)."""
    import numpy as np

    return float(np.abs(a - b).mean(dtype=np.float64))


def flicker(means: Sequence[float]) -> float | None:
    """Frame-to-frame change of mean brightness beyond its trend (0..255; 0 = none).

    With ``d[t] = m[t] - m[t-1]`` the change of mean luma between consecutive frames and
    ``trend[t]`` the mean of ``d`` over :data:`TREND_WINDOW` changes centred on ``t`` (fewer
    at the ends), flicker is the mean of ``|d[t] - trend[t]|``. A steady fade (constant
    ``d``) has none; brightness that jumps up and down does. ``None`` below three frames.
    """
    changes = [b - a for a, b in itertools.pairwise(means)]
    if len(changes) < 2:
        return None
    half = TREND_WINDOW // 2
    total = 0.0
    for index, change in enumerate(changes):
        window = changes[max(0, index - half) : index + half + 1]
        total += abs(change - sum(window) / len(window))
    return total / len(changes)


def loop_seam(
    first: NDArray[np.float32], last: NDArray[np.float32], steps: Sequence[float]
) -> float | None:
    """How far the last frame is from the first, in typical steps (``None`` below 3 frames).

    ``mean|Y_last - Y_first| / max(median(steps), SEAM_FLOOR)``: about 1 when the jump from
    the last frame back to the first looks like any other step (a seamless loop), 0 when they
    are the same picture, many steps when the clip ends far from where it began.
    """
    if len(steps) < 2:
        return None
    return mean_abs_diff(last, first) / max(_median(steps), SEAM_FLOOR)


def cut_frames(steps: Sequence[float]) -> tuple[int, ...]:
    """Frame indices that begin a cut: step ``i`` (frame ``i`` to ``i + 1``) gives ``i + 1``.

    A step is a cut when it is at least :data:`CUT_LEVEL` grey levels and at least
    :data:`CUT_RATIO` times the median step.
    """
    if not steps:
        return ()
    bar = max(CUT_LEVEL, CUT_RATIO * _median(steps))
    return tuple(index + 1 for index, step in enumerate(steps) if step >= bar)


def ssim(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """Mean structural similarity of two luma images of one size (-1..1; 1 = identical).

    Wang et al.'s SSIM with a uniform :data:`SSIM_WINDOW`-pixel square window over every
    position where it fits (no padding), population statistics, ``C1 = (0.01 * 255)^2`` and
    ``C2 = (0.03 * 255)^2``.
    """
    import numpy as np

    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim needs two 2-D images of one size, got {a.shape} and {b.shape}")
    side = max(1, min(SSIM_WINDOW, *a.shape))
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    mean_x, mean_y = _box_mean(x, side), _box_mean(y, side)
    var_x = _box_mean(x * x, side) - mean_x * mean_x
    var_y = _box_mean(y * y, side) - mean_y * mean_y
    cov = _box_mean(x * y, side) - mean_x * mean_y
    numerator = (2 * mean_x * mean_y + _C1) * (2 * cov + _C2)
    denominator = (mean_x * mean_x + mean_y * mean_y + _C1) * (var_x + var_y + _C2)
    return float((numerator / denominator).mean())


def spread(count: int, wanted: int) -> tuple[int, ...]:
    """``wanted`` evenly spaced indices of ``count`` frames, first and last included.

    Fewer when the clip has fewer frames; one index is the middle frame.
    """
    if count <= 0 or wanted <= 0:
        return ()
    if wanted >= count:
        return tuple(range(count))
    if wanted == 1:
        return ((count - 1) // 2,)
    return tuple(round(i * (count - 1) / (wanted - 1)) for i in range(wanted))


def _box_mean(image: NDArray[np.float64], side: int) -> NDArray[np.float64]:
    """Mean over every ``side`` x ``side`` window that fits (a summed-area table)."""
    import numpy as np

    table = np.zeros((image.shape[0] + 1, image.shape[1] + 1), dtype=np.float64)
    np.cumsum(np.cumsum(image, axis=0), axis=1, out=table[1:, 1:])
    sums = table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]
    result: NDArray[np.float64] = sums / (side * side)
    return result


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
