"""What the keyframe preflight found: :class:`KeyframeReport`, and how it is judged.

A report says whether the API can fetch and use one keyframe URL, and what was found; a failed
one becomes a :class:`~luma_nb.errors.KeyframeError` (:func:`keyframe_error`, with one of the
codes below). :func:`judge` adds the warnings that depend on the requested ``aspect_ratio``
(shape, size), shown as :class:`KeyframeWarning`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from luma_nb._values import shown
from luma_nb.errors import KeyframeError
from luma_nb.models import ASPECT_RATIOS

if TYPE_CHECKING:
    from luma_nb._preflight_policy import KeyframePreflight

# Codes of KeyframeError (the session log's ``error_code``).
UNREACHABLE = "keyframe_unreachable"
NOT_IMAGE = "keyframe_not_image"
TOO_LARGE = "keyframe_too_large"
DAMAGED = "keyframe_damaged"


class KeyframeWarning(UserWarning):
    """A keyframe the API can use that will not look right: its shape differs from the
    requested ``aspect_ratio`` (the frame is cropped or letterboxed), it is so small that the
    video upscales it, or its host labels it vaguely. Silence it with
    ``warnings.filterwarnings("ignore", category=luma_nb.KeyframeWarning)``."""


@dataclass(frozen=True)
class KeyframeReport:
    """What the preflight found about one keyframe URL.

    Attributes
    ----------
    url : str
        The URL as given.
    ok : bool
        Whether the API can fetch and use it (warnings aside).
    found : str
        What was found, in a few words (``"a 1920x1080 JPEG, 412 KB"``, ``"HTTP 404"``).
    problem, advice : str or None
        Why it cannot be used, and what to do (``None`` when ``ok``).
    code : str or None
        The :class:`~luma_nb.errors.KeyframeError` code of a failure.
    final_url : str or None
        Where the redirects ended.
    content_type, format : str or None
        The label the host gave, and the format the bytes are (``JPEG``, ``PNG``, ``WebP``).
    width, height, size : int or None
        Pixels as displayed (EXIF orientation applied) and bytes.
    source : str
        ``"fetched"``, ``"simulator"`` (the connected simulator's own media: not fetched) or
        ``"not checked"``.
    notes : tuple of str
        Remarks that hold whatever the aspect ratio (a generic content type).
    aspect_ratio : str or None
        The ratio the warnings were judged against.
    warnings : tuple of str
        ``notes`` plus the shape and size warnings for ``aspect_ratio``.
    """

    url: str
    ok: bool
    found: str
    problem: str | None = None
    advice: str | None = None
    code: str | None = None
    final_url: str | None = None
    content_type: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None
    source: str = "fetched"
    notes: tuple[str, ...] = ()
    aspect_ratio: str | None = None
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a person: what was found, and why it fails or what to watch."""
        if not self.ok:
            return f"{self.problem} ({self.found}). {self.advice}"
        text = self.found
        if self.warnings:
            text += ". " + " ".join(_sentence(w) for w in self.warnings)
        return text


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def failure(
    url: str,
    code: str,
    found: str,
    problem: str,
    advice: str,
    *,
    final_url: str | None = None,
    **facts: Any,
) -> KeyframeReport:
    """A report of a keyframe the API cannot use (``code`` says why, for the error)."""
    return KeyframeReport(
        url=url,
        ok=False,
        found=found,
        problem=problem,
        advice=advice,
        code=code,
        final_url=final_url or url,
        **facts,
    )


def keyframe_error(field_name: str, report: KeyframeReport) -> KeyframeError:
    """The :class:`KeyframeError` of a failed report (the message says nothing was sent)."""
    return KeyframeError(
        f"{field_name} {shown(report.url, 120)} cannot be used as a keyframe: {report.problem}. "
        f"Found: {report.found}. {report.advice} Nothing was submitted, so nothing was billed "
        "(to skip this check, pass preflight=False).",
        field=field_name,
        url=report.url,
        found=report.found,
        advice=report.advice or "",
        code=report.code or UNREACHABLE,
        report=report,
    )


# --------------------------------------------------------------------------- judging


def _ratio(text: str) -> float:
    wide, high = text.split(":")
    return int(wide) / int(high)


def _shape(width: int, height: int, tolerance: float) -> str:
    actual = width / height
    nearest = min(ASPECT_RATIOS, key=lambda r: abs(math.log(actual / _ratio(r))))
    if abs(math.log(actual / _ratio(nearest))) <= math.log1p(tolerance):
        return nearest
    return f"{actual:.2f}:1"


def judge(
    report: KeyframeReport, aspect_ratio: str | None, policy: KeyframePreflight
) -> KeyframeReport:
    """``report`` with its warnings for ``aspect_ratio`` (no ratio: shape not judged).

    The shape warns when ``width / height`` differs from the ratio by more than
    ``policy.ratio_tolerance`` (relative, either way); the size when the shorter side is under
    ``policy.min_side``.
    """
    found = list(report.notes)
    width, height = report.width, report.height
    if report.ok and width and height:
        if aspect_ratio in ASPECT_RATIOS:
            actual, wanted = width / height, _ratio(aspect_ratio)
            if abs(math.log(actual / wanted)) > math.log1p(policy.ratio_tolerance):
                nearest = min(ASPECT_RATIOS, key=lambda r: abs(math.log(actual / _ratio(r))))
                found.append(
                    f"it is {width}x{height} ({_shape(width, height, policy.ratio_tolerance)}), "
                    f"not {aspect_ratio}: it will be cropped or letterboxed; crop it to "
                    f"{aspect_ratio}, or ask for aspect_ratio={nearest!r}"
                )
        if min(width, height) < policy.min_side:
            found.append(
                f"it is only {width}x{height}: under {policy.min_side} px on its shorter side "
                "the video (about 752 px high) upscales it and it will look soft"
            )
    return replace(report, aspect_ratio=aspect_ratio, warnings=tuple(found))
