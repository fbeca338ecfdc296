"""Colour grades for the simulator's light and style cues: what each does to the palette.

A grade maps a colour to a colour. It is applied to the few hundred colours the backdrop is
painted from (and to the orb), once per segment, so it costs nothing per frame; keyframe images
are never graded, so a clip still starts and ends on them faithfully. The effects are chosen
to move simple objective measures in a known direction:

=============  ======================================================================
cue            effect
=============  ======================================================================
golden         hues pulled towards amber, more saturated, brighter: warm
candle         hues pulled towards orange, much darker: warm and dim
neon           hues pulled to magenta or cyan (whichever is nearer), fully saturated
overcast       most saturation removed, contrast flattened: grey and soft
rim            contrast raised strongly: darker darks, brighter lights
volumetric     a light veil over everything: brighter, lower contrast, less colour
morning        brighter, slightly warm, a little more contrast
blue_hour      hues pulled towards deep blue, darker
vivid          more contrast and saturation
muted          less saturation, lifted towards light: pastel
rich           more saturation
mono           no saturation at all
natural        a little less saturation and contrast
=============  ======================================================================

The ``soft`` and ``letterbox`` styles are not colour grades (a blurred backdrop and black bars,
see :mod:`._media`); they, and an absent cue, grade nothing.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["GRADES", "Grade", "grader"]

RGB: TypeAlias = tuple[int, int, int]

_MAGENTA, _CYAN = 0.85, 0.5


@dataclass(frozen=True)
class Grade:
    """One colour transform, applied in HSV then as a veil.

    ``hue`` pulls every hue towards it by ``pull`` (0..1), along the shorter way round;
    ``two_tone`` pulls to the nearer of magenta and cyan instead. ``saturation`` and
    ``brightness`` multiply; ``floor`` is a minimum saturation; ``contrast`` scales the value
    around mid grey; ``veil`` blends towards a light grey.
    """

    hue: float | None = None
    pull: float = 0.0
    two_tone: bool = False
    saturation: float = 1.0
    floor: float = 0.0
    brightness: float = 1.0
    contrast: float = 1.0
    veil: float = 0.0

    def __call__(self, colour: RGB) -> RGB:
        """Grade one colour (0..255 channels)."""
        h, s, v = colorsys.rgb_to_hsv(*(channel / 255 for channel in colour))
        target = self.hue
        if self.two_tone:
            target = _MAGENTA if _distance(h, _MAGENTA) < _distance(h, _CYAN) else _CYAN
        if target is not None:
            h = (h + _signed_distance(h, target) * self.pull) % 1.0
        s = _clamp(max(s * self.saturation, self.floor))
        v = _clamp((v * self.brightness - 0.5) * self.contrast + 0.5)
        r, g, b = colorsys.hsv_to_rgb(h, s, v)
        veil = 0.86 * self.veil
        return (
            round(255 * (r * (1 - self.veil) + veil)),
            round(255 * (g * (1 - self.veil) + veil)),
            round(255 * (b * (1 - self.veil) + veil)),
        )


GRADES: dict[str, Grade] = {
    # light
    "golden": Grade(hue=0.09, pull=0.75, saturation=1.25, floor=0.45, brightness=1.2),
    "candle": Grade(hue=0.06, pull=0.85, saturation=1.2, floor=0.5, brightness=0.6),
    "neon": Grade(two_tone=True, pull=0.9, floor=0.95, contrast=1.15),
    "overcast": Grade(saturation=0.3, contrast=0.6, brightness=1.05),
    "rim": Grade(contrast=1.9),
    "volumetric": Grade(saturation=0.7, contrast=0.75, veil=0.35),
    "morning": Grade(hue=0.13, pull=0.25, brightness=1.25, contrast=1.1),
    "blue_hour": Grade(hue=0.62, pull=0.8, floor=0.4, brightness=0.75),
    # style
    "vivid": Grade(saturation=1.4, contrast=1.4),
    "muted": Grade(saturation=0.45, veil=0.3),
    "rich": Grade(saturation=1.5, floor=0.35),
    "mono": Grade(saturation=0.0),
    "natural": Grade(saturation=0.8, contrast=0.9),
}
"""The grade of each light and style cue that has one."""


def grader(*cues: str | None) -> Callable[[RGB], RGB] | None:
    """Return the grades of ``cues`` applied in order, or None when none of them grades."""
    grades = [GRADES[cue] for cue in cues if cue is not None and cue in GRADES]
    if not grades:
        return None

    def grade(colour: RGB) -> RGB:
        for step in grades:
            colour = step(colour)
        return colour

    return grade


def _distance(a: float, b: float) -> float:
    return abs(_signed_distance(a, b))


def _signed_distance(a: float, b: float) -> float:
    """From hue ``a`` to hue ``b`` the shorter way round the wheel, in -0.5..0.5."""
    return (b - a + 0.5) % 1.0 - 0.5


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))
